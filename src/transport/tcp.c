/*
 * Plain socket streams (TCP or unix).
 *
 * Writes use sendmsg(MSG_NOSIGNAL), so a peer that vanishes mid-write yields
 * an error return instead of SIGPIPE: the library must not rely on the host
 * ignoring that signal.
 */
#include "common/error.h"
#include "transport/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct tcp_stream {
    struct stream base;
};

static ssize_t tcp_read(struct stream *s, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(s->fd, buf, len, 0);
        if (n > 0) {
            return n;
        }
        if (n == 0) {
            return CLOVE_E_CLOSED;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return CLOVE_E_AGAIN;
        }
        return CLOVE_E_IO;
    }
}

static ssize_t tcp_writev(struct stream *s, const struct iovec *iov, int iovcnt)
{
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    for (;;) {
        ssize_t n = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
        if (n >= 0) {
            return n;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return CLOVE_E_AGAIN;
        }
        if (errno == EPIPE || errno == ECONNRESET) {
            return CLOVE_E_CLOSED;
        }
        return CLOVE_E_IO;
    }
}

static void tcp_destroy(struct stream *s)
{
    close(s->fd);
    free(s);
}

static const struct stream_impl tcp_stream_impl = {
        .read = tcp_read,
        .writev = tcp_writev,
        .destroy = tcp_destroy,
};

struct stream *tcp_stream_create(int fd)
{
    struct tcp_stream *t = calloc(1, sizeof(*t));
    if (!t) {
        close(fd);
        return NULL;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) {
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    int one = 1;
    /* These fail harmlessly on unix sockets. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    int idle = 600;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    t->base.impl = &tcp_stream_impl;
    t->base.fd = fd;
    return &t->base;
}
