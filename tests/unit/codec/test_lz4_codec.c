/*
 * Tests of the LZ4 image codec (src/codec/lz4_codec.c): exact round trips in
 * every format, stride and orientation; the wire layout checked by a decoder
 * written here straight from liblz4 (the way the client's canvas reads it);
 * and rejection of corrupt data.
 */
#include <lz4.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codec/lz4_codec.h"

/* Deterministic pixels with runs (compressible) and noise (not). */
static void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        p[i] = (i / 97) % 3 == 0 ? (uint8_t)(s >> 24) : (uint8_t)(i / 7);
    }
}

struct image {
    struct codec_image img;
    uint8_t *mem;
};

/* An image of `format` whose rows are `pad` bytes longer than needed and, if
 * bottom_up, stored last row first (negative stride). */
static struct image image_make(enum codec_format format, uint32_t w, uint32_t h, size_t pad,
                               int bottom_up, uint32_t seed)
{
    struct image im;
    size_t row = codec_format_row_bytes(format, w) + pad;
    im.mem = malloc(row * h);
    fill_pattern(im.mem, row * h, seed);
    im.img.format = format;
    im.img.width = w;
    im.img.height = h;
    im.img.stride = bottom_up ? -(int32_t)row : (int32_t)row;
    im.img.pixels = bottom_up ? im.mem + row * (h - 1) : im.mem;
    return im;
}

/* Compares the meaningful bytes of two images row by row (top to bottom). */
static int images_equal(const struct codec_image *a, const uint8_t *b_pixels, int32_t b_stride)
{
    size_t row = codec_format_row_bytes(a->format, a->width);
    for (uint32_t y = 0; y < a->height; y++) {
        if (memcmp(a->pixels + (ptrdiff_t)y * a->stride, b_pixels + (ptrdiff_t)y * b_stride, row)) {
            return 0;
        }
    }
    return 1;
}

/* Encodes, decodes into a buffer with stride `out_pad`/`out_bottom_up`, and
 * checks the pixels. Returns 1 on success. */
static int roundtrip(const struct codec_image *img, size_t out_pad, int out_bottom_up)
{
    size_t cap = lz4_codec_encode_bound(img);
    uint8_t *enc = malloc(cap);
    const char *err = NULL;
    int n = lz4_codec_encode(img, enc, cap, &err);
    if (n <= 0) {
        printf("# encode: %d %s\n", n, err ? err : "");
        free(enc);
        return 0;
    }
    struct codec_info info;
    if (lz4_codec_decode_header(enc, (size_t)n, &info, &err) != 0 || info.format != img->format ||
        info.top_down != (img->stride >= 0)) {
        free(enc);
        return 0;
    }
    info.width = img->width;
    info.height = img->height;
    size_t row = codec_format_row_bytes(img->format, img->width) + out_pad;
    uint8_t *mem = malloc(row * img->height);
    memset(mem, 0xcd, row * img->height);
    int32_t stride = out_bottom_up ? -(int32_t)row : (int32_t)row;
    uint8_t *pixels = out_bottom_up ? mem + row * (img->height - 1) : mem;
    int r = lz4_codec_decode(enc, (size_t)n, &info, pixels, stride, &err);
    int ok = r == 0 && images_equal(img, pixels, stride);
    if (r != 0) {
        printf("# decode: %d %s\n", r, err ? err : "");
    }
    free(mem);
    free(enc);
    return ok;
}

static void test_roundtrip_formats(void)
{
    const enum codec_format formats[] = {CODEC_FMT_RGB32, CODEC_FMT_RGBA, CODEC_FMT_RGB24,
                                         CODEC_FMT_RGB16};
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        struct image im = image_make(formats[i], 37, 23, 0, 0, (uint32_t)i);
        int ok = roundtrip(&im.img, 0, 0);
        free(im.mem);
        CHECK(ok);
    }
}

