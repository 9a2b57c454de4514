/*
 * The server-side mirror of a client's pixmap or cursor cache (see
 * pixmap_cache.h for the protocol reasons).
 *
 * DESIGN: a chained hash table on the key (buckets double when the load
 * passes 1) plus a doubly linked list from newest to oldest use. Eviction
 * walks from the oldest end and stops at the first pinned entry: pinned
 * entries are the ones used in the current message, so they are always
 * the newest and everything older than them is fair game.
 *
 * INVARIANTS: `used` is the sum of the entries' sizes and never exceeds
 * `capacity` after an add returns; `count` never exceeds `max_entries`;
 * every entry is in exactly one bucket chain and once in the LRU list.
 */
#include "display/pixmap_cache.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define INITIAL_BUCKETS 64u

static uint32_t bucket_of(const struct pixmap_cache *c, uint64_t key)
{
    /* Keys are hashes already; fold the high bits in anyway. */
    return (uint32_t)((key ^ (key >> 29)) & (c->nbuckets - 1));
}

void pixmap_cache_init(struct pixmap_cache *c, uint64_t capacity, uint32_t max_entries,
                       pixmap_cache_evict_fn evict_fn, void *evict_opaque)
{
    memset(c, 0, sizeof(*c));
    c->capacity = capacity;
    c->max_entries = max_entries && max_entries < PIXMAP_CACHE_MAX_ENTRIES
                             ? max_entries
                             : PIXMAP_CACHE_MAX_ENTRIES;
    c->evict_fn = evict_fn;
    c->evict_opaque = evict_opaque;
    c->generation = 1;
}

void pixmap_cache_clear(struct pixmap_cache *c)
{
    for (struct pixmap_cache_entry *e = c->newest, *next; e; e = next) {
        next = e->older;
        free(e);
    }
    if (c->buckets) {
        memset(c->buckets, 0, sizeof(*c->buckets) * c->nbuckets);
    }
    c->newest = c->oldest = NULL;
    c->used = 0;
    c->count = 0;
}

void pixmap_cache_finish(struct pixmap_cache *c)
{
    pixmap_cache_clear(c);
    free(c->buckets);
    c->buckets = NULL;
    c->nbuckets = 0;
}

void pixmap_cache_begin(struct pixmap_cache *c)
{
    c->generation++;
}

static struct pixmap_cache_entry **find_slot(struct pixmap_cache *c, uint64_t key)
{
    if (!c->buckets) {
        return NULL;
    }
    struct pixmap_cache_entry **p = &c->buckets[bucket_of(c, key)];
    while (*p && (*p)->key != key) {
        p = &(*p)->hash_next;
    }
    return *p ? p : NULL;
}

static void lru_unlink(struct pixmap_cache *c, struct pixmap_cache_entry *e)
{
    if (e->newer) {
        e->newer->older = e->older;
    } else {
        c->newest = e->older;
    }
    if (e->older) {
        e->older->newer = e->newer;
    } else {
        c->oldest = e->newer;
    }
    e->newer = e->older = NULL;
}

static void lru_push_newest(struct pixmap_cache *c, struct pixmap_cache_entry *e)
{
    e->newer = NULL;
    e->older = c->newest;
    if (c->newest) {
        c->newest->newer = e;
    } else {
        c->oldest = e;
    }
    c->newest = e;
}

/* Unlinks and frees the entry at *slot. */
static void remove_at(struct pixmap_cache *c, struct pixmap_cache_entry **slot, bool report)
{
    struct pixmap_cache_entry *e = *slot;
    *slot = e->hash_next;
    lru_unlink(c, e);
    c->used -= e->size;
    c->count--;
    uint64_t wire_id = e->wire_id;
    free(e);
    if (report) {
        c->evictions++;
        if (c->evict_fn) {
            c->evict_fn(c->evict_opaque, wire_id);
        }
    }
}

const struct pixmap_cache_entry *pixmap_cache_lookup(struct pixmap_cache *c, uint64_t key)
{
    struct pixmap_cache_entry **slot = find_slot(c, key);
    if (!slot) {
        return NULL;
    }
    struct pixmap_cache_entry *e = *slot;
    lru_unlink(c, e);
    lru_push_newest(c, e);
    e->pin = c->generation;
    c->hits++;
    c->saved_bytes += e->sent_bytes;
    return e;
}

/* Size held by pinned entries (they are the newest ones). */
static uint64_t pinned_size(const struct pixmap_cache *c, uint32_t *pinned_count)
{
    uint64_t size = 0;
    uint32_t n = 0;
    for (const struct pixmap_cache_entry *e = c->newest; e && e->pin == c->generation;
         e = e->older) {
        size += e->size;
        n++;
    }
    *pinned_count = n;
    return size;
}

bool pixmap_cache_can_add(const struct pixmap_cache *c, uint64_t size)
{
    if (c->capacity == 0 || size == 0 || size > c->capacity) {
        return false;
    }
    uint32_t pinned_count;
    uint64_t pinned = pinned_size(c, &pinned_count);
    return pinned <= c->capacity - size && pinned_count < c->max_entries;
}

