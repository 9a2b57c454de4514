/*
 * The display channel clients of one worker.
 *
 * A client that connects gets every surface (SURFACE_CREATE, then its whole
 * content as one image from the server's rendered copy; offscreen surfaces
 * first, the primary last, followed by the monitors config and a MARK that
 * says "the screen is complete"). After that every draw command goes into
 * its queue as a draw item (server/draw_tree.h), unencoded.
 *
 * Draws are built when they are about to be written (channel.h, deferred
 * entries): an item hidden since it was queued is dropped unencoded; a run
 * of consecutive queued items that can be painted into an image (solid PUT
 * fills, 1:1 PUT copies of 32-bit bitmaps, on a 32-bit surface) goes as one
 * DRAW_COPY of their union, blank where nothing shows and clipped to what
 * does, unless that image would be sparse (display_plan_compose); a copy
 * whose image mostly does not show is re-cut the same way; any other item
 * goes as its own message, clipped to its visible region. Write bursts to
 * a client start DISPLAY_PACE_MS apart, so that draws arriving together
 * meet in its queue.
 *
 * A client that falls behind (more than DISPLAY_SOFT_QUEUE_BYTES queued,
 * hidden draws purged first), or that must get a draw it cannot take as a
 * command (display_fall_back), stops getting draw commands: the areas they touch are collected per
 * surface instead, and once its queue has drained, those areas go out as
 * images of the server's rendered surfaces. Its memory stays bounded, it
 * ends up with the same screen, and neither the guest nor other clients
 * wait for it.
 *
 * Images pass through the encoder stage (display/image_encoder.h), which
 * depends on the client (capabilities, GLZ dictionary, preferred
 * compression). A message is therefore built per client, except that one
 * built without per-client state (anything but GLZ, and no cached image)
 * is reused for every later client with the same encoding profile.
 *
 * Pixmap cache: each client has a mirror (display/pixmap_cache.h) of the
 * image cache it announced in DISPLAY_INIT (pixmap_cache_size, in
 * pixels). Images the guest marked QXL_IMAGE_CACHE, and large ones it did
 * not mark, are keyed by a hash of their pixels; the first time a client
 * gets one it goes with CACHE_ME under a fresh id (never reused, and
 * distinct per worker: a client's display channels share one cache, as
 * spice-gtk's session does), and afterwards as FROM_CACHE with no pixels.
 * Only losslessly encoded images are cached, so FROM_CACHE is always
 * exact. When the mirror is full, the least recently used images are
 * dropped and named in INVAL_LIST, queued before the image that replaces
 * them. Since draws are encoded only as they are written, the mirror
 * counts exactly the CACHE_MEs that went out. INVAL_ALL_PIXMAPS
 * is never sent: it would also clear what other display channels of the
 * same client cached. A new channel starts with an empty mirror; its ids
 * are new, so anything an earlier channel left in the client's cache is
 * never named again.
 *
 * Palettes: 1/4/8-bit bitmaps go in their own format, as LZ_PLT or a
 * BITMAP with its palette, when the client's compression mode allows LZ
 * (or is OFF); with QUIC, GLZ or LZ4 they are expanded to 32 bits first
 * (image_encoder_keeps_palette), and so are 1BIT_LE and 4BIT_LE bitmaps,
 * which spice-common's canvas (spice-gtk's) cannot draw. A palette the
 * guest gave an id (unique) goes inline with PAL_CACHE_ME the first time,
 * then PAL_FROM_CACHE; the client's palette cache is mirrored per channel
 * (display/palette_cache.h, 128 entries as the reference), INVAL_PALETTE
 * announcing each eviction before the image that took its place. Like the
 * pixmap mirror it changes only as draws are written; a draw that is not
 * sent after all takes back the palettes it added. INVAL_ALL_PALETTES at
 * connect starts the client's cache empty, as the mirror is.
 *
 * Thread: the worker's.
 */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "display/image_encoder.h"
#include "display/palette_cache.h"
#include "display/pixmap_cache.h"
#include "proto/server_msg.h"
#include "server/draw_tree.h"
#include "server/server.h"
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
/* Least time between two write bursts to a display client (ms): draws
 * arriving meanwhile queue up, where hidden ones drop and consecutive ones
 * merge. Interactive updates that come further apart go out at once.
 * CLOVE_DISPLAY_PACE_MS overrides it (0: no pacing). */
#define DISPLAY_PACE_MS 10

static uint32_t display_pace_ms(void)
{
    const char *env = getenv("CLOVE_DISPLAY_PACE_MS");
    if (env && *env) {
        unsigned long n = strtoul(env, NULL, 10);
        return n > 1000 ? 1000 : (uint32_t)n;
    }
    return DISPLAY_PACE_MS;
}

/* Whether partly hidden copies are re-cut and consecutive draws merged
 * (CLOVE_DISPLAY_COMPOSE=0 turns it off, for tests of the plain path). */
static bool display_compose_enabled(void)
{
    const char *env = getenv("CLOVE_DISPLAY_COMPOSE");
    return !(env && strcmp(env, "0") == 0);
}

/* Images smaller than this are never cached: FROM_CACHE would save little. */
#define DISPLAY_CACHE_MIN_PIXELS 64
/* Images the guest did not mark cacheable are cached from this size on. */
#define DISPLAY_CACHE_UNMARKED_MIN_PIXELS (64 * 64)
/* INVAL_LIST carries a u16 count. */
#define DISPLAY_INVAL_LIST_MAX 65535

/* More dirty rectangles than this are refreshed as their bounding box. */
#define DISPLAY_MAX_DIRTY_RECTS 32

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

static void display_dirty_drop(struct display_client *dc, uint32_t surface_id);

/* ---- helpers ---- */

static void display_send_to(struct display_client *dc, struct shared_msg *m)
{
    if (m && !dc->base.closing) {
        channel_client_send_shared(&dc->base, m);
    }
}

static void display_send_simple(struct display_client *dc, uint16_t type)
{
    if (!dc->base.closing) {
        channel_client_send(&dc->base, type, NULL, 0);
    }
}

/* Sends m to every client; a client may close (and unlink) while we do. */
static void display_broadcast(struct worker *w, struct shared_msg *m)
{
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        display_send_to(dc, m);
    }
}

static struct shared_msg *msg_from_buf(uint16_t type, struct byte_buf *b)
{
    struct shared_msg *m = shared_msg_from_buf(type, b);
    if (!m) {
        log_ratelimited(LOG_LEVEL_ERROR, "display: out of memory building message %u", type);
    }
    return m;
}

static struct wire_rect wire_rect_from(const struct qxl_rect *r)
{
    return (struct wire_rect){r->top, r->left, r->bottom, r->right};
}

static struct image_encoder_settings display_settings(const struct worker *w)
{
    const struct RedsState *s = w->server;
    int zlib_glz = __atomic_load_n(&s->zlib_glz_compression, __ATOMIC_RELAXED);
    return (struct image_encoder_settings){
            .compression = (int)__atomic_load_n(&s->image_compression, __ATOMIC_RELAXED),
            .jpeg = __atomic_load_n(&s->jpeg_compression, __ATOMIC_RELAXED),
            /* Lossless and cheap next to GLZ itself, and only kept when it
             * is smaller: "auto" deflates GLZ images of 100 bytes and more. */
            .zlib_glz = zlib_glz == IMAGE_ENCODER_WAN_AUTO ? IMAGE_ENCODER_WAN_ALWAYS : zlib_glz,
    };
}

/* A key for "same encoding for this client as for that one". */
static unsigned display_profile(const struct display_client *dc)
{
    return (unsigned)dc->encoder.lz4_cap | ((unsigned)(dc->encoder.glz_window_pixels > 0) << 1) |
           ((unsigned)dc->encoder.preferred << 2) |
           ((unsigned)channel_client_has_cap(&dc->base, SPICE_DISPLAY_CAP_COMPOSITE) << 10);
}

/* ---- images ---- */

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

/*
 * The codec format a palette bitmap format is sent in, or CODEC_FMT_INVALID
 * to expand it to 32 bits. 1BIT_LE and 4BIT_LE are always expanded: the
 * canvas of spice-common (spice-gtk's) aborts on such bitmaps.
 */
static enum codec_format palette_codec_format(uint8_t format)
{
    switch (format) {
    case SPICE_BITMAP_FMT_1BIT_BE:
        return CODEC_FMT_PLT1_BE;
    case SPICE_BITMAP_FMT_4BIT_BE:
        return CODEC_FMT_PLT4_BE;
    case SPICE_BITMAP_FMT_8BIT:
        return CODEC_FMT_PLT8;
    default:
        return CODEC_FMT_INVALID;
    }
}

/* `keep_palette`: palette bitmaps stay in their format (the client's
 * compression mode takes them, image_encoder_keeps_palette). */
