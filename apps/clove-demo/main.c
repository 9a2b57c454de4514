/*
 * clove-demo: a host program that embeds a SPICE server library through the
 * public <spice.h> API only and serves a built-in virtual desktop.
 *
 * DESIGN
 * The program is linked against libspice-server.so.1 by soname, so the same
 * binary runs on any implementation of that ABI (LD_LIBRARY_PATH chooses).
 * It provides the library's SpiceCoreInterface on a GLib main loop (timers
 * are one-shot GSources, watches are a small GSource with a unix fd tag),
 * an in-process QXL device (qxl_device.c), the keyboard/mouse/tablet
 * (input.c), and a desktop renderer (desktop.c) whose changed rectangles are
 * turned into QXL fill and copy commands by update_frame().
 *
 * Every batch of updates is queued first and then, with --frame-out, the
 * framebuffer the client should now show is written as a PPM, so tests can
 * compare a client's capture with it byte for byte.
 *
 * --heads N adds N QXL devices (display channels 0..N-1), each showing its
 * own desktop in its own background colour; input goes to head 0. --agent
 * adds a built-in vdagent (vdagent.c) whose monitors config requests resize
 * the heads: the desktop is rebuilt at the new size and the QXL primary
 * surface recreated, as a guest driver does on a mode change. With
 * --qxl-monitors-config the QXL devices accept the configs instead, so the
 * library hands them to the devices and not to the agent.
 *
 * Thread: everything here runs on the main thread; the library calls the
 * QXL callbacks on its own worker thread (see qxl_device.c).
 */
#include <glib.h>
#include <signal.h>
#include <spice.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib-unix.h>

#include "desktop.h"
#include "input.h"
#include "qxl_device.h"
#include "vdagent.h"

/* ---- SpiceCoreInterface on the GLib default main context ---- */

struct SpiceTimer {
    GSource *source; /* pending timeout, or NULL */
    SpiceTimerFunc func;
    void *opaque;
    struct SpiceTimer *prev;
    struct SpiceTimer *next;
};

struct SpiceWatch {
    GSource source; /* first: GLib allocates the whole struct */
    gpointer tag;
    int fd;
    SpiceWatchFunc func;
    void *opaque;
};

static struct SpiceTimer *live_timers;
static unsigned live_watches;

static gboolean timer_dispatch(gpointer data)
{
    SpiceTimer *timer = data;
    /* One-shot: drop our reference first; the callback may re-arm or remove the timer. */
    g_source_unref(timer->source);
    timer->source = NULL;
    timer->func(timer->opaque);
    return G_SOURCE_REMOVE;
}

static SpiceTimer *core_timer_add(SpiceTimerFunc func, void *opaque)
{
    SpiceTimer *timer = g_new0(SpiceTimer, 1);
    timer->func = func;
    timer->opaque = opaque;
    timer->next = live_timers;
    if (live_timers != NULL) {
        live_timers->prev = timer;
    }
    live_timers = timer;
    return timer;
}

static void core_timer_cancel(SpiceTimer *timer)
{
    if (timer->source != NULL) {
        g_source_destroy(timer->source);
        g_source_unref(timer->source);
        timer->source = NULL;
    }
}

static void core_timer_start(SpiceTimer *timer, uint32_t ms)
{
    core_timer_cancel(timer);
    timer->source = g_timeout_source_new(ms);
    g_source_set_callback(timer->source, timer_dispatch, timer, NULL);
    g_source_attach(timer->source, NULL);
}

static void core_timer_remove(SpiceTimer *timer)
{
    core_timer_cancel(timer);
    if (timer->prev != NULL) {
        timer->prev->next = timer->next;
    } else {
        live_timers = timer->next;
    }
    if (timer->next != NULL) {
        timer->next->prev = timer->prev;
    }
    g_free(timer);
}

static GIOCondition events_to_condition(int event_mask)
{
    GIOCondition cond = 0;
    if (event_mask & SPICE_WATCH_EVENT_READ) {
        cond |= G_IO_IN;
    }
    if (event_mask & SPICE_WATCH_EVENT_WRITE) {
        cond |= G_IO_OUT;
    }
    if (cond != 0) {
        /* Report errors and hang-ups only while someone listens, or poll would spin. */
        cond |= G_IO_ERR | G_IO_HUP;
    }
    return cond;
}

