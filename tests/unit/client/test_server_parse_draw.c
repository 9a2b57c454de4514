/*
 * Tests for the draw and stream parsers of src/proto/server_parse.c that
 * the server has no writers for yet: hand-built bodies (spice.proto
 * layouts) of every draw op with pattern brushes, masks, paths, line
 * styles and glyph strings, parsed back field by field. Every proper
 * prefix of each body must be refused with a reason, and hostile pointers
 * and counts are refused without reading outside the body (run under ASan
 * to see that).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/protocol.h>

#include "check.h"
#include "common/error.h"
#include "proto/server_parse.h"

/* Every proper prefix of a body must be refused with a reason. */
static int truncations_fail(uint16_t type, const struct byte_buf *b)
{
    for (size_t n = 0; n < b->len; n++) {
        struct server_draw d;
        const char *err = NULL;
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b->data, n);
        int rc = server_parse_draw(type, copy, n, &d, &err);
        free(copy);
        if (rc >= 0 || !err) {
            return 0;
        }
    }
    return 1;
}

static int parse(uint16_t type, const struct byte_buf *b, struct server_draw *d)
{
    const char *err = NULL;
    int rc = server_parse_draw(type, b->data, b->len, d, &err);
    if (rc < 0 && !err) {
        return -100;
    }
    return rc;
}

/* DisplayBase with no clip: 21 bytes. */
static void put_base(struct byte_buf *b, uint32_t surface_id)
{
    buf_put_u32(b, surface_id);
    buf_put_u32(b, 1);  /* top */
    buf_put_u32(b, 2);  /* left */
    buf_put_u32(b, 11); /* bottom */
    buf_put_u32(b, 12); /* right */
    buf_put_u8(b, SPICE_CLIP_TYPE_NONE);
}

static void put_rect(struct byte_buf *b, int32_t top, int32_t left, int32_t bottom, int32_t right)
{
    buf_put_u32(b, (uint32_t)top);
    buf_put_u32(b, (uint32_t)left);
    buf_put_u32(b, (uint32_t)bottom);
    buf_put_u32(b, (uint32_t)right);
}

/* A u32 pointer slot to patch later; returns its position. */
static size_t put_ptr(struct byte_buf *b)
{
    size_t at = b->len;
    buf_put_u32(b, 0);
    return at;
}

static void patch_ptr(struct byte_buf *b, size_t at)
{
    put_u32le(b->data + at, (uint32_t)b->len);
}

/* A 2x2 32-bit BITMAP image with id `id` (18 + 18 + 16 bytes). */
static void put_bitmap32(struct byte_buf *b, uint64_t id)
{
    buf_put_u64(b, id);
    buf_put_u8(b, SPICE_IMAGE_TYPE_BITMAP);
    buf_put_u8(b, 0);
    buf_put_u32(b, 2);
    buf_put_u32(b, 2);
    buf_put_u8(b, SPICE_BITMAP_FMT_32BIT);
    buf_put_u8(b, SPICE_BITMAP_FLAGS_TOP_DOWN);
    buf_put_u32(b, 2);
    buf_put_u32(b, 2);
    buf_put_u32(b, 8);
    buf_put_u32(b, 0); /* no palette */
    for (uint32_t i = 0; i < 4; i++) {
        buf_put_u32(b, 0xff000000u | i);
    }
}

/* An 8x2 1-bit mask bitmap (stride 1). */
static void put_bitmap1(struct byte_buf *b, uint64_t id)
{
    buf_put_u64(b, id);
    buf_put_u8(b, SPICE_IMAGE_TYPE_BITMAP);
    buf_put_u8(b, 0);
    buf_put_u32(b, 8);
    buf_put_u32(b, 2);
    buf_put_u8(b, SPICE_BITMAP_FMT_1BIT_BE);
    buf_put_u8(b, SPICE_BITMAP_FLAGS_TOP_DOWN);
    buf_put_u32(b, 8);
    buf_put_u32(b, 2);
    buf_put_u32(b, 1);
    buf_put_u32(b, 0);
    buf_put_u8(b, 0xf0);
    buf_put_u8(b, 0x0f);
}

