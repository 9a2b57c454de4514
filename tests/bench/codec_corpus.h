/*
 * Generated screen-like test images for the codec benchmark: deterministic
 * (fixed PRNG seeds), any size, 32-bit xRGB (B, G, R, 0 in memory).
 *
 * Thread: any.
 */
#ifndef CLOVE_TESTS_BENCH_CODEC_CORPUS_H
#define CLOVE_TESTS_BENCH_CODEC_CORPUS_H

#include <stdint.h>

/* Number of generated images and the name of image `index` ("text", "ui",
 * "gradient", "photo"), or NULL past the end. */
int codec_corpus_count(void);
const char *codec_corpus_name(int index);

/* Draws image `index` into `pixels` (borrows; width x height, rows `stride`
 * bytes apart, stride >= width * 4). Returns 0, or -1 for a bad index. */
int codec_corpus_generate(int index, uint8_t *pixels, uint32_t width, uint32_t height,
                          int32_t stride);

#endif
