/*
 * The fake host and client of fake_host.h.
 *
 * DESIGN
 * SpiceCoreInterface maps one to one onto our poll loop: a SpiceWatch is a
 * struct loop_watch and a SpiceTimer a struct loop_timer (both opaque to the
 * server), with the same callback signatures. The single host lives in a
 * global because the core interface's callbacks carry no context.
 *
 * The QXL device keeps every command in one calloc'd block (command +
 * payload) whose address is its release id; blocks sit on an "outstanding"
 * list until the worker releases them, and whatever the server never
 * released is freed after the server is destroyed, so LeakSanitizer sees a
 * clean exit. Its memslot 0 spans the whole address space with delta 0, so
 * host pointers are QXL physical addresses.
 */
#include "fake_host.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <spice/protocol.h>
#include <sys/socket.h>

#include "common/bytes.h"
#include "common/error.h"
#include "common/log.h"
#include "proto/header.h"

static struct fake_host *current_host;

/* ---- core interface ---- */

static SpiceTimer *core_timer_add(SpiceTimerFunc func, void *opaque)
{
    return (SpiceTimer *)loop_timer_add(current_host->loop, func, opaque);
}

static void core_timer_start(SpiceTimer *timer, uint32_t ms)
{
    loop_timer_start(current_host->loop, (struct loop_timer *)timer, ms);
}

static void core_timer_cancel(SpiceTimer *timer)
{
    loop_timer_cancel(current_host->loop, (struct loop_timer *)timer);
}

static void core_timer_remove(SpiceTimer *timer)
{
    loop_timer_remove(current_host->loop, (struct loop_timer *)timer);
}

static SpiceWatch *core_watch_add(int fd, int event_mask, SpiceWatchFunc func, void *opaque)
{
    return (SpiceWatch *)loop_watch_add(current_host->loop, fd, event_mask, func, opaque);
}

static void core_watch_update_mask(SpiceWatch *watch, int event_mask)
{
    loop_watch_update(current_host->loop, (struct loop_watch *)watch, event_mask);
}

static void core_watch_remove(SpiceWatch *watch)
{
    loop_watch_remove(current_host->loop, (struct loop_watch *)watch);
}

static void core_channel_event(int event, SpiceChannelEventInfo *info)
{
    struct fake_host *h = current_host;
    if (h->num_events < FAKE_MAX_EVENTS) {
        h->events[h->num_events++] =
                (struct fake_event){event, info->type, info->id, info->connection_id};
    }
}

/* ---- input devices ---- */

static void kbd_push_scan(SpiceKbdInstance *sin, uint8_t frag)
{
    struct fake_host *h = SPICE_CONTAINEROF(sin, struct fake_host, kbd);
    if (h->num_scans < FAKE_MAX_SCANS) {
        h->scans[h->num_scans++] = frag;
    }
}

static uint8_t kbd_get_leds(SpiceKbdInstance *sin)
{
    return SPICE_CONTAINEROF(sin, struct fake_host, kbd)->kbd_leds;
}

static const SpiceKbdInterface kbd_interface = {
        .base = {.type = SPICE_INTERFACE_KEYBOARD,
                 .description = "fake keyboard",
                 .major_version = SPICE_INTERFACE_KEYBOARD_MAJOR,
                 .minor_version = SPICE_INTERFACE_KEYBOARD_MINOR},
        .push_scan_freg = kbd_push_scan,
        .get_leds = kbd_get_leds,
};

static void mouse_motion(SpiceMouseInstance *sin, int dx, int dy, int dz, uint32_t buttons)
{
    struct fake_host *h = SPICE_CONTAINEROF(sin, struct fake_host, mouse);
    if (h->num_motions < FAKE_MAX_MOUSE) {
        h->motions[h->num_motions++] = (struct fake_mouse_call){dx, dy, dz, buttons};
    }
}

static void mouse_buttons(SpiceMouseInstance *sin, uint32_t buttons)
{
    SPICE_CONTAINEROF(sin, struct fake_host, mouse)->num_mouse_buttons++;
}

static const SpiceMouseInterface mouse_interface = {
        .base = {.type = SPICE_INTERFACE_MOUSE,
                 .description = "fake mouse",
                 .major_version = SPICE_INTERFACE_MOUSE_MAJOR,
                 .minor_version = SPICE_INTERFACE_MOUSE_MINOR},
        .motion = mouse_motion,
        .buttons = mouse_buttons,
};

