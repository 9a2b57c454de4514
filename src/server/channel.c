/*
 * The channel-client base (see channel.h for the contract).
 *
 * DESIGN
 * Receive: bytes are read into one fixed buffer (large enough for the
 * biggest message we accept plus a header) and every complete message in it
 * is dispatched before reading again, so a burst of small input messages
 * costs one read. A header announcing a body over CLIENT_MSG_MAX_SIZE closes
 * the client: nothing a client may send is that big.
 *
 * Send: a FIFO of out_msg, each a per-client header plus a reference to a
 * shared body, written with writev in batches. A deferred entry (a draw)
 * holds an item and gets its body from ops->build only when the writes
 * reach it (at most TX_PREPARE_BYTES ahead of the socket, and never past
 * the ack window), so what a client has not started stays droppable and
 * per-client encoder state changes in send order. Messages queued while an
 * entry is being built (a cache invalidation it causes) go before it. With acks enabled, a message
 * counts against the window when it is taken from the queue; once
 * 2 * window messages are unacknowledged the queue stops, as the reference
 * does. Queued bytes are bounded; a client that never reads is dropped.
 *
 * Lifetime: every entry point from the loop bumps `busy`; close() while busy
 * only marks the client, and the last exit finishes the close. So ops
 * callbacks may close their own client.
 */
#include "server/channel.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "common/error.h"
#include "common/log.h"
#include "proto/header.h"
#include "proto/server_msg.h"

#define RX_BUF_SIZE (CLIENT_MSG_MAX_SIZE + MSG_HEADER_FULL_SIZE)
#define TX_BATCH    64

/* Deferred entries built ahead of the socket at most this far (bytes). */
#define TX_PREPARE_BYTES (256u * 1024)
/* Consecutive deferred entries offered to one build (to merge them). */
#define TX_RUN_MAX 64

struct out_msg {
    struct out_msg *next;
    struct shared_msg *msg; /* NULL until a deferred entry is built */
    void *item;             /* a deferred entry not built yet: passed to ops */
    const struct channel_deferred_ops *ops;
    size_t counted; /* what it adds to tx_queued_bytes */
    uint8_t header[MSG_HEADER_FULL_SIZE];
    uint8_t header_size;
    bool header_ready; /* written when the message is about to go, so serials never skip */
};

static uint64_t env_limit(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        return def;
    }
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    return *end == '\0' && n > 0 ? n : def;
}

static pthread_once_t limits_once = PTHREAD_ONCE_INIT;
static size_t limit_queued_bytes;
static uint32_t limit_stall_ms;

static void read_limits(void)
{
    limit_queued_bytes = (size_t)env_limit("CLOVE_MAX_QUEUED_BYTES", CHANNEL_MAX_QUEUED_BYTES);
    uint64_t stall = env_limit("CLOVE_STALL_TIMEOUT_MS", CHANNEL_STALL_TIMEOUT_MS);
    limit_stall_ms = stall > UINT32_MAX ? UINT32_MAX : (uint32_t)stall;
}

size_t channel_max_queued_bytes(void)
{
    pthread_once(&limits_once, read_limits);
    return limit_queued_bytes;
}

uint32_t channel_stall_timeout_ms(void)
{
    pthread_once(&limits_once, read_limits);
    return limit_stall_ms;
}

struct shared_msg *shared_msg_create(uint16_t type, const void *data, size_t size)
{
    if (size > UINT32_MAX) {
        return NULL;
    }
    struct shared_msg *m = malloc(sizeof(*m) + size);
    if (!m) {
        return NULL;
    }
    m->refs = 1;
    m->type = type;
    m->size = (uint32_t)size;
    m->data = m->inline_data;
    if (size) {
        memcpy(m->data, data, size);
    }
    return m;
}

