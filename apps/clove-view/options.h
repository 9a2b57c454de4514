/*
 * options: clove-view's command line.
 */
#ifndef CLOVE_VIEW_OPTIONS_H
#define CLOVE_VIEW_OPTIONS_H

#include <stdbool.h>

struct options {
    char host[1024];
    long port, secure_port;
    const char *password;
    char uri_password[64];
    const char *ca_file, *host_subject, *title;
    bool fullscreen, verbose;
};

/*
 * Parses argv into *o (which holds the defaults). --help and --version
 * print and exit(0). Returns 0, or 2 after printing why on stderr. Strings
 * in *o borrow argv.
 */
int options_parse(int argc, char **argv, struct options *o);

#endif
