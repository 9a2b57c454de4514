/*
 * A byte stream behind a vtable: plain TCP/unix sockets (tcp.c), TLS (tls.c)
 * and websocket framing (websocket.c) on top of another stream, all
 * non-blocking.
 *
 * read/write return the number of bytes moved (> 0), CLOVE_E_AGAIN when the
 * operation would block, CLOVE_E_CLOSED on an orderly close by the peer, or
 * CLOVE_E_IO (errno set). Writes never raise SIGPIPE. After CLOVE_E_AGAIN from
 * a write, the caller calls again with the same leading bytes (at least as
 * many): TLS and websocket streams may have sent part of them already.
 *
 * Thread: a stream is used by one thread at a time; it may be handed to
 * another thread (a display worker) together with its ownership.
 */
#ifndef CLOVE_TRANSPORT_STREAM_H
#define CLOVE_TRANSPORT_STREAM_H

#include <stddef.h>

#include <sys/types.h>
#include <sys/uio.h>

struct stream;

struct stream_impl {
    ssize_t (*read)(struct stream *s, void *buf, size_t len);
    ssize_t (*writev)(struct stream *s, const struct iovec *iov, int iovcnt);
    void (*destroy)(struct stream *s);
    /* Optional: bytes already received and decoded but not read yet (TLS
     * records, websocket frames). Polling the fd cannot see them, so a
     * reader that stops before CLOVE_E_AGAIN must check stream_pending(). */
    size_t (*pending)(struct stream *s);
};

/* stream.flags */
#define STREAM_FLAG_TLS       (1u << 0) /* encrypted (TLS), possibly below a websocket */
#define STREAM_FLAG_WEBSOCKET (1u << 1)

struct stream {
    const struct stream_impl *impl;
    int fd;         /* for polling; owned by the stream */
    unsigned flags; /* STREAM_FLAG_* */
};

static inline ssize_t stream_read(struct stream *s, void *buf, size_t len)
{
    return s->impl->read(s, buf, len);
}

static inline ssize_t stream_writev(struct stream *s, const struct iovec *iov, int iovcnt)
{
    return s->impl->writev(s, iov, iovcnt);
}

ssize_t stream_write(struct stream *s, const void *buf, size_t len);

/* Bytes a read would return without touching the socket (0 for plain
 * sockets). */
size_t stream_pending(struct stream *s);

/* Closes and frees. Accepts NULL. */
void stream_destroy(struct stream *s);

/* Takes ownership of a connected socket fd; makes it non-blocking and sets
 * TCP_NODELAY / keepalive where it applies. Returns NULL on failure (the fd
 * is closed). */
struct stream *tcp_stream_create(int fd);

#endif
