/*
 * The public session API (include/clove/client.h) and the main channel.
 *
 * DESIGN: a session owns one poll loop (loop_poll.c) and runs it only
 * inside clove_session_run(), so callbacks always run on the caller's
 * thread. The main channel links with connection id 0; its MAIN_INIT gives
 * the session id, we answer ATTACH_CHANNELS and link display channel 0 at
 * once (open_early_display), and CHANNELS_LIST makes us open
 * every display channel listed (one per QXL device, ids below
 * CLIENT_MAX_DISPLAYS) and, when listed, inputs channel 0 and cursor
 * channel 0 (the cursor of the first device). Like
 * spice-gtk, we ask for client mouse mode (MOUSE_MODE_REQUEST) whenever the
 * server supports it and it is not current. The main channel announces
 * NAME_AND_UUID so the server sends the VM name. Errors raised inside
 * callbacks only record themselves (session_fail); the channels are closed
 * by clove_session_run() once the loop iteration is over, so no callback
 * ever frees the object it runs on.
 */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/x509.h>
#include <spice/enums.h>
#include <spice/protocol.h>

#include "client/client_priv.h"
#include "clove/version.h"
#include "common/error.h"
#include "common/log.h"
#include "transport/tls.h"

const char *clove_version_string(void)
{
    return CLOVE_VERSION_STRING;
}

int session_fail(struct clove_session *s, int code, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (code >= 0) {
        code = CLOVE_E_INVALID;
    }
    if (s->error_code == 0) {
        s->error_code = code;
        snprintf(s->error, sizeof(s->error), "%s", line);
    } else {
        log_debug("after the first error: %s", line);
    }
    return code;
}

void session_event(struct clove_session *s, enum clove_event event)
{
    if (s->event_fn) {
        s->event_fn(s, event, s->event_opaque);
    }
}

static void close_channels(struct clove_session *s)
{
    channel_close(s->cursor);
    s->cursor = NULL;
    channel_close(s->inputs);
    s->inputs = NULL;
    s->inputs_ready = false;
    display_close_channels(s);
    channel_close(s->main);
    s->main = NULL;
}

/* ---- main channel ---- */

/*
 * What the display channel announces. Deliberately absent: SIZED_STREAM,
 * STREAM_REPORT, MULTI_CODEC and the CODEC_* caps (we do not decode video
 * streams yet, so the server must not expect stream reports), GL_SCANOUT,
 * PREF_COMPRESSION and A8_SURFACE.
 */
#define DISPLAY_CAPS_WORD                                                              \
    ((1u << SPICE_DISPLAY_CAP_MONITORS_CONFIG) | (1u << SPICE_DISPLAY_CAP_COMPOSITE) | \
     (1u << SPICE_DISPLAY_CAP_LZ4_COMPRESSION))
#define DISPLAY_STREAM_CAPS                                                                  \
    ((1u << SPICE_DISPLAY_CAP_SIZED_STREAM) | (1u << SPICE_DISPLAY_CAP_STREAM_REPORT) |      \
     (1u << SPICE_DISPLAY_CAP_MULTI_CODEC) | (1u << SPICE_DISPLAY_CAP_CODEC_MJPEG) |         \
     (1u << SPICE_DISPLAY_CAP_CODEC_VP8) | (1u << SPICE_DISPLAY_CAP_CODEC_H264) |            \
     (1u << SPICE_DISPLAY_CAP_PREF_VIDEO_CODEC_TYPE) | (1u << SPICE_DISPLAY_CAP_CODEC_VP9) | \
     (1u << SPICE_DISPLAY_CAP_CODEC_H265))
_Static_assert((DISPLAY_CAPS_WORD & DISPLAY_STREAM_CAPS) == 0,
               "the client decodes no video stream: it must not advertise stream caps");
static const uint32_t display_caps[1] = {DISPLAY_CAPS_WORD};

static const uint32_t main_caps[1] = {1u << SPICE_MAIN_CAP_NAME_AND_UUID};

