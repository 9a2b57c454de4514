/*
 * SPICE LZ codec: encoder and decoder (see lz.h for the API).
 *
 * FORMAT. After the 28-byte header the stream is a sequence of operations
 * on pixel units (see lz_pixels.h for what a unit is per type):
 *   ctrl < 32:  a literal run of ctrl + 1 units follows;
 *   ctrl >= 32: a match. L = ctrl >> 5 (1..7); if L == 7, bytes follow and
 *               are added to L while they are 255 (the last one too). Then
 *               one byte D; distance = ((ctrl & 31) << 8 | D) + 1. If
 *               (ctrl & 31) == 31 and D == 255 the distance is "far": two
 *               more bytes B1 B2 give distance = (B1 << 8 | B2) + 8192.
 *               Length = L + bias (bias 2 for one-byte units, 1 for RGB16,
 *               0 for RGB). Matches may overlap their own output (runs).
 * The stream ends exactly when all width x height units (stride x height
 * bytes for palette types) are produced.
 *
 * ENCODER DESIGN. The encoder works on uint32 "keys" per unit. For RGB32
 * and RGBA with rows contiguous in memory it reads the caller's pixels
 * directly (the pad byte is masked in every compare); other layouts are
 * first converted into a key array. At each position it tries three
 * candidates: the previous unit (runs), the unit one row above (screen
 * content repeats vertically), and a hash table of the last position of
 * each 3-unit sequence. The longest match wins. After long stretches with
 * no match the scan steps over positions faster (like LZ4's acceleration)
 * so noise-like images cost little time; literals are still exact.
 *
 * RGB FAST PATH. For RGB types with an output of lz_encode_bound() bytes
 * (no space checks needed), lz_encode_rgb_fast compares the first eight
 * units of all three candidates with SSE2, picks the longest with
 * conditional moves (ties: previous unit, then row above, then hash),
 * and extends only candidates that agree on all eight, sixteen units per
 * step with one data-dependent branch. It also takes near one-unit
 * matches (2 bytes against a 3-byte literal), which keeps noise-like
 * images at least as small as the reference encoder's output.
 * Its time goes mostly into one dependency chain per match: position ->
 * hash -> table load -> candidate load -> compare -> length -> next
 * position (measured: a few cycles more on that chain cost as much more
 * time, and the mispredicted branches resolve at its end). So the state
 * stays in registers, the first row is a separate loop (no per-position
 * test for the row above), the hash table holds uint16 positions mod 2^16
 * (32 KB, stays in L1; the candidate is the latest position with those low
 * bits, 1..65536 units back, so no range check and no far reads), and a
 * match inserts only its last unit. Tried and dropped (no gain by time):
 * AVX2 compares (-14% instructions), two image halves scanned in
 * alternation (two independent chains: more mispredictions, more spills),
 * branching first on the previous/above candidates (resolved earlier,
 * more instructions), preferring the row above when it and the previous
 * unit both agree on eight (3% fewer instructions), the position carried
 * as a pointer, a two-unit hash (desktop 5% larger than the reference).
 *
 * DECODER. Every length and distance is checked against the output written
 * so far and the end of the image before copying, and every read against
 * in_len, so no input can make it read or write out of bounds.
 */
#include "codec/lz.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "codec/lz_pixels.h"

#define LZ_MAX_COPY       32
#define LZ_NEAR_MAX       8191u            /* largest distance of the 2-byte form */
#define LZ_FAR_MAX        (65535u + 8192u) /* largest distance of the 4-byte form */
#define LZ_HASH_LOG       15
#define LZ_HASH_SIZE      (1u << LZ_HASH_LOG)
#define LZ_FAST_HASH_LOG  14 /* RGB fast path: uint16 entries, 32 KB */
#define LZ_FAST_HASH_SIZE (1u << LZ_FAST_HASH_LOG)
#define LZ_SKIP_TRIGGER   6  /* log2 of misses before the scan starts stepping */
#define LZ_SKIP_CAP       32 /* largest step over positions (RGB fast path) */
#define LZ_MIN(a, b)      ((a) < (b) ? (a) : (b))

static int lz_fail(const char **err_desc, const char *msg, int code)
{
    if (err_desc) {
        *err_desc = msg;
    }
    return code;
}

/* ------------------------------------------------------------------ */
/* Encoder                                                             */

struct lz_encoder {
    uint8_t *op, *oend;
    enum lz_unit unit;
    uint32_t mask;
    uint32_t bias;
    uint32_t *hash;
    int room; /* the output is at least lz_encode_bound(): skip space checks */
};

static inline uint32_t lz_hash3(const uint32_t *p, uint32_t mask)
{
    uint32_t h = (p[0] & mask) * 0x9E3779B1u;
    h ^= (p[1] & mask) * 0x85EBCA77u;
    h ^= (p[2] & mask) * 0xC2B2AE3Du;
    return h >> (32 - LZ_HASH_LOG);
}

/* Bytes a match costs on the wire. */
static inline size_t lz_match_cost(size_t coded_len, size_t dist)
{
    return (dist <= LZ_NEAR_MAX ? 2 : 4) + lz_len_extra_bytes(coded_len);
}

