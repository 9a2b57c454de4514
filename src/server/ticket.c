/*
 * SPICE ticket authentication: a fresh RSA-1024 key per link, its public
 * half sent as a DER SubjectPublicKeyInfo in the link reply, and the client's
 * password decrypted with RSA-OAEP (SHA-1, MGF1-SHA-1), as spice-gtk and
 * spice-html5 encrypt it.
 *
 * The password check compares fixed-size buffers with CRYPTO_memcmp so its
 * timing does not depend on where a guess differs, and never logs either
 * string.
 */
#include "server/server.h"

#include "common/log.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

struct ticket_key {
    EVP_PKEY *pkey;
};

struct ticket_key *ticket_key_create(void)
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
    if (s->ticket_expiry && time(NULL) > s->ticket_expiry) {
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
