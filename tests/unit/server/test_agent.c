/*
 * The vdagent: the pure stream helpers of src/server/agent.c (chunk reader,
 * message filter, monitors config reassembly, capability adjustment), then
 * src/server/char_device.c through the public API, with a fake "vdagent"
 * char device and fake clients: connect/disconnect notices, AGENT_DATA in
 * both directions, partial device writes, and token flow control.
 */
#include <stdlib.h>
#include <string.h>

#include <spice/protocol.h>
#include <spice/qxl_dev.h>
#include <spice/vd_agent.h>

#include "check.h"
#include "common/bytes.h"
#include "common/error.h"
#include "fake_host.h"
#include "server/agent.h"
#include "server/char_device.h"
#include "server/server.h"

#define WAIT_MS 3000

/* A VDAgentMessage header followed by `size` bytes of `fill` (body_len of them). */
static size_t make_message(uint8_t *out, uint32_t type, uint32_t size, size_t body_len,
                           uint8_t fill)
{
    put_u32le(out, VD_AGENT_PROTOCOL);
    put_u32le(out + 4, type);
    memset(out + 8, 0, 8);
    put_u32le(out + 16, size);
    memset(out + 20, fill, body_len);
    return 20 + body_len;
}

/* ---- filter ---- */

static void test_filter_boundaries(void)
{
    struct agent_filter f;
    agent_filter_init(&f, true, true, false, false);
    uint8_t buf[AGENT_MAX_PIECE_SIZE + 1];
    /* A 3000-byte message in two pieces: 20 + 2028, then 972. */
    size_t n = make_message(buf, VD_AGENT_CLIPBOARD, 3000, 2028, 1);
    CHECK_EQ(agent_filter_process(&f, buf, n, NULL), AGENT_FILTER_OK);
    CHECK(f.piece_starts_message);
    CHECK_EQ(f.remaining, 972u);
    CHECK_EQ(agent_filter_process(&f, buf, 972, NULL), AGENT_FILTER_OK);
    CHECK(!f.piece_starts_message);
    CHECK_EQ(f.remaining, 0u);
    /* The next message must start with a header. */
    const char *err = NULL;
    CHECK_EQ(agent_filter_process(&f, buf, 10, &err), AGENT_FILTER_PROTO_ERROR);
    CHECK(err != NULL);
}

static void test_filter_errors(void)
{
    struct agent_filter f;
    uint8_t buf[AGENT_MAX_PIECE_SIZE + 1];
    agent_filter_init(&f, true, true, false, false);
    make_message(buf, VD_AGENT_CLIPBOARD, 4, 8, 0); /* body beyond its size */
    CHECK_EQ(agent_filter_process(&f, buf, 28, NULL), AGENT_FILTER_PROTO_ERROR);
    agent_filter_init(&f, true, true, false, false);
    make_message(buf, VD_AGENT_CLIPBOARD, 0, 0, 0);
    put_u32le(buf, 2); /* protocol */
    CHECK_EQ(agent_filter_process(&f, buf, 20, NULL), AGENT_FILTER_PROTO_ERROR);
    agent_filter_init(&f, true, true, false, false);
    make_message(buf, VD_AGENT_CLIPBOARD, 100000, AGENT_MAX_PIECE_SIZE + 1 - 20, 0);
    CHECK_EQ(agent_filter_process(&f, buf, AGENT_MAX_PIECE_SIZE + 1, NULL),
             AGENT_FILTER_PROTO_ERROR);
    agent_filter_init(&f, true, true, false, false);
    make_message(buf, VD_AGENT_CLIPBOARD, 10, 5, 0);
    CHECK_EQ(agent_filter_process(&f, buf, 25, NULL), AGENT_FILTER_OK);
    CHECK_EQ(agent_filter_process(&f, buf, 6, NULL), AGENT_FILTER_PROTO_ERROR); /* 5 left */
}

