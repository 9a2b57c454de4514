/*
 * Codec benchmark: compression ratio and single-thread encode/decode speed of
 * every image codec in src/codec/, next to raw liblz4 and zstd -1 over the
 * same pixel bytes.
 *
 * DESIGN
 * A table of codec entries (name, bound, encode, decode, lossy or not); a
 * codec whose header is not in the tree yet is compiled out by
 * __has_include, so the tool builds at every stage of the codec library.
 * Images: the generated corpus (codec_corpus.c: text, ui, gradient, photo)
 * and, when --images DIR holds them, the reference PNGs (desktop, xscreen,
 * photo, xscreen_f2, xscreen_f3) decoded with libpng into 32-bit xRGB with
 * the pad byte 0. All images are 1920x1080 unless --size says otherwise.
 *
 * MB/s counts raw 32-bit pixel bytes (width * height * 4) per second, 10^6
 * B/s, for encode and decode alike; each figure is the best of --reps timed
 * runs (CLOCK_MONOTONIC) after one untimed warm-up. State that lives across
 * images (the GLZ dictionary and window) is made fresh, untimed, before each
 * run, so GLZ is measured as a first image. Every decode is checked: lossless
 * codecs must give back B, G and R exactly, lossy ones report PSNR.
 *
 * Output: a markdown table on stdout; --write-doc FILE writes it there too.
 */
#include <errno.h>
#include <lz4.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/codec.h"
#include "codec_corpus.h"

#if __has_include("codec/lz4_codec.h")
#include "codec/lz4_codec.h"
#define BENCH_HAVE_LZ4_CODEC 1
#endif
#if __has_include("codec/jpeg_codec.h")
#include "codec/jpeg_codec.h"
#define BENCH_HAVE_JPEG_CODEC 1
#endif
#if __has_include("codec/quic.h")
#include "codec/quic.h"
#define BENCH_HAVE_QUIC 1
#endif
#if __has_include("codec/lz.h")
#include "codec/lz.h"
#define BENCH_HAVE_LZ 1
#endif
#if __has_include("codec/glz.h")
#include "codec/glz.h"
#define BENCH_HAVE_GLZ 1
#endif
#if defined(BENCH_HAVE_ZSTD) && BENCH_HAVE_ZSTD
#include <zstd.h>
#endif
#if defined(BENCH_HAVE_PNG) && BENCH_HAVE_PNG
#include <png.h>
#endif

/* ---- codec entries ---- */

struct bench_codec {
    const char *name;
    int lossy;
    /* Makes fresh cross-image state before a run (may be NULL). */
    void (*reset)(void);
    size_t (*bound)(const struct codec_image *img);
    /* Returns bytes written or < 0. */
    long (*encode)(const struct codec_image *img, uint8_t *out, size_t cap);
    /* Decodes into a width x height RGB32 buffer with `stride`; 0 or < 0. */
    int (*decode)(const uint8_t *in, size_t len, uint32_t width, uint32_t height, uint8_t *pixels,
                  int32_t stride);
};

static size_t raw_bound(const struct codec_image *img)
{
    return (size_t)img->width * img->height * 4;
}

static long memcpy_encode(const struct codec_image *img, uint8_t *out, size_t cap)
{
    size_t n = raw_bound(img);
    memcpy(out, img->pixels, n);
    return (long)n;
}

static size_t lz4_raw_bound(const struct codec_image *img)
{
    return (size_t)LZ4_compressBound((int)raw_bound(img));
}

static long lz4_raw_encode(const struct codec_image *img, uint8_t *out, size_t cap)
{
    return LZ4_compress_default((const char *)img->pixels, (char *)out, (int)raw_bound(img),
                                (int)cap);
}

static int lz4_raw_decode(const uint8_t *in, size_t len, uint32_t width, uint32_t height,
                          uint8_t *pixels, int32_t stride)
{
    int want = (int)((size_t)width * height * 4);
    return LZ4_decompress_safe((const char *)in, (char *)pixels, (int)len, want) == want ? 0 : -1;
}

#if defined(BENCH_HAVE_ZSTD) && BENCH_HAVE_ZSTD
static size_t zstd_bound(const struct codec_image *img)
{
    return ZSTD_compressBound(raw_bound(img));
}

static long zstd_encode(const struct codec_image *img, uint8_t *out, size_t cap)
{
    size_t n = ZSTD_compress(out, cap, img->pixels, raw_bound(img), 1);
    return ZSTD_isError(n) ? -1 : (long)n;
}

