/*
 * clove-replay: serves a recorded QXL command stream (a file written under
 * SPICE_WORKER_RECORD_FILENAME by any libspice-server) to SPICE clients.
 *
 * DESIGN
 * Built on the public <spice.h> API only and linked to libspice-server.so.1
 * by soname, so LD_LIBRARY_PATH picks the implementation: ours or Debian's,
 * whose spice_replay_* then read the file. The host side is the same as the
 * reference's replay tool: a SpiceCoreInterface on a GLib main loop, and a
 * QXL device that maps the whole address space as memslot 0 of group 0
 * (replayed commands live in host memory). The main loop reads commands with
 * spice_replay_next_cmd (which also creates the primary surface when the
 * recording does) and queues them; the library's worker thread takes them
 * from the queues and hands them back through release_resource, which frees
 * them with spice_replay_free_cmd.
 *
 * The trace is "done" when the file is exhausted (or --count commands were
 * read) and the worker has taken every queued command; the program says so
 * on stdout, keeps serving, and exits once a display client that connected
 * has gone again after that (or at --seconds, or with --exit-when-done).
 *
 * Thread: main thread, except the QXL callbacks and channel events, which
 * the library calls from its threads (the queues are locked, flags atomic).
 */
#include <glib.h>
#include <spice.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>

#define QUEUE_TARGET 50

/* ---- SpiceCoreInterface on the GLib default context ---- */

struct SpiceTimer {
    GSource *source;
    SpiceTimerFunc func;
    void *opaque;
};

struct SpiceWatch {
    GSource source; /* first: GLib allocates the whole struct */
    gpointer tag;
    int fd;
    SpiceWatchFunc func;
    void *opaque;
};

static gboolean timer_fire(gpointer data)
{
    SpiceTimer *t = data;
    g_source_unref(t->source);
    t->source = NULL;
    t->func(t->opaque);
    return G_SOURCE_REMOVE;
}

static SpiceTimer *timer_add(SpiceTimerFunc func, void *opaque)
{
    SpiceTimer *t = g_new0(SpiceTimer, 1);
    t->func = func;
    t->opaque = opaque;
    return t;
}

static void timer_cancel(SpiceTimer *t)
{
    if (t->source) {
        g_source_destroy(t->source);
        g_source_unref(t->source);
        t->source = NULL;
    }
}

static void timer_start(SpiceTimer *t, uint32_t ms)
{
    timer_cancel(t);
    t->source = g_timeout_source_new(ms);
    g_source_set_callback(t->source, timer_fire, t, NULL);
    g_source_attach(t->source, NULL);
}

static void timer_remove(SpiceTimer *t)
{
    timer_cancel(t);
    g_free(t);
}

static GIOCondition watch_condition(int mask)
{
    GIOCondition c = 0;
    if (mask & SPICE_WATCH_EVENT_READ) {
        c |= G_IO_IN;
    }
    if (mask & SPICE_WATCH_EVENT_WRITE) {
        c |= G_IO_OUT;
    }
    return c ? c | G_IO_ERR | G_IO_HUP : 0;
}

static gboolean watch_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    SpiceWatch *w = (SpiceWatch *)source;
    GIOCondition c = g_source_query_unix_fd(source, w->tag);
    int events = 0;
    if (c & (G_IO_IN | G_IO_ERR | G_IO_HUP)) {
        events |= SPICE_WATCH_EVENT_READ;
    }
    if (c & (G_IO_OUT | G_IO_ERR)) {
        events |= SPICE_WATCH_EVENT_WRITE;
    }
    w->func(w->fd, events, w->opaque);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs watch_funcs = {.dispatch = watch_dispatch};

static SpiceWatch *watch_add(int fd, int mask, SpiceWatchFunc func, void *opaque)
{
    SpiceWatch *w = (SpiceWatch *)g_source_new(&watch_funcs, sizeof(SpiceWatch));
    w->fd = fd;
    w->func = func;
    w->opaque = opaque;
    w->tag = g_source_add_unix_fd(&w->source, fd, watch_condition(mask));
    g_source_attach(&w->source, NULL);
    return w;
}

static void watch_update_mask(SpiceWatch *w, int mask)
{
    g_source_modify_unix_fd(&w->source, w->tag, watch_condition(mask));
}

