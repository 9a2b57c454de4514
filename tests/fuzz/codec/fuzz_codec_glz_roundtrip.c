/*
 * libFuzzer round-trip target for GLZ (src/codec/glz.c). Byte 0 picks the
 * window size, format mix and width; the rest is the first frame. Later
 * frames are the first one edited (scrolled, a rectangle changed) as the
 * following bytes direct. Every frame goes through one dictionary and one
 * decoder window and must come back identical.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/glz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) \
    do {                  \
        if (!(cond)) {    \
            abort();      \
        }                 \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 6) {
        return 0;
    }
    uint32_t width = (uint32_t)(data[0] & 31) + 1;
    int rgba = data[0] & 32;
    uint32_t frames = 2 + (data[1] & 3);
    uint32_t n = (uint32_t)((size - 2) / 4);
    uint32_t height = n / width;
    if (height == 0) {
        return 0;
    }
    n = width * height;
    uint32_t window_pixels = n * (1 + (data[1] >> 6));
    uint32_t *px = malloc((size_t)n * 4);
    uint8_t *out = malloc((size_t)n * 4);
    FUZZ_ASSERT(px && out);
    memcpy(px, data + 2, (size_t)n * 4);
    struct glz_dict *dict = glz_dict_create(window_pixels);
    struct glz_window *window = glz_window_create(window_pixels);
    FUZZ_ASSERT(dict && window);
    enum codec_format format = rgba ? CODEC_FMT_RGBA : CODEC_FMT_RGB32;
    struct codec_image img = {format, width, height, (int32_t)(width * 4), (uint8_t *)px};
    size_t cap = glz_encode_bound(&img);
    uint8_t *enc = malloc(cap);
    FUZZ_ASSERT(enc);
    for (uint32_t f = 0; f < frames; f++) {
        if (f > 0) {
            uint8_t op = data[2 + f % (size - 2)];
            if (op & 1) {
                uint32_t rows = (op >> 1) % height;
                memmove(px, px + rows * width, (size_t)(height - rows) * width * 4);
            } else {
                for (uint32_t i = op; i < n; i += 1 + op) {
                    px[i] ^= 0x00a5a5a5u;
                }
            }
        }
        int len = glz_encode(dict, &img, enc, cap, NULL, NULL);
        FUZZ_ASSERT(len > 0 && (size_t)len <= cap);
        FUZZ_ASSERT(glz_decode(window, enc, (size_t)len, out, (int32_t)(width * 4), NULL) == 0);
        uint32_t mask = rgba ? 0xffffffffu : 0xffffffu;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, out + 4 * i, 4);
            FUZZ_ASSERT(((v ^ px[i]) & mask) == 0);
        }
    }
    free(enc);
    glz_dict_destroy(dict);
    glz_window_destroy(window);
    free(out);
    free(px);
    return 0;
}
