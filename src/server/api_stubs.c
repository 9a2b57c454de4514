/*
 * The public functions of <spice.h> that Clove does not implement yet.
 *
 * DESIGN
 * QEMU and Xspice import every function of the system libspice-server.so.1,
 * and the dynamic loader refuses to start them if one is missing, so each
 * function exists here with the exact prototype of the system headers. Each
 * one does the least surprising thing for a server that lacks the feature:
 *
 * - A call that asks for the feature (client migration) fails with the error
 *   value the reference returns when it is built without it (-1) and logs one
 *   warning per process, so the host reports a clear error instead of running
 *   half-configured.
 * - A call that only feeds data to a channel we do not have yet (audio,
 *   port events) does nothing, and the functions that hand data back
 *   report "nothing available", exactly as the reference does when no client
 *   is connected to that channel. QEMU's audio and chardev code handle that
 *   case already.
 * - Host-side bookkeeping that the host relies on still happens: migration
 *   completion callbacks are delivered (see api_stubs.h), and the list of
 *   recognised char device subtypes matches the reference so that existing
 *   QEMU command lines (-chardev spicevmc,name=vdagent|usbredir|smartcard)
 *   still start. (Char devices themselves live in char_device.c.)
 *
 * INVARIANTS
 * - No function dereferences its arguments beyond what is documented here;
 *   every one accepts NULL pointers.
 * - Nothing here allocates, so nothing here can leak or fail.
 *
 * The rest of the ABI is implemented in server.c and qxl_api.c; docs/abi.md
 * keeps the list.
 */
#include "server/api_stubs.h"

#include <pthread.h>
#include <spice.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "server/export.h"

/*
 * The rate spice_server_get_best_{playback,record}_rate() return. The
 * reference returns its Opus rate (48 kHz) whatever the instance; QEMU asks
 * with a NULL instance and then configures its audio at this rate, so it must
 * not depend on the argument.
 */
#define BEST_AUDIO_RATE_HZ 48000u

/* ---- migration bookkeeping --------------------------------------------- */

#define MIGRATION_SLOTS 8

struct migration_slot {
    SpiceServer *server;       /* borrowed; NULL marks a free slot */
    SpiceMigrateInstance *sin; /* borrowed from the host */
};

static pthread_mutex_t migration_lock = PTHREAD_MUTEX_INITIALIZER;
static struct migration_slot migration_slots[MIGRATION_SLOTS];

void api_stubs_set_migration(SpiceServer *server, SpiceMigrateInstance *sin)
{
    if (server == NULL) {
        return;
    }

    bool full = false;
    pthread_mutex_lock(&migration_lock);
    struct migration_slot *free_slot = NULL;
    struct migration_slot *found = NULL;
    for (size_t i = 0; i < MIGRATION_SLOTS; i++) {
        if (migration_slots[i].server == server) {
            found = &migration_slots[i];
            break;
        }
        if (migration_slots[i].server == NULL && free_slot == NULL) {
            free_slot = &migration_slots[i];
        }
    }
    if (found != NULL) {
        if (sin != NULL) {
            found->sin = sin;
        } else {
            found->server = NULL;
            found->sin = NULL;
        }
    } else if (sin != NULL) {
        if (free_slot != NULL) {
            free_slot->server = server;
            free_slot->sin = sin;
        } else {
            full = true;
        }
    }
    pthread_mutex_unlock(&migration_lock);

    if (full) {
        log_warn("more than %d SPICE servers: migration callbacks of server %p are dropped",
                 MIGRATION_SLOTS, (void *)server);
    }
}

static SpiceMigrateInstance *migration_lookup(SpiceServer *server)
{
    SpiceMigrateInstance *sin = NULL;

    pthread_mutex_lock(&migration_lock);
    for (size_t i = 0; i < MIGRATION_SLOTS; i++) {
        if (server != NULL && migration_slots[i].server == server) {
            sin = migration_slots[i].sin;
            break;
        }
    }
    pthread_mutex_unlock(&migration_lock);
    return sin;
}