static void test_fill_pattern_mask(void)
{
    struct byte_buf b = {0};
    put_base(&b, 0);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_PATTERN);
    size_t pat = put_ptr(&b);
    buf_put_u32(&b, 3); /* pos.x */
    buf_put_u32(&b, (uint32_t)-4);
    buf_put_u16(&b, SPICE_ROPD_OP_PUT);
    buf_put_u8(&b, SPICE_MASK_FLAGS_INVERS);
    buf_put_u32(&b, 1);
    buf_put_u32(&b, 2);
    size_t mask = put_ptr(&b);
    patch_ptr(&b, pat);
    put_bitmap32(&b, 7);
    patch_ptr(&b, mask);
    put_bitmap1(&b, 8);
    struct server_draw d;
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_FILL, &b, &d), 21 + 1 + 4 + 8 + 2 + 13);
    CHECK_EQ(d.u.fill.brush.type, SPICE_BRUSH_TYPE_PATTERN);
    CHECK_EQ(d.u.fill.brush.pattern.id, 7u);
    CHECK_EQ(d.u.fill.brush.pattern.width, 2u);
    CHECK_EQ(d.u.fill.brush.pos.x, 3);
    CHECK_EQ(d.u.fill.brush.pos.y, -4);
    CHECK_EQ(d.u.fill.rop_descriptor, SPICE_ROPD_OP_PUT);
    CHECK(d.mask.has_bitmap);
    CHECK_EQ(d.mask.flags, SPICE_MASK_FLAGS_INVERS);
    CHECK_EQ(d.mask.pos.x, 1);
    CHECK_EQ(d.mask.pos.y, 2);
    CHECK_EQ(d.mask.bitmap.id, 8u);
    CHECK_EQ(d.mask.bitmap.bitmap.format, SPICE_BITMAP_FMT_1BIT_BE);
    CHECK_EQ(d.mask.bitmap.size, 2u);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_FILL, &b));
    /* A pattern brush whose image pointer is NULL, or points outside. */
    put_u32le(b.data + pat, 0);
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_FILL, &b, &d), CLOVE_E_INVALID);
    put_u32le(b.data + pat, (uint32_t)b.len - 3);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_FILL, &b, &d) < 0);
    put_u32le(b.data + pat, 0xffffffffu);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_FILL, &b, &d) < 0);
    /* A mask pointing past the end. */
    put_u32le(b.data + pat, 48);
    put_u32le(b.data + mask, (uint32_t)b.len);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_FILL, &b, &d) < 0);
    /* An unknown brush type. */
    b.data[21] = 9;
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_FILL, &b, &d), CLOVE_E_INVALID);
    buf_reset(&b);
    /* A NONE brush parses (the canvas decides what it means). */
    put_base(&b, 0);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_NONE);
    buf_put_u16(&b, SPICE_ROPD_OP_PUT);
    buf_put_zeros(&b, 13);
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_FILL, &b, &d), (int)b.len);
    CHECK_EQ(d.u.fill.brush.type, SPICE_BRUSH_TYPE_NONE);
    CHECK(!d.mask.has_bitmap);
    buf_finish(&b);
}

static void test_opaque_blend_rop3(void)
{
    struct byte_buf b = {0};
    /* OPAQUE: src, area, solid brush, rop, scale, no mask. */
    put_base(&b, 2);
    size_t src = put_ptr(&b);
    put_rect(&b, 0, 0, 2, 2);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_SOLID);
    buf_put_u32(&b, 0x00abcdef);
    buf_put_u16(&b, SPICE_ROPD_OP_AND);
    buf_put_u8(&b, SPICE_IMAGE_SCALE_MODE_NEAREST);
    buf_put_zeros(&b, 13);
    patch_ptr(&b, src);
    put_bitmap32(&b, 11);
    struct server_draw d;
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_OPAQUE, &b, &d) > 0);
    CHECK_EQ(d.surface_id, 2u);
    CHECK(d.u.opaque.has_src);
    CHECK_EQ(d.u.opaque.src.id, 11u);
    CHECK_EQ(d.u.opaque.src_area.right, 2);
    CHECK_EQ(d.u.opaque.brush.color, 0x00abcdefu);
    CHECK_EQ(d.u.opaque.rop_descriptor, SPICE_ROPD_OP_AND);
    CHECK_EQ(d.u.opaque.scale_mode, SPICE_IMAGE_SCALE_MODE_NEAREST);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_OPAQUE, &b));
    buf_reset(&b);
    /* BLEND: the layout of COPY, here with a mask. */
    put_base(&b, 0);
    src = put_ptr(&b);
    put_rect(&b, 0, 0, 2, 1);
    buf_put_u16(&b, SPICE_ROPD_OP_XOR);
    buf_put_u8(&b, 0);
    buf_put_u8(&b, 0);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 0);
    size_t mask = put_ptr(&b);
    patch_ptr(&b, src);
    put_bitmap32(&b, 12);
    patch_ptr(&b, mask);
    put_bitmap1(&b, 13);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_BLEND, &b, &d) > 0);
    CHECK_EQ(d.u.copy.src.id, 12u);
    CHECK_EQ(d.u.copy.rop_descriptor, SPICE_ROPD_OP_XOR);
    CHECK_EQ(d.mask.bitmap.id, 13u);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_BLEND, &b));
    /* COPY has the same layout, and now takes masks too. */
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_COPY, &b, &d) > 0);
    CHECK(d.mask.has_bitmap);
    buf_reset(&b);
    /* ROP3: src, area, pattern brush, rop3, scale, mask. */
    put_base(&b, 0);
    src = put_ptr(&b);
    put_rect(&b, 0, 0, 2, 2);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_PATTERN);
    size_t pat = put_ptr(&b);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 0);
    buf_put_u8(&b, 0xca);
    buf_put_u8(&b, SPICE_IMAGE_SCALE_MODE_INTERPOLATE);
    buf_put_zeros(&b, 13);
    patch_ptr(&b, src);
    put_bitmap32(&b, 14);
    patch_ptr(&b, pat);
    put_bitmap32(&b, 15);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_ROP3, &b, &d) > 0);
    CHECK_EQ(d.u.rop3.src.id, 14u);
    CHECK_EQ(d.u.rop3.brush.pattern.id, 15u);
    CHECK_EQ(d.u.rop3.rop3, 0xca);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_ROP3, &b));
    /* The same pointer used twice is fine: offsets only have to be inside. */
    put_u32le(b.data + pat, get_u32le(b.data + src));
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_ROP3, &b, &d) > 0);
    CHECK_EQ(d.u.rop3.brush.pattern.id, 14u);
    buf_finish(&b);
}

