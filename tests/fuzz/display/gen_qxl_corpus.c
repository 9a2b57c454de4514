/*
 * Writes the seed corpus of fuzz_display_qxl_parse: one small valid command
 * of each kind (every draw type: brushes, masks, chunked paths and glyph
 * strings included) (in the input layout described in fuzz_display_qxl_parse.c),
 * built with the real QXL structures from <spice/qxl_dev.h> so the layouts
 * are exact.
 *
 *   gen-qxl-corpus tests/fuzz/corpus/fuzz_display_qxl_parse
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/qxl_dev.h>

#define RAM_SIZE 8192
/* Guest address 0 means NULL, so nothing is placed there. */
#define RAM_START 8

/* The fuzz kinds, as in fuzz_display_qxl_parse.c. */
enum { KIND_DRAWABLE, KIND_COMPAT, KIND_UPDATE, KIND_SURFACE, KIND_CURSOR, KIND_MESSAGE };

struct ram {
    uint8_t bytes[RAM_SIZE];
    size_t used;
};

/* Guest addresses are offsets into the RAM (slot 0, generation 0). */
static uint64_t ram_alloc(struct ram *r, size_t n, void **host)
{
    size_t off = (r->used + 7) & ~(size_t)7;
    if (off + n > RAM_SIZE) {
        fprintf(stderr, "generator RAM too small\n");
        exit(1);
    }
    r->used = off + n;
    *host = r->bytes + off;
    return off;
}

static uint64_t ram_put(struct ram *r, const void *src, size_t n)
{
    void *host;
    uint64_t addr = ram_alloc(r, n, &host);
    memcpy(host, src, n);
    return addr;
}

static uint64_t ram_chunks(struct ram *r, const uint8_t *data, size_t len, size_t first)
{
    void *host;
    uint64_t head = ram_alloc(r, sizeof(QXLDataChunk) + first, &host);
    QXLDataChunk *c = host;
    c->data_size = (uint32_t)first;
    memcpy(c->data, data, first);
    if (len > first) {
        void *host2;
        uint64_t next = ram_alloc(r, sizeof(QXLDataChunk) + len - first, &host2);
        QXLDataChunk *c2 = host2;
        c2->data_size = (uint32_t)(len - first);
        memcpy(c2->data, data + first, len - first);
        c->next_chunk = next;
    }
    return head;
}

static const char *out_dir;

static void emit(const char *name, unsigned kind, uint64_t cmd, const struct ram *r)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    uint8_t head[8] = {
            (uint8_t)kind,       0, 0, 0, (uint8_t)cmd, (uint8_t)(cmd >> 8), (uint8_t)(cmd >> 16),
            (uint8_t)(cmd >> 24)};
    fwrite(head, 1, sizeof(head), f);
    fwrite(r->bytes, 1, r->used, f);
    fclose(f);
}

static void base_drawable(QXLDrawable *d, uint8_t type)
{
    memset(d, 0, sizeof(*d));
    d->release_info.id = 1;
    d->effect = QXL_EFFECT_OPAQUE;
    d->type = type;
    d->bbox = (QXLRect){0, 0, 4, 4};
    d->surfaces_dest[0] = d->surfaces_dest[1] = d->surfaces_dest[2] = -1;
}

static void gen_fill(void)
{
    struct ram r = {.used = RAM_START};
    QXLDrawable d;
    base_drawable(&d, QXL_DRAW_FILL);
    d.u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
    d.u.fill.brush.u.color = 0xff0000;
    d.u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
    uint64_t cmd = ram_put(&r, &d, sizeof(d));
    emit("fill", KIND_DRAWABLE, cmd, &r);
}

