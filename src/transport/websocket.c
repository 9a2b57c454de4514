/*
 * WebSocket (RFC 6455) for the server: spice-html5 and websockify-style
 * clients connect to the SPICE port and speak the SPICE protocol inside
 * binary frames.
 *
 * DESIGN
 * - The handshake and the frame header codec are pure functions over byte
 *   arrays (fuzzed by tests/fuzz/transport). The link stage reads the
 *   request, answers it with ws_response_write() on the raw stream, and then
 *   wraps the stream with websocket_stream_create().
 * - Reads stream frame payloads straight into the caller's buffer: a data
 *   frame is never buffered whole, so the payload bound (WS_MAX_FRAME_PAYLOAD)
 *   is a sanity limit, not a memory cost. Control frames (at most 125 bytes)
 *   may arrive between the fragments of a message; pings are answered with
 *   pongs, a close is echoed and ends the stream.
 * - Writes frame up to WS_WRITE_CHUNK bytes of the caller's data as one
 *   unmasked binary frame in `out`. If the socket takes only part of the
 *   frame, the frame stays "in flight" and the write returns CLOVE_E_AGAIN;
 *   the caller's retry (same leading bytes, stream.h) finishes it and is then
 *   told the whole payload went out. Control answers wait in `ctrl` and only
 *   go out between frames.
 *
 * Invariants: `rx_pos <= rx_len <= sizeof(rx)`; `payload_left` is the unread
 * payload of the current data frame; `out_sent <= out.len`.
 *
 * Thread: like any stream, one thread at a time.
 */
#include "transport/websocket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "common/bytes.h"
#include "common/error.h"

#define WS_GUID            "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_WRITE_CHUNK     (64u * 1024)
#define WS_RX_SIZE         (16u * 1024)
#define WS_MAX_CTRL_QUEUED (16u * 1024)

/* ---- handshake ---------------------------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool token_equal(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

/* Whether a comma-separated header value lists `token` (case-insensitive). */
static bool value_has_token(const char *v, size_t vlen, const char *token)
{
    size_t i = 0;
    while (i < vlen) {
        size_t start = i;
        while (i < vlen && v[i] != ',') {
            i++;
        }
        size_t end = i;
        while (start < end && is_space(v[start])) {
            start++;
        }
        while (end > start && is_space(v[end - 1])) {
            end--;
        }
        if (token_equal(v + start, end - start, token)) {
            return true;
        }
        i++; /* past the comma */
    }
    return false;
}

static bool is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

static const uint8_t *find_blank_line(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i + 4 <= len; i++) {
        if (memcmp(data + i, "\r\n\r\n", 4) == 0) {
            return data + i;
        }
    }
    return NULL;
}

