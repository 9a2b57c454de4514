/*
 * Draws of the display channel: a queued draw item (server/draw_tree.h)
 * turned into its message for one client when it is about to be written.
 *
 * Draws are built when they are about to be written (channel.h, deferred
 * entries): an item hidden since it was queued is dropped unencoded; a run
 * of consecutive queued items that can be painted into an image (solid PUT
 * fills, 1:1 PUT copies of 32-bit bitmaps, on a 32-bit surface) goes as one
 * DRAW_COPY of their union, blank where nothing shows and clipped to what
 * does, unless that image would be sparse (display_plan_compose); a copy
 * whose image mostly does not show is re-cut the same way; any other item
 * goes as its own message, clipped to its visible region.
 *
 * A message's images are encoded for its client (display_image.c), so a
 * message is built per client, except that one built without per-client
 * state (anything but GLZ, and no cached image) is kept on the item and
 * reused for every later client with the same encoding profile
 * (display_profile). Every image source of a draw is prepared before the
 * first one is encoded, so that a body given up halfway never leaves the
 * cache mirror counting an image the client will not get; a draw that is
 * not sent after all takes back the palettes it added, and one that
 * cannot go as a command makes the client fall back to refreshed areas
 * (display_dirty.c).
 *
 * Thread: the worker's.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "display/image_encoder.h"
#include "display/palette_cache.h"
#include "proto/server_msg.h"
#include "server/display_priv.h"
#include "server/draw_tree.h"
#include "server/worker_priv.h"

static struct wire_rect wire_rect_from(const struct qxl_rect *r)
{
    return (struct wire_rect){r->top, r->left, r->bottom, r->right};
}

/* A key for "same encoding for this client as for that one". */
static unsigned display_profile(const struct display_client *dc)
{
    return (unsigned)dc->encoder.lz4_cap | ((unsigned)(dc->encoder.glz_window_pixels > 0) << 1) |
           ((unsigned)dc->encoder.preferred << 2) |
           ((unsigned)channel_client_has_cap(&dc->base, SPICE_DISPLAY_CAP_COMPOSITE) << 10);
}

/* ---- drawables ---- */

/* The wire form of a brush; `pattern` is its encoded tile (PATTERN only). */
static struct wire_brush wire_brush_from(const struct qxl_brush *q,
                                         const struct wire_image *pattern)
{
    return (struct wire_brush){
            .type = (uint8_t)q->type,
            .color = q->color,
            .pattern = q->type == SPICE_BRUSH_TYPE_PATTERN ? pattern : NULL,
            .pattern_pos = {q->pattern_pos.x, q->pattern_pos.y},
    };
}

/*
 * The wire form of a drawable's mask: a 1-bit bitmap sent as it is, as
 * the reference does. Returns false for a mask that cannot go that way.
 */
static bool wire_qmask_from(const struct qxl_qmask *q, struct wire_qmask *out,
                            struct wire_image *img)
{
    memset(out, 0, sizeof(*out));
    if (!q->bitmap) {
        return true;
    }
    const struct qxl_image *m = q->bitmap;
    if (m->type != SPICE_IMAGE_TYPE_BITMAP || !m->data ||
        (m->format != SPICE_BITMAP_FMT_1BIT_LE && m->format != SPICE_BITMAP_FMT_1BIT_BE)) {
        return false;
    }
    memset(img, 0, sizeof(*img));
    img->type = SPICE_IMAGE_TYPE_BITMAP;
    img->width = m->width;
    img->height = m->height;
    img->u.bitmap.format = m->format;
    img->u.bitmap.flags = (m->bitmap_flags & QXL_BITMAP_TOP_DOWN) ? SPICE_BITMAP_FLAGS_TOP_DOWN : 0;
    img->u.bitmap.stride = m->stride;
    img->u.bitmap.data = m->data;
    out->flags = q->flags;
    out->pos = (struct wire_point){q->pos.x, q->pos.y};
    out->bitmap = img;
    return true;
}

/* The images a draw carries (source, brush patterns), in wire order;
 * *has_src tells whether the first is the source. */
