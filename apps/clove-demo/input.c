/*
 * input: keyboard, mouse and tablet for clove-demo.
 *
 * DESIGN
 * Each SPICE input interface is one instance embedded in struct input, and
 * the callbacks recover the struct from the instance pointer. Keyboard bytes
 * arrive one at a time through push_scan_freg(); a small state machine
 * collects the 0xE0 prefix (and skips the 0xE1 Pause sequence) and then
 * handles one complete key: modifiers update the shift/ctrl state, lock keys
 * toggle the LEDs (reported back with spice_server_kbd_leds()), and other
 * presses map to characters through the two set-1 tables below.
 *
 * Buttons arrive in the library's "local" order: bit 0 left, bit 1 right,
 * bit 2 middle. A bit that goes from 0 to 1 is a click at the pointer.
 *
 * The cursor shape is an arrow drawn for this program (the art below).
 */
#include "input.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "desktop.h"
#include "qxl_device.h"

#define KEY_LSHIFT    0x2A
#define KEY_RSHIFT    0x36
#define KEY_CTRL      0x1D
#define KEY_ALT       0x38
#define KEY_CAPS_LOCK 0x3A
#define KEY_NUM_LOCK  0x45
#define KEY_SCROLL    0x46
#define KEY_ENTER     0x1C
#define KEY_BACKSPACE 0x0E
#define KEY_TAB       0x0F
#define KEY_RELEASED  0x80
#define PREFIX_E0     0xE0
#define PREFIX_E1     0xE1

#define LED_SCROLL    SPICE_KEYBOARD_MODIFIER_FLAGS_SCROLL_LOCK
#define LED_NUM       SPICE_KEYBOARD_MODIFIER_FLAGS_NUM_LOCK
#define LED_CAPS      SPICE_KEYBOARD_MODIFIER_FLAGS_CAPS_LOCK

struct input {
    SpiceKbdInstance kbd;
    SpiceMouseInstance mouse;
    SpiceTabletInstance tablet;

    SpiceServer *server;
    struct desktop *desktop;
    struct qxl_device *qxl;
    bool verbose;
    bool attached;
    bool has_tablet;
    input_changed_fn changed;
    void *opaque;

    /* Keyboard state. */
    bool prefix_e0;
    int skip_bytes; /* remaining bytes of an 0xE1 sequence */
    bool shift_left;
    bool shift_right;
    bool ctrl;
    bool alt;
    uint8_t leds;

    /* Pointer state. */
    int x;
    int y;
    uint32_t buttons;
    int logical_width;
    int logical_height;
    int screen_width;
    int screen_height;
};

/* Set-1 make codes to characters, unshifted and shifted. */
static const char keymap_normal[0x60] = {
        [0x02] = '1',  [0x03] = '2', [0x04] = '3', [0x05] = '4', [0x06] = '5',  [0x07] = '6',
        [0x08] = '7',  [0x09] = '8', [0x0A] = '9', [0x0B] = '0', [0x0C] = '-',  [0x0D] = '=',
        [0x10] = 'q',  [0x11] = 'w', [0x12] = 'e', [0x13] = 'r', [0x14] = 't',  [0x15] = 'y',
        [0x16] = 'u',  [0x17] = 'i', [0x18] = 'o', [0x19] = 'p', [0x1A] = '[',  [0x1B] = ']',
        [0x1E] = 'a',  [0x1F] = 's', [0x20] = 'd', [0x21] = 'f', [0x22] = 'g',  [0x23] = 'h',
        [0x24] = 'j',  [0x25] = 'k', [0x26] = 'l', [0x27] = ';', [0x28] = '\'', [0x29] = '`',
        [0x2B] = '\\', [0x2C] = 'z', [0x2D] = 'x', [0x2E] = 'c', [0x2F] = 'v',  [0x30] = 'b',
        [0x31] = 'n',  [0x32] = 'm', [0x33] = ',', [0x34] = '.', [0x35] = '/',  [0x37] = '*',
        [0x39] = ' ',  [0x4A] = '-', [0x4E] = '+', [0x56] = '<',
};

