/*
 * replay_gate.so: an LD_PRELOAD shim for clove-replay that holds the replay
 * back until the benchmark's client is connected.
 *
 * DESIGN
 * clove-replay starts reading its trace as soon as the QXL worker is
 * attached, so a client that connects afterwards would only get the final
 * screen in one image. The trace benchmark (tests/bench/bench_traces.py)
 * wants the client connected while every command is replayed, on both
 * libraries alike. This shim interposes spice_replay_next_cmd (clove-replay
 * calls it through the PLT; the real one, ours or Debian's, is found with
 * dlsym(RTLD_NEXT)). Until the file named by CLOVE_REPLAY_GATE exists, the
 * first call runs the default GLib main context itself (every source but
 * clove-replay's feeding timer, which is the one dispatching), so the
 * library's listening socket, link stage and main channel keep working on
 * the main thread while nothing is replayed. Without CLOVE_REPLAY_GATE the
 * shim only forwards.
 *
 * Thread: main thread of clove-replay (where it calls spice_replay_next_cmd).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <glib.h>
#include <spice.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef QXLCommandExt *(*next_cmd_fn)(SpiceReplay *replay, QXLInstance *instance);

/* Runs the main context until the gate file exists (polled every 2 ms). */
static void wait_for_gate(const char *path)
{
    GMainContext *ctx = g_main_context_default();
    while (access(path, F_OK) != 0) {
        while (g_main_context_iteration(ctx, FALSE)) {
        }
        g_usleep(2000);
    }
}

QXLCommandExt *spice_replay_next_cmd(SpiceReplay *replay, QXLInstance *instance)
{
    static next_cmd_fn real;
    static int opened;
    if (!real) {
        real = (next_cmd_fn)dlsym(RTLD_NEXT, "spice_replay_next_cmd");
        if (!real) {
            fprintf(stderr, "replay_gate: spice_replay_next_cmd not found\n");
            return NULL;
        }
    }
    if (!opened) {
        const char *gate = getenv("CLOVE_REPLAY_GATE");
        if (gate && *gate) {
            wait_for_gate(gate);
        }
        opened = 1;
    }
    return real(replay, instance);
}
