/* Tests src/display/canvas.c: drawing results, and hostile geometry or
 * operators (from a guest or a server) refused without touching memory. */
#include "check.h"
#include "common/error.h"
#include "display/canvas.h"

#include <spice/enums.h>
#include <spice/qxl_dev.h>
#include <stdlib.h>
#include <string.h>

#define W 16
#define H 8

static uint32_t pixels[W * H];

static void surface(struct canvas_surface *s)
{
    memset(pixels, 0, sizeof(pixels));
    canvas_surface_init(s, (uint8_t *)pixels, W * 4, W, H, SPICE_SURFACE_FMT_32_xRGB);
}

static void test_fill_and_clip(void)
{
    struct canvas_surface s;
    surface(&s);
    struct qxl_rect bbox = {.top = 1, .left = 2, .bottom = 3, .right = 6};
    struct qxl_rect clip = {.top = 0, .left = 4, .bottom = 8, .right = 16};
    CHECK_EQ(canvas_fill(&s, &bbox, &clip, 1, 0x123456, SPICE_ROPD_OP_PUT), 0);
    CHECK_EQ(pixels[1 * W + 3], 0);
    CHECK_EQ(pixels[1 * W + 4], 0x123456);
    CHECK_EQ(pixels[2 * W + 5], 0x123456);
    CHECK_EQ(pixels[3 * W + 5], 0);
    canvas_surface_finish(&s);
}

static void test_copy_bits_overlap(void)
{
    struct canvas_surface s;
    surface(&s);
    for (int i = 0; i < W * H; i++) {
        pixels[i] = (uint32_t)i;
    }
    /* Scroll everything up by one row. */
    struct qxl_rect bbox = {.top = 0, .left = 0, .bottom = H - 1, .right = W};
    CHECK_EQ(canvas_copy_bits(&s, &bbox, NULL, 0, (struct qxl_point){0, 1}), 0);
    CHECK_EQ(pixels[0], W);
    CHECK_EQ(pixels[(H - 2) * W + 3], (H - 1) * W + 3);
    canvas_surface_finish(&s);
}

static void test_hostile_geometry(void)
{
    struct canvas_surface s;
    surface(&s);
    struct qxl_rect huge = {.top = INT32_MIN, .left = INT32_MIN, .bottom = INT32_MAX,
                            .right = INT32_MAX};
    CHECK_EQ(canvas_copy_bits(&s, &huge, NULL, 0, (struct qxl_point){0, 0}), CLOVE_E_INVALID);
    struct qxl_rect bbox = {.top = 0, .left = 0, .bottom = 4, .right = 4};
    CHECK_EQ(canvas_copy_bits(&s, &bbox, NULL, 0, (struct qxl_point){INT32_MIN, INT32_MAX}),
             CLOVE_E_INVALID);
    /* A source far outside the surface copies nothing, safely. */
    CHECK_EQ(canvas_copy_bits(&s, &bbox, NULL, 0, (struct qxl_point){-100, 900}), 0);
    struct qxl_image img = {.type = SPICE_IMAGE_TYPE_BITMAP, .format = SPICE_BITMAP_FMT_32BIT,
                            .bitmap_flags = QXL_BITMAP_TOP_DOWN, .width = 2, .height = 2,
                            .stride = 8};
    uint32_t px[4] = {1, 2, 3, 4};
    img.data = (uint8_t *)px;
    struct qxl_rect area = {.top = 0, .left = 0, .bottom = 2, .right = 2};
    CHECK_EQ(canvas_copy(&s, &huge, NULL, 0, &img, &area, SPICE_ROPD_OP_PUT,
                         SPICE_IMAGE_SCALE_MODE_NEAREST, NULL, NULL),
             CLOVE_E_INVALID);
    struct qxl_rect inverted = {.top = 3, .left = 3, .bottom = 1, .right = 1};
    CHECK_EQ(canvas_copy(&s, &inverted, NULL, 0, &img, &area, SPICE_ROPD_OP_PUT,
                         SPICE_IMAGE_SCALE_MODE_NEAREST, NULL, NULL),
             CLOVE_E_INVALID);
    canvas_surface_finish(&s);
}

static void test_composite_operators(void)
{
    struct canvas_surface s;
    surface(&s);
    uint32_t px[4] = {0xff0000ff, 0xff00ff00, 0xffff0000, 0xffffffff};
    struct qxl_image img = {.type = SPICE_IMAGE_TYPE_BITMAP, .format = SPICE_BITMAP_FMT_RGBA,
                            .bitmap_flags = QXL_BITMAP_TOP_DOWN, .width = 2, .height = 2,
                            .stride = 8, .data = (uint8_t *)px};
    struct qxl_drawable d;
    memset(&d, 0, sizeof(d));
    d.type = QXL_DRAW_COMPOSITE;
    d.bbox = (struct qxl_rect){.top = 0, .left = 0, .bottom = 2, .right = 2};
    d.u.composite.src = &img;
    d.u.composite.flags = PIXMAN_OP_SRC;
    CHECK_EQ(canvas_composite(&s, &d, NULL, NULL), 0);
    CHECK_EQ(pixels[1] & 0xffffff, 0x00ff00);
    /* Operators pixman lacks (0x0e..0x2f, > 0x3e) would call a NULL function. */
    d.u.composite.flags = 0x20;
    CHECK_EQ(canvas_composite(&s, &d, NULL, NULL), CLOVE_E_INVALID);
    d.u.composite.flags = 0xff;
    CHECK_EQ(canvas_composite(&s, &d, NULL, NULL), CLOVE_E_INVALID);
    /* A convolution filter without parameters falls back to nearest. */
    d.u.composite.flags = PIXMAN_OP_OVER | (PIXMAN_FILTER_CONVOLUTION << 8);
    CHECK_EQ(canvas_composite(&s, &d, NULL, NULL), 0);
    d.u.composite.flags = PIXMAN_OP_OVER;
    d.bbox.right = INT32_MAX;
    CHECK_EQ(canvas_composite(&s, &d, NULL, NULL), CLOVE_E_INVALID);
    canvas_surface_finish(&s);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_fill_and_clip),
            CHECK_CASE(test_copy_bits_overlap),
            CHECK_CASE(test_hostile_geometry),
            CHECK_CASE(test_composite_operators),
            {0},
    });
}
