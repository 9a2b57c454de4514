/*
 * QUIC row kernels with SSE2 (included by quic.c only).
 *
 * DESIGN
 * The parts of QUIC coding that depend on pixels alone, not on the adaptive
 * models, run as data-parallel row passes: splitting BGRX pixels into planes
 * and pixel keys, and computing the folded prediction residuals of a row.
 * gcc at -O2 does not vectorise the plain C loops (they need a scalar tail),
 * so these are written with SSE2 intrinsics, which every x86-64 CPU has;
 * each returns how many leading elements it handled and quic.c finishes the
 * rest, and every other CPU, with its portable loops. Both paths give the
 * same bytes: the golden-vector tests run through each (quic_simd_set).
 * The RGB32 encoder's row pass also has an AVX2 copy (eight pixels a
 * vector), compiled with a target attribute and picked by quic.c at run
 * time when the CPU and OS support AVX2.
 *
 * Thread: any; pure over the caller's row buffers.
 */
#ifndef CLOVE_CODEC_QUIC_SIMD_H
#define CLOVE_CODEC_QUIC_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Test hook: 0 makes quic.c use only its portable loops, 2 only the SSE2
 * kernels (not the BMI2 or AVX2 row functions), any other value (the
 * default) every kernel the CPU has. Not meant to be flipped while another
 * thread codes. */
void quic_simd_set(int enabled);

#if defined(__SSE2__)
#include <emmintrin.h>
#define QUIC_HAVE_SSE2 1

/* Floor average of unsigned bytes: pavgb rounds up, so subtract the carry. */
static inline __m128i quic_avg_floor(__m128i a, __m128i b)
{
    __m128i one = _mm_set1_epi8(1);
    return _mm_sub_epi8(_mm_avg_epu8(a, b), _mm_and_si128(_mm_xor_si128(a, b), one));
}

/* Folds residuals taken mod 2^bpc; `d` holds them unmasked (mod 256). */
static inline __m128i quic_fold8(__m128i d)
{
    return _mm_xor_si128(_mm_add_epi8(d, d), _mm_cmpgt_epi8(_mm_setzero_si128(), d));
}

static inline __m128i quic_fold5(__m128i d)
{
    __m128i m31 = _mm_set1_epi8(31), m16 = _mm_set1_epi8(16);
    d = _mm_and_si128(d, m31);
    __m128i neg = _mm_cmpeq_epi8(_mm_and_si128(d, m16), m16);
    return _mm_and_si128(_mm_xor_si128(_mm_add_epi8(d, d), neg), m31);
}

/* res[i] = fold(cur[i] - cur[i - 1]) for i in [1, n); returns the first i
 * not done. */
static inline unsigned quic_simd_fold_row0(uint8_t *res, const uint8_t *cur, unsigned n,
                                           unsigned bpc)
{
    unsigned i = 1;
    for (; i + 16 <= n; i += 16) {
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(cur + i));
        __m128i l = _mm_loadu_si128((const __m128i *)(const void *)(cur + i - 1));
        __m128i d = _mm_sub_epi8(c, l);
        d = bpc == 8 ? quic_fold8(d) : quic_fold5(d);
        _mm_storeu_si128((__m128i *)(void *)(res + i), d);
    }
    return i;
}

/* res[i] = fold(cur[i] - floor((cur[i - 1] + prev[i]) / 2)) for i in
 * [1, n); returns the first i not done. */
static inline unsigned quic_simd_fold_row(uint8_t *res, const uint8_t *cur, const uint8_t *prev,
                                          unsigned n, unsigned bpc)
{
    unsigned i = 1;
    for (; i + 16 <= n; i += 16) {
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(cur + i));
        __m128i l = _mm_loadu_si128((const __m128i *)(const void *)(cur + i - 1));
        __m128i u = _mm_loadu_si128((const __m128i *)(const void *)(prev + i));
        __m128i d = _mm_sub_epi8(c, quic_avg_floor(l, u));
        d = bpc == 8 ? quic_fold8(d) : quic_fold5(d);
        _mm_storeu_si128((__m128i *)(void *)(res + i), d);
    }
    return i;
}

/* Splits 32-bit BGRX/BGRA pixels into B, G, R (and A when `a` is not NULL)
 * planes and 24-bit BGR keys; returns how many pixels it did. */
