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
            CHECK_CASE(test_inputs),
            CHECK_CASE(test_cursor),
            {0},
    });
}