/* Writes one match of coded length `coded` at op; returns the new end. */
static inline uint8_t *lz_write_match(uint8_t *op, size_t coded, size_t dist)
{
    uint32_t lfield = coded < 7 ? (uint32_t)coded : 7;
    if (dist <= LZ_NEAR_MAX) {
        size_t d = dist - 1;
        *op++ = (uint8_t)((lfield << 5) | (d >> 8));
        if (lfield == 7) {
            op = lz_put_long_len(op, coded - 7);
        }
        *op++ = (uint8_t)(d & 255);
    } else {
        size_t d = dist - 8192;
        *op++ = (uint8_t)((lfield << 5) | 31);
        if (lfield == 7) {
            op = lz_put_long_len(op, coded - 7);
        }
        *op++ = 255;
        *op++ = (uint8_t)(d >> 8);
        *op++ = (uint8_t)(d & 255);
    }
    return op;
}

/* Appends one match; `checked` = 0 when the caller proved the space. */
static inline int lz_put_match(struct lz_encoder *e, size_t len, size_t dist, size_t bias,
                               int checked)
{
    size_t coded = len - bias;
    if (checked && (size_t)(e->oend - e->op) < 8 + lz_len_extra_bytes(coded)) {
        return CLOVE_E_RANGE;
    }
    e->op = lz_write_match(e->op, coded, dist);
    return 0;
}

#if defined(__SSE2__)
static inline __m128i lz_xor4(const uint32_t *a, const uint32_t *b)
{
    return _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)a),
                         _mm_loadu_si128((const __m128i *)(const void *)b));
}

/* Equality bits (bit i for unit i, under m) of the 16 units whose
 * differences are x0..x3. */
static inline unsigned lz_eq16(__m128i x0, __m128i x1, __m128i x2, __m128i x3, __m128i m)
{
    const __m128i z = _mm_setzero_si128();
    __m128i e0 = _mm_cmpeq_epi32(_mm_and_si128(x0, m), z);
    __m128i e1 = _mm_cmpeq_epi32(_mm_and_si128(x1, m), z);
    __m128i e2 = _mm_cmpeq_epi32(_mm_and_si128(x2, m), z);
    __m128i e3 = _mm_cmpeq_epi32(_mm_and_si128(x3, m), z);
    /* Saturating packs keep each unit's all-ones or zero: one byte each. */
    return (unsigned)_mm_movemask_epi8(
            _mm_packs_epi16(_mm_packs_epi32(e0, e1), _mm_packs_epi32(e2, e3)));
}
#endif

/*
 * Number of equal units (under `mask`) at a[0..] and b[0..], at most max.
 * With SSE2 the main loop tests sixteen units per step (differences or-ed,
 * one compare) and has the only data-dependent branch: the block that
 * differs is then searched without branches.
 */
static inline __attribute__((always_inline)) size_t lz_extend(const uint32_t *a, const uint32_t *b,
                                                              size_t max, uint32_t mask)
{
    size_t n = 0;
#if defined(__SSE2__)
    const __m128i m = _mm_set1_epi32((int)mask);
    const __m128i z = _mm_setzero_si128();
    while (n + 16 <= max) {
        __m128i x0 = lz_xor4(a + n, b + n), x1 = lz_xor4(a + n + 4, b + n + 4);
        __m128i x2 = lz_xor4(a + n + 8, b + n + 8), x3 = lz_xor4(a + n + 12, b + n + 12);
        __m128i d = _mm_or_si128(_mm_or_si128(x0, x1), _mm_or_si128(x2, x3));
        if (_mm_movemask_epi8(_mm_cmpeq_epi32(_mm_and_si128(d, m), z)) != 0xffff) {
            /* From the differences already in registers: no reload. */
            return n + (unsigned)__builtin_ctz(~lz_eq16(x0, x1, x2, x3, m));
        }
        n += 16;
    }
    while (n + 4 <= max) {
        __m128i eq = _mm_cmpeq_epi32(_mm_and_si128(lz_xor4(a + n, b + n), m), z);
        unsigned ne = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(eq)) ^ 15u;
        if (ne) {
            return n + (unsigned)__builtin_ctz(ne);
        }
        n += 4;
    }
#endif
    return n + lz_match_len(a + n, b + n, max - n, mask);
}

/*
 * Length of the match at distance `dist` from position `ip` (at most max),
 * or 0 when it cannot be longer than `best`: the unit at offset best is
 * checked first, which rejects most losing candidates with one compare.
 */
static inline size_t lz_try(const uint32_t *u, size_t ip, size_t dist, size_t max, size_t best,
                            uint32_t mask)
{
    const uint32_t *p = u + ip, *q = u + ip - dist;
    if (((p[best] ^ q[best]) & mask) != 0 || ((p[0] ^ q[0]) & mask) != 0) {
        return 0;
    }
    return 1 + lz_extend(q + 1, p + 1, max - 1, mask);
}

/* Appends count literal units starting at u (count may exceed one run). */
static inline int lz_put_literals_t(struct lz_encoder *e, const uint32_t *u, size_t count,
                                    enum lz_unit unit, uint32_t mask, int checked)
{
    while (count > 0) {
        size_t run = count < LZ_MAX_COPY ? count : LZ_MAX_COPY;
        if (checked && (size_t)(e->oend - e->op) < 1 + run * (size_t)unit + 4) {
            return CLOVE_E_RANGE;
        }
        uint8_t *op = e->op;
        *op++ = (uint8_t)(run - 1);
        if (unit == LZ_UNIT_RGB) {
            /* Four bytes are stored per unit and the next one overwrites the
             * fourth; the +4 slack above covers the last. */
            for (size_t i = 0; i < run; i++) {
                uint32_t k = u[i];
                memcpy(op + 3 * i, &k, 4);
            }
            op += 3 * run;
        } else {
            for (size_t i = 0; i < run; i++) {
                op += lz_put_literal(op, u[i] & mask, unit);
            }
        }
        e->op = op;
        u += run;
        count -= run;
    }
    return 0;
}

