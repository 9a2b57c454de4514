/*
 * The display channel of a client session: surfaces in host memory and the
 * draw messages applied to them with the server's software canvas
 * (display/canvas.c).
 *
 * DESIGN: each draw message is parsed (proto/server_parse.c, borrowing the
 * body), its images decoded into owned `struct qxl_image` bitmaps
 * (image.c), and the matching canvas_* call made with a lookup over our
 * surfaces for SURFACE sources. Messages we do not draw (streams, masks,
 * pattern brushes, stroke/text/rop3...) get a rate-limited debug line and
 * are skipped: the session keeps running. A malformed message is an error.
 * Every change to the primary surface (surface 0) is reported through the
 * area callback with the draw's box clipped to the surface, so a viewer
 * uploads only what changed.
 */
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/protocol.h>
#include <spice/qxl_dev.h>

#include "client/client_priv.h"
#include "common/error.h"
#include "common/log.h"

int display_init(struct clove_session *s)
{
    s->surfaces = calloc(CLIENT_MAX_SURFACES, sizeof(*s->surfaces));
    if (!s->surfaces) {
        return CLOVE_E_NOMEM;
    }
    s->glz = glz_window_create(CLIENT_GLZ_WINDOW_PIXELS);
    if (!s->glz) {
        free(s->surfaces);
        s->surfaces = NULL;
        return CLOVE_E_NOMEM;
    }
    return 0;
}

static void surface_destroy(struct client_surface *surface)
{
    if (!surface->used) {
        return;
    }
    canvas_surface_finish(&surface->canvas);
    free(surface->pixels);
    memset(surface, 0, sizeof(*surface));
}

void display_finish(struct clove_session *s)
{
    for (uint32_t i = 0; s->surfaces && i < CLIENT_MAX_SURFACES; i++) {
        surface_destroy(&s->surfaces[i]);
    }
    free(s->surfaces);
    s->surfaces = NULL;
    glz_window_destroy(s->glz);
    s->glz = NULL;
    image_cache_clear(s);
}

struct canvas_surface *display_lookup(void *opaque, uint32_t surface_id)
{
    struct clove_session *s = opaque;
    if (surface_id >= CLIENT_MAX_SURFACES || !s->surfaces[surface_id].used) {
        return NULL;
    }
    return &s->surfaces[surface_id].canvas;
}

int display_ready(struct client_channel *ch)
{
    /* SpiceMsgcDisplayInit {u8 pixmap_cache_id; i64 pixmap_cache_size;
     * u8 glz_dictionary_id; i32 glz_dictionary_window_size} (pixels). */
    uint8_t body[14];
    body[0] = 1;
    put_u32le(body + 1, CLIENT_CACHE_PIXELS);
    put_u32le(body + 5, 0);
    body[9] = 1;
    put_u32le(body + 10, CLIENT_GLZ_WINDOW_PIXELS);
    channel_send(ch, SPICE_MSGC_DISPLAY_INIT, body, sizeof(body));
    return 0;
}

/* Reports the part of `box` inside the primary surface to the area callback. */
static void report_area(struct clove_session *s, uint32_t surface_id, struct wire_rect box)
{
    const struct client_surface *p = &s->surfaces[0];
    if (surface_id != 0 || !s->area_fn || !p->used) {
        return;
    }
    int32_t left = box.left < 0 ? 0 : box.left, top = box.top < 0 ? 0 : box.top;
    int32_t right = box.right > (int32_t)p->width ? (int32_t)p->width : box.right;
    int32_t bottom = box.bottom > (int32_t)p->height ? (int32_t)p->height : box.bottom;
    if (right > left && bottom > top) {
        s->area_fn(s, left, top, right - left, bottom - top, s->area_opaque);
    }
}

