/*
 * The server's mirror of one client's cache of images (the pixmap cache)
 * or cursor shapes (the cursor cache).
 *
 * SPICE caches are server-controlled: the client keeps whatever arrives
 * flagged CACHE_ME under its id and forgets only what the server names in
 * an invalidation (INVAL_LIST / CURSOR_INVAL_ONE) or everything on a reset.
 * So the server must know exactly what the client holds: an image it sends
 * FROM_CACHE that the client lacks makes spice-gtk wait for it forever.
 * This module is that bookkeeping, with no knowledge of messages or
 * sockets: entries keyed by a 64-bit content key, each with the id the
 * client knows it by (the wire id) and a size counted against the
 * capacity the client announced (pixels for images, 1 per cursor). When an
 * entry does not fit, the least recently used entries go and the caller is
 * told each wire id evicted, in order, so it can tell the client before it
 * sends the entry that replaces them.
 *
 * Pinning: entries looked up or added since the last pixmap_cache_begin()
 * are never evicted, so one message can name a cached image and add
 * another without the first vanishing under it.
 *
 * Keys are content hashes (pixmap_cache_hash_image), not the guest's image
 * ids: a guest that reuses an id for other pixels cannot make a client
 * show the wrong image, and the guest's id space may restart (device
 * reset) without invalidating anything.
 *
 * Pure: no I/O, no logging. Thread: the owner's (one client's worker).
 */
#ifndef CLOVE_DISPLAY_PIXMAP_CACHE_H
#define CLOVE_DISPLAY_PIXMAP_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

/* The client's cursor cache holds this many shapes (spice-facts.md 1.6). */
#define PIXMAP_CACHE_CURSOR_ITEMS 256
/* The most entries one mirror keeps, whatever the capacity, so that a
 * client announcing a huge cache cannot make the server's index huge. */
#define PIXMAP_CACHE_MAX_ENTRIES 65536

/* Called for each entry evicted, least recently used first. */
typedef void (*pixmap_cache_evict_fn)(void *opaque, uint64_t wire_id);

struct pixmap_cache_entry {
    uint64_t key, wire_id;
    uint64_t size;       /* counted against the capacity */
    uint64_t sent_bytes; /* what sending it took (for savings statistics) */
    uint64_t pin;        /* the begin() generation it was last used in */
    struct pixmap_cache_entry *hash_next;
    struct pixmap_cache_entry *newer, *older; /* LRU list */
};

struct pixmap_cache {
    uint64_t capacity, used;
    uint32_t count, max_entries;
    struct pixmap_cache_entry **buckets; /* owns; nbuckets is a power of two */
    uint32_t nbuckets;
    struct pixmap_cache_entry *newest, *oldest;
    uint64_t generation;
    pixmap_cache_evict_fn evict_fn; /* may be NULL */
    void *evict_opaque;
    /* statistics */
    uint64_t hits, adds, evictions, saved_bytes;
};

/*
 * Starts an empty mirror of a cache of `capacity` size units holding at
 * most `max_entries` entries (0 means PIXMAP_CACHE_MAX_ENTRIES). A capacity
 * of 0 disables it: nothing is ever added.
 */
void pixmap_cache_init(struct pixmap_cache *c, uint64_t capacity, uint32_t max_entries,
                       pixmap_cache_evict_fn evict_fn, void *evict_opaque);
/* Frees every entry (no eviction callbacks). Accepts a zeroed cache. */
void pixmap_cache_finish(struct pixmap_cache *c);
/* Forgets every entry without callbacks (the client was told to drop all). */
void pixmap_cache_clear(struct pixmap_cache *c);
/* Changes the capacity, evicting (with callbacks) what no longer fits. */
void pixmap_cache_set_capacity(struct pixmap_cache *c, uint64_t capacity);

/* Starts a new message: entries used before are no longer pinned. */
void pixmap_cache_begin(struct pixmap_cache *c);

/*
 * Looks `key` up. On a hit the entry becomes the most recently used, is
 * pinned, counts a hit (adding its sent_bytes to saved_bytes) and is
 * returned (borrowed: valid until the next add, remove or clear).
 * Returns NULL on a miss.
 */
const struct pixmap_cache_entry *pixmap_cache_lookup(struct pixmap_cache *c, uint64_t key);

/*
 * True if an entry of `size` could be added now: it fits the capacity
 * once every unpinned entry is gone. Changes nothing.
 */
bool pixmap_cache_can_add(const struct pixmap_cache *c, uint64_t size);

/*
 * Adds `key` as `wire_id`, evicting least recently used unpinned entries
 * (each reported to evict_fn before this returns) until it fits. The new
 * entry is pinned. An existing entry with the same key is replaced (and
 * reported evicted). Returns 0, CLOVE_E_RANGE if it cannot fit (nothing
 * changed), or CLOVE_E_NOMEM (nothing changed).
 */
int pixmap_cache_add(struct pixmap_cache *c, uint64_t key, uint64_t wire_id, uint64_t size,
                     uint64_t sent_bytes);

/* Removes `key` if present, without a callback. Returns true if it was there. */
bool pixmap_cache_remove(struct pixmap_cache *c, uint64_t key);

/*
 * A 64-bit hash of an image's format, size and visible pixels (row padding
 * is ignored; `img` borrows, rows may run bottom-up). `seed` separates
 * uses (e.g. images and cursors). Never returns 0.
 */
uint64_t pixmap_cache_hash_image(const struct codec_image *img, uint64_t seed);
/* The same over a byte string. Never returns 0. */
uint64_t pixmap_cache_hash_bytes(const void *data, size_t len, uint64_t seed);

#endif