/*
 * Compresses one stream of n units whose rows are row_units long. Inlined
 * per unit so the RGB path has constant unit, bias and mask.
 */
static inline __attribute__((always_inline)) int
lz_encode_stream_t(struct lz_encoder *e, const uint32_t *u, size_t n, size_t row_units,
                   enum lz_unit unit, uint32_t mask, int checked)
{
    const size_t bias = lz_len_bias(unit);
    const size_t min_len = bias + 1 < 2 ? 2 : bias + 1;
    /* Literal units cost this many bytes; a match must save at least one. */
    const size_t lit_bytes = (size_t)unit;
    const int use_row = row_units > 1 && row_units <= LZ_FAR_MAX;
    uint32_t *const hash = e->hash;
    size_t ip = 0, anchor = 0, misses = 0;
    int rc;

    memset(hash, 0, LZ_HASH_SIZE * sizeof(uint32_t));
    while (ip + 3 <= n) {
        size_t max = n - ip;
        size_t best = 0, best_dist = 0;
        if (ip >= 1 && ((u[ip] ^ u[ip - 1]) & mask) == 0) {
            best = 1 + lz_extend(u + ip, u + ip + 1, max - 1, mask);
            best_dist = 1;
        }
        if (use_row && ip >= row_units && best < max) {
            size_t l = lz_try(u, ip, row_units, max, best, mask);
            if (l > best) {
                best = l;
                best_dist = row_units;
            }
        }
        uint32_t h = lz_hash3(u + ip, mask);
        size_t cand = hash[h];
        hash[h] = (uint32_t)ip;
        if (cand < ip && ip - cand <= LZ_FAR_MAX && best < max) {
            size_t dist = ip - cand;
            if (dist != 1 && dist != row_units) {
                size_t l = lz_try(u, ip, dist, max, best, mask);
                if (l > best) {
                    best = l;
                    best_dist = dist;
                }
            }
        }
        /* For RGB every match of 2+ units is cheaper than its literals. */
        if (best >= min_len &&
            (unit == LZ_UNIT_RGB || lz_match_cost(best - bias, best_dist) < best * lit_bytes)) {
            if (ip > anchor) {
                if ((rc = lz_put_literals_t(e, u + anchor, ip - anchor, unit, mask, checked)) < 0) {
                    return rc;
                }
            }
            if ((rc = lz_put_match(e, best, best_dist, bias, checked)) < 0) {
                return rc;
            }
            /* Remember where the match ends so the next text row finds it. */
            size_t end = ip + best;
            if (best < 64 && end + 3 <= n && end >= 2) {
                hash[lz_hash3(u + end - 2, mask)] = (uint32_t)(end - 2);
                hash[lz_hash3(u + end - 1, mask)] = (uint32_t)(end - 1);
            }
            ip = end;
            anchor = ip;
            misses = 0;
        } else {
            misses++;
            ip += 1 + (misses >> LZ_SKIP_TRIGGER);
        }
    }
    return lz_put_literals_t(e, u + anchor, n - anchor, unit, mask, checked);
}

#if defined(__SSE2__)
/* Length (0..8) of the agreement of the eight units at q with a0:a1, the
 * eight units at the current position with their pad bytes cleared. */
static inline size_t lz_head8(__m128i a0, __m128i a1, const uint32_t *q, __m128i m)
{
    __m128i q0 = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)q), m);
    __m128i q1 = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(q + 4)), m);
    /* Two mask bits per unit after the saturating pack. */
    unsigned eq = (unsigned)_mm_movemask_epi8(
            _mm_packs_epi32(_mm_cmpeq_epi32(q0, a0), _mm_cmpeq_epi32(q1, a1)));
    return (unsigned)__builtin_ctz(~eq) >> 1;
}

/* Hash of the three units at p (pad bytes ignored) for the RGB fast path:
 * the first two units go through one 64-bit multiply. */
static inline uint32_t lz_hash3_rgb(const uint32_t *p)
{
    uint64_t h = (lz_load64(p) & 0x00ffffff00ffffffull) * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)(p[2] & 0xffffffu) * 0xC2B2AE3D27D4EB4Full;
    return (uint32_t)(h >> (64 - LZ_FAST_HASH_LOG));
}

/* Writes count RGB literal units from u at op (room proved); returns the
 * new end. Two units go out as one 8-byte store of their six colour bytes
 * (a lone last unit as a 4-byte store); the next store overwrites the
 * extra bytes, and lz_encode_bound's slack covers the last ones. */