static int surface_create(struct clove_session *s, const struct server_surface_create *c)
{
    if (c->surface_id >= CLIENT_MAX_SURFACES) {
        return session_fail(s, CLOVE_E_RANGE, "display: surface id %u out of range", c->surface_id);
    }
    unsigned bpp = canvas_format_bpp(c->format);
    if (bpp == 0) {
        return session_fail(s, CLOVE_E_UNSUPPORTED, "display: surface format %u not supported",
                            c->format);
    }
    struct client_surface *surface = &s->surfaces[c->surface_id];
    surface_destroy(surface);
    size_t stride = ((size_t)c->width * bpp + 3) & ~(size_t)3;
    surface->pixels = calloc(c->height, stride);
    if (!surface->pixels) {
        return session_fail(s, CLOVE_E_NOMEM, "display: no memory for a %ux%u surface", c->width,
                            c->height);
    }
    if (canvas_surface_init(&surface->canvas, surface->pixels, (int32_t)stride, c->width, c->height,
                            c->format) < 0) {
        free(surface->pixels);
        surface->pixels = NULL;
        return session_fail(s, CLOVE_E_UNSUPPORTED, "display: surface format %u not supported",
                            c->format);
    }
    surface->used = true;
    surface->width = c->width;
    surface->height = c->height;
    surface->format = c->format;
    surface->stride = (int32_t)stride;
    log_debug("display: surface %u created, %ux%u format %u", c->surface_id, c->width, c->height,
              c->format);
    if (c->surface_id == 0) {
        session_event(s, CLOVE_EVENT_PRIMARY);
        report_area(s, 0, (struct wire_rect){0, 0, (int32_t)c->height, (int32_t)c->width});
    }
    return 0;
}

static struct qxl_rect to_qxl_rect(struct wire_rect r)
{
    return (struct qxl_rect){.top = r.top, .left = r.left, .bottom = r.bottom, .right = r.right};
}

/* Coordinates beyond this are refused: the canvas computes widths in int. */
#define DRAW_MAX_COORD (1 << 20)

static bool rect_sane(struct wire_rect r)
{
    return r.left >= -DRAW_MAX_COORD && r.left <= DRAW_MAX_COORD && r.right >= -DRAW_MAX_COORD &&
           r.right <= DRAW_MAX_COORD && r.top >= -DRAW_MAX_COORD && r.top <= DRAW_MAX_COORD &&
           r.bottom >= -DRAW_MAX_COORD && r.bottom <= DRAW_MAX_COORD;
}

/* pixman's operators: 0x00-0x0d, 0x10-0x1b, 0x20-0x2b, 0x30-0x3e; other
 * values have no implementation (a NULL function inside pixman). */
static bool composite_op_valid(uint32_t op)
{
    return op <= 0x0d || (op >= 0x10 && op <= 0x1b) || (op >= 0x20 && op <= 0x2b) ||
           (op >= 0x30 && op <= 0x3e);
}

