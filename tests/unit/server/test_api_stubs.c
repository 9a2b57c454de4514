/*
 * Tests src/server/api_stubs.c: the unimplemented <spice.h> functions return
 * the documented values, accept NULL everywhere, log each missing feature
 * once, leave caller-owned sockets alone, and deliver the migration
 * completion callbacks to the registered instance only.
 */
#include <fcntl.h>
#include <spice.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <spice/protocol.h>

#include "check.h"
#include "common/log.h"
#include "server/api_stubs.h"

static int warnings;
static char last_warning[256];

static void count_warnings(enum log_level level, const char *file, int line, const char *msg)
{
    if (level <= LOG_LEVEL_WARN) {
        warnings++;
        snprintf(last_warning, sizeof(last_warning), "%s", msg);
    }
}

/* Distinct fake server handles: the stubs never dereference them. */
static char fake_servers[10];
#define SERVER(i) ((SpiceServer *)(void *)&fake_servers[i])

struct fake_migration {
    SpiceMigrateInstance sin;
    int connect_complete;
    int end_complete;
};

static void on_connect_complete(SpiceMigrateInstance *sin)
{
    ((struct fake_migration *)(void *)sin)->connect_complete++;
}

static void on_end_complete(SpiceMigrateInstance *sin)
{
    ((struct fake_migration *)(void *)sin)->end_complete++;
}

static const SpiceMigrateInterface migrate_sif = {
        .base.type = SPICE_INTERFACE_MIGRATION,
        .base.description = "test migration",
        .base.major_version = SPICE_INTERFACE_MIGRATION_MAJOR,
        .base.minor_version = SPICE_INTERFACE_MIGRATION_MINOR,
        .migrate_connect_complete = on_connect_complete,
        .migrate_end_complete = on_end_complete,
};

/* set_tls and set_sasl are real now and write the server: use a real one. */
static void test_tls_sasl_renderer(void)
{
    SpiceServer *s = spice_server_new();
    CHECK(s != NULL);
    CHECK_EQ(spice_server_set_tls(s, 5901, "ca", "cert", "key", NULL, NULL, NULL), -1);
    CHECK_EQ(spice_server_set_tls(NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL), -1);
    CHECK_EQ(spice_server_set_sasl(s, 0), 0);
    CHECK_EQ(spice_server_set_sasl(s, 1), 0);
    CHECK_EQ(spice_server_set_sasl(NULL, 1), -1);
    CHECK_EQ(spice_server_set_sasl_appname(s, "qemu"), 0);
    CHECK_EQ(spice_server_set_sasl_appname(s, NULL), 0);
    CHECK_EQ(spice_server_set_sasl_appname(NULL, NULL), 0);
    CHECK_EQ(spice_server_add_renderer(s, "sw"), 0);
    CHECK_EQ(spice_server_add_renderer(s, "oglpbuf"), -1);
    CHECK_EQ(spice_server_add_renderer(NULL, NULL), -1);
    spice_server_destroy(s);
}

static void test_logs_once(void)
{
    warnings = 0;
    /* A feature not asked for yet in this process: the first call logs. */
    spice_server_record_start(NULL);
    CHECK_EQ(warnings, 1);
    CHECK(strstr(last_warning, "spice_server_record_start") != NULL);
    spice_server_record_start(NULL);
    spice_server_record_start(NULL);
    CHECK_EQ(warnings, 1);
    /* set_tls was called by the previous case: no new line. */
    spice_server_set_tls(NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL);
    CHECK_EQ(warnings, 1);
    /* Quiet paths never log. */
    spice_server_set_sasl_appname(NULL, "qemu");
    spice_server_set_sasl(NULL, 0);
    spice_server_add_renderer(NULL, "sw");
    CHECK_EQ(warnings, 1);
}

static void test_ssl_client_keeps_socket(void)
{
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    SpiceServer *s = spice_server_new();
    CHECK(s != NULL);
    CHECK_EQ(spice_server_add_ssl_client(s, fds[0], 1), -1);
    /* The caller still owns the descriptor: it must still be open. */
    CHECK(fcntl(fds[0], F_GETFD) != -1);
    close(fds[0]);
    close(fds[1]);
    CHECK_EQ(spice_server_add_ssl_client(NULL, -1, 0), -1);
    spice_server_destroy(s);
}

