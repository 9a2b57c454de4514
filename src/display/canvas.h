/*
 * The server's software canvas: applies the draw operations it receives to
 * a surface in host memory, so that the surface always holds what clients
 * are shown (for a client that connects later, and for update_area).
 *
 * It draws every SPICE draw operation the way the reference client's
 * canvas (spice-common canvas_base.c / sw_canvas.c) does, so that pixels
 * match spice-gtk's: fills with solid or pattern brushes and any ROP
 * descriptor, copies and blends (bitmaps or other surfaces, scaled or
 * not), opaque, transparent (colour key), alpha blend, rop3, zero-width
 * strokes, glyph text, blackness/whiteness/invert, copy-bits and
 * composites, with clip rectangles and 1-bit masks, onto 32-bit and
 * 16-bit surfaces (A8 for the ops that only copy or fill). The ops live
 * in canvas_ops.c, canvas_raster.c and canvas_stroke.c.
 *
 * Pure: no I/O, no logging. Thread: any (the caller owns the surface).
 */
#ifndef CLOVE_DISPLAY_CANVAS_H
#define CLOVE_DISPLAY_CANVAS_H

#include <pixman.h>
#include <stdint.h>

#include "display/qxl_parse.h"

struct canvas_surface {
    uint8_t *line0; /* borrows: the top row */
    int32_t stride; /* bytes from one row to the next (negative: bottom-up memory) */
    uint32_t width, height;
    uint32_t format;       /* SPICE_SURFACE_FMT_* */
    pixman_image_t *image; /* owns: a pixman view of the same memory, or NULL */
};

/* Source surfaces of copies and composites, looked up by id. */
typedef struct canvas_surface *(*canvas_lookup_fn)(void *opaque, uint32_t surface_id);

/* Sets up a surface over caller memory (borrowed). Returns 0 or < 0. */
int canvas_surface_init(struct canvas_surface *s, uint8_t *line0, int32_t stride, uint32_t width,
                        uint32_t height, uint32_t format);
void canvas_surface_finish(struct canvas_surface *s);

/* Bytes per pixel of a surface format, or 0 if unknown. */
unsigned canvas_format_bpp(uint32_t format);

/* Returns 0, or CLOVE_E_UNSUPPORTED for surface formats or ROPs not drawn yet. */
int canvas_fill(struct canvas_surface *dst, const struct qxl_rect *bbox,
                const struct qxl_rect *clips, uint32_t num_clips, uint32_t color,
                uint16_t rop_descriptor);
int canvas_copy(struct canvas_surface *dst, const struct qxl_rect *bbox,
                const struct qxl_rect *clips, uint32_t num_clips, const struct qxl_image *src,
                const struct qxl_rect *src_area, uint16_t rop_descriptor, uint8_t scale_mode,
                canvas_lookup_fn lookup, void *opaque);
/* Copies the bbox-sized area at src_pos to bbox within one surface. */
int canvas_copy_bits(struct canvas_surface *dst, const struct qxl_rect *bbox,
                     const struct qxl_rect *clips, uint32_t num_clips, struct qxl_point src_pos);
/* QXL_DRAW_COMPOSITE (d->u.composite) through pixman. */
int canvas_composite(struct canvas_surface *dst, const struct qxl_drawable *d,
                     canvas_lookup_fn lookup, void *opaque);

/*
 * Draws any draw command (d->type is QXL_DRAW_*, including QXL_COPY_BITS)
 * with its clip rects, mask and brushes: the one entry point the server's
 * worker and the client both use. Image sources (bitmaps; SURFACE images
 * through `lookup`) must already be decoded into qxl_image bitmaps.
 * Returns 0; CLOVE_E_INVALID for geometry or data that cannot be drawn
 * (nothing was drawn); CLOVE_E_UNSUPPORTED for an op or surface format
 * the reference does not draw either (or a surface without a pixman view);
 * CLOVE_E_NOMEM.
 */
int canvas_draw(struct canvas_surface *dst, const struct qxl_drawable *d, canvas_lookup_fn lookup,
                void *opaque);

/* Reads the pixel of a bitmap image at (x, y) as 0xAARRGGBB (bounds are the caller's). */
uint32_t canvas_image_pixel(const struct qxl_image *img, uint32_t x, uint32_t y);

#endif
