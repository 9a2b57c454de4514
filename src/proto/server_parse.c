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

int server_parse_main_mouse_mode(const uint8_t *data, size_t len, uint16_t *supported,
                                 uint16_t *current, const char **err_desc)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    *supported = read_u16(&r);
    *current = read_u16(&r);
    return done(&r, err_desc, "MOUSE_MODE: short body");
}

int server_parse_main_name(const uint8_t *data, size_t len, const uint8_t **name,
                           uint32_t *name_len, const char **err_desc)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    *name_len = read_u32(&r);
    *name = read_bytes(&r, *name_len);
    if (!reader_ok(&r)) {
        *name = NULL;
        *name_len = 0;
    }
    return done(&r, err_desc, "NAME: name beyond the body");
}

int server_parse_main_u32(uint16_t type, const uint8_t *data, size_t len, uint32_t *value,
                          const char **err_desc)
{
    if (type != SPICE_MSG_MAIN_MULTI_MEDIA_TIME && type != SPICE_MSG_MAIN_AGENT_DISCONNECTED &&
        type != SPICE_MSG_MAIN_AGENT_TOKEN && type != SPICE_MSG_MAIN_AGENT_CONNECTED_TOKENS) {
        return fail(err_desc, "main: not a one-u32 message", CLOVE_E_UNSUPPORTED);
    }
    struct byte_reader r;
    reader_init(&r, data, len);
    *value = read_u32(&r);
    return done(&r, err_desc, "main: short body");
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
    *count = 0;
    if (!reader_ok(&r)) {
        return fail(err_desc, "MONITORS_CONFIG: short body", CLOVE_E_INVALID);
    }
    if ((size_t)n * 28 > reader_remaining(&r)) {
        return fail(err_desc, "MONITORS_CONFIG: heads beyond the body", CLOVE_E_INVALID);
    }
    uint16_t keep = n < max_heads ? n : max_heads;
    if (keep > SERVER_PARSE_MAX_HEADS) {
        keep = SERVER_PARSE_MAX_HEADS;
    }
    for (uint16_t i = 0; i < n; i++) {
        struct wire_head h;
        h.id = read_u32(&r);
        h.surface_id = read_u32(&r);
        h.width = read_u32(&r);
        h.height = read_u32(&r);
        h.x = read_u32(&r);
        h.y = read_u32(&r);
        h.flags = read_u32(&r);
        if (i < keep) {
            heads[i] = h;
        }
    }
    *count = keep;
    return done(&r, err_desc, "MONITORS_CONFIG: heads beyond the body");
}

int server_parse_inval_list(const uint8_t *data, size_t len, uint16_t *count,
                            const uint8_t **resources, const char **err_desc)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    *count = read_u16(&r);
    *resources = read_bytes(&r, (size_t)*count * 9);
    if (!reader_ok(&r)) {
        *count = 0;
    }
    return done(&r, err_desc, "INVAL_LIST: resources beyond the body");
}

