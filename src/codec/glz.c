/*
 * SPICE GLZ codec: the per-client encoder dictionary and the client's
 * decoder window (see glz.h).
 *
 * STREAM. Like LZ (lz.c) a stream is literal runs (ctrl < 32, ctrl + 1
 * units follow) and matches. A match is
 *   ctrl = L << 5 | F << 4 | O[3:0]   (L = 1..7; 7: 255-continued bytes)
 *   byte O[11:4]
 *   F == 0: byte K << 6 | I[5:0], then K bytes of I >> 6 (LE);
 *   F == 1: byte K << 6 | G << 5 | O[16:12], then K bytes of I (LE),
 *           then if G, byte O[24:17].
 * I is the image distance (0: this image) and O the pixel offset: for I ==
 * 0 the distance back minus one, otherwise the offset from the start of
 * image id - I. Lengths get the same bias as LZ (0 for RGB, 1 for RGB16).
 * The decoder (spice-gtk) turns every image into 4-byte pixels and copies
 * references from those, so keys of RGB16 images are their RGB32 values.
 *
 * ENCODER DESIGN. The dictionary copies the keys (24-bit RGB per pixel) of
 * the images in the window into a ring buffer addressed by a global pixel
 * position: the key of position p lives at keys[p & ring_mask]. The ring
 * (a power of two, >= the live pixels plus the new image) is followed by an
 * overflow area as large as the largest image, so every image is stored
 * contiguously from its start even when it wraps; the wrapped part is then
 * copied to the ring's front, where later images find it by position. Nothing
 * moves when images are evicted: their keys are simply overwritten. Match
 * candidates at each position, longest wins (ties go to the cheaper code):
 *   - the previous pixel (runs) and the pixel one row above;
 *   - the displacement of the last match (after an edit, the rest of the
 *     row usually continues where it left off);
 *   - the displacement used by the pixel directly above: this is what
 *     finds a scrolled or moved window row after row once one row matched;
 *   - a hash table (2^20 slots) of the last position of each 4-pixel
 *     sequence, shared by all images of the window.
 * Stale hash entries are harmless: every candidate is checked against the
 * window and verified pixel by pixel. The RGBA alpha plane is coded with
 * references inside the image only.
 *
 * DECODER. The window keeps each decoded image as 4-byte pixels keyed by
 * id. Every reference is checked: image distance within the header's
 * win_head_image_dist, the image present, offset + length inside it, and
 * in-image matches inside what is already decoded.
 */
#include "codec/glz.h"

#include <stdlib.h>
#include <string.h>

#include "codec/lz_pixels.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define GLZ_HAVE_SSE2 1
#else
#define GLZ_HAVE_SSE2 0
#endif

#define GLZ_MAX_COPY         32
#define GLZ_HASH_LOG         20
#define GLZ_HASH_SIZE        (1u << GLZ_HASH_LOG)
#define GLZ_ALPHA_HASH_LOG   14
#define GLZ_SHORT_OFS        4096u      /* offsets below fit the 12-bit form */
#define GLZ_MEDIUM_OFS       (1u << 17) /* below: no extra offset byte */
#define GLZ_MAX_IMAGE_DIST   (1u << 22) /* we never code larger image distances */
#define GLZ_SKIP_TRIGGER     6
#define GLZ_SEG              32 /* pixels of a column-aligned segment */
#define GLZ_SEG_HASH_LOG     17
#define GLZ_FRAME_CANDIDATES 3 /* recent same-size images tried at the same position */

static int glz_fail(const char **err_desc, const char *msg, int code)
{
    if (err_desc) {
        *err_desc = msg;
    }
    return code;
}

static void glz_write_be64(uint8_t *p, uint64_t v)
{
    lz_write_be32(p, (uint32_t)(v >> 32));
    lz_write_be32(p + 4, (uint32_t)v);
}

/* ------------------------------------------------------------------ */
/* Encoder dictionary                                                  */

struct glz_dict_image {
    uint64_t id;
    uint64_t start; /* global position of its first pixel */
    uint32_t pixels;
};

struct glz_dict {
    uint32_t window_pixels;
    uint64_t next_id;

    uint32_t *keys;  /* ring_cap + ovf_cap keys: position p at keys[p & (ring_cap - 1)] */
    size_t ring_cap; /* a power of two, 0 before the first image */
    size_t ovf_cap;  /* keys after the ring: >= the largest image + 2 */
    uint64_t end;    /* global position after the newest image */

    struct glz_dict_image *images; /* ring of live images, oldest first */
    size_t images_cap, images_head, images_count;
    uint64_t live_pixels;

    uint32_t *hash;     /* truncated global positions */
    uint32_t *seg_hash; /* column-aligned 32-pixel segments of earlier images */
    uint32_t *above_disp;
    size_t above_cap;
};

/* Writes one zero per 4 KiB of the zeroed table t[0, n). */
static void glz_touch_pages(uint32_t *t, size_t n)
{
    volatile uint32_t *v = t;
    for (size_t i = 0; i < n; i += 1024) {
        v[i] = 0;
    }
}

struct glz_dict *glz_dict_create(uint32_t window_pixels)
{
    if (window_pixels == 0 || window_pixels > GLZ_MAX_WINDOW_PIXELS) {
        return NULL;
    }
    struct glz_dict *d = calloc(1, sizeof(*d));
    if (!d) {
        return NULL;
    }
    d->window_pixels = window_pixels;
    d->hash = calloc(GLZ_HASH_SIZE, sizeof(uint32_t));
    d->seg_hash = calloc((size_t)1 << GLZ_SEG_HASH_LOG, sizeof(uint32_t));
    d->images_cap = 64;
    d->images = calloc(d->images_cap, sizeof(*d->images));
    if (!d->hash || !d->seg_hash || !d->images) {
        glz_dict_destroy(d);
        return NULL;
    }
    /* Touch every page of the tables now, as the reference's dictionary
     * creation does with its memset: calloc hands out untouched pages, and
     * faulting 4+ MB in page by page would otherwise land on the first
     * encode (milliseconds on a VM). */
    glz_touch_pages(d->hash, GLZ_HASH_SIZE);
    glz_touch_pages(d->seg_hash, (size_t)1 << GLZ_SEG_HASH_LOG);
    return d;
}

