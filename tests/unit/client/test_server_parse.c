/*
 * Tests for src/proto/server_parse.c: golden bodies made with the server's
 * writers (src/proto/server_msg.c), parsed back field by field; every
 * truncation of each body must fail cleanly (no crash, negative code, an
 * err_desc), and hand-made hostile bodies (offsets outside the body, huge
 * counts, bad strides) are refused.
 */
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/protocol.h>

#include "check.h"
#include "common/error.h"
#include "proto/server_parse.h"

/* Every proper prefix of a draw body must be refused with a reason. */
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

static void test_base(void)
{
    struct byte_buf b = {0};
    uint32_t gen, window, id;
    uint64_t ts;
    const char *err = NULL;
    server_msg_set_ack(&b, 7, 20);
    CHECK_EQ(server_parse_set_ack(b.data, b.len, &gen, &window, &err), 8);
    CHECK_EQ(gen, 7u);
    CHECK_EQ(window, 20u);
    CHECK(server_parse_set_ack(b.data, 7, &gen, &window, &err) < 0);
    buf_reset(&b);
    server_msg_ping(&b, 3, 0x1122334455667788ull, 100);
    CHECK_EQ(server_parse_ping(b.data, b.len, &id, &ts, &err), (int)b.len);
    CHECK_EQ(id, 3u);
    CHECK_EQ(ts, 0x1122334455667788ull);
    buf_reset(&b);
    server_msg_notify(&b, 1, 2, 3, 4, "hello");
    struct server_notify n;
    CHECK(server_parse_notify(b.data, b.len, &n, &err) > 0);
    CHECK_EQ(n.message_len, 5u);
    CHECK_MEM_EQ(n.message, "hello", 5);
    CHECK(server_parse_notify(b.data, 26, &n, &err) < 0);
    buf_finish(&b);
}

static void test_main(void)
{
    struct byte_buf b = {0};
    const char *err = NULL;
    struct wire_main_init in = {
            .session_id = 0xdeadbeef, .display_channels_hint = 1, .ram_hint = 99};
    server_msg_main_init(&b, &in);
    struct wire_main_init out;
    CHECK_EQ(server_parse_main_init(b.data, b.len, &out, &err), 32);
    CHECK_EQ(out.session_id, 0xdeadbeefu);
    CHECK_EQ(out.ram_hint, 99u);
    CHECK(server_parse_main_init(b.data, 31, &out, &err) < 0);
    buf_reset(&b);
    struct wire_channel_id list[3] = {{1, 0}, {2, 0}, {4, 0}}, got[8];
    uint32_t count = 0;
    server_msg_main_channels_list(&b, list, 3);
    CHECK_EQ(server_parse_main_channels_list(b.data, b.len, got, 8, &count, &err), 10);
    CHECK_EQ(count, 3u);
    CHECK_EQ(got[1].type, 2);
    CHECK_EQ(server_parse_main_channels_list(b.data, b.len, got, 2, &count, &err), CLOVE_E_RANGE);
    CHECK(server_parse_main_channels_list(b.data, 9, got, 8, &count, &err) < 0);
    /* A count of 2^32-1 with no entries. */
    uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    CHECK_EQ(server_parse_main_channels_list(huge, 4, got, 8, &count, &err), CLOVE_E_RANGE);
    buf_finish(&b);
    /* MOUSE_MODE, NAME and the one-u32 messages. */
    const uint8_t mode[4] = {3, 0, 2, 0};
    uint16_t supported, current;
    CHECK_EQ(server_parse_main_mouse_mode(mode, 4, &supported, &current, &err), 4);
    CHECK_EQ(supported, 3);
    CHECK_EQ(current, 2);
    CHECK(server_parse_main_mouse_mode(mode, 3, &supported, &current, &err) < 0);
    const uint8_t named[9] = {5, 0, 0, 0, 'g', 'u', 'e', 's', 't'};
    const uint8_t *name;
    uint32_t name_len;
    CHECK_EQ(server_parse_main_name(named, 9, &name, &name_len, &err), 9);
    CHECK_EQ(name_len, 5u);
    CHECK(memcmp(name, "guest", 5) == 0);
    CHECK(server_parse_main_name(named, 8, &name, &name_len, &err) < 0);
    CHECK(name == NULL && name_len == 0);
    CHECK(server_parse_main_name(huge, 4, &name, &name_len, &err) < 0);
    const uint8_t word[4] = {0x10, 0x27, 0, 0};
    uint32_t value = 0;
    CHECK_EQ(server_parse_main_u32(SPICE_MSG_MAIN_MULTI_MEDIA_TIME, word, 4, &value, &err), 4);
    CHECK_EQ(value, 10000u);
    CHECK_EQ(server_parse_main_u32(SPICE_MSG_MAIN_AGENT_TOKEN, word, 4, &value, &err), 4);
    CHECK_EQ(server_parse_main_u32(SPICE_MSG_MAIN_AGENT_DISCONNECTED, word, 4, &value, &err), 4);
    CHECK_EQ(server_parse_main_u32(SPICE_MSG_MAIN_AGENT_CONNECTED_TOKENS, word, 4, &value, &err),
             4);
    CHECK(server_parse_main_u32(SPICE_MSG_MAIN_AGENT_TOKEN, word, 3, &value, &err) < 0);
    CHECK_EQ(server_parse_main_u32(SPICE_MSG_MAIN_NAME, word, 4, &value, &err),
             CLOVE_E_UNSUPPORTED);
}