static gboolean watch_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    SpiceWatch *watch = (SpiceWatch *)source;
    GIOCondition cond = g_source_query_unix_fd(source, watch->tag);
    int events = 0;
    if (cond & (G_IO_IN | G_IO_ERR | G_IO_HUP)) {
        events |= SPICE_WATCH_EVENT_READ;
    }
    if (cond & (G_IO_OUT | G_IO_ERR)) {
        events |= SPICE_WATCH_EVENT_WRITE;
    }
    /* GLib holds a reference during dispatch, so the callback may remove this watch. */
    watch->func(watch->fd, events, watch->opaque);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs watch_funcs = {
        .dispatch = watch_dispatch,
};

static SpiceWatch *core_watch_add(int fd, int event_mask, SpiceWatchFunc func, void *opaque)
{
    GSource *source = g_source_new(&watch_funcs, sizeof(SpiceWatch));
    SpiceWatch *watch = (SpiceWatch *)source;
    watch->fd = fd;
    watch->func = func;
    watch->opaque = opaque;
    watch->tag = g_source_add_unix_fd(source, fd, events_to_condition(event_mask));
    g_source_attach(source, NULL);
    live_watches++;
    return watch;
}

static void core_watch_update_mask(SpiceWatch *watch, int event_mask)
{
    g_source_modify_unix_fd(&watch->source, watch->tag, events_to_condition(event_mask));
}

static void core_watch_remove(SpiceWatch *watch)
{
    g_source_destroy(&watch->source);
    g_source_unref(&watch->source);
    live_watches--;
}

static const char *channel_type_name(int type)
{
    static const char *const names[] = {"?",         "main",     "display", "inputs",
                                        "cursor",    "playback", "record",  "tunnel",
                                        "smartcard", "usbredir", "port",    "webdav"};
    return type >= 0 && type < (int)(sizeof(names) / sizeof(names[0])) ? names[type] : "?";
}

/* May be called from the library's threads; stdio keeps each line whole. */
static void core_channel_event(int event, SpiceChannelEventInfo *info)
{
    const char *what = event == SPICE_CHANNEL_EVENT_CONNECTED      ? "connected"
                       : event == SPICE_CHANNEL_EVENT_INITIALIZED  ? "initialized"
                       : event == SPICE_CHANNEL_EVENT_DISCONNECTED ? "disconnected"
                                                                   : "event";
    fprintf(stderr, "clove-demo: channel %s type=%s(%d) id=%d connection=%d%s\n", what,
            channel_type_name(info->type), info->type, info->id, info->connection_id,
            (info->flags & SPICE_CHANNEL_EVENT_FLAG_TLS) ? " tls" : "");
}

static SpiceCoreInterface core_interface = {
        .base =
                {
                        .type = SPICE_INTERFACE_CORE,
                        .description = "clove-demo glib core",
                        .major_version = SPICE_INTERFACE_CORE_MAJOR,
                        .minor_version = SPICE_INTERFACE_CORE_MINOR,
                },
        .timer_add = core_timer_add,
        .timer_start = core_timer_start,
        .timer_cancel = core_timer_cancel,
        .timer_remove = core_timer_remove,
        .watch_add = core_watch_add,
        .watch_update_mask = core_watch_update_mask,
        .watch_remove = core_watch_remove,
        .channel_event = core_channel_event,
};

/* ---- options ---- */

static gchar *opt_addr;
static gint opt_port = 5900;
static gchar *opt_password;
static gint opt_ticket_expiry;
static gboolean opt_no_animation;
static gint opt_seconds;
static gint opt_width = 1024;
static gint opt_height = 768;
static gchar *opt_frame_out;
static gchar *opt_name;
static gchar *opt_image_compression;
static gchar *opt_streaming_video;
static gboolean opt_plain_bitmaps;
static gchar *opt_bitmap_layout;
static gboolean opt_verbose;
static gboolean opt_no_tablet;
static gboolean opt_keep_sigpipe;
static gboolean opt_sasl;
static gchar *opt_sasl_appname;
static gint opt_tls_port;
static gchar *opt_x509_dir;
static gchar **opt_tls_channels;
static gchar **opt_plaintext_channels;
static gint opt_heads = 1;
static gboolean opt_agent;
static gboolean opt_qxl_monitors_config;

