/*
 * options: clove-view's command line.
 */
#ifndef CLOVE_VIEW_OPTIONS_H
#define CLOVE_VIEW_OPTIONS_H

#include <stdbool.h>

struct clove_vv;

struct options {
    char host[1024];
    long port, secure_port;
    const char *password;
    char uri_password[64];
    const char *ca_file, *host_subject, *title;
    bool fullscreen, verbose;
    bool sasl;                 /* --sasl: authenticate with SASL (the password is SASL's) */
    const char *username;      /* --username, or the .vv file's (with --sasl) */
    bool no_inputs, no_cursor; /* the .vv file's disable-channels */
    bool host_set;             /* -h or a URI named a host */
    const char *vv_file;       /* a remote-viewer connection file argument, or NULL */
    struct clove_vv *vv;       /* its keys; strings above may borrow from it */
    char ca_path[4096];        /* the file's inline CA written out, "" if none */
};

/*
 * Parses argv into *o (which holds the defaults). --help and --version
 * print and exit(0). Returns 0, or 2 after printing why on stderr. Strings
 * in *o borrow argv.
 */
int options_parse(int argc, char **argv, struct options *o);

/*
 * Reads o->vv_file (remote-viewer's .vv; "-" is standard input) and fills
 * what the command line left unset: host, port, tls-port, password, title,
 * fullscreen, username (with --sasl), disable-channels (inputs, cursor; the
 * session links no other channel it could leave out), ca (written to a private temporary file named
 * in o->ca_path), host-subject. With delete-this-file=1 the file is removed once read, unless
 * VIRT_VIEWER_KEEP_FILE is set, as remote-viewer does. Returns 0, or 1 after printing why.
 * options_finish() frees what it made.
 */
int options_apply_vv(struct options *o);

/* Frees o->vv and removes the CA file of options_apply_vv(). */
void options_finish(struct options *o);

#endif
