/*
 * Tests for src/client/display.c and image.c: draw messages fed to the
 * display handler of a real session whose channels have no socket (as the
 * fuzz target does). Checks pixels of solid fills and palette copies, the
 * palette cache (PAL_CACHE_ME, PAL_FROM_CACHE, INVAL_PALETTE,
 * INVAL_ALL_PALETTES; a missing palette skips the draw but keeps the
 * session), video streams skipped, MONITORS_CONFIG heads and several
 * display channels through the public API, LZ_PLT and BITMAP palette
 * images as the server's own writer (server_msg.c) lays them out, kept,
 * served from and dropped from the palette cache, and that every draw op, with
 * masks and pattern brushes, either draws or is skipped without failing
 * the session.
 */
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/protocol.h>

#include "check.h"
#include "client/client_priv.h"
#include "codec/lz.h"
#include "common/error.h"
#include "common/log.h"
#include "proto/server_msg.h"

struct fixture {
    struct clove_session *s;
    struct client_channel ch[2];
    int areas[2];
    int monitors[2];
};

static void on_monitors(struct clove_session *s, uint32_t display_channel, void *opaque)
{
    struct fixture *f = opaque;
    (void)s;
    if (display_channel < 2) {
        f->monitors[display_channel]++;
    }
}

static void on_area(struct clove_session *s, uint32_t display_channel, uint32_t surface_id, int x,
                    int y, int width, int height, void *opaque)
{
    struct fixture *f = opaque;
    (void)s;
    (void)surface_id;
    (void)x;
    (void)y;
    (void)width;
    (void)height;
    if (display_channel < 2) {
        f->areas[display_channel]++;
    }
}

static void quiet(enum log_level level, const char *file, int line, const char *msg)
{
    (void)level;
    (void)file;
    (void)line;
    (void)msg;
}

static void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->s = clove_session_create();
    for (int i = 0; i < 2; i++) {
        f->ch[i] = (struct client_channel){.session = f->s,
                                           .type = SPICE_CHANNEL_DISPLAY,
                                           .id = (uint8_t)i,
                                           .state = CHANNEL_READY,
                                           .fd = -1,
                                           .mini_header = true};
    }
    clove_session_set_surface_area_callback(f->s, on_area, f);
    clove_session_set_monitors_callback(f->s, on_monitors, f);
}

static void fixture_finish(struct fixture *f)
{
    buf_finish(&f->ch[0].tx);
    buf_finish(&f->ch[1].tx);
    clove_session_destroy(f->s);
}

static int send_msg(struct fixture *f, int channel, uint16_t type, const struct byte_buf *b)
{
    return display_message(&f->ch[channel], type, b->data, b->len);
}

static void surface_create(struct fixture *f, int channel, uint32_t w, uint32_t h)
{
    struct byte_buf b = {0};
    buf_put_u32(&b, 0);
    buf_put_u32(&b, w);
    buf_put_u32(&b, h);
    buf_put_u32(&b, SPICE_SURFACE_FMT_32_xRGB);
    buf_put_u32(&b, SPICE_SURFACE_FLAGS_PRIMARY);
    CHECK_EQ(send_msg(f, channel, SPICE_MSG_DISPLAY_SURFACE_CREATE, &b), 0);
    buf_finish(&b);
}

static uint32_t pixel(struct fixture *f, int channel, int x, int y)
{
    struct clove_frame fr;
    if (clove_session_get_surface(f->s, (uint32_t)channel, 0, &fr) < 0) {
        return 0xdeadbeef;
    }
    return get_u32le(fr.pixels + (size_t)y * (size_t)fr.stride + (size_t)x * 4);
}

static void put_base(struct byte_buf *b, int32_t left, int32_t top, int32_t right, int32_t bottom)
{
    buf_put_u32(b, 0);
    buf_put_u32(b, (uint32_t)top);
    buf_put_u32(b, (uint32_t)left);
    buf_put_u32(b, (uint32_t)bottom);
    buf_put_u32(b, (uint32_t)right);
    buf_put_u8(b, SPICE_CLIP_TYPE_NONE);
}

static void fill(struct fixture *f, uint32_t color)
{
    struct byte_buf b = {0};
    put_base(&b, 0, 0, 4, 4);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_SOLID);
    buf_put_u32(&b, color);
    buf_put_u16(&b, SPICE_ROPD_OP_PUT);
    buf_put_zeros(&b, 13);
    CHECK_EQ(send_msg(f, 0, SPICE_MSG_DISPLAY_DRAW_FILL, &b), 0);
    buf_finish(&b);
}

