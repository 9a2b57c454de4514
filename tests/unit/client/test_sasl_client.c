/*
 * Tests src/client/sasl_client.c and the SASL path of the client's link,
 * in one process: our server on the fake host of tests/unit/server (with
 * spice_server_set_sasl) and a libclove-client session, both driven from
 * the test's thread. The session connects over TCP to a socket the test
 * listens on; every accepted connection goes to the server with
 * spice_server_add_client, so the server sees real TCP addresses and runs
 * SASL with a security layer (DIGEST-MD5) as on a plain port.
 *
 * - the right user and password: the primary surface arrives and a fill
 *   drawn after the link shows in it (all of it through the layer);
 * - a wrong password and an unknown user: CLOVE_E_DENIED with one line
 *   that names the cause and never the password;
 * - a session without SASL on a SASL-only server, and SASL asked of a
 *   ticket-only server: CLOVE_E_UNSUPPORTED with a line saying which;
 * - the exchange on its own, fed by hand: an empty or absurd mechanism
 *   list and a list with nothing usable on plain TCP are refused.
 *
 * A sasldb is made with saslpasswd2 in a temporary SASL_CONF_PATH; skips
 * (TAP) when saslpasswd2 is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "check.h"
#include "client/sasl_client.h"
#include "clove/client.h"
#include "common/bytes.h"
#include "fake_host.h"

#define APPNAME  "clove-sasl-client-test"
#define USER     "carol"
#define PASSWORD "Cl1ent-Pa55"

static char dir[64];
static char db_path[128], conf_path[160];

static bool make_sasldb(void)
{
    snprintf(dir, sizeof(dir), "/tmp/clove-sasl-client-XXXXXX");
    if (!mkdtemp(dir)) {
        return false;
    }
    snprintf(db_path, sizeof(db_path), "%s/sasldb", dir);
    snprintf(conf_path, sizeof(conf_path), "%s/%s.conf", dir, APPNAME);
    FILE *f = fopen(conf_path, "w");
    if (!f) {
        return false;
    }
    fprintf(f, "mech_list: digest-md5 scram-sha-1\nsasldb_path: %s\n", db_path);
    fclose(f);
    setenv("SASL_CONF_PATH", dir, 1);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "printf '%%s' '%s' | saslpasswd2 -f '%s' -a '%s' -p -c '%s' >/dev/null 2>&1", PASSWORD,
             db_path, APPNAME, USER);
    return system(cmd) == 0 && access(db_path, R_OK) == 0;
}

static void remove_sasldb(void)
{
    unlink(db_path);
    unlink(conf_path);
    rmdir(dir);
}

/* ---- a server behind a TCP listener ---- */

struct rig {
    struct fake_host *host;
    int listen_fd;
    uint16_t port;
};

static bool rig_start(struct rig *r, bool sasl)
{
    memset(r, 0, sizeof(*r));
    r->listen_fd = -1;
    struct fake_host_options opts = {.password = "ticket-pw", .qxl = true, .quiet = true};
    r->host = fake_host_create(&opts);
    if (!r->host) {
        return false;
    }
    if (sasl && (spice_server_set_sasl_appname(r->host->server, APPNAME) < 0 ||
                 spice_server_set_sasl(r->host->server, 1) < 0)) {
        return false;
    }
    r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(r->listen_fd, 8) < 0 || getsockname(r->listen_fd, (struct sockaddr *)&a, &len) < 0) {
        return false;
    }
    r->port = ntohs(a.sin_port);
    return true;
}

static void rig_stop(struct rig *r)
{
    if (r->listen_fd >= 0) {
        close(r->listen_fd);
    }
    fake_host_destroy(r->host);
}

/*
 * Runs server and session in turns until the session stops (returns its
 * result), fails, or `cond` holds; at most timeout_ms.
 */
static int rig_run(struct rig *r, struct clove_session *s, bool (*cond)(struct clove_session *),
                   int timeout_ms)
{
    for (int t = 0; t < timeout_ms; t += 4) {
        int fd = accept(r->listen_fd, NULL, NULL);
        if (fd >= 0 && spice_server_add_client(r->host->server, fd, 0) < 0) {
            close(fd);
        }
        fake_host_iterate(r->host, 2);
        int rc = clove_session_run(s, 2);
        if (rc != 0) {
            return rc;
        }
        if (cond && cond(s)) {
            return 0;
        }
    }
    return CLOVE_E_AGAIN;
}

