/*
 * Tests for src/display/qxl_parse.c: QXL commands are built in a fake guest
 * RAM (guest_ram.h) and parsed; valid ones must come out intact, malformed
 * ones must be refused with an error description and nothing to free.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/qxl_dev.h>

#include "check.h"
#include "common/error.h"
#include "display/qxl_parse.h"
#include "guest_ram.h"

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(i * 7 + seed);
    }
}

/* Builds a chunk list carrying `data`, cut into pieces of the given sizes
 * (the last piece takes the rest); returns the first chunk's address. */
static uint64_t put_chunks(struct guest *g, const uint8_t *data, size_t len, const size_t *cuts,
                           size_t num_cuts)
{
    uint64_t first = 0;
    QXLDataChunk *prev = NULL;
    size_t done = 0;
    for (size_t i = 0; i <= num_cuts; i++) {
        size_t piece = i < num_cuts ? cuts[i] : len - done;
        void *host;
        uint64_t addr = guest_alloc(g, sizeof(QXLDataChunk) + piece, &host);
        QXLDataChunk *c = host;
        c->data_size = (uint32_t)piece;
        c->next_chunk = 0;
        memcpy(c->data, data + done, piece);
        done += piece;
        if (prev) {
            prev->next_chunk = addr;
        } else {
            first = addr;
        }
        prev = c;
    }
    return first;
}

static uint64_t put_image(struct guest *g, uint8_t format, uint8_t flags, uint32_t w, uint32_t h,
                          uint32_t stride, uint64_t palette, uint64_t data)
{
    QXLImage img;
    memset(&img, 0, sizeof(img));
    img.descriptor.id = 0x1122334455667788ull;
    img.descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
    img.descriptor.flags = QXL_IMAGE_CACHE;
    img.descriptor.width = w;
    img.descriptor.height = h;
    img.bitmap.format = format;
    img.bitmap.flags = flags;
    img.bitmap.x = w;
    img.bitmap.y = h;
    img.bitmap.stride = stride;
    img.bitmap.palette = palette;
    img.bitmap.data = data;
    return guest_put(g, &img, sizeof(img));
}

static void init_drawable(QXLDrawable *d, uint8_t type)
{
    memset(d, 0, sizeof(*d));
    d->release_info.id = 0xabcdef;
    d->surface_id = 0;
    d->effect = QXL_EFFECT_OPAQUE;
    d->type = type;
    d->bbox = (QXLRect){.top = 10, .left = 20, .bottom = 30, .right = 60};
    d->clip.type = SPICE_CLIP_TYPE_NONE;
    d->mm_time = 4242;
    d->surfaces_dest[0] = d->surfaces_dest[1] = d->surfaces_dest[2] = -1;
}

static uint64_t put_copy(struct guest *g, uint64_t image, uint32_t w, uint32_t h)
{
    QXLDrawable d;
    init_drawable(&d, QXL_DRAW_COPY);
    d.u.copy.src_bitmap = image;
    d.u.copy.src_area = (QXLRect){.top = 0, .left = 0, .bottom = (int32_t)h, .right = (int32_t)w};
    d.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    d.u.copy.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;
    return guest_put(g, &d, sizeof(d));
}

static void test_fill(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    QXLDrawable q;
    init_drawable(&q, QXL_DRAW_FILL);
    q.u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
    q.u.fill.brush.u.color = 0x00ff8000;
    q.u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
    uint64_t addr = guest_put(&g, &q, sizeof(q));
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, addr, &d, &err), 0);
    CHECK_EQ(d.type, QXL_DRAW_FILL);
    CHECK_EQ(d.effect, QXL_EFFECT_OPAQUE);
    CHECK_EQ(d.mm_time, 4242);
    CHECK_EQ(d.release_id, 0xabcdef);
    CHECK_EQ(d.bbox.top, 10);
    CHECK_EQ(d.bbox.left, 20);
    CHECK_EQ(d.bbox.bottom, 30);
    CHECK_EQ(d.bbox.right, 60);
    CHECK_EQ(d.clip_type, SPICE_CLIP_TYPE_NONE);
    CHECK(d.clip_rects == NULL);
    CHECK_EQ(d.surfaces_dest[2], -1);
    CHECK_EQ(d.u.fill.brush.type, SPICE_BRUSH_TYPE_SOLID);
    CHECK_EQ(d.u.fill.brush.color, 0x00ff8000);
    CHECK_EQ(d.u.fill.rop_descriptor, SPICE_ROPD_OP_PUT);
    qxl_drawable_finish(&d);
    /* The release info is the command's first field. */
    CHECK(qxl_release_info(&g.table, 0, addr) == guest_host(&g, 0, addr));
    CHECK(qxl_release_info(&g.table, 1, addr) == NULL);
    guest_finish(&g);
}

struct format_case {
    uint8_t format;
    unsigned bpp;
};

static const struct format_case format_cases[] = {
        {SPICE_BITMAP_FMT_32BIT, 32},  {SPICE_BITMAP_FMT_RGBA, 32},   {SPICE_BITMAP_FMT_24BIT, 24},
        {SPICE_BITMAP_FMT_16BIT, 16},  {SPICE_BITMAP_FMT_8BIT, 8},    {SPICE_BITMAP_FMT_4BIT_BE, 4},
        {SPICE_BITMAP_FMT_4BIT_LE, 4}, {SPICE_BITMAP_FMT_1BIT_BE, 1}, {SPICE_BITMAP_FMT_1BIT_LE, 1},
        {SPICE_BITMAP_FMT_8BIT_A, 8},
};

/* Copy in every format, top-down and bottom-up, direct and chunked, with a
 * padded stride; pixels, flags and palette must survive. */
static void test_copy_formats(void)
{
    const uint32_t w = 13, h = 5;
    for (size_t f = 0; f < sizeof(format_cases) / sizeof(format_cases[0]); f++) {
        for (int variant = 0; variant < 4; variant++) {
            struct guest g;
            struct qxl_drawable d;
            const char *err = NULL;
            CHECK_EQ(guest_init(&g), 0);
            const struct format_case *fc = &format_cases[f];
            bool top_down = variant & 1;
            bool direct = variant & 2;
            uint32_t stride = (w * fc->bpp + 7) / 8 + 3; /* padded */
            size_t size = (size_t)stride * h;
            uint8_t *pixels = malloc(size);
            CHECK(pixels != NULL);
            fill_pattern(pixels, size, (unsigned)(f * 4 + variant));

            uint64_t palette = 0;
            bool indexed = fc->bpp <= 8 && fc->format != SPICE_BITMAP_FMT_8BIT_A;
            if (indexed) {
                void *host;
                unsigned n = 1u << fc->bpp;
                palette = guest_alloc(&g, sizeof(QXLPalette) + n * 4, &host);
                QXLPalette *p = host;
                p->unique = 77;
                p->num_ents = (uint16_t)n;
                for (unsigned i = 0; i < n; i++) {
                    p->ents[i] = 0x010101u * i;
                }
            }
            uint64_t data;
            if (direct) {
                data = guest_put(&g, pixels, size);
            } else {
                size_t cuts[2] = {stride + 1, 5};
                data = put_chunks(&g, pixels, size, cuts, 2);
            }
            uint8_t flags = (top_down ? QXL_BITMAP_TOP_DOWN : 0) | (direct ? QXL_BITMAP_DIRECT : 0);
            uint64_t image = put_image(&g, fc->format, flags, w, h, stride, palette, data);
            uint64_t addr = put_copy(&g, image, w, h);

            int ret = qxl_parse_drawable(&g.table, 0, addr, &d, &err);
            if (ret != 0) {
                printf("# format %u variant %d: %s\n", fc->format, variant, err);
            }
            CHECK_EQ(ret, 0);
            struct qxl_image *img = d.u.copy.src;
            CHECK(img != NULL);
            CHECK_EQ(img->type, SPICE_IMAGE_TYPE_BITMAP);
            CHECK_EQ(img->id, 0x1122334455667788ull);
            CHECK_EQ(img->desc_flags, QXL_IMAGE_CACHE);
            CHECK_EQ(img->format, fc->format);
            CHECK_EQ(img->bitmap_flags, flags);
            CHECK_EQ(img->width, w);
            CHECK_EQ(img->height, h);
            CHECK_EQ(img->stride, stride);
            CHECK_MEM_EQ(img->data, pixels, size);
            if (indexed) {
                CHECK_EQ(img->num_palette, 1u << fc->bpp);
                CHECK_EQ(img->palette_unique, 77);
                CHECK_EQ(img->palette[img->num_palette - 1], 0x010101u * (img->num_palette - 1));
            } else {
                CHECK(img->palette == NULL);
            }
            CHECK_EQ(d.u.copy.src_area.right, (int32_t)w);
            CHECK_EQ(d.u.copy.rop_descriptor, SPICE_ROPD_OP_PUT);
            qxl_drawable_finish(&d);
            free(pixels);
            guest_finish(&g);
        }
    }
}

