/*
 * Tests for src/display/memslot.c: address translation and every way a
 * guest address can be refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/error.h"
#include "display/memslot.h"
#include "guest_ram.h"

static void test_init_limits(void)
{
    struct memslot_table t;
    CHECK_EQ(memslot_table_init(&t, 0, 4, 8, 8), CLOVE_E_RANGE);
    CHECK_EQ(memslot_table_init(&t, 1, 0, 8, 8), CLOVE_E_RANGE);
    CHECK_EQ(memslot_table_init(&t, 257, 4, 8, 8), CLOVE_E_RANGE);
    CHECK_EQ(memslot_table_init(&t, 1, 257, 8, 8), CLOVE_E_RANGE);
    CHECK_EQ(memslot_table_init(&t, 1, 4, 9, 8), CLOVE_E_RANGE);
    CHECK_EQ(memslot_table_init(&t, 2, 4, 8, 8), 0);
    CHECK_EQ(memslot_add(&t, 2, 0, 0, 0, 0, 0), CLOVE_E_RANGE);
    CHECK_EQ(memslot_add(&t, 0, 4, 0, 0, 0, 0), CLOVE_E_RANGE);
    CHECK_EQ(memslot_add(&t, 0, 0, 256, 0, 0, 0), CLOVE_E_RANGE); /* gen needs 9 bits */
    CHECK_EQ(memslot_add(&t, 0, 0, 0, 100, 50, 0), CLOVE_E_INVALID);
    CHECK_EQ(memslot_del(&t, 0, 9), CLOVE_E_RANGE);
    memslot_table_finish(&t);
    memslot_table_finish(NULL);
}

static void test_translate_ok(void)
{
    struct guest g;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    uint64_t a = guest_addr_of(&g.arena[0], 100);
    CHECK(memslot_translate(&g.table, 0, a, 16, &err) == g.arena[0].ram + 100);
    /* The whole slot, and a zero-size range at its very end. */
    a = guest_addr_of(&g.arena[0], 0);
    CHECK(memslot_translate(&g.table, 0, a, g.arena[0].size, &err) == g.arena[0].ram);
    a = guest_addr_of(&g.arena[0], g.arena[0].size);
    CHECK(memslot_translate(&g.table, 0, a, 0, &err) == g.arena[0].ram + g.arena[0].size);
    /* Second slot with a different generation and base. */
    a = guest_addr_of(&g.arena[1], 7);
    CHECK(memslot_translate(&g.table, 0, a, 1, &err) == g.arena[1].ram + 7);
    size_t avail = 0;
    CHECK(memslot_translate_avail(&g.table, 0, a, 1, &avail, &err) == g.arena[1].ram + 7);
    CHECK_EQ(avail, g.arena[1].size - 7);
    guest_finish(&g);
}

static void test_translate_rejects(void)
{
    struct guest g;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    struct guest_arena *a0 = &g.arena[0];
    uint64_t ok = guest_addr_of(a0, 64);

    /* Bad group. */
    err = NULL;
    CHECK(memslot_translate(&g.table, 2, ok, 1, &err) == NULL);
    CHECK(err != NULL);
    /* Group 1 exists but has no active slot 0. */
    err = NULL;
    CHECK(memslot_translate(&g.table, 1, ok, 1, &err) == NULL);
    CHECK(err != NULL);
    /* Slot id beyond num_slots (4). */
    err = NULL;
    CHECK(memslot_translate(&g.table, 0, ok | ((uint64_t)9 << 56), 1, &err) == NULL);
    CHECK(err != NULL);
    /* Slot id 3: in range but never added. */
    err = NULL;
    CHECK(memslot_translate(&g.table, 0, ok | ((uint64_t)3 << 56), 1, &err) == NULL);
    CHECK(err != NULL);
    /* Wrong generation. */
    err = NULL;
    uint64_t bad_gen = (ok & ~((uint64_t)0xff << 48)) | ((uint64_t)7 << 48);
    CHECK(memslot_translate(&g.table, 0, bad_gen, 1, &err) == NULL);
    CHECK(err != NULL);
    /* Before the start of the slot. */
    err = NULL;
    CHECK(memslot_translate(&g.table, 0, guest_addr_of(a0, 0) - 1, 1, &err) == NULL);
    CHECK(err != NULL);
    /* One byte past the end. */
    err = NULL;
    CHECK(memslot_translate(&g.table, 0, guest_addr_of(a0, a0->size - 4), 5, &err) == NULL);
    CHECK(err != NULL);
    CHECK(memslot_translate(&g.table, 0, guest_addr_of(a0, a0->size - 4), 4, &err) != NULL);
    /* Sizes that wrap the address space. */
    err = NULL;
    CHECK(memslot_translate(&g.table, 0, ok, SIZE_MAX, &err) == NULL);
    CHECK(err != NULL);
    CHECK(memslot_translate(&g.table, 0, ok, SIZE_MAX - 63, &err) == NULL);
    /* A huge offset lands far outside the slot. */
    err = NULL;
    CHECK(memslot_translate(&g.table, 0, guest_addr_of(a0, 0) | 0xffffffffffffull, 1, &err) ==
          NULL);
    CHECK(err != NULL);
    /* A NULL err_desc is allowed. */
    CHECK(memslot_translate(&g.table, 2, ok, 1, NULL) == NULL);
    guest_finish(&g);
}

