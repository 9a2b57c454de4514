/*
 * libFuzzer target for ZLIB_GLZ_RGB (src/codec/zlib_glz.c): any bytes are
 * unwrapped and, when that works, decoded as GLZ through a fresh window.
 */
#include <stdint.h>
#include <stdlib.h>

#include "codec/glz.h"
#include "codec/zlib_glz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t glz_size;
    if (zlib_glz_decode_header(data, size, &glz_size, NULL) < 0 || glz_size > (1u << 20)) {
        return 0;
    }
    uint8_t *glz = malloc(glz_size);
    if (!glz) {
        return 0;
    }
    int n = zlib_glz_decode(data, size, glz, glz_size, NULL);
    struct codec_info info;
    if (n > 0 && glz_decode_header(glz, (size_t)n, &info, NULL, NULL) == 0 &&
        (size_t)info.width * info.height <= (1u << 18)) {
        struct glz_window *window = glz_window_create(1u << 18);
        uint8_t *out = malloc((size_t)info.width * info.height * 4);
        if (window && out) {
            glz_decode(window, glz, (size_t)n, out, (int32_t)(info.width * 4), NULL);
        }
        free(out);
        glz_window_destroy(window);
    }
    free(glz);
    return 0;
}