static inline uint8_t *lz_rgb_literals(uint8_t *op, const uint32_t *u, size_t count)
{
    while (count > 0) {
        size_t run = LZ_MIN(count, LZ_MAX_COPY);
        *op++ = (uint8_t)(run - 1);
        size_t i = 0;
        for (; i + 2 <= run; i += 2) {
            uint64_t x = lz_load64(u + i);
            uint64_t v = (x & 0xffffffu) | ((x >> 8) & 0xffffff000000ull);
            memcpy(op + 3 * i, &v, 8);
        }
        if (i < run) {
            uint32_t k = u[i];
            memcpy(op + 3 * i, &k, 4);
        }
        op += 3 * run;
        u += run;
        count -= run;
    }
    return op;
}

/* Writes an RGB match (bias 0, length >= 1) at op, room proved; matches
 * shorter than 262 units (one length byte at most) are written without
 * branches, near or far. Returns the new end. */
static inline uint8_t *lz_rgb_match(uint8_t *op, size_t len, size_t dist)
{
    if (len >= 7 + 255) {
        return lz_write_match(op, len, dist);
    }
    size_t is_long = len >= 7;
    size_t is_far = dist > LZ_NEAR_MAX;
    size_t lfield = is_long ? 7 : len;
    size_t d = dist - 1;
    size_t fd = dist - 8192;
    /* near: ctrl [len] d_lo; far: ctrl(31) [len] 255 fd_hi fd_lo */
    size_t far_mask = -is_far;
    op[0] = (uint8_t)((lfield << 5) | (((d >> 8) | far_mask) & 31));
    op[1] = (uint8_t)(len - 7);
    op += 1 + is_long;
    op[0] = (uint8_t)(d | far_mask);
    op[1] = (uint8_t)(fd >> 8);
    op[2] = (uint8_t)(fd & 255);
    return op + 1 + 2 * is_far;
}

/* Where an RGB fast-path scan stands: output end, next position, first
 * unit not yet written, and positions without a match since the last. */
struct lz_rgb_state {
    uint8_t *op;
    size_t ip, anchor, misses;
};

/*
 * Scans positions ip < stop (stop <= n - 8, so eight units can be read at
 * every position). `above` (a constant after inlining) says whether the
 * unit one row up exists for every position of the scan: the first row is
 * scanned with above = 0, the rest with above = 1, so the loop has no
 * per-position test for it. The first eight units of the three candidates
 * (previous unit, row above, hash) are compared with SSE2 and the longest
 * picked with conditional moves (ties: previous, above, hash); only the
 * candidates that agree on all eight are extended.
 */
static inline __attribute__((always_inline)) void lz_rgb_scan(struct lz_rgb_state *s,
                                                              uint16_t *restrict hash,
                                                              const uint32_t *u, size_t n,
                                                              size_t row, size_t stop, int above)
{
    const uint32_t mask = 0xffffffu;
    const __m128i m = _mm_set1_epi32((int)mask);
    uint8_t *op = s->op;
    size_t ip = s->ip, anchor = s->anchor, misses = s->misses;

    while (ip < stop) {
        const uint32_t *p = u + ip;
        __m128i a0 = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)p), m);
        __m128i a1 = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(p + 4)), m);
        uint32_t h = lz_hash3_rgb(p);
        /* The table keeps positions mod 2^16 (32 KB: it stays in L1). Every
         * stored position is below ip, so the candidate is the latest one
         * with those low bits: d3 is 1..65536, never past unit 0, always
         * codable; a stale entry only costs a compare. */
        size_t d3 = (uint16_t)(ip - 1 - hash[h]) + (size_t)1;
        hash[h] = (uint16_t)ip;
        size_t l1 = lz_head8(a0, a1, p - 1, m);
        size_t l2 = above ? lz_head8(a0, a1, p - row, m) : 0;
        size_t l3 = lz_head8(a0, a1, p - d3, m);
        size_t best = l1, dist = 1;
        if (above) {
            dist = l2 > best ? row : dist;
            best = l2 > best ? l2 : best;
        }
        dist = l3 > best ? d3 : dist;
        best = l3 > best ? l3 : best;
        if (best == 8) {
            size_t max = n - ip;
            best = 8 + lz_extend(p - dist + 8, p + 8, max - 8, mask);
            if (best < max) {
                /* Another candidate that agreed on eight units and also
                 * agrees at the winner's end may be longer: one branch,
                 * rarely taken. */
                uint32_t pb = p[best] & mask;
                int more2 = above && (l2 == 8) & (dist != row) & (((p - row)[best] & mask) == pb);
                int more3 = (l3 == 8) & (dist != d3) & (((p - d3)[best] & mask) == pb);
                if (more2 | more3) {
                    if (more2) {
                        size_t l = 8 + lz_extend(p - row + 8, p + 8, max - 8, mask);
                        if (l > best) {
                            best = l;
                            dist = row;
                        }
                    }
                    if (more3 && best < max && (((p - d3)[best] ^ p[best]) & mask) == 0) {
                        size_t l = 8 + lz_extend(p - d3 + 8, p + 8, max - 8, mask);
                        if (l > best) {
                            best = l;
                            dist = d3;
                        }
                    }
                }
            }
        }
        /* A near one-unit match costs 2 bytes against a literal's 3; the
         * literal run it splits costs at most one more control byte, so it
         * never loses and often wins (noise-like images). */
        if ((best >= 2) | ((best == 1) & (dist <= LZ_NEAR_MAX))) {
            if (ip > anchor) {
                op = lz_rgb_literals(op, u + anchor, ip - anchor);
            }
            op = lz_rgb_match(op, best, dist);
            /* Remember where the match ends so the next text row finds it. */
            size_t end = ip + best;
            if (best < 64 && end + 3 <= n) {
                hash[lz_hash3_rgb(u + end - 1)] = (uint16_t)(end - 1);
            }
            ip = end;
            anchor = ip;
            /* One-unit matches do not end a noise-like stretch. */
            misses = best >= 2 ? 0 : misses;
        } else {
            misses++;
            ip += 1 + LZ_MIN(misses >> LZ_SKIP_TRIGGER, LZ_SKIP_CAP);
        }
    }
    s->op = op;
    s->ip = ip;
    s->anchor = anchor;
    s->misses = misses;
}

