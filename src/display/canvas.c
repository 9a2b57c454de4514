/*
 * The server's software canvas (see canvas.h).
 *
 * Every operation is clipped first: bbox, then each clip rectangle, then the
 * surface bounds; an empty result draws nothing. Pixels are combined by the
 * SPICE ROP descriptor: optional inversion of the source and of the
 * destination, one operator (put, or, and, xor, blackness, whiteness,
 * invert), and optional inversion of the result.
 *
 * Plain copies and composites go through pixman, on a pixman view of the
 * surface memory (the same bytes, no copy). Bitmaps in formats pixman has
 * (32, RGBA, 24, 16 bits, A8) are wrapped in place; palette bitmaps are
 * expanded to 32 bits first.
 */
#include "display/canvas.h"

#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/protocol.h>
#include <spice/qxl_dev.h>

#include "common/error.h"
#include "display/canvas_ops.h"
#include "display/canvas_raster.h"

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
    uint16_t ops =
            rop & (SPICE_ROPD_OP_PUT | SPICE_ROPD_OP_OR | SPICE_ROPD_OP_AND | SPICE_ROPD_OP_XOR |
                   SPICE_ROPD_OP_BLACKNESS | SPICE_ROPD_OP_WHITENESS | SPICE_ROPD_OP_INVERS);
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
    if (dst->image) {
        struct qxl_drawable d;
        memset(&d, 0, sizeof(d));
        d.type = QXL_DRAW_FILL;
        d.bbox = *bbox;
        d.clip_type = num_clips ? SPICE_CLIP_TYPE_RECTS : SPICE_CLIP_TYPE_NONE;
        d.num_clip_rects = num_clips;
        d.clip_rects = (struct qxl_rect *)(uintptr_t)clips;
        d.u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
        d.u.fill.brush.color = color;
        d.u.fill.rop_descriptor = rop_descriptor;
        return canvas_ops_draw(dst, &d, NULL, NULL);
    }
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

static pixman_format_code_t surface_pixman_format(uint32_t format)
{
    switch (format) {
    case SPICE_SURFACE_FMT_32_xRGB:
        return PIXMAN_x8r8g8b8;
    case SPICE_SURFACE_FMT_32_ARGB:
        return PIXMAN_a8r8g8b8;
    case SPICE_SURFACE_FMT_16_555:
        return PIXMAN_x1r5g5b5;
    case SPICE_SURFACE_FMT_16_565:
        return PIXMAN_r5g6b5;
    case SPICE_SURFACE_FMT_8_A:
        return PIXMAN_a8;
    case SPICE_SURFACE_FMT_1_A:
        return PIXMAN_a1; /* masks and composites only */
    default:
        return 0;
    }
}

int canvas_surface_init(struct canvas_surface *s, uint8_t *line0, int32_t stride, uint32_t width,
                        uint32_t height, uint32_t format)
{
    memset(s, 0, sizeof(*s));
    s->line0 = line0;
    s->stride = stride;
    s->width = width;
    s->height = height;
    s->format = format;
    pixman_format_code_t pf = surface_pixman_format(format);
    /* pixman needs 4-byte aligned rows; without that we draw without it. */
    if (pf && ((uintptr_t)line0 % 4) == 0 && stride % 4 == 0) {
        s->image = pixman_image_create_bits(pf, (int)width, (int)height, (uint32_t *)line0, stride);
    }
    return 0;
}

void canvas_surface_finish(struct canvas_surface *s)
{
    if (s->image) {
        pixman_image_unref(s->image);
    }
    memset(s, 0, sizeof(*s));
}

/*
 * Returns new: a composite source or mask as the reference takes it: a
 * surface's own image (seen without alpha when `opaque` and it has some),
 * or a bitmap converted to the destination surface's format.
 */
