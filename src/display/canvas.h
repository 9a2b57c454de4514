/*
 * The server's software canvas: applies the draw operations it receives to
 * a surface in host memory, so that the surface always holds what clients
 * are shown (for a client that connects later, and for update_area).
 *
 * This first version draws fills and copies of bitmap images with clip
 * rectangles, ROP descriptors and nearest-neighbour scaling onto 32-bit
 * surfaces. The full operation set, pixman and the client's canvas come in
 * later issues; other operations return CLOVE_E_UNSUPPORTED.
 *
 * Pure: no I/O, no logging. Thread: any (the caller owns the surface).
 */
#ifndef CLOVE_DISPLAY_CANVAS_H
#define CLOVE_DISPLAY_CANVAS_H

#include <stdint.h>

#include "display/qxl_parse.h"

struct canvas_surface {
    uint8_t *line0;  /* borrows: the top row */
    int32_t stride;  /* bytes from one row to the next (negative: bottom-up memory) */
    uint32_t width, height;
    uint32_t format; /* SPICE_SURFACE_FMT_* */
};

/* Bytes per pixel of a surface format, or 0 if unknown. */
unsigned canvas_format_bpp(uint32_t format);

/* Returns 0, or CLOVE_E_UNSUPPORTED for surface formats or ROPs not drawn yet. */
int canvas_fill(struct canvas_surface *dst, const struct qxl_rect *bbox,
                const struct qxl_rect *clips, uint32_t num_clips, uint32_t color,
                uint16_t rop_descriptor);
int canvas_copy(struct canvas_surface *dst, const struct qxl_rect *bbox,
                const struct qxl_rect *clips, uint32_t num_clips, const struct qxl_image *src,
                const struct qxl_rect *src_area, uint16_t rop_descriptor);

/* Reads the pixel of a bitmap image at (x, y) as 0xAARRGGBB (bounds are the caller's). */
uint32_t canvas_image_pixel(const struct qxl_image *img, uint32_t x, uint32_t y);

#endif
