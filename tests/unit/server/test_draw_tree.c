/*
 * The draw tree (src/server/draw_tree.h) on its own, then the display
 * pipeline around it seen on the wire of a fake client
 * (tests/unit/server/fake_host.h): a draw hidden before the client started
 * it never reaches the wire, a partly hidden one goes clipped to what still
 * shows, and an area a later reader (copy-bits, a ROP, a copy from a
 * surface) needs is never hidden.
 *
 * Every case builds its own trees or server and tears them down; every
 * wait is bounded.
 */
#include <stdlib.h>
#include <string.h>

#include <spice/protocol.h>
#include <spice/qxl_dev.h>

#include "check.h"
#include "common/bytes.h"
#include "fake_host.h"
#include "server/draw_tree.h"

#define WAIT_MS 3000
#define SURF_W  64
#define SURF_H  48

/* ---- the tree alone ---- */

static struct qxl_drawable fill(uint32_t surface, int x, int y, int w, int h, uint16_t rop)
{
    struct qxl_drawable d;
    memset(&d, 0, sizeof(d));
    d.surface_id = surface;
    d.type = QXL_DRAW_FILL;
    d.bbox = (struct qxl_rect){y, x, y + h, x + w};
    d.clip_type = SPICE_CLIP_TYPE_NONE;
    d.u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
    d.u.fill.rop_descriptor = rop;
    return d;
}

/* Creates an item from d with one holder and adds it to trees. */
static struct draw_item *add(struct draw_tree *trees, struct qxl_drawable d,
                             struct draw_tree_stats *st)
{
    struct draw_item *it = draw_item_create(&d, SURF_W, SURF_H);
    if (!it) {
        return NULL;
    }
    draw_item_hold(it);
    draw_tree_add(trees, 2, it, st);
    return it;
}

static bool visible_is(struct draw_item *it, int x, int y, int w, int h)
{
    pixman_region32_t r;
    pixman_region32_init_rect(&r, x, y, (unsigned)w, (unsigned)h);
    bool eq = pixman_region32_equal(&r, &it->visible);
    pixman_region32_fini(&r);
    return eq;
}

static void done(struct draw_tree *trees, struct draw_item **items, int n)
{
    for (int i = 0; i < n; i++) {
        draw_item_release_holder(items[i]);
        draw_item_unref(items[i]);
    }
    draw_tree_clear(&trees[0]);
    draw_tree_clear(&trees[1]);
}

static void test_tree_hidden_dies(void)
{
    struct draw_tree trees[2] = {{0}};
    struct draw_tree_stats st = {0};
    struct draw_item *it[3];
    it[0] = add(trees, fill(0, 8, 8, 10, 10, SPICE_ROPD_OP_PUT), &st);
    it[1] = add(trees, fill(0, 30, 8, 10, 10, SPICE_ROPD_OP_PUT), &st);
    CHECK_EQ(trees[0].count, 2u);
    it[2] = add(trees, fill(0, 0, 0, 20, 20, SPICE_ROPD_OP_PUT), &st);
    CHECK(!it[0]->alive);
    CHECK(it[1]->alive);
    CHECK(it[2]->alive);
    CHECK_EQ(trees[0].count, 2u);
    CHECK_EQ(st.items_killed, 1u);
    /* Its images are gone at once; the queues just skip it. */
    CHECK_EQ(it[0]->d.type, 0);
    /* Another surface hides nothing here. */
    struct draw_item *other = add(trees, fill(1, 0, 0, SURF_W, SURF_H, SPICE_ROPD_OP_PUT), &st);
    CHECK(it[1]->alive);
    done(trees, it, 3);
    done(trees, &other, 1);
}

