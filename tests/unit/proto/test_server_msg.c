/*
 * Tests for src/proto/server_msg.c: golden bodies built by hand from
 * spice.proto and the reference marshaller's rules (body-relative u32
 * pointer offsets, inline clip rects, Point16 cursor positions).
 */
#include <stdlib.h>

#include <spice/enums.h>

#include "check.h"
#include "proto/server_msg.h"

#define CHECK_BUF(b, ...)                              \
    do {                                               \
        const uint8_t want_[] = {__VA_ARGS__};         \
        CHECK(buf_ok(b));                              \
        CHECK_EQ((b)->len, sizeof(want_));             \
        CHECK_MEM_EQ((b)->data, want_, sizeof(want_)); \
    } while (0)

#define U32(v) (uint8_t)(v), (uint8_t)((v) >> 8), (uint8_t)((v) >> 16), (uint8_t)((v) >> 24)
#define U16(v) (uint8_t)(v), (uint8_t)((v) >> 8)
#define U64(v) U32((uint64_t)(v)&0xffffffffu), U32((uint64_t)(v) >> 32)

static void test_base(void)
{
    struct byte_buf b = {0};
    server_msg_set_ack(&b, 1, 20);
    CHECK_BUF(&b, U32(1), U32(20));
    buf_reset(&b);

    server_msg_ping(&b, 5, 0x1122334455667788ull, 3);
    CHECK_BUF(&b, U32(5), U64(0x1122334455667788ull), 0, 0, 0);
    buf_reset(&b);

    server_msg_notify(&b, 9, SPICE_NOTIFY_SEVERITY_WARN, SPICE_NOTIFY_VISIBILITY_HIGH,
                      SPICE_WARN_GENERAL, "hi");
    CHECK_BUF(&b, U64(9), U32(1), U32(2), U32(0), U32(2), 'h', 'i', 0);
    buf_reset(&b);

    server_msg_disconnecting(&b, 7, SPICE_LINK_ERR_OK);
    CHECK_BUF(&b, U64(7), U32(0));
    buf_finish(&b);
}