struct shared_msg *shared_msg_from_buf(uint16_t type, struct byte_buf *b)
{
    if (!buf_ok(b) || b->len > UINT32_MAX) {
        return NULL;
    }
    struct shared_msg *m = malloc(sizeof(*m));
    if (!m) {
        return NULL;
    }
    m->refs = 1;
    m->type = type;
    m->size = (uint32_t)b->len;
    m->data = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return m;
}

struct shared_msg *shared_msg_ref(struct shared_msg *m)
{
    __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
    return m;
}

void shared_msg_unref(struct shared_msg *m)
{
    if (m && __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        if (m->data != m->inline_data) {
            free(m->data);
        }
        free(m);
    }
}

static void channel_client_update_watch(struct channel_client *cc);
static void channel_client_arm_stall(struct channel_client *cc);
static void channel_client_on_readable(struct channel_client *cc);
static void channel_client_on_rx_timer(void *opaque);
static void channel_client_flush(struct channel_client *cc);
static void channel_client_enqueue(struct channel_client *cc, struct out_msg *o);
static void channel_client_maybe_finish_close(struct channel_client *cc);

static void copy_caps(uint32_t *dst, const uint8_t *words, uint32_t num)
{
    memset(dst, 0, 4 * sizeof(uint32_t));
    for (uint32_t i = 0; i < num && i < 4; i++) {
        dst[i] = get_u32le(words + 4 * i);
    }
}

void channel_client_init(struct channel_client *cc, const struct channel_client_ops *ops,
                         struct loop *loop, struct stream *stream, const struct link_mess *link,
                         bool mini_header)
{
    memset(cc, 0, sizeof(*cc));
    cc->ops = ops;
    cc->loop = loop;
    cc->stream = stream;
    cc->connection_id = link->connection_id;
    cc->type = link->channel_type;
    cc->id = link->channel_id;
    cc->mini_header = mini_header;
    copy_caps(cc->common_caps, link->common_caps, link->num_common_caps);
    copy_caps(cc->channel_caps, link->channel_caps, link->num_channel_caps);
    cc->ack_window = CHANNEL_ACK_WINDOW;
    /* Held until the creator calls channel_client_kick(): nothing written
     * during setup can close (and free) the client under its creator. */
    cc->busy = 1;
}

bool channel_client_has_cap(const struct channel_client *cc, unsigned cap)
{
    return cap < 128 && (cc->channel_caps[cap / 32] >> (cap % 32)) & 1;
}

bool channel_client_has_common_cap(const struct channel_client *cc, unsigned cap)
{
    return cap < 128 && (cc->common_caps[cap / 32] >> (cap % 32)) & 1;
}

static int channel_client_handle_base(struct channel_client *cc, const struct client_msg *msg)
{
    switch (msg->type) {
    case SPICE_MSGC_ACK_SYNC:
        cc->client_synced = msg->u.ack_sync.generation == cc->ack_generation;
        return 0;
    case SPICE_MSGC_ACK:
        if (cc->handle_acks && cc->client_synced) {
            cc->unacked = cc->unacked > cc->ack_window ? cc->unacked - cc->ack_window : 0;
            channel_client_flush(cc);
        }
        return 0;
    case SPICE_MSGC_PONG: {
        uint64_t now = loop_now_ns();
        if (msg->u.pong.timestamp && msg->u.pong.timestamp <= now) {
            uint64_t rtt = now - msg->u.pong.timestamp;
            if (cc->latency_ns == 0 || rtt < cc->latency_ns) {
                cc->latency_ns = rtt;
            }
            log_debug("channel %u:%u: round trip %.3f ms (min %.3f ms)", cc->type, cc->id,
                      (double)rtt / 1e6, (double)cc->latency_ns / 1e6);
        }
        return 0;
    }
    case SPICE_MSGC_DISCONNECTING:
        log_info("channel %u:%u: client is disconnecting", cc->type, cc->id);
        return 0;
    case SPICE_MSGC_MIGRATE_FLUSH_MARK:
    case SPICE_MSGC_MIGRATE_DATA:
        return 0;
    default:
        return CLOVE_E_UNSUPPORTED;
    }
}

