/*
 * Tests of src/codec/lz.c: round trips over generated screen content in
 * every LZ type (both palette bit orders, odd widths, padded and negative
 * strides, 1x1 up to 4096x2160), golden vectors made by the reference
 * encoder (tests/data/lz/README.md), the RGB32 fast and checked encoder
 * paths, and corrupt or truncated streams.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codec/lz.h"

static uint32_t rng;

static uint32_t next_rand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

/* Screen-like BGRA pixel at (x, y) for content kind 0..4: text, UI,
 * gradient, noise, mixed blocks. */
static uint32_t gen_pixel(int kind, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
    uint32_t v;
    switch (kind) {
    case 0:
        v = (y % 14 < 12 && (x / 8) % 7 && next_rand() % 3 == 0) ? 0xe0e0e0 : 0x202020;
        break;
    case 1:
        v = x < w / 3 ? 0x3050a0 : (y < h / 4 ? 0xd0d0d0 : 0xffffff);
        if (x % 50 == 0 || y % 40 == 0) {
            v = 0x808080;
        }
        break;
    case 2:
        v = ((x * 255 / w) << 16) | ((y * 255 / h) << 8) | 0x40;
        break;
    case 3:
        v = next_rand() & 0xffffff;
        break;
    default:
        v = next_rand() % 4 == 0 ? next_rand() & 0xffffff : 0x102030 * ((x / 16 + y / 16) % 3);
        break;
    }
    uint32_t a = (x < 3 || y < 3) ? (x + y) * 40 : 255;
    return v | (a << 24);
}

/* Builds an image of `format` with rows `stride` bytes apart (negative:
 * bottom-up in memory). *mem is the allocation to free. */
static struct codec_image make_image(enum codec_format format, uint32_t w, uint32_t h, int kind,
                                     int32_t stride, uint8_t **mem)
{
    size_t abs_stride = stride < 0 ? (size_t)-stride : (size_t)stride;
    *mem = calloc(abs_stride * h + 8, 1);
    uint8_t *row0 = stride < 0 ? *mem + abs_stride * (h - 1) : *mem;
    rng = (uint32_t)(kind * 7919 + w * 31 + h);
    for (uint32_t y = 0; y < h; y++) {
        uint8_t *r = row0 + (ptrdiff_t)y * stride;
        for (uint32_t x = 0; x < w; x++) {
            uint32_t p = gen_pixel(kind, x, y, w, h);
            uint32_t idx = (p ^ (p >> 8) ^ (p >> 16)) & 0xff;
            switch (format) {
            case CODEC_FMT_RGB32:
            case CODEC_FMT_RGBA:
            case CODEC_FMT_XXXA:
                memcpy(r + 4 * x, &p, 4);
                break;
            case CODEC_FMT_RGB24:
                memcpy(r + 3 * x, &p, 3);
                break;
            case CODEC_FMT_RGB16:
                r[2 * x] = (uint8_t)p;
                r[2 * x + 1] = (uint8_t)(p >> 8);
                break;
            case CODEC_FMT_A8:
            case CODEC_FMT_PLT8:
                r[x] = (uint8_t)idx;
                break;
            case CODEC_FMT_PLT4_LE:
            case CODEC_FMT_PLT4_BE:
                r[x / 2] |= (uint8_t)((idx & 15) << ((x & 1) * 4));
                break;
            default:
                r[x / 8] |= (uint8_t)((idx & 1) << (x & 7));
                break;
            }
        }
    }
    struct codec_image img = {format, w, h, stride, row0};
    return img;
}

/* Compares the bytes a decoder reproduces: RGB32 ignores the pad byte,
 * XXXA keeps only the alpha byte. */
static int same_pixels(const struct codec_image *a, const uint8_t *b, int32_t b_stride)
{
    size_t row = codec_format_row_bytes(a->format, a->width);
    for (uint32_t y = 0; y < a->height; y++) {
        const uint8_t *ra = a->pixels + (ptrdiff_t)y * a->stride;
        const uint8_t *rb = b + (ptrdiff_t)y * b_stride;
        for (size_t i = 0; i < row; i++) {
            if (a->format == CODEC_FMT_RGB32 && i % 4 == 3) {
                continue;
            }
            if (a->format == CODEC_FMT_XXXA && i % 4 != 3) {
                continue;
            }
            if (ra[i] != rb[i]) {
                return 0;
            }
        }
    }
    return 1;
}

static const enum codec_format all_formats[] = {
        CODEC_FMT_PLT1_LE, CODEC_FMT_PLT1_BE, CODEC_FMT_PLT4_LE, CODEC_FMT_PLT4_BE,
        CODEC_FMT_PLT8,    CODEC_FMT_RGB16,   CODEC_FMT_RGB24,   CODEC_FMT_RGB32,
        CODEC_FMT_RGBA,    CODEC_FMT_XXXA,    CODEC_FMT_A8,
};

