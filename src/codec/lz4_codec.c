/*
 * LZ4 image codec (SPICE_IMAGE_TYPE_LZ4), over liblz4's block streaming API.
 *
 * DESIGN
 * The encoder walks the image rows in memory order (which is what sets the
 * top_down byte) and compresses them in blocks of about LZ4_CODEC_BLOCK_TARGET
 * bytes with LZ4_compress_fast_continue(), so each block may match into the
 * 64 KiB before it, exactly what the client's LZ4_decompress_safe_continue()
 * loop expects. When rows are contiguous in memory (|stride| == row bytes,
 * the usual case) blocks point straight into the caller's image; otherwise
 * rows are packed into two alternating scratch blocks, because liblz4 needs
 * the previous block to stay where it was while the next one is compressed.
 *
 * The decoder decompresses every block back to back into the caller's pixel
 * buffer starting at its lowest address (the stream decoder needs its
 * history contiguous), then fixes the layout in place: rows are reversed if
 * the wire order is not the memory order, and spread out to the caller's
 * stride from the last row to the first so that no row overwrites one not
 * yet moved. So it needs no memory but the caller's buffer.
 *
 * INVARIANTS
 * - The decoder never writes more than height * row_bytes bytes before the
 *   reorder (liblz4 is given the space left as its bound) and never reads
 *   outside `in`: every block size is checked against the bytes left.
 * - The whole image must decode to exactly height * row_bytes bytes, with
 *   no bytes after the last block.
 */
#include "codec/lz4_codec.h"

#include <limits.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>

/* SpiceBitmapFmt values (spice/enums.h); codec does not include the protocol
 * headers, so the four RGB values LZ4 carries are spelled out here. */
enum {
    LZ4_WIRE_FMT_16BIT = 6,
    LZ4_WIRE_FMT_24BIT = 7,
    LZ4_WIRE_FMT_32BIT = 8,
    LZ4_WIRE_FMT_RGBA = 9,
};

/* Uncompressed bytes per block. Big enough that the per-call cost of liblz4
 * vanishes, small enough that the scratch blocks stay in cache. */
#define LZ4_CODEC_BLOCK_TARGET (256u * 1024u)

static void set_error(const char **err_desc, const char *message)
{
    if (err_desc) {
        *err_desc = message;
    }
}

static int wire_format_from_codec(enum codec_format format)
{
    switch (format) {
    case CODEC_FMT_RGB16:
        return LZ4_WIRE_FMT_16BIT;
    case CODEC_FMT_RGB24:
        return LZ4_WIRE_FMT_24BIT;
    case CODEC_FMT_RGB32:
        return LZ4_WIRE_FMT_32BIT;
    case CODEC_FMT_RGBA:
        return LZ4_WIRE_FMT_RGBA;
    default:
        return -1;
    }
}

static enum codec_format codec_format_from_wire(uint8_t wire)
{
    switch (wire) {
    case LZ4_WIRE_FMT_16BIT:
        return CODEC_FMT_RGB16;
    case LZ4_WIRE_FMT_24BIT:
        return CODEC_FMT_RGB24;
    case LZ4_WIRE_FMT_32BIT:
        return CODEC_FMT_RGB32;
    case LZ4_WIRE_FMT_RGBA:
        return CODEC_FMT_RGBA;
    default:
        return CODEC_FMT_INVALID;
    }
}

static int dimensions_ok(uint32_t width, uint32_t height)
{
    return width > 0 && height > 0 && width <= CODEC_MAX_DIM && height <= CODEC_MAX_DIM &&
           (uint64_t)width * height <= CODEC_MAX_PIXELS;
}

static size_t rows_per_block(size_t row_bytes)
{
    size_t rows = LZ4_CODEC_BLOCK_TARGET / row_bytes;
    return rows ? rows : 1;
}

static size_t abs_stride(int32_t stride)
{
    return stride < 0 ? (size_t)(-(int64_t)stride) : (size_t)stride;
}

/* Lowest address of an image whose row 0 is at `pixels`. */
static uint8_t *lowest_row(uint8_t *pixels, uint32_t height, int32_t stride)
{
    return stride >= 0 ? pixels : pixels - (size_t)(height - 1) * abs_stride(stride);
}

