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
 * palette reference} followed by `height` rows of `stride` bytes at
 * `data` (zeros if data is NULL); only SPICE_BITMAP_FLAGS_TOP_DOWN is kept
 * from bitmap.flags, the palette flags come from `palette` (they change
 * the layout). For QUIC,
 * LZ_RGB, GLZ_RGB, JPEG and LZ4 `encoded` is written as BinaryData
 * {u32 data_size; data}. FROM_CACHE and FROM_CACHE_LOSSLESS have no payload.
 * For LZ_PLT `encoded` is the LZ stream, written as LZPLTData {u8 flags
 * (encoded.flags & TOP_DOWN, plus the palette's flags); u32 data_size;
 * palette reference; data}. For ZLIB_GLZ_RGB, JPEG_ALPHA and SURFACE the
 * caller builds the whole type-specific part (e.g. ZlibGlzRGBData
 * {u32 glz_data_size; u32 data_size; data}) and `encoded` is written
 * verbatim.
 *
 * Palettes (BITMAP of the 1/4/8-bit formats, LZ_PLT): with
 * SPICE_BITMAP_FLAGS_PAL_FROM_CACHE in palette.flags the reference is the
 * u64 palette.unique (the client has it cached); otherwise it is a u32
 * offset to Palette {u64 unique; u16 num_ents; u32 ents[num_ents]}, placed
 * right after the image's data, or 0 when palette.ents is NULL. With
 * PAL_CACHE_ME the client keeps the palette under `unique`.
 */
struct wire_palette {
    uint8_t flags; /* 0, SPICE_BITMAP_FLAGS_PAL_CACHE_ME or SPICE_BITMAP_FLAGS_PAL_FROM_CACHE */
    uint64_t unique;
    uint16_t num_ents;
    const uint32_t *ents; /* borrows: num_ents 0x00RRGGBB colours; NULL: no palette */
};

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
            uint8_t flags; /* LZ_PLT: SPICE_BITMAP_FLAGS_TOP_DOWN or 0 */
        } encoded;
    } u;
    struct wire_palette palette; /* BITMAP and LZ_PLT only */
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
/* SpiceMsgDisplayInvalOne {u64 id}: drops one palette from the client's palette cache. */
void server_msg_display_inval_palette(struct byte_buf *b, uint64_t id);
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
 * QMask {u8 flags = 0; Point pos = 0,0; u32 bitmap = 0}. The same bytes as
 * server_msg_display_draw_fill_masked with a SOLID brush and no mask.
 */
void server_msg_display_draw_fill(struct byte_buf *b, const struct wire_draw_base *base,
                                  uint32_t color, uint16_t rop_descriptor);

/*
 * SpiceMsgDisplayDrawCopy with no mask: DisplayBase, u32 src_bitmap offset,
 * Rect src_area, u16 rop_descriptor, u8 scale_mode, QMask (13 bytes, empty),
 * then the SpiceImage the offset points at. src may be NULL (offset 0).
 * The same bytes as server_msg_display_draw_copy_masked with no mask.
 */
void server_msg_display_draw_copy(struct byte_buf *b, const struct wire_draw_base *base,
                                  const struct wire_image *src, const struct wire_rect *src_area,
                                  uint16_t rop_descriptor, uint8_t scale_mode);

/* SpiceMsgDisplayCopyBits: copy within the surface from src_pos to the box. */
void server_msg_display_copy_bits(struct byte_buf *b, const struct wire_draw_base *base,
                                  struct wire_point src_pos);
/* DrawBlackness / DrawWhiteness / DrawInvers with no mask (see
 * server_msg_display_draw_blackness and its siblings for masks). */
void server_msg_display_draw_mask_only(struct byte_buf *b, const struct wire_draw_base *base);

/* SpiceComposite. HAS_MASK / HAS_*_TRANSFORM in `flags` are derived from the
 * pointers; the rest (operator, filters, repeats, component alpha, opaque
 * hints) is written as given. Transforms are 6 fixed 16.16 values. */
struct wire_composite {
    uint32_t flags;
    const struct wire_image *src;   /* borrows, required */
    const struct wire_image *mask;  /* borrows, or NULL */
    const uint32_t *src_transform;  /* borrows 6 values, or NULL */
    const uint32_t *mask_transform; /* borrows 6 values, or NULL */
    struct wire_point src_origin;   /* written as Point16 */
    struct wire_point mask_origin;  /* written as Point16 */
};
void server_msg_display_draw_composite(struct byte_buf *b, const struct wire_draw_base *base,
                                       const struct wire_composite *c);

/*
 * ---- draw operations with brushes, masks, paths and glyph strings ----
 *
 * Every writer below appends SpiceMsgDisplayDraw<Op> (spice.proto): the
 * DisplayBase, then the op's fixed fields in protocol order, then the
 * targets of its pointer fields. Pointer targets are placed the way the
 * reference marshaller places its sub-marshallers: right after the fixed
 * part, in the order the pointer fields appear in the message (src_bitmap,
 * then the brush's pattern image, then the mask bitmap; for STROKE the
 * path, then the style array, then the pattern; for TEXT the string, then
 * the fore and back pattern images). Each pointer is a u32 offset from the
 * start of the body; a missing target is offset 0. Images are written as
 * server_msg_display_draw_copy documents for struct wire_image.
 */

