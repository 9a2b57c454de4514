/*
 * A fake SPICE host and a fake SPICE client for in-process server tests and
 * fuzz targets.
 *
 * The host implements SpiceCoreInterface on our own poll loop (one per
 * process: the core interface has no context pointer, so the callbacks reach
 * the host through a global), records channel events, and offers a keyboard,
 * a mouse and a tablet that record every call, plus an optional QXL device
 * (memslot 0 over host memory, a small primary surface, a draw-command queue)
 * so that display and cursor channels exist.
 *
 * A client is one end of a socketpair(AF_UNIX); the other end goes to the
 * server with spice_server_add_client(). The client end is watched by the
 * same loop, so whatever the server (or a display worker) writes lands in the
 * client's receive buffer while the loop runs. Every wait takes a bound in
 * milliseconds and gives up when it passes: a test never hangs.
 *
 * Thread: the test's thread, except the QXL callbacks, which run on the
 * display worker (the QXL state is guarded by a mutex).
 */
#ifndef CLOVE_TESTS_FAKE_HOST_H
#define CLOVE_TESTS_FAKE_HOST_H

#include <spice.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop/loop.h"
#include "proto/link.h"

#define FAKE_MAX_EVENTS 64
#define FAKE_MAX_SCANS  256
#define FAKE_MAX_MOUSE  256

struct fake_event {
    int event; /* SPICE_CHANNEL_EVENT_* */
    int type, id;
    int connection_id;
};

struct fake_mouse_call {
    int dx, dy, dz;
    uint32_t buttons;
};

struct fake_qxl;
struct fake_client;

struct fake_host {
    struct loop *loop; /* owns */
    SpiceCoreInterface core;
    SpiceServer *server; /* owns */

    struct fake_event events[FAKE_MAX_EVENTS];
    int num_events;

    SpiceKbdInstance kbd;
    uint8_t scans[FAKE_MAX_SCANS];
    int num_scans;
    uint8_t kbd_leds; /* what get_leds answers */

    SpiceMouseInstance mouse;
    struct fake_mouse_call motions[FAKE_MAX_MOUSE];
    int num_motions;
    int num_mouse_buttons;

    SpiceTabletInstance tablet;
    struct fake_mouse_call positions[FAKE_MAX_MOUSE]; /* dx, dy hold x, y */
    int num_positions;
    int tablet_width, tablet_height;

    struct fake_qxl *qxl;        /* owns; NULL without a display device */
    struct fake_client *clients; /* borrows: connected clients, detached on destroy */
};

struct fake_host_options {
    bool noauth;          /* spice_server_set_noauth */
    const char *password; /* spice_server_set_ticket(password, lifetime) */
    int ticket_lifetime;
    bool keyboard, mouse, tablet;
    bool qxl;   /* a display device: display and cursor channels */
    bool quiet; /* drop the server's log lines */
};

/*
 * Creates the host and the server (spice_server_new + init) and adds the
 * devices asked for. Call environment setters (CLOVE_LINK_TIMEOUT_MS) before.
 * Returns NULL on failure. Only one host may exist at a time.
 */
struct fake_host *fake_host_create(const struct fake_host_options *opts);
/* Destroys the server, the devices and the loop; clients still open lose
 * their loop watch (close them afterwards). Accepts NULL. */
void fake_host_destroy(struct fake_host *h);

/* Runs one loop iteration waiting at most timeout_ms. */
void fake_host_iterate(struct fake_host *h, int timeout_ms);
/* Runs the loop until cond(arg) is true or timeout_ms passed; returns cond's last value. */
bool fake_host_run_until(struct fake_host *h, bool (*cond)(void *arg), void *arg, int timeout_ms);
/* Runs the loop for (about) ms milliseconds. */
void fake_host_run_for(struct fake_host *h, int ms);
/* Index of the n-th (0-based) recorded event of that kind, or -1. */
int fake_host_find_event(const struct fake_host *h, int event, int type, int nth);

/* ---- QXL device (opts.qxl) ---- */

#define FAKE_QXL_WIDTH  64
#define FAKE_QXL_HEIGHT 48

/* Queues a solid fill of the rectangle and wakes the worker. Thread: test. */
int fake_qxl_push_fill(struct fake_host *h, int x, int y, int w, int hgt, uint32_t color);
/* Queues a DRAW_COPY of a w x hgt 32-bit bitmap filled with color. */
/* A malformed drawable: kind 0 bad clip address, 1 unknown type, 2 copy
 * from nowhere, 3 missing surface, 4 absurd geometry. */
int fake_qxl_push_bad_draw(struct fake_host *h, int kind);
int fake_qxl_push_copy(struct fake_host *h, int x, int y, int w, int hgt, uint32_t color);
/* The same copy with the guest's image id and descriptor flags (QXL_IMAGE_CACHE). */
int fake_qxl_push_copy_image(struct fake_host *h, int x, int y, int w, int hgt, uint32_t color,
                             uint64_t image_id, uint8_t desc_flags);
