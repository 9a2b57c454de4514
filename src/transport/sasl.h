/*
 * SASL (cyrus-sasl) for the server: the authentication exchange of the SPICE
 * link stage, and the stream that carries the negotiated security layer.
 *
 * The exchange, after the client chose the SASL mechanism (all integers u32
 * little-endian):
 *
 *   server: length + mechanism list (",A,B," as sasl_listmech builds it)
 *   client: length (1..100) + mechanism name
 *   client: length + start data (length 0: no data; else data with a NUL)
 *   server: length (data + NUL, or 0) + data + u8 complete      \ repeated
 *   client: length + step data (as the start data)              / until complete
 *
 * then the link stage sends the 4-byte link result. Every length is checked
 * (data at most SASL_DATA_MAX_LEN) before anything is allocated.
 *
 * The module does no I/O: the caller asks where the next bytes go and how
 * many the current step needs (sasl_auth_want), reads exactly those, and
 * hands them over (sasl_auth_input); answers are appended to a byte_buf.
 *
 * Thread: an exchange runs on one thread (the host loop); the stream made
 * from it may then move to another thread with its ownership.
 */
#ifndef CLOVE_TRANSPORT_SASL_H
#define CLOVE_TRANSPORT_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "transport/stream.h"

#define SASL_MECHNAME_MAX_LEN 100
#define SASL_DATA_MAX_LEN     (1024 * 1024)
/* Plain TCP needs a security layer at least this strong (56: DES, Kerberos). */
#define SASL_MIN_SSF 56

struct sasl_auth;

/*
 * Initialises the SASL library for the server side under `appname` (the
 * name of its configuration file, <appname>.conf; NULL: "spice"). Reference
 * counted: every successful call is paired with sasl_global_release().
 * Returns 0, or CLOVE_E_IO with a static reason in *err_desc.
 * Thread: host loop.
 */
int sasl_global_acquire(const char *appname, const char **err_desc);
void sasl_global_release(void);

struct sasl_auth_config {
    const char *local_addr;  /* "IP;port" or NULL (unix sockets); borrowed */
    const char *remote_addr; /* "IP;port" or NULL; borrowed */
    /* > 0: the link already runs over TLS with this many cipher bits; any
     * mechanism is allowed and no SASL security layer is run. 0: plain TCP;
     * only mechanisms with a security layer of SASL_MIN_SSF bits or more,
     * neither anonymous nor plaintext ones. */
    int external_ssf;
};

/*
 * Starts an exchange (sasl_global_acquire must hold): appends the
 * mechanism list to `out`. Returns new (sasl_auth_destroy), or NULL with a
 * static reason in *err_desc.
 */
struct sasl_auth *sasl_auth_create(const struct sasl_auth_config *cfg, struct byte_buf *out,
                                   const char **err_desc);

/* Accepts NULL. */
void sasl_auth_destroy(struct sasl_auth *a);

/* Where the next client bytes go and how many the current step needs
 * (always > 0 while the exchange runs). Borrowed, valid until the next
 * sasl_auth_input. */
uint8_t *sasl_auth_want(struct sasl_auth *a, size_t *need);

/* sasl_auth_input results */
enum {
    SASL_AUTH_MORE = 0, /* the next step wants bytes: sasl_auth_want */
    SASL_AUTH_DONE = 1, /* authenticated: send the OK link result, then sasl_stream_create */
};

/*
 * The `need` bytes asked for are in place: runs the step, appending any
 * answer to `out`. Returns SASL_AUTH_MORE, SASL_AUTH_DONE, or a negative
 * error with a reason in *err_desc (static, or owned by `a` until it is
 * destroyed; never a secret):
 *   CLOVE_E_INVALID  the client named a mechanism we did not offer: answer
 *                    with the link error INVALID_DATA and close
 *   CLOVE_E_RANGE    a length out of range: close
 *   CLOVE_E_DENIED   authentication failed (what the client must see is in
 *                    `out`): flush, then close
 *   CLOVE_E_NOMEM    close
 */
int sasl_auth_input(struct sasl_auth *a, struct byte_buf *out, const char **err_desc);

/* After SASL_AUTH_DONE: the authenticated user name, or NULL. Borrowed. */
const char *sasl_auth_username(struct sasl_auth *a);

/* After SASL_AUTH_DONE: whether traffic from now on goes through the SASL
 * security layer (plain TCP). */
bool sasl_auth_has_layer(const struct sasl_auth *a);

/*
 * After SASL_AUTH_DONE and once the link result is flushed: wraps `inner`
 * (takes) in a stream that encodes and decodes through the security layer,
 * and takes `a`. Without a layer it destroys `a` and returns `inner` itself.
 * Returns NULL on allocation failure (both are destroyed).
 */
struct stream *sasl_stream_create(struct sasl_auth *a, struct stream *inner);

#endif
