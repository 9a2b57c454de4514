/*
 * The shared part of the server fuzz targets (see fuzz_server_harness.h).
 */
#include "fuzz_server_harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <linux/sockios.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/ioctl.h>

#include "server/server.h"

static EVP_PKEY *fixed_key;
static pthread_once_t fixed_key_once = PTHREAD_ONCE_INIT;

static void fixed_key_load(void)
{
    BIO *bio = BIO_new_mem_buf(fuzz_ticket_key_pem, -1);
    fixed_key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
}

int __wrap_EVP_PKEY_keygen(EVP_PKEY_CTX *ctx, EVP_PKEY **ppkey);

/*
 * Replaces EVP_PKEY_keygen for the server's ticket keys (see the header).
 * Thread: any (the server also makes keys on a helper thread).
 */
int __wrap_EVP_PKEY_keygen(EVP_PKEY_CTX *ctx, EVP_PKEY **ppkey)
{
    pthread_once(&fixed_key_once, fixed_key_load);
    if (!fixed_key) {
        fprintf(stderr, "fuzz harness: cannot load the fixed ticket key\n");
        abort();
    }
    if (!ppkey || EVP_PKEY_up_ref(fixed_key) != 1) {
        return 0;
    }
    *ppkey = fixed_key;
    return 1;
}

static struct fake_host *host;

static void fuzz_host_destroy(void)
{
    fake_host_destroy(host);
    host = NULL;
}

struct fake_host *fuzz_host(const struct fake_host_options *opts)
{
    if (!host) {
        /*
         * The server is destroyed at exit, before OpenSSL's own atexit
         * cleanup (handlers run in reverse order, and OpenSSL registers its
         * handler in OPENSSL_init_crypto): the server's key-pool thread must
         * not be inside OpenSSL while OpenSSL frees its tables. This also
         * lets LeakSanitizer check the whole teardown once per process.
         * Loading OpenSSL's configuration here, on this thread, keeps the
         * first load (and the error state it allocates, which OpenSSL 3
         * never frees when that happens on a helper thread) off the pool.
         */
        OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
        host = fake_host_create(opts);
        if (host) {
            atexit(fuzz_host_destroy);
        }
    }
    return host;
}

struct consumed_arg {
    struct fake_client *c;
};

static bool consumed(void *arg)
{
    struct fake_client *c = ((struct consumed_arg *)arg)->c;
    int unread = 0;
    if (c->eof || c->fd < 0 || ioctl(c->fd, SIOCOUTQ, &unread) < 0) {
        return true;
    }
    return unread == 0;
}

bool fuzz_wait_consumed(struct fake_client *c, int timeout_ms)
{
    struct consumed_arg a = {c};
    return fake_host_run_until(c->host, consumed, &a, timeout_ms);
}

/* No link in progress, no session, and every connection that was reported
 * CONNECTED was reported DISCONNECTED (display and cursor channels close on
 * their worker and report back through the main loop). */
static bool server_idle(void *arg)
{
    struct fake_host *h = arg;
    if (h->server->links != NULL || spice_server_get_num_clients(h->server) != 0) {
        return false;
    }
    if (h->num_events >= FAKE_MAX_EVENTS) {
        return true; /* the record overflowed: cannot tell */
    }
    int balance = 0;
    for (int i = 0; i < h->num_events; i++) {
        balance += h->events[i].event == SPICE_CHANNEL_EVENT_CONNECTED;
        balance -= h->events[i].event == SPICE_CHANNEL_EVENT_DISCONNECTED;
    }
    return balance == 0;
}

void fuzz_finish(struct fake_host *h, struct fake_client **clients, int n)
{
    if (getenv("CLOVE_FUZZ_VERBOSE")) {
        /* What this input reached: events, sessions, bytes the server sent. */
        fprintf(stderr, "fuzz: %d events (", h->num_events);
        for (int i = 0; i < h->num_events; i++) {
            fprintf(stderr, " %d:%d", h->events[i].event, h->events[i].type);
        }
        fprintf(stderr, " ), %d clients, scans %d, motions %d, positions %d, rx",
                spice_server_get_num_clients(h->server), h->num_scans, h->num_motions,
                h->num_positions);
        for (int i = 0; i < n; i++) {
            fprintf(stderr, " %zu%s", clients[i]->rx_len, clients[i]->eof ? "+eof" : "");
        }
        fprintf(stderr, "\n");
    }
    for (int i = 0; i < n; i++) {
        fake_client_close(clients[i]);
    }
    if (!fake_host_run_until(h, server_idle, h, 5000)) {
        fprintf(stderr, "fuzz harness: the server kept a connection (links %p, clients %d)\n",
                (void *)h->server->links, spice_server_get_num_clients(h->server));
        abort();
    }
    h->num_events = 0;
    h->num_scans = 0;
    h->num_motions = 0;
    h->num_positions = 0;
    h->num_mouse_buttons = 0;
}
