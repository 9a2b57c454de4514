/*
 * Parsing of QXL commands from guest memory into self-contained structs.
 *
 * Everything the rest of the server needs is copied out of guest memory
 * here, once, after validation: pixel data, clip rectangles, cursor shapes.
 * The guest can then be given its resource back at once (release ring) and
 * cannot change what we send behind our back. Every guest pointer goes through
 * memslot_translate; chunk lists are bounded in length and total size; sizes
 * are checked for overflow. A bad command returns CLOVE_E_INVALID with
 * *err_desc set; it never aborts.
 *
 * Thread: worker.
 */
#ifndef CLOVE_DISPLAY_QXL_PARSE_H
#define CLOVE_DISPLAY_QXL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "display/memslot.h"

/* Limits beyond which a guest command is rejected. */
#define QXL_MAX_CHUNKS     65536
#define QXL_MAX_DATA_SIZE  (256u * 1024 * 1024)
#define QXL_MAX_IMAGE_DIM  16384
#define QXL_MAX_CLIP_RECTS 65536
#define QXL_MAX_CURSOR_DIM 512

struct qxl_rect {
    int32_t top, left, bottom, right;
};

struct qxl_point {
    int32_t x, y;
};

/* A bitmap image copied out of guest memory. */
struct qxl_image {
    uint64_t id;          /* QXLImageDescriptor.id */
    uint8_t type;         /* SPICE_IMAGE_TYPE_BITMAP, or _SURFACE (no pixels) */
    uint32_t surface_id;  /* SPICE_IMAGE_TYPE_SURFACE: the source surface */
    uint8_t desc_flags;   /* QXL image descriptor flags (cache hints) */
    uint8_t format;       /* SPICE_BITMAP_FMT_* */
    uint8_t bitmap_flags; /* QXL_BITMAP_* (TOP_DOWN, UNSTABLE, DIRECT) */
    uint32_t width, height;
    uint32_t stride; /* bytes per row in `data` as copied (the guest's stride) */
    uint8_t *data;   /* owns, unless data_borrowed: height * stride bytes, guest's row order */
    bool data_borrowed; /* data belongs to someone else and outlives this image (the client
                         * draws a raw bitmap straight from the message holding it) */
    /* palette for the 1/4/8-bit formats, if any */
    uint32_t num_palette;
    uint32_t *palette; /* owns */
    uint64_t palette_unique;
};

/*
 * A brush: SPICE_BRUSH_TYPE_NONE, _SOLID (color, 0xAARRGGBB as the surface
 * stores it) or _PATTERN (a tiled image whose pixel (0, 0) lies at
 * pattern_pos in surface coordinates).
 */
struct qxl_brush {
    uint32_t type;
    uint32_t color;
    struct qxl_image *pattern; /* owns; _PATTERN only */
    struct qxl_point pattern_pos;
};

/*
 * A 1-bit mask (SpiceQMask): where its bit is set (or clear, with
 * SPICE_MASK_FLAGS_INVERS) the operation draws. Bit (0, 0) of the bitmap
 * lies at `pos` inside the bitmap relative to the bbox's top-left: surface
 * pixel (bbox.left + x, bbox.top + y) uses bitmap pixel (pos.x + x, pos.y + y).
 */
struct qxl_qmask {
    uint8_t flags;             /* SPICE_MASK_FLAGS_INVERS */
    struct qxl_point pos;
    struct qxl_image *bitmap;  /* owns; NULL: no mask */
};

/* A path for STROKE: segments of 28.4 fixed-point points. */
struct qxl_path_seg {
    uint32_t flags;                 /* SPICE_PATH_BEGIN / END / CLOSE / BEZIER */
    uint32_t count;                 /* points in this segment */
    const struct qxl_point *points; /* borrows from qxl_path.points; 28.4 fixed */
};

struct qxl_path {
    uint32_t num_segments;
    struct qxl_path_seg *segments; /* owns */
    uint32_t num_points;
    struct qxl_point *points;      /* owns; every segment's points, 28.4 fixed */
};

struct qxl_line_attr {
    uint8_t flags;       /* SPICE_LINE_FLAGS_STYLED, _START_WITH_GAP */
    uint8_t join_style;  /* SPICE_LINE_JOIN_* (QXL only; not on the wire) */
    uint8_t end_style;   /* SPICE_LINE_CAP_* (QXL only; not on the wire) */
    uint8_t style_nseg;
    uint32_t width;       /* 28.4 fixed (QXL only; the wire draws zero-width lines) */
    uint32_t miter_limit; /* 28.4 fixed (QXL only) */
    uint32_t *style;      /* owns; style_nseg dash lengths, 28.4 fixed */
};