/* Dispatches every complete message in rx_buf. Returns < 0 to close. */
static int channel_client_process_rx(struct channel_client *cc)
{
    size_t pos = 0;
    size_t hsize = msg_header_size(cc->mini_header);
    while (!cc->closing) {
        struct msg_header h;
        int rc = msg_header_parse(cc->rx_buf + pos, cc->rx_len - pos, cc->mini_header, &h);
        if (rc == CLOVE_E_INCOMPLETE) {
            break;
        }
        if (rc < 0) {
            return rc;
        }
        if (h.size > CLIENT_MSG_MAX_SIZE) {
            log_ratelimited(LOG_LEVEL_WARN,
                            "channel %u:%u: message type %u announces %u bytes (limit %u); "
                            "closing the channel",
                            cc->type, cc->id, h.type, h.size, (unsigned)CLIENT_MSG_MAX_SIZE);
            return CLOVE_E_RANGE;
        }
        if (cc->rx_len - pos < hsize + h.size) {
            break;
        }
        const uint8_t *body = cc->rx_buf + pos + hsize;
        pos += hsize + h.size;

        struct client_msg msg;
        const char *err = NULL;
        rc = client_msg_parse(cc->type, h.type, body, h.size, &msg, &err);
        if (rc == CLOVE_E_UNSUPPORTED) {
            log_ratelimited(LOG_LEVEL_WARN, "channel %u:%u: ignoring unknown message type %u",
                            cc->type, cc->id, h.type);
            continue;
        }
        if (rc < 0) {
            log_ratelimited(LOG_LEVEL_WARN,
                            "channel %u:%u: bad message type %u (%u bytes): %s; closing", cc->type,
                            cc->id, h.type, h.size, err ? err : "invalid");
            return rc;
        }
        if (h.type < 100) {
            rc = channel_client_handle_base(cc, &msg);
            if (rc == CLOVE_E_UNSUPPORTED) {
                log_ratelimited(LOG_LEVEL_WARN, "channel %u:%u: ignoring base message %u", cc->type,
                                cc->id, h.type);
                rc = 0;
            }
        } else {
            rc = cc->ops->handle_message(cc, &msg);
        }
        if (rc < 0) {
            return rc;
        }
    }
    if (pos > 0) {
        memmove(cc->rx_buf, cc->rx_buf + pos, cc->rx_len - pos);
        cc->rx_len -= pos;
    }
    return 0;
}

static void channel_client_on_readable(struct channel_client *cc)
{
    for (int round = 0; !cc->closing; round++) {
        if (round == 16) {
            /* Let others run; bytes a TLS or websocket layer already decoded
             * will not wake the poll, so come back for them at once. */
            if (stream_pending(cc->stream) > 0) {
                if (!cc->rx_timer) {
                    cc->rx_timer = loop_timer_add(cc->loop, channel_client_on_rx_timer, cc);
                }
                loop_timer_start(cc->loop, cc->rx_timer, 0);
            }
            return;
        }
        ssize_t n = stream_read(cc->stream, cc->rx_buf + cc->rx_len, RX_BUF_SIZE - cc->rx_len);
        if (n == CLOVE_E_AGAIN) {
            return;
        }
        if (n < 0) {
            if (n == CLOVE_E_CLOSED) {
                log_info("channel %u:%u: client closed the connection", cc->type, cc->id);
            } else {
                log_info("channel %u:%u: read error, closing", cc->type, cc->id);
            }
            channel_client_close(cc);
            return;
        }
        cc->rx_len += (size_t)n;
        if (channel_client_process_rx(cc) < 0) {
            channel_client_close(cc);
            return;
        }
    }
}

static void channel_client_on_rx_timer(void *opaque)
{
    struct channel_client *cc = opaque;
    cc->busy++;
    if (!cc->closing) {
        channel_client_on_readable(cc);
    }
    cc->busy--;
    channel_client_maybe_finish_close(cc);
}