static void test_roundtrip_tiny(void)
{
    struct image im = image_make(CODEC_FMT_RGB32, 1, 1, 0, 0, 7);
    int ok = roundtrip(&im.img, 0, 0) && roundtrip(&im.img, 3, 1);
    free(im.mem);
    CHECK(ok);
}

/* Every combination of source and destination orientation and padding,
 * on images spanning several blocks so the cross-block history matters. */
static void test_roundtrip_strides_and_orientation(void)
{
    for (int src_bottom_up = 0; src_bottom_up < 2; src_bottom_up++) {
        for (size_t src_pad = 0; src_pad <= 12; src_pad += 12) {
            struct image im = image_make(CODEC_FMT_RGB24, 333, 901, src_pad, src_bottom_up,
                                         (uint32_t)src_pad);
            for (int dst_bottom_up = 0; dst_bottom_up < 2; dst_bottom_up++) {
                for (size_t dst_pad = 0; dst_pad <= 5; dst_pad += 5) {
                    if (!roundtrip(&im.img, dst_pad, dst_bottom_up)) {
                        printf("# src bu %d pad %zu dst bu %d pad %zu\n", src_bottom_up, src_pad,
                               dst_bottom_up, dst_pad);
                        free(im.mem);
                        CHECK(0);
                    }
                }
            }
            free(im.mem);
        }
    }
}

/* The odd height leaves a middle row in place when rows are reversed. */
static void test_roundtrip_reverse_odd_and_even(void)
{
    for (uint32_t h = 1; h <= 6; h++) {
        struct image im = image_make(CODEC_FMT_RGB32, 300, h, 0, 1, h);
        int ok = roundtrip(&im.img, 0, 0) && roundtrip(&im.img, 4, 0);
        free(im.mem);
        CHECK(ok);
    }
}

static void test_roundtrip_full_hd(void)
{
    struct image im = image_make(CODEC_FMT_RGB32, 1920, 1080, 0, 0, 3);
    int ok = roundtrip(&im.img, 0, 0);
    free(im.mem);
    CHECK(ok);
}

/* Checks the wire layout without our decoder: top_down and format bytes, then
 * big-endian sizes of blocks decompressed with liblz4's streaming decoder
 * into one buffer, as spice-common's canvas_get_lz4() does. */
static void test_wire_layout(void)
{
    struct image im = image_make(CODEC_FMT_RGB32, 700, 400, 0, 0, 11);
    size_t cap = lz4_codec_encode_bound(&im.img);
    uint8_t *enc = malloc(cap);
    int n = lz4_codec_encode(&im.img, enc, cap, NULL);
    CHECK(n > 2);
    CHECK_EQ(enc[0], 1);
    CHECK_EQ(enc[1], 8); /* SPICE_BITMAP_FMT_32BIT */
    size_t total = 700 * 4 * 400;
    uint8_t *raw = malloc(total);
    LZ4_streamDecode_t *sd = LZ4_createStreamDecode();
    size_t pos = 2, produced = 0;
    int blocks = 0;
    while (pos < (size_t)n) {
        uint32_t size = (uint32_t)enc[pos] << 24 | (uint32_t)enc[pos + 1] << 16 |
                        (uint32_t)enc[pos + 2] << 8 | enc[pos + 3];
        pos += 4;
        int got = LZ4_decompress_safe_continue(sd, (const char *)enc + pos, (char *)raw + produced,
                                               (int)size, (int)(total - produced));
        if (got <= 0) {
            break;
        }
        produced += (size_t)got;
        pos += size;
        blocks++;
    }
    LZ4_freeStreamDecode(sd);
    int same = produced == total && memcmp(raw, im.img.pixels, total) == 0;
    free(raw);
    free(enc);
    free(im.mem);
    CHECK_EQ(pos, (size_t)n);
    CHECK(blocks > 1);
    CHECK(same);
}

/* A stream made the way the SPICE server makes it (one block per chunk of
 * lines, LZ4_compress_fast_continue over contiguous lines) decodes. */
