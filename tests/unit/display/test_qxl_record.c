/*
 * Tests for display/qxl_record.c together with its reader, spice_replay_*
 * (server/replay.c): commands built in a fake guest are recorded into a
 * temporary file, replayed into host memory, and both sides are parsed with
 * qxl_parse_* (the guest's through its memslots, the replay's through an
 * identity slot, as a replay host maps it) and compared field by field.
 */
#include <spice.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "display/qxl_parse.h"
#include "display/qxl_record.h"
#include "guest_ram.h"

/* The host side of a replay: one slot covering the address space. */
static void host_table(struct memslot_table *t)
{
    memslot_table_init(t, 1, 1, 1, 1);
    memslot_add(t, 0, 0, 0, 0, UINTPTR_MAX, 0);
}

struct session {
    struct guest g;
    FILE *file;
    struct qxl_recorder *rec;
    struct memslot_table host;
};

static void session_init(struct session *s, bool compress)
{
    CHECK_EQ(guest_init(&s->g), 0);
    s->file = tmpfile();
    CHECK(s->file != NULL);
    s->rec = qxl_recorder_create(s->file, compress);
    CHECK(s->rec != NULL);
    host_table(&s->host);
}

static void record(struct session *s, uint32_t type, uint64_t addr, uint32_t flags)
{
    QXLCommandExt ext = {.cmd = {.data = addr, .type = type}, .group_id = 0, .flags = flags};
    qxl_recorder_command(s->rec, &s->g.table, &ext);
}

/* Stops recording and opens the file for replay (the replay owns the stream). */
static SpiceReplay *session_replay(struct session *s)
{
    fflush(s->file);
    FILE *copy = tmpfile();
    rewind(s->file);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), s->file)) > 0) {
        fwrite(buf, 1, n, copy);
    }
    rewind(copy);
    qxl_recorder_destroy(s->rec); /* closes s->file */
    s->rec = NULL;
    return spice_replay_new(copy, 1024);
}

static void session_finish(struct session *s, SpiceReplay *replay)
{
    spice_replay_free(replay);
    guest_finish(&s->g);
    memslot_table_finish(&s->host);
}

static uint64_t put_fill(struct guest *g, uint32_t color, int clips)
{
    QXLDrawable *d;
    uint64_t addr = guest_alloc(g, sizeof(*d), (void **)&d);
    memset(d, 0, sizeof(*d));
    d->type = QXL_DRAW_FILL;
    d->bbox = (QXLRect){.top = 1, .left = 2, .bottom = 30, .right = 40};
    d->surfaces_dest[0] = d->surfaces_dest[1] = d->surfaces_dest[2] = -1;
    d->u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
    d->u.fill.brush.u.color = color;
    d->u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
    if (clips > 0) {
        QXLClipRects *cr;
        size_t size = sizeof(*cr) + (size_t)clips * sizeof(QXLRect);
        d->clip.type = SPICE_CLIP_TYPE_RECTS;
        d->clip.data = guest_alloc(g, size, (void **)&cr);
        cr->num_rects = (uint32_t)clips;
        cr->chunk.data_size = (uint32_t)clips * sizeof(QXLRect);
        QXLRect *rects = (QXLRect *)(cr + 1);
        for (int i = 0; i < clips; i++) {
            rects[i] = (QXLRect){.top = i, .left = i, .bottom = 10 + i, .right = 20 + i};
        }
    }
    return addr;
}

