/*
 * QUIC image codec (see quic.h for the stream layout and the API contract).
 *
 * DESIGN
 * QUIC (derived from SFALIC) codes each colour plane as prediction residuals
 * with adaptive Golomb-Rice codes. For every sample:
 *   - the prediction is the left neighbour on row 0, the sample above for
 *     column 0, and (left + above) / 2 elsewhere; the residual, taken modulo
 *     2^bpc, is folded to an unsigned value (0, -1, 1, -2, ... -> 0, 1, 2, ...);
 *   - the context is the folded residual last coded in the column to the
 *     left; contexts are grouped in buckets of sizes 1, 2, 4, ...; each bucket
 *     keeps, per code number l < bpc, the running cost of coding its values
 *     with code l, and the cheapest code codes the next sample of the bucket;
 *   - the statistics are not updated after every sample: a pseudo-random
 *     countdown (a fixed table, so the stream is deterministic) picks the
 *     samples, and its range grows every 2048 pixels up to 2^6;
 *   - on rows after the first, when the two pixels above-left and above are
 *     equal and the two pixels to the left are equal, the coder switches to
 *     run mode and codes how many following pixels repeat the left pixel,
 *     with an adaptive (MELCODE-style) run length code.
 * The RGB planes of a pixel share the countdown and the run state and are
 * coded interleaved R, G, B; the alpha plane of RGBA is a separate group,
 * coded row by row after the RGB row.
 *
 * The reference interleaves prediction and coding through per-pixel template
 * macros. Here the encoder first computes all residuals of a row in SIMD row
 * passes (they depend on pixels only; RGB32 rows in one fused pass straight
 * from the source pixels, other formats through byte planes), and a serial
 * loop does only table lookups and bit packing. The context of a sample
 * after a run is the residual coded in that column on some earlier row, so
 * each plane keeps a persistent "last coded residual" row that run pixels do
 * not overwrite. Each plane also keeps its bucket's best code per context
 * value (ctx_tab for the encoder, ctx_lp for the decoder), refreshed when a
 * bucket's best code changes.
 *
 * The RGB32 row pass also leaves out the residuals of sixteen-pixel blocks
 * that only a run can cover (see quic_simd_rgb32_row_bits), and run lengths are
 * split into their one bits by a binary search over a prefix-sum table
 * (put_run) instead of a loop that mispredicts at its end.
 * With SSE2 the RGB32 coder keeps the equal-to-left flags (this row and the
 * row above) and the run candidates as bitmaps, 64 pixels a word (see
 * rgb32_row_bits): the serial loop finds the next candidate and the end of
 * a run with one count-trailing-zeros per word; other formats and the
 * portable path keep them as byte rows. That coder is also compiled for
 * BMI2 and picked at run time, like the row decoders, and so is an AVX2
 * copy of its row pass (quic_avx2_rgb32_row_bits). Its serial loop
 * alternates runs and stretches of coded pixels (each stretch ends at the
 * next run candidate); a stretch without a model update has no countdown
 * test per pixel, and a pixel's three codeword entries go to the bit writer
 * with their lengths as the shift counts (see bitw_add_entry, bitw_emit).
 *
 * The decoder reads a byte-swapped copy of the input through a 64-bit
 * register buffer (see "bit reader"), decodes a Golomb codeword by counting
 * leading zeros, and keeps the RGB planes of a row as pixel words (B, G, R,
 * 0) that are at once the predictions' operands (SWAR), the run keys and the
 * RGB32 output; one table lookup per sample gives both its residual in the
 * pixel word and its folded value in the row of last residuals; the model
 * update countdown and the segment end are one loop bound (see
 * decode_rgb_group_row). On x86-64 its row functions are compiled twice and
 * the lzcnt + BMI2 copy is picked at run time. The row loops are register
 * bound: their comments say which choices keep values out of the stack.
 *
 * INVARIANTS
 * - Bit I/O: the writer keeps < 32 pending bits between calls and each call
 *   adds <= 26; the reader has >= 26 valid bits before each codeword.
 * - The decoder uses only whole input words below in_len / 4 (the copy is
 *   zero-padded by one row's worth) and, like the reference, requires the
 *   stream to extend 32 bits past its last used bit; past the end it reads
 *   zeros and fails at the next row boundary.
 * - Every decoded value is masked to bpc bits before it indexes a table.
 */
#include "codec/quic.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "codec/quic_simd.h"

/* x86-64 builds also compile the row decoders for lzcnt + BMI2 (see
 * QUIC_ROW_DECODERS) and pick them at run time. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <stdatomic.h>
#define QUIC_HAVE_FAST_ROWS 1
#define QUIC_FAST_ATTR      __attribute__((target("lzcnt,bmi,bmi2")))
#else
#define QUIC_HAVE_FAST_ROWS 0
#endif

#define QUIC_MAGIC      0x43495551u
#define QUIC_VERSION    0u

#define QUIC_CODE_LIMIT 26   /* longest codeword in bits */
#define QUIC_WM_LAST    6    /* last wait mask index */
#define QUIC_WM_PIXELS  2048 /* pixels coded with each wait mask before the next */
#define QUIC_RUN_STATES 32
#define QUIC_MAX_CODES  8
#define QUIC_CTX_BYTES  512 /* one quic_model.ctx_lp table */
#define QUIC_CTX_GAP    16  /* bytes between the last ctx_lp table and rgb.corr4 */

/* The hot loops rely on these helpers being inlined into each specialised
 * row function; plain `inline` leaves that to heuristics that give up on the
 * large bodies here. */
#if defined(__GNUC__)
#define QUIC_INLINE      static inline __attribute__((always_inline))
#define QUIC_LIKELY(x)   __builtin_expect(!!(x), 1)
#define QUIC_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* Makes the compiler forget what it knows of x's value. */
#define QUIC_OPAQUE(x) __asm__("" : "+r"(x))
#else
#define QUIC_INLINE      static inline
#define QUIC_LIKELY(x)   (x)
#define QUIC_UNLIKELY(x) (x)
#define QUIC_OPAQUE(x)   (void)0
#endif

/* Low 6 bits of the reference's 256-entry pseudo-random table: the wait
 * mask never exceeds 6 bits, so only these bits reach the stream. */
static const uint8_t quic_rand6[256] = {
        2,  23, 19, 21, 7,  18, 40, 14, 12, 32, 47, 44, 36, 6,  18, 11, 4,  19, 42, 29, 16, 63,
        57, 51, 16, 3,  5,  14, 15, 30, 20, 9,  36, 45, 3,  57, 61, 0,  8,  5,  41, 14, 43, 27,
        43, 59, 31, 35, 39, 60, 42, 38, 13, 54, 62, 1,  26, 3,  11, 61, 52, 34, 7,  48, 4,  59,
        22, 12, 22, 8,  50, 4,  10, 6,  44, 8,  11, 46, 31, 51, 53, 17, 1,  43, 46, 60, 36, 54,
        10, 27, 39, 44, 22, 41, 23, 2,  44, 0,  40, 53, 40, 48, 16, 43, 32, 28, 33, 12, 20, 2,
        56, 62, 55, 58, 18, 20, 13, 55, 38, 29, 57, 19, 49, 33, 47, 63, 59, 0,  35, 61, 19, 25,
        46, 38, 60, 4,  35, 1,  26, 40, 28, 10, 5,  14, 25, 18, 48, 49, 20, 59, 62, 34, 46, 7,
        33, 52, 34, 58, 9,  29, 8,  55, 62, 60, 37, 36, 37, 50, 6,  3,  10, 28, 48, 24, 26, 61,
        57, 30, 11, 54, 2,  6,  50, 47, 7,  17, 35, 53, 32, 12, 23, 17, 5,  21, 49, 55, 51, 45,
        52, 27, 39, 25, 39, 63, 22, 24, 42, 52, 56, 38, 41, 41, 56, 32, 13, 24, 26, 51, 27, 56,
        58, 37, 24, 42, 15, 28, 17, 30, 31, 15, 16, 23, 25, 54, 33, 34, 1,  29, 31, 50, 53, 21,
        49, 15, 47, 9,  0,  58, 37, 45, 30, 13, 9,  45, 63, 21,
};

/* Counter halving threshold per wait mask index (model evolution 3). */
static const uint16_t quic_wm_trigger[QUIC_WM_LAST + 1] = {110, 550, 900, 800, 550, 400, 350};

/* log2 of the expected run length for each run coder state. */
static const uint8_t quic_run_log2[QUIC_RUN_STATES] = {
        0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,  2,  3,  3,  3,  3,
        4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15,
};

/* Golomb-Rice code family for one sample depth (5 or 8 bits). Code l codes
 * a value n < esc_base[l] as n >> l zeros, a one and the l low bits of n;
 * larger values get gr_prefix[l] zeros and esc_bits[l] bits of
 * n - esc_base[l], which caps every codeword at QUIC_CODE_LIMIT bits. */
struct quic_family {
    unsigned bpc;
    unsigned mask;
    unsigned nbuckets;
    uint8_t bucket_of[256];
    uint8_t bucket_lo[QUIC_MAX_CODES];
    uint8_t bucket_hi[QUIC_MAX_CODES];
    uint8_t gr_prefix[QUIC_MAX_CODES];
    uint8_t esc_len[QUIC_MAX_CODES];
    uint8_t esc_bits[QUIC_MAX_CODES];
    uint16_t esc_base[QUIC_MAX_CODES];
    uint32_t code[QUIC_MAX_CODES][256];    /* (codeword << 8) | length, by code then value */
    uint8_t lens[256][QUIC_MAX_CODES];     /* codeword length, by value then code (0: no code) */
    uint16_t unused_codes[QUIC_MAX_CODES]; /* 0x7fff for codes >= bpc, else 0 */
};

/* Adaptive statistics of one plane. */
struct quic_model {
    /* [bucket][code]: coding cost. 16 bits suffice: they are halved once
     * the smallest exceeds the trigger (<= 900), and no codeword is more
     * than 26 times longer than another for the same value, so none
     * exceeds 26 * (900 + 26). */
    uint16_t counters[QUIC_MAX_CODES][QUIC_MAX_CODES];
    uint8_t best[QUIC_MAX_CODES]; /* [bucket]: cheapest code */
    /* Decoder: l, gr_prefix[l] with l = best[bucket_of[ctx]]; 256 entries
     * in the coder's memory (see coder_init: the RGB planes' tables are
     * at fixed distances before rgb.corr4). */
    uint8_t (*ctx_lp)[2];
    const uint32_t *ctx_tab[256]; /* encoder: code[ctx_code[ctx]] */
};

/* Update schedule and run coder state, shared by the planes of a group. */
struct quic_state {
    unsigned countdown; /* coded pixels left before the next model update */
    unsigned seed;
    unsigned wmidx;
    unsigned wmileft; /* pixels left with this wait mask (while wmidx < last) */
    unsigned waitmask;
    unsigned trigger;
    unsigned run_state;
    unsigned run_log2;
};

struct quic_plane {
    struct quic_model model;
    uint8_t *cur, *prev; /* sample values of this row and the row above */
    uint8_t *res;        /* encoder: folded residuals of this row */
    uint8_t *corr;       /* last residual coded per column; corr[-1] is valid */
};

/* Planes coded together: R, G, B (3) or gray / alpha (1). */
struct quic_group {
    struct quic_state st;
    unsigned nch;
    struct quic_plane *pl[3];
    uint32_t *kcur, *kprev; /* per-pixel keys, equal iff the pixels are equal */
    uint8_t *cand;          /* up_candidates() (decoder) or run_candidates() (encoder) */
    uint8_t *eq, *eqprev;   /* encoder: key_steps() of this row and the row above */
    uint8_t *res4, *corr4;  /* encoder, RGB: interleaved res and corr (see encode_group_row) */
    /* Encoder, RGB32 with SIMD: eq, eqprev and cand as bitmaps (bit i % 64
     * of word i / 64), bm_words words each. */
    uint64_t *eqb, *eqbprev, *candb;
    unsigned bm_words;
};

