/*
 * Tests of src/codec/glz.c: sequences of edited frames through one encoder
 * dictionary and one decoder window (cross-image references, eviction in
 * step), every encodable format, golden vectors decoded by spice-gtk's
 * decoder (tests/data/glz/README.md), references beyond the window and
 * corrupt or truncated streams.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codec/glz.h"

/* A terminal-like frame: text glyph cells on a dark background. */
static uint32_t *make_frame(uint32_t w, uint32_t h, uint32_t seed)
{
    uint32_t *px = malloc((size_t)w * h * 4);
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            uint32_t cell = (x / 8) * 131 + (y / 14) * 977 + seed;
            int on = y % 14 < 11 && x % 8 < 6 && ((cell * 2654435761u) >> (x % 8 + y % 14)) & 1;
            px[(size_t)y * w + x] = on ? 0xd0d0d0 : 0x202428;
        }
    }
    return px;
}

static int same_rgb(const uint32_t *a, const uint8_t *b, size_t n, uint32_t mask)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        memcpy(&v, b + 4 * i, 4);
        if ((v ^ a[i]) & mask) {
            return 0;
        }
    }
    return 1;
}

/* Encodes px as the next image and decodes it through window; returns the
 * encoded size or -1. */
static int step(struct glz_dict *dict, struct glz_window *window, const uint32_t *px, uint32_t w,
                uint32_t h, enum codec_format format, struct glz_encode_result *res)
{
    struct codec_image img = {format, w, h, (int32_t)(w * 4), (const uint8_t *)px};
    size_t cap = glz_encode_bound(&img);
    uint8_t *enc = malloc(cap);
    const char *err = NULL;
    int n = glz_encode(dict, &img, enc, cap, res, &err);
    if (n <= 0) {
        printf("# encode: %s\n", err ? err : "?");
        free(enc);
        return -1;
    }
    uint8_t *out = malloc((size_t)w * h * 4);
    int rc = glz_decode(window, enc, (size_t)n, out, (int32_t)(w * 4), &err);
    uint32_t mask = format == CODEC_FMT_RGBA ? 0xffffffffu : 0xffffffu;
    int ok = rc == 0 && same_rgb(px, out, (size_t)w * h, mask);
    if (!ok) {
        printf("# decode: %s\n", rc ? err : "pixels differ");
    }
    free(out);
    free(enc);
    return ok ? n : -1;
}

static void test_sequence_cross_image(void)
{
    uint32_t w = 320, h = 200;
    struct glz_dict *dict = glz_dict_create(w * h * 4);
    struct glz_window *window = glz_window_create(w * h * 4);
    uint32_t *f1 = make_frame(w, h, 1);
    struct glz_encode_result res;
    int n1 = step(dict, window, f1, w, h, CODEC_FMT_RGB32, &res);
    CHECK(n1 > 0);
    CHECK_EQ(res.image_id, 0);
    /* Identical resend: almost free. */
    int n2 = step(dict, window, f1, w, h, CODEC_FMT_RGB32, &res);
    CHECK(n2 > 0 && n2 < 400);
    CHECK_EQ(res.image_id, 1);
    /* A typed word. */
    uint32_t *f3 = malloc((size_t)w * h * 4);
    memcpy(f3, f1, (size_t)w * h * 4);
    for (uint32_t y = 30; y < 44; y++) {
        for (uint32_t x = 100; x < 160; x++) {
            f3[y * w + x] = (x ^ y) & 4 ? 0xffffff : 0x202428;
        }
    }
    int n3 = step(dict, window, f3, w, h, CODEC_FMT_RGB32, &res);
    CHECK(n3 > 0 && n3 < n1 / 4);
    /* A window moved by (13, 7). */
    uint32_t *f4 = malloc((size_t)w * h * 4);
    for (uint32_t i = 0; i < w * h; i++) {
        f4[i] = 0x101010;
    }
    for (uint32_t y = 0; y + 7 < h; y++) {
        memcpy(f4 + (y + 7) * w + 13, f3 + y * w, (w - 13) * 4);
    }
    int n4 = step(dict, window, f4, w, h, CODEC_FMT_RGB32, &res);
    CHECK(n4 > 0 && n4 < n1);
    free(f1);
    free(f3);
    free(f4);
    glz_dict_destroy(dict);
    glz_window_destroy(window);
}

/* Images of changing sizes through a small window: the decoder reuses the
 * buffers of dropped images (larger or smaller than the next one) and every
 * frame still decodes exactly, also after a corrupt stream was refused. */
