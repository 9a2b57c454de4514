/*
 * qxl_device: an in-process QXL device on the public QXLInterface.
 *
 * DESIGN
 * Every command lives in one heap block, a struct qxl_resource followed by
 * whatever the command points to (the QXLImage and its pixels, or the
 * QXLCursor shape). The command's release_info.id is the block's address, so
 * release_resource() can free it without a lookup. Blocks are linked into an
 * "outstanding" list from allocation until release; qxl_device_destroy() frees
 * whatever the library never released (it may keep drawables until its
 * worker stops), which keeps LeakSanitizer quiet.
 *
 * Memory model: memslot group 0 / slot 0 spans virt 0..~0 with delta 0, and
 * get_init_info() asks for 1 group, 1 slot, 1 generation bit and 1 slot-id
 * bit. User-space pointers have their top bits clear, so every heap address
 * is a valid QXL physical address in slot 0, generation 0.
 *
 * The primary surface is 32_xRGB with a negative stride (bottom-up, as QEMU's
 * simple display does); its memory belongs to the library's renderer and is
 * never written here.
 *
 * Thread safety: one mutex guards both queues and the outstanding list. The
 * worker thread calls get_command/get_cursor_command/release_resource; the
 * host thread pushes and flushes.
 */
#include "qxl_device.h"

#include <errno.h>
#include <glib.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum resource_kind {
    RESOURCE_DRAW,
    RESOURCE_CURSOR,
};

struct qxl_resource {
    struct qxl_resource *prev;
    struct qxl_resource *next;
    struct qxl_resource *queue_next; /* command queue link while queued */
    enum resource_kind kind;
    union {
        QXLDrawable drawable;
        QXLCursorCmd cursor;
    } cmd;
    /* Payload (QXLImage + pixels, or QXLCursor + shape) follows, 16-byte aligned. */
};

struct command_queue {
    struct qxl_resource *head;
    struct qxl_resource *tail;
};

struct qxl_device {
    QXLInstance instance; /* first: callbacks downcast from it */
    SpiceServer *server;
    int width;
    int height;
    uint8_t *surface_mem;
    size_t surface_size;
    gint attached; /* atomic: set by attached_worker, whichever thread the library uses */

    GMutex lock;
    struct command_queue draws;
    struct command_queue cursors;
    struct qxl_resource *outstanding; /* doubly linked, all live blocks */
    unsigned outstanding_count;
    unsigned queued_count; /* draw commands not yet fetched by the worker */
    uint32_t next_image_unique;

    qxl_device_monitors_fn monitors; /* NULL: client monitors configs are declined */
    void *monitors_opaque;
};

#define PAYLOAD_OFFSET ((sizeof(struct qxl_resource) + 15u) & ~(size_t)15u)

static struct qxl_device *device_from_instance(QXLInstance *qin)
{
    return (struct qxl_device *)qin;
}

static void *resource_payload(struct qxl_resource *res)
{
    return (uint8_t *)res + PAYLOAD_OFFSET;
}

