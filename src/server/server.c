/*
 * The server object and the core of the public API of <spice.h>:
 * configuration, device interfaces, sessions, mouse mode and the glue between
 * the link stage, the channels and the display workers.
 *
 * DESIGN
 * Everything here runs on the host's main loop (through loop_core), except
 * the QXL workers, which own their display and cursor channel clients on
 * their own threads. Workers reach back here only through `main_queue`
 * (channel events, session bookkeeping).
 *
 * A session is one client: created when a main channel links, found by its
 * id (the connection_id other channels link with), gone when its main
 * channel closes, which also closes its other channels. Several clients may
 * be connected at once, up to max_clients.
 */
#include "server/server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/error.h"
#include "common/log.h"
#include "loop/loop_core.h"
#include "server/api_stubs.h"
#include "server/channel.h"
#include "server/char_device.h"
#include "server/export.h"
#include "server/worker.h"
#include "server/worker_priv.h"

struct SpiceKbdState {
    struct RedsState *server;
};

struct SpiceMouseState {
    struct RedsState *server;
};

struct SpiceTabletState {
    struct RedsState *server;
};

static uint32_t env_u32(const char *name, uint32_t def)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        return def;
    }
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    return *end == '\0' && n > 0 && n < UINT32_MAX ? (uint32_t)n : def;
}

SPICE_EXPORT SpiceServer *spice_server_new(void)
{
    struct RedsState *s = calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    s->port = -1;
    s->external_listen_fd = -1;
    s->ticketing = true;
    s->image_compression = SPICE_IMAGE_COMPRESSION_AUTO_GLZ;
    s->jpeg_compression = SPICE_WAN_COMPRESSION_AUTO;
    s->zlib_glz_compression = SPICE_WAN_COMPRESSION_AUTO;
    s->streaming_video = SPICE_STREAM_VIDEO_FILTER;
    s->playback_compression = true;
    s->agent_mouse = true;
    s->agent_copypaste = true;
    s->agent_file_xfer = true;
    s->default_channel_security = SPICE_CHANNEL_SECURITY_NONE | SPICE_CHANNEL_SECURITY_SSL;
    for (size_t i = 0; i < sizeof(s->channel_security) / sizeof(s->channel_security[0]); i++) {
        s->channel_security[i] = -1;
    }
    s->mouse_mode = SPICE_MOUSE_MODE_SERVER;
    s->link_timeout_ms = env_u32("CLOVE_LINK_TIMEOUT_MS", 10000);
    s->max_clients = env_u32("CLOVE_MAX_CLIENTS", SERVER_DEFAULT_MAX_CLIENTS);
    s->mm_time_base_ms = (uint32_t)loop_now_ms();
    return s;
}

SPICE_EXPORT int spice_server_init(SpiceServer *s, SpiceCoreInterface *core)
{
    if (!s || !core) {
        log_error("spice_server_init: no server or no core interface");
        return -1;
    }
    if (s->initialized) {
        log_error("spice_server_init: called twice");
        return -1;
    }
    if (core->base.major_version != SPICE_INTERFACE_CORE_MAJOR || !core->timer_add ||
        !core->watch_add || !core->watch_remove || !core->timer_remove) {
        log_error("spice_server_init: unsupported core interface %u.%u", core->base.major_version,
                  core->base.minor_version);
        return -1;
    }
    s->core = core;
    s->loop = loop_core_create(core);
    if (!s->loop) {
        return -1;
    }
    s->main_queue = msg_queue_create(s->loop);
    if (!s->main_queue) {
        goto error_queue;
    }
    if (s->port > 0 || s->tls_port > 0 || s->external_listen_fd >= 0 ||
        (s->addr_flags & SPICE_ADDR_FLAG_UNIX_ONLY)) {
        if (listener_start(s) < 0) {
            log_error("spice_server_init: cannot listen on %s:%d", s->addr ? s->addr : "*",
                      s->port);
            goto error_listen;
        }
    }
    s->initialized = true;
    ticket_pool_start();
    return 0;

error_listen:
    msg_queue_destroy(s->main_queue);
    s->main_queue = NULL;
error_queue:
    loop_destroy(s->loop);
    s->loop = NULL;
    return -1;
}

static void server_close_session(struct RedsState *s, struct session *session, bool notify);