/* A large chunked bitmap: the copy buffer grows as the chunks come in. */
static void test_copy_large_chunked(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    const uint32_t w = 100, h = 90, stride = w * 4;
    size_t size = (size_t)stride * h;
    uint8_t *pixels = malloc(size);
    CHECK(pixels != NULL);
    fill_pattern(pixels, size, 3);
    size_t cuts[4] = {1000, 7000, 1, 20000};
    uint64_t data = put_chunks(&g, pixels, size, cuts, 4);
    uint64_t image = put_image(&g, SPICE_BITMAP_FMT_32BIT, 0, w, h, stride, 0, data);
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, put_copy(&g, image, w, h), &d, &err), 0);
    CHECK_MEM_EQ(d.u.copy.src->data, pixels, size);
    qxl_drawable_finish(&d);
    free(pixels);
    guest_finish(&g);
}

/* A short palette is padded with zeros up to 1 << bpp entries. */
static void test_short_palette(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    void *host;
    uint64_t palette = guest_alloc(&g, sizeof(QXLPalette) + 2 * 4, &host);
    QXLPalette *p = host;
    p->num_ents = 2;
    p->ents[0] = 0x111111;
    p->ents[1] = 0x222222;
    uint8_t pixels[4 * 2] = {0, 1, 255, 3, 4, 5, 6, 7};
    uint64_t data = guest_put(&g, pixels, sizeof(pixels));
    uint64_t image =
            put_image(&g, SPICE_BITMAP_FMT_8BIT, QXL_BITMAP_DIRECT, 4, 2, 4, palette, data);
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, put_copy(&g, image, 4, 2), &d, &err), 0);
    CHECK_EQ(d.u.copy.src->num_palette, 256);
    CHECK_EQ(d.u.copy.src->palette[1], 0x222222);
    CHECK_EQ(d.u.copy.src->palette[255], 0);
    qxl_drawable_finish(&d);
    guest_finish(&g);
}

/* Clip rectangles split across chunks, one rectangle straddling a chunk
 * boundary, the second chunk in the other memslot. */
static void test_clip_rects_chunked(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    QXLRect rects[3] = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}};
    void *host;
    uint64_t second = guest_alloc_in(&g, 1, sizeof(QXLDataChunk) + 24, &host);
    QXLDataChunk *c2 = host;
    c2->data_size = 24;
    memcpy(c2->data, (uint8_t *)rects + 24, 24);
    uint64_t head = guest_alloc(&g, sizeof(QXLClipRects) + 24, &host);
    QXLClipRects *cr = host;
    cr->num_rects = 3;
    cr->chunk.data_size = 24;
    cr->chunk.next_chunk = second;
    memcpy(cr->chunk.data, rects, 24);

    QXLDrawable q;
    init_drawable(&q, QXL_DRAW_FILL);
    q.clip.type = SPICE_CLIP_TYPE_RECTS;
    q.clip.data = head;
    uint64_t addr = guest_put(&g, &q, sizeof(q));
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, addr, &d, &err), 0);
    CHECK_EQ(d.clip_type, SPICE_CLIP_TYPE_RECTS);
    CHECK_EQ(d.num_clip_rects, 3);
    CHECK_EQ(d.clip_rects[0].top, 1);
    CHECK_EQ(d.clip_rects[0].right, 4);
    CHECK_EQ(d.clip_rects[1].top, 5);
    CHECK_EQ(d.clip_rects[1].right, 8);
    CHECK_EQ(d.clip_rects[2].left, 10);
    CHECK_EQ(d.clip_rects[2].right, 12);
    qxl_drawable_finish(&d);

    /* Too few bytes for num_rects. */
    cr->num_rects = 4;
    err = NULL;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, addr, &d, &err), CLOVE_E_INVALID);
    CHECK(err != NULL);
    /* Too many rectangles. */
    cr->num_rects = QXL_MAX_CLIP_RECTS + 1;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, addr, &d, &err), CLOVE_E_INVALID);
    /* Unknown clip type. */
    cr->num_rects = 3;
    ((QXLDrawable *)guest_host(&g, 0, addr))->clip.type = 7;
    err = NULL;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, addr, &d, &err), CLOVE_E_INVALID);
    CHECK(err != NULL);
    CHECK(d.clip_rects == NULL);
    guest_finish(&g);
}

/* Draw types we do not decode still yield their common part. */
static void test_nop_and_unknown(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    /* NOP has no body: whatever the union holds is ignored. */
    static const uint8_t types[] = {QXL_DRAW_NOP};
    for (size_t i = 0; i < sizeof(types); i++) {
        QXLDrawable q;
        init_drawable(&q, types[i]);
        memset(&q.u, 0x5a, sizeof(q.u));
        q.surface_id = 3;
        q.surfaces_dest[1] = 2;
        q.surfaces_rects[1] = (QXLRect){1, 2, 3, 4};
        uint64_t addr = guest_put(&g, &q, sizeof(q));
        CHECK_EQ(qxl_parse_drawable(&g.table, 0, addr, &d, &err), 0);
        CHECK_EQ(d.type, types[i]);
        CHECK_EQ(d.surface_id, 3);
        CHECK_EQ(d.surfaces_dest[1], 2);
        CHECK_EQ(d.surfaces_rects[1].right, 4);
        CHECK(d.u.copy.src == NULL);
        CHECK_EQ(d.u.fill.brush.color, 0);
        qxl_drawable_finish(&d);
    }
    QXLDrawable q;
    init_drawable(&q, QXL_DRAW_COMPOSITE + 1);
    err = NULL;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err),
             CLOVE_E_INVALID);
    CHECK(err != NULL);
    guest_finish(&g);
}

/* ---- every draw op: brushes, masks, sources, paths, strings ---- */

/* A direct 32-bit w x h bitmap (stride w * 4) filled with a pattern. */
static uint64_t put_rgb_image(struct guest *g, uint32_t w, uint32_t h)
{
    size_t size = (size_t)w * h * 4;
    void *host;
    uint64_t data = guest_alloc(g, size, &host);
    fill_pattern(host, size, 3);
    return put_image(g, SPICE_BITMAP_FMT_32BIT, QXL_BITMAP_DIRECT, w, h, w * 4, 0, data);
}

/* A direct 1-bit w x h mask bitmap without palette (allowed for masks). */
static uint64_t put_mask_image(struct guest *g, uint8_t format, uint32_t w, uint32_t h)
{
    uint32_t stride = (w + 7) / 8;
    void *host;
    uint64_t data = guest_alloc(g, (size_t)stride * h, &host);
    memset(host, 0xa5, (size_t)stride * h);
    return put_image(g, format, QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN, w, h, stride, 0, data);
}

/* Parses and expects failure, an error text and a zeroed output. */
static int parse_fails(struct guest *g, uint64_t addr)
{
    struct qxl_drawable d;
    const char *err = NULL;
    memset(&d, 0x33, sizeof(d));
    if (qxl_parse_drawable(&g->table, 0, addr, &d, &err) != CLOVE_E_INVALID || err == NULL) {
        return 0;
    }
    static const struct qxl_drawable zero;
    return memcmp(&d, &zero, sizeof(d)) == 0;
}

static void test_fill_pattern_and_mask(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    /* An 8-bit pattern with a short palette. */
    void *host;
    uint64_t palette = guest_alloc(&g, sizeof(QXLPalette) + 2 * 4, &host);
    QXLPalette *p = host;
    p->unique = 5;
    p->num_ents = 2;
    p->ents[0] = 0x000000ff;
    p->ents[1] = 0x00ff0000;
    uint8_t pixels[16];
    fill_pattern(pixels, sizeof(pixels), 1);
    uint64_t pat = put_image(&g, SPICE_BITMAP_FMT_8BIT, QXL_BITMAP_DIRECT, 4, 4, 4, palette,
                             guest_put(&g, pixels, sizeof(pixels)));
    QXLDrawable q;
    init_drawable(&q, QXL_DRAW_FILL);
    q.u.fill.brush.type = SPICE_BRUSH_TYPE_PATTERN;
    q.u.fill.brush.u.pattern.pat = pat;
    q.u.fill.brush.u.pattern.pos = (QXLPoint){-2, 3};
    q.u.fill.rop_descriptor = SPICE_ROPD_OP_XOR;
    q.u.fill.mask.flags = SPICE_MASK_FLAGS_INVERS;
    q.u.fill.mask.pos = (QXLPoint){1, 2};
    q.u.fill.mask.bitmap = put_mask_image(&g, SPICE_BITMAP_FMT_1BIT_BE, 40, 20);
    uint64_t addr = guest_put(&g, &q, sizeof(q));
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, addr, &d, &err), 0);
    CHECK_EQ(d.u.fill.brush.type, SPICE_BRUSH_TYPE_PATTERN);
    CHECK_EQ(d.u.fill.brush.pattern_pos.x, -2);
    CHECK_EQ(d.u.fill.brush.pattern_pos.y, 3);
    CHECK_EQ(d.u.fill.rop_descriptor, SPICE_ROPD_OP_XOR);
    const struct qxl_image *img = d.u.fill.brush.pattern;
    CHECK(img != NULL);
    CHECK_EQ(img->format, SPICE_BITMAP_FMT_8BIT);
    CHECK_EQ(img->num_palette, 256);
    CHECK_EQ(img->palette[1], 0x00ff0000);
    CHECK_EQ(img->palette[2], 0);
    CHECK_MEM_EQ(img->data, pixels, sizeof(pixels));
    CHECK_EQ(d.mask.flags, SPICE_MASK_FLAGS_INVERS);
    CHECK_EQ(d.mask.pos.x, 1);
    CHECK_EQ(d.mask.pos.y, 2);
    CHECK(d.mask.bitmap != NULL);
    CHECK_EQ(d.mask.bitmap->format, SPICE_BITMAP_FMT_1BIT_BE);
    CHECK_EQ(d.mask.bitmap->width, 40);
    CHECK_EQ(d.mask.bitmap->stride, 5);
    CHECK_EQ(d.mask.bitmap->num_palette, 0);
    CHECK_EQ(d.mask.bitmap->data[99], 0xa5);
    qxl_drawable_finish(&d);

    /* NONE brush; a mask address of 0 drops flags and pos. */
    q.u.fill.brush.type = SPICE_BRUSH_TYPE_NONE;
    q.u.fill.mask.bitmap = 0;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
    CHECK_EQ(d.u.fill.brush.type, SPICE_BRUSH_TYPE_NONE);
    CHECK(d.mask.bitmap == NULL);
    CHECK_EQ(d.mask.flags, 0);
    CHECK_EQ(d.mask.pos.x, 0);
    qxl_drawable_finish(&d);
    guest_finish(&g);
}

