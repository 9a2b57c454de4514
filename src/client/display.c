/*
 * The display channels of a client session: surfaces in host memory and the
 * draw messages applied to them with the shared software canvas
 * (display/canvas.c).
 *
 * DESIGN: a session links every display channel the server lists (one per
 * QXL device, ids 0 .. CLIENT_MAX_DISPLAYS-1); each has a struct
 * client_display with its own surfaces, palette cache, stream ids and
 * heads, while the pixmap cache and the GLZ window are shared (the
 * DISPLAY_INIT of every channel names the same cache and dictionary ids).
 *
 * Each draw message is parsed (proto/server_parse.c, borrowing the body),
 * then converted into one `struct qxl_drawable`, the form the server's
 * worker draws too: every image (source, pattern brushes, mask, composite
 * mask) decoded into an owned bitmap (image.c), clip rects, paths, line
 * styles and glyph strings copied, so the drawable owns everything and
 * qxl_drawable_finish() frees it whatever the op. canvas_draw() draws it:
 * one call for every op. An op the canvas does not draw yet
 * (CLOVE_E_UNSUPPORTED) is logged once per channel and op and skipped; an
 * image whose palette is not in the palette cache skips that draw with a
 * rate-limited warning (as spice-gtk draws nothing then), and so does a
 * draw the canvas refuses as undrawable; anything malformed on the wire
 * (or an image that does not decode) fails the session. Every change to a primary surface (surface
 * 0) is reported through the area callbacks with the draw's box clipped to
 * the surface.
 *
 * Video streams are not decoded yet: their messages are parsed (so a
 * malformed one is still an error), their ids tracked, and they are
 * skipped with one "not supported" warning per channel. The channel
 * advertises no stream capability (no STREAM_REPORT, no codecs), so the
 * server never expects reports from us.
 */
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/protocol.h>
#include <spice/qxl_dev.h>
#include <sys/mman.h>

#include "client/client_priv.h"
#include "common/error.h"
#include "common/log.h"

/* ---- displays and surfaces ---- */

static struct client_display *display_create(struct clove_session *s, uint8_t id)
{
    struct client_display *d = calloc(1, sizeof(*d));
    if (!d) {
        return NULL;
    }
    d->surfaces = calloc(CLIENT_MAX_SURFACES, sizeof(*d->surfaces));
    if (!d->surfaces) {
        free(d);
        return NULL;
    }
    d->session = s;
    d->id = id;
    return d;
}

/* Surfaces of these sizes get their pages at creation (see below); larger
 * ones (a hostile server's 16k x 16k) stay lazily allocated. */
#define SURFACE_POPULATE_MIN_BYTES (1u << 20)
#define SURFACE_POPULATE_MAX_BYTES (64u << 20)

/*
 * Zeroed memory for a surface's pixels. The first large surface takes the
 * session's prefault (prefault.h), populated while the display channel
 * waited for its link. Other large surfaces are mapped with MAP_POPULATE:
 * the kernel provides all the pages in one call instead of one page fault
 * per 4 KiB during the first draw (a 1024x768 primary is 768 faults, about
 * 1.7 ms here, against 1.2 ms populated up front). Small surfaces come from
 * calloc.
 */
static uint8_t *surface_pixels_alloc(struct clove_session *s, struct client_surface *surface,
                                     size_t size)
{
    surface->mapped = 0;
    if (size >= SURFACE_POPULATE_MIN_BYTES && size <= SURFACE_POPULATE_MAX_BYTES) {
        size_t mapped = 0;
        uint8_t *ready = prefault_take(s->prefault, size, &mapped);
        if (ready) {
            surface->mapped = mapped;
            return ready;
        }
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p != MAP_FAILED) {
            surface->mapped = size;
            return p;
        }
    }
    return calloc(1, size ? size : 1);
}

static void surface_pixels_free(struct client_surface *surface)
{
    if (surface->mapped) {
        munmap(surface->pixels, surface->mapped);
    } else {
        free(surface->pixels);
    }
    surface->pixels = NULL;
    surface->mapped = 0;
}

static void surface_destroy(struct client_surface *surface)
{
    if (!surface->used) {
        return;
    }
    canvas_surface_finish(&surface->canvas);
    surface_pixels_free(surface);
    memset(surface, 0, sizeof(*surface));
}

static void display_destroy(struct client_display *d)
{
    if (!d) {
        return;
    }
    channel_close(d->channel);
    for (uint32_t i = 0; i < CLIENT_MAX_SURFACES; i++) {
        surface_destroy(&d->surfaces[i]);
    }
    free(d->surfaces);
    palette_cache_clear(d);
    free(d);
}

int display_init(struct clove_session *s)
{
    s->glz = glz_window_create(CLIENT_GLZ_WINDOW_PIXELS);
    if (!s->glz) {
        return CLOVE_E_NOMEM;
    }
    s->displays[0] = display_create(s, 0);
    if (!s->displays[0]) {
        glz_window_destroy(s->glz);
        s->glz = NULL;
        return CLOVE_E_NOMEM;
    }
    return 0;
}

void display_finish(struct clove_session *s)
{
    for (uint32_t i = 0; i < CLIENT_MAX_DISPLAYS; i++) {
        display_destroy(s->displays[i]);
        s->displays[i] = NULL;
    }
    glz_window_destroy(s->glz);
    s->glz = NULL;
    image_cache_clear(s);
    prefault_destroy(s->prefault);
    s->prefault = NULL;
}

struct client_display *display_get(struct clove_session *s, uint8_t id)
{
    if (id >= CLIENT_MAX_DISPLAYS) {
        return NULL;
    }
    if (!s->displays[id]) {
        s->displays[id] = display_create(s, id);
    }
    return s->displays[id];
}

