/*
 * The SPICE link stage on the wire (spice/protocol.h): SpiceLinkHeader,
 * SpiceLinkMess with its capability words, SpiceLinkReply, the auth mechanism
 * word and the 4-byte link result.
 *
 * Pure: no I/O, no allocation, no logging. Parsers return the number of bytes
 * consumed, CLOVE_E_INCOMPLETE when more input is needed, or another negative
 * CLOVE_E_* code with *err_desc set to a static string.
 */
#ifndef CLOVE_PROTO_LINK_H
#define CLOVE_PROTO_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

#define LINK_HEADER_SIZE     16
#define LINK_MESS_SIZE       18 /* SpiceLinkMess without caps */
#define LINK_REPLY_SIZE      178 /* SpiceLinkReply without caps */
#define LINK_PUBKEY_SIZE     162 /* SPICE_TICKET_PUBKEY_BYTES */
#define LINK_TICKET_SIZE     128 /* RSA-1024 ciphertext */
#define LINK_MAX_BODY_SIZE   4096 /* the reference refuses bigger link messages */
#define LINK_MAX_CAPS_WORDS  1024

struct link_header {
    uint32_t magic; /* SPICE_MAGIC when valid */
    uint32_t major_version;
    uint32_t minor_version;
    uint32_t size; /* bytes that follow the header */
};

/*
 * Parses a 16-byte SpiceLinkHeader. Returns 16, or CLOVE_E_INCOMPLETE if
 * len < 16. Does not judge magic or version (the caller answers those with
 * their own link error); it does reject nothing else.
 */
int link_header_parse(const uint8_t *data, size_t len, struct link_header *out);
void link_header_write(struct byte_buf *b, uint32_t size);

struct link_mess {
    uint32_t connection_id;
    uint8_t channel_type;
    uint8_t channel_id;
    uint32_t num_common_caps;  /* in 32-bit words */
    uint32_t num_channel_caps; /* in 32-bit words */
    const uint8_t *common_caps;  /* borrows the input: num_common_caps LE u32 words */
    const uint8_t *channel_caps; /* borrows the input */
};

/*
 * Parses the body of a client link message (exactly `len` bytes, the header's
 * size). Validates len in [LINK_MESS_SIZE, LINK_MAX_BODY_SIZE], cap counts
 * <= LINK_MAX_CAPS_WORDS, and that caps_offset and both cap arrays lie inside
 * the body without overflow. Returns len on success, CLOVE_E_INVALID or
 * CLOVE_E_RANGE otherwise.
 */
int link_mess_parse(const uint8_t *data, size_t len, struct link_mess *out, const char **err_desc);

/* Builds a client link message (header + body); for tests and the client. */
void link_mess_write(struct byte_buf *b, uint32_t connection_id, uint8_t channel_type,
                     uint8_t channel_id, const uint32_t *common_caps, uint32_t num_common_caps,
                     const uint32_t *channel_caps, uint32_t num_channel_caps);

/*
 * Appends a complete server link reply: SpiceLinkHeader (version 2.2) +
 * SpiceLinkReply + caps. pubkey may be NULL (zero-filled). On error replies
 * pass error != 0 and no caps, as the reference does.
 */
void link_reply_write(struct byte_buf *b, uint32_t error, const uint8_t *pubkey,
                      const uint32_t *common_caps, uint32_t num_common_caps,
                      const uint32_t *channel_caps, uint32_t num_channel_caps);

struct link_reply {
    uint32_t error;
    const uint8_t *pubkey; /* borrows, LINK_PUBKEY_SIZE bytes */
    uint32_t num_common_caps;
    uint32_t num_channel_caps;
    const uint8_t *common_caps;
    const uint8_t *channel_caps;
};

/* Parses a server link reply body (client side and tests). */
int link_reply_parse(const uint8_t *data, size_t len, struct link_reply *out,
                     const char **err_desc);

/* Capability word helpers: bit n of the LE u32 word array. */
int caps_test(const uint8_t *words, uint32_t num_words, unsigned cap);
static inline void caps_set(uint32_t *words, unsigned cap)
{
    words[cap / 32] |= 1u << (cap % 32);
}

#endif
