/*
 * input: keyboard, mouse and tablet devices of clove-demo on the public
 * SpiceKbdInterface, SpiceMouseInterface and SpiceTabletInterface.
 *
 * Keyboard bytes are PC/AT scan code set 1 (0xE0 prefix for extended keys,
 * bit 7 set on release); they are turned into characters for the Notes
 * window with shift and caps-lock handling, and Caps/Num/Scroll Lock toggle
 * the LED state reported by get_leds(). The mouse (server mouse mode, relative
 * motion) and the tablet (client mouse mode, absolute positions) move the
 * pointer; newly pressed buttons leave a click mark. The cursor shape is sent
 * once with QXL_CURSOR_SET and moved with QXL_CURSOR_MOVE in server mouse mode.
 *
 * Thread: the host loop thread (the library calls input interfaces there).
 */
#ifndef CLOVE_DEMO_INPUT_H
#define CLOVE_DEMO_INPUT_H

#include <spice.h>
#include <stdbool.h>

struct desktop;
struct qxl_device;
struct input;

/* Called after each input event that changed the scene. */
typedef void (*input_changed_fn)(void *opaque);

/*
 * Returns new. All pointers are borrowed and must outlive the input object.
 * verbose: print "clove-demo: input ..." lines to stdout.
 */
struct input *input_create(SpiceServer *server, struct desktop *desktop, struct qxl_device *qxl,
                           bool verbose, input_changed_fn changed, void *opaque);
/* Takes; accepts NULL. Call after spice_server_destroy(). */
void input_destroy(struct input *in);

/*
 * Adds the keyboard and mouse interfaces, and the tablet if with_tablet (the
 * library offers client mouse mode only when a tablet exists). 0 or -1.
 */
int input_attach(struct input *in, bool with_tablet);

/*
 * Removes the tablet added by input_attach() (call before
 * spice_server_destroy(), so the library can free its state).
 */
void input_detach(struct input *in);

/* Sends the cursor shape at the current pointer position (after the QXL device is attached). */
void input_send_cursor(struct input *in);

/* The desktop changed size (desktop_resize): keeps the pointer inside it. */
void input_screen_resized(struct input *in);

#endif
