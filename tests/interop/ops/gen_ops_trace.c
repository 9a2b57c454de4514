/*
 * Writes a QXL command trace (the reference's SPICE_WORKER_RECORD_FILENAME
 * format) that draws every QXL draw operation once or more on a 400x300
 * primary surface: fills with solid and pattern brushes and masks, copies
 * with ROP descriptors, masks and scaling, blend, opaque, transparent,
 * alpha blend, ROP3, strokes (solid, dashed, XOR), text (A1 glyphs with a
 * back area), blackness / whiteness / invers with clip rects, copy bits,
 * and copies of 1/4/8-bit palette bitmaps (two pairs sharing a palette id,
 * so that the second of each may name the palette from the client's cache).
 *
 * The commands are built in a fake guest memory (tests/unit/display/
 * guest_ram.h) and recorded through src/display/qxl_record.c, so the trace
 * replays on either library with clove-replay (spice_replay_*). The
 * interop test draw_ops replays it and compares what Debian's spice-gtk,
 * the reference server's canvas and ours make of it.
 *
 * Effects: every operation that reads the destination is marked
 * QXL_EFFECT_BLEND, so that neither server may treat it as hiding what lies
 * under it.
 *
 * Usage: gen_ops_trace OUT.trace
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/qxl_dev.h>

#include "display/qxl_record.h"
#include "guest_ram.h"

#define W 400
#define H 300

static struct guest g;
static struct qxl_recorder *rec;

static void die(const char *what)
{
    fprintf(stderr, "gen_ops_trace: %s\n", what);
    exit(1);
}

static uint64_t put(const void *p, size_t n)
{
    uint64_t a = guest_put(&g, p, n);
    if (a == 0) {
        die("out of guest memory");
    }
    return a;
}

static QXLRect rect(int32_t left, int32_t top, int32_t right, int32_t bottom)
{
    return (QXLRect){.top = top, .left = left, .bottom = bottom, .right = right};
}

/* A bitmap image with its pixels stored directly after the descriptor. */
static uint64_t image(uint8_t format, uint32_t w, uint32_t h, uint32_t stride, const void *pixels,
                      uint64_t id)
{
    uint64_t data = put(pixels, (size_t)stride * h);
    QXLImage img;
    memset(&img, 0, sizeof(img));
    img.descriptor.id = id;
    img.descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
    img.descriptor.width = w;
    img.descriptor.height = h;
    img.bitmap.format = format;
    img.bitmap.flags = QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN;
    img.bitmap.x = w;
    img.bitmap.y = h;
    img.bitmap.stride = stride;
    img.bitmap.data = data;
    return put(&img, sizeof(img));
}

/* A w x h xRGB gradient with a diagonal band; `seed` varies the colours. */
static uint64_t gradient_image(uint32_t w, uint32_t h, unsigned seed, uint32_t *key_color)
{
    uint32_t *px = malloc(sizeof(*px) * w * h);
    if (!px) {
        die("out of memory");
    }
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            uint32_t r = (x * 255 / (w - 1) + seed * 40) & 0xff;
            uint32_t gg = (y * 255 / (h - 1)) & 0xff;
            uint32_t b = ((x + y) * 4 + seed * 90) & 0xff;
            uint32_t v = (r << 16) | (gg << 8) | b;
            if (key_color && (x + y) % 7 < 3) {
                v = *key_color;
            }
            px[y * w + x] = v;
        }
    }
    uint64_t a = image(SPICE_BITMAP_FMT_32BIT, w, h, w * 4, px, 0x1000 + seed);
    free(px);
    return a;
}

/* ARGB with alpha growing from left to right (premultiplied colours). */
static uint64_t alpha_image(uint32_t w, uint32_t h)
{
    uint32_t *px = malloc(sizeof(*px) * w * h);
    if (!px) {
        die("out of memory");
    }
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            uint32_t a = x * 255 / (w - 1);
            uint32_t r = a * ((y * 5) & 0xff) / 255;
            uint32_t gg = a * 200 / 255;
            uint32_t b = a * 60 / 255;
            px[y * w + x] = (a << 24) | (r << 16) | (gg << 8) | b;
        }
    }
    uint64_t id = 0x2000;
    uint64_t ret = image(SPICE_BITMAP_FMT_RGBA, w, h, w * 4, px, id);
    free(px);
    return ret;
}