static void tablet_set_logical_size(SpiceTabletInstance *sin, int width, int height)
{
    struct fake_host *h = SPICE_CONTAINEROF(sin, struct fake_host, tablet);
    h->tablet_width = width;
    h->tablet_height = height;
}

static void tablet_position(SpiceTabletInstance *sin, int x, int y, uint32_t buttons)
{
    struct fake_host *h = SPICE_CONTAINEROF(sin, struct fake_host, tablet);
    if (h->num_positions < FAKE_MAX_MOUSE) {
        h->positions[h->num_positions++] = (struct fake_mouse_call){x, y, 0, buttons};
    }
}

static void tablet_wheel(SpiceTabletInstance *sin, int wheel, uint32_t buttons)
{
    tablet_position(sin, 0, 0, buttons);
    struct fake_host *h = SPICE_CONTAINEROF(sin, struct fake_host, tablet);
    h->positions[h->num_positions - 1].dz = wheel;
}

static void tablet_buttons(SpiceTabletInstance *sin, uint32_t buttons)
{
}

static const SpiceTabletInterface tablet_interface = {
        .base = {.type = SPICE_INTERFACE_TABLET,
                 .description = "fake tablet",
                 .major_version = SPICE_INTERFACE_TABLET_MAJOR,
                 .minor_version = SPICE_INTERFACE_TABLET_MINOR},
        .set_logical_size = tablet_set_logical_size,
        .position = tablet_position,
        .wheel = tablet_wheel,
        .buttons = tablet_buttons,
};

/* ---- QXL device ---- */

struct qxl_block {
    struct qxl_block *next; /* outstanding list */
    struct qxl_block *prev;
    struct qxl_block *queue_next; /* command queue */
    bool cursor;
    union {
        QXLDrawable drawable;
        QXLCursorCmd cursor;
    } cmd;
    /* payload follows at QXL_PAYLOAD_OFFSET */
};

#define QXL_PAYLOAD_OFFSET ((sizeof(struct qxl_block) + 15u) & ~(size_t)15u)

struct fake_qxl {
    QXLInstance instance; /* first */
    struct fake_host *host;
    uint8_t *surface;
    pthread_mutex_t lock;
    struct qxl_block *outstanding;
    struct qxl_block *draw_head, *draw_tail;
    struct qxl_block *cursor_head, *cursor_tail;
    int pending;
};

