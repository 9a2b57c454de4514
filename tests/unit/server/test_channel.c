/*
 * The channel-client base (src/server/channel.c) and the main, inputs,
 * display and cursor channels, driven through the public API: a fake host
 * with a keyboard, mouse, tablet and optionally a QXL device, and fake
 * clients that link and then exchange framed messages.
 *
 * Every case builds its own server and tears it down; every wait is bounded.
 */
#include <stdlib.h>

#include <spice/protocol.h>

#include "check.h"
#include "common/bytes.h"
#include "fake_host.h"

#define WAIT_MS 3000

struct session {
    struct fake_host *h;
    struct fake_client main, inputs;
    uint32_t id;
};

/* A host with input devices (and a QXL device if qxl), main + inputs linked. */
static bool session_open(struct session *s, bool qxl)
{
    memset(s, 0, sizeof(*s));
    struct fake_host_options o = {.noauth = true,
                                  .keyboard = true,
                                  .mouse = true,
                                  .tablet = true,
                                  .qxl = qxl,
                                  .quiet = true};
    s->h = fake_host_create(&o);
    if (!s->h) {
        return false;
    }
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    if (fake_client_link(s->h, &s->main, &l, NULL) != SPICE_LINK_ERR_OK) {
        return false;
    }
    struct fake_msg m;
    if (fake_client_wait_msg(&s->main, SPICE_MSG_MAIN_INIT, &m, WAIT_MS) < 0) {
        return false;
    }
    s->id = m.size >= 4 ? get_u32le(m.data) : 0;
    free(m.data);
    l = fake_link_default(s->id, SPICE_CHANNEL_INPUTS, 0);
    l.channel_caps[0] = 1u << SPICE_INPUTS_CAP_KEY_SCANCODE;
    l.num_channel_caps = 1;
    if (fake_client_link(s->h, &s->inputs, &l, NULL) != SPICE_LINK_ERR_OK) {
        return false;
    }
    if (fake_client_wait_msg(&s->inputs, SPICE_MSG_INPUTS_INIT, &m, WAIT_MS) < 0) {
        return false;
    }
    free(m.data);
    return true;
}

static void session_close(struct session *s)
{
    fake_client_close(&s->inputs);
    fake_client_close(&s->main);
    fake_host_destroy(s->h);
    s->h = NULL;
}

/* Asks for the channel list and returns it as "type:id " pairs in buf. */
static int channels_list(struct fake_client *c, char *buf, size_t cap)
{
    if (fake_client_send_msg(c, SPICE_MSGC_MAIN_ATTACH_CHANNELS, NULL, 0) < 0) {
        return -1;
    }
    struct fake_msg m;
    if (fake_client_wait_msg(c, SPICE_MSG_MAIN_CHANNELS_LIST, &m, WAIT_MS) < 0) {
        return -1;
    }
    buf[0] = '\0';
    uint32_t n = m.size >= 4 ? get_u32le(m.data) : 0;
    if (m.size != 4 + 2 * n) {
        free(m.data);
        return -1;
    }
    size_t len = 0;
    for (uint32_t i = 0; i < n && len + 16 < cap; i++) {
        len += (size_t)snprintf(buf + len, cap - len, "%u:%u ", m.data[4 + 2 * i],
                                m.data[5 + 2 * i]);
    }
    free(m.data);
    return (int)n;
}

static void test_channels_list(void)
{
    struct session s;
    CHECK(session_open(&s, false));
    char list[128];
    CHECK_EQ(channels_list(&s.main, list, sizeof(list)), 1);
    CHECK_STR_EQ(list, "3:0 ");
    session_close(&s);

    CHECK(session_open(&s, true));
    CHECK_EQ(channels_list(&s.main, list, sizeof(list)), 3);
    CHECK_STR_EQ(list, "2:0 3:0 4:0 ");
    session_close(&s);
}

