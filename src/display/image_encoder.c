/*
 * The image encoder stage (see image_encoder.h).
 *
 * DESIGN
 * Graduality: up to ~1,000 pixels sampled on a grid; for each, the colour
 * distance to its right and lower neighbours. Synthetic content (text, UI)
 * is made of flat runs and sharp edges; photos and gradients of many small
 * non-zero steps. The share of small non-zero steps is the score. LZ-style
 * codecs win on flat/sharp content, QUIC on smooth content, so the score
 * drives the automatic modes.
 *
 * GLZ: the dictionary is created lazily with the client's window size; an
 * image larger than the window, or any GLZ failure, falls back to LZ.
 */
#include "display/image_encoder.h"

#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>

#include "codec/glz.h"
#include "codec/jpeg_codec.h"
#include "codec/lz.h"
#include "codec/lz4_codec.h"
#include "codec/quic.h"
#include "codec/zlib_glz.h"

/* Below this many raw bytes compression does not pay (the reference: 54). */
#define RAW_MAX_BYTES 54
/* QUIC needs at least 3x3 pixels (the reference's limit). */
#define QUIC_MIN_DIM     3
#define GRADUALITY_PHOTO 60
#define JPEG_QUALITY     85

void image_encoder_client_init(struct image_encoder_client *c, bool lz4_cap,
                               uint32_t glz_window_pixels)
{
    memset(c, 0, sizeof(*c));
    c->lz4_cap = lz4_cap;
    c->glz_window_pixels =
            glz_window_pixels > GLZ_MAX_WINDOW_PIXELS ? GLZ_MAX_WINDOW_PIXELS : glz_window_pixels;
}

void image_encoder_client_finish(struct image_encoder_client *c)
{
    glz_dict_destroy(c->glz);
    c->glz = NULL;
}

static uint32_t pixel_rgb(const struct codec_image *img, uint32_t x, uint32_t y)
{
    const uint8_t *row = img->pixels + (intptr_t)y * img->stride;
    switch (img->format) {
    case CODEC_FMT_RGB32:
    case CODEC_FMT_RGBA: {
        const uint8_t *p = row + 4 * (size_t)x;
        return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
    }
    case CODEC_FMT_RGB24: {
        const uint8_t *p = row + 3 * (size_t)x;
        return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
    }
    case CODEC_FMT_RGB16: {
        const uint8_t *p = row + 2 * (size_t)x;
        uint32_t v = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
        return ((v & 0x1f) << 3) | (((v >> 5) & 0x1f) << 11) | (((v >> 10) & 0x1f) << 19);
    }
    default:
        return 0;
    }
}

static unsigned channel_distance(uint32_t a, uint32_t b)
{
    unsigned d = 0;
    for (int shift = 0; shift < 24; shift += 8) {
        int ca = (int)((a >> shift) & 0xff), cb = (int)((b >> shift) & 0xff);
        d += (unsigned)(ca > cb ? ca - cb : cb - ca);
    }
    return d;
}

unsigned image_encoder_graduality(const struct codec_image *img)
{
    if (img->width < 2 || img->height < 2) {
        return 0;
    }
    uint32_t step_x = img->width / 32 + 1, step_y = img->height / 32 + 1;
    unsigned samples = 0, gradual = 0;
    for (uint32_t y = 0; y + 1 < img->height; y += step_y) {
        for (uint32_t x = 0; x + 1 < img->width; x += step_x) {
            uint32_t p = pixel_rgb(img, x, y);
            unsigned dr = channel_distance(p, pixel_rgb(img, x + 1, y));
            unsigned dd = channel_distance(p, pixel_rgb(img, x, y + 1));
            samples += 2;
            gradual += (dr > 0 && dr < 48) + (dd > 0 && dd < 48);
        }
    }
    return samples ? gradual * 100 / samples : 0;
}

static bool is_rgb(enum codec_format f)
{
    return f == CODEC_FMT_RGB32 || f == CODEC_FMT_RGBA || f == CODEC_FMT_RGB24 ||
           f == CODEC_FMT_RGB16;
}

