/*
 * Parsers of server -> client message bodies (spice.proto "server:"
 * sections): the client side's mirror of server_msg.h, whose writers
 * document each layout.
 *
 * Pure: no I/O, no logging, no allocation. Each parser reads exactly one
 * body (`len` bytes, the data header's size) and returns the bytes it
 * consumed, or a negative CLOVE_E_* with *err_desc set to a static string:
 * CLOVE_E_INVALID for a short or inconsistent body, CLOVE_E_RANGE for a
 * count or size beyond the limits below, CLOVE_E_UNSUPPORTED for a message
 * type or image type the parser does not know. Trailing bytes after
 * the fixed part are accepted, as the reference demarshaller does.
 *
 * Pointers in the output structs borrow the input body; they stay valid as
 * long as the caller keeps the body.
 *
 * Thread: any (no shared state).
 */
#ifndef CLOVE_PROTO_SERVER_PARSE_H
#define CLOVE_PROTO_SERVER_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/server_msg.h"

#define SERVER_PARSE_MAX_CHANNELS   256
#define SERVER_PARSE_MAX_CLIP_RECTS 65536
#define SERVER_PARSE_MAX_DIM        16384
#define SERVER_PARSE_MAX_HEADS      16

/* ---- base messages ---- */
int server_parse_set_ack(const uint8_t *data, size_t len, uint32_t *generation, uint32_t *window,
                         const char **err_desc);
int server_parse_ping(const uint8_t *data, size_t len, uint32_t *id, uint64_t *timestamp,
                      const char **err_desc);

struct server_notify {
    uint64_t time_stamp;
    uint32_t severity, visibility, what;
    const uint8_t *message; /* borrows, message_len bytes, not NUL-terminated */
    uint32_t message_len;
};
int server_parse_notify(const uint8_t *data, size_t len, struct server_notify *out,
                        const char **err_desc);
int server_parse_disconnecting(const uint8_t *data, size_t len, uint64_t *time_stamp,
                               uint32_t *reason, const char **err_desc);

/* ---- main channel ---- */
int server_parse_main_init(const uint8_t *data, size_t len, struct wire_main_init *out,
                           const char **err_desc);
/*
 * CHANNELS_LIST: fills out[0..*count) (at most max entries; more than
 * `max` or than SERVER_PARSE_MAX_CHANNELS is CLOVE_E_RANGE).
 */
int server_parse_main_channels_list(const uint8_t *data, size_t len, struct wire_channel_id *out,
                                    uint32_t max, uint32_t *count, const char **err_desc);
/* MOUSE_MODE {u16 supported_modes; u16 current_mode}. */
int server_parse_main_mouse_mode(const uint8_t *data, size_t len, uint16_t *supported,
                                 uint16_t *current, const char **err_desc);
/* NAME {u32 name_len; u8 name[name_len]} (name_len counts the NUL, if the
 * server sent one): *name borrows. */
int server_parse_main_name(const uint8_t *data, size_t len, const uint8_t **name,
                           uint32_t *name_len, const char **err_desc);
/*
 * The main messages whose body is one u32: MULTI_MEDIA_TIME {time},
 * AGENT_DISCONNECTED {error_code}, AGENT_TOKEN and AGENT_CONNECTED_TOKENS
 * {num_tokens}. Another type is CLOVE_E_UNSUPPORTED.
 */
int server_parse_main_u32(uint16_t type, const uint8_t *data, size_t len, uint32_t *value,
                          const char **err_desc);

/* ---- display channel ---- */
struct server_surface_create {
    uint32_t surface_id, width, height, format, flags;
};
/* Also checks 1 <= width, height <= SERVER_PARSE_MAX_DIM. */
int server_parse_surface_create(const uint8_t *data, size_t len, struct server_surface_create *out,
                                const char **err_desc);
int server_parse_surface_destroy(const uint8_t *data, size_t len, uint32_t *surface_id,
                                 const char **err_desc);