static int drawable_images(const struct qxl_drawable *d, const struct qxl_image *out[3],
                           bool *has_src)
{
    const struct qxl_brush *brush = NULL, *brush2 = NULL;
    const struct qxl_image *src = NULL;
    switch (d->type) {
    case QXL_DRAW_FILL:
        brush = &d->u.fill.brush;
        break;
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND:
        src = d->u.copy.src;
        break;
    case QXL_DRAW_OPAQUE:
        src = d->u.opaque.src;
        brush = &d->u.opaque.brush;
        break;
    case QXL_DRAW_ROP3:
        src = d->u.rop3.src;
        brush = &d->u.rop3.brush;
        break;
    case QXL_DRAW_TRANSPARENT:
        src = d->u.transparent.src;
        break;
    case QXL_DRAW_ALPHA_BLEND:
        src = d->u.alpha_blend.src;
        break;
    case QXL_DRAW_STROKE:
        brush = &d->u.stroke.brush;
        break;
    case QXL_DRAW_TEXT:
        brush = &d->u.text.fore_brush;
        brush2 = &d->u.text.back_brush;
        break;
    default:
        break;
    }
    int n = 0;
    out[0] = out[1] = out[2] = NULL;
    *has_src = src != NULL;
    if (src) {
        out[n++] = src;
    }
    if (brush && brush->type == SPICE_BRUSH_TYPE_PATTERN && brush->pattern) {
        out[n++] = brush->pattern;
    }
    if (brush2 && brush2->type == SPICE_BRUSH_TYPE_PATTERN && brush2->pattern) {
        out[n++] = brush2->pattern;
    }
    return n;
}

/* Writes DRAW_STROKE. Returns false on allocation failure. */
static bool display_write_stroke(struct byte_buf *b, const struct wire_draw_base *base,
                                 const struct qxl_drawable *d, const struct wire_image *pattern)
{
    const struct qxl_path *path = &d->u.stroke.path;
    struct wire_path_seg *segs = calloc(path->num_segments ? path->num_segments : 1, sizeof(*segs));
    struct wire_point *points = calloc(path->num_points ? path->num_points : 1, sizeof(*points));
    bool ok = segs && points;
    if (ok) {
        for (uint32_t i = 0; i < path->num_points; i++) {
            points[i] = (struct wire_point){path->points[i].x, path->points[i].y};
        }
        for (uint32_t i = 0; i < path->num_segments; i++) {
            const struct qxl_path_seg *q = &path->segments[i];
            segs[i].flags = q->flags;
            segs[i].count = q->count;
            segs[i].points = points + (q->points - path->points);
        }
        struct wire_stroke st = {
                .path = {path->num_segments, segs},
                .attr = {d->u.stroke.attr.flags, d->u.stroke.attr.style_nseg,
                         d->u.stroke.attr.style},
                .brush = wire_brush_from(&d->u.stroke.brush, pattern),
                .fore_mode = d->u.stroke.fore_mode,
                .back_mode = d->u.stroke.back_mode,
        };
        server_msg_display_draw_stroke(b, base, &st);
    }
    free(segs);
    free(points);
    return ok;
}

/* Writes DRAW_TEXT with the encoded fore and back patterns (NULL for a
 * brush without one). Returns false on allocation failure. */
static bool display_write_text(struct byte_buf *b, const struct wire_draw_base *base,
                               const struct qxl_drawable *d, const struct wire_image *fore,
                               const struct wire_image *back)
{
    const struct qxl_glyph_string *str = &d->u.text.str;
    struct wire_glyph *glyphs = calloc(str->length ? str->length : 1, sizeof(*glyphs));
    if (!glyphs) {
        return false;
    }
    for (uint16_t i = 0; i < str->length; i++) {
        const struct qxl_glyph *g = &str->glyphs[i];
        glyphs[i] = (struct wire_glyph){
                .render_pos = {g->render_pos.x, g->render_pos.y},
                .glyph_origin = {g->glyph_origin.x, g->glyph_origin.y},
                .width = g->width,
                .height = g->height,
                .data = g->data,
        };
    }
    struct wire_text t = {
            .str = {str->length, (uint8_t)str->flags, glyphs},
            .back_area = wire_rect_from(&d->u.text.back_area),
            .fore_brush = wire_brush_from(&d->u.text.fore_brush, fore),
            .back_brush = wire_brush_from(&d->u.text.back_brush, back),
            .fore_mode = d->u.text.fore_mode,
            .back_mode = d->u.text.back_mode,
    };
    server_msg_display_draw_text(b, base, &t);
    free(glyphs);
    return true;
}

/*
 * Builds the message body of a drawable for one client; returns its type,
 * or 0 to skip. *per_client tells whether the bytes depend on this client,
 * *cache_me whether the client's pixmap cache gains an image with it (then
 * it must reach the client). Every image source is prepared before the
 * first one is encoded, so that a body given up halfway never leaves the
 * cache mirror counting an image the client will not get.
 */