int ws_request_parse(const uint8_t *data, size_t len, struct ws_request *req, const char **err_desc)
{
    memset(req, 0, sizeof(*req));
    const uint8_t *blank =
            find_blank_line(data, len < WS_MAX_REQUEST_SIZE ? len : WS_MAX_REQUEST_SIZE);
    if (!blank) {
        if (len >= WS_MAX_REQUEST_SIZE) {
            *err_desc = "upgrade request too long";
            return CLOVE_E_RANGE;
        }
        if (len >= 4 && memcmp(data, "GET ", 4) != 0) {
            *err_desc = "not a GET request";
            return CLOVE_E_INVALID;
        }
        return CLOVE_E_INCOMPLETE;
    }
    const char *p = (const char *)data;
    const char *end = (const char *)blank + 2; /* each line ends with CRLF */
    if (memchr(p, '\0', (size_t)(end - p)) != NULL) {
        *err_desc = "NUL byte in the request";
        return CLOVE_E_INVALID;
    }

    /* Request line: GET <target> HTTP/1.1 */
    const char *eol = memchr(p, '\r', (size_t)(end - p));
    if (!eol || eol[1] != '\n' || eol - p < 14 || memcmp(p, "GET ", 4) != 0 ||
        memcmp(eol - 9, " HTTP/1.", 8) != 0 || eol[-1] < '1' || eol[-1] > '9') {
        *err_desc = "bad request line";
        return CLOVE_E_INVALID;
    }

    bool upgrade = false, connection = false, version = false, key = false;
    for (p = eol + 2; p < end; p = eol + 2) {
        eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol || eol[1] != '\n') {
            *err_desc = "bare CR in a header";
            return CLOVE_E_INVALID;
        }
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p) {
            *err_desc = "header line without a name";
            return CLOVE_E_INVALID;
        }
        size_t name_len = (size_t)(colon - p);
        const char *v = colon + 1;
        const char *vend = eol;
        while (v < vend && is_space(*v)) {
            v++;
        }
        while (vend > v && is_space(vend[-1])) {
            vend--;
        }
        size_t vlen = (size_t)(vend - v);
        if (token_equal(p, name_len, "Upgrade")) {
            upgrade = upgrade || value_has_token(v, vlen, "websocket");
        } else if (token_equal(p, name_len, "Connection")) {
            connection = connection || value_has_token(v, vlen, "upgrade");
        } else if (token_equal(p, name_len, "Sec-WebSocket-Version")) {
            version = token_equal(v, vlen, "13");
        } else if (token_equal(p, name_len, "Sec-WebSocket-Protocol")) {
            req->binary_protocol = req->binary_protocol || value_has_token(v, vlen, "binary");
        } else if (token_equal(p, name_len, "Sec-WebSocket-Key")) {
            /* 16 random bytes in base64: 22 characters and "==". */
            if (vlen != 24 || v[22] != '=' || v[23] != '=') {
                *err_desc = "bad Sec-WebSocket-Key";
                return CLOVE_E_INVALID;
            }
            for (size_t i = 0; i < 22; i++) {
                if (!is_base64_char(v[i])) {
                    *err_desc = "bad Sec-WebSocket-Key";
                    return CLOVE_E_INVALID;
                }
            }
            memcpy(req->key, v, vlen);
            req->key[vlen] = '\0';
            key = true;
        }
    }
    if (!upgrade || !connection) {
        *err_desc = "not a websocket upgrade";
        return CLOVE_E_INVALID;
    }
    if (!version) {
        *err_desc = "missing or unsupported Sec-WebSocket-Version";
        return CLOVE_E_INVALID;
    }
    if (!key) {
        *err_desc = "missing Sec-WebSocket-Key";
        return CLOVE_E_INVALID;
    }
    return (int)(blank + 4 - data);
}

int ws_accept_key(const char *key, char out[29])
{
    size_t klen = strlen(key);
    char joined[64 + sizeof(WS_GUID)];
    if (klen > 64) {
        return CLOVE_E_INVALID;
    }
    memcpy(joined, key, klen);
    memcpy(joined + klen, WS_GUID, sizeof(WS_GUID) - 1);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (!EVP_Digest(joined, klen + sizeof(WS_GUID) - 1, digest, &dlen, EVP_sha1(), NULL) ||
        dlen != 20) {
        return CLOVE_E_INVALID;
    }
    /* 20 bytes -> 28 base64 characters plus the NUL EVP_EncodeBlock adds. */
    EVP_EncodeBlock((unsigned char *)out, digest, 20);
    return 0;
}

int ws_response_write(const struct ws_request *req, char *out, size_t cap)
{
    char accept[29];
    if (ws_accept_key(req->key, accept) < 0) {
        return CLOVE_E_INVALID;
    }
    int n = snprintf(out, cap,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n"
                     "%s"
                     "\r\n",
                     accept, req->binary_protocol ? "Sec-WebSocket-Protocol: binary\r\n" : "");
    if (n < 0 || (size_t)n >= cap) {
        return CLOVE_E_RANGE;
    }
    return n;
}

const char *ws_bad_request_response(void)
{
    return "HTTP/1.1 400 Bad Request\r\n"
           "Connection: close\r\n"
           "Content-Length: 0\r\n"
           "\r\n";
}

/* ---- frames --------------------------------------------------------------- */

