/*
 * The server's mirror of a client's pixmap / cursor cache
 * (src/display/pixmap_cache.c): size accounting, LRU eviction in order
 * with every evicted id reported, pinning of entries the current message
 * uses, the entry cap, content hashing, and the invalidation writers the
 * channels send evictions with (src/proto/server_msg.c).
 */
#include <stdlib.h>

#include <spice/enums.h>

#include "check.h"
#include "common/bytes.h"
#include "common/error.h"
#include "display/pixmap_cache.h"
#include "proto/server_msg.h"

struct evictions {
    uint64_t ids[64];
    int n;
};

static void on_evict(void *opaque, uint64_t wire_id)
{
    struct evictions *ev = opaque;
    if (ev->n < 64) {
        ev->ids[ev->n] = wire_id;
    }
    ev->n++;
}

static void test_add_lookup_accounting(void)
{
    struct evictions ev = {0};
    struct pixmap_cache c;
    pixmap_cache_init(&c, 1000, 0, on_evict, &ev);
    CHECK(pixmap_cache_lookup(&c, 7) == NULL);
    CHECK_EQ(pixmap_cache_add(&c, 7, 107, 300, 1200), 0);
    CHECK_EQ(pixmap_cache_add(&c, 8, 108, 300, 1200), 0);
    CHECK_EQ(c.used, 600);
    CHECK_EQ(c.count, 2);
    pixmap_cache_begin(&c);
    const struct pixmap_cache_entry *e = pixmap_cache_lookup(&c, 7);
    CHECK(e != NULL);
    CHECK_EQ(e->wire_id, 107);
    CHECK_EQ(c.hits, 1);
    CHECK_EQ(c.saved_bytes, 1200);
    CHECK_EQ(ev.n, 0);
    CHECK(pixmap_cache_remove(&c, 8));
    CHECK(!pixmap_cache_remove(&c, 8));
    CHECK_EQ(c.used, 300);
    CHECK_EQ(ev.n, 0); /* remove is silent */
    pixmap_cache_clear(&c);
    CHECK_EQ(c.used, 0);
    CHECK(pixmap_cache_lookup(&c, 7) == NULL);
    pixmap_cache_finish(&c);
}

/* The least recently *used* entries go first, each reported in order. */
static void test_lru_eviction_order(void)
{
    struct evictions ev = {0};
    struct pixmap_cache c;
    pixmap_cache_init(&c, 100, 0, on_evict, &ev);
    for (uint64_t k = 1; k <= 4; k++) {
        pixmap_cache_begin(&c);
        CHECK_EQ(pixmap_cache_add(&c, k, 100 + k, 25, 0), 0);
    }
    CHECK_EQ(c.used, 100);
    pixmap_cache_begin(&c);
    CHECK(pixmap_cache_lookup(&c, 1) != NULL); /* 1 is now the newest */
    pixmap_cache_begin(&c);
    CHECK_EQ(pixmap_cache_add(&c, 5, 105, 50, 0), 0); /* needs 50: 2 and 3 go */
    CHECK_EQ(ev.n, 2);
    CHECK_EQ(ev.ids[0], 102);
    CHECK_EQ(ev.ids[1], 103);
    CHECK_EQ(c.used, 100);
    CHECK(pixmap_cache_lookup(&c, 2) == NULL);
    CHECK(pixmap_cache_lookup(&c, 4) != NULL);
    CHECK(pixmap_cache_lookup(&c, 1) != NULL);
    CHECK_EQ(c.evictions, 2);
    pixmap_cache_finish(&c);
}