static pixman_image_t *composite_image(const struct canvas_surface *dst,
                                       const struct qxl_image *img, bool opaque,
                                       canvas_lookup_fn lookup, void *lookup_opaque)
{
    if (img->type == SPICE_IMAGE_TYPE_SURFACE) {
        struct canvas_surface *s = lookup ? lookup(lookup_opaque, img->surface_id) : NULL;
        if (!s || !s->image) {
            return NULL;
        }
        pixman_format_code_t format = pixman_image_get_format(s->image);
        pixman_format_code_t no_alpha = (pixman_format_code_t)(format & ~(0xfu << 12));
        /* (an A8 or A1 surface has nothing left without alpha: kept as it is) */
        if (opaque && PIXMAN_FORMAT_A(format) != 0 && pixman_format_supported_source(no_alpha)) {
            /* the same bits without the alpha channel */
            format = no_alpha;
            return pixman_image_create_bits(
                    format, pixman_image_get_width(s->image), pixman_image_get_height(s->image),
                    pixman_image_get_data(s->image), pixman_image_get_stride(s->image));
        }
        return pixman_image_ref(s->image);
    }
    return canvas_raster_image(img, dst->format, false);
}

static bool valid_box(const struct qxl_rect *r)
{
    return r->left < r->right && r->top < r->bottom;
}

/* Coordinates a drawing may use: far beyond any surface, yet small enough
 * that no width, height or offset computed from them can overflow. */
#define CANVAS_COORD_LIMIT (1 << 20)

static bool sane_rect(const struct qxl_rect *r)
{
    return r->left >= -CANVAS_COORD_LIMIT && r->top >= -CANVAS_COORD_LIMIT &&
           r->right <= CANVAS_COORD_LIMIT && r->bottom <= CANVAS_COORD_LIMIT &&
           r->left <= r->right && r->top <= r->bottom;
}

static bool sane_clips(const struct qxl_rect *clips, uint32_t num_clips)
{
    for (uint32_t i = 0; i < num_clips; i++) {
        if (!sane_rect(&clips[i])) {
            return false;
        }
    }
    return true;
}

/* The operators pixman implements (QXL uses pixman's numbering). */
static bool composite_op_valid(uint32_t op)
{
    return op <= PIXMAN_OP_SATURATE || (op >= PIXMAN_OP_MULTIPLY && op <= PIXMAN_OP_HSL_LUMINOSITY);
}

/* Per-pixel copy with a ROP from a bitmap (the path pixman cannot take). */
static int copy_rop_pixels(struct canvas_surface *dst, const struct qxl_rect *bbox,
                           const struct qxl_rect *clips, uint32_t num_clips,
                           const struct qxl_image *src, const struct qxl_rect *src_area,
                           uint16_t rop_descriptor)
{
    int64_t bw = (int64_t)bbox->right - bbox->left, bh = (int64_t)bbox->bottom - bbox->top;
    int64_t sw = (int64_t)src_area->right - src_area->left;
    int64_t sh = (int64_t)src_area->bottom - src_area->top;
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
                row[x] = rop_apply(rop_descriptor, canvas_image_pixel(src, sx, sy), row[x]);
            }
        }
    }
    return 0;
}

int canvas_copy(struct canvas_surface *dst, const struct qxl_rect *bbox,
                const struct qxl_rect *clips, uint32_t num_clips, const struct qxl_image *src,
                const struct qxl_rect *src_area, uint16_t rop_descriptor, uint8_t scale_mode,
                canvas_lookup_fn lookup, void *opaque)
{
    if (!src || !rop_supported(rop_descriptor)) {
        return CLOVE_E_UNSUPPORTED;
    }
    if (!sane_rect(bbox) || !sane_rect(src_area) || !sane_clips(clips, num_clips)) {
        return CLOVE_E_INVALID;
    }
    int64_t bw = (int64_t)bbox->right - bbox->left, bh = (int64_t)bbox->bottom - bbox->top;
    int64_t sw = (int64_t)src_area->right - src_area->left;
    int64_t sh = (int64_t)src_area->bottom - src_area->top;
    if (bw <= 0 || bh <= 0 || sw <= 0 || sh <= 0 || src_area->left < 0 || src_area->top < 0 ||
        src_area->right > (int64_t)src->width || src_area->bottom > (int64_t)src->height) {
        return CLOVE_E_INVALID;
    }
    if (dst->image) {
        struct qxl_drawable d;
        memset(&d, 0, sizeof(d));
        d.type = QXL_DRAW_COPY;
        d.bbox = *bbox;
        d.clip_type = num_clips ? SPICE_CLIP_TYPE_RECTS : SPICE_CLIP_TYPE_NONE;
        d.num_clip_rects = num_clips;
        d.clip_rects = (struct qxl_rect *)(uintptr_t)clips;
        d.u.copy.src = (struct qxl_image *)(uintptr_t)src;
        d.u.copy.src_area = *src_area;
        d.u.copy.rop_descriptor = rop_descriptor;
        d.u.copy.scale_mode = scale_mode;
        return canvas_ops_draw(dst, &d, lookup, opaque);
    }
    /* No pixman view of the surface (unaligned memory): bitmaps only. */
    if (src->type != SPICE_IMAGE_TYPE_BITMAP || canvas_format_bpp(dst->format) != 4) {
        return CLOVE_E_UNSUPPORTED;
    }
    return copy_rop_pixels(dst, bbox, clips, num_clips, src, src_area, rop_descriptor);
}

