/*
 * Tests for src/codec/quic.c: golden vectors produced by the reference
 * encoder (tests/data/quic/), round trips over generated images of every
 * type, size and stride layout, and rejection of damaged streams.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codec/quic.h"
#include "codec/quic_simd.h"

/* ---- helpers ---- */

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

enum pattern { PAT_TEXT, PAT_UI, PAT_GRADIENT, PAT_NOISE, PAT_COUNT };

/* Fills a packed image (stride = row bytes) of `bpp` bytes per pixel. */
static void fill_image(uint8_t *buf, uint32_t w, uint32_t h, unsigned bpp, enum pattern pat)
{
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            uint8_t px[4];
            switch (pat) {
            case PAT_TEXT: {
                int ink = ((x * 5 + y * 3) % 9 < 2) && (y % 16 < 11) && (x % 10 < 7);
                px[0] = px[1] = px[2] = ink ? 30 : 250;
                px[3] = 255;
                break;
            }
            case PAT_UI: {
                uint8_t v = (uint8_t)(((x / 40) * 53 + (y / 24) * 101) & 0xff);
                px[0] = v;
                px[1] = (uint8_t)(v + 40);
                px[2] = (uint8_t)(x % 40 == 0 ? 0 : 200);
                px[3] = (uint8_t)(y < h / 2 ? 255 : 128);
                break;
            }
            case PAT_GRADIENT:
                px[0] = (uint8_t)(x + y);
                px[1] = (uint8_t)(x * 2);
                px[2] = (uint8_t)(y * 3);
                px[3] = (uint8_t)(x ^ y);
                break;
            default: {
                uint32_t r = rng();
                memcpy(px, &r, 4);
                break;
            }
            }
            uint8_t *p = buf + ((size_t)y * w + x) * bpp;
            if (bpp == 2) {
                unsigned v = (unsigned)((px[2] >> 3) << 10 | (px[1] >> 3) << 5 | (px[0] >> 3));
                p[0] = (uint8_t)v;
                p[1] = (uint8_t)(v >> 8);
            } else {
                memcpy(p, px, bpp);
            }
        }
    }
}

static unsigned format_bpp(enum codec_format f)
{
    return (unsigned)codec_format_row_bytes(f, 1);
}

/* Bytes of a pixel QUIC keeps: RGB32 drops the pad byte, RGB16 the top bit. */
static int pixels_equal(enum codec_format f, const uint8_t *a, const uint8_t *b)
{
    switch (f) {
    case CODEC_FMT_RGB32:
        return a[0] == b[0] && a[1] == b[1] && a[2] == b[2];
    case CODEC_FMT_RGB16:
        return a[0] == b[0] && (a[1] & 0x7f) == (b[1] & 0x7f);
    default:
        return memcmp(a, b, format_bpp(f)) == 0;
    }
}

/* Encodes the packed image `src`, laid out with `stride` (copying it into a
 * buffer of that layout), decodes it with another stride and compares. */
static int roundtrip(enum codec_format f, uint32_t w, uint32_t h, const uint8_t *src,
                     int32_t in_pad, int in_flip, int32_t out_pad, int out_flip)
{
    unsigned bpp = format_bpp(f);
    size_t row = (size_t)w * bpp;
    size_t in_stride = row + (size_t)in_pad;
    uint8_t *in = malloc(in_stride * h);
    memset(in, 0xa5, in_stride * h);
    for (uint32_t y = 0; y < h; y++) {
        uint32_t my = in_flip ? h - 1 - y : y;
        memcpy(in + my * in_stride, src + y * row, row);
    }
    struct codec_image img = {
            .format = f,
            .width = w,
            .height = h,
            .stride = in_flip ? -(int32_t)in_stride : (int32_t)in_stride,
            .pixels = in_flip ? in + (h - 1) * in_stride : in,
    };
    size_t cap = quic_encode_bound(&img);
    uint8_t *enc = malloc(cap);
    const char *err = NULL;
    int n = quic_encode(&img, enc, cap, &err);
    int ok = n > 0 && n % 4 == 0;

    size_t out_stride = row + (size_t)out_pad;
    uint8_t *out = malloc(out_stride * h);
    if (ok) {
        int32_t s = out_flip ? -(int32_t)out_stride : (int32_t)out_stride;
        ok = quic_decode(enc, (size_t)n, out, out_stride * h, s, f, &err) == 0;
    }
    for (uint32_t y = 0; ok && y < h; y++) {
        const uint8_t *o = out + (out_flip ? h - 1 - y : y) * out_stride;
        for (uint32_t x = 0; ok && x < w; x++) {
            ok = pixels_equal(f, src + y * row + x * bpp, o + x * bpp);
        }
    }
    if (!ok) {
        printf("# roundtrip failed: fmt %d %ux%u n=%d err=%s\n", f, w, h, n, err ? err : "-");
    }
    free(in);
    free(enc);
    free(out);
    return ok;
}