static bool image_source_from_qxl(const struct qxl_image *src, struct image_source *out,
                                  bool keep_palette)
{
    memset(out, 0, sizeof(*out));
    if (src->type == SPICE_IMAGE_TYPE_SURFACE) {
        out->is_surface_ref = true;
        out->surface_id = src->surface_id;
        out->img.width = src->width;
        out->img.height = src->height;
        return true;
    }
    if (!src->data) {
        return false;
    }
    enum codec_format f = CODEC_FMT_INVALID;
    switch (src->format) {
    case SPICE_BITMAP_FMT_32BIT:
        f = CODEC_FMT_RGB32;
        break;
    case SPICE_BITMAP_FMT_RGBA:
        f = CODEC_FMT_RGBA;
        break;
    case SPICE_BITMAP_FMT_24BIT:
        f = CODEC_FMT_RGB24;
        break;
    case SPICE_BITMAP_FMT_16BIT:
        f = CODEC_FMT_RGB16;
        break;
    case SPICE_BITMAP_FMT_8BIT_A:
        f = CODEC_FMT_A8;
        break;
    default:
        break;
    }
    /* A palette goes as it is unless it has more colours than the wire's
     * u16 count (the parser allows no such palette; this is defensive). */
    if (keep_palette && src->palette && src->num_palette > 0 && src->num_palette <= UINT16_MAX) {
        f = palette_codec_format(src->format);
        if (f != CODEC_FMT_INVALID) {
            out->has_palette = true;
            out->palette = (struct image_encoder_palette){src->palette_unique, src->palette,
                                                          (uint16_t)src->num_palette};
        }
    }
    out->img.width = src->width;
    out->img.height = src->height;
    if (f != CODEC_FMT_INVALID && src->stride <= INT32_MAX) {
        out->img.format = f;
        if (src->bitmap_flags & QXL_BITMAP_TOP_DOWN) {
            out->img.pixels = src->data;
            out->img.stride = (int32_t)src->stride;
        } else {
            out->img.pixels = src->data + (size_t)src->stride * (src->height - 1);
            out->img.stride = -(int32_t)src->stride;
        }
        return true;
    }
    out->has_palette = false;
    size_t row_bytes = (size_t)src->width * 4;
    uint8_t *pixels = malloc(row_bytes * src->height);
    if (!pixels) {
        return false;
    }
    for (uint32_t y = 0; y < src->height; y++) {
        for (uint32_t x = 0; x < src->width; x++) {
            put_u32le(pixels + row_bytes * y + 4 * x, canvas_image_pixel(src, x, y));
        }
    }
    out->img.format = CODEC_FMT_RGB32;
    out->img.pixels = pixels;
    out->img.stride = (int32_t)row_bytes;
    out->owned = pixels;
    return true;
}

/* The pixels of `area` (inside the surface) of a surface. */
static bool image_source_from_surface(const struct worker_surface *p, const struct qxl_rect *area,
                                      struct image_source *out)
{
    memset(out, 0, sizeof(*out));
    uint32_t width = (uint32_t)(area->right - area->left);
    uint32_t height = (uint32_t)(area->bottom - area->top);
    unsigned bpp = canvas_format_bpp(p->format);
    const uint8_t *origin =
            p->canvas.line0 + (intptr_t)area->top * p->canvas.stride + (size_t)area->left * bpp;
    out->img.width = width;
    out->img.height = height;
    switch (p->format) {
    case SPICE_SURFACE_FMT_32_xRGB:
    case SPICE_SURFACE_FMT_32_ARGB:
    case SPICE_SURFACE_FMT_16_555:
    case SPICE_SURFACE_FMT_8_A:
        out->img.format = p->format == SPICE_SURFACE_FMT_32_xRGB   ? CODEC_FMT_RGB32
                          : p->format == SPICE_SURFACE_FMT_32_ARGB ? CODEC_FMT_RGBA
                          : p->format == SPICE_SURFACE_FMT_16_555  ? CODEC_FMT_RGB16
                                                                   : CODEC_FMT_A8;
        out->img.pixels = origin;
        out->img.stride = p->canvas.stride;
        return true;
    default:
        break;
    }
    /* 16-bit 565: no SPICE bitmap format; expand to 32 bits. */
    size_t row_bytes = (size_t)width * 4;
    uint8_t *pixels = malloc(row_bytes * height);
    if (!pixels) {
        return false;
    }
    for (uint32_t y = 0; y < height; y++) {
        const uint8_t *src = origin + (intptr_t)y * p->canvas.stride;
        for (uint32_t x = 0; x < width; x++) {
            uint32_t v = (uint32_t)src[2 * x] | ((uint32_t)src[2 * x + 1] << 8);
            uint32_t r = (v >> 11) & 0x1f, g = (v >> 5) & 0x3f, b = v & 0x1f;
            put_u32le(pixels + row_bytes * y + 4 * x,
                      ((r << 3 | r >> 2) << 16) | ((g << 2 | g >> 4) << 8) | (b << 3 | b >> 2));
        }
    }
    out->img.format = CODEC_FMT_RGB32;
    out->img.pixels = pixels;
    out->img.stride = (int32_t)row_bytes;
    out->owned = pixels;
    return true;
}

/* One encoded image of a message, with the storage it needs. */
struct encoded_image {
    struct wire_image wire;
    struct byte_buf scratch;
    uint8_t surface_id[4];
    bool per_client;
    bool cache_me; /* the client's cache gains it with this message */
};

static void encoded_image_finish(struct encoded_image *e)
{
    buf_finish(&e->scratch);
}

/* ---- pixmap cache ---- */

static void display_on_evict(void *opaque, uint64_t wire_id)
{
    struct display_client *dc = opaque;
    if (dc->num_evicted == dc->cap_evicted) {
        uint32_t cap = dc->cap_evicted ? dc->cap_evicted * 2 : 64;
        uint64_t *n = realloc(dc->evicted, cap * sizeof(*n));
        if (!n) {
            dc->evicted_lost = true;
            return;
        }
        dc->evicted = n;
        dc->cap_evicted = cap;
    }
    dc->evicted[dc->num_evicted++] = wire_id;
}

/* Sends INVAL_LIST for what the mirror evicted (before anything naming
 * the entries that replace them). */
static void display_flush_evicted(struct display_client *dc)
{
    if (dc->evicted_lost) {
        /* The client would keep an image the mirror forgot: harmless for
         * correctness but unbounded, and we are out of memory anyway. */
        log_ratelimited(LOG_LEVEL_ERROR, "display: client %u: out of memory tracking its cache",
                        dc->base.connection_id);
        channel_client_close(&dc->base);
    }
    for (uint32_t at = 0; at < dc->num_evicted && !dc->base.closing;) {
        uint32_t n = dc->num_evicted - at;
        n = n > DISPLAY_INVAL_LIST_MAX ? DISPLAY_INVAL_LIST_MAX : n;
        struct byte_buf b;
        buf_init(&b);
        server_msg_display_inval_list(&b, dc->evicted + at, (uint16_t)n);
        if (!buf_ok(&b) ||
            channel_client_send(&dc->base, SPICE_MSG_DISPLAY_INVAL_LIST, b.data, b.len) < 0) {
            channel_client_close(&dc->base);
        }
        buf_finish(&b);
        at += n;
    }
    dc->num_evicted = 0;
    dc->evicted_lost = false;
}

/* ---- palette cache ---- */

/* Tells the client to drop palette `id` (its mirror just evicted it). */
static void display_send_inval_palette(struct display_client *dc, uint64_t id)
{
    if (dc->base.closing) {
        return;
    }
    log_debug("display: client %u: palette %llx evicted", dc->base.connection_id,
              (unsigned long long)id);
    struct byte_buf b;
    buf_init(&b);
    server_msg_display_inval_palette(&b, id);
    if (!buf_ok(&b) ||
        channel_client_send(&dc->base, SPICE_MSG_DISPLAY_INVAL_PALETTE, b.data, b.len) < 0) {
        channel_client_close(&dc->base);
    }
    buf_finish(&b);
}

/* Sets how the palette of `e` (a palette image) goes: inline and cached,
 * from the cache, or inline only. */
static void display_use_palette(struct display_client *dc, struct encoded_image *e)
{
    uint64_t evicted = 0;
    bool has_evicted = false;
    uint8_t flags = palette_cache_use(&dc->palettes, e->wire.palette.unique,
                                      e->wire.palette.num_ents, &evicted, &has_evicted);
    if (has_evicted) {
        display_send_inval_palette(dc, evicted);
    }
    e->wire.palette.flags = flags;
    if (flags != 0) {
        /* The bytes depend on this client's palette cache. */
        e->per_client = true;
    }
}

