/*
 * SPICE ticket authentication: a fresh RSA-1024 key per link, its public
 * half sent as a DER SubjectPublicKeyInfo in the link reply, and the client's
 * password decrypted with RSA-OAEP (SHA-1, MGF1-SHA-1), as spice-gtk and
 * spice-html5 encrypt it.
 *
 * The password check compares fixed-size buffers with CRYPTO_memcmp so its
 * timing does not depend on where a guess differs, and never logs either
 * string.
 *
 * KEY POOL: generating an RSA-1024 key takes milliseconds of CPU, and a
 * client links four or more channels at once. A helper thread keeps a few
 * fresh keys ready so the host loop never waits for one; each key is handed
 * out once and destroyed after its link. When the pool is empty the link
 * generates its own key inline, so correctness never depends on the thread.
 * The thread runs while at least one server is initialised
 * (ticket_pool_start/stop are reference counted).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "server/server.h"

struct ticket_key {
    EVP_PKEY *pkey;
};

#define TICKET_POOL_SIZE 4

static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static struct ticket_key *pool_keys[TICKET_POOL_SIZE];
static int pool_count;
static int pool_users;
static bool pool_quit;
static bool pool_running;
static pthread_t pool_thread;

static struct ticket_key *ticket_key_generate(void);
static void ticket_pool_at_exit(void);

static void ticket_pool_register_exit(void)
{
    atexit(ticket_pool_at_exit);
}

static void *ticket_pool_main(void *opaque)
{
    pthread_mutex_lock(&pool_mutex);
    while (!pool_quit) {
        if (pool_count == TICKET_POOL_SIZE) {
            pthread_cond_wait(&pool_cond, &pool_mutex);
            continue;
        }
        pthread_mutex_unlock(&pool_mutex);
        struct ticket_key *k = ticket_key_generate();
        pthread_mutex_lock(&pool_mutex);
        if (!k) {
            break;
        }
        if (pool_count < TICKET_POOL_SIZE && !pool_quit) {
            pool_keys[pool_count++] = k;
        } else {
            ticket_key_destroy(k);
        }
    }
    pthread_mutex_unlock(&pool_mutex);
    /* Free this thread's OpenSSL state (error queue) now, not never. */
    OPENSSL_thread_stop();
    return opaque;
}

/* Stops the thread and frees the pool. Caller holds no lock. */
static void ticket_pool_shutdown(void)
{
    pthread_mutex_lock(&pool_mutex);
    if (!pool_running) {
        pthread_mutex_unlock(&pool_mutex);
        return;
    }
    pool_quit = true;
    pthread_cond_broadcast(&pool_cond);
    pthread_mutex_unlock(&pool_mutex);
    pthread_join(pool_thread, NULL);
    pthread_mutex_lock(&pool_mutex);
    pool_running = false;
    while (pool_count > 0) {
        ticket_key_destroy(pool_keys[--pool_count]);
    }
    pthread_mutex_unlock(&pool_mutex);
}

/*
 * A host may exit() without spice_server_destroy() (QEMU often does). The
 * pool thread must be gone before OpenSSL's own exit handler frees its
 * tables, so ours is registered after OpenSSL initialised (handlers run in
 * reverse order). glibc unregisters it if the library is unloaded.
 */
static void ticket_pool_at_exit(void)
{
    ticket_pool_shutdown();
}

void ticket_pool_start(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    /* Load OpenSSL's configuration on the host thread, not on the pool's. */
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
    pthread_once(&once, ticket_pool_register_exit);
    pthread_mutex_lock(&pool_mutex);
    if (pool_users++ == 0 && !pool_running) {
        pool_quit = false;
        if (pthread_create(&pool_thread, NULL, ticket_pool_main, NULL) == 0) {
            pool_running = true;
        } else {
            log_warn("ticket: no key pool thread; keys will be generated inline");
        }
    }
    pthread_mutex_unlock(&pool_mutex);
}

void ticket_pool_stop(void)
{
    pthread_mutex_lock(&pool_mutex);
    bool last = pool_users > 0 && --pool_users == 0;
    pthread_mutex_unlock(&pool_mutex);
    if (last) {
        ticket_pool_shutdown();
    }
}

struct ticket_key *ticket_key_create(void)
{
    struct ticket_key *k = NULL;
    pthread_mutex_lock(&pool_mutex);
    if (pool_count > 0) {
        k = pool_keys[--pool_count];
        pool_keys[pool_count] = NULL;
    }
    pthread_cond_signal(&pool_cond);
    pthread_mutex_unlock(&pool_mutex);
    return k ? k : ticket_key_generate();
}

static struct ticket_key *ticket_key_generate(void)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
    EVP_PKEY *pkey = NULL;
    if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, SPICE_TICKET_KEY_PAIR_LENGTH) <= 0 ||
        EVP_PKEY_keygen(ctx, &pkey) <= 0) {
        log_error("ticket: RSA key generation failed");
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    struct ticket_key *k = calloc(1, sizeof(*k));
    if (!k) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    k->pkey = pkey;
    return k;
}

void ticket_key_destroy(struct ticket_key *k)
{
    if (!k) {
        return;
    }
    EVP_PKEY_free(k->pkey);
    free(k);
}

int ticket_key_public_der(struct ticket_key *k, uint8_t out[LINK_PUBKEY_SIZE])
{
    int len = i2d_PUBKEY(k->pkey, NULL);
    if (len != LINK_PUBKEY_SIZE) {
        log_error("ticket: unexpected public key size %d", len);
        return -1;
    }
    uint8_t *p = out;
    return i2d_PUBKEY(k->pkey, &p) == LINK_PUBKEY_SIZE ? 0 : -1;
}

int ticket_key_decrypt(struct ticket_key *k, const uint8_t *in, size_t in_len, uint8_t *out,
                       size_t out_cap)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
    size_t out_len = out_cap;
    int rc = -1;
    if (ctx && EVP_PKEY_decrypt_init(ctx) > 0 &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
        EVP_PKEY_decrypt(ctx, out, &out_len, in, in_len) > 0) {
        rc = (int)out_len;
    }
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

bool ticket_check(const struct RedsState *s, const uint8_t *plain, size_t len, const char **why)
{
    if (!s->ticketing) {
        return true;
    }
    if (!s->password_set) {
        *why = "ticketing is enabled but no password is set";
        return false;
    }
    if (s->ticket_expiry_ms && loop_now_ms() >= s->ticket_expiry_ms) {
        *why = "the ticket has expired";
        return false;
    }
    /* The client sends the password with its NUL; compare up to it. */
    uint8_t given[SPICE_MAX_PASSWORD_LENGTH + 1];
    uint8_t expected[SPICE_MAX_PASSWORD_LENGTH + 1];
    memset(given, 0, sizeof(given));
    memset(expected, 0, sizeof(expected));
    size_t n = strnlen((const char *)plain, len);
    bool too_long = n > SPICE_MAX_PASSWORD_LENGTH;
    memcpy(given, plain, too_long ? SPICE_MAX_PASSWORD_LENGTH : n);
    memcpy(expected, s->password, strlen(s->password));
    bool ok = CRYPTO_memcmp(given, expected, sizeof(given)) == 0 && !too_long;
    OPENSSL_cleanse(given, sizeof(given));
    OPENSSL_cleanse(expected, sizeof(expected));
    if (!ok) {
        *why = "wrong password";
    }
    return ok;
}
