/*
 * Parsers for every client -> server message the server handles
 * (spice.proto, channel by channel). Each message body is parsed into a
 * tagged union; variable parts borrow the input buffer.
 *
 * Pure: no I/O, no allocation, no logging.
 */
#ifndef CLOVE_PROTO_CLIENT_MSG_H
#define CLOVE_PROTO_CLIENT_MSG_H

#include <stddef.h>
#include <stdint.h>

/* Biggest body the server accepts for any client message it parses; bigger
 * messages are a protocol error (agent data chunks are at most 2048 + 20). */
#define CLIENT_MSG_MAX_SIZE (64 * 1024)

struct client_msg {
    uint16_t type; /* SPICE_MSGC_* as received */
    union {
        /* base, every channel */
        struct {
            uint32_t generation;
        } ack_sync; /* SPICE_MSGC_ACK_SYNC */
        struct {
            uint32_t id;
            uint64_t timestamp;
        } pong; /* SPICE_MSGC_PONG */
        struct {
            uint64_t time_stamp;
            uint32_t reason;
        } disconnecting; /* SPICE_MSGC_DISCONNECTING */
        struct {
            const uint8_t *data;
            uint32_t size;
        } migrate_data; /* SPICE_MSGC_MIGRATE_DATA */
        /* main */
        struct {
            uint64_t cache_size;
        } client_info; /* SPICE_MSGC_MAIN_CLIENT_INFO */
        struct {
            uint16_t mode;
        } mouse_mode_request; /* SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST */
        struct {
            uint32_t num_tokens;
        } agent_start; /* SPICE_MSGC_MAIN_AGENT_START */
        struct {
            uint32_t num_tokens;
        } agent_token; /* SPICE_MSGC_MAIN_AGENT_TOKEN */
        struct {
            const uint8_t *data;
            uint32_t size;
        } agent_data; /* SPICE_MSGC_MAIN_AGENT_DATA */
        struct {
            uint32_t src_version;
        } migrate_dst_do_seamless;
        /* display */
        struct {
            uint8_t pixmap_cache_id;
            int64_t pixmap_cache_size;
            uint8_t glz_dictionary_id;
            int32_t glz_dictionary_window_size;
        } display_init; /* SPICE_MSGC_DISPLAY_INIT */
        struct {
            uint8_t image_compression;
        } preferred_compression;
        struct {
            uint8_t num;
            const uint8_t *codecs;
        } preferred_video_codecs;
        struct {
            uint32_t stream_id, unique_id, start_frame_mm_time, end_frame_mm_time;
            uint32_t num_frames, num_drops;
            int32_t last_frame_delay;
            uint32_t audio_delay;
        } stream_report;
        /* inputs */
        struct {
            uint32_t code;
        } key; /* KEY_DOWN, KEY_UP */
        struct {
            uint16_t modifiers;
        } key_modifiers; /* KEY_MODIFIERS */
        struct {
            const uint8_t *codes;
            uint32_t size;
        } key_scancode; /* KEY_SCANCODE */
        struct {
            int32_t dx, dy;
            uint16_t buttons;
        } mouse_motion;
        struct {
            uint32_t x, y;
            uint16_t buttons;
            uint8_t display_id;
        } mouse_position;
        struct {
            uint8_t button;
            uint16_t buttons;
        } mouse_button; /* PRESS, RELEASE */
        /* record */
        struct {
            uint32_t time;
            const uint8_t *data;
            uint32_t size;
        } record_data;
        struct {
            uint32_t time;
            uint16_t mode;
            const uint8_t *data;
            uint32_t size;
        } record_mode;
        struct {
            uint32_t time;
        } record_start_mark;
        /* smartcard: VSCMsgHeader then `length` bytes */
        struct {
            uint32_t type, reader_id, length;
            const uint8_t *data; /* borrows, `length` bytes */
        } smartcard_data;
        /* usbredir, port, webdav (spicevmc) */
        struct {
            const uint8_t *data;
            uint32_t size;
        } vmc_data; /* SPICEVMC_DATA */
        struct {
            uint8_t type;               /* SPICE_DATA_COMPRESSION_TYPE_* */
            uint32_t uncompressed_size; /* 0 with type NONE */
            const uint8_t *data;
            uint32_t size;
        } vmc_compressed_data; /* SPICEVMC_COMPRESSED_DATA */
        struct {
            uint8_t event;
        } port_event; /* SPICE_MSGC_PORT_EVENT (port, webdav) */
        /* main QUALITY_INDICATOR: opaque bytes */
        struct {
            const uint8_t *data;
            uint32_t size;
        } quality_indicator;
    } u;
};

/*
 * Parses the body of a message of `type` received on a channel of
 * `channel_type` (SPICE_CHANNEL_*). Base messages (ids < 101) are accepted on
 * every channel. Returns 0, CLOVE_E_UNSUPPORTED for a type this channel does
 * not know (the caller logs and skips it), or CLOVE_E_INVALID for a body that
 * is too short or has bad counts; *err_desc (may be NULL) then gets a static
 * description. The size limit (CLIENT_MSG_MAX_SIZE) is the caller's to apply
 * to the header before the body is read. Trailing
 * bytes beyond a fixed-size body are allowed, as newer clients may append
 * fields. Pointers in `out` borrow `data` and are never NULL on success
 * (a zero-length part points at the end of the body). Empty messages (ACK,
 * ATTACH_CHANNELS, MIGRATE_FLUSH_MARK, GL_DRAW_DONE, ...) only set out->type.
 */
int client_msg_parse(uint8_t channel_type, uint16_t type, const uint8_t *data, size_t len,
                     struct client_msg *out, const char **err_desc);

/* Returns a static name such as "inputs.KEY_DOWN", or NULL if unknown. */
const char *client_msg_name(uint8_t channel_type, uint16_t type);

#endif