static void update_mouse_mode(struct client_channel *ch, uint32_t supported, uint32_t current)
{
    struct clove_session *s = ch->session;
    bool changed = current != s->mouse_mode;
    s->mouse_modes = supported;
    s->mouse_mode = current;
    if (current != SPICE_MOUSE_MODE_CLIENT && (supported & SPICE_MOUSE_MODE_CLIENT) &&
        !s->mouse_mode_requested) {
        /* SpiceMsgcMainMouseModeRequest {u16 mode} */
        uint8_t body[2];
        put_u16le(body, SPICE_MOUSE_MODE_CLIENT);
        channel_send(ch, SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST, body, sizeof(body));
        s->mouse_mode_requested = true;
    }
    if (current == SPICE_MOUSE_MODE_CLIENT) {
        s->mouse_mode_requested = false;
    }
    log_debug("main: mouse mode %u (supported 0x%x)", current, supported);
    if (changed) {
        session_event(s, CLOVE_EVENT_MOUSE_MODE);
    }
}

/* What the surface prefault maps: a 1920x1080 xRGB primary (7.9 MiB). A
 * smaller first surface returns the rest; a larger one populates the
 * difference when it is created. */
#define SURFACE_PREFAULT_BYTES (8u << 20)

/* Starts the prefault (prefault.h) with the session's first display link,
 * whose reply leaves the client idle for a while. */
static void start_surface_prefault(struct clove_session *s)
{
    if (!s->prefault_started) {
        s->prefault_started = true;
        s->prefault = prefault_start(SURFACE_PREFAULT_BYTES);
    }
}

/* The server's multimedia clock (audio and video timestamps, ms): its value
 * and our clock when it arrived; clove_session_get_mm_time() extrapolates. */
static void set_mm_time(struct clove_session *s, uint32_t mm_time)
{
    s->mm_time = mm_time;
    s->mm_time_at_ms = loop_now_ms();
    s->mm_time_known = true;
}

/* The guest agent's state as the main channel reports it: connected or
 * not, and the tokens the server grants us for messages to the agent (one
 * per message; AGENT_TOKEN adds more). */
static void update_agent(struct clove_session *s, bool connected, uint32_t tokens)
{
    bool changed = connected != s->agent_connected;
    s->agent_connected = connected;
    s->agent_tokens = connected ? tokens : 0;
    if (changed) {
        log_debug("main: agent %s (%u tokens)", connected ? "connected" : "disconnected", tokens);
        session_event(s, CLOVE_EVENT_AGENT);
    }
}

static void main_u32_message(struct clove_session *s, uint16_t type, uint32_t value)
{
    switch (type) {
    case SPICE_MSG_MAIN_MULTI_MEDIA_TIME:
        set_mm_time(s, value);
        break;
    case SPICE_MSG_MAIN_AGENT_DISCONNECTED:
        log_debug("main: agent disconnected (error %u)", value);
        update_agent(s, false, 0);
        break;
    case SPICE_MSG_MAIN_AGENT_TOKEN:
        /* Saturates: a hostile server cannot wrap the count. */
        s->agent_tokens =
                value > UINT32_MAX - s->agent_tokens ? UINT32_MAX : s->agent_tokens + value;
        break;
    default: /* AGENT_CONNECTED_TOKENS */
        update_agent(s, true, value);
        break;
    }
}

static int open_channel(struct clove_session *s, struct client_channel **slot,
                        struct wire_channel_id id)
{
    if (*slot) {
        /* Linked early: listed now, so a failed early link gets another. */
        (*slot)->listed = true;
        return session_relink(s);
    }
    switch (id.type) {
    case SPICE_CHANNEL_DISPLAY:
        *slot = channel_open(s, id.type, id.id, display_caps, 1, display_ready, display_message);
        start_surface_prefault(s);
        break;
    case SPICE_CHANNEL_INPUTS:
        *slot = channel_open(s, id.type, id.id, NULL, 0, inputs_ready, inputs_message);
        break;
    default:
        *slot = channel_open(s, id.type, id.id, NULL, 0, cursor_ready, cursor_message);
        break;
    }
    return *slot ? 0 : s->error_code;
}

/*
 * Links display channel 0 as soon as MAIN_INIT gives the session id and says
 * the server has a display, instead of after CHANNELS_LIST: the list comes
 * only after our ATTACH_CHANNELS has gone round and, on the reference
 * server, behind its 256 KiB network-test ping, and the reference then
 * spends 8-16 ms generating the display link's RSA key. Any server takes
 * such a link (the reference checks only the connection id and that the
 * channel exists). Until it is linked the channel is tentative: a failed
 * early link is closed quietly, and the list decides what follows (see
 * session_relink; an unlisted channel is closed).
 */
