/*
 * JPEG image codec (SPICE_IMAGE_TYPE_JPEG), over libjpeg-turbo's TurboJPEG API.
 *
 * DESIGN
 * libjpeg's classic API reports errors through error_exit(), which must not
 * return, so a caller has to longjmp out of libjpeg's frames; our codecs do
 * not use setjmp/longjmp (STYLE G3). TurboJPEG (tjCompress2/tjDecompress2)
 * keeps that longjmp inside libjpeg-turbo and returns -1, so this file is
 * plain error-code C. Each call creates and destroys its own TurboJPEG handle:
 * a few KiB of state, negligible next to coding a picture, and it keeps the
 * functions pure and thread-safe.
 *
 * Encoding follows the SPICE server (jpeg-encoder.c): libjpeg defaults for a
 * 3-component RGB input, i.e. baseline YCbCr 4:2:0 with standard Huffman
 * tables, at the caller's quality. 32-bit and 24-bit BGR(X) rows go to
 * libjpeg-turbo as they are (TJPF_BGRX / TJPF_BGR); 16-bit x1r5g5b5 is first
 * expanded to BGR24 in a scratch copy. Negative strides use TJFLAG_BOTTOMUP.
 *
 * The caller's output buffer is handed to TurboJPEG without TJFLAG_NOREALLOC
 * (with it, libjpeg-turbo 2.1 assumes the buffer is tjBufSize() bytes
 * whatever size we pass). If the JPEG does not fit, TurboJPEG moves the data
 * to a buffer of its own, never freeing ours; we then free its buffer and
 * fail with CLOVE_E_RANGE.
 *
 * JPEG_ALPHA puts the JPEG of the colour and an LZ XXXA stream of the alpha
 * (codec/lz.h) behind a 9-byte header. The LZ decoder writes whole 0,0,0,A
 * pixels, so the decoder runs it first, keeps the alpha bytes aside, decodes
 * the JPEG over the pixels and then puts the alpha back.
 *
 * Decoding treats libjpeg warnings (corrupt or truncated data) as errors
 * (TJFLAG_STOPONWARNING) and limits progressive scans (TJFLAG_LIMITSCANS), so
 * hostile input costs at most one bounded decode and an error code.
 */
#include "codec/jpeg_codec.h"

#include <stdlib.h>
#include <string.h>

#include "codec/lz.h"

#if __has_include(<turbojpeg.h>)
#include <turbojpeg.h>
#define JPEG_CODEC_HAVE_TURBOJPEG 1
#else
#define JPEG_CODEC_HAVE_TURBOJPEG 0
#endif

static void set_error(const char **err_desc, const char *message)
{
    if (err_desc) {
        *err_desc = message;
    }
}

static int dimensions_ok(uint32_t width, uint32_t height)
{
    return width > 0 && height > 0 && width <= CODEC_MAX_DIM && height <= CODEC_MAX_DIM &&
           (uint64_t)width * height <= CODEC_MAX_PIXELS;
}

static size_t abs_stride(int32_t stride)
{
    return stride < 0 ? (size_t)(-(int64_t)stride) : (size_t)stride;
}

static int encodable_format(enum codec_format format)
{
    return format == CODEC_FMT_RGB32 || format == CODEC_FMT_RGBA || format == CODEC_FMT_RGB24 ||
           format == CODEC_FMT_RGB16;
}

#if JPEG_CODEC_HAVE_TURBOJPEG

size_t jpeg_codec_encode_bound(const struct codec_image *img)
{
    if (!img || !encodable_format(img->format) || !dimensions_ok(img->width, img->height)) {
        return 0;
    }
    unsigned long bound = tjBufSize((int)img->width, (int)img->height, TJSAMP_420);
    return bound == (unsigned long)-1 ? 0 : (size_t)bound;
}

/* x1r5g5b5 (little endian) rows to B, G, R bytes; 5-bit channels are widened
 * by repeating their top bits, as the SPICE server does. */
