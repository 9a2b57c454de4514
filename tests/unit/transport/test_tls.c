/*
 * Tests src/transport/tls.c and the TLS path of the server: a throwaway
 * self-signed certificate (made here with OpenSSL) loads with and without a
 * key password; a TLS stream over a socketpair shakes hands with an OpenSSL
 * client and moves data both ways, including writes the socket takes only in
 * part; TLS 1.1 is refused; and through the public API
 * (spice_server_set_tls + spice_server_add_ssl_client on the fake host) a
 * main channel links over TLS, while a channel limited to plain connections
 * answers NEED_UNSECURED.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include "check.h"
#include "common/bytes.h"
#include "common/error.h"
#include "fake_host.h"
#include "server/server.h"
#include "transport/stream.h"
#include "transport/tls.h"

static char dir[64];
static char cert_path[128], key_path[128], enc_key_path[128];

/* A self-signed RSA-2048 certificate for CN=localhost, plus its key in clear
 * and encrypted with "pw". */
static bool make_certificate(void)
{
    snprintf(dir, sizeof(dir), "/tmp/clove-tls-XXXXXX");
    if (!mkdtemp(dir)) {
        return false;
    }
    snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
    snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
    snprintf(enc_key_path, sizeof(enc_key_path), "%s/key-enc.pem", dir);
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    if (!key || !x) {
        return false;
    }
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    bool ok = X509_sign(x, key, EVP_sha256()) > 0;
    FILE *f = fopen(cert_path, "w");
    ok = ok && f && PEM_write_X509(f, x);
    if (f) {
        fclose(f);
    }
    f = fopen(key_path, "w");
    ok = ok && f && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    if (f) {
        fclose(f);
    }
    f = fopen(enc_key_path, "w");
    ok = ok && f &&
         PEM_write_PrivateKey(f, key, EVP_aes_128_cbc(), (unsigned char *)"pw", 2, NULL, NULL);
    if (f) {
        fclose(f);
    }
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
}

static void remove_certificate(void)
{
    unlink(cert_path);
    unlink(key_path);
    unlink(enc_key_path);
    rmdir(dir);
}

static void test_context(void)
{
    const char *why = NULL;
    struct tls_config cfg = {.cert_file = cert_path, .key_file = key_path};
    struct tls_context *ctx = tls_context_create(&cfg, &why);
    CHECK(ctx != NULL);
    tls_context_destroy(ctx);

    cfg.key_file = enc_key_path;
    cfg.key_password = "pw";
    ctx = tls_context_create(&cfg, &why);
    CHECK(ctx != NULL);
    tls_context_destroy(ctx);

    cfg.key_password = "wrong";
    why = NULL;
    CHECK(tls_context_create(&cfg, &why) == NULL);
    CHECK(why != NULL);
    ERR_clear_error();

    cfg.key_file = key_path;
    cfg.key_password = NULL;
    cfg.ciphers = "NO-SUCH-CIPHER";
    CHECK(tls_context_create(&cfg, &why) == NULL);
    ERR_clear_error();
    cfg.ciphers = NULL;
    cfg.ca_file = "/nonexistent/ca.pem";
    CHECK(tls_context_create(&cfg, &why) == NULL);
    ERR_clear_error();
    tls_context_destroy(NULL);
}

/* ---- server stream + OpenSSL client over a socketpair, one thread ---- */

struct tls_pair {
    struct tls_context *ctx;
    struct stream *server;
    SSL_CTX *client_ctx;
    SSL *client;
    int client_fd;
};

static void pair_open(struct tls_pair *p, int client_max_version)
{
    memset(p, 0, sizeof(*p));
    const char *why;
    struct tls_config cfg = {.cert_file = cert_path, .key_file = key_path};
    p->ctx = tls_context_create(&cfg, &why);
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p->server = tls_stream_create(p->ctx, tcp_stream_create(sv[0]));
    CHECK(p->server != NULL);
    CHECK(p->server->flags & STREAM_FLAG_TLS);
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    p->client_fd = sv[1];
    p->client_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(p->client_ctx, 0);
    SSL_CTX_set_security_level(p->client_ctx, 0);
    if (client_max_version) {
        SSL_CTX_set_max_proto_version(p->client_ctx, client_max_version);
    }
    p->client = SSL_new(p->client_ctx);
    SSL_set_fd(p->client, sv[1]);
    SSL_set_connect_state(p->client);
}

static void pair_close(struct tls_pair *p)
{
    SSL_free(p->client);
    SSL_CTX_free(p->client_ctx);
    close(p->client_fd);
    stream_destroy(p->server);
    tls_context_destroy(p->ctx);
    ERR_clear_error();
}

