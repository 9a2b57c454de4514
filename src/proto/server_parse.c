/*
 * Parsers of server -> client message bodies; see server_parse.h.
 *
 * DESIGN: every read goes through a byte_reader, whose failure latches, so
 * a parser reads a whole struct and checks once. Pointer fields (u32 body
 * offsets, 0 = NULL) are followed with a fresh reader over the whole body,
 * so an offset can point anywhere inside the body but never outside it.
 * Sizes taken from the wire are multiplied in 64 bits before they are
 * compared with what is left.
 */
#include "proto/server_parse.h"

#include <spice/enums.h>
#include <spice/protocol.h>

#include "common/error.h"

static int fail(const char **err_desc, const char *why, int code)
{
    if (err_desc) {
        *err_desc = why;
    }
    return code;
}

static int done(struct byte_reader *r, const char **err_desc, const char *what)
{
    if (!reader_ok(r)) {
        return fail(err_desc, what, CLOVE_E_INVALID);
    }
    return (int)r->pos;
}

/* ---- base messages ---- */

int server_parse_set_ack(const uint8_t *data, size_t len, uint32_t *generation, uint32_t *window,
                         const char **err_desc)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    *generation = read_u32(&r);
    *window = read_u32(&r);
    return done(&r, err_desc, "SET_ACK: short body");
}

int server_parse_ping(const uint8_t *data, size_t len, uint32_t *id, uint64_t *timestamp,
                      const char **err_desc)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    *id = read_u32(&r);
    *timestamp = read_u64(&r);
    /* The payload after the fixed part (bandwidth test) is ignored. */
    int rc = done(&r, err_desc, "PING: short body");
    return rc < 0 ? rc : (int)(len > INT32_MAX ? INT32_MAX : len);
}

int server_parse_notify(const uint8_t *data, size_t len, struct server_notify *out,
                        const char **err_desc)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    out->time_stamp = read_u64(&r);
    out->severity = read_u32(&r);
    out->visibility = read_u32(&r);
    out->what = read_u32(&r);
    out->message_len = read_u32(&r);
    out->message = read_bytes(&r, out->message_len);
    return done(&r, err_desc, "NOTIFY: short body or message beyond the body");
}

int server_parse_disconnecting(const uint8_t *data, size_t len, uint64_t *time_stamp,
                               uint32_t *reason, const char **err_desc)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    *time_stamp = read_u64(&r);
    *reason = read_u32(&r);
    return done(&r, err_desc, "DISCONNECTING: short body");
}

/* ---- main channel ---- */

int server_parse_main_init(const uint8_t *data, size_t len, struct wire_main_init *out,
                           const char **err_desc)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    out->session_id = read_u32(&r);
    out->display_channels_hint = read_u32(&r);
    out->supported_mouse_modes = read_u32(&r);
    out->current_mouse_mode = read_u32(&r);
    out->agent_connected = read_u32(&r);
    out->agent_tokens = read_u32(&r);
    out->multi_media_time = read_u32(&r);
    out->ram_hint = read_u32(&r);
    return done(&r, err_desc, "MAIN_INIT: short body");
}

int server_parse_main_channels_list(const uint8_t *data, size_t len, struct wire_channel_id *out,
                                    uint32_t max, uint32_t *count, const char **err_desc)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    uint32_t n = read_u32(&r);
    if (!reader_ok(&r)) {
        return fail(err_desc, "CHANNELS_LIST: short body", CLOVE_E_INVALID);
    }
    if (n > max || n > SERVER_PARSE_MAX_CHANNELS) {
        return fail(err_desc, "CHANNELS_LIST: too many channels", CLOVE_E_RANGE);
    }
    for (uint32_t i = 0; i < n; i++) {
        out[i].type = read_u8(&r);
        out[i].id = read_u8(&r);
    }
    *count = reader_ok(&r) ? n : 0;
    return done(&r, err_desc, "CHANNELS_LIST: list beyond the body");
}

/* ---- display channel: surfaces and monitors ---- */

