/*
 * The client caches the server keeps mirrors of, seen on the wire of fake
 * clients (tests/unit/server/fake_host.h): the display channel's pixmap
 * cache (CACHE_ME, FROM_CACHE, INVAL_LIST within the size announced in
 * DISPLAY_INIT, per client, empty again after a reconnect) and the cursor
 * channel's 256-shape cursor cache (CACHE_ME, FROM_CACHE, INVAL_ONE,
 * INVAL_ALL on spice_qxl_reset_cursor).
 *
 * Every case builds its own server and tears it down; every wait is bounded.
 */
#include <stdlib.h>

#include <spice/protocol.h>
#include <spice/qxl_dev.h>

#include "check.h"
#include "common/bytes.h"
#include "fake_host.h"

#define WAIT_MS 3000

struct session {
    struct fake_host *h;
    struct fake_client main;
    uint32_t id;
};

static bool session_open(struct session *s)
{
    memset(s, 0, sizeof(*s));
    struct fake_host_options o = {.noauth = true, .qxl = true, .quiet = true};
    s->h = fake_host_create(&o);
    if (!s->h) {
        return false;
    }
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    if (fake_client_link(s->h, &s->main, &l, NULL) != SPICE_LINK_ERR_OK) {
        return false;
    }
    struct fake_msg m;
    if (fake_client_wait_msg(&s->main, SPICE_MSG_MAIN_INIT, &m, WAIT_MS) < 0) {
        return false;
    }
    s->id = m.size >= 4 ? get_u32le(m.data) : 0;
    free(m.data);
    return true;
}

static void session_close(struct session *s)
{
    fake_client_close(&s->main);
    fake_host_destroy(s->h);
    s->h = NULL;
}

/* A display client that got the screen, and announced a pixmap cache of
 * cache_pixels (no DISPLAY_INIT at all when negative). */
static bool display_open(struct session *s, struct fake_client *dc, int64_t cache_pixels)
{
    struct fake_link l = fake_link_default(s->id, SPICE_CHANNEL_DISPLAY, 0);
    if (fake_client_link(s->h, dc, &l, NULL) != SPICE_LINK_ERR_OK) {
        return false;
    }
    struct fake_msg m;
    if (fake_client_wait_msg(dc, SPICE_MSG_DISPLAY_MARK, &m, WAIT_MS) < 0) {
        return false;
    }
    free(m.data);
    if (cache_pixels >= 0) {
        /* SpiceMsgcDisplayInit {u8 cache id; i64 cache size; u8 glz id; i32 glz window} */
        uint8_t init[14] = {1};
        put_u32le(init + 1, (uint32_t)cache_pixels);
        put_u32le(init + 5, (uint32_t)((uint64_t)cache_pixels >> 32));
        if (fake_client_send_msg(dc, SPICE_MSGC_DISPLAY_INIT, init, sizeof(init)) < 0) {
            return false;
        }
        fake_host_run_for(s->h, 20);
    }
    return true;
}

/* The image of a DRAW_COPY: DisplayBase is 21 bytes, then Image *src. */
struct copy_image {
    uint64_t id;
    uint8_t type, flags;
    uint32_t size; /* the whole message */
};

static bool read_copy(struct fake_client *c, struct copy_image *out)
{
    struct fake_msg m;
    if (fake_client_wait_msg(c, SPICE_MSG_DISPLAY_DRAW_COPY, &m, WAIT_MS) < 0) {
        return false;
    }
    bool ok = m.size >= 25;
    uint32_t at = ok ? get_u32le(m.data + 21) : 0;
    ok = ok && at + 18 <= m.size;
    if (ok) {
        out->id = get_u32le(m.data + at) | (uint64_t)get_u32le(m.data + at + 4) << 32;
        out->type = m.data[at + 8];
        out->flags = m.data[at + 9];
        out->size = m.size;
    }
    free(m.data);
    return ok;
}