int ws_frame_header_parse(const uint8_t *data, size_t len, bool require_mask,
                          struct ws_frame_header *h, uint16_t *close_code, const char **err_desc)
{
    *close_code = WS_CLOSE_PROTOCOL_ERROR;
    if (len < 2) {
        return CLOVE_E_INCOMPLETE;
    }
    h->fin = (data[0] & 0x80) != 0;
    h->opcode = data[0] & 0x0f;
    h->masked = (data[1] & 0x80) != 0;
    uint64_t plen = data[1] & 0x7f;
    if (data[0] & 0x70) {
        *err_desc = "reserved bits set (no extension was negotiated)";
        return CLOVE_E_INVALID;
    }
    switch (h->opcode) {
    case WS_OP_CONTINUATION:
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        break;
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        if (!h->fin || plen > WS_MAX_CONTROL_PAYLOAD) {
            *err_desc = "fragmented or long control frame";
            return CLOVE_E_INVALID;
        }
        break;
    default:
        *err_desc = "unknown opcode";
        return CLOVE_E_INVALID;
    }
    if (require_mask && !h->masked) {
        *err_desc = "unmasked client frame";
        return CLOVE_E_INVALID;
    }
    size_t pos = 2;
    if (plen == 126) {
        if (len < 4) {
            return CLOVE_E_INCOMPLETE;
        }
        plen = ((uint64_t)data[2] << 8) | data[3];
        pos = 4;
    } else if (plen == 127) {
        if (len < 10) {
            return CLOVE_E_INCOMPLETE;
        }
        plen = 0;
        for (int i = 0; i < 8; i++) {
            plen = (plen << 8) | data[2 + i];
        }
        if (plen >> 63) {
            *err_desc = "payload length with the high bit set";
            return CLOVE_E_INVALID;
        }
        pos = 10;
    }
    if (plen > WS_MAX_FRAME_PAYLOAD) {
        *close_code = WS_CLOSE_TOO_BIG;
        *err_desc = "frame payload too large";
        return CLOVE_E_RANGE;
    }
    h->payload_len = plen;
    if (h->masked) {
        if (len < pos + 4) {
            return CLOVE_E_INCOMPLETE;
        }
        memcpy(h->mask, data + pos, 4);
        pos += 4;
    } else {
        memset(h->mask, 0, 4);
    }
    return (int)pos;
}

size_t ws_frame_header_write(uint8_t out[WS_MAX_HEADER_SIZE], bool fin, uint8_t opcode,
                             uint64_t payload_len)
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (payload_len < 126) {
        out[1] = (uint8_t)payload_len;
        return 2;
    }
    if (payload_len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(payload_len >> 8);
        out[3] = (uint8_t)payload_len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++) {
        out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
    }
    return 10;
}

void ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
    for (size_t i = 0; i < len; i++) {
        data[i] ^= mask[(offset + i) & 3];
    }
}

/* ---- the stream ------------------------------------------------------------ */

struct ws_stream {
    struct stream base;
    struct stream *inner;

    uint8_t rx[WS_RX_SIZE];
    size_t rx_pos, rx_len;
    uint64_t payload_left; /* of the current data frame */
    uint64_t payload_offset;
    uint8_t mask[4];
    bool in_message; /* a fragmented message awaits continuation frames */
    bool closed;     /* close sent or received: reads return CLOSED */
    int error;       /* latched error of a failed read, 0 if none */

    struct byte_buf ctrl; /* control frames waiting to go out */
    size_t ctrl_sent;
    struct byte_buf out; /* the data frame in flight */
    size_t out_sent;
    size_t out_payload;
    bool out_busy;
};

static struct ws_stream *ws_stream_from_stream(struct stream *s)
{
    return (struct ws_stream *)s;
}

static int ws_flush_buf(struct ws_stream *ws, struct byte_buf *b, size_t *sent)
{
    while (*sent < b->len) {
        ssize_t n = stream_write(ws->inner, b->data + *sent, b->len - *sent);
        if (n < 0) {
            return (int)n;
        }
        *sent += (size_t)n;
    }
    buf_reset(b);
    *sent = 0;
    return 0;
}

/* Control frames go out only between data frames. */
static int ws_flush_ctrl(struct ws_stream *ws)
{
    if (ws->out_busy || ws->ctrl.len == 0) {
        return 0;
    }
    return ws_flush_buf(ws, &ws->ctrl, &ws->ctrl_sent);
}

static void ws_queue_ctrl(struct ws_stream *ws, uint8_t opcode, const uint8_t *payload, size_t len)
{
    if (ws->ctrl.len > WS_MAX_CTRL_QUEUED) {
        /* A peer that pings without reading the pongs. */
        ws->error = CLOVE_E_RANGE;
        return;
    }
    uint8_t hdr[WS_MAX_HEADER_SIZE];
    size_t hlen = ws_frame_header_write(hdr, true, opcode, len);
    buf_put(&ws->ctrl, hdr, hlen);
    if (len > 0) {
        buf_put(&ws->ctrl, payload, len);
    }
    (void)ws_flush_ctrl(ws);
}

