/*
 * The cursor channel clients of one worker, and the cursor state they are
 * kept in step with: the current shape, position, visibility and trail.
 *
 * A client that connects gets CURSOR_INIT with the whole state; afterwards
 * each cursor command from the device's cursor ring is forwarded.
 *
 * Cursor cache: each client has a mirror (display/pixmap_cache.h) of its
 * 256-shape cursor cache, which it empties on CURSOR_INIT and RESET. A
 * shape the guest gave a unique id (0 means "do not cache") is keyed by a
 * hash of the shape itself, and that key is also the id the client knows
 * it by: a guest reusing a unique for another shape cannot show the wrong
 * cursor. The first CURSOR_SET of a shape goes with CACHE_ME, repeats as
 * FROM_CACHE with the header only; the least recently used shape is
 * dropped with INVAL_ONE, queued before the SET that replaces it. A reset
 * of the device's cursor (spice_qxl_reset_cursor) sends INVAL_ALL and
 * RESET and empties every mirror. The SET message therefore depends on
 * the client; its at most three forms (FROM_CACHE, CACHE_ME, plain) are
 * each built once and shared.
 *
 * Thread: the worker's.
 */
#include <stdlib.h>

#include "common/log.h"
#include "display/pixmap_cache.h"
#include "proto/server_msg.h"
#include "server/server.h"
#include "server/worker_priv.h"

struct cursor_client {
    struct channel_client base; /* first */
    struct worker *worker;
    struct cursor_client *next;
    struct pixmap_cache cache; /* the client's cursor cache */
};

/* Seeds the shape hash, so cursor keys and image keys differ. */
#define CURSOR_KEY_SEED 0x637572736f72ull

/* The cache key (and wire unique) of the current shape; 0: not cached. */
static uint64_t cursor_key(const struct qxl_cursor_shape *s)
{
    if (!s || s->unique == 0) {
        return 0;
    }
    uint8_t head[10];
    put_u16le(head, s->type);
    put_u16le(head + 2, s->width);
    put_u16le(head + 4, s->height);
    put_u16le(head + 6, s->hot_spot_x);
    put_u16le(head + 8, s->hot_spot_y);
    uint64_t seed = pixmap_cache_hash_bytes(head, sizeof(head), CURSOR_KEY_SEED);
    return pixmap_cache_hash_bytes(s->data, s->data_size, seed);
}

static void cursor_on_evict(void *opaque, uint64_t wire_id)
{
    struct cursor_client *cc = opaque;
    struct byte_buf b;
    buf_init(&b);
    server_msg_cursor_inval_one(&b, wire_id);
    if (!buf_ok(&b) ||
        channel_client_send(&cc->base, SPICE_MSG_CURSOR_INVAL_ONE, b.data, b.len) < 0) {
        /* The client would keep the shape; harmless, but we are failing. */
        channel_client_close(&cc->base);
    }
    buf_finish(&b);
}

enum cursor_form { CURSOR_FORM_PLAIN, CURSOR_FORM_CACHE_ME, CURSOR_FORM_FROM_CACHE };

/* How this client gets the shape with `key`; updates its mirror (and
 * queues INVAL_ONE for what that evicts). */
static enum cursor_form cursor_client_form(struct cursor_client *cc, uint64_t key)
{
    if (key == 0) {
        return CURSOR_FORM_PLAIN;
    }
    pixmap_cache_begin(&cc->cache);
    if (pixmap_cache_lookup(&cc->cache, key)) {
        return CURSOR_FORM_FROM_CACHE;
    }
    return pixmap_cache_add(&cc->cache, key, key, 1, 0) == 0 ? CURSOR_FORM_CACHE_ME
                                                             : CURSOR_FORM_PLAIN;
}

