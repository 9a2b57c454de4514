/*
 * Tests for src/client/vv.c: remote-viewer connection files, read with the
 * GLib key-file rules virt-viewer uses (the expectations below were checked
 * against GKeyFile 2.74).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "clove/vv.h"

static int parse(const char *text, struct clove_vv **vv, struct clove_vv_error *err)
{
    return clove_vv_parse(text, strlen(text), vv, err);
}

static void test_ovirt_file(void)
{
    const char *text = "[virt-viewer]\n"
                       "type=spice\n"
                       "host=192.168.1.101\n"
                       "port=-1\n"
                       "password=123456789\n"
                       "delete-this-file=1\n"
                       "fullscreen=0\n"
                       "toggle-fullscreen=shift+f11\n"
                       "tls-port=5900\n"
                       "tls-ciphers=DEFAULT\n"
                       "host-subject=O=local,CN=example.com\n"
                       "ca=-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\n"
                       "secure-channels=main;inputs;cursor;playback;record;display;\n"
                       "\n"
                       "[ovirt]\n"
                       "host=engine.example.com\n"
                       "vm-guid=1234\n";
    struct clove_vv *vv;
    struct clove_vv_error err;
    CHECK_EQ(parse(text, &vv, &err), 0);
    struct clove_vv_spice s;
    const char *desc;
    CHECK_EQ(clove_vv_get_spice(vv, &s, &desc), 0);
    CHECK_STR_EQ(s.host, "192.168.1.101");
    CHECK_EQ(s.port, -1);
    CHECK_EQ(s.tls_port, 5900);
    CHECK_STR_EQ(s.password, "123456789");
    CHECK(s.delete_this_file);
    CHECK(!s.fullscreen);
    CHECK_STR_EQ(s.host_subject, "O=local,CN=example.com");
    CHECK_STR_EQ(s.ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    CHECK_STR_EQ(s.tls_ciphers, "DEFAULT");
    CHECK_EQ(s.secure_channel_count, 6);
    CHECK_STR_EQ(s.secure_channels[0], "main");
    CHECK_STR_EQ(s.secure_channels[5], "display");
    CHECK(s.title == NULL);
    CHECK(s.unix_path == NULL);
    CHECK_STR_EQ(clove_vv_get_string(vv, "toggle-fullscreen"), "shift+f11");
    /* [ovirt]'s host does not leak into [virt-viewer]. */
    CHECK(!clove_vv_has_key(vv, "vm-guid"));
    clove_vv_destroy(vv);
}

static void test_whitespace_and_comments(void)
{
    const char *text = "# made by a test\r\n"
                       "\r\n"
                       "  [virt-viewer] \t\r\n"
                       "  # indented comment\r\n"
                       "type = spice\r\n"
                       "  host\t=  h  \r\n"
                       "port=5900\r\n"
                       "title=\\sVM\\t(1)\\\\\r\n"
                       "a b=spaces in a key\r\n"
                       "title[fr]=localised\r\n"
                       "eq==x\n"
                       "last=no newline";
    struct clove_vv *vv;
    CHECK_EQ(parse(text, &vv, NULL), 0);
    CHECK_STR_EQ(clove_vv_get_string(vv, "type"), "spice");
    CHECK_STR_EQ(clove_vv_get_string(vv, "host"), "h  "); /* trailing whitespace kept */
    CHECK_STR_EQ(clove_vv_get_string(vv, "title"), " VM\t(1)\\");
    CHECK_STR_EQ(clove_vv_get_string(vv, "a b"), "spaces in a key");
    CHECK_STR_EQ(clove_vv_get_string(vv, "title[fr]"), "localised");
    CHECK_STR_EQ(clove_vv_get_string(vv, "eq"), "=x");
    CHECK_STR_EQ(clove_vv_get_string(vv, "last"), "no newline");
    CHECK(clove_vv_get_string(vv, "missing") == NULL);
    clove_vv_destroy(vv);
}

static void test_repeats(void)
{
    const char *text = "[virt-viewer]\ntype=spice\nhost=a\n[other]\nhost=b\n"
                       "[virt-viewer]\nhost=c\nport=1\nport=2\n";
    struct clove_vv *vv;
    CHECK_EQ(parse(text, &vv, NULL), 0);
    CHECK_STR_EQ(clove_vv_get_string(vv, "host"), "c");
    long port = 0;
    CHECK_EQ(clove_vv_get_int(vv, "port", &port), 1);
    CHECK_EQ(port, 2);
    clove_vv_destroy(vv);
}

