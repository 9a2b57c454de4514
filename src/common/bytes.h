/*
 * Little-endian byte reader and growable byte buffer.
 *
 * The reader never reads past its end: every read_* call checks first and
 * latches a failure flag, so a parser can read a whole struct and test
 * `reader_ok()` once. The buffer is the writer side: it grows on demand and
 * reports allocation failure the same way (buf_ok()).
 *
 * Thread: any (no shared state).
 */
#ifndef CLOVE_COMMON_BYTES_H
#define CLOVE_COMMON_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct byte_reader {
    const uint8_t *data; /* borrows */
    size_t size;
    size_t pos;
    bool failed;
};

static inline void reader_init(struct byte_reader *r, const void *data, size_t size)
{
    r->data = data;
    r->size = size;
    r->pos = 0;
    r->failed = false;
}

static inline size_t reader_remaining(const struct byte_reader *r)
{
    return r->failed ? 0 : r->size - r->pos;
}

/* True if n more bytes can be read; latches failure otherwise. */
static inline bool reader_need(struct byte_reader *r, size_t n)
{
    if (r->failed || r->size - r->pos < n) {
        r->failed = true;
        return false;
    }
    return true;
}

static inline bool reader_ok(const struct byte_reader *r)
{
    return !r->failed;
}

/* Moves to an absolute offset; fails if it is beyond the end. */
static inline bool reader_seek(struct byte_reader *r, size_t offset)
{
    if (r->failed || offset > r->size) {
        r->failed = true;
        return false;
    }
    r->pos = offset;
    return true;
}

static inline uint8_t read_u8(struct byte_reader *r)
{
    if (!reader_need(r, 1)) {
        return 0;
    }
    return r->data[r->pos++];
}

static inline uint16_t read_u16(struct byte_reader *r)
{
    if (!reader_need(r, 2)) {
        return 0;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += 2;
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t read_u32(struct byte_reader *r)
{
    if (!reader_need(r, 4)) {
        return 0;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += 4;
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t read_u64(struct byte_reader *r)
{
    uint64_t lo = read_u32(r);
    uint64_t hi = read_u32(r);
    return lo | (hi << 32);
}

static inline int32_t read_i32(struct byte_reader *r)
{
    return (int32_t)read_u32(r);
}

/* Returns a pointer to the next n bytes and skips them, or NULL. */
static inline const uint8_t *read_bytes(struct byte_reader *r, size_t n)
{
    if (!reader_need(r, n)) {
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

static inline void put_u16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint16_t get_u16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

/* A growable byte buffer. Zero-initialise, or buf_init(). */
struct byte_buf {
    uint8_t *data; /* owns */
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed; contents are incomplete */
};

void buf_init(struct byte_buf *b);
void buf_finish(struct byte_buf *b);
void buf_reset(struct byte_buf *b);
/* Makes room for n more bytes; returns a pointer to them (not yet counted) or NULL. */
uint8_t *buf_reserve(struct byte_buf *b, size_t n);
/* Appends n uninitialised bytes and returns a pointer to them, or NULL. */
uint8_t *buf_append(struct byte_buf *b, size_t n);
void buf_put(struct byte_buf *b, const void *data, size_t n);
void buf_put_u8(struct byte_buf *b, uint8_t v);
void buf_put_u16(struct byte_buf *b, uint16_t v);
void buf_put_u32(struct byte_buf *b, uint32_t v);
void buf_put_u64(struct byte_buf *b, uint64_t v);
void buf_put_zeros(struct byte_buf *b, size_t n);
static inline bool buf_ok(const struct byte_buf *b)
{
    return !b->failed;
}

#endif
