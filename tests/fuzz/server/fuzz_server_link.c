/*
 * libFuzzer target: the server's link stage (src/server/link_stage.c) as a
 * client reaches it. The input is written, as is, to a fresh connection of a
 * long-lived server that asks for the password FUZZ_PASSWORD; the loop runs
 * until the server has read it all (bounded), then the client closes and the
 * server must end up with no connection and no session.
 *
 * A complete link with a ticket encrypted under the harness's fixed key
 * creates a session, and the bytes after it are main channel messages.
 */
#include <stdlib.h>

#include "fuzz_server_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fake_host_options opts = {
            .password = FUZZ_PASSWORD, .keyboard = true, .mouse = true, .quiet = true};
    struct fake_host *h = fuzz_host(&opts);
    if (!h) {
        abort();
    }
    struct fake_client c;
    if (fake_client_connect(h, &c, 0) < 0) {
        abort();
    }
    if (size > 0 && fake_client_write(&c, data, size) == 0) {
        fuzz_wait_consumed(&c, 2000);
    }
    /* Let the server answer and hand the connection over. */
    for (int i = 0; i < 4; i++) {
        fake_host_iterate(h, 0);
    }
    struct fake_client *clients[] = {&c};
    fuzz_finish(h, clients, 1);
    return 0;
}
