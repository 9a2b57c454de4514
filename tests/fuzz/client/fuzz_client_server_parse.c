/*
 * libFuzzer target for the pure parsers of src/proto/server_parse.c alone,
 * without a session: much faster than fuzz_client_server_msg, so it goes
 * deeper into the pointer-following parts (images, palettes, patterns,
 * masks, paths, line styles, glyph strings, stream headers).
 *
 * Input: {u16 type; body...} (little endian); the body is the rest of the
 * input, copied so that ASan sees any read past it. Every parser must
 * either fail with an err_desc or return a length within the body, and
 * every pointer it returns must lie inside the body (checked, then read).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/protocol.h>

#include "common/error.h"
#include "proto/server_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) \
    do {                  \
        if (!(cond)) {    \
            abort();      \
        }                 \
    } while (0)

static volatile uint32_t sink;

static const uint8_t *body_start;
static size_t body_len;

/* Checks that [p, p + n) lies inside the body, then reads it. */
static void touch(const uint8_t *p, size_t n)
{
    if (!p || n == 0) {
        return;
    }
    FUZZ_ASSERT(p >= body_start && n <= body_len && (size_t)(p - body_start) <= body_len - n);
    uint32_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += p[i];
    }
    sink += sum;
}

static void touch_image(const struct server_image *img)
{
    touch(img->data, img->size);
    touch(img->palette, (size_t)img->num_palette * 4);
}

static void touch_brush(const struct server_brush *b)
{
    if (b->type == SPICE_BRUSH_TYPE_PATTERN) {
        touch_image(&b->pattern);
    }
}

/* Walks a parsed path and string the way the client copies them. */
static void walk_path(const struct server_path *p)
{
    struct byte_reader r;
    reader_init(&r, p->segments, p->size);
    uint64_t points = 0;
    for (uint32_t i = 0; i < p->num_segments; i++) {
        read_u8(&r);
        uint32_t count = read_u32(&r);
        read_bytes(&r, (size_t)count * 8);
        points += count;
    }
    FUZZ_ASSERT(reader_ok(&r) && r.pos == p->size && points == p->num_points);
}

static void walk_string(const struct server_string *s)
{
    struct byte_reader r;
    reader_init(&r, s->glyphs, s->size);
    for (uint16_t i = 0; i < s->length; i++) {
        read_bytes(&r, 16);
        uint16_t w = read_u16(&r);
        uint16_t h = read_u16(&r);
        read_bytes(&r, (size_t)server_glyph_size(s->flags, w, h));
    }
    FUZZ_ASSERT(reader_ok(&r) && r.pos == s->size);
}

/* A complete draw with a raw bitmap source: what the prefix parser says
 * (used to place the pixels, or to write them straight into the surface)
 * is what the full parse found. */
static void check_draw_raw(uint16_t type, const uint8_t *body, size_t len,
                           const struct server_draw *d)
{
    struct server_draw_raw raw;
    int rc = server_parse_draw_raw(type, body, len, &raw);
    FUZZ_ASSERT(rc == 0 || rc == CLOVE_E_AGAIN || rc == CLOVE_E_UNSUPPORTED);
    const struct server_image *src = NULL;
    if ((type == SPICE_MSG_DISPLAY_DRAW_COPY || type == SPICE_MSG_DISPLAY_DRAW_BLEND) &&
        d->u.copy.has_src) {
        src = &d->u.copy.src;
    } else if (type == SPICE_MSG_DISPLAY_DRAW_OPAQUE && d->u.opaque.has_src) {
        src = &d->u.opaque.src;
    }
    if (!src || src->type != SPICE_IMAGE_TYPE_BITMAP) {
        return;
    }
    FUZZ_ASSERT(rc == 0 && raw.pixels_offset == (size_t)(src->data - body));
    FUZZ_ASSERT(raw.surface_id == d->surface_id && raw.clip_type == d->clip_type);
    FUZZ_ASSERT(memcmp(&raw.box, &d->box, sizeof(raw.box)) == 0);
    FUZZ_ASSERT(raw.image_flags == src->flags && raw.width == src->width &&
                raw.height == src->height && raw.bitmap_format == src->bitmap.format &&
                raw.bitmap_flags == src->bitmap.flags && raw.stride == src->bitmap.stride);
    FUZZ_ASSERT(raw.is_copy == (type == SPICE_MSG_DISPLAY_DRAW_COPY));
    if (raw.is_copy) {
        FUZZ_ASSERT(memcmp(&raw.src_area, &d->u.copy.src_area, sizeof(raw.src_area)) == 0);
        FUZZ_ASSERT(raw.rop_descriptor == d->u.copy.rop_descriptor);
        FUZZ_ASSERT(raw.has_mask == d->mask.has_bitmap);
    }
}