static uint8_t *rgb16_to_bgr24(const struct codec_image *img)
{
    size_t out_row = (size_t)img->width * 3;
    uint8_t *bgr = malloc(out_row * img->height);
    if (!bgr) {
        return NULL;
    }
    for (uint32_t y = 0; y < img->height; y++) {
        const uint8_t *src = img->pixels + (ptrdiff_t)y * img->stride;
        uint8_t *dst = bgr + y * out_row;
        for (uint32_t x = 0; x < img->width; x++) {
            unsigned v = (unsigned)src[2 * x] | (unsigned)src[2 * x + 1] << 8;
            unsigned r = (v >> 10) & 0x1f, g = (v >> 5) & 0x1f, b = v & 0x1f;
            dst[3 * x] = (uint8_t)(b << 3 | b >> 2);
            dst[3 * x + 1] = (uint8_t)(g << 3 | g >> 2);
            dst[3 * x + 2] = (uint8_t)(r << 3 | r >> 2);
        }
    }
    return bgr;
}

int jpeg_codec_encode(const struct codec_image *img, int quality, uint8_t *out, size_t out_cap,
                      const char **err_desc)
{
    if (!img || !img->pixels || !out || out_cap == 0) {
        set_error(err_desc, "jpeg: missing image or output");
        return CLOVE_E_INVALID;
    }
    if (!encodable_format(img->format)) {
        set_error(err_desc, "jpeg: only RGB16, RGB24, RGB32 and RGBA images");
        return CLOVE_E_UNSUPPORTED;
    }
    if (!dimensions_ok(img->width, img->height)) {
        set_error(err_desc, "jpeg: image dimensions out of range");
        return CLOVE_E_RANGE;
    }
    if (quality < 1 || quality > 100) {
        set_error(err_desc, "jpeg: quality not in 1..100");
        return CLOVE_E_INVALID;
    }
    size_t stride_bytes = abs_stride(img->stride);
    if (stride_bytes < codec_format_row_bytes(img->format, img->width) ||
        stride_bytes > INT32_MAX) {
        set_error(err_desc, "jpeg: stride shorter than a row");
        return CLOVE_E_INVALID;
    }

    uint8_t *scratch = NULL;
    const uint8_t *src = img->pixels;
    int pitch = (int)stride_bytes;
    int pixel_format = img->format == CODEC_FMT_RGB24 ? TJPF_BGR : TJPF_BGRX;
    int flags = 0;
    if (img->format == CODEC_FMT_RGB16) {
        scratch = rgb16_to_bgr24(img);
        if (!scratch) {
            set_error(err_desc, "jpeg: out of memory");
            return CLOVE_E_NOMEM;
        }
        src = scratch;
        pitch = (int)img->width * 3;
        pixel_format = TJPF_BGR;
    } else if (img->stride < 0) {
        src = img->pixels - (size_t)(img->height - 1) * stride_bytes;
        flags |= TJFLAG_BOTTOMUP;
    }

    int result;
    tjhandle tj = tjInitCompress();
    if (!tj) {
        set_error(err_desc, "jpeg: out of memory");
        result = CLOVE_E_NOMEM;
        goto error_handle;
    }
    unsigned char *jpeg = out;
    unsigned long jpeg_size = out_cap;
    /* TurboJPEG's source pointer is not const, but it only reads it. */
    if (tjCompress2(tj, (unsigned char *)src, (int)img->width, pitch, (int)img->height,
                    pixel_format, &jpeg, &jpeg_size, TJSAMP_420, quality, flags) != 0) {
        set_error(err_desc, "jpeg: libjpeg could not encode the image");
        result = CLOVE_E_RANGE;
    } else if (jpeg != out) {
        set_error(err_desc, "jpeg: output buffer too small");
        result = CLOVE_E_RANGE;
    } else if (jpeg_size > INT32_MAX) {
        set_error(err_desc, "jpeg: output too large");
        result = CLOVE_E_RANGE;
    } else {
        result = (int)jpeg_size;
    }
    if (jpeg != out) {
        tjFree(jpeg);
    }
    tjDestroy(tj);
error_handle:
    free(scratch);
    return result;
}

