/*
 * Pixel-level building blocks of the software canvas (see canvas_raster.h).
 *
 * DESIGN: the reference client (spice-common pixman_utils.c) combines
 * pixels with raster operations as plain integer words of the surface's
 * pixel size, alpha or padding bits included, and converts bitmaps to the
 * surface's format before drawing them. We do the same arithmetic so that
 * our pixels match its pixels byte for byte; a raster operation is kept
 * as its truth table rather than a table of functions.
 *
 * INVARIANTS: every loop first clips its box to the destination image
 * and, for blits, to the source image, so no caller-supplied geometry can
 * reach memory outside either image.
 */
#include "display/canvas_raster.h"

#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/qxl_dev.h>

static bool rop_inverts(uint16_t desc, enum canvas_rop_input input)
{
    switch (input) {
    case CANVAS_ROP_INPUT_SRC:
        return (desc & SPICE_ROPD_INVERS_SRC) != 0;
    case CANVAS_ROP_INPUT_BRUSH:
        return (desc & SPICE_ROPD_INVERS_BRUSH) != 0;
    default:
        return (desc & SPICE_ROPD_INVERS_DEST) != 0;
    }
}

/* One bit of the descriptor's operation, for inputs s and d. */
static unsigned rop_descriptor_bit(uint16_t desc, bool inv_s, bool inv_d, unsigned s, unsigned d)
{
    unsigned a = s ^ (inv_s ? 1u : 0u), b = d ^ (inv_d ? 1u : 0u);
    unsigned r;
    if (desc & SPICE_ROPD_OP_PUT) {
        r = a;
    } else if (desc & SPICE_ROPD_OP_OR) {
        r = a | b;
    } else if (desc & SPICE_ROPD_OP_AND) {
        r = a & b;
    } else if (desc & SPICE_ROPD_OP_XOR) {
        r = a ^ b;
    } else if (desc & SPICE_ROPD_OP_BLACKNESS) {
        return 0;
    } else if (desc & SPICE_ROPD_OP_WHITENESS) {
        return 1;
    } else if (desc & SPICE_ROPD_OP_INVERS) {
        return d ^ 1u;
    } else {
        return s; /* no operator: the reference copies */
    }
    return (desc & SPICE_ROPD_INVERS_RES) ? r ^ 1u : r;
}

uint8_t canvas_rop2_from_descriptor(uint16_t desc, enum canvas_rop_input src_input,
                                    enum canvas_rop_input dest_input)
{
    bool inv_s = rop_inverts(desc, src_input), inv_d = rop_inverts(desc, dest_input);
    uint8_t rop = 0;
    for (unsigned s = 0; s < 2; s++) {
        for (unsigned d = 0; d < 2; d++) {
            if (rop_descriptor_bit(desc, inv_s, inv_d, s, d)) {
                rop |= (uint8_t)(1u << ((s << 1) | d));
            }
        }
    }
    return rop;
}

unsigned canvas_raster_bpp(pixman_image_t *image)
{
    return (unsigned)PIXMAN_FORMAT_BPP(pixman_image_get_format(image));
}

static inline uint32_t px_get(const uint8_t *row, int32_t x, unsigned bpp)
{
    switch (bpp) {
    case 32:
        return ((const uint32_t *)(const void *)row)[x];
    case 16:
        return ((const uint16_t *)(const void *)row)[x];
    default:
        return row[x];
    }
}

static inline void px_put(uint8_t *row, int32_t x, unsigned bpp, uint32_t v)
{
    switch (bpp) {
    case 32:
        ((uint32_t *)(void *)row)[x] = v;
        break;
    case 16:
        ((uint16_t *)(void *)row)[x] = (uint16_t)v;
        break;
    default:
        row[x] = (uint8_t)v;
        break;
    }
}

static inline uint32_t px_mask(unsigned bpp)
{
    return bpp == 32 ? 0xffffffffu : bpp == 16 ? 0xffffu : 0xffu;
}

/* Clips box to the image; false when nothing is left or the depth is not
 * one we draw. */
