/* Tests src/display/canvas_ops.c, canvas_raster.c and canvas_stroke.c
 * through canvas_draw(): hand-checked pixels for each draw op, following
 * the reference client's rules (masks, brushes, ROPs over whole pixel
 * words, colour keys, alpha, rop3, zero-width lines, glyph text), and
 * hostile data refused or drawn safely. */
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/qxl_dev.h>

#include "check.h"
#include "common/error.h"
#include "display/canvas.h"

#define W 8
#define H 8

static uint32_t px[W * H];
static struct canvas_surface surf;

static void reset(uint32_t value)
{
    for (int i = 0; i < W * H; i++) {
        px[i] = value;
    }
    canvas_surface_finish(&surf);
    canvas_surface_init(&surf, (uint8_t *)px, W * 4, W, H, SPICE_SURFACE_FMT_32_xRGB);
}

static uint32_t at(int x, int y)
{
    return px[y * W + x];
}

static struct qxl_rect rect(int32_t left, int32_t top, int32_t right, int32_t bottom)
{
    return (struct qxl_rect){.top = top, .left = left, .bottom = bottom, .right = right};
}

static struct qxl_drawable drawable(uint8_t type, struct qxl_rect bbox)
{
    struct qxl_drawable d;
    memset(&d, 0, sizeof(d));
    d.type = type;
    d.bbox = bbox;
    d.clip_type = SPICE_CLIP_TYPE_NONE;
    return d;
}

static struct qxl_image bitmap32(uint32_t *pixels, uint32_t w, uint32_t h)
{
    return (struct qxl_image){.type = SPICE_IMAGE_TYPE_BITMAP,
                              .format = SPICE_BITMAP_FMT_32BIT,
                              .bitmap_flags = QXL_BITMAP_TOP_DOWN,
                              .width = w,
                              .height = h,
                              .stride = w * 4,
                              .data = (uint8_t *)pixels};
}

static struct qxl_drawable solid_fill(struct qxl_rect bbox, uint32_t color, uint16_t rop)
{
    struct qxl_drawable d = drawable(QXL_DRAW_FILL, bbox);
    d.u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
    d.u.fill.brush.color = color;
    d.u.fill.rop_descriptor = rop;
    return d;
}

static void test_fill_mask(void)
{
    /* Rows of a 4x2 LSB-first mask: 0101 and 0011 (bit 0 = left). */
    uint8_t bits[2] = {0x05, 0x03};
    struct qxl_image mask = {.type = SPICE_IMAGE_TYPE_BITMAP,
                             .format = SPICE_BITMAP_FMT_1BIT_LE,
                             .bitmap_flags = QXL_BITMAP_TOP_DOWN,
                             .width = 4,
                             .height = 2,
                             .stride = 1,
                             .data = bits};
    reset(0);
    struct qxl_drawable d = solid_fill(rect(1, 1, 7, 4), 0x112233, SPICE_ROPD_OP_PUT);
    d.mask.bitmap = &mask;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(1, 1), 0x112233);
    CHECK_EQ(at(2, 1), 0);
    CHECK_EQ(at(3, 1), 0x112233);
    CHECK_EQ(at(4, 1), 0);
    CHECK_EQ(at(1, 2), 0x112233);
    CHECK_EQ(at(2, 2), 0x112233);
    CHECK_EQ(at(3, 2), 0);
    /* Outside the mask's 4x2 pixels nothing is drawn. */
    CHECK_EQ(at(5, 1), 0);
    CHECK_EQ(at(1, 3), 0);

    /* Inverted: the complement, still only inside the mask. */
    reset(0);
    d.mask.flags = SPICE_MASK_FLAGS_INVERS;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(1, 1), 0);
    CHECK_EQ(at(2, 1), 0x112233);
    CHECK_EQ(at(4, 1), 0x112233);
    CHECK_EQ(at(3, 2), 0x112233);
    CHECK_EQ(at(5, 1), 0);
    CHECK_EQ(at(1, 3), 0);

    /* pos: mask bit (1, 0) lies on the bbox's top-left corner. */
    reset(0);
    d.mask.flags = 0;
    d.mask.pos = (struct qxl_point){1, 0};
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(1, 1), 0);
    CHECK_EQ(at(2, 1), 0x112233);
    CHECK_EQ(at(1, 2), 0x112233);
    CHECK_EQ(at(2, 2), 0);

    /* Most-significant-bit-first, stored bottom-up. */
    uint8_t be[2] = {0x80, 0x40}; /* bottom row: pixel 0; top row: pixel 1 */
    struct qxl_image mask_be = {.type = SPICE_IMAGE_TYPE_BITMAP,
                                .format = SPICE_BITMAP_FMT_1BIT_BE,
                                .width = 2,
                                .height = 2,
                                .stride = 1,
                                .data = be};
    reset(0);
    d = solid_fill(rect(0, 0, 2, 2), 0xabcdef, SPICE_ROPD_OP_PUT);
    d.mask.bitmap = &mask_be;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0);
    CHECK_EQ(at(1, 0), 0xabcdef);
    CHECK_EQ(at(0, 1), 0xabcdef);
    CHECK_EQ(at(1, 1), 0);

    /* A mask that is not 1-bit is refused. */
    uint32_t wide[1] = {1};
    struct qxl_image bad = bitmap32(wide, 1, 1);
    d.mask.bitmap = &bad;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), CLOVE_E_INVALID);
    canvas_surface_finish(&surf);
}