static void test_bad_brushes_and_masks(void)
{
    struct guest g;
    CHECK_EQ(guest_init(&g), 0);
    QXLDrawable q;
    init_drawable(&q, QXL_DRAW_FILL);
    /* Unknown brush type. */
    q.u.fill.brush.type = 3;
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* Pattern without image, with an image outside any slot, with a QUIC
     * image (not copied, so no tile to draw). */
    q.u.fill.brush.type = SPICE_BRUSH_TYPE_PATTERN;
    q.u.fill.brush.u.pattern.pat = 0;
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    q.u.fill.brush.u.pattern.pat = 0x10000000u + (8u << 20);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    QXLImage quic;
    memset(&quic, 0, sizeof(quic));
    quic.descriptor.type = SPICE_IMAGE_TYPE_QUIC;
    q.u.fill.brush.u.pattern.pat = guest_put(&g, &quic, sizeof(quic));
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* A good pattern but a mask that is not 1-bit, or not a bitmap. */
    q.u.fill.brush.u.pattern.pat = put_rgb_image(&g, 2, 2);
    q.u.fill.mask.bitmap = put_rgb_image(&g, 2, 2);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    q.u.fill.mask.bitmap = guest_put(&g, &quic, sizeof(quic));
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* A mask whose bits run out of the slot. */
    q.u.fill.mask.bitmap = put_image(&g, SPICE_BITMAP_FMT_1BIT_LE, QXL_BITMAP_DIRECT, 8, 2, 1, 0,
                                     guest_addr_of(&g.arena[0], g.arena[0].size - 1));
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* The same for BLACKNESS, ROP3 and OPAQUE brushes. */
    init_drawable(&q, QXL_DRAW_BLACKNESS);
    q.u.blackness.mask.bitmap = put_rgb_image(&g, 2, 2);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    init_drawable(&q, QXL_DRAW_ROP3);
    q.u.rop3.src_bitmap = put_rgb_image(&g, 2, 2);
    q.u.rop3.src_area = (QXLRect){0, 0, 2, 2};
    q.u.rop3.brush.type = 9;
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    init_drawable(&q, QXL_DRAW_OPAQUE);
    q.u.opaque.src_bitmap = put_rgb_image(&g, 2, 2);
    q.u.opaque.src_area = (QXLRect){0, 0, 2, 2};
    q.u.opaque.brush.type = SPICE_BRUSH_TYPE_PATTERN;
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    guest_finish(&g);
}

static void test_source_ops(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    uint64_t src = put_rgb_image(&g, 6, 4);
    uint64_t pat = put_rgb_image(&g, 2, 2);
    uint64_t mask = put_mask_image(&g, SPICE_BITMAP_FMT_1BIT_LE, 6, 4);
    const QXLRect area = {.top = 1, .left = 2, .bottom = 4, .right = 6};
    QXLDrawable q;

    init_drawable(&q, QXL_DRAW_OPAQUE);
    q.u.opaque.src_bitmap = src;
    q.u.opaque.src_area = area;
    q.u.opaque.brush.type = SPICE_BRUSH_TYPE_PATTERN;
    q.u.opaque.brush.u.pattern.pat = pat;
    q.u.opaque.rop_descriptor = SPICE_ROPD_OP_AND;
    q.u.opaque.scale_mode = SPICE_IMAGE_SCALE_MODE_INTERPOLATE;
    q.u.opaque.mask.bitmap = mask;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
    CHECK(d.u.opaque.src != NULL);
    CHECK_EQ(d.u.opaque.src->width, 6);
    CHECK_EQ(d.u.opaque.src_area.left, 2);
    CHECK_EQ(d.u.opaque.src_area.bottom, 4);
    CHECK(d.u.opaque.brush.pattern != NULL);
    CHECK_EQ(d.u.opaque.brush.pattern->width, 2);
    CHECK_EQ(d.u.opaque.rop_descriptor, SPICE_ROPD_OP_AND);
    CHECK_EQ(d.u.opaque.scale_mode, SPICE_IMAGE_SCALE_MODE_INTERPOLATE);
    CHECK(d.mask.bitmap != NULL);
    qxl_drawable_finish(&d);

    init_drawable(&q, QXL_DRAW_BLEND);
    q.u.blend.src_bitmap = src;
    q.u.blend.src_area = area;
    q.u.blend.rop_descriptor = SPICE_ROPD_OP_OR;
    q.u.blend.mask.bitmap = mask;
    q.u.blend.mask.pos = (QXLPoint){3, 0};
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
    CHECK_EQ(d.type, QXL_DRAW_BLEND);
    CHECK(d.u.copy.src != NULL);
    CHECK_EQ(d.u.copy.rop_descriptor, SPICE_ROPD_OP_OR);
    CHECK_EQ(d.mask.pos.x, 3);
    qxl_drawable_finish(&d);

    init_drawable(&q, QXL_DRAW_COPY);
    q.u.copy.src_bitmap = src;
    q.u.copy.src_area = area;
    q.u.copy.mask.bitmap = mask;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
    CHECK(d.mask.bitmap != NULL);
    CHECK_EQ(d.mask.bitmap->format, SPICE_BITMAP_FMT_1BIT_LE);
    qxl_drawable_finish(&d);

    init_drawable(&q, QXL_DRAW_TRANSPARENT);
    q.u.transparent.src_bitmap = src;
    q.u.transparent.src_area = area;
    q.u.transparent.src_color = 0xf81f;
    q.u.transparent.true_color = 0xff00ff;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
    CHECK(d.u.transparent.src != NULL);
    CHECK_EQ(d.u.transparent.src_color, 0xf81f);
    CHECK_EQ(d.u.transparent.true_color, 0xff00ff);
    CHECK_EQ(d.u.transparent.src_area.right, 6);
    qxl_drawable_finish(&d);

    init_drawable(&q, QXL_DRAW_ALPHA_BLEND);
    q.u.alpha_blend.alpha_flags = SPICE_ALPHA_FLAGS_DEST_HAS_ALPHA;
    q.u.alpha_blend.alpha = 0x80;
    q.u.alpha_blend.src_bitmap = src;
    q.u.alpha_blend.src_area = area;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
    CHECK_EQ(d.u.alpha_blend.alpha_flags, SPICE_ALPHA_FLAGS_DEST_HAS_ALPHA);
    CHECK_EQ(d.u.alpha_blend.alpha, 0x80);
    CHECK(d.u.alpha_blend.src != NULL);
    CHECK_EQ(d.u.alpha_blend.src_area.top, 1);
    qxl_drawable_finish(&d);

    init_drawable(&q, QXL_DRAW_ROP3);
    q.u.rop3.src_bitmap = src;
    q.u.rop3.src_area = area;
    q.u.rop3.brush.type = SPICE_BRUSH_TYPE_SOLID;
    q.u.rop3.brush.u.color = 0x123456;
    q.u.rop3.rop3 = 0xb8;
    q.u.rop3.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;
    q.u.rop3.mask.bitmap = mask;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
    CHECK_EQ(d.u.rop3.rop3, 0xb8);
    CHECK_EQ(d.u.rop3.brush.color, 0x123456);
    CHECK(d.u.rop3.src != NULL);
    CHECK(d.mask.bitmap != NULL);
    qxl_drawable_finish(&d);

    /* A source area outside the bitmap, or inverted, is refused for each. */
    const uint8_t types[] = {QXL_DRAW_OPAQUE, QXL_DRAW_BLEND, QXL_DRAW_TRANSPARENT,
                             QXL_DRAW_ALPHA_BLEND, QXL_DRAW_ROP3};
    for (size_t i = 0; i < sizeof(types); i++) {
        init_drawable(&q, types[i]);
        QXLRect bad = {.top = 0, .left = 0, .bottom = 5, .right = 6};
        switch (types[i]) {
        case QXL_DRAW_OPAQUE:
            q.u.opaque.src_bitmap = src;
            q.u.opaque.src_area = bad;
            break;
        case QXL_DRAW_BLEND:
            q.u.blend.src_bitmap = src;
            q.u.blend.src_area = bad;
            break;
        case QXL_DRAW_TRANSPARENT:
            q.u.transparent.src_bitmap = src;
            q.u.transparent.src_area = bad;
            break;
        case QXL_DRAW_ALPHA_BLEND:
            q.u.alpha_blend.src_bitmap = src;
            q.u.alpha_blend.src_area = bad;
            break;
        default:
            q.u.rop3.src_bitmap = src;
            q.u.rop3.src_area = bad;
            break;
        }
        CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
        /* ... and so is a missing source. */
        init_drawable(&q, types[i]);
        CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    }
    guest_finish(&g);
}