static bool clip_to_image(pixman_image_t *image, const pixman_box32_t *box, pixman_box32_t *out,
                          unsigned *bpp)
{
    *bpp = canvas_raster_bpp(image);
    if (*bpp != 8 && *bpp != 16 && *bpp != 32) {
        return false;
    }
    int32_t w = pixman_image_get_width(image), h = pixman_image_get_height(image);
    out->x1 = box->x1 < 0 ? 0 : box->x1;
    out->y1 = box->y1 < 0 ? 0 : box->y1;
    out->x2 = box->x2 > w ? w : box->x2;
    out->y2 = box->y2 > h ? h : box->y2;
    return out->x1 < out->x2 && out->y1 < out->y2;
}

static inline uint8_t *image_row(pixman_image_t *image, int32_t y)
{
    return (uint8_t *)pixman_image_get_data(image) + (intptr_t)y * pixman_image_get_stride(image);
}

void canvas_raster_fill(pixman_image_t *dst, const pixman_box32_t *box, uint32_t value, uint8_t rop)
{
    pixman_box32_t b;
    unsigned bpp;
    if (!clip_to_image(dst, box, &b, &bpp)) {
        return;
    }
    value &= px_mask(bpp);
    for (int32_t y = b.y1; y < b.y2; y++) {
        uint8_t *row = image_row(dst, y);
        if (rop == CANVAS_ROP2_COPY && bpp == 32) {
            uint32_t *p = (uint32_t *)(void *)row;
            for (int32_t x = b.x1; x < b.x2; x++) {
                p[x] = value;
            }
            continue;
        }
        for (int32_t x = b.x1; x < b.x2; x++) {
            px_put(row, x, bpp, canvas_rop2_apply(rop, value, px_get(row, x, bpp)));
        }
    }
}

/* a mod m in [0, m), for m > 0. */
static inline int32_t mod_pos(int64_t a, int32_t m)
{
    int64_t r = a % m;
    return (int32_t)(r < 0 ? r + m : r);
}

void canvas_raster_tile(pixman_image_t *dst, const pixman_box32_t *box, pixman_image_t *tile,
                        int32_t offset_x, int32_t offset_y, uint8_t rop)
{
    pixman_box32_t b;
    unsigned bpp;
    if (!clip_to_image(dst, box, &b, &bpp) || canvas_raster_bpp(tile) != bpp) {
        return;
    }
    int32_t tw = pixman_image_get_width(tile), th = pixman_image_get_height(tile);
    if (tw <= 0 || th <= 0) {
        return;
    }
    int32_t ty = mod_pos((int64_t)b.y1 - offset_y, th);
    int32_t tx0 = mod_pos((int64_t)b.x1 - offset_x, tw);
    for (int32_t y = b.y1; y < b.y2; y++) {
        uint8_t *row = image_row(dst, y);
        const uint8_t *trow = image_row(tile, ty);
        int32_t tx = tx0;
        for (int32_t x = b.x1; x < b.x2; x++) {
            uint32_t s = px_get(trow, tx, bpp);
            px_put(row, x, bpp,
                   rop == CANVAS_ROP2_COPY ? s : canvas_rop2_apply(rop, s, px_get(row, x, bpp)));
            if (++tx == tw) {
                tx = 0;
            }
        }
        if (++ty == th) {
            ty = 0;
        }
    }
}

/* Clips box so that its source (box - offset) lies inside src too. */
static bool clip_to_source(pixman_image_t *src, pixman_box32_t *b, int32_t offset_x,
                           int32_t offset_y)
{
    int64_t sw = pixman_image_get_width(src), sh = pixman_image_get_height(src);
    int64_t x1 = b->x1, y1 = b->y1, x2 = b->x2, y2 = b->y2;
    if (x1 - offset_x < 0) {
        x1 = offset_x;
    }
    if (y1 - offset_y < 0) {
        y1 = offset_y;
    }
    if (x2 - offset_x > sw) {
        x2 = sw + offset_x;
    }
    if (y2 - offset_y > sh) {
        y2 = sh + offset_y;
    }
    if (x1 >= x2 || y1 >= y2) {
        return false;
    }
    b->x1 = (int32_t)x1;
    b->y1 = (int32_t)y1;
    b->x2 = (int32_t)x2;
    b->y2 = (int32_t)y2;
    return true;
}

