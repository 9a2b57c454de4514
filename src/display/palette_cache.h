/*
 * The server's mirror of one display channel client's palette cache.
 *
 * Palettes of 1/4/8-bit bitmaps travel inline the first time a client sees
 * them, flagged PAL_CACHE_ME under the guest's palette id (its `unique`),
 * and afterwards as PAL_FROM_CACHE with only that id. The client drops an
 * entry only when told (INVAL_PALETTE, or INVAL_ALL_PALETTES for all), so
 * this mirror must hold exactly what the client holds: PALETTE_CACHE_SIZE
 * entries as the reference server keeps (spice-server dcc.h,
 * CLIENT_PALETTE_CACHE_SIZE), least recently used first out. Each eviction
 * is reported to the caller, who sends INVAL_PALETTE before the image that
 * took the room.
 *
 * Within one message (palette_cache_begin() starts one) a palette added by
 * an earlier image of the same message is not named FROM_CACHE again: the
 * client may decode the message's images in another order than they were
 * written. Such a repeat goes inline without flags, which is always right.
 * Entries used in the current message are never evicted.
 *
 * Pure: no I/O, no logging. Thread: the owner's (one client's worker).
 */
#ifndef CLOVE_DISPLAY_PALETTE_CACHE_H
#define CLOVE_DISPLAY_PALETTE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

/* Entries of the client's palette cache the server fills (the reference's 128). */
#define PALETTE_CACHE_SIZE 128

struct palette_cache {
    struct {
        uint64_t unique;
        uint32_t num_ents;  /* colours the client got with it */
        uint64_t last_used; /* clock value of the last use; LRU order */
        uint64_t added_in;  /* the message generation that added it */
        uint64_t used_in;   /* the message generation that last used it */
    } entry[PALETTE_CACHE_SIZE];
    uint32_t count;
    uint64_t clock, generation;
    /* statistics */
    uint64_t hits, adds, evictions;
};

/* Starts (or restarts, after INVAL_ALL_PALETTES) an empty mirror. */
void palette_cache_init(struct palette_cache *c);

/* Starts a new message. */
void palette_cache_begin(struct palette_cache *c);

/*
 * How the palette `unique` of `num_ents` colours goes in the current
 * message, updating the mirror: returns SPICE_BITMAP_FLAGS_PAL_FROM_CACHE
 * (the client has it), SPICE_BITMAP_FLAGS_PAL_CACHE_ME (send it inline;
 * the client now keeps it), or 0 (inline, not cached: unique 0, or added
 * earlier in this message, or cached with fewer colours than this image
 * needs (a guest reusing an id for a larger palette must not make the
 * client index past the cached one), or no room since every entry is in
 * use by this message).
 * When adding it evicted an entry, *evicted is set to that entry's id and
 * *has_evicted to true (else false): the client must be told (INVAL_PALETTE)
 * before it gets this image.
 */
uint8_t palette_cache_use(struct palette_cache *c, uint64_t unique, uint32_t num_ents,
                          uint64_t *evicted, bool *has_evicted);

/*
 * Forgets the entries the current message added: that message will not be
 * sent, so the client never gets them. (Its evictions stand; the client
 * was told about them already.)
 */
void palette_cache_cancel_message(struct palette_cache *c);

/* True if the mirror holds `unique` (no LRU update). */
bool palette_cache_contains(const struct palette_cache *c, uint64_t unique);

#endif