/*
 * A DRAW_COPY of a 2x1 8-bit bitmap (pixels 0, 1) to (0,0)-(2,1) whose
 * palette is sent (PAL_CACHE_ME when cache_me) or named (PAL_FROM_CACHE).
 */
static int copy_palette_bitmap(struct fixture *f, bool from_cache, bool cache_me, uint64_t pal_id)
{
    struct byte_buf b = {0};
    put_base(&b, 0, 0, 2, 1);
    size_t src = b.len;
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 0); /* src_area: 0, 0, 1, 2 */
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 1);
    buf_put_u32(&b, 2);
    buf_put_u16(&b, SPICE_ROPD_OP_PUT);
    buf_put_u8(&b, 0);
    buf_put_zeros(&b, 13);
    put_u32le(b.data + src, (uint32_t)b.len);
    buf_put_u64(&b, 1000);
    buf_put_u8(&b, SPICE_IMAGE_TYPE_BITMAP);
    buf_put_u8(&b, 0);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 1);
    buf_put_u8(&b, SPICE_BITMAP_FMT_8BIT);
    uint8_t flags = SPICE_BITMAP_FLAGS_TOP_DOWN;
    flags |= from_cache ? SPICE_BITMAP_FLAGS_PAL_FROM_CACHE : 0;
    flags |= cache_me ? SPICE_BITMAP_FLAGS_PAL_CACHE_ME : 0;
    buf_put_u8(&b, flags);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 1);
    buf_put_u32(&b, 4);
    size_t pal = b.len;
    if (from_cache) {
        buf_put_u64(&b, pal_id);
    } else {
        buf_put_u32(&b, 0);
    }
    buf_put(&b, "\x00\x01\x00\x00", 4);
    if (!from_cache) {
        put_u32le(b.data + pal, (uint32_t)b.len);
        buf_put_u64(&b, pal_id);
        buf_put_u16(&b, 2);
        buf_put_u32(&b, 0x00ff0000);
        buf_put_u32(&b, 0x000000ff);
    }
    int rc = send_msg(f, 0, SPICE_MSG_DISPLAY_DRAW_COPY, &b);
    buf_finish(&b);
    return rc;
}