SPICE_EXPORT void spice_server_destroy(SpiceServer *s)
{
    if (!s) {
        return;
    }
    listener_stop(s);
    if (s->initialized) {
        ticket_pool_stop();
    }
    if (s->loop) {
        link_conn_destroy_all(s);
    }
    while (s->sessions) {
        server_close_session(s, s->sessions, false);
    }
    char_device_destroy_all(s);
    for (int i = 0; i < s->num_workers; i++) {
        worker_destroy(s->workers[i]);
        s->workers[i] = NULL;
    }
    s->num_workers = 0;
    if (s->main_queue) {
        msg_queue_drain(s->main_queue);
        msg_queue_destroy(s->main_queue);
    }
    api_stubs_set_migration(s, NULL);
    if (s->keyboard) {
        free(s->keyboard->st);
        s->keyboard->st = NULL;
    }
    if (s->mouse) {
        free(s->mouse->st);
        s->mouse->st = NULL;
    }
    if (s->tablet) {
        free(s->tablet->st);
        s->tablet->st = NULL;
    }
    loop_destroy(s->loop);
    OPENSSL_cleanse(s->password, sizeof(s->password));
    free(s->addr);
    free(s->name);
    free(s->video_codecs);
    free(s);
}

/* ---- configuration ---- */

SPICE_EXPORT spice_compat_version_t spice_get_current_compat_version(void)
{
    return SPICE_COMPAT_VERSION_CURRENT;
}

SPICE_EXPORT int spice_server_set_compat_version(SpiceServer *s, spice_compat_version_t version)
{
    if (version < SPICE_COMPAT_VERSION_0_6) {
        log_warn("spice_server_set_compat_version: version %d is not supported", version);
        return -1;
    }
    if (version > SPICE_COMPAT_VERSION_CURRENT) {
        return -1;
    }
    return 0;
}

SPICE_EXPORT int spice_server_set_port(SpiceServer *s, int port)
{
    if (!s || port < 0 || port > 0xffff) {
        return -1;
    }
    s->port = port;
    return 0;
}

SPICE_EXPORT void spice_server_set_addr(SpiceServer *s, const char *addr, int flags)
{
    if (!s) {
        return;
    }
    free(s->addr);
    s->addr = addr && *addr ? strdup(addr) : NULL;
    s->addr_flags = flags;
}

SPICE_EXPORT int spice_server_set_listen_socket_fd(SpiceServer *s, int listen_fd)
{
    if (!s) {
        return -1;
    }
    s->external_listen_fd = listen_fd;
    return 0;
}

SPICE_EXPORT int spice_server_set_exit_on_disconnect(SpiceServer *s, int flag)
{
    if (!s) {
        return -1;
    }
    s->exit_on_disconnect = flag != 0;
    return 0;
}

SPICE_EXPORT int spice_server_set_noauth(SpiceServer *s)
{
    if (!s) {
        return -1;
    }
    OPENSSL_cleanse(s->password, sizeof(s->password));
    s->password_set = false;
    s->ticketing = false;
    return 0;
}

SPICE_EXPORT int spice_server_set_ticket(SpiceServer *s, const char *passwd, int lifetime,
                                         int fail_if_connected, int disconnect_if_connected)
{
    if (!s) {
        return -1;
    }
    if (s->num_clients > 0) {
        if (fail_if_connected) {
            return -1;
        }
        if (disconnect_if_connected) {
            while (s->sessions) {
                server_close_session(s, s->sessions, true);
            }
        }
    }
    if (passwd && strlen(passwd) > SPICE_MAX_PASSWORD_LENGTH) {
        log_warn("spice_server_set_ticket: password longer than %d characters",
                 SPICE_MAX_PASSWORD_LENGTH);
        return -1;
    }
    s->ticketing = true;
    OPENSSL_cleanse(s->password, sizeof(s->password));
    if (passwd) {
        memcpy(s->password, passwd, strlen(passwd));
        s->password_set = true;
    } else {
        s->password_set = false;
    }
    s->ticket_expiry_ms = lifetime > 0 ? loop_now_ms() + (uint64_t)lifetime * 1000 : 0;
    return 0;
}

SPICE_EXPORT void spice_server_set_name(SpiceServer *s, const char *name)
{
    if (!s) {
        return;
    }
    free(s->name);
    s->name = name ? strdup(name) : NULL;
}