int server_parse_surface_create(const uint8_t *data, size_t len, struct server_surface_create *out,
                                const char **err_desc)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    out->surface_id = read_u32(&r);
    out->width = read_u32(&r);
    out->height = read_u32(&r);
    out->format = read_u32(&r);
    out->flags = read_u32(&r);
    int rc = done(&r, err_desc, "SURFACE_CREATE: short body");
    if (rc < 0) {
        return rc;
    }
    if (out->width == 0 || out->height == 0 || out->width > SERVER_PARSE_MAX_DIM ||
        out->height > SERVER_PARSE_MAX_DIM) {
        return fail(err_desc, "SURFACE_CREATE: bad dimensions", CLOVE_E_RANGE);
    }
    return rc;
}

int server_parse_surface_destroy(const uint8_t *data, size_t len, uint32_t *surface_id,
                                 const char **err_desc)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    *surface_id = read_u32(&r);
    return done(&r, err_desc, "SURFACE_DESTROY: short body");
}

int server_parse_monitors_config(const uint8_t *data, size_t len, struct wire_head *heads,
                                 uint16_t max_heads, uint16_t *count, uint16_t *max_allowed,
                                 const char **err_desc)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    uint16_t n = read_u16(&r);
    *max_allowed = read_u16(&r);
    if (!reader_ok(&r)) {
        return fail(err_desc, "MONITORS_CONFIG: short body", CLOVE_E_INVALID);
    }
    if (n > max_heads || n > SERVER_PARSE_MAX_HEADS) {
        return fail(err_desc, "MONITORS_CONFIG: too many heads", CLOVE_E_RANGE);
    }
    for (uint16_t i = 0; i < n; i++) {
        heads[i].id = read_u32(&r);
        heads[i].surface_id = read_u32(&r);
        heads[i].width = read_u32(&r);
        heads[i].height = read_u32(&r);
        heads[i].x = read_u32(&r);
        heads[i].y = read_u32(&r);
        heads[i].flags = read_u32(&r);
    }
    *count = reader_ok(&r) ? n : 0;
    return done(&r, err_desc, "MONITORS_CONFIG: heads beyond the body");
}

/* ---- images ---- */

/* Bytes of one row of `width` pixels of a SPICE_BITMAP_FMT_*, or 0. */
static uint64_t bitmap_row_bytes(uint8_t format, uint32_t width)
{
    switch (format) {
    case SPICE_BITMAP_FMT_1BIT_LE:
    case SPICE_BITMAP_FMT_1BIT_BE:
        return ((uint64_t)width + 7) / 8;
    case SPICE_BITMAP_FMT_4BIT_LE:
    case SPICE_BITMAP_FMT_4BIT_BE:
        return ((uint64_t)width + 1) / 2;
    case SPICE_BITMAP_FMT_8BIT:
    case SPICE_BITMAP_FMT_8BIT_A:
        return width;
    case SPICE_BITMAP_FMT_16BIT:
        return (uint64_t)width * 2;
    case SPICE_BITMAP_FMT_24BIT:
        return (uint64_t)width * 3;
    case SPICE_BITMAP_FMT_32BIT:
    case SPICE_BITMAP_FMT_RGBA:
        return (uint64_t)width * 4;
    default:
        return 0;
    }
}

/* The palette reference of BitmapData and LZPLTData: a u64 id when the
 * flags say PAL_FROM_CACHE, else a u32 offset to Palette {u64 unique;
 * u16 num_ents; u32 ents[]} (0 = none). */
static int read_palette(struct byte_reader *r, const uint8_t *body, size_t len, uint8_t flags,
                        struct server_image *out, const char **err_desc)
{
    if (flags & SPICE_BITMAP_FLAGS_PAL_FROM_CACHE) {
        out->palette_from_cache = true;
        out->palette_id = read_u64(r);
        return 0;
    }
    uint32_t offset = read_u32(r);
    if (offset == 0) {
        return 0;
    }
    struct byte_reader pr;
    reader_init(&pr, body, len);
    reader_seek(&pr, offset);
    out->palette_id = read_u64(&pr);
    out->num_palette = read_u16(&pr);
    out->palette = read_bytes(&pr, (size_t)out->num_palette * 4);
    if (!reader_ok(&pr)) {
        return fail(err_desc, "image: palette beyond the body", CLOVE_E_INVALID);
    }
    return 0;
}

