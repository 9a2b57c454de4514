/*
 * Parsers of server -> client message bodies (spice.proto "server:"
 * sections): the client side's mirror of server_msg.h, whose writers
 * document each layout.
 *
 * Pure: no I/O, no logging, no allocation. Each parser reads exactly one
 * body (`len` bytes, the data header's size) and returns the bytes it
 * consumed, or a negative CLOVE_E_* with *err_desc set to a static string:
 * CLOVE_E_INVALID for a short or inconsistent body, CLOVE_E_RANGE for a
 * count or size beyond the limits below, CLOVE_E_UNSUPPORTED for a valid
 * layout we do not draw (pattern brushes, masks, ...). Trailing bytes after
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

/* ---- display channel ---- */
struct server_surface_create {
    uint32_t surface_id, width, height, format, flags;
};
/* Also checks 1 <= width, height <= SERVER_PARSE_MAX_DIM. */
int server_parse_surface_create(const uint8_t *data, size_t len, struct server_surface_create *out,
                                const char **err_desc);
int server_parse_surface_destroy(const uint8_t *data, size_t len, uint32_t *surface_id,
                                 const char **err_desc);

/* MONITORS_CONFIG: count heads (<= max_heads and SERVER_PARSE_MAX_HEADS). */
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

/* A draw message: DisplayBase and the per-type fields. */
struct server_draw {
    uint16_t type; /* SPICE_MSG_DISPLAY_DRAW_* or SPICE_MSG_DISPLAY_COPY_BITS */
    uint32_t surface_id;
    struct wire_rect box;
    uint8_t clip_type;         /* SPICE_CLIP_TYPE_NONE or _RECTS */
    uint32_t num_clip_rects;   /* RECTS only */
    const uint8_t *clip_rects; /* borrows: num_clip_rects x (top, left, bottom, right) i32 */
    union {
        struct {
            uint32_t color;
            uint16_t rop_descriptor;
        } fill;
        struct {
            bool has_src;
            struct server_image src;
            struct wire_rect src_area;
            uint16_t rop_descriptor;
            uint8_t scale_mode;
        } copy;
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
 * Parses DRAW_FILL (solid brush only), DRAW_COPY, COPY_BITS,
 * DRAW_BLACKNESS/WHITENESS/INVERS and DRAW_COMPOSITE. A mask (QMask with a
 * bitmap) or a pattern brush gives CLOVE_E_UNSUPPORTED, as does any other
 * message type.
 */
int server_parse_draw(uint16_t type, const uint8_t *data, size_t len, struct server_draw *out,
                      const char **err_desc);

/* Reads clip rect i of a parsed draw (i < num_clip_rects). */
struct wire_rect server_draw_clip_rect(const struct server_draw *d, uint32_t i);

#endif