static void channel_client_on_io(int fd, int events, void *opaque)
{
    struct channel_client *cc = opaque;
    cc->busy++;
    if ((events & LOOP_READ) && !cc->closing) {
        channel_client_on_readable(cc);
    }
    if ((events & LOOP_WRITE) && !cc->closing) {
        channel_client_flush(cc);
    }
    cc->busy--;
    channel_client_maybe_finish_close(cc);
}

static void channel_client_on_ping(void *opaque)
{
    struct channel_client *cc = opaque;
    uint8_t body[12];
    put_u32le(body, ++cc->ping_id);
    uint64_t now = loop_now_ns();
    put_u32le(body + 4, (uint32_t)now);
    put_u32le(body + 8, (uint32_t)(now >> 32));
    cc->busy++;
    channel_client_send(cc, SPICE_MSG_PING, body, sizeof(body));
    if (cc->ping_interval_ms && !cc->closing) {
        loop_timer_start(cc->loop, cc->ping_timer, cc->ping_interval_ms);
    }
    cc->busy--;
    channel_client_maybe_finish_close(cc);
}

int channel_client_start(struct channel_client *cc)
{
    cc->rx_buf = malloc(RX_BUF_SIZE);
    if (!cc->rx_buf) {
        return CLOVE_E_NOMEM;
    }
    cc->watch = loop_watch_add(cc->loop, cc->stream->fd, LOOP_READ, channel_client_on_io, cc);
    if (!cc->watch) {
        return CLOVE_E_NOMEM;
    }
    return 0;
}

void channel_client_finish(struct channel_client *cc)
{
    loop_watch_remove(cc->loop, cc->watch);
    cc->watch = NULL;
    loop_timer_remove(cc->loop, cc->ping_timer);
    cc->ping_timer = NULL;
    loop_timer_remove(cc->loop, cc->rx_timer);
    cc->rx_timer = NULL;
    loop_timer_remove(cc->loop, cc->stall_timer);
    cc->stall_timer = NULL;
    loop_timer_remove(cc->loop, cc->pace_timer);
    cc->pace_timer = NULL;
    stream_destroy(cc->stream);
    cc->stream = NULL;
    while (cc->tx_head) {
        struct out_msg *o = cc->tx_head;
        cc->tx_head = o->next;
        shared_msg_unref(o->msg);
        if (o->item) {
            o->ops->release(cc, o->item, false);
        }
        free(o);
    }
    cc->tx_tail = NULL;
    free(cc->rx_buf);
    cc->rx_buf = NULL;
}

static bool channel_client_ack_blocked(const struct channel_client *cc)
{
    return cc->handle_acks && cc->unacked >= 2 * cc->ack_window;
}

bool channel_client_can_send(const struct channel_client *cc)
{
    return !cc->closing && !cc->tx_head && !channel_client_ack_blocked(cc);
}

size_t channel_client_queued_bytes(const struct channel_client *cc)
{
    return cc->tx_queued_bytes;
}

/*
 * True while a new burst waits for pace_ms after the previous one. Only a
 * burst that starts with a deferred entry (a draw, which later draws may
 * hide or merge with) waits: plain messages such as a new client's surfaces,
 * its first image and MARK go at once, so pacing never delays the first frame.
 */
static bool channel_client_paced(const struct channel_client *cc, uint64_t now)
{
    return cc->pace_ms && cc->tx_idle && cc->tx_head && cc->tx_head->ops &&
           now - cc->burst_end_ms < cc->pace_ms;
}

static void channel_client_on_pace_timer(void *opaque)
{
    struct channel_client *cc = opaque;
    if (cc->closing) {
        return;
    }
    channel_client_flush(cc);
}

void channel_client_set_pace(struct channel_client *cc, uint32_t ms)
{
    cc->pace_ms = ms;
}