static void test_mask_ops(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    uint64_t mask = put_mask_image(&g, SPICE_BITMAP_FMT_1BIT_BE, 9, 3);
    const uint8_t types[] = {QXL_DRAW_BLACKNESS, QXL_DRAW_WHITENESS, QXL_DRAW_INVERS};
    for (size_t i = 0; i < sizeof(types); i++) {
        QXLDrawable q;
        init_drawable(&q, types[i]);
        q.u.invers.mask.flags = SPICE_MASK_FLAGS_INVERS;
        q.u.invers.mask.pos = (QXLPoint){4, 5};
        q.u.invers.mask.bitmap = mask;
        CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
        CHECK_EQ(d.type, types[i]);
        CHECK(d.mask.bitmap != NULL);
        CHECK_EQ(d.mask.bitmap->width, 9);
        CHECK_EQ(d.mask.pos.y, 5);
        CHECK_EQ(d.mask.flags, SPICE_MASK_FLAGS_INVERS);
        qxl_drawable_finish(&d);
        q.u.invers.mask.bitmap = 0;
        CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
        CHECK(d.mask.bitmap == NULL);
        qxl_drawable_finish(&d);
    }
    guest_finish(&g);
}

static void test_compat_alpha_blend(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    QXLCompatDrawable q;
    memset(&q, 0, sizeof(q));
    q.type = QXL_DRAW_ALPHA_BLEND;
    q.bbox = (QXLRect){0, 0, 2, 2};
    q.u.alpha_blend.alpha = 0x40;
    q.u.alpha_blend.src_bitmap = put_rgb_image(&g, 2, 2);
    q.u.alpha_blend.src_area = (QXLRect){0, 0, 2, 2};
    CHECK_EQ(qxl_parse_compat_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
    CHECK_EQ(d.u.alpha_blend.alpha_flags, 0);
    CHECK_EQ(d.u.alpha_blend.alpha, 0x40);
    CHECK(d.u.alpha_blend.src != NULL);
    CHECK_EQ(d.u.alpha_blend.src_area.right, 2);
    qxl_drawable_finish(&d);
    guest_finish(&g);
}

/* Writes a QXLPath (data_size, first chunk embedded) whose data is `data`,
 * the first `first` bytes in the embedded chunk and the rest in a second
 * chunk; returns its address. */
static uint64_t put_path(struct guest *g, const uint8_t *data, size_t len, size_t first,
                         uint32_t data_size)
{
    void *host;
    uint64_t addr = guest_alloc(g, sizeof(QXLPath) + first, &host);
    QXLPath *path = host;
    path->data_size = data_size;
    path->chunk.data_size = (uint32_t)first;
    memcpy(path->chunk.data, data, first);
    path->chunk.next_chunk = first < len ? put_chunks(g, data + first, len - first, NULL, 0) : 0;
    return addr;
}

/* Appends a path segment to buf at *pos. */
static void seg_append(uint8_t *buf, size_t *pos, uint32_t flags, uint32_t count, const int32_t *xy)
{
    memcpy(buf + *pos, &flags, 4);
    memcpy(buf + *pos + 4, &count, 4);
    memcpy(buf + *pos + 8, xy, (size_t)count * 8);
    *pos += 8 + (size_t)count * 8;
}

static void test_stroke(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    uint8_t data[128];
    size_t len = 0;
    const int32_t a[6] = {16, 32, 160, 32, 160, 320};
    const int32_t c[2] = {-16, 0};
    seg_append(data, &len, QXL_PATH_BEGIN, 3, a);
    seg_append(data, &len, QXL_PATH_END | QXL_PATH_CLOSE, 1, c);
    data[len] = 0xee; /* a trailing partial header is ignored */
    len += 3;
    const uint32_t style[3] = {0x40, 0x20, 0x10};
    QXLDrawable q;
    init_drawable(&q, QXL_DRAW_STROKE);
    /* The split falls inside the first segment's points. */
    q.u.stroke.path = put_path(&g, data, len, 13, (uint32_t)len);
    q.u.stroke.attr.flags = SPICE_LINE_FLAGS_STYLED | SPICE_LINE_FLAGS_START_WITH_GAP;
    q.u.stroke.attr.join_style = 1; /* round, in the QXL driver enums */
    q.u.stroke.attr.end_style = 2;
    q.u.stroke.attr.style_nseg = 3;
    q.u.stroke.attr.width = 0x10;
    q.u.stroke.attr.miter_limit = 0x50;
    q.u.stroke.attr.style = guest_put(&g, style, sizeof(style));
    q.u.stroke.brush.type = SPICE_BRUSH_TYPE_SOLID;
    q.u.stroke.brush.u.color = 0xffffff;
    q.u.stroke.fore_mode = SPICE_ROPD_OP_PUT;
    q.u.stroke.back_mode = SPICE_ROPD_OP_XOR;
    uint64_t addr = guest_put(&g, &q, sizeof(q));
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, addr, &d, &err), 0);
    const struct qxl_path *path = &d.u.stroke.path;
    CHECK_EQ(path->num_segments, 2);
    CHECK_EQ(path->num_points, 4);
    CHECK_EQ(path->segments[0].flags, QXL_PATH_BEGIN);
    CHECK_EQ(path->segments[0].count, 3);
    CHECK_EQ(path->segments[0].points[2].x, 160);
    CHECK_EQ(path->segments[0].points[2].y, 320);
    CHECK_EQ(path->segments[1].flags, QXL_PATH_END | QXL_PATH_CLOSE);
    CHECK_EQ(path->segments[1].count, 1);
    CHECK_EQ(path->segments[1].points[0].x, -16);
    CHECK(path->segments[1].points == path->points + 3);
    const struct qxl_line_attr *attr = &d.u.stroke.attr;
    CHECK_EQ(attr->flags, SPICE_LINE_FLAGS_STYLED | SPICE_LINE_FLAGS_START_WITH_GAP);
    CHECK_EQ(attr->join_style, 1);
    CHECK_EQ(attr->end_style, 2);
    CHECK_EQ(attr->width, 0x10);
    CHECK_EQ(attr->miter_limit, 0x50);
    CHECK_EQ(attr->style_nseg, 3);
    CHECK_EQ(attr->style[2], 0x10);
    CHECK_EQ(d.u.stroke.brush.color, 0xffffff);
    CHECK_EQ(d.u.stroke.fore_mode, SPICE_ROPD_OP_PUT);
    CHECK_EQ(d.u.stroke.back_mode, SPICE_ROPD_OP_XOR);
    qxl_drawable_finish(&d);

    /* Unstyled: the style array is not read, whatever its pointer says. */
    q.u.stroke.attr.flags = 0;
    q.u.stroke.attr.style = 1;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
    CHECK(d.u.stroke.attr.style == NULL);
    CHECK_EQ(d.u.stroke.attr.style_nseg, 0);
    qxl_drawable_finish(&d);

    /* An empty path is valid. */
    q.u.stroke.path = put_path(&g, data, 0, 0, 0);
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
    CHECK_EQ(d.u.stroke.path.num_segments, 0);
    qxl_drawable_finish(&d);
    guest_finish(&g);
}

static void test_bad_strokes(void)
{
    struct guest g;
    CHECK_EQ(guest_init(&g), 0);
    uint8_t data[64];
    size_t len = 0;
    const int32_t a[4] = {1, 2, 3, 4};
    seg_append(data, &len, QXL_PATH_BEGIN, 2, a);
    QXLDrawable q;
    init_drawable(&q, QXL_DRAW_STROKE);
    q.u.stroke.brush.type = SPICE_BRUSH_TYPE_SOLID;

    /* No path. */
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* A segment claiming more points than data_size holds. */
    uint32_t big = 3;
    memcpy(data + 4, &big, 4);
    q.u.stroke.path = put_path(&g, data, len, len, (uint32_t)len);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    big = UINT32_MAX;
    memcpy(data + 4, &big, 4);
    q.u.stroke.path = put_path(&g, data, len, len, (uint32_t)len);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    big = 2;
    memcpy(data + 4, &big, 4);
    /* data_size beyond what the chunks hold, and a bad next chunk pointer. */
    q.u.stroke.path = put_path(&g, data, len, len, (uint32_t)len + 8);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    uint64_t path = put_path(&g, data, len, 8, (uint32_t)len);
    QXLPath *host = guest_host(&g, 0, path);
    host->chunk.next_chunk = 0x10000000u + (16u << 20);
    q.u.stroke.path = path;
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* A data_size beyond the path limit is refused before any copy. */
    q.u.stroke.path = put_path(&g, data, len, len, 0x7fffffff);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* Styled lines need their style array, inside a slot. */
    q.u.stroke.path = put_path(&g, data, len, len, (uint32_t)len);
    q.u.stroke.attr.flags = SPICE_LINE_FLAGS_STYLED;
    q.u.stroke.attr.style_nseg = 4;
    q.u.stroke.attr.style = 0;
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    q.u.stroke.attr.style = guest_addr_of(&g.arena[0], g.arena[0].size - 8);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* A good path and style but a bad brush. */
    q.u.stroke.attr.flags = 0;
    q.u.stroke.brush.type = 4;
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    guest_finish(&g);
}

