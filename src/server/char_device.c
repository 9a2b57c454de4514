/*
 * Char devices and the vdagent: the host side of spice-char.h and the agent
 * traffic of the main channel (see char_device.h for the protocol).
 *
 * DESIGN
 * Every char device the host adds gets a SpiceCharDeviceState (sin->st) on
 * the server's list. Only "vdagent" does anything yet: it owns a struct
 * agent_device with
 *   - the guest -> client path: an agent_reader that reads exactly up to the
 *     next piece boundary, an agent_filter (read_filter) for message
 *     boundaries and policy, and a broadcast of each piece to the sessions
 *     that sent AGENT_START;
 *   - the client -> guest path: one agent_filter per session, so a client's
 *     stream is followed on its own, and a FIFO of chunks for sif->write,
 *     written as far as the device takes them.
 * Reading stops while a started client has no token left, or while the VM
 * is stopped; a token or a wakeup starts it again.
 *
 * The device's callbacks may call back into us (a write can trigger
 * spice_server_char_device_wakeup, a read can make us detach the agent on a
 * protocol error), so the read and write loops are guarded against
 * re-entry: a nested call only asks the running loop for another round.
 * Detaching never frees: the state lives until remove_interface.
 *
 * INVARIANTS
 * - s->agent is set exactly while a vdagent device is added; dev->detached
 *   means it was cut off after a protocol error (the reference does the
 *   same: the guest must reopen its port).
 * - Client data in the write queue is bounded by the clients' tokens, and
 *   server messages by one pending mouse state plus one CLIENT_DISCONNECTED.
 */
#include "server/char_device.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "server/agent.h"
#include "server/export.h"
#include "server/server.h"
#include "server/worker_priv.h"

enum char_device_kind {
    CHAR_DEVICE_IDLE, /* a subtype we accept and leave alone */
    CHAR_DEVICE_VDAGENT,
};

struct agent_device;

struct SpiceCharDeviceState {
    struct SpiceCharDeviceState *next;
    struct RedsState *server;
    SpiceCharDeviceInstance *sin; /* borrowed from the host */
    enum char_device_kind kind;
    struct agent_device *agent; /* owns, for CHAR_DEVICE_VDAGENT */
};

/* One chunk waiting for sif->write. */
struct write_item {
    struct write_item *next;
    uint32_t session_id; /* the client whose token it holds; 0: the server's own */
    bool mouse;          /* a VD_AGENT_MOUSE_STATE that may still be replaced */
    size_t len;
    size_t pos; /* bytes already written */
    uint8_t data[];
};

/* A session as the agent sees it. */
struct agent_client {
    struct agent_client *next;
    uint32_t session_id;
    uint32_t send_tokens;      /* AGENT_DATA we may still send it */
    uint32_t client_tokens;    /* AGENT_DATA it may still send us */
    uint32_t tokens_to_return; /* consumed and done with, not yet returned */
    struct agent_filter write_filter;
    struct agent_monitors monitors;
};

struct agent_device {
    struct RedsState *server;
    struct SpiceCharDeviceState *state;
    SpiceCharDeviceInstance *sin;
    const SpiceCharDeviceInterface *sif;
    bool running;
    bool detached;

    struct agent_reader reader;
    struct agent_filter read_filter;
    bool reading, read_again;

    struct write_item *write_head, *write_tail;
    struct write_item *pending_mouse; /* unsent mouse state in the queue */
    bool writing, write_again;
    struct loop_timer *retry_timer;

    struct agent_client *clients;

    /* The last client mouse state sent through the agent. */
    uint32_t mouse_x, mouse_y;
    uint8_t mouse_display;
    uint32_t pending_buttons; /* of pending_mouse */
    unsigned mouse_queued;    /* mouse states queued and not fully written */
};

/* Button changes are kept apart (a click must not vanish); beyond this many
 * unwritten mouse states even they replace the last one. */
#define AGENT_MAX_QUEUED_MOUSE 64

static const SpiceCharDeviceInterface *char_interface(SpiceCharDeviceInstance *sin)
{
    return SPICE_CONTAINEROF(sin->base.sif, SpiceCharDeviceInterface, base);
}

