/*
 * Checks that a server certificate belongs to the server we meant to reach,
 * after OpenSSL verified its chain against the CA bundle (tls.c).
 *
 * DESIGN: the rules are remote-viewer's (spice-gtk), so a setup that works
 * with it works with us:
 *   - by host name: the subjectAltName dNSName entries (case-insensitive,
 *     '*' matching inside one label) and iPAddress entries (compared as
 *     addresses when the host is a literal IPv4/IPv6 address); the subject's
 *     CN entries are only tried when the certificate has no DNS or IP
 *     alternative name at all;
 *   - by subject (--host-subject "C=XX,O=Org,CN=name"): the certificate's
 *     subject must have exactly those entries, compared like OpenSSL's
 *     X509_NAME_cmp (canonical form: case and inner spaces do not matter).
 *     In the string, spaces before a key are skipped and "\," / "\\" escape
 *     a comma / backslash inside a value; an empty key or value is an error.
 * Reasons go into the caller's buffer as one line without a prefix.
 *
 * Thread: pure functions; any thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "client/client_priv.h"
#include "common/error.h"

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Whether the certificate name pattern[0, len) matches host; '*' stands for
 * any run of characters within one label. */
static bool name_matches(const char *pattern, size_t len, const char *host)
{
    while (len > 0) {
        if (*pattern == '*') {
            for (const char *h = host;; h++) {
                if (name_matches(pattern + 1, len - 1, h)) {
                    return true;
                }
                if (*h == '\0' || *h == '.') {
                    return false;
                }
            }
        }
        if (*host == '\0' || lower(*pattern) != lower(*host)) {
            return false;
        }
        pattern++;
        host++;
        len--;
    }
    return *host == '\0';
}

/* An ASN.1 string as a name: NULL if it holds a NUL byte. */
static const char *asn1_name(const ASN1_STRING *s, size_t *len)
{
    const char *data = (const char *)ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s);
    if (!data || n < 0 || memchr(data, '\0', (size_t)n)) {
        return NULL;
    }
    *len = (size_t)n;
    return data;
}

int tls_verify_host(const X509 *cert, const char *host, char *why, size_t why_len)
{
    unsigned char ip[16];
    int ip_len = 0;
    if (inet_pton(AF_INET, host, ip) == 1) {
        ip_len = 4;
    } else if (inet_pton(AF_INET6, host, ip) == 1) {
        ip_len = 16;
    }
    GENERAL_NAMES *alts = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    bool had_alt = false;
    bool match = false;
    for (int i = 0; alts && i < sk_GENERAL_NAME_num(alts) && !match; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(alts, i);
        if (g->type == GEN_DNS) {
            had_alt = true;
            size_t len;
            const char *name = asn1_name(g->d.dNSName, &len);
            match = name && name_matches(name, len, host);
        } else if (g->type == GEN_IPADD) {
            had_alt = true;
            match = ip_len > 0 && ASN1_STRING_length(g->d.iPAddress) == ip_len &&
                    memcmp(ASN1_STRING_get0_data(g->d.iPAddress), ip, (size_t)ip_len) == 0;
        }
    }
    GENERAL_NAMES_free(alts);
    if (match) {
        return 0;
    }
    if (had_alt) {
        snprintf(why, why_len, "host name '%s' is not in the certificate's subjectAltName", host);
        return CLOVE_E_DENIED;
    }
    const X509_NAME *subject = X509_get_subject_name(cert);
    for (int pos = -1; subject;) {
        pos = X509_NAME_get_index_by_NID(subject, NID_commonName, pos);
        if (pos < 0) {
            break;
        }
        const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, pos));
        size_t len;
        const char *name = cn ? asn1_name(cn, &len) : NULL;
        if (name && name_matches(name, len, host)) {
            return 0;
        }
    }
    snprintf(why, why_len, "host name '%s' matches neither a subjectAltName nor the CN", host);
    return CLOVE_E_DENIED;
}

int tls_subject_parse(const char *text, X509_NAME **out)
{
    *out = NULL;
    size_t n = strlen(text);
    char *key = malloc(n + 1);
    char *val = malloc(n + 1);
    X509_NAME *name = X509_NAME_new();
    int rc = CLOVE_E_NOMEM;
    if (!key || !val || !name) {
        goto out;
    }
    rc = CLOVE_E_INVALID;
    const char *p = text;
    for (;;) {
        while (*p == ' ') {
            p++;
        }
        if (*p == '\0' && X509_NAME_entry_count(name) > 0) {
            break;
        }
        size_t k = 0;
        while (*p && *p != '=' && *p != ',') {
            key[k++] = *p++;
        }
        key[k] = '\0';
        if (*p != '=' || k == 0) {
            goto out;
        }
        p++;
        size_t v = 0;
        while (*p && *p != ',') {
            if (*p == '\\') {
                if (p[1] != '\\' && p[1] != ',') {
                    goto out;
                }
                p++;
            }
            val[v++] = *p++;
        }
        val[v] = '\0';
        if (v == 0 || !X509_NAME_add_entry_by_txt(name, key, MBSTRING_UTF8,
                                                  (const unsigned char *)val, -1, -1, 0)) {
            goto out;
        }
        if (*p == '\0') {
            break;
        }
        p++; /* the comma */
    }
    *out = name;
    name = NULL;
    rc = 0;
out:
    ERR_clear_error();
    X509_NAME_free(name);
    free(key);
    free(val);
    return rc;
}

/* "C=XX,O=Org,CN=name" of a name, truncated to fit. */
static void name_text(const X509_NAME *name, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < X509_NAME_entry_count(name) && used < len; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const char *sn = OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)));
        const ASN1_STRING *d = X509_NAME_ENTRY_get_data(e);
        int n = snprintf(buf + used, len - used, "%s%s=%.*s", i ? "," : "", sn ? sn : "?",
                         ASN1_STRING_length(d), (const char *)ASN1_STRING_get0_data(d));
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
}

int tls_verify_subject(const X509 *cert, const char *subject, char *why, size_t why_len)
{
    X509_NAME *want = NULL;
    int rc = tls_subject_parse(subject, &want);
    if (rc < 0) {
        snprintf(why, why_len, "cannot parse the host subject '%s' (want \"C=..,O=..,CN=..\")",
                 subject);
        return rc;
    }
    const X509_NAME *have = X509_get_subject_name(cert);
    bool same = have && X509_NAME_entry_count(have) == X509_NAME_entry_count(want) &&
                X509_NAME_cmp(have, want) == 0;
    X509_NAME_free(want);
    ERR_clear_error();
    if (same) {
        return 0;
    }
    char text[160] = "";
    if (have) {
        name_text(have, text, sizeof(text));
    }
    snprintf(why, why_len, "the certificate's subject '%s' is not the host subject '%s'", text,
             subject);
    return CLOVE_E_DENIED;
}