bool image_encoder_type_is_per_client(int image_type)
{
    return image_type == SPICE_IMAGE_TYPE_GLZ_RGB || image_type == SPICE_IMAGE_TYPE_ZLIB_GLZ_RGB;
}

static bool is_palette(enum codec_format f)
{
    return f == CODEC_FMT_PLT1_LE || f == CODEC_FMT_PLT1_BE || f == CODEC_FMT_PLT4_LE ||
           f == CODEC_FMT_PLT4_BE || f == CODEC_FMT_PLT8;
}

/* The compression mode in force for this client. */
static int client_mode(const struct image_encoder_client *c, const struct image_encoder_settings *s)
{
    return c->preferred > SPICE_IMAGE_COMPRESSION_INVALID &&
                           c->preferred < SPICE_IMAGE_COMPRESSION_ENUM_END
                   ? c->preferred
                   : s->compression;
}

bool image_encoder_keeps_palette(const struct image_encoder_client *c,
                                 const struct image_encoder_settings *s)
{
    switch (client_mode(c, s)) {
    case SPICE_IMAGE_COMPRESSION_OFF:
    case SPICE_IMAGE_COMPRESSION_LZ:
    case SPICE_IMAGE_COMPRESSION_AUTO_LZ:
    case SPICE_IMAGE_COMPRESSION_AUTO_GLZ:
        return true;
    default:
        return false;
    }
}

int image_encoder_choose(const struct image_encoder_client *c,
                         const struct image_encoder_settings *s, const struct codec_image *img)
{
    size_t raw = codec_format_row_bytes(img->format, img->width) * img->height;
    if (raw <= RAW_MAX_BYTES || !is_rgb(img->format)) {
        return SPICE_IMAGE_TYPE_BITMAP;
    }
    int mode = client_mode(c, s);
    bool glz_ok = c->glz_window_pixels >= (uint64_t)img->width * img->height;
    bool quic_ok = img->width >= QUIC_MIN_DIM && img->height >= QUIC_MIN_DIM;
    switch (mode) {
    case SPICE_IMAGE_COMPRESSION_OFF:
        return SPICE_IMAGE_TYPE_BITMAP;
    case SPICE_IMAGE_COMPRESSION_QUIC:
        return quic_ok ? SPICE_IMAGE_TYPE_QUIC : SPICE_IMAGE_TYPE_LZ_RGB;
    case SPICE_IMAGE_COMPRESSION_LZ:
        return SPICE_IMAGE_TYPE_LZ_RGB;
    case SPICE_IMAGE_COMPRESSION_GLZ:
        return glz_ok ? SPICE_IMAGE_TYPE_GLZ_RGB : SPICE_IMAGE_TYPE_LZ_RGB;
    case SPICE_IMAGE_COMPRESSION_LZ4:
        return c->lz4_cap ? SPICE_IMAGE_TYPE_LZ4 : SPICE_IMAGE_TYPE_LZ_RGB;
    case SPICE_IMAGE_COMPRESSION_AUTO_LZ:
    case SPICE_IMAGE_COMPRESSION_AUTO_GLZ:
    default:
        if (quic_ok && image_encoder_graduality(img) >= GRADUALITY_PHOTO) {
            return s->jpeg == IMAGE_ENCODER_WAN_ALWAYS ? SPICE_IMAGE_TYPE_JPEG
                                                       : SPICE_IMAGE_TYPE_QUIC;
        }
        if (mode == SPICE_IMAGE_COMPRESSION_AUTO_GLZ && glz_ok) {
            return SPICE_IMAGE_TYPE_GLZ_RGB;
        }
        return SPICE_IMAGE_TYPE_LZ_RGB;
    }
}

