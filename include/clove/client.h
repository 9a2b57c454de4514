/*
 * libclove-client: a SPICE client session (main + display channels) that
 * decodes the server's drawing into surfaces in memory.
 *
 * Usage:
 *   struct clove_session *s = clove_session_create();
 *   clove_session_set_server(s, "127.0.0.1", 5900);
 *   clove_session_set_password(s, "secret");            (optional)
 *   clove_session_set_mark_callback(s, on_mark, data);  (optional)
 *   int rc = clove_session_connect(s);
 *   while (rc == 0 && !done) rc = clove_session_run(s, 100);
 *   ... clove_session_get_primary(s, &frame) ...
 *   clove_session_destroy(s);
 *
 * A session runs its own poll loop: every socket is non-blocking and every
 * callback runs inside clove_session_run(), on the caller's thread. With
 * clove_session_set_tls() every channel uses TLS (1.2 or newer) and the
 * server's certificate is verified as remote-viewer does.
 *
 * Errors: functions that can fail return 0 or a negative code below;
 * clove_strerror() names a code and clove_session_error() gives the last
 * error of a session as one line with its details (e.g. the link error the
 * server sent).
 *
 * Thread: a session belongs to one thread at a time; different sessions
 * may run on different threads.
 */
#ifndef CLOVE_CLIENT_H
#define CLOVE_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The error codes. They are the library's own internal codes
 * (src/common/error.h), which uses the same include guard, so either header
 * may be included first and both together.
 */
#ifndef CLOVE_COMMON_ERROR_H
#define CLOVE_COMMON_ERROR_H
enum clove_error {
    CLOVE_OK = 0,
    CLOVE_E_INCOMPLETE = -1, /* need more bytes */
    CLOVE_E_INVALID = -2,    /* malformed input (the server broke the protocol) */
    CLOVE_E_RANGE = -3,      /* a size or count beyond protocol limits */
    CLOVE_E_NOMEM = -4,      /* allocation failed */
    CLOVE_E_IO = -5,         /* socket or file error */
    CLOVE_E_CLOSED = -6,     /* the server closed the connection */
    CLOVE_E_AGAIN = -7,      /* would block; from clove_session_run: time is up */
    CLOVE_E_UNSUPPORTED = -8,
    CLOVE_E_DENIED = -9, /* the server refused the link (wrong password, ...) */
    CLOVE_E_STATE = -10, /* call not valid in the current state */
};
/* Returns a static, human-readable description of a code. Thread: any. */
const char *clove_strerror(int code);
#endif

struct clove_session;

/* A surface's pixels: 32-bit xRGB (B, G, R, X in memory), row 0 on top. */
struct clove_frame {
    uint32_t width, height;
    int32_t stride;        /* bytes from one row to the next */
    const uint8_t *pixels; /* borrows: valid until the next clove_session_run() */
};

/* Called after a DISPLAY_MARK: the primary surface is complete. */
typedef void (*clove_mark_fn)(struct clove_session *session, void *opaque);

/*
 * Called when pixels of the primary surface changed: the rectangle x, y,
 * width, height (inside the surface). A new primary surface reports its
 * whole area (and CLOVE_EVENT_PRIMARY first).
 */
typedef void (*clove_area_fn)(struct clove_session *session, int x, int y, int width, int height,
                              void *opaque);

/* What changed, for clove_event_fn. */
enum clove_event {
    CLOVE_EVENT_PRIMARY = 1,      /* a new primary surface (its size may differ) */
    CLOVE_EVENT_NAME = 2,         /* the server sent the VM name */
    CLOVE_EVENT_MOUSE_MODE = 3,   /* the mouse mode changed */
    CLOVE_EVENT_INPUTS_READY = 4, /* the inputs channel can take events */
    CLOVE_EVENT_CURSOR_SHAPE = 5, /* a new cursor shape, or none */
    CLOVE_EVENT_CURSOR_MOVE = 6,  /* the cursor moved, was hidden or shown */
    CLOVE_EVENT_LOCKS = 7,        /* the server's lock-key state changed */
    CLOVE_EVENT_AGENT = 8,        /* the guest agent connected or disconnected */
};
typedef void (*clove_event_fn)(struct clove_session *session, enum clove_event event, void *opaque);

