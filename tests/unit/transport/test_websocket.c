/*
 * Tests src/transport/websocket.c: the upgrade request parser and answer
 * (RFC 6455 4.2), the frame header codec, and the stream over a socketpair:
 * masked client frames, fragmentation with control frames in between, ping ->
 * pong, close echo, protocol errors closing with 1002, and writes that the
 * socket takes only in part.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include "check.h"
#include "common/error.h"
#include "transport/stream.h"
#include "transport/websocket.h"

static const char good_request[] = "GET /spice HTTP/1.1\r\n"
                                   "Host: 127.0.0.1:5900\r\n"
                                   "Upgrade: websocket\r\n"
                                   "Connection: keep-alive, Upgrade\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                   "Sec-WebSocket-Protocol: chat, binary\r\n"
                                   "Sec-WebSocket-Version: 13\r\n"
                                   "\r\n";

static void test_accept_key(void)
{
    char out[29];
    CHECK_EQ(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    CHECK_STR_EQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="); /* RFC 6455 1.3 */
}

static void test_request(void)
{
    struct ws_request req;
    const char *why = NULL;
    size_t len = strlen(good_request);
    CHECK_EQ(ws_request_parse((const uint8_t *)good_request, len, &req, &why), (int)len);
    CHECK_STR_EQ(req.key, "dGhlIHNhbXBsZSBub25jZQ==");
    CHECK(req.binary_protocol);
    /* Anything short of the blank line is incomplete. */
    struct ws_request partial;
    for (size_t i = 0; i < len; i++) {
        CHECK_EQ(ws_request_parse((const uint8_t *)good_request, i, &partial, &why),
                 CLOVE_E_INCOMPLETE);
    }
    char answer[512];
    int n = ws_response_write(&req, answer, sizeof(answer));
    CHECK(n > 0);
    CHECK(strstr(answer, "HTTP/1.1 101 ") == answer);
    CHECK(strstr(answer, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != NULL);
    CHECK(strstr(answer, "Sec-WebSocket-Protocol: binary\r\n") != NULL);
    CHECK(n >= 4 && memcmp(answer + n - 4, "\r\n\r\n", 4) == 0);

    static const char *bad[] = {
            "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n", /* no key */
            "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: short==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            "GET / HTTP/1.1\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            "GET / HTTP/1.1\r\nUpgrade websocket\r\n\r\n",
            "GET /\r\n\r\n",
            "POST / HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        int rc = ws_request_parse((const uint8_t *)bad[i], strlen(bad[i]), &req, &why);
        CHECK(rc < 0 && rc != CLOVE_E_INCOMPLETE);
        CHECK(why != NULL);
    }
    /* Endless headers are cut off. */
    uint8_t *big = malloc(WS_MAX_REQUEST_SIZE);
    memset(big, 'a', WS_MAX_REQUEST_SIZE);
    memcpy(big, "GET ", 4);
    CHECK_EQ(ws_request_parse(big, WS_MAX_REQUEST_SIZE, &req, &why), CLOVE_E_RANGE);
    free(big);
}

static void test_frame_header(void)
{
    struct ws_frame_header h;
    uint16_t code;
    const char *why;
    uint8_t hdr[WS_MAX_HEADER_SIZE + 4];
    const uint64_t sizes[] = {0, 125, 126, 65535, 65536, WS_MAX_FRAME_PAYLOAD};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = ws_frame_header_write(hdr, true, WS_OP_BINARY, sizes[i]);
        CHECK_EQ(n, sizes[i] < 126 ? 2u : sizes[i] < 65536 ? 4u : 10u);
        /* As a server frame it parses; as a client frame it lacks a mask. */
        CHECK_EQ(ws_frame_header_parse(hdr, n, false, &h, &code, &why), (int)n);
        CHECK_EQ(h.payload_len, sizes[i]);
        CHECK(h.fin);
        CHECK_EQ(h.opcode, WS_OP_BINARY);
        CHECK_EQ(ws_frame_header_parse(hdr, n, true, &h, &code, &why), CLOVE_E_INVALID);
        CHECK_EQ(code, WS_CLOSE_PROTOCOL_ERROR);
        hdr[1] |= 0x80;
        memcpy(hdr + n, "\x01\x02\x03\x04", 4);
        for (size_t cut = 0; cut < n + 4; cut++) {
            CHECK_EQ(ws_frame_header_parse(hdr, cut, true, &h, &code, &why), CLOVE_E_INCOMPLETE);
        }
        CHECK_EQ(ws_frame_header_parse(hdr, n + 4, true, &h, &code, &why), (int)n + 4);
        CHECK_MEM_EQ(h.mask, "\x01\x02\x03\x04", 4);
    }
    ws_frame_header_write(hdr, true, WS_OP_BINARY, WS_MAX_FRAME_PAYLOAD + 1);
    CHECK_EQ(ws_frame_header_parse(hdr, 10, false, &h, &code, &why), CLOVE_E_RANGE);
    CHECK_EQ(code, WS_CLOSE_TOO_BIG);
    static const uint8_t rsv[] = {0xc2, 0x80};
    CHECK_EQ(ws_frame_header_parse(rsv, 2, false, &h, &code, &why), CLOVE_E_INVALID);
    static const uint8_t long_ping[] = {0x89, 0xfe, 0, 126};
    CHECK_EQ(ws_frame_header_parse(long_ping, 4, true, &h, &code, &why), CLOVE_E_INVALID);
    static const uint8_t split_ping[] = {0x09, 0x80};
    CHECK_EQ(ws_frame_header_parse(split_ping, 2, true, &h, &code, &why), CLOVE_E_INVALID);
    static const uint8_t opcode3[] = {0x83, 0x80};
    CHECK_EQ(ws_frame_header_parse(opcode3, 2, true, &h, &code, &why), CLOVE_E_INVALID);
    static const uint8_t high_bit[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1};
    CHECK_EQ(ws_frame_header_parse(high_bit, 10, true, &h, &code, &why), CLOVE_E_INVALID);
}

