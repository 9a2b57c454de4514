/*
 * Data-message framing (spice/protocol.h: SpiceDataHeader and
 * SpiceMiniDataHeader).
 *
 * DESIGN: every message after the link stage starts with one of two headers,
 * chosen per channel when both peers advertise SPICE_COMMON_CAP_MINI_HEADER:
 *
 *   full (18 bytes): u64 serial, u16 type, u32 size, u32 sub_list
 *   mini  (6 bytes): u16 type, u32 size
 *
 * All fields are little-endian with no padding. `size` counts the body only.
 * We never send sub-message lists, so sub_list is always written as 0; when
 * parsing it is reported as received and left to the caller.
 */
#include "proto/header.h"

#include "common/error.h"

int msg_header_parse(const uint8_t *data, size_t len, bool mini, struct msg_header *out)
{
    struct byte_reader r;
    reader_init(&r, data, len);
    if (mini) {
        out->serial = 0;
        out->type = read_u16(&r);
        out->size = read_u32(&r);
        out->sub_list = 0;
    } else {
        out->serial = read_u64(&r);
        out->type = read_u16(&r);
        out->size = read_u32(&r);
        out->sub_list = read_u32(&r);
    }
    if (!reader_ok(&r)) {
        return CLOVE_E_INCOMPLETE;
    }
    return (int)msg_header_size(mini);
}

void msg_header_write_at(uint8_t *p, bool mini, uint64_t serial, uint16_t type, uint32_t size)
{
    if (mini) {
        put_u16le(p, type);
        put_u32le(p + 2, size);
        return;
    }
    put_u32le(p, (uint32_t)serial);
    put_u32le(p + 4, (uint32_t)(serial >> 32));
    put_u16le(p + 8, type);
    put_u32le(p + 10, size);
    put_u32le(p + 14, 0);
}

void msg_header_write(struct byte_buf *b, bool mini, uint64_t serial, uint16_t type, uint32_t size)
{
    uint8_t *p = buf_append(b, msg_header_size(mini));
    if (p) {
        msg_header_write_at(p, mini, serial, type, size);
    }
}
