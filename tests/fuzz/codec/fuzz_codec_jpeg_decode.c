/*
 * libFuzzer target for the JPEG image decoder (src/codec/jpeg_codec.c).
 *
 * Input: the JPEG data. Its own header gives the size; pictures over 1
 * Mpixel are skipped to keep runs fast (the decoder's own limit is
 * CODEC_MAX_PIXELS). An odd input length decodes bottom-up. The destination
 * buffer has the exact size, so ASan catches any write outside it.
 * The same bytes are also decoded as JPEG_ALPHA image data (9-byte header,
 * JPEG, LZ alpha stream).
 */
#include <stdint.h>
#include <stdlib.h>

#include "codec/jpeg_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_alpha(const uint8_t *data, size_t size)
{
    struct codec_info info;
    const char *err = NULL;
    int r = jpeg_codec_decode_alpha_header(data, size, &info, &err);
    if (r != 0) {
        if (r > 0 || !err) {
            abort();
        }
        return;
    }
    if ((uint64_t)info.width * info.height > 1024 * 1024 || info.format != CODEC_FMT_RGBA) {
        return;
    }
    size_t row = (size_t)info.width * 4;
    uint8_t *mem = malloc(row * info.height);
    if (!mem) {
        return;
    }
    r = jpeg_codec_decode_alpha(data, size, &info, mem, (int32_t)row, &err);
    if (r > 0 || (r < 0 && !err)) {
        abort();
    }
    free(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_alpha(data, size);
    struct codec_info info;
    const char *err = NULL;
    int r = jpeg_codec_decode_header(data, size, &info, &err);
    if (r != 0) {
        if (r > 0 || !err) {
            abort();
        }
        return 0;
    }
    if ((uint64_t)info.width * info.height > 1024 * 1024 || info.format != CODEC_FMT_RGB32) {
        return 0;
    }
    size_t row = (size_t)info.width * 4;
    uint8_t *mem = malloc(row * info.height);
    if (!mem) {
        return 0;
    }
    int bottom_up = size & 1;
    int32_t stride = bottom_up ? -(int32_t)row : (int32_t)row;
    uint8_t *pixels = bottom_up ? mem + row * (info.height - 1) : mem;
    r = jpeg_codec_decode(data, size, &info, pixels, stride, &err);
    if (r > 0 || (r < 0 && !err)) {
        abort();
    }
    free(mem);
    return 0;
}
