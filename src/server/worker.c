/*
 * The display worker: one thread per QXL device (see worker.h).
 *
 * DESIGN
 * The thread runs our own poll loop. The host reaches it through the
 * message queue (spice_qxl_* calls, new channel clients, vm start/stop) and
 * through spice_qxl_wakeup, which posts one preallocated item at most once
 * until it has run.
 *
 * Commands are read in batches from the cursor ring and the command ring
 * while the VM runs. Each is parsed (validated and copied out of guest
 * memory), its resource released to the guest at once, and queued as a
 * draw item for every display client (draw_tree.h). The server's canvas
 * draws the batch's items at its end (or before anything that needs the
 * surfaces current: an update command, a surface command), skipping those
 * that later ones hid meanwhile; with no client connected it draws each
 * at once. Then the clients write what the batch queued.
 * A batch is bounded in count and time; the rest is picked up on the next
 * loop iteration, so sockets and queued messages are served in between.
 * When both rings are empty the worker asks the device for a notification
 * and sleeps until spice_qxl_wakeup.
 *
 * A malformed guest command is logged (rate-limited), released, and
 * dropped: the server, the VM and the clients keep going.
 */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "display/qxl_record.h"
#include "server/server.h"
#include "server/worker_priv.h"

#define WORKER_BATCH_COMMANDS 64
#define WORKER_BATCH_MS       10

static const QXLInterface *qxl_interface(QXLInstance *qxl)
{
    return SPICE_CONTAINEROF(qxl->base.sif, QXLInterface, base);
}

struct worker *worker_from_qxl(QXLInstance *qxl)
{
    return qxl && qxl->st ? qxl->st->worker : NULL;
}

struct RedsState *worker_server(struct worker *w)
{
    return w->server;
}

void worker_release(struct worker *w, uint64_t addr, uint32_t group)
{
    void *info = qxl_release_info(&w->memslots, group, addr);
    if (!info) {
        return;
    }
    QXLReleaseInfoExt ext = {.info = info, .group_id = group};
    w->qif->release_resource(w->qxl, ext);
}

void worker_async_complete(struct worker *w, uint64_t cookie)
{
    if (w->qif->async_complete) {
        w->qif->async_complete(w->qxl, cookie);
    }
}

/* ---- tablet size, reported on the main loop ---- */

struct tablet_size_msg {
    struct msg_item item;
    struct RedsState *server;
    int width, height;
};

static void tablet_size_msg_run(struct msg_item *item)
{
    struct tablet_size_msg *m = (struct tablet_size_msg *)item;
    struct RedsState *s = m->server;
    if (s->tablet && m->width > 0 && m->height > 0) {
        const SpiceTabletInterface *tif =
                SPICE_CONTAINEROF(s->tablet->base.sif, SpiceTabletInterface, base);
        tif->set_logical_size(s->tablet, m->width, m->height);
    }
    free(m);
}

void worker_post_tablet_size(struct worker *w)
{
    struct tablet_size_msg *m = calloc(1, sizeof(*m));
    if (!m) {
        return;
    }
    m->item.run = tablet_size_msg_run;
    m->server = w->server;
    m->width = __atomic_load_n(&w->tablet_width, __ATOMIC_RELAXED);
    m->height = __atomic_load_n(&w->tablet_height, __ATOMIC_RELAXED);
    msg_queue_post(w->server->main_queue, &m->item);
}

void worker_refresh_tablet_size(struct worker *w)
{
    struct RedsState *s = w->server;
    int width = __atomic_load_n(&w->tablet_width, __ATOMIC_RELAXED);
    int height = __atomic_load_n(&w->tablet_height, __ATOMIC_RELAXED);
    if (s->tablet && width > 0 && height > 0) {
        const SpiceTabletInterface *tif =
                SPICE_CONTAINEROF(s->tablet->base.sif, SpiceTabletInterface, base);
        tif->set_logical_size(s->tablet, width, height);
    }
}

/* ---- client capabilities, told to the device ---- */

