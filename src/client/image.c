/*
 * Wire images of the display channel -> bitmaps the canvas draws.
 *
 * DESIGN: whatever the wire type, the result is a `struct qxl_image` that
 * owns its pixels, row 0 on top: raw BITMAPs keep their format and palette
 * (the canvas reads every SPICE bitmap format), compressed images are
 * decoded with src/codec into 32-bit xRGB or RGBA (LZ keeps the format of
 * its stream, LZ_PLT its palette), SURFACE images only name their surface.
 * GLZ images go through the session's glz_window. Images the server marks
 * CACHE_ME are copied into a simple pixmap cache (a list bounded by
 * CLIENT_CACHE_PIXELS, the size announced in DISPLAY_INIT) and FROM_CACHE
 * images are copied back out of it.
 *
 * Palettes (BITMAP and LZ_PLT images of the 1/4/8-bit formats) flagged
 * PAL_CACHE_ME are kept in the display channel's palette cache under their
 * unique id; PAL_FROM_CACHE images take theirs from it. INVAL_PALETTE and
 * INVAL_ALL_PALETTES drop entries. A palette the cache does not hold makes
 * that one image fail with IMAGE_E_PALETTE_MISSING: like spice-gtk (whose
 * canvas draws nothing when palette_get() returns NULL) the draw is
 * skipped with a warning and the channel stays up. The cache is bounded
 * (CLIENT_PALETTE_CACHE_SIZE entries; the oldest goes first), well above
 * the 128 the reference server tracks per client.
 */
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/qxl_dev.h>

#include "client/client_priv.h"
#include "codec/jpeg_codec.h"
#include "codec/lz.h"
#include "codec/lz4_codec.h"
#include "codec/quic.h"
#include "codec/zlib_glz.h"
#include "common/error.h"

/* Decoded images larger than this are refused (256 MiB of 32-bit pixels). */
#define IMAGE_MAX_PIXELS (8192u * 8192u)

struct cache_entry {
    uint64_t id;
    struct qxl_image img;
    struct cache_entry *next;
};

struct palette_entry {
    uint64_t id;
    uint32_t num_entries;
    uint32_t *entries; /* owns */
    struct palette_entry *next;
};

static int fail(const char **err_desc, const char *why, int code)
{
    *err_desc = why;
    return code;
}

void image_finish(struct qxl_image *img)
{
    if (!img->data_borrowed) {
        free(img->data);
    }
    free(img->palette);
    memset(img, 0, sizeof(*img));
}

static uint8_t bitmap_format_of(enum codec_format f)
{
    switch (f) {
    case CODEC_FMT_RGB32:
        return SPICE_BITMAP_FMT_32BIT;
    case CODEC_FMT_RGBA:
        return SPICE_BITMAP_FMT_RGBA;
    case CODEC_FMT_RGB24:
        return SPICE_BITMAP_FMT_24BIT;
    case CODEC_FMT_RGB16:
        return SPICE_BITMAP_FMT_16BIT;
    case CODEC_FMT_A8:
        return SPICE_BITMAP_FMT_8BIT_A;
    case CODEC_FMT_PLT1_LE:
        return SPICE_BITMAP_FMT_1BIT_LE;
    case CODEC_FMT_PLT1_BE:
        return SPICE_BITMAP_FMT_1BIT_BE;
    case CODEC_FMT_PLT4_LE:
        return SPICE_BITMAP_FMT_4BIT_LE;
    case CODEC_FMT_PLT4_BE:
        return SPICE_BITMAP_FMT_4BIT_BE;
    case CODEC_FMT_PLT8:
        return SPICE_BITMAP_FMT_8BIT;
    default:
        return SPICE_BITMAP_FMT_INVALID;
    }
}

/*
 * Allocates out->data for a width x height image of `format`, top-down.
 * When out->data is already there and borrowed (image_decode_into), the
 * image must fit it: 32-bit xRGB of the size it holds, else
 * IMAGE_E_NOT_DIRECT.
 */