static void test_main(void)
{
    struct byte_buf b = {0};
    struct wire_main_init init = {
            .session_id = 0x01020304,
            .display_channels_hint = 1,
            .supported_mouse_modes = SPICE_MOUSE_MODE_SERVER | SPICE_MOUSE_MODE_CLIENT,
            .current_mouse_mode = SPICE_MOUSE_MODE_SERVER,
            .agent_connected = 0,
            .agent_tokens = 10,
            .multi_media_time = 1000,
            .ram_hint = 0x1000000,
    };
    server_msg_main_init(&b, &init);
    CHECK_BUF(&b, U32(0x01020304), U32(1), U32(3), U32(1), U32(0), U32(10), U32(1000),
              U32(0x1000000));
    buf_reset(&b);

    struct wire_channel_id ch[3] = {{2, 0}, {3, 0}, {4, 1}};
    server_msg_main_channels_list(&b, ch, 3);
    CHECK_BUF(&b, U32(3), 2, 0, 3, 0, 4, 1);
    buf_reset(&b);

    server_msg_main_mouse_mode(&b, 3, 2);
    CHECK_BUF(&b, 3, 0, 2, 0);
    buf_reset(&b);

    server_msg_main_multi_media_time(&b, 0xabcdef);
    CHECK_BUF(&b, U32(0xabcdef));
    buf_reset(&b);

    server_msg_main_name(&b, "vm");
    CHECK_BUF(&b, U32(3), 'v', 'm', 0);
    buf_reset(&b);

    const uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    server_msg_main_uuid(&b, uuid);
    CHECK_BUF(&b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    buf_reset(&b);

    server_msg_main_agent_connected_tokens(&b, 10);
    server_msg_main_agent_disconnected(&b, SPICE_LINK_ERR_ERROR);
    server_msg_main_agent_token(&b, 4);
    CHECK_BUF(&b, U32(10), U32(1), U32(4));
    buf_finish(&b);
}

static void test_empty_bodies(void)
{
    struct byte_buf b = {0};
    server_msg_display_mark(&b);
    server_msg_display_reset(&b);
    server_msg_display_inval_all_palettes(&b);
    server_msg_inputs_mouse_motion_ack(&b);
    server_msg_cursor_reset(&b);
    server_msg_cursor_hide(&b);
    server_msg_cursor_inval_all(&b);
    CHECK_EQ(b.len, 0);
    buf_finish(&b);
}

static void test_display_simple(void)
{
    struct byte_buf b = {0};
    uint64_t serials[2] = {0x10, 0x0102030405060708ull};
    uint8_t types[2] = {SPICE_CHANNEL_DISPLAY, SPICE_CHANNEL_DISPLAY};
    uint8_t ids[2] = {0, 1};
    server_msg_display_inval_all_pixmaps(&b, serials, types, ids, 2);
    CHECK_BUF(&b, 2, 2, 0, U64(0x10), 2, 1, U64(0x0102030405060708ull));
    buf_reset(&b);

    server_msg_display_surface_create(&b, 0, 1024, 768, SPICE_SURFACE_FMT_32_xRGB,
                                      SPICE_SURFACE_FLAGS_PRIMARY);
    CHECK_BUF(&b, U32(0), U32(1024), U32(768), U32(32), U32(1));
    buf_reset(&b);

    server_msg_display_surface_destroy(&b, 3);
    CHECK_BUF(&b, U32(3));
    buf_reset(&b);

    struct wire_head heads[2] = {{0, 0, 1024, 768, 0, 0, 0}, {1, 0, 800, 600, 1024, 0, 0}};
    server_msg_display_monitors_config(&b, heads, 2, 4);
    CHECK_BUF(&b, U16(2), U16(4), U32(0), U32(0), U32(1024), U32(768), U32(0), U32(0), U32(0),
              U32(1), U32(0), U32(800), U32(600), U32(1024), U32(0), U32(0));
    buf_finish(&b);
}

static void test_draw_fill(void)
{
    struct byte_buf b = {0};
    struct wire_draw_base base = {
            .surface_id = 0,
            .box = {.top = 10, .left = 20, .bottom = 30, .right = 40},
            .clip = {.type = SPICE_CLIP_TYPE_NONE},
    };
    server_msg_display_draw_fill(&b, &base, 0x00ff8000, SPICE_ROPD_OP_PUT);
    CHECK_BUF(&b, U32(0),                         /* surface_id */
              U32(10), U32(20), U32(30), U32(40), /* box: top, left, bottom, right */
              0,                                  /* clip NONE */
              1, U32(0x00ff8000),                 /* brush SOLID, color */
              U16(8),                             /* rop OP_PUT */
              0, U32(0), U32(0), U32(0));         /* mask: flags, pos, bitmap */
    buf_reset(&b);

    struct wire_rect rects[2] = {{1, 2, 3, 4}, {-1, -2, 5, 6}};
    base.clip = (struct wire_clip){.type = SPICE_CLIP_TYPE_RECTS, .num_rects = 2, .rects = rects};
    server_msg_display_draw_fill(&b, &base, 0, SPICE_ROPD_OP_PUT);
    /* clang-format off */
    CHECK_BUF(&b, U32(0), U32(10), U32(20), U32(30), U32(40),
              1, U32(2),                           /* clip RECTS, inline ClipRects */
              U32(1), U32(2), U32(3), U32(4),
              U32(-1), U32(-2), U32(5), U32(6),
              1, U32(0), U16(8), 0, U32(0), U32(0), U32(0));
    /* clang-format on */
    buf_finish(&b);
}

static void test_draw_copy_bitmap(void)
{
    struct byte_buf b = {0};
    struct wire_draw_base base = {
            .surface_id = 0,
            .box = {.top = 0, .left = 0, .bottom = 2, .right = 2},
            .clip = {.type = SPICE_CLIP_TYPE_NONE},
    };
    const uint8_t pixels[16] = {1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 10, 11, 12, 0};
    struct wire_image img = {
            .id = 0x42,
            .type = SPICE_IMAGE_TYPE_BITMAP,
            .flags = 0,
            .width = 2,
            .height = 2,
            .u.bitmap = {.format = SPICE_BITMAP_FMT_32BIT,
                         .flags = SPICE_BITMAP_FLAGS_TOP_DOWN | SPICE_BITMAP_FLAGS_PAL_FROM_CACHE,
                         .stride = 8,
                         .data = pixels},
    };
    struct wire_rect area = {0, 0, 2, 2};
    server_msg_display_draw_copy(&b, &base, &img, &area, SPICE_ROPD_OP_PUT,
                                 SPICE_IMAGE_SCALE_MODE_NEAREST);
    /* clang-format off */
    CHECK_BUF(&b, U32(0), U32(0), U32(0), U32(2), U32(2), 0, /* base, clip NONE */
              U32(57),                                       /* src_bitmap offset */
              U32(0), U32(0), U32(2), U32(2),                /* src_area */
              U16(8), 1,                                     /* rop, scale NEAREST */
              0, U32(0), U32(0), U32(0),                     /* mask */
              /* offset 57: ImageDescriptor */
              U64(0x42), 0, 0, U32(2), U32(2),
              /* BitmapData: format 32BIT, flags TOP_DOWN only, x, y, stride, palette */
              8, 4, U32(2), U32(2), U32(8), U32(0),
              1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 10, 11, 12, 0);
    /* clang-format on */
    buf_finish(&b);
}

/* The offset is relative to the body even when a header precedes it. */
static void test_draw_copy_after_header_with_clip(void)
{
    struct byte_buf b = {0};
    buf_put_zeros(&b, 18);
    struct wire_rect rects[2] = {{0, 0, 1, 1}, {1, 1, 2, 2}};
    struct wire_draw_base base = {
            .surface_id = 5,
            .box = {0, 0, 2, 2},
            .clip = {.type = SPICE_CLIP_TYPE_RECTS, .num_rects = 2, .rects = rects},
    };
    const uint8_t quic[5] = {'Q', 'U', 'I', 'C', 0};
    struct wire_image img = {
            .id = 1,
            .type = SPICE_IMAGE_TYPE_QUIC,
            .flags = SPICE_IMAGE_FLAGS_CACHE_ME,
            .width = 2,
            .height = 2,
            .u.encoded = {.data = quic, .size = 5},
    };
    struct wire_rect area = {0, 0, 2, 2};
    server_msg_display_draw_copy(&b, &base, &img, &area, SPICE_ROPD_OP_PUT, 0);
    CHECK(buf_ok(&b));
    const size_t fixed = 57 + 4 + 2 * 16;
    CHECK_EQ(b.len, 18 + fixed + 18 + 4 + 5);
    const uint8_t *body = b.data + 18;
    CHECK_EQ(get_u32le(body), 5);
    CHECK_EQ(body[20], SPICE_CLIP_TYPE_RECTS);
    CHECK_EQ(get_u32le(body + 21), 2);
    CHECK_EQ(get_u32le(body + 25 + 16 + 8), 2); /* second rect's bottom */
    CHECK_EQ(get_u32le(body + 57), fixed);      /* src_bitmap */
    const uint8_t want_img[] = {U64(1),
                                SPICE_IMAGE_TYPE_QUIC,
                                SPICE_IMAGE_FLAGS_CACHE_ME,
                                U32(2),
                                U32(2),
                                U32(5),
                                'Q',
                                'U',
                                'I',
                                'C',
                                0};
    CHECK_MEM_EQ(body + fixed, want_img, sizeof(want_img));
    buf_finish(&b);
}

static void test_draw_copy_special_images(void)
{
    struct byte_buf b = {0};
    struct wire_draw_base base = {.clip = {.type = SPICE_CLIP_TYPE_NONE}};
    struct wire_rect area = {0, 0, 1, 1};
    struct wire_image img = {.id = 9, .type = SPICE_IMAGE_TYPE_FROM_CACHE, .width = 1, .height = 1};
    server_msg_display_draw_copy(&b, &base, &img, &area, 8, 0);
    CHECK_EQ(b.len, 57 + 18);
    buf_reset(&b);

    /* A type with its own layout: the caller's bytes go out verbatim. */
    const uint8_t zlib[] = {U32(3), U32(2), 0xaa, 0xbb};
    img.type = SPICE_IMAGE_TYPE_ZLIB_GLZ_RGB;
    img.u.encoded.data = zlib;
    img.u.encoded.size = sizeof(zlib);
    server_msg_display_draw_copy(&b, &base, &img, &area, 8, 0);
    CHECK_EQ(b.len, 57 + 18 + sizeof(zlib));
    CHECK_MEM_EQ(b.data + 57 + 18, zlib, sizeof(zlib));
    buf_reset(&b);

    server_msg_display_draw_copy(&b, &base, NULL, &area, 8, 0);
    CHECK_EQ(b.len, 57);
    CHECK_EQ(get_u32le(b.data + 21), 0);
    buf_finish(&b);
}

/* ---- draw ops with brushes, masks, paths and strings ---- */

#define BASE_NO_CLIP U32(0), U32(1), U32(2), U32(3), U32(4), 0 /* 21 bytes */

static const struct wire_draw_base op_base = {
        .surface_id = 0,
        .box = {.top = 1, .left = 2, .bottom = 3, .right = 4},
        .clip = {.type = SPICE_CLIP_TYPE_NONE},
};

/* A FROM_CACHE image: the 18-byte descriptor and nothing else. */
static struct wire_image cached_image(uint64_t id)
{
    return (struct wire_image){
            .id = id, .type = SPICE_IMAGE_TYPE_FROM_CACHE, .width = 8, .height = 8};
}
#define CACHED_IMAGE(id) U64(id), SPICE_IMAGE_TYPE_FROM_CACHE, 0, U32(8), U32(8)

/* A 3x2 1-bit mask bitmap, stride 1. */
static const uint8_t mask_bits[2] = {0xa0, 0x40};
static const struct wire_image mask_image = {
        .id = 9,
        .type = SPICE_IMAGE_TYPE_BITMAP,
        .width = 3,
        .height = 2,
        .u.bitmap = {.format = SPICE_BITMAP_FMT_1BIT_BE,
                     .flags = SPICE_BITMAP_FLAGS_TOP_DOWN,
                     .stride = 1,
                     .data = mask_bits},
};
/* clang-format off */
#define MASK_IMAGE U64(9), SPICE_IMAGE_TYPE_BITMAP, 0, U32(3), U32(2), \
        SPICE_BITMAP_FMT_1BIT_BE, SPICE_BITMAP_FLAGS_TOP_DOWN, U32(3), U32(2), U32(1), U32(0), \
        0xa0, 0x40 /* 18 + 18 + 2 = 38 bytes */
/* clang-format on */

static void test_draw_fill_pattern_mask(void)
{
    struct byte_buf b = {0};
    struct wire_image pat = cached_image(7);
    struct wire_fill fill = {
            .brush = {.type = SPICE_BRUSH_TYPE_PATTERN, .pattern = &pat, .pattern_pos = {-3, 4}},
            .rop_descriptor = SPICE_ROPD_OP_PUT,
            .mask = {.flags = SPICE_MASK_FLAGS_INVERS, .pos = {5, 6}, .bitmap = &mask_image},
    };
    server_msg_display_draw_fill_masked(&b, &op_base, &fill);
    /* clang-format off */
    CHECK_BUF(&b, BASE_NO_CLIP,
              2, U32(49), U32(-3), U32(4),  /* brush PATTERN: pat offset, pos */
              U16(8),                       /* rop */
              1, U32(5), U32(6), U32(67),   /* mask: INVERS, pos, bitmap offset */
              CACHED_IMAGE(7),              /* 49: pattern */
              MASK_IMAGE);                  /* 67: mask */
    /* clang-format on */
    buf_reset(&b);

    /* A NONE brush is its type byte alone; a mask without bitmap is zeros
     * whatever its flags and pos say. */
    fill.brush = (struct wire_brush){.type = SPICE_BRUSH_TYPE_NONE};
    fill.mask.bitmap = NULL;
    server_msg_display_draw_fill_masked(&b, &op_base, &fill);
    CHECK_BUF(&b, BASE_NO_CLIP, 0, U16(8), 0, U32(0), U32(0), U32(0));
    buf_reset(&b);

    /* The old solid-only writer produces the same bytes as the new one. */
    fill.brush = (struct wire_brush){.type = SPICE_BRUSH_TYPE_SOLID, .color = 0xff00ff};
    server_msg_display_draw_fill_masked(&b, &op_base, &fill);
    struct byte_buf old = {0};
    server_msg_display_draw_fill(&old, &op_base, 0xff00ff, SPICE_ROPD_OP_PUT);
    CHECK_EQ(b.len, old.len);
    CHECK_MEM_EQ(b.data, old.data, b.len);
    buf_finish(&old);
    buf_finish(&b);
}

static void test_draw_copy_blend_masked(void)
{
    struct byte_buf b = {0};
    struct wire_image src = cached_image(0x77);
    struct wire_copy copy = {
            .src = &src,
            .src_area = {0, 0, 8, 8},
            .rop_descriptor = SPICE_ROPD_OP_PUT,
            .scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST,
            .mask = {.flags = 0, .pos = {1, 2}, .bitmap = &mask_image},
    };
    server_msg_display_draw_copy_masked(&b, &op_base, &copy);
    /* clang-format off */
    const uint8_t want[] = {BASE_NO_CLIP,
            U32(57),                         /* src_bitmap */
            U32(0), U32(0), U32(8), U32(8),  /* src_area */
            U16(8), 1,                       /* rop, scale */
            0, U32(1), U32(2), U32(75),      /* mask */
            CACHED_IMAGE(0x77),              /* 57 */
            MASK_IMAGE};                     /* 75 */
    /* clang-format on */
    CHECK(buf_ok(&b));
    CHECK_EQ(b.len, sizeof(want));
    CHECK_MEM_EQ(b.data, want, sizeof(want));
    buf_reset(&b);

    /* DRAW_BLEND has the same body. */
    server_msg_display_draw_blend(&b, &op_base, &copy);
    CHECK_EQ(b.len, sizeof(want));
    CHECK_MEM_EQ(b.data, want, sizeof(want));
    buf_reset(&b);

    /* No source: offset 0, and the mask moves up to the end of the fixed part. */
    copy.src = NULL;
    server_msg_display_draw_copy_masked(&b, &op_base, &copy);
    CHECK_EQ(b.len, 57 + 38);
    CHECK_EQ(get_u32le(b.data + 21), 0);
    CHECK_EQ(get_u32le(b.data + 53), 57);
    buf_finish(&b);
}

static void test_draw_opaque_rop3(void)
{
    struct byte_buf b = {0};
    struct wire_image src = cached_image(1), pat = cached_image(2);
    struct wire_opaque opaque = {
            .src = &src,
            .src_area = {0, 0, 4, 4},
            .brush = {.type = SPICE_BRUSH_TYPE_PATTERN, .pattern = &pat, .pattern_pos = {7, 8}},
            .rop_descriptor = SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_BRUSH,
            .scale_mode = SPICE_IMAGE_SCALE_MODE_INTERPOLATE,
            .mask = {.flags = 1, .pos = {0, 0}, .bitmap = &mask_image},
    };
    server_msg_display_draw_opaque(&b, &op_base, &opaque);
    /* clang-format off */
    CHECK_BUF(&b, BASE_NO_CLIP,
              U32(70),                          /* src_bitmap */
              U32(0), U32(0), U32(4), U32(4),   /* src_area */
              2, U32(88), U32(7), U32(8),       /* brush PATTERN */
              U16(0x0a), 0,                     /* rop INVERS_BRUSH|OP_PUT, scale */
              1, U32(0), U32(0), U32(106),      /* mask */
              CACHED_IMAGE(1),                  /* 70: src */
              CACHED_IMAGE(2),                  /* 88: pattern */
              MASK_IMAGE);                      /* 106: mask */
    /* clang-format on */
    buf_reset(&b);

    struct wire_rop3 rop3 = {
            .src = &src,
            .src_area = {0, 0, 4, 4},
            .brush = {.type = SPICE_BRUSH_TYPE_SOLID, .color = 0x112233},
            .rop3 = 0xca,
            .scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST,
    };
    server_msg_display_draw_rop3(&b, &op_base, &rop3);
    /* clang-format off */
    CHECK_BUF(&b, BASE_NO_CLIP,
              U32(61),
              U32(0), U32(0), U32(4), U32(4),
              1, U32(0x112233),                 /* brush SOLID */
              0xca, 1,                          /* rop3, scale */
              0, U32(0), U32(0), U32(0),        /* no mask */
              CACHED_IMAGE(1));                 /* 61: src */
    /* clang-format on */
    buf_finish(&b);
}

static void test_draw_mask_ops(void)
{
    struct byte_buf b = {0};
    struct wire_qmask mask = {.flags = 0, .pos = {3, 1}, .bitmap = &mask_image};
    void (*writers[3])(struct byte_buf *, const struct wire_draw_base *,
                       const struct wire_qmask *) = {server_msg_display_draw_blackness,
                                                     server_msg_display_draw_whiteness,
                                                     server_msg_display_draw_invers};
    for (int i = 0; i < 3; i++) {
        writers[i](&b, &op_base, &mask);
        CHECK_BUF(&b, BASE_NO_CLIP, 0, U32(3), U32(1), U32(34), MASK_IMAGE);
        buf_reset(&b);
        writers[i](&b, &op_base, NULL);
        CHECK_BUF(&b, BASE_NO_CLIP, 0, U32(0), U32(0), U32(0));
        buf_reset(&b);
    }
    server_msg_display_draw_mask_only(&b, &op_base);
    CHECK_BUF(&b, BASE_NO_CLIP, 0, U32(0), U32(0), U32(0));
    buf_finish(&b);
}

static void test_draw_stroke(void)
{
    struct byte_buf b = {0};
    const struct wire_point p1[2] = {{16, 32}, {48, -16}};
    const struct wire_point p2[1] = {{0, 0}};
    const struct wire_path_seg segs[2] = {
            {.flags = SPICE_PATH_BEGIN, .count = 2, .points = p1},
            {.flags = SPICE_PATH_END | SPICE_PATH_CLOSE, .count = 1, .points = p2},
    };
    const uint32_t style[2] = {0x30, 0x10};
    struct wire_stroke stroke = {
            .path = {.num_segments = 2, .segments = segs},
            .attr = {.flags = SPICE_LINE_FLAGS_STYLED, .style_nseg = 2, .style = style},
            .brush = {.type = SPICE_BRUSH_TYPE_SOLID, .color = 0xffffff},
            .fore_mode = SPICE_ROPD_OP_PUT,
            .back_mode = SPICE_ROPD_OP_XOR,
    };
    server_msg_display_draw_stroke(&b, &op_base, &stroke);
    /* clang-format off */
    CHECK_BUF(&b, BASE_NO_CLIP,
              U32(40),                          /* path */
              8, 2, U32(78),                    /* attr: STYLED, style_nseg, style offset */
              1, U32(0xffffff),                 /* brush SOLID */
              U16(8), U16(0x40),                /* fore_mode, back_mode */
              /* 40: Path */
              U32(2),
              1, U32(2), U32(16), U32(32), U32(48), U32(-16),
              0x0a, U32(1), U32(0), U32(0),
              /* 78: style */
              U32(0x30), U32(0x10));
    /* clang-format on */
    buf_reset(&b);

    /* Unstyled: no style_nseg and no style pointer; an empty path is still
     * written (4 bytes); the pattern comes after it. */
    struct wire_image pat = cached_image(3);
    stroke.path.num_segments = 0;
    stroke.attr = (struct wire_line_attr){.flags = SPICE_LINE_FLAGS_START_WITH_GAP};
    stroke.brush = (struct wire_brush){
            .type = SPICE_BRUSH_TYPE_PATTERN, .pattern = &pat, .pattern_pos = {1, 1}};
    server_msg_display_draw_stroke(&b, &op_base, &stroke);
    /* clang-format off */
    CHECK_BUF(&b, BASE_NO_CLIP,
              U32(43),
              4,                                /* attr: START_WITH_GAP */
              2, U32(47), U32(1), U32(1),       /* brush PATTERN */
              U16(8), U16(0x40),
              U32(0),                           /* 43: empty Path */
              CACHED_IMAGE(3));                 /* 47: pattern */
    /* clang-format on */
    buf_reset(&b);

    /* STYLED with no segments: the style pointer stays 0. */
    stroke.attr = (struct wire_line_attr){.flags = SPICE_LINE_FLAGS_STYLED, .style_nseg = 0};
    stroke.brush = (struct wire_brush){.type = SPICE_BRUSH_TYPE_NONE};
    server_msg_display_draw_stroke(&b, &op_base, &stroke);
    CHECK_BUF(&b, BASE_NO_CLIP, U32(36), 8, 0, U32(0), 0, U16(8), U16(0x40), U32(0));
    buf_finish(&b);
}

static void test_draw_text(void)
{
    struct byte_buf b = {0};
    const uint8_t g1[4] = {0xff, 0x80, 0x7f, 0x00};
    const uint8_t g2[1] = {0xe0};
    const struct wire_glyph glyphs[2] = {
            {.render_pos = {10, 20}, .glyph_origin = {0, -7}, .width = 9, .height = 2, .data = g1},
            {.render_pos = {19, 20}, .glyph_origin = {1, -1}, .width = 3, .height = 1, .data = g2},
    };
    struct wire_image pat = cached_image(4);
    struct wire_text text = {
            .str = {.length = 2,
                    .flags = SPICE_STRING_FLAGS_RASTER_A1 | SPICE_STRING_FLAGS_RASTER_TOP_DOWN,
                    .glyphs = glyphs},
            .back_area = {5, 6, 7, 8},
            .fore_brush = {.type = SPICE_BRUSH_TYPE_SOLID, .color = 0xabcdef},
            .back_brush = {.type = SPICE_BRUSH_TYPE_PATTERN,
                           .pattern = &pat,
                           .pattern_pos = {2, 3}},
            .fore_mode = SPICE_ROPD_OP_PUT,
            .back_mode = SPICE_ROPD_OP_PUT,
    };
    server_msg_display_draw_text(&b, &op_base, &text);
    /* clang-format off */
    CHECK_BUF(&b, BASE_NO_CLIP,
              U32(63),                          /* str */
              U32(5), U32(6), U32(7), U32(8),   /* back_area */
              1, U32(0xabcdef),                 /* fore_brush SOLID */
              2, U32(111), U32(2), U32(3),      /* back_brush PATTERN */
              U16(8), U16(8),                   /* fore_mode, back_mode */
              /* 63: String */
              U16(2), 9,
              U32(10), U32(20), U32(0), U32(-7), U16(9), U16(2), 0xff, 0x80, 0x7f, 0x00,
              U32(19), U32(20), U32(1), U32(-1), U16(3), U16(1), 0xe0,
              CACHED_IMAGE(4));                 /* 111: back pattern */
    /* clang-format on */
    buf_reset(&b);

    /* A4 rows are (3 * 4 + 7) / 8 = 2 bytes, A8 rows 3 bytes; NULL data is
     * zeros. */
    const struct wire_glyph one = {.width = 3, .height = 2, .data = NULL};
    text.str = (struct wire_glyph_string){
            .length = 1, .flags = SPICE_STRING_FLAGS_RASTER_A4, .glyphs = &one};
    text.back_brush = (struct wire_brush){.type = SPICE_BRUSH_TYPE_NONE};
    server_msg_display_draw_text(&b, &op_base, &text);
    CHECK(buf_ok(&b));
    CHECK_EQ(b.len, 51 + 3 + 20 + 4);
    CHECK_EQ(get_u32le(b.data + 21), 51);
    buf_reset(&b);
    text.str.flags = SPICE_STRING_FLAGS_RASTER_A8;
    server_msg_display_draw_text(&b, &op_base, &text);
    CHECK_EQ(b.len, 51 + 3 + 20 + 6);
    buf_reset(&b);

    /* Without a raster flag no glyph is written, as by the reference. */
    text.str.flags = 0;
    server_msg_display_draw_text(&b, &op_base, &text);
    CHECK_EQ(b.len, 51 + 3);
    CHECK_MEM_EQ(b.data + 51, ((const uint8_t[]){U16(1), 0}), 3);
    buf_finish(&b);
}

static void test_draw_transparent_alpha_blend(void)
{
    struct byte_buf b = {0};
    struct wire_image src = cached_image(5);
    struct wire_transparent tr = {
            .src = &src,
            .src_area = {0, 1, 2, 3},
            .src_color = 0xf81f,
            .true_color = 0xff00ff,
    };
    server_msg_display_draw_transparent(&b, &op_base, &tr);
    /* clang-format off */
    CHECK_BUF(&b, BASE_NO_CLIP,
              U32(49), U32(0), U32(1), U32(2), U32(3), U32(0xf81f), U32(0xff00ff),
              CACHED_IMAGE(5));
    /* clang-format on */
    buf_reset(&b);

    struct wire_alpha_blend ab = {
            .alpha_flags =
                    SPICE_ALPHA_FLAGS_DEST_HAS_ALPHA | SPICE_ALPHA_FLAGS_SRC_SURFACE_HAS_ALPHA,
            .alpha = 0x80,
            .src = &src,
            .src_area = {0, 0, 8, 8},
    };
    server_msg_display_draw_alpha_blend(&b, &op_base, &ab);
    /* clang-format off */
    CHECK_BUF(&b, BASE_NO_CLIP,
              3, 0x80, U32(43), U32(0), U32(0), U32(8), U32(8),
              CACHED_IMAGE(5));
    /* clang-format on */
    buf_reset(&b);

    ab.src = NULL;
    server_msg_display_draw_alpha_blend(&b, &op_base, &ab);
    CHECK_EQ(b.len, 43);
    CHECK_EQ(get_u32le(b.data + 23), 0);
    buf_finish(&b);
}

/* With a header before the body, every offset is still body-relative. */
static void test_draw_offsets_after_header(void)
{
    struct byte_buf b = {0};
    buf_put_zeros(&b, 6);
    struct wire_image src = cached_image(1), pat = cached_image(2);
    struct wire_rop3 rop3 = {
            .src = &src,
            .brush = {.type = SPICE_BRUSH_TYPE_PATTERN, .pattern = &pat},
            .mask = {.bitmap = &mask_image},
    };
    server_msg_display_draw_rop3(&b, &op_base, &rop3);
    CHECK(buf_ok(&b));
    const uint8_t *body = b.data + 6;
    CHECK_EQ(b.len - 6, 69 + 18 + 18 + 38);
    CHECK_EQ(get_u32le(body + 21), 69);
    CHECK_EQ(get_u32le(body + 42), 87);
    CHECK_EQ(get_u32le(body + 65), 105);
    buf_finish(&b);
}

static void test_inputs(void)
{
    struct byte_buf b = {0};
    server_msg_inputs_init(&b, SPICE_KEYBOARD_MODIFIER_FLAGS_NUM_LOCK);
    server_msg_inputs_key_modifiers(&b, 7);
    CHECK_BUF(&b, 2, 0, 7, 0);
    buf_finish(&b);
}

static void test_cursor(void)
{
    struct byte_buf b = {0};
    const uint8_t shape[16] = {0xff, 0, 0, 0xff, 0xff, 0, 0, 0xff,
                               0xff, 0, 0, 0xff, 0xff, 0, 0, 0xff};
    struct wire_cursor cur = {
            .flags = SPICE_CURSOR_FLAGS_CACHE_ME,
            .unique = 0x77,
            .type = SPICE_CURSOR_TYPE_ALPHA,
            .width = 2,
            .height = 2,
            .hot_spot_x = 1,
            .hot_spot_y = 0,
            .data = shape,
            .data_size = sizeof(shape),
    };
    server_msg_cursor_init(&b, (struct wire_point){100, -5}, 0, 0, 1, &cur);
    CHECK_BUF(&b, U16(100), U16(-5),            /* Point16 */
              U16(0), U16(0), 1,                /* trail length, frequency, visible */
              U16(SPICE_CURSOR_FLAGS_CACHE_ME), /* flags */
              U64(0x77), SPICE_CURSOR_TYPE_ALPHA, U16(2), U16(2), U16(1), U16(0), 0xff, 0, 0, 0xff,
              0xff, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0xff);
    buf_reset(&b);

    struct wire_cursor none = {.flags = SPICE_CURSOR_FLAGS_NONE, .data = shape, .data_size = 16};
    server_msg_cursor_set(&b, (struct wire_point){1, 2}, 0, &none);
    CHECK_BUF(&b, U16(1), U16(2), 0, U16(1));
    buf_reset(&b);

    server_msg_cursor_set(&b, (struct wire_point){1, 2}, 1, NULL);
    CHECK_BUF(&b, U16(1), U16(2), 1, U16(1));
    buf_reset(&b);

    struct wire_cursor cached = {.flags = SPICE_CURSOR_FLAGS_FROM_CACHE, .unique = 5};
    server_msg_cursor_set(&b, (struct wire_point){0, 0}, 1, &cached);
    CHECK_BUF(&b, U16(0), U16(0), 1, U16(SPICE_CURSOR_FLAGS_FROM_CACHE), U64(5), 0, U16(0), U16(0),
              U16(0), U16(0));
    buf_reset(&b);

    server_msg_cursor_move(&b, (struct wire_point){70000, -70000});
    CHECK_BUF(&b, U16(0x7fff), U16(0x8000));
    buf_reset(&b);

    server_msg_cursor_trail(&b, 3, 4);
    CHECK_BUF(&b, U16(3), U16(4));
    buf_finish(&b);
}

/* Palette images: BITMAP with an inline palette (placed after the pixels,
 * its offset from the body start), LZ_PLT naming a cached palette, and
 * INVAL_PALETTE. */
static void test_draw_copy_palette(void)
{
    struct byte_buf b = {0};
    buf_put_zeros(&b, 6); /* a header before the body */
    struct wire_draw_base base = {.box = {0, 0, 1, 2}, .clip = {.type = SPICE_CLIP_TYPE_NONE}};
    const uint8_t pixels[4] = {1, 0, 9, 9};
    const uint32_t colours[2] = {0x112233, 0x445566};
    struct wire_image img = {
            .id = 3,
            .type = SPICE_IMAGE_TYPE_BITMAP,
            .width = 2,
            .height = 1,
            .u.bitmap = {.format = SPICE_BITMAP_FMT_8BIT,
                         .flags = SPICE_BITMAP_FLAGS_TOP_DOWN | SPICE_BITMAP_FLAGS_PAL_FROM_CACHE,
                         .stride = 4,
                         .data = pixels},
            .palette = {.flags = SPICE_BITMAP_FLAGS_PAL_CACHE_ME,
                        .unique = 0x99,
                        .num_ents = 2,
                        .ents = colours},
    };
    struct wire_rect area = {0, 0, 1, 2};
    server_msg_display_draw_copy(&b, &base, &img, &area, SPICE_ROPD_OP_PUT,
                                 SPICE_IMAGE_SCALE_MODE_NEAREST);
    /* clang-format off */
    CHECK_BUF(&b, 0, 0, 0, 0, 0, 0,                          /* header */
              U32(0), U32(0), U32(0), U32(1), U32(2), 0,     /* base, clip NONE */
              U32(57),                                       /* src_bitmap offset */
              U32(0), U32(0), U32(1), U32(2),                /* src_area */
              U16(8), 1,                                     /* rop, scale NEAREST */
              0, U32(0), U32(0), U32(0),                     /* mask */
              /* offset 57: ImageDescriptor */
              U64(3), 0, 0, U32(2), U32(1),
              /* BitmapData: 8BIT, TOP_DOWN | PAL_CACHE_ME, x, y, stride, palette at 97 */
              5, SPICE_BITMAP_FLAGS_TOP_DOWN | SPICE_BITMAP_FLAGS_PAL_CACHE_ME,
              U32(2), U32(1), U32(4), U32(97),
              1, 0, 9, 9,
              /* offset 97: Palette */
              U64(0x99), U16(2), U32(0x112233), U32(0x445566));
    /* clang-format on */

    /* LZ_PLT from the cache: flags, data_size, palette id, data. */
    const uint8_t lz[3] = {0xa, 0xb, 0xc};
    struct wire_image plt = {
            .id = 4,
            .type = SPICE_IMAGE_TYPE_LZ_PLT,
            .width = 2,
            .height = 1,
            .u.encoded = {.data = lz, .size = 3, .flags = SPICE_BITMAP_FLAGS_TOP_DOWN},
            .palette = {.flags = SPICE_BITMAP_FLAGS_PAL_FROM_CACHE,
                        .unique = 0x99,
                        .num_ents = 2,
                        .ents = colours},
    };
    buf_reset(&b);
    server_msg_display_draw_copy(&b, &base, &plt, &area, SPICE_ROPD_OP_PUT,
                                 SPICE_IMAGE_SCALE_MODE_NEAREST);
    /* clang-format off */
    CHECK_BUF(&b, U32(0), U32(0), U32(0), U32(1), U32(2), 0, U32(57),
              U32(0), U32(0), U32(1), U32(2), U16(8), 1, 0, U32(0), U32(0), U32(0),
              U64(4), SPICE_IMAGE_TYPE_LZ_PLT, 0, U32(2), U32(1),
              SPICE_BITMAP_FLAGS_TOP_DOWN | SPICE_BITMAP_FLAGS_PAL_FROM_CACHE, U32(3), U64(0x99),
              0xa, 0xb, 0xc);
    /* clang-format on */

    /* LZ_PLT with its palette inline, not cached (unique 0 on the wire). */
    plt.palette = (struct wire_palette){.num_ents = 1, .ents = colours};
    plt.u.encoded.flags = 0;
    buf_reset(&b);
    server_msg_display_draw_copy(&b, &base, &plt, &area, SPICE_ROPD_OP_PUT,
                                 SPICE_IMAGE_SCALE_MODE_NEAREST);
    /* clang-format off */
    CHECK_BUF(&b, U32(0), U32(0), U32(0), U32(1), U32(2), 0, U32(57),
              U32(0), U32(0), U32(1), U32(2), U16(8), 1, 0, U32(0), U32(0), U32(0),
              U64(4), SPICE_IMAGE_TYPE_LZ_PLT, 0, U32(2), U32(1),
              0, U32(3), U32(87), 0xa, 0xb, 0xc,
              U64(0), U16(1), U32(0x112233));
    /* clang-format on */

    /* CACHE_ME without a palette to cache is not put on the wire. */
    plt.palette = (struct wire_palette){.flags = SPICE_BITMAP_FLAGS_PAL_CACHE_ME, .unique = 5};
    buf_reset(&b);
    server_msg_display_draw_copy(&b, &base, &plt, &area, SPICE_ROPD_OP_PUT,
                                 SPICE_IMAGE_SCALE_MODE_NEAREST);
    CHECK_EQ(b.data[57 + 18], 0);
    CHECK_EQ(get_u32le(b.data + 57 + 18 + 5), 0);

    buf_reset(&b);
    server_msg_display_inval_palette(&b, 0x0102030405060708ull);
    CHECK_BUF(&b, U64(0x0102030405060708ull));
    buf_finish(&b);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_base),
            CHECK_CASE(test_main),
            CHECK_CASE(test_empty_bodies),
            CHECK_CASE(test_display_simple),
            CHECK_CASE(test_draw_fill),
            CHECK_CASE(test_draw_copy_bitmap),
            CHECK_CASE(test_draw_copy_after_header_with_clip),
            CHECK_CASE(test_draw_copy_special_images),
            CHECK_CASE(test_draw_copy_palette),
            CHECK_CASE(test_draw_fill_pattern_mask),
            CHECK_CASE(test_draw_copy_blend_masked),
            CHECK_CASE(test_draw_opaque_rop3),
            CHECK_CASE(test_draw_mask_ops),
            CHECK_CASE(test_draw_stroke),
            CHECK_CASE(test_draw_text),
            CHECK_CASE(test_draw_transparent_alpha_blend),
            CHECK_CASE(test_draw_offsets_after_header),
            CHECK_CASE(test_inputs),
            CHECK_CASE(test_cursor),
            {0},
    });
}
