/*
 * Tests for src/client/tls_verify.c: host name matching (subjectAltName DNS
 * and IP entries, wildcards, the CN only without alternative names) and the
 * host subject (parsing, escapes, exact comparison). Certificates are built
 * in memory; they need no key or signature for name checks.
 */
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "client/client_priv.h"
#include "common/error.h"

/* A certificate with the given subject (OpenSSL "/C=XX/CN=name" form) and
 * subjectAltName (OpenSSL config form, NULL = none). */
static X509 *make_cert(const char *subject, const char *alt)
{
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();
    /* "/K=V/K=V" -> entries */
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", subject);
    for (char *save = NULL, *kv = strtok_r(buf, "/", &save); kv; kv = strtok_r(NULL, "/", &save)) {
        char *eq = strchr(kv, '=');
        *eq = '\0';
        X509_NAME_add_entry_by_txt(name, kv, MBSTRING_UTF8, (const unsigned char *)(eq + 1), -1, -1,
                                   0);
    }
    X509_set_subject_name(cert, name);
    X509_NAME_free(name);
    if (alt) {
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, alt);
        X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
    }
    return cert;
}

static int host_ok(const X509 *cert, const char *host)
{
    char why[200] = "";
    return tls_verify_host(cert, host, why, sizeof(why));
}

static void test_host_alt_names(void)
{
    X509 *c = make_cert("/CN=ignored.example.org",
                        "DNS:server.example.com,DNS:*.vm.example.com,IP:127.0.0.1,IP:::1");
    CHECK_EQ(host_ok(c, "server.example.com"), 0);
    CHECK_EQ(host_ok(c, "SERVER.Example.COM"), 0);
    CHECK_EQ(host_ok(c, "a.vm.example.com"), 0);
    CHECK_EQ(host_ok(c, "127.0.0.1"), 0);
    CHECK_EQ(host_ok(c, "::1"), 0);
    /* a wildcard covers one label only */
    CHECK_EQ(host_ok(c, "a.b.vm.example.com"), CLOVE_E_DENIED);
    CHECK_EQ(host_ok(c, "vm.example.com"), CLOVE_E_DENIED);
    CHECK_EQ(host_ok(c, "127.0.0.2"), CLOVE_E_DENIED);
    CHECK_EQ(host_ok(c, "server.example.com.evil"), CLOVE_E_DENIED);
    /* with alternative names present, the CN is not used */
    CHECK_EQ(host_ok(c, "ignored.example.org"), CLOVE_E_DENIED);
    char why[200] = "";
    CHECK_EQ(tls_verify_host(c, "nope", why, sizeof(why)), CLOVE_E_DENIED);
    CHECK(strstr(why, "'nope'") != NULL);
    CHECK(strstr(why, "subjectAltName") != NULL);
    X509_free(c);
}

static void test_host_cn(void)
{
    X509 *c = make_cert("/C=IL/O=Red Hat/CN=127.0.0.1", NULL);
    CHECK_EQ(host_ok(c, "127.0.0.1"), 0);
    CHECK_EQ(host_ok(c, "localhost"), CLOVE_E_DENIED);
    X509_free(c);
    c = make_cert("/CN=*.example.com", NULL);
    CHECK_EQ(host_ok(c, "x.example.com"), 0);
    CHECK_EQ(host_ok(c, "example.com"), CLOVE_E_DENIED);
    X509_free(c);
    /* only an email alternative name: the CN still counts */
    c = make_cert("/CN=host.example.com", "email:a@example.com");
    CHECK_EQ(host_ok(c, "host.example.com"), 0);
    X509_free(c);
    /* no CN at all */
    c = make_cert("/O=Org", NULL);
    CHECK_EQ(host_ok(c, "host"), CLOVE_E_DENIED);
    X509_free(c);
}