static void test_stroke(void)
{
    struct byte_buf b = {0};
    put_base(&b, 0);
    size_t path = put_ptr(&b);
    buf_put_u8(&b, SPICE_LINE_FLAGS_STYLED | SPICE_LINE_FLAGS_START_WITH_GAP);
    buf_put_u8(&b, 3);
    size_t style = put_ptr(&b);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_SOLID);
    buf_put_u32(&b, 0xff00ff00u);
    buf_put_u16(&b, SPICE_ROPD_OP_PUT);
    buf_put_u16(&b, SPICE_ROPD_OP_OR);
    size_t fixed = b.len;
    patch_ptr(&b, path);
    buf_put_u32(&b, 2); /* num_segments */
    buf_put_u8(&b, SPICE_PATH_BEGIN);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 16);
    buf_put_u32(&b, 32);
    buf_put_u32(&b, 160);
    buf_put_u32(&b, (uint32_t)-32);
    size_t second = b.len;
    buf_put_u8(&b, SPICE_PATH_END | SPICE_PATH_CLOSE);
    buf_put_u32(&b, 1);
    buf_put_u32(&b, 48);
    buf_put_u32(&b, 48);
    patch_ptr(&b, style);
    buf_put_u32(&b, 16);
    buf_put_u32(&b, 32);
    buf_put_u32(&b, 48);
    struct server_draw d;
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_STROKE, &b, &d), (int)fixed);
    CHECK_EQ(d.u.stroke.path.num_segments, 2u);
    CHECK_EQ(d.u.stroke.path.num_points, 3u);
    CHECK_EQ(d.u.stroke.path.size, (size_t)(5 + 16 + 5 + 8));
    CHECK_EQ(d.u.stroke.path.segments[0], SPICE_PATH_BEGIN);
    CHECK_EQ(d.u.stroke.attr.flags, SPICE_LINE_FLAGS_STYLED | SPICE_LINE_FLAGS_START_WITH_GAP);
    CHECK_EQ(d.u.stroke.attr.style_nseg, 3);
    CHECK_EQ(get_u32le(d.u.stroke.attr.style + 8), 48u);
    CHECK_EQ(d.u.stroke.brush.color, 0xff00ff00u);
    CHECK_EQ(d.u.stroke.fore_mode, SPICE_ROPD_OP_PUT);
    CHECK_EQ(d.u.stroke.back_mode, SPICE_ROPD_OP_OR);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_STROKE, &b));
    /* A point count beyond the body, then a segment count beyond it. */
    put_u32le(b.data + second + 1, 1000);
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_STROKE, &b, &d), CLOVE_E_INVALID);
    put_u32le(b.data + second + 1, 0xffffffffu);
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_STROKE, &b, &d), CLOVE_E_INVALID);
    put_u32le(b.data + second + 1, 1);
    put_u32le(b.data + fixed, 0x40000000u);
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_STROKE, &b, &d), CLOVE_E_INVALID);
    put_u32le(b.data + fixed, 2);
    /* A style beyond the body. */
    b.data[style - 1] = 255;
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_STROKE, &b, &d), CLOVE_E_INVALID);
    b.data[style - 1] = 3;
    /* No path. */
    put_u32le(b.data + path, 0);
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_STROKE, &b, &d), CLOVE_E_INVALID);
    buf_reset(&b);
    /* Unstyled: no style_nseg and no pointer follow the flags. */
    put_base(&b, 0);
    path = put_ptr(&b);
    buf_put_u8(&b, 0);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_NONE);
    buf_put_u16(&b, 0);
    buf_put_u16(&b, 0);
    patch_ptr(&b, path);
    buf_put_u32(&b, 0);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_STROKE, &b, &d) > 0);
    CHECK_EQ(d.u.stroke.path.num_segments, 0u);
    CHECK(d.u.stroke.attr.style == NULL);
    buf_finish(&b);
}

static void test_text(void)
{
    CHECK_EQ(server_glyph_size(SPICE_STRING_FLAGS_RASTER_A1, 9, 2), 4u);
    CHECK_EQ(server_glyph_size(SPICE_STRING_FLAGS_RASTER_A4, 3, 2), 4u);
    CHECK_EQ(server_glyph_size(SPICE_STRING_FLAGS_RASTER_A8, 3, 2), 6u);
    CHECK_EQ(server_glyph_size(SPICE_STRING_FLAGS_RASTER_TOP_DOWN, 3, 2), 0u);
    struct byte_buf b = {0};
    put_base(&b, 0);
    size_t str = put_ptr(&b);
    put_rect(&b, 0, 0, 10, 20);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_SOLID);
    buf_put_u32(&b, 0xffffffffu);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_NONE);
    buf_put_u16(&b, SPICE_ROPD_OP_PUT);
    buf_put_u16(&b, 0);
    size_t fixed = b.len;
    patch_ptr(&b, str);
    buf_put_u16(&b, 2);
    size_t flags_at = b.len;
    buf_put_u8(&b, SPICE_STRING_FLAGS_RASTER_A1 | SPICE_STRING_FLAGS_RASTER_TOP_DOWN);
    for (int g = 0; g < 2; g++) {
        buf_put_u32(&b, (uint32_t)(10 + g * 9)); /* render_pos */
        buf_put_u32(&b, 20);
        buf_put_u32(&b, 0); /* glyph_origin */
        buf_put_u32(&b, (uint32_t)-2);
        buf_put_u16(&b, 9); /* width: 2 bytes a row */
        buf_put_u16(&b, 2);
        buf_put(&b, "\xff\x80\x81\x00", 4);
    }
    size_t first_width = fixed + 3 + 16;
    struct server_draw d;
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_TEXT, &b, &d), (int)fixed);
    CHECK_EQ(d.u.text.str.length, 2);
    CHECK_EQ(d.u.text.str.size, (size_t)2 * (20 + 4));
    CHECK_EQ(d.u.text.back_area.right, 20);
    CHECK_EQ(d.u.text.fore_brush.color, 0xffffffffu);
    CHECK_EQ(d.u.text.back_brush.type, SPICE_BRUSH_TYPE_NONE);
    CHECK_EQ(d.u.text.fore_mode, SPICE_ROPD_OP_PUT);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_TEXT, &b));
    /* A8 makes the same glyphs need 18 bytes each: beyond the body. */
    b.data[flags_at] = SPICE_STRING_FLAGS_RASTER_A8;
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_TEXT, &b, &d), CLOVE_E_INVALID);
    /* Two raster formats: the first wins (A1 here), as in the reference. */
    b.data[flags_at] = SPICE_STRING_FLAGS_RASTER_A1 | SPICE_STRING_FLAGS_RASTER_A4;
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_TEXT, &b, &d), (int)fixed);
    CHECK_EQ(d.u.text.str.size, (size_t)2 * (20 + 4));
    /* None: no glyph follows. */
    b.data[flags_at] = 0;
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_TEXT, &b, &d), (int)fixed);
    CHECK_EQ(d.u.text.str.length, 0);
    CHECK_EQ(d.u.text.str.size, 0u);
    b.data[flags_at] = SPICE_STRING_FLAGS_RASTER_A1;
    /* A huge glyph. */
    put_u16le(b.data + first_width, 0xffff);
    put_u16le(b.data + first_width + 2, 0xffff);
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_TEXT, &b, &d), CLOVE_E_INVALID);
    put_u16le(b.data + first_width, 9);
    put_u16le(b.data + first_width + 2, 2);
    /* A glyph count beyond the body. */
    put_u16le(b.data + fixed, 60000);
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_TEXT, &b, &d), CLOVE_E_INVALID);
    put_u16le(b.data + fixed, 2);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_TEXT, &b, &d) > 0);
    put_u32le(b.data + str, 0);
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_TEXT, &b, &d), CLOVE_E_INVALID);
    buf_finish(&b);
}

