/*
 * The display channel clients of one worker: connect and close, the
 * client's messages, the surfaces, monitors config and marks they get.
 *
 * A client that connects gets every surface (SURFACE_CREATE, then its whole
 * content as one image from the server's rendered copy; offscreen surfaces
 * first, the primary last, followed by the monitors config and a MARK that
 * says "the screen is complete"). After that every draw command goes into
 * its queue as a draw item (server/draw_tree.h), unencoded, and is built
 * only as it is written (display_draw.c). Write bursts to a client start
 * DISPLAY_PACE_MS apart, so that draws arriving together meet in its queue.
 * A client that falls behind gets refreshed areas instead of commands
 * (display_dirty.c).
 *
 * Images are encoded per client (display_image.c): its capabilities, its
 * GLZ dictionary, its preferred compression and its pixmap and palette
 * cache mirrors, which DISPLAY_INIT sizes and which start empty: a new
 * channel gets INVAL_ALL_PALETTES at connect, as its palette mirror is
 * empty, and its pixmap ids are new.
 *
 * The other files of the channel share display_priv.h; the worker calls
 * the functions declared in worker_priv.h.
 *
 * Thread: the worker's.
 */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "display/image_encoder.h"
#include "display/palette_cache.h"
#include "display/pixmap_cache.h"
#include "proto/server_msg.h"
#include "server/display_priv.h"
#include "server/draw_tree.h"
#include "server/server.h"
#include "server/worker_priv.h"

/* Least time between two write bursts to a display client (ms): draws
 * arriving meanwhile queue up, where hidden ones drop and consecutive ones
 * merge. Interactive updates that come further apart go out at once.
 * CLOVE_DISPLAY_PACE_MS overrides it (0: no pacing). */
#define DISPLAY_PACE_MS 10

static uint32_t display_pace_ms(void)
{
    const char *env = getenv("CLOVE_DISPLAY_PACE_MS");
    if (env && *env) {
        unsigned long n = strtoul(env, NULL, 10);
        return n > 1000 ? 1000 : (uint32_t)n;
    }
    return DISPLAY_PACE_MS;
}

/* Whether partly hidden copies are re-cut and consecutive draws merged
 * (CLOVE_DISPLAY_COMPOSE=0 turns it off, for tests of the plain path). */
static bool display_compose_enabled(void)
{
    const char *env = getenv("CLOVE_DISPLAY_COMPOSE");
    return !(env && strcmp(env, "0") == 0);
}

/* ---- helpers ---- */

void display_send_to(struct display_client *dc, struct shared_msg *m)
{
    if (m && !dc->base.closing) {
        channel_client_send_shared(&dc->base, m);
    }
}

void display_send_simple(struct display_client *dc, uint16_t type)
{
    if (!dc->base.closing) {
        channel_client_send(&dc->base, type, NULL, 0);
    }
}

/* Sends m to every client; a client may close (and unlink) while we do. */
static void display_broadcast(struct worker *w, struct shared_msg *m)
{
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        display_send_to(dc, m);
    }
}

struct shared_msg *display_msg_from_buf(uint16_t type, struct byte_buf *b)
{
    struct shared_msg *m = shared_msg_from_buf(type, b);
    if (!m) {
        log_ratelimited(LOG_LEVEL_ERROR, "display: out of memory building message %u", type);
    }
    return m;
}

struct image_encoder_settings display_settings(const struct worker *w)
{
    const struct RedsState *s = w->server;
    int zlib_glz = __atomic_load_n(&s->zlib_glz_compression, __ATOMIC_RELAXED);
    return (struct image_encoder_settings){
            .compression = (int)__atomic_load_n(&s->image_compression, __ATOMIC_RELAXED),
            .jpeg = __atomic_load_n(&s->jpeg_compression, __ATOMIC_RELAXED),
            /* Lossless and cheap next to GLZ itself, and only kept when it
             * is smaller: "auto" deflates GLZ images of 100 bytes and more. */
            .zlib_glz = zlib_glz == IMAGE_ENCODER_WAN_AUTO ? IMAGE_ENCODER_WAN_ALWAYS : zlib_glz,
    };
}

/* ---- surfaces ---- */

static struct shared_msg *display_surface_create_msg(struct worker *w, uint32_t id)
{
    struct worker_surface *p = &w->surfaces[id];
    struct byte_buf b;
    buf_init(&b);
    server_msg_display_surface_create(&b, id, p->width, p->height, p->format,
                                      id == 0 ? SPICE_SURFACE_FLAGS_PRIMARY : 0);
    struct shared_msg *m = display_msg_from_buf(SPICE_MSG_DISPLAY_SURFACE_CREATE, &b);
    buf_finish(&b);
    return m;
}