static int open_early_display(struct clove_session *s)
{
    struct client_display *d = s->displays[0];
    if (d->channel) {
        return 0;
    }
    d->channel = channel_open(s, SPICE_CHANNEL_DISPLAY, 0, display_caps, 1, display_ready,
                              display_message);
    if (!d->channel) {
        return s->error_code;
    }
    d->channel->tentative = true;
    start_surface_prefault(s);
    return 0;
}

/*
 * Gives every listed display channel whose early link failed an ordinary
 * link, whose failure is the session's. Runs when the list names such a
 * channel and, for one that fails after the list named it, from
 * clove_session_run() between loop iterations (never inside the failed
 * channel's own callback, which is still running when it fails).
 */
int session_relink(struct clove_session *s)
{
    s->relink_pending = false;
    for (uint32_t i = 0; i < CLIENT_MAX_DISPLAYS; i++) {
        struct client_display *d = s->displays[i];
        if (!d || !d->channel || d->channel->state != CHANNEL_CLOSED || !d->channel->listed) {
            continue;
        }
        log_debug("display channel %u: linking again", i);
        channel_close(d->channel);
        d->channel = channel_open(s, SPICE_CHANNEL_DISPLAY, (uint8_t)i, display_caps, 1,
                                  display_ready, display_message);
        if (!d->channel) {
            return s->error_code;
        }
    }
    return 0;
}