static void test_transparent_alpha_blend(void)
{
    struct byte_buf b = {0};
    put_base(&b, 0);
    size_t src = put_ptr(&b);
    put_rect(&b, 0, 0, 2, 2);
    buf_put_u32(&b, 0x123456);
    buf_put_u32(&b, 0x654321);
    patch_ptr(&b, src);
    put_bitmap32(&b, 21);
    struct server_draw d;
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_TRANSPARENT, &b, &d) > 0);
    CHECK_EQ(d.u.transparent.src.id, 21u);
    CHECK_EQ(d.u.transparent.src_color, 0x123456u);
    CHECK_EQ(d.u.transparent.true_color, 0x654321u);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_TRANSPARENT, &b));
    buf_reset(&b);
    put_base(&b, 0);
    buf_put_u8(&b, SPICE_ALPHA_FLAGS_DEST_HAS_ALPHA);
    buf_put_u8(&b, 128);
    src = put_ptr(&b);
    put_rect(&b, 0, 0, 1, 1);
    patch_ptr(&b, src);
    put_bitmap32(&b, 22);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND, &b, &d) > 0);
    CHECK_EQ(d.u.alpha_blend.alpha_flags, SPICE_ALPHA_FLAGS_DEST_HAS_ALPHA);
    CHECK_EQ(d.u.alpha_blend.alpha, 128);
    CHECK(d.u.alpha_blend.has_src);
    CHECK_EQ(d.u.alpha_blend.src.id, 22u);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND, &b));
    /* A source pointer into the fixed part: garbage, refused. */
    put_u32le(b.data + src, 1);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND, &b, &d) < 0);
    buf_finish(&b);
}

static int stream_truncations_fail(uint16_t type, const struct byte_buf *b)
{
    for (size_t n = 0; n < b->len; n++) {
        struct server_stream st;
        const char *err = NULL;
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b->data, n);
        int rc = server_parse_stream(type, copy, n, &st, &err);
        free(copy);
        if (rc >= 0 || !err) {
            return 0;
        }
    }
    return 1;
}