static int zstd_decode(const uint8_t *in, size_t len, uint32_t width, uint32_t height,
                       uint8_t *pixels, int32_t stride)
{
    size_t want = (size_t)width * height * 4;
    size_t n = ZSTD_decompress(pixels, want, in, len);
    return !ZSTD_isError(n) && n == want ? 0 : -1;
}
#endif

#ifdef BENCH_HAVE_LZ4_CODEC
static long lz4_codec_entry_encode(const struct codec_image *img, uint8_t *out, size_t cap)
{
    return lz4_codec_encode(img, out, cap, NULL);
}

static int lz4_codec_entry_decode(const uint8_t *in, size_t len, uint32_t width, uint32_t height,
                                  uint8_t *pixels, int32_t stride)
{
    struct codec_info info = {CODEC_FMT_RGB32, width, height, 1};
    return lz4_codec_decode(in, len, &info, pixels, stride, NULL);
}
#endif

#ifdef BENCH_HAVE_JPEG_CODEC
static long jpeg_entry_encode(const struct codec_image *img, uint8_t *out, size_t cap)
{
    return jpeg_codec_encode(img, JPEG_CODEC_DEFAULT_QUALITY, out, cap, NULL);
}

static int jpeg_entry_decode(const uint8_t *in, size_t len, uint32_t width, uint32_t height,
                             uint8_t *pixels, int32_t stride)
{
    struct codec_info info = {CODEC_FMT_RGB32, width, height, 1};
    return jpeg_codec_decode(in, len, &info, pixels, stride, NULL);
}
#endif

#ifdef BENCH_HAVE_QUIC
static long quic_entry_encode(const struct codec_image *img, uint8_t *out, size_t cap)
{
    return quic_encode(img, out, cap, NULL);
}

static int quic_entry_decode(const uint8_t *in, size_t len, uint32_t width, uint32_t height,
                             uint8_t *pixels, int32_t stride)
{
    return quic_decode(in, len, pixels, (size_t)stride * height, stride, CODEC_FMT_RGB32, NULL);
}
#endif

#ifdef BENCH_HAVE_LZ
static long lz_entry_encode(const struct codec_image *img, uint8_t *out, size_t cap)
{
    return lz_encode(img, out, cap, NULL);
}

static int lz_entry_decode(const uint8_t *in, size_t len, uint32_t width, uint32_t height,
                           uint8_t *pixels, int32_t stride)
{
    return lz_decode(in, len, pixels, stride, NULL);
}
#endif

#ifdef BENCH_HAVE_GLZ
/* 64 MiB of 32-bit pixels, spice-gtk's largest window. */
#define BENCH_GLZ_WINDOW_PIXELS (16u * 1024u * 1024u)
static struct glz_dict *glz_bench_dict;
static struct glz_window *glz_bench_window;

static void glz_entry_reset(void)
{
    glz_dict_destroy(glz_bench_dict);
    glz_window_destroy(glz_bench_window);
    glz_bench_dict = glz_dict_create(BENCH_GLZ_WINDOW_PIXELS);
    glz_bench_window = glz_window_create(BENCH_GLZ_WINDOW_PIXELS);
}

static long glz_entry_encode(const struct codec_image *img, uint8_t *out, size_t cap)
{
    struct glz_encode_result result;
    return glz_bench_dict ? glz_encode(glz_bench_dict, img, out, cap, &result, NULL) : -1;
}

static int glz_entry_decode(const uint8_t *in, size_t len, uint32_t width, uint32_t height,
                            uint8_t *pixels, int32_t stride)
{
    return glz_bench_window ? glz_decode(glz_bench_window, in, len, pixels, stride, NULL) : -1;
}
#endif

static const struct bench_codec codecs[] = {
        {"memcpy", 0, NULL, raw_bound, memcpy_encode, NULL},
#ifdef BENCH_HAVE_QUIC
        {"QUIC", 0, NULL, quic_encode_bound, quic_entry_encode, quic_entry_decode},
#endif
#ifdef BENCH_HAVE_LZ
        {"LZ", 0, NULL, lz_encode_bound, lz_entry_encode, lz_entry_decode},
#endif
#ifdef BENCH_HAVE_GLZ
        {"GLZ (empty dict)", 0, glz_entry_reset, glz_encode_bound, glz_entry_encode,
         glz_entry_decode},
#endif
#ifdef BENCH_HAVE_LZ4_CODEC
        {"LZ4 (SPICE)", 0, NULL, lz4_codec_encode_bound, lz4_codec_entry_encode,
         lz4_codec_entry_decode},
#endif
#ifdef BENCH_HAVE_JPEG_CODEC
        {"JPEG q85", 1, NULL, jpeg_codec_encode_bound, jpeg_entry_encode, jpeg_entry_decode},
#endif
        {"raw LZ4 default", 0, NULL, lz4_raw_bound, lz4_raw_encode, lz4_raw_decode},
#if defined(BENCH_HAVE_ZSTD) && BENCH_HAVE_ZSTD
        {"raw zstd -1", 0, NULL, zstd_bound, zstd_encode, zstd_decode},
#endif
};