void display_close_channels(struct clove_session *s)
{
    for (uint32_t i = 0; i < CLIENT_MAX_DISPLAYS; i++) {
        if (s->displays[i]) {
            channel_close(s->displays[i]->channel);
            s->displays[i]->channel = NULL;
        }
    }
}

struct canvas_surface *display_lookup(void *opaque, uint32_t surface_id)
{
    struct client_display *d = opaque;
    if (surface_id >= CLIENT_MAX_SURFACES || !d->surfaces[surface_id].used) {
        return NULL;
    }
    return &d->surfaces[surface_id].canvas;
}

int display_ready(struct client_channel *ch)
{
    /* SpiceMsgcDisplayInit {u8 pixmap_cache_id; i64 pixmap_cache_size;
     * u8 glz_dictionary_id; i32 glz_dictionary_window_size} (pixels). Every
     * display channel names the same cache and dictionary: they are shared. */
    uint8_t body[14];
    body[0] = 1;
    put_u32le(body + 1, CLIENT_CACHE_PIXELS);
    put_u32le(body + 5, 0);
    body[9] = 1;
    put_u32le(body + 10, CLIENT_GLZ_WINDOW_PIXELS);
    channel_send(ch, SPICE_MSGC_DISPLAY_INIT, body, sizeof(body));
    return 0;
}

/* Reports the part of `box` inside primary surface 0 to the area callbacks. */
static void report_area(struct client_display *d, uint32_t surface_id, struct wire_rect box)
{
    struct clove_session *s = d->session;
    const struct client_surface *p = &d->surfaces[0];
    if (surface_id != 0 || !p->used || (!s->area_fn && !s->surface_area_fn)) {
        return;
    }
    int32_t left = box.left < 0 ? 0 : box.left, top = box.top < 0 ? 0 : box.top;
    int32_t right = box.right > (int32_t)p->width ? (int32_t)p->width : box.right;
    int32_t bottom = box.bottom > (int32_t)p->height ? (int32_t)p->height : box.bottom;
    if (right <= left || bottom <= top) {
        return;
    }
    if (s->area_fn && d->id == 0) {
        s->area_fn(s, left, top, right - left, bottom - top, s->area_opaque);
    }
    if (s->surface_area_fn) {
        s->surface_area_fn(s, d->id, 0, left, top, right - left, bottom - top,
                           s->surface_area_opaque);
    }
}

static int surface_create(struct client_display *d, const struct server_surface_create *c)
{
    struct clove_session *s = d->session;
    if (c->surface_id >= CLIENT_MAX_SURFACES) {
        return session_fail(s, CLOVE_E_RANGE, "display %u: surface id %u out of range", d->id,
                            c->surface_id);
    }
    unsigned bpp = canvas_format_bpp(c->format);
    if (bpp == 0) {
        return session_fail(s, CLOVE_E_UNSUPPORTED, "display %u: surface format %u not supported",
                            d->id, c->format);
    }
    struct client_surface *surface = &d->surfaces[c->surface_id];
    surface_destroy(surface);
    size_t stride = ((size_t)c->width * bpp + 3) & ~(size_t)3;
    surface->pixels = surface_pixels_alloc(s, surface, (size_t)c->height * stride);
    if (c->surface_id == 0) {
        prefault_release(s->prefault); /* a primary too small to have taken it */
    }
    if (!surface->pixels) {
        return session_fail(s, CLOVE_E_NOMEM, "display %u: no memory for a %ux%u surface", d->id,
                            c->width, c->height);
    }
    if (canvas_surface_init(&surface->canvas, surface->pixels, (int32_t)stride, c->width, c->height,
                            c->format) < 0) {
        surface_pixels_free(surface);
        return session_fail(s, CLOVE_E_UNSUPPORTED, "display %u: surface format %u not supported",
                            d->id, c->format);
    }
    surface->used = true;
    surface->width = c->width;
    surface->height = c->height;
    surface->format = c->format;
    surface->stride = (int32_t)stride;
    log_debug("display %u: surface %u created, %ux%u format %u", d->id, c->surface_id, c->width,
              c->height, c->format);
    if (c->surface_id == 0) {
        if (d->id == 0) {
            session_event(s, CLOVE_EVENT_PRIMARY);
        }
        report_area(d, 0, (struct wire_rect){0, 0, (int32_t)c->height, (int32_t)c->width});
    }
    return 0;
}

/* ---- draws: wire -> qxl_drawable ---- */

static struct qxl_rect to_qxl_rect(struct wire_rect r)
{
    return (struct qxl_rect){.top = r.top, .left = r.left, .bottom = r.bottom, .right = r.right};
}

static struct qxl_point to_qxl_point(struct wire_point p)
{
    return (struct qxl_point){.x = p.x, .y = p.y};
}

/* Coordinates beyond this are refused: the canvas computes widths in int. */
#define DRAW_MAX_COORD (1 << 20)

static bool coord_sane(int32_t v)
{
    return v >= -DRAW_MAX_COORD && v <= DRAW_MAX_COORD;
}

static bool rect_sane(struct wire_rect r)
{
    return coord_sane(r.left) && coord_sane(r.right) && coord_sane(r.top) && coord_sane(r.bottom);
}

static bool point_sane(struct wire_point p)
{
    return coord_sane(p.x) && coord_sane(p.y);
}

/* pixman's operators: 0x00-0x0d, 0x10-0x1b, 0x20-0x2b, 0x30-0x3e; other
 * values have no implementation (a NULL function inside pixman). */
static bool composite_op_valid(uint32_t op)
{
    return op <= 0x0d || (op >= 0x10 && op <= 0x1b) || (op >= 0x20 && op <= 0x2b) ||
           (op >= 0x30 && op <= 0x3e);
}