/* Appends a glyph (header and `bytes` bytes of data) to buf at *pos. */
static void glyph_append(uint8_t *buf, size_t *pos, int32_t x, uint16_t w, uint16_t h, size_t bytes)
{
    QXLRasterGlyph glyph = {
            .render_pos = {x, 20}, .glyph_origin = {0, -(int32_t)h}, .width = w, .height = h};
    memcpy(buf + *pos, &glyph, sizeof(glyph));
    *pos += sizeof(glyph);
    fill_pattern(buf + *pos, bytes, (unsigned)x);
    *pos += bytes;
}

static uint64_t put_string(struct guest *g, uint16_t length, uint16_t flags, const uint8_t *data,
                           size_t len, size_t first, uint32_t data_size)
{
    void *host;
    uint64_t addr = guest_alloc(g, sizeof(QXLString) + first, &host);
    QXLString *s = host;
    s->data_size = data_size;
    s->length = length;
    s->flags = flags;
    s->chunk.data_size = (uint32_t)first;
    memcpy(s->chunk.data, data, first);
    s->chunk.next_chunk = first < len ? put_chunks(g, data + first, len - first, NULL, 0) : 0;
    return addr;
}

static void test_text(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    static const uint16_t rasters[3] = {SPICE_STRING_FLAGS_RASTER_A1, SPICE_STRING_FLAGS_RASTER_A4,
                                        SPICE_STRING_FLAGS_RASTER_A8};
    for (int r = 0; r < 3; r++) {
        uint16_t flags = rasters[r] | SPICE_STRING_FLAGS_RASTER_TOP_DOWN;
        uint8_t data[256];
        size_t len = 0;
        uint32_t s1 = qxl_glyph_stride(flags, 9), s2 = qxl_glyph_stride(flags, 3);
        glyph_append(data, &len, 10, 9, 4, (size_t)s1 * 4);
        glyph_append(data, &len, 19, 3, 2, (size_t)s2 * 2);
        glyph_append(data, &len, 22, 0, 0, 0); /* an empty glyph (a space) */
        QXLDrawable q;
        init_drawable(&q, QXL_DRAW_TEXT);
        /* Split inside the second glyph's header. */
        q.u.text.str = put_string(&g, 3, flags, data, len, 20 + s1 * 4 + 7, (uint32_t)len);
        q.u.text.back_area = (QXLRect){1, 2, 3, 4};
        q.u.text.fore_brush.type = SPICE_BRUSH_TYPE_SOLID;
        q.u.text.fore_brush.u.color = 0xabcdef;
        q.u.text.back_brush.type = SPICE_BRUSH_TYPE_PATTERN;
        q.u.text.back_brush.u.pattern.pat = put_rgb_image(&g, 2, 2);
        q.u.text.fore_mode = SPICE_ROPD_OP_PUT;
        q.u.text.back_mode = SPICE_ROPD_OP_OR;
        CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
        const struct qxl_glyph_string *str = &d.u.text.str;
        CHECK_EQ(str->length, 3);
        CHECK_EQ(str->flags, flags);
        CHECK_EQ(str->glyphs[0].width, 9);
        CHECK_EQ(str->glyphs[0].height, 4);
        CHECK_EQ(str->glyphs[0].render_pos.x, 10);
        CHECK_EQ(str->glyphs[0].glyph_origin.y, -4);
        CHECK_MEM_EQ(str->glyphs[0].data, data + 20, (size_t)s1 * 4);
        CHECK_EQ(str->glyphs[1].width, 3);
        CHECK_EQ(str->glyphs[1].render_pos.x, 19);
        CHECK_MEM_EQ(str->glyphs[1].data, data + 40 + s1 * 4, (size_t)s2 * 2);
        CHECK_EQ(str->glyphs[2].width, 0);
        CHECK_EQ(d.u.text.back_area.right, 4);
        CHECK_EQ(d.u.text.fore_brush.color, 0xabcdef);
        CHECK(d.u.text.back_brush.pattern != NULL);
        CHECK_EQ(d.u.text.fore_mode, SPICE_ROPD_OP_PUT);
        CHECK_EQ(d.u.text.back_mode, SPICE_ROPD_OP_OR);
        qxl_drawable_finish(&d);
    }
    guest_finish(&g);
}

static void test_bad_text(void)
{
    struct guest g;
    CHECK_EQ(guest_init(&g), 0);
    const uint16_t a4 = SPICE_STRING_FLAGS_RASTER_A4;
    uint8_t data[128];
    size_t len = 0;
    glyph_append(data, &len, 0, 5, 3, 9); /* A4: 3 bytes a row */
    QXLDrawable q;
    init_drawable(&q, QXL_DRAW_TEXT);
    /* No string. */
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* Glyph data running past data_size (the chunks hold more). */
    q.u.text.str = put_string(&g, 1, a4, data, len, len, (uint32_t)len - 1);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* More glyphs than data_size holds; a header cut short. */
    q.u.text.str = put_string(&g, 2, a4, data, len, len, (uint32_t)len);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    q.u.text.str = put_string(&g, 1, a4, data, len, len, 10);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* Bytes left over after the last glyph. */
    q.u.text.str = put_string(&g, 1, a4, data, len + 4, len + 4, (uint32_t)len + 4);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* No raster format. */
    q.u.text.str =
            put_string(&g, 1, SPICE_STRING_FLAGS_RASTER_TOP_DOWN, data, len, len, (uint32_t)len);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* data_size larger than what the chunks carry, and beyond the limit. */
    q.u.text.str = put_string(&g, 1, a4, data, len, len, (uint32_t)len + 100);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    q.u.text.str = put_string(&g, 1, a4, data, len, len, QXL_MAX_DATA_SIZE + 1);
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* A bad chunk pointer after the first chunk. */
    uint64_t str = put_string(&g, 1, a4, data, len, 8, (uint32_t)len);
    QXLString *host = guest_host(&g, 0, str);
    host->chunk.next_chunk = 8;
    q.u.text.str = str;
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    /* A good string with a bad back brush: the string is freed too. */
    q.u.text.str = put_string(&g, 1, a4, data, len, len, (uint32_t)len);
    q.u.text.fore_brush.type = SPICE_BRUSH_TYPE_SOLID;
    q.u.text.back_brush.type = 77;
    CHECK(parse_fails(&g, guest_put(&g, &q, sizeof(q))));
    guest_finish(&g);
}

static void test_compat_drawable(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    QXLCompatDrawable q;
    memset(&q, 0, sizeof(q));
    q.release_info.id = 99;
    q.type = QXL_DRAW_FILL;
    q.effect = QXL_EFFECT_BLEND;
    q.bbox = (QXLRect){0, 0, 8, 8};
    q.u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
    q.u.fill.brush.u.color = 0x123456;
    q.u.fill.rop_descriptor = SPICE_ROPD_OP_XOR;
    CHECK_EQ(qxl_parse_compat_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
    CHECK_EQ(d.release_id, 99);
    CHECK_EQ(d.surface_id, 0);
    CHECK_EQ(d.surfaces_dest[0], -1);
    CHECK_EQ(d.u.fill.brush.color, 0x123456);
    CHECK_EQ(d.u.fill.rop_descriptor, SPICE_ROPD_OP_XOR);
    qxl_drawable_finish(&d);
    q.type = QXL_DRAW_COMPOSITE;
    CHECK_EQ(qxl_parse_compat_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err),
             CLOVE_E_INVALID);
    guest_finish(&g);
}

/* Addresses refused by the memslot checks, for the command itself. */
static void test_bad_addresses(void)
{
    struct guest g;
    struct qxl_drawable d;
    struct qxl_update_cmd u;
    const char *err;
    CHECK_EQ(guest_init(&g), 0);
    QXLDrawable q;
    init_drawable(&q, QXL_DRAW_FILL);
    uint64_t addr = guest_put(&g, &q, sizeof(q));
    uint64_t bad[] = {
            addr | ((uint64_t)9 << 56),                                  /* slot id too big */
            addr | ((uint64_t)3 << 56),                                  /* slot not active */
            (addr & ~((uint64_t)0xff << 48)) | ((uint64_t)5 << 48),      /* generation */
            guest_addr_of(&g.arena[0], g.arena[0].size - sizeof(q) + 1), /* runs past end */
            guest_addr_of(&g.arena[0], 0) - 8,                           /* before start */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        CHECK_EQ(qxl_parse_drawable(&g.table, 0, bad[i], &d, &err), CLOVE_E_INVALID);
        CHECK(err != NULL);
        if (i == 3) {
            continue; /* smaller commands still fit there */
        }
        err = NULL;
        CHECK_EQ(qxl_parse_update(&g.table, 0, bad[i], &u, &err), CLOVE_E_INVALID);
        CHECK(err != NULL);
        CHECK(qxl_release_info(&g.table, 0, bad[i]) == NULL);
    }
    err = NULL;
    CHECK_EQ(qxl_parse_drawable(&g.table, 5, addr, &d, &err), CLOVE_E_INVALID); /* group */
    CHECK(err != NULL);
    guest_finish(&g);
}

