/*
 * Fuzz target: bytes -> image -> quic_encode -> quic_decode -> same image.
 * Byte 0 picks the format, byte 1 the width (1..256); the rest are pixels
 * (as many whole rows as there are, at least one, zero-filled if short).
 * The portable coder (quic_simd_set(0)) and the SSE2-only one
 * (quic_simd_set(2)) must produce the same bytes and decode them to the
 * same image.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/quic.h"
#include "codec/quic_simd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum codec_format formats[] = {CODEC_FMT_A8, CODEC_FMT_RGB16, CODEC_FMT_RGB24,
                                                CODEC_FMT_RGB32, CODEC_FMT_RGBA};
    if (size < 2) {
        return 0;
    }
    enum codec_format f = formats[data[0] % 5];
    int flip = (data[0] / 5) & 1;
    uint32_t w = (uint32_t)data[1] + 1;
    data += 2;
    size -= 2;
    size_t bpp = codec_format_row_bytes(f, 1);
    size_t row = w * bpp;
    uint32_t h = (uint32_t)(size / row);
    if (h == 0) {
        h = 1;
    }
    size_t len = row * h;
    uint8_t *img = calloc(1, len);
    uint8_t *back = malloc(len);
    if (!img || !back) {
        abort();
    }
    memcpy(img, data, size < len ? size : len);
    struct codec_image im = {f, w, h, flip ? -(int32_t)row : (int32_t)row,
                             flip ? img + (h - 1) * row : img};
    size_t cap = quic_encode_bound(&im);
    uint8_t *enc = malloc(cap);
    if (!enc) {
        abort();
    }
    int n = quic_encode(&im, enc, cap, NULL);
    if (n <= 0) {
        abort();
    }
    uint8_t *enc2 = malloc(cap);
    uint8_t *back2 = malloc(len);
    if (!enc2 || !back2) {
        abort();
    }
    /* The portable loops (0) and the SSE2-only kernels (2) must give the
     * same bytes as every kernel the CPU has (1: AVX2, BMI2 rows). */
    for (int mode = 0; mode <= 2; mode += 2) {
        quic_simd_set(mode);
        int n2 = quic_encode(&im, enc2, cap, NULL);
        int rc2 =
                n2 == n ? quic_decode(enc2, (size_t)n2, back2, len, (int32_t)row, f, NULL) : -1;
        quic_simd_set(1);
        if (n2 != n || memcmp(enc, enc2, (size_t)n) != 0 || rc2 != 0) {
            abort();
        }
    }
    if (quic_decode(enc, (size_t)n, back, len, (int32_t)row, f, NULL) != 0 ||
        memcmp(back, back2, len) != 0) {
        abort();
    }
    free(enc2);
    free(back2);
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *a = im.pixels + (ptrdiff_t)y * im.stride;
        const uint8_t *b = back + y * row;
        for (uint32_t x = 0; x < w; x++) {
            const uint8_t *pa = a + x * bpp, *pb = b + x * bpp;
            int same;
            if (f == CODEC_FMT_RGB32) {
                same = memcmp(pa, pb, 3) == 0;
            } else if (f == CODEC_FMT_RGB16) {
                same = pa[0] == pb[0] && (pa[1] & 0x7f) == (pb[1] & 0x7f);
            } else {
                same = memcmp(pa, pb, bpp) == 0;
            }
            if (!same) {
                abort();
            }
        }
    }
    free(img);
    free(back);
    free(enc);
    return 0;
}