void canvas_raster_blit(pixman_image_t *dst, const pixman_box32_t *box, pixman_image_t *src,
                        int32_t offset_x, int32_t offset_y, uint8_t rop)
{
    pixman_box32_t b;
    unsigned bpp;
    if (!clip_to_image(dst, box, &b, &bpp) || canvas_raster_bpp(src) != bpp ||
        !clip_to_source(src, &b, offset_x, offset_y)) {
        return;
    }
    size_t bytes_pp = bpp / 8;
    for (int32_t y = b.y1; y < b.y2; y++) {
        uint8_t *row = image_row(dst, y);
        const uint8_t *srow = image_row(src, y - offset_y);
        if (rop == CANVAS_ROP2_COPY) {
            memmove(row + (size_t)b.x1 * bytes_pp, srow + (size_t)(b.x1 - offset_x) * bytes_pp,
                    (size_t)(b.x2 - b.x1) * bytes_pp);
            continue;
        }
        for (int32_t x = b.x1; x < b.x2; x++) {
            uint32_t s = px_get(srow, x - offset_x, bpp);
            px_put(row, x, bpp, canvas_rop2_apply(rop, s, px_get(row, x, bpp)));
        }
    }
}

void canvas_raster_colorkey(pixman_image_t *dst, const pixman_box32_t *box, pixman_image_t *src,
                            int32_t offset_x, int32_t offset_y, uint32_t key)
{
    pixman_box32_t b;
    unsigned bpp;
    if (!clip_to_image(dst, box, &b, &bpp) || canvas_raster_bpp(src) != bpp ||
        !clip_to_source(src, &b, offset_x, offset_y)) {
        return;
    }
    uint32_t compare = bpp == 32 ? 0xffffffu : px_mask(bpp);
    key &= compare;
    for (int32_t y = b.y1; y < b.y2; y++) {
        uint8_t *row = image_row(dst, y);
        const uint8_t *srow = image_row(src, y - offset_y);
        for (int32_t x = b.x1; x < b.x2; x++) {
            uint32_t s = px_get(srow, x - offset_x, bpp);
            if ((s & compare) != key) {
                px_put(row, x, bpp, s);
            }
        }
    }
}

pixman_format_code_t canvas_raster_surface_format(uint32_t surface_format)
{
    switch (surface_format) {
    case SPICE_SURFACE_FMT_1_A:
        return PIXMAN_a1;
    case SPICE_SURFACE_FMT_8_A:
        return PIXMAN_a8;
    case SPICE_SURFACE_FMT_16_555:
        return PIXMAN_x1r5g5b5;
    case SPICE_SURFACE_FMT_16_565:
        return PIXMAN_r5g6b5;
    case SPICE_SURFACE_FMT_32_xRGB:
        return PIXMAN_x8r8g8b8;
    case SPICE_SURFACE_FMT_32_ARGB:
        return PIXMAN_a8r8g8b8;
    default:
        return 0;
    }
}

static bool is_palette_format(uint8_t format)
{
    switch (format) {
    case SPICE_BITMAP_FMT_1BIT_LE:
    case SPICE_BITMAP_FMT_1BIT_BE:
    case SPICE_BITMAP_FMT_4BIT_LE:
    case SPICE_BITMAP_FMT_4BIT_BE:
    case SPICE_BITMAP_FMT_8BIT:
        return true;
    default:
        return false;
    }
}

/* The bitmap's own depth, as the reference keeps it (palette bitmaps take
 * the surface's format). */