int server_parse_image(const uint8_t *body, size_t len, uint32_t offset, struct server_image *out,
                       const char **err_desc)
{
    *out = (struct server_image){0};
    struct byte_reader r;
    reader_init(&r, body, len);
    reader_seek(&r, offset);
    out->id = read_u64(&r);
    out->type = read_u8(&r);
    out->flags = read_u8(&r);
    out->width = read_u32(&r);
    out->height = read_u32(&r);
    if (!reader_ok(&r)) {
        return fail(err_desc, "image: descriptor beyond the body", CLOVE_E_INVALID);
    }
    bool needs_dims = out->type != SPICE_IMAGE_TYPE_FROM_CACHE &&
                      out->type != SPICE_IMAGE_TYPE_FROM_CACHE_LOSSLESS &&
                      out->type != SPICE_IMAGE_TYPE_SURFACE;
    if (needs_dims && (out->width == 0 || out->height == 0 || out->width > SERVER_PARSE_MAX_DIM ||
                       out->height > SERVER_PARSE_MAX_DIM)) {
        return fail(err_desc, "image: bad dimensions", CLOVE_E_RANGE);
    }
    switch (out->type) {
    case SPICE_IMAGE_TYPE_BITMAP: {
        out->bitmap.format = read_u8(&r);
        out->bitmap.flags = read_u8(&r);
        uint32_t x = read_u32(&r);
        uint32_t y = read_u32(&r);
        out->bitmap.stride = read_u32(&r);
        int rc = read_palette(&r, body, len, out->bitmap.flags, out, err_desc);
        if (rc < 0) {
            return rc;
        }
        if (!reader_ok(&r)) {
            return fail(err_desc, "image: bitmap header beyond the body", CLOVE_E_INVALID);
        }
        if (x == 0 || y == 0 || x > SERVER_PARSE_MAX_DIM || y > SERVER_PARSE_MAX_DIM) {
            return fail(err_desc, "image: bad bitmap dimensions", CLOVE_E_RANGE);
        }
        uint64_t row = bitmap_row_bytes(out->bitmap.format, x);
        if (row == 0) {
            return fail(err_desc, "image: unknown bitmap format", CLOVE_E_UNSUPPORTED);
        }
        if (out->bitmap.stride < row) {
            return fail(err_desc, "image: bitmap stride below the row size", CLOVE_E_INVALID);
        }
        out->width = x;
        out->height = y;
        uint64_t size = (uint64_t)out->bitmap.stride * y;
        if (size > reader_remaining(&r)) {
            return fail(err_desc, "image: bitmap pixels beyond the body", CLOVE_E_INVALID);
        }
        out->size = (size_t)size;
        out->data = read_bytes(&r, out->size);
        return 0;
    }
    case SPICE_IMAGE_TYPE_QUIC:
    case SPICE_IMAGE_TYPE_LZ_RGB:
    case SPICE_IMAGE_TYPE_GLZ_RGB:
    case SPICE_IMAGE_TYPE_JPEG:
    case SPICE_IMAGE_TYPE_LZ4: {
        uint32_t size = read_u32(&r);
        out->data = read_bytes(&r, size);
        out->size = size;
        if (!reader_ok(&r)) {
            return fail(err_desc, "image: data beyond the body", CLOVE_E_INVALID);
        }
        return 0;
    }
    case SPICE_IMAGE_TYPE_LZ_PLT: {
        out->lz_plt_flags = read_u8(&r);
        uint32_t size = read_u32(&r);
        int rc = read_palette(&r, body, len, out->lz_plt_flags, out, err_desc);
        if (rc < 0) {
            return rc;
        }
        out->data = read_bytes(&r, size);
        out->size = size;
        if (!reader_ok(&r)) {
            return fail(err_desc, "image: LZ_PLT data beyond the body", CLOVE_E_INVALID);
        }
        return 0;
    }
    case SPICE_IMAGE_TYPE_ZLIB_GLZ_RGB:
    case SPICE_IMAGE_TYPE_JPEG_ALPHA: {
        size_t start = r.pos;
        size_t head = out->type == SPICE_IMAGE_TYPE_JPEG_ALPHA ? 9 : 8;
        if (out->type == SPICE_IMAGE_TYPE_JPEG_ALPHA) {
            read_u8(&r);  /* flags */
            read_u32(&r); /* jpeg_size */
        } else {
            read_u32(&r); /* glz_data_size */
        }
        uint32_t size = read_u32(&r);
        read_bytes(&r, size);
        if (!reader_ok(&r)) {
            return fail(err_desc, "image: data beyond the body", CLOVE_E_INVALID);
        }
        out->data = body + start;
        out->size = head + (size_t)size;
        return 0;
    }
    case SPICE_IMAGE_TYPE_SURFACE:
        out->surface_id = read_u32(&r);
        if (!reader_ok(&r)) {
            return fail(err_desc, "image: surface id beyond the body", CLOVE_E_INVALID);
        }
        return 0;
    case SPICE_IMAGE_TYPE_FROM_CACHE:
    case SPICE_IMAGE_TYPE_FROM_CACHE_LOSSLESS:
        return 0;
    default:
        return fail(err_desc, "image: unknown image type", CLOVE_E_UNSUPPORTED);
    }
}

