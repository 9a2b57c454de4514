/*
 * Tests of the JPEG image codec (src/codec/jpeg_codec.c): round trips held to
 * a PSNR floor (JPEG is lossy), orientation and strides, the baseline 4:2:0
 * stream the SPICE server sends, and rejection of corrupt data.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codec/jpeg_codec.h"

/* A smooth picture (gradients and a soft disc) with a bright bottom band, so
 * that an upside-down decode is far off. Stored as B, G, R, X. */
static uint8_t *make_bgrx(uint32_t w, uint32_t h)
{
    uint8_t *p = malloc((size_t)w * h * 4);
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            uint8_t *px = p + ((size_t)y * w + x) * 4;
            double dx = (double)x - w / 2.0, dy = (double)y - h / 3.0;
            double k = w * h / 8.0 + 1;
            double disc = 80.0 * k / (k + dx * dx + dy * dy);
            px[0] = (uint8_t)(40 + 150.0 * x / w);
            px[1] = (uint8_t)(30 + disc + 100.0 * y / h);
            px[2] = (uint8_t)(y > h * 3 / 4 ? 230 : 60 + disc);
            px[3] = 0;
        }
    }
    return p;
}

/* Mean squared error over B, G, R of two 32-bit images, top row first. The
 * tests state quality as PSNR = 10 log10(255^2 / MSE); MSE_AT_DB gives the
 * MSE of a PSNR (kept as constants: the test links no libm). */
#define MSE_AT_28_DB 103.06
#define MSE_AT_32_DB 41.03
#define MSE_AT_34_DB 25.89
#define MSE_AT_36_DB 16.33
static double mse_bgrx(const uint8_t *a, int32_t a_stride, const uint8_t *b, int32_t b_stride,
                       uint32_t w, uint32_t h)
{
    double sum = 0;
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *ra = a + (ptrdiff_t)y * a_stride, *rb = b + (ptrdiff_t)y * b_stride;
        for (uint32_t x = 0; x < w * 4; x++) {
            if (x % 4 != 3) {
                double d = (double)ra[x] - rb[x];
                sum += d * d;
            }
        }
    }
    return sum / ((double)w * h * 3);
}

/* Encodes `img`, decodes into a top-down buffer and returns the MSE against
 * `ref` (BGRX, top-down, packed), or 1e9 on error. */
static double roundtrip_mse(const struct codec_image *img, int quality, const uint8_t *ref,
                            size_t *out_len)
{
    size_t cap = jpeg_codec_encode_bound(img);
    uint8_t *enc = malloc(cap);
    const char *err = NULL;
    int n = jpeg_codec_encode(img, quality, enc, cap, &err);
    if (n <= 0) {
        printf("# encode %d: %s\n", n, err ? err : "");
        free(enc);
        return 1e9;
    }
    if (out_len) {
        *out_len = (size_t)n;
    }
    struct codec_info info;
    int r = jpeg_codec_decode_header(enc, (size_t)n, &info, &err);
    if (r != 0 || info.width != img->width || info.height != img->height ||
        info.format != CODEC_FMT_RGB32) {
        free(enc);
        return 1e9;
    }
    int32_t stride = (int32_t)img->width * 4;
    uint8_t *out = malloc((size_t)stride * img->height);
    r = jpeg_codec_decode(enc, (size_t)n, &info, out, stride, &err);
    double mse = r == 0 ? mse_bgrx(ref, stride, out, stride, img->width, img->height) : 1e9;
    if (r != 0) {
        printf("# decode %d: %s\n", r, err ? err : "");
    }
    free(out);
    free(enc);
    return mse;
}

static void test_roundtrip_rgb32_quality(void)
{
    const uint32_t w = 160, h = 120;
    uint8_t *ref = make_bgrx(w, h);
    struct codec_image img = {CODEC_FMT_RGB32, w, h, (int32_t)w * 4, ref};
    size_t len85 = 0, len30 = 0;
    double q85 = roundtrip_mse(&img, JPEG_CODEC_DEFAULT_QUALITY, ref, &len85);
    double q100 = roundtrip_mse(&img, 100, ref, NULL);
    double q30 = roundtrip_mse(&img, 30, ref, &len30);
    free(ref);
    printf("# MSE q85 %.2f (%zu bytes), q100 %.2f, q30 %.2f (%zu bytes)\n", q85, len85, q100, q30,
           len30);
    /* 4:2:0 chroma subsampling of the sharp red band bounds even q100. */
    CHECK(q85 < MSE_AT_34_DB);
    CHECK(q100 < MSE_AT_36_DB);
    CHECK(q100 < q85);
    CHECK(q30 < MSE_AT_28_DB);
    CHECK(len30 < len85);
}

