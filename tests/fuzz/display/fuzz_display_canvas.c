/*
 * libFuzzer target for canvas_draw() (src/display/canvas*.c).
 *
 * The input is read as a stream of small fields (missing bytes read as
 * zero): the destination surface's format and size, a second surface that
 * SURFACE images and masks may name, then one drawable of any type with
 * its clip rects, mask, brushes, images (any bitmap format, odd strides,
 * palettes or none), path or glyph string. Every structure keeps the
 * invariants the parsers guarantee (buffers as large as they claim); all
 * the values inside are hostile. The canvas must draw or refuse without
 * touching memory outside the surfaces and buffers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/qxl_dev.h>

#include "display/canvas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
    const uint8_t *p;
    size_t left;
};

static uint32_t take(struct input *in, unsigned bytes)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < bytes; i++) {
        v |= (uint32_t)(in->left ? (in->left--, *in->p++) : 0) << (8 * i);
    }
    return v;
}

/* A coordinate: mostly small, sometimes anything. */
static int32_t coord(struct input *in)
{
    uint32_t kind = take(in, 1);
    if (kind < 0xf0) {
        return (int32_t)(kind % 48) - 8;
    }
    return (int32_t)take(in, 4);
}

static struct qxl_rect rect(struct input *in)
{
    struct qxl_rect r;
    r.left = coord(in);
    r.top = coord(in);
    r.right = coord(in);
    r.bottom = coord(in);
    return r;
}

/* Everything the drawable points to, freed at the end. */
struct pool {
    void *blocks[64];
    unsigned n;
};

static void *pool_alloc(struct pool *pool, size_t bytes)
{
    if (pool->n == sizeof(pool->blocks) / sizeof(pool->blocks[0])) {
        return NULL;
    }
    void *b = calloc(1, bytes ? bytes : 1);
    if (b) {
        pool->blocks[pool->n++] = b;
    }
    return b;
}

static void fill(struct input *in, uint8_t *dst, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++) {
        dst[i] = (uint8_t)take(in, 1);
    }
}

static struct qxl_image *image(struct input *in, struct pool *pool)
{
    uint32_t kind = take(in, 1);
    if (kind % 8 == 7) {
        return NULL;
    }
    struct qxl_image *img = pool_alloc(pool, sizeof(*img));
    if (!img) {
        return NULL;
    }
    if (kind % 8 == 6) {
        img->type = SPICE_IMAGE_TYPE_SURFACE;
        img->surface_id = take(in, 1) % 3;
        return img;
    }
    img->type = SPICE_IMAGE_TYPE_BITMAP;
    img->format = (uint8_t)(take(in, 1) % 11);
    img->bitmap_flags = (uint8_t)take(in, 1);
    img->desc_flags = (uint8_t)take(in, 1);
    img->width = take(in, 1) % 18;
    img->height = take(in, 1) % 18;
    img->stride = take(in, 1) % 80;
    size_t bytes = (size_t)img->stride * img->height;
    img->data = pool_alloc(pool, bytes);
    if (!img->data) {
        return NULL;
    }
    fill(in, img->data, bytes);
    uint32_t entries = take(in, 1) % 20;
    if (entries) {
        img->palette = pool_alloc(pool, entries * 4);
        if (img->palette) {
            img->num_palette = entries;
            fill(in, (uint8_t *)img->palette, entries * 4);
        }
    }
    return img;
}

static void brush(struct input *in, struct pool *pool, struct qxl_brush *b)
{
    b->type = take(in, 1) % 4;
    b->color = take(in, 4);
    if (b->type == SPICE_BRUSH_TYPE_PATTERN) {
        b->pattern = image(in, pool);
        b->pattern_pos.x = coord(in);
        b->pattern_pos.y = coord(in);
    }
}

static void path(struct input *in, struct pool *pool, struct qxl_path *p)
{
    uint32_t npoints = take(in, 1) % 24;
    struct qxl_point *points = pool_alloc(pool, sizeof(*points) * npoints);
    if (!points) {
        return;
    }
    for (uint32_t i = 0; i < npoints; i++) {
        /* 28.4 fixed; huge coordinates wrap, as a guest's would */
        points[i].x = (int32_t)((uint32_t)coord(in) * 16u + take(in, 1) % 16);
        points[i].y = (int32_t)((uint32_t)coord(in) * 16u + take(in, 1) % 16);
    }
    uint32_t nseg = take(in, 1) % 6;
    struct qxl_path_seg *segs = pool_alloc(pool, sizeof(*segs) * nseg);
    if (!segs) {
        return;
    }
    uint32_t used = 0;
    for (uint32_t i = 0; i < nseg; i++) {
        uint32_t count = take(in, 1) % 8;
        if (count > npoints - used) {
            count = npoints - used;
        }
        segs[i].flags = take(in, 1) & SPICE_PATH_FLAGS_MASK;
        segs[i].count = count;
        segs[i].points = points + used;
        used += count;
    }
    p->num_segments = nseg;
    p->segments = segs;
    p->num_points = npoints;
    p->points = points;
}

