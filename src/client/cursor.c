/*
 * The cursor channel of a client session: the guest's cursor shape,
 * position and visibility.
 *
 * DESIGN: every shape that arrives is converted at once to ARGB
 * (cursor_shape_convert, pure, unit-tested) so the API hands out one
 * format whatever the guest sent. The current shape is a private copy;
 * shapes the server marks CACHE_ME are also kept in a small cache keyed by
 * their unique id (at most CURSOR_CACHE_SIZE, the reference's size; the
 * oldest entry goes first) so that FROM_CACHE, INVAL_ONE and INVAL_ALL
 * work. Bodies are parsed here with a checking byte_reader (spice.proto
 * SpiceMsgCursorInit/Set/Move, SpiceCursor): a short or inconsistent body
 * fails the session, an unknown shape type only drops the shape.
 *
 * Thread: the session's.
 */
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/protocol.h>

#include "client/client_priv.h"
#include "common/error.h"
#include "common/log.h"

/* Larger shapes are refused (the reference's devices stop far below). */
#define CURSOR_MAX_DIM 1024

#define ARGB_BLACK     0xff000000u
#define ARGB_WHITE     0xffffffffu

static bool mask_bit(const uint8_t *mask, size_t bpl, uint32_t x, uint32_t y)
{
    return (mask[y * bpl + x / 8] & (0x80u >> (x % 8))) != 0;
}

/* Applies the AND mask of a COLOR* shape: set bits are transparent, except
 * over white, where the guest asks for inversion (shown black). */
static void apply_and_mask(uint32_t *out, uint32_t w, uint32_t h, const uint8_t *mask)
{
    size_t bpl = (w + 7) / 8;
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            uint32_t *p = &out[y * w + x];
            if (!mask_bit(mask, bpl, x, y)) {
                *p |= 0xff000000u;
            } else if ((*p & 0xffffffu) == 0xffffffu) {
                *p = ARGB_BLACK;
            } else {
                *p = 0;
            }
        }
    }
}

int cursor_shape_convert(uint8_t type, uint16_t width, uint16_t height, const uint8_t *data,
                         size_t size, uint32_t *out)
{
    size_t w = width, h = height, n = w * h;
    size_t bpl = (w + 7) / 8, mask_size = bpl * h;
    size_t pixel_bytes;
    switch (type) {
    case SPICE_CURSOR_TYPE_ALPHA:
        if (size < n * 4) {
            return CLOVE_E_INVALID;
        }
        for (size_t i = 0; i < n; i++) {
            out[i] = get_u32le(data + 4 * i);
        }
        return 0;
    case SPICE_CURSOR_TYPE_MONO: {
        if (size < 2 * mask_size) {
            return CLOVE_E_INVALID;
        }
        const uint8_t *and_mask = data, *xor_mask = data + mask_size;
        for (uint32_t y = 0; y < h; y++) {
            for (uint32_t x = 0; x < w; x++) {
                bool a = mask_bit(and_mask, bpl, x, y), b = mask_bit(xor_mask, bpl, x, y);
                out[y * w + x] = a ? (b ? ARGB_BLACK : 0) : (b ? ARGB_WHITE : ARGB_BLACK);
            }
        }
        return 0;
    }
    case SPICE_CURSOR_TYPE_COLOR4: {
        size_t row = (w + 1) / 2;
        pixel_bytes = row * h + 16 * 4;
        if (size < pixel_bytes + mask_size) {
            return CLOVE_E_INVALID;
        }
        const uint8_t *palette = data + row * h;
        for (uint32_t y = 0; y < h; y++) {
            for (uint32_t x = 0; x < w; x++) {
                uint8_t b = data[y * row + x / 2];
                unsigned idx = (x & 1) ? (b & 0x0f) : (b >> 4);
                out[y * w + x] = get_u32le(palette + 4 * idx) & 0xffffffu;
            }
        }
        break;
    }
    case SPICE_CURSOR_TYPE_COLOR8:
        pixel_bytes = n + 256 * 4;
        if (size < pixel_bytes + mask_size) {
            return CLOVE_E_INVALID;
        }
        for (size_t i = 0; i < n; i++) {
            out[i] = get_u32le(data + n + 4 * (size_t)data[i]) & 0xffffffu;
        }
        break;
    case SPICE_CURSOR_TYPE_COLOR16:
        pixel_bytes = n * 2;
        if (size < pixel_bytes + mask_size) {
            return CLOVE_E_INVALID;
        }
        for (size_t i = 0; i < n; i++) {
            /* x1r5g5b5, each channel widened to 8 bits */
            uint32_t p = get_u16le(data + 2 * i);
            uint32_t r = (p >> 10) & 0x1f, g = (p >> 5) & 0x1f, b = p & 0x1f;
            r = (r << 3) | (r >> 2);
            g = (g << 3) | (g >> 2);
            b = (b << 3) | (b >> 2);
            out[i] = (r << 16) | (g << 8) | b;
        }
        break;
    case SPICE_CURSOR_TYPE_COLOR24:
        pixel_bytes = n * 3;
        if (size < pixel_bytes + mask_size) {
            return CLOVE_E_INVALID;
        }
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p = data + 3 * i;
            out[i] = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
        }
        break;
    case SPICE_CURSOR_TYPE_COLOR32:
        pixel_bytes = n * 4;
        if (size < pixel_bytes + mask_size) {
            return CLOVE_E_INVALID;
        }
        for (size_t i = 0; i < n; i++) {
            out[i] = get_u32le(data + 4 * i) & 0xffffffu;
        }
        break;
    default:
        return CLOVE_E_UNSUPPORTED;
    }
    apply_and_mask(out, width, height, data + pixel_bytes);
    return 0;
}

