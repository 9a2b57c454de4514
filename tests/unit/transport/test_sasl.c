/*
 * Tests src/transport/sasl.c and the SASL path of the link stage, through
 * the public API on the fake host of tests/unit/server, with a cyrus-sasl
 * client driven step by step in the test's thread:
 *
 * - a sasldb made with saslpasswd2 in a temporary SASL_CONF_PATH holding
 *   <appname>.conf ("mech_list: digest-md5 scram-sha-1");
 * - the reply to a client offering AUTH_SASL has a zeroed public key and
 *   AUTH_SASL (not AUTH_SPICE) in the server's caps;
 * - on plain sockets only DIGEST-MD5 (it has a security layer) is offered;
 *   the right password links (the result in clear, then once more through
 *   the layer, as spice-gtk reads it), and MAIN_INIT / ATTACH_CHANNELS /
 *   CHANNELS_LIST then travel through the SASL security layer;
 * - a wrong password is refused (the server closes), with a log line that
 *   does not contain the password;
 * - ticket authentication, an unoffered mechanism and absurd lengths are
 *   refused.
 *
 * Skips (TAP) when saslpasswd2 or the DIGEST-MD5 plugin is missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sasl/sasl.h>

#include "check.h"
#include "common/bytes.h"
#include "common/error.h"
#include "common/log.h"
#include "fake_host.h"
#include "server/server.h"
#include "transport/sasl.h"

#define APPNAME  "clove-sasl-test"
#define USER     "alice"
#define PASSWORD "s3cret-Pa55"

static char dir[64];
static char db_path[128], conf_path[160];

static bool make_sasldb(void)
{
    snprintf(dir, sizeof(dir), "/tmp/clove-sasl-XXXXXX");
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

/* ---- log capture ---- */

static char logged[8192];
static size_t logged_len;

static void capture_log(enum log_level level, const char *file, int line, const char *msg)
{
    int n = snprintf(logged + logged_len, sizeof(logged) - logged_len, "%s\n", msg);
    if (n > 0 && (size_t)n < sizeof(logged) - logged_len) {
        logged_len += (size_t)n;
    }
}

/* ---- a cyrus-sasl client on a fake_client ---- */

static const char *client_password = PASSWORD;

static int client_simple(void *context, int id, const char **result, unsigned *len)
{
    if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME) {
        return SASL_BADPARAM;
    }
    *result = USER;
    if (len) {
        *len = (unsigned)strlen(USER);
    }
    return SASL_OK;
}

static int client_secret(sasl_conn_t *conn, void *context, int id, sasl_secret_t **psecret)
{
    static union {
        sasl_secret_t s;
        char bytes[sizeof(sasl_secret_t) + 64];
    } secret;
    size_t n = strlen(client_password);
    secret.s.len = n;
    memcpy(secret.s.data, client_password, n + 1);
    *psecret = &secret.s;
    return SASL_OK;
}

static const sasl_callback_t client_callbacks[] = {
        {SASL_CB_USER, (int (*)(void))(void (*)(void))client_simple, NULL},
        {SASL_CB_AUTHNAME, (int (*)(void))(void (*)(void))client_simple, NULL},
        {SASL_CB_PASS, (int (*)(void))(void (*)(void))client_secret, NULL},
        {SASL_CB_LIST_END, NULL, NULL},
};

static int send_sasl_link(struct fake_host *h, struct fake_client *c, bool auth_selection,
                          uint32_t *reply_error, uint8_t *pubkey, uint32_t *server_caps)
{
    int rc = fake_client_connect(h, c, 0);
    if (rc < 0) {
        return rc;
    }
    uint32_t common[1] = {0};
    caps_set(common, SPICE_COMMON_CAP_AUTH_SASL);
    caps_set(common, SPICE_COMMON_CAP_MINI_HEADER);
    if (auth_selection) {
        caps_set(common, SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION);
    }
    struct byte_buf b;
    buf_init(&b);
    link_mess_write(&b, 0, SPICE_CHANNEL_MAIN, 0, common, 1, NULL, 0);
    rc = fake_client_write(c, b.data, b.len);
    buf_finish(&b);
    if (rc < 0) {
        return rc;
    }
    return fake_client_read_reply(c, reply_error, pubkey, server_caps, 3000);
}