static void glyphs(struct input *in, struct pool *pool, struct qxl_glyph_string *s)
{
    s->flags = (uint16_t)(take(in, 1) & SPICE_STRING_FLAGS_MASK);
    s->length = (uint16_t)(take(in, 1) % 5);
    s->glyphs = pool_alloc(pool, sizeof(*s->glyphs) * s->length);
    if (!s->glyphs) {
        s->length = 0;
        return;
    }
    for (uint16_t i = 0; i < s->length; i++) {
        struct qxl_glyph *g = &s->glyphs[i];
        g->render_pos.x = coord(in);
        g->render_pos.y = coord(in);
        g->glyph_origin.x = coord(in);
        g->glyph_origin.y = coord(in);
        g->width = (uint16_t)(take(in, 1) % 20);
        g->height = (uint16_t)(take(in, 1) % 20);
        size_t bytes = (size_t)qxl_glyph_stride(s->flags, g->width) * g->height;
        uint8_t *bits = pool_alloc(pool, bytes);
        if (bits) {
            fill(in, bits, bytes);
        }
        g->data = bits;
    }
}

static struct canvas_surface surfaces[3];

static struct canvas_surface *lookup(void *opaque, uint32_t id)
{
    (void)opaque;
    return id < 3 && surfaces[id].line0 ? &surfaces[id] : NULL;
}

static const uint32_t formats[] = {SPICE_SURFACE_FMT_32_xRGB, SPICE_SURFACE_FMT_32_ARGB,
                                   SPICE_SURFACE_FMT_16_555,  SPICE_SURFACE_FMT_16_565,
                                   SPICE_SURFACE_FMT_8_A,     SPICE_SURFACE_FMT_1_A};