/* Drives both handshakes; returns the server's result. */
static int pair_handshake(struct tls_pair *p)
{
    const char *why = NULL;
    int rc = CLOVE_E_AGAIN;
    bool client_done = false;
    for (int i = 0; i < 100 && (rc == CLOVE_E_AGAIN || !client_done); i++) {
        if (!client_done) {
            int r = SSL_do_handshake(p->client);
            client_done = r == 1;
            if (r <= 0) {
                int e = SSL_get_error(p->client, r);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                    client_done = true; /* failed; the server will see it */
                }
            }
        }
        if (rc == CLOVE_E_AGAIN) {
            rc = tls_stream_handshake(p->server, &why);
        }
    }
    return rc;
}

static void test_stream_roundtrip(void)
{
    struct tls_pair p;
    pair_open(&p, 0);
    CHECK(!tls_stream_handshake_done(p.server));
    CHECK_EQ(tls_stream_cipher_bits(p.server), 0);
    uint8_t buf[256];
    CHECK_EQ(stream_read(p.server, buf, sizeof(buf)), CLOVE_E_STATE);
    CHECK_EQ(pair_handshake(&p), 0);
    CHECK(tls_stream_handshake_done(p.server));
    CHECK(tls_stream_cipher_bits(p.server) >= 128);
    CHECK_EQ(SSL_version(p.client) >= TLS1_2_VERSION, 1);

    /* client -> server */
    size_t w = 0;
    CHECK_EQ(SSL_write_ex(p.client, "REDQ-hello", 10, &w), 1);
    size_t got = 0;
    for (int i = 0; i < 10 && got < 10; i++) {
        ssize_t n = stream_read(p.server, buf + got, sizeof(buf) - got);
        if (n > 0) {
            got += (size_t)n;
        }
    }
    CHECK_EQ(got, 10u);
    CHECK_MEM_EQ(buf, "REDQ-hello", 10);
    CHECK_EQ(stream_read(p.server, buf, sizeof(buf)), CLOVE_E_AGAIN);

    /* server -> client, 1 MiB through a socket that fills up: the writes
     * that answer AGAIN are retried with the same bytes. */
    size_t total = 1u << 20;
    uint8_t *data = malloc(total);
    uint8_t *rx = malloc(total);
    for (size_t i = 0; i < total; i++) {
        data[i] = (uint8_t)(i * 13 + (i >> 10));
    }
    size_t sent = 0, received = 0, again = 0;
    for (int round = 0; round < 100000 && received < total; round++) {
        if (sent < total) {
            struct iovec iov[2] = {
                    {data + sent, (total - sent) / 2},
                    {data + sent + (total - sent) / 2, total - sent - (total - sent) / 2}};
            ssize_t n = stream_writev(p.server, iov, 2);
            if (n == CLOVE_E_AGAIN) {
                again++;
            } else {
                CHECK(n > 0);
                sent += (size_t)n;
            }
        }
        size_t r = 0;
        if (SSL_read_ex(p.client, rx + received, 3000, &r) == 1) {
            received += r;
        }
    }
    CHECK_EQ(received, total);
    CHECK(again > 0);
    CHECK(memcmp(rx, data, total) == 0);
    free(data);
    free(rx);

    /* An orderly close from the client reads as CLOSED. */
    SSL_shutdown(p.client);
    ssize_t n = CLOVE_E_AGAIN;
    for (int i = 0; i < 10 && n == CLOVE_E_AGAIN; i++) {
        n = stream_read(p.server, buf, sizeof(buf));
    }
    CHECK_EQ(n, CLOVE_E_CLOSED);
    pair_close(&p);
}

static void test_old_versions_refused(void)
{
    struct tls_pair p;
    pair_open(&p, TLS1_1_VERSION);
    int rc = pair_handshake(&p);
    CHECK(rc < 0 && rc != CLOVE_E_AGAIN);
    pair_close(&p);
}

static void test_renegotiation_refused(void)
{
    struct tls_pair p;
    pair_open(&p, TLS1_2_VERSION);
    CHECK_EQ(pair_handshake(&p), 0);
    CHECK_EQ(SSL_renegotiate(p.client), 1);
    SSL_do_handshake(p.client); /* sends the new ClientHello */
    uint8_t buf[64];
    ssize_t n = CLOVE_E_AGAIN;
    for (int i = 0; i < 20 && n == CLOVE_E_AGAIN; i++) {
        n = stream_read(p.server, buf, sizeof(buf));
        size_t r;
        SSL_read_ex(p.client, buf, sizeof(buf), &r);
    }
    /* The server answers the ClientHello with a no_renegotiation warning
     * and stays usable; the client's renegotiation does not complete. */
    CHECK(SSL_renegotiate_pending(p.client) == 1 || n < 0);
    pair_close(&p);
}

/* ---- the server: link over TLS through the public API ---- */