/* Encodes, decodes into a buffer with out_stride and compares. */
static int round_trip(const struct codec_image *img, int32_t out_stride)
{
    size_t cap = lz_encode_bound(img);
    uint8_t *enc = malloc(cap);
    const char *err = NULL;
    int n = lz_encode(img, enc, cap, &err);
    if (n <= 0) {
        printf("# encode failed: %s\n", err ? err : "?");
        free(enc);
        return 0;
    }
    struct codec_info info;
    if (lz_decode_header(enc, (size_t)n, &info, &err) < 0 || info.format != img->format ||
        info.width != img->width || info.height != img->height) {
        free(enc);
        return 0;
    }
    size_t abs_stride = out_stride < 0 ? (size_t)-out_stride : (size_t)out_stride;
    uint8_t *mem = calloc(abs_stride * img->height + 8, 1);
    uint8_t *row0 = out_stride < 0 ? mem + abs_stride * (img->height - 1) : mem;
    int ok = lz_decode(enc, (size_t)n, row0, out_stride, &err) == 0 &&
             same_pixels(img, row0, out_stride);
    if (!ok) {
        printf("# decode mismatch fmt %d %ux%u: %s\n", img->format, img->width, img->height,
               err ? err : "pixels differ");
    }
    free(mem);
    free(enc);
    return ok;
}

static void test_round_trip_all_types(void)
{
    static const uint32_t sizes[][2] = {{1, 1}, {2, 1},  {1, 3},   {3, 3},    {7, 5},
                                        {9, 9}, {17, 3}, {33, 33}, {257, 64}, {1023, 37}};
    for (size_t f = 0; f < sizeof(all_formats) / sizeof(all_formats[0]); f++) {
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            for (int kind = 0; kind < 5; kind++) {
                uint32_t w = sizes[s][0], h = sizes[s][1];
                int32_t row = (int32_t)codec_format_row_bytes(all_formats[f], w);
                uint8_t *mem;
                struct codec_image img = make_image(all_formats[f], w, h, kind, row, &mem);
                int ok = round_trip(&img, row);
                free(mem);
                CHECK(ok);
            }
        }
    }
}

static void test_strides(void)
{
    for (size_t f = 0; f < sizeof(all_formats) / sizeof(all_formats[0]); f++) {
        uint32_t w = 45, h = 21;
        int32_t row = (int32_t)codec_format_row_bytes(all_formats[f], w);
        int32_t strides[] = {row, row + 7, -row, -(row + 5)};
        for (size_t i = 0; i < 4; i++) {
            uint8_t *mem;
            struct codec_image img = make_image(all_formats[f], w, h, 0, strides[i], &mem);
            int ok = round_trip(&img, row) && round_trip(&img, -row) && round_trip(&img, row + 3);
            free(mem);
            CHECK(ok);
        }
    }
}

static void test_large_images(void)
{
    static const uint32_t sizes[][2] = {{4096, 2160}, {1920, 1080}, {16384, 2}};
    for (size_t s = 0; s < 3; s++) {
        uint8_t *mem;
        int32_t row = (int32_t)(sizes[s][0] * 4);
        struct codec_image img =
                make_image(CODEC_FMT_RGB32, sizes[s][0], sizes[s][1], (int)s + 1, row, &mem);
        int ok = round_trip(&img, row);
        free(mem);
        CHECK(ok);
    }
}

static void test_compresses_screen_content(void)
{
    uint8_t *mem;
    struct codec_image img = make_image(CODEC_FMT_RGB32, 640, 480, 1, 640 * 4, &mem);
    size_t cap = lz_encode_bound(&img);
    uint8_t *enc = malloc(cap);
    int n = lz_encode(&img, enc, cap, NULL);
    free(enc);
    free(mem);
    CHECK(n > 0);
    CHECK(n < 640 * 480 * 4 / 50);
}

/* Decodes an RGB32 stream of img's size and compares the pixels. */
static int decodes_to(const struct codec_image *img, const uint8_t *enc, int n)
{
    size_t row = (size_t)img->width * 4;
    uint8_t *out = malloc(row * img->height);
    int ok = n > 0 && lz_decode(enc, (size_t)n, out, (int32_t)row, NULL) == 0 &&
             same_pixels(img, out, (int32_t)row);
    free(out);
    return ok;
}

/*
 * RGB32 with a full lz_encode_bound() buffer takes the SSE2 fast path;
 * a smaller buffer takes the checked path. Both must decode to the image,
 * ignore the pad byte, and never cost more than plain literals.
 */