static uint8_t qxl_type_of(uint16_t msg_type)
{
    switch (msg_type) {
    case SPICE_MSG_DISPLAY_DRAW_FILL:
        return QXL_DRAW_FILL;
    case SPICE_MSG_DISPLAY_DRAW_OPAQUE:
        return QXL_DRAW_OPAQUE;
    case SPICE_MSG_DISPLAY_DRAW_COPY:
        return QXL_DRAW_COPY;
    case SPICE_MSG_DISPLAY_DRAW_BLEND:
        return QXL_DRAW_BLEND;
    case SPICE_MSG_DISPLAY_DRAW_BLACKNESS:
        return QXL_DRAW_BLACKNESS;
    case SPICE_MSG_DISPLAY_DRAW_WHITENESS:
        return QXL_DRAW_WHITENESS;
    case SPICE_MSG_DISPLAY_DRAW_INVERS:
        return QXL_DRAW_INVERS;
    case SPICE_MSG_DISPLAY_DRAW_ROP3:
        return QXL_DRAW_ROP3;
    case SPICE_MSG_DISPLAY_DRAW_STROKE:
        return QXL_DRAW_STROKE;
    case SPICE_MSG_DISPLAY_DRAW_TEXT:
        return QXL_DRAW_TEXT;
    case SPICE_MSG_DISPLAY_DRAW_TRANSPARENT:
        return QXL_DRAW_TRANSPARENT;
    case SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND:
        return QXL_DRAW_ALPHA_BLEND;
    case SPICE_MSG_DISPLAY_DRAW_COMPOSITE:
        return QXL_DRAW_COMPOSITE;
    case SPICE_MSG_DISPLAY_COPY_BITS:
        return QXL_COPY_BITS;
    default:
        return QXL_DRAW_NOP;
    }
}

/* The source area of the ops that have one, or NULL. */
static const struct wire_rect *src_area_of(const struct server_draw *d)
{
    switch (d->type) {
    case SPICE_MSG_DISPLAY_DRAW_COPY:
    case SPICE_MSG_DISPLAY_DRAW_BLEND:
        return &d->u.copy.src_area;
    case SPICE_MSG_DISPLAY_DRAW_OPAQUE:
        return &d->u.opaque.src_area;
    case SPICE_MSG_DISPLAY_DRAW_ROP3:
        return &d->u.rop3.src_area;
    case SPICE_MSG_DISPLAY_DRAW_TRANSPARENT:
        return &d->u.transparent.src_area;
    case SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND:
        return &d->u.alpha_blend.src_area;
    case SPICE_MSG_DISPLAY_DRAW_TEXT:
        return &d->u.text.back_area;
    default:
        return NULL;
    }
}

/*
 * Checks what the canvas trusts its caller with: coordinates small enough
 * for int arithmetic (boxes, clips, source areas, brush and mask
 * positions, glyph positions, path points in 28.4), and composite
 * operators and filters pixman implements (filter numbers up to BILINEAR:
 * a convolution needs parameters the wire does not carry). Returns NULL or
 * the reason.
 */
static const char *draw_insane(const struct server_draw *d)
{
    if (!rect_sane(d->box)) {
        return "box coordinates out of range";
    }
    for (uint32_t i = 0; i < d->num_clip_rects; i++) {
        if (!rect_sane(server_draw_clip_rect(d, i))) {
            return "clip coordinates out of range";
        }
    }
    const struct wire_rect *area = src_area_of(d);
    if (area && !rect_sane(*area)) {
        return "source area out of range";
    }
    if (!point_sane(d->mask.pos)) {
        return "mask position out of range";
    }
    const struct server_brush *brushes[2] = {NULL, NULL};
    switch (d->type) {
    case SPICE_MSG_DISPLAY_DRAW_FILL:
        brushes[0] = &d->u.fill.brush;
        break;
    case SPICE_MSG_DISPLAY_DRAW_OPAQUE:
        brushes[0] = &d->u.opaque.brush;
        break;
    case SPICE_MSG_DISPLAY_DRAW_ROP3:
        brushes[0] = &d->u.rop3.brush;
        break;
    case SPICE_MSG_DISPLAY_DRAW_STROKE:
        brushes[0] = &d->u.stroke.brush;
        break;
    case SPICE_MSG_DISPLAY_DRAW_TEXT:
        brushes[0] = &d->u.text.fore_brush;
        brushes[1] = &d->u.text.back_brush;
        break;
    case SPICE_MSG_DISPLAY_COPY_BITS:
        if (!point_sane(d->u.copy_bits.src_pos)) {
            return "copy-bits source out of range";
        }
        break;
    case SPICE_MSG_DISPLAY_DRAW_COMPOSITE: {
        uint32_t flags = d->u.composite.flags;
        if (!composite_op_valid(flags & 0xff)) {
            return "unknown composite operator";
        }
        if (((flags >> 8) & 7) > PIXMAN_FILTER_BILINEAR ||
            ((flags >> 11) & 7) > PIXMAN_FILTER_BILINEAR) {
            return "unknown composite filter";
        }
        break;
    }
    default:
        break;
    }
    for (int i = 0; i < 2; i++) {
        if (brushes[i] && brushes[i]->type == SPICE_BRUSH_TYPE_PATTERN &&
            !point_sane(brushes[i]->pos)) {
            return "pattern position out of range";
        }
    }
    return NULL;
}

/*
 * The images of one draw are decoded in the order of their pointer fields
 * on the wire (source, brush patterns, mask), the order the server encoded
 * them in, and all of them even when one names a palette we lack: every
 * GLZ image must reach the shared GLZ window, or later images that refer
 * to it could not be decoded.
 */
struct convert {
    struct client_display *disp;
    bool palette_missing; /* an image was left NULL: its palette is not cached */
};