static void check_draw(uint16_t type, const uint8_t *body, size_t len)
{
    struct server_draw d;
    const char *err = NULL;
    int rc = server_parse_draw(type, body, len, &d, &err);
    FUZZ_ASSERT(rc < 0 ? err != NULL : (size_t)rc <= len);
    if (rc < 0) {
        struct server_draw_raw raw;
        (void)server_parse_draw_raw(type, body, len, &raw);
        return;
    }
    check_draw_raw(type, body, len, &d);
    touch(d.clip_rects, (size_t)d.num_clip_rects * 16);
    if (d.mask.has_bitmap) {
        touch_image(&d.mask.bitmap);
    }
    switch (type) {
    case SPICE_MSG_DISPLAY_DRAW_FILL:
        touch_brush(&d.u.fill.brush);
        break;
    case SPICE_MSG_DISPLAY_DRAW_COPY:
    case SPICE_MSG_DISPLAY_DRAW_BLEND:
        if (d.u.copy.has_src) {
            touch_image(&d.u.copy.src);
        }
        break;
    case SPICE_MSG_DISPLAY_DRAW_OPAQUE:
        if (d.u.opaque.has_src) {
            touch_image(&d.u.opaque.src);
        }
        touch_brush(&d.u.opaque.brush);
        break;
    case SPICE_MSG_DISPLAY_DRAW_ROP3:
        if (d.u.rop3.has_src) {
            touch_image(&d.u.rop3.src);
        }
        touch_brush(&d.u.rop3.brush);
        break;
    case SPICE_MSG_DISPLAY_DRAW_STROKE:
        touch(d.u.stroke.path.segments, d.u.stroke.path.size);
        walk_path(&d.u.stroke.path);
        if (d.u.stroke.attr.style) {
            touch(d.u.stroke.attr.style, (size_t)d.u.stroke.attr.style_nseg * 4);
        }
        touch_brush(&d.u.stroke.brush);
        break;
    case SPICE_MSG_DISPLAY_DRAW_TEXT:
        touch(d.u.text.str.glyphs, d.u.text.str.size);
        walk_string(&d.u.text.str);
        touch_brush(&d.u.text.fore_brush);
        touch_brush(&d.u.text.back_brush);
        break;
    case SPICE_MSG_DISPLAY_DRAW_TRANSPARENT:
        if (d.u.transparent.has_src) {
            touch_image(&d.u.transparent.src);
        }
        break;
    case SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND:
        if (d.u.alpha_blend.has_src) {
            touch_image(&d.u.alpha_blend.src);
        }
        break;
    case SPICE_MSG_DISPLAY_DRAW_COMPOSITE:
        touch_image(&d.u.composite.src);
        if (d.u.composite.has_mask) {
            touch_image(&d.u.composite.mask);
        }
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    uint16_t type = (uint16_t)(data[0] | data[1] << 8);
    size_t len = size - 2;
    uint8_t *body = malloc(len ? len : 1);
    if (!body) {
        return 0;
    }
    memcpy(body, data + 2, len);
    body_start = body;
    body_len = len;
    /* Map the type onto the draw and stream messages most of the time. */
    check_draw(type, body, len);
    check_draw((uint16_t)(SPICE_MSG_DISPLAY_DRAW_FILL + type % 17), body, len);
    struct server_stream st;
    const char *err = NULL;
    int rc = server_parse_stream((uint16_t)(SPICE_MSG_DISPLAY_STREAM_CREATE + type % 5), body, len,
                                 &st, &err);
    FUZZ_ASSERT(rc < 0 ? err != NULL : (size_t)rc <= len);
    if (rc >= 0) {
        touch(st.data, st.data_size);
    }
    err = NULL;
    rc = server_parse_stream(type, body, len, &st, &err);
    FUZZ_ASSERT(rc < 0 ? err != NULL : (size_t)rc <= len);
    uint16_t count = 0;
    const uint8_t *res = NULL;
    err = NULL;
    rc = server_parse_inval_list(body, len, &count, &res, &err);
    FUZZ_ASSERT(rc < 0 ? err != NULL : (size_t)rc <= len);
    if (rc >= 0) {
        touch(res, (size_t)count * 9);
    }
    struct server_image img;
    err = NULL;
    if (len >= 4 && server_parse_image(body, len, body[0] % 64, &img, &err) == 0) {
        touch_image(&img);
    }
    free(body);
    return 0;
}
