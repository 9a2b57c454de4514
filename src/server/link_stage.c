/*
 * The server side of the SPICE link stage, one state machine per accepted
 * connection, on the host's loop.
 *
 *   TLS      (TLS port only) the non-blocking server handshake
 *   HEADER   16-byte SpiceLinkHeader: magic, major version, body size
 *            ("GET " instead of the magic: a websocket client; WS_REQUEST
 *            reads its HTTP upgrade request, the 101 answer goes out on the
 *            raw stream, and the link restarts at HEADER inside websocket
 *            frames)
 *   BODY     SpiceLinkMess + caps: channel, connection id, capabilities
 *            -> SpiceLinkReply (error or OK + fresh RSA public key + caps)
 *   MECH     u32 auth mechanism, only if both sides have AUTH_SELECTION
 *   TICKET   128-byte RSA-OAEP encrypted password
 *            -> 4-byte link result; on success the stream goes to the channel
 *   SASL     (mechanism SASL, spice_server_set_sasl) the exchange of
 *            transport/sasl.c, step by step, then the 4-byte link result
 *            in clear; then (on plain TCP) the stream is wrapped in the
 *            SASL security layer and the link result is sent once more,
 *            through it: the reference server does so and spice-gtk reads
 *            both (one ends its SASL exchange, one ends every link)
 *
 * SASL rules, as the reference server: with SASL on, links that need
 * authentication advertise AUTH_SASL instead of AUTH_SPICE, a client that
 * advertised AUTH_SASL gets a zeroed public key (no RSA key is made), a
 * client that picks SPICE ticket auth or cannot select a mechanism is
 * refused. One deliberate difference: a link that skips authentication
 * (spice_server_add_client with skip_auth) keeps ticket auth, whose ticket
 * is then ignored; the reference refuses it.
 *
 * DESIGN: reads ask for exactly the bytes of the current step, so nothing
 * the client sends after the link (its first channel messages) is swallowed
 * here. Every failure answers with the protocol's error code where one
 * exists, logs one rate-limited line naming the peer and the reason, and
 * closes this connection only. A deadline drops connections that stall.
 *
 * Thread: main.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/bytes.h"
#include "common/error.h"
#include "common/log.h"
#include "server/channel.h"
#include "server/server.h"
#include "transport/sasl.h"
#include "transport/tls.h"
#include "transport/websocket.h"

#define LINK_DEFAULT_TIMEOUT_MS 10000

enum link_state {
    LINK_READ_HEADER,
    LINK_READ_BODY,
    LINK_READ_MECH,
    LINK_READ_TICKET,
    LINK_READ_SASL,
    LINK_READ_WS_REQUEST,
    LINK_TLS_HANDSHAKE,
    LINK_FLUSH_THEN_CLOSE,
    LINK_FLUSH_THEN_SASL_LAYER,
    LINK_FLUSH_THEN_WEBSOCKET,
    LINK_FLUSH_THEN_HANDOFF,
    LINK_SASL_SETTLE,
};

/* After a SASL link result that went through the security layer, the
 * channel's first message waits this long: spice-gtk decodes whatever one
 * socket read brings, but then waits for the socket to become readable
 * before it looks at what it decoded past the result, so a first message
 * that arrived together with the result would sit there until the server
 * happens to send more. */
#define LINK_SASL_SETTLE_MS 50

struct link_conn {
    struct link_conn *next;
    struct RedsState *server;
    struct stream *stream;
    struct loop_watch *watch;
    struct loop_timer *deadline;
    enum link_state state;
    char peer[64];

    uint8_t in[LINK_HEADER_SIZE + LINK_MAX_BODY_SIZE];
    size_t in_len;                  /* bytes of the current step received */
    size_t need;                    /* bytes the current step needs */
    uint8_t auth[LINK_TICKET_SIZE]; /* mechanism word, then the ticket */
    uint8_t *step;                  /* where the current step's bytes go */

    struct link_header header;
    struct link_mess mess; /* borrows `in` */
    bool mini_header;
    bool skip_auth;

    struct byte_buf out;
    size_t out_sent;