static const enum codec_format all_formats[] = {CODEC_FMT_A8, CODEC_FMT_RGB16, CODEC_FMT_RGB24,
                                                CODEC_FMT_RGB32, CODEC_FMT_RGBA};

/* ---- golden vectors ---- */

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (n < 0 || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* tests/data/quic, found from this file's path (meson compiles and runs
 * tests from the build root, so a relative __FILE__ resolves there too). */
static void data_path(char *out, size_t cap, const char *name)
{
    const char *env = getenv("CLOVE_QUIC_DATA");
    if (env) {
        snprintf(out, cap, "%s/%s", env, name);
        return;
    }
    const char *file = __FILE__;
    const char *cut = strstr(file, "unit/codec/test_quic.c");
    int prefix = cut ? (int)(cut - file) : 0;
    snprintf(out, cap, "%.*sdata/quic/%s", prefix, file, name);
}

static void test_golden_vectors(void)
{
    static const struct {
        const char *type;
        enum codec_format format;
    } types[] = {{"gray", CODEC_FMT_A8},
                 {"rgb16", CODEC_FMT_RGB16},
                 {"rgb24", CODEC_FMT_RGB24},
                 {"rgb32", CODEC_FMT_RGB32},
                 {"rgba", CODEC_FMT_RGBA}};
    static const uint32_t sizes[][2] = {{1, 1}, {3, 2}, {7, 5}, {300, 50}};
    int checked = 0;
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            char name[64], path[1024];
            size_t raw_len = 0, ref_len = 0;
            uint32_t w = sizes[s][0], h = sizes[s][1];
            snprintf(name, sizeof(name), "%s_%ux%u.raw", types[t].type, w, h);
            data_path(path, sizeof(path), name);
            uint8_t *raw = read_file(path, &raw_len);
            snprintf(name, sizeof(name), "%s_%ux%u.quic", types[t].type, w, h);
            data_path(path, sizeof(path), name);
            uint8_t *ref = read_file(path, &ref_len);
            if (!raw || !ref) {
                printf("# missing golden vector %s\n", path);
                free(raw);
                free(ref);
                CHECK(0);
            }
            unsigned bpp = format_bpp(types[t].format);
            CHECK_EQ(raw_len, (size_t)w * h * bpp);
            struct codec_image img = {types[t].format, w, h, (int32_t)(w * bpp), raw};
            size_t cap = quic_encode_bound(&img);
            uint8_t *enc = malloc(cap);
            int n = quic_encode(&img, enc, cap, NULL);
            CHECK_EQ(n, (long long)ref_len);
            CHECK_MEM_EQ(enc, ref, ref_len);

            uint8_t *dec = malloc(raw_len);
            CHECK_EQ(quic_decode(ref, ref_len, dec, raw_len, (int32_t)(w * bpp), types[t].format,
                                 NULL),
                     0);
            for (size_t i = 0; i < (size_t)w * h; i++) {
                CHECK(pixels_equal(types[t].format, raw + i * bpp, dec + i * bpp));
            }
            free(raw);
            free(ref);
            free(enc);
            free(dec);
            checked++;
        }
    }
    CHECK_EQ(checked, 20);
}

/* The same vectors through the portable loops only (no SIMD kernels). */
static void test_golden_vectors_portable(void)
{
    quic_simd_set(0);
    test_golden_vectors();
    quic_simd_set(1);
}

/* Through the SSE2 kernels only (not the BMI2 or AVX2 row functions). */
static void test_golden_vectors_sse2(void)
{
    quic_simd_set(2);
    test_golden_vectors();
    quic_simd_set(1);
}

/* The SIMD and portable paths give the same bytes, encoding and decoding,
 * on every type, on widths around the kernels' 16-pixel blocks and the
 * encoder's 64-pixel flag words, and on all four patterns. */