static int write_u32(struct fake_client *c, uint32_t v)
{
    uint8_t w[4];
    put_u32le(w, v);
    return fake_client_write(c, w, 4);
}

/* Reads u32 length + data (+ NUL) + complete byte. */
static int read_server_step(struct fake_client *c, char **data, unsigned *len, int *complete)
{
    uint32_t n;
    if (fake_client_read_u32(c, &n, 3000) < 0 || n > SASL_DATA_MAX_LEN) {
        return -1;
    }
    if (!fake_client_wait_bytes(c, n + 1, 3000)) {
        return -1;
    }
    *data = NULL;
    *len = 0;
    if (n > 0) {
        *data = malloc(n);
        memcpy(*data, c->rx, n);
        (*data)[n - 1] = '\0';
        *len = n - 1;
    }
    *complete = c->rx[n];
    fake_client_consume(c, n + 1);
    return 0;
}

static int write_client_data(struct fake_client *c, const char *out, unsigned out_len)
{
    if (!out) {
        return write_u32(c, 0);
    }
    if (write_u32(c, out_len + 1) < 0 || fake_client_write(c, out, out_len) < 0) {
        return -1;
    }
    return fake_client_write(c, "", 1);
}

/*
 * Runs the client side after the link reply: mechanism SASL, the list,
 * start and steps as spice-gtk does. Returns the link result, or -1 when
 * the server closed, -2 on a client-side failure. *mechlist gets the list.
 */
static int sasl_client_exchange(struct fake_client *c, sasl_conn_t **out_conn, char *mechlist,
                                size_t mechlist_cap)
{
    if (write_u32(c, SPICE_COMMON_CAP_AUTH_SASL) < 0) {
        return -2;
    }
    uint32_t n;
    if (fake_client_read_u32(c, &n, 3000) < 0 || n >= mechlist_cap ||
        !fake_client_wait_bytes(c, n, 3000)) {
        return -1;
    }
    memcpy(mechlist, c->rx, n);
    mechlist[n] = '\0';
    fake_client_consume(c, n);

    sasl_conn_t *conn = NULL;
    if (sasl_client_new("spice", "localhost", NULL, NULL, client_callbacks, SASL_SUCCESS_DATA,
                        &conn) != SASL_OK) {
        return -2;
    }
    sasl_security_properties_t props = {
            .min_ssf = 56,
            .max_ssf = 100000,
            .maxbufsize = 100000,
            .security_flags = SASL_SEC_NOANONYMOUS | SASL_SEC_NOPLAINTEXT,
    };
    sasl_setprop(conn, SASL_SEC_PROPS, &props);
    const char *out = NULL, *mech = NULL;
    unsigned out_len = 0;
    int err = sasl_client_start(conn, mechlist, NULL, &out, &out_len, &mech);
    int result = -2;
    if (err != SASL_OK && err != SASL_CONTINUE) {
        goto done;
    }
    if (write_u32(c, (uint32_t)strlen(mech)) < 0 || fake_client_write(c, mech, strlen(mech)) < 0 ||
        write_client_data(c, out, out_len) < 0) {
        goto done;
    }
    char *in = NULL;
    unsigned in_len = 0;
    int complete = 0;
    result = -1;
    if (read_server_step(c, &in, &in_len, &complete) < 0) {
        goto done;
    }
    while (!(complete && err == SASL_OK)) {
        err = sasl_client_step(conn, in, in_len, NULL, &out, &out_len);
        free(in);
        in = NULL;
        if (err != SASL_OK && err != SASL_CONTINUE) {
            result = -2;
            goto done;
        }
        if (complete && err == SASL_OK) {
            break;
        }
        if (write_client_data(c, out, out_len) < 0 ||
            read_server_step(c, &in, &in_len, &complete) < 0) {
            goto done;
        }
        if (complete) {
            free(in);
            in = NULL;
            break;
        }
    }
    free(in);
    uint32_t link_result;
    if (fake_client_read_u32(c, &link_result, 3000) < 0) {
        goto done;
    }
    result = (int)link_result;
done:
    if (result == SPICE_LINK_ERR_OK && out_conn) {
        *out_conn = conn;
    } else {
        sasl_dispose(&conn);
    }
    return result;
}

/* Decodes what arrived through the client's security layer into `plain`
 * until it holds at least n bytes. */