/* Words go to a staging buffer large enough for one group row, which is
 * copied to the caller's buffer after each row; so the hot loop stores every
 * word unconditionally and checks the capacity once per row. */
struct quic_bitw {
    uint64_t acc; /* pending bits in the low nb32 + 32 bits (higher bits are stale) */
    /* pending bits - 32: in [-32, 0) between calls (see bitw_emit); as
     * wide as a pointer, since its sign moves sp */
    ptrdiff_t nb32;
    uint8_t *stage;
    uint8_t *sp; /* next word of the stage (a pointer: one register in the row loop) */
    int full;    /* a row did not fit: the output is unusable */
    uint8_t *out;
    size_t pos, cap;
};

struct quic_coder {
    struct quic_family fam;
    struct quic_plane planes[4];
    struct quic_group rgb, alpha;
    uint32_t width, height;
    enum quic_image_type type;
    uint8_t *stage; /* encoder: bitw staging, stage_bytes long */
    void *mem;
};

#ifndef QUIC_HAVE_SSE2
#define QUIC_HAVE_SSE2 0
#endif
#ifndef QUIC_HAVE_AVX2
#define QUIC_HAVE_AVX2 0
#endif

#if !QUIC_HAVE_SSE2
/* Never called: only the SSE2 coder keeps its flags as bitmaps. */
static inline int quic_bits_next(const uint64_t *b, uint64_t inv, int i, int end)
{
    (void)b;
    (void)inv;
    (void)i;
    return end;
}
#endif

/* Whether the SSE2 row kernels run: 0 no, 2 only they, 1 they and the
 * BMI2 and AVX2 row functions (see quic_simd_set). */
static int quic_simd_on = 1;

void quic_simd_set(int enabled)
{
    quic_simd_on = enabled == 2 ? 2 : enabled != 0;
}

static void set_err(const char **err_desc, const char *msg)
{
    if (err_desc) {
        *err_desc = msg;
    }
}

/* Little-endian word access; on little-endian hosts a plain (unaligned)
 * memcpy, which compilers turn into one load or store. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
QUIC_INLINE uint32_t load_le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

QUIC_INLINE void store_le32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
#else
QUIC_INLINE uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

QUIC_INLINE void store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
#endif

static unsigned ceil_log2(unsigned v)
{
    unsigned r = 0;
    while ((1u << r) < v) {
        r++;
    }
    return r;
}

static void family_init(struct quic_family *f, unsigned bpc)
{
    memset(f, 0, sizeof(*f));
    f->bpc = bpc;
    f->mask = (1u << bpc) - 1;
    for (unsigned l = bpc; l < QUIC_MAX_CODES; l++) {
        f->unused_codes[l] = 0x7fff;
    }
    unsigned levels = 1u << bpc;

    for (unsigned l = 0; l < bpc; l++) {
        unsigned prefix = QUIC_CODE_LIMIT - bpc;
        if (prefix > (1u << (bpc - l)) - 1) {
            prefix = (1u << (bpc - l)) - 1;
        }
        unsigned base = prefix << l;
        f->gr_prefix[l] = (uint8_t)prefix;
        f->esc_base[l] = (uint16_t)base;
        f->esc_bits[l] = (uint8_t)ceil_log2(levels - base);
        f->esc_len[l] = (uint8_t)(prefix + f->esc_bits[l]);
        for (unsigned n = 0; n < levels; n++) {
            unsigned bits, len;
            if (n < base) {
                bits = (1u << l) | (n & ((1u << l) - 1));
                len = (n >> l) + l + 1;
            } else {
                bits = n - base;
                len = f->esc_len[l];
            }
            f->code[l][n] = (bits << 8) | len;
            f->lens[n][l] = (uint8_t)len;
        }
    }

    /* Buckets of 1, 2, 4, ... contexts; a bucket that would leave a tail
     * smaller than its own size absorbs the tail. */
    unsigned start = 0, size = 1, b = 0;
    for (;;) {
        unsigned end = start + size - 1;
        if (end + size >= levels) {
            end = levels - 1;
        }
        f->bucket_lo[b] = (uint8_t)start;
        f->bucket_hi[b] = (uint8_t)end;
        for (unsigned v = start; v <= end; v++) {
            f->bucket_of[v] = (uint8_t)b;
        }
        b++;
        if (end == levels - 1) {
            break;
        }
        start = end + 1;
        size *= 2;
    }
    f->nbuckets = b;
}

static void state_set_wm(struct quic_state *st)
{
    st->waitmask = (1u << st->wmidx) - 1;
    st->trigger = quic_wm_trigger[st->wmidx];
}

static void group_reset(struct quic_group *g, const struct quic_family *f)
{
    struct quic_state *st = &g->st;
    st->countdown = 0;
    st->seed = 0xff;
    st->wmidx = 0;
    st->wmileft = QUIC_WM_PIXELS;
    state_set_wm(st);
    st->run_state = 0;
    st->run_log2 = quic_run_log2[0];
    for (unsigned c = 0; c < g->nch; c++) {
        struct quic_model *m = &g->pl[c]->model;
        memset(m->counters, 0, sizeof(m->counters));
        memset(m->best, (int)(f->bpc - 1), sizeof(m->best));
        unsigned l = f->bpc - 1;
        for (unsigned v = 0; v < 256; v++) {
            m->ctx_tab[v] = f->code[l];
            m->ctx_lp[v][0] = (uint8_t)l;
            m->ctx_lp[v][1] = f->gr_prefix[l];
        }
    }
}

/* Which best-code tables model_update_inl refreshes: the encoder reads only
 * ctx_tab, the decoder only ctx_lp. */
#define QUIC_TAB_ENC 1
#define QUIC_TAB_DEC 2

/* Adds the cost of coding `v` with each code to the bucket's counters and
 * picks the cheapest (ties go to the longer code), halving the counters once
 * the best exceeds the trigger. */
QUIC_INLINE void model_update_inl(struct quic_model *m, const struct quic_family *f, unsigned ctx,
                                  unsigned v, unsigned trigger, int tabs)
{
    unsigned bucket = f->bucket_of[ctx];
    uint16_t *cnt = m->counters[bucket];
    const uint8_t *lens = f->lens[v];
    unsigned best;
    unsigned bestlen;
#if QUIC_HAVE_SSE2
    if (quic_simd_on) {
        best = quic_simd_model_update(cnt, lens, f->unused_codes, trigger, &bestlen);
    } else
#endif
    {
        best = f->bpc - 1;
        bestlen = (cnt[best] = (uint16_t)(cnt[best] + lens[best]));
        for (unsigned l = best; l-- > 0;) {
            unsigned x = (cnt[l] = (uint16_t)(cnt[l] + lens[l]));
            if (x < bestlen) {
                best = l;
                bestlen = x;
            }
        }
        if (bestlen > trigger) {
            for (unsigned l = 0; l < f->bpc; l++) {
                cnt[l] >>= 1;
            }
        }
    }
    if (best != m->best[bucket]) {
        m->best[bucket] = (uint8_t)best;
        unsigned lo = f->bucket_lo[bucket], hi = f->bucket_hi[bucket];
        if (tabs & QUIC_TAB_ENC) {
            for (unsigned x = lo; x <= hi; x++) {
                m->ctx_tab[x] = f->code[best];
            }
        }
        if (tabs & QUIC_TAB_DEC) {
            for (unsigned x = lo; x <= hi; x++) {
                m->ctx_lp[x][0] = (uint8_t)best;
                m->ctx_lp[x][1] = f->gr_prefix[best];
            }
        }
    }
}

/* model_update_inl out of line, for the loops that update rarely enough; the
 * RGB row decoder inlines it: a call there would force most of the loop's
 * values into the few registers a call preserves. */
static void model_update(struct quic_model *m, const struct quic_family *f, unsigned ctx,
                         unsigned v, unsigned trigger)
{
    model_update_inl(m, f, ctx, v, trigger, QUIC_TAB_DEC);
}

/* The encoder's model update of a pixel's planes: plane c's context is
 * cp[oc - S] and its value cp[oc] (see encode_group_row). Inlined: out of
 * line, the call and its register saves cost more than the few spills it
 * adds around the coded-pixel loop (-1.7% instructions on xscreen, -2.6%
 * on desktop). */
QUIC_INLINE void model_update_enc(struct quic_plane *P, const struct quic_family *f,
                                  const uint8_t *cp, int S, unsigned nch, int o0, int o1, int o2,
                                  unsigned trigger)
{
    model_update_inl(&P[0].model, f, cp[o0 - S], cp[o0], trigger, QUIC_TAB_ENC);
    if (nch == 3) {
        model_update_inl(&P[1].model, f, cp[o1 - S], cp[o1], trigger, QUIC_TAB_ENC);
        model_update_inl(&P[2].model, f, cp[o2 - S], cp[o2], trigger, QUIC_TAB_ENC);
    }
}

/* Splits the row [pos, width) where the wait mask changes: returns the end
 * of the segment that starts at pos and sets *bump when the schedule must
 * move to the next wait mask after it. */
QUIC_INLINE unsigned segment_end(struct quic_state *st, unsigned pos, unsigned width, int *bump)
{
    *bump = 0;
    if (st->wmidx >= QUIC_WM_LAST) {
        return width;
    }
    if (st->wmileft > width - pos) {
        st->wmileft -= width - pos;
        return width;
    }
    *bump = 1;
    return pos + st->wmileft;
}

static void segment_bump(struct quic_state *st)
{
    st->wmidx++;
    st->wmileft = QUIC_WM_PIXELS;
    state_set_wm(st);
}

/* ---- bit writer ---- */

/* Appends `bits` (< 2^len) as `len` bits, MSB first; the caller keeps
 * the pending bits + len <= 63 and calls bitw_emit() before they can reach
 * 32 twice. */
QUIC_INLINE void bitw_add(struct quic_bitw *w, uint32_t bits, unsigned len)
{
    w->acc = (w->acc << len) | bits;
    w->nb32 += (ptrdiff_t)len;
}

/* bitw_add of a codeword entry (bits << 8) | len (struct quic_family code):
 * the shift count is the whole entry, which x86 (and the C below, by the
 * mask) reduces mod 64 to len, so the length needs no extraction. */
QUIC_INLINE void bitw_add_entry(struct quic_bitw *w, uint32_t e)
{
    w->acc = (w->acc << (e & 63)) | (e >> 8);
}

/* Moves a completed word, if any, to the stage. The store happens either
 * way (a partial word is overwritten by the next emit), which saves a
 * branch that no predictor could guess. */
QUIC_INLINE void bitw_emit(struct quic_bitw *w)
{
    ptrdiff_t n = w->nb32; /* < 32; >= 0 when a word is complete */
    store_le32(w->sp, (uint32_t)(w->acc >> (n & 63)));
    /* Counting the pending bits from 32 makes the shift count, the
     * completion test (the sign: >> is arithmetic on the compilers that
     * build this) and the new count one operation each. */
    w->sp += 4 + 4 * (n >> (sizeof(n) * CHAR_BIT - 1));
    w->nb32 = n | -32; /* n - 32 when n >= 0 */
}

/* Appends the low `len` (1..32) bits of `bits`, MSB first. */
QUIC_INLINE void bitw_put(struct quic_bitw *w, uint32_t bits, unsigned len)
{
    bitw_add(w, bits, len);
    bitw_emit(w);
}

static void bitw_flush_stage(struct quic_bitw *w)
{
    size_t len = (size_t)(w->sp - w->stage);
    if (w->cap - w->pos >= len) {
        memcpy(w->out + w->pos, w->stage, len);
        w->pos += len;
    } else {
        w->full = 1;
    }
    w->sp = w->stage;
}

static void bitw_put32(struct quic_bitw *w, uint32_t word)
{
    bitw_put(w, word >> 16, 16);
    bitw_put(w, word & 0xffff, 16);
}

/* quic_run_cum[s]: the pixels that one bits read in states 0 .. s - 1
 * stand for (2^quic_run_log2 of each state), so k ones from state s stand
 * for quic_run_cum[s + k] - quic_run_cum[s] while s + k stays below the
 * last state, which then repeats with 2^15 each. */