static struct shared_msg *display_full_image_msg(struct display_client *dc, uint32_t id,
                                                 const struct image_encoder_settings *s)
{
    struct worker_surface *p = &dc->worker->surfaces[id];
    struct qxl_rect all = {0, 0, (int32_t)p->height, (int32_t)p->width};
    return display_area_image_msg(dc, id, &all, s);
}

static struct shared_msg *display_monitors_config_msg(struct worker *w)
{
    struct wire_head heads[WORKER_MAX_HEADS];
    for (uint16_t i = 0; i < w->num_heads; i++) {
        heads[i] = (struct wire_head){w->heads[i].id,     w->heads[i].surface_id, w->heads[i].width,
                                      w->heads[i].height, w->heads[i].x,          w->heads[i].y,
                                      w->heads[i].flags};
    }
    struct byte_buf b;
    buf_init(&b);
    uint16_t max_allowed = w->max_monitors > w->num_heads ? w->max_monitors : w->num_heads;
    server_msg_display_monitors_config(&b, heads, w->num_heads, max_allowed);
    struct shared_msg *m = display_msg_from_buf(SPICE_MSG_DISPLAY_MONITORS_CONFIG, &b);
    buf_finish(&b);
    return m;
}

static void display_send_monitors_and_mark(struct display_client *dc, struct shared_msg *monitors)
{
    if (channel_client_has_cap(&dc->base, SPICE_DISPLAY_CAP_MONITORS_CONFIG)) {
        display_send_to(dc, monitors);
    }
    display_send_simple(dc, SPICE_MSG_DISPLAY_MARK);
}

/* Sends one surface to one client: create, then its content if asked. */
static void display_send_surface(struct display_client *dc, uint32_t id, bool with_image,
                                 struct shared_msg *create, const struct image_encoder_settings *s)
{
    display_send_to(dc, create);
    if (with_image && !dc->base.closing) {
        struct shared_msg *image = display_full_image_msg(dc, id, s);
        display_send_to(dc, image);
        shared_msg_unref(image);
    }
}

void display_broadcast_surface_create(struct worker *w, uint32_t id, bool with_image)
{
    if (!w->displays || id >= w->n_surfaces || !w->surfaces[id].created) {
        return;
    }
    struct image_encoder_settings s = display_settings(w);
    struct shared_msg *create = display_surface_create_msg(w, id);
    struct shared_msg *monitors = id == 0 ? display_monitors_config_msg(w) : NULL;
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        dc->base.busy++; /* a failed send closes it: keep it until the kick */
        display_send_surface(dc, id, with_image, create, &s);
        if (id == 0 && !dc->base.closing) {
            display_send_monitors_and_mark(dc, monitors);
        }
        channel_client_kick(&dc->base); /* may free dc */
    }
    shared_msg_unref(create);
    shared_msg_unref(monitors);
}