/* Converts one decoded image, or leaves *out NULL when has is false. */
static int convert_image(struct convert *c, bool has, const struct server_image *src,
                         struct qxl_image **out, const char **err)
{
    *out = NULL;
    if (!has) {
        return 0;
    }
    int rc = image_decode_new(c->disp, src, out, err);
    if (rc == IMAGE_E_PALETTE_MISSING) {
        c->palette_missing = true;
        return 0;
    }
    return rc;
}

static int convert_brush(struct convert *c, const struct server_brush *b, struct qxl_brush *out,
                         const char **err)
{
    out->type = b->type;
    out->color = b->color;
    if (b->type != SPICE_BRUSH_TYPE_PATTERN) {
        return 0;
    }
    out->pattern_pos = to_qxl_point(b->pos);
    return convert_image(c, true, &b->pattern, &out->pattern, err);
}

/* Copies a parsed path (segments back to back, see server_parse.h). */
static int convert_path(const struct server_path *p, struct qxl_path *out, const char **err)
{
    out->segments = calloc(p->num_segments ? p->num_segments : 1, sizeof(*out->segments));
    out->points = calloc(p->num_points ? p->num_points : 1, sizeof(*out->points));
    if (!out->segments || !out->points) {
        *err = "no memory for a path";
        return CLOVE_E_NOMEM;
    }
    struct byte_reader r;
    reader_init(&r, p->segments, p->size);
    uint32_t used = 0;
    for (uint32_t i = 0; i < p->num_segments; i++) {
        struct qxl_path_seg *seg = &out->segments[i];
        seg->flags = read_u8(&r);
        seg->count = read_u32(&r);
        if (!reader_ok(&r) || seg->count > p->num_points - used) {
            *err = "path changed under the parser";
            return CLOVE_E_INVALID;
        }
        seg->points = &out->points[used];
        for (uint32_t k = 0; k < seg->count; k++) {
            out->points[used + k].x = read_i32(&r);
            out->points[used + k].y = read_i32(&r);
            if (!coord_sane(out->points[used + k].x / 16) ||
                !coord_sane(out->points[used + k].y / 16)) {
                *err = "path point out of range";
                return CLOVE_E_INVALID;
            }
        }
        used += seg->count;
        out->num_segments = i + 1;
    }
    out->num_points = used;
    return reader_ok(&r) ? 0 : CLOVE_E_INVALID;
}

static int convert_line_attr(const struct server_line_attr *a, struct qxl_line_attr *out,
                             const char **err)
{
    out->flags = a->flags;
    if (!a->style || a->style_nseg == 0) {
        return 0;
    }
    out->style = malloc((size_t)a->style_nseg * sizeof(uint32_t));
    if (!out->style) {
        *err = "no memory for a line style";
        return CLOVE_E_NOMEM;
    }
    for (uint8_t i = 0; i < a->style_nseg; i++) {
        out->style[i] = get_u32le(a->style + 4 * (size_t)i);
    }
    out->style_nseg = a->style_nseg;
    return 0;
}

/* Copies a parsed glyph string: glyph records, then one buffer of bitmaps. */
static int convert_string(const struct server_string *str, struct qxl_glyph_string *out,
                          const char **err)
{
    out->flags = str->flags;
    out->glyphs = calloc(str->length ? str->length : 1, sizeof(*out->glyphs));
    /* The bitmaps are at most the string's own size. */
    out->data = malloc(str->size ? str->size : 1);
    if (!out->glyphs || !out->data) {
        *err = "no memory for a glyph string";
        return CLOVE_E_NOMEM;
    }
    struct byte_reader r;
    reader_init(&r, str->glyphs, str->size);
    size_t used = 0;
    for (uint16_t i = 0; i < str->length; i++) {
        struct qxl_glyph *g = &out->glyphs[i];
        struct wire_point render = {read_i32(&r), 0};
        render.y = read_i32(&r);
        struct wire_point origin = {read_i32(&r), 0};
        origin.y = read_i32(&r);
        g->width = read_u16(&r);
        g->height = read_u16(&r);
        uint64_t size = server_glyph_size(str->flags, g->width, g->height);
        const uint8_t *bits = read_bytes(&r, (size_t)size);
        if (!reader_ok(&r) || size > str->size - used) {
            *err = "glyph string changed under the parser";
            return CLOVE_E_INVALID;
        }
        if (!point_sane(render) || !point_sane(origin)) {
            *err = "glyph position out of range";
            return CLOVE_E_INVALID;
        }
        g->render_pos = to_qxl_point(render);
        g->glyph_origin = to_qxl_point(origin);
        memcpy(out->data + used, bits, (size_t)size);
        g->data = out->data + used;
        used += (size_t)size;
        out->length = (uint16_t)(i + 1);
    }
    return 0;
}