static void gen_fill_clip(void)
{
    struct ram r = {.used = RAM_START};
    QXLRect rects[2] = {{0, 0, 2, 2}, {2, 2, 4, 4}};
    void *host;
    uint64_t second = ram_chunks(&r, (const uint8_t *)rects + 20, 12, 12);
    uint64_t clip = ram_alloc(&r, sizeof(QXLClipRects) + 20, &host);
    QXLClipRects *cr = host;
    cr->num_rects = 2;
    cr->chunk.data_size = 20;
    cr->chunk.next_chunk = second;
    memcpy(cr->chunk.data, rects, 20);
    QXLDrawable d;
    base_drawable(&d, QXL_DRAW_FILL);
    d.clip.type = SPICE_CLIP_TYPE_RECTS;
    d.clip.data = clip;
    uint64_t cmd = ram_put(&r, &d, sizeof(d));
    emit("fill_clip_rects", KIND_DRAWABLE, cmd, &r);
}

static void gen_compat_fill(void)
{
    struct ram r = {.used = RAM_START};
    QXLCompatDrawable d;
    memset(&d, 0, sizeof(d));
    d.type = QXL_DRAW_FILL;
    d.bbox = (QXLRect){0, 0, 4, 4};
    d.u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
    uint64_t cmd = ram_put(&r, &d, sizeof(d));
    emit("compat_fill", KIND_COMPAT, cmd, &r);
}

static void gen_copy(const char *name, uint8_t format, unsigned bpp, uint8_t flags,
                     unsigned padding)
{
    struct ram r = {.used = RAM_START};
    const uint32_t w = 5, h = 3;
    uint32_t stride = (w * bpp + 7) / 8 + padding;
    uint8_t pixels[256];
    for (size_t i = 0; i < sizeof(pixels); i++) {
        pixels[i] = (uint8_t)(i * 13);
    }
    uint64_t palette = 0;
    if (bpp <= 8 && format != SPICE_BITMAP_FMT_8BIT_A) {
        void *host;
        unsigned n = 1u << (bpp < 4 ? bpp : 4); /* short palettes are fine */
        palette = ram_alloc(&r, sizeof(QXLPalette) + n * 4, &host);
        QXLPalette *p = host;
        p->unique = 5;
        p->num_ents = (uint16_t)n;
        for (unsigned i = 0; i < n; i++) {
            p->ents[i] = 0x102030u * i;
        }
    }
    uint64_t data = (flags & QXL_BITMAP_DIRECT) ? ram_put(&r, pixels, stride * h)
                                                : ram_chunks(&r, pixels, stride * h, stride + 1);
    QXLImage img;
    memset(&img, 0, sizeof(img));
    img.descriptor.id = 9;
    img.descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
    img.descriptor.width = w;
    img.descriptor.height = h;
    img.bitmap.format = format;
    img.bitmap.flags = flags;
    img.bitmap.x = w;
    img.bitmap.y = h;
    img.bitmap.stride = stride;
    img.bitmap.palette = palette;
    img.bitmap.data = data;
    uint64_t image = ram_put(&r, &img, sizeof(img));
    QXLDrawable d;
    base_drawable(&d, QXL_DRAW_COPY);
    d.u.copy.src_bitmap = image;
    d.u.copy.src_area = (QXLRect){0, 0, (int32_t)h, (int32_t)w};
    d.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    uint64_t cmd = ram_put(&r, &d, sizeof(d));
    emit(name, KIND_DRAWABLE, cmd, &r);
}

/* A BITMAP image of w x h pixels at bpp (direct or chunked), with a palette
 * of `palette_entries` entries when that is non-zero. */
static uint64_t ram_image(struct ram *r, uint8_t format, unsigned bpp, uint32_t w, uint32_t h,
                          uint8_t flags, unsigned palette_entries)
{
    uint32_t stride = (w * bpp + 7) / 8;
    uint8_t pixels[512];
    for (size_t i = 0; i < sizeof(pixels); i++) {
        pixels[i] = (uint8_t)(i * 29 + 7);
    }
    uint64_t palette = 0;
    if (palette_entries) {
        void *host;
        palette = ram_alloc(r, sizeof(QXLPalette) + palette_entries * 4, &host);
        QXLPalette *p = host;
        p->unique = 11;
        p->num_ents = (uint16_t)palette_entries;
        for (unsigned i = 0; i < palette_entries; i++) {
            p->ents[i] = 0x030507u * i;
        }
    }
    uint64_t data = (flags & QXL_BITMAP_DIRECT) ? ram_put(r, pixels, stride * h)
                                                : ram_chunks(r, pixels, stride * h, stride);
    QXLImage img;
    memset(&img, 0, sizeof(img));
    img.descriptor.id = 0x77;
    img.descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
    img.descriptor.width = w;
    img.descriptor.height = h;
    img.bitmap.format = format;
    img.bitmap.flags = flags;
    img.bitmap.x = w;
    img.bitmap.y = h;
    img.bitmap.stride = stride;
    img.bitmap.palette = palette;
    img.bitmap.data = data;
    return ram_put(r, &img, sizeof(img));
}

