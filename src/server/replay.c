/*
 * spice_replay_*: plays back a QXL recording (SPICE_WORKER_RECORD_FILENAME,
 * written by display/qxl_record.c or by the reference server).
 *
 * DESIGN
 * spice_replay_next_cmd reads records until it meets a command. Device
 * messages on the way are performed on the host's QXL instance, as the
 * reference does: a recorded primary surface creation creates the primary
 * (sync) from the recorded pixels, a destroy destroys it; memslot and other
 * messages are skipped, because the host maps its whole address space as
 * slot 0 of group 0 (virt 0..~0, delta 0) and every replayed structure lives
 * in host memory: guest addresses in the command are host pointers.
 *
 * A command is rebuilt as the QXL structures the recording describes, each
 * allocation owned by the command (struct replay_cmd, whose first member is
 * the QXLCommandExt handed out), and its QXLReleaseInfo.id is the command,
 * so the host's release_resource can call spice_replay_free_cmd with it.
 * Surface memory is different: a server may keep using an offscreen
 * surface's memory after releasing its create command (ours releases every
 * command at once), so it belongs to the replay object, per replayed surface
 * id, until the surface's destroy command is freed or the replay ends.
 *
 * Surface ids are remapped as in the reference: the recorded id of a created
 * surface gets the lowest free id below nsurfaces (0 stays the primary), and
 * the id comes free when its destroy command is freed; an id never created
 * maps to 0, and -1 stays -1.
 *
 * The parser (replay_read.c) reads text lines of at most REPLAY_LINE_MAX bytes and binary
 * blocks (raw or zlib) of at most QXL_MAX_DATA_SIZE bytes, grows buffers with
 * the bytes actually present, and bounds chunk counts, palettes, and surface
 * ids. Any malformed record latches an error: next_cmd then returns NULL for
 * good, as the reference does.
 *
 * Thread: next_cmd on one host thread; free_cmd from any thread (the
 * worker's release_resource); the id map and surface memory are locked.
 */
#include <pthread.h>
#include <spice.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "display/qxl_parse.h"
#include "display/qxl_record.h"
#include "server/export.h"
#include "server/replay_priv.h"

/* ---- drawables ---- */

/* Reads "image <0|1>" and the image; returns its address, 0 when absent. */
static QXLPHYSICAL get_image(SpiceReplay *r)
{
    if (replay_get32(r, "image") == 0 || r->error) {
        return 0;
    }
    QXLImageDescriptor desc;
    desc.id = replay_get64(r, "descriptor.id");
    desc.type = (uint8_t)replay_get32(r, "descriptor.type");
    desc.flags = (uint8_t)replay_get32(r, "descriptor.flags");
    desc.width = replay_get32(r, "descriptor.width");
    desc.height = replay_get32(r, "descriptor.height");
    if (r->error) {
        return 0;
    }
    size_t size;
    if (desc.type == SPICE_IMAGE_TYPE_QUIC) {
        uint32_t data_size = replay_get32(r, "quic.data_size");
        QXLImage *img = (QXLImage *)replay_read_chunks(
                r, "quic.data",
                sizeof(QXLImageDescriptor) + sizeof(QXLQUICData) + sizeof(QXLDataChunk), &size);
        if (!img || size != data_size) {
            return 0; /* inconsistent: dropped like the reference does */
        }
        img->descriptor = desc;
        img->quic.data_size = data_size;
        return PHYS(img);
    }
    QXLImage *img = replay_alloc(r, sizeof(QXLImage));
    if (!img) {
        return 0;
    }
    img->descriptor = desc;
    if (desc.type == SPICE_IMAGE_TYPE_SURFACE) {
        img->surface_image.surface_id =
                replay_id_get(r, replay_get32(r, "surface_image.surface_id"));
        return PHYS(img);
    }
    if (desc.type != SPICE_IMAGE_TYPE_BITMAP) {
        replay_fail(r, "unknown image type");
        return 0;
    }
    QXLBitmap b;
    memset(&b, 0, sizeof(b));
    b.format = (uint8_t)replay_get32(r, "bitmap.format");
    b.flags = (uint8_t)replay_get32(r, "bitmap.flags");
    b.x = replay_get32(r, "bitmap.x");
    b.y = replay_get32(r, "bitmap.y");
    b.stride = replay_get32(r, "bitmap.stride");
    if (replay_get32(r, "has_palette") && !r->error) {
        uint32_t num = replay_get32(r, "qp.num_ents");
        if (num > UINT16_MAX) {
            replay_fail(r, "palette too large");
            return 0;
        }
        QXLPalette *pal = replay_alloc(r, sizeof(QXLPalette) + num * sizeof(uint32_t));
        if (!pal) {
            return 0;
        }
        pal->num_ents = (uint16_t)num;
        pal->unique = replay_get64(r, "unique");
        uint8_t *ents = (uint8_t *)pal + sizeof(QXLPalette);
        for (uint32_t i = 0; i < num && !r->error; i++) {
            uint32_t ent = replay_get32(r, "ents");
            memcpy(ents + i * sizeof(ent), &ent, sizeof(ent));
        }
        b.palette = PHYS(pal);
    }
    uint64_t want = (uint64_t)b.y * b.stride;
    uint8_t *data = (b.flags & QXL_BITMAP_DIRECT)
                            ? replay_read_binary(r, "image_data_flat", 0, &size)
                            : replay_read_chunks(r, "bitmap.data", 0, &size);
    if (!data || size != want) {
        return 0; /* pixels missing: the image is dropped, as the reference does */
    }
    b.data = PHYS(data);
    img->bitmap = b;
    return PHYS(img);
}