/* True if this image should go through the client's pixmap cache. */
static bool display_cache_wanted(const struct display_client *dc, const struct qxl_image *q,
                                 const struct image_source *src)
{
    if (!q || src->is_surface_ref || dc->pixmaps.capacity == 0) {
        return false;
    }
    uint64_t pixels = (uint64_t)src->img.width * src->img.height;
    if (pixels < DISPLAY_CACHE_MIN_PIXELS) {
        return false;
    }
    return (q->desc_flags & QXL_IMAGE_CACHE) || pixels >= DISPLAY_CACHE_UNMARKED_MIN_PIXELS;
}

static bool image_type_is_lossy(int type)
{
    return type == SPICE_IMAGE_TYPE_JPEG || type == SPICE_IMAGE_TYPE_JPEG_ALPHA;
}

static uint64_t encoded_size(const struct wire_image *w)
{
    return w->type == SPICE_IMAGE_TYPE_BITMAP ? (uint64_t)w->u.bitmap.stride * w->height
                                              : w->u.encoded.size;
}

/*
 * Encodes one image for one client. `q` is the guest's image when there
 * is one (its cache hint); NULL for areas of surfaces, which are not cached.
 */
static void display_encode(struct display_client *dc, const struct image_encoder_settings *s,
                           const struct image_source *src, const struct qxl_image *q,
                           struct encoded_image *e)
{
    struct worker *w = dc->worker;
    memset(e, 0, sizeof(*e));
    buf_init(&e->scratch);
    uint64_t key = 0;
    if (display_cache_wanted(dc, q, src)) {
        /* A palette image is its indices and its colours. */
        uint64_t seed = src->has_palette
                                ? pixmap_cache_hash_bytes(src->palette.ents,
                                                          (size_t)src->palette.num_ents * 4, 1)
                                : 0;
        key = pixmap_cache_hash_image(&src->img, seed);
        const struct pixmap_cache_entry *hit = pixmap_cache_lookup(&dc->pixmaps, key);
        if (hit) {
            e->wire.id = hit->wire_id;
            e->wire.type = SPICE_IMAGE_TYPE_FROM_CACHE;
            e->wire.width = src->img.width;
            e->wire.height = src->img.height;
            e->per_client = true;
            return;
        }
    }
    uint64_t id = ((uint64_t)w->id << 56) | ++w->image_serial;
    if (src->is_surface_ref) {
        e->wire.id = id;
        e->wire.type = SPICE_IMAGE_TYPE_SURFACE;
        e->wire.width = src->img.width;
        e->wire.height = src->img.height;
        put_u32le(e->surface_id, src->surface_id);
        e->wire.u.encoded.data = e->surface_id;
        e->wire.u.encoded.size = 4;
        return;
    }
    int type;
    if (src->has_palette) {
        type = image_encoder_encode_palette(&dc->encoder, s, &src->img, &src->palette, id, &e->wire,
                                            &e->scratch);
        display_use_palette(dc, e);
    } else {
        type = image_encoder_encode(&dc->encoder, s, &src->img, id, &e->wire, &e->scratch);
        e->per_client = image_encoder_type_is_per_client(type);
    }
    log_debug("display: client %u: %ux%u image (format %d) sent as type %d, %llu bytes, "
              "palette flags %u",
              dc->base.connection_id, src->img.width, src->img.height, (int)src->img.format, type,
              (unsigned long long)encoded_size(&e->wire), e->wire.palette.flags);
    if (key != 0) {
        /* The bytes depend on this client's cache either way. */
        e->per_client = true;
        uint64_t pixels = (uint64_t)src->img.width * src->img.height;
        if (!image_type_is_lossy(type) &&
            pixmap_cache_add(&dc->pixmaps, key, id, pixels, encoded_size(&e->wire)) == 0) {
            e->wire.flags |= SPICE_IMAGE_FLAGS_CACHE_ME;
            e->cache_me = true;
            display_flush_evicted(dc);
        }
    }
}

/* ---- surfaces ---- */

static struct shared_msg *display_surface_create_msg(struct worker *w, uint32_t id)
{
    struct worker_surface *p = &w->surfaces[id];
    struct byte_buf b;
    buf_init(&b);
    server_msg_display_surface_create(&b, id, p->width, p->height, p->format,
                                      id == 0 ? SPICE_SURFACE_FLAGS_PRIMARY : 0);
    struct shared_msg *m = msg_from_buf(SPICE_MSG_DISPLAY_SURFACE_CREATE, &b);
    buf_finish(&b);
    return m;
}

/* An area of a surface (the whole surface by default) as one DRAW_COPY,
 * encoded for one client. */
static struct shared_msg *display_area_image_msg(struct display_client *dc, uint32_t id,
                                                 const struct qxl_rect *area,
                                                 const struct image_encoder_settings *s)
{
    /* The canvas must hold every draw queued so far. */
    worker_render_pending(dc->worker);
    struct worker_surface *p = &dc->worker->surfaces[id];
    struct image_source src;
    if (!image_source_from_surface(p, area, &src)) {
        return NULL;
    }
    struct encoded_image e;
    display_encode(dc, s, &src, NULL, &e);
    struct wire_draw_base base = {
            .surface_id = id,
            .box = {area->top, area->left, area->bottom, area->right},
            .clip = {.type = SPICE_CLIP_TYPE_NONE},
    };
    struct wire_rect src_area = {0, 0, (int32_t)src.img.height, (int32_t)src.img.width};
    struct byte_buf b;
    buf_init(&b);
    buf_reserve(&b, 128 + (e.wire.type == SPICE_IMAGE_TYPE_BITMAP
                                   ? (size_t)e.wire.u.bitmap.stride * src.img.height
                                   : e.wire.u.encoded.size));
    server_msg_display_draw_copy(&b, &base, &e.wire, &src_area, SPICE_ROPD_OP_PUT,
                                 SPICE_IMAGE_SCALE_MODE_NEAREST);
    encoded_image_finish(&e);
    free(src.owned);
    struct shared_msg *m = msg_from_buf(SPICE_MSG_DISPLAY_DRAW_COPY, &b);
    buf_finish(&b);
    return m;
}

static struct shared_msg *display_full_image_msg(struct display_client *dc, uint32_t id,
                                                 const struct image_encoder_settings *s)
{
    struct worker_surface *p = &dc->worker->surfaces[id];
    struct qxl_rect all = {0, 0, (int32_t)p->height, (int32_t)p->width};
    return display_area_image_msg(dc, id, &all, s);
}

static struct shared_msg *display_monitors_config_msg(struct worker *w)
{
    struct wire_head heads[WORKER_MAX_HEADS];
    for (uint16_t i = 0; i < w->num_heads; i++) {
        heads[i] = (struct wire_head){w->heads[i].id,     w->heads[i].surface_id, w->heads[i].width,
                                      w->heads[i].height, w->heads[i].x,          w->heads[i].y,
                                      w->heads[i].flags};
    }
    struct byte_buf b;
    buf_init(&b);
    uint16_t max_allowed = w->max_monitors > w->num_heads ? w->max_monitors : w->num_heads;
    server_msg_display_monitors_config(&b, heads, w->num_heads, max_allowed);
    struct shared_msg *m = msg_from_buf(SPICE_MSG_DISPLAY_MONITORS_CONFIG, &b);
    buf_finish(&b);
    return m;
}

static void display_send_monitors_and_mark(struct display_client *dc, struct shared_msg *monitors)
{
    if (channel_client_has_cap(&dc->base, SPICE_DISPLAY_CAP_MONITORS_CONFIG)) {
        display_send_to(dc, monitors);
    }
    display_send_simple(dc, SPICE_MSG_DISPLAY_MARK);
}

/* Sends one surface to one client: create, then its content if asked. */
static void display_send_surface(struct display_client *dc, uint32_t id, bool with_image,
                                 struct shared_msg *create, const struct image_encoder_settings *s)
{
    display_send_to(dc, create);
    if (with_image && !dc->base.closing) {
        struct shared_msg *image = display_full_image_msg(dc, id, s);
        display_send_to(dc, image);
        shared_msg_unref(image);
    }
}

void display_broadcast_surface_create(struct worker *w, uint32_t id, bool with_image)
{
    if (!w->displays || id >= w->n_surfaces || !w->surfaces[id].created) {
        return;
    }
    struct image_encoder_settings s = display_settings(w);
    struct shared_msg *create = display_surface_create_msg(w, id);
    struct shared_msg *monitors = id == 0 ? display_monitors_config_msg(w) : NULL;
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        dc->base.busy++; /* a failed send closes it: keep it until the kick */
        display_send_surface(dc, id, with_image, create, &s);
        if (id == 0 && !dc->base.closing) {
            display_send_monitors_and_mark(dc, monitors);
        }
        channel_client_kick(&dc->base); /* may free dc */
    }
    shared_msg_unref(create);
    shared_msg_unref(monitors);
}