/* A 32-bit w x h bitmap whose pixels come in two chunks. */
static uint64_t put_copy(struct guest *g, uint32_t w, uint32_t h, uint8_t format, uint32_t ncolors)
{
    QXLDrawable *d;
    uint64_t addr = guest_alloc(g, sizeof(*d), (void **)&d);
    memset(d, 0, sizeof(*d));
    d->type = QXL_DRAW_COPY;
    d->surface_id = 0;
    d->bbox = (QXLRect){.top = 0, .left = 0, .bottom = (int32_t)h, .right = (int32_t)w};
    d->surfaces_dest[0] = d->surfaces_dest[1] = d->surfaces_dest[2] = -1;
    d->u.copy.src_area = d->bbox;
    d->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    QXLImage *img;
    d->u.copy.src_bitmap = guest_alloc(g, sizeof(*img), (void **)&img);
    memset(img, 0, sizeof(*img));
    img->descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
    img->descriptor.width = w;
    img->descriptor.height = h;
    img->descriptor.id = 0x123456789abcULL;
    uint32_t bpp = format == SPICE_BITMAP_FMT_8BIT ? 1 : 4;
    img->bitmap.format = format;
    img->bitmap.flags = QXL_BITMAP_TOP_DOWN;
    img->bitmap.x = w;
    img->bitmap.y = h;
    img->bitmap.stride = w * bpp;
    if (ncolors) {
        QXLPalette *pal;
        img->bitmap.palette = guest_alloc(g, sizeof(*pal) + ncolors * 4, (void **)&pal);
        pal->num_ents = (uint16_t)ncolors;
        pal->unique = 77;
        for (uint32_t i = 0; i < ncolors; i++) {
            uint32_t c = 0x010203u * i + 0x80000000u;
            memcpy((uint8_t *)pal + sizeof(*pal) + 4 * i, &c, 4);
        }
    }
    size_t total = (size_t)h * w * bpp, first = total / 3;
    QXLDataChunk *c1, *c2;
    img->bitmap.data = guest_alloc(g, sizeof(*c1) + first, (void **)&c1);
    uint64_t a2 = guest_alloc(g, sizeof(*c2) + total - first, (void **)&c2);
    memset(c1, 0, sizeof(*c1));
    memset(c2, 0, sizeof(*c2));
    c1->data_size = (uint32_t)first;
    c1->next_chunk = a2;
    c2->data_size = (uint32_t)(total - first);
    for (size_t i = 0; i < total; i++) {
        uint8_t v = (uint8_t)(i * 7 + 3);
        if (i < first) {
            c1->data[i] = v;
        } else {
            c2->data[i - first] = v;
        }
    }
    return addr;
}

static void check_same_drawable(const struct qxl_drawable *a, const struct qxl_drawable *b)
{
    CHECK_EQ(a->type, b->type);
    CHECK_EQ(a->surface_id, b->surface_id);
    CHECK_MEM_EQ(&a->bbox, &b->bbox, sizeof(a->bbox));
    CHECK_EQ(a->clip_type, b->clip_type);
    CHECK_EQ(a->num_clip_rects, b->num_clip_rects);
    if (a->num_clip_rects == b->num_clip_rects && a->num_clip_rects > 0) {
        CHECK_MEM_EQ(a->clip_rects, b->clip_rects, a->num_clip_rects * sizeof(struct qxl_rect));
    }
    if (a->type == QXL_DRAW_FILL) {
        CHECK_EQ(a->u.fill.brush.color, b->u.fill.brush.color);
        CHECK_EQ(a->u.fill.rop_descriptor, b->u.fill.rop_descriptor);
    }
    if (a->type == QXL_DRAW_COPY) {
        const struct qxl_image *x = a->u.copy.src, *y = b->u.copy.src;
        CHECK(x && y);
        if (x && y) {
            CHECK_EQ(x->id, y->id);
            CHECK_EQ(x->format, y->format);
            CHECK_EQ(x->width, y->width);
            CHECK_EQ(x->height, y->height);
            CHECK_EQ(x->stride, y->stride);
            CHECK_MEM_EQ(x->data, y->data, (size_t)x->height * x->stride);
            CHECK_EQ(x->num_palette, y->num_palette);
            if (x->num_palette == y->num_palette && x->num_palette) {
                CHECK_MEM_EQ(x->palette, y->palette, x->num_palette * 4u);
            }
        }
    }
}