static void test_tree_partly_hidden(void)
{
    struct draw_tree trees[2] = {{0}};
    struct draw_tree_stats st = {0};
    struct draw_item *it[3];
    it[0] = add(trees, fill(0, 0, 0, 32, 16, SPICE_ROPD_OP_PUT), &st);
    it[1] = add(trees, fill(0, 16, 0, 16, 16, SPICE_ROPD_OP_PUT), &st);
    CHECK(it[0]->alive);
    CHECK(!draw_item_is_whole(it[0]));
    CHECK(visible_is(it[0], 0, 0, 16, 16));
    CHECK_EQ(st.items_clipped, 1u);
    /* Clipped by the surface: a bbox past the edge is whole at its edge. */
    it[2] = add(trees, fill(0, 40, 40, 100, 100, SPICE_ROPD_OP_PUT), &st);
    CHECK(draw_item_is_whole(it[2]));
    CHECK(visible_is(it[2], 40, 40, SURF_W - 40, SURF_H - 40));
    done(trees, it, 3);
}

static void test_tree_non_opaque_hides_nothing(void)
{
    struct draw_tree trees[2] = {{0}};
    struct draw_item *it[3];
    it[0] = add(trees, fill(0, 0, 0, 16, 16, SPICE_ROPD_OP_PUT), NULL);
    /* An XOR reads what is under it: the first fill must reach the client. */
    it[1] = add(trees, fill(0, 0, 0, 16, 16, SPICE_ROPD_OP_XOR), NULL);
    CHECK(draw_item_is_whole(it[0]));
    /* An opaque draw over both hides the XOR, but not what the XOR read. */
    it[2] = add(trees, fill(0, 0, 0, 16, 16, SPICE_ROPD_OP_PUT), NULL);
    CHECK(!it[1]->alive);
    CHECK(it[0]->alive);
    CHECK(visible_is(it[0], 0, 0, 16, 16));
    done(trees, it, 3);
}

static void test_tree_copy_bits_keeps_its_source(void)
{
    struct draw_tree trees[2] = {{0}};
    struct draw_item *it[4];
    it[0] = add(trees, fill(0, 0, 0, 16, 16, SPICE_ROPD_OP_PUT), NULL);
    /* Scroll: copy (0,8)-(16,16) to (0,0)-(16,8). */
    struct qxl_drawable cb = fill(0, 0, 0, 16, 8, 0);
    cb.type = QXL_COPY_BITS;
    cb.u.copy_bits.src_pos = (struct qxl_point){0, 8};
    it[1] = add(trees, cb, NULL);
    /* The copy-bits overwrites its destination: the top half of the fill
     * is hidden, the bottom half it read is not. */
    CHECK(it[1]->opaque);
    CHECK(it[0]->alive);
    CHECK(visible_is(it[0], 0, 8, 16, 8));
    /* The new line drawn where the source was may not hide it either. */
    it[2] = add(trees, fill(0, 0, 8, 16, 8, SPICE_ROPD_OP_PUT), NULL);
    CHECK(it[0]->alive);
    CHECK(visible_is(it[0], 0, 8, 16, 8));
    /* Something that was never read can still go. */
    it[3] = add(trees, fill(0, 0, 0, 16, 8, SPICE_ROPD_OP_PUT), NULL);
    CHECK(!it[1]->alive);
    done(trees, it, 4);
}

static void test_tree_surface_source_kept(void)
{
    struct draw_tree trees[2] = {{0}};
    struct draw_item *it[3];
    it[0] = add(trees, fill(1, 0, 0, 16, 16, SPICE_ROPD_OP_PUT), NULL);
    /* Copy from surface 1 to surface 0. */
    struct qxl_image *src = calloc(1, sizeof(*src));
    CHECK(src != NULL);
    src->type = SPICE_IMAGE_TYPE_SURFACE;
    src->surface_id = 1;
    src->width = SURF_W;
    src->height = SURF_H;
    struct qxl_drawable cp = fill(0, 0, 0, 16, 16, SPICE_ROPD_OP_PUT);
    cp.type = QXL_DRAW_COPY;
    memset(&cp.u, 0, sizeof(cp.u));
    cp.u.copy.src = src;
    cp.u.copy.src_area = (struct qxl_rect){0, 0, 8, 16};
    cp.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    it[1] = add(trees, cp, NULL);
    CHECK(it[1]->opaque);
    /* Surface 1 redrawn: the part the copy read stays. */
    it[2] = add(trees, fill(1, 0, 0, 16, 16, SPICE_ROPD_OP_PUT), NULL);
    CHECK(it[0]->alive);
    CHECK(visible_is(it[0], 0, 0, 16, 8));
    done(trees, it, 3);
}

