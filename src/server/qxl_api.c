/*
 * The spice_qxl_* entry points of <spice-qxl.h>.
 *
 * The host may call them from any thread (QEMU: its vCPU and main threads).
 * Each becomes a message to the device's worker: the synchronous ones wait
 * until the worker has run them (msg_queue_call); the _async ones return at
 * once and the worker calls the device's async_complete(cookie) when done,
 * from the worker thread, as the reference does.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "display/qxl_record.h"
#include "server/export.h"
#include "server/worker_priv.h"

enum qxl_op {
    QXL_OP_ADD_MEMSLOT,
    QXL_OP_DEL_MEMSLOT,
    QXL_OP_RESET_MEMSLOTS,
    QXL_OP_CREATE_PRIMARY,
    QXL_OP_DESTROY_PRIMARY,
    QXL_OP_DESTROY_SURFACES,
    QXL_OP_DESTROY_SURFACE_WAIT,
    QXL_OP_UPDATE_AREA,
    QXL_OP_FLUSH_SURFACES,
    QXL_OP_RESET_IMAGE_CACHE,
    QXL_OP_RESET_CURSOR,
    QXL_OP_LOADVM_COMMANDS,
    QXL_OP_MONITORS_CONFIG,
    QXL_OP_DRIVER_UNLOAD,
    QXL_OP_SET_MAX_MONITORS,
    QXL_OP_OOM,
    QXL_OP_GL_DRAW,
};

struct qxl_call {
    struct msg_item item;
    struct worker *worker;
    enum qxl_op op;
    bool async;
    uint64_t cookie;
    uint32_t surface_id;
    QXLDevMemSlot slot;
    QXLDevSurfaceCreate surface;
    uint32_t group;
    uint32_t slot_id;
    QXLRect area;
    QXLRect *dirty_rects;
    uint32_t num_dirty_rects;
    uint64_t addr;
    uint32_t count;
    QXLCommandExt *commands;
};

static void qxl_monitors_config(struct worker *w, uint64_t addr, uint32_t group)
{
    const char *err = NULL;
    const QXLMonitorsConfig *cfg =
            memslot_translate(&w->memslots, group, addr, sizeof(QXLMonitorsConfig), &err);
    if (!cfg) {
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: bad monitors config address: %s", w->id,
                        err ? err : "?");
        return;
    }
    /* Copy the header once: the guest may change it under us. */
    QXLMonitorsConfig header;
    memcpy(&header, cfg, sizeof(header));
    uint16_t count = header.count;
    uint16_t max_allowed = header.max_allowed;
    if (count == 0 || count > WORKER_MAX_HEADS) {
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: monitors config with %u heads ignored", w->id,
                        count);
        return;
    }
    /* Translate the header and all heads as one range of the same address,
     * so no arithmetic on the guest address can spill into its slot bits. */
    size_t size = sizeof(QXLMonitorsConfig) + sizeof(QXLHead) * count;
    const uint8_t *base = memslot_translate(&w->memslots, group, addr, size, &err);
    if (!base) {
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: bad monitors config heads: %s", w->id,
                        err ? err : "?");
        return;
    }
    QXLHead heads[WORKER_MAX_HEADS];
    memcpy(heads, base + sizeof(QXLMonitorsConfig), sizeof(QXLHead) * count);
    for (uint16_t i = 0; i < count; i++) {
        w->heads[i] = (struct wire_head_cfg){heads[i].id,     heads[i].surface_id, heads[i].width,
                                             heads[i].height, heads[i].x,          heads[i].y,
                                             heads[i].flags};
    }
    w->num_heads = count;
    if (max_allowed) {
        w->max_monitors = max_allowed > WORKER_MAX_HEADS ? WORKER_MAX_HEADS : max_allowed;
    }
    w->guest_monitors_config = true;
    display_broadcast_monitors_config(w);
}

static void qxl_process_loadvm(struct worker *w, const QXLCommandExt *cmds, uint32_t count)
{
    /* The commands were already released before the migration; replay only
     * the state they carry (cursor), without releasing them again. */
    for (uint32_t i = 0; i < count; i++) {
        if (cmds[i].cmd.type != QXL_CMD_CURSOR) {
            continue;
        }
        struct qxl_cursor_cmd c;
        const char *err = NULL;
        if (qxl_parse_cursor(&w->memslots, cmds[i].group_id, cmds[i].cmd.data, &c, &err) == 0) {
            cursor_process_command(w, &c);
            qxl_cursor_cmd_finish(&c);
        }
    }
}