static void test_ping_pong(void)
{
    struct session s;
    CHECK(session_open(&s, false));
    struct fake_msg m;
    CHECK_EQ(fake_client_wait_msg(&s.main, SPICE_MSG_PING, &m, WAIT_MS), 0);
    CHECK(m.size >= 12);
    uint8_t pong[12];
    memcpy(pong, m.data, 12);
    free(m.data);
    CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_PONG, pong, sizeof(pong)), 0);
    /* A pong from the future and a short pong: the first is ignored, the
     * second is a malformed message and closes main. */
    put_u32le(pong + 4, 0xffffffffu);
    put_u32le(pong + 8, 0xffffffffu);
    CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_PONG, pong, sizeof(pong)), 0);
    char list[64];
    CHECK_EQ(channels_list(&s.main, list, sizeof(list)), 1);
    CHECK_EQ(spice_server_get_num_clients(s.h->server), 1);
    session_close(&s);
}

static void test_unknown_message_ignored(void)
{
    struct session s;
    CHECK(session_open(&s, false));
    uint8_t junk[7] = {1, 2, 3, 4, 5, 6, 7};
    CHECK_EQ(fake_client_send_msg(&s.main, 999, junk, sizeof(junk)), 0);
    CHECK_EQ(fake_client_send_msg(&s.main, 60, junk, sizeof(junk)), 0);
    CHECK_EQ(fake_client_send_msg(&s.inputs, 250, NULL, 0), 0);
    char list[64];
    CHECK_EQ(channels_list(&s.main, list, sizeof(list)), 1);
    /* Inputs still works too. */
    uint8_t key[4];
    put_u32le(key, 0x1e);
    CHECK_EQ(fake_client_send_msg(&s.inputs, SPICE_MSGC_INPUTS_KEY_DOWN, key, 4), 0);
    fake_host_run_for(s.h, 20);
    CHECK_EQ(s.h->num_scans, 1);
    CHECK(!s.inputs.eof && !s.main.eof);
    session_close(&s);
}

static void test_oversized_message_closes_channel(void)
{
    struct session s;
    CHECK(session_open(&s, false));
    uint8_t hdr[6];
    put_u16le(hdr, SPICE_MSGC_INPUTS_KEY_DOWN);
    put_u32le(hdr + 2, 0xffffffffu);
    CHECK_EQ(fake_client_write(&s.inputs, hdr, sizeof(hdr)), 0);
    CHECK(fake_client_wait_eof(&s.inputs, WAIT_MS));
    /* Main and the session survive. */
    char list[64];
    CHECK_EQ(channels_list(&s.main, list, sizeof(list)), 1);
    CHECK_EQ(spice_server_get_num_clients(s.h->server), 1);
    CHECK(!s.main.eof);
    /* A truncated known message (KEY_DOWN with 2 bytes) closes too. */
    fake_client_close(&s.inputs);
    struct fake_link l = fake_link_default(s.id, SPICE_CHANNEL_INPUTS, 0);
    CHECK_EQ(fake_client_link(s.h, &s.inputs, &l, NULL), SPICE_LINK_ERR_OK);
    CHECK_EQ(fake_client_send_msg(&s.inputs, SPICE_MSGC_INPUTS_KEY_DOWN, "ab", 2), 0);
    CHECK(fake_client_wait_eof(&s.inputs, WAIT_MS));
    CHECK(!s.main.eof);
    /* The same on main closes the session. */
    CHECK_EQ(fake_client_write(&s.main, hdr, sizeof(hdr)), 0);
    CHECK(fake_client_wait_eof(&s.main, WAIT_MS));
    CHECK_EQ(spice_server_get_num_clients(s.h->server), 0);
    session_close(&s);
}