static void test_fill_pattern(void)
{
    uint32_t tile[4] = {0xa, 0xb, 0xc, 0xd}; /* [a b; c d] */
    struct qxl_image pat = bitmap32(tile, 2, 2);
    reset(0);
    struct qxl_drawable d = drawable(QXL_DRAW_FILL, rect(0, 0, 4, 2));
    d.u.fill.brush.type = SPICE_BRUSH_TYPE_PATTERN;
    d.u.fill.brush.pattern = &pat;
    d.u.fill.brush.pattern_pos = (struct qxl_point){1, 0};
    d.u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0xb);
    CHECK_EQ(at(1, 0), 0xa);
    CHECK_EQ(at(2, 0), 0xb);
    CHECK_EQ(at(3, 0), 0xa);
    CHECK_EQ(at(0, 1), 0xd);
    CHECK_EQ(at(1, 1), 0xc);
    /* Negative origin, XOR onto the destination. */
    reset(0x10);
    d.u.fill.brush.pattern_pos = (struct qxl_point){-3, -1};
    d.u.fill.rop_descriptor = SPICE_ROPD_OP_XOR;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0x10 ^ 0xd); /* tile (1, 1) */
    CHECK_EQ(at(1, 0), 0x10 ^ 0xc);
    CHECK_EQ(at(0, 1), 0x10 ^ 0xb);
    canvas_surface_finish(&surf);
}

static void test_fill_rops(void)
{
    struct qxl_rect box = rect(0, 0, 1, 1);
    struct {
        uint16_t rop;
        uint32_t expect;
    } cases[] = {
            {SPICE_ROPD_OP_PUT, 0x0f0f0f0f},
            {SPICE_ROPD_OP_XOR, 0x0ff00ff0},
            {SPICE_ROPD_OP_OR, 0x0fff0fff},
            {SPICE_ROPD_OP_AND, 0x000f000f},
            {SPICE_ROPD_OP_OR | SPICE_ROPD_INVERS_RES, ~0x0fff0fffu},
            {SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_BRUSH, ~0x0f0f0f0fu},
            /* the source's inversion flag does not apply to a brush */
            {SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_SRC, 0x0f0f0f0f},
            {SPICE_ROPD_OP_AND | SPICE_ROPD_INVERS_DEST, 0x0f000f00},
            {SPICE_ROPD_OP_BLACKNESS, 0},
            {SPICE_ROPD_OP_WHITENESS, 0xffffffff},
            {SPICE_ROPD_OP_INVERS, 0xff00ff00},
            {0, 0x0f0f0f0f},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        reset(0x00ff00ff);
        struct qxl_drawable d = solid_fill(box, 0x0f0f0f0f, cases[i].rop);
        CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
        CHECK_EQ(at(0, 0), cases[i].expect);
        CHECK_EQ(at(1, 0), 0x00ff00ff);
    }
    /* No brush: the ROP still applies, with colour 0. */
    reset(0x00ff00ff);
    struct qxl_drawable d = solid_fill(box, 0, SPICE_ROPD_OP_INVERS);
    d.u.fill.brush.type = SPICE_BRUSH_TYPE_NONE;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0xff00ff00);
    canvas_surface_finish(&surf);
}

static void test_blackness_whiteness_invers(void)
{
    uint8_t bits[1] = {0x01};
    struct qxl_image mask = {.type = SPICE_IMAGE_TYPE_BITMAP,
                             .format = SPICE_BITMAP_FMT_1BIT_LE,
                             .bitmap_flags = QXL_BITMAP_TOP_DOWN,
                             .width = 2,
                             .height = 1,
                             .stride = 1,
                             .data = bits};
    reset(0x12345678);
    struct qxl_drawable d = drawable(QXL_DRAW_WHITENESS, rect(0, 0, 2, 1));
    d.mask.bitmap = &mask;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0xffffffff);
    CHECK_EQ(at(1, 0), 0x12345678);
    d.type = QXL_DRAW_INVERS;
    d.mask.flags = SPICE_MASK_FLAGS_INVERS;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0xffffffff);
    CHECK_EQ(at(1, 0), 0xedcba987);
    d.type = QXL_DRAW_BLACKNESS;
    d.mask.bitmap = NULL;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0);
    CHECK_EQ(at(1, 0), 0);
    CHECK_EQ(at(2, 0), 0x12345678);
    canvas_surface_finish(&surf);
}