/* The per-op part of convert_draw(). */
static int convert_op(struct convert *c, const struct server_draw *d, struct qxl_drawable *q,
                      const char **err)
{
    int rc;
    switch (d->type) {
    case SPICE_MSG_DISPLAY_DRAW_FILL:
        q->u.fill.rop_descriptor = d->u.fill.rop_descriptor;
        return convert_brush(c, &d->u.fill.brush, &q->u.fill.brush, err);
    case SPICE_MSG_DISPLAY_DRAW_COPY:
    case SPICE_MSG_DISPLAY_DRAW_BLEND:
        q->u.copy.src_area = to_qxl_rect(d->u.copy.src_area);
        q->u.copy.rop_descriptor = d->u.copy.rop_descriptor;
        q->u.copy.scale_mode = d->u.copy.scale_mode;
        return convert_image(c, d->u.copy.has_src, &d->u.copy.src, &q->u.copy.src, err);
    case SPICE_MSG_DISPLAY_DRAW_OPAQUE:
        q->u.opaque.src_area = to_qxl_rect(d->u.opaque.src_area);
        q->u.opaque.rop_descriptor = d->u.opaque.rop_descriptor;
        q->u.opaque.scale_mode = d->u.opaque.scale_mode;
        rc = convert_image(c, d->u.opaque.has_src, &d->u.opaque.src, &q->u.opaque.src, err);
        return rc < 0 ? rc : convert_brush(c, &d->u.opaque.brush, &q->u.opaque.brush, err);
    case SPICE_MSG_DISPLAY_DRAW_ROP3:
        q->u.rop3.src_area = to_qxl_rect(d->u.rop3.src_area);
        q->u.rop3.rop3 = d->u.rop3.rop3;
        q->u.rop3.scale_mode = d->u.rop3.scale_mode;
        rc = convert_image(c, d->u.rop3.has_src, &d->u.rop3.src, &q->u.rop3.src, err);
        return rc < 0 ? rc : convert_brush(c, &d->u.rop3.brush, &q->u.rop3.brush, err);
    case SPICE_MSG_DISPLAY_DRAW_TRANSPARENT:
        q->u.transparent.src_area = to_qxl_rect(d->u.transparent.src_area);
        q->u.transparent.src_color = d->u.transparent.src_color;
        q->u.transparent.true_color = d->u.transparent.true_color;
        return convert_image(c, d->u.transparent.has_src, &d->u.transparent.src,
                             &q->u.transparent.src, err);
    case SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND:
        q->u.alpha_blend.alpha_flags = d->u.alpha_blend.alpha_flags;
        q->u.alpha_blend.alpha = d->u.alpha_blend.alpha;
        q->u.alpha_blend.src_area = to_qxl_rect(d->u.alpha_blend.src_area);
        return convert_image(c, d->u.alpha_blend.has_src, &d->u.alpha_blend.src,
                             &q->u.alpha_blend.src, err);
    case SPICE_MSG_DISPLAY_DRAW_STROKE:
        q->u.stroke.fore_mode = d->u.stroke.fore_mode;
        q->u.stroke.back_mode = d->u.stroke.back_mode;
        rc = convert_path(&d->u.stroke.path, &q->u.stroke.path, err);
        if (rc == 0) {
            rc = convert_line_attr(&d->u.stroke.attr, &q->u.stroke.attr, err);
        }
        return rc < 0 ? rc : convert_brush(c, &d->u.stroke.brush, &q->u.stroke.brush, err);
    case SPICE_MSG_DISPLAY_DRAW_TEXT:
        q->u.text.back_area = to_qxl_rect(d->u.text.back_area);
        q->u.text.fore_mode = d->u.text.fore_mode;
        q->u.text.back_mode = d->u.text.back_mode;
        rc = convert_string(&d->u.text.str, &q->u.text.str, err);
        if (rc == 0) {
            rc = convert_brush(c, &d->u.text.fore_brush, &q->u.text.fore_brush, err);
        }
        return rc < 0 ? rc : convert_brush(c, &d->u.text.back_brush, &q->u.text.back_brush, err);
    case SPICE_MSG_DISPLAY_DRAW_BLACKNESS:
    case SPICE_MSG_DISPLAY_DRAW_WHITENESS:
    case SPICE_MSG_DISPLAY_DRAW_INVERS:
        return 0; /* the mask is all they have */
    case SPICE_MSG_DISPLAY_COPY_BITS:
        q->u.copy_bits.src_pos = to_qxl_point(d->u.copy_bits.src_pos);
        return 0;
    case SPICE_MSG_DISPLAY_DRAW_COMPOSITE:
        q->u.composite.flags = d->u.composite.flags;
        q->u.composite.has_src_transform = d->u.composite.has_src_transform;
        q->u.composite.has_mask_transform = d->u.composite.has_mask_transform;
        memcpy(q->u.composite.src_transform, d->u.composite.src_transform,
               sizeof(q->u.composite.src_transform));
        memcpy(q->u.composite.mask_transform, d->u.composite.mask_transform,
               sizeof(q->u.composite.mask_transform));
        q->u.composite.src_origin_x = d->u.composite.src_origin_x;
        q->u.composite.src_origin_y = d->u.composite.src_origin_y;
        q->u.composite.mask_origin_x = d->u.composite.mask_origin_x;
        q->u.composite.mask_origin_y = d->u.composite.mask_origin_y;
        rc = convert_image(c, true, &d->u.composite.src, &q->u.composite.src, err);
        return rc < 0 ? rc
                      : convert_image(c, d->u.composite.has_mask, &d->u.composite.mask,
                                      &q->u.composite.mask, err);
    default:
        *err = "not a draw message";
        return CLOVE_E_UNSUPPORTED;
    }
}

/*
 * Fills *q from a parsed draw: everything copied or decoded into memory *q
 * owns (qxl_drawable_finish() frees it, also after a failure half-way).
 * Returns 0, IMAGE_E_PALETTE_MISSING (every image decoded but one named a
 * palette we lack), or < 0 with *err set.
 */
