/*
 * overlay: clove-view's statistics box, drawn with a built-in 5x7 font
 * into an ARGB buffer the viewer uploads as a blended texture.
 */
#ifndef CLOVE_VIEW_OVERLAY_H
#define CLOVE_VIEW_OVERLAY_H

#include <stdint.h>

/* Glyph cell size in pixels at scale 1 (5x7 glyphs with a 1-pixel gap). */
#define OVERLAY_CELL_W 6
#define OVERLAY_CELL_H 9
#define OVERLAY_MARGIN 4

/*
 * The size of the box holding `text` (lines split at '\n') at `scale`
 * (>= 1). Thread: any.
 */
void overlay_measure(const char *text, int scale, int *width, int *height);

/*
 * Draws `text` into argb (width x height pixels, row stride = width,
 * caller's): a translucent dark background and white glyphs. Lowercase
 * letters are drawn as capitals; characters without a glyph as a box.
 * Thread: any.
 */
void overlay_draw(uint32_t *argb, int width, int height, const char *text, int scale);

#endif