/*
 * RGB stream with room for lz_encode_bound() bytes (no space checks). Same
 * candidates as lz_encode_stream_t, but compared eight units at a time and
 * picked without branches. For RGB every match of 2+ units is cheaper than
 * its literals, so the take/skip decision is best >= 2.
 */
static int lz_encode_rgb_fast(struct lz_encoder *e, const uint32_t *u, size_t n, size_t row_units)
{
    const size_t row = row_units > 1 && row_units <= LZ_FAR_MAX ? row_units : 0;
    /* e->hash has room for LZ_HASH_SIZE uint32 entries; this path uses it
     * as a smaller table of uint16 positions (the memory is malloc'ed and
     * only ever written before it is read, so its type is what is stored). */
    uint16_t *const hash = (uint16_t *)(void *)e->hash;
    /* Unit 0 has no candidate: it starts the first literal run. */
    struct lz_rgb_state s = {.op = e->op, .ip = 1, .anchor = 0, .misses = 0};

    memset(hash, 0, LZ_FAST_HASH_SIZE * sizeof(uint16_t));
    if (n >= 8) {
        size_t stop = n - 7;
        if (row != 0) {
            lz_rgb_scan(&s, hash, u, n, 0, LZ_MIN(row, stop), 0);
            lz_rgb_scan(&s, hash, u, n, row, stop, 1);
        } else {
            lz_rgb_scan(&s, hash, u, n, 0, stop, 0);
        }
    }
    if (s.anchor < n) {
        s.op = lz_rgb_literals(s.op, u + s.anchor, n - s.anchor);
    }
    e->op = s.op;
    return 0;
}
#endif

static int lz_encode_stream(struct lz_encoder *e, const uint32_t *u, size_t n, size_t row_units)
{
#if defined(__SSE2__)
    if (e->unit == LZ_UNIT_RGB && e->room) {
        return lz_encode_rgb_fast(e, u, n, row_units);
    }
#endif
    if (e->unit == LZ_UNIT_RGB && e->room) {
        return lz_encode_stream_t(e, u, n, row_units, LZ_UNIT_RGB, 0xffffffu, 0);
    }
    if (e->unit == LZ_UNIT_RGB) {
        return lz_encode_stream_t(e, u, n, row_units, LZ_UNIT_RGB, 0xffffffu, 1);
    }
    return lz_encode_stream_t(e, u, n, row_units, e->unit, e->mask, 1);
}

/* Fills keys[] with one plane of img in memory order (row 0 first when the
 * stride is positive, the bottom row first when negative). */
static void lz_fill_keys(const struct codec_image *img, int alpha_plane, uint32_t *keys,
                         size_t row_units)
{
    const uint32_t h = img->height;
    for (uint32_t i = 0; i < h; i++) {
        uint32_t y = img->stride >= 0 ? i : h - 1 - i;
        const uint8_t *row = img->pixels + (ptrdiff_t)y * img->stride;
        uint32_t *k = keys + (size_t)i * row_units;
        switch (img->format) {
        case CODEC_FMT_RGB32:
        case CODEC_FMT_RGBA:
        case CODEC_FMT_XXXA:
            for (size_t x = 0; x < row_units; x++) {
                uint32_t p = lz_load32(row + 4 * x);
                k[x] = alpha_plane ? p >> 24 : p & 0xffffff;
            }
            break;
        case CODEC_FMT_RGB24:
            for (size_t x = 0; x < row_units; x++) {
                const uint8_t *p = row + 3 * x;
                k[x] = p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
            }
            break;
        case CODEC_FMT_RGB16:
            for (size_t x = 0; x < row_units; x++) {
                k[x] = row[2 * x] | ((uint32_t)row[2 * x + 1] << 8);
            }
            break;
        default:
            for (size_t x = 0; x < row_units; x++) {
                k[x] = row[x];
            }
            break;
        }
    }
}

static int lz_check_image(const struct codec_image *img)
{
    if (!img || !img->pixels || img->width == 0 || img->height == 0 || img->width > CODEC_MAX_DIM ||
        img->height > CODEC_MAX_DIM || lz_wire_type_from_format(img->format) == LZ_WIRE_INVALID) {
        return CLOVE_E_INVALID;
    }
    size_t row = codec_format_row_bytes(img->format, img->width);
    size_t abs_stride = img->stride < 0 ? (size_t)(-(int64_t)img->stride) : (size_t)img->stride;
    if (abs_stride < row) {
        return CLOVE_E_INVALID;
    }
    return 0;
}