static const uint32_t quic_run_cum[QUIC_RUN_STATES] = {
        0,  1,  2,  3,   4,   6,   8,   10,  12,  16,  20,   24,   28,   36,   44,    52,
        60, 76, 92, 124, 156, 220, 284, 412, 540, 796, 1308, 2332, 4380, 8476, 16668, 33052};

/* quic_run_after[t] for t < 256: the last state s with quic_run_cum[s] <= t
 * (what put_run's binary search finds), which is where t pixels counted
 * from state 0 leave the run coder. Most runs end below 256 that way. */
static const uint8_t quic_run_after[256] = {
        0,  1,  2,  3,  4,  4,  5,  5,  6,  6,  7,  7,  8,  8,  8,  8,  9,  9,  9,  9,  10, 10,
        10, 10, 11, 11, 11, 11, 12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13,
        14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15, 16, 16, 16, 16, 16, 16,
        16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17,
        17, 17, 17, 17, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18,
        18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19, 19,
        19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19,
        19, 19, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
        20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
        20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
        21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21,
        21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21,
};

/* Run length: one 1 bit per whole expected run (2^run_log2 pixels, the
 * expectation growing with each), then the remainder in run_log2 + 1 bits
 * (its top bit, 0, ends the ones); the expectation then shrinks one step.
 * The number of ones comes from quic_run_after, or for long runs from
 * quic_run_cum by a branch-free binary search (a loop over them mispredicts
 * at its variable end). *state is the run coder state (struct quic_state
 * run_state; only the decoder keeps run_log2). */
QUIC_INLINE void put_run(unsigned *state, struct quic_bitw *w, unsigned len)
{
    unsigned s0 = *state;
    uint32_t t = len + quic_run_cum[s0];
    unsigned s; /* the state after the ones */
    if (QUIC_LIKELY(t < 256)) {
        s = quic_run_after[t];
    } else {
        /* m = how many quic_run_cum entries are <= t (at least s0 + 1). */
        unsigned m = quic_run_cum[15] <= t ? 16 : 0;
        m += quic_run_cum[m + 7] <= t ? 8 : 0;
        m += quic_run_cum[m + 3] <= t ? 4 : 0;
        m += quic_run_cum[m + 1] <= t ? 2 : 0;
        m += quic_run_cum[m] <= t ? 1 : 0;
        m += quic_run_cum[QUIC_RUN_STATES - 1] <= t ? 1 : 0;
        s = m - 1;
    }
    unsigned hits = s - s0;
    uint32_t rem = t - quic_run_cum[s];
    if (QUIC_UNLIKELY(s == QUIC_RUN_STATES - 1)) {
        hits += rem >> 15;
        rem &= 0x7fff;
    }
    unsigned log2 = quic_run_log2[s];
    if (QUIC_LIKELY(hits < 16)) {
        bitw_put(w, (((1u << hits) - 1) << (log2 + 1)) | rem, hits + log2 + 1);
    } else {
        for (; hits >= 16; hits -= 16) {
            bitw_put(w, 0xffff, 16);
        }
        bitw_put(w, (1u << hits) - 1, hits);
        bitw_put(w, rem, log2 + 1);
    }
    *state = s ? s - 1 : 0;
}

/* ---- encoder ---- */

/* Folds a residual taken mod 2^bpc (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...)
 * without a branch: negative residuals have the top bit set, and for them
 * 2 * (mask - d) + 1 equals (2 * d) ^ (2 * mask + 1). */
QUIC_INLINE unsigned fold(unsigned d, unsigned bpc)
{
    unsigned mask = (1u << bpc) - 1;
    return ((d << 1) ^ ((0u - (d >> (bpc - 1))) & (2 * mask + 1))) & mask;
}

/* Folded residuals of a row; loops without branches the compiler can
 * vectorise. */
QUIC_INLINE void fold_row0(uint8_t *restrict res, const uint8_t *restrict cur, unsigned width,
                           unsigned bpc)
{
    unsigned mask = (1u << bpc) - 1;
    res[0] = (uint8_t)fold(cur[0] & mask, bpc);
    unsigned i = 1;
#if QUIC_HAVE_SSE2
    if (quic_simd_on) {
        i = quic_simd_fold_row0(res, cur, width, bpc);
    }
#endif
    for (; i < width; i++) {
        res[i] = (uint8_t)fold(((unsigned)cur[i] - cur[i - 1]) & mask, bpc);
    }
}

QUIC_INLINE void fold_row(uint8_t *restrict res, const uint8_t *restrict cur,
                          const uint8_t *restrict prev, unsigned width, unsigned bpc)
{
    unsigned mask = (1u << bpc) - 1;
    res[0] = (uint8_t)fold(((unsigned)cur[0] - prev[0]) & mask, bpc);
    unsigned i = 1;
#if QUIC_HAVE_SSE2
    if (quic_simd_on) {
        i = quic_simd_fold_row(res, cur, prev, width, bpc);
    }
#endif
    for (; i < width; i++) {
        unsigned pred = ((unsigned)cur[i - 1] + prev[i]) >> 1;
        res[i] = (uint8_t)fold(((unsigned)cur[i] - pred) & mask, bpc);
    }
}

static void fold_planes(struct quic_plane *p, unsigned width, int first_row, unsigned bpc)
{
    if (bpc == 8) {
        if (first_row) {
            fold_row0(p->res, p->cur, width, 8);
        } else {
            fold_row(p->res, p->cur, p->prev, width, 8);
        }
    } else {
        if (first_row) {
            fold_row0(p->res, p->cur, width, 5);
        } else {
            fold_row(p->res, p->cur, p->prev, width, 5);
        }
    }
}

/* eq[i] = 1 where pixel i equals pixel i - 1 (eq[0] = 0). Pixel i of a row
 * after the first may start a run when eqprev[i] & eq[i - 1] (i > 2). */
static void key_steps(uint8_t *restrict eq, const uint32_t *restrict k, unsigned width)
{
    eq[0] = 0;
    unsigned i = 1;
#if QUIC_HAVE_SSE2
    if (quic_simd_on) {
        i = quic_simd_key_steps(eq, k, width);
    }
#endif
    for (; i < width; i++) {
        eq[i] = (uint8_t)(k[i] == k[i - 1]);
    }
}

/* cand[i] = eqprev[i] & eq[i - 1]: pixel i may start a run (never for
 * i < 3). */
static void run_candidates(uint8_t *restrict cand, const uint8_t *restrict eq,
                           const uint8_t *restrict eqprev, unsigned width)
{
    unsigned n = width < 3 ? width : 3;
    memset(cand, 0, n);
    unsigned i = 3;
#if QUIC_HAVE_SSE2
    if (quic_simd_on) {
        i = quic_simd_run_cand(cand, eq, eqprev, width);
    }
#endif
    for (; i < width; i++) {
        cand[i] = eqprev[i] & eq[i - 1];
    }
}

/* The first j in [i, end) with cand[j] != 0, or end. */
QUIC_INLINE int next_candidate(const uint8_t *cand, int i, int end)
{
#if QUIC_HAVE_SSE2
    if (quic_simd_on) {
        i = quic_simd_next_nonzero(cand, i, end);
    }
#endif
    while (i < end && !cand[i]) {
        i++;
    }
    return i;
}

/* The first j in [i, end) with eq[j] == 0 (pixel j differs from pixel
 * j - 1), or end. */
QUIC_INLINE int run_end(const uint8_t *eq, int i, int end)
{
#if QUIC_HAVE_SSE2
    if (quic_simd_on) {
        i = quic_simd_run_end(eq, i, end);
    }
#endif
    while (i < end && eq[i]) {
        i++;
    }
    return i;
}

/* res4[4 * i + c] = plane c's res[i] (byte 3 is 0). */
static void interleave_rows(uint8_t *restrict res4, const uint8_t *restrict p0,
                            const uint8_t *restrict p1, const uint8_t *restrict p2, unsigned width)
{
    unsigned i = 0;
#if QUIC_HAVE_SSE2
    if (quic_simd_on) {
        /* pack32 writes its `b` argument to byte 0, `g` to 1 and `r` to 2. */
        i = quic_simd_pack32(res4, p2, p1, p0, NULL, width);
    }
#endif
    for (; i < width; i++) {
        res4[4 * i] = p0[i];
        res4[4 * i + 1] = p1[i];
        res4[4 * i + 2] = p2[i];
        res4[4 * i + 3] = 0;
    }
}

/* The row pass of RGB32 images, straight from the source pixels, for the
 * portable coder (the SIMD coder uses rgb32_row_bits): res4[4i + k] =
 * folded residual of byte k (B, G, R) of pixel i, eq[i] = pixel i equals
 * pixel i - 1 (eq[0] = 0). `up` is the source row above, NULL on the first
 * row. Replaces unpack_row, fold_planes, interleave_rows and key_steps for
 * the common format: one pass over the pixels instead of five over planes. */
static void rgb32_row(uint8_t *restrict res4, uint8_t *restrict eq, const uint8_t *restrict src,
                      const uint8_t *restrict up, unsigned width)
{
    for (unsigned k = 0; k < 3; k++) {
        res4[k] = (uint8_t)fold(((unsigned)src[k] - (up ? up[k] : 0)) & 0xff, 8);
    }
    eq[0] = 0;
    for (unsigned i = 1; i < width; i++) {
        for (unsigned k = 0; k < 3; k++) {
            unsigned left = src[4 * i - 4 + k];
            unsigned pred = up ? (left + up[4 * i + k]) >> 1 : left;
            res4[4 * i + k] = (uint8_t)fold(((unsigned)src[4 * i + k] - pred) & 0xff, 8);
        }
        eq[i] = (uint8_t)((load_le32(src + 4 * i) & 0xffffff) ==
                          (load_le32(src + 4 * i - 4) & 0xffffff));
    }
}

#if QUIC_HAVE_FAST_ROWS && QUIC_HAVE_AVX2
static int quic_fast_avx2(void);
#endif

#if QUIC_HAVE_SSE2
/* rgb32_row with the flags as bitmaps (the SIMD path of RGB32 encoding):
 * eqb gets bit i = pixel i equals pixel i - 1, and on rows after the first
 * candb the run candidates (see run_candidates) from eqb and eqbprev, the
 * row above's eqb. The encoder's serial loop then finds run starts and ends
 * 64 pixels per word scan instead of testing bytes. */
static void rgb32_row_bits(struct quic_group *g, const uint8_t *restrict src,
                           const uint8_t *restrict up, unsigned width)
{
    uint8_t *restrict res4 = g->res4;
    uint64_t *restrict eqb = g->eqb;
    unsigned words = (width + 63) / 64;
    unsigned i = 1;
    if (width >= 16) {
#if QUIC_HAVE_FAST_ROWS && QUIC_HAVE_AVX2
        if (quic_fast_avx2()) {
            i = quic_avx2_rgb32_row_bits(res4, eqb, src, up, g->eqbprev, width);
        } else
#endif
        {
            i = quic_simd_rgb32_row_bits(res4, eqb, src, up, g->eqbprev, width);
        }
    }
    /* The SIMD pass stored whole 16-bit fields; the rest of the last word is
     * or-ed below. */
    if (i < width) {
        unsigned sh = i & 63;
        eqb[i >> 6] &= sh ? ~(uint64_t)0 >> (64 - sh) : 0;
    }
    for (; i < width; i++) {
        for (unsigned k = 0; k < 3; k++) {
            unsigned left = src[4 * i - 4 + k];
            unsigned pred = up ? (left + up[4 * i + k]) >> 1 : left;
            res4[4 * i + k] = (uint8_t)fold(((unsigned)src[4 * i + k] - pred) & 0xff, 8);
        }
        uint64_t e = (load_le32(src + 4 * i) & 0xffffff) == (load_le32(src + 4 * i - 4) & 0xffffff);
        eqb[i >> 6] |= e << (i & 63);
    }
    eqb[0] &= ~(uint64_t)1;
    for (unsigned k = 0; k < 3; k++) {
        res4[k] = (uint8_t)fold(((unsigned)src[k] - (up ? up[k] : 0)) & 0xff, 8);
    }
    if (up) {
        quic_bits_candidates(g->candb, eqb, g->eqbprev, words);
        g->candb[0] &= ~(uint64_t)7;
        g->candb[words] = 0;
    }
}
#endif