/* A 1-bit (MSB first) disc of radius w/2 with a hole: the mask bitmap. */
static uint64_t mask_image(uint32_t w, uint32_t h)
{
    uint32_t stride = (w + 7) / 8;
    uint8_t *bits = calloc(stride, h);
    if (!bits) {
        die("out of memory");
    }
    int cx = (int)w / 2, cy = (int)h / 2;
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            int dx = (int)x - cx, dy = (int)y - cy;
            int d2 = dx * dx + dy * dy;
            if (d2 < cx * cx && d2 > 36) {
                bits[y * stride + x / 8] |= (uint8_t)(0x80u >> (x % 8));
            }
        }
    }
    uint64_t ret = image(SPICE_BITMAP_FMT_1BIT_BE, w, h, stride, bits, 0x3000 + w);
    free(bits);
    return ret;
}

/*
 * A palette bitmap (1/4/8-bit `format`) whose index at (x, y) is
 * index(x, y, seed), with `num_ents` colours under palette id `unique`
 * (0: not cacheable); top_down false stores the rows bottom-up.
 */
static uint64_t palette_image(uint8_t format, uint32_t w, uint32_t h, unsigned seed,
                              uint64_t unique, uint16_t num_ents, bool top_down, uint64_t id)
{
    unsigned bpp = 1;
    if (format == SPICE_BITMAP_FMT_8BIT) {
        bpp = 8;
    } else if (format == SPICE_BITMAP_FMT_4BIT_LE || format == SPICE_BITMAP_FMT_4BIT_BE) {
        bpp = 4;
    }
    bool le = format == SPICE_BITMAP_FMT_1BIT_LE || format == SPICE_BITMAP_FMT_4BIT_LE;
    uint32_t stride = (w * bpp + 7) / 8 + 1; /* one spare byte, as guests pad */
    uint8_t *bits = calloc(stride, h);
    QXLPalette *pal = calloc(1, sizeof(*pal) + sizeof(uint32_t) * num_ents);
    if (!bits || !pal) {
        die("out of memory");
    }
    for (uint32_t y = 0; y < h; y++) {
        uint8_t *row = bits + (size_t)(top_down ? y : h - 1 - y) * stride;
        for (uint32_t x = 0; x < w; x++) {
            unsigned v = ((x / 5 + y / 4) * (seed + 1) + (x * y) / 37) & ((1u << bpp) - 1);
            if (bpp == 8) {
                row[x] = (uint8_t)v;
            } else if (bpp == 4) {
                unsigned shift = (x % 2 == 0) == le ? 0 : 4;
                row[x / 2] |= (uint8_t)(v << shift);
            } else {
                unsigned bit = le ? x % 8 : 7 - x % 8;
                row[x / 8] |= (uint8_t)(v << bit);
            }
        }
    }
    pal->unique = unique;
    pal->num_ents = num_ents;
    for (uint16_t i = 0; i < num_ents; i++) {
        /* The colours depend on the id: a wrong palette shows. */
        unsigned k = i + (unsigned)unique * 7u;
        pal->ents[i] = ((k * 53u + 40) & 0xff) << 16 | ((k * 97u + 10) & 0xff) << 8 |
                       ((255 - k * 31u) & 0xff);
    }
    uint64_t pal_addr = put(pal, sizeof(*pal) + sizeof(uint32_t) * num_ents);
    uint64_t data = put(bits, (size_t)stride * h);
    QXLImage img;
    memset(&img, 0, sizeof(img));
    img.descriptor.id = id;
    img.descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
    img.descriptor.width = w;
    img.descriptor.height = h;
    img.bitmap.format = format;
    img.bitmap.flags = QXL_BITMAP_DIRECT | (top_down ? QXL_BITMAP_TOP_DOWN : 0);
    img.bitmap.x = w;
    img.bitmap.y = h;
    img.bitmap.stride = stride;
    img.bitmap.palette = pal_addr;
    img.bitmap.data = data;
    free(bits);
    free(pal);
    return put(&img, sizeof(img));
}

