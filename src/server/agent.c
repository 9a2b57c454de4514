/*
 * The vdagent stream, without I/O: chunk reader, message filter, monitors
 * config reassembly and the server's own messages (see agent.h).
 *
 * DESIGN
 * Every function works on bytes the caller owns and reports problems as
 * return values, so the same code serves the char device glue
 * (char_device.c), the unit tests and the fuzz target. Sizes are checked
 * before they are used: a piece never exceeds AGENT_MAX_PIECE_SIZE, a
 * message never claims more than the bytes that follow it in the stream, and
 * a monitors config is bounded by AGENT_MAX_MONITORS_CONFIG_SIZE, as in the
 * reference server.
 *
 * INVARIANTS
 * - agent_reader: 0 < *want <= the space left in the header or in the piece
 *   buffer, so a caller that honours it never writes out of bounds.
 * - agent_filter: `remaining` only decreases within a message and a new
 *   message header is only read when it is 0.
 */
#include "server/agent.h"

#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/error.h"

/* ---- filter ------------------------------------------------------------- */

void agent_filter_init(struct agent_filter *f, bool copy_paste, bool file_xfer,
                       bool client_monitors_config, bool discard_all)
{
    memset(f, 0, sizeof(*f));
    agent_filter_config(f, copy_paste, file_xfer, client_monitors_config);
    f->discard_all = discard_all;
    f->result = AGENT_FILTER_OK;
}

void agent_filter_config(struct agent_filter *f, bool copy_paste, bool file_xfer,
                         bool client_monitors_config)
{
    f->copy_paste = copy_paste;
    f->file_xfer = file_xfer;
    f->client_monitors_config = client_monitors_config;
}

static enum agent_filter_result filter_verdict(const struct agent_filter *f, uint32_t type)
{
    if (f->discard_all) {
        return AGENT_FILTER_DISCARD;
    }
    switch (type) {
    case VD_AGENT_CLIPBOARD:
    case VD_AGENT_CLIPBOARD_GRAB:
    case VD_AGENT_CLIPBOARD_REQUEST:
    case VD_AGENT_CLIPBOARD_RELEASE:
        return f->copy_paste ? AGENT_FILTER_OK : AGENT_FILTER_DISCARD;
    case VD_AGENT_FILE_XFER_START:
    case VD_AGENT_FILE_XFER_STATUS:
    case VD_AGENT_FILE_XFER_DATA:
        return f->file_xfer ? AGENT_FILTER_OK : AGENT_FILTER_DISCARD;
    case VD_AGENT_MONITORS_CONFIG:
        return f->client_monitors_config ? AGENT_FILTER_MONITORS_CONFIG : AGENT_FILTER_OK;
    default:
        return AGENT_FILTER_OK;
    }
}

static enum agent_filter_result filter_error(const char **err_desc, const char *why)
{
    if (err_desc != NULL) {
        *err_desc = why;
    }
    return AGENT_FILTER_PROTO_ERROR;
}

enum agent_filter_result agent_filter_process(struct agent_filter *f, const uint8_t *data,
                                              size_t len, const char **err_desc)
{
    f->piece_starts_message = false;
    if (len > AGENT_MAX_PIECE_SIZE) {
        return filter_error(err_desc, "agent piece larger than 2048 bytes");
    }
    if (f->remaining > 0) {
        /* The continuation of a message: same verdict as its first piece. */
        if (len > f->remaining) {
            return filter_error(err_desc, "agent data beyond the size of its message");
        }
        f->remaining -= (uint32_t)len;
        return f->result;
    }
    if (len < AGENT_MESSAGE_HEADER_SIZE) {
        return filter_error(err_desc, "agent message header cut short");
    }
    uint32_t protocol = get_u32le(data);
    uint32_t type = get_u32le(data + 4);
    uint32_t size = get_u32le(data + 16);
    if (protocol != VD_AGENT_PROTOCOL) {
        return filter_error(err_desc, "unknown agent protocol");
    }
    size_t body = len - AGENT_MESSAGE_HEADER_SIZE;
    if (body > size) {
        return filter_error(err_desc, "agent data beyond the size of its message");
    }
    f->piece_starts_message = true;
    f->message_type = type;
    f->result = filter_verdict(f, type);
    f->remaining = size - (uint32_t)body;
    return f->result;
}

/* ---- chunk reader ------------------------------------------------------- */

void agent_reader_init(struct agent_reader *r)
{
    memset(r, 0, sizeof(*r));
    r->in_header = true;
}