#define MAX_HEADS 4

static GOptionEntry option_entries[] = {
        {"addr", 0, 0, G_OPTION_ARG_STRING, &opt_addr, "Address to listen on (127.0.0.1)", "ADDR"},
        {"port", 0, 0, G_OPTION_ARG_INT, &opt_port, "TCP port (5900)", "PORT"},
        {"password", 0, 0, G_OPTION_ARG_STRING, &opt_password,
         "Require this ticket (default: no authentication)", "PASSWORD"},
        {"ticket-expiry", 0, 0, G_OPTION_ARG_INT, &opt_ticket_expiry,
         "Ticket lifetime in seconds (0: never expires)", "SECONDS"},
        {"no-animation", 0, 0, G_OPTION_ARG_NONE, &opt_no_animation,
         "Deterministic scene: no clock, no animation", NULL},
        {"seconds", 0, 0, G_OPTION_ARG_INT, &opt_seconds, "Exit cleanly after N seconds", "N"},
        {"width", 0, 0, G_OPTION_ARG_INT, &opt_width, "Desktop width (1024)", "W"},
        {"height", 0, 0, G_OPTION_ARG_INT, &opt_height, "Desktop height (768)", "H"},
        {"frame-out", 0, 0, G_OPTION_ARG_FILENAME, &opt_frame_out,
         "After each batch of updates, write the expected frame to PATH (PPM)", "PATH"},
        {"name", 0, 0, G_OPTION_ARG_STRING, &opt_name, "Server name sent to clients", "NAME"},
        {"image-compression", 0, 0, G_OPTION_ARG_STRING, &opt_image_compression,
         "off|auto_glz|auto_lz|quic|glz|lz|lz4 (off)", "MODE"},
        {"streaming-video", 0, 0, G_OPTION_ARG_STRING, &opt_streaming_video, "off|all|filter (off)",
         "MODE"},
        {"plain-bitmaps", 0, 0, G_OPTION_ARG_NONE, &opt_plain_bitmaps,
         "Send every bitmap as 32-bit top-down (default: vary formats and layouts)", NULL},
        {"bitmap-layout", 0, 0, G_OPTION_ARG_STRING, &opt_bitmap_layout,
         "Use one layout for every bitmap: 32td|32bu|32pad|24td|24bu|16|pal8|pal1be "
         "(falls back to 32pad where it cannot be exact)",
         "NAME"},
        {"no-tablet", 0, 0, G_OPTION_ARG_NONE, &opt_no_tablet,
         "Do not offer a tablet: clients must use server mouse mode", NULL},
        {"sasl", 0, 0, G_OPTION_ARG_NONE, &opt_sasl,
         "Authenticate clients with SASL (cyrus-sasl; SASL_CONF_PATH finds the config)", NULL},
        {"sasl-appname", 0, 0, G_OPTION_ARG_STRING, &opt_sasl_appname,
         "SASL application name, i.e. the <name>.conf file read (default: qemu)", "NAME"},
        {"tls-port", 0, 0, G_OPTION_ARG_INT, &opt_tls_port,
         "Also listen for TLS on this port (needs --x509-dir)", "PORT"},
        {"x509-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_x509_dir,
         "Directory with ca-cert.pem, server-cert.pem and server-key.pem (as QEMU's x509-dir)",
         "DIR"},
        {"tls-channel", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_tls_channels,
         "Allow this channel (main, display, inputs, cursor, ... or default) over TLS only",
         "NAME"},
        {"plaintext-channel", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_plaintext_channels,
         "Allow this channel without TLS only", "NAME"},
        {"keep-sigpipe", 0, 0, G_OPTION_ARG_NONE, &opt_keep_sigpipe,
         "Leave SIGPIPE at its default (fatal), to check that the library never raises it", NULL},
        {"heads", 0, 0, G_OPTION_ARG_INT, &opt_heads,
         "Number of displays: one QXL device and display channel each (1..4, default 1)", "N"},
        {"agent", 0, 0, G_OPTION_ARG_NONE, &opt_agent,
         "Add a built-in vdagent: clients' monitors configs resize the displays", NULL},
        {"qxl-monitors-config", 0, 0, G_OPTION_ARG_NONE, &opt_qxl_monitors_config,
         "The QXL devices take clients' monitors configs themselves (not the agent)", NULL},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose, "Print input events to stdout", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
};

