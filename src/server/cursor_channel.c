/*
 * The cursor channel clients of one worker, and the cursor state they are
 * kept in step with: the current shape, position, visibility and trail.
 *
 * A client that connects gets CURSOR_INIT with the whole state; afterwards
 * each cursor command from the device's cursor ring is forwarded.
 *
 * Thread: the worker's.
 */
#include <stdlib.h>

#include "common/log.h"
#include "proto/server_msg.h"
#include "server/server.h"
#include "server/worker_priv.h"

struct cursor_client {
    struct channel_client base; /* first */
    struct worker *worker;
    struct cursor_client *next;
};

static struct wire_cursor cursor_wire(const struct worker *w)
{
    struct wire_cursor c = {.flags = SPICE_CURSOR_FLAGS_NONE};
    const struct qxl_cursor_shape *s = w->cursor_shape;
    if (s) {
        c.flags = 0;
        c.unique = s->unique;
        c.type = (uint8_t)s->type;
        c.width = s->width;
        c.height = s->height;
        c.hot_spot_x = s->hot_spot_x;
        c.hot_spot_y = s->hot_spot_y;
        c.data = s->data;
        c.data_size = s->data_size;
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
        struct wire_cursor c = cursor_wire(w);
        server_msg_cursor_set(&b, cursor_position(w), w->cursor_visible, &c);
        cursor_broadcast(w, SPICE_MSG_CURSOR_SET, &b);
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
    struct byte_buf b;
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
    if (channel_client_start(&cc->base) < 0) {
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
    struct wire_cursor c = cursor_wire(w);
    server_msg_cursor_init(&b, cursor_position(w), w->trail_length, w->trail_frequency,
                           w->cursor_visible, &c);
    if (buf_ok(&b)) {
        channel_client_send(&cc->base, SPICE_MSG_CURSOR_INIT, b.data, b.len);
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