void worker_update_client_caps(struct worker *w)
{
    if (w->qif->base.minor_version < 2 || !w->qif->set_client_capabilities) {
        return;
    }
    static const unsigned caps[] = {SPICE_DISPLAY_CAP_SIZED_STREAM,
                                    SPICE_DISPLAY_CAP_MONITORS_CONFIG, SPICE_DISPLAY_CAP_COMPOSITE,
                                    SPICE_DISPLAY_CAP_A8_SURFACE};
    uint8_t bits[SPICE_CAPABILITIES_SIZE];
    memset(bits, 0, sizeof(bits));
    bool any = false;
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        if (display_clients_have_cap(w, caps[i], &any)) {
            bits[caps[i] / 8] |= (uint8_t)(1u << (caps[i] % 8));
        }
    }
    display_clients_have_cap(w, 0, &any);
    w->qif->set_client_capabilities(w->qxl, any ? 1 : 0, bits);
}

/* ---- surfaces ---- */

static struct canvas_surface *worker_lookup_surface(void *opaque, uint32_t surface_id)
{
    struct worker *w = opaque;
    if (surface_id >= w->n_surfaces || !w->surfaces[surface_id].created) {
        return NULL;
    }
    return &w->surfaces[surface_id].canvas;
}

/* Validates a surface's geometry and memory and sets it up. Returns 0 or < 0. */
static int worker_surface_setup(struct worker *w, uint32_t surface_id, uint32_t width,
                                uint32_t height, int32_t stride, uint32_t format,
                                uint64_t guest_addr, uint32_t group, bool keep_data)
{
    unsigned bpp = canvas_format_bpp(format);
    if (bpp == 0 || width == 0 || height == 0 || width > QXL_MAX_IMAGE_DIM ||
        height > QXL_MAX_IMAGE_DIM) {
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: bad surface %u: %ux%u format %u", w->id,
                        surface_id, width, height, format);
        return CLOVE_E_INVALID;
    }
    uint64_t abs_stride = stride < 0 ? (uint64_t)(-(int64_t)stride) : (uint64_t)stride;
    if (abs_stride < (uint64_t)width * bpp) {
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: surface %u stride %d too small for %u pixels",
                        w->id, surface_id, stride, width);
        return CLOVE_E_INVALID;
    }
    const char *err = NULL;
    uint8_t *mem = memslot_translate(&w->memslots, group, guest_addr, abs_stride * height, &err);
    if (!mem) {
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: surface %u memory is invalid: %s", w->id,
                        surface_id, err ? err : "?");
        return CLOVE_E_INVALID;
    }
    if (w->surfaces[surface_id].created) {
        worker_destroy_surface(w, surface_id);
    }
    struct worker_surface *p = &w->surfaces[surface_id];
    p->created = true;
    p->width = width;
    p->height = height;
    p->format = format;
    p->stride = stride;
    p->mem = mem;
    /* Without KEEP_DATA the memory's old contents mean nothing (QEMU hands
     * over freshly allocated, uninitialised buffers): the surface starts
     * black, as the reference's does. */
    if (!keep_data) {
        memset(mem, 0, abs_stride * height);
    }
    canvas_surface_init(&p->canvas, stride < 0 ? mem + abs_stride * (height - 1) : mem, stride,
                        width, height, format);
    return 0;
}

void worker_create_primary(struct worker *w, uint32_t surface_id, const QXLDevSurfaceCreate *c)
{
    if (surface_id != 0) {
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: primary surface id must be 0, not %u", w->id,
                        surface_id);
        return;
    }
    if (canvas_format_bpp(c->format) < 2) {
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: primary surface format %u is not supported", w->id,
                        c->format);
        return;
    }
    bool keep = (c->flags & QXL_SURF_FLAG_KEEP_DATA) != 0;
    if (worker_surface_setup(w, 0, c->width, c->height, c->stride, c->format, c->mem, c->group_id,
                             keep) < 0) {
        return;
    }
    if (!w->guest_monitors_config) {
        w->num_heads = 1;
        w->heads[0] = (struct wire_head_cfg){0, 0, c->width, c->height, 0, 0, 0};
    }
    __atomic_store_n(&w->tablet_width, (int)c->width, __ATOMIC_RELAXED);
    __atomic_store_n(&w->tablet_height, (int)c->height, __ATOMIC_RELAXED);
    worker_post_tablet_size(w);
    log_info("qxl %d: primary surface %ux%u format %u stride %d", w->id, c->width, c->height,
             c->format, c->stride);
    display_broadcast_surface_create(w, 0, true);
}

