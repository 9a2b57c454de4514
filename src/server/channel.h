/*
 * The channel-client base: one connected SPICE channel of one client.
 *
 * It owns the stream after the link stage and does everything every channel
 * shares: message framing (full or mini header), a send queue of messages
 * whose bodies may be shared between clients, the ack window (SET_ACK /
 * ACK_SYNC / ACK), ping/pong with latency measurement, and a bound on queued
 * memory. Channel implementations embed `struct channel_client` first and
 * supply `struct channel_client_ops`.
 *
 * Thread: the thread of cc->loop (the host's loop for main and inputs, a
 * display worker for display and cursor).
 *
 * Closing: channel_client_close() may be called from anywhere on that
 * thread, including from inside one of the ops callbacks; ops->on_close runs
 * once, when no callback of this client is on the stack, and must free the
 * embedding struct (after channel_client_finish()).
 */
#ifndef CLOVE_SERVER_CHANNEL_H
#define CLOVE_SERVER_CHANNEL_H

#include <spice.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop/loop.h"
#include "proto/client_msg.h"
#include "proto/link.h"
#include "transport/stream.h"

/* The reference's window and pipe constants (spice-facts.md 1.4). */
#define CHANNEL_ACK_WINDOW       20
#define CHANNEL_MAX_QUEUED_BYTES (256u * 1024 * 1024)
/* A client with data waiting that accepts no byte for this long is dropped. */
#define CHANNEL_STALL_TIMEOUT_MS 60000

/* The limits in effect: the defaults above, or CLOVE_MAX_QUEUED_BYTES and
 * CLOVE_STALL_TIMEOUT_MS from the environment (read once). Thread: any. */
size_t channel_max_queued_bytes(void);
uint32_t channel_stall_timeout_ms(void);

struct channel_client;

/* A message body shared by the send queues of several clients. */
struct shared_msg {
    int refs; /* atomic */
    uint16_t type;
    uint32_t size;
    uint8_t *data; /* owns: points at inline_data or at a stolen buffer */
    uint8_t inline_data[];
};

/* Returns a new message with refs = 1 holding a copy of data, or NULL. */
struct shared_msg *shared_msg_create(uint16_t type, const void *data, size_t size);
/* Returns a new message that takes b's bytes (b is left empty), or NULL
 * (b untouched) if b failed or allocation fails. */
struct shared_msg *shared_msg_from_buf(uint16_t type, struct byte_buf *b);
struct shared_msg *shared_msg_ref(struct shared_msg *m);
void shared_msg_unref(struct shared_msg *m);

struct channel_client_ops {
    /* A parsed channel message (ids >= 101). Return a negative code to close. */
    int (*handle_message)(struct channel_client *cc, const struct client_msg *msg);
    /* Optional: the send queue is empty and the ack window open. */
    void (*on_send_ready)(struct channel_client *cc);
    /* Required: the client is gone; free the embedding struct. */
    void (*on_close)(struct channel_client *cc);
};

struct out_msg;

/*
 * A queued entry whose message is built only when it is about to be
 * written (a draw: encoding it then keeps per-client codec state in send
 * order, and an entry never built can always be dropped).
 */
struct channel_deferred_ops {
    /*
     * Returns the message to write now (a new reference), or NULL to drop
     * the entries it consumed. `items` are the `n` (>= 1) unbuilt entries
     * of this ops that follow each other at the head of what is left to
     * write, oldest first; it consumes the first *consumed (>= 1) of them,
     * whose message this is (the others get built later). Runs inside the
     * flush with the client held: it may queue messages, which go before
     * these entries, or close the client.
     */
    struct shared_msg *(*build)(struct channel_client *cc, void **items, size_t n,
                                size_t *consumed);
    /* The entry leaves the queue (always once); `built` tells whether
     * build() ran for it. */
    void (*release)(struct channel_client *cc, void *item, bool built);
    /* Optional: true if the entry would be dropped anyway (see purge). */
    bool (*is_dropped)(void *item);
};

struct channel_client {
    const struct channel_client_ops *ops;
    struct loop *loop;     /* borrows */
    struct stream *stream; /* owns */
    struct loop_watch *watch;
    uint32_t connection_id; /* the session id */
    uint8_t type, id;
    bool mini_header;
    uint32_t common_caps[4], channel_caps[4]; /* the client's first 128 caps */

    /* receive */
    uint8_t *rx_buf;
    size_t rx_len;