static void test_streams(void)
{
    struct byte_buf b = {0};
    struct server_stream st;
    const char *err = NULL;
    buf_put_u32(&b, 0); /* surface */
    buf_put_u32(&b, 5); /* id */
    buf_put_u8(&b, SPICE_STREAM_FLAGS_TOP_DOWN);
    buf_put_u8(&b, SPICE_VIDEO_CODEC_TYPE_MJPEG);
    buf_put_u64(&b, 99);
    buf_put_u32(&b, 640);
    buf_put_u32(&b, 480);
    buf_put_u32(&b, 320);
    buf_put_u32(&b, 240);
    put_rect(&b, 0, 0, 480, 640);
    buf_put_u8(&b, SPICE_CLIP_TYPE_RECTS);
    buf_put_u32(&b, 1);
    put_rect(&b, 0, 0, 10, 10);
    CHECK_EQ(server_parse_stream(SPICE_MSG_DISPLAY_STREAM_CREATE, b.data, b.len, &st, &err),
             (int)b.len);
    CHECK_EQ(st.id, 5u);
    CHECK_EQ(st.codec_type, SPICE_VIDEO_CODEC_TYPE_MJPEG);
    CHECK_EQ(st.width, 640u);
    CHECK_EQ(st.src_height, 240u);
    CHECK_EQ(st.dest.right, 640);
    CHECK_EQ(st.num_clip_rects, 1u);
    CHECK(stream_truncations_fail(SPICE_MSG_DISPLAY_STREAM_CREATE, &b));
    put_u32le(b.data + 4, SERVER_PARSE_MAX_STREAM_ID + 1);
    CHECK_EQ(server_parse_stream(SPICE_MSG_DISPLAY_STREAM_CREATE, b.data, b.len, &st, &err),
             CLOVE_E_RANGE);
    buf_reset(&b);
    buf_put_u32(&b, 5);
    buf_put_u32(&b, 1000);
    buf_put_u32(&b, 3);
    buf_put(&b, "abc", 3);
    CHECK_EQ(server_parse_stream(SPICE_MSG_DISPLAY_STREAM_DATA, b.data, b.len, &st, &err), 15);
    CHECK_EQ(st.mm_time, 1000u);
    CHECK_EQ(st.data_size, 3u);
    CHECK_MEM_EQ(st.data, "abc", 3);
    CHECK(stream_truncations_fail(SPICE_MSG_DISPLAY_STREAM_DATA, &b));
    put_u32le(b.data + 8, 0xffffffffu);
    CHECK(server_parse_stream(SPICE_MSG_DISPLAY_STREAM_DATA, b.data, b.len, &st, &err) < 0);
    buf_reset(&b);
    buf_put_u32(&b, 5);
    buf_put_u32(&b, 1000);
    buf_put_u32(&b, 32);
    buf_put_u32(&b, 16);
    put_rect(&b, 0, 0, 16, 32);
    buf_put_u32(&b, 2);
    buf_put(&b, "xy", 2);
    CHECK_EQ(server_parse_stream(SPICE_MSG_DISPLAY_STREAM_DATA_SIZED, b.data, b.len, &st, &err),
             (int)b.len);
    CHECK_EQ(st.width, 32u);
    CHECK_EQ(st.dest.bottom, 16);
    CHECK(stream_truncations_fail(SPICE_MSG_DISPLAY_STREAM_DATA_SIZED, &b));
    buf_reset(&b);
    buf_put_u32(&b, 5);
    buf_put_u8(&b, SPICE_CLIP_TYPE_NONE);
    CHECK_EQ(server_parse_stream(SPICE_MSG_DISPLAY_STREAM_CLIP, b.data, b.len, &st, &err), 5);
    b.data[4] = 7;
    CHECK_EQ(server_parse_stream(SPICE_MSG_DISPLAY_STREAM_CLIP, b.data, b.len, &st, &err),
             CLOVE_E_INVALID);
    CHECK_EQ(server_parse_stream(SPICE_MSG_DISPLAY_STREAM_DESTROY, b.data, 4, &st, &err), 4);
    CHECK(server_parse_stream(SPICE_MSG_DISPLAY_STREAM_DESTROY, b.data, 3, &st, &err) < 0);
    CHECK_EQ(server_parse_stream(SPICE_MSG_DISPLAY_STREAM_DESTROY_ALL, b.data, 0, &st, &err), 0);
    buf_reset(&b);
    buf_put_u32(&b, 5);
    buf_put_u32(&b, 77);
    buf_put_u32(&b, 30);
    buf_put_u32(&b, 500);
    CHECK_EQ(
            server_parse_stream(SPICE_MSG_DISPLAY_STREAM_ACTIVATE_REPORT, b.data, b.len, &st, &err),
            16);
    CHECK_EQ(st.unique_id, 77u);
    CHECK_EQ(st.timeout_ms, 500u);
    CHECK(stream_truncations_fail(SPICE_MSG_DISPLAY_STREAM_ACTIVATE_REPORT, &b));
    CHECK_EQ(server_parse_stream(SPICE_MSG_DISPLAY_MARK, b.data, b.len, &st, &err),
             CLOVE_E_UNSUPPORTED);
    buf_finish(&b);
}

static void test_inval_and_monitors(void)
{
    struct byte_buf b = {0};
    const char *err = NULL;
    buf_put_u16(&b, 2);
    buf_put_u8(&b, SPICE_RES_TYPE_PIXMAP);
    buf_put_u64(&b, 0x1122334455667788ull);
    buf_put_u8(&b, SPICE_RES_TYPE_PIXMAP);
    buf_put_u64(&b, 9);
    uint16_t count;
    const uint8_t *res;
    CHECK_EQ(server_parse_inval_list(b.data, b.len, &count, &res, &err), 20);
    CHECK_EQ(count, 2);
    uint8_t type;
    uint64_t id;
    server_inval_list_item(res, 0, &type, &id);
    CHECK_EQ(type, SPICE_RES_TYPE_PIXMAP);
    CHECK_EQ(id, 0x1122334455667788ull);
    server_inval_list_item(res, 1, &type, &id);
    CHECK_EQ(id, 9u);
    CHECK(server_parse_inval_list(b.data, b.len - 1, &count, &res, &err) < 0);
    CHECK_EQ(count, 0);
    CHECK_EQ(server_parse_inval_one(b.data + 3, 8, &id, &err), 8);
    CHECK_EQ(id, 0x1122334455667788ull);
    CHECK(server_parse_inval_one(b.data, 7, &id, &err) < 0);
    buf_reset(&b);
    /* The server's writer. */
    const uint64_t ids[3] = {4, 5, 1ull << 40};
    server_msg_display_inval_list(&b, ids, 3);
    CHECK_EQ(server_parse_inval_list(b.data, b.len, &count, &res, &err), 29);
    CHECK_EQ(count, 3);
    server_inval_list_item(res, 2, &type, &id);
    CHECK_EQ(type, SPICE_RES_TYPE_PIXMAP);
    CHECK_EQ(id, 1ull << 40);
    buf_reset(&b);
    /* 20 heads: all must lie in the body, the first 16 are kept. */
    buf_put_u16(&b, 20);
    buf_put_u16(&b, 20);
    for (uint32_t i = 0; i < 20; i++) {
        buf_put_u32(&b, i);
        buf_put_u32(&b, 0);
        buf_put_u32(&b, 640);
        buf_put_u32(&b, 480);
        buf_put_u32(&b, 640 * i);
        buf_put_u32(&b, 0);
        buf_put_u32(&b, 0);
    }
    struct wire_head heads[SERVER_PARSE_MAX_HEADS];
    uint16_t max;
    CHECK_EQ(server_parse_monitors_config(b.data, b.len, heads, SERVER_PARSE_MAX_HEADS, &count,
                                          &max, &err),
             (int)b.len);
    CHECK_EQ(count, SERVER_PARSE_MAX_HEADS);
    CHECK_EQ(max, 20);
    CHECK_EQ(heads[15].x, 640u * 15);
    CHECK_EQ(server_parse_monitors_config(b.data, b.len, heads, 2, &count, &max, &err), (int)b.len);
    CHECK_EQ(count, 2);
    CHECK(server_parse_monitors_config(b.data, b.len - 1, heads, 16, &count, &max, &err) < 0);
    buf_finish(&b);
}