static uint16_t display_drawable_body(struct display_client *dc, const struct qxl_drawable *d,
                                      const struct wire_draw_base *base,
                                      const struct image_encoder_settings *s, struct byte_buf *b,
                                      bool *per_client, bool *cache_me)
{
    struct image_source srcs[3];
    struct encoded_image enc[3];
    const struct qxl_image *imgs[3];
    int prepared = 0, encoded = 0;
    uint16_t type = 0;
    *per_client = false;
    *cache_me = false;
    memset(srcs, 0, sizeof(srcs));
    pixmap_cache_begin(&dc->pixmaps);
    bool keep_palette = image_encoder_keeps_palette(&dc->encoder, s);

    struct wire_qmask mask;
    struct wire_image mask_img;
    if (!wire_qmask_from(&d->mask, &mask, &mask_img)) {
        log_once("draws with masks other than 1-bit bitmaps are sent as refreshed areas");
        return 0;
    }
    bool has_src;
    int n = drawable_images(d, imgs, &has_src);
    if ((d->type == QXL_DRAW_COPY || d->type == QXL_DRAW_BLEND) && n == 0) {
        return 0; /* a source we could not parse */
    }
    for (; prepared < n; prepared++) {
        if (!image_source_from_qxl(imgs[prepared], &srcs[prepared], keep_palette)) {
            goto out;
        }
    }
    for (; encoded < n; encoded++) {
        display_encode(dc, s, &srcs[encoded], imgs[encoded], &enc[encoded]);
    }
    /* Images in wire order: the source if any, then the patterns. */
    const struct wire_image *src = has_src ? &enc[0].wire : NULL;
    int first_pattern = has_src ? 1 : 0;
    const struct wire_image *pattern = n > first_pattern ? &enc[first_pattern].wire : NULL;
    bool has_mask = mask.bitmap != NULL;
    switch (d->type) {
    case QXL_DRAW_FILL:
        if (d->u.fill.brush.type == SPICE_BRUSH_TYPE_SOLID && !has_mask) {
            server_msg_display_draw_fill(b, base, d->u.fill.brush.color, d->u.fill.rop_descriptor);
        } else {
            struct wire_fill f = {wire_brush_from(&d->u.fill.brush, pattern),
                                  d->u.fill.rop_descriptor, mask};
            server_msg_display_draw_fill_masked(b, base, &f);
        }
        type = SPICE_MSG_DISPLAY_DRAW_FILL;
        break;
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND: {
        struct wire_rect src_area = wire_rect_from(&d->u.copy.src_area);
        if (d->type == QXL_DRAW_COPY && !has_mask) {
            server_msg_display_draw_copy(b, base, src, &src_area, d->u.copy.rop_descriptor,
                                         d->u.copy.scale_mode);
        } else {
            struct wire_copy c = {src, src_area, d->u.copy.rop_descriptor, d->u.copy.scale_mode,
                                  mask};
            if (d->type == QXL_DRAW_COPY) {
                server_msg_display_draw_copy_masked(b, base, &c);
            } else {
                server_msg_display_draw_blend(b, base, &c);
            }
        }
        type = d->type == QXL_DRAW_COPY ? SPICE_MSG_DISPLAY_DRAW_COPY
                                        : SPICE_MSG_DISPLAY_DRAW_BLEND;
        break;
    }
    case QXL_DRAW_OPAQUE: {
        struct wire_opaque o = {src,
                                wire_rect_from(&d->u.opaque.src_area),
                                wire_brush_from(&d->u.opaque.brush, pattern),
                                d->u.opaque.rop_descriptor,
                                d->u.opaque.scale_mode,
                                mask};
        server_msg_display_draw_opaque(b, base, &o);
        type = SPICE_MSG_DISPLAY_DRAW_OPAQUE;
        break;
    }
    case QXL_DRAW_ROP3: {
        struct wire_rop3 r = {src,
                              wire_rect_from(&d->u.rop3.src_area),
                              wire_brush_from(&d->u.rop3.brush, pattern),
                              d->u.rop3.rop3,
                              d->u.rop3.scale_mode,
                              mask};
        server_msg_display_draw_rop3(b, base, &r);
        type = SPICE_MSG_DISPLAY_DRAW_ROP3;
        break;
    }
    case QXL_DRAW_TRANSPARENT: {
        struct wire_transparent t = {src, wire_rect_from(&d->u.transparent.src_area),
                                     d->u.transparent.src_color, d->u.transparent.true_color};
        server_msg_display_draw_transparent(b, base, &t);
        type = SPICE_MSG_DISPLAY_DRAW_TRANSPARENT;
        break;
    }
    case QXL_DRAW_ALPHA_BLEND: {
        struct wire_alpha_blend a = {(uint8_t)d->u.alpha_blend.alpha_flags, d->u.alpha_blend.alpha,
                                     src, wire_rect_from(&d->u.alpha_blend.src_area)};
        server_msg_display_draw_alpha_blend(b, base, &a);
        type = SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND;
        break;
    }
    case QXL_DRAW_STROKE:
        if (display_write_stroke(b, base, d, pattern)) {
            type = SPICE_MSG_DISPLAY_DRAW_STROKE;
        }
        break;
    case QXL_DRAW_TEXT: {
        bool fore = d->u.text.fore_brush.type == SPICE_BRUSH_TYPE_PATTERN &&
                    d->u.text.fore_brush.pattern;
        bool back = d->u.text.back_brush.type == SPICE_BRUSH_TYPE_PATTERN &&
                    d->u.text.back_brush.pattern;
        const struct wire_image *fore_img = fore ? &enc[0].wire : NULL;
        const struct wire_image *back_img = back ? &enc[fore ? 1 : 0].wire : NULL;
        if (display_write_text(b, base, d, fore_img, back_img)) {
            type = SPICE_MSG_DISPLAY_DRAW_TEXT;
        }
        break;
    }
    case QXL_COPY_BITS: {
        struct wire_point pos = {d->u.copy_bits.src_pos.x, d->u.copy_bits.src_pos.y};
        server_msg_display_copy_bits(b, base, pos);
        type = SPICE_MSG_DISPLAY_COPY_BITS;
        break;
    }
    case QXL_DRAW_BLACKNESS:
    case QXL_DRAW_WHITENESS:
    case QXL_DRAW_INVERS: {
        const struct wire_qmask *m = has_mask ? &mask : NULL;
        if (d->type == QXL_DRAW_BLACKNESS) {
            server_msg_display_draw_blackness(b, base, m);
            type = SPICE_MSG_DISPLAY_DRAW_BLACKNESS;
        } else if (d->type == QXL_DRAW_WHITENESS) {
            server_msg_display_draw_whiteness(b, base, m);
            type = SPICE_MSG_DISPLAY_DRAW_WHITENESS;
        } else {
            server_msg_display_draw_invers(b, base, m);
            type = SPICE_MSG_DISPLAY_DRAW_INVERS;
        }
        break;
    }
    case QXL_DRAW_COMPOSITE: {
        if (!d->u.composite.src) {
            break;
        }
        struct image_source csrc[2];
        struct encoded_image cenc[2];
        memset(csrc, 0, sizeof(csrc));
        if (!image_source_from_qxl(d->u.composite.src, &csrc[0], keep_palette) ||
            (d->u.composite.mask &&
             !image_source_from_qxl(d->u.composite.mask, &csrc[1], keep_palette))) {
            free(csrc[0].owned);
            free(csrc[1].owned);
            break;
        }
        display_encode(dc, s, &csrc[0], d->u.composite.src, &cenc[0]);
        struct wire_composite c = {
                .flags = d->u.composite.flags,
                .src = &cenc[0].wire,
                .src_transform =
                        d->u.composite.has_src_transform ? d->u.composite.src_transform : NULL,
                .mask_transform =
                        d->u.composite.has_mask_transform ? d->u.composite.mask_transform : NULL,
                .src_origin = {d->u.composite.src_origin_x, d->u.composite.src_origin_y},
                .mask_origin = {d->u.composite.mask_origin_x, d->u.composite.mask_origin_y},
        };
        if (d->u.composite.mask) {
            display_encode(dc, s, &csrc[1], d->u.composite.mask, &cenc[1]);
            c.mask = &cenc[1].wire;
        }
        server_msg_display_draw_composite(b, base, &c);
        type = SPICE_MSG_DISPLAY_DRAW_COMPOSITE;
        for (int i = 0; i < (d->u.composite.mask ? 2 : 1); i++) {
            *per_client |= cenc[i].per_client;
            *cache_me |= cenc[i].cache_me;
            encoded_image_finish(&cenc[i]);
        }
        free(csrc[0].owned);
        free(csrc[1].owned);
        break;
    }
    default:
        break;
    }
out:
    for (int i = 0; i < encoded; i++) {
        *per_client |= enc[i].per_client;
        *cache_me |= enc[i].cache_me;
        encoded_image_finish(&enc[i]);
    }
    for (int i = 0; i < prepared; i++) {
        free(srcs[i].owned);
    }
    return type;
}

