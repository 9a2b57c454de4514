/*
 * libFuzzer target: client -> server message handling of every channel
 * (framing in src/server/channel.c, then main_channel.c, inputs_channel.c,
 * display_channel.c or cursor_channel.c).
 *
 * Input: byte 0 picks the channel (main, inputs, display, cursor: value % 4);
 * byte 1 holds flags (bit 0: negotiate the mini header; bit 1: queue a draw,
 * a copy and a cursor move on the fake QXL device first); the rest is
 * written, as is, to that channel after a valid no-auth link of main (and
 * of the channel). The loop runs until the server has read it all
 * (bounded); then everything closes and the server must be idle again.
 */
#include <stdlib.h>

#include <spice/protocol.h>

#include "common/bytes.h"
#include "fuzz_server_harness.h"
#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t channel_types[4] = {SPICE_CHANNEL_MAIN, SPICE_CHANNEL_INPUTS,
                                         SPICE_CHANNEL_DISPLAY, SPICE_CHANNEL_CURSOR};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    struct fake_host_options opts = {.noauth = true,
                                     .keyboard = true,
                                     .mouse = true,
                                     .tablet = true,
                                     .qxl = true,
                                     .quiet = true};
    struct fake_host *h = fuzz_host(&opts);
    if (!h) {
        abort();
    }
    /* Runs start from the same mouse mode, whatever the last one asked for. */
    h->server->mouse_mode = SPICE_MOUSE_MODE_SERVER;
    uint8_t type = channel_types[data[0] % 4];
    bool mini = data[1] & 1;

    struct fake_client main_c, chan_c;
    struct fake_client *clients[2] = {&main_c, &chan_c};
    int num_clients = 1;
    struct fake_link link = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    link.mini_header = mini;
    if (fake_client_link(h, &main_c, &link, NULL) != SPICE_LINK_ERR_OK) {
        abort();
    }
    struct fake_msg m;
    if (fake_client_wait_msg(&main_c, SPICE_MSG_MAIN_INIT, &m, 2000) < 0) {
        abort();
    }
    uint32_t session_id = m.size >= 4 ? get_u32le(m.data) : 0;
    free(m.data);
    struct fake_client *target = &main_c;
    if (type != SPICE_CHANNEL_MAIN) {
        link = fake_link_default(session_id, type, 0);
        link.mini_header = mini;
        if (type == SPICE_CHANNEL_DISPLAY) {
            link.channel_caps[0] = 1u << SPICE_DISPLAY_CAP_MONITORS_CONFIG;
            link.num_channel_caps = 1;
        }
        if (fake_client_link(h, &chan_c, &link, NULL) != SPICE_LINK_ERR_OK) {
            abort();
        }
        num_clients = 2;
        target = &chan_c;
    }
    if (data[1] & 2) {
        fake_qxl_push_fill(h, 1, 2, 3, 4, 0x112233);
        fake_qxl_push_copy(h, 5, 6, 2, 2, 0x445566);
        fake_qxl_push_cursor_move(h, 7, 8);
    }
    if (size > 2 && fake_client_write(target, data + 2, size - 2) == 0) {
        fuzz_wait_consumed(target, 2000);
    }
    for (int i = 0; i < 4; i++) {
        fake_host_iterate(h, 0);
    }
    /* Close the channel first, then main (the session). */
    struct fake_client *order[2] = {clients[num_clients - 1], &main_c};
    fuzz_finish(h, order, num_clients);
    return 0;
}