static void test_decodes_server_style_stream(void)
{
    const uint32_t w = 64, h = 50;
    size_t row = w * 2;
    uint8_t *pixels = malloc(row * h);
    fill_pattern(pixels, row * h, 5);
    uint8_t *enc = malloc(2 + 5 * (4 + LZ4_COMPRESSBOUND(row * 10)));
    enc[0] = 0; /* bottom-up: the first wire row is the bottom row */
    enc[1] = 6; /* SPICE_BITMAP_FMT_16BIT */
    size_t pos = 2;
    LZ4_stream_t *stream = LZ4_createStream();
    for (uint32_t line = 0; line < h; line += 10) {
        int c = LZ4_compress_fast_continue(stream, (const char *)pixels + line * row,
                                           (char *)enc + pos + 4, (int)(row * 10),
                                           LZ4_COMPRESSBOUND(row * 10), 1);
        enc[pos] = (uint8_t)(c >> 24);
        enc[pos + 1] = (uint8_t)(c >> 16);
        enc[pos + 2] = (uint8_t)(c >> 8);
        enc[pos + 3] = (uint8_t)c;
        pos += 4 + (size_t)c;
    }
    LZ4_freeStream(stream);
    struct codec_info info;
    CHECK_EQ(lz4_codec_decode_header(enc, pos, &info, NULL), 0);
    CHECK_EQ(info.format, CODEC_FMT_RGB16);
    CHECK_EQ(info.top_down, 0);
    info.width = w;
    info.height = h;
    uint8_t *out = malloc(row * h);
    int r = lz4_codec_decode(enc, pos, &info, out, (int32_t)row, NULL);
    int flipped_ok = 1;
    for (uint32_t y = 0; y < h; y++) {
        flipped_ok &= memcmp(out + y * row, pixels + (h - 1 - y) * row, row) == 0;
    }
    free(out);
    free(enc);
    free(pixels);
    CHECK_EQ(r, 0);
    CHECK(flipped_ok);
}

static void test_encode_errors(void)
{
    struct image im = image_make(CODEC_FMT_RGB32, 100, 100, 0, 0, 1);
    uint8_t small[64];
    const char *err = NULL;
    CHECK_EQ(lz4_codec_encode(&im.img, small, sizeof(small), &err), CLOVE_E_RANGE);
    CHECK(err != NULL);
    CHECK_EQ(lz4_codec_encode(&im.img, small, 1, NULL), CLOVE_E_RANGE);
    struct codec_image bad = im.img;
    bad.format = CODEC_FMT_PLT8;
    CHECK_EQ(lz4_codec_encode(&bad, small, sizeof(small), NULL), CLOVE_E_UNSUPPORTED);
    CHECK_EQ(lz4_codec_encode_bound(&bad), 0);
    bad = im.img;
    bad.width = 0;
    CHECK_EQ(lz4_codec_encode(&bad, small, sizeof(small), NULL), CLOVE_E_RANGE);
    bad = im.img;
    bad.width = CODEC_MAX_DIM + 1;
    CHECK_EQ(lz4_codec_encode_bound(&bad), 0);
    bad = im.img;
    bad.stride = 399;
    CHECK_EQ(lz4_codec_encode(&bad, small, sizeof(small), NULL), CLOVE_E_INVALID);
    free(im.mem);
}

/* An encoded 40x30 RGB32 image, for the corruption tests. */
struct sample {
    uint8_t *enc;
    size_t len;
    struct codec_info info;
    uint8_t out[40 * 30 * 4];
};

static void sample_make(struct sample *s)
{
    struct image im = image_make(CODEC_FMT_RGB32, 40, 30, 0, 0, 9);
    size_t cap = lz4_codec_encode_bound(&im.img);
    s->enc = malloc(cap + 16);
    s->len = (size_t)lz4_codec_encode(&im.img, s->enc, cap, NULL);
    s->info = (struct codec_info){CODEC_FMT_RGB32, 40, 30, 1};
    free(im.mem);
}

