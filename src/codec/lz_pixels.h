/*
 * Private helpers shared by the LZ and GLZ codecs (lz.c, glz.c).
 *
 * Both codecs see an image as a "stream" of pixel units: the rows of the
 * image one after another, with no padding. Matches and distances count
 * units. What a unit is depends on the wire image type:
 *   PLT1/PLT4/PLT8, A8 and the alpha plane: one byte;
 *   RGB16: a 16-bit pixel, sent as high byte then low byte;
 *   RGB24, RGB32 and the colour plane of RGBA: B, G, R (three bytes).
 * The encoders compare "keys": one uint32 per unit holding exactly the
 * bits the decoder reproduces (for RGB32 the pad byte is masked off).
 *
 * Hosts are assumed little endian (x86, arm64), so a BGRX pixel loaded as a
 * uint32 has B in bits 0-7; keys rely on that.
 */
#ifndef CLOVE_CODEC_LZ_PIXELS_H
#define CLOVE_CODEC_LZ_PIXELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec/codec.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the LZ codecs assume a little-endian host"
#endif

/* lz_common.h: LZ_MAGIC is ASCII "  ZL" read big endian; version 1.1. */
#define LZ_WIRE_MAGIC   0x20205a4cu
#define LZ_WIRE_VERSION 0x00010001u

/* Image types as on the wire (spice-common lz_common.h LzImageType). */
enum lz_wire_type {
    LZ_WIRE_INVALID = 0,
    LZ_WIRE_PLT1_LE = 1,
    LZ_WIRE_PLT1_BE = 2,
    LZ_WIRE_PLT4_LE = 3,
    LZ_WIRE_PLT4_BE = 4,
    LZ_WIRE_PLT8 = 5,
    LZ_WIRE_RGB16 = 6,
    LZ_WIRE_RGB24 = 7,
    LZ_WIRE_RGB32 = 8,
    LZ_WIRE_RGBA = 9,
    LZ_WIRE_XXXA = 10,
    LZ_WIRE_A8 = 11,
};

/* How literal units are written: bytes per unit on the wire. */
enum lz_unit {
    LZ_UNIT_BYTE = 1,  /* palette bytes, A8, alpha */
    LZ_UNIT_RGB16 = 2, /* high byte, low byte */
    LZ_UNIT_RGB = 3,   /* B, G, R */
};

static inline uint32_t lz_load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t lz_load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t lz_read_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void lz_write_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline enum lz_wire_type lz_wire_type_from_format(enum codec_format format)
{
    switch (format) {
    case CODEC_FMT_PLT1_LE:
        return LZ_WIRE_PLT1_LE;
    case CODEC_FMT_PLT1_BE:
        return LZ_WIRE_PLT1_BE;
    case CODEC_FMT_PLT4_LE:
        return LZ_WIRE_PLT4_LE;
    case CODEC_FMT_PLT4_BE:
        return LZ_WIRE_PLT4_BE;
    case CODEC_FMT_PLT8:
        return LZ_WIRE_PLT8;
    case CODEC_FMT_RGB16:
        return LZ_WIRE_RGB16;
    case CODEC_FMT_RGB24:
        return LZ_WIRE_RGB24;
    case CODEC_FMT_RGB32:
        return LZ_WIRE_RGB32;
    case CODEC_FMT_RGBA:
        return LZ_WIRE_RGBA;
    case CODEC_FMT_XXXA:
        return LZ_WIRE_XXXA;
    case CODEC_FMT_A8:
        return LZ_WIRE_A8;
    default:
        return LZ_WIRE_INVALID;
    }
}

static inline enum codec_format lz_format_from_wire_type(uint32_t type)
{
    static const enum codec_format map[] = {
            CODEC_FMT_INVALID, CODEC_FMT_PLT1_LE, CODEC_FMT_PLT1_BE, CODEC_FMT_PLT4_LE,
            CODEC_FMT_PLT4_BE, CODEC_FMT_PLT8,    CODEC_FMT_RGB16,   CODEC_FMT_RGB24,
            CODEC_FMT_RGB32,   CODEC_FMT_RGBA,    CODEC_FMT_XXXA,    CODEC_FMT_A8,
    };
    return type < sizeof(map) / sizeof(map[0]) ? map[type] : CODEC_FMT_INVALID;
}

static inline int lz_wire_type_is_plt(uint32_t type)
{
    return type >= LZ_WIRE_PLT1_LE && type <= LZ_WIRE_PLT8;
}