static void write_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t read_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t lz4_codec_encode_bound(const struct codec_image *img)
{
    if (!img || wire_format_from_codec(img->format) < 0 ||
        !dimensions_ok(img->width, img->height)) {
        return 0;
    }
    size_t row_bytes = codec_format_row_bytes(img->format, img->width);
    size_t rows = rows_per_block(row_bytes);
    size_t blocks = (img->height + rows - 1) / rows;
    size_t block_bytes = (rows < img->height ? rows : img->height) * row_bytes;
    return LZ4_CODEC_HEADER_BYTES + blocks * (4 + (size_t)LZ4_COMPRESSBOUND(block_bytes));
}

int lz4_codec_encode(const struct codec_image *img, uint8_t *out, size_t out_cap,
                     const char **err_desc)
{
    if (!img || !img->pixels || !out) {
        set_error(err_desc, "lz4: missing image or output");
        return CLOVE_E_INVALID;
    }
    int wire_format = wire_format_from_codec(img->format);
    if (wire_format < 0) {
        set_error(err_desc, "lz4: only RGB16, RGB24, RGB32 and RGBA images");
        return CLOVE_E_UNSUPPORTED;
    }
    if (!dimensions_ok(img->width, img->height)) {
        set_error(err_desc, "lz4: image dimensions out of range");
        return CLOVE_E_RANGE;
    }
    size_t row_bytes = codec_format_row_bytes(img->format, img->width);
    size_t stride_bytes = abs_stride(img->stride);
    if (stride_bytes < row_bytes) {
        set_error(err_desc, "lz4: stride shorter than a row");
        return CLOVE_E_INVALID;
    }
    if (out_cap < LZ4_CODEC_HEADER_BYTES) {
        set_error(err_desc, "lz4: output buffer too small");
        return CLOVE_E_RANGE;
    }

    /* The cast drops const only to share lowest_row(); nothing is written. */
    const uint8_t *base = lowest_row((uint8_t *)img->pixels, img->height, img->stride);
    size_t rows = rows_per_block(row_bytes);
    int contiguous = stride_bytes == row_bytes;
    uint8_t *scratch = NULL;
    if (!contiguous) {
        scratch = malloc(2 * rows * row_bytes);
        if (!scratch) {
            set_error(err_desc, "lz4: out of memory");
            return CLOVE_E_NOMEM;
        }
    }

    out[0] = img->stride >= 0 ? 1 : 0;
    out[1] = (uint8_t)wire_format;
    size_t pos = LZ4_CODEC_HEADER_BYTES;

    LZ4_stream_t stream;
    LZ4_initStream(&stream, sizeof(stream));
    int result = CLOVE_E_RANGE;
    unsigned scratch_half = 0;
    for (size_t row = 0; row < img->height; row += rows) {
        size_t count = img->height - row < rows ? img->height - row : rows;
        const uint8_t *src;
        if (contiguous) {
            src = base + row * row_bytes;
        } else {
            uint8_t *dst = scratch + scratch_half * rows * row_bytes;
            for (size_t i = 0; i < count; i++) {
                memcpy(dst + i * row_bytes, base + (row + i) * stride_bytes, row_bytes);
            }
            src = dst;
            scratch_half ^= 1;
        }
        if (out_cap - pos <= 4) {
            set_error(err_desc, "lz4: output buffer too small");
            goto out;
        }
        size_t room = out_cap - pos - 4;
        if (room > INT_MAX) {
            room = INT_MAX;
        }
        int packed = LZ4_compress_fast_continue(&stream, (const char *)src, (char *)out + pos + 4,
                                                (int)(count * row_bytes), (int)room, 1);
        if (packed <= 0) {
            set_error(err_desc, "lz4: output buffer too small");
            goto out;
        }
        write_be32(out + pos, (uint32_t)packed);
        pos += 4 + (size_t)packed;
    }
    if (pos > INT_MAX) {
        set_error(err_desc, "lz4: output too large");
        goto out;
    }
    result = (int)pos;
out:
    free(scratch);
    return result;
}

int lz4_codec_decode_header(const uint8_t *in, size_t in_len, struct codec_info *info,
                            const char **err_desc)
{
    if (!in || !info || in_len < LZ4_CODEC_HEADER_BYTES) {
        set_error(err_desc, "lz4: missing header");
        return CLOVE_E_INVALID;
    }
    enum codec_format format = codec_format_from_wire(in[1]);
    if (format == CODEC_FMT_INVALID) {
        set_error(err_desc, "lz4: bitmap format is not RGB");
        return CLOVE_E_UNSUPPORTED;
    }
    info->format = format;
    info->width = 0;
    info->height = 0;
    info->top_down = in[0] != 0;
    return 0;
}