/*
 * RECORD: SPICE_WORKER_RECORD_FILENAME (display/qxl_record.h). Device
 * messages are recorded after they ran, so commands they drained come
 * first; a primary creation only when it was accepted, with its memory.
 */
static void qxl_call_record(struct worker *w, const struct qxl_call *c)
{
    static const uint8_t msg[][2] = {
            [QXL_OP_ADD_MEMSLOT] = {QXL_RECORD_MSG_ADD_MEMSLOT, QXL_RECORD_MSG_ADD_MEMSLOT_ASYNC},
            [QXL_OP_DEL_MEMSLOT] = {QXL_RECORD_MSG_DEL_MEMSLOT, QXL_RECORD_MSG_DEL_MEMSLOT},
            [QXL_OP_RESET_MEMSLOTS] = {QXL_RECORD_MSG_RESET_MEMSLOTS,
                                       QXL_RECORD_MSG_RESET_MEMSLOTS},
            [QXL_OP_DESTROY_PRIMARY] = {QXL_RECORD_MSG_DESTROY_PRIMARY,
                                        QXL_RECORD_MSG_DESTROY_PRIMARY_ASYNC},
            [QXL_OP_DESTROY_SURFACES] = {QXL_RECORD_MSG_DESTROY_SURFACES,
                                         QXL_RECORD_MSG_DESTROY_SURFACES_ASYNC},
            [QXL_OP_DESTROY_SURFACE_WAIT] = {QXL_RECORD_MSG_DESTROY_SURFACE_WAIT,
                                             QXL_RECORD_MSG_DESTROY_SURFACE_WAIT_ASYNC},
            [QXL_OP_UPDATE_AREA] = {QXL_RECORD_MSG_UPDATE, QXL_RECORD_MSG_UPDATE_ASYNC},
            [QXL_OP_FLUSH_SURFACES] = {QXL_RECORD_MSG_FLUSH_SURFACES_ASYNC,
                                       QXL_RECORD_MSG_FLUSH_SURFACES_ASYNC},
            [QXL_OP_RESET_IMAGE_CACHE] = {QXL_RECORD_MSG_RESET_IMAGE_CACHE,
                                          QXL_RECORD_MSG_RESET_IMAGE_CACHE},
            [QXL_OP_RESET_CURSOR] = {QXL_RECORD_MSG_RESET_CURSOR, QXL_RECORD_MSG_RESET_CURSOR},
            [QXL_OP_LOADVM_COMMANDS] = {QXL_RECORD_MSG_LOADVM_COMMANDS,
                                        QXL_RECORD_MSG_LOADVM_COMMANDS},
            [QXL_OP_MONITORS_CONFIG] = {QXL_RECORD_MSG_MONITORS_CONFIG_ASYNC,
                                        QXL_RECORD_MSG_MONITORS_CONFIG_ASYNC},
            [QXL_OP_DRIVER_UNLOAD] = {QXL_RECORD_MSG_DRIVER_UNLOAD, QXL_RECORD_MSG_DRIVER_UNLOAD},
            [QXL_OP_OOM] = {QXL_RECORD_MSG_OOM, QXL_RECORD_MSG_OOM},
    };
    struct qxl_recorder *rec = qxl_recorder_get_shared();
    if (!rec) {
        return;
    }
    if (c->op == QXL_OP_CREATE_PRIMARY) {
        const QXLDevSurfaceCreate *s = &c->surface;
        uint64_t abs_stride = s->stride < 0 ? (uint64_t)(-(int64_t)s->stride) : (uint64_t)s->stride;
        const char *err = NULL;
        const uint8_t *mem = memslot_translate(&w->memslots, s->group_id, s->mem,
                                               (size_t)(abs_stride * s->height), &err);
        if (mem && w->n_surfaces > 0 && w->surfaces[0].created && w->surfaces[0].mem == mem) {
            struct qxl_record_primary p = {s->width,    s->height,     s->stride, s->format,
                                           s->position, s->mouse_mode, s->flags,  s->type};
            qxl_recorder_create_primary(rec,
                                        c->async ? QXL_RECORD_MSG_CREATE_PRIMARY_ASYNC
                                                 : QXL_RECORD_MSG_CREATE_PRIMARY,
                                        &p, mem);
        }
    } else if ((size_t)c->op < sizeof(msg) / sizeof(msg[0]) && msg[c->op][0] != 0) {
        qxl_recorder_message(rec, (enum qxl_record_message)msg[c->op][c->async ? 1 : 0]);
    }
}

