/*
 * Guest memory slots: translation and validation of QXL guest addresses.
 *
 * A QXLPHYSICAL packs (from the top bit down) a slot group's slot id
 * (memslot_id_bits), a generation (memslot_gen_bits) and an offset. A slot
 * maps [virt_start, virt_end) in the host's address space; the translated
 * host address is (addr with the id and generation bits cleared) + addr_delta,
 * modulo 2^64, as in the reference (QEMU sets addr_delta = virt_start - guest
 * start of the slot). Every translation checks the slot group, slot id, that
 * the slot is active, the generation, and that [host, host + size) lies inside
 * [virt_start, virt_end) without overflow.
 *
 * Thread: worker (the table belongs to one display device).
 */
#ifndef CLOVE_DISPLAY_MEMSLOT_H
#define CLOVE_DISPLAY_MEMSLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct memslot {
    bool active;
    uint32_t generation;
    uintptr_t virt_start;
    uintptr_t virt_end;
    uint64_t addr_delta;
};

struct memslot_table {
    uint32_t num_groups;
    uint32_t num_slots;
    uint8_t gen_bits;
    uint8_t id_bits;
    struct memslot *slots; /* owns: num_groups * num_slots */
};

/* Returns 0 or CLOVE_E_RANGE / CLOVE_E_NOMEM. Limits: groups, slots <= 256,
 * id_bits + gen_bits <= 16. */
int memslot_table_init(struct memslot_table *t, uint32_t num_groups, uint32_t num_slots,
                       uint8_t gen_bits, uint8_t id_bits);
void memslot_table_finish(struct memslot_table *t);

int memslot_add(struct memslot_table *t, uint32_t group, uint32_t slot, uint32_t generation,
                uintptr_t virt_start, uintptr_t virt_end, uint64_t addr_delta);
int memslot_del(struct memslot_table *t, uint32_t group, uint32_t slot);
void memslot_reset(struct memslot_table *t);

/*
 * Translates guest address `addr` in `group` to a host pointer valid for
 * `size` bytes. Returns NULL and sets *err_desc when any check fails.
 */
void *memslot_translate(const struct memslot_table *t, uint32_t group, uint64_t addr, size_t size,
                        const char **err_desc);

/*
 * Like memslot_translate with size `min_size`, and also stores in *avail
 * (if not NULL) how many bytes the slot holds from the returned pointer on
 * (always >= min_size on success, 0 on failure). For guest data whose length
 * is only known by scanning it, such as QXLMessage's NUL-terminated text.
 */
void *memslot_translate_avail(const struct memslot_table *t, uint32_t group, uint64_t addr,
                              size_t min_size, size_t *avail, const char **err_desc);

#endif
