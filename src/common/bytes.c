/*
 * The growable byte buffer. Growth doubles, so appends are amortised O(1).
 */
#include "common/bytes.h"

#include <stdlib.h>
#include <string.h>

void buf_init(struct byte_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void buf_finish(struct byte_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void buf_reset(struct byte_buf *b)
{
    b->len = 0;
    b->failed = false;
}

uint8_t *buf_reserve(struct byte_buf *b, size_t n)
{
    if (b->failed) {
        return NULL;
    }
    if (n > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) {
            cap *= 2;
        }
        uint8_t *p = realloc(b->data, cap);
        if (!p) {
            b->failed = true;
            return NULL;
        }
        b->data = p;
        b->cap = cap;
    }
    return b->data + b->len;
}

uint8_t *buf_append(struct byte_buf *b, size_t n)
{
    uint8_t *p = buf_reserve(b, n);
    if (p) {
        b->len += n;
    }
    return p;
}

void buf_put(struct byte_buf *b, const void *data, size_t n)
{
    uint8_t *p = buf_append(b, n);
    if (p && n) {
        memcpy(p, data, n);
    }
}

void buf_put_u8(struct byte_buf *b, uint8_t v)
{
    buf_put(b, &v, 1);
}

void buf_put_u16(struct byte_buf *b, uint16_t v)
{
    uint8_t *p = buf_append(b, 2);
    if (p) {
        put_u16le(p, v);
    }
}

void buf_put_u32(struct byte_buf *b, uint32_t v)
{
    uint8_t *p = buf_append(b, 4);
    if (p) {
        put_u32le(p, v);
    }
}

void buf_put_u64(struct byte_buf *b, uint64_t v)
{
    buf_put_u32(b, (uint32_t)v);
    buf_put_u32(b, (uint32_t)(v >> 32));
}

void buf_put_zeros(struct byte_buf *b, size_t n)
{
    uint8_t *p = buf_append(b, n);
    if (p && n) {
        memset(p, 0, n);
    }
}
