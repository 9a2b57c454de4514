/*
 * The display channel clients of one worker.
 *
 * A client that connects gets the primary surface (SURFACE_CREATE, then the
 * whole surface as one image from the server's rendered copy, the monitors
 * config and a MARK that says "the screen is complete"); after that every
 * draw command is forwarded as it is rendered. Messages are built once per
 * command and shared by every client's send queue.
 *
 * Images go out as uncompressed bitmaps in this milestone. The encoder stage
 * (QUIC, LZ, GLZ, ...) slots in where display_image_message() builds the
 * SpiceImage.
 *
 * Thread: the worker's.
 */
#include "server/worker_priv.h"

#include "common/error.h"
#include "common/log.h"
#include "proto/server_msg.h"
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

struct display_client {
    struct channel_client base; /* first */
    struct worker *worker;
    struct display_client *next;
    bool got_init;
    int64_t pixmap_cache_size;
    int32_t glz_window_size;
    uint8_t preferred_compression;
};

static void display_send_to(struct display_client *dc, struct shared_msg *m)
{
    channel_client_send_shared(&dc->base, m);
}

/* Sends m to every client; a client may close (and unlink) while we do. */
static void display_broadcast(struct worker *w, struct shared_msg *m)
{
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        display_send_to(dc, m);
    }
}

static struct shared_msg *msg_from_buf(uint16_t type, struct byte_buf *b)
{
    struct shared_msg *m = shared_msg_from_buf(type, b);
    if (!m) {
        log_ratelimited(LOG_LEVEL_ERROR, "display: out of memory building message %u", type);
    }
    return m;
}

static struct wire_rect wire_rect_from(const struct qxl_rect *r)
{
    return (struct wire_rect){r->top, r->left, r->bottom, r->right};
}

static struct shared_msg *display_surface_create_msg(struct worker *w, uint32_t id)
{
    struct worker_surface *p = &w->surfaces[id];
    struct byte_buf b;
    buf_init(&b);
    server_msg_display_surface_create(&b, id, p->width, p->height, p->format,
                                      id == 0 ? SPICE_SURFACE_FLAGS_PRIMARY : 0);
    struct shared_msg *m = msg_from_buf(SPICE_MSG_DISPLAY_SURFACE_CREATE, &b);
    buf_finish(&b);
    return m;
}

/* A whole surface as one DRAW_COPY of a bitmap. */
static struct shared_msg *display_full_image_msg(struct worker *w, uint32_t id)
{
    struct worker_surface *p = &w->surfaces[id];
    size_t row_bytes = (size_t)p->width * 4;
    unsigned bpp = canvas_format_bpp(p->format);
    uint8_t *pixels = NULL;
    const uint8_t *data;
    uint32_t stride;
    uint8_t flags;
    if (bpp == 4 || bpp == 1) {
        /* The surface memory is the image: a negative stride means its
         * lowest address holds the bottom row, i.e. a bottom-up bitmap. */
        data = p->mem;
        stride = p->stride < 0 ? (uint32_t)-p->stride : (uint32_t)p->stride;
        flags = p->stride < 0 ? 0 : SPICE_BITMAP_FLAGS_TOP_DOWN;
    } else {
        pixels = malloc(row_bytes * p->height);
        if (!pixels) {
            return NULL;
        }
        data = pixels;
        stride = (uint32_t)row_bytes;
        flags = SPICE_BITMAP_FLAGS_TOP_DOWN;
    }
    for (uint32_t y = 0; pixels && y < p->height; y++) {
        const uint8_t *src = p->canvas.line0 + (intptr_t)y * p->canvas.stride;
        uint8_t *dst = pixels + row_bytes * y;
        for (uint32_t x = 0; x < p->width; x++) {
            uint32_t v = (uint32_t)src[2 * x] | ((uint32_t)src[2 * x + 1] << 8);
            uint32_t r, g, b;
            if (p->format == SPICE_SURFACE_FMT_16_565) {
                r = (v >> 11) & 0x1f;
                g = (v >> 5) & 0x3f;
                b = v & 0x1f;
                g = g << 2 | g >> 4;
            } else {
                r = (v >> 10) & 0x1f;
                g = (v >> 5) & 0x1f;
                b = v & 0x1f;
                g = g << 3 | g >> 2;
            }
            put_u32le(dst + 4 * x, ((r << 3 | r >> 2) << 16) | (g << 8) | (b << 3 | b >> 2));
        }
    }
    struct wire_draw_base base = {
            .surface_id = id,
            .box = {0, 0, (int32_t)p->height, (int32_t)p->width},
            .clip = {.type = SPICE_CLIP_TYPE_NONE},
    };
    struct wire_image img = {
            .id = ((uint64_t)w->id << 56) | ++w->image_serial,
            .type = SPICE_IMAGE_TYPE_BITMAP,
            .width = p->width,
            .height = p->height,
            .u.bitmap = {.format = p->format == SPICE_SURFACE_FMT_32_ARGB ? SPICE_BITMAP_FMT_RGBA
                                   : p->format == SPICE_SURFACE_FMT_8_A  ? SPICE_BITMAP_FMT_8BIT_A
                                                                          : SPICE_BITMAP_FMT_32BIT,
                         .flags = flags,
                         .stride = stride,
                         .data = data},
    };
    struct wire_rect src_area = {0, 0, (int32_t)p->height, (int32_t)p->width};
    struct byte_buf b;
    buf_init(&b);
    buf_reserve(&b, 128 + (size_t)stride * p->height);
    server_msg_display_draw_copy(&b, &base, &img, &src_area, SPICE_ROPD_OP_PUT,
                                 SPICE_IMAGE_SCALE_MODE_NEAREST);
    free(pixels);
    struct shared_msg *m = msg_from_buf(SPICE_MSG_DISPLAY_DRAW_COPY, &b);
    buf_finish(&b);
    return m;
}

