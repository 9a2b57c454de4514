/*
 * libFuzzer target for the LZ4 image decoder (src/codec/lz4_codec.c).
 *
 * Input: bytes 0-1 width (LE, folded into 1..512), byte 2 height (1..256),
 * byte 3 layout flags (bit 0: bottom-up destination, bits 1-3: row padding),
 * then the LZ4 image data. The destination buffer has the exact size the
 * layout needs, so ASan catches any write outside it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/lz4_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) {
        return 0;
    }
    uint32_t width = 1 + ((uint32_t)data[0] | (uint32_t)data[1] << 8) % 512;
    uint32_t height = 1 + data[2];
    int bottom_up = data[3] & 1;
    size_t pad = (data[3] >> 1) & 7;
    const uint8_t *in = data + 4;
    size_t in_len = size - 4;

    struct codec_info info;
    const char *err = NULL;
    if (lz4_codec_decode_header(in, in_len, &info, &err) != 0) {
        if (!err) {
            abort();
        }
        return 0;
    }
    info.width = width;
    info.height = height;
    size_t row = codec_format_row_bytes(info.format, width) + pad;
    uint8_t *mem = malloc(row * height);
    if (!mem) {
        return 0;
    }
    int32_t stride = bottom_up ? -(int32_t)row : (int32_t)row;
    uint8_t *pixels = bottom_up ? mem + row * (height - 1) : mem;
    int r = lz4_codec_decode(in, in_len, &info, pixels, stride, &err);
    if (r != 0 && (r > 0 || !err)) {
        abort();
    }
    free(mem);
    return 0;
}