static struct clove_session *session_for(const struct rig *r)
{
    struct clove_session *s = clove_session_create();
    if (s && clove_session_set_server(s, "127.0.0.1", r->port) < 0) {
        clove_session_destroy(s);
        return NULL;
    }
    return s;
}

static bool has_primary(struct clove_session *s)
{
    struct clove_frame f;
    return clove_session_get_primary(s, &f) == 0;
}

#define FILL_COLOR 0x00336699u

static bool has_fill(struct clove_session *s)
{
    struct clove_frame f;
    return clove_session_get_primary(s, &f) == 0 && f.width > 8 && f.height > 8 &&
           (get_u32le(f.pixels + (ptrdiff_t)4 * f.stride + 4 * 4) & 0xffffff) == FILL_COLOR;
}

/* ---- through the link ---- */

static void test_right_password(void)
{
    struct rig r;
    CHECK(rig_start(&r, true));
    struct clove_session *s = session_for(&r);
    CHECK(s != NULL);
    CHECK_EQ(clove_session_set_sasl(s, true, USER, PASSWORD), 0);
    CHECK_EQ(clove_session_connect(s), 0);
    CHECK_EQ(clove_session_set_sasl(s, false, NULL, NULL), CLOVE_E_STATE);
    int rc = rig_run(&r, s, has_primary, 10000);
    CHECK_EQ(rc, 0);
    if (rc != 0) {
        printf("# session error: %s\n", clove_session_error(s));
    }
    struct clove_frame f;
    CHECK_EQ(clove_session_get_primary(s, &f), 0);
    CHECK_EQ(f.width, FAKE_QXL_WIDTH);
    CHECK_EQ(f.height, FAKE_QXL_HEIGHT);
    /* A draw after the link comes through the layer too. */
    CHECK_EQ(fake_qxl_push_fill(r.host, 0, 0, 16, 16, FILL_COLOR), 0);
    CHECK_EQ(rig_run(&r, s, has_fill, 10000), 0);
    CHECK_STR_EQ(clove_session_error(s), "");
    clove_session_destroy(s);
    rig_stop(&r);
}

static void expect_failure(bool server_sasl, bool client_sasl, const char *user,
                           const char *password, int want_rc, const char *want_text)
{
    struct rig r;
    CHECK(rig_start(&r, server_sasl));
    struct clove_session *s = session_for(&r);
    CHECK(s != NULL);
    if (client_sasl) {
        CHECK_EQ(clove_session_set_sasl(s, true, user, password), 0);
    } else {
        CHECK_EQ(clove_session_set_password(s, "ticket-pw"), 0);
    }
    CHECK_EQ(clove_session_connect(s), 0);
    int rc = rig_run(&r, s, NULL, 10000);
    CHECK_EQ(rc, want_rc);
    const char *err = clove_session_error(s);
    CHECK(strstr(err, want_text) != NULL);
    if (!strstr(err, want_text)) {
        printf("# error line: %s\n", err);
    }
    CHECK(strchr(err, '\n') == NULL);
    CHECK(!password || strstr(err, password) == NULL);
    clove_session_destroy(s);
    rig_stop(&r);
}

static void test_refusals(void)
{
    expect_failure(true, true, USER, "not-the-password", CLOVE_E_DENIED,
                   "wrong user name or password");
    expect_failure(true, true, "nobody", PASSWORD, CLOVE_E_DENIED, "wrong user name or password");
    expect_failure(true, false, NULL, NULL, CLOVE_E_UNSUPPORTED, "requires SASL");
    expect_failure(false, true, USER, PASSWORD, CLOVE_E_UNSUPPORTED, "does not offer it");
}

/* ---- the exchange by hand ---- */

static int feed(struct sasl_client *c, const char *list, struct byte_buf *out, bool *done,
                char *why, size_t why_len)
{
    struct byte_buf in;
    buf_init(&in);
    buf_put_u32(&in, (uint32_t)strlen(list));
    buf_put(&in, list, strlen(list));
    int rc = sasl_client_input(c, in.data, in.len, out, done, why, why_len);
    buf_finish(&in);
    return rc;
}

