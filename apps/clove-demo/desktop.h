/*
 * desktop: the virtual desktop that clove-demo serves.
 *
 * The desktop keeps a scene state (typed text, pointer, click marks, clock,
 * animation phase) and renders it into a 32-bit xRGB framebuffer (one
 * uint32_t per pixel, 0x00RRGGBB, stride = width). Rendering is done in full
 * into a back buffer and compared with the front buffer tile by tile, so the
 * dirty rectangles handed out are exactly the pixels that changed; solid
 * single-colour areas are reported as such so the caller can send them as
 * fills.
 *
 * Thread: one thread only (the host's main loop).
 */
#ifndef CLOVE_DEMO_DESKTOP_H
#define CLOVE_DEMO_DESKTOP_H

#include <stdbool.h>
#include <stdint.h>

struct desktop;

/* One changed area. When solid is true every pixel in it equals color. */
struct desktop_rect {
    int x;
    int y;
    int width;
    int height;
    bool solid;
    uint32_t color;
};

struct desktop_options {
    int width;
    int height;
    bool animation;   /* false: no clock, no animation; the scene is a pure function of input */
    const char *name; /* borrows; shown in the task bar, may be NULL */
    uint32_t background; /* 0x00RRGGBB desktop colour; 0: the default blue */
};

/* Returns new; NULL on allocation failure or a size below 320x240. */
struct desktop *desktop_create(const struct desktop_options *options);
/* Takes; accepts NULL. */
void desktop_destroy(struct desktop *d);

/*
 * Changes the size (same limits as desktop_create). The scene starts over
 * (typed text and click marks are dropped) and the next desktop_update()
 * reports the whole screen. 0, -EINVAL for a size out of range, or -ENOMEM
 * (the desktop is then unchanged).
 */
int desktop_resize(struct desktop *d, int width, int height);

/* Advances the clock and animation to now (monotonic ms, wall-clock seconds of day). */
void desktop_tick(struct desktop *d, uint64_t monotonic_ms, int seconds_of_day);

/* Text window: a printable character, Enter or Backspace. */
void desktop_type_char(struct desktop *d, char ch);
void desktop_newline(struct desktop *d);
void desktop_backspace(struct desktop *d);
/* Status of the keyboard: the last scancode (with 0xE0 prefix in bits 8..15) and LEDs. */
void desktop_set_key_status(struct desktop *d, uint32_t scancode, unsigned leds);

/* Pointer: position, button mask (bit0 left, bit1 right, bit2 middle) and mode. */
void desktop_set_pointer(struct desktop *d, int x, int y, uint32_t buttons, bool server_mode);
void desktop_add_click(struct desktop *d, int x, int y, int button);
void desktop_add_wheel(struct desktop *d, int delta);

/*
 * Renders the scene and returns the rectangles that differ from the last
 * call (all of the screen on the first call). The array is owned by the
 * desktop and valid until the next call; *count receives its length.
 */
const struct desktop_rect *desktop_update(struct desktop *d, int *count);

/* The front framebuffer (what the client should show). Borrowed. */
const uint32_t *desktop_pixels(const struct desktop *d);
int desktop_width(const struct desktop *d);
int desktop_height(const struct desktop *d);

/* Writes the front buffer as binary PPM (P6) to path, atomically via path.tmp. 0 or -errno. */
int desktop_write_ppm(const struct desktop *d, const char *path);

#endif
