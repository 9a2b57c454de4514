/*
 * The palette cache mirror (src/display/palette_cache.c) and palette
 * images through the encoder stage (src/display/image_encoder.c): LRU
 * eviction of the 128 entries with each eviction reported, FROM_CACHE
 * only for palettes of earlier messages, and LZ_PLT / BITMAP images with
 * their palettes written (src/proto/server_msg.c) and read back by our
 * client's parser (src/proto/server_parse.c) and LZ decoder.
 */
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>

#include "check.h"
#include "codec/lz.h"
#include "common/bytes.h"
#include "display/image_encoder.h"
#include "display/palette_cache.h"
#include "proto/server_msg.h"
#include "proto/server_parse.h"

static uint8_t use(struct palette_cache *c, uint64_t unique, uint64_t *evicted, bool *has)
{
    palette_cache_begin(c);
    return palette_cache_use(c, unique, 16, evicted, has);
}

static void test_first_time_then_from_cache(void)
{
    struct palette_cache c;
    palette_cache_init(&c);
    uint64_t ev = 0;
    bool has = true;
    CHECK_EQ(use(&c, 0x1234, &ev, &has), SPICE_BITMAP_FLAGS_PAL_CACHE_ME);
    CHECK(!has);
    CHECK(palette_cache_contains(&c, 0x1234));
    CHECK_EQ(use(&c, 0x1234, &ev, &has), SPICE_BITMAP_FLAGS_PAL_FROM_CACHE);
    CHECK_EQ(use(&c, 0x1234, &ev, &has), SPICE_BITMAP_FLAGS_PAL_FROM_CACHE);
    CHECK_EQ(c.hits, 2);
    CHECK_EQ(c.adds, 1);
    /* unique 0: inline, never cached. */
    CHECK_EQ(use(&c, 0, &ev, &has), 0);
    CHECK(!palette_cache_contains(&c, 0));
    CHECK_EQ(c.count, 1);
    /* A reset (INVAL_ALL_PALETTES) forgets everything. */
    palette_cache_init(&c);
    CHECK(!palette_cache_contains(&c, 0x1234));
    CHECK_EQ(use(&c, 0x1234, &ev, &has), SPICE_BITMAP_FLAGS_PAL_CACHE_ME);
}

static void test_same_message_goes_inline(void)
{
    struct palette_cache c;
    palette_cache_init(&c);
    uint64_t ev;
    bool has;
    palette_cache_begin(&c);
    CHECK_EQ(palette_cache_use(&c, 5, 16, &ev, &has), SPICE_BITMAP_FLAGS_PAL_CACHE_ME);
    /* The client may read the message's images in another order. */
    CHECK_EQ(palette_cache_use(&c, 5, 16, &ev, &has), 0);
    palette_cache_begin(&c);
    CHECK_EQ(palette_cache_use(&c, 5, 16, &ev, &has), SPICE_BITMAP_FLAGS_PAL_FROM_CACHE);
    CHECK_EQ(palette_cache_use(&c, 5, 16, &ev, &has), SPICE_BITMAP_FLAGS_PAL_FROM_CACHE);
}

static void test_lru_eviction(void)
{
    struct palette_cache c;
    palette_cache_init(&c);
    uint64_t ev = 0;
    bool has = false;
    for (uint64_t i = 1; i <= PALETTE_CACHE_SIZE; i++) {
        CHECK_EQ(use(&c, i, &ev, &has), SPICE_BITMAP_FLAGS_PAL_CACHE_ME);
        CHECK(!has);
    }
    CHECK_EQ(c.count, PALETTE_CACHE_SIZE);
    /* 1 is used again, so 2 is the least recently used. */
    CHECK_EQ(use(&c, 1, &ev, &has), SPICE_BITMAP_FLAGS_PAL_FROM_CACHE);
    CHECK_EQ(use(&c, 1000, &ev, &has), SPICE_BITMAP_FLAGS_PAL_CACHE_ME);
    CHECK(has);
    CHECK_EQ(ev, 2);
    CHECK(!palette_cache_contains(&c, 2));
    CHECK(palette_cache_contains(&c, 1));
    CHECK(palette_cache_contains(&c, 1000));
    CHECK_EQ(use(&c, 1001, &ev, &has), SPICE_BITMAP_FLAGS_PAL_CACHE_ME);
    CHECK(has);
    CHECK_EQ(ev, 3);
    /* An evicted palette comes back as new. */
    CHECK_EQ(use(&c, 2, &ev, &has), SPICE_BITMAP_FLAGS_PAL_CACHE_ME);
    CHECK(has);
    CHECK_EQ(ev, 4);
    CHECK_EQ(c.count, PALETTE_CACHE_SIZE);
    CHECK_EQ(c.evictions, 3);
}