static void ws_send_close(struct ws_stream *ws, uint16_t code)
{
    if (ws->closed) {
        return;
    }
    uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    ws->closed = true;
    ws_queue_ctrl(ws, WS_OP_CLOSE, payload, sizeof(payload));
}

/* Fills rx from the inner stream; returns bytes added or a negative code. */
static ssize_t ws_fill(struct ws_stream *ws)
{
    if (ws->rx_pos > 0) {
        memmove(ws->rx, ws->rx + ws->rx_pos, ws->rx_len - ws->rx_pos);
        ws->rx_len -= ws->rx_pos;
        ws->rx_pos = 0;
    }
    if (ws->rx_len == sizeof(ws->rx)) {
        return CLOVE_E_RANGE; /* cannot happen: headers and control frames fit */
    }
    return stream_read(ws->inner, ws->rx + ws->rx_len, sizeof(ws->rx) - ws->rx_len);
}

static ssize_t ws_fail(struct ws_stream *ws, uint16_t code)
{
    ws_send_close(ws, code);
    ws->error = CLOVE_E_INVALID;
    return CLOVE_E_INVALID;
}

/* Handles a complete control frame whose payload starts at rx_pos. */
static ssize_t ws_on_control(struct ws_stream *ws, const struct ws_frame_header *h)
{
    uint8_t payload[WS_MAX_CONTROL_PAYLOAD];
    size_t len = (size_t)h->payload_len;
    memcpy(payload, ws->rx + ws->rx_pos, len);
    ws->rx_pos += len;
    ws_unmask(payload, len, h->mask, 0);
    if (h->opcode == WS_OP_PING) {
        ws_queue_ctrl(ws, WS_OP_PONG, payload, len);
        return 0;
    }
    if (h->opcode == WS_OP_CLOSE) {
        if (len == 1) {
            return ws_fail(ws, WS_CLOSE_PROTOCOL_ERROR);
        }
        /* Echo the status code (RFC 6455 5.5.1), then the stream is done. */
        if (!ws->closed) {
            ws->closed = true;
            ws_queue_ctrl(ws, WS_OP_CLOSE, payload, len >= 2 ? 2 : 0);
        }
        return CLOVE_E_CLOSED;
    }
    return 0; /* an unsolicited pong */
}

static ssize_t ws_read(struct stream *s, void *buf, size_t len)
{
    struct ws_stream *ws = ws_stream_from_stream(s);
    if (ws->error) {
        return ws->error;
    }
    if (ws->closed) {
        return CLOVE_E_CLOSED;
    }
    if (len == 0) {
        return 0;
    }
    (void)ws_flush_ctrl(ws); /* a pong that found the socket full earlier */
    for (;;) {
        size_t avail = ws->rx_len - ws->rx_pos;
        if (ws->payload_left > 0 && avail > 0) {
            size_t n = avail < len ? avail : len;
            if (n > ws->payload_left) {
                n = (size_t)ws->payload_left;
            }
            memcpy(buf, ws->rx + ws->rx_pos, n);
            ws_unmask(buf, n, ws->mask, ws->payload_offset);
            ws->rx_pos += n;
            ws->payload_left -= n;
            ws->payload_offset += n;
            return (ssize_t)n;
        }
        if (ws->payload_left == 0 && avail > 0) {
            struct ws_frame_header h;
            uint16_t code;
            const char *why;
            int hl = ws_frame_header_parse(ws->rx + ws->rx_pos, avail, true, &h, &code, &why);
            if (hl >= 0 && h.opcode >= WS_OP_CLOSE && avail < (size_t)hl + h.payload_len) {
                hl = CLOVE_E_INCOMPLETE; /* wait for the whole control frame */
            }
            if (hl >= 0) {
                ws->rx_pos += (size_t)hl;
                if (h.opcode >= WS_OP_CLOSE) {
                    ssize_t rc = ws_on_control(ws, &h);
                    if (rc < 0) {
                        return rc;
                    }
                    if (ws->error) {
                        return ws->error;
                    }
                    continue;
                }
                if (h.opcode == WS_OP_TEXT) {
                    return ws_fail(ws, WS_CLOSE_UNSUPPORTED_DATA);
                }
                if ((h.opcode == WS_OP_CONTINUATION) != ws->in_message) {
                    return ws_fail(ws, WS_CLOSE_PROTOCOL_ERROR);
                }
                ws->in_message = !h.fin;
                ws->payload_left = h.payload_len;
                ws->payload_offset = 0;
                memcpy(ws->mask, h.mask, 4);
                continue;
            }
            if (hl != CLOVE_E_INCOMPLETE) {
                return ws_fail(ws, code);
            }
        }
        ssize_t n = ws_fill(ws);
        if (n < 0) {
            return n;
        }
        ws->rx_len += (size_t)n;
    }
}