static void test_surfaces(void)
{
    struct byte_buf b = {0};
    const char *err = NULL;
    struct server_surface_create c;
    server_msg_display_surface_create(&b, 0, 1024, 768, SPICE_SURFACE_FMT_32_xRGB, 1);
    CHECK_EQ(server_parse_surface_create(b.data, b.len, &c, &err), 20);
    CHECK_EQ(c.width, 1024u);
    CHECK_EQ(c.height, 768u);
    CHECK_EQ(c.format, (uint32_t)SPICE_SURFACE_FMT_32_xRGB);
    CHECK_EQ(c.flags, 1u);
    buf_reset(&b);
    server_msg_display_surface_create(&b, 0, 0, 768, 32, 0);
    CHECK_EQ(server_parse_surface_create(b.data, b.len, &c, &err), CLOVE_E_RANGE);
    buf_reset(&b);
    server_msg_display_surface_create(&b, 0, 100000, 768, 32, 0);
    CHECK_EQ(server_parse_surface_create(b.data, b.len, &c, &err), CLOVE_E_RANGE);
    buf_reset(&b);
    uint32_t id;
    server_msg_display_surface_destroy(&b, 5);
    CHECK_EQ(server_parse_surface_destroy(b.data, b.len, &id, &err), 4);
    CHECK_EQ(id, 5u);
    buf_reset(&b);
    struct wire_head heads[2] = {{0, 0, 1024, 768, 0, 0, 0}, {1, 0, 640, 480, 1024, 0, 0}};
    struct wire_head got[SERVER_PARSE_MAX_HEADS];
    uint16_t count, max;
    server_msg_display_monitors_config(&b, heads, 2, 4);
    CHECK(server_parse_monitors_config(b.data, b.len, got, SERVER_PARSE_MAX_HEADS, &count, &max,
                                       &err) > 0);
    CHECK_EQ(count, 2);
    CHECK_EQ(max, 4);
    CHECK_EQ(got[1].x, 1024u);
    CHECK(server_parse_monitors_config(b.data, b.len - 1, got, 16, &count, &max, &err) < 0);
    buf_finish(&b);
}

