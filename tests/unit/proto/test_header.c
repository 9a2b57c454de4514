/*
 * Tests for src/proto/header.c: the 18-byte SpiceDataHeader and the 6-byte
 * SpiceMiniDataHeader, golden vectors, truncation and round trips.
 */
#include <spice/enums.h>
#include <spice/protocol.h>

#include "check.h"
#include "common/error.h"
#include "proto/header.h"

_Static_assert(MSG_HEADER_FULL_SIZE == sizeof(SpiceDataHeader), "full header");
_Static_assert(MSG_HEADER_MINI_SIZE == sizeof(SpiceMiniDataHeader), "mini header");

static const uint8_t golden_full[18] = {
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* serial */
        0x67, 0x00,                                     /* type 103 = MAIN_INIT */
        0x20, 0x00, 0x00, 0x00,                         /* size 32 */
        0x00, 0x00, 0x00, 0x00,                         /* sub_list */
};
static const uint8_t golden_mini[6] = {0x67, 0x00, 0x20, 0x00, 0x00, 0x00};

static void test_full_golden(void)
{
    struct msg_header h;
    CHECK_EQ(msg_header_parse(golden_full, sizeof(golden_full), false, &h), 18);
    CHECK_EQ(h.serial, 0x0102030405060708ull);
    CHECK_EQ(h.type, SPICE_MSG_MAIN_INIT);
    CHECK_EQ(h.size, 32);
    CHECK_EQ(h.sub_list, 0);

    struct byte_buf b = {0};
    msg_header_write(&b, false, 0x0102030405060708ull, SPICE_MSG_MAIN_INIT, 32);
    CHECK(buf_ok(&b));
    CHECK_EQ(b.len, 18);
    CHECK_MEM_EQ(b.data, golden_full, 18);
    buf_finish(&b);
}

static void test_mini_golden(void)
{
    struct msg_header h = {.serial = 99, .sub_list = 99};
    CHECK_EQ(msg_header_parse(golden_mini, sizeof(golden_mini), true, &h), 6);
    CHECK_EQ(h.serial, 0);
    CHECK_EQ(h.type, SPICE_MSG_MAIN_INIT);
    CHECK_EQ(h.size, 32);
    CHECK_EQ(h.sub_list, 0);

    struct byte_buf b = {0};
    msg_header_write(&b, true, 12345, SPICE_MSG_MAIN_INIT, 32);
    CHECK_EQ(b.len, 6);
    CHECK_MEM_EQ(b.data, golden_mini, 6);
    buf_finish(&b);
}

static void test_truncated(void)
{
    struct msg_header h;
    for (size_t n = 0; n < 18; n++) {
        CHECK_EQ(msg_header_parse(golden_full, n, false, &h), CLOVE_E_INCOMPLETE);
    }
    for (size_t n = 0; n < 6; n++) {
        CHECK_EQ(msg_header_parse(golden_mini, n, true, &h), CLOVE_E_INCOMPLETE);
    }
    /* Extra bytes after the header are the body's business. */
    CHECK_EQ(msg_header_parse(golden_full, 18, true, &h), 6);
}

static void test_sub_list_reported(void)
{
    uint8_t d[18];
    memcpy(d, golden_full, 18);
    d[14] = 0x10;
    struct msg_header h;
    CHECK_EQ(msg_header_parse(d, 18, false, &h), 18);
    CHECK_EQ(h.sub_list, 0x10);
}

static void test_write_at_round_trip(void)
{
    uint8_t p[18];
    struct msg_header h;
    msg_header_write_at(p, false, UINT64_MAX, 0xffff, UINT32_MAX);
    CHECK_EQ(msg_header_parse(p, 18, false, &h), 18);
    CHECK_EQ(h.serial, UINT64_MAX);
    CHECK_EQ(h.type, 0xffff);
    CHECK_EQ(h.size, UINT32_MAX);
    CHECK_EQ(h.sub_list, 0);
    msg_header_write_at(p, true, 0, 316, 70000);
    CHECK_EQ(msg_header_parse(p, 6, true, &h), 6);
    CHECK_EQ(h.type, 316);
    CHECK_EQ(h.size, 70000);
    CHECK_EQ(msg_header_size(true), 6);
    CHECK_EQ(msg_header_size(false), 18);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_full_golden),
            CHECK_CASE(test_mini_golden),
            CHECK_CASE(test_truncated),
            CHECK_CASE(test_sub_list_reported),
            CHECK_CASE(test_write_at_round_trip),
            {0},
    });
}
