/*
 * vdagent: a small built-in stand-in for the guest's spice-vdagent, on a
 * "vdagent" char device (SpiceCharDeviceInterface), for clove-demo --agent.
 *
 * It speaks the agent protocol of <spice/vd_agent.h>: it answers the
 * client's VD_AGENT_ANNOUNCE_CAPABILITIES with its own (monitors config,
 * mouse state, reply), acknowledges VD_AGENT_MONITORS_CONFIG with a
 * VD_AGENT_REPLY and hands the monitors to a callback, and logs mouse
 * states and client disconnects. Nothing else (no clipboard, no files).
 *
 * Thread: the host loop thread; the library calls the char device there.
 */
#ifndef CLOVE_DEMO_VDAGENT_H
#define CLOVE_DEMO_VDAGENT_H

#include <spice.h>
#include <stdbool.h>
#include <stdint.h>

struct vdagent;

/* One monitor of a client's request; width/height 0 means disabled. */
struct vdagent_monitor {
    uint32_t width;
    uint32_t height;
    int32_t x;
    int32_t y;
};

/* A client asked for this layout (monitors borrowed for the call). */
typedef void (*vdagent_monitors_fn)(void *opaque, const struct vdagent_monitor *monitors,
                                    uint32_t count);

/* Returns new. server is borrowed. */
struct vdagent *vdagent_create(SpiceServer *server, bool verbose, vdagent_monitors_fn monitors,
                               void *opaque);
/* The instance for spice_server_add_interface() / _remove_interface(). Borrowed. */
SpiceBaseInstance *vdagent_base(struct vdagent *a);
/* Takes; accepts NULL. Call after removing the interface or destroying the server. */
void vdagent_destroy(struct vdagent *a);

#endif
