/*
 * vdagent: the built-in fake guest agent of clove-demo (see vdagent.h).
 *
 * DESIGN
 * The library writes VDIChunks {u32 port; u32 size; body} into the device;
 * the bodies of each port are concatenated and cut into VDAgentMessages
 * {u32 protocol; u32 type; u64 opaque; u32 size; body}. What the agent says
 * goes the other way, one message per chunk on VDP_CLIENT_PORT, into an
 * output buffer the library drains with read(); the library is told about
 * new output with spice_server_char_device_wakeup() from an idle callback,
 * never from inside its own read/write call.
 *
 * write() takes at most WRITE_LIMIT bytes per call, as a guest's virtio
 * queue does when it is full, so the library's partial-write path runs; an
 * idle wakeup asks it to go on.
 *
 * Every line it logs starts with "clove-demo: agent:", for the tests.
 */
#include "vdagent.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spice/vd_agent.h>

#define WRITE_LIMIT      1024
#define MAX_MESSAGE_SIZE (1024 * 1024)

struct vdagent {
    SpiceCharDeviceInstance sin; /* first: callbacks downcast from it */
    SpiceServer *server;
    bool verbose;
    vdagent_monitors_fn monitors;
    void *opaque;
    bool connected; /* state(1) seen and no state(0) since */

    /* From the library: the chunk being received and one stream per port. */
    uint8_t chunk_header[8];
    size_t chunk_header_len;
    uint32_t chunk_port;
    uint32_t chunk_left;
    GByteArray *stream[2]; /* [0] VDP_CLIENT_PORT, [1] VDP_SERVER_PORT */

    /* To the library. */
    GByteArray *out;
    size_t out_pos;
    guint wakeup_id;
};