static void test_tree_holders(void)
{
    struct draw_tree trees[2] = {{0}};
    struct qxl_drawable d = fill(0, 0, 0, 8, 8, SPICE_ROPD_OP_PUT);
    struct draw_item *nobody = draw_item_create(&d, SURF_W, SURF_H);
    CHECK(nobody != NULL);
    draw_tree_add(trees, 2, nobody, NULL);
    CHECK_EQ(trees[0].count, 0u); /* no client holds it: nothing to drop */
    struct draw_item *it = add(trees, fill(0, 0, 0, 8, 8, SPICE_ROPD_OP_PUT), NULL);
    draw_item_hold(it);
    CHECK_EQ(trees[0].count, 1u);
    draw_item_release_holder(it); /* one client started it */
    CHECK_EQ(trees[0].count, 1u);
    draw_item_release_holder(it); /* all did */
    CHECK_EQ(trees[0].count, 0u);
    /* Out of the tree, nothing hides it any more. */
    struct draw_item *top = add(trees, fill(0, 0, 0, 8, 8, SPICE_ROPD_OP_PUT), NULL);
    CHECK(it->alive);
    /* A destroyed surface's items stay as they are. */
    draw_tree_clear(&trees[0]);
    CHECK_EQ(trees[0].count, 0u);
    CHECK(top->alive);
    draw_item_unref(it);
    draw_item_unref(nobody);
    done(trees, &top, 1);
}

/* Behind a client that stopped reading, the tree stays bounded: the
 * oldest items leave it (and are sent as they are). */
static void test_tree_bounded(void)
{
    struct draw_tree trees[2] = {{0}};
    enum { N = 1100 };
    struct draw_item **items = calloc(N, sizeof(*items));
    CHECK(items != NULL);
    for (int i = 0; i < N; i++) {
        items[i] = add(trees, fill(0, i % SURF_W, (i / SURF_W) % SURF_H, 1, 1, SPICE_ROPD_OP_PUT),
                       NULL);
        CHECK(items[i] != NULL);
    }
    CHECK(trees[0].count <= 1024u);
    CHECK(trees[0].count >= 1000u);
    CHECK(items[0]->tree == NULL);
    CHECK(items[N - 1]->tree == &trees[0]);
    /* Out of the tree, the first one is no longer hidden by anything. */
    struct draw_item *top = add(trees, fill(0, 0, 0, SURF_W, SURF_H, SPICE_ROPD_OP_PUT), NULL);
    CHECK(items[0]->alive);
    CHECK(!items[N - 1]->alive);
    done(trees, items, N);
    done(trees, &top, 1);
    free(items);
}

/* ---- on the wire ---- */

struct session {
    struct fake_host *h;
    struct fake_client main;
    uint32_t id;
};

static bool session_open(struct session *s)
{
    memset(s, 0, sizeof(*s));
    struct fake_host_options o = {.noauth = true, .qxl = true, .quiet = true};
    s->h = fake_host_create(&o);
    if (!s->h) {
        return false;
    }
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    if (fake_client_link(s->h, &s->main, &l, NULL) != SPICE_LINK_ERR_OK) {
        return false;
    }
    struct fake_msg m;
    if (fake_client_wait_msg(&s->main, SPICE_MSG_MAIN_INIT, &m, WAIT_MS) < 0) {
        return false;
    }
    s->id = m.size >= 4 ? get_u32le(m.data) : 0;
    free(m.data);
    return true;
}

static void session_close(struct session *s)
{
    fake_client_close(&s->main);
    fake_host_destroy(s->h);
    s->h = NULL;
}