struct link_client {
    int fd;
    int result; /* SpiceLinkReply error, or -1 on a TLS failure */
    bool done;
};

static void *link_client_run(void *arg)
{
    struct link_client *lc = arg;
    lc->result = -1;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, lc->fd);
    if (SSL_connect(ssl) == 1) {
        uint8_t msg[16 + 22];
        memset(msg, 0, sizeof(msg));
        put_u32le(msg, SPICE_MAGIC);
        put_u32le(msg + 4, 2);
        put_u32le(msg + 8, 2);
        put_u32le(msg + 12, 22);
        uint8_t *b = msg + 16;
        b[4] = SPICE_CHANNEL_MAIN;
        put_u32le(b + 6, 1);   /* one common caps word */
        put_u32le(b + 14, 18); /* caps offset */
        put_u32le(b + 18, (1u << SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION) |
                                  (1u << SPICE_COMMON_CAP_AUTH_SPICE));
        size_t w;
        uint8_t reply[20];
        size_t got = 0, r;
        if (SSL_write_ex(ssl, msg, sizeof(msg), &w) == 1) {
            while (got < sizeof(reply) && SSL_read_ex(ssl, reply + got, sizeof(reply) - got, &r)) {
                got += r;
            }
        }
        if (got == sizeof(reply)) {
            lc->result = (int)get_u32le(reply + 16);
        }
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(lc->fd);
    __atomic_store_n(&lc->done, true, __ATOMIC_SEQ_CST);
    return NULL;
}

static bool link_client_done(void *arg)
{
    return __atomic_load_n(&((struct link_client *)arg)->done, __ATOMIC_SEQ_CST);
}

static int link_over_tls(struct fake_host *h)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        return -2;
    }
    struct link_client lc = {.fd = sv[0]};
    pthread_t th;
    pthread_create(&th, NULL, link_client_run, &lc);
    if (spice_server_add_ssl_client(h->server, sv[1], 1) < 0) {
        close(sv[1]);
        shutdown(sv[0], SHUT_RDWR);
    }
    fake_host_run_until(h, link_client_done, &lc, 5000);
    pthread_join(th, NULL);
    fake_host_run_for(h, 50);
    return lc.result;
}

static void test_server_link(void)
{
    struct fake_host_options opts = {.noauth = true, .quiet = true};
    struct fake_host *h = fake_host_create(&opts);
    CHECK(h != NULL);
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    /* Before TLS is configured the socket stays the caller's. */
    CHECK_EQ(spice_server_add_ssl_client(h->server, fds[0], 0), -1);
    CHECK(fcntl(fds[0], F_GETFD) != -1);
    close(fds[0]);
    close(fds[1]);
    CHECK_EQ(spice_server_set_tls(h->server, 0, NULL, cert_path, key_path, NULL, NULL, NULL), -1);
    CHECK_EQ(
            spice_server_set_tls(h->server, 5999, NULL, "/nonexistent", key_path, NULL, NULL, NULL),
            -1);
    CHECK_EQ(spice_server_set_tls(h->server, 5999, NULL, cert_path, key_path, NULL, NULL, NULL), 0);
    /* The fake host is already initialised: load the files as init would. */
    CHECK_EQ(security_tls_load(h->server), 0);

    CHECK_EQ(link_over_tls(h), SPICE_LINK_ERR_OK);
    int i = fake_host_find_event(h, SPICE_CHANNEL_EVENT_CONNECTED, 0, 0);
    CHECK(i >= 0);

    spice_server_set_channel_security(h->server, "main", SPICE_CHANNEL_SECURITY_NONE);
    CHECK_EQ(link_over_tls(h), SPICE_LINK_ERR_NEED_UNSECURED);
    spice_server_set_channel_security(h->server, "main", SPICE_CHANNEL_SECURITY_SSL);
    CHECK_EQ(link_over_tls(h), SPICE_LINK_ERR_OK);

    /* A plain link to the TLS-only channel needs TLS. */
    struct fake_client c;
    struct fake_link link = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    CHECK_EQ(fake_client_link(h, &c, &link, NULL), SPICE_LINK_ERR_NEED_SECURED);
    fake_client_close(&c);
    fake_host_destroy(h);
}

int main(void)
{
    if (!make_certificate()) {
        printf("Bail out! cannot make a test certificate\n");
        return 1;
    }
    static const struct check_case cases[] = {
            CHECK_CASE(test_context),
            CHECK_CASE(test_stream_roundtrip),
            CHECK_CASE(test_old_versions_refused),
            CHECK_CASE(test_renegotiation_refused),
            CHECK_CASE(test_server_link),
            {NULL, NULL},
    };
    int rc = check_run(cases);
    remove_certificate();
    return rc;
}