/* Brings a new client up to date: every offscreen surface, then the primary. */
static void display_send_all_surfaces(struct display_client *dc)
{
    struct worker *w = dc->worker;
    struct image_encoder_settings s = display_settings(w);
    for (uint32_t n = 1; n <= w->n_surfaces && !dc->base.closing; n++) {
        uint32_t id = n % w->n_surfaces; /* 1, 2, ..., n-1, then 0 */
        if (!w->surfaces[id].created) {
            continue;
        }
        struct shared_msg *create = display_surface_create_msg(w, id);
        display_send_surface(dc, id, true, create, &s);
        shared_msg_unref(create);
        if (id == 0 && !dc->base.closing) {
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
    for (struct display_client *dc = w->displays; dc; dc = dc->next) {
        display_dirty_drop(dc, surface_id);
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

static void display_on_send_ready(struct channel_client *cc)
{
    struct display_client *dc = (struct display_client *)cc;
    if (dc->degraded) {
        log_debug("display: client %u caught up; refreshing %u surfaces", cc->connection_id,
                  dc->num_dirty);
        display_refresh_dirty(dc);
    }
}

void display_clients_fall_back(struct worker *w)
{
    for (struct display_client *dc = w->displays; dc; dc = dc->next) {
        for (uint32_t id = 0; id < w->n_surfaces; id++) {
            display_fall_back(dc, id);
        }
    }
}

void display_clients_hold(struct worker *w)
{
    for (struct display_client *dc = w->displays; dc; dc = dc->next) {
        if (!dc->batch_held) {
            dc->batch_held = true;
            dc->base.busy++;
        }
    }
}

void display_clients_kick(struct worker *w)
{
    for (struct display_client *dc = w->displays, *next; dc; dc = next) {
        next = dc->next;
        if (dc->batch_held) {
            dc->batch_held = false;
            channel_client_kick(&dc->base); /* may free dc */
        }
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

/* ---- the channel ---- */

static int display_handle_message(struct channel_client *cc, const struct client_msg *msg)
{
    struct display_client *dc = (struct display_client *)cc;
    switch (msg->type) {
    case SPICE_MSGC_DISPLAY_INIT: {
        dc->got_init = true;
        dc->pixmap_cache_size = msg->u.display_init.pixmap_cache_size;
        /* pixmap_cache_id is not used: all of a client's display channels
         * share its one cache (spice-gtk), and our ids never collide. */
        pixmap_cache_set_capacity(&dc->pixmaps,
                                  dc->pixmap_cache_size > 0 ? (uint64_t)dc->pixmap_cache_size : 0);
        display_flush_evicted(dc);
        int32_t window = msg->u.display_init.glz_dictionary_window_size;
        uint32_t pixels = window > 0 ? (uint32_t)window : 0;
        if (pixels != dc->encoder.glz_window_pixels) {
            /* A new window means a new dictionary on both sides. */
            struct image_encoder_client old = dc->encoder;
            image_encoder_client_finish(&dc->encoder);
            image_encoder_client_init(&dc->encoder, old.lz4_cap, pixels);
            dc->encoder.preferred = old.preferred;
            dc->encoder.images = old.images;
            dc->encoder.raw_bytes = old.raw_bytes;
            dc->encoder.sent_bytes = old.sent_bytes;
        }
        return 0;
    }
    case SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION: {
        int pref = msg->u.preferred_compression.image_compression;
        if (pref > SPICE_IMAGE_COMPRESSION_INVALID && pref < SPICE_IMAGE_COMPRESSION_ENUM_END) {
            dc->encoder.preferred = pref;
        } else {
            log_ratelimited(LOG_LEVEL_WARN, "display: unknown preferred compression %d", pref);
        }
        return 0;
    }
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
    if (dc->encoder.images > 0 || dc->pixmaps.hits > 0) {
        log_info("display: client %u: %llu images, %llu raw bytes sent as %llu; %llu bytes in "
                 "%llu messages on the wire; %llu hidden draws dropped; %llu refreshed areas; "
                 "pixmap cache: %llu hits saving %llu bytes, %llu added, %llu evicted; "
                 "palette cache: %llu hits, %llu added, %llu evicted",
                 cc->connection_id, (unsigned long long)dc->encoder.images,
                 (unsigned long long)dc->encoder.raw_bytes,
                 (unsigned long long)dc->encoder.sent_bytes, (unsigned long long)cc->bytes_sent,
                 (unsigned long long)cc->messages_sent, (unsigned long long)cc->messages_dropped,
                 (unsigned long long)dc->refreshes, (unsigned long long)dc->pixmaps.hits,
                 (unsigned long long)dc->pixmaps.saved_bytes, (unsigned long long)dc->pixmaps.adds,
                 (unsigned long long)dc->pixmaps.evictions, (unsigned long long)dc->palettes.hits,
                 (unsigned long long)dc->palettes.adds, (unsigned long long)dc->palettes.evictions);
    }
    server_post_channel_event(w->server, SPICE_CHANNEL_EVENT_DISCONNECTED, &cc->event_info);
    image_encoder_client_finish(&dc->encoder);
    pixmap_cache_finish(&dc->pixmaps);
    free(dc->evicted);
    display_dirty_clear(dc);
    free(dc->dirty);
    channel_client_finish(cc);
    free(dc);
    worker_update_client_caps(w);
}

static const struct channel_client_ops display_ops = {
        .handle_message = display_handle_message,
        .on_send_ready = display_on_send_ready,
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
    /* Empty until DISPLAY_INIT tells the size. */
    pixmap_cache_init(&dc->pixmaps, 0, 0, display_on_evict, dc);
    /* Empty, as INVAL_ALL_PALETTES below makes the client's. */
    palette_cache_init(&dc->palettes);
    image_encoder_client_init(
            &dc->encoder, channel_client_has_cap(&dc->base, SPICE_DISPLAY_CAP_LZ4_COMPRESSION), 0);
    if (channel_client_start(&dc->base) < 0) {
        image_encoder_client_finish(&dc->encoder);
        channel_client_finish(&dc->base);
        free(dc);
        return;
    }
    channel_client_fill_event_info(&dc->base, link->connection_id, SPICE_CHANNEL_DISPLAY,
                                   link->channel_id);
    server_post_channel_event(w->server, SPICE_CHANNEL_EVENT_INITIALIZED, &dc->base.event_info);
    dc->next = w->displays;
    w->displays = dc;
    worker_update_client_caps(w);

    channel_client_enable_acks(&dc->base, CHANNEL_ACK_WINDOW);
    channel_client_set_pace(&dc->base, display_pace_ms());
    dc->compose = display_compose_enabled();
    display_send_simple(dc, SPICE_MSG_DISPLAY_INVAL_ALL_PALETTES);
    display_send_all_surfaces(dc);
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