static void test_filter_policy(void)
{
    struct agent_filter f;
    uint8_t buf[64];
    agent_filter_init(&f, false, false, true, false);
    static const uint32_t clip[] = {VD_AGENT_CLIPBOARD,         VD_AGENT_CLIPBOARD_GRAB,
                                    VD_AGENT_CLIPBOARD_REQUEST, VD_AGENT_CLIPBOARD_RELEASE,
                                    VD_AGENT_FILE_XFER_START,   VD_AGENT_FILE_XFER_STATUS,
                                    VD_AGENT_FILE_XFER_DATA};
    for (size_t i = 0; i < sizeof(clip) / sizeof(clip[0]); i++) {
        make_message(buf, clip[i], 4, 4, 0);
        CHECK_EQ(agent_filter_process(&f, buf, 24, NULL), AGENT_FILTER_DISCARD);
    }
    make_message(buf, VD_AGENT_MONITORS_CONFIG, 10, 4, 0);
    CHECK_EQ(agent_filter_process(&f, buf, 24, NULL), AGENT_FILTER_MONITORS_CONFIG);
    /* The continuation keeps the verdict of its message. */
    CHECK_EQ(agent_filter_process(&f, buf, 6, NULL), AGENT_FILTER_MONITORS_CONFIG);
    make_message(buf, VD_AGENT_MOUSE_STATE, 0, 0, 0);
    CHECK_EQ(agent_filter_process(&f, buf, 20, NULL), AGENT_FILTER_OK);
    agent_filter_config(&f, true, true, false);
    make_message(buf, VD_AGENT_MONITORS_CONFIG, 0, 0, 0);
    CHECK_EQ(agent_filter_process(&f, buf, 20, NULL), AGENT_FILTER_OK);
    f.discard_all = true;
    CHECK_EQ(agent_filter_process(&f, buf, 20, NULL), AGENT_FILTER_DISCARD);
}

/* ---- reader ---- */

struct pieces {
    int count;
    uint32_t ports[16];
    size_t lens[16];
    uint8_t first[16];
};

/* Feeds `len` bytes in reads of at most `step` bytes. */
static void feed(struct agent_reader *r, const uint8_t *data, size_t len, size_t step,
                 struct pieces *out)
{
    size_t pos = 0;
    while (pos < len) {
        size_t want = 0;
        uint8_t *dst = agent_reader_next(r, &want);
        CHECK(want > 0);
        size_t n = want < step ? want : step;
        if (n > len - pos) {
            n = len - pos;
        }
        memcpy(dst, data + pos, n);
        pos += n;
        struct agent_piece p;
        if (agent_reader_advance(r, n, &p) == 1 && out->count < 16) {
            out->ports[out->count] = p.port;
            out->lens[out->count] = p.len;
            out->first[out->count] = p.len > 0 ? p.data[0] : 0;
            out->count++;
        }
    }
}

static void test_reader_chunks(void)
{
    static uint8_t stream[8 + 5000 + 8 + 8 + 3];
    size_t n = 0;
    agent_chunk_header_write(stream + n, VDP_CLIENT_PORT, 5000);
    n += 8;
    memset(stream + n, 0xAA, 2048);
    memset(stream + n + 2048, 0xBB, 2048);
    memset(stream + n + 4096, 0xCC, 5000 - 4096);
    n += 5000;
    agent_chunk_header_write(stream + n, VDP_SERVER_PORT, 0); /* empty: no piece */
    n += 8;
    agent_chunk_header_write(stream + n, 7, 3);
    n += 8;
    memset(stream + n, 0xDD, 3);
    n += 3;
    for (size_t step = 1; step <= 4096; step *= 8) {
        struct agent_reader r;
        agent_reader_init(&r);
        struct pieces got = {0};
        feed(&r, stream, n, step, &got);
        CHECK_EQ(got.count, 4);
        CHECK_EQ(got.lens[0], (size_t)2048);
        CHECK_EQ(got.lens[1], (size_t)2048);
        CHECK_EQ(got.lens[2], (size_t)(5000 - 4096));
        CHECK_EQ(got.first[1], 0xBB);
        CHECK_EQ(got.first[2], 0xCC);
        CHECK_EQ(got.ports[2], (uint32_t)VDP_CLIENT_PORT);
        CHECK_EQ(got.ports[3], 7u);
        CHECK_EQ(got.lens[3], (size_t)3);
        CHECK(agent_reader_at_piece_boundary(&r));
    }
}

/* ---- monitors config ---- */