void worker_destroy_surface(struct worker *w, uint32_t surface_id)
{
    if (surface_id >= w->n_surfaces || !w->surfaces[surface_id].created) {
        return;
    }
    worker_render_pending(w);
    /* Its unsent draws can no longer be hidden by anything. */
    draw_tree_clear(&w->trees[surface_id]);
    display_broadcast_surface_destroy(w, surface_id);
    canvas_surface_finish(&w->surfaces[surface_id].canvas);
    memset(&w->surfaces[surface_id], 0, sizeof(w->surfaces[surface_id]));
}

void worker_destroy_primary(struct worker *w)
{
    worker_destroy_surface(w, 0);
}

void worker_destroy_all_surfaces(struct worker *w)
{
    /* Offscreen surfaces first, so clients never hold a dangling source. */
    for (uint32_t id = w->n_surfaces; id-- > 0;) {
        worker_destroy_surface(w, id);
    }
}

/* ---- commands ---- */

static void worker_handle_surface_cmd(struct worker *w, const struct qxl_surface_cmd *sc,
                                      uint32_t group)
{
    if (sc->surface_id == 0 || sc->surface_id >= w->n_surfaces) {
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: surface command for invalid surface id %u", w->id,
                        sc->surface_id);
        return;
    }
    if (sc->type == QXL_SURFACE_CMD_DESTROY) {
        worker_destroy_surface(w, sc->surface_id);
        return;
    }
    bool keep = (sc->flags & QXL_SURF_FLAG_KEEP_DATA) != 0;
    if (worker_surface_setup(w, sc->surface_id, sc->width, sc->height, sc->stride, sc->format,
                             sc->data_addr, group, keep) < 0) {
        return;
    }
    /* Without KEEP_DATA the guest gives no content: clients start from zeros
     * too. With it, clients get the surface's pixels. */
    display_broadcast_surface_create(w, sc->surface_id, (sc->flags & QXL_SURF_FLAG_KEEP_DATA) != 0);
}

static bool source_ok(struct worker *w, const struct qxl_image *img)
{
    return !img || img->type != SPICE_IMAGE_TYPE_SURFACE ||
           worker_lookup_surface(w, img->surface_id) != NULL;
}

/* Every surface a draw reads from exists (the canvas would skip the draw,
 * and clients would be sent a reference to nothing). */
static bool drawable_sources_ok(struct worker *w, const struct qxl_drawable *d)
{
    if (!source_ok(w, d->mask.bitmap)) {
        return false;
    }
    switch (d->type) {
    case QXL_DRAW_FILL:
        return source_ok(w, d->u.fill.brush.pattern);
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND:
        return source_ok(w, d->u.copy.src);
    case QXL_DRAW_OPAQUE:
        return source_ok(w, d->u.opaque.src) && source_ok(w, d->u.opaque.brush.pattern);
    case QXL_DRAW_TRANSPARENT:
        return source_ok(w, d->u.transparent.src);
    case QXL_DRAW_ALPHA_BLEND:
        return source_ok(w, d->u.alpha_blend.src);
    case QXL_DRAW_ROP3:
        return source_ok(w, d->u.rop3.src) && source_ok(w, d->u.rop3.brush.pattern);
    case QXL_DRAW_STROKE:
        return source_ok(w, d->u.stroke.brush.pattern);
    case QXL_DRAW_TEXT:
        return source_ok(w, d->u.text.fore_brush.pattern) &&
               source_ok(w, d->u.text.back_brush.pattern);
    case QXL_DRAW_COMPOSITE:
        return source_ok(w, d->u.composite.src) && source_ok(w, d->u.composite.mask);
    default:
        return true;
    }
}

static int worker_render(struct worker *w, const struct qxl_drawable *d);
static bool worker_pending_reserve(struct worker *w);

