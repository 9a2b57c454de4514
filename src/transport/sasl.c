/*
 * SASL for the server over cyrus-sasl: the link-stage exchange and the
 * security-layer stream (the wire format is described in sasl.h).
 *
 * DESIGN
 * - The exchange is a small state machine fed by the caller: MECH_LEN,
 *   MECH_NAME, DATA_LEN, DATA, then DONE or FAILED. Every length is checked
 *   before anything is allocated (mechanism name 1..100 bytes, data at most
 *   SASL_DATA_MAX_LEN), so a client cannot make us hold more than one data
 *   buffer of at most 1 MiB. A zero length (no data) runs its step at once,
 *   so sasl_auth_want never asks for zero bytes.
 * - Security policy as the reference server: on plain TCP only mechanisms
 *   with a security layer of SASL_MIN_SSF bits or more (neither anonymous
 *   nor plaintext) are listed, and the negotiated SSF is checked again
 *   when the exchange completes; over TLS the cipher bits are passed as the
 *   external SSF, any mechanism is allowed and no layer is run.
 * - The layer stream (plain TCP): writes encode at most SASL_MAXOUTBUF
 *   plaintext bytes at a time and keep the encoded packet until the inner
 *   stream took all of it (the caller's retry after CLOVE_E_AGAIN only
 *   drives that flush, as tls.c does); reads decode whatever the socket
 *   holds and keep decoded bytes the caller had no room for (pending).
 * - The library is process-global and may be shared with the host (QEMU's
 *   VNC server uses it too), so it is initialised once and never shut down,
 *   as the reference server does.
 *
 * Nothing here logs: reasons go back to the link stage, which logs them
 * with the peer's address. sasl_errdetail() texts never hold a password.
 *
 * Thread: see sasl.h.
 */
#include "transport/sasl.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sasl/sasl.h>

#include "common/error.h"

#define SPICE_SASL_SERVICE "spice"
#define SASL_RECV_MAX      8192 /* the most we let the client's packets be */
#define SASL_READ_CHUNK    8192
#define SASL_ENCODE_MAX    65536
#define SASL_REJECT_REASON "Authentication failed"

/* ---- the library ---- */

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static int global_result = 1; /* 1: not tried yet, else a SASL_* code */
/* sasl_server_init keeps the pointer to the application name, so it must
 * outlive the host's string (and the server). */
static char global_appname[256];

int sasl_global_acquire(const char *appname, const char **err_desc)
{
    pthread_mutex_lock(&global_lock);
    if (global_result == 1) {
        snprintf(global_appname, sizeof(global_appname), "%s",
                 appname && *appname ? appname : SPICE_SASL_SERVICE);
        global_result = sasl_server_init(NULL, global_appname);
    }
    int rc = global_result;
    pthread_mutex_unlock(&global_lock);
    if (rc != SASL_OK) {
        *err_desc = sasl_errstring(rc, NULL, NULL);
        return CLOVE_E_IO;
    }
    return 0;
}

void sasl_global_release(void)
{
    /* See the DESIGN note: the library stays initialised. */
}

/* ---- the exchange ---- */

enum sasl_auth_state {
    SASL_ST_MECH_LEN,
    SASL_ST_MECH_NAME,
    SASL_ST_DATA_LEN,
    SASL_ST_DATA,
    SASL_ST_DONE,
    SASL_ST_FAILED,
};

struct sasl_auth {
    sasl_conn_t *conn;
    enum sasl_auth_state state;
    bool started; /* sasl_server_start ran */
    bool layer;   /* DONE with a security layer */
    int external_ssf;
    char *mechlist; /* ",A,B," */
    uint8_t word[4];
    uint32_t len;
    char mechname[SASL_MECHNAME_MAX_LEN + 1];
    uint8_t *data; /* the current step's data, `len` bytes */
};

void sasl_auth_destroy(struct sasl_auth *a)
{
    if (!a) {
        return;
    }
    if (a->conn) {
        sasl_dispose(&a->conn);
    }
    free(a->mechlist);
    free(a->data);
    free(a);
}

