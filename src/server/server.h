/*
 * The server object (SpiceServer == struct RedsState) and what its parts
 * share: configuration, registered device interfaces, sessions.
 *
 * Thread: the host's main loop, unless a function says otherwise. Display
 * workers never touch this struct; they talk to it through main_queue.
 */
#ifndef CLOVE_SERVER_SERVER_H
#define CLOVE_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <spice.h>
#include <spice/protocol.h>

#include "loop/loop.h"
#include "loop/msg_queue.h"
#include "proto/link.h"
#include "transport/stream.h"

#define SERVER_MAX_WORKERS     16
#define SERVER_DEFAULT_MAX_CLIENTS 64

struct listener;
struct tls_context;
struct link_conn;
struct main_channel_client;
struct inputs_channel_client;
struct worker;

/* One connected client: a main channel plus whatever else it linked. */
struct session {
    struct session *next;
    struct RedsState *server;
    uint32_t id;
    struct main_channel_client *main;
    struct inputs_channel_client *inputs;
    uint64_t client_cache_size; /* from MAIN_CLIENT_INFO */
};

struct RedsState {
    const SpiceCoreInterface *core; /* borrows */
    struct loop *loop;              /* owns: adapter on core */
    struct msg_queue *main_queue;   /* owns: messages from workers */
    bool initialized;

    /* configuration */
    char *addr;
    int addr_flags;
    int port;
    int external_listen_fd;
    bool ticketing;
    char password[SPICE_MAX_PASSWORD_LENGTH + 1];
    bool password_set;
    uint64_t ticket_expiry_ms; /* loop_now_ms() deadline; 0: never */
    char *name;
    uint8_t uuid[16];
    bool uuid_set;
    bool exit_on_disconnect;
    SpiceImageCompression image_compression;
    int jpeg_compression;
    int zlib_glz_compression;
    int streaming_video;
    char *video_codecs;
    bool playback_compression;
    bool agent_mouse;
    bool agent_copypaste;
    bool agent_file_xfer;
    bool seamless_migration;
    int default_channel_security;
    int channel_security[SPICE_END_CHANNEL]; /* -1: use the default */
    uint32_t link_timeout_ms;
    uint32_t max_clients;
    /* TLS and SASL (security.c); the strings are owned */
    int tls_port; /* 0: no TLS port */
    char *tls_ca_file;
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_key_password;
    char *tls_dh_file;
    char *tls_ciphers;
    struct tls_context *tls; /* loaded by listener_start */
    bool sasl;
    char *sasl_appname;
    bool sasl_initialized; /* sasl_global_acquire succeeded (first SASL link) */

    /* devices */
    SpiceKbdInstance *keyboard;
    SpiceMouseInstance *mouse;
    SpiceTabletInstance *tablet;
    struct worker *workers[SERVER_MAX_WORKERS];
    int num_workers;
    struct SpiceCharDeviceState *char_devices; /* owns (char_device.c) */
    struct agent_device *agent;                /* the vdagent among them, or NULL */
    uint8_t kbd_leds;

    /* runtime */
    struct listener *listener;
    struct link_conn *links; /* connections still in the link stage */
    struct session *sessions;
    uint32_t next_session_id;
    uint32_t mouse_mode; /* SPICE_MOUSE_MODE_SERVER or _CLIENT */
    bool vm_running;
    uint32_t mm_time_base_ms;
    int num_clients;
};

/* ---- server.c ---- */
struct session *server_find_session(struct RedsState *s, uint32_t id);
/* The link stage finished for a connection; takes the stream. */
void server_link_complete(struct RedsState *s, struct stream *stream,
                          const struct link_mess *link, bool mini_header);
