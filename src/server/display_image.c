/*
 * Images of the display channel, encoded for one client: the guest's
 * images and areas of the server's rendered surfaces go through the
 * encoder stage (display/image_encoder.h), which depends on the client
 * (capabilities, GLZ dictionary, preferred compression). A message built
 * without per-client state (anything but GLZ, and no cached image) is
 * reused for every later client with the same encoding profile
 * (display_draw.c); `per_client` in struct encoded_image says which.
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

#include "common/log.h"
#include "display/image_encoder.h"
#include "display/palette_cache.h"
#include "display/pixmap_cache.h"
#include "proto/server_msg.h"
#include "server/display_priv.h"
#include "server/worker_priv.h"

/* Images smaller than this are never cached: FROM_CACHE would save little. */
#define DISPLAY_CACHE_MIN_PIXELS 64
/* Images the guest did not mark cacheable are cached from this size on. */
#define DISPLAY_CACHE_UNMARKED_MIN_PIXELS (64 * 64)
/* INVAL_LIST carries a u16 count. */
#define DISPLAY_INVAL_LIST_MAX 65535

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
bool image_source_from_qxl(const struct qxl_image *src, struct image_source *out, bool keep_palette)
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

void encoded_image_finish(struct encoded_image *e)
{
    buf_finish(&e->scratch);
}

/* ---- pixmap cache ---- */

void display_on_evict(void *opaque, uint64_t wire_id)
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
void display_flush_evicted(struct display_client *dc)
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
void display_encode(struct display_client *dc, const struct image_encoder_settings *s,
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

/* An area of a surface (the whole surface by default) as one DRAW_COPY,
 * encoded for one client. */
struct shared_msg *display_area_image_msg(struct display_client *dc, uint32_t id,
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
    struct shared_msg *m = display_msg_from_buf(SPICE_MSG_DISPLAY_DRAW_COPY, &b);
    buf_finish(&b);
    return m;
}