/* Brings a new client up to date: every offscreen surface, then the primary. */
static void display_send_all_surfaces(struct display_client *dc)
{
    struct worker *w = dc->worker;
    struct image_encoder_settings s = display_settings(w);
    for (uint32_t n = 1; n <= w->n_surfaces && !dc->base.closing; n++) {
        uint32_t id = n % w->n_surfaces; /* 1, 2, ..., n-1, then 0 */
        if (!w->surfaces[id].created) {
            continue;
        }
        struct shared_msg *create = display_surface_create_msg(w, id);
        display_send_surface(dc, id, true, create, &s);
        shared_msg_unref(create);
        if (id == 0 && !dc->base.closing) {
            struct shared_msg *monitors = display_monitors_config_msg(w);
            display_send_monitors_and_mark(dc, monitors);
            shared_msg_unref(monitors);
        }
    }
}

void display_broadcast_surface_destroy(struct worker *w, uint32_t surface_id)
{
    if (!w->displays) {
        return;
    }
    for (struct display_client *dc = w->displays; dc; dc = dc->next) {
        display_dirty_drop(dc, surface_id);
    }
    uint8_t body[4];
    put_u32le(body, surface_id);
    struct shared_msg *m = shared_msg_create(SPICE_MSG_DISPLAY_SURFACE_DESTROY, body, 4);
    if (m) {
        display_broadcast(w, m);
        shared_msg_unref(m);
    }
}

void display_broadcast_monitors_config(struct worker *w)
{
    if (!w->displays) {
        return;
    }
    struct shared_msg *m = display_monitors_config_msg(w);
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        if (channel_client_has_cap(&dc->base, SPICE_DISPLAY_CAP_MONITORS_CONFIG)) {
            display_send_to(dc, m);
        }
    }
    shared_msg_unref(m);
}

void display_broadcast_mark(struct worker *w)
{
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        display_send_simple(dc, SPICE_MSG_DISPLAY_MARK);
    }
}

/* ---- clients that fall behind ---- */

static void display_dirty_drop(struct display_client *dc, uint32_t surface_id)
{
    for (uint32_t i = 0; i < dc->num_dirty; i++) {
        if (dc->dirty[i].surface_id == surface_id) {
            pixman_region32_fini(&dc->dirty[i].region);
            dc->dirty[i] = dc->dirty[--dc->num_dirty];
            return;
        }
    }
}

static void display_dirty_clear(struct display_client *dc)
{
    for (uint32_t i = 0; i < dc->num_dirty; i++) {
        pixman_region32_fini(&dc->dirty[i].region);
    }
    dc->num_dirty = 0;
}

/* Adds the part of `r` inside the surface to the client's areas to refresh. */
static void display_dirty_add(struct display_client *dc, uint32_t surface_id,
                              const struct qxl_rect *r)
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
static void display_refresh_dirty(struct display_client *dc)
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

static void display_on_send_ready(struct channel_client *cc)
{
    struct display_client *dc = (struct display_client *)cc;
    if (dc->degraded) {
        log_debug("display: client %u caught up; refreshing %u surfaces", cc->connection_id,
                  dc->num_dirty);
        display_refresh_dirty(dc);
    }
}

/*
 * The client gets no more draw commands until its queue drains; then all
 * of surface_id (as rendered here, with every draw since) is sent as
 * images. For what cannot go as a command.
 */
static void display_fall_back(struct display_client *dc, uint32_t surface_id)
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
static bool display_behind(struct display_client *dc)
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

/* ---- drawables ---- */

/* The wire form of a brush; `pattern` is its encoded tile (PATTERN only). */
static struct wire_brush wire_brush_from(const struct qxl_brush *q,
                                         const struct wire_image *pattern)
{
    return (struct wire_brush){
            .type = (uint8_t)q->type,
            .color = q->color,
            .pattern = q->type == SPICE_BRUSH_TYPE_PATTERN ? pattern : NULL,
            .pattern_pos = {q->pattern_pos.x, q->pattern_pos.y},
    };
}

/*
 * The wire form of a drawable's mask: a 1-bit bitmap sent as it is, as
 * the reference does. Returns false for a mask that cannot go that way.
 */
static bool wire_qmask_from(const struct qxl_qmask *q, struct wire_qmask *out,
                            struct wire_image *img)
{
    memset(out, 0, sizeof(*out));
    if (!q->bitmap) {
        return true;
    }
    const struct qxl_image *m = q->bitmap;
    if (m->type != SPICE_IMAGE_TYPE_BITMAP || !m->data ||
        (m->format != SPICE_BITMAP_FMT_1BIT_LE && m->format != SPICE_BITMAP_FMT_1BIT_BE)) {
        return false;
    }
    memset(img, 0, sizeof(*img));
    img->type = SPICE_IMAGE_TYPE_BITMAP;
    img->width = m->width;
    img->height = m->height;
    img->u.bitmap.format = m->format;
    img->u.bitmap.flags = (m->bitmap_flags & QXL_BITMAP_TOP_DOWN) ? SPICE_BITMAP_FLAGS_TOP_DOWN : 0;
    img->u.bitmap.stride = m->stride;
    img->u.bitmap.data = m->data;
    out->flags = q->flags;
    out->pos = (struct wire_point){q->pos.x, q->pos.y};
    out->bitmap = img;
    return true;
}

/* The images a draw carries (source, brush patterns), in wire order;
 * *has_src tells whether the first is the source. */
static int drawable_images(const struct qxl_drawable *d, const struct qxl_image *out[3],
                           bool *has_src)
{
    const struct qxl_brush *brush = NULL, *brush2 = NULL;
    const struct qxl_image *src = NULL;
    switch (d->type) {
    case QXL_DRAW_FILL:
        brush = &d->u.fill.brush;
        break;
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND:
        src = d->u.copy.src;
        break;
    case QXL_DRAW_OPAQUE:
        src = d->u.opaque.src;
        brush = &d->u.opaque.brush;
        break;
    case QXL_DRAW_ROP3:
        src = d->u.rop3.src;
        brush = &d->u.rop3.brush;
        break;
    case QXL_DRAW_TRANSPARENT:
        src = d->u.transparent.src;
        break;
    case QXL_DRAW_ALPHA_BLEND:
        src = d->u.alpha_blend.src;
        break;
    case QXL_DRAW_STROKE:
        brush = &d->u.stroke.brush;
        break;
    case QXL_DRAW_TEXT:
        brush = &d->u.text.fore_brush;
        brush2 = &d->u.text.back_brush;
        break;
    default:
        break;
    }
    int n = 0;
    out[0] = out[1] = out[2] = NULL;
    *has_src = src != NULL;
    if (src) {
        out[n++] = src;
    }
    if (brush && brush->type == SPICE_BRUSH_TYPE_PATTERN && brush->pattern) {
        out[n++] = brush->pattern;
    }
    if (brush2 && brush2->type == SPICE_BRUSH_TYPE_PATTERN && brush2->pattern) {
        out[n++] = brush2->pattern;
    }
    return n;
}

/* Writes DRAW_STROKE. Returns false on allocation failure. */
static bool display_write_stroke(struct byte_buf *b, const struct wire_draw_base *base,
                                 const struct qxl_drawable *d, const struct wire_image *pattern)
{
    const struct qxl_path *path = &d->u.stroke.path;
    struct wire_path_seg *segs = calloc(path->num_segments ? path->num_segments : 1, sizeof(*segs));
    struct wire_point *points = calloc(path->num_points ? path->num_points : 1, sizeof(*points));
    bool ok = segs && points;
    if (ok) {
        for (uint32_t i = 0; i < path->num_points; i++) {
            points[i] = (struct wire_point){path->points[i].x, path->points[i].y};
        }
        for (uint32_t i = 0; i < path->num_segments; i++) {
            const struct qxl_path_seg *q = &path->segments[i];
            segs[i].flags = q->flags;
            segs[i].count = q->count;
            segs[i].points = points + (q->points - path->points);
        }
        struct wire_stroke st = {
                .path = {path->num_segments, segs},
                .attr = {d->u.stroke.attr.flags, d->u.stroke.attr.style_nseg,
                         d->u.stroke.attr.style},
                .brush = wire_brush_from(&d->u.stroke.brush, pattern),
                .fore_mode = d->u.stroke.fore_mode,
                .back_mode = d->u.stroke.back_mode,
        };
        server_msg_display_draw_stroke(b, base, &st);
    }
    free(segs);
    free(points);
    return ok;
}

/* Writes DRAW_TEXT with the encoded fore and back patterns (NULL for a
 * brush without one). Returns false on allocation failure. */
