/*
 * clove-shot: connect to a SPICE server, wait for the first complete frame
 * (the first DISPLAY_MARK, as spicy-screenshot does) and write the primary
 * surface as a binary PPM (P6).
 *
 * Options follow spicy-screenshot: -h/--host, -p/--port, -s/--secure-port,
 * -w/--password, -o/--out-file (default clove-shot.ppm), --uri
 * spice://host?port=N&tls-port=N&password=P, plus --timeout SECONDS
 * (default 10) and remote-viewer's TLS options --ca-file FILE (default: the
 * SPICE_CA_FILE environment variable, else OpenSSL's default CA locations)
 * and --host-subject "C=..,O=..,CN=..". With a secure port every channel
 * uses TLS (even when -p is given too). --sasl authenticates with SASL (as
 * remote-viewer does when the server offers it) as --username USER
 * (default: the login name) with the -w password.
 *
 * A single argument is a spice:// URI or names a remote-viewer connection
 * file (.vv, "-" for standard input; include/clove/vv.h): its host, port,
 * tls-port, password, ca, host-subject and secure-channels are used where
 * the command line gives none, and with delete-this-file=1 the file is
 * removed once read (unless VIRT_VIEWER_KEEP_FILE is set), as
 * remote-viewer does. The PPM is converted and written a chunk of rows at
 * a time; a file name ending in .png gets an RGB PNG through libpng
 * instead.
 *
 * Any failure (connect, TLS verification, link, protocol, timeout, file)
 * exits 1 with one line on stderr; bad usage exits 2.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <png.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "clove/client.h"
#include "clove/version.h"
#include "clove/vv.h"

struct options {
    char host[1024];
    long port;
    long secure_port;
    const char *password;
    char uri_password[64];
    const char *out_file;
    const char *ca_file;
    const char *host_subject;
    bool sasl;
    const char *username;
    double timeout_s;
    double settle_s;     /* 0: the first complete frame; else quiet this long after it */
    bool host_set;       /* -h or --uri named a host */
    const char *vv_file; /* the connection file argument, or NULL */
    struct clove_vv *vv; /* its keys, which the strings above may borrow */
    char ca_path[4096];  /* the file's CA written out (see clove_vv_write_ca_file) */
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: clove-shot [OPTION...] [FILE.vv | spice://HOST:PORT]\n"
               "  -h, --host=HOST           server host (default localhost)\n"
               "  -p, --port=PORT           server port\n"
               "  -s, --secure-port=PORT    TLS port (every channel uses TLS)\n"
               "  -w, --password=PASSWORD   server password\n"
               "  -o, --out-file=FILE       output PPM, or PNG if FILE ends in .png\n"
               "                            (default clove-shot.ppm)\n"
               "      --uri=URI             spice://host?port=N&tls-port=N&password=P\n"
               "      --ca-file=FILE        CA bundle (PEM) for TLS (default $SPICE_CA_FILE)\n"
               "      --host-subject=SUBJ   expected certificate subject \"C=..,O=..,CN=..\"\n"
               "                            instead of checking the host name\n"
               "      --sasl                authenticate with SASL (the -w password)\n"
               "      --username=USER       SASL user name (default: the login name)\n"
               "      --timeout=SECONDS     give up after this long (default 10)\n"
               "      --settle=SECONDS      after the first complete frame, wait until the\n"
               "                            display has not changed for this long\n"
               "      --help                this text\n"
               "      --version             the version\n");
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