static void qxl_call_run(struct msg_item *item)
{
    struct qxl_call *c = (struct qxl_call *)item;
    struct worker *w = c->worker;
    int rc;
    switch (c->op) {
    case QXL_OP_ADD_MEMSLOT:
        rc = memslot_add(&w->memslots, c->slot.slot_group_id, c->slot.slot_id, c->slot.generation,
                         c->slot.virt_start, c->slot.virt_end, c->slot.addr_delta);
        if (rc < 0) {
            log_ratelimited(LOG_LEVEL_WARN, "qxl %d: cannot add memslot %u in group %u", w->id,
                            c->slot.slot_id, c->slot.slot_group_id);
        }
        break;
    case QXL_OP_DEL_MEMSLOT:
        memslot_del(&w->memslots, c->group, c->slot_id);
        break;
    case QXL_OP_RESET_MEMSLOTS:
        memslot_reset(&w->memslots);
        break;
    case QXL_OP_CREATE_PRIMARY:
        worker_create_primary(w, c->surface_id, &c->surface);
        break;
    case QXL_OP_DESTROY_PRIMARY:
        /* Drain what the guest queued for the old surface first. */
        worker_process_commands(w);
        worker_destroy_primary(w);
        break;
    case QXL_OP_DESTROY_SURFACES:
        worker_process_commands(w);
        worker_destroy_all_surfaces(w);
        break;
    case QXL_OP_DESTROY_SURFACE_WAIT:
        worker_process_commands(w);
        worker_destroy_surface(w, c->surface_id);
        break;
    case QXL_OP_UPDATE_AREA:
        /* Every command read is rendered at once: reading what is queued
         * makes the area current. */
        worker_process_commands(w);
        if (c->dirty_rects && c->num_dirty_rects > 0) {
            memset(c->dirty_rects, 0, sizeof(*c->dirty_rects) * c->num_dirty_rects);
            c->dirty_rects[0] = c->area;
        }
        break;
    case QXL_OP_FLUSH_SURFACES:
        worker_process_commands(w);
        break;
    case QXL_OP_RESET_IMAGE_CACHE:
        break;
    case QXL_OP_RESET_CURSOR:
        cursor_reset(w);
        break;
    case QXL_OP_LOADVM_COMMANDS:
        qxl_process_loadvm(w, c->commands, c->count);
        break;
    case QXL_OP_MONITORS_CONFIG:
        qxl_monitors_config(w, c->addr, c->group);
        break;
    case QXL_OP_DRIVER_UNLOAD:
        w->guest_monitors_config = false;
        break;
    case QXL_OP_SET_MAX_MONITORS:
        w->max_monitors = (uint16_t)(c->count > WORKER_MAX_HEADS ? WORKER_MAX_HEADS : c->count);
        break;
    case QXL_OP_OOM:
        worker_process_commands(w);
        if (w->qif->flush_resources) {
            w->qif->flush_resources(w->qxl);
        }
        break;
    case QXL_OP_GL_DRAW:
        break;
    }
    qxl_call_record(w, c); /* RECORD */
    if (c->async) {
        worker_async_complete(w, c->cookie);
        free(c);
    }
}

/* Runs a call on the worker, waiting for it (sync) or not (async). */
static void qxl_dispatch(QXLInstance *instance, struct qxl_call *proto, bool async, uint64_t cookie)
{
    struct worker *w = worker_from_qxl(instance);
    if (!w) {
        log_ratelimited(LOG_LEVEL_WARN, "spice_qxl call on a device that is not registered");
        return;
    }
    proto->worker = w;
    proto->item.run = qxl_call_run;
    proto->async = async;
    proto->cookie = cookie;
    if (!async) {
        msg_queue_call(w->queue, &proto->item);
        return;
    }
    struct qxl_call *c = malloc(sizeof(*c));
    if (!c) {
        log_error("spice_qxl: out of memory; completing cookie %llu at once",
                  (unsigned long long)cookie);
        worker_async_complete(w, cookie);
        return;
    }
    *c = *proto;
    msg_queue_post(w->queue, &c->item);
}

SPICE_EXPORT void spice_qxl_wakeup(QXLInstance *instance)
{
    struct worker *w = worker_from_qxl(instance);
    if (w) {
        worker_wakeup(w);
    }
}