static void worker_handle_drawable(struct worker *w, struct qxl_drawable *d)
{
    if (d->surface_id >= w->n_surfaces || !w->surfaces[d->surface_id].created) {
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: drawing to surface %u, which does not exist",
                        w->id, d->surface_id);
        return;
    }
    if (log_enabled(LOG_LEVEL_DEBUG)) {
        const struct qxl_image *img = d->type == QXL_DRAW_COPY ? d->u.copy.src : NULL;
        log_debug("qxl %d: draw type %u surface %u bbox (%d,%d)-(%d,%d) clips %u%s", w->id, d->type,
                  d->surface_id, d->bbox.left, d->bbox.top, d->bbox.right, d->bbox.bottom,
                  d->clip_type == SPICE_CLIP_TYPE_RECTS ? d->num_clip_rects : 0,
                  img ? "" : " (no image)");
        if (img) {
            log_debug("qxl %d:   image %ux%u format %u flags 0x%x stride %u src (%d,%d)-(%d,%d)",
                      w->id, img->width, img->height, img->format, img->bitmap_flags, img->stride,
                      d->u.copy.src_area.left, d->u.copy.src_area.top, d->u.copy.src_area.right,
                      d->u.copy.src_area.bottom);
        }
    }
    if (d->clip_type == SPICE_CLIP_TYPE_RECTS && d->num_clip_rects == 0) {
        return; /* clipped away entirely */
    }
    if (!drawable_sources_ok(w, d)) {
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: draw type %u reads a surface that does not exist",
                        w->id, d->type);
        return;
    }
    struct worker_surface *surface = &w->surfaces[d->surface_id];
    struct draw_item *item = NULL;
    if (w->displays && worker_pending_reserve(w)) {
        item = draw_item_create(d, surface->width, surface->height);
    }
    if (!item) {
        /* Nobody to send it to (or no memory to defer it): draw it now. */
        if (worker_render(w, d) == CLOVE_E_INVALID) {
            log_ratelimited(LOG_LEVEL_WARN, "qxl %d: invalid draw geometry; dropped", w->id);
        }
        return;
    }
    /* The item takes the drawable's images. Clients encode it when they are
     * about to send it, and the canvas draws it at the end of the batch, in
     * both cases only if it is still visible then. */
    w->pending[w->num_pending++] = draw_item_ref(item);
    display_broadcast_drawable(w, item);
    draw_item_unref(item);
}

/* Draws d on the server's canvas. Returns canvas_draw's result. */
static int worker_render(struct worker *w, const struct qxl_drawable *d)
{
    int rc = canvas_draw(&w->surfaces[d->surface_id].canvas, d, worker_lookup_surface, w);
    if (rc < 0 && rc != CLOVE_E_INVALID) {
        log_once("a draw operation could not be rendered on the server (op, rop or format)");
    }
    return rc;
}

/* Room for one more deferred draw. */
static bool worker_pending_reserve(struct worker *w)
{
    if (w->num_pending < w->cap_pending) {
        return true;
    }
    uint32_t cap = w->cap_pending ? w->cap_pending * 2 : 64;
    struct draw_item **n = realloc(w->pending, cap * sizeof(*n));
    if (!n) {
        return false;
    }
    w->pending = n;
    w->cap_pending = cap;
    return true;
}

void worker_render_pending(struct worker *w)
{
    bool invalid = false;
    /* In order: a draw that reads pixels sees every earlier one. Draws
     * hidden meanwhile (dead items) are skipped: nothing reads what they
     * would have drawn, or they would still be visible. */
    for (uint32_t i = 0; i < w->num_pending; i++) {
        struct draw_item *item = w->pending[i];
        if (item->alive && worker_render(w, &item->d) == CLOVE_E_INVALID) {
            log_ratelimited(LOG_LEVEL_WARN, "qxl %d: invalid draw geometry; dropped", w->id);
            draw_item_discard(item);
            invalid = true;
        }
        draw_item_unref(item);
    }
    w->num_pending = 0;
    if (invalid) {
        /* It was queued, and it hid parts of earlier draws: clients get
         * the surfaces as drawn here instead. */
        display_clients_fall_back(w);
    }
}