static void test_fill_with_clip(void)
{
    struct byte_buf b = {0};
    struct wire_rect rects[2] = {{0, 0, 10, 10}, {20, 20, 30, 40}};
    struct wire_draw_base base = {
            .surface_id = 0, .box = {1, 2, 3, 4}, .clip = {SPICE_CLIP_TYPE_RECTS, 2, rects}};
    server_msg_display_draw_fill(&b, &base, 0xff123456, SPICE_ROPD_OP_PUT);
    struct server_draw d;
    const char *err = NULL;
    CHECK_EQ(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_FILL, b.data, b.len, &d, &err), (int)b.len);
    CHECK_EQ(d.box.left, 2);
    CHECK_EQ(d.box.right, 4);
    CHECK_EQ(d.num_clip_rects, 2u);
    struct wire_rect r = server_draw_clip_rect(&d, 1);
    CHECK_EQ(r.right, 40);
    CHECK_EQ(d.u.fill.brush.type, SPICE_BRUSH_TYPE_SOLID);
    CHECK_EQ(d.u.fill.brush.color, 0xff123456u);
    CHECK(!d.mask.has_bitmap);
    CHECK_EQ(d.u.fill.rop_descriptor, SPICE_ROPD_OP_PUT);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_FILL, &b));
    /* A clip count far beyond the body. */
    put_u32le(b.data + 21, 60000);
    CHECK(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_FILL, b.data, b.len, &d, &err) < 0);
    put_u32le(b.data + 21, 0x7fffffff);
    CHECK_EQ(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_FILL, b.data, b.len, &d, &err),
             CLOVE_E_RANGE);
    buf_finish(&b);
}

static void test_copy_bitmap(void)
{
    uint8_t pixels[2 * 8];
    for (int i = 0; i < 16; i++) {
        pixels[i] = (uint8_t)i;
    }
    struct wire_image img = {.id = 42, .type = SPICE_IMAGE_TYPE_BITMAP, .width = 2, .height = 2};
    img.u.bitmap.format = SPICE_BITMAP_FMT_32BIT;
    img.u.bitmap.flags = SPICE_BITMAP_FLAGS_TOP_DOWN;
    img.u.bitmap.stride = 8;
    img.u.bitmap.data = pixels;
    struct wire_draw_base base = {.surface_id = 0, .box = {0, 0, 2, 2}};
    struct wire_rect area = {0, 0, 2, 2};
    struct byte_buf b = {0};
    server_msg_display_draw_copy(&b, &base, &img, &area, SPICE_ROPD_OP_PUT, 0);
    struct server_draw d;
    const char *err = NULL;
    CHECK(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_COPY, b.data, b.len, &d, &err) > 0);
    CHECK(d.u.copy.has_src);
    CHECK_EQ(d.u.copy.src.id, 42u);
    CHECK_EQ(d.u.copy.src.type, SPICE_IMAGE_TYPE_BITMAP);
    CHECK_EQ(d.u.copy.src.width, 2u);
    CHECK_EQ(d.u.copy.src.bitmap.stride, 8u);
    CHECK_EQ(d.u.copy.src.size, 16u);
    CHECK_MEM_EQ(d.u.copy.src.data, pixels, 16);
    CHECK_EQ(d.u.copy.src_area.right, 2);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_COPY, &b));
    /* The image offset (right after the 21-byte base) pointing outside. */
    uint8_t *p = malloc(b.len);
    memcpy(p, b.data, b.len);
    put_u32le(p + 21, (uint32_t)b.len);
    CHECK(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_COPY, p, b.len, &d, &err) < 0);
    put_u32le(p + 21, 0xfffffff0u);
    CHECK(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_COPY, p, b.len, &d, &err) < 0);
    free(p);
    buf_finish(&b);
    /* A stride below the row size. */
    img.u.bitmap.stride = 4;
    server_msg_display_draw_copy(&b, &base, &img, &area, SPICE_ROPD_OP_PUT, 0);
    CHECK_EQ(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_COPY, b.data, b.len, &d, &err),
             CLOVE_E_INVALID);
    buf_finish(&b);
}