/* RGBA codes its colour only; RGB24 is the same colour in 3 bytes. */
static void test_roundtrip_rgba_and_rgb24(void)
{
    const uint32_t w = 77, h = 45;
    uint8_t *ref = make_bgrx(w, h);
    uint8_t *rgba = malloc((size_t)w * h * 4);
    uint8_t *bgr = malloc((size_t)w * h * 3);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        memcpy(rgba + 4 * i, ref + 4 * i, 3);
        rgba[4 * i + 3] = (uint8_t)i;
        memcpy(bgr + 3 * i, ref + 4 * i, 3);
    }
    struct codec_image a = {CODEC_FMT_RGBA, w, h, (int32_t)w * 4, rgba};
    struct codec_image b = {CODEC_FMT_RGB24, w, h, (int32_t)w * 3, bgr};
    double pa = roundtrip_mse(&a, 85, ref, NULL);
    double pb = roundtrip_mse(&b, 85, ref, NULL);
    free(ref);
    free(rgba);
    free(bgr);
    CHECK(pa < MSE_AT_34_DB);
    CHECK(pb < MSE_AT_34_DB);
}

/* x1r5g5b5 is widened the way the server does: (c << 3) | (c >> 2). */
static void test_roundtrip_rgb16(void)
{
    const uint32_t w = 64, h = 48;
    uint8_t *ref = make_bgrx(w, h);
    uint8_t *p16 = malloc((size_t)w * h * 2);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        unsigned b = ref[4 * i] >> 3, g = ref[4 * i + 1] >> 3, r = ref[4 * i + 2] >> 3;
        unsigned v = r << 10 | g << 5 | b;
        p16[2 * i] = (uint8_t)v;
        p16[2 * i + 1] = (uint8_t)(v >> 8);
        ref[4 * i] = (uint8_t)(b << 3 | b >> 2);
        ref[4 * i + 1] = (uint8_t)(g << 3 | g >> 2);
        ref[4 * i + 2] = (uint8_t)(r << 3 | r >> 2);
    }
    struct codec_image img = {CODEC_FMT_RGB16, w, h, (int32_t)w * 2, p16};
    double p = roundtrip_mse(&img, 90, ref, NULL);
    free(ref);
    free(p16);
    printf("# RGB16 MSE %.2f\n", p);
    CHECK(p < MSE_AT_32_DB);
}

/* A bottom-up source (negative stride) is still coded top row first, and a
 * bottom-up or padded destination gets the rows in the right places. */
static void test_orientation_and_strides(void)
{
    const uint32_t w = 96, h = 64;
    uint8_t *ref = make_bgrx(w, h);
    size_t row = (size_t)w * 4;
    uint8_t *flipped = malloc(row * h);
    for (uint32_t y = 0; y < h; y++) {
        memcpy(flipped + (h - 1 - y) * row, ref + y * row, row);
    }
    struct codec_image img = {CODEC_FMT_RGB32, w, h, -(int32_t)row, flipped + (h - 1) * row};
    double p = roundtrip_mse(&img, 85, ref, NULL);
    CHECK(p < MSE_AT_34_DB);

    struct codec_image straight = {CODEC_FMT_RGB32, w, h, (int32_t)row, ref};
    size_t cap = jpeg_codec_encode_bound(&straight);
    uint8_t *enc = malloc(cap);
    int n = jpeg_codec_encode(&straight, 85, enc, cap, NULL);
    CHECK(n > 0);
    struct codec_info info = {CODEC_FMT_RGB32, w, h, 1};
    size_t out_row = row + 20;
    uint8_t *out = malloc(out_row * h);
    int32_t out_stride = -(int32_t)out_row;
    uint8_t *top = out + out_row * (h - 1);
    int r = jpeg_codec_decode(enc, (size_t)n, &info, top, out_stride, NULL);
    double p2 = mse_bgrx(ref, (int32_t)row, top, out_stride, w, h);
    free(out);
    free(enc);
    free(flipped);
    free(ref);
    CHECK_EQ(r, 0);
    CHECK(p2 < MSE_AT_34_DB);
}