static const char keymap_shifted[0x60] = {
        [0x02] = '!', [0x03] = '@', [0x04] = '#', [0x05] = '$', [0x06] = '%', [0x07] = '^',
        [0x08] = '&', [0x09] = '*', [0x0A] = '(', [0x0B] = ')', [0x0C] = '_', [0x0D] = '+',
        [0x10] = 'Q', [0x11] = 'W', [0x12] = 'E', [0x13] = 'R', [0x14] = 'T', [0x15] = 'Y',
        [0x16] = 'U', [0x17] = 'I', [0x18] = 'O', [0x19] = 'P', [0x1A] = '{', [0x1B] = '}',
        [0x1E] = 'A', [0x1F] = 'S', [0x20] = 'D', [0x21] = 'F', [0x22] = 'G', [0x23] = 'H',
        [0x24] = 'J', [0x25] = 'K', [0x26] = 'L', [0x27] = ':', [0x28] = '"', [0x29] = '~',
        [0x2B] = '|', [0x2C] = 'Z', [0x2D] = 'X', [0x2E] = 'C', [0x2F] = 'V', [0x30] = 'B',
        [0x31] = 'N', [0x32] = 'M', [0x33] = '<', [0x34] = '>', [0x35] = '?', [0x37] = '*',
        [0x39] = ' ', [0x4A] = '-', [0x4E] = '+', [0x56] = '>',
};

/* Keypad digits 0x47..0x53 with Num Lock on. */
static const char keypad_digits[] = "789-456+1230.";

static struct input *input_from_kbd(SpiceKbdInstance *sin)
{
    return (struct input *)((char *)sin - offsetof(struct input, kbd));
}

static struct input *input_from_mouse(SpiceMouseInstance *sin)
{
    return (struct input *)((char *)sin - offsetof(struct input, mouse));
}

static struct input *input_from_tablet(SpiceTabletInstance *sin)
{
    return (struct input *)((char *)sin - offsetof(struct input, tablet));
}

static void notify(struct input *in)
{
    if (in->changed != NULL) {
        in->changed(in->opaque);
    }
}

/* ---- keyboard ---- */

static bool is_letter(uint8_t code)
{
    char c = code < sizeof(keymap_normal) ? keymap_normal[code] : 0;
    return c >= 'a' && c <= 'z';
}

static char translate(struct input *in, uint8_t code, bool extended)
{
    if (extended) {
        return code == 0x35 ? '/' : 0;
    }
    if (code >= 0x47 && code <= 0x53) {
        if (code == 0x4A || code == 0x4E) {
            return keypad_digits[code - 0x47];
        }
        return (in->leds & LED_NUM) ? keypad_digits[code - 0x47] : 0;
    }
    if (code >= sizeof(keymap_normal)) {
        return 0;
    }
    bool shift = in->shift_left || in->shift_right;
    if (is_letter(code) && (in->leds & LED_CAPS)) {
        shift = !shift;
    }
    return shift ? keymap_shifted[code] : keymap_normal[code];
}

static void toggle_led(struct input *in, uint8_t led)
{
    in->leds ^= led;
    spice_server_kbd_leds(&in->kbd, in->leds);
}

static void handle_key(struct input *in, uint8_t byte, bool extended)
{
    bool released = (byte & KEY_RELEASED) != 0;
    uint8_t code = byte & 0x7f;
    uint32_t full = (extended ? 0xE000u : 0u) | byte;
    if (in->verbose) {
        printf("clove-demo: input key=0x%02x\n", (unsigned)full);
        fflush(stdout);
    }
    /* 0xE0 0x2A / 0xE0 0x36 are fake shifts around some extended keys. */
    if (extended && (code == KEY_LSHIFT || code == KEY_RSHIFT)) {
        return;
    }
    switch (code) {
    case KEY_LSHIFT:
        in->shift_left = !released;
        return;
    case KEY_RSHIFT:
        if (!extended) {
            in->shift_right = !released;
        }
        return;
    case KEY_CTRL:
        in->ctrl = !released;
        return;
    case KEY_ALT:
        in->alt = !released;
        return;
    default:
        break;
    }
    if (released) {
        desktop_set_key_status(in->desktop, full, in->leds);
        notify(in);
        return;
    }
    if (!extended && code == KEY_CAPS_LOCK) {
        toggle_led(in, LED_CAPS);
    } else if (!extended && code == KEY_NUM_LOCK) {
        toggle_led(in, LED_NUM);
    } else if (!extended && code == KEY_SCROLL) {
        toggle_led(in, LED_SCROLL);
    } else if (code == KEY_ENTER) {
        desktop_newline(in->desktop);
    } else if (!extended && code == KEY_BACKSPACE) {
        desktop_backspace(in->desktop);
    } else if (!extended && code == KEY_TAB) {
        desktop_type_char(in->desktop, ' ');
    } else if (!in->ctrl && !in->alt) {
        char ch = translate(in, code, extended);
        if (ch != 0) {
            desktop_type_char(in->desktop, ch);
        }
    }
    desktop_set_key_status(in->desktop, full, in->leds);
    notify(in);
}

