/*
 * QUIC: SPICE's lossless predictive image codec (SPICE_IMAGE_TYPE_QUIC).
 *
 * The encoder produces exactly the bytes spice-common's encoder produces for
 * the same image, so a SPICE client cannot tell our server from the
 * reference one; the decoder accepts every stream the reference produces and
 * rejects, with an error return, anything it cannot decode safely.
 *
 * Stream layout: five little-endian u32 words (magic "QUIC" 0x43495551,
 * version 0, quic_image_type, width, height), then the coded pixels as an
 * MSB-first bit string packed into little-endian u32 words, zero-padded to a
 * whole word, then one more zero word.
 *
 * Thread: any; every function is pure over caller-owned buffers.
 */
#ifndef CLOVE_CODEC_QUIC_H
#define CLOVE_CODEC_QUIC_H

#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

/* The image type word of the stream header (spice-common quic.h values). */
enum quic_image_type {
    QUIC_IMAGE_TYPE_INVALID = 0,
    QUIC_IMAGE_TYPE_GRAY = 1,  /* one 8-bit plane: CODEC_FMT_A8 */
    QUIC_IMAGE_TYPE_RGB16 = 2, /* three 5-bit planes: CODEC_FMT_RGB16 */
    QUIC_IMAGE_TYPE_RGB24 = 3, /* three 8-bit planes: CODEC_FMT_RGB24 */
    QUIC_IMAGE_TYPE_RGB32 = 4, /* three 8-bit planes: CODEC_FMT_RGB32 (pad byte ignored) */
    QUIC_IMAGE_TYPE_RGBA = 5,  /* RGB32 planes plus an alpha plane: CODEC_FMT_RGBA */
};

#define QUIC_HEADER_BYTES 20

/* The QUIC type an image of `format` is coded as, or QUIC_IMAGE_TYPE_INVALID
 * when QUIC cannot code that format (palettes, XXXA). */
enum quic_image_type quic_type_for_format(enum codec_format format);

/* Worst-case size of quic_encode()'s output for `img` (borrows), or 0 when
 * the image cannot be QUIC coded (format, zero or oversized dimensions). */
size_t quic_encode_bound(const struct codec_image *img);

/* Encodes `img` (borrows; formats RGB32, RGBA, RGB24, RGB16 and A8, rows
 * taken from row 0 = top, any stride sign) into out[0..out_cap).
 * Returns the number of bytes written (a multiple of 4), or
 * CLOVE_E_INVALID (bad image description), CLOVE_E_UNSUPPORTED (format),
 * CLOVE_E_RANGE (out_cap too small, or output over INT_MAX bytes),
 * CLOVE_E_NOMEM (scratch allocation failed). out_cap >= quic_encode_bound()
 * always suffices. `err_desc` (may be NULL) gets a static description on
 * failure. */
int quic_encode(const struct codec_image *img, uint8_t *out, size_t out_cap,
                const char **err_desc);

/* Parses the header of the stream in[0..in_len) (borrows). On success fills
 * `info` (format = the natural format of the stream's type: A8, RGB16,
 * RGB24, RGB32 or RGBA; top_down = 1) and returns 0; otherwise returns
 * CLOVE_E_INVALID (bad magic, version, type or size, or truncated) or
 * CLOVE_E_RANGE (dimensions over CODEC_MAX_DIM / CODEC_MAX_PIXELS). */
int quic_decode_header(const uint8_t *in, size_t in_len, struct codec_info *info,
                       const char **err_desc);

/* Decodes the stream in[0..in_len) (borrows) into the caller's buffer
 * pixels[0..pixels_len) (borrows) as `format`, rows `stride` bytes apart:
 * with stride > 0 row 0 (the top row) starts at pixels, with stride < 0 it
 * starts at pixels + (height - 1) * -stride (a bottom-up buffer).
 * |stride| must be at least the row size and the buffer must hold every row.
 * Output formats per stream type:
 *   GRAY: A8.   RGB16: RGB16, RGB32 (channels expanded to 8 bits).
 *   RGB24, RGB32: RGB32 (pad byte written 0), RGB24.   RGBA: RGBA.
 * Returns 0, or CLOVE_E_INVALID (corrupt or truncated stream, or a bad
 * stride/buffer), CLOVE_E_RANGE (oversized image), CLOVE_E_UNSUPPORTED
 * (format not offered for the stream's type), CLOVE_E_NOMEM. Never reads or
 * writes out of bounds; on error the output buffer holds partial data. */
int quic_decode(const uint8_t *in, size_t in_len, uint8_t *pixels, size_t pixels_len,
                int32_t stride, enum codec_format format, const char **err_desc);

#endif
