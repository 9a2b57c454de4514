/*
 * The draw tree: per surface, the draw items that some client has queued
 * but not started to send, in z-order, each with the region where its
 * pixels still show.
 *
 * A draw item is one parsed QXL draw command (it owns its images), shared
 * by the send queues of every display client (refcounted). Clients encode
 * it only when it is about to be written, clipped to its visible region at
 * that moment, so a draw that later ones hide costs neither CPU nor bytes.
 *
 * Adding an item (draw_tree_add) does, in order:
 *   1. Reads: every area the new item's result depends on (its destination
 *      for ROPs, blends, inverts, composites...; the source rectangle of a
 *      copy-bits or of a copy from a surface) is marked "protected" in the
 *      earlier items it overlaps: those pixels must reach the client before
 *      the reader does, so they are never dropped.
 *   2. Hiding: the area the new item overwrites whatever was there (its
 *      opaque region: PUT/BLACKNESS/WHITENESS fills and copies, copy-bits,
 *      with no mask) is subtracted from the visible region of the earlier
 *      items on its surface, except where they are protected. An item whose
 *      visible region becomes empty dies: its drawable is freed at once and
 *      every queue skips it.
 *   3. The item joins the tree if some client holds it unsent.
 * An item leaves the tree when every holder has started it (or dropped it),
 * when it dies, or when its surface is destroyed (draw_tree_clear).
 *
 * Invariant: visible(A) = full(A) minus the opaque regions of the later
 * items on A's surface, except for A's protected parts. A client that sends
 * A clipped to visible(A) and every later item in order ends on the same
 * pixels as one sending A whole: the rest of A is overwritten by later
 * items, which every client gets (or gets refreshed from the server's
 * canvas when it fell behind).
 *
 * Thread: the worker's.
 */
#ifndef CLOVE_SERVER_DRAW_TREE_H
#define CLOVE_SERVER_DRAW_TREE_H

#include <pixman.h>
#include <stdbool.h>
#include <stdint.h>

#include "display/qxl_parse.h"

struct shared_msg;
struct draw_tree;

/* Encodings of one item kept for clients with the same profile. */
#define DRAW_ITEM_BUILT_MAX 4

struct draw_item {
    int refs;
    struct qxl_drawable d;            /* owns; finished (zeroed) when the item dies */
    bool alive;                       /* false: hidden entirely, never to be sent */
    bool opaque;                      /* overwrites `full` whatever is there */
    pixman_region32_t full;           /* bbox, clip rects and surface bounds */
    pixman_region32_t visible;        /* where its pixels still show */
    pixman_region32_t protected_area; /* parts a later reader needs */
    uint32_t unsent;                  /* queue entries that have not started it */
    uint64_t raw_bytes;               /* bytes of its images, as parsed */
    struct draw_tree *tree;           /* borrows; NULL once out of the tree */
    struct draw_item *prev, *next;    /* in tree */
    struct {
        unsigned profile;
        struct shared_msg *msg; /* owns a reference */
    } built[DRAW_ITEM_BUILT_MAX];
    int num_built;
};

/* One surface's unsent items, oldest first. */
struct draw_tree {
    struct draw_item *head, *tail;
    uint32_t count;
};

/* Statistics of a worker's trees (for logs and tests). */
struct draw_tree_stats {
    uint64_t items_killed;  /* hidden entirely before every client sent them */
    uint64_t items_clipped; /* partly hidden when added */
};

/*
 * Returns a new item (refs = 1) that takes everything `d` owns (*d is
 * zeroed), or NULL on allocation failure (then `d` is left untouched).
 * `surface_width`/`surface_height` bound its regions.
 */
struct draw_item *draw_item_create(struct qxl_drawable *d, uint32_t surface_width,
                                   uint32_t surface_height);
struct draw_item *draw_item_ref(struct draw_item *item);
/* Accepts NULL. */
void draw_item_unref(struct draw_item *item);

/* A client queued the item: one more holder that has not started it. */
void draw_item_hold(struct draw_item *item);
/* A holder starts sending it, or drops it unsent: one holder less. When no
 * holder is left the item leaves its tree. */
void draw_item_release_holder(struct draw_item *item);
/* Drops the item for good (it cannot be drawn): as if hidden entirely. */
void draw_item_discard(struct draw_item *item);
/* True if the item's visible region is all of what it draws. */
bool draw_item_is_whole(const struct draw_item *item);

/*
 * Adds `item` (borrows; the tree takes its own reference while it holds
 * it) on top of trees[item->d.surface_id], after applying its reads and
 * its opaque region as described above. `trees` has `n_trees` entries,
 * one per surface id; ids out of range are ignored. Items whose visible
 * region becomes empty die (stats->items_killed). The item joins the tree
 * only if it has holders.
 */
void draw_tree_add(struct draw_tree *trees, uint32_t n_trees, struct draw_item *item,
                   struct draw_tree_stats *stats);
/* Takes every item out of the tree (their surface is destroyed or gone):
 * they stay queued as they are. */
void draw_tree_clear(struct draw_tree *tree);

#endif