static void channel_client_update_watch(struct channel_client *cc)
{
    if (!cc->watch || cc->closing) {
        return;
    }
    int events = LOOP_READ;
    if (cc->tx_head && !(cc->tx_head_sent == 0 && channel_client_ack_blocked(cc)) &&
        !channel_client_paced(cc, loop_now_ms())) {
        events |= LOOP_WRITE;
    }
    loop_watch_update(cc->loop, cc->watch, events);
}

/* Unlinks o (after prev) from the queue and frees it. */
static void channel_client_remove(struct channel_client *cc, struct out_msg *prev,
                                  struct out_msg *o)
{
    if (prev) {
        prev->next = o->next;
    } else {
        cc->tx_head = o->next;
    }
    if (cc->tx_tail == o) {
        cc->tx_tail = prev;
    }
    cc->tx_queued_bytes -= o->counted;
    shared_msg_unref(o->msg);
    free(o);
}

/*
 * Builds the deferred entries the next writev will take: up to TX_BATCH
 * messages or TX_PREPARE_BYTES, within the ack window. An entry whose
 * build returns NULL is dropped.
 */
static void channel_client_prepare(struct channel_client *cc)
{
    struct out_msg *prev = NULL;
    uint32_t window_msgs = 0;
    size_t ahead = 0;
    int count = 0;
    for (struct out_msg *o = cc->tx_head, *next; o && !cc->closing; o = next) {
        next = o->next;
        bool started = o == cc->tx_head && cc->tx_head_sent > 0;
        if (count >= TX_BATCH || ahead >= TX_PREPARE_BYTES ||
            (!started && cc->handle_acks && cc->unacked + window_msgs >= 2 * cc->ack_window)) {
            break;
        }
        if (!o->msg) {
            void *items[TX_RUN_MAX];
            size_t n = 0;
            for (struct out_msg *r = o; r && n < TX_RUN_MAX && r->item && r->ops == o->ops;
                 r = r->next) {
                items[n++] = r->item;
            }
            cc->tx_building = o;
            cc->tx_building_prev = prev;
            size_t consumed = 1;
            struct shared_msg *m = o->ops->build(cc, items, n, &consumed);
            prev = cc->tx_building_prev; /* messages it queued sit before it */
            cc->tx_building = cc->tx_building_prev = NULL;
            consumed = consumed < 1 ? 1 : consumed > n ? n : consumed;
            /* The entries merged into o's message leave the queue. */
            for (size_t k = 1; k < consumed; k++) {
                struct out_msg *r = o->next;
                void *item = r->item;
                r->item = NULL;
                r->ops->release(cc, item, true);
                cc->messages_merged++;
                channel_client_remove(cc, o, r);
            }
            next = o->next;
            void *item = o->item;
            o->item = NULL;
            o->ops->release(cc, item, true);
            if (!m) {
                cc->messages_dropped++;
                channel_client_remove(cc, prev, o);
                continue;
            }
            o->msg = m;
            size_t size = o->header_size + (size_t)m->size;
            cc->tx_queued_bytes = cc->tx_queued_bytes - o->counted + size;
            o->counted = size;
        }
        if (!started) {
            window_msgs++;
        }
        ahead += o->counted;
        count++;
        prev = o;
    }
}