enum migration_event {
    MIGRATION_CONNECT_COMPLETE,
    MIGRATION_END_COMPLETE,
};

/*
 * Tells the host that a migration step is over, as the reference does when no
 * client has to be moved. Called without the lock held: the callback may call
 * back into the server.
 */
static void migration_notify(SpiceServer *server, enum migration_event event)
{
    SpiceMigrateInstance *sin = migration_lookup(server);
    if (sin == NULL || sin->base.sif == NULL) {
        return;
    }
    if (sin->base.sif->major_version != SPICE_INTERFACE_MIGRATION_MAJOR) {
        return;
    }
    /* SpiceBaseInterface is the first member of SpiceMigrateInterface. */
    const SpiceMigrateInterface *sif = (const SpiceMigrateInterface *)sin->base.sif;

    if (event == MIGRATION_CONNECT_COMPLETE) {
        if (sif->migrate_connect_complete != NULL) {
            sif->migrate_connect_complete(sin);
        }
    } else {
        if (sif->migrate_end_complete != NULL) {
            sif->migrate_end_complete(sin);
        }
    }
}

/* ---- spice-server.h: renderers ------------------------------------------ */

/*
 * Deprecated. The reference knows one renderer, "sw" (software), which is
 * also what we do, so that name is accepted and any other refused.
 * Thread: host loop.
 */
SPICE_EXPORT int spice_server_add_renderer(SpiceServer *s, const char *name)
{
    if (name != NULL && strcmp(name, "sw") == 0) {
        return 0;
    }
    log_once("spice_server_add_renderer: unknown renderer '%s'", name ? name : "(null)");
    return -1;
}

/* TLS and SASL: security.c. */

/* ---- spice-migration.h -------------------------------------------------- */

/*
 * Semi-seamless migration: the host announces the destination before it
 * migrates the VM. We cannot move clients, so this fails (QMP
 * client_migrate_info reports "Could not set up display for migration",
 * which libvirt treats as a warning and then does not wait for the display).
 * Like the reference on failure, the connect-complete callback still fires.
 * Thread: host loop.
 */
SPICE_EXPORT int spice_server_migrate_connect(SpiceServer *s, const char *dest, int port,
                                              int secure_port, const char *cert_subject)
{
    log_once("spice_server_migrate_connect: client migration is not supported yet; clients "
             "will not follow the VM to %s",
             dest ? dest : "(null)");
    migration_notify(s, MIGRATION_CONNECT_COMPLETE);
    return -1;
}

/* Deprecated switch-host migration: not supported. Thread: host loop. */
SPICE_EXPORT int spice_server_migrate_info(SpiceServer *s, const char *dest, int port,
                                           int secure_port, const char *cert_subject)
{
    log_once("spice_server_migrate_info: client migration is not supported yet");
    return -1;
}

/*
 * Returns -1 like the reference does when no destination was recorded,
 * which is always the case here since migrate_connect refuses them. QEMU
 * ignores the result. Thread: host loop.
 */
SPICE_EXPORT int spice_server_migrate_start(SpiceServer *s)
{
    return -1;
}

/*
 * The VM migration ended (completed or not). There is no client migration in
 * progress, so, as the reference does in that case, the end-complete callback
 * fires at once (QEMU emits SPICE_MIGRATE_COMPLETED from it). Clients of the
 * source stay connected until the source goes away.
 * Thread: host loop.
 */
SPICE_EXPORT int spice_server_migrate_end(SpiceServer *s, int completed)
{
    migration_notify(s, MIGRATION_END_COMPLETE);
    return 0;
}

/* Deprecated switch-host migration: nothing was set up, nothing to switch. */
SPICE_EXPORT int spice_server_migrate_switch(SpiceServer *s)
{
    return 0;
}

/* ---- spice-audio.h: playback -------------------------------------------- */

/*
 * There is no playback channel yet, so audio behaves as if no client were
 * listening: no buffer is ever handed out, and start/stop/volume are
 * accepted and dropped. Thread: host loop (QEMU's audio timer).
 */