#define CODEC_COUNT (sizeof(codecs) / sizeof(codecs[0]))

/* ---- images ---- */

struct bench_image {
    char name[64];
    uint32_t width, height;
    uint8_t *pixels; /* packed xRGB, top row first */
};

#if defined(BENCH_HAVE_PNG) && BENCH_HAVE_PNG
/* Loads an RGB(A) PNG as 32-bit B, G, R, 0. Returns 0 or -1. */
static int load_png(const char *path, struct bench_image *out)
{
    png_image png;
    memset(&png, 0, sizeof(png));
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&png, path)) {
        return -1;
    }
    png.format = PNG_FORMAT_BGRA;
    uint8_t *pixels = malloc(PNG_IMAGE_SIZE(png));
    if (!pixels || !png_image_finish_read(&png, NULL, pixels, 0, NULL)) {
        free(pixels);
        png_image_free(&png);
        return -1;
    }
    for (size_t i = 0; i < (size_t)png.width * png.height; i++) {
        pixels[4 * i + 3] = 0;
    }
    out->width = png.width;
    out->height = png.height;
    out->pixels = pixels;
    return 0;
}
#endif

/* ---- measurement ---- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct bench_result {
    long bytes;
    double encode_mbps, decode_mbps; /* decode < 0: none */
    int check;                       /* 1 exact, 0 mismatch, 2 lossy (psnr), -1 none/error */
    double psnr;
};

static double psnr_bgr(const uint8_t *a, const uint8_t *b, size_t pixels)
{
    double sum = 0;
    for (size_t i = 0; i < pixels; i++) {
        for (int c = 0; c < 3; c++) {
            double d = (double)a[4 * i + c] - b[4 * i + c];
            sum += d * d;
        }
    }
    return sum == 0 ? 99.0 : 10.0 * log10(255.0 * 255.0 * 3.0 * (double)pixels / sum);
}

static int same_bgr(const uint8_t *a, const uint8_t *b, size_t pixels)
{
    for (size_t i = 0; i < pixels; i++) {
        if (a[4 * i] != b[4 * i] || a[4 * i + 1] != b[4 * i + 1] || a[4 * i + 2] != b[4 * i + 2]) {
            return 0;
        }
    }
    return 1;
}

static struct bench_result run_codec(const struct bench_codec *codec, const struct bench_image *im,
                                     int reps)
{
    struct bench_result res = {-1, 0, -1, -1, 0};
    struct codec_image img = {CODEC_FMT_RGB32, im->width, im->height, (int32_t)im->width * 4,
                              im->pixels};
    size_t raw = (size_t)im->width * im->height * 4;
    size_t cap = codec->bound(&img);
    uint8_t *out = cap ? malloc(cap) : NULL;
    uint8_t *decoded = malloc(raw);
    if (!out || !decoded) {
        goto done;
    }
    double best = 1e30;
    for (int rep = 0; rep <= reps; rep++) { /* rep 0 is the warm-up */
        if (codec->reset) {
            codec->reset();
        }
        double t0 = now_seconds();
        long n = codec->encode(&img, out, cap);
        double t = now_seconds() - t0;
        if (n <= 0) {
            goto done;
        }
        res.bytes = n;
        if (rep > 0 && t < best) {
            best = t;
        }
    }
    res.encode_mbps = (double)raw / best / 1e6;
    if (!codec->decode) {
        goto done;
    }
    best = 1e30;
    for (int rep = 0; rep <= reps; rep++) {
        if (codec->reset) {
            codec->reset();
        }
        memset(decoded, 0x55, raw);
        double t0 = now_seconds();
        int r = codec->decode(out, (size_t)res.bytes, im->width, im->height, decoded,
                              (int32_t)im->width * 4);
        double t = now_seconds() - t0;
        if (r != 0) {
            res.check = 0;
            goto done;
        }
        if (rep > 0 && t < best) {
            best = t;
        }
    }
    res.decode_mbps = (double)raw / best / 1e6;
    if (codec->lossy) {
        res.check = 2;
        res.psnr = psnr_bgr(im->pixels, decoded, raw / 4);
    } else {
        res.check = same_bgr(im->pixels, decoded, raw / 4);
    }
done:
    free(out);
    free(decoded);
    return res;
}