static void test_keys(void)
{
    struct session s;
    CHECK(session_open(&s, false));
    uint8_t body[4];
    put_u32le(body, 0x1de0); /* right control: E0 1D, low byte first */
    CHECK_EQ(fake_client_send_msg(&s.inputs, SPICE_MSGC_INPUTS_KEY_DOWN, body, 4), 0);
    put_u32le(body, 0x9de0);
    CHECK_EQ(fake_client_send_msg(&s.inputs, SPICE_MSGC_INPUTS_KEY_UP, body, 4), 0);
    uint8_t scans[3] = {0x2a, 0xaa, 0x1c};
    CHECK_EQ(fake_client_send_msg(&s.inputs, SPICE_MSGC_INPUTS_KEY_SCANCODE, scans, 3), 0);
    fake_host_run_for(s.h, 30);
    static const uint8_t want[] = {0xe0, 0x1d, 0xe0, 0x9d, 0x2a, 0xaa, 0x1c};
    CHECK_EQ(s.h->num_scans, (int)sizeof(want));
    CHECK_MEM_EQ(s.h->scans, want, sizeof(want));

    /* KEY_MODIFIERS: caps lock differs from the keyboard's LEDs -> toggle. */
    s.h->num_scans = 0;
    s.h->kbd_leds = 0;
    uint8_t mods[2];
    put_u16le(mods, SPICE_KEYBOARD_MODIFIER_FLAGS_CAPS_LOCK);
    CHECK_EQ(fake_client_send_msg(&s.inputs, SPICE_MSGC_INPUTS_KEY_MODIFIERS, mods, 2), 0);
    fake_host_run_for(s.h, 30);
    CHECK_EQ(s.h->num_scans, 2);
    CHECK_EQ(s.h->scans[0], 0x3a);
    CHECK_EQ(s.h->scans[1], 0xba);
    /* Same state: nothing pushed. */
    s.h->num_scans = 0;
    s.h->kbd_leds = SPICE_KEYBOARD_MODIFIER_FLAGS_CAPS_LOCK;
    CHECK_EQ(fake_client_send_msg(&s.inputs, SPICE_MSGC_INPUTS_KEY_MODIFIERS, mods, 2), 0);
    fake_host_run_for(s.h, 30);
    CHECK_EQ(s.h->num_scans, 0);
    /* Num lock on in the guest, off at the client: 0x45 0xc5. */
    s.h->kbd_leds =
            SPICE_KEYBOARD_MODIFIER_FLAGS_NUM_LOCK | SPICE_KEYBOARD_MODIFIER_FLAGS_CAPS_LOCK;
    CHECK_EQ(fake_client_send_msg(&s.inputs, SPICE_MSGC_INPUTS_KEY_MODIFIERS, mods, 2), 0);
    fake_host_run_for(s.h, 30);
    CHECK_EQ(s.h->num_scans, 2);
    CHECK_EQ(s.h->scans[0], 0x45);
    CHECK_EQ(s.h->scans[1], 0xc5);
    session_close(&s);
}

static void test_kbd_leds_to_client(void)
{
    struct session s;
    CHECK(session_open(&s, false));
    CHECK_EQ(spice_server_kbd_leds(&s.h->kbd, SPICE_KEYBOARD_MODIFIER_FLAGS_CAPS_LOCK), 0);
    struct fake_msg m;
    CHECK_EQ(fake_client_wait_msg(&s.inputs, SPICE_MSG_INPUTS_KEY_MODIFIERS, &m, WAIT_MS), 0);
    CHECK_EQ(m.size, 2);
    CHECK_EQ(get_u16le(m.data), SPICE_KEYBOARD_MODIFIER_FLAGS_CAPS_LOCK);
    free(m.data);
    session_close(&s);
}

static void send_motion(struct fake_client *c, int dx, int dy, uint16_t buttons)
{
    uint8_t b[10];
    put_u32le(b, (uint32_t)dx);
    put_u32le(b + 4, (uint32_t)dy);
    put_u16le(b + 8, buttons);
    fake_client_send_msg(c, SPICE_MSGC_INPUTS_MOUSE_MOTION, b, sizeof(b));
}

static void send_position(struct fake_client *c, uint32_t x, uint32_t y, uint16_t buttons)
{
    uint8_t b[11];
    put_u32le(b, x);
    put_u32le(b + 4, y);
    put_u16le(b + 8, buttons);
    b[10] = 0;
    fake_client_send_msg(c, SPICE_MSGC_INPUTS_MOUSE_POSITION, b, sizeof(b));
}

/* Counts MOUSE_MOTION_ACKs that arrive within ms. */
static int count_motion_acks(struct session *s, int ms)
{
    fake_host_run_for(s->h, ms);
    int acks = 0;
    struct fake_msg m;
    while (fake_client_read_msg(&s->inputs, &m, 0) == 0) {
        acks += m.type == SPICE_MSG_INPUTS_MOUSE_MOTION_ACK;
        free(m.data);
    }
    return acks;
}

