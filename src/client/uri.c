/*
 * spice:// URIs, as remote-viewer and spicy take them:
 * spice://host[:port][/][?port=N&tls-port=N&password=P].
 *
 * Pure: no I/O, no logging. The URI is copied into a bounded buffer and cut
 * there; every field is length-checked before it is stored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clove/client.h"

static int uri_port(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 65535) {
        return CLOVE_E_INVALID;
    }
    *out = v;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes %XX escapes in place; a '%' not followed by two hex digits stays. */
static void uri_unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        int hi = r[0] == '%' ? hex_digit(r[1]) : -1;
        int lo = hi >= 0 ? hex_digit(r[2]) : -1;
        if (lo >= 0) {
            *w++ = (char)(hi << 4 | lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static int copy_field(char *dst, size_t cap, const char *src)
{
    return snprintf(dst, cap, "%s", src) >= (int)cap ? CLOVE_E_INVALID : 0;
}

int clove_uri_parse(const char *uri, struct clove_uri *out)
{
    static const char prefix[] = "spice://";
    memset(out, 0, sizeof(*out));
    out->port = -1;
    out->tls_port = -1;
    char buf[1024];
    if (!uri || strncmp(uri, prefix, sizeof(prefix) - 1) != 0 ||
        copy_field(buf, sizeof(buf), uri + sizeof(prefix) - 1) < 0) {
        return CLOVE_E_INVALID;
    }
    char *query = strchr(buf, '?');
    if (query) {
        *query++ = '\0';
    }
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '/') {
        buf[--n] = '\0';
    }
    char *host = buf, *colon = NULL;
    if (buf[0] == '[') { /* [IPv6]:port */
        char *close = strchr(buf, ']');
        if (!close) {
            return CLOVE_E_INVALID;
        }
        *close = '\0';
        host = buf + 1;
        colon = close[1] == ':' ? close + 1 : NULL;
    } else if (strchr(buf, ':') == strrchr(buf, ':')) {
        colon = strchr(buf, ':');
    }
    if (colon) {
        *colon = '\0';
        if (uri_port(colon + 1, &out->port) < 0) {
            return CLOVE_E_INVALID;
        }
    }
    if (copy_field(out->host, sizeof(out->host), host) < 0) {
        return CLOVE_E_INVALID;
    }
    for (char *save = NULL, *kv = query ? strtok_r(query, "&", &save) : NULL; kv;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            return CLOVE_E_INVALID;
        }
        *eq = '\0';
        char *value = eq + 1;
        uri_unescape(value);
        int rc = 0;
        if (strcmp(kv, "port") == 0) {
            rc = uri_port(value, &out->port);
        } else if (strcmp(kv, "tls-port") == 0) {
            rc = uri_port(value, &out->tls_port);
        } else if (strcmp(kv, "password") == 0) {
            rc = copy_field(out->password, sizeof(out->password), value);
            out->has_password = rc == 0;
        }
        if (rc < 0) {
            return CLOVE_E_INVALID;
        }
    }
    return 0;
}