/* ---- GLZ steady state ---- */

#ifdef BENCH_HAVE_GLZ
/* Frame k of the GLZ sequence: source image k % nsrc scrolled up by 15 * k
 * rows (wrapping), with a 300x200 block at a k-dependent place inverted in
 * one channel: every frame differs from all earlier ones, and most of it
 * can be found in the window (the same source, scrolled). */
static void glz_seq_frame(uint8_t *dst, const struct bench_image *src, unsigned k)
{
    uint32_t w = src->width, h = src->height;
    uint32_t shift = (15u * k) % h;
    for (uint32_t y = 0; y < h; y++) {
        memcpy(dst + (size_t)y * w * 4, src->pixels + (size_t)((y + shift) % h) * w * 4,
               (size_t)w * 4);
    }
    uint32_t bw = w < 300 ? w : 300, bh = h < 200 ? h : 200;
    uint32_t bx = (k * 137u) % (w - bw + 1), by = (k * 71u) % (h - bh + 1);
    for (uint32_t y = by; y < by + bh; y++) {
        for (uint32_t x = bx; x < bx + bw; x++) {
            dst[((size_t)y * w + x) * 4 + k % 3] ^= 0xff;
        }
    }
}

/* Encodes and decodes `frames` frames of the sequence through one
 * dictionary and one window of `window` pixels; the frames before `warm`
 * (the window filling up) are not counted. Prints one table row. */
static int glz_steady(FILE *const outs[2], const char *label, const struct bench_image *src,
                      int nsrc, uint32_t window, unsigned frames, unsigned warm)
{
    uint32_t w = src[0].width, h = src[0].height;
    size_t raw = (size_t)w * h * 4;
    struct codec_image img = {CODEC_FMT_RGB32, w, h, (int32_t)(w * 4), NULL};
    uint8_t *frame = malloc(raw), *dec = malloc(raw);
    img.pixels = frame;
    size_t cap = glz_encode_bound(&img);
    uint8_t *out = malloc(cap);
    struct glz_dict *dict = glz_dict_create(window);
    struct glz_window *win = glz_window_create(window);
    int rc = 0;
    double enc_sum = 0, dec_sum = 0, dec_max = 0, enc_max = 0;
    long bytes = 0;
    unsigned counted = 0;
    for (unsigned k = 0; rc == 0 && frame && dec && out && dict && win && k < frames; k++) {
        glz_seq_frame(frame, &src[k % (unsigned)nsrc], k);
        double t0 = now_seconds();
        int n = glz_encode(dict, &img, out, cap, NULL, NULL);
        double t1 = now_seconds();
        int d = n > 0 ? glz_decode(win, out, (size_t)n, dec, (int32_t)(w * 4), NULL) : -1;
        double t2 = now_seconds();
        if (n <= 0 || d != 0 || !same_bgr(frame, dec, (size_t)w * h)) {
            rc = -1;
            break;
        }
        if (k >= warm) {
            enc_sum += t1 - t0;
            dec_sum += t2 - t1;
            enc_max = t1 - t0 > enc_max ? t1 - t0 : enc_max;
            dec_max = t2 - t1 > dec_max ? t2 - t1 : dec_max;
            bytes += n;
            counted++;
        }
    }
    if (!frame || !dec || !out || !dict || !win || counted == 0) {
        rc = -1;
    }
    for (int o = 0; o < 2; o++) {
        if (!outs[o]) {
            continue;
        }
        if (rc < 0) {
            fprintf(outs[o], "| %s | %u | FAILED | | | | |\n", label, window);
        } else {
            fprintf(outs[o], "| %s | %u | %ld | %.1f | %.0f (%.2f ms, max %.2f) | %.2f | %.2f |\n",
                    label, window, bytes / (long)counted, (double)raw * counted / (double)bytes,
                    (double)raw * counted / enc_sum / 1e6, enc_sum / counted * 1e3, enc_max * 1e3,
                    dec_sum / counted * 1e3, dec_max * 1e3);
        }
        fflush(outs[o]);
    }
    glz_dict_destroy(dict);
    glz_window_destroy(win);
    free(frame);
    free(dec);
    free(out);
    return rc;
}
#endif

