/*
 * vv: remote-viewer connection files, parsed with GLib key-file rules (see
 * include/clove/vv.h for the syntax accepted).
 *
 * DESIGN: one pass over the lines checks the syntax of the whole file and
 * keeps the raw values of the [virt-viewer] group in an array (a file has
 * a few dozen keys at most; a linear search is the simplest index). Each
 * value is then decoded once, both as a string and as a list, so that the
 * const getters hand out borrowed pointers without allocating; a decoding
 * failure is remembered as a NULL string or list, because GKeyFile, and so
 * remote-viewer, only refuses a bad escape when that key is read.
 *
 * Invariants: every stored key and raw value is NUL-terminated and has no
 * NUL inside (the parser refuses NUL bytes); entries[] has no two equal
 * keys (a repeated key replaces the value). Pure: no logging, no global
 * state; only clove_vv_load() and clove_vv_write_ca_file() do I/O.
 */
#define _POSIX_C_SOURCE 200809L

#include "clove/vv.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VV_GROUP   "virt-viewer"
#define NOT_A_LINE "a line that is not a key-value pair, group or comment"

struct vv_entry {
    char *key;
    char *raw;      /* the value as written, leading whitespace dropped */
    char *string;   /* decoded, or NULL: bad escape or not UTF-8 */
    char **items;   /* decoded list, or NULL when it does not decode */
    size_t n_items; /* items[] entries (items[] has one more, NULL) */
};

struct clove_vv {
    struct vv_entry *entries;
    size_t count, capacity;
};

/* ---- small helpers ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void set_error(struct clove_vv_error *error, int line, const char *desc)
{
    if (error) {
        error->line = line;
        error->desc = desc;
    }
}

static char *dup_range(const char *start, size_t length)
{
    char *s = malloc(length + 1);
    if (s) {
        memcpy(s, start, length);
        s[length] = '\0';
    }
    return s;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool is_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t n;
        unsigned min;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            min = 0x80;
            c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            min = 0x800;
            c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            min = 0x10000;
            c &= 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return false;
            }
            c = (c << 6) | (p[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            return false;
        }
        p += n + 1;
    }
    return true;
}

/*
 * Decodes one escape at s[0] == '\\' into *out. `in_list` also allows "\;".
 * Returns the bytes consumed (2) or 0 for an invalid escape.
 */
static size_t decode_escape(const char *s, bool in_list, char *out)
{
    switch (s[1]) {
    case 's':
        *out = ' ';
        return 2;
    case 'n':
        *out = '\n';
        return 2;
    case 't':
        *out = '\t';
        return 2;
    case 'r':
        *out = '\r';
        return 2;
    case '\\':
        *out = '\\';
        return 2;
    case ';':
        if (in_list) {
            *out = ';';
            return 2;
        }
        return 0;
    default:
        return 0; /* includes the NUL after a final backslash */
    }
}

/* GKeyFile's string value: NULL for a bad escape (or no memory). */
static char *decode_string(const char *raw)
{
    char *out = malloc(strlen(raw) + 1), *o = out;
    if (!out) {
        return NULL;
    }
    for (const char *p = raw; *p;) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        size_t used = decode_escape(p, false, o);
        if (used == 0) {
            free(out);
            return NULL;
        }
        o++;
        p += used;
    }
    *o = '\0';
    return out;
}

static void free_items(char **items, size_t n)
{
    if (!items) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(items[i]);
    }
    free(items);
}

/*
 * GKeyFile's string list: items end at each unescaped ';'; an empty last
 * item (a final ';', or an empty value) is not an item. Returns the
 * NULL-terminated array (*n items) or NULL for a bad escape or no memory.
 */
static char **decode_list(const char *raw, size_t *n)
{
    size_t max_items = 1;
    for (const char *p = raw; *p; p++) {
        max_items += *p == ';';
    }
    char **items = calloc(max_items + 1, sizeof(*items));
    char *buf = malloc(strlen(raw) + 1);
    size_t count = 0;
    if (!items || !buf) {
        goto error;
    }
    size_t used = 0;
    for (const char *p = raw;;) {
        if (*p == ';' || *p == '\0') {
            if (*p == '\0' && used == 0) {
                break; /* an empty last item is no item */
            }
            items[count] = dup_range(buf, used);
            if (!items[count]) {
                goto error;
            }
            count++;
            used = 0;
            if (*p == '\0') {
                break;
            }
            p++;
            if (*p == '\0') {
                break;
            }
            continue;
        }
        if (*p == '\\') {
            size_t len = decode_escape(p, true, &buf[used]);
            if (len == 0) {
                goto error;
            }
            used++;
            p += len;
        } else {
            buf[used++] = *p++;
        }
    }
    free(buf);
    *n = count;
    return items;
error:
    free(buf);
    free_items(items, count);
    return NULL;
}