void glz_dict_destroy(struct glz_dict *dict)
{
    if (!dict) {
        return;
    }
    free(dict->keys);
    free(dict->images);
    free(dict->hash);
    free(dict->seg_hash);
    free(dict->above_disp);
    free(dict);
}

void glz_dict_reset(struct glz_dict *dict)
{
    if (!dict) {
        return;
    }
    dict->images_head = 0;
    dict->images_count = 0;
    dict->live_pixels = 0;
}

static struct glz_dict_image *glz_dict_image_at(struct glz_dict *d, size_t i)
{
    return &d->images[(d->images_head + i) % d->images_cap];
}

static int glz_dict_push_image(struct glz_dict *d, uint64_t id, uint64_t start, uint32_t pixels)
{
    if (d->images_count == d->images_cap) {
        size_t cap = d->images_cap * 2;
        struct glz_dict_image *n = malloc(cap * sizeof(*n));
        if (!n) {
            return CLOVE_E_NOMEM;
        }
        for (size_t i = 0; i < d->images_count; i++) {
            n[i] = *glz_dict_image_at(d, i);
        }
        free(d->images);
        d->images = n;
        d->images_cap = cap;
        d->images_head = 0;
    }
    struct glz_dict_image *img = glz_dict_image_at(d, d->images_count);
    img->id = id;
    img->start = start;
    img->pixels = pixels;
    d->images_count++;
    d->live_pixels += pixels;
    return 0;
}

/* Finds the live image holding global position pos (pos >= oldest start). */
static const struct glz_dict_image *glz_dict_find(struct glz_dict *d, uint64_t pos)
{
    size_t lo = 0, hi = d->images_count;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (glz_dict_image_at(d, mid)->start <= pos) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return glz_dict_image_at(d, lo);
}

/* Stores keys[0, n) (contiguous) at position pos of a ring of ring_cap
 * keys followed by its overflow area: contiguously from pos & mask, and the
 * part past the ring again at its front. */
static void glz_ring_store(uint32_t *ring, size_t ring_cap, uint64_t pos, const uint32_t *keys,
                           size_t n)
{
    size_t at = (size_t)(pos & (ring_cap - 1));
    if (ring + at != keys) {
        memcpy(ring + at, keys, n * sizeof(uint32_t));
    }
    if (at + n > ring_cap) {
        memcpy(ring, ring + ring_cap, (at + n - ring_cap) * sizeof(uint32_t));
    }
}

/* Makes room for an image of `pixels` keys at d->end: the live images and
 * it must fit the ring, and it plus two sentinels the overflow area. When
 * they do not, moves the live images into a larger ring (rare: the ring only
 * grows, to the power of two at or above the window). */