/* An 8x8 two-colour pattern with a diagonal. */
static uint64_t pattern_image(void)
{
    uint32_t px[64];
    for (int y = 0; y < 8; y++) {
        for (int x = 0; x < 8; x++) {
            px[y * 8 + x] =
                    (x == y || x == 7 - y) ? 0xf0e040 : ((x / 4 + y / 4) % 2 ? 0x3060c0 : 0x102040);
        }
    }
    return image(SPICE_BITMAP_FMT_32BIT, 8, 8, 32, px, 0x4000);
}

static void init_drawable(QXLDrawable *d, uint8_t type, QXLRect bbox, uint8_t effect)
{
    static uint64_t release_id = 1;
    memset(d, 0, sizeof(*d));
    d->release_info.id = release_id++;
    d->surface_id = 0;
    d->effect = effect;
    d->type = type;
    d->bbox = bbox;
    d->clip.type = SPICE_CLIP_TYPE_NONE;
    d->surfaces_dest[0] = d->surfaces_dest[1] = d->surfaces_dest[2] = -1;
}

/* Sets RECTS clipping with the given rects (one chunk). */
static void set_clip(QXLDrawable *d, const QXLRect *rects, uint32_t n)
{
    size_t size = sizeof(QXLClipRects) + sizeof(QXLRect) * n;
    QXLClipRects *c = calloc(1, size);
    if (!c) {
        die("out of memory");
    }
    c->num_rects = n;
    c->chunk.data_size = (uint32_t)(sizeof(QXLRect) * n);
    memcpy(c->chunk.data, rects, sizeof(QXLRect) * n);
    d->clip.type = SPICE_CLIP_TYPE_RECTS;
    d->clip.data = put(c, size);
    free(c);
}

static void emit(const QXLDrawable *d)
{
    uint64_t addr = put(d, sizeof(*d));
    QXLCommandExt ext = {.cmd = {.data = addr, .type = QXL_CMD_DRAW}, .group_id = 0};
    qxl_recorder_command(rec, &g.table, &ext);
}

static QXLBrush solid(uint32_t color)
{
    QXLBrush b;
    memset(&b, 0, sizeof(b));
    b.type = SPICE_BRUSH_TYPE_SOLID;
    b.u.color = color;
    return b;
}

static QXLBrush pattern(uint64_t pat, int32_t x, int32_t y)
{
    QXLBrush b;
    memset(&b, 0, sizeof(b));
    b.type = SPICE_BRUSH_TYPE_PATTERN;
    b.u.pattern.pat = pat;
    b.u.pattern.pos.x = x;
    b.u.pattern.pos.y = y;
    return b;
}

static QXLQMask qmask(uint64_t bitmap, uint8_t flags, int32_t x, int32_t y)
{
    QXLQMask m;
    memset(&m, 0, sizeof(m));
    m.flags = flags;
    m.pos.x = x;
    m.pos.y = y;
    m.bitmap = bitmap;
    return m;
}

static void fill(QXLRect box, QXLBrush brush, uint16_t rop, QXLQMask mask, uint8_t effect)
{
    QXLDrawable d;
    init_drawable(&d, QXL_DRAW_FILL, box, effect);
    d.u.fill.brush = brush;
    d.u.fill.rop_descriptor = rop;
    d.u.fill.mask = mask;
    emit(&d);
}

static void copy_like(uint8_t type, QXLRect box, uint64_t src, QXLRect src_area, uint16_t rop,
                      uint8_t scale, QXLQMask mask, uint8_t effect)
{
    QXLDrawable d;
    init_drawable(&d, type, box, effect);
    d.u.copy.src_bitmap = src;
    d.u.copy.src_area = src_area;
    d.u.copy.rop_descriptor = rop;
    d.u.copy.scale_mode = scale;
    d.u.copy.mask = mask;
    emit(&d);
}