static void test_mouse(void)
{
    struct session s;
    CHECK(session_open(&s, true));
    CHECK(spice_server_is_server_mouse(s.h->server));
    send_motion(&s.inputs, 5, -3, SPICE_MOUSE_BUTTON_MASK_RIGHT);
    fake_host_run_for(s.h, 20);
    CHECK_EQ(s.h->num_motions, 1);
    CHECK_EQ(s.h->motions[0].dx, 5);
    CHECK_EQ(s.h->motions[0].dy, -3);
    CHECK_EQ(s.h->motions[0].dz, 0);
    CHECK_EQ(s.h->motions[0].buttons, 2); /* right is 2 for the mouse interface */
    CHECK_EQ(s.h->num_positions, 0);
    for (int i = 0; i < 7; i++) {
        send_motion(&s.inputs, 1, 1, 0);
    }
    CHECK_EQ(count_motion_acks(&s, 50), 2);
    CHECK_EQ(s.h->num_motions, 8);

    /* Position messages are ignored in server mode. */
    send_position(&s.inputs, 10, 20, 0);
    fake_host_run_for(s.h, 20);
    CHECK_EQ(s.h->num_positions, 0);

    /* Client mode (the tablet makes it available). */
    uint8_t mode[2];
    put_u16le(mode, SPICE_MOUSE_MODE_CLIENT);
    CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST, mode, 2), 0);
    struct fake_msg m;
    CHECK_EQ(fake_client_wait_msg(&s.main, SPICE_MSG_MAIN_MOUSE_MODE, &m, WAIT_MS), 0);
    CHECK_EQ(m.size, 4);
    CHECK_EQ(get_u16le(m.data), SPICE_MOUSE_MODE_SERVER | SPICE_MOUSE_MODE_CLIENT);
    CHECK_EQ(get_u16le(m.data + 2), SPICE_MOUSE_MODE_CLIENT);
    free(m.data);
    CHECK(!spice_server_is_server_mouse(s.h->server));
    CHECK_EQ(s.h->tablet_width, FAKE_QXL_WIDTH);
    CHECK_EQ(s.h->tablet_height, FAKE_QXL_HEIGHT);
    send_position(&s.inputs, 30, 40, SPICE_MOUSE_BUTTON_MASK_LEFT);
    send_motion(&s.inputs, 1, 1, 0);
    fake_host_run_for(s.h, 30);
    CHECK_EQ(s.h->num_positions, 1);
    CHECK_EQ(s.h->positions[0].dx, 30);
    CHECK_EQ(s.h->positions[0].dy, 40);
    CHECK_EQ(s.h->positions[0].buttons, 1);
    CHECK_EQ(s.h->num_motions, 8); /* relative motion is not used in client mode */
    /* Every motion or position counts, whatever the mode: 8 + 1 + 2 so far,
     * so the next one is the 12th and makes the third ack. */
    send_position(&s.inputs, 1, 1, 0);
    CHECK_EQ(count_motion_acks(&s, 50), 1);
    for (int i = 0; i < 3; i++) {
        send_position(&s.inputs, 1, 1, 0);
    }
    CHECK_EQ(count_motion_acks(&s, 50), 0);
    send_position(&s.inputs, 2, 2, 0);
    CHECK_EQ(count_motion_acks(&s, 50), 1);

    /* An unknown mode is ignored; server mode can be asked back. */
    put_u16le(mode, 7);
    CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST, mode, 2), 0);
    put_u16le(mode, SPICE_MOUSE_MODE_SERVER);
    CHECK_EQ(fake_client_send_msg(&s.main, SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST, mode, 2), 0);
    CHECK_EQ(fake_client_wait_msg(&s.main, SPICE_MSG_MAIN_MOUSE_MODE, &m, WAIT_MS), 0);
    CHECK_EQ(get_u16le(m.data + 2), SPICE_MOUSE_MODE_SERVER);
    free(m.data);
    CHECK(spice_server_is_server_mouse(s.h->server));

    /* Wheel: button UP is a motion with dz = -1 in server mode. */
    uint8_t press[3] = {SPICE_MOUSE_BUTTON_UP, 0, 0};
    CHECK_EQ(fake_client_send_msg(&s.inputs, SPICE_MSGC_INPUTS_MOUSE_PRESS, press, 3), 0);
    press[0] = SPICE_MOUSE_BUTTON_LEFT;
    put_u16le(press + 1, SPICE_MOUSE_BUTTON_MASK_LEFT);
    CHECK_EQ(fake_client_send_msg(&s.inputs, SPICE_MSGC_INPUTS_MOUSE_PRESS, press, 3), 0);
    CHECK_EQ(fake_client_send_msg(&s.inputs, SPICE_MSGC_INPUTS_MOUSE_RELEASE, press, 3), 0);
    fake_host_run_for(s.h, 30);
    CHECK_EQ(s.h->num_motions, 9);
    CHECK_EQ(s.h->motions[8].dz, -1);
    CHECK_EQ(s.h->num_mouse_buttons, 2);
    session_close(&s);
}