static struct shared_msg *display_monitors_config_msg(struct worker *w)
{
    struct wire_head heads[WORKER_MAX_HEADS];
    for (uint16_t i = 0; i < w->num_heads; i++) {
        heads[i] = (struct wire_head){w->heads[i].id,    w->heads[i].surface_id,
                                      w->heads[i].width, w->heads[i].height,
                                      w->heads[i].x,     w->heads[i].y,
                                      w->heads[i].flags};
    }
    struct byte_buf b;
    buf_init(&b);
    uint16_t max_allowed = w->max_monitors > w->num_heads ? w->max_monitors : w->num_heads;
    server_msg_display_monitors_config(&b, heads, w->num_heads, max_allowed);
    struct shared_msg *m = msg_from_buf(SPICE_MSG_DISPLAY_MONITORS_CONFIG, &b);
    buf_finish(&b);
    return m;
}

static void display_send_simple(struct display_client *dc, uint16_t type)
{
    channel_client_send(&dc->base, type, NULL, 0);
}

/* Sends one surface (create, and its content if asked) to one client. */
static void display_send_surface(struct display_client *dc, struct worker *w, uint32_t id,
                                 struct shared_msg *create, struct shared_msg *image)
{
    if (create && !dc->base.closing) {
        display_send_to(dc, create);
    }
    if (image && !dc->base.closing) {
        display_send_to(dc, image);
    }
}

static void display_send_monitors_and_mark(struct display_client *dc, struct shared_msg *monitors)
{
    if (monitors && !dc->base.closing &&
        channel_client_has_cap(&dc->base, SPICE_DISPLAY_CAP_MONITORS_CONFIG)) {
        display_send_to(dc, monitors);
    }
    if (!dc->base.closing) {
        display_send_simple(dc, SPICE_MSG_DISPLAY_MARK);
    }
}

void display_broadcast_surface_create(struct worker *w, uint32_t id, bool with_image)
{
    if (!w->displays || id >= w->n_surfaces || !w->surfaces[id].created) {
        return;
    }
    struct shared_msg *create = display_surface_create_msg(w, id);
    struct shared_msg *image = with_image ? display_full_image_msg(w, id) : NULL;
    struct shared_msg *monitors = id == 0 ? display_monitors_config_msg(w) : NULL;
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        display_send_surface(dc, w, id, create, image);
        if (id == 0) {
            display_send_monitors_and_mark(dc, monitors);
        }
    }
    shared_msg_unref(create);
    shared_msg_unref(image);
    shared_msg_unref(monitors);
}

