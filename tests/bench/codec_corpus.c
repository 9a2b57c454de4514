/*
 * Generated screen-like images for the codec benchmark (see codec_corpus.h).
 *
 * Each image stands for a kind of content a remote desktop sends:
 *   text      a dark terminal full of 8x16 two-colour glyphs, ragged lines
 *   ui        a desktop: gradient wallpaper, windows with title bars, flat
 *             panels, buttons, small noisy icons and labels
 *   gradient  smooth full-screen colour ramps (no noise): "high graduality"
 *   photo     smooth colour fields plus per-pixel noise, like a photograph
 * Everything comes from a fixed-seed xorshift PRNG, so runs are comparable.
 */
#include "codec_corpus.h"

#include <stddef.h>
#include <string.h>

struct canvas {
    uint8_t *pixels;
    uint32_t width, height;
    int32_t stride;
};

static uint32_t rng_next(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static void put(const struct canvas *c, uint32_t x, uint32_t y, uint32_t bgr)
{
    uint8_t *p = c->pixels + (ptrdiff_t)y * c->stride + (size_t)x * 4;
    p[0] = (uint8_t)bgr;
    p[1] = (uint8_t)(bgr >> 8);
    p[2] = (uint8_t)(bgr >> 16);
    p[3] = 0;
}

static uint32_t rgb(int r, int g, int b)
{
    r = r < 0 ? 0 : r > 255 ? 255 : r;
    g = g < 0 ? 0 : g > 255 ? 255 : g;
    b = b < 0 ? 0 : b > 255 ? 255 : b;
    return (uint32_t)r << 16 | (uint32_t)g << 8 | (uint32_t)b;
}

static void fill_rect(const struct canvas *c, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h,
                      uint32_t color)
{
    for (uint32_t y = y0; y < y0 + h && y < c->height; y++) {
        for (uint32_t x = x0; x < x0 + w && x < c->width; x++) {
            put(c, x, y, color);
        }
    }
}

/* 96 glyphs of 8x16 bits, made once per image from the PRNG: a glyph is a
 * few vertical and horizontal strokes, which is about what text looks like
 * to a compressor. */
static void make_glyphs(uint16_t glyphs[96][16], uint32_t *seed)
{
    for (int g = 0; g < 96; g++) {
        uint8_t rows[16] = {0};
        uint32_t r = rng_next(seed);
        int left = 1 + (int)(r & 1), right = 5 + (int)((r >> 1) & 1);
        if (r & 4) {
            for (int y = 3; y < 13; y++) {
                rows[y] |= (uint8_t)(1u << left);
            }
        }
        if (r & 8) {
            for (int y = 3; y < 13; y++) {
                rows[y] |= (uint8_t)(1u << right);
            }
        }
        for (int k = 0; k < 3; k++) {
            if (r & (16u << k)) {
                int y = 3 + k * 5;
                for (int x = left; x <= right; x++) {
                    rows[y] |= (uint8_t)(1u << x);
                }
            }
        }
        if (!(r & (4 | 8 | 16 | 32 | 64))) {
            rows[11] = 0x18;
            rows[12] = 0x18;
        }
        for (int y = 0; y < 16; y++) {
            glyphs[g][y] = rows[y];
        }
    }
}

static void draw_glyph(const struct canvas *c, const uint16_t glyph[16], uint32_t x0, uint32_t y0,
                       uint32_t fg, uint32_t bg)
{
    for (uint32_t y = 0; y < 16 && y0 + y < c->height; y++) {
        for (uint32_t x = 0; x < 8 && x0 + x < c->width; x++) {
            put(c, x0 + x, y0 + y, (glyph[y] >> x) & 1 ? fg : bg);
        }
    }
}

static void draw_text(const struct canvas *c, uint16_t glyphs[96][16], uint32_t *seed, uint32_t x0,
                      uint32_t y0, uint32_t w, uint32_t h, uint32_t fg, uint32_t bg)
{
    fill_rect(c, x0, y0, w, h, bg);
    for (uint32_t y = y0; y + 16 <= y0 + h; y += 16) {
        uint32_t len = rng_next(seed) % (w / 8 + 1);
        uint32_t color = fg;
        for (uint32_t col = 0; col < len; col++) {
            uint32_t r = rng_next(seed);
            if (r % 7 == 0) {
                continue; /* a space */
            }
            if (r % 53 == 0) {
                color = rgb(90 + (int)(r >> 8 & 127), 160 + (int)(r >> 16 & 63), 80);
            }
            draw_glyph(c, glyphs[(r >> 4) % 96], x0 + col * 8, y, color, bg);
        }
    }
}

static void gen_text(const struct canvas *c)
{
    uint32_t seed = 0x1234567u;
    uint16_t glyphs[96][16];
    make_glyphs(glyphs, &seed);
    draw_text(c, glyphs, &seed, 0, 0, c->width, c->height, rgb(200, 200, 200), rgb(20, 22, 28));
}

static void gen_ui(const struct canvas *c)
{
    uint32_t seed = 0xabcdef1u;
    uint16_t glyphs[96][16];
    make_glyphs(glyphs, &seed);
    for (uint32_t y = 0; y < c->height; y++) {
        uint32_t color = rgb(40 + (int)(60 * y / c->height), 70 + (int)(80 * y / c->height), 120);
        fill_rect(c, 0, y, c->width, 1, color);
    }
    for (int win = 0; win < 6; win++) {
        uint32_t w = c->width / 4 + rng_next(&seed) % (c->width / 3);
        uint32_t h = c->height / 4 + rng_next(&seed) % (c->height / 3);
        uint32_t x = rng_next(&seed) % (c->width - w / 2);
        uint32_t y = rng_next(&seed) % (c->height - h / 2);
        fill_rect(c, x, y, w, h, rgb(120, 120, 120)); /* border */
        for (uint32_t t = 0; t < 24; t++) {
            fill_rect(c, x + 1, y + 1 + t, w - 2, 1, rgb(60 + (int)t * 3, 90 + (int)t * 3, 160));
        }
        draw_text(c, glyphs, &seed, x + 8, y + 5, w / 3, 16, rgb(255, 255, 255),
                  rgb(60 + 5 * 3, 90 + 5 * 3, 160));
        fill_rect(c, x + 1, y + 25, w - 2, h - 26, rgb(236, 236, 236));
        fill_rect(c, x + 1, y + 25, w / 5, h - 26, rgb(220, 224, 230)); /* side panel */
        for (uint32_t i = 0; i * 36 + 60 < h; i++) {                    /* icons + labels */
            uint32_t ix = x + 8, iy = y + 32 + i * 36;
            for (uint32_t py = 0; py < 24; py++) {
                for (uint32_t px = 0; px < 24; px++) {
                    uint32_t r = rng_next(&seed);
                    if (ix + px < c->width && iy + py < c->height) {
                        put(c, ix + px, iy + py,
                            rgb(100 + (int)(r & 63), 140, 200 - (int)(r >> 8 & 63)));
                    }
                }
            }
        }
        draw_text(c, glyphs, &seed, x + w / 5 + 10, y + 35, w - w / 5 - 20, h - 90, rgb(20, 20, 20),
                  rgb(255, 255, 255));
        for (int b = 0; b < 3; b++) { /* buttons */
            uint32_t bx = x + w - (uint32_t)(b + 1) * 90, by = y + h - 40;
            if (bx > x) {
                fill_rect(c, bx, by, 80, 28, rgb(90, 90, 90));
                fill_rect(c, bx + 1, by + 1, 78, 26, rgb(210, 214, 220));
            }
        }
    }
    fill_rect(c, 0, c->height - 40, c->width, 40, rgb(30, 30, 36)); /* taskbar */
}

static void gen_gradient(const struct canvas *c)
{
    for (uint32_t y = 0; y < c->height; y++) {
        for (uint32_t x = 0; x < c->width; x++) {
            int dx = (int)x - (int)c->width / 3, dy = (int)y - (int)c->height / 2;
            int radial = (int)((dx * dx + dy * dy) / 4096 % 256);
            put(c, x, y,
                rgb((int)(255 * x / c->width), (int)(255 * y / c->height),
                    (radial + (int)(x + y) / 16) % 256));
        }
    }
}

/* A smooth field from a small lattice of random values, bilinearly
 * interpolated, plus triangular noise of about +-12. */
static void gen_photo(const struct canvas *c)
{
    enum { CELL = 64 };
    uint32_t seed = 0x5eed5eedu;
    uint32_t gw = c->width / CELL + 2, gh = c->height / CELL + 2;
    static uint8_t lattice[3][64][64];
    for (uint32_t j = 0; j < gh && j < 64; j++) {
        for (uint32_t i = 0; i < gw && i < 64; i++) {
            for (int ch = 0; ch < 3; ch++) {
                lattice[ch][j][i] = (uint8_t)(rng_next(&seed) >> 24);
            }
        }
    }
    for (uint32_t y = 0; y < c->height; y++) {
        uint32_t j = y / CELL, fy = y % CELL;
        for (uint32_t x = 0; x < c->width; x++) {
            uint32_t i = x / CELL, fx = x % CELL;
            int v[3];
            for (int ch = 0; ch < 3; ch++) {
                if (i + 1 >= 64 || j + 1 >= 64) {
                    v[ch] = 128;
                    continue;
                }
                uint32_t a = lattice[ch][j][i] * (CELL - fx) + lattice[ch][j][i + 1] * fx;
                uint32_t b = lattice[ch][j + 1][i] * (CELL - fx) + lattice[ch][j + 1][i + 1] * fx;
                v[ch] = (int)((a * (CELL - fy) + b * fy) / (CELL * CELL));
            }
            uint32_t r = rng_next(&seed);
            int noise = (int)(r & 15) - (int)(r >> 4 & 15) + (int)(r >> 8 & 7) - (int)(r >> 12 & 7);
            put(c, x, y, rgb(v[0] + noise, v[1] + noise / 2, v[2] - noise / 2));
        }
    }
}

static const struct {
    const char *name;
    void (*generate)(const struct canvas *c);
} images[] = {
        {"text", gen_text},
        {"ui", gen_ui},
        {"gradient", gen_gradient},
        {"photo", gen_photo},
};

int codec_corpus_count(void)
{
    return (int)(sizeof(images) / sizeof(images[0]));
}

const char *codec_corpus_name(int index)
{
    return index >= 0 && index < codec_corpus_count() ? images[index].name : NULL;
}

int codec_corpus_generate(int index, uint8_t *pixels, uint32_t width, uint32_t height,
                          int32_t stride)
{
    if (index < 0 || index >= codec_corpus_count() || width < 64 || height < 64) {
        return -1;
    }
    struct canvas c = {pixels, width, height, stride};
    for (uint32_t y = 0; y < height; y++) {
        memset(pixels + (ptrdiff_t)y * stride, 0, (size_t)width * 4);
    }
    images[index].generate(&c);
    return 0;
}
