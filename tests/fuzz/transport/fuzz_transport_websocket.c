/*
 * Fuzzes src/transport/websocket.c with untrusted client bytes. The first
 * byte picks the target:
 *   0: the HTTP upgrade request parser, then the 101 answer for it;
 *   1: frame headers parsed back to back (masked, as from a client);
 *   2: the websocket stream itself, reading everything a "browser" sent over
 *      a socketpair (pings, closes, fragments and errors included).
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include "common/error.h"
#include "transport/stream.h"
#include "transport/websocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_request(const uint8_t *data, size_t size)
{
    struct ws_request req;
    const char *why = NULL;
    int n = ws_request_parse(data, size, &req, &why);
    if (n > 0) {
        char answer[512];
        (void)ws_response_write(&req, answer, sizeof(answer));
    }
}

static void fuzz_headers(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        struct ws_frame_header h;
        uint16_t code;
        const char *why;
        int n = ws_frame_header_parse(data + pos, size - pos, true, &h, &code, &why);
        if (n <= 0) {
            break;
        }
        pos += (size_t)n;
        if (h.payload_len > size - pos) {
            break;
        }
        pos += (size_t)h.payload_len;
    }
}

static void fuzz_stream(const uint8_t *data, size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        return;
    }
    struct stream *ws = websocket_stream_create(tcp_stream_create(sv[0]), NULL, 0);
    if (!ws) {
        close(sv[1]);
        return;
    }
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(sv[1], data + off, size - off);
        if (n <= 0) {
            break;
        }
        off += (size_t)n;
    }
    shutdown(sv[1], SHUT_WR);
    uint8_t buf[4096];
    for (;;) {
        ssize_t n = stream_read(ws, buf, (size_t)(1 + (off % sizeof(buf))));
        if (n < 0) {
            break;
        }
        (void)stream_write(ws, buf, (size_t)n);
    }
    stream_destroy(ws);
    close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    switch (data[0] % 3) {
    case 0:
        fuzz_request(data + 1, size - 1);
        break;
    case 1:
        fuzz_headers(data + 1, size - 1);
        break;
    default:
        fuzz_stream(data + 1, size - 1);
        break;
    }
    return 0;
}