/* Reads the next message, which must be INVAL_LIST, into ids; returns the count or -1. */
static int read_inval_list(struct fake_client *c, uint64_t *ids, int max)
{
    struct fake_msg m;
    if (fake_client_read_msg(c, &m, WAIT_MS) < 0) {
        return -1;
    }
    int n = -1;
    if (m.type == SPICE_MSG_DISPLAY_INVAL_LIST && m.size >= 2) {
        n = get_u16le(m.data);
        if ((uint32_t)n * 9 + 2 != m.size || n > max) {
            n = -1;
        }
        for (int i = 0; i < n; i++) {
            const uint8_t *r = m.data + 2 + 9 * i;
            if (r[0] != SPICE_RES_TYPE_PIXMAP) {
                n = -1;
                break;
            }
            ids[i] = get_u32le(r + 1) | (uint64_t)get_u32le(r + 5) << 32;
        }
    }
    free(m.data);
    return n;
}

/* Copies of 16x16 marked images (256 pixels) into a 1000-pixel cache. */
static void test_pixmap_cache_hits_and_evictions(void)
{
    struct session s;
    CHECK(session_open(&s));
    struct fake_client dc;
    CHECK(display_open(&s, &dc, 1000));
    struct copy_image a, a2, b, c, d, a3;
    CHECK_EQ(fake_qxl_push_copy_image(s.h, 0, 0, 16, 16, 0xff0000u, 77, QXL_IMAGE_CACHE), 0);
    CHECK(read_copy(&dc, &a));
    CHECK(a.flags & SPICE_IMAGE_FLAGS_CACHE_ME);
    CHECK(a.type != SPICE_IMAGE_TYPE_FROM_CACHE);
    /* The same pixels again (elsewhere, and under another guest id): from the cache. */
    CHECK_EQ(fake_qxl_push_copy_image(s.h, 20, 0, 16, 16, 0xff0000u, 78, QXL_IMAGE_CACHE), 0);
    CHECK(read_copy(&dc, &a2));
    CHECK_EQ(a2.type, SPICE_IMAGE_TYPE_FROM_CACHE);
    CHECK_EQ(a2.id, a.id);
    CHECK_EQ(a2.flags, 0);
    CHECK(a2.size < a.size);
    /* The same guest id with other pixels is another image. */
    CHECK_EQ(fake_qxl_push_copy_image(s.h, 0, 20, 16, 16, 0x00ff00u, 77, QXL_IMAGE_CACHE), 0);
    CHECK(read_copy(&dc, &b));
    CHECK(b.flags & SPICE_IMAGE_FLAGS_CACHE_ME);
    CHECK(b.id != a.id);
    CHECK_EQ(fake_qxl_push_copy_image(s.h, 20, 20, 16, 16, 0x0000ffu, 79, QXL_IMAGE_CACHE), 0);
    CHECK(read_copy(&dc, &c));
    CHECK(c.flags & SPICE_IMAGE_FLAGS_CACHE_ME);
    /* 768 of 1000 pixels used: a fourth evicts the least recently used (a),
     * named in INVAL_LIST just before the image that replaces it. */
    CHECK_EQ(fake_qxl_push_copy_image(s.h, 40, 0, 16, 16, 0xffff00u, 80, QXL_IMAGE_CACHE), 0);
    uint64_t ids[4];
    CHECK_EQ(read_inval_list(&dc, ids, 4), 1);
    CHECK_EQ(ids[0], a.id);
    CHECK(read_copy(&dc, &d));
    CHECK(d.flags & SPICE_IMAGE_FLAGS_CACHE_ME);
    /* a comes back as a new entry; b (now the oldest) goes. */
    CHECK_EQ(fake_qxl_push_copy_image(s.h, 40, 20, 16, 16, 0xff0000u, 81, QXL_IMAGE_CACHE), 0);
    CHECK_EQ(read_inval_list(&dc, ids, 4), 1);
    CHECK_EQ(ids[0], b.id);
    CHECK(read_copy(&dc, &a3));
    CHECK(a3.flags & SPICE_IMAGE_FLAGS_CACHE_ME);
    CHECK(a3.id != a.id);
    fake_client_close(&dc);
    session_close(&s);
}

