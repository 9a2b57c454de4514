/*
 * The SPICE link stage on the wire (spice/protocol.h).
 *
 * DESIGN: a new connection starts with a 16-byte SpiceLinkHeader
 * {u32 magic "REDQ", u32 major 2, u32 minor 2, u32 size} followed by `size`
 * bytes of SpiceLinkMess (client -> server) or SpiceLinkReply (server ->
 * client). Both carry two arrays of little-endian u32 capability words,
 * common caps first and channel caps right after, located by a caps_offset
 * counted from the start of the SpiceLinkMess / SpiceLinkReply.
 *
 *   SpiceLinkMess  (18): u32 connection_id, u8 channel_type, u8 channel_id,
 *                        u32 num_common_caps, u32 num_channel_caps,
 *                        u32 caps_offset
 *   SpiceLinkReply (178): u32 error, u8 pub_key[162], u32 num_common_caps,
 *                        u32 num_channel_caps, u32 caps_offset
 *
 * Validation follows the reference server: the body is 18..4096 bytes, each
 * caps count is at most 1024, and when any caps are present caps_offset is at
 * least the fixed size and caps_offset + 4 * (common + channel) fits in the
 * body. With no caps at all, caps_offset is not looked at (the reference
 * ignores it too, and its own error replies send 0). All arithmetic is done
 * in 64 bits, so no count or offset from the wire can overflow.
 *
 * INVARIANT: parsers only read inside [data, data + len) and never write.
 */
#include "proto/link.h"

#include <string.h>

#include <spice/enums.h>
#include <spice/protocol.h>

#include "common/error.h"

_Static_assert(LINK_PUBKEY_SIZE == SPICE_TICKET_PUBKEY_BYTES, "pubkey size");
_Static_assert(LINK_HEADER_SIZE == sizeof(SpiceLinkHeader), "SpiceLinkHeader size");
_Static_assert(LINK_MESS_SIZE == sizeof(SpiceLinkMess), "SpiceLinkMess size");
_Static_assert(LINK_REPLY_SIZE == sizeof(SpiceLinkReply), "SpiceLinkReply size");
_Static_assert(LINK_TICKET_SIZE == sizeof(SpiceLinkEncryptedTicket), "ticket size");

int link_header_parse(const uint8_t *data, size_t len, struct link_header *out)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    out->magic = read_u32(&r);
    out->major_version = read_u32(&r);
    out->minor_version = read_u32(&r);
    out->size = read_u32(&r);
    if (!reader_ok(&r)) {
        return CLOVE_E_INCOMPLETE;
    }
    return LINK_HEADER_SIZE;
}

void link_header_write(struct byte_buf *b, uint32_t size)
{
    buf_put_u32(b, LINK_MAGIC);
    buf_put_u32(b, SPICE_VERSION_MAJOR);
    buf_put_u32(b, SPICE_VERSION_MINOR);
    buf_put_u32(b, size);
}

/*
 * Locates the two caps arrays of a link message or reply whose fixed part is
 * `fixed_size` bytes. Shared by both parsers, which differ only in the fixed
 * fields.
 */
static int locate_caps(const uint8_t *data, size_t len, size_t fixed_size, uint32_t num_common_caps,
                       uint32_t num_channel_caps, uint32_t caps_offset, const uint8_t **common_caps,
                       const uint8_t **channel_caps, const char **err_desc)
{
    if (num_common_caps > LINK_MAX_CAPS_WORDS || num_channel_caps > LINK_MAX_CAPS_WORDS) {
        *err_desc = "too many capability words";
        return CLOVE_E_RANGE;
    }
    uint64_t num_caps = (uint64_t)num_common_caps + num_channel_caps;
    if (num_caps == 0) {
        /* Point at the end of the fixed part: valid, and never dereferenced. */
        *common_caps = data + fixed_size;
        *channel_caps = data + fixed_size;
        return 0;
    }
    if (caps_offset < fixed_size) {
        *err_desc = "caps_offset inside the fixed part";
        return CLOVE_E_INVALID;
    }
    if ((uint64_t)caps_offset + num_caps * 4 > len) {
        *err_desc = "capability words beyond the end of the message";
        return CLOVE_E_INVALID;
    }
    *common_caps = data + caps_offset;
    *channel_caps = data + caps_offset + (size_t)num_common_caps * 4;
    return 0;
}