static void test_copy_blend_opaque(void)
{
    uint32_t src[4] = {0x00ffff00, 0x11111111, 0x22222222, 0x33333333};
    struct qxl_image img = bitmap32(src, 2, 2);
    reset(0x0000ffff);
    struct qxl_drawable d = drawable(QXL_DRAW_COPY, rect(3, 3, 5, 5));
    d.u.copy.src = &img;
    d.u.copy.src_area = rect(0, 0, 2, 2);
    d.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(3, 3), 0x00ffff00);
    CHECK_EQ(at(4, 3), 0x11111111); /* the pad byte is copied as it is */
    CHECK_EQ(at(4, 4), 0x33333333);
    CHECK_EQ(at(5, 5), 0x0000ffff);
    /* BLEND is COPY with a ROP descriptor. */
    d.type = QXL_DRAW_BLEND;
    d.u.copy.rop_descriptor = SPICE_ROPD_OP_XOR;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(3, 3), 0);
    CHECK_EQ(at(4, 4), 0);
    /* A source area beyond the bitmap copies only what exists. */
    reset(7);
    d.type = QXL_DRAW_COPY;
    d.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    d.u.copy.src_area = rect(1, 1, 3, 3);
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(3, 3), 0x33333333);
    CHECK_EQ(at(4, 3), 7);
    /* OPAQUE: the source, then the brush ANDed onto it. */
    reset(0);
    d = drawable(QXL_DRAW_OPAQUE, rect(0, 0, 2, 1));
    d.u.opaque.src = &img;
    d.u.opaque.src_area = rect(0, 0, 2, 1);
    d.u.opaque.brush.type = SPICE_BRUSH_TYPE_SOLID;
    d.u.opaque.brush.color = 0x00f0f0f0;
    d.u.opaque.rop_descriptor = SPICE_ROPD_OP_AND;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0x00f0f000);
    CHECK_EQ(at(1, 0), 0x00101010);
    /* INVERS_SRC there inverts what the source put down. */
    d.u.opaque.rop_descriptor = SPICE_ROPD_OP_AND | SPICE_ROPD_INVERS_SRC;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0x00f0f0f0 & ~0x00ffff00u);
    canvas_surface_finish(&surf);
}

static void test_copy_scaled(void)
{
    uint32_t src[2] = {0x00000011, 0x00000022};
    struct qxl_image img = bitmap32(src, 2, 1);
    reset(0);
    struct qxl_drawable d = drawable(QXL_DRAW_COPY, rect(0, 0, 4, 1));
    d.u.copy.src = &img;
    d.u.copy.src_area = rect(0, 0, 2, 1);
    d.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    d.u.copy.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0) & 0xffffff, 0x11);
    CHECK_EQ(at(1, 0) & 0xffffff, 0x11);
    CHECK_EQ(at(2, 0) & 0xffffff, 0x22);
    CHECK_EQ(at(3, 0) & 0xffffff, 0x22);
    /* The same through a ROP (scaled into a scratch image first). */
    reset(0x01);
    d.u.copy.rop_descriptor = SPICE_ROPD_OP_OR;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(1, 0) & 0xffffff, 0x11);
    CHECK_EQ(at(3, 0) & 0xffffff, 0x23);
    d.u.copy.scale_mode = 7;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), CLOVE_E_INVALID);
    canvas_surface_finish(&surf);
}

static void test_transparent(void)
{
    uint32_t src[3] = {0x00123456, 0xff123456, 0x00654321};
    struct qxl_image img = bitmap32(src, 3, 1);
    reset(0x99);
    struct qxl_drawable d = drawable(QXL_DRAW_TRANSPARENT, rect(0, 0, 3, 1));
    d.u.transparent.src = &img;
    d.u.transparent.src_area = rect(0, 0, 3, 1);
    d.u.transparent.src_color = 0x123456;
    d.u.transparent.true_color = 0x123456;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    /* Only the low 24 bits are compared: both key pixels are skipped. */
    CHECK_EQ(at(0, 0), 0x99);
    CHECK_EQ(at(1, 0), 0x99);
    CHECK_EQ(at(2, 0), 0x00654321);
    canvas_surface_finish(&surf);
}