/* Small unmarked images, and clients without DISPLAY_INIT, never use the cache. */
static void test_pixmap_cache_when_not(void)
{
    struct session s;
    CHECK(session_open(&s));
    struct fake_client dc;
    CHECK(display_open(&s, &dc, -1));
    struct copy_image x;
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(fake_qxl_push_copy_image(s.h, 0, 0, 16, 16, 0x123456u, 5, QXL_IMAGE_CACHE), 0);
        CHECK(read_copy(&dc, &x));
        CHECK_EQ(x.flags, 0);
        CHECK(x.type != SPICE_IMAGE_TYPE_FROM_CACHE);
    }
    fake_client_close(&dc);
    CHECK(display_open(&s, &dc, 100000));
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(fake_qxl_push_copy_image(s.h, 0, 0, 16, 16, 0x123456u, 5, 0), 0);
        CHECK(read_copy(&dc, &x));
        CHECK_EQ(x.flags, 0);
        CHECK(x.type != SPICE_IMAGE_TYPE_FROM_CACHE);
    }
    fake_client_close(&dc);
    session_close(&s);
}

/* Each client has its own cache; a reconnected client starts empty. */
static void test_pixmap_cache_per_client(void)
{
    struct session s;
    CHECK(session_open(&s));
    struct fake_client one, two;
    CHECK(display_open(&s, &one, 100000));
    struct copy_image x, y;
    CHECK_EQ(fake_qxl_push_copy_image(s.h, 0, 0, 16, 16, 0xabcdefu, 9, QXL_IMAGE_CACHE), 0);
    CHECK(read_copy(&one, &x));
    CHECK(x.flags & SPICE_IMAGE_FLAGS_CACHE_ME);
    CHECK(display_open(&s, &two, 100000));
    CHECK_EQ(fake_qxl_push_copy_image(s.h, 20, 0, 16, 16, 0xabcdefu, 9, QXL_IMAGE_CACHE), 0);
    CHECK(read_copy(&one, &x));
    CHECK_EQ(x.type, SPICE_IMAGE_TYPE_FROM_CACHE);
    CHECK(read_copy(&two, &y));
    CHECK(y.flags & SPICE_IMAGE_FLAGS_CACHE_ME);
    CHECK(y.type != SPICE_IMAGE_TYPE_FROM_CACHE);
    fake_client_close(&two);
    CHECK(display_open(&s, &two, 100000));
    CHECK_EQ(fake_qxl_push_copy_image(s.h, 40, 0, 16, 16, 0xabcdefu, 9, QXL_IMAGE_CACHE), 0);
    CHECK(read_copy(&one, &x));
    CHECK_EQ(x.type, SPICE_IMAGE_TYPE_FROM_CACHE);
    CHECK(read_copy(&two, &y));
    CHECK(y.flags & SPICE_IMAGE_FLAGS_CACHE_ME);
    fake_client_close(&one);
    fake_client_close(&two);
    session_close(&s);
}

/* Reads DRAW_COPYs until the wire is quiet, acknowledging as it goes;
 * records the ids that came with CACHE_ME and checks that every FROM_CACHE
 * names one of them. Returns false on an unknown FROM_CACHE. */
static bool read_cached_copies(struct fake_client *c, uint64_t *ids, int *num_ids, int max_ids,
                               int *cache_me, int *from_cache)
{
    bool ok = true;
    for (int round = 0; round < 10; round++) {
        fake_client_send_msg(c, SPICE_MSGC_ACK, NULL, 0);
        struct fake_msg m;
        while (fake_client_read_msg(c, &m, 50) == 0) {
            uint32_t at = m.size >= 25 ? get_u32le(m.data + 21) : 0;
            if (m.type == SPICE_MSG_DISPLAY_DRAW_COPY && at > 0 && at + 18 <= m.size) {
                uint64_t id = get_u32le(m.data + at) | (uint64_t)get_u32le(m.data + at + 4) << 32;
                if (m.data[at + 9] & SPICE_IMAGE_FLAGS_CACHE_ME) {
                    (*cache_me)++;
                    if (*num_ids < max_ids) {
                        ids[(*num_ids)++] = id;
                    }
                }
                if (m.data[at + 8] == SPICE_IMAGE_TYPE_FROM_CACHE) {
                    (*from_cache)++;
                    bool known = false;
                    for (int i = 0; i < *num_ids; i++) {
                        known |= ids[i] == id;
                    }
                    ok &= known;
                }
            }
            free(m.data);
        }
    }
    return ok;
}