/* ---- the entry table ---- */

static struct vv_entry *find_entry(const struct clove_vv *vv, const char *key)
{
    if (!vv || !key) {
        return NULL;
    }
    for (size_t i = 0; i < vv->count; i++) {
        if (strcmp(vv->entries[i].key, key) == 0) {
            return &vv->entries[i];
        }
    }
    return NULL;
}

static void entry_finish(struct vv_entry *e)
{
    free(e->key);
    free(e->raw);
    free(e->string);
    free_items(e->items, e->n_items);
}

/* Stores key = raw (both copied), replacing an earlier value. */
static int store(struct clove_vv *vv, const char *key, size_t key_len, const char *raw,
                 size_t raw_len)
{
    char *k = dup_range(key, key_len);
    char *v = dup_range(raw, raw_len);
    if (!k || !v) {
        free(k);
        free(v);
        return CLOVE_E_NOMEM;
    }
    struct vv_entry *e = find_entry(vv, k);
    if (e) {
        free(k);
        free(e->raw);
        e->raw = v;
        return 0;
    }
    if (vv->count == vv->capacity) {
        size_t cap = vv->capacity ? vv->capacity * 2 : 16;
        struct vv_entry *grown = realloc(vv->entries, cap * sizeof(*grown));
        if (!grown) {
            free(k);
            free(v);
            return CLOVE_E_NOMEM;
        }
        vv->entries = grown;
        vv->capacity = cap;
    }
    vv->entries[vv->count++] = (struct vv_entry){.key = k, .raw = v};
    return 0;
}

/* ---- syntax ---- */

/* A group name: not empty, no brackets, no control characters. */
static bool is_group_name(const char *s, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '[' || c == ']') {
            return false;
        }
    }
    return true;
}

/* A key: not empty, no control characters, brackets only as a final "[locale]". */
static bool is_key_name(const char *s, size_t n)
{
    if (n == 0) {
        return false;
    }
    size_t open = n;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
        if (c == '[') {
            if (open != n) {
                return false;
            }
            open = i;
        } else if (c == ']' && (open == n || i != n - 1)) {
            return false;
        }
    }
    /* "key[" or "key[]" or "[x]": a locale needs a base name and a tag. */
    return open == n || (open > 0 && s[n - 1] == ']' && n - open > 2);
}

struct parse_state {
    bool in_group;   /* a group line has been seen */
    bool in_vv;      /* the current group is [virt-viewer] */
    bool has_vv;     /* [virt-viewer] appeared */
    int line_number; /* 1-based */
};

/* One line without its '\n' (and without a final '\r'). */
static int parse_line(struct clove_vv *vv, struct parse_state *st, const char *line, size_t n,
                      struct clove_vv_error *error)
{
    size_t i = 0;
    while (i < n && is_space(line[i])) {
        i++;
    }
    if (i == n || line[i] == '#') {
        return 0;
    }
    if (line[i] == '[') {
        const char *name = line + i + 1;
        const char *close = memchr(name, ']', n - i - 1);
        if (!close) {
            set_error(error, st->line_number, NOT_A_LINE);
            return CLOVE_E_INVALID;
        }
        for (const char *p = close + 1; p < line + n; p++) {
            if (*p != ' ' && *p != '\t') {
                set_error(error, st->line_number, "text after a group's closing bracket");
                return CLOVE_E_INVALID;
            }
        }
        size_t name_len = (size_t)(close - name);
        if (!is_group_name(name, name_len)) {
            set_error(error, st->line_number, "invalid group name");
            return CLOVE_E_INVALID;
        }
        st->in_group = true;
        st->in_vv = name_len == strlen(VV_GROUP) && memcmp(name, VV_GROUP, name_len) == 0;
        st->has_vv |= st->in_vv;
        return 0;
    }
    const char *key = line + i;
    const char *eq = memchr(key, '=', n - i);
    if (!eq) {
        set_error(error, st->line_number, NOT_A_LINE);
        return CLOVE_E_INVALID;
    }
    if (!st->in_group) {
        set_error(error, st->line_number, "a key before the first group");
        return CLOVE_E_INVALID;
    }
    size_t key_len = (size_t)(eq - key);
    while (key_len > 0 && is_space(key[key_len - 1])) {
        key_len--;
    }
    if (!is_key_name(key, key_len)) {
        set_error(error, st->line_number, "invalid key name");
        return CLOVE_E_INVALID;
    }
    const char *value = eq + 1, *end = line + n;
    while (value < end && is_space(*value)) {
        value++;
    }
    if (!st->in_vv) {
        return 0;
    }
    int rc = store(vv, key, key_len, value, (size_t)(end - value));
    if (rc < 0) {
        set_error(error, st->line_number, "out of memory");
    }
    return rc;
}