/*
 * MONITORS_CONFIG: checks that every head lies inside the body and keeps
 * the first min(max_heads, SERVER_PARSE_MAX_HEADS) in heads[0..*count).
 */
int server_parse_monitors_config(const uint8_t *data, size_t len, struct wire_head *heads,
                                 uint16_t max_heads, uint16_t *count, uint16_t *max_allowed,
                                 const char **err_desc);

/*
 * A SpiceImage as it sits in the body: its descriptor, and the bytes of its
 * type-specific part, checked to lie inside the body.
 *  - BITMAP: bitmap.* and `data` = the pixel rows (height * stride bytes);
 *    the palette, if any, as `palette` (num_palette LE u32 entries) or, with
 *    PAL_FROM_CACHE, only palette_id.
 *  - QUIC, LZ_RGB, GLZ_RGB, JPEG, LZ4: `data` = the BinaryData payload.
 *  - LZ_PLT: lz_plt_flags, the palette as for BITMAP, `data` = the LZ stream.
 *  - ZLIB_GLZ_RGB and JPEG_ALPHA: `data` = the whole type-specific part,
 *    headers included, as zlib_glz_decode() / jpeg_codec_decode_alpha()
 *    take it.
 *  - SURFACE: surface_id.  FROM_CACHE, FROM_CACHE_LOSSLESS: nothing.
 */
struct server_image {
    uint64_t id;
    uint8_t type;  /* SPICE_IMAGE_TYPE_* */
    uint8_t flags; /* SPICE_IMAGE_FLAGS_* */
    uint32_t width, height;
    struct {
        uint8_t format; /* SPICE_BITMAP_FMT_* */
        uint8_t flags;  /* SPICE_BITMAP_FLAGS_* */
        uint32_t stride;
    } bitmap;
    uint8_t lz_plt_flags;
    bool palette_from_cache;
    uint64_t palette_id;    /* the palette's unique id (cached or sent) */
    const uint8_t *palette; /* borrows: num_palette LE u32, or NULL */
    uint16_t num_palette;
    uint32_t surface_id;
    const uint8_t *data; /* borrows */
    size_t size;
};

/*
 * Parses the SpiceImage that starts at `offset` of the body. Dimensions are
 * checked against SERVER_PARSE_MAX_DIM (0 x 0 is refused). Returns 0 or < 0.
 */
int server_parse_image(const uint8_t *body, size_t len, uint32_t offset, struct server_image *out,
                       const char **err_desc);

/*
 * A Brush: NONE, SOLID (color) or PATTERN (an image tiled with its pixel
 * (0, 0) at pos).
 */
struct server_brush {
    uint8_t type; /* SPICE_BRUSH_TYPE_* */
    uint32_t color;
    struct server_image pattern; /* PATTERN only */
    struct wire_point pos;       /* PATTERN only */
};

/* A QMask: has_bitmap false when its Image pointer is NULL (no mask). */
struct server_qmask {
    uint8_t flags; /* SPICE_MASK_FLAGS_INVERS */
    struct wire_point pos;
    bool has_bitmap;
    struct server_image bitmap;
};

/*
 * A Path, checked to lie inside the body: `segments` borrows num_segments
 * PathSegment records back to back, each {u8 flags; u32 count;
 * count x PointFix (i32 x, i32 y, 28.4 fixed)}, `size` bytes in all;
 * num_points is the sum of the counts.
 */
struct server_path {
    uint32_t num_segments;
    uint32_t num_points;
    const uint8_t *segments; /* borrows */
    size_t size;
};

/* A LineAttr: with SPICE_LINE_FLAGS_STYLED, style_nseg LE i32 dash lengths (28.4). */
struct server_line_attr {
    uint8_t flags;
    uint8_t style_nseg;
    const uint8_t *style; /* borrows, or NULL */
};

/*
 * A String of raster glyphs, checked to lie inside the body: `glyphs`
 * borrows `length` records back to back, each {Point render_pos;
 * Point glyph_origin; u16 width; u16 height; data[server_glyph_size()]},
 * `size` bytes in all.
 */