static int main_message(struct client_channel *ch, uint16_t type, const uint8_t *body, size_t len)
{
    struct clove_session *s = ch->session;
    const char *err = NULL;
    int rc = 0;
    switch (type) {
    case SPICE_MSG_MAIN_INIT: {
        struct wire_main_init init;
        rc = server_parse_main_init(body, len, &init, &err);
        if (rc >= 0) {
            s->session_id = init.session_id;
            log_debug("main: session id %u", init.session_id);
            channel_send(ch, SPICE_MSGC_MAIN_ATTACH_CHANNELS, NULL, 0);
            update_mouse_mode(ch, init.supported_mouse_modes, init.current_mouse_mode);
            set_mm_time(s, init.multi_media_time);
            update_agent(s, init.agent_connected != 0, init.agent_tokens);
            if (init.display_channels_hint > 0) {
                rc = open_early_display(s);
            }
        }
        break;
    }
    case SPICE_MSG_MAIN_CHANNELS_LIST: {
        struct wire_channel_id list[SERVER_PARSE_MAX_CHANNELS];
        uint32_t count = 0;
        rc = server_parse_main_channels_list(body, len, list, SERVER_PARSE_MAX_CHANNELS, &count,
                                             &err);
        /* Displays first (pass 0), then the rest (pass 1): a server that
         * answers links one at a time then shows the screen sooner. */
        for (int pass = 0; pass < 2; pass++) {
            for (uint32_t i = 0; rc >= 0 && i < count; i++) {
                bool display = list[i].type == SPICE_CHANNEL_DISPLAY;
                if (display != (pass == 0)) {
                    continue;
                }
                struct client_channel **slot = NULL;
                if (display && list[i].id < CLIENT_MAX_DISPLAYS) {
                    struct client_display *d = display_get(s, list[i].id);
                    if (!d) {
                        return session_fail(s, CLOVE_E_NOMEM, "out of memory");
                    }
                    slot = &d->channel;
                } else if (s->display_only ||
                           (list[i].type == SPICE_CHANNEL_INPUTS && s->inputs_disabled) ||
                           (list[i].type == SPICE_CHANNEL_CURSOR && s->cursor_disabled)) {
                    slot = NULL;
                } else if (list[i].id == 0 && list[i].type == SPICE_CHANNEL_INPUTS) {
                    slot = &s->inputs;
                } else if (list[i].id == 0 && list[i].type == SPICE_CHANNEL_CURSOR) {
                    slot = &s->cursor;
                }
                if (!slot) {
                    log_debug("main: %s channel %u not needed", channel_name(list[i].type),
                              list[i].id);
                } else if (open_channel(s, slot, list[i]) < 0) {
                    return s->error_code;
                }
            }
        }
        struct client_channel **early = &s->displays[0]->channel;
        if (rc >= 0 && *early && (*early)->tentative && !(*early)->listed) {
            /* The early link was to a display the list does not name. */
            log_debug("main: display channel 0 is not listed; closing its early link");
            channel_close(*early);
            *early = NULL;
        }
        bool any_display = false;
        for (uint32_t i = 0; i < CLIENT_MAX_DISPLAYS; i++) {
            any_display |= s->displays[i] && s->displays[i]->channel;
        }
        if (rc >= 0 && !any_display) {
            return session_fail(s, CLOVE_E_UNSUPPORTED, "the server offers no display channel");
        }
        break;
    }
    case SPICE_MSG_MAIN_MOUSE_MODE: {
        uint16_t supported, current;
        rc = server_parse_main_mouse_mode(body, len, &supported, &current, &err);
        if (rc >= 0) {
            update_mouse_mode(ch, supported, current);
        }
        break;
    }
    case SPICE_MSG_MAIN_MULTI_MEDIA_TIME:
    case SPICE_MSG_MAIN_AGENT_DISCONNECTED:
    case SPICE_MSG_MAIN_AGENT_TOKEN:
    case SPICE_MSG_MAIN_AGENT_CONNECTED_TOKENS: {
        uint32_t value;
        rc = server_parse_main_u32(type, body, len, &value, &err);
        if (rc >= 0) {
            main_u32_message(s, type, value);
        }
        break;
    }
    case SPICE_MSG_MAIN_AGENT_CONNECTED:
        update_agent(s, true, s->agent_tokens);
        break;
    case SPICE_MSG_MAIN_NAME: {
        const uint8_t *raw;
        uint32_t n;
        rc = server_parse_main_name(body, len, &raw, &n, &err);
        if (rc < 0) {
            break;
        }
        const char *name = (const char *)raw;
        size_t used = 0;
        for (size_t i = 0; i < n && name[i] && used + 1 < sizeof(s->name); i++) {
            /* Keep printable bytes only: the name ends up in a window title. */
            unsigned char c = (unsigned char)name[i];
            s->name[used++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        }
        s->name[used] = '\0';
        session_event(s, CLOVE_EVENT_NAME);
        break;
    }
    default:
        log_debug("main: message %u ignored", type);
        break;
    }
    if (rc < 0) {
        return session_fail(s, rc, "main channel: bad message %u: %s", type, err ? err : "?");
    }
    return 0;
}

/* ---- public API ---- */

struct clove_session *clove_session_create(void)
{
    struct clove_session *s = calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    s->loop = loop_poll_create();
    if (!s->loop) {
        goto error_loop;
    }
    if (display_init(s) < 0) {
        goto error_display;
    }
    return s;

error_display:
    loop_destroy(s->loop);
error_loop:
    free(s);
    return NULL;
}

void clove_session_destroy(struct clove_session *session)
{
    if (!session) {
        return;
    }
    close_channels(session);
    display_finish(session);
    cursor_finish(&session->cursor_state);
    loop_destroy(session->loop);
    tls_context_destroy(session->tls);
    free(session->ca_file);
    free(session->host_subject);
    free(session->host);
    session_sasl_clear(session);
    free(session);
}

int clove_session_set_server(struct clove_session *session, const char *host, uint16_t port)
{
    if (!host || !*host || port == 0) {
        return CLOVE_E_INVALID;
    }
    if (session->connected) {
        return CLOVE_E_STATE;
    }
    char *copy = strdup(host);
    if (!copy) {
        return CLOVE_E_NOMEM;
    }
    free(session->host);
    session->host = copy;
    session->port = port;
    return 0;
}

int clove_session_set_display_only(struct clove_session *session, bool display_only)
{
    if (session->connected) {
        return CLOVE_E_STATE;
    }
    session->display_only = display_only;
    return 0;
}

int clove_session_set_channel_disabled(struct clove_session *session, int channel_type,
                                       bool disabled)
{
    if (session->connected) {
        return CLOVE_E_STATE;
    }
    _Static_assert((int)CLOVE_CHANNEL_INPUTS == (int)SPICE_CHANNEL_INPUTS &&
                           (int)CLOVE_CHANNEL_CURSOR == (int)SPICE_CHANNEL_CURSOR,
                   "the public channel numbers are SPICE's");
    if (channel_type == CLOVE_CHANNEL_INPUTS) {
        session->inputs_disabled = disabled;
    } else if (channel_type == CLOVE_CHANNEL_CURSOR) {
        session->cursor_disabled = disabled;
    } else {
        return CLOVE_E_UNSUPPORTED;
    }
    return 0;
}

int clove_session_set_password(struct clove_session *session, const char *password)
{
    if (session->connected) {
        return CLOVE_E_STATE;
    }
    const char *pw = password ? password : "";
    if (strlen(pw) >= sizeof(session->password)) {
        return CLOVE_E_RANGE;
    }
    snprintf(session->password, sizeof(session->password), "%s", pw);
    return 0;
}

static int replace_string(char **slot, const char *value)
{
    char *copy = NULL;
    if (value && *value) {
        copy = strdup(value);
        if (!copy) {
            return CLOVE_E_NOMEM;
        }
    }
    free(*slot);
    *slot = copy;
    return 0;
}

int clove_session_set_tls(struct clove_session *session, uint16_t tls_port, const char *ca_file,
                          const char *host_subject)
{
    if (session->connected) {
        return CLOVE_E_STATE;
    }
    if (host_subject && *host_subject) {
        X509_NAME *name = NULL;
        int rc = tls_subject_parse(host_subject, &name);
        X509_NAME_free(name);
        if (rc < 0) {
            return rc;
        }
    }
    if (replace_string(&session->ca_file, ca_file) < 0 ||
        replace_string(&session->host_subject, host_subject) < 0) {
        return CLOVE_E_NOMEM;
    }
    session->tls_port = tls_port;
    return 0;
}

void clove_session_set_mark_callback(struct clove_session *session, clove_mark_fn fn, void *opaque)
{
    session->mark_fn = fn;
    session->mark_opaque = opaque;
}

int clove_session_connect(struct clove_session *session)
{
    struct clove_session *s = session;
    if (s->connected || !s->host) {
        return CLOVE_E_STATE;
    }
    s->connected = true;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", session_port(s));
    if (s->tls_port) {
        const char *err = NULL;
        s->tls = tls_client_context_create(s->ca_file, &err);
        if (!s->tls) {
            return session_fail(s, CLOVE_E_IO, "TLS: %s%s%s", err, s->ca_file ? " " : "",
                                s->ca_file ? s->ca_file : "");
        }
    }
    int gai = getaddrinfo(s->host, port, &hints, &res);
    if (gai != 0 || !res) {
        return session_fail(s, CLOVE_E_IO, "cannot resolve %s: %s", s->host, gai_strerror(gai));
    }
    memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
    s->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    s->main = channel_open(s, SPICE_CHANNEL_MAIN, 0, main_caps, 1, NULL, main_message);
    return s->main ? 0 : s->error_code;
}

int clove_session_run(struct clove_session *session, int timeout_ms)
{
    struct clove_session *s = session;
    if (!s->connected) {
        return CLOVE_E_STATE;
    }
    uint64_t deadline = loop_now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
    while (!s->error_code && !s->stop) {
        uint64_t now = loop_now_ms();
        if (now >= deadline) {
            break;
        }
        int rc = loop_poll_iterate(s->loop, (int)(deadline - now));
        if (rc < 0) {
            session_fail(s, rc, "poll failed");
        }
        if (s->relink_pending && !s->error_code) {
            session_relink(s);
        }
    }
    if (s->error_code) {
        close_channels(s);
        return s->error_code;
    }
    if (s->stop) {
        s->stop = false;
        return 1;
    }
    return 0;
}

void clove_session_stop(struct clove_session *session)
{
    session->stop = true;
}

const char *clove_session_error(const struct clove_session *session)
{
    return session->error;
}

int clove_session_get_surface(const struct clove_session *session, uint32_t display_channel,
                              uint32_t surface_id, struct clove_frame *frame)
{
    if (display_channel >= CLIENT_MAX_DISPLAYS || surface_id >= CLIENT_MAX_SURFACES ||
        !session->displays[display_channel]) {
        return CLOVE_E_STATE;
    }
    const struct client_surface *p = &session->displays[display_channel]->surfaces[surface_id];
    if (!p->used) {
        return CLOVE_E_STATE;
    }
    if (canvas_format_bpp(p->format) != 4) {
        return CLOVE_E_UNSUPPORTED;
    }
    frame->width = p->width;
    frame->height = p->height;
    frame->stride = p->stride;
    frame->pixels = p->pixels;
    return 0;
}

int clove_session_get_primary(const struct clove_session *session, struct clove_frame *frame)
{
    int rc = clove_session_get_surface(session, 0, 0, frame);
    return rc == CLOVE_E_UNSUPPORTED ? CLOVE_E_STATE : rc;
}

uint32_t clove_session_display_channels(const struct clove_session *session)
{
    uint32_t mask = 0;
    for (uint32_t i = 0; i < CLIENT_MAX_DISPLAYS; i++) {
        const struct client_display *d = session->displays[i];
        if (d && d->channel && d->channel->state == CHANNEL_READY) {
            mask |= 1u << i;
        }
    }
    return mask;
}

int clove_display_monitors(const struct clove_session *session, struct clove_monitor *heads,
                           int max)
{
    int n = 0;
    for (uint32_t i = 0; i < CLIENT_MAX_DISPLAYS; i++) {
        const struct client_display *d = session->displays[i];
        if (!d) {
            continue;
        }
        if (!d->has_monitors) {
            /* No MONITORS_CONFIG (yet): one head showing all of surface 0. */
            const struct client_surface *p = &d->surfaces[0];
            if (p->used) {
                if (heads && n < max) {
                    heads[n] = (struct clove_monitor){
                            .display_channel = i, .width = p->width, .height = p->height};
                }
                n++;
            }
            continue;
        }
        for (uint16_t k = 0; k < d->num_heads; k++) {
            const struct wire_head *h = &d->heads[k];
            if (heads && n < max) {
                heads[n] = (struct clove_monitor){.display_channel = i,
                                                  .id = h->id,
                                                  .surface_id = h->surface_id,
                                                  .x = (int32_t)h->x,
                                                  .y = (int32_t)h->y,
                                                  .width = h->width,
                                                  .height = h->height,
                                                  .flags = h->flags};
            }
            n++;
        }
    }
    return n;
}

uint32_t clove_session_mark_count(const struct clove_session *session)
{
    return session->marks;
}

void clove_session_set_area_callback(struct clove_session *session, clove_area_fn fn, void *opaque)
{
    session->area_fn = fn;
    session->area_opaque = opaque;
}

void clove_session_set_surface_area_callback(struct clove_session *session,
                                             clove_surface_area_fn fn, void *opaque)
{
    session->surface_area_fn = fn;
    session->surface_area_opaque = opaque;
}

void clove_session_set_monitors_callback(struct clove_session *session, clove_monitors_fn fn,
                                         void *opaque)
{
    session->monitors_fn = fn;
    session->monitors_opaque = opaque;
}

void clove_session_set_event_callback(struct clove_session *session, clove_event_fn fn,
                                      void *opaque)
{
    session->event_fn = fn;
    session->event_opaque = opaque;
}

const char *clove_session_get_name(const struct clove_session *session)
{
    return session->name;
}

bool clove_session_agent_connected(const struct clove_session *session)
{
    return session->agent_connected;
}

uint32_t clove_session_get_mm_time(const struct clove_session *session)
{
    if (!session->mm_time_known) {
        return 0;
    }
    return session->mm_time + (uint32_t)(loop_now_ms() - session->mm_time_at_ms);
}

int clove_session_get_mouse_mode(const struct clove_session *session)
{
    return (int)session->mouse_mode;
}

int clove_session_get_cursor(const struct clove_session *session, struct clove_cursor *cursor)
{
    const struct cursor_state *c = &session->cursor_state;
    if (!c->current) {
        return CLOVE_E_STATE;
    }
    *cursor = (struct clove_cursor){
            .width = c->current->width,
            .height = c->current->height,
            .hot_x = c->current->hot_x,
            .hot_y = c->current->hot_y,
            .argb = c->current->argb,
            .visible = c->visible,
            .x = c->x,
            .y = c->y,
            .serial = c->serial,
    };
    return 0;
}

void clove_session_get_stats(const struct clove_session *session, struct clove_stats *stats)
{
    *stats = (struct clove_stats){
            .rx_bytes = session->rx_bytes,
            .tx_bytes = session->tx_bytes,
            .marks = session->marks,
            .rtt_us = -1,
    };
    const struct client_channel *m = session->main;
    if (m && m->socket_fd >= 0 && m->state != CHANNEL_CONNECTING) {
        struct tcp_info info;
        socklen_t len = sizeof(info);
        if (getsockopt(m->socket_fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0) {
            stats->rtt_us = info.tcpi_rtt;
        }
    }
}