    struct ticket_key *key;
    bool use_sasl;          /* SASL will authenticate this link */
    int tls_bits;           /* cipher bits of the TLS handshake, 0 without TLS */
    struct sasl_auth *sasl; /* the SASL exchange, from MECH to the handoff */
    bool sasl_layer;        /* the stream is wrapped in the SASL layer */

    uint8_t *ws_request; /* the HTTP upgrade request, WS_MAX_REQUEST_SIZE bytes */
    size_t ws_extra;     /* bytes received past the request */
};

static void link_conn_destroy(struct link_conn *c, bool close_stream);
static void link_conn_on_ws_request(struct link_conn *c);

static void link_conn_event_info(struct stream *stream, SpiceChannelEventInfo *info)
{
    channel_event_info_fill(info, stream->fd, 0, 0, 0);
    if (stream->flags & STREAM_FLAG_TLS) {
        info->flags |= SPICE_CHANNEL_EVENT_FLAG_TLS;
    }
}

static void link_conn_unlink(struct link_conn *c)
{
    for (struct link_conn **p = &c->server->links; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            return;
        }
    }
}

static void link_conn_destroy(struct link_conn *c, bool close_stream)
{
    link_conn_unlink(c);
    loop_watch_remove(c->server->loop, c->watch);
    loop_timer_remove(c->server->loop, c->deadline);
    if (close_stream) {
        SpiceChannelEventInfo info;
        link_conn_event_info(c->stream, &info);
        stream_destroy(c->stream);
        server_channel_event(c->server, SPICE_CHANNEL_EVENT_DISCONNECTED, &info);
    }
    ticket_key_destroy(c->key);
    sasl_auth_destroy(c->sasl);
    free(c->ws_request);
    buf_finish(&c->out);
    free(c);
}

static void link_conn_expect(struct link_conn *c, enum link_state state, uint8_t *dst, size_t need)
{
    c->state = state;
    c->step = dst;
    c->need = need;
    c->in_len = 0;
}

static void link_conn_update_watch(struct link_conn *c)
{
    int events = c->out_sent < c->out.len ? LOOP_WRITE : LOOP_READ;
    loop_watch_update(c->server->loop, c->watch, events);
}

static void link_conn_send_error(struct link_conn *c, uint32_t error, const char *why)
{
    log_ratelimited(LOG_LEVEL_WARN, "link from %s refused (error %u): %s", c->peer, error, why);
    link_reply_write(&c->out, error, NULL, NULL, 0, NULL, 0);
    c->state = LINK_FLUSH_THEN_CLOSE;
}

static void link_conn_send_result(struct link_conn *c, uint32_t result)
{
    uint8_t *p = buf_append(&c->out, 4);
    if (p) {
        put_u32le(p, result);
    }
    c->state = result == SPICE_LINK_ERR_OK ? LINK_FLUSH_THEN_HANDOFF : LINK_FLUSH_THEN_CLOSE;
}

static void link_conn_server_caps(const struct link_conn *c, uint32_t *common, uint32_t *channel,
                                  uint32_t *num_channel)
{
    common[0] = 0;
    caps_set(common, SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION);
    if (c->server->sasl && !c->skip_auth) {
        caps_set(common, SPICE_COMMON_CAP_AUTH_SASL);
    } else {
        caps_set(common, SPICE_COMMON_CAP_AUTH_SPICE);
    }
    caps_set(common, SPICE_COMMON_CAP_MINI_HEADER);
    channel[0] = 0;
    *num_channel = 0;
    switch (c->mess.channel_type) {
    case SPICE_CHANNEL_MAIN:
        caps_set(channel, SPICE_MAIN_CAP_NAME_AND_UUID);
        caps_set(channel, SPICE_MAIN_CAP_AGENT_CONNECTED_TOKENS);
        *num_channel = 1;
        break;
    case SPICE_CHANNEL_DISPLAY:
        caps_set(channel, SPICE_DISPLAY_CAP_MONITORS_CONFIG);
        *num_channel = 1;
        break;
    case SPICE_CHANNEL_INPUTS:
        caps_set(channel, SPICE_INPUTS_CAP_KEY_SCANCODE);
        *num_channel = 1;
        break;
    default:
        break;
    }
}

