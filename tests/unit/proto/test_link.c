/*
 * Tests for src/proto/link.c: golden byte vectors for the link header,
 * SpiceLinkMess and SpiceLinkReply (built by hand from spice/protocol.h),
 * every truncation, the reference's limits, hostile offsets and round trips.
 */
#include <stdlib.h>

#include <spice/enums.h>
#include <spice/protocol.h>

#include "check.h"
#include "common/error.h"
#include "proto/link.h"

/* spicy-screenshot's main-channel link: caps AUTH_SELECTION|AUTH_SPICE|
 * MINI_HEADER (0x0b) and main caps 0x0f. */
static const uint8_t golden_mess[42] = {
        'R',  'E', 'D', 'Q', 2,    0, 0, 0, 2, 0, 0, 0, 26, 0, 0, 0, /* header */
        0,    0,   0,   0,                                           /* connection_id */
        1,    0,                                                     /* channel main:0 */
        1,    0,   0,   0,   1,    0, 0, 0,                          /* 1 + 1 cap words */
        18,   0,   0,   0,                                           /* caps_offset */
        0x0b, 0,   0,   0,   0x0f, 0, 0, 0,
};

static void test_header_golden(void)
{
    struct link_header h;
    CHECK_EQ(link_header_parse(golden_mess, sizeof(golden_mess), &h), LINK_HEADER_SIZE);
    CHECK_EQ(h.magic, SPICE_MAGIC);
    CHECK_EQ(h.magic, LINK_MAGIC);
    CHECK_EQ(h.major_version, 2);
    CHECK_EQ(h.minor_version, 2);
    CHECK_EQ(h.size, 26);

    struct byte_buf b = {0};
    link_header_write(&b, 26);
    CHECK(buf_ok(&b));
    CHECK_EQ(b.len, 16);
    CHECK_MEM_EQ(b.data, golden_mess, 16);
    buf_finish(&b);
}

static void test_header_truncated(void)
{
    struct link_header h;
    for (size_t n = 0; n < LINK_HEADER_SIZE; n++) {
        CHECK_EQ(link_header_parse(golden_mess, n, &h), CLOVE_E_INCOMPLETE);
    }
}

static void test_mess_golden(void)
{
    struct link_mess m;
    const char *err = NULL;
    CHECK_EQ(link_mess_parse(golden_mess + 16, 26, &m, &err), 26);
    CHECK_EQ(m.connection_id, 0);
    CHECK_EQ(m.channel_type, SPICE_CHANNEL_MAIN);
    CHECK_EQ(m.channel_id, 0);
    CHECK_EQ(m.num_common_caps, 1);
    CHECK_EQ(m.num_channel_caps, 1);
    CHECK(m.common_caps == golden_mess + 16 + 18);
    CHECK(m.channel_caps == golden_mess + 16 + 22);
    CHECK(caps_test(m.common_caps, m.num_common_caps, SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION));
    CHECK(caps_test(m.common_caps, m.num_common_caps, SPICE_COMMON_CAP_AUTH_SPICE));
    CHECK(!caps_test(m.common_caps, m.num_common_caps, SPICE_COMMON_CAP_AUTH_SASL));
    CHECK(caps_test(m.common_caps, m.num_common_caps, SPICE_COMMON_CAP_MINI_HEADER));
    CHECK(!caps_test(m.common_caps, m.num_common_caps, 32)); /* beyond the words */
    CHECK(caps_test(m.channel_caps, m.num_channel_caps, SPICE_MAIN_CAP_SEAMLESS_MIGRATE));
    CHECK(!caps_test(NULL, 0, 0));
}