static void test_window_reuses_buffers(void)
{
    static const uint32_t sizes[][2] = {{40, 30}, {16, 8}, {64, 40}, {64, 40}, {8, 4}, {50, 50}};
    struct glz_dict *dict = glz_dict_create(64 * 40 * 2);
    struct glz_window *window = glz_window_create(64 * 40 * 2);
    for (int fr = 0; fr < 18; fr++) {
        uint32_t w = sizes[fr % 6][0], h = sizes[fr % 6][1];
        uint32_t *px = make_frame(w, h, (uint32_t)fr / 2);
        struct glz_encode_result res;
        CHECK(step(dict, window, px, w, h, CODEC_FMT_RGB32, &res) > 0);
        if (fr == 9) {
            /* A truncated image 0 from another dictionary: refused after
             * its buffer was taken. */
            struct glz_dict *other = glz_dict_create(64 * 40 * 2);
            struct codec_image img = {CODEC_FMT_RGB32, w, h, (int32_t)(w * 4), (uint8_t *)px};
            size_t cap = glz_encode_bound(&img);
            uint8_t *enc = malloc(cap), *out = malloc((size_t)w * h * 4);
            int n = glz_encode(other, &img, enc, cap, NULL, NULL);
            CHECK(n > 40);
            CHECK(glz_decode(window, enc, (size_t)n - 8, out, (int32_t)(w * 4), NULL) < 0);
            free(enc);
            free(out);
            glz_dict_destroy(other);
        }
        free(px);
    }
    glz_dict_destroy(dict);
    glz_window_destroy(window);
}

static void test_formats_and_eviction(void)
{
    uint32_t w = 97, h = 31;
    struct glz_dict *dict = glz_dict_create(w * h * 2 + 5);
    struct glz_window *window = glz_window_create(w * h * 2 + 5);
    uint32_t *base = make_frame(w, h, 9);
    for (uint32_t i = 0; i < w * h; i++) {
        base[i] |= (uint32_t)((i % 7) * 30) << 24;
    }
    uint64_t evicted = 0;
    for (int fr = 0; fr < 12; fr++) {
        struct glz_encode_result res;
        base[(fr * 37) % (w * h)] ^= 0x00ff00;
        enum codec_format f = fr % 3 == 2 ? CODEC_FMT_RGBA : CODEC_FMT_RGB32;
        CHECK(step(dict, window, base, w, h, f, &res) > 0);
        CHECK_EQ(res.image_id, fr);
        evicted += res.evicted;
        /* Never more than the window holds: two images here. */
        CHECK(glz_window_image_count(window) <= 2);
        CHECK(res.image_id - res.oldest_id <= 1);
    }
    CHECK_EQ(evicted, 10);
    /* RGB24 and RGB16 images decode to RGB32. */
    uint8_t *rgb24 = malloc((size_t)w * h * 3);
    uint16_t *rgb16 = malloc((size_t)w * h * 2);
    for (uint32_t i = 0; i < w * h; i++) {
        memcpy(rgb24 + 3 * i, &base[i], 3);
        uint32_t p = base[i];
        rgb16[i] = (uint16_t)(((p >> 19 & 31) << 10) | ((p >> 11 & 31) << 5) | (p >> 3 & 31));
    }
    struct codec_image i24 = {CODEC_FMT_RGB24, w, h, (int32_t)(w * 3), rgb24};
    struct codec_image i16 = {CODEC_FMT_RGB16, w, h, (int32_t)(w * 2), (uint8_t *)rgb16};
    uint8_t *enc = malloc(glz_encode_bound(&i24));
    uint8_t *out = malloc((size_t)w * h * 4);
    int n = glz_encode(dict, &i24, enc, glz_encode_bound(&i24), NULL, NULL);
    CHECK(n > 0);
    CHECK_EQ(glz_decode(window, enc, (size_t)n, out, (int32_t)(w * 4), NULL), 0);
    CHECK(same_rgb(base, out, (size_t)w * h, 0xffffff));
    n = glz_encode(dict, &i16, enc, glz_encode_bound(&i24), NULL, NULL);
    CHECK(n > 0);
    CHECK_EQ(glz_decode(window, enc, (size_t)n, out, (int32_t)(w * 4), NULL), 0);
    for (uint32_t i = 0; i < w * h; i++) {
        uint32_t v;
        memcpy(&v, out + 4 * i, 4);
        CHECK_EQ(v & 0xf8f8f8, base[i] & 0xf8f8f8);
    }
    /* Negative stride encodes bottom-up. */
    struct codec_image up = {CODEC_FMT_RGB32, w, h, -(int32_t)(w * 4),
                             (uint8_t *)(base + (size_t)(h - 1) * w)};
    n = glz_encode(dict, &up, enc, glz_encode_bound(&i24), NULL, NULL);
    CHECK(n > 0);
    CHECK_EQ(glz_decode(window, enc, (size_t)n, out, (int32_t)(w * 4), NULL), 0);
    for (uint32_t y = 0; y < h; y++) {
        CHECK(same_rgb(base + (h - 1 - y) * w, out + (size_t)y * w * 4, w, 0xffffff));
    }
    /* Unsupported and too large images. */
    struct codec_image pal = {CODEC_FMT_PLT8, w, h, (int32_t)w, rgb24};
    CHECK_EQ(glz_encode(dict, &pal, enc, 1000, NULL, NULL), CLOVE_E_UNSUPPORTED);
    struct codec_image big = {CODEC_FMT_RGB32, w, h * 3, (int32_t)(w * 4), rgb24};
    CHECK_EQ(glz_encode(dict, &big, enc, 1000, NULL, NULL), CLOVE_E_RANGE);
    free(enc);
    free(out);
    free(rgb24);
    free(rgb16);
    free(base);
    glz_dict_destroy(dict);
    glz_window_destroy(window);
}

