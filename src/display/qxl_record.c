/*
 * The QXL command recorder (see qxl_record.h for the file format).
 *
 * DESIGN
 * Each record is formatted into a memory stream (open_memstream) while guest
 * memory is walked, and only then appended to the file in one write under
 * the recorder's lock, so a record is whole or absent. The layout of every
 * record follows the reference reader field by field: the same keys, the
 * same order, integers printed with %d as the reference prints them (so
 * 32-bit unsigned fields above INT32_MAX come out negative and read back
 * into the same bits), binary blocks as
 *     "binary <zlib> <prefix> <size>:" [<zsize>":"] <bytes> "\n".
 *
 * Guest memory is only read through memslot_translate, and every structure
 * is copied into a local before use. Chunk lists are bounded by
 * QXL_MAX_CHUNKS links and QXL_MAX_DATA_SIZE bytes, and stop at the first
 * link that does not translate. Whatever cannot be read is recorded as an
 * empty element in the same shape (an absent image, a zero-length block),
 * which both readers accept.
 *
 * INVARIANTS
 * - Nothing the guest writes can abort; a bad command costs one skipped or
 *   partial record.
 * - The counter in "event N" counts the records written to this file.
 */
#include "display/qxl_record.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <spice/enums.h>
#include <sys/wait.h>

#include "common/log.h"
#include "display/qxl_parse.h"

extern char **environ;

#define RECORD_ZLIB_MIN     64
#define RECORD_MESSAGE_MAX  4096
#define RECORD_COMPRESS_LVL 3

struct qxl_recorder {
    FILE *file;
    pthread_mutex_t lock;
    unsigned counter;
    bool compress;
    pid_t filter_pid; /* 0 when there is no filter process */
};

/* One record being formatted: where guest memory comes from, where text goes. */
struct rec {
    const struct memslot_table *slots;
    uint32_t group;
    FILE *out;
    bool compress;
};

static const void *guest(struct rec *r, uint64_t addr, size_t size)
{
    const char *err = NULL;
    if (addr == 0) {
        return NULL;
    }
    return memslot_translate(r->slots, r->group, addr, size, &err);
}

/* Copies a guest struct into dst; false (dst zeroed) when it does not translate. */
static bool guest_copy(struct rec *r, uint64_t addr, void *dst, size_t size)
{
    const void *src = guest(r, addr, size);
    if (!src) {
        memset(dst, 0, size);
        return false;
    }
    memcpy(dst, src, size);
    return true;
}

static void put_binary(FILE *out, bool compress, const char *prefix, const uint8_t *data,
                       size_t size)
{
    if (!data) {
        size = 0;
    }
    if (compress && size >= RECORD_ZLIB_MIN) {
        uLongf zsize = compressBound((uLong)size);
        uint8_t *z = malloc(zsize);
        if (z && compress2(z, &zsize, data, (uLong)size, RECORD_COMPRESS_LVL) == Z_OK) {
            fprintf(out, "binary 1 %s %zu:%lu:", prefix, size, (unsigned long)zsize);
            fwrite(z, 1, zsize, out);
            fputc('\n', out);
            free(z);
            return;
        }
        free(z);
    }
    fprintf(out, "binary 0 %s %zu:", prefix, size);
    if (size > 0) {
        fwrite(data, 1, size, out);
    }
    fputc('\n', out);
}

static void put_rect(struct rec *r, const char *prefix, const QXLRect *q)
{
    fprintf(r->out, "rect %s %d %d %d %d\n", prefix, q->top, q->left, q->bottom, q->right);
}

static void put_point(struct rec *r, const QXLPoint *q)
{
    fprintf(r->out, "point %d %d\n", q->x, q->y);
}

struct chunk_ref {
    const uint8_t *data;
    uint32_t size;
};

/*
 * Writes "data_chunks <extra links> <total>" and one binary block per chunk
 * of the list whose first header is `offset` bytes into the guest struct at
 * `addr`. Returns the bytes recorded.
 */
