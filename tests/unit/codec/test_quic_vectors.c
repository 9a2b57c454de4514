/*
 * QUIC against Debian's libspice-server: vectors captured from its display
 * channel (tests/unit/codec/vectors/, made by capture_quic.py there).
 *
 * ref_frame.ppm.xz is clove-demo's deterministic first frame and
 * ref_quic_<k>.quic.xz the QUIC images the reference library sent for it
 * (ref_quic.txt lists each one's DRAW_COPY box). For each image, our
 * encoder must produce the reference's bytes from the frame's pixels, and
 * our decoder must turn the reference's bytes back into those pixels, with
 * the SIMD row kernels on and off.
 */
#include <lzma.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codec/quic.h"
#include "codec/quic_simd.h"

#ifndef QUIC_VECTOR_DIR
#error "QUIC_VECTOR_DIR must name tests/unit/codec/vectors"
#endif

/* Reads and xz-decompresses `name` in the vector directory; returns a
 * malloc'd buffer and its size in *len, or NULL. */
static uint8_t *read_xz(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", QUIC_VECTOR_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("# cannot open %s\n", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *in = malloc(cap);
    size_t got;
    while (in && (got = fread(in + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *bigger = realloc(in, cap *= 2);
            if (!bigger) {
                free(in);
                in = NULL;
            }
            in = bigger;
        }
    }
    fclose(f);
    if (!in) {
        return NULL;
    }
    size_t out_cap = 16u << 20, in_pos = 0, out_pos = 0;
    uint64_t memlimit = UINT64_MAX;
    uint8_t *out = malloc(out_cap);
    if (!out || lzma_stream_buffer_decode(&memlimit, 0, NULL, in, &in_pos, n, out, &out_pos,
                                          out_cap) != LZMA_OK) {
        printf("# cannot decompress %s\n", path);
        free(in);
        free(out);
        return NULL;
    }
    free(in);
    *len = out_pos;
    return out;
}

struct vec {
    unsigned k, type, width, height;
    int top, left, bottom, right;
    size_t bytes;
};

/* Reads ref_quic.txt: up to `max` entries; returns how many, or -1. */
static int read_index(struct vec *v, int max)
{
    char path[512], line[256];
    snprintf(path, sizeof(path), "%s/ref_quic.txt", QUIC_VECTOR_DIR);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    int n = 0;
    while (n < max && fgets(line, sizeof(line), f)) {
        if (line[0] == '#') {
            continue;
        }
        if (sscanf(line, "%u %u %u %u %d %d %d %d %zu", &v[n].k, &v[n].type, &v[n].width,
                   &v[n].height, &v[n].top, &v[n].left, &v[n].bottom, &v[n].right,
                   &v[n].bytes) == 9) {
            n++;
        }
    }
    fclose(f);
    return n;
}

/* The frame as 32-bit BGRX with pad 0. */
static uint8_t *load_frame(unsigned *w, unsigned *h)
{
    size_t len;
    uint8_t *ppm = read_xz("ref_frame.ppm.xz", &len);
    if (!ppm) {
        return NULL;
    }
    unsigned maxval;
    int hdr = 0;
    if (sscanf((const char *)ppm, "P6 %u %u %u%n", w, h, &maxval, &hdr) != 3 || maxval != 255 ||
        (size_t)hdr + 1 + (size_t)*w * *h * 3 > len) {
        free(ppm);
        return NULL;
    }
    const uint8_t *rgb = ppm + hdr + 1;
    uint8_t *bgrx = malloc((size_t)*w * *h * 4);
    for (size_t i = 0; bgrx && i < (size_t)*w * *h; i++) {
        bgrx[4 * i] = rgb[3 * i + 2];
        bgrx[4 * i + 1] = rgb[3 * i + 1];
        bgrx[4 * i + 2] = rgb[3 * i];
        bgrx[4 * i + 3] = 0;
    }
    free(ppm);
    return bgrx;
}

static void check_vectors(int simd)
{
    quic_simd_set(simd);
    struct vec v[16];
    int n = read_index(v, 16);
    CHECK(n > 0);
    unsigned fw, fh;
    uint8_t *frame = load_frame(&fw, &fh);
    CHECK(frame != NULL);
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "ref_quic_%u.quic.xz", v[i].k);
        size_t len;
        uint8_t *ref = read_xz(name, &len);
        CHECK(ref != NULL);
        CHECK_EQ(len, v[i].bytes);
        CHECK_EQ(v[i].type, QUIC_IMAGE_TYPE_RGB32);
        CHECK(v[i].left >= 0 && v[i].top >= 0 && (unsigned)v[i].right <= fw &&
              (unsigned)v[i].bottom <= fh);
        CHECK_EQ(v[i].right - v[i].left, v[i].width);
        CHECK_EQ(v[i].bottom - v[i].top, v[i].height);

        /* The image is the frame's pixels under the DRAW_COPY box. */
        struct codec_image img = {.format = CODEC_FMT_RGB32,
                                  .width = v[i].width,
                                  .height = v[i].height,
                                  .stride = (int32_t)(fw * 4),
                                  .pixels = frame + ((size_t)v[i].top * fw + v[i].left) * 4};
        size_t cap = quic_encode_bound(&img);
        uint8_t *enc = malloc(cap);
        CHECK(enc != NULL);
        int got = quic_encode(&img, enc, cap, NULL);
        CHECK_EQ(got, (long long)len);
        CHECK_MEM_EQ(enc, ref, len);
        free(enc);

        size_t row = (size_t)v[i].width * 4;
        uint8_t *dec = malloc(row * v[i].height);
        CHECK(dec != NULL);
        CHECK_EQ(quic_decode(ref, len, dec, row * v[i].height, (int32_t)row, CODEC_FMT_RGB32, NULL),
                 0);
        for (unsigned y = 0; y < v[i].height; y++) {
            CHECK_MEM_EQ(dec + y * row, img.pixels + (size_t)y * fw * 4, row);
        }
        free(dec);
        free(ref);
    }
    free(frame);
    quic_simd_set(1);
}

static void test_reference_vectors_simd(void)
{
    check_vectors(1);
}

static void test_reference_vectors_portable(void)
{
    check_vectors(0);
}

/* SSE2 kernels only: on CPUs with BMI2 or AVX2 the default takes other row
 * functions. */
static void test_reference_vectors_sse2(void)
{
    check_vectors(2);
}

int main(void)
{
    return check_run((struct check_case[]){CHECK_CASE(test_reference_vectors_simd),
                                           CHECK_CASE(test_reference_vectors_portable),
                                           CHECK_CASE(test_reference_vectors_sse2),
                                           {0}});
}