static void get_brush(SpiceReplay *r, QXLBrush *b)
{
    b->type = replay_get32(r, "type");
    if (b->type == SPICE_BRUSH_TYPE_SOLID) {
        b->u.color = replay_get32(r, "u.color");
    } else if (b->type == SPICE_BRUSH_TYPE_PATTERN) {
        b->u.pattern.pat = get_image(r);
        int32_t x, y;
        replay_get_point(r, "point", &x, &y);
        b->u.pattern.pos.x = x;
        b->u.pattern.pos.y = y;
    }
}

static void get_qmask(SpiceReplay *r, QXLQMask *m)
{
    m->flags = (uint8_t)replay_get32(r, "flags");
    int32_t x, y;
    replay_get_point(r, "point", &x, &y);
    m->pos.x = x;
    m->pos.y = y;
    m->bitmap = get_image(r);
}

static QXLPHYSICAL get_transform(SpiceReplay *r, const char *key)
{
    if (replay_get32(r, key) == 0 || r->error) {
        return 0;
    }
    size_t size;
    uint8_t *t = replay_read_binary(r, "transform", 0, &size);
    if (t && size != 6 * sizeof(uint32_t)) {
        replay_fail(r, "bad transform size");
        return 0;
    }
    return PHYS(t);
}

static void get_clip(SpiceReplay *r, QXLClip *clip)
{
    clip->type = replay_get32(r, "type");
    if (clip->type != SPICE_CLIP_TYPE_RECTS || r->error) {
        return;
    }
    uint32_t num = replay_get32(r, "num_rects");
    size_t size;
    QXLClipRects *rects =
            (QXLClipRects *)replay_read_chunks(r, "clip_rects", sizeof(QXLClipRects), &size);
    if (rects && (num > QXL_MAX_CLIP_RECTS || (uint64_t)num * sizeof(QXLRect) > size)) {
        replay_fail(r, "clip rectangle count does not match its data");
        return;
    }
    if (rects) {
        rects->num_rects = num;
        clip->data = PHYS(rects);
    }
}

static void get_stroke(SpiceReplay *r, QXLStroke *s)
{
    size_t size;
    QXLPath *path = (QXLPath *)replay_read_chunks(r, "path", sizeof(QXLPath), &size);
    if (path) {
        path->data_size = (uint32_t)size;
        s->path = PHYS(path);
    }
    s->attr.flags = (uint8_t)replay_get32(r, "attr.flags");
    if ((s->attr.flags & SPICE_LINE_FLAGS_STYLED) && !r->error) {
        s->attr.style_nseg = (uint8_t)replay_get32(r, "attr.style_nseg");
        uint8_t *style = replay_read_binary(r, "style", 0, &size);
        if (style && size < s->attr.style_nseg * sizeof(QXLFIXED)) {
            replay_fail(r, "line style shorter than its segment count");
            return;
        }
        s->attr.style = PHYS(style);
    }
    get_brush(r, &s->brush);
    s->fore_mode = (uint16_t)replay_get32(r, "fore_mode");
    s->back_mode = (uint16_t)replay_get32(r, "back_mode");
}