static size_t put_chunks(struct rec *r, const char *prefix, uint64_t addr, size_t offset)
{
    struct chunk_ref *refs = NULL;
    size_t n = 0, cap = 0, total = 0;
    while (addr != 0 && n < QXL_MAX_CHUNKS) {
        QXLDataChunk chunk;
        const uint8_t *base = guest(r, addr, offset + sizeof(chunk));
        if (!base) {
            break;
        }
        memcpy(&chunk, base + offset, sizeof(chunk));
        if (chunk.data_size > QXL_MAX_DATA_SIZE - total) {
            break;
        }
        base = guest(r, addr, offset + sizeof(chunk) + chunk.data_size);
        if (!base) {
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct chunk_ref *grown = realloc(refs, ncap * sizeof(*refs));
            if (!grown) {
                break;
            }
            refs = grown;
            cap = ncap;
        }
        refs[n].data = base + offset + sizeof(chunk);
        refs[n].size = chunk.data_size;
        n++;
        total += chunk.data_size;
        addr = chunk.next_chunk;
        offset = 0;
    }
    fprintf(r->out, "data_chunks %zu %zu\n", n > 0 ? n - 1 : 0, total);
    if (n == 0) {
        put_binary(r->out, r->compress, prefix, NULL, 0);
    }
    for (size_t i = 0; i < n; i++) {
        put_binary(r->out, r->compress, prefix, refs[i].data, refs[i].size);
    }
    free(refs);
    return total;
}

static void put_flat(struct rec *r, const char *prefix, uint64_t addr, uint64_t size)
{
    const uint8_t *data = size <= QXL_MAX_DATA_SIZE ? guest(r, addr, (size_t)size) : NULL;
    put_binary(r->out, r->compress, prefix, data, data ? (size_t)size : 0);
}

static void put_palette(struct rec *r, uint64_t addr)
{
    QXLPalette head;
    const uint8_t *p = NULL;
    if (guest_copy(r, addr, &head, sizeof(head))) {
        p = guest(r, addr, sizeof(head) + (size_t)head.num_ents * sizeof(uint32_t));
    }
    fprintf(r->out, "has_palette %d\n", p ? 1 : 0);
    if (!p) {
        return;
    }
    fprintf(r->out, "qp.num_ents %u\n", head.num_ents);
    fprintf(r->out, "unique %" PRIu64 "\n", head.unique);
    for (unsigned i = 0; i < head.num_ents; i++) {
        uint32_t ent;
        memcpy(&ent, p + sizeof(head) + i * sizeof(ent), sizeof(ent));
        fprintf(r->out, "ents %d\n", (int32_t)ent);
    }
}

static void put_image(struct rec *r, uint64_t addr)
{
    QXLImage img;
    if (!guest_copy(r, addr, &img, sizeof(img)) ||
        (img.descriptor.type != SPICE_IMAGE_TYPE_BITMAP &&
         img.descriptor.type != SPICE_IMAGE_TYPE_SURFACE &&
         img.descriptor.type != SPICE_IMAGE_TYPE_QUIC)) {
        /* The reference records nothing else either (it aborts instead). */
        fprintf(r->out, "image 0\n");
        return;
    }
    FILE *o = r->out;
    fprintf(o, "image 1\n");
    fprintf(o, "descriptor.id %" PRIu64 "\n", img.descriptor.id);
    fprintf(o, "descriptor.type %d\n", img.descriptor.type);
    fprintf(o, "descriptor.flags %d\n", img.descriptor.flags);
    fprintf(o, "descriptor.width %d\n", (int32_t)img.descriptor.width);
    fprintf(o, "descriptor.height %d\n", (int32_t)img.descriptor.height);
    switch (img.descriptor.type) {
    case SPICE_IMAGE_TYPE_BITMAP: {
        QXLBitmap b = img.bitmap;
        fprintf(o, "bitmap.format %d\n", b.format);
        fprintf(o, "bitmap.flags %d\n", b.flags);
        fprintf(o, "bitmap.x %d\n", (int32_t)b.x);
        fprintf(o, "bitmap.y %d\n", (int32_t)b.y);
        fprintf(o, "bitmap.stride %d\n", (int32_t)b.stride);
        put_palette(r, b.palette);
        if (b.flags & QXL_BITMAP_DIRECT) {
            put_flat(r, "image_data_flat", b.data, (uint64_t)b.y * b.stride);
        } else {
            put_chunks(r, "bitmap.data", b.data, 0);
        }
        break;
    }
    case SPICE_IMAGE_TYPE_SURFACE:
        fprintf(o, "surface_image.surface_id %d\n", (int32_t)img.surface_image.surface_id);
        break;
    default: /* QUIC: the chunk header follows data_size inside the image */
        fprintf(o, "quic.data_size %d\n", (int32_t)img.quic.data_size);
        put_chunks(r, "quic.data", addr, sizeof(QXLImageDescriptor) + sizeof(uint32_t));
        break;
    }
}