static int alloc_pixels(struct qxl_image *out, enum codec_format format, uint32_t width,
                        uint32_t height, const char **err_desc)
{
    if (out->data_borrowed) {
        if (format != CODEC_FMT_RGB32 || width != out->width || height != out->height) {
            return fail(err_desc, "not decodable in place", IMAGE_E_NOT_DIRECT);
        }
        return 0;
    }
    if ((uint64_t)width * height > IMAGE_MAX_PIXELS) {
        return fail(err_desc, "image too large", CLOVE_E_RANGE);
    }
    size_t row = codec_format_row_bytes(format, width);
    uint8_t fmt = bitmap_format_of(format);
    if (row == 0 || fmt == SPICE_BITMAP_FMT_INVALID) {
        return fail(err_desc, "decoded image format not drawable", CLOVE_E_UNSUPPORTED);
    }
    size_t stride = (row + 3) & ~(size_t)3;
    out->data = calloc(height, stride);
    if (!out->data) {
        return fail(err_desc, "no memory for a decoded image", CLOVE_E_NOMEM);
    }
    out->type = SPICE_IMAGE_TYPE_BITMAP;
    out->format = fmt;
    out->bitmap_flags = QXL_BITMAP_TOP_DOWN;
    out->width = width;
    out->height = height;
    out->stride = (uint32_t)stride;
    return 0;
}

void palette_cache_remove(struct client_display *d, uint64_t id)
{
    for (struct palette_entry **p = &d->palettes; *p; p = &(*p)->next) {
        if ((*p)->id == id) {
            struct palette_entry *e = *p;
            *p = e->next;
            free(e->entries);
            free(e);
            d->palette_count--;
            return;
        }
    }
}

void palette_cache_clear(struct client_display *d)
{
    while (d->palettes) {
        palette_cache_remove(d, d->palettes->id);
    }
}

/* Keeps a copy of entries[0..n) under id (replacing an older one). */
static void palette_cache_put(struct client_display *d, uint64_t id, const uint32_t *entries,
                              uint32_t n)
{
    palette_cache_remove(d, id);
    if (d->palette_count >= CLIENT_PALETTE_CACHE_SIZE) {
        /* Drop the oldest: the last of the newest-first list. */
        struct palette_entry *last = d->palettes;
        while (last && last->next) {
            last = last->next;
        }
        if (last) {
            palette_cache_remove(d, last->id);
        }
    }
    struct palette_entry *e = calloc(1, sizeof(*e));
    uint32_t *copy = malloc((n ? n : 1) * sizeof(uint32_t));
    if (!e || !copy) {
        free(e);
        free(copy);
        return; /* a later PAL_FROM_CACHE of it fails that draw only */
    }
    memcpy(copy, entries, (size_t)n * sizeof(uint32_t));
    e->id = id;
    e->num_entries = n;
    e->entries = copy;
    e->next = d->palettes;
    d->palettes = e;
    d->palette_count++;
}

/* The palette of a BITMAP or LZ_PLT image (`flags`: its SPICE_BITMAP_FLAGS_*). */
static int copy_palette(struct client_display *d, const struct server_image *src, uint8_t flags,
                        struct qxl_image *out, const char **err_desc)
{
    if (src->palette_from_cache) {
        for (struct palette_entry *e = d->palettes; e; e = e->next) {
            if (e->id == src->palette_id) {
                out->palette = malloc((e->num_entries ? e->num_entries : 1) * sizeof(uint32_t));
                if (!out->palette) {
                    return fail(err_desc, "no memory for a palette", CLOVE_E_NOMEM);
                }
                memcpy(out->palette, e->entries, (size_t)e->num_entries * sizeof(uint32_t));
                out->num_palette = e->num_entries;
                out->palette_unique = e->id;
                return 0;
            }
        }
        return fail(err_desc, "palette not in the palette cache", IMAGE_E_PALETTE_MISSING);
    }
    if (!src->palette || src->num_palette == 0) {
        return 0;
    }
    out->palette = malloc((size_t)src->num_palette * sizeof(uint32_t));
    if (!out->palette) {
        return fail(err_desc, "no memory for a palette", CLOVE_E_NOMEM);
    }
    for (uint16_t i = 0; i < src->num_palette; i++) {
        out->palette[i] = get_u32le(src->palette + 4 * (size_t)i);
    }
    out->num_palette = src->num_palette;
    out->palette_unique = src->palette_id;
    if (flags & SPICE_BITMAP_FLAGS_PAL_CACHE_ME) {
        palette_cache_put(d, src->palette_id, out->palette, out->num_palette);
    }
    return 0;
}