static void get_text(SpiceReplay *r, QXLText *t)
{
    uint32_t data_size = replay_get32(r, "data_size");
    uint16_t length = (uint16_t)replay_get32(r, "length");
    uint16_t flags = (uint16_t)replay_get32(r, "flags");
    size_t size;
    QXLString *str = (QXLString *)replay_read_chunks(r, "string", sizeof(QXLString), &size);
    if (str) {
        str->data_size = data_size == size ? data_size : (uint32_t)size;
        str->length = length;
        str->flags = flags;
        t->str = PHYS(str);
    }
    replay_get_rect(r, "back_area", &t->back_area);
    get_brush(r, &t->fore_brush);
    get_brush(r, &t->back_brush);
    t->fore_mode = (uint16_t)replay_get32(r, "fore_mode");
    t->back_mode = (uint16_t)replay_get32(r, "back_mode");
}

static void get_composite(SpiceReplay *r, QXLComposite *c)
{
    c->flags = replay_get32(r, "flags");
    c->src = get_image(r);
    c->src_transform = get_transform(r, "src_transform");
    c->mask = replay_get32(r, "mask") ? get_image(r) : 0;
    c->mask_transform = get_transform(r, "mask_transform");
    int32_t x, y;
    replay_get_point(r, "src_origin", &x, &y);
    c->src_origin.x = (int16_t)x;
    c->src_origin.y = (int16_t)y;
    replay_get_point(r, "mask_origin", &x, &y);
    c->mask_origin.x = (int16_t)x;
    c->mask_origin.y = (int16_t)y;
}

/* The body of a draw of `type` into d->u (compat: only ALPHA_BLEND differs). */
static void get_draw_body(SpiceReplay *r, uint8_t type, QXLDrawable *d, bool compat)
{
    switch (type) {
    case QXL_DRAW_ALPHA_BLEND:
        if (compat) {
            QXLCompatAlphaBlend a;
            memset(&a, 0, sizeof(a));
            a.alpha = (uint8_t)replay_get32(r, "alpha");
            a.src_bitmap = get_image(r);
            replay_get_rect(r, "src_area", &a.src_area);
            memcpy(&d->u, &a, sizeof(a));
        } else {
            d->u.alpha_blend.alpha_flags = (uint16_t)replay_get32(r, "alpha_flags");
            d->u.alpha_blend.alpha = (uint8_t)replay_get32(r, "alpha");
            d->u.alpha_blend.src_bitmap = get_image(r);
            replay_get_rect(r, "src_area", &d->u.alpha_blend.src_area);
        }
        return;
    case QXL_DRAW_BLACKNESS:
    case QXL_DRAW_WHITENESS:
    case QXL_DRAW_INVERS:
        get_qmask(r, &d->u.blackness.mask);
        return;
    case QXL_DRAW_BLEND:
    case QXL_DRAW_COPY: /* QXLBlend has QXLCopy's layout */
        d->u.copy.src_bitmap = get_image(r);
        replay_get_rect(r, "src_area", &d->u.copy.src_area);
        d->u.copy.rop_descriptor = (uint16_t)replay_get32(r, "rop_descriptor");
        d->u.copy.scale_mode = (uint8_t)replay_get32(r, "scale_mode");
        get_qmask(r, &d->u.copy.mask);
        return;
    case QXL_COPY_BITS: {
        int32_t x, y;
        replay_get_point(r, "point", &x, &y);
        d->u.copy_bits.src_pos.x = x;
        d->u.copy_bits.src_pos.y = y;
        return;
    }
    case QXL_DRAW_FILL:
        get_brush(r, &d->u.fill.brush);
        d->u.fill.rop_descriptor = (uint16_t)replay_get32(r, "rop_descriptor");
        get_qmask(r, &d->u.fill.mask);
        return;
    case QXL_DRAW_OPAQUE:
        d->u.opaque.src_bitmap = get_image(r);
        replay_get_rect(r, "src_area", &d->u.opaque.src_area);
        get_brush(r, &d->u.opaque.brush);
        d->u.opaque.rop_descriptor = (uint16_t)replay_get32(r, "rop_descriptor");
        d->u.opaque.scale_mode = (uint8_t)replay_get32(r, "scale_mode");
        get_qmask(r, &d->u.opaque.mask);
        return;
    case QXL_DRAW_NOP:
        return;
    case QXL_DRAW_ROP3:
        d->u.rop3.src_bitmap = get_image(r);
        replay_get_rect(r, "src_area", &d->u.rop3.src_area);
        get_brush(r, &d->u.rop3.brush);
        d->u.rop3.rop3 = (uint8_t)replay_get32(r, "rop3");
        d->u.rop3.scale_mode = (uint8_t)replay_get32(r, "scale_mode");
        get_qmask(r, &d->u.rop3.mask);
        return;
    case QXL_DRAW_STROKE:
        get_stroke(r, &d->u.stroke);
        return;
    case QXL_DRAW_TEXT:
        get_text(r, &d->u.text);
        return;
    case QXL_DRAW_TRANSPARENT:
        d->u.transparent.src_bitmap = get_image(r);
        replay_get_rect(r, "src_area", &d->u.transparent.src_area);
        d->u.transparent.src_color = replay_get32(r, "src_color");
        d->u.transparent.true_color = replay_get32(r, "true_color");
        return;
    case QXL_DRAW_COMPOSITE:
        if (!compat) {
            get_composite(r, &d->u.composite);
            return;
        }
        break;
    default:
        break;
    }
    replay_fail(r, "unknown draw type");
}