/* ---- clients ------------------------------------------------------------- */

static struct agent_client *agent_find_client(struct agent_device *dev, uint32_t session_id)
{
    for (struct agent_client *c = dev->clients; c != NULL; c = c->next) {
        if (c->session_id == session_id) {
            return c;
        }
    }
    return NULL;
}

static void agent_client_free(struct agent_client *c)
{
    agent_monitors_finish(&c->monitors);
    free(c);
}

static void agent_free_clients(struct agent_device *dev)
{
    while (dev->clients != NULL) {
        struct agent_client *c = dev->clients;
        dev->clients = c->next;
        agent_client_free(c);
    }
}

static struct main_channel_client *session_main(struct RedsState *s, uint32_t session_id)
{
    struct session *session = server_find_session(s, session_id);
    return session != NULL ? session->main : NULL;
}

/* One more client token is done with; returns them in batches. */
static void agent_return_token(struct agent_device *dev, struct agent_client *c)
{
    c->tokens_to_return++;
    if (c->tokens_to_return < CHAR_DEVICE_TOKENS_TO_SEND) {
        return;
    }
    uint32_t tokens = c->tokens_to_return;
    c->tokens_to_return = 0;
    /* Last use of c: a failed send may close the session and free it. */
    struct main_channel_client *mcc = session_main(dev->server, c->session_id);
    if (mcc != NULL) {
        main_channel_client_send_agent_token(mcc, tokens);
    }
}

static bool agent_use_client_monitors_config(const struct RedsState *s);

/* ---- writing to the device ---------------------------------------------- */

static void write_item_done(struct agent_device *dev, struct write_item *item)
{
    if (item->mouse) {
        dev->mouse_queued--;
    }
    if (item->session_id != 0) {
        struct agent_client *c = agent_find_client(dev, item->session_id);
        if (c != NULL) {
            agent_return_token(dev, c);
        }
    }
    if (dev->pending_mouse == item) {
        dev->pending_mouse = NULL;
    }
    free(item);
}

static void agent_write(struct agent_device *dev)
{
    if (!dev->running || dev->detached) {
        return;
    }
    if (dev->writing) {
        dev->write_again = true;
        return;
    }
    dev->writing = true;
    int retries = 0;
    loop_timer_cancel(dev->server->loop, dev->retry_timer);
    while (dev->write_head != NULL && dev->running && !dev->detached) {
        struct write_item *item = dev->write_head;
        size_t left = item->len - item->pos;
        int n = dev->sif->write(dev->sin, item->data + item->pos, (int)left);
        if (n <= 0) {
            if (dev->write_again && ++retries < 16) {
                /* A wakeup came during the write: the device may have room
                 * now (bounded: a device that always says so and never takes
                 * a byte must not hang the loop; the timer retries). */
                dev->write_again = false;
                continue;
            }
            break;
        }
        retries = 0;
        item->pos += (size_t)n < left ? (size_t)n : left;
        if (item == dev->pending_mouse) {
            dev->pending_mouse = NULL; /* (partly) written: no longer replaceable */
        }
        if (item->pos == item->len) {
            dev->write_head = item->next;
            if (dev->write_head == NULL) {
                dev->write_tail = NULL;
            }
            write_item_done(dev, item);
        }
    }
    dev->writing = false;
    dev->write_again = false;
    if (dev->write_head != NULL && dev->running && !dev->detached) {
        loop_timer_start(dev->server->loop, dev->retry_timer, CHAR_DEVICE_WRITE_RETRY_MS);
    }
}

static void agent_retry_timer(void *opaque)
{
    agent_write(opaque);
}

static struct write_item *agent_queue(struct agent_device *dev, uint32_t session_id, size_t len)
{
    struct write_item *item = malloc(sizeof(*item) + len);
    if (item == NULL) {
        return NULL;
    }
    item->next = NULL;
    item->session_id = session_id;
    item->mouse = false;
    item->len = len;
    item->pos = 0;
    if (dev->write_tail != NULL) {
        dev->write_tail->next = item;
    } else {
        dev->write_head = item;
    }
    dev->write_tail = item;
    return item;
}

