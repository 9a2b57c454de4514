/*
 * The draw operations of the software canvas (see canvas_ops.h).
 *
 * DESIGN: tests compare our pixels with the reference client's (spice-gtk,
 * which draws with spice-common's canvas), byte for byte, and the server
 * renders with this same code for clients that join later. So each
 * operation makes the same choices the reference makes, with its own code:
 *  - the destination region is bbox & surface & clip rects & mask, where
 *    the mask is a 1-bit bitmap whose bit (pos.x, pos.y) lies on the bbox's
 *    top-left corner and that draws nowhere outside its own size, even
 *    when inverted;
 *  - sources are converted to the surface's format first and then copied
 *    or combined as raw pixel words (ROP descriptors become two-input
 *    truth tables over every bit, alpha included);
 *  - scaling, alpha blending and glyph text go through pixman with the
 *    same operators, transforms and filters (GOOD for interpolated copies,
 *    always NEAREST for alpha blends and colour keys);
 *  - on 32-bit xRGB surfaces, the pad byte pixman's OVER sets is cleared
 *    afterwards the way the reference does (only when the first pixel of
 *    the drawn box came out 0xff).
 *
 * INVARIANTS: coordinates are checked against CANVAS_COORD_LIMIT before
 * any arithmetic; every pixel loop clips to both images (canvas_raster.c);
 * shared surface images get their transform, filter and repeat back.
 */
#include "display/canvas_ops.h"

#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/protocol.h>
#include <spice/qxl_dev.h>

#include "common/error.h"
#include "display/canvas_raster.h"

/* Far beyond any surface, yet small enough that no sum or product of two
 * coordinates below can overflow. */
#define COORD_LIMIT (1 << 24)
/* Glyph-string masks beyond this many pixels are refused. */
#define MAX_TEXT_MASK_PIXELS (16u * 1024 * 1024)

static bool sane_rect(const struct qxl_rect *r)
{
    return r->left >= -COORD_LIMIT && r->top >= -COORD_LIMIT && r->right <= COORD_LIMIT &&
           r->bottom <= COORD_LIMIT && r->left <= r->right && r->top <= r->bottom;
}

static bool sane_point(struct qxl_point p)
{
    return p.x >= -COORD_LIMIT && p.x <= COORD_LIMIT && p.y >= -COORD_LIMIT && p.y <= COORD_LIMIT;
}

static bool same_size(const struct qxl_rect *a, const struct qxl_rect *b)
{
    return a->right - a->left == b->right - b->left && a->bottom - a->top == b->bottom - b->top;
}

/* bbox & surface & clip rects. */
static int region_init(pixman_region32_t *region, const struct canvas_surface *dst,
                       const struct qxl_drawable *d)
{
    const struct qxl_rect *b = &d->bbox;
    pixman_box32_t box = {b->left, b->top, b->right, b->bottom};
    pixman_region32_init_rects(region, &box, 1);
    pixman_region32_t surface;
    pixman_region32_init_rect(&surface, 0, 0, dst->width, dst->height);
    pixman_region32_intersect(region, region, &surface);
    pixman_region32_fini(&surface);
    if (d->clip_type != SPICE_CLIP_TYPE_RECTS) {
        return 0;
    }
    uint32_t n = d->clip_rects ? d->num_clip_rects : 0;
    pixman_box32_t *boxes = n ? malloc(sizeof(*boxes) * n) : NULL;
    if (n && !boxes) {
        pixman_region32_fini(region);
        return CLOVE_E_NOMEM;
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        /* Malformed or empty rectangles clip nothing in (pixman would
         * drop them too, but complain on stderr about a lone one). */
        const struct qxl_rect *c = &d->clip_rects[i];
        if (c->left < c->right && c->top < c->bottom) {
            boxes[kept++] = (pixman_box32_t){c->left, c->top, c->right, c->bottom};
        }
    }
    pixman_region32_t clip;
    pixman_region32_init_rects(&clip, boxes, (int)kept);
    free(boxes);
    pixman_region32_intersect(region, region, &clip);
    pixman_region32_fini(&clip);
    return 0;
}

/* Reads bit (x, y) of a 1-bit mask source: a bitmap or an a1 surface. */
struct mask_bits {
    const uint8_t *data;
    int64_t stride; /* bytes between rows in mask order (negative: bottom-up) */
    uint32_t width, height;
    int kind; /* 0: bitmap LE, 1: bitmap BE, 2: pixman a1 words */
};

static inline unsigned mask_bit(const struct mask_bits *m, uint32_t x, uint32_t y)
{
    const uint8_t *row = m->data + (int64_t)y * m->stride;
    switch (m->kind) {
    case 0:
        return (row[x / 8] >> (x % 8)) & 1u;
    case 1:
        return (row[x / 8] >> (7 - x % 8)) & 1u;
    default:
        return (((const uint32_t *)(const void *)row)[x / 32] >> (x % 32)) & 1u;
    }
}

static int mask_source(const struct qxl_image *img, canvas_lookup_fn lookup, void *opaque,
                       struct mask_bits *m)
{
    if (img->type == SPICE_IMAGE_TYPE_SURFACE) {
        struct canvas_surface *s = lookup ? lookup(opaque, img->surface_id) : NULL;
        if (!s || !s->image || pixman_image_get_format(s->image) != PIXMAN_a1) {
            return CLOVE_E_INVALID;
        }
        m->data = (const uint8_t *)pixman_image_get_data(s->image);
        m->stride = pixman_image_get_stride(s->image);
        m->width = (uint32_t)pixman_image_get_width(s->image);
        m->height = (uint32_t)pixman_image_get_height(s->image);
        m->kind = 2;
        return 0;
    }
    if (!img->data || img->width == 0 || img->height == 0 ||
        img->stride < ((uint64_t)img->width + 7) / 8) {
        return CLOVE_E_INVALID;
    }
    if (img->format == SPICE_BITMAP_FMT_1BIT_LE) {
        m->kind = 0;
    } else if (img->format == SPICE_BITMAP_FMT_1BIT_BE) {
        m->kind = 1;
    } else {
        return CLOVE_E_INVALID;
    }
    m->width = img->width;
    m->height = img->height;
    if (img->bitmap_flags & QXL_BITMAP_TOP_DOWN) {
        m->data = img->data;
        m->stride = img->stride;
    } else {
        m->data = img->data + (size_t)img->stride * (img->height - 1);
        m->stride = -(int64_t)img->stride;
    }
    return 0;
}