static void test_syntax_errors(void)
{
    static const struct {
        const char *text;
        int line;
    } bad[] = {
            {"type=spice\n[virt-viewer]\n", 1},       /* key before a group */
            {"# c\n\nk=v\n[virt-viewer]\n", 3},       /* comments do not make a group */
            {"[virt-viewer]\ntype=spice\njunk\n", 3}, /* not a pair */
            {"[virt-viewer]\n=spice\n", 2},           /* empty key */
            {"[]\n", 1},                              /* empty group name */
            {"[virt-viewer]x\n", 1},                  /* text after ']' */
            {"[virt-viewer\ntype=spice\n", 1},        /* no ']' */
            {"[virt-viewer]\na]=1\n", 2},             /* bracket in a key */
            {"[virt-viewer]\na[=1\n", 2},
            {"[virt-viewer]\na[]=1\n", 2},
            {"[virt-viewer]\nhost=a\n", 0}, /* no type */
            {"[ovirt]\ntype=spice\n", 0},   /* no [virt-viewer] */
            {"", 0},
            {"\xef\xbb\xbf[virt-viewer]\ntype=spice\n", 1}, /* a BOM, as GKeyFile */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct clove_vv *vv = (struct clove_vv *)&bad; /* must be reset to NULL */
        struct clove_vv_error err;
        int rc = parse(bad[i].text, &vv, &err);
        if (rc != CLOVE_E_INVALID || err.line != bad[i].line || vv != NULL || !err.desc[0]) {
            printf("# case %zu: rc %d line %d (want %d) desc '%s'\n", i, rc, err.line, bad[i].line,
                   err.desc);
        }
        CHECK_EQ(rc, CLOVE_E_INVALID);
        CHECK_EQ(err.line, bad[i].line);
        CHECK(vv == NULL);
    }
    /* A NUL byte inside the text. */
    struct clove_vv *vv;
    struct clove_vv_error err;
    CHECK_EQ(clove_vv_parse("[virt-viewer]\ntype=sp\0ice\n", 25, &vv, &err), CLOVE_E_INVALID);
    CHECK_EQ(err.line, 2);
}

static void test_escapes(void)
{
    const char *text = "[virt-viewer]\ntype=spice\n"
                       "bad=\\q\n"
                       "trail=x\\\n"
                       "semi=a\\;b\n"
                       "latin1=caf\xe9\n"
                       "utf8=caf\xc3\xa9\n";
    struct clove_vv *vv;
    CHECK_EQ(parse(text, &vv, NULL), 0);
    /* GKeyFile loads such files and fails only when the key is read. */
    CHECK(clove_vv_has_key(vv, "bad"));
    CHECK(clove_vv_get_string(vv, "bad") == NULL);
    CHECK(clove_vv_get_string(vv, "trail") == NULL);
    CHECK(clove_vv_get_string(vv, "semi") == NULL); /* "\;" only in lists */
    CHECK(clove_vv_get_string(vv, "latin1") == NULL);
    CHECK_STR_EQ(clove_vv_get_string(vv, "utf8"), "caf\xc3\xa9");
    const char *const *items;
    size_t n;
    CHECK_EQ(clove_vv_get_list(vv, "semi", &items, &n), 1);
    CHECK_EQ(n, 1);
    CHECK_STR_EQ(items[0], "a;b");
    CHECK_EQ(clove_vv_get_list(vv, "bad", &items, &n), CLOVE_E_INVALID);
    clove_vv_destroy(vv);
}