static void agent_free_queue(struct agent_device *dev)
{
    while (dev->write_head != NULL) {
        struct write_item *item = dev->write_head;
        dev->write_head = item->next;
        free(item);
    }
    dev->write_tail = NULL;
    dev->pending_mouse = NULL;
    dev->mouse_queued = 0;
}

static void agent_send_server_message(struct agent_device *dev, uint32_t type, const void *payload,
                                      uint32_t size)
{
    struct write_item *item = agent_queue(dev, 0, agent_server_message_size(size));
    if (item == NULL) {
        log_warn("vdagent: out of memory for agent message %u", type);
        return;
    }
    agent_server_message_write(item->data, type, payload, size);
    agent_write(dev);
}

/* ---- reading from the device --------------------------------------------- */

static void agent_detach(struct agent_device *dev, bool tell_clients);

/* Every started client can take one more AGENT_DATA. */
static bool agent_clients_can_receive(const struct agent_device *dev)
{
    for (const struct agent_client *c = dev->clients; c != NULL; c = c->next) {
        if (c->send_tokens == 0) {
            return false;
        }
    }
    return true;
}

static void agent_handle_piece(struct agent_device *dev, struct agent_piece *piece)
{
    struct RedsState *s = dev->server;
    enum agent_filter_result res;
    const char *err = NULL;
    switch (piece->port) {
    case VDP_CLIENT_PORT:
        res = agent_filter_process(&dev->read_filter, piece->data, piece->len, &err);
        break;
    case VDP_SERVER_PORT:
        /* Nothing the agent says to the server needs an answer yet. */
        res = AGENT_FILTER_DISCARD;
        break;
    default:
        res = AGENT_FILTER_PROTO_ERROR;
        err = "chunk for an unknown port";
        break;
    }
    switch (res) {
    case AGENT_FILTER_OK:
        if (dev->read_filter.piece_starts_message) {
            agent_adjust_capabilities(piece->data, piece->len, s->agent_copypaste,
                                      s->agent_file_xfer);
        }
        for (struct agent_client *c = dev->clients, *next; c != NULL; c = next) {
            next = c->next; /* a failed send may close c's session and free c */
            struct main_channel_client *mcc = session_main(s, c->session_id);
            if (mcc == NULL) {
                continue;
            }
            if (c->send_tokens > 0) {
                c->send_tokens--;
            }
            main_channel_client_send_agent_data(mcc, piece->data, piece->len);
        }
        return;
    case AGENT_FILTER_PROTO_ERROR:
        log_ratelimited(LOG_LEVEL_WARN, "vdagent: %s; detaching the agent", err ? err : "error");
        agent_detach(dev, true);
        return;
    case AGENT_FILTER_MONITORS_CONFIG: /* guest -> client: nobody needs it */
    case AGENT_FILTER_DISCARD:
        return;
    }
}

static void agent_read(struct agent_device *dev)
{
    if (!dev->running || dev->detached) {
        return;
    }
    if (dev->reading) {
        dev->read_again = true;
        return;
    }
    dev->reading = true;
    do {
        dev->read_again = false;
        while (dev->running && !dev->detached) {
            if (agent_reader_at_piece_boundary(&dev->reader) && !agent_clients_can_receive(dev)) {
                break;
            }
            size_t want = 0;
            uint8_t *dst = agent_reader_next(&dev->reader, &want);
            int n = dev->sif->read(dev->sin, dst, (int)want);
            if (n <= 0) {
                break;
            }
            struct agent_piece piece;
            if (agent_reader_advance(&dev->reader, (size_t)n, &piece) == 1) {
                agent_handle_piece(dev, &piece);
            }
        }
    } while (dev->read_again && dev->running && !dev->detached);
    dev->reading = false;
}

static void agent_wakeup(struct agent_device *dev)
{
    agent_write(dev);
    agent_read(dev);
}

/* ---- attach / detach ----------------------------------------------------- */