/* A display client that got the screen; no DISPLAY_INIT (no cache, no GLZ). */
static bool display_open(struct session *s, struct fake_client *dc)
{
    struct fake_link l = fake_link_default(s->id, SPICE_CHANNEL_DISPLAY, 0);
    if (fake_client_link(s->h, dc, &l, NULL) != SPICE_LINK_ERR_OK) {
        return false;
    }
    struct fake_msg m;
    if (fake_client_wait_msg(dc, SPICE_MSG_DISPLAY_MARK, &m, WAIT_MS) < 0) {
        return false;
    }
    free(m.data);
    return true;
}

/* What a draw message says (DisplayBase, then the op). */
struct seen_draw {
    uint16_t type;
    int32_t top, left, bottom, right;
    uint8_t clip_type;
    uint32_t num_rects;
    int32_t rect[4]; /* the first clip rect: top, left, bottom, right */
    uint32_t fill_color;
};

#define MAX_SEEN 256

/* Acknowledges everything and reads what comes until the wire is quiet. */
static int drain(struct fake_client *dc, struct seen_draw *seen, int max)
{
    uint8_t gen[4];
    put_u32le(gen, 1);
    fake_client_send_msg(dc, SPICE_MSGC_ACK_SYNC, gen, 4);
    int n = 0;
    for (int round = 0; round < 20; round++) {
        fake_client_send_msg(dc, SPICE_MSGC_ACK, NULL, 0);
        struct fake_msg m;
        int got = 0;
        while (fake_client_read_msg(dc, &m, 50) == 0) {
            got++;
            if (m.type >= SPICE_MSG_DISPLAY_DRAW_FILL &&
                m.type <= SPICE_MSG_DISPLAY_DRAW_COMPOSITE && m.size >= 21 && n < max) {
                struct seen_draw *s = &seen[n++];
                memset(s, 0, sizeof(*s));
                s->type = m.type;
                s->top = (int32_t)get_u32le(m.data + 4);
                s->left = (int32_t)get_u32le(m.data + 8);
                s->bottom = (int32_t)get_u32le(m.data + 12);
                s->right = (int32_t)get_u32le(m.data + 16);
                s->clip_type = m.data[20];
                uint32_t at = 21;
                if (s->clip_type == SPICE_CLIP_TYPE_RECTS && m.size >= 25) {
                    s->num_rects = get_u32le(m.data + 21);
                    at = 25 + 16 * s->num_rects;
                    if (s->num_rects > 0 && m.size >= 41) {
                        for (int k = 0; k < 4; k++) {
                            s->rect[k] = (int32_t)get_u32le(m.data + 25 + 4 * k);
                        }
                    }
                }
                /* DrawFill: Brush {u8 type; u32 color}. */
                if (m.type == SPICE_MSG_DISPLAY_DRAW_FILL && at + 5 <= m.size) {
                    s->fill_color = get_u32le(m.data + at + 1);
                }
            }
            free(m.data);
        }
        if (got == 0 && round > 2) {
            break;
        }
    }
    return n;
}

/* Fills the client's ack window with small draws it does not acknowledge
 * (one pixel each along the bottom row, so none hides another): each is
 * pushed once the previous one arrived, until one does not, so that what
 * follows waits in the server's queue. */
static bool close_window(struct session *s, struct fake_client *dc)
{
    for (int i = 0; i < 60; i++) {
        fake_qxl_push_fill(s->h, i, SURF_H - 1, 1, 1, (uint32_t)i);
        struct fake_msg m;
        if (fake_client_read_msg(dc, &m, 200) < 0) {
            return true;
        }
        free(m.data);
    }
    return false;
}

static void test_wire_hidden_never_sent(void)
{
    struct session s;
    CHECK(session_open(&s));
    struct fake_client dc;
    CHECK(display_open(&s, &dc));
    CHECK(close_window(&s, &dc));
    for (int i = 0; i < 30; i++) {
        CHECK_EQ(fake_qxl_push_copy(s.h, 8, 8, 16, 16, 0x100000u * (uint32_t)(i + 1)), 0);
    }
    CHECK_EQ(fake_qxl_push_fill(s.h, 0, 0, 32, 32, 0xabcdefu), 0);
    fake_host_run_for(s.h, 100);
    struct seen_draw seen[MAX_SEEN];
    int n = drain(&dc, seen, MAX_SEEN);
    int copies = 0, fills = 0;
    for (int i = 0; i < n; i++) {
        copies += seen[i].type == SPICE_MSG_DISPLAY_DRAW_COPY;
        fills += seen[i].type == SPICE_MSG_DISPLAY_DRAW_FILL && seen[i].fill_color == 0xabcdefu;
    }
    CHECK_EQ(copies, 0);
    CHECK_EQ(fills, 1);
    CHECK(n > 0 && seen[n - 1].fill_color == 0xabcdefu);
    fake_client_close(&dc);
    session_close(&s);
}