/* A partly hidden draw is clipped to at most this many visible rectangles;
 * beyond that it goes with its own clip (the client draws a little more). */
#define DISPLAY_MAX_VISIBLE_RECTS 64

/* Estimated encoded size of a queued draw, for the queue limits, until it
 * is built: small draws cost a few dozen bytes, images compress ~4:1. */
static size_t display_item_estimate(const struct draw_item *item)
{
    return 32 + 16 * (size_t)item->d.num_clip_rects + (size_t)(item->raw_bytes / 4);
}

/*
 * The wire clip of an item for a message built now: its own clip while it
 * is whole, else its visible region. *rects is allocated for the caller.
 * Returns false on allocation failure.
 */
static bool display_item_clip(const struct draw_item *item, struct wire_draw_base *base,
                              struct wire_rect **rects)
{
    const struct qxl_drawable *d = &item->d;
    *rects = NULL;
    base->clip.type = SPICE_CLIP_TYPE_NONE;
    base->clip.num_rects = 0;
    base->clip.rects = NULL;
    int n = 0;
    const pixman_box32_t *boxes = NULL;
    if (!draw_item_is_whole(item)) {
        boxes = pixman_region32_rectangles((pixman_region32_t *)&item->visible, &n);
        if (n > DISPLAY_MAX_VISIBLE_RECTS) {
            boxes = NULL;
        }
    }
    if (boxes) {
        *rects = malloc(sizeof(**rects) * (size_t)n);
        if (!*rects) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            (*rects)[i] = (struct wire_rect){boxes[i].y1, boxes[i].x1, boxes[i].y2, boxes[i].x2};
        }
        base->clip.num_rects = (uint32_t)n;
    } else if (d->clip_type == SPICE_CLIP_TYPE_RECTS && d->num_clip_rects > 0) {
        *rects = malloc(sizeof(**rects) * d->num_clip_rects);
        if (!*rects) {
            return false;
        }
        for (uint32_t i = 0; i < d->num_clip_rects; i++) {
            (*rects)[i] = wire_rect_from(&d->clip_rects[i]);
        }
        base->clip.num_rects = d->num_clip_rects;
    } else {
        return true;
    }
    base->clip.type = SPICE_CLIP_TYPE_RECTS;
    base->clip.rects = *rects;
    return true;
}