static ssize_t ws_writev(struct stream *s, const struct iovec *iov, int iovcnt)
{
    struct ws_stream *ws = ws_stream_from_stream(s);
    if (!ws->out_busy) {
        int rc = ws_flush_ctrl(ws);
        if (rc < 0) {
            return rc;
        }
        size_t total = 0;
        for (int i = 0; i < iovcnt && total < WS_WRITE_CHUNK; i++) {
            total += iov[i].iov_len;
        }
        if (total > WS_WRITE_CHUNK) {
            total = WS_WRITE_CHUNK;
        }
        if (total == 0) {
            return 0;
        }
        uint8_t hdr[WS_MAX_HEADER_SIZE];
        size_t hlen = ws_frame_header_write(hdr, true, WS_OP_BINARY, total);
        buf_reset(&ws->out);
        uint8_t *p = buf_append(&ws->out, hlen + total);
        if (!p) {
            return CLOVE_E_NOMEM;
        }
        memcpy(p, hdr, hlen);
        p += hlen;
        size_t left = total;
        for (int i = 0; i < iovcnt && left > 0; i++) {
            size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
            memcpy(p, iov[i].iov_base, n);
            p += n;
            left -= n;
        }
        ws->out_sent = 0;
        ws->out_payload = total;
        ws->out_busy = true;
    }
    int rc = ws_flush_buf(ws, &ws->out, &ws->out_sent);
    if (rc < 0) {
        return rc;
    }
    ws->out_busy = false;
    (void)ws_flush_ctrl(ws);
    return (ssize_t)ws->out_payload;
}

static size_t ws_pending(struct stream *s)
{
    struct ws_stream *ws = ws_stream_from_stream(s);
    if (ws->error || ws->closed) {
        return 0;
    }
    size_t avail = ws->rx_len - ws->rx_pos;
    /* Buffered bytes may hold only part of a header, which a read would not
     * return; reporting them anyway makes the caller read once more, which
     * then answers CLOVE_E_AGAIN. */
    return avail + stream_pending(ws->inner);
}

static void ws_destroy(struct stream *s)
{
    struct ws_stream *ws = ws_stream_from_stream(s);
    /* Best effort: tell a browser this was a normal close. */
    if (!ws->closed && !ws->out_busy && ws->ctrl.len == 0) {
        ws_send_close(ws, WS_CLOSE_NORMAL);
    }
    stream_destroy(ws->inner);
    buf_finish(&ws->ctrl);
    buf_finish(&ws->out);
    free(ws);
}

static const struct stream_impl ws_stream_impl = {
        .read = ws_read,
        .writev = ws_writev,
        .destroy = ws_destroy,
        .pending = ws_pending,
};

struct stream *websocket_stream_create(struct stream *inner, const uint8_t *prefix,
                                       size_t prefix_len)
{
    struct ws_stream *ws = calloc(1, sizeof(*ws));
    if (!ws || prefix_len > sizeof(ws->rx)) {
        free(ws);
        stream_destroy(inner);
        return NULL;
    }
    ws->base.impl = &ws_stream_impl;
    ws->base.fd = inner->fd;
    ws->base.flags = inner->flags | STREAM_FLAG_WEBSOCKET;
    ws->inner = inner;
    buf_init(&ws->ctrl);
    buf_init(&ws->out);
    if (prefix_len > 0) {
        memcpy(ws->rx, prefix, prefix_len);
        ws->rx_len = prefix_len;
    }
    return &ws->base;
}
