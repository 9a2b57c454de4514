/*
 * TLS (OpenSSL) for the server: a context loaded once from the host's files,
 * and a non-blocking stream that runs the server handshake and then
 * encrypts on top of another stream. The client side (libclove-client) uses
 * the same stream with a client context and the client handshake; it checks
 * the host name itself with the peer certificate.
 *
 * Thread: a context is created and destroyed on the host loop and only read
 * afterwards (streams may live on worker threads); a stream is used by one
 * thread at a time.
 */
#ifndef CLOVE_TRANSPORT_TLS_H
#define CLOVE_TRANSPORT_TLS_H

#include <stdbool.h>

#include "transport/stream.h"

struct tls_context;

/* What spice_server_set_tls() passes; every field is borrowed and may be
 * NULL except cert_file and key_file. */
struct tls_config {
    const char *ca_file;      /* CA bundle (sent as the acceptable CA list) */
    const char *cert_file;    /* certificate chain, PEM */
    const char *key_file;     /* private key, PEM */
    const char *key_password; /* for an encrypted key */
    const char *dh_file;      /* DH parameters, PEM */
    const char *ciphers;      /* OpenSSL cipher list for TLS 1.2 */
};

/*
 * Loads the files and builds a server context: TLS 1.2 or newer, no
 * renegotiation, no compression. Blocking file I/O: call it at start-up,
 * never per connection. Returns new (tls_context_destroy), or NULL with a
 * static reason in *err_desc (the OpenSSL error queue is logged by the
 * caller if it wants).
 */
struct tls_context *tls_context_create(const struct tls_config *cfg, const char **err_desc);

/* Accepts NULL. Streams created from the context keep it alive. */
void tls_context_destroy(struct tls_context *ctx);

/*
 * Wraps `inner` (takes) in a TLS server stream that has not shaken hands
 * yet. The stream gets STREAM_FLAG_TLS. Returns NULL on allocation failure
 * (`inner` is destroyed).
 */
struct stream *tls_stream_create(struct tls_context *ctx, struct stream *inner);

/*
 * Advances the handshake: 0 when it is complete, CLOVE_E_AGAIN when it must
 * wait for the socket (tls_stream_wants_write() tells which way), or a
 * negative error with a static reason in *err_desc.
 */
int tls_stream_handshake(struct stream *s, const char **err_desc);

bool tls_stream_handshake_done(const struct stream *s);

/* After CLOVE_E_AGAIN: whether the stream waits for the socket to accept
 * bytes (rather than to deliver them). */
bool tls_stream_wants_write(const struct stream *s);

/* The SASL security strength of the connection: the cipher's bits, 0 before
 * the handshake. */
int tls_stream_cipher_bits(const struct stream *s);

/* ---- client side ---- */

/*
 * Builds a client context: TLS 1.2 or newer, no renegotiation, no
 * compression, the peer's chain verified (SSL_VERIFY_PEER) against the CA
 * bundle `ca_file` (borrowed; NULL or "" = OpenSSL's default verify paths).
 * Blocking file I/O. Returns new (tls_context_destroy), or NULL with a static
 * reason in *err_desc.
 */
struct tls_context *tls_client_context_create(const char *ca_file, const char **err_desc);

/*
 * Wraps `inner` (takes) in a TLS client stream that has not shaken hands
 * yet; tls_stream_handshake() drives it like the server one. `sni_host`
 * (borrowed, may be NULL) is sent as the server name unless it is an IP
 * address. Returns NULL on allocation failure (`inner` is destroyed).
 */
struct stream *tls_client_stream_create(struct tls_context *ctx, struct stream *inner,
                                        const char *sni_host);

/* The chain verification result (an X509_V_* code, 0 = X509_V_OK) once the
 * handshake finished or failed. */
long tls_stream_verify_result(const struct stream *s);

/* The peer's certificate (an X509 *, borrowed: valid as long as the stream),
 * or NULL before the handshake. */
void *tls_stream_peer_certificate(const struct stream *s);

#endif