/* Swaps rows k and height-1-k of a packed image, through a small stack
 * buffer so that no allocation is needed. */
static void reverse_rows(uint8_t *base, uint32_t height, size_t row_bytes)
{
    uint8_t tmp[512];
    for (size_t top = 0, bottom = height - 1; top < bottom; top++, bottom--) {
        uint8_t *a = base + top * row_bytes;
        uint8_t *b = base + bottom * row_bytes;
        for (size_t done = 0; done < row_bytes; done += sizeof(tmp)) {
            size_t n = row_bytes - done < sizeof(tmp) ? row_bytes - done : sizeof(tmp);
            memcpy(tmp, a + done, n);
            memcpy(a + done, b + done, n);
            memcpy(b + done, tmp, n);
        }
    }
}

/* Moves packed rows out to `stride_bytes` apart, last row first: row m only
 * ever moves up in memory, onto bytes of rows already moved. */
static void spread_rows(uint8_t *base, uint32_t height, size_t row_bytes, size_t stride_bytes)
{
    for (size_t m = height - 1; m > 0; m--) {
        memmove(base + m * stride_bytes, base + m * row_bytes, row_bytes);
    }
}

int lz4_codec_decode(const uint8_t *in, size_t in_len, const struct codec_info *info,
                     uint8_t *pixels, int32_t stride, const char **err_desc)
{
    struct codec_info header;
    int r = lz4_codec_decode_header(in, in_len, &header, err_desc);
    if (r < 0) {
        return r;
    }
    if (!info || !pixels) {
        set_error(err_desc, "lz4: missing image description or pixels");
        return CLOVE_E_INVALID;
    }
    if (header.format != info->format) {
        set_error(err_desc, "lz4: format differs from the one the buffer was sized for");
        return CLOVE_E_INVALID;
    }
    if (!dimensions_ok(info->width, info->height)) {
        set_error(err_desc, "lz4: image dimensions out of range");
        return CLOVE_E_RANGE;
    }
    size_t row_bytes = codec_format_row_bytes(info->format, info->width);
    size_t stride_bytes = abs_stride(stride);
    if (stride_bytes < row_bytes) {
        set_error(err_desc, "lz4: stride shorter than a row");
        return CLOVE_E_INVALID;
    }

    size_t total = (size_t)info->height * row_bytes;
    uint8_t *base = lowest_row(pixels, info->height, stride);
    LZ4_streamDecode_t stream;
    LZ4_setStreamDecode(&stream, NULL, 0);
    size_t pos = LZ4_CODEC_HEADER_BYTES;
    size_t produced = 0;
    while (pos < in_len) {
        if (in_len - pos < 4) {
            set_error(err_desc, "lz4: truncated block size");
            return CLOVE_E_INVALID;
        }
        uint32_t size = read_be32(in + pos);
        pos += 4;
        if (size == 0 || size > in_len - pos || size > INT_MAX) {
            set_error(err_desc, "lz4: block size beyond the data");
            return CLOVE_E_INVALID;
        }
        if (produced == total) {
            set_error(err_desc, "lz4: data after the last row");
            return CLOVE_E_INVALID;
        }
        int got = LZ4_decompress_safe_continue(&stream, (const char *)in + pos,
                                               (char *)base + produced, (int)size,
                                               (int)(total - produced));
        if (got <= 0) {
            set_error(err_desc, "lz4: corrupt block");
            return CLOVE_E_INVALID;
        }
        produced += (size_t)got;
        pos += size;
    }
    if (produced != total) {
        set_error(err_desc, "lz4: data ends before the last row");
        return CLOVE_E_INVALID;
    }

    /* Wire row k is image row k when top_down, else height-1-k; memory row m
     * (from `base`) is image row m when stride > 0, else height-1-m. */
    if ((header.top_down != 0) != (stride >= 0)) {
        reverse_rows(base, info->height, row_bytes);
    }
    if (stride_bytes != row_bytes) {
        spread_rows(base, info->height, row_bytes, stride_bytes);
    }
    return 0;
}