/* Writes as much of the queue as the socket and the ack window take. */
static void channel_client_flush(struct channel_client *cc)
{
    cc->busy++;
    uint64_t now = loop_now_ms();
    if (channel_client_paced(cc, now)) {
        if (!cc->pace_timer) {
            cc->pace_timer = loop_timer_add(cc->loop, channel_client_on_pace_timer, cc);
        }
        if (cc->pace_timer) {
            loop_timer_start(cc->loop, cc->pace_timer,
                             (uint32_t)(cc->pace_ms - (now - cc->burst_end_ms)));
            channel_client_update_watch(cc);
            cc->busy--;
            channel_client_maybe_finish_close(cc);
            return;
        }
    }
    cc->tx_idle = false;
    while (cc->tx_head && !cc->closing) {
        channel_client_prepare(cc);
        if (!cc->tx_head || cc->closing) {
            break;
        }
        struct iovec iov[TX_BATCH * 2];
        int iovcnt = 0;
        size_t skip = cc->tx_head_sent;
        uint32_t window_msgs = 0;
        for (struct out_msg *o = cc->tx_head; o && o->msg && iovcnt < TX_BATCH * 2; o = o->next) {
            bool started = o == cc->tx_head && cc->tx_head_sent > 0;
            if (!started && cc->handle_acks && cc->unacked + window_msgs >= 2 * cc->ack_window) {
                break;
            }
            if (!started) {
                window_msgs++;
            }
            if (!o->header_ready) {
                msg_header_write_at(o->header, cc->mini_header, ++cc->serial, o->msg->type,
                                    o->msg->size);
                o->header_ready = true;
            }
            size_t hs = o->header_size;
            if (skip < hs) {
                iov[iovcnt].iov_base = o->header + skip;
                iov[iovcnt].iov_len = hs - skip;
                iovcnt++;
                skip = 0;
            } else {
                skip -= hs;
            }
            if (o->msg->size > skip) {
                iov[iovcnt].iov_base = o->msg->data + skip;
                iov[iovcnt].iov_len = o->msg->size - skip;
                iovcnt++;
            }
            skip = 0;
        }
        if (iovcnt == 0) {
            break; /* ack window closed (or nothing could be built) */
        }
        ssize_t n = stream_writev(cc->stream, iov, iovcnt);
        if (n == CLOVE_E_AGAIN) {
            break;
        }
        if (n < 0) {
            log_info("channel %u:%u: write failed (%s), closing", cc->type, cc->id,
                     clove_strerror((int)n));
            channel_client_close(cc);
            break;
        }
        cc->bytes_sent += (uint64_t)n;
        if (n > 0) {
            cc->last_progress_ms = loop_now_ms();
        }
        /* Retire fully written messages; a message counts against the ack
         * window when its first bytes go out. */
        size_t left = (size_t)n;
        while (left > 0 && cc->tx_head) {
            struct out_msg *o = cc->tx_head;
            size_t total = o->counted;
            if (cc->tx_head_sent == 0 && cc->handle_acks) {
                cc->unacked++;
            }
            size_t remain = total - cc->tx_head_sent;
            if (left < remain) {
                cc->tx_head_sent += left;
                break;
            }
            left -= remain;
            cc->tx_head_sent = 0;
            cc->tx_head = o->next;
            if (!cc->tx_head) {
                cc->tx_tail = NULL;
            }
            cc->tx_queued_bytes -= total;
            cc->messages_sent++;
            shared_msg_unref(o->msg);
            free(o);
        }
    }
    if (!cc->closing && !cc->tx_head && !channel_client_ack_blocked(cc) && cc->ops->on_send_ready) {
        cc->ops->on_send_ready(cc);
    }
    if (!cc->tx_head && !cc->tx_idle) {
        cc->tx_idle = true;
        cc->burst_end_ms = loop_now_ms();
    }
    channel_client_update_watch(cc);
    cc->busy--;
    channel_client_maybe_finish_close(cc);
}

int channel_client_send_shared(struct channel_client *cc, struct shared_msg *msg)
{
    if (cc->closing) {
        return CLOVE_E_STATE;
    }
    size_t total = msg_header_size(cc->mini_header) + msg->size;
    if (cc->tx_queued_bytes + total > channel_max_queued_bytes()) {
        log_ratelimited(LOG_LEVEL_WARN,
                        "channel %u:%u: client is not reading (%zu bytes queued); dropping it",
                        cc->type, cc->id, cc->tx_queued_bytes);
        channel_client_close(cc);
        return CLOVE_E_RANGE;
    }
    struct out_msg *o = calloc(1, sizeof(*o));
    if (!o) {
        channel_client_close(cc);
        return CLOVE_E_NOMEM;
    }
    o->msg = shared_msg_ref(msg);
    o->header_size = (uint8_t)msg_header_size(cc->mini_header);
    o->counted = total;
    channel_client_enqueue(cc, o);
    return 0;
}