SPICE_EXPORT void spice_qxl_oom(QXLInstance *instance)
{
    struct qxl_call c = {.op = QXL_OP_OOM};
    qxl_dispatch(instance, &c, false, 0);
}

SPICE_EXPORT void spice_qxl_start(QXLInstance *instance)
{
    struct worker *w = worker_from_qxl(instance);
    if (w) {
        worker_set_running(w, true);
    }
}

SPICE_EXPORT void spice_qxl_stop(QXLInstance *instance)
{
    struct worker *w = worker_from_qxl(instance);
    if (w) {
        worker_set_running(w, false);
    }
}

SPICE_EXPORT void spice_qxl_update_area(QXLInstance *instance, uint32_t surface_id,
                                        struct QXLRect *area, struct QXLRect *dirty_rects,
                                        uint32_t num_dirty_rects, uint32_t clear_dirty_region)
{
    struct qxl_call c = {.op = QXL_OP_UPDATE_AREA,
                         .surface_id = surface_id,
                         .dirty_rects = dirty_rects,
                         .num_dirty_rects = num_dirty_rects};
    if (area) {
        c.area = *area;
    }
    qxl_dispatch(instance, &c, false, 0);
}

SPICE_EXPORT void spice_qxl_update_area_async(QXLInstance *instance, uint32_t surface_id,
                                              QXLRect *qxl_area, uint32_t clear_dirty_region,
                                              uint64_t cookie)
{
    struct qxl_call c = {.op = QXL_OP_UPDATE_AREA, .surface_id = surface_id};
    if (qxl_area) {
        c.area = *qxl_area;
    }
    qxl_dispatch(instance, &c, true, cookie);
}

SPICE_EXPORT void spice_qxl_add_memslot(QXLInstance *instance, QXLDevMemSlot *slot)
{
    if (!slot) {
        return;
    }
    struct qxl_call c = {.op = QXL_OP_ADD_MEMSLOT, .slot = *slot};
    qxl_dispatch(instance, &c, false, 0);
}

SPICE_EXPORT void spice_qxl_add_memslot_async(QXLInstance *instance, QXLDevMemSlot *slot,
                                              uint64_t cookie)
{
    struct qxl_call c = {.op = QXL_OP_ADD_MEMSLOT};
    if (slot) {
        c.slot = *slot;
    }
    qxl_dispatch(instance, &c, true, cookie);
}

SPICE_EXPORT void spice_qxl_del_memslot(QXLInstance *instance, uint32_t slot_group_id,
                                        uint32_t slot_id)
{
    struct qxl_call c = {.op = QXL_OP_DEL_MEMSLOT, .group = slot_group_id, .slot_id = slot_id};
    qxl_dispatch(instance, &c, false, 0);
}

SPICE_EXPORT void spice_qxl_reset_memslots(QXLInstance *instance)
{
    struct qxl_call c = {.op = QXL_OP_RESET_MEMSLOTS};
    qxl_dispatch(instance, &c, false, 0);
}

SPICE_EXPORT void spice_qxl_destroy_surfaces(QXLInstance *instance)
{
    struct qxl_call c = {.op = QXL_OP_DESTROY_SURFACES};
    qxl_dispatch(instance, &c, false, 0);
}

SPICE_EXPORT void spice_qxl_destroy_surfaces_async(QXLInstance *instance, uint64_t cookie)
{
    struct qxl_call c = {.op = QXL_OP_DESTROY_SURFACES};
    qxl_dispatch(instance, &c, true, cookie);
}

SPICE_EXPORT void spice_qxl_destroy_primary_surface(QXLInstance *instance, uint32_t surface_id)
{
    struct qxl_call c = {.op = QXL_OP_DESTROY_PRIMARY, .surface_id = surface_id};
    qxl_dispatch(instance, &c, false, 0);
}

SPICE_EXPORT void spice_qxl_destroy_primary_surface_async(QXLInstance *instance,
                                                          uint32_t surface_id, uint64_t cookie)
{
    struct qxl_call c = {.op = QXL_OP_DESTROY_PRIMARY, .surface_id = surface_id};
    qxl_dispatch(instance, &c, true, cookie);
}

SPICE_EXPORT void spice_qxl_create_primary_surface(QXLInstance *instance, uint32_t surface_id,
                                                   QXLDevSurfaceCreate *surface)
{
    if (!surface) {
        return;
    }
    struct qxl_call c = {
            .op = QXL_OP_CREATE_PRIMARY, .surface_id = surface_id, .surface = *surface};
    qxl_dispatch(instance, &c, false, 0);
}