/* region &= where the mask draws. */
static int region_apply_mask(pixman_region32_t *region, const struct qxl_drawable *d,
                             canvas_lookup_fn lookup, void *opaque)
{
    const struct qxl_qmask *qm = &d->mask;
    if (!qm->bitmap) {
        return 0;
    }
    if (!sane_point(qm->pos)) {
        return CLOVE_E_INVALID;
    }
    struct mask_bits m;
    int rc = mask_source(qm->bitmap, lookup, opaque, &m);
    if (rc < 0) {
        return rc;
    }
    if (!pixman_region32_not_empty(region)) {
        return 0;
    }
    unsigned invers = (qm->flags & SPICE_MASK_FLAGS_INVERS) ? 1u : 0u;
    /* mask coordinate = surface coordinate + (ox, oy) */
    int64_t ox = (int64_t)qm->pos.x - d->bbox.left, oy = (int64_t)qm->pos.y - d->bbox.top;
    const pixman_box32_t *e = pixman_region32_extents(region);
    int64_t x1 = e->x1 + ox, y1 = e->y1 + oy, x2 = e->x2 + ox, y2 = e->y2 + oy;
    x1 = x1 < 0 ? 0 : x1;
    y1 = y1 < 0 ? 0 : y1;
    x2 = x2 > (int64_t)m.width ? (int64_t)m.width : x2;
    y2 = y2 > (int64_t)m.height ? (int64_t)m.height : y2;
    if (x1 >= x2 || y1 >= y2) {
        pixman_region32_clear(region);
        return 0;
    }
    int w = (int)(x2 - x1), h = (int)(y2 - y1);
    pixman_image_t *bits = pixman_image_create_bits(PIXMAN_a1, w, h, NULL, 0);
    if (!bits) {
        return CLOVE_E_NOMEM;
    }
    uint8_t *base = (uint8_t *)pixman_image_get_data(bits);
    int stride = pixman_image_get_stride(bits);
    for (int y = 0; y < h; y++) {
        uint32_t *row = (uint32_t *)(void *)(base + (size_t)y * (size_t)stride);
        for (int x = 0; x < w; x++) {
            if (mask_bit(&m, (uint32_t)(x1 + x), (uint32_t)(y1 + y)) ^ invers) {
                row[x / 32] |= 1u << (x % 32);
            }
        }
    }
    pixman_region32_t mask_region;
    pixman_region32_init_from_image(&mask_region, bits);
    pixman_image_unref(bits);
    pixman_region32_translate(&mask_region, (int)(x1 - ox), (int)(y1 - oy));
    pixman_region32_intersect(region, region, &mask_region);
    pixman_region32_fini(&mask_region);
    return 0;
}

/* Returns new: the pixels of a source image as drawn on dst (converted to
 * its format unless want_original), or a surface's own image. */
static pixman_image_t *source_image(const struct canvas_surface *dst, const struct qxl_image *img,
                                    bool want_original, canvas_lookup_fn lookup, void *opaque)
{
    if (!img) {
        return NULL;
    }
    if (img->type == SPICE_IMAGE_TYPE_SURFACE) {
        struct canvas_surface *s = lookup ? lookup(opaque, img->surface_id) : NULL;
        return s && s->image ? pixman_image_ref(s->image) : NULL;
    }
    return canvas_raster_image(img, dst->format, want_original);
}

static void image_reset(pixman_image_t *image)
{
    pixman_image_set_transform(image, NULL);
    pixman_image_set_filter(image, PIXMAN_FILTER_NEAREST, NULL, 0);
    pixman_image_set_repeat(image, PIXMAN_REPEAT_NONE);
}

static int paint_init(struct canvas_paint *paint, const struct canvas_surface *dst,
                      const struct qxl_brush *brush, uint8_t rop, canvas_lookup_fn lookup,
                      void *opaque)
{
    memset(paint, 0, sizeof(*paint));
    paint->rop = rop;
    switch (brush->type) {
    case SPICE_BRUSH_TYPE_NONE:
        /* The reference still applies the ROP, with colour 0. */
        paint->solid = true;
        return 0;
    case SPICE_BRUSH_TYPE_SOLID:
        paint->solid = true;
        paint->color = brush->color;
        return 0;
    case SPICE_BRUSH_TYPE_PATTERN:
        if (!sane_point(brush->pattern_pos)) {
            return CLOVE_E_INVALID;
        }
        paint->tile = source_image(dst, brush->pattern, false, lookup, opaque);
        if (!paint->tile) {
            return CLOVE_E_INVALID;
        }
        paint->tile_x = brush->pattern_pos.x;
        paint->tile_y = brush->pattern_pos.y;
        return 0;
    default:
        return CLOVE_E_INVALID;
    }
}

static void paint_finish(struct canvas_paint *paint)
{
    if (paint->tile) {
        pixman_image_unref(paint->tile);
        paint->tile = NULL;
    }
}

void canvas_paint_box(struct canvas_surface *dst, const struct canvas_paint *paint,
                      const pixman_box32_t *box)
{
    if (paint->solid) {
        canvas_raster_fill(dst->image, box, paint->color, paint->rop);
    } else {
        canvas_raster_tile(dst->image, box, paint->tile, paint->tile_x, paint->tile_y, paint->rop);
    }
}

static void paint_region(struct canvas_surface *dst, const pixman_region32_t *region,
                         const struct canvas_paint *paint)
{
    int n;
    const pixman_box32_t *boxes =
            pixman_region32_rectangles((pixman_region32_t *)(uintptr_t)region, &n);
    for (int i = 0; i < n; i++) {
        canvas_paint_box(dst, paint, &boxes[i]);
    }
}