/* A path: the segments' point lists in 28.4 fixed point, one chunk. */
static uint64_t path(const uint32_t *flags, const uint32_t *counts, const int *xy, uint32_t nseg)
{
    size_t data = 0, npoints = 0;
    for (uint32_t i = 0; i < nseg; i++) {
        data += sizeof(QXLPathSeg) + sizeof(QXLPointFix) * counts[i];
        npoints += counts[i];
    }
    QXLPath *p = calloc(1, sizeof(*p) + data);
    if (!p) {
        die("out of memory");
    }
    p->data_size = (uint32_t)data;
    p->chunk.data_size = (uint32_t)data;
    uint8_t *at = p->chunk.data;
    size_t k = 0;
    for (uint32_t i = 0; i < nseg; i++) {
        QXLPathSeg seg = {.flags = flags[i], .count = counts[i]};
        memcpy(at, &seg, sizeof(seg));
        at += sizeof(seg);
        for (uint32_t j = 0; j < counts[i]; j++, k++) {
            QXLPointFix pt = {.x = xy[2 * k] * 16, .y = xy[2 * k + 1] * 16};
            memcpy(at, &pt, sizeof(pt));
            at += sizeof(pt);
        }
    }
    (void)npoints;
    uint64_t a = put(p, sizeof(*p) + data);
    free(p);
    return a;
}

static void stroke(QXLRect box, uint64_t p, uint32_t color, uint16_t fore_mode,
                   const QXLFIXED *style, uint8_t nstyle, uint8_t line_flags)
{
    QXLDrawable d;
    init_drawable(&d, QXL_DRAW_STROKE, box, QXL_EFFECT_BLEND);
    d.u.stroke.path = p;
    d.u.stroke.attr.flags = line_flags;
    d.u.stroke.attr.style_nseg = nstyle;
    if (nstyle) {
        d.u.stroke.attr.style = put(style, sizeof(*style) * nstyle);
    }
    d.u.stroke.brush = solid(color);
    d.u.stroke.fore_mode = fore_mode;
    d.u.stroke.back_mode = SPICE_ROPD_OP_PUT;
    emit(&d);
}

/* An A1 string of glyphs drawn from 5x7 digit-like shapes. */
static uint64_t glyph_string(int x0, int baseline, const char *text)
{
    static const uint8_t shapes[3][7] = {
            {0x70, 0x88, 0x98, 0xa8, 0xc8, 0x88, 0x70}, /* 0 */
            {0x20, 0x60, 0x20, 0x20, 0x20, 0x20, 0x70}, /* 1 */
            {0xf8, 0x80, 0xf0, 0x08, 0x08, 0x88, 0x70}, /* 5 */
    };
    size_t n = strlen(text);
    size_t glyph_size = sizeof(QXLRasterGlyph) + 7;
    size_t data = glyph_size * n;
    QXLString *s = calloc(1, sizeof(*s) + data);
    if (!s) {
        die("out of memory");
    }
    s->data_size = (uint32_t)data;
    s->length = (uint16_t)n;
    s->flags = SPICE_STRING_FLAGS_RASTER_A1 | SPICE_STRING_FLAGS_RASTER_TOP_DOWN;
    s->chunk.data_size = (uint32_t)data;
    uint8_t *at = s->chunk.data;
    for (size_t i = 0; i < n; i++) {
        QXLRasterGlyph gl = {
                .render_pos = {.x = x0 + (int)i * 8, .y = baseline},
                .glyph_origin = {.x = 0, .y = -7},
                .width = 5,
                .height = 7,
        };
        memcpy(at, &gl, sizeof(gl));
        at += sizeof(gl);
        int k = text[i] == '0' ? 0 : text[i] == '1' ? 1 : 2;
        memcpy(at, shapes[k], 7);
        at += 7;
    }
    uint64_t a = put(s, sizeof(*s) + data);
    free(s);
    return a;
}

static void text(QXLRect box, uint64_t str, QXLRect back, QXLBrush fore, QXLBrush backb,
                 uint16_t fore_mode, uint16_t back_mode)
{
    QXLDrawable d;
    init_drawable(&d, QXL_DRAW_TEXT, box, QXL_EFFECT_BLEND);
    d.u.text.str = str;
    d.u.text.back_area = back;
    d.u.text.fore_brush = fore;
    d.u.text.back_brush = backb;
    d.u.text.fore_mode = fore_mode;
    d.u.text.back_mode = back_mode;
    emit(&d);
}