static int grow_buckets(struct pixmap_cache *c)
{
    uint32_t n = c->nbuckets ? c->nbuckets * 2 : INITIAL_BUCKETS;
    struct pixmap_cache_entry **b = calloc(n, sizeof(*b));
    if (!b) {
        return CLOVE_E_NOMEM;
    }
    struct pixmap_cache_entry **old = c->buckets;
    c->buckets = b;
    c->nbuckets = n;
    for (struct pixmap_cache_entry *e = c->newest; e; e = e->older) {
        uint32_t i = bucket_of(c, e->key);
        e->hash_next = b[i];
        b[i] = e;
    }
    free(old);
    return 0;
}

int pixmap_cache_add(struct pixmap_cache *c, uint64_t key, uint64_t wire_id, uint64_t size,
                     uint64_t sent_bytes)
{
    /* An entry with the same key goes first, unless it is pinned (then the
     * message in hand names it, and it must stay as it is). */
    struct pixmap_cache_entry **slot = find_slot(c, key);
    if (slot && (*slot)->pin == c->generation) {
        return CLOVE_E_RANGE;
    }
    if (!pixmap_cache_can_add(c, size)) {
        return CLOVE_E_RANGE;
    }
    if ((c->count + 1 > c->nbuckets || !c->buckets) && c->nbuckets < (1u << 30)) {
        if (grow_buckets(c) < 0 && !c->buckets) {
            return CLOVE_E_NOMEM;
        }
    }
    struct pixmap_cache_entry *e = calloc(1, sizeof(*e));
    if (!e) {
        return CLOVE_E_NOMEM;
    }
    slot = find_slot(c, key);
    if (slot) {
        remove_at(c, slot, true);
    }
    while (c->count > 0 && (c->used > c->capacity - size || c->count >= c->max_entries)) {
        /* can_add guaranteed the oldest entries are unpinned until it fits. */
        struct pixmap_cache_entry *victim = c->oldest;
        struct pixmap_cache_entry **vs = find_slot(c, victim->key);
        remove_at(c, vs, true);
    }
    e->key = key;
    e->wire_id = wire_id;
    e->size = size;
    e->sent_bytes = sent_bytes;
    e->pin = c->generation;
    uint32_t i = bucket_of(c, key);
    e->hash_next = c->buckets[i];
    c->buckets[i] = e;
    lru_push_newest(c, e);
    c->used += size;
    c->count++;
    c->adds++;
    return 0;
}

bool pixmap_cache_remove(struct pixmap_cache *c, uint64_t key)
{
    struct pixmap_cache_entry **slot = find_slot(c, key);
    if (!slot) {
        return false;
    }
    remove_at(c, slot, false);
    return true;
}

void pixmap_cache_set_capacity(struct pixmap_cache *c, uint64_t capacity)
{
    c->capacity = capacity;
    while (c->oldest && c->used > c->capacity) {
        remove_at(c, find_slot(c, c->oldest->key), true);
    }
}

/* ---- content hashing ---- */

/*
 * A multiply-rotate hash over 64-bit little-endian words with a final
 * avalanche; fast enough to run over every cacheable image (it reads each
 * byte once, far cheaper than encoding it) and well mixed enough that
 * distinct images do not meet by accident. It is not collision resistant
 * against a guest that tries; a guest can only spoil its own screen.
 */
#define HASH_M1 0x9e3779b97f4a7c15ull
#define HASH_M2 0xc2b2ae3d27d4eb4full
#define HASH_M3 0x165667b19e3779f9ull

static uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t hash_word(uint64_t h, uint64_t w)
{
    h ^= rotl64(w * HASH_M2, 31) * HASH_M1;
    return rotl64(h, 27) * HASH_M1 + HASH_M3;
}

static uint64_t hash_update(uint64_t h, const uint8_t *p, size_t len)
{
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = hash_word(h, w);
        p += 8;
        len -= 8;
    }
    if (len > 0) {
        uint64_t w = 0;
        for (size_t i = 0; i < len; i++) {
            w |= (uint64_t)p[i] << (8 * i);
        }
        h = hash_word(h, w ^ ((uint64_t)len << 56));
    }
    return h;
}

static uint64_t hash_final(uint64_t h)
{
    h ^= h >> 33;
    h *= HASH_M2;
    h ^= h >> 29;
    h *= HASH_M3;
    h ^= h >> 32;
    return h ? h : 1;
}

uint64_t pixmap_cache_hash_bytes(const void *data, size_t len, uint64_t seed)
{
    uint64_t h = hash_word(seed ^ HASH_M3, (uint64_t)len);
    return hash_final(hash_update(h, data, len));
}

uint64_t pixmap_cache_hash_image(const struct codec_image *img, uint64_t seed)
{
    uint64_t h = hash_word(seed ^ HASH_M1, (uint64_t)img->format);
    h = hash_word(h, ((uint64_t)img->width << 32) | img->height);
    size_t row = codec_format_row_bytes(img->format, img->width);
    for (uint32_t y = 0; img->pixels && y < img->height; y++) {
        h = hash_update(h, img->pixels + (intptr_t)y * img->stride, row);
    }
    return hash_final(h);
}