/* Copies one rectangle of a surface to (x, y): rows in the order that
 * reads each source row before it is overwritten. */
static void copy_rect(struct canvas_surface *dst, unsigned bpp, const pixman_box32_t *to,
                      int32_t dx, int32_t dy)
{
    size_t row_bytes = (size_t)(to->x2 - to->x1) * bpp;
    int32_t rows = to->y2 - to->y1;
    for (int32_t k = 0; k < rows; k++) {
        int32_t y = dy > 0 ? to->y2 - 1 - k : to->y1 + k;
        uint8_t *d = dst->line0 + (intptr_t)y * dst->stride + (size_t)to->x1 * bpp;
        const uint8_t *s =
                dst->line0 + (intptr_t)(y - dy) * dst->stride + (size_t)(to->x1 - dx) * bpp;
        memmove(d, s, row_bytes);
    }
}

int canvas_copy_bits(struct canvas_surface *dst, const struct qxl_rect *bbox,
                     const struct qxl_rect *clips, uint32_t num_clips, struct qxl_point src_pos)
{
    unsigned bpp = canvas_format_bpp(dst->format);
    struct qxl_rect src_box = {src_pos.y, src_pos.x, src_pos.y, src_pos.x};
    if (!sane_rect(bbox) || !sane_rect(&src_box) || !sane_clips(clips, num_clips)) {
        return CLOVE_E_INVALID;
    }
    if (bpp == 0 || !valid_box(bbox)) {
        return bpp == 0 ? CLOVE_E_UNSUPPORTED : 0;
    }
    int32_t dx = bbox->left - src_pos.x, dy = bbox->top - src_pos.y;
    if (dx == 0 && dy == 0) {
        return 0;
    }
    /* As the reference: bbox & surface & clip rects & where the source
     * lies inside the surface, copied rectangle by rectangle in the order
     * that never reads a pixel already overwritten. */
    pixman_region32_t region, other;
    pixman_region32_init_rect(&region, bbox->left, bbox->top, (unsigned)(bbox->right - bbox->left),
                              (unsigned)(bbox->bottom - bbox->top));
    pixman_region32_init_rect(&other, 0, 0, dst->width, dst->height);
    pixman_region32_intersect(&region, &region, &other);
    pixman_region32_fini(&other);
    pixman_region32_init_rect(&other, dx, dy, dst->width, dst->height);
    pixman_region32_intersect(&region, &region, &other);
    pixman_region32_fini(&other);
    if (num_clips) {
        pixman_box32_t *boxes = malloc(sizeof(*boxes) * num_clips);
        if (!boxes) {
            pixman_region32_fini(&region);
            return CLOVE_E_NOMEM;
        }
        uint32_t kept = 0;
        for (uint32_t i = 0; i < num_clips; i++) {
            if (clips[i].left < clips[i].right && clips[i].top < clips[i].bottom) {
                boxes[kept++] = (pixman_box32_t){clips[i].left, clips[i].top, clips[i].right,
                                                 clips[i].bottom};
            }
        }
        pixman_region32_init_rects(&other, boxes, (int)kept);
        free(boxes);
        pixman_region32_intersect(&region, &region, &other);
        pixman_region32_fini(&other);
    }
    int n;
    const pixman_box32_t *r = pixman_region32_rectangles(&region, &n);
    if (dy > 0) {
        /* downwards: bands bottom-up; within a band right to left when
         * moving right, left to right when moving left */
        for (int i = n - 1; i >= 0;) {
            int start = i;
            while (start > 0 && r[start - 1].y1 == r[i].y1) {
                start--;
            }
            if (dx >= 0) {
                for (int j = i; j >= start; j--) {
                    copy_rect(dst, bpp, &r[j], dx, dy);
                }
            } else {
                for (int j = start; j <= i; j++) {
                    copy_rect(dst, bpp, &r[j], dx, dy);
                }
            }
            i = start - 1;
        }
    } else {
        for (int i = 0; i < n;) {
            int end = i;
            while (end + 1 < n && r[end + 1].y1 == r[i].y1) {
                end++;
            }
            if (dx > 0) {
                for (int j = end; j >= i; j--) {
                    copy_rect(dst, bpp, &r[j], dx, dy);
                }
            } else {
                for (int j = i; j <= end; j++) {
                    copy_rect(dst, bpp, &r[j], dx, dy);
                }
            }
            i = end + 1;
        }
    }
    pixman_region32_fini(&region);
    return 0;
}