/* The codeword entry of the sample whose residual is *res, recorded at *corr
 * as the last residual coded in its column (corr[-stride]: the column to
 * the left, the context). Taking the context from the previous pixel's
 * value in a register instead was measured: gcc then spilled the three
 * contexts and copied them each pixel (+9% instructions). */
QUIC_INLINE uint32_t enc_lookup(const struct quic_model *m, uint8_t *corr, const uint8_t *res,
                                int stride)
{
    unsigned v = *res;
    uint32_t e = m->ctx_tab[corr[-stride]][v];
    *corr = (uint8_t)v;
    return e;
}

/* Codes the pixel whose residuals are at rp (plane c's at rp[oc]) and
 * records them at cp (see enc_lookup). A pixel's codewords go to the writer
 * together when they total at most 32 bits, so one emit serves the pixel. */
QUIC_INLINE void enc_pixel(struct quic_plane *P, struct quic_bitw *bw, uint8_t *cp,
                           const uint8_t *rp, int S, unsigned nch, int o0, int o1, int o2)
{
    /* Channels unrolled by hand: gcc keeps a loop over c with its arrays on
     * the stack otherwise. */
    uint32_t e0 = enc_lookup(&P[0].model, cp + o0, rp + o0, S), e1 = 0, e2 = 0;
    if (nch == 3) {
        e1 = enc_lookup(&P[1].model, cp + o1, rp + o1, S);
        e2 = enc_lookup(&P[2].model, cp + o2, rp + o2, S);
    }
    /* The entries' bits are < 2^8 and their lengths <= 26, so the low byte
     * of their sum is the sum of the lengths. */
    unsigned lens = (e0 + e1 + e2) & 0xff;
    if (QUIC_LIKELY(lens <= 32)) {
        bitw_add_entry(bw, e0);
        if (nch == 3) {
            bitw_add_entry(bw, e1);
            bitw_add_entry(bw, e2);
        }
        bw->nb32 += (ptrdiff_t)lens;
        bitw_emit(bw);
    } else {
        bitw_put(bw, e0 >> 8, e0 & 0xff);
        bitw_put(bw, e1 >> 8, e1 & 0xff);
        bitw_put(bw, e2 >> 8, e2 & 0xff);
    }
}

/* up[i] = 1 where the pixels above-left and above pixel i are equal (the
 * decoder's half of run_candidates, known before the row is decoded). */
static void up_candidates(uint8_t *restrict up, const uint32_t *restrict kprev, unsigned width)
{
    unsigned n = width < 3 ? width : 3;
    memset(up, 0, n);
    unsigned i = 3;
#if QUIC_HAVE_SSE2
    if (quic_simd_on) {
        i = quic_simd_up_cand(up, kprev, width);
    }
#endif
    for (; i < width; i++) {
        up[i] = (uint8_t)(kprev[i - 1] == kprev[i]);
    }
}

/* Codes one row of a group. The residuals and run candidates are computed
 * first (row passes); the serial loop keeps the schedule countdown and the
 * bit writer in locals, since stores through the uint8_t rows could alias
 * the structs they live in. */
QUIC_INLINE void encode_group_row(struct quic_group *g, const struct quic_family *f,
                                  struct quic_bitw *w, unsigned width, int first_row, unsigned nch,
                                  const uint8_t *src32, const uint8_t *up32, int bits)
{
    struct quic_state *st = &g->st;
    struct quic_bitw bw = *w;
    const uint8_t *eq = g->eq;
    const uint8_t *cand = g->cand;
    /* Sample c of pixel i is res[S * i + c] and its column's last coded
     * residual corr[S * i + c]: the three planes of RGB are interleaved (S =
     * 4) so that one pointer serves them, and the models are reached from one
     * plane pointer at fixed offsets; with nine pointers gcc spilled some to
     * the stack in the sample loop. */
    const int S = nch == 3 ? 4 : 1;
    struct quic_plane *P = g->pl[0]; /* the group's planes are P[0 .. nch) */
    const uint8_t *res;
    uint8_t *corr;

    /* Byte of plane c in an interleaved pixel: R, G, B at 0, 1, 2, or at 2,
     * 1, 0 when the residuals come straight from BGRX pixels (src32, which
     * `bits` implies: a constant there, so no register holds the offsets). */
    const int bgr = bits || src32;
    const int o0 = bgr ? 2 : 0, o1 = 1, o2 = bgr ? 0 : 2;
    const uint64_t *eqb = g->eqb, *candb = g->candb;
    if (bits) {
#if QUIC_HAVE_SSE2
        rgb32_row_bits(g, src32, first_row ? NULL : up32, width);
#endif
        res = g->res4;
        corr = g->corr4;
    } else if (src32) {
        rgb32_row(g->res4, g->eq, src32, first_row ? NULL : up32, width);
        res = g->res4;
        corr = g->corr4;
    } else {
        for (unsigned c = 0; c < nch; c++) {
            fold_planes(&P[c], width, first_row, f->bpc);
        }
        if (nch == 3) {
            interleave_rows(g->res4, P[0].res, P[1].res, P[2].res, width);
            res = g->res4;
            corr = g->corr4;
        } else {
            res = P[0].res;
            corr = P[0].corr;
        }
        key_steps(g->eq, g->kcur, width);
    }
    for (unsigned c = 0; c < nch; c++) {
        corr[(int)c - S] = first_row ? 0 : corr[c];
    }
    if (!first_row && !bits) {
        run_candidates(g->cand, g->eq, g->eqprev, width);
    }

    unsigned countdown = st->countdown;
    unsigned run_state = st->run_state;
    unsigned pos = 0;
#define QUIC_IS_CAND(j) (bits ? (int)((candb[(j) >> 6] >> ((j)&63)) & 1) : cand[j])
    while (pos < width) {
        int bump;
        int end = (int)segment_end(st, pos, width, &bump);
        const unsigned waitmask = st->waitmask;
        int i = (int)pos;
        /* Runs start at run candidates; the loop alternates between a run
         * and a stretch of coded pixels that ends at the next candidate, so
         * only a run's end needs a candidate test. */
        int run = !first_row && i < end && QUIC_IS_CAND(i);
        for (;;) {
            if (run) {
                int s = i;
                i = bits ? quic_bits_next(eqb, ~(uint64_t)0, i, end) : run_end(eq, i, end);
                put_run(&run_state, &bw, (unsigned)(i - s));
                if (i >= end) {
                    break;
                }
                /* Pixel i differs from its left neighbour. If the run was
                 * not empty and pixel i is a candidate too, it starts an
                 * empty run; either way pixel i is coded next. */
                if (i != s && QUIC_IS_CAND(i)) {
                    put_run(&run_state, &bw, 0);
                }
            }
            /* Pixel i is coded, and so is every pixel up to the next run
             * candidate: no per-pixel run test. */
            int stop = first_row ? end
                       : bits    ? quic_bits_next(candb, 0, i + 1, end)
                                 : next_candidate(cand, i + 1, end);
            /* Pointers rather than an index: with i, gcc kept a copy of
             * it on the stack, updated every pixel. */
            uint8_t *cp = corr + S * i;
            /* The residuals are at cp + rd: one pointer moves (res and corr
             * are parts of the coder's one allocation). */
            const ptrdiff_t rd = res - corr;
            uint8_t *const cstop = corr + S * stop;
            i = stop;
            /* The pixels before the next model update need no countdown
             * test: the update pixel bounds the loop. Most stretches (six
             * pixels on average, the countdown about 30) have none. */
            while (QUIC_UNLIKELY(countdown < (unsigned)(cstop - cp) / (unsigned)S)) {
                uint8_t *const lim = cp + S * (int)countdown;
                for (; cp != lim; cp += S) {
                    enc_pixel(P, &bw, cp, cp + rd, S, nch, o0, o1, o2);
                }
                enc_pixel(P, &bw, cp, cp + rd, S, nch, o0, o1, o2);
                st->seed++;
                countdown = quic_rand6[st->seed & 0xff] & waitmask;
                model_update_enc(P, f, cp, S, nch, o0, o1, o2, st->trigger);
                cp += S;
            }
            countdown -= (unsigned)(cstop - cp) / (unsigned)S;
            for (; cp != cstop; cp += S) {
                enc_pixel(P, &bw, cp, cp + rd, S, nch, o0, o1, o2);
            }
            if (i >= end) {
                break;
            }
            run = 1;
        }
        if (bump) {
            segment_bump(st);
        }
        pos = (unsigned)end;
    }
#undef QUIC_IS_CAND
    st->run_state = run_state;
    st->countdown = countdown;
    *w = bw;
}

#if QUIC_HAVE_FAST_ROWS && QUIC_HAVE_SSE2
static int quic_fast_rows(void);

/* The RGB32 row coder compiled for BMI2 (picked at run time like the row
 * decoders): shlx / shrx take their count in any register, which frees the
 * bit writer's variable shifts from going through %cl. */
QUIC_FAST_ATTR static void encode_rgb32_row_fast(struct quic_coder *q, struct quic_bitw *w,
                                                 int first_row, const uint8_t *src32,
                                                 const uint8_t *up32)
{
    if (first_row) {
        encode_group_row(&q->rgb, &q->fam, w, q->width, 1, 3, src32, NULL, 1);
    } else {
        encode_group_row(&q->rgb, &q->fam, w, q->width, 0, 3, src32, up32, 1);
    }
}
#endif

/* src32 / up32: this and the row above of an RGB32 image (then coded
 * straight from the pixels, see rgb32_row), or NULL. */
static void encode_rgb_row(struct quic_coder *q, struct quic_bitw *w, int first_row,
                           const uint8_t *src32, const uint8_t *up32)
{
#if QUIC_HAVE_SSE2
    if (src32 && quic_simd_on) {
#if QUIC_HAVE_FAST_ROWS
        if (quic_fast_rows()) {
            encode_rgb32_row_fast(q, w, first_row, src32, up32);
            return;
        }
#endif
        if (first_row) {
            encode_group_row(&q->rgb, &q->fam, w, q->width, 1, 3, src32, NULL, 1);
        } else {
            encode_group_row(&q->rgb, &q->fam, w, q->width, 0, 3, src32, up32, 1);
        }
        return;
    }
#endif
    if (src32) {
        if (first_row) {
            encode_group_row(&q->rgb, &q->fam, w, q->width, 1, 3, src32, NULL, 0);
        } else {
            encode_group_row(&q->rgb, &q->fam, w, q->width, 0, 3, src32, up32, 0);
        }
    } else if (first_row) {
        encode_group_row(&q->rgb, &q->fam, w, q->width, 1, 3, NULL, NULL, 0);
    } else {
        encode_group_row(&q->rgb, &q->fam, w, q->width, 0, 3, NULL, NULL, 0);
    }
}

static void encode_one_row(struct quic_coder *q, struct quic_group *g, struct quic_bitw *w,
                           int first_row)
{
    if (first_row) {
        encode_group_row(g, &q->fam, w, q->width, 1, 1, NULL, NULL, 0);
    } else {
        encode_group_row(g, &q->fam, w, q->width, 0, 1, NULL, NULL, 0);
    }
}

