/*
 * libFuzzer target for the link stage (src/proto/link.c).
 *
 * Input: a client link as sent on the wire (SpiceLinkHeader + body). The
 * header is parsed, and the rest is handed to link_mess_parse bounded by the
 * header's size the way the server does; the same bytes are also parsed as a
 * server reply body. Whatever parses is written back and parsed again, which
 * must give the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "proto/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) \
    do {                  \
        if (!(cond)) {    \
            abort();      \
        }                 \
    } while (0)

/* Touches every caps word so that ASan sees any out-of-bounds pointer. */
static uint32_t sum_caps(const uint8_t *words, uint32_t n)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        sum += get_u32le(words + 4 * (size_t)i);
    }
    return sum;
}

static void copy_caps(uint32_t *dst, const uint8_t *words, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        dst[i] = get_u32le(words + 4 * (size_t)i);
    }
}

static void check_mess(const uint8_t *body, size_t len)
{
    struct link_mess m;
    const char *err = NULL;
    int rc = link_mess_parse(body, len, &m, &err);
    if (rc < 0) {
        FUZZ_ASSERT(err != NULL);
        return;
    }
    FUZZ_ASSERT((size_t)rc == len);
    uint32_t sum = sum_caps(m.common_caps, m.num_common_caps) +
                   sum_caps(m.channel_caps, m.num_channel_caps);
    (void)caps_test(m.common_caps, m.num_common_caps, sum % 128);

    static uint32_t common[LINK_MAX_CAPS_WORDS], channel[LINK_MAX_CAPS_WORDS];
    copy_caps(common, m.common_caps, m.num_common_caps);
    copy_caps(channel, m.channel_caps, m.num_channel_caps);
    struct byte_buf b = {0};
    link_mess_write(&b, m.connection_id, m.channel_type, m.channel_id, common, m.num_common_caps,
                    channel, m.num_channel_caps);
    FUZZ_ASSERT(buf_ok(&b));
    struct link_header h;
    FUZZ_ASSERT(link_header_parse(b.data, b.len, &h) == LINK_HEADER_SIZE);
    FUZZ_ASSERT(h.size == b.len - LINK_HEADER_SIZE);
    struct link_mess m2;
    FUZZ_ASSERT(link_mess_parse(b.data + LINK_HEADER_SIZE, h.size, &m2, &err) == (int)h.size);
    FUZZ_ASSERT(m2.connection_id == m.connection_id && m2.channel_type == m.channel_type &&
                m2.channel_id == m.channel_id && m2.num_common_caps == m.num_common_caps &&
                m2.num_channel_caps == m.num_channel_caps);
    FUZZ_ASSERT(memcmp(m2.common_caps, m.common_caps, 4 * (size_t)m.num_common_caps) == 0);
    FUZZ_ASSERT(memcmp(m2.channel_caps, m.channel_caps, 4 * (size_t)m.num_channel_caps) == 0);
    buf_finish(&b);
}

static void check_reply(const uint8_t *body, size_t len)
{
    struct link_reply r;
    const char *err = NULL;
    int rc = link_reply_parse(body, len, &r, &err);
    if (rc < 0) {
        FUZZ_ASSERT(err != NULL);
        return;
    }
    (void)sum_caps(r.common_caps, r.num_common_caps);
    (void)sum_caps(r.channel_caps, r.num_channel_caps);
    if (r.error != 0) {
        return;
    }
    static uint32_t common[LINK_MAX_CAPS_WORDS], channel[LINK_MAX_CAPS_WORDS];
    copy_caps(common, r.common_caps, r.num_common_caps);
    copy_caps(channel, r.channel_caps, r.num_channel_caps);
    struct byte_buf b = {0};
    link_reply_write(&b, 0, r.pubkey, common, r.num_common_caps, channel, r.num_channel_caps);
    FUZZ_ASSERT(buf_ok(&b));
    struct link_reply r2;
    FUZZ_ASSERT(link_reply_parse(b.data + LINK_HEADER_SIZE, b.len - LINK_HEADER_SIZE, &r2, &err) >
                0);
    FUZZ_ASSERT(memcmp(r2.pubkey, r.pubkey, LINK_PUBKEY_SIZE) == 0);
    FUZZ_ASSERT(r2.num_common_caps == r.num_common_caps);
    FUZZ_ASSERT(r2.num_channel_caps == r.num_channel_caps);
    buf_finish(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct link_header h;
    int rc = link_header_parse(data, size, &h);
    if (rc > 0) {
        size_t rest = size - (size_t)rc;
        /* The server reads exactly h.size bytes (bounded before reading). */
        if (h.size <= rest) {
            check_mess(data + rc, h.size);
        }
        check_mess(data + rc, rest);
    }
    check_reply(data, size);
    uint32_t word;
    (void)link_u32_parse(data, size, &word);
    return 0;
}