static void test_playback(void)
{
    uint32_t dummy[4];
    uint32_t *frame = dummy;
    uint32_t num_samples = 1234;
    uint16_t volume[2] = {100, 200};

    spice_server_playback_start(NULL);
    spice_server_playback_get_buffer(NULL, &frame, &num_samples);
    CHECK(frame == NULL);
    CHECK_EQ(num_samples, 0);
    spice_server_playback_get_buffer(NULL, NULL, NULL);
    spice_server_playback_put_samples(NULL, NULL);
    spice_server_playback_put_samples(NULL, dummy);
    spice_server_playback_set_volume(NULL, 2, volume);
    spice_server_playback_set_volume(NULL, 2, NULL);
    spice_server_playback_set_mute(NULL, 1);
    spice_server_playback_stop(NULL);
    CHECK_EQ(spice_server_get_best_playback_rate(NULL), 48000);
    spice_server_set_playback_rate(NULL, 48000);
}

static void test_record(void)
{
    uint32_t samples[8] = {7, 7, 7, 7, 7, 7, 7, 7};

    spice_server_record_start(NULL);
    CHECK_EQ(spice_server_record_get_samples(NULL, samples, 8), 0);
    CHECK_EQ(samples[0], 7);
    CHECK_EQ(spice_server_record_get_samples(NULL, NULL, 0), 0);
    spice_server_record_set_volume(NULL, 2, NULL);
    spice_server_record_set_mute(NULL, 0);
    spice_server_record_stop(NULL);
    CHECK_EQ(spice_server_get_best_record_rate(NULL), 48000);
    spice_server_set_record_rate(NULL, 44100);
}

static void test_char_devices(void)
{
    const char **subtypes = spice_server_char_device_recognized_subtypes();
    CHECK(subtypes != NULL);
    CHECK_STR_EQ(subtypes[0], "vdagent");
    CHECK_STR_EQ(subtypes[1], "smartcard");
    CHECK_STR_EQ(subtypes[2], "usbredir");
    CHECK(subtypes[3] == NULL);
    CHECK(spice_server_char_device_recognized_subtypes() == subtypes);

    SpiceCharDeviceInstance sin;
    memset(&sin, 0, sizeof(sin));
    sin.subtype = "vdagent";
    spice_server_char_device_wakeup(&sin);
    spice_server_char_device_wakeup(NULL);
    spice_server_port_event(&sin, SPICE_PORT_EVENT_OPENED);
    spice_server_port_event(NULL, SPICE_PORT_EVENT_CLOSED);
}

static void test_replay(void)
{
    SpiceReplay *replay = spice_replay_new(stdin, 1);
    CHECK(replay == NULL);
    CHECK(spice_replay_new(NULL, 0) == NULL);
    CHECK(spice_replay_next_cmd(NULL, NULL) == NULL);
    spice_replay_free_cmd(NULL, NULL);
    spice_replay_free(NULL);
}

static void test_migration_without_instance(void)
{
    CHECK_EQ(spice_server_migrate_connect(SERVER(1), "host", 5900, -1, NULL), -1);
    CHECK_EQ(spice_server_migrate_connect(NULL, NULL, -1, -1, NULL), -1);
    CHECK_EQ(spice_server_migrate_info(SERVER(1), "host", 5900, -1, NULL), -1);
    CHECK_EQ(spice_server_migrate_start(SERVER(1)), -1);
    CHECK_EQ(spice_server_migrate_end(SERVER(1), 1), 0);
    CHECK_EQ(spice_server_migrate_end(NULL, 0), 0);
    CHECK_EQ(spice_server_migrate_switch(SERVER(1)), 0);
    CHECK_EQ(spice_server_migrate_switch(NULL), 0);
}