static void test_exchange_bounds(void)
{
    struct sasl_client_config cfg = {
            .server_host = "localhost", .socket_fd = -1, .username = USER, .password = PASSWORD};
    char why[200];
    bool done = true;
    struct byte_buf out;
    buf_init(&out);

    /* Not a whole unit yet: nothing used, nothing sent. */
    struct sasl_client *c = sasl_client_create(&cfg, why, sizeof(why));
    CHECK(c != NULL);
    uint8_t partial[6] = {20, 0, 0, 0, ',', 'D'};
    CHECK_EQ(sasl_client_input(c, partial, sizeof(partial), &out, &done, why, sizeof(why)), 0);
    CHECK(!done);
    CHECK_EQ(out.len, 0u);
    sasl_client_destroy(c);

    /* An empty list, and one far too long. */
    c = sasl_client_create(&cfg, why, sizeof(why));
    uint8_t empty[4] = {0};
    CHECK_EQ(sasl_client_input(c, empty, 4, &out, &done, why, sizeof(why)), CLOVE_E_UNSUPPORTED);
    sasl_client_destroy(c);
    c = sasl_client_create(&cfg, why, sizeof(why));
    uint8_t huge[4];
    put_u32le(huge, 0x7fffffffu);
    CHECK_EQ(sasl_client_input(c, huge, 4, &out, &done, why, sizeof(why)), CLOVE_E_RANGE);
    sasl_client_destroy(c);

    /* Plain TCP: PLAIN and ANONYMOUS have no layer, so nothing is usable. */
    c = sasl_client_create(&cfg, why, sizeof(why));
    CHECK_EQ(feed(c, ",PLAIN,ANONYMOUS,", &out, &done, why, sizeof(why)), CLOVE_E_UNSUPPORTED);
    CHECK(strstr(why, "no mechanism in common") != NULL);
    CHECK(strstr(why, "PLAIN,ANONYMOUS") != NULL);
    sasl_client_destroy(c);

    /* DIGEST-MD5 is chosen: its name, then no start data (server first). */
    c = sasl_client_create(&cfg, why, sizeof(why));
    buf_reset(&out);
    const char *list = ",DIGEST-MD5,";
    CHECK_EQ(feed(c, list, &out, &done, why, sizeof(why)), (int)(4 + strlen(list)));
    CHECK_STR_EQ(sasl_client_mechanism(c), "DIGEST-MD5");
    CHECK_EQ(out.len, 4u + 10u + 4u);
    CHECK_EQ(out.len >= 4 ? get_u32le(out.data) : 0u, 10u);
    CHECK_MEM_EQ(out.data + 4, "DIGEST-MD5", 10);
    CHECK_EQ(out.len >= 18 ? get_u32le(out.data + 14) : 99u, 0u);
    /* An absurd step length. */
    CHECK_EQ(sasl_client_input(c, huge, 4, &out, &done, why, sizeof(why)), CLOVE_E_RANGE);
    sasl_client_destroy(c);
    sasl_client_destroy(NULL);
    buf_finish(&out);
}

int main(void)
{
    /* saslpasswd2 lives in /usr/sbin, which a user's PATH may lack. */
    const char *path = getenv("PATH");
    char newpath[4096];
    snprintf(newpath, sizeof(newpath), "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
    setenv("PATH", newpath, 1);
    if (system("command -v saslpasswd2 >/dev/null 2>&1") != 0) {
        printf("1..0 # SKIP saslpasswd2 not installed (sasl2-bin)\n");
        return 0;
    }
    if (!make_sasldb()) {
        printf("1..0 # SKIP cannot create a sasldb with saslpasswd2\n");
        remove_sasldb();
        return 0;
    }
    static const struct check_case cases[] = {
            CHECK_CASE(test_exchange_bounds),
            CHECK_CASE(test_right_password),
            CHECK_CASE(test_refusals),
            {NULL, NULL},
    };
    int rc = check_run(cases);
    remove_sasldb();
    return rc;
}