/* Brings a new client up to date: every offscreen surface, then the primary. */
static void display_send_all_surfaces(struct display_client *dc, struct worker *w)
{
    for (uint32_t n = 1; n <= w->n_surfaces; n++) {
        uint32_t id = n % w->n_surfaces; /* 1, 2, ..., n-1, then 0 */
        if (!w->surfaces[id].created || dc->base.closing) {
            continue;
        }
        struct shared_msg *create = display_surface_create_msg(w, id);
        struct shared_msg *image = display_full_image_msg(w, id);
        display_send_surface(dc, w, id, create, image);
        shared_msg_unref(create);
        shared_msg_unref(image);
        if (id == 0) {
            struct shared_msg *monitors = display_monitors_config_msg(w);
            display_send_monitors_and_mark(dc, monitors);
            shared_msg_unref(monitors);
        }
    }
}

void display_broadcast_surface_destroy(struct worker *w, uint32_t surface_id)
{
    if (!w->displays) {
        return;
    }
    uint8_t body[4];
    put_u32le(body, surface_id);
    struct shared_msg *m = shared_msg_create(SPICE_MSG_DISPLAY_SURFACE_DESTROY, body, 4);
    if (m) {
        display_broadcast(w, m);
        shared_msg_unref(m);
    }
}

void display_broadcast_monitors_config(struct worker *w)
{
    if (!w->displays) {
        return;
    }
    struct shared_msg *m = display_monitors_config_msg(w);
    if (!m) {
        return;
    }
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        if (channel_client_has_cap(&dc->base, SPICE_DISPLAY_CAP_MONITORS_CONFIG)) {
            display_send_to(dc, m);
        }
    }
    shared_msg_unref(m);
}

void display_broadcast_mark(struct worker *w)
{
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        display_send_simple(dc, SPICE_MSG_DISPLAY_MARK);
    }
}

/*
 * A source image (bitmap or surface) as a SpiceImage. Palette bitmaps are
 * expanded to 32 bits (the wire writer carries no palettes yet); the other
 * bitmap formats go as the guest gave them; a surface source names the
 * surface. The image encoder stage (QUIC, LZ, GLZ, ...) slots in here.
 * `scratch` holds whatever must live until the message is written.
 */
struct image_scratch {
    uint8_t *pixels;
    uint8_t surface_id[4];
};

static bool display_image_message(struct worker *w, const struct qxl_image *src,
                                  struct wire_image *img, struct image_scratch *scratch)
{
    memset(img, 0, sizeof(*img));
    img->id = ((uint64_t)w->id << 56) | ++w->image_serial;
    img->width = src->width;
    img->height = src->height;
    if (src->type == SPICE_IMAGE_TYPE_SURFACE) {
        img->type = SPICE_IMAGE_TYPE_SURFACE;
        put_u32le(scratch->surface_id, src->surface_id);
        img->u.encoded.data = scratch->surface_id;
        img->u.encoded.size = 4;
        return true;
    }
    img->type = SPICE_IMAGE_TYPE_BITMAP;
    if (!src->data) {
        return false;
    }
    switch (src->format) {
    case SPICE_BITMAP_FMT_32BIT:
    case SPICE_BITMAP_FMT_RGBA:
    case SPICE_BITMAP_FMT_24BIT:
    case SPICE_BITMAP_FMT_16BIT:
    case SPICE_BITMAP_FMT_8BIT_A:
        img->u.bitmap.format = src->format;
        img->u.bitmap.flags =
                (src->bitmap_flags & QXL_BITMAP_TOP_DOWN) ? SPICE_BITMAP_FLAGS_TOP_DOWN : 0;
        img->u.bitmap.stride = src->stride;
        img->u.bitmap.data = src->data;
        return true;
    default:
        break;
    }
    size_t row_bytes = (size_t)src->width * 4;
    uint8_t *pixels = malloc(row_bytes * src->height);
    if (!pixels) {
        return false;
    }
    for (uint32_t y = 0; y < src->height; y++) {
        for (uint32_t x = 0; x < src->width; x++) {
            put_u32le(pixels + row_bytes * y + 4 * x, canvas_image_pixel(src, x, y));
        }
    }
    img->u.bitmap.format = SPICE_BITMAP_FMT_32BIT;
    img->u.bitmap.flags = SPICE_BITMAP_FLAGS_TOP_DOWN;
    img->u.bitmap.stride = (uint32_t)row_bytes;
    img->u.bitmap.data = pixels;
    scratch->pixels = pixels;
    return true;
}