static void fill_raw(const struct codec_image *img, struct wire_image *out)
{
    out->type = SPICE_IMAGE_TYPE_BITMAP;
    switch (img->format) {
    case CODEC_FMT_RGBA:
        out->u.bitmap.format = SPICE_BITMAP_FMT_RGBA;
        break;
    case CODEC_FMT_RGB24:
        out->u.bitmap.format = SPICE_BITMAP_FMT_24BIT;
        break;
    case CODEC_FMT_RGB16:
        out->u.bitmap.format = SPICE_BITMAP_FMT_16BIT;
        break;
    case CODEC_FMT_A8:
        out->u.bitmap.format = SPICE_BITMAP_FMT_8BIT_A;
        break;
    case CODEC_FMT_PLT1_LE:
        out->u.bitmap.format = SPICE_BITMAP_FMT_1BIT_LE;
        break;
    case CODEC_FMT_PLT1_BE:
        out->u.bitmap.format = SPICE_BITMAP_FMT_1BIT_BE;
        break;
    case CODEC_FMT_PLT4_LE:
        out->u.bitmap.format = SPICE_BITMAP_FMT_4BIT_LE;
        break;
    case CODEC_FMT_PLT4_BE:
        out->u.bitmap.format = SPICE_BITMAP_FMT_4BIT_BE;
        break;
    case CODEC_FMT_PLT8:
        out->u.bitmap.format = SPICE_BITMAP_FMT_8BIT;
        break;
    default:
        out->u.bitmap.format = SPICE_BITMAP_FMT_32BIT;
        break;
    }
    /* A negative stride is a bottom-up bitmap starting at its lowest row. */
    if (img->stride < 0) {
        out->u.bitmap.flags = 0;
        out->u.bitmap.stride = (uint32_t)-img->stride;
        out->u.bitmap.data = img->pixels + (intptr_t)img->stride * (int32_t)(img->height - 1);
    } else {
        out->u.bitmap.flags = SPICE_BITMAP_FLAGS_TOP_DOWN;
        out->u.bitmap.stride = (uint32_t)img->stride;
        out->u.bitmap.data = img->pixels;
    }
}

/* Runs one codec into scratch; returns bytes or < 0. */
static int run_codec(struct image_encoder_client *c, const struct image_encoder_settings *s,
                     int type, const struct codec_image *img, struct byte_buf *scratch)
{
    size_t bound;
    uint8_t *out;
    int n;
    const char *err = NULL;
    buf_reset(scratch);
    switch (type) {
    case SPICE_IMAGE_TYPE_QUIC:
        bound = quic_encode_bound(img);
        out = bound ? buf_reserve(scratch, bound) : NULL;
        n = out ? quic_encode(img, out, bound, &err) : CLOVE_E_NOMEM;
        break;
    case SPICE_IMAGE_TYPE_LZ_RGB:
        bound = lz_encode_bound(img);
        out = bound ? buf_reserve(scratch, bound) : NULL;
        n = out ? lz_encode(img, out, bound, &err) : CLOVE_E_NOMEM;
        break;
    case SPICE_IMAGE_TYPE_LZ4:
        bound = lz4_codec_encode_bound(img);
        out = bound ? buf_reserve(scratch, bound) : NULL;
        n = out ? lz4_codec_encode(img, out, bound, &err) : CLOVE_E_NOMEM;
        break;
    case SPICE_IMAGE_TYPE_JPEG:
        bound = jpeg_codec_encode_bound(img);
        out = bound ? buf_reserve(scratch, bound) : NULL;
        n = out ? jpeg_codec_encode(img, JPEG_QUALITY, out, bound, &err) : CLOVE_E_NOMEM;
        break;
    case SPICE_IMAGE_TYPE_GLZ_RGB: {
        if (!c->glz) {
            c->glz = glz_dict_create(c->glz_window_pixels);
            if (!c->glz) {
                return CLOVE_E_NOMEM;
            }
        }
        bound = glz_encode_bound(img);
        out = bound ? buf_reserve(scratch, bound) : NULL;
        struct glz_encode_result res;
        n = out ? glz_encode(c->glz, img, out, bound, &res, &err) : CLOVE_E_NOMEM;
        break;
    }
    default:
        return CLOVE_E_UNSUPPORTED;
    }
    if (n > 0) {
        scratch->len = (size_t)n;
    }
    return n;
}

