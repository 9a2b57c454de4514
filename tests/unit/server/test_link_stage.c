/*
 * The server's link stage (src/server/link_stage.c) driven through the
 * public API: a fake host (fake_host.h) runs the server on our poll loop and
 * a fake client speaks the link protocol over a socketpair.
 *
 * Every case builds its own server and destroys it, so a case that leaves
 * something behind shows up under LeakSanitizer; every wait is bounded.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <spice/protocol.h>

#include "check.h"
#include "common/bytes.h"
#include "fake_host.h"
#include "server/server.h"

#define WAIT_MS 3000

static struct fake_host *host_noauth(void)
{
    struct fake_host_options o = {.noauth = true, .quiet = true};
    return fake_host_create(&o);
}

/* Reads MAIN_INIT and returns its session id (0 on failure). */
static uint32_t read_main_init(struct fake_client *c)
{
    struct fake_msg m;
    if (fake_client_wait_msg(c, SPICE_MSG_MAIN_INIT, &m, WAIT_MS) < 0) {
        return 0;
    }
    uint32_t id = m.size >= 32 ? get_u32le(m.data) : 0;
    free(m.data);
    return id;
}

struct count_arg {
    struct fake_host *h;
    int event;
    int want;
};

static bool have_events(void *arg)
{
    struct count_arg *a = arg;
    int n = 0;
    for (int i = 0; i < a->h->num_events; i++) {
        n += a->h->events[i].event == a->event;
    }
    return n >= a->want;
}

static bool wait_events(struct fake_host *h, int event, int want)
{
    struct count_arg a = {h, event, want};
    return fake_host_run_until(h, have_events, &a, WAIT_MS);
}

static bool no_links(void *arg)
{
    return ((struct fake_host *)arg)->server->links == NULL;
}

static bool no_clients(void *arg)
{
    return spice_server_get_num_clients(((struct fake_host *)arg)->server) == 0;
}

/* Sends raw link bytes and returns the error of the reply (or < 0). */
static int raw_link_error(struct fake_host *h, const uint8_t *bytes, size_t len)
{
    struct fake_client c;
    if (fake_client_connect(h, &c, 0) < 0) {
        return -1;
    }
    uint32_t error = 0;
    int rc = fake_client_write(&c, bytes, len);
    if (rc == 0) {
        rc = fake_client_read_reply(&c, &error, NULL, NULL, WAIT_MS);
    }
    /* The server closes the connection after an error reply. */
    if (rc == 0 && !fake_client_wait_eof(&c, WAIT_MS)) {
        rc = -2;
    }
    fake_client_close(&c);
    return rc < 0 ? rc : (int)error;
}

static void put_header(uint8_t *p, uint32_t magic, uint32_t major, uint32_t minor, uint32_t size)
{
    put_u32le(p, magic);
    put_u32le(p + 4, major);
    put_u32le(p + 8, minor);
    put_u32le(p + 12, size);
}

static void test_link_ok_main_noauth(void)
{
    struct fake_host *h = host_noauth();
    CHECK(h);
    struct fake_client c;
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    int rc = fake_client_link(h, &c, &l, NULL);
    CHECK_EQ(rc, SPICE_LINK_ERR_OK);
    CHECK(c.mini);
    uint32_t id = read_main_init(&c);
    CHECK(id != 0);
    CHECK_EQ(spice_server_get_num_clients(h->server), 1);
    fake_client_close(&c);
    CHECK(fake_host_run_until(h, no_clients, h, WAIT_MS));
    fake_host_destroy(h);
}

