/*
 * STROKE for the software canvas: paths of 28.4 fixed points drawn as
 * zero-width lines (see canvas_ops.h).
 *
 * DESIGN: the reference client strokes with the X11 "mi" rasteriser
 * (spice-common lines.c): points rounded to integers (a fraction above
 * one half rounds up), Bezier segments subdivided until flat, each
 * polyline drawn with Bresenham lines whose ties follow X's default bias
 * (octants 2-5 prefer the axial step), end points excluded ("cap not
 * last", as win32 cosmetic lines are). X clips lines so that the pixels
 * drawn are those of the unclipped line, so we compute each visible pixel
 * of a segment directly from its step index (closed form of the Bresenham
 * error term), which also keeps absurd coordinates cheap.
 *
 * Dashed lines (SPICE_LINE_FLAGS_STYLED) take the dash lengths as the
 * reference does (rounded, truncated to a byte, rotated for
 * START_WITH_GAP) and measure them along the line; the reference draws
 * them as one-pixel-wide polygons (miWideDash), so their ends may differ
 * from ours by a pixel.
 *
 * INVARIANTS: flattening is bounded (MAX_POINTS, MAX_BEZIER_DEPTH) and so
 * is the work per stroke (MAX_STEPS); pixels go through canvas_paint_box,
 * which clips to the surface.
 */
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>

#include "common/error.h"
#include "display/canvas_ops.h"

#define MAX_POINTS       (1u << 18)
#define MAX_BEZIER_DEPTH 16
#define MAX_STEPS        (16ull * 1024 * 1024)

struct polyline {
    int32_t *xy; /* pairs */
    uint32_t count, capacity;
    bool failed;
};

struct stroke {
    struct canvas_surface *dst;
    const pixman_region32_t *region;
    const struct canvas_paint *paint;
    /* dashes: lengths in pixels, on/off alternating, starting "on" */
    uint8_t dash[512];
    uint32_t num_dash;
    uint32_t dash_total;
    uint32_t dash_offset;
    double dash_pos; /* distance along the current polyline */
    uint64_t steps;
    /* Dashed polylines of three points or more with a ROP that reads the
     * destination in a way painting twice would show: the reference
     * collects their pixels and paints each once. */
    bool careful;
    bool collecting;
    uint64_t *pixels; /* (y << 32) | x */
    size_t num_pixels, cap_pixels;
    bool pixels_failed;
};

static int fix_to_int(int32_t fixed)
{
    int value = fixed >> 4;
    return (fixed & 0x0f) > 8 ? value + 1 : value;
}

static void polyline_append(struct polyline *l, int32_t x, int32_t y)
{
    if (l->failed) {
        return;
    }
    if (l->count == l->capacity) {
        uint32_t cap = l->capacity ? l->capacity * 2 : 16;
        if (cap > MAX_POINTS) {
            l->failed = true;
            return;
        }
        int32_t *xy = realloc(l->xy, sizeof(*xy) * 2 * cap);
        if (!xy) {
            l->failed = true;
            return;
        }
        l->xy = xy;
        l->capacity = cap;
    }
    l->xy[2 * l->count] = x;
    l->xy[2 * l->count + 1] = y;
    l->count++;
}

/* The reference's products may wrap for huge coordinates; ours wrap the
 * same way, without undefined behaviour. */
static int64_t wrap_mul(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a * (uint64_t)b);
}

static int64_t dot(int64_t x1, int64_t y1, int64_t x2, int64_t y2)
{
    return (int64_t)((uint64_t)wrap_mul(x1, x2) + (uint64_t)wrap_mul(y1, y2)) >> 4;
}

struct fix_point {
    int64_t x, y;
};