static int decode_bitmap(struct client_display *d, const struct server_image *src,
                         struct qxl_image *out, const char **err_desc)
{
    /* Drawn in place from the message: the drawable is drawn and finished
     * while the message is still in the channel's receive buffer, and the
     * pixmap cache takes a copy (cache_add). A full-screen bitmap copied
     * into fresh memory cost ~2 ms of page faults and copying. */
    out->data = (uint8_t *)(uintptr_t)src->data;
    out->data_borrowed = true;
    out->type = SPICE_IMAGE_TYPE_BITMAP;
    out->format = src->bitmap.format;
    out->bitmap_flags = src->bitmap.flags & SPICE_BITMAP_FLAGS_TOP_DOWN;
    out->width = src->width;
    out->height = src->height;
    out->stride = src->bitmap.stride;
    return copy_palette(d, src, src->bitmap.flags, out, err_desc);
}

/* Checks the size a codec header announces against the descriptor. */
static int check_dims(const struct server_image *src, const struct codec_info *info,
                      const char **err_desc)
{
    if (info->width != src->width || info->height != src->height) {
        return fail(err_desc, "compressed image size differs from its descriptor", CLOVE_E_INVALID);
    }
    return 0;
}

static int decode_glz(struct clove_session *s, const struct server_image *src, const uint8_t *in,
                      size_t in_len, struct qxl_image *out, const char **err_desc)
{
    struct codec_info info;
    int rc = glz_decode_header(in, in_len, &info, NULL, err_desc);
    if (rc == 0) {
        rc = check_dims(src, &info, err_desc);
    }
    if (rc == 0) {
        rc = alloc_pixels(out, info.format, info.width, info.height, err_desc);
    }
    if (rc == 0) {
        rc = glz_decode(s->glz, in, in_len, out->data, (int32_t)out->stride, err_desc);
    }
    return rc;
}

static int decode_zlib_glz(struct clove_session *s, const struct server_image *src,
                           struct qxl_image *out, const char **err_desc)
{
    uint32_t glz_size;
    int rc = zlib_glz_decode_header(src->data, src->size, &glz_size, err_desc);
    if (rc < 0) {
        return rc;
    }
    uint8_t *glz = malloc(glz_size ? glz_size : 1);
    if (!glz) {
        return fail(err_desc, "no memory for a GLZ stream", CLOVE_E_NOMEM);
    }
    rc = zlib_glz_decode(src->data, src->size, glz, glz_size, err_desc);
    if (rc >= 0) {
        rc = decode_glz(s, src, glz, (size_t)rc, out, err_desc);
    }
    free(glz);
    return rc;
}