static void watch_remove(SpiceWatch *w)
{
    g_source_destroy(&w->source);
    g_source_unref(&w->source);
}

/* ---- state shared with the library's threads ---- */

static SpiceServer *server;
static SpiceReplay *replay;
static QXLInstance qxl;
static GMutex queue_lock;
static GQueue display_queue = G_QUEUE_INIT;
static GQueue cursor_queue = G_QUEUE_INIT;
static gint attached;        /* atomic: the worker is attached */
static gint trace_done;      /* atomic: done was announced */
static gint display_clients; /* atomic: display channels now connected */
static gint served;          /* atomic: a display client left after done */
static gint commands_read;   /* main thread */
static gboolean eof;         /* main thread */
static GMainLoop *main_loop;

static void channel_event(int event, SpiceChannelEventInfo *info)
{
    if (info->type != SPICE_CHANNEL_DISPLAY) {
        return;
    }
    if (event == SPICE_CHANNEL_EVENT_INITIALIZED) {
        g_atomic_int_inc(&display_clients);
        fprintf(stderr, "clove-replay: display client connected\n");
    } else if (event == SPICE_CHANNEL_EVENT_DISCONNECTED) {
        g_atomic_int_add(&display_clients, -1);
        if (g_atomic_int_get(&trace_done)) {
            g_atomic_int_set(&served, 1);
        }
    }
}

static SpiceCoreInterface core = {
        .base = {.type = SPICE_INTERFACE_CORE,
                 .description = "clove-replay glib core",
                 .major_version = SPICE_INTERFACE_CORE_MAJOR,
                 .minor_version = SPICE_INTERFACE_CORE_MINOR},
        .timer_add = timer_add,
        .timer_start = timer_start,
        .timer_cancel = timer_cancel,
        .timer_remove = timer_remove,
        .watch_add = watch_add,
        .watch_update_mask = watch_update_mask,
        .watch_remove = watch_remove,
        .channel_event = channel_event,
};

/* ---- the QXL device (library worker thread) ---- */

static void qxl_attached(QXLInstance *sin)
{
    /* The whole address space, as the reference's replay tool maps it. */
    QXLDevMemSlot slot = {.slot_group_id = 0,
                          .slot_id = 0,
                          .generation = 0,
                          .virt_start = 0,
                          .virt_end = ~(uintptr_t)0,
                          .addr_delta = 0,
                          .qxl_ram_size = ~0u};
    spice_qxl_add_memslot(sin, &slot);
    g_atomic_int_set(&attached, 1);
}

static void qxl_set_compression_level(QXLInstance *sin, int level)
{
}

static void qxl_get_init_info(QXLInstance *sin, QXLDevInitInfo *info)
{
    memset(info, 0, sizeof(*info));
    info->num_memslots = 1;
    info->num_memslots_groups = 1;
    info->memslot_id_bits = 1;
    info->memslot_gen_bits = 1;
    info->n_surfaces = 1024;
}

static int pop_command(GQueue *q, QXLCommandExt *ext)
{
    g_mutex_lock(&queue_lock);
    QXLCommandExt *cmd = g_queue_pop_head(q);
    g_mutex_unlock(&queue_lock);
    if (!cmd) {
        return FALSE;
    }
    *ext = *cmd;
    return TRUE;
}

static int queue_empty(GQueue *q)
{
    g_mutex_lock(&queue_lock);
    int empty = g_queue_is_empty(q);
    g_mutex_unlock(&queue_lock);
    return empty;
}

static int qxl_get_command(QXLInstance *sin, QXLCommandExt *ext)
{
    return pop_command(&display_queue, ext);
}

static int qxl_req_cmd_notification(QXLInstance *sin)
{
    return queue_empty(&display_queue);
}

static int qxl_get_cursor_command(QXLInstance *sin, QXLCommandExt *ext)
{
    return pop_command(&cursor_queue, ext);
}

static int qxl_req_cursor_notification(QXLInstance *sin)
{
    return queue_empty(&cursor_queue);
}