/* Starts the next piece of the current chunk, or the next chunk header. */
static void reader_next_piece(struct agent_reader *r)
{
    r->piece_have = 0;
    if (r->chunk_left == 0) {
        r->in_header = true;
        r->header_len = 0;
        r->piece_len = 0;
        return;
    }
    r->in_header = false;
    r->piece_len = r->chunk_left < AGENT_MAX_PIECE_SIZE ? r->chunk_left : AGENT_MAX_PIECE_SIZE;
    r->chunk_left -= (uint32_t)r->piece_len;
}

uint8_t *agent_reader_next(struct agent_reader *r, size_t *want)
{
    if (r->in_header) {
        *want = AGENT_CHUNK_HEADER_SIZE - r->header_len;
        return r->header + r->header_len;
    }
    *want = r->piece_len - r->piece_have;
    return r->piece + r->piece_have;
}

int agent_reader_advance(struct agent_reader *r, size_t n, struct agent_piece *out)
{
    if (r->in_header) {
        size_t room = AGENT_CHUNK_HEADER_SIZE - r->header_len;
        r->header_len += n < room ? n : room;
        if (r->header_len < AGENT_CHUNK_HEADER_SIZE) {
            return 0;
        }
        r->port = get_u32le(r->header);
        r->chunk_left = get_u32le(r->header + 4);
        reader_next_piece(r); /* a chunk of size 0 goes straight to the next header */
        return 0;
    }
    size_t room = r->piece_len - r->piece_have;
    r->piece_have += n < room ? n : room;
    if (r->piece_have < r->piece_len) {
        return 0;
    }
    out->port = r->port;
    out->data = r->piece;
    out->len = r->piece_len;
    reader_next_piece(r);
    return 1;
}

bool agent_reader_at_piece_boundary(const struct agent_reader *r)
{
    return r->in_header ? true : r->piece_have == 0;
}

/* ---- monitors config ---------------------------------------------------- */

void agent_monitors_init(struct agent_monitors *m)
{
    memset(m, 0, sizeof(*m));
}

void agent_monitors_finish(struct agent_monitors *m)
{
    free(m->buf);
    free(m->config);
    agent_monitors_init(m);
}

static int monitors_fail(struct agent_monitors *m, int code, const char **err_desc, const char *why)
{
    m->len = 0;
    if (err_desc != NULL) {
        *err_desc = why;
    }
    return code;
}

/* Checks a complete body and converts it into m->config. */
static int monitors_convert(struct agent_monitors *m, const uint8_t *body, uint32_t size,
                            const char **err_desc)
{
    if (size < 8) {
        return monitors_fail(m, CLOVE_E_INVALID, err_desc, "monitors config without its header");
    }
    uint32_t count = get_u32le(body);
    uint32_t flags = get_u32le(body + 4);
    bool with_mm = (flags & VD_AGENT_CONFIG_MONITORS_FLAG_PHYSICAL_SIZE) != 0;
    uint64_t need = 8u + (uint64_t)count * (20u + (with_mm ? 4u : 0u));
    if (count > AGENT_MAX_MONITORS || need > size) {
        return monitors_fail(m, CLOVE_E_INVALID, err_desc,
                             "monitors config shorter than its monitor count");
    }
    size_t out_size = sizeof(VDAgentMonitorsConfig) + count * sizeof(VDAgentMonConfig) +
                      (with_mm ? count * sizeof(VDAgentMonitorMM) : 0);
    VDAgentMonitorsConfig *cfg = calloc(1, out_size);
    if (cfg == NULL) {
        return monitors_fail(m, CLOVE_E_NOMEM, err_desc, "out of memory");
    }
    cfg->num_of_monitors = count;
    cfg->flags = flags;
    const uint8_t *p = body + 8;
    for (uint32_t i = 0; i < count; i++, p += 20) {
        cfg->monitors[i].height = get_u32le(p);
        cfg->monitors[i].width = get_u32le(p + 4);
        cfg->monitors[i].depth = get_u32le(p + 8);
        cfg->monitors[i].x = (int32_t)get_u32le(p + 12);
        cfg->monitors[i].y = (int32_t)get_u32le(p + 16);
    }
    if (with_mm) {
        VDAgentMonitorMM *mm = (VDAgentMonitorMM *)&cfg->monitors[count];
        for (uint32_t i = 0; i < count; i++, p += 4) {
            mm[i].height = get_u16le(p); /* VDAgentMonitorMM {u16 height; u16 width} */
            mm[i].width = get_u16le(p + 2);
        }
    }
    free(m->config);
    m->config = cfg;
    m->len = 0;
    return 1;
}