/* Parses the next replayed command as a drawable and compares it with `want`. */
static void expect_drawable(struct session *s, SpiceReplay *rp, uint64_t guest_addr, uint32_t flags)
{
    QXLCommandExt *cmd = spice_replay_next_cmd(rp, NULL);
    CHECK(cmd != NULL);
    if (!cmd) {
        return;
    }
    CHECK_EQ(cmd->cmd.type, QXL_CMD_DRAW);
    CHECK_EQ(cmd->flags, flags);
    struct qxl_drawable want, got;
    const char *err = NULL;
    bool compat = (flags & QXL_COMMAND_FLAG_COMPAT) != 0;
    CHECK_EQ(compat ? qxl_parse_compat_drawable(&s->g.table, 0, guest_addr, &want, &err)
                    : qxl_parse_drawable(&s->g.table, 0, guest_addr, &want, &err),
             0);
    CHECK_EQ(compat ? qxl_parse_compat_drawable(&s->host, 0, cmd->cmd.data, &got, &err)
                    : qxl_parse_drawable(&s->host, 0, cmd->cmd.data, &got, &err),
             0);
    check_same_drawable(&want, &got);
    /* The release info names the command, for the host's release_resource. */
    QXLReleaseInfo info;
    memcpy(&info, (void *)(uintptr_t)cmd->cmd.data, sizeof(info));
    CHECK_EQ(info.id, (uint64_t)(uintptr_t)cmd);
    qxl_drawable_finish(&want);
    qxl_drawable_finish(&got);
    spice_replay_free_cmd(rp, cmd);
}

static void run_draw_roundtrip(bool compress)
{
    struct session s;
    session_init(&s, compress);
    uint64_t f = put_fill(&s.g, 0x00ff8000, 3);
    uint64_t c = put_copy(&s.g, 33, 17, SPICE_BITMAP_FMT_32BIT, 0);
    uint64_t p = put_copy(&s.g, 40, 9, SPICE_BITMAP_FMT_8BIT, 200);
    record(&s, QXL_CMD_DRAW, f, 0);
    qxl_recorder_message(s.rec, QXL_RECORD_MSG_WAKEUP);
    qxl_recorder_message(s.rec, QXL_RECORD_MSG_ADD_MEMSLOT);
    record(&s, QXL_CMD_DRAW, c, 0);
    record(&s, QXL_CMD_DRAW, p, 0);
    SpiceReplay *rp = session_replay(&s);
    CHECK(rp != NULL);
    expect_drawable(&s, rp, f, 0);
    expect_drawable(&s, rp, c, 0);
    expect_drawable(&s, rp, p, 0);
    CHECK(spice_replay_next_cmd(rp, NULL) == NULL); /* end of the trace */
    CHECK(spice_replay_next_cmd(rp, NULL) == NULL);
    session_finish(&s, rp);
}

static void test_draw_roundtrip_raw(void)
{
    run_draw_roundtrip(false);
}

static void test_draw_roundtrip_zlib(void)
{
    run_draw_roundtrip(true);
}

static void test_compat_drawable(void)
{
    struct session s;
    session_init(&s, true);
    QXLCompatDrawable *d;
    uint64_t addr = guest_alloc(&s.g, sizeof(*d), (void **)&d);
    memset(d, 0, sizeof(*d));
    d->type = QXL_DRAW_FILL;
    d->bbox = (QXLRect){.top = 5, .left = 6, .bottom = 7, .right = 8};
    d->u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
    d->u.fill.brush.u.color = 0x123456;
    record(&s, QXL_CMD_DRAW, addr, QXL_COMMAND_FLAG_COMPAT);
    SpiceReplay *rp = session_replay(&s);
    expect_drawable(&s, rp, addr, QXL_COMMAND_FLAG_COMPAT);
    session_finish(&s, rp);
}