/* One glyph of a TEXT string: a 1, 4 or 8 bits-per-pixel alpha bitmap. */
struct qxl_glyph {
    struct qxl_point render_pos;   /* where the glyph origin lands on the surface */
    struct qxl_point glyph_origin; /* the origin inside the bitmap (bitmap (0,0) is at
                                      render_pos + glyph_origin) */
    uint16_t width, height;
    const uint8_t *data; /* borrows from qxl_glyph_string.data; `height` rows of
                            qxl_glyph_stride(flags, width) bytes, in the guest's
                            order (the reference's canvas ignores _TOP_DOWN, and so
                            does ours) */
};

struct qxl_glyph_string {
    uint16_t length;         /* number of glyphs */
    uint16_t flags;          /* SPICE_STRING_FLAGS_RASTER_A1 / _A4 / _A8, _TOP_DOWN */
    struct qxl_glyph *glyphs; /* owns; `length` glyphs */
    uint8_t *data;            /* owns; every glyph's bitmap */
};

/* Bytes per glyph row for a string's raster flags (0 for unknown flags). */
static inline uint32_t qxl_glyph_stride(uint16_t flags, uint16_t width)
{
    if (flags & 1u /* SPICE_STRING_FLAGS_RASTER_A1 */) {
        return ((uint32_t)width + 7) / 8;
    }
    if (flags & 2u /* SPICE_STRING_FLAGS_RASTER_A4 */) {
        return ((uint32_t)width * 4 + 7) / 8;
    }
    if (flags & 4u /* SPICE_STRING_FLAGS_RASTER_A8 */) {
        return width;
    }
    return 0;
}

/*
 * One draw command, in the form shared by the server (parsed from guest
 * memory) and the client (parsed from the wire, images decoded): the
 * canvas draws it, the server's writers send it.
 */
struct qxl_drawable {
    uint32_t surface_id;
    uint8_t effect;
    uint8_t type; /* QXL_DRAW_* */
    uint32_t mm_time;
    struct qxl_rect bbox;
    uint32_t clip_type; /* SPICE_CLIP_TYPE_NONE or _RECTS */
    uint32_t num_clip_rects;
    struct qxl_rect *clip_rects; /* owns */
    int32_t surfaces_dest[3];
    struct qxl_rect surfaces_rects[3];
    uint64_t release_id;
    /* FILL, OPAQUE, COPY, BLEND, ROP3, BLACKNESS, WHITENESS, INVERS */
    struct qxl_qmask mask;
    union {
        struct {
            struct qxl_brush brush;
            uint16_t rop_descriptor; /* SPICE_ROPD_* */
        } fill;
        struct {
            struct qxl_image *src; /* owns (NULL if the source is not an image we parse) */
            struct qxl_rect src_area;
            uint16_t rop_descriptor;
            uint8_t scale_mode;
        } copy; /* also BLEND, whose layout is the same */
        struct {
            struct qxl_image *src; /* owns */
            struct qxl_rect src_area;
            struct qxl_brush brush;
            uint16_t rop_descriptor;
            uint8_t scale_mode;
        } opaque;
        struct {
            struct qxl_image *src; /* owns */
            struct qxl_rect src_area;
            uint32_t src_color;  /* the transparent colour, in the source's format */
            uint32_t true_color; /* the same as 0xRRGGBB */
        } transparent;
        struct {
            uint16_t alpha_flags; /* SPICE_ALPHA_FLAGS_DEST_HAS_ALPHA, _SRC_SURFACE_HAS_ALPHA */
            uint8_t alpha;        /* global alpha */
            struct qxl_image *src; /* owns */
            struct qxl_rect src_area;
        } alpha_blend;
        struct {
            struct qxl_image *src; /* owns */
            struct qxl_rect src_area;
            struct qxl_brush brush;
            uint8_t rop3; /* ternary raster operation of source, pattern, destination */
            uint8_t scale_mode;
        } rop3;
        struct {
            struct qxl_path path;
            struct qxl_line_attr attr;
            struct qxl_brush brush;
            uint16_t fore_mode, back_mode; /* SPICE_ROPD_* */
        } stroke;
        struct {
            struct qxl_glyph_string str;
            struct qxl_rect back_area;
            struct qxl_brush fore_brush, back_brush;
            uint16_t fore_mode, back_mode; /* SPICE_ROPD_* */
        } text;
        struct {
            struct qxl_point src_pos;
        } copy_bits;
        struct {
            uint32_t flags;          /* QXL/SPICE composite flags: op, filters, repeats */
            struct qxl_image *src;   /* owns; bitmap or surface */
            struct qxl_image *mask;  /* owns; NULL when there is none */
            bool has_src_transform, has_mask_transform;
            uint32_t src_transform[6]; /* fixed 16.16: t00 t01 t02 t10 t11 t12 */
            uint32_t mask_transform[6];
            int16_t src_origin_x, src_origin_y;
            int16_t mask_origin_x, mask_origin_y;
        } composite;
    } u;
};