/* What the current message uses is never evicted to make room. */
static void test_pinned_entries_stay(void)
{
    struct evictions ev = {0};
    struct pixmap_cache c;
    pixmap_cache_init(&c, 100, 0, on_evict, &ev);
    CHECK_EQ(pixmap_cache_add(&c, 1, 11, 60, 0), 0);
    pixmap_cache_begin(&c);
    CHECK_EQ(pixmap_cache_add(&c, 2, 12, 30, 0), 0);
    pixmap_cache_begin(&c);
    CHECK(pixmap_cache_lookup(&c, 1) != NULL); /* pinned now */
    CHECK(!pixmap_cache_can_add(&c, 50));
    CHECK_EQ(pixmap_cache_add(&c, 3, 13, 50, 0), CLOVE_E_RANGE);
    CHECK_EQ(ev.n, 0); /* nothing changed */
    CHECK_EQ(c.used, 90);
    CHECK(pixmap_cache_can_add(&c, 40));
    CHECK_EQ(pixmap_cache_add(&c, 3, 13, 40, 0), 0); /* 2 goes, 1 stays */
    CHECK_EQ(ev.n, 1);
    CHECK_EQ(ev.ids[0], 12);
    /* A pinned entry is not replaced under the same key either. */
    CHECK_EQ(pixmap_cache_add(&c, 1, 99, 10, 0), CLOVE_E_RANGE);
    pixmap_cache_begin(&c);
    CHECK_EQ(pixmap_cache_add(&c, 1, 99, 10, 0), 0); /* now the old 11 is reported */
    CHECK_EQ(ev.n, 2);
    CHECK_EQ(ev.ids[1], 11);
    CHECK_EQ(pixmap_cache_lookup(&c, 1)->wire_id, 99);
    CHECK_EQ(c.used, 50);
    pixmap_cache_finish(&c);
}

static void test_limits(void)
{
    struct evictions ev = {0};
    struct pixmap_cache c;
    pixmap_cache_init(&c, 0, 0, on_evict, &ev); /* disabled */
    CHECK_EQ(pixmap_cache_add(&c, 1, 1, 1, 0), CLOVE_E_RANGE);
    pixmap_cache_finish(&c);

    pixmap_cache_init(&c, 100, 0, on_evict, &ev);
    CHECK_EQ(pixmap_cache_add(&c, 1, 1, 101, 0), CLOVE_E_RANGE);
    CHECK_EQ(pixmap_cache_add(&c, 1, 1, 0, 0), CLOVE_E_RANGE);
    CHECK_EQ(pixmap_cache_add(&c, 1, 1, 100, 0), 0);
    pixmap_cache_begin(&c);
    CHECK_EQ(pixmap_cache_add(&c, 2, 2, 100, 0), 0);
    CHECK_EQ(ev.n, 1);
    pixmap_cache_finish(&c);

    /* The cursor cache: 256 shapes of size 1, the 257th evicts the oldest. */
    ev.n = 0;
    pixmap_cache_init(&c, PIXMAP_CACHE_CURSOR_ITEMS, PIXMAP_CACHE_CURSOR_ITEMS, on_evict, &ev);
    for (uint64_t k = 1; k <= PIXMAP_CACHE_CURSOR_ITEMS + 1; k++) {
        pixmap_cache_begin(&c);
        CHECK_EQ(pixmap_cache_add(&c, k, k, 1, 0), 0);
    }
    CHECK_EQ(c.count, PIXMAP_CACHE_CURSOR_ITEMS);
    CHECK_EQ(ev.n, 1);
    CHECK_EQ(ev.ids[0], 1);
    pixmap_cache_finish(&c);

    /* An entry cap below the capacity also evicts. */
    ev.n = 0;
    pixmap_cache_init(&c, 1000, 3, on_evict, &ev);
    for (uint64_t k = 1; k <= 5; k++) {
        pixmap_cache_begin(&c);
        CHECK_EQ(pixmap_cache_add(&c, k, k, 1, 0), 0);
    }
    CHECK_EQ(c.count, 3);
    CHECK_EQ(ev.n, 2);
    /* Shrinking the capacity (a second DISPLAY_INIT) evicts what no longer fits. */
    pixmap_cache_set_capacity(&c, 1);
    CHECK_EQ(c.count, 1);
    CHECK_EQ(ev.n, 4);
    CHECK(pixmap_cache_lookup(&c, 5) != NULL);
    pixmap_cache_finish(&c);
}

/* Thousands of entries: the index grows, accounting stays exact. */
static void test_many_entries(void)
{
    struct evictions ev = {0};
    struct pixmap_cache c;
    pixmap_cache_init(&c, 5000, 0, on_evict, &ev);
    for (uint64_t k = 1; k <= 20000; k++) {
        pixmap_cache_begin(&c);
        CHECK_EQ(pixmap_cache_add(&c, k * 0x9e3779b97f4a7c15ull, k, 1, 0), 0);
    }
    CHECK_EQ(c.count, 5000);
    CHECK_EQ(c.used, 5000);
    CHECK_EQ(ev.n, 15000);
    CHECK(pixmap_cache_lookup(&c, 15000 * 0x9e3779b97f4a7c15ull) == NULL);
    CHECK(pixmap_cache_lookup(&c, 15001 * 0x9e3779b97f4a7c15ull) != NULL);
    CHECK(pixmap_cache_lookup(&c, 20000 * 0x9e3779b97f4a7c15ull) != NULL);
    pixmap_cache_finish(&c);
}