static void test_mess_write_golden(void)
{
    uint32_t common[1] = {0}, channel[1] = {0};
    caps_set(common, SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION);
    caps_set(common, SPICE_COMMON_CAP_AUTH_SPICE);
    caps_set(common, SPICE_COMMON_CAP_MINI_HEADER);
    for (unsigned c = 0; c < 4; c++) {
        caps_set(channel, c);
    }
    struct byte_buf b = {0};
    link_mess_write(&b, 0, SPICE_CHANNEL_MAIN, 0, common, 1, channel, 1);
    CHECK(buf_ok(&b));
    CHECK_EQ(b.len, sizeof(golden_mess));
    CHECK_MEM_EQ(b.data, golden_mess, sizeof(golden_mess));
    buf_finish(&b);
}

/* Every prefix of the body is too short: RANGE below 18 bytes, INVALID once
 * the fixed part is there but the caps are cut. */
static void test_mess_truncated(void)
{
    struct link_mess m;
    const char *err = NULL;
    for (size_t n = 0; n < 26; n++) {
        int rc = link_mess_parse(golden_mess + 16, n, &m, &err);
        CHECK_EQ(rc, n < LINK_MESS_SIZE ? CLOVE_E_RANGE : CLOVE_E_INVALID);
        CHECK(err != NULL);
    }
}

static void build_mess(uint8_t *body, uint32_t common, uint32_t channel, uint32_t offset)
{
    memset(body, 0, LINK_MAX_BODY_SIZE + 1);
    body[4] = SPICE_CHANNEL_DISPLAY;
    put_u32le(body + 6, common);
    put_u32le(body + 10, channel);
    put_u32le(body + 14, offset);
}

static void test_mess_limits(void)
{
    static uint8_t body[LINK_MAX_BODY_SIZE + 1];
    struct link_mess m;
    const char *err = NULL;

    /* The most caps words a 4096-byte body holds: (4096 - 18) / 4 = 1019. */
    build_mess(body, 1000, 19, 18);
    CHECK_EQ(link_mess_parse(body, 18 + 1019 * 4, &m, &err), 18 + 1019 * 4);
    CHECK_EQ(link_mess_parse(body, 18 + 1019 * 4 - 1, &m, &err), CLOVE_E_INVALID);
    build_mess(body, 1025, 0, 18);
    CHECK_EQ(link_mess_parse(body, LINK_MAX_BODY_SIZE, &m, &err), CLOVE_E_RANGE);
    build_mess(body, 0, 1025, 18);
    CHECK_EQ(link_mess_parse(body, LINK_MAX_BODY_SIZE, &m, &err), CLOVE_E_RANGE);
    build_mess(body, 1024, 0, 0);
    CHECK_EQ(link_mess_parse(body, LINK_MAX_BODY_SIZE, &m, &err), CLOVE_E_INVALID);
    /* Body size limits. */
    build_mess(body, 0, 0, 0);
    CHECK_EQ(link_mess_parse(body, LINK_MAX_BODY_SIZE, &m, &err), LINK_MAX_BODY_SIZE);
    CHECK_EQ(link_mess_parse(body, LINK_MAX_BODY_SIZE + 1, &m, &err), CLOVE_E_RANGE);
    CHECK_EQ(link_mess_parse(body, LINK_MESS_SIZE - 1, &m, &err), CLOVE_E_RANGE);
    CHECK_EQ(link_mess_parse(body, LINK_MESS_SIZE, &m, &err), LINK_MESS_SIZE);
}