static struct vdagent *agent_from_sin(SpiceCharDeviceInstance *sin)
{
    return (struct vdagent *)sin;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(GByteArray *b, uint32_t v)
{
    uint8_t bytes[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    g_byte_array_append(b, bytes, 4);
}

/* ---- output ---- */

static gboolean wakeup_idle(gpointer data)
{
    struct vdagent *a = data;
    a->wakeup_id = 0;
    if (a->sin.st != NULL) {
        spice_server_char_device_wakeup(&a->sin);
    }
    return G_SOURCE_REMOVE;
}

static void schedule_wakeup(struct vdagent *a)
{
    if (a->wakeup_id == 0) {
        a->wakeup_id = g_idle_add(wakeup_idle, a);
    }
}

static void send_message(struct vdagent *a, uint32_t type, const GByteArray *payload)
{
    uint32_t size = payload != NULL ? payload->len : 0;
    put_u32(a->out, VDP_CLIENT_PORT);
    put_u32(a->out, 20 + size);
    put_u32(a->out, VD_AGENT_PROTOCOL);
    put_u32(a->out, type);
    put_u32(a->out, 0); /* opaque, u64 */
    put_u32(a->out, 0);
    put_u32(a->out, size);
    if (size > 0) {
        g_byte_array_append(a->out, payload->data, size);
    }
    schedule_wakeup(a);
}

static void send_capabilities(struct vdagent *a)
{
    GByteArray *p = g_byte_array_new();
    put_u32(p, 0); /* request: no, this is the answer */
    put_u32(p, (1u << VD_AGENT_CAP_MOUSE_STATE) | (1u << VD_AGENT_CAP_MONITORS_CONFIG) |
                       (1u << VD_AGENT_CAP_REPLY));
    send_message(a, VD_AGENT_ANNOUNCE_CAPABILITIES, p);
    g_byte_array_unref(p);
}

static void send_reply(struct vdagent *a, uint32_t type, uint32_t error)
{
    GByteArray *p = g_byte_array_new();
    put_u32(p, type);
    put_u32(p, error);
    send_message(a, VD_AGENT_REPLY, p);
    g_byte_array_unref(p);
}

/* ---- input ---- */

static void handle_monitors_config(struct vdagent *a, const uint8_t *body, uint32_t size)
{
    if (size < 8) {
        fprintf(stderr, "clove-demo: agent: monitors config too short (%u bytes)\n", size);
        send_reply(a, VD_AGENT_MONITORS_CONFIG, VD_AGENT_ERROR);
        return;
    }
    uint32_t count = get_u32(body);
    if (count > 64 || 8 + (uint64_t)count * 20 > size) {
        fprintf(stderr, "clove-demo: agent: monitors config with %u monitors in %u bytes\n", count,
                size);
        send_reply(a, VD_AGENT_MONITORS_CONFIG, VD_AGENT_ERROR);
        return;
    }
    struct vdagent_monitor monitors[64];
    GString *line = g_string_new(NULL);
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *m = body + 8 + i * 20; /* VDAgentMonConfig {height, width, depth, x, y} */
        monitors[i].height = get_u32(m);
        monitors[i].width = get_u32(m + 4);
        monitors[i].x = (int32_t)get_u32(m + 12);
        monitors[i].y = (int32_t)get_u32(m + 16);
        g_string_append_printf(line, " %u=%ux%u+%d+%d", i, monitors[i].width, monitors[i].height,
                               monitors[i].x, monitors[i].y);
    }
    fprintf(stderr, "clove-demo: agent: monitors config %u:%s\n", count, line->str);
    g_string_free(line, TRUE);
    send_reply(a, VD_AGENT_MONITORS_CONFIG, VD_AGENT_SUCCESS);
    if (a->monitors != NULL) {
        a->monitors(a->opaque, monitors, count);
    }
}

static void handle_message(struct vdagent *a, uint32_t port, uint32_t type, const uint8_t *body,
                           uint32_t size)
{
    switch (type) {
    case VD_AGENT_ANNOUNCE_CAPABILITIES: {
        uint32_t request = size >= 4 ? get_u32(body) : 0;
        uint32_t caps = size >= 8 ? get_u32(body + 4) : 0;
        fprintf(stderr, "clove-demo: agent: client capabilities 0x%08x%s\n", caps,
                request ? " (request)" : "");
        if (request) {
            send_capabilities(a);
        }
        break;
    }
    case VD_AGENT_MONITORS_CONFIG:
        handle_monitors_config(a, body, size);
        break;
    case VD_AGENT_MOUSE_STATE:
        if (a->verbose && size >= 13) {
            fprintf(stderr, "clove-demo: agent: mouse %u,%u buttons 0x%x display %u\n",
                    get_u32(body), get_u32(body + 4), get_u32(body + 8), body[12]);
        }
        break;
    case VD_AGENT_CLIENT_DISCONNECTED:
        fprintf(stderr, "clove-demo: agent: client disconnected\n");
        break;
    default:
        fprintf(stderr, "clove-demo: agent: ignored message type %u (%u bytes) on port %u\n", type,
                size, port);
        break;
    }
}

/* Handles every complete message of one port's stream. */
static void drain_stream(struct vdagent *a, uint32_t port, GByteArray *s)
{
    while (s->len >= 20) {
        uint32_t protocol = get_u32(s->data);
        uint32_t type = get_u32(s->data + 4);
        uint32_t size = get_u32(s->data + 16);
        if (protocol != VD_AGENT_PROTOCOL || size > MAX_MESSAGE_SIZE) {
            fprintf(stderr, "clove-demo: agent: bad message (protocol %u, %u bytes); resetting\n",
                    protocol, size);
            g_byte_array_set_size(s, 0);
            return;
        }
        if (s->len - 20 < size) {
            return;
        }
        handle_message(a, port, type, s->data + 20, size);
        g_byte_array_remove_range(s, 0, 20 + size);
    }
}

static void receive(struct vdagent *a, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        if (a->chunk_header_len < 8) {
            size_t take = 8 - a->chunk_header_len < len ? 8 - a->chunk_header_len : len;
            memcpy(a->chunk_header + a->chunk_header_len, buf, take);
            a->chunk_header_len += take;
            buf += take;
            len -= take;
            if (a->chunk_header_len == 8) {
                a->chunk_port = get_u32(a->chunk_header);
                a->chunk_left = get_u32(a->chunk_header + 4);
                if (a->chunk_left == 0) {
                    a->chunk_header_len = 0;
                }
            }
            continue;
        }
        size_t take = a->chunk_left < len ? a->chunk_left : len;
        bool known = a->chunk_port == VDP_CLIENT_PORT || a->chunk_port == VDP_SERVER_PORT;
        GByteArray *s = known ? a->stream[a->chunk_port - VDP_CLIENT_PORT] : NULL;
        if (s != NULL) {
            g_byte_array_append(s, buf, (guint)take);
        }
        buf += take;
        len -= take;
        a->chunk_left -= (uint32_t)take;
        if (a->chunk_left == 0) {
            a->chunk_header_len = 0;
            if (s != NULL) {
                drain_stream(a, a->chunk_port, s);
            }
        }
    }
}