static void test_rgb32_fast_and_checked_paths(void)
{
    static const uint32_t sizes[][2] = {{1, 1}, {7, 1}, {8, 1}, {9, 2}, {31, 5}, {200, 40}};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (int kind = 0; kind < 5; kind++) {
            uint32_t w = sizes[s][0], h = sizes[s][1];
            uint8_t *mem, *mem2;
            struct codec_image img = make_image(CODEC_FMT_RGB32, w, h, kind, (int32_t)w * 4, &mem);
            struct codec_image pad = make_image(CODEC_FMT_RGB32, w, h, kind, (int32_t)w * 4, &mem2);
            for (size_t i = 0; i < (size_t)w * h; i++) {
                mem2[4 * i + 3] = (uint8_t)(i * 37);
                mem[4 * i + 3] = 0;
            }
            size_t cap = lz_encode_bound(&img);
            uint8_t *a = malloc(cap), *b = malloc(cap), *c = malloc(cap);
            int na = lz_encode(&img, a, cap, NULL);
            int nb = lz_encode(&pad, b, cap, NULL);
            int nc = lz_encode(&img, c, cap - 1, NULL);
            size_t units = (size_t)w * h;
            CHECK(na > 0 && (size_t)na <= LZ_HEADER_SIZE + 3 * units + (units + 31) / 32);
            CHECK(na == nb && memcmp(a, b, (size_t)na) == 0);
            CHECK(decodes_to(&img, a, na));
            CHECK(decodes_to(&img, c, nc));
            CHECK_EQ(lz_encode(&img, c, LZ_HEADER_SIZE + 1, NULL), CLOVE_E_RANGE);
            free(a);
            free(b);
            free(c);
            free(mem);
            free(mem2);
        }
    }
}

/*
 * The RGB fast path keeps positions mod 2^16 in its hash table, so repeats
 * 65535, 65536 (the farthest it can reach) and 65537+ units back (which
 * alias to nearer positions) must all still round-trip, within the
 * literal bound, on noise where the scan also steps over positions.
 */
static void test_rgb32_repeats_far_back(void)
{
    static const size_t dists[] = {65535, 65536, 65537, 73727, 73728};
    const uint32_t w = 500, h = 300;
    uint8_t *mem;
    struct codec_image img = make_image(CODEC_FMT_RGB32, w, h, 3, (int32_t)w * 4, &mem);
    for (size_t k = 0; k < sizeof(dists) / sizeof(dists[0]); k++) {
        size_t src = 1000 + k * 700;
        memcpy(mem + 4 * (src + dists[k]), mem + 4 * src, 4 * 600);
    }
    size_t cap = lz_encode_bound(&img);
    uint8_t *enc = malloc(cap);
    int n = lz_encode(&img, enc, cap, NULL);
    size_t units = (size_t)w * h;
    CHECK(n > 0 && (size_t)n <= LZ_HEADER_SIZE + 3 * units + (units + 31) / 32);
    CHECK(decodes_to(&img, enc, n));
    free(enc);
    free(mem);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static void data_path(char *out, size_t cap, const char *name)
{
    const char *file = __FILE__;
    const char *cut = strstr(file, "unit/codec/test_lz.c");
    int prefix = cut ? (int)(cut - file) : 0;
    snprintf(out, cap, "%.*sdata/lz/%s", prefix, file, name);
}

static void test_golden_vectors(void)
{
    static const struct {
        const char *name;
        enum codec_format format;
    } types[] = {{"plt1_le", CODEC_FMT_PLT1_LE},
                 {"plt1_be", CODEC_FMT_PLT1_BE},
                 {"plt4_le", CODEC_FMT_PLT4_LE},
                 {"plt4_be", CODEC_FMT_PLT4_BE},
                 {"plt8", CODEC_FMT_PLT8},
                 {"rgb16", CODEC_FMT_RGB16},
                 {"rgb24", CODEC_FMT_RGB24},
                 {"rgb32", CODEC_FMT_RGB32},
                 {"rgba", CODEC_FMT_RGBA},
                 {"xxxa", CODEC_FMT_XXXA},
                 {"a8", CODEC_FMT_A8}};
    static const uint32_t sizes[][2] = {{1, 1}, {7, 5}, {61, 17}};
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        for (size_t s = 0; s < 3; s++) {
            char name[64], path[1024];
            uint32_t w = sizes[s][0], h = sizes[s][1];
            size_t raw_len = 0, lz_len = 0;
            snprintf(name, sizeof(name), "%s_%ux%u.raw", types[t].name, w, h);
            data_path(path, sizeof(path), name);
            uint8_t *raw = read_file(path, &raw_len);
            snprintf(name, sizeof(name), "%s_%ux%u.lz", types[t].name, w, h);
            data_path(path, sizeof(path), name);
            uint8_t *lz = read_file(path, &lz_len);
            if (!raw || !lz) {
                printf("# missing golden vector %s\n", path);
                free(raw);
                free(lz);
                CHECK(0);
            }
            size_t row = codec_format_row_bytes(types[t].format, w);
            struct codec_image img = {types[t].format, w, h, (int32_t)row, raw};
            uint8_t *out = calloc(row * h, 1);
            int rc = lz_decode(lz, lz_len, out, (int32_t)row, NULL);
            int ok = rc == 0 && raw_len == row * h && same_pixels(&img, out, (int32_t)row) &&
                     round_trip(&img, (int32_t)row);
            free(out);
            free(raw);
            free(lz);
            CHECK(ok);
        }
    }
}

