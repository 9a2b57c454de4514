/*
 * SPICE_IMAGE_TYPE_JPEG and JPEG_ALPHA: lossy images as baseline JPEG.
 *
 * JPEG image data (the bytes counted by SpiceJPEGData.data_size) is one
 * baseline JFIF stream of the RGB: YCbCr 4:2:0, standard Huffman tables,
 * quality 85 by default (the SPICE server's fixed value). The client decodes
 * it to 32-bit xRGB.
 *
 * Thread: any; no shared state (each call makes and frees its own libjpeg
 * state).
 */
#ifndef CLOVE_CODEC_JPEG_CODEC_H
#define CLOVE_CODEC_JPEG_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

/* The SPICE server's quality (dcc.cpp sets jpeg_quality = 85). */
#define JPEG_CODEC_DEFAULT_QUALITY 85

/* Largest output jpeg_codec_encode() can write for `img` (borrows), or 0 if
 * the image cannot be encoded (format or dimensions). */
size_t jpeg_codec_encode_bound(const struct codec_image *img);

/* Encodes the colour of `img` (borrows; CODEC_FMT_RGB32, RGBA (alpha
 * ignored), RGB24 or RGB16) as a baseline JPEG of `quality` (1..100) into
 * `out` (borrows, `out_cap` bytes). Returns the number of bytes written, or
 * CLOVE_E_RANGE (dimensions, or `out` too small: jpeg_codec_encode_bound()
 * always suffices), CLOVE_E_UNSUPPORTED (format), CLOVE_E_INVALID (quality,
 * stride), CLOVE_E_NOMEM. `err_desc` (may be NULL) gets a static string. */
int jpeg_codec_encode(const struct codec_image *img, int quality, uint8_t *out, size_t out_cap,
                      const char **err_desc);

/* Reads the JPEG header of `in` (borrows): info->format = CODEC_FMT_RGB32
 * (what jpeg_codec_decode() writes), width, height, top_down = 1.
 * Returns 0, CLOVE_E_INVALID (not a JPEG we can decode) or CLOVE_E_RANGE
 * (dimensions beyond CODEC_MAX_DIM / CODEC_MAX_PIXELS). */
int jpeg_codec_decode_header(const uint8_t *in, size_t in_len, struct codec_info *info,
                             const char **err_desc);

/* Decodes the JPEG `in` (borrows) into `pixels` (borrows) as CODEC_FMT_RGB32
 * (B, G, R, 0xff), row 0 at the top, rows `stride` bytes apart (negative:
 * bottom-up in memory; |stride| >= width * 4). info->width and height are
 * the dimensions the caller expects (the SpiceImageDescriptor's): a JPEG of
 * another size is rejected. Corrupt or truncated data is rejected too (libjpeg
 * warnings are errors here), and progressive files with absurd scan counts.
 * Returns 0, CLOVE_E_INVALID or CLOVE_E_RANGE. Any input is safe. */
int jpeg_codec_decode(const uint8_t *in, size_t in_len, const struct codec_info *info,
                      uint8_t *pixels, int32_t stride, const char **err_desc);

#endif
