/*
 * SPICE ZLIB_GLZ_RGB image wrapper: a GLZ stream compressed once more with
 * zlib (deflate with the zlib header, level 3 in the reference server).
 *
 * Wire layout (spice.proto SpiceZlibGlzRGBData, marshalled little endian):
 * {u32 glz_data_size; u32 data_size; u8 data[data_size]} where data
 * inflates to exactly glz_data_size bytes of GLZ stream (glz.h).
 *
 * The reference server wraps only GLZ output of at least
 * ZLIB_GLZ_MIN_INPUT bytes and sends plain GLZ when deflate does not make
 * it smaller; zlib_glz_encode() reports that case as CLOVE_E_RANGE.
 *
 * Thread: any; pure functions over caller buffers (zlib allocates its own
 * state internally).
 */
#ifndef CLOVE_CODEC_ZLIB_GLZ_H
#define CLOVE_CODEC_ZLIB_GLZ_H

#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

#define ZLIB_GLZ_HEADER_SIZE   8
#define ZLIB_GLZ_MIN_INPUT     100 /* image-encoders.cpp MIN_GLZ_SIZE_FOR_ZLIB */
#define ZLIB_GLZ_DEFAULT_LEVEL 3
#define ZLIB_GLZ_MAX_GLZ_SIZE  (256u * 1024 * 1024) /* decoder refuses larger claims */

/* Upper bound of zlib_glz_encode()'s output for glz_len input bytes. */
size_t zlib_glz_encode_bound(size_t glz_len);

/*
 * Wraps the GLZ stream glz[0..glz_len) (borrows) into out: the 8-byte
 * header then the deflate data, at zlib level `level` (0..9; use
 * ZLIB_GLZ_DEFAULT_LEVEL). Returns the bytes written, CLOVE_E_RANGE when
 * the result would not be smaller than glz_len (send plain GLZ instead) or
 * does not fit out_cap, CLOVE_E_INVALID, or CLOVE_E_NOMEM.
 */
int zlib_glz_encode(const uint8_t *glz, size_t glz_len, int level, uint8_t *out, size_t out_cap,
                    const char **err_desc);

/*
 * Reads the header: *glz_size is the size of the GLZ stream inside, to size
 * the buffer for zlib_glz_decode(). Returns 0, CLOVE_E_INCOMPLETE,
 * CLOVE_E_INVALID (data_size beyond in_len) or CLOVE_E_RANGE.
 */
int zlib_glz_decode_header(const uint8_t *in, size_t in_len, uint32_t *glz_size,
                           const char **err_desc);

/*
 * Inflates the wrapped GLZ stream into glz_out[0..glz_cap); it must come
 * out exactly glz_data_size bytes long. Returns that size or a negative
 * CLOVE_E_*. Feed the result to glz_decode().
 */
int zlib_glz_decode(const uint8_t *in, size_t in_len, uint8_t *glz_out, size_t glz_cap,
                    const char **err_desc);

#endif