/* A copy whose image or bitmap is malformed. */
static void test_bad_images(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err;
    CHECK_EQ(guest_init(&g), 0);
    uint8_t pixels[64 * 4];
    memset(pixels, 1, sizeof(pixels));
    uint64_t data = guest_put(&g, pixels, sizeof(pixels));
    uint64_t small_chunks = put_chunks(&g, pixels, 10, NULL, 0);
    struct {
        uint8_t format, flags;
        uint32_t w, h, stride;
        uint64_t palette, data;
    } cases[] = {
            {0, QXL_BITMAP_DIRECT, 4, 4, 16, 0, data},                         /* format 0 */
            {SPICE_BITMAP_FMT_ENUM_END, QXL_BITMAP_DIRECT, 4, 4, 16, 0, data}, /* format */
            {SPICE_BITMAP_FMT_32BIT, QXL_BITMAP_DIRECT, 0, 4, 16, 0, data},    /* width 0 */
            {SPICE_BITMAP_FMT_32BIT, QXL_BITMAP_DIRECT, 4, 0, 16, 0, data},    /* height 0 */
            {SPICE_BITMAP_FMT_32BIT, QXL_BITMAP_DIRECT, 4, 4, 15, 0, data},    /* stride */
            {SPICE_BITMAP_FMT_1BIT_BE, QXL_BITMAP_DIRECT, 9, 1, 1, 8, data},   /* stride */
            {SPICE_BITMAP_FMT_32BIT, QXL_BITMAP_DIRECT, 100000, 1, 400000, 0, data},
            {SPICE_BITMAP_FMT_32BIT, QXL_BITMAP_DIRECT, 1, 0x80000000u, 4, 0, data},
            {SPICE_BITMAP_FMT_32BIT, QXL_BITMAP_DIRECT, 16000, 16000, 64000, 0, data},
            {SPICE_BITMAP_FMT_32BIT, QXL_BITMAP_DIRECT, 1, 1, 0xffffffffu, 0, data},
            {SPICE_BITMAP_FMT_8BIT, QXL_BITMAP_DIRECT, 4, 4, 4, 0, data},           /* no palette */
            {SPICE_BITMAP_FMT_32BIT, QXL_BITMAP_DIRECT, 2048, 1024, 8192, 0, data}, /* short */
            {SPICE_BITMAP_FMT_32BIT, 0, 4, 4, 16, 0, small_chunks}, /* short chunks */
            {SPICE_BITMAP_FMT_32BIT, 0, 4, 4, 16, 0, 0},            /* NULL chunks */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t image = put_image(&g, cases[i].format, cases[i].flags, cases[i].w, cases[i].h,
                                   cases[i].stride, cases[i].palette, cases[i].data);
        err = NULL;
        int ret = qxl_parse_drawable(&g.table, 0, put_copy(&g, image, 1, 1), &d, &err);
        if (ret != CLOVE_E_INVALID) {
            printf("# case %zu: ret %d\n", i, ret);
        }
        CHECK_EQ(ret, CLOVE_E_INVALID);
        CHECK(err != NULL);
        CHECK(d.u.copy.src == NULL);
    }
    /* Source area outside the bitmap, inverted, negative. */
    uint64_t image = put_image(&g, SPICE_BITMAP_FMT_32BIT, QXL_BITMAP_DIRECT, 4, 4, 16, 0, data);
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, put_copy(&g, image, 5, 4), &d, &err), CLOVE_E_INVALID);
    QXLDrawable q;
    init_drawable(&q, QXL_DRAW_COPY);
    q.u.copy.src_bitmap = image;
    q.u.copy.src_area = (QXLRect){.top = 2, .left = 0, .bottom = 1, .right = 4};
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err),
             CLOVE_E_INVALID);
    q.u.copy.src_area = (QXLRect){.top = 0, .left = -1, .bottom = 1, .right = 4};
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err),
             CLOVE_E_INVALID);
    /* No source at all; an unknown image type. */
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, put_copy(&g, 0, 1, 1), &d, &err), CLOVE_E_INVALID);
    QXLImage bad_type;
    memset(&bad_type, 0, sizeof(bad_type));
    bad_type.descriptor.type = SPICE_IMAGE_TYPE_LZ4;
    image = guest_put(&g, &bad_type, sizeof(bad_type));
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, put_copy(&g, image, 1, 1), &d, &err), CLOVE_E_INVALID);
    /* A surface image names its surface and carries no pixels. */
    bad_type.descriptor.type = SPICE_IMAGE_TYPE_SURFACE;
    bad_type.descriptor.width = 4;
    bad_type.descriptor.height = 4;
    bad_type.surface_image.surface_id = 7;
    image = guest_put(&g, &bad_type, sizeof(bad_type));
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, put_copy(&g, image, 1, 1), &d, &err), 0);
    CHECK(d.u.copy.src != NULL);
    CHECK_EQ(d.u.copy.src->type, SPICE_IMAGE_TYPE_SURFACE);
    CHECK_EQ(d.u.copy.src->surface_id, 7);
    CHECK(d.u.copy.src->data == NULL);
    qxl_drawable_finish(&d);
    guest_finish(&g);
}

/* Copy bits, the mask-only draws and composite are decoded. */
static void test_copy_bits_composite(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    QXLDrawable q;
    init_drawable(&q, QXL_COPY_BITS);
    q.u.copy_bits.src_pos = (QXLPoint){.x = 5, .y = -3};
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
    CHECK_EQ(d.u.copy_bits.src_pos.x, 5);
    CHECK_EQ(d.u.copy_bits.src_pos.y, -3);
    qxl_drawable_finish(&d);

    init_drawable(&q, QXL_DRAW_INVERS);
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
    CHECK(d.mask.bitmap == NULL);
    qxl_drawable_finish(&d);

    uint32_t pixels[4] = {1, 2, 3, 4};
    uint64_t data = guest_put(&g, pixels, sizeof(pixels));
    uint64_t image = put_image(&g, SPICE_BITMAP_FMT_RGBA, QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN,
                               2, 2, 8, 0, data);
    QXLTransform tr = {0x10000, 0, 0, 0, 0x10000, 0};
    uint64_t transform = guest_put(&g, &tr, sizeof(tr));
    init_drawable(&q, QXL_DRAW_COMPOSITE);
    q.u.composite.flags = QXL_OP_OVER | (1u << 14);
    q.u.composite.src = image;
    q.u.composite.src_transform = transform;
    q.u.composite.src_origin = (QXLPoint16){.x = 1, .y = 2};
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err), 0);
    CHECK_EQ(d.u.composite.flags & 0xff, QXL_OP_OVER);
    CHECK(d.u.composite.src != NULL);
    CHECK(d.u.composite.mask == NULL);
    CHECK(d.u.composite.has_src_transform);
    CHECK(!d.u.composite.has_mask_transform);
    CHECK_EQ(d.u.composite.src_transform[4], 0x10000);
    CHECK_EQ(d.u.composite.src_origin_y, 2);
    qxl_drawable_finish(&d);

    /* A composite without a source, or with a transform outside memory, is refused. */
    q.u.composite.src = 0;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err),
             CLOVE_E_INVALID);
    q.u.composite.src = image;
    q.u.composite.src_transform = 0xdead0000beefull;
    CHECK(qxl_parse_drawable(&g.table, 0, guest_put(&g, &q, sizeof(q)), &d, &err) < 0);
    guest_finish(&g);
}