static void agent_reset_streams(struct agent_device *dev)
{
    struct RedsState *s = dev->server;
    agent_reader_init(&dev->reader);
    agent_filter_init(&dev->read_filter, s->agent_copypaste, s->agent_file_xfer,
                      agent_use_client_monitors_config(s), s->sessions == NULL);
}

static void agent_broadcast_connected(struct RedsState *s, bool connected)
{
    for (struct session *session = s->sessions, *next; session != NULL; session = next) {
        next = session->next; /* a failed send may close this session */
        if (session->main == NULL) {
            continue;
        }
        if (connected) {
            main_channel_client_send_agent_connected(session->main);
        } else {
            main_channel_client_send_agent_disconnected(session->main);
        }
    }
}

/*
 * Cuts the agent off: no more reads or writes, the device is told it is
 * disconnected, clients are told the agent is gone. The state stays until
 * remove_interface.
 */
static void agent_detach(struct agent_device *dev, bool tell_clients)
{
    if (dev->detached) {
        return;
    }
    struct RedsState *s = dev->server;
    dev->detached = true;
    loop_timer_cancel(s->loop, dev->retry_timer);
    agent_free_queue(dev);
    agent_free_clients(dev);
    if (dev->sif->state != NULL) {
        dev->sif->state(dev->sin, 0);
    }
    server_update_mouse_mode(s);
    if (tell_clients) {
        agent_broadcast_connected(s, false);
    }
}

static struct agent_device *agent_create(struct RedsState *s, struct SpiceCharDeviceState *st)
{
    struct agent_device *dev = calloc(1, sizeof(*dev));
    if (dev == NULL) {
        return NULL;
    }
    dev->retry_timer = loop_timer_add(s->loop, agent_retry_timer, dev);
    if (dev->retry_timer == NULL) {
        free(dev);
        return NULL;
    }
    dev->server = s;
    dev->state = st;
    dev->sin = st->sin;
    dev->sif = char_interface(st->sin);
    dev->running = s->vm_running;
    agent_reset_streams(dev);
    return dev;
}

static void agent_destroy(struct agent_device *dev)
{
    if (dev == NULL) {
        return;
    }
    loop_timer_remove(dev->server->loop, dev->retry_timer);
    agent_free_queue(dev);
    agent_free_clients(dev);
    free(dev);
}

/* ---- public entry points -------------------------------------------------- */

static bool subtype_is(const SpiceCharDeviceInstance *sin, const char *name)
{
    return sin->subtype != NULL && strcmp(sin->subtype, name) == 0;
}

int char_device_add(struct RedsState *s, SpiceCharDeviceInstance *sin)
{
    const SpiceBaseInterface *base = sin->base.sif;
    if (base->major_version != SPICE_INTERFACE_CHAR_DEVICE_MAJOR) {
        log_warn("char device %s: interface %u.%u is not compatible",
                 sin->subtype ? sin->subtype : "?", base->major_version, base->minor_version);
        return -1;
    }
    if (sin->st != NULL) {
        log_warn("char device %s: added twice", sin->subtype ? sin->subtype : "?");
        return -1;
    }
    if (!s->loop) {
        log_warn("char device %s: added before spice_server_init",
                 sin->subtype ? sin->subtype : "?");
        return -1;
    }
    enum char_device_kind kind;
    if (subtype_is(sin, "vdagent")) {
        if (s->agent != NULL) {
            log_warn("a vdagent char device is already attached");
            return -1;
        }
        kind = CHAR_DEVICE_VDAGENT;
    } else if (subtype_is(sin, "usbredir") || subtype_is(sin, "smartcard") ||
               subtype_is(sin, "port")) {
        log_once("char device %s%s%s: not supported yet; it stays idle", sin->subtype,
                 sin->portname ? " " : "", sin->portname ? sin->portname : "");
        kind = CHAR_DEVICE_IDLE;
    } else {
        log_warn("char device: unknown subtype \"%s\"", sin->subtype ? sin->subtype : "(null)");
        return -1;
    }

    struct SpiceCharDeviceState *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        return -1;
    }
    st->server = s;
    st->sin = sin;
    st->kind = kind;
    if (kind == CHAR_DEVICE_VDAGENT) {
        st->agent = agent_create(s, st);
        if (st->agent == NULL) {
            free(st);
            return -1;
        }
    }
    st->next = s->char_devices;
    s->char_devices = st;
    sin->st = st;

    if (kind == CHAR_DEVICE_VDAGENT) {
        struct agent_device *dev = st->agent;
        s->agent = dev;
        log_info("vdagent attached");
        server_update_mouse_mode(s);
        if (dev->sif->state != NULL) {
            dev->sif->state(sin, 1);
        }
        agent_broadcast_connected(s, true);
        agent_wakeup(dev);
    }
    return 0;
}