static void test_alpha_blend(void)
{
    uint32_t src[1] = {0x00804020};
    struct qxl_image img = bitmap32(src, 1, 1);
    reset(0);
    struct qxl_drawable d = drawable(QXL_DRAW_ALPHA_BLEND, rect(0, 0, 1, 1));
    d.u.alpha_blend.src = &img;
    d.u.alpha_blend.src_area = rect(0, 0, 1, 1);
    d.u.alpha_blend.alpha = 0;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0);
    /* Opaque: the colour, and the pad byte OVER set is cleared again. */
    d.u.alpha_blend.alpha = 255;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0x00804020);
    /* Half: each channel times 128/255 over black. pixman's OVER reads
     * the xRGB pad byte (0) as alpha, so alpha 0x80 comes out and, not
     * being 0xff, is left there as the reference leaves it. */
    reset(0);
    d.u.alpha_blend.alpha = 128;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0x80402010);
    /* A source with alpha over a destination that keeps its alpha. */
    uint32_t rgba[1] = {0x80800000}; /* premultiplied half red */
    struct qxl_image a = bitmap32(rgba, 1, 1);
    a.format = SPICE_BITMAP_FMT_RGBA;
    reset(0xff0000ff);
    d.u.alpha_blend.src = &a;
    d.u.alpha_blend.alpha = 255;
    d.u.alpha_blend.alpha_flags = SPICE_ALPHA_FLAGS_DEST_HAS_ALPHA;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0xff80007f);
    canvas_surface_finish(&surf);
}

static void test_rop3(void)
{
    /* With P = 0xf0.., S = 0xcc.., D = 0xaa.. every byte of the result is
     * the rop3 code itself. */
    uint8_t codes[] = {0xcc, 0xf0, 0x5a, 0x66, 0xb8, 0x00, 0xff, 0x1e};
    uint32_t src[1] = {0xcccccccc};
    struct qxl_image img = bitmap32(src, 1, 1);
    for (size_t i = 0; i < sizeof(codes); i++) {
        reset(0xaaaaaaaa);
        struct qxl_drawable d = drawable(QXL_DRAW_ROP3, rect(2, 2, 3, 3));
        d.u.rop3.src = &img;
        d.u.rop3.src_area = rect(0, 0, 1, 1);
        d.u.rop3.brush.type = SPICE_BRUSH_TYPE_SOLID;
        d.u.rop3.brush.color = 0xf0f0f0f0;
        d.u.rop3.rop3 = codes[i];
        CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
        CHECK_EQ(at(2, 2), codes[i] * 0x01010101u);
        CHECK_EQ(at(3, 2), 0xaaaaaaaa);
    }
    /* A pattern brush, its origin at (1, 0). */
    uint32_t tile[2] = {0x000000f0, 0x0000000f};
    struct qxl_image pat = bitmap32(tile, 2, 1);
    uint32_t src2[2] = {0, 0};
    struct qxl_image img2 = bitmap32(src2, 2, 1);
    reset(0);
    struct qxl_drawable d = drawable(QXL_DRAW_ROP3, rect(0, 0, 2, 1));
    d.u.rop3.src = &img2;
    d.u.rop3.src_area = rect(0, 0, 2, 1);
    d.u.rop3.brush.type = SPICE_BRUSH_TYPE_PATTERN;
    d.u.rop3.brush.pattern = &pat;
    d.u.rop3.brush.pattern_pos = (struct qxl_point){1, 0};
    d.u.rop3.rop3 = 0xf0;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0x0f);
    CHECK_EQ(at(1, 0), 0xf0);
    /* A source smaller than the bbox is refused. */
    d.u.rop3.src_area = rect(1, 0, 3, 1);
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), CLOVE_E_INVALID);
    canvas_surface_finish(&surf);
}

/* A STROKE of one polyline; points in whole pixels. */
static int stroke(const int32_t *xy, uint32_t n, uint32_t flags, uint16_t fore_mode,
                  const uint32_t *style, uint8_t nseg, uint8_t line_flags)
{
    struct qxl_point pts[16];
    for (uint32_t i = 0; i < n; i++) {
        pts[i] = (struct qxl_point){xy[2 * i] * 16, xy[2 * i + 1] * 16};
    }
    struct qxl_path_seg seg = {.flags = flags, .count = n, .points = pts};
    struct qxl_drawable d = drawable(QXL_DRAW_STROKE, rect(0, 0, W, H));
    d.u.stroke.path =
            (struct qxl_path){.num_segments = 1, .segments = &seg, .num_points = n, .points = pts};
    d.u.stroke.brush.type = SPICE_BRUSH_TYPE_SOLID;
    d.u.stroke.brush.color = 1;
    d.u.stroke.fore_mode = fore_mode;
    d.u.stroke.back_mode = SPICE_ROPD_OP_PUT;
    d.u.stroke.attr.flags = line_flags;
    d.u.stroke.attr.style_nseg = nseg;
    d.u.stroke.attr.style = (uint32_t *)(uintptr_t)style;
    return canvas_draw(&surf, &d, NULL, NULL);
}

static int count_set(void)
{
    int n = 0;
    for (int i = 0; i < W * H; i++) {
        n += px[i] != 0;
    }
    return n;
}