static pixman_format_code_t native_format(uint8_t format, uint32_t surface_format)
{
    if (is_palette_format(format)) {
        pixman_format_code_t pf = canvas_raster_surface_format(surface_format);
        return PIXMAN_FORMAT_BPP(pf) == 32 || PIXMAN_FORMAT_BPP(pf) == 16 ? pf : 0;
    }
    switch (format) {
    case SPICE_BITMAP_FMT_16BIT:
        return PIXMAN_x1r5g5b5;
    case SPICE_BITMAP_FMT_24BIT:
    case SPICE_BITMAP_FMT_32BIT:
        return PIXMAN_x8r8g8b8;
    case SPICE_BITMAP_FMT_RGBA:
        return PIXMAN_a8r8g8b8;
    case SPICE_BITMAP_FMT_8BIT_A:
        return PIXMAN_a8;
    default:
        return 0;
    }
}

/* The format a source is converted to for drawing on a surface: the
 * surface's, with alpha kept (32-bit) only when the source has it. */
static pixman_format_code_t target_format(uint32_t surface_format, bool has_alpha)
{
    pixman_format_code_t pf = canvas_raster_surface_format(surface_format);
    if (has_alpha && pf == PIXMAN_x8r8g8b8) {
        return PIXMAN_a8r8g8b8;
    }
    if (!has_alpha && pf == PIXMAN_a8r8g8b8) {
        return PIXMAN_x8r8g8b8;
    }
    return pf;
}

/* Bytes a row of the bitmap needs, or 0 for an unknown format. */
static uint64_t bitmap_row_bytes(uint8_t format, uint32_t width)
{
    switch (format) {
    case SPICE_BITMAP_FMT_1BIT_LE:
    case SPICE_BITMAP_FMT_1BIT_BE:
        return ((uint64_t)width + 7) / 8;
    case SPICE_BITMAP_FMT_4BIT_LE:
    case SPICE_BITMAP_FMT_4BIT_BE:
        return ((uint64_t)width + 1) / 2;
    case SPICE_BITMAP_FMT_8BIT:
    case SPICE_BITMAP_FMT_8BIT_A:
        return width;
    case SPICE_BITMAP_FMT_16BIT:
        return (uint64_t)width * 2;
    case SPICE_BITMAP_FMT_24BIT:
        return (uint64_t)width * 3;
    case SPICE_BITMAP_FMT_32BIT:
    case SPICE_BITMAP_FMT_RGBA:
        return (uint64_t)width * 4;
    default:
        return 0;
    }
}

static uint32_t palette_entry(const struct qxl_image *img, uint32_t index)
{
    return img->palette && index < img->num_palette ? img->palette[index] : 0;
}

/* Writes the bitmap into `out` (its native depth, or one compatible with
 * it: same bits, alpha maybe ignored), rows flipped for bottom-up data. */
static void bitmap_fill_native(pixman_image_t *out, const struct qxl_image *img)
{
    unsigned bpp = canvas_raster_bpp(out);
    bool top_down = (img->bitmap_flags & QXL_BITMAP_TOP_DOWN) != 0;
    size_t row_bytes = (size_t)bitmap_row_bytes(img->format, img->width);
    for (uint32_t y = 0; y < img->height; y++) {
        const uint8_t *src = img->data + (size_t)y * img->stride;
        uint8_t *dst = image_row(out, (int32_t)(top_down ? y : img->height - 1 - y));
        switch (img->format) {
        case SPICE_BITMAP_FMT_32BIT:
        case SPICE_BITMAP_FMT_RGBA:
        case SPICE_BITMAP_FMT_16BIT:
        case SPICE_BITMAP_FMT_8BIT_A:
            memcpy(dst, src, row_bytes);
            break;
        case SPICE_BITMAP_FMT_24BIT:
            for (uint32_t x = 0; x < img->width; x++) {
                const uint8_t *p = src + 3 * (size_t)x;
                px_put(dst, (int32_t)x, 32,
                       (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16));
            }
            break;
        default: /* palette formats: canvas_image_pixel knows the bit orders */
            for (uint32_t x = 0; x < img->width; x++) {
                uint32_t index;
                switch (img->format) {
                case SPICE_BITMAP_FMT_8BIT:
                    index = src[x];
                    break;
                case SPICE_BITMAP_FMT_4BIT_LE:
                    index = (x & 1) ? src[x / 2] >> 4 : src[x / 2] & 0x0fu;
                    break;
                case SPICE_BITMAP_FMT_4BIT_BE:
                    index = (x & 1) ? src[x / 2] & 0x0fu : src[x / 2] >> 4;
                    break;
                case SPICE_BITMAP_FMT_1BIT_LE:
                    index = (src[x / 8] >> (x % 8)) & 1u;
                    break;
                default:
                    index = (src[x / 8] >> (7 - x % 8)) & 1u;
                    break;
                }
                px_put(dst, (int32_t)x, bpp, palette_entry(img, index));
            }
            break;
        }
    }
}