/* The server's writers (src/proto/server_msg.c) -> our parser, every op. */
static void test_roundtrip_writers(void)
{
    uint8_t px[16], bits[2] = {0xa5, 0x5a};
    for (int i = 0; i < 16; i++) {
        px[i] = (uint8_t)(i * 7);
    }
    struct wire_image img = {.id = 31, .type = SPICE_IMAGE_TYPE_BITMAP, .width = 2, .height = 2};
    img.u.bitmap.format = SPICE_BITMAP_FMT_32BIT;
    img.u.bitmap.flags = SPICE_BITMAP_FLAGS_TOP_DOWN;
    img.u.bitmap.stride = 8;
    img.u.bitmap.data = px;
    struct wire_image mimg = {.id = 32, .type = SPICE_IMAGE_TYPE_BITMAP, .width = 8, .height = 2};
    mimg.u.bitmap.format = SPICE_BITMAP_FMT_1BIT_BE;
    mimg.u.bitmap.stride = 1;
    mimg.u.bitmap.data = bits;
    struct wire_rect clip = {0, 0, 5, 5};
    struct wire_draw_base base = {
            .surface_id = 3, .box = {1, 2, 9, 10}, .clip = {SPICE_CLIP_TYPE_RECTS, 1, &clip}};
    struct wire_qmask mask = {.flags = SPICE_MASK_FLAGS_INVERS, .pos = {4, 5}, .bitmap = &mimg};
    struct wire_brush pat = {
            .type = SPICE_BRUSH_TYPE_PATTERN, .pattern = &img, .pattern_pos = {-1, 7}};
    struct wire_brush sol = {.type = SPICE_BRUSH_TYPE_SOLID, .color = 0xff102030};
    struct byte_buf b = {0};
    struct server_draw d;

    struct wire_fill fill = {.brush = pat, .rop_descriptor = SPICE_ROPD_OP_XOR, .mask = mask};
    server_msg_display_draw_fill_masked(&b, &base, &fill);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_FILL, &b, &d) > 0);
    CHECK_EQ(d.surface_id, 3u);
    CHECK_EQ(d.num_clip_rects, 1u);
    CHECK_EQ(d.u.fill.brush.type, SPICE_BRUSH_TYPE_PATTERN);
    CHECK_EQ(d.u.fill.brush.pattern.id, 31u);
    CHECK_MEM_EQ(d.u.fill.brush.pattern.data, px, 16);
    CHECK_EQ(d.u.fill.brush.pos.x, -1);
    CHECK_EQ(d.u.fill.brush.pos.y, 7);
    CHECK_EQ(d.u.fill.rop_descriptor, SPICE_ROPD_OP_XOR);
    CHECK(d.mask.has_bitmap);
    CHECK_EQ(d.mask.flags, SPICE_MASK_FLAGS_INVERS);
    CHECK_EQ(d.mask.pos.y, 5);
    CHECK_EQ(d.mask.bitmap.id, 32u);
    CHECK_MEM_EQ(d.mask.bitmap.data, bits, 2);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_FILL, &b));
    buf_reset(&b);

    struct wire_copy copy = {.src = &img,
                             .src_area = {0, 0, 2, 2},
                             .rop_descriptor = SPICE_ROPD_OP_PUT,
                             .scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST,
                             .mask = mask};
    server_msg_display_draw_copy_masked(&b, &base, &copy);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_COPY, &b, &d) > 0);
    CHECK_EQ(d.u.copy.src.id, 31u);
    CHECK_EQ(d.u.copy.scale_mode, SPICE_IMAGE_SCALE_MODE_NEAREST);
    CHECK_EQ(d.mask.bitmap.id, 32u);
    buf_reset(&b);
    server_msg_display_draw_blend(&b, &base, &copy);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_BLEND, &b, &d) > 0);
    CHECK_EQ(d.u.copy.src_area.right, 2);
    CHECK_EQ(d.mask.bitmap.id, 32u);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_BLEND, &b));
    buf_reset(&b);

    struct wire_opaque opaque = {.src = &img,
                                 .src_area = {0, 0, 2, 2},
                                 .brush = pat,
                                 .rop_descriptor = SPICE_ROPD_OP_AND,
                                 .scale_mode = 1,
                                 .mask = mask};
    server_msg_display_draw_opaque(&b, &base, &opaque);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_OPAQUE, &b, &d) > 0);
    CHECK_EQ(d.u.opaque.src.id, 31u);
    CHECK_EQ(d.u.opaque.brush.pattern.id, 31u);
    CHECK_EQ(d.u.opaque.rop_descriptor, SPICE_ROPD_OP_AND);
    CHECK_EQ(d.mask.bitmap.id, 32u);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_OPAQUE, &b));
    buf_reset(&b);

    server_msg_display_draw_whiteness(&b, &base, &mask);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_WHITENESS, &b, &d) > 0);
    CHECK_EQ(d.mask.bitmap.id, 32u);
    buf_reset(&b);
    server_msg_display_draw_blackness(&b, &base, NULL);
    CHECK_EQ(parse(SPICE_MSG_DISPLAY_DRAW_BLACKNESS, &b, &d), (int)b.len);
    CHECK(!d.mask.has_bitmap);
    buf_reset(&b);

    struct wire_rop3 rop3 = {
            .src = &img, .src_area = {0, 0, 2, 2}, .brush = sol, .rop3 = 0x96, .mask = mask};
    server_msg_display_draw_rop3(&b, &base, &rop3);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_ROP3, &b, &d) > 0);
    CHECK_EQ(d.u.rop3.rop3, 0x96);
    CHECK_EQ(d.u.rop3.brush.color, 0xff102030u);
    CHECK_EQ(d.mask.bitmap.id, 32u);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_ROP3, &b));
    buf_reset(&b);

    struct wire_point pts[3] = {{16, 16}, {160, 16}, {160, 160}};
    struct wire_path_seg segs[2] = {{SPICE_PATH_BEGIN, 2, pts},
                                    {SPICE_PATH_END | SPICE_PATH_CLOSE, 1, pts + 2}};
    uint32_t style[2] = {32, 16};
    struct wire_stroke stroke = {.path = {2, segs},
                                 .attr = {SPICE_LINE_FLAGS_STYLED, 2, style},
                                 .brush = pat,
                                 .fore_mode = SPICE_ROPD_OP_PUT,
                                 .back_mode = SPICE_ROPD_OP_OR};
    server_msg_display_draw_stroke(&b, &base, &stroke);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_STROKE, &b, &d) > 0);
    CHECK_EQ(d.u.stroke.path.num_segments, 2u);
    CHECK_EQ(d.u.stroke.path.num_points, 3u);
    CHECK_EQ(d.u.stroke.attr.style_nseg, 2);
    CHECK_EQ(get_u32le(d.u.stroke.attr.style + 4), 16u);
    CHECK_EQ(d.u.stroke.brush.pattern.id, 31u);
    CHECK_EQ(d.u.stroke.back_mode, SPICE_ROPD_OP_OR);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_STROKE, &b));
    buf_reset(&b);

    uint8_t gbits[6] = {1, 2, 3, 4, 5, 6};
    struct wire_glyph glyphs[2] = {{{10, 20}, {0, -3}, 3, 2, gbits},
                                   {{14, 20}, {0, -3}, 1, 1, gbits}};
    struct wire_text text = {.str = {2, SPICE_STRING_FLAGS_RASTER_A8, glyphs},
                             .back_area = {0, 0, 4, 4},
                             .fore_brush = sol,
                             .back_brush = pat,
                             .fore_mode = SPICE_ROPD_OP_PUT};
    server_msg_display_draw_text(&b, &base, &text);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_TEXT, &b, &d) > 0);
    CHECK_EQ(d.u.text.str.length, 2);
    CHECK_EQ(d.u.text.str.size, (size_t)(20 + 6 + 20 + 1));
    CHECK_MEM_EQ(d.u.text.str.glyphs + 20, gbits, 6);
    CHECK_EQ(d.u.text.fore_brush.color, 0xff102030u);
    CHECK_EQ(d.u.text.back_brush.pattern.id, 31u);
    CHECK_EQ(d.u.text.back_area.bottom, 4);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_TEXT, &b));
    buf_reset(&b);

    struct wire_transparent tr = {&img, {0, 0, 2, 2}, 0x11, 0x22};
    server_msg_display_draw_transparent(&b, &base, &tr);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_TRANSPARENT, &b, &d) > 0);
    CHECK_EQ(d.u.transparent.src.id, 31u);
    CHECK_EQ(d.u.transparent.true_color, 0x22u);
    buf_reset(&b);
    struct wire_alpha_blend ab = {SPICE_ALPHA_FLAGS_SRC_SURFACE_HAS_ALPHA, 99, &img, {0, 0, 1, 1}};
    server_msg_display_draw_alpha_blend(&b, &base, &ab);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND, &b, &d) > 0);
    CHECK_EQ(d.u.alpha_blend.alpha, 99);
    CHECK_EQ(d.u.alpha_blend.src.id, 31u);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND, &b));
    buf_finish(&b);
}