/*
 * Checks what the canvas trusts its caller with: coordinates small enough
 * for int arithmetic, and composite operators and filters pixman
 * implements (filter numbers up to BILINEAR: a convolution needs
 * parameters the wire does not carry). Returns NULL or the reason.
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
    if (d->type == SPICE_MSG_DISPLAY_DRAW_COPY && !rect_sane(d->u.copy.src_area)) {
        return "source area out of range";
    }
    if (d->type == SPICE_MSG_DISPLAY_COPY_BITS &&
        !rect_sane((struct wire_rect){d->u.copy_bits.src_pos.y, d->u.copy_bits.src_pos.x, 0, 0})) {
        return "copy-bits source out of range";
    }
    if (d->type == SPICE_MSG_DISPLAY_DRAW_COMPOSITE) {
        uint32_t flags = d->u.composite.flags;
        if (!composite_op_valid(flags & 0xff)) {
            return "unknown composite operator";
        }
        if (((flags >> 8) & 7) > PIXMAN_FILTER_BILINEAR ||
            ((flags >> 11) & 7) > PIXMAN_FILTER_BILINEAR) {
            return "unknown composite filter";
        }
    }
    return NULL;
}

/* Applies a parsed draw message. Returns 0 (drawn or skipped) or < 0. */
static int draw(struct clove_session *s, const struct server_draw *d)
{
    struct canvas_surface *dst = display_lookup(s, d->surface_id);
    if (!dst) {
        return session_fail(s, CLOVE_E_INVALID, "display: draw %u on unknown surface %u", d->type,
                            d->surface_id);
    }
    const char *insane = draw_insane(d);
    if (insane) {
        return session_fail(s, CLOVE_E_INVALID, "display: draw %u: %s", d->type, insane);
    }
    struct qxl_drawable q = {0};
    q.surface_id = d->surface_id;
    q.bbox = to_qxl_rect(d->box);
    q.clip_type = d->clip_type;
    if (d->clip_type == SPICE_CLIP_TYPE_RECTS && d->num_clip_rects > 0) {
        q.clip_rects = malloc((size_t)d->num_clip_rects * sizeof(*q.clip_rects));
        if (!q.clip_rects) {
            return session_fail(s, CLOVE_E_NOMEM, "display: no memory for clip rects");
        }
        for (uint32_t i = 0; i < d->num_clip_rects; i++) {
            q.clip_rects[i] = to_qxl_rect(server_draw_clip_rect(d, i));
        }
        q.num_clip_rects = d->num_clip_rects;
    }
    /* RECTS with zero rects draws nothing; NONE draws the whole box. */
    const struct qxl_rect *clips = q.clip_type == SPICE_CLIP_TYPE_RECTS ? q.clip_rects : NULL;
    uint32_t num_clips = q.clip_type == SPICE_CLIP_TYPE_RECTS ? q.num_clip_rects : 0;
    if (q.clip_type == SPICE_CLIP_TYPE_RECTS && num_clips == 0) {
        free(q.clip_rects);
        return 0;
    }
    struct qxl_image src = {0}, mask = {0};
    const char *err = NULL;
    int rc = 0;
    switch (d->type) {
    case SPICE_MSG_DISPLAY_DRAW_FILL:
        rc = canvas_fill(dst, &q.bbox, clips, num_clips, d->u.fill.color, d->u.fill.rop_descriptor);
        break;
    case SPICE_MSG_DISPLAY_DRAW_COPY: {
        if (!d->u.copy.has_src) {
            break;
        }
        rc = image_decode(s, &d->u.copy.src, &src, &err);
        if (rc == 0) {
            struct qxl_rect area = to_qxl_rect(d->u.copy.src_area);
            rc = canvas_copy(dst, &q.bbox, clips, num_clips, &src, &area, d->u.copy.rop_descriptor,
                             d->u.copy.scale_mode, display_lookup, s);
        }
        break;
    }
    case SPICE_MSG_DISPLAY_COPY_BITS: {
        struct qxl_point pos = {.x = d->u.copy_bits.src_pos.x, .y = d->u.copy_bits.src_pos.y};
        rc = canvas_copy_bits(dst, &q.bbox, clips, num_clips, pos);
        break;
    }
    case SPICE_MSG_DISPLAY_DRAW_BLACKNESS:
        rc = canvas_fill(dst, &q.bbox, clips, num_clips, 0, SPICE_ROPD_OP_BLACKNESS);
        break;
    case SPICE_MSG_DISPLAY_DRAW_WHITENESS:
        rc = canvas_fill(dst, &q.bbox, clips, num_clips, 0, SPICE_ROPD_OP_WHITENESS);
        break;
    case SPICE_MSG_DISPLAY_DRAW_INVERS:
        rc = canvas_fill(dst, &q.bbox, clips, num_clips, 0, SPICE_ROPD_OP_INVERS);
        break;
    case SPICE_MSG_DISPLAY_DRAW_COMPOSITE: {
        rc = image_decode(s, &d->u.composite.src, &src, &err);
        if (rc == 0 && d->u.composite.has_mask) {
            rc = image_decode(s, &d->u.composite.mask, &mask, &err);
        }
        if (rc == 0) {
            q.type = QXL_DRAW_COMPOSITE;
            q.u.composite.flags = d->u.composite.flags;
            q.u.composite.src = &src;
            q.u.composite.mask = d->u.composite.has_mask ? &mask : NULL;
            q.u.composite.has_src_transform = d->u.composite.has_src_transform;
            q.u.composite.has_mask_transform = d->u.composite.has_mask_transform;
            memcpy(q.u.composite.src_transform, d->u.composite.src_transform,
                   sizeof(q.u.composite.src_transform));
            memcpy(q.u.composite.mask_transform, d->u.composite.mask_transform,
                   sizeof(q.u.composite.mask_transform));
            q.u.composite.src_origin_x = d->u.composite.src_origin_x;
            q.u.composite.src_origin_y = d->u.composite.src_origin_y;
            q.u.composite.mask_origin_x = d->u.composite.mask_origin_x;
            q.u.composite.mask_origin_y = d->u.composite.mask_origin_y;
            rc = canvas_composite(dst, &q, display_lookup, s);
        }
        break;
    }
    default:
        rc = CLOVE_E_UNSUPPORTED;
        break;
    }
    image_finish(&src);
    image_finish(&mask);
    free(q.clip_rects);
    if (rc == CLOVE_E_UNSUPPORTED) {
        log_ratelimited(LOG_LEVEL_DEBUG, "display: draw %u unsupported (%s), skipped", d->type,
                        err ? err : "canvas");
        return 0;
    }
    if (rc < 0) {
        return session_fail(s, rc, "display: draw %u failed: %s", d->type,
                            err ? err : clove_strerror(rc));
    }
    report_area(s, d->surface_id, d->box);
    return 0;
}