static void test_mess_offsets(void)
{
    static uint8_t body[LINK_MAX_BODY_SIZE + 1];
    struct link_mess m;
    const char *err = NULL;

    /* No caps: any caps_offset is accepted, as the reference does. */
    build_mess(body, 0, 0, 0xffffffffu);
    CHECK_EQ(link_mess_parse(body, 18, &m, &err), 18);
    CHECK(m.common_caps != NULL && m.channel_caps != NULL);
    /* Caps inside the fixed part. */
    build_mess(body, 1, 0, 17);
    CHECK_EQ(link_mess_parse(body, 40, &m, &err), CLOVE_E_INVALID);
    build_mess(body, 1, 0, 0);
    CHECK_EQ(link_mess_parse(body, 40, &m, &err), CLOVE_E_INVALID);
    /* Exactly at the end, and one byte beyond. */
    build_mess(body, 1, 1, 32);
    CHECK_EQ(link_mess_parse(body, 40, &m, &err), 40);
    CHECK(m.channel_caps == body + 36);
    build_mess(body, 1, 1, 33);
    CHECK_EQ(link_mess_parse(body, 40, &m, &err), CLOVE_E_INVALID);
    /* Offsets that would wrap a 32-bit sum: 0xfffffffc + 8 = 4 (mod 2^32). */
    build_mess(body, 1, 1, 0xfffffffcu);
    CHECK_EQ(link_mess_parse(body, 40, &m, &err), CLOVE_E_INVALID);
    build_mess(body, 1024, 1024, 0xffffe018u);
    CHECK_EQ(link_mess_parse(body, LINK_MAX_BODY_SIZE, &m, &err), CLOVE_E_INVALID);
    /* Counts whose byte size wraps 32 bits (0x40000001 * 4 = 4) are over the limit. */
    build_mess(body, 0x40000001u, 0, 18);
    CHECK_EQ(link_mess_parse(body, 40, &m, &err), CLOVE_E_RANGE);
}

static void test_mess_round_trip(void)
{
    uint32_t common[3] = {0x0b, 0, 0x80000000u};
    uint32_t channel[2] = {0x1234, 0xfedcba98u};
    struct byte_buf b = {0};
    link_mess_write(&b, 0xdeadbeefu, SPICE_CHANNEL_USBREDIR, 7, common, 3, channel, 2);
    CHECK(buf_ok(&b));
    struct link_header h;
    CHECK_EQ(link_header_parse(b.data, b.len, &h), 16);
    CHECK_EQ(h.size, b.len - 16);
    struct link_mess m;
    const char *err = NULL;
    CHECK_EQ(link_mess_parse(b.data + 16, h.size, &m, &err), (int)h.size);
    CHECK_EQ(m.connection_id, 0xdeadbeefu);
    CHECK_EQ(m.channel_type, SPICE_CHANNEL_USBREDIR);
    CHECK_EQ(m.channel_id, 7);
    CHECK_EQ(m.num_common_caps, 3);
    CHECK_EQ(m.num_channel_caps, 2);
    for (uint32_t i = 0; i < 3; i++) {
        CHECK_EQ(get_u32le(m.common_caps + 4 * i), common[i]);
    }
    for (uint32_t i = 0; i < 2; i++) {
        CHECK_EQ(get_u32le(m.channel_caps + 4 * i), channel[i]);
    }
    CHECK(caps_test(m.common_caps, 3, 95));
    CHECK(!caps_test(m.common_caps, 3, 94));
    buf_finish(&b);
}

static void test_reply_golden(void)
{
    uint8_t pubkey[LINK_PUBKEY_SIZE];
    for (size_t i = 0; i < sizeof(pubkey); i++) {
        pubkey[i] = (uint8_t)(i * 7 + 1);
    }
    uint32_t common = 0x0b, channel = 0x05;
    struct byte_buf b = {0};
    link_reply_write(&b, SPICE_LINK_ERR_OK, pubkey, &common, 1, &channel, 1);
    CHECK(buf_ok(&b));
    CHECK_EQ(b.len, 16 + 178 + 8);

    uint8_t want[16 + 178 + 8] = {'R', 'E', 'D', 'Q', 2, 0, 0, 0, 2, 0, 0, 0, 186, 0, 0, 0};
    /* error 0 at 16..19, pubkey at 20..181 */
    memcpy(want + 20, pubkey, sizeof(pubkey));
    want[182] = 1;   /* num_common_caps */
    want[186] = 1;   /* num_channel_caps */
    want[190] = 178; /* caps_offset */
    want[194] = 0x0b;
    want[198] = 0x05;
    CHECK_MEM_EQ(b.data, want, sizeof(want));

    struct link_reply r;
    const char *err = NULL;
    CHECK_EQ(link_reply_parse(b.data + 16, b.len - 16, &r, &err), 186);
    CHECK_EQ(r.error, 0);
    CHECK_MEM_EQ(r.pubkey, pubkey, sizeof(pubkey));
    CHECK_EQ(r.num_common_caps, 1);
    CHECK_EQ(r.num_channel_caps, 1);
    CHECK_EQ(get_u32le(r.common_caps), 0x0b);
    CHECK_EQ(get_u32le(r.channel_caps), 0x05);

    for (size_t n = 0; n < 186; n++) {
        CHECK(link_reply_parse(b.data + 16, n, &r, &err) < 0);
    }
    buf_finish(&b);
}