/*
 * Called when pixels of a primary surface of any display channel changed
 * (display_channel is the channel id, one per QXL device; surface_id the
 * surface): the rectangle x, y, width, height inside it. A new primary
 * surface of any channel reports its whole area. The plain clove_area_fn
 * keeps reporting display channel 0, surface 0 only.
 */
typedef void (*clove_surface_area_fn)(struct clove_session *session, uint32_t display_channel,
                                      uint32_t surface_id, int x, int y, int width, int height,
                                      void *opaque);

/*
 * Called when a display channel sent a MONITORS_CONFIG (its heads changed;
 * read them with clove_display_monitors()).
 */
typedef void (*clove_monitors_fn)(struct clove_session *session, uint32_t display_channel,
                                  void *opaque);

/*
 * One head (monitor) of a display channel's MONITORS_CONFIG: the area
 * x, y, width, height of surface surface_id of display channel
 * display_channel that the guest shows on that monitor.
 */
struct clove_monitor {
    uint32_t display_channel; /* the display channel id (0 .. 15) */
    uint32_t id;              /* the head id within its channel */
    uint32_t surface_id;
    int32_t x, y;
    uint32_t width, height;
    uint32_t flags;
};

/* Mouse modes (SPICE_MOUSE_MODE_*). */
#define CLOVE_MOUSE_MODE_SERVER 1 /* relative motion; the guest draws the pointer */
#define CLOVE_MOUSE_MODE_CLIENT 2 /* absolute positions; the client draws the cursor */

/* Buttons (SPICE_MOUSE_BUTTON_*); the wheel is UP (away from the user) and DOWN. */
#define CLOVE_BUTTON_LEFT   1
#define CLOVE_BUTTON_MIDDLE 2
#define CLOVE_BUTTON_RIGHT  3
#define CLOVE_BUTTON_UP     4
#define CLOVE_BUTTON_DOWN   5

/* Lock keys (SPICE_KEYBOARD_MODIFIER_FLAGS_*). */
#define CLOVE_LOCK_SCROLL 1
#define CLOVE_LOCK_NUM    2
#define CLOVE_LOCK_CAPS   4

/* The current cursor shape: ARGB pixels (A in the top byte, not premultiplied). */
struct clove_cursor {
    uint32_t width, height;
    uint32_t hot_x, hot_y;
    const uint32_t *argb; /* borrows: valid until the next clove_session_run() */
    bool visible;
    int32_t x, y;    /* the guest's cursor position (server mouse mode) */
    uint32_t serial; /* changes whenever the shape changes */
};

/* Counters of a session. */
struct clove_stats {
    uint64_t rx_bytes, tx_bytes; /* on every channel, since connect */
    uint32_t marks;              /* DISPLAY_MARK messages */
    int64_t rtt_us;              /* the main channel's round-trip time (TCP), -1 unknown */
};

/* Returns new: a session with no server set, or NULL (no memory). */
struct clove_session *clove_session_create(void);
/* Takes: closes every channel and frees the session. Accepts NULL. */
void clove_session_destroy(struct clove_session *session);

/* Borrows host (copied). Returns 0, CLOVE_E_INVALID or CLOVE_E_STATE (connected). */
int clove_session_set_server(struct clove_session *session, const char *host, uint16_t port);
/* Borrows password (copied; at most 60 bytes). NULL = no password. */
int clove_session_set_password(struct clove_session *session, const char *password);
/*
 * Makes every channel connect with TLS to tls_port (0 = plain TCP to the
 * port of clove_session_set_server(), the default). The server's chain is
 * verified against the PEM bundle ca_file (NULL or "" = OpenSSL's default
 * CA locations); then its certificate must name the host (subjectAltName
 * DNS/IP entries, else the CN), or, when host_subject is given
 * ("C=XX,O=Org,CN=name"; "\," escapes a comma), have exactly that subject.
 * Strings are borrowed (copied). Returns 0, CLOVE_E_INVALID (unparsable
 * host_subject), CLOVE_E_NOMEM or CLOVE_E_STATE (connected). A failed check
 * fails the session with "certificate verify failed: <reason>".
 */
int clove_session_set_tls(struct clove_session *session, uint16_t tls_port, const char *ca_file,
                          const char *host_subject);