static void worker_handle_command(struct worker *w, const QXLCommandExt *ext)
{
    const char *err = NULL;
    uint64_t addr = ext->cmd.data;
    uint32_t group = ext->group_id;
    int rc;
    w->commands_processed++;
    switch (ext->cmd.type) {
    case QXL_CMD_DRAW: {
        struct qxl_drawable d;
        if (ext->flags & QXL_COMMAND_FLAG_COMPAT) {
            /* Old (qxl revision 1) guests use the compat drawable layout. */
            if (ext->flags & QXL_COMMAND_FLAG_COMPAT_16BPP) {
                log_once("16 bpp compat drawables are drawn without colour conversion");
            }
            rc = qxl_parse_compat_drawable(&w->memslots, group, addr, &d, &err);
        } else {
            rc = qxl_parse_drawable(&w->memslots, group, addr, &d, &err);
        }
        worker_release(w, addr, group);
        if (rc < 0) {
            log_ratelimited(LOG_LEVEL_WARN, "qxl %d: rejected draw command: %s", w->id,
                            err ? err : "invalid");
            return;
        }
        worker_handle_drawable(w, &d);
        qxl_drawable_finish(&d);
        return;
    }
    case QXL_CMD_UPDATE: {
        struct qxl_update_cmd u;
        rc = qxl_parse_update(&w->memslots, group, addr, &u, &err);
        worker_release(w, addr, group);
        if (rc < 0) {
            log_ratelimited(LOG_LEVEL_WARN, "qxl %d: rejected update command: %s", w->id,
                            err ? err : "invalid");
            return;
        }
        /* The guest may read the surface once told. */
        worker_render_pending(w);
        if (w->qif->notify_update) {
            w->qif->notify_update(w->qxl, u.update_id);
        }
        return;
    }
    case QXL_CMD_MESSAGE: {
        struct qxl_message_cmd m;
        rc = qxl_parse_message(&w->memslots, group, addr, &m, &err);
        worker_release(w, addr, group);
        if (rc < 0) {
            log_ratelimited(LOG_LEVEL_WARN, "qxl %d: rejected message command: %s", w->id,
                            err ? err : "invalid");
            return;
        }
        log_ratelimited(LOG_LEVEL_INFO, "qxl %d: guest says: %s", w->id, m.text);
        return;
    }
    case QXL_CMD_SURFACE: {
        struct qxl_surface_cmd sc;
        rc = qxl_parse_surface(&w->memslots, group, addr, &sc, &err);
        worker_release(w, addr, group);
        if (rc < 0) {
            log_ratelimited(LOG_LEVEL_WARN, "qxl %d: rejected surface command: %s", w->id,
                            err ? err : "invalid");
            return;
        }
        /* Deferred draws go to the surfaces they were meant for first. */
        worker_render_pending(w);
        worker_handle_surface_cmd(w, &sc, group);
        return;
    }
    case QXL_CMD_NOP:
        worker_release(w, addr, group);
        return;
    default:
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: unknown command type %u; dropped", w->id,
                        ext->cmd.type);
        worker_release(w, addr, group);
        return;
    }
}

static void worker_handle_cursor_command(struct worker *w, const QXLCommandExt *ext)
{
    const char *err = NULL;
    if (ext->cmd.type != QXL_CMD_CURSOR) {
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: command type %u on the cursor ring; dropped",
                        w->id, ext->cmd.type);
        worker_release(w, ext->cmd.data, ext->group_id);
        return;
    }
    struct qxl_cursor_cmd c;
    int rc = qxl_parse_cursor(&w->memslots, ext->group_id, ext->cmd.data, &c, &err);
    worker_release(w, ext->cmd.data, ext->group_id);
    if (rc < 0) {
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: rejected cursor command: %s", w->id,
                        err ? err : "invalid");
        return;
    }
    cursor_process_command(w, &c);
    qxl_cursor_cmd_finish(&c);
}

static void worker_process_batch(struct worker *w)
{
    uint64_t start = loop_now_ms();
    int count = 0;
    bool cursor_done = false, display_done = false;
    while (!(cursor_done && display_done)) {
        if (count >= WORKER_BATCH_COMMANDS || loop_now_ms() - start >= WORKER_BATCH_MS) {
            loop_timer_start(w->loop, w->process_timer, 0);
            return;
        }
        QXLCommandExt ext;
        if (!cursor_done) {
            if (w->qif->get_cursor_command(w->qxl, &ext)) {
                /* RECORD: SPICE_WORKER_RECORD_FILENAME (display/qxl_record.h) */
                qxl_recorder_command(qxl_recorder_get_shared(), &w->memslots, &ext);
                worker_handle_cursor_command(w, &ext);
                count++;
            } else if (w->qif->req_cursor_notification(w->qxl)) {
                cursor_done = true;
            }
        }
        if (!display_done) {
            if (w->qif->get_command(w->qxl, &ext)) {
                /* RECORD: SPICE_WORKER_RECORD_FILENAME (display/qxl_record.h) */
                qxl_recorder_command(qxl_recorder_get_shared(), &w->memslots, &ext);
                worker_handle_command(w, &ext);
                count++;
            } else if (w->qif->req_cmd_notification(w->qxl)) {
                display_done = true;
            }
        }
    }
}