/* A VD_AGENT_MONITORS_CONFIG message with `count` heads (with sizes in mm). */
static size_t make_monitors(uint8_t *out, uint32_t count)
{
    uint32_t size = 8 + count * 24;
    uint8_t *b = out + 20;
    make_message(out, VD_AGENT_MONITORS_CONFIG, size, 0, 0);
    put_u32le(b, count);
    put_u32le(b + 4, VD_AGENT_CONFIG_MONITORS_FLAG_PHYSICAL_SIZE);
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *m = b + 8 + i * 20;
        put_u32le(m, 600 + i);      /* height */
        put_u32le(m + 4, 800 + i);  /* width */
        put_u32le(m + 8, 32);       /* depth */
        put_u32le(m + 12, i * 800); /* x */
        put_u32le(m + 16, 0);       /* y */
    }
    for (uint32_t i = 0; i < count; i++) {
        put_u16le(b + 8 + count * 20 + i * 4, 300);     /* height mm */
        put_u16le(b + 8 + count * 20 + i * 4 + 2, 400); /* width mm */
    }
    return 20 + size;
}

static void test_monitors_reassembly(void)
{
    static uint8_t msg[20 + 8 + 200 * 24];
    size_t n = make_monitors(msg, 200);
    struct agent_monitors m;
    agent_monitors_init(&m);
    size_t pos = 0;
    int rc = 0;
    while (pos < n) {
        size_t piece = n - pos < 2048 ? n - pos : 2048;
        rc = agent_monitors_push(&m, msg + pos, piece, NULL);
        pos += piece;
        CHECK_EQ(rc, pos == n ? 1 : 0);
    }
    CHECK(m.config != NULL);
    CHECK_EQ(m.config->num_of_monitors, 200u);
    CHECK_EQ(m.config->monitors[1].width, 801u);
    CHECK_EQ(m.config->monitors[1].height, 601u);
    CHECK_EQ(m.config->monitors[2].x, 1600);
    VDAgentMonitorMM *mm = (VDAgentMonitorMM *)&m.config->monitors[200];
    CHECK_EQ(mm[5].width, 400);
    CHECK_EQ(mm[5].height, 300);
    /* A second config after the first. */
    n = make_monitors(msg, 2);
    CHECK_EQ(agent_monitors_push(&m, msg, n, NULL), 1);
    CHECK_EQ(m.config->num_of_monitors, 2u);
    agent_monitors_finish(&m);
}

static void test_monitors_invalid(void)
{
    static uint8_t msg[20 + 8 + 300 * 24];
    struct agent_monitors m;
    agent_monitors_init(&m);
    const char *err = NULL;
    /* Claims more heads than its size holds. */
    size_t n = make_monitors(msg, 2);
    put_u32le(msg + 20, 3);
    CHECK_EQ(agent_monitors_push(&m, msg, n, &err), CLOVE_E_INVALID);
    CHECK(err != NULL);
    /* 300 heads: beyond the reference's limit of 256. */
    n = make_monitors(msg, 300);
    CHECK_EQ(agent_monitors_push(&m, msg, 2048, NULL), CLOVE_E_RANGE);
    /* After an error the next message starts clean. */
    n = make_monitors(msg, 1);
    CHECK_EQ(agent_monitors_push(&m, msg, n, NULL), 1);
    CHECK_EQ(m.config->monitors[0].width, 800u);
    agent_monitors_finish(&m);
}

static void test_adjust_capabilities(void)
{
    uint8_t msg[20 + 8];
    make_message(msg, VD_AGENT_ANNOUNCE_CAPABILITIES, 8, 8, 0);
    uint32_t caps = (1u << VD_AGENT_CAP_CLIPBOARD) | (1u << VD_AGENT_CAP_CLIPBOARD_BY_DEMAND) |
                    (1u << VD_AGENT_CAP_CLIPBOARD_SELECTION) | (1u << VD_AGENT_CAP_MONITORS_CONFIG);
    put_u32le(msg + 24, caps);
    agent_adjust_capabilities(msg, sizeof(msg), true, true);
    CHECK_EQ(get_u32le(msg + 24), caps);
    agent_adjust_capabilities(msg, sizeof(msg), false, false);
    CHECK_EQ(get_u32le(msg + 24),
             (1u << VD_AGENT_CAP_MONITORS_CONFIG) | (1u << VD_AGENT_CAP_FILE_XFER_DISABLED));
    /* Other messages and short pieces are left alone. */
    put_u32le(msg + 4, VD_AGENT_CLIPBOARD);
    put_u32le(msg + 24, caps);
    agent_adjust_capabilities(msg, sizeof(msg), false, false);
    CHECK_EQ(get_u32le(msg + 24), caps);
    put_u32le(msg + 4, VD_AGENT_ANNOUNCE_CAPABILITIES);
    agent_adjust_capabilities(msg, 24, false, false);
    CHECK_EQ(get_u32le(msg + 24), caps);
}

/* ---- the device, through the public API ---- */