/* A 4x4 1-bit mask without palette, as drivers send them. */
static QXLQMask ram_mask(struct ram *r)
{
    QXLQMask m = {.flags = SPICE_MASK_FLAGS_INVERS, .pos = {1, 0}};
    m.bitmap = ram_image(r, SPICE_BITMAP_FMT_1BIT_BE, 1, 4, 4, QXL_BITMAP_DIRECT, 0);
    return m;
}

static QXLBrush ram_pattern_brush(struct ram *r)
{
    QXLBrush b = {.type = SPICE_BRUSH_TYPE_PATTERN};
    b.u.pattern.pat = ram_image(r, SPICE_BITMAP_FMT_8BIT, 8, 3, 3, 0, 4);
    b.u.pattern.pos = (QXLPoint){-1, 2};
    return b;
}

static void gen_fill_pattern_mask(void)
{
    struct ram r = {.used = RAM_START};
    QXLDrawable d;
    base_drawable(&d, QXL_DRAW_FILL);
    d.u.fill.brush = ram_pattern_brush(&r);
    d.u.fill.rop_descriptor = SPICE_ROPD_OP_XOR;
    d.u.fill.mask = ram_mask(&r);
    emit("fill_pattern_mask", KIND_DRAWABLE, ram_put(&r, &d, sizeof(d)), &r);
}