/*
 * With enable, every channel authenticates with SASL (cyrus-sasl) instead
 * of the password ticket, as the user `username` (NULL or "": the login
 * name, $USER) with `password` (NULL: empty; any length). The mechanism is
 * chosen from the server's list; on plain TCP only mechanisms with a
 * security layer of 56 bits or more (DIGEST-MD5, GSSAPI) are accepted and
 * all traffic then goes through that layer. Strings are borrowed (copied;
 * the password copy is wiped when the session is destroyed). Returns 0,
 * CLOVE_E_NOMEM or CLOVE_E_STATE (connected). A wrong user name or
 * password fails the session with CLOVE_E_DENIED and a line saying so; a
 * server that does not offer SASL, or no mechanism in common, with
 * CLOVE_E_UNSUPPORTED.
 */
int clove_session_set_sasl(struct clove_session *session, bool enable, const char *username,
                           const char *password);

/*
 * With display_only, the session links only the main and display channels
 * (no cursor, no inputs): for captures, which need neither. Display
 * channels are always linked before the others, because servers that make
 * a key per link (the reference) answer links one after another. Returns 0
 * or CLOVE_E_STATE (connected).
 */
int clove_session_set_display_only(struct clove_session *session, bool display_only);

/* Channel types for clove_session_set_channel_disabled() (SPICE's numbers). */
enum clove_channel_type {
    CLOVE_CHANNEL_INPUTS = 3,
    CLOVE_CHANNEL_CURSOR = 4,
};

/*
 * Leaves out the inputs (CLOVE_CHANNEL_INPUTS) or cursor
 * (CLOVE_CHANNEL_CURSOR) channel even when the server lists it, as
 * remote-viewer's disable-channels does: without inputs the session only
 * watches. Returns 0, CLOVE_E_STATE (connected) or CLOVE_E_UNSUPPORTED
 * (another channel type: the main and display channels cannot be left
 * out, and the session links no others).
 */
int clove_session_set_channel_disabled(struct clove_session *session, int channel_type,
                                       bool disabled);

/* The callback runs inside clove_session_run(); it may call clove_session_stop(). */
void clove_session_set_mark_callback(struct clove_session *session, clove_mark_fn fn, void *opaque);

/*
 * Resolves the host and starts connecting the main channel (does not wait).
 * Returns 0, or CLOVE_E_IO (resolution or socket failure), CLOVE_E_STATE.
 */
int clove_session_connect(struct clove_session *session);

/*
 * Runs the session for at most timeout_ms (>= 0). Returns 0 when the time
 * ran out or clove_session_stop() was called, 1 when the session was
 * stopped, or a negative code when it failed (the session is then closed;
 * clove_session_error() says why).
 */
int clove_session_run(struct clove_session *session, int timeout_ms);

/* Makes clove_session_run() return 1 as soon as it can. */
void clove_session_stop(struct clove_session *session);

/* Returns the last error as one line ("" if none). Borrows: the session owns it. */
const char *clove_session_error(const struct clove_session *session);

/* Fills *frame with the primary surface (surface 0). Returns 0 or CLOVE_E_STATE (none yet). */
int clove_session_get_primary(const struct clove_session *session, struct clove_frame *frame);

/*
 * Fills *frame with surface surface_id of display channel display_channel
 * (32-bit surfaces only). Returns 0, CLOVE_E_STATE (no such surface yet)
 * or CLOVE_E_UNSUPPORTED (a surface of another format).
 */
int clove_session_get_surface(const struct clove_session *session, uint32_t display_channel,
                              uint32_t surface_id, struct clove_frame *frame);

/*
 * The display channels linked so far, as a bit mask (bit n: channel id n).
 * The session links every display channel the server lists (one per QXL
 * device), up to 16.
 */
uint32_t clove_session_display_channels(const struct clove_session *session);

/*
 * Fills heads[0 .. min(count, max)) with the heads of every display
 * channel's last MONITORS_CONFIG (each channel keeps up to its max_allowed
 * heads, at most 16), channel 0 first. Returns the number of heads there
 * are (which may exceed max; call again with more room). A display channel
 * that sent no MONITORS_CONFIG contributes one head covering its surface 0
 * once that exists, so a viewer can always open one window per head.
 */