/* ---- the stream over a socketpair ---- */

struct pair {
    struct stream *ws; /* server side */
    int peer;          /* the "browser" */
};

static void pair_open(struct pair *p)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p->ws = websocket_stream_create(tcp_stream_create(sv[0]), NULL, 0);
    CHECK(p->ws != NULL);
    p->peer = sv[1];
}

static void pair_close(struct pair *p)
{
    stream_destroy(p->ws);
    close(p->peer);
}

/* Sends one masked client frame. */
static void send_frame(int fd, bool fin, uint8_t opcode, const void *payload, size_t len)
{
    uint8_t buf[256 + WS_MAX_HEADER_SIZE + 4];
    size_t n = ws_frame_header_write(buf, fin, opcode, len);
    buf[1] |= 0x80;
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    memcpy(buf + n, mask, 4);
    n += 4;
    memcpy(buf + n, payload, len);
    ws_unmask(buf + n, len, mask, 0);
    CHECK_EQ(write(fd, buf, n + len), (ssize_t)(n + len));
}

/* Reads one server frame (unmasked) from the peer; returns the payload size. */
static int recv_frame(int fd, uint8_t *opcode, uint8_t *payload, size_t cap)
{
    uint8_t hdr[WS_MAX_HEADER_SIZE];
    if (read(fd, hdr, 2) != 2) {
        return -1;
    }
    size_t extra = (hdr[1] & 0x7f) == 126 ? 2 : (hdr[1] & 0x7f) == 127 ? 8 : 0;
    if (extra && read(fd, hdr + 2, extra) != (ssize_t)extra) {
        return -1;
    }
    struct ws_frame_header h;
    uint16_t code;
    const char *why;
    if (ws_frame_header_parse(hdr, 2 + extra, false, &h, &code, &why) != (int)(2 + extra) ||
        h.masked || h.payload_len > cap) {
        return -1;
    }
    size_t got = 0;
    while (got < h.payload_len) {
        ssize_t n = read(fd, payload + got, (size_t)h.payload_len - got);
        if (n <= 0) {
            return -1;
        }
        got += (size_t)n;
    }
    *opcode = h.opcode;
    return (int)got;
}

