/*
 * Fuzzes the server side of the SASL exchange (src/transport/sasl.c) with
 * arbitrary client bytes. The first byte picks the connection kind (bit 0:
 * over TLS, so every configured mechanism is offered and no layer is
 * needed; else plain TCP, DIGEST-MD5 only); the rest is what the client
 * sends after choosing SASL: mechanism length and name, start data, steps.
 * Each step's bytes are handed over exactly as the link stage does, and the
 * server's answers are collected and dropped.
 *
 * The SASL configuration (<appname>.conf with digest-md5, scram-sha-1,
 * cram-md5 and plain over an empty user database) is written once to a
 * temporary SASL_CONF_PATH.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include "common/bytes.h"
#include "common/error.h"
#include "transport/sasl.h"
#include "transport/stream.h"

#define FUZZ_APPNAME "clove-fuzz-sasl"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fuzz_sasl_init(void)
{
    static int ready = -1;
    if (ready >= 0) {
        return ready == 1;
    }
    ready = 0;
    static char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/clove-fuzz-sasl-XXXXXX");
    if (!mkdtemp(dir)) {
        return false;
    }
    char path[160];
    snprintf(path, sizeof(path), "%s/%s.conf", dir, FUZZ_APPNAME);
    FILE *f = fopen(path, "w");
    if (!f) {
        return false;
    }
    fprintf(f, "mech_list: digest-md5 scram-sha-1 cram-md5 plain\nsasldb_path: %s/sasldb\n", dir);
    fclose(f);
    setenv("SASL_CONF_PATH", dir, 1);
    const char *why = NULL;
    if (sasl_global_acquire(FUZZ_APPNAME, &why) < 0) {
        return false;
    }
    ready = 1;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || !fuzz_sasl_init()) {
        return 0;
    }
    struct sasl_auth_config cfg = {
            .local_addr = "127.0.0.1;5900",
            .remote_addr = "127.0.0.1;40000",
            .external_ssf = (data[0] & 1) ? 256 : 0,
    };
    data++;
    size--;
    struct byte_buf out;
    buf_init(&out);
    const char *why = NULL;
    struct sasl_auth *a = sasl_auth_create(&cfg, &out, &why);
    if (!a) {
        buf_finish(&out);
        return 0;
    }
    size_t pos = 0;
    int rc = SASL_AUTH_MORE;
    while (rc == SASL_AUTH_MORE) {
        size_t need = 0;
        uint8_t *dst = sasl_auth_want(a, &need);
        if (!dst || need == 0 || need > size - pos) {
            break; /* the client stalls here: the link deadline would end it */
        }
        memcpy(dst, data + pos, need);
        pos += need;
        rc = sasl_auth_input(a, &out, &why);
        buf_reset(&out);
    }
    if (rc == SASL_AUTH_DONE) {
        (void)sasl_auth_username(a);
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
            close(sv[1]);
            struct stream *s = sasl_stream_create(a, tcp_stream_create(sv[0]));
            a = NULL;
            stream_destroy(s);
        }
    }
    sasl_auth_destroy(a);
    buf_finish(&out);
    return 0;
}