/* Draws hidden before they were sent never touch the cache mirror: every
 * FROM_CACHE the client gets names an image it got with CACHE_ME. */
static void test_pixmap_cache_hidden_draws(void)
{
    struct session s;
    CHECK(session_open(&s));
    struct fake_client dc;
    CHECK(display_open(&s, &dc, 100000));
    /* The window is not acknowledged: these queue on the server. */
    for (int i = 0; i < 60; i++) {
        CHECK_EQ(fake_qxl_push_copy_image(s.h, 8, 8, 16, 16, 0x010000u * (uint32_t)(i % 3), 1,
                                          QXL_IMAGE_CACHE),
                 0);
    }
    CHECK_EQ(fake_qxl_push_fill(s.h, 0, 0, 64, 48, 0), 0);
    fake_host_run_for(s.h, 100);
    uint8_t gen[4];
    put_u32le(gen, 1);
    CHECK_EQ(fake_client_send_msg(&dc, SPICE_MSGC_ACK_SYNC, gen, 4), 0);
    uint64_t ids[8];
    int num_ids = 0, cache_me = 0, from_cache = 0;
    CHECK(read_cached_copies(&dc, ids, &num_ids, 8, &cache_me, &from_cache));
    /* Three distinct images: each reached the client at most once with CACHE_ME. */
    CHECK(cache_me <= 3);
    CHECK(from_cache <= 57);
    /* The same three images again, visible: each is FROM_CACHE with an id
     * the client has, or goes with CACHE_ME now. */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(fake_qxl_push_copy_image(s.h, 20 * i, 24, 16, 16, 0x010000u * (uint32_t)i, 1,
                                          QXL_IMAGE_CACHE),
                 0);
        fake_host_run_for(s.h, 20);
    }
    int before = cache_me + from_cache;
    CHECK(read_cached_copies(&dc, ids, &num_ids, 8, &cache_me, &from_cache));
    CHECK_EQ(cache_me + from_cache - before, 3);
    CHECK_EQ(cache_me, 3);
    fake_client_close(&dc);
    session_close(&s);
}

/* ---- cursor cache ---- */

struct cursor_reader {
    struct fake_client *c;
    int read; /* messages since the last ACK */
};

/* Reads the next message, acknowledging every 20. */
static int cursor_next(struct cursor_reader *r, struct fake_msg *m)
{
    int rc = fake_client_read_msg(r->c, m, WAIT_MS);
    if (rc == 0 && ++r->read == 20) {
        r->read = 0;
        fake_client_send_msg(r->c, SPICE_MSGC_ACK, NULL, 0);
    }
    return rc;
}

/* The flags and unique of a CURSOR_SET (position 4, visible 1, then Cursor). */
static bool read_cursor_set(struct cursor_reader *r, uint16_t *flags, uint64_t *unique,
                            uint32_t *size)
{
    struct fake_msg m;
    if (cursor_next(r, &m) < 0) {
        return false;
    }
    bool ok = m.type == SPICE_MSG_CURSOR_SET && m.size >= 7 + 8;
    if (ok) {
        *flags = get_u16le(m.data + 5);
        *unique = get_u32le(m.data + 7) | (uint64_t)get_u32le(m.data + 11) << 32;
        *size = m.size;
    }
    free(m.data);
    return ok;
}

