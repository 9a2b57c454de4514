/*
 * The listening socket(s): TCP on addr:port (IPv4 and/or IPv6, as the
 * address flags say), a unix socket path, or a socket the host passed in.
 * With spice_server_set_tls, a second TCP port whose connections are
 * wrapped in a TLS stream (the handshake runs in the link stage).
 * Accepted connections go straight to the link stage.
 *
 * Thread: main (the host's loop).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>

#include "common/error.h"
#include "common/log.h"
#include "server/server.h"
#include "transport/tls.h"

#define LISTENER_MAX_FDS 8

struct listener {
    struct RedsState *server;
    int fds[LISTENER_MAX_FDS];
    struct loop_watch *watches[LISTENER_MAX_FDS];
    bool tls[LISTENER_MAX_FDS]; /* the TLS port */
    int num_fds;
    bool owns_fds;
};

static void listener_close(struct RedsState *s);

static void listener_add_tls_client(struct RedsState *s, int fd)
{
    struct stream *tcp = tcp_stream_create(fd);
    struct stream *tls = tcp ? tls_stream_create(s->tls, tcp) : NULL;
    if (!tls) {
        log_ratelimited(LOG_LEVEL_WARN, "cannot set up TLS for a new connection");
        return;
    }
    link_conn_start(s, tls, false);
}

static void listener_on_accept(int fd, int events, void *opaque)
{
    struct listener *l = opaque;
    bool tls = false;
    for (int i = 0; i < l->num_fds; i++) {
        if (l->fds[i] == fd) {
            tls = l->tls[i];
        }
    }
    for (int i = 0; i < 64; i++) {
        int cfd = accept(fd, NULL, NULL);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                log_ratelimited(LOG_LEVEL_WARN, "accept failed: %s", strerror(errno));
            }
            return;
        }
        if (tls) {
            listener_add_tls_client(l->server, cfd);
        } else {
            listener_add_client(l->server, cfd, false);
        }
    }
}

int listener_add_client(struct RedsState *s, int fd, bool skip_auth)
{
    struct stream *stream = tcp_stream_create(fd);
    if (!stream) {
        return CLOVE_E_NOMEM;
    }
    link_conn_start(s, stream, skip_auth);
    return 0;
}

static int listener_add_fd(struct listener *l, int fd, bool tls)
{
    if (l->num_fds == LISTENER_MAX_FDS) {
        return CLOVE_E_RANGE;
    }
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    l->watches[l->num_fds] = loop_watch_add(l->server->loop, fd, LOOP_READ, listener_on_accept, l);
    if (!l->watches[l->num_fds]) {
        return CLOVE_E_NOMEM;
    }
    l->tls[l->num_fds] = tls;
    l->fds[l->num_fds++] = fd;
    return 0;
}

static int listener_open_unix(struct listener *l, const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) {
        log_error("unix socket path too long: %s", path);
        return CLOVE_E_RANGE;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_errno("socket");
        return CLOVE_E_IO;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 64) < 0) {
        log_errno("cannot listen on unix socket %s", path);
        close(fd);
        return CLOVE_E_IO;
    }
    int rc = listener_add_fd(l, fd, false);
    if (rc < 0) {
        close(fd);
    }
    return rc;
}

static int listener_open_tcp(struct listener *l, const char *addr, int port, int flags, bool tls)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_ADDRCONFIG};
    hints.ai_family = (flags & SPICE_ADDR_FLAG_IPV4_ONLY)   ? AF_INET
                      : (flags & SPICE_ADDR_FLAG_IPV6_ONLY) ? AF_INET6
                                                            : AF_UNSPEC;
    char port_str[16];
    snprintf(port_str, sizeof(port_str), "%d", port);
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(addr && *addr ? addr : NULL, port_str, &hints, &res);
    if (gai != 0) {
        log_error("cannot resolve %s: %s", addr ? addr : "(any)", gai_strerror(gai));
        return CLOVE_E_IO;
    }
    int opened = 0;
    for (struct addrinfo *ai = res; ai && l->num_fds < LISTENER_MAX_FDS; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6) {
            /* With both families in the list, keep them on separate sockets. */
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
            log_errno("cannot listen on %s:%d", addr ? addr : "*", port);
            close(fd);
            continue;
        }
        if (listener_add_fd(l, fd, tls) < 0) {
            close(fd);
            continue;
        }
        opened++;
    }
    freeaddrinfo(res);
    return opened > 0 ? 0 : CLOVE_E_IO;
}

int listener_start(struct RedsState *s)
{
    struct listener *l = calloc(1, sizeof(*l));
    if (!l) {
        return CLOVE_E_NOMEM;
    }
    l->server = s;
    l->owns_fds = true;
    int rc = 0;
    if (s->external_listen_fd >= 0) {
        l->owns_fds = false;
        rc = listener_add_fd(l, s->external_listen_fd, false);
    } else if (s->addr_flags & SPICE_ADDR_FLAG_UNIX_ONLY) {
        rc = listener_open_unix(l, s->addr ? s->addr : "");
    } else if (s->port > 0) {
        rc = listener_open_tcp(l, s->addr, s->port, s->addr_flags, false);
        if (rc == 0) {
            log_info("listening on %s:%d", s->addr && *s->addr ? s->addr : "*", s->port);
        }
    }
    if (rc == 0 && s->tls_port > 0) {
        rc = security_tls_load(s);
        if (rc == 0 && !(s->addr_flags & SPICE_ADDR_FLAG_UNIX_ONLY)) {
            rc = listener_open_tcp(l, s->addr, s->tls_port, s->addr_flags, true);
            if (rc == 0) {
                log_info("listening for TLS on %s:%d", s->addr && *s->addr ? s->addr : "*",
                         s->tls_port);
            }
        }
    }
    s->listener = l;
    if (rc < 0) {
        listener_close(s);
    }
    return rc;
}

void listener_stop(struct RedsState *s)
{
    listener_close(s);
    security_finish(s);
}

static void listener_close(struct RedsState *s)
{
    struct listener *l = s->listener;
    if (!l) {
        return;
    }
    for (int i = 0; i < l->num_fds; i++) {
        loop_watch_remove(s->loop, l->watches[i]);
        if (l->owns_fds) {
            close(l->fds[i]);
        }
    }
    free(l);
    s->listener = NULL;
}