static inline unsigned quic_simd_unpack32(const uint8_t *src, unsigned n, uint8_t *r, uint8_t *g,
                                          uint8_t *b, uint8_t *a, uint32_t *key)
{
    const __m128i lo8 = _mm_set1_epi32(0xff), rgb = _mm_set1_epi32(0xffffff);
    unsigned i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i v[4], bb[4], gg[4], rr[4], aa[4];
        for (unsigned k = 0; k < 4; k++) {
            v[k] = _mm_loadu_si128((const __m128i *)(const void *)(src + 4 * (i + 4 * k)));
            _mm_storeu_si128((__m128i *)(void *)(key + i + 4 * k), _mm_and_si128(v[k], rgb));
            bb[k] = _mm_and_si128(v[k], lo8);
            gg[k] = _mm_and_si128(_mm_srli_epi32(v[k], 8), lo8);
            rr[k] = _mm_and_si128(_mm_srli_epi32(v[k], 16), lo8);
            aa[k] = _mm_srli_epi32(v[k], 24);
        }
#define QUIC_PACK4(x) \
    _mm_packus_epi16(_mm_packs_epi32((x)[0], (x)[1]), _mm_packs_epi32((x)[2], (x)[3]))
        _mm_storeu_si128((__m128i *)(void *)(b + i), QUIC_PACK4(bb));
        _mm_storeu_si128((__m128i *)(void *)(g + i), QUIC_PACK4(gg));
        _mm_storeu_si128((__m128i *)(void *)(r + i), QUIC_PACK4(rr));
        if (a) {
            _mm_storeu_si128((__m128i *)(void *)(a + i), QUIC_PACK4(aa));
        }
#undef QUIC_PACK4
    }
    return i;
}

/* eq[i] = k[i] == k[i - 1] for i in [1, n); returns the first i not done. */
static inline unsigned quic_simd_key_steps(uint8_t *eq, const uint32_t *k, unsigned n)
{
    const __m128i one = _mm_set1_epi8(1);
    unsigned i = 1;
    for (; i + 16 <= n; i += 16) {
        __m128i m[4];
        for (unsigned j = 0; j < 4; j++) {
            const uint32_t *p = k + i + 4 * j;
            m[j] = _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p - 1)),
                                   _mm_loadu_si128((const __m128i *)(const void *)p));
        }
        __m128i packed = _mm_packs_epi16(_mm_packs_epi32(m[0], m[1]), _mm_packs_epi32(m[2], m[3]));
        _mm_storeu_si128((__m128i *)(void *)(eq + i), _mm_and_si128(packed, one));
    }
    return i;
}

/* cand[i] = eqprev[i] & eq[i - 1] for i in [3, n); returns the first i not
 * done. */
static inline unsigned quic_simd_run_cand(uint8_t *cand, const uint8_t *eq, const uint8_t *eqprev,
                                          unsigned n)
{
    unsigned i = 3;
    for (; i + 16 <= n; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(eqprev + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(eq + i - 1));
        _mm_storeu_si128((__m128i *)(void *)(cand + i), _mm_and_si128(a, b));
    }
    return i;
}

/* up[i] = kprev[i - 1] == kprev[i] for i in [3, n); returns the first i
 * not done. */
static inline unsigned quic_simd_up_cand(uint8_t *up, const uint32_t *kprev, unsigned n)
{
    const __m128i one = _mm_set1_epi8(1);
    unsigned i = 3;
    for (; i + 16 <= n; i += 16) {
        __m128i m[4];
        for (unsigned k = 0; k < 4; k++) {
            const uint32_t *pp = kprev + i + 4 * k;
            m[k] = _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(const void *)(pp - 1)),
                                   _mm_loadu_si128((const __m128i *)(const void *)pp));
        }
        __m128i packed = _mm_packs_epi16(_mm_packs_epi32(m[0], m[1]), _mm_packs_epi32(m[2], m[3]));
        _mm_storeu_si128((__m128i *)(void *)(up + i), _mm_and_si128(packed, one));
    }
    return i;
}

/* Interleaves B, G, R planes into 32-bit BGRA pixels (A from `a`, or 0
 * when `a` is NULL);
 * returns how many pixels it did. */