void worker_process_commands(struct worker *w)
{
    if (!w->running) {
        return;
    }
    /* Clients write after the batch, so what it hides is never encoded. */
    display_clients_hold(w);
    worker_process_batch(w);
    worker_render_pending(w);
    display_clients_kick(w);
}

static void worker_on_wakeup(struct msg_item *item)
{
    struct worker *w = SPICE_CONTAINEROF(item, struct worker, wakeup_item);
    __atomic_store_n(&w->wakeup_pending, 0, __ATOMIC_RELEASE);
    worker_process_commands(w);
}

static void worker_on_process_timer(void *opaque)
{
    worker_process_commands(opaque);
}

void worker_wakeup(struct worker *w)
{
    if (!__atomic_exchange_n(&w->wakeup_pending, 1, __ATOMIC_ACQ_REL)) {
        msg_queue_post(w->queue, &w->wakeup_item);
    }
}

/* ---- thread ---- */

static void *worker_thread_main(void *opaque)
{
    struct worker *w = opaque;
    msg_queue_set_owner(w->queue);
    loop_poll_run(w->loop);
    return NULL;
}

struct worker *worker_create(struct RedsState *server, QXLInstance *qxl, int id)
{
    struct worker *w = calloc(1, sizeof(*w));
    if (!w) {
        return NULL;
    }
    w->server = server;
    w->qxl = qxl;
    w->qif = qxl_interface(qxl);
    w->id = id;
    w->max_monitors = WORKER_MAX_HEADS;
    w->state.worker = w;
    w->wakeup_item.run = worker_on_wakeup;
    if (!w->qif->get_command || !w->qif->req_cmd_notification || !w->qif->release_resource ||
        !w->qif->get_cursor_command || !w->qif->req_cursor_notification || !w->qif->get_init_info) {
        log_error("qxl %d: the QXL interface lacks required callbacks", id);
        free(w);
        return NULL;
    }
    w->qif->get_init_info(qxl, &w->init_info);
    const QXLDevInitInfo *ii = &w->init_info;
    if (memslot_table_init(&w->memslots, ii->num_memslots_groups, ii->num_memslots,
                           ii->memslot_gen_bits, ii->memslot_id_bits) < 0) {
        log_error("qxl %d: unusable memslot layout (%u groups, %u slots, %u gen bits, %u id bits)",
                  id, ii->num_memslots_groups, ii->num_memslots, ii->memslot_gen_bits,
                  ii->memslot_id_bits);
        free(w);
        return NULL;
    }
    w->n_surfaces = ii->n_surfaces == 0                    ? 1
                    : ii->n_surfaces > WORKER_MAX_SURFACES ? WORKER_MAX_SURFACES
                                                           : ii->n_surfaces;
    w->surfaces = calloc(w->n_surfaces, sizeof(*w->surfaces));
    w->trees = calloc(w->n_surfaces, sizeof(*w->trees));
    if (!w->surfaces || !w->trees) {
        goto error_loop;
    }
    w->loop = loop_poll_create();
    if (!w->loop) {
        goto error_loop;
    }
    w->queue = msg_queue_create(w->loop);
    if (!w->queue) {
        goto error_queue;
    }
    w->process_timer = loop_timer_add(w->loop, worker_on_process_timer, w);
    if (!w->process_timer) {
        goto error_timer;
    }
    qxl->st = &w->state;
    /* RECORD: each worker holds a reference to the shared recorder, if any. */
    (void)qxl_recorder_create_from_env();
    if (pthread_create(&w->thread, NULL, worker_thread_main, w) != 0) {
        log_errno("qxl %d: cannot start the worker thread", id);
        qxl->st = NULL;
        qxl_recorder_unref(qxl_recorder_get_shared()); /* RECORD */
        goto error_thread;
    }
    w->thread_started = true;
    return w;

error_thread:
    loop_timer_remove(w->loop, w->process_timer);
error_timer:
    msg_queue_destroy(w->queue);
error_queue:
    loop_destroy(w->loop);
error_loop:
    free(w->trees);
    free(w->surfaces);
    memslot_table_finish(&w->memslots);
    free(w);
    return NULL;
}

void worker_attach(struct worker *w)
{
    /* attache_worker (deprecated) and attached_worker share the slot; the old
     * signature's extra argument is the QXLWorker handle the reference passed. */
    if (w->qif->attache_worker) {
        w->qif->attache_worker(w->qxl, (QXLWorker *)&w->state);
    }
}