/*
 * "drawable" and its fields. The recording does not keep the command flags;
 * a compat drawable is recognised by its "bitmap_offset" line, and *flags
 * gets QXL_COMMAND_FLAG_COMPAT (the reference replays only native ones).
 */
static void *get_drawable(SpiceReplay *r, uint32_t *flags)
{
    if (!replay_line(r, "drawable", 0, NULL)) {
        return NULL;
    }
    /* Built as a native drawable; a compat one is repacked at the end. */
    QXLDrawable *d = replay_alloc(r, sizeof(QXLDrawable));
    if (!d) {
        return NULL;
    }
    replay_get_rect(r, "bbox", &d->bbox);
    get_clip(r, &d->clip);
    d->effect = (uint8_t)replay_get32(r, "effect");
    d->mm_time = replay_get32(r, "mm_time");
    char buf[REPLAY_LINE_MAX];
    if (!replay_read_line(r, buf)) {
        return NULL;
    }
    int64_t v = 0;
    if (strncmp(buf, "bitmap_offset ", 14) == 0) {
        QXLCompatDrawable *c = replay_alloc(r, sizeof(QXLCompatDrawable));
        if (!c || !replay_parse_line(r, buf, "bitmap_offset", 1, &v)) {
            return NULL;
        }
        c->bitmap_offset = (uint16_t)replay_u32(r, v);
        replay_get_rect(r, "bitmap_area", &c->bitmap_area);
        c->type = (uint8_t)replay_get32(r, "type");
        get_draw_body(r, c->type, d, true);
        c->bbox = d->bbox;
        c->clip = d->clip;
        c->effect = d->effect;
        c->mm_time = d->mm_time;
        memcpy(&c->u, &d->u, sizeof(c->u));
        *flags = QXL_COMMAND_FLAG_COMPAT;
        return c;
    }
    if (!replay_parse_line(r, buf, "self_bitmap", 1, &v)) {
        return NULL;
    }
    d->self_bitmap = (uint8_t)replay_u32(r, v);
    replay_get_rect(r, "self_bitmap_area", &d->self_bitmap_area);
    d->surface_id = replay_id_get(r, replay_get32(r, "surface_id"));
    for (int i = 0; i < 3; i++) {
        d->surfaces_dest[i] = (int32_t)replay_id_get(r, replay_get32(r, "surfaces_dest"));
        replay_get_rect(r, "surfaces_rects", &d->surfaces_rects[i]);
    }
    d->type = (uint8_t)replay_get32(r, "type");
    if (!r->error) {
        get_draw_body(r, d->type, d, false);
    }
    return d;
}

