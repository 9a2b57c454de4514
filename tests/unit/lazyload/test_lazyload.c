/*
 * Tests for src/lazyload on OpenSSL: this program links the lazy stubs, not
 * libssl or libcrypto. Neither is mapped before the first call; the first
 * call opens them and gives the real function's result (RAND_bytes fills
 * a buffer); calls with pointer, size and integer arguments and return
 * values go through unchanged (OBJ_nid2sn, X509_verify_cert_error_string,
 * an SSL_CTX made and freed), each stub binding once; lazyload_open() of a
 * library that is not there fails with a reason.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "check.h"
#include "lazyload/lazyload.h"

extern struct lazyload_lib lazyload_openssl_lib;

/* Whether a mapping of this process names `lib`. */
static bool mapped(const char *lib)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) {
        return false;
    }
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        found = strstr(line, lib) != NULL;
    }
    fclose(f);
    return found;
}

static void test_first_call_opens(void)
{
    CHECK(!mapped("libcrypto.so"));
    CHECK(!mapped("libssl.so"));
    unsigned char buf[64] = {0};
    CHECK_EQ(RAND_bytes(buf, sizeof(buf)), 1);
    unsigned char zero[64] = {0};
    CHECK(memcmp(buf, zero, sizeof(buf)) != 0);
    CHECK(mapped("libcrypto.so"));
    CHECK(mapped("libssl.so"));
}

static void test_arguments_and_results(void)
{
    CHECK_STR_EQ(OBJ_nid2sn(NID_commonName), "CN");
    CHECK_STR_EQ(OBJ_nid2sn(NID_commonName), "CN"); /* bound now: straight through */
    CHECK_STR_EQ(X509_verify_cert_error_string(X509_V_ERR_CERT_HAS_EXPIRED),
                 "certificate has expired");
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    CHECK(ctx != NULL);
    CHECK_EQ(SSL_CTX_set_cipher_list(ctx, "HIGH"), 1);
    CHECK_EQ(SSL_CTX_set_cipher_list(ctx, "no-such-cipher"), 0);
    SSL_CTX_free(ctx);
}

static void test_missing_library(void)
{
    struct lazyload_lib none = {.soname = "libclove-no-such-library.so.9"};
    const char *why = NULL;
    CHECK_EQ(lazyload_open(&none, &why), -1);
    CHECK(why != NULL && strstr(why, "libclove-no-such-library") != NULL);
    CHECK_EQ(lazyload_open(&lazyload_openssl_lib, &why), 0);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_first_call_opens),
            CHECK_CASE(test_arguments_and_results),
            CHECK_CASE(test_missing_library),
            {0},
    });
}