/* The server sends baseline JPEG (SOF0), YCbCr with 4:2:0 luma sampling. */
static void test_baseline_420_stream(void)
{
    const uint32_t w = 33, h = 17;
    uint8_t *ref = make_bgrx(w, h);
    struct codec_image img = {CODEC_FMT_RGB32, w, h, (int32_t)w * 4, ref};
    size_t cap = jpeg_codec_encode_bound(&img);
    uint8_t *enc = malloc(cap);
    int n = jpeg_codec_encode(&img, 85, enc, cap, NULL);
    CHECK(n > 4);
    CHECK(enc[0] == 0xff && enc[1] == 0xd8);
    CHECK(enc[n - 2] == 0xff && enc[n - 1] == 0xd9);
    int sof0 = -1, progressive = 0;
    for (int i = 0; i + 1 < n; i++) {
        if (enc[i] == 0xff && enc[i + 1] == 0xc0 && sof0 < 0) {
            sof0 = i;
        }
        if (enc[i] == 0xff && enc[i + 1] == 0xc2) {
            progressive = 1;
        }
    }
    CHECK(sof0 >= 0);
    CHECK(!progressive);
    /* FFC0, length(2), precision, height(2), width(2), ncomp, then id, sampling. */
    CHECK_EQ(enc[sof0 + 4], 8);
    CHECK_EQ(enc[sof0 + 5] << 8 | enc[sof0 + 6], h);
    CHECK_EQ(enc[sof0 + 7] << 8 | enc[sof0 + 8], w);
    CHECK_EQ(enc[sof0 + 9], 3);
    CHECK_EQ(enc[sof0 + 11], 0x22);
    CHECK_EQ(enc[sof0 + 14], 0x11);
    free(enc);
    free(ref);
}

static void test_encode_errors(void)
{
    const uint32_t w = 64, h = 64;
    uint8_t *ref = make_bgrx(w, h);
    struct codec_image img = {CODEC_FMT_RGB32, w, h, (int32_t)w * 4, ref};
    uint8_t small[100];
    const char *err = NULL;
    /* Too small: TurboJPEG spills into its own buffer; we free it and fail. */
    CHECK_EQ(jpeg_codec_encode(&img, 85, small, sizeof(small), &err), CLOVE_E_RANGE);
    CHECK(err != NULL);
    CHECK_EQ(jpeg_codec_encode(&img, 0, small, sizeof(small), NULL), CLOVE_E_INVALID);
    CHECK_EQ(jpeg_codec_encode(&img, 101, small, sizeof(small), NULL), CLOVE_E_INVALID);
    struct codec_image bad = img;
    bad.format = CODEC_FMT_A8;
    CHECK_EQ(jpeg_codec_encode(&bad, 85, small, sizeof(small), NULL), CLOVE_E_UNSUPPORTED);
    CHECK_EQ(jpeg_codec_encode_bound(&bad), 0);
    bad = img;
    bad.height = 0;
    CHECK_EQ(jpeg_codec_encode(&bad, 85, small, sizeof(small), NULL), CLOVE_E_RANGE);
    bad = img;
    bad.stride = 10;
    CHECK_EQ(jpeg_codec_encode(&bad, 85, small, sizeof(small), NULL), CLOVE_E_INVALID);
    free(ref);
}

struct sample {
    uint8_t *enc;
    size_t len;
    struct codec_info info;
    uint8_t out[48 * 40 * 4];
};

static void sample_make(struct sample *s)
{
    uint8_t *ref = make_bgrx(48, 40);
    struct codec_image img = {CODEC_FMT_RGB32, 48, 40, 48 * 4, ref};
    size_t cap = jpeg_codec_encode_bound(&img);
    s->enc = malloc(cap);
    s->len = (size_t)jpeg_codec_encode(&img, 85, s->enc, cap, NULL);
    s->info = (struct codec_info){CODEC_FMT_RGB32, 48, 40, 1};
    free(ref);
}

static int sample_decode(struct sample *s, const uint8_t *data, size_t len)
{
    return jpeg_codec_decode(data, len, &s->info, s->out, 48 * 4, NULL);
}

