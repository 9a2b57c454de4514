/*
 * SASL for the client's link over cyrus-sasl (the wire format is in
 * sasl_client.h), the security-layer stream, and clove_session_set_sasl().
 *
 * DESIGN
 * - The exchange is a state machine over whole units: MECHLIST, REPLY
 *   (repeated), RESULT, then DONE. Every length the server sends is checked
 *   against the bounds of sasl_client.h before anything is copied; units
 *   are parsed in place from the channel's receive buffer.
 * - Security policy as remote-viewer: on plain TCP, min SSF 56, no
 *   anonymous or plaintext mechanisms, and the negotiated SSF is checked
 *   again when the exchange completes; over TLS the cipher bits are the
 *   external SSF and any mechanism goes. The mechanism itself is chosen by
 *   sasl_client_start from the server's list.
 * - Mutual authentication: as the reference client, a step that the server
 *   marks complete is still run through sasl_client_step (DIGEST-MD5's
 *   rspauth), and a server that ends while we are not done fails.
 * - Credentials come from callbacks (SASL_CB_AUTHNAME / USER / PASS) whose
 *   context is the exchange, so no interaction round trips are needed. The
 *   password copy is wiped when the exchange is destroyed; it never
 *   appears in a reason string.
 * - The layer stream mirrors the server's (src/transport/sasl.c): writes
 *   encode at most SASL_MAXOUTBUF bytes and keep the encoded packet until
 *   the inner stream took all of it; reads decode what the socket holds and
 *   keep what the caller had no room for. It also takes the raw bytes the
 *   channel had already received behind the clear link result.
 *
 * Thread: see sasl_client.h.
 */
#include "client/sasl_client.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sasl/sasl.h>
#include <spice/protocol.h>
#include <sys/socket.h>

#include "client/client_priv.h"
#include "common/error.h"

#define CLIENT_SASL_SERVICE "spice"
#define SASL_CLIENT_BUFSIZE 100000 /* the packets we accept, as the reference */
#define SASL_READ_CHUNK     8192
#define SASL_ENCODE_MAX     65536

/* ---- the library ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_result = SASL_FAIL;

static void global_init(void)
{
    global_result = sasl_client_init(NULL);
}

/* ---- the exchange ---- */

enum sasl_client_state {
    SC_MECHLIST,
    SC_REPLY,
    SC_RESULT,
    SC_DONE,
    SC_FAILED,
};

struct sasl_client {
    sasl_conn_t *conn;
    enum sasl_client_state state;
    int last; /* the last sasl_client_start/step result */
    int external_ssf;
    bool layer;
    char mech[SASL_CLIENT_MECHNAME_MAX + 1];
    char *username;        /* owns */
    sasl_secret_t *secret; /* owns: the password, wiped on destroy */
    size_t secret_size;
    sasl_callback_t callbacks[4];
};

static int cb_simple(void *context, int id, const char **result, unsigned *len)
{
    struct sasl_client *c = context;
    if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME) {
        return SASL_BADPARAM;
    }
    *result = c->username;
    if (len) {
        *len = (unsigned)strlen(c->username);
    }
    return SASL_OK;
}

static int cb_pass(sasl_conn_t *conn, void *context, int id, sasl_secret_t **psecret)
{
    struct sasl_client *c = context;
    (void)conn;
    if (id != SASL_CB_PASS || !psecret) {
        return SASL_BADPARAM;
    }
    *psecret = c->secret;
    return SASL_OK;
}

/* "IP;port" of one end of the socket; false for other families and errors. */
static bool sock_addr(int fd, bool local, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (fd < 0) {
        return false;
    }
    int rc = local ? getsockname(fd, (struct sockaddr *)&ss, &len)
                   : getpeername(fd, (struct sockaddr *)&ss, &len);
    if (rc < 0 || (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
        return false;
    }
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        return false;
    }
    snprintf(out, cap, "%s;%s", host, serv);
    return true;
}

void sasl_client_destroy(struct sasl_client *c)
{
    if (!c) {
        return;
    }
    if (c->conn) {
        sasl_dispose(&c->conn);
    }
    if (c->secret) {
        explicit_bzero(c->secret, c->secret_size);
        free(c->secret);
    }
    free(c->username);
    free(c);
}

