/*
 * SASL (cyrus-sasl) for the client's link: the exchange that follows the
 * auth mechanism word SPICE_COMMON_CAP_AUTH_SASL, and the stream that
 * carries the negotiated security layer afterwards.
 *
 * The exchange (all integers u32 little-endian, as src/transport/sasl.h
 * describes it from the server's side):
 *
 *   server: length + mechanism list (",A,B,")
 *   client: length + chosen mechanism name
 *   client: length + start data (0: no data; else data + NUL, counted)
 *   server: length (data + NUL, or 0) + data + u8 complete       \ repeated
 *   client: length + step data (as the start data)               / until complete
 *   server: the 4-byte link result, in clear
 *
 * After an OK result, on plain TCP, everything goes through the security
 * layer (sasl_encode/sasl_decode), starting with a second link result that
 * the channel reads as for ticket authentication. Over TLS no layer runs.
 *
 * The module does no I/O: the channel hands over what it received
 * (sasl_client_input says how much it used) and sends what is appended to
 * its transmit buffer.
 *
 * Thread: the session's thread. The library is initialised once per process.
 */
#ifndef CLOVE_CLIENT_SASL_CLIENT_H
#define CLOVE_CLIENT_SASL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "transport/stream.h"

/* Bounds on what the server may send (the reference client takes 300 and 1 MiB). */
#define SASL_CLIENT_MECHLIST_MAX 4096
#define SASL_CLIENT_MECHNAME_MAX 100
#define SASL_CLIENT_DATA_MAX     (1024 * 1024)
/* Without TLS the layer must be at least this strong (56: DES, Kerberos). */
#define SASL_CLIENT_MIN_SSF 56

struct sasl_client;

struct sasl_client_config {
    const char *server_host; /* the host the user named; borrowed */
    int socket_fd;           /* for the "IP;port" of both ends (-1: none) */
    /* > 0: the link runs over TLS with this many cipher bits: any
     * mechanism, no layer. 0: plain TCP: only mechanisms with a layer of
     * SASL_CLIENT_MIN_SSF bits or more, neither anonymous nor plaintext. */
    int external_ssf;
    const char *username; /* borrowed; NULL: the login name ($USER) */
    const char *password; /* borrowed; NULL: "" */
};

/*
 * Starts a client exchange (initialising the library on first use).
 * Returns new (sasl_client_destroy), or NULL with a one-line reason in
 * why[why_len].
 */
struct sasl_client *sasl_client_create(const struct sasl_client_config *cfg, char *why,
                                       size_t why_len);

/* Accepts NULL. Wipes the copied password. */
void sasl_client_destroy(struct sasl_client *c);

/*
 * Handles the server's bytes data[0, len): uses at most one whole unit
 * (mechanism list, step answer or link result) and appends what the client
 * answers to `out`. Returns the bytes used (0: the unit is not complete
 * yet), or a negative code with a one-line reason in why[why_len]:
 *   CLOVE_E_DENIED       authentication failed or was refused
 *   CLOVE_E_UNSUPPORTED  no mechanism in common / security too weak
 *   CLOVE_E_RANGE        a length beyond the bounds above
 *   CLOVE_E_NOMEM
 * *done becomes true once the clear link result was OK: the caller then
 * makes the layer stream with sasl_client_stream_create.
 */
int sasl_client_input(struct sasl_client *c, const uint8_t *data, size_t len, struct byte_buf *out,
                      bool *done, char *why, size_t why_len);

/* The mechanism that was chosen ("" before). Borrowed. */
const char *sasl_client_mechanism(const struct sasl_client *c);

/* After *done: whether traffic from now on goes through the security layer. */
bool sasl_client_has_layer(const struct sasl_client *c);

/*
 * After *done: takes `c` and `inner`; returns a stream that decodes and
 * encodes through the layer, or `inner` itself when there is none (then
 * `c` is destroyed). `early`/`early_len` (copied) are raw bytes already
 * read from `inner` after the clear link result: they are decoded first.
 * Without a layer they must be handled by the caller (early_len 0 here).
 * Returns NULL on allocation failure (both are destroyed).
 */
struct stream *sasl_client_stream_create(struct sasl_client *c, struct stream *inner,
                                         const uint8_t *early, size_t early_len);

#endif