/* ---- output ---- */

static void format_thousands(char *buf, size_t size, long v)
{
    char digits[32];
    snprintf(digits, sizeof(digits), "%ld", v);
    size_t len = strlen(digits), j = 0;
    for (size_t i = 0; i < len && j + 2 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0) {
            buf[j++] = ',';
        }
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
}

static void print_row(FILE *f, const char *image, const char *codec, const struct bench_result *r,
                      size_t raw)
{
    char bytes[32], enc[32], dec[32], check[32];
    if (r->bytes <= 0) {
        fprintf(f, "| %s | %s | failed | | | | |\n", image, codec);
        return;
    }
    format_thousands(bytes, sizeof(bytes), r->bytes);
    snprintf(enc, sizeof(enc), "%.0f", r->encode_mbps);
    if (r->decode_mbps >= 0) {
        snprintf(dec, sizeof(dec), "%.0f", r->decode_mbps);
    } else {
        snprintf(dec, sizeof(dec), "n/a");
    }
    switch (r->check) {
    case 1:
        snprintf(check, sizeof(check), "exact");
        break;
    case 0:
        snprintf(check, sizeof(check), "**MISMATCH**");
        break;
    case 2:
        snprintf(check, sizeof(check), "PSNR %.1f dB", r->psnr);
        break;
    default:
        snprintf(check, sizeof(check), "-");
        break;
    }
    fprintf(f, "| %s | %s | %s | %.2f | %s | %s | %s |\n", image, codec, bytes,
            (double)raw / (double)r->bytes, enc, dec, check);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_codecs [--reps N] [--images DIR] [--size WxH] [--codec NAME]\n"
               "                    [--image NAME] [--glz-frames N (0: no GLZ sequence)]\n"
               "                    [--write-doc FILE]\n");
}

