/*
 * The draw tree (see draw_tree.h for the model and its invariant).
 *
 * DESIGN
 * One doubly linked list per surface, oldest first, of the items that some
 * client still has to send. It stays short: an item leaves as soon as every
 * client has started it, so the list is what is queued behind the slowest
 * client, and a fast client keeps it at most one worker batch long (and
 * it never holds more than DRAW_TREE_MAX_ITEMS: the oldest leave first). Adding
 * an item walks that list once for its reads and once for its opaque area,
 * with a bounding-box test before any region operation.
 *
 * Protection is recorded per item rather than as barriers in the queue: a
 * reader pins only the pixels it reads, so an opaque draw may still hide
 * the rest of an earlier item (e.g. a scrolled terminal: the copy-bits pins
 * the lines it moves, the new line drawn below hides nothing it needs).
 *
 * Thread: the worker's.
 */
#include "server/draw_tree.h"

#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/qxl_dev.h>

#include "server/channel.h"

/* A tree keeps at most this many items: behind a client that stopped
 * reading, the oldest ones leave (they are sent as they are), so adding
 * an item stays bounded work. */
#define DRAW_TREE_MAX_ITEMS 1024

static bool rop_is_opaque(uint16_t rop)
{
    /* The result depends on the source (or brush) only: PUT, possibly of
     * the inverted source or brush, or a constant. */
    uint16_t op = rop & (uint16_t) ~(SPICE_ROPD_INVERS_SRC | SPICE_ROPD_INVERS_BRUSH |
                                     SPICE_ROPD_INVERS_RES);
    return op == SPICE_ROPD_OP_PUT || op == SPICE_ROPD_OP_BLACKNESS ||
           op == SPICE_ROPD_OP_WHITENESS;
}

static uint64_t image_bytes(const struct qxl_image *img)
{
    return img && img->data ? (uint64_t)img->stride * img->height : 0;
}

static uint64_t drawable_raw_bytes(const struct qxl_drawable *d)
{
    uint64_t n = image_bytes(d->mask.bitmap);
    switch (d->type) {
    case QXL_DRAW_FILL:
        n += image_bytes(d->u.fill.brush.pattern);
        break;
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND:
        n += image_bytes(d->u.copy.src);
        break;
    case QXL_DRAW_OPAQUE:
        n += image_bytes(d->u.opaque.src) + image_bytes(d->u.opaque.brush.pattern);
        break;
    case QXL_DRAW_TRANSPARENT:
        n += image_bytes(d->u.transparent.src);
        break;
    case QXL_DRAW_ALPHA_BLEND:
        n += image_bytes(d->u.alpha_blend.src);
        break;
    case QXL_DRAW_ROP3:
        n += image_bytes(d->u.rop3.src) + image_bytes(d->u.rop3.brush.pattern);
        break;
    case QXL_DRAW_COMPOSITE:
        n += image_bytes(d->u.composite.src) + image_bytes(d->u.composite.mask);
        break;
    default:
        break;
    }
    return n;
}

/* Whether the draw overwrites its whole area whatever was there. */
static bool drawable_is_opaque(const struct qxl_drawable *d)
{
    if (d->mask.bitmap) {
        return false;
    }
    switch (d->type) {
    case QXL_DRAW_FILL:
        return rop_is_opaque(d->u.fill.rop_descriptor);
    case QXL_DRAW_COPY:
        return d->u.copy.src && rop_is_opaque(d->u.copy.rop_descriptor);
    case QXL_DRAW_OPAQUE:
        return d->u.opaque.src && d->u.opaque.rop_descriptor == SPICE_ROPD_OP_PUT;
    case QXL_COPY_BITS:
    case QXL_DRAW_BLACKNESS:
    case QXL_DRAW_WHITENESS:
        return true;
    default:
        return false;
    }
}

struct draw_item *draw_item_create(struct qxl_drawable *d, uint32_t surface_width,
                                   uint32_t surface_height)
{
    struct draw_item *item = calloc(1, sizeof(*item));
    if (!item) {
        return NULL;
    }
    item->refs = 1;
    item->d = *d;
    memset(d, 0, sizeof(*d));
    item->alive = true;
    item->raw_bytes = drawable_raw_bytes(&item->d);

    const struct qxl_rect *b = &item->d.bbox;
    int32_t left = b->left > 0 ? b->left : 0, top = b->top > 0 ? b->top : 0;
    int32_t right = b->right < (int32_t)surface_width ? b->right : (int32_t)surface_width;
    int32_t bottom = b->bottom < (int32_t)surface_height ? b->bottom : (int32_t)surface_height;
    if (left < right && top < bottom) {
        pixman_region32_init_rect(&item->full, left, top, (unsigned)(right - left),
                                  (unsigned)(bottom - top));
    } else {
        pixman_region32_init(&item->full);
    }
    if (item->d.clip_type == SPICE_CLIP_TYPE_RECTS) {
        pixman_region32_t clip;
        pixman_region32_init(&clip);
        for (uint32_t i = 0; i < item->d.num_clip_rects; i++) {
            const struct qxl_rect *r = &item->d.clip_rects[i];
            if (r->left < r->right && r->top < r->bottom) {
                pixman_region32_union_rect(&clip, &clip, r->left, r->top,
                                           (unsigned)(r->right - r->left),
                                           (unsigned)(r->bottom - r->top));
            }
        }
        pixman_region32_intersect(&item->full, &item->full, &clip);
        pixman_region32_fini(&clip);
    }
    pixman_region32_init(&item->visible);
    pixman_region32_copy(&item->visible, &item->full);
    pixman_region32_init(&item->protected_area);
    item->opaque = drawable_is_opaque(&item->d);
    return item;
}