static int read_decoded(struct fake_client *c, sasl_conn_t *conn, struct byte_buf *plain, size_t n)
{
    for (int round = 0; round < 200 && plain->len < n; round++) {
        if (!fake_client_wait_bytes(c, 1, 3000)) {
            return -1;
        }
        const char *dec = NULL;
        unsigned dec_len = 0;
        if (sasl_decode(conn, (const char *)c->rx, (unsigned)c->rx_len, &dec, &dec_len) !=
            SASL_OK) {
            return -2;
        }
        fake_client_consume(c, c->rx_len);
        buf_put(plain, dec, dec_len);
    }
    return plain->len >= n ? 0 : -1;
}

static void plain_consume(struct byte_buf *plain, size_t n)
{
    memmove(plain->data, plain->data + n, plain->len - n);
    plain->len -= n;
}

/* Reads one mini-header message through the client's security layer. */
static int read_encoded_msg(struct fake_client *c, sasl_conn_t *conn, struct byte_buf *plain,
                            uint16_t *type)
{
    for (int round = 0; round < 200; round++) {
        if (plain->len >= 6 && plain->len >= 6 + get_u32le(plain->data + 2)) {
            *type = get_u16le(plain->data);
            plain_consume(plain, 6 + get_u32le(plain->data + 2));
            return 0;
        }
        if (!fake_client_wait_bytes(c, 1, 3000)) {
            return -1;
        }
        const char *dec = NULL;
        unsigned dec_len = 0;
        if (sasl_decode(conn, (const char *)c->rx, (unsigned)c->rx_len, &dec, &dec_len) !=
            SASL_OK) {
            return -2;
        }
        fake_client_consume(c, c->rx_len);
        buf_put(plain, dec, dec_len);
    }
    return -1;
}

static struct fake_host *host_with_sasl(bool enable)
{
    struct fake_host_options opts = {.password = "ticket-pw"};
    struct fake_host *h = fake_host_create(&opts);
    if (h) {
        log_set_handler(capture_log);
        if (spice_server_set_sasl_appname(h->server, APPNAME) < 0 ||
            spice_server_set_sasl(h->server, enable) < 0) {
            fake_host_destroy(h);
            return NULL;
        }
    }
    return h;
}

static void test_right_password(void)
{
    struct fake_host *h = host_with_sasl(true);
    CHECK(h != NULL);
    struct fake_client c;
    uint32_t error = 99, caps = 0;
    uint8_t pubkey[LINK_PUBKEY_SIZE];
    memset(pubkey, 0xAA, sizeof(pubkey));
    CHECK_EQ(send_sasl_link(h, &c, true, &error, pubkey, &caps), 0);
    CHECK_EQ(error, SPICE_LINK_ERR_OK);
    CHECK(caps & (1u << SPICE_COMMON_CAP_AUTH_SASL));
    CHECK(!(caps & (1u << SPICE_COMMON_CAP_AUTH_SPICE)));
    uint8_t zeros[LINK_PUBKEY_SIZE] = {0};
    CHECK_MEM_EQ(pubkey, zeros, LINK_PUBKEY_SIZE);

    sasl_conn_t *conn = NULL;
    char mechlist[512];
    client_password = PASSWORD;
    CHECK_EQ(sasl_client_exchange(&c, &conn, mechlist, sizeof(mechlist)), SPICE_LINK_ERR_OK);
    CHECK(strstr(mechlist, ",DIGEST-MD5,") != NULL);
    CHECK(strstr(mechlist, "SCRAM") == NULL); /* no security layer: not on plain TCP */
    CHECK(conn != NULL);
    if (conn) {
        const void *ssf = NULL;
        CHECK_EQ(sasl_getprop(conn, SASL_SSF, &ssf), SASL_OK);
        CHECK(ssf && *(const int *)ssf >= SASL_MIN_SSF);
        /* The link result once more, then MAIN_INIT arrive through the
         * layer, and we can talk back. */
        struct byte_buf plain;
        buf_init(&plain);
        CHECK_EQ(read_decoded(&c, conn, &plain, 4), 0);
        CHECK_EQ(plain.len >= 4 ? get_u32le(plain.data) : 99u, SPICE_LINK_ERR_OK);
        plain_consume(&plain, plain.len >= 4 ? 4 : 0);
        uint16_t type = 0;
        CHECK_EQ(read_encoded_msg(&c, conn, &plain, &type), 0);
        CHECK_EQ(type, SPICE_MSG_MAIN_INIT);
        uint8_t msg[6];
        put_u16le(msg, SPICE_MSGC_MAIN_ATTACH_CHANNELS);
        put_u32le(msg + 2, 0);
        const char *enc = NULL;
        unsigned enc_len = 0;
        CHECK_EQ(sasl_encode(conn, (const char *)msg, sizeof(msg), &enc, &enc_len), SASL_OK);
        CHECK_EQ(fake_client_write(&c, enc, enc_len), 0);
        bool listed = false;
        for (int i = 0; i < 10 && !listed; i++) {
            if (read_encoded_msg(&c, conn, &plain, &type) < 0) {
                break;
            }
            listed = type == SPICE_MSG_MAIN_CHANNELS_LIST;
        }
        CHECK(listed);
        buf_finish(&plain);
        sasl_dispose(&conn);
    }
    CHECK(strstr(logged, "SASL authentication of " USER " succeeded") != NULL);
    fake_client_close(&c);
    fake_host_destroy(h);
}