static void scene(void)
{
    const QXLQMask nomask = qmask(0, 0, 0, 0);
    uint64_t pat = pattern_image();
    uint64_t grad = gradient_image(50, 50, 1, NULL);
    uint64_t grad2 = gradient_image(50, 50, 2, NULL);
    uint64_t small = gradient_image(25, 25, 3, NULL);
    uint32_t key = 0x00ff00ff;
    uint64_t keyed = gradient_image(50, 50, 4, &key);
    uint64_t alpha = alpha_image(50, 50);
    uint64_t disc = mask_image(50, 50);
    QXLRect all = rect(0, 0, 50, 50);

    /* background */
    fill(rect(0, 0, W, H), solid(0x203040), SPICE_ROPD_OP_PUT, nomask, QXL_EFFECT_OPAQUE);

    /* row 1: fills */
    fill(rect(10, 10, 60, 60), pattern(pat, 3, 5), SPICE_ROPD_OP_PUT, nomask, QXL_EFFECT_OPAQUE);
    fill(rect(70, 10, 120, 60), solid(0xe0c020), SPICE_ROPD_OP_PUT, qmask(disc, 0, 0, 0),
         QXL_EFFECT_BLEND);
    fill(rect(130, 10, 180, 60), solid(0x20c0e0), SPICE_ROPD_OP_PUT,
         qmask(disc, SPICE_MASK_FLAGS_INVERS, 0, 0), QXL_EFFECT_BLEND);
    fill(rect(190, 10, 240, 60), solid(0xff8040), SPICE_ROPD_OP_XOR, nomask, QXL_EFFECT_BLEND);
    fill(rect(250, 10, 300, 60), pattern(pat, 0, 0), SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_BRUSH,
         nomask, QXL_EFFECT_OPAQUE);
    {
        QXLDrawable d;
        init_drawable(&d, QXL_DRAW_BLACKNESS, rect(310, 10, 360, 60), QXL_EFFECT_OPAQUE);
        QXLRect clips[2] = {rect(310, 10, 330, 30), rect(335, 35, 360, 60)};
        set_clip(&d, clips, 2);
        emit(&d);
        init_drawable(&d, QXL_DRAW_WHITENESS, rect(365, 10, 395, 30), QXL_EFFECT_OPAQUE);
        emit(&d);
        init_drawable(&d, QXL_DRAW_INVERS, rect(365, 35, 395, 60), QXL_EFFECT_BLEND);
        emit(&d);
    }

    /* row 2: copies and blend */
    copy_like(QXL_DRAW_COPY, rect(10, 70, 60, 120), grad, all, SPICE_ROPD_OP_PUT,
              SPICE_IMAGE_SCALE_MODE_NEAREST, nomask, QXL_EFFECT_OPAQUE);
    copy_like(QXL_DRAW_COPY, rect(70, 70, 120, 120), grad, all,
              SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_SRC, SPICE_IMAGE_SCALE_MODE_NEAREST, nomask,
              QXL_EFFECT_OPAQUE);
    copy_like(QXL_DRAW_COPY, rect(130, 70, 180, 120), grad2, all, SPICE_ROPD_OP_OR,
              SPICE_IMAGE_SCALE_MODE_NEAREST, nomask, QXL_EFFECT_BLEND);
    copy_like(QXL_DRAW_COPY, rect(190, 70, 240, 120), grad2, all, SPICE_ROPD_OP_PUT,
              SPICE_IMAGE_SCALE_MODE_NEAREST, qmask(disc, 0, 0, 0), QXL_EFFECT_BLEND);
    copy_like(QXL_DRAW_COPY, rect(250, 70, 300, 120), small, rect(0, 0, 25, 25), SPICE_ROPD_OP_PUT,
              SPICE_IMAGE_SCALE_MODE_NEAREST, nomask, QXL_EFFECT_OPAQUE);
    copy_like(QXL_DRAW_BLEND, rect(310, 70, 360, 120), grad, all, SPICE_ROPD_OP_AND,
              SPICE_IMAGE_SCALE_MODE_NEAREST, nomask, QXL_EFFECT_BLEND);

    /* row 3: opaque, transparent, alpha blend, rop3 */
    {
        QXLDrawable d;
        init_drawable(&d, QXL_DRAW_OPAQUE, rect(10, 130, 60, 180), QXL_EFFECT_OPAQUE_BRUSH);
        d.u.opaque.src_bitmap = grad2;
        d.u.opaque.src_area = all;
        d.u.opaque.brush = pattern(pat, 10, 130);
        d.u.opaque.rop_descriptor = SPICE_ROPD_OP_XOR;
        d.u.opaque.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;
        emit(&d);

        init_drawable(&d, QXL_DRAW_TRANSPARENT, rect(70, 130, 120, 180), QXL_EFFECT_BLEND);
        d.u.transparent.src_bitmap = keyed;
        d.u.transparent.src_area = all;
        d.u.transparent.src_color = key;
        d.u.transparent.true_color = key;
        emit(&d);

        init_drawable(&d, QXL_DRAW_ALPHA_BLEND, rect(130, 130, 180, 180), QXL_EFFECT_BLEND);
        d.u.alpha_blend.alpha = 128;
        d.u.alpha_blend.src_bitmap = grad2;
        d.u.alpha_blend.src_area = all;
        emit(&d);

        init_drawable(&d, QXL_DRAW_ALPHA_BLEND, rect(190, 130, 240, 180), QXL_EFFECT_BLEND);
        d.u.alpha_blend.alpha_flags = SPICE_ALPHA_FLAGS_SRC_SURFACE_HAS_ALPHA;
        d.u.alpha_blend.alpha = 255;
        d.u.alpha_blend.src_bitmap = alpha;
        d.u.alpha_blend.src_area = all;
        emit(&d);

        /* codes the reference implements (its rop3.c has no handler for the
         * ones a ROP descriptor expresses, such as 0x5a or 0x66) */
        static const uint8_t rops[3] = {0xb8, 0x1e, 0x69};
        for (int i = 0; i < 3; i++) {
            int x = 250 + i * 50;
            init_drawable(&d, QXL_DRAW_ROP3, rect(x, 130, x + 45, 180), QXL_EFFECT_BLEND);
            d.u.rop3.src_bitmap = grad;
            d.u.rop3.src_area = rect(0, 0, 45, 50);
            d.u.rop3.brush = i == 2 ? solid(0x55aa33) : pattern(pat, x, 130);
            d.u.rop3.rop3 = rops[i];
            d.u.rop3.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;
            emit(&d);
        }
    }

    /* row 4: strokes */
    {
        static const uint32_t flags1[1] = {SPICE_PATH_BEGIN | SPICE_PATH_END};
        static const uint32_t counts1[1] = {5};
        static const int poly[10] = {12, 192, 58, 192, 58, 238, 12, 238, 35, 200};
        stroke(rect(10, 190, 60, 240), path(flags1, counts1, poly, 1), 0xffffff, SPICE_ROPD_OP_PUT,
               NULL, 0, 0);

        static const uint32_t flags2[1] = {SPICE_PATH_BEGIN | SPICE_PATH_END | SPICE_PATH_CLOSE};
        static const uint32_t counts2[1] = {3};
        static const int tri[6] = {75, 235, 95, 195, 118, 228};
        stroke(rect(70, 190, 120, 240), path(flags2, counts2, tri, 1), 0xffe000, SPICE_ROPD_OP_PUT,
               NULL, 0, 0);

        static const uint32_t counts3[1] = {2};
        static const int slope[4] = {130, 200, 178, 215};
        stroke(rect(130, 190, 180, 240), path(flags1, counts3, slope, 1), 0x40ff40,
               SPICE_ROPD_OP_PUT, NULL, 0, 0);
        static const int steep[4] = {135, 238, 150, 192};
        stroke(rect(130, 190, 180, 240), path(flags1, counts3, steep, 1), 0xff4040,
               SPICE_ROPD_OP_XOR, NULL, 0, 0);

        static const QXLFIXED dashes[2] = {4 * 16, 2 * 16};
        static const int dash[4] = {190, 200, 238, 236};
        stroke(rect(190, 190, 240, 240), path(flags1, counts3, dash, 1), 0x80c0ff,
               SPICE_ROPD_OP_PUT, dashes, 2, SPICE_LINE_FLAGS_STYLED);
    }

    /* row 4, right: palette bitmaps, 45x24 each, two per cell. Only the
     * formats the reference's canvas draws (it aborts on 1BIT_LE and
     * 4BIT_LE bitmaps, and so does spice-gtk's). */
    {
        struct {
            uint8_t format;
            uint64_t unique;
            uint16_t num_ents;
            bool top_down;
        } plt[6] = {
                {SPICE_BITMAP_FMT_8BIT, 0x5008, 256, true},
                {SPICE_BITMAP_FMT_8BIT, 0x5008, 256, false}, /* same palette id */
                {SPICE_BITMAP_FMT_1BIT_BE, 0x5001, 2, true},
                {SPICE_BITMAP_FMT_1BIT_BE, 0, 2, false}, /* palette not cacheable */
                {SPICE_BITMAP_FMT_4BIT_BE, 0x5004, 16, true},
                {SPICE_BITMAP_FMT_4BIT_BE, 0x5004, 16, false}, /* same palette id */
        };
        for (int i = 0; i < 6; i++) {
            int x = 250 + (i / 2) * 50, y = 190 + (i % 2) * 26;
            uint64_t img = palette_image(plt[i].format, 45, 24, (unsigned)i, plt[i].unique,
                                         plt[i].num_ents, plt[i].top_down, 0x6000 + (uint64_t)i);
            copy_like(QXL_DRAW_COPY, rect(x, y, x + 45, y + 24), img, rect(0, 0, 45, 24),
                      SPICE_ROPD_OP_PUT, SPICE_IMAGE_SCALE_MODE_NEAREST, nomask, QXL_EFFECT_OPAQUE);
        }
    }

    /* row 5, middle: 150 2x2 8-bit tiles with 135 palette ids, more than
     * the 128 a client caches: the mirror evicts (INVAL_PALETTE), and the
     * last 15 tiles reuse ids evicted meanwhile. */
    for (int i = 0; i < 150; i++) {
        int x = 190 + (i % 25) * 2, y = 250 + (i / 25) * 2;
        uint64_t img = palette_image(SPICE_BITMAP_FMT_8BIT, 2, 2, (unsigned)i,
                                     0x7000 + (uint64_t)(i % 135), 256, true, 0x7000 + (uint64_t)i);
        copy_like(QXL_DRAW_COPY, rect(x, y, x + 2, y + 2), img, rect(0, 0, 2, 2), SPICE_ROPD_OP_PUT,
                  SPICE_IMAGE_SCALE_MODE_NEAREST, nomask, QXL_EFFECT_OPAQUE);
    }

    /* row 5: text */
    text(rect(10, 250, 90, 290), glyph_string(14, 272, "1050501"), rect(10, 255, 90, 285),
         solid(0xffffff), solid(0x404080), SPICE_ROPD_OP_PUT, SPICE_ROPD_OP_PUT);
    {
        QXLBrush none;
        memset(&none, 0, sizeof(none));
        text(rect(100, 250, 180, 290), glyph_string(104, 275, "0151"), rect(100, 250, 100, 250),
             pattern(pat, 0, 0), none, SPICE_ROPD_OP_PUT, SPICE_ROPD_OP_PUT);
    }

    /* copy bits: row 2's first two copies, again at the right of row 5 */
    {
        QXLDrawable d;
        init_drawable(&d, QXL_COPY_BITS, rect(250, 245, 350, 295), QXL_EFFECT_OPAQUE);
        d.u.copy_bits.src_pos.x = 10;
        d.u.copy_bits.src_pos.y = 70;
        emit(&d);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_ops_trace OUT.trace\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "wb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    if (guest_init(&g) < 0) {
        die("guest memory");
    }
    rec = qxl_recorder_create(f, false);
    if (!rec) {
        die("recorder");
    }
    qxl_recorder_message(rec, QXL_RECORD_MSG_ADD_MEMSLOT);
    qxl_recorder_message(rec, QXL_RECORD_MSG_START);
    uint8_t *mem = calloc(W * 4, H);
    if (!mem) {
        die("out of memory");
    }
    struct qxl_record_primary primary = {
            .width = W,
            .height = H,
            .stride = -(W * 4),
            .format = SPICE_SURFACE_FMT_32_xRGB,
            .position = 0,
            .mouse_mode = 1,
            .flags = 0,
            .type = 0,
    };
    qxl_recorder_create_primary(rec, QXL_RECORD_MSG_CREATE_PRIMARY, &primary, mem);
    free(mem);
    scene();
    qxl_recorder_destroy(rec);
    guest_finish(&g);
    return 0;
}