/* ---- other commands ---- */

static void *get_update(SpiceReplay *r)
{
    QXLUpdateCmd *u = replay_alloc(r, sizeof(QXLUpdateCmd));
    if (!u || !replay_line(r, "update", 0, NULL)) {
        return NULL;
    }
    replay_get_rect(r, "area", &u->area);
    u->update_id = replay_get32(r, "update_id");
    u->surface_id = replay_id_get(r, replay_get32(r, "surface_id"));
    return u;
}

static void *get_message(SpiceReplay *r)
{
    size_t size;
    uint8_t *m = replay_read_binary(r, "message", sizeof(QXLMessage), &size);
    /* Parsers may read a message's first 256 bytes before finding its NUL
     * (guest memory has no end marker), so a short text gets zero padding. */
    if (m && size < 256) {
        uint8_t *padded = replay_alloc(r, sizeof(QXLMessage) + 256);
        if (padded) {
            memcpy(padded, m, sizeof(QXLMessage) + size);
        }
        return padded;
    }
    return m;
}

static void *get_surface(SpiceReplay *r)
{
    QXLSurfaceCmd *s = replay_alloc(r, sizeof(QXLSurfaceCmd));
    if (!s || !replay_line(r, "surface_cmd", 0, NULL)) {
        return NULL;
    }
    uint32_t recorded = replay_get32(r, "surface_id");
    s->type = (uint8_t)replay_get32(r, "type");
    s->flags = replay_get32(r, "flags");
    if (r->error) {
        return NULL;
    }
    if (s->type == QXL_SURFACE_CMD_DESTROY) {
        s->surface_id = replay_id_get(r, recorded);
        r->cur->destroy_id = s->surface_id;
        return s;
    }
    if (s->type != QXL_SURFACE_CMD_CREATE) {
        return s;
    }
    QXLSurface *c = &s->u.surface_create;
    c->format = replay_get32(r, "u.surface_create.format");
    c->width = replay_get32(r, "u.surface_create.width");
    c->height = replay_get32(r, "u.surface_create.height");
    c->stride = (int32_t)replay_get32(r, "u.surface_create.stride");
    uint64_t abs_stride = c->stride < 0 ? (uint64_t)(-(int64_t)c->stride) : (uint64_t)c->stride;
    uint64_t want = abs_stride * c->height;
    if (r->error || want > QXL_MAX_DATA_SIZE) {
        return replay_fail(r, "surface too large");
    }
    /* The memory outlives this command: it is kept with the surface id. */
    uint8_t *mem = calloc(1, want ? (size_t)want : 1);
    if (!mem) {
        return replay_fail(r, "out of memory");
    }
    if (s->flags & QXL_SURF_FLAG_KEEP_DATA) {
        size_t size;
        uint8_t *data = replay_read_binary(r, "data", 0, &size);
        if (data) {
            memcpy(mem, data, size < want ? size : (size_t)want);
        }
    }
    if (r->error) {
        free(mem);
        return NULL;
    }
    int64_t id = replay_id_new(r, recorded, mem);
    if (id < 0) {
        return NULL;
    }
    s->surface_id = (uint32_t)id;
    c->data = PHYS(mem);
    return s;
}

static void *get_cursor(SpiceReplay *r)
{
    QXLCursorCmd *c = replay_alloc(r, sizeof(QXLCursorCmd));
    if (!c || !replay_line(r, "cursor_cmd", 0, NULL)) {
        return NULL;
    }
    c->type = (uint8_t)replay_get32(r, "type");
    int32_t x, y;
    switch (c->type) {
    case QXL_CURSOR_SET: {
        replay_get_point(r, "point16", &x, &y);
        c->u.set.position.x = (int16_t)x;
        c->u.set.position.y = (int16_t)y;
        c->u.set.visible = (uint8_t)replay_get32(r, "u.set.visible");
        QXLCursorHeader h;
        h.unique = replay_get64(r, "header.unique");
        h.type = (uint16_t)replay_get32(r, "header.type");
        h.width = (uint16_t)replay_get32(r, "header.width");
        h.height = (uint16_t)replay_get32(r, "header.height");
        h.hot_spot_x = (uint16_t)replay_get32(r, "header.hot_spot_x");
        h.hot_spot_y = (uint16_t)replay_get32(r, "header.hot_spot_y");
        replay_get32(r, "data_size");
        size_t size;
        QXLCursor *shape = (QXLCursor *)replay_read_chunks(r, "cursor", sizeof(QXLCursor), &size);
        if (shape) {
            shape->header = h;
            shape->data_size = (uint32_t)size;
            c->u.set.shape = PHYS(shape);
        }
        break;
    }
    case QXL_CURSOR_MOVE:
        replay_get_point(r, "point16", &x, &y);
        c->u.position.x = (int16_t)x;
        c->u.position.y = (int16_t)y;
        break;
    case QXL_CURSOR_TRAIL:
        c->u.trail.length = (uint16_t)replay_get32(r, "u.trail.length");
        c->u.trail.frequency = (uint16_t)replay_get32(r, "u.trail.frequency");
        break;
    default:
        break;
    }
    return c;
}