static void subdivide_bezier(struct polyline *l, struct fix_point p0, struct fix_point p1,
                             struct fix_point p2, struct fix_point p3, int depth)
{
    int64_t a2 = dot(p1.x - p0.x, p1.y - p0.y, p1.x - p0.x, p1.y - p0.y);
    int64_t b2 = dot(p3.x - p0.x, p3.y - p0.y, p3.x - p0.x, p3.y - p0.y);
    int64_t c2 = dot(p2.x - p3.x, p2.y - p3.y, p2.x - p3.x, p2.y - p3.y);
    int64_t ab = dot(p1.x - p0.x, p1.y - p0.y, p3.x - p0.x, p3.y - p0.y);
    int64_t cb = dot(p2.x - p3.x, p2.y - p3.y, p0.x - p3.x, p0.y - p3.y);
    int64_t h1 = (int64_t)((uint64_t)wrap_mul(a2, b2) - (uint64_t)wrap_mul(ab, ab)) >> 3;
    int64_t h2 = (int64_t)((uint64_t)wrap_mul(c2, b2) - (uint64_t)wrap_mul(cb, cb)) >> 3;
    if ((h1 < b2 && h2 < b2) || depth >= MAX_BEZIER_DEPTH || l->failed) {
        /* flat enough (deviation under half a pixel): a straight line */
        polyline_append(l, fix_to_int((int32_t)p3.x), fix_to_int((int32_t)p3.y));
        return;
    }
    struct fix_point p01 = {(p0.x + p1.x) / 2, (p0.y + p1.y) / 2};
    struct fix_point p12 = {(p1.x + p2.x) / 2, (p1.y + p2.y) / 2};
    struct fix_point p23 = {(p2.x + p3.x) / 2, (p2.y + p3.y) / 2};
    struct fix_point p012 = {(p01.x + p12.x) / 2, (p01.y + p12.y) / 2};
    struct fix_point p123 = {(p12.x + p23.x) / 2, (p12.y + p23.y) / 2};
    struct fix_point p0123 = {(p012.x + p123.x) / 2, (p012.y + p123.y) / 2};
    subdivide_bezier(l, p0, p01, p012, p0123, depth + 1);
    subdivide_bezier(l, p0123, p123, p23, p3, depth + 1);
}

/* sqrt by Newton's method, so that the canvas needs no libm. */
static double root(double v)
{
    if (v <= 0) {
        return 0;
    }
    double r = v > 1 ? v : 1;
    for (int i = 0; i < 200; i++) {
        double next = 0.5 * (r + v / r);
        if (next >= r) {
            break;
        }
        r = next;
    }
    return r;
}

static bool dash_on(const struct stroke *s, double pos)
{
    double turns = (pos + s->dash_offset) / (double)s->dash_total;
    double phase = pos + s->dash_offset - (double)(int64_t)turns * (double)s->dash_total;
    for (uint32_t i = 0; i < s->num_dash; i++) {
        if (phase < s->dash[i]) {
            return (i % 2) == 0;
        }
        phase -= s->dash[i];
    }
    return false;
}

static void plot(struct stroke *s, int64_t x, int64_t y)
{
    if (x < 0 || y < 0 || x >= (int64_t)s->dst->width || y >= (int64_t)s->dst->height) {
        return;
    }
    if (s->collecting) {
        if (s->num_pixels == s->cap_pixels) {
            size_t cap = s->cap_pixels ? s->cap_pixels * 2 : 256;
            uint64_t *grown = cap <= MAX_STEPS ? realloc(s->pixels, cap * sizeof(*grown)) : NULL;
            if (!grown) {
                s->pixels_failed = true;
                return;
            }
            s->pixels = grown;
            s->cap_pixels = cap;
        }
        s->pixels[s->num_pixels++] = ((uint64_t)y << 32) | (uint64_t)x;
        return;
    }
    if (!pixman_region32_contains_point((pixman_region32_t *)(uintptr_t)s->region, (int)x, (int)y,
                                        NULL)) {
        return;
    }
    pixman_box32_t box = {(int32_t)x, (int32_t)y, (int32_t)x + 1, (int32_t)y + 1};
    canvas_paint_box(s->dst, s->paint, &box);
}

/*
 * A dashed horizontal or vertical segment. The reference draws each dash
 * as a one-pixel-wide rectangle from distance a to b along the line and
 * fills the pixels whose centres lie inside, left and top edges included:
 * going right or down that is the pixels at distances a .. b - 1 from the
 * start, going left or up the pixels at distances a + 1 .. b. So we test
 * the middle of the pixel's half-step towards the end it belongs to.
 */
static void draw_dashed_axis(struct stroke *s, int64_t x1, int64_t y1, int64_t step_x,
                             int64_t step_y, int64_t length, double start_pos)
{
    bool forward = step_x > 0 || step_y > 0;
    int64_t limit = step_x ? (int64_t)s->dst->width : (int64_t)s->dst->height;
    int64_t origin = step_x ? x1 : y1, sign = step_x ? step_x : step_y;
    /* distances t of the pixels: forward 0 .. length - 1, else 1 .. length */
    int64_t t_lo = forward ? 0 : 1, t_hi = forward ? length - 1 : length;
    /* keep to the surface: origin + sign * t in [0, limit) */
    int64_t a = sign > 0 ? -origin : origin - (limit - 1);
    int64_t b = sign > 0 ? limit - 1 - origin : origin;
    t_lo = a > t_lo ? a : t_lo;
    t_hi = b < t_hi ? b : t_hi;
    for (int64_t t = t_lo; t <= t_hi; t++) {
        if (++s->steps > MAX_STEPS) {
            return;
        }
        if (!dash_on(s, start_pos + (double)t + (forward ? 0.5 : -0.5))) {
            continue;
        }
        plot(s, x1 + step_x * t, y1 + step_y * t);
    }
}