static void kbd_push_scan_freg(SpiceKbdInstance *sin, uint8_t frag)
{
    struct input *in = input_from_kbd(sin);
    if (in->skip_bytes > 0) {
        in->skip_bytes--;
        return;
    }
    if (frag == PREFIX_E0) {
        in->prefix_e0 = true;
        return;
    }
    if (frag == PREFIX_E1) {
        /* Pause: E1 1D 45 E1 9D C5, delivered as make and break halves. */
        in->skip_bytes = 2;
        return;
    }
    bool extended = in->prefix_e0;
    in->prefix_e0 = false;
    handle_key(in, frag, extended);
}

static uint8_t kbd_get_leds(SpiceKbdInstance *sin)
{
    return input_from_kbd(sin)->leds;
}

static const SpiceKbdInterface kbd_interface = {
        .base =
                {
                        .type = SPICE_INTERFACE_KEYBOARD,
                        .description = "clove-demo keyboard",
                        .major_version = SPICE_INTERFACE_KEYBOARD_MAJOR,
                        .minor_version = SPICE_INTERFACE_KEYBOARD_MINOR,
                },
        .push_scan_freg = kbd_push_scan_freg,
        .get_leds = kbd_get_leds,
};

/* ---- pointer ---- */

static const char *button_name(int index)
{
    static const char *const names[] = {"left", "right", "middle"};
    return index < 3 ? names[index] : "other";
}

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Applies a new position and button state; clicks are new button bits. */
static void pointer_update(struct input *in, int x, int y, uint32_t buttons, bool server_mode)
{
    x = clamp(x, 0, in->screen_width - 1);
    y = clamp(y, 0, in->screen_height - 1);
    bool moved = x != in->x || y != in->y;
    uint32_t pressed = buttons & ~in->buttons;
    in->x = x;
    in->y = y;
    in->buttons = buttons;
    for (int i = 0; i < 3; i++) {
        if (pressed & (1u << i)) {
            if (in->verbose) {
                printf("clove-demo: input click x=%d y=%d button=%s\n", x, y, button_name(i));
                fflush(stdout);
            }
            desktop_add_click(in->desktop, x, y, i + 1);
        }
    }
    if (moved && server_mode) {
        qxl_device_cursor_move(in->qxl, x, y);
        qxl_device_flush(in->qxl);
    }
    desktop_set_pointer(in->desktop, x, y, buttons, server_mode);
    notify(in);
}

static void wheel(struct input *in, int delta)
{
    if (delta == 0) {
        return;
    }
    if (in->verbose) {
        printf("clove-demo: input wheel delta=%d\n", delta);
        fflush(stdout);
    }
    desktop_add_wheel(in->desktop, delta);
}

static void mouse_motion(SpiceMouseInstance *sin, int dx, int dy, int dz, uint32_t buttons_state)
{
    struct input *in = input_from_mouse(sin);
    wheel(in, dz);
    pointer_update(in, in->x + dx, in->y + dy, buttons_state, true);
}

static void mouse_buttons(SpiceMouseInstance *sin, uint32_t buttons_state)
{
    struct input *in = input_from_mouse(sin);
    pointer_update(in, in->x, in->y, buttons_state, true);
}

static const SpiceMouseInterface mouse_interface = {
        .base =
                {
                        .type = SPICE_INTERFACE_MOUSE,
                        .description = "clove-demo mouse",
                        .major_version = SPICE_INTERFACE_MOUSE_MAJOR,
                        .minor_version = SPICE_INTERFACE_MOUSE_MINOR,
                },
        .motion = mouse_motion,
        .buttons = mouse_buttons,
};

static void tablet_set_logical_size(SpiceTabletInstance *sin, int width, int height)
{
    struct input *in = input_from_tablet(sin);
    in->logical_width = width;
    in->logical_height = height;
}

static void tablet_position(SpiceTabletInstance *sin, int x, int y, uint32_t buttons_state)
{
    struct input *in = input_from_tablet(sin);
    /* The library sets the logical size to the primary surface size; scale if it differs. */
    if (in->logical_width > 0 && in->logical_width != in->screen_width) {
        x = (int)((long long)x * in->screen_width / in->logical_width);
    }
    if (in->logical_height > 0 && in->logical_height != in->screen_height) {
        y = (int)((long long)y * in->screen_height / in->logical_height);
    }
    pointer_update(in, x, y, buttons_state, false);
}

static void tablet_wheel(SpiceTabletInstance *sin, int wheel_motion, uint32_t buttons_state)
{
    struct input *in = input_from_tablet(sin);
    wheel(in, wheel_motion);
    pointer_update(in, in->x, in->y, buttons_state, false);
}

