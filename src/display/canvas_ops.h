/*
 * The draw operations of the software canvas (canvas_ops.c, and the
 * stroke rasteriser in canvas_stroke.c), behind canvas_draw() in canvas.h.
 *
 * Each operation follows the reference client's canvas (spice-common
 * canvas_base.c and sw_canvas.c): the destination region is the bbox
 * clipped to the surface, the clip rectangles and the 1-bit mask; the
 * operation then draws only inside it. Pure: no logging. Thread: any.
 */
#ifndef CLOVE_DISPLAY_CANVAS_OPS_H
#define CLOVE_DISPLAY_CANVAS_OPS_H

#include <pixman.h>
#include <stdbool.h>
#include <stdint.h>

#include "display/canvas.h"

/* What a brush puts on a pixel: a colour or a tile, combined by a ROP. */
struct canvas_paint {
    bool solid;
    uint32_t color;
    pixman_image_t *tile; /* owns a reference; NULL when solid */
    int32_t tile_x, tile_y;
    uint8_t rop; /* CANVAS_ROP2_* truth table */
};

/* Paints one box (clipped to the destination again) of the surface. */
void canvas_paint_box(struct canvas_surface *dst, const struct canvas_paint *paint,
                      const pixman_box32_t *box);

/*
 * Draws QXL_DRAW_STROKE (d->u.stroke) inside `region` with `paint`: the
 * path flattened to integer polylines, each drawn as zero-width lines.
 * Returns 0 or CLOVE_E_INVALID (nothing drawn) for a malformed path.
 */
int canvas_stroke_draw(struct canvas_surface *dst, const pixman_region32_t *region,
                       const struct qxl_drawable *d, const struct canvas_paint *paint);

/* Any draw op but COPY_BITS and COMPOSITE (canvas.c draws those). */
int canvas_ops_draw(struct canvas_surface *dst, const struct qxl_drawable *d,
                    canvas_lookup_fn lookup, void *opaque);

#endif