static int glz_dict_reserve(struct glz_dict *d, uint32_t pixels)
{
    uint64_t win_start = d->images_count ? glz_dict_image_at(d, 0)->start : d->end;
    size_t live = (size_t)(d->end - win_start);
    size_t need = live + pixels;
    if (need <= d->ring_cap && (size_t)pixels + 2 <= d->ovf_cap) {
        return 0;
    }
    size_t ring = d->ring_cap ? d->ring_cap : 1024;
    while (ring < need) {
        ring *= 2;
    }
    size_t ovf = (size_t)pixels + 2 > d->ovf_cap ? (size_t)pixels + 2 : d->ovf_cap;
    uint32_t *n = malloc((ring + ovf) * sizeof(uint32_t));
    if (!n) {
        return CLOVE_E_NOMEM;
    }
    for (size_t i = 0; i < d->images_count; i++) {
        const struct glz_dict_image *img = glz_dict_image_at(d, i);
        glz_ring_store(n, ring, img->start, d->keys + (img->start & (d->ring_cap - 1)),
                       img->pixels);
    }
    free(d->keys);
    d->keys = n;
    d->ring_cap = ring;
    d->ovf_cap = ovf;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Encoder                                                             */

struct glz_encoder {
    uint8_t *op, *oend;
    enum lz_unit unit;
    uint32_t bias;
};

static int glz_put_literals(struct glz_encoder *e, const uint32_t *k, size_t count)
{
    while (count > 0) {
        size_t run = count < GLZ_MAX_COPY ? count : GLZ_MAX_COPY;
        if ((size_t)(e->oend - e->op) < 1 + run * (size_t)e->unit + 4) {
            return CLOVE_E_RANGE;
        }
        uint8_t *op = e->op;
        *op++ = (uint8_t)(run - 1);
        if (e->unit == LZ_UNIT_RGB16) {
            for (size_t i = 0; i < run; i++) {
                op += lz_put_literal(op, lz_rgb32_to_rgb16(k[i]), LZ_UNIT_RGB16);
            }
        } else {
            for (size_t i = 0; i < run; i++) {
                op += lz_put_literal(op, k[i], e->unit);
            }
        }
        e->op = op;
        k += run;
        count -= run;
    }
    return 0;
}

/* Wire bytes of a match reference (without the length continuation). */
static inline size_t glz_ref_cost(uint32_t image_dist, uint32_t ofs)
{
    if (ofs < GLZ_SHORT_OFS) {
        return image_dist < 64 ? 3 : image_dist < (1u << 14) ? 4 : image_dist < (1u << 22) ? 5 : 6;
    }
    size_t c = image_dist == 0 ? 3 : image_dist < 256 ? 4 : image_dist < 65536 ? 5 : 6;
    return c + (ofs >= GLZ_MEDIUM_OFS ? 1 : 0);
}

static int glz_put_match(struct glz_encoder *e, size_t len, uint32_t image_dist, uint32_t ofs)
{
    size_t coded = len - e->bias;
    if ((size_t)(e->oend - e->op) < 8 + lz_len_extra_bytes(coded)) {
        return CLOVE_E_RANGE;
    }
    uint8_t *op = e->op;
    uint32_t lfield = coded < 7 ? (uint32_t)coded : 7;
    int short_ofs = ofs < GLZ_SHORT_OFS;
    *op++ = (uint8_t)((lfield << 5) | (short_ofs ? 0 : 16) | (ofs & 15));
    if (lfield == 7) {
        op = lz_put_long_len(op, coded - 7);
    }
    *op++ = (uint8_t)((ofs >> 4) & 255);
    if (short_ofs) {
        uint32_t k = image_dist < 64           ? 0
                     : image_dist < (1u << 14) ? 1
                     : image_dist < (1u << 22) ? 2
                                               : 3;
        *op++ = (uint8_t)((k << 6) | (image_dist & 63));
        for (uint32_t i = 0; i < k; i++) {
            *op++ = (uint8_t)(image_dist >> (6 + 8 * i));
        }
    } else {
        uint32_t k = image_dist == 0 ? 0 : image_dist < 256 ? 1 : image_dist < 65536 ? 2 : 3;
        uint32_t long_ofs = ofs >= GLZ_MEDIUM_OFS;
        *op++ = (uint8_t)((k << 6) | (long_ofs << 5) | ((ofs >> 12) & 31));
        for (uint32_t i = 0; i < k; i++) {
            *op++ = (uint8_t)(image_dist >> (8 * i));
        }
        if (long_ofs) {
            *op++ = (uint8_t)((ofs >> 17) & 255);
        }
    }
    e->op = op;
    return 0;
}

static inline uint32_t glz_hash4(const uint32_t *p, unsigned log)
{
    uint64_t a = lz_load64(p), b = lz_load64(p + 2);
    uint64_t h = a * 0x9E3779B185EBCA87ull ^ (b * 0xC2B2AE3D27D4EB4Full);
    return (uint32_t)((h ^ (h >> 29)) * 0x165667B19E3779F9ull >> (64 - log));
}

/* Hash of the GLZ_SEG keys at p. */
static inline uint32_t glz_hash_seg(const uint32_t *p)
{
    uint64_t h = 0x243F6A8885A308D3ull;
    for (int i = 0; i < GLZ_SEG; i += 2) {
        h = (h ^ lz_load64(p + i)) * 0x9E3779B185EBCA87ull;
        h ^= h >> 31;
    }
    return (uint32_t)(h >> (64 - GLZ_SEG_HASH_LOG));
}

/* Indexes the column-aligned segments of an encoded image so the next
 * images find rows that moved vertically (scrolls). */
static void glz_index_segments(uint32_t *seg_hash, const uint32_t *keys, uint64_t pos, size_t width,
                               size_t height)
{
    for (size_t y = 0; y < height; y++) {
        for (size_t x = 0; x + GLZ_SEG <= width; x += GLZ_SEG) {
            size_t i = y * width + x;
            const uint32_t *k = keys + i;
            if (k[0] == k[GLZ_SEG - 1] && k[0] == k[GLZ_SEG / 2] && k[0] == k[1]) {
                continue; /* flat background: runs find it anyway */
            }
            seg_hash[glz_hash_seg(k)] = (uint32_t)(pos + i);
        }
    }
}

/* How many of the first `max` keys at a and b are equal; SSE2 compares four
 * keys a step. */
static inline size_t glz_match_len(const uint32_t *a, const uint32_t *b, size_t max)
{
#if GLZ_HAVE_SSE2
    size_t n = 0;
    while (n + 4 <= max) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(a + n));
        __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(b + n));
        unsigned ne = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi32(x, y)) ^ 0xffffu;
        if (ne) {
            return n + ((unsigned)__builtin_ctz(ne) >> 2);
        }
        n += 4;
    }
    return n + lz_match_len(a + n, b + n, max - n, 0xffffffffu);
#else
    return lz_match_len(a, b, max, 0xffffffffu);
#endif
}

/* Sets count (<= width) entries of the row ring above_disp from column x
 * on, wrapping at width. */
static void glz_fill_above(uint32_t *above_disp, size_t width, size_t x, size_t count,
                           uint32_t disp)
{
    size_t first = width - x < count ? width - x : count;
    for (size_t i = 0; i < first; i++) {
        above_disp[x + i] = disp;
    }
    for (size_t i = 0; i < count - first; i++) {
        above_disp[i] = disp;
    }
}

struct glz_best {
    size_t len;
    size_t disp;
    size_t cost;
};

/*
 * Encodes the n keys at `cur` (global position cur_pos, rows of width
 * pixels). cross != 0 allows references to earlier images of d; hash is a
 * table of (1 << hash_log) truncated global positions.
 */