static void test_wrong_password(void)
{
    logged_len = 0;
    logged[0] = '\0';
    struct fake_host *h = host_with_sasl(true);
    CHECK(h != NULL);
    struct fake_client c;
    uint32_t error = 99;
    CHECK_EQ(send_sasl_link(h, &c, true, &error, NULL, NULL), 0);
    CHECK_EQ(error, SPICE_LINK_ERR_OK);
    char mechlist[512];
    client_password = "not-the-password";
    int rc = sasl_client_exchange(&c, NULL, mechlist, sizeof(mechlist));
    CHECK(rc != SPICE_LINK_ERR_OK);
    CHECK(fake_client_wait_eof(&c, 3000));
    CHECK(strstr(logged, "SASL authentication failed") != NULL);
    CHECK(strstr(logged, "not-the-password") == NULL);
    CHECK(strstr(logged, PASSWORD) == NULL);
    CHECK_EQ(h->server->num_clients, 0);
    fake_client_close(&c);
    fake_host_destroy(h);
    client_password = PASSWORD;
}

/* With SASL on, a client that picks ticket auth or cannot select is refused. */
static void test_ticket_refused(void)
{
    struct fake_host *h = host_with_sasl(true);
    CHECK(h != NULL);
    struct fake_client c;
    uint32_t error = 99;
    CHECK_EQ(send_sasl_link(h, &c, true, &error, NULL, NULL), 0);
    CHECK_EQ(write_u32(&c, SPICE_COMMON_CAP_AUTH_SPICE), 0);
    uint32_t result = 0;
    CHECK_EQ(fake_client_read_u32(&c, &result, 3000), 0);
    CHECK_EQ(result, SPICE_LINK_ERR_INVALID_DATA);
    CHECK(fake_client_wait_eof(&c, 3000));
    fake_client_close(&c);

    CHECK_EQ(send_sasl_link(h, &c, false, &error, NULL, NULL), 0);
    CHECK_EQ(fake_client_read_u32(&c, &result, 3000), 0);
    CHECK_EQ(result, SPICE_LINK_ERR_VERSION_MISMATCH);
    fake_client_close(&c);

    /* The plain ticket client of fake_host (AUTH_SPICE only) is refused too. */
    struct fake_link link = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    CHECK(fake_client_link(h, &c, &link, "ticket-pw") != SPICE_LINK_ERR_OK);
    fake_client_close(&c);
    fake_host_destroy(h);

    /* SASL off: a client asking for SASL is refused, tickets work. */
    h = host_with_sasl(false);
    CHECK_EQ(send_sasl_link(h, &c, true, &error, NULL, NULL), 0);
    CHECK_EQ(write_u32(&c, SPICE_COMMON_CAP_AUTH_SASL), 0);
    CHECK_EQ(fake_client_read_u32(&c, &result, 3000), 0);
    CHECK_EQ(result, SPICE_LINK_ERR_PERMISSION_DENIED);
    fake_client_close(&c);
    CHECK_EQ(fake_client_link(h, &c, &link, "ticket-pw"), SPICE_LINK_ERR_OK);
    fake_client_close(&c);
    fake_host_destroy(h);
}