/* Unpacks one source row into the planes and pixel keys of the groups. */
static void unpack_row(struct quic_coder *q, const uint8_t *restrict src)
{
    unsigned width = q->width;
    uint8_t *restrict r = q->planes[0].cur;
    uint8_t *restrict g = q->planes[1].cur;
    uint8_t *restrict b = q->planes[2].cur;
    uint32_t *restrict key = q->rgb.kcur;

    unsigned i0 = 0;
    switch (q->type) {
    case QUIC_IMAGE_TYPE_RGB32:
#if QUIC_HAVE_SSE2
        if (quic_simd_on) {
            i0 = quic_simd_unpack32(src, width, r, g, b, NULL, key);
        }
#endif
        for (unsigned i = i0; i < width; i++) {
            b[i] = src[4 * i];
            g[i] = src[4 * i + 1];
            r[i] = src[4 * i + 2];
            key[i] = load_le32(src + 4 * i) & 0xffffff;
        }
        break;
    case QUIC_IMAGE_TYPE_RGBA: {
        uint8_t *restrict a = q->planes[3].cur;
        uint32_t *restrict akey = q->alpha.kcur;
#if QUIC_HAVE_SSE2
        if (quic_simd_on) {
            i0 = quic_simd_unpack32(src, width, r, g, b, a, key);
            for (unsigned i = 0; i < i0; i++) {
                akey[i] = a[i];
            }
        }
#endif
        for (unsigned i = i0; i < width; i++) {
            b[i] = src[4 * i];
            g[i] = src[4 * i + 1];
            r[i] = src[4 * i + 2];
            a[i] = src[4 * i + 3];
            key[i] = load_le32(src + 4 * i) & 0xffffff;
            akey[i] = src[4 * i + 3];
        }
        break;
    }
    case QUIC_IMAGE_TYPE_RGB24:
        for (unsigned i = 0; i < width; i++) {
            b[i] = src[3 * i];
            g[i] = src[3 * i + 1];
            r[i] = src[3 * i + 2];
            key[i] = (uint32_t)src[3 * i] | ((uint32_t)src[3 * i + 1] << 8) |
                     ((uint32_t)src[3 * i + 2] << 16);
        }
        break;
    case QUIC_IMAGE_TYPE_RGB16:
        for (unsigned i = 0; i < width; i++) {
            unsigned v = (unsigned)src[2 * i] | ((unsigned)src[2 * i + 1] << 8);
            r[i] = (uint8_t)((v >> 10) & 0x1f);
            g[i] = (uint8_t)((v >> 5) & 0x1f);
            b[i] = (uint8_t)(v & 0x1f);
            key[i] = v & 0x7fff;
        }
        break;
    case QUIC_IMAGE_TYPE_GRAY: {
        uint8_t *restrict a = q->planes[0].cur;
        uint32_t *restrict akey = q->alpha.kcur;
        for (unsigned i = 0; i < width; i++) {
            a[i] = src[i];
            akey[i] = src[i];
        }
        break;
    }
    default:
        break;
    }
}

/* ---- coder setup ---- */

static void swap_rows(struct quic_coder *q)
{
    for (unsigned c = 0; c < 4; c++) {
        uint8_t *t = q->planes[c].cur;
        q->planes[c].cur = q->planes[c].prev;
        q->planes[c].prev = t;
    }
    uint32_t *t = q->rgb.kcur;
    q->rgb.kcur = q->rgb.kprev;
    q->rgb.kprev = t;
    t = q->alpha.kcur;
    q->alpha.kcur = q->alpha.kprev;
    q->alpha.kprev = t;
    uint8_t *e = q->rgb.eq;
    q->rgb.eq = q->rgb.eqprev;
    q->rgb.eqprev = e;
    e = q->alpha.eq;
    q->alpha.eq = q->alpha.eqprev;
    q->alpha.eqprev = e;
    uint64_t *b = q->rgb.eqb;
    q->rgb.eqb = q->rgb.eqbprev;
    q->rgb.eqbprev = b;
}

static unsigned type_bpc(enum quic_image_type type)
{
    return type == QUIC_IMAGE_TYPE_RGB16 ? 5 : 8;
}

/* Allocates the row buffers and resets the models for `type` and `width`.
 * The gray plane of GRAY images is coded by the `alpha` group (plane 0 of
 * the group is planes[0] then). */
static int coder_init(struct quic_coder *q, enum quic_image_type type, uint32_t width,
                      uint32_t height)
{
    q->type = type;
    q->width = width;
    q->height = height;
    family_init(&q->fam, type_bpc(type));

    /* Per plane: cur, prev, res (width each) and corr (width + 1, padded);
     * per group: two key rows. */
    size_t wpad = ((size_t)width + 32) & ~(size_t)15; /* >= width + 17: see fill_run */
    size_t plane_bytes = 4 * wpad;
    /* Key rows, after 4 spare keys: the decoder reads keys [-2] and [-1]. */
    size_t keys_bytes = (4 * wpad + 4) * sizeof(uint32_t);
    size_t stage_bytes = (wpad * (QUIC_CODE_LIMIT * 3 + 17) / 8 + 64) & ~(size_t)15;
    /* res4, 16 bytes, the planes' ctx_lp tables, QUIC_CTX_GAP bytes (corr4
     * uses the 4 before it), corr4 */
    size_t il_bytes = 8 * wpad + 16 + 4 * QUIC_CTX_BYTES + QUIC_CTX_GAP;
    /* rgb.eqb, eqbprev, candb: a word past the last pixel's (see quic_bits_next) */
    size_t bm_words = wpad / 64 + 2;
    size_t total = 4 * plane_bytes + keys_bytes + stage_bytes + 6 * wpad + il_bytes +
                   3 * bm_words * sizeof(uint64_t);
    uint8_t *mem = malloc(total);
    if (!mem) {
        return CLOVE_E_NOMEM;
    }
    memset(mem, 0, total);
    q->mem = mem;
    for (unsigned c = 0; c < 4; c++) {
        uint8_t *base = mem + c * plane_bytes;
        q->planes[c].cur = base;
        q->planes[c].prev = base + wpad;
        q->planes[c].res = base + 2 * wpad;
        q->planes[c].corr = base + 3 * wpad + 1;
    }
    uint32_t *keys = (uint32_t *)(void *)(mem + 4 * plane_bytes) + 4;
    q->rgb.kcur = keys;
    q->rgb.kprev = keys + wpad;
    q->alpha.kcur = keys + 2 * wpad;
    q->alpha.kprev = keys + 3 * wpad;
    q->stage = mem + 4 * plane_bytes + keys_bytes;
    q->rgb.cand = q->stage + stage_bytes;
    q->alpha.cand = q->rgb.cand + wpad;
    q->rgb.eq = q->alpha.cand + wpad;
    q->rgb.eqprev = q->rgb.eq + wpad;
    q->alpha.eq = q->rgb.eqprev + wpad;
    q->alpha.eqprev = q->alpha.eq + wpad;
    q->rgb.res4 = q->alpha.eqprev + wpad;
    uint8_t *ctx = q->rgb.res4 + 4 * wpad + 16;
    for (unsigned c = 0; c < 4; c++) {
        q->planes[c].model.ctx_lp = (uint8_t(*)[2])(void *)(ctx + c * QUIC_CTX_BYTES);
    }
    q->rgb.corr4 = ctx + 4 * QUIC_CTX_BYTES + QUIC_CTX_GAP;
    /* 16-byte aligned: every size above is a multiple of 16. */
    q->rgb.eqb = (uint64_t *)(void *)(q->rgb.corr4 + 4 * wpad);
    q->rgb.eqbprev = q->rgb.eqb + bm_words;
    q->rgb.candb = q->rgb.eqbprev + bm_words;
    q->rgb.bm_words = (unsigned)bm_words;

    q->rgb.nch = 3;
    q->rgb.pl[0] = &q->planes[0];
    q->rgb.pl[1] = &q->planes[1];
    q->rgb.pl[2] = &q->planes[2];
    q->alpha.nch = 1;
    q->alpha.pl[0] = type == QUIC_IMAGE_TYPE_GRAY ? &q->planes[0] : &q->planes[3];
    q->alpha.pl[1] = q->alpha.pl[2] = NULL;
    group_reset(&q->rgb, &q->fam);
    group_reset(&q->alpha, &q->fam);
    return 0;
}

static void coder_finish(struct quic_coder *q)
{
    free(q->mem);
    q->mem = NULL;
}

enum quic_image_type quic_type_for_format(enum codec_format format)
{
    switch (format) {
    case CODEC_FMT_RGB32:
        return QUIC_IMAGE_TYPE_RGB32;
    case CODEC_FMT_RGBA:
        return QUIC_IMAGE_TYPE_RGBA;
    case CODEC_FMT_RGB24:
        return QUIC_IMAGE_TYPE_RGB24;
    case CODEC_FMT_RGB16:
        return QUIC_IMAGE_TYPE_RGB16;
    case CODEC_FMT_A8:
        return QUIC_IMAGE_TYPE_GRAY;
    default:
        return QUIC_IMAGE_TYPE_INVALID;
    }
}

static int check_dims(uint32_t width, uint32_t height)
{
    if (width == 0 || height == 0) {
        return CLOVE_E_INVALID;
    }
    if (width > CODEC_MAX_DIM || height > CODEC_MAX_DIM ||
        (uint64_t)width * height > CODEC_MAX_PIXELS) {
        return CLOVE_E_RANGE;
    }
    return 0;
}

size_t quic_encode_bound(const struct codec_image *img)
{
    if (!img || quic_type_for_format(img->format) == QUIC_IMAGE_TYPE_INVALID ||
        check_dims(img->width, img->height) < 0) {
        return 0;
    }
    /* Per pixel at most one codeword per plane plus one run code per group
     * (a run of k pixels costs at most k + 16 bits). */
    unsigned groups = img->format == CODEC_FMT_RGBA ? 2 : 1;
    unsigned planes = img->format == CODEC_FMT_RGBA ? 4 : img->format == CODEC_FMT_A8 ? 1 : 3;
    uint64_t bits = (uint64_t)img->width * img->height * (QUIC_CODE_LIMIT * planes + 17 * groups);
    uint64_t bytes = QUIC_HEADER_BYTES + (bits + 31) / 32 * 4 + 8;
    if (bytes > SIZE_MAX) {
        return 0;
    }
    return (size_t)bytes;
}

int quic_encode(const struct codec_image *img, uint8_t *out, size_t out_cap, const char **err_desc)
{
    if (!img || !img->pixels || !out) {
        set_err(err_desc, "quic: null image or output");
        return CLOVE_E_INVALID;
    }
    enum quic_image_type type = quic_type_for_format(img->format);
    if (type == QUIC_IMAGE_TYPE_INVALID) {
        set_err(err_desc, "quic: pixel format not supported");
        return CLOVE_E_UNSUPPORTED;
    }
    int rc = check_dims(img->width, img->height);
    if (rc < 0) {
        set_err(err_desc, "quic: bad image dimensions");
        return rc;
    }
    int64_t stride = img->stride;
    uint64_t abs_stride = (uint64_t)(stride < 0 ? -stride : stride);
    if (abs_stride < codec_format_row_bytes(img->format, img->width)) {
        set_err(err_desc, "quic: stride smaller than a row");
        return CLOVE_E_INVALID;
    }

    struct quic_coder q;
    rc = coder_init(&q, type, img->width, img->height);
    if (rc < 0) {
        set_err(err_desc, "quic: out of memory");
        return rc;
    }
    struct quic_bitw w = {.nb32 = -32,
                          .stage = q.stage,
                          .sp = q.stage,
                          .out = out,
                          .cap = out_cap > INT_MAX ? INT_MAX : out_cap};
    bitw_put32(&w, QUIC_MAGIC);
    bitw_put32(&w, QUIC_VERSION);
    bitw_put32(&w, (uint32_t)type);
    bitw_put32(&w, img->width);
    bitw_put32(&w, img->height);
    bitw_flush_stage(&w);

    for (uint32_t y = 0; y < img->height && !w.full; y++) {
        const uint8_t *src = img->pixels + (ptrdiff_t)((int64_t)y * stride);
        if (y) {
            swap_rows(&q);
        }
        if (type == QUIC_IMAGE_TYPE_RGB32) {
            encode_rgb_row(&q, &w, y == 0, src, y ? src - stride : NULL);
            bitw_flush_stage(&w);
            continue;
        }
        unpack_row(&q, src);
        if (type == QUIC_IMAGE_TYPE_GRAY) {
            encode_one_row(&q, &q.alpha, &w, y == 0);
        } else {
            encode_rgb_row(&q, &w, y == 0, NULL, NULL);
            if (type == QUIC_IMAGE_TYPE_RGBA) {
                bitw_flush_stage(&w);
                encode_one_row(&q, &q.alpha, &w, y == 0);
            }
        }
        bitw_flush_stage(&w);
    }

    /* Pad the last word with zeros, then one zero word the decoder's
     * 32-bit lookahead may read. */
    if (w.nb32 != -32) {
        bitw_put(&w, 0, (unsigned)-w.nb32);
    }
    bitw_put32(&w, 0);
    bitw_flush_stage(&w);
    coder_finish(&q);
    if (w.full) {
        set_err(err_desc, "quic: output buffer too small");
        return CLOVE_E_RANGE;
    }
    return (int)w.pos;
}