struct fake_agent {
    SpiceCharDeviceInstance sin;
    uint8_t to_server[65536]; /* what the guest wrote, not yet read */
    size_t to_server_len, to_server_pos;
    uint8_t from_server[65536];
    size_t from_server_len;
    int write_limit; /* bytes taken per write call; 0: none */
    int state;       /* last state() call: -1 never */
    int state_calls;
};

static struct fake_agent agent_dev;

static void agent_state(SpiceCharDeviceInstance *sin, int connected)
{
    agent_dev.state = connected;
    agent_dev.state_calls++;
}

static int agent_write(SpiceCharDeviceInstance *sin, const uint8_t *buf, int len)
{
    int n = len < agent_dev.write_limit ? len : agent_dev.write_limit;
    if ((size_t)n > sizeof(agent_dev.from_server) - agent_dev.from_server_len) {
        n = (int)(sizeof(agent_dev.from_server) - agent_dev.from_server_len);
    }
    memcpy(agent_dev.from_server + agent_dev.from_server_len, buf, (size_t)n);
    agent_dev.from_server_len += (size_t)n;
    return n;
}

static int agent_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
    size_t left = agent_dev.to_server_len - agent_dev.to_server_pos;
    size_t n = (size_t)len < left ? (size_t)len : left;
    memcpy(buf, agent_dev.to_server + agent_dev.to_server_pos, n);
    agent_dev.to_server_pos += n;
    return (int)n;
}

static SpiceCharDeviceInterface agent_sif = {
        .base = {.type = SPICE_INTERFACE_CHAR_DEVICE,
                 .description = "test vdagent",
                 .major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
                 .minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR},
        .state = agent_state,
        .write = agent_write,
        .read = agent_read,
};

static void fake_agent_reset(void)
{
    memset(&agent_dev, 0, sizeof(agent_dev));
    agent_dev.sin.base.sif = &agent_sif.base;
    agent_dev.sin.subtype = "vdagent";
    agent_dev.write_limit = 1 << 20;
    agent_dev.state = -1;
}

/* The guest writes one chunk holding one message of `body` bytes. */
static void guest_send(uint32_t type, size_t body, uint8_t fill)
{
    uint8_t *p = agent_dev.to_server + agent_dev.to_server_len;
    agent_chunk_header_write(p, VDP_CLIENT_PORT, (uint32_t)(20 + body));
    make_message(p + 8, type, (uint32_t)body, body, fill);
    agent_dev.to_server_len += 8 + 20 + body;
}

struct test_session {
    struct fake_host *h;
    struct fake_client main;
    uint32_t id;
    bool agent_connected;
};

static bool session_open(struct test_session *s, struct fake_host *h)
{
    memset(s, 0, sizeof(*s));
    s->h = h;
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    l.channel_caps[0] = 1u << SPICE_MAIN_CAP_AGENT_CONNECTED_TOKENS;
    l.num_channel_caps = 1;
    if (fake_client_link(h, &s->main, &l, NULL) != SPICE_LINK_ERR_OK) {
        return false;
    }
    struct fake_msg m;
    if (fake_client_wait_msg(&s->main, SPICE_MSG_MAIN_INIT, &m, WAIT_MS) < 0 || m.size < 24) {
        return false;
    }
    s->id = get_u32le(m.data);
    s->agent_connected = get_u32le(m.data + 16) != 0;
    uint32_t agent_tokens = get_u32le(m.data + 20);
    free(m.data);
    return agent_tokens == 10;
}

static struct fake_host *host_create(void)
{
    struct fake_host_options o = {.noauth = true, .quiet = true};
    struct fake_host *h = fake_host_create(&o);
    if (h != NULL) {
        spice_server_vm_start(h->server);
    }
    fake_agent_reset();
    return h;
}