/* ---- device messages ---- */

static void free_primary(SpiceReplay *r)
{
    free(r->primary_mem);
    r->primary_mem = NULL;
    r->created_primary = false;
}

static void replay_create_primary(SpiceReplay *r, QXLInstance *instance)
{
    int64_t a[4] = {0}, b[4] = {0};
    if (!replay_line(r, "", 4, a) || !replay_line(r, "", 4, b)) {
        return;
    }
    QXLDevSurfaceCreate s;
    memset(&s, 0, sizeof(s));
    s.width = replay_u32(r, a[0]);
    s.height = replay_u32(r, a[1]);
    s.stride = (int32_t)replay_u32(r, a[2]);
    s.format = replay_u32(r, a[3]);
    s.position = replay_u32(r, b[0]);
    s.mouse_mode = replay_u32(r, b[1]);
    s.flags = replay_u32(r, b[2]);
    s.type = replay_u32(r, b[3]);
    uint64_t abs_stride = s.stride < 0 ? (uint64_t)(-(int64_t)s.stride) : (uint64_t)s.stride;
    uint64_t want = abs_stride * s.height;
    size_t size;
    uint8_t *data = replay_read_binary(r, "data", 0, &size);
    if (!data || want > QXL_MAX_DATA_SIZE || want == 0) {
        replay_fail(r, "bad primary surface");
        return;
    }
    uint8_t *mem = calloc(1, (size_t)want);
    if (!mem) {
        replay_fail(r, "out of memory");
        return;
    }
    memcpy(mem, data, size < want ? size : (size_t)want);
    if (r->created_primary && instance) {
        /* Two creations in a row: the reference destroys the first too. */
        spice_qxl_destroy_primary_surface(instance, 0);
    }
    free_primary(r);
    r->primary_mem = mem;
    r->created_primary = true;
    s.mem = PHYS(mem);
    s.group_id = 0;
    if (instance) {
        spice_qxl_create_primary_surface(instance, 0, &s);
    }
}

static void replay_message(SpiceReplay *r, QXLInstance *instance, uint32_t msg)
{
    switch (msg) {
    case QXL_RECORD_MSG_CREATE_PRIMARY:
    case QXL_RECORD_MSG_CREATE_PRIMARY_ASYNC:
        replay_create_primary(r, instance);
        break;
    case QXL_RECORD_MSG_DESTROY_PRIMARY:
    case QXL_RECORD_MSG_DESTROY_PRIMARY_ASYNC:
        if (instance) {
            spice_qxl_destroy_primary_surface(instance, 0);
        }
        free_primary(r);
        break;
    case QXL_RECORD_MSG_DESTROY_SURFACES:
    case QXL_RECORD_MSG_DESTROY_SURFACES_ASYNC:
        if (instance) {
            spice_qxl_destroy_surfaces(instance);
        }
        free_primary(r);
        break;
    default:
        break; /* memslots, wakeups, start/stop...: nothing to replay */
    }
}

/* ---- the public API ---- */

static void cmd_free(struct replay_cmd *c)
{
    for (size_t i = 0; i < c->n_allocs; i++) {
        free(c->allocs[i]);
    }
    free(c->allocs);
    free(c);
}