struct sasl_client *sasl_client_create(const struct sasl_client_config *cfg, char *why,
                                       size_t why_len)
{
    pthread_once(&global_once, global_init);
    if (global_result != SASL_OK) {
        snprintf(why, why_len, "cannot initialise the SASL library: %s",
                 sasl_errstring(global_result, NULL, NULL));
        return NULL;
    }
    struct sasl_client *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    const char *user = cfg->username;
    if (!user || !*user) {
        user = getenv("USER");
    }
    const char *pw = cfg->password ? cfg->password : "";
    size_t pw_len = strlen(pw);
    c->username = strdup(user ? user : "");
    c->secret_size = sizeof(sasl_secret_t) + pw_len + 1;
    c->secret = calloc(1, c->secret_size);
    if (!c->username || !c->secret) {
        snprintf(why, why_len, "out of memory");
        goto error;
    }
    c->secret->len = pw_len;
    memcpy(c->secret->data, pw, pw_len + 1);
    c->external_ssf = cfg->external_ssf;

    /* Casts through void (*)(void): cyrus-sasl's generic callback type. */
    c->callbacks[0] = (sasl_callback_t){SASL_CB_USER, (int (*)(void))(void (*)(void))cb_simple, c};
    c->callbacks[1] =
            (sasl_callback_t){SASL_CB_AUTHNAME, (int (*)(void))(void (*)(void))cb_simple, c};
    c->callbacks[2] = (sasl_callback_t){SASL_CB_PASS, (int (*)(void))(void (*)(void))cb_pass, c};
    c->callbacks[3] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};

    char local[NI_MAXHOST + NI_MAXSERV + 2], remote[NI_MAXHOST + NI_MAXSERV + 2];
    bool have_local = sock_addr(cfg->socket_fd, true, local, sizeof(local));
    bool have_remote = sock_addr(cfg->socket_fd, false, remote, sizeof(remote));
    int err =
            sasl_client_new(CLIENT_SASL_SERVICE, cfg->server_host, have_local ? local : NULL,
                            have_remote ? remote : NULL, c->callbacks, SASL_SUCCESS_DATA, &c->conn);
    if (err != SASL_OK) {
        c->conn = NULL;
        snprintf(why, why_len, "cannot create a SASL client: %s", sasl_errstring(err, NULL, NULL));
        goto error;
    }
    sasl_security_properties_t props;
    memset(&props, 0, sizeof(props));
    props.maxbufsize = SASL_CLIENT_BUFSIZE;
    if (cfg->external_ssf > 0) {
        sasl_ssf_t ssf = (sasl_ssf_t)cfg->external_ssf;
        if (sasl_setprop(c->conn, SASL_SSF_EXTERNAL, &ssf) != SASL_OK) {
            snprintf(why, why_len, "cannot set the SASL external SSF");
            goto error;
        }
    } else {
        props.min_ssf = SASL_CLIENT_MIN_SSF;
        props.max_ssf = 100000;
        props.security_flags = SASL_SEC_NOANONYMOUS | SASL_SEC_NOPLAINTEXT;
    }
    if (sasl_setprop(c->conn, SASL_SEC_PROPS, &props) != SASL_OK) {
        snprintf(why, why_len, "cannot set the SASL security properties");
        goto error;
    }
    c->state = SC_MECHLIST;
    return c;

error:
    sasl_client_destroy(c);
    return NULL;
}