struct server_string {
    uint16_t length;
    uint8_t flags;         /* SPICE_STRING_FLAGS_RASTER_A1 / _A4 / _A8 (the first present wins;
                              with none, length is 0: no glyph follows, as in the reference) */
    const uint8_t *glyphs; /* borrows */
    size_t size;
};

/* Bytes of one raster glyph's bitmap for a string's flags (0: unknown flags). */
uint64_t server_glyph_size(uint8_t string_flags, uint16_t width, uint16_t height);

/* Stream ids above this are refused (the protocol's own limit is 64 live streams). */
#define SERVER_PARSE_MAX_STREAM_ID   4095
#define SERVER_PARSE_MAX_PATH_POINTS (1u << 20)

/* A draw message: DisplayBase and the per-type fields. */
struct server_draw {
    uint16_t type; /* SPICE_MSG_DISPLAY_DRAW_* or SPICE_MSG_DISPLAY_COPY_BITS */
    uint32_t surface_id;
    struct wire_rect box;
    uint8_t clip_type;         /* SPICE_CLIP_TYPE_NONE or _RECTS */
    uint32_t num_clip_rects;   /* RECTS only */
    const uint8_t *clip_rects; /* borrows: num_clip_rects x (top, left, bottom, right) i32 */
    /* FILL, OPAQUE, COPY, BLEND, BLACKNESS, WHITENESS, INVERS, ROP3 */
    struct server_qmask mask;
    union {
        struct {
            struct server_brush brush;
            uint16_t rop_descriptor;
        } fill;
        struct {
            bool has_src;
            struct server_image src;
            struct wire_rect src_area;
            uint16_t rop_descriptor;
            uint8_t scale_mode;
        } copy; /* also BLEND */
        struct {
            bool has_src;
            struct server_image src;
            struct wire_rect src_area;
            struct server_brush brush;
            uint16_t rop_descriptor;
            uint8_t scale_mode;
        } opaque;
        struct {
            bool has_src;
            struct server_image src;
            struct wire_rect src_area;
            struct server_brush brush;
            uint8_t rop3;
            uint8_t scale_mode;
        } rop3;
        struct {
            struct server_path path;
            struct server_line_attr attr;
            struct server_brush brush;
            uint16_t fore_mode, back_mode;
        } stroke;
        struct {
            struct server_string str;
            struct wire_rect back_area;
            struct server_brush fore_brush, back_brush;
            uint16_t fore_mode, back_mode;
        } text;
        struct {
            bool has_src;
            struct server_image src;
            struct wire_rect src_area;
            uint32_t src_color, true_color;
        } transparent;
        struct {
            uint8_t alpha_flags;
            uint8_t alpha;
            bool has_src;
            struct server_image src;
            struct wire_rect src_area;
        } alpha_blend;
        struct {
            struct wire_point src_pos;
        } copy_bits;
        struct {
            uint32_t flags; /* SPICE_COMPOSITE_* */
            struct server_image src;
            bool has_mask;
            struct server_image mask;
            bool has_src_transform, has_mask_transform;
            uint32_t src_transform[6];
            uint32_t mask_transform[6];
            int16_t src_origin_x, src_origin_y;
            int16_t mask_origin_x, mask_origin_y;
        } composite;
    } u;
};

/*
 * Parses any draw message: DRAW_FILL, _OPAQUE, _COPY, _BLEND, _BLACKNESS,
 * _WHITENESS, _INVERS, _ROP3, _STROKE, _TEXT, _TRANSPARENT, _ALPHA_BLEND,
 * _COMPOSITE and COPY_BITS, with brushes (solid or pattern), masks, paths
 * and glyph strings. Every image, pattern, mask, path, style and string
 * pointer is checked to lie inside the body. Another message type gives
 * CLOVE_E_UNSUPPORTED.
 */