static void qxl_release_resource(QXLInstance *sin, QXLReleaseInfoExt info)
{
    /* The replay put the command's own address in the release id. */
    spice_replay_free_cmd(replay, (QXLCommandExt *)(uintptr_t)info.info->id);
}

static void qxl_notify_update(QXLInstance *sin, uint32_t update_id)
{
}

static int qxl_flush_resources(QXLInstance *sin)
{
    return 0;
}

static void qxl_async_complete(QXLInstance *sin, uint64_t cookie)
{
}

static QXLInterface qxl_interface = {
        .base = {.type = SPICE_INTERFACE_QXL,
                 .description = "clove-replay",
                 .major_version = SPICE_INTERFACE_QXL_MAJOR,
                 .minor_version = SPICE_INTERFACE_QXL_MINOR},
        .attached_worker = qxl_attached,
        .set_compression_level = qxl_set_compression_level,
        .get_init_info = qxl_get_init_info,
        .get_command = qxl_get_command,
        .req_cmd_notification = qxl_req_cmd_notification,
        .release_resource = qxl_release_resource,
        .get_cursor_command = qxl_get_cursor_command,
        .req_cursor_notification = qxl_req_cursor_notification,
        .notify_update = qxl_notify_update,
        .flush_resources = qxl_flush_resources,
        .async_complete = qxl_async_complete,
};

/* ---- options ---- */

static gint opt_port = 5900;
static gint opt_slow;
static gint opt_count;
static gint opt_seconds;
static gchar *opt_image_compression;
static gboolean opt_exit_when_done;

static GOptionEntry entries[] = {
        {"port", 'p', 0, G_OPTION_ARG_INT, &opt_port, "TCP port on 127.0.0.1 (5900)", "PORT"},
        {"slow", 's', 0, G_OPTION_ARG_INT, &opt_slow, "Wait USEC microseconds between commands",
         "USEC"},
        {"count", 'n', 0, G_OPTION_ARG_INT, &opt_count, "Replay only the first N commands", "N"},
        {"seconds", 0, 0, G_OPTION_ARG_INT, &opt_seconds, "Exit after N seconds in any case", "N"},
        {"image-compression", 0, 0, G_OPTION_ARG_STRING, &opt_image_compression,
         "off|auto_glz|auto_lz|quic|glz|lz|lz4 (the library's default)", "MODE"},
        {"exit-when-done", 0, 0, G_OPTION_ARG_NONE, &opt_exit_when_done,
         "Exit as soon as the trace is done, without waiting for a client", NULL},
        {NULL},
};

static int compression_from_name(const char *name)
{
    static const struct {
        const char *name;
        SpiceImageCompression value;
    } modes[] = {{"off", SPICE_IMAGE_COMPRESSION_OFF},
                 {"auto_glz", SPICE_IMAGE_COMPRESSION_AUTO_GLZ},
                 {"auto_lz", SPICE_IMAGE_COMPRESSION_AUTO_LZ},
                 {"quic", SPICE_IMAGE_COMPRESSION_QUIC},
                 {"glz", SPICE_IMAGE_COMPRESSION_GLZ},
                 {"lz", SPICE_IMAGE_COMPRESSION_LZ},
                 {"lz4", SPICE_IMAGE_COMPRESSION_LZ4}};
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        if (strcmp(name, modes[i].name) == 0) {
            return (int)modes[i].value;
        }
    }
    return -1;
}

/* ---- feeding the queues (main thread) ---- */

static gboolean check_done(gpointer data);

/* Reads up to `max` commands into the queues; returns how many. */
static int feed(int max)
{
    int n = 0;
    while (!eof && n < max) {
        g_mutex_lock(&queue_lock);
        guint queued = display_queue.length + cursor_queue.length;
        g_mutex_unlock(&queue_lock);
        if (queued >= QUEUE_TARGET) {
            break;
        }
        QXLCommandExt *cmd = NULL;
        if (opt_count <= 0 || commands_read < opt_count) {
            cmd = spice_replay_next_cmd(replay, &qxl);
        }
        if (!cmd) {
            eof = TRUE;
            break;
        }
        commands_read++;
        n++;
        g_mutex_lock(&queue_lock);
        g_queue_push_tail(cmd->cmd.type == QXL_CMD_CURSOR ? &cursor_queue : &display_queue, cmd);
        g_mutex_unlock(&queue_lock);
    }
    if (n > 0) {
        spice_qxl_wakeup(&qxl);
    }
    return n;
}