/* Units per row of the stream, and the stride the header announces. */
static size_t lz_row_units(const struct codec_image *img)
{
    switch (img->format) {
    case CODEC_FMT_RGB32:
    case CODEC_FMT_RGBA:
    case CODEC_FMT_XXXA:
    case CODEC_FMT_RGB24:
    case CODEC_FMT_RGB16:
        return img->width;
    default:
        return codec_format_row_bytes(img->format, img->width);
    }
}

size_t lz_encode_bound(const struct codec_image *img)
{
    if (lz_check_image(img) < 0) {
        return 0;
    }
    size_t n = lz_row_units(img) * img->height;
    size_t lit = (size_t)lz_unit_of_type(lz_wire_type_from_format(img->format));
    size_t planes = img->format == CODEC_FMT_RGBA ? 2 : 1;
    /* Every literal run of up to 32 units costs one control byte, and the
     * encoder only takes a match that is cheaper than its literals. */
    return LZ_HEADER_SIZE + planes * (n * (lit + 1) + 16);
}

int lz_encode(const struct codec_image *img, uint8_t *out, size_t out_cap, const char **err_desc)
{
    if (lz_check_image(img) < 0 || !out) {
        return lz_fail(err_desc, "lz: invalid image", CLOVE_E_INVALID);
    }
    if (out_cap < LZ_HEADER_SIZE) {
        return lz_fail(err_desc, "lz: output buffer too small", CLOVE_E_RANGE);
    }
    enum lz_wire_type type = lz_wire_type_from_format(img->format);
    size_t row_units = lz_row_units(img);
    size_t n = row_units * img->height;
    uint32_t wire_stride = lz_wire_type_is_plt(type) || type == LZ_WIRE_A8
                                   ? (uint32_t)row_units
                                   : img->width * lz_rgb_bytes_per_pixel(type);
    int top_down = img->stride >= 0;

    lz_write_be32(out, LZ_WIRE_MAGIC);
    lz_write_be32(out + 4, LZ_WIRE_VERSION);
    lz_write_be32(out + 8, type);
    lz_write_be32(out + 12, img->width);
    lz_write_be32(out + 16, img->height);
    lz_write_be32(out + 20, wire_stride);
    lz_write_be32(out + 24, (uint32_t)top_down);

    struct lz_encoder e = {
            .op = out + LZ_HEADER_SIZE,
            .oend = out + out_cap,
            .room = out_cap >= lz_encode_bound(img),
    };
    e.hash = malloc(LZ_HASH_SIZE * sizeof(uint32_t));
    if (!e.hash) {
        return lz_fail(err_desc, "lz: out of memory", CLOVE_E_NOMEM);
    }

    /* RGB32 rows that follow each other in memory are read in place. */
    int has_colour = type != LZ_WIRE_XXXA;
    int has_alpha = type == LZ_WIRE_RGBA || type == LZ_WIRE_XXXA;
    size_t abs_stride = img->stride < 0 ? (size_t)(-(int64_t)img->stride) : (size_t)img->stride;
    int direct = (type == LZ_WIRE_RGB32 || type == LZ_WIRE_RGBA) && abs_stride == row_units * 4 &&
                 ((uintptr_t)img->pixels & 3) == 0;
    uint32_t *keys = NULL;
    if (!direct || has_alpha) {
        keys = malloc((n + 2) * sizeof(uint32_t));
        if (!keys) {
            free(e.hash);
            return lz_fail(err_desc, "lz: out of memory", CLOVE_E_NOMEM);
        }
    }

    int rc = 0;
    if (has_colour) {
        const uint32_t *u;
        if (direct) {
            const uint8_t *first = img->pixels;
            if (img->stride < 0) {
                first += (ptrdiff_t)(img->height - 1) * img->stride;
            }
            u = (const uint32_t *)(const void *)first;
        } else {
            lz_fill_keys(img, 0, keys, row_units);
            u = keys;
        }
        e.unit = lz_unit_of_type(type);
        e.bias = lz_len_bias(e.unit);
        e.mask = e.unit == LZ_UNIT_RGB ? 0xffffffu : 0xffffffffu;
        rc = lz_encode_stream(&e, u, n, row_units);
    }
    if (rc == 0 && has_alpha) {
        lz_fill_keys(img, 1, keys, row_units);
        e.unit = LZ_UNIT_BYTE;
        e.bias = lz_len_bias(e.unit);
        e.mask = 0xffffffffu;
        rc = lz_encode_stream(&e, keys, n, row_units);
    }
    free(keys);
    free(e.hash);
    if (rc < 0) {
        return lz_fail(err_desc, "lz: output buffer too small", rc);
    }
    size_t total = (size_t)(e.op - out);
    if (total > INT32_MAX) {
        return lz_fail(err_desc, "lz: output too large", CLOVE_E_RANGE);
    }
    return (int)total;
}

/* ------------------------------------------------------------------ */
/* Decoder                                                             */

struct lz_header {
    uint32_t type, width, height, stride;
    int top_down;
    size_t row_units; /* units per stream row */
};

