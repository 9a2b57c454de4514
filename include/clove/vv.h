/*
 * remote-viewer connection files (".vv"): the key file that oVirt, Proxmox
 * and libvirt front ends hand to a SPICE client, read as virt-viewer reads
 * it.
 *
 *   [virt-viewer]
 *   type=spice
 *   host=192.0.2.7
 *   tls-port=5901
 *   password=secret
 *   ca=-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n
 *   host-subject=C=XX,O=Org,CN=host
 *   delete-this-file=1
 *
 * Usage:
 *   struct clove_vv *vv;
 *   struct clove_vv_error err;
 *   if (clove_vv_load(path, &vv, &err) < 0) ... err.line, err.desc ...
 *   struct clove_vv_spice spice;
 *   if (clove_vv_get_spice(vv, &spice, &err.desc) < 0) ...
 *   ... spice.host, spice.port, spice.tls_port, spice.ca ...
 *   clove_vv_destroy(vv);
 *
 * The syntax is GLib's key file (what virt-viewer parses with GKeyFile):
 * "[group]" lines, "key=value" lines, and blank or '#' comment lines; a
 * key-value line before the first group is an error, as is any other line.
 * Whitespace before a line, around a group's "]" end, before the '=' and
 * after it is dropped; whitespace at the end of a value is kept. A later
 * key replaces an earlier one; a group named twice is one group. Values
 * are decoded on access: \s, \n, \t, \r and \\ escapes (lists also \;),
 * integers in decimal with an optional sign, booleans "true"/"false"/"1"/"0"
 * (the connection keys that virt-viewer reads as integers also accept any
 * integer, non-zero meaning true), lists separated by ';' (a final ';' ends
 * the list). Only the [virt-viewer] group is kept; other groups ([ovirt],
 * x-vendor groups) are checked for syntax and skipped.
 *
 * Errors are negative CLOVE_E_* codes (clove/client.h). Nothing here logs.
 * Thread: any; a struct clove_vv is not shared between threads while in use.
 */
#ifndef CLOVE_VV_H
#define CLOVE_VV_H

#include <stdbool.h>
#include <stddef.h>

#include <clove/client.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest file clove_vv_load() reads (a CA chain fits many times). */
#define CLOVE_VV_MAX_BYTES (1024 * 1024)

/* The keys of a file's [virt-viewer] group. Opaque. */
struct clove_vv;

/* Where and why a file was refused. */
struct clove_vv_error {
    int line;         /* 1-based line of the fault, 0 when it is not one line's */
    const char *desc; /* static text, "" when there was no error */
};

/*
 * Parses `length` bytes of `text` (borrowed; need not end with NUL; a NUL
 * byte inside is an error). On success *out is new (free it with
 * clove_vv_destroy()) and 0 is returned. Errors: CLOVE_E_INVALID (bad
 * syntax, no [virt-viewer] group, or no "type" key in it; *error says
 * where), CLOVE_E_RANGE (longer than CLOVE_VV_MAX_BYTES), CLOVE_E_NOMEM.
 * `error` may be NULL.
 */
int clove_vv_parse(const char *text, size_t length, struct clove_vv **out,
                   struct clove_vv_error *error);

/*
 * Reads the file at `path` ("-" reads standard input, as remote-viewer
 * does) and parses it as clove_vv_parse(). Adds CLOVE_E_IO (errno is set)
 * to its errors. The file is not deleted: a program honours
 * "delete-this-file" itself (see clove_vv_spice.delete_this_file).
 */
int clove_vv_load(const char *path, struct clove_vv **out, struct clove_vv_error *error);

/*
 * What a viewer does with its connection-file argument, as remote-viewer
 * does: clove_vv_load(), then, once read (usable or not), the file is
 * deleted when its "delete-this-file" key is true, unless `path` is "-" or
 * VIRT_VIEWER_KEEP_FILE is set. On failure returns clove_vv_load()'s code
 * and writes one line "PATH[:LINE]: REASON" into why (why_size bytes).
 */
int clove_vv_open(const char *path, struct clove_vv **out, char *why, size_t why_size);

/* Takes: frees the keys. Accepts NULL. */
void clove_vv_destroy(struct clove_vv *vv);

/*
 * Typed access to one key of the [virt-viewer] group (`key` borrowed).
 * clove_vv_get_string() returns the decoded value, borrowed from vv, or
 * NULL when the key is absent or its value has a bad escape or is not
 * UTF-8. The others return 1 and fill *out when the key is present and
 * valid, 0 when it is absent, CLOVE_E_INVALID when its value does not
 * parse (for integers also when it is outside the range of int).
 * clove_vv_get_list() fills *items with an array of *count strings
 * borrowed from vv.
 */
const char *clove_vv_get_string(const struct clove_vv *vv, const char *key);
int clove_vv_get_int(const struct clove_vv *vv, const char *key, long *out);
int clove_vv_get_bool(const struct clove_vv *vv, const char *key, bool *out);
int clove_vv_get_list(const struct clove_vv *vv, const char *key, const char *const **items,
                      size_t *count);
/* Returns true when the key is present in [virt-viewer], whatever its value. */
bool clove_vv_has_key(const struct clove_vv *vv, const char *key);

/*
 * What a SPICE client needs from the file. Strings borrow from the
 * struct clove_vv (NULL when absent); ports are -1 when absent, and a port
 * of 0 or -1 in the file (oVirt writes port=-1 for "TLS only") also reads
 * as -1.
 */
struct clove_vv_spice {
    const char *host;
    long port, tls_port;
    const char *unix_path;
    const char *username, *password;
    const char *title;
    const char *ca;           /* PEM text, lines already joined by '\n' */
    const char *host_subject; /* "C=..,O=..,CN=.." */
    const char *tls_ciphers;
    const char *proxy;
    bool fullscreen;
    bool delete_this_file;
    const char *const *secure_channels; /* channel names that must use TLS */
    size_t secure_channel_count;
    const char *const *disable_channels;
    size_t disable_channel_count;
};

/*
 * Fills *out from vv. Returns 0, CLOVE_E_UNSUPPORTED when type is not
 * "spice" (VNC, oVirt), or CLOVE_E_INVALID when a key the struct holds has
 * a value of the wrong kind (a port outside -1..65535, a boolean that is
 * not one, a string with a bad escape), or when neither host nor unix-path
 * is given, or neither port nor tls-port is given with host, or unix-path
 * comes with host or a port. *err_desc (may be NULL) then names the key.
 */
int clove_vv_get_spice(const struct clove_vv *vv, struct clove_vv_spice *out,
                       const char **err_desc);

/*
 * The client library verifies servers against a CA *file*; this writes
 * spice->ca into a new file readable only by the user ($TMPDIR, else /tmp)
 * and puts its name into path (path_size bytes). The caller deletes it
 * (unlink) when the session is gone. Returns 0, CLOVE_E_STATE (the file
 * has no "ca"), CLOVE_E_RANGE (path_size too small) or CLOVE_E_IO (errno).
 */
int clove_vv_write_ca_file(const struct clove_vv_spice *spice, char *path, size_t path_size);

/*
 * Returns true when `path` (borrowed) names a connection file rather than
 * a spice:// URI: anything not starting with "spice://" (case-insensitive)
 * or "spice+unix://", as remote-viewer decides. Thread: any.
 */
bool clove_vv_is_file_argument(const char *path);

#ifdef __cplusplus
}
#endif

#endif