static int convert_draw(struct client_display *disp, const struct server_draw *d,
                        struct qxl_drawable *q, const char **err)
{
    q->surface_id = d->surface_id;
    q->type = qxl_type_of(d->type);
    q->bbox = to_qxl_rect(d->box);
    q->clip_type = d->clip_type;
    for (int i = 0; i < 3; i++) {
        q->surfaces_dest[i] = -1;
    }
    if (d->clip_type == SPICE_CLIP_TYPE_RECTS && d->num_clip_rects > 0) {
        q->clip_rects = malloc((size_t)d->num_clip_rects * sizeof(*q->clip_rects));
        if (!q->clip_rects) {
            *err = "no memory for clip rects";
            return CLOVE_E_NOMEM;
        }
        for (uint32_t i = 0; i < d->num_clip_rects; i++) {
            q->clip_rects[i] = to_qxl_rect(server_draw_clip_rect(d, i));
        }
        q->num_clip_rects = d->num_clip_rects;
    }
    struct convert c = {.disp = disp};
    int rc = convert_op(&c, d, q, err);
    if (rc < 0) {
        return rc;
    }
    q->mask.flags = d->mask.flags;
    q->mask.pos = to_qxl_point(d->mask.pos);
    rc = convert_image(&c, d->mask.has_bitmap, &d->mask.bitmap, &q->mask.bitmap, err);
    if (rc < 0) {
        return rc;
    }
    if (c.palette_missing) {
        *err = "an image's palette is not in the palette cache";
        return IMAGE_E_PALETTE_MISSING;
    }
    return 0;
}

/* Whether an op that needs a source image came without one (nothing to draw). */
static bool missing_source(const struct qxl_drawable *q)
{
    switch (q->type) {
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND:
        return !q->u.copy.src;
    case QXL_DRAW_OPAQUE:
        return !q->u.opaque.src;
    case QXL_DRAW_TRANSPARENT:
        return !q->u.transparent.src;
    case QXL_DRAW_ALPHA_BLEND:
        return !q->u.alpha_blend.src;
    default:
        return false;
    }
}

/*
 * The surface a draw covers whole with a plain put of an image of its own
 * size: a DRAW_COPY onto an xRGB surface with box and source area both the
 * whole surface, no clip, no mask, ROP put and no image flags (a cached or
 * HIGH_BITS_SET image needs the canvas). Such a draw writes the image's
 * 32-bit pixels unchanged, so they may as well be received or decoded
 * there. NULL otherwise.
 */
static struct client_surface *put_target(struct client_display *d, const struct server_draw_raw *r)
{
    if (!r->is_copy || r->surface_id >= CLIENT_MAX_SURFACES) {
        return NULL;
    }
    struct client_surface *sf = &d->surfaces[r->surface_id];
    if (!sf->used || sf->format != SPICE_SURFACE_FMT_32_xRGB) {
        return NULL;
    }
    struct wire_rect all = {0, 0, (int32_t)sf->height, (int32_t)sf->width};
    if (memcmp(&r->box, &all, sizeof(all)) != 0 || memcmp(&r->src_area, &all, sizeof(all)) != 0 ||
        r->clip_type != SPICE_CLIP_TYPE_NONE || r->has_mask ||
        r->rop_descriptor != SPICE_ROPD_OP_PUT || r->image_flags != 0 || r->width != sf->width ||
        r->height != sf->height) {
        return NULL;
    }
    return sf;
}

/* For a raw bitmap source: also a top-down 32-bit bitmap with the
 * surface's stride. Returns the surface's pixels and *len, or NULL. */
static uint8_t *raw_target(struct client_display *d, const struct server_draw_raw *r, size_t *len)
{
    const struct client_surface *sf = put_target(d, r);
    if (!sf || r->bitmap_format != SPICE_BITMAP_FMT_32BIT ||
        r->bitmap_flags != SPICE_BITMAP_FLAGS_TOP_DOWN || r->stride != (uint32_t)sf->stride) {
        return NULL;
    }
    *len = (size_t)sf->height * (size_t)sf->stride;
    return sf->pixels;
}

uint8_t *display_raw_target(struct client_channel *ch, const struct server_draw_raw *raw,
                            size_t *len)
{
    struct client_display *d = display_get(ch->session, ch->id);
    return d ? raw_target(d, raw, len) : NULL;
}

/* What a whole parsed DRAW_COPY says, as server_parse_draw_raw() gives it
 * from the message's start (bitmap fields: a BITMAP source's; else 0). */
static struct server_draw_raw raw_of_draw(const struct server_draw *d)
{
    if (d->type != SPICE_MSG_DISPLAY_DRAW_COPY || !d->u.copy.has_src) {
        return (struct server_draw_raw){.type = d->type};
    }
    const struct server_image *src = &d->u.copy.src;
    bool bitmap = src->type == SPICE_IMAGE_TYPE_BITMAP;
    return (struct server_draw_raw){
            .type = d->type,
            .surface_id = d->surface_id,
            .box = d->box,
            .clip_type = d->clip_type,
            .is_copy = true,
            .src_area = d->u.copy.src_area,
            .rop_descriptor = d->u.copy.rop_descriptor,
            .has_mask = d->mask.has_bitmap,
            .image_flags = src->flags,
            .width = src->width,
            .height = src->height,
            .bitmap_format = bitmap ? src->bitmap.format : 0,
            .bitmap_flags = bitmap ? src->bitmap.flags : 0,
            .stride = bitmap ? src->bitmap.stride : 0,
    };
}

/* A parsed draw whose pixels channel.c received into the surface: checks
 * that the whole message still says so. Returns 0 or < 0. */
static int draw_received_in_place(struct client_display *disp, const struct server_draw *d)
{
    struct server_draw_raw raw = raw_of_draw(d);
    size_t len = 0;
    if (!raw_target(disp, &raw, &len)) { /* also refuses a source that is not a BITMAP */
        /* The prefix said otherwise: the parsers disagree, a bug of ours. */
        return session_fail(disp->session, CLOVE_E_INVALID,
                            "display %u: draw %u received into a surface it does not cover",
                            disp->id, d->type);
    }
    report_area(disp, d->surface_id, d->box);
    return 0;
}

/*
 * A compressed image put over a whole surface (put_target) is decoded
 * straight into the surface: no image-sized buffer of fresh pages (768
 * page faults for 1024x768, ~2 ms) and no copy by the canvas. Returns 0
 * (drawn), IMAGE_E_NOT_DIRECT (draw it the usual way) or another error.
 */
