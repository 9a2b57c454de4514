/*
 * Tests of src/codec/zlib_glz.c: wrap and unwrap GLZ streams, the "no
 * gain" case, and corrupt headers and deflate data.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codec/glz.h"
#include "codec/zlib_glz.h"

static void test_round_trip_with_glz(void)
{
    uint32_t w = 200, h = 100;
    uint32_t *px = malloc((size_t)w * h * 4);
    for (uint32_t i = 0; i < w * h; i++) {
        px[i] = (i % 200) < 100 ? 0x336699 : (i * 2654435761u) & 0xffffff;
    }
    struct codec_image img = {CODEC_FMT_RGB32, w, h, (int32_t)(w * 4), (uint8_t *)px};
    struct glz_dict *dict = glz_dict_create(w * h);
    size_t cap = glz_encode_bound(&img);
    uint8_t *glz = malloc(cap);
    int n = glz_encode(dict, &img, glz, cap, NULL, NULL);
    CHECK(n >= ZLIB_GLZ_MIN_INPUT);
    size_t zcap = zlib_glz_encode_bound((size_t)n);
    uint8_t *z = malloc(zcap);
    int zn = zlib_glz_encode(glz, (size_t)n, ZLIB_GLZ_DEFAULT_LEVEL, z, zcap, NULL);
    CHECK(zn > ZLIB_GLZ_HEADER_SIZE && zn < n);
    uint32_t glz_size = 0;
    CHECK_EQ(zlib_glz_decode_header(z, (size_t)zn, &glz_size, NULL), 0);
    CHECK_EQ(glz_size, n);
    uint8_t *back = malloc(glz_size);
    CHECK_EQ(zlib_glz_decode(z, (size_t)zn, back, glz_size, NULL), n);
    CHECK_MEM_EQ(back, glz, (size_t)n);
    struct glz_window *window = glz_window_create(w * h);
    uint8_t *out = malloc((size_t)w * h * 4);
    CHECK_EQ(glz_decode(window, back, glz_size, out, (int32_t)(w * 4), NULL), 0);
    for (uint32_t i = 0; i < w * h; i++) {
        uint32_t v;
        memcpy(&v, out + 4 * i, 4);
        CHECK_EQ(v & 0xffffff, px[i]);
    }
    /* Corruptions: every truncation, size fields, damaged deflate data. */
    for (int len = 0; len < zn; len++) {
        CHECK(zlib_glz_decode(z, (size_t)len, back, glz_size, NULL) < 0);
    }
    CHECK_EQ(zlib_glz_decode(z, (size_t)zn, back, glz_size - 1, NULL), CLOVE_E_RANGE);
    z[0] ^= 1;
    CHECK(zlib_glz_decode(z, (size_t)zn, back, glz_size + 8, NULL) < 0);
    z[0] ^= 1;
    z[zn / 2] ^= 0x55;
    CHECK(zlib_glz_decode(z, (size_t)zn, back, glz_size, NULL) < 0);
    free(out);
    glz_window_destroy(window);
    free(back);
    free(z);
    free(glz);
    free(px);
    glz_dict_destroy(dict);
}

static void test_no_gain(void)
{
    uint8_t noise[256], out[512];
    uint32_t s = 1;
    for (int i = 0; i < 256; i++) {
        s = s * 1103515245u + 12345u;
        noise[i] = (uint8_t)(s >> 16);
    }
    CHECK_EQ(zlib_glz_encode(noise, sizeof(noise), 3, out, sizeof(out), NULL), CLOVE_E_RANGE);
    CHECK_EQ(zlib_glz_encode(NULL, 10, 3, out, sizeof(out), NULL), CLOVE_E_INVALID);
    CHECK_EQ(zlib_glz_decode_header(out, 4, NULL, NULL), CLOVE_E_INCOMPLETE);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_round_trip_with_glz), CHECK_CASE(test_no_gain), {0}});
}