static void test_cursor_cache(void)
{
    struct session s;
    CHECK(session_open(&s));
    struct fake_client cc;
    struct fake_link l = fake_link_default(s.id, SPICE_CHANNEL_CURSOR, 0);
    CHECK_EQ(fake_client_link(s.h, &cc, &l, NULL), SPICE_LINK_ERR_OK);
    struct fake_msg m;
    CHECK_EQ(fake_client_read_msg(&cc, &m, WAIT_MS), 0);
    CHECK_EQ(m.type, SPICE_MSG_SET_ACK);
    uint8_t gen[4];
    memcpy(gen, m.data, 4);
    free(m.data);
    CHECK_EQ(fake_client_send_msg(&cc, SPICE_MSGC_ACK_SYNC, gen, 4), 0);
    CHECK_EQ(fake_client_wait_msg(&cc, SPICE_MSG_CURSOR_INIT, &m, WAIT_MS), 0);
    free(m.data);
    struct cursor_reader r = {&cc, 1};

    uint16_t flags;
    uint64_t first, unique;
    uint32_t full_size, size;
    CHECK_EQ(fake_qxl_push_cursor_set(s.h, 1000, 8, 0xff00ff00u), 0);
    CHECK(read_cursor_set(&r, &flags, &first, &full_size));
    CHECK_EQ(flags, SPICE_CURSOR_FLAGS_CACHE_ME);
    CHECK_EQ(full_size, 4 + 1 + 2 + 17 + 8 * 8 * 4);
    CHECK_EQ(fake_qxl_push_cursor_set(s.h, 1000, 8, 0xff00ff00u), 0);
    CHECK(read_cursor_set(&r, &flags, &unique, &size));
    CHECK_EQ(flags, SPICE_CURSOR_FLAGS_FROM_CACHE);
    CHECK_EQ(unique, first);
    CHECK_EQ(size, 4 + 1 + 2 + 17);
    /* unique 0: the guest asks for no caching. */
    CHECK_EQ(fake_qxl_push_cursor_set(s.h, 0, 8, 0xff00ff00u), 0);
    CHECK(read_cursor_set(&r, &flags, &unique, &size));
    CHECK_EQ(flags, 0);
    CHECK_EQ(size, full_size);

    /* 256 more shapes: the first (least recently used) is invalidated. */
    for (uint32_t i = 1; i <= 256; i++) {
        CHECK_EQ(fake_qxl_push_cursor_set(s.h, 2000 + i, 1, i), 0);
        if (i % 32 == 0) {
            fake_host_run_for(s.h, 5);
        }
    }
    int sets = 0, invals = 0;
    uint64_t inval_id = 0;
    while (sets < 256 && cursor_next(&r, &m) == 0) {
        if (m.type == SPICE_MSG_CURSOR_SET) {
            sets++;
        } else if (m.type == SPICE_MSG_CURSOR_INVAL_ONE && m.size == 8) {
            invals++;
            inval_id = get_u32le(m.data) | (uint64_t)get_u32le(m.data + 4) << 32;
        }
        free(m.data);
    }
    CHECK_EQ(sets, 256);
    CHECK_EQ(invals, 1);
    CHECK_EQ(inval_id, first);

    /* spice_qxl_reset_cursor: INVAL_ALL, RESET; the cache starts over. */
    spice_qxl_reset_cursor((QXLInstance *)s.h->qxl);
    CHECK_EQ(cursor_next(&r, &m), 0);
    CHECK_EQ(m.type, SPICE_MSG_CURSOR_INVAL_ALL);
    free(m.data);
    CHECK_EQ(cursor_next(&r, &m), 0);
    CHECK_EQ(m.type, SPICE_MSG_CURSOR_RESET);
    free(m.data);
    CHECK_EQ(fake_qxl_push_cursor_set(s.h, 2001, 1, 1), 0);
    CHECK(read_cursor_set(&r, &flags, &unique, &size));
    CHECK_EQ(flags, SPICE_CURSOR_FLAGS_CACHE_ME);
    fake_client_close(&cc);
    session_close(&s);
}

int main(void)
{
    /* Copies go as they are, through the cache (not merged into new images). */
    setenv("CLOVE_DISPLAY_COMPOSE", "0", 1);
    return check_run((struct check_case[]){CHECK_CASE(test_pixmap_cache_hits_and_evictions),
                                           CHECK_CASE(test_pixmap_cache_when_not),
                                           CHECK_CASE(test_pixmap_cache_per_client),
                                           CHECK_CASE(test_pixmap_cache_hidden_draws),
                                           CHECK_CASE(test_cursor_cache),
                                           {0}});
}
