/*
 * The palette cache mirror (see palette_cache.h).
 *
 * DESIGN: PALETTE_CACHE_SIZE is small, so the entries are a plain array
 * searched linearly, with a use clock for LRU order; a lookup is at most
 * 128 compares of one u64, nothing next to encoding the image it comes
 * with. An eviction moves the last entry into the freed slot, keeping the
 * used part of the array dense.
 */
#include "display/palette_cache.h"

#include <string.h>

#include <spice/enums.h>

void palette_cache_init(struct palette_cache *c)
{
    memset(c, 0, sizeof(*c));
    /* Generation 0 would count as "this message" for zeroed entries. */
    c->generation = 1;
}

void palette_cache_begin(struct palette_cache *c)
{
    c->generation++;
}

static int find(const struct palette_cache *c, uint64_t unique)
{
    for (uint32_t i = 0; i < c->count; i++) {
        if (c->entry[i].unique == unique) {
            return (int)i;
        }
    }
    return -1;
}

bool palette_cache_contains(const struct palette_cache *c, uint64_t unique)
{
    return unique != 0 && find(c, unique) >= 0;
}

/* The least recently used entry not used in this message, or -1. */
static int victim(const struct palette_cache *c)
{
    int best = -1;
    for (uint32_t i = 0; i < c->count; i++) {
        if (c->entry[i].used_in == c->generation) {
            continue;
        }
        if (best < 0 || c->entry[i].last_used < c->entry[best].last_used) {
            best = (int)i;
        }
    }
    return best;
}

uint8_t palette_cache_use(struct palette_cache *c, uint64_t unique, uint32_t num_ents,
                          uint64_t *evicted, bool *has_evicted)
{
    *has_evicted = false;
    if (unique == 0) {
        return 0;
    }
    int at = find(c, unique);
    if (at >= 0) {
        c->entry[at].last_used = ++c->clock;
        c->entry[at].used_in = c->generation;
        if (c->entry[at].added_in == c->generation || c->entry[at].num_ents < num_ents) {
            return 0;
        }
        c->hits++;
        return SPICE_BITMAP_FLAGS_PAL_FROM_CACHE;
    }
    if (c->count == PALETTE_CACHE_SIZE) {
        int v = victim(c);
        if (v < 0) {
            return 0;
        }
        *evicted = c->entry[v].unique;
        *has_evicted = true;
        c->evictions++;
        c->entry[v] = c->entry[c->count - 1];
        c->count--;
    }
    at = (int)c->count++;
    c->entry[at].unique = unique;
    c->entry[at].num_ents = num_ents;
    c->entry[at].last_used = ++c->clock;
    c->entry[at].added_in = c->generation;
    c->entry[at].used_in = c->generation;
    c->adds++;
    return SPICE_BITMAP_FLAGS_PAL_CACHE_ME;
}

void palette_cache_cancel_message(struct palette_cache *c)
{
    for (uint32_t i = 0; i < c->count;) {
        if (c->entry[i].added_in == c->generation) {
            c->entry[i] = c->entry[c->count - 1];
            c->count--;
            c->adds--;
        } else {
            i++;
        }
    }
}