static int sample_decode(struct sample *s, const uint8_t *data, size_t len)
{
    return lz4_codec_decode(data, len, &s->info, s->out, 40 * 4, NULL);
}

static void test_reject_truncated(void)
{
    struct sample s;
    sample_make(&s);
    CHECK_EQ(sample_decode(&s, s.enc, s.len), 0);
    for (size_t len = 0; len < s.len; len++) {
        /* An exact-size copy so ASan sees any read past the end. */
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, s.enc, len);
        int r = sample_decode(&s, copy, len);
        free(copy);
        if (r == 0) {
            printf("# truncated to %zu accepted\n", len);
            free(s.enc);
            CHECK(0);
        }
    }
    free(s.enc);
}

static void test_reject_bad_headers_and_sizes(void)
{
    struct sample s;
    sample_make(&s);
    const char *err = NULL;

    s.enc[1] = 5; /* SPICE_BITMAP_FMT_8BIT: not LZ4's */
    CHECK_EQ(lz4_codec_decode(s.enc, s.len, &s.info, s.out, 160, &err), CLOVE_E_UNSUPPORTED);
    s.enc[1] = 9; /* RGBA, but the buffer was sized for RGB32 */
    CHECK_EQ(sample_decode(&s, s.enc, s.len), CLOVE_E_INVALID);
    s.enc[1] = 8;

    s.enc[s.len] = 0; /* trailing bytes */
    CHECK_EQ(sample_decode(&s, s.enc, s.len + 1), CLOVE_E_INVALID);
    memset(s.enc + s.len, 0, 4); /* a trailing zero-size block */
    CHECK_EQ(sample_decode(&s, s.enc, s.len + 4), CLOVE_E_INVALID);

    uint8_t saved = s.enc[2];
    s.enc[2] = 0x80; /* first block size far beyond the data */
    CHECK_EQ(sample_decode(&s, s.enc, s.len), CLOVE_E_INVALID);
    s.enc[2] = saved;

    s.info.height = 31; /* more rows than the data holds */
    CHECK_EQ(sample_decode(&s, s.enc, s.len), CLOVE_E_INVALID);
    s.info.height = 29; /* fewer */
    CHECK_EQ(sample_decode(&s, s.enc, s.len), CLOVE_E_INVALID);
    s.info.height = 30;
    s.info.width = 0;
    CHECK_EQ(sample_decode(&s, s.enc, s.len), CLOVE_E_RANGE);
    s.info.width = 40;
    CHECK_EQ(lz4_codec_decode(s.enc, s.len, &s.info, s.out, 100, NULL), CLOVE_E_INVALID);
    CHECK_EQ(sample_decode(&s, s.enc, s.len), 0);
    free(s.enc);
}

/* Flipped bits must never crash; most are caught. */
static void test_bit_flips_are_safe(void)
{
    struct sample s;
    sample_make(&s);
    int rejected = 0, total = 0;
    for (size_t i = 2; i < s.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            s.enc[i] ^= (uint8_t)(1u << bit);
            rejected += sample_decode(&s, s.enc, s.len) != 0;
            total++;
            s.enc[i] ^= (uint8_t)(1u << bit);
        }
    }
    free(s.enc);
    printf("# %d of %d single-bit flips rejected\n", rejected, total);
    CHECK(rejected > 0);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_roundtrip_formats),
            CHECK_CASE(test_roundtrip_tiny),
            CHECK_CASE(test_roundtrip_strides_and_orientation),
            CHECK_CASE(test_roundtrip_reverse_odd_and_even),
            CHECK_CASE(test_roundtrip_full_hd),
            CHECK_CASE(test_wire_layout),
            CHECK_CASE(test_decodes_server_style_stream),
            CHECK_CASE(test_encode_errors),
            CHECK_CASE(test_reject_truncated),
            CHECK_CASE(test_reject_bad_headers_and_sizes),
            CHECK_CASE(test_bit_flips_are_safe),
            {0},
    });
}