SPICE_EXPORT void spice_server_set_uuid(SpiceServer *s, const uint8_t uuid[16])
{
    if (!s || !uuid) {
        return;
    }
    memcpy(s->uuid, uuid, 16);
    s->uuid_set = true;
}

SPICE_EXPORT int spice_server_set_image_compression(SpiceServer *s, SpiceImageCompression comp)
{
    if (!s || comp <= SPICE_IMAGE_COMPRESSION_INVALID || comp >= SPICE_IMAGE_COMPRESSION_ENUM_END) {
        return -1;
    }
    s->image_compression = comp;
    return 0;
}

SPICE_EXPORT SpiceImageCompression spice_server_get_image_compression(SpiceServer *s)
{
    return s ? s->image_compression : SPICE_IMAGE_COMPRESSION_INVALID;
}

static bool wan_compression_valid(spice_wan_compression_t comp)
{
    return comp == SPICE_WAN_COMPRESSION_AUTO || comp == SPICE_WAN_COMPRESSION_ALWAYS ||
           comp == SPICE_WAN_COMPRESSION_NEVER;
}

SPICE_EXPORT int spice_server_set_jpeg_compression(SpiceServer *s, spice_wan_compression_t comp)
{
    if (!s || !wan_compression_valid(comp)) {
        return -1;
    }
    s->jpeg_compression = comp;
    return 0;
}

SPICE_EXPORT int spice_server_set_zlib_glz_compression(SpiceServer *s, spice_wan_compression_t comp)
{
    if (!s || !wan_compression_valid(comp)) {
        return -1;
    }
    s->zlib_glz_compression = comp;
    return 0;
}

