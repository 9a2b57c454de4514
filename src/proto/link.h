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

#define LINK_HEADER_SIZE    16
#define LINK_MESS_SIZE      18   /* SpiceLinkMess without caps */
#define LINK_REPLY_SIZE     178  /* SpiceLinkReply without caps */
#define LINK_PUBKEY_SIZE    162  /* SPICE_TICKET_PUBKEY_BYTES */
#define LINK_TICKET_SIZE    128  /* RSA-1024 ciphertext */
#define LINK_MAX_BODY_SIZE  4096 /* the reference refuses bigger link messages */
#define LINK_MAX_CAPS_WORDS 1024
/* "REDQ" read as a little-endian u32; equals SPICE_MAGIC on little-endian hosts. */
#define LINK_MAGIC 0x51444552u

struct link_header {
    uint32_t magic; /* SPICE_MAGIC when valid */
    uint32_t major_version;
    uint32_t minor_version;
    uint32_t size; /* bytes that follow the header */
};

/*
 * Parses a 16-byte SpiceLinkHeader. Returns 16, or CLOVE_E_INCOMPLETE if
 * len < 16. Does not judge magic, version or size: the caller answers those
 * with its own link error (the reference checks major == 2 and then
 * LINK_MESS_SIZE <= size <= LINK_MAX_BODY_SIZE).
 */
int link_header_parse(const uint8_t *data, size_t len, struct link_header *out);
/* Appends a SpiceLinkHeader: LINK_MAGIC, version 2.2, `size`. */
void link_header_write(struct byte_buf *b, uint32_t size);

struct link_mess {
    uint32_t connection_id;
    uint8_t channel_type;
    uint8_t channel_id;
    uint32_t num_common_caps;    /* in 32-bit words */
    uint32_t num_channel_caps;   /* in 32-bit words */
    const uint8_t *common_caps;  /* borrows the input: num_common_caps LE u32 words */
    const uint8_t *channel_caps; /* borrows the input */
};

/*
 * Parses the body of a client link message (exactly `len` bytes, the header's
 * size). Validates len in [LINK_MESS_SIZE, LINK_MAX_BODY_SIZE] and cap counts
 * <= LINK_MAX_CAPS_WORDS (else CLOVE_E_RANGE), and, when there is at least
 * one cap word, that caps_offset >= LINK_MESS_SIZE and both cap arrays lie
 * inside the body (else CLOVE_E_INVALID). caps_offset counts from the start
 * of the body; the common words come first, the channel words right after.
 * With no caps at all caps_offset is ignored, as the reference does. Returns
 * len on success. The caps pointers borrow `data` (never NULL).
 */
int link_mess_parse(const uint8_t *data, size_t len, struct link_mess *out, const char **err_desc);

/* Builds a client link message (header + body); for tests and the client. */
void link_mess_write(struct byte_buf *b, uint32_t connection_id, uint8_t channel_type,
                     uint8_t channel_id, const uint32_t *common_caps, uint32_t num_common_caps,
                     const uint32_t *channel_caps, uint32_t num_channel_caps);

/*
 * Appends a complete server link reply: SpiceLinkHeader (version 2.2) +
 * SpiceLinkReply + caps, with caps_offset = LINK_REPLY_SIZE. pubkey (borrows,
 * LINK_PUBKEY_SIZE bytes) may be NULL: zero-filled. When error != 0 the reply
 * is the reference's error reply: only `error` is set, every other field
 * (pubkey, counts, caps_offset) is zero and pubkey/caps are ignored.
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

/*
 * Parses a server link reply body (client side and tests): exactly `len`
 * bytes, the header's size. Same rules as link_mess_parse with
 * LINK_REPLY_SIZE as the fixed size (len in [LINK_REPLY_SIZE,
 * LINK_MAX_BODY_SIZE]). Returns len or a negative CLOVE_E_* code.
 */
int link_reply_parse(const uint8_t *data, size_t len, struct link_reply *out,
                     const char **err_desc);

/*
 * The single little-endian u32 words of the link stage: the client's
 * SpiceLinkAuthMechanism (SPICE_COMMON_CAP_AUTH_SPICE / _SASL) and the
 * server's link result after authentication (SPICE_LINK_ERR_*).
 * link_u32_parse returns 4, or CLOVE_E_INCOMPLETE if len < 4.
 */
int link_u32_parse(const uint8_t *data, size_t len, uint32_t *value);
void link_u32_write(struct byte_buf *b, uint32_t value);

/*
 * Capability word helpers: capability n is bit n % 32 of word n / 32.
 * caps_test reads `words` (borrows; LE u32 words as on the wire, may be NULL
 * when num_words is 0) and returns 1 if set, 0 if not or beyond num_words.
 * caps_set works on host-order words that the caller sized.
 */
int caps_test(const uint8_t *words, uint32_t num_words, unsigned cap);
static inline void caps_set(uint32_t *words, unsigned cap)
{
    words[cap / 32] |= 1u << (cap % 32);
}

#endif