static int glz_encode_stream(struct glz_encoder *e, struct glz_dict *d, const uint32_t *cur,
                             uint64_t cur_pos, size_t n, size_t width, int cross, uint32_t *hash,
                             unsigned hash_log, uint32_t *above_disp, const size_t *frame_disps,
                             int n_frame_disps, const uint32_t *seg_hash)
{
    size_t seg_at = (size_t)-1, seg_disp = 0; /* last segment looked up */
    size_t first_disp = n_frame_disps ? frame_disps[0] : 0;
    /* Earlier images are read through the ring: position p at ring[p & mask]. */
    const uint32_t *ring = cross ? d->keys : NULL;
    const uint64_t ring_mask = cross ? d->ring_cap - 1 : 0;
    uint64_t win_start = cur_pos;
    if (cross && d->images_count) {
        win_start = glz_dict_image_at(d, 0)->start;
    }
    const size_t lit_bytes = (size_t)e->unit;
    const size_t min_len = e->bias + 1 < 2 ? 2 : e->bias + 1;
    size_t ip = 0, anchor = 0, misses = 0;
    size_t rep = first_disp;
    int rc;

    if (above_disp) {
        for (size_t x = 0; x < width; x++) {
            above_disp[x] = (uint32_t)first_disp;
        }
    }
    while (ip + 4 <= n) {
        uint64_t pos = cur_pos + ip;
        size_t max = n - ip;
        size_t cands[6 + GLZ_FRAME_CANDIDATES];
        int nc = 0;
        for (int f = 0; f < n_frame_disps; f++) {
            if (frame_disps[f] != rep) {
                cands[nc++] = frame_disps[f];
            }
        }
        cands[nc++] = 1;
        if (width > 1) {
            cands[nc++] = width;
        }
        if (rep) {
            cands[nc++] = rep;
        }
        if (above_disp) {
            size_t a = above_disp[ip % width];
            if (a && a != rep) {
                cands[nc++] = a;
            }
        }
        uint32_t h = glz_hash4(cur + ip, hash_log);
        size_t hd = (uint32_t)((uint32_t)pos - hash[h]);
        hash[h] = (uint32_t)pos;
        if (hd) {
            cands[nc++] = hd;
        }
        if (seg_hash) {
            /* The next column-aligned segment of this row, looked up once. */
            size_t col = ip % width;
            size_t a = ip + (GLZ_SEG - col % GLZ_SEG) % GLZ_SEG;
            if (a != seg_at) {
                seg_at = a;
                seg_disp = 0;
                const uint32_t *k = cur + a;
                if (a % width + GLZ_SEG <= width && a + GLZ_SEG <= n &&
                    !(k[0] == k[GLZ_SEG - 1] && k[0] == k[GLZ_SEG / 2] && k[0] == k[1])) {
                    size_t sd =
                            (uint32_t)((uint32_t)(cur_pos + a) - seg_hash[glz_hash_seg(cur + a)]);
                    if (sd > a - ip) {
                        seg_disp = sd;
                    }
                }
            }
            if (seg_disp && seg_disp != rep) {
                cands[nc++] = seg_disp;
            }
        }

        struct glz_best best = {0, 0, 0};
        uint32_t key = cur[ip];
        for (int c = 0; c < nc; c++) {
            size_t disp = cands[c];
            if (disp > pos - win_start) {
                continue;
            }
            const uint32_t *ref = disp <= ip ? cur + ip - disp : ring + ((pos - disp) & ring_mask);
            if (*ref != key) {
                continue;
            }
            size_t lim = max;
            uint64_t qpos = pos - disp;
            uint32_t image_dist = 0, ofs = (uint32_t)(disp - 1);
            if (qpos < cur_pos) {
                const struct glz_dict_image *ri = glz_dict_find(d, qpos);
                uint64_t rend = ri->start + ri->pixels;
                if (rend - qpos < lim) {
                    lim = (size_t)(rend - qpos);
                }
                image_dist = (uint32_t)(d->next_id - ri->id);
                ofs = (uint32_t)(qpos - ri->start);
                if (image_dist >= GLZ_MAX_IMAGE_DIST) {
                    continue;
                }
            }
            if (best.len >= lim) {
                continue;
            }
            size_t len = 1 + glz_match_len(ref + 1, cur + ip + 1, lim - 1);
            if (len < min_len) {
                continue;
            }
            size_t cost = glz_ref_cost(image_dist, ofs) + lz_len_extra_bytes(len - e->bias);
            if (len > best.len || (len == best.len && cost < best.cost)) {
                if (cost < len * lit_bytes) {
                    best.len = len;
                    best.disp = disp;
                    best.cost = cost;
                }
            }
        }

        if (best.len) {
            if ((rc = glz_put_literals(e, cur + anchor, ip - anchor)) < 0) {
                return rc;
            }
            uint64_t qpos = pos - best.disp;
            uint32_t image_dist = 0, ofs = (uint32_t)(best.disp - 1);
            if (qpos < cur_pos) {
                const struct glz_dict_image *ri = glz_dict_find(d, qpos);
                image_dist = (uint32_t)(d->next_id - ri->id);
                ofs = (uint32_t)(qpos - ri->start);
            }
            if ((rc = glz_put_match(e, best.len, image_dist, ofs)) < 0) {
                return rc;
            }
            if (best.disp != 1 && best.disp != width) {
                rep = best.disp;
            }
            /* Runs and the row above are tried everywhere anyway. */
            if (above_disp && best.disp != 1 && best.disp != width) {
                size_t fill = best.len < width ? best.len : width;
                glz_fill_above(above_disp, width, (ip + best.len - fill) % width, fill,
                               (uint32_t)best.disp);
            }
            /* Short matches are text: index them so later images find them. */
            size_t end = ip + best.len;
            if (best.len < 16) {
                for (size_t i = ip + 1; i < end && i + 4 <= n; i++) {
                    hash[glz_hash4(cur + i, hash_log)] = (uint32_t)(cur_pos + i);
                }
            }
            ip = end;
            anchor = ip;
            misses = 0;
        } else {
            misses++;
            ip += 1 + (misses >> GLZ_SKIP_TRIGGER);
        }
    }
    return glz_put_literals(e, cur + anchor, n - anchor);
}

static int glz_wire_type(enum codec_format format)
{
    switch (format) {
    case CODEC_FMT_RGB32:
        return LZ_WIRE_RGB32;
    case CODEC_FMT_RGBA:
        return LZ_WIRE_RGBA;
    case CODEC_FMT_RGB24:
        return LZ_WIRE_RGB24;
    case CODEC_FMT_RGB16:
        return LZ_WIRE_RGB16;
    default:
        return LZ_WIRE_INVALID;
    }
}

static int glz_check_image(const struct codec_image *img)
{
    if (!img || !img->pixels || img->width == 0 || img->height == 0 || img->width > CODEC_MAX_DIM ||
        img->height > CODEC_MAX_DIM) {
        return CLOVE_E_INVALID;
    }
    if (glz_wire_type(img->format) == LZ_WIRE_INVALID) {
        return CLOVE_E_UNSUPPORTED;
    }
    size_t row = codec_format_row_bytes(img->format, img->width);
    size_t abs_stride = img->stride < 0 ? (size_t)(-(int64_t)img->stride) : (size_t)img->stride;
    return abs_stride < row ? CLOVE_E_INVALID : 0;
}