/* ---- composed images: partly hidden or merged draws ---- */

/* A composed image never spans more than this many visible rectangles. */
#define DISPLAY_MAX_COMPOSED_RECTS 256
/* A single copy is re-cut when at most this share (in 1/4) of its image shows... */
#define DISPLAY_RECUT_SHOWN_QUARTERS 3
/* ...and its image has at least this many pixels. */
#define DISPLAY_RECUT_MIN_PIXELS 1024
/* Merged draws: the composed image may hold this many blank pixels per
 * drawn one, plus a little. */
#define DISPLAY_MERGE_SPARSE_RATIO 1
/* A draw showing this many pixels or more goes on its own: merging saves
 * nothing there, and would make one codec serve unlike content (a photo
 * and the text around it). */
#define DISPLAY_MERGE_MAX_ITEM_PIXELS (256 * 256)
#define DISPLAY_MERGE_SPARSE_SLACK    4096

static uint64_t region_pixels(pixman_region32_t *r)
{
    int n = 0;
    const pixman_box32_t *boxes = pixman_region32_rectangles(r, &n);
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
        sum += (uint64_t)(boxes[i].x2 - boxes[i].x1) * (uint64_t)(boxes[i].y2 - boxes[i].y1);
    }
    return sum;
}

/*
 * Whether the item's visible pixels can be painted into an image of the
 * destination surface: a solid PUT fill, or a PUT copy of a 32-bit bitmap
 * at 1:1, with no mask, on a 32-bit xRGB surface. (An RGBA bitmap counts:
 * PUT onto xRGB keeps its colour channels only, as the clients draw it.)
 */