/* Queues a cursor set: a size x size ALPHA shape of one colour with the guest's unique. */
int fake_qxl_push_cursor_set(struct fake_host *h, uint64_t unique, int size, uint32_t color);
/* Queues a cursor move. */
int fake_qxl_push_cursor_move(struct fake_host *h, int x, int y);
/* Commands the worker has not fetched yet. */
int fake_qxl_pending(struct fake_host *h);

/* ---- client ---- */

struct fake_client {
    struct fake_host *host;
    struct fake_client *next; /* in host->clients */
    int fd;                   /* client end; -1 once closed */
    struct loop_watch *watch;
    uint8_t *rx;
    size_t rx_len, rx_cap;
    bool eof;
    bool mini; /* framing after the link */
    uint64_t serial;
};

struct fake_msg {
    uint16_t type;
    uint32_t size;
    uint8_t *data; /* owns: free() it */
};

/* Connects a new client (socketpair + spice_server_add_client). Returns 0 or
 * < 0. `c` must stay at its address until fake_client_close(). */
int fake_client_connect(struct fake_host *h, struct fake_client *c, int skip_auth);
/* Closes the client end (idempotent) and frees its buffers. */
void fake_client_close(struct fake_client *c);
/* Writes everything (running the loop while the socket is full, bounded). */
int fake_client_write(struct fake_client *c, const void *data, size_t len);
/* Runs the loop until n bytes are buffered, EOF or timeout; returns true if n are there. */
bool fake_client_wait_bytes(struct fake_client *c, size_t n, int timeout_ms);
/* Runs the loop until the server closed the connection (EOF); returns true if so. */
bool fake_client_wait_eof(struct fake_client *c, int timeout_ms);
/* Drops n buffered bytes. */
void fake_client_consume(struct fake_client *c, size_t n);

struct fake_link {
    uint32_t connection_id;
    uint8_t type, id;
    bool mini_header;    /* offer SPICE_COMMON_CAP_MINI_HEADER */
    bool auth_selection; /* offer SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION */
    uint32_t channel_caps[1];
    uint32_t num_channel_caps;
};

/* A link with mini header and auth selection for type/id. */
struct fake_link fake_link_default(uint32_t connection_id, uint8_t type, uint8_t id);
/* Sends the link message (header + body). */
int fake_client_send_link(struct fake_client *c, const struct fake_link *link);
/*
 * Reads the server's link reply: *error gets its error field; on OK the
 * public key is copied to pubkey (LINK_PUBKEY_SIZE bytes, may be NULL) and
 * *server_common_caps (may be NULL) gets the first common caps word.
 * Returns 0, or < 0 on timeout/EOF/garbage.
 */
int fake_client_read_reply(struct fake_client *c, uint32_t *error, uint8_t *pubkey,
                           uint32_t *server_common_caps, int timeout_ms);
/*
 * Sends the auth mechanism word (if `auth_selection`) and the ticket: the
 * password encrypted with RSA-OAEP-SHA1 under `pubkey`, or 128 zero bytes
 * when password is NULL.
 */
int fake_client_send_ticket(struct fake_client *c, const uint8_t *pubkey, const char *password,
                            bool auth_selection);
/* Reads a little-endian u32 (the link result). Returns 0 or < 0. */
int fake_client_read_u32(struct fake_client *c, uint32_t *value, int timeout_ms);
/*
 * The whole link: connect, link message, reply, ticket, result. Returns the
 * link result (SPICE_LINK_ERR_*, reply error or final result), or < 0 when
 * the exchange itself failed. On SPICE_LINK_ERR_OK c->mini is set.
 */
int fake_client_link(struct fake_host *h, struct fake_client *c, const struct fake_link *link,
                     const char *password);

/* Sends one framed message in the negotiated framing. */
int fake_client_send_msg(struct fake_client *c, uint16_t type, const void *body, uint32_t size);
/* Reads one framed message. Returns 0, or < 0 on timeout/EOF. */
int fake_client_read_msg(struct fake_client *c, struct fake_msg *msg, int timeout_ms);
/* Reads messages until one of `type` arrives (others are dropped). Returns 0 or < 0. */
int fake_client_wait_msg(struct fake_client *c, uint16_t type, struct fake_msg *msg,
                         int timeout_ms);

/* RSA-OAEP(SHA-1) encryption of `len` bytes under a DER SubjectPublicKeyInfo.
 * Returns the ciphertext length (128) or < 0. */
int fake_encrypt_ticket(const uint8_t *pubkey_der, size_t der_len, const void *plain, size_t len,
                        uint8_t out[LINK_TICKET_SIZE]);

#endif
