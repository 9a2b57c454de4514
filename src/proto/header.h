/*
 * Data-message framing after the link (spice/protocol.h): the 18-byte
 * SpiceDataHeader or, when both sides advertise MINI_HEADER, the 6-byte
 * SpiceMiniDataHeader.
 *
 * Pure: no I/O, no allocation.
 */
#ifndef CLOVE_PROTO_HEADER_H
#define CLOVE_PROTO_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

#define MSG_HEADER_FULL_SIZE 18
#define MSG_HEADER_MINI_SIZE 6

struct msg_header {
    uint64_t serial; /* 0 with the mini header */
    uint16_t type;
    uint32_t size;
    uint32_t sub_list; /* 0 with the mini header */
};

static inline size_t msg_header_size(bool mini)
{
    return mini ? MSG_HEADER_MINI_SIZE : MSG_HEADER_FULL_SIZE;
}

/*
 * Parses a header. Returns its size, or CLOVE_E_INCOMPLETE when len is too
 * short. The caller bounds `size` against its own per-channel limit.
 */
int msg_header_parse(const uint8_t *data, size_t len, bool mini, struct msg_header *out);

/*
 * Appends a header. With the full header, serial is written as given and
 * sub_list as 0.
 */
void msg_header_write(struct byte_buf *b, bool mini, uint64_t serial, uint16_t type, uint32_t size);

/* Writes a header in place at p (msg_header_size(mini) bytes). */
void msg_header_write_at(uint8_t *p, bool mini, uint64_t serial, uint16_t type, uint32_t size);

#endif