/* Chunk lists that loop on themselves or never end. */
static void test_bad_chunk_lists(void)
{
    struct guest g;
    struct qxl_drawable d;
    const char *err;
    CHECK_EQ(guest_init(&g), 0);

    /* An empty chunk pointing to itself. */
    void *host;
    uint64_t self = guest_alloc(&g, sizeof(QXLDataChunk), &host);
    ((QXLDataChunk *)host)->data_size = 0;
    ((QXLDataChunk *)host)->next_chunk = self;
    uint64_t image = put_image(&g, SPICE_BITMAP_FMT_32BIT, 0, 4, 4, 16, 0, self);
    err = NULL;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, put_copy(&g, image, 4, 4), &d, &err), CLOVE_E_INVALID);
    CHECK(err != NULL);

    /* A chunk with data pointing to itself, and a three-chunk cycle with
     * data, entered after a lead-in chunk: refused, not copied round and
     * round. */
    uint64_t loop = guest_alloc(&g, sizeof(QXLDataChunk) + 4, &host);
    ((QXLDataChunk *)host)->data_size = 4;
    ((QXLDataChunk *)host)->next_chunk = loop;
    image = put_image(&g, SPICE_BITMAP_FMT_32BIT, 0, 4, 4, 16, 0, loop);
    err = NULL;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, put_copy(&g, image, 4, 4), &d, &err), CLOVE_E_INVALID);
    CHECK(err != NULL);
    uint64_t ring[4];
    QXLDataChunk *ring_host[4];
    for (int i = 0; i < 4; i++) {
        ring[i] = guest_alloc(&g, sizeof(QXLDataChunk) + 4, &host);
        ring_host[i] = host;
        ring_host[i]->data_size = 4;
    }
    ring_host[0]->next_chunk = ring[1];
    ring_host[1]->next_chunk = ring[2];
    ring_host[2]->next_chunk = ring[3];
    ring_host[3]->next_chunk = ring[1];
    image = put_image(&g, SPICE_BITMAP_FMT_32BIT, 0, 1024, 128, 4096, 0, ring[0]);
    err = NULL;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, put_copy(&g, image, 4, 4), &d, &err), CLOVE_E_INVALID);
    CHECK(err != NULL);
    /* The same four chunks as a straight list carry exactly 16 bytes. */
    ring_host[3]->next_chunk = 0;
    image = put_image(&g, SPICE_BITMAP_FMT_32BIT, 0, 4, 1, 16, 0, ring[0]);
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, put_copy(&g, image, 4, 1), &d, &err), 0);
    qxl_drawable_finish(&d);

    /* A long list of empty chunks: QXL_MAX_CHUNKS + 1 of them. */
    uint64_t first = 0;
    QXLDataChunk *prev = NULL;
    for (uint32_t i = 0; i <= QXL_MAX_CHUNKS; i++) {
        uint64_t a = guest_alloc(&g, sizeof(QXLDataChunk), &host);
        QXLDataChunk *c = host;
        c->data_size = i == QXL_MAX_CHUNKS ? 64 : 0; /* never reached */
        c->next_chunk = 0;
        if (prev) {
            prev->next_chunk = a;
        } else {
            first = a;
        }
        prev = c;
    }
    image = put_image(&g, SPICE_BITMAP_FMT_32BIT, 0, 4, 4, 16, 0, first);
    err = NULL;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, put_copy(&g, image, 4, 4), &d, &err), CLOVE_E_INVALID);
    CHECK(err != NULL);

    /* A chunk whose declared data runs past the end of its slot. */
    uint64_t tail = guest_addr_of(&g.arena[1], g.arena[1].size - sizeof(QXLDataChunk) - 8);
    QXLDataChunk *tc = guest_host(&g, 1, tail);
    tc->data_size = 64;
    tc->next_chunk = 0;
    image = put_image(&g, SPICE_BITMAP_FMT_32BIT, 0, 4, 4, 16, 0, tail);
    err = NULL;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, put_copy(&g, image, 4, 4), &d, &err), CLOVE_E_INVALID);
    CHECK(err != NULL);
    /* A chunk declaring more than QXL_MAX_DATA_SIZE. */
    tc->data_size = 0xffffffffu;
    CHECK_EQ(qxl_parse_drawable(&g.table, 0, put_copy(&g, image, 4, 4), &d, &err), CLOVE_E_INVALID);
    guest_finish(&g);
}

static uint64_t put_cursor_cmd(struct guest *g, uint8_t type, uint64_t shape)
{
    QXLCursorCmd c;
    memset(&c, 0, sizeof(c));
    c.release_info.id = 555;
    c.type = type;
    if (type == QXL_CURSOR_SET) {
        c.u.set.position.x = -3;
        c.u.set.position.y = 40;
        c.u.set.visible = 1;
        c.u.set.shape = shape;
    } else if (type == QXL_CURSOR_TRAIL) {
        c.u.trail.length = 5;
        c.u.trail.frequency = 6;
    } else {
        c.u.position.x = 17;
        c.u.position.y = -18;
    }
    return guest_put(g, &c, sizeof(c));
}

static uint64_t put_cursor_shape(struct guest *g, uint16_t type, uint16_t w, uint16_t h,
                                 uint32_t data_size, const uint8_t *data, size_t first_part,
                                 size_t total)
{
    void *host;
    uint64_t addr = guest_alloc(g, sizeof(QXLCursor) + first_part, &host);
    QXLCursor *c = host;
    c->header.unique = 31337;
    c->header.type = type;
    c->header.width = w;
    c->header.height = h;
    c->header.hot_spot_x = 1;
    c->header.hot_spot_y = 2;
    c->data_size = data_size;
    c->chunk.data_size = (uint32_t)first_part;
    memcpy(c->chunk.data, data, first_part);
    if (total > first_part) {
        c->chunk.next_chunk = put_chunks(g, data + first_part, total - first_part, NULL, 0);
    }
    return addr;
}

static void test_cursor(void)
{
    struct guest g;
    struct qxl_cursor_cmd c;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    uint8_t data[32 * 32 * 4];
    fill_pattern(data, sizeof(data), 9);

    /* ALPHA 32x32 in two chunks. */
    uint64_t shape = put_cursor_shape(&g, SPICE_CURSOR_TYPE_ALPHA, 32, 32, 4096, data, 1000, 4096);
    CHECK_EQ(qxl_parse_cursor(&g.table, 0, put_cursor_cmd(&g, QXL_CURSOR_SET, shape), &c, &err), 0);
    CHECK_EQ(c.type, QXL_CURSOR_SET);
    CHECK_EQ(c.position.x, -3);
    CHECK_EQ(c.position.y, 40);
    CHECK_EQ(c.visible, 1);
    CHECK_EQ(c.release_id, 555);
    CHECK(c.shape != NULL);
    CHECK_EQ(c.shape->unique, 31337);
    CHECK_EQ(c.shape->type, SPICE_CURSOR_TYPE_ALPHA);
    CHECK_EQ(c.shape->width, 32);
    CHECK_EQ(c.shape->hot_spot_y, 2);
    CHECK_EQ(c.shape->data_size, 4096);
    CHECK_MEM_EQ(c.shape->data, data, 4096);
    qxl_cursor_cmd_finish(&c);

    /* MONO 9x3: two masks of 2 bytes per row. */
    shape = put_cursor_shape(&g, SPICE_CURSOR_TYPE_MONO, 9, 3, 12, data, 12, 12);
    CHECK_EQ(qxl_parse_cursor(&g.table, 0, put_cursor_cmd(&g, QXL_CURSOR_SET, shape), &c, &err), 0);
    CHECK_EQ(c.shape->data_size, 12);
    CHECK_MEM_EQ(c.shape->data, data, 12);
    qxl_cursor_cmd_finish(&c);

    /* COLOR4 3x2: 2 bytes per row of pixels, 16-entry palette, 1-byte mask rows. */
    shape = put_cursor_shape(&g, SPICE_CURSOR_TYPE_COLOR4, 3, 2, 4 + 64 + 2, data, 70, 70);
    CHECK_EQ(qxl_parse_cursor(&g.table, 0, put_cursor_cmd(&g, QXL_CURSOR_SET, shape), &c, &err), 0);
    CHECK_EQ(c.shape->data_size, 70);
    qxl_cursor_cmd_finish(&c);

    /* COLOR24 2x2: 3 bytes per pixel, then a 1-byte mask row each. */
    shape = put_cursor_shape(&g, SPICE_CURSOR_TYPE_COLOR24, 2, 2, 12 + 2, data, 14, 14);
    CHECK_EQ(qxl_parse_cursor(&g.table, 0, put_cursor_cmd(&g, QXL_CURSOR_SET, shape), &c, &err), 0);
    CHECK_EQ(c.shape->data_size, 14);
    qxl_cursor_cmd_finish(&c);

    /* MOVE, HIDE, TRAIL. */
    CHECK_EQ(qxl_parse_cursor(&g.table, 0, put_cursor_cmd(&g, QXL_CURSOR_MOVE, 0), &c, &err), 0);
    CHECK_EQ(c.position.x, 17);
    CHECK_EQ(c.position.y, -18);
    CHECK(c.shape == NULL);
    qxl_cursor_cmd_finish(&c);
    CHECK_EQ(qxl_parse_cursor(&g.table, 0, put_cursor_cmd(&g, QXL_CURSOR_HIDE, 0), &c, &err), 0);
    CHECK_EQ(c.type, QXL_CURSOR_HIDE);
    qxl_cursor_cmd_finish(&c);
    CHECK_EQ(qxl_parse_cursor(&g.table, 0, put_cursor_cmd(&g, QXL_CURSOR_TRAIL, 0), &c, &err), 0);
    CHECK_EQ(c.trail_length, 5);
    CHECK_EQ(c.trail_frequency, 6);
    qxl_cursor_cmd_finish(&c);

    /* Malformed: data_size too small, chunks too short, too big, bad type. */
    uint64_t bad[] = {
            put_cursor_shape(&g, SPICE_CURSOR_TYPE_ALPHA, 32, 32, 4095, data, 4096, 4096),
            put_cursor_shape(&g, SPICE_CURSOR_TYPE_ALPHA, 32, 32, 4096, data, 1000, 4000),
            put_cursor_shape(&g, SPICE_CURSOR_TYPE_MONO, 9, 3, 11, data, 12, 12),
            put_cursor_shape(&g, SPICE_CURSOR_TYPE_ALPHA, QXL_MAX_CURSOR_DIM + 1, 1, 4096, data, 16,
                             16),
            put_cursor_shape(&g, SPICE_CURSOR_TYPE_COLOR32 + 1, 1, 1, 4096, data, 16, 16),
            0,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        CHECK_EQ(
                qxl_parse_cursor(&g.table, 0, put_cursor_cmd(&g, QXL_CURSOR_SET, bad[i]), &c, &err),
                CLOVE_E_INVALID);
        CHECK(err != NULL);
        CHECK(c.shape == NULL);
    }
    err = NULL;
    CHECK_EQ(qxl_parse_cursor(&g.table, 0, put_cursor_cmd(&g, 9, 0), &c, &err), CLOVE_E_INVALID);
    CHECK(err != NULL);
    guest_finish(&g);
}