/* Appends o, or puts it before the deferred entry being built. */
static void channel_client_enqueue(struct channel_client *cc, struct out_msg *o)
{
    if (cc->tx_building) {
        o->next = cc->tx_building;
        if (cc->tx_building_prev) {
            cc->tx_building_prev->next = o;
        } else {
            cc->tx_head = o;
        }
        cc->tx_building_prev = o;
        cc->tx_queued_bytes += o->counted;
        return;
    }
    if (cc->tx_tail) {
        cc->tx_tail->next = o;
    } else {
        cc->tx_head = o;
        cc->last_progress_ms = loop_now_ms();
        channel_client_arm_stall(cc);
    }
    cc->tx_tail = o;
    cc->tx_queued_bytes += o->counted;
    if (!cc->busy) {
        channel_client_flush(cc);
    } else {
        channel_client_update_watch(cc);
    }
}

int channel_client_send_deferred(struct channel_client *cc, void *item,
                                 const struct channel_deferred_ops *ops, size_t estimate)
{
    size_t total = msg_header_size(cc->mini_header) + estimate;
    if (cc->closing) {
        ops->release(cc, item, false);
        return CLOVE_E_STATE;
    }
    if (cc->tx_queued_bytes + total > channel_max_queued_bytes()) {
        log_ratelimited(LOG_LEVEL_WARN,
                        "channel %u:%u: client is not reading (%zu bytes queued); dropping it",
                        cc->type, cc->id, cc->tx_queued_bytes);
        ops->release(cc, item, false);
        channel_client_close(cc);
        return CLOVE_E_RANGE;
    }
    struct out_msg *o = calloc(1, sizeof(*o));
    if (!o) {
        ops->release(cc, item, false);
        channel_client_close(cc);
        return CLOVE_E_NOMEM;
    }
    o->item = item;
    o->ops = ops;
    o->header_size = (uint8_t)msg_header_size(cc->mini_header);
    o->counted = total;
    channel_client_enqueue(cc, o);
    return 0;
}

void channel_client_purge(struct channel_client *cc)
{
    struct out_msg *prev = NULL;
    for (struct out_msg *o = cc->tx_head, *next; o; o = next) {
        next = o->next;
        if (o->item && o != cc->tx_building && o->ops->is_dropped && o->ops->is_dropped(o->item)) {
            void *item = o->item;
            o->item = NULL;
            o->ops->release(cc, item, false);
            cc->messages_dropped++;
            channel_client_remove(cc, prev, o);
        } else {
            prev = o;
        }
    }
}

int channel_client_send(struct channel_client *cc, uint16_t type, const void *body, size_t size)
{
    struct shared_msg *m = shared_msg_create(type, body, size);
    if (!m) {
        channel_client_close(cc);
        return CLOVE_E_NOMEM;
    }
    int rc = channel_client_send_shared(cc, m);
    shared_msg_unref(m);
    return rc;
}

void channel_client_enable_acks(struct channel_client *cc, uint32_t window)
{
    uint8_t body[8];
    cc->ack_window = window;
    cc->ack_generation++;
    cc->client_synced = false;
    put_u32le(body, cc->ack_generation);
    put_u32le(body + 4, window);
    /* Messages count against the window when they are written; SET_ACK
     * itself is usually written after this, so it counts, as in the
     * reference: the first window holds one message less. */
    channel_client_send(cc, SPICE_MSG_SET_ACK, body, sizeof(body));
    cc->handle_acks = true;
    cc->unacked = 0;
}

