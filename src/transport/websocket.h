/*
 * WebSocket (RFC 6455), server side: the HTTP Upgrade handshake, the frame
 * format, and a stream that carries a byte stream in binary frames on top of
 * another stream (TCP or TLS).
 *
 * The handshake and frame functions are pure (no I/O, no logging) so they can
 * be unit tested and fuzzed; websocket_stream_create() is the I/O part.
 */
#ifndef CLOVE_TRANSPORT_WEBSOCKET_H
#define CLOVE_TRANSPORT_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/stream.h"

/* The longest upgrade request we accept, headers included. */
#define WS_MAX_REQUEST_SIZE 8192
/* The longest data frame payload we accept from a client (close 1009 above). */
#define WS_MAX_FRAME_PAYLOAD (16u << 20)
/* The longest control frame payload (RFC 6455 5.5). */
#define WS_MAX_CONTROL_PAYLOAD 125
/* A frame header is at most 2 + 8 + 4 bytes. */
#define WS_MAX_HEADER_SIZE 14

enum ws_opcode {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* Close status codes (RFC 6455 7.4.1). */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_TOO_BIG = 1009,
};

struct ws_request {
    char key[64];         /* Sec-WebSocket-Key, as sent (24 base64 characters) */
    bool binary_protocol; /* the client offered the "binary" subprotocol */
};

/*
 * Parses an HTTP/1.1 upgrade request from `data` (borrowed, `len` bytes).
 * Returns the number of bytes of the request (through the blank line),
 * CLOVE_E_INCOMPLETE when the blank line has not arrived yet (and `len` is
 * below WS_MAX_REQUEST_SIZE), or CLOVE_E_INVALID / CLOVE_E_RANGE with
 * `*err_desc` set to a static reason.
 */
int ws_request_parse(const uint8_t *data, size_t len, struct ws_request *req,
                     const char **err_desc);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)), NUL-terminated
 * (28 characters). Returns 0 or CLOVE_E_INVALID. */
int ws_accept_key(const char *key, char out[29]);

/* Writes the "101 Switching Protocols" answer into `out` (cap bytes).
 * Returns its length, or CLOVE_E_RANGE when it does not fit. */
int ws_response_write(const struct ws_request *req, char *out, size_t cap);

/* The "400 Bad Request" answer to a malformed request (static string). */
const char *ws_bad_request_response(void);

struct ws_frame_header {
    bool fin;
    uint8_t opcode;
    bool masked;
    uint8_t mask[4];
    uint64_t payload_len;
};

/*
 * Parses one frame header. With `require_mask` (frames from a client) an
 * unmasked frame is an error. Returns the header size, CLOVE_E_INCOMPLETE, or
 * a negative code with `*err_desc` and `*close_code` (the status to close
 * with: 1002 for protocol errors, 1009 for oversize frames).
 */
int ws_frame_header_parse(const uint8_t *data, size_t len, bool require_mask,
                          struct ws_frame_header *h, uint16_t *close_code, const char **err_desc);

/* Writes an unmasked (server) frame header; returns its size (2, 4 or 10). */
size_t ws_frame_header_write(uint8_t out[WS_MAX_HEADER_SIZE], bool fin, uint8_t opcode,
                             uint64_t payload_len);

/* XORs `len` bytes with the mask, `offset` being the position of data[0] in
 * the frame payload. Its own inverse. */
void ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

/*
 * Wraps `inner` (takes) after a completed handshake. `prefix` (borrowed,
 * copied) holds bytes the handshake reader received past the request.
 * Reads return the payload of binary frames; pings are answered, a close is
 * echoed and then reads return CLOVE_E_CLOSED; protocol errors close with
 * the right status and return CLOVE_E_INVALID. Writes send one unmasked
 * binary frame per call (up to 64 KiB of payload): after CLOVE_E_AGAIN the
 * caller must call again with the same leading bytes (as with TLS).
 * Returns NULL on allocation failure (`inner` is destroyed).
 */
struct stream *websocket_stream_create(struct stream *inner, const uint8_t *prefix,
                                       size_t prefix_len);

#endif