static inline unsigned quic_simd_pack32(uint8_t *dst, const uint8_t *r, const uint8_t *g,
                                        const uint8_t *b, const uint8_t *a, unsigned n)
{
    unsigned i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i vb = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        __m128i vg = _mm_loadu_si128((const __m128i *)(const void *)(g + i));
        __m128i vr = _mm_loadu_si128((const __m128i *)(const void *)(r + i));
        __m128i va =
                a ? _mm_loadu_si128((const __m128i *)(const void *)(a + i)) : _mm_setzero_si128();
        __m128i bg_lo = _mm_unpacklo_epi8(vb, vg), bg_hi = _mm_unpackhi_epi8(vb, vg);
        __m128i ra_lo = _mm_unpacklo_epi8(vr, va), ra_hi = _mm_unpackhi_epi8(vr, va);
        uint8_t *d = dst + 4 * i;
        _mm_storeu_si128((__m128i *)(void *)d, _mm_unpacklo_epi16(bg_lo, ra_lo));
        _mm_storeu_si128((__m128i *)(void *)(d + 16), _mm_unpackhi_epi16(bg_lo, ra_lo));
        _mm_storeu_si128((__m128i *)(void *)(d + 32), _mm_unpacklo_epi16(bg_hi, ra_hi));
        _mm_storeu_si128((__m128i *)(void *)(d + 48), _mm_unpackhi_epi16(bg_hi, ra_hi));
    }
    return i;
}

/* Skips nonzero eq bytes sixteen at a time from i; returns where it
 * stopped (at a zero or fewer than sixteen before end). */
static inline int quic_simd_run_end(const uint8_t *eq, int i, int end)
{
    for (; i + 16 <= end; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(eq + i));
        unsigned z = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()));
        if (z) {
            return i + (int)(unsigned)__builtin_ctz(z);
        }
    }
    return i;
}

/* model_update's counter step: adds lens[0..7] to the eight 16-bit
 * counters, returns the code with the smallest sum (the highest such code on
 * ties; codes with unused[l] = 0x7fff never win) and sets *bestlen to that
 * sum; halves the counters when it exceeds trigger. Counters stay below
 * 0x7fff (see struct quic_model), so signed 16-bit compares are exact. */
static inline unsigned quic_simd_model_update(uint16_t *cnt, const uint8_t *lens,
                                              const uint16_t *unused, unsigned trigger,
                                              unsigned *bestlen)
{
    __m128i c = _mm_loadu_si128((const __m128i *)(const void *)cnt);
    __m128i l = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(const void *)lens),
                                  _mm_setzero_si128());
    c = _mm_add_epi16(c, l);
    __m128i x = _mm_or_si128(c, _mm_loadu_si128((const __m128i *)(const void *)unused));
    __m128i mn = _mm_min_epi16(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
    mn = _mm_min_epi16(mn, _mm_shuffle_epi32(mn, _MM_SHUFFLE(2, 3, 0, 1)));
    mn = _mm_min_epi16(mn, _mm_shufflelo_epi16(mn, _MM_SHUFFLE(2, 3, 0, 1)));
    unsigned minv = (unsigned)_mm_cvtsi128_si32(mn) & 0xffffu;
    __m128i eq = _mm_cmpeq_epi16(x, _mm_set1_epi16((short)minv));
    unsigned bits = (unsigned)_mm_movemask_epi8(eq);
    unsigned best = (31u - (unsigned)__builtin_clz(bits)) >> 1;
    if (minv > trigger) {
        c = _mm_srli_epi16(c, 1);
    }
    _mm_storeu_si128((__m128i *)(void *)cnt, c);
    *bestlen = minv;
    return best;
}

/* The fused row pass of RGB32 encoding (quic.c rgb32_row_bits), for
 * pixels i in [0, n & ~15) (n >= 16), sixteen at a time: the folded
 * residuals of B, G, R at bytes 4i .. 4i + 2 of res4 (byte 4i + 3 is left
 * undefined; those of pixel 0 are left for the caller), and bit i % 64 of
 * eqb[i / 64] set when pixel i equals pixel i - 1, pad bytes ignored (bit
 * 0 is left undefined). `up` is the row above, or NULL on the first row
 * (then the prediction is the left pixel alone); eqbprev is eqb of the row
 * above (unused when `up` is NULL). Blocks start at multiples of sixteen,
 * so each block's flags are one 16-bit field of a word, stored and loaded
 * as such (x86 is little endian).
 *
 * Residuals are needed only for the pixels the encoder codes, not for run
 * pixels. In a block of sixteen pixels b .. b + 15 (b >= 16) that all equal
 * their left neighbours, as do the sixteen above them, every pixel after
 * b that the encoder reaches outside a run is a run candidate (the pixels
 * above-left and above it are equal, and so are the two to its left), and
 * the run it starts lasts through the block; so only pixel b can be coded,
 * and only the first four residuals of the block are computed, none when
 * the block before was such a block too (its run goes on through this
 * one). Screens are mostly such blocks. Returns the first i not done. */