/* ---- shapes and the cache ---- */

static void shape_destroy(struct cursor_shape *shape)
{
    if (shape) {
        free(shape->argb);
        free(shape);
    }
}

static struct cursor_shape *shape_copy(const struct cursor_shape *src)
{
    struct cursor_shape *copy = malloc(sizeof(*copy));
    size_t bytes = (size_t)src->width * src->height * 4;
    if (!copy || !(copy->argb = malloc(bytes ? bytes : 1))) {
        free(copy);
        return NULL;
    }
    *copy = (struct cursor_shape){.unique = src->unique,
                                  .width = src->width,
                                  .height = src->height,
                                  .hot_x = src->hot_x,
                                  .hot_y = src->hot_y,
                                  .argb = copy->argb};
    memcpy(copy->argb, src->argb, bytes);
    return copy;
}

static void cache_remove(struct cursor_state *c, uint64_t unique)
{
    for (struct cursor_shape **p = &c->cache; *p; p = &(*p)->next) {
        if ((*p)->unique == unique) {
            struct cursor_shape *gone = *p;
            *p = gone->next;
            shape_destroy(gone);
            c->cache_count--;
            return;
        }
    }
}

static void cache_clear(struct cursor_state *c)
{
    while (c->cache) {
        struct cursor_shape *next = c->cache->next;
        shape_destroy(c->cache);
        c->cache = next;
    }
    c->cache_count = 0;
}

/* Takes `shape`: the newest entry; the oldest one goes when full. */
static void cache_add(struct cursor_state *c, struct cursor_shape *shape)
{
    cache_remove(c, shape->unique);
    if (c->cache_count >= CURSOR_CACHE_SIZE) {
        struct cursor_shape **p = &c->cache;
        while ((*p)->next) {
            p = &(*p)->next;
        }
        shape_destroy(*p);
        *p = NULL;
        c->cache_count--;
    }
    shape->next = c->cache;
    c->cache = shape;
    c->cache_count++;
}

static void set_current(struct clove_session *s, struct cursor_shape *shape)
{
    struct cursor_state *c = &s->cursor_state;
    shape_destroy(c->current);
    c->current = shape;
    c->serial++;
    session_event(s, CLOVE_EVENT_CURSOR_SHAPE);
}

void cursor_finish(struct cursor_state *c)
{
    shape_destroy(c->current);
    c->current = NULL;
    cache_clear(c);
}

/*
 * Parses the SpiceCursor at the reader (to the end of the body) and makes
 * it current (NONE: no shape). Returns 0 or < 0 (session_fail called).
 */