/* ---- bit reader ----
 * The decoder works on a copy of the input with each 32-bit word byte
 * swapped, which turns the stream into a plain MSB-first byte string, with
 * zero padding after it (bitr_open). The row loops read it through a 64-bit
 * buffer held in registers: the next unread bit is bit 63 of `buf`, `cnt`
 * of its bits are valid, and the valid bits end at byte `p` of the copy. A
 * refill loads the 8 bytes at p under the valid bits and advances p by the
 * whole bytes that added, so it never waits on the codeword just decoded
 * (its load address was known one refill earlier) and leaves 56..63 valid
 * bits: enough for two codewords of at most 26 bits. The bits below the
 * valid ones are zero or the stream's own next bits, so or-ing the same
 * bytes in again later changes nothing. */
struct quic_bitr {
    const uint8_t *src; /* the swapped, padded copy */
    uint64_t pos;       /* next bit of src */
    size_t nwords;      /* whole words of input */
    uint8_t *copy;      /* owned: src */
};

struct quic_bb {
    uint64_t buf;
    unsigned cnt;
    const uint8_t *p;
};

QUIC_INLINE uint64_t load_be64(const uint8_t *p)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
#else
    uint64_t r = 0;
    for (unsigned k = 0; k < 8; k++) {
        r = (r << 8) | p[k];
    }
    return r;
#endif
}

QUIC_INLINE unsigned clz64(uint64_t v)
{
#if defined(__GNUC__)
    return (unsigned)__builtin_clzll(v);
#else
    unsigned n = 0;
    while (!(v & 0x8000000000000000ull)) {
        v <<= 1;
        n++;
    }
    return n;
#endif
}

/* Tops the buffer up to 56..63 valid bits. */
QUIC_INLINE void bb_refill(struct quic_bb *b)
{
    b->buf |= load_be64(b->p) >> b->cnt;
    b->p += (63 - b->cnt) >> 3;
    b->cnt |= 56;
}

/* Starts the buffer at bit `pos` of src. */
QUIC_INLINE void bb_load(struct quic_bb *b, const uint8_t *src, uint64_t pos)
{
    b->buf = 0;
    b->cnt = 0;
    b->p = src + (size_t)(pos >> 3);
    bb_refill(b);
    b->buf <<= pos & 7;
    b->cnt -= (unsigned)(pos & 7);
}

/* The bit position (from src) of the buffer's next unread bit. */
QUIC_INLINE uint64_t bb_pos(const struct quic_bb *b, const uint8_t *src)
{
    return (uint64_t)(b->p - src) * 8 - b->cnt;
}

QUIC_INLINE void bb_skip(struct quic_bb *b, unsigned n)
{
    b->buf <<= n;
    b->cnt -= n;
}

/* Copies in[0, nwords * 4) with every word byte swapped into r->copy,
 * followed by `pad` zero bytes. */
static int bitr_open(struct quic_bitr *r, const uint8_t *in, size_t in_len, size_t pad)
{
    r->nwords = in_len / 4;
    r->copy = malloc(r->nwords * 4 + pad);
    if (!r->copy) {
        return CLOVE_E_NOMEM;
    }
    size_t k = 0;
#if QUIC_HAVE_SSE2
    if (quic_simd_on) {
        k = quic_simd_bswap32(r->copy, in, r->nwords);
    }
#endif
    for (; k < r->nwords; k++) {
        uint32_t w = load_le32(in + 4 * k);
        r->copy[4 * k] = (uint8_t)(w >> 24);
        r->copy[4 * k + 1] = (uint8_t)(w >> 16);
        r->copy[4 * k + 2] = (uint8_t)(w >> 8);
        r->copy[4 * k + 3] = (uint8_t)w;
    }
    memset(r->copy + r->nwords * 4, 0, pad);
    r->src = r->copy;
    return 0;
}

/* True when the decoder has used bits the reference decoder could not
 * have read: its 32-bit lookahead must stay inside the input. */
static int bitr_overrun(const struct quic_bitr *r)
{
    return r->nwords == 0 || r->pos > ((uint64_t)r->nwords - 1) * 32;
}

/* An escape codeword of code l: gr_prefix[l] zeros, then esc_bits[l] bits
 * of n - esc_base[l]. Needs cnt >= 26. */
static unsigned bb_escape(struct quic_bb *b, const struct quic_family *f, unsigned l)
{
    unsigned len = f->esc_len[l];
    unsigned v = f->esc_base[l] + (unsigned)((b->buf >> (64 - len)) & ((1u << f->esc_bits[l]) - 1));
    bb_skip(b, len);
    return v & f->mask;
}

/* Leading zeros of v, 64 for 0, with the lzcnt instruction: only in
 * functions compiled for it (QUIC_FAST_ATTR), since older CPUs run its
 * encoding as bsr. Saves the `| 1` that keeps clz64's argument nonzero. */
#if QUIC_HAVE_FAST_ROWS
QUIC_INLINE unsigned lzcnt64(uint64_t v)
{
    uint64_t n;
    __asm__("lzcnt %1, %0" : "=r"(n) : "rm"(v) : "cc");
    return (unsigned)n;
}
#endif

/* Decodes one codeword; `lp` is its code l and gr_prefix[l] (see
 * quic_model.ctx_lp). The unary part is a leading-zero count, so a
 * codeword costs three dependent instructions (count, add, shift) where the
 * CPU counts zeros in one (QUIC_FAST_ATTR; `lz` then uses lzcnt64). Needs
 * cnt >= 26. */
QUIC_INLINE unsigned bb_code(struct quic_bb *b, const struct quic_family *f, const uint8_t *lp,
                             int lz)
{
    unsigned l = lp[0];
    uint64_t buf = b->buf;
    unsigned q;
#if QUIC_HAVE_FAST_ROWS
    if (lz) {
        q = lzcnt64(buf);
    } else
#endif
    {
        (void)lz;
        q = clz64(buf | 1);
    }
    if (QUIC_LIKELY(q < lp[1])) {
        unsigned len = q + 1 + l;
        b->buf = buf << len;
        b->cnt -= len;
        /* The codeword read as a number is 2^l + the l low bits of the
         * value, whose high part is q: add (q - 1) << l (mod 2^32). */
        return (unsigned)(buf >> ((0u - len) & 63)) + ((q - 1) << l);
    }
    return bb_escape(b, f, l);
}

/* Reads a run length (see put_run); fails when it exceeds `limit`. */
QUIC_INLINE int bb_run(struct quic_state *st, struct quic_bb *b, unsigned limit, unsigned *out)
{
    unsigned len = 0;
    for (;;) {
        bb_refill(b);
        uint64_t inv = ~b->buf;
        unsigned ones = inv ? clz64(inv) : 64;
        if (ones > 32) {
            ones = 32;
        }
        /* The ones' lengths and the state they lead to, without a loop. */
        unsigned s0 = st->run_state, s1 = s0 + ones;
        unsigned sc = s1 < QUIC_RUN_STATES - 1 ? s1 : QUIC_RUN_STATES - 1;
        len += quic_run_cum[sc] - quic_run_cum[s0] + ((s1 - sc) << 15);
        st->run_state = sc;
        st->run_log2 = quic_run_log2[sc];
        if (len > limit) {
            return CLOVE_E_INVALID;
        }
        if (ones < 32) {
            bb_skip(b, ones + 1);
            break;
        }
        bb_skip(b, 32);
    }
    if (st->run_log2) {
        bb_refill(b);
        len += (unsigned)(b->buf >> (64 - st->run_log2));
        bb_skip(b, st->run_log2);
    }
    if (st->run_state) {
        st->run_log2 = quic_run_log2[--st->run_state];
    }
    if (len > limit) {
        return CLOVE_E_INVALID;
    }
    *out = len;
    return 0;
}

/* ---- decoder ---- */

/* Folded residual -> residual mod 256 (0, 1, 2, 3, ... -> 0, -1, 1, -2, ...);
 * masked to 5 bits it serves the 5-bit family too. */
#define QUIC_U2(n)   (uint8_t)(n), (uint8_t)(255 - (n))
#define QUIC_U8(n)   QUIC_U2(n), QUIC_U2((n) + 1), QUIC_U2((n) + 2), QUIC_U2((n) + 3)
#define QUIC_U32(n)  QUIC_U8(n), QUIC_U8((n) + 4), QUIC_U8((n) + 8), QUIC_U8((n) + 12)
#define QUIC_U128(n) QUIC_U32(n), QUIC_U32((n) + 16), QUIC_U32((n) + 32), QUIC_U32((n) + 48)
static const uint8_t quic_unfold[256] = {QUIC_U128(0), QUIC_U128(64)};
#undef QUIC_U128
#undef QUIC_U32
#undef QUIC_U8
#undef QUIC_U2

/* Repeats pixel i - 1 over [i, i + n) in the planes and keys. The SIMD path
 * stores whole 16-byte blocks, so it may write up to 15 bytes (3 keys) past
 * i + n: still inside the row buffers (wpad >= width + 17), and those
 * samples are decoded later in the row anyway. */
static void fill_run(uint8_t *const cur[3], uint32_t *kcur, int i, unsigned n, unsigned nch)
{
#if QUIC_HAVE_SSE2
    if (quic_simd_on) {
        for (unsigned c = 0; c < nch; c++) {
            quic_simd_fill8(cur[c] + i, cur[c][i - 1], n);
        }
        quic_simd_fill32(kcur + i, kcur[i - 1], n);
        return;
    }
#endif
    for (unsigned c = 0; c < nch; c++) {
        memset(cur[c] + i, cur[c][i - 1], n);
    }
    for (unsigned k = 0; k < n; k++) {
        kcur[i + (int)k] = kcur[i - 1];
    }
}

/* Decodes sample i of a plane and returns its value; `pred` is its
 * prediction. */
QUIC_INLINE unsigned dec_sample(struct quic_bb *b, const struct quic_family *f, unsigned mask,
                                const struct quic_model *m, uint8_t *corr, uint8_t *cur, int i,
                                unsigned pred)
{
    unsigned v = bb_code(b, f, m->ctx_lp[corr[i - 1]], 0);
    corr[i] = (uint8_t)v;
    unsigned val = (quic_unfold[v] + pred) & mask;
    cur[i] = (uint8_t)val;
    return val;
}

/* Decodes one row of a group; mirrors encode_group_row, with the channels
 * unrolled and the reader position in a local. */
