/*
 * Private structures of libclove-client, shared by its files:
 *   session.c  the public API, the poll loop, the main channel
 *   channel.c  one SPICE channel: connect, link + ticket, framing, acks, pings
 *   display.c  the display channels (one per QXL device): surfaces, heads,
 *              streams (skipped), draw messages -> qxl_drawable -> canvas_draw
 *   image.c    wire images -> decoded bitmaps (codecs, GLZ window, pixmap
 *              and palette caches)
 *   inputs.c   the inputs channel: keys, lock keys, mouse with motion flow control
 *   cursor.c   the cursor channel: shapes converted to ARGB, position, visibility
 *   tls_verify.c  the server certificate's host name or subject check
 *   sasl_client.c the SASL exchange of the link and its security layer
 *
 * Thread: everything belongs to the thread that runs the session.
 */
#ifndef CLOVE_CLIENT_CLIENT_PRIV_H
#define CLOVE_CLIENT_CLIENT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>
#include <spice/protocol.h>
#include <sys/socket.h>

#include "client/prefault.h"
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
/* Display channels (one per QXL device) a session links: ids 0 .. CLIENT_MAX_DISPLAYS-1. */
#define CLIENT_MAX_DISPLAYS 16
/* Palettes kept per display channel; the server tracks at most 128 per client. */
#define CLIENT_PALETTE_CACHE_SIZE 256

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
    CHANNEL_SASL,          /* SASL sessions: the exchange, up to the clear link result */
    CHANNEL_AUTH_RESULT,
    CHANNEL_READY,
    CHANNEL_CLOSED,
};

struct client_channel {
    struct clove_session *session; /* borrows */
    uint8_t type, id;
    enum channel_state state;
    int fd;                /* owned until `stream` takes it */
    int socket_fd;         /* borrows: the socket, for TCP_INFO (-1 before connect) */
    struct stream *stream; /* owns */
    struct loop_watch *watch;
    bool mini_header;
    /* Linked early (session.c, open_early_display): until it is READY, a
     * failure only closes it (CHANNEL_CLOSED) and sets the session's
     * relink_pending; `listed` once CHANNELS_LIST has named it, which then
     * gets it one ordinary link more (session_relink). */
    bool tentative, listed;
    /* owns, during CHANNEL_SASL */
    struct sasl_client *sasl;
    struct byte_buf rx; /* received, not yet handled: bytes [rx_start, rx.len) */
    size_t rx_start;
    /* The incomplete message at rx_start is large and got its room and its
     * bitmap's alignment (channel_place_message). */
    bool rx_placed;
    /* The placed message's raw pixels, bytes [sink_from, sink_to) of it,
     * are received straight into `sink`, surface memory (display.c,
     * display_raw_target); rx keeps its room for them but never the bytes.
     * Set only while that message is at rx_start, so a handler that sees
     * it set is handling that message, and only checks it. */
    uint8_t *sink;
    size_t sink_from, sink_to;
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
    uint8_t *pixels; /* owns: height * stride bytes (surface_pixels_alloc) */
    size_t mapped;   /* > 0: pixels is an anonymous mapping of this many bytes */
    int32_t stride;
    struct canvas_surface canvas;
};

struct cache_entry;
struct palette_entry;
struct tls_context;

/*
 * One display channel's state: its surfaces (each QXL device has its own
 * surface ids), its palette cache (spice-gtk keeps one per channel), the
 * video streams the server announced (ids only: we do not decode them) and
 * the heads of its last MONITORS_CONFIG. The pixmap cache and the GLZ
 * window are the session's: every display channel shares them.
 */
struct client_display {
    struct clove_session *session;   /* borrows */
    uint8_t id;                      /* the channel id */
    struct client_channel *channel;  /* owns, or NULL (not linked) */
    struct client_surface *surfaces; /* owns CLIENT_MAX_SURFACES entries */
    struct palette_entry *palettes;  /* owns: a list, newest first */
    uint32_t palette_count;
    uint64_t streams[(SERVER_PARSE_MAX_STREAM_ID + 64) / 64]; /* live stream ids, a bitset */
    bool streams_logged;         /* "not supported" said once per channel */
    uint32_t unsupported_logged; /* bit n: QXL draw type n was reported undrawable once */
    bool has_monitors;
    uint16_t num_heads, max_heads;
    struct wire_head heads[SERVER_PARSE_MAX_HEADS];
};

/*
 * Mouse motion flow control: at most INPUTS_MAX_UNACKED motion or position
 * messages without a MOUSE_MOTION_ACK (the server acks every
 * SPICE_INPUT_MOTION_ACK_BUNCH); beyond that, motions are coalesced into
 * one pending message (summed deltas or the newest position).
 */
#define INPUTS_MAX_UNACKED (4 * SPICE_INPUT_MOTION_ACK_BUNCH)