static void test_cursor_update_message_surface(void)
{
    struct session s;
    session_init(&s, false);
    /* cursor set with a 4x4 alpha shape, then a move */
    QXLCursorCmd *cc;
    uint64_t set = guest_alloc(&s.g, sizeof(*cc), (void **)&cc);
    memset(cc, 0, sizeof(*cc));
    cc->type = QXL_CURSOR_SET;
    cc->u.set.position.x = 10;
    cc->u.set.position.y = 11;
    cc->u.set.visible = 1;
    QXLCursor *shape;
    cc->u.set.shape = guest_alloc(&s.g, sizeof(*shape) + 64, (void **)&shape);
    memset(shape, 0, sizeof(*shape));
    shape->header = (QXLCursorHeader){.unique = 9,
                                      .type = SPICE_CURSOR_TYPE_ALPHA,
                                      .width = 4,
                                      .height = 4,
                                      .hot_spot_x = 1,
                                      .hot_spot_y = 2};
    shape->data_size = 64;
    shape->chunk.data_size = 64;
    memset(shape->chunk.data, 0xab, 64);
    record(&s, QXL_CMD_CURSOR, set, 0);
    QXLCursorCmd *mv;
    uint64_t move = guest_alloc(&s.g, sizeof(*mv), (void **)&mv);
    memset(mv, 0, sizeof(*mv));
    mv->type = QXL_CURSOR_MOVE;
    mv->u.position.x = -3;
    mv->u.position.y = 300;
    record(&s, QXL_CMD_CURSOR, move, 0);
    /* an offscreen surface (recorded id 7) kept with data, an update, its destroy */
    QXLSurfaceCmd *sc;
    uint64_t create = guest_alloc(&s.g, sizeof(*sc), (void **)&sc);
    memset(sc, 0, sizeof(*sc));
    sc->surface_id = 7;
    sc->type = QXL_SURFACE_CMD_CREATE;
    sc->flags = QXL_SURF_FLAG_KEEP_DATA;
    sc->u.surface_create = (QXLSurface){
            .format = SPICE_SURFACE_FMT_32_xRGB, .width = 8, .height = 4, .stride = -32};
    uint8_t *pixels;
    sc->u.surface_create.data = guest_alloc(&s.g, 128, (void **)&pixels);
    for (int i = 0; i < 128; i++) {
        pixels[i] = (uint8_t)i;
    }
    record(&s, QXL_CMD_SURFACE, create, 0);
    QXLUpdateCmd *up;
    uint64_t update = guest_alloc(&s.g, sizeof(*up), (void **)&up);
    memset(up, 0, sizeof(*up));
    up->area = (QXLRect){.top = 1, .left = 1, .bottom = 2, .right = 2};
    up->update_id = 42;
    up->surface_id = 7;
    record(&s, QXL_CMD_UPDATE, update, 0);
    QXLSurfaceCmd *sd;
    uint64_t destroy = guest_alloc(&s.g, sizeof(*sd), (void **)&sd);
    memset(sd, 0, sizeof(*sd));
    sd->surface_id = 7;
    sd->type = QXL_SURFACE_CMD_DESTROY;
    record(&s, QXL_CMD_SURFACE, destroy, 0);
    QXLMessage *m;
    uint64_t msg = guest_alloc(&s.g, sizeof(*m) + 6, (void **)&m);
    memcpy(m->data, "hello", 6);
    record(&s, QXL_CMD_MESSAGE, msg, 0);

    SpiceReplay *rp = session_replay(&s);
    CHECK(rp != NULL);
    const char *err = NULL;
    struct qxl_cursor_cmd want, got;
    for (int i = 0; i < 2; i++) {
        QXLCommandExt *cmd = spice_replay_next_cmd(rp, NULL);
        CHECK(cmd && cmd->cmd.type == QXL_CMD_CURSOR);
        if (!cmd) {
            break;
        }
        CHECK_EQ(qxl_parse_cursor(&s.g.table, 0, i ? move : set, &want, &err), 0);
        CHECK_EQ(qxl_parse_cursor(&s.host, 0, cmd->cmd.data, &got, &err), 0);
        CHECK_EQ(want.type, got.type);
        CHECK_MEM_EQ(&want.position, &got.position, sizeof(want.position));
        if (want.shape && got.shape) {
            CHECK_EQ(want.shape->width, got.shape->width);
            CHECK_EQ(want.shape->hot_spot_y, got.shape->hot_spot_y);
            CHECK_EQ(want.shape->data_size, got.shape->data_size);
            CHECK_MEM_EQ(want.shape->data, got.shape->data, want.shape->data_size);
        }
        CHECK((want.shape == NULL) == (got.shape == NULL));
        qxl_cursor_cmd_finish(&want);
        qxl_cursor_cmd_finish(&got);
        spice_replay_free_cmd(rp, cmd);
    }
    QXLCommandExt *cmd = spice_replay_next_cmd(rp, NULL);
    CHECK(cmd && cmd->cmd.type == QXL_CMD_SURFACE);
    struct qxl_surface_cmd surf;
    CHECK_EQ(qxl_parse_surface(&s.host, 0, cmd->cmd.data, &surf, &err), 0);
    CHECK_EQ(surf.surface_id, 1u); /* the first free replayed id */
    CHECK_EQ(surf.stride, -32);
    CHECK_MEM_EQ((const void *)(uintptr_t)surf.data_addr, pixels, 128);
    spice_replay_free_cmd(rp, cmd); /* the surface memory stays with the replay */
    CHECK_MEM_EQ((const void *)(uintptr_t)surf.data_addr, pixels, 128);
    cmd = spice_replay_next_cmd(rp, NULL);
    struct qxl_update_cmd u;
    CHECK(cmd && cmd->cmd.type == QXL_CMD_UPDATE);
    CHECK_EQ(qxl_parse_update(&s.host, 0, cmd->cmd.data, &u, &err), 0);
    CHECK_EQ(u.surface_id, 1u);
    CHECK_EQ(u.update_id, 42u);
    spice_replay_free_cmd(rp, cmd);
    cmd = spice_replay_next_cmd(rp, NULL);
    CHECK(cmd && cmd->cmd.type == QXL_CMD_SURFACE);
    CHECK_EQ(qxl_parse_surface(&s.host, 0, cmd->cmd.data, &surf, &err), 0);
    CHECK_EQ(surf.type, QXL_SURFACE_CMD_DESTROY);
    CHECK_EQ(surf.surface_id, 1u);
    spice_replay_free_cmd(rp, cmd);
    cmd = spice_replay_next_cmd(rp, NULL);
    CHECK(cmd && cmd->cmd.type == QXL_CMD_MESSAGE);
    struct qxl_message_cmd mc;
    CHECK_EQ(qxl_parse_message(&s.host, 0, cmd->cmd.data, &mc, &err), 0);
    CHECK_STR_EQ(mc.text, "hello");
    spice_replay_free_cmd(rp, cmd);
    CHECK(spice_replay_next_cmd(rp, NULL) == NULL);
    session_finish(&s, rp);
}

