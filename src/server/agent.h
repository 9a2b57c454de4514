/*
 * The vdagent wire format as the server sees it, without any I/O: the
 * guest's VDIChunk stream, the per-message filter, the reassembly of a
 * client's VD_AGENT_MONITORS_CONFIG, and the messages the server itself
 * writes to the agent.
 *
 * Formats (spice/vd_agent.h, all little endian):
 *   VDIChunkHeader  {u32 port; u32 size}                       8 bytes
 *   VDAgentMessage  {u32 protocol; u32 type; u64 opaque; u32 size} 20 bytes
 * The guest writes chunks (header then `size` bytes) into its char device;
 * the chunk bodies, concatenated per port, form a stream of VDAgentMessages.
 * Clients send AGENT_DATA messages of at most VD_AGENT_MAX_DATA_SIZE bytes,
 * each one a piece of that message stream, a new message always starting at
 * the beginning of a piece (spice-gtk and the reference both rely on it).
 *
 * Pure: no logging, no allocation except in agent_monitors (bounded).
 * Thread: any; every object belongs to its caller.
 */
#ifndef CLOVE_SERVER_AGENT_H
#define CLOVE_SERVER_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spice/vd_agent.h>

#define AGENT_CHUNK_HEADER_SIZE   8u
#define AGENT_MESSAGE_HEADER_SIZE 20u
/* The biggest piece forwarded in one AGENT_DATA (either direction). */
#define AGENT_MAX_PIECE_SIZE VD_AGENT_MAX_DATA_SIZE
/* The reference's bound on a client monitors config: 256 heads with sizes. */
#define AGENT_MAX_MONITORS             256u
#define AGENT_MAX_MONITORS_CONFIG_SIZE (8u + AGENT_MAX_MONITORS * (20u + 4u))

/* ---- message filter ----------------------------------------------------- */

enum agent_filter_result {
    AGENT_FILTER_OK,              /* forward the piece */
    AGENT_FILTER_DISCARD,         /* drop it (feature disabled, or nobody listens) */
    AGENT_FILTER_MONITORS_CONFIG, /* a client monitors config the server handles itself */
    AGENT_FILTER_PROTO_ERROR,     /* the stream is broken: close its source */
};

/*
 * Follows message boundaries in one direction of the agent stream and
 * decides what happens to each piece: clipboard messages are dropped when
 * copy-paste is off, file transfer ones when file transfer is off, and
 * MONITORS_CONFIG is diverted when the display devices take it.
 */
struct agent_filter {
    bool copy_paste;
    bool file_xfer;
    bool client_monitors_config;     /* divert VD_AGENT_MONITORS_CONFIG to the server */
    bool discard_all;                /* nobody on the other side: drop everything */
    uint32_t remaining;              /* bytes of the current message still to come */
    enum agent_filter_result result; /* the verdict of the current message */
    bool piece_starts_message;       /* the last piece began with a VDAgentMessage */
    uint32_t message_type;           /* its type, when piece_starts_message */
};

void agent_filter_init(struct agent_filter *f, bool copy_paste, bool file_xfer,
                       bool client_monitors_config, bool discard_all);
/* Changes the policy without losing the position in the stream. */
void agent_filter_config(struct agent_filter *f, bool copy_paste, bool file_xfer,
                         bool client_monitors_config);
/*
 * Classifies one piece (borrowed, len bytes, at most AGENT_MAX_PIECE_SIZE).
 * On AGENT_FILTER_PROTO_ERROR *err_desc (may be NULL) says why, and the
 * filter must be re-initialised before further use.
 */
enum agent_filter_result agent_filter_process(struct agent_filter *f, const uint8_t *data,
                                              size_t len, const char **err_desc);

/* ---- guest -> server chunk stream --------------------------------------- */

/*
 * Cuts the guest's VDIChunk stream into pieces of at most
 * AGENT_MAX_PIECE_SIZE bytes, each carrying the port of its chunk. The caller
 * reads straight into the reader's buffer, never more than asked, so a read
 * never crosses a piece boundary and the caller can stop between pieces
 * (flow control):
 *
 *     size_t want; uint8_t *dst = agent_reader_next(r, &want);
 *     n = read(dst, want);
 *     if (agent_reader_advance(r, n, &piece) == 1) { use piece }
 */