static bool display_item_composable(const struct worker *w, const struct draw_item *item)
{
    const struct qxl_drawable *d = &item->d;
    if (!item->alive || d->mask.bitmap || d->surface_id >= w->n_surfaces ||
        w->surfaces[d->surface_id].format != SPICE_SURFACE_FMT_32_xRGB) {
        return false;
    }
    if (d->type == QXL_DRAW_FILL) {
        return d->u.fill.brush.type == SPICE_BRUSH_TYPE_SOLID &&
               d->u.fill.rop_descriptor == SPICE_ROPD_OP_PUT;
    }
    if (d->type != QXL_DRAW_COPY || d->u.copy.rop_descriptor != SPICE_ROPD_OP_PUT) {
        return false;
    }
    const struct qxl_image *img = d->u.copy.src;
    const struct qxl_rect *sa = &d->u.copy.src_area;
    return img && img->type == SPICE_IMAGE_TYPE_BITMAP && img->data &&
           (img->format == SPICE_BITMAP_FMT_32BIT || img->format == SPICE_BITMAP_FMT_RGBA) &&
           sa->left >= 0 && sa->top >= 0 && sa->right <= (int32_t)img->width &&
           sa->bottom <= (int32_t)img->height &&
           sa->right - sa->left == d->bbox.right - d->bbox.left &&
           sa->bottom - sa->top == d->bbox.bottom - d->bbox.top;
}

/* Paints the item's visible pixels into `pixels` (top-down, 4 bytes per
 * pixel, `width` wide, its top-left at surface point ext). */
static void display_item_paint(const struct draw_item *item, const pixman_box32_t *ext,
                               uint8_t *pixels, size_t stride)
{
    const struct qxl_drawable *d = &item->d;
    const struct qxl_image *img = d->type == QXL_DRAW_COPY ? d->u.copy.src : NULL;
    int n = 0;
    const pixman_box32_t *boxes =
            pixman_region32_rectangles((pixman_region32_t *)&item->visible, &n);
    for (int i = 0; i < n; i++) {
        const pixman_box32_t *bx = &boxes[i];
        size_t row_bytes = (size_t)(bx->x2 - bx->x1) * 4;
        for (int32_t y = bx->y1; y < bx->y2; y++) {
            uint8_t *dst = pixels + (size_t)(y - ext->y1) * stride + (size_t)(bx->x1 - ext->x1) * 4;
            if (!img) {
                for (int32_t x = bx->x1; x < bx->x2; x++, dst += 4) {
                    put_u32le(dst, d->u.fill.brush.color);
                }
                continue;
            }
            uint32_t sx = (uint32_t)(d->u.copy.src_area.left + (bx->x1 - d->bbox.left));
            uint32_t sy = (uint32_t)(d->u.copy.src_area.top + (y - d->bbox.top));
            uint32_t row = img->bitmap_flags & QXL_BITMAP_TOP_DOWN ? sy : img->height - 1 - sy;
            memcpy(dst, img->data + (size_t)row * img->stride + (size_t)sx * 4, row_bytes);
        }
    }
}

/*
 * One DRAW_COPY for the visible pixels of items[0..n) (composable, same
 * surface, in queue order): their union's bounding box as one image, blank
 * where nothing shows, clipped to the union. Later items paint over
 * earlier ones, as the client would have drawn them. Returns the message
 * body type (0 on failure) and fills b.
 */
static uint16_t display_composed_body(struct display_client *dc, struct draw_item **items, size_t n,
                                      pixman_region32_t *region,
                                      const struct image_encoder_settings *s, struct byte_buf *b,
                                      bool *per_client, bool *cache_me)
{
    const pixman_box32_t ext = *pixman_region32_extents(region);
    uint32_t width = (uint32_t)(ext.x2 - ext.x1), height = (uint32_t)(ext.y2 - ext.y1);
    size_t stride = (size_t)width * 4;
    int nrects = 0;
    const pixman_box32_t *boxes = pixman_region32_rectangles(region, &nrects);
    uint8_t *pixels = calloc(height, stride);
    struct wire_rect *rects = malloc(sizeof(*rects) * (size_t)(nrects > 0 ? nrects : 1));
    uint16_t type = 0;
    if (!pixels || !rects) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        display_item_paint(items[i], &ext, pixels, stride);
    }
    for (int i = 0; i < nrects; i++) {
        rects[i] = (struct wire_rect){boxes[i].y1, boxes[i].x1, boxes[i].y2, boxes[i].x2};
    }
    struct qxl_image img = {
            .type = SPICE_IMAGE_TYPE_BITMAP,
            .format = SPICE_BITMAP_FMT_32BIT,
            .bitmap_flags = QXL_BITMAP_TOP_DOWN,
            .width = width,
            .height = height,
            .stride = (uint32_t)stride,
            .data = pixels,
    };
    struct qxl_drawable d = {
            .surface_id = items[0]->d.surface_id,
            .type = QXL_DRAW_COPY,
            .bbox = {ext.y1, ext.x1, ext.y2, ext.x2},
            .clip_type = SPICE_CLIP_TYPE_NONE,
    };
    d.u.copy.src = &img;
    d.u.copy.src_area = (struct qxl_rect){0, 0, (int32_t)height, (int32_t)width};
    d.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    d.u.copy.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;
    struct wire_draw_base base = {.surface_id = d.surface_id, .box = wire_rect_from(&d.bbox)};
    if (nrects != 1) {
        base.clip.type = SPICE_CLIP_TYPE_RECTS;
        base.clip.num_rects = (uint32_t)nrects;
        base.clip.rects = rects;
    }
    type = display_drawable_body(dc, &d, &base, s, b, per_client, cache_me);