/* Entries the current message uses are never evicted. */
static void test_pinned_in_message(void)
{
    struct palette_cache c;
    palette_cache_init(&c);
    uint64_t ev = 0;
    bool has = false;
    for (uint64_t i = 1; i <= PALETTE_CACHE_SIZE; i++) {
        use(&c, i, &ev, &has);
    }
    palette_cache_begin(&c);
    CHECK_EQ(palette_cache_use(&c, 1, 16, &ev, &has), SPICE_BITMAP_FLAGS_PAL_FROM_CACHE);
    CHECK_EQ(palette_cache_use(&c, 500, 16, &ev, &has), SPICE_BITMAP_FLAGS_PAL_CACHE_ME);
    CHECK(has);
    CHECK_EQ(ev, 2); /* not 1, pinned by this message */
    /* Every entry in use by one message: no room, inline. */
    palette_cache_begin(&c);
    for (uint32_t i = 0; i < c.count; i++) {
        c.entry[i].used_in = c.generation;
    }
    CHECK_EQ(palette_cache_use(&c, 9999, 16, &ev, &has), 0);
    CHECK(!has);
    CHECK(!palette_cache_contains(&c, 9999));
}

/* A message that is not sent takes back what it added, nothing else. */
static void test_cancel_message(void)
{
    struct palette_cache c;
    palette_cache_init(&c);
    uint64_t ev;
    bool has;
    CHECK_EQ(use(&c, 1, &ev, &has), SPICE_BITMAP_FLAGS_PAL_CACHE_ME);
    palette_cache_begin(&c);
    CHECK_EQ(palette_cache_use(&c, 1, 16, &ev, &has), SPICE_BITMAP_FLAGS_PAL_FROM_CACHE);
    CHECK_EQ(palette_cache_use(&c, 2, 16, &ev, &has), SPICE_BITMAP_FLAGS_PAL_CACHE_ME);
    CHECK_EQ(palette_cache_use(&c, 3, 16, &ev, &has), SPICE_BITMAP_FLAGS_PAL_CACHE_ME);
    palette_cache_cancel_message(&c);
    CHECK(palette_cache_contains(&c, 1));
    CHECK(!palette_cache_contains(&c, 2));
    CHECK(!palette_cache_contains(&c, 3));
    CHECK_EQ(c.count, 1);
    CHECK_EQ(use(&c, 2, &ev, &has), SPICE_BITMAP_FLAGS_PAL_CACHE_ME);
    /* A new message cancels nothing of the previous one. */
    palette_cache_begin(&c);
    palette_cache_cancel_message(&c);
    CHECK(palette_cache_contains(&c, 2));
}

/* A palette id cached with fewer colours than an image needs goes inline. */
static void test_fewer_colours(void)
{
    struct palette_cache c;
    palette_cache_init(&c);
    uint64_t ev;
    bool has;
    palette_cache_begin(&c);
    CHECK_EQ(palette_cache_use(&c, 7, 2, &ev, &has), SPICE_BITMAP_FLAGS_PAL_CACHE_ME);
    palette_cache_begin(&c);
    CHECK_EQ(palette_cache_use(&c, 7, 256, &ev, &has), 0);
    CHECK_EQ(palette_cache_use(&c, 7, 2, &ev, &has), SPICE_BITMAP_FLAGS_PAL_FROM_CACHE);
    CHECK_EQ(palette_cache_use(&c, 7, 1, &ev, &has), SPICE_BITMAP_FLAGS_PAL_FROM_CACHE);
}