static const uint8_t types[] = {QXL_DRAW_FILL,        QXL_DRAW_OPAQUE,      QXL_DRAW_COPY,
                                QXL_DRAW_TRANSPARENT, QXL_DRAW_ALPHA_BLEND, QXL_COPY_BITS,
                                QXL_DRAW_BLEND,       QXL_DRAW_BLACKNESS,   QXL_DRAW_WHITENESS,
                                QXL_DRAW_INVERS,      QXL_DRAW_ROP3,        QXL_DRAW_STROKE,
                                QXL_DRAW_TEXT,        QXL_DRAW_COMPOSITE};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    struct pool pool = {0};
    uint8_t *pixels[3] = {NULL, NULL, NULL};
    memset(surfaces, 0, sizeof(surfaces));
    for (unsigned i = 0; i < 3; i++) {
        uint32_t format = formats[take(&in, 1) % (i == 0 ? 5 : 6)];
        uint32_t w = 1 + take(&in, 1) % 40, h = 1 + take(&in, 1) % 40;
        int32_t stride = (int32_t)((w * 4 + 3) & ~3u);
        pixels[i] = calloc(1, (size_t)stride * h);
        if (!pixels[i]) {
            goto out;
        }
        uint32_t seed = take(&in, 1);
        for (size_t k = 0; k < (size_t)stride * h; k++) {
            pixels[i][k] = (uint8_t)(seed + k * 37);
        }
        canvas_surface_init(&surfaces[i], pixels[i], stride, w, h, format);
    }
    struct qxl_drawable d;
    memset(&d, 0, sizeof(d));
    d.type = types[take(&in, 1) % (sizeof(types) / sizeof(types[0]))];
    d.bbox = rect(&in);
    d.clip_type = take(&in, 1) % 2 ? SPICE_CLIP_TYPE_RECTS : SPICE_CLIP_TYPE_NONE;
    if (d.clip_type == SPICE_CLIP_TYPE_RECTS) {
        d.num_clip_rects = take(&in, 1) % 4;
        d.clip_rects = pool_alloc(&pool, sizeof(struct qxl_rect) * (d.num_clip_rects + 1));
        for (uint32_t i = 0; d.clip_rects && i < d.num_clip_rects; i++) {
            d.clip_rects[i] = rect(&in);
        }
    }
    if (take(&in, 1) % 2) {
        d.mask.flags = (uint8_t)take(&in, 1);
        d.mask.pos.x = coord(&in);
        d.mask.pos.y = coord(&in);
        d.mask.bitmap = image(&in, &pool);
    }
    switch (d.type) {
    case QXL_DRAW_FILL:
        brush(&in, &pool, &d.u.fill.brush);
        d.u.fill.rop_descriptor = (uint16_t)take(&in, 2);
        break;
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND:
        d.u.copy.src = image(&in, &pool);
        d.u.copy.src_area = rect(&in);
        d.u.copy.rop_descriptor = (uint16_t)take(&in, 2);
        d.u.copy.scale_mode = (uint8_t)(take(&in, 1) % 3);
        break;
    case QXL_DRAW_OPAQUE:
        d.u.opaque.src = image(&in, &pool);
        d.u.opaque.src_area = rect(&in);
        brush(&in, &pool, &d.u.opaque.brush);
        d.u.opaque.rop_descriptor = (uint16_t)take(&in, 2);
        d.u.opaque.scale_mode = (uint8_t)(take(&in, 1) % 3);
        break;
    case QXL_DRAW_TRANSPARENT:
        d.u.transparent.src = image(&in, &pool);
        d.u.transparent.src_area = rect(&in);
        d.u.transparent.src_color = take(&in, 4);
        d.u.transparent.true_color = take(&in, 4);
        break;
    case QXL_DRAW_ALPHA_BLEND:
        d.u.alpha_blend.alpha_flags = (uint16_t)take(&in, 1);
        d.u.alpha_blend.alpha = (uint8_t)take(&in, 1);
        d.u.alpha_blend.src = image(&in, &pool);
        d.u.alpha_blend.src_area = rect(&in);
        break;
    case QXL_DRAW_ROP3:
        d.u.rop3.src = image(&in, &pool);
        d.u.rop3.src_area = rect(&in);
        brush(&in, &pool, &d.u.rop3.brush);
        d.u.rop3.rop3 = (uint8_t)take(&in, 1);
        d.u.rop3.scale_mode = (uint8_t)(take(&in, 1) % 3);
        break;
    case QXL_DRAW_STROKE:
        path(&in, &pool, &d.u.stroke.path);
        d.u.stroke.attr.flags = (uint8_t)take(&in, 1);
        d.u.stroke.attr.style_nseg = (uint8_t)(take(&in, 1) % 6);
        d.u.stroke.attr.style = pool_alloc(&pool, 4 * (d.u.stroke.attr.style_nseg + 1u));
        if (!d.u.stroke.attr.style) {
            d.u.stroke.attr.style_nseg = 0;
        }
        for (unsigned i = 0; d.u.stroke.attr.style && i < d.u.stroke.attr.style_nseg; i++) {
            d.u.stroke.attr.style[i] = take(&in, 2);
        }
        brush(&in, &pool, &d.u.stroke.brush);
        d.u.stroke.fore_mode = (uint16_t)take(&in, 2);
        d.u.stroke.back_mode = (uint16_t)take(&in, 2);
        break;
    case QXL_DRAW_TEXT:
        glyphs(&in, &pool, &d.u.text.str);
        d.u.text.back_area = rect(&in);
        brush(&in, &pool, &d.u.text.fore_brush);
        brush(&in, &pool, &d.u.text.back_brush);
        d.u.text.fore_mode = take(&in, 1) % 2 ? SPICE_ROPD_OP_PUT : (uint16_t)take(&in, 2);
        d.u.text.back_mode = (uint16_t)take(&in, 2);
        break;
    case QXL_DRAW_COMPOSITE:
        d.u.composite.flags = take(&in, 4);
        d.u.composite.src = image(&in, &pool);
        if (!d.u.composite.src) {
            d.type = QXL_DRAW_FILL; /* the parsers never give a composite no source */
        }
        if (d.u.composite.flags & SPICE_COMPOSITE_HAS_MASK) {
            d.u.composite.mask = image(&in, &pool);
        }
        d.u.composite.has_src_transform = take(&in, 1) % 4 == 0;
        d.u.composite.has_mask_transform = take(&in, 1) % 4 == 0;
        for (unsigned i = 0; i < 6; i++) {
            d.u.composite.src_transform[i] = take(&in, 4);
            d.u.composite.mask_transform[i] = take(&in, 4);
        }
        d.u.composite.src_origin_x = (int16_t)take(&in, 2);
        d.u.composite.src_origin_y = (int16_t)take(&in, 2);
        d.u.composite.mask_origin_x = (int16_t)take(&in, 2);
        d.u.composite.mask_origin_y = (int16_t)take(&in, 2);
        break;
    case QXL_COPY_BITS:
        d.u.copy_bits.src_pos.x = coord(&in);
        d.u.copy_bits.src_pos.y = coord(&in);
        break;
    default:
        break;
    }
    (void)canvas_draw(&surfaces[0], &d, lookup, NULL);
out:
    for (unsigned i = 0; i < 3; i++) {
        canvas_surface_finish(&surfaces[i]);
        free(pixels[i]);
    }
    for (unsigned i = 0; i < pool.n; i++) {
        free(pool.blocks[i]);
    }
    return 0;
}
