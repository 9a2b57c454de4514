/*
 * The server's software canvas (see canvas.h).
 *
 * Every operation is clipped first: bbox, then each clip rectangle, then the
 * surface bounds; an empty result draws nothing. Pixels are combined by the
 * SPICE ROP descriptor: optional inversion of the source and of the
 * destination, one operator (put, or, and, xor, blackness, whiteness,
 * invert), and optional inversion of the result.
 */
#include "display/canvas.h"

#include "common/error.h"

#include <spice/enums.h>
#include <spice/protocol.h>
#include <spice/qxl_dev.h>

unsigned canvas_format_bpp(uint32_t format)
{
    switch (format) {
    case SPICE_SURFACE_FMT_32_xRGB:
    case SPICE_SURFACE_FMT_32_ARGB:
        return 4;
    case SPICE_SURFACE_FMT_16_555:
    case SPICE_SURFACE_FMT_16_565:
        return 2;
    case SPICE_SURFACE_FMT_8_A:
        return 1;
    default:
        return 0;
    }
}

static int32_t max_i32(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

static int32_t min_i32(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

/* Intersects r with the bbox and the surface; false if empty. */
static bool clip_rect(const struct canvas_surface *dst, const struct qxl_rect *bbox,
                      const struct qxl_rect *clip, struct qxl_rect *out)
{
    out->left = max_i32(max_i32(bbox->left, 0), clip ? clip->left : INT32_MIN);
    out->top = max_i32(max_i32(bbox->top, 0), clip ? clip->top : INT32_MIN);
    out->right = min_i32(min_i32(bbox->right, (int32_t)dst->width), clip ? clip->right : INT32_MAX);
    out->bottom =
            min_i32(min_i32(bbox->bottom, (int32_t)dst->height), clip ? clip->bottom : INT32_MAX);
    return out->left < out->right && out->top < out->bottom;
}

static bool rop_supported(uint16_t rop)
{
    uint16_t ops = rop & (SPICE_ROPD_OP_PUT | SPICE_ROPD_OP_OR | SPICE_ROPD_OP_AND |
                          SPICE_ROPD_OP_XOR | SPICE_ROPD_OP_BLACKNESS | SPICE_ROPD_OP_WHITENESS |
                          SPICE_ROPD_OP_INVERS);
    /* exactly one operator */
    return ops != 0 && (ops & (ops - 1)) == 0;
}

static inline uint32_t rop_apply(uint16_t rop, uint32_t src, uint32_t dst)
{
    if (rop & SPICE_ROPD_INVERS_SRC) {
        src = ~src;
    }
    if (rop & SPICE_ROPD_INVERS_BRUSH) {
        src = ~src;
    }
    if (rop & SPICE_ROPD_INVERS_DEST) {
        dst = ~dst;
    }
    uint32_t res;
    if (rop & SPICE_ROPD_OP_PUT) {
        res = src;
    } else if (rop & SPICE_ROPD_OP_OR) {
        res = src | dst;
    } else if (rop & SPICE_ROPD_OP_AND) {
        res = src & dst;
    } else if (rop & SPICE_ROPD_OP_XOR) {
        res = src ^ dst;
    } else if (rop & SPICE_ROPD_OP_BLACKNESS) {
        res = 0;
    } else if (rop & SPICE_ROPD_OP_WHITENESS) {
        res = 0xffffffu;
    } else {
        res = ~dst;
    }
    if (rop & SPICE_ROPD_INVERS_RES) {
        res = ~res;
    }
    return res & 0x00ffffffu;
}

static inline uint32_t *dst_row(const struct canvas_surface *dst, int32_t y)
{
    return (uint32_t *)(dst->line0 + (intptr_t)y * dst->stride);
}

int canvas_fill(struct canvas_surface *dst, const struct qxl_rect *bbox,
                const struct qxl_rect *clips, uint32_t num_clips, uint32_t color,
                uint16_t rop_descriptor)
{
    if (canvas_format_bpp(dst->format) != 4 || !rop_supported(rop_descriptor)) {
        return CLOVE_E_UNSUPPORTED;
    }
    uint32_t n = num_clips ? num_clips : 1;
    for (uint32_t i = 0; i < n; i++) {
        struct qxl_rect r;
        if (!clip_rect(dst, bbox, num_clips ? &clips[i] : NULL, &r)) {
            continue;
        }
        bool plain = (rop_descriptor & ~SPICE_ROPD_OP_PUT) == 0;
        for (int32_t y = r.top; y < r.bottom; y++) {
            uint32_t *row = dst_row(dst, y);
            if (plain) {
                for (int32_t x = r.left; x < r.right; x++) {
                    row[x] = color;
                }
            } else {
                for (int32_t x = r.left; x < r.right; x++) {
                    row[x] = rop_apply(rop_descriptor, color, row[x]);
                }
            }
        }
    }
    return 0;
}

uint32_t canvas_image_pixel(const struct qxl_image *img, uint32_t x, uint32_t y)
{
    uint32_t row_index = (img->bitmap_flags & QXL_BITMAP_TOP_DOWN) ? y : img->height - 1 - y;
    const uint8_t *row = img->data + (size_t)row_index * img->stride;
    uint32_t index;
    switch (img->format) {
    case SPICE_BITMAP_FMT_32BIT:
    case SPICE_BITMAP_FMT_RGBA: {
        const uint8_t *p = row + 4 * (size_t)x;
        return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
               ((uint32_t)p[3] << 24);
    }
    case SPICE_BITMAP_FMT_24BIT: {
        const uint8_t *p = row + 3 * (size_t)x;
        return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
    }
    case SPICE_BITMAP_FMT_16BIT: {
        const uint8_t *p = row + 2 * (size_t)x;
        uint32_t v = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
        uint32_t r = (v >> 10) & 0x1f, g = (v >> 5) & 0x1f, b = v & 0x1f;
        return ((r << 3 | r >> 2) << 16) | ((g << 3 | g >> 2) << 8) | (b << 3 | b >> 2);
    }
    case SPICE_BITMAP_FMT_8BIT:
        index = row[x];
        break;
    case SPICE_BITMAP_FMT_4BIT_LE:
        index = (x & 1) ? row[x / 2] >> 4 : row[x / 2] & 0x0f;
        break;
    case SPICE_BITMAP_FMT_4BIT_BE:
        index = (x & 1) ? row[x / 2] & 0x0f : row[x / 2] >> 4;
        break;
    case SPICE_BITMAP_FMT_1BIT_LE:
        index = (row[x / 8] >> (x % 8)) & 1;
        break;
    case SPICE_BITMAP_FMT_1BIT_BE:
        index = (row[x / 8] >> (7 - x % 8)) & 1;
        break;
    default:
        return 0;
    }
    return index < img->num_palette && img->palette ? img->palette[index] : 0;
}

int canvas_copy(struct canvas_surface *dst, const struct qxl_rect *bbox,
                const struct qxl_rect *clips, uint32_t num_clips, const struct qxl_image *src,
                const struct qxl_rect *src_area, uint16_t rop_descriptor)
{
    if (canvas_format_bpp(dst->format) != 4 || !rop_supported(rop_descriptor) || !src ||
        !src->data) {
        return CLOVE_E_UNSUPPORTED;
    }
    int64_t bw = (int64_t)bbox->right - bbox->left, bh = (int64_t)bbox->bottom - bbox->top;
    int64_t sw = (int64_t)src_area->right - src_area->left;
    int64_t sh = (int64_t)src_area->bottom - src_area->top;
    if (bw <= 0 || bh <= 0 || sw <= 0 || sh <= 0 || src_area->left < 0 || src_area->top < 0 ||
        src_area->right > (int64_t)src->width || src_area->bottom > (int64_t)src->height) {
        return CLOVE_E_INVALID;
    }
    bool scaled = bw != sw || bh != sh;
    uint32_t n = num_clips ? num_clips : 1;
    for (uint32_t i = 0; i < n; i++) {
        struct qxl_rect r;
        if (!clip_rect(dst, bbox, num_clips ? &clips[i] : NULL, &r)) {
            continue;
        }
        for (int32_t y = r.top; y < r.bottom; y++) {
            int64_t dy = y - bbox->top;
            uint32_t sy = (uint32_t)(src_area->top + (scaled ? dy * sh / bh : dy));
            uint32_t *row = dst_row(dst, y);
            for (int32_t x = r.left; x < r.right; x++) {
                int64_t dx = x - bbox->left;
                uint32_t sx = (uint32_t)(src_area->left + (scaled ? dx * sw / bw : dx));
                uint32_t pixel = canvas_image_pixel(src, sx, sy);
                row[x] = rop_apply(rop_descriptor, pixel, row[x]);
            }
        }
    }
    return 0;
}
