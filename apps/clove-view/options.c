/*
 * clove-view's command line: a spice:// URI (host, port, tls-port,
 * password) and clove-shot's options -h/-p/-s/-w, --ca-file,
 * --host-subject, plus --fullscreen, --title and -v.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clove/client.h"
#include "clove/version.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: clove-view [OPTION...] [spice://HOST:PORT?port=N&tls-port=N&password=P]\n"
               "  -h, --host=HOST           server host (default localhost)\n"
               "  -p, --port=PORT           server port\n"
               "  -s, --secure-port=PORT    TLS port (every channel uses TLS)\n"
               "  -w, --password=PASSWORD   server password\n"
               "      --ca-file=FILE        CA bundle (PEM) for TLS (default $SPICE_CA_FILE)\n"
               "      --host-subject=SUBJ   expected certificate subject \"C=..,O=..,CN=..\"\n"
               "      --fullscreen          start fullscreen (F11 toggles)\n"
               "      --title=TEXT          window title (default: the VM name, or host:port)\n"
               "  -v, --verbose             log events on stderr\n"
               "      --help, --version\n"
               "Keys: F11 fullscreen, F12 statistics overlay, Ctrl+Alt releases the mouse,\n"
               "Ctrl+Alt+End sends Ctrl+Alt+Del.\n");
}

static int parse_port(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 65535) {
        return -1;
    }
    *out = v;
    return 0;
}

/* spice://host[:port][?port=N&tls-port=N&password=P], through the library. */
static int parse_uri(const char *uri, struct options *o)
{
    struct clove_uri u;
    if (clove_uri_parse(uri, &u) < 0) {
        return -1;
    }
    if (u.host[0]) {
        snprintf(o->host, sizeof(o->host), "%s", u.host);
    }
    if (u.port > 0) {
        o->port = u.port;
    }
    if (u.tls_port > 0) {
        o->secure_port = u.tls_port;
    }
    if (u.has_password) {
        snprintf(o->uri_password, sizeof(o->uri_password), "%s", u.password);
        o->password = o->uri_password;
    }
    return 0;
}

int options_parse(int argc, char **argv, struct options *o)
{
    enum { OPT_HELP = 1000, OPT_VERSION, OPT_CA_FILE, OPT_HOST_SUBJECT, OPT_FULLSCREEN, OPT_TITLE };
    static const struct option longopts[] = {
            {"host", required_argument, NULL, 'h'},
            {"port", required_argument, NULL, 'p'},
            {"secure-port", required_argument, NULL, 's'},
            {"password", required_argument, NULL, 'w'},
            {"verbose", no_argument, NULL, 'v'},
            {"ca-file", required_argument, NULL, OPT_CA_FILE},
            {"host-subject", required_argument, NULL, OPT_HOST_SUBJECT},
            {"fullscreen", no_argument, NULL, OPT_FULLSCREEN},
            {"title", required_argument, NULL, OPT_TITLE},
            {"help", no_argument, NULL, OPT_HELP},
            {"version", no_argument, NULL, OPT_VERSION},
            {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h:p:s:w:v", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            snprintf(o->host, sizeof(o->host), "%s", optarg);
            break;
        case 'p':
        case 's':
            if (parse_port(optarg, c == 'p' ? &o->port : &o->secure_port) < 0) {
                fprintf(stderr, "clove-view: bad port '%s'\n", optarg);
                return 2;
            }
            break;
        case 'w':
            o->password = optarg;
            break;
        case 'v':
            o->verbose = true;
            break;
        case OPT_CA_FILE:
            o->ca_file = optarg;
            break;
        case OPT_HOST_SUBJECT:
            o->host_subject = optarg;
            break;
        case OPT_FULLSCREEN:
            o->fullscreen = true;
            break;
        case OPT_TITLE:
            o->title = optarg;
            break;
        case OPT_HELP:
            usage(stdout);
            exit(0);
        case OPT_VERSION:
            printf("clove-view %s\n", clove_version_string());
            exit(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    for (; optind < argc; optind++) {
        if (parse_uri(argv[optind], o) < 0) {
            fprintf(stderr, "clove-view: bad URI '%s' (spice://host:port?password=P)\n",
                    argv[optind]);
            return 2;
        }
    }
    return 0;
}