int agent_monitors_push(struct agent_monitors *m, const uint8_t *data, size_t len,
                        const char **err_desc)
{
    const size_t max_total = AGENT_MESSAGE_HEADER_SIZE + AGENT_MAX_MONITORS_CONFIG_SIZE;
    if (len > max_total - m->len) {
        return monitors_fail(m, CLOVE_E_RANGE, err_desc, "monitors config too large");
    }
    if (m->buf == NULL) {
        m->buf = malloc(max_total);
        if (m->buf == NULL) {
            return monitors_fail(m, CLOVE_E_NOMEM, err_desc, "out of memory");
        }
    }
    memcpy(m->buf + m->len, data, len);
    m->len += len;
    if (m->len < AGENT_MESSAGE_HEADER_SIZE) {
        return 0;
    }
    uint32_t size = get_u32le(m->buf + 16);
    if (size > AGENT_MAX_MONITORS_CONFIG_SIZE) {
        return monitors_fail(m, CLOVE_E_RANGE, err_desc, "monitors config too large");
    }
    if (m->len - AGENT_MESSAGE_HEADER_SIZE < size) {
        return 0;
    }
    return monitors_convert(m, m->buf + AGENT_MESSAGE_HEADER_SIZE, size, err_desc);
}

/* ---- server messages ---------------------------------------------------- */

void agent_chunk_header_write(uint8_t *out, uint32_t port, uint32_t size)
{
    put_u32le(out, port);
    put_u32le(out + 4, size);
}

void agent_server_message_write(uint8_t *out, uint32_t type, const void *payload, uint32_t size)
{
    agent_chunk_header_write(out, VDP_SERVER_PORT, AGENT_MESSAGE_HEADER_SIZE + size);
    uint8_t *h = out + AGENT_CHUNK_HEADER_SIZE;
    put_u32le(h, VD_AGENT_PROTOCOL);
    put_u32le(h + 4, type);
    put_u32le(h + 8, 0); /* opaque, u64 */
    put_u32le(h + 12, 0);
    put_u32le(h + 16, size);
    if (size > 0) {
        memcpy(h + AGENT_MESSAGE_HEADER_SIZE, payload, size);
    }
}

void agent_mouse_state_write(uint8_t out[AGENT_MOUSE_STATE_SIZE], uint32_t x, uint32_t y,
                             uint32_t buttons, uint8_t display_id)
{
    put_u32le(out, x);
    put_u32le(out + 4, y);
    put_u32le(out + 8, buttons);
    out[12] = display_id;
}

/* Sets or clears capability bit `index` if its word lies inside the piece. */
static void caps_change(uint8_t *caps, size_t caps_bytes, unsigned index, bool set)
{
    size_t word = index / 32;
    if ((word + 1) * 4 > caps_bytes) {
        return;
    }
    uint32_t v = get_u32le(caps + word * 4);
    uint32_t bit = 1u << (index % 32);
    put_u32le(caps + word * 4, set ? (v | bit) : (v & ~bit));
}

void agent_adjust_capabilities(uint8_t *piece, size_t len, bool copy_paste, bool file_xfer)
{
    if (len < AGENT_MESSAGE_HEADER_SIZE + 4 ||
        get_u32le(piece + 4) != VD_AGENT_ANNOUNCE_CAPABILITIES) {
        return;
    }
    /* VDAgentAnnounceCapabilities {u32 request; u32 caps[]}, bounded by the
     * message's own size and by the piece. */
    size_t msg_size = get_u32le(piece + 16);
    size_t body = len - AGENT_MESSAGE_HEADER_SIZE;
    if (body > msg_size) {
        body = msg_size;
    }
    if (body < 4) {
        return;
    }
    uint8_t *caps = piece + AGENT_MESSAGE_HEADER_SIZE + 4;
    size_t caps_bytes = body - 4;
    if (!copy_paste) {
        caps_change(caps, caps_bytes, VD_AGENT_CAP_CLIPBOARD, false);
        caps_change(caps, caps_bytes, VD_AGENT_CAP_CLIPBOARD_BY_DEMAND, false);
        caps_change(caps, caps_bytes, VD_AGENT_CAP_CLIPBOARD_SELECTION, false);
    }
    if (!file_xfer) {
        caps_change(caps, caps_bytes, VD_AGENT_CAP_FILE_XFER_DISABLED, true);
    }
}