static void fill_region(struct canvas_surface *dst, const pixman_region32_t *region, uint32_t value,
                        uint8_t rop)
{
    struct canvas_paint paint = {.solid = true, .color = value, .rop = rop};
    paint_region(dst, region, &paint);
}

/* The reference's scale transform: source = (dest - dest origin) * (sw / dw) + src origin. */
static void set_scale(pixman_image_t *src, const struct qxl_rect *src_area,
                      const struct qxl_rect *bbox)
{
    int64_t sw = (int64_t)src_area->right - src_area->left;
    int64_t sh = (int64_t)src_area->bottom - src_area->top;
    int64_t dw = (int64_t)bbox->right - bbox->left, dh = (int64_t)bbox->bottom - bbox->top;
    pixman_transform_t t;
    pixman_transform_init_scale(&t, (pixman_fixed_t)(sw * 65536 / dw),
                                (pixman_fixed_t)(sh * 65536 / dh));
    pixman_transform_translate(&t, NULL, pixman_int_to_fixed(src_area->left),
                               pixman_int_to_fixed(src_area->top));
    pixman_image_set_transform(src, &t);
    pixman_image_set_repeat(src, PIXMAN_REPEAT_NONE);
}

static bool scale_filter(uint8_t scale_mode, pixman_filter_t *filter)
{
    if (scale_mode == SPICE_IMAGE_SCALE_MODE_NEAREST) {
        *filter = PIXMAN_FILTER_NEAREST;
        return true;
    }
    if (scale_mode == SPICE_IMAGE_SCALE_MODE_INTERPOLATE) {
        *filter = PIXMAN_FILTER_GOOD;
        return true;
    }
    return false;
}

/*
 * Draws src_area of src scaled onto bbox, inside region: straight onto the
 * surface for a plain copy, else through a bbox-sized scratch image that is
 * then blitted with the ROP (or colour key when `colorkey`).
 */
static int draw_scaled(struct canvas_surface *dst, pixman_region32_t *region, pixman_image_t *src,
                       const struct qxl_rect *src_area, const struct qxl_rect *bbox,
                       pixman_filter_t filter, uint8_t rop, bool colorkey, uint32_t key)
{
    int32_t dw = bbox->right - bbox->left, dh = bbox->bottom - bbox->top;
    set_scale(src, src_area, bbox);
    pixman_image_set_filter(src, filter, NULL, 0);
    if (!colorkey && rop == CANVAS_ROP2_COPY) {
        pixman_image_set_clip_region32(dst->image, region);
        pixman_image_composite32(PIXMAN_OP_SRC, src, NULL, dst->image, 0, 0, 0, 0, bbox->left,
                                 bbox->top, dw, dh);
        pixman_image_set_clip_region32(dst->image, NULL);
        image_reset(src);
        return 0;
    }
    /* The reference scales the whole bbox; only the part inside the
     * region (and so the surface) is ever used, and pixman samples each
     * pixel the same way wherever the scratch image starts. */
    pixman_box32_t e = *pixman_region32_extents(region);
    pixman_format_code_t format = pixman_image_get_format(src);
    pixman_image_t *scaled = pixman_image_create_bits(format, e.x2 - e.x1, e.y2 - e.y1, NULL, 0);
    if (!scaled) {
        image_reset(src);
        return CLOVE_E_NOMEM;
    }
    pixman_region32_translate(region, -e.x1, -e.y1);
    pixman_image_set_clip_region32(scaled, region);
    pixman_image_composite32(PIXMAN_OP_SRC, src, NULL, scaled, e.x1 - bbox->left, e.y1 - bbox->top,
                             0, 0, 0, 0, e.x2 - e.x1, e.y2 - e.y1);
    pixman_region32_translate(region, e.x1, e.y1);
    image_reset(src);
    int n;
    const pixman_box32_t *boxes = pixman_region32_rectangles(region, &n);
    for (int i = 0; i < n; i++) {
        if (colorkey) {
            canvas_raster_colorkey(dst->image, &boxes[i], scaled, e.x1, e.y1, key);
        } else {
            canvas_raster_blit(dst->image, &boxes[i], scaled, e.x1, e.y1, rop);
        }
    }
    pixman_image_unref(scaled);
    return 0;
}

static void blit_region(struct canvas_surface *dst, const pixman_region32_t *region,
                        pixman_image_t *src, int32_t offset_x, int32_t offset_y, uint8_t rop)
{
    int n;
    const pixman_box32_t *boxes =
            pixman_region32_rectangles((pixman_region32_t *)(uintptr_t)region, &n);
    for (int i = 0; i < n; i++) {
        canvas_raster_blit(dst->image, &boxes[i], src, offset_x, offset_y, rop);
    }
}

/* Copies (or combines) src_area of the source onto bbox inside region. */
static int draw_source(struct canvas_surface *dst, pixman_region32_t *region,
                       const struct qxl_drawable *d, const struct qxl_image *img,
                       const struct qxl_rect *src_area, uint8_t scale_mode, uint8_t rop,
                       canvas_lookup_fn lookup, void *opaque)
{
    if (!sane_rect(src_area)) {
        return CLOVE_E_INVALID;
    }
    bool scaled = !same_size(&d->bbox, src_area);
    pixman_filter_t filter = PIXMAN_FILTER_NEAREST;
    if (scaled && !scale_filter(scale_mode, &filter)) {
        return CLOVE_E_INVALID;
    }
    pixman_image_t *src = source_image(dst, img, false, lookup, opaque);
    if (!src) {
        return CLOVE_E_INVALID;
    }
    int rc = 0;
    if (canvas_raster_bpp(src) != canvas_raster_bpp(dst->image)) {
        rc = CLOVE_E_UNSUPPORTED; /* a surface of another depth */
    } else if (!scaled) {
        blit_region(dst, region, src, d->bbox.left - src_area->left, d->bbox.top - src_area->top,
                    rop);
    } else {
        rc = draw_scaled(dst, region, src, src_area, &d->bbox, filter, rop, false, 0);
    }
    pixman_image_unref(src);
    return rc;
}

