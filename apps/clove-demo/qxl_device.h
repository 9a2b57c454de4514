/*
 * qxl_device: an in-process QXL display device for clove-demo, built on the
 * public QXLInterface of <spice.h> only.
 *
 * The device maps the whole process address space as memslot 0 (virt 0..~0,
 * delta 0, like QEMU's simple display), so command structures are ordinary
 * heap allocations whose addresses are their QXL physical addresses. Draw
 * commands and cursor commands wait in two mutex-protected queues until the
 * library's worker thread fetches them; each allocation is freed when the
 * library releases it, or by qxl_device_destroy() after the server is gone.
 *
 * Thread: the push/flush calls run on the host loop thread; the QXLInterface
 * callbacks run on the library's worker thread.
 */
#ifndef CLOVE_DEMO_QXL_DEVICE_H
#define CLOVE_DEMO_QXL_DEVICE_H

#include <spice.h>
#include <stdbool.h>
#include <stdint.h>

struct qxl_device;

/* How a QXL_DRAW_COPY carries its pixels. All render identically on screen. */
enum bitmap_layout {
    BITMAP_LAYOUT_32_TOP_DOWN,
    BITMAP_LAYOUT_32_BOTTOM_UP,
    BITMAP_LAYOUT_32_PADDED, /* top-down with extra bytes at the end of each row */
    BITMAP_LAYOUT_24_TOP_DOWN,
    BITMAP_LAYOUT_24_BOTTOM_UP, /* also padded */
    BITMAP_LAYOUT_16_TOP_DOWN,  /* falls back to 32 bit if a colour does not fit 5:5:5 */
    BITMAP_LAYOUT_8_PALETTE,    /* 8 bit indexed; falls back to 32 bit above 256 colours */
    BITMAP_LAYOUT_1_PALETTE_BE, /* 1 bit indexed, first pixel in bit 7, bottom-up; two colours */
    BITMAP_LAYOUT_COUNT,
    /*
     * Not offered: SPICE_BITMAP_FMT_1BIT_LE and 4BIT_LE. Debian's
     * libspice-server 0.15 aborts ("spice_bitmap_to_pixman: Unsupported
     * bitmap format") when its own renderer meets them.
     */
};

/* A rectangle of the primary surface. */
struct qxl_device_rect {
    int x;
    int y;
    int width;
    int height;
};

/*
 * Returns new. server is borrowed and must outlive the device's use by the
 * library. The primary surface (width x height, 32_xRGB) is created, and
 * spice_server_vm_start() called, when the library attaches its worker.
 */
struct qxl_device *qxl_device_create(SpiceServer *server, int width, int height);

/* The instance to pass to spice_server_add_interface(). Borrowed. */
SpiceBaseInstance *qxl_device_base(struct qxl_device *dev);

/* Sets QXLInstance.id (the display channel id in the reference); before adding. */
void qxl_device_set_id(struct qxl_device *dev, int id);

/*
 * A client asked for this size of the device's head (monitor[id] of its
 * monitors config). Called on the host thread from inside the library:
 * defer any call back into it.
 */
typedef void (*qxl_device_monitors_fn)(void *opaque, int id, uint32_t width, uint32_t height);

/*
 * Makes the device accept clients' monitors configs (QXLInterface
 * client_monitors_config), so the library gives them to it rather than to
 * the agent. fn NULL declines them again (the default).
 */
void qxl_device_set_monitors_handler(struct qxl_device *dev, qxl_device_monitors_fn fn,
                                     void *opaque);

/*
 * Replaces the primary surface by a new one of width x height (destroy, then
 * create, as a guest driver does on a mode change). Draws not yet fetched by
 * the library are dropped; the caller redraws the whole screen. 0, -EAGAIN
 * before the library attached, or -ENOMEM.
 */
int qxl_device_resize(struct qxl_device *dev, int width, int height);

/*
 * Frees the device and every command still queued or not yet released.
 * Call only after spice_server_destroy() (no worker thread may remain). Takes; accepts NULL.
 */
void qxl_device_destroy(struct qxl_device *dev);

/* Queues a QXL_DRAW_FILL of rect with a solid colour (0x00RRGGBB). 0 or -ENOMEM. */
int qxl_device_push_fill(struct qxl_device *dev, const struct qxl_device_rect *rect,
                         uint32_t color);

/*
 * Queues a QXL_DRAW_COPY of rect; its pixels are copied from the xRGB image
 * pixels (borrowed; stride in pixels, origin = surface origin) into the
 * command's own memory in the given layout. Returns the layout actually
 * used (16 bit and the indexed layouts fall back to BITMAP_LAYOUT_32_PADDED
 * when the pixels do not fit them exactly), or -ENOMEM.
 */
int qxl_device_push_copy(struct qxl_device *dev, const struct qxl_device_rect *rect,
                         const uint32_t *pixels, int stride_pixels, enum bitmap_layout layout);

/*
 * Queues QXL_CURSOR_SET with an SPICE_CURSOR_TYPE_ALPHA shape (argb borrowed,
 * width*height premultiplied ARGB pixels) at (x, y). 0 or -ENOMEM.
 */
int qxl_device_cursor_set(struct qxl_device *dev, const uint32_t *argb, int width, int height,
                          int hot_x, int hot_y, int x, int y);

/* Queues QXL_CURSOR_MOVE to (x, y). 0 or -ENOMEM. */
int qxl_device_cursor_move(struct qxl_device *dev, int x, int y);

/* Tells the library that commands are waiting (spice_qxl_wakeup), once attached. */
void qxl_device_flush(struct qxl_device *dev);

/* Short name of a layout, for logs. */
const char *qxl_device_layout_name(enum bitmap_layout layout);

/* Number of commands queued or held by the library (for diagnostics). */
unsigned qxl_device_outstanding(struct qxl_device *dev);

/* Number of draw commands the worker has not fetched yet (for back-pressure). */
unsigned qxl_device_queued(struct qxl_device *dev);

#endif
