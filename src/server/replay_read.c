/*
 * The reader primitives of spice_replay_* (see replay_priv.h and replay.c):
 * text lines "<key> <integers>", binary blocks
 * "binary <zlib> <prefix> <size>:" [<zsize>":"] <bytes>, chunk lists, and
 * the map of recorded to replayed surface ids.
 *
 * DESIGN
 * Lines are at most REPLAY_LINE_MAX bytes; blocks at most QXL_MAX_DATA_SIZE
 * bytes, read (or inflated) into buffers that grow with the bytes actually
 * present, so a header claiming a huge block costs nothing until the data
 * is really there. Chunk lists are bounded by QXL_MAX_CHUNKS links and
 * QXL_MAX_DATA_SIZE bytes in total. Every failure latches r->error.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/log.h"
#include "display/qxl_parse.h"
#include "server/replay_priv.h"

void *replay_fail(SpiceReplay *r, const char *why)
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
            replay_fail(r, "out of memory");
            return false;
        }
        c->allocs = grown;
        c->cap_allocs = ncap;
    }
    c->allocs[c->n_allocs++] = p;
    return true;
}

void *replay_alloc(SpiceReplay *r, size_t size)
{
    void *p = calloc(1, size);
    if (!p) {
        return replay_fail(r, "out of memory");
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
bool replay_read_line(SpiceReplay *r, char buf[REPLAY_LINE_MAX])
{
    if (r->error) {
        return false;
    }
    int c = skip_space(r);
    size_t n = 0;
    while (c != EOF && c != '\n') {
        if (n + 1 >= REPLAY_LINE_MAX) {
            replay_fail(r, "line too long");
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
bool replay_parse_line(SpiceReplay *r, const char *buf, const char *key, unsigned n, int64_t *v)
{
    size_t klen = strlen(key);
    const char *p = buf;
    if (klen > 0) {
        if (strncmp(buf, key, klen) != 0 || (buf[klen] != ' ' && buf[klen] != '\0')) {
            if (!r->error) {
                log_warn("replay: expected \"%s\", found \"%.40s\"", key, buf);
            }
            replay_fail(r, "unexpected record line");
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
            replay_fail(r, "missing number in record line");
            return false;
        }
        p = end;
    }
    while (*p == ' ' || *p == '\r') {
        p++;
    }
    if (*p != '\0') {
        replay_fail(r, "trailing text in record line");
        return false;
    }
    return true;
}

bool replay_line(SpiceReplay *r, const char *key, unsigned n, int64_t *v)
{
    char buf[REPLAY_LINE_MAX];
    return replay_read_line(r, buf) && replay_parse_line(r, buf, key, n, v);
}

/* A value that must fit 32 bits (written with %d or %u). */
uint32_t replay_u32(SpiceReplay *r, int64_t v)
{
    if (v < INT32_MIN || v > (int64_t)UINT32_MAX) {
        replay_fail(r, "number out of range");
        return 0;
    }
    return (uint32_t)v;
}

uint32_t replay_get32(SpiceReplay *r, const char *key)
{
    int64_t v = 0;
    return replay_line(r, key, 1, &v) ? replay_u32(r, v) : 0;
}

uint64_t replay_get64(SpiceReplay *r, const char *key)
{
    int64_t v = 0;
    replay_line(r, key, 1, &v);
    return (uint64_t)v;
}

void replay_get_rect(SpiceReplay *r, const char *prefix, QXLRect *out)
{
    char key[64];
    int64_t v[4] = {0};
    snprintf(key, sizeof(key), "rect %s", prefix);
    replay_line(r, key, 4, v);
    out->top = (int32_t)replay_u32(r, v[0]);
    out->left = (int32_t)replay_u32(r, v[1]);
    out->bottom = (int32_t)replay_u32(r, v[2]);
    out->right = (int32_t)replay_u32(r, v[3]);
}

void replay_get_point(SpiceReplay *r, const char *key, int32_t *x, int32_t *y)
{
    int64_t v[2] = {0};
    replay_line(r, key, 2, v);
    *x = (int32_t)replay_u32(r, v[0]);
    *y = (int32_t)replay_u32(r, v[1]);
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
        return replay_fail(r, "binary block cut short");
    }
    buf[base + n] = 0;
    return buf;
}

static uint8_t *inflate_block(SpiceReplay *r, const uint8_t *z, size_t zsize, size_t base, size_t n)
{
    z_stream s;
    memset(&s, 0, sizeof(s));
    if (inflateInit(&s) != Z_OK) {
        return replay_fail(r, "zlib init failed");
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
        return replay_fail(r, "bad zlib block");
    }
    out[base + n] = 0;
    return out;
}

/*
 * Reads "binary <zlib> <prefix> <size>:" [<zsize>":"] and the bytes.
 * Returns a buffer owned by the command: `base` zero bytes, the data, and a
 * NUL; *size gets the data size. NULL on error.
 */
uint8_t *replay_read_binary(SpiceReplay *r, const char *prefix, size_t base, size_t *size)
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
        return replay_fail(r, "bad binary block header");
    }
    /* "binary <0|1> <prefix> <size>", single spaces as both writers put them. */
    size_t plen = strlen(prefix);
    if (n < 10 + plen || strncmp(hdr, "binary ", 7) != 0 || (hdr[7] != '0' && hdr[7] != '1') ||
        hdr[8] != ' ' || strncmp(hdr + 9, prefix, plen) != 0 || hdr[9 + plen] != ' ') {
        return replay_fail(r, "unexpected binary block");
    }
    bool zflag = hdr[7] == '1';
    int64_t v = 0;
    if (!replay_parse_line(r, hdr + 9 + plen, "", 1, &v) || v < 0 ||
        v > (int64_t)QXL_MAX_DATA_SIZE) {
        return replay_fail(r, "binary block size out of range");
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
            return replay_fail(r, "bad zlib block size");
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
uint8_t *replay_read_chunks(SpiceReplay *r, const char *prefix, size_t base, size_t *total)
{
    int64_t v[2] = {0};
    *total = 0;
    if (!replay_line(r, "data_chunks", 2, v)) {
        return NULL;
    }
    if (v[0] < 0 || v[0] >= QXL_MAX_CHUNKS) {
        return replay_fail(r, "too many data chunks");
    }
    if (base == 0) {
        base = sizeof(QXLDataChunk);
    }
    size_t size;
    uint8_t *first = replay_read_binary(r, prefix, base, &size);
    if (!first) {
        return NULL;
    }
    QXLDataChunk *cur = (QXLDataChunk *)(first + base - sizeof(QXLDataChunk));
    cur->data_size = (uint32_t)size;
    size_t sum = size;
    for (int64_t i = 0; i < v[0]; i++) {
        uint8_t *next = replay_read_binary(r, prefix, sizeof(QXLDataChunk), &size);
        if (!next) {
            return NULL;
        }
        if (size > QXL_MAX_DATA_SIZE - sum) {
            return replay_fail(r, "chunked data too large");
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

uint32_t replay_id_get(SpiceReplay *r, uint32_t recorded)
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
int64_t replay_id_new(SpiceReplay *r, uint32_t recorded, uint8_t *mem)
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
        replay_fail(r, "no free surface id, or recorded id out of range");
    }
    return id;
}

void replay_id_free(SpiceReplay *r, uint32_t id)
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