static void test_subject_parse(void)
{
    X509_NAME *n = NULL;
    CHECK_EQ(tls_subject_parse("C=IL,O=Red Hat,CN=my server", &n), 0);
    CHECK_EQ(X509_NAME_entry_count(n), 3);
    X509_NAME_free(n);
    CHECK_EQ(tls_subject_parse("C=IL, O=Red Hat, CN=a\\,b\\\\c,", &n), 0);
    CHECK_EQ(X509_NAME_entry_count(n), 3);
    char text[64];
    CHECK(X509_NAME_get_text_by_NID(n, NID_commonName, text, sizeof(text)) > 0);
    CHECK_STR_EQ(text, "a,b\\c");
    X509_NAME_free(n);
    CHECK_EQ(tls_subject_parse("", &n), CLOVE_E_INVALID);
    CHECK(n == NULL);
    CHECK_EQ(tls_subject_parse("CN", &n), CLOVE_E_INVALID);
    CHECK_EQ(tls_subject_parse("CN=", &n), CLOVE_E_INVALID);
    CHECK_EQ(tls_subject_parse("=x", &n), CLOVE_E_INVALID);
    CHECK_EQ(tls_subject_parse("CN=a,,O=b", &n), CLOVE_E_INVALID);
    CHECK_EQ(tls_subject_parse("CN=a\\x", &n), CLOVE_E_INVALID);
    CHECK_EQ(tls_subject_parse("NOSUCHKEY=a", &n), CLOVE_E_INVALID);
    CHECK(n == NULL);
}

static void test_subject(void)
{
    X509 *c = make_cert("/C=IL/O=Red Hat/CN=my server", "DNS:elsewhere");
    char why[200] = "";
    CHECK_EQ(tls_verify_subject(c, "C=IL,O=Red Hat,CN=my server", why, sizeof(why)), 0);
    /* canonical comparison: case and spaces */
    CHECK_EQ(tls_verify_subject(c, "C=il, O=red  hat, CN=MY SERVER", why, sizeof(why)), 0);
    CHECK_EQ(tls_verify_subject(c, "C=IL,O=Red Hat", why, sizeof(why)), CLOVE_E_DENIED);
    CHECK(strstr(why, "C=IL,O=Red Hat,CN=my server") != NULL);
    CHECK_EQ(tls_verify_subject(c, "C=IL,O=Red Hat,CN=other", why, sizeof(why)), CLOVE_E_DENIED);
    CHECK_EQ(tls_verify_subject(c, "O=Red Hat,C=IL,CN=my server", why, sizeof(why)),
             CLOVE_E_DENIED);
    CHECK_EQ(tls_verify_subject(c, "garbage", why, sizeof(why)), CLOVE_E_INVALID);
    CHECK(strstr(why, "cannot parse") != NULL);
    X509_free(c);
}

static void test_session_api(void)
{
    struct clove_session *s = clove_session_create();
    CHECK_EQ(clove_session_set_tls(s, 5901, "/nonexistent/ca.pem", "CN"), CLOVE_E_INVALID);
    CHECK_EQ(clove_session_set_tls(s, 5901, "/nonexistent/ca.pem", "CN=x"), 0);
    CHECK_EQ(clove_session_set_tls(s, 5901, NULL, NULL), 0);
    CHECK_EQ(clove_session_set_tls(s, 5901, "/nonexistent/ca.pem", NULL), 0);
    CHECK_EQ(clove_session_set_server(s, "127.0.0.1", 5900), 0);
    /* the CA file is read when connecting: a missing one fails at once */
    CHECK_EQ(clove_session_connect(s), CLOVE_E_IO);
    CHECK(strstr(clove_session_error(s), "CA file") != NULL);
    CHECK_EQ(clove_session_set_tls(s, 0, NULL, NULL), CLOVE_E_STATE);
    clove_session_destroy(s);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_host_alt_names),
            CHECK_CASE(test_host_cn),
            CHECK_CASE(test_subject_parse),
            CHECK_CASE(test_subject),
            CHECK_CASE(test_session_api),
            {0},
    });
}
