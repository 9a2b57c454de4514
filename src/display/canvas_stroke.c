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
 * START_WITH_GAP) and are drawn as X draws one-pixel-wide dashed lines:
 * each "on" piece a polygon, mitre joins between segments, scan-converted
 * with X's integer edge rules (see dashed_polyline). With a ROP where
 * painting twice differs from painting once, a polyline's pixels are
 * collected and painted once each, as X's span groups do.
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
/* Dashed polylines must stay within this many pixels of the origin. */
#define DASH_COORD_LIMIT 16384

struct polyline {
    int32_t *xy; /* pairs */
    uint32_t count, capacity;
    bool failed;
};

/* A run of pixels on one row, as X's span functions pass them. */
struct span {
    int32_t x, y, width;
};

struct span_list {
    struct span *v;
    size_t n, cap;
    bool failed;
};

static void span_add(struct span_list *l, int32_t x, int32_t y, int32_t width)
{
    if (l->failed) {
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct span *v = cap <= MAX_STEPS ? realloc(l->v, cap * sizeof(*v)) : NULL;
        if (!v) {
            l->failed = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (struct span){x, y, width};
}

struct stroke {
    struct canvas_surface *dst;
    const pixman_region32_t *region;
    const struct canvas_paint *paint;
    /* dashes: lengths in pixels, on/off alternating, starting "on" */
    uint8_t dash[512];
    uint32_t num_dash;
    uint32_t dash_offset;
    uint64_t steps;
    /* Dashed polylines of three points or more with a ROP that reads the
     * destination in a way painting twice would show: the reference
     * collects their pixels and paints each once. */
    bool careful;
    bool collecting;
    struct span_list pending; /* a segment's or polygon's spans */
    struct span_list group;   /* a careful dashed polyline's spans */
    uint32_t group_count;     /* polygons in `group` */
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

static int compare_span_y(const void *a, const void *b)
{
    const struct span *p = a, *q = b;
    return p->y < q->y ? -1 : p->y > q->y ? 1 : (p->x > q->x) - (p->x < q->x);
}

/*
 * Paints spans clipped to the destination region the way the reference
 * does (spice-common's spice_canvas_clip_spans): with a region of several
 * rectangles it clips the list in place, sorted by row, and a span that
 * two rectangles of one band cut in two writes its second piece over the
 * next span still to be read; that piece is then read (and clipped) again
 * in its place, and so on to the end of the list. The pixels spice-gtk
 * shows depend on this, so we reproduce it.
 */
static void spans_fill(struct stroke *s, struct span_list *l, bool sorted)
{
    if (l->failed || l->n == 0) {
        l->n = 0;
        return;
    }
    int n_rects;
    const pixman_box32_t *r =
            pixman_region32_rectangles((pixman_region32_t *)(uintptr_t)s->region, &n_rects);
    size_t out = 0;
    if (n_rects == 1) {
        for (size_t i = 0; i < l->n; i++) {
            struct span sp = l->v[i];
            int64_t x1 = sp.x, x2 = (int64_t)sp.x + sp.width;
            x1 = x1 < r->x1 ? r->x1 : x1;
            x2 = x2 > r->x2 ? r->x2 : x2;
            if (sp.y >= r->y1 && sp.y < r->y2 && x1 < x2) {
                l->v[out++] = (struct span){(int32_t)x1, sp.y, (int32_t)(x2 - x1)};
            }
        }
    } else if (n_rects > 1) {
        if (!sorted && l->n > 1) {
            qsort(l->v, l->n, sizeof(*l->v), compare_span_y);
        }
        size_t last = l->n, in = 0;
        int band = 0, band_end = 0;
        int32_t band_y1 = 0, band_y2 = 0;
        bool more = true;
        /* the first band, and the spans above it */
        for (band_end = band + 1; band_end < n_rects && r[band_end].y1 == r[band].y1;) {
            band_end++;
        }
        band_y1 = r[band].y1;
        band_y2 = r[band].y2;
        while (in < last && l->v[in].y < band_y1) {
            in++;
        }
        while (more && in < last) {
            int32_t y = l->v[in].y;
            if (y < band_y2) {
                int64_t x1 = l->v[in].x, x2 = x1 + l->v[in].width;
                for (int b = band; b < band_end; b++) {
                    int64_t nx1 = x1 < r[b].x1 ? r[b].x1 : x1;
                    int64_t nx2 = x2 > r[b].x2 ? r[b].x2 : x2;
                    if (nx1 < nx2) {
                        if (out == l->cap) {
                            size_t keep = l->n;
                            span_add(l, 0, 0, 0); /* grows the array */
                            l->n = keep;
                            if (l->failed) {
                                more = false;
                                break;
                            }
                        }
                        l->v[out++] = (struct span){(int32_t)nx1, y, (int32_t)(nx2 - nx1)};
                        if (out > l->n) {
                            l->n = out;
                        }
                    }
                }
                in++;
            } else {
                band = band_end;
                if (band == n_rects) {
                    break;
                }
                for (band_end = band + 1; band_end < n_rects && r[band_end].y1 == r[band].y1;) {
                    band_end++;
                }
                band_y1 = r[band].y1;
                band_y2 = r[band].y2;
                while (in < last && l->v[in].y < band_y1) {
                    in++;
                }
            }
        }
    }
    for (size_t i = 0; i < out; i++) {
        pixman_box32_t box = {l->v[i].x, l->v[i].y, l->v[i].x + l->v[i].width, l->v[i].y + 1};
        canvas_paint_box(s->dst, s->paint, &box);
    }
    l->n = 0;
}

/* Adds a point of a zero-width line: runs on one row merge into a span. */
static void line_point(struct stroke *s, int64_t x, int64_t y, bool *new_span)
{
    if (x < 0 || y < 0 || x >= (int64_t)s->dst->width || y >= (int64_t)s->dst->height) {
        return;
    }
    struct span_list *l = &s->pending;
    if (!*new_span && l->n && l->v[l->n - 1].y == y) {
        struct span *sp = &l->v[l->n - 1];
        if (x < sp->x) {
            sp->x = (int32_t)x;
        }
        sp->width++;
        return;
    }
    span_add(l, (int32_t)x, (int32_t)y, 1);
    *new_span = false;
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
    if (major == 0) {
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
    bool new_span = true;
    for (int64_t k = k_lo; k <= k_hi; k++) {
        if (++s->steps > MAX_STEPS) {
            break;
        }
        int64_t m = floor_div(e + (k - 1) * 2 * minor, 2 * major) + 1;
        int64_t a = major_start + major_sign * k, b = minor_start + minor_sign * m;
        if (x_major) {
            line_point(s, a, b, &new_span);
        } else {
            line_point(s, b, a, &new_span);
        }
    }
    /* each segment's spans are painted on their own, unsorted */
    spans_fill(s, &s->pending, false);
}

/*
 * Dashed lines. The reference draws them with X's wide-line code at
 * width 1: every "on" piece of a dash is a quadrilateral half a pixel
 * either side of the segment, consecutive segments are joined with a
 * mitre where both sides are on, and each polygon is scan-converted with
 * integer edge equations (a pixel, its centre on integer coordinates, is
 * in when it lies right of every left edge or on it, and strictly left of
 * every right edge, on rows from the top vertex's row rounded up to the
 * bottom one's, excluded). The floating-point steps below follow the
 * reference's order of operations so that the rounding is the same.
 */
struct poly_vertex {
    double x, y;
};

struct poly_slope {
    int32_t dx, dy;
    double k; /* the edge is x * dy - y * dx = k, relative to the origin */
};

struct poly_edge {
    int32_t x, e, stepx, signdx, dx, dy, height;
};

/* A segment's end as seen by a join. */
struct line_face {
    double xa, ya;
    int32_t dx, dy;
    int32_t x, y;
    double k;
};

#define SQUARED_SECANT_LIMIT 108.856472512142 /* 1 / sin^2(11/2 degrees) */

/* double to int32 the way x86's conversion (and so the reference, built
 * there) behaves: out of range or NaN gives INT32_MIN, not undefined
 * behaviour. */
static int32_t to_int32(double v)
{
    if (!(v > -2147483649.0 && v < 2147483648.0)) {
        return INT32_MIN;
    }
    return (int32_t)v;
}

static int32_t ceil_int(double v)
{
    int32_t i = to_int32(v);
    return (v == (double)i || v < 0.0) ? i : (int32_t)((uint32_t)i + 1);
}

/* 32-bit products wrap, as the reference's int arithmetic does. */
static int32_t mul32(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a * (uint32_t)b);
}

/* The double nearest sqrt(v) for an integer v below 2^53 (the reference
 * uses hypot; we have no libm). */
static double sqrt_nearest(double v)
{
    if (v <= 0) {
        return 0;
    }
    double r = v > 1 ? v : 1;
    for (int i = 0; i < 2000; i++) {
        double next = 0.5 * (r + v / r);
        if (next >= r) {
            break;
        }
        r = next;
    }
    /* Pick, among r and its neighbours, the one whose square is nearest. */
    double best = r, best_err = -1;
    for (int delta = -1; delta <= 1; delta++) {
        uint64_t bits;
        memcpy(&bits, &r, sizeof(bits));
        bits = (uint64_t)((int64_t)bits + delta);
        double c;
        memcpy(&c, &bits, sizeof(c));
        /* c * c exactly as hi + lo (Dekker's product) */
        double split = c * 134217729.0, c_hi = split - (split - c), c_lo = c - c_hi;
        double hi = c * c, lo = ((c_hi * c_hi - hi) + 2 * c_hi * c_lo) + c_lo * c_lo;
        double err = (hi - v) + lo;
        err = err < 0 ? -err : err;
        if (best_err < 0 || err < best_err) {
            best = c;
            best_err = err;
        }
    }
    return best;
}

static int step_around(int v, int incr, int max)
{
    return v + incr < 0 ? max - 1 : v + incr == max ? 0 : v + incr;
}

/* An edge from vertex row y0 along slope (dx, dy, k); returns its first
 * row. Left edges start one pixel further right. */
static int32_t edge_build(double y0, double k, int32_t dx, int32_t dy, int32_t xi, int32_t yi,
                          int32_t left, struct poly_edge *edge)
{
    if (dy < 0) {
        dy = -dy;
        dx = -dx;
        k = -k;
    }
    int32_t y = ceil_int(y0);
    int32_t xady = ceil_int(k) + mul32(y, dx);
    int32_t x = xady <= 0 ? -(-xady / dy) - 1 : (xady - 1) / dy;
    int32_t e = xady - mul32(x, dy);
    if (dx >= 0) {
        edge->signdx = 1;
        edge->stepx = dx / dy;
        edge->dx = dx % dy;
    } else {
        edge->signdx = -1;
        edge->stepx = -(-dx / dy);
        edge->dx = -dx % dy;
        e = dy - e + 1;
    }
    edge->dy = dy;
    edge->x = x + left + xi;
    edge->e = e - dy;
    edge->height = 0;
    return y + yi;
}

static void edge_step(int32_t *x, int32_t *e, const struct poly_edge *edge)
{
    *x += edge->stepx;
    *e += edge->dx;
    if (*e > 0) {
        *x += edge->signdx;
        *e -= edge->dy;
    }
}

/* Scan-converts a convex polygon of `count` (3 or 4) vertices relative to
 * (xi, yi), plotting every pixel of its spans. */
static void poly_fill(struct stroke *s, const struct poly_vertex *v, const struct poly_slope *sl,
                      int count, int32_t xi, int32_t yi)
{
    struct poly_edge right[4], left[4];
    int top = 0, bottom = 0;
    double miny = v[0].y, maxy = v[0].y;
    for (int i = 1; i < count; i++) {
        if (v[i].y < miny) {
            top = i;
            miny = v[i].y;
        }
        if (v[i].y >= maxy) {
            bottom = i;
            maxy = v[i].y;
        }
    }
    int clockwise = 1, slopeoff = 0;
    int j = step_around(top, -1, count);
    if (mul32(sl[j].dy, sl[top].dx) > mul32(sl[top].dy, sl[j].dx)) {
        clockwise = -1;
        slopeoff = -1;
    }
    int32_t bottomy = ceil_int(maxy) + yi, topy = 0, lasty = 0;
    int nright = 0, nleft = 0;
    for (int i = top, k = step_around(top, slopeoff, count); i != bottom;
         i = step_around(i, clockwise, count), k = step_around(k, clockwise, count)) {
        if (sl[k].dy != 0) {
            int32_t y = edge_build(v[i].y, sl[k].k, sl[k].dx, sl[k].dy, xi, yi, 0, &right[nright]);
            if (nright) {
                right[nright - 1].height = y - lasty;
            } else {
                topy = y;
            }
            nright++;
            lasty = y;
        }
    }
    if (nright) {
        right[nright - 1].height = bottomy - lasty;
    }
    slopeoff = slopeoff == 0 ? -1 : 0;
    for (int i = top, k = step_around(top, slopeoff, count); i != bottom;
         i = step_around(i, -clockwise, count), k = step_around(k, -clockwise, count)) {
        if (sl[k].dy != 0) {
            int32_t y = edge_build(v[i].y, sl[k].k, sl[k].dx, sl[k].dy, xi, yi, 1, &left[nleft]);
            if (nleft) {
                left[nleft - 1].height = y - lasty;
            }
            nleft++;
            lasty = y;
        }
    }
    if (nleft) {
        left[nleft - 1].height = bottomy - lasty;
    }
    /* Walk both chains down, one band (both edges fixed) at a time. */
    int li = 0, ri = 0;
    int32_t lh = 0, rh = 0, lx = 0, le = 0, rx = 0, re = 0;
    const struct poly_edge *le_edge = NULL, *re_edge = NULL;
    int64_t y = topy;
    struct span_list *out = &s->pending;
    while ((li < nleft || lh) && (ri < nright || rh)) {
        if (!lh && li < nleft) {
            le_edge = &left[li++];
            lh = le_edge->height;
            lx = le_edge->x;
            le = le_edge->e;
        }
        if (!rh && ri < nright) {
            re_edge = &right[ri++];
            rh = re_edge->height;
            rx = re_edge->x;
            re = re_edge->e;
        }
        int32_t h = lh < rh ? lh : rh;
        lh -= h;
        rh -= h;
        for (; h > 0; h--, y++) {
            if (++s->steps > MAX_STEPS) {
                out->n = 0;
                return;
            }
            if (rx >= lx) {
                span_add(out, lx, (int32_t)y, rx - lx + 1);
            }
            edge_step(&lx, &le, le_edge);
            edge_step(&rx, &re, re_edge);
        }
    }
    if (!s->collecting) {
        spans_fill(s, out, true);
        return;
    }
    /* A careful polyline: keep the polygon's spans for the end. */
    if (out->n) {
        s->group_count++;
        for (size_t i = 0; i < out->n; i++) {
            span_add(&s->group, out->v[i].x, out->v[i].y, out->v[i].width);
        }
    }
    out->n = 0;
}

/* Joins two segment ends with a mitre (a bevel past the mitre limit). */
static void line_join(struct stroke *s, struct line_face lf, struct line_face rf)
{
    double denom = -lf.dx * (double)rf.dy + rf.dx * (double)lf.dy;
    if (!s->collecting) {
        /* a one-pixel line usually draws the joining pixel itself */
        if (lf.dx > 0 || (lf.dx == 0 && lf.dy > 0) || rf.dx > 0 || (rf.dx == 0 && rf.dy > 0)) {
            return;
        }
    }
    if (denom == 0) {
        return;
    }
    bool swapped = false;
    if (denom > 0) {
        lf.xa = -lf.xa;
        lf.ya = -lf.ya;
        lf.dx = -lf.dx;
        lf.dy = -lf.dy;
    } else {
        swapped = true;
        rf.xa = -rf.xa;
        rf.ya = -rf.ya;
        rf.dx = -rf.dx;
        rf.dy = -rf.dy;
    }
    struct poly_vertex v[4] = {{rf.xa, rf.ya}, {0, 0}, {lf.xa, lf.ya}, {0, 0}};
    struct poly_slope sl[4] = {{-rf.dy, rf.dx, 0}, {lf.dy, -lf.dx, 0}, {0, 0, 0}, {0, 0, 0}};
    double my =
            (lf.dy * (rf.xa * rf.dy - rf.ya * rf.dx) - rf.dy * (lf.xa * lf.dy - lf.ya * lf.dx)) /
            denom;
    double mx = lf.dy != 0 ? lf.xa + (my - lf.ya) * (double)lf.dx / (double)lf.dy
                           : rf.xa + (my - rf.ya) * (double)rf.dx / (double)rf.dy;
    int count;
    if ((mx * mx + my * my) * 4 <= SQUARED_SECANT_LIMIT) {
        double sign = swapped ? -1 : 1;
        sl[2] = (struct poly_slope){swapped ? -lf.dx : lf.dx, swapped ? -lf.dy : lf.dy,
                                    sign * lf.k};
        v[3] = (struct poly_vertex){mx, my};
        sl[3] = (struct poly_slope){swapped ? -rf.dx : rf.dx, swapped ? -rf.dy : rf.dy,
                                    sign * rf.k};
        count = 4;
    } else {
        double dx = rf.xa - lf.xa, dy = rf.ya - lf.ya;
        double adx = dx < 0 ? -dx : dx, ady = dy < 0 ? -dy : dy;
        double scale = adx > ady ? adx : ady;
        sl[2].dx = to_int32((dx * 65536) / scale);
        sl[2].dy = to_int32((dy * 65536) / scale);
        sl[2].k = ((lf.xa + rf.xa) * sl[2].dy - (lf.ya + rf.ya) * sl[2].dx) / 2.0;
        count = 3;
    }
    poly_fill(s, v, sl, count, lf.x, lf.y);
}

enum { V_TOP, V_RIGHT, V_BOTTOM, V_LEFT };

/* One segment's dashes; the dash state (index, offset into it) carries on. */
static void dashed_segment(struct stroke *s, int32_t *dash_offset, uint32_t *dash_index, int32_t x1,
                           int32_t y1, int32_t x2, int32_t y2, struct line_face *lface,
                           struct line_face *rface)
{
    int32_t dx = x2 - x1, dy = y2 - y1;
    uint32_t index = *dash_index;
    int32_t remain = s->dash[index] - *dash_offset;
    double l = 0.5, length, rdx, rdy;
    if (dx == 0) {
        length = dy;
        rdx = 0;
        rdy = l;
        if (dy < 0) {
            length = -dy;
            rdy = -l;
        }
    } else if (dy == 0) {
        length = dx;
        rdx = l;
        rdy = 0;
        if (dx < 0) {
            length = -dx;
            rdx = -l;
        }
    } else {
        length = sqrt_nearest((double)dx * dx + (double)dy * dy);
        double r = l / length;
        rdx = r * dx;
        rdy = r * dy;
    }
    double k = l * length, left = length;
    struct poly_slope sl[4] = {{dx, dy, k}, {-dy, dx, 0}, {-dx, -dy, k}, {dy, -dx, 0}};
    struct poly_vertex v[4] = {{rdy, -rdx}, {rdy, -rdx}, {-rdy, rdx}, {-rdy, rdx}};
    while (left > remain) {
        if (++s->steps > MAX_STEPS) {
            return;
        }
        double ddx = mul32(remain, dx) / length, ddy = mul32(remain, dy) / length;
        v[V_RIGHT].x += ddx;
        v[V_RIGHT].y += ddy;
        v[V_BOTTOM].x += ddx;
        v[V_BOTTOM].y += ddy;
        sl[V_RIGHT].k = v[V_RIGHT].x * dx + v[V_RIGHT].y * dy;
        if (!(index & 1)) {
            poly_fill(s, v, sl, 4, x1, y1);
        }
        left -= remain;
        if (++index == s->num_dash) {
            index = 0;
        }
        remain = s->dash[index];
        v[V_TOP] = v[V_RIGHT];
        v[V_LEFT] = v[V_BOTTOM];
        sl[V_LEFT].k = -sl[V_RIGHT].k;
    }
    if (!(index & 1)) {
        v[V_TOP].x -= dx;
        v[V_TOP].y -= dy;
        v[V_LEFT].x -= dx;
        v[V_LEFT].y -= dy;
        v[V_RIGHT] = (struct poly_vertex){rdy, -rdx};
        v[V_BOTTOM] = (struct poly_vertex){-rdy, rdx};
        sl[V_RIGHT].k = 0;
        sl[V_LEFT].k += (int32_t)((uint32_t)mul32(dx, dx) + (uint32_t)mul32(dy, dy));
        poly_fill(s, v, sl, 4, x2, y2);
    }
    remain = to_int32((double)remain - left);
    if (remain == 0) {
        if (++index == s->num_dash) {
            index = 0;
        }
        remain = s->dash[index];
    }
    *lface = (struct line_face){rdy, -rdx, dx, dy, x1, y1, k};
    *rface = (struct line_face){-rdy, rdx, -dx, -dy, x2, y2, k};
    *dash_index = index;
    *dash_offset = s->dash[index] - remain;
}

/* Starts the dash pattern `dist` units in. */
static void dash_start(const struct stroke *s, int64_t dist, uint32_t *dash_index,
                       int32_t *dash_offset)
{
    uint32_t index = 0;
    if (dist < s->dash[0]) {
        *dash_index = 0;
        *dash_offset = (int32_t)dist;
        return;
    }
    dist -= s->dash[0];
    index = s->num_dash > 1 ? 1 : 0;
    int64_t total = 0;
    for (uint32_t i = 0; i < s->num_dash; i++) {
        total += s->dash[i];
    }
    if (total > 0 && total <= dist) {
        dist %= total;
    }
    while (dist >= s->dash[index]) {
        dist -= s->dash[index];
        if (++index == s->num_dash) {
            index = 0;
        }
    }
    *dash_index = index;
    *dash_offset = (int32_t)dist;
}

static void dashed_polyline(struct stroke *s, const struct polyline *l)
{
    if (l->count == 0) {
        return;
    }
    const int32_t *xy = l->xy;
    /* The reference's int arithmetic overflows on longer dashed lines (its
     * behaviour there is undefined); we draw nothing for them. */
    for (uint32_t i = 0; i < 2 * l->count; i++) {
        if (xy[i] < -DASH_COORD_LIMIT || xy[i] > DASH_COORD_LIMIT) {
            return;
        }
    }
    bool self_join = xy[0] == xy[2 * (l->count - 1)] && xy[1] == xy[2 * (l->count - 1) + 1];
    uint32_t index;
    int32_t offset;
    dash_start(s, s->dash_offset, &index, &offset);
    bool first = true, drawn = false, first_fg = false, prev_fg = false, end_fg = false;
    struct line_face lface, rface, prev_rface, first_face;
    memset(&rface, 0, sizeof(rface));
    memset(&first_face, 0, sizeof(first_face));
    memset(&prev_rface, 0, sizeof(prev_rface));
    for (uint32_t i = 0; i + 1 < l->count; i++) {
        int32_t x1 = xy[2 * i], y1 = xy[2 * i + 1], x2 = xy[2 * i + 2], y2 = xy[2 * i + 3];
        if (x1 != x2 || y1 != y2) {
            drawn = true;
            uint32_t prev_index = index;
            dashed_segment(s, &offset, &index, x1, y1, x2, y2, &lface, &rface);
            bool start_fg = !(prev_index & 1);
            end_fg = ((index & 1) != 0) != (offset != 0);
            if (start_fg) {
                if (first || !prev_fg) {
                    if (first && self_join) {
                        first_face = lface;
                        first_fg = true;
                    }
                } else {
                    line_join(s, lface, prev_rface);
                }
            }
            prev_rface = rface;
            prev_fg = end_fg;
            first = false;
        }
        if (i + 2 == l->count && drawn && end_fg && self_join && first_fg) {
            line_join(s, first_face, rface);
        }
    }
}

/* Paints a careful polyline's spans once each: the union of every row's
 * spans (as X's span groups do), or one polygon's spans as they are. */
static void group_fill(struct stroke *s)
{
    struct span_list *g = &s->group;
    if (s->group_count > 1 && g->n > 1 && !g->failed) {
        qsort(g->v, g->n, sizeof(*g->v), compare_span_y);
        size_t out = 0;
        for (size_t i = 0; i < g->n;) {
            int32_t y = g->v[i].y;
            int64_t x1 = g->v[i].x, x2 = x1 + g->v[i].width;
            for (i++; i < g->n && g->v[i].y == y; i++) {
                int64_t nx1 = g->v[i].x, nx2 = nx1 + g->v[i].width;
                if (nx1 > x2) {
                    g->v[out++] = (struct span){(int32_t)x1, y, (int32_t)(x2 - x1)};
                    x1 = nx1;
                    x2 = nx2;
                } else if (nx2 > x2) {
                    x2 = nx2;
                }
            }
            g->v[out++] = (struct span){(int32_t)x1, y, (int32_t)(x2 - x1)};
        }
        g->n = out;
    }
    spans_fill(s, g, true);
    s->group_count = 0;
}

static void polyline_draw(struct stroke *s, struct polyline *l)
{
    s->collecting = s->num_dash && s->careful && l->count >= 3;
    s->group_count = 0;
    s->group.n = 0;
    if (s->num_dash) {
        dashed_polyline(s, l);
    } else {
        for (uint32_t i = 0; i + 1 < l->count; i++) {
            draw_segment(s, l->xy[2 * i], l->xy[2 * i + 1], l->xy[2 * i + 2], l->xy[2 * i + 3]);
        }
    }
    if (s->collecting) {
        group_fill(s);
        s->collecting = false;
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
    free(s.pending.v);
    free(s.group.v);
    return 0;
}
