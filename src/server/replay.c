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
 * The parser reads text lines of at most REPLAY_LINE_MAX bytes and binary
 * blocks (raw or zlib) of at most QXL_MAX_DATA_SIZE bytes, grows buffers with
 * the bytes actually present, and bounds chunk counts, palettes, and surface
 * ids. Any malformed record latches an error: next_cmd then returns NULL for
 * good, as the reference does.
 *
 * Thread: next_cmd on one host thread; free_cmd from any thread (the
 * worker's release_resource); the id map and surface memory are locked.
 */
#include <inttypes.h>
#include <pthread.h>
#include <spice.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/log.h"
#include "display/qxl_parse.h"
#include "display/qxl_record.h"
#include "server/export.h"

#define REPLAY_LINE_MAX     256
#define REPLAY_MAX_SURFACES 65536
#define REPLAY_READ_STEP    (1u << 20)

#define PHYS(p)             ((QXLPHYSICAL)(uintptr_t)(p))

struct replay_cmd {
    QXLCommandExt ext; /* first: what the host sees */
    void **allocs;
    size_t n_allocs, cap_allocs;
    int64_t destroy_id; /* replayed surface id freed with this command, or -1 */
};

struct SpiceReplay {
    FILE *file;
    bool error;
    unsigned counter;
    uint32_t nsurfaces;
    struct replay_cmd *cur; /* the command being read */
    uint8_t *primary_mem;
    bool created_primary;
    pthread_mutex_t lock;  /* guards the three arrays below */
    uint32_t *id_map;      /* recorded id -> replayed id + 1 (0: none); REPLAY_MAX_SURFACES */
    uint32_t *id_owner;    /* replayed id -> recorded id + 1 (0: free); nsurfaces */
    uint8_t **surface_mem; /* replayed id -> its memory; nsurfaces */
};

static void *fail(SpiceReplay *r, const char *why)
{
    if (!r->error) {
        log_warn("replay: %s (record %u); replay stops here", why, r->counter);
    }
    r->error = true;
    return NULL;
}

/* ---- allocations owned by the command being read ---- */

static bool cmd_own(SpiceReplay *r, void *p)
{
    struct replay_cmd *c = r->cur;
    if (c->n_allocs == c->cap_allocs) {
        size_t ncap = c->cap_allocs ? c->cap_allocs * 2 : 16;
        void **grown = realloc(c->allocs, ncap * sizeof(*grown));
        if (!grown) {
            free(p);
            fail(r, "out of memory");
            return false;
        }
        c->allocs = grown;
        c->cap_allocs = ncap;
    }
    c->allocs[c->n_allocs++] = p;
    return true;
}

static void *cmd_alloc(SpiceReplay *r, size_t size)
{
    void *p = calloc(1, size);
    if (!p) {
        return fail(r, "out of memory");
    }
    return cmd_own(r, p) ? p : NULL;
}

/* ---- text ---- */

static int skip_space(SpiceReplay *r)
{
    int c;
    do {
        c = getc(r->file);
    } while (c == ' ' || c == '\n' || c == '\t' || c == '\r');
    return c;
}

/* Reads the next non-empty line (without its newline) into buf. */
static bool read_line(SpiceReplay *r, char buf[REPLAY_LINE_MAX])
{
    if (r->error) {
        return false;
    }
    int c = skip_space(r);
    size_t n = 0;
    while (c != EOF && c != '\n') {
        if (n + 1 >= REPLAY_LINE_MAX) {
            fail(r, "line too long");
            return false;
        }
        buf[n++] = (char)c;
        c = getc(r->file);
    }
    buf[n] = '\0';
    if (n == 0) {
        r->error = true; /* end of file: no warning */
        return false;
    }
    return true;
}

/* Parses "<key> <n integers>" (key "" for bare numbers); values as 64-bit patterns. */
static bool parse_line(SpiceReplay *r, const char *buf, const char *key, unsigned n, int64_t *v)
{
    size_t klen = strlen(key);
    const char *p = buf;
    if (klen > 0) {
        if (strncmp(buf, key, klen) != 0 || (buf[klen] != ' ' && buf[klen] != '\0')) {
            if (!r->error) {
                log_warn("replay: expected \"%s\", found \"%.40s\"", key, buf);
            }
            fail(r, "unexpected record line");
            return false;
        }
        p += klen;
    }
    for (unsigned i = 0; i < n; i++) {
        char *end;
        while (*p == ' ') {
            p++;
        }
        if (*p == '-') {
            v[i] = strtoll(p, &end, 10);
        } else if (*p >= '0' && *p <= '9') {
            v[i] = (int64_t)strtoull(p, &end, 10);
        } else {
            end = (char *)p;
        }
        if (end == p) {
            fail(r, "missing number in record line");
            return false;
        }
        p = end;
    }
    while (*p == ' ' || *p == '\r') {
        p++;
    }
    if (*p != '\0') {
        fail(r, "trailing text in record line");
        return false;
    }
    return true;
}

static bool line(SpiceReplay *r, const char *key, unsigned n, int64_t *v)
{
    char buf[REPLAY_LINE_MAX];
    return read_line(r, buf) && parse_line(r, buf, key, n, v);
}

/* A value that must fit 32 bits (written with %d or %u). */
static uint32_t u32(SpiceReplay *r, int64_t v)
{
    if (v < INT32_MIN || v > (int64_t)UINT32_MAX) {
        fail(r, "number out of range");
        return 0;
    }
    return (uint32_t)v;
}

static uint32_t get32(SpiceReplay *r, const char *key)
{
    int64_t v = 0;
    return line(r, key, 1, &v) ? u32(r, v) : 0;
}

static uint64_t get64(SpiceReplay *r, const char *key)
{
    int64_t v = 0;
    line(r, key, 1, &v);
    return (uint64_t)v;
}

static void get_rect(SpiceReplay *r, const char *prefix, QXLRect *out)
{
    char key[64];
    int64_t v[4] = {0};
    snprintf(key, sizeof(key), "rect %s", prefix);
    line(r, key, 4, v);
    out->top = (int32_t)u32(r, v[0]);
    out->left = (int32_t)u32(r, v[1]);
    out->bottom = (int32_t)u32(r, v[2]);
    out->right = (int32_t)u32(r, v[3]);
}

static void get_point(SpiceReplay *r, const char *key, int32_t *x, int32_t *y)
{
    int64_t v[2] = {0};
    line(r, key, 2, v);
    *x = (int32_t)u32(r, v[0]);
    *y = (int32_t)u32(r, v[1]);
}

/* ---- binary blocks ---- */

/* Reads exactly n bytes into a buffer grown as they arrive, after `base` zero bytes. */
static uint8_t *read_raw(SpiceReplay *r, size_t base, size_t n)
{
    size_t cap = base + (n < REPLAY_READ_STEP ? n : REPLAY_READ_STEP) + 1;
    uint8_t *buf = calloc(1, cap);
    size_t got = 0;
    while (buf && got < n) {
        if (base + got == cap - 1) {
            size_t ncap = cap - 1 + (n - got < cap ? n - got : cap) + 1;
            uint8_t *grown = realloc(buf, ncap);
            if (!grown) {
                break;
            }
            buf = grown;
            cap = ncap;
        }
        size_t want = cap - 1 - base - got;
        size_t rd = fread(buf + base + got, 1, want, r->file);
        got += rd;
        if (rd < want) {
            break;
        }
    }
    if (!buf || got < n) {
        free(buf);
        return fail(r, "binary block cut short");
    }
    buf[base + n] = 0;
    return buf;
}

static uint8_t *inflate_block(SpiceReplay *r, const uint8_t *z, size_t zsize, size_t base, size_t n)
{
    z_stream s;
    memset(&s, 0, sizeof(s));
    if (inflateInit(&s) != Z_OK) {
        return fail(r, "zlib init failed");
    }
    size_t cap = base + (n < REPLAY_READ_STEP ? n : REPLAY_READ_STEP) + 1;
    uint8_t *out = calloc(1, cap);
    s.next_in = (Bytef *)z;
    s.avail_in = (uInt)zsize;
    int ret = Z_OK;
    while (out && ret == Z_OK) {
        if (s.total_out == n) {
            /* Everything is here; the stream must end now. */
            uint8_t probe;
            s.next_out = &probe;
            s.avail_out = 1;
            ret = inflate(&s, Z_FINISH);
            break;
        }
        if (base + s.total_out == cap - 1) {
            size_t ncap = cap - 1 + (n - s.total_out < cap ? n - s.total_out : cap) + 1;
            uint8_t *grown = realloc(out, ncap);
            if (!grown) {
                break;
            }
            out = grown;
            cap = ncap;
        }
        s.next_out = out + base + s.total_out;
        s.avail_out = (uInt)(cap - 1 - base - s.total_out);
        ret = inflate(&s, Z_NO_FLUSH);
    }
    bool ok = out && ret == Z_STREAM_END && s.total_out == n;
    inflateEnd(&s);
    if (!ok) {
        free(out);
        return fail(r, "bad zlib block");
    }
    out[base + n] = 0;
    return out;
}

/*
 * Reads "binary <zlib> <prefix> <size>:" [<zsize>":"] and the bytes.
 * Returns a buffer owned by the command: `base` zero bytes, the data, and a
 * NUL; *size gets the data size. NULL on error.
 */
static uint8_t *read_binary(SpiceReplay *r, const char *prefix, size_t base, size_t *size)
{
    char hdr[REPLAY_LINE_MAX];
    size_t n = 0;
    *size = 0;
    if (r->error) {
        return NULL;
    }
    int c = skip_space(r);
    while (c != EOF && c != ':' && n + 1 < sizeof(hdr)) {
        hdr[n++] = (char)c;
        c = getc(r->file);
    }
    hdr[n] = '\0';
    if (c != ':') {
        return fail(r, "bad binary block header");
    }
    /* "binary <0|1> <prefix> <size>", single spaces as both writers put them. */
    size_t plen = strlen(prefix);
    if (n < 10 + plen || strncmp(hdr, "binary ", 7) != 0 || (hdr[7] != '0' && hdr[7] != '1') ||
        hdr[8] != ' ' || strncmp(hdr + 9, prefix, plen) != 0 || hdr[9 + plen] != ' ') {
        return fail(r, "unexpected binary block");
    }
    bool zflag = hdr[7] == '1';
    int64_t v = 0;
    if (!parse_line(r, hdr + 9 + plen, "", 1, &v) || v < 0 || v > (int64_t)QXL_MAX_DATA_SIZE) {
        return fail(r, "binary block size out of range");
    }
    size_t len = (size_t)v;
    uint8_t *data;
    if (zflag) {
        uint64_t zsize = 0;
        int digits = 0;
        while ((c = getc(r->file)) >= '0' && c <= '9' && digits++ < 12) {
            zsize = zsize * 10 + (uint64_t)(c - '0');
        }
        if (c != ':' || digits == 0 || zsize > (uint64_t)QXL_MAX_DATA_SIZE + 65536) {
            return fail(r, "bad zlib block size");
        }
        uint8_t *z = read_raw(r, 0, (size_t)zsize);
        if (!z) {
            return NULL;
        }
        data = inflate_block(r, z, (size_t)zsize, base, len);
        free(z);
    } else {
        data = read_raw(r, base, len);
    }
    if (!data || !cmd_own(r, data)) {
        return NULL;
    }
    *size = len;
    return data;
}

/*
 * Reads "data_chunks <links> <total>" and its blocks: the first into a
 * buffer of `base` bytes whose last sizeof(QXLDataChunk) are the first
 * chunk's header (base 0: a bare chunk), the others as linked chunks.
 * Returns the buffer and the total in *total, NULL on error.
 */
static uint8_t *read_chunks(SpiceReplay *r, const char *prefix, size_t base, size_t *total)
{
    int64_t v[2] = {0};
    *total = 0;
    if (!line(r, "data_chunks", 2, v)) {
        return NULL;
    }
    if (v[0] < 0 || v[0] >= QXL_MAX_CHUNKS) {
        return fail(r, "too many data chunks");
    }
    if (base == 0) {
        base = sizeof(QXLDataChunk);
    }
    size_t size;
    uint8_t *first = read_binary(r, prefix, base, &size);
    if (!first) {
        return NULL;
    }
    QXLDataChunk *cur = (QXLDataChunk *)(first + base - sizeof(QXLDataChunk));
    cur->data_size = (uint32_t)size;
    size_t sum = size;
    for (int64_t i = 0; i < v[0]; i++) {
        uint8_t *next = read_binary(r, prefix, sizeof(QXLDataChunk), &size);
        if (!next) {
            return NULL;
        }
        if (size > QXL_MAX_DATA_SIZE - sum) {
            return fail(r, "chunked data too large");
        }
        QXLDataChunk *nc = (QXLDataChunk *)next;
        nc->data_size = (uint32_t)size;
        nc->prev_chunk = PHYS(cur);
        cur->next_chunk = PHYS(nc);
        cur = nc;
        sum += size;
    }
    *total = sum;
    return first;
}

/* ---- surface ids ---- */

static uint32_t id_get(SpiceReplay *r, uint32_t recorded)
{
    if (recorded == UINT32_MAX) {
        return recorded;
    }
    uint32_t id = 0;
    pthread_mutex_lock(&r->lock);
    if (recorded < REPLAY_MAX_SURFACES && r->id_map[recorded] != 0) {
        id = r->id_map[recorded] - 1;
    }
    pthread_mutex_unlock(&r->lock);
    return id;
}

/* Maps a newly created recorded surface; its memory (taken) is kept with it. */
static int64_t id_new(SpiceReplay *r, uint32_t recorded, uint8_t *mem)
{
    int64_t id = -1;
    pthread_mutex_lock(&r->lock);
    if (recorded < REPLAY_MAX_SURFACES) {
        for (uint32_t i = 1; i < r->nsurfaces; i++) {
            if (r->id_owner[i] == 0) {
                id = i;
                break;
            }
        }
    }
    if (id > 0) {
        r->id_owner[id] = recorded + 1;
        r->id_map[recorded] = (uint32_t)id + 1;
        free(r->surface_mem[id]);
        r->surface_mem[id] = mem;
    }
    pthread_mutex_unlock(&r->lock);
    if (id < 0) {
        free(mem);
        fail(r, "no free surface id, or recorded id out of range");
    }
    return id;
}

static void id_free(SpiceReplay *r, uint32_t id)
{
    pthread_mutex_lock(&r->lock);
    if (id > 0 && id < r->nsurfaces && r->id_owner[id] != 0) {
        uint32_t recorded = r->id_owner[id] - 1;
        if (r->id_map[recorded] == id + 1) {
            r->id_map[recorded] = 0;
        }
        r->id_owner[id] = 0;
        free(r->surface_mem[id]);
        r->surface_mem[id] = NULL;
    }
    pthread_mutex_unlock(&r->lock);
}

/* ---- drawables ---- */

/* Reads "image <0|1>" and the image; returns its address, 0 when absent. */
static QXLPHYSICAL get_image(SpiceReplay *r)
{
    if (get32(r, "image") == 0 || r->error) {
        return 0;
    }
    QXLImageDescriptor desc;
    desc.id = get64(r, "descriptor.id");
    desc.type = (uint8_t)get32(r, "descriptor.type");
    desc.flags = (uint8_t)get32(r, "descriptor.flags");
    desc.width = get32(r, "descriptor.width");
    desc.height = get32(r, "descriptor.height");
    if (r->error) {
        return 0;
    }
    size_t size;
    if (desc.type == SPICE_IMAGE_TYPE_QUIC) {
        uint32_t data_size = get32(r, "quic.data_size");
        QXLImage *img = (QXLImage *)read_chunks(
                r, "quic.data",
                sizeof(QXLImageDescriptor) + sizeof(QXLQUICData) + sizeof(QXLDataChunk), &size);
        if (!img || size != data_size) {
            return 0; /* inconsistent: dropped like the reference does */
        }
        img->descriptor = desc;
        img->quic.data_size = data_size;
        return PHYS(img);
    }
    QXLImage *img = cmd_alloc(r, sizeof(QXLImage));
    if (!img) {
        return 0;
    }
    img->descriptor = desc;
    if (desc.type == SPICE_IMAGE_TYPE_SURFACE) {
        img->surface_image.surface_id = id_get(r, get32(r, "surface_image.surface_id"));
        return PHYS(img);
    }
    if (desc.type != SPICE_IMAGE_TYPE_BITMAP) {
        fail(r, "unknown image type");
        return 0;
    }
    QXLBitmap b;
    memset(&b, 0, sizeof(b));
    b.format = (uint8_t)get32(r, "bitmap.format");
    b.flags = (uint8_t)get32(r, "bitmap.flags");
    b.x = get32(r, "bitmap.x");
    b.y = get32(r, "bitmap.y");
    b.stride = get32(r, "bitmap.stride");
    if (get32(r, "has_palette") && !r->error) {
        uint32_t num = get32(r, "qp.num_ents");
        if (num > UINT16_MAX) {
            fail(r, "palette too large");
            return 0;
        }
        QXLPalette *pal = cmd_alloc(r, sizeof(QXLPalette) + num * sizeof(uint32_t));
        if (!pal) {
            return 0;
        }
        pal->num_ents = (uint16_t)num;
        pal->unique = get64(r, "unique");
        uint8_t *ents = (uint8_t *)pal + sizeof(QXLPalette);
        for (uint32_t i = 0; i < num && !r->error; i++) {
            uint32_t ent = get32(r, "ents");
            memcpy(ents + i * sizeof(ent), &ent, sizeof(ent));
        }
        b.palette = PHYS(pal);
    }
    uint64_t want = (uint64_t)b.y * b.stride;
    uint8_t *data = (b.flags & QXL_BITMAP_DIRECT) ? read_binary(r, "image_data_flat", 0, &size)
                                                  : read_chunks(r, "bitmap.data", 0, &size);
    if (!data || size != want) {
        return 0; /* pixels missing: the image is dropped, as the reference does */
    }
    b.data = PHYS(data);
    img->bitmap = b;
    return PHYS(img);
}

static void get_brush(SpiceReplay *r, QXLBrush *b)
{
    b->type = get32(r, "type");
    if (b->type == SPICE_BRUSH_TYPE_SOLID) {
        b->u.color = get32(r, "u.color");
    } else if (b->type == SPICE_BRUSH_TYPE_PATTERN) {
        b->u.pattern.pat = get_image(r);
        int32_t x, y;
        get_point(r, "point", &x, &y);
        b->u.pattern.pos.x = x;
        b->u.pattern.pos.y = y;
    }
}

static void get_qmask(SpiceReplay *r, QXLQMask *m)
{
    m->flags = (uint8_t)get32(r, "flags");
    int32_t x, y;
    get_point(r, "point", &x, &y);
    m->pos.x = x;
    m->pos.y = y;
    m->bitmap = get_image(r);
}

static QXLPHYSICAL get_transform(SpiceReplay *r, const char *key)
{
    if (get32(r, key) == 0 || r->error) {
        return 0;
    }
    size_t size;
    uint8_t *t = read_binary(r, "transform", 0, &size);
    if (t && size != 6 * sizeof(uint32_t)) {
        fail(r, "bad transform size");
        return 0;
    }
    return PHYS(t);
}

static void get_clip(SpiceReplay *r, QXLClip *clip)
{
    clip->type = get32(r, "type");
    if (clip->type != SPICE_CLIP_TYPE_RECTS || r->error) {
        return;
    }
    uint32_t num = get32(r, "num_rects");
    size_t size;
    QXLClipRects *rects = (QXLClipRects *)read_chunks(r, "clip_rects", sizeof(QXLClipRects), &size);
    if (rects && (num > QXL_MAX_CLIP_RECTS || (uint64_t)num * sizeof(QXLRect) > size)) {
        fail(r, "clip rectangle count does not match its data");
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
    QXLPath *path = (QXLPath *)read_chunks(r, "path", sizeof(QXLPath), &size);
    if (path) {
        path->data_size = (uint32_t)size;
        s->path = PHYS(path);
    }
    s->attr.flags = (uint8_t)get32(r, "attr.flags");
    if ((s->attr.flags & SPICE_LINE_FLAGS_STYLED) && !r->error) {
        s->attr.style_nseg = (uint8_t)get32(r, "attr.style_nseg");
        uint8_t *style = read_binary(r, "style", 0, &size);
        if (style && size < s->attr.style_nseg * sizeof(QXLFIXED)) {
            fail(r, "line style shorter than its segment count");
            return;
        }
        s->attr.style = PHYS(style);
    }
    get_brush(r, &s->brush);
    s->fore_mode = (uint16_t)get32(r, "fore_mode");
    s->back_mode = (uint16_t)get32(r, "back_mode");
}

static void get_text(SpiceReplay *r, QXLText *t)
{
    uint32_t data_size = get32(r, "data_size");
    uint16_t length = (uint16_t)get32(r, "length");
    uint16_t flags = (uint16_t)get32(r, "flags");
    size_t size;
    QXLString *str = (QXLString *)read_chunks(r, "string", sizeof(QXLString), &size);
    if (str) {
        str->data_size = data_size == size ? data_size : (uint32_t)size;
        str->length = length;
        str->flags = flags;
        t->str = PHYS(str);
    }
    get_rect(r, "back_area", &t->back_area);
    get_brush(r, &t->fore_brush);
    get_brush(r, &t->back_brush);
    t->fore_mode = (uint16_t)get32(r, "fore_mode");
    t->back_mode = (uint16_t)get32(r, "back_mode");
}

static void get_composite(SpiceReplay *r, QXLComposite *c)
{
    c->flags = get32(r, "flags");
    c->src = get_image(r);
    c->src_transform = get_transform(r, "src_transform");
    c->mask = get32(r, "mask") ? get_image(r) : 0;
    c->mask_transform = get_transform(r, "mask_transform");
    int32_t x, y;
    get_point(r, "src_origin", &x, &y);
    c->src_origin.x = (int16_t)x;
    c->src_origin.y = (int16_t)y;
    get_point(r, "mask_origin", &x, &y);
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
            a.alpha = (uint8_t)get32(r, "alpha");
            a.src_bitmap = get_image(r);
            get_rect(r, "src_area", &a.src_area);
            memcpy(&d->u, &a, sizeof(a));
        } else {
            d->u.alpha_blend.alpha_flags = (uint16_t)get32(r, "alpha_flags");
            d->u.alpha_blend.alpha = (uint8_t)get32(r, "alpha");
            d->u.alpha_blend.src_bitmap = get_image(r);
            get_rect(r, "src_area", &d->u.alpha_blend.src_area);
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
        get_rect(r, "src_area", &d->u.copy.src_area);
        d->u.copy.rop_descriptor = (uint16_t)get32(r, "rop_descriptor");
        d->u.copy.scale_mode = (uint8_t)get32(r, "scale_mode");
        get_qmask(r, &d->u.copy.mask);
        return;
    case QXL_COPY_BITS: {
        int32_t x, y;
        get_point(r, "point", &x, &y);
        d->u.copy_bits.src_pos.x = x;
        d->u.copy_bits.src_pos.y = y;
        return;
    }
    case QXL_DRAW_FILL:
        get_brush(r, &d->u.fill.brush);
        d->u.fill.rop_descriptor = (uint16_t)get32(r, "rop_descriptor");
        get_qmask(r, &d->u.fill.mask);
        return;
    case QXL_DRAW_OPAQUE:
        d->u.opaque.src_bitmap = get_image(r);
        get_rect(r, "src_area", &d->u.opaque.src_area);
        get_brush(r, &d->u.opaque.brush);
        d->u.opaque.rop_descriptor = (uint16_t)get32(r, "rop_descriptor");
        d->u.opaque.scale_mode = (uint8_t)get32(r, "scale_mode");
        get_qmask(r, &d->u.opaque.mask);
        return;
    case QXL_DRAW_NOP:
        return;
    case QXL_DRAW_ROP3:
        d->u.rop3.src_bitmap = get_image(r);
        get_rect(r, "src_area", &d->u.rop3.src_area);
        get_brush(r, &d->u.rop3.brush);
        d->u.rop3.rop3 = (uint8_t)get32(r, "rop3");
        d->u.rop3.scale_mode = (uint8_t)get32(r, "scale_mode");
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
        get_rect(r, "src_area", &d->u.transparent.src_area);
        d->u.transparent.src_color = get32(r, "src_color");
        d->u.transparent.true_color = get32(r, "true_color");
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
    fail(r, "unknown draw type");
}

/*
 * "drawable" and its fields. The recording does not keep the command flags;
 * a compat drawable is recognised by its "bitmap_offset" line, and *flags
 * gets QXL_COMMAND_FLAG_COMPAT (the reference replays only native ones).
 */
static void *get_drawable(SpiceReplay *r, uint32_t *flags)
{
    if (!line(r, "drawable", 0, NULL)) {
        return NULL;
    }
    /* Built as a native drawable; a compat one is repacked at the end. */
    QXLDrawable *d = cmd_alloc(r, sizeof(QXLDrawable));
    if (!d) {
        return NULL;
    }
    get_rect(r, "bbox", &d->bbox);
    get_clip(r, &d->clip);
    d->effect = (uint8_t)get32(r, "effect");
    d->mm_time = get32(r, "mm_time");
    char buf[REPLAY_LINE_MAX];
    if (!read_line(r, buf)) {
        return NULL;
    }
    int64_t v = 0;
    if (strncmp(buf, "bitmap_offset ", 14) == 0) {
        QXLCompatDrawable *c = cmd_alloc(r, sizeof(QXLCompatDrawable));
        if (!c || !parse_line(r, buf, "bitmap_offset", 1, &v)) {
            return NULL;
        }
        c->bitmap_offset = (uint16_t)u32(r, v);
        get_rect(r, "bitmap_area", &c->bitmap_area);
        c->type = (uint8_t)get32(r, "type");
        get_draw_body(r, c->type, d, true);
        c->bbox = d->bbox;
        c->clip = d->clip;
        c->effect = d->effect;
        c->mm_time = d->mm_time;
        memcpy(&c->u, &d->u, sizeof(c->u));
        *flags = QXL_COMMAND_FLAG_COMPAT;
        return c;
    }
    if (!parse_line(r, buf, "self_bitmap", 1, &v)) {
        return NULL;
    }
    d->self_bitmap = (uint8_t)u32(r, v);
    get_rect(r, "self_bitmap_area", &d->self_bitmap_area);
    d->surface_id = id_get(r, get32(r, "surface_id"));
    for (int i = 0; i < 3; i++) {
        d->surfaces_dest[i] = (int32_t)id_get(r, get32(r, "surfaces_dest"));
        get_rect(r, "surfaces_rects", &d->surfaces_rects[i]);
    }
    d->type = (uint8_t)get32(r, "type");
    if (!r->error) {
        get_draw_body(r, d->type, d, false);
    }
    return d;
}

/* ---- other commands ---- */

static void *get_update(SpiceReplay *r)
{
    QXLUpdateCmd *u = cmd_alloc(r, sizeof(QXLUpdateCmd));
    if (!u || !line(r, "update", 0, NULL)) {
        return NULL;
    }
    get_rect(r, "area", &u->area);
    u->update_id = get32(r, "update_id");
    u->surface_id = id_get(r, get32(r, "surface_id"));
    return u;
}

static void *get_message(SpiceReplay *r)
{
    size_t size;
    uint8_t *m = read_binary(r, "message", sizeof(QXLMessage), &size);
    /* Parsers may read a message's first 256 bytes before finding its NUL
     * (guest memory has no end marker), so a short text gets zero padding. */
    if (m && size < 256) {
        uint8_t *padded = cmd_alloc(r, sizeof(QXLMessage) + 256);
        if (padded) {
            memcpy(padded, m, sizeof(QXLMessage) + size);
        }
        return padded;
    }
    return m;
}

static void *get_surface(SpiceReplay *r)
{
    QXLSurfaceCmd *s = cmd_alloc(r, sizeof(QXLSurfaceCmd));
    if (!s || !line(r, "surface_cmd", 0, NULL)) {
        return NULL;
    }
    uint32_t recorded = get32(r, "surface_id");
    s->type = (uint8_t)get32(r, "type");
    s->flags = get32(r, "flags");
    if (r->error) {
        return NULL;
    }
    if (s->type == QXL_SURFACE_CMD_DESTROY) {
        s->surface_id = id_get(r, recorded);
        r->cur->destroy_id = s->surface_id;
        return s;
    }
    if (s->type != QXL_SURFACE_CMD_CREATE) {
        return s;
    }
    QXLSurface *c = &s->u.surface_create;
    c->format = get32(r, "u.surface_create.format");
    c->width = get32(r, "u.surface_create.width");
    c->height = get32(r, "u.surface_create.height");
    c->stride = (int32_t)get32(r, "u.surface_create.stride");
    uint64_t abs_stride = c->stride < 0 ? (uint64_t)(-(int64_t)c->stride) : (uint64_t)c->stride;
    uint64_t want = abs_stride * c->height;
    if (r->error || want > QXL_MAX_DATA_SIZE) {
        return fail(r, "surface too large");
    }
    /* The memory outlives this command: it is kept with the surface id. */
    uint8_t *mem = calloc(1, want ? (size_t)want : 1);
    if (!mem) {
        return fail(r, "out of memory");
    }
    if (s->flags & QXL_SURF_FLAG_KEEP_DATA) {
        size_t size;
        uint8_t *data = read_binary(r, "data", 0, &size);
        if (data) {
            memcpy(mem, data, size < want ? size : (size_t)want);
        }
    }
    if (r->error) {
        free(mem);
        return NULL;
    }
    int64_t id = id_new(r, recorded, mem);
    if (id < 0) {
        return NULL;
    }
    s->surface_id = (uint32_t)id;
    c->data = PHYS(mem);
    return s;
}

static void *get_cursor(SpiceReplay *r)
{
    QXLCursorCmd *c = cmd_alloc(r, sizeof(QXLCursorCmd));
    if (!c || !line(r, "cursor_cmd", 0, NULL)) {
        return NULL;
    }
    c->type = (uint8_t)get32(r, "type");
    int32_t x, y;
    switch (c->type) {
    case QXL_CURSOR_SET: {
        get_point(r, "point16", &x, &y);
        c->u.set.position.x = (int16_t)x;
        c->u.set.position.y = (int16_t)y;
        c->u.set.visible = (uint8_t)get32(r, "u.set.visible");
        QXLCursorHeader h;
        h.unique = get64(r, "header.unique");
        h.type = (uint16_t)get32(r, "header.type");
        h.width = (uint16_t)get32(r, "header.width");
        h.height = (uint16_t)get32(r, "header.height");
        h.hot_spot_x = (uint16_t)get32(r, "header.hot_spot_x");
        h.hot_spot_y = (uint16_t)get32(r, "header.hot_spot_y");
        get32(r, "data_size");
        size_t size;
        QXLCursor *shape = (QXLCursor *)read_chunks(r, "cursor", sizeof(QXLCursor), &size);
        if (shape) {
            shape->header = h;
            shape->data_size = (uint32_t)size;
            c->u.set.shape = PHYS(shape);
        }
        break;
    }
    case QXL_CURSOR_MOVE:
        get_point(r, "point16", &x, &y);
        c->u.position.x = (int16_t)x;
        c->u.position.y = (int16_t)y;
        break;
    case QXL_CURSOR_TRAIL:
        c->u.trail.length = (uint16_t)get32(r, "u.trail.length");
        c->u.trail.frequency = (uint16_t)get32(r, "u.trail.frequency");
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
    if (!line(r, "", 4, a) || !line(r, "", 4, b)) {
        return;
    }
    QXLDevSurfaceCreate s;
    memset(&s, 0, sizeof(s));
    s.width = u32(r, a[0]);
    s.height = u32(r, a[1]);
    s.stride = (int32_t)u32(r, a[2]);
    s.format = u32(r, a[3]);
    s.position = u32(r, b[0]);
    s.mouse_mode = u32(r, b[1]);
    s.flags = u32(r, b[2]);
    s.type = u32(r, b[3]);
    uint64_t abs_stride = s.stride < 0 ? (uint64_t)(-(int64_t)s.stride) : (uint64_t)s.stride;
    uint64_t want = abs_stride * s.height;
    size_t size;
    uint8_t *data = read_binary(r, "data", 0, &size);
    if (!data || want > QXL_MAX_DATA_SIZE || want == 0) {
        fail(r, "bad primary surface");
        return;
    }
    uint8_t *mem = calloc(1, (size_t)want);
    if (!mem) {
        fail(r, "out of memory");
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
        return fail(r, "out of memory");
    }
    c->destroy_id = -1;
    r->cur = c;
    int64_t ev[4] = {0};
    for (;;) {
        if (!line(r, "event", 4, ev)) {
            r->cur = NULL;
            cmd_free(c);
            return NULL;
        }
        if (ev[1] == 0) {
            break;
        }
        if (ev[1] == 1) {
            replay_message(r, instance, u32(r, ev[2]));
        }
    }
    uint32_t type = u32(r, ev[2]);
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
        fail(r, "unknown command type");
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
        id_free(replay, (uint32_t)c->destroy_id);
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