QUIC_INLINE int decode_group_row(struct quic_group *g, const struct quic_family *f,
                                 struct quic_bitr *r, unsigned width, int first_row, unsigned nch,
                                 unsigned bpc)
{
    struct quic_state *st = &g->st;
    const uint8_t *src = r->src;
    struct quic_bb bb;
    bb_load(&bb, src, r->pos);
    const unsigned mask = (1u << bpc) - 1;
    uint8_t *cur[3], *corr[3];
    const uint8_t *prev[3];
    const struct quic_model *m[3];
    uint32_t *kcur = g->kcur;
    const uint8_t *up = g->cand;
    if (!first_row) {
        up_candidates(g->cand, g->kprev, width);
    }

    for (unsigned c = 0; c < 3; c++) {
        struct quic_plane *p = g->pl[c < nch ? c : 0];
        p->corr[-1] = first_row ? 0 : p->corr[0];
        cur[c] = p->cur;
        prev[c] = p->prev;
        corr[c] = p->corr;
        m[c] = &p->model;
    }

    unsigned countdown = st->countdown;
    unsigned pos_px = 0;
    int rc = 0;
    /* The samples of pixel i - 1, kept in registers for the predictions (a
     * run repeats them, so runs leave them as they are). */
    unsigned left0 = 0, left1 = 0, left2 = 0;
    while (pos_px < width) {
        int bump;
        int end = (int)segment_end(st, pos_px, width, &bump);
        const unsigned waitmask = st->waitmask;
        int norun = -1;
        for (int i = (int)pos_px; i < end;) {
            if (!first_row && up[i] && i != norun && kcur[i - 1] == kcur[i - 2]) {
                unsigned n;
                int run_rc = bb_run(st, &bb, (unsigned)(end - i), &n);
                if (run_rc < 0) {
                    rc = CLOVE_E_INVALID;
                    goto out;
                }
                fill_run(cur, kcur, i, n, nch);
                if (n == 0) {
                    norun = i;
                }
                i += (int)n;
                continue;
            }
            unsigned p0, p1 = 0, p2 = 0;
            if (first_row) {
                p0 = i ? left0 : 0;
                if (nch == 3) {
                    p1 = i ? left1 : 0;
                    p2 = i ? left2 : 0;
                }
            } else if (QUIC_LIKELY(i)) {
                p0 = (left0 + prev[0][i]) >> 1;
                if (nch == 3) {
                    p1 = (left1 + prev[1][i]) >> 1;
                    p2 = (left2 + prev[2][i]) >> 1;
                }
            } else {
                p0 = prev[0][0];
                if (nch == 3) {
                    p1 = prev[1][0];
                    p2 = prev[2][0];
                }
            }
            /* Two codewords per refill. */
            bb_refill(&bb);
            left0 = dec_sample(&bb, f, mask, m[0], corr[0], cur[0], i, p0);
            uint32_t key = left0;
            if (nch == 3) {
                left1 = dec_sample(&bb, f, mask, m[1], corr[1], cur[1], i, p1);
                bb_refill(&bb);
                left2 = dec_sample(&bb, f, mask, m[2], corr[2], cur[2], i, p2);
                key |= (left1 << 8) | (left2 << 16);
            }
            kcur[i] = key;
            if (QUIC_LIKELY(countdown)) {
                countdown--;
            } else {
                st->seed++;
                countdown = quic_rand6[st->seed & 0xff] & waitmask;
                for (unsigned c = 0; c < nch; c++) {
                    model_update(&g->pl[c]->model, f, corr[c][i - 1], corr[c][i], st->trigger);
                }
            }
            i++;
        }
        if (bump) {
            segment_bump(st);
        }
        pos_px = (unsigned)end;
    }
out:
    st->countdown = countdown;
    r->pos = bb_pos(&bb, src);
    return rc;
}

/* quic_unfold_w[c][v]: for the folded residual v of plane c (R, G, B),
 * its residual (quic_unfold) at byte 2 - c and v itself at byte 6 - c, so
 * that or-ing a pixel's three entries gives the word added to its
 * prediction in the low half and its residual word in the high half (see
 * decode_rgb_group_row). */
#define QUIC_E2(n, S)                                         \
    (uint64_t)(n) << (S) | (uint64_t)(2 * (n)) << ((S) + 32), \
            (uint64_t)(255 - (n)) << (S) | (uint64_t)(2 * (n) + 1) << ((S) + 32)
#define QUIC_E8(n, S)  QUIC_E2(n, S), QUIC_E2((n) + 1, S), QUIC_E2((n) + 2, S), QUIC_E2((n) + 3, S)
#define QUIC_E32(n, S) QUIC_E8(n, S), QUIC_E8((n) + 4, S), QUIC_E8((n) + 8, S), QUIC_E8((n) + 12, S)
#define QUIC_E128(n, S) \
    QUIC_E32(n, S), QUIC_E32((n) + 16, S), QUIC_E32((n) + 32, S), QUIC_E32((n) + 48, S)
static const uint64_t quic_unfold_w[3][256] = {{QUIC_E128(0, 16), QUIC_E128(64, 16)},
                                               {QUIC_E128(0, 8), QUIC_E128(64, 8)},
                                               {QUIC_E128(0, 0), QUIC_E128(64, 0)}};
#undef QUIC_E128
#undef QUIC_E32
#undef QUIC_E8
#undef QUIC_E2

/* Bytewise (a + b) mod 256 of the low three bytes (byte 3 of both is 0). */
QUIC_INLINE uint32_t swar_add(uint32_t a, uint32_t b)
{
    return ((a & 0x7f7f7fu) + (b & 0x7f7f7fu)) ^ ((a ^ b) & 0x808080u);
}

/* Bytewise floor((a + b) / 2). */
QUIC_INLINE uint32_t swar_avg(uint32_t a, uint32_t b)
{
    return (a & b) + (((a ^ b) >> 1) & 0x7f7f7fu);
}

/* Decodes one row of the RGB group. Unlike decode_group_row, the three
 * planes are kept interleaved as pixel words (B in byte 0, G in 1, R in 2,
 * byte 3 zero: rgb.kcur and rgb.kprev, which are also the run keys, and
 * the decoded RGB32 row as it is), so that the predictions of a pixel and
 * the sum with its residuals take a few word operations (SWAR) instead of
 * three of each. The folded residuals of a pixel form a word the same way
 * (residual word: B, G, R in bytes 0, 1, 2), which is at once what the
 * pixel adds to its prediction (both from quic_unfold_w), the contexts of the next
 * pixel, and the pixel's entry in the last-residual row (rgb.corr4 as
 * words, one store). The loop needs few registers: one pixel row, one row
 * above, the residual row, the planes' models at fixed offsets from q, and
 * one bound `lim` that stands for both the segment end and the model
 * update countdown (the pixel `upd` whose coding updates the models moves
 * on with every run, since runs do not count). */
QUIC_INLINE int decode_rgb_group_row(struct quic_coder *q, struct quic_bitr *r, int first_row,
                                     unsigned bpc, int lz)
{
    struct quic_group *g = &q->rgb;
    /* The family and the models are reached through q at fixed offsets:
     * separate pointers would not fit the registers. */
#define f (&q->fam)
#define P (q->planes)
    struct quic_state *st = &g->st;
    const ptrdiff_t width = (ptrdiff_t)q->width;
    const uint8_t *src = r->src;
    struct quic_bb bb;
    bb_load(&bb, src, r->pos);
    /* 5-bit samples wrap at 32; bytes wrap at 256 by themselves. */
    const uint32_t wmask = bpc == 8 ? 0xffffffffu : 0x1f1f1fu;
    uint32_t *restrict cur = g->kcur;
    const uint32_t *restrict prev = g->kprev;
    /* Not restrict: the models' ctx_lp tables, read through lpb below,
     * are written by model_update. */
    uint32_t *corr = (uint32_t *)(void *)g->corr4;
    /* Plane c's ctx_lp table at lpb + c * QUIC_CTX_BYTES: addressed from
     * corr, the tables cost no register. */
    const uint8_t *lpb = (const uint8_t *)corr - QUIC_CTX_GAP - 4 * QUIC_CTX_BYTES;
    corr[-1] = first_row ? 0 : corr[0];
    /* The contexts of pixel i (the residuals in corr[i - 1]), straight
     * from the values decoded for pixel i - 1 where it was coded: taking
     * them from the residual word instead puts a table load and shifts on
     * the path from one pixel's codewords to the next one's, which is the
     * loop's critical path. */
    unsigned cv0 = (corr[-1] >> 16) & 0xff, cv1 = (corr[-1] >> 8) & 0xff, cv2 = corr[-1] & 0xff;
    uint32_t left = first_row ? 0 : prev[0]; /* pixel i - 1 (see pred) */

    ptrdiff_t upd = (ptrdiff_t)g->st.countdown;
    ptrdiff_t pos = 0;
    int rc = 0;
    while (pos < width) {
        int bump;
        const ptrdiff_t end = (ptrdiff_t)segment_end(st, (unsigned)pos, (unsigned)width, &bump);
        const unsigned waitmask = st->waitmask;
        ptrdiff_t i = pos;
        ptrdiff_t lim = upd < end - 1 ? upd : end - 1;
        for (;;) {
            /* A run may start where the pixels above-left and above are equal
             * and so are the two to the left (i > 2); `left` is pixel i - 1
             * (the rows have spare keys before them, so [i - 2] can be read
             * for any i). */
            if (!first_row && ((prev[i - 1] ^ prev[i]) | (left ^ cur[i - 2])) == 0 && i > 2) {
                unsigned n;
                if (bb_run(st, &bb, (unsigned)(end - i), &n) < 0) {
                    rc = CLOVE_E_INVALID;
                    goto out;
                }
#if QUIC_HAVE_SSE2
                if (quic_simd_on) {
                    /* May write 16 keys past the run: pixels decoded later
                     * in the row, or padding (wpad >= width + 17). */
                    quic_simd_fill32_run(cur + i, left, n);
                } else
#endif
                {
                    for (unsigned k = 0; k < n; k++) {
                        cur[i + (ptrdiff_t)k] = left;
                    }
                }
                if (n) {
                    i += (ptrdiff_t)n;
                    upd += (ptrdiff_t)n;
                    cv0 = (corr[i - 1] >> 16) & 0xff;
                    cv1 = (corr[i - 1] >> 8) & 0xff;
                    cv2 = corr[i - 1] & 0xff;
                    if (i >= end) {
                        break;
                    }
                    lim = upd < end - 1 ? upd : end - 1;
                    continue;
                }
                /* An empty run: pixel i is coded next, without a run test. */
            }
            /* Pixel 0 of a row after the first is predicted from the pixel
             * above alone: `left` starts as that pixel, and the average of
             * two equal words is the word. */
            uint32_t pred = first_row ? left : swar_avg(left, prev[i]);
            /* R and G fit the refilled buffer; B may need another refill. */
            bb_refill(&bb);
            unsigned v0 = bb_code(&bb, f, lpb + 2 * cv0, lz);
            unsigned v1 = bb_code(&bb, f, lpb + QUIC_CTX_BYTES + 2 * cv1, lz);
            if (bb.cnt < QUIC_CODE_LIMIT) {
                bb_refill(&bb);
            }
            unsigned v2 = bb_code(&bb, f, lpb + 2 * QUIC_CTX_BYTES + 2 * cv2, lz);
            /* Every value is below 2^bpc (bb_code). */
            uint64_t e = quic_unfold_w[0][v0] | quic_unfold_w[1][v1] | quic_unfold_w[2][v2];
            corr[i] = (uint32_t)(e >> 32);
            left = swar_add(pred, (uint32_t)e) & wmask;
            cur[i] = left;
            cv0 = v0;
            cv1 = v1;
            cv2 = v2;
            if (QUIC_LIKELY(i < lim)) {
                i++;
                continue;
            }
            if (i == upd) {
                /* The contexts and values are read back from the residual
                 * row (hidden from the compiler), so that it does not keep
                 * the ones in registers alive on the stack for this rare
                 * path. */
                uint32_t cw = corr[i - 1], w = corr[i];
                QUIC_OPAQUE(cw);
                QUIC_OPAQUE(w);
                st->seed++;
                upd = i + 1 + (ptrdiff_t)(quic_rand6[st->seed & 0xff] & waitmask);
                model_update_inl(&P[0].model, f, (cw >> 16) & 0xff, (w >> 16) & 0xff, st->trigger,
                                 QUIC_TAB_DEC);
                model_update_inl(&P[1].model, f, (cw >> 8) & 0xff, (w >> 8) & 0xff, st->trigger,
                                 QUIC_TAB_DEC);
                model_update_inl(&P[2].model, f, cw & 0xff, w & 0xff, st->trigger, QUIC_TAB_DEC);
            }
            if (++i >= end) {
                break;
            }
            lim = upd < end - 1 ? upd : end - 1;
        }
        if (bump) {
            segment_bump(st);
        }
        pos = end;
    }
    st->countdown = (unsigned)(upd - width);
out:
    r->pos = bb_pos(&bb, src);
    return rc;
#undef P
#undef f
}

/* The row decoders, compiled once for the baseline ISA and, on x86-64,
 * once more for CPUs with lzcnt and BMI2 (Haswell, Piledriver and later),
 * where bb_code's zero count is one fast instruction instead of bsr's
 * several cycles; quic_decode picks one at run time (quic_fast_rows). */
