/*
 * Char devices (SpiceCharDeviceInterface) and the vdagent behind the main
 * channel.
 *
 * The host adds a char device with spice_server_add_interface(); for the
 * "vdagent" subtype that is the moment the guest agent's port opened, and
 * spice_server_remove_interface() the moment it closed. The server reads the
 * agent's VDIChunk stream with sif->read, forwards the client-port pieces to
 * the clients as MAIN_AGENT_DATA, and writes the clients' AGENT_DATA (and its
 * own messages: mouse state, client disconnected) with sif->write, keeping
 * what the device did not take yet for a retry on wakeup or after 100 ms.
 *
 * Flow control (the reference's, see spice-facts 1.4): a client may have
 * CHAR_DEVICE_AGENT_TOKENS AGENT_DATA messages in flight; the server returns
 * them with AGENT_TOKEN in batches of CHAR_DEVICE_TOKENS_TO_SEND once the
 * data is written to the device. In the other direction the client grants
 * tokens with AGENT_START and AGENT_TOKEN, one per AGENT_DATA sent to it;
 * the server stops reading the device while a client has none.
 *
 * Thread: the host's main loop, like everything in server.c.
 */
#ifndef CLOVE_SERVER_CHAR_DEVICE_H
#define CLOVE_SERVER_CHAR_DEVICE_H

#include <spice.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* MAIN_INIT.agent_tokens and AGENT_CONNECTED_TOKENS (REDS_AGENT_WINDOW_SIZE). */
#define CHAR_DEVICE_AGENT_TOKENS 10u
/* Returned tokens are batched (REDS_TOKENS_TO_SEND). */
#define CHAR_DEVICE_TOKENS_TO_SEND 5u
/* A partial write is retried after this long if no wakeup came first. */
#define CHAR_DEVICE_WRITE_RETRY_MS 100u

struct RedsState;
struct session;

/*
 * spice_server_add_interface() for SPICE_INTERFACE_CHAR_DEVICE. Borrows
 * sin until char_device_remove(). Returns 0, or -1 (logged) for an unknown
 * subtype, a second vdagent or an incompatible interface.
 */
int char_device_add(struct RedsState *s, SpiceCharDeviceInstance *sin);
/* spice_server_remove_interface(): detaches and frees the device's state. */
int char_device_remove(SpiceCharDeviceInstance *sin);
/* spice_server_destroy(): frees every device state still attached. */
void char_device_destroy_all(struct RedsState *s);
/* vm_start / vm_stop: devices are read and written only while running. */
void char_device_set_running(struct RedsState *s, bool running);
/* spice_server_set_agent_copypaste / _file_xfer changed. */
void char_device_update_config(struct RedsState *s);

/* True while a vdagent device is attached and usable. */
bool char_device_agent_attached(const struct RedsState *s);

/* ---- hooks of the main channel ---- */

/* A session's main channel linked (before or after the agent). */
void char_device_session_opened(struct RedsState *s, struct session *session);
/* A session is gone (it is already out of s->sessions). */
void char_device_session_closed(struct RedsState *s, struct session *session);
/* MSGC_MAIN_AGENT_START / AGENT_TOKEN from a session. */
void char_device_agent_start(struct RedsState *s, struct session *session, uint32_t tokens);
void char_device_agent_tokens(struct RedsState *s, struct session *session, uint32_t tokens);
/*
 * MSGC_MAIN_AGENT_DATA (data borrowed). Returns 0, or a negative CLOVE_E_*
 * code when the client broke the protocol and must be closed.
 */
int char_device_agent_data(struct RedsState *s, struct session *session, const uint8_t *data,
                           size_t len);

/*
 * Client mouse mode through the agent (what the reference's inputs channel
 * does when agent mouse is on and an agent is attached, instead of using
 * the tablet): a SPICE_MSGC_INPUTS_MOUSE_POSITION, or a MOUSE_PRESS /
 * MOUSE_RELEASE (button, buttons_state as received: SPICE_MOUSE_BUTTON_*).
 * Each queues a VD_AGENT_MOUSE_STATE with the last position, buttons in the
 * agent's encoding (SPICE mask << 1, wheel as UP/DOWN bits on press); an
 * unsent one is replaced, so a fast mouse cannot fill memory.
 */
void char_device_agent_mouse_position(struct RedsState *s, uint32_t x, uint32_t y,
                                      uint16_t buttons_state, uint8_t display_id);
void char_device_agent_mouse_button(struct RedsState *s, uint8_t button, uint16_t buttons_state,
                                    bool press);
/* True when positions go to the agent: agent mouse on and an agent attached. */
bool char_device_agent_mouse_enabled(const struct RedsState *s);

#endif