static struct wire_cursor cursor_wire(const struct worker *w, enum cursor_form form, uint64_t key)
{
    struct wire_cursor c = {.flags = SPICE_CURSOR_FLAGS_NONE};
    const struct qxl_cursor_shape *s = w->cursor_shape;
    if (s) {
        c.flags = 0;
        c.unique = key ? key : s->unique;
        c.type = (uint8_t)s->type;
        c.width = s->width;
        c.height = s->height;
        c.hot_spot_x = s->hot_spot_x;
        c.hot_spot_y = s->hot_spot_y;
        c.data = s->data;
        c.data_size = s->data_size;
        if (form == CURSOR_FORM_CACHE_ME) {
            c.flags = SPICE_CURSOR_FLAGS_CACHE_ME;
        } else if (form == CURSOR_FORM_FROM_CACHE) {
            c.flags = SPICE_CURSOR_FLAGS_FROM_CACHE;
            c.data = NULL;
            c.data_size = 0;
        }
    }
    return c;
}

static struct wire_point cursor_position(const struct worker *w)
{
    return (struct wire_point){w->cursor_position.x, w->cursor_position.y};
}

static void cursor_broadcast(struct worker *w, uint16_t type, struct byte_buf *b)
{
    if (!buf_ok(b)) {
        return;
    }
    struct shared_msg *m = shared_msg_create(type, b->data, b->len);
    if (!m) {
        return;
    }
    for (struct cursor_client *cc = w->cursors, *next; cc; cc = next) {
        next = cc->next;
        channel_client_send_shared(&cc->base, m);
    }
    shared_msg_unref(m);
}

/* CURSOR_SET of the current shape, in the form each client's cache asks for. */
static void cursor_broadcast_set(struct worker *w)
{
    uint64_t key = cursor_key(w->cursor_shape);
    struct shared_msg *forms[3] = {NULL, NULL, NULL};
    for (struct cursor_client *cc = w->cursors, *next; cc; cc = next) {
        next = cc->next;
        cc->base.busy++; /* evictions may queue INVAL_ONE or close it */
        enum cursor_form form = cursor_client_form(cc, key);
        if (!forms[form]) {
            struct byte_buf b;
            buf_init(&b);
            struct wire_cursor c = cursor_wire(w, form, key);
            server_msg_cursor_set(&b, cursor_position(w), w->cursor_visible, &c);
            forms[form] =
                    buf_ok(&b) ? shared_msg_create(SPICE_MSG_CURSOR_SET, b.data, b.len) : NULL;
            buf_finish(&b);
        }
        if (!forms[form] || channel_client_send_shared(&cc->base, forms[form]) < 0) {
            /* Its mirror may count a shape it did not get. */
            channel_client_close(&cc->base);
        }
        channel_client_kick(&cc->base); /* may free cc */
    }
    for (int i = 0; i < 3; i++) {
        shared_msg_unref(forms[i]);
    }
}

void cursor_process_command(struct worker *w, struct qxl_cursor_cmd *cmd)
{
    struct byte_buf b;
    buf_init(&b);
    switch (cmd->type) {
    case QXL_CURSOR_SET: {
        if (w->cursor_shape) {
            free(w->cursor_shape->data);
            free(w->cursor_shape);
        }
        w->cursor_shape = cmd->shape; /* takes it */
        cmd->shape = NULL;
        w->cursor_position = cmd->position;
        w->cursor_visible = cmd->visible != 0;
        cursor_broadcast_set(w);
        break;
    }
    case QXL_CURSOR_MOVE:
        w->cursor_position = cmd->position;
        w->cursor_visible = true;
        server_msg_cursor_move(&b, cursor_position(w));
        cursor_broadcast(w, SPICE_MSG_CURSOR_MOVE, &b);
        break;
    case QXL_CURSOR_HIDE:
        w->cursor_visible = false;
        server_msg_cursor_hide(&b);
        cursor_broadcast(w, SPICE_MSG_CURSOR_HIDE, &b);
        break;
    case QXL_CURSOR_TRAIL:
        w->trail_length = cmd->trail_length;
        w->trail_frequency = cmd->trail_frequency;
        server_msg_cursor_trail(&b, w->trail_length, w->trail_frequency);
        cursor_broadcast(w, SPICE_MSG_CURSOR_TRAIL, &b);
        break;
    default:
        log_ratelimited(LOG_LEVEL_WARN, "qxl %d: unknown cursor command %u", w->id, cmd->type);
        break;
    }
    buf_finish(&b);
}

