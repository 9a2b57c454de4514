/*
 * Display clients that fall behind.
 *
 * A client that falls behind (more than DISPLAY_SOFT_QUEUE_BYTES queued,
 * hidden draws purged first), or that must get a draw it cannot take as a
 * command (display_fall_back), stops getting draw commands: the areas they
 * touch are collected per surface instead, and once its queue has drained,
 * those areas go out as images of the server's rendered surfaces. Its
 * memory stays bounded, it ends up with the same screen, and neither the
 * guest nor other clients wait for it.
 *
 * Invariant: a client is `degraded` exactly while it gets no draw
 * commands; its areas to refresh (one region per surface) are sent and
 * cleared together when it leaves that state.
 *
 * Thread: the worker's.
 */
#include <stdlib.h>

#include "common/log.h"
#include "server/display_priv.h"
#include "server/worker_priv.h"

/* Queued bytes beyond which a client gets areas to refresh, not commands
 * (CLOVE_DISPLAY_SOFT_QUEUE_BYTES overrides it, for tests). */
#define DISPLAY_SOFT_QUEUE_BYTES (8u * 1024 * 1024)

static size_t display_soft_queue_bytes(void)
{
    static size_t value;
    size_t v = __atomic_load_n(&value, __ATOMIC_RELAXED);
    if (v == 0) {
        const char *env = getenv("CLOVE_DISPLAY_SOFT_QUEUE_BYTES");
        unsigned long long n = env ? strtoull(env, NULL, 10) : 0;
        v = n > 0 ? (size_t)n : DISPLAY_SOFT_QUEUE_BYTES;
        __atomic_store_n(&value, v, __ATOMIC_RELAXED);
    }
    return v;
}

/* More dirty rectangles than this are refreshed as their bounding box. */
#define DISPLAY_MAX_DIRTY_RECTS 32

/* ---- clients that fall behind ---- */

void display_dirty_drop(struct display_client *dc, uint32_t surface_id)
{
    for (uint32_t i = 0; i < dc->num_dirty; i++) {
        if (dc->dirty[i].surface_id == surface_id) {
            pixman_region32_fini(&dc->dirty[i].region);
            dc->dirty[i] = dc->dirty[--dc->num_dirty];
            return;
        }
    }
}

void display_dirty_clear(struct display_client *dc)
{
    for (uint32_t i = 0; i < dc->num_dirty; i++) {
        pixman_region32_fini(&dc->dirty[i].region);
    }
    dc->num_dirty = 0;
}

/* Adds the part of `r` inside the surface to the client's areas to refresh. */
void display_dirty_add(struct display_client *dc, uint32_t surface_id, const struct qxl_rect *r)
{
    struct worker_surface *p = &dc->worker->surfaces[surface_id];
    int32_t left = r->left < 0 ? 0 : r->left, top = r->top < 0 ? 0 : r->top;
    int32_t right = r->right > (int32_t)p->width ? (int32_t)p->width : r->right;
    int32_t bottom = r->bottom > (int32_t)p->height ? (int32_t)p->height : r->bottom;
    if (left >= right || top >= bottom) {
        return;
    }
    struct dirty_area *a = NULL;
    for (uint32_t i = 0; i < dc->num_dirty; i++) {
        if (dc->dirty[i].surface_id == surface_id) {
            a = &dc->dirty[i];
        }
    }
    if (!a) {
        if (dc->num_dirty == dc->cap_dirty) {
            uint32_t cap = dc->cap_dirty ? dc->cap_dirty * 2 : 4;
            struct dirty_area *n = realloc(dc->dirty, cap * sizeof(*n));
            if (!n) {
                /* Without memory to track it, the client cannot be kept right. */
                channel_client_close(&dc->base);
                return;
            }
            dc->dirty = n;
            dc->cap_dirty = cap;
        }
        a = &dc->dirty[dc->num_dirty++];
        a->surface_id = surface_id;
        pixman_region32_init(&a->region);
    }
    pixman_region32_union_rect(&a->region, &a->region, left, top, (unsigned)(right - left),
                               (unsigned)(bottom - top));
}

/* Sends the areas a behind client missed, offscreen surfaces first. */
void display_refresh_dirty(struct display_client *dc)
{
    struct worker *w = dc->worker;
    struct image_encoder_settings s = display_settings(w);
    for (int pass = 0; pass < 2 && !dc->base.closing; pass++) {
        for (uint32_t i = 0; i < dc->num_dirty && !dc->base.closing; i++) {
            struct dirty_area *a = &dc->dirty[i];
            if ((a->surface_id == 0) != (pass == 1) || a->surface_id >= w->n_surfaces ||
                !w->surfaces[a->surface_id].created) {
                continue;
            }
            int n = 0;
            pixman_box32_t *boxes = pixman_region32_rectangles(&a->region, &n);
            pixman_box32_t extents = *pixman_region32_extents(&a->region);
            if (n > DISPLAY_MAX_DIRTY_RECTS) {
                boxes = &extents;
                n = 1;
            }
            for (int k = 0; k < n && !dc->base.closing; k++) {
                struct qxl_rect r = {boxes[k].y1, boxes[k].x1, boxes[k].y2, boxes[k].x2};
                struct shared_msg *m = display_area_image_msg(dc, a->surface_id, &r, &s);
                display_send_to(dc, m);
                shared_msg_unref(m);
                dc->refreshes++;
            }
        }
    }
    display_dirty_clear(dc);
    dc->degraded = false;
}

/*
 * The client gets no more draw commands until its queue drains; then all
 * of surface_id (as rendered here, with every draw since) is sent as
 * images. For what cannot go as a command.
 */
void display_fall_back(struct display_client *dc, uint32_t surface_id)
{
    struct worker *w = dc->worker;
    if (surface_id >= w->n_surfaces || !w->surfaces[surface_id].created) {
        return;
    }
    struct worker_surface *p = &w->surfaces[surface_id];
    struct qxl_rect all = {0, 0, (int32_t)p->height, (int32_t)p->width};
    dc->degraded = true;
    display_dirty_add(dc, surface_id, &all);
}

/* True if the drawable should become an area to refresh for this client. */
bool display_behind(struct display_client *dc)
{
    if (!dc->degraded && channel_client_queued_bytes(&dc->base) > display_soft_queue_bytes()) {
        /* Hidden draws still count until the queue reaches them. */
        channel_client_purge(&dc->base);
    }
    if (!dc->degraded && channel_client_queued_bytes(&dc->base) > display_soft_queue_bytes()) {
        log_info("display: client %u is falling behind (%zu bytes queued); sending it "
                 "refreshed areas instead of commands",
                 dc->base.connection_id, channel_client_queued_bytes(&dc->base));
        dc->degraded = true;
    }
    return dc->degraded;
}
