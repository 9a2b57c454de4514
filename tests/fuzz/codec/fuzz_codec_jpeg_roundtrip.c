/*
 * libFuzzer round-trip target for the JPEG image codec (src/codec/jpeg_codec.c).
 *
 * Input: byte 0 format (RGB32, RGBA, RGB24, RGB16) and bit 2 bottom-up
 * source, byte 1 quality (folded into 1..100), byte 2 width (1..128), byte 3
 * height (1..128), then pixel bytes repeated to fill the image. Encoding
 * must succeed into a jpeg_codec_encode_bound() buffer and the result must
 * decode to the same size; JPEG is lossy, so pixels are not compared. A
 * too-small output buffer must fail cleanly. RGBA images also go through
 * JPEG_ALPHA, whose alpha must come back exactly.
 */
#include <stdint.h>
#include <stdlib.h>

#include "codec/jpeg_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum codec_format formats[] = {CODEC_FMT_RGB32, CODEC_FMT_RGBA, CODEC_FMT_RGB24,
                                                CODEC_FMT_RGB16};
    if (size < 5) {
        return 0;
    }
    enum codec_format format = formats[data[0] & 3];
    int bottom_up = (data[0] >> 2) & 1;
    int quality = 1 + data[1] % 100;
    uint32_t width = 1 + data[2] % 128;
    uint32_t height = 1 + data[3] % 128;
    const uint8_t *fill = data + 4;
    size_t fill_len = size - 4;

    size_t row = codec_format_row_bytes(format, width);
    uint8_t *src = malloc(row * height);
    for (size_t i = 0; i < row * height; i++) {
        src[i] = fill[i % fill_len];
    }
    struct codec_image img = {format, width, height, bottom_up ? -(int32_t)row : (int32_t)row,
                              bottom_up ? src + row * (height - 1) : src};
    size_t cap = jpeg_codec_encode_bound(&img);
    uint8_t *enc = malloc(cap);
    int n = jpeg_codec_encode(&img, quality, enc, cap, NULL);
    if (n <= 0 || (size_t)n > cap) {
        abort();
    }
    struct codec_info info;
    if (jpeg_codec_decode_header(enc, (size_t)n, &info, NULL) != 0 || info.width != width ||
        info.height != height) {
        abort();
    }
    uint8_t *dst = malloc((size_t)width * 4 * height);
    if (jpeg_codec_decode(enc, (size_t)n, &info, dst, (int32_t)width * 4, NULL) != 0) {
        abort();
    }
    if (n > 16 && jpeg_codec_encode(&img, quality, enc, (size_t)n / 2, NULL) != CLOVE_E_RANGE) {
        abort();
    }
    free(dst);
    free(enc);
    if (format == CODEC_FMT_RGBA) {
        cap = jpeg_codec_encode_alpha_bound(&img);
        enc = malloc(cap);
        n = jpeg_codec_encode_alpha(&img, quality, enc, cap, NULL);
        if (n <= 0 || (size_t)n > cap ||
            jpeg_codec_decode_alpha_header(enc, (size_t)n, &info, NULL) != 0) {
            abort();
        }
        dst = malloc(row * height);
        if (jpeg_codec_decode_alpha(enc, (size_t)n, &info, dst, (int32_t)row, NULL) != 0) {
            abort();
        }
        for (uint32_t y = 0; y < height; y++) {
            const uint8_t *a = img.pixels + (ptrdiff_t)y * img.stride;
            for (uint32_t x = 0; x < width; x++) {
                if (a[4 * x + 3] != dst[y * row + 4 * x + 3]) {
                    abort();
                }
            }
        }
        free(dst);
        free(enc);
    }
    free(src);
    return 0;
}