static void test_stroke(void)
{
    const uint32_t begin_end = SPICE_PATH_BEGIN | SPICE_PATH_END;
    /* Horizontal: the end point is not drawn. */
    reset(0);
    CHECK_EQ(stroke((int32_t[]){0, 0, 4, 0}, 2, begin_end, SPICE_ROPD_OP_PUT, NULL, 0, 0), 0);
    CHECK_EQ(at(0, 0), 1);
    CHECK_EQ(at(3, 0), 1);
    CHECK_EQ(at(4, 0), 0);
    CHECK_EQ(count_set(), 4);
    /* Diagonal. */
    reset(0);
    CHECK_EQ(stroke((int32_t[]){0, 0, 3, 3}, 2, begin_end, SPICE_ROPD_OP_PUT, NULL, 0, 0), 0);
    CHECK_EQ(at(0, 0), 1);
    CHECK_EQ(at(1, 1), 1);
    CHECK_EQ(at(2, 2), 1);
    CHECK_EQ(count_set(), 3);
    /* Shallow, both directions: X's bias puts the tie at x = 2 below. */
    reset(0);
    CHECK_EQ(stroke((int32_t[]){0, 0, 4, 1}, 2, begin_end, SPICE_ROPD_OP_PUT, NULL, 0, 0), 0);
    CHECK_EQ(at(0, 0), 1);
    CHECK_EQ(at(1, 0), 1);
    CHECK_EQ(at(2, 1), 1);
    CHECK_EQ(at(3, 1), 1);
    CHECK_EQ(count_set(), 4);
    reset(0);
    CHECK_EQ(stroke((int32_t[]){4, 1, 0, 0}, 2, begin_end, SPICE_ROPD_OP_PUT, NULL, 0, 0), 0);
    CHECK_EQ(at(4, 1), 1);
    CHECK_EQ(at(3, 1), 1);
    CHECK_EQ(at(2, 1), 1);
    CHECK_EQ(at(1, 0), 1);
    CHECK_EQ(count_set(), 4);
    /* A closed square: every corner once, XOR shows no pixel twice. */
    reset(0);
    CHECK_EQ(stroke((int32_t[]){1, 1, 4, 1, 4, 4, 1, 4}, 4, begin_end | SPICE_PATH_CLOSE,
                    SPICE_ROPD_OP_XOR, NULL, 0, 0),
             0);
    CHECK_EQ(count_set(), 12);
    CHECK_EQ(at(1, 1), 1);
    CHECK_EQ(at(4, 4), 1);
    CHECK_EQ(at(1, 4), 1);
    CHECK_EQ(at(2, 2), 0);
    /* Dashed: 2 on, 2 off (28.4 lengths). */
    reset(0);
    uint32_t dash[2] = {2 * 16, 2 * 16};
    CHECK_EQ(stroke((int32_t[]){0, 0, 8, 0}, 2, begin_end, SPICE_ROPD_OP_PUT, dash, 2,
                    SPICE_LINE_FLAGS_STYLED),
             0);
    CHECK_EQ(at(0, 0), 1);
    CHECK_EQ(at(1, 0), 1);
    CHECK_EQ(at(2, 0), 0);
    CHECK_EQ(at(3, 0), 0);
    CHECK_EQ(at(4, 0), 1);
    CHECK_EQ(at(5, 0), 1);
    CHECK_EQ(at(6, 0), 0);
    CHECK_EQ(count_set(), 4);
    /* Dashes are one-pixel-wide polygons (X's wide dashed lines): going
     * left, a dash from distance a to b covers the pixels at a+1 .. b.
     * Pixels checked against spice-common's canvas. */
    reset(0);
    uint32_t dash21[2] = {2 * 16, 1 * 16};
    CHECK_EQ(stroke((int32_t[]){7, 1, 0, 1}, 2, begin_end, SPICE_ROPD_OP_PUT, dash21, 2,
                    SPICE_LINE_FLAGS_STYLED),
             0);
    CHECK_EQ(at(7, 1), 0);
    CHECK_EQ(at(6, 1), 1);
    CHECK_EQ(at(5, 1), 1);
    CHECK_EQ(at(4, 1), 0);
    CHECK_EQ(at(0, 1), 1);
    CHECK_EQ(count_set(), 5);
    /* Diagonal, dashes 3 on 1 off. */
    reset(0);
    uint32_t dash31[2] = {3 * 16, 1 * 16};
    CHECK_EQ(stroke((int32_t[]){0, 1, 6, 4}, 2, begin_end, SPICE_ROPD_OP_PUT, dash31, 2,
                    SPICE_LINE_FLAGS_STYLED),
             0);
    CHECK_EQ(at(0, 1), 1);
    CHECK_EQ(at(1, 1), 1);
    CHECK_EQ(at(1, 2), 1);
    CHECK_EQ(at(2, 2), 1);
    CHECK_EQ(at(4, 3), 1);
    CHECK_EQ(at(5, 3), 1);
    CHECK_EQ(at(5, 4), 1);
    CHECK_EQ(count_set(), 7);
    /* START_WITH_GAP rotates the list (1 2 3 -> 2 3 1) and starts 2 in:
     * off 3, on 1, then (entries keep their parity) on 2, off 3: x = 3..5. */
    reset(0);
    uint32_t dash123[3] = {1 * 16, 2 * 16, 3 * 16};
    CHECK_EQ(stroke((int32_t[]){0, 3, 7, 3}, 2, begin_end, SPICE_ROPD_OP_PUT, dash123, 3,
                    SPICE_LINE_FLAGS_STYLED | SPICE_LINE_FLAGS_START_WITH_GAP),
             0);
    CHECK_EQ(at(3, 3), 1);
    CHECK_EQ(at(5, 3), 1);
    CHECK_EQ(count_set(), 3);
    /* Off-surface and absurd coordinates are clipped, cheaply. */
    reset(0);
    CHECK_EQ(
            stroke((int32_t[]){-100000, 2, 100000, 2}, 2, begin_end, SPICE_ROPD_OP_PUT, NULL, 0, 0),
            0);
    CHECK_EQ(count_set(), W);
    /* A Bezier segment whose point count is not a multiple of 3 is refused. */
    CHECK_EQ(stroke((int32_t[]){0, 0, 1, 1, 2, 2}, 3, begin_end | SPICE_PATH_BEZIER,
                    SPICE_ROPD_OP_PUT, NULL, 0, 0),
             CLOVE_E_INVALID);
    /* A straight Bezier is a line. */
    reset(0);
    CHECK_EQ(stroke((int32_t[]){0, 3, 1, 3, 2, 3, 3, 3}, 4, begin_end | SPICE_PATH_BEZIER,
                    SPICE_ROPD_OP_PUT, NULL, 0, 0),
             0);
    CHECK_EQ(count_set(), 3);
    CHECK_EQ(at(2, 3), 1);
    canvas_surface_finish(&surf);
}