static void test_copy_encoded_and_special(void)
{
    const uint8_t payload[5] = {1, 2, 3, 4, 5};
    struct wire_draw_base base = {.surface_id = 0, .box = {0, 0, 4, 4}};
    struct wire_rect area = {0, 0, 4, 4};
    const uint8_t types[] = {SPICE_IMAGE_TYPE_QUIC, SPICE_IMAGE_TYPE_LZ_RGB,
                             SPICE_IMAGE_TYPE_GLZ_RGB, SPICE_IMAGE_TYPE_JPEG, SPICE_IMAGE_TYPE_LZ4};
    for (size_t i = 0; i < sizeof(types); i++) {
        struct wire_image img = {.id = 1, .type = types[i], .width = 4, .height = 4};
        img.u.encoded.data = payload;
        img.u.encoded.size = sizeof(payload);
        struct byte_buf b = {0};
        server_msg_display_draw_copy(&b, &base, &img, &area, SPICE_ROPD_OP_PUT, 0);
        struct server_draw d;
        const char *err = NULL;
        CHECK(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_COPY, b.data, b.len, &d, &err) > 0);
        CHECK_EQ(d.u.copy.src.type, types[i]);
        CHECK_EQ(d.u.copy.src.size, sizeof(payload));
        CHECK_MEM_EQ(d.u.copy.src.data, payload, sizeof(payload));
        CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_COPY, &b));
        buf_finish(&b);
    }
    /* ZLIB_GLZ: the whole type-specific part is handed over. */
    uint8_t zpart[8 + 3] = {50, 0, 0, 0, 3, 0, 0, 0, 7, 8, 9};
    struct wire_image img = {
            .id = 2, .type = SPICE_IMAGE_TYPE_ZLIB_GLZ_RGB, .width = 4, .height = 4};
    img.u.encoded.data = zpart;
    img.u.encoded.size = sizeof(zpart);
    struct byte_buf b = {0};
    server_msg_display_draw_copy(&b, &base, &img, &area, SPICE_ROPD_OP_PUT, 0);
    struct server_draw d;
    const char *err = NULL;
    CHECK(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_COPY, b.data, b.len, &d, &err) > 0);
    CHECK_EQ(d.u.copy.src.size, sizeof(zpart));
    CHECK_MEM_EQ(d.u.copy.src.data, zpart, sizeof(zpart));
    buf_reset(&b);
    /* SURFACE and FROM_CACHE. */
    uint8_t sid[4] = {3, 0, 0, 0};
    img = (struct wire_image){.id = 9, .type = SPICE_IMAGE_TYPE_SURFACE};
    img.u.encoded.data = sid;
    img.u.encoded.size = 4;
    server_msg_display_draw_copy(&b, &base, &img, &area, SPICE_ROPD_OP_PUT, 0);
    CHECK(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_COPY, b.data, b.len, &d, &err) > 0);
    CHECK_EQ(d.u.copy.src.surface_id, 3u);
    buf_reset(&b);
    img = (struct wire_image){
            .id = 77, .type = SPICE_IMAGE_TYPE_FROM_CACHE, .width = 4, .height = 4};
    server_msg_display_draw_copy(&b, &base, &img, &area, SPICE_ROPD_OP_PUT, 0);
    CHECK(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_COPY, b.data, b.len, &d, &err) > 0);
    CHECK_EQ(d.u.copy.src.id, 77u);
    buf_finish(&b);
}