struct sasl_auth *sasl_auth_create(const struct sasl_auth_config *cfg, struct byte_buf *out,
                                   const char **err_desc)
{
    struct sasl_auth *a = calloc(1, sizeof(*a));
    if (!a) {
        *err_desc = "out of memory";
        return NULL;
    }
    a->external_ssf = cfg->external_ssf;
    int err = sasl_server_new(SPICE_SASL_SERVICE, NULL, NULL, cfg->local_addr, cfg->remote_addr,
                              NULL, SASL_SUCCESS_DATA, &a->conn);
    if (err != SASL_OK) {
        a->conn = NULL;
        *err_desc = sasl_errstring(err, NULL, NULL);
        goto error;
    }
    sasl_security_properties_t props;
    memset(&props, 0, sizeof(props));
    props.maxbufsize = SASL_RECV_MAX;
    if (cfg->external_ssf > 0) {
        sasl_ssf_t ssf = (sasl_ssf_t)cfg->external_ssf;
        if (sasl_setprop(a->conn, SASL_SSF_EXTERNAL, &ssf) != SASL_OK) {
            *err_desc = "cannot set the external SSF";
            goto error;
        }
        props.min_ssf = 0;
        props.max_ssf = 0;
        props.security_flags = 0;
    } else {
        props.min_ssf = SASL_MIN_SSF;
        props.max_ssf = 100000;
        props.security_flags = SASL_SEC_NOANONYMOUS | SASL_SEC_NOPLAINTEXT;
    }
    if (sasl_setprop(a->conn, SASL_SEC_PROPS, &props) != SASL_OK) {
        *err_desc = "cannot set the SASL security properties";
        goto error;
    }
    const char *list = NULL;
    unsigned list_len = 0;
    err = sasl_listmech(a->conn, NULL, ",", ",", ",", &list, &list_len, NULL);
    if (err != SASL_OK || !list || list_len < 2) {
        *err_desc = "no SASL mechanism available for this connection";
        goto error;
    }
    a->mechlist = strdup(list);
    if (!a->mechlist) {
        *err_desc = "out of memory";
        goto error;
    }
    buf_put_u32(out, (uint32_t)strlen(a->mechlist));
    buf_put(out, a->mechlist, strlen(a->mechlist));
    a->state = SASL_ST_MECH_LEN;
    return a;

error:
    sasl_auth_destroy(a);
    return NULL;
}

uint8_t *sasl_auth_want(struct sasl_auth *a, size_t *need)
{
    switch (a->state) {
    case SASL_ST_MECH_LEN:
    case SASL_ST_DATA_LEN:
        *need = sizeof(a->word);
        return a->word;
    case SASL_ST_MECH_NAME:
        *need = a->len;
        return (uint8_t *)a->mechname;
    case SASL_ST_DATA:
        *need = a->len;
        return a->data;
    default:
        *need = 0;
        return NULL;
    }
}

static int sasl_auth_fail(struct sasl_auth *a, int rc, const char **err_desc, const char *why)
{
    a->state = SASL_ST_FAILED;
    *err_desc = why;
    return rc;
}

/* The mechanism name is in: it must be one we listed. */
static int sasl_auth_on_mechname(struct sasl_auth *a, const char **err_desc)
{
    a->mechname[a->len] = '\0';
    if (memchr(a->mechname, '\0', a->len) || strchr(a->mechname, ',')) {
        return sasl_auth_fail(a, CLOVE_E_INVALID, err_desc, "malformed mechanism name");
    }
    char quoted[SASL_MECHNAME_MAX_LEN + 3];
    quoted[0] = ',';
    memcpy(quoted + 1, a->mechname, a->len);
    quoted[a->len + 1] = ',';
    quoted[a->len + 2] = '\0';
    if (!strstr(a->mechlist, quoted)) {
        return sasl_auth_fail(a, CLOVE_E_INVALID, err_desc, "mechanism not offered");
    }
    a->state = SASL_ST_DATA_LEN;
    return SASL_AUTH_MORE;
}

/* Whether the negotiated security is enough; sets a->layer. */
static bool sasl_auth_check_ssf(struct sasl_auth *a)
{
    if (a->external_ssf > 0) {
        a->layer = false;
        return true;
    }
    const void *val = NULL;
    if (sasl_getprop(a->conn, SASL_SSF, &val) != SASL_OK || !val) {
        return false;
    }
    int ssf = *(const int *)val;
    a->layer = ssf > 0;
    return ssf >= SASL_MIN_SSF;
}

