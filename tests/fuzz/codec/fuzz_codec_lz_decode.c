/*
 * libFuzzer target for the LZ decoder (src/codec/lz.c): any bytes as an LZ
 * stream. The output buffer is sized from the header, as a client does;
 * images above 4 MiB of output are skipped to keep runs fast.
 */
#include <stdint.h>
#include <stdlib.h>

#include "codec/lz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct codec_info info;
    if (lz_decode_header(data, size, &info, NULL) < 0) {
        return 0;
    }
    size_t row = codec_format_row_bytes(info.format, info.width);
    if (row == 0 || row * info.height > (4u << 20)) {
        return 0;
    }
    /* Alternate a tight top-down buffer and a padded bottom-up one. */
    int32_t stride = (int32_t)(size & 1 ? row : row + 3);
    uint8_t *mem = malloc((size_t)stride * info.height);
    if (!mem) {
        return 0;
    }
    if (size & 2) {
        lz_decode(data, size, mem + (size_t)stride * (info.height - 1), -stride, NULL);
    } else {
        lz_decode(data, size, mem, stride, NULL);
    }
    free(mem);
    return 0;
}