/* Called by main_channel when a session's main channel closes. */
void server_session_closed(struct RedsState *s, struct session *session);
/* Multimedia time (ms), the clock of audio and video frames. */
uint32_t server_mm_time(const struct RedsState *s);
uint32_t server_supported_mouse_modes(const struct RedsState *s);
void server_update_mouse_mode(struct RedsState *s);
/* Switches mouse mode if supported, telling every client. */
void server_set_mouse_mode(struct RedsState *s, uint32_t mode);
/* SPICE_CHANNEL_SECURITY_* bits allowed for a channel type. */
int server_channel_security(const struct RedsState *s, uint8_t type);
/* Called by inputs_channel when a session's inputs channel closes. */
void server_inputs_closed(struct RedsState *s, struct session *session);
/* Posts a channel event to the host from any thread (copied). */
void server_post_channel_event(struct RedsState *s, int event, const SpiceChannelEventInfo *info);
/* Thread: main. Reports a channel event to the host at once. */
void server_channel_event(struct RedsState *s, int event, SpiceChannelEventInfo *info);
/* Channels a client may open (for CHANNELS_LIST and the link check). */
bool server_has_channel(const struct RedsState *s, uint8_t type, uint8_t id);
/* The worker whose display/cursor channels have this id (QXLInstance.id), or NULL. */
struct worker *server_worker(const struct RedsState *s, uint8_t channel_id);
/* The channel id of s->workers[index]. */
uint8_t server_worker_channel_id(const struct RedsState *s, int index);

/* ---- listener.c ---- */
int listener_start(struct RedsState *s);
/* Closes the listening sockets and frees the TLS/SASL configuration
 * (spice_server_destroy). */
void listener_stop(struct RedsState *s);
/* Adds a connected socket (spice_server_add_client). */
int listener_add_client(struct RedsState *s, int fd, bool skip_auth);

/* ---- security.c ---- */
/* Loads the TLS context from the configured files (blocking; at start-up). */
int security_tls_load(struct RedsState *s);
/* Frees the TLS context and the TLS/SASL configuration. */
void security_finish(struct RedsState *s);

/* ---- link_stage.c ---- */
void link_conn_start(struct RedsState *s, struct stream *stream, bool skip_auth);
void link_conn_destroy_all(struct RedsState *s);

/* ---- ticket.c ---- */
struct ticket_key;
/* Starts/stops the background key generator (reference counted). */
void ticket_pool_start(void);
void ticket_pool_stop(void);
/* Returns a fresh, never handed out RSA-1024 key, or NULL (logged). */
struct ticket_key *ticket_key_create(void);
void ticket_key_destroy(struct ticket_key *k);
/* DER SubjectPublicKeyInfo, exactly LINK_PUBKEY_SIZE bytes. */
int ticket_key_public_der(struct ticket_key *k, uint8_t out[LINK_PUBKEY_SIZE]);
/* Decrypts an OAEP-SHA1 ticket; returns the plaintext length or < 0. */
int ticket_key_decrypt(struct ticket_key *k, const uint8_t *in, size_t in_len, uint8_t *out,
                       size_t out_cap);
/* Checks a decrypted ticket against the server's password, in constant time. */
bool ticket_check(const struct RedsState *s, const uint8_t *plain, size_t len,
                  const char **why);

/* ---- main_channel.c ---- */
struct main_channel_client *main_channel_client_create(struct session *session,
                                                       struct stream *stream,
                                                       const struct link_mess *link,
                                                       bool mini_header);
void main_channel_client_destroy(struct main_channel_client *mcc);
void main_channel_client_send_mouse_mode(struct main_channel_client *mcc);
/* Ends the creation hold: call once the session points at the client. */
void main_channel_client_kick(struct main_channel_client *mcc);
/* The socket of the main channel (for spice_server_get_sock_info). */
int main_channel_client_fd(const struct main_channel_client *mcc);
/* Agent traffic (char_device.c): AGENT_CONNECTED or AGENT_CONNECTED_TOKENS
 * (by the client's caps), AGENT_DISCONNECTED, AGENT_DATA (copied), AGENT_TOKEN. */
void main_channel_client_send_agent_connected(struct main_channel_client *mcc);
void main_channel_client_send_agent_disconnected(struct main_channel_client *mcc);
void main_channel_client_send_agent_data(struct main_channel_client *mcc, const uint8_t *data,
                                         size_t len);
void main_channel_client_send_agent_token(struct main_channel_client *mcc, uint32_t tokens);

/* ---- inputs_channel.c ---- */
struct inputs_channel_client *inputs_channel_client_create(struct session *session,
                                                           struct stream *stream,
                                                           const struct link_mess *link,
                                                           bool mini_header);
void inputs_channel_client_destroy(struct inputs_channel_client *icc);
void inputs_channel_client_kick(struct inputs_channel_client *icc);
void inputs_channel_client_send_leds(struct inputs_channel_client *icc, uint8_t leds);

#endif