static void gen_source_ops(void)
{
    const QXLRect area = {0, 0, 4, 4};
    {
        struct ram r = {.used = RAM_START};
        QXLDrawable d;
        base_drawable(&d, QXL_DRAW_OPAQUE);
        d.u.opaque.src_bitmap = ram_image(&r, SPICE_BITMAP_FMT_32BIT, 32, 4, 4, 0, 0);
        d.u.opaque.src_area = area;
        d.u.opaque.brush = ram_pattern_brush(&r);
        d.u.opaque.rop_descriptor = SPICE_ROPD_OP_PUT;
        d.u.opaque.mask = ram_mask(&r);
        emit("opaque_pattern_mask", KIND_DRAWABLE, ram_put(&r, &d, sizeof(d)), &r);
    }
    {
        struct ram r = {.used = RAM_START};
        QXLDrawable d;
        base_drawable(&d, QXL_DRAW_BLEND);
        d.u.blend.src_bitmap =
                ram_image(&r, SPICE_BITMAP_FMT_16BIT, 16, 4, 4, QXL_BITMAP_DIRECT, 0);
        d.u.blend.src_area = area;
        d.u.blend.rop_descriptor = SPICE_ROPD_OP_AND;
        d.u.blend.mask = ram_mask(&r);
        emit("blend_mask", KIND_DRAWABLE, ram_put(&r, &d, sizeof(d)), &r);
    }
    {
        struct ram r = {.used = RAM_START};
        QXLDrawable d;
        base_drawable(&d, QXL_DRAW_TRANSPARENT);
        d.u.transparent.src_bitmap =
                ram_image(&r, SPICE_BITMAP_FMT_24BIT, 24, 4, 4, QXL_BITMAP_TOP_DOWN, 0);
        d.u.transparent.src_area = area;
        d.u.transparent.src_color = 0xff00ff;
        d.u.transparent.true_color = 0xff00ff;
        emit("transparent", KIND_DRAWABLE, ram_put(&r, &d, sizeof(d)), &r);
    }
    {
        struct ram r = {.used = RAM_START};
        QXLDrawable d;
        base_drawable(&d, QXL_DRAW_ALPHA_BLEND);
        d.u.alpha_blend.alpha_flags = SPICE_ALPHA_FLAGS_SRC_SURFACE_HAS_ALPHA;
        d.u.alpha_blend.alpha = 0x80;
        d.u.alpha_blend.src_bitmap =
                ram_image(&r, SPICE_BITMAP_FMT_RGBA, 32, 4, 4, QXL_BITMAP_DIRECT, 0);
        d.u.alpha_blend.src_area = area;
        emit("alpha_blend", KIND_DRAWABLE, ram_put(&r, &d, sizeof(d)), &r);
    }
    {
        struct ram r = {.used = RAM_START};
        QXLCompatDrawable d;
        memset(&d, 0, sizeof(d));
        d.type = QXL_DRAW_ALPHA_BLEND;
        d.bbox = area;
        d.u.alpha_blend.alpha = 0x40;
        d.u.alpha_blend.src_bitmap =
                ram_image(&r, SPICE_BITMAP_FMT_32BIT, 32, 4, 4, QXL_BITMAP_DIRECT, 0);
        d.u.alpha_blend.src_area = area;
        emit("compat_alpha_blend", KIND_COMPAT, ram_put(&r, &d, sizeof(d)), &r);
    }
    {
        struct ram r = {.used = RAM_START};
        QXLDrawable d;
        base_drawable(&d, QXL_DRAW_ROP3);
        d.u.rop3.src_bitmap = ram_image(&r, SPICE_BITMAP_FMT_4BIT_LE, 4, 4, 4, 0, 16);
        d.u.rop3.src_area = area;
        d.u.rop3.brush.type = SPICE_BRUSH_TYPE_SOLID;
        d.u.rop3.brush.u.color = 0x00ff00;
        d.u.rop3.rop3 = 0xca;
        d.u.rop3.mask = ram_mask(&r);
        emit("rop3_mask", KIND_DRAWABLE, ram_put(&r, &d, sizeof(d)), &r);
    }
}

static void gen_mask_ops(void)
{
    static const struct {
        const char *name;
        uint8_t type;
        int with_mask;
    } ops[] = {
            {"blackness_mask", QXL_DRAW_BLACKNESS, 1},
            {"whiteness", QXL_DRAW_WHITENESS, 0},
            {"invers_mask", QXL_DRAW_INVERS, 1},
    };
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        struct ram r = {.used = RAM_START};
        QXLDrawable d;
        base_drawable(&d, ops[i].type);
        if (ops[i].with_mask) {
            d.u.blackness.mask = ram_mask(&r);
        }
        emit(ops[i].name, KIND_DRAWABLE, ram_put(&r, &d, sizeof(d)), &r);
    }
}

/* A STROKE whose path (two segments) is split over two chunks. */
static void gen_stroke(const char *name, uint8_t line_flags, int pattern)
{
    struct ram r = {.used = RAM_START};
    uint8_t path[64];
    size_t len = 0;
    const int32_t pts[8] = {0, 0, 64, 0, 64, 64, 0, 64};
    uint32_t head[2] = {QXL_PATH_BEGIN, 3};
    memcpy(path + len, head, 8);
    memcpy(path + len + 8, pts, 24);
    len += 32;
    head[0] = QXL_PATH_END | QXL_PATH_CLOSE;
    head[1] = 1;
    memcpy(path + len, head, 8);
    memcpy(path + len + 8, pts + 6, 8);
    len += 16;
    const size_t first = 20;
    uint64_t rest = ram_chunks(&r, path + first, len - first, len - first);
    void *host;
    uint64_t qpath = ram_alloc(&r, sizeof(QXLPath) + first, &host);
    QXLPath *p = host;
    p->data_size = (uint32_t)len;
    p->chunk.data_size = first;
    p->chunk.next_chunk = rest;
    memcpy(p->chunk.data, path, first);
    const uint32_t style[2] = {0x20, 0x30};
    QXLDrawable d;
    base_drawable(&d, QXL_DRAW_STROKE);
    d.u.stroke.path = qpath;
    d.u.stroke.attr.flags = line_flags;
    d.u.stroke.attr.width = 0x10;
    if (line_flags & SPICE_LINE_FLAGS_STYLED) {
        d.u.stroke.attr.style_nseg = 2;
        d.u.stroke.attr.style = ram_put(&r, style, sizeof(style));
    }
    if (pattern) {
        d.u.stroke.brush = ram_pattern_brush(&r);
    } else {
        d.u.stroke.brush.type = SPICE_BRUSH_TYPE_SOLID;
        d.u.stroke.brush.u.color = 0xffffff;
    }
    d.u.stroke.fore_mode = SPICE_ROPD_OP_PUT;
    emit(name, KIND_DRAWABLE, ram_put(&r, &d, sizeof(d)), &r);
}