/* floor(a / b) for b > 0 */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* X's default thin-line bias: octants 2-5 step axially on a tie. */
static int64_t line_bias(unsigned octant)
{
    /* octant bits: 4 = x decreasing, 2 = y decreasing, 1 = y major */
    return (0xd8u >> octant) & 1u;
}

/* One segment, without its end point. */
static void draw_segment(struct stroke *s, int64_t x1, int64_t y1, int64_t x2, int64_t y2)
{
    int64_t adx = x2 - x1, ady = y2 - y1, sdx = 1, sdy = 1;
    unsigned octant = 0;
    if (adx < 0) {
        adx = -adx;
        sdx = -1;
        octant |= 4;
    }
    if (ady < 0) {
        ady = -ady;
        sdy = -1;
        octant |= 2;
    }
    bool x_major = adx > ady;
    int64_t major = x_major ? adx : ady, minor = x_major ? ady : adx;
    int64_t major_start = x_major ? x1 : y1, major_sign = x_major ? sdx : sdy;
    int64_t minor_start = x_major ? y1 : x1, minor_sign = x_major ? sdy : sdx;
    int64_t limit = x_major ? (int64_t)s->dst->width : (int64_t)s->dst->height;
    if (!x_major) {
        octant |= 1;
    }
    double step = major ? root((double)adx * (double)adx + (double)ady * (double)ady) / major : 0;
    double start_pos = s->dash_pos;
    s->dash_pos += step * (double)major;
    if (major == 0) {
        return;
    }
    if (s->num_dash && minor == 0) {
        draw_dashed_axis(s, x1, y1, x_major ? major_sign : 0, x_major ? 0 : major_sign, major,
                         start_pos);
        return;
    }
    /* Bresenham's error before step k decides the minor offset in closed
     * form: m(k) = floor((E + (k - 1) * 2 * minor) / (2 * major)) + 1. */
    int64_t e = 2 * minor - major - line_bias(octant);
    /* Only the steps whose major coordinate lies on the surface. */
    int64_t k_lo, k_hi;
    if (major_sign > 0) {
        k_lo = -major_start;
        k_hi = limit - 1 - major_start;
    } else {
        k_lo = major_start - (limit - 1);
        k_hi = major_start;
    }
    k_lo = k_lo < 0 ? 0 : k_lo;
    k_hi = k_hi > major - 1 ? major - 1 : k_hi;
    for (int64_t k = k_lo; k <= k_hi; k++) {
        if (++s->steps > MAX_STEPS) {
            return;
        }
        if (s->num_dash && !dash_on(s, start_pos + step * ((double)k + 0.5))) {
            continue;
        }
        int64_t m = floor_div(e + (k - 1) * 2 * minor, 2 * major) + 1;
        int64_t a = major_start + major_sign * k, b = minor_start + minor_sign * m;
        if (x_major) {
            plot(s, a, b);
        } else {
            plot(s, b, a);
        }
    }
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void polyline_draw(struct stroke *s, struct polyline *l)
{
    s->dash_pos = 0;
    s->collecting = s->num_dash && s->careful && l->count >= 3;
    s->num_pixels = 0;
    for (uint32_t i = 0; i + 1 < l->count; i++) {
        draw_segment(s, l->xy[2 * i], l->xy[2 * i + 1], l->xy[2 * i + 2], l->xy[2 * i + 3]);
    }
    if (s->collecting) {
        s->collecting = false;
        qsort(s->pixels, s->num_pixels, sizeof(*s->pixels), compare_u64);
        for (size_t i = 0; i < s->num_pixels; i++) {
            if (i == 0 || s->pixels[i] != s->pixels[i - 1]) {
                plot(s, (int64_t)(s->pixels[i] & 0xffffffffu), (int64_t)(s->pixels[i] >> 32));
            }
        }
    }
    l->count = 0;
}

/* Whether X would paint a dashed line's pixels once each (its "careful"
 * raster ops): those where painting twice differs from painting once. */
static bool rop_is_careful(uint8_t rop)
{
    /* X numbers a ROP with bit 3 for (src 0, dst 0) down to bit 0 for
     * (src 1, dst 1); ours is the other way round. */
    unsigned alu = 0;
    for (unsigned i = 0; i < 4; i++) {
        alu |= ((rop >> i) & 1u) << (3 - i);
    }
    return (alu & 0xcu) == 0x8u || (alu & 0x3u) == 0x2u;
}

static void dashes_init(struct stroke *s, const struct qxl_line_attr *attr)
{
    s->num_dash = 0;
    if (!(attr->flags & SPICE_LINE_FLAGS_STYLED) || attr->style_nseg == 0 || !attr->style) {
        return;
    }
    uint32_t n = attr->style_nseg;
    for (uint32_t i = 0; i < n; i++) {
        s->dash[i] = (uint8_t)fix_to_int((int32_t)attr->style[i]);
    }
    s->dash_offset = 0;
    if (attr->flags & SPICE_LINE_FLAGS_START_WITH_GAP) {
        /* The reference rotates the list left by one and starts the
         * pattern at its (new) first length. */
        uint8_t first = s->dash[0];
        memmove(s->dash, s->dash + 1, n - 1);
        s->dash[n - 1] = first;
        s->dash_offset = s->dash[0];
    }
    uint32_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        total += s->dash[i];
    }
    /* Even entries are "on" and odd ones "off", counted from the start of
     * the list each time round (the reference does not swap them on the
     * second pass of an odd-length list, as X's protocol would). */
    if (total == 0) {
        return; /* nothing but zero lengths: drawn solid */
    }
    s->num_dash = n;
    s->dash_total = total;
}