static int draw_fill(struct canvas_surface *dst, pixman_region32_t *region,
                     const struct qxl_drawable *d, canvas_lookup_fn lookup, void *opaque)
{
    uint8_t rop = canvas_rop2_from_descriptor(d->u.fill.rop_descriptor, CANVAS_ROP_INPUT_BRUSH,
                                              CANVAS_ROP_INPUT_DEST);
    struct canvas_paint paint;
    int rc = paint_init(&paint, dst, &d->u.fill.brush, rop, lookup, opaque);
    if (rc < 0) {
        return rc;
    }
    paint_region(dst, region, &paint);
    paint_finish(&paint);
    return 0;
}

static int draw_opaque(struct canvas_surface *dst, pixman_region32_t *region,
                       const struct qxl_drawable *d, canvas_lookup_fn lookup, void *opaque)
{
    /* The brush is combined with the source already copied in place. */
    uint8_t rop = canvas_rop2_from_descriptor(d->u.opaque.rop_descriptor, CANVAS_ROP_INPUT_BRUSH,
                                              CANVAS_ROP_INPUT_SRC);
    struct canvas_paint paint;
    int rc = paint_init(&paint, dst, &d->u.opaque.brush, rop, lookup, opaque);
    if (rc < 0) {
        return rc;
    }
    rc = draw_source(dst, region, d, d->u.opaque.src, &d->u.opaque.src_area, d->u.opaque.scale_mode,
                     CANVAS_ROP2_COPY, lookup, opaque);
    if (rc == 0) {
        paint_region(dst, region, &paint);
    }
    paint_finish(&paint);
    return rc;
}

static uint16_t rgb_to_555(uint32_t c)
{
    return (uint16_t)(((c >> 3) & 0x001fu) | ((c >> 6) & 0x03e0u) | ((c >> 9) & 0x7c00u));
}

static uint16_t rgb_to_565(uint32_t c)
{
    return (uint16_t)(((c >> 3) & 0x001fu) | ((c >> 5) & 0x07e0u) | ((c >> 8) & 0xf800u));
}

static int draw_transparent(struct canvas_surface *dst, pixman_region32_t *region,
                            const struct qxl_drawable *d, canvas_lookup_fn lookup, void *opaque)
{
    const struct qxl_rect *src_area = &d->u.transparent.src_area;
    if (!sane_rect(src_area)) {
        return CLOVE_E_INVALID;
    }
    /* The key is compared with the source converted to the surface's format. */
    uint32_t key;
    switch (dst->format) {
    case SPICE_SURFACE_FMT_32_xRGB:
    case SPICE_SURFACE_FMT_32_ARGB:
        key = d->u.transparent.true_color;
        break;
    case SPICE_SURFACE_FMT_16_555:
        key = rgb_to_555(d->u.transparent.true_color);
        break;
    case SPICE_SURFACE_FMT_16_565:
        key = rgb_to_565(d->u.transparent.true_color);
        break;
    default:
        key = 0;
        break;
    }
    pixman_image_t *src = source_image(dst, d->u.transparent.src, false, lookup, opaque);
    if (!src) {
        return CLOVE_E_INVALID;
    }
    int rc = 0;
    if (canvas_raster_bpp(src) != canvas_raster_bpp(dst->image)) {
        rc = CLOVE_E_UNSUPPORTED;
    } else if (same_size(&d->bbox, src_area)) {
        int n;
        const pixman_box32_t *boxes = pixman_region32_rectangles(region, &n);
        for (int i = 0; i < n; i++) {
            canvas_raster_colorkey(dst->image, &boxes[i], src, d->bbox.left - src_area->left,
                                   d->bbox.top - src_area->top, key);
        }
    } else {
        rc = draw_scaled(dst, region, src, src_area, &d->bbox, PIXMAN_FILTER_NEAREST,
                         CANVAS_ROP2_COPY, true, key);
    }
    pixman_image_unref(src);
    return rc;
}

/* What the reference does after OVER onto a 32-bit xRGB surface: if the
 * first pixel of the box got alpha 0xff, the whole box's pad bytes are
 * cleared. */
static void clear_pad_bytes(pixman_image_t *image, int64_t x, int64_t y, int64_t w, int64_t h)
{
    int64_t iw = pixman_image_get_width(image), ih = pixman_image_get_height(image);
    if (x + w <= 0 || x >= iw || y + h <= 0 || y >= ih || w == 0 || h == 0) {
        return;
    }
    if (x < 0) {
        w += x;
        x = 0;
    }
    if (x + w > iw) {
        w = iw - x;
    }
    if (y < 0) {
        h += y;
        y = 0;
    }
    if (y + h > ih) {
        h = ih - y;
    }
    const uint8_t *row = (const uint8_t *)pixman_image_get_data(image) +
                         (intptr_t)y * pixman_image_get_stride(image);
    uint32_t first = ((const uint32_t *)(const void *)row)[x];
    if ((first & 0xff000000u) == 0xff000000u) {
        pixman_box32_t box = {(int32_t)x, (int32_t)y, (int32_t)(x + w), (int32_t)(y + h)};
        canvas_raster_fill(image, &box, 0x00ffffffu, CANVAS_ROP2_AND);
    }
}

/* Returns new: a 32-bit xRGB surface seen with its pad byte as alpha. */
static pixman_image_t *as_alpha(pixman_image_t *image)
{
    if (pixman_image_get_format(image) != PIXMAN_x8r8g8b8) {
        return pixman_image_ref(image);
    }
    return pixman_image_create_bits(PIXMAN_a8r8g8b8, pixman_image_get_width(image),
                                    pixman_image_get_height(image), pixman_image_get_data(image),
                                    pixman_image_get_stride(image));
}