/* ---- SpiceCharDeviceInterface ---- */

static void agent_state(SpiceCharDeviceInstance *sin, int connected)
{
    struct vdagent *a = agent_from_sin(sin);
    a->connected = connected != 0;
    fprintf(stderr, "clove-demo: agent: %s\n", connected ? "connected" : "disconnected");
}

static int agent_write(SpiceCharDeviceInstance *sin, const uint8_t *buf, int len)
{
    struct vdagent *a = agent_from_sin(sin);
    if (len <= 0) {
        return 0;
    }
    int n = len < WRITE_LIMIT ? len : WRITE_LIMIT;
    receive(a, buf, (size_t)n);
    if (n < len) {
        schedule_wakeup(a); /* "the queue has room again" */
    }
    return n;
}

static int agent_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
    struct vdagent *a = agent_from_sin(sin);
    size_t left = a->out->len - a->out_pos;
    size_t n = len > 0 && (size_t)len < left ? (size_t)len : left;
    if (len <= 0 || n == 0) {
        return 0; /* nothing to say (the empty array's data may be NULL) */
    }
    memcpy(buf, a->out->data + a->out_pos, n);
    a->out_pos += n;
    if (a->out_pos == a->out->len) {
        g_byte_array_set_size(a->out, 0);
        a->out_pos = 0;
    }
    return (int)n;
}

static SpiceCharDeviceInterface agent_interface = {
        .base =
                {
                        .type = SPICE_INTERFACE_CHAR_DEVICE,
                        .description = "clove-demo vdagent",
                        .major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
                        .minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR,
                },
        .state = agent_state,
        .write = agent_write,
        .read = agent_read,
};

struct vdagent *vdagent_create(SpiceServer *server, bool verbose, vdagent_monitors_fn monitors,
                               void *opaque)
{
    struct vdagent *a = g_new0(struct vdagent, 1);
    a->sin.base.sif = &agent_interface.base;
    a->sin.subtype = "vdagent";
    a->server = server;
    a->verbose = verbose;
    a->monitors = monitors;
    a->opaque = opaque;
    a->stream[0] = g_byte_array_new();
    a->stream[1] = g_byte_array_new();
    a->out = g_byte_array_new();
    return a;
}

SpiceBaseInstance *vdagent_base(struct vdagent *a)
{
    return &a->sin.base;
}

void vdagent_destroy(struct vdagent *a)
{
    if (a == NULL) {
        return;
    }
    if (a->wakeup_id != 0) {
        g_source_remove(a->wakeup_id);
    }
    g_byte_array_unref(a->stream[0]);
    g_byte_array_unref(a->stream[1]);
    g_byte_array_unref(a->out);
    g_free(a);
}