static void put_brush(struct rec *r, const QXLBrush *b)
{
    fprintf(r->out, "type %d\n", (int32_t)b->type);
    if (b->type == SPICE_BRUSH_TYPE_SOLID) {
        fprintf(r->out, "u.color %d\n", (int32_t)b->u.color);
    } else if (b->type == SPICE_BRUSH_TYPE_PATTERN) {
        put_image(r, b->u.pattern.pat);
        QXLPoint pos = b->u.pattern.pos;
        put_point(r, &pos);
    }
}

static void put_qmask(struct rec *r, const QXLQMask *m)
{
    fprintf(r->out, "flags %d\n", m->flags);
    QXLPoint pos = m->pos;
    put_point(r, &pos);
    put_image(r, m->bitmap);
}

/* The src_bitmap / src_area pair that opens most draw bodies. */
static void put_src(struct rec *r, uint64_t bitmap, const QXLRect *area)
{
    put_image(r, bitmap);
    put_rect(r, "src_area", area);
}

static void put_modes(struct rec *r, const char *a, int va, const char *b, int vb)
{
    fprintf(r->out, "%s %d\n%s %d\n", a, va, b, vb);
}

static void put_string(struct rec *r, uint64_t addr)
{
    QXLString s;
    guest_copy(r, addr, &s, sizeof(s));
    fprintf(r->out, "data_size %d\nlength %d\nflags %d\n", (int32_t)s.data_size, s.length, s.flags);
    put_chunks(r, "string", addr, offsetof(QXLString, chunk));
}

static void put_stroke(struct rec *r, const QXLStroke *s)
{
    put_chunks(r, "path", s->path, offsetof(QXLPath, chunk));
    fprintf(r->out, "attr.flags %d\n", s->attr.flags);
    if (s->attr.flags & SPICE_LINE_FLAGS_STYLED) {
        fprintf(r->out, "attr.style_nseg %d\n", s->attr.style_nseg);
        put_flat(r, "style", s->attr.style, (uint64_t)s->attr.style_nseg * sizeof(QXLFIXED));
    }
    QXLBrush brush = s->brush;
    put_brush(r, &brush);
    put_modes(r, "fore_mode", s->fore_mode, "back_mode", s->back_mode);
}

static void put_transform(struct rec *r, const char *key, uint64_t addr)
{
    const uint8_t *t = guest(r, addr, 6 * sizeof(uint32_t));
    fprintf(r->out, "%s %d\n", key, t ? 1 : 0);
    if (t) {
        put_binary(r->out, false, "transform", t, 6 * sizeof(uint32_t));
    }
}

static void put_composite(struct rec *r, const QXLComposite *c)
{
    fprintf(r->out, "flags %d\n", (int32_t)c->flags);
    put_image(r, c->src);
    put_transform(r, "src_transform", c->src_transform);
    fprintf(r->out, "mask %d\n", c->mask ? 1 : 0);
    if (c->mask) {
        put_image(r, c->mask);
    }
    put_transform(r, "mask_transform", c->mask_transform);
    fprintf(r->out, "src_origin %d %d\n", c->src_origin.x, c->src_origin.y);
    fprintf(r->out, "mask_origin %d %d\n", c->mask_origin.x, c->mask_origin.y);
}

static void put_clip(struct rec *r, const QXLClip *clip)
{
    fprintf(r->out, "type %d\n", (int32_t)clip->type);
    if (clip->type == SPICE_CLIP_TYPE_RECTS) {
        QXLClipRects rects;
        guest_copy(r, clip->data, &rects, sizeof(rects));
        fprintf(r->out, "num_rects %d\n", (int32_t)rects.num_rects);
        put_chunks(r, "clip_rects", clip->data, offsetof(QXLClipRects, chunk));
    }
}