static int parse_compression(const char *s, SpiceImageCompression *out)
{
    static const struct {
        const char *name;
        SpiceImageCompression value;
    } modes[] = {
            {"off", SPICE_IMAGE_COMPRESSION_OFF},
            {"auto_glz", SPICE_IMAGE_COMPRESSION_AUTO_GLZ},
            {"auto_lz", SPICE_IMAGE_COMPRESSION_AUTO_LZ},
            {"quic", SPICE_IMAGE_COMPRESSION_QUIC},
            {"glz", SPICE_IMAGE_COMPRESSION_GLZ},
            {"lz", SPICE_IMAGE_COMPRESSION_LZ},
            {"lz4", SPICE_IMAGE_COMPRESSION_LZ4},
    };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(s, modes[i].name) == 0) {
            *out = modes[i].value;
            return 0;
        }
    }
    return -1;
}

static int parse_streaming(const char *s, int *out)
{
    if (strcmp(s, "off") == 0) {
        *out = SPICE_STREAM_VIDEO_OFF;
    } else if (strcmp(s, "all") == 0) {
        *out = SPICE_STREAM_VIDEO_ALL;
    } else if (strcmp(s, "filter") == 0) {
        *out = SPICE_STREAM_VIDEO_FILTER;
    } else {
        return -1;
    }
    return 0;
}

/* ---- the demo ---- */

/* One display: a desktop shown through its own QXL device. */
struct head {
    struct desktop *desktop;
    struct qxl_device *qxl;
};

struct demo {
    GMainLoop *loop;
    SpiceServer *server;
    struct head heads[MAX_HEADS];
    int num_heads;
    struct desktop *desktop; /* heads[0]: input and --frame-out */
    struct qxl_device *qxl;  /* heads[0] */
    struct input *input;
    struct vdagent *agent;
    bool agent_added;
    /* Sizes asked through the QXL devices, applied from an idle callback. */
    struct {
        bool pending;
        uint32_t width, height;
    } qxl_request[MAX_HEADS];
    guint qxl_request_id;
    guint update_idle_id;
    guint animation_id;
    gint64 start_us;
    unsigned layout_counter;
    enum bitmap_layout forced_layout; /* BITMAP_LAYOUT_COUNT: rotate through all */
    unsigned frames;
};

/* Queues one head's changed rectangles as QXL commands; returns how many changed. */
static int update_head(struct demo *demo, struct head *head, unsigned *fills, unsigned *copies)
{
    int count = 0;
    const struct desktop_rect *rects = desktop_update(head->desktop, &count);
    const uint32_t *pixels = desktop_pixels(head->desktop);
    int stride = desktop_width(head->desktop);
    for (int i = 0; i < count; i++) {
        const struct desktop_rect *r = &rects[i];
        struct qxl_device_rect qr = {r->x, r->y, r->width, r->height};
        if (r->solid) {
            if (qxl_device_push_fill(head->qxl, &qr, r->color) == 0) {
                (*fills)++;
            }
            continue;
        }
        enum bitmap_layout layout = demo->forced_layout;
        if (layout == BITMAP_LAYOUT_COUNT) {
            layout = (enum bitmap_layout)(demo->layout_counter++ % BITMAP_LAYOUT_COUNT);
        }
        int used = qxl_device_push_copy(head->qxl, &qr, pixels, stride, layout);
        if (used >= 0) {
            copies[used]++;
        }
    }
    if (count > 0 || demo->frames == 0) {
        qxl_device_flush(head->qxl);
    }
    return count;
}

