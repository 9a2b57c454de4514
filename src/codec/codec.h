/*
 * Shared definitions of the image codec library (src/codec/).
 *
 * Every codec here is a pair of pure functions over caller-owned buffers:
 *   size_t xxx_encode_bound(const struct codec_image *img);
 *   int xxx_encode(const struct codec_image *img, uint8_t *out, size_t out_cap, ...);
 *   int xxx_decode_header(const uint8_t *in, size_t in_len, struct codec_info *info);
 *   int xxx_decode(const uint8_t *in, size_t in_len, uint8_t *pixels, int32_t stride, ...);
 * Encoders return the number of bytes written (> 0) or a negative CLOVE_E_*;
 * decoders return 0 or a negative CLOVE_E_*, never read or write out of
 * bounds whatever the input, and fill an err_desc. No I/O, no logging, no
 * global state, no setjmp/longjmp. State that lives across images (the GLZ
 * dictionary) is an explicit object the caller owns.
 *
 * Thread: any; objects are not shared between threads without the caller's
 * locking.
 */
#ifndef CLOVE_CODEC_CODEC_H
#define CLOVE_CODEC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Pixel layouts of images handed to encoders and produced by decoders.
 * All multi-byte pixels are little endian, as on the wire. */
enum codec_format {
    CODEC_FMT_INVALID = 0,
    CODEC_FMT_RGB32,   /* 4 bytes: B, G, R, unused (SPICE_BITMAP_FMT_32BIT, xRGB) */
    CODEC_FMT_RGBA,    /* 4 bytes: B, G, R, A (SPICE_BITMAP_FMT_RGBA) */
    CODEC_FMT_RGB24,   /* 3 bytes: B, G, R */
    CODEC_FMT_RGB16,   /* 2 bytes: x1r5g5b5 (SPICE_BITMAP_FMT_16BIT) */
    CODEC_FMT_XXXA,    /* 4 bytes, only A meaningful (LZ's alpha plane) */
    CODEC_FMT_A8,      /* 1 byte alpha / gray */
    CODEC_FMT_PLT1_LE, /* 1 bit palette index, bit 0 first */
    CODEC_FMT_PLT1_BE, /* 1 bit palette index, bit 7 first */
    CODEC_FMT_PLT4_LE, /* 4 bit palette index, low nibble first */
    CODEC_FMT_PLT4_BE, /* 4 bit palette index, high nibble first */
    CODEC_FMT_PLT8,    /* 8 bit palette index */
};

/* Bytes per row needed for `width` pixels of `format` (no padding), or 0. */
size_t codec_format_row_bytes(enum codec_format format, uint32_t width);

struct codec_image {
    enum codec_format format;
    uint32_t width, height;
    int32_t stride;        /* bytes from row y to row y+1 (negative: bottom-up in memory) */
    const uint8_t *pixels; /* borrows: row 0 is the top row */
};

struct codec_info {
    enum codec_format format;
    uint32_t width, height;
    int top_down; /* LZ/GLZ carry it; QUIC images are always top-down */
};

/* Hard limits every decoder enforces before allocating or writing. */
#define CODEC_MAX_DIM    16384
#define CODEC_MAX_PIXELS (16384u * 16384u)

#endif