void server_inval_list_item(const uint8_t *resources, uint16_t i, uint8_t *type, uint64_t *id)
{
    struct byte_reader r;
    reader_init(&r, resources + (size_t)i * 9, 9);
    *type = read_u8(&r);
    *id = read_u64(&r);
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

/* A pointer field: u32 offset from the start of the body, 0 = NULL. */
static int read_image_ptr(struct byte_reader *r, const uint8_t *data, size_t len, bool *has,
                          struct server_image *out, const char **err_desc)
{
    uint32_t offset = read_u32(r);
    *has = false;
    if (!reader_ok(r) || offset == 0) {
        return 0; /* a short body is reported by the caller */
    }
    *has = true;
    return server_parse_image(data, len, offset, out, err_desc);
}

static struct wire_point read_point(struct byte_reader *r)
{
    struct wire_point p;
    p.x = read_i32(r);
    p.y = read_i32(r);
    return p;
}

/* QMask {u8 flags; Point pos; Image *bitmap}. */
static int read_mask(struct byte_reader *r, const uint8_t *data, size_t len,
                     struct server_qmask *out, const char **err_desc)
{
    out->flags = read_u8(r);
    out->pos = read_point(r);
    int rc = read_image_ptr(r, data, len, &out->has_bitmap, &out->bitmap, err_desc);
    if (rc < 0) {
        return rc;
    }
    if (!reader_ok(r)) {
        return fail(err_desc, "draw: short mask", CLOVE_E_INVALID);
    }
    return 0;
}

/* Brush {u8 type; SOLID: u32 color; PATTERN: Image *pat (non-NULL), Point pos}. */
static int read_brush(struct byte_reader *r, const uint8_t *data, size_t len,
                      struct server_brush *out, const char **err_desc)
{
    out->type = read_u8(r);
    switch (out->type) {
    case SPICE_BRUSH_TYPE_NONE:
        break;
    case SPICE_BRUSH_TYPE_SOLID:
        out->color = read_u32(r);
        break;
    case SPICE_BRUSH_TYPE_PATTERN: {
        bool has = false;
        int rc = read_image_ptr(r, data, len, &has, &out->pattern, err_desc);
        if (rc < 0) {
            return rc;
        }
        out->pos = read_point(r);
        if (reader_ok(r) && !has) {
            return fail(err_desc, "draw: pattern brush without an image", CLOVE_E_INVALID);
        }
        break;
    }
    default:
        return fail(err_desc, "draw: unknown brush type", CLOVE_E_INVALID);
    }
    if (!reader_ok(r)) {
        return fail(err_desc, "draw: short brush", CLOVE_E_INVALID);
    }
    return 0;
}

/* The {Image *src_bitmap; Rect src_area} head of OPAQUE, COPY, BLEND, ROP3,
 * TRANSPARENT and ALPHA_BLEND. */
static int read_src(struct byte_reader *r, const uint8_t *data, size_t len, bool *has,
                    struct server_image *src, struct wire_rect *area, const char **err_desc)
{
    int rc = read_image_ptr(r, data, len, has, src, err_desc);
    *area = read_rect(r);
    return rc;
}

/*
 * Path *path (non-NULL): Path {u32 num_segments; PathSegment segments[]},
 * the segments back to back, each {u8 flags; u32 count; PointFix
 * points[count]}.
 */
static int read_path(struct byte_reader *r, const uint8_t *data, size_t len,
                     struct server_path *out, const char **err_desc)
{
    uint32_t offset = read_u32(r);
    if (!reader_ok(r)) {
        return fail(err_desc, "DRAW_STROKE: short body", CLOVE_E_INVALID);
    }
    if (offset == 0) {
        return fail(err_desc, "DRAW_STROKE: no path", CLOVE_E_INVALID);
    }
    struct byte_reader pr;
    reader_init(&pr, data, len);
    reader_seek(&pr, offset);
    out->num_segments = read_u32(&pr);
    if (!reader_ok(&pr)) {
        return fail(err_desc, "DRAW_STROKE: path beyond the body", CLOVE_E_INVALID);
    }
    /* Each segment takes at least 5 bytes: this bounds the loop by the body. */
    if ((uint64_t)out->num_segments * 5 > reader_remaining(&pr)) {
        return fail(err_desc, "DRAW_STROKE: path segments beyond the body", CLOVE_E_INVALID);
    }
    size_t start = pr.pos;
    uint64_t points = 0;
    for (uint32_t i = 0; i < out->num_segments; i++) {
        read_u8(&pr);
        uint32_t count = read_u32(&pr);
        if (!reader_ok(&pr) || (uint64_t)count * 8 > reader_remaining(&pr)) {
            return fail(err_desc, "DRAW_STROKE: path points beyond the body", CLOVE_E_INVALID);
        }
        points += count;
        if (points > SERVER_PARSE_MAX_PATH_POINTS) {
            return fail(err_desc, "DRAW_STROKE: too many path points", CLOVE_E_RANGE);
        }
        read_bytes(&pr, (size_t)count * 8);
    }
    out->num_points = (uint32_t)points;
    out->segments = data + start;
    out->size = pr.pos - start;
    return 0;
}

/* LineAttr {u8 flags; STYLED: u8 style_nseg; STYLED: fixed28_4 *style[style_nseg]}. */
static int read_line_attr(struct byte_reader *r, const uint8_t *data, size_t len,
                          struct server_line_attr *out, const char **err_desc)
{
    out->flags = read_u8(r);
    if (!(out->flags & SPICE_LINE_FLAGS_STYLED)) {
        return 0;
    }
    out->style_nseg = read_u8(r);
    uint32_t offset = read_u32(r);
    if (!reader_ok(r)) {
        return fail(err_desc, "DRAW_STROKE: short line attributes", CLOVE_E_INVALID);
    }
    if (offset == 0) {
        out->style_nseg = 0;
        return 0;
    }
    struct byte_reader sr;
    reader_init(&sr, data, len);
    reader_seek(&sr, offset);
    out->style = read_bytes(&sr, (size_t)out->style_nseg * 4);
    if (!reader_ok(&sr)) {
        return fail(err_desc, "DRAW_STROKE: line style beyond the body", CLOVE_E_INVALID);
    }
    return 0;
}

uint64_t server_glyph_size(uint8_t string_flags, uint16_t width, uint16_t height)
{
    unsigned bpp;
    if (string_flags & SPICE_STRING_FLAGS_RASTER_A1) {
        bpp = 1;
    } else if (string_flags & SPICE_STRING_FLAGS_RASTER_A4) {
        bpp = 4;
    } else if (string_flags & SPICE_STRING_FLAGS_RASTER_A8) {
        bpp = 8;
    } else {
        return 0;
    }
    return (((uint64_t)width * bpp + 7) / 8) * height;
}

/* String *str (non-NULL): {u16 length; u8 flags; RasterGlyph glyphs[length]}. */
static int read_string(struct byte_reader *r, const uint8_t *data, size_t len,
                       struct server_string *out, const char **err_desc)
{
    uint32_t offset = read_u32(r);
    if (!reader_ok(r)) {
        return fail(err_desc, "DRAW_TEXT: short body", CLOVE_E_INVALID);
    }
    if (offset == 0) {
        return fail(err_desc, "DRAW_TEXT: no string", CLOVE_E_INVALID);
    }
    struct byte_reader sr;
    reader_init(&sr, data, len);
    reader_seek(&sr, offset);
    out->length = read_u16(&sr);
    out->flags = read_u8(&sr);
    if (!reader_ok(&sr)) {
        return fail(err_desc, "DRAW_TEXT: string beyond the body", CLOVE_E_INVALID);
    }
    /* As the reference demarshaller: the first raster format present wins
     * (A1, then A4, then A8), and with none no glyph follows. */
    if (server_glyph_size(out->flags, 1, 1) == 0) {
        out->length = 0;
    }
    size_t start = sr.pos;
    for (uint16_t i = 0; i < out->length; i++) {
        read_point(&sr);
        read_point(&sr);
        uint16_t width = read_u16(&sr);
        uint16_t height = read_u16(&sr);
        uint64_t size = server_glyph_size(out->flags, width, height);
        if (!reader_ok(&sr) || size > reader_remaining(&sr)) {
            return fail(err_desc, "DRAW_TEXT: glyphs beyond the body", CLOVE_E_INVALID);
        }
        read_bytes(&sr, (size_t)size);
    }
    out->glyphs = data + start;
    out->size = sr.pos - start;
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

/* The type-specific part of every draw but COMPOSITE (spice.proto DisplayChannel). */
static int parse_draw_body(uint16_t type, struct byte_reader *r, const uint8_t *data, size_t len,
                           struct server_draw *out, const char **err_desc)
{
    int rc;
    switch (type) {
    case SPICE_MSG_DISPLAY_DRAW_FILL:
        rc = read_brush(r, data, len, &out->u.fill.brush, err_desc);
        out->u.fill.rop_descriptor = read_u16(r);
        return rc < 0 ? rc : read_mask(r, data, len, &out->mask, err_desc);
    case SPICE_MSG_DISPLAY_DRAW_OPAQUE:
        rc = read_src(r, data, len, &out->u.opaque.has_src, &out->u.opaque.src,
                      &out->u.opaque.src_area, err_desc);
        if (rc == 0) {
            rc = read_brush(r, data, len, &out->u.opaque.brush, err_desc);
        }
        out->u.opaque.rop_descriptor = read_u16(r);
        out->u.opaque.scale_mode = read_u8(r);
        return rc < 0 ? rc : read_mask(r, data, len, &out->mask, err_desc);
    case SPICE_MSG_DISPLAY_DRAW_COPY:
    case SPICE_MSG_DISPLAY_DRAW_BLEND:
        rc = read_src(r, data, len, &out->u.copy.has_src, &out->u.copy.src, &out->u.copy.src_area,
                      err_desc);
        out->u.copy.rop_descriptor = read_u16(r);
        out->u.copy.scale_mode = read_u8(r);
        return rc < 0 ? rc : read_mask(r, data, len, &out->mask, err_desc);
    case SPICE_MSG_DISPLAY_DRAW_BLACKNESS:
    case SPICE_MSG_DISPLAY_DRAW_WHITENESS:
    case SPICE_MSG_DISPLAY_DRAW_INVERS:
        return read_mask(r, data, len, &out->mask, err_desc);
    case SPICE_MSG_DISPLAY_DRAW_ROP3:
        rc = read_src(r, data, len, &out->u.rop3.has_src, &out->u.rop3.src, &out->u.rop3.src_area,
                      err_desc);
        if (rc == 0) {
            rc = read_brush(r, data, len, &out->u.rop3.brush, err_desc);
        }
        out->u.rop3.rop3 = read_u8(r);
        out->u.rop3.scale_mode = read_u8(r);
        return rc < 0 ? rc : read_mask(r, data, len, &out->mask, err_desc);
    case SPICE_MSG_DISPLAY_DRAW_STROKE:
        rc = read_path(r, data, len, &out->u.stroke.path, err_desc);
        if (rc == 0) {
            rc = read_line_attr(r, data, len, &out->u.stroke.attr, err_desc);
        }
        if (rc == 0) {
            rc = read_brush(r, data, len, &out->u.stroke.brush, err_desc);
        }
        out->u.stroke.fore_mode = read_u16(r);
        out->u.stroke.back_mode = read_u16(r);
        return rc;
    case SPICE_MSG_DISPLAY_DRAW_TEXT:
        rc = read_string(r, data, len, &out->u.text.str, err_desc);
        out->u.text.back_area = read_rect(r);
        if (rc == 0) {
            rc = read_brush(r, data, len, &out->u.text.fore_brush, err_desc);
        }
        if (rc == 0) {
            rc = read_brush(r, data, len, &out->u.text.back_brush, err_desc);
        }
        out->u.text.fore_mode = read_u16(r);
        out->u.text.back_mode = read_u16(r);
        return rc;
    case SPICE_MSG_DISPLAY_DRAW_TRANSPARENT:
        rc = read_src(r, data, len, &out->u.transparent.has_src, &out->u.transparent.src,
                      &out->u.transparent.src_area, err_desc);
        out->u.transparent.src_color = read_u32(r);
        out->u.transparent.true_color = read_u32(r);
        return rc;
    case SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND:
        out->u.alpha_blend.alpha_flags = read_u8(r);
        out->u.alpha_blend.alpha = read_u8(r);
        return read_src(r, data, len, &out->u.alpha_blend.has_src, &out->u.alpha_blend.src,
                        &out->u.alpha_blend.src_area, err_desc);
    case SPICE_MSG_DISPLAY_COPY_BITS:
        out->u.copy_bits.src_pos = read_point(r);
        return 0;
    case SPICE_MSG_DISPLAY_DRAW_COMPOSITE:
        return parse_composite(r, data, len, out, err_desc);
    default:
        return fail(err_desc, "draw: unsupported draw type", CLOVE_E_UNSUPPORTED);
    }
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
    rc = parse_draw_body(type, &r, data, len, out, err_desc);
    if (rc < 0) {
        return rc;
    }
    return done(&r, err_desc, "draw: short body");
}

int server_parse_draw_raw(uint16_t type, const uint8_t *data, size_t len,
                          struct server_draw_raw *out)
{
    if (type != SPICE_MSG_DISPLAY_DRAW_COPY && type != SPICE_MSG_DISPLAY_DRAW_OPAQUE &&
        type != SPICE_MSG_DISPLAY_DRAW_BLEND) {
        return CLOVE_E_UNSUPPORTED;
    }
    struct byte_reader r;
    reader_init(&r, data, len);
    struct server_draw base;
    const char *err = NULL;
    if (read_base(&r, &base, &err) < 0) {
        return reader_ok(&r) ? CLOVE_E_UNSUPPORTED : CLOVE_E_AGAIN;
    }
    *out = (struct server_draw_raw){
            .type = type,
            .surface_id = base.surface_id,
            .box = base.box,
            .clip_type = base.clip_type,
            .is_copy = type == SPICE_MSG_DISPLAY_DRAW_COPY,
    };
    /* Copy, Opaque and Blend all start with the source image's offset; Copy
     * goes on with {Rect src_area; u16 rop_descriptor; u8 scale_mode; QMask
     * {u8 flags; Point pos; u32 bitmap}}. */
    uint32_t image = read_u32(&r);
    if (out->is_copy) {
        out->src_area = read_rect(&r);
        out->rop_descriptor = read_u16(&r);
        read_bytes(&r, 1 + 1 + 8); /* scale mode, mask flags and pos */
        out->has_mask = read_u32(&r) != 0;
    }
    if (!reader_ok(&r)) {
        return CLOVE_E_AGAIN;
    }
    if (image == 0) {
        return CLOVE_E_UNSUPPORTED; /* no source */
    }
    /* ImageDescriptor {u64 id; u8 type, flags; u32 width, height} then
     * Bitmap {u8 format, flags; u32 x, y, stride; palette: u64 id when
     * PAL_FROM_CACHE, else u32 offset} then the pixels. */
    struct byte_reader ir;
    reader_init(&ir, data, len);
    reader_seek(&ir, image);
    read_u64(&ir);
    uint8_t image_type = read_u8(&ir);
    if (reader_ok(&ir) && image_type != SPICE_IMAGE_TYPE_BITMAP) {
        return CLOVE_E_UNSUPPORTED;
    }
    out->image_flags = read_u8(&ir);
    read_bytes(&ir, 4 + 4); /* the descriptor's size: the bitmap's own is the one drawn */
    out->bitmap_format = read_u8(&ir);
    out->bitmap_flags = read_u8(&ir);
    out->width = read_u32(&ir);
    out->height = read_u32(&ir);
    out->stride = read_u32(&ir);
    if (!reader_ok(&ir)) {
        return CLOVE_E_AGAIN;
    }
    bool pal_cached = out->bitmap_flags & SPICE_BITMAP_FLAGS_PAL_FROM_CACHE;
    out->pixels_offset = (size_t)image + 32 + (pal_cached ? 8 : 4);
    return 0;
}

struct wire_rect server_draw_clip_rect(const struct server_draw *d, uint32_t i)
{
    struct byte_reader r;
    reader_init(&r, d->clip_rects + (size_t)i * 16, 16);
    return read_rect(&r);
}

int server_parse_inval_one(const uint8_t *data, size_t len, uint64_t *id, const char **err_desc)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    *id = read_u64(&r);
    return done(&r, err_desc, "INVAL: short body");
}

/* ---- video streams ---- */

/* Clip {u8 type; RECTS: u32 num_rects; Rect rects[num_rects]}. */
static int read_clip(struct byte_reader *r, uint8_t *type, uint32_t *num_rects,
                     const char **err_desc)
{
    *type = read_u8(r);
    *num_rects = 0;
    if (*type == SPICE_CLIP_TYPE_RECTS) {
        *num_rects = read_u32(r);
        if (*num_rects > SERVER_PARSE_MAX_CLIP_RECTS) {
            return fail(err_desc, "stream: too many clip rects", CLOVE_E_RANGE);
        }
        read_bytes(r, (size_t)*num_rects * 16);
    } else if (*type != SPICE_CLIP_TYPE_NONE) {
        return fail(err_desc, "stream: unknown clip type", CLOVE_E_INVALID);
    }
    return 0;
}

int server_parse_stream(uint16_t type, const uint8_t *data, size_t len, struct server_stream *out,
                        const char **err_desc)
{
    *out = (struct server_stream){0};
    out->type = type;
    struct byte_reader r;
    reader_init(&r, data, len);
    int rc = 0;
    switch (type) {
    case SPICE_MSG_DISPLAY_STREAM_CREATE:
        out->surface_id = read_u32(&r);
        out->id = read_u32(&r);
        out->flags = read_u8(&r);
        out->codec_type = read_u8(&r);
        read_u64(&r); /* stamp */
        out->width = read_u32(&r);
        out->height = read_u32(&r);
        out->src_width = read_u32(&r);
        out->src_height = read_u32(&r);
        out->dest = read_rect(&r);
        rc = read_clip(&r, &out->clip_type, &out->num_clip_rects, err_desc);
        break;
    case SPICE_MSG_DISPLAY_STREAM_DATA:
        out->id = read_u32(&r);
        out->mm_time = read_u32(&r);
        out->data_size = read_u32(&r);
        out->data = read_bytes(&r, out->data_size);
        break;
    case SPICE_MSG_DISPLAY_STREAM_DATA_SIZED:
        out->id = read_u32(&r);
        out->mm_time = read_u32(&r);
        out->width = read_u32(&r);
        out->height = read_u32(&r);
        out->dest = read_rect(&r);
        out->data_size = read_u32(&r);
        out->data = read_bytes(&r, out->data_size);
        break;
    case SPICE_MSG_DISPLAY_STREAM_CLIP:
        out->id = read_u32(&r);
        rc = read_clip(&r, &out->clip_type, &out->num_clip_rects, err_desc);
        break;
    case SPICE_MSG_DISPLAY_STREAM_DESTROY:
        out->id = read_u32(&r);
        break;
    case SPICE_MSG_DISPLAY_STREAM_DESTROY_ALL:
        break;
    case SPICE_MSG_DISPLAY_STREAM_ACTIVATE_REPORT:
        out->id = read_u32(&r);
        out->unique_id = read_u32(&r);
        out->max_window_size = read_u32(&r);
        out->timeout_ms = read_u32(&r);
        break;
    default:
        return fail(err_desc, "stream: not a stream message", CLOVE_E_UNSUPPORTED);
    }
    if (rc < 0) {
        return rc;
    }
    rc = done(&r, err_desc, "stream: short body");
    if (rc >= 0 && out->id > SERVER_PARSE_MAX_STREAM_ID) {
        return fail(err_desc, "stream: id out of range", CLOVE_E_RANGE);
    }
    return rc;
}