static void char_device_state_free(struct SpiceCharDeviceState *st)
{
    struct RedsState *s = st->server;
    for (struct SpiceCharDeviceState **p = &s->char_devices; *p != NULL; p = &(*p)->next) {
        if (*p == st) {
            *p = st->next;
            break;
        }
    }
    if (st->agent != NULL) {
        if (s->agent == st->agent) {
            s->agent = NULL;
        }
        agent_destroy(st->agent);
    }
    st->sin->st = NULL;
    free(st);
}

int char_device_remove(SpiceCharDeviceInstance *sin)
{
    struct SpiceCharDeviceState *st = sin->st;
    if (st == NULL) {
        return 0;
    }
    struct RedsState *s = st->server;
    if (st->agent != NULL) {
        log_info("vdagent detached");
        bool was_attached = !st->agent->detached;
        agent_detach(st->agent, was_attached);
        s->agent = NULL;
        server_update_mouse_mode(s);
    }
    char_device_state_free(st);
    return 0;
}

void char_device_destroy_all(struct RedsState *s)
{
    while (s->char_devices != NULL) {
        char_device_state_free(s->char_devices);
    }
    s->agent = NULL;
}

void char_device_set_running(struct RedsState *s, bool running)
{
    struct agent_device *dev = s->agent;
    if (dev == NULL) {
        return;
    }
    dev->running = running;
    if (running) {
        agent_wakeup(dev);
    } else {
        loop_timer_cancel(s->loop, dev->retry_timer);
    }
}

void char_device_update_config(struct RedsState *s)
{
    struct agent_device *dev = s->agent;
    if (dev == NULL) {
        return;
    }
    bool monitors = agent_use_client_monitors_config(s);
    agent_filter_config(&dev->read_filter, s->agent_copypaste, s->agent_file_xfer, monitors);
    for (struct agent_client *c = dev->clients; c != NULL; c = c->next) {
        agent_filter_config(&c->write_filter, s->agent_copypaste, s->agent_file_xfer, monitors);
    }
}

bool char_device_agent_attached(const struct RedsState *s)
{
    return s->agent != NULL && !s->agent->detached;
}

bool char_device_agent_mouse_enabled(const struct RedsState *s)
{
    return s->agent_mouse && char_device_agent_attached(s);
}

SPICE_EXPORT void spice_server_char_device_wakeup(SpiceCharDeviceInstance *sin)
{
    if (sin == NULL || sin->st == NULL) {
        log_once("spice_server_char_device_wakeup: device %s was not added",
                 sin != NULL && sin->subtype != NULL ? sin->subtype : "?");
        return;
    }
    if (sin->st->agent != NULL) {
        agent_wakeup(sin->st->agent);
    }
}

/* ---- main channel hooks -------------------------------------------------- */

void char_device_session_opened(struct RedsState *s, struct session *session)
{
    struct agent_device *dev = s->agent;
    (void)session;
    if (dev != NULL && !dev->detached) {
        /* Someone listens again: pieces of new messages reach the clients. */
        dev->read_filter.discard_all = false;
    }
}