struct draw_item *draw_item_ref(struct draw_item *item)
{
    item->refs++;
    return item;
}

static void draw_item_drop_built(struct draw_item *item)
{
    for (int i = 0; i < item->num_built; i++) {
        shared_msg_unref(item->built[i].msg);
    }
    item->num_built = 0;
}

void draw_item_unref(struct draw_item *item)
{
    if (!item || --item->refs > 0) {
        return;
    }
    qxl_drawable_finish(&item->d);
    draw_item_drop_built(item);
    pixman_region32_fini(&item->full);
    pixman_region32_fini(&item->visible);
    pixman_region32_fini(&item->protected_area);
    free(item);
}

/* Takes the item out of its tree (dropping the tree's reference). */
static void draw_item_unlink(struct draw_item *item)
{
    struct draw_tree *t = item->tree;
    if (!t) {
        return;
    }
    if (item->prev) {
        item->prev->next = item->next;
    } else {
        t->head = item->next;
    }
    if (item->next) {
        item->next->prev = item->prev;
    } else {
        t->tail = item->prev;
    }
    item->prev = item->next = NULL;
    item->tree = NULL;
    t->count--;
    draw_item_unref(item);
}

void draw_item_hold(struct draw_item *item)
{
    item->unsent++;
}

void draw_item_release_holder(struct draw_item *item)
{
    if (item->unsent > 0 && --item->unsent == 0) {
        draw_item_unlink(item);
    }
}

bool draw_item_is_whole(const struct draw_item *item)
{
    return pixman_region32_equal((pixman_region32_t *)&item->visible,
                                 (pixman_region32_t *)&item->full);
}

/* Hidden entirely: nothing of it will ever be sent. */
static void draw_item_kill(struct draw_item *item)
{
    item->alive = false;
    qxl_drawable_finish(&item->d);
    draw_item_drop_built(item);
    draw_item_unlink(item); /* may free it */
}

void draw_item_discard(struct draw_item *item)
{
    if (item->alive) {
        pixman_region32_clear(&item->visible);
        draw_item_kill(item);
    }
}

static bool extents_overlap(const pixman_box32_t *a, const pixman_box32_t *b)
{
    return a->x1 < b->x2 && b->x1 < a->x2 && a->y1 < b->y2 && b->y1 < a->y2;
}

/* Pins `area` of the items of one tree: a later draw reads it. */
static void draw_tree_protect(struct draw_tree *t, pixman_region32_t *area)
{
    if (!t->head || !pixman_region32_not_empty(area)) {
        return;
    }
    const pixman_box32_t *ae = pixman_region32_extents(area);
    pixman_region32_t part;
    pixman_region32_init(&part);
    for (struct draw_item *it = t->head; it; it = it->next) {
        if (!extents_overlap(pixman_region32_extents(&it->visible), ae)) {
            continue;
        }
        pixman_region32_intersect(&part, &it->visible, area);
        pixman_region32_union(&it->protected_area, &it->protected_area, &part);
    }
    pixman_region32_fini(&part);
}

static struct draw_tree *tree_of(struct draw_tree *trees, uint32_t n_trees, uint32_t surface_id)
{
    return surface_id < n_trees ? &trees[surface_id] : NULL;
}

/* A source image of the item: a SURFACE image reads `area` of that surface
 * (or all of it when area is NULL). */
static void protect_source(struct draw_tree *trees, uint32_t n_trees, const struct qxl_image *img,
                           const struct qxl_rect *area)
{
    if (!img || img->type != SPICE_IMAGE_TYPE_SURFACE) {
        return;
    }
    struct draw_tree *t = tree_of(trees, n_trees, img->surface_id);
    if (!t || !t->head) {
        return;
    }
    pixman_region32_t r;
    if (area && area->left < area->right && area->top < area->bottom) {
        pixman_region32_init_rect(&r, area->left, area->top, (unsigned)(area->right - area->left),
                                  (unsigned)(area->bottom - area->top));
    } else {
        pixman_region32_init_rect(&r, INT32_MIN / 2, INT32_MIN / 2, UINT32_MAX / 2, UINT32_MAX / 2);
    }
    draw_tree_protect(t, &r);
    pixman_region32_fini(&r);
}