static void test_one_pixel_images(void)
{
    struct glz_dict *dict = glz_dict_create(16);
    struct glz_window *window = glz_window_create(16);
    for (uint32_t i = 0; i < 40; i++) {
        uint32_t px = 0x10203 * (i % 3);
        CHECK(step(dict, window, &px, 1, 1, CODEC_FMT_RGB32, NULL) > 0);
    }
    glz_dict_destroy(dict);
    glz_window_destroy(window);
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
    const char *cut = strstr(file, "unit/codec/test_glz.c");
    int prefix = cut ? (int)(cut - file) : 0;
    snprintf(out, cap, "%.*sdata/glz/%s", prefix, file, name);
}

static void test_golden_sequence(void)
{
    struct glz_window *window = glz_window_create(2 * 64 * 48);
    for (int fr = 0; fr < 4; fr++) {
        char name[32], path[1024];
        size_t glz_len = 0, raw_len = 0;
        snprintf(name, sizeof(name), "seq_%d.glz", fr);
        data_path(path, sizeof(path), name);
        uint8_t *glz = read_file(path, &glz_len);
        snprintf(name, sizeof(name), "seq_%d.raw", fr);
        data_path(path, sizeof(path), name);
        uint8_t *raw = read_file(path, &raw_len);
        if (!glz || !raw) {
            printf("# missing golden vector %s\n", path);
            free(glz);
            free(raw);
            CHECK(0);
        }
        struct codec_info info;
        uint64_t id = 99;
        CHECK_EQ(glz_decode_header(glz, glz_len, &info, &id, NULL), 0);
        CHECK_EQ(id, fr);
        CHECK_EQ(info.width, 64);
        CHECK_EQ(raw_len, 64 * 48 * 4);
        uint8_t *out = malloc(raw_len);
        int rc = glz_decode(window, glz, glz_len, out, 64 * 4, NULL);
        int ok = rc == 0 && memcmp(out, raw, raw_len) == 0;
        free(out);
        free(glz);
        free(raw);
        CHECK(ok);
    }
    glz_window_destroy(window);
}