static void transform_from_qxl(pixman_transform_t *t, const uint32_t m[6])
{
    pixman_transform_init_identity(t);
    t->matrix[0][0] = (pixman_fixed_t)m[0];
    t->matrix[0][1] = (pixman_fixed_t)m[1];
    t->matrix[0][2] = (pixman_fixed_t)m[2];
    t->matrix[1][0] = (pixman_fixed_t)m[3];
    t->matrix[1][1] = (pixman_fixed_t)m[4];
    t->matrix[1][2] = (pixman_fixed_t)m[5];
}

static pixman_filter_t filter_from_bits(uint32_t bits)
{
    /* The QXL composite flags carry pixman's own filter numbers. The
     * convolution filters need parameters the protocol does not carry. */
    return bits <= PIXMAN_FILTER_BILINEAR ? (pixman_filter_t)bits : PIXMAN_FILTER_NEAREST;
}

/*
 * As the reference: the operator works on a copy of the destination under
 * the bbox (pixman then takes the same code paths, pad bytes included),
 * and only the part inside bbox & clip rects is copied back. The copy
 * covers the bbox's part on the surface (the reference reads the rest
 * from outside the surface).
 */
static int composite_through_copy(struct canvas_surface *dst, const struct qxl_drawable *d,
                                  pixman_image_t *src, pixman_image_t *mask)
{
    const struct qxl_rect *bbox = &d->bbox;
    pixman_box32_t part = {bbox->left < 0 ? 0 : bbox->left, bbox->top < 0 ? 0 : bbox->top,
                           bbox->right > (int32_t)dst->width ? (int32_t)dst->width : bbox->right,
                           bbox->bottom > (int32_t)dst->height ? (int32_t)dst->height
                                                               : bbox->bottom};
    if (part.x1 >= part.x2 || part.y1 >= part.y2) {
        return 0;
    }
    pixman_region32_t region, clip;
    pixman_region32_init_rects(&region, &part, 1);
    if (d->clip_type == SPICE_CLIP_TYPE_RECTS) {
        uint32_t n = d->clip_rects ? d->num_clip_rects : 0, kept = 0;
        pixman_box32_t *boxes = n ? malloc(sizeof(*boxes) * n) : NULL;
        if (n && !boxes) {
            pixman_region32_fini(&region);
            return CLOVE_E_NOMEM;
        }
        for (uint32_t i = 0; i < n; i++) {
            const struct qxl_rect *c = &d->clip_rects[i];
            if (c->left < c->right && c->top < c->bottom) {
                boxes[kept++] = (pixman_box32_t){c->left, c->top, c->right, c->bottom};
            }
        }
        pixman_region32_init_rects(&clip, boxes, (int)kept);
        free(boxes);
        pixman_region32_intersect(&region, &region, &clip);
        pixman_region32_fini(&clip);
    }
    int32_t w = part.x2 - part.x1, h = part.y2 - part.y1;
    pixman_image_t *copy =
            pixman_image_create_bits(pixman_image_get_format(dst->image), w, h, NULL, 0);
    if (!copy) {
        pixman_region32_fini(&region);
        return CLOVE_E_NOMEM;
    }
    pixman_box32_t all = {0, 0, w, h};
    canvas_raster_blit(copy, &all, dst->image, -part.x1, -part.y1, CANVAS_ROP2_COPY);
    int32_t ox = part.x1 - bbox->left, oy = part.y1 - bbox->top;
    pixman_image_composite32((pixman_op_t)(d->u.composite.flags & 0xff), src, mask, copy,
                             d->u.composite.src_origin_x + ox, d->u.composite.src_origin_y + oy,
                             d->u.composite.mask_origin_x + ox, d->u.composite.mask_origin_y + oy,
                             0, 0, w, h);
    int n;
    const pixman_box32_t *boxes = pixman_region32_rectangles(&region, &n);
    for (int i = 0; i < n; i++) {
        canvas_raster_blit(dst->image, &boxes[i], copy, part.x1, part.y1, CANVAS_ROP2_COPY);
    }
    pixman_image_unref(copy);
    pixman_region32_fini(&region);
    return 0;
}