void char_device_session_closed(struct RedsState *s, struct session *session)
{
    struct agent_device *dev = s->agent;
    if (dev == NULL || dev->detached) {
        return;
    }
    for (struct agent_client **p = &dev->clients; *p != NULL; p = &(*p)->next) {
        if ((*p)->session_id == session->id) {
            struct agent_client *c = *p;
            *p = c->next;
            agent_client_free(c);
            break;
        }
    }
    if (s->sessions == NULL) {
        /* The last client left: tell the agent, drop the rest of what it
         * is saying, and start clean for the next client. */
        agent_send_server_message(dev, VD_AGENT_CLIENT_DISCONNECTED, NULL, 0);
        dev->read_filter.discard_all = true;
        dev->read_filter.result = AGENT_FILTER_DISCARD;
    }
    agent_read(dev); /* a client without tokens may have held reading back */
}

void char_device_agent_start(struct RedsState *s, struct session *session, uint32_t tokens)
{
    struct agent_device *dev = s->agent;
    if (dev == NULL || dev->detached) {
        return;
    }
    struct agent_client *c = agent_find_client(dev, session->id);
    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            log_warn("vdagent: out of memory for client %u", session->id);
            return;
        }
        c->session_id = session->id;
        agent_monitors_init(&c->monitors);
        c->next = dev->clients;
        dev->clients = c;
    }
    c->send_tokens = tokens;
    c->client_tokens = CHAR_DEVICE_AGENT_TOKENS;
    c->tokens_to_return = 0;
    agent_filter_init(&c->write_filter, s->agent_copypaste, s->agent_file_xfer,
                      agent_use_client_monitors_config(s), false);
    dev->read_filter.discard_all = false;
    agent_read(dev);
}

void char_device_agent_tokens(struct RedsState *s, struct session *session, uint32_t tokens)
{
    struct agent_device *dev = s->agent;
    if (dev == NULL || dev->detached) {
        return;
    }
    struct agent_client *c = agent_find_client(dev, session->id);
    if (c == NULL) {
        return;
    }
    c->send_tokens = tokens > UINT32_MAX - c->send_tokens ? UINT32_MAX : c->send_tokens + tokens;
    agent_read(dev);
}

/* ---- client monitors config --------------------------------------------- */

static bool qxl_takes_monitors_config(struct worker *w)
{
    const QXLInterface *qif = w->qif;
    return qif != NULL && qif->base.major_version == 3 && qif->base.minor_version >= 3 &&
           qif->client_monitors_config != NULL;
}

/*
 * The reference lets the display devices handle the client's monitors config
 * when every QXL device implements client_monitors_config and says yes when
 * asked with NULL; otherwise the config goes to the agent.
 */
static bool agent_use_client_monitors_config(const struct RedsState *s)
{
    if (s->num_workers == 0) {
        return false;
    }
    for (int i = 0; i < s->num_workers; i++) {
        struct worker *w = s->workers[i];
        if (!qxl_takes_monitors_config(w) || !w->qif->client_monitors_config(w->qxl, NULL)) {
            return false;
        }
    }
    return true;
}

static void agent_deliver_monitors_config(struct RedsState *s, VDAgentMonitorsConfig *config)
{
    log_info("client monitors config: %u monitor(s)", config->num_of_monitors);
    for (int i = 0; i < s->num_workers; i++) {
        struct worker *w = s->workers[i];
        if (qxl_takes_monitors_config(w) && !w->qif->client_monitors_config(w->qxl, config)) {
            log_debug("qxl %d: client_monitors_config declined", i);
        }
    }
}

