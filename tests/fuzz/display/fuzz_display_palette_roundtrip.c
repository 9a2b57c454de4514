/*
 * libFuzzer round-trip target for the palette image path, server to client:
 * image_encoder_encode_palette() (src/display/image_encoder.c), the image
 * writer of server_msg_display_draw_copy() (src/proto/server_msg.c), then
 * the client's parser server_parse_draw() (src/proto/server_parse.c) and
 * the decoding src/client/image.c does for BITMAP and LZ_PLT images.
 *
 * DESIGN: the input picks a paletted format (1/4-bit, both bit orders, and
 * 8-bit), dimensions up to 64x64, stride padding, the row order (a
 * negative stride is a bottom-up bitmap), the compression mode, the
 * palette (1..256 colours, its unique id) and the palette flags the caller
 * of the encoder adds (none, PAL_CACHE_ME or PAL_FROM_CACHE); the rest of
 * the input is the pixel bytes. The client's decoding needs a session (its
 * palette cache), so this target does what it does with the pure pieces:
 * copies a BITMAP's rows honouring TOP_DOWN, or runs lz_decode() on an
 * LZ_PLT stream, and takes the palette inline or, for PAL_FROM_CACHE, from
 * a one-entry cache holding what the server cached. Every pixel's colour
 * after the trip must equal the source's: a difference, a parse or decode
 * failure, or a sanitizer report is a crash.
 *
 * The bytes left after the pixels drive the server's palette cache mirror
 * (src/display/palette_cache.c) through messages of palette uses, INVAL
 * evictions and cancelled messages, against a model of the client's cache
 * (which drops entries only when told, and is larger than the mirror): a
 * PAL_FROM_CACHE the client could not serve, with enough colours, from a
 * message already sent, or an eviction of an entry the client lacks or the
 * current message uses, is a crash.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>

#include "codec/codec.h"
#include "codec/lz.h"
#include "common/bytes.h"
#include "display/image_encoder.h"
#include "display/palette_cache.h"
#include "proto/server_msg.h"
#include "proto/server_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DIM 64

struct input {
    const uint8_t *p;
    size_t left;
};

/* The next input byte; zero once the input is used up. */
static uint8_t take(struct input *in)
{
    if (in->left == 0) {
        return 0;
    }
    in->left--;
    return *in->p++;
}

static const enum codec_format formats[] = {
        CODEC_FMT_PLT1_BE, CODEC_FMT_PLT4_BE, CODEC_FMT_PLT8, CODEC_FMT_PLT1_LE, CODEC_FMT_PLT4_LE,
};

/* The palette index of pixel x in a row of format f. */
static unsigned index_at(enum codec_format f, const uint8_t *row, uint32_t x)
{
    switch (f) {
    case CODEC_FMT_PLT1_BE:
        return (row[x / 8] >> (7 - x % 8)) & 1;
    case CODEC_FMT_PLT1_LE:
        return (row[x / 8] >> (x % 8)) & 1;
    case CODEC_FMT_PLT4_BE:
        return x % 2 ? row[x / 2] & 0xf : row[x / 2] >> 4;
    case CODEC_FMT_PLT4_LE:
        return x % 2 ? row[x / 2] >> 4 : row[x / 2] & 0xf;
    default:
        return row[x];
    }
}

static enum codec_format format_of_bitmap(uint8_t f)
{
    switch (f) {
    case SPICE_BITMAP_FMT_1BIT_BE:
        return CODEC_FMT_PLT1_BE;
    case SPICE_BITMAP_FMT_1BIT_LE:
        return CODEC_FMT_PLT1_LE;
    case SPICE_BITMAP_FMT_4BIT_BE:
        return CODEC_FMT_PLT4_BE;
    case SPICE_BITMAP_FMT_4BIT_LE:
        return CODEC_FMT_PLT4_LE;
    case SPICE_BITMAP_FMT_8BIT:
        return CODEC_FMT_PLT8;
    default:
        return CODEC_FMT_INVALID;
    }
}

/* A colour the way the client's canvas looks it up (out of range: black). */
static uint32_t colour(const uint32_t *ents, uint32_t num_ents, unsigned index)
{
    return index < num_ents ? ents[index] & 0xffffff : 0;
}