static void test_link_full_header(void)
{
    struct fake_host *h = host_noauth();
    CHECK(h);
    struct fake_client c;
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    l.mini_header = false;
    uint32_t server_caps = 0;
    CHECK_EQ(fake_client_connect(h, &c, 0), 0);
    CHECK_EQ(fake_client_send_link(&c, &l), 0);
    uint32_t error = 99;
    uint8_t pubkey[LINK_PUBKEY_SIZE];
    CHECK_EQ(fake_client_read_reply(&c, &error, pubkey, &server_caps, WAIT_MS), 0);
    CHECK_EQ(error, SPICE_LINK_ERR_OK);
    CHECK(server_caps & (1u << SPICE_COMMON_CAP_MINI_HEADER));
    CHECK_EQ(fake_client_send_ticket(&c, pubkey, NULL, true), 0);
    uint32_t result = 99;
    CHECK_EQ(fake_client_read_u32(&c, &result, WAIT_MS), 0);
    CHECK_EQ(result, SPICE_LINK_ERR_OK);
    /* The first message has a full 18-byte header: serial 1, MAIN_INIT. */
    CHECK(fake_client_wait_bytes(&c, 18, WAIT_MS));
    CHECK_EQ(get_u32le(c.rx), 1);
    CHECK_EQ(get_u32le(c.rx + 4), 0);
    CHECK_EQ(get_u16le(c.rx + 8), SPICE_MSG_MAIN_INIT);
    CHECK_EQ(get_u32le(c.rx + 10), 32);
    CHECK_EQ(get_u32le(c.rx + 14), 0);
    c.mini = false;
    CHECK(read_main_init(&c) != 0);
    fake_client_close(&c);
    CHECK(fake_host_run_until(h, no_clients, h, WAIT_MS));
    fake_host_destroy(h);
}

/* Links main without auth selection (the old ticket-only flow). */
static void test_link_without_auth_selection(void)
{
    struct fake_host *h = host_noauth();
    CHECK(h);
    struct fake_client c;
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    l.auth_selection = false;
    CHECK_EQ(fake_client_link(h, &c, &l, NULL), SPICE_LINK_ERR_OK);
    CHECK(read_main_init(&c) != 0);
    fake_client_close(&c);
    CHECK(fake_host_run_until(h, no_clients, h, WAIT_MS));
    fake_host_destroy(h);
}

static struct fake_host *host_password(const char *password, int lifetime)
{
    struct fake_host_options o = {.password = password, .ticket_lifetime = lifetime, .quiet = true};
    return fake_host_create(&o);
}

static void test_ticket_right_and_wrong(void)
{
    struct fake_host *h = host_password("s3cret", 0);
    CHECK(h);
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    struct fake_client c;
    CHECK_EQ(fake_client_link(h, &c, &l, "s3cret"), SPICE_LINK_ERR_OK);
    CHECK(read_main_init(&c) != 0);
    fake_client_close(&c);

    CHECK_EQ(fake_client_link(h, &c, &l, "s3cre"), SPICE_LINK_ERR_PERMISSION_DENIED);
    CHECK(fake_client_wait_eof(&c, WAIT_MS));
    fake_client_close(&c);
    CHECK_EQ(fake_client_link(h, &c, &l, "s3cret!"), SPICE_LINK_ERR_PERMISSION_DENIED);
    fake_client_close(&c);
    CHECK_EQ(fake_client_link(h, &c, &l, ""), SPICE_LINK_ERR_PERMISSION_DENIED);
    fake_client_close(&c);
    /* A ticket that does not decrypt at all. */
    CHECK_EQ(fake_client_link(h, &c, &l, NULL), SPICE_LINK_ERR_PERMISSION_DENIED);
    fake_client_close(&c);
    CHECK(fake_host_run_until(h, no_clients, h, WAIT_MS));
    CHECK(fake_host_run_until(h, no_links, h, WAIT_MS));
    fake_host_destroy(h);
}

static void test_ticket_expired(void)
{
    struct fake_host *h = host_password("s3cret", 1);
    CHECK(h);
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    struct fake_client c;
    /* The expiry is in whole seconds: wait until it has surely passed. */
    time_t until = time(NULL) + 2;
    while (time(NULL) <= until) {
        fake_host_run_for(h, 50);
    }
    CHECK_EQ(fake_client_link(h, &c, &l, "s3cret"), SPICE_LINK_ERR_PERMISSION_DENIED);
    fake_client_close(&c);
    /* A new ticket without a lifetime works again. */
    CHECK_EQ(spice_server_set_ticket(h->server, "s3cret", 0, 0, 0), 0);
    CHECK_EQ(fake_client_link(h, &c, &l, "s3cret"), SPICE_LINK_ERR_OK);
    fake_client_close(&c);
    CHECK(fake_host_run_until(h, no_clients, h, WAIT_MS));
    fake_host_destroy(h);
}