/* Builds the message body of a drawable; returns its type, or 0 to skip. */
static uint16_t display_drawable_body(struct worker *w, const struct qxl_drawable *d,
                                      const struct wire_draw_base *base, struct byte_buf *b)
{
    struct image_scratch s1 = {0}, s2 = {0};
    struct wire_image img, mask;
    uint16_t type = 0;
    switch (d->type) {
    case QXL_DRAW_FILL:
        server_msg_display_draw_fill(b, base, d->u.fill.color, d->u.fill.rop_descriptor);
        type = SPICE_MSG_DISPLAY_DRAW_FILL;
        break;
    case QXL_DRAW_COPY: {
        if (!display_image_message(w, d->u.copy.src, &img, &s1)) {
            break;
        }
        struct wire_rect src_area = wire_rect_from(&d->u.copy.src_area);
        server_msg_display_draw_copy(b, base, &img, &src_area, d->u.copy.rop_descriptor,
                                     d->u.copy.scale_mode);
        type = SPICE_MSG_DISPLAY_DRAW_COPY;
        break;
    }
    case QXL_COPY_BITS: {
        struct wire_point pos = {d->u.copy_bits.src_pos.x, d->u.copy_bits.src_pos.y};
        server_msg_display_copy_bits(b, base, pos);
        type = SPICE_MSG_DISPLAY_COPY_BITS;
        break;
    }
    case QXL_DRAW_BLACKNESS:
    case QXL_DRAW_WHITENESS:
    case QXL_DRAW_INVERS:
        server_msg_display_draw_mask_only(b, base);
        type = d->type == QXL_DRAW_BLACKNESS   ? SPICE_MSG_DISPLAY_DRAW_BLACKNESS
               : d->type == QXL_DRAW_WHITENESS ? SPICE_MSG_DISPLAY_DRAW_WHITENESS
                                               : SPICE_MSG_DISPLAY_DRAW_INVERS;
        break;
    case QXL_DRAW_COMPOSITE: {
        if (!display_image_message(w, d->u.composite.src, &img, &s1)) {
            break;
        }
        struct wire_composite c = {
                .flags = d->u.composite.flags,
                .src = &img,
                .src_transform =
                        d->u.composite.has_src_transform ? d->u.composite.src_transform : NULL,
                .mask_transform =
                        d->u.composite.has_mask_transform ? d->u.composite.mask_transform : NULL,
                .src_origin = {d->u.composite.src_origin_x, d->u.composite.src_origin_y},
                .mask_origin = {d->u.composite.mask_origin_x, d->u.composite.mask_origin_y},
        };
        if (d->u.composite.mask) {
            if (!display_image_message(w, d->u.composite.mask, &mask, &s2)) {
                break;
            }
            c.mask = &mask;
        }
        server_msg_display_draw_composite(b, base, &c);
        type = SPICE_MSG_DISPLAY_DRAW_COMPOSITE;
        break;
    }
    default:
        break;
    }
    free(s1.pixels);
    free(s2.pixels);
    return type;
}

void display_broadcast_drawable(struct worker *w, const struct qxl_drawable *d)
{
    if (!w->displays) {
        return;
    }
    struct wire_rect *rects = NULL;
    struct wire_draw_base base = {.surface_id = d->surface_id, .box = wire_rect_from(&d->bbox)};
    base.clip.type = SPICE_CLIP_TYPE_NONE;
    if (d->clip_type == SPICE_CLIP_TYPE_RECTS && d->num_clip_rects > 0) {
        rects = malloc(sizeof(*rects) * d->num_clip_rects);
        if (!rects) {
            return;
        }
        for (uint32_t i = 0; i < d->num_clip_rects; i++) {
            rects[i] = wire_rect_from(&d->clip_rects[i]);
        }
        base.clip.type = SPICE_CLIP_TYPE_RECTS;
        base.clip.num_rects = d->num_clip_rects;
        base.clip.rects = rects;
    }
    struct byte_buf b;
    buf_init(&b);
    uint16_t type = display_drawable_body(w, d, &base, &b);
    free(rects);
    struct shared_msg *m = type ? msg_from_buf(type, &b) : NULL;
    buf_finish(&b);
    if (m) {
        if (d->type == QXL_DRAW_COMPOSITE) {
            for (struct display_client *dc = w->displays, *next; dc; dc = next) {
                next = dc->next;
                /* Clients without the cap cannot draw it (the reference renders it
                 * on the server for them; they get it with the next full image). */
                if (channel_client_has_cap(&dc->base, SPICE_DISPLAY_CAP_COMPOSITE)) {
                    display_send_to(dc, m);
                }
            }
        } else {
            display_broadcast(w, m);
        }
        shared_msg_unref(m);
    }
}