static int lz_parse_header(const uint8_t *in, size_t in_len, struct lz_header *h,
                           const char **err_desc)
{
    if (!in || in_len < LZ_HEADER_SIZE) {
        return lz_fail(err_desc, "lz: truncated header", CLOVE_E_INCOMPLETE);
    }
    if (lz_read_be32(in) != LZ_WIRE_MAGIC) {
        return lz_fail(err_desc, "lz: bad magic", CLOVE_E_INVALID);
    }
    if (lz_read_be32(in + 4) != LZ_WIRE_VERSION) {
        return lz_fail(err_desc, "lz: unsupported version", CLOVE_E_INVALID);
    }
    h->type = lz_read_be32(in + 8);
    h->width = lz_read_be32(in + 12);
    h->height = lz_read_be32(in + 16);
    h->stride = lz_read_be32(in + 20);
    h->top_down = lz_read_be32(in + 24) != 0;
    enum codec_format format = lz_format_from_wire_type(h->type);
    if (format == CODEC_FMT_INVALID) {
        return lz_fail(err_desc, "lz: bad image type", CLOVE_E_INVALID);
    }
    if (h->width == 0 || h->height == 0) {
        return lz_fail(err_desc, "lz: empty image", CLOVE_E_INVALID);
    }
    if (h->width > CODEC_MAX_DIM || h->height > CODEC_MAX_DIM ||
        (uint64_t)h->width * h->height > CODEC_MAX_PIXELS) {
        return lz_fail(err_desc, "lz: image too large", CLOVE_E_RANGE);
    }
    if (lz_wire_type_is_plt(h->type) || h->type == LZ_WIRE_A8) {
        /* lz.c lz_set_sizes lets a palette stride miss the last partial
         * byte; we accept 1..row bytes and zero what is missing. */
        size_t row = codec_format_row_bytes(format, h->width);
        if (h->stride == 0 || h->stride > row) {
            return lz_fail(err_desc, "lz: bad palette stride", CLOVE_E_INVALID);
        }
        h->row_units = h->stride;
    } else {
        if ((uint64_t)h->stride != (uint64_t)h->width * lz_rgb_bytes_per_pixel(h->type)) {
            return lz_fail(err_desc, "lz: stride does not match width", CLOVE_E_INVALID);
        }
        h->row_units = h->width;
    }
    return 0;
}

int lz_decode_header(const uint8_t *in, size_t in_len, struct codec_info *info,
                     const char **err_desc)
{
    struct lz_header h;
    int rc = lz_parse_header(in, in_len, &h, err_desc);
    if (rc < 0) {
        return rc;
    }
    if (info) {
        info->format = lz_format_from_wire_type(h.type);
        info->width = h.width;
        info->height = h.height;
        info->top_down = h.top_down;
    }
    return 0;
}

/* Copies nbytes from `back` bytes behind op to op; the regions may overlap,
 * in which case the pattern repeats as the decoder of the format expects. */
static inline void lz_copy_back(uint8_t *op, size_t back, size_t nbytes)
{
    const uint8_t *src = op - back;
    if (back >= 32) {
        while (nbytes >= 32) {
            memcpy(op, src, 32);
            op += 32;
            src += 32;
            nbytes -= 32;
        }
    }
    if (back >= 8) {
        while (nbytes >= 8) {
            memcpy(op, src, 8);
            op += 8;
            src += 8;
            nbytes -= 8;
        }
    } else if (back == 4 && nbytes >= 8) {
        uint32_t v = lz_load32(src);
        uint64_t pat = ((uint64_t)v << 32) | v;
        while (nbytes >= 8) {
            memcpy(op, &pat, 8);
            op += 8;
            nbytes -= 8;
        }
        src = op - back;
    }
    while (nbytes--) {
        *op++ = *src++;
    }
}

struct lz_reader {
    const uint8_t *ip, *iend;
};

/* Reads one match header; returns 0 or CLOVE_E_INVALID when the input ends. */
static inline int lz_read_match(struct lz_reader *r, uint32_t ctrl, uint32_t bias, size_t *len,
                                size_t *dist)
{
    const uint8_t *ip = r->ip, *iend = r->iend;
    size_t l = ctrl >> 5;
    if (l == 7) {
        uint8_t code;
        do {
            if (ip >= iend) {
                return CLOVE_E_INVALID;
            }
            code = *ip++;
            l += code;
        } while (code == 255);
    }
    if (ip >= iend) {
        return CLOVE_E_INVALID;
    }
    uint32_t code = *ip++;
    size_t d = ((ctrl & 31) << 8) + code;
    if (code == 255 && (ctrl & 31) == 31) {
        if (iend - ip < 2) {
            return CLOVE_E_INVALID;
        }
        d = (((size_t)ip[0] << 8) | ip[1]) + 8191;
        ip += 2;
    }
    r->ip = ip;
    *len = l + bias;
    *dist = d + 1;
    return 0;
}

/*
 * Decodes one stream of n units into out (ob bytes per unit). The alpha
 * plane (alpha != 0) writes only byte 3 of 4-byte units. Returns 0 or a
 * negative code.
 */