/* The first bytes were "GET ": keep them and read the rest of the request. */
static void link_conn_start_websocket(struct link_conn *c)
{
    c->ws_request = malloc(WS_MAX_REQUEST_SIZE);
    if (!c->ws_request) {
        c->state = LINK_FLUSH_THEN_CLOSE;
        return;
    }
    memcpy(c->ws_request, c->in, LINK_HEADER_SIZE);
    link_conn_expect(c, LINK_READ_WS_REQUEST, c->ws_request, WS_MAX_REQUEST_SIZE);
    c->in_len = LINK_HEADER_SIZE;
    link_conn_on_ws_request(c);
}

static void link_conn_on_header(struct link_conn *c)
{
    link_header_parse(c->in, LINK_HEADER_SIZE, &c->header);
    if (c->header.magic != SPICE_MAGIC) {
        if (memcmp(c->in, "GET ", 4) == 0 && !(c->stream->flags & STREAM_FLAG_WEBSOCKET)) {
            link_conn_start_websocket(c);
            return;
        }
        link_conn_send_error(c, SPICE_LINK_ERR_INVALID_MAGIC, "invalid magic");
        return;
    }
    if (c->header.major_version != SPICE_VERSION_MAJOR) {
        char why[64];
        snprintf(why, sizeof(why), "protocol version %u.%u, we speak %u.%u",
                 c->header.major_version, c->header.minor_version, SPICE_VERSION_MAJOR,
                 SPICE_VERSION_MINOR);
        link_conn_send_error(c, SPICE_LINK_ERR_VERSION_MISMATCH, why);
        return;
    }
    if (c->header.size < LINK_MESS_SIZE || c->header.size > LINK_MAX_BODY_SIZE) {
        link_conn_send_error(c, SPICE_LINK_ERR_INVALID_DATA, "link message size out of range");
        return;
    }
    link_conn_expect(c, LINK_READ_BODY, c->in + LINK_HEADER_SIZE, c->header.size);
}

static void link_conn_on_body(struct link_conn *c)
{
    struct RedsState *s = c->server;
    const char *err = NULL;
    if (link_mess_parse(c->in + LINK_HEADER_SIZE, c->header.size, &c->mess, &err) < 0) {
        link_conn_send_error(c, SPICE_LINK_ERR_INVALID_DATA, err ? err : "bad link message");
        return;
    }
    const struct link_mess *m = &c->mess;
    if (m->channel_type == SPICE_CHANNEL_MAIN) {
        if (s->num_clients >= (int)s->max_clients) {
            link_conn_send_error(c, SPICE_LINK_ERR_ERROR, "too many clients");
            return;
        }
    } else {
        if (!server_has_channel(s, m->channel_type, m->channel_id)) {
            link_conn_send_error(c, SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE, "channel not available");
            return;
        }
        if (!server_find_session(s, m->connection_id)) {
            link_conn_send_error(c, SPICE_LINK_ERR_BAD_CONNECTION_ID, "unknown connection id");
            return;
        }
    }
    int security = server_channel_security(s, m->channel_type);
    if (c->stream->flags & STREAM_FLAG_TLS) {
        if (!(security & SPICE_CHANNEL_SECURITY_SSL)) {
            link_conn_send_error(c, SPICE_LINK_ERR_NEED_UNSECURED,
                                 "this channel is configured for plain connections only");
            return;
        }
    } else if (!(security & SPICE_CHANNEL_SECURITY_NONE)) {
        link_conn_send_error(c, SPICE_LINK_ERR_NEED_SECURED,
                             "this channel is configured for TLS only");
        return;
    }
    c->mini_header = caps_test(m->common_caps, m->num_common_caps, SPICE_COMMON_CAP_MINI_HEADER);

    /* A client that can do SASL will not use the RSA key: send zeros and
     * skip making one (the reference does so for FIPS systems). */
    c->use_sasl = s->sasl && !c->skip_auth &&
                  caps_test(m->common_caps, m->num_common_caps, SPICE_COMMON_CAP_AUTH_SASL);
    uint8_t pubkey[LINK_PUBKEY_SIZE];
    memset(pubkey, 0, sizeof(pubkey));
    if (!c->use_sasl) {
        c->key = ticket_key_create();
        if (!c->key || ticket_key_public_der(c->key, pubkey) < 0) {
            link_conn_send_error(c, SPICE_LINK_ERR_ERROR, "cannot create a ticket key");
            return;
        }
    }
    uint32_t common[1], channel[1], num_channel;
    link_conn_server_caps(c, common, channel, &num_channel);
    link_reply_write(&c->out, SPICE_LINK_ERR_OK, pubkey, common, 1, channel, num_channel);

    if (caps_test(m->common_caps, m->num_common_caps, SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION)) {
        link_conn_expect(c, LINK_READ_MECH, c->auth, 4);
    } else if (s->sasl && !c->skip_auth) {
        log_ratelimited(LOG_LEVEL_WARN,
                        "link from %s refused: SASL is required but the client cannot select "
                        "an authentication mechanism",
                        c->peer);
        link_conn_send_result(c, SPICE_LINK_ERR_VERSION_MISMATCH);
    } else {
        link_conn_expect(c, LINK_READ_TICKET, c->auth, LINK_TICKET_SIZE);
    }
}