static int parse_options(int argc, char **argv, struct options *o)
{
    enum {
        OPT_URI = 1000,
        OPT_TIMEOUT,
        OPT_HELP,
        OPT_VERSION,
        OPT_CA_FILE,
        OPT_HOST_SUBJECT,
        OPT_SASL,
        OPT_USERNAME,
        OPT_SETTLE,
    };
    static const struct option longopts[] = {
            {"host", required_argument, NULL, 'h'},
            {"port", required_argument, NULL, 'p'},
            {"secure-port", required_argument, NULL, 's'},
            {"password", required_argument, NULL, 'w'},
            {"out-file", required_argument, NULL, 'o'},
            {"uri", required_argument, NULL, OPT_URI},
            {"timeout", required_argument, NULL, OPT_TIMEOUT},
            {"settle", required_argument, NULL, OPT_SETTLE},
            {"ca-file", required_argument, NULL, OPT_CA_FILE},
            {"host-subject", required_argument, NULL, OPT_HOST_SUBJECT},
            {"sasl", no_argument, NULL, OPT_SASL},
            {"username", required_argument, NULL, OPT_USERNAME},
            {"help", no_argument, NULL, OPT_HELP},
            {"version", no_argument, NULL, OPT_VERSION},
            {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h:p:s:w:o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            snprintf(o->host, sizeof(o->host), "%s", optarg);
            o->host_set = true;
            break;
        case 'p':
            if (parse_port(optarg, &o->port) < 0) {
                fprintf(stderr, "clove-shot: bad port '%s'\n", optarg);
                return 2;
            }
            break;
        case 's':
            if (parse_port(optarg, &o->secure_port) < 0) {
                fprintf(stderr, "clove-shot: bad secure port '%s'\n", optarg);
                return 2;
            }
            break;
        case 'w':
            o->password = optarg;
            break;
        case 'o':
            o->out_file = optarg;
            break;
        case OPT_URI:
            if (parse_uri(optarg, o) < 0) {
                fprintf(stderr, "clove-shot: bad URI '%s' (spice://host?port=N&password=P)\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_TIMEOUT: {
            char *end;
            o->timeout_s = strtod(optarg, &end);
            if (end == optarg || *end || !(o->timeout_s > 0) || o->timeout_s > 86400) {
                fprintf(stderr, "clove-shot: bad timeout '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case OPT_SETTLE: {
            char *end;
            o->settle_s = strtod(optarg, &end);
            if (end == optarg || *end || !(o->settle_s >= 0) || o->settle_s > 3600) {
                fprintf(stderr, "clove-shot: bad settle time '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case OPT_CA_FILE:
            o->ca_file = optarg;
            break;
        case OPT_HOST_SUBJECT:
            o->host_subject = optarg;
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
            printf("clove-shot %s\n", clove_version_string());
            exit(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc && clove_vv_is_file_argument(argv[optind])) {
        o->vv_file = argv[optind++];
    } else if (optind < argc && parse_uri(argv[optind], o) == 0) {
        optind++;
    }
    if (optind < argc) {
        fprintf(stderr, "clove-shot: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return 0;
}

/*
 * Reads the connection file and fills what the command line left unset.
 * Returns 0, or the exit code after printing why.
 */
static int apply_vv(struct options *o)
{
    char why[1200];
    if (clove_vv_open(o->vv_file, &o->vv, why, sizeof(why)) < 0) {
        fprintf(stderr, "clove-shot: %s\n", why);
        return 1;
    }
    struct clove_vv_spice spice;
    const char *desc;
    int rc = clove_vv_get_spice(o->vv, &spice, &desc);
    if (rc < 0) {
        fprintf(stderr, "clove-shot: %s: %s\n", o->vv_file, desc);
        return 1;
    }
    if (spice.unix_path) {
        fprintf(stderr, "clove-shot: %s: unix-path is not supported\n", o->vv_file);
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
        fprintf(stderr, "clove-shot: %s: secure-channels needs a tls-port\n", o->vv_file);
        return 1;
    }
    if (!o->password) {
        o->password = spice.password;
    }
    if (!o->username && o->sasl) {
        o->username = spice.username; /* remote-viewer uses it for SASL only */
    }
    if (!o->host_subject) {
        o->host_subject = spice.host_subject;
    }
    if (!o->ca_file && spice.ca) {
        if (clove_vv_write_ca_file(&spice, o->ca_path, sizeof(o->ca_path)) < 0) {
            fprintf(stderr, "clove-shot: cannot write the file's CA: %s\n", strerror(errno));
            o->ca_path[0] = '\0';
            return 1;
        }
        o->ca_file = o->ca_path;
    }
    return 0;
}

/* row_to_rgb() may write up to this many bytes past the end of a row. */
#define ROW_SLACK 16

#if defined(__x86_64__) && defined(__GNUC__)
/*
 * Four pixels at a time: one byte shuffle turns 16 bytes B, G, R, X into
 * 12 bytes R, G, B, stored as 16 whose last 4 the next store overwrites
 * (or which land in the row's slack). Returns the pixels done.
 */
__attribute__((target("ssse3"))) static uint32_t row_to_rgb_ssse3(uint8_t *dst, const uint8_t *src,
                                                                  uint32_t width)
{
    const __m128i order = _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    uint32_t x = 0;
    for (; x + 4 <= width; x += 4) {
        __m128i px = _mm_loadu_si128((const __m128i *)(const void *)(src + 4 * (size_t)x));
        _mm_storeu_si128((__m128i *)(void *)(dst + 3 * (size_t)x), _mm_shuffle_epi8(px, order));
    }
    return x;
}
#endif

/*
 * Converts one row of B, G, R, X pixels to R, G, B bytes; `dst` must have
 * ROW_SLACK writable bytes past the row's 3 * width. With SSSE3 (every
 * x86-64 CPU of the last 15 years; checked at run time) that is under
 * 1.5 instructions a pixel. Elsewhere, on little-endian hosts, each pixel
 * loaded as the word 0xXXRRGGBB is byte-swapped (one bswap) to 0xBBGGRRXX,
 * shifted to 0x00BBGGRR and stored as 4 bytes R, G, B, 0 whose last byte
 * the next pixel overwrites: 8 instructions a pixel; the byte loop of other
 * hosts takes 13.
 */
static void row_to_rgb(uint8_t *dst, const uint8_t *src, uint32_t width)
{
    uint32_t x = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    static int ssse3 = -1;
    if (ssse3 < 0) {
        ssse3 = __builtin_cpu_supports("ssse3") ? 1 : 0;
    }
    if (ssse3) {
        x = row_to_rgb_ssse3(dst, src, width);
    }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; x < width; x++) {
        uint32_t p;
        memcpy(&p, src + 4 * (size_t)x, 4);
        uint32_t swapped = (p << 24) | ((p & 0xff00u) << 8) | ((p >> 8) & 0xff00u) | (p >> 24);
        uint32_t rgb = swapped >> 8;
        memcpy(dst + 3 * (size_t)x, &rgb, 4);
    }
#else
    for (; x < width; x++) {
        dst[3 * x] = src[4 * x + 2];
        dst[3 * x + 1] = src[4 * x + 1];
        dst[3 * x + 2] = src[4 * x];
    }
#endif
}

/* Writes all of buf[0, len) to fd. Returns 0 or -1 (errno). */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO;
            }
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Bytes of converted rows handed to the kernel per write(): small enough to
 * stay in the CPU cache between conversion and the kernel's copy, and to
 * need few fresh pages (a whole 1024x768 file in one buffer took 576 page
 * faults, ~1.3 ms), large enough for few system calls. */
#define PPM_CHUNK_BYTES (256u * 1024u)

/*
 * Writes the frame as P6 (RGB from B, G, R, X pixels), converting a chunk
 * of rows at a time. An existing file is overwritten in place and then cut
 * to the new size rather than truncated first: truncating a just-written
 * 2.3 MB file and allocating its pages again took 1.3-2.1 ms here, writing
 * over its pages 0.4-0.5 ms. Returns 0 or -1 (errno).
 */
static int write_ppm(const char *path, const struct clove_frame *frame)
{
    char header[64];
    int header_len =
            snprintf(header, sizeof(header), "P6\n%u %u\n255\n", frame->width, frame->height);
    size_t row_bytes = (size_t)frame->width * 3;
    size_t chunk_rows = PPM_CHUNK_BYTES / (row_bytes ? row_bytes : 1);
    if (chunk_rows == 0) {
        chunk_rows = 1;
    }
    uint8_t *buf = malloc((size_t)header_len + chunk_rows * row_bytes + ROW_SLACK);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        free(buf);
        return -1;
    }
    memcpy(buf, header, (size_t)header_len);
    size_t used = (size_t)header_len;
    int rc = 0;
    for (uint32_t y = 0; y < frame->height && rc == 0; y++) {
        row_to_rgb(buf + used, frame->pixels + (ptrdiff_t)y * frame->stride, frame->width);
        used += row_bytes;
        if (used + row_bytes > (size_t)header_len + chunk_rows * row_bytes ||
            y + 1 == frame->height) {
            rc = write_all(fd, buf, used);
            used = 0;
        }
    }
    if (frame->height == 0 && rc == 0) {
        rc = write_all(fd, buf, used);
    }
    struct stat st;
    off_t total = (off_t)header_len + (off_t)row_bytes * frame->height;
    if (rc == 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size != total) {
        rc = ftruncate(fd, total);
    }
    int saved = errno;
    free(buf);
    if (close(fd) < 0 && rc == 0) {
        return -1;
    }
    errno = saved;
    return rc;
}

/* True when the output file name ends in ".png" (any case). */
static bool wants_png(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcasecmp(path + n - 4, ".png") == 0;
}

/*
 * Writes the frame as an 8-bit RGB PNG through libpng (its default
 * compression; libpng reports errors through setjmp, which is kept to this
 * one function). Returns 0 or -1 (errno set, EIO for a libpng error).
 */
static int write_png(const char *path, const struct clove_frame *frame)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        return -1;
    }
    uint8_t *row = malloc((size_t)frame->width * 3 + ROW_SLACK);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!row || !info) {
        png_destroy_write_struct(&png, &info);
        free(row);
        fclose(f);
        errno = ENOMEM;
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(row);
        fclose(f);
        errno = EIO;
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, frame->width, frame->height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < frame->height; y++) {
        row_to_rgb(row, frame->pixels + (ptrdiff_t)y * frame->stride, frame->width);
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    return fclose(f) == 0 ? 0 : -1;
}

/* The capture's progress, for --settle. */
struct shot_state {
    double settle_s;
    bool marked;        /* the first complete frame arrived */
    double last_change; /* monotonic seconds of the last display change */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_mark(struct clove_session *session, void *opaque)
{
    struct shot_state *st = opaque;
    st->marked = true;
    st->last_change = now_s();
    if (st->settle_s <= 0) {
        clove_session_stop(session);
    }
}

static void on_area(struct clove_session *session, int x, int y, int width, int height,
                    void *opaque)
{
    (void)session, (void)x, (void)y, (void)width, (void)height;
    struct shot_state *st = opaque;
    st->last_change = now_s();
}

/*
 * Runs the session until the capture is due: the first complete frame, or
 * with --settle that frame and then settle_s seconds without a change.
 * Returns 1 when due, 0 on timeout, < 0 on a session error.
 */
static int run_until_due(struct clove_session *s, struct shot_state *st, double timeout_s)
{
    double deadline = now_s() + timeout_s;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) {
            return 0;
        }
        int left_ms = (int)(left * 1000) + 1;
        int rc = clove_session_run(s, st->settle_s > 0 && left_ms > 20 ? 20 : left_ms);
        if (rc != 0) {
            return rc;
        }
        if (st->marked && st->settle_s > 0 && now_s() - st->last_change >= st->settle_s) {
            return 1;
        }
    }
}

int main(int argc, char **argv)
{
    struct options o = {.host = "localhost", .out_file = "clove-shot.ppm", .timeout_s = 10};
    int rc = parse_options(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    if (o.username && !o.sasl) {
        fprintf(stderr, "clove-shot: --username needs --sasl\n");
        return 2;
    }
    if (o.vv_file && (rc = apply_vv(&o)) != 0) {
        if (o.ca_path[0]) {
            unlink(o.ca_path);
        }
        clove_vv_destroy(o.vv);
        return rc;
    }
    if (o.port == 0 && o.secure_port == 0) {
        fprintf(stderr, "clove-shot: no port given (-p PORT, -s PORT, --uri or a .vv file)\n");
        clove_vv_destroy(o.vv);
        return 1;
    }
    if (!o.ca_file) {
        o.ca_file = getenv("SPICE_CA_FILE");
    }
    struct clove_session *s = clove_session_create();
    if (!s) {
        fprintf(stderr, "clove-shot: out of memory\n");
        clove_vv_destroy(o.vv);
        return 1;
    }
    int exit_code = 1;
    if ((rc = clove_session_set_server(s, o.host, (uint16_t)(o.port ? o.port : o.secure_port))) <
                0 ||
        (rc = o.sasl ? clove_session_set_sasl(s, true, o.username, o.password)
                     : clove_session_set_password(s, o.password)) < 0) {
        fprintf(stderr, "clove-shot: %s\n",
                rc == CLOVE_E_RANGE ? "password too long (60 bytes at most)" : clove_strerror(rc));
        goto out;
    }
    if (o.secure_port &&
        (rc = clove_session_set_tls(s, (uint16_t)o.secure_port, o.ca_file, o.host_subject)) < 0) {
        if (rc == CLOVE_E_INVALID) {
            fprintf(stderr, "clove-shot: bad --host-subject '%s' (want \"C=..,O=..,CN=..\")\n",
                    o.host_subject);
            exit_code = 2;
        } else {
            fprintf(stderr, "clove-shot: %s\n", clove_strerror(rc));
        }
        goto out;
    }
    /* A capture needs neither the cursor nor the inputs channel. */
    clove_session_set_display_only(s, true);
    struct shot_state st = {.settle_s = o.settle_s};
    clove_session_set_mark_callback(s, on_mark, &st);
    clove_session_set_area_callback(s, on_area, &st);
    rc = clove_session_connect(s);
    if (rc == 0) {
        rc = run_until_due(s, &st, o.timeout_s);
    }
    if (rc < 0) {
        fprintf(stderr, "clove-shot: %s\n", clove_session_error(s));
        goto out;
    }
    if (rc == 0) {
        fprintf(stderr, "clove-shot: timed out after %g s waiting for %s\n", o.timeout_s,
                clove_session_mark_count(s) ? "the primary surface" : "the first frame");
        goto out;
    }
    struct clove_frame frame;
    if (clove_session_get_primary(s, &frame) < 0) {
        fprintf(stderr, "clove-shot: the server marked a frame but sent no 32-bit primary "
                        "surface\n");
        goto out;
    }
    if ((wants_png(o.out_file) ? write_png(o.out_file, &frame) : write_ppm(o.out_file, &frame)) <
        0) {
        fprintf(stderr, "clove-shot: cannot write %s: %s\n", o.out_file, strerror(errno));
        goto out;
    }
    exit_code = 0;
#if !defined(CLOVE_SHOT_FULL_TEARDOWN)
    /* The capture is written: leave at once. Closing the session and
     * OpenSSL's exit handlers would only free memory the kernel takes back
     * with the process anyway (0.5 ms of a 45 ms capture). Sanitizer builds
     * define CLOVE_SHOT_FULL_TEARDOWN so that leak checks still see it all. */
    if (o.ca_path[0]) {
        unlink(o.ca_path);
    }
    _exit(0);
#endif
out:
    clove_session_destroy(s);
    if (o.ca_path[0]) {
        unlink(o.ca_path);
    }
    clove_vv_destroy(o.vv);
    return exit_code;
}