static gboolean feed_tick(gpointer data)
{
    if (!g_atomic_int_get(&attached)) {
        return G_SOURCE_CONTINUE;
    }
    feed(opt_slow > 0 ? 1 : QUEUE_TARGET);
    if (eof) {
        g_timeout_add(20, check_done, NULL);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean check_done(gpointer data)
{
    if (!g_atomic_int_get(&trace_done)) {
        if (!queue_empty(&display_queue) || !queue_empty(&cursor_queue)) {
            spice_qxl_wakeup(&qxl);
            return G_SOURCE_CONTINUE;
        }
        g_atomic_int_set(&trace_done, 1);
        printf("clove-replay: trace done, %d commands\n", commands_read);
        fflush(stdout);
        if (opt_exit_when_done) {
            g_main_loop_quit(main_loop);
            return G_SOURCE_REMOVE;
        }
    }
    if (g_atomic_int_get(&served)) {
        g_main_loop_quit(main_loop);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean quit_now(gpointer data)
{
    g_main_loop_quit(main_loop);
    return G_SOURCE_REMOVE;
}

static void free_queue(GQueue *q)
{
    QXLCommandExt *cmd;
    while ((cmd = g_queue_pop_head(q)) != NULL) {
        spice_replay_free_cmd(replay, cmd);
    }
}

int main(int argc, char **argv)
{
    GError *error = NULL;
    GOptionContext *ctx = g_option_context_new("FILE - serve a recorded QXL command stream");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2) {
        fprintf(stderr, "clove-replay: %s\n", error ? error->message : "one FILE is needed");
        g_clear_error(&error);
        g_option_context_free(ctx);
        return 2;
    }
    g_option_context_free(ctx);
    int compression = -1;
    if (opt_image_compression && (compression = compression_from_name(opt_image_compression)) < 0) {
        fprintf(stderr, "clove-replay: unknown image compression %s\n", opt_image_compression);
        return 2;
    }
    FILE *file = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "rb");
    if (!file) {
        perror(argv[1]);
        return 1;
    }
    replay = spice_replay_new(file, 1024);
    if (!replay) {
        fprintf(stderr, "clove-replay: %s is not a replay file\n", argv[1]);
        fclose(file);
        return 1;
    }
    main_loop = g_main_loop_new(NULL, FALSE);
    server = spice_server_new();
    spice_server_set_addr(server, "127.0.0.1", 0);
    spice_server_set_port(server, opt_port);
    spice_server_set_noauth(server);
    if (compression >= 0) {
        spice_server_set_image_compression(server, (SpiceImageCompression)compression);
    }
    if (spice_server_init(server, &core) != 0) {
        fprintf(stderr, "clove-replay: spice_server_init failed (port %d)\n", opt_port);
        return 1;
    }
    qxl.base.sif = &qxl_interface.base;
    qxl.id = 0;
    if (spice_server_add_interface(server, &qxl.base) != 0) {
        fprintf(stderr, "clove-replay: cannot add the QXL device\n");
        return 1;
    }
    spice_server_vm_start(server);
    printf("clove-replay: listening on 127.0.0.1:%d\n", opt_port);
    fflush(stdout);

    guint interval = opt_slow > 0 ? (guint)(opt_slow + 999) / 1000 : 1;
    g_timeout_add(interval, feed_tick, NULL);
    if (opt_seconds > 0) {
        g_timeout_add_seconds((guint)opt_seconds, quit_now, NULL);
    }
    g_unix_signal_add(SIGINT, quit_now, NULL);
    g_unix_signal_add(SIGTERM, quit_now, NULL);
    g_main_loop_run(main_loop);

    int done = g_atomic_int_get(&trace_done);
    fprintf(stderr, "clove-replay: %d commands read, trace %s\n", commands_read,
            done ? "done" : "not finished");
    spice_server_destroy(server);
    free_queue(&display_queue);
    free_queue(&cursor_queue);
    spice_replay_free(replay); /* closes the file */
    g_main_loop_unref(main_loop);
    return done ? 0 : 3;
}