/* A TEXT of two glyphs in the given raster format, split over two chunks. */
static void gen_text(const char *name, uint16_t raster, unsigned bpp)
{
    struct ram r = {.used = RAM_START};
    uint8_t data[256];
    size_t len = 0;
    const uint16_t widths[2] = {7, 3}, heights[2] = {5, 2};
    for (int i = 0; i < 2; i++) {
        QXLRasterGlyph g = {.render_pos = {4 * i, 8},
                            .glyph_origin = {0, -heights[i]},
                            .width = widths[i],
                            .height = heights[i]};
        memcpy(data + len, &g, sizeof(g));
        len += sizeof(g);
        size_t bytes = (size_t)(widths[i] * bpp + 7) / 8 * heights[i];
        for (size_t j = 0; j < bytes; j++) {
            data[len + j] = (uint8_t)(j * 37 + i);
        }
        len += bytes;
    }
    const size_t first = 26;
    uint64_t rest = ram_chunks(&r, data + first, len - first, len - first);
    void *host;
    uint64_t str = ram_alloc(&r, sizeof(QXLString) + first, &host);
    QXLString *s = host;
    s->data_size = (uint32_t)len;
    s->length = 2;
    s->flags = raster | SPICE_STRING_FLAGS_RASTER_TOP_DOWN;
    s->chunk.data_size = first;
    s->chunk.next_chunk = rest;
    memcpy(s->chunk.data, data, first);
    QXLDrawable d;
    base_drawable(&d, QXL_DRAW_TEXT);
    d.u.text.str = str;
    d.u.text.back_area = (QXLRect){0, 0, 8, 16};
    d.u.text.fore_brush.type = SPICE_BRUSH_TYPE_SOLID;
    d.u.text.fore_brush.u.color = 0xffffff;
    d.u.text.back_brush.type = SPICE_BRUSH_TYPE_NONE;
    d.u.text.fore_mode = SPICE_ROPD_OP_PUT;
    d.u.text.back_mode = SPICE_ROPD_OP_PUT;
    emit(name, KIND_DRAWABLE, ram_put(&r, &d, sizeof(d)), &r);
}

static void gen_cursor(const char *name, uint16_t type, uint16_t w, uint16_t h, uint32_t size)
{
    struct ram r = {.used = RAM_START};
    uint8_t data[1024];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(i * 3);
    }
    void *host;
    uint32_t first = size / 2;
    uint64_t rest = ram_chunks(&r, data + first, size - first, size - first);
    uint64_t shape = ram_alloc(&r, sizeof(QXLCursor) + first, &host);
    QXLCursor *c = host;
    c->header.type = type;
    c->header.width = w;
    c->header.height = h;
    c->data_size = size;
    c->chunk.data_size = first;
    c->chunk.next_chunk = rest;
    memcpy(c->chunk.data, data, first);
    QXLCursorCmd cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = QXL_CURSOR_SET;
    cmd.u.set.visible = 1;
    cmd.u.set.shape = shape;
    emit(name, KIND_CURSOR, ram_put(&r, &cmd, sizeof(cmd)), &r);
}