int clove_display_monitors(const struct clove_session *session, struct clove_monitor *heads,
                           int max);

/* Number of DISPLAY_MARK messages received so far. */
uint32_t clove_session_mark_count(const struct clove_session *session);

/* ---- spice:// URIs ---- */

/* What a spice://host[:port][?port=N&tls-port=N&password=P] URI names. */
struct clove_uri {
    char host[1024]; /* empty when the URI names none */
    long port;       /* -1 when absent */
    long tls_port;   /* -1 when absent */
    char password[64];
    bool has_password;
};

/*
 * Parses a spice:// URI (borrows `uri`) into *out, decoding %XX escapes in
 * query values. IPv6 hosts are written [addr]; a port given as :N and one
 * given as ?port=N both land in out->port (the query wins). Unknown query
 * keys are ignored. Returns 0, or CLOVE_E_INVALID (not spice://, a bad port,
 * a query item without '=', or a field too long for *out).
 */
int clove_uri_parse(const char *uri, struct clove_uri *out);

/* ---- for viewers: callbacks run inside clove_session_run() ---- */
void clove_session_set_area_callback(struct clove_session *session, clove_area_fn fn, void *opaque);
void clove_session_set_event_callback(struct clove_session *session, clove_event_fn fn,
                                      void *opaque);
/* Changes of every display channel's primary surfaces (see clove_surface_area_fn). */
void clove_session_set_surface_area_callback(struct clove_session *session,
                                             clove_surface_area_fn fn, void *opaque);
/* New heads of any display channel (see clove_monitors_fn). */
void clove_session_set_monitors_callback(struct clove_session *session, clove_monitors_fn fn,
                                         void *opaque);

/* Returns the VM name the server sent ("" if none yet). Borrows. */
const char *clove_session_get_name(const struct clove_session *session);
/* True while the server reports the guest's agent (spice-vdagent) connected. */
bool clove_session_agent_connected(const struct clove_session *session);
/*
 * The server's multimedia time now, in ms (the clock its audio and video
 * are stamped with): the last value MAIN_INIT or MULTI_MEDIA_TIME gave,
 * plus the time since it arrived. 0 before the main channel is up.
 */
uint32_t clove_session_get_mm_time(const struct clove_session *session);
/*
 * Returns the mouse mode (CLOVE_MOUSE_MODE_*; 0 before the main channel is
 * up). The session asks for client mode whenever the server supports it.
 */
int clove_session_get_mouse_mode(const struct clove_session *session);
/* Fills *cursor. Returns 0, or CLOVE_E_STATE (no cursor channel or no shape). */
int clove_session_get_cursor(const struct clove_session *session, struct clove_cursor *cursor);
void clove_session_get_stats(const struct clove_session *session, struct clove_stats *stats);

/*
 * Input. Each returns 0, CLOVE_E_STATE (the inputs channel is not ready) or
 * CLOVE_E_INVALID (bad argument).
 *
 * Keys are PC/AT set-1 scancodes: the make code byte (1..0x7f), or
 * 0x100 | byte for 0xE0-prefixed keys (arrows, right Ctrl/Alt, keypad
 * Enter and /, Insert, Home, ...).
 */
int clove_session_key_down(struct clove_session *session, uint32_t scancode);
int clove_session_key_up(struct clove_session *session, uint32_t scancode);
/* Makes the guest's lock keys (CLOVE_LOCK_*) match `locks`; sends nothing if they do. */
int clove_session_set_locks(struct clove_session *session, uint32_t locks);
/* The lock keys as the server last reported them. */
uint32_t clove_session_get_locks(const struct clove_session *session);
/*
 * Server mouse mode: relative motion. Client mode: the absolute position on
 * monitor display_id. Either is flow-controlled (see the docs of the inputs
 * channel): beyond the window, motions are merged.
 */
int clove_session_mouse_motion(struct clove_session *session, int32_t dx, int32_t dy);
int clove_session_mouse_position(struct clove_session *session, uint32_t x, uint32_t y,
                                 uint8_t display_id);
/* A button (CLOVE_BUTTON_*) pressed or released; the session tracks the held mask. */
int clove_session_mouse_button(struct clove_session *session, int button, bool pressed);

#ifdef __cplusplus
}
#endif

#endif