/* Mechanism names and lengths out of range close the link. */
static void test_bad_exchange(void)
{
    struct fake_host *h = host_with_sasl(true);
    CHECK(h != NULL);
    struct fake_client c;
    uint32_t error = 99, n = 0;

    /* A mechanism we did not offer: INVALID_DATA link error. */
    CHECK_EQ(send_sasl_link(h, &c, true, &error, NULL, NULL), 0);
    CHECK_EQ(write_u32(&c, SPICE_COMMON_CAP_AUTH_SASL), 0);
    CHECK_EQ(fake_client_read_u32(&c, &n, 3000), 0);
    CHECK(fake_client_wait_bytes(&c, n, 3000));
    fake_client_consume(&c, n);
    CHECK_EQ(write_u32(&c, 5), 0);
    CHECK_EQ(fake_client_write(&c, "PLAIN", 5), 0);
    CHECK_EQ(fake_client_read_reply(&c, &error, NULL, NULL, 3000), 0);
    CHECK_EQ(error, SPICE_LINK_ERR_INVALID_DATA);
    CHECK(fake_client_wait_eof(&c, 3000));
    fake_client_close(&c);

    /* Name length 0, 101, and a data length over 1 MiB: closed. */
    const uint32_t name_lens[] = {0, SASL_MECHNAME_MAX_LEN + 1, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof(name_lens) / sizeof(name_lens[0]); i++) {
        CHECK_EQ(send_sasl_link(h, &c, true, &error, NULL, NULL), 0);
        CHECK_EQ(write_u32(&c, SPICE_COMMON_CAP_AUTH_SASL), 0);
        CHECK_EQ(write_u32(&c, name_lens[i]), 0);
        CHECK(fake_client_wait_eof(&c, 3000));
        fake_client_close(&c);
    }
    CHECK_EQ(send_sasl_link(h, &c, true, &error, NULL, NULL), 0);
    CHECK_EQ(write_u32(&c, SPICE_COMMON_CAP_AUTH_SASL), 0);
    CHECK_EQ(write_u32(&c, 10), 0);
    CHECK_EQ(fake_client_write(&c, "DIGEST-MD5", 10), 0);
    CHECK_EQ(write_u32(&c, SASL_DATA_MAX_LEN + 1), 0);
    CHECK(fake_client_wait_eof(&c, 3000));
    fake_client_close(&c);
    /* A name with an embedded NUL that would match after truncation. */
    CHECK_EQ(send_sasl_link(h, &c, true, &error, NULL, NULL), 0);
    CHECK_EQ(write_u32(&c, SPICE_COMMON_CAP_AUTH_SASL), 0);
    CHECK_EQ(write_u32(&c, 12), 0);
    CHECK_EQ(fake_client_write(&c, "DIGEST-MD5\0x", 12), 0);
    CHECK(fake_client_wait_eof(&c, 3000));
    fake_client_close(&c);
    CHECK_EQ(h->server->num_clients, 0);
    fake_host_destroy(h);
}

int main(void)
{
    /* saslpasswd2 lives in /usr/sbin, which a user's PATH may lack. */
    setenv("CLOVE_DEBUG", "1", 1); /* the success line is at info level */
    const char *path = getenv("PATH");
    char new_path[4096];
    snprintf(new_path, sizeof(new_path), "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
    setenv("PATH", new_path, 1);
    if (system("command -v saslpasswd2 >/dev/null 2>&1") != 0) {
        printf("1..0 # SKIP saslpasswd2 not installed (sasl2-bin)\n");
        return 0;
    }
    if (!make_sasldb()) {
        printf("1..0 # SKIP cannot create a sasldb with saslpasswd2\n");
        return 0;
    }
    if (sasl_client_init(NULL) != SASL_OK) {
        remove_sasldb();
        printf("1..0 # SKIP the SASL client library does not initialise\n");
        return 0;
    }
    static const struct check_case cases[] = {
            CHECK_CASE(test_right_password),
            CHECK_CASE(test_wrong_password),
            CHECK_CASE(test_ticket_refused),
            CHECK_CASE(test_bad_exchange),
            {NULL, NULL},
    };
    int rc = check_run(cases);
    remove_sasldb();
    return rc;
}
