/*
 * SPICE LZ image codec (SPICE_IMAGE_TYPE_LZ_RGB and LZ_PLT).
 *
 * Wire format (spice-common lz.c / lz_common.h): seven big-endian u32 words
 * {magic 0x20205a4c, version 0x00010001, type, width, height, stride,
 * top_down}, then the compressed pixel stream. RGBA carries the colour
 * stream followed by a second stream for the alpha plane. See lz.c.
 *
 * Thread: any; every function is pure over the caller's buffers.
 */
#ifndef CLOVE_CODEC_LZ_H
#define CLOVE_CODEC_LZ_H

#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

#define LZ_HEADER_SIZE 28

/* Upper bound of lz_encode()'s output for `img`, or 0 if img is not encodable. */
size_t lz_encode_bound(const struct codec_image *img);

/*
 * Compresses `img` (borrows; any format of codec.h, width and height >= 1)
 * into out[0..out_cap). Rows are read in memory order, so a negative stride
 * is sent bottom-up (top_down = 0) without copying.
 * Returns the number of bytes written, or CLOVE_E_INVALID (bad image),
 * CLOVE_E_RANGE (out_cap too small; lz_encode_bound() is always enough),
 * CLOVE_E_NOMEM. Fills *err_desc (may be NULL) with a static string on error.
 */
int lz_encode(const struct codec_image *img, uint8_t *out, size_t out_cap, const char **err_desc);

/*
 * Parses the header of an LZ stream. info->format is the layout lz_decode()
 * writes: the image's own format (palette types give packed indices, XXXA
 * gives 0,0,0,A pixels). Returns 0, CLOVE_E_INCOMPLETE (fewer than
 * LZ_HEADER_SIZE bytes), CLOVE_E_INVALID or CLOVE_E_RANGE (beyond CODEC_MAX_*).
 */
int lz_decode_header(const uint8_t *in, size_t in_len, struct codec_info *info,
                     const char **err_desc);

/*
 * Decodes a whole LZ stream into `pixels` (borrows; row 0 is the top row,
 * rows `stride` bytes apart, each at least codec_format_row_bytes(format,
 * width) bytes). Safe on any input: returns 0 or a negative CLOVE_E_* with
 * *err_desc set, and never touches memory outside in[0..in_len) and the
 * image rows. May allocate a temporary buffer when the rows are not laid out
 * in stream order.
 */
int lz_decode(const uint8_t *in, size_t in_len, uint8_t *pixels, int32_t stride,
              const char **err_desc);

#endif
