/*
 * libFuzzer target: the vdagent char device glue (src/server/char_device.c)
 * with both of its untrusted peers at once, the guest's agent and a client.
 *
 * A fake "vdagent" char device is added for each input, a main channel
 * links (with AGENT_CONNECTED_TOKENS) and the input is a script of steps,
 * each one opcode byte and its operands:
 *   0 len16 bytes : the client sends AGENT_DATA with those bytes
 *   1 len16 bytes : the guest writes those bytes (its VDIChunk stream) + wakeup
 *   2 u8          : the client sends AGENT_TOKEN (u8 tokens)
 *   3 u8          : the device now takes at most u8 bytes per write (0: none)
 *   4             : vm_stop or vm_start (toggles)
 *   5 u8          : the client sends AGENT_START (u8 tokens, 255: ~0)
 *   6             : the agent's port closes and opens again (remove + add)
 *   7 u8          : copy-paste (bit 0) and file transfer (bit 1) settings
 *   8 len16 bytes : the client sends a whole monitors config as AGENT_DATA pieces
 * The loop runs after each step until the server has read what the client
 * wrote. At the end the device is removed, everything closes, and the
 * server must be idle again (fuzz_finish).
 */
#include <stdlib.h>
#include <string.h>

#include <spice/protocol.h>
#include <spice/vd_agent.h>

#include "common/bytes.h"
#include "fuzz_server_harness.h"
#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GUEST_BUF_SIZE (64 * 1024)

static struct {
    SpiceCharDeviceInstance sin;
    uint8_t guest[GUEST_BUF_SIZE];
    size_t guest_len, guest_pos;
    size_t written; /* bytes the server wrote to the device */
    int write_limit;
} dev;

static void dev_state(SpiceCharDeviceInstance *sin, int connected)
{
}

static int dev_write(SpiceCharDeviceInstance *sin, const uint8_t *buf, int len)
{
    int n = len < dev.write_limit ? len : dev.write_limit;
    dev.written += (size_t)n;
    return n;
}

static int dev_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
    size_t left = dev.guest_len - dev.guest_pos;
    size_t n = (size_t)len < left ? (size_t)len : left;
    memcpy(buf, dev.guest + dev.guest_pos, n);
    dev.guest_pos += n;
    return (int)n;
}

static SpiceCharDeviceInterface dev_sif = {
        .base = {.type = SPICE_INTERFACE_CHAR_DEVICE,
                 .description = "fuzz vdagent",
                 .major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
                 .minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR},
        .state = dev_state,
        .write = dev_write,
        .read = dev_read,
};

static bool take(struct byte_reader *r, const uint8_t **bytes, size_t *len)
{
    uint16_t n = read_u16(r);
    size_t left = reader_remaining(r);
    *len = n < left ? n : left;
    *bytes = read_bytes(r, *len);
    return reader_ok(r);
}

static void send_u32(struct fake_client *c, uint16_t type, uint32_t v)
{
    uint8_t body[4];
    put_u32le(body, v);
    fake_client_send_msg(c, type, body, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fake_host_options opts = {.noauth = true, .quiet = true};
    struct fake_host *h = fuzz_host(&opts);
    if (!h) {
        abort();
    }
    memset(&dev, 0, sizeof(dev));
    dev.sin.base.sif = &dev_sif.base;
    dev.sin.subtype = "vdagent";
    dev.write_limit = 1 << 20;
    spice_server_vm_start(h->server);
    bool running = true;
    spice_server_set_agent_copypaste(h->server, 1);
    spice_server_set_agent_file_xfer(h->server, 1);
    if (spice_server_add_interface(h->server, &dev.sin.base) != 0) {
        abort();
    }

    struct fake_client main_c;
    struct fake_client *clients[1] = {&main_c};
    struct fake_link link = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    link.channel_caps[0] = 1u << SPICE_MAIN_CAP_AGENT_CONNECTED_TOKENS;
    link.num_channel_caps = 1;
    if (fake_client_link(h, &main_c, &link, NULL) != SPICE_LINK_ERR_OK) {
        abort();
    }

    struct byte_reader r;
    reader_init(&r, data, size);
    for (int steps = 0; reader_remaining(&r) > 0 && steps < 256; steps++) {
        uint8_t op = read_u8(&r) % 9;
        const uint8_t *bytes = NULL;
        size_t len = 0;
        switch (op) {
        case 0:
            if (take(&r, &bytes, &len)) {
                fake_client_send_msg(&main_c, SPICE_MSGC_MAIN_AGENT_DATA, bytes, (uint32_t)len);
            }
            break;
        case 1:
            if (take(&r, &bytes, &len) && len <= GUEST_BUF_SIZE - dev.guest_len) {
                memcpy(dev.guest + dev.guest_len, bytes, len);
                dev.guest_len += len;
                spice_server_char_device_wakeup(&dev.sin);
            }
            break;
        case 2:
            send_u32(&main_c, SPICE_MSGC_MAIN_AGENT_TOKEN, read_u8(&r));
            break;
        case 3:
            dev.write_limit = read_u8(&r);
            spice_server_char_device_wakeup(&dev.sin);
            break;
        case 4:
            running = !running;
            if (running) {
                spice_server_vm_start(h->server);
            } else {
                spice_server_vm_stop(h->server);
            }
            break;
        case 5: {
            uint8_t t = read_u8(&r);
            send_u32(&main_c, SPICE_MSGC_MAIN_AGENT_START, t == 255 ? ~0u : t);
            break;
        }
        case 6:
            spice_server_remove_interface(&dev.sin.base);
            if (spice_server_add_interface(h->server, &dev.sin.base) != 0) {
                abort();
            }
            break;
        case 7: {
            uint8_t flags = read_u8(&r);
            spice_server_set_agent_copypaste(h->server, flags & 1);
            spice_server_set_agent_file_xfer(h->server, (flags >> 1) & 1);
            break;
        }
        case 8:
            /* A VDAgentMessage header for MONITORS_CONFIG, then the body in
             * pieces of at most 2048 bytes, as clients send it. */
            if (take(&r, &bytes, &len)) {
                uint8_t piece[VD_AGENT_MAX_DATA_SIZE];
                put_u32le(piece, VD_AGENT_PROTOCOL);
                put_u32le(piece + 4, VD_AGENT_MONITORS_CONFIG);
                memset(piece + 8, 0, 8);
                put_u32le(piece + 16, (uint32_t)len);
                size_t first = len < sizeof(piece) - 20 ? len : sizeof(piece) - 20;
                memcpy(piece + 20, bytes, first);
                fake_client_send_msg(&main_c, SPICE_MSGC_MAIN_AGENT_DATA, piece,
                                     (uint32_t)(20 + first));
                for (size_t pos = first; pos < len; pos += sizeof(piece)) {
                    size_t n = len - pos < sizeof(piece) ? len - pos : sizeof(piece);
                    fake_client_send_msg(&main_c, SPICE_MSGC_MAIN_AGENT_DATA, bytes + pos,
                                         (uint32_t)n);
                }
            }
            break;
        default:
            break;
        }
        if (main_c.fd >= 0) {
            fuzz_wait_consumed(&main_c, 2000);
        }
        fake_host_iterate(h, 0);
        fake_client_consume(&main_c, main_c.rx_len);
    }
    spice_server_remove_interface(&dev.sin.base);
    if (!running) {
        spice_server_vm_start(h->server);
    }
    fuzz_finish(h, clients, 1);
    return 0;
}
