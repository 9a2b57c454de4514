/*
 * One display worker per QXL device: a thread with its own event loop that
 * reads the device's command and cursor rings, keeps the primary surface
 * rendered, and owns the display and cursor channel clients of every
 * session for that device.
 *
 * The functions below are called on the host's main loop; they reach the
 * worker thread through its message queue.
 */
#ifndef CLOVE_SERVER_WORKER_H
#define CLOVE_SERVER_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <spice.h>

#include "proto/link.h"
#include "transport/stream.h"

struct RedsState;
struct worker;

/* Creates the worker and starts its thread; asks the device for its init
 * info. Returns NULL on failure (logged). */
struct worker *worker_create(struct RedsState *server, QXLInstance *qxl, int id);
/* Calls the device's attached_worker (which typically adds memslots and the
 * primary surface through spice_qxl_*). */
void worker_attach(struct worker *w);
/* Stops the thread, closes its clients, frees everything. Accepts NULL. */
void worker_destroy(struct worker *w);
void worker_set_running(struct worker *w, bool running);
/* Hands a linked display or cursor channel to the worker (takes stream). */
void worker_attach_client(struct worker *w, struct stream *stream, const struct link_mess *link,
                          bool mini_header);
/* Closes the display and cursor channels of a session. */
void worker_detach_session(struct worker *w, uint32_t session_id);
/* Tells the tablet the primary surface's size again. */
void worker_refresh_tablet_size(struct worker *w);

struct worker *worker_from_qxl(QXLInstance *qxl);
struct RedsState *worker_server(struct worker *w);

#endif