static void test_numbers_and_flags(void)
{
    const char *text = "[virt-viewer]\ntype=spice\n"
                       "a= 12 \nb=0x10\nc=true\nd=TRUE\ne=1 \nf=-1\ng=+3\nh=99999999999\n"
                       "i=012\nj=\nk=false\nl=2\n";
    struct clove_vv *vv;
    CHECK_EQ(parse(text, &vv, NULL), 0);
    long v = 0;
    bool b = false;
    CHECK_EQ(clove_vv_get_int(vv, "a", &v), 1);
    CHECK_EQ(v, 12);
    CHECK_EQ(clove_vv_get_int(vv, "b", &v), CLOVE_E_INVALID);
    CHECK_EQ(clove_vv_get_int(vv, "c", &v), CLOVE_E_INVALID);
    CHECK_EQ(clove_vv_get_int(vv, "f", &v), 1);
    CHECK_EQ(v, -1);
    CHECK_EQ(clove_vv_get_int(vv, "g", &v), 1);
    CHECK_EQ(v, 3);
    CHECK_EQ(clove_vv_get_int(vv, "h", &v), CLOVE_E_INVALID);
    CHECK_EQ(clove_vv_get_int(vv, "i", &v), 1);
    CHECK_EQ(v, 12);
    CHECK_EQ(clove_vv_get_int(vv, "j", &v), CLOVE_E_INVALID);
    CHECK_EQ(clove_vv_get_int(vv, "none", &v), 0);
    CHECK_EQ(clove_vv_get_bool(vv, "c", &b), 1);
    CHECK(b);
    CHECK_EQ(clove_vv_get_bool(vv, "d", &b), CLOVE_E_INVALID);
    CHECK_EQ(clove_vv_get_bool(vv, "e", &b), 1);
    CHECK(b);
    CHECK_EQ(clove_vv_get_bool(vv, "k", &b), 1);
    CHECK(!b);
    CHECK_EQ(clove_vv_get_bool(vv, "l", &b), CLOVE_E_INVALID);
    CHECK_EQ(clove_vv_get_bool(vv, "none", &b), 0);
    clove_vv_destroy(vv);
}

static void test_lists(void)
{
    const char *text = "[virt-viewer]\ntype=spice\n"
                       "a=a;b\\;c;;d\nb=a;b;\nc=\nd=;\ne=\\sa\\n;b\n";
    struct clove_vv *vv;
    CHECK_EQ(parse(text, &vv, NULL), 0);
    const char *const *it;
    size_t n;
    CHECK_EQ(clove_vv_get_list(vv, "a", &it, &n), 1);
    CHECK_EQ(n, 4);
    CHECK_STR_EQ(it[0], "a");
    CHECK_STR_EQ(it[1], "b;c");
    CHECK_STR_EQ(it[2], "");
    CHECK_STR_EQ(it[3], "d");
    CHECK_EQ(clove_vv_get_list(vv, "b", &it, &n), 1);
    CHECK_EQ(n, 2);
    CHECK_EQ(clove_vv_get_list(vv, "c", &it, &n), 1);
    CHECK_EQ(n, 0);
    CHECK_EQ(clove_vv_get_list(vv, "d", &it, &n), 1);
    CHECK_EQ(n, 1);
    CHECK_STR_EQ(it[0], "");
    CHECK_EQ(clove_vv_get_list(vv, "e", &it, &n), 1);
    CHECK_EQ(n, 2);
    CHECK_STR_EQ(it[0], " a\n");
    CHECK_EQ(clove_vv_get_list(vv, "none", &it, &n), 0);
    clove_vv_destroy(vv);
}

static void test_spice_checks(void)
{
    static const struct {
        const char *body;
        int rc;
    } cases[] = {
            {"type=vnc\nhost=h\nport=1\n", CLOVE_E_UNSUPPORTED},
            {"type=spice\nport=1\n", CLOVE_E_INVALID},             /* no host */
            {"type=spice\nhost=h\n", CLOVE_E_INVALID},             /* no port */
            {"type=spice\nhost=h\nport=-1\n", CLOVE_E_INVALID},    /* -1 is no port */
            {"type=spice\nhost=h\nport=65536\n", CLOVE_E_INVALID}, /* range */
            {"type=spice\nhost=h\ntls-port=x\n", CLOVE_E_INVALID}, /* not a number */
            {"type=spice\nhost=h\nport=1\nfullscreen=yes\n", CLOVE_E_INVALID},
            {"type=spice\nhost=h\nport=1\nca=\\x\n", CLOVE_E_INVALID},
            {"type=spice\nunix-path=/s\nport=1\n", CLOVE_E_INVALID}, /* unix + port */
            {"type=spice\nunix-path=/s\n", 0},
            {"type=spice\nhost=h\nport=1\nfullscreen=true\ndelete-this-file=7\n", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "[virt-viewer]\n%s", cases[i].body);
        struct clove_vv *vv;
        CHECK_EQ(parse(text, &vv, NULL), 0);
        struct clove_vv_spice s;
        const char *desc = NULL;
        int rc = clove_vv_get_spice(vv, &s, &desc);
        if (rc != cases[i].rc) {
            printf("# case %zu: rc %d desc '%s'\n", i, rc, desc);
        }
        CHECK_EQ(rc, cases[i].rc);
        CHECK(desc != NULL && (rc == 0) == (desc[0] == '\0'));
        if (i == sizeof(cases) / sizeof(cases[0]) - 1) {
            CHECK(s.fullscreen);
            CHECK(s.delete_this_file);
            CHECK_EQ(s.port, 1);
            CHECK_EQ(s.tls_port, -1);
        }
        clove_vv_destroy(vv);
    }
}