/* Renders, queues the changed rectangles as QXL commands, then writes --frame-out. */
static void update_frame(struct demo *demo)
{
    if (!opt_no_animation) {
        gint64 now = g_get_monotonic_time();
        time_t wall = time(NULL);
        struct tm tm_now;
        localtime_r(&wall, &tm_now);
        for (int h = 0; h < demo->num_heads; h++) {
            desktop_tick(demo->heads[h].desktop, (uint64_t)((now - demo->start_us) / 1000),
                         tm_now.tm_hour * 3600 + tm_now.tm_min * 60 + tm_now.tm_sec);
        }
    }
    unsigned fills = 0;
    unsigned copies[BITMAP_LAYOUT_COUNT] = {0};
    int count = update_head(demo, &demo->heads[0], &fills, copies);
    int others = 0;
    for (int h = 1; h < demo->num_heads; h++) {
        others += update_head(demo, &demo->heads[h], &fills, copies);
    }
    if (opt_verbose && count + others > 0) {
        char stats[256];
        size_t used = 0;
        for (int i = 0; i < BITMAP_LAYOUT_COUNT && used < sizeof(stats); i++) {
            used += (size_t)snprintf(stats + used, sizeof(stats) - used, " %s=%u",
                                     qxl_device_layout_name((enum bitmap_layout)i), copies[i]);
        }
        fprintf(stderr, "clove-demo: frame %u: %u fills, copies%s\n", demo->frames, fills, stats);
    }
    if (count > 0 || demo->frames == 0) {
        if (opt_frame_out != NULL) {
            int err = desktop_write_ppm(demo->desktop, opt_frame_out);
            if (err < 0) {
                fprintf(stderr, "clove-demo: cannot write %s: %s\n", opt_frame_out,
                        g_strerror(-err));
            }
        }
        demo->frames++;
    } else if (others > 0) {
        demo->frames++;
    }
}

/*
 * When the worker falls behind (a slow client fills its pipes), rendering is
 * put off instead of queueing without bound; the diff-based renderer sends the
 * accumulated change in one batch once the queue drains.
 */
#define MAX_QUEUED_DRAWS 1024
#define BACKOFF_MS       20

static gboolean update_idle(gpointer data)
{
    struct demo *demo = data;
    demo->update_idle_id = 0;
    unsigned queued = 0;
    for (int h = 0; h < demo->num_heads; h++) {
        queued += qxl_device_queued(demo->heads[h].qxl);
    }
    if (queued > MAX_QUEUED_DRAWS) {
        demo->update_idle_id = g_timeout_add(BACKOFF_MS, update_idle, demo);
        return G_SOURCE_REMOVE;
    }
    update_frame(demo);
    return G_SOURCE_REMOVE;
}

/* Coalesces changes: one update per main loop iteration at most. */
static void schedule_update(void *opaque)
{
    struct demo *demo = opaque;
    if (demo->update_idle_id == 0) {
        demo->update_idle_id = g_idle_add(update_idle, demo);
    }
}

/* Resizes head i to width x height as a client asked; logs what happened. */
static void resize_head(struct demo *demo, uint32_t i, uint32_t width, uint32_t height)
{
    struct head *head = &demo->heads[i];
    if (width == 0 || height == 0) {
        return; /* disabled: keep the head as it is */
    }
    if (width < 320 || height < 240 || width > 8192 || height > 8192) {
        fprintf(stderr, "clove-demo: head %u: size %ux%u out of range (320x240..8192x8192)\n", i,
                width, height);
        return;
    }
    int w = (int)width;
    int h = (int)height;
    if (w == desktop_width(head->desktop) && h == desktop_height(head->desktop)) {
        return;
    }
    if (desktop_resize(head->desktop, w, h) < 0 || qxl_device_resize(head->qxl, w, h) < 0) {
        fprintf(stderr, "clove-demo: head %u: cannot resize to %dx%d\n", i, w, h);
        return;
    }
    if (i == 0) {
        input_screen_resized(demo->input);
    }
    fprintf(stderr, "clove-demo: head %u resized to %dx%d\n", i, w, h);
    schedule_update(demo);
}

/* The agent got a client's monitors config: resize the heads it names. */
static void agent_monitors(void *opaque, const struct vdagent_monitor *monitors, uint32_t count)
{
    struct demo *demo = opaque;
    for (uint32_t i = 0; i < count && i < (uint32_t)demo->num_heads; i++) {
        resize_head(demo, i, monitors[i].width, monitors[i].height);
    }
}