/*
 * The draw bodies shared by native and compat drawables; d is a local copy
 * whose union holds the body (compat bodies copied in: only ALPHA_BLEND
 * differs). Returns false for a type that has no body in the format.
 */
static bool put_draw_body(struct rec *r, uint8_t type, const QXLDrawable *d, bool compat)
{
    switch (type) {
    case QXL_DRAW_ALPHA_BLEND:
        if (compat) {
            QXLCompatAlphaBlend a;
            memcpy(&a, &d->u, sizeof(a));
            fprintf(r->out, "alpha %d\n", a.alpha);
            put_src(r, a.src_bitmap, &a.src_area);
        } else {
            QXLAlphaBlend a = d->u.alpha_blend;
            fprintf(r->out, "alpha_flags %d\nalpha %d\n", a.alpha_flags, a.alpha);
            put_src(r, a.src_bitmap, &a.src_area);
        }
        return true;
    case QXL_DRAW_BLACKNESS:
    case QXL_DRAW_WHITENESS:
    case QXL_DRAW_INVERS: {
        QXLQMask m = d->u.blackness.mask;
        put_qmask(r, &m);
        return true;
    }
    case QXL_DRAW_BLEND:
    case QXL_DRAW_COPY: {
        QXLCopy c = d->u.copy; /* QXLBlend has the same layout */
        put_src(r, c.src_bitmap, &c.src_area);
        put_modes(r, "rop_descriptor", c.rop_descriptor, "scale_mode", c.scale_mode);
        put_qmask(r, &c.mask);
        return true;
    }
    case QXL_COPY_BITS: {
        QXLPoint p = d->u.copy_bits.src_pos;
        put_point(r, &p);
        return true;
    }
    case QXL_DRAW_FILL: {
        QXLFill f = d->u.fill;
        put_brush(r, &f.brush);
        fprintf(r->out, "rop_descriptor %d\n", f.rop_descriptor);
        put_qmask(r, &f.mask);
        return true;
    }
    case QXL_DRAW_OPAQUE: {
        QXLOpaque o = d->u.opaque;
        put_src(r, o.src_bitmap, &o.src_area);
        put_brush(r, &o.brush);
        put_modes(r, "rop_descriptor", o.rop_descriptor, "scale_mode", o.scale_mode);
        put_qmask(r, &o.mask);
        return true;
    }
    case QXL_DRAW_NOP:
        return true;
    case QXL_DRAW_ROP3: {
        QXLRop3 o = d->u.rop3;
        put_src(r, o.src_bitmap, &o.src_area);
        put_brush(r, &o.brush);
        put_modes(r, "rop3", o.rop3, "scale_mode", o.scale_mode);
        put_qmask(r, &o.mask);
        return true;
    }
    case QXL_DRAW_STROKE: {
        QXLStroke s = d->u.stroke;
        put_stroke(r, &s);
        return true;
    }
    case QXL_DRAW_TEXT: {
        QXLText t = d->u.text;
        put_string(r, t.str);
        put_rect(r, "back_area", &t.back_area);
        put_brush(r, &t.fore_brush);
        put_brush(r, &t.back_brush);
        put_modes(r, "fore_mode", t.fore_mode, "back_mode", t.back_mode);
        return true;
    }
    case QXL_DRAW_TRANSPARENT: {
        QXLTransparent t = d->u.transparent;
        put_src(r, t.src_bitmap, &t.src_area);
        put_modes(r, "src_color", (int32_t)t.src_color, "true_color", (int32_t)t.true_color);
        return true;
    }
    case QXL_DRAW_COMPOSITE:
        if (compat) {
            return false;
        }
        {
            QXLComposite c = d->u.composite;
            put_composite(r, &c);
        }
        return true;
    default:
        return false;
    }
}

