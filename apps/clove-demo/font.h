/*
 * font: the demo's own 5x7 bitmap font (with two descender rows) for ASCII
 * 32..126, drawn into a 32-bit xRGB framebuffer.
 *
 * Each glyph sits in a FONT_CELL_W x FONT_CELL_H cell; drawing is done at an
 * integer scale so titles can be larger. Pixels outside the glyph are left
 * untouched (transparent text), and everything is clipped to the target.
 *
 * Thread: any (pure functions over caller-owned memory).
 */
#ifndef CLOVE_DEMO_FONT_H
#define CLOVE_DEMO_FONT_H

#include <stdint.h>

#define FONT_GLYPH_W 5
#define FONT_GLYPH_H 9
#define FONT_CELL_W  6
#define FONT_CELL_H  11

/* Target framebuffer: borrows pixels; stride in pixels, not bytes. */
struct font_target {
    uint32_t *pixels;
    int width;
    int height;
    int stride_pixels;
};

/*
 * Draws one character with its cell's top-left at (x, y). Characters outside
 * 32..126 are drawn as a hollow box. Returns the advance in pixels.
 */
int font_draw_char(const struct font_target *t, int x, int y, char ch, uint32_t color, int scale);

/* Draws a NUL-terminated string on one line; returns the total advance. */
int font_draw_text(const struct font_target *t, int x, int y, const char *text, uint32_t color,
                   int scale);

/* Width in pixels of text drawn at scale. */
int font_text_width(const char *text, int scale);

#endif