int image_encoder_encode(struct image_encoder_client *c, const struct image_encoder_settings *s,
                         const struct codec_image *img, uint64_t id, struct wire_image *out,
                         struct byte_buf *scratch)
{
    memset(out, 0, sizeof(*out));
    out->id = id;
    out->width = img->width;
    out->height = img->height;
    size_t raw = codec_format_row_bytes(img->format, img->width) * img->height;
    c->images++;
    c->raw_bytes += raw;
    int type = image_encoder_choose(c, s, img);
    int n = type == SPICE_IMAGE_TYPE_BITMAP ? 0 : run_codec(c, s, type, img, scratch);
    if (n <= 0 && type == SPICE_IMAGE_TYPE_GLZ_RGB) {
        type = SPICE_IMAGE_TYPE_LZ_RGB;
        n = run_codec(c, s, type, img, scratch);
    }
    if (n <= 0) {
        fill_raw(img, out);
        c->sent_bytes += raw;
        return SPICE_IMAGE_TYPE_BITMAP;
    }
    if (type == SPICE_IMAGE_TYPE_GLZ_RGB && s->zlib_glz == IMAGE_ENCODER_WAN_ALWAYS &&
        scratch->len >= ZLIB_GLZ_MIN_INPUT) {
        /* ZLIB_GLZ_RGB carries its own {glz size, data size} header. */
        size_t cap = zlib_glz_encode_bound(scratch->len);
        uint8_t *z = malloc(cap);
        const char *err = NULL;
        int zn = z ? zlib_glz_encode(scratch->data, scratch->len, ZLIB_GLZ_DEFAULT_LEVEL, z, cap,
                                     &err)
                   : CLOVE_E_NOMEM;
        if (zn > 0) {
            buf_reset(scratch);
            buf_put(scratch, z, (size_t)zn);
            type = SPICE_IMAGE_TYPE_ZLIB_GLZ_RGB;
        }
        free(z);
    }
    out->type = (uint8_t)type;
    out->u.encoded.data = scratch->data;
    out->u.encoded.size = (uint32_t)scratch->len;
    c->sent_bytes += scratch->len;
    return type;
}

int image_encoder_encode_palette(struct image_encoder_client *c,
                                 const struct image_encoder_settings *s,
                                 const struct codec_image *img,
                                 const struct image_encoder_palette *palette, uint64_t id,
                                 struct wire_image *out, struct byte_buf *scratch)
{
    if (!is_palette(img->format)) {
        return CLOVE_E_INVALID;
    }
    memset(out, 0, sizeof(*out));
    out->id = id;
    out->width = img->width;
    out->height = img->height;
    out->palette.unique = palette->unique;
    out->palette.ents = palette->ents;
    out->palette.num_ents = palette->num_ents;
    size_t raw = codec_format_row_bytes(img->format, img->width) * img->height;
    c->images++;
    c->raw_bytes += raw;
    int n = 0;
    if (raw > RAW_MAX_BYTES && client_mode(c, s) != SPICE_IMAGE_COMPRESSION_OFF) {
        buf_reset(scratch);
        const char *err = NULL;
        size_t bound = lz_encode_bound(img);
        uint8_t *dst = bound ? buf_reserve(scratch, bound) : NULL;
        n = dst ? lz_encode(img, dst, bound, &err) : CLOVE_E_NOMEM;
    }
    if (n <= 0) {
        fill_raw(img, out);
        c->sent_bytes += raw;
        return SPICE_IMAGE_TYPE_BITMAP;
    }
    scratch->len = (size_t)n;
    out->type = SPICE_IMAGE_TYPE_LZ_PLT;
    out->u.encoded.data = scratch->data;
    out->u.encoded.size = (uint32_t)scratch->len;
    /* lz_encode sends rows in memory order: bottom-up for a negative stride. */
    out->u.encoded.flags = img->stride > 0 ? SPICE_BITMAP_FLAGS_TOP_DOWN : 0;
    c->sent_bytes += scratch->len;
    return SPICE_IMAGE_TYPE_LZ_PLT;
}