/* The palette the client ends up with, as the client's copy_palette() takes it. */
static uint32_t *client_palette(const struct server_image *si, const uint32_t *cached,
                                uint32_t cached_n, uint32_t *n)
{
    uint32_t *p = malloc(256 * sizeof(uint32_t));
    if (!p) {
        abort();
    }
    if (si->palette_from_cache) {
        memcpy(p, cached, (size_t)cached_n * sizeof(uint32_t));
        *n = cached_n;
    } else if (si->palette && si->num_palette <= 256) {
        for (uint32_t i = 0; i < si->num_palette; i++) {
            p[i] = get_u32le(si->palette + 4 * (size_t)i);
        }
        *n = si->num_palette;
    } else {
        abort(); /* the encoder always sends a palette */
    }
    return p;
}

/* The client's palette cache as the mirror must see it, for ids 0..255. */
struct client_model {
    bool present[256];
    uint32_t num_ents[256];
    bool added_in_message[256]; /* by the current message: gone if it is cancelled */
    bool used_in_message[256];
};

static void model_begin(struct client_model *m)
{
    memset(m->added_in_message, 0, sizeof(m->added_in_message));
    memset(m->used_in_message, 0, sizeof(m->used_in_message));
}

/* Replays palette_cache operations from the rest of the input. */
static void check_mirror(struct input *in)
{
    static struct palette_cache cache;
    static struct client_model model;
    palette_cache_init(&cache);
    memset(&model, 0, sizeof(model));
    palette_cache_begin(&cache);
    while (in->left > 0) {
        uint8_t op = take(in);
        if (op % 16 == 0) {
            palette_cache_begin(&cache);
            model_begin(&model);
            continue;
        }
        if (op % 16 == 1) {
            /* The message is dropped: the client never gets what it added. */
            palette_cache_cancel_message(&cache);
            for (int i = 0; i < 256; i++) {
                if (model.added_in_message[i]) {
                    model.present[i] = false;
                }
            }
            palette_cache_begin(&cache);
            model_begin(&model);
            continue;
        }
        uint8_t id = take(in);
        uint32_t num_ents = 1 + (op >> 4);
        uint64_t evicted = 0;
        bool has_evicted = false;
        uint8_t flags = palette_cache_use(&cache, id, num_ents, &evicted, &has_evicted);
        if (has_evicted) {
            /* INVAL_PALETTE goes before this image. */
            if (evicted > 255 || !model.present[evicted] || model.used_in_message[evicted] ||
                evicted == id || flags != SPICE_BITMAP_FLAGS_PAL_CACHE_ME) {
                abort();
            }
            model.present[evicted] = false;
        }
        switch (flags) {
        case SPICE_BITMAP_FLAGS_PAL_FROM_CACHE:
            if (id == 0 || !model.present[id] || model.num_ents[id] < num_ents ||
                model.added_in_message[id]) {
                abort();
            }
            break;
        case SPICE_BITMAP_FLAGS_PAL_CACHE_ME:
            if (id == 0) {
                abort();
            }
            model.present[id] = true;
            model.num_ents[id] = num_ents;
            model.added_in_message[id] = true;
            break;
        case 0:
            break;
        default:
            abort();
        }
        if (id != 0) {
            model.used_in_message[id] = true;
        }
        /* The mirror never claims what the client does not hold. */
        if (palette_cache_contains(&cache, id) && !model.present[id]) {
            abort();
        }
        if (cache.count > PALETTE_CACHE_SIZE) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    enum codec_format format = formats[take(&in) % (sizeof(formats) / sizeof(formats[0]))];
    uint32_t width = 1 + take(&in) % MAX_DIM;
    uint32_t height = 1 + take(&in) % MAX_DIM;
    uint8_t opts = take(&in);
    uint32_t pad = opts & 7;
    bool bottom_up = opts & 8;
    static const uint8_t flag_choice[3] = {0, SPICE_BITMAP_FLAGS_PAL_CACHE_ME,
                                           SPICE_BITMAP_FLAGS_PAL_FROM_CACHE};
    uint8_t pal_flags = flag_choice[(opts >> 4) % 3];
    int compression = SPICE_IMAGE_COMPRESSION_OFF + take(&in) % 7; /* OFF .. LZ4 */
    uint32_t num_ents = 1 + take(&in);
    uint64_t unique = 0;
    for (int i = 0; i < 8; i++) {
        unique = unique << 8 | take(&in);
    }
    uint32_t ents[256];
    for (uint32_t i = 0; i < num_ents; i++) {
        ents[i] = (uint32_t)take(&in) << 16 | (uint32_t)take(&in) << 8 | take(&in);
    }

    size_t row_bytes = codec_format_row_bytes(format, width);
    size_t stride = row_bytes + pad;
    uint8_t *pixels = malloc(stride * height);
    if (!pixels) {
        return 0;
    }
    for (size_t i = 0; i < stride * height; i++) {
        pixels[i] = take(&in);
    }
    /* Row 0 (the top) is the last in memory when the bitmap is bottom-up. */
    struct codec_image img = {
            .format = format,
            .width = width,
            .height = height,
            .stride = bottom_up ? -(int32_t)stride : (int32_t)stride,
            .pixels = bottom_up ? pixels + stride * (height - 1) : pixels,
    };

    struct image_encoder_client client;
    image_encoder_client_init(&client, false, 0);
    struct image_encoder_settings settings = {
            .compression = compression,
            .jpeg = IMAGE_ENCODER_WAN_NEVER,
            .zlib_glz = IMAGE_ENCODER_WAN_NEVER,
    };
    struct image_encoder_palette palette = {
            .unique = unique, .ents = ents, .num_ents = (uint16_t)num_ents};
    struct byte_buf scratch = {0}, msg = {0};
    struct wire_image wi;
    int type = image_encoder_encode_palette(&client, &settings, &img, &palette, 42, &wi, &scratch);
    if (type != SPICE_IMAGE_TYPE_BITMAP && type != SPICE_IMAGE_TYPE_LZ_PLT) {
        abort();
    }
    if (wi.palette.flags != 0 || wi.palette.ents != ents || wi.palette.num_ents != num_ents) {
        abort(); /* the caller, not the encoder, picks the palette flags */
    }
    wi.palette.flags = pal_flags;

    struct wire_draw_base base = {
            .surface_id = 0,
            .box = {.top = 0, .left = 0, .bottom = (int32_t)height, .right = (int32_t)width},
            .clip = {.type = SPICE_CLIP_TYPE_NONE},
    };
    struct wire_rect area = base.box;
    server_msg_display_draw_copy(&msg, &base, &wi, &area, SPICE_ROPD_OP_PUT, 0);
    if (!buf_ok(&msg)) {
        goto out;
    }

    struct server_draw d;
    const char *err = NULL;
    if (server_parse_draw(SPICE_MSG_DISPLAY_DRAW_COPY, msg.data, msg.len, &d, &err) < 0 ||
        !d.u.copy.has_src) {
        abort();
    }
    const struct server_image *si = &d.u.copy.src;
    if (si->type != type || si->id != 42 || si->width != width || si->height != height ||
        si->palette_id != unique ||
        si->palette_from_cache != (pal_flags == SPICE_BITMAP_FLAGS_PAL_FROM_CACHE)) {
        abort();
    }

    /* The decoded indices, row 0 on top, rows row_bytes apart. */
    uint8_t *decoded = malloc(row_bytes * height);
    if (!decoded) {
        abort();
    }
    enum codec_format got_format;
    if (type == SPICE_IMAGE_TYPE_BITMAP) {
        got_format = format_of_bitmap(si->bitmap.format);
        if (si->bitmap.stride < row_bytes || si->size < (size_t)si->bitmap.stride * height) {
            abort();
        }
        bool top_down = si->bitmap.flags & SPICE_BITMAP_FLAGS_TOP_DOWN;
        for (uint32_t y = 0; y < height; y++) {
            uint32_t src_y = top_down ? y : height - 1 - y;
            memcpy(decoded + row_bytes * y, si->data + (size_t)si->bitmap.stride * src_y,
                   row_bytes);
        }
    } else {
        struct codec_info info;
        if (lz_decode_header(si->data, si->size, &info, &err) < 0 || info.width != width ||
            info.height != height) {
            abort();
        }
        got_format = info.format;
        if (lz_decode(si->data, si->size, decoded, (int32_t)row_bytes, &err) < 0) {
            abort();
        }
    }
    if (got_format != format) {
        abort();
    }

    uint32_t got_n;
    uint32_t *got_ents = client_palette(si, ents, num_ents, &got_n);
    for (uint32_t y = 0; y < height; y++) {
        const uint8_t *src_row = img.pixels + (intptr_t)img.stride * (int32_t)y;
        const uint8_t *dst_row = decoded + row_bytes * y;
        for (uint32_t x = 0; x < width; x++) {
            unsigned a = index_at(format, src_row, x);
            unsigned b = index_at(format, dst_row, x);
            if (a != b || colour(ents, num_ents, a) != colour(got_ents, got_n, b)) {
                abort();
            }
        }
    }
    free(got_ents);
    free(decoded);
    check_mirror(&in);
out:
    buf_finish(&msg);
    buf_finish(&scratch);
    image_encoder_client_finish(&client);
    free(pixels);
    return 0;
}