static void test_reject_truncated(void)
{
    struct sample s;
    sample_make(&s);
    CHECK_EQ(sample_decode(&s, s.enc, s.len), 0);
    int accepted = 0;
    /* Cutting the EOI marker alone leaves a complete picture; anything
     * shorter must fail (libjpeg's premature-end warning is an error). */
    for (size_t len = 0; len + 2 < s.len; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, s.enc, len);
        accepted += sample_decode(&s, copy, len) == 0;
        free(copy);
    }
    free(s.enc);
    CHECK_EQ(accepted, 0);
}

static void test_reject_garbage_and_mismatch(void)
{
    struct sample s;
    sample_make(&s);
    const char *err = NULL;
    uint8_t junk[256];
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (uint8_t)(i * 37 + 11);
    }
    struct codec_info info;
    CHECK_EQ(jpeg_codec_decode_header(junk, sizeof(junk), &info, &err), CLOVE_E_INVALID);
    CHECK(err != NULL);
    CHECK_EQ(sample_decode(&s, junk, sizeof(junk)), CLOVE_E_INVALID);
    CHECK_EQ(jpeg_codec_decode_header(s.enc, 0, &info, NULL), CLOVE_E_INVALID);
    s.info.width = 47;
    CHECK_EQ(sample_decode(&s, s.enc, s.len), CLOVE_E_INVALID);
    s.info.width = 48;
    CHECK_EQ(jpeg_codec_decode(s.enc, s.len, &s.info, s.out, 100, NULL), CLOVE_E_INVALID);
    free(s.enc);
}