static void test_simd_matches_portable(void)
{
    static const uint32_t widths[] = {1, 3, 15, 16, 17, 31, 33, 63, 64, 65, 127, 128, 129, 257};
    uint32_t h = 6;
    for (size_t fi = 0; fi < 5; fi++) {
        enum codec_format f = all_formats[fi];
        unsigned bpp = format_bpp(f);
        for (size_t wi = 0; wi < sizeof(widths) / sizeof(widths[0]); wi++) {
            for (int pat = 0; pat < PAT_COUNT; pat++) {
                uint32_t w = widths[wi];
                uint8_t *src = malloc((size_t)w * h * bpp);
                fill_image(src, w, h, bpp, (enum pattern)pat);
                struct codec_image img = {f, w, h, (int32_t)(w * bpp), src};
                size_t cap = quic_encode_bound(&img);
                uint8_t *a = malloc(cap), *b = malloc(cap);
                int na = quic_encode(&img, a, cap, NULL);
                quic_simd_set(0);
                int nb = quic_encode(&img, b, cap, NULL);
                quic_simd_set(1);
                CHECK(na > 0);
                CHECK_EQ(na, nb);
                CHECK_MEM_EQ(a, b, (size_t)na);
                /* The SSE2-only kernels too (the default may be AVX2). */
                quic_simd_set(2);
                nb = quic_encode(&img, b, cap, NULL);
                quic_simd_set(1);
                CHECK_EQ(na, nb);
                CHECK_MEM_EQ(a, b, (size_t)na);
                size_t raw = (size_t)w * h * bpp;
                uint8_t *da = calloc(1, raw), *db = calloc(1, raw);
                CHECK_EQ(quic_decode(a, (size_t)na, da, raw, (int32_t)(w * bpp), f, NULL), 0);
                quic_simd_set(0);
                CHECK_EQ(quic_decode(a, (size_t)na, db, raw, (int32_t)(w * bpp), f, NULL), 0);
                quic_simd_set(1);
                CHECK_MEM_EQ(da, db, raw);
                free(da);
                free(db);
                free(src);
                free(a);
                free(b);
            }
        }
    }
}

/* ---- round trips ---- */

static void test_roundtrip_small_sizes(void)
{
    static const uint32_t sizes[][2] = {{1, 1}, {2, 1}, {1, 7}, {3, 3}, {5, 4}, {17, 9}, {33, 2}};
    for (size_t fi = 0; fi < 5; fi++) {
        enum codec_format f = all_formats[fi];
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            for (int pat = 0; pat < PAT_COUNT; pat++) {
                uint32_t w = sizes[s][0], h = sizes[s][1];
                uint8_t *src = malloc((size_t)w * h * 4);
                fill_image(src, w, h, format_bpp(f), (enum pattern)pat);
                CHECK(roundtrip(f, w, h, src, 0, 0, 0, 0));
                free(src);
            }
        }
    }
}

static void test_roundtrip_patterns_odd_widths(void)
{
    static const uint32_t sizes[][2] = {{127, 33}, {641, 17}, {2049, 7}, {4099, 4}, {1001, 20}};
    for (size_t fi = 0; fi < 5; fi++) {
        enum codec_format f = all_formats[fi];
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            for (int pat = 0; pat < PAT_COUNT; pat++) {
                uint32_t w = sizes[s][0], h = sizes[s][1];
                uint8_t *src = malloc((size_t)w * h * 4);
                fill_image(src, w, h, format_bpp(f), (enum pattern)pat);
                CHECK(roundtrip(f, w, h, src, 0, 0, 0, 0));
                free(src);
            }
        }
    }
}

static void test_roundtrip_strides(void)
{
    uint32_t w = 97, h = 31;
    for (size_t fi = 0; fi < 5; fi++) {
        enum codec_format f = all_formats[fi];
        uint8_t *src = malloc((size_t)w * h * 4);
        fill_image(src, w, h, format_bpp(f), PAT_UI);
        CHECK(roundtrip(f, w, h, src, 13, 0, 0, 0));
        CHECK(roundtrip(f, w, h, src, 0, 1, 0, 0));
        CHECK(roundtrip(f, w, h, src, 7, 1, 5, 1));
        CHECK(roundtrip(f, w, h, src, 0, 0, 64, 1));
        free(src);
    }
}