static inline unsigned quic_simd_rgb32_row_bits(uint8_t *res4, uint64_t *eqb, const uint8_t *src,
                                                const uint8_t *up, const uint64_t *eqbprev,
                                                unsigned n)
{
    const __m128i rgb = _mm_set1_epi32(0xffffff);
    unsigned i = 0;
#define QUIC_LOAD(p)  _mm_loadu_si128((const __m128i *)(const void *)(p))
#define QUIC_EQ(c, l) _mm_cmpeq_epi32(_mm_and_si128(_mm_xor_si128(c, l), rgb), _mm_setzero_si128())
#define QUIC_RES_UP(K)                                              \
    _mm_storeu_si128((__m128i *)(void *)(res4 + 4 * (i + 4 * (K))), \
                     quic_fold8(_mm_sub_epi8(                       \
                             c##K, quic_avg_floor(l##K, QUIC_LOAD(up + 4 * (i + 4 * (K)))))))
#define QUIC_RES_LEFT(K)                                            \
    _mm_storeu_si128((__m128i *)(void *)(res4 + 4 * (i + 4 * (K))), \
                     quic_fold8(_mm_sub_epi8(c##K, l##K)))
    int prev_flat = 0;
    for (; i + 16 <= n; i += 16) {
        const uint8_t *s4 = src + 4 * i;
        __m128i c0 = QUIC_LOAD(s4), c1 = QUIC_LOAD(s4 + 16), c2 = QUIC_LOAD(s4 + 32),
                c3 = QUIC_LOAD(s4 + 48);
        /* Pixel 0 has no left neighbour: its lane gets pixel 0 itself. */
        __m128i l0 = i ? QUIC_LOAD(s4 - 4)
                       : _mm_or_si128(_mm_slli_si128(c0, 4),
                                      _mm_and_si128(c0, _mm_set_epi32(0, 0, 0, -1)));
        __m128i l1 = QUIC_LOAD(s4 + 12), l2 = QUIC_LOAD(s4 + 28), l3 = QUIC_LOAD(s4 + 44);
        __m128i e = _mm_packs_epi16(_mm_packs_epi32(QUIC_EQ(c0, l0), QUIC_EQ(c1, l1)),
                                    _mm_packs_epi32(QUIC_EQ(c2, l2), QUIC_EQ(c3, l3)));
        uint16_t m = (uint16_t)_mm_movemask_epi8(e);
        memcpy((uint8_t *)eqb + (i >> 3), &m, 2);
        if (!up) {
            QUIC_RES_LEFT(0);
            QUIC_RES_LEFT(1);
            QUIC_RES_LEFT(2);
            QUIC_RES_LEFT(3);
            continue;
        }
        uint16_t mp;
        memcpy(&mp, (const uint8_t *)eqbprev + (i >> 3), 2);
        if ((uint16_t)(m & mp) == 0xffff && i) {
            /* A flat block (see above). */
            if (!prev_flat) {
                QUIC_RES_UP(0);
            }
            prev_flat = 1;
            continue;
        }
        prev_flat = 0;
        QUIC_RES_UP(0);
        QUIC_RES_UP(1);
        QUIC_RES_UP(2);
        QUIC_RES_UP(3);
    }
#undef QUIC_RES_LEFT
#undef QUIC_RES_UP
#undef QUIC_EQ
#undef QUIC_LOAD
    return i;
}

/* x86-64 builds also compile the RGB32 encoder's row pass for AVX2, which
 * quic.c picks at run time (quic_fast_avx2). */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define QUIC_HAVE_AVX2 1
#define QUIC_AVX2_ATTR __attribute__((target("avx2")))

/* Folded residual of c over the prediction floor((l + u) / 2), or l alone
 * when `up` is 0 (see quic_fold8). */
QUIC_AVX2_ATTR static inline __m256i quic_avx2_res(__m256i c, __m256i l, __m256i u, int up)
{
    __m256i d;
    if (up) {
        /* c - floor((l + u) / 2) = c - avg_round_up(l, u) + ((l ^ u) & 1) */
        d = _mm256_add_epi8(_mm256_sub_epi8(c, _mm256_avg_epu8(l, u)),
                            _mm256_and_si256(_mm256_xor_si256(l, u), _mm256_set1_epi8(1)));
    } else {
        d = _mm256_sub_epi8(c, l);
    }
    return _mm256_xor_si256(_mm256_add_epi8(d, d), _mm256_cmpgt_epi8(_mm256_setzero_si256(), d));
}

/* Bit k set when pixel k of c equals pixel k of l (pad bytes ignored). */
QUIC_AVX2_ATTR static inline unsigned quic_avx2_eq8(__m256i c, __m256i l)
{
    __m256i x = _mm256_slli_epi32(_mm256_xor_si256(c, l), 8);
    __m256i e = _mm256_cmpeq_epi32(x, _mm256_setzero_si256());
    return (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(e));
}

/* quic_simd_rgb32_row_bits with 256-bit vectors (eight pixels each), for
 * CPUs with AVX2 (the caller checks): the same residuals, flags and flat
 * blocks, so the same stream. The first block (pixel 0 has no left
 * neighbour) and the first row (no row above) have their own loops, so the
 * main loop tests neither. */
QUIC_AVX2_ATTR static inline unsigned quic_avx2_rgb32_row_bits(uint8_t *res4, uint64_t *eqb,
                                                               const uint8_t *src,
                                                               const uint8_t *up,
                                                               const uint64_t *eqbprev, unsigned n)
{
#define QUIC_LOAD(p)     _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define QUIC_STORE(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), v)
    /* Pixel 0's lane of the left vector gets pixel 0 itself. */
    __m256i c0 = QUIC_LOAD(src), c1 = QUIC_LOAD(src + 32);
    __m256i l0 = _mm256_permutevar8x32_epi32(c0, _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6));
    __m256i l1 = QUIC_LOAD(src + 28);
    uint16_t m = (uint16_t)(quic_avx2_eq8(c0, l0) | (quic_avx2_eq8(c1, l1) << 8));
    memcpy(eqb, &m, 2);
    unsigned i = 16;
    if (!up) {
        QUIC_STORE(res4, quic_avx2_res(c0, l0, l0, 0));
        QUIC_STORE(res4 + 32, quic_avx2_res(c1, l1, l1, 0));
        for (; i + 16 <= n; i += 16) {
            const uint8_t *s4 = src + 4 * i;
            c0 = QUIC_LOAD(s4);
            c1 = QUIC_LOAD(s4 + 32);
            l0 = QUIC_LOAD(s4 - 4);
            l1 = QUIC_LOAD(s4 + 28);
            m = (uint16_t)(quic_avx2_eq8(c0, l0) | (quic_avx2_eq8(c1, l1) << 8));
            memcpy((uint8_t *)eqb + (i >> 3), &m, 2);
            QUIC_STORE(res4 + 4 * i, quic_avx2_res(c0, l0, l0, 0));
            QUIC_STORE(res4 + 4 * i + 32, quic_avx2_res(c1, l1, l1, 0));
        }
        return i;
    }
    /* Block 0 is never flat (see quic_simd_rgb32_row_bits). */
    QUIC_STORE(res4, quic_avx2_res(c0, l0, QUIC_LOAD(up), 1));
    QUIC_STORE(res4 + 32, quic_avx2_res(c1, l1, QUIC_LOAD(up + 32), 1));
    int prev_flat = 0;
    for (; i + 16 <= n; i += 16) {
        const uint8_t *s4 = src + 4 * i;
        c0 = QUIC_LOAD(s4);
        c1 = QUIC_LOAD(s4 + 32);
        l0 = QUIC_LOAD(s4 - 4);
        l1 = QUIC_LOAD(s4 + 28);
        m = (uint16_t)(quic_avx2_eq8(c0, l0) | (quic_avx2_eq8(c1, l1) << 8));
        memcpy((uint8_t *)eqb + (i >> 3), &m, 2);
        uint16_t mp;
        memcpy(&mp, (const uint8_t *)eqbprev + (i >> 3), 2);
        uint8_t *r4 = res4 + 4 * i;
        const uint8_t *u4 = up + 4 * i;
        if ((uint16_t)(m & mp) == 0xffff) {
            /* A flat block (see quic_simd_rgb32_row_bits): only its first
             * pixel's residuals, and none after another flat block. */
            if (!prev_flat) {
                QUIC_STORE(r4, quic_avx2_res(c0, l0, QUIC_LOAD(u4), 1));
            }
            prev_flat = 1;
            continue;
        }
        prev_flat = 0;
        QUIC_STORE(r4, quic_avx2_res(c0, l0, QUIC_LOAD(u4), 1));
        QUIC_STORE(r4 + 32, quic_avx2_res(c1, l1, QUIC_LOAD(u4 + 32), 1));
    }
#undef QUIC_STORE
#undef QUIC_LOAD
    return i;
}
#endif

/* candb = eqbprev & (eqb << 1) over `words` words: bit i says pixel i may
 * start a run (the caller clears bits 0 .. 2). */
static inline void quic_bits_candidates(uint64_t *candb, const uint64_t *eqb,
                                        const uint64_t *eqbprev, unsigned words)
{
    uint64_t carry = 0;
    for (unsigned k = 0; k < words; k++) {
        uint64_t e = eqb[k];
        candb[k] = eqbprev[k] & ((e << 1) | carry);
        carry = e >> 63;
    }
}

/* The first j in [i, end) whose bit in b, xor-ed with `inv` (0 or all
 * ones), is set; or end. b must have a word at index end / 64. */
static inline int quic_bits_next(const uint64_t *b, uint64_t inv, int i, int end)
{
    unsigned k = (unsigned)i >> 6;
    uint64_t m = (b[k] ^ inv) & (~(uint64_t)0 << (i & 63));
    while (!m) {
        k++;
        if ((int)(k << 6) >= end) {
            return end;
        }
        m = b[k] ^ inv;
    }
    int j = (int)(k << 6) + __builtin_ctzll(m);
    return j < end ? j : end;
}

/* Sets p[0, n) to v in 16-byte stores: writes up to 15 bytes past n. */
static inline void quic_simd_fill8(uint8_t *p, uint8_t v, unsigned n)
{
    __m128i x = _mm_set1_epi8((char)v);
    for (unsigned k = 0; k < n; k += 16) {
        _mm_storeu_si128((__m128i *)(void *)(p + k), x);
    }
}

/* Sets p[0, max(n, 16)) to v, the first sixteen without a loop (short
 * runs are the common case, and a loop's exit is a branch no predictor
 * guesses): writes up to 16 entries past n. */
static inline void quic_simd_fill32_run(uint32_t *p, uint32_t v, unsigned n)
{
    __m128i x = _mm_set1_epi32((int)v);
    _mm_storeu_si128((__m128i *)(void *)p, x);
    _mm_storeu_si128((__m128i *)(void *)(p + 4), x);
    _mm_storeu_si128((__m128i *)(void *)(p + 8), x);
    _mm_storeu_si128((__m128i *)(void *)(p + 12), x);
    for (unsigned k = 16; k < n; k += 4) {
        _mm_storeu_si128((__m128i *)(void *)(p + k), x);
    }
}

/* Sets p[0, n) to v in 16-byte stores: writes up to 3 entries past n. */
static inline void quic_simd_fill32(uint32_t *p, uint32_t v, unsigned n)
{
    __m128i x = _mm_set1_epi32((int)v);
    for (unsigned k = 0; k < n; k += 4) {
        _mm_storeu_si128((__m128i *)(void *)(p + k), x);
    }
}

/* Skips zero bytes sixteen at a time from i; returns where it stopped (at
 * a nonzero byte or fewer than sixteen before end). */
static inline int quic_simd_next_nonzero(const uint8_t *p, int i, int end)
{
    for (; i + 16 <= end; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        unsigned nz = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())) ^ 0xffffu;
        if (nz) {
            return i + (int)(unsigned)__builtin_ctz(nz);
        }
    }
    return i;
}

/* dst word k = src word k byte swapped, for k in [0, n), four at a time;
 * returns how many words it did. */
static inline size_t quic_simd_bswap32(uint8_t *dst, const uint8_t *src, size_t n)
{
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + 4 * k));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + 4 * k + 16));
        /* Swap the bytes of each 16-bit half, then the halves. */
        a = _mm_or_si128(_mm_slli_epi16(a, 8), _mm_srli_epi16(a, 8));
        b = _mm_or_si128(_mm_slli_epi16(b, 8), _mm_srli_epi16(b, 8));
        a = _mm_shufflehi_epi16(_mm_shufflelo_epi16(a, _MM_SHUFFLE(2, 3, 0, 1)),
                                _MM_SHUFFLE(2, 3, 0, 1));
        b = _mm_shufflehi_epi16(_mm_shufflelo_epi16(b, _MM_SHUFFLE(2, 3, 0, 1)),
                                _MM_SHUFFLE(2, 3, 0, 1));
        _mm_storeu_si128((__m128i *)(void *)(dst + 4 * k), a);
        _mm_storeu_si128((__m128i *)(void *)(dst + 4 * k + 16), b);
    }
    return k;
}

#endif /* __SSE2__ */

#endif