static void test_fill_and_palette_cache(void)
{
    struct fixture f;
    fixture_init(&f);
    surface_create(&f, 0, 16, 8);
    CHECK_EQ(f.areas[0], 1);
    fill(&f, 0x00123456);
    CHECK_EQ(pixel(&f, 0, 3, 3) & 0xffffff, 0x123456u);
    CHECK_EQ(f.areas[0], 2);
    /* A palette sent and kept. */
    CHECK_EQ(copy_palette_bitmap(&f, false, true, 0x55), 0);
    CHECK_EQ(pixel(&f, 0, 0, 0) & 0xffffff, 0xff0000u);
    CHECK_EQ(pixel(&f, 0, 1, 0) & 0xffffff, 0x0000ffu);
    /* Taken from the cache. */
    fill(&f, 0);
    CHECK_EQ(copy_palette_bitmap(&f, true, false, 0x55), 0);
    CHECK_EQ(pixel(&f, 0, 0, 0) & 0xffffff, 0xff0000u);
    CHECK_EQ(pixel(&f, 0, 1, 0) & 0xffffff, 0x0000ffu);
    /* Dropped: the draw is skipped, the session goes on. */
    struct byte_buf b = {0};
    buf_put_u64(&b, 0x55);
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_INVAL_PALETTE, &b), 0);
    fill(&f, 0);
    CHECK_EQ(copy_palette_bitmap(&f, true, false, 0x55), 0);
    CHECK_EQ(f.s->error_code, 0);
    CHECK_EQ(pixel(&f, 0, 0, 0) & 0xffffff, 0u);
    /* A palette sent without PAL_CACHE_ME is not kept. */
    CHECK_EQ(copy_palette_bitmap(&f, false, false, 0x66), 0);
    CHECK_EQ(copy_palette_bitmap(&f, true, false, 0x66), 0);
    CHECK_EQ(f.s->displays[0]->palette_count, 0u);
    /* INVAL_ALL_PALETTES. */
    CHECK_EQ(copy_palette_bitmap(&f, false, true, 0x77), 0);
    CHECK_EQ(copy_palette_bitmap(&f, false, true, 0x78), 0);
    CHECK_EQ(f.s->displays[0]->palette_count, 2u);
    buf_reset(&b);
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_INVAL_ALL_PALETTES, &b), 0);
    CHECK_EQ(f.s->displays[0]->palette_count, 0u);
    /* The cache is bounded. */
    for (uint64_t id = 0; id < CLIENT_PALETTE_CACHE_SIZE + 10; id++) {
        CHECK_EQ(copy_palette_bitmap(&f, false, true, 1000 + id), 0);
    }
    CHECK_EQ(f.s->displays[0]->palette_count, (uint32_t)CLIENT_PALETTE_CACHE_SIZE);
    CHECK_EQ(copy_palette_bitmap(&f, true, false, 1000 + CLIENT_PALETTE_CACHE_SIZE + 9), 0);
    CHECK_EQ(f.s->error_code, 0);
    /* A mask whose palette is missing: the draw is skipped, but its source
     * (CACHE_ME) is still decoded and cached, so a later FROM_CACHE works. */
    buf_reset(&b);
    put_base(&b, 0, 0, 2, 2);
    size_t src = b.len;
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 2);
    buf_put_u16(&b, SPICE_ROPD_OP_PUT);
    buf_put_u8(&b, 0);
    buf_put_zeros(&b, 9);
    size_t mask = b.len;
    buf_put_u32(&b, 0);
    put_u32le(b.data + src, (uint32_t)b.len);
    buf_put_u64(&b, 500);
    buf_put_u8(&b, SPICE_IMAGE_TYPE_BITMAP);
    buf_put_u8(&b, SPICE_IMAGE_FLAGS_CACHE_ME);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 2);
    buf_put_u8(&b, SPICE_BITMAP_FMT_32BIT);
    buf_put_u8(&b, SPICE_BITMAP_FLAGS_TOP_DOWN);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 8);
    buf_put_u32(&b, 0);
    buf_put_zeros(&b, 16);
    put_u32le(b.data + mask, (uint32_t)b.len);
    buf_put_u64(&b, 501);
    buf_put_u8(&b, SPICE_IMAGE_TYPE_BITMAP);
    buf_put_u8(&b, 0);
    buf_put_u32(&b, 8);
    buf_put_u32(&b, 2);
    buf_put_u8(&b, SPICE_BITMAP_FMT_1BIT_BE);
    buf_put_u8(&b, SPICE_BITMAP_FLAGS_TOP_DOWN | SPICE_BITMAP_FLAGS_PAL_FROM_CACHE);
    buf_put_u32(&b, 8);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 1);
    buf_put_u64(&b, 0xdead);
    buf_put(&b, "\xff\xff", 2);
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_DRAW_COPY, &b), 0);
    /* The same draw with the source FROM_CACHE and no mask. */
    put_u32le(b.data + mask, 0);
    b.data[get_u32le(b.data + src) + 8] = SPICE_IMAGE_TYPE_FROM_CACHE;
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_DRAW_COPY, &b), 0);
    CHECK_EQ(f.s->error_code, 0);
    buf_finish(&b);
    fixture_finish(&f);
}

/* The palette of the server-written images below: index i -> pal_ents[i]. */
static const uint32_t pal_ents[4] = {0x00102030, 0x00ff0000, 0x0000ff00, 0x000000ff};

/* Pixel (x, y) of the 8x4 8-bit image below: its palette index. */
static unsigned pal_index(int x, int y)
{
    return (unsigned)(x + y) % 4;
}

/* Sends a DRAW_COPY of `wi` to (0,0)-(8,4) of display 0 (ROP put, no clip,
 * as server_msg_display_draw_copy() writes it); display_message()'s result. */
static int put_image_8x4(struct fixture *f, const struct wire_image *wi)
{
    struct wire_draw_base base = {.box = {.top = 0, .left = 0, .bottom = 4, .right = 8},
                                  .clip = {.type = SPICE_CLIP_TYPE_NONE}};
    struct byte_buf b = {0};
    server_msg_display_draw_copy(&b, &base, wi, &base.box, SPICE_ROPD_OP_PUT, 0);
    int rc = buf_ok(&b) ? send_msg(f, 0, SPICE_MSG_DISPLAY_DRAW_COPY, &b) : CLOVE_E_NOMEM;
    buf_finish(&b);
    return rc;
}

/*
 * A DRAW_COPY to (0,0)-(8,4) of the 8x4 8-bit image of pal_index(), written
 * by server_msg_display_draw_copy() as the server sends it: LZ_PLT (the
 * pixels through lz_encode(), like image_encoder_encode_palette()) or a
 * raw BITMAP, with its palette `pal_id` sent (pal_flags 0 or PAL_CACHE_ME)
 * or named (PAL_FROM_CACHE). Returns display_message()'s result.
 */