struct inputs_flow {
    uint32_t unacked;
    bool pending; /* a coalesced message waits */
    bool pending_absolute;
    int32_t dx, dy; /* pending relative motion (summed) */
    uint32_t x, y;  /* pending position */
    uint8_t display_id;
};

/* A converted cursor shape (the current one, or an entry of the cache). */
struct cursor_shape {
    uint64_t unique;
    uint16_t width, height, hot_x, hot_y;
    uint32_t *argb; /* owns: width * height pixels, A in the top byte */
    struct cursor_shape *next;
};

struct cursor_state {
    struct cursor_shape *current; /* owns, or NULL (no shape) */
    struct cursor_shape *cache;   /* owns: a list, newest first, at most CURSOR_CACHE_SIZE */
    uint32_t cache_count;
    bool visible;
    int16_t x, y;
    uint32_t serial; /* bumped on every shape change */
};
#define CURSOR_CACHE_SIZE 256

struct clove_session {
    char *host;
    uint16_t port;
    char password[61];
    uint16_t tls_port;    /* 0: plain; else every channel uses TLS on this port */
    char *ca_file;        /* owns; NULL: OpenSSL's default CA locations */
    char *host_subject;   /* owns; NULL: check the host name instead */
    bool sasl;            /* authenticate with SASL (clove_session_set_sasl) */
    bool display_only;    /* link main + display only (clove_session_set_display_only) */
    bool inputs_disabled; /* clove_session_set_channel_disabled() */
    bool cursor_disabled;
    bool relink_pending;     /* an early link failed (client_channel.tentative) */
    char *sasl_username;     /* owns; NULL: the login name */
    char *sasl_password;     /* owns; wiped when freed */
    struct tls_context *tls; /* owns; made by clove_session_connect() */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    struct loop *loop; /* owns */
    bool connected;
    bool stop;
    int error_code;
    char error[256];
    uint32_t session_id;
    struct client_channel *main;                          /* owns */
    struct client_display *displays[CLIENT_MAX_DISPLAYS]; /* owns; [0] always exists */
    uint32_t mm_time;       /* the server's multimedia time (ms) at mm_time_at_ms */
    uint64_t mm_time_at_ms; /* loop_now_ms() when mm_time arrived */
    bool mm_time_known;
    bool agent_connected;      /* the guest agent, as the main channel reports it */
    uint32_t agent_tokens;     /* messages we may send the agent */
    struct prefault *prefault; /* owns: memory for the first large surface, or NULL */
    bool prefault_started;
    struct client_channel *inputs; /* owns, or NULL */
    struct client_channel *cursor; /* owns, or NULL */
    clove_mark_fn mark_fn;
    void *mark_opaque;
    clove_area_fn area_fn;
    void *area_opaque;
    clove_surface_area_fn surface_area_fn;
    void *surface_area_opaque;
    clove_monitors_fn monitors_fn;
    void *monitors_opaque;
    clove_event_fn event_fn;
    void *event_opaque;
    uint32_t marks;
    /* main channel state */
    char name[256];
    uint32_t mouse_modes; /* supported SPICE_MOUSE_MODE_* bits */
    uint32_t mouse_mode;  /* current; 0 before MAIN_INIT */
    bool mouse_mode_requested;
    uint64_t rx_bytes, tx_bytes;
    /* inputs state */
    bool inputs_ready;
    uint16_t server_locks; /* SPICE_KEYBOARD_MODIFIER_FLAGS_* the server reported */
    uint16_t buttons;      /* SPICE_MOUSE_BUTTON_MASK_* held */
    struct inputs_flow flow;
    /* cursor state */
    struct cursor_state cursor_state;
    /* display state shared by every display channel */
    struct glz_window *glz;    /* owns */
    struct cache_entry *cache; /* owns: a list */
    uint64_t cache_pixels;
};

/* Calls the event callback, if any. */
void session_event(struct clove_session *s, enum clove_event event);

