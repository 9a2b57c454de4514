/*
 * The inputs channel of a client session: keyboard scancodes, lock-key
 * state and the mouse.
 *
 * DESIGN: the public clove_session_key_* / mouse_* calls encode one
 * message each and queue it on the channel (channel_send flushes at once
 * when the socket takes it). Keys are PC/AT set-1 scancodes; KEY_DOWN and
 * KEY_UP carry up to four bytes least significant first (spice.proto
 * SpiceMsgcKeyDown), so an 0xE0-prefixed key is 0xE0 | code << 8.
 *
 * Mouse motion is flow-controlled like spice-gtk does it: the server
 * answers every SPICE_INPUT_MOTION_ACK_BUNCH motion (or position) messages
 * with one MOUSE_MOTION_ACK. We let at most INPUTS_MAX_UNACKED go
 * unacknowledged; beyond that the newest motions are merged into one
 * pending message (deltas summed, or the last position kept) that goes out
 * when an ack makes room, or right before a button event so that a click
 * lands where the pointer was last put. The window logic is pure
 * (inputs_flow_*) so the unit tests drive it without a socket.
 *
 * Thread: the session's.
 */
#include <string.h>

#include <spice/enums.h>
#include <spice/protocol.h>

#include "client/client_priv.h"
#include "common/error.h"
#include "common/log.h"

/* ---- pure helpers ---- */

uint32_t inputs_key_code(uint32_t scancode, bool up)
{
    uint32_t byte = scancode & 0xff;
    if (byte == 0 || byte >= 0x80 || (scancode & ~0x1ffu) != 0) {
        return 0;
    }
    if (up) {
        byte |= 0x80;
    }
    return (scancode & 0x100) ? (0xe0u | (byte << 8)) : byte;
}

bool inputs_flow_motion(struct inputs_flow *f, int32_t dx, int32_t dy)
{
    if (f->unacked < INPUTS_MAX_UNACKED && !f->pending) {
        f->unacked++;
        return true;
    }
    if (f->pending && f->pending_absolute) {
        /* Mode switched while a position waited: the position is stale. */
        f->dx = 0;
        f->dy = 0;
    }
    f->pending = true;
    f->pending_absolute = false;
    /* Saturate rather than wrap on absurd sums. */
    int64_t x = (int64_t)f->dx + dx, y = (int64_t)f->dy + dy;
    f->dx = (int32_t)(x > INT32_MAX ? INT32_MAX : (x < INT32_MIN ? INT32_MIN : x));
    f->dy = (int32_t)(y > INT32_MAX ? INT32_MAX : (y < INT32_MIN ? INT32_MIN : y));
    return false;
}

bool inputs_flow_position(struct inputs_flow *f, uint32_t x, uint32_t y, uint8_t display_id)
{
    if (f->unacked < INPUTS_MAX_UNACKED && !f->pending) {
        f->unacked++;
        return true;
    }
    f->pending = true;
    f->pending_absolute = true;
    f->x = x;
    f->y = y;
    f->display_id = display_id;
    return false;
}

bool inputs_flow_ack(struct inputs_flow *f)
{
    f->unacked = f->unacked > SPICE_INPUT_MOTION_ACK_BUNCH
                         ? f->unacked - SPICE_INPUT_MOTION_ACK_BUNCH
                         : 0;
    return f->pending && f->unacked < INPUTS_MAX_UNACKED;
}

void inputs_flow_sent(struct inputs_flow *f)
{
    f->pending = false;
    f->dx = 0;
    f->dy = 0;
    f->unacked++;
}

/* ---- sending ---- */

static void send_motion(struct clove_session *s, int32_t dx, int32_t dy)
{
    /* spice.proto SpiceMsgcMouseMotion {i32 dx; i32 dy; u16 buttons_state} */
    uint8_t body[10];
    put_u32le(body, (uint32_t)dx);
    put_u32le(body + 4, (uint32_t)dy);
    put_u16le(body + 8, s->buttons);
    channel_send(s->inputs, SPICE_MSGC_INPUTS_MOUSE_MOTION, body, sizeof(body));
}

static void send_position(struct clove_session *s, uint32_t x, uint32_t y, uint8_t display_id)
{
    /* SpiceMsgcMousePosition {u32 x; u32 y; u16 buttons_state; u8 display_id} */
    uint8_t body[11];
    put_u32le(body, x);
    put_u32le(body + 4, y);
    put_u16le(body + 8, s->buttons);
    body[10] = display_id;
    channel_send(s->inputs, SPICE_MSGC_INPUTS_MOUSE_POSITION, body, sizeof(body));
}

static void send_pending(struct clove_session *s)
{
    struct inputs_flow *f = &s->flow;
    if (!f->pending) {
        return;
    }
    if (f->pending_absolute) {
        send_position(s, f->x, f->y, f->display_id);
    } else {
        send_motion(s, f->dx, f->dy);
    }
    inputs_flow_sent(f);
}

static bool inputs_usable(const struct clove_session *s)
{
    return s->inputs && s->inputs_ready && !s->error_code;
}

/* ---- channel callbacks ---- */