/* Reads the header with an existing handle; fills width and height. */
static int read_header(tjhandle tj, const uint8_t *in, size_t in_len, int *width, int *height,
                       const char **err_desc)
{
    int subsampling, colorspace;
    /* TurboJPEG's input pointer is not const, but it only reads it. */
    if (tjDecompressHeader3(tj, (unsigned char *)in, in_len, width, height, &subsampling,
                            &colorspace) != 0) {
        set_error(err_desc, "jpeg: not a JPEG header libjpeg can decode");
        return CLOVE_E_INVALID;
    }
    if (*width <= 0 || *height <= 0 || !dimensions_ok((uint32_t)*width, (uint32_t)*height)) {
        set_error(err_desc, "jpeg: image dimensions out of range");
        return CLOVE_E_RANGE;
    }
    return 0;
}

int jpeg_codec_decode_header(const uint8_t *in, size_t in_len, struct codec_info *info,
                             const char **err_desc)
{
    if (!in || in_len == 0 || !info) {
        set_error(err_desc, "jpeg: no data");
        return CLOVE_E_INVALID;
    }
    tjhandle tj = tjInitDecompress();
    if (!tj) {
        set_error(err_desc, "jpeg: out of memory");
        return CLOVE_E_NOMEM;
    }
    int width, height;
    int r = read_header(tj, in, in_len, &width, &height, err_desc);
    tjDestroy(tj);
    if (r < 0) {
        return r;
    }
    info->format = CODEC_FMT_RGB32;
    info->width = (uint32_t)width;
    info->height = (uint32_t)height;
    info->top_down = 1;
    return 0;
}

int jpeg_codec_decode(const uint8_t *in, size_t in_len, const struct codec_info *info,
                      uint8_t *pixels, int32_t stride, const char **err_desc)
{
    if (!in || in_len == 0 || !info || !pixels) {
        set_error(err_desc, "jpeg: no data, image description or pixels");
        return CLOVE_E_INVALID;
    }
    if (!dimensions_ok(info->width, info->height)) {
        set_error(err_desc, "jpeg: image dimensions out of range");
        return CLOVE_E_RANGE;
    }
    size_t stride_bytes = abs_stride(stride);
    if (stride_bytes < (size_t)info->width * 4 || stride_bytes > INT32_MAX) {
        set_error(err_desc, "jpeg: stride shorter than a row");
        return CLOVE_E_INVALID;
    }
    tjhandle tj = tjInitDecompress();
    if (!tj) {
        set_error(err_desc, "jpeg: out of memory");
        return CLOVE_E_NOMEM;
    }
    int width, height;
    int r = read_header(tj, in, in_len, &width, &height, err_desc);
    if (r < 0) {
        goto out;
    }
    if ((uint32_t)width != info->width || (uint32_t)height != info->height) {
        set_error(err_desc, "jpeg: JPEG size differs from the image size");
        r = CLOVE_E_INVALID;
        goto out;
    }
    uint8_t *dst = pixels;
    int flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
    if (stride < 0) {
        dst = pixels - (size_t)(info->height - 1) * stride_bytes;
        flags |= TJFLAG_BOTTOMUP;
    }
    if (tjDecompress2(tj, (unsigned char *)in, in_len, dst, width, (int)stride_bytes, height,
                      TJPF_BGRX, flags) != 0) {
        set_error(err_desc, "jpeg: corrupt JPEG data");
        r = CLOVE_E_INVALID;
        goto out;
    }
    r = 0;
out:
    tjDestroy(tj);
    return r;
}

#else /* !JPEG_CODEC_HAVE_TURBOJPEG */

/* Built without libjpeg-turbo's TurboJPEG header (libturbojpeg0-dev): every
 * entry point reports CLOVE_E_UNSUPPORTED so that the library still links. */

size_t jpeg_codec_encode_bound(const struct codec_image *img)
{
    (void)img;
    return 0;
}

int jpeg_codec_encode(const struct codec_image *img, int quality, uint8_t *out, size_t out_cap,
                      const char **err_desc)
{
    set_error(err_desc, "jpeg: built without TurboJPEG");
    return CLOVE_E_UNSUPPORTED;
}