static void test_device_connect_notices(void)
{
    struct fake_host *h = host_create();
    CHECK(h != NULL);
    struct test_session s;
    CHECK(session_open(&s, h));
    CHECK(!s.agent_connected);
    CHECK_EQ(spice_server_add_interface(h->server, &agent_dev.sin.base), 0);
    CHECK_EQ(agent_dev.state, 1);
    struct fake_msg m;
    CHECK_EQ(fake_client_wait_msg(&s.main, SPICE_MSG_MAIN_AGENT_CONNECTED_TOKENS, &m, WAIT_MS), 0);
    CHECK_EQ(m.size, 4u);
    CHECK_EQ(get_u32le(m.data), 10u);
    free(m.data);
    /* A second vdagent is refused; other subtypes are accepted idle. */
    SpiceCharDeviceInstance second = {.base.sif = &agent_sif.base, .subtype = "vdagent"};
    CHECK_EQ(spice_server_add_interface(h->server, &second.base), -1);
    SpiceCharDeviceInstance usb = {.base.sif = &agent_sif.base, .subtype = "usbredir"};
    CHECK_EQ(spice_server_add_interface(h->server, &usb.base), 0);
    spice_server_char_device_wakeup(&usb);
    CHECK_EQ(spice_server_remove_interface(&usb.base), 0);
    /* A client connecting now sees the agent in INIT. */
    struct test_session s2;
    CHECK(session_open(&s2, h));
    CHECK(s2.agent_connected);
    CHECK_EQ(spice_server_remove_interface(&agent_dev.sin.base), 0);
    CHECK_EQ(agent_dev.state, 0);
    CHECK(agent_dev.sin.st == NULL);
    CHECK_EQ(fake_client_wait_msg(&s.main, SPICE_MSG_MAIN_AGENT_DISCONNECTED, &m, WAIT_MS), 0);
    free(m.data);
    CHECK_EQ(fake_client_wait_msg(&s2.main, SPICE_MSG_MAIN_AGENT_DISCONNECTED, &m, WAIT_MS), 0);
    free(m.data);
    fake_client_close(&s2.main);
    fake_client_close(&s.main);
    fake_host_destroy(h);
}

static void test_device_guest_to_client(void)
{
    struct fake_host *h = host_create();
    CHECK(h != NULL);
    CHECK_EQ(spice_server_add_interface(h->server, &agent_dev.sin.base), 0);
    struct test_session s;
    CHECK(session_open(&s, h));
    CHECK(s.agent_connected);
    /* Before AGENT_START the guest's messages are dropped. */
    guest_send(VD_AGENT_REPLY, 8, 0x11);
    spice_server_char_device_wakeup(&agent_dev.sin);
    CHECK_EQ(agent_dev.to_server_pos, agent_dev.to_server_len);
    /* Two tokens: two pieces, then reading stops. */
    uint8_t tokens[4];
    put_u32le(tokens, 2);
    CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_MAIN_AGENT_START, tokens, 4), 0);
    fake_host_run_for(h, 50);
    guest_send(VD_AGENT_REPLY, 3000, 0x22); /* two pieces */
    guest_send(VD_AGENT_REPLY, 4, 0x33);
    spice_server_char_device_wakeup(&agent_dev.sin);
    struct fake_msg m;
    CHECK_EQ(fake_client_wait_msg(&s.main, SPICE_MSG_MAIN_AGENT_DATA, &m, WAIT_MS), 0);
    CHECK_EQ(m.size, 2048u);
    CHECK_EQ(get_u32le(m.data + 4), (uint32_t)VD_AGENT_REPLY);
    free(m.data);
    CHECK_EQ(fake_client_wait_msg(&s.main, SPICE_MSG_MAIN_AGENT_DATA, &m, WAIT_MS), 0);
    CHECK_EQ(m.size, 3020u - 2048u);
    CHECK_EQ(m.data[0], 0x22);
    free(m.data);
    CHECK(agent_dev.to_server_pos < agent_dev.to_server_len);
    put_u32le(tokens, 1);
    CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_MAIN_AGENT_TOKEN, tokens, 4), 0);
    CHECK_EQ(fake_client_wait_msg(&s.main, SPICE_MSG_MAIN_AGENT_DATA, &m, WAIT_MS), 0);
    CHECK_EQ(m.size, 24u);
    CHECK_EQ(m.data[20], 0x33);
    free(m.data);
    CHECK_EQ(agent_dev.to_server_pos, agent_dev.to_server_len);
    /* A chunk for an unknown port cuts the agent off. */
    agent_chunk_header_write(agent_dev.to_server + agent_dev.to_server_len, 9, 1);
    agent_dev.to_server_len += 9;
    put_u32le(tokens, 5);
    CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_MAIN_AGENT_TOKEN, tokens, 4), 0);
    CHECK_EQ(fake_client_wait_msg(&s.main, SPICE_MSG_MAIN_AGENT_DISCONNECTED, &m, WAIT_MS), 0);
    free(m.data);
    CHECK_EQ(agent_dev.state, 0);
    CHECK_EQ(spice_server_remove_interface(&agent_dev.sin.base), 0);
    fake_client_close(&s.main);
    fake_host_destroy(h);
}