static int channel_type_from_name(const char *name)
{
    static const char *const names[] = {
            [SPICE_CHANNEL_MAIN] = "main",           [SPICE_CHANNEL_DISPLAY] = "display",
            [SPICE_CHANNEL_INPUTS] = "inputs",       [SPICE_CHANNEL_CURSOR] = "cursor",
            [SPICE_CHANNEL_PLAYBACK] = "playback",   [SPICE_CHANNEL_RECORD] = "record",
            [SPICE_CHANNEL_SMARTCARD] = "smartcard", [SPICE_CHANNEL_USBREDIR] = "usbredir",
            [SPICE_CHANNEL_PORT] = "port",           [SPICE_CHANNEL_WEBDAV] = "webdav",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i] && strcmp(names[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

SPICE_EXPORT int spice_server_set_channel_security(SpiceServer *s, const char *channel,
                                                   int security)
{
    if (!s) {
        return -1;
    }
    if (!channel || strcmp(channel, "default") == 0) {
        s->default_channel_security = security;
        return 0;
    }
    int type = channel_type_from_name(channel);
    if (type < 0) {
        return -1;
    }
    s->channel_security[type] = security;
    return 0;
}

int server_channel_security(const struct RedsState *s, uint8_t type)
{
    if (type < sizeof(s->channel_security) / sizeof(s->channel_security[0]) &&
        s->channel_security[type] >= 0) {
        return s->channel_security[type];
    }
    return s->default_channel_security;
}

SPICE_EXPORT int spice_server_set_streaming_video(SpiceServer *s, int value)
{
    if (!s || (value != SPICE_STREAM_VIDEO_OFF && value != SPICE_STREAM_VIDEO_ALL &&
               value != SPICE_STREAM_VIDEO_FILTER)) {
        return -1;
    }
    s->streaming_video = value;
    return 0;
}

SPICE_EXPORT int spice_server_set_video_codecs(SpiceServer *s, const char *video_codecs)
{
    if (!s || !video_codecs) {
        return -1;
    }
    char *copy = strdup(video_codecs);
    if (!copy) {
        return -1;
    }
    free(s->video_codecs);
    s->video_codecs = copy;
    return 0;
}

SPICE_EXPORT const char *spice_server_get_video_codecs(SpiceServer *s)
{
    if (!s) {
        return NULL;
    }
    return strdup(s->video_codecs ? s->video_codecs : "spice:mjpeg;");
}

SPICE_EXPORT void spice_server_free_video_codecs(SpiceServer *s, const char *video_codecs)
{
    free((char *)video_codecs);
}

SPICE_EXPORT int spice_server_set_playback_compression(SpiceServer *s, int enable)
{
    if (!s) {
        return -1;
    }
    s->playback_compression = enable != 0;
    return 0;
}

SPICE_EXPORT int spice_server_set_agent_mouse(SpiceServer *s, int enable)
{
    if (!s) {
        return -1;
    }
    s->agent_mouse = enable != 0;
    server_update_mouse_mode(s);
    return 0;
}

SPICE_EXPORT int spice_server_set_agent_copypaste(SpiceServer *s, int enable)
{
    if (!s) {
        return -1;
    }
    s->agent_copypaste = enable != 0;
    char_device_update_config(s);
    return 0;
}

SPICE_EXPORT int spice_server_set_agent_file_xfer(SpiceServer *s, int enable)
{
    if (!s) {
        return -1;
    }
    s->agent_file_xfer = enable != 0;
    char_device_update_config(s);
    return 0;
}

SPICE_EXPORT void spice_server_set_seamless_migration(SpiceServer *s, int enable)
{
    if (s) {
        s->seamless_migration = enable != 0;
    }
}

static struct session *server_first_session(SpiceServer *s)
{
    return s ? s->sessions : NULL;
}

SPICE_EXPORT int spice_server_get_sock_info(SpiceServer *s, struct sockaddr *sa, socklen_t *salen)
{
    struct session *session = server_first_session(s);
    int fd = session ? main_channel_client_fd(session->main) : -1;
    if (fd < 0 || getsockname(fd, sa, salen) < 0) {
        return -1;
    }
    return 0;
}

SPICE_EXPORT int spice_server_get_peer_info(SpiceServer *s, struct sockaddr *sa, socklen_t *salen)
{
    struct session *session = server_first_session(s);
    int fd = session ? main_channel_client_fd(session->main) : -1;
    if (fd < 0 || getpeername(fd, sa, salen) < 0) {
        return -1;
    }
    return 0;
}

SPICE_EXPORT int spice_server_add_client(SpiceServer *s, int socket, int skip_auth)
{
    if (!s || !s->initialized || socket < 0) {
        return -1;
    }
    return listener_add_client(s, socket, skip_auth != 0) < 0 ? -1 : 0;
}

SPICE_EXPORT int spice_server_is_server_mouse(SpiceServer *s)
{
    return !s || s->mouse_mode == SPICE_MOUSE_MODE_SERVER;
}

SPICE_EXPORT int spice_server_get_num_clients(SpiceServer *s)
{
    return s ? s->num_clients : 0;
}

SPICE_EXPORT void spice_server_vm_start(SpiceServer *s)
{
    if (!s || s->vm_running) {
        return;
    }
    s->vm_running = true;
    for (int i = 0; i < s->num_workers; i++) {
        worker_set_running(s->workers[i], true);
    }
    char_device_set_running(s, true);
}

SPICE_EXPORT void spice_server_vm_stop(SpiceServer *s)
{
    if (!s || !s->vm_running) {
        return;
    }
    s->vm_running = false;
    for (int i = 0; i < s->num_workers; i++) {
        worker_set_running(s->workers[i], false);
    }
    char_device_set_running(s, false);
}

SPICE_EXPORT int spice_server_kbd_leds(SpiceKbdInstance *sin, int leds)
{
    if (!sin || !sin->st) {
        return -1;
    }
    struct RedsState *s = sin->st->server;
    s->kbd_leds = (uint8_t)leds;
    for (struct session *session = s->sessions; session; session = session->next) {
        if (session->inputs) {
            inputs_channel_client_send_leds(session->inputs, s->kbd_leds);
        }
    }
    return 0;
}

/* ---- interfaces ---- */

static bool interface_version_ok(const SpiceBaseInterface *sif, uint32_t major, uint32_t minor)
{
    if (sif->major_version != major || sif->minor_version < minor) {
        log_warn("interface %s %u.%u is not compatible with %u.%u", sif->type, sif->major_version,
                 sif->minor_version, major, minor);
        return false;
    }
    return true;
}

SPICE_EXPORT int spice_server_add_interface(SpiceServer *s, SpiceBaseInstance *sin)
{
    if (!s || !sin || !sin->sif || !sin->sif->type) {
        return -1;
    }
    const SpiceBaseInterface *sif = sin->sif;
    const char *type = sif->type;
    if (strcmp(type, SPICE_INTERFACE_KEYBOARD) == 0) {
        if (!interface_version_ok(sif, SPICE_INTERFACE_KEYBOARD_MAJOR, 1)) {
            return -1;
        }
        SpiceKbdInstance *kbd = SPICE_CONTAINEROF(sin, SpiceKbdInstance, base);
        struct SpiceKbdState *st = calloc(1, sizeof(*st));
        if (!st) {
            return -1;
        }
        st->server = s;
        kbd->st = st;
        s->keyboard = kbd;
        return 0;
    }
    if (strcmp(type, SPICE_INTERFACE_MOUSE) == 0) {
        if (!interface_version_ok(sif, SPICE_INTERFACE_MOUSE_MAJOR, 1)) {
            return -1;
        }
        SpiceMouseInstance *mouse = SPICE_CONTAINEROF(sin, SpiceMouseInstance, base);
        struct SpiceMouseState *st = calloc(1, sizeof(*st));
        if (!st) {
            return -1;
        }
        st->server = s;
        mouse->st = st;
        s->mouse = mouse;
        return 0;
    }
    if (strcmp(type, SPICE_INTERFACE_TABLET) == 0) {
        if (!interface_version_ok(sif, SPICE_INTERFACE_TABLET_MAJOR, 1)) {
            return -1;
        }
        SpiceTabletInstance *tablet = SPICE_CONTAINEROF(sin, SpiceTabletInstance, base);
        struct SpiceTabletState *st = calloc(1, sizeof(*st));
        if (!st) {
            return -1;
        }
        st->server = s;
        tablet->st = st;
        s->tablet = tablet;
        for (int i = 0; i < s->num_workers; i++) {
            worker_refresh_tablet_size(s->workers[i]);
        }
        server_update_mouse_mode(s);
        return 0;
    }
    if (strcmp(type, SPICE_INTERFACE_QXL) == 0) {
        if (!interface_version_ok(sif, SPICE_INTERFACE_QXL_MAJOR, 0)) {
            return -1;
        }
        if (s->num_workers == SERVER_MAX_WORKERS) {
            log_error("spice_server_add_interface: too many QXL devices (max %d)",
                      SERVER_MAX_WORKERS);
            return -1;
        }
        QXLInstance *qxl = SPICE_CONTAINEROF(sin, QXLInstance, base);
        /* The reference names the display and cursor channels after
         * QXLInstance.id; a missing or taken id gets the lowest free one. */
        int id = qxl->id;
        if (id < 0 || id > UINT8_MAX || server_worker(s, (uint8_t)id) != NULL) {
            id = 0;
            while (server_worker(s, (uint8_t)id) != NULL) {
                id++;
            }
        }
        struct worker *w = worker_create(s, qxl, id);
        if (!w) {
            return -1;
        }
        s->workers[s->num_workers++] = w;
        worker_attach(w);
        if (s->vm_running) {
            worker_set_running(w, true);
        }
        server_update_mouse_mode(s);
        return 0;
    }
    if (strcmp(type, SPICE_INTERFACE_MIGRATION) == 0) {
        api_stubs_set_migration(s, SPICE_CONTAINEROF(sin, SpiceMigrateInstance, base));
        return 0;
    }
    if (strcmp(type, SPICE_INTERFACE_CHAR_DEVICE) == 0) {
        return char_device_add(s, SPICE_CONTAINEROF(sin, SpiceCharDeviceInstance, base));
    }
    if (strcmp(type, SPICE_INTERFACE_PLAYBACK) == 0 || strcmp(type, SPICE_INTERFACE_RECORD) == 0) {
        log_warn("spice_server_add_interface: %s devices are not supported yet; ignoring it", type);
        return 0;
    }
    log_warn("spice_server_add_interface: unknown interface type \"%s\"", type);
    return -1;
}

SPICE_EXPORT int spice_server_remove_interface(SpiceBaseInstance *sin)
{
    if (!sin || !sin->sif || !sin->sif->type) {
        return -1;
    }
    const char *type = sin->sif->type;
    if (strcmp(type, SPICE_INTERFACE_KEYBOARD) == 0) {
        SpiceKbdInstance *kbd = SPICE_CONTAINEROF(sin, SpiceKbdInstance, base);
        if (kbd->st) {
            struct RedsState *s = kbd->st->server;
            if (s->keyboard == kbd) {
                s->keyboard = NULL;
            }
            free(kbd->st);
            kbd->st = NULL;
        }
        return 0;
    }
    if (strcmp(type, SPICE_INTERFACE_MOUSE) == 0) {
        SpiceMouseInstance *mouse = SPICE_CONTAINEROF(sin, SpiceMouseInstance, base);
        if (mouse->st) {
            struct RedsState *s = mouse->st->server;
            if (s->mouse == mouse) {
                s->mouse = NULL;
            }
            free(mouse->st);
            mouse->st = NULL;
        }
        return 0;
    }
    if (strcmp(type, SPICE_INTERFACE_TABLET) == 0) {
        SpiceTabletInstance *tablet = SPICE_CONTAINEROF(sin, SpiceTabletInstance, base);
        if (tablet->st) {
            struct RedsState *s = tablet->st->server;
            if (s->tablet == tablet) {
                s->tablet = NULL;
            }
            free(tablet->st);
            tablet->st = NULL;
            server_update_mouse_mode(s);
        }
        return 0;
    }
    if (strcmp(type, SPICE_INTERFACE_QXL) == 0) {
        QXLInstance *qxl = SPICE_CONTAINEROF(sin, QXLInstance, base);
        struct worker *w = worker_from_qxl(qxl);
        if (!w) {
            return -1;
        }
        struct RedsState *s = worker_server(w);
        for (int i = 0; i < s->num_workers; i++) {
            if (s->workers[i] == w) {
                s->workers[i] = s->workers[--s->num_workers];
                s->workers[s->num_workers] = NULL;
                break;
            }
        }
        worker_destroy(w);
        server_update_mouse_mode(s);
        return 0;
    }
    if (strcmp(type, SPICE_INTERFACE_CHAR_DEVICE) == 0) {
        return char_device_remove(SPICE_CONTAINEROF(sin, SpiceCharDeviceInstance, base));
    }
    return 0;
}

/* ---- sessions ---- */

struct session *server_find_session(struct RedsState *s, uint32_t id)
{
    for (struct session *session = s->sessions; session; session = session->next) {
        if (session->id == id) {
            return session;
        }
    }
    return NULL;
}

struct worker *server_worker(const struct RedsState *s, uint8_t channel_id)
{
    for (int i = 0; i < s->num_workers; i++) {
        if (s->workers[i]->id == channel_id) {
            return s->workers[i];
        }
    }
    return NULL;
}

uint8_t server_worker_channel_id(const struct RedsState *s, int index)
{
    return (uint8_t)s->workers[index]->id;
}

bool server_has_channel(const struct RedsState *s, uint8_t type, uint8_t id)
{
    switch (type) {
    case SPICE_CHANNEL_MAIN:
    case SPICE_CHANNEL_INPUTS:
        return id == 0;
    case SPICE_CHANNEL_DISPLAY:
    case SPICE_CHANNEL_CURSOR:
        return server_worker(s, id) != NULL;
    default:
        return false;
    }
}

uint32_t server_mm_time(const struct RedsState *s)
{
    return (uint32_t)loop_now_ms() - s->mm_time_base_ms;
}

uint32_t server_supported_mouse_modes(const struct RedsState *s)
{
    uint32_t modes = SPICE_MOUSE_MODE_SERVER;
    /* As in the reference: the tablet gives absolute positions for one
     * display only, so with several QXL devices client mode needs the agent. */
    if ((s->tablet && s->num_workers == 1) || char_device_agent_mouse_enabled(s)) {
        modes |= SPICE_MOUSE_MODE_CLIENT;
    }
    return modes;
}

void server_set_mouse_mode(struct RedsState *s, uint32_t mode)
{
    if (!(server_supported_mouse_modes(s) & mode) || s->mouse_mode == mode) {
        return;
    }
    s->mouse_mode = mode;
    log_info("mouse mode is now %s", mode == SPICE_MOUSE_MODE_CLIENT ? "client" : "server");
    for (struct session *session = s->sessions; session; session = session->next) {
        if (session->main) {
            main_channel_client_send_mouse_mode(session->main);
        }
    }
}

void server_update_mouse_mode(struct RedsState *s)
{
    if (!(server_supported_mouse_modes(s) & s->mouse_mode)) {
        server_set_mouse_mode(s, SPICE_MOUSE_MODE_SERVER);
    } else {
        for (struct session *session = s->sessions; session; session = session->next) {
            if (session->main) {
                main_channel_client_send_mouse_mode(session->main);
            }
        }
    }
}

void server_channel_event(struct RedsState *s, int event, SpiceChannelEventInfo *info)
{
    if (s->core && s->core->channel_event) {
        s->core->channel_event(event, info);
    }
}

struct channel_event_msg {
    struct msg_item item;
    struct RedsState *server;
    int event;
    SpiceChannelEventInfo info;
};

static void channel_event_msg_run(struct msg_item *item)
{
    struct channel_event_msg *m = (struct channel_event_msg *)item;
    server_channel_event(m->server, m->event, &m->info);
    free(m);
}

void server_post_channel_event(struct RedsState *s, int event, const SpiceChannelEventInfo *info)
{
    struct channel_event_msg *m = calloc(1, sizeof(*m));
    if (!m) {
        return;
    }
    m->item.run = channel_event_msg_run;
    m->server = s;
    m->event = event;
    m->info = *info;
    msg_queue_post(s->main_queue, &m->item);
}

static uint32_t server_new_session_id(struct RedsState *s)
{
    for (;;) {
        uint32_t id = 0;
        if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1) {
            id = ++s->next_session_id * 2654435761u;
        }
        if (id != 0 && !server_find_session(s, id)) {
            return id;
        }
    }
}

static void server_close_session(struct RedsState *s, struct session *session, bool notify)
{
    for (struct session **p = &s->sessions; *p; p = &(*p)->next) {
        if (*p == session) {
            *p = session->next;
            break;
        }
    }
    s->num_clients--;
    char_device_session_closed(s, session);
    for (int i = 0; i < s->num_workers; i++) {
        worker_detach_session(s->workers[i], session->id);
    }
    if (session->inputs) {
        inputs_channel_client_destroy(session->inputs);
        session->inputs = NULL;
    }
    if (session->main) {
        main_channel_client_destroy(session->main);
        session->main = NULL;
    }
    free(session);
    (void)notify;
}

void server_session_closed(struct RedsState *s, struct session *session)
{
    log_info("client %u disconnected", session->id);
    session->main = NULL; /* already being freed by its channel */
    server_close_session(s, session, true);
    if (s->exit_on_disconnect) {
        log_info("exit-on-disconnect is set: exiting");
        exit(0);
    }
}

void server_inputs_closed(struct RedsState *s, struct session *session)
{
    session->inputs = NULL;
}

void server_link_complete(struct RedsState *s, struct stream *stream, const struct link_mess *link,
                          bool mini_header)
{
    struct session *session;
    switch (link->channel_type) {
    case SPICE_CHANNEL_MAIN:
        session = calloc(1, sizeof(*session));
        if (!session) {
            stream_destroy(stream);
            return;
        }
        session->server = s;
        session->id = server_new_session_id(s);
        session->next = s->sessions;
        s->sessions = session;
        s->num_clients++;
        session->main = main_channel_client_create(session, stream, link, mini_header);
        if (!session->main) {
            server_close_session(s, session, false);
            return;
        }
        log_info("client %u connected", session->id);
        main_channel_client_kick(session->main); /* may close it and the session */
        return;
    case SPICE_CHANNEL_INPUTS:
        session = server_find_session(s, link->connection_id);
        if (!session) {
            stream_destroy(stream);
            return;
        }
        if (session->inputs) {
            inputs_channel_client_destroy(session->inputs);
        }
        session->inputs = inputs_channel_client_create(session, stream, link, mini_header);
        if (session->inputs) {
            inputs_channel_client_kick(session->inputs);
        }
        return;
    case SPICE_CHANNEL_DISPLAY:
    case SPICE_CHANNEL_CURSOR: {
        struct worker *w = server_worker(s, link->channel_id);
        if (w != NULL) {
            worker_attach_client(w, stream, link, mini_header);
            return;
        }
        break;
    }
    default:
        break;
    }
    stream_destroy(stream);
}