static void test_ticketing_without_password(void)
{
    struct fake_host_options o = {.quiet = true};
    struct fake_host *h = fake_host_create(&o);
    CHECK(h);
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    struct fake_client c;
    CHECK_EQ(fake_client_link(h, &c, &l, ""), SPICE_LINK_ERR_PERMISSION_DENIED);
    fake_client_close(&c);
    CHECK_EQ(fake_client_link(h, &c, &l, "anything"), SPICE_LINK_ERR_PERMISSION_DENIED);
    fake_client_close(&c);
    CHECK_EQ(spice_server_get_num_clients(h->server), 0);
    /* skip_auth connections (spice_server_add_client(.., 1)) need no ticket. */
    CHECK_EQ(fake_client_connect(h, &c, 1), 0);
    CHECK_EQ(fake_client_send_link(&c, &l), 0);
    uint32_t error = 99, result = 99;
    uint8_t pubkey[LINK_PUBKEY_SIZE];
    CHECK_EQ(fake_client_read_reply(&c, &error, pubkey, NULL, WAIT_MS), 0);
    CHECK_EQ(error, SPICE_LINK_ERR_OK);
    CHECK_EQ(fake_client_send_ticket(&c, pubkey, NULL, true), 0);
    CHECK_EQ(fake_client_read_u32(&c, &result, WAIT_MS), 0);
    CHECK_EQ(result, SPICE_LINK_ERR_OK);
    fake_client_close(&c);
    CHECK(fake_host_run_until(h, no_clients, h, WAIT_MS));
    fake_host_destroy(h);
}

static void test_unsupported_auth_mechanism(void)
{
    struct fake_host *h = host_noauth();
    CHECK(h);
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    struct fake_client c;
    CHECK_EQ(fake_client_connect(h, &c, 0), 0);
    CHECK_EQ(fake_client_send_link(&c, &l), 0);
    uint32_t error = 99, result = 99;
    CHECK_EQ(fake_client_read_reply(&c, &error, NULL, NULL, WAIT_MS), 0);
    CHECK_EQ(error, SPICE_LINK_ERR_OK);
    uint8_t mech[4];
    put_u32le(mech, SPICE_COMMON_CAP_AUTH_SASL);
    CHECK_EQ(fake_client_write(&c, mech, 4), 0);
    CHECK_EQ(fake_client_read_u32(&c, &result, WAIT_MS), 0);
    CHECK_EQ(result, SPICE_LINK_ERR_PERMISSION_DENIED);
    CHECK(fake_client_wait_eof(&c, WAIT_MS));
    fake_client_close(&c);
    fake_host_destroy(h);
}