static void test_wire_partly_hidden_clipped(void)
{
    struct session s;
    CHECK(session_open(&s));
    struct fake_client dc;
    CHECK(display_open(&s, &dc));
    CHECK(close_window(&s, &dc));
    CHECK_EQ(fake_qxl_push_copy(s.h, 0, 0, 32, 16, 0x112233u), 0);
    CHECK_EQ(fake_qxl_push_fill(s.h, 16, 0, 16, 16, 0x445566u), 0);
    fake_host_run_for(s.h, 100);
    struct seen_draw seen[MAX_SEEN];
    int n = drain(&dc, seen, MAX_SEEN);
    int copies = 0;
    for (int i = 0; i < n; i++) {
        if (seen[i].type != SPICE_MSG_DISPLAY_DRAW_COPY) {
            continue;
        }
        copies++;
        /* Clipped to its left half, which alone still shows. */
        CHECK_EQ(seen[i].clip_type, SPICE_CLIP_TYPE_RECTS);
        CHECK_EQ(seen[i].num_rects, 1u);
        CHECK_EQ(seen[i].rect[0], 0);
        CHECK_EQ(seen[i].rect[1], 0);
        CHECK_EQ(seen[i].rect[2], 16);
        CHECK_EQ(seen[i].rect[3], 16);
    }
    CHECK_EQ(copies, 1);
    fake_client_close(&dc);
    session_close(&s);
}

/* Two clients: one reads, one does not; the reading one gets every draw,
 * the other only what is not hidden meanwhile, and neither waits for the
 * other. */
static void test_wire_two_clients(void)
{
    struct session s;
    CHECK(session_open(&s));
    struct fake_client fast, slow;
    CHECK(display_open(&s, &fast));
    CHECK(display_open(&s, &slow));
    uint8_t gen[4];
    put_u32le(gen, 1);
    CHECK_EQ(fake_client_send_msg(&fast, SPICE_MSGC_ACK_SYNC, gen, 4), 0);
    CHECK(close_window(&s, &slow));
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(fake_client_send_msg(&fast, SPICE_MSGC_ACK, NULL, 0), 0);
    }
    struct seen_draw seen[MAX_SEEN];
    drain(&fast, seen, MAX_SEEN);
    int copies = 0;
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(fake_qxl_push_copy(s.h, 8, 8, 16, 16, 0x010101u * (uint32_t)(i + 1)), 0);
        struct fake_msg m;
        CHECK_EQ(fake_client_wait_msg(&fast, SPICE_MSG_DISPLAY_DRAW_COPY, &m, WAIT_MS), 0);
        free(m.data);
        copies++;
        CHECK_EQ(fake_client_send_msg(&fast, SPICE_MSGC_ACK, NULL, 0), 0);
    }
    CHECK_EQ(copies, 10);
    CHECK_EQ(fake_qxl_push_fill(s.h, 0, 0, 32, 32, 0xabcdefu), 0);
    fake_host_run_for(s.h, 100);
    int n = drain(&slow, seen, MAX_SEEN);
    copies = 0;
    for (int i = 0; i < n; i++) {
        copies += seen[i].type == SPICE_MSG_DISPLAY_DRAW_COPY;
    }
    CHECK_EQ(copies, 0);
    CHECK(n > 0 && seen[n - 1].fill_color == 0xabcdefu);
    fake_client_close(&fast);
    fake_client_close(&slow);
    session_close(&s);
}

/* With composing on: consecutive queued draws go as one DRAW_COPY of their
 * union. */