/* Palette types pack several pixels per byte (lz_common.h PLT_PIXELS_PER_BYTE). */
static inline uint32_t lz_plt_pixels_per_byte(uint32_t type)
{
    switch (type) {
    case LZ_WIRE_PLT1_LE:
    case LZ_WIRE_PLT1_BE:
        return 8;
    case LZ_WIRE_PLT4_LE:
    case LZ_WIRE_PLT4_BE:
        return 2;
    default:
        return 1;
    }
}

/* Wire bytes of one pixel of an RGB type (lz_common.h RGB_BYTES_PER_PIXEL). */
static inline uint32_t lz_rgb_bytes_per_pixel(uint32_t type)
{
    switch (type) {
    case LZ_WIRE_RGB16:
        return 2;
    case LZ_WIRE_RGB24:
        return 3;
    case LZ_WIRE_RGB32:
    case LZ_WIRE_RGBA:
    case LZ_WIRE_XXXA:
        return 4;
    default:
        return 1;
    }
}

/* Units of the colour stream of a type (the alpha plane is always LZ_UNIT_BYTE). */
static inline enum lz_unit lz_unit_of_type(uint32_t type)
{
    switch (type) {
    case LZ_WIRE_RGB16:
        return LZ_UNIT_RGB16;
    case LZ_WIRE_RGB24:
    case LZ_WIRE_RGB32:
    case LZ_WIRE_RGBA:
        return LZ_UNIT_RGB;
    default:
        return LZ_UNIT_BYTE;
    }
}

/* Both decoders add this to a coded match length: one-byte units code
 * lengths from 3, RGB16 from 2, RGB from 1. */
static inline uint32_t lz_len_bias(enum lz_unit unit)
{
    return unit == LZ_UNIT_BYTE ? 2 : unit == LZ_UNIT_RGB16 ? 1 : 0;
}

/* Writes one literal unit from its key and returns the bytes written.
 * Needs 4 bytes of room (RGB writes a scratch 4th byte). */
static inline size_t lz_put_literal(uint8_t *op, uint32_t key, enum lz_unit unit)
{
    if (unit == LZ_UNIT_RGB) {
        memcpy(op, &key, 4);
        return 3;
    }
    if (unit == LZ_UNIT_RGB16) {
        op[0] = (uint8_t)(key >> 8);
        op[1] = (uint8_t)key;
        return 2;
    }
    op[0] = (uint8_t)key;
    return 1;
}

/* Writes the "length beyond 7" bytes of a match: runs of 255 then the rest. */
static inline uint8_t *lz_put_long_len(uint8_t *op, size_t rest)
{
    while (rest >= 255) {
        *op++ = 255;
        rest -= 255;
    }
    *op++ = (uint8_t)rest;
    return op;
}

/* The RGB32 pixel (B, G, R in bits 0-23) a decoder makes of an x1r5g5b5
 * RGB16 pixel (spice-gtk decode-glz-tmpl.c RGB16 to RGB32). */
static inline uint32_t lz_rgb16_to_rgb32(uint32_t p)
{
    uint32_t r5 = (p >> 10) & 31, g5 = (p >> 5) & 31, b5 = p & 31;
    uint32_t r = (r5 << 3) | (r5 >> 2), g = (g5 << 3) | (g5 >> 2), b = (b5 << 3) | (b5 >> 2);
    return b | (g << 8) | (r << 16);
}

/* Inverse of lz_rgb16_to_rgb32 on its image (the top bit comes back as 0). */
static inline uint32_t lz_rgb32_to_rgb16(uint32_t k)
{
    return (((k >> 19) & 31) << 10) | (((k >> 11) & 31) << 5) | ((k >> 3) & 31);
}

/* Number of match units of length `len` (>= 1) costs on the wire, LZ and
 * GLZ alike: a length field of 3 bits, then one byte per 255 beyond. */
static inline size_t lz_len_extra_bytes(size_t coded_len)
{
    return coded_len < 7 ? 0 : (coded_len - 7) / 255 + 1;
}

static inline size_t lz_match_len(const uint32_t *a, const uint32_t *b, size_t max, uint32_t mask)
{
    uint64_t mask64 = ((uint64_t)mask << 32) | mask;
    size_t n = 0;
    while (n + 2 <= max) {
        uint64_t d = (lz_load64(a + n) ^ lz_load64(b + n)) & mask64;
        if (d) {
            return n + ((unsigned)__builtin_ctzll(d) >> 5);
        }
        n += 2;
    }
    if (n < max && ((a[n] ^ b[n]) & mask) == 0) {
        n++;
    }
    return n;
}

#endif