struct qxl_update_cmd {
    struct qxl_rect area;
    uint32_t update_id;
    uint32_t surface_id;
    uint64_t release_id;
};

struct qxl_surface_cmd {
    uint32_t surface_id;
    uint8_t type; /* QXL_SURFACE_CMD_CREATE / _DESTROY */
    uint32_t flags;
    uint32_t format, width, height;
    int32_t stride;
    uint64_t data_addr; /* guest address of the pixels (not copied) */
    uint64_t release_id;
};

struct qxl_cursor_shape {
    uint64_t unique;
    uint16_t type; /* SPICE_CURSOR_TYPE_* */
    uint16_t width, height, hot_spot_x, hot_spot_y;
    uint32_t data_size;
    uint8_t *data; /* owns */
};

struct qxl_cursor_cmd {
    uint8_t type; /* QXL_CURSOR_SET / MOVE / HIDE / TRAIL */
    struct qxl_point position;
    uint8_t visible;
    struct qxl_cursor_shape *shape; /* owns; SET only */
    uint16_t trail_length, trail_frequency;
    uint64_t release_id;
};

struct qxl_message_cmd {
    char text[256]; /* NUL-terminated, truncated, non-printables replaced */
    uint64_t release_id;
};

/*
 * Each parser reads the command at guest address `addr` in memslot `group`.
 * On success returns 0 and fills *out, which the caller finishes with the
 * matching *_finish(). On failure returns a negative code, sets *err_desc,
 * and leaves nothing to free; the caller releases the resource through
 * qxl_release_info() whenever that returns non-NULL.
 */
int qxl_parse_drawable(const struct memslot_table *t, uint32_t group, uint64_t addr,
                       struct qxl_drawable *out, const char **err_desc);
/*
 * The same for a QXLCompatDrawable (commands flagged QXL_COMMAND_FLAG_COMPAT
 * by old guests): surface_id is 0 and surfaces_dest are all -1. Colours are
 * copied as they are; converting QXL_COMMAND_FLAG_COMPAT_16BPP colours is
 * left to the caller.
 */
int qxl_parse_compat_drawable(const struct memslot_table *t, uint32_t group, uint64_t addr,
                              struct qxl_drawable *out, const char **err_desc);
/* Frees what a parsed drawable owns (per its type) and zeroes it. Accepts NULL. */
void qxl_drawable_finish(struct qxl_drawable *d);
/* Frees an image made by the parsers (data, palette, the struct). Accepts NULL. */
void qxl_image_free(struct qxl_image *img);

int qxl_parse_update(const struct memslot_table *t, uint32_t group, uint64_t addr,
                     struct qxl_update_cmd *out, const char **err_desc);
int qxl_parse_surface(const struct memslot_table *t, uint32_t group, uint64_t addr,
                      struct qxl_surface_cmd *out, const char **err_desc);
int qxl_parse_cursor(const struct memslot_table *t, uint32_t group, uint64_t addr,
                     struct qxl_cursor_cmd *out, const char **err_desc);
void qxl_cursor_cmd_finish(struct qxl_cursor_cmd *c);
int qxl_parse_message(const struct memslot_table *t, uint32_t group, uint64_t addr,
                      struct qxl_message_cmd *out, const char **err_desc);

/*
 * Every QXL command struct starts with its QXLReleaseInfo. Returns the host
 * pointer to it (for QXLReleaseInfoExt.info, handed back through the host's
 * release_resource), or NULL if `addr` does not translate.
 */
void *qxl_release_info(const struct memslot_table *t, uint32_t group, uint64_t addr);

#endif