static int lz_decode_stream(struct lz_reader *r, enum lz_unit unit, int alpha, uint8_t *out,
                            size_t ob, size_t n)
{
    const uint32_t bias = lz_len_bias(unit);
    size_t pos = 0;
    while (pos < n) {
        if (r->ip >= r->iend) {
            return CLOVE_E_INVALID;
        }
        uint32_t ctrl = *r->ip++;
        if (ctrl < LZ_MAX_COPY) {
            size_t count = ctrl + 1;
            if (count > n - pos || (size_t)(r->iend - r->ip) < count * (size_t)unit) {
                return CLOVE_E_INVALID;
            }
            const uint8_t *ip = r->ip;
            uint8_t *op = out + pos * ob;
            if (alpha) {
                for (size_t i = 0; i < count; i++) {
                    op[4 * i + 3] = ip[i];
                }
            } else if (unit == LZ_UNIT_RGB && ob == 4) {
                for (size_t i = 0; i < count; i++) {
                    op[4 * i] = ip[3 * i];
                    op[4 * i + 1] = ip[3 * i + 1];
                    op[4 * i + 2] = ip[3 * i + 2];
                    op[4 * i + 3] = 0;
                }
            } else if (unit == LZ_UNIT_RGB16) {
                for (size_t i = 0; i < count; i++) {
                    op[2 * i] = ip[2 * i + 1];
                    op[2 * i + 1] = ip[2 * i];
                }
            } else {
                memcpy(op, ip, count * (size_t)unit);
            }
            r->ip += count * (size_t)unit;
            pos += count;
        } else {
            size_t len, dist;
            if (lz_read_match(r, ctrl, bias, &len, &dist) < 0) {
                return CLOVE_E_INVALID;
            }
            if (dist > pos || len > n - pos) {
                return CLOVE_E_INVALID;
            }
            uint8_t *op = out + pos * ob;
            if (alpha) {
                const uint8_t *src = op - dist * 4;
                for (size_t i = 0; i < len; i++) {
                    op[4 * i + 3] = src[4 * i + 3];
                }
            } else {
                lz_copy_back(op, dist * ob, len * ob);
            }
            pos += len;
        }
    }
    return 0;
}

int lz_decode(const uint8_t *in, size_t in_len, uint8_t *pixels, int32_t stride,
              const char **err_desc)
{
    struct lz_header h;
    int rc = lz_parse_header(in, in_len, &h, err_desc);
    if (rc < 0) {
        return rc == CLOVE_E_INCOMPLETE ? lz_fail(err_desc, "lz: truncated", CLOVE_E_INVALID) : rc;
    }
    if (!pixels) {
        return lz_fail(err_desc, "lz: no output buffer", CLOVE_E_INVALID);
    }
    enum codec_format format = lz_format_from_wire_type(h.type);
    size_t row_bytes = codec_format_row_bytes(format, h.width);
    size_t abs_stride = stride < 0 ? (size_t)(-(int64_t)stride) : (size_t)stride;
    if (abs_stride < row_bytes) {
        return lz_fail(err_desc, "lz: output stride too small", CLOVE_E_INVALID);
    }
    /* Bytes per unit in the output. */
    size_t ob = lz_wire_type_is_plt(h.type) || h.type == LZ_WIRE_A8
                        ? 1
                        : (h.type == LZ_WIRE_RGB16 ? 2 : (h.type == LZ_WIRE_RGB24 ? 3 : 4));
    size_t n = h.row_units * h.height;
    size_t stream_row_bytes = h.row_units * ob;

    /* A stream cannot produce more than 255 * 8 units per input byte; refuse
     * to allocate or scan for impossible sizes. */
    if (n / 256 > in_len) {
        return lz_fail(err_desc, "lz: truncated", CLOVE_E_INVALID);
    }

    /* Decode in place when the caller's rows sit in stream order. */
    uint8_t *buf;
    int in_place = stream_row_bytes == row_bytes &&
                   ((h.top_down && (size_t)stride == row_bytes) ||
                    (!h.top_down && stride < 0 && abs_stride == row_bytes) || h.height == 1);
    if (in_place) {
        buf = pixels;
        if (!h.top_down && h.height > 1) {
            buf = pixels + (ptrdiff_t)(h.height - 1) * stride;
        }
    } else {
        buf = malloc(n * ob + 1);
        if (!buf) {
            return lz_fail(err_desc, "lz: out of memory", CLOVE_E_NOMEM);
        }
    }
    if (h.type == LZ_WIRE_XXXA) {
        memset(buf, 0, n * ob);
    }

    struct lz_reader r = {.ip = in + LZ_HEADER_SIZE, .iend = in + in_len};
    rc = 0;
    if (h.type != LZ_WIRE_XXXA) {
        rc = lz_decode_stream(&r, lz_unit_of_type(h.type), 0, buf, ob, n);
    }
    if (rc == 0 && (h.type == LZ_WIRE_RGBA || h.type == LZ_WIRE_XXXA)) {
        rc = lz_decode_stream(&r, LZ_UNIT_BYTE, 1, buf, ob, n);
    }
    if (rc == 0 && r.ip != r.iend) {
        rc = CLOVE_E_INVALID;
    }
    if (rc == 0 && !in_place) {
        size_t copy = stream_row_bytes < row_bytes ? stream_row_bytes : row_bytes;
        for (uint32_t i = 0; i < h.height; i++) {
            uint32_t y = h.top_down ? i : h.height - 1 - i;
            uint8_t *row = pixels + (ptrdiff_t)y * stride;
            memcpy(row, buf + (size_t)i * stream_row_bytes, copy);
            if (copy < row_bytes) {
                memset(row + copy, 0, row_bytes - copy);
            }
        }
    }
    if (!in_place) {
        free(buf);
    }
    if (rc < 0) {
        return lz_fail(err_desc, "lz: corrupt stream", rc);
    }
    return 0;
}