SPICE_EXPORT void spice_server_playback_start(SpicePlaybackInstance *sin)
{
    log_once("spice_server_playback_start: the playback channel is not supported yet");
}

SPICE_EXPORT void spice_server_playback_stop(SpicePlaybackInstance *sin)
{
}

/* Sets *samples = NULL and *num_samples = 0: no frame is available. */
SPICE_EXPORT void spice_server_playback_get_buffer(SpicePlaybackInstance *sin, uint32_t **samples,
                                                   uint32_t *num_samples)
{
    if (samples != NULL) {
        *samples = NULL;
    }
    if (num_samples != NULL) {
        *num_samples = 0;
    }
}

/* get_buffer never hands out a frame, so there is nothing to take back. */
SPICE_EXPORT void spice_server_playback_put_samples(SpicePlaybackInstance *sin, uint32_t *samples)
{
}

SPICE_EXPORT void spice_server_playback_set_volume(SpicePlaybackInstance *sin, uint8_t nchannels,
                                                   uint16_t *volume)
{
}

SPICE_EXPORT void spice_server_playback_set_mute(SpicePlaybackInstance *sin, uint8_t mute)
{
}

/* ---- spice-audio.h: record ---------------------------------------------- */

SPICE_EXPORT void spice_server_record_start(SpiceRecordInstance *sin)
{
    log_once("spice_server_record_start: the record channel is not supported yet");
}

SPICE_EXPORT void spice_server_record_stop(SpiceRecordInstance *sin)
{
}

/*
 * Returns 0: no samples recorded. `samples` is not written. QEMU then feeds
 * silence to the guest.
 */
SPICE_EXPORT uint32_t spice_server_record_get_samples(SpiceRecordInstance *sin, uint32_t *samples,
                                                      uint32_t bufsize)
{
    return 0;
}

SPICE_EXPORT void spice_server_record_set_volume(SpiceRecordInstance *sin, uint8_t nchannels,
                                                 uint16_t *volume)
{
}

SPICE_EXPORT void spice_server_record_set_mute(SpiceRecordInstance *sin, uint8_t mute)
{
}

/* ---- spice-audio.h: rates ----------------------------------------------- */

/* Returns 48000 for any instance, NULL included (QEMU passes NULL). */
SPICE_EXPORT uint32_t spice_server_get_best_playback_rate(SpicePlaybackInstance *sin)
{
    return BEST_AUDIO_RATE_HZ;
}

SPICE_EXPORT void spice_server_set_playback_rate(SpicePlaybackInstance *sin, uint32_t frequency)
{
}

/* Returns 48000 for any instance, NULL included (QEMU passes NULL). */
SPICE_EXPORT uint32_t spice_server_get_best_record_rate(SpiceRecordInstance *sin)
{
    return BEST_AUDIO_RATE_HZ;
}

SPICE_EXPORT void spice_server_set_record_rate(SpiceRecordInstance *sin, uint32_t frequency)
{
}

/* ---- spice-char.h ------------------------------------------------------- */

/* spice_server_char_device_wakeup: char_device.c. */

/*
 * The subtypes the reference (Debian's build, which has smartcard support)
 * recognises. QEMU refuses -chardev spicevmc,name=X for an X not in this
 * list; "port" is not in it, spiceport devices are accepted separately.
 * char_device.c serves "vdagent" and accepts the others (and "port"), idle.
 */
static const char *recognized_subtypes[] = {
        "vdagent",
        "smartcard",
        "usbredir",
        NULL,
};

/* Returns a static NULL-terminated list; the caller must not modify it. */
SPICE_EXPORT const char **spice_server_char_device_recognized_subtypes(void)
{
    return recognized_subtypes;
}

/* Port open/close/break events from the guest: no port channel yet, and
 * the vdagent learns about its port through add/remove_interface. */
SPICE_EXPORT void spice_server_port_event(SpiceCharDeviceInstance *sin, uint8_t event)
{
}