static void test_bits_mask_only_composite(void)
{
    struct wire_draw_base base = {.surface_id = 1, .box = {5, 6, 7, 8}};
    struct byte_buf b = {0};
    struct server_draw d;
    const char *err = NULL;
    server_msg_display_copy_bits(&b, &base, (struct wire_point){-3, 4});
    CHECK_EQ(server_parse_draw(SPICE_MSG_DISPLAY_COPY_BITS, b.data, b.len, &d, &err), (int)b.len);
    CHECK_EQ(d.u.copy_bits.src_pos.x, -3);
    CHECK_EQ(d.u.copy_bits.src_pos.y, 4);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_COPY_BITS, &b));
    buf_reset(&b);
    server_msg_display_draw_mask_only(&b, &base);
    CHECK_EQ(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_INVERS, b.data, b.len, &d, &err), (int)b.len);
    CHECK_EQ(d.surface_id, 1u);
    CHECK(!d.mask.has_bitmap);
    /* A mask bitmap pointing at garbage inside the body is refused. */
    put_u32le(b.data + b.len - 4, 10);
    CHECK(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_INVERS, b.data, b.len, &d, &err) < 0);
    buf_reset(&b);
    uint8_t px[4] = {1, 2, 3, 4};
    struct wire_image src = {.id = 5, .type = SPICE_IMAGE_TYPE_BITMAP, .width = 1, .height = 1};
    src.u.bitmap.format = SPICE_BITMAP_FMT_RGBA;
    src.u.bitmap.stride = 4;
    src.u.bitmap.data = px;
    uint32_t t[6] = {1 << 16, 0, 0, 0, 1 << 16, 0};
    struct wire_composite c = {.flags = 3 /* OVER */,
                               .src = &src,
                               .mask = &src,
                               .src_transform = t,
                               .src_origin = {1, 2},
                               .mask_origin = {-1, 0}};
    server_msg_display_draw_composite(&b, &base, &c);
    CHECK(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_COMPOSITE, b.data, b.len, &d, &err) > 0);
    CHECK(d.u.composite.has_mask);
    CHECK(d.u.composite.has_src_transform);
    CHECK(!d.u.composite.has_mask_transform);
    CHECK_EQ(d.u.composite.src_transform[4], 1u << 16);
    CHECK_EQ(d.u.composite.src_origin_y, 2);
    CHECK_EQ(d.u.composite.mask_origin_x, -1);
    CHECK_EQ(d.u.composite.src.bitmap.format, SPICE_BITMAP_FMT_RGBA);
    CHECK_EQ(d.u.composite.mask.id, 5u);
    CHECK(truncations_fail(SPICE_MSG_DISPLAY_DRAW_COMPOSITE, &b));
    CHECK_EQ(server_parse_draw(SPICE_MSG_DISPLAY_STREAM_CREATE, b.data, b.len, &d, &err),
             CLOVE_E_UNSUPPORTED);
    buf_finish(&b);
}

static void test_palette_bitmap(void)
{
    /* Hand-made: an 8-bit bitmap with a palette placed after the pixels. */
    struct byte_buf b = {0};
    buf_put_u64(&b, 1); /* id */
    buf_put_u8(&b, SPICE_IMAGE_TYPE_BITMAP);
    buf_put_u8(&b, 0);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 1);
    buf_put_u8(&b, SPICE_BITMAP_FMT_8BIT);
    buf_put_u8(&b, 0);
    buf_put_u32(&b, 2);  /* x */
    buf_put_u32(&b, 1);  /* y */
    buf_put_u32(&b, 4);  /* stride */
    buf_put_u32(&b, 40); /* palette offset */
    buf_put(&b, "\x00\x01\x00\x00", 4);
    CHECK_EQ(b.len, 40u);
    buf_put_u64(&b, 0x55);
    buf_put_u16(&b, 2);
    buf_put_u32(&b, 0xff0000);
    buf_put_u32(&b, 0x00ff00);
    struct server_image img;
    const char *err = NULL;
    CHECK_EQ(server_parse_image(b.data, b.len, 0, &img, &err), 0);
    CHECK_EQ(img.num_palette, 2);
    CHECK_EQ(img.palette_id, 0x55u);
    CHECK_EQ(get_u32le(img.palette + 4), 0x00ff00u);
    /* Palette entries beyond the body. */
    CHECK(server_parse_image(b.data, b.len - 1, 0, &img, &err) < 0);
    put_u32le(b.data + 32, 0xffffff00u);
    CHECK(server_parse_image(b.data, b.len, 0, &img, &err) < 0);
    buf_finish(&b);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_base),
            CHECK_CASE(test_main),
            CHECK_CASE(test_surfaces),
            CHECK_CASE(test_fill_with_clip),
            CHECK_CASE(test_copy_bitmap),
            CHECK_CASE(test_copy_encoded_and_special),
            CHECK_CASE(test_bits_mask_only_composite),
            CHECK_CASE(test_palette_bitmap),
            {0},
    });
}
