/*
 * Helpers common to every stream implementation.
 */
#include "transport/stream.h"

#include <stdlib.h>

ssize_t stream_write(struct stream *s, const void *buf, size_t len)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    return stream_writev(s, &iov, 1);
}

size_t stream_pending(struct stream *s)
{
    return s->impl->pending ? s->impl->pending(s) : 0;
}

void stream_destroy(struct stream *s)
{
    if (s) {
        s->impl->destroy(s);
    }
}