static int draw_alpha_blend(struct canvas_surface *dst, pixman_region32_t *region,
                            const struct qxl_drawable *d, canvas_lookup_fn lookup, void *opaque)
{
    const struct qxl_rect *src_area = &d->u.alpha_blend.src_area;
    const struct qxl_rect *bbox = &d->bbox;
    if (!sane_rect(src_area)) {
        return CLOVE_E_INVALID;
    }
    if (d->u.alpha_blend.alpha == 0) {
        return 0;
    }
    bool dest_alpha = (d->u.alpha_blend.alpha_flags & SPICE_ALPHA_FLAGS_DEST_HAS_ALPHA) != 0;
    bool src_alpha = (d->u.alpha_blend.alpha_flags & SPICE_ALPHA_FLAGS_SRC_SURFACE_HAS_ALPHA) != 0;
    const struct qxl_image *img = d->u.alpha_blend.src;
    pixman_image_t *src;
    if (img && img->type == SPICE_IMAGE_TYPE_SURFACE) {
        pixman_image_t *surface = source_image(dst, img, true, lookup, opaque);
        src = surface && src_alpha ? as_alpha(surface) : surface;
        if (surface && src_alpha) {
            pixman_image_unref(surface);
        }
    } else {
        /* Bitmaps keep their own format here, alpha included. */
        src = source_image(dst, img, true, lookup, opaque);
    }
    if (!src) {
        return CLOVE_E_INVALID;
    }
    pixman_image_t *dest = dest_alpha ? as_alpha(dst->image) : pixman_image_ref(dst->image);
    pixman_image_t *mask = NULL;
    if (d->u.alpha_blend.alpha != 0xff) {
        pixman_color_t c = {0, 0, 0, (uint16_t)(d->u.alpha_blend.alpha * 0x101)};
        mask = pixman_image_create_solid_fill(&c);
    }
    int rc = 0;
    if (!dest || (d->u.alpha_blend.alpha != 0xff && !mask)) {
        rc = CLOVE_E_NOMEM;
        goto out;
    }
    pixman_image_set_clip_region32(dest, region);
    int32_t dw = bbox->right - bbox->left, dh = bbox->bottom - bbox->top;
    if (same_size(bbox, src_area)) {
        pixman_image_set_repeat(src, PIXMAN_REPEAT_NONE);
        pixman_image_composite32(PIXMAN_OP_OVER, src, mask, dest, src_area->left, src_area->top, 0,
                                 0, bbox->left, bbox->top, dw, dh);
    } else {
        /* The reference always blends scaled sources with nearest. */
        set_scale(src, src_area, bbox);
        pixman_image_set_filter(src, PIXMAN_FILTER_NEAREST, NULL, 0);
        pixman_image_composite32(PIXMAN_OP_OVER, src, mask, dest, 0, 0, 0, 0, bbox->left, bbox->top,
                                 dw, dh);
    }
    image_reset(src);
    if (dst->format == SPICE_SURFACE_FMT_32_xRGB && !dest_alpha) {
        clear_pad_bytes(dest, bbox->left, bbox->top, dw, dh);
    }
    pixman_image_set_clip_region32(dest, NULL);
out:
    if (mask) {
        pixman_image_unref(mask);
    }
    if (dest) {
        pixman_image_unref(dest);
    }
    pixman_image_unref(src);
    return rc;
}

/* floor(v + 0.5) without libm (|v| stays far below INT_MAX here). */
static int round_half_up(double v)
{
    double w = v + 0.5;
    int i = (int)w;
    return (double)i > w ? i - 1 : i;
}

/*
 * The reference's scaling for ROP3 (a bbox-sized image, source origin
 * rounded from src_area / scale), computed only for the part `part` of
 * the bbox (bbox-relative) that is drawn: pixman samples each pixel alike.
 */
static pixman_image_t *scale_for_rop3(pixman_image_t *src, const struct qxl_rect *src_area,
                                      int32_t width, int32_t height, pixman_filter_t filter,
                                      const pixman_box32_t *part)
{
    double sx = (double)(src_area->right - src_area->left) / width;
    double sy = (double)(src_area->bottom - src_area->top) / height;
    double ox = src_area->left / sx, oy = src_area->top / sy;
    if (ox < -1e9 || ox > 1e9 || oy < -1e9 || oy > 1e9 || sx >= 32767.0 || sy >= 32767.0) {
        return NULL; /* a scale or origin no pixman coordinate can hold */
    }
    pixman_image_t *out = pixman_image_create_bits(
            pixman_image_get_format(src), part->x2 - part->x1, part->y2 - part->y1, NULL, 0);
    if (!out) {
        return NULL;
    }
    pixman_transform_t t;
    pixman_transform_init_scale(&t, pixman_double_to_fixed(sx), pixman_double_to_fixed(sy));
    pixman_image_set_transform(src, &t);
    pixman_image_set_repeat(src, PIXMAN_REPEAT_NONE);
    pixman_image_set_filter(src, filter, NULL, 0);
    pixman_image_composite32(PIXMAN_OP_SRC, src, NULL, out, round_half_up(ox) + part->x1,
                             round_half_up(oy) + part->y1, 0, 0, 0, 0, part->x2 - part->x1,
                             part->y2 - part->y1);
    image_reset(src);
    return out;
}

static inline uint32_t pixel_at(const uint8_t *row, int64_t x, unsigned bpp)
{
    return bpp == 32 ? ((const uint32_t *)(const void *)row)[x]
                     : ((const uint16_t *)(const void *)row)[x];
}