static bool path_valid(const struct qxl_path *path)
{
    for (uint32_t i = 0; i < path->num_segments; i++) {
        const struct qxl_path_seg *seg = &path->segments[i];
        if (seg->count && !seg->points) {
            return false;
        }
        uint32_t rest = seg->count - ((seg->flags & SPICE_PATH_BEGIN) && seg->count ? 1 : 0);
        if ((seg->flags & SPICE_PATH_BEZIER) && rest % 3 != 0) {
            return false;
        }
    }
    return true;
}

int canvas_stroke_draw(struct canvas_surface *dst, const pixman_region32_t *region,
                       const struct qxl_drawable *d, const struct canvas_paint *paint)
{
    const struct qxl_path *path = &d->u.stroke.path;
    if ((path->num_segments && !path->segments) || !path_valid(path)) {
        return CLOVE_E_INVALID;
    }
    struct stroke s;
    memset(&s, 0, sizeof(s));
    s.dst = dst;
    s.region = region;
    s.paint = paint;
    dashes_init(&s, &d->u.stroke.attr);
    s.careful = rop_is_careful(paint->rop);
    struct polyline l = {0};
    for (uint32_t i = 0; i < path->num_segments && !l.failed; i++) {
        const struct qxl_path_seg *seg = &path->segments[i];
        const struct qxl_point *p = seg->points, *end = seg->points + seg->count;
        if ((seg->flags & SPICE_PATH_BEGIN) && p < end) {
            polyline_draw(&s, &l);
            polyline_append(&l, fix_to_int(p->x), fix_to_int(p->y));
            p++;
        }
        if (seg->flags & SPICE_PATH_BEZIER) {
            for (; p + 2 < end; p += 3) {
                if (l.count == 0) {
                    continue; /* no current point to start from */
                }
                struct fix_point p0 = {(int64_t)l.xy[2 * (l.count - 1)] * 16,
                                       (int64_t)l.xy[2 * (l.count - 1) + 1] * 16};
                subdivide_bezier(&l, p0, (struct fix_point){p[0].x, p[0].y},
                                 (struct fix_point){p[1].x, p[1].y},
                                 (struct fix_point){p[2].x, p[2].y}, 0);
            }
        } else {
            for (; p < end; p++) {
                polyline_append(&l, fix_to_int(p->x), fix_to_int(p->y));
            }
        }
        if (seg->flags & SPICE_PATH_END) {
            if ((seg->flags & SPICE_PATH_CLOSE) && l.count) {
                polyline_append(&l, l.xy[0], l.xy[1]);
            }
            polyline_draw(&s, &l);
        }
    }
    polyline_draw(&s, &l);
    free(l.xy);
    free(s.pixels);
    return 0;
}