/* The display channel: SET_ACK, then the screen, then draws within the window. */
struct display_state {
    uint32_t generation, window;
    int counted; /* messages after SET_ACK */
    int fills, copies, marks, creates;
};

static void display_note(struct display_state *d, const struct fake_msg *m)
{
    switch (m->type) {
    case SPICE_MSG_SET_ACK:
        d->generation = get_u32le(m->data);
        d->window = get_u32le(m->data + 4);
        return;
    case SPICE_MSG_DISPLAY_DRAW_FILL:
        d->fills++;
        break;
    case SPICE_MSG_DISPLAY_DRAW_COPY:
        d->copies++;
        break;
    case SPICE_MSG_DISPLAY_MARK:
        d->marks++;
        break;
    case SPICE_MSG_DISPLAY_SURFACE_CREATE:
        d->creates++;
        break;
    default:
        break;
    }
    d->counted++;
}

/* Reads whatever arrives until nothing came for quiet_ms (bounded overall). */
static void display_drain(struct fake_client *c, struct display_state *d, int quiet_ms)
{
    uint64_t deadline = loop_now_ms() + WAIT_MS;
    struct fake_msg m;
    while (loop_now_ms() < deadline && fake_client_read_msg(c, &m, quiet_ms) == 0) {
        display_note(d, &m);
        free(m.data);
    }
}