/* Runs sasl_server_start/step on the data of the current step. */
static int sasl_auth_step(struct sasl_auth *a, struct byte_buf *out, const char **err_desc)
{
    const char *client = NULL;
    unsigned client_len = 0;
    if (a->len > 0) {
        /* The wire includes a NUL; SASL distinguishes NULL from "". */
        a->data[a->len - 1] = '\0';
        client = (const char *)a->data;
        client_len = a->len - 1;
    }
    const char *server = NULL;
    unsigned server_len = 0;
    int err;
    if (!a->started) {
        a->started = true;
        err = sasl_server_start(a->conn, a->mechname, client, client_len, &server, &server_len);
    } else {
        err = sasl_server_step(a->conn, client, client_len, &server, &server_len);
    }
    free(a->data);
    a->data = NULL;
    if (err != SASL_OK && err != SASL_CONTINUE) {
        const char *why = sasl_errdetail(a->conn);
        return sasl_auth_fail(a, CLOVE_E_DENIED, err_desc, why ? why : "SASL step failed");
    }
    if (server_len > SASL_DATA_MAX_LEN || (server_len > 0 && !server)) {
        return sasl_auth_fail(a, CLOVE_E_RANGE, err_desc, "SASL answer too long");
    }
    if (server_len > 0) {
        buf_put_u32(out, server_len + 1);
        buf_put(out, server, server_len);
        buf_put_u8(out, 0);
    } else {
        buf_put_u32(out, 0);
    }
    buf_put_u8(out, err == SASL_CONTINUE ? 0 : 1);
    if (!buf_ok(out)) {
        return sasl_auth_fail(a, CLOVE_E_NOMEM, err_desc, "out of memory");
    }
    if (err == SASL_CONTINUE) {
        a->state = SASL_ST_DATA_LEN;
        return SASL_AUTH_MORE;
    }
    if (!sasl_auth_check_ssf(a)) {
        /* As the reference: a rejection result (1, SPICE_LINK_ERR_ERROR)
         * and a reason string, sent in clear. */
        buf_put_u32(out, 1);
        buf_put_u32(out, (uint32_t)sizeof(SASL_REJECT_REASON));
        buf_put(out, SASL_REJECT_REASON, sizeof(SASL_REJECT_REASON));
        return sasl_auth_fail(a, CLOVE_E_DENIED, err_desc,
                              "the negotiated security layer is too weak");
    }
    a->state = SASL_ST_DONE;
    return SASL_AUTH_DONE;
}

int sasl_auth_input(struct sasl_auth *a, struct byte_buf *out, const char **err_desc)
{
    switch (a->state) {
    case SASL_ST_MECH_LEN:
        a->len = get_u32le(a->word);
        if (a->len < 1 || a->len > SASL_MECHNAME_MAX_LEN) {
            return sasl_auth_fail(a, CLOVE_E_RANGE, err_desc, "bad mechanism name length");
        }
        a->state = SASL_ST_MECH_NAME;
        return SASL_AUTH_MORE;
    case SASL_ST_MECH_NAME:
        return sasl_auth_on_mechname(a, err_desc);
    case SASL_ST_DATA_LEN:
        a->len = get_u32le(a->word);
        if (a->len > SASL_DATA_MAX_LEN) {
            /* Before the start step the reference answers INVALID_DATA. */
            return sasl_auth_fail(a, a->started ? CLOVE_E_RANGE : CLOVE_E_INVALID, err_desc,
                                  "SASL data too long");
        }
        if (a->len == 0) {
            return sasl_auth_step(a, out, err_desc);
        }
        a->data = malloc(a->len);
        if (!a->data) {
            return sasl_auth_fail(a, CLOVE_E_NOMEM, err_desc, "out of memory");
        }
        a->state = SASL_ST_DATA;
        return SASL_AUTH_MORE;
    case SASL_ST_DATA:
        return sasl_auth_step(a, out, err_desc);
    default:
        *err_desc = "SASL exchange already ended";
        return CLOVE_E_STATE;
    }
}

const char *sasl_auth_username(struct sasl_auth *a)
{
    const void *val = NULL;
    if (a->state != SASL_ST_DONE || sasl_getprop(a->conn, SASL_USERNAME, &val) != SASL_OK) {
        return NULL;
    }
    return val;
}

bool sasl_auth_has_layer(const struct sasl_auth *a)
{
    return a->state == SASL_ST_DONE && a->layer;
}