int display_message(struct client_channel *ch, uint16_t type, const uint8_t *body, size_t len)
{
    struct clove_session *s = ch->session;
    const char *err = NULL;
    int rc = 0;
    switch (type) {
    case SPICE_MSG_DISPLAY_SURFACE_CREATE: {
        struct server_surface_create c;
        rc = server_parse_surface_create(body, len, &c, &err);
        if (rc >= 0) {
            return surface_create(s, &c);
        }
        break;
    }
    case SPICE_MSG_DISPLAY_SURFACE_DESTROY: {
        uint32_t id;
        rc = server_parse_surface_destroy(body, len, &id, &err);
        if (rc >= 0 && id < CLIENT_MAX_SURFACES) {
            surface_destroy(&s->surfaces[id]);
        }
        break;
    }
    case SPICE_MSG_DISPLAY_MONITORS_CONFIG: {
        struct wire_head heads[SERVER_PARSE_MAX_HEADS];
        uint16_t count = 0, max_allowed = 0;
        rc = server_parse_monitors_config(body, len, heads, SERVER_PARSE_MAX_HEADS, &count,
                                          &max_allowed, &err);
        for (uint16_t i = 0; rc >= 0 && i < count; i++) {
            log_debug("display: monitor %u on surface %u: %ux%u+%u+%u", heads[i].id,
                      heads[i].surface_id, heads[i].width, heads[i].height, heads[i].x, heads[i].y);
        }
        break;
    }
    case SPICE_MSG_DISPLAY_MARK:
        s->marks++;
        log_debug("display: mark %u", s->marks);
        if (s->mark_fn) {
            s->mark_fn(s, s->mark_opaque);
        }
        return 0;
    case SPICE_MSG_DISPLAY_RESET:
        log_debug("display: reset");
        return 0;
    case SPICE_MSG_DISPLAY_INVAL_ALL_PIXMAPS:
        image_cache_clear(s);
        glz_window_clear(s->glz);
        return 0;
    case SPICE_MSG_DISPLAY_INVAL_ALL_PALETTES:
    case SPICE_MSG_DISPLAY_INVAL_PALETTE:
        return 0;
    case SPICE_MSG_DISPLAY_DRAW_FILL:
    case SPICE_MSG_DISPLAY_DRAW_COPY:
    case SPICE_MSG_DISPLAY_COPY_BITS:
    case SPICE_MSG_DISPLAY_DRAW_BLACKNESS:
    case SPICE_MSG_DISPLAY_DRAW_WHITENESS:
    case SPICE_MSG_DISPLAY_DRAW_INVERS:
    case SPICE_MSG_DISPLAY_DRAW_COMPOSITE: {
        struct server_draw d;
        rc = server_parse_draw(type, body, len, &d, &err);
        if (rc >= 0) {
            return draw(s, &d);
        }
        if (rc == CLOVE_E_UNSUPPORTED) {
            log_ratelimited(LOG_LEVEL_DEBUG, "display: message %u unsupported (%s), skipped", type,
                            err);
            return 0;
        }
        break;
    }
    default:
        log_ratelimited(LOG_LEVEL_DEBUG, "display: message %u unsupported, skipped", type);
        return 0;
    }
    if (rc < 0) {
        return session_fail(s, rc, "display channel: bad message %u: %s", type, err ? err : "?");
    }
    return 0;
}