static void test_migration_callbacks(void)
{
    struct fake_migration a = {0};
    struct fake_migration b = {0};
    a.sin.base.sif = &migrate_sif.base;
    b.sin.base.sif = &migrate_sif.base;

    api_stubs_set_migration(SERVER(2), &a.sin);
    api_stubs_set_migration(SERVER(3), &b.sin);

    CHECK_EQ(spice_server_migrate_connect(SERVER(2), "dest", 5900, 5901, "CN=x"), -1);
    CHECK_EQ(a.connect_complete, 1);
    CHECK_EQ(b.connect_complete, 0);
    CHECK_EQ(spice_server_migrate_start(SERVER(2)), -1);
    CHECK_EQ(spice_server_migrate_end(SERVER(2), 1), 0);
    CHECK_EQ(a.end_complete, 1);
    CHECK_EQ(b.end_complete, 0);
    CHECK_EQ(spice_server_migrate_end(SERVER(3), 0), 0);
    CHECK_EQ(b.end_complete, 1);

    /* Replacing and forgetting. */
    api_stubs_set_migration(SERVER(2), &b.sin);
    spice_server_migrate_end(SERVER(2), 1);
    CHECK_EQ(a.end_complete, 1);
    CHECK_EQ(b.end_complete, 2);
    api_stubs_set_migration(SERVER(2), NULL);
    api_stubs_set_migration(SERVER(3), NULL);
    spice_server_migrate_end(SERVER(2), 1);
    spice_server_migrate_end(SERVER(3), 1);
    CHECK_EQ(b.end_complete, 2);

    /* Harmless no-ops. */
    api_stubs_set_migration(NULL, &a.sin);
    api_stubs_set_migration(SERVER(4), NULL);
    CHECK_EQ(a.connect_complete + a.end_complete, 2);
}

static void test_migration_bad_interface(void)
{
    SpiceMigrateInterface old_sif = migrate_sif;
    old_sif.base.major_version = SPICE_INTERFACE_MIGRATION_MAJOR + 1;
    struct fake_migration m = {0};
    m.sin.base.sif = &old_sif.base;
    api_stubs_set_migration(SERVER(5), &m.sin);
    spice_server_migrate_connect(SERVER(5), "dest", 1, -1, NULL);
    spice_server_migrate_end(SERVER(5), 1);
    CHECK_EQ(m.connect_complete + m.end_complete, 0);

    SpiceMigrateInterface no_callbacks = migrate_sif;
    no_callbacks.migrate_connect_complete = NULL;
    no_callbacks.migrate_end_complete = NULL;
    m.sin.base.sif = &no_callbacks.base;
    spice_server_migrate_connect(SERVER(5), "dest", 1, -1, NULL);
    spice_server_migrate_end(SERVER(5), 1);

    m.sin.base.sif = NULL;
    spice_server_migrate_end(SERVER(5), 1);
    api_stubs_set_migration(SERVER(5), NULL);
}

static void test_migration_table_full(void)
{
    struct fake_migration m[10];
    memset(m, 0, sizeof(m));
    warnings = 0;
    for (int i = 0; i < 10; i++) {
        m[i].sin.base.sif = &migrate_sif.base;
        api_stubs_set_migration(SERVER(i), &m[i].sin);
    }
    /* Eight slots: the last two servers are refused with a warning each. */
    CHECK_EQ(warnings, 2);
    for (int i = 0; i < 10; i++) {
        spice_server_migrate_end(SERVER(i), 1);
    }
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(m[i].end_complete, i < 8 ? 1 : 0);
    }
    for (int i = 0; i < 10; i++) {
        api_stubs_set_migration(SERVER(i), NULL);
    }
    /* Slots are reusable once freed. */
    api_stubs_set_migration(SERVER(9), &m[9].sin);
    spice_server_migrate_end(SERVER(9), 1);
    CHECK_EQ(m[9].end_complete, 1);
    api_stubs_set_migration(SERVER(9), NULL);
}

int main(void)
{
    log_set_handler(count_warnings);
    return check_run((struct check_case[]){
            CHECK_CASE(test_tls_sasl_renderer),
            CHECK_CASE(test_logs_once),
            CHECK_CASE(test_ssl_client_keeps_socket),
            CHECK_CASE(test_playback),
            CHECK_CASE(test_record),
            CHECK_CASE(test_char_devices),
            CHECK_CASE(test_replay),
            CHECK_CASE(test_migration_without_instance),
            CHECK_CASE(test_migration_callbacks),
            CHECK_CASE(test_migration_bad_interface),
            CHECK_CASE(test_migration_table_full),
            {0},
    });
}
