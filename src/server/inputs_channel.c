/*
 * The inputs channel: keyboard scancodes and lock-key state, mouse motion
 * (server mouse mode, relative) and position (client mouse mode, absolute,
 * through the tablet), buttons and the wheel, routed to the host's keyboard,
 * mouse and tablet interfaces.
 *
 * Scancodes are PC/AT set 1 as the client sends them: KEY_DOWN/KEY_UP carry
 * up to four bytes, least significant first, ending at the first zero byte
 * (0xE0-prefixed keys are two bytes; the release has bit 7 set).
 *
 * Thread: main.
 */
#include <stdlib.h>

#include "common/log.h"
#include "proto/server_msg.h"
#include "server/channel.h"
#include "server/char_device.h"
#include "server/server.h"

struct inputs_channel_client {
    struct channel_client base; /* first */
    struct session *session;
    uint32_t motion_count;
};

/* SPICE button mask -> the interfaces' (left 1, right 2, middle 4). */
static uint32_t buttons_to_local(uint16_t spice)
{
    return (spice & SPICE_MOUSE_BUTTON_MASK_LEFT) |
           ((spice & SPICE_MOUSE_BUTTON_MASK_MIDDLE) << 1) |
           ((spice & SPICE_MOUSE_BUTTON_MASK_RIGHT) >> 1);
}

static void inputs_push_scan(struct RedsState *s, uint8_t code)
{
    if (s->keyboard) {
        const SpiceKbdInterface *kif =
                SPICE_CONTAINEROF(s->keyboard->base.sif, SpiceKbdInterface, base);
        kif->push_scan_freg(s->keyboard, code);
    }
}

static void inputs_push_code(struct RedsState *s, uint32_t code)
{
    for (int i = 0; i < 4; i++) {
        uint8_t byte = (uint8_t)(code >> (8 * i));
        if (!byte) {
            break;
        }
        inputs_push_scan(s, byte);
    }
}

static uint8_t inputs_get_leds(struct RedsState *s)
{
    if (!s->keyboard) {
        return s->kbd_leds;
    }
    const SpiceKbdInterface *kif =
            SPICE_CONTAINEROF(s->keyboard->base.sif, SpiceKbdInterface, base);
    return kif->get_leds ? kif->get_leds(s->keyboard) : s->kbd_leds;
}

/* Presses and releases the lock keys whose state differs from the client's. */
static void inputs_sync_modifiers(struct RedsState *s, uint16_t modifiers)
{
    static const struct {
        uint16_t flag;
        uint8_t scancode;
    } locks[] = {
            {SPICE_KEYBOARD_MODIFIER_FLAGS_SCROLL_LOCK, 0x46},
            {SPICE_KEYBOARD_MODIFIER_FLAGS_NUM_LOCK, 0x45},
            {SPICE_KEYBOARD_MODIFIER_FLAGS_CAPS_LOCK, 0x3a},
    };
    uint8_t leds = inputs_get_leds(s);
    for (size_t i = 0; i < sizeof(locks) / sizeof(locks[0]); i++) {
        if ((modifiers ^ leds) & locks[i].flag) {
            inputs_push_scan(s, locks[i].scancode);
            inputs_push_scan(s, locks[i].scancode | 0x80);
        }
    }
}

static void inputs_motion_ack(struct inputs_channel_client *icc)
{
    if (++icc->motion_count % SPICE_INPUT_MOTION_ACK_BUNCH == 0) {
        channel_client_send(&icc->base, SPICE_MSG_INPUTS_MOUSE_MOTION_ACK, NULL, 0);
    }
}

static const SpiceMouseInterface *mouse_if(struct RedsState *s)
{
    return s->mouse ? SPICE_CONTAINEROF(s->mouse->base.sif, SpiceMouseInterface, base) : NULL;
}

static const SpiceTabletInterface *tablet_if(struct RedsState *s)
{
    return s->tablet ? SPICE_CONTAINEROF(s->tablet->base.sif, SpiceTabletInterface, base) : NULL;
}

static void inputs_buttons(struct RedsState *s, uint8_t button, uint16_t buttons, bool press)
{
    uint32_t local = buttons_to_local(buttons);
    bool client_mode = s->mouse_mode == SPICE_MOUSE_MODE_CLIENT;
    const SpiceTabletInterface *tif = tablet_if(s);
    const SpiceMouseInterface *mif = mouse_if(s);
    if (client_mode && char_device_agent_mouse_enabled(s)) {
        /* client mode through the agent, as the reference does when one is attached */
        char_device_agent_mouse_button(s, button, buttons, press);
        return;
    }
    if (press && (button == SPICE_MOUSE_BUTTON_UP || button == SPICE_MOUSE_BUTTON_DOWN)) {
        int dz = button == SPICE_MOUSE_BUTTON_UP ? -1 : 1;
        if (client_mode && tif) {
            tif->wheel(s->tablet, dz, local);
        } else if (mif) {
            mif->motion(s->mouse, 0, 0, dz, local);
        }
        return;
    }
    if (client_mode && tif) {
        tif->buttons(s->tablet, local);
    } else if (mif) {
        mif->buttons(s->mouse, local);
    }
}

