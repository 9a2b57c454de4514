/*
 * The main channel: session setup (INIT, NAME, UUID), the list of channels
 * a client may open, mouse-mode changes, and a ping that measures latency.
 *
 * Agent traffic (AGENT_START, AGENT_DATA, AGENT_TOKEN) is handed to
 * char_device.c, which owns the vdagent and its flow control; this file only
 * frames the messages. INIT tells the client whether an agent is attached
 * and grants it CHAR_DEVICE_AGENT_TOKENS tokens.
 *
 * Thread: main.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "proto/server_msg.h"
#include "server/channel.h"
#include "server/char_device.h"
#include "server/server.h"

#define MAIN_PING_INTERVAL_MS (60 * 1000)

struct main_channel_client {
    struct channel_client base; /* first */
    struct session *session;    /* NULL once the session let go of us */
};

static struct main_channel_client *mcc_from_cc(struct channel_client *cc)
{
    return (struct main_channel_client *)cc;
}

static void main_send_buf(struct main_channel_client *mcc, uint16_t type, struct byte_buf *b)
{
    if (buf_ok(b)) {
        channel_client_send(&mcc->base, type, b->data, b->len);
    }
    buf_reset(b);
}

static void main_send_channels_list(struct main_channel_client *mcc)
{
    struct RedsState *s = mcc->session->server;
    struct wire_channel_id ids[2 + 2 * SERVER_MAX_WORKERS];
    uint32_t n = 0;
    for (int i = 0; i < s->num_workers; i++) {
        ids[n++] = (struct wire_channel_id){SPICE_CHANNEL_DISPLAY, server_worker_channel_id(s, i)};
    }
    ids[n++] = (struct wire_channel_id){SPICE_CHANNEL_INPUTS, 0};
    for (int i = 0; i < s->num_workers; i++) {
        ids[n++] = (struct wire_channel_id){SPICE_CHANNEL_CURSOR, server_worker_channel_id(s, i)};
    }
    struct byte_buf b;
    buf_init(&b);
    server_msg_main_channels_list(&b, ids, n);
    main_send_buf(mcc, SPICE_MSG_MAIN_CHANNELS_LIST, &b);
    buf_finish(&b);
}

void main_channel_client_send_mouse_mode(struct main_channel_client *mcc)
{
    struct RedsState *s = mcc->session->server;
    struct byte_buf b;
    buf_init(&b);
    server_msg_main_mouse_mode(&b, (uint16_t)server_supported_mouse_modes(s),
                               (uint16_t)s->mouse_mode);
    main_send_buf(mcc, SPICE_MSG_MAIN_MOUSE_MODE, &b);
    buf_finish(&b);
}

static int main_handle_message(struct channel_client *cc, const struct client_msg *msg)
{
    struct main_channel_client *mcc = mcc_from_cc(cc);
    if (!mcc->session) {
        return 0;
    }
    struct RedsState *s = mcc->session->server;
    switch (msg->type) {
    case SPICE_MSGC_MAIN_ATTACH_CHANNELS:
        main_send_channels_list(mcc);
        return 0;
    case SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST: {
        uint16_t mode = msg->u.mouse_mode_request.mode;
        if (mode != SPICE_MOUSE_MODE_SERVER && mode != SPICE_MOUSE_MODE_CLIENT) {
            log_ratelimited(LOG_LEVEL_WARN, "client %u: unknown mouse mode %u", cc->connection_id,
                            mode);
            return 0;
        }
        if (!(server_supported_mouse_modes(s) & mode)) {
            log_ratelimited(LOG_LEVEL_INFO, "client %u: mouse mode %u is not available",
                            mcc->session->id, mode);
            main_channel_client_send_mouse_mode(mcc);
            return 0;
        }
        server_set_mouse_mode(s, mode);
        return 0;
    }
    case SPICE_MSGC_MAIN_CLIENT_INFO:
        mcc->session->client_cache_size = msg->u.client_info.cache_size;
        return 0;
    case SPICE_MSGC_MAIN_AGENT_START:
        char_device_agent_start(s, mcc->session, msg->u.agent_start.num_tokens);
        return 0;
    case SPICE_MSGC_MAIN_AGENT_DATA:
        return char_device_agent_data(s, mcc->session, msg->u.agent_data.data,
                                      msg->u.agent_data.size);
    case SPICE_MSGC_MAIN_AGENT_TOKEN:
        char_device_agent_tokens(s, mcc->session, msg->u.agent_token.num_tokens);
        return 0;
    case SPICE_MSGC_MAIN_MIGRATE_CONNECTED:
    case SPICE_MSGC_MAIN_MIGRATE_CONNECT_ERROR:
    case SPICE_MSGC_MAIN_MIGRATE_END:
    case SPICE_MSGC_MAIN_MIGRATE_DST_DO_SEAMLESS:
    case SPICE_MSGC_MAIN_MIGRATE_CONNECTED_SEAMLESS:
    case SPICE_MSGC_MAIN_QUALITY_INDICATOR:
        return 0;
    default:
        log_ratelimited(LOG_LEVEL_WARN, "client %u: unexpected main message %u", mcc->session->id,
                        msg->type);
        return 0;
    }
}