size_t glz_encode_bound(const struct codec_image *img)
{
    if (glz_check_image(img) < 0) {
        return 0;
    }
    size_t n = (size_t)img->width * img->height;
    size_t lit = (size_t)lz_unit_of_type((uint32_t)glz_wire_type(img->format));
    size_t total = GLZ_HEADER_SIZE + n * (lit + 1) + 16;
    if (img->format == CODEC_FMT_RGBA) {
        total += n * 2 + 16;
    }
    return total;
}

/* Keys of img in memory order: 24-bit RGB as the decoder will see it. */
static void glz_fill_keys(const struct codec_image *img, int alpha, uint32_t *keys)
{
    const uint32_t w = img->width, h = img->height;
    for (uint32_t i = 0; i < h; i++) {
        uint32_t y = img->stride >= 0 ? i : h - 1 - i;
        const uint8_t *row = img->pixels + (ptrdiff_t)y * img->stride;
        uint32_t *k = keys + (size_t)i * w;
        switch (img->format) {
        case CODEC_FMT_RGB32:
        case CODEC_FMT_RGBA:
            if (alpha) {
                for (uint32_t x = 0; x < w; x++) {
                    k[x] = row[4 * x + 3];
                }
            } else {
                uint32_t x = 0;
#if GLZ_HAVE_SSE2
                const __m128i rgb = _mm_set1_epi32(0xffffff);
                for (; x + 4 <= w; x += 4) {
                    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(row + 4 * x));
                    _mm_storeu_si128((__m128i *)(void *)(k + x), _mm_and_si128(v, rgb));
                }
#endif
                for (; x < w; x++) {
                    k[x] = lz_load32(row + 4 * x) & 0xffffff;
                }
            }
            break;
        case CODEC_FMT_RGB24:
            for (uint32_t x = 0; x < w; x++) {
                const uint8_t *p = row + 3 * x;
                k[x] = p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
            }
            break;
        default: /* RGB16 */
            for (uint32_t x = 0; x < w; x++) {
                k[x] = lz_rgb16_to_rgb32(row[2 * x] | ((uint32_t)row[2 * x + 1] << 8));
            }
            break;
        }
    }
}

int glz_encode(struct glz_dict *d, const struct codec_image *img, uint8_t *out, size_t out_cap,
               struct glz_encode_result *result, const char **err_desc)
{
    int rc = glz_check_image(img);
    if (!d || !out || rc < 0) {
        return glz_fail(err_desc, "glz: invalid or unsupported image",
                        rc < 0 ? rc : CLOVE_E_INVALID);
    }
    uint64_t pixels64 = (uint64_t)img->width * img->height;
    if (pixels64 > d->window_pixels) {
        return glz_fail(err_desc, "glz: image larger than the window", CLOVE_E_RANGE);
    }
    if (out_cap < GLZ_HEADER_SIZE) {
        return glz_fail(err_desc, "glz: output buffer too small", CLOVE_E_RANGE);
    }
    uint32_t pixels = (uint32_t)pixels64;
    int type = glz_wire_type(img->format);

    /* Evict as the client will (glz-encoder-dict.c window_get_new_head). */
    struct glz_encode_result res = {0};
    while (d->images_count && d->live_pixels + pixels > d->window_pixels) {
        struct glz_dict_image *old = glz_dict_image_at(d, 0);
        if (res.evicted == 0) {
            res.first_evicted = old->id;
        }
        res.evicted++;
        d->live_pixels -= old->pixels;
        d->images_head = (d->images_head + 1) % d->images_cap;
        d->images_count--;
    }
    if ((rc = glz_dict_reserve(d, pixels)) < 0) {
        return glz_fail(err_desc, "glz: out of memory", rc);
    }
    if (d->above_cap < img->width) {
        uint32_t *a = realloc(d->above_disp, (size_t)img->width * sizeof(uint32_t));
        if (!a) {
            return glz_fail(err_desc, "glz: out of memory", CLOVE_E_NOMEM);
        }
        d->above_disp = a;
        d->above_cap = img->width;
    }

    uint64_t id = d->next_id;
    uint64_t oldest = d->images_count ? glz_dict_image_at(d, 0)->id : id;
    uint32_t *cur = d->keys + (d->end & (d->ring_cap - 1));
    glz_fill_keys(img, 0, cur);
    /* Two sentinels end the image; they may sit on the oldest image's first
     * keys (a full ring), which are put back after encoding: until then a
     * match into them just stops early. */
    uint32_t under_sentinels[2] = {cur[pixels], cur[pixels + 1]};
    cur[pixels] = cur[pixels + 1] = 0xff000000u; /* never equal to a key */

    uint8_t *o = out;
    lz_write_be32(o, LZ_WIRE_MAGIC);
    lz_write_be32(o + 4, LZ_WIRE_VERSION);
    o[8] = (uint8_t)(type | ((img->stride >= 0 ? 1 : 0) << 4));
    lz_write_be32(o + 9, img->width);
    lz_write_be32(o + 13, img->height);
    lz_write_be32(o + 17, img->width * lz_rgb_bytes_per_pixel((uint32_t)type));
    glz_write_be64(o + 21, id);
    lz_write_be32(o + 29, (uint32_t)(id - oldest));