/* "IP;port" of one end of the socket, as SASL wants it; false for unix
 * sockets and errors. */
static bool sasl_addr(int fd, bool local, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int rc = local ? getsockname(fd, (struct sockaddr *)&ss, &len)
                   : getpeername(fd, (struct sockaddr *)&ss, &len);
    if (rc < 0 || (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
        return false;
    }
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        return false;
    }
    snprintf(out, cap, "%s;%s", host, serv);
    return true;
}

static void link_conn_start_sasl(struct link_conn *c)
{
    struct RedsState *s = c->server;
    const char *why = "?";
    if (!s->sasl_initialized) {
        if (sasl_global_acquire(s->sasl_appname, &why) < 0) {
            log_ratelimited(LOG_LEVEL_WARN, "link from %s: cannot initialise SASL: %s", c->peer,
                            why);
            link_conn_send_result(c, SPICE_LINK_ERR_ERROR);
            return;
        }
        s->sasl_initialized = true;
    }
    char local[NI_MAXHOST + NI_MAXSERV + 2], remote[NI_MAXHOST + NI_MAXSERV + 2];
    struct sasl_auth_config cfg = {
            .local_addr = sasl_addr(c->stream->fd, true, local, sizeof(local)) ? local : NULL,
            .remote_addr = sasl_addr(c->stream->fd, false, remote, sizeof(remote)) ? remote : NULL,
            .external_ssf = (c->stream->flags & STREAM_FLAG_TLS) ? c->tls_bits : 0,
    };
    c->sasl = sasl_auth_create(&cfg, &c->out, &why);
    if (!c->sasl) {
        /* The reference closes without a word here. */
        log_ratelimited(LOG_LEVEL_WARN, "link from %s: SASL setup failed: %s", c->peer, why);
        c->state = LINK_FLUSH_THEN_CLOSE;
        return;
    }
    size_t need = 0;
    uint8_t *dst = sasl_auth_want(c->sasl, &need);
    link_conn_expect(c, LINK_READ_SASL, dst, need);
}

static void link_conn_on_sasl(struct link_conn *c)
{
    const char *why = "?";
    int rc = sasl_auth_input(c->sasl, &c->out, &why);
    if (rc == SASL_AUTH_MORE) {
        size_t need = 0;
        uint8_t *dst = sasl_auth_want(c->sasl, &need);
        link_conn_expect(c, LINK_READ_SASL, dst, need);
        return;
    }
    if (rc == SASL_AUTH_DONE) {
        const char *user = sasl_auth_username(c->sasl);
        log_info("link from %s: SASL authentication of %s succeeded%s", c->peer, user ? user : "?",
                 sasl_auth_has_layer(c->sasl) ? " (with a security layer)" : "");
        uint8_t *p = buf_append(&c->out, 4);
        if (p) {
            put_u32le(p, SPICE_LINK_ERR_OK);
        }
        c->state = LINK_FLUSH_THEN_SASL_LAYER;
        return;
    }
    log_ratelimited(LOG_LEVEL_WARN, "link from %s: SASL authentication failed: %s", c->peer, why);
    if (rc == CLOVE_E_INVALID) {
        link_reply_write(&c->out, SPICE_LINK_ERR_INVALID_DATA, NULL, NULL, 0, NULL, 0);
    }
    c->state = LINK_FLUSH_THEN_CLOSE;
}