/* The pixels' offset agrees with the full parse, from any prefix on. */
static int pixels_offset_agrees(uint16_t type, const struct byte_buf *b, const uint8_t *pixels)
{
    size_t want = (size_t)(pixels - b->data);
    bool found = false;
    for (size_t n = 0; n <= b->len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b->data, n);
        struct server_draw_raw raw;
        int rc = server_parse_draw_raw(type, copy, n, &raw);
        free(copy);
        if (rc == 0) {
            if (raw.pixels_offset != want) {
                return 0;
            }
            found = true;
        } else if (rc != CLOVE_E_AGAIN || found) {
            return 0; /* once found, longer prefixes find it too */
        }
    }
    return found;
}

static void test_pixels_offset(void)
{
    struct byte_buf b = {0};
    /* COPY with two clip rects before the source pointer. */
    buf_put_u32(&b, 0);
    put_rect(&b, 0, 0, 2, 2);
    buf_put_u8(&b, SPICE_CLIP_TYPE_RECTS);
    buf_put_u32(&b, 2);
    put_rect(&b, 0, 0, 1, 1);
    put_rect(&b, 1, 1, 2, 2);
    size_t src = put_ptr(&b);
    put_rect(&b, 0, 0, 2, 2);
    buf_put_u16(&b, SPICE_ROPD_OP_PUT);
    buf_put_u8(&b, 0);
    buf_put_u8(&b, 0);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 0);   /* no mask */
    buf_put_zeros(&b, 3); /* the bitmap need not be aligned on the wire */
    patch_ptr(&b, src);
    put_bitmap32(&b, 21);
    struct server_draw d;
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_COPY, &b, &d) > 0);
    CHECK(pixels_offset_agrees(SPICE_MSG_DISPLAY_DRAW_COPY, &b, d.u.copy.src.data));
    /* What decides whether the pixels may go straight into the surface. */
    struct server_draw_raw raw;
    CHECK_EQ(server_parse_draw_raw(SPICE_MSG_DISPLAY_DRAW_COPY, b.data, b.len, &raw), 0);
    CHECK(raw.is_copy && !raw.has_mask);
    CHECK_EQ(raw.rop_descriptor, SPICE_ROPD_OP_PUT);
    CHECK_EQ(raw.clip_type, SPICE_CLIP_TYPE_RECTS);
    CHECK_EQ(raw.src_area.right, 2);
    CHECK_EQ(raw.src_area.bottom, 2);
    CHECK_EQ(raw.box.right, 2);
    CHECK_EQ(raw.image_flags, d.u.copy.src.flags);
    CHECK_EQ(raw.width, d.u.copy.src.width);
    CHECK_EQ(raw.bitmap_format, SPICE_BITMAP_FMT_32BIT);
    CHECK_EQ(raw.stride, d.u.copy.src.bitmap.stride);
    put_u32le(b.data + src + 4 + 16 + 2 + 1 + 1 + 8, 1); /* a mask pointer */
    CHECK_EQ(server_parse_draw_raw(SPICE_MSG_DISPLAY_DRAW_COPY, b.data, b.len, &raw), 0);
    CHECK(raw.has_mask);
    put_u32le(b.data + src + 4 + 16 + 2 + 1 + 1 + 8, 0);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_BLEND, &b, &d) > 0);
    CHECK(pixels_offset_agrees(SPICE_MSG_DISPLAY_DRAW_BLEND, &b, d.u.copy.src.data));
    /* Other draws and other image types are not placed. */
    CHECK_EQ(server_parse_draw_raw(SPICE_MSG_DISPLAY_DRAW_FILL, b.data, b.len, &raw),
             CLOVE_E_UNSUPPORTED);
    CHECK_EQ(server_parse_draw_raw(SPICE_MSG_DISPLAY_DRAW_ROP3, b.data, b.len, &raw),
             CLOVE_E_UNSUPPORTED);
    uint32_t image = get_u32le(b.data + src);
    b.data[image + 8] = SPICE_IMAGE_TYPE_QUIC;
    CHECK_EQ(server_parse_draw_raw(SPICE_MSG_DISPLAY_DRAW_COPY, b.data, b.len, &raw),
             CLOVE_E_UNSUPPORTED);
    put_u32le(b.data + src, 0); /* no source */
    CHECK_EQ(server_parse_draw_raw(SPICE_MSG_DISPLAY_DRAW_COPY, b.data, b.len, &raw),
             CLOVE_E_UNSUPPORTED);
    buf_reset(&b);
    /* OPAQUE with an 8-bit bitmap whose palette comes from the cache (a u64
     * palette id before the pixels instead of a u32 offset). */
    put_base(&b, 0);
    src = put_ptr(&b);
    put_rect(&b, 0, 0, 2, 1);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_NONE);
    buf_put_u16(&b, SPICE_ROPD_OP_PUT);
    buf_put_u8(&b, 0);
    buf_put_zeros(&b, 13);
    patch_ptr(&b, src);
    buf_put_u64(&b, 22);
    buf_put_u8(&b, SPICE_IMAGE_TYPE_BITMAP);
    buf_put_u8(&b, 0);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 1);
    buf_put_u8(&b, SPICE_BITMAP_FMT_8BIT);
    buf_put_u8(&b, SPICE_BITMAP_FLAGS_TOP_DOWN | SPICE_BITMAP_FLAGS_PAL_FROM_CACHE);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 1);
    buf_put_u32(&b, 4);
    buf_put_u64(&b, 77); /* palette id */
    buf_put_u32(&b, 0x00000100);
    CHECK(parse(SPICE_MSG_DISPLAY_DRAW_OPAQUE, &b, &d) > 0);
    CHECK(d.u.opaque.src.palette_from_cache);
    CHECK(pixels_offset_agrees(SPICE_MSG_DISPLAY_DRAW_OPAQUE, &b, d.u.opaque.src.data));
    buf_finish(&b);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_fill_pattern_mask),
            CHECK_CASE(test_opaque_blend_rop3),
            CHECK_CASE(test_stroke),
            CHECK_CASE(test_text),
            CHECK_CASE(test_transparent_alpha_blend),
            CHECK_CASE(test_streams),
            CHECK_CASE(test_inval_and_monitors),
            CHECK_CASE(test_roundtrip_writers),
            CHECK_CASE(test_pixels_offset),
            {0},
    });
}