/* ---- draw messages ---- */

static struct wire_rect read_rect(struct byte_reader *r)
{
    struct wire_rect rect;
    rect.top = read_i32(r);
    rect.left = read_i32(r);
    rect.bottom = read_i32(r);
    rect.right = read_i32(r);
    return rect;
}

static int read_base(struct byte_reader *r, struct server_draw *out, const char **err_desc)
{
    out->surface_id = read_u32(r);
    out->box = read_rect(r);
    out->clip_type = read_u8(r);
    if (out->clip_type == SPICE_CLIP_TYPE_RECTS) {
        out->num_clip_rects = read_u32(r);
        if (out->num_clip_rects > SERVER_PARSE_MAX_CLIP_RECTS) {
            return fail(err_desc, "draw: too many clip rects", CLOVE_E_RANGE);
        }
        out->clip_rects = read_bytes(r, (size_t)out->num_clip_rects * 16);
    } else if (out->clip_type != SPICE_CLIP_TYPE_NONE) {
        return fail(err_desc, "draw: unknown clip type", CLOVE_E_INVALID);
    }
    if (!reader_ok(r)) {
        return fail(err_desc, "draw: short DisplayBase", CLOVE_E_INVALID);
    }
    return 0;
}

/* QMask {u8 flags; Point pos; Image *bitmap}: only "no mask" is drawn. */
static int read_no_mask(struct byte_reader *r, const char **err_desc)
{
    read_u8(r);
    read_u32(r);
    read_u32(r);
    uint32_t bitmap = read_u32(r);
    if (!reader_ok(r)) {
        return fail(err_desc, "draw: short mask", CLOVE_E_INVALID);
    }
    if (bitmap != 0) {
        return fail(err_desc, "draw: masks are not supported", CLOVE_E_UNSUPPORTED);
    }
    return 0;
}