static bool put_drawable(struct rec *r, uint64_t addr, uint32_t flags)
{
    if (flags & QXL_COMMAND_FLAG_COMPAT) {
        QXLCompatDrawable d;
        if (!guest_copy(r, addr, &d, sizeof(d))) {
            return false;
        }
        fprintf(r->out, "drawable\n");
        put_rect(r, "bbox", &d.bbox);
        put_clip(r, &d.clip);
        fprintf(r->out, "effect %d\nmm_time %d\n", d.effect, (int32_t)d.mm_time);
        fprintf(r->out, "bitmap_offset %d\n", d.bitmap_offset);
        put_rect(r, "bitmap_area", &d.bitmap_area);
        fprintf(r->out, "type %d\n", d.type);
        /* A QXLDrawable view of the compat body. */
        _Static_assert(sizeof(d.u) <= sizeof(((QXLDrawable *)0)->u), "compat union fits");
        QXLDrawable view;
        memset(&view, 0, sizeof(view));
        memcpy(&view.u, &d.u, sizeof(d.u));
        return put_draw_body(r, d.type, &view, true);
    }
    QXLDrawable d;
    if (!guest_copy(r, addr, &d, sizeof(d))) {
        return false;
    }
    fprintf(r->out, "drawable\n");
    put_rect(r, "bbox", &d.bbox);
    put_clip(r, &d.clip);
    fprintf(r->out, "effect %d\nmm_time %d\n", d.effect, (int32_t)d.mm_time);
    fprintf(r->out, "self_bitmap %d\n", d.self_bitmap);
    put_rect(r, "self_bitmap_area", &d.self_bitmap_area);
    fprintf(r->out, "surface_id %d\n", (int32_t)d.surface_id);
    for (int i = 0; i < 3; i++) {
        fprintf(r->out, "surfaces_dest %d\n", d.surfaces_dest[i]);
        QXLRect rect = d.surfaces_rects[i];
        put_rect(r, "surfaces_rects", &rect);
    }
    fprintf(r->out, "type %d\n", d.type);
    return put_draw_body(r, d.type, &d, false);
}

static bool put_update(struct rec *r, uint64_t addr)
{
    QXLUpdateCmd u;
    if (!guest_copy(r, addr, &u, sizeof(u))) {
        return false;
    }
    fprintf(r->out, "update\n");
    put_rect(r, "area", &u.area);
    fprintf(r->out, "update_id %d\nsurface_id %d\n", (int32_t)u.update_id, (int32_t)u.surface_id);
    return true;
}

static bool put_message(struct rec *r, uint64_t addr)
{
    size_t avail = 0;
    const char *err = NULL;
    const uint8_t *m =
            memslot_translate_avail(r->slots, r->group, addr, sizeof(QXLMessage), &avail, &err);
    if (!m) {
        return false;
    }
    const uint8_t *text = m + sizeof(QXLMessage);
    size_t max = avail - sizeof(QXLMessage);
    if (max > RECORD_MESSAGE_MAX) {
        max = RECORD_MESSAGE_MAX;
    }
    const uint8_t *nul = memchr(text, 0, max);
    put_binary(r->out, false, "message", text, nul ? (size_t)(nul - text) : max);
    return true;
}

static bool put_surface(struct rec *r, uint64_t addr)
{
    QXLSurfaceCmd s;
    if (!guest_copy(r, addr, &s, sizeof(s))) {
        return false;
    }
    FILE *o = r->out;
    fprintf(o, "surface_cmd\nsurface_id %d\ntype %d\nflags %d\n", (int32_t)s.surface_id, s.type,
            (int32_t)s.flags);
    if (s.type == QXL_SURFACE_CMD_CREATE) {
        QXLSurface c = s.u.surface_create;
        fprintf(o, "u.surface_create.format %d\nu.surface_create.width %d\n", (int32_t)c.format,
                (int32_t)c.width);
        fprintf(o, "u.surface_create.height %d\nu.surface_create.stride %d\n", (int32_t)c.height,
                c.stride);
        if (s.flags & QXL_SURF_FLAG_KEEP_DATA) {
            uint64_t abs_stride =
                    c.stride < 0 ? (uint64_t)(-(int64_t)c.stride) : (uint64_t)c.stride;
            put_flat(r, "data", c.data, abs_stride * c.height);
        }
    }
    return true;
}