int server_parse_draw(uint16_t type, const uint8_t *data, size_t len, struct server_draw *out,
                      const char **err_desc);

/*
 * What the start of a draw says about its source when that is a raw
 * bitmap, read from the first `len` bytes of the body while the rest may
 * still be arriving: where its pixels begin and, for DRAW_COPY, whether the
 * draw is a plain put of the bitmap (the fields a receiver needs to write
 * the pixels straight into the surface).
 */
struct server_draw_raw {
    uint16_t type;
    uint32_t surface_id;
    struct wire_rect box;
    uint8_t clip_type;
    bool is_copy; /* DRAW_COPY: src_area, rop_descriptor and has_mask are set */
    struct wire_rect src_area;
    uint16_t rop_descriptor;
    bool has_mask;
    uint8_t image_flags; /* SPICE_IMAGE_FLAGS_* */
    uint8_t bitmap_format, bitmap_flags;
    uint32_t width, height, stride; /* the bitmap's (not the image descriptor's) */
    size_t pixels_offset;           /* from the start of the body */
};

/*
 * For DRAW_COPY, _OPAQUE and _BLEND whose source is a raw BITMAP, fills
 * *out. Returns 0, CLOVE_E_AGAIN when `len` does not reach the bitmap's
 * header yet, or CLOVE_E_UNSUPPORTED (another message or image type, or an
 * inconsistent header: the full parse decides on those). Nothing here is
 * checked against the rest of the message: server_parse_draw() does that.
 */
int server_parse_draw_raw(uint16_t type, const uint8_t *data, size_t len,
                          struct server_draw_raw *out);

/* Reads clip rect i of a parsed draw (i < num_clip_rects). */
struct wire_rect server_draw_clip_rect(const struct server_draw *d, uint32_t i);

/*
 * INVAL_LIST {u16 count; ResourceID {u8 type; u64 id} resources[count]}:
 * *resources borrows the count 9-byte records; read one with
 * server_inval_list_item().
 */
int server_parse_inval_list(const uint8_t *data, size_t len, uint16_t *count,
                            const uint8_t **resources, const char **err_desc);
void server_inval_list_item(const uint8_t *resources, uint16_t i, uint8_t *type, uint64_t *id);

/* INVAL_PALETTE {u64 id} (also cursor INVAL_ONE). */
int server_parse_inval_one(const uint8_t *data, size_t len, uint64_t *id, const char **err_desc);

/*
 * The video stream messages: STREAM_CREATE, _DATA, _DATA_SIZED, _CLIP,
 * _DESTROY, _DESTROY_ALL and _ACTIVATE_REPORT. Only what a client needs to
 * keep track of streams is kept; frame data is borrowed, not decoded.
 */
struct server_stream {
    uint16_t type;
    uint32_t id;                    /* every type but DESTROY_ALL */
    uint32_t surface_id;            /* CREATE */
    uint8_t flags;                  /* CREATE: SPICE_STREAM_FLAGS_TOP_DOWN */
    uint8_t codec_type;             /* CREATE: SPICE_VIDEO_CODEC_TYPE_* */
    uint32_t width, height;         /* CREATE: stream size; DATA_SIZED: frame size */
    uint32_t src_width, src_height; /* CREATE */
    struct wire_rect dest;          /* CREATE, DATA_SIZED */
    uint8_t clip_type;              /* CREATE, CLIP */
    uint32_t num_clip_rects;
    uint32_t mm_time;    /* DATA, DATA_SIZED */
    const uint8_t *data; /* DATA, DATA_SIZED: borrows the frame */
    uint32_t data_size;
    uint32_t unique_id, max_window_size, timeout_ms; /* ACTIVATE_REPORT */
};
/* Stream ids must be <= SERVER_PARSE_MAX_STREAM_ID (else CLOVE_E_RANGE). */
int server_parse_stream(uint16_t type, const uint8_t *data, size_t len, struct server_stream *out,
                        const char **err_desc);

#endif