static int copy_server_palette_image(struct fixture *f, bool lz, uint8_t pal_flags, uint64_t pal_id)
{
    uint8_t px[8 * 4];
    for (int y = 0; y < 4; y++) {
        for (int x = 0; x < 8; x++) {
            px[y * 8 + x] = (uint8_t)pal_index(x, y);
        }
    }
    struct codec_image img = {
            .format = CODEC_FMT_PLT8, .width = 8, .height = 4, .stride = 8, .pixels = px};
    uint8_t stream[512];
    struct wire_image wi = {.id = 2000, .width = 8, .height = 4};
    if (lz) {
        int n = lz_encode(&img, stream, sizeof(stream), NULL);
        if (n <= 0) {
            return n < 0 ? n : CLOVE_E_INVALID; /* fails the caller's CHECK_EQ */
        }
        wi.type = SPICE_IMAGE_TYPE_LZ_PLT;
        wi.u.encoded.data = stream;
        wi.u.encoded.size = (uint32_t)n;
        wi.u.encoded.flags = SPICE_BITMAP_FLAGS_TOP_DOWN;
    } else {
        wi.type = SPICE_IMAGE_TYPE_BITMAP;
        wi.u.bitmap.format = SPICE_BITMAP_FMT_8BIT;
        wi.u.bitmap.flags = SPICE_BITMAP_FLAGS_TOP_DOWN;
        wi.u.bitmap.stride = 8;
        wi.u.bitmap.data = px;
    }
    wi.palette = (struct wire_palette){
            .flags = pal_flags, .unique = pal_id, .num_ents = 4, .ents = pal_ents};
    return put_image_8x4(f, &wi);
}

/* True when the 8x4 area shows pal_index()'s colours. */
static bool shows_palette_image(struct fixture *f)
{
    for (int y = 0; y < 4; y++) {
        for (int x = 0; x < 8; x++) {
            if ((pixel(f, 0, x, y) & 0xffffff) != pal_ents[pal_index(x, y)]) {
                return false;
            }
        }
    }
    return true;
}

static void fill_area(struct fixture *f, uint32_t color)
{
    struct byte_buf b = {0};
    put_base(&b, 0, 0, 8, 4);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_SOLID);
    buf_put_u32(&b, color);
    buf_put_u16(&b, SPICE_ROPD_OP_PUT);
    buf_put_zeros(&b, 13);
    CHECK_EQ(send_msg(f, 0, SPICE_MSG_DISPLAY_DRAW_FILL, &b), 0);
    buf_finish(&b);
}

static void test_server_written_palettes(void)
{
    struct fixture f;
    fixture_init(&f);
    surface_create(&f, 0, 16, 8);
    struct client_display *d = f.s->displays[0];
    /* LZ_PLT with its palette inline, kept. */
    CHECK_EQ(copy_server_palette_image(&f, true, SPICE_BITMAP_FLAGS_PAL_CACHE_ME, 0x99), 0);
    CHECK(shows_palette_image(&f));
    CHECK_EQ(d->palette_count, 1u);
    /* LZ_PLT and BITMAP naming it: the same colours. */
    fill_area(&f, 0x00777777);
    CHECK_EQ(copy_server_palette_image(&f, true, SPICE_BITMAP_FLAGS_PAL_FROM_CACHE, 0x99), 0);
    CHECK(shows_palette_image(&f));
    fill_area(&f, 0x00777777);
    CHECK_EQ(copy_server_palette_image(&f, false, SPICE_BITMAP_FLAGS_PAL_FROM_CACHE, 0x99), 0);
    CHECK(shows_palette_image(&f));
    CHECK_EQ(f.s->error_code, 0);
    /* INVAL_PALETTE as the server writes it; then FROM_CACHE is skipped
     * (nothing drawn) and the channel stays up. */
    struct byte_buf b = {0};
    server_msg_display_inval_palette(&b, 0x99);
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_INVAL_PALETTE, &b), 0);
    buf_finish(&b);
    CHECK_EQ(d->palette_count, 0u);
    fill_area(&f, 0x00777777);
    CHECK_EQ(copy_server_palette_image(&f, true, SPICE_BITMAP_FLAGS_PAL_FROM_CACHE, 0x99), 0);
    CHECK_EQ(copy_server_palette_image(&f, false, SPICE_BITMAP_FLAGS_PAL_FROM_CACHE, 0x99), 0);
    CHECK_EQ(f.s->error_code, 0);
    CHECK_EQ(f.ch[0].state, CHANNEL_READY);
    CHECK_EQ(pixel(&f, 0, 0, 0) & 0xffffff, 0x777777u);
    CHECK_EQ(pixel(&f, 0, 7, 3) & 0xffffff, 0x777777u);
    /* The channel still draws: the palette sent again (inline, not kept). */
    CHECK_EQ(copy_server_palette_image(&f, true, 0, 0x99), 0);
    CHECK(shows_palette_image(&f));
    CHECK_EQ(d->palette_count, 0u);
    fixture_finish(&f);
}