static int decode_codec(struct client_display *d, const struct server_image *src,
                        struct qxl_image *out, const char **err_desc)
{
    struct clove_session *s = d->session;
    struct codec_info info = {0};
    int rc;
    switch (src->type) {
    case SPICE_IMAGE_TYPE_QUIC:
        rc = quic_decode_header(src->data, src->size, &info, err_desc);
        if (rc == 0 && info.format != CODEC_FMT_RGBA && info.format != CODEC_FMT_A8) {
            info.format = CODEC_FMT_RGB32;
        }
        if (rc == 0 && (rc = check_dims(src, &info, err_desc)) == 0 &&
            (rc = alloc_pixels(out, info.format, info.width, info.height, err_desc)) == 0) {
            rc = quic_decode(src->data, src->size, out->data, (size_t)out->stride * out->height,
                             (int32_t)out->stride, info.format, err_desc);
        }
        return rc;
    case SPICE_IMAGE_TYPE_LZ_RGB:
    case SPICE_IMAGE_TYPE_LZ_PLT:
        rc = lz_decode_header(src->data, src->size, &info, err_desc);
        if (rc == 0 && (rc = check_dims(src, &info, err_desc)) == 0 &&
            (rc = alloc_pixels(out, info.format, info.width, info.height, err_desc)) == 0) {
            rc = lz_decode(src->data, src->size, out->data, (int32_t)out->stride, err_desc);
        }
        if (rc == 0 && src->type == SPICE_IMAGE_TYPE_LZ_PLT) {
            rc = copy_palette(d, src, src->lz_plt_flags, out, err_desc);
        }
        return rc;
    case SPICE_IMAGE_TYPE_GLZ_RGB:
        return decode_glz(s, src, src->data, src->size, out, err_desc);
    case SPICE_IMAGE_TYPE_ZLIB_GLZ_RGB:
        return decode_zlib_glz(s, src, out, err_desc);
    case SPICE_IMAGE_TYPE_LZ4:
        rc = lz4_codec_decode_header(src->data, src->size, &info, err_desc);
        info.width = src->width;
        info.height = src->height;
        if (rc == 0 &&
            (rc = alloc_pixels(out, info.format, info.width, info.height, err_desc)) == 0) {
            rc = lz4_codec_decode(src->data, src->size, &info, out->data, (int32_t)out->stride,
                                  err_desc);
        }
        return rc;
    case SPICE_IMAGE_TYPE_JPEG:
        rc = jpeg_codec_decode_header(src->data, src->size, &info, err_desc);
        if (rc == 0 && (rc = check_dims(src, &info, err_desc)) == 0 &&
            (rc = alloc_pixels(out, CODEC_FMT_RGB32, info.width, info.height, err_desc)) == 0) {
            rc = jpeg_codec_decode(src->data, src->size, &info, out->data, (int32_t)out->stride,
                                   err_desc);
        }
        return rc;
    case SPICE_IMAGE_TYPE_JPEG_ALPHA:
        rc = jpeg_codec_decode_alpha_header(src->data, src->size, &info, err_desc);
        if (rc == 0 && (rc = check_dims(src, &info, err_desc)) == 0 &&
            (rc = alloc_pixels(out, CODEC_FMT_RGBA, info.width, info.height, err_desc)) == 0) {
            rc = jpeg_codec_decode_alpha(src->data, src->size, &info, out->data,
                                         (int32_t)out->stride, err_desc);
        }
        return rc;
    default:
        return fail(err_desc, "unknown image type", CLOVE_E_UNSUPPORTED);
    }
}

/* Deep copy of a decoded bitmap. */
static int image_copy(const struct qxl_image *src, struct qxl_image *out, const char **err_desc)
{
    *out = *src;
    out->data = NULL;
    out->data_borrowed = false;
    out->palette = NULL;
    size_t size = (size_t)src->stride * src->height;
    out->data = malloc(size ? size : 1);
    if (!out->data) {
        return fail(err_desc, "no memory copying an image", CLOVE_E_NOMEM);
    }
    memcpy(out->data, src->data, size);
    if (src->palette) {
        out->palette = malloc((size_t)src->num_palette * sizeof(uint32_t));
        if (!out->palette) {
            image_finish(out);
            return fail(err_desc, "no memory copying a palette", CLOVE_E_NOMEM);
        }
        memcpy(out->palette, src->palette, (size_t)src->num_palette * sizeof(uint32_t));
    }
    return 0;
}

void image_cache_remove(struct clove_session *s, uint64_t id)
{
    for (struct cache_entry **p = &s->cache; *p; p = &(*p)->next) {
        if ((*p)->id == id) {
            struct cache_entry *e = *p;
            *p = e->next;
            s->cache_pixels -= (uint64_t)e->img.width * e->img.height;
            image_finish(&e->img);
            free(e);
            return;
        }
    }
}