int jpeg_codec_decode_header(const uint8_t *in, size_t in_len, struct codec_info *info,
                             const char **err_desc)
{
    set_error(err_desc, "jpeg: built without TurboJPEG");
    return CLOVE_E_UNSUPPORTED;
}

int jpeg_codec_decode(const uint8_t *in, size_t in_len, const struct codec_info *info,
                      uint8_t *pixels, int32_t stride, const char **err_desc)
{
    set_error(err_desc, "jpeg: built without TurboJPEG");
    return CLOVE_E_UNSUPPORTED;
}

#endif

/* ---- JPEG_ALPHA: shared by both builds, on top of the functions above ---- */

static void write_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t read_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The alpha plane of an RGBA image, as the XXXA image LZ codes. */
static struct codec_image alpha_view(const struct codec_image *img)
{
    struct codec_image alpha = *img;
    alpha.format = CODEC_FMT_XXXA;
    return alpha;
}

size_t jpeg_codec_encode_alpha_bound(const struct codec_image *img)
{
    if (!img || img->format != CODEC_FMT_RGBA) {
        return 0;
    }
    struct codec_image alpha = alpha_view(img);
    size_t jpeg = jpeg_codec_encode_bound(img);
    size_t lz = lz_encode_bound(&alpha);
    return jpeg && lz ? JPEG_ALPHA_HEADER_BYTES + jpeg + lz : 0;
}

int jpeg_codec_encode_alpha(const struct codec_image *img, int quality, uint8_t *out,
                            size_t out_cap, const char **err_desc)
{
    if (!img || !out) {
        set_error(err_desc, "jpeg: missing image or output");
        return CLOVE_E_INVALID;
    }
    if (img->format != CODEC_FMT_RGBA) {
        set_error(err_desc, "jpeg: JPEG_ALPHA needs an RGBA image");
        return CLOVE_E_UNSUPPORTED;
    }
    if (out_cap <= JPEG_ALPHA_HEADER_BYTES) {
        set_error(err_desc, "jpeg: output buffer too small");
        return CLOVE_E_RANGE;
    }
    int jpeg_size = jpeg_codec_encode(img, quality, out + JPEG_ALPHA_HEADER_BYTES,
                                      out_cap - JPEG_ALPHA_HEADER_BYTES, err_desc);
    if (jpeg_size < 0) {
        return jpeg_size;
    }
    size_t used = JPEG_ALPHA_HEADER_BYTES + (size_t)jpeg_size;
    struct codec_image alpha = alpha_view(img);
    int lz_size = lz_encode(&alpha, out + used, out_cap - used, err_desc);
    if (lz_size < 0) {
        return lz_size;
    }
    size_t data_size = (size_t)jpeg_size + (size_t)lz_size;
    if (data_size > INT32_MAX - JPEG_ALPHA_HEADER_BYTES) {
        set_error(err_desc, "jpeg: output too large");
        return CLOVE_E_RANGE;
    }
    out[0] = img->stride >= 0 ? JPEG_ALPHA_FLAG_TOP_DOWN : 0;
    write_le32(out + 1, (uint32_t)jpeg_size);
    write_le32(out + 5, (uint32_t)data_size);
    return (int)(JPEG_ALPHA_HEADER_BYTES + data_size);
}

/* Splits JPEG_ALPHA data into its JPEG and LZ parts. */
static int split_alpha(const uint8_t *in, size_t in_len, size_t *jpeg_size, const char **err_desc)
{
    if (!in || in_len < JPEG_ALPHA_HEADER_BYTES) {
        set_error(err_desc, "jpeg: missing JPEG_ALPHA header");
        return CLOVE_E_INVALID;
    }
    uint32_t jpeg = read_le32(in + 1), data = read_le32(in + 5);
    if (data != in_len - JPEG_ALPHA_HEADER_BYTES || jpeg == 0 || jpeg >= data) {
        set_error(err_desc, "jpeg: JPEG_ALPHA sizes do not match the data");
        return CLOVE_E_INVALID;
    }
    *jpeg_size = jpeg;
    return 0;
}