static int draw_rop3(struct canvas_surface *dst, pixman_region32_t *region,
                     const struct qxl_drawable *d, canvas_lookup_fn lookup, void *opaque)
{
    const struct qxl_rect *bbox = &d->bbox, *src_area = &d->u.rop3.src_area;
    int32_t width = bbox->right - bbox->left, height = bbox->bottom - bbox->top;
    unsigned bpp = canvas_raster_bpp(dst->image);
    if (!sane_rect(src_area)) {
        return CLOVE_E_INVALID;
    }
    if (bpp != 16 && bpp != 32) {
        return CLOVE_E_UNSUPPORTED;
    }
    bool scaled = !same_size(bbox, src_area);
    pixman_filter_t filter = PIXMAN_FILTER_NEAREST;
    if (scaled && (src_area->right <= src_area->left || src_area->bottom <= src_area->top ||
                   !scale_filter(d->u.rop3.scale_mode, &filter))) {
        return CLOVE_E_INVALID;
    }
    const struct qxl_brush *brush = &d->u.rop3.brush;
    if (brush->type == SPICE_BRUSH_TYPE_PATTERN && !sane_point(brush->pattern_pos)) {
        return CLOVE_E_INVALID;
    }
    /* The reference works on the whole bbox; only the part inside the
     * region matters, so we compute that part (bbox-relative). */
    const pixman_box32_t *e = pixman_region32_extents(region);
    pixman_box32_t part = {e->x1 - bbox->left, e->y1 - bbox->top, e->x2 - bbox->left,
                           e->y2 - bbox->top};
    int32_t part_w = part.x2 - part.x1, part_h = part.y2 - part.y1;
    pixman_image_t *s = source_image(dst, d->u.rop3.src, false, lookup, opaque);
    pixman_image_t *p = NULL, *dimg = NULL;
    int rc = 0;
    if (!s) {
        return CLOVE_E_INVALID;
    }
    /* source column = s_off_x + bbox-relative x */
    int64_t s_off_x = src_area->left, s_off_y = src_area->top;
    if (scaled) {
        pixman_image_t *t = scale_for_rop3(s, src_area, width, height, filter, &part);
        pixman_image_unref(s);
        s = t;
        s_off_x = -part.x1;
        s_off_y = -part.y1;
        if (!s) {
            return CLOVE_E_INVALID;
        }
    } else if (src_area->left < 0 || src_area->top < 0 ||
               pixman_image_get_width(s) - src_area->left < width ||
               pixman_image_get_height(s) - src_area->top < height) {
        /* The reference refuses sources that do not cover the whole bbox. */
        rc = CLOVE_E_INVALID;
        goto out;
    }
    if (canvas_raster_bpp(s) != bpp) {
        rc = CLOVE_E_INVALID;
        goto out;
    }
    if (brush->type == SPICE_BRUSH_TYPE_PATTERN) {
        p = source_image(dst, brush->pattern, false, lookup, opaque);
        if (!p || canvas_raster_bpp(p) != bpp) {
            rc = CLOVE_E_INVALID;
            goto out;
        }
    }
    /* The destination's current pixels under that part. */
    dimg = pixman_image_create_bits(pixman_image_get_format(dst->image), part_w, part_h, NULL, 0);
    if (!dimg) {
        rc = CLOVE_E_NOMEM;
        goto out;
    }
    pixman_box32_t all = {0, 0, part_w, part_h};
    canvas_raster_blit(dimg, &all, dst->image, -e->x1, -e->y1, CANVAS_ROP2_COPY);
    int32_t pw = p ? pixman_image_get_width(p) : 1, ph = p ? pixman_image_get_height(p) : 1;
    int32_t pat_y = 0, pat_x0 = 0;
    if (p) {
        /* pattern pixel of bbox-relative (x, y): ((bbox - pos) + (x, y)) mod size */
        int64_t px = ((int64_t)bbox->left - brush->pattern_pos.x + part.x1) % pw;
        int64_t py = ((int64_t)bbox->top - brush->pattern_pos.y + part.y1) % ph;
        pat_x0 = (int32_t)(px < 0 ? px + pw : px);
        pat_y = (int32_t)(py < 0 ? py + ph : py);
    }
    uint32_t color = bpp == 32 ? brush->color : (brush->color & 0xffffu);
    uint8_t code = d->u.rop3.rop3;
    for (int32_t y = 0; y < part_h; y++) {
        uint8_t *drow = (uint8_t *)pixman_image_get_data(dimg) +
                        (intptr_t)y * pixman_image_get_stride(dimg);
        const uint8_t *srow = (const uint8_t *)pixman_image_get_data(s) +
                              (intptr_t)(s_off_y + part.y1 + y) * pixman_image_get_stride(s);
        const uint8_t *prow = p ? (const uint8_t *)pixman_image_get_data(p) +
                                              (intptr_t)pat_y * pixman_image_get_stride(p)
                                : NULL;
        int32_t pat_x = pat_x0;
        for (int32_t x = 0; x < part_w; x++) {
            uint32_t sv = pixel_at(srow, s_off_x + part.x1 + x, bpp);
            uint32_t pv = prow ? pixel_at(prow, pat_x, bpp) : color;
            if (bpp == 32) {
                uint32_t *o = (uint32_t *)(void *)drow + x;
                *o = canvas_rop3_apply(code, pv, sv, *o);
            } else {
                uint16_t *o = (uint16_t *)(void *)drow + x;
                *o = (uint16_t)canvas_rop3_apply(code, pv, sv, *o);
            }
            if (++pat_x == pw) {
                pat_x = 0;
            }
        }
        if (++pat_y == ph) {
            pat_y = 0;
        }
    }
    blit_region(dst, region, dimg, e->x1, e->y1, CANVAS_ROP2_COPY);
out:
    if (dimg) {
        pixman_image_unref(dimg);
    }
    if (p) {
        pixman_image_unref(p);
    }
    pixman_image_unref(s);
    return rc;
}