static void main_on_close(struct channel_client *cc)
{
    struct main_channel_client *mcc = mcc_from_cc(cc);
    struct session *session = mcc->session;
    SpiceChannelEventInfo info = cc->event_info;
    struct RedsState *s = session ? session->server : NULL;
    channel_client_finish(cc);
    free(mcc);
    if (session) {
        server_channel_event(s, SPICE_CHANNEL_EVENT_DISCONNECTED, &info);
        server_session_closed(s, session);
    }
}

static const struct channel_client_ops main_ops = {
        .handle_message = main_handle_message,
        .on_close = main_on_close,
};

struct main_channel_client *main_channel_client_create(struct session *session,
                                                       struct stream *stream,
                                                       const struct link_mess *link,
                                                       bool mini_header)
{
    struct RedsState *s = session->server;
    struct main_channel_client *mcc = calloc(1, sizeof(*mcc));
    if (!mcc) {
        stream_destroy(stream);
        return NULL;
    }
    channel_client_init(&mcc->base, &main_ops, s->loop, stream, link, mini_header);
    mcc->base.connection_id = session->id;
    mcc->session = session;
    if (channel_client_start(&mcc->base) < 0) {
        channel_client_finish(&mcc->base);
        free(mcc);
        return NULL;
    }
    channel_client_fill_event_info(&mcc->base, session->id, SPICE_CHANNEL_MAIN, 0);
    server_channel_event(s, SPICE_CHANNEL_EVENT_INITIALIZED, &mcc->base.event_info);

    struct byte_buf b;
    buf_init(&b);
    struct wire_main_init init = {
            .session_id = session->id,
            .display_channels_hint = (uint32_t)s->num_workers,
            .supported_mouse_modes = server_supported_mouse_modes(s),
            .current_mouse_mode = s->mouse_mode,
            .agent_connected = char_device_agent_attached(s) ? 1 : 0,
            .agent_tokens = CHAR_DEVICE_AGENT_TOKENS,
            .multi_media_time = server_mm_time(s),
            .ram_hint = 0,
    };
    server_msg_main_init(&b, &init);
    main_send_buf(mcc, SPICE_MSG_MAIN_INIT, &b);
    if (channel_client_has_cap(&mcc->base, SPICE_MAIN_CAP_NAME_AND_UUID)) {
        if (s->name) {
            server_msg_main_name(&b, s->name);
            main_send_buf(mcc, SPICE_MSG_MAIN_NAME, &b);
        }
        if (s->uuid_set) {
            server_msg_main_uuid(&b, s->uuid);
            main_send_buf(mcc, SPICE_MSG_MAIN_UUID, &b);
        }
    }
    buf_finish(&b);
    channel_client_start_ping(&mcc->base, MAIN_PING_INTERVAL_MS);
    char_device_session_opened(s, session);
    return mcc;
}

void main_channel_client_destroy(struct main_channel_client *mcc)
{
    if (!mcc) {
        return;
    }
    struct session *session = mcc->session;
    mcc->session = NULL;
    if (session) {
        server_channel_event(session->server, SPICE_CHANNEL_EVENT_DISCONNECTED,
                             &mcc->base.event_info);
    }
    channel_client_close(&mcc->base);
}

void main_channel_client_kick(struct main_channel_client *mcc)
{
    channel_client_kick(&mcc->base);
}

int main_channel_client_fd(const struct main_channel_client *mcc)
{
    return mcc && mcc->base.stream ? mcc->base.stream->fd : -1;
}

void main_channel_client_send_agent_connected(struct main_channel_client *mcc)
{
    if (channel_client_has_cap(&mcc->base, SPICE_MAIN_CAP_AGENT_CONNECTED_TOKENS)) {
        struct byte_buf b;
        buf_init(&b);
        server_msg_main_agent_connected_tokens(&b, CHAR_DEVICE_AGENT_TOKENS);
        main_send_buf(mcc, SPICE_MSG_MAIN_AGENT_CONNECTED_TOKENS, &b);
        buf_finish(&b);
    } else {
        channel_client_send(&mcc->base, SPICE_MSG_MAIN_AGENT_CONNECTED, NULL, 0);
    }
}

void main_channel_client_send_agent_disconnected(struct main_channel_client *mcc)
{
    struct byte_buf b;
    buf_init(&b);
    server_msg_main_agent_disconnected(&b, SPICE_LINK_ERR_OK);
    main_send_buf(mcc, SPICE_MSG_MAIN_AGENT_DISCONNECTED, &b);
    buf_finish(&b);
}

void main_channel_client_send_agent_data(struct main_channel_client *mcc, const uint8_t *data,
                                         size_t len)
{
    channel_client_send(&mcc->base, SPICE_MSG_MAIN_AGENT_DATA, data, len);
}

void main_channel_client_send_agent_token(struct main_channel_client *mcc, uint32_t tokens)
{
    struct byte_buf b;
    buf_init(&b);
    server_msg_main_agent_token(&b, tokens);
    main_send_buf(mcc, SPICE_MSG_MAIN_AGENT_TOKEN, &b);
    buf_finish(&b);
}