int link_mess_parse(const uint8_t *data, size_t len, struct link_mess *out, const char **err_desc)
{
    if (len < LINK_MESS_SIZE || len > LINK_MAX_BODY_SIZE) {
        *err_desc = "link message size out of range";
        return CLOVE_E_RANGE;
    }
    struct byte_reader r;
    reader_init(&r, data, len);
    out->connection_id = read_u32(&r);
    out->channel_type = read_u8(&r);
    out->channel_id = read_u8(&r);
    out->num_common_caps = read_u32(&r);
    out->num_channel_caps = read_u32(&r);
    uint32_t caps_offset = read_u32(&r);
    if (!reader_ok(&r)) {
        /* Cannot happen after the length check; kept for robustness. */
        *err_desc = "truncated link message";
        return CLOVE_E_INVALID;
    }
    int rc = locate_caps(data, len, LINK_MESS_SIZE, out->num_common_caps, out->num_channel_caps,
                         caps_offset, &out->common_caps, &out->channel_caps, err_desc);
    if (rc < 0) {
        return rc;
    }
    return (int)len;
}

static void put_caps(struct byte_buf *b, const uint32_t *caps, uint32_t num)
{
    for (uint32_t i = 0; i < num; i++) {
        buf_put_u32(b, caps[i]);
    }
}

void link_mess_write(struct byte_buf *b, uint32_t connection_id, uint8_t channel_type,
                     uint8_t channel_id, const uint32_t *common_caps, uint32_t num_common_caps,
                     const uint32_t *channel_caps, uint32_t num_channel_caps)
{
    uint64_t size = LINK_MESS_SIZE + ((uint64_t)num_common_caps + num_channel_caps) * 4;
    link_header_write(b, (uint32_t)size);
    buf_put_u32(b, connection_id);
    buf_put_u8(b, channel_type);
    buf_put_u8(b, channel_id);
    buf_put_u32(b, num_common_caps);
    buf_put_u32(b, num_channel_caps);
    buf_put_u32(b, LINK_MESS_SIZE);
    put_caps(b, common_caps, num_common_caps);
    put_caps(b, channel_caps, num_channel_caps);
}

void link_reply_write(struct byte_buf *b, uint32_t error, const uint8_t *pubkey,
                      const uint32_t *common_caps, uint32_t num_common_caps,
                      const uint32_t *channel_caps, uint32_t num_channel_caps)
{
    if (error != SPICE_LINK_ERR_OK) {
        /* The reference's error reply: everything but `error` is zero,
         * including caps_offset, and no caps follow. */
        link_header_write(b, LINK_REPLY_SIZE);
        buf_put_u32(b, error);
        buf_put_zeros(b, LINK_REPLY_SIZE - 4);
        return;
    }
    uint64_t size = LINK_REPLY_SIZE + ((uint64_t)num_common_caps + num_channel_caps) * 4;
    link_header_write(b, (uint32_t)size);
    buf_put_u32(b, error);
    if (pubkey) {
        buf_put(b, pubkey, LINK_PUBKEY_SIZE);
    } else {
        buf_put_zeros(b, LINK_PUBKEY_SIZE);
    }
    buf_put_u32(b, num_common_caps);
    buf_put_u32(b, num_channel_caps);
    buf_put_u32(b, LINK_REPLY_SIZE);
    put_caps(b, common_caps, num_common_caps);
    put_caps(b, channel_caps, num_channel_caps);
}

int link_reply_parse(const uint8_t *data, size_t len, struct link_reply *out, const char **err_desc)
{
    if (len < LINK_REPLY_SIZE || len > LINK_MAX_BODY_SIZE) {
        *err_desc = "link reply size out of range";
        return CLOVE_E_RANGE;
    }
    struct byte_reader r;
    reader_init(&r, data, len);
    out->error = read_u32(&r);
    out->pubkey = read_bytes(&r, LINK_PUBKEY_SIZE);
    out->num_common_caps = read_u32(&r);
    out->num_channel_caps = read_u32(&r);
    uint32_t caps_offset = read_u32(&r);
    if (!reader_ok(&r)) {
        *err_desc = "truncated link reply";
        return CLOVE_E_INVALID;
    }
    int rc = locate_caps(data, len, LINK_REPLY_SIZE, out->num_common_caps, out->num_channel_caps,
                         caps_offset, &out->common_caps, &out->channel_caps, err_desc);
    if (rc < 0) {
        return rc;
    }
    return (int)len;
}

int link_u32_parse(const uint8_t *data, size_t len, uint32_t *value)
{
    if (len < 4) {
        return CLOVE_E_INCOMPLETE;
    }
    *value = get_u32le(data);
    return 4;
}

void link_u32_write(struct byte_buf *b, uint32_t value)
{
    buf_put_u32(b, value);
}

int caps_test(const uint8_t *words, uint32_t num_words, unsigned cap)
{
    if (!words || cap / 32 >= num_words) {
        return 0;
    }
    return (get_u32le(words + (size_t)(cap / 32) * 4) >> (cap % 32)) & 1u;
}