/* Reads exactly `len` bytes from the websocket stream. */
static ssize_t ws_read_all(struct stream *s, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = stream_read(s, buf + got, len - got);
        if (n < 0) {
            return got > 0 ? (ssize_t)got : n;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static void test_stream_fragments_and_ping(void)
{
    struct pair p;
    pair_open(&p);
    uint8_t buf[64];
    CHECK_EQ(stream_read(p.ws, buf, sizeof(buf)), CLOVE_E_AGAIN);
    send_frame(p.peer, false, WS_OP_BINARY, "REDQ", 4);
    send_frame(p.peer, true, WS_OP_PING, "hi", 2);
    send_frame(p.peer, false, WS_OP_CONTINUATION, "", 0);
    send_frame(p.peer, true, WS_OP_CONTINUATION, "0123456789", 10);
    CHECK_EQ(ws_read_all(p.ws, buf, 14), 14);
    CHECK_MEM_EQ(buf, "REDQ0123456789", 14);
    CHECK_EQ(stream_read(p.ws, buf, sizeof(buf)), CLOVE_E_AGAIN);
    uint8_t op = 0, payload[256];
    CHECK_EQ(recv_frame(p.peer, &op, payload, sizeof(payload)), 2);
    CHECK_EQ(op, WS_OP_PONG);
    CHECK_MEM_EQ(payload, "hi", 2);

    /* A server write is one unmasked binary frame. */
    CHECK_EQ(stream_write(p.ws, "hello", 5), 5);
    CHECK_EQ(recv_frame(p.peer, &op, payload, sizeof(payload)), 5);
    CHECK_EQ(op, WS_OP_BINARY);
    CHECK_MEM_EQ(payload, "hello", 5);

    /* Close is echoed with the same status; then reads report the close. */
    send_frame(p.peer, true, WS_OP_CLOSE, "\x03\xe8", 2);
    CHECK_EQ(stream_read(p.ws, buf, sizeof(buf)), CLOVE_E_CLOSED);
    CHECK_EQ(recv_frame(p.peer, &op, payload, sizeof(payload)), 2);
    CHECK_EQ(op, WS_OP_CLOSE);
    CHECK_MEM_EQ(payload, "\x03\xe8", 2);
    CHECK_EQ(stream_read(p.ws, buf, sizeof(buf)), CLOVE_E_CLOSED);
    pair_close(&p);
}

static void expect_close_code(int fd, uint16_t code)
{
    uint8_t op = 0, payload[256];
    CHECK_EQ(recv_frame(fd, &op, payload, sizeof(payload)), 2);
    CHECK_EQ(op, WS_OP_CLOSE);
    CHECK_EQ((payload[0] << 8) | payload[1], code);
}

static void test_stream_protocol_errors(void)
{
    uint8_t buf[64];
    struct pair p;

    pair_open(&p); /* unmasked client frame */
    CHECK_EQ(write(p.peer, "\x82\x02hi", 4), 4);
    CHECK_EQ(stream_read(p.ws, buf, sizeof(buf)), CLOVE_E_INVALID);
    expect_close_code(p.peer, WS_CLOSE_PROTOCOL_ERROR);
    CHECK_EQ(stream_read(p.ws, buf, sizeof(buf)), CLOVE_E_INVALID);
    pair_close(&p);

    pair_open(&p); /* continuation without a message */
    send_frame(p.peer, true, WS_OP_CONTINUATION, "x", 1);
    CHECK_EQ(stream_read(p.ws, buf, sizeof(buf)), CLOVE_E_INVALID);
    expect_close_code(p.peer, WS_CLOSE_PROTOCOL_ERROR);
    pair_close(&p);

    pair_open(&p); /* a new message inside a fragmented one */
    send_frame(p.peer, false, WS_OP_BINARY, "a", 1);
    send_frame(p.peer, true, WS_OP_BINARY, "b", 1);
    CHECK_EQ(stream_read(p.ws, buf, sizeof(buf)), 1);
    CHECK_EQ(stream_read(p.ws, buf, sizeof(buf)), CLOVE_E_INVALID);
    expect_close_code(p.peer, WS_CLOSE_PROTOCOL_ERROR);
    pair_close(&p);

    pair_open(&p); /* text frames */
    send_frame(p.peer, true, WS_OP_TEXT, "a", 1);
    CHECK_EQ(stream_read(p.ws, buf, sizeof(buf)), CLOVE_E_INVALID);
    expect_close_code(p.peer, WS_CLOSE_UNSUPPORTED_DATA);
    pair_close(&p);

    pair_open(&p); /* oversize */
    CHECK_EQ(write(p.peer, "\x82\xff\x00\x00\x00\x00\x10\x00\x00\x00", 10), 10);
    CHECK_EQ(stream_read(p.ws, buf, sizeof(buf)), CLOVE_E_INVALID);
    expect_close_code(p.peer, WS_CLOSE_TOO_BIG);
    pair_close(&p);

    pair_open(&p); /* the peer vanishes mid-frame */
    CHECK_EQ(write(p.peer, "\x82\x85", 2), 2);
    shutdown(p.peer, SHUT_WR);
    CHECK_EQ(stream_read(p.ws, buf, sizeof(buf)), CLOVE_E_CLOSED);
    pair_close(&p);
}

/* The socket takes part of a frame: the write says AGAIN until the retry
 * finishes it, and the peer sees every byte once, in order. */
static void test_stream_partial_write(void)
{
    struct pair p;
    pair_open(&p);
    size_t total = 1u << 20;
    uint8_t *data = malloc(total);
    uint8_t *wire = malloc(total + total / 1024 + 64);
    uint8_t *got = malloc(total);
    for (size_t i = 0; i < total; i++) {
        data[i] = (uint8_t)(i * 7 + (i >> 12));
    }
    int flags = fcntl(p.peer, F_GETFL);
    fcntl(p.peer, F_SETFL, flags | O_NONBLOCK);
    size_t sent = 0, wire_len = 0, again = 0;
    for (int rounds = 0; rounds < 100000; rounds++) {
        if (sent < total) {
            ssize_t n = stream_write(p.ws, data + sent, total - sent);
            if (n == CLOVE_E_AGAIN) {
                again++;
            } else {
                CHECK(n > 0);
                sent += (size_t)n;
            }
        }
        /* The "browser" reads slowly, so the socket stays full. */
        ssize_t n = read(p.peer, wire + wire_len, 1000);
        if (n > 0) {
            wire_len += (size_t)n;
        } else if (sent == total) {
            break;
        }
    }
    CHECK_EQ(sent, total);
    CHECK(again > 0);
    size_t pos = 0, received = 0;
    while (pos < wire_len) {
        struct ws_frame_header h;
        uint16_t code;
        const char *why;
        int hl = ws_frame_header_parse(wire + pos, wire_len - pos, false, &h, &code, &why);
        CHECK(hl > 0);
        CHECK_EQ(h.opcode, WS_OP_BINARY);
        pos += (size_t)hl;
        CHECK(h.payload_len <= wire_len - pos && h.payload_len <= total - received);
        memcpy(got + received, wire + pos, (size_t)h.payload_len);
        pos += (size_t)h.payload_len;
        received += (size_t)h.payload_len;
    }
    CHECK_EQ(received, total);
    CHECK(memcmp(data, got, total) == 0);
    free(data);
    free(wire);
    free(got);
    pair_close(&p);
}

int main(void)
{
    static const struct check_case cases[] = {
            CHECK_CASE(test_accept_key),
            CHECK_CASE(test_request),
            CHECK_CASE(test_frame_header),
            CHECK_CASE(test_stream_fragments_and_ping),
            CHECK_CASE(test_stream_protocol_errors),
            CHECK_CASE(test_stream_partial_write),
            {NULL, NULL},
    };
    return check_run(cases);
}