static void test_streams_skipped(void)
{
    struct fixture f;
    fixture_init(&f);
    log_set_handler(quiet);
    surface_create(&f, 0, 16, 8);
    struct byte_buf b = {0};
    /* Data for a stream never created. */
    buf_put_u32(&b, 3);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 2);
    buf_put(&b, "\xff\xd8", 2);
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_STREAM_DATA, &b), 0);
    buf_reset(&b);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 3);
    buf_put_u8(&b, 0);
    buf_put_u8(&b, SPICE_VIDEO_CODEC_TYPE_MJPEG);
    buf_put_u64(&b, 0);
    for (int i = 0; i < 4; i++) {
        buf_put_u32(&b, 8);
    }
    buf_put_zeros(&b, 16);
    buf_put_u8(&b, SPICE_CLIP_TYPE_NONE);
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_STREAM_CREATE, &b), 0);
    CHECK(f.s->displays[0]->streams_logged);
    CHECK(f.s->displays[0]->streams[0] & (1u << 3));
    buf_reset(&b);
    buf_put_u32(&b, 3);
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_STREAM_DESTROY, &b), 0);
    CHECK(!(f.s->displays[0]->streams[0] & (1u << 3)));
    buf_reset(&b);
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_STREAM_DESTROY_ALL, &b), 0);
    CHECK_EQ(f.s->error_code, 0);
    /* A malformed stream message is an error. */
    buf_put_u8(&b, 1);
    CHECK(send_msg(&f, 0, SPICE_MSG_DISPLAY_STREAM_DESTROY, &b) < 0);
    buf_finish(&b);
    log_set_handler(NULL);
    fixture_finish(&f);
}

static void test_monitors_and_channels(void)
{
    struct fixture f;
    fixture_init(&f);
    struct clove_monitor heads[4];
    CHECK_EQ(clove_display_monitors(f.s, heads, 4), 0);
    surface_create(&f, 0, 16, 8);
    CHECK_EQ(clove_display_monitors(f.s, heads, 4), 1);
    CHECK_EQ(heads[0].width, 16u);
    /* A second display channel (another QXL device) with its own surface 0. */
    surface_create(&f, 1, 32, 24);
    CHECK_EQ(f.areas[1], 1);
    struct clove_frame fr;
    CHECK_EQ(clove_session_get_surface(f.s, 1, 0, &fr), 0);
    CHECK_EQ(fr.width, 32u);
    CHECK_EQ(clove_session_get_primary(f.s, &fr), 0);
    CHECK_EQ(fr.width, 16u);
    CHECK_EQ(clove_session_get_surface(f.s, 2, 0, &fr), CLOVE_E_STATE);
    CHECK_EQ(clove_session_get_surface(f.s, 99, 0, &fr), CLOVE_E_STATE);
    CHECK_EQ(clove_display_monitors(f.s, heads, 4), 2);
    CHECK_EQ(heads[1].display_channel, 1u);
    CHECK_EQ(heads[1].height, 24u);
    /* Channel 0 reports three heads but allows two. */
    struct byte_buf b = {0};
    buf_put_u16(&b, 3);
    buf_put_u16(&b, 2);
    for (uint32_t i = 0; i < 3; i++) {
        buf_put_u32(&b, i);
        buf_put_u32(&b, 0);
        buf_put_u32(&b, 8);
        buf_put_u32(&b, 8);
        buf_put_u32(&b, 8 * i);
        buf_put_u32(&b, 0);
        buf_put_u32(&b, 0);
    }
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_MONITORS_CONFIG, &b), 0);
    CHECK_EQ(f.monitors[0], 1);
    CHECK_EQ(f.monitors[1], 0);
    CHECK_EQ(clove_display_monitors(f.s, NULL, 0), 3);
    CHECK_EQ(clove_display_monitors(f.s, heads, 1), 3);
    CHECK_EQ(clove_display_monitors(f.s, heads, 4), 3);
    CHECK_EQ(heads[1].x, 8);
    CHECK_EQ(heads[1].display_channel, 0u);
    CHECK_EQ(heads[2].display_channel, 1u);
    buf_finish(&b);
    fixture_finish(&f);
}