    struct glz_encoder e = {.op = out + GLZ_HEADER_SIZE, .oend = out + out_cap};
    e.unit = lz_unit_of_type((uint32_t)type);
    e.bias = lz_len_bias(e.unit);
    /* Unchanged areas sit at the same place in recent images of the same
     * size: try those displacements everywhere. */
    size_t frame_disps[GLZ_FRAME_CANDIDATES];
    int n_frame = 0;
    for (size_t i = d->images_count; i-- > 0 && n_frame < GLZ_FRAME_CANDIDATES;) {
        const struct glz_dict_image *prev = glz_dict_image_at(d, i);
        if (prev->pixels == pixels) {
            frame_disps[n_frame++] = (size_t)(d->end - prev->start);
        }
    }
    rc = glz_encode_stream(&e, d, cur, d->end, pixels, img->width, 1, d->hash, GLZ_HASH_LOG,
                           d->above_disp, frame_disps, n_frame,
                           d->images_count ? d->seg_hash : NULL);
    if (rc == 0 && type == LZ_WIRE_RGBA) {
        uint32_t *alpha = malloc(((size_t)pixels + 4) * sizeof(uint32_t));
        uint32_t *ahash = calloc((size_t)1 << GLZ_ALPHA_HASH_LOG, sizeof(uint32_t));
        if (!alpha || !ahash) {
            rc = CLOVE_E_NOMEM;
        } else {
            glz_fill_keys(img, 1, alpha);
            alpha[pixels] = alpha[pixels + 1] = 0xff000000u;
            e.unit = LZ_UNIT_BYTE;
            e.bias = lz_len_bias(e.unit);
            /* Positions start at 1 << 31 so the zeroed table reads as far away. */
            rc = glz_encode_stream(&e, d, alpha, 1ull << 31, pixels, img->width, 0, ahash,
                                   GLZ_ALPHA_HASH_LOG, NULL, NULL, 0, NULL);
        }
        free(alpha);
        free(ahash);
    }
    cur[pixels] = under_sentinels[0];
    cur[pixels + 1] = under_sentinels[1];
    if (rc < 0) {
        return glz_fail(err_desc,
                        rc == CLOVE_E_NOMEM ? "glz: out of memory" : "glz: output buffer too small",
                        rc);
    }
    glz_index_segments(d->seg_hash, cur, d->end, img->width, img->height);
    glz_ring_store(d->keys, d->ring_cap, d->end, cur, pixels);
    if ((rc = glz_dict_push_image(d, id, d->end, pixels)) < 0) {
        return glz_fail(err_desc, "glz: out of memory", rc);
    }
    d->end += pixels;
    d->next_id++;
    res.image_id = id;
    res.oldest_id = oldest;
    if (result) {
        *result = res;
    }
    size_t total = (size_t)(e.op - out);
    if (total > INT32_MAX) {
        return glz_fail(err_desc, "glz: output too large", CLOVE_E_RANGE);
    }
    return (int)total;
}

/* ------------------------------------------------------------------ */
/* Decoder window                                                      */

struct glz_win_image {
    uint64_t id;
    uint32_t pixels;
    uint8_t *data; /* pixels * 4 bytes, stream order; NULL: free slot */
    size_t bytes;  /* allocated size of data */
};

struct glz_window {
    struct glz_win_image *slots;
    size_t nslots; /* power of two */
    uint64_t max_pixels;
    uint64_t live_pixels;
    size_t count;
    /* The largest buffer of a dropped image, kept for the next image: fresh
     * memory costs a page fault per 4 KiB on first touch, which takes longer
     * than decoding a 1080p frame. */
    uint8_t *spare;
    size_t spare_bytes;
};

/* Keeps data (bytes long; takes) as the spare buffer when it is the
 * larger one, frees the other. */
static void glz_window_recycle(struct glz_window *w, uint8_t *data, size_t bytes)
{
    if (!w->spare || bytes > w->spare_bytes) {
        free(w->spare);
        w->spare = data;
        w->spare_bytes = bytes;
    } else {
        free(data);
    }
}

/* A buffer of at least `bytes` (returns new): the spare when it is large
 * enough; *cap gets its size. */
static uint8_t *glz_window_buffer(struct glz_window *w, size_t bytes, size_t *cap)
{
    if (w->spare && w->spare_bytes >= bytes) {
        uint8_t *data = w->spare;
        *cap = w->spare_bytes;
        w->spare = NULL;
        w->spare_bytes = 0;
        return data;
    }
    *cap = bytes;
    return malloc(bytes);
}

struct glz_window *glz_window_create(uint32_t max_pixels)
{
    if (max_pixels == 0) {
        return NULL;
    }
    struct glz_window *w = calloc(1, sizeof(*w));
    if (!w) {
        return NULL;
    }
    w->nslots = 16;
    w->slots = calloc(w->nslots, sizeof(*w->slots));
    if (!w->slots) {
        free(w);
        return NULL;
    }
    w->max_pixels = (uint64_t)max_pixels * 2;
    return w;
}

static void glz_window_drop(struct glz_window *w, struct glz_win_image *s)
{
    glz_window_recycle(w, s->data, s->bytes);
    s->data = NULL;
    w->live_pixels -= s->pixels;
    w->count--;
}

void glz_window_clear(struct glz_window *window)
{
    if (!window) {
        return;
    }
    for (size_t i = 0; i < window->nslots; i++) {
        if (window->slots[i].data) {
            glz_window_drop(window, &window->slots[i]);
        }
    }
}

void glz_window_destroy(struct glz_window *window)
{
    if (!window) {
        return;
    }
    glz_window_clear(window);
    free(window->spare);
    free(window->slots);
    free(window);
}

size_t glz_window_image_count(const struct glz_window *window)
{
    return window ? window->count : 0;
}

static struct glz_win_image *glz_window_find(struct glz_window *w, uint64_t id)
{
    struct glz_win_image *s = &w->slots[id & (w->nslots - 1)];
    return s->data && s->id == id ? s : NULL;
}