void cursor_reset(struct worker *w)
{
    if (w->cursor_shape) {
        free(w->cursor_shape->data);
        free(w->cursor_shape);
        w->cursor_shape = NULL;
    }
    w->cursor_visible = false;
    for (struct cursor_client *cc = w->cursors; cc; cc = cc->next) {
        pixmap_cache_clear(&cc->cache);
    }
    struct byte_buf b;
    buf_init(&b);
    server_msg_cursor_inval_all(&b);
    cursor_broadcast(w, SPICE_MSG_CURSOR_INVAL_ALL, &b);
    buf_finish(&b);
    buf_init(&b);
    server_msg_cursor_reset(&b);
    cursor_broadcast(w, SPICE_MSG_CURSOR_RESET, &b);
    buf_finish(&b);
}

static int cursor_handle_message(struct channel_client *cc, const struct client_msg *msg)
{
    log_ratelimited(LOG_LEVEL_WARN, "cursor: unexpected message %u", msg->type);
    return 0;
}

static void cursor_on_close(struct channel_client *base)
{
    struct cursor_client *cc = (struct cursor_client *)base;
    struct worker *w = cc->worker;
    for (struct cursor_client **p = &w->cursors; *p; p = &(*p)->next) {
        if (*p == cc) {
            *p = cc->next;
            break;
        }
    }
    server_post_channel_event(w->server, SPICE_CHANNEL_EVENT_DISCONNECTED, &base->event_info);
    pixmap_cache_finish(&cc->cache);
    channel_client_finish(base);
    free(cc);
}

static const struct channel_client_ops cursor_ops = {
        .handle_message = cursor_handle_message,
        .on_close = cursor_on_close,
};

void cursor_client_create(struct worker *w, struct stream *stream, const struct link_mess *link,
                          bool mini_header)
{
    struct cursor_client *cc = calloc(1, sizeof(*cc));
    if (!cc) {
        stream_destroy(stream);
        return;
    }
    channel_client_init(&cc->base, &cursor_ops, w->loop, stream, link, mini_header);
    cc->worker = w;
    pixmap_cache_init(&cc->cache, PIXMAP_CACHE_CURSOR_ITEMS, PIXMAP_CACHE_CURSOR_ITEMS,
                      cursor_on_evict, cc);
    if (channel_client_start(&cc->base) < 0) {
        pixmap_cache_finish(&cc->cache);
        channel_client_finish(&cc->base);
        free(cc);
        return;
    }
    channel_client_fill_event_info(&cc->base, link->connection_id, SPICE_CHANNEL_CURSOR,
                                   link->channel_id);
    server_post_channel_event(w->server, SPICE_CHANNEL_EVENT_INITIALIZED, &cc->base.event_info);
    cc->next = w->cursors;
    w->cursors = cc;

    channel_client_enable_acks(&cc->base, CHANNEL_ACK_WINDOW);
    struct byte_buf b;
    buf_init(&b);
    /* The client empties its cache on INIT; the shape in it may be the first entry. */
    uint64_t key = cursor_key(w->cursor_shape);
    struct wire_cursor c = cursor_wire(w, cursor_client_form(cc, key), key);
    server_msg_cursor_init(&b, cursor_position(w), w->trail_length, w->trail_frequency,
                           w->cursor_visible, &c);
    if (!buf_ok(&b) || channel_client_send(&cc->base, SPICE_MSG_CURSOR_INIT, b.data, b.len) < 0) {
        channel_client_close(&cc->base); /* its mirror may count the shape */
    }
    buf_finish(&b);
    channel_client_kick(&cc->base);
}

static void cursor_close_matching(struct worker *w, bool all, uint32_t session_id)
{
    for (struct cursor_client *cc = w->cursors, *next; cc; cc = next) {
        next = cc->next;
        if (all || cc->base.connection_id == session_id) {
            channel_client_close(&cc->base);
        }
    }
}

void cursor_clients_close_session(struct worker *w, uint32_t session_id)
{
    cursor_close_matching(w, false, session_id);
}

void cursor_clients_close_all(struct worker *w)
{
    cursor_close_matching(w, true, 0);
}