struct run_flag_msg {
    struct msg_item item;
    struct worker *worker;
    bool flag;
};

static void set_running_run(struct msg_item *item)
{
    struct run_flag_msg *m = (struct run_flag_msg *)item;
    m->worker->running = m->flag;
    if (m->flag) {
        worker_process_commands(m->worker);
    }
}

void worker_set_running(struct worker *w, bool running)
{
    struct run_flag_msg m = {.item.run = set_running_run, .worker = w, .flag = running};
    msg_queue_call(w->queue, &m.item);
}

struct attach_msg {
    struct msg_item item;
    struct worker *worker;
    struct stream *stream;
    struct link_mess link;
    bool mini_header;
    uint8_t caps[2][16];
};

static void attach_run(struct msg_item *item)
{
    struct attach_msg *m = (struct attach_msg *)item;
    if (m->link.channel_type == SPICE_CHANNEL_DISPLAY) {
        display_client_create(m->worker, m->stream, &m->link, m->mini_header);
    } else {
        cursor_client_create(m->worker, m->stream, &m->link, m->mini_header);
    }
    free(m);
}

void worker_attach_client(struct worker *w, struct stream *stream, const struct link_mess *link,
                          bool mini_header)
{
    struct attach_msg *m = calloc(1, sizeof(*m));
    if (!m) {
        stream_destroy(stream);
        return;
    }
    m->item.run = attach_run;
    m->worker = w;
    m->stream = stream;
    m->link = *link;
    m->mini_header = mini_header;
    /* The caps live in the link buffer, which dies with the link stage. */
    m->link.num_common_caps = link->num_common_caps < 4 ? link->num_common_caps : 4;
    m->link.num_channel_caps = link->num_channel_caps < 4 ? link->num_channel_caps : 4;
    memcpy(m->caps[0], link->common_caps, 4 * m->link.num_common_caps);
    memcpy(m->caps[1], link->channel_caps, 4 * m->link.num_channel_caps);
    m->link.common_caps = m->caps[0];
    m->link.channel_caps = m->caps[1];
    msg_queue_post(w->queue, &m->item);
}

struct session_msg {
    struct msg_item item;
    struct worker *worker;
    uint32_t session_id;
};

static void detach_run(struct msg_item *item)
{
    struct session_msg *m = (struct session_msg *)item;
    display_clients_close_session(m->worker, m->session_id);
    cursor_clients_close_session(m->worker, m->session_id);
    free(m);
}

void worker_detach_session(struct worker *w, uint32_t session_id)
{
    struct session_msg *m = calloc(1, sizeof(*m));
    if (!m) {
        return;
    }
    m->item.run = detach_run;
    m->worker = w;
    m->session_id = session_id;
    msg_queue_post(w->queue, &m->item);
}

static void quit_run(struct msg_item *item)
{
    struct session_msg *m = (struct session_msg *)item;
    struct worker *w = m->worker;
    display_clients_close_all(w);
    cursor_clients_close_all(w);
    w->quit = true;
    loop_poll_quit(w->loop);
}

void worker_destroy(struct worker *w)
{
    if (!w) {
        return;
    }
    if (w->thread_started) {
        struct session_msg m = {.item.run = quit_run, .worker = w};
        msg_queue_call(w->queue, &m.item);
        pthread_join(w->thread, NULL);
    }
    if (w->qxl && w->qxl->st == &w->state) {
        w->qxl->st = NULL;
    }
    loop_timer_remove(w->loop, w->process_timer);
    msg_queue_destroy(w->queue);
    loop_destroy(w->loop);
    for (uint32_t i = 0; i < w->num_pending; i++) {
        draw_item_unref(w->pending[i]);
    }
    free(w->pending);
    for (uint32_t id = 0; id < w->n_surfaces; id++) {
        draw_tree_clear(&w->trees[id]);
        canvas_surface_finish(&w->surfaces[id].canvas);
    }
    free(w->trees);
    free(w->surfaces);
    memslot_table_finish(&w->memslots);
    qxl_recorder_unref(qxl_recorder_get_shared()); /* RECORD */
    if (w->cursor_shape) {
        free(w->cursor_shape->data);
        free(w->cursor_shape);
    }
    free(w);
}