/*
 * spice.proto Brush: u8 type; SOLID: u32 color; PATTERN: Pattern
 * {Image *pat (u32 offset); Point pos (i32 x, i32 y)}; NONE: nothing more.
 * Other type values are written as given with nothing after them.
 */
struct wire_brush {
    uint8_t type;                     /* SPICE_BRUSH_TYPE_NONE / _SOLID / _PATTERN */
    uint32_t color;                   /* SOLID */
    const struct wire_image *pattern; /* borrows; PATTERN (the protocol requires it:
                                         NULL writes offset 0, which clients refuse) */
    struct wire_point pattern_pos;    /* PATTERN: surface position of the tile's (0, 0) */
};

/*
 * spice.proto QMask: u8 flags; Point pos (i32 x, i32 y); Image *bitmap
 * (u32 offset). With no bitmap (NULL) the whole QMask is written as zeros
 * (flags 0, pos 0,0, offset 0), as the reference does. The bitmap is a
 * 1-bit image; the reference sends it uncompressed (SPICE_IMAGE_TYPE_BITMAP).
 */
struct wire_qmask {
    uint8_t flags;                   /* SPICE_MASK_FLAGS_INVERS */
    struct wire_point pos;           /* mask pixel of the box's top-left corner */
    const struct wire_image *bitmap; /* borrows; NULL: no mask */
};

/* SpiceMsgDisplayDrawFill: Brush brush; u16 rop_descriptor; QMask mask. */
struct wire_fill {
    struct wire_brush brush;
    uint16_t rop_descriptor; /* SPICE_ROPD_* */
    struct wire_qmask mask;
};

/*
 * SpiceMsgDisplayDrawCopy and DrawBlend (same layout): Image *src_bitmap;
 * Rect src_area; u16 rop_descriptor; u8 scale_mode; QMask mask.
 */
struct wire_copy {
    const struct wire_image *src; /* borrows; NULL writes offset 0 */
    struct wire_rect src_area;
    uint16_t rop_descriptor; /* SPICE_ROPD_* */
    uint8_t scale_mode;      /* SPICE_IMAGE_SCALE_MODE_* */
    struct wire_qmask mask;
};

/*
 * SpiceMsgDisplayDrawOpaque: Image *src_bitmap; Rect src_area; Brush brush;
 * u16 rop_descriptor; u8 scale_mode; QMask mask.
 */
struct wire_opaque {
    const struct wire_image *src; /* borrows; NULL writes offset 0 */
    struct wire_rect src_area;
    struct wire_brush brush;
    uint16_t rop_descriptor;
    uint8_t scale_mode;
    struct wire_qmask mask;
};

/*
 * SpiceMsgDisplayDrawRop3: Image *src_bitmap; Rect src_area; Brush brush;
 * u8 rop3; u8 scale_mode; QMask mask.
 */
struct wire_rop3 {
    const struct wire_image *src; /* borrows; NULL writes offset 0 */
    struct wire_rect src_area;
    struct wire_brush brush;
    uint8_t rop3; /* ternary raster operation code */
    uint8_t scale_mode;
    struct wire_qmask mask;
};

/*
 * SpiceMsgDisplayDrawTransparent: Image *src_bitmap; Rect src_area;
 * u32 src_color; u32 true_color.
 */
struct wire_transparent {
    const struct wire_image *src; /* borrows; NULL writes offset 0 */
    struct wire_rect src_area;
    uint32_t src_color;
    uint32_t true_color;
};

/*
 * SpiceMsgDisplayDrawAlphaBlend: u8 alpha_flags; u8 alpha;
 * Image *src_bitmap; Rect src_area.
 */
struct wire_alpha_blend {
    uint8_t alpha_flags; /* SPICE_ALPHA_FLAGS_DEST_HAS_ALPHA, _SRC_SURFACE_HAS_ALPHA */
    uint8_t alpha;
    const struct wire_image *src; /* borrows; NULL writes offset 0 */
    struct wire_rect src_area;
};

/* One path segment: `count` points in 28.4 fixed point (SpicePointFix). */
struct wire_path_seg {
    uint32_t flags; /* SPICE_PATH_BEGIN / _END / _CLOSE / _BEZIER; u8 on the wire */
    uint32_t count;
    const struct wire_point *points; /* borrows `count` points */
};

/*
 * spice.proto Path, the target of Stroke's path pointer: u32 num_segments,
 * then per segment u8 flags, u32 count, count x {i32 x; i32 y} (fixed28_4).
 */
struct wire_path {
    uint32_t num_segments;
    const struct wire_path_seg *segments; /* borrows num_segments */
};