static void test_device_client_to_guest(void)
{
    struct fake_host *h = host_create();
    CHECK(h != NULL);
    CHECK_EQ(spice_server_add_interface(h->server, &agent_dev.sin.base), 0);
    struct test_session s;
    CHECK(session_open(&s, h));
    uint8_t tokens[4];
    put_u32le(tokens, ~0u);
    CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_MAIN_AGENT_START, tokens, 4), 0);
    agent_dev.write_limit = 3; /* the device takes 3 bytes per call */
    uint8_t msg[20 + 16];
    for (int i = 0; i < 5; i++) {
        size_t n = make_message(msg, VD_AGENT_REPLY, 16, 16, (uint8_t)i);
        CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_MAIN_AGENT_DATA, msg, (uint32_t)n), 0);
    }
    fake_host_run_for(h, 50);
    /* Partial writes: one call per wakeup or retry, nothing lost. */
    for (int i = 0; i < 200 && agent_dev.from_server_len < 5 * 44u; i++) {
        spice_server_char_device_wakeup(&agent_dev.sin);
    }
    CHECK_EQ(agent_dev.from_server_len, (size_t)(5 * 44));
    for (int i = 0; i < 5; i++) {
        const uint8_t *c = agent_dev.from_server + i * 44;
        CHECK_EQ(get_u32le(c), (uint32_t)VDP_CLIENT_PORT);
        CHECK_EQ(get_u32le(c + 4), 36u);
        CHECK_EQ(c[28], (uint8_t)i);
    }
    /* Five messages written: five tokens come back. */
    struct fake_msg m;
    CHECK_EQ(fake_client_wait_msg(&s.main, SPICE_MSG_MAIN_AGENT_TOKEN, &m, WAIT_MS), 0);
    CHECK_EQ(get_u32le(m.data), 5u);
    free(m.data);
    /* Copy-paste off: clipboard data is dropped, still returning tokens. */
    spice_server_set_agent_copypaste(h->server, 0);
    agent_dev.write_limit = 1 << 20;
    size_t before = agent_dev.from_server_len;
    for (int i = 0; i < 5; i++) {
        size_t n = make_message(msg, VD_AGENT_CLIPBOARD, 16, 16, 0);
        CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_MAIN_AGENT_DATA, msg, (uint32_t)n), 0);
    }
    CHECK_EQ(fake_client_wait_msg(&s.main, SPICE_MSG_MAIN_AGENT_TOKEN, &m, WAIT_MS), 0);
    free(m.data);
    CHECK_EQ(agent_dev.from_server_len, before);
    /* Eleven messages without a token in between: the client is closed. */
    for (int i = 0; i < 11; i++) {
        size_t n = make_message(msg, VD_AGENT_REPLY, 16, 16, 0);
        agent_dev.write_limit = 0; /* nothing is written, no token comes back */
        fake_client_send_msg(&s.main, SPICE_MSGC_MAIN_AGENT_DATA, msg, (uint32_t)n);
    }
    CHECK(fake_client_wait_eof(&s.main, WAIT_MS));
    fake_host_run_for(h, 20);
    /* The last client left: the agent is told. */
    agent_dev.write_limit = 1 << 20;
    before = agent_dev.from_server_len;
    spice_server_char_device_wakeup(&agent_dev.sin);
    bool found = false;
    size_t pos = before;
    while (pos + 28 <= agent_dev.from_server_len) {
        const uint8_t *c = agent_dev.from_server + pos;
        if (get_u32le(c) == VDP_SERVER_PORT && get_u32le(c + 12) == VD_AGENT_CLIENT_DISCONNECTED) {
            found = true;
        }
        pos += 8 + get_u32le(c + 4);
    }
    CHECK(found);
    CHECK_EQ(spice_server_remove_interface(&agent_dev.sin.base), 0);
    fake_client_close(&s.main);
    fake_host_destroy(h);
}

