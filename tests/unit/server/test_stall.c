/*
 * Tests the stalled-client rule of src/server/channel.c: a display client
 * that accepts no byte while data waits for it is dropped after
 * CLOVE_STALL_TIMEOUT_MS, alone; its session and the server carry on.
 */
#include "check.h"
#include "fake_host.h"

#include <spice/enums.h>
#include <spice/protocol.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 5000

static bool qxl_drained(void *arg)
{
    return fake_qxl_pending(arg) == 0;
}


static bool display_disconnected(void *arg)
{
    struct fake_host *h = arg;
    return fake_host_find_event(h, SPICE_CHANNEL_EVENT_DISCONNECTED, SPICE_CHANNEL_DISPLAY, 0) >=
           0;
}

static void test_stalled_display_dropped(void)
{
    struct fake_host_options o = {.noauth = true, .qxl = true, .quiet = true};
    struct fake_host *h = fake_host_create(&o);
    CHECK(h);
    spice_server_set_image_compression(h->server, SPICE_IMAGE_COMPRESSION_OFF);
    struct fake_client main_client, dc;
    struct fake_link l = fake_link_default(0, SPICE_CHANNEL_MAIN, 0);
    CHECK_EQ(fake_client_link(h, &main_client, &l, NULL), SPICE_LINK_ERR_OK);
    struct fake_msg m;
    CHECK_EQ(fake_client_wait_msg(&main_client, SPICE_MSG_MAIN_INIT, &m, WAIT_MS), 0);
    uint32_t id = get_u32le(m.data);
    free(m.data);
    l = fake_link_default(id, SPICE_CHANNEL_DISPLAY, 0);
    CHECK_EQ(fake_client_link(h, &dc, &l, NULL), SPICE_LINK_ERR_OK);
    /* Raw copies the client never reads: more than any socket buffer holds.
     * Each of the first ones gets its own worker batch, so that it is
     * written before the next one hides it. */
    for (int i = 0; i < 400; i++) {
        CHECK_EQ(fake_qxl_push_copy(h, i % 8, 0, 56, 48, 0x010203u * (uint32_t)i), 0);
        if (i < 60 || i % 40 == 0) {
            fake_host_run_for(h, i < 60 ? 2 : 5);
        }
    }
    CHECK(fake_host_run_until(h, qxl_drained, h, WAIT_MS));
    CHECK(fake_host_run_until(h, display_disconnected, h, WAIT_MS));
    /* Only the display channel went: the session is still there. */
    CHECK_EQ(spice_server_get_num_clients(h->server), 1);
    fake_client_close(&dc);
    fake_client_close(&main_client);
    fake_host_run_for(h, 50);
    fake_host_destroy(h);
}

int main(void)
{
    setenv("CLOVE_STALL_TIMEOUT_MS", "400", 1);
    /* Every draw written as it comes: nothing merged or held back. */
    setenv("CLOVE_DISPLAY_PACE_MS", "0", 1);
    setenv("CLOVE_DISPLAY_COMPOSE", "0", 1);
    return check_run((struct check_case[]){
            CHECK_CASE(test_stalled_display_dropped),
            {0},
    });
}