static void test_load(void)
{
    char path[] = "/tmp/clove-test-vv-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text = "[virt-viewer]\ntype=spice\nhost=localhost\nport=5900\n";
    CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    struct clove_vv *vv;
    struct clove_vv_error err;
    int rc = clove_vv_load(path, &vv, &err);
    unlink(path);
    CHECK_EQ(rc, 0);
    CHECK_STR_EQ(clove_vv_get_string(vv, "host"), "localhost");
    clove_vv_destroy(vv);
    errno = 0;
    CHECK_EQ(clove_vv_load(path, &vv, &err), CLOVE_E_IO);
    CHECK_EQ(errno, ENOENT);
    CHECK(vv == NULL);

    /* Larger than the limit. */
    size_t big = CLOVE_VV_MAX_BYTES + 1;
    char *buf = malloc(big);
    CHECK(buf != NULL);
    memset(buf, '#', big);
    CHECK_EQ(clove_vv_parse(buf, big, &vv, &err), CLOVE_E_RANGE);
    free(buf);
    clove_vv_destroy(NULL);
}

static void test_file_argument(void)
{
    CHECK(!clove_vv_is_file_argument("spice://host:5900"));
    CHECK(!clove_vv_is_file_argument("SPICE://host"));
    CHECK(!clove_vv_is_file_argument("spice+unix:///run/s"));
    CHECK(!clove_vv_is_file_argument("vnc://h"));
    CHECK(clove_vv_is_file_argument("console.vv"));
    CHECK(clove_vv_is_file_argument("/tmp/a://b.vv"));
    CHECK(clove_vv_is_file_argument("-"));
    CHECK(clove_vv_is_file_argument("://x"));
}

/* clove_vv_open: a one-line reason on failure; delete-this-file honoured. */
static void test_open(void)
{
    char path[] = "/tmp/clove-vv-open-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text = "[virt-viewer]\ntype=spice\nhost=h\nport=5900\ndelete-this-file=1\n";
    CHECK_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct clove_vv *vv = NULL;
    char why[256] = "";
    unsetenv("VIRT_VIEWER_KEEP_FILE");
    CHECK_EQ(clove_vv_open(path, &vv, why, sizeof(why)), 0);
    CHECK(vv != NULL);
    CHECK(access(path, F_OK) != 0); /* deleted once read */
    clove_vv_destroy(vv);

    snprintf(path, sizeof(path), "%s", "/tmp/clove-vv-open-XXXXXX");
    fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *bad = "[virt-viewer]\nthis is not a key\n";
    CHECK_EQ(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    vv = NULL;
    CHECK(clove_vv_open(path, &vv, why, sizeof(why)) < 0);
    CHECK(vv == NULL);
    char want[64];
    snprintf(want, sizeof(want), "%s:2: ", path);
    CHECK(strncmp(why, want, strlen(want)) == 0);
    unlink(path);
    CHECK_EQ(clove_vv_open("/nonexistent/clove.vv", &vv, why, sizeof(why)), CLOVE_E_IO);
    CHECK(strstr(why, "/nonexistent/clove.vv: ") == why);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_ovirt_file),
            CHECK_CASE(test_whitespace_and_comments),
            CHECK_CASE(test_repeats),
            CHECK_CASE(test_syntax_errors),
            CHECK_CASE(test_escapes),
            CHECK_CASE(test_numbers_and_flags),
            CHECK_CASE(test_lists),
            CHECK_CASE(test_spice_checks),
            CHECK_CASE(test_load),
            CHECK_CASE(test_file_argument),
            CHECK_CASE(test_open),
            {0},
    });
}
