/*
 * TLS server streams over OpenSSL.
 *
 * DESIGN
 * - One SSL_CTX per server, built by tls_context_create() when the server
 *   starts (it reads the certificate, key, CA and DH files: blocking I/O that
 *   must stay off the per-connection path). Each SSL holds a reference to
 *   the context.
 * - The SSL does its I/O through a small BIO that calls the inner stream, so
 *   writes go through tcp.c's sendmsg(MSG_NOSIGNAL) and never raise SIGPIPE,
 *   and so TLS can sit on any stream.
 * - Writes copy up to one record (16 KiB) of the caller's iovec into `out`
 *   and SSL_write it; if the socket is full, OpenSSL wants the very same
 *   bytes again, which is `out`, and the caller's retry (stream.h: same
 *   leading bytes) is what drives it. The caller only learns the bytes went
 *   out once SSL_write accepted them.
 * - Policy: TLS 1.2 or newer, no renegotiation (the reference refuses
 *   client renegotiation too), no compression, the host's cipher list.
 * - Client streams (libclove-client) are the same object in connect state:
 *   the context verifies the peer's chain against the CA bundle, the handshake
 *   fails with the verify result kept for the caller's message, and the
 *   caller checks the host name or subject with the peer certificate.
 *
 * Thread: see tls.h.
 */
#include "transport/tls.h"

#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/error.h"

#define TLS_WRITE_CHUNK 16384

struct tls_context {
    SSL_CTX *ctx;
};

struct tls_stream {
    struct stream base;
    struct stream *inner;
    SSL *ssl;
    bool handshake_done;
    bool wants_write;
    bool client;
    uint8_t out[TLS_WRITE_CHUNK];
    size_t out_len; /* > 0: a write is in flight with these bytes */
};

/* ---- a BIO over a struct stream ---- */

static BIO_METHOD *stream_bio_method;

static int stream_bio_write(BIO *b, const char *data, int len)
{
    struct stream *inner = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = stream_write(inner, data, (size_t)len);
    if (n == CLOVE_E_AGAIN) {
        BIO_set_retry_write(b);
        return -1;
    }
    return n < 0 ? -1 : (int)n;
}

static int stream_bio_read(BIO *b, char *data, int len)
{
    struct stream *inner = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = stream_read(inner, data, (size_t)len);
    if (n == CLOVE_E_AGAIN) {
        BIO_set_retry_read(b);
        return -1;
    }
    if (n == CLOVE_E_CLOSED) {
        return 0;
    }
    return n < 0 ? -1 : (int)n;
}

static long stream_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int stream_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static bool stream_bio_method_init(void)
{
    /* Built once on the host loop, before any stream exists; never freed,
     * like OpenSSL's own static methods. */
    if (stream_bio_method) {
        return true;
    }
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "clove-stream");
    if (!m || !BIO_meth_set_write(m, stream_bio_write) || !BIO_meth_set_read(m, stream_bio_read) ||
        !BIO_meth_set_ctrl(m, stream_bio_ctrl) || !BIO_meth_set_create(m, stream_bio_create)) {
        BIO_meth_free(m);
        return false;
    }
    stream_bio_method = m;
    return true;
}

/* ---- context ---- */

static int key_password_cb(char *buf, int size, int rwflag, void *userdata)
{
    const char *pw = userdata;
    if (!pw) {
        return 0;
    }
    size_t len = strlen(pw);
    if (len > (size_t)size) {
        return 0;
    }
    memcpy(buf, pw, len);
    return (int)len;
}