/* Decodes every stored value once (see DESIGN). */
static int decode_all(struct clove_vv *vv)
{
    for (size_t i = 0; i < vv->count; i++) {
        struct vv_entry *e = &vv->entries[i];
        if (!is_utf8(e->raw)) {
            continue;
        }
        e->string = decode_string(e->raw);
        e->items = decode_list(e->raw, &e->n_items);
        if (!e->items) {
            e->n_items = 0;
        }
    }
    return 0;
}

int clove_vv_parse(const char *text, size_t length, struct clove_vv **out,
                   struct clove_vv_error *error)
{
    set_error(error, 0, "");
    *out = NULL;
    if (length > CLOVE_VV_MAX_BYTES) {
        set_error(error, 0, "file too large");
        return CLOVE_E_RANGE;
    }
    struct clove_vv *vv = calloc(1, sizeof(*vv));
    if (!vv) {
        set_error(error, 0, "out of memory");
        return CLOVE_E_NOMEM;
    }
    struct parse_state st = {0};
    int rc = 0;
    const char *p = text, *end = text + length;
    while (p < end) {
        st.line_number++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        if (memchr(p, '\0', (size_t)(line_end - p))) {
            set_error(error, st.line_number, "a NUL byte");
            rc = CLOVE_E_INVALID;
            goto error;
        }
        size_t n = (size_t)(line_end - p);
        if (n > 0 && p[n - 1] == '\r') {
            n--;
        }
        if ((rc = parse_line(vv, &st, p, n, error)) < 0) {
            goto error;
        }
        p = nl ? nl + 1 : end;
    }
    if (!st.has_vv) {
        set_error(error, 0, "no [virt-viewer] group");
        rc = CLOVE_E_INVALID;
        goto error;
    }
    if (!find_entry(vv, "type")) {
        set_error(error, 0, "no \"type\" key in [virt-viewer]");
        rc = CLOVE_E_INVALID;
        goto error;
    }
    decode_all(vv);
    *out = vv;
    return 0;
error:
    clove_vv_destroy(vv);
    return rc;
}

int clove_vv_load(const char *path, struct clove_vv **out, struct clove_vv_error *error)
{
    *out = NULL;
    set_error(error, 0, "");
    bool use_stdin = strcmp(path, "-") == 0;
    FILE *f = use_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        set_error(error, 0, "cannot open the file");
        return CLOVE_E_IO;
    }
    /* Read one byte more than the limit to tell "too large" from "exactly at it". */
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    int rc = 0;
    while (buf) {
        if (used == cap) {
            size_t bigger = cap * 2 > CLOVE_VV_MAX_BYTES + 1 ? CLOVE_VV_MAX_BYTES + 1 : cap * 2;
            if (bigger == cap) {
                break;
            }
            char *grown = realloc(buf, bigger);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap = bigger;
        }
        size_t got = fread(buf + used, 1, cap - used, f);
        used += got;
        if (got == 0) {
            break;
        }
    }
    int saved_errno = errno;
    bool failed = ferror(f) != 0;
    if (!use_stdin) {
        fclose(f);
    }
    if (!buf) {
        set_error(error, 0, "out of memory");
        return CLOVE_E_NOMEM;
    }
    if (failed) {
        free(buf);
        errno = saved_errno;
        set_error(error, 0, "cannot read the file");
        return CLOVE_E_IO;
    }
    rc = clove_vv_parse(buf, used, out, error);
    free(buf);
    return rc;
}

static int get_flag(const struct clove_vv *vv, const char *key, bool *out);

