/*
 * libFuzzer round-trip target for LZ (src/codec/lz.c): byte 0 picks the
 * format and stride layout, byte 1 the width (1..256); the rest are the
 * pixel bytes. Encode then decode must give the same pixels back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/lz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) \
    do {                  \
        if (!(cond)) {    \
            abort();      \
        }                 \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum codec_format formats[] = {
            CODEC_FMT_PLT1_LE, CODEC_FMT_PLT1_BE, CODEC_FMT_PLT4_LE, CODEC_FMT_PLT4_BE,
            CODEC_FMT_PLT8,    CODEC_FMT_RGB16,   CODEC_FMT_RGB24,   CODEC_FMT_RGB32,
            CODEC_FMT_RGBA,    CODEC_FMT_XXXA,    CODEC_FMT_A8};
    if (size < 3) {
        return 0;
    }
    enum codec_format format = formats[data[0] % 11];
    int negative = (data[0] / 11) & 1;
    uint32_t width = (uint32_t)data[1] + 1;
    data += 2;
    size -= 2;
    size_t row = codec_format_row_bytes(format, width);
    uint32_t height = (uint32_t)(size / row);
    if (height == 0) {
        return 0;
    }
    int32_t stride = negative ? -(int32_t)row : (int32_t)row;
    const uint8_t *row0 = negative ? data + row * (height - 1) : data;
    struct codec_image img = {format, width, height, stride, row0};
    size_t cap = lz_encode_bound(&img);
    uint8_t *enc = malloc(cap);
    uint8_t *out = malloc(row * height);
    FUZZ_ASSERT(enc && out);
    int n = lz_encode(&img, enc, cap, NULL);
    FUZZ_ASSERT(n > 0 && (size_t)n <= cap);
    FUZZ_ASSERT(lz_decode(enc, (size_t)n, out, (int32_t)row, NULL) == 0);
    for (uint32_t y = 0; y < height; y++) {
        const uint8_t *a = row0 + (ptrdiff_t)y * stride;
        const uint8_t *b = out + (size_t)y * row;
        for (size_t i = 0; i < row; i++) {
            if ((format == CODEC_FMT_RGB32 && i % 4 == 3) ||
                (format == CODEC_FMT_XXXA && i % 4 != 3)) {
                continue;
            }
            FUZZ_ASSERT(a[i] == b[i]);
        }
    }
    free(out);
    free(enc);
    return 0;
}