struct tls_context *tls_context_create(const struct tls_config *cfg, const char **err_desc)
{
    if (!cfg->cert_file || !cfg->key_file) {
        *err_desc = "no certificate or key file";
        return NULL;
    }
    if (!stream_bio_method_init()) {
        *err_desc = "cannot create the stream BIO";
        return NULL;
    }
    struct tls_context *t = calloc(1, sizeof(*t));
    if (!t) {
        *err_desc = "out of memory";
        return NULL;
    }
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (!t->ctx) {
        *err_desc = "SSL_CTX_new failed";
        goto error;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                        SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    SSL_CTX_set_default_passwd_cb(t->ctx, key_password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(t->ctx, (void *)cfg->key_password);
    if (SSL_CTX_use_certificate_chain_file(t->ctx, cfg->cert_file) != 1) {
        *err_desc = "cannot load the certificate chain";
        goto error;
    }
    int ok = SSL_CTX_use_PrivateKey_file(t->ctx, cfg->key_file, SSL_FILETYPE_PEM);
    /* The password is only needed while the key loads: do not keep it. */
    SSL_CTX_set_default_passwd_cb_userdata(t->ctx, NULL);
    if (ok != 1) {
        *err_desc = "cannot load the private key (wrong password?)";
        goto error;
    }
    if (SSL_CTX_check_private_key(t->ctx) != 1) {
        *err_desc = "the private key does not match the certificate";
        goto error;
    }
    if (cfg->ca_file && *cfg->ca_file) {
        if (SSL_CTX_load_verify_locations(t->ctx, cfg->ca_file, NULL) != 1) {
            *err_desc = "cannot load the CA file";
            goto error;
        }
    }
    if (cfg->dh_file && *cfg->dh_file) {
        BIO *bio = BIO_new_file(cfg->dh_file, "r");
        EVP_PKEY *dh = bio ? PEM_read_bio_Parameters(bio, NULL) : NULL;
        BIO_free(bio);
        if (!dh || SSL_CTX_set0_tmp_dh_pkey(t->ctx, dh) != 1) {
            EVP_PKEY_free(dh);
            *err_desc = "cannot load the DH parameters";
            goto error;
        }
    } else {
        SSL_CTX_set_dh_auto(t->ctx, 1);
    }
    if (cfg->ciphers && *cfg->ciphers) {
        if (SSL_CTX_set_cipher_list(t->ctx, cfg->ciphers) != 1) {
            *err_desc = "no usable cipher in the cipher list";
            goto error;
        }
    }
    return t;

error:
    SSL_CTX_free(t->ctx);
    free(t);
    return NULL;
}

void tls_context_destroy(struct tls_context *t)
{
    if (!t) {
        return;
    }
    SSL_CTX_free(t->ctx);
    free(t);
}

/* ---- stream ---- */

static struct tls_stream *tls_stream_from_stream(const struct stream *s)
{
    return (struct tls_stream *)s;
}

/* Maps an SSL_get_error() result; records which way a retry waits. */
static int tls_map_error(struct tls_stream *t, int ret)
{
    int e = SSL_get_error(t->ssl, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        t->wants_write = false;
        return CLOVE_E_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        t->wants_write = true;
        return CLOVE_E_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return CLOVE_E_CLOSED;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return ret == 0 ? CLOVE_E_CLOSED : CLOVE_E_IO;
    default:
        ERR_clear_error();
        return CLOVE_E_IO;
    }
}

int tls_stream_handshake(struct stream *s, const char **err_desc)
{
    struct tls_stream *t = tls_stream_from_stream(s);
    if (t->handshake_done) {
        return 0;
    }
    ERR_clear_error();
    int ret = t->client ? SSL_connect(t->ssl) : SSL_accept(t->ssl);
    if (ret == 1) {
        t->handshake_done = true;
        return 0;
    }
    unsigned long detail = ERR_peek_error();
    int rc = tls_map_error(t, ret);
    if (rc != CLOVE_E_AGAIN) {
        *err_desc = detail ? ERR_reason_error_string(detail) : NULL;
        if (!*err_desc) {
            *err_desc =
                    rc == CLOVE_E_CLOSED ? "peer closed during the handshake" : "handshake failed";
        }
    }
    return rc;
}

bool tls_stream_handshake_done(const struct stream *s)
{
    return tls_stream_from_stream(s)->handshake_done;
}

bool tls_stream_wants_write(const struct stream *s)
{
    return tls_stream_from_stream(s)->wants_write;
}

int tls_stream_cipher_bits(const struct stream *s)
{
    const struct tls_stream *t = tls_stream_from_stream(s);
    if (!t->handshake_done) {
        return 0;
    }
    return SSL_get_cipher_bits(t->ssl, NULL);
}

static ssize_t tls_read(struct stream *s, void *buf, size_t len)
{
    struct tls_stream *t = tls_stream_from_stream(s);
    if (!t->handshake_done) {
        return CLOVE_E_STATE;
    }
    size_t n = 0;
    ERR_clear_error();
    int ret = SSL_read_ex(t->ssl, buf, len, &n);
    if (ret == 1) {
        return (ssize_t)n;
    }
    return tls_map_error(t, ret);
}

static ssize_t tls_writev(struct stream *s, const struct iovec *iov, int iovcnt)
{
    struct tls_stream *t = tls_stream_from_stream(s);
    if (!t->handshake_done) {
        return CLOVE_E_STATE;
    }
    if (t->out_len == 0) {
        for (int i = 0; i < iovcnt && t->out_len < sizeof(t->out); i++) {
            size_t n = iov[i].iov_len;
            if (n > sizeof(t->out) - t->out_len) {
                n = sizeof(t->out) - t->out_len;
            }
            memcpy(t->out + t->out_len, iov[i].iov_base, n);
            t->out_len += n;
        }
        if (t->out_len == 0) {
            return 0;
        }
    }
    size_t written = 0;
    ERR_clear_error();
    int ret = SSL_write_ex(t->ssl, t->out, t->out_len, &written);
    if (ret == 1) {
        t->out_len = 0;
        return (ssize_t)written;
    }
    return tls_map_error(t, ret);
}

static size_t tls_pending(struct stream *s)
{
    struct tls_stream *t = tls_stream_from_stream(s);
    int n = SSL_pending(t->ssl);
    return (n > 0 ? (size_t)n : 0) + stream_pending(t->inner);
}

static void tls_destroy(struct stream *s)
{
    struct tls_stream *t = tls_stream_from_stream(s);
    if (t->handshake_done) {
        /* One non-blocking close_notify; a peer that is gone is fine. */
        ERR_clear_error();
        SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
    SSL_free(t->ssl); /* frees the BIO */
    stream_destroy(t->inner);
    OPENSSL_cleanse(t->out, sizeof(t->out));
    free(t);
}

static const struct stream_impl tls_stream_impl = {
        .read = tls_read,
        .writev = tls_writev,
        .destroy = tls_destroy,
        .pending = tls_pending,
};

struct stream *tls_stream_create(struct tls_context *ctx, struct stream *inner)
{
    struct tls_stream *t = calloc(1, sizeof(*t));
    if (!t) {
        stream_destroy(inner);
        return NULL;
    }
    t->ssl = SSL_new(ctx->ctx);
    BIO *bio = BIO_new(stream_bio_method);
    if (!t->ssl || !bio) {
        BIO_free(bio);
        SSL_free(t->ssl);
        free(t);
        stream_destroy(inner);
        return NULL;
    }
    BIO_set_data(bio, inner);
    SSL_set_bio(t->ssl, bio, bio);
    SSL_set_accept_state(t->ssl);
    t->inner = inner;
    t->base.impl = &tls_stream_impl;
    t->base.fd = inner->fd;
    t->base.flags = inner->flags | STREAM_FLAG_TLS;
    return &t->base;
}

/* ---- client side ---- */

struct tls_context *tls_client_context_create(const char *ca_file, const char **err_desc)
{
    if (!stream_bio_method_init()) {
        *err_desc = "cannot create the stream BIO";
        return NULL;
    }
    struct tls_context *t = calloc(1, sizeof(*t));
    if (!t) {
        *err_desc = "out of memory";
        return NULL;
    }
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx) {
        *err_desc = "SSL_CTX_new failed";
        goto error;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    int ok = ca_file && *ca_file ? SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL)
                                 : SSL_CTX_set_default_verify_paths(t->ctx);
    if (ok != 1) {
        *err_desc = ca_file && *ca_file ? "cannot load the CA file"
                                        : "cannot load the default CA locations";
        goto error;
    }
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    return t;

error:
    ERR_clear_error();
    SSL_CTX_free(t->ctx);
    free(t);
    return NULL;
}

struct stream *tls_client_stream_create(struct tls_context *ctx, struct stream *inner,
                                        const char *sni_host)
{
    struct stream *s = tls_stream_create(ctx, inner);
    if (!s) {
        return NULL;
    }
    struct tls_stream *t = tls_stream_from_stream(s);
    t->client = true;
    SSL_set_connect_state(t->ssl);
    unsigned char addr[16];
    if (sni_host && *sni_host && inet_pton(AF_INET, sni_host, addr) != 1 &&
        inet_pton(AF_INET6, sni_host, addr) != 1) {
        /* Only a hint for the server: a name OpenSSL refuses is not sent. */
        if (SSL_set_tlsext_host_name(t->ssl, sni_host) != 1) {
            ERR_clear_error();
        }
    }
    return s;
}

long tls_stream_verify_result(const struct stream *s)
{
    return SSL_get_verify_result(tls_stream_from_stream(s)->ssl);
}

void *tls_stream_peer_certificate(const struct stream *s)
{
    const struct tls_stream *t = tls_stream_from_stream(s);
    return t->handshake_done ? SSL_get0_peer_certificate(t->ssl) : NULL;
}