static int glz_window_add(struct glz_window *w, uint64_t id, uint8_t *data, size_t bytes,
                          uint32_t pixels)
{
    while (w->slots[id & (w->nslots - 1)].data) {
        size_t n = w->nslots * 2;
        if (n > (1u << 20)) {
            return CLOVE_E_RANGE;
        }
        struct glz_win_image *slots = calloc(n, sizeof(*slots));
        if (!slots) {
            return CLOVE_E_NOMEM;
        }
        for (size_t i = 0; i < w->nslots; i++) {
            if (w->slots[i].data) {
                struct glz_win_image *t = &slots[w->slots[i].id & (n - 1)];
                if (t->data) {
                    /* Two live ids collide even here: keep the newer one. */
                    if (t->id > w->slots[i].id) {
                        free(w->slots[i].data);
                        w->live_pixels -= w->slots[i].pixels;
                        w->count--;
                        continue;
                    }
                    free(t->data);
                    w->live_pixels -= t->pixels;
                    w->count--;
                }
                *t = w->slots[i];
            }
        }
        free(w->slots);
        w->slots = slots;
        w->nslots = n;
    }
    struct glz_win_image *s = &w->slots[id & (w->nslots - 1)];
    s->id = id;
    s->pixels = pixels;
    s->data = data;
    s->bytes = bytes;
    w->live_pixels += pixels;
    w->count++;
    return 0;
}

/* Drops the oldest images until `pixels` more fit under the cap. */
static void glz_window_make_room(struct glz_window *w, uint64_t pixels)
{
    while (w->count && w->live_pixels + pixels > w->max_pixels) {
        struct glz_win_image *oldest = NULL;
        for (size_t i = 0; i < w->nslots; i++) {
            if (w->slots[i].data && (!oldest || w->slots[i].id < oldest->id)) {
                oldest = &w->slots[i];
            }
        }
        glz_window_drop(w, oldest);
    }
}

struct glz_header {
    uint32_t type, width, height;
    int top_down;
    uint64_t id;
    uint32_t win_head_dist;
};

static int glz_parse_header(const uint8_t *in, size_t in_len, struct glz_header *h,
                            const char **err_desc)
{
    if (!in || in_len < GLZ_HEADER_SIZE) {
        return glz_fail(err_desc, "glz: truncated header", CLOVE_E_INCOMPLETE);
    }
    if (lz_read_be32(in) != LZ_WIRE_MAGIC) {
        return glz_fail(err_desc, "glz: bad magic", CLOVE_E_INVALID);
    }
    if (lz_read_be32(in + 4) != LZ_WIRE_VERSION) {
        return glz_fail(err_desc, "glz: unsupported version", CLOVE_E_INVALID);
    }
    h->type = in[8] & 0x0f;
    h->top_down = (in[8] >> 4) != 0;
    h->width = lz_read_be32(in + 9);
    h->height = lz_read_be32(in + 13);
    h->id = ((uint64_t)lz_read_be32(in + 21) << 32) | lz_read_be32(in + 25);
    h->win_head_dist = lz_read_be32(in + 29);
    if (lz_wire_type_is_plt(h->type)) {
        return glz_fail(err_desc, "glz: palette images are not supported", CLOVE_E_UNSUPPORTED);
    }
    if (h->type < LZ_WIRE_RGB16 || h->type > LZ_WIRE_RGBA) {
        return glz_fail(err_desc, "glz: bad image type", CLOVE_E_INVALID);
    }
    if (h->width == 0 || h->height == 0) {
        return glz_fail(err_desc, "glz: empty image", CLOVE_E_INVALID);
    }
    if (h->width > CODEC_MAX_DIM || h->height > CODEC_MAX_DIM ||
        (uint64_t)h->width * h->height > CODEC_MAX_PIXELS) {
        return glz_fail(err_desc, "glz: image too large", CLOVE_E_RANGE);
    }
    if (h->win_head_dist > h->id) {
        return glz_fail(err_desc, "glz: window head before image 0", CLOVE_E_INVALID);
    }
    return 0;
}

int glz_decode_header(const uint8_t *in, size_t in_len, struct codec_info *info, uint64_t *image_id,
                      const char **err_desc)
{
    struct glz_header h;
    int rc = glz_parse_header(in, in_len, &h, err_desc);
    if (rc < 0) {
        return rc;
    }
    if (info) {
        info->format = h.type == LZ_WIRE_RGBA ? CODEC_FMT_RGBA : CODEC_FMT_RGB32;
        info->width = h.width;
        info->height = h.height;
        info->top_down = h.top_down;
    }
    if (image_id) {
        *image_id = h.id;
    }
    return 0;
}

struct glz_reader {
    const uint8_t *ip, *iend;
};

