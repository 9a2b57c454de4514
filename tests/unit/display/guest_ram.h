/*
 * A fake guest for display tests: malloc'd arenas registered as memory slots
 * the way QEMU's qxl device registers them (8 slot-id bits, 8 generation
 * bits, addr_delta = host start - guest physical start), plus a bump
 * allocator that places QXL structures in them and returns their guest
 * addresses.
 */
#ifndef CLOVE_TESTS_DISPLAY_GUEST_RAM_H
#define CLOVE_TESTS_DISPLAY_GUEST_RAM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "display/memslot.h"

#define GUEST_ID_BITS  8
#define GUEST_GEN_BITS 8

struct guest_arena {
    uint8_t *ram;
    size_t size;
    size_t used;
    uint32_t slot;
    uint32_t generation;
    uint64_t phys_base; /* guest physical address of ram[0] */
};

struct guest {
    struct memslot_table table;
    struct guest_arena arena[2];
};

static inline uint64_t guest_addr_of(const struct guest_arena *a, size_t offset)
{
    return ((uint64_t)a->slot << (64 - GUEST_ID_BITS)) |
           ((uint64_t)a->generation << (64 - GUEST_ID_BITS - GUEST_GEN_BITS)) |
           (a->phys_base + offset);
}

static inline int guest_arena_init(struct guest *g, int idx, uint32_t slot, uint32_t generation,
                                   uint64_t phys_base, size_t size)
{
    struct guest_arena *a = &g->arena[idx];
    a->ram = calloc(1, size);
    if (!a->ram) {
        return -1;
    }
    a->size = size;
    a->used = 0;
    a->slot = slot;
    a->generation = generation;
    a->phys_base = phys_base;
    uintptr_t start = (uintptr_t)a->ram;
    return memslot_add(&g->table, 0, slot, generation, start, start + size,
                       (uint64_t)start - phys_base);
}

/* Slot 0 (generation 1, 4 MiB at guest 0x10000000) and slot 1 (generation 2,
 * 64 KiB at guest 0x4000, a delta that is "negative" as a signed number). */
static inline int guest_init(struct guest *g)
{
    memset(g, 0, sizeof(*g));
    if (memslot_table_init(&g->table, 2, 4, GUEST_GEN_BITS, GUEST_ID_BITS) < 0) {
        return -1;
    }
    if (guest_arena_init(g, 0, 0, 1, 0x10000000u, 4u << 20) < 0 ||
        guest_arena_init(g, 1, 1, 2, 0x4000u, 64u << 10) < 0) {
        return -1;
    }
    return 0;
}

static inline void guest_finish(struct guest *g)
{
    free(g->arena[0].ram);
    free(g->arena[1].ram);
    memslot_table_finish(&g->table);
}

/* Reserves n bytes (8-aligned) in arena idx; returns their guest address. */
static inline uint64_t guest_alloc_in(struct guest *g, int idx, size_t n, void **host)
{
    struct guest_arena *a = &g->arena[idx];
    size_t off = (a->used + 7) & ~(size_t)7;
    if (off + n > a->size) {
        abort(); /* a test bug, not guest input */
    }
    a->used = off + n;
    if (host) {
        *host = a->ram + off;
    }
    return guest_addr_of(a, off);
}

static inline uint64_t guest_alloc(struct guest *g, size_t n, void **host)
{
    return guest_alloc_in(g, 0, n, host);
}

/* Copies n bytes into a fresh block of arena 0. */
static inline uint64_t guest_put(struct guest *g, const void *src, size_t n)
{
    void *host;
    uint64_t addr = guest_alloc(g, n, &host);
    memcpy(host, src, n);
    return addr;
}

/* Host pointer of a guest address in arena idx (no checks: test side). */
static inline void *guest_host(struct guest *g, int idx, uint64_t addr)
{
    struct guest_arena *a = &g->arena[idx];
    uint64_t offset = (addr & (UINT64_MAX >> (GUEST_ID_BITS + GUEST_GEN_BITS))) - a->phys_base;
    return a->ram + offset;
}

#endif