    /* send */
    struct out_msg *tx_head, *tx_tail;
    struct out_msg *tx_building, *tx_building_prev; /* a deferred entry being built */
    size_t tx_queued_bytes;
    size_t tx_head_sent;
    uint64_t serial;
    uint64_t messages_sent;
    uint64_t messages_dropped; /* deferred entries dropped unbuilt (hidden draws) */
    uint64_t messages_merged;  /* deferred entries merged into an earlier one's message */
    uint64_t bytes_sent;

    /* ack window */
    bool handle_acks;
    uint32_t ack_generation;
    uint32_t ack_window;
    bool client_synced;
    uint32_t unacked;

    struct loop_timer *rx_timer;    /* resumes reading decoded bytes (TLS, websocket) */
    struct loop_timer *stall_timer; /* drops a client that stops reading */
    struct loop_timer *pace_timer;  /* starts a burst held back by pace_ms */
    uint32_t pace_ms;               /* 0, or the least time between two bursts */
    bool tx_idle;                   /* the last flush emptied the queue */
    uint64_t burst_end_ms;          /* when it did */
    uint64_t last_progress_ms;      /* last write that moved bytes, or when data queued */

    /* ping */
    struct loop_timer *ping_timer;
    uint32_t ping_interval_ms;
    uint32_t ping_id;
    uint64_t latency_ns; /* minimum round trip seen, 0 if none */

    /* lifetime */
    int busy;
    bool closing;
    bool closed;

    SpiceChannelEventInfo event_info;
};

/*
 * Takes `stream`. Copies the capabilities out of `link` (which borrows the
 * link buffer). `mini_header` is the negotiated framing.
 */
void channel_client_init(struct channel_client *cc, const struct channel_client_ops *ops,
                         struct loop *loop, struct stream *stream, const struct link_mess *link,
                         bool mini_header);
/* Starts reading (call after the embedding struct is fully set up). Returns 0 or < 0. */
int channel_client_start(struct channel_client *cc);
/* Releases what init/start acquired. Called from the owner's on_close. */
void channel_client_finish(struct channel_client *cc);

bool channel_client_has_cap(const struct channel_client *cc, unsigned cap);
bool channel_client_has_common_cap(const struct channel_client *cc, unsigned cap);

/* Queues a copy of `body` as a message of `type`. Returns 0 or < 0. */
int channel_client_send(struct channel_client *cc, uint16_t type, const void *body, size_t size);
/* Queues a shared message (takes a new reference). Returns 0 or < 0. */
int channel_client_send_shared(struct channel_client *cc, struct shared_msg *msg);
/*
 * Queues an entry built later by ops->build (see channel_deferred_ops);
 * `item` is passed back to the ops, which own it from now on (release runs
 * even when this fails). `estimate` stands for its size in the queued
 * bytes until it is built. Returns 0 or < 0.
 */
int channel_client_send_deferred(struct channel_client *cc, void *item,
                                 const struct channel_deferred_ops *ops, size_t estimate);
/* Drops the unbuilt deferred entries whose ops->is_dropped says so now,
 * to give their memory and queued bytes back early. */
void channel_client_purge(struct channel_client *cc);
/*
 * Paces writes: a burst (writes after the queue went empty) starts no
 * sooner than `ms` after the previous one ended, so that what arrives in
 * between is queued, where hidden draws drop and consecutive ones merge.
 * A burst itself is never slowed (it goes as fast as the socket and the
 * ack window allow). 0 disables pacing.
 */
void channel_client_set_pace(struct channel_client *cc, uint32_t ms);
/* Sends SET_ACK and starts counting messages against the window. */
void channel_client_enable_acks(struct channel_client *cc, uint32_t window);
/* Starts periodic pings (0 = one immediate ping only). */
void channel_client_start_ping(struct channel_client *cc, uint32_t interval_ms);
/* True if the queue is empty and the ack window allows sending. */
bool channel_client_can_send(const struct channel_client *cc);
size_t channel_client_queued_bytes(const struct channel_client *cc);

void channel_client_close(struct channel_client *cc);
/*
 * Ends the setup hold that channel_client_init() takes (or a hold the
 * caller took with busy++): writes what is queued, or finishes a close
 * requested meanwhile, in which case cc is freed. Call it last.
 */
void channel_client_kick(struct channel_client *cc);

/* Fills cc->event_info for this client, with FLAG_TLS on a TLS stream. */
void channel_client_fill_event_info(struct channel_client *cc, uint32_t connection_id, uint8_t type,
                                    uint8_t id);
/* Fills the SpiceChannelEventInfo from the socket's addresses. */
void channel_event_info_fill(SpiceChannelEventInfo *info, int fd, uint32_t connection_id,
                             uint8_t type, uint8_t id);

#endif
