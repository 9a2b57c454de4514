/*
 * Private structures of libclove-client, shared by its files:
 *   session.c  the public API, the poll loop, the main channel
 *   channel.c  one SPICE channel: connect, link + ticket, framing, acks, pings
 *   display.c  the display channel: surfaces and draw messages -> canvas
 *   image.c    wire images -> decoded bitmaps (codecs, GLZ window, cache)
 *   tls_verify.c  the server certificate's host name or subject check
 *
 * Thread: everything belongs to the thread that runs the session.
 */
#ifndef CLOVE_CLIENT_CLIENT_PRIV_H
#define CLOVE_CLIENT_CLIENT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>
#include <sys/socket.h>

#include "clove/client.h"
#include "codec/glz.h"
#include "common/bytes.h"
#include "display/canvas.h"
#include "loop/loop.h"
#include "proto/server_parse.h"
#include "transport/stream.h"

/* Largest message body we accept (a raw 4K frame is 32 MiB). */
#define CLIENT_MAX_MESSAGE_SIZE  (64u * 1024 * 1024)
#define CLIENT_MAX_SURFACES      1024
#define CLIENT_GLZ_WINDOW_PIXELS (16u * 1024 * 1024)
#define CLIENT_CACHE_PIXELS      (20u * 1024 * 1024)

struct client_channel;

/* Called for every data message of a linked channel (base messages are
 * handled before). Returns 0 or < 0 after calling session_fail(). */
typedef int (*channel_message_fn)(struct client_channel *ch, uint16_t type, const uint8_t *body,
                                  size_t len);
/* Called once the link succeeded. */
typedef int (*channel_ready_fn)(struct client_channel *ch);

enum channel_state {
    CHANNEL_CONNECTING,
    CHANNEL_TLS_HANDSHAKE, /* TLS sessions only: before the link message goes out */
    CHANNEL_LINK_REPLY,    /* waiting for the link header + reply */
    CHANNEL_AUTH_RESULT,
    CHANNEL_READY,
    CHANNEL_CLOSED,
};

struct client_channel {
    struct clove_session *session; /* borrows */
    uint8_t type, id;
    enum channel_state state;
    int fd;                /* owned until `stream` takes it */
    struct stream *stream; /* owns */
    struct loop_watch *watch;
    bool mini_header;
    struct byte_buf rx; /* received, not yet handled: bytes [rx_start, rx.len) */
    size_t rx_start;
    struct byte_buf tx; /* to send: bytes [tx_start, tx.len) */
    size_t tx_start;
    uint64_t tx_serial;
    uint32_t ack_window, ack_pending;
    const uint32_t *channel_caps;
    uint32_t num_channel_caps;
    channel_ready_fn on_ready;
    channel_message_fn on_message;
};

struct client_surface {
    bool used;
    uint32_t width, height, format;
    uint8_t *pixels; /* owns: height * stride bytes */
    int32_t stride;
    struct canvas_surface canvas;
};

struct cache_entry;
struct tls_context;

struct clove_session {
    char *host;
    uint16_t port;
    char password[61];
    uint16_t tls_port;       /* 0: plain; else every channel uses TLS on this port */
    char *ca_file;           /* owns; NULL: OpenSSL's default CA locations */
    char *host_subject;      /* owns; NULL: check the host name instead */
    struct tls_context *tls; /* owns; made by clove_session_connect() */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    struct loop *loop; /* owns */
    bool connected;
    bool stop;
    int error_code;
    char error[256];
    uint32_t session_id;
    struct client_channel *main;    /* owns */
    struct client_channel *display; /* owns */
    clove_mark_fn mark_fn;
    void *mark_opaque;
    uint32_t marks;
    /* display state */
    struct client_surface *surfaces; /* owns CLIENT_MAX_SURFACES entries */
    struct glz_window *glz;          /* owns */
    struct cache_entry *cache;       /* owns: a list */
    uint64_t cache_pixels;
};

/* Records the first error (later ones are logged only) and stops the session. */
int session_fail(struct clove_session *s, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* The port channels connect to: the TLS port if one is set. */
static inline uint16_t session_port(const struct clove_session *s)
{
    return s->tls_port ? s->tls_port : s->port;
}

/* ---- channel.c ---- */
/* Returns new: a channel connecting to the session's address, or NULL (session_fail called). */
struct client_channel *channel_open(struct clove_session *s, uint8_t type, uint8_t id,
                                    const uint32_t *channel_caps, uint32_t num_channel_caps,
                                    channel_ready_fn on_ready, channel_message_fn on_message);
/* Takes: closes and frees. Accepts NULL. Not from inside the channel's own callback. */
void channel_close(struct client_channel *ch);
/* Queues one message (header + body) and tries to send it. */
void channel_send(struct client_channel *ch, uint16_t type, const void *body, size_t len);
const char *channel_name(uint8_t type);

/* ---- tls_verify.c ---- */
/*
 * Whether `cert` names `host` as remote-viewer checks it (subjectAltName DNS
 * and IP entries; the CN only when there are none). Returns 0, or
 * CLOVE_E_DENIED with the reason in why[why_len].
 */
int tls_verify_host(const X509 *cert, const char *host, char *why, size_t why_len);
/*
 * Whether the certificate's subject is exactly `subject` ("C=..,O=..,CN=..").
 * Returns 0, CLOVE_E_DENIED (mismatch) or CLOVE_E_INVALID (unparsable
 * subject), with the reason in why[why_len].
 */
int tls_verify_subject(const X509 *cert, const char *subject, char *why, size_t why_len);
/* Parses a host subject into *out (new; X509_NAME_free). Returns 0,
 * CLOVE_E_INVALID or CLOVE_E_NOMEM. */
int tls_subject_parse(const char *text, X509_NAME **out);

/* ---- display.c ---- */
int display_init(struct clove_session *s);
void display_finish(struct clove_session *s);
int display_ready(struct client_channel *ch);
int display_message(struct client_channel *ch, uint16_t type, const uint8_t *body, size_t len);
struct canvas_surface *display_lookup(void *opaque, uint32_t surface_id);

/* ---- image.c ---- */
/*
 * Decodes `src` into *out (a 32-bit or RGBA top-down bitmap, a palette
 * bitmap as sent, or a SURFACE reference), handling the GLZ window and the
 * pixmap cache. Returns 0 or < 0 with *err_desc set. Finish *out with
 * image_finish().
 */
int image_decode(struct clove_session *s, const struct server_image *src, struct qxl_image *out,
                 const char **err_desc);
void image_finish(struct qxl_image *img);
void image_cache_clear(struct clove_session *s);

#endif