static int read_cursor(struct clove_session *s, struct byte_reader *r)
{
    struct cursor_state *c = &s->cursor_state;
    uint16_t flags = read_u16(r);
    if (!reader_ok(r)) {
        return session_fail(s, CLOVE_E_INVALID, "cursor channel: short cursor");
    }
    if (flags & SPICE_CURSOR_FLAGS_NONE) {
        set_current(s, NULL);
        return 0;
    }
    struct cursor_shape head = {0};
    head.unique = read_u64(r);
    uint8_t type = read_u8(r);
    head.width = read_u16(r);
    head.height = read_u16(r);
    head.hot_x = read_u16(r);
    head.hot_y = read_u16(r);
    if (!reader_ok(r)) {
        return session_fail(s, CLOVE_E_INVALID, "cursor channel: short cursor header");
    }
    if (flags & SPICE_CURSOR_FLAGS_FROM_CACHE) {
        for (struct cursor_shape *e = c->cache; e; e = e->next) {
            if (e->unique == head.unique) {
                struct cursor_shape *copy = shape_copy(e);
                if (!copy) {
                    return session_fail(s, CLOVE_E_NOMEM, "cursor channel: out of memory");
                }
                set_current(s, copy);
                return 0;
            }
        }
        return session_fail(s, CLOVE_E_INVALID, "cursor channel: shape %llu not in the cache",
                            (unsigned long long)head.unique);
    }
    if (head.width > CURSOR_MAX_DIM || head.height > CURSOR_MAX_DIM) {
        return session_fail(s, CLOVE_E_RANGE, "cursor channel: %ux%u cursor too large", head.width,
                            head.height);
    }
    /* Hot spots outside the shape are clamped, as spice-gtk does. */
    head.hot_x = head.hot_x > head.width ? head.width : head.hot_x;
    head.hot_y = head.hot_y > head.height ? head.height : head.hot_y;
    size_t size = reader_remaining(r);
    const uint8_t *data = read_bytes(r, size);
    struct cursor_shape *shape = malloc(sizeof(*shape));
    size_t pixels = (size_t)head.width * head.height;
    if (!shape || !(head.argb = malloc(pixels ? pixels * 4 : 1))) {
        free(shape);
        return session_fail(s, CLOVE_E_NOMEM, "cursor channel: out of memory");
    }
    *shape = head;
    int rc = cursor_shape_convert(type, head.width, head.height, data, size, shape->argb);
    if (rc < 0) {
        shape_destroy(shape);
        if (rc == CLOVE_E_UNSUPPORTED) {
            log_ratelimited(LOG_LEVEL_DEBUG, "cursor: shape type %u unsupported", type);
            set_current(s, NULL);
            return 0;
        }
        return session_fail(s, rc, "cursor channel: %ux%u shape of type %u: short data", head.width,
                            head.height, type);
    }
    if (flags & SPICE_CURSOR_FLAGS_CACHE_ME) {
        struct cursor_shape *copy = shape_copy(shape);
        if (!copy) {
            shape_destroy(shape);
            return session_fail(s, CLOVE_E_NOMEM, "cursor channel: out of memory");
        }
        cache_add(c, copy);
    }
    set_current(s, shape);
    return 0;
}

static void read_position(struct cursor_state *c, struct byte_reader *r)
{
    /* Point16 {i16 x; i16 y} */
    c->x = (int16_t)read_u16(r);
    c->y = (int16_t)read_u16(r);
}

int cursor_ready(struct client_channel *ch)
{
    log_debug("cursor: ready");
    (void)ch;
    return 0;
}

int cursor_message(struct client_channel *ch, uint16_t type, const uint8_t *body, size_t len)
{
    struct clove_session *s = ch->session;
    struct cursor_state *c = &s->cursor_state;
    struct byte_reader r;
    reader_init(&r, body, len);
    switch (type) {
    case SPICE_MSG_CURSOR_INIT:
    case SPICE_MSG_CURSOR_SET: {
        /* Init: Point16 position; u16 trail_length, trail_frequency; u8 visible; Cursor.
         * Set: Point16 position; u8 visible; Cursor. */
        read_position(c, &r);
        if (type == SPICE_MSG_CURSOR_INIT) {
            cache_clear(c);
            read_u16(&r);
            read_u16(&r);
        }
        uint8_t visible = read_u8(&r);
        if (!reader_ok(&r)) {
            return session_fail(s, CLOVE_E_INVALID, "cursor channel: message %u too short", type);
        }
        c->visible = visible != 0;
        int rc = read_cursor(s, &r);
        if (rc == 0) {
            session_event(s, CLOVE_EVENT_CURSOR_MOVE);
        }
        return rc;
    }
    case SPICE_MSG_CURSOR_MOVE:
        read_position(c, &r);
        if (!reader_ok(&r)) {
            return session_fail(s, CLOVE_E_INVALID, "cursor channel: MOVE too short");
        }
        /* A move shows a hidden cursor again, as in the reference client. */
        c->visible = true;
        session_event(s, CLOVE_EVENT_CURSOR_MOVE);
        return 0;
    case SPICE_MSG_CURSOR_HIDE:
        c->visible = false;
        session_event(s, CLOVE_EVENT_CURSOR_MOVE);
        return 0;
    case SPICE_MSG_CURSOR_RESET:
        cache_clear(c);
        c->visible = false;
        set_current(s, NULL);
        return 0;
    case SPICE_MSG_CURSOR_INVAL_ONE: {
        uint64_t id = read_u64(&r);
        if (!reader_ok(&r)) {
            return session_fail(s, CLOVE_E_INVALID, "cursor channel: INVAL_ONE too short");
        }
        cache_remove(c, id);
        return 0;
    }
    case SPICE_MSG_CURSOR_INVAL_ALL:
        cache_clear(c);
        return 0;
    default:
        log_ratelimited(LOG_LEVEL_DEBUG, "cursor: message %u ignored", type);
        return 0;
    }
}
