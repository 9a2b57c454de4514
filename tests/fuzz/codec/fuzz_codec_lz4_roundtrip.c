/*
 * libFuzzer round-trip target for the LZ4 image codec (src/codec/lz4_codec.c).
 *
 * Input: byte 0 format (RGB32, RGBA, RGB24, RGB16) and layout flags (bit 2:
 * bottom-up source, bit 3: bottom-up destination, bits 4-6: source row
 * padding), byte 1 width (1..256), byte 2 height (1..128), then pixel bytes,
 * repeated to fill the image. The decoded image must equal the source.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/lz4_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum codec_format formats[] = {CODEC_FMT_RGB32, CODEC_FMT_RGBA, CODEC_FMT_RGB24,
                                                CODEC_FMT_RGB16};
    if (size < 4) {
        return 0;
    }
    enum codec_format format = formats[data[0] & 3];
    int src_bottom_up = (data[0] >> 2) & 1;
    int dst_bottom_up = (data[0] >> 3) & 1;
    size_t pad = (data[0] >> 4) & 7;
    uint32_t width = 1 + data[1];
    uint32_t height = 1 + data[2] % 128;
    const uint8_t *fill = data + 3;
    size_t fill_len = size - 3;

    size_t row_bytes = codec_format_row_bytes(format, width);
    size_t src_row = row_bytes + pad;
    uint8_t *src = malloc(src_row * height);
    for (size_t i = 0; i < src_row * height; i++) {
        src[i] = fill[i % fill_len];
    }
    struct codec_image img = {format, width, height,
                              src_bottom_up ? -(int32_t)src_row : (int32_t)src_row,
                              src_bottom_up ? src + src_row * (height - 1) : src};

    size_t cap = lz4_codec_encode_bound(&img);
    uint8_t *enc = malloc(cap);
    int n = lz4_codec_encode(&img, enc, cap, NULL);
    if (n <= 0 || (size_t)n > cap) {
        abort();
    }
    struct codec_info info;
    if (lz4_codec_decode_header(enc, (size_t)n, &info, NULL) != 0 || info.format != format) {
        abort();
    }
    info.width = width;
    info.height = height;
    uint8_t *dst = malloc(row_bytes * height);
    int32_t dst_stride = dst_bottom_up ? -(int32_t)row_bytes : (int32_t)row_bytes;
    uint8_t *dst_pixels = dst_bottom_up ? dst + row_bytes * (height - 1) : dst;
    if (lz4_codec_decode(enc, (size_t)n, &info, dst_pixels, dst_stride, NULL) != 0) {
        abort();
    }
    for (uint32_t y = 0; y < height; y++) {
        if (memcmp(img.pixels + (ptrdiff_t)y * img.stride, dst_pixels + (ptrdiff_t)y * dst_stride,
                   row_bytes) != 0) {
            abort();
        }
    }
    /* One byte short of the output must fail cleanly, not overflow. */
    if (lz4_codec_encode(&img, enc, (size_t)n - 1, NULL) != CLOVE_E_RANGE) {
        abort();
    }
    free(dst);
    free(enc);
    free(src);
    return 0;
}