/*
 * spice.proto LineAttr: u8 flags; only with SPICE_LINE_FLAGS_STYLED:
 * u8 style_nseg and a u32 offset to style_nseg fixed28_4 (u32) dash
 * lengths, placed after the path (offset 0 when style_nseg is 0). The QXL
 * join/cap styles, width and miter limit do not exist on the wire.
 */
struct wire_line_attr {
    uint8_t flags; /* SPICE_LINE_FLAGS_STYLED, _START_WITH_GAP */
    uint8_t style_nseg;
    const uint32_t *style; /* borrows style_nseg values (STYLED only) */
};

/*
 * SpiceMsgDisplayDrawStroke: Path *path (offset, never 0); LineAttr attr;
 * Brush brush; u16 fore_mode; u16 back_mode.
 */
struct wire_stroke {
    struct wire_path path;
    struct wire_line_attr attr;
    struct wire_brush brush;
    uint16_t fore_mode, back_mode; /* SPICE_ROPD_* */
};

/* One glyph: `height` rows of the string's glyph stride bytes at `data`. */
struct wire_glyph {
    struct wire_point render_pos;
    struct wire_point glyph_origin;
    uint16_t width, height;
    const uint8_t *data; /* borrows; NULL writes zeros */
};

/*
 * spice.proto String, the target of Text's str pointer: u16 length;
 * u8 flags; then, for the first of RASTER_A1 / _A4 / _A8 present in flags,
 * `length` RasterGlyphs {Point render_pos; Point glyph_origin; u16 width;
 * u16 height; data}, each data being height rows of (width * bpp + 7) / 8
 * bytes (bpp 1, 4 or 8). With none of the raster flags no glyph is written
 * (as the reference marshaller does).
 */
struct wire_glyph_string {
    uint16_t length;
    uint8_t flags; /* SPICE_STRING_FLAGS_RASTER_A1 / _A4 / _A8, _RASTER_TOP_DOWN */
    const struct wire_glyph *glyphs; /* borrows `length` glyphs */
};

/*
 * SpiceMsgDisplayDrawText: String *str (offset, never 0); Rect back_area;
 * Brush fore_brush; Brush back_brush; u16 fore_mode; u16 back_mode.
 */
struct wire_text {
    struct wire_glyph_string str;
    struct wire_rect back_area;
    struct wire_brush fore_brush, back_brush;
    uint16_t fore_mode, back_mode; /* SPICE_ROPD_* */
};

/* SPICE_MSG_DISPLAY_DRAW_FILL with any brush and mask. */
void server_msg_display_draw_fill_masked(struct byte_buf *b, const struct wire_draw_base *base,
                                         const struct wire_fill *fill);
/* SPICE_MSG_DISPLAY_DRAW_COPY with a mask. */
void server_msg_display_draw_copy_masked(struct byte_buf *b, const struct wire_draw_base *base,
                                         const struct wire_copy *copy);
/* SPICE_MSG_DISPLAY_DRAW_BLEND (SpiceMsgDisplayDrawCopy layout). */
void server_msg_display_draw_blend(struct byte_buf *b, const struct wire_draw_base *base,
                                   const struct wire_copy *blend);
/* SPICE_MSG_DISPLAY_DRAW_OPAQUE. */
void server_msg_display_draw_opaque(struct byte_buf *b, const struct wire_draw_base *base,
                                    const struct wire_opaque *opaque);
/*
 * SPICE_MSG_DISPLAY_DRAW_BLACKNESS / _WHITENESS / _INVERS: DisplayBase,
 * QMask. The three bodies are identical; `mask` may be NULL (no mask).
 */
void server_msg_display_draw_blackness(struct byte_buf *b, const struct wire_draw_base *base,
                                       const struct wire_qmask *mask);
void server_msg_display_draw_whiteness(struct byte_buf *b, const struct wire_draw_base *base,
                                       const struct wire_qmask *mask);
void server_msg_display_draw_invers(struct byte_buf *b, const struct wire_draw_base *base,
                                    const struct wire_qmask *mask);
/* SPICE_MSG_DISPLAY_DRAW_ROP3. */
void server_msg_display_draw_rop3(struct byte_buf *b, const struct wire_draw_base *base,
                                  const struct wire_rop3 *rop3);
/* SPICE_MSG_DISPLAY_DRAW_STROKE: fixed part, then Path, style array, pattern. */
void server_msg_display_draw_stroke(struct byte_buf *b, const struct wire_draw_base *base,
                                    const struct wire_stroke *stroke);
/* SPICE_MSG_DISPLAY_DRAW_TEXT: fixed part, then String, fore and back patterns. */
void server_msg_display_draw_text(struct byte_buf *b, const struct wire_draw_base *base,
                                  const struct wire_text *text);
/* SPICE_MSG_DISPLAY_DRAW_TRANSPARENT. */
void server_msg_display_draw_transparent(struct byte_buf *b, const struct wire_draw_base *base,
                                         const struct wire_transparent *transparent);
/* SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND. */
void server_msg_display_draw_alpha_blend(struct byte_buf *b, const struct wire_draw_base *base,
                                         const struct wire_alpha_blend *alpha_blend);

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