/* Appends a 2x2 32-bit bitmap image. */
static void put_bitmap32(struct byte_buf *b)
{
    buf_put_u64(b, 1);
    buf_put_u8(b, SPICE_IMAGE_TYPE_BITMAP);
    buf_put_u8(b, 0);
    buf_put_u32(b, 2);
    buf_put_u32(b, 2);
    buf_put_u8(b, SPICE_BITMAP_FMT_32BIT);
    buf_put_u8(b, SPICE_BITMAP_FLAGS_TOP_DOWN);
    buf_put_u32(b, 2);
    buf_put_u32(b, 2);
    buf_put_u32(b, 8);
    buf_put_u32(b, 0);
    buf_put_zeros(b, 16);
}

/* Appends an 8x2 1-bit mask bitmap. */
static void put_bitmap1(struct byte_buf *b)
{
    buf_put_u64(b, 2);
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
    buf_put(b, "\xaa\x55", 2);
}

static void test_every_op_keeps_the_session(void)
{
    struct fixture f;
    fixture_init(&f);
    log_set_handler(quiet);
    surface_create(&f, 0, 16, 8);
    struct byte_buf b = {0};
    size_t p1, p2;
    /* FILL with a pattern brush and a mask. */
    put_base(&b, 0, 0, 8, 2);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_PATTERN);
    p1 = b.len;
    buf_put_u32(&b, 0);
    buf_put_zeros(&b, 8);
    buf_put_u16(&b, SPICE_ROPD_OP_PUT);
    buf_put_zeros(&b, 9);
    p2 = b.len;
    buf_put_u32(&b, 0);
    put_u32le(b.data + p1, (uint32_t)b.len);
    put_bitmap32(&b);
    put_u32le(b.data + p2, (uint32_t)b.len);
    put_bitmap1(&b);
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_DRAW_FILL, &b), 0);
    buf_reset(&b);
    /* OPAQUE and ROP3 with a source and a pattern. */
    for (int op = 0; op < 2; op++) {
        put_base(&b, 0, 0, 2, 2);
        p1 = b.len;
        buf_put_u32(&b, 0);
        buf_put_u32(&b, 0);
        buf_put_u32(&b, 0);
        buf_put_u32(&b, 2);
        buf_put_u32(&b, 2);
        buf_put_u8(&b, SPICE_BRUSH_TYPE_PATTERN);
        p2 = b.len;
        buf_put_u32(&b, 0);
        buf_put_zeros(&b, 8);
        if (op == 0) {
            buf_put_u16(&b, SPICE_ROPD_OP_PUT);
        } else {
            buf_put_u8(&b, 0xca);
        }
        buf_put_u8(&b, 0);
        buf_put_zeros(&b, 13);
        put_u32le(b.data + p1, (uint32_t)b.len);
        put_bitmap32(&b);
        put_u32le(b.data + p2, (uint32_t)b.len);
        put_bitmap32(&b);
        CHECK_EQ(send_msg(&f, 0,
                          op == 0 ? SPICE_MSG_DISPLAY_DRAW_OPAQUE : SPICE_MSG_DISPLAY_DRAW_ROP3,
                          &b),
                 0);
        buf_reset(&b);
    }
    /* BLEND, and BLACKNESS/WHITENESS/INVERS with a mask. */
    put_base(&b, 0, 0, 2, 2);
    p1 = b.len;
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 2);
    buf_put_u16(&b, SPICE_ROPD_OP_XOR);
    buf_put_u8(&b, 0);
    buf_put_zeros(&b, 13);
    put_u32le(b.data + p1, (uint32_t)b.len);
    put_bitmap32(&b);
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_DRAW_BLEND, &b), 0);
    buf_reset(&b);
    const uint16_t mask_ops[3] = {SPICE_MSG_DISPLAY_DRAW_BLACKNESS,
                                  SPICE_MSG_DISPLAY_DRAW_WHITENESS, SPICE_MSG_DISPLAY_DRAW_INVERS};
    for (int i = 0; i < 3; i++) {
        put_base(&b, 0, 0, 8, 2);
        buf_put_zeros(&b, 9);
        p1 = b.len;
        buf_put_u32(&b, 0);
        put_u32le(b.data + p1, (uint32_t)b.len);
        put_bitmap1(&b);
        CHECK_EQ(send_msg(&f, 0, mask_ops[i], &b), 0);
        buf_reset(&b);
    }
    /* STROKE: a styled two-point path. */
    put_base(&b, 0, 0, 8, 8);
    p1 = b.len;
    buf_put_u32(&b, 0);
    buf_put_u8(&b, SPICE_LINE_FLAGS_STYLED);
    buf_put_u8(&b, 2);
    p2 = b.len;
    buf_put_u32(&b, 0);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_SOLID);
    buf_put_u32(&b, 0xffffff);
    buf_put_u16(&b, SPICE_ROPD_OP_PUT);
    buf_put_u16(&b, SPICE_ROPD_OP_PUT);
    put_u32le(b.data + p1, (uint32_t)b.len);
    buf_put_u32(&b, 1);
    buf_put_u8(&b, SPICE_PATH_BEGIN | SPICE_PATH_END);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 16);
    buf_put_u32(&b, 16);
    buf_put_u32(&b, 100);
    buf_put_u32(&b, 100);
    put_u32le(b.data + p2, (uint32_t)b.len);
    buf_put_u32(&b, 16);
    buf_put_u32(&b, 16);
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_DRAW_STROKE, &b), 0);
    buf_reset(&b);
    /* TEXT: one A8 glyph. */
    put_base(&b, 0, 0, 8, 8);
    p1 = b.len;
    buf_put_u32(&b, 0);
    buf_put_zeros(&b, 16);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_SOLID);
    buf_put_u32(&b, 0xffffff);
    buf_put_u8(&b, SPICE_BRUSH_TYPE_NONE);
    buf_put_u16(&b, SPICE_ROPD_OP_PUT);
    buf_put_u16(&b, 0);
    put_u32le(b.data + p1, (uint32_t)b.len);
    buf_put_u16(&b, 1);
    buf_put_u8(&b, SPICE_STRING_FLAGS_RASTER_A8);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 4);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, (uint32_t)-2);
    buf_put_u16(&b, 2);
    buf_put_u16(&b, 2);
    buf_put(&b, "\xff\x80\x40\x00", 4);
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_DRAW_TEXT, &b), 0);
    buf_reset(&b);
    /* TRANSPARENT and ALPHA_BLEND. */
    put_base(&b, 0, 0, 2, 2);
    p1 = b.len;
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 0);
    put_u32le(b.data + p1, (uint32_t)b.len);
    put_bitmap32(&b);
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_DRAW_TRANSPARENT, &b), 0);
    buf_reset(&b);
    put_base(&b, 0, 0, 2, 2);
    buf_put_u8(&b, 0);
    buf_put_u8(&b, 200);
    p1 = b.len;
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 2);
    buf_put_u32(&b, 2);
    put_u32le(b.data + p1, (uint32_t)b.len);
    put_bitmap32(&b);
    CHECK_EQ(send_msg(&f, 0, SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND, &b), 0);
    CHECK_EQ(f.s->error_code, 0);
    /* A draw on a surface that does not exist fails the session. */
    put_u32le(b.data, 5);
    CHECK(send_msg(&f, 0, SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND, &b) < 0);
    buf_finish(&b);
    log_set_handler(NULL);
    fixture_finish(&f);
}

