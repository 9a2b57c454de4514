/*
 * libFuzzer target for spice_replay_* (src/server/replay.c): the input is a
 * whole recording file. Every command the reader returns is then parsed by
 * qxl_parse_* through an identity memslot, as a replay host maps memory, so
 * ASan sees any replayed structure that claims more memory than the reader
 * gave it. No QXL instance is passed: device messages are read, not run.
 */
#include <spice.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "display/memslot.h"
#include "display/qxl_parse.h"

#define FUZZ_MAX_COMMANDS 256

static void parse_replayed(const struct memslot_table *t, const QXLCommandExt *cmd)
{
    const char *err = NULL;
    uint64_t addr = cmd->cmd.data;
    switch (cmd->cmd.type) {
    case QXL_CMD_DRAW: {
        struct qxl_drawable d;
        int rc = (cmd->flags & QXL_COMMAND_FLAG_COMPAT)
                         ? qxl_parse_compat_drawable(t, 0, addr, &d, &err)
                         : qxl_parse_drawable(t, 0, addr, &d, &err);
        if (rc == 0) {
            qxl_drawable_finish(&d);
        }
        break;
    }
    case QXL_CMD_UPDATE: {
        struct qxl_update_cmd u;
        qxl_parse_update(t, 0, addr, &u, &err);
        break;
    }
    case QXL_CMD_SURFACE: {
        struct qxl_surface_cmd s;
        qxl_parse_surface(t, 0, addr, &s, &err);
        break;
    }
    case QXL_CMD_CURSOR: {
        struct qxl_cursor_cmd c;
        if (qxl_parse_cursor(t, 0, addr, &c, &err) == 0) {
            qxl_cursor_cmd_finish(&c);
        }
        break;
    }
    case QXL_CMD_MESSAGE: {
        struct qxl_message_cmd m;
        qxl_parse_message(t, 0, addr, &m, &err);
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f) {
        return 0;
    }
    SpiceReplay *replay = spice_replay_new(f, 64);
    if (!replay) {
        fclose(f);
        return 0;
    }
    struct memslot_table t;
    memslot_table_init(&t, 1, 1, 1, 1);
    memslot_add(&t, 0, 0, 0, 0, UINTPTR_MAX, 0);
    for (int i = 0; i < FUZZ_MAX_COMMANDS; i++) {
        QXLCommandExt *cmd = spice_replay_next_cmd(replay, NULL);
        if (!cmd) {
            break;
        }
        parse_replayed(&t, cmd);
        spice_replay_free_cmd(replay, cmd);
    }
    memslot_table_finish(&t);
    spice_replay_free(replay);
    return 0;
}