/* Stride sign must not change the stream: the image is the same. */
static void test_stride_sign_same_bytes(void)
{
    uint32_t w = 50, h = 20;
    size_t row = (size_t)w * 4;
    uint8_t *top = malloc(row * h), *bottom = malloc(row * h);
    fill_image(top, w, h, 4, PAT_NOISE);
    for (uint32_t y = 0; y < h; y++) {
        memcpy(bottom + (h - 1 - y) * row, top + y * row, row);
    }
    struct codec_image a = {CODEC_FMT_RGB32, w, h, (int32_t)row, top};
    struct codec_image b = {CODEC_FMT_RGB32, w, h, -(int32_t)row, bottom + (h - 1) * row};
    size_t cap = quic_encode_bound(&a);
    uint8_t *ea = malloc(cap), *eb = malloc(cap);
    int na = quic_encode(&a, ea, cap, NULL), nb = quic_encode(&b, eb, cap, NULL);
    CHECK(na > 0);
    CHECK_EQ(na, nb);
    CHECK_MEM_EQ(ea, eb, (size_t)na);
    free(top);
    free(bottom);
    free(ea);
    free(eb);
}

static void test_roundtrip_large(void)
{
    uint32_t w = 4096, h = 2160;
    uint8_t *src = malloc((size_t)w * h * 4);
    fill_image(src, w, h, 4, PAT_UI);
    /* A noisy band so both code paths are exercised in one frame. */
    for (size_t i = (size_t)w * 4 * 1000; i < (size_t)w * 4 * 1100; i++) {
        src[i] = (uint8_t)rng();
    }
    CHECK(roundtrip(CODEC_FMT_RGB32, w, h, src, 0, 0, 0, 0));
    CHECK(roundtrip(CODEC_FMT_RGBA, w, h, src, 0, 0, 0, 0));
    free(src);
}

static void test_decode_conversions(void)
{
    uint32_t w = 40, h = 9;
    uint8_t src[40 * 9 * 4], out[40 * 9 * 4];
    fill_image(src, w, h, 4, PAT_GRADIENT);
    struct codec_image img = {CODEC_FMT_RGB32, w, h, (int32_t)(w * 4), src};
    uint8_t enc[8192];
    int n = quic_encode(&img, enc, sizeof(enc), NULL);
    CHECK(n > 0);
    CHECK_EQ(quic_decode(enc, (size_t)n, out, w * h * 3, (int32_t)w * 3, CODEC_FMT_RGB24, NULL), 0);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        CHECK_MEM_EQ(out + 3 * i, src + 4 * i, 3);
    }
    CHECK_EQ(quic_decode(enc, (size_t)n, out, sizeof(out), (int32_t)w * 4, CODEC_FMT_RGBA, NULL),
             CLOVE_E_UNSUPPORTED);

    /* RGB16 to RGB32 widens each 5-bit channel as (v << 3) | (v >> 2). */
    uint8_t s16[40 * 9 * 2];
    fill_image(s16, w, h, 2, PAT_GRADIENT);
    struct codec_image i16 = {CODEC_FMT_RGB16, w, h, (int32_t)(w * 2), s16};
    n = quic_encode(&i16, enc, sizeof(enc), NULL);
    CHECK(n > 0);
    CHECK_EQ(quic_decode(enc, (size_t)n, out, sizeof(out), (int32_t)w * 4, CODEC_FMT_RGB32, NULL),
             0);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        unsigned v = s16[2 * i] | (unsigned)s16[2 * i + 1] << 8;
        unsigned b = v & 31, g = (v >> 5) & 31, r = (v >> 10) & 31;
        CHECK_EQ(out[4 * i], (b << 3) | (b >> 2));
        CHECK_EQ(out[4 * i + 1], (g << 3) | (g >> 2));
        CHECK_EQ(out[4 * i + 2], (r << 3) | (r >> 2));
        CHECK_EQ(out[4 * i + 3], 0);
    }
}

/* ---- errors ---- */

static void test_encode_errors(void)
{
    uint8_t px[64] = {0}, out[256];
    struct codec_image img = {CODEC_FMT_RGB32, 4, 4, 16, px};
    const char *err = NULL;
    CHECK_EQ(quic_encode(&img, out, 8, &err), CLOVE_E_RANGE);
    CHECK(err != NULL);
    struct codec_image bad = img;
    bad.stride = 8;
    CHECK_EQ(quic_encode(&bad, out, sizeof(out), NULL), CLOVE_E_INVALID);
    bad = img;
    bad.width = 0;
    CHECK_EQ(quic_encode(&bad, out, sizeof(out), NULL), CLOVE_E_INVALID);
    CHECK_EQ(quic_encode_bound(&bad), 0);
    bad = img;
    bad.format = CODEC_FMT_PLT8;
    CHECK_EQ(quic_encode(&bad, out, sizeof(out), NULL), CLOVE_E_UNSUPPORTED);
    bad = img;
    bad.width = CODEC_MAX_DIM + 1;
    CHECK_EQ(quic_encode(&bad, out, sizeof(out), NULL), CLOVE_E_RANGE);
}