/*
 * Puts an 8x4 32-bit LZ_RGB image (lz_encode(), as the server writes it) at
 * (0,0)-(8,4) with `image_flags`; returns display_message()'s result.
 */
static int copy_lz_rgb(struct fixture *f, uint8_t image_flags)
{
    uint8_t px[8 * 4 * 4];
    for (int i = 0; i < 8 * 4; i++) {
        put_u32le(px + 4 * i, 0x00010203u * (uint32_t)(i + 1) ^ 0x00805020u);
    }
    struct codec_image img = {
            .format = CODEC_FMT_RGB32, .width = 8, .height = 4, .stride = 32, .pixels = px};
    uint8_t stream[1024];
    int n = lz_encode(&img, stream, sizeof(stream), NULL);
    if (n <= 0) {
        return CLOVE_E_INVALID;
    }
    struct wire_image wi = {.id = 3000, .type = SPICE_IMAGE_TYPE_LZ_RGB, .flags = image_flags,
                            .width = 8, .height = 4};
    wi.u.encoded.data = stream;
    wi.u.encoded.size = (uint32_t)n;
    wi.u.encoded.flags = SPICE_BITMAP_FLAGS_TOP_DOWN;
    return put_image_8x4(f, &wi);
}

/* The 8x4 top-left pixels of display 0's surface 0, all 32 bits. */
static void top_left(struct fixture *f, uint32_t out[32])
{
    for (int y = 0; y < 4; y++) {
        for (int x = 0; x < 8; x++) {
            out[y * 8 + x] = pixel(f, 0, x, y);
        }
    }
}

/* A compressed image put over a whole surface is decoded straight into it
 * and must leave exactly what the canvas leaves drawing it (on a wider
 * surface, or flagged CACHE_ME, the canvas draws it). */