static void test_reply_error(void)
{
    uint32_t common = 0x0b;
    struct byte_buf b = {0};
    link_reply_write(&b, SPICE_LINK_ERR_PERMISSION_DENIED, NULL, &common, 1, NULL, 0);
    CHECK(buf_ok(&b));
    CHECK_EQ(b.len, 16 + 178);
    uint8_t want[16 + 178] = {'R', 'E', 'D', 'Q', 2, 0, 0, 0, 2, 0, 0, 0, 178, 0, 0, 0, 7};
    CHECK_MEM_EQ(b.data, want, sizeof(want));
    struct link_reply r;
    const char *err = NULL;
    CHECK_EQ(link_reply_parse(b.data + 16, 178, &r, &err), 178);
    CHECK_EQ(r.error, SPICE_LINK_ERR_PERMISSION_DENIED);
    CHECK_EQ(r.num_common_caps, 0);
    buf_finish(&b);
}

static void test_reply_round_trip_nopubkey(void)
{
    uint32_t channel[3] = {1, 2, 3};
    struct byte_buf b = {0};
    link_reply_write(&b, 0, NULL, NULL, 0, channel, 3);
    struct link_reply r;
    const char *err = NULL;
    CHECK_EQ(link_reply_parse(b.data + 16, b.len - 16, &r, &err), 178 + 12);
    for (size_t i = 0; i < LINK_PUBKEY_SIZE; i++) {
        CHECK_EQ(r.pubkey[i], 0);
    }
    CHECK_EQ(r.num_common_caps, 0);
    CHECK_EQ(r.num_channel_caps, 3);
    CHECK_EQ(get_u32le(r.channel_caps + 8), 3);
    /* Offset inside the fixed part is refused. */
    put_u32le(b.data + 16 + 174, 177);
    CHECK_EQ(link_reply_parse(b.data + 16, b.len - 16, &r, &err), CLOVE_E_INVALID);
    /* Too many caps. */
    put_u32le(b.data + 16 + 174, 178);
    put_u32le(b.data + 16 + 166, 1025);
    CHECK_EQ(link_reply_parse(b.data + 16, b.len - 16, &r, &err), CLOVE_E_RANGE);
    buf_finish(&b);
}

static void test_u32_words(void)
{
    struct byte_buf b = {0};
    link_u32_write(&b, SPICE_COMMON_CAP_AUTH_SASL);
    CHECK_EQ(b.len, 4);
    uint8_t want[4] = {2, 0, 0, 0};
    CHECK_MEM_EQ(b.data, want, 4);
    uint32_t v = 0;
    CHECK_EQ(link_u32_parse(b.data, 4, &v), 4);
    CHECK_EQ(v, 2);
    CHECK_EQ(link_u32_parse(b.data, 3, &v), CLOVE_E_INCOMPLETE);
    buf_finish(&b);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_header_golden),
            CHECK_CASE(test_header_truncated),
            CHECK_CASE(test_mess_golden),
            CHECK_CASE(test_mess_write_golden),
            CHECK_CASE(test_mess_truncated),
            CHECK_CASE(test_mess_limits),
            CHECK_CASE(test_mess_offsets),
            CHECK_CASE(test_mess_round_trip),
            CHECK_CASE(test_reply_golden),
            CHECK_CASE(test_reply_error),
            CHECK_CASE(test_reply_round_trip_nopubkey),
            CHECK_CASE(test_u32_words),
            {0},
    });
}
