/*
 * clove-view's command line: a spice:// URI (host, port, tls-port,
 * password) or a remote-viewer connection file (.vv), and clove-shot's
 * options -h/-p/-s/-w, --ca-file, --host-subject, --sasl, --username, plus
 * --fullscreen, --title and -v. Options given on the command line win over the file's
 * keys.
 */
#define _POSIX_C_SOURCE 200809L

#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clove/client.h"
#include "clove/version.h"
#include "clove/vv.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: clove-view [OPTION...] [spice://HOST:PORT?port=N&tls-port=N&password=P"
               " | FILE.vv]\n"
               "  -h, --host=HOST           server host (default localhost)\n"
               "  -p, --port=PORT           server port\n"
               "  -s, --secure-port=PORT    TLS port (every channel uses TLS)\n"
               "  -w, --password=PASSWORD   server password\n"
               "      --ca-file=FILE        CA bundle (PEM) for TLS (default $SPICE_CA_FILE)\n"
               "      --host-subject=SUBJ   expected certificate subject \"C=..,O=..,CN=..\"\n"
               "      --sasl                authenticate with SASL (the -w password)\n"
               "      --username=USER       SASL user name (default: the login name)\n"
               "      --fullscreen          start fullscreen (F11 toggles)\n"
               "      --title=TEXT          window title (default: the VM name, or host:port);\n"
               "                            %%d is the head number, else \" (N)\" is added\n"
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
        o->host_set = true;
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
    enum {
        OPT_HELP = 1000,
        OPT_VERSION,
        OPT_CA_FILE,
        OPT_HOST_SUBJECT,
        OPT_FULLSCREEN,
        OPT_TITLE,
        OPT_SASL,
        OPT_USERNAME,
    };
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
            {"sasl", no_argument, NULL, OPT_SASL},
            {"username", required_argument, NULL, OPT_USERNAME},
            {"help", no_argument, NULL, OPT_HELP},
            {"version", no_argument, NULL, OPT_VERSION},
            {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h:p:s:w:v", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            snprintf(o->host, sizeof(o->host), "%s", optarg);
            o->host_set = true;
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
        case OPT_SASL:
            o->sasl = true;
            break;
        case OPT_USERNAME:
            o->username = optarg;
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
        if (clove_vv_is_file_argument(argv[optind])) {
            if (o->vv_file) {
                fprintf(stderr, "clove-view: more than one connection file\n");
                return 2;
            }
            o->vv_file = argv[optind];
            continue;
        }
        if (parse_uri(argv[optind], o) < 0) {
            fprintf(stderr, "clove-view: bad URI '%s' (spice://host:port?password=P)\n",
                    argv[optind]);
            return 2;
        }
    }
    return 0;
}

int options_apply_vv(struct options *o)
{
    char why[1200];
    if (clove_vv_open(o->vv_file, &o->vv, why, sizeof(why)) < 0) {
        fprintf(stderr, "clove-view: %s\n", why);
        return 1;
    }
    struct clove_vv_spice spice;
    const char *desc;
    if (clove_vv_get_spice(o->vv, &spice, &desc) < 0) {
        fprintf(stderr, "clove-view: %s: %s\n", o->vv_file, desc);
        return 1;
    }
    if (spice.unix_path) {
        fprintf(stderr, "clove-view: %s: unix-path is not supported\n", o->vv_file);
        return 1;
    }
    if (!o->host_set) {
        snprintf(o->host, sizeof(o->host), "%s", spice.host);
    }
    if (o->port == 0 && o->secure_port == 0) {
        o->port = spice.port > 0 ? spice.port : 0;
        o->secure_port = spice.tls_port > 0 ? spice.tls_port : 0;
    }
    if (spice.secure_channel_count > 0 && o->secure_port == 0) {
        fprintf(stderr, "clove-view: %s: secure-channels needs a tls-port\n", o->vv_file);
        return 1;
    }
    if (!o->password) {
        o->password = spice.password;
    }
    if (!o->username && o->sasl) {
        o->username = spice.username; /* remote-viewer uses it for SASL only */
    }
    for (size_t i = 0; i < spice.disable_channel_count; i++) {
        const char *ch = spice.disable_channels[i];
        if (strcmp(ch, "inputs") == 0) {
            o->no_inputs = true;
        } else if (strcmp(ch, "cursor") == 0) {
            o->no_cursor = true;
        } else if (strcmp(ch, "main") == 0 || strcmp(ch, "display") == 0) {
            fprintf(stderr, "clove-view: %s: disable-channels: the %s channel cannot be left out\n",
                    o->vv_file, ch);
            return 1;
        }
        /* Others (playback, record, usbredir, smartcard, port, webdav):
         * the viewer does not link them anyway. */
    }
    if (!o->host_subject) {
        o->host_subject = spice.host_subject;
    }
    if (!o->title) {
        o->title = spice.title;
    }
    o->fullscreen |= spice.fullscreen;
    if (!o->ca_file && spice.ca) {
        if (clove_vv_write_ca_file(&spice, o->ca_path, sizeof(o->ca_path)) < 0) {
            fprintf(stderr, "clove-view: cannot write the file's CA: %s\n", strerror(errno));
            o->ca_path[0] = '\0';
            return 1;
        }
        o->ca_file = o->ca_path;
    }
    return 0;
}

void options_finish(struct options *o)
{
    if (o->ca_path[0]) {
        unlink(o->ca_path);
        o->ca_path[0] = '\0';
    }
    clove_vv_destroy(o->vv);
    o->vv = NULL;
}
