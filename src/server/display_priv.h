/*
 * Display channel internals shared by its four files: display_channel.c
 * (the clients: connect, close, client messages, surfaces, monitors and
 * marks), display_image.c (encoding images for one client, through its
 * pixmap and palette cache mirrors), display_draw.c (queued draw items
 * turned into messages as they are written) and display_dirty.c (the
 * refreshed areas of a client that fell behind).
 *
 * Thread: everything here belongs to the worker thread.
 */
#ifndef CLOVE_SERVER_DISPLAY_PRIV_H
#define CLOVE_SERVER_DISPLAY_PRIV_H

#include <pixman.h>
#include <stdbool.h>
#include <stdint.h>

#include <spice/protocol.h>

#include "common/bytes.h"
#include "display/image_encoder.h"
#include "display/palette_cache.h"
#include "display/pixmap_cache.h"
#include "proto/server_msg.h"
#include "server/channel.h"
#include "server/worker_priv.h"

struct dirty_area {
    uint32_t surface_id;
    pixman_region32_t region;
};

struct display_client {
    struct channel_client base; /* first */
    struct worker *worker;
    struct display_client *next;
    bool batch_held; /* busy raised for the worker's current batch */
    bool compose;    /* re-cut and merge draws (display_plan_compose) */
    bool got_init;
    int64_t pixmap_cache_size;
    struct image_encoder_client encoder;
    /* falling behind: areas to refresh from the server's surfaces */
    bool degraded;
    struct dirty_area *dirty; /* owns */
    uint32_t num_dirty, cap_dirty;
    uint64_t refreshes;
    /* the client's pixmap cache, as far as this channel filled it */
    struct pixmap_cache pixmaps;
    uint64_t *evicted; /* owns: wire ids to name in the next INVAL_LIST */
    uint32_t num_evicted, cap_evicted;
    bool evicted_lost; /* out of memory recording an eviction */
    /* the client's palette cache of this channel */
    struct palette_cache palettes;
};

/*
 * The pixels an image is encoded from. Bitmaps in the codec formats are
 * used in place, palette bitmaps too when the client takes palettes
 * (has_palette); other palette bitmaps and 16-bit 565 surfaces are
 * expanded to 32 bits into `owned`.
 */
struct image_source {
    struct codec_image img;
    uint8_t *owned;
    bool is_surface_ref; /* a SURFACE image: no pixels, names surface_id */
    uint32_t surface_id;
    bool has_palette; /* img is CODEC_FMT_PLT*, its colours in `palette` */
    struct image_encoder_palette palette;
};

/* One encoded image of a message, with the storage it needs. */
struct encoded_image {
    struct wire_image wire;
    struct byte_buf scratch;
    uint8_t surface_id[4];
    bool per_client;
    bool cache_me; /* the client's cache gains it with this message */
};

/* ---- display_channel.c ---- */

/* Queues m (borrows; NULL is ignored) for dc unless it is closing. */
void display_send_to(struct display_client *dc, struct shared_msg *m);
/* Queues a message without body for dc unless it is closing. */
void display_send_simple(struct display_client *dc, uint16_t type);
/* A shared message of b's bytes; returns new, or NULL (logged) when out of
 * memory. b stays the caller's. */
struct shared_msg *display_msg_from_buf(uint16_t type, struct byte_buf *b);
/* The server's current image compression settings. */
struct image_encoder_settings display_settings(const struct worker *w);

/* ---- display_image.c ---- */

/* Fills *out with the pixels of `src` (borrows it; out->owned is the
 * caller's to free). `keep_palette`: palette bitmaps stay in their format
 * (the client's compression mode takes them, image_encoder_keeps_palette).
 * Returns false for an image that cannot be sent. */
bool image_source_from_qxl(const struct qxl_image *src, struct image_source *out,
                           bool keep_palette);
void encoded_image_finish(struct encoded_image *e);
/* Encodes one image for one client into *e (finish it with
 * encoded_image_finish). `q` is the guest's image when there is one (its
 * cache hint); NULL for areas of surfaces, which are not cached. */
void display_encode(struct display_client *dc, const struct image_encoder_settings *s,
                    const struct image_source *src, const struct qxl_image *q,
                    struct encoded_image *e);
/* pixmap_cache eviction callback (opaque: the display_client). */
void display_on_evict(void *opaque, uint64_t wire_id);
/* Sends INVAL_LIST for what the mirror evicted (before anything naming
 * the entries that replace them). */
void display_flush_evicted(struct display_client *dc);
/* An area of surface `id`, as rendered now, as one DRAW_COPY encoded for
 * dc. Returns new, or NULL. */
struct shared_msg *display_area_image_msg(struct display_client *dc, uint32_t id,
                                          const struct qxl_rect *area,
                                          const struct image_encoder_settings *s);

/* ---- display_dirty.c ---- */

/* Forgets the areas to refresh of a surface (it was destroyed). */
void display_dirty_drop(struct display_client *dc, uint32_t surface_id);
/* Forgets every area to refresh (keeps the array). */
void display_dirty_clear(struct display_client *dc);
/* Adds the part of `r` inside the surface to the client's areas to refresh. */
void display_dirty_add(struct display_client *dc, uint32_t surface_id, const struct qxl_rect *r);
/* Sends the areas a behind client missed, offscreen surfaces first. */
void display_refresh_dirty(struct display_client *dc);
/* The client gets no more draw commands until its queue drains; then all
 * of surface_id is sent as images. */
void display_fall_back(struct display_client *dc, uint32_t surface_id);
/* True if a new drawable should become an area to refresh for this client. */
bool display_behind(struct display_client *dc);

#endif