/* The solid or tiled pixman source text is drawn with. */
static pixman_image_t *text_brush(const struct canvas_surface *dst, const struct qxl_brush *brush,
                                  canvas_lookup_fn lookup, void *opaque)
{
    if (brush->type == SPICE_BRUSH_TYPE_SOLID) {
        bool sixteen = PIXMAN_FORMAT_BPP(canvas_raster_surface_format(dst->format)) == 16;
        uint32_t shift = sixteen ? 5 : 8, mask = sixteen ? 0x1f : 0xff, c = brush->color;
        pixman_color_t color;
        color.blue = (uint16_t)(((c & mask) * 0xffffu) / mask);
        c >>= shift;
        color.green = (uint16_t)(((c & mask) * 0xffffu) / mask);
        c >>= shift;
        color.red = (uint16_t)(((c & mask) * 0xffffu) / mask);
        color.alpha = 0xffff;
        return pixman_image_create_solid_fill(&color);
    }
    if (brush->type == SPICE_BRUSH_TYPE_PATTERN && sane_point(brush->pattern_pos)) {
        pixman_image_t *tile = source_image(dst, brush->pattern, false, lookup, opaque);
        if (tile) {
            pixman_transform_t t;
            pixman_transform_init_translate(&t, pixman_int_to_fixed(-brush->pattern_pos.x),
                                            pixman_int_to_fixed(-brush->pattern_pos.y));
            pixman_image_set_transform(tile, &t);
            pixman_image_set_repeat(tile, PIXMAN_REPEAT_NORMAL);
        }
        return tile;
    }
    return NULL;
}

/* ORs a glyph row of 1-bit pixels (most significant bit first) into an a1
 * row at bit offset x0. */
static void put_a1_row(uint8_t *dst, int64_t x0, const uint8_t *src, uint32_t width)
{
    uint32_t *words = (uint32_t *)(void *)dst;
    for (uint32_t x = 0; x < width; x++) {
        if ((src[x / 8] >> (7 - x % 8)) & 1u) {
            uint64_t bit = (uint64_t)x0 + x;
            words[bit / 32] |= 1u << (bit % 32);
        }
    }
}

static int draw_text(struct canvas_surface *dst, pixman_region32_t *region,
                     const struct qxl_drawable *d, canvas_lookup_fn lookup, void *opaque)
{
    const struct qxl_rect *back = &d->u.text.back_area;
    const struct qxl_glyph_string *str = &d->u.text.str;
    if (back->top != back->bottom && back->left != back->right) {
        /* With a background, only a plain foreground makes sense (the
         * reference refuses anything else, drawing nothing). */
        if (d->u.text.fore_mode != SPICE_ROPD_OP_PUT || !sane_rect(back)) {
            return CLOVE_E_INVALID;
        }
        pixman_region32_t back_region;
        pixman_region32_init_rect(&back_region, back->left, back->top,
                                  (unsigned)(back->right - back->left),
                                  (unsigned)(back->bottom - back->top));
        pixman_region32_intersect(&back_region, &back_region, region);
        struct canvas_paint paint;
        int rc = 0;
        if (pixman_region32_not_empty(&back_region)) {
            /* The back brush is always copied, whatever back_mode says. */
            rc = paint_init(&paint, dst, &d->u.text.back_brush, CANVAS_ROP2_COPY, lookup, opaque);
            if (rc == 0) {
                paint_region(dst, &back_region, &paint);
                paint_finish(&paint);
            }
        }
        pixman_region32_fini(&back_region);
        if (rc < 0) {
            return rc;
        }
    }
    int depth;
    if (str->flags & SPICE_STRING_FLAGS_RASTER_A1) {
        depth = 1;
    } else if (str->flags & SPICE_STRING_FLAGS_RASTER_A4) {
        depth = 4;
    } else if (str->flags & SPICE_STRING_FLAGS_RASTER_A8) {
        depth = 8;
    } else {
        return CLOVE_E_UNSUPPORTED; /* vector glyphs: the reference has none either */
    }
    if (str->length == 0 || !str->glyphs) {
        return 0;
    }
    /* The string mask covers every glyph's box. */
    int64_t left = INT64_MAX, top = INT64_MAX, right = INT64_MIN, bottom = INT64_MIN;
    for (uint32_t i = 0; i < str->length; i++) {
        const struct qxl_glyph *g = &str->glyphs[i];
        if (!sane_point(g->render_pos) || !sane_point(g->glyph_origin) ||
            (g->width && g->height && !g->data)) {
            return CLOVE_E_INVALID;
        }
        int64_t gl = (int64_t)g->render_pos.x + g->glyph_origin.x;
        int64_t gt = (int64_t)g->render_pos.y + g->glyph_origin.y;
        left = gl < left ? gl : left;
        top = gt < top ? gt : top;
        right = gl + g->width > right ? gl + g->width : right;
        bottom = gt + g->height > bottom ? gt + g->height : bottom;
    }
    int64_t mw = right - left, mh = bottom - top;
    if (mw <= 0 || mh <= 0) {
        return 0;
    }
    if ((uint64_t)mw * (uint64_t)mh > MAX_TEXT_MASK_PIXELS) {
        return CLOVE_E_INVALID;
    }
    pixman_image_t *mask =
            pixman_image_create_bits(depth == 1 ? PIXMAN_a1 : PIXMAN_a8, (int)mw, (int)mh, NULL, 0);
    if (!mask) {
        return CLOVE_E_NOMEM;
    }
    uint8_t *mdata = (uint8_t *)pixman_image_get_data(mask);
    int mstride = pixman_image_get_stride(mask);
    for (uint32_t i = 0; i < str->length; i++) {
        const struct qxl_glyph *g = &str->glyphs[i];
        int64_t gx = (int64_t)g->render_pos.x + g->glyph_origin.x - left;
        int64_t gy = (int64_t)g->render_pos.y + g->glyph_origin.y - top;
        uint32_t stride = qxl_glyph_stride(str->flags, g->width);
        /* Glyph rows are stored bottom-up: the reference puts the last row
         * on top, whatever the TOP_DOWN flag says. For A8 it reads one row
         * further: mask row r takes glyph row (height - r), so the glyph
         * lands one row lower, its first stored row is never drawn, and the
         * top row comes from whatever follows the glyph in memory; we draw
         * nothing there. */
        for (uint32_t row = 0; row < g->height; row++) {
            uint32_t from = depth == 8 ? g->height - row : g->height - 1 - row;
            if (from >= g->height) {
                continue;
            }
            const uint8_t *src = g->data + (size_t)from * stride;
            uint8_t *out = mdata + (size_t)(gy + row) * (size_t)mstride;
            if (depth == 1) {
                put_a1_row(out, gx, src, g->width);
                continue;
            }
            for (uint32_t x = 0; x < g->width; x++) {
                /* Overlapping glyphs keep the larger coverage. For the
                 * right pixel of an A4 byte the reference compares the
                 * byte shifted left by 4 before truncating it, so a byte
                 * with a left pixel wins there whatever was below. */
                unsigned v;
                if (depth == 4) {
                    v = (x & 1) ? (unsigned)src[x / 2] << 4 : src[x / 2] & 0xf0u;
                } else {
                    v = src[x];
                }
                uint8_t *o = out + gx + x;
                *o = v > *o ? (uint8_t)v : *o;
            }
        }
    }
    pixman_image_t *brush = text_brush(dst, &d->u.text.fore_brush, lookup, opaque);
    if (brush) {
        pixman_image_set_clip_region32(dst->image, region);
        pixman_image_composite32(PIXMAN_OP_OVER, brush, mask, dst->image, 0, 0, 0, 0, (int)left,
                                 (int)top, (int)mw, (int)mh);
        if (dst->format == SPICE_SURFACE_FMT_32_xRGB) {
            clear_pad_bytes(dst->image, left, top, mw, mh);
        }
        pixman_image_set_clip_region32(dst->image, NULL);
        if (d->u.text.fore_brush.type == SPICE_BRUSH_TYPE_PATTERN) {
            image_reset(brush);
        }
        pixman_image_unref(brush);
    }
    pixman_image_unref(mask);
    return 0;
}