static uint64_t put_surface_cmd(struct guest *g, uint8_t type, uint32_t format, uint32_t w,
                                uint32_t h, int32_t stride, uint64_t data)
{
    QXLSurfaceCmd s;
    memset(&s, 0, sizeof(s));
    s.release_info.id = 7;
    s.surface_id = 12;
    s.type = type;
    s.flags = 1;
    s.u.surface_create.format = format;
    s.u.surface_create.width = w;
    s.u.surface_create.height = h;
    s.u.surface_create.stride = stride;
    s.u.surface_create.data = data;
    return guest_put(g, &s, sizeof(s));
}

static void test_surface(void)
{
    struct guest g;
    struct qxl_surface_cmd s;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    uint64_t pixels = guest_alloc(&g, 64 * 32 * 4, NULL);
    uint64_t addr = put_surface_cmd(&g, QXL_SURFACE_CMD_CREATE, SPICE_SURFACE_FMT_32_xRGB, 64, 32,
                                    256, pixels);
    CHECK_EQ(qxl_parse_surface(&g.table, 0, addr, &s, &err), 0);
    CHECK_EQ(s.surface_id, 12);
    CHECK_EQ(s.type, QXL_SURFACE_CMD_CREATE);
    CHECK_EQ(s.flags, 1);
    CHECK_EQ(s.format, SPICE_SURFACE_FMT_32_xRGB);
    CHECK_EQ(s.width, 64);
    CHECK_EQ(s.height, 32);
    CHECK_EQ(s.stride, 256);
    CHECK_EQ(s.data_addr, pixels);
    CHECK_EQ(s.release_id, 7);
    /* Negative stride (bottom-up), other formats. */
    CHECK_EQ(qxl_parse_surface(&g.table, 0,
                               put_surface_cmd(&g, QXL_SURFACE_CMD_CREATE,
                                               SPICE_SURFACE_FMT_32_ARGB, 64, 32, -256, pixels),
                               &s, &err),
             0);
    CHECK_EQ(s.stride, -256);
    CHECK_EQ(qxl_parse_surface(&g.table, 0,
                               put_surface_cmd(&g, QXL_SURFACE_CMD_CREATE, SPICE_SURFACE_FMT_16_565,
                                               64, 32, 128, pixels),
                               &s, &err),
             0);
    CHECK_EQ(qxl_parse_surface(&g.table, 0,
                               put_surface_cmd(&g, QXL_SURFACE_CMD_CREATE, SPICE_SURFACE_FMT_1_A, 9,
                                               32, 2, pixels),
                               &s, &err),
             0);
    /* Destroy needs nothing else. */
    CHECK_EQ(qxl_parse_surface(&g.table, 0,
                               put_surface_cmd(&g, QXL_SURFACE_CMD_DESTROY, 0, 0, 0, 0, 0), &s,
                               &err),
             0);
    CHECK_EQ(s.type, QXL_SURFACE_CMD_DESTROY);
    CHECK_EQ(s.surface_id, 12);

    struct {
        uint8_t type;
        uint32_t format, w, h;
        int32_t stride;
        uint64_t data;
    } bad[] = {
            {2, SPICE_SURFACE_FMT_32_xRGB, 64, 32, 256, pixels},
            {0, 24, 64, 32, 256, pixels},
            {0, SPICE_SURFACE_FMT_32_xRGB, 64, 32, 255, pixels},
            {0, SPICE_SURFACE_FMT_32_xRGB, 64, 32, -255, pixels},
            {0, SPICE_SURFACE_FMT_32_xRGB, 64, 32, INT32_MIN, pixels},
            {0, SPICE_SURFACE_FMT_32_xRGB, 0, 32, 256, pixels},
            {0, SPICE_SURFACE_FMT_32_xRGB, 64, 0, 256, pixels},
            {0, SPICE_SURFACE_FMT_32_xRGB, QXL_MAX_IMAGE_DIM + 1, 1, INT32_MAX, pixels},
            {0, SPICE_SURFACE_FMT_32_xRGB, 64, 16000, 1000000, pixels},
            {0, SPICE_SURFACE_FMT_32_xRGB, 64, 32000, 256, pixels}, /* data past slot end */
            {0, SPICE_SURFACE_FMT_32_xRGB, 64, 32, 256, pixels | ((uint64_t)3 << 56)},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        int ret = qxl_parse_surface(&g.table, 0,
                                    put_surface_cmd(&g, bad[i].type, bad[i].format, bad[i].w,
                                                    bad[i].h, bad[i].stride, bad[i].data),
                                    &s, &err);
        if (ret != CLOVE_E_INVALID) {
            printf("# surface case %zu: ret %d\n", i, ret);
        }
        CHECK_EQ(ret, CLOVE_E_INVALID);
        CHECK(err != NULL);
    }
    guest_finish(&g);
}

static void test_update(void)
{
    struct guest g;
    struct qxl_update_cmd u;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    QXLUpdateCmd q;
    memset(&q, 0, sizeof(q));
    q.release_info.id = 1234;
    q.area = (QXLRect){.top = 1, .left = 2, .bottom = 300, .right = 400};
    q.update_id = 77;
    q.surface_id = 3;
    CHECK_EQ(qxl_parse_update(&g.table, 0, guest_put(&g, &q, sizeof(q)), &u, &err), 0);
    CHECK_EQ(u.release_id, 1234);
    CHECK_EQ(u.area.left, 2);
    CHECK_EQ(u.area.right, 400);
    CHECK_EQ(u.update_id, 77);
    CHECK_EQ(u.surface_id, 3);
    guest_finish(&g);
}

static void test_message(void)
{
    struct guest g;
    struct qxl_message_cmd m;
    const char *err = NULL;
    CHECK_EQ(guest_init(&g), 0);
    uint8_t buf[8 + 32];
    memset(buf, 0, sizeof(buf));
    buf[0] = 42;
    memcpy(buf + 8, "hello\x01\xffworld\r\n", 14);
    CHECK_EQ(qxl_parse_message(&g.table, 0, guest_put(&g, buf, sizeof(buf)), &m, &err), 0);
    CHECK_STR_EQ(m.text, "hello??world");
    CHECK_EQ(m.release_id, 42);

    /* A long text is truncated. */
    uint8_t long_msg[8 + 1000];
    memset(long_msg, 'a', sizeof(long_msg));
    long_msg[sizeof(long_msg) - 1] = 0;
    CHECK_EQ(qxl_parse_message(&g.table, 0, guest_put(&g, long_msg, sizeof(long_msg)), &m, &err),
             0);
    CHECK_EQ(strlen(m.text), sizeof(m.text) - 1);

    /* No terminator before the end of the slot. */
    struct guest_arena *a1 = &g.arena[1];
    uint64_t tail = guest_addr_of(a1, a1->size - 8 - 20);
    memset(a1->ram + a1->size - 28, 'x', 28);
    err = NULL;
    CHECK_EQ(qxl_parse_message(&g.table, 0, tail, &m, &err), CLOVE_E_INVALID);
    CHECK(err != NULL);
    a1->ram[a1->size - 1] = 0;
    CHECK_EQ(qxl_parse_message(&g.table, 0, tail, &m, &err), 0);
    CHECK_EQ(strlen(m.text), 19);
    /* Nothing after the release info at all. */
    tail = guest_addr_of(a1, a1->size - 8);
    CHECK_EQ(qxl_parse_message(&g.table, 0, tail, &m, &err), CLOVE_E_INVALID);
    guest_finish(&g);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_fill),
            CHECK_CASE(test_copy_formats),
            CHECK_CASE(test_copy_large_chunked),
            CHECK_CASE(test_short_palette),
            CHECK_CASE(test_clip_rects_chunked),
            CHECK_CASE(test_nop_and_unknown),
            CHECK_CASE(test_copy_bits_composite),
            CHECK_CASE(test_compat_drawable),
            CHECK_CASE(test_fill_pattern_and_mask),
            CHECK_CASE(test_bad_brushes_and_masks),
            CHECK_CASE(test_source_ops),
            CHECK_CASE(test_mask_ops),
            CHECK_CASE(test_compat_alpha_blend),
            CHECK_CASE(test_stroke),
            CHECK_CASE(test_bad_strokes),
            CHECK_CASE(test_text),
            CHECK_CASE(test_bad_text),
            CHECK_CASE(test_bad_addresses),
            CHECK_CASE(test_bad_images),
            CHECK_CASE(test_bad_chunk_lists),
            CHECK_CASE(test_cursor),
            CHECK_CASE(test_surface),
            CHECK_CASE(test_update),
            CHECK_CASE(test_message),
            {0},
    });
}