/* Writes `img` as a DRAW_COPY and parses it back with our client's parser. */
static void copy_round_trip(const struct wire_image *img, struct byte_buf *b, struct server_draw *d)
{
    struct wire_draw_base base = {.box = {0, 0, (int32_t)img->height, (int32_t)img->width},
                                  .clip = {.type = SPICE_CLIP_TYPE_NONE}};
    struct wire_rect area = {0, 0, (int32_t)img->height, (int32_t)img->width};
    buf_reset(b);
    server_msg_display_draw_copy(b, &base, img, &area, SPICE_ROPD_OP_PUT,
                                 SPICE_IMAGE_SCALE_MODE_NEAREST);
    const char *err = NULL;
    CHECK(buf_ok(b));
    CHECK(server_parse_draw(SPICE_MSG_DISPLAY_DRAW_COPY, b->data, b->len, d, &err) > 0);
}

static void test_lz_plt_round_trip(void)
{
    enum { W = 40, H = 30 };
    uint8_t pixels[W * H];
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            pixels[y * W + x] = (uint8_t)((x / 8 + y / 6) % 5);
        }
    }
    const uint32_t colours[5] = {0x000000, 0xff0000, 0x00ff00, 0x0000ff, 0xffffff};
    struct image_encoder_palette pal = {0xabcdef0123ull, colours, 5};
    struct codec_image img = {CODEC_FMT_PLT8, W, H, W, pixels};
    struct image_encoder_client enc;
    image_encoder_client_init(&enc, false, 0);
    struct image_encoder_settings s = {.compression = SPICE_IMAGE_COMPRESSION_AUTO_GLZ};
    CHECK(image_encoder_keeps_palette(&enc, &s));
    struct byte_buf scratch = {0}, b = {0};
    struct wire_image w;
    CHECK_EQ(image_encoder_encode_palette(&enc, &s, &img, &pal, 77, &w, &scratch),
             SPICE_IMAGE_TYPE_LZ_PLT);
    w.palette.flags = SPICE_BITMAP_FLAGS_PAL_CACHE_ME;
    struct server_draw d;
    copy_round_trip(&w, &b, &d);
    const struct server_image *si = &d.u.copy.src;
    CHECK_EQ(si->type, SPICE_IMAGE_TYPE_LZ_PLT);
    CHECK_EQ(si->id, 77);
    CHECK_EQ(si->lz_plt_flags, SPICE_BITMAP_FLAGS_TOP_DOWN | SPICE_BITMAP_FLAGS_PAL_CACHE_ME);
    CHECK(!si->palette_from_cache);
    CHECK_EQ(si->palette_id, 0xabcdef0123ull);
    CHECK_EQ(si->num_palette, 5);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(get_u32le(si->palette + 4 * i), colours[i]);
    }
    struct codec_info info;
    const char *err = NULL;
    CHECK_EQ(lz_decode_header(si->data, si->size, &info, &err), 0);
    CHECK_EQ(info.format, CODEC_FMT_PLT8);
    uint8_t out[W * H];
    CHECK_EQ(lz_decode(si->data, si->size, out, W, &err), 0);
    CHECK_MEM_EQ(out, pixels, sizeof(pixels));
    /* The same from the cache: the id instead of the palette. */
    w.palette.flags = SPICE_BITMAP_FLAGS_PAL_FROM_CACHE;
    copy_round_trip(&w, &b, &d);
    CHECK(si->palette_from_cache);
    CHECK_EQ(si->palette_id, 0xabcdef0123ull);
    CHECK(si->palette == NULL);
    CHECK_EQ(lz_decode(si->data, si->size, out, W, &err), 0);
    CHECK_MEM_EQ(out, pixels, sizeof(pixels));
    /* QUIC, GLZ and LZ4 take RGB only: the caller expands. */
    s.compression = SPICE_IMAGE_COMPRESSION_QUIC;
    CHECK(!image_encoder_keeps_palette(&enc, &s));
    s.compression = SPICE_IMAGE_COMPRESSION_GLZ;
    CHECK(!image_encoder_keeps_palette(&enc, &s));
    enc.preferred = SPICE_IMAGE_COMPRESSION_LZ;
    CHECK(image_encoder_keeps_palette(&enc, &s));
    /* Not a palette image. */
    struct codec_image rgb = {CODEC_FMT_RGB32, 1, 1, 4, pixels};
    CHECK(image_encoder_encode_palette(&enc, &s, &rgb, &pal, 1, &w, &scratch) < 0);
    buf_finish(&b);
    buf_finish(&scratch);
    image_encoder_client_finish(&enc);
}