static bool display_write_text(struct byte_buf *b, const struct wire_draw_base *base,
                               const struct qxl_drawable *d, const struct wire_image *fore,
                               const struct wire_image *back)
{
    const struct qxl_glyph_string *str = &d->u.text.str;
    struct wire_glyph *glyphs = calloc(str->length ? str->length : 1, sizeof(*glyphs));
    if (!glyphs) {
        return false;
    }
    for (uint16_t i = 0; i < str->length; i++) {
        const struct qxl_glyph *g = &str->glyphs[i];
        glyphs[i] = (struct wire_glyph){
                .render_pos = {g->render_pos.x, g->render_pos.y},
                .glyph_origin = {g->glyph_origin.x, g->glyph_origin.y},
                .width = g->width,
                .height = g->height,
                .data = g->data,
        };
    }
    struct wire_text t = {
            .str = {str->length, (uint8_t)str->flags, glyphs},
            .back_area = wire_rect_from(&d->u.text.back_area),
            .fore_brush = wire_brush_from(&d->u.text.fore_brush, fore),
            .back_brush = wire_brush_from(&d->u.text.back_brush, back),
            .fore_mode = d->u.text.fore_mode,
            .back_mode = d->u.text.back_mode,
    };
    server_msg_display_draw_text(b, base, &t);
    free(glyphs);
    return true;
}

/*
 * Builds the message body of a drawable for one client; returns its type,
 * or 0 to skip. *per_client tells whether the bytes depend on this client,
 * *cache_me whether the client's pixmap cache gains an image with it (then
 * it must reach the client). Every image source is prepared before the
 * first one is encoded, so that a body given up halfway never leaves the
 * cache mirror counting an image the client will not get.
 */
static uint16_t display_drawable_body(struct display_client *dc, const struct qxl_drawable *d,
                                      const struct wire_draw_base *base,
                                      const struct image_encoder_settings *s, struct byte_buf *b,
                                      bool *per_client, bool *cache_me)
{
    struct image_source srcs[3];
    struct encoded_image enc[3];
    const struct qxl_image *imgs[3];
    int prepared = 0, encoded = 0;
    uint16_t type = 0;
    *per_client = false;
    *cache_me = false;
    memset(srcs, 0, sizeof(srcs));
    pixmap_cache_begin(&dc->pixmaps);
    bool keep_palette = image_encoder_keeps_palette(&dc->encoder, s);

    struct wire_qmask mask;
    struct wire_image mask_img;
    if (!wire_qmask_from(&d->mask, &mask, &mask_img)) {
        log_once("draws with masks other than 1-bit bitmaps are sent as refreshed areas");
        return 0;
    }
    bool has_src;
    int n = drawable_images(d, imgs, &has_src);
    if ((d->type == QXL_DRAW_COPY || d->type == QXL_DRAW_BLEND) && n == 0) {
        return 0; /* a source we could not parse */
    }
    for (; prepared < n; prepared++) {
        if (!image_source_from_qxl(imgs[prepared], &srcs[prepared], keep_palette)) {
            goto out;
        }
    }
    for (; encoded < n; encoded++) {
        display_encode(dc, s, &srcs[encoded], imgs[encoded], &enc[encoded]);
    }
    /* Images in wire order: the source if any, then the patterns. */
    const struct wire_image *src = has_src ? &enc[0].wire : NULL;
    int first_pattern = has_src ? 1 : 0;
    const struct wire_image *pattern = n > first_pattern ? &enc[first_pattern].wire : NULL;
    bool has_mask = mask.bitmap != NULL;
    switch (d->type) {
    case QXL_DRAW_FILL:
        if (d->u.fill.brush.type == SPICE_BRUSH_TYPE_SOLID && !has_mask) {
            server_msg_display_draw_fill(b, base, d->u.fill.brush.color, d->u.fill.rop_descriptor);
        } else {
            struct wire_fill f = {wire_brush_from(&d->u.fill.brush, pattern),
                                  d->u.fill.rop_descriptor, mask};
            server_msg_display_draw_fill_masked(b, base, &f);
        }
        type = SPICE_MSG_DISPLAY_DRAW_FILL;
        break;
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND: {
        struct wire_rect src_area = wire_rect_from(&d->u.copy.src_area);
        if (d->type == QXL_DRAW_COPY && !has_mask) {
            server_msg_display_draw_copy(b, base, src, &src_area, d->u.copy.rop_descriptor,
                                         d->u.copy.scale_mode);
        } else {
            struct wire_copy c = {src, src_area, d->u.copy.rop_descriptor, d->u.copy.scale_mode,
                                  mask};
            if (d->type == QXL_DRAW_COPY) {
                server_msg_display_draw_copy_masked(b, base, &c);
            } else {
                server_msg_display_draw_blend(b, base, &c);
            }
        }
        type = d->type == QXL_DRAW_COPY ? SPICE_MSG_DISPLAY_DRAW_COPY
                                        : SPICE_MSG_DISPLAY_DRAW_BLEND;
        break;
    }
    case QXL_DRAW_OPAQUE: {
        struct wire_opaque o = {src,
                                wire_rect_from(&d->u.opaque.src_area),
                                wire_brush_from(&d->u.opaque.brush, pattern),
                                d->u.opaque.rop_descriptor,
                                d->u.opaque.scale_mode,
                                mask};
        server_msg_display_draw_opaque(b, base, &o);
        type = SPICE_MSG_DISPLAY_DRAW_OPAQUE;
        break;
    }
    case QXL_DRAW_ROP3: {
        struct wire_rop3 r = {src,
                              wire_rect_from(&d->u.rop3.src_area),
                              wire_brush_from(&d->u.rop3.brush, pattern),
                              d->u.rop3.rop3,
                              d->u.rop3.scale_mode,
                              mask};
        server_msg_display_draw_rop3(b, base, &r);
        type = SPICE_MSG_DISPLAY_DRAW_ROP3;
        break;
    }
    case QXL_DRAW_TRANSPARENT: {
        struct wire_transparent t = {src, wire_rect_from(&d->u.transparent.src_area),
                                     d->u.transparent.src_color, d->u.transparent.true_color};
        server_msg_display_draw_transparent(b, base, &t);
        type = SPICE_MSG_DISPLAY_DRAW_TRANSPARENT;
        break;
    }
    case QXL_DRAW_ALPHA_BLEND: {
        struct wire_alpha_blend a = {(uint8_t)d->u.alpha_blend.alpha_flags, d->u.alpha_blend.alpha,
                                     src, wire_rect_from(&d->u.alpha_blend.src_area)};
        server_msg_display_draw_alpha_blend(b, base, &a);
        type = SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND;
        break;
    }
    case QXL_DRAW_STROKE:
        if (display_write_stroke(b, base, d, pattern)) {
            type = SPICE_MSG_DISPLAY_DRAW_STROKE;
        }
        break;
    case QXL_DRAW_TEXT: {
        bool fore = d->u.text.fore_brush.type == SPICE_BRUSH_TYPE_PATTERN &&
                    d->u.text.fore_brush.pattern;
        bool back = d->u.text.back_brush.type == SPICE_BRUSH_TYPE_PATTERN &&
                    d->u.text.back_brush.pattern;
        const struct wire_image *fore_img = fore ? &enc[0].wire : NULL;
        const struct wire_image *back_img = back ? &enc[fore ? 1 : 0].wire : NULL;
        if (display_write_text(b, base, d, fore_img, back_img)) {
            type = SPICE_MSG_DISPLAY_DRAW_TEXT;
        }
        break;
    }
    case QXL_COPY_BITS: {
        struct wire_point pos = {d->u.copy_bits.src_pos.x, d->u.copy_bits.src_pos.y};
        server_msg_display_copy_bits(b, base, pos);
        type = SPICE_MSG_DISPLAY_COPY_BITS;
        break;
    }
    case QXL_DRAW_BLACKNESS:
    case QXL_DRAW_WHITENESS:
    case QXL_DRAW_INVERS: {
        const struct wire_qmask *m = has_mask ? &mask : NULL;
        if (d->type == QXL_DRAW_BLACKNESS) {
            server_msg_display_draw_blackness(b, base, m);
            type = SPICE_MSG_DISPLAY_DRAW_BLACKNESS;
        } else if (d->type == QXL_DRAW_WHITENESS) {
            server_msg_display_draw_whiteness(b, base, m);
            type = SPICE_MSG_DISPLAY_DRAW_WHITENESS;
        } else {
            server_msg_display_draw_invers(b, base, m);
            type = SPICE_MSG_DISPLAY_DRAW_INVERS;
        }
        break;
    }
    case QXL_DRAW_COMPOSITE: {
        if (!d->u.composite.src) {
            break;
        }
        struct image_source csrc[2];
        struct encoded_image cenc[2];
        memset(csrc, 0, sizeof(csrc));
        if (!image_source_from_qxl(d->u.composite.src, &csrc[0], keep_palette) ||
            (d->u.composite.mask &&
             !image_source_from_qxl(d->u.composite.mask, &csrc[1], keep_palette))) {
            free(csrc[0].owned);
            free(csrc[1].owned);
            break;
        }
        display_encode(dc, s, &csrc[0], d->u.composite.src, &cenc[0]);
        struct wire_composite c = {
                .flags = d->u.composite.flags,
                .src = &cenc[0].wire,
                .src_transform =
                        d->u.composite.has_src_transform ? d->u.composite.src_transform : NULL,
                .mask_transform =
                        d->u.composite.has_mask_transform ? d->u.composite.mask_transform : NULL,
                .src_origin = {d->u.composite.src_origin_x, d->u.composite.src_origin_y},
                .mask_origin = {d->u.composite.mask_origin_x, d->u.composite.mask_origin_y},
        };
        if (d->u.composite.mask) {
            display_encode(dc, s, &csrc[1], d->u.composite.mask, &cenc[1]);
            c.mask = &cenc[1].wire;
        }
        server_msg_display_draw_composite(b, base, &c);
        type = SPICE_MSG_DISPLAY_DRAW_COMPOSITE;
        for (int i = 0; i < (d->u.composite.mask ? 2 : 1); i++) {
            *per_client |= cenc[i].per_client;
            *cache_me |= cenc[i].cache_me;
            encoded_image_finish(&cenc[i]);
        }
        free(csrc[0].owned);
        free(csrc[1].owned);
        break;
    }
    default:
        break;
    }
out:
    for (int i = 0; i < encoded; i++) {
        *per_client |= enc[i].per_client;
        *cache_me |= enc[i].cache_me;
        encoded_image_finish(&enc[i]);
    }
    for (int i = 0; i < prepared; i++) {
        free(srcs[i].owned);
    }
    return type;
}