static int draw_decoded_in_place(struct client_display *disp, const struct server_draw *d,
                                 const char **err)
{
    struct server_draw_raw raw = raw_of_draw(d);
    struct client_surface *sf = put_target(disp, &raw);
    if (!sf || d->u.copy.src.type == SPICE_IMAGE_TYPE_BITMAP) {
        return IMAGE_E_NOT_DIRECT;
    }
    int rc = image_decode_into(disp, &d->u.copy.src, sf->pixels, sf->stride, err);
    if (rc == 0) {
        log_debug("display %u: image type %u decoded straight into surface %u", disp->id,
                  d->u.copy.src.type, d->surface_id);
    }
    return rc;
}

/* Applies a parsed draw message. Returns 0 (drawn or skipped) or < 0. */
static int draw(struct client_display *disp, const struct server_draw *d, bool in_place)
{
    struct clove_session *s = disp->session;
    struct canvas_surface *dst = display_lookup(disp, d->surface_id);
    if (!dst) {
        return session_fail(s, CLOVE_E_INVALID, "display %u: draw %u on unknown surface %u",
                            disp->id, d->type, d->surface_id);
    }
    if (in_place) {
        return draw_received_in_place(disp, d);
    }
    const char *insane = draw_insane(d);
    if (insane) {
        return session_fail(s, CLOVE_E_INVALID, "display %u: draw %u: %s", disp->id, d->type,
                            insane);
    }
    const char *err = NULL;
    uint8_t qxl_type = qxl_type_of(d->type);
    int rc = draw_decoded_in_place(disp, d, &err);
    if (rc == IMAGE_E_NOT_DIRECT) {
        struct qxl_drawable q = {0};
        err = NULL;
        rc = convert_draw(disp, d, &q, &err);
        if (rc == 0 && missing_source(&q)) {
            log_ratelimited(LOG_LEVEL_DEBUG, "display %u: draw %u without a source, skipped",
                            disp->id, d->type);
        } else if (rc == 0) {
            rc = canvas_draw(dst, &q, display_lookup, disp);
            if (rc == CLOVE_E_INVALID) {
                /* Well-formed on the wire, but not drawable (a source area
                 * outside its image, a mask of the wrong format...): like
                 * spice-gtk's canvas, skip that draw and keep the channel. */
                log_ratelimited(LOG_LEVEL_WARN,
                                "display %u: draw %u skipped: the canvas refused its geometry or "
                                "data",
                                disp->id, d->type);
                rc = 0;
            }
        }
        qxl_type = q.type;
        qxl_drawable_finish(&q);
    }
    if (rc == IMAGE_E_PALETTE_MISSING) {
        log_ratelimited(LOG_LEVEL_WARN, "display %u: draw %u skipped: %s", disp->id, d->type,
                        err ? err : "palette missing");
        return 0;
    }
    if (rc == CLOVE_E_UNSUPPORTED) {
        uint32_t bit = 1u << (qxl_type & 31);
        if (!(disp->unsupported_logged & bit)) {
            disp->unsupported_logged |= bit;
            log_warn("display %u: draw message %u not drawn (%s); such draws are skipped", disp->id,
                     d->type, err ? err : "not supported by the canvas yet");
        }
        return 0;
    }
    if (rc < 0) {
        return session_fail(s, rc, "display %u: draw %u failed: %s", disp->id, d->type,
                            err ? err : clove_strerror(rc));
    }
    report_area(disp, d->surface_id, d->box);
    return 0;
}

/* ---- video streams: tracked, not decoded ---- */

static bool stream_live(const struct client_display *d, uint32_t id)
{
    return (d->streams[id / 64] >> (id % 64)) & 1;
}

static void stream_message(struct client_display *d, const struct server_stream *st)
{
    switch (st->type) {
    case SPICE_MSG_DISPLAY_STREAM_CREATE:
        d->streams[st->id / 64] |= (uint64_t)1 << (st->id % 64);
        if (!d->streams_logged) {
            d->streams_logged = true;
            log_warn("display %u: video streams are not supported yet; stream %u (codec %u, "
                     "%ux%u) is skipped and the area it covers is not updated",
                     d->id, st->id, st->codec_type, st->width, st->height);
        }
        break;
    case SPICE_MSG_DISPLAY_STREAM_DATA:
    case SPICE_MSG_DISPLAY_STREAM_DATA_SIZED:
        if (!stream_live(d, st->id)) {
            log_ratelimited(LOG_LEVEL_DEBUG, "display %u: data for unknown stream %u ignored",
                            d->id, st->id);
        }
        break;
    case SPICE_MSG_DISPLAY_STREAM_DESTROY:
        d->streams[st->id / 64] &= ~((uint64_t)1 << (st->id % 64));
        break;
    case SPICE_MSG_DISPLAY_STREAM_DESTROY_ALL:
        memset(d->streams, 0, sizeof(d->streams));
        break;
    default:
        /* CLIP changes nothing we draw; ACTIVATE_REPORT asks for reports we
         * never send (we do not advertise STREAM_REPORT). */
        break;
    }
}

/* ---- messages ---- */

static int monitors_config(struct client_display *d, const uint8_t *body, size_t len,
                           const char **err)
{
    struct wire_head heads[SERVER_PARSE_MAX_HEADS];
    uint16_t count = 0, max_allowed = 0;
    int rc = server_parse_monitors_config(body, len, heads, SERVER_PARSE_MAX_HEADS, &count,
                                          &max_allowed, err);
    if (rc < 0) {
        return rc;
    }
    /* Like spice-gtk, never keep more heads than the guest allows. */
    if (max_allowed > 0 && count > max_allowed) {
        count = max_allowed;
    }
    memcpy(d->heads, heads, (size_t)count * sizeof(heads[0]));
    d->num_heads = count;
    d->max_heads = max_allowed;
    d->has_monitors = true;
    for (uint16_t i = 0; i < count; i++) {
        log_debug("display %u: monitor %u on surface %u: %ux%u+%u+%u", d->id, heads[i].id,
                  heads[i].surface_id, heads[i].width, heads[i].height, heads[i].x, heads[i].y);
    }
    struct clove_session *s = d->session;
    if (s->monitors_fn) {
        s->monitors_fn(s, d->id, s->monitors_opaque);
    }
    return 0;
}