out:
    free(pixels);
    free(rects);
    return type;
}

/*
 * How many of items[0..n) go into one composed message with items[0]
 * (0: send items[0] as it is). Consecutive composable draws on one surface
 * merge while their union stays dense; a single partly hidden copy is
 * re-cut when little of its image shows. The union of what they show is
 * left in `region`.
 */
static size_t display_plan_compose(struct display_client *dc, struct draw_item **items, size_t n,
                                   pixman_region32_t *region)
{
    const struct worker *w = dc->worker;
    struct draw_item *first = items[0];
    if (!dc->compose || !display_item_composable(w, first)) {
        return 0;
    }
    pixman_region32_copy(region, &first->visible);
    uint64_t shown = region_pixels(&first->visible);
    size_t count = 1;
    for (size_t i = 1; i < n && shown < DISPLAY_MERGE_MAX_ITEM_PIXELS; i++) {
        struct draw_item *it = items[i];
        if (!it->alive) {
            count++; /* hidden meanwhile: consumed, paints nothing */
            continue;
        }
        if (!display_item_composable(w, it) || it->d.surface_id != first->d.surface_id) {
            break;
        }
        uint64_t it_shown = region_pixels(&it->visible);
        if (it_shown >= DISPLAY_MERGE_MAX_ITEM_PIXELS) {
            break;
        }
        pixman_region32_t u;
        pixman_region32_init(&u);
        pixman_region32_union(&u, region, &it->visible);
        uint64_t shown_u = shown + it_shown;
        const pixman_box32_t *e = pixman_region32_extents(&u);
        uint64_t area = (uint64_t)(e->x2 - e->x1) * (uint64_t)(e->y2 - e->y1);
        int nrects = pixman_region32_n_rects(&u);
        bool dense =
                area <= shown_u * (1 + DISPLAY_MERGE_SPARSE_RATIO) + DISPLAY_MERGE_SPARSE_SLACK &&
                nrects <= DISPLAY_MAX_COMPOSED_RECTS;
        if (dense) {
            pixman_region32_copy(region, &u);
            shown = shown_u;
            count++;
        }
        pixman_region32_fini(&u);
        if (!dense) {
            break;
        }
    }
    /* A run of one: only a copy whose image mostly does not show. */
    size_t live = 0;
    for (size_t i = 0; i < count; i++) {
        live += items[i]->alive;
    }
    if (live >= 2) {
        return count;
    }
    if (first->d.type != QXL_DRAW_COPY || draw_item_is_whole(first) ||
        pixman_region32_n_rects(&first->visible) > DISPLAY_MAX_COMPOSED_RECTS) {
        return 0;
    }
    const struct qxl_rect *bb = &first->d.bbox;
    uint64_t image_pixels = (uint64_t)(bb->right - bb->left) * (uint64_t)(bb->bottom - bb->top);
    if (image_pixels < DISPLAY_RECUT_MIN_PIXELS ||
        region_pixels(&first->visible) * 4 > image_pixels * DISPLAY_RECUT_SHOWN_QUARTERS) {
        return 0;
    }
    return 1;
}

/*
 * channel_deferred_ops.build: the message of the queued draw item at the
 * head for this client, built as it is about to be written, possibly
 * merged with the consecutive ones after it. NULL drops it: hidden since
 * it was queued, or nothing to send.
 */