int main(int argc, char **argv)
{
    int reps = 5, glz_frames = 30;
    const char *images_dir = NULL, *doc_path = NULL, *only_codec = NULL, *only_image = NULL;
    uint32_t width = 1920, height = 1080;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--images") && i + 1 < argc) {
            images_dir = argv[++i];
        } else if (!strcmp(argv[i], "--write-doc") && i + 1 < argc) {
            doc_path = argv[++i];
        } else if (!strcmp(argv[i], "--codec") && i + 1 < argc) {
            only_codec = argv[++i];
        } else if (!strcmp(argv[i], "--glz-frames") && i + 1 < argc) {
            glz_frames = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--image") && i + 1 < argc) {
            only_image = argv[++i];
        } else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            if (sscanf(argv[++i], "%ux%u", &width, &height) != 2 || width < 64 || height < 64 ||
                width > CODEC_MAX_DIM || height > CODEC_MAX_DIM) {
                usage(stderr);
                return 2;
            }
        } else {
            usage(strcmp(argv[i], "--help") ? stderr : stdout);
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (reps < 1) {
        reps = 1;
    }

    struct bench_image images[16];
    int image_count = 0;
    for (int i = 0; i < codec_corpus_count(); i++) {
        struct bench_image *im = &images[image_count];
        snprintf(im->name, sizeof(im->name), "gen:%s", codec_corpus_name(i));
        im->width = width;
        im->height = height;
        im->pixels = malloc((size_t)width * height * 4);
        if (!im->pixels ||
            codec_corpus_generate(i, im->pixels, width, height, (int32_t)width * 4) != 0) {
            fprintf(stderr, "bench_codecs: cannot generate %s\n", im->name);
            return 1;
        }
        image_count++;
    }
    static const char *const reference_images[] = {"desktop", "xscreen", "photo", "xscreen_f2",
                                                   "xscreen_f3"};
    int png_loaded = 0;
    if (images_dir) {
#if defined(BENCH_HAVE_PNG) && BENCH_HAVE_PNG
        for (size_t i = 0; i < sizeof(reference_images) / sizeof(reference_images[0]); i++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s.png", images_dir, reference_images[i]);
            struct bench_image *im = &images[image_count];
            if (load_png(path, im) != 0) {
                fprintf(stderr, "bench_codecs: skipping %s (cannot read it)\n", path);
                continue;
            }
            snprintf(im->name, sizeof(im->name), "%s", reference_images[i]);
            image_count++;
            png_loaded++;
        }
#else
        fprintf(stderr, "bench_codecs: built without libpng; --images ignored\n");
#endif
    }

    FILE *doc = NULL;
    if (doc_path) {
        doc = fopen(doc_path, "w");
        if (!doc) {
            fprintf(stderr, "bench_codecs: %s: %s\n", doc_path, strerror(errno));
            return 1;
        }
    }
    FILE *outs[2] = {stdout, doc};
    for (int o = 0; o < 2; o++) {
        if (!outs[o]) {
            continue;
        }
        fprintf(outs[o],
                "Single thread, best of %d runs after a warm-up; MB/s = raw 32-bit pixel bytes "
                "(w*h*4) per second, 10^6 B/s; ratio = raw / compressed. %d generated images "
                "(%ux%u)%s.\n\n",
                reps, codec_corpus_count(), width, height,
                png_loaded ? " and the reference PNGs" : "");
        fprintf(outs[o], "| image | codec | bytes | ratio | enc MB/s | dec MB/s | decode check |\n"
                         "|---|---|---:|---:|---:|---:|---|\n");
    }
    int mismatches = 0;
    for (int i = 0; i < image_count; i++) {
        if (only_image && strcmp(only_image, images[i].name) &&
            strcmp(only_image, images[i].name + (strncmp(images[i].name, "gen:", 4) ? 0 : 4))) {
            continue;
        }
        size_t raw = (size_t)images[i].width * images[i].height * 4;
        for (size_t c = 0; c < CODEC_COUNT; c++) {
            if (only_codec && strcmp(only_codec, codecs[c].name)) {
                continue;
            }
            fprintf(stderr, "bench_codecs: %s / %s\n", images[i].name, codecs[c].name);
            struct bench_result r = run_codec(&codecs[c], &images[i], reps);
            mismatches += r.check == 0 || r.bytes <= 0;
            for (int o = 0; o < 2; o++) {
                if (outs[o]) {
                    print_row(outs[o], images[i].name, codecs[c].name, &r, raw);
                    fflush(outs[o]);
                }
            }
        }
    }
#ifdef BENCH_HAVE_GLZ
    glz_dict_destroy(glz_bench_dict);
    glz_window_destroy(glz_bench_window);
    glz_bench_dict = NULL;
    glz_bench_window = NULL;
    if (glz_frames > 0 && (!only_codec || !strncmp(only_codec, "GLZ", 3))) {
        /* The reference screenshots when loaded (xscreen, desktop,
         * xscreen_f3), else the generated text, ui and photo images. */
        struct bench_image seq[3];
        int nseq = 0;
        const char *want[3] = {"xscreen", "desktop", "xscreen_f3"};
        for (int k = 0; k < 3; k++) {
            for (int i = 0; i < image_count; i++) {
                if (!strcmp(images[i].name, want[k])) {
                    seq[nseq++] = images[i];
                }
            }
        }
        if (nseq < 3) {
            nseq = 0;
            for (int i = 0; i < image_count && nseq < 3; i++) {
                if (!strncmp(images[i].name, "gen:", 4) && strcmp(images[i].name, "gen:gradient")) {
                    seq[nseq++] = images[i];
                }
            }
        }
        char label[3 * 64 + 8];
        snprintf(label, sizeof(label), "%s, %s, %s", seq[0].name, seq[1].name, seq[2].name);
        unsigned warm = (unsigned)(BENCH_GLZ_WINDOW_PIXELS / ((size_t)width * height)) + 2;
        if (warm >= (unsigned)glz_frames) {
            warm = (unsigned)glz_frames / 2;
        }
        for (int o = 0; o < 2; o++) {
            if (outs[o]) {
                fprintf(outs[o],
                        "\nGLZ steady state: one dictionary and one decoder window; frame k = "
                        "source k %% 3 scrolled up 15k rows with a 300x200 block changed; %d "
                        "frames, the first %u (window filling) not counted; means per frame.\n\n"
                        "| sources | window px | bytes | ratio | enc MB/s (ms, max) | dec ms | "
                        "dec max ms |\n|---|---:|---:|---:|---:|---:|---:|\n",
                        glz_frames, warm);
            }
        }
        mismatches += glz_steady(outs, label, seq, nseq, BENCH_GLZ_WINDOW_PIXELS,
                                 (unsigned)glz_frames, warm) < 0;
        mismatches += glz_steady(outs, label, seq, nseq, 3u * 1024u * 1024u, (unsigned)glz_frames,
                                 warm) < 0;
    }
#endif
    if (doc) {
        fclose(doc);
    }
    for (int i = 0; i < image_count; i++) {
        free(images[i].pixels);
    }
    return mismatches ? 1 : 0;
}