static void link_conn_on_mech(struct link_conn *c)
{
    uint32_t mech = get_u32le(c->step);
    if (mech == SPICE_COMMON_CAP_AUTH_SASL && c->server->sasl) {
        link_conn_start_sasl(c);
        return;
    }
    if (mech == SPICE_COMMON_CAP_AUTH_SPICE && c->server->sasl && !c->skip_auth) {
        log_ratelimited(LOG_LEVEL_WARN,
                        "link from %s refused: SASL is required, the client chose ticket "
                        "authentication",
                        c->peer);
        link_conn_send_result(c, SPICE_LINK_ERR_INVALID_DATA);
        return;
    }
    if (mech != SPICE_COMMON_CAP_AUTH_SPICE || !c->key) {
        log_ratelimited(LOG_LEVEL_WARN, "link from %s: unsupported auth mechanism %u", c->peer,
                        mech);
        link_conn_send_result(c, SPICE_LINK_ERR_PERMISSION_DENIED);
        return;
    }
    link_conn_expect(c, LINK_READ_TICKET, c->step, LINK_TICKET_SIZE);
}

static void link_conn_on_ticket(struct link_conn *c)
{
    struct RedsState *s = c->server;
    uint8_t plain[LINK_TICKET_SIZE];
    int n = ticket_key_decrypt(c->key, c->step, LINK_TICKET_SIZE, plain, sizeof(plain));
    if (c->skip_auth || !s->ticketing) {
        link_conn_send_result(c, SPICE_LINK_ERR_OK);
        return;
    }
    const char *why = "cannot decrypt the ticket";
    if (n < 0 || !ticket_check(s, plain, (size_t)n, &why)) {
        log_ratelimited(LOG_LEVEL_WARN, "link from %s: authentication failed: %s", c->peer, why);
        link_conn_send_result(c, SPICE_LINK_ERR_PERMISSION_DENIED);
        return;
    }
    link_conn_send_result(c, SPICE_LINK_ERR_OK);
}

/* Called whenever request bytes arrived: answers a complete request. */
static void link_conn_on_ws_request(struct link_conn *c)
{
    struct ws_request req;
    const char *why = NULL;
    int n = ws_request_parse(c->ws_request, c->in_len, &req, &why);
    if (n == CLOVE_E_INCOMPLETE) {
        return;
    }
    if (n < 0) {
        log_ratelimited(LOG_LEVEL_WARN, "link from %s: bad websocket upgrade: %s", c->peer,
                        why ? why : "?");
        const char *answer = ws_bad_request_response();
        buf_put(&c->out, answer, strlen(answer));
        c->state = LINK_FLUSH_THEN_CLOSE;
        return;
    }
    char answer[512];
    int alen = ws_response_write(&req, answer, sizeof(answer));
    if (alen < 0) {
        c->state = LINK_FLUSH_THEN_CLOSE;
        return;
    }
    buf_put(&c->out, answer, (size_t)alen);
    /* A client may not send frames before our answer, but keep any bytes
     * past the request for the websocket stream rather than lose them. */
    c->ws_extra = c->in_len - (size_t)n;
    memmove(c->ws_request, c->ws_request + n, c->ws_extra);
    c->state = LINK_FLUSH_THEN_WEBSOCKET;
}

/* The 101 answer went out: the link continues inside websocket frames. */
static bool link_conn_wrap_websocket(struct link_conn *c)
{
    c->stream = websocket_stream_create(c->stream, c->ws_request, c->ws_extra);
    free(c->ws_request);
    c->ws_request = NULL;
    if (!c->stream) {
        /* The raw stream is gone with the wrapper; report it as closed. */
        SpiceChannelEventInfo info;
        channel_event_info_fill(&info, -1, 0, 0, 0);
        server_channel_event(c->server, SPICE_CHANNEL_EVENT_DISCONNECTED, &info);
        link_conn_destroy(c, false);
        return false;
    }
    link_conn_expect(c, LINK_READ_HEADER, c->in, LINK_HEADER_SIZE);
    return true;
}