static void test_bad_headers(void)
{
    struct fake_host *h = host_noauth();
    CHECK(h);
    uint8_t hdr[16];
    put_header(hdr, 0x58585858, 2, 2, 18);
    CHECK_EQ(raw_link_error(h, hdr, 16), SPICE_LINK_ERR_INVALID_MAGIC);
    put_header(hdr, SPICE_MAGIC, 1, 3, 18);
    CHECK_EQ(raw_link_error(h, hdr, 16), SPICE_LINK_ERR_VERSION_MISMATCH);
    put_header(hdr, SPICE_MAGIC, 3, 0, 18);
    CHECK_EQ(raw_link_error(h, hdr, 16), SPICE_LINK_ERR_VERSION_MISMATCH);
    put_header(hdr, SPICE_MAGIC, 2, 2, 17);
    CHECK_EQ(raw_link_error(h, hdr, 16), SPICE_LINK_ERR_INVALID_DATA);
    put_header(hdr, SPICE_MAGIC, 2, 2, 4097);
    CHECK_EQ(raw_link_error(h, hdr, 16), SPICE_LINK_ERR_INVALID_DATA);
    put_header(hdr, SPICE_MAGIC, 2, 2, 0xffffffffu);
    CHECK_EQ(raw_link_error(h, hdr, 16), SPICE_LINK_ERR_INVALID_DATA);
    /* An HTTP request that is not a websocket upgrade gets an HTTP error
     * and is closed, without a SPICE reply. */
    struct fake_client c;
    CHECK_EQ(fake_client_connect(h, &c, 0), 0);
    static const char request[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    CHECK_EQ(fake_client_write(&c, request, sizeof(request) - 1), 0);
    CHECK(fake_client_wait_eof(&c, WAIT_MS));
    CHECK(c.rx_len >= 12);
    CHECK(memcmp(c.rx, "HTTP/1.1 4", 10) == 0);
    fake_client_close(&c);
    CHECK(fake_host_run_until(h, no_links, h, WAIT_MS));
    fake_host_destroy(h);
}

/* A link message body with one common caps word at caps_offset. */
static size_t build_body(uint8_t *out, uint32_t size, uint32_t num_common, uint32_t caps_offset)
{
    memset(out, 0, 16 + size);
    put_header(out, SPICE_MAGIC, 2, 2, size);
    uint8_t *b = out + 16;
    put_u32le(b, 0);
    b[4] = SPICE_CHANNEL_MAIN;
    b[5] = 0;
    put_u32le(b + 6, num_common);
    put_u32le(b + 10, 0);
    put_u32le(b + 14, caps_offset);
    return 16 + size;
}

static void test_bad_bodies(void)
{
    struct fake_host *h = host_noauth();
    CHECK(h);
    uint8_t msg[16 + 64];
    size_t n = build_body(msg, 22, 1, 22);
    CHECK_EQ(raw_link_error(h, msg, n), SPICE_LINK_ERR_INVALID_DATA);
    n = build_body(msg, 22, 1, 4000);
    CHECK_EQ(raw_link_error(h, msg, n), SPICE_LINK_ERR_INVALID_DATA);
    n = build_body(msg, 22, 1, 10);
    CHECK_EQ(raw_link_error(h, msg, n), SPICE_LINK_ERR_INVALID_DATA);
    n = build_body(msg, 22, 2, 18);
    CHECK_EQ(raw_link_error(h, msg, n), SPICE_LINK_ERR_INVALID_DATA);
    n = build_body(msg, 22, 0xffffffffu, 18);
    CHECK_EQ(raw_link_error(h, msg, n), SPICE_LINK_ERR_INVALID_DATA);
    /* caps_offset is ignored without caps; a valid one links. */
    n = build_body(msg, 18, 0, 0xffffffffu);
    struct fake_client c;
    CHECK_EQ(fake_client_connect(h, &c, 0), 0);
    CHECK_EQ(fake_client_write(&c, msg, n), 0);
    uint32_t error = 99;
    CHECK_EQ(fake_client_read_reply(&c, &error, NULL, NULL, WAIT_MS), 0);
    CHECK_EQ(error, SPICE_LINK_ERR_OK);
    fake_client_close(&c);
    CHECK(fake_host_run_until(h, no_links, h, WAIT_MS));
    fake_host_destroy(h);
}

static void test_channel_checks(void)
{
    struct fake_host_options o = {.noauth = true, .qxl = true, .quiet = true};
    struct fake_host *h = fake_host_create(&o);
    CHECK(h);
    struct fake_client c;
    struct fake_link l = fake_link_default(12345, SPICE_CHANNEL_DISPLAY, 0);
    CHECK_EQ(fake_client_link(h, &c, &l, NULL), SPICE_LINK_ERR_BAD_CONNECTION_ID);
    CHECK(fake_client_wait_eof(&c, WAIT_MS));
    fake_client_close(&c);
    l = fake_link_default(12345, SPICE_CHANNEL_INPUTS, 0);
    CHECK_EQ(fake_client_link(h, &c, &l, NULL), SPICE_LINK_ERR_BAD_CONNECTION_ID);
    fake_client_close(&c);
    l = fake_link_default(0, 77, 0);
    CHECK_EQ(fake_client_link(h, &c, &l, NULL), SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE);
    fake_client_close(&c);
    l = fake_link_default(0, SPICE_CHANNEL_DISPLAY, 1);
    CHECK_EQ(fake_client_link(h, &c, &l, NULL), SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE);
    fake_client_close(&c);
    l = fake_link_default(0, SPICE_CHANNEL_PLAYBACK, 0);
    CHECK_EQ(fake_client_link(h, &c, &l, NULL), SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE);
    fake_client_close(&c);

    /* Inputs restricted to TLS: refused with NEED_SECURED for a real session. */
    CHECK_EQ(spice_server_set_channel_security(h->server, "inputs", SPICE_CHANNEL_SECURITY_SSL), 0);
    struct fake_client main_c;
    l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    CHECK_EQ(fake_client_link(h, &main_c, &l, NULL), SPICE_LINK_ERR_OK);
    uint32_t id = read_main_init(&main_c);
    CHECK(id != 0);
    l = fake_link_default(id, SPICE_CHANNEL_INPUTS, 0);
    CHECK_EQ(fake_client_link(h, &c, &l, NULL), SPICE_LINK_ERR_NEED_SECURED);
    fake_client_close(&c);
    /* The display channel of that session still links. */
    l = fake_link_default(id, SPICE_CHANNEL_DISPLAY, 0);
    CHECK_EQ(fake_client_link(h, &c, &l, NULL), SPICE_LINK_ERR_OK);
    struct fake_msg m;
    CHECK_EQ(fake_client_wait_msg(&c, SPICE_MSG_SET_ACK, &m, WAIT_MS), 0);
    free(m.data);
    fake_client_close(&c);
    fake_client_close(&main_c);
    CHECK(fake_host_run_until(h, no_clients, h, WAIT_MS));
    fake_host_destroy(h);
}

static void test_link_deadline(void)
{
    setenv("CLOVE_LINK_TIMEOUT_MS", "200", 1);
    struct fake_host *h = host_noauth();
    unsetenv("CLOVE_LINK_TIMEOUT_MS");
    CHECK(h);
    struct fake_client c, partial, after_reply;
    uint64_t start = loop_now_ms();
    CHECK_EQ(fake_client_connect(h, &c, 0), 0);
    CHECK_EQ(fake_client_connect(h, &partial, 0), 0);
    CHECK_EQ(fake_client_write(&partial, "REDQ\2\0\0\0", 8), 0);
    CHECK_EQ(fake_client_connect(h, &after_reply, 0), 0);
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    CHECK_EQ(fake_client_send_link(&after_reply, &l), 0);
    uint32_t error = 99;
    CHECK_EQ(fake_client_read_reply(&after_reply, &error, NULL, NULL, WAIT_MS), 0);
    CHECK_EQ(error, SPICE_LINK_ERR_OK);
    CHECK(fake_client_wait_eof(&c, WAIT_MS));
    CHECK(fake_client_wait_eof(&partial, WAIT_MS));
    CHECK(fake_client_wait_eof(&after_reply, WAIT_MS));
    CHECK(loop_now_ms() - start >= 150);
    CHECK_EQ(c.rx_len, 0);
    CHECK(h->server->links == NULL);
    fake_client_close(&c);
    fake_client_close(&partial);
    fake_client_close(&after_reply);
    fake_host_destroy(h);
}

static void test_channel_events_order(void)
{
    struct fake_host *h = host_noauth();
    CHECK(h);
    struct fake_client c;
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    CHECK_EQ(fake_client_link(h, &c, &l, NULL), SPICE_LINK_ERR_OK);
    uint32_t id = read_main_init(&c);
    CHECK(id != 0);
    CHECK_EQ(h->num_events, 2);
    CHECK_EQ(h->events[0].event, SPICE_CHANNEL_EVENT_CONNECTED);
    CHECK_EQ(h->events[1].event, SPICE_CHANNEL_EVENT_INITIALIZED);
    CHECK_EQ(h->events[1].type, SPICE_CHANNEL_MAIN);
    CHECK_EQ((uint32_t)h->events[1].connection_id, id);
    fake_client_close(&c);
    CHECK(wait_events(h, SPICE_CHANNEL_EVENT_DISCONNECTED, 1));
    CHECK_EQ(h->num_events, 3);
    CHECK_EQ(h->events[2].event, SPICE_CHANNEL_EVENT_DISCONNECTED);
    CHECK_EQ(h->events[2].type, SPICE_CHANNEL_MAIN);
    CHECK_EQ((uint32_t)h->events[2].connection_id, id);
    /* A refused link: CONNECTED then DISCONNECTED, never INITIALIZED. */
    l.type = 77;
    CHECK_EQ(fake_client_link(h, &c, &l, NULL), SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE);
    CHECK(wait_events(h, SPICE_CHANNEL_EVENT_DISCONNECTED, 2));
    CHECK_EQ(h->num_events, 5);
    CHECK_EQ(h->events[3].event, SPICE_CHANNEL_EVENT_CONNECTED);
    CHECK_EQ(h->events[4].event, SPICE_CHANNEL_EVENT_DISCONNECTED);
    fake_client_close(&c);
    fake_host_destroy(h);
}

static void test_num_clients(void)
{
    struct fake_host *h = host_noauth();
    CHECK(h);
    struct fake_client a, b, in;
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    CHECK_EQ(spice_server_get_num_clients(h->server), 0);
    CHECK_EQ(fake_client_link(h, &a, &l, NULL), SPICE_LINK_ERR_OK);
    CHECK_EQ(spice_server_get_num_clients(h->server), 1);
    CHECK_EQ(fake_client_link(h, &b, &l, NULL), SPICE_LINK_ERR_OK);
    CHECK_EQ(spice_server_get_num_clients(h->server), 2);
    uint32_t id_b = read_main_init(&b);
    CHECK(id_b != 0);
    struct fake_link li = fake_link_default(id_b, SPICE_CHANNEL_INPUTS, 0);
    CHECK_EQ(fake_client_link(h, &in, &li, NULL), SPICE_LINK_ERR_OK);
    CHECK_EQ(spice_server_get_num_clients(h->server), 2);
    fake_client_close(&a);
    fake_host_run_for(h, 50);
    CHECK_EQ(spice_server_get_num_clients(h->server), 1);
    /* Closing a session's main channel closes its inputs channel too. */
    fake_client_close(&b);
    CHECK(fake_client_wait_eof(&in, WAIT_MS));
    CHECK_EQ(spice_server_get_num_clients(h->server), 0);
    fake_client_close(&in);
    fake_host_destroy(h);
}

/*
 * A client that goes away at step `step` of the link:
 *  0 right after connecting, 1 after half a header, 2 after the header,
 *  3 after the body, 4 after reading the reply, 5 after the mechanism word,
 *  6 after half the ticket, 7 after the ticket (before reading the result).
 */
static int close_at_step(struct fake_host *h, int step, const char *password)
{
    struct fake_client c;
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    if (fake_client_connect(h, &c, 0) < 0) {
        return -1;
    }
    struct byte_buf b;
    buf_init(&b);
    uint32_t common = (1u << SPICE_COMMON_CAP_AUTH_SPICE) |
                      (1u << SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION) |
                      (1u << SPICE_COMMON_CAP_MINI_HEADER);
    link_mess_write(&b, 0, l.type, 0, &common, 1, NULL, 0);
    int rc = 0;
    if (step >= 1) {
        rc |= fake_client_write(&c, b.data, step == 1 ? 8 : step == 2 ? 16 : b.len);
        fake_host_run_for(h, 5);
    }
    uint8_t pubkey[LINK_PUBKEY_SIZE];
    uint32_t error = 99;
    if (step >= 4) {
        rc |= fake_client_read_reply(&c, &error, pubkey, NULL, WAIT_MS);
        rc |= error != SPICE_LINK_ERR_OK;
    }
    if (step >= 5) {
        uint8_t mech[4];
        put_u32le(mech, SPICE_COMMON_CAP_AUTH_SPICE);
        rc |= fake_client_write(&c, mech, 4);
    }
    if (step >= 6) {
        uint8_t ticket[LINK_TICKET_SIZE] = {0};
        if (password) {
            rc |= fake_encrypt_ticket(pubkey, sizeof(pubkey), password, strlen(password) + 1,
                                      ticket) != LINK_TICKET_SIZE;
        }
        rc |= fake_client_write(&c, ticket, step == 6 ? 64 : sizeof(ticket));
    }
    fake_host_run_for(h, 5);
    buf_finish(&b);
    fake_client_close(&c);
    return rc ? -1 : 0;
}

static void test_close_mid_link(void)
{
    struct fake_host *h = host_password("pw", 0);
    CHECK(h);
    for (int step = 0; step <= 7; step++) {
        for (int good = 0; good < 2; good++) {
            int before = h->num_events;
            CHECK_EQ(close_at_step(h, step, good ? "pw" : "nope"), 0);
            CHECK(fake_host_run_until(h, no_links, h, WAIT_MS));
            CHECK(fake_host_run_until(h, no_clients, h, WAIT_MS));
            /* Every connection ends with a DISCONNECTED event. */
            int connected = 0, disconnected = 0;
            for (int i = before; i < h->num_events; i++) {
                connected += h->events[i].event == SPICE_CHANNEL_EVENT_CONNECTED;
                disconnected += h->events[i].event == SPICE_CHANNEL_EVENT_DISCONNECTED;
            }
            CHECK_EQ(connected, 1);
            CHECK_EQ(disconnected, 1);
            h->num_events = 0;
        }
    }
    fake_host_destroy(h);
}

/* The server is destroyed with connections in every state: nothing leaks. */
static void test_destroy_with_open_connections(void)
{
    struct fake_host_options o = {.noauth = true, .qxl = true, .keyboard = true, .quiet = true};
    struct fake_host *h = fake_host_create(&o);
    CHECK(h);
    struct fake_client idle, half, main_c, in, disp, cur;
    CHECK_EQ(fake_client_connect(h, &idle, 0), 0);
    CHECK_EQ(fake_client_connect(h, &half, 0), 0);
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    CHECK_EQ(fake_client_send_link(&half, &l), 0);
    CHECK_EQ(fake_client_link(h, &main_c, &l, NULL), SPICE_LINK_ERR_OK);
    uint32_t id = read_main_init(&main_c);
    CHECK(id != 0);
    l = fake_link_default(id, SPICE_CHANNEL_INPUTS, 0);
    CHECK_EQ(fake_client_link(h, &in, &l, NULL), SPICE_LINK_ERR_OK);
    l = fake_link_default(id, SPICE_CHANNEL_DISPLAY, 0);
    CHECK_EQ(fake_client_link(h, &disp, &l, NULL), SPICE_LINK_ERR_OK);
    l = fake_link_default(id, SPICE_CHANNEL_CURSOR, 0);
    CHECK_EQ(fake_client_link(h, &cur, &l, NULL), SPICE_LINK_ERR_OK);
    fake_host_run_for(h, 20);
    fake_host_destroy(h);
    fake_client_close(&idle);
    fake_client_close(&half);
    fake_client_close(&main_c);
    fake_client_close(&in);
    fake_client_close(&disp);
    fake_client_close(&cur);
}

int main(void)
{
    return check_run((struct check_case[]){CHECK_CASE(test_link_ok_main_noauth),
                                           CHECK_CASE(test_link_full_header),
                                           CHECK_CASE(test_link_without_auth_selection),
                                           CHECK_CASE(test_ticket_right_and_wrong),
                                           CHECK_CASE(test_ticket_expired),
                                           CHECK_CASE(test_ticketing_without_password),
                                           CHECK_CASE(test_unsupported_auth_mechanism),
                                           CHECK_CASE(test_bad_headers),
                                           CHECK_CASE(test_bad_bodies),
                                           CHECK_CASE(test_channel_checks),
                                           CHECK_CASE(test_link_deadline),
                                           CHECK_CASE(test_channel_events_order),
                                           CHECK_CASE(test_num_clients),
                                           CHECK_CASE(test_close_mid_link),
                                           CHECK_CASE(test_destroy_with_open_connections),
                                           {0}});
}
