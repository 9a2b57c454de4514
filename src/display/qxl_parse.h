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
    uint8_t *data;   /* owns: height * stride bytes, rows in the guest's order */
    /* palette for the 1/4/8-bit formats, if any */
    uint32_t num_palette;
    uint32_t *palette; /* owns */
    uint64_t palette_unique;
};

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
    union {
        struct {
            uint32_t brush_type; /* SPICE_BRUSH_TYPE_SOLID handled */
            uint32_t color;
            uint16_t rop_descriptor;
        } fill;
        struct {
            struct qxl_image *src; /* owns (NULL if the source is not an image we parse) */
            struct qxl_rect src_area;
            uint16_t rop_descriptor;
            uint8_t scale_mode;
        } copy;
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
        struct {
            bool has_mask; /* a mask bitmap was given (not parsed yet) */
        } mask_only; /* BLACKNESS, WHITENESS, INVERS */
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
/* Frees what a parsed drawable owns and zeroes it. Accepts NULL. */
void qxl_drawable_finish(struct qxl_drawable *d);

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