/* A partly hidden draw is clipped to at most this many visible rectangles;
 * beyond that it goes with its own clip (the client draws a little more). */
#define DISPLAY_MAX_VISIBLE_RECTS 64

/* Estimated encoded size of a queued draw, for the queue limits, until it
 * is built: small draws cost a few dozen bytes, images compress ~4:1. */
static size_t display_item_estimate(const struct draw_item *item)
{
    return 32 + 16 * (size_t)item->d.num_clip_rects + (size_t)(item->raw_bytes / 4);
}

/*
 * The wire clip of an item for a message built now: its own clip while it
 * is whole, else its visible region. *rects is allocated for the caller.
 * Returns false on allocation failure.
 */
static bool display_item_clip(const struct draw_item *item, struct wire_draw_base *base,
                              struct wire_rect **rects)
{
    const struct qxl_drawable *d = &item->d;
    *rects = NULL;
    base->clip.type = SPICE_CLIP_TYPE_NONE;
    base->clip.num_rects = 0;
    base->clip.rects = NULL;
    int n = 0;
    const pixman_box32_t *boxes = NULL;
    if (!draw_item_is_whole(item)) {
        boxes = pixman_region32_rectangles((pixman_region32_t *)&item->visible, &n);
        if (n > DISPLAY_MAX_VISIBLE_RECTS) {
            boxes = NULL;
        }
    }
    if (boxes) {
        *rects = malloc(sizeof(**rects) * (size_t)n);
        if (!*rects) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            (*rects)[i] = (struct wire_rect){boxes[i].y1, boxes[i].x1, boxes[i].y2, boxes[i].x2};
        }
        base->clip.num_rects = (uint32_t)n;
    } else if (d->clip_type == SPICE_CLIP_TYPE_RECTS && d->num_clip_rects > 0) {
        *rects = malloc(sizeof(**rects) * d->num_clip_rects);
        if (!*rects) {
            return false;
        }
        for (uint32_t i = 0; i < d->num_clip_rects; i++) {
            (*rects)[i] = wire_rect_from(&d->clip_rects[i]);
        }
        base->clip.num_rects = d->num_clip_rects;
    } else {
        return true;
    }
    base->clip.type = SPICE_CLIP_TYPE_RECTS;
    base->clip.rects = *rects;
    return true;
}

/* ---- composed images: partly hidden or merged draws ---- */

/* A composed image never spans more than this many visible rectangles. */
#define DISPLAY_MAX_COMPOSED_RECTS 256
/* A single copy is re-cut when at most this share (in 1/4) of its image shows... */
#define DISPLAY_RECUT_SHOWN_QUARTERS 3
/* ...and its image has at least this many pixels. */
#define DISPLAY_RECUT_MIN_PIXELS 1024
/* Merged draws: the composed image may hold this many blank pixels per
 * drawn one, plus a little. */
#define DISPLAY_MERGE_SPARSE_RATIO 1
/* A draw showing this many pixels or more goes on its own: merging saves
 * nothing there, and would make one codec serve unlike content (a photo
 * and the text around it). */
#define DISPLAY_MERGE_MAX_ITEM_PIXELS (256 * 256)
#define DISPLAY_MERGE_SPARSE_SLACK    4096

static uint64_t region_pixels(pixman_region32_t *r)
{
    int n = 0;
    const pixman_box32_t *boxes = pixman_region32_rectangles(r, &n);
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
        sum += (uint64_t)(boxes[i].x2 - boxes[i].x1) * (uint64_t)(boxes[i].y2 - boxes[i].y1);
    }
    return sum;
}

/*
 * Whether the item's visible pixels can be painted into an image of the
 * destination surface: a solid PUT fill, or a PUT copy of a 32-bit bitmap
 * at 1:1, with no mask, on a 32-bit xRGB surface. (An RGBA bitmap counts:
 * PUT onto xRGB keeps its colour channels only, as the clients draw it.)
 */
static bool display_item_composable(const struct worker *w, const struct draw_item *item)
{
    const struct qxl_drawable *d = &item->d;
    if (!item->alive || d->mask.bitmap || d->surface_id >= w->n_surfaces ||
        w->surfaces[d->surface_id].format != SPICE_SURFACE_FMT_32_xRGB) {
        return false;
    }
    if (d->type == QXL_DRAW_FILL) {
        return d->u.fill.brush.type == SPICE_BRUSH_TYPE_SOLID &&
               d->u.fill.rop_descriptor == SPICE_ROPD_OP_PUT;
    }
    if (d->type != QXL_DRAW_COPY || d->u.copy.rop_descriptor != SPICE_ROPD_OP_PUT) {
        return false;
    }
    const struct qxl_image *img = d->u.copy.src;
    const struct qxl_rect *sa = &d->u.copy.src_area;
    return img && img->type == SPICE_IMAGE_TYPE_BITMAP && img->data &&
           (img->format == SPICE_BITMAP_FMT_32BIT || img->format == SPICE_BITMAP_FMT_RGBA) &&
           sa->left >= 0 && sa->top >= 0 && sa->right <= (int32_t)img->width &&
           sa->bottom <= (int32_t)img->height &&
           sa->right - sa->left == d->bbox.right - d->bbox.left &&
           sa->bottom - sa->top == d->bbox.bottom - d->bbox.top;
}

/* Paints the item's visible pixels into `pixels` (top-down, 4 bytes per
 * pixel, `width` wide, its top-left at surface point ext). */
static void display_item_paint(const struct draw_item *item, const pixman_box32_t *ext,
                               uint8_t *pixels, size_t stride)
{
    const struct qxl_drawable *d = &item->d;
    const struct qxl_image *img = d->type == QXL_DRAW_COPY ? d->u.copy.src : NULL;
    int n = 0;
    const pixman_box32_t *boxes =
            pixman_region32_rectangles((pixman_region32_t *)&item->visible, &n);
    for (int i = 0; i < n; i++) {
        const pixman_box32_t *bx = &boxes[i];
        size_t row_bytes = (size_t)(bx->x2 - bx->x1) * 4;
        for (int32_t y = bx->y1; y < bx->y2; y++) {
            uint8_t *dst = pixels + (size_t)(y - ext->y1) * stride + (size_t)(bx->x1 - ext->x1) * 4;
            if (!img) {
                for (int32_t x = bx->x1; x < bx->x2; x++, dst += 4) {
                    put_u32le(dst, d->u.fill.brush.color);
                }
                continue;
            }
            uint32_t sx = (uint32_t)(d->u.copy.src_area.left + (bx->x1 - d->bbox.left));
            uint32_t sy = (uint32_t)(d->u.copy.src_area.top + (y - d->bbox.top));
            uint32_t row = img->bitmap_flags & QXL_BITMAP_TOP_DOWN ? sy : img->height - 1 - sy;
            memcpy(dst, img->data + (size_t)row * img->stride + (size_t)sx * 4, row_bytes);
        }
    }
}

/*
 * One DRAW_COPY for the visible pixels of items[0..n) (composable, same
 * surface, in queue order): their union's bounding box as one image, blank
 * where nothing shows, clipped to the union. Later items paint over
 * earlier ones, as the client would have drawn them. Returns the message
 * body type (0 on failure) and fills b.
 */