static uint64_t to_physical(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

/* ---- resource bookkeeping (lock held by callers where noted) ---- */

static struct qxl_resource *resource_alloc(struct qxl_device *dev, enum resource_kind kind,
                                           size_t payload_size)
{
    struct qxl_resource *res = calloc(1, PAYLOAD_OFFSET + payload_size);
    if (res == NULL) {
        return NULL;
    }
    res->kind = kind;
    /* release_info is the first member of both command types. */
    res->cmd.drawable.release_info.id = to_physical(res);
    g_mutex_lock(&dev->lock);
    res->next = dev->outstanding;
    if (dev->outstanding != NULL) {
        dev->outstanding->prev = res;
    }
    dev->outstanding = res;
    dev->outstanding_count++;
    g_mutex_unlock(&dev->lock);
    return res;
}

/* Lock held. */
static void resource_unlink(struct qxl_device *dev, struct qxl_resource *res)
{
    if (res->prev != NULL) {
        res->prev->next = res->next;
    } else {
        dev->outstanding = res->next;
    }
    if (res->next != NULL) {
        res->next->prev = res->prev;
    }
    dev->outstanding_count--;
}

static void queue_push(struct qxl_device *dev, struct command_queue *q, struct qxl_resource *res)
{
    g_mutex_lock(&dev->lock);
    if (q == &dev->draws) {
        dev->queued_count++;
    }
    res->queue_next = NULL;
    if (q->tail != NULL) {
        q->tail->queue_next = res;
    } else {
        q->head = res;
    }
    q->tail = res;
    g_mutex_unlock(&dev->lock);
}

/* Lock held. */
static struct qxl_resource *queue_pop(struct command_queue *q)
{
    struct qxl_resource *res = q->head;
    if (res != NULL) {
        q->head = res->queue_next;
        if (q->head == NULL) {
            q->tail = NULL;
        }
        res->queue_next = NULL;
    }
    return res;
}

/* ---- QXLInterface callbacks (worker thread unless noted) ---- */

/* Creates the primary surface at the device's current size. Host thread. */
static void create_primary(struct qxl_device *dev)
{
    QXLDevSurfaceCreate surface = {
            .width = (uint32_t)dev->width,
            .height = (uint32_t)dev->height,
            .stride = -(int32_t)(dev->width * 4),
            .format = SPICE_SURFACE_FMT_32_xRGB,
            .position = 0,
            .mouse_mode = 1,
            .flags = 0,
            .type = 0,
            .mem = to_physical(dev->surface_mem),
            .group_id = 0,
    };
    spice_qxl_create_primary_surface(&dev->instance, 0, &surface);
}

/* Called from spice_server_add_interface() on the host thread. */
static void interface_attached_worker(QXLInstance *qin)
{
    struct qxl_device *dev = device_from_instance(qin);
    QXLDevMemSlot slot = {
            .slot_group_id = 0,
            .slot_id = 0,
            .generation = 0,
            .virt_start = 0,
            .virt_end = ~(uintptr_t)0,
            .addr_delta = 0,
            .qxl_ram_size = ~0u,
    };
    spice_qxl_add_memslot(qin, &slot);
    create_primary(dev);
    g_atomic_int_set(&dev->attached, 1);
    spice_server_vm_start(dev->server);
}

static void interface_set_compression_level(QXLInstance *qin, int level)
{
}

static void interface_get_init_info(QXLInstance *qin, QXLDevInitInfo *info)
{
    struct qxl_device *dev = device_from_instance(qin);
    memset(info, 0, sizeof(*info));
    info->num_memslots_groups = 1;
    info->num_memslots = 1;
    info->memslot_gen_bits = 1;
    info->memslot_id_bits = 1;
    info->qxl_ram_size = (uint32_t)dev->surface_size;
    info->internal_groupslot_id = 0;
    info->n_surfaces = 1;
}

static int pop_command(struct qxl_device *dev, struct command_queue *q, uint32_t type,
                       struct QXLCommandExt *ext)
{
    g_mutex_lock(&dev->lock);
    struct qxl_resource *res = queue_pop(q);
    if (res != NULL && q == &dev->draws) {
        dev->queued_count--;
    }
    g_mutex_unlock(&dev->lock);
    if (res == NULL) {
        return 0;
    }
    memset(ext, 0, sizeof(*ext));
    ext->cmd.data = to_physical(&res->cmd);
    ext->cmd.type = type;
    ext->group_id = 0;
    ext->flags = 0;
    return 1;
}

static int interface_get_command(QXLInstance *qin, struct QXLCommandExt *ext)
{
    struct qxl_device *dev = device_from_instance(qin);
    return pop_command(dev, &dev->draws, QXL_CMD_DRAW, ext);
}

static int queue_is_empty(struct qxl_device *dev, struct command_queue *q)
{
    g_mutex_lock(&dev->lock);
    int empty = q->head == NULL;
    g_mutex_unlock(&dev->lock);
    return empty;
}

/* Returns 1 (notification armed) when nothing is queued; we wake the worker on every flush. */
static int interface_req_cmd_notification(QXLInstance *qin)
{
    struct qxl_device *dev = device_from_instance(qin);
    return queue_is_empty(dev, &dev->draws);
}

static void interface_release_resource(QXLInstance *qin, struct QXLReleaseInfoExt release_info)
{
    struct qxl_device *dev = device_from_instance(qin);
    if (release_info.info == NULL) {
        return;
    }
    struct qxl_resource *res = (struct qxl_resource *)(uintptr_t)release_info.info->id;
    if (res == NULL) {
        return;
    }
    g_mutex_lock(&dev->lock);
    resource_unlink(dev, res);
    g_mutex_unlock(&dev->lock);
    free(res);
}

static int interface_get_cursor_command(QXLInstance *qin, struct QXLCommandExt *ext)
{
    struct qxl_device *dev = device_from_instance(qin);
    return pop_command(dev, &dev->cursors, QXL_CMD_CURSOR, ext);
}

static int interface_req_cursor_notification(QXLInstance *qin)
{
    struct qxl_device *dev = device_from_instance(qin);
    return queue_is_empty(dev, &dev->cursors);
}

static void interface_notify_update(QXLInstance *qin, uint32_t update_id)
{
}

static int interface_flush_resources(QXLInstance *qin)
{
    /* Resources are released one by one as the library is done with them. */
    return 0;
}

static void interface_async_complete(QXLInstance *qin, uint64_t cookie)
{
}

static void interface_update_area_complete(QXLInstance *qin, uint32_t surface_id,
                                           struct QXLRect *updated_rects,
                                           uint32_t num_updated_rects)
{
}

static void interface_set_client_capabilities(QXLInstance *qin, uint8_t client_present,
                                              uint8_t caps[SPICE_CAPABILITIES_SIZE])
{
    fprintf(stderr, "clove-demo: display client %s\n", client_present ? "present" : "gone");
}

/*
 * Host thread (the library's main loop). Without a handler the device
 * declines, so the library hands clients' configs to the agent instead.
 * With one it accepts (1 also answers the library's NULL probe) and passes
 * on the monitor whose index is this device's id, as a guest driver of a
 * one-head device would.
 */
static int interface_client_monitors_config(QXLInstance *qin,
                                            VDAgentMonitorsConfig *monitors_config)
{
    struct qxl_device *dev = device_from_instance(qin);
    if (dev->monitors == NULL) {
        return 0;
    }
    if (monitors_config == NULL) {
        return 1;
    }
    uint32_t index = (uint32_t)dev->instance.id;
    if (index < monitors_config->num_of_monitors) {
        const VDAgentMonConfig *m = &monitors_config->monitors[index];
        dev->monitors(dev->monitors_opaque, dev->instance.id, m->width, m->height);
    }
    return 1;
}

static const QXLInterface qxl_interface = {
        .base =
                {
                        .type = SPICE_INTERFACE_QXL,
                        .description = "clove-demo qxl device",
                        .major_version = SPICE_INTERFACE_QXL_MAJOR,
                        .minor_version = SPICE_INTERFACE_QXL_MINOR,
                },
        .attached_worker = interface_attached_worker,
        .set_compression_level = interface_set_compression_level,
        .get_init_info = interface_get_init_info,
        .get_command = interface_get_command,
        .req_cmd_notification = interface_req_cmd_notification,
        .release_resource = interface_release_resource,
        .get_cursor_command = interface_get_cursor_command,
        .req_cursor_notification = interface_req_cursor_notification,
        .notify_update = interface_notify_update,
        .flush_resources = interface_flush_resources,
        .async_complete = interface_async_complete,
        .update_area_complete = interface_update_area_complete,
        .set_client_capabilities = interface_set_client_capabilities,
        .client_monitors_config = interface_client_monitors_config,
};

/* ---- host thread API ---- */

struct qxl_device *qxl_device_create(SpiceServer *server, int width, int height)
{
    struct qxl_device *dev = calloc(1, sizeof(*dev));
    if (dev == NULL) {
        return NULL;
    }
    dev->server = server;
    dev->width = width;
    dev->height = height;
    dev->surface_size = (size_t)width * (size_t)height * 4u;
    dev->surface_mem = calloc(1, dev->surface_size);
    if (dev->surface_mem == NULL) {
        free(dev);
        return NULL;
    }
    g_mutex_init(&dev->lock);
    dev->instance.base.sif = &qxl_interface.base;
    dev->instance.id = 0;
    dev->next_image_unique = 1;
    return dev;
}

SpiceBaseInstance *qxl_device_base(struct qxl_device *dev)
{
    return &dev->instance.base;
}

void qxl_device_set_id(struct qxl_device *dev, int id)
{
    dev->instance.id = id;
}

void qxl_device_set_monitors_handler(struct qxl_device *dev, qxl_device_monitors_fn fn,
                                     void *opaque)
{
    dev->monitors = fn;
    dev->monitors_opaque = opaque;
}

int qxl_device_resize(struct qxl_device *dev, int width, int height)
{
    if (!g_atomic_int_get(&dev->attached)) {
        return -EAGAIN;
    }
    size_t size = (size_t)width * (size_t)height * 4u;
    uint8_t *mem = calloc(1, size);
    if (mem == NULL) {
        return -ENOMEM;
    }
    /* Draws queued for the old size may not fit the new surface: drop them
     * (the caller redraws everything). */
    g_mutex_lock(&dev->lock);
    struct qxl_resource *res;
    while ((res = queue_pop(&dev->draws)) != NULL) {
        dev->queued_count--;
        resource_unlink(dev, res);
        free(res);
    }
    g_mutex_unlock(&dev->lock);
    /* Synchronous: once it returns the library no longer reads the old memory. */
    spice_qxl_destroy_primary_surface(&dev->instance, 0);
    free(dev->surface_mem);
    dev->surface_mem = mem;
    dev->surface_size = size;
    dev->width = width;
    dev->height = height;
    create_primary(dev);
    return 0;
}

void qxl_device_destroy(struct qxl_device *dev)
{
    if (dev == NULL) {
        return;
    }
    struct qxl_resource *res = dev->outstanding;
    while (res != NULL) {
        struct qxl_resource *next = res->next;
        free(res);
        res = next;
    }
    g_mutex_clear(&dev->lock);
    free(dev->surface_mem);
    free(dev);
}

static QXLRect to_qxl_rect(const struct qxl_device_rect *r)
{
    QXLRect q = {.top = r->y, .left = r->x, .bottom = r->y + r->height, .right = r->x + r->width};
    return q;
}

/* Fills the fields common to every drawable we send. */
static void init_drawable(QXLDrawable *drawable, uint8_t type, const struct qxl_device_rect *r)
{
    drawable->surface_id = 0;
    drawable->effect = QXL_EFFECT_OPAQUE;
    drawable->type = type;
    drawable->self_bitmap = 0;
    drawable->bbox = to_qxl_rect(r);
    drawable->clip.type = SPICE_CLIP_TYPE_NONE;
    drawable->clip.data = 0;
    drawable->mm_time = 0;
    for (int i = 0; i < 3; i++) {
        drawable->surfaces_dest[i] = -1;
    }
}

int qxl_device_push_fill(struct qxl_device *dev, const struct qxl_device_rect *rect, uint32_t color)
{
    struct qxl_resource *res = resource_alloc(dev, RESOURCE_DRAW, 0);
    if (res == NULL) {
        return -ENOMEM;
    }
    QXLDrawable *drawable = &res->cmd.drawable;
    init_drawable(drawable, QXL_DRAW_FILL, rect);
    drawable->u.fill.brush.type = SPICE_BRUSH_TYPE_SOLID;
    drawable->u.fill.brush.u.color = color & 0xffffffu;
    drawable->u.fill.rop_descriptor = SPICE_ROPD_OP_PUT;
    drawable->u.fill.mask.flags = 0;
    drawable->u.fill.mask.bitmap = 0;
    queue_push(dev, &dev->draws, res);
    return 0;
}

/* True when 8-bit channels survive 8 -> 5 -> 8 bits with bit replication. */
static bool fits_555(const uint32_t *pixels, int stride_pixels, const struct qxl_device_rect *r)
{
    for (int y = 0; y < r->height; y++) {
        const uint32_t *row = pixels + (size_t)(r->y + y) * (size_t)stride_pixels + r->x;
        for (int x = 0; x < r->width; x++) {
            for (int shift = 0; shift <= 16; shift += 8) {
                unsigned c = (row[x] >> shift) & 0xffu;
                unsigned c5 = c >> 3;
                if (((c5 << 3) | (c5 >> 2)) != c) {
                    return false;
                }
            }
        }
    }
    return true;
}

static void write_row(uint8_t *dst, const uint32_t *src, int width, int bytes_per_pixel)
{
    for (int x = 0; x < width; x++) {
        uint32_t p = src[x];
        switch (bytes_per_pixel) {
        case 4:
            dst[4 * x] = (uint8_t)p;
            dst[4 * x + 1] = (uint8_t)(p >> 8);
            dst[4 * x + 2] = (uint8_t)(p >> 16);
            dst[4 * x + 3] = 0;
            break;
        case 3:
            dst[3 * x] = (uint8_t)p;
            dst[3 * x + 1] = (uint8_t)(p >> 8);
            dst[3 * x + 2] = (uint8_t)(p >> 16);
            break;
        default: {
            /* SPICE_BITMAP_FMT_16BIT is x1r5g5b5, little endian. */
            unsigned v =
                    (((p >> 19) & 0x1fu) << 10) | (((p >> 11) & 0x1fu) << 5) | ((p >> 3) & 0x1fu);
            dst[2 * x] = (uint8_t)v;
            dst[2 * x + 1] = (uint8_t)(v >> 8);
            break;
        }
        }
    }
}

/* The colours of a rectangle, for the indexed layouts. */
struct palette {
    uint32_t colors[256];
    int count;
    int last; /* index of the last match: neighbouring pixels repeat */
};

static int palette_index(struct palette *pal, uint32_t color)
{
    if (pal->count > 0 && pal->colors[pal->last] == color) {
        return pal->last;
    }
    for (int i = 0; i < pal->count; i++) {
        if (pal->colors[i] == color) {
            pal->last = i;
            return i;
        }
    }
    return -1;
}

/* Collects the rectangle's colours; false if there are more than max. */
static bool palette_collect(struct palette *pal, int max, const uint32_t *pixels, int stride_pixels,
                            const struct qxl_device_rect *r)
{
    pal->count = 0;
    pal->last = 0;
    for (int y = 0; y < r->height; y++) {
        const uint32_t *row = pixels + (size_t)(r->y + y) * (size_t)stride_pixels + r->x;
        for (int x = 0; x < r->width; x++) {
            uint32_t c = row[x] & 0xffffffu;
            if (palette_index(pal, c) >= 0) {
                continue;
            }
            if (pal->count == max) {
                return false;
            }
            pal->colors[pal->count++] = c;
        }
    }
    return true;
}

static void write_indexed_row(uint8_t *dst, const uint32_t *src, int width,
                              enum bitmap_layout layout, struct palette *pal)
{
    for (int x = 0; x < width; x++) {
        int index = palette_index(pal, src[x] & 0xffffffu);
        if (layout == BITMAP_LAYOUT_8_PALETTE) {
            dst[x] = (uint8_t)index;
        } else if (index != 0) {
            dst[x >> 3] |= (uint8_t)(0x80u >> (x & 7));
        }
    }
}

const char *qxl_device_layout_name(enum bitmap_layout layout)
{
    static const char *const names[BITMAP_LAYOUT_COUNT] = {
            "32td", "32bu", "32pad", "24td", "24bu", "16", "pal8", "pal1be",
    };
    return (unsigned)layout < BITMAP_LAYOUT_COUNT ? names[layout] : "?";
}

int qxl_device_push_copy(struct qxl_device *dev, const struct qxl_device_rect *rect,
                         const uint32_t *pixels, int stride_pixels, enum bitmap_layout layout)
{
    if (layout == BITMAP_LAYOUT_16_TOP_DOWN && !fits_555(pixels, stride_pixels, rect)) {
        layout = BITMAP_LAYOUT_32_PADDED;
    }
    struct palette pal;
    if ((layout == BITMAP_LAYOUT_8_PALETTE &&
         !palette_collect(&pal, 256, pixels, stride_pixels, rect)) ||
        (layout == BITMAP_LAYOUT_1_PALETTE_BE &&
         !palette_collect(&pal, 2, pixels, stride_pixels, rect))) {
        layout = BITMAP_LAYOUT_32_PADDED;
    }
    bool indexed = layout == BITMAP_LAYOUT_8_PALETTE || layout == BITMAP_LAYOUT_1_PALETTE_BE;
    size_t row_bytes = 0;
    int bpp = 4;
    uint8_t format = SPICE_BITMAP_FMT_32BIT;
    bool top_down = true;
    size_t pad = 0;
    switch (layout) {
    case BITMAP_LAYOUT_32_BOTTOM_UP:
        top_down = false;
        break;
    case BITMAP_LAYOUT_32_PADDED:
        pad = 4u * (1u + (unsigned)rect->width % 7u);
        break;
    case BITMAP_LAYOUT_24_TOP_DOWN:
        bpp = 3;
        format = SPICE_BITMAP_FMT_24BIT;
        break;
    case BITMAP_LAYOUT_24_BOTTOM_UP:
        bpp = 3;
        format = SPICE_BITMAP_FMT_24BIT;
        top_down = false;
        pad = 5;
        break;
    case BITMAP_LAYOUT_16_TOP_DOWN:
        bpp = 2;
        format = SPICE_BITMAP_FMT_16BIT;
        break;
    case BITMAP_LAYOUT_8_PALETTE:
        format = SPICE_BITMAP_FMT_8BIT;
        row_bytes = (size_t)rect->width;
        break;
    case BITMAP_LAYOUT_1_PALETTE_BE:
        format = SPICE_BITMAP_FMT_1BIT_BE;
        row_bytes = ((size_t)rect->width + 7u) / 8u;
        top_down = false; /* and bottom-up, for variety */
        break;
    default:
        break;
    }
    if (!indexed) {
        row_bytes = (size_t)rect->width * (size_t)bpp;
    }
    /* Rows are kept 4-byte aligned, then padded further for some layouts. */
    size_t stride = ((row_bytes + 3u) & ~(size_t)3u) + pad;
    size_t image_size = (sizeof(QXLImage) + 15u) & ~(size_t)15u;
    size_t palette_size = 0;
    if (indexed) {
        palette_size = (sizeof(QXLPalette) + (size_t)pal.count * 4u + 15u) & ~(size_t)15u;
    }
    struct qxl_resource *res = resource_alloc(
            dev, RESOURCE_DRAW, image_size + palette_size + stride * (size_t)rect->height);
    if (res == NULL) {
        return -ENOMEM;
    }
    QXLImage *image = resource_payload(res);
    QXLPalette *palette = (QXLPalette *)((uint8_t *)image + image_size);
    uint8_t *data = (uint8_t *)image + image_size + palette_size;
    for (int y = 0; y < rect->height; y++) {
        int dst_row = top_down ? y : rect->height - 1 - y;
        const uint32_t *src = pixels + (size_t)(rect->y + y) * (size_t)stride_pixels + rect->x;
        uint8_t *dst = data + (size_t)dst_row * stride;
        if (indexed) {
            write_indexed_row(dst, src, rect->width, layout, &pal);
        } else {
            write_row(dst, src, rect->width, bpp);
        }
    }

    g_mutex_lock(&dev->lock);
    uint32_t unique = dev->next_image_unique++;
    g_mutex_unlock(&dev->lock);
    if (indexed) {
        /* A unique id per palette: the library may cache palettes by it. */
        palette->unique = unique;
        palette->num_ents = (uint16_t)pal.count;
        memcpy(palette->ents, pal.colors, (size_t)pal.count * 4u);
    }
    image->descriptor.id = ((uint64_t)unique << 32) | QXL_IMAGE_GROUP_DEVICE;
    image->descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
    image->descriptor.flags = 0;
    image->descriptor.width = (uint32_t)rect->width;
    image->descriptor.height = (uint32_t)rect->height;
    image->bitmap.format = format;
    image->bitmap.flags = QXL_BITMAP_DIRECT | (top_down ? QXL_BITMAP_TOP_DOWN : 0);
    image->bitmap.x = (uint32_t)rect->width;
    image->bitmap.y = (uint32_t)rect->height;
    image->bitmap.stride = (uint32_t)stride;
    image->bitmap.palette = indexed ? to_physical(palette) : 0;
    image->bitmap.data = to_physical(data);

    QXLDrawable *drawable = &res->cmd.drawable;
    init_drawable(drawable, QXL_DRAW_COPY, rect);
    drawable->u.copy.src_bitmap = to_physical(image);
    drawable->u.copy.src_area.top = 0;
    drawable->u.copy.src_area.left = 0;
    drawable->u.copy.src_area.bottom = rect->height;
    drawable->u.copy.src_area.right = rect->width;
    drawable->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    drawable->u.copy.scale_mode = 0;
    drawable->u.copy.mask.flags = 0;
    drawable->u.copy.mask.bitmap = 0;
    queue_push(dev, &dev->draws, res);
    return (int)layout;
}

int qxl_device_cursor_set(struct qxl_device *dev, const uint32_t *argb, int width, int height,
                          int hot_x, int hot_y, int x, int y)
{
    size_t shape_bytes = (size_t)width * (size_t)height * 4u;
    struct qxl_resource *res =
            resource_alloc(dev, RESOURCE_CURSOR, sizeof(QXLCursor) + shape_bytes);
    if (res == NULL) {
        return -ENOMEM;
    }
    QXLCursor *cursor = resource_payload(res);
    cursor->header.unique = 0;
    cursor->header.type = SPICE_CURSOR_TYPE_ALPHA;
    cursor->header.width = (uint16_t)width;
    cursor->header.height = (uint16_t)height;
    cursor->header.hot_spot_x = (uint16_t)hot_x;
    cursor->header.hot_spot_y = (uint16_t)hot_y;
    cursor->data_size = (uint32_t)shape_bytes;
    cursor->chunk.data_size = (uint32_t)shape_bytes;
    cursor->chunk.prev_chunk = 0;
    cursor->chunk.next_chunk = 0;
    uint8_t *shape = cursor->chunk.data;
    for (size_t i = 0; i < (size_t)width * (size_t)height; i++) {
        /* Stored as little-endian ARGB words: B, G, R, A. */
        shape[4 * i] = (uint8_t)argb[i];
        shape[4 * i + 1] = (uint8_t)(argb[i] >> 8);
        shape[4 * i + 2] = (uint8_t)(argb[i] >> 16);
        shape[4 * i + 3] = (uint8_t)(argb[i] >> 24);
    }

    QXLCursorCmd *cmd = &res->cmd.cursor;
    cmd->type = QXL_CURSOR_SET;
    cmd->u.set.position.x = (int16_t)x;
    cmd->u.set.position.y = (int16_t)y;
    cmd->u.set.visible = 1;
    cmd->u.set.shape = to_physical(cursor);
    queue_push(dev, &dev->cursors, res);
    return 0;
}

int qxl_device_cursor_move(struct qxl_device *dev, int x, int y)
{
    struct qxl_resource *res = resource_alloc(dev, RESOURCE_CURSOR, 0);
    if (res == NULL) {
        return -ENOMEM;
    }
    QXLCursorCmd *cmd = &res->cmd.cursor;
    cmd->type = QXL_CURSOR_MOVE;
    cmd->u.position.x = (int16_t)x;
    cmd->u.position.y = (int16_t)y;
    queue_push(dev, &dev->cursors, res);
    return 0;
}

void qxl_device_flush(struct qxl_device *dev)
{
    if (g_atomic_int_get(&dev->attached)) {
        spice_qxl_wakeup(&dev->instance);
    }
}

unsigned qxl_device_outstanding(struct qxl_device *dev)
{
    g_mutex_lock(&dev->lock);
    unsigned n = dev->outstanding_count;
    g_mutex_unlock(&dev->lock);
    return n;
}

unsigned qxl_device_queued(struct qxl_device *dev)
{
    g_mutex_lock(&dev->lock);
    unsigned n = dev->queued_count;
    g_mutex_unlock(&dev->lock);
    return n;
}