static void draw_tree_apply_reads(struct draw_tree *trees, uint32_t n_trees, struct draw_item *item)
{
    const struct qxl_drawable *d = &item->d;
    struct draw_tree *own = tree_of(trees, n_trees, d->surface_id);
    protect_source(trees, n_trees, d->mask.bitmap, NULL);
    switch (d->type) {
    case QXL_DRAW_FILL:
        protect_source(trees, n_trees, d->u.fill.brush.pattern, NULL);
        break;
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND:
        protect_source(trees, n_trees, d->u.copy.src, &d->u.copy.src_area);
        break;
    case QXL_DRAW_OPAQUE:
        protect_source(trees, n_trees, d->u.opaque.src, &d->u.opaque.src_area);
        protect_source(trees, n_trees, d->u.opaque.brush.pattern, NULL);
        break;
    case QXL_DRAW_TRANSPARENT:
        protect_source(trees, n_trees, d->u.transparent.src, &d->u.transparent.src_area);
        break;
    case QXL_DRAW_ALPHA_BLEND:
        protect_source(trees, n_trees, d->u.alpha_blend.src, &d->u.alpha_blend.src_area);
        break;
    case QXL_DRAW_ROP3:
        protect_source(trees, n_trees, d->u.rop3.src, &d->u.rop3.src_area);
        protect_source(trees, n_trees, d->u.rop3.brush.pattern, NULL);
        break;
    case QXL_DRAW_STROKE:
        protect_source(trees, n_trees, d->u.stroke.brush.pattern, NULL);
        break;
    case QXL_DRAW_TEXT:
        protect_source(trees, n_trees, d->u.text.fore_brush.pattern, NULL);
        protect_source(trees, n_trees, d->u.text.back_brush.pattern, NULL);
        break;
    case QXL_DRAW_COMPOSITE:
        protect_source(trees, n_trees, d->u.composite.src, NULL);
        protect_source(trees, n_trees, d->u.composite.mask, NULL);
        break;
    case QXL_COPY_BITS:
        if (own) {
            /* It reads the same-shaped area at src_pos. */
            pixman_region32_t src;
            pixman_region32_init(&src);
            pixman_region32_copy(&src, &item->full);
            pixman_region32_translate(&src, d->u.copy_bits.src_pos.x - d->bbox.left,
                                      d->u.copy_bits.src_pos.y - d->bbox.top);
            draw_tree_protect(own, &src);
            pixman_region32_fini(&src);
        }
        break;
    default:
        break;
    }
    if (own && !item->opaque) {
        /* Its result depends on what is under it. */
        draw_tree_protect(own, &item->full);
    }
}

/* Subtracts the new item's opaque area from the earlier items it covers. */
static void draw_tree_hide(struct draw_tree *t, struct draw_item *top,
                           struct draw_tree_stats *stats)
{
    const pixman_box32_t *te = pixman_region32_extents(&top->full);
    pixman_region32_t hide;
    pixman_region32_init(&hide);
    for (struct draw_item *it = t->head, *next; it; it = next) {
        next = it->next;
        if (!extents_overlap(pixman_region32_extents(&it->visible), te)) {
            continue;
        }
        bool was_whole = draw_item_is_whole(it);
        if (pixman_region32_not_empty(&it->protected_area)) {
            pixman_region32_subtract(&hide, &top->full, &it->protected_area);
            pixman_region32_subtract(&it->visible, &it->visible, &hide);
        } else {
            pixman_region32_subtract(&it->visible, &it->visible, &top->full);
        }
        if (!pixman_region32_not_empty(&it->visible)) {
            if (stats) {
                stats->items_killed++;
            }
            draw_item_kill(it);
        } else if (was_whole && stats && !draw_item_is_whole(it)) {
            stats->items_clipped++;
        }
    }
    pixman_region32_fini(&hide);
}

void draw_tree_add(struct draw_tree *trees, uint32_t n_trees, struct draw_item *item,
                   struct draw_tree_stats *stats)
{
    struct draw_tree *t = tree_of(trees, n_trees, item->d.surface_id);
    if (!t) {
        return;
    }
    draw_tree_apply_reads(trees, n_trees, item);
    if (item->opaque && t->head && pixman_region32_not_empty(&item->full)) {
        draw_tree_hide(t, item, stats);
    }
    if (item->unsent > 0 && item->alive && !item->tree) {
        item->tree = t;
        item->prev = t->tail;
        item->next = NULL;
        if (t->tail) {
            t->tail->next = item;
        } else {
            t->head = item;
        }
        t->tail = item;
        t->count++;
        draw_item_ref(item);
        while (t->count > DRAW_TREE_MAX_ITEMS) {
            draw_item_unlink(t->head);
        }
    }
}

void draw_tree_clear(struct draw_tree *tree)
{
    while (tree->head) {
        draw_item_unlink(tree->head);
    }
}
