/*
 * SPICE_IMAGE_TYPE_LZ4: images as a stream of LZ4 blocks (liblz4).
 *
 * Wire layout of the image data (the bytes counted by SpiceLZ4Data.data_size):
 *   u8  top_down      1: the first row on the wire is the top row; 0: the bottom row
 *   u8  format        SpiceBitmapFmt: 16BIT (6), 24BIT (7), 32BIT (8) or RGBA (9)
 *   then one or more blocks, until the data ends:
 *     u32 size        big endian (unlike the rest of SPICE), bytes of the block
 *     u8  block[size] one LZ4 block of the streaming API: it may refer back up to
 *                     64 KiB into the output of the blocks before it
 * Decompressed, the blocks are the rows packed with no padding
 * (width * bytes per pixel each), in wire order. Width and height are not in
 * the data: they come from the SpiceImageDescriptor.
 *
 * Thread: any; no shared state.
 */
#ifndef CLOVE_CODEC_LZ4_CODEC_H
#define CLOVE_CODEC_LZ4_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

/* Bytes before the first block. */
#define LZ4_CODEC_HEADER_BYTES 2

/* Largest output lz4_codec_encode() can write for `img` (borrows), or 0 if
 * the image is not encodable (bad format or dimensions). */
size_t lz4_codec_encode_bound(const struct codec_image *img);

/* Encodes `img` (borrows; CODEC_FMT_RGB32, RGBA, RGB24 or RGB16) into `out`
 * (borrows, `out_cap` bytes). Rows are sent in memory order: top-down for a
 * positive stride, bottom-up (top_down = 0) for a negative one, as the SPICE
 * server does. Returns the number of bytes written, or CLOVE_E_RANGE (bad
 * dimensions or `out` too small; an `out_cap` of lz4_codec_encode_bound()
 * always suffices), CLOVE_E_UNSUPPORTED (format), CLOVE_E_INVALID (stride),
 * CLOVE_E_NOMEM. `err_desc` (may be NULL) gets a static string on error. */
int lz4_codec_encode(const struct codec_image *img, uint8_t *out, size_t out_cap,
                     const char **err_desc);

/* Reads the 2-byte header of `in` (borrows). Fills info->format and
 * info->top_down; width and height are set to 0 (they are not in the data).
 * Returns 0, CLOVE_E_INVALID or CLOVE_E_UNSUPPORTED (format not RGB). */
int lz4_codec_decode_header(const uint8_t *in, size_t in_len, struct codec_info *info,
                            const char **err_desc);

/* Decodes `in` (borrows, `in_len` bytes) into `pixels` (borrows), an image of
 * info->width x info->height pixels of info->format, whose row 0 is the top
 * row and rows are `stride` bytes apart (negative: bottom-up in memory;
 * |stride| >= codec_format_row_bytes()). info->format must be the format the
 * header announces (see lz4_codec_decode_header()). Needs no memory beyond
 * `pixels`: the blocks are decompressed into it packed, then rows are moved.
 * Returns 0, or CLOVE_E_INVALID (corrupt data, format mismatch, wrong
 * decompressed size, trailing bytes), CLOVE_E_RANGE (dimensions),
 * CLOVE_E_UNSUPPORTED. On error `pixels` holds garbage. Any input is safe. */
int lz4_codec_decode(const uint8_t *in, size_t in_len, const struct codec_info *info,
                     uint8_t *pixels, int32_t stride, const char **err_desc);

#endif