int inputs_ready(struct client_channel *ch)
{
    struct clove_session *s = ch->session;
    s->inputs_ready = true;
    memset(&s->flow, 0, sizeof(s->flow));
    s->buttons = 0;
    log_debug("inputs: ready");
    session_event(s, CLOVE_EVENT_INPUTS_READY);
    return 0;
}

int inputs_message(struct client_channel *ch, uint16_t type, const uint8_t *body, size_t len)
{
    struct clove_session *s = ch->session;
    switch (type) {
    case SPICE_MSG_INPUTS_INIT:
    case SPICE_MSG_INPUTS_KEY_MODIFIERS: {
        /* SpiceMsgInputsInit / SpiceMsgInputsKeyModifiers {u16 modifiers} */
        if (len < 2) {
            return session_fail(s, CLOVE_E_INVALID, "inputs channel: message %u too short", type);
        }
        uint16_t locks = get_u16le(body) & SPICE_KEYBOARD_MODIFIER_FLAGS_MASK;
        bool changed = locks != s->server_locks;
        s->server_locks = locks;
        if (changed || type == SPICE_MSG_INPUTS_INIT) {
            session_event(s, CLOVE_EVENT_LOCKS);
        }
        return 0;
    }
    case SPICE_MSG_INPUTS_MOUSE_MOTION_ACK:
        if (inputs_flow_ack(&s->flow)) {
            send_pending(s);
        }
        return 0;
    default:
        log_ratelimited(LOG_LEVEL_DEBUG, "inputs: message %u ignored", type);
        return 0;
    }
}

/* ---- public API ---- */

static int key_event(struct clove_session *s, uint32_t scancode, bool up)
{
    uint32_t code = inputs_key_code(scancode, up);
    if (code == 0) {
        return CLOVE_E_INVALID;
    }
    if (!inputs_usable(s)) {
        return CLOVE_E_STATE;
    }
    uint8_t body[4];
    put_u32le(body, code);
    channel_send(s->inputs, up ? SPICE_MSGC_INPUTS_KEY_UP : SPICE_MSGC_INPUTS_KEY_DOWN, body,
                 sizeof(body));
    return 0;
}

int clove_session_key_down(struct clove_session *session, uint32_t scancode)
{
    return key_event(session, scancode, false);
}

int clove_session_key_up(struct clove_session *session, uint32_t scancode)
{
    return key_event(session, scancode, true);
}

int clove_session_set_locks(struct clove_session *session, uint32_t locks)
{
    struct clove_session *s = session;
    if (locks & ~(uint32_t)SPICE_KEYBOARD_MODIFIER_FLAGS_MASK) {
        return CLOVE_E_INVALID;
    }
    if (!inputs_usable(s)) {
        return CLOVE_E_STATE;
    }
    if (locks == s->server_locks) {
        return 0;
    }
    uint8_t body[2];
    put_u16le(body, (uint16_t)locks);
    channel_send(s->inputs, SPICE_MSGC_INPUTS_KEY_MODIFIERS, body, sizeof(body));
    /* The guest toggles its keys now; a later KEY_MODIFIERS corrects us. */
    s->server_locks = (uint16_t)locks;
    return 0;
}

uint32_t clove_session_get_locks(const struct clove_session *session)
{
    return session->server_locks;
}

int clove_session_mouse_motion(struct clove_session *session, int32_t dx, int32_t dy)
{
    struct clove_session *s = session;
    if (!inputs_usable(s)) {
        return CLOVE_E_STATE;
    }
    if (dx == 0 && dy == 0) {
        return 0;
    }
    if (inputs_flow_motion(&s->flow, dx, dy)) {
        send_motion(s, dx, dy);
    }
    return 0;
}

int clove_session_mouse_position(struct clove_session *session, uint32_t x, uint32_t y,
                                 uint8_t display_id)
{
    struct clove_session *s = session;
    if (!inputs_usable(s)) {
        return CLOVE_E_STATE;
    }
    if (inputs_flow_position(&s->flow, x, y, display_id)) {
        send_position(s, x, y, display_id);
    }
    return 0;
}

int clove_session_mouse_button(struct clove_session *session, int button, bool pressed)
{
    struct clove_session *s = session;
    if (button < SPICE_MOUSE_BUTTON_LEFT || button > SPICE_MOUSE_BUTTON_EXTRA) {
        return CLOVE_E_INVALID;
    }
    if (!inputs_usable(s)) {
        return CLOVE_E_STATE;
    }
    /* The click must land where the pointer was last put. */
    send_pending(s);
    uint16_t mask = (uint16_t)(1u << (button - 1));
    if (pressed) {
        s->buttons |= mask;
    } else {
        s->buttons &= (uint16_t)~mask;
    }
    /* SpiceMsgcMousePress/Release {u8 button; u16 buttons_state (after the event)} */
    uint8_t body[3];
    body[0] = (uint8_t)button;
    put_u16le(body + 1, s->buttons);
    channel_send(s->inputs,
                 pressed ? SPICE_MSGC_INPUTS_MOUSE_PRESS : SPICE_MSGC_INPUTS_MOUSE_RELEASE, body,
                 sizeof(body));
    return 0;
}