/* Decodes one stream of n 4-byte pixels into out. alpha: write byte 3 only. */
static int glz_decode_stream(struct glz_window *w, const struct glz_header *h, struct glz_reader *r,
                             enum lz_unit unit, int alpha, uint8_t *out, size_t n)
{
    const uint32_t bias = lz_len_bias(unit);
    const uint8_t *ip = r->ip, *iend = r->iend;
    size_t pos = 0;
    while (pos < n) {
        if (ip >= iend) {
            return CLOVE_E_INVALID;
        }
        uint32_t ctrl = *ip++;
        uint8_t *op = out + pos * 4;
        if (ctrl < GLZ_MAX_COPY) {
            size_t count = ctrl + 1;
            if (count > n - pos || (size_t)(iend - ip) < count * (size_t)unit) {
                return CLOVE_E_INVALID;
            }
            if (alpha) {
                for (size_t i = 0; i < count; i++) {
                    op[4 * i + 3] = ip[i];
                }
            } else if (unit == LZ_UNIT_RGB) {
                for (size_t i = 0; i < count; i++) {
                    op[4 * i] = ip[3 * i];
                    op[4 * i + 1] = ip[3 * i + 1];
                    op[4 * i + 2] = ip[3 * i + 2];
                    op[4 * i + 3] = 0;
                }
            } else {
                for (size_t i = 0; i < count; i++) {
                    uint32_t v = lz_rgb16_to_rgb32(((uint32_t)ip[2 * i] << 8) | ip[2 * i + 1]);
                    memcpy(op + 4 * i, &v, 4);
                }
            }
            ip += count * (size_t)unit;
            pos += count;
            continue;
        }
        size_t len = ctrl >> 5;
        uint32_t far_flag = (ctrl >> 4) & 1;
        uint32_t ofs = ctrl & 0x0f;
        if (len == 7) {
            uint8_t code;
            do {
                if (ip >= iend) {
                    return CLOVE_E_INVALID;
                }
                code = *ip++;
                len += code;
            } while (code == 255);
        }
        if (iend - ip < 2) {
            return CLOVE_E_INVALID;
        }
        ofs += (uint32_t)*ip++ << 4;
        uint32_t code = *ip++;
        uint32_t k = code >> 6;
        uint32_t image_dist;
        if (!far_flag) {
            image_dist = code & 0x3f;
            if ((uint32_t)(iend - ip) < k) {
                return CLOVE_E_INVALID;
            }
            for (uint32_t i = 0; i < k; i++) {
                image_dist += (uint32_t)*ip++ << (6 + 8 * i);
            }
        } else {
            uint32_t long_ofs = (code >> 5) & 1;
            ofs += (code & 0x1f) << 12;
            image_dist = 0;
            if ((uint32_t)(iend - ip) < k + long_ofs) {
                return CLOVE_E_INVALID;
            }
            for (uint32_t i = 0; i < k; i++) {
                image_dist += (uint32_t)*ip++ << (8 * i);
            }
            if (long_ofs) {
                ofs += (uint32_t)*ip++ << 17;
            }
        }
        len += bias;
        if (len > n - pos) {
            return CLOVE_E_INVALID;
        }
        if (image_dist == 0) {
            size_t dist = (size_t)ofs + 1;
            if (dist > pos) {
                return CLOVE_E_INVALID;
            }
            if (alpha) {
                const uint8_t *src = op - dist * 4;
                for (size_t i = 0; i < len; i++) {
                    op[4 * i + 3] = src[4 * i + 3];
                }
            } else {
                const uint8_t *src = op - dist * 4;
                if (dist == 1) {
                    uint32_t v = lz_load32(src);
                    for (size_t i = 0; i < len; i++) {
                        memcpy(op + 4 * i, &v, 4);
                    }
                } else if (dist >= len) {
                    memcpy(op, src, len * 4);
                } else {
                    for (size_t i = 0; i < len; i++) {
                        memcpy(op + 4 * i, src + 4 * i, 4);
                    }
                }
            }
        } else {
            if (image_dist > h->win_head_dist) {
                return CLOVE_E_INVALID;
            }
            struct glz_win_image *ref = glz_window_find(w, h->id - image_dist);
            if (!ref || ofs > ref->pixels || len > ref->pixels - ofs) {
                return CLOVE_E_INVALID;
            }
            const uint8_t *src = ref->data + (size_t)ofs * 4;
            if (alpha) {
                for (size_t i = 0; i < len; i++) {
                    op[4 * i + 3] = src[4 * i + 3];
                }
            } else {
                memcpy(op, src, len * 4);
            }
        }
        pos += len;
    }
    r->ip = ip;
    return 0;
}

int glz_decode(struct glz_window *window, const uint8_t *in, size_t in_len, uint8_t *pixels,
               int32_t stride, const char **err_desc)
{
    struct glz_header h;
    int rc = glz_parse_header(in, in_len, &h, err_desc);
    if (rc < 0) {
        return rc == CLOVE_E_INCOMPLETE ? glz_fail(err_desc, "glz: truncated", CLOVE_E_INVALID)
                                        : rc;
    }
    if (!window || !pixels) {
        return glz_fail(err_desc, "glz: no window or output", CLOVE_E_INVALID);
    }
    size_t row_bytes = (size_t)h.width * 4;
    size_t abs_stride = stride < 0 ? (size_t)(-(int64_t)stride) : (size_t)stride;
    if (abs_stride < row_bytes) {
        return glz_fail(err_desc, "glz: output stride too small", CLOVE_E_INVALID);
    }
    size_t n = (size_t)h.width * h.height;
    if (n / 256 > in_len) {
        return glz_fail(err_desc, "glz: truncated", CLOVE_E_INVALID);
    }
    if (n > window->max_pixels) {
        return glz_fail(err_desc, "glz: image larger than the window", CLOVE_E_RANGE);
    }
    if (glz_window_find(window, h.id)) {
        return glz_fail(err_desc, "glz: image id already in the window", CLOVE_E_INVALID);
    }
    size_t data_bytes;
    uint8_t *data = glz_window_buffer(window, n * 4, &data_bytes);
    if (!data) {
        return glz_fail(err_desc, "glz: out of memory", CLOVE_E_NOMEM);
    }
    struct glz_reader r = {.ip = in + GLZ_HEADER_SIZE, .iend = in + in_len};
    rc = glz_decode_stream(window, &h, &r, lz_unit_of_type(h.type), 0, data, n);
    if (rc == 0 && h.type == LZ_WIRE_RGBA) {
        rc = glz_decode_stream(window, &h, &r, LZ_UNIT_BYTE, 1, data, n);
    }
    if (rc == 0 && r.ip != r.iend) {
        rc = CLOVE_E_INVALID;
    }
    if (rc < 0) {
        glz_window_recycle(window, data, data_bytes);
        return glz_fail(err_desc, "glz: corrupt stream", rc);
    }

    for (uint32_t i = 0; i < h.height; i++) {
        uint32_t y = h.top_down ? i : h.height - 1 - i;
        memcpy(pixels + (ptrdiff_t)y * stride, data + (size_t)i * row_bytes, row_bytes);
    }

    /* Keep it for later images, dropping what the server no longer uses
     * (spice-gtk decode-glz.c: release ids below id - win_head_dist). */
    uint64_t oldest = h.id - h.win_head_dist;
    for (size_t i = 0; i < window->nslots; i++) {
        if (window->slots[i].data && window->slots[i].id < oldest) {
            glz_window_drop(window, &window->slots[i]);
        }
    }
    glz_window_make_room(window, n);
    rc = glz_window_add(window, h.id, data, data_bytes, (uint32_t)n);
    if (rc < 0) {
        glz_window_recycle(window, data, data_bytes);
        return glz_fail(err_desc, "glz: cannot keep the image", rc);
    }
    return 0;
}
