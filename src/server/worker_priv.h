/*
 * Worker internals shared by worker.c (thread, QXL command processing),
 * qxl_api.c (the spice_qxl_* entry points), the display_*.c files and
 * cursor_channel.c. Everything here belongs to the worker thread unless
 * marked otherwise.
 */
#ifndef CLOVE_SERVER_WORKER_PRIV_H
#define CLOVE_SERVER_WORKER_PRIV_H

#include <pthread.h>

#include "display/canvas.h"
#include "display/memslot.h"
#include "display/qxl_parse.h"
#include "loop/loop.h"
#include "loop/msg_queue.h"
#include "server/channel.h"
#include "server/draw_tree.h"
#include "server/worker.h"

#define WORKER_MAX_HEADS 16

struct display_client;
struct cursor_client;

/* A surface: the primary (id 0) or an offscreen one the guest created. */
struct worker_surface {
    bool created;
    uint32_t width, height, format;
    int32_t stride;
    uint8_t *mem;   /* borrows guest memory: the lowest address of the surface */
    struct canvas_surface canvas;
};

#define WORKER_MAX_SURFACES 1024

struct QXLState {
    struct worker *worker;
};

struct worker {
    struct RedsState *server; /* main thread only */
    QXLInstance *qxl;
    const QXLInterface *qif;
    int id;
    QXLDevInitInfo init_info;
    struct QXLState state;

    pthread_t thread;
    bool thread_started;
    struct loop *loop;
    struct msg_queue *queue;
    bool quit;

    struct memslot_table memslots;
    bool running;
    int wakeup_pending; /* atomic */
    struct msg_item wakeup_item;
    struct loop_timer *process_timer;

    struct worker_surface *surfaces; /* owns: n_surfaces; [0] is the primary */
    uint32_t n_surfaces;
    struct draw_tree *trees; /* owns: n_surfaces; the unsent draws of each surface */
    struct draw_tree_stats tree_stats;
    struct draw_item **pending; /* owns refs: draws the canvas has not drawn yet, in order */
    uint32_t num_pending, cap_pending;
    struct wire_head_cfg {
        uint32_t id, surface_id, width, height, x, y, flags;
    } heads[WORKER_MAX_HEADS];
    uint16_t num_heads;
    uint16_t max_monitors;
    bool guest_monitors_config; /* heads came from the guest */

    /* cursor state */
    struct qxl_cursor_shape *cursor_shape; /* owns */
    struct qxl_point cursor_position;
    bool cursor_visible;
    uint16_t trail_length, trail_frequency;

    struct display_client *displays;
    struct cursor_client *cursors;
    int tablet_width, tablet_height; /* atomic-ish: read on main */
    uint64_t image_serial;
    uint64_t commands_processed;
};

/* worker.c */
void worker_process_commands(struct worker *w);
/* Thread: any. Asks the worker to read the rings (spice_qxl_wakeup). */
void worker_wakeup(struct worker *w);
void worker_release(struct worker *w, uint64_t addr, uint32_t group);
void worker_post_tablet_size(struct worker *w);
void worker_create_primary(struct worker *w, uint32_t surface_id, const QXLDevSurfaceCreate *c);
void worker_destroy_primary(struct worker *w);
/* Destroys one surface (telling clients), or every surface. */
void worker_destroy_surface(struct worker *w, uint32_t surface_id);
void worker_destroy_all_surfaces(struct worker *w);
static inline struct worker_surface *worker_primary(struct worker *w)
{
    return &w->surfaces[0];
}
void worker_async_complete(struct worker *w, uint64_t cookie);
/* Draws the deferred draw items on the server's canvas (a no-op when there
 * are none): call before reading a surface. */
void worker_render_pending(struct worker *w);
void worker_update_client_caps(struct worker *w);

/* display_channel.c, display_draw.c (display_broadcast_drawable) */
void display_client_create(struct worker *w, struct stream *stream, const struct link_mess *link,
                           bool mini_header);
void display_clients_close_session(struct worker *w, uint32_t session_id);
void display_clients_close_all(struct worker *w);
/* SURFACE_CREATE for one surface, plus its content when `with_image`. */
void display_broadcast_surface_create(struct worker *w, uint32_t surface_id, bool with_image);
void display_broadcast_surface_destroy(struct worker *w, uint32_t surface_id);
/* Queues a rendered draw item (borrows; clients take references) for every
 * client, then adds it to its surface's draw tree. */
void display_broadcast_drawable(struct worker *w, struct draw_item *item);
/* Holds every display client for a batch of commands (nothing is written
 * meanwhile, so draws hidden within the batch are never encoded), then
 * writes what the batch queued. */
void display_clients_hold(struct worker *w);
void display_clients_kick(struct worker *w);
/* Every client gets every surface as an image, once its queue drains
 * (after a queued draw turned out not to be drawable). */
void display_clients_fall_back(struct worker *w);
void display_broadcast_monitors_config(struct worker *w);
void display_broadcast_mark(struct worker *w);
/* True if every connected display client has this cap (and one exists). */
bool display_clients_have_cap(struct worker *w, unsigned cap, bool *any);

/* cursor_channel.c */
void cursor_client_create(struct worker *w, struct stream *stream, const struct link_mess *link,
                          bool mini_header);
void cursor_clients_close_session(struct worker *w, uint32_t session_id);
void cursor_clients_close_all(struct worker *w);
void cursor_process_command(struct worker *w, struct qxl_cursor_cmd *cmd);
void cursor_reset(struct worker *w);

#endif
