/*
 * SPICE_IMAGE_TYPE_JPEG and JPEG_ALPHA: lossy images as baseline JPEG.
 *
 * JPEG image data (the bytes counted by SpiceJPEGData.data_size) is one
 * baseline JFIF stream of the RGB: YCbCr 4:2:0, standard Huffman tables,
 * quality 85 by default (the SPICE server's fixed value). The client decodes
 * it to 32-bit xRGB.
 *
 * JPEG_ALPHA image data (the bytes after the SpiceImageDescriptor) is
 *   u8  flags      SPICE_JPEG_ALPHA_FLAGS_TOP_DOWN (1): the alpha is top-down
 *   u32 jpeg_size  little endian, bytes of the JPEG
 *   u32 data_size  little endian, bytes that follow: jpeg_size + the LZ part
 *   the JPEG of the colour, then an LZ stream (codec/lz.h) of type XXXA
 *   carrying the alpha plane, whose top_down matches the flag.
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

/* Bytes of the JPEG_ALPHA header (flags, jpeg_size, data_size). */
#define JPEG_ALPHA_HEADER_BYTES 9
/* SpiceJpegAlphaFlags (spice/enums.h). */
#define JPEG_ALPHA_FLAG_TOP_DOWN 1u

/* Largest output of jpeg_codec_encode_alpha() for `img` (borrows), or 0. */
size_t jpeg_codec_encode_alpha_bound(const struct codec_image *img);

/* Encodes `img` (borrows; CODEC_FMT_RGBA) as JPEG_ALPHA image data (header
 * included, see above) into `out` (borrows): the colour as
 * jpeg_codec_encode() does, the alpha with lz_encode() as XXXA (top-down for
 * a positive stride, as the LZ encoder sends rows in memory order). Returns
 * the bytes written or the errors of jpeg_codec_encode() and lz_encode(). */
int jpeg_codec_encode_alpha(const struct codec_image *img, int quality, uint8_t *out,
                            size_t out_cap, const char **err_desc);

/* Reads the JPEG_ALPHA header and the JPEG header inside: info->format =
 * CODEC_FMT_RGBA, width and height of the JPEG, top_down from the flags.
 * data_size must cover exactly the rest of `in`. Returns 0, CLOVE_E_INVALID
 * or CLOVE_E_RANGE. */
int jpeg_codec_decode_alpha_header(const uint8_t *in, size_t in_len, struct codec_info *info,
                                   const char **err_desc);

/* Decodes JPEG_ALPHA image data `in` (borrows) into `pixels` (borrows) as
 * CODEC_FMT_RGBA, row 0 at the top, rows `stride` bytes apart (negative:
 * bottom-up; |stride| >= width * 4). info->width and height are the expected
 * size; the JPEG and the alpha stream must both have it, and the alpha
 * stream must be XXXA with the flags' orientation. Allocates width * height
 * bytes to hold the alpha while the JPEG is decoded. Returns 0,
 * CLOVE_E_INVALID, CLOVE_E_RANGE or CLOVE_E_NOMEM. Any input is safe. */
int jpeg_codec_decode_alpha(const uint8_t *in, size_t in_len, const struct codec_info *info,
                            uint8_t *pixels, int32_t stride, const char **err_desc);

#endif