int canvas_composite(struct canvas_surface *dst, const struct qxl_drawable *d,
                     canvas_lookup_fn lookup, void *opaque)
{
    if (!dst->image || !d->u.composite.src) {
        return CLOVE_E_UNSUPPORTED;
    }
    const struct qxl_rect *bbox = &d->bbox;
    uint32_t flags = d->u.composite.flags;
    const struct qxl_rect *cl = d->clip_type == SPICE_CLIP_TYPE_RECTS ? d->clip_rects : NULL;
    if (!sane_rect(bbox) || !sane_clips(cl, cl ? d->num_clip_rects : 0) ||
        !composite_op_valid(flags & 0xff)) {
        return CLOVE_E_INVALID;
    }
    if (!valid_box(bbox)) {
        return 0;
    }
    pixman_image_t *src = composite_image(
            dst, d->u.composite.src, (flags & SPICE_COMPOSITE_SOURCE_OPAQUE) != 0, lookup, opaque);
    pixman_image_t *mask = NULL;
    int rc = 0;
    if (!src) {
        return CLOVE_E_INVALID;
    }
    if (d->u.composite.mask) {
        mask = composite_image(dst, d->u.composite.mask, false, lookup, opaque);
        if (!mask) {
            rc = CLOVE_E_INVALID;
            goto out;
        }
    }
    pixman_transform_t t;
    if (d->u.composite.has_src_transform) {
        transform_from_qxl(&t, d->u.composite.src_transform);
        pixman_image_set_transform(src, &t);
    }
    pixman_image_set_filter(src, filter_from_bits((flags >> 8) & 7), NULL, 0);
    pixman_image_set_repeat(src, (pixman_repeat_t)((flags >> 14) & 3));
    if (mask) {
        if (d->u.composite.has_mask_transform) {
            transform_from_qxl(&t, d->u.composite.mask_transform);
            pixman_image_set_transform(mask, &t);
        }
        pixman_image_set_filter(mask, filter_from_bits((flags >> 11) & 7), NULL, 0);
        pixman_image_set_repeat(mask, (pixman_repeat_t)((flags >> 16) & 3));
        pixman_image_set_component_alpha(mask, (flags >> 18) & 1);
    }
    rc = composite_through_copy(dst, d, src, mask);
out:
    /* Surface images are shared: leave them as they were. */
    pixman_image_set_transform(src, NULL);
    pixman_image_set_filter(src, PIXMAN_FILTER_NEAREST, NULL, 0);
    pixman_image_set_repeat(src, PIXMAN_REPEAT_NONE);
    pixman_image_unref(src);
    if (mask) {
        pixman_image_set_transform(mask, NULL);
        pixman_image_set_filter(mask, PIXMAN_FILTER_NEAREST, NULL, 0);
        pixman_image_set_repeat(mask, PIXMAN_REPEAT_NONE);
        pixman_image_set_component_alpha(mask, 0);
        pixman_image_unref(mask);
    }
    return rc;
}

int canvas_draw(struct canvas_surface *dst, const struct qxl_drawable *d, canvas_lookup_fn lookup,
                void *opaque)
{
    const struct qxl_rect *clips = d->clip_type == SPICE_CLIP_TYPE_RECTS ? d->clip_rects : NULL;
    uint32_t num_clips = clips ? d->num_clip_rects : 0;
    switch (d->type) {
    case QXL_COPY_BITS:
        if (d->clip_type == SPICE_CLIP_TYPE_RECTS && num_clips == 0) {
            return 0; /* clipped away entirely */
        }
        return canvas_copy_bits(dst, &d->bbox, clips, num_clips, d->u.copy_bits.src_pos);
    case QXL_DRAW_COMPOSITE:
        if (d->clip_type == SPICE_CLIP_TYPE_RECTS && num_clips == 0) {
            return 0;
        }
        return canvas_composite(dst, d, lookup, opaque);
    default:
        return canvas_ops_draw(dst, d, lookup, opaque);
    }
}