static void test_wire_merged(void)
{
    setenv("CLOVE_DISPLAY_COMPOSE", "1", 1);
    struct session s;
    CHECK(session_open(&s));
    struct fake_client dc;
    CHECK(display_open(&s, &dc));
    CHECK(close_window(&s, &dc));
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(fake_qxl_push_copy(s.h, 4 * i, 8, 4, 8, 0x010101u * (uint32_t)(i + 1)), 0);
        CHECK_EQ(fake_qxl_push_fill(s.h, 4 * i, 16, 4, 4, 0x020202u * (uint32_t)(i + 1)), 0);
    }
    fake_host_run_for(s.h, 100);
    struct seen_draw seen[MAX_SEEN];
    int n = drain(&dc, seen, MAX_SEEN);
    int draws = 0;
    bool union_seen = false;
    for (int i = 0; i < n; i++) {
        if (seen[i].top == SURF_H - 1) {
            continue; /* what closed the window */
        }
        draws++;
        /* (The fill still queued from close_window may be merged in.) */
        union_seen |= seen[i].type == SPICE_MSG_DISPLAY_DRAW_COPY && seen[i].left <= 4 &&
                      seen[i].right == 40 && seen[i].top <= 8 && seen[i].bottom >= 20;
    }
    /* The first may have been built alone; the rest went as one. */
    CHECK(draws <= 2);
    CHECK(union_seen || draws == 2);

    fake_client_close(&dc);
    session_close(&s);
    setenv("CLOVE_DISPLAY_COMPOSE", "0", 1);
}

/* Pacing: a burst starts CLOVE_DISPLAY_PACE_MS after the previous one
 * ended; what comes meanwhile waits in the queue. */
static void test_wire_paced(void)
{
    setenv("CLOVE_DISPLAY_PACE_MS", "300", 1);
    struct session s;
    CHECK(session_open(&s));
    struct fake_client dc;
    CHECK(display_open(&s, &dc));
    struct fake_msg m;
    /* Long after the connect burst: goes at once. */
    fake_host_run_for(s.h, 350);
    CHECK_EQ(fake_qxl_push_fill(s.h, 0, 0, 8, 8, 0x111111u), 0);
    CHECK_EQ(fake_client_wait_msg(&dc, SPICE_MSG_DISPLAY_DRAW_FILL, &m, 250), 0);
    free(m.data);
    /* Right after it: held back until 300 ms after the first one went. */
    CHECK_EQ(fake_qxl_push_fill(s.h, 16, 0, 8, 8, 0x222222u), 0);
    CHECK(fake_client_read_msg(&dc, &m, 100) < 0);
    CHECK_EQ(fake_client_wait_msg(&dc, SPICE_MSG_DISPLAY_DRAW_FILL, &m, 1000), 0);
    free(m.data);
    fake_client_close(&dc);
    session_close(&s);
    setenv("CLOVE_DISPLAY_PACE_MS", "0", 1);
}

int main(void)
{
    /* The plain path: one message per draw, no pacing (test_wire_merged
     * turns composing on for itself). */
    setenv("CLOVE_DISPLAY_COMPOSE", "0", 1);
    setenv("CLOVE_DISPLAY_PACE_MS", "0", 1);
    return check_run((struct check_case[]){CHECK_CASE(test_tree_hidden_dies),
                                           CHECK_CASE(test_tree_partly_hidden),
                                           CHECK_CASE(test_tree_non_opaque_hides_nothing),
                                           CHECK_CASE(test_tree_copy_bits_keeps_its_source),
                                           CHECK_CASE(test_tree_surface_source_kept),
                                           CHECK_CASE(test_tree_holders),
                                           CHECK_CASE(test_tree_bounded),
                                           CHECK_CASE(test_wire_hidden_never_sent),
                                           CHECK_CASE(test_wire_partly_hidden_clipped),
                                           CHECK_CASE(test_wire_two_clients),
                                           CHECK_CASE(test_wire_merged),
                                           CHECK_CASE(test_wire_paced),
                                           {0}});
}