int char_device_agent_data(struct RedsState *s, struct session *session, const uint8_t *data,
                           size_t len)
{
    struct agent_device *dev = s->agent;
    if (dev == NULL || dev->detached) {
        return 0; /* sent before the client saw AGENT_DISCONNECTED */
    }
    struct agent_client *c = agent_find_client(dev, session->id);
    if (c == NULL) {
        return 0; /* before AGENT_START: the reference drops it too */
    }
    if (c->client_tokens == 0) {
        log_ratelimited(LOG_LEVEL_WARN, "client %u: agent data without a token", session->id);
        return CLOVE_E_STATE;
    }
    c->client_tokens--;
    const char *err = NULL;
    switch (agent_filter_process(&c->write_filter, data, len, &err)) {
    case AGENT_FILTER_OK: {
        struct write_item *item = agent_queue(dev, session->id, AGENT_CHUNK_HEADER_SIZE + len);
        if (item == NULL) {
            return CLOVE_E_NOMEM;
        }
        agent_chunk_header_write(item->data, VDP_CLIENT_PORT, (uint32_t)len);
        memcpy(item->data + AGENT_CHUNK_HEADER_SIZE, data, len);
        agent_write(dev);
        return 0;
    }
    case AGENT_FILTER_DISCARD:
        agent_return_token(dev, c);
        return 0;
    case AGENT_FILTER_MONITORS_CONFIG: {
        agent_return_token(dev, c);
        int rc = agent_monitors_push(&c->monitors, data, len, &err);
        if (rc < 0) {
            log_ratelimited(LOG_LEVEL_WARN, "client %u: invalid monitors config: %s", session->id,
                            err ? err : "?");
            return rc;
        }
        if (rc == 1) {
            agent_deliver_monitors_config(s, c->monitors.config);
        }
        return 0;
    }
    case AGENT_FILTER_PROTO_ERROR:
    default:
        log_ratelimited(LOG_LEVEL_WARN, "client %u: %s", session->id, err ? err : "agent error");
        return CLOVE_E_INVALID;
    }
}

static void agent_send_mouse(struct agent_device *dev, uint32_t agent_buttons)
{
    uint8_t state[AGENT_MOUSE_STATE_SIZE];
    agent_mouse_state_write(state, dev->mouse_x, dev->mouse_y, agent_buttons, dev->mouse_display);
    if (dev->pending_mouse != NULL &&
        (dev->pending_buttons == agent_buttons || dev->mouse_queued >= AGENT_MAX_QUEUED_MOUSE)) {
        /* Not written yet: the newest position replaces it. */
        agent_server_message_write(dev->pending_mouse->data, VD_AGENT_MOUSE_STATE, state,
                                   sizeof(state));
        dev->pending_buttons = agent_buttons;
        agent_write(dev);
        return;
    }
    struct write_item *item =
            agent_queue(dev, 0, agent_server_message_size(AGENT_MOUSE_STATE_SIZE));
    if (item == NULL) {
        return;
    }
    item->mouse = true;
    agent_server_message_write(item->data, VD_AGENT_MOUSE_STATE, state, sizeof(state));
    dev->pending_mouse = item;
    dev->pending_buttons = agent_buttons;
    dev->mouse_queued++;
    agent_write(dev);
}

/* SPICE_MOUSE_BUTTON_MASK_* are the agent's VD_AGENT_*BUTTON_MASK shifted by one. */
static uint32_t agent_buttons(uint16_t buttons_state)
{
    return (uint32_t)(buttons_state &
                      (SPICE_MOUSE_BUTTON_MASK_LEFT | SPICE_MOUSE_BUTTON_MASK_MIDDLE |
                       SPICE_MOUSE_BUTTON_MASK_RIGHT))
           << 1;
}

void char_device_agent_mouse_position(struct RedsState *s, uint32_t x, uint32_t y,
                                      uint16_t buttons_state, uint8_t display_id)
{
    struct agent_device *dev = s->agent;
    if (dev == NULL || dev->detached) {
        return;
    }
    dev->mouse_x = x;
    dev->mouse_y = y;
    dev->mouse_display = display_id;
    agent_send_mouse(dev, agent_buttons(buttons_state));
}

void char_device_agent_mouse_button(struct RedsState *s, uint8_t button, uint16_t buttons_state,
                                    bool press)
{
    struct agent_device *dev = s->agent;
    if (dev == NULL || dev->detached) {
        return;
    }
    uint32_t buttons = agent_buttons(buttons_state);
    if (press && button == SPICE_MOUSE_BUTTON_UP) {
        buttons |= VD_AGENT_UBUTTON_MASK;
    } else if (press && button == SPICE_MOUSE_BUTTON_DOWN) {
        buttons |= VD_AGENT_DBUTTON_MASK;
    }
    agent_send_mouse(dev, buttons);
}