static int sc_fail(struct sasl_client *c, int code, char *why, size_t why_len, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static int sc_fail(struct sasl_client *c, int code, char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    c->state = SC_FAILED;
    return code;
}

static const char *sc_detail(struct sasl_client *c)
{
    const char *d = sasl_errdetail(c->conn);
    return d && *d ? d : "?";
}

/* Appends length + data (+ NUL) or a zero length, as the wire wants. */
static void put_data(struct byte_buf *out, const char *data, unsigned len)
{
    if (data) {
        buf_put_u32(out, len + 1);
        buf_put(out, data, len);
        buf_put_u8(out, 0);
    } else {
        buf_put_u32(out, 0);
    }
}

/* The server's list: choose, then send the name and the start data. */
static int sc_on_mechlist(struct sasl_client *c, const uint8_t *list, uint32_t len,
                          struct byte_buf *out, char *why, size_t why_len)
{
    char *mechlist = malloc((size_t)len + 1);
    if (!mechlist) {
        return sc_fail(c, CLOVE_E_NOMEM, why, why_len, "out of memory");
    }
    memcpy(mechlist, list, len);
    mechlist[len] = '\0';
    const char *clientout = NULL, *mech = NULL;
    unsigned clientout_len = 0;
    int err = sasl_client_start(c->conn, mechlist, NULL, &clientout, &clientout_len, &mech);
    if (err == SASL_NOMECH) {
        /* Trim the list's commas for the message. */
        char *shown = mechlist;
        while (*shown == ',') {
            shown++;
        }
        size_t n = strlen(shown);
        while (n > 0 && shown[n - 1] == ',') {
            shown[--n] = '\0';
        }
        int rc = sc_fail(c, CLOVE_E_UNSUPPORTED, why, why_len,
                         "SASL: no mechanism in common with the server (it offers: %s%s)",
                         *shown ? shown : "none",
                         c->external_ssf ? ""
                                         : "; plain TCP needs one "
                                           "with a security layer");
        free(mechlist);
        return rc;
    }
    free(mechlist);
    if (err != SASL_OK && err != SASL_CONTINUE) {
        return sc_fail(c, CLOVE_E_DENIED, why, why_len, "SASL start failed: %s", sc_detail(c));
    }
    if (!mech || strlen(mech) == 0 || strlen(mech) > SASL_CLIENT_MECHNAME_MAX) {
        return sc_fail(c, CLOVE_E_UNSUPPORTED, why, why_len, "SASL chose no usable mechanism");
    }
    if (clientout_len > SASL_CLIENT_DATA_MAX) {
        return sc_fail(c, CLOVE_E_RANGE, why, why_len, "SASL start data too long");
    }
    snprintf(c->mech, sizeof(c->mech), "%s", mech);
    buf_put_u32(out, (uint32_t)strlen(c->mech));
    buf_put(out, c->mech, strlen(c->mech));
    put_data(out, clientout, clientout_len);
    c->last = err;
    c->state = SC_REPLY;
    return 0;
}

/* Both sides are done: check the layer, then wait for the clear result. */
static int sc_finish(struct sasl_client *c, char *why, size_t why_len)
{
    if (c->external_ssf > 0) {
        c->layer = false;
    } else {
        const void *val = NULL;
        if (sasl_getprop(c->conn, SASL_SSF, &val) != SASL_OK || !val) {
            return sc_fail(c, CLOVE_E_UNSUPPORTED, why, why_len,
                           "SASL: cannot read the negotiated security strength");
        }
        int ssf = *(const int *)val;
        if (ssf < SASL_CLIENT_MIN_SSF) {
            return sc_fail(c, CLOVE_E_UNSUPPORTED, why, why_len,
                           "SASL: the negotiated security layer is too weak (SSF %d < %d)", ssf,
                           SASL_CLIENT_MIN_SSF);
        }
        c->layer = true;
    }
    c->state = SC_RESULT;
    return 0;
}

/* One answer of the server: data (NUL-terminated on the wire) + complete. */
static int sc_on_reply(struct sasl_client *c, const uint8_t *data, uint32_t len, bool complete,
                       struct byte_buf *out, char *why, size_t why_len)
{
    if (complete && c->last == SASL_OK) {
        return sc_finish(c, why, why_len);
    }
    /* SASL tells NULL from "": no data is NULL, else the bytes before the NUL. */
    char *serverin = NULL;
    unsigned serverin_len = 0;
    if (len > 0) {
        serverin = malloc(len);
        if (!serverin) {
            return sc_fail(c, CLOVE_E_NOMEM, why, why_len, "out of memory");
        }
        memcpy(serverin, data, len);
        serverin[len - 1] = '\0';
        serverin_len = len - 1;
    }
    const char *clientout = NULL;
    unsigned clientout_len = 0;
    int err = sasl_client_step(c->conn, serverin, serverin_len, NULL, &clientout, &clientout_len);
    free(serverin);
    if (err != SASL_OK && err != SASL_CONTINUE) {
        return sc_fail(c, CLOVE_E_DENIED, why, why_len, "SASL authentication failed (%s): %s",
                       c->mech, sc_detail(c));
    }
    c->last = err;
    if (complete) {
        if (err != SASL_OK) {
            return sc_fail(c, CLOVE_E_DENIED, why, why_len,
                           "SASL authentication failed (%s): the server ended the exchange "
                           "before the client could verify it",
                           c->mech);
        }
        return sc_finish(c, why, why_len);
    }
    if (clientout_len > SASL_CLIENT_DATA_MAX) {
        return sc_fail(c, CLOVE_E_RANGE, why, why_len, "SASL step data too long");
    }
    put_data(out, clientout, clientout_len);
    return 0;
}

int sasl_client_input(struct sasl_client *c, const uint8_t *data, size_t len, struct byte_buf *out,
                      bool *done, char *why, size_t why_len)
{
    *done = false;
    if (len < 4) {
        return c->state == SC_FAILED || c->state == SC_DONE ? CLOVE_E_STATE : 0;
    }
    uint32_t n = get_u32le(data);
    int rc;
    switch (c->state) {
    case SC_MECHLIST:
        if (n == 0 || n > SASL_CLIENT_MECHLIST_MAX) {
            return sc_fail(c, n == 0 ? CLOVE_E_UNSUPPORTED : CLOVE_E_RANGE, why, why_len,
                           n == 0 ? "SASL: the server offers no mechanism"
                                  : "SASL: the server's mechanism list is too long");
        }
        if (len - 4 < n) {
            return 0;
        }
        rc = sc_on_mechlist(c, data + 4, n, out, why, why_len);
        break;
    case SC_REPLY:
        if (n > SASL_CLIENT_DATA_MAX) {
            return sc_fail(c, CLOVE_E_RANGE, why, why_len, "SASL: the server's data is too long");
        }
        if (len - 4 < (size_t)n + 1) {
            return 0;
        }
        rc = sc_on_reply(c, data + 4, n, data[4 + n] != 0, out, why, why_len);
        n += 1;
        break;
    case SC_RESULT:
        if (n != SPICE_LINK_ERR_OK) {
            return sc_fail(c, CLOVE_E_DENIED, why, why_len,
                           "SASL authentication refused by the server (%s, link error %u)", c->mech,
                           n);
        }
        c->state = SC_DONE;
        *done = true;
        return 4;
    default:
        snprintf(why, why_len, "SASL exchange already ended");
        return CLOVE_E_STATE;
    }
    if (rc < 0) {
        return rc;
    }
    if (!buf_ok(out)) {
        return sc_fail(c, CLOVE_E_NOMEM, why, why_len, "out of memory");
    }
    return (int)(4 + n);
}

const char *sasl_client_mechanism(const struct sasl_client *c)
{
    return c->mech;
}

bool sasl_client_has_layer(const struct sasl_client *c)
{
    return c->state == SC_DONE && c->layer;
}

/* ---- the security-layer stream ---- */

struct sasl_layer {
    struct stream base;
    struct stream *inner;
    sasl_conn_t *conn;
    /* decoded bytes the reader had no room for */
    uint8_t *dec;
    size_t dec_off, dec_len, dec_cap;
    /* raw bytes received before the layer started, decoded first */
    uint8_t *early;
    size_t early_len;
    /* the encoded packet being written (owned by conn until the next encode) */
    const char *enc;
    unsigned enc_len, enc_off;
    size_t plain_len; /* the caller's bytes it carries */
    size_t encode_max;
    uint8_t *plain; /* gathers the caller's iovec, encode_max bytes */
};

static struct sasl_layer *layer_from_stream(struct stream *s)
{
    return (struct sasl_layer *)s;
}

static bool layer_keep(struct sasl_layer *t, const char *data, size_t len)
{
    if (t->dec_off == t->dec_len) {
        t->dec_off = t->dec_len = 0;
    }
    if (t->dec_len + len > t->dec_cap) {
        size_t cap = t->dec_len + len;
        uint8_t *p = realloc(t->dec, cap);
        if (!p) {
            return false;
        }
        t->dec = p;
        t->dec_cap = cap;
    }
    memcpy(t->dec + t->dec_len, data, len);
    t->dec_len += len;
    return true;
}

static ssize_t layer_read(struct stream *s, void *buf, size_t len)
{
    struct sasl_layer *t = layer_from_stream(s);
    if (len == 0) {
        return 0;
    }
    for (;;) {
        if (t->dec_off < t->dec_len) {
            size_t n = t->dec_len - t->dec_off;
            n = n < len ? n : len;
            memcpy(buf, t->dec + t->dec_off, n);
            t->dec_off += n;
            return (ssize_t)n;
        }
        uint8_t chunk[SASL_READ_CHUNK];
        const uint8_t *encoded = chunk;
        ssize_t n;
        if (t->early_len > 0) {
            encoded = t->early;
            n = (ssize_t)t->early_len;
            t->early_len = 0;
        } else {
            n = stream_read(t->inner, chunk, sizeof(chunk));
            if (n <= 0) {
                return n == 0 ? CLOVE_E_CLOSED : n;
            }
        }
        const char *decoded = NULL;
        unsigned decoded_len = 0;
        int err = sasl_decode(t->conn, (const char *)encoded, (unsigned)n, &decoded, &decoded_len);
        if (encoded != chunk) {
            free(t->early);
            t->early = NULL;
        }
        if (err != SASL_OK) {
            errno = EIO;
            return CLOVE_E_IO;
        }
        if (decoded_len > 0 && !layer_keep(t, decoded, decoded_len)) {
            errno = ENOMEM;
            return CLOVE_E_IO;
        }
        /* decoded_len 0: only part of a packet so far; read on. */
    }
}

static ssize_t layer_writev(struct stream *s, const struct iovec *iov, int iovcnt)
{
    struct sasl_layer *t = layer_from_stream(s);
    if (!t->enc) {
        size_t n = 0;
        for (int i = 0; i < iovcnt && n < t->encode_max; i++) {
            size_t m = iov[i].iov_len;
            if (m > t->encode_max - n) {
                m = t->encode_max - n;
            }
            memcpy(t->plain + n, iov[i].iov_base, m);
            n += m;
        }
        if (n == 0) {
            return 0;
        }
        const char *enc = NULL;
        unsigned enc_len = 0;
        if (sasl_encode(t->conn, (const char *)t->plain, (unsigned)n, &enc, &enc_len) != SASL_OK) {
            errno = EIO;
            return CLOVE_E_IO;
        }
        if (enc_len == 0 || !enc) {
            return (ssize_t)n;
        }
        t->enc = enc;
        t->enc_len = enc_len;
        t->enc_off = 0;
        t->plain_len = n;
    }
    while (t->enc_off < t->enc_len) {
        ssize_t w = stream_write(t->inner, t->enc + t->enc_off, t->enc_len - t->enc_off);
        if (w < 0) {
            return w;
        }
        t->enc_off += (unsigned)w;
    }
    t->enc = NULL;
    t->enc_len = t->enc_off = 0;
    return (ssize_t)t->plain_len;
}

static size_t layer_pending(struct stream *s)
{
    struct sasl_layer *t = layer_from_stream(s);
    return (t->dec_len - t->dec_off) + t->early_len + stream_pending(t->inner);
}

static void layer_destroy(struct stream *s)
{
    struct sasl_layer *t = layer_from_stream(s);
    if (t->conn) {
        sasl_dispose(&t->conn);
    }
    stream_destroy(t->inner);
    free(t->dec);
    free(t->early);
    free(t->plain);
    free(t);
}

static const struct stream_impl layer_impl = {
        .read = layer_read,
        .writev = layer_writev,
        .destroy = layer_destroy,
        .pending = layer_pending,
};

struct stream *sasl_client_stream_create(struct sasl_client *c, struct stream *inner,
                                         const uint8_t *early, size_t early_len)
{
    if (!sasl_client_has_layer(c)) {
        sasl_client_destroy(c);
        return inner;
    }
    size_t encode_max = 4096;
    const void *val = NULL;
    if (sasl_getprop(c->conn, SASL_MAXOUTBUF, &val) == SASL_OK && val) {
        unsigned m = *(const unsigned *)val;
        if (m > 0) {
            encode_max = m < SASL_ENCODE_MAX ? m : SASL_ENCODE_MAX;
        }
    }
    struct sasl_layer *t = calloc(1, sizeof(*t));
    if (t) {
        t->plain = malloc(encode_max);
        t->early = early_len > 0 ? malloc(early_len) : NULL;
    }
    if (!t || !t->plain || (early_len > 0 && !t->early)) {
        if (t) {
            free(t->plain);
            free(t->early);
        }
        free(t);
        sasl_client_destroy(c);
        stream_destroy(inner);
        return NULL;
    }
    if (early_len > 0) {
        memcpy(t->early, early, early_len);
        t->early_len = early_len;
    }
    t->conn = c->conn;
    c->conn = NULL;
    sasl_client_destroy(c);
    t->encode_max = encode_max;
    t->inner = inner;
    t->base.impl = &layer_impl;
    t->base.fd = inner->fd;
    t->base.flags = inner->flags;
    return &t->base;
}

/* ---- the public setter ---- */

int clove_session_set_sasl(struct clove_session *session, bool enable, const char *username,
                           const char *password)
{
    if (session->connected) {
        return CLOVE_E_STATE;
    }
    char *user = NULL, *pw = NULL;
    if (enable) {
        user = username && *username ? strdup(username) : NULL;
        pw = strdup(password ? password : "");
        if ((username && *username && !user) || !pw) {
            free(user);
            free(pw);
            return CLOVE_E_NOMEM;
        }
    }
    session_sasl_clear(session);
    session->sasl = enable;
    session->sasl_username = user;
    session->sasl_password = pw;
    return 0;
}

void session_sasl_clear(struct clove_session *session)
{
    free(session->sasl_username);
    if (session->sasl_password) {
        explicit_bzero(session->sasl_password, strlen(session->sasl_password));
        free(session->sasl_password);
    }
    session->sasl = false;
    session->sasl_username = NULL;
    session->sasl_password = NULL;
}