static struct shared_msg *display_item_build(struct channel_client *cc, void **opaque, size_t n,
                                             size_t *consumed)
{
    struct display_client *dc = (struct display_client *)cc;
    struct draw_item **items = (struct draw_item **)opaque;
    struct draw_item *item = items[0];
    *consumed = 1;
    if (!item->alive || !pixman_region32_not_empty(&item->visible)) {
        draw_item_release_holder(item);
        return NULL;
    }
    struct image_encoder_settings s = display_settings(dc->worker);
    palette_cache_begin(&dc->palettes);
    bool cache_me = false, per_client = false;
    struct byte_buf b;
    buf_init(&b);
    uint16_t type = 0;
    pixman_region32_t region;
    pixman_region32_init(&region);
    size_t run = display_plan_compose(dc, items, n, &region);
    if (run > 0) {
        type = display_composed_body(dc, items, run, &region, &s, &b, &per_client, &cache_me);
        *consumed = run;
        for (size_t i = 0; i < run; i++) {
            draw_item_release_holder(items[i]);
        }
        /* Built from this client's run: not shared. */
        per_client |= run > 1;
    } else {
        draw_item_release_holder(item);
        unsigned profile = display_profile(dc);
        for (int i = 0; i < item->num_built; i++) {
            if (item->built[i].profile == profile) {
                pixman_region32_fini(&region);
                buf_finish(&b);
                return shared_msg_ref(item->built[i].msg);
            }
        }
        const struct qxl_drawable *d = &item->d;
        struct wire_draw_base base = {.surface_id = d->surface_id, .box = wire_rect_from(&d->bbox)};
        struct wire_rect *rects;
        if (!display_item_clip(item, &base, &rects)) {
            log_ratelimited(LOG_LEVEL_ERROR, "display: out of memory building a draw");
            channel_client_close(cc);
            pixman_region32_fini(&region);
            buf_finish(&b);
            return NULL;
        }
        type = display_drawable_body(dc, d, &base, &s, &b, &per_client, &cache_me);
        free(rects);
    }
    pixman_region32_fini(&region);
    struct shared_msg *m = type ? display_msg_from_buf(type, &b) : NULL;
    buf_finish(&b);
    if (!m) {
        /* Palettes this draw would have added never reach the client. */
        palette_cache_cancel_message(&dc->palettes);
    }
    if (!m && cache_me) {
        /* The mirror counts an image the client will never get. */
        channel_client_close(cc);
    } else if (!type && item->alive) {
        /* A draw we cannot send: the client gets its surface as rendered
         * here, once what is queued before has gone. */
        display_fall_back(dc, item->d.surface_id);
    }
    if (m && !per_client && item->num_built < DRAW_ITEM_BUILT_MAX) {
        item->built[item->num_built].profile = display_profile(dc);
        item->built[item->num_built].msg = shared_msg_ref(m);
        item->num_built++;
    }
    return m;
}

static void display_item_release(struct channel_client *cc, void *opaque, bool built)
{
    (void)cc;
    struct draw_item *item = opaque;
    if (!built) {
        draw_item_release_holder(item);
    }
    draw_item_unref(item);
}

static bool display_item_is_dropped(void *opaque)
{
    struct draw_item *item = opaque;
    return !item->alive;
}

static const struct channel_deferred_ops display_item_ops = {
        .build = display_item_build,
        .release = display_item_release,
        .is_dropped = display_item_is_dropped,
};

void display_broadcast_drawable(struct worker *w, struct draw_item *item)
{
    const struct qxl_drawable *d = &item->d;
    size_t estimate = display_item_estimate(item);
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        if (dc->base.closing) {
            continue;
        }
        if (d->type == QXL_DRAW_COMPOSITE &&
            !channel_client_has_cap(&dc->base, SPICE_DISPLAY_CAP_COMPOSITE)) {
            /* It cannot draw it: it gets the result as an image. */
            display_fall_back(dc, d->surface_id);
            continue;
        }
        if (display_behind(dc)) {
            display_dirty_add(dc, d->surface_id, &d->bbox);
            continue;
        }
        dc->base.busy++; /* a failed send closes it: keep it until the kick */
        draw_item_hold(item);
        channel_client_send_deferred(&dc->base, draw_item_ref(item), &display_item_ops, estimate);
        channel_client_kick(&dc->base); /* may free dc */
    }
    if (d->surface_id < w->n_surfaces) {
        draw_tree_add(w->trees, w->n_surfaces, item, &w->tree_stats);
    }
}
