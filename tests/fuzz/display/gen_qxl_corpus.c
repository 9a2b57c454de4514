/*
 * Writes the seed corpus of fuzz_display_qxl_parse: one small valid command
 * of each kind (in the input layout described in fuzz_display_qxl_parse.c),
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
    gen_cursor("cursor_alpha", SPICE_CURSOR_TYPE_ALPHA, 8, 8, 8 * 8 * 4);
    gen_cursor("cursor_mono", SPICE_CURSOR_TYPE_MONO, 9, 4, 2 * 2 * 4);
    gen_cursor("cursor_color4", SPICE_CURSOR_TYPE_COLOR4, 3, 2, 4 + 64 + 2);
    gen_cursor_move();
    gen_surface();
    gen_update_and_message();
    return 0;
}
