/*
 * libFuzzer target for the GLZ decoder and its window (src/codec/glz.c).
 * The input is a series of images, each preceded by a 2-byte little-endian
 * length, decoded in order through one window so cross-image references,
 * window releases and duplicate ids are exercised.
 */
#include <stdint.h>
#include <stdlib.h>

#include "codec/glz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct glz_window *window = glz_window_create(1u << 16);
    if (!window) {
        return 0;
    }
    while (size >= 2) {
        size_t len = data[0] | ((size_t)data[1] << 8);
        data += 2;
        size -= 2;
        if (len > size) {
            len = size;
        }
        struct codec_info info;
        if (glz_decode_header(data, len, &info, NULL, NULL) == 0 &&
            (size_t)info.width * info.height <= (1u << 18)) {
            uint8_t *out = malloc((size_t)info.width * info.height * 4);
            if (out) {
                glz_decode(window, data, len, out, (int32_t)(info.width * 4), NULL);
                free(out);
            }
        }
        data += len;
        size -= len;
    }
    glz_window_destroy(window);
    return 0;
}