/* Flipped bits must never crash. */
static void test_bit_flips_are_safe(void)
{
    struct sample s;
    sample_make(&s);
    int rejected = 0, total = 0;
    for (size_t i = 0; i < s.len; i += 3) {
        for (int bit = 0; bit < 8; bit += 3) {
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

/* Colour through JPEG, alpha exact through LZ, for both source orientations
 * and a bottom-up padded destination. */
static void test_alpha_roundtrip(void)
{
    const uint32_t w = 70, h = 50;
    uint8_t *ref = make_bgrx(w, h);
    size_t row = (size_t)w * 4;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        ref[4 * i + 3] = (uint8_t)(i % w < 20 ? 0 : i % w < 40 ? 255 : (i * 7) & 0xff);
    }
    for (int bottom_up = 0; bottom_up < 2; bottom_up++) {
        uint8_t *src = malloc(row * h);
        for (uint32_t y = 0; y < h; y++) {
            memcpy(src + (bottom_up ? h - 1 - y : y) * row, ref + y * row, row);
        }
        struct codec_image img = {CODEC_FMT_RGBA, w, h, bottom_up ? -(int32_t)row : (int32_t)row,
                                  bottom_up ? src + (h - 1) * row : src};
        size_t cap = jpeg_codec_encode_alpha_bound(&img);
        uint8_t *enc = malloc(cap);
        const char *err = NULL;
        int n = jpeg_codec_encode_alpha(&img, 85, enc, cap, &err);
        free(src);
        if (n <= 0) {
            printf("# %d %s\n", n, err ? err : "");
        }
        CHECK(n > JPEG_ALPHA_HEADER_BYTES);
        CHECK_EQ(enc[0], bottom_up ? 0 : JPEG_ALPHA_FLAG_TOP_DOWN);
        uint32_t jpeg_size = enc[1] | enc[2] << 8 | enc[3] << 16 | (uint32_t)enc[4] << 24;
        uint32_t data_size = enc[5] | enc[6] << 8 | enc[7] << 16 | (uint32_t)enc[8] << 24;
        CHECK_EQ(data_size, (uint32_t)n - JPEG_ALPHA_HEADER_BYTES);
        CHECK(enc[9] == 0xff && enc[10] == 0xd8);
        CHECK(enc[9 + jpeg_size - 2] == 0xff && enc[9 + jpeg_size - 1] == 0xd9);
        struct codec_info info;
        CHECK_EQ(jpeg_codec_decode_alpha_header(enc, (size_t)n, &info, NULL), 0);
        CHECK_EQ(info.format, CODEC_FMT_RGBA);
        CHECK_EQ(info.width, w);
        CHECK_EQ(info.height, h);
        CHECK_EQ(info.top_down, !bottom_up);
        size_t out_row = row + 8;
        uint8_t *out = malloc(out_row * h);
        uint8_t *top = out + out_row * (h - 1);
        int r = jpeg_codec_decode_alpha(enc, (size_t)n, &info, top, -(int32_t)out_row, &err);
        int alpha_same = 1;
        for (uint32_t y = 0; y < h && r == 0; y++) {
            for (uint32_t x = 0; x < w; x++) {
                alpha_same &= top[-(ptrdiff_t)y * (ptrdiff_t)out_row + 4 * x + 3] ==
                              ref[y * row + 4 * x + 3];
            }
        }
        double mse = r == 0 ? mse_bgrx(ref, (int32_t)row, top, -(int32_t)out_row, w, h) : 1e9;
        free(out);
        free(enc);
        if (r != 0) {
            printf("# decode %d %s\n", r, err ? err : "");
        }
        CHECK_EQ(r, 0);
        CHECK(alpha_same);
        CHECK(mse < MSE_AT_32_DB);
    }
    free(ref);
}

static void test_alpha_rejects(void)
{
    const uint32_t w = 24, h = 20;
    uint8_t *ref = make_bgrx(w, h);
    struct codec_image img = {CODEC_FMT_RGBA, w, h, (int32_t)w * 4, ref};
    size_t cap = jpeg_codec_encode_alpha_bound(&img);
    uint8_t *enc = malloc(cap);
    int n = jpeg_codec_encode_alpha(&img, 85, enc, cap, NULL);
    CHECK(n > 0);
    struct codec_info info = {CODEC_FMT_RGBA, w, h, 1};
    uint8_t *out = malloc((size_t)w * 4 * h);
    int32_t stride = (int32_t)w * 4;
    CHECK_EQ(jpeg_codec_decode_alpha(enc, (size_t)n, &info, out, stride, NULL), 0);
    /* Every truncation fails (data_size no longer matches). */
    for (int len = 0; len < n; len++) {
        CHECK(jpeg_codec_decode_alpha(enc, (size_t)len, &info, out, stride, NULL) < 0);
    }
    enc[0] ^= JPEG_ALPHA_FLAG_TOP_DOWN; /* orientation differs from the LZ stream */
    CHECK_EQ(jpeg_codec_decode_alpha(enc, (size_t)n, &info, out, stride, NULL), CLOVE_E_INVALID);
    enc[0] ^= JPEG_ALPHA_FLAG_TOP_DOWN;
    enc[1] ^= 4; /* jpeg_size moved: the JPEG or the LZ part breaks */
    CHECK(jpeg_codec_decode_alpha(enc, (size_t)n, &info, out, stride, NULL) < 0);
    enc[1] ^= 4;
    info.height = h + 1;
    CHECK_EQ(jpeg_codec_decode_alpha(enc, (size_t)n, &info, out, stride, NULL), CLOVE_E_INVALID);
    info.height = h;
    struct codec_image rgb = img;
    rgb.format = CODEC_FMT_RGB32;
    CHECK_EQ(jpeg_codec_encode_alpha(&rgb, 85, enc, cap, NULL), CLOVE_E_UNSUPPORTED);
    CHECK_EQ(jpeg_codec_encode_alpha(&img, 85, enc, 20, NULL), CLOVE_E_RANGE);
    /* Bit flips never crash. */
    int encoded = jpeg_codec_encode_alpha(&img, 85, enc, cap, NULL);
    for (int i = 0; i < encoded; i += 2) {
        enc[i] ^= 0x10;
        (void)jpeg_codec_decode_alpha(enc, (size_t)encoded, &info, out, stride, NULL);
        enc[i] ^= 0x10;
    }
    free(out);
    free(enc);
    free(ref);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_roundtrip_rgb32_quality),
            CHECK_CASE(test_roundtrip_rgba_and_rgb24),
            CHECK_CASE(test_roundtrip_rgb16),
            CHECK_CASE(test_orientation_and_strides),
            CHECK_CASE(test_baseline_420_stream),
            CHECK_CASE(test_encode_errors),
            CHECK_CASE(test_reject_truncated),
            CHECK_CASE(test_reject_garbage_and_mismatch),
            CHECK_CASE(test_bit_flips_are_safe),
            CHECK_CASE(test_alpha_roundtrip),
            CHECK_CASE(test_alpha_rejects),
            {0},
    });
}
