/*
 * Writers for the server -> client messages (spice.proto). Each function
 * appends one message *body* to a byte_buf; the channel layer adds the header.
 * Pointer fields are written the way the SPICE marshaller does: a u32 offset
 * from the start of the body to data placed after the fixed part.
 *
 * Pure: no I/O, no logging. Allocation failure is latched in the byte_buf.
 */
#ifndef CLOVE_PROTO_SERVER_MSG_H
#define CLOVE_PROTO_SERVER_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

/* SpiceRect: on the wire top, left, bottom, right (i32 each). */
struct wire_rect {
    int32_t top, left, bottom, right;
};

struct wire_point {
    int32_t x, y;
};

struct wire_clip {
    uint8_t type; /* SPICE_CLIP_TYPE_NONE or _RECTS */
    uint32_t num_rects;
    const struct wire_rect *rects; /* borrows */
};

/* SpiceMsgDisplayBase */
struct wire_draw_base {
    uint32_t surface_id;
    struct wire_rect box;
    struct wire_clip clip;
};

/*
 * A SpiceImage: descriptor plus payload. For SPICE_IMAGE_TYPE_BITMAP the
 * payload is `height` rows of `stride` bytes at `data` (no palette). For the
 * compressed types a later issue fills `encoded` with the codec's bytes,
 * written as the type's SpiceXxxData {u32 data_size; data}.
 */
struct wire_image {
    uint64_t id;
    uint8_t type;  /* SPICE_IMAGE_TYPE_* */
    uint8_t flags; /* SPICE_IMAGE_FLAGS_* */
    uint32_t width, height;
    union {
        struct {
            uint8_t format; /* SPICE_BITMAP_FMT_* */
            uint8_t flags;  /* SPICE_BITMAP_FLAGS_TOP_DOWN ... */
            uint32_t stride;
            const uint8_t *data; /* borrows: height * stride bytes */
        } bitmap;
        struct {
            const uint8_t *data; /* borrows */
            uint32_t size;
        } encoded;
    } u;
};

/* ---- base messages (every channel) ---- */
void server_msg_set_ack(struct byte_buf *b, uint32_t generation, uint32_t window);
/* SpiceMsgPing {u32 id; u64 timestamp} followed by extra_bytes zero bytes. */
void server_msg_ping(struct byte_buf *b, uint32_t id, uint64_t timestamp, uint32_t extra_bytes);
void server_msg_notify(struct byte_buf *b, uint64_t time_stamp, uint32_t severity,
                       uint32_t visibility, uint32_t what, const char *message);
void server_msg_disconnecting(struct byte_buf *b, uint64_t time_stamp, uint32_t reason);

/* ---- main channel ---- */
struct wire_main_init {
    uint32_t session_id;
    uint32_t display_channels_hint;
    uint32_t supported_mouse_modes;
    uint32_t current_mouse_mode;
    uint32_t agent_connected;
    uint32_t agent_tokens;
    uint32_t multi_media_time;
    uint32_t ram_hint;
};
void server_msg_main_init(struct byte_buf *b, const struct wire_main_init *init);

struct wire_channel_id {
    uint8_t type;
    uint8_t id;
};
void server_msg_main_channels_list(struct byte_buf *b, const struct wire_channel_id *channels,
                                   uint32_t num_channels);
void server_msg_main_mouse_mode(struct byte_buf *b, uint16_t supported_modes,
                                uint16_t current_mode);
void server_msg_main_multi_media_time(struct byte_buf *b, uint32_t time);
/* SpiceMsgMainName {u32 name_len (including NUL); u8 name[]} */
void server_msg_main_name(struct byte_buf *b, const char *name);
void server_msg_main_uuid(struct byte_buf *b, const uint8_t uuid[16]);
void server_msg_main_agent_connected_tokens(struct byte_buf *b, uint32_t num_tokens);
void server_msg_main_agent_disconnected(struct byte_buf *b, uint32_t error_code);
void server_msg_main_agent_token(struct byte_buf *b, uint32_t num_tokens);

/* ---- display channel ---- */
void server_msg_display_mark(struct byte_buf *b);
void server_msg_display_reset(struct byte_buf *b);
void server_msg_display_inval_all_palettes(struct byte_buf *b);
void server_msg_display_inval_all_pixmaps(struct byte_buf *b, const uint64_t *wait_serials,
                                          const uint8_t *wait_channel_types,
                                          const uint8_t *wait_channel_ids, uint8_t count);
void server_msg_display_surface_create(struct byte_buf *b, uint32_t surface_id, uint32_t width,
                                       uint32_t height, uint32_t format, uint32_t flags);
void server_msg_display_surface_destroy(struct byte_buf *b, uint32_t surface_id);

struct wire_head {
    uint32_t id, surface_id, width, height, x, y, flags;
};
void server_msg_display_monitors_config(struct byte_buf *b, const struct wire_head *heads,
                                        uint16_t count, uint16_t max_allowed);

/* SpiceMsgDisplayDrawFill with a solid brush and no mask. */
void server_msg_display_draw_fill(struct byte_buf *b, const struct wire_draw_base *base,
                                  uint32_t color, uint16_t rop_descriptor);

/* SpiceMsgDisplayDrawCopy with no mask. */
void server_msg_display_draw_copy(struct byte_buf *b, const struct wire_draw_base *base,
                                  const struct wire_image *src, const struct wire_rect *src_area,
                                  uint16_t rop_descriptor, uint8_t scale_mode);

/* ---- inputs channel ---- */
void server_msg_inputs_init(struct byte_buf *b, uint16_t keyboard_modifiers);
void server_msg_inputs_key_modifiers(struct byte_buf *b, uint16_t keyboard_modifiers);
void server_msg_inputs_mouse_motion_ack(struct byte_buf *b);

/* ---- cursor channel ---- */
/*
 * SpiceCursor. flags SPICE_CURSOR_FLAGS_NONE means "no shape" and nothing
 * else is written; otherwise the header and `data_size` bytes of shape data.
 */
struct wire_cursor {
    uint16_t flags; /* SPICE_CURSOR_FLAGS_* */
    uint64_t unique;
    uint8_t type; /* SPICE_CURSOR_TYPE_* */
    uint16_t width, height, hot_spot_x, hot_spot_y;
    const uint8_t *data; /* borrows */
    uint32_t data_size;
};
void server_msg_cursor_init(struct byte_buf *b, struct wire_point position,
                            uint16_t trail_length, uint16_t trail_frequency, uint8_t visible,
                            const struct wire_cursor *cursor);
void server_msg_cursor_reset(struct byte_buf *b);
void server_msg_cursor_set(struct byte_buf *b, struct wire_point position, uint8_t visible,
                           const struct wire_cursor *cursor);
void server_msg_cursor_move(struct byte_buf *b, struct wire_point position);
void server_msg_cursor_hide(struct byte_buf *b);
void server_msg_cursor_trail(struct byte_buf *b, uint16_t length, uint16_t frequency);
void server_msg_cursor_inval_all(struct byte_buf *b);

#endif
