/*
 * Fuzz target for the vdagent stream helpers (src/server/agent.c): the two
 * byte streams the server parses on the agent's behalf.
 *
 * Input: byte 0 picks the direction and the policy bits, byte 1 the read
 * size, the rest is the stream.
 *   - even byte 0: the guest's VDIChunk stream, read in pieces of at most
 *     (byte 1 + 1) bytes through agent_reader, each client-port piece
 *     classified by agent_filter and, when it starts a message, adjusted by
 *     agent_adjust_capabilities (as char_device.c does);
 *   - odd byte 0: a client's AGENT_DATA messages, each one u16 length then
 *     that many bytes, classified by agent_filter, with MONITORS_CONFIG
 *     pieces reassembled by agent_monitors.
 * A protocol error re-initialises the filter and goes on, so one input
 * explores what follows an error too.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/bytes.h"
#include "server/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_guest(const uint8_t *data, size_t size, size_t step, bool copy_paste,
                       bool file_xfer)
{
    static struct agent_reader reader;
    struct agent_filter filter;
    agent_reader_init(&reader);
    agent_filter_init(&filter, copy_paste, file_xfer, true, false);
    size_t pos = 0;
    while (pos < size) {
        size_t want = 0;
        uint8_t *dst = agent_reader_next(&reader, &want);
        if (want == 0) {
            __builtin_trap(); /* the reader must always ask for something */
        }
        size_t n = want < step ? want : step;
        if (n > size - pos) {
            n = size - pos;
        }
        memcpy(dst, data + pos, n);
        pos += n;
        struct agent_piece piece;
        if (agent_reader_advance(&reader, n, &piece) != 1) {
            continue;
        }
        if (piece.len == 0 || piece.len > AGENT_MAX_PIECE_SIZE) {
            __builtin_trap();
        }
        if (piece.port != VDP_CLIENT_PORT) {
            continue;
        }
        enum agent_filter_result r = agent_filter_process(&filter, piece.data, piece.len, NULL);
        if (r == AGENT_FILTER_PROTO_ERROR) {
            agent_filter_init(&filter, copy_paste, file_xfer, true, false);
        } else if (r == AGENT_FILTER_OK && filter.piece_starts_message) {
            agent_adjust_capabilities(piece.data, piece.len, copy_paste, file_xfer);
        }
    }
}

static void fuzz_client(const uint8_t *data, size_t size, bool monitors_to_server)
{
    struct agent_filter filter;
    struct agent_monitors monitors;
    agent_filter_init(&filter, true, true, monitors_to_server, false);
    agent_monitors_init(&monitors);
    struct byte_reader r;
    reader_init(&r, data, size);
    while (reader_remaining(&r) >= 2) {
        uint16_t len = read_u16(&r);
        size_t left = reader_remaining(&r);
        const uint8_t *msg = read_bytes(&r, len < left ? len : left);
        size_t n = len < left ? len : left;
        switch (agent_filter_process(&filter, msg, n, NULL)) {
        case AGENT_FILTER_PROTO_ERROR:
            agent_filter_init(&filter, true, true, monitors_to_server, false);
            break;
        case AGENT_FILTER_MONITORS_CONFIG:
            if (agent_monitors_push(&monitors, msg, n, NULL) == 1) {
                const VDAgentMonitorsConfig *c = monitors.config;
                volatile uint32_t sum = 0;
                for (uint32_t i = 0; i < c->num_of_monitors; i++) {
                    sum += c->monitors[i].width + c->monitors[i].height;
                }
                (void)sum;
            }
            break;
        default:
            break;
        }
    }
    agent_monitors_finish(&monitors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    uint8_t mode = data[0];
    size_t step = (size_t)data[1] * 16 + 1;
    if (mode & 1) {
        fuzz_client(data + 2, size - 2, (mode & 2) != 0);
    } else {
        fuzz_guest(data + 2, size - 2, step, (mode & 2) != 0, (mode & 4) != 0);
    }
    return 0;
}