static uint64_t phys(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

static void qxl_attached_worker(QXLInstance *qin)
{
    struct fake_qxl *q = (struct fake_qxl *)qin;
    QXLDevMemSlot slot = {.slot_group_id = 0,
                          .slot_id = 0,
                          .generation = 0,
                          .virt_start = 0,
                          .virt_end = ~(uintptr_t)0,
                          .addr_delta = 0,
                          .qxl_ram_size = ~0u};
    spice_qxl_add_memslot(qin, &slot);
    QXLDevSurfaceCreate surface = {.width = FAKE_QXL_WIDTH,
                                   .height = FAKE_QXL_HEIGHT,
                                   .stride = FAKE_QXL_WIDTH * 4,
                                   .format = SPICE_SURFACE_FMT_32_xRGB,
                                   .mouse_mode = 1,
                                   .mem = phys(q->surface),
                                   .group_id = 0};
    spice_qxl_create_primary_surface(qin, 0, &surface);
}

static void qxl_set_compression_level(QXLInstance *qin, int level)
{
}

static void qxl_get_init_info(QXLInstance *qin, QXLDevInitInfo *info)
{
    memset(info, 0, sizeof(*info));
    info->num_memslots_groups = 1;
    info->num_memslots = 1;
    info->memslot_gen_bits = 1;
    info->memslot_id_bits = 1;
    info->qxl_ram_size = FAKE_QXL_WIDTH * FAKE_QXL_HEIGHT * 4;
    info->n_surfaces = 1;
}

static int qxl_pop(struct fake_qxl *q, bool cursor, QXLCommandExt *ext)
{
    pthread_mutex_lock(&q->lock);
    struct qxl_block **head = cursor ? &q->cursor_head : &q->draw_head;
    struct qxl_block **tail = cursor ? &q->cursor_tail : &q->draw_tail;
    struct qxl_block *b = *head;
    if (b) {
        *head = b->queue_next;
        if (!*head) {
            *tail = NULL;
        }
        q->pending--;
    }
    pthread_mutex_unlock(&q->lock);
    if (!b) {
        return 0;
    }
    memset(ext, 0, sizeof(*ext));
    ext->cmd.data = phys(&b->cmd);
    ext->cmd.type = cursor ? QXL_CMD_CURSOR : QXL_CMD_DRAW;
    return 1;
}

static int qxl_get_command(QXLInstance *qin, QXLCommandExt *ext)
{
    return qxl_pop((struct fake_qxl *)qin, false, ext);
}

static int qxl_get_cursor_command(QXLInstance *qin, QXLCommandExt *ext)
{
    return qxl_pop((struct fake_qxl *)qin, true, ext);
}

static int qxl_queue_empty(struct fake_qxl *q, bool cursor)
{
    pthread_mutex_lock(&q->lock);
    int empty = (cursor ? q->cursor_head : q->draw_head) == NULL;
    pthread_mutex_unlock(&q->lock);
    return empty;
}

static int qxl_req_cmd_notification(QXLInstance *qin)
{
    return qxl_queue_empty((struct fake_qxl *)qin, false);
}

static int qxl_req_cursor_notification(QXLInstance *qin)
{
    return qxl_queue_empty((struct fake_qxl *)qin, true);
}

static void qxl_release_resource(QXLInstance *qin, QXLReleaseInfoExt release)
{
    struct fake_qxl *q = (struct fake_qxl *)qin;
    if (!release.info) {
        return;
    }
    struct qxl_block *b = (struct qxl_block *)(uintptr_t)release.info->id;
    pthread_mutex_lock(&q->lock);
    if (b->prev) {
        b->prev->next = b->next;
    } else {
        q->outstanding = b->next;
    }
    if (b->next) {
        b->next->prev = b->prev;
    }
    pthread_mutex_unlock(&q->lock);
    free(b);
}

static void qxl_notify_update(QXLInstance *qin, uint32_t update_id)
{
}

static int qxl_flush_resources(QXLInstance *qin)
{
    return 0;
}

static void qxl_async_complete(QXLInstance *qin, uint64_t cookie)
{
}

static void qxl_update_area_complete(QXLInstance *qin, uint32_t surface_id, QXLRect *rects,
                                     uint32_t num_rects)
{
}

static void qxl_set_client_capabilities(QXLInstance *qin, uint8_t present,
                                        uint8_t caps[SPICE_CAPABILITIES_SIZE])
{
}

static int qxl_client_monitors_config(QXLInstance *qin, VDAgentMonitorsConfig *config)
{
    return 0;
}

static const QXLInterface qxl_interface = {
        .base = {.type = SPICE_INTERFACE_QXL,
                 .description = "fake qxl",
                 .major_version = SPICE_INTERFACE_QXL_MAJOR,
                 .minor_version = SPICE_INTERFACE_QXL_MINOR},
        .attached_worker = qxl_attached_worker,
        .set_compression_level = qxl_set_compression_level,
        .get_init_info = qxl_get_init_info,
        .get_command = qxl_get_command,
        .req_cmd_notification = qxl_req_cmd_notification,
        .release_resource = qxl_release_resource,
        .get_cursor_command = qxl_get_cursor_command,
        .req_cursor_notification = qxl_req_cursor_notification,
        .notify_update = qxl_notify_update,
        .flush_resources = qxl_flush_resources,
        .async_complete = qxl_async_complete,
        .update_area_complete = qxl_update_area_complete,
        .set_client_capabilities = qxl_set_client_capabilities,
        .client_monitors_config = qxl_client_monitors_config,
};

static struct qxl_block *qxl_block_alloc(struct fake_qxl *q, bool cursor, size_t payload)
{
    struct qxl_block *b = calloc(1, QXL_PAYLOAD_OFFSET + payload);
    if (!b) {
        return NULL;
    }
    b->cursor = cursor;
    /* release_info is the first member of both command types. */
    b->cmd.drawable.release_info.id = phys(b);
    pthread_mutex_lock(&q->lock);
    b->next = q->outstanding;
    if (q->outstanding) {
        q->outstanding->prev = b;
    }
    q->outstanding = b;
    pthread_mutex_unlock(&q->lock);
    return b;
}

static void qxl_block_queue(struct fake_qxl *q, struct qxl_block *b)
{
    pthread_mutex_lock(&q->lock);
    struct qxl_block **head = b->cursor ? &q->cursor_head : &q->draw_head;
    struct qxl_block **tail = b->cursor ? &q->cursor_tail : &q->draw_tail;
    if (*tail) {
        (*tail)->queue_next = b;
    } else {
        *head = b;
    }
    *tail = b;
    q->pending++;
    pthread_mutex_unlock(&q->lock);
    spice_qxl_wakeup(&q->instance);
}

static void qxl_init_drawable(QXLDrawable *d, uint8_t type, int x, int y, int w, int hgt)
{
    d->surface_id = 0;
    d->effect = QXL_EFFECT_OPAQUE;
    d->type = type;
    d->bbox = (QXLRect){.top = y, .left = x, .bottom = y + hgt, .right = x + w};
    d->clip.type = SPICE_CLIP_TYPE_NONE;
    for (int i = 0; i < 3; i++) {
        d->surfaces_dest[i] = -1;
    }
}

int fake_qxl_push_fill(struct fake_host *h, int x, int y, int w, int hgt, uint32_t color)
{
    if (!h->qxl) {
        return CLOVE_E_STATE;
    }
    struct qxl_block *b = qxl_block_alloc(h->qxl, false, 0);
    if (!b) {
        return CLOVE_E_NOMEM;
    }
    QXLDrawable *d = &b->cmd.drawable;
    qxl_init_drawable(d, QXL_DRAW_FILL, x, y, w, hgt);
    d->u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
    d->u.fill.brush.u.color = color;
    d->u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
    qxl_block_queue(h->qxl, b);
    return 0;
}

int fake_qxl_push_bad_draw(struct fake_host *h, int kind)
{
    if (!h->qxl) {
        return CLOVE_E_STATE;
    }
    struct qxl_block *b = qxl_block_alloc(h->qxl, false, 0);
    if (!b) {
        return CLOVE_E_NOMEM;
    }
    QXLDrawable *d = &b->cmd.drawable;
    qxl_init_drawable(d, QXL_DRAW_FILL, 0, 0, 8, 8);
    d->u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
    d->u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
    switch (kind) {
    case 0: /* clip rects at an address outside every memslot */
        d->clip.type = SPICE_CLIP_TYPE_RECTS;
        d->clip.data = 0xdead000000000000ull;
        break;
    case 1: /* an unknown draw type */
        d->type = 200;
        break;
    case 2: /* a copy whose image has a stale memslot generation */
        d->type = QXL_DRAW_COPY;
        memset(&d->u, 0, sizeof(d->u));
        d->u.copy.src_bitmap = 0x4000000000001234ull; /* generation 1: stale */
        d->u.copy.src_area = (QXLRect){.top = 0, .left = 0, .bottom = 8, .right = 8};
        d->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
        break;
    case 3: /* a surface that does not exist */
        d->surface_id = 5000;
        break;
    default: /* absurd geometry (legal for a fill: clipped to the surface) */
        d->bbox = (QXLRect){.top = INT32_MIN, .left = INT32_MIN, .bottom = INT32_MAX,
                            .right = INT32_MAX};
        break;
    }
    qxl_block_queue(h->qxl, b);
    return 0;
}

int fake_qxl_push_copy(struct fake_host *h, int x, int y, int w, int hgt, uint32_t color)
{
    return fake_qxl_push_copy_image(h, x, y, w, hgt, color, 1, 0);
}

int fake_qxl_push_copy_image(struct fake_host *h, int x, int y, int w, int hgt, uint32_t color,
                             uint64_t image_id, uint8_t desc_flags)
{
    if (!h->qxl || w <= 0 || hgt <= 0) {
        return CLOVE_E_STATE;
    }
    size_t image_size = (sizeof(QXLImage) + 15u) & ~(size_t)15u;
    size_t stride = (size_t)w * 4;
    struct qxl_block *b = qxl_block_alloc(h->qxl, false, image_size + stride * (size_t)hgt);
    if (!b) {
        return CLOVE_E_NOMEM;
    }
    QXLImage *image = (QXLImage *)((uint8_t *)b + QXL_PAYLOAD_OFFSET);
    uint8_t *pixels = (uint8_t *)image + image_size;
    for (size_t i = 0; i < (size_t)w * (size_t)hgt; i++) {
        put_u32le(pixels + 4 * i, color);
    }
    image->descriptor.id = image_id;
    image->descriptor.flags = desc_flags;
    image->descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
    image->descriptor.width = (uint32_t)w;
    image->descriptor.height = (uint32_t)hgt;
    image->bitmap.format = SPICE_BITMAP_FMT_32BIT;
    image->bitmap.flags = QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN;
    image->bitmap.x = (uint32_t)w;
    image->bitmap.y = (uint32_t)hgt;
    image->bitmap.stride = (uint32_t)stride;
    image->bitmap.data = phys(pixels);
    QXLDrawable *d = &b->cmd.drawable;
    qxl_init_drawable(d, QXL_DRAW_COPY, x, y, w, hgt);
    d->u.copy.src_bitmap = phys(image);
    d->u.copy.src_area = (QXLRect){.top = 0, .left = 0, .bottom = hgt, .right = w};
    d->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    qxl_block_queue(h->qxl, b);
    return 0;
}

int fake_qxl_push_cursor_move(struct fake_host *h, int x, int y)
{
    if (!h->qxl) {
        return CLOVE_E_STATE;
    }
    struct qxl_block *b = qxl_block_alloc(h->qxl, true, 0);
    if (!b) {
        return CLOVE_E_NOMEM;
    }
    b->cmd.cursor.type = QXL_CURSOR_MOVE;
    b->cmd.cursor.u.position.x = (int16_t)x;
    b->cmd.cursor.u.position.y = (int16_t)y;
    qxl_block_queue(h->qxl, b);
    return 0;
}

int fake_qxl_push_cursor_set(struct fake_host *h, uint64_t unique, int size, uint32_t color)
{
    if (!h->qxl || size <= 0 || size > 64) {
        return CLOVE_E_STATE;
    }
    size_t data_size = (size_t)size * (size_t)size * 4;
    struct qxl_block *b = qxl_block_alloc(h->qxl, true, sizeof(QXLCursor) + data_size);
    if (!b) {
        return CLOVE_E_NOMEM;
    }
    QXLCursor *cursor = (QXLCursor *)((uint8_t *)b + QXL_PAYLOAD_OFFSET);
    cursor->header.unique = unique;
    cursor->header.type = SPICE_CURSOR_TYPE_ALPHA;
    cursor->header.width = (uint16_t)size;
    cursor->header.height = (uint16_t)size;
    cursor->data_size = (uint32_t)data_size;
    cursor->chunk.data_size = (uint32_t)data_size;
    for (size_t i = 0; i < data_size / 4; i++) {
        put_u32le(cursor->chunk.data + 4 * i, color);
    }
    b->cmd.cursor.type = QXL_CURSOR_SET;
    b->cmd.cursor.u.set.visible = 1;
    b->cmd.cursor.u.set.shape = phys(cursor);
    qxl_block_queue(h->qxl, b);
    return 0;
}

int fake_qxl_pending(struct fake_host *h)
{
    if (!h->qxl) {
        return 0;
    }
    pthread_mutex_lock(&h->qxl->lock);
    int n = h->qxl->pending;
    pthread_mutex_unlock(&h->qxl->lock);
    return n;
}

static struct fake_qxl *fake_qxl_create(struct fake_host *h)
{
    struct fake_qxl *q = calloc(1, sizeof(*q));
    if (!q) {
        return NULL;
    }
    q->surface = calloc(FAKE_QXL_WIDTH * FAKE_QXL_HEIGHT, 4);
    if (!q->surface) {
        free(q);
        return NULL;
    }
    q->host = h;
    pthread_mutex_init(&q->lock, NULL);
    q->instance.base.sif = &qxl_interface.base;
    return q;
}

/* After the server (and its worker) is gone: frees what was never released. */
static void fake_qxl_destroy(struct fake_qxl *q)
{
    if (!q) {
        return;
    }
    for (struct qxl_block *b = q->outstanding, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    pthread_mutex_destroy(&q->lock);
    free(q->surface);
    free(q);
}

/* ---- host ---- */

static void quiet_log(enum log_level level, const char *file, int line, const char *msg)
{
}

struct fake_host *fake_host_create(const struct fake_host_options *opts)
{
    if (current_host) {
        return NULL;
    }
    struct fake_host *h = calloc(1, sizeof(*h));
    if (!h) {
        return NULL;
    }
    if (opts->quiet) {
        log_set_handler(quiet_log);
    }
    h->loop = loop_poll_create();
    if (!h->loop) {
        goto error_loop;
    }
    current_host = h;
    h->core = (SpiceCoreInterface){
            .base = {.type = SPICE_INTERFACE_CORE,
                     .description = "fake host",
                     .major_version = SPICE_INTERFACE_CORE_MAJOR,
                     .minor_version = SPICE_INTERFACE_CORE_MINOR},
            .timer_add = core_timer_add,
            .timer_start = core_timer_start,
            .timer_cancel = core_timer_cancel,
            .timer_remove = core_timer_remove,
            .watch_add = core_watch_add,
            .watch_update_mask = core_watch_update_mask,
            .watch_remove = core_watch_remove,
            .channel_event = core_channel_event,
    };
    h->server = spice_server_new();
    if (!h->server) {
        goto error_server;
    }
    if (opts->noauth) {
        spice_server_set_noauth(h->server);
    } else if (opts->password) {
        spice_server_set_ticket(h->server, opts->password, opts->ticket_lifetime, 0, 0);
    }
    if (spice_server_init(h->server, &h->core) < 0) {
        goto error_init;
    }
    h->kbd.base.sif = &kbd_interface.base;
    h->mouse.base.sif = &mouse_interface.base;
    h->tablet.base.sif = &tablet_interface.base;
    if ((opts->keyboard && spice_server_add_interface(h->server, &h->kbd.base) < 0) ||
        (opts->mouse && spice_server_add_interface(h->server, &h->mouse.base) < 0) ||
        (opts->tablet && spice_server_add_interface(h->server, &h->tablet.base) < 0)) {
        goto error_init;
    }
    if (opts->qxl) {
        h->qxl = fake_qxl_create(h);
        if (!h->qxl || spice_server_add_interface(h->server, &h->qxl->instance.base) < 0) {
            goto error_init;
        }
        spice_server_vm_start(h->server);
    }
    return h;

error_init:
    spice_server_destroy(h->server);
    fake_qxl_destroy(h->qxl);
error_server:
    loop_destroy(h->loop);
    current_host = NULL;
error_loop:
    free(h);
    return NULL;
}

void fake_host_destroy(struct fake_host *h)
{
    if (!h) {
        return;
    }
    spice_server_destroy(h->server);
    fake_qxl_destroy(h->qxl);
    for (struct fake_client *c = h->clients; c; c = c->next) {
        loop_watch_remove(h->loop, c->watch);
        c->watch = NULL;
        c->host = NULL;
    }
    loop_destroy(h->loop);
    current_host = NULL;
    log_set_handler(NULL);
    free(h);
}

void fake_host_iterate(struct fake_host *h, int timeout_ms)
{
    loop_poll_iterate(h->loop, timeout_ms);
}

bool fake_host_run_until(struct fake_host *h, bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    uint64_t deadline = loop_now_ms() + (uint64_t)timeout_ms;
    while (!cond(arg)) {
        uint64_t now = loop_now_ms();
        if (now >= deadline) {
            return cond(arg);
        }
        /* Short slices: a display worker reads and writes on its own thread,
         * which wakes nothing here, and cond may be waiting for exactly that. */
        uint64_t left = deadline - now;
        loop_poll_iterate(h->loop, left < 1 ? (int)left : 1);
    }
    return true;
}

static bool never(void *arg)
{
    return false;
}

void fake_host_run_for(struct fake_host *h, int ms)
{
    fake_host_run_until(h, never, NULL, ms);
}

int fake_host_find_event(const struct fake_host *h, int event, int type, int nth)
{
    for (int i = 0; i < h->num_events; i++) {
        if (h->events[i].event == event && (type < 0 || h->events[i].type == type) && nth-- == 0) {
            return i;
        }
    }
    return -1;
}

/* ---- client ---- */

static void client_on_io(int fd, int events, void *opaque)
{
    struct fake_client *c = opaque;
    for (;;) {
        if (c->rx_cap - c->rx_len < 4096) {
            size_t cap = c->rx_cap ? c->rx_cap * 2 : 16384;
            uint8_t *rx = realloc(c->rx, cap);
            if (!rx) {
                return;
            }
            c->rx = rx;
            c->rx_cap = cap;
        }
        ssize_t n = recv(c->fd, c->rx + c->rx_len, c->rx_cap - c->rx_len, 0);
        if (n > 0) {
            c->rx_len += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        /* EOF or a reset: the server closed its end. */
        c->eof = true;
        loop_watch_remove(c->host->loop, c->watch);
        c->watch = NULL;
        return;
    }
}

int fake_client_connect(struct fake_host *h, struct fake_client *c, int skip_auth)
{
    memset(c, 0, sizeof(*c));
    c->host = h;
    c->fd = -1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        return CLOVE_E_IO;
    }
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    c->fd = sv[0];
    c->watch = loop_watch_add(h->loop, c->fd, LOOP_READ, client_on_io, c);
    if (!c->watch) {
        close(sv[0]);
        close(sv[1]);
        c->fd = -1;
        return CLOVE_E_NOMEM;
    }
    c->next = h->clients;
    h->clients = c;
    if (spice_server_add_client(h->server, sv[1], skip_auth) < 0) {
        close(sv[1]);
        fake_client_close(c);
        return CLOVE_E_STATE;
    }
    return 0;
}

void fake_client_close(struct fake_client *c)
{
    if (c->host) {
        for (struct fake_client **p = &c->host->clients; *p; p = &(*p)->next) {
            if (*p == c) {
                *p = c->next;
                break;
            }
        }
        loop_watch_remove(c->host->loop, c->watch);
        c->watch = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    free(c->rx);
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
}

int fake_client_write(struct fake_client *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t deadline = loop_now_ms() + 2000;
    while (len > 0) {
        if (c->fd < 0) {
            return CLOVE_E_CLOSED;
        }
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN && c->host && loop_now_ms() < deadline) {
            /* The server has not read yet: let it run. */
            loop_poll_iterate(c->host->loop, 5);
            continue;
        }
        return n < 0 && errno == EAGAIN ? CLOVE_E_AGAIN : CLOVE_E_CLOSED;
    }
    return 0;
}

struct wait_bytes {
    struct fake_client *c;
    size_t n;
};

static bool have_bytes(void *arg)
{
    struct wait_bytes *w = arg;
    return w->c->rx_len >= w->n || w->c->eof;
}

bool fake_client_wait_bytes(struct fake_client *c, size_t n, int timeout_ms)
{
    struct wait_bytes w = {c, n};
    fake_host_run_until(c->host, have_bytes, &w, timeout_ms);
    return c->rx_len >= n;
}

static bool is_eof(void *arg)
{
    return ((struct fake_client *)arg)->eof;
}

bool fake_client_wait_eof(struct fake_client *c, int timeout_ms)
{
    return fake_host_run_until(c->host, is_eof, c, timeout_ms);
}

void fake_client_consume(struct fake_client *c, size_t n)
{
    if (n > c->rx_len) {
        n = c->rx_len;
    }
    memmove(c->rx, c->rx + n, c->rx_len - n);
    c->rx_len -= n;
}

struct fake_link fake_link_default(uint32_t connection_id, uint8_t type, uint8_t id)
{
    struct fake_link l = {.connection_id = connection_id,
                          .type = type,
                          .id = id,
                          .mini_header = true,
                          .auth_selection = true};
    return l;
}

int fake_client_send_link(struct fake_client *c, const struct fake_link *link)
{
    uint32_t common[1] = {0};
    caps_set(common, SPICE_COMMON_CAP_AUTH_SPICE);
    if (link->auth_selection) {
        caps_set(common, SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION);
    }
    if (link->mini_header) {
        caps_set(common, SPICE_COMMON_CAP_MINI_HEADER);
    }
    struct byte_buf b;
    buf_init(&b);
    link_mess_write(&b, link->connection_id, link->type, link->id, common, 1, link->channel_caps,
                    link->num_channel_caps);
    int rc = buf_ok(&b) ? fake_client_write(c, b.data, b.len) : CLOVE_E_NOMEM;
    buf_finish(&b);
    return rc;
}

int fake_client_read_reply(struct fake_client *c, uint32_t *error, uint8_t *pubkey,
                           uint32_t *server_common_caps, int timeout_ms)
{
    if (!fake_client_wait_bytes(c, LINK_HEADER_SIZE, timeout_ms)) {
        return CLOVE_E_CLOSED;
    }
    struct link_header h;
    link_header_parse(c->rx, c->rx_len, &h);
    if (h.magic != LINK_MAGIC || h.size > LINK_MAX_BODY_SIZE) {
        return CLOVE_E_INVALID;
    }
    if (!fake_client_wait_bytes(c, LINK_HEADER_SIZE + h.size, timeout_ms)) {
        return CLOVE_E_CLOSED;
    }
    struct link_reply r;
    const char *err = NULL;
    if (link_reply_parse(c->rx + LINK_HEADER_SIZE, h.size, &r, &err) < 0) {
        return CLOVE_E_INVALID;
    }
    *error = r.error;
    if (pubkey) {
        memcpy(pubkey, r.pubkey, LINK_PUBKEY_SIZE);
    }
    if (server_common_caps) {
        *server_common_caps = r.num_common_caps ? get_u32le(r.common_caps) : 0;
    }
    fake_client_consume(c, LINK_HEADER_SIZE + h.size);
    return 0;
}

int fake_encrypt_ticket(const uint8_t *pubkey_der, size_t der_len, const void *plain, size_t len,
                        uint8_t out[LINK_TICKET_SIZE])
{
    const unsigned char *p = pubkey_der;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)der_len);
    if (!key) {
        return CLOVE_E_INVALID;
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    size_t out_len = LINK_TICKET_SIZE;
    int rc = CLOVE_E_INVALID;
    if (ctx && EVP_PKEY_encrypt_init(ctx) > 0 &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
        EVP_PKEY_encrypt(ctx, out, &out_len, plain, len) > 0) {
        rc = (int)out_len;
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(key);
    return rc;
}

int fake_client_send_ticket(struct fake_client *c, const uint8_t *pubkey, const char *password,
                            bool auth_selection)
{
    uint8_t msg[4 + LINK_TICKET_SIZE];
    size_t off = 0;
    if (auth_selection) {
        put_u32le(msg, SPICE_COMMON_CAP_AUTH_SPICE);
        off = 4;
    }
    memset(msg + off, 0, LINK_TICKET_SIZE);
    if (password && fake_encrypt_ticket(pubkey, LINK_PUBKEY_SIZE, password, strlen(password) + 1,
                                        msg + off) != LINK_TICKET_SIZE) {
        return CLOVE_E_INVALID;
    }
    return fake_client_write(c, msg, off + LINK_TICKET_SIZE);
}

int fake_client_read_u32(struct fake_client *c, uint32_t *value, int timeout_ms)
{
    if (!fake_client_wait_bytes(c, 4, timeout_ms)) {
        return CLOVE_E_CLOSED;
    }
    *value = get_u32le(c->rx);
    fake_client_consume(c, 4);
    return 0;
}

int fake_client_link(struct fake_host *h, struct fake_client *c, const struct fake_link *link,
                     const char *password)
{
    int rc = fake_client_connect(h, c, 0);
    if (rc < 0) {
        return rc;
    }
    rc = fake_client_send_link(c, link);
    if (rc < 0) {
        return rc;
    }
    uint32_t error;
    uint8_t pubkey[LINK_PUBKEY_SIZE];
    rc = fake_client_read_reply(c, &error, pubkey, NULL, 2000);
    if (rc < 0) {
        return rc;
    }
    if (error != SPICE_LINK_ERR_OK) {
        return (int)error;
    }
    rc = fake_client_send_ticket(c, pubkey, password, link->auth_selection);
    if (rc < 0) {
        return rc;
    }
    uint32_t result;
    rc = fake_client_read_u32(c, &result, 2000);
    if (rc < 0) {
        return rc;
    }
    c->mini = link->mini_header;
    return (int)result;
}

int fake_client_send_msg(struct fake_client *c, uint16_t type, const void *body, uint32_t size)
{
    struct byte_buf b;
    buf_init(&b);
    msg_header_write(&b, c->mini, ++c->serial, type, size);
    if (size) {
        buf_put(&b, body, size);
    }
    int rc = buf_ok(&b) ? fake_client_write(c, b.data, b.len) : CLOVE_E_NOMEM;
    buf_finish(&b);
    return rc;
}

int fake_client_read_msg(struct fake_client *c, struct fake_msg *msg, int timeout_ms)
{
    size_t hsize = msg_header_size(c->mini);
    if (!fake_client_wait_bytes(c, hsize, timeout_ms)) {
        return CLOVE_E_CLOSED;
    }
    struct msg_header h;
    if (msg_header_parse(c->rx, c->rx_len, c->mini, &h) < 0) {
        return CLOVE_E_INVALID;
    }
    if (!fake_client_wait_bytes(c, hsize + h.size, timeout_ms)) {
        return CLOVE_E_CLOSED;
    }
    msg->type = h.type;
    msg->size = h.size;
    msg->data = malloc(h.size ? h.size : 1);
    if (!msg->data) {
        return CLOVE_E_NOMEM;
    }
    memcpy(msg->data, c->rx + hsize, h.size);
    fake_client_consume(c, hsize + h.size);
    return 0;
}

int fake_client_wait_msg(struct fake_client *c, uint16_t type, struct fake_msg *msg, int timeout_ms)
{
    uint64_t deadline = loop_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t now = loop_now_ms();
        if (now >= deadline) {
            return CLOVE_E_AGAIN;
        }
        int rc = fake_client_read_msg(c, msg, (int)(deadline - now));
        if (rc < 0) {
            return rc;
        }
        if (msg->type == type) {
            return 0;
        }
        free(msg->data);
        msg->data = NULL;
    }
}