bool display_clients_have_cap(struct worker *w, unsigned cap, bool *any)
{
    bool all = w->displays != NULL;
    *any = w->displays != NULL;
    for (struct display_client *dc = w->displays; dc; dc = dc->next) {
        if (!channel_client_has_cap(&dc->base, cap)) {
            all = false;
        }
    }
    return all;
}

static int display_handle_message(struct channel_client *cc, const struct client_msg *msg)
{
    struct display_client *dc = (struct display_client *)cc;
    switch (msg->type) {
    case SPICE_MSGC_DISPLAY_INIT:
        dc->got_init = true;
        dc->pixmap_cache_size = msg->u.display_init.pixmap_cache_size;
        dc->glz_window_size = msg->u.display_init.glz_dictionary_window_size;
        return 0;
    case SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION:
        dc->preferred_compression = msg->u.preferred_compression.image_compression;
        return 0;
    case SPICE_MSGC_DISPLAY_STREAM_REPORT:
    case SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE:
    case SPICE_MSGC_DISPLAY_GL_DRAW_DONE:
        return 0;
    default:
        log_ratelimited(LOG_LEVEL_WARN, "display: unexpected message %u", msg->type);
        return 0;
    }
}

static void display_on_close(struct channel_client *cc)
{
    struct display_client *dc = (struct display_client *)cc;
    struct worker *w = dc->worker;
    for (struct display_client **p = &w->displays; *p; p = &(*p)->next) {
        if (*p == dc) {
            *p = dc->next;
            break;
        }
    }
    server_post_channel_event(w->server, SPICE_CHANNEL_EVENT_DISCONNECTED, &cc->event_info);
    channel_client_finish(cc);
    free(dc);
    worker_update_client_caps(w);
}

static const struct channel_client_ops display_ops = {
        .handle_message = display_handle_message,
        .on_close = display_on_close,
};

void display_client_create(struct worker *w, struct stream *stream, const struct link_mess *link,
                           bool mini_header)
{
    struct display_client *dc = calloc(1, sizeof(*dc));
    if (!dc) {
        stream_destroy(stream);
        return;
    }
    channel_client_init(&dc->base, &display_ops, w->loop, stream, link, mini_header);
    dc->worker = w;
    if (channel_client_start(&dc->base) < 0) {
        channel_client_finish(&dc->base);
        free(dc);
        return;
    }
    channel_event_info_fill(&dc->base.event_info, stream->fd, link->connection_id,
                            SPICE_CHANNEL_DISPLAY, link->channel_id);
    server_post_channel_event(w->server, SPICE_CHANNEL_EVENT_INITIALIZED, &dc->base.event_info);
    dc->next = w->displays;
    w->displays = dc;
    worker_update_client_caps(w);

    channel_client_enable_acks(&dc->base, CHANNEL_ACK_WINDOW);
    display_send_simple(dc, SPICE_MSG_DISPLAY_INVAL_ALL_PALETTES);
    display_send_all_surfaces(dc, w);
    /* Write what was queued, or finish a close that happened meanwhile. */
    channel_client_kick(&dc->base);
}

static void display_close_matching(struct worker *w, bool all, uint32_t session_id)
{
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        if (all || dc->base.connection_id == session_id) {
            channel_client_close(&dc->base);
        }
    }
}

void display_clients_close_session(struct worker *w, uint32_t session_id)
{
    display_close_matching(w, false, session_id);
}

void display_clients_close_all(struct worker *w)
{
    display_close_matching(w, true, 0);
}