static int inputs_handle_message(struct channel_client *cc, const struct client_msg *msg)
{
    struct inputs_channel_client *icc = (struct inputs_channel_client *)cc;
    if (!icc->session) {
        return 0;
    }
    struct RedsState *s = icc->session->server;
    switch (msg->type) {
    case SPICE_MSGC_INPUTS_KEY_DOWN:
    case SPICE_MSGC_INPUTS_KEY_UP:
        inputs_push_code(s, msg->u.key.code);
        return 0;
    case SPICE_MSGC_INPUTS_KEY_SCANCODE:
        for (uint32_t i = 0; i < msg->u.key_scancode.size; i++) {
            inputs_push_scan(s, msg->u.key_scancode.codes[i]);
        }
        return 0;
    case SPICE_MSGC_INPUTS_KEY_MODIFIERS:
        inputs_sync_modifiers(s, msg->u.key_modifiers.modifiers);
        return 0;
    case SPICE_MSGC_INPUTS_MOUSE_MOTION: {
        inputs_motion_ack(icc);
        const SpiceMouseInterface *mif = mouse_if(s);
        if (s->mouse_mode == SPICE_MOUSE_MODE_SERVER && mif) {
            mif->motion(s->mouse, msg->u.mouse_motion.dx, msg->u.mouse_motion.dy, 0,
                        buttons_to_local(msg->u.mouse_motion.buttons));
        }
        return 0;
    }
    case SPICE_MSGC_INPUTS_MOUSE_POSITION: {
        inputs_motion_ack(icc);
        const SpiceTabletInterface *tif = tablet_if(s);
        if (s->mouse_mode == SPICE_MOUSE_MODE_CLIENT && char_device_agent_mouse_enabled(s)) {
            char_device_agent_mouse_position(s, msg->u.mouse_position.x,
                                             msg->u.mouse_position.y,
                                             msg->u.mouse_position.buttons,
                                             msg->u.mouse_position.display_id);
        } else if (s->mouse_mode == SPICE_MOUSE_MODE_CLIENT && tif) {
            tif->position(s->tablet, (int)msg->u.mouse_position.x, (int)msg->u.mouse_position.y,
                          buttons_to_local(msg->u.mouse_position.buttons));
        }
        return 0;
    }
    case SPICE_MSGC_INPUTS_MOUSE_PRESS:
        inputs_buttons(s, msg->u.mouse_button.button, msg->u.mouse_button.buttons, true);
        return 0;
    case SPICE_MSGC_INPUTS_MOUSE_RELEASE:
        inputs_buttons(s, msg->u.mouse_button.button, msg->u.mouse_button.buttons, false);
        return 0;
    default:
        log_ratelimited(LOG_LEVEL_WARN, "inputs: unexpected message %u", msg->type);
        return 0;
    }
}

static void inputs_on_close(struct channel_client *cc)
{
    struct inputs_channel_client *icc = (struct inputs_channel_client *)cc;
    struct session *session = icc->session;
    SpiceChannelEventInfo info = cc->event_info;
    channel_client_finish(cc);
    free(icc);
    if (session) {
        server_channel_event(session->server, SPICE_CHANNEL_EVENT_DISCONNECTED, &info);
        server_inputs_closed(session->server, session);
    }
}

static const struct channel_client_ops inputs_ops = {
        .handle_message = inputs_handle_message,
        .on_close = inputs_on_close,
};

struct inputs_channel_client *inputs_channel_client_create(struct session *session,
                                                           struct stream *stream,
                                                           const struct link_mess *link,
                                                           bool mini_header)
{
    struct RedsState *s = session->server;
    struct inputs_channel_client *icc = calloc(1, sizeof(*icc));
    if (!icc) {
        stream_destroy(stream);
        return NULL;
    }
    channel_client_init(&icc->base, &inputs_ops, s->loop, stream, link, mini_header);
    icc->session = session;
    if (channel_client_start(&icc->base) < 0) {
        channel_client_finish(&icc->base);
        free(icc);
        return NULL;
    }
    channel_client_fill_event_info(&icc->base, session->id, SPICE_CHANNEL_INPUTS, 0);
    server_channel_event(s, SPICE_CHANNEL_EVENT_INITIALIZED, &icc->base.event_info);
    uint8_t body[2];
    put_u16le(body, inputs_get_leds(s));
    channel_client_send(&icc->base, SPICE_MSG_INPUTS_INIT, body, sizeof(body));
    return icc;
}

void inputs_channel_client_send_leds(struct inputs_channel_client *icc, uint8_t leds)
{
    uint8_t body[2];
    put_u16le(body, leds);
    channel_client_send(&icc->base, SPICE_MSG_INPUTS_KEY_MODIFIERS, body, sizeof(body));
}

void inputs_channel_client_kick(struct inputs_channel_client *icc)
{
    channel_client_kick(&icc->base);
}

void inputs_channel_client_destroy(struct inputs_channel_client *icc)
{
    if (!icc) {
        return;
    }
    struct session *session = icc->session;
    icc->session = NULL;
    if (session) {
        server_channel_event(session->server, SPICE_CHANNEL_EVENT_DISCONNECTED,
                             &icc->base.event_info);
    }
    channel_client_close(&icc->base);
}
