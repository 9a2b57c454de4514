/*
 * Pixel-level building blocks of the software canvas (canvas_raster.c):
 * raster operations over whole pixel words, solid and tiled fills, blits,
 * colour-keyed blits, and bitmaps converted to the pixman image a surface
 * of a given format draws from.
 *
 * Every function works on pixman images of 8, 16 or 32 bits per pixel and
 * rectangles the caller has already clipped to the destination (they are
 * checked again; anything outside is skipped). Pure: no logging.
 * Thread: any (the caller owns the images).
 */
#ifndef CLOVE_DISPLAY_CANVAS_RASTER_H
#define CLOVE_DISPLAY_CANVAS_RASTER_H

#include <pixman.h>
#include <stdbool.h>
#include <stdint.h>

#include "display/qxl_parse.h"

/*
 * A two-input raster operation as a 4-bit truth table: bit ((s << 1) | d)
 * is the result for source bit s and destination bit d, applied to every
 * bit of the pixel word (alpha or padding bits included, as the reference
 * client does).
 */
#define CANVAS_ROP2_CLEAR  0x0u
#define CANVAS_ROP2_COPY   0xcu
#define CANVAS_ROP2_NOOP   0xau
#define CANVAS_ROP2_INVERT 0x5u
#define CANVAS_ROP2_AND    0x8u
#define CANVAS_ROP2_SET    0xfu

/* Which drawing input a ROP descriptor's inversion flags refer to. */
enum canvas_rop_input {
    CANVAS_ROP_INPUT_SRC,
    CANVAS_ROP_INPUT_BRUSH,
    CANVAS_ROP_INPUT_DEST,
};

/*
 * The truth table of SPICE ROP descriptor `desc` (SPICE_ROPD_*) when its
 * "source" operand is `src_input` and its "destination" operand is
 * `dest_input`: the operator bit is taken in the order PUT, OR, AND, XOR,
 * BLACKNESS, WHITENESS, INVERS (none: copy).
 */
uint8_t canvas_rop2_from_descriptor(uint16_t desc, enum canvas_rop_input src_input,
                                    enum canvas_rop_input dest_input);

static inline uint32_t canvas_rop2_apply(uint8_t rop, uint32_t s, uint32_t d)
{
    uint32_t r = 0;
    r |= (rop & 1u) ? ~s & ~d : 0;
    r |= (rop & 2u) ? ~s & d : 0;
    r |= (rop & 4u) ? s & ~d : 0;
    r |= (rop & 8u) ? s & d : 0;
    return r;
}

/*
 * A ternary raster operation (the Windows numbering spice-common rop3.c
 * uses: P = 0xf0, S = 0xcc, D = 0xaa): bit ((p << 2) | (s << 1) | d) of
 * rop3 is the result for those input bits.
 */
static inline uint32_t canvas_rop3_apply(uint8_t rop3, uint32_t p, uint32_t s, uint32_t d)
{
    uint32_t r = 0;
    for (unsigned i = 0; i < 8; i++) {
        if (rop3 & (1u << i)) {
            r |= ((i & 4u) ? p : ~p) & ((i & 2u) ? s : ~s) & ((i & 1u) ? d : ~d);
        }
    }
    return r;
}

/* Bits per pixel of a pixman image's format (8, 16, 32, or 1 for a1). */
unsigned canvas_raster_bpp(pixman_image_t *image);

/* Fills box with `value` (truncated to the pixel size) combined by rop. */
void canvas_raster_fill(pixman_image_t *dst, const pixman_box32_t *box, uint32_t value,
                        uint8_t rop);

/* Tiles `tile` (same pixel size) over box; tile pixel (0, 0) lies at
 * (offset_x, offset_y) and repeats in both directions. */
void canvas_raster_tile(pixman_image_t *dst, const pixman_box32_t *box, pixman_image_t *tile,
                        int32_t offset_x, int32_t offset_y, uint8_t rop);

/*
 * Copies the source pixel (box.x1 - offset_x + k, ...) onto each pixel of
 * box, combined by rop; parts of box whose source lies outside `src` are
 * left alone. The source and destination must have the same pixel size.
 */
void canvas_raster_blit(pixman_image_t *dst, const pixman_box32_t *box, pixman_image_t *src,
                        int32_t offset_x, int32_t offset_y, uint8_t rop);

/* The same as a plain copy, skipping source pixels equal to `key` (the low
 * 24 bits for 32-bit pixels, the whole pixel otherwise). */
void canvas_raster_colorkey(pixman_image_t *dst, const pixman_box32_t *box, pixman_image_t *src,
                            int32_t offset_x, int32_t offset_y, uint32_t key);

/*
 * Returns new: the pixels of bitmap `img` as a pixman image a surface of
 * SPICE_SURFACE_FMT_* `surface_format` draws from. With want_original the
 * bitmap keeps its own depth (32-bit with or without alpha, 16-bit 555,
 * A8); otherwise it is converted to the surface's format (keeping alpha
 * for RGBA sources on 32-bit surfaces). Palette bitmaps take the
 * surface's pixel size. When the conversion would only copy the bytes,
 * the image reads the bitmap's memory in place: it must not outlive `img`.
 * NULL for data that cannot be converted.
 */
pixman_image_t *canvas_raster_image(const struct qxl_image *img, uint32_t surface_format,
                                    bool want_original);

/* The pixman format of a surface format, or 0. */
pixman_format_code_t canvas_raster_surface_format(uint32_t surface_format);

#endif