static void test_corrupt_streams(void)
{
    uint8_t *mem;
    struct codec_image img = make_image(CODEC_FMT_RGBA, 37, 23, 4, 37 * 4, &mem);
    size_t cap = lz_encode_bound(&img);
    uint8_t *enc = malloc(cap);
    int n = lz_encode(&img, enc, cap, NULL);
    CHECK(n > LZ_HEADER_SIZE);
    uint8_t *out = malloc(37 * 4 * 23);
    /* Every truncation fails cleanly. */
    for (int len = 0; len < n; len++) {
        CHECK(lz_decode(enc, (size_t)len, out, 37 * 4, NULL) < 0);
    }
    /* Trailing bytes are refused like the reference's end check. */
    uint8_t *longer = malloc((size_t)n + 1);
    memcpy(longer, enc, (size_t)n);
    longer[n] = 0;
    CHECK(lz_decode(longer, (size_t)n + 1, out, 37 * 4, NULL) < 0);
    free(longer);
    /* Bit flips never crash; header damage is reported. */
    const char *err = NULL;
    for (int i = 0; i < n * 8; i++) {
        enc[i / 8] ^= (uint8_t)(1u << (i % 8));
        struct codec_info info;
        int rc = lz_decode_header(enc, (size_t)n, &info, &err);
        if (i / 8 < 8) {
            CHECK(rc < 0);
        }
        /* The caller sizes the output from the header. */
        if (rc == 0 &&
            codec_format_row_bytes(info.format, info.width) * info.height <= 37 * 4 * 23) {
            rc = lz_decode(enc, (size_t)n, out,
                           (int32_t)codec_format_row_bytes(info.format, info.width), &err);
        }
        enc[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    /* A match reaching before the first pixel is refused. */
    uint8_t bad[LZ_HEADER_SIZE + 4];
    memcpy(bad, enc, LZ_HEADER_SIZE);
    bad[11] = 11; /* A8 */
    memcpy(bad + 12, "\0\0\0\x04\0\0\0\x01\0\0\0\x04\0\0\0\x01", 16);
    bad[LZ_HEADER_SIZE] = 0x20; /* match, length 3, distance 1, at position 0 */
    bad[LZ_HEADER_SIZE + 1] = 0;
    CHECK(lz_decode(bad, LZ_HEADER_SIZE + 2, out, 4, &err) < 0);
    CHECK(err != NULL);
    /* Output buffer too small for the encoder. */
    CHECK_EQ(lz_encode(&img, enc, 40, NULL), CLOVE_E_RANGE);
    free(out);
    free(enc);
    free(mem);
}

static void test_invalid_arguments(void)
{
    uint8_t px[16] = {0}, out[64];
    struct codec_image img = {CODEC_FMT_RGB32, 0, 1, 4, px};
    CHECK_EQ(lz_encode_bound(&img), 0);
    CHECK_EQ(lz_encode(&img, out, sizeof(out), NULL), CLOVE_E_INVALID);
    img.width = 2;
    img.stride = 4;
    CHECK_EQ(lz_encode(&img, out, sizeof(out), NULL), CLOVE_E_INVALID);
    img.format = CODEC_FMT_INVALID;
    CHECK_EQ(lz_encode(&img, out, sizeof(out), NULL), CLOVE_E_INVALID);
    struct codec_info info;
    CHECK_EQ(lz_decode_header(out, 3, &info, NULL), CLOVE_E_INCOMPLETE);
}

int main(void)
{
    return check_run((struct check_case[]){CHECK_CASE(test_round_trip_all_types),
                                           CHECK_CASE(test_strides),
                                           CHECK_CASE(test_large_images),
                                           CHECK_CASE(test_compresses_screen_content),
                                           CHECK_CASE(test_rgb32_fast_and_checked_paths),
                                           CHECK_CASE(test_rgb32_repeats_far_back),
                                           CHECK_CASE(test_golden_vectors),
                                           CHECK_CASE(test_corrupt_streams),
                                           CHECK_CASE(test_invalid_arguments),
                                           {0}});
}