int clove_vv_open(const char *path, struct clove_vv **out, char *why, size_t why_size)
{
    struct clove_vv_error err;
    int rc = clove_vv_load(path, out, &err);
    if (rc < 0) {
        if (rc == CLOVE_E_IO) {
            snprintf(why, why_size, "%s: %s", path, strerror(errno));
        } else if (err.line > 0) {
            snprintf(why, why_size, "%s:%d: %s", path, err.line, err.desc);
        } else {
            snprintf(why, why_size, "%s: %s", path, err.desc);
        }
        return rc;
    }
    bool del = false;
    if (strcmp(path, "-") != 0 && !getenv("VIRT_VIEWER_KEEP_FILE") &&
        get_flag(*out, "delete-this-file", &del) == 1 && del) {
        (void)unlink(path); /* fails silently, as remote-viewer's */
    }
    return 0;
}

void clove_vv_destroy(struct clove_vv *vv)
{
    if (!vv) {
        return;
    }
    for (size_t i = 0; i < vv->count; i++) {
        entry_finish(&vv->entries[i]);
    }
    free(vv->entries);
    free(vv);
}

/* ---- typed getters ---- */

const char *clove_vv_get_string(const struct clove_vv *vv, const char *key)
{
    const struct vv_entry *e = find_entry(vv, key);
    return e ? e->string : NULL;
}

bool clove_vv_has_key(const struct clove_vv *vv, const char *key)
{
    return find_entry(vv, key) != NULL;
}

int clove_vv_get_int(const struct clove_vv *vv, const char *key, long *out)
{
    const struct vv_entry *e = find_entry(vv, key);
    if (!e) {
        return 0;
    }
    const char *p = e->raw;
    while (is_space(*p)) {
        p++;
    }
    const char *digits = p + (*p == '+' || *p == '-');
    if (*digits < '0' || *digits > '9') {
        return CLOVE_E_INVALID;
    }
    char *endp;
    errno = 0;
    long v = strtol(p, &endp, 10);
    if (errno == ERANGE || v < INT_MIN || v > INT_MAX) {
        return CLOVE_E_INVALID;
    }
    while (is_space(*endp)) {
        endp++;
    }
    if (*endp != '\0') {
        return CLOVE_E_INVALID;
    }
    *out = v;
    return 1;
}

int clove_vv_get_bool(const struct clove_vv *vv, const char *key, bool *out)
{
    const struct vv_entry *e = find_entry(vv, key);
    if (!e) {
        return 0;
    }
    size_t n = strlen(e->raw);
    while (n > 0 && is_space(e->raw[n - 1])) {
        n--;
    }
    if ((n == 4 && memcmp(e->raw, "true", 4) == 0) || (n == 1 && e->raw[0] == '1')) {
        *out = true;
        return 1;
    }
    if ((n == 5 && memcmp(e->raw, "false", 5) == 0) || (n == 1 && e->raw[0] == '0')) {
        *out = false;
        return 1;
    }
    return CLOVE_E_INVALID;
}

int clove_vv_get_list(const struct clove_vv *vv, const char *key, const char *const **items,
                      size_t *count)
{
    const struct vv_entry *e = find_entry(vv, key);
    if (!e) {
        return 0;
    }
    if (!e->items) {
        return CLOVE_E_INVALID;
    }
    *items = (const char *const *)e->items;
    *count = e->n_items;
    return 1;
}

/* ---- the SPICE view of a file ---- */

/* virt-viewer reads these "boolean" keys as integers; "true"/"false" also pass. */
static int get_flag(const struct clove_vv *vv, const char *key, bool *out)
{
    long v;
    int rc = clove_vv_get_int(vv, key, &v);
    if (rc == 1) {
        *out = v != 0;
        return 1;
    }
    return rc == 0 ? 0 : clove_vv_get_bool(vv, key, out);
}

static int get_port(const struct clove_vv *vv, const char *key, long *out)
{
    long v;
    *out = -1;
    int rc = clove_vv_get_int(vv, key, &v);
    if (rc < 0 || (rc == 1 && (v < -1 || v > 65535))) {
        return CLOVE_E_INVALID;
    }
    if (rc == 1 && v > 0) {
        *out = v;
    }
    return 0;
}

#define FAIL(desc)              \
    do {                        \
        if (err_desc) {         \
            *err_desc = (desc); \
        }                       \
        return CLOVE_E_INVALID; \
    } while (0)