static void test_hash(void)
{
    /* The same 3x2 RGB32 image stored top-down with padding and bottom-up. */
    uint8_t a[2 * 16], b[2 * 12];
    memset(a, 0xee, sizeof(a));
    for (int y = 0; y < 2; y++) {
        for (int x = 0; x < 3; x++) {
            put_u32le(a + 16 * y + 4 * x, (uint32_t)(y * 10 + x));
            put_u32le(b + 12 * (1 - y) + 4 * x, (uint32_t)(y * 10 + x));
        }
    }
    struct codec_image ia = {CODEC_FMT_RGB32, 3, 2, 16, a};
    struct codec_image ib = {CODEC_FMT_RGB32, 3, 2, -12, b + 12};
    uint64_t ha = pixmap_cache_hash_image(&ia, 0);
    CHECK(ha != 0);
    CHECK_EQ(ha, pixmap_cache_hash_image(&ib, 0));
    CHECK(ha != pixmap_cache_hash_image(&ia, 1)); /* seeds separate uses */
    a[0] ^= 1;
    CHECK(ha != pixmap_cache_hash_image(&ia, 0));
    a[0] ^= 1;
    struct codec_image wide = {CODEC_FMT_RGB32, 6, 1, 24, b};
    struct codec_image rgba = {CODEC_FMT_RGBA, 3, 2, 16, a};
    CHECK(pixmap_cache_hash_image(&wide, 0) != pixmap_cache_hash_image(&ib, 0));
    CHECK(pixmap_cache_hash_image(&rgba, 0) != ha);
    CHECK(pixmap_cache_hash_bytes("abc", 3, 0) != pixmap_cache_hash_bytes("abd", 3, 0));
    CHECK(pixmap_cache_hash_bytes("", 0, 0) != 0);
}

static void test_inval_writers(void)
{
    struct byte_buf b;
    buf_init(&b);
    uint64_t ids[2] = {0x0102030405060708ull, 9};
    server_msg_display_inval_list(&b, ids, 2);
    /* SpiceResourceList: u16 count, then {u8 type; u64 id} each. */
    CHECK_EQ(b.len, 2 + 2 * 9);
    CHECK_EQ(get_u16le(b.data), 2);
    CHECK_EQ(b.data[2], SPICE_RES_TYPE_PIXMAP);
    CHECK_EQ(get_u32le(b.data + 3), 0x05060708u);
    CHECK_EQ(get_u32le(b.data + 7), 0x01020304u);
    CHECK_EQ(b.data[11], SPICE_RES_TYPE_PIXMAP);
    CHECK_EQ(get_u32le(b.data + 12), 9);
    buf_finish(&b);
    buf_init(&b);
    server_msg_cursor_inval_one(&b, 0x1122334455667788ull);
    CHECK_EQ(b.len, 8);
    CHECK_EQ(get_u32le(b.data), 0x55667788u);
    buf_finish(&b);
    /* A FROM_CACHE cursor: flags, the header, no shape data. */
    buf_init(&b);
    struct wire_cursor cur = {.flags = SPICE_CURSOR_FLAGS_FROM_CACHE, .unique = 5, .width = 32};
    server_msg_cursor_set(&b, (struct wire_point){1, 2}, 1, &cur);
    CHECK_EQ(b.len, 4 + 1 + 2 + 17);
    CHECK_EQ(get_u16le(b.data + 5), SPICE_CURSOR_FLAGS_FROM_CACHE);
    CHECK_EQ(get_u32le(b.data + 7), 5);
    buf_finish(&b);
}

int main(void)
{
    return check_run((struct check_case[]){CHECK_CASE(test_add_lookup_accounting),
                                           CHECK_CASE(test_lru_eviction_order),
                                           CHECK_CASE(test_pinned_entries_stay),
                                           CHECK_CASE(test_limits),
                                           CHECK_CASE(test_many_entries),
                                           CHECK_CASE(test_hash),
                                           CHECK_CASE(test_inval_writers),
                                           {0}});
}
