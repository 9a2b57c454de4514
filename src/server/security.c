/*
 * The security settings of <spice.h>: TLS (spice_server_set_tls,
 * spice_server_add_ssl_client) and SASL (spice_server_set_sasl,
 * spice_server_set_sasl_appname).
 *
 * DESIGN
 * set_tls only checks and copies the configuration; the files are loaded
 * once, when the server starts listening (security_tls_load, from
 * listener_start), so a connection never waits on file I/O and a host that
 * configures TLS before spice_server_init (QEMU does) gets the same result
 * as one that does it after. The key password is wiped once the key is
 * loaded. SASL is initialised lazily by the first SASL link (link_stage.c
 * through transport/sasl.c), with the application name set here: cyrus-sasl
 * then reads <appname>.conf (mechanisms, user database) from its usual
 * places or SASL_CONF_PATH.
 *
 * Thread: host loop.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sys/socket.h>

#include "common/error.h"
#include "common/log.h"
#include "server/export.h"
#include "server/server.h"
#include "transport/sasl.h"
#include "transport/tls.h"

static char *dup_or_null(const char *str)
{
    return str && *str ? strdup(str) : NULL;
}

static void free_secret(char **p)
{
    if (*p) {
        OPENSSL_cleanse(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

static void tls_config_clear(struct RedsState *s)
{
    free(s->tls_ca_file);
    free(s->tls_cert_file);
    free(s->tls_key_file);
    free(s->tls_dh_file);
    free(s->tls_ciphers);
    s->tls_ca_file = s->tls_cert_file = s->tls_key_file = NULL;
    s->tls_dh_file = s->tls_ciphers = NULL;
    free_secret(&s->tls_key_password);
    s->tls_port = 0;
}

/*
 * Opens a second listening port whose connections run a TLS handshake
 * before the link. Fails (-1) for a missing server, a port outside 1..65535
 * or unreadable certificate/key files; the files themselves are parsed when
 * the server starts listening, and a bad one then fails spice_server_init.
 */
SPICE_EXPORT int spice_server_set_tls(SpiceServer *s, int port, const char *ca_cert_file,
                                      const char *certs_file, const char *private_key_file,
                                      const char *key_passwd, const char *dh_key_file,
                                      const char *ciphersuite)
{
    if (!s) {
        return -1;
    }
    if (port <= 0 || port > 65535) {
        log_warn("spice_server_set_tls: invalid port %d", port);
        return -1;
    }
    if (!certs_file || access(certs_file, R_OK) != 0 || !private_key_file ||
        access(private_key_file, R_OK) != 0) {
        log_warn("spice_server_set_tls: cannot read the certificate (%s) or key (%s)",
                 certs_file ? certs_file : "none", private_key_file ? private_key_file : "none");
        return -1;
    }
    if (s->tls) {
        log_warn("spice_server_set_tls: the TLS port is already open");
        return -1;
    }
    tls_config_clear(s);
    s->tls_port = port;
    s->tls_ca_file = dup_or_null(ca_cert_file);
    s->tls_cert_file = strdup(certs_file);
    s->tls_key_file = strdup(private_key_file);
    s->tls_key_password = dup_or_null(key_passwd);
    s->tls_dh_file = dup_or_null(dh_key_file);
    s->tls_ciphers = dup_or_null(ciphersuite);
    if (!s->tls_cert_file || !s->tls_key_file) {
        tls_config_clear(s);
        return -1;
    }
    return 0;
}

int security_tls_load(struct RedsState *s)
{
    if (s->tls || s->tls_port <= 0) {
        return 0;
    }
    struct tls_config cfg = {
            .ca_file = s->tls_ca_file,
            .cert_file = s->tls_cert_file,
            .key_file = s->tls_key_file,
            .key_password = s->tls_key_password,
            .dh_file = s->tls_dh_file,
            .ciphers = s->tls_ciphers,
    };
    const char *why = "?";
    s->tls = tls_context_create(&cfg, &why);
    free_secret(&s->tls_key_password);
    if (!s->tls) {
        log_error("TLS setup failed: %s (certificate %s, key %s)", why, s->tls_cert_file,
                  s->tls_key_file);
        return CLOVE_E_INVALID;
    }
    return 0;
}

void security_finish(struct RedsState *s)
{
    tls_context_destroy(s->tls);
    s->tls = NULL;
    tls_config_clear(s);
    free(s->sasl_appname);
    s->sasl_appname = NULL;
    if (s->sasl_initialized) {
        sasl_global_release();
        s->sasl_initialized = false;
    }
}

/*
 * Adds a connected socket on which the client starts with a TLS handshake.
 * Needs the TLS configuration loaded (spice_server_set_tls before
 * spice_server_init); on failure the caller keeps `socket`.
 */
SPICE_EXPORT int spice_server_add_ssl_client(SpiceServer *s, int socket, int skip_auth)
{
    int type = 0;
    socklen_t type_len = sizeof(type);
    if (!s || socket < 0 || getsockopt(socket, SOL_SOCKET, SO_TYPE, &type, &type_len) < 0 ||
        type != SOCK_STREAM) {
        return -1; /* only a stream socket can carry TLS */
    }
    if (!s->tls) {
        log_warn("spice_server_add_ssl_client: TLS is not configured");
        return -1;
    }
    int fd = dup(socket);
    if (fd < 0) {
        return -1;
    }
    struct stream *tcp = tcp_stream_create(fd);
    struct stream *tls = tcp ? tls_stream_create(s->tls, tcp) : NULL;
    if (!tls) {
        return -1; /* our duplicate is closed; the caller's socket is intact */
    }
    /* Success: the socket is ours now, through the duplicate. */
    close(socket);
    link_conn_start(s, tls, skip_auth != 0);
    return 0;
}

/*
 * Turns SASL authentication on or off for links that need authentication
 * (it then replaces ticket authentication, as in the reference). Takes
 * effect for links that start afterwards. Fails only without a server.
 */
SPICE_EXPORT int spice_server_set_sasl(SpiceServer *s, int enabled)
{
    if (!s) {
        return enabled ? -1 : 0;
    }
    s->sasl = enabled != 0;
    return 0;
}

/*
 * The name of the SASL configuration (<appname>.conf; default "spice").
 * Copied; used when the first SASL link initialises the library, so set it
 * before clients connect. NULL restores the default. Always returns 0.
 */
SPICE_EXPORT int spice_server_set_sasl_appname(SpiceServer *s, const char *appname)
{
    if (!s) {
        return 0;
    }
    char *copy = dup_or_null(appname);
    if (appname && *appname && !copy) {
        return -1;
    }
    free(s->sasl_appname);
    s->sasl_appname = copy;
    return 0;
}