static void test_decode_in_place(void)
{
    uint32_t direct[32], canvas[32], cached[32];
    struct fixture f;
    fixture_init(&f);
    surface_create(&f, 0, 8, 4);
    int areas = f.areas[0];
    CHECK_EQ(copy_lz_rgb(&f, 0), 0);
    CHECK_EQ(f.areas[0], areas + 1);
    top_left(&f, direct);
    fixture_finish(&f);

    fixture_init(&f);
    surface_create(&f, 0, 9, 4);
    CHECK_EQ(copy_lz_rgb(&f, 0), 0);
    top_left(&f, canvas);
    fixture_finish(&f);

    fixture_init(&f);
    surface_create(&f, 0, 8, 4);
    CHECK_EQ(copy_lz_rgb(&f, SPICE_IMAGE_FLAGS_CACHE_ME), 0);
    top_left(&f, cached);
    fixture_finish(&f);

    CHECK(memcmp(direct, canvas, sizeof(direct)) == 0);
    CHECK(memcmp(direct, cached, sizeof(direct)) == 0);
    CHECK_EQ(direct[0] & 0xffffff, 0x00815223u);
}

/* Which draws channel.c may receive straight into a surface: only a plain
 * put of a top-down 32-bit bitmap over a whole xRGB surface; any other
 * field value needs the canvas. */
static void test_raw_target(void)
{
    struct fixture f;
    fixture_init(&f);
    surface_create(&f, 0, 8, 4);
    const struct server_draw_raw put = {
            .type = SPICE_MSG_DISPLAY_DRAW_COPY,
            .box = {0, 0, 4, 8},
            .clip_type = SPICE_CLIP_TYPE_NONE,
            .is_copy = true,
            .src_area = {0, 0, 4, 8},
            .rop_descriptor = SPICE_ROPD_OP_PUT,
            .width = 8,
            .height = 4,
            .bitmap_format = SPICE_BITMAP_FMT_32BIT,
            .bitmap_flags = SPICE_BITMAP_FLAGS_TOP_DOWN,
            .stride = 32,
    };
    size_t len = 0;
    struct clove_frame fr;
    CHECK_EQ(clove_session_get_surface(f.s, 0, 0, &fr), 0);
    CHECK(display_raw_target(&f.ch[0], &put, &len) == fr.pixels);
    CHECK_EQ(len, 4u * 32u);
    struct server_draw_raw r;
    r = put, r.is_copy = false;
    CHECK(display_raw_target(&f.ch[0], &r, &len) == NULL);
    r = put, r.surface_id = 1;
    CHECK(display_raw_target(&f.ch[0], &r, &len) == NULL);
    r = put, r.box.right = 7;
    CHECK(display_raw_target(&f.ch[0], &r, &len) == NULL);
    r = put, r.src_area.left = 1;
    CHECK(display_raw_target(&f.ch[0], &r, &len) == NULL);
    r = put, r.clip_type = SPICE_CLIP_TYPE_RECTS;
    CHECK(display_raw_target(&f.ch[0], &r, &len) == NULL);
    r = put, r.has_mask = true;
    CHECK(display_raw_target(&f.ch[0], &r, &len) == NULL);
    r = put, r.rop_descriptor = SPICE_ROPD_OP_OR;
    CHECK(display_raw_target(&f.ch[0], &r, &len) == NULL);
    r = put, r.image_flags = SPICE_IMAGE_FLAGS_HIGH_BITS_SET;
    CHECK(display_raw_target(&f.ch[0], &r, &len) == NULL);
    r = put, r.image_flags = SPICE_IMAGE_FLAGS_CACHE_ME;
    CHECK(display_raw_target(&f.ch[0], &r, &len) == NULL);
    r = put, r.bitmap_format = SPICE_BITMAP_FMT_RGBA;
    CHECK(display_raw_target(&f.ch[0], &r, &len) == NULL);
    r = put, r.bitmap_flags = 0; /* bottom-up */
    CHECK(display_raw_target(&f.ch[0], &r, &len) == NULL);
    r = put, r.stride = 36;
    CHECK(display_raw_target(&f.ch[0], &r, &len) == NULL);
    r = put, r.width = 4;
    CHECK(display_raw_target(&f.ch[0], &r, &len) == NULL);
    /* No surface on display 1 yet. */
    CHECK(display_raw_target(&f.ch[1], &put, &len) == NULL);
    fixture_finish(&f);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_fill_and_palette_cache),
            CHECK_CASE(test_server_written_palettes),
            CHECK_CASE(test_streams_skipped),
            CHECK_CASE(test_monitors_and_channels),
            CHECK_CASE(test_every_op_keeps_the_session),
            CHECK_CASE(test_raw_target),
            CHECK_CASE(test_decode_in_place),
            {0},
    });
}