#define QUIC_ROW_DECODERS(SUFFIX, ATTR, LZ)                                                       \
    /* One function per variant: gcc allocates registers worse in one                             \
     * function holding all four loops. */                                                        \
    ATTR __attribute__((noinline)) static int decode_rgb_row8##SUFFIX(struct quic_coder *q,       \
                                                                      struct quic_bitr *r)        \
    {                                                                                             \
        return decode_rgb_group_row(q, r, 0, 8, LZ);                                              \
    }                                                                                             \
    ATTR __attribute__((noinline)) static int decode_rgb_row8_first##SUFFIX(struct quic_coder *q, \
                                                                            struct quic_bitr *r)  \
    {                                                                                             \
        return decode_rgb_group_row(q, r, 1, 8, LZ);                                              \
    }                                                                                             \
    ATTR static int decode_rgb_row##SUFFIX(struct quic_coder *q, struct quic_bitr *r,             \
                                           int first_row)                                         \
    {                                                                                             \
        if (q->fam.bpc == 5) {                                                                    \
            if (first_row) {                                                                      \
                return decode_rgb_group_row(q, r, 1, 5, LZ);                                      \
            }                                                                                     \
            return decode_rgb_group_row(q, r, 0, 5, LZ);                                          \
        }                                                                                         \
        if (first_row) {                                                                          \
            return decode_rgb_row8_first##SUFFIX(q, r);                                           \
        }                                                                                         \
        return decode_rgb_row8##SUFFIX(q, r);                                                     \
    }                                                                                             \
    /* Gray and alpha planes are 8-bit. */                                                        \
    ATTR static int decode_one_row##SUFFIX(struct quic_coder *q, struct quic_group *g,            \
                                           struct quic_bitr *r, int first_row)                    \
    {                                                                                             \
        if (first_row) {                                                                          \
            return decode_group_row(g, &q->fam, r, q->width, 1, 1, 8);                            \
        }                                                                                         \
        return decode_group_row(g, &q->fam, r, q->width, 0, 1, 8);                                \
    }

QUIC_ROW_DECODERS(_base, , 0)

#if QUIC_HAVE_FAST_ROWS
QUIC_ROW_DECODERS(_fast, QUIC_FAST_ATTR, 1)

/* Bit 0: the CPU has lzcnt, BMI1 and BMI2 (CPUID 0x80000001 ECX bit 5;
 * leaf 7 EBX bits 3 and 8). Bit 1: it has AVX2 (leaf 7 EBX bit 5) and the
 * OS saves the AVX state (leaf 1 ECX bits 27 OSXSAVE and 28 AVX, then XCR0
 * bits 1 and 2). */
static int quic_cpu_bits(void)
{
    /* Cached: cpuid traps to the hypervisor on a VM. Atomic, since two
     * threads may ask first at once (both compute the same answer). */
    static _Atomic int known = -1;
    int k = atomic_load_explicit(&known, memory_order_relaxed);
    if (k < 0) {
        unsigned a, b, c, d;
        int ok = __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 5));
        int leaf7 = __get_cpuid_max(0, NULL) >= 7;
        unsigned b7 = 0;
        if (leaf7) {
            __cpuid_count(7, 0, a, b7, c, d);
        }
        ok = ok && leaf7 && (b7 & (1u << 3)) && (b7 & (1u << 8));
        int avx2 = 0;
        if (leaf7 && (b7 & (1u << 5)) && __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 27)) &&
            (c & (1u << 28))) {
            unsigned lo, hi;
            __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
            (void)hi;
            avx2 = (lo & 6u) == 6u;
        }
        k = ok | (avx2 << 1);
        atomic_store_explicit(&known, k, memory_order_relaxed);
    }
    return k;
}

static int quic_fast_rows(void)
{
    return quic_simd_on == 1 && (quic_cpu_bits() & 1);
}

#if QUIC_HAVE_AVX2
static int quic_fast_avx2(void)
{
    return quic_simd_on == 1 && ((quic_cpu_bits() >> 1) & 1);
}
#endif
#endif

/* Writes the decoded row to `dst` as `format`: the RGB pixel words
 * (rgb.kcur) and the alpha or gray plane. */
static void pack_row(const struct quic_coder *q, uint8_t *restrict dst, enum codec_format format)
{
    unsigned width = q->width;
    const uint32_t *restrict px = q->rgb.kcur;

    if (q->type == QUIC_IMAGE_TYPE_GRAY) {
        memcpy(dst, q->planes[0].cur, width);
        return;
    }
    if (q->type == QUIC_IMAGE_TYPE_RGB16) {
        for (unsigned i = 0; i < width; i++) {
            unsigned b = px[i] & 0x1f, g = (px[i] >> 8) & 0x1f, r = (px[i] >> 16) & 0x1f;
            if (format == CODEC_FMT_RGB16) {
                unsigned v = (r << 10) | (g << 5) | b;
                dst[2 * i] = (uint8_t)v;
                dst[2 * i + 1] = (uint8_t)(v >> 8);
            } else {
                dst[4 * i] = (uint8_t)((b << 3) | (b >> 2));
                dst[4 * i + 1] = (uint8_t)((g << 3) | (g >> 2));
                dst[4 * i + 2] = (uint8_t)((r << 3) | (r >> 2));
                dst[4 * i + 3] = 0;
            }
        }
        return;
    }
    switch (format) {
    case CODEC_FMT_RGB24:
        for (unsigned i = 0; i < width; i++) {
            dst[3 * i] = (uint8_t)px[i];
            dst[3 * i + 1] = (uint8_t)(px[i] >> 8);
            dst[3 * i + 2] = (uint8_t)(px[i] >> 16);
        }
        break;
    case CODEC_FMT_RGBA: {
        const uint8_t *restrict a = q->planes[3].cur;
        for (unsigned i = 0; i < width; i++) {
            uint32_t v = px[i] | ((uint32_t)a[i] << 24);
            store_le32(dst + 4 * i, v);
        }
        break;
    }
    default:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(dst, px, (size_t)width * 4);
#else
        for (unsigned i = 0; i < width; i++) {
            store_le32(dst + 4 * i, px[i]);
        }
#endif
        break;
    }
}

static enum codec_format type_format(enum quic_image_type type)
{
    switch (type) {
    case QUIC_IMAGE_TYPE_GRAY:
        return CODEC_FMT_A8;
    case QUIC_IMAGE_TYPE_RGB16:
        return CODEC_FMT_RGB16;
    case QUIC_IMAGE_TYPE_RGB24:
        return CODEC_FMT_RGB24;
    case QUIC_IMAGE_TYPE_RGB32:
        return CODEC_FMT_RGB32;
    case QUIC_IMAGE_TYPE_RGBA:
        return CODEC_FMT_RGBA;
    default:
        return CODEC_FMT_INVALID;
    }
}

static int format_supported(enum quic_image_type type, enum codec_format format)
{
    switch (type) {
    case QUIC_IMAGE_TYPE_GRAY:
        return format == CODEC_FMT_A8;
    case QUIC_IMAGE_TYPE_RGB16:
        return format == CODEC_FMT_RGB16 || format == CODEC_FMT_RGB32;
    case QUIC_IMAGE_TYPE_RGB24:
    case QUIC_IMAGE_TYPE_RGB32:
        return format == CODEC_FMT_RGB32 || format == CODEC_FMT_RGB24;
    case QUIC_IMAGE_TYPE_RGBA:
        return format == CODEC_FMT_RGBA;
    default:
        return 0;
    }
}

int quic_decode_header(const uint8_t *in, size_t in_len, struct codec_info *info,
                       const char **err_desc)
{
    if (!in || in_len < QUIC_HEADER_BYTES) {
        set_err(err_desc, "quic: truncated header");
        return CLOVE_E_INVALID;
    }
    if (load_le32(in) != QUIC_MAGIC) {
        set_err(err_desc, "quic: bad magic");
        return CLOVE_E_INVALID;
    }
    if (load_le32(in + 4) != QUIC_VERSION) {
        set_err(err_desc, "quic: unsupported version");
        return CLOVE_E_INVALID;
    }
    uint32_t type = load_le32(in + 8);
    enum codec_format format = type <= QUIC_IMAGE_TYPE_RGBA
                                       ? type_format((enum quic_image_type)type)
                                       : CODEC_FMT_INVALID;
    if (format == CODEC_FMT_INVALID) {
        set_err(err_desc, "quic: bad image type");
        return CLOVE_E_INVALID;
    }
    uint32_t width = load_le32(in + 12), height = load_le32(in + 16);
    int rc = check_dims(width, height);
    if (rc < 0) {
        set_err(err_desc, "quic: bad image dimensions");
        return rc;
    }
    if (info) {
        info->format = format;
        info->width = width;
        info->height = height;
        info->top_down = 1;
    }
    return 0;
}

int quic_decode(const uint8_t *in, size_t in_len, uint8_t *pixels, size_t pixels_len,
                int32_t stride, enum codec_format format, const char **err_desc)
{
    struct codec_info info;
    int rc = quic_decode_header(in, in_len, &info, err_desc);
    if (rc < 0) {
        return rc;
    }
    enum quic_image_type type = (enum quic_image_type)load_le32(in + 8);
    if (!format_supported(type, format)) {
        set_err(err_desc, "quic: output format not offered for this image type");
        return CLOVE_E_UNSUPPORTED;
    }
    size_t row_bytes = codec_format_row_bytes(format, info.width);
    uint64_t abs_stride = (uint64_t)(stride < 0 ? -(int64_t)stride : (int64_t)stride);
    if (!pixels || abs_stride < row_bytes ||
        (uint64_t)(info.height - 1) * abs_stride + row_bytes > pixels_len) {
        set_err(err_desc, "quic: output buffer too small for the image");
        return CLOVE_E_INVALID;
    }

    struct quic_coder q;
    rc = coder_init(&q, type, info.width, info.height);
    if (rc < 0) {
        set_err(err_desc, "quic: out of memory");
        return rc;
    }
    /* Padding: a row (RGB plus alpha) uses at most 5 words per pixel, even
     * of a corrupt stream, and the check after each row stops the reader
     * before it leaves the input plus one row; the buffer loads 8 bytes. */
    struct quic_bitr r = {.pos = QUIC_HEADER_BYTES * 8};
    if (bitr_open(&r, in, in_len, ((size_t)info.width * 5 + 8) * 4 + 16) < 0) {
        coder_finish(&q);
        set_err(err_desc, "quic: out of memory");
        return CLOVE_E_NOMEM;
    }
    int (*rgb_row)(struct quic_coder *, struct quic_bitr *, int) = decode_rgb_row_base;
    int (*one_row)(struct quic_coder *, struct quic_group *, struct quic_bitr *, int) =
            decode_one_row_base;
#if QUIC_HAVE_FAST_ROWS
    if (quic_simd_on && quic_fast_rows()) {
        rgb_row = decode_rgb_row_fast;
        one_row = decode_one_row_fast;
    }
#endif

    uint8_t *row0 = stride < 0 ? pixels + (size_t)(info.height - 1) * abs_stride : pixels;
    for (uint32_t y = 0; y < info.height; y++) {
        if (y) {
            swap_rows(&q);
        }
        int first = y == 0;
        if (type == QUIC_IMAGE_TYPE_GRAY) {
            rc = one_row(&q, &q.alpha, &r, first);
        } else {
            rc = rgb_row(&q, &r, first);
            if (rc == 0 && type == QUIC_IMAGE_TYPE_RGBA) {
                rc = one_row(&q, &q.alpha, &r, first);
            }
        }
        if (rc == 0 && bitr_overrun(&r)) {
            rc = CLOVE_E_INVALID;
        }
        if (rc < 0) {
            coder_finish(&q);
            free(r.copy);
            set_err(err_desc, rc == CLOVE_E_NOMEM ? "quic: out of memory"
                                                  : "quic: corrupt or truncated stream");
            return rc;
        }
        pack_row(&q, row0 + (ptrdiff_t)((int64_t)y * stride), format);
    }
    coder_finish(&q);
    free(r.copy);
    return 0;
}