static uint16_t display_composed_body(struct display_client *dc, struct draw_item **items, size_t n,
                                      pixman_region32_t *region,
                                      const struct image_encoder_settings *s, struct byte_buf *b,
                                      bool *per_client, bool *cache_me)
{
    const pixman_box32_t ext = *pixman_region32_extents(region);
    uint32_t width = (uint32_t)(ext.x2 - ext.x1), height = (uint32_t)(ext.y2 - ext.y1);
    size_t stride = (size_t)width * 4;
    int nrects = 0;
    const pixman_box32_t *boxes = pixman_region32_rectangles(region, &nrects);
    uint8_t *pixels = calloc(height, stride);
    struct wire_rect *rects = malloc(sizeof(*rects) * (size_t)(nrects > 0 ? nrects : 1));
    uint16_t type = 0;
    if (!pixels || !rects) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        display_item_paint(items[i], &ext, pixels, stride);
    }
    for (int i = 0; i < nrects; i++) {
        rects[i] = (struct wire_rect){boxes[i].y1, boxes[i].x1, boxes[i].y2, boxes[i].x2};
    }
    struct qxl_image img = {
            .type = SPICE_IMAGE_TYPE_BITMAP,
            .format = SPICE_BITMAP_FMT_32BIT,
            .bitmap_flags = QXL_BITMAP_TOP_DOWN,
            .width = width,
            .height = height,
            .stride = (uint32_t)stride,
            .data = pixels,
    };
    struct qxl_drawable d = {
            .surface_id = items[0]->d.surface_id,
            .type = QXL_DRAW_COPY,
            .bbox = {ext.y1, ext.x1, ext.y2, ext.x2},
            .clip_type = SPICE_CLIP_TYPE_NONE,
    };
    d.u.copy.src = &img;
    d.u.copy.src_area = (struct qxl_rect){0, 0, (int32_t)height, (int32_t)width};
    d.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    d.u.copy.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;
    struct wire_draw_base base = {.surface_id = d.surface_id, .box = wire_rect_from(&d.bbox)};
    if (nrects != 1) {
        base.clip.type = SPICE_CLIP_TYPE_RECTS;
        base.clip.num_rects = (uint32_t)nrects;
        base.clip.rects = rects;
    }
    type = display_drawable_body(dc, &d, &base, s, b, per_client, cache_me);
out:
    free(pixels);
    free(rects);
    return type;
}

/*
 * How many of items[0..n) go into one composed message with items[0]
 * (0: send items[0] as it is). Consecutive composable draws on one surface
 * merge while their union stays dense; a single partly hidden copy is
 * re-cut when little of its image shows. The union of what they show is
 * left in `region`.
 */
static size_t display_plan_compose(struct display_client *dc, struct draw_item **items, size_t n,
                                   pixman_region32_t *region)
{
    const struct worker *w = dc->worker;
    struct draw_item *first = items[0];
    if (!dc->compose || !display_item_composable(w, first)) {
        return 0;
    }
    pixman_region32_copy(region, &first->visible);
    uint64_t shown = region_pixels(&first->visible);
    size_t count = 1;
    for (size_t i = 1; i < n && shown < DISPLAY_MERGE_MAX_ITEM_PIXELS; i++) {
        struct draw_item *it = items[i];
        if (!it->alive) {
            count++; /* hidden meanwhile: consumed, paints nothing */
            continue;
        }
        if (!display_item_composable(w, it) || it->d.surface_id != first->d.surface_id) {
            break;
        }
        uint64_t it_shown = region_pixels(&it->visible);
        if (it_shown >= DISPLAY_MERGE_MAX_ITEM_PIXELS) {
            break;
        }
        pixman_region32_t u;
        pixman_region32_init(&u);
        pixman_region32_union(&u, region, &it->visible);
        uint64_t shown_u = shown + it_shown;
        const pixman_box32_t *e = pixman_region32_extents(&u);
        uint64_t area = (uint64_t)(e->x2 - e->x1) * (uint64_t)(e->y2 - e->y1);
        int nrects = pixman_region32_n_rects(&u);
        bool dense =
                area <= shown_u * (1 + DISPLAY_MERGE_SPARSE_RATIO) + DISPLAY_MERGE_SPARSE_SLACK &&
                nrects <= DISPLAY_MAX_COMPOSED_RECTS;
        if (dense) {
            pixman_region32_copy(region, &u);
            shown = shown_u;
            count++;
        }
        pixman_region32_fini(&u);
        if (!dense) {
            break;
        }
    }
    /* A run of one: only a copy whose image mostly does not show. */
    size_t live = 0;
    for (size_t i = 0; i < count; i++) {
        live += items[i]->alive;
    }
    if (live >= 2) {
        return count;
    }
    if (first->d.type != QXL_DRAW_COPY || draw_item_is_whole(first) ||
        pixman_region32_n_rects(&first->visible) > DISPLAY_MAX_COMPOSED_RECTS) {
        return 0;
    }
    const struct qxl_rect *bb = &first->d.bbox;
    uint64_t image_pixels = (uint64_t)(bb->right - bb->left) * (uint64_t)(bb->bottom - bb->top);
    if (image_pixels < DISPLAY_RECUT_MIN_PIXELS ||
        region_pixels(&first->visible) * 4 > image_pixels * DISPLAY_RECUT_SHOWN_QUARTERS) {
        return 0;
    }
    return 1;
}

/*
 * channel_deferred_ops.build: the message of the queued draw item at the
 * head for this client, built as it is about to be written, possibly
 * merged with the consecutive ones after it. NULL drops it: hidden since
 * it was queued, or nothing to send.
 */
static struct shared_msg *display_item_build(struct channel_client *cc, void **opaque, size_t n,
                                             size_t *consumed)
{
    struct display_client *dc = (struct display_client *)cc;
    struct draw_item **items = (struct draw_item **)opaque;
    struct draw_item *item = items[0];
    *consumed = 1;
    if (!item->alive || !pixman_region32_not_empty(&item->visible)) {
        draw_item_release_holder(item);
        return NULL;
    }
    struct image_encoder_settings s = display_settings(dc->worker);
    palette_cache_begin(&dc->palettes);
    bool cache_me = false, per_client = false;
    struct byte_buf b;
    buf_init(&b);
    uint16_t type = 0;
    pixman_region32_t region;
    pixman_region32_init(&region);
    size_t run = display_plan_compose(dc, items, n, &region);
    if (run > 0) {
        type = display_composed_body(dc, items, run, &region, &s, &b, &per_client, &cache_me);
        *consumed = run;
        for (size_t i = 0; i < run; i++) {
            draw_item_release_holder(items[i]);
        }
        /* Built from this client's run: not shared. */
        per_client |= run > 1;
    } else {
        draw_item_release_holder(item);
        unsigned profile = display_profile(dc);
        for (int i = 0; i < item->num_built; i++) {
            if (item->built[i].profile == profile) {
                pixman_region32_fini(&region);
                buf_finish(&b);
                return shared_msg_ref(item->built[i].msg);
            }
        }
        const struct qxl_drawable *d = &item->d;
        struct wire_draw_base base = {.surface_id = d->surface_id, .box = wire_rect_from(&d->bbox)};
        struct wire_rect *rects;
        if (!display_item_clip(item, &base, &rects)) {
            log_ratelimited(LOG_LEVEL_ERROR, "display: out of memory building a draw");
            channel_client_close(cc);
            pixman_region32_fini(&region);
            buf_finish(&b);
            return NULL;
        }
        type = display_drawable_body(dc, d, &base, &s, &b, &per_client, &cache_me);
        free(rects);
    }
    pixman_region32_fini(&region);
    struct shared_msg *m = type ? msg_from_buf(type, &b) : NULL;
    buf_finish(&b);
    if (!m) {
        /* Palettes this draw would have added never reach the client. */
        palette_cache_cancel_message(&dc->palettes);
    }
    if (!m && cache_me) {
        /* The mirror counts an image the client will never get. */
        channel_client_close(cc);
    } else if (!type && item->alive) {
        /* A draw we cannot send: the client gets its surface as rendered
         * here, once what is queued before has gone. */
        display_fall_back(dc, item->d.surface_id);
    }
    if (m && !per_client && item->num_built < DRAW_ITEM_BUILT_MAX) {
        item->built[item->num_built].profile = display_profile(dc);
        item->built[item->num_built].msg = shared_msg_ref(m);
        item->num_built++;
    }
    return m;
}

static void display_item_release(struct channel_client *cc, void *opaque, bool built)
{
    (void)cc;
    struct draw_item *item = opaque;
    if (!built) {
        draw_item_release_holder(item);
    }
    draw_item_unref(item);
}