/* ---- the security-layer stream ---- */

struct sasl_stream {
    struct stream base;
    struct stream *inner;
    sasl_conn_t *conn;
    /* decoded bytes the reader had no room for */
    uint8_t *dec;
    size_t dec_off, dec_len, dec_cap;
    /* the encoded packet being written (owned by conn until the next encode) */
    const char *enc;
    unsigned enc_len, enc_off;
    size_t plain_len; /* the caller's bytes it carries */
    size_t encode_max;
    uint8_t *plain; /* gathers the caller's iovec, encode_max bytes */
};

static struct sasl_stream *sasl_stream_from_stream(struct stream *s)
{
    return (struct sasl_stream *)s;
}

static bool sasl_stream_keep(struct sasl_stream *t, const char *data, size_t len)
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

static ssize_t sasl_stream_read(struct stream *s, void *buf, size_t len)
{
    struct sasl_stream *t = sasl_stream_from_stream(s);
    if (len == 0) {
        return 0;
    }
    if (t->dec_off < t->dec_len) {
        size_t n = t->dec_len - t->dec_off;
        n = n < len ? n : len;
        memcpy(buf, t->dec + t->dec_off, n);
        t->dec_off += n;
        return (ssize_t)n;
    }
    uint8_t encoded[SASL_READ_CHUNK];
    for (;;) {
        ssize_t n = stream_read(t->inner, encoded, sizeof(encoded));
        if (n <= 0) {
            return n == 0 ? CLOVE_E_CLOSED : n;
        }
        const char *decoded = NULL;
        unsigned decoded_len = 0;
        if (sasl_decode(t->conn, (const char *)encoded, (unsigned)n, &decoded, &decoded_len) !=
            SASL_OK) {
            errno = EIO;
            return CLOVE_E_IO;
        }
        if (decoded_len == 0) {
            continue; /* only part of a packet so far */
        }
        size_t m = decoded_len < len ? decoded_len : len;
        memcpy(buf, decoded, m);
        if (m < decoded_len && !sasl_stream_keep(t, decoded + m, decoded_len - m)) {
            errno = ENOMEM;
            return CLOVE_E_IO;
        }
        return (ssize_t)m;
    }
}

static ssize_t sasl_stream_writev(struct stream *s, const struct iovec *iov, int iovcnt)
{
    struct sasl_stream *t = sasl_stream_from_stream(s);
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

static size_t sasl_stream_pending(struct stream *s)
{
    struct sasl_stream *t = sasl_stream_from_stream(s);
    return (t->dec_len - t->dec_off) + stream_pending(t->inner);
}

static void sasl_stream_destroy(struct stream *s)
{
    struct sasl_stream *t = sasl_stream_from_stream(s);
    if (t->conn) {
        sasl_dispose(&t->conn);
    }
    stream_destroy(t->inner);
    free(t->dec);
    free(t->plain);
    free(t);
}

static const struct stream_impl sasl_stream_impl = {
        .read = sasl_stream_read,
        .writev = sasl_stream_writev,
        .destroy = sasl_stream_destroy,
        .pending = sasl_stream_pending,
};

struct stream *sasl_stream_create(struct sasl_auth *a, struct stream *inner)
{
    if (!sasl_auth_has_layer(a)) {
        sasl_auth_destroy(a);
        return inner;
    }
    struct sasl_stream *t = calloc(1, sizeof(*t));
    const void *val = NULL;
    size_t encode_max = 4096;
    if (sasl_getprop(a->conn, SASL_MAXOUTBUF, &val) == SASL_OK && val) {
        unsigned m = *(const unsigned *)val;
        if (m > 0) {
            encode_max = m < SASL_ENCODE_MAX ? m : SASL_ENCODE_MAX;
        }
    }
    if (t) {
        t->plain = malloc(encode_max);
    }
    if (!t || !t->plain) {
        free(t);
        sasl_auth_destroy(a);
        stream_destroy(inner);
        return NULL;
    }
    t->conn = a->conn;
    a->conn = NULL;
    sasl_auth_destroy(a);
    t->encode_max = encode_max;
    t->inner = inner;
    t->base.impl = &sasl_stream_impl;
    t->base.fd = inner->fd;
    t->base.flags = inner->flags;
    return &t->base;
}