struct agent_reader {
    bool in_header;
    uint8_t header[AGENT_CHUNK_HEADER_SIZE];
    size_t header_len;
    uint32_t port;
    uint32_t chunk_left; /* chunk bytes not yet part of a piece */
    uint8_t piece[AGENT_MAX_PIECE_SIZE];
    size_t piece_len;  /* size of the piece being filled */
    size_t piece_have; /* bytes of it received */
};

struct agent_piece {
    uint32_t port;
    uint8_t *data; /* borrows the reader's buffer until the next advance */
    size_t len;
};

void agent_reader_init(struct agent_reader *r);
/* Returns where the next bytes go; *want (> 0) is how many may be read. */
uint8_t *agent_reader_next(struct agent_reader *r, size_t *want);
/*
 * Accounts for n bytes (0 < n <= *want) written at agent_reader_next().
 * Returns 1 when a piece is complete (*out filled), 0 when more bytes are
 * needed. Chunks of size 0 produce no piece.
 */
int agent_reader_advance(struct agent_reader *r, size_t n, struct agent_piece *out);
/* True between pieces (nothing of a piece received yet). */
bool agent_reader_at_piece_boundary(const struct agent_reader *r);

/* ---- client monitors config --------------------------------------------- */

/* Host-order copy of a VD_AGENT_MONITORS_CONFIG body, ready for QXLInterface. */
struct agent_monitors {
    uint8_t *buf; /* owns: the message as received (header + body), little endian */
    size_t len;
    VDAgentMonitorsConfig *config; /* owns: aligned host-order copy, once complete */
};

void agent_monitors_init(struct agent_monitors *m);
void agent_monitors_finish(struct agent_monitors *m);
/*
 * Appends one piece of a VD_AGENT_MONITORS_CONFIG message (the first piece
 * starts with its VDAgentMessage). Returns 1 when the message is complete
 * and valid (m->config is then set, owned by m until the next push or
 * finish), 0 when more pieces are needed, or CLOVE_E_RANGE / CLOVE_E_INVALID
 * / CLOVE_E_NOMEM (the message is dropped; *err_desc says why).
 */
int agent_monitors_push(struct agent_monitors *m, const uint8_t *data, size_t len,
                        const char **err_desc);

/* ---- messages written by the server ------------------------------------- */

/*
 * Size of VDIChunkHeader(port SERVER) + VDAgentMessage + payload, as written
 * by agent_server_message_write().
 */
static inline size_t agent_server_message_size(size_t payload_size)
{
    return AGENT_CHUNK_HEADER_SIZE + AGENT_MESSAGE_HEADER_SIZE + payload_size;
}
/* Writes the chunk into out (agent_server_message_size(size) bytes). */
void agent_server_message_write(uint8_t *out, uint32_t type, const void *payload, uint32_t size);
/* Writes a VDIChunkHeader for a chunk of `size` bytes on `port`. */
void agent_chunk_header_write(uint8_t *out, uint32_t port, uint32_t size);

/* VDAgentMouseState {u32 x, y, buttons; u8 display_id}: 13 bytes. */
#define AGENT_MOUSE_STATE_SIZE 13u
void agent_mouse_state_write(uint8_t out[AGENT_MOUSE_STATE_SIZE], uint32_t x, uint32_t y,
                             uint32_t buttons, uint8_t display_id);

/*
 * The guest's VD_AGENT_ANNOUNCE_CAPABILITIES, adjusted in place to what the
 * server allows: clipboard capabilities cleared without copy-paste, and
 * FILE_XFER_DISABLED set without file transfer. `piece` starts with the
 * VDAgentMessage; only the capability words inside the piece are changed.
 * Other message types are left alone.
 */
void agent_adjust_capabilities(uint8_t *piece, size_t len, bool copy_paste, bool file_xfer);

#endif