static bool put_cursor(struct rec *r, uint64_t addr)
{
    QXLCursorCmd c;
    if (!guest_copy(r, addr, &c, sizeof(c))) {
        return false;
    }
    FILE *o = r->out;
    fprintf(o, "cursor_cmd\ntype %d\n", c.type);
    switch (c.type) {
    case QXL_CURSOR_SET: {
        fprintf(o, "point16 %d %d\n", c.u.set.position.x, c.u.set.position.y);
        fprintf(o, "u.set.visible %d\n", c.u.set.visible);
        QXLCursor shape;
        guest_copy(r, c.u.set.shape, &shape, sizeof(shape));
        QXLCursorHeader h = shape.header;
        fprintf(o, "header.unique %" PRIu64 "\nheader.type %d\n", h.unique, h.type);
        fprintf(o, "header.width %d\nheader.height %d\n", h.width, h.height);
        fprintf(o, "header.hot_spot_x %d\nheader.hot_spot_y %d\n", h.hot_spot_x, h.hot_spot_y);
        fprintf(o, "data_size %d\n", (int32_t)shape.data_size);
        put_chunks(r, "cursor", c.u.set.shape, offsetof(QXLCursor, chunk));
        break;
    }
    case QXL_CURSOR_MOVE:
        fprintf(o, "point16 %d %d\n", c.u.position.x, c.u.position.y);
        break;
    case QXL_CURSOR_TRAIL:
        fprintf(o, "u.trail.length %d\nu.trail.frequency %d\n", c.u.trail.length,
                c.u.trail.frequency);
        break;
    default:
        break;
    }
    return true;
}

/* ---- writing records ---- */

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Appends "event ..." and `body` (may be NULL) as one record. */
static void write_record(struct qxl_recorder *rec, int what, uint32_t type, const char *body,
                         size_t body_len)
{
    pthread_mutex_lock(&rec->lock);
    fprintf(rec->file, "event %u %d %u %" PRIu64 "\n", rec->counter++, what, type, monotonic_ns());
    if (body_len > 0) {
        fwrite(body, 1, body_len, rec->file);
    }
    fflush(rec->file);
    pthread_mutex_unlock(&rec->lock);
}

void qxl_recorder_command(struct qxl_recorder *rec, const struct memslot_table *slots,
                          const QXLCommandExt *ext)
{
    if (!rec || !ext) {
        return;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) {
        return;
    }
    struct rec r = {.slots = slots, .group = ext->group_id, .out = mem, .compress = rec->compress};
    uint64_t addr = ext->cmd.data;
    bool ok;
    switch (ext->cmd.type) {
    case QXL_CMD_DRAW:
        ok = put_drawable(&r, addr, ext->flags);
        break;
    case QXL_CMD_UPDATE:
        ok = put_update(&r, addr);
        break;
    case QXL_CMD_MESSAGE:
        ok = put_message(&r, addr);
        break;
    case QXL_CMD_SURFACE:
        ok = put_surface(&r, addr);
        break;
    case QXL_CMD_CURSOR:
        ok = put_cursor(&r, addr);
        break;
    default:
        ok = false;
        break;
    }
    if (fclose(mem) == 0 && ok) {
        write_record(rec, 0, ext->cmd.type, buf, len);
    }
    free(buf);
}

void qxl_recorder_message(struct qxl_recorder *rec, enum qxl_record_message msg)
{
    if (rec) {
        write_record(rec, 1, (uint32_t)msg, NULL, 0);
    }
}

void qxl_recorder_create_primary(struct qxl_recorder *rec, enum qxl_record_message msg,
                                 const struct qxl_record_primary *s, const uint8_t *mem)
{
    if (!rec || !s) {
        return;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out) {
        return;
    }
    fprintf(out, "%d %d %d %d\n", (int32_t)s->width, (int32_t)s->height, s->stride,
            (int32_t)s->format);
    fprintf(out, "%d %d %d %d\n", (int32_t)s->position, (int32_t)s->mouse_mode, (int32_t)s->flags,
            (int32_t)s->type);
    uint64_t abs_stride = s->stride < 0 ? (uint64_t)(-(int64_t)s->stride) : (uint64_t)s->stride;
    uint64_t size = abs_stride * s->height;
    put_binary(out, rec->compress, "data", mem, size <= QXL_MAX_DATA_SIZE ? (size_t)size : 0);
    if (fclose(out) == 0) {
        write_record(rec, 1, (uint32_t)msg, buf, len);
    }
    free(buf);
}