static int draw_stroke(struct canvas_surface *dst, pixman_region32_t *region,
                       const struct qxl_drawable *d, canvas_lookup_fn lookup, void *opaque)
{
    uint8_t rop = canvas_rop2_from_descriptor(d->u.stroke.fore_mode, CANVAS_ROP_INPUT_BRUSH,
                                              CANVAS_ROP_INPUT_DEST);
    struct canvas_paint paint;
    int rc = paint_init(&paint, dst, &d->u.stroke.brush, rop, lookup, opaque);
    if (rc < 0) {
        return rc;
    }
    rc = canvas_stroke_draw(dst, region, d, &paint);
    paint_finish(&paint);
    return rc;
}

static bool uses_mask(uint8_t type)
{
    switch (type) {
    case QXL_DRAW_FILL:
    case QXL_DRAW_OPAQUE:
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND:
    case QXL_DRAW_ROP3:
    case QXL_DRAW_BLACKNESS:
    case QXL_DRAW_WHITENESS:
    case QXL_DRAW_INVERS:
        return true;
    default:
        return false;
    }
}

int canvas_ops_draw(struct canvas_surface *dst, const struct qxl_drawable *d,
                    canvas_lookup_fn lookup, void *opaque)
{
    if (!dst->image || canvas_raster_bpp(dst->image) < 8) {
        return CLOVE_E_UNSUPPORTED;
    }
    /* Ops that use the bbox only as a clip take any bbox (the reference
     * clips even INT32_MIN..INT32_MAX to the surface); ops that map a
     * source onto it need coordinates whose differences cannot overflow. */
    bool clip_only = d->type == QXL_DRAW_FILL || d->type == QXL_DRAW_BLACKNESS ||
                     d->type == QXL_DRAW_WHITENESS || d->type == QXL_DRAW_INVERS ||
                     d->type == QXL_DRAW_STROKE || d->type == QXL_DRAW_TEXT;
    if (d->bbox.left > d->bbox.right || d->bbox.top > d->bbox.bottom ||
        (!clip_only && !sane_rect(&d->bbox))) {
        return CLOVE_E_INVALID;
    }
    pixman_region32_t region;
    int rc = region_init(&region, dst, d);
    if (rc < 0) {
        return rc;
    }
    if (uses_mask(d->type)) {
        rc = region_apply_mask(&region, d, lookup, opaque);
        if (rc < 0) {
            goto out;
        }
    }
    if (!pixman_region32_not_empty(&region)) {
        goto out;
    }
    switch (d->type) {
    case QXL_DRAW_FILL:
        rc = draw_fill(dst, &region, d, lookup, opaque);
        break;
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND: /* the same operation as far as pixels go */
        rc = draw_source(dst, &region, d, d->u.copy.src, &d->u.copy.src_area, d->u.copy.scale_mode,
                         canvas_rop2_from_descriptor(d->u.copy.rop_descriptor, CANVAS_ROP_INPUT_SRC,
                                                     CANVAS_ROP_INPUT_DEST),
                         lookup, opaque);
        break;
    case QXL_DRAW_OPAQUE:
        rc = draw_opaque(dst, &region, d, lookup, opaque);
        break;
    case QXL_DRAW_BLACKNESS:
        fill_region(dst, &region, 0, CANVAS_ROP2_COPY);
        break;
    case QXL_DRAW_WHITENESS:
        fill_region(dst, &region, 0xffffffffu, CANVAS_ROP2_COPY);
        break;
    case QXL_DRAW_INVERS:
        fill_region(dst, &region, 0, CANVAS_ROP2_INVERT);
        break;
    case QXL_DRAW_TRANSPARENT:
        rc = draw_transparent(dst, &region, d, lookup, opaque);
        break;
    case QXL_DRAW_ALPHA_BLEND:
        rc = draw_alpha_blend(dst, &region, d, lookup, opaque);
        break;
    case QXL_DRAW_ROP3:
        rc = draw_rop3(dst, &region, d, lookup, opaque);
        break;
    case QXL_DRAW_STROKE:
        rc = draw_stroke(dst, &region, d, lookup, opaque);
        break;
    case QXL_DRAW_TEXT:
        rc = draw_text(dst, &region, d, lookup, opaque);
        break;
    default:
        rc = CLOVE_E_UNSUPPORTED;
        break;
    }
out:
    pixman_region32_fini(&region);
    return rc;
}