static void test_text(void)
{
    /* One A1 glyph 3x2, rows stored bottom-up: bottom 101, top 010. */
    uint8_t a1[2] = {0xa0, 0x40};
    struct qxl_glyph g = {
            .render_pos = {2, 3}, .glyph_origin = {0, -2}, .width = 3, .height = 2, .data = a1};
    reset(0);
    struct qxl_drawable d = drawable(QXL_DRAW_TEXT, rect(0, 0, W, H));
    d.u.text.str = (struct qxl_glyph_string){
            .length = 1, .flags = SPICE_STRING_FLAGS_RASTER_A1, .glyphs = &g, .data = a1};
    d.u.text.fore_brush.type = SPICE_BRUSH_TYPE_SOLID;
    d.u.text.fore_brush.color = 0x00ff0000;
    d.u.text.back_brush.type = SPICE_BRUSH_TYPE_SOLID;
    d.u.text.back_brush.color = 0x000000ff;
    d.u.text.back_area = rect(1, 0, 6, 4);
    d.u.text.fore_mode = SPICE_ROPD_OP_PUT;
    d.u.text.back_mode = SPICE_ROPD_OP_PUT;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0);
    CHECK_EQ(at(1, 0), 0xff);
    CHECK_EQ(at(3, 1) & 0xffffff, 0xff0000); /* top row: the middle pixel */
    CHECK_EQ(at(2, 1), 0xff);
    CHECK_EQ(at(2, 2) & 0xffffff, 0xff0000); /* bottom row: both ends */
    CHECK_EQ(at(3, 2), 0xff);
    CHECK_EQ(at(4, 2) & 0xffffff, 0xff0000);
    CHECK_EQ(at(5, 3), 0xff);
    CHECK_EQ(at(6, 3), 0);
    /* With a background, only OP_PUT is drawn. */
    d.u.text.fore_mode = SPICE_ROPD_OP_XOR;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), CLOVE_E_INVALID);

    /* A8: partial coverage blends (over black, no background). As in the
     * reference, the glyph is read one row off: its last stored row lands
     * on its bottom row and its first stored row is not drawn. */
    uint8_t a8[4] = {0x11, 0x11, 0xff, 0x80};
    struct qxl_glyph g8 = {.render_pos = {0, 4}, .width = 2, .height = 2, .data = a8};
    reset(0);
    d.u.text.str = (struct qxl_glyph_string){
            .length = 1, .flags = SPICE_STRING_FLAGS_RASTER_A8, .glyphs = &g8, .data = a8};
    d.u.text.back_area = rect(0, 0, 0, 0);
    d.u.text.fore_brush.color = 0x00ffffff;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 4), 0);
    /* OVER set the pad bytes; the reference clears them only when the
     * box's first pixel (here the undrawn top row) came out opaque. */
    CHECK_EQ(at(0, 5), 0xffffffff);
    CHECK_EQ(at(1, 5), 0x80808080);
    CHECK_EQ(at(2, 5), 0);
    /* A4: the high nibble is the left pixel, never above 0xf0. */
    uint8_t a4[1] = {0xf8};
    struct qxl_glyph g4 = {.render_pos = {0, 6}, .width = 2, .height = 1, .data = a4};
    reset(0);
    d.u.text.str = (struct qxl_glyph_string){
            .length = 1, .flags = SPICE_STRING_FLAGS_RASTER_A4, .glyphs = &g4, .data = a4};
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 6) & 0xff, 0xf0);
    CHECK_EQ(at(1, 6) & 0xff, 0x80);
    /* Zero-size glyphs draw nothing; glyphs far apart are refused. */
    struct qxl_glyph gz[2] = {{.render_pos = {0, 0}}, {.render_pos = {1 << 20, 1 << 20}}};
    d.u.text.str.glyphs = gz;
    d.u.text.str.length = 1;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    gz[0].width = gz[1].width = 1;
    gz[0].height = gz[1].height = 1;
    gz[0].data = gz[1].data = a4;
    d.u.text.str.length = 2;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), CLOVE_E_INVALID);
    canvas_surface_finish(&surf);
}