static void test_display_channel(void)
{
    struct session s;
    CHECK(session_open(&s, true));
    struct fake_client dc;
    struct fake_link l = fake_link_default(s.id, SPICE_CHANNEL_DISPLAY, 0);
    CHECK_EQ(fake_client_link(s.h, &dc, &l, NULL), SPICE_LINK_ERR_OK);
    struct fake_msg m;
    CHECK_EQ(fake_client_read_msg(&dc, &m, WAIT_MS), 0);
    CHECK_EQ(m.type, SPICE_MSG_SET_ACK);
    struct display_state d = {0};
    display_note(&d, &m);
    free(m.data);
    CHECK_EQ(d.window, 20);
    CHECK_EQ(fake_client_wait_msg(&dc, SPICE_MSG_DISPLAY_SURFACE_CREATE, &m, WAIT_MS), 0);
    CHECK_EQ(m.size, 20);
    CHECK_EQ(get_u32le(m.data), 0);
    CHECK_EQ(get_u32le(m.data + 4), FAKE_QXL_WIDTH);
    CHECK_EQ(get_u32le(m.data + 8), FAKE_QXL_HEIGHT);
    free(m.data);
    CHECK_EQ(fake_client_wait_msg(&dc, SPICE_MSG_DISPLAY_DRAW_COPY, &m, WAIT_MS), 0);
    /* DisplayBase (surface, box, clip NONE) is 21 bytes, then Image *src. */
    CHECK(m.size > 25);
    uint32_t image_at = get_u32le(m.data + 21);
    CHECK(image_at + 18 <= m.size);
    uint8_t image_type = m.data[image_at + 8];
    /* The whole surface, encoded by the default (auto) compression. */
    CHECK(image_type == SPICE_IMAGE_TYPE_BITMAP || image_type == SPICE_IMAGE_TYPE_LZ_RGB ||
          image_type == SPICE_IMAGE_TYPE_QUIC);
    CHECK_EQ(get_u32le(m.data + image_at + 10), FAKE_QXL_WIDTH);
    CHECK_EQ(get_u32le(m.data + image_at + 14), FAKE_QXL_HEIGHT);
    free(m.data);
    CHECK_EQ(fake_client_wait_msg(&dc, SPICE_MSG_DISPLAY_MARK, &m, WAIT_MS), 0);
    free(m.data);
    /* Messages after SET_ACK: INVAL_ALL_PALETTES, SURFACE_CREATE, DRAW_COPY, MARK. */
    d.counted = 4;

    /* 50 draws: the window (2 x 20 unacknowledged) holds back the rest. */
    for (int i = 0; i < 50; i++) {
        CHECK_EQ(fake_qxl_push_fill(s.h, i % 60, 0, 4, 4, 0x00ff00u + (uint32_t)i), 0);
    }
    display_drain(&dc, &d, 200);
    CHECK_EQ(fake_qxl_pending(s.h), 0);
    /* SET_ACK is written while the client is still held at creation, after
     * acks are enabled, so it counts against the window as it does in the
     * reference: 39 messages follow it, not 40 (either is within protocol). */
    CHECK(d.counted == 2 * 20 - 1 || d.counted == 2 * 20);
    int fills_before = d.fills;
    CHECK_EQ(fills_before, d.counted - 4);
    /* An ACK before ACK_SYNC does not count. */
    CHECK_EQ(fake_client_send_msg(&dc, SPICE_MSGC_ACK, NULL, 0), 0);
    display_drain(&dc, &d, 100);
    CHECK_EQ(d.fills, fills_before);
    uint8_t gen[4];
    put_u32le(gen, d.generation);
    CHECK_EQ(fake_client_send_msg(&dc, SPICE_MSGC_ACK_SYNC, gen, 4), 0);
    CHECK_EQ(fake_client_send_msg(&dc, SPICE_MSGC_ACK, NULL, 0), 0);
    display_drain(&dc, &d, 100);
    CHECK_EQ(d.fills, 50);
    CHECK_EQ(d.counted, 54);

    /* A copy with a bitmap goes out as DRAW_COPY. */
    CHECK_EQ(fake_qxl_push_copy(s.h, 2, 2, 3, 3, 0x123456u), 0);
    CHECK_EQ(fake_client_wait_msg(&dc, SPICE_MSG_DISPLAY_DRAW_COPY, &m, WAIT_MS), 0);
    free(m.data);

    /* Client messages on display: INIT, unknown types; the channel stays. */
    uint8_t init[14] = {1};
    CHECK_EQ(fake_client_send_msg(&dc, SPICE_MSGC_DISPLAY_INIT, init, sizeof(init)), 0);
    CHECK_EQ(fake_client_send_msg(&dc, 180, init, 3), 0);
    CHECK_EQ(fake_qxl_push_fill(s.h, 0, 0, 1, 1, 0), 0);
    CHECK_EQ(fake_client_wait_msg(&dc, SPICE_MSG_DISPLAY_DRAW_FILL, &m, WAIT_MS), 0);
    free(m.data);

    /* The display channel's events arrive on the host's thread. */
    CHECK(fake_host_find_event(s.h, SPICE_CHANNEL_EVENT_INITIALIZED, SPICE_CHANNEL_DISPLAY, 0) >=
          0);
    fake_client_close(&dc);
    fake_host_run_for(s.h, 50);
    CHECK(fake_host_find_event(s.h, SPICE_CHANNEL_EVENT_DISCONNECTED, SPICE_CHANNEL_DISPLAY, 0) >=
          0);
    CHECK_EQ(spice_server_get_num_clients(s.h->server), 1);
    session_close(&s);
}

static void test_cursor_channel(void)
{
    struct session s;
    CHECK(session_open(&s, true));
    struct fake_client cc;
    struct fake_link l = fake_link_default(s.id, SPICE_CHANNEL_CURSOR, 0);
    CHECK_EQ(fake_client_link(s.h, &cc, &l, NULL), SPICE_LINK_ERR_OK);
    struct fake_msg m;
    CHECK_EQ(fake_client_read_msg(&cc, &m, WAIT_MS), 0);
    CHECK_EQ(m.type, SPICE_MSG_SET_ACK);
    free(m.data);
    CHECK_EQ(fake_client_wait_msg(&cc, SPICE_MSG_CURSOR_INIT, &m, WAIT_MS), 0);
    free(m.data);
    CHECK_EQ(fake_qxl_push_cursor_move(s.h, 7, 9), 0);
    CHECK_EQ(fake_client_wait_msg(&cc, SPICE_MSG_CURSOR_MOVE, &m, WAIT_MS), 0);
    CHECK_EQ(m.size, 4);
    CHECK_EQ(get_u16le(m.data), 7);
    CHECK_EQ(get_u16le(m.data + 2), 9);
    free(m.data);
    /* Closing main closes the session's cursor channel on the worker. */
    fake_client_close(&s.main);
    CHECK(fake_client_wait_eof(&cc, WAIT_MS));
    CHECK(fake_client_wait_eof(&s.inputs, WAIT_MS));
    fake_client_close(&cc);
    session_close(&s);
}