static bool display_item_is_dropped(void *opaque)
{
    struct draw_item *item = opaque;
    return !item->alive;
}

static const struct channel_deferred_ops display_item_ops = {
        .build = display_item_build,
        .release = display_item_release,
        .is_dropped = display_item_is_dropped,
};

void display_broadcast_drawable(struct worker *w, struct draw_item *item)
{
    const struct qxl_drawable *d = &item->d;
    size_t estimate = display_item_estimate(item);
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        if (dc->base.closing) {
            continue;
        }
        if (d->type == QXL_DRAW_COMPOSITE &&
            !channel_client_has_cap(&dc->base, SPICE_DISPLAY_CAP_COMPOSITE)) {
            /* It cannot draw it: it gets the result as an image. */
            display_fall_back(dc, d->surface_id);
            continue;
        }
        if (display_behind(dc)) {
            display_dirty_add(dc, d->surface_id, &d->bbox);
            continue;
        }
        dc->base.busy++; /* a failed send closes it: keep it until the kick */
        draw_item_hold(item);
        channel_client_send_deferred(&dc->base, draw_item_ref(item), &display_item_ops, estimate);
        channel_client_kick(&dc->base); /* may free dc */
    }
    if (d->surface_id < w->n_surfaces) {
        draw_tree_add(w->trees, w->n_surfaces, item, &w->tree_stats);
    }
}

void display_clients_fall_back(struct worker *w)
{
    for (struct display_client *dc = w->displays; dc; dc = dc->next) {
        for (uint32_t id = 0; id < w->n_surfaces; id++) {
            display_fall_back(dc, id);
        }
    }
}

void display_clients_hold(struct worker *w)
{
    for (struct display_client *dc = w->displays; dc; dc = dc->next) {
        if (!dc->batch_held) {
            dc->batch_held = true;
            dc->base.busy++;
        }
    }
}

void display_clients_kick(struct worker *w)
{
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        if (dc->batch_held) {
            dc->batch_held = false;
            channel_client_kick(&dc->base); /* may free dc */
        }
    }
}

bool display_clients_have_cap(struct worker *w, unsigned cap, bool *any)
{
    bool all = w->displays != NULL;
    *any = w->displays != NULL;
    for (struct display_client *dc = w->displays; dc; dc = dc->next) {
        if (!channel_client_has_cap(&dc->base, cap)) {
            all = false;
        }
    }
    return all;
}

/* ---- the channel ---- */

static int display_handle_message(struct channel_client *cc, const struct client_msg *msg)
{
    struct display_client *dc = (struct display_client *)cc;
    switch (msg->type) {
    case SPICE_MSGC_DISPLAY_INIT: {
        dc->got_init = true;
        dc->pixmap_cache_size = msg->u.display_init.pixmap_cache_size;
        /* pixmap_cache_id is not used: all of a client's display channels
         * share its one cache (spice-gtk), and our ids never collide. */
        pixmap_cache_set_capacity(&dc->pixmaps,
                                  dc->pixmap_cache_size > 0 ? (uint64_t)dc->pixmap_cache_size : 0);
        display_flush_evicted(dc);
        int32_t window = msg->u.display_init.glz_dictionary_window_size;
        uint32_t pixels = window > 0 ? (uint32_t)window : 0;
        if (pixels != dc->encoder.glz_window_pixels) {
            /* A new window means a new dictionary on both sides. */
            struct image_encoder_client old = dc->encoder;
            image_encoder_client_finish(&dc->encoder);
            image_encoder_client_init(&dc->encoder, old.lz4_cap, pixels);
            dc->encoder.preferred = old.preferred;
            dc->encoder.images = old.images;
            dc->encoder.raw_bytes = old.raw_bytes;
            dc->encoder.sent_bytes = old.sent_bytes;
        }
        return 0;
    }
    case SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION: {
        int pref = msg->u.preferred_compression.image_compression;
        if (pref > SPICE_IMAGE_COMPRESSION_INVALID && pref < SPICE_IMAGE_COMPRESSION_ENUM_END) {
            dc->encoder.preferred = pref;
        } else {
            log_ratelimited(LOG_LEVEL_WARN, "display: unknown preferred compression %d", pref);
        }
        return 0;
    }
    case SPICE_MSGC_DISPLAY_STREAM_REPORT:
    case SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE:
    case SPICE_MSGC_DISPLAY_GL_DRAW_DONE:
        return 0;
    default:
        log_ratelimited(LOG_LEVEL_WARN, "display: unexpected message %u", msg->type);
        return 0;
    }
}

static void display_on_close(struct channel_client *cc)
{
    struct display_client *dc = (struct display_client *)cc;
    struct worker *w = dc->worker;
    for (struct display_client **p = &w->displays; *p; p = &(*p)->next) {
        if (*p == dc) {
            *p = dc->next;
            break;
        }
    }
    if (dc->encoder.images > 0 || dc->pixmaps.hits > 0) {
        log_info("display: client %u: %llu images, %llu raw bytes sent as %llu; %llu bytes in "
                 "%llu messages on the wire; %llu hidden draws dropped; %llu refreshed areas; "
                 "pixmap cache: %llu hits saving %llu bytes, %llu added, %llu evicted; "
                 "palette cache: %llu hits, %llu added, %llu evicted",
                 cc->connection_id, (unsigned long long)dc->encoder.images,
                 (unsigned long long)dc->encoder.raw_bytes,
                 (unsigned long long)dc->encoder.sent_bytes, (unsigned long long)cc->bytes_sent,
                 (unsigned long long)cc->messages_sent, (unsigned long long)cc->messages_dropped,
                 (unsigned long long)dc->refreshes, (unsigned long long)dc->pixmaps.hits,
                 (unsigned long long)dc->pixmaps.saved_bytes, (unsigned long long)dc->pixmaps.adds,
                 (unsigned long long)dc->pixmaps.evictions, (unsigned long long)dc->palettes.hits,
                 (unsigned long long)dc->palettes.adds, (unsigned long long)dc->palettes.evictions);
    }
    server_post_channel_event(w->server, SPICE_CHANNEL_EVENT_DISCONNECTED, &cc->event_info);
    image_encoder_client_finish(&dc->encoder);
    pixmap_cache_finish(&dc->pixmaps);
    free(dc->evicted);
    display_dirty_clear(dc);
    free(dc->dirty);
    channel_client_finish(cc);
    free(dc);
    worker_update_client_caps(w);
}

static const struct channel_client_ops display_ops = {
        .handle_message = display_handle_message,
        .on_send_ready = display_on_send_ready,
        .on_close = display_on_close,
};

void display_client_create(struct worker *w, struct stream *stream, const struct link_mess *link,
                           bool mini_header)
{
    struct display_client *dc = calloc(1, sizeof(*dc));
    if (!dc) {
        stream_destroy(stream);
        return;
    }
    channel_client_init(&dc->base, &display_ops, w->loop, stream, link, mini_header);
    dc->worker = w;
    /* Empty until DISPLAY_INIT tells the size. */
    pixmap_cache_init(&dc->pixmaps, 0, 0, display_on_evict, dc);
    /* Empty, as INVAL_ALL_PALETTES below makes the client's. */
    palette_cache_init(&dc->palettes);
    image_encoder_client_init(
            &dc->encoder, channel_client_has_cap(&dc->base, SPICE_DISPLAY_CAP_LZ4_COMPRESSION), 0);
    if (channel_client_start(&dc->base) < 0) {
        image_encoder_client_finish(&dc->encoder);
        channel_client_finish(&dc->base);
        free(dc);
        return;
    }
    channel_client_fill_event_info(&dc->base, link->connection_id, SPICE_CHANNEL_DISPLAY,
                                   link->channel_id);
    server_post_channel_event(w->server, SPICE_CHANNEL_EVENT_INITIALIZED, &dc->base.event_info);
    dc->next = w->displays;
    w->displays = dc;
    worker_update_client_caps(w);

    channel_client_enable_acks(&dc->base, CHANNEL_ACK_WINDOW);
    channel_client_set_pace(&dc->base, display_pace_ms());
    dc->compose = display_compose_enabled();
    display_send_simple(dc, SPICE_MSG_DISPLAY_INVAL_ALL_PALETTES);
    display_send_all_surfaces(dc);
    /* Write what was queued, or finish a close that happened meanwhile. */
    channel_client_kick(&dc->base);
}

static void display_close_matching(struct worker *w, bool all, uint32_t session_id)
{
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        if (all || dc->base.connection_id == session_id) {
            channel_client_close(&dc->base);
        }
    }
}

void display_clients_close_session(struct worker *w, uint32_t session_id)
{
    display_close_matching(w, false, session_id);
}

void display_clients_close_all(struct worker *w)
{
    display_close_matching(w, true, 0);
}
