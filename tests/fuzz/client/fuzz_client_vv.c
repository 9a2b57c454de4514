/*
 * libFuzzer target for src/client/vv.c, the remote-viewer connection-file
 * parser: the input is the file's bytes. A parsed file is then read
 * through every getter (each stored key as string, integer, boolean and
 * list, and the SPICE view), touching every borrowed byte so that ASan
 * sees a bad pointer; the results must keep the header's contracts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clove/vv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) \
    do {                  \
        if (!(cond)) {    \
            abort();      \
        }                 \
    } while (0)

static volatile size_t sink;

static void touch(const char *s)
{
    if (s) {
        sink += strlen(s);
    }
}

static const char *const keys[] = {
        "type",
        "host",
        "port",
        "tls-port",
        "unix-path",
        "username",
        "password",
        "title",
        "ca",
        "host-subject",
        "proxy",
        "fullscreen",
        "version",
        "delete-this-file",
        "secure-channels",
        "a",
        "tls-ciphers",
        "disable-channels",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct clove_vv *vv = NULL;
    struct clove_vv_error err;
    int rc = clove_vv_parse((const char *)data, size, &vv, &err);
    FUZZ_ASSERT(err.desc != NULL);
    if (rc < 0) {
        FUZZ_ASSERT(vv == NULL && err.desc[0] != '\0');
        return 0;
    }
    FUZZ_ASSERT(vv != NULL && clove_vv_has_key(vv, "type"));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        touch(clove_vv_get_string(vv, keys[i]));
        long v;
        if (clove_vv_get_int(vv, keys[i], &v) == 1) {
            FUZZ_ASSERT(v >= -2147483647L - 1 && v <= 2147483647L);
        }
        bool b;
        (void)clove_vv_get_bool(vv, keys[i], &b);
        const char *const *items;
        size_t n;
        if (clove_vv_get_list(vv, keys[i], &items, &n) == 1) {
            for (size_t j = 0; j < n; j++) {
                touch(items[j]);
            }
            FUZZ_ASSERT(items[n] == NULL);
        }
    }
    struct clove_vv_spice s;
    const char *desc = NULL;
    rc = clove_vv_get_spice(vv, &s, &desc);
    FUZZ_ASSERT(desc != NULL);
    if (rc == 0) {
        FUZZ_ASSERT(s.unix_path || (s.host && (s.port > 0 || s.tls_port > 0)));
        FUZZ_ASSERT(s.port == -1 || (s.port > 0 && s.port <= 65535));
        touch(s.host);
        touch(s.ca);
        touch(s.password);
        for (size_t j = 0; j < s.secure_channel_count; j++) {
            touch(s.secure_channels[j]);
        }
    }
    clove_vv_destroy(vv);
    return 0;
}