static void test_bad_guest_pointers(void)
{
    struct session s;
    session_init(&s, false);
    /* The drawable itself does not translate: nothing is recorded. */
    record(&s, QXL_CMD_DRAW, 0xdead000000000000ULL, 0);
    record(&s, QXL_CMD_DRAW, 0, 0);
    record(&s, 99, guest_alloc(&s.g, 64, NULL), 0);
    /* A copy whose image, clip list and chunk links point nowhere. */
    uint64_t c = put_copy(&s.g, 4, 4, SPICE_BITMAP_FMT_32BIT, 0);
    QXLDrawable *d = guest_host(&s.g, 0, c);
    d->clip.type = SPICE_CLIP_TYPE_RECTS;
    d->clip.data = 0x00ff0000deadbeefULL;
    QXLImage *img = guest_host(&s.g, 0, d->u.copy.src_bitmap);
    QXLDataChunk *c1 = guest_host(&s.g, 0, img->bitmap.data);
    c1->next_chunk = 0x0001000012345678ULL;
    record(&s, QXL_CMD_DRAW, c, 0);
    d->u.copy.src_bitmap = 0x0700000000000010ULL;
    record(&s, QXL_CMD_DRAW, c, 0);
    /* A chunk list that loops on itself ends at the chunk limit. */
    d->u.copy.src_bitmap =
            guest_addr_of(&s.g.arena[0], (size_t)((uint8_t *)img - s.g.arena[0].ram));
    c1->next_chunk = img->bitmap.data;
    record(&s, QXL_CMD_DRAW, c, 0);
    SpiceReplay *rp = session_replay(&s);
    for (int i = 0; i < 3; i++) {
        QXLCommandExt *cmd = spice_replay_next_cmd(rp, NULL);
        CHECK(cmd != NULL);
        if (cmd) {
            QXLDrawable got;
            memcpy(&got, (void *)(uintptr_t)cmd->cmd.data, sizeof(got));
            CHECK_EQ(got.type, QXL_DRAW_COPY);
            CHECK_EQ(got.u.copy.src_bitmap, 0u); /* pixels missing: image dropped */
            CHECK_EQ(got.clip.type, (uint32_t)SPICE_CLIP_TYPE_RECTS);
            spice_replay_free_cmd(rp, cmd);
        }
    }
    CHECK(spice_replay_next_cmd(rp, NULL) == NULL);
    session_finish(&s, rp);
}