static void cache_add(struct clove_session *s, uint64_t id, const struct qxl_image *img)
{
    uint64_t pixels = (uint64_t)img->width * img->height;
    image_cache_remove(s, id);
    if (s->cache_pixels + pixels > CLIENT_CACHE_PIXELS) {
        return; /* a later FROM_CACHE of it reports "not in cache" */
    }
    struct cache_entry *e = calloc(1, sizeof(*e));
    const char *err;
    if (!e || image_copy(img, &e->img, &err) < 0) {
        free(e);
        return;
    }
    e->id = id;
    e->next = s->cache;
    s->cache = e;
    s->cache_pixels += pixels;
}

void image_cache_clear(struct clove_session *s)
{
    while (s->cache) {
        image_cache_remove(s, s->cache->id);
    }
    s->cache_pixels = 0;
}

int image_decode(struct client_display *d, const struct server_image *src, struct qxl_image *out,
                 const char **err_desc)
{
    struct clove_session *s = d->session;
    memset(out, 0, sizeof(*out));
    out->id = src->id;
    int rc;
    switch (src->type) {
    case SPICE_IMAGE_TYPE_SURFACE: {
        struct canvas_surface *surface = display_lookup(d, src->surface_id);
        if (!surface) {
            return fail(err_desc, "image refers to an unknown surface", CLOVE_E_INVALID);
        }
        out->type = SPICE_IMAGE_TYPE_SURFACE;
        out->surface_id = src->surface_id;
        out->width = surface->width;
        out->height = surface->height;
        return 0;
    }
    case SPICE_IMAGE_TYPE_FROM_CACHE:
    case SPICE_IMAGE_TYPE_FROM_CACHE_LOSSLESS:
        for (struct cache_entry *e = s->cache; e; e = e->next) {
            if (e->id == src->id) {
                return image_copy(&e->img, out, err_desc);
            }
        }
        return fail(err_desc, "image not in the pixmap cache", CLOVE_E_INVALID);
    case SPICE_IMAGE_TYPE_BITMAP:
        rc = decode_bitmap(d, src, out, err_desc);
        break;
    default:
        rc = decode_codec(d, src, out, err_desc);
        break;
    }
    if (rc < 0) {
        image_finish(out);
        return rc;
    }
    out->id = src->id;
    if (src->flags & SPICE_IMAGE_FLAGS_CACHE_ME) {
        cache_add(s, src->id, out);
    }
    return 0;
}

int image_decode_into(struct client_display *d, const struct server_image *src, uint8_t *pixels,
                      int32_t stride, const char **err_desc)
{
    switch (src->type) {
    case SPICE_IMAGE_TYPE_QUIC:
    case SPICE_IMAGE_TYPE_LZ_RGB:
    case SPICE_IMAGE_TYPE_GLZ_RGB:
    case SPICE_IMAGE_TYPE_ZLIB_GLZ_RGB:
    case SPICE_IMAGE_TYPE_LZ4:
    case SPICE_IMAGE_TYPE_JPEG:
        break;
    default:
        return fail(err_desc, "not decodable in place", IMAGE_E_NOT_DIRECT);
    }
    struct qxl_image img = {
            .type = SPICE_IMAGE_TYPE_BITMAP,
            .format = SPICE_BITMAP_FMT_32BIT,
            .bitmap_flags = QXL_BITMAP_TOP_DOWN,
            .width = src->width,
            .height = src->height,
            .stride = (uint32_t)stride,
            .data = pixels,
            .data_borrowed = true,
    };
    int rc = decode_codec(d, src, &img, err_desc);
    image_finish(&img);
    return rc;
}

int image_decode_new(struct client_display *d, const struct server_image *src,
                     struct qxl_image **out, const char **err_desc)
{
    *out = NULL;
    struct qxl_image *img = malloc(sizeof(*img));
    if (!img) {
        return fail(err_desc, "no memory for an image", CLOVE_E_NOMEM);
    }
    int rc = image_decode(d, src, img, err_desc);
    if (rc < 0) {
        free(img);
        return rc;
    }
    *out = img;
    return 0;
}