int clove_vv_get_spice(const struct clove_vv *vv, struct clove_vv_spice *out, const char **err_desc)
{
    static const struct {
        const char *key;
        size_t offset;
        const char *bad;
    } strings[] = {
            {"host", offsetof(struct clove_vv_spice, host), "host: bad escape or not UTF-8"},
            {"unix-path", offsetof(struct clove_vv_spice, unix_path),
             "unix-path: bad escape or not UTF-8"},
            {"username", offsetof(struct clove_vv_spice, username),
             "username: bad escape or not UTF-8"},
            {"password", offsetof(struct clove_vv_spice, password),
             "password: bad escape or not UTF-8"},
            {"title", offsetof(struct clove_vv_spice, title), "title: bad escape or not UTF-8"},
            {"ca", offsetof(struct clove_vv_spice, ca), "ca: bad escape or not UTF-8"},
            {"host-subject", offsetof(struct clove_vv_spice, host_subject),
             "host-subject: bad escape or not UTF-8"},
            {"tls-ciphers", offsetof(struct clove_vv_spice, tls_ciphers),
             "tls-ciphers: bad escape or not UTF-8"},
            {"proxy", offsetof(struct clove_vv_spice, proxy), "proxy: bad escape or not UTF-8"},
    };
    if (err_desc) {
        *err_desc = "";
    }
    *out = (struct clove_vv_spice){.port = -1, .tls_port = -1};
    const char *type = clove_vv_get_string(vv, "type");
    if (!type || strcmp(type, "spice") != 0) {
        if (err_desc) {
            *err_desc = "type: only \"spice\" connections are supported";
        }
        return CLOVE_E_UNSUPPORTED;
    }
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        if (!clove_vv_has_key(vv, strings[i].key)) {
            continue;
        }
        const char *value = clove_vv_get_string(vv, strings[i].key);
        if (!value) {
            FAIL(strings[i].bad);
        }
        memcpy((char *)out + strings[i].offset, &value, sizeof(value));
    }
    if (get_port(vv, "port", &out->port) < 0) {
        FAIL("port: not a port number");
    }
    if (get_port(vv, "tls-port", &out->tls_port) < 0) {
        FAIL("tls-port: not a port number");
    }
    if (get_flag(vv, "fullscreen", &out->fullscreen) < 0) {
        FAIL("fullscreen: not a boolean");
    }
    if (get_flag(vv, "delete-this-file", &out->delete_this_file) < 0) {
        FAIL("delete-this-file: not a boolean");
    }
    if (clove_vv_get_list(vv, "secure-channels", &out->secure_channels,
                          &out->secure_channel_count) < 0) {
        FAIL("secure-channels: bad escape or not UTF-8");
    }
    if (clove_vv_get_list(vv, "disable-channels", &out->disable_channels,
                          &out->disable_channel_count) < 0) {
        FAIL("disable-channels: bad escape or not UTF-8");
    }
    if (out->unix_path) {
        if (out->host || out->port > 0 || out->tls_port > 0) {
            FAIL("unix-path: cannot be combined with host, port or tls-port");
        }
        return 0;
    }
    if (!out->host || !out->host[0]) {
        FAIL("host: missing");
    }
    if (out->port < 0 && out->tls_port < 0) {
        FAIL("port: neither port nor tls-port is given");
    }
    return 0;
}

bool clove_vv_is_file_argument(const char *path)
{
    /* A URI is scheme "://": letters, digits, '+', '-', '.' before it. */
    const char *p = path;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '-' || *p == '.') {
        p++;
    }
    return !(p > path && strncmp(p, "://", 3) == 0);
}

int clove_vv_write_ca_file(const struct clove_vv_spice *spice, char *path, size_t path_size)
{
    if (!spice->ca) {
        return CLOVE_E_STATE;
    }
    const char *dir = getenv("TMPDIR");
    if (!dir || !dir[0]) {
        dir = "/tmp";
    }
    int n = snprintf(path, path_size, "%s/clove-vv-ca-XXXXXX", dir);
    if (n < 0 || (size_t)n >= path_size) {
        return CLOVE_E_RANGE;
    }
    int fd = mkstemp(path); /* mode 0600 */
    if (fd < 0) {
        return CLOVE_E_IO;
    }
    size_t left = strlen(spice->ca);
    const char *p = spice->ca;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            int saved = errno;
            close(fd);
            unlink(path);
            errno = saved;
            return CLOVE_E_IO;
        }
        p += w;
        left -= (size_t)w;
    }
    if (close(fd) != 0) {
        int saved = errno;
        unlink(path);
        errno = saved;
        return CLOVE_E_IO;
    }
    return 0;
}