static gboolean qxl_request_idle(gpointer data)
{
    struct demo *demo = data;
    demo->qxl_request_id = 0;
    for (int i = 0; i < demo->num_heads; i++) {
        if (demo->qxl_request[i].pending) {
            demo->qxl_request[i].pending = false;
            resize_head(demo, (uint32_t)i, demo->qxl_request[i].width, demo->qxl_request[i].height);
        }
    }
    return G_SOURCE_REMOVE;
}

/* A QXL device got its monitor of a client's config (from inside the library). */
static void qxl_monitors(void *opaque, int id, uint32_t width, uint32_t height)
{
    struct demo *demo = opaque;
    if (id < 0 || id >= demo->num_heads) {
        return;
    }
    fprintf(stderr, "clove-demo: qxl %d: client monitors config %ux%u\n", id, width, height);
    demo->qxl_request[id].pending = true;
    demo->qxl_request[id].width = width;
    demo->qxl_request[id].height = height;
    if (demo->qxl_request_id == 0) {
        demo->qxl_request_id = g_idle_add(qxl_request_idle, demo);
    }
}

static gboolean animation_tick(gpointer data)
{
    schedule_update(data);
    return G_SOURCE_CONTINUE;
}

static gboolean quit_loop(gpointer data)
{
    struct demo *demo = data;
    g_main_loop_quit(demo->loop);
    return G_SOURCE_CONTINUE;
}