/* While the VM is stopped the device is neither read nor written. */
static void test_device_vm_stopped(void)
{
    struct fake_host *h = host_create();
    CHECK(h != NULL);
    CHECK_EQ(spice_server_add_interface(h->server, &agent_dev.sin.base), 0);
    struct test_session s;
    CHECK(session_open(&s, h));
    uint8_t tokens[4];
    put_u32le(tokens, 100);
    CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_MAIN_AGENT_START, tokens, 4), 0);
    fake_host_run_for(h, 20);
    spice_server_vm_stop(h->server);
    guest_send(VD_AGENT_REPLY, 8, 0x44);
    spice_server_char_device_wakeup(&agent_dev.sin);
    uint8_t msg[20 + 8];
    size_t n = make_message(msg, VD_AGENT_REPLY, 8, 8, 0x55);
    CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_MAIN_AGENT_DATA, msg, (uint32_t)n), 0);
    fake_host_run_for(h, 150); /* longer than the write retry */
    CHECK_EQ(agent_dev.to_server_pos, (size_t)0);
    CHECK_EQ(agent_dev.from_server_len, (size_t)0);
    spice_server_vm_start(h->server);
    struct fake_msg m;
    CHECK_EQ(fake_client_wait_msg(&s.main, SPICE_MSG_MAIN_AGENT_DATA, &m, WAIT_MS), 0);
    CHECK_EQ(m.size, 28u);
    CHECK_EQ(m.data[20], 0x44);
    free(m.data);
    CHECK_EQ(agent_dev.from_server_len, 8 + n);
    CHECK_EQ(agent_dev.from_server[8 + 20], 0x55);
    CHECK_EQ(spice_server_remove_interface(&agent_dev.sin.base), 0);
    fake_client_close(&s.main);
    fake_host_destroy(h);
}

/* Client mouse mode through the agent: coalesced moves, kept clicks. */
static void test_agent_mouse(void)
{
    struct fake_host *h = host_create();
    CHECK(h != NULL);
    CHECK(!char_device_agent_mouse_enabled(h->server));
    CHECK_EQ(spice_server_add_interface(h->server, &agent_dev.sin.base), 0);
    CHECK(char_device_agent_mouse_enabled(h->server));
    /* With the agent, client mouse mode is offered even without a tablet. */
    CHECK(server_supported_mouse_modes(h->server) & SPICE_MOUSE_MODE_CLIENT);
    agent_dev.write_limit = 0; /* the guest is busy: everything queues */
    for (uint32_t i = 0; i < 50; i++) {
        char_device_agent_mouse_position(h->server, i, 2 * i, SPICE_MOUSE_BUTTON_MASK_LEFT, 1);
    }
    char_device_agent_mouse_button(h->server, SPICE_MOUSE_BUTTON_LEFT, 0, false);
    char_device_agent_mouse_button(h->server, SPICE_MOUSE_BUTTON_UP, 0, true);
    agent_dev.write_limit = 1 << 20;
    spice_server_char_device_wakeup(&agent_dev.sin);
    /* Three states: the last move with the left button, the release, the wheel. */
    size_t one = 8 + 20 + 13;
    CHECK_EQ(agent_dev.from_server_len, 3 * one);
    static const uint32_t want_buttons[3] = {VD_AGENT_LBUTTON_MASK, 0, VD_AGENT_UBUTTON_MASK};
    for (int i = 0; i < 3; i++) {
        const uint8_t *c = agent_dev.from_server + i * one;
        CHECK_EQ(get_u32le(c), (uint32_t)VDP_SERVER_PORT);
        CHECK_EQ(get_u32le(c + 8 + 4), (uint32_t)VD_AGENT_MOUSE_STATE);
        CHECK_EQ(get_u32le(c + 28), 49u); /* x */
        CHECK_EQ(get_u32le(c + 32), 98u); /* y */
        CHECK_EQ(get_u32le(c + 36), want_buttons[i]);
        CHECK_EQ(c[40], 1); /* display_id */
    }
    spice_server_set_agent_mouse(h->server, 0);
    CHECK(!char_device_agent_mouse_enabled(h->server));
    CHECK_EQ(spice_server_remove_interface(&agent_dev.sin.base), 0);
    fake_host_destroy(h);
}