/* Records the first error (later ones are logged only) and stops the session. */
int session_fail(struct clove_session *s, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Links again the listed display channels whose early link failed. */
int session_relink(struct clove_session *s);

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

/* ---- sasl_client.c ---- */
/* Frees and wipes the SASL settings (clove_session_destroy). */
void session_sasl_clear(struct clove_session *session);

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
/* Sets up the shared display state and display 0. Returns 0 or CLOVE_E_NOMEM. */
int display_init(struct clove_session *s);
/* Frees every display (closing their channels) and the shared state. */
void display_finish(struct clove_session *s);
/* Returns display `id` (< CLIENT_MAX_DISPLAYS), made on first use, or NULL (no memory). */
struct client_display *display_get(struct clove_session *s, uint8_t id);
/* Closes every display channel (the surfaces stay). */
void display_close_channels(struct clove_session *s);
int display_ready(struct client_channel *ch);
int display_message(struct client_channel *ch, uint16_t type, const uint8_t *body, size_t len);
/* The surface memory where a large draw's raw pixels may be received
 * directly (a plain put of a bitmap over a whole xRGB surface), with its
 * length in *len; NULL when the draw needs the canvas. */
uint8_t *display_raw_target(struct client_channel *ch, const struct server_draw_raw *raw,
                            size_t *len);
/* canvas_lookup_fn over a display's surfaces: opaque is the struct client_display. */
struct canvas_surface *display_lookup(void *opaque, uint32_t surface_id);

/* ---- inputs.c ---- */
int inputs_ready(struct client_channel *ch);
int inputs_message(struct client_channel *ch, uint16_t type, const uint8_t *body, size_t len);
/*
 * The KEY_DOWN / KEY_UP code of a scancode (a set-1 byte, or 0x100 | byte
 * for an 0xE0-prefixed key): bytes least significant first, bit 7 of the
 * last byte set for a release. Returns 0 for an invalid scancode.
 */
uint32_t inputs_key_code(uint32_t scancode, bool up);
/*
 * Flow control of motions: inputs_flow_motion() and inputs_flow_position()
 * return true when the message may go now (counted as unacked), false when
 * it was coalesced into the pending one. inputs_flow_ack() takes one
 * MOUSE_MOTION_ACK and returns true when the pending message may go now
 * (then the caller sends it and calls inputs_flow_sent()).
 */
bool inputs_flow_motion(struct inputs_flow *f, int32_t dx, int32_t dy);
bool inputs_flow_position(struct inputs_flow *f, uint32_t x, uint32_t y, uint8_t display_id);
bool inputs_flow_ack(struct inputs_flow *f);
void inputs_flow_sent(struct inputs_flow *f);

/* ---- cursor.c ---- */
int cursor_ready(struct client_channel *ch);
int cursor_message(struct client_channel *ch, uint16_t type, const uint8_t *body, size_t len);
void cursor_finish(struct cursor_state *c);
/*
 * Converts shape data of a SPICE_CURSOR_TYPE_* into width * height ARGB
 * pixels (out, caller's). ALPHA is copied; MONO maps AND/XOR bits to
 * transparent, black and white (a pixel the guest wants inverted, which
 * ARGB cannot say, is drawn opaque black); COLOR4/8/16/24/32 are followed
 * by their AND mask, whose set bits are transparent. Returns 0, CLOVE_E_INVALID (short
 * data) or CLOVE_E_UNSUPPORTED (unknown type).
 */
int cursor_shape_convert(uint8_t type, uint16_t width, uint16_t height, const uint8_t *data,
                         size_t size, uint32_t *out);

/* ---- image.c ---- */
/*
 * Decodes `src` into *out (a 32-bit or RGBA top-down bitmap, a palette
 * bitmap as sent, or a SURFACE reference), handling the GLZ window, the
 * pixmap cache and the display's palette cache. Returns 0 or < 0 with
 * *err_desc set; IMAGE_E_PALETTE_MISSING (== CLOVE_E_STATE) when the image
 * names a palette the cache does not hold: that draw cannot be made, but
 * the channel may go on. Finish *out with image_finish().
 */
#define IMAGE_E_PALETTE_MISSING CLOVE_E_STATE
int image_decode(struct client_display *d, const struct server_image *src, struct qxl_image *out,
                 const char **err_desc);
/*
 * Decodes a compressed image (QUIC, LZ_RGB, GLZ, zlib-GLZ, LZ4, JPEG) whose
 * decoded form is 32-bit xRGB straight into `pixels` (rows `stride` apart,
 * row 0 on top; width x height as the image says), instead of into memory
 * of its own. IMAGE_E_NOT_DIRECT, before anything is written, for other
 * image types and decoded formats: decode it with image_decode() then.
 * Other errors as image_decode(); `pixels` may then hold part of it.
 */
#define IMAGE_E_NOT_DIRECT CLOVE_E_AGAIN
int image_decode_into(struct client_display *d, const struct server_image *src, uint8_t *pixels,
                      int32_t stride, const char **err_desc);
/* As image_decode(), into a new heap image (*out; qxl_image_free()). */
int image_decode_new(struct client_display *d, const struct server_image *src,
                     struct qxl_image **out, const char **err_desc);
void image_finish(struct qxl_image *img);
void image_cache_clear(struct clove_session *s);
/* Drops one pixmap from the cache (INVAL_LIST); unknown ids are ignored. */
void image_cache_remove(struct clove_session *s, uint64_t id);
/* The palette cache of a display channel (INVAL_PALETTE, INVAL_ALL_PALETTES). */
void palette_cache_remove(struct client_display *d, uint64_t id);
void palette_cache_clear(struct client_display *d);

#endif