static int inval_list(struct client_display *d, const uint8_t *body, size_t len, const char **err)
{
    uint16_t count;
    const uint8_t *resources;
    int rc = server_parse_inval_list(body, len, &count, &resources, err);
    for (uint16_t i = 0; rc >= 0 && i < count; i++) {
        uint8_t type;
        uint64_t id;
        server_inval_list_item(resources, i, &type, &id);
        if (type == SPICE_RES_TYPE_PIXMAP) {
            image_cache_remove(d->session, id);
        }
    }
    return rc;
}

int display_message(struct client_channel *ch, uint16_t type, const uint8_t *body, size_t len)
{
    struct clove_session *s = ch->session;
    struct client_display *d = display_get(s, ch->id);
    if (!d) {
        return session_fail(s, CLOVE_E_NOMEM, "display %u: no memory", ch->id);
    }
    const char *err = NULL;
    int rc = 0;
    switch (type) {
    case SPICE_MSG_DISPLAY_SURFACE_CREATE: {
        struct server_surface_create c;
        rc = server_parse_surface_create(body, len, &c, &err);
        if (rc >= 0) {
            return surface_create(d, &c);
        }
        break;
    }
    case SPICE_MSG_DISPLAY_SURFACE_DESTROY: {
        uint32_t id;
        rc = server_parse_surface_destroy(body, len, &id, &err);
        if (rc >= 0 && id < CLIENT_MAX_SURFACES) {
            surface_destroy(&d->surfaces[id]);
        }
        break;
    }
    case SPICE_MSG_DISPLAY_MONITORS_CONFIG:
        rc = monitors_config(d, body, len, &err);
        break;
    case SPICE_MSG_DISPLAY_MARK:
        s->marks++;
        log_debug("display %u: mark %u", d->id, s->marks);
        if (s->mark_fn) {
            s->mark_fn(s, s->mark_opaque);
        }
        return 0;
    case SPICE_MSG_DISPLAY_RESET:
        log_debug("display %u: reset", d->id);
        return 0;
    case SPICE_MSG_DISPLAY_INVAL_LIST:
        rc = inval_list(d, body, len, &err);
        break;
    case SPICE_MSG_DISPLAY_INVAL_ALL_PIXMAPS:
        image_cache_clear(s);
        glz_window_clear(s->glz);
        return 0;
    case SPICE_MSG_DISPLAY_INVAL_PALETTE: {
        uint64_t id;
        rc = server_parse_inval_one(body, len, &id, &err);
        if (rc >= 0) {
            palette_cache_remove(d, id);
        }
        break;
    }
    case SPICE_MSG_DISPLAY_INVAL_ALL_PALETTES:
        palette_cache_clear(d);
        return 0;
    case SPICE_MSG_DISPLAY_STREAM_CREATE:
    case SPICE_MSG_DISPLAY_STREAM_DATA:
    case SPICE_MSG_DISPLAY_STREAM_DATA_SIZED:
    case SPICE_MSG_DISPLAY_STREAM_CLIP:
    case SPICE_MSG_DISPLAY_STREAM_DESTROY:
    case SPICE_MSG_DISPLAY_STREAM_DESTROY_ALL:
    case SPICE_MSG_DISPLAY_STREAM_ACTIVATE_REPORT: {
        struct server_stream st;
        rc = server_parse_stream(type, body, len, &st, &err);
        if (rc >= 0) {
            stream_message(d, &st);
        }
        break;
    }
    case SPICE_MSG_DISPLAY_DRAW_FILL:
    case SPICE_MSG_DISPLAY_DRAW_OPAQUE:
    case SPICE_MSG_DISPLAY_DRAW_COPY:
    case SPICE_MSG_DISPLAY_DRAW_BLEND:
    case SPICE_MSG_DISPLAY_DRAW_BLACKNESS:
    case SPICE_MSG_DISPLAY_DRAW_WHITENESS:
    case SPICE_MSG_DISPLAY_DRAW_INVERS:
    case SPICE_MSG_DISPLAY_DRAW_ROP3:
    case SPICE_MSG_DISPLAY_DRAW_STROKE:
    case SPICE_MSG_DISPLAY_DRAW_TEXT:
    case SPICE_MSG_DISPLAY_DRAW_TRANSPARENT:
    case SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND:
    case SPICE_MSG_DISPLAY_COPY_BITS:
    case SPICE_MSG_DISPLAY_DRAW_COMPOSITE: {
        struct server_draw dr;
        rc = server_parse_draw(type, body, len, &dr, &err);
        if (rc >= 0) {
            return draw(d, &dr, ch->sink != NULL);
        }
        if (rc == CLOVE_E_UNSUPPORTED) {
            /* An image type we do not know: that draw only. */
            log_ratelimited(LOG_LEVEL_WARN, "display %u: message %u skipped: %s", d->id, type, err);
            return 0;
        }
        break;
    }
    default:
        log_ratelimited(LOG_LEVEL_DEBUG, "display %u: message %u unsupported, skipped", d->id,
                        type);
        return 0;
    }
    if (rc < 0) {
        return session_fail(s, rc, "display %u: bad message %u: %s", d->id, type, err ? err : "?");
    }
    return 0;
}