/* The guest's monitors config with two heads reaches display clients. */
static void test_guest_monitors_config(void)
{
    struct fake_host_options o = {.noauth = true, .qxl = true, .quiet = true};
    struct fake_host *h = fake_host_create(&o);
    CHECK(h != NULL);
    fake_agent_reset();
    struct test_session s;
    CHECK(session_open(&s, h));
    struct fake_client dc;
    struct fake_link l = fake_link_default(s.id, SPICE_CHANNEL_DISPLAY, 0);
    l.channel_caps[0] = 1u << SPICE_DISPLAY_CAP_MONITORS_CONFIG;
    l.num_channel_caps = 1;
    CHECK_EQ(fake_client_link(h, &dc, &l, NULL), SPICE_LINK_ERR_OK);
    /* Before the guest says anything: one head, the primary surface. */
    struct fake_msg m;
    CHECK_EQ(fake_client_wait_msg(&dc, SPICE_MSG_DISPLAY_MONITORS_CONFIG, &m, WAIT_MS), 0);
    CHECK_EQ(get_u16le(m.data), 1);
    CHECK_EQ(get_u32le(m.data + 4 + 8), (uint32_t)FAKE_QXL_WIDTH);
    free(m.data);

    /* The guest splits its primary into two heads (QEMU qxl with 2 outputs). */
    static union {
        QXLMonitorsConfig config;
        uint8_t bytes[sizeof(QXLMonitorsConfig) + 2 * sizeof(QXLHead)];
    } guest;
    guest.config.count = 2;
    guest.config.max_allowed = 4;
    guest.config.heads[0] = (QXLHead){0, 0, 32, 48, 0, 0, 0};
    guest.config.heads[1] = (QXLHead){1, 0, 32, 48, 32, 0, 0};
    spice_qxl_monitors_config_async((QXLInstance *)h->qxl, (QXLPHYSICAL)(uintptr_t)&guest, 0, 1);
    CHECK_EQ(fake_client_wait_msg(&dc, SPICE_MSG_DISPLAY_MONITORS_CONFIG, &m, WAIT_MS), 0);
    /* SpiceMsgDisplayMonitorsConfig {u16 count; u16 max_allowed; heads[] of 7 u32} */
    CHECK_EQ(m.size, 4u + 2 * 28);
    CHECK_EQ(get_u16le(m.data), 2);
    CHECK_EQ(get_u16le(m.data + 2), 4);
    CHECK_EQ(get_u32le(m.data + 4 + 28), 1u);       /* id */
    CHECK_EQ(get_u32le(m.data + 4 + 28 + 8), 32u);  /* width */
    CHECK_EQ(get_u32le(m.data + 4 + 28 + 16), 32u); /* x */
    free(m.data);
    fake_client_close(&dc);
    fake_client_close(&s.main);
    fake_host_destroy(h);
}

/* A QXL device that declines clients' monitors configs: they go to the agent. */
static void test_client_monitors_config_to_agent(void)
{
    struct fake_host_options o = {.noauth = true, .qxl = true, .quiet = true};
    struct fake_host *h = fake_host_create(&o);
    CHECK(h != NULL);
    fake_agent_reset();
    spice_server_vm_start(h->server);
    CHECK_EQ(spice_server_add_interface(h->server, &agent_dev.sin.base), 0);
    struct test_session s;
    CHECK(session_open(&s, h));
    uint8_t tokens[4];
    put_u32le(tokens, 10);
    CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_MAIN_AGENT_START, tokens, 4), 0);
    static uint8_t msg[20 + 8 + 2 * 24];
    size_t n = make_monitors(msg, 2);
    CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_MAIN_AGENT_DATA, msg, (uint32_t)n), 0);
    for (int i = 0; i < 100 && agent_dev.from_server_len < 8 + n; i++) {
        fake_host_run_for(h, 10);
    }
    CHECK_EQ(agent_dev.from_server_len, 8 + n);
    CHECK_EQ(get_u32le(agent_dev.from_server), (uint32_t)VDP_CLIENT_PORT);
    CHECK_MEM_EQ(agent_dev.from_server + 8, msg, n);
    CHECK_EQ(spice_server_remove_interface(&agent_dev.sin.base), 0);
    fake_client_close(&s.main);
    fake_host_destroy(h);
}

int main(void)
{
    return check_run((struct check_case[]){
            {"filter_boundaries", test_filter_boundaries},
            {"filter_errors", test_filter_errors},
            {"filter_policy", test_filter_policy},
            {"reader_chunks", test_reader_chunks},
            {"monitors_reassembly", test_monitors_reassembly},
            {"monitors_invalid", test_monitors_invalid},
            {"adjust_capabilities", test_adjust_capabilities},
            {"device_connect_notices", test_device_connect_notices},
            {"device_guest_to_client", test_device_guest_to_client},
            {"device_client_to_guest", test_device_client_to_guest},
            {"device_vm_stopped", test_device_vm_stopped},
            {"agent_mouse", test_agent_mouse},
            {"guest_monitors_config", test_guest_monitors_config},
            {"client_monitors_config_to_agent", test_client_monitors_config_to_agent},
            {NULL, NULL},
    });
}