/* ---- life cycle ---- */

static struct qxl_recorder *recorder_new(FILE *file, bool compress, pid_t filter_pid)
{
    struct qxl_recorder *rec = calloc(1, sizeof(*rec));
    if (!rec) {
        fclose(file);
        return NULL;
    }
    rec->file = file;
    rec->compress = compress;
    rec->filter_pid = filter_pid;
    pthread_mutex_init(&rec->lock, NULL);
    fputs("SPICE_REPLAY 1\n", file);
    fflush(file);
    return rec;
}

struct qxl_recorder *qxl_recorder_create(FILE *file, bool compress)
{
    return file ? recorder_new(file, compress, 0) : NULL;
}

void qxl_recorder_destroy(struct qxl_recorder *rec)
{
    if (!rec) {
        return;
    }
    fclose(rec->file);
    if (rec->filter_pid > 0) {
        while (waitpid(rec->filter_pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    pthread_mutex_destroy(&rec->lock);
    free(rec);
}

/*
 * Opens `path` and, with a filter command, starts `sh -c filter` reading a
 * pipe and writing the file, as the reference does with
 * SPICE_WORKER_RECORD_FILTER. Returns the stream to write, or NULL.
 */
static FILE *open_output(const char *path, const char *filter, pid_t *pid)
{
    *pid = 0;
    if (!filter || !*filter) {
        return fopen(path, "w");
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return NULL;
    }
    int pipe_fds[2];
    if (pipe(pipe_fds) < 0) {
        close(fd);
        return NULL;
    }
    fcntl(pipe_fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(pipe_fds[1], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fd, STDOUT_FILENO);
    char *argv[] = {"sh", "-c", (char *)filter, NULL};
    int rc = posix_spawn(pid, "/bin/sh", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[0]);
    close(fd);
    if (rc != 0) {
        close(pipe_fds[1]);
        *pid = 0;
        return NULL;
    }
    FILE *f = fdopen(pipe_fds[1], "w");
    if (!f) {
        close(pipe_fds[1]);
    }
    return f;
}

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct qxl_recorder *shared_recorder;
static unsigned shared_refs;

struct qxl_recorder *qxl_recorder_create_from_env(void)
{
    const char *path = getenv("SPICE_WORKER_RECORD_FILENAME");
    if (!path || !*path) {
        return NULL;
    }
    pthread_mutex_lock(&shared_lock);
    if (!shared_recorder) {
        pid_t pid;
        FILE *f = open_output(path, getenv("SPICE_WORKER_RECORD_FILTER"), &pid);
        if (!f) {
            log_errno("cannot open the QXL recording %s", path);
        } else {
            const char *z = getenv("CLOVE_RECORD_ZLIB");
            struct qxl_recorder *created = recorder_new(f, !(z && strcmp(z, "0") == 0), pid);
            __atomic_store_n(&shared_recorder, created, __ATOMIC_RELEASE);
            if (created) {
                log_info("recording QXL commands to %s", path);
            }
        }
    }
    struct qxl_recorder *rec = shared_recorder;
    if (rec) {
        shared_refs++;
    }
    pthread_mutex_unlock(&shared_lock);
    return rec;
}

struct qxl_recorder *qxl_recorder_get_shared(void)
{
    return __atomic_load_n(&shared_recorder, __ATOMIC_ACQUIRE);
}

void qxl_recorder_unref(struct qxl_recorder *rec)
{
    if (!rec) {
        return;
    }
    pthread_mutex_lock(&shared_lock);
    if (rec == shared_recorder && --shared_refs == 0) {
        __atomic_store_n(&shared_recorder, NULL, __ATOMIC_RELEASE);
        qxl_recorder_destroy(rec);
    }
    pthread_mutex_unlock(&shared_lock);
}