/* Runs the step whose bytes are all in. */
static void link_conn_step_done(struct link_conn *c)
{
    switch (c->state) {
    case LINK_READ_HEADER:
        link_conn_on_header(c);
        break;
    case LINK_READ_BODY:
        link_conn_on_body(c);
        break;
    case LINK_READ_MECH:
        link_conn_on_mech(c);
        break;
    case LINK_READ_TICKET:
        link_conn_on_ticket(c);
        break;
    case LINK_READ_SASL:
        link_conn_on_sasl(c);
        break;
    case LINK_READ_WS_REQUEST:
        link_conn_on_ws_request(c);
        break;
    default:
        break;
    }
}

static bool link_conn_reading(const struct link_conn *c)
{
    return c->state <= LINK_READ_WS_REQUEST;
}

/* The link is complete: the stream goes to its channel; destroys c. */
static void link_conn_handoff(struct link_conn *c)
{
    struct RedsState *s = c->server;
    struct stream *stream = c->stream;
    struct link_mess mess = c->mess;
    bool mini = c->mini_header;
    /* Detach first: the channel takes over the socket's watch. */
    loop_watch_remove(s->loop, c->watch);
    c->watch = NULL;
    server_link_complete(s, stream, &mess, mini);
    link_conn_destroy(c, false);
}

/* Returns false when the connection was destroyed or waits for a timer. */
static bool link_conn_flush(struct link_conn *c)
{
    while (c->out_sent < c->out.len) {
        ssize_t n = stream_write(c->stream, c->out.data + c->out_sent, c->out.len - c->out_sent);
        if (n == CLOVE_E_AGAIN) {
            link_conn_update_watch(c);
            return true;
        }
        if (n < 0) {
            log_info("link from %s: peer went away during the link", c->peer);
            link_conn_destroy(c, true);
            return false;
        }
        c->out_sent += (size_t)n;
    }
    buf_reset(&c->out);
    c->out_sent = 0;
    if (c->state == LINK_FLUSH_THEN_CLOSE) {
        link_conn_destroy(c, true);
        return false;
    }
    if (c->state == LINK_FLUSH_THEN_SASL_LAYER) {
        /* The SASL result went out in clear; from now on the layer, and
         * the link's own result goes through it. */
        c->sasl_layer = sasl_auth_has_layer(c->sasl);
        c->stream = sasl_stream_create(c->sasl, c->stream);
        c->sasl = NULL;
        if (!c->stream) {
            SpiceChannelEventInfo info;
            channel_event_info_fill(&info, -1, 0, 0, 0);
            server_channel_event(c->server, SPICE_CHANNEL_EVENT_DISCONNECTED, &info);
            link_conn_destroy(c, false);
            return false;
        }
        link_conn_send_result(c, SPICE_LINK_ERR_OK);
        return link_conn_flush(c);
    }
    if (c->state == LINK_FLUSH_THEN_WEBSOCKET) {
        if (!link_conn_wrap_websocket(c)) {
            return false;
        }
        /* Continue with the link inside the frames: they may be buffered. */
        link_conn_update_watch(c);
        return true;
    }
    if (c->state == LINK_FLUSH_THEN_HANDOFF && c->sasl_layer) {
        /* Quiet until the settle timer; the client's first messages wait
         * in the socket for the channel. */
        c->state = LINK_SASL_SETTLE;
        loop_watch_update(c->server->loop, c->watch, 0);
        loop_timer_start(c->server->loop, c->deadline, LINK_SASL_SETTLE_MS);
        return false;
    }
    if (c->state == LINK_FLUSH_THEN_HANDOFF) {
        link_conn_handoff(c);
        return false;
    }
    link_conn_update_watch(c);
    return true;
}