static void test_decode_rejects_damage(void)
{
    uint32_t w = 64, h = 32;
    uint8_t *src = malloc((size_t)w * h * 4);
    fill_image(src, w, h, 4, PAT_NOISE);
    struct codec_image img = {CODEC_FMT_RGB32, w, h, (int32_t)(w * 4), src};
    size_t cap = quic_encode_bound(&img);
    uint8_t *enc = malloc(cap), *out = malloc((size_t)w * h * 4);
    int n = quic_encode(&img, enc, cap, NULL);
    CHECK(n > 24);
    size_t out_len = (size_t)w * h * 4;
    int32_t stride = (int32_t)w * 4;

    /* Every truncation fails cleanly. */
    for (int len = 0; len < n; len += (len < 64 ? 1 : 37)) {
        CHECK(quic_decode(enc, (size_t)len, out, out_len, stride, CODEC_FMT_RGB32, NULL) < 0);
    }
    /* Header damage. */
    uint8_t *copy = malloc((size_t)n);
    static const size_t header_bytes[] = {0, 4, 8, 12, 14, 16, 19};
    for (size_t k = 0; k < sizeof(header_bytes) / sizeof(header_bytes[0]); k++) {
        memcpy(copy, enc, (size_t)n);
        copy[header_bytes[k]] ^= 0x40;
        int rc = quic_decode(copy, (size_t)n, out, out_len, stride, CODEC_FMT_RGB32, NULL);
        CHECK(rc < 0 || header_bytes[k] == 12 || header_bytes[k] == 16);
    }
    /* Random bit flips in the body never crash (result may be 0 or error). */
    for (int k = 0; k < 200; k++) {
        memcpy(copy, enc, (size_t)n);
        copy[QUIC_HEADER_BYTES + rng() % (uint32_t)(n - QUIC_HEADER_BYTES)] ^=
                (uint8_t)(1u << (rng() % 8));
        (void)quic_decode(copy, (size_t)n, out, out_len, stride, CODEC_FMT_RGB32, NULL);
    }
    /* Output buffer checks. */
    CHECK_EQ(quic_decode(enc, (size_t)n, out, out_len - 1, stride, CODEC_FMT_RGB32, NULL),
             CLOVE_E_INVALID);
    CHECK_EQ(quic_decode(enc, (size_t)n, out, out_len, stride - 1, CODEC_FMT_RGB32, NULL),
             CLOVE_E_INVALID);
    CHECK_EQ(quic_decode(enc, (size_t)n, NULL, out_len, stride, CODEC_FMT_RGB32, NULL),
             CLOVE_E_INVALID);
    CHECK_EQ(quic_decode(enc, (size_t)n, out, out_len, stride, CODEC_FMT_RGB32, NULL), 0);

    /* Oversized header dimensions. */
    memcpy(copy, enc, (size_t)n);
    copy[12] = 0;
    copy[13] = 0;
    copy[14] = 1; /* width 65536 */
    struct codec_info info;
    CHECK_EQ(quic_decode_header(copy, (size_t)n, &info, NULL), CLOVE_E_RANGE);
    CHECK_EQ(quic_decode_header(enc, (size_t)n, &info, NULL), 0);
    CHECK_EQ(info.width, w);
    CHECK_EQ(info.height, h);
    CHECK_EQ(info.format, CODEC_FMT_RGB32);
    free(copy);
    free(src);
    free(enc);
    free(out);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_golden_vectors),
            CHECK_CASE(test_golden_vectors_portable),
            CHECK_CASE(test_golden_vectors_sse2),
            CHECK_CASE(test_simd_matches_portable),
            CHECK_CASE(test_roundtrip_small_sizes),
            CHECK_CASE(test_roundtrip_patterns_odd_widths),
            CHECK_CASE(test_roundtrip_strides),
            CHECK_CASE(test_stride_sign_same_bytes),
            CHECK_CASE(test_roundtrip_large),
            CHECK_CASE(test_decode_conversions),
            CHECK_CASE(test_encode_errors),
            CHECK_CASE(test_decode_rejects_damage),
            {0},
    });
}