static SpiceReplay *replay_from(const char *text, size_t len)
{
    FILE *f = tmpfile();
    fwrite(text, 1, len, f);
    rewind(f);
    SpiceReplay *r = spice_replay_new(f, 16);
    if (!r) {
        fclose(f);
    }
    return r;
}

static void test_hostile_files(void)
{
    static const char *bad_headers[] = {"", "SPICE_REPLAY 2\n", "SPICE_REPLAX 1\n", "x"};
    for (size_t i = 0; i < 4; i++) {
        CHECK(replay_from(bad_headers[i], strlen(bad_headers[i])) == NULL);
    }
    static const char *bad[] = {
            "SPICE_REPLAY 1\nevent 0 0 1 5\ndrawable\nrect bbox 1 2 3\n",
            "SPICE_REPLAY 1\nevent 0 0 4 5\nbinary 0 message 100:abc",
            "SPICE_REPLAY 1\nevent 0 0 4 5\nbinary 1 message 100:5:abcde\n",
            "SPICE_REPLAY 1\nevent 0 0 4 5\nbinary 0 message 99999999999:",
            "SPICE_REPLAY 1\nevent 0 0 77 5\n",
            "SPICE_REPLAY 1\nevent 0 1 20 5\n1 1 -4 32\n0 0 0 0\nbinary 0 data 2:ab\n",
            "SPICE_REPLAY 1\nevent 0 0 5 5\nsurface_cmd\nsurface_id 9999999\ntype 0\nflags 0\n"
            "u.surface_create.format 32\nu.surface_create.width 1\nu.surface_create.height 1\n"
            "u.surface_create.stride 4\n",
            "SPICE_REPLAY 1\nevent 0 0 3 5\ncursor_cmd\ntype 0\npoint16 1 2\nu.set.visible 1\n"
            "header.unique 1\nheader.type 0\nheader.width 1\nheader.height 1\nheader.hot_spot_x 0\n"
            "header.hot_spot_y 0\ndata_size 4\ndata_chunks 99999999 4\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        SpiceReplay *r = replay_from(bad[i], strlen(bad[i]));
        CHECK(r != NULL);
        CHECK(spice_replay_next_cmd(r, NULL) == NULL);
        spice_replay_free(r);
    }
    /* A primary surface event is consumed (no instance: nothing to call). */
    static const char ok[] = "SPICE_REPLAY 1\nevent 0 1 20 5\n2 1 8 32\n0 0 0 0\n"
                             "binary 0 data 8:abcdefgh\nevent 1 0 4 6\nbinary 0 message 2:hi\n";
    SpiceReplay *r = replay_from(ok, sizeof(ok) - 1);
    QXLCommandExt *cmd = spice_replay_next_cmd(r, NULL);
    CHECK(cmd && cmd->cmd.type == QXL_CMD_MESSAGE);
    spice_replay_free_cmd(r, cmd);
    spice_replay_free(r);
    spice_replay_free(NULL);
    spice_replay_free_cmd(NULL, NULL);
    CHECK(spice_replay_next_cmd(NULL, NULL) == NULL);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_draw_roundtrip_raw),
            CHECK_CASE(test_draw_roundtrip_zlib),
            CHECK_CASE(test_compat_drawable),
            CHECK_CASE(test_cursor_update_message_surface),
            CHECK_CASE(test_bad_guest_pointers),
            CHECK_CASE(test_hostile_files),
            {0},
    });
}