static void test_bad_references(void)
{
    uint32_t w = 16, h = 8;
    struct glz_dict *dict = glz_dict_create(w * h * 8);
    uint32_t *f = make_frame(w, h, 3);
    struct codec_image img = {CODEC_FMT_RGB32, w, h, (int32_t)(w * 4), (uint8_t *)f};
    size_t cap = glz_encode_bound(&img);
    uint8_t *e1 = malloc(cap), *e2 = malloc(cap);
    int n1 = glz_encode(dict, &img, e1, cap, NULL, NULL);
    int n2 = glz_encode(dict, &img, e2, cap, NULL, NULL);
    CHECK(n1 > 0 && n2 > 0);
    uint8_t *out = malloc((size_t)w * h * 4);
    /* Image 1 refers to image 0: without it in the window, refused. */
    struct glz_window *window = glz_window_create(w * h * 8);
    CHECK(glz_decode(window, e2, (size_t)n2, out, (int32_t)(w * 4), NULL) < 0);
    CHECK_EQ(glz_window_image_count(window), 0);
    CHECK_EQ(glz_decode(window, e1, (size_t)n1, out, (int32_t)(w * 4), NULL), 0);
    /* A win_head_image_dist of 0 puts image 0 outside the window. */
    uint8_t saved = e2[32];
    e2[32] = 0;
    CHECK(glz_decode(window, e2, (size_t)n2, out, (int32_t)(w * 4), NULL) < 0);
    e2[32] = saved;
    CHECK_EQ(glz_decode(window, e2, (size_t)n2, out, (int32_t)(w * 4), NULL), 0);
    /* The same id twice is refused. */
    CHECK(glz_decode(window, e2, (size_t)n2, out, (int32_t)(w * 4), NULL) < 0);
    /* Truncations and bit flips of image 1 never crash. */
    glz_window_clear(window);
    CHECK_EQ(glz_decode(window, e1, (size_t)n1, out, (int32_t)(w * 4), NULL), 0);
    for (int len = 0; len < n2; len++) {
        CHECK(glz_decode(window, e2, (size_t)len, out, (int32_t)(w * 4), NULL) < 0);
    }
    for (int i = 0; i < n2 * 8; i++) {
        e2[i / 8] ^= (uint8_t)(1u << (i % 8));
        struct codec_info info;
        if (glz_decode_header(e2, (size_t)n2, &info, NULL, NULL) == 0 &&
            (size_t)info.width * info.height <= (size_t)w * h) {
            if (glz_decode(window, e2, (size_t)n2, out, (int32_t)(info.width * 4), NULL) == 0) {
                glz_window_clear(window);
                CHECK_EQ(glz_decode(window, e1, (size_t)n1, out, (int32_t)(w * 4), NULL), 0);
            }
        }
        e2[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    free(out);
    free(e1);
    free(e2);
    free(f);
    glz_window_destroy(window);
    glz_dict_destroy(dict);
    CHECK(glz_dict_create(0) == NULL);
    CHECK(glz_dict_create(GLZ_MAX_WINDOW_PIXELS + 1) == NULL);
    glz_dict_destroy(NULL);
    glz_window_destroy(NULL);
}

static void test_large_frame(void)
{
    uint32_t w = 1920, h = 1080;
    struct glz_dict *dict = glz_dict_create(w * h * 3);
    struct glz_window *window = glz_window_create(w * h * 3);
    uint32_t *f = make_frame(w, h, 11);
    CHECK(step(dict, window, f, w, h, CODEC_FMT_RGB32, NULL) > 0);
    /* Scroll by one text line. */
    memmove(f, f + 14 * w, (size_t)w * (h - 14) * 4);
    int n = step(dict, window, f, w, h, CODEC_FMT_RGB32, NULL);
    CHECK(n > 0);
    free(f);
    glz_dict_destroy(dict);
    glz_window_destroy(window);
}

/* Many frames through a window that is full after each encode (its size a
 * power of two and a whole number of frames, so the live images exactly
 * fill the encoder's key ring and the end
 * sentinels sit on the oldest image's first keys), with frames of other
 * sizes mixed in so that images wrap around the encoder's key ring at
 * every offset: every frame decodes exactly, and scrolled frames still find
 * their rows in earlier images after many wraps. */
static void test_ring_wraps(void)
{
    uint32_t w = 64, h = 64; /* a window of 2^14 pixels: the ring is exactly that */
    struct glz_dict *dict = glz_dict_create(w * h * 4);
    struct glz_window *window = glz_window_create(w * h * 4);
    uint32_t *base = make_frame(w, h + 200, 5);
    uint32_t *odd = make_frame(37, 29, 9);
    int small_seen = 0;
    for (uint32_t k = 0; k < 60; k++) {
        if (k % 7 == 3) {
            CHECK(step(dict, window, odd, 37, 29 - k % 5, CODEC_FMT_RGB32, NULL) > 0);
            continue;
        }
        /* Frame k: rows k*3 .. of the tall picture (a slow scroll). */
        const uint32_t *f = base + (size_t)(k * 3 % 200) * w;
        int n = step(dict, window, f, w, h, CODEC_FMT_RGB32, NULL);
        CHECK(n > 0);
        if (k > 8 && n < (int)(w * h / 8)) {
            small_seen++;
        }
    }
    CHECK(small_seen > 30);
    free(base);
    free(odd);
    glz_dict_destroy(dict);
    glz_window_destroy(window);
}

int main(void)
{
    return check_run((struct check_case[]){CHECK_CASE(test_sequence_cross_image),
                                           CHECK_CASE(test_formats_and_eviction),
                                           CHECK_CASE(test_one_pixel_images),
                                           CHECK_CASE(test_window_reuses_buffers),
                                           CHECK_CASE(test_golden_sequence),
                                           CHECK_CASE(test_bad_references),
                                           CHECK_CASE(test_large_frame),
                                           CHECK_CASE(test_ring_wraps),
                                           {0}});
}