SPICE_EXPORT void spice_qxl_create_primary_surface_async(QXLInstance *instance, uint32_t surface_id,
                                                         QXLDevSurfaceCreate *surface,
                                                         uint64_t cookie)
{
    struct qxl_call c = {.op = QXL_OP_CREATE_PRIMARY, .surface_id = surface_id};
    if (surface) {
        c.surface = *surface;
    }
    qxl_dispatch(instance, &c, true, cookie);
}

SPICE_EXPORT void spice_qxl_reset_image_cache(QXLInstance *instance)
{
    struct qxl_call c = {.op = QXL_OP_RESET_IMAGE_CACHE};
    qxl_dispatch(instance, &c, false, 0);
}

SPICE_EXPORT void spice_qxl_reset_cursor(QXLInstance *instance)
{
    struct qxl_call c = {.op = QXL_OP_RESET_CURSOR};
    qxl_dispatch(instance, &c, false, 0);
}

SPICE_EXPORT void spice_qxl_destroy_surface_wait(QXLInstance *instance, uint32_t surface_id)
{
    struct qxl_call c = {.op = QXL_OP_DESTROY_SURFACE_WAIT, .surface_id = surface_id};
    qxl_dispatch(instance, &c, false, 0);
}

SPICE_EXPORT void spice_qxl_destroy_surface_async(QXLInstance *instance, uint32_t surface_id,
                                                  uint64_t cookie)
{
    struct qxl_call c = {.op = QXL_OP_DESTROY_SURFACE_WAIT, .surface_id = surface_id};
    qxl_dispatch(instance, &c, true, cookie);
}

SPICE_EXPORT void spice_qxl_loadvm_commands(QXLInstance *instance, struct QXLCommandExt *ext,
                                            uint32_t count)
{
    struct qxl_call c = {.op = QXL_OP_LOADVM_COMMANDS, .commands = ext, .count = ext ? count : 0};
    qxl_dispatch(instance, &c, false, 0);
}

SPICE_EXPORT void spice_qxl_flush_surfaces_async(QXLInstance *instance, uint64_t cookie)
{
    struct qxl_call c = {.op = QXL_OP_FLUSH_SURFACES};
    qxl_dispatch(instance, &c, true, cookie);
}

SPICE_EXPORT void spice_qxl_monitors_config_async(QXLInstance *instance,
                                                  QXLPHYSICAL monitors_config, int group_id,
                                                  uint64_t cookie)
{
    struct qxl_call c = {
            .op = QXL_OP_MONITORS_CONFIG, .addr = monitors_config, .group = (uint32_t)group_id};
    qxl_dispatch(instance, &c, true, cookie);
}

SPICE_EXPORT void spice_qxl_driver_unload(QXLInstance *instance)
{
    struct qxl_call c = {.op = QXL_OP_DRIVER_UNLOAD};
    qxl_dispatch(instance, &c, false, 0);
}

SPICE_EXPORT void spice_qxl_set_max_monitors(QXLInstance *instance, unsigned int max_monitors)
{
    struct qxl_call c = {.op = QXL_OP_SET_MAX_MONITORS, .count = max_monitors};
    qxl_dispatch(instance, &c, false, 0);
}

SPICE_EXPORT void spice_qxl_gl_scanout(QXLInstance *qxl, int fd, uint32_t width, uint32_t height,
                                       uint32_t stride, uint32_t format, int y_0_top)
{
    log_once("spice_qxl_gl_scanout: GL scanout is not supported yet");
}

SPICE_EXPORT void spice_qxl_gl_draw_async(QXLInstance *qxl, uint32_t x, uint32_t y, uint32_t w,
                                          uint32_t h, uint64_t cookie)
{
    log_once("spice_qxl_gl_draw_async: GL drawing is not supported yet");
    struct qxl_call c = {.op = QXL_OP_GL_DRAW};
    qxl_dispatch(qxl, &c, true, cookie);
}

SPICE_EXPORT void spice_qxl_set_device_info(QXLInstance *instance, const char *device_address,
                                            uint32_t device_display_id_start,
                                            uint32_t device_display_id_count)
{
    log_info("spice_qxl_set_device_info: %s, displays %u..%u",
             device_address ? device_address : "(none)", device_display_id_start,
             device_display_id_start + device_display_id_count);
}