static void test_16bpp(void)
{
    static uint16_t p16[4 * 2];
    memset(p16, 0, sizeof(p16));
    struct canvas_surface s;
    canvas_surface_init(&s, (uint8_t *)p16, 8, 4, 2, SPICE_SURFACE_FMT_16_555);
    struct qxl_drawable d = solid_fill(rect(0, 0, 2, 1), 0x7c00, SPICE_ROPD_OP_PUT);
    CHECK_EQ(canvas_draw(&s, &d, NULL, NULL), 0);
    CHECK_EQ(p16[0], 0x7c00);
    CHECK_EQ(p16[2], 0);
    /* A 32-bit source is converted to 555 before copying. */
    uint32_t src[1] = {0x00ff0000};
    struct qxl_image img = bitmap32(src, 1, 1);
    d = drawable(QXL_DRAW_COPY, rect(1, 1, 2, 2));
    d.u.copy.src = &img;
    d.u.copy.src_area = rect(0, 0, 1, 1);
    d.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    CHECK_EQ(canvas_draw(&s, &d, NULL, NULL), 0);
    CHECK_EQ(p16[4 + 1], 0x7c00);
    /* The colour key is the true colour in 555. */
    p16[4 + 2] = 0x1234;
    d.type = QXL_DRAW_TRANSPARENT;
    d.bbox = rect(2, 1, 3, 2);
    d.u.transparent.src = &img;
    d.u.transparent.src_area = rect(0, 0, 1, 1);
    d.u.transparent.true_color = 0xff0000;
    CHECK_EQ(canvas_draw(&s, &d, NULL, NULL), 0);
    CHECK_EQ(p16[4 + 2], 0x1234);
    canvas_surface_finish(&s);
}

/* Other surfaces, for SURFACE images: id 1 is a 1-bit (A1) mask, id 2 a
 * 32-bit source. */
static uint32_t a1_bits[2];
static uint32_t other_px[4] = {0x111111, 0x222222, 0x333333, 0x444444};
static struct canvas_surface a1_surface, other_surface;

static struct canvas_surface *lookup(void *opaque, uint32_t id)
{
    (void)opaque;
    return id == 1 ? &a1_surface : id == 2 ? &other_surface : NULL;
}

static void test_surfaces(void)
{
    a1_bits[0] = 0x5; /* row 0: pixels 0 and 2 (pixman's a1: least significant bit first) */
    a1_bits[1] = 0x2; /* row 1: pixel 1 */
    canvas_surface_init(&a1_surface, (uint8_t *)a1_bits, 4, 3, 2, SPICE_SURFACE_FMT_1_A);
    canvas_surface_init(&other_surface, (uint8_t *)other_px, 8, 2, 2, SPICE_SURFACE_FMT_32_xRGB);
    CHECK(a1_surface.image != NULL);
    reset(0);
    struct qxl_image mask = {.type = SPICE_IMAGE_TYPE_SURFACE, .surface_id = 1};
    struct qxl_drawable d = solid_fill(rect(0, 0, 3, 2), 0x77, SPICE_ROPD_OP_PUT);
    d.mask.bitmap = &mask;
    CHECK_EQ(canvas_draw(&surf, &d, lookup, NULL), 0);
    CHECK_EQ(at(0, 0), 0x77);
    CHECK_EQ(at(1, 0), 0);
    CHECK_EQ(at(2, 0), 0x77);
    CHECK_EQ(at(1, 1), 0x77);
    CHECK_EQ(at(0, 1), 0);
    /* A copy from another surface, its pixels as they are. */
    struct qxl_image src = {.type = SPICE_IMAGE_TYPE_SURFACE, .surface_id = 2};
    d = drawable(QXL_DRAW_COPY, rect(4, 4, 6, 6));
    d.u.copy.src = &src;
    d.u.copy.src_area = rect(0, 0, 2, 2);
    d.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    CHECK_EQ(canvas_draw(&surf, &d, lookup, NULL), 0);
    CHECK_EQ(at(4, 4), 0x111111);
    CHECK_EQ(at(5, 5), 0x444444);
    /* A mask surface that is not 1-bit is refused. */
    reset(0);
    d = solid_fill(rect(0, 0, 3, 2), 0x77, SPICE_ROPD_OP_PUT);
    d.mask.bitmap = &src;
    CHECK_EQ(canvas_draw(&surf, &d, lookup, NULL), CLOVE_E_INVALID);
    CHECK_EQ(count_set(), 0);
    canvas_surface_finish(&a1_surface);
    canvas_surface_finish(&other_surface);
    canvas_surface_finish(&surf);
}