static int parse_composite(struct byte_reader *r, const uint8_t *data, size_t len,
                           struct server_draw *out, const char **err_desc)
{
    uint32_t flags = read_u32(r);
    out->u.composite.flags = flags;
    uint32_t src = read_u32(r);
    uint32_t mask = 0;
    if (flags & SPICE_COMPOSITE_HAS_MASK) {
        mask = read_u32(r);
    }
    out->u.composite.has_src_transform = (flags & SPICE_COMPOSITE_HAS_SRC_TRANSFORM) != 0;
    out->u.composite.has_mask_transform = (flags & SPICE_COMPOSITE_HAS_MASK_TRANSFORM) != 0;
    for (int i = 0; out->u.composite.has_src_transform && i < 6; i++) {
        out->u.composite.src_transform[i] = read_u32(r);
    }
    for (int i = 0; out->u.composite.has_mask_transform && i < 6; i++) {
        out->u.composite.mask_transform[i] = read_u32(r);
    }
    out->u.composite.src_origin_x = (int16_t)read_u16(r);
    out->u.composite.src_origin_y = (int16_t)read_u16(r);
    out->u.composite.mask_origin_x = (int16_t)read_u16(r);
    out->u.composite.mask_origin_y = (int16_t)read_u16(r);
    if (!reader_ok(r)) {
        return fail(err_desc, "DRAW_COMPOSITE: short body", CLOVE_E_INVALID);
    }
    if (src == 0) {
        return fail(err_desc, "DRAW_COMPOSITE: no source image", CLOVE_E_INVALID);
    }
    int rc = server_parse_image(data, len, src, &out->u.composite.src, err_desc);
    if (rc < 0) {
        return rc;
    }
    if (mask != 0) {
        out->u.composite.has_mask = true;
        rc = server_parse_image(data, len, mask, &out->u.composite.mask, err_desc);
    }
    return rc;
}

int server_parse_draw(uint16_t type, const uint8_t *data, size_t len, struct server_draw *out,
                      const char **err_desc)
{
    *out = (struct server_draw){0};
    out->type = type;
    struct byte_reader r;
    reader_init(&r, data, len);
    int rc = read_base(&r, out, err_desc);
    if (rc < 0) {
        return rc;
    }
    switch (type) {
    case SPICE_MSG_DISPLAY_DRAW_FILL: {
        uint8_t brush = read_u8(&r);
        if (brush == SPICE_BRUSH_TYPE_SOLID) {
            out->u.fill.color = read_u32(&r);
        } else if (brush == SPICE_BRUSH_TYPE_PATTERN) {
            return fail(err_desc, "DRAW_FILL: pattern brushes are not supported",
                        CLOVE_E_UNSUPPORTED);
        } else if (brush != SPICE_BRUSH_TYPE_NONE) {
            return fail(err_desc, "DRAW_FILL: unknown brush type", CLOVE_E_INVALID);
        }
        out->u.fill.rop_descriptor = read_u16(&r);
        rc = read_no_mask(&r, err_desc);
        if (rc == 0 && brush == SPICE_BRUSH_TYPE_NONE) {
            rc = fail(err_desc, "DRAW_FILL: no brush", CLOVE_E_UNSUPPORTED);
        }
        break;
    }
    case SPICE_MSG_DISPLAY_DRAW_COPY: {
        uint32_t src = read_u32(&r);
        out->u.copy.src_area = read_rect(&r);
        out->u.copy.rop_descriptor = read_u16(&r);
        out->u.copy.scale_mode = read_u8(&r);
        rc = read_no_mask(&r, err_desc);
        if (rc == 0 && src != 0) {
            out->u.copy.has_src = true;
            rc = server_parse_image(data, len, src, &out->u.copy.src, err_desc);
        }
        break;
    }
    case SPICE_MSG_DISPLAY_COPY_BITS:
        out->u.copy_bits.src_pos.x = read_i32(&r);
        out->u.copy_bits.src_pos.y = read_i32(&r);
        rc = reader_ok(&r) ? 0 : fail(err_desc, "COPY_BITS: short body", CLOVE_E_INVALID);
        break;
    case SPICE_MSG_DISPLAY_DRAW_BLACKNESS:
    case SPICE_MSG_DISPLAY_DRAW_WHITENESS:
    case SPICE_MSG_DISPLAY_DRAW_INVERS:
        rc = read_no_mask(&r, err_desc);
        break;
    case SPICE_MSG_DISPLAY_DRAW_COMPOSITE:
        rc = parse_composite(&r, data, len, out, err_desc);
        break;
    default:
        return fail(err_desc, "draw: unsupported draw type", CLOVE_E_UNSUPPORTED);
    }
    if (rc < 0) {
        return rc;
    }
    return done(&r, err_desc, "draw: short body");
}

struct wire_rect server_draw_clip_rect(const struct server_draw *d, uint32_t i)
{
    struct byte_reader r;
    reader_init(&r, d->clip_rects + (size_t)i * 16, 16);
    return read_rect(&r);
}