static void gen_cursor_move(void)
{
    struct ram r = {.used = RAM_START};
    QXLCursorCmd cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = QXL_CURSOR_MOVE;
    cmd.u.position.x = 10;
    emit("cursor_move", KIND_CURSOR, ram_put(&r, &cmd, sizeof(cmd)), &r);
}

static void gen_surface(void)
{
    struct ram r = {.used = RAM_START};
    void *host;
    uint64_t pixels = ram_alloc(&r, 16 * 8 * 4, &host);
    QXLSurfaceCmd s;
    memset(&s, 0, sizeof(s));
    s.type = QXL_SURFACE_CMD_CREATE;
    s.surface_id = 1;
    s.u.surface_create.format = SPICE_SURFACE_FMT_32_xRGB;
    s.u.surface_create.width = 16;
    s.u.surface_create.height = 8;
    s.u.surface_create.stride = -64;
    s.u.surface_create.data = pixels;
    emit("surface_create", KIND_SURFACE, ram_put(&r, &s, sizeof(s)), &r);
}

static void gen_update_and_message(void)
{
    struct ram r = {.used = RAM_START};
    QXLUpdateCmd u;
    memset(&u, 0, sizeof(u));
    u.area = (QXLRect){0, 0, 10, 10};
    u.update_id = 3;
    emit("update", KIND_UPDATE, ram_put(&r, &u, sizeof(u)), &r);

    struct ram m = {.used = RAM_START};
    uint8_t msg[8 + 16] = {0};
    memcpy(msg + 8, "qxl: hello\n", 11);
    emit("message", KIND_MESSAGE, ram_put(&m, msg, sizeof(msg)), &m);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    gen_fill();
    gen_fill_clip();
    gen_compat_fill();
    gen_copy("copy_32_direct_topdown", SPICE_BITMAP_FMT_32BIT, 32,
             QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN, 0);
    gen_copy("copy_32_chunked", SPICE_BITMAP_FMT_32BIT, 32, 0, 0);
    gen_copy("copy_rgba_padded", SPICE_BITMAP_FMT_RGBA, 32, QXL_BITMAP_DIRECT, 4);
    gen_copy("copy_24_chunked", SPICE_BITMAP_FMT_24BIT, 24, QXL_BITMAP_TOP_DOWN, 1);
    gen_copy("copy_16_direct", SPICE_BITMAP_FMT_16BIT, 16, QXL_BITMAP_DIRECT, 2);
    gen_copy("copy_8_palette", SPICE_BITMAP_FMT_8BIT, 8, QXL_BITMAP_DIRECT, 0);
    gen_copy("copy_4_palette_chunked", SPICE_BITMAP_FMT_4BIT_BE, 4, 0, 0);
    gen_copy("copy_1_palette", SPICE_BITMAP_FMT_1BIT_LE, 1, QXL_BITMAP_DIRECT, 3);
    gen_copy("copy_8_alpha", SPICE_BITMAP_FMT_8BIT_A, 8, QXL_BITMAP_DIRECT, 0);
    gen_fill_pattern_mask();
    gen_source_ops();
    gen_mask_ops();
    gen_stroke("stroke_styled", SPICE_LINE_FLAGS_STYLED | SPICE_LINE_FLAGS_START_WITH_GAP, 0);
    gen_stroke("stroke_pattern", 0, 1);
    gen_text("text_a1", SPICE_STRING_FLAGS_RASTER_A1, 1);
    gen_text("text_a4", SPICE_STRING_FLAGS_RASTER_A4, 4);
    gen_text("text_a8", SPICE_STRING_FLAGS_RASTER_A8, 8);
    gen_cursor("cursor_alpha", SPICE_CURSOR_TYPE_ALPHA, 8, 8, 8 * 8 * 4);
    gen_cursor("cursor_mono", SPICE_CURSOR_TYPE_MONO, 9, 4, 2 * 2 * 4);
    gen_cursor("cursor_color4", SPICE_CURSOR_TYPE_COLOR4, 3, 2, 4 + 64 + 2);
    gen_cursor_move();
    gen_surface();
    gen_update_and_message();
    return 0;
}