void channel_client_start_ping(struct channel_client *cc, uint32_t interval_ms)
{
    cc->ping_interval_ms = interval_ms;
    if (!cc->ping_timer) {
        cc->ping_timer = loop_timer_add(cc->loop, channel_client_on_ping, cc);
    }
    loop_timer_start(cc->loop, cc->ping_timer, 0);
}

static void channel_client_maybe_finish_close(struct channel_client *cc)
{
    if (cc->closing && !cc->busy && !cc->closed) {
        cc->closed = true;
        cc->ops->on_close(cc); /* frees cc */
    }
}

void channel_client_close(struct channel_client *cc)
{
    if (cc->closing) {
        return;
    }
    cc->closing = true;
    if (cc->watch) {
        loop_watch_remove(cc->loop, cc->watch);
        cc->watch = NULL;
    }
    if (cc->ping_timer) {
        loop_timer_cancel(cc->loop, cc->ping_timer);
    }
    if (cc->rx_timer) {
        loop_timer_cancel(cc->loop, cc->rx_timer);
    }
    if (cc->pace_timer) {
        loop_timer_cancel(cc->loop, cc->pace_timer);
    }
    if (cc->stall_timer) {
        loop_timer_cancel(cc->loop, cc->stall_timer);
    }
    channel_client_maybe_finish_close(cc);
}

void channel_event_info_fill(SpiceChannelEventInfo *info, int fd, uint32_t connection_id,
                             uint8_t type, uint8_t id)
{
    memset(info, 0, sizeof(*info));
    info->connection_id = (int)connection_id;
    info->type = type;
    info->id = id;
    info->flags = SPICE_CHANNEL_EVENT_FLAG_ADDR_EXT;
    info->llen_ext = sizeof(info->laddr_ext);
    info->plen_ext = sizeof(info->paddr_ext);
    if (fd >= 0) {
        getsockname(fd, (struct sockaddr *)&info->laddr_ext, &info->llen_ext);
        getpeername(fd, (struct sockaddr *)&info->paddr_ext, &info->plen_ext);
    }
}

void channel_client_kick(struct channel_client *cc)
{
    if (cc->busy > 0) {
        cc->busy--;
    }
    if (cc->busy > 0) {
        return;
    }
    if (cc->closing) {
        channel_client_maybe_finish_close(cc);
        return;
    }
    channel_client_flush(cc);
}

void channel_client_fill_event_info(struct channel_client *cc, uint32_t connection_id, uint8_t type,
                                    uint8_t id)
{
    channel_event_info_fill(&cc->event_info, cc->stream->fd, connection_id, type, id);
    if (cc->stream->flags & STREAM_FLAG_TLS) {
        cc->event_info.flags |= SPICE_CHANNEL_EVENT_FLAG_TLS;
    }
}

static void channel_client_on_stall_timer(void *opaque)
{
    struct channel_client *cc = opaque;
    if (cc->closing || !cc->tx_head) {
        return;
    }
    uint64_t idle = loop_now_ms() - cc->last_progress_ms;
    if (idle >= channel_stall_timeout_ms()) {
        log_ratelimited(LOG_LEVEL_WARN,
                        "channel %u:%u: client accepted nothing for %llu ms with %zu bytes "
                        "waiting; dropping it",
                        cc->type, cc->id, (unsigned long long)idle, cc->tx_queued_bytes);
        cc->busy++;
        channel_client_close(cc);
        cc->busy--;
        channel_client_maybe_finish_close(cc);
        return;
    }
    loop_timer_start(cc->loop, cc->stall_timer, channel_stall_timeout_ms() - (uint32_t)idle);
}

/* Watches for a stalled client while data waits for it. */
static void channel_client_arm_stall(struct channel_client *cc)
{
    if (!cc->stall_timer) {
        cc->stall_timer = loop_timer_add(cc->loop, channel_client_on_stall_timer, cc);
    }
    loop_timer_start(cc->loop, cc->stall_timer, channel_stall_timeout_ms());
}
