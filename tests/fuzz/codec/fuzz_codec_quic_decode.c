/*
 * Fuzz target: quic_decode() on arbitrary bytes, into every output format
 * the stream's type offers. The decoder must return an error or an image,
 * never touch memory outside its buffers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "codec/quic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct codec_info info;
    if (quic_decode_header(data, size, &info, NULL) < 0) {
        return 0;
    }
    /* Keep allocations small; the size checks are covered by unit tests. */
    if ((uint64_t)info.width * info.height > (1u << 20)) {
        return 0;
    }
    static const enum codec_format formats[] = {CODEC_FMT_A8, CODEC_FMT_RGB16, CODEC_FMT_RGB24,
                                                CODEC_FMT_RGB32, CODEC_FMT_RGBA};
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        size_t row = codec_format_row_bytes(formats[i], info.width);
        size_t len = row * info.height;
        uint8_t *out = malloc(len);
        if (!out) {
            return 0;
        }
        int32_t stride = (info.width & 1) ? -(int32_t)row : (int32_t)row;
        (void)quic_decode(data, size, out, len, stride, formats[i], NULL);
        free(out);
    }
    return 0;
}