static bool qxl_drained(void *arg)
{
    return fake_qxl_pending(arg) == 0;
}

/* A display client that stops reading gets refreshed areas, not a backlog. */
static void test_display_slow_client(void)
{
    struct session s;
    CHECK(session_open(&s, true));
    struct fake_client dc;
    struct fake_link l = fake_link_default(s.id, SPICE_CHANNEL_DISPLAY, 0);
    CHECK_EQ(fake_client_link(s.h, &dc, &l, NULL), SPICE_LINK_ERR_OK);
    struct display_state d = {0};
    struct fake_msg m;
    CHECK_EQ(fake_client_wait_msg(&dc, SPICE_MSG_DISPLAY_MARK, &m, WAIT_MS), 0);
    free(m.data);
    /* The window is not acknowledged: 300 copies pile up on the server. */
    for (int i = 0; i < 300; i++) {
        /* Distinct boxes, so that none hides another. */
        CHECK_EQ(fake_qxl_push_copy(s.h, 8 + i % 16, 8 + (i / 16) % 16, 16, 16,
                                    0x010101u * (uint32_t)i),
                 0);
        if (i % 50 == 0) {
            fake_host_run_for(s.h, 5);
        }
    }
    CHECK(fake_host_run_until(s.h, qxl_drained, s.h, WAIT_MS));
    /* Now the client catches up: sync and acknowledge everything. (When
     * the worker took the copies in few batches, the window may not even
     * have closed: the refresh then came already.) */
    int last_copy_left = -1, last_copy_right = -1;
    /* At least 41 rounds, and on a slow (sanitizer, loaded) machine more,
     * until the refresh of the whole area has come (at most ~20 s). */
    for (int round = 0; round < 400; round++) {
        if (round > 40 && last_copy_left == 8 && last_copy_right == 39) {
            break;
        }
        if (round == 1) {
            uint8_t gen[4];
            put_u32le(gen, 1);
            CHECK_EQ(fake_client_send_msg(&dc, SPICE_MSGC_ACK_SYNC, gen, 4), 0);
        }
        if (round >= 1) {
            CHECK_EQ(fake_client_send_msg(&dc, SPICE_MSGC_ACK, NULL, 0), 0);
        }
        while (fake_client_read_msg(&dc, &m, round == 0 ? 100 : 50) == 0) {
            display_note(&d, &m);
            if (m.type == SPICE_MSG_DISPLAY_DRAW_COPY && m.size >= 21) {
                /* DisplayBase: surface id, then the box as top, left, bottom, right. */
                last_copy_left = (int)get_u32le(m.data + 8);
                last_copy_right = (int)get_u32le(m.data + 16);
            }
            free(m.data);
        }
    }
    /* Far fewer than 300 draws reached it, and the last one refreshed the
     * whole area the copies touched (x 8..38). */
    CHECK(d.copies > 0);
    CHECK(d.copies < 200);
    CHECK_EQ(last_copy_left, 8);
    CHECK_EQ(last_copy_right, 39);
    fake_client_close(&dc);
    session_close(&s);
}