static void test_hostile(void)
{
    reset(0);
    /* A fill's bbox only clips: the largest one fills the surface. */
    struct qxl_drawable d =
            solid_fill(rect(INT32_MIN, INT32_MIN, INT32_MAX, INT32_MAX), 1, SPICE_ROPD_OP_PUT);
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(count_set(), W * H);
    /* Inverted, or huge where a source is mapped onto it: refused. */
    reset(0);
    d = solid_fill(rect(3, 0, 1, 1), 1, SPICE_ROPD_OP_PUT);
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), CLOVE_E_INVALID);
    uint32_t pix[1] = {9};
    struct qxl_image small = bitmap32(pix, 1, 1);
    d = drawable(QXL_DRAW_COPY, rect(INT32_MIN, 0, INT32_MAX, 1));
    d.u.copy.src = &small;
    d.u.copy.src_area = rect(0, 0, 1, 1);
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), CLOVE_E_INVALID);
    CHECK_EQ(count_set(), 0);
    /* Clip rects: none at all clips everything away; malformed ones are
     * ignored. */
    d = solid_fill(rect(0, 0, 4, 4), 1, SPICE_ROPD_OP_PUT);
    d.clip_type = SPICE_CLIP_TYPE_RECTS;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(count_set(), 0);
    struct qxl_rect clips[2] = {rect(3, 3, 1, 1), rect(0, 0, 1, 1)};
    d.clip_rects = clips;
    d.num_clip_rects = 2;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(count_set(), 1);
    /* Images without pixels, of zero size, or with a short stride. */
    struct qxl_image empty = {.type = SPICE_IMAGE_TYPE_BITMAP, .format = SPICE_BITMAP_FMT_32BIT};
    d = drawable(QXL_DRAW_COPY, rect(0, 0, 1, 1));
    d.u.copy.src = &empty;
    d.u.copy.src_area = rect(0, 0, 1, 1);
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), CLOVE_E_INVALID);
    uint32_t one[1] = {5};
    struct qxl_image short_stride = bitmap32(one, 1, 1);
    short_stride.stride = 2;
    d.u.copy.src = &short_stride;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), CLOVE_E_INVALID);
    /* A surface source that does not exist. */
    struct qxl_image surface_src = {.type = SPICE_IMAGE_TYPE_SURFACE, .surface_id = 3};
    d.u.copy.src = &surface_src;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), CLOVE_E_INVALID);
    /* Palette bitmaps without a palette. */
    uint8_t idx[1] = {0};
    struct qxl_image pal = {.type = SPICE_IMAGE_TYPE_BITMAP,
                            .format = SPICE_BITMAP_FMT_8BIT,
                            .width = 1,
                            .height = 1,
                            .stride = 1,
                            .data = idx};
    d.u.copy.src = &pal;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), CLOVE_E_INVALID);
    uint32_t entries[1] = {0x00abcdef};
    pal.palette = entries;
    pal.num_palette = 1;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), 0);
    CHECK_EQ(at(0, 0), 0x00abcdef);
    /* Unknown op. */
    d.type = 200;
    CHECK_EQ(canvas_draw(&surf, &d, NULL, NULL), CLOVE_E_UNSUPPORTED);
    canvas_surface_finish(&surf);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_fill_mask),
            CHECK_CASE(test_fill_pattern),
            CHECK_CASE(test_fill_rops),
            CHECK_CASE(test_blackness_whiteness_invers),
            CHECK_CASE(test_copy_blend_opaque),
            CHECK_CASE(test_copy_scaled),
            CHECK_CASE(test_transparent),
            CHECK_CASE(test_alpha_blend),
            CHECK_CASE(test_rop3),
            CHECK_CASE(test_stroke),
            CHECK_CASE(test_text),
            CHECK_CASE(test_16bpp),
            CHECK_CASE(test_surfaces),
            CHECK_CASE(test_hostile),
            {0},
    });
}