pixman_image_t *canvas_raster_image(const struct qxl_image *img, uint32_t surface_format,
                                    bool want_original)
{
    if (!img || !img->data || img->width == 0 || img->height == 0 ||
        img->width > QXL_MAX_IMAGE_DIM || img->height > QXL_MAX_IMAGE_DIM) {
        return NULL;
    }
    uint64_t row_bytes = bitmap_row_bytes(img->format, img->width);
    if (row_bytes == 0 || img->stride < row_bytes) {
        return NULL;
    }
    if (is_palette_format(img->format) && (!img->palette || img->num_palette == 0)) {
        return NULL;
    }
    pixman_format_code_t native = native_format(img->format, surface_format);
    pixman_format_code_t target =
            want_original ? native
                          : target_format(surface_format, img->format == SPICE_BITMAP_FMT_RGBA);
    if (native == 0 || target == 0 || PIXMAN_FORMAT_BPP(target) < 8) {
        return NULL;
    }
    bool compatible = target == native || (native == PIXMAN_a8r8g8b8 && target == PIXMAN_x8r8g8b8);
    bool raw = img->format == SPICE_BITMAP_FMT_32BIT || img->format == SPICE_BITMAP_FMT_RGBA ||
               img->format == SPICE_BITMAP_FMT_16BIT || img->format == SPICE_BITMAP_FMT_8BIT_A;
    if (compatible && raw && !(img->desc_flags & SPICE_IMAGE_FLAGS_HIGH_BITS_SET) &&
        img->stride % 4 == 0 && (uintptr_t)img->data % 4 == 0 && img->stride <= INT32_MAX / 2) {
        /* The conversion would copy the bytes as they are: read them in
         * place instead (rows in the bitmap's order). */
        int32_t stride = (int32_t)img->stride;
        uint8_t *line0 = img->data;
        if (!(img->bitmap_flags & QXL_BITMAP_TOP_DOWN)) {
            line0 += (size_t)img->stride * (img->height - 1);
            stride = -stride;
        }
        return pixman_image_create_bits(target, (int)img->width, (int)img->height,
                                        (uint32_t *)(void *)line0, stride);
    }
    pixman_image_t *out =
            pixman_image_create_bits(target, (int)img->width, (int)img->height, NULL, 0);
    if (!out) {
        return NULL;
    }
    if (compatible) {
        bitmap_fill_native(out, img);
    } else {
        pixman_image_t *tmp =
                pixman_image_create_bits(native, (int)img->width, (int)img->height, NULL, 0);
        if (!tmp) {
            pixman_image_unref(out);
            return NULL;
        }
        bitmap_fill_native(tmp, img);
        pixman_image_composite32(PIXMAN_OP_SRC, tmp, NULL, out, 0, 0, 0, 0, 0, 0, (int)img->width,
                                 (int)img->height);
        pixman_image_unref(tmp);
    }
    /* The guest says the pad byte of its 32-bit pixels is meaningful. */
    if ((img->desc_flags & SPICE_IMAGE_FLAGS_HIGH_BITS_SET) && target == PIXMAN_x8r8g8b8) {
        pixman_box32_t all = {0, 0, (int32_t)img->width, (int32_t)img->height};
        canvas_raster_fill(out, &all, 0xff000000u, 0xe /* or */);
    }
    return out;
}