static void test_bitmap_palette_round_trip(void)
{
    /* A 1-bit bottom-up bitmap, 12x3, compression OFF: a raw BITMAP. */
    const uint8_t rows[3 * 4] = {0xf0, 0x0f, 0, 0, 0xaa, 0x55, 0, 0, 0xff, 0x00, 0, 0};
    const uint32_t colours[2] = {0x102030, 0xa0b0c0};
    struct image_encoder_palette pal = {42, colours, 2};
    /* Row 0 (the top) is the last in memory. */
    struct codec_image img = {CODEC_FMT_PLT1_BE, 12, 3, -4, rows + 8};
    struct image_encoder_client enc;
    image_encoder_client_init(&enc, false, 0);
    struct image_encoder_settings s = {.compression = SPICE_IMAGE_COMPRESSION_OFF};
    CHECK(image_encoder_keeps_palette(&enc, &s));
    struct byte_buf scratch = {0}, b = {0};
    struct wire_image w;
    CHECK_EQ(image_encoder_encode_palette(&enc, &s, &img, &pal, 5, &w, &scratch),
             SPICE_IMAGE_TYPE_BITMAP);
    CHECK_EQ(w.u.bitmap.format, SPICE_BITMAP_FMT_1BIT_BE);
    struct server_draw d;
    copy_round_trip(&w, &b, &d);
    const struct server_image *si = &d.u.copy.src;
    CHECK_EQ(si->type, SPICE_IMAGE_TYPE_BITMAP);
    CHECK_EQ(si->bitmap.format, SPICE_BITMAP_FMT_1BIT_BE);
    CHECK_EQ(si->bitmap.flags, 0); /* bottom-up, palette inline, not cached */
    CHECK_EQ(si->bitmap.stride, 4);
    CHECK_EQ(si->size, 12);
    CHECK_MEM_EQ(si->data, rows, 12);
    CHECK_EQ(si->palette_id, 42);
    CHECK_EQ(si->num_palette, 2);
    CHECK_EQ(get_u32le(si->palette + 4), 0xa0b0c0);
    /* Tiny images go raw in every mode. */
    s.compression = SPICE_IMAGE_COMPRESSION_AUTO_LZ;
    CHECK_EQ(image_encoder_encode_palette(&enc, &s, &img, &pal, 5, &w, &scratch),
             SPICE_IMAGE_TYPE_BITMAP);
    buf_finish(&b);
    buf_finish(&scratch);
    image_encoder_client_finish(&enc);
}

int main(void)
{
    return check_run((struct check_case[]){CHECK_CASE(test_first_time_then_from_cache),
                                           CHECK_CASE(test_same_message_goes_inline),
                                           CHECK_CASE(test_lru_eviction),
                                           CHECK_CASE(test_pinned_in_message),
                                           CHECK_CASE(test_cancel_message),
                                           CHECK_CASE(test_fewer_colours),
                                           CHECK_CASE(test_lz_plt_round_trip),
                                           CHECK_CASE(test_bitmap_palette_round_trip),
                                           {0}});
}