static int setup_server(struct demo *demo, const char *addr)
{
    SpiceImageCompression compression = SPICE_IMAGE_COMPRESSION_OFF;
    if (opt_image_compression != NULL && parse_compression(opt_image_compression, &compression)) {
        fprintf(stderr, "clove-demo: unknown --image-compression %s\n", opt_image_compression);
        return -1;
    }
    int streaming = SPICE_STREAM_VIDEO_OFF;
    if (opt_streaming_video != NULL && parse_streaming(opt_streaming_video, &streaming)) {
        fprintf(stderr, "clove-demo: unknown --streaming-video %s\n", opt_streaming_video);
        return -1;
    }
    demo->server = spice_server_new();
    if (demo->server == NULL) {
        return -1;
    }
    spice_server_set_addr(demo->server, addr, 0);
    spice_server_set_port(demo->server, opt_port);
    if (opt_tls_port > 0) {
        if (opt_x509_dir == NULL) {
            fprintf(stderr, "clove-demo: --tls-port needs --x509-dir\n");
            return -1;
        }
        gchar *ca = g_build_filename(opt_x509_dir, "ca-cert.pem", NULL);
        gchar *cert = g_build_filename(opt_x509_dir, "server-cert.pem", NULL);
        gchar *key = g_build_filename(opt_x509_dir, "server-key.pem", NULL);
        int tls_rc =
                spice_server_set_tls(demo->server, opt_tls_port, ca, cert, key, NULL, NULL, NULL);
        g_free(ca);
        g_free(cert);
        g_free(key);
        if (tls_rc != 0) {
            fprintf(stderr, "clove-demo: spice_server_set_tls failed\n");
            return -1;
        }
    }
    if (opt_sasl_appname != NULL && spice_server_set_sasl_appname(demo->server, opt_sasl_appname)) {
        fprintf(stderr, "clove-demo: spice_server_set_sasl_appname failed\n");
        return -1;
    }
    if (opt_sasl && spice_server_set_sasl(demo->server, 1) != 0) {
        fprintf(stderr, "clove-demo: spice_server_set_sasl failed (no SASL support?)\n");
        return -1;
    }
    for (gchar **ch = opt_tls_channels; ch && *ch; ch++) {
        if (spice_server_set_channel_security(demo->server, *ch, SPICE_CHANNEL_SECURITY_SSL)) {
            fprintf(stderr, "clove-demo: unknown channel %s\n", *ch);
            return -1;
        }
    }
    for (gchar **ch = opt_plaintext_channels; ch && *ch; ch++) {
        if (spice_server_set_channel_security(demo->server, *ch, SPICE_CHANNEL_SECURITY_NONE)) {
            fprintf(stderr, "clove-demo: unknown channel %s\n", *ch);
            return -1;
        }
    }
    if (opt_password != NULL) {
        spice_server_set_ticket(demo->server, opt_password, opt_ticket_expiry, 0, 0);
    } else {
        spice_server_set_noauth(demo->server);
    }
    spice_server_set_name(demo->server, opt_name != NULL ? opt_name : "clove-demo");
    spice_server_set_image_compression(demo->server, compression);
    /* Lossless output is what makes captures comparable with --frame-out. */
    spice_server_set_jpeg_compression(demo->server, SPICE_WAN_COMPRESSION_NEVER);
    spice_server_set_zlib_glz_compression(demo->server, SPICE_WAN_COMPRESSION_NEVER);
    spice_server_set_streaming_video(demo->server, streaming);
    if (spice_server_init(demo->server, &core_interface) != 0) {
        fprintf(stderr, "clove-demo: spice_server_init failed (cannot listen on %s:%d?)\n", addr,
                opt_port);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    GError *error = NULL;
    GOptionContext *context = g_option_context_new("- SPICE demo desktop");
    g_option_context_add_main_entries(context, option_entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        fprintf(stderr, "clove-demo: %s\n", error->message);
        g_error_free(error);
        g_option_context_free(context);
        return 2;
    }
    g_option_context_free(context);
    const char *addr = opt_addr != NULL ? opt_addr : "127.0.0.1";
    if (opt_port <= 0 || opt_port > 65535 || opt_seconds < 0 || opt_ticket_expiry < 0 ||
        opt_heads < 1 || opt_heads > MAX_HEADS) {
        fprintf(stderr, "clove-demo: invalid --port, --seconds, --ticket-expiry or --heads\n");
        return 2;
    }

    /* Like QEMU, ignore SIGPIPE: the reference library writes to sockets
     * without MSG_NOSIGNAL and relies on it. Ours never raises it, which
     * --keep-sigpipe lets the tests check. */
    if (!opt_keep_sigpipe) {
        signal(SIGPIPE, SIG_IGN);
    }

    int rc = 1;
    struct demo demo = {0};
    demo.forced_layout = opt_plain_bitmaps ? BITMAP_LAYOUT_32_TOP_DOWN : BITMAP_LAYOUT_COUNT;
    if (opt_bitmap_layout != NULL) {
        int i = 0;
        while (i < BITMAP_LAYOUT_COUNT &&
               strcmp(opt_bitmap_layout, qxl_device_layout_name((enum bitmap_layout)i)) != 0) {
            i++;
        }
        if (i == BITMAP_LAYOUT_COUNT) {
            fprintf(stderr, "clove-demo: unknown --bitmap-layout %s\n", opt_bitmap_layout);
            return 2;
        }
        demo.forced_layout = (enum bitmap_layout)i;
    }
    demo.start_us = g_get_monotonic_time();
    demo.loop = g_main_loop_new(NULL, FALSE);
    /* Head 0 keeps the default look; the others get their own background. */
    static const uint32_t head_backgrounds[MAX_HEADS] = {0, 0x8C3A29u, 0x2E7D32u, 0x6A1B9Au};
    demo.num_heads = opt_heads;
    for (int h = 0; h < demo.num_heads; h++) {
        gchar *head_name = NULL;
        if (h > 0) {
            head_name = g_strdup_printf("%s #%d", opt_name != NULL ? opt_name : "clove-demo", h);
        }
        struct desktop_options desktop_options = {
                .width = opt_width,
                .height = opt_height,
                .animation = !opt_no_animation,
                .name = h > 0 ? head_name : opt_name,
                .background = head_backgrounds[h],
        };
        demo.heads[h].desktop = desktop_create(&desktop_options);
        g_free(head_name);
        if (demo.heads[h].desktop == NULL) {
            fprintf(stderr, "clove-demo: invalid size %dx%d (320x240 .. 8192x8192)\n", opt_width,
                    opt_height);
            rc = 2;
            goto error_desktop;
        }
    }
    demo.desktop = demo.heads[0].desktop;
    if (setup_server(&demo, addr) < 0) {
        goto error_server;
    }
    for (int h = 0; h < demo.num_heads; h++) {
        struct qxl_device *qxl = qxl_device_create(demo.server, opt_width, opt_height);
        demo.heads[h].qxl = qxl;
        if (qxl != NULL) {
            qxl_device_set_id(qxl, h);
            if (opt_qxl_monitors_config) {
                qxl_device_set_monitors_handler(qxl, qxl_monitors, &demo);
            }
        }
        if (qxl == NULL || spice_server_add_interface(demo.server, qxl_device_base(qxl))) {
            fprintf(stderr, "clove-demo: cannot add QXL device %d\n", h);
            goto error_server;
        }
    }
    demo.qxl = demo.heads[0].qxl;
    demo.input =
            input_create(demo.server, demo.desktop, demo.qxl, opt_verbose, schedule_update, &demo);
    if (demo.input == NULL || input_attach(demo.input, !opt_no_tablet) < 0) {
        fprintf(stderr, "clove-demo: cannot add the input devices\n");
        goto error_server;
    }
    input_send_cursor(demo.input);
    if (opt_agent) {
        demo.agent = vdagent_create(demo.server, opt_verbose, agent_monitors, &demo);
        if (spice_server_add_interface(demo.server, vdagent_base(demo.agent)) != 0) {
            fprintf(stderr, "clove-demo: cannot add the vdagent char device\n");
            goto error_server;
        }
        demo.agent_added = true;
    }
    update_frame(&demo);

    printf("clove-demo: listening on %s:%d\n", addr, opt_port);
    printf("clove-demo: connect with: remote-viewer spice://%s:%d\n", addr, opt_port);
    fflush(stdout);

    guint sigint_id = g_unix_signal_add(SIGINT, quit_loop, &demo);
    guint sigterm_id = g_unix_signal_add(SIGTERM, quit_loop, &demo);
    guint seconds_id = 0;
    if (opt_seconds > 0) {
        seconds_id = g_timeout_add_seconds((guint)opt_seconds, quit_loop, &demo);
    }
    if (!opt_no_animation) {
        demo.animation_id = g_timeout_add(100, animation_tick, &demo);
    }
    g_main_loop_run(demo.loop);
    rc = 0;

    g_source_remove(sigint_id);
    g_source_remove(sigterm_id);
    if (seconds_id != 0) {
        g_source_remove(seconds_id);
    }
    if (demo.animation_id != 0) {
        g_source_remove(demo.animation_id);
    }
    if (demo.update_idle_id != 0) {
        g_source_remove(demo.update_idle_id);
    }
    if (demo.qxl_request_id != 0) {
        g_source_remove(demo.qxl_request_id);
    }
    fprintf(stderr, "clove-demo: shutting down after %u frames\n", demo.frames);

error_server:
    if (demo.server != NULL) {
        if (demo.agent_added) {
            spice_server_remove_interface(vdagent_base(demo.agent));
        }
        input_detach(demo.input);
        spice_server_destroy(demo.server);
    }
    vdagent_destroy(demo.agent);
    input_destroy(demo.input);
    for (int h = 0; h < demo.num_heads; h++) {
        qxl_device_destroy(demo.heads[h].qxl);
    }
    /* Timers the library never removed would leak; free them and say so. */
    while (live_timers != NULL) {
        fprintf(stderr, "clove-demo: library left a timer behind\n");
        core_timer_remove(live_timers);
    }
    if (live_watches != 0) {
        fprintf(stderr, "clove-demo: library left %u watch(es) behind\n", live_watches);
    }
error_desktop:
    for (int h = 0; h < demo.num_heads; h++) {
        desktop_destroy(demo.heads[h].desktop);
    }
    g_main_loop_unref(demo.loop);
    g_free(opt_addr);
    g_free(opt_password);
    g_free(opt_frame_out);
    g_free(opt_name);
    g_free(opt_image_compression);
    g_free(opt_x509_dir);
    g_free(opt_sasl_appname);
    g_strfreev(opt_tls_channels);
    g_strfreev(opt_plaintext_channels);
    g_free(opt_streaming_video);
    g_free(opt_bitmap_layout);
    return rc;
}