static void test_del_and_reset(void)
{
    struct guest g;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    uint64_t a0 = guest_addr_of(&g.arena[0], 8);
    uint64_t a1 = guest_addr_of(&g.arena[1], 8);
    CHECK_EQ(memslot_del(&g.table, 0, 0), 0);
    CHECK(memslot_translate(&g.table, 0, a0, 1, &err) == NULL);
    CHECK(memslot_translate(&g.table, 0, a1, 1, &err) != NULL);
    memslot_reset(&g.table);
    CHECK(memslot_translate(&g.table, 0, a1, 1, &err) == NULL);
    /* Re-adding with a new generation makes old addresses stale. */
    uintptr_t start = (uintptr_t)g.arena[1].ram;
    CHECK_EQ(memslot_add(&g.table, 0, 1, 3, start, start + g.arena[1].size,
                         (uint64_t)start - g.arena[1].phys_base),
             0);
    CHECK(memslot_translate(&g.table, 0, a1, 1, &err) == NULL);
    g.arena[1].generation = 3;
    CHECK(memslot_translate(&g.table, 0, guest_addr_of(&g.arena[1], 8), 1, &err) ==
          g.arena[1].ram + 8);
    guest_finish(&g);
}

static void test_no_id_or_gen_bits(void)
{
    struct memslot_table t;
    uint8_t ram[64];
    const char *err = NULL;
    CHECK_EQ(memslot_table_init(&t, 1, 1, 0, 0), 0);
    uintptr_t start = (uintptr_t)ram;
    CHECK_EQ(memslot_add(&t, 0, 0, 0, start, start + sizeof(ram), start), 0);
    CHECK(memslot_translate(&t, 0, 10, 4, &err) == ram + 10);
    CHECK(memslot_translate(&t, 0, 61, 4, &err) == NULL);
    CHECK(memslot_translate(&t, 0, UINT64_MAX, 1, &err) == NULL);
    memslot_table_finish(&t);
}

/* Xspice/QEMU's "host" group: a slot covering the whole address space with
 * delta 0 and virt_end = ~0. */
static void test_whole_address_space_slot(void)
{
    struct memslot_table t;
    uint8_t buf[16];
    const char *err = NULL;
    CHECK_EQ(memslot_table_init(&t, 1, 1, 0, 0), 0);
    CHECK_EQ(memslot_add(&t, 0, 0, 0, 0, UINTPTR_MAX, 0), 0);
    CHECK(memslot_translate(&t, 0, (uintptr_t)buf, sizeof(buf), &err) == buf);
    CHECK(memslot_translate(&t, 0, UINTPTR_MAX - 1, 2, &err) == NULL);
    memslot_table_finish(&t);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_init_limits),
            CHECK_CASE(test_translate_ok),
            CHECK_CASE(test_translate_rejects),
            CHECK_CASE(test_del_and_reset),
            CHECK_CASE(test_no_id_or_gen_bits),
            CHECK_CASE(test_whole_address_space_slot),
            {0},
    });
}
