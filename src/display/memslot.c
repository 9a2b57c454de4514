/*
 * Guest memory slots: translation and validation of QXL guest addresses.
 *
 * DESIGN
 * A display device (QEMU's qxl, Xspice, our demo host) registers memory slots
 * through spice_qxl_add_memslot: a slot maps a window of guest memory that
 * the host has mapped at [virt_start, virt_end) in our address space. The
 * guest then names memory with a QXLPHYSICAL whose top id_bits select the
 * slot, the next gen_bits carry the slot's generation (so that a stale
 * address from before a slot was re-added is refused) and the remaining low
 * bits are an offset. The host pointer is
 *
 *     host = (addr with the id and generation bits cleared) + addr_delta
 *
 * computed modulo 2^64, exactly as the reference server does; QEMU fills
 * addr_delta = virt_start - (guest physical start of the slot), so the sum
 * lands inside [virt_start, virt_end) for every valid address. The result
 * is accepted only when [host, host + size) lies inside the slot without
 * wrapping around.
 *
 * INVARIANTS
 * - Nothing here trusts the address: every failure returns NULL with a static
 *   description; nothing aborts and nothing logs (the caller has context).
 * - The table is owned by one display worker and is not locked.
 */
#include "display/memslot.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define MEMSLOT_MAX_GROUPS 256
#define MEMSLOT_MAX_SLOTS  256
#define MEMSLOT_MAX_BITS   16

static void set_err(const char **err_desc, const char *msg)
{
    if (err_desc) {
        *err_desc = msg;
    }
}

int memslot_table_init(struct memslot_table *t, uint32_t num_groups, uint32_t num_slots,
                       uint8_t gen_bits, uint8_t id_bits)
{
    memset(t, 0, sizeof(*t));
    if (num_groups == 0 || num_groups > MEMSLOT_MAX_GROUPS || num_slots == 0 ||
        num_slots > MEMSLOT_MAX_SLOTS || (unsigned)gen_bits + id_bits > MEMSLOT_MAX_BITS) {
        return CLOVE_E_RANGE;
    }
    t->slots = calloc((size_t)num_groups * num_slots, sizeof(*t->slots));
    if (!t->slots) {
        return CLOVE_E_NOMEM;
    }
    t->num_groups = num_groups;
    t->num_slots = num_slots;
    t->gen_bits = gen_bits;
    t->id_bits = id_bits;
    return 0;
}

void memslot_table_finish(struct memslot_table *t)
{
    if (!t) {
        return;
    }
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static struct memslot *slot_at(const struct memslot_table *t, uint32_t group, uint32_t slot)
{
    return &t->slots[(size_t)group * t->num_slots + slot];
}

int memslot_add(struct memslot_table *t, uint32_t group, uint32_t slot, uint32_t generation,
                uintptr_t virt_start, uintptr_t virt_end, uint64_t addr_delta)
{
    if (!t->slots || group >= t->num_groups || slot >= t->num_slots) {
        return CLOVE_E_RANGE;
    }
    if (virt_end < virt_start) {
        return CLOVE_E_INVALID;
    }
    /* A generation the address cannot carry could never match. */
    if (t->gen_bits < 32 && generation >> t->gen_bits) {
        return CLOVE_E_RANGE;
    }
    struct memslot *s = slot_at(t, group, slot);
    s->active = true;
    s->generation = generation;
    s->virt_start = virt_start;
    s->virt_end = virt_end;
    s->addr_delta = addr_delta;
    return 0;
}

int memslot_del(struct memslot_table *t, uint32_t group, uint32_t slot)
{
    if (!t->slots || group >= t->num_groups || slot >= t->num_slots) {
        return CLOVE_E_RANGE;
    }
    memset(slot_at(t, group, slot), 0, sizeof(struct memslot));
    return 0;
}

void memslot_reset(struct memslot_table *t)
{
    if (t->slots) {
        memset(t->slots, 0, (size_t)t->num_groups * t->num_slots * sizeof(*t->slots));
    }
}

/* The slot id held in the top id_bits of `addr` (0 when there are none). */
static uint32_t addr_slot_id(const struct memslot_table *t, uint64_t addr)
{
    if (t->id_bits == 0) {
        return 0;
    }
    return (uint32_t)(addr >> (64 - t->id_bits));
}

static uint32_t addr_generation(const struct memslot_table *t, uint64_t addr)
{
    if (t->gen_bits == 0) {
        return 0;
    }
    unsigned shift = 64u - t->id_bits - t->gen_bits;
    return (uint32_t)((addr >> shift) & ((UINT64_C(1) << t->gen_bits) - 1));
}

static uint64_t addr_offset(const struct memslot_table *t, uint64_t addr)
{
    unsigned top = (unsigned)t->id_bits + t->gen_bits;
    if (top == 0) {
        return addr;
    }
    return addr & (UINT64_MAX >> top);
}

void *memslot_translate_avail(const struct memslot_table *t, uint32_t group, uint64_t addr,
                              size_t min_size, size_t *avail, const char **err_desc)
{
    if (avail) {
        *avail = 0;
    }
    if (!t || !t->slots) {
        set_err(err_desc, "no memory slots registered");
        return NULL;
    }
    if (group >= t->num_groups) {
        set_err(err_desc, "memslot group id out of range");
        return NULL;
    }
    uint32_t id = addr_slot_id(t, addr);
    if (id >= t->num_slots) {
        set_err(err_desc, "memslot id out of range");
        return NULL;
    }
    const struct memslot *s = slot_at(t, group, id);
    if (!s->active) {
        set_err(err_desc, "memslot not active");
        return NULL;
    }
    if (addr_generation(t, addr) != s->generation) {
        set_err(err_desc, "memslot generation mismatch");
        return NULL;
    }
    /* Wraps modulo 2^64 on purpose: addr_delta is often "negative". */
    uint64_t host64 = addr_offset(t, addr) + s->addr_delta;
    uintptr_t host = (uintptr_t)host64;
    if ((uint64_t)host != host64) {
        set_err(err_desc, "guest address beyond the host address space");
        return NULL;
    }
    if (host < s->virt_start || host > s->virt_end) {
        set_err(err_desc, "guest address outside its memslot");
        return NULL;
    }
    size_t room = s->virt_end - host;
    if (min_size > room) {
        set_err(err_desc, "guest memory range runs past the end of its memslot");
        return NULL;
    }
    if (avail) {
        *avail = room;
    }
    return (void *)host;
}

void *memslot_translate(const struct memslot_table *t, uint32_t group, uint64_t addr, size_t size,
                        const char **err_desc)
{
    return memslot_translate_avail(t, group, addr, size, NULL, err_desc);
}