/* Queued draws that a later opaque draw covers never reach the wire. */
static void test_display_hidden_draws(void)
{
    struct session s;
    CHECK(session_open(&s, true));
    struct fake_client dc;
    struct fake_link l = fake_link_default(s.id, SPICE_CHANNEL_DISPLAY, 0);
    CHECK_EQ(fake_client_link(s.h, &dc, &l, NULL), SPICE_LINK_ERR_OK);
    struct display_state d = {0};
    struct fake_msg m;
    CHECK_EQ(fake_client_wait_msg(&dc, SPICE_MSG_DISPLAY_MARK, &m, WAIT_MS), 0);
    free(m.data);
    /* 60 fills of the same area: at most the window's worth (what the
     * worker wrote before the next one came) and the last one may be sent. */
    for (int i = 0; i < 60; i++) {
        CHECK_EQ(fake_qxl_push_fill(s.h, 4, 4, 16, 16, 0x000100u * (uint32_t)i), 0);
    }
    CHECK(fake_host_run_until(s.h, qxl_drained, s.h, WAIT_MS));
    uint8_t gen[4];
    put_u32le(gen, 1);
    CHECK_EQ(fake_client_send_msg(&dc, SPICE_MSGC_ACK_SYNC, gen, 4), 0);
    uint32_t last_color = 0;
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            CHECK_EQ(fake_client_send_msg(&dc, SPICE_MSGC_ACK, NULL, 0), 0);
        }
        while (fake_client_read_msg(&dc, &m, 50) == 0) {
            display_note(&d, &m);
            if (m.type == SPICE_MSG_DISPLAY_DRAW_FILL && m.size >= 27) {
                /* DisplayBase (21 bytes), brush type, then the colour. */
                last_color = get_u32le(m.data + 22);
            }
            free(m.data);
        }
    }
    CHECK(d.fills >= 1);
    CHECK(d.fills <= 40);
    CHECK_EQ(last_color, 0x000100u * 59);
    fake_client_close(&dc);
    session_close(&s);
}

/* Malformed guest commands are dropped; the device, the server and the
 * client carry on (the reference aborts the whole host here). */
static void test_display_bad_guest_commands(void)
{
    struct session s;
    CHECK(session_open(&s, true));
    struct fake_client dc;
    struct fake_link l = fake_link_default(s.id, SPICE_CHANNEL_DISPLAY, 0);
    CHECK_EQ(fake_client_link(s.h, &dc, &l, NULL), SPICE_LINK_ERR_OK);
    struct fake_msg m;
    CHECK_EQ(fake_client_wait_msg(&dc, SPICE_MSG_DISPLAY_MARK, &m, WAIT_MS), 0);
    free(m.data);
    for (int kind = 0; kind <= 4; kind++) {
        CHECK_EQ(fake_qxl_push_bad_draw(s.h, kind), 0);
    }
    CHECK_EQ(fake_qxl_push_fill(s.h, 1, 1, 2, 2, 0xabcdefu), 0);
    CHECK(fake_host_run_until(s.h, qxl_drained, s.h, WAIT_MS));
    /* The valid fill reaches the client (the huge fill of kind 4 is legal:
     * it is clipped to the surface, so it may come first). */
    bool seen = false;
    for (int i = 0; i < 4 && !seen; i++) {
        CHECK_EQ(fake_client_wait_msg(&dc, SPICE_MSG_DISPLAY_DRAW_FILL, &m, WAIT_MS), 0);
        seen = get_u32le(m.data + 22) == 0xabcdef;
        free(m.data);
    }
    CHECK(seen);
    fake_client_close(&dc);
    session_close(&s);
}

int main(void)
{
    /* A small soft limit, so that a few hundred small draws put a client behind. */
    setenv("CLOVE_DISPLAY_SOFT_QUEUE_BYTES", "4096", 1);
    /* Draws go one message each (merging is tested in test_draw_tree). */
    setenv("CLOVE_DISPLAY_COMPOSE", "0", 1);
    return check_run((struct check_case[]){CHECK_CASE(test_channels_list),
                                           CHECK_CASE(test_ping_pong),
                                           CHECK_CASE(test_unknown_message_ignored),
                                           CHECK_CASE(test_oversized_message_closes_channel),
                                           CHECK_CASE(test_keys),
                                           CHECK_CASE(test_kbd_leds_to_client),
                                           CHECK_CASE(test_mouse),
                                           CHECK_CASE(test_display_channel),
            CHECK_CASE(test_display_slow_client),
            CHECK_CASE(test_display_hidden_draws),
            CHECK_CASE(test_display_bad_guest_commands),
                                           CHECK_CASE(test_cursor_channel),
                                           {0}});
}