int jpeg_codec_decode_alpha_header(const uint8_t *in, size_t in_len, struct codec_info *info,
                                   const char **err_desc)
{
    size_t jpeg_size;
    int r = split_alpha(in, in_len, &jpeg_size, err_desc);
    if (r < 0) {
        return r;
    }
    if (!info) {
        set_error(err_desc, "jpeg: missing image description");
        return CLOVE_E_INVALID;
    }
    r = jpeg_codec_decode_header(in + JPEG_ALPHA_HEADER_BYTES, jpeg_size, info, err_desc);
    if (r < 0) {
        return r;
    }
    info->format = CODEC_FMT_RGBA;
    info->top_down = (in[0] & JPEG_ALPHA_FLAG_TOP_DOWN) != 0;
    return 0;
}

int jpeg_codec_decode_alpha(const uint8_t *in, size_t in_len, const struct codec_info *info,
                            uint8_t *pixels, int32_t stride, const char **err_desc)
{
    size_t jpeg_size;
    int r = split_alpha(in, in_len, &jpeg_size, err_desc);
    if (r < 0) {
        return r;
    }
    if (!info || !pixels) {
        set_error(err_desc, "jpeg: missing image description or pixels");
        return CLOVE_E_INVALID;
    }
    if (!dimensions_ok(info->width, info->height)) {
        set_error(err_desc, "jpeg: image dimensions out of range");
        return CLOVE_E_RANGE;
    }
    size_t stride_bytes = abs_stride(stride);
    if (stride_bytes < (size_t)info->width * 4) {
        set_error(err_desc, "jpeg: stride shorter than a row");
        return CLOVE_E_INVALID;
    }
    const uint8_t *lz = in + JPEG_ALPHA_HEADER_BYTES + jpeg_size;
    size_t lz_len = in_len - JPEG_ALPHA_HEADER_BYTES - jpeg_size;
    struct codec_info alpha;
    r = lz_decode_header(lz, lz_len, &alpha, err_desc);
    if (r < 0) {
        return r == CLOVE_E_INCOMPLETE ? CLOVE_E_INVALID : r;
    }
    if (alpha.format != CODEC_FMT_XXXA || alpha.width != info->width ||
        alpha.height != info->height || !alpha.top_down != !(in[0] & JPEG_ALPHA_FLAG_TOP_DOWN)) {
        set_error(err_desc, "jpeg: alpha stream does not match the image");
        return CLOVE_E_INVALID;
    }
    /* Check the JPEG before the LZ decoder spends time on the alpha. */
    struct codec_info colour;
    r = jpeg_codec_decode_header(in + JPEG_ALPHA_HEADER_BYTES, jpeg_size, &colour, err_desc);
    if (r < 0) {
        return r;
    }
    if (colour.width != info->width || colour.height != info->height) {
        set_error(err_desc, "jpeg: JPEG size differs from the image size");
        return CLOVE_E_INVALID;
    }
    uint8_t *saved = malloc((size_t)info->width * info->height);
    if (!saved) {
        set_error(err_desc, "jpeg: out of memory");
        return CLOVE_E_NOMEM;
    }
    r = lz_decode(lz, lz_len, pixels, stride, err_desc);
    if (r < 0) {
        goto out;
    }
    for (uint32_t y = 0; y < info->height; y++) {
        const uint8_t *row = pixels + (ptrdiff_t)y * stride;
        uint8_t *a = saved + (size_t)y * info->width;
        for (uint32_t x = 0; x < info->width; x++) {
            a[x] = row[4 * x + 3];
        }
    }
    r = jpeg_codec_decode(in + JPEG_ALPHA_HEADER_BYTES, jpeg_size, info, pixels, stride, err_desc);
    if (r < 0) {
        goto out;
    }
    for (uint32_t y = 0; y < info->height; y++) {
        uint8_t *row = pixels + (ptrdiff_t)y * stride;
        const uint8_t *a = saved + (size_t)y * info->width;
        for (uint32_t x = 0; x < info->width; x++) {
            row[4 * x + 3] = a[x];
        }
    }
out:
    free(saved);
    return r;
}
