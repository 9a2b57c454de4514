/*
 * Recording of the QXL command stream in the reference server's replay file
 * format (SPICE_WORKER_RECORD_FILENAME), so that spice_replay_* (ours or the
 * reference's) can play a session back.
 *
 * The file is text with binary blocks: a "SPICE_REPLAY 1" header line, then
 * one "event <counter> <what> <type> <time_ns>" line per record. what = 0 is
 * a QXL command of QXL_CMD_<type>, followed by its structures dumped field by
 * field with every guest buffer it references; what = 1 is a device message
 * (spice_qxl_* call) numbered as the reference's RED_WORKER_MESSAGE_* enum,
 * followed by a payload only for the primary surface creation.
 *
 * Guest memory is read through memslot_translate only. A command whose own
 * struct does not translate is not recorded; a bad pointer inside it records
 * an empty or absent element in its place, so the file always stays
 * parseable. Each record is formatted into memory first and written with one
 * fwrite under a mutex, then flushed, so records of several devices never
 * interleave and a killed process leaves whole records behind.
 *
 * Thread: any (the recorder has its own lock).
 */
#ifndef CLOVE_DISPLAY_QXL_RECORD_H
#define CLOVE_DISPLAY_QXL_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <spice/qxl_dev.h>

#include "display/memslot.h"

struct qxl_recorder;

/* The reference's RED_WORKER_MESSAGE_* numbers, as written in "event N 1 <type>" lines. */
enum qxl_record_message {
    QXL_RECORD_MSG_UPDATE = 1,
    QXL_RECORD_MSG_WAKEUP = 2,
    QXL_RECORD_MSG_OOM = 3,
    QXL_RECORD_MSG_START = 8,
    QXL_RECORD_MSG_STOP = 9,
    QXL_RECORD_MSG_ADD_MEMSLOT = 16,
    QXL_RECORD_MSG_DEL_MEMSLOT = 17,
    QXL_RECORD_MSG_RESET_MEMSLOTS = 18,
    QXL_RECORD_MSG_DESTROY_SURFACES = 19,
    QXL_RECORD_MSG_CREATE_PRIMARY = 20,
    QXL_RECORD_MSG_DESTROY_PRIMARY = 21,
    QXL_RECORD_MSG_RESET_CURSOR = 22,
    QXL_RECORD_MSG_RESET_IMAGE_CACHE = 23,
    QXL_RECORD_MSG_DESTROY_SURFACE_WAIT = 24,
    QXL_RECORD_MSG_LOADVM_COMMANDS = 25,
    QXL_RECORD_MSG_UPDATE_ASYNC = 26,
    QXL_RECORD_MSG_ADD_MEMSLOT_ASYNC = 27,
    QXL_RECORD_MSG_DESTROY_SURFACES_ASYNC = 28,
    QXL_RECORD_MSG_CREATE_PRIMARY_ASYNC = 29,
    QXL_RECORD_MSG_DESTROY_PRIMARY_ASYNC = 30,
    QXL_RECORD_MSG_DESTROY_SURFACE_WAIT_ASYNC = 31,
    QXL_RECORD_MSG_FLUSH_SURFACES_ASYNC = 32,
    QXL_RECORD_MSG_MONITORS_CONFIG_ASYNC = 35,
    QXL_RECORD_MSG_DRIVER_UNLOAD = 36,
};

/*
 * Returns a new recorder writing to `file` (takes: closed by
 * qxl_recorder_destroy), after writing the header line. `compress` writes
 * binary blocks of 64 bytes and more zlib-compressed (both readers accept
 * either form). NULL on allocation failure (the file is then closed).
 */
struct qxl_recorder *qxl_recorder_create(FILE *file, bool compress);

/*
 * Returns a new reference to the process-wide recorder of
 * SPICE_WORKER_RECORD_FILENAME (opened, truncated, on the first call; every
 * device of the process shares it, as in the reference), or NULL when the
 * variable is unset or the file cannot be opened (logged). With
 * SPICE_WORKER_RECORD_FILTER set, the records go through that shell command
 * (its standard output is the file), e.g. "gzip -c". CLOVE_RECORD_ZLIB=0
 * turns block compression off. Pair with qxl_recorder_unref.
 */
struct qxl_recorder *qxl_recorder_create_from_env(void);

/*
 * The process-wide recorder while some reference to it is held, else NULL.
 * Borrowed: valid as long as the caller holds its own reference.
 */
struct qxl_recorder *qxl_recorder_get_shared(void);

/* Drops a reference taken by qxl_recorder_create_from_env. Accepts NULL. */
void qxl_recorder_unref(struct qxl_recorder *rec);

/* Flushes and closes a recorder from qxl_recorder_create. Accepts NULL. */
void qxl_recorder_destroy(struct qxl_recorder *rec);

/*
 * Records one command as read from a ring (before it is parsed or
 * released): an "event N 0 <type>" line and its data, read from guest memory
 * through `slots` (borrowed) in group ext->group_id. Commands whose struct
 * does not translate, and unknown types, are skipped. Accepts rec == NULL.
 */
void qxl_recorder_command(struct qxl_recorder *rec, const struct memslot_table *slots,
                          const QXLCommandExt *ext);

/* Records a device message without payload ("event N 1 <msg>"). Accepts NULL. */
void qxl_recorder_message(struct qxl_recorder *rec, enum qxl_record_message msg);

/* The recorded fields of a QXLDevSurfaceCreate (<spice-qxl.h>), in its order. */
struct qxl_record_primary {
    uint32_t width, height;
    int32_t stride;
    uint32_t format, position, mouse_mode, flags, type;
};

/*
 * Records the creation of the primary surface: the event line (msg is
 * _CREATE_PRIMARY or _CREATE_PRIMARY_ASYNC), the surface fields (borrowed)
 * and the surface memory `mem` (borrowed; abs(stride) * height bytes from
 * the lowest address, i.e. the translated QXLDevSurfaceCreate.mem). Call it
 * only when the surface was accepted. Accepts rec == NULL.
 */
void qxl_recorder_create_primary(struct qxl_recorder *rec, enum qxl_record_message msg,
                                 const struct qxl_record_primary *surface, const uint8_t *mem);

#endif