/* Returns false when the connection was destroyed or must wait. */
static bool link_conn_tls_handshake(struct link_conn *c)
{
    const char *why = NULL;
    int rc = tls_stream_handshake(c->stream, &why);
    if (rc == CLOVE_E_AGAIN) {
        loop_watch_update(c->server->loop, c->watch,
                          tls_stream_wants_write(c->stream) ? LOOP_WRITE : LOOP_READ);
        return false;
    }
    if (rc < 0) {
        log_ratelimited(LOG_LEVEL_WARN, "link from %s: TLS handshake failed: %s", c->peer,
                        why ? why : "?");
        link_conn_destroy(c, true);
        return false;
    }
    c->tls_bits = tls_stream_cipher_bits(c->stream);
    link_conn_expect(c, LINK_READ_HEADER, c->in, LINK_HEADER_SIZE);
    loop_watch_update(c->server->loop, c->watch, LOOP_READ);
    return true;
}

static void link_conn_on_io(int fd, int events, void *opaque)
{
    struct link_conn *c = opaque;
    if (c->state == LINK_TLS_HANDSHAKE) {
        if (!link_conn_tls_handshake(c)) {
            return;
        }
        events = LOOP_READ;
    }
    if (events & LOOP_WRITE) {
        if (!link_conn_flush(c)) {
            return;
        }
    }
    while (link_conn_reading(c) && c->out_sent >= c->out.len) {
        ssize_t n = stream_read(c->stream, c->step + c->in_len, c->need - c->in_len);
        if (n == CLOVE_E_AGAIN) {
            return;
        }
        if (n < 0) {
            log_ratelimited(LOG_LEVEL_INFO, "link from %s: connection closed during the link",
                            c->peer);
            link_conn_destroy(c, true);
            return;
        }
        c->in_len += (size_t)n;
        if (c->in_len < c->need && c->state != LINK_READ_WS_REQUEST) {
            continue;
        }
        link_conn_step_done(c);
        if (c->out.len > 0 && !link_conn_flush(c)) {
            return;
        }
        if (c->state == LINK_FLUSH_THEN_CLOSE && c->out.len == 0) {
            link_conn_destroy(c, true);
            return;
        }
    }
}

static void link_conn_on_deadline(void *opaque)
{
    struct link_conn *c = opaque;
    if (c->state == LINK_SASL_SETTLE) {
        link_conn_handoff(c);
        return;
    }
    log_ratelimited(LOG_LEVEL_WARN, "link from %s: no complete link within %u ms; dropping it",
                    c->peer, c->server->link_timeout_ms);
    link_conn_destroy(c, true);
}

static void peer_name(int fd, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    snprintf(out, cap, "?");
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
        return;
    }
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(out, cap, "%s:%u", host, ntohs(sin->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(out, cap, "[%s]:%u", host, ntohs(sin6->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        snprintf(out, cap, "unix socket");
    }
}

void link_conn_start(struct RedsState *s, struct stream *stream, bool skip_auth)
{
    struct link_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        stream_destroy(stream);
        return;
    }
    c->server = s;
    c->stream = stream;
    c->skip_auth = skip_auth;
    buf_init(&c->out);
    peer_name(stream->fd, c->peer, sizeof(c->peer));
    if ((stream->flags & STREAM_FLAG_TLS) && !(stream->flags & STREAM_FLAG_WEBSOCKET) &&
        !tls_stream_handshake_done(stream)) {
        c->state = LINK_TLS_HANDSHAKE;
    } else {
        link_conn_expect(c, LINK_READ_HEADER, c->in, LINK_HEADER_SIZE);
    }
    c->watch = loop_watch_add(s->loop, stream->fd, LOOP_READ, link_conn_on_io, c);
    c->deadline = loop_timer_add(s->loop, link_conn_on_deadline, c);
    c->next = s->links;
    s->links = c;
    if (!c->watch || !c->deadline) {
        link_conn_destroy(c, true);
        return;
    }
    loop_timer_start(s->loop, c->deadline, s->link_timeout_ms);

    SpiceChannelEventInfo info;
    link_conn_event_info(stream, &info);
    server_channel_event(s, SPICE_CHANNEL_EVENT_CONNECTED, &info);
}

void link_conn_destroy_all(struct RedsState *s)
{
    while (s->links) {
        link_conn_destroy(s->links, true);
    }
}
