/*
 * Writers for the server -> client messages (spice.proto). Each function
 * appends one message *body* to a byte_buf; the channel layer adds the header.
 * Pointer fields are written the way the SPICE marshaller does: a u32 offset
 * from the start of the body to data placed after the fixed part (0 = NULL).
 * The body starts at b->len on entry, so the caller may append the data
 * header first and patch its size afterwards. Messages with an empty body
 * (MARK, RESET, HIDE, ...) append nothing; they exist for symmetry.
 * Pointer parameters borrow and are only read during the call.
 *
 * Thread: any (no shared state).
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

/* SpiceClip: u8 type, then for RECTS u32 num_rects and the rects inline. */
struct wire_clip {
    uint8_t type; /* SPICE_CLIP_TYPE_NONE or _RECTS; other values write no rects */
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
 * A SpiceImage: descriptor (u64 id, u8 type, u8 flags, u32 width, u32 height)
 * plus payload. For SPICE_IMAGE_TYPE_BITMAP the payload is SpiceBitmap
 * {u8 format; u8 flags; u32 x = width; u32 y = height; u32 stride;
 * u32 palette offset = 0} followed by `height` rows of `stride` bytes at
 * `data` (zeros if data is NULL); only SPICE_BITMAP_FLAGS_TOP_DOWN is kept
 * from bitmap.flags (the palette flags would change the layout). For QUIC,
 * LZ_RGB, GLZ_RGB, JPEG and LZ4 `encoded` is written as BinaryData
 * {u32 data_size; data}. FROM_CACHE and FROM_CACHE_LOSSLESS have no payload.
 * For LZ_PLT, ZLIB_GLZ_RGB, JPEG_ALPHA and SURFACE the caller builds the
 * whole type-specific part (e.g. ZlibGlzRGBData {u32 glz_data_size;
 * u32 data_size; data}) and `encoded` is written verbatim.
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
/*
 * SpiceMsgNotify {u64 time_stamp; u32 severity; u32 visibility; u32 what;
 * u32 message_len = strlen(message); message bytes plus a NUL} (the reference
 * sends the NUL beyond message_len). message may be NULL (empty).
 */
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
/* SpiceMsgMainName {u32 name_len (including NUL); u8 name[] with the NUL} */
void server_msg_main_name(struct byte_buf *b, const char *name);
void server_msg_main_uuid(struct byte_buf *b, const uint8_t uuid[16]);
void server_msg_main_agent_connected_tokens(struct byte_buf *b, uint32_t num_tokens);
void server_msg_main_agent_disconnected(struct byte_buf *b, uint32_t error_code);
void server_msg_main_agent_token(struct byte_buf *b, uint32_t num_tokens);

/* ---- display channel ---- */
void server_msg_display_mark(struct byte_buf *b);
void server_msg_display_reset(struct byte_buf *b);
void server_msg_display_inval_all_palettes(struct byte_buf *b);
/*
 * SpiceResourceList {u16 count; {u8 type = SPICE_RES_TYPE_PIXMAP; u64 id}[count]}:
 * drops these ids from the client's pixmap cache. count is at most 65535;
 * callers with more ids send several messages.
 */
void server_msg_display_inval_list(struct byte_buf *b, const uint64_t *ids, uint16_t count);
/* SpiceMsgWaitForChannels {u8 count; {u8 type; u8 id; u64 serial}[count]} */
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

/*
 * SpiceMsgDisplayDrawFill with a solid brush and no mask: DisplayBase,
 * Brush {u8 type = SOLID; u32 color}, u16 rop_descriptor,
 * QMask {u8 flags = 0; Point pos = 0,0; u32 bitmap = 0}.
 */
void server_msg_display_draw_fill(struct byte_buf *b, const struct wire_draw_base *base,
                                  uint32_t color, uint16_t rop_descriptor);

/*
 * SpiceMsgDisplayDrawCopy with no mask: DisplayBase, u32 src_bitmap offset,
 * Rect src_area, u16 rop_descriptor, u8 scale_mode, QMask (13 bytes, empty),
 * then the SpiceImage the offset points at. src may be NULL (offset 0).
 */
void server_msg_display_draw_copy(struct byte_buf *b, const struct wire_draw_base *base,
                                  const struct wire_image *src, const struct wire_rect *src_area,
                                  uint16_t rop_descriptor, uint8_t scale_mode);

/* SpiceMsgDisplayCopyBits: copy within the surface from src_pos to the box. */
void server_msg_display_copy_bits(struct byte_buf *b, const struct wire_draw_base *base,
                                  struct wire_point src_pos);
/* DrawBlackness / DrawWhiteness / DrawInvers with no mask. */
void server_msg_display_draw_mask_only(struct byte_buf *b, const struct wire_draw_base *base);

/* SpiceComposite. HAS_MASK / HAS_*_TRANSFORM in `flags` are derived from the
 * pointers; the rest (operator, filters, repeats, component alpha, opaque
 * hints) is written as given. Transforms are 6 fixed 16.16 values. */
struct wire_composite {
    uint32_t flags;
    const struct wire_image *src;  /* borrows, required */
    const struct wire_image *mask; /* borrows, or NULL */
    const uint32_t *src_transform;  /* borrows 6 values, or NULL */
    const uint32_t *mask_transform; /* borrows 6 values, or NULL */
    struct wire_point src_origin;   /* written as Point16 */
    struct wire_point mask_origin;  /* written as Point16 */
};
void server_msg_display_draw_composite(struct byte_buf *b, const struct wire_draw_base *base,
                                       const struct wire_composite *c);

/* ---- inputs channel ---- */
void server_msg_inputs_init(struct byte_buf *b, uint16_t keyboard_modifiers);
void server_msg_inputs_key_modifiers(struct byte_buf *b, uint16_t keyboard_modifiers);
void server_msg_inputs_mouse_motion_ack(struct byte_buf *b);

/* ---- cursor channel ---- */
/*
 * SpiceCursor: u16 flags; then, unless flags has SPICE_CURSOR_FLAGS_NONE,
 * SpiceCursorHeader {u64 unique; u8 type; u16 width, height, hot_spot_x,
 * hot_spot_y} and `data_size` bytes of shape data to the end of the body.
 * With NONE nothing follows the flags. A NULL cursor is written as NONE.
 * With CACHE_ME the client keeps the shape under `unique`; with FROM_CACHE
 * the header names a cached shape and the caller passes data_size 0.
 *
 * Cursor positions are Point16 (i16 x, i16 y) on the wire; the writers take a
 * wire_point and clamp each coordinate to [-32768, 32767].
 */
struct wire_cursor {
    uint16_t flags; /* SPICE_CURSOR_FLAGS_* */
    uint64_t unique;
    uint8_t type; /* SPICE_CURSOR_TYPE_* */
    uint16_t width, height, hot_spot_x, hot_spot_y;
    const uint8_t *data; /* borrows */
    uint32_t data_size;
};
void server_msg_cursor_init(struct byte_buf *b, struct wire_point position, uint16_t trail_length,
                            uint16_t trail_frequency, uint8_t visible,
                            const struct wire_cursor *cursor);
void server_msg_cursor_reset(struct byte_buf *b);
void server_msg_cursor_set(struct byte_buf *b, struct wire_point position, uint8_t visible,
                           const struct wire_cursor *cursor);
void server_msg_cursor_move(struct byte_buf *b, struct wire_point position);
void server_msg_cursor_hide(struct byte_buf *b);
void server_msg_cursor_trail(struct byte_buf *b, uint16_t length, uint16_t frequency);
void server_msg_cursor_inval_all(struct byte_buf *b);
/* SpiceMsgDisplayInvalOne {u64 id}: drops one cursor from the client's cache. */
void server_msg_cursor_inval_one(struct byte_buf *b, uint64_t id);

#endif