SPICE_EXPORT QXLCommandExt *spice_replay_next_cmd(SpiceReplay *replay, QXLInstance *instance)
{
    SpiceReplay *r = replay;
    if (!r) {
        return NULL;
    }
    if (r->error) {
        return NULL;
    }
    /* Everything read from here on, event payloads included, is owned by c. */
    struct replay_cmd *c = calloc(1, sizeof(*c));
    if (!c) {
        return replay_fail(r, "out of memory");
    }
    c->destroy_id = -1;
    r->cur = c;
    int64_t ev[4] = {0};
    for (;;) {
        if (!replay_line(r, "event", 4, ev)) {
            r->cur = NULL;
            cmd_free(c);
            return NULL;
        }
        if (ev[1] == 0) {
            break;
        }
        if (ev[1] == 1) {
            replay_message(r, instance, replay_u32(r, ev[2]));
        }
    }
    uint32_t type = replay_u32(r, ev[2]);
    uint32_t flags = 0;
    void *data = NULL;
    switch (type) {
    case QXL_CMD_DRAW:
        data = get_drawable(r, &flags);
        break;
    case QXL_CMD_UPDATE:
        data = get_update(r);
        break;
    case QXL_CMD_MESSAGE:
        data = get_message(r);
        break;
    case QXL_CMD_SURFACE:
        data = get_surface(r);
        break;
    case QXL_CMD_CURSOR:
        data = get_cursor(r);
        break;
    default:
        replay_fail(r, "unknown command type");
        break;
    }
    r->cur = NULL;
    if (r->error || !data) {
        cmd_free(c);
        return NULL;
    }
    /* Every command struct opens with its QXLReleaseInfo. */
    QXLReleaseInfo info = {.id = (uint64_t)(uintptr_t)c};
    memcpy(data, &info, sizeof(info));
    c->ext.cmd.type = type;
    c->ext.cmd.data = PHYS(data);
    c->ext.group_id = 0;
    c->ext.flags = flags;
    r->counter++;
    return &c->ext;
}

SPICE_EXPORT void spice_replay_free_cmd(SpiceReplay *replay, QXLCommandExt *cmd)
{
    if (!replay || !cmd) {
        return;
    }
    /* cmd is the first member of a replay_cmd allocated by next_cmd. */
    uintptr_t addr = (uintptr_t)(void *)cmd;
    struct replay_cmd *c = (struct replay_cmd *)addr;
    if (c->destroy_id >= 0) {
        replay_id_free(replay, (uint32_t)c->destroy_id);
    }
    cmd_free(c);
}

SPICE_EXPORT SpiceReplay *spice_replay_new(FILE *file, int nsurfaces)
{
    unsigned version = 0;
    if (!file || nsurfaces <= 0) {
        return NULL;
    }
    if (fscanf(file, "SPICE_REPLAY %u\n", &version) != 1 || version != 1) {
        log_warn("replay: not a SPICE_REPLAY 1 file");
        return NULL;
    }
    SpiceReplay *r = calloc(1, sizeof(*r));
    if (!r) {
        return NULL;
    }
    r->file = file;
    r->nsurfaces = nsurfaces > REPLAY_MAX_SURFACES ? REPLAY_MAX_SURFACES : (uint32_t)nsurfaces;
    r->id_map = calloc(REPLAY_MAX_SURFACES, sizeof(*r->id_map));
    r->id_owner = calloc(r->nsurfaces, sizeof(*r->id_owner));
    r->surface_mem = calloc(r->nsurfaces, sizeof(*r->surface_mem));
    if (!r->id_map || !r->id_owner || !r->surface_mem) {
        free(r->id_map);
        free(r->id_owner);
        free(r->surface_mem);
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    /* Surface 0 is the primary, on both sides. */
    r->id_map[0] = 1;
    r->id_owner[0] = 1;
    return r;
}

SPICE_EXPORT void spice_replay_free(SpiceReplay *replay)
{
    if (!replay) {
        return;
    }
    for (uint32_t i = 0; i < replay->nsurfaces; i++) {
        free(replay->surface_mem[i]);
    }
    free(replay->surface_mem);
    free(replay->id_owner);
    free(replay->id_map);
    free(replay->primary_mem);
    pthread_mutex_destroy(&replay->lock);
    /* The replay owns the file, as in the reference. */
    fclose(replay->file);
    free(replay);
}