static void tablet_buttons(SpiceTabletInstance *sin, uint32_t buttons_state)
{
    struct input *in = input_from_tablet(sin);
    pointer_update(in, in->x, in->y, buttons_state, false);
}

static const SpiceTabletInterface tablet_interface = {
        .base =
                {
                        .type = SPICE_INTERFACE_TABLET,
                        .description = "clove-demo tablet",
                        .major_version = SPICE_INTERFACE_TABLET_MAJOR,
                        .minor_version = SPICE_INTERFACE_TABLET_MINOR,
                },
        .set_logical_size = tablet_set_logical_size,
        .position = tablet_position,
        .wheel = tablet_wheel,
        .buttons = tablet_buttons,
};

/* ---- cursor shape ---- */

/* 'X' outline, '.' fill, ' ' transparent. Hot spot at the tip (0, 0). */
/* clang-format off */
static const char *const arrow_art[] = {
    "X           ",
    "XX          ",
    "X.X         ",
    "X..X        ",
    "X...X       ",
    "X....X      ",
    "X.....X     ",
    "X......X    ",
    "X.......X   ",
    "X........X  ",
    "X.........X ",
    "X......XXXXX",
    "X...X..X    ",
    "X..XX..X    ",
    "X.X  X..X   ",
    "XX   X..X   ",
    "X     X..X  ",
    "      X..X  ",
    "       XX   ",
};
/* clang-format on */

#define ARROW_W 12
#define ARROW_H ((int)(sizeof(arrow_art) / sizeof(arrow_art[0])))

void input_send_cursor(struct input *in)
{
    uint32_t shape[ARROW_W * 19];
    _Static_assert(ARROW_H == 19, "arrow art size");
    for (int y = 0; y < ARROW_H; y++) {
        for (int x = 0; x < ARROW_W; x++) {
            char c = arrow_art[y][x];
            shape[y * ARROW_W + x] = c == 'X' ? 0xFF000000u : (c == '.' ? 0xFFFFFFFFu : 0u);
        }
    }
    qxl_device_cursor_set(in->qxl, shape, ARROW_W, ARROW_H, 0, 0, in->x, in->y);
    qxl_device_flush(in->qxl);
}

/* ---- lifecycle ---- */

struct input *input_create(SpiceServer *server, struct desktop *desktop, struct qxl_device *qxl,
                           bool verbose, input_changed_fn changed, void *opaque)
{
    struct input *in = calloc(1, sizeof(*in));
    if (in == NULL) {
        return NULL;
    }
    in->kbd.base.sif = &kbd_interface.base;
    in->mouse.base.sif = &mouse_interface.base;
    in->tablet.base.sif = &tablet_interface.base;
    in->server = server;
    in->desktop = desktop;
    in->qxl = qxl;
    in->verbose = verbose;
    in->changed = changed;
    in->opaque = opaque;
    in->screen_width = desktop_width(desktop);
    in->screen_height = desktop_height(desktop);
    in->x = in->screen_width / 2;
    in->y = in->screen_height / 2;
    return in;
}

int input_attach(struct input *in, bool with_tablet)
{
    if (spice_server_add_interface(in->server, &in->kbd.base) != 0 ||
        spice_server_add_interface(in->server, &in->mouse.base) != 0) {
        return -1;
    }
    if (with_tablet && spice_server_add_interface(in->server, &in->tablet.base) != 0) {
        return -1;
    }
    in->has_tablet = with_tablet;
    in->attached = true;
    return 0;
}

void input_detach(struct input *in)
{
    if (in == NULL || !in->attached) {
        return;
    }
    /*
     * Only the tablet can be removed: libspice-server 0.15 answers "removing
     * unsupported" for the keyboard and mouse and keeps their small state
     * blocks until exit (LeakSanitizer reports 272 + 4 bytes from
     * spice_server_add_interface on that library).
     */
    if (in->has_tablet) {
        spice_server_remove_interface(&in->tablet.base);
    }
    in->attached = false;
}

void input_destroy(struct input *in)
{
    free(in);
}

void input_screen_resized(struct input *in)
{
    in->screen_width = desktop_width(in->desktop);
    in->screen_height = desktop_height(in->desktop);
    in->x = in->x < in->screen_width ? in->x : in->screen_width - 1;
    in->y = in->y < in->screen_height ? in->y : in->screen_height - 1;
    desktop_set_pointer(in->desktop, in->x, in->y, in->buttons,
                        spice_server_is_server_mouse(in->server) != 0);
}
