/*
 * libFuzzer target for what a hostile SPICE server can send a client:
 * src/proto/server_parse.c and the display pipeline of src/client (image
 * decoding with every codec, the GLZ window, the pixmap cache, canvas draws).
 *
 * Input: a sequence of messages {u16 type; u32 size; body[size]} (little
 * endian, size clipped to what is left); a type with bit 15 set goes (with
 * the bit cleared) to display channel 1 instead of 0, so that two display
 * channels share the caches. Each body goes through every
 * parser of server_parse.h (all must either fail with an err_desc or return
 * a length within the body; borrowed pointers are read so ASan sees them),
 * and then to the display channel's handler of a real session whose channel
 * has no socket, and to the cursor and inputs channels' handlers (cursor
 * shapes of every type, the cursor cache, motion acks). Surfaces are limited to 1024 x 1024 and
 * images to 512 x 512 so that runs stay fast. The session is rebuilt for every input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/protocol.h>

#include "client/client_priv.h"
#include "common/log.h"
#include "proto/server_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) \
    do {                  \
        if (!(cond)) {    \
            abort();      \
        }                 \
    } while (0)

static volatile uint32_t sink;

static void touch(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; p && i < n; i++) {
        sum += p[i];
    }
    sink += sum;
}

static void check_rc(int rc, size_t len, const char *err)
{
    FUZZ_ASSERT(rc < 0 ? err != NULL : (size_t)rc <= len);
}

static void touch_image(const struct server_image *img)
{
    touch(img->data, img->size);
    touch(img->palette, (size_t)img->num_palette * 4);
}

/* Every image a parsed draw carries: sources, patterns, masks. Returns how many. */
static int draw_images(const struct server_draw *d, const struct server_image *imgs[4])
{
    int n = 0;
    if (d->mask.has_bitmap) {
        imgs[n++] = &d->mask.bitmap;
    }
    const struct server_brush *brushes[2] = {NULL, NULL};
    switch (d->type) {
    case SPICE_MSG_DISPLAY_DRAW_FILL:
        brushes[0] = &d->u.fill.brush;
        break;
    case SPICE_MSG_DISPLAY_DRAW_COPY:
    case SPICE_MSG_DISPLAY_DRAW_BLEND:
        if (d->u.copy.has_src) {
            imgs[n++] = &d->u.copy.src;
        }
        break;
    case SPICE_MSG_DISPLAY_DRAW_OPAQUE:
        if (d->u.opaque.has_src) {
            imgs[n++] = &d->u.opaque.src;
        }
        brushes[0] = &d->u.opaque.brush;
        break;
    case SPICE_MSG_DISPLAY_DRAW_ROP3:
        if (d->u.rop3.has_src) {
            imgs[n++] = &d->u.rop3.src;
        }
        brushes[0] = &d->u.rop3.brush;
        break;
    case SPICE_MSG_DISPLAY_DRAW_TRANSPARENT:
        if (d->u.transparent.has_src) {
            imgs[n++] = &d->u.transparent.src;
        }
        break;
    case SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND:
        if (d->u.alpha_blend.has_src) {
            imgs[n++] = &d->u.alpha_blend.src;
        }
        break;
    case SPICE_MSG_DISPLAY_DRAW_STROKE:
        brushes[0] = &d->u.stroke.brush;
        break;
    case SPICE_MSG_DISPLAY_DRAW_TEXT:
        brushes[0] = &d->u.text.fore_brush;
        brushes[1] = &d->u.text.back_brush;
        break;
    case SPICE_MSG_DISPLAY_DRAW_COMPOSITE:
        imgs[n++] = &d->u.composite.src;
        if (d->u.composite.has_mask) {
            imgs[n++] = &d->u.composite.mask;
        }
        break;
    default:
        break;
    }
    for (int i = 0; i < 2; i++) {
        if (brushes[i] && brushes[i]->type == SPICE_BRUSH_TYPE_PATTERN) {
            imgs[n++] = &brushes[i]->pattern;
        }
    }
    return n;
}

static void parse_all(uint16_t type, const uint8_t *body, size_t len)
{
    const char *err = NULL;
    uint32_t a, b;
    uint64_t ts;
    int rc;
    rc = server_parse_set_ack(body, len, &a, &b, &err);
    check_rc(rc, len, err);
    err = NULL;
    rc = server_parse_ping(body, len, &a, &ts, &err);
    check_rc(rc, len, err);
    struct server_notify n;
    err = NULL;
    rc = server_parse_notify(body, len, &n, &err);
    check_rc(rc, len, err);
    if (rc >= 0) {
        touch(n.message, n.message_len);
    }
    struct wire_main_init init;
    err = NULL;
    rc = server_parse_main_init(body, len, &init, &err);
    check_rc(rc, len, err);
    struct wire_channel_id list[SERVER_PARSE_MAX_CHANNELS];
    err = NULL;
    rc = server_parse_main_channels_list(body, len, list, SERVER_PARSE_MAX_CHANNELS, &a, &err);
    check_rc(rc, len, err);
    uint16_t supported, current;
    err = NULL;
    rc = server_parse_main_mouse_mode(body, len, &supported, &current, &err);
    check_rc(rc, len, err);
    const uint8_t *name;
    uint32_t name_len;
    err = NULL;
    rc = server_parse_main_name(body, len, &name, &name_len, &err);
    check_rc(rc, len, err);
    if (rc >= 0) {
        touch(name, name_len);
    }
    uint32_t value;
    err = NULL;
    rc = server_parse_main_u32(type, body, len, &value, &err);
    check_rc(rc, len, err);
    struct server_surface_create sc;
    err = NULL;
    rc = server_parse_surface_create(body, len, &sc, &err);
    check_rc(rc, len, err);
    struct wire_head heads[SERVER_PARSE_MAX_HEADS];
    uint16_t count, max;
    err = NULL;
    rc = server_parse_monitors_config(body, len, heads, SERVER_PARSE_MAX_HEADS, &count, &max, &err);
    check_rc(rc, len, err);
    struct server_draw d;
    err = NULL;
    rc = server_parse_draw(type, body, len, &d, &err);
    check_rc(rc, len, err);
    if (rc >= 0) {
        for (uint32_t i = 0; i < d.num_clip_rects; i++) {
            sink += (uint32_t)server_draw_clip_rect(&d, i).right;
        }
        const struct server_image *imgs[4];
        int num_images = draw_images(&d, imgs);
        for (int i = 0; i < num_images; i++) {
            touch_image(imgs[i]);
        }
        if (type == SPICE_MSG_DISPLAY_DRAW_STROKE) {
            touch(d.u.stroke.path.segments, d.u.stroke.path.size);
            touch(d.u.stroke.attr.style,
                  d.u.stroke.attr.style ? d.u.stroke.attr.style_nseg * 4u : 0);
        } else if (type == SPICE_MSG_DISPLAY_DRAW_TEXT) {
            touch(d.u.text.str.glyphs, d.u.text.str.size);
        }
    }
    struct server_stream st;
    err = NULL;
    rc = server_parse_stream(type, body, len, &st, &err);
    check_rc(rc, len, err);
    if (rc >= 0) {
        touch(st.data, st.data_size);
    }
    const uint8_t *res;
    err = NULL;
    rc = server_parse_inval_list(body, len, &count, &res, &err);
    check_rc(rc, len, err);
    for (uint16_t i = 0; rc >= 0 && i < count; i++) {
        uint8_t rtype;
        server_inval_list_item(res, i, &rtype, &ts);
        sink += rtype;
    }
    err = NULL;
    rc = server_parse_inval_one(body, len, &ts, &err);
    check_rc(rc, len, err);
}

/* Keeps the display handler away from sizes that only cost time. */
static bool too_big(uint16_t type, const uint8_t *body, size_t len)
{
    const char *err;
    if (type == SPICE_MSG_DISPLAY_SURFACE_CREATE) {
        struct server_surface_create c;
        return server_parse_surface_create(body, len, &c, &err) >= 0 &&
               (c.width > 1024 || c.height > 1024);
    }
    struct server_draw d;
    if (server_parse_draw(type, body, len, &d, &err) < 0) {
        return false;
    }
    const struct server_image *imgs[4];
    int n = draw_images(&d, imgs);
    for (int i = 0; i < n; i++) {
        if (imgs[i]->width > 512 || imgs[i]->height > 512) {
            return true;
        }
    }
    /* Big glyph strings and paths only cost time too. */
    return (type == SPICE_MSG_DISPLAY_DRAW_TEXT && d.u.text.str.size > 65536) ||
           (type == SPICE_MSG_DISPLAY_DRAW_STROKE && d.u.stroke.path.num_points > 4096);
}

static void quiet(enum log_level level, const char *file, int line, const char *msg)
{
    (void)level;
    (void)file;
    (void)line;
    (void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int verbose = -1;
    if (verbose < 0) {
        verbose = getenv("FUZZ_VERBOSE") != NULL;
        if (!verbose) {
            log_set_handler(quiet);
        }
    }
    struct clove_session *s = clove_session_create();
    if (!s) {
        return 0;
    }
    struct client_channel ch = {.session = s,
                                .type = SPICE_CHANNEL_DISPLAY,
                                .state = CHANNEL_READY,
                                .fd = -1,
                                .mini_header = true};
    struct client_channel ch1 = ch;
    ch1.id = 1;
    struct client_channel cursor_ch = {.session = s,
                                       .type = SPICE_CHANNEL_CURSOR,
                                       .state = CHANNEL_READY,
                                       .fd = -1,
                                       .mini_header = true};
    struct client_channel inputs_ch = {.session = s,
                                       .type = SPICE_CHANNEL_INPUTS,
                                       .state = CHANNEL_READY,
                                       .fd = -1,
                                       .mini_header = true};
    struct byte_reader r;
    reader_init(&r, data, size);
    while (reader_remaining(&r) >= 6 && !s->error_code) {
        uint16_t type = read_u16(&r);
        uint32_t len = read_u32(&r);
        if (len > reader_remaining(&r)) {
            len = (uint32_t)reader_remaining(&r);
        }
        const uint8_t *body = read_bytes(&r, len);
        /* A private copy, so ASan catches any read past the body. */
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, body, len);
        parse_all(type, copy, len);
        if (!too_big(type & 0x7fff, copy, len)) {
            display_message(type & 0x8000 ? &ch1 : &ch, type & 0x7fff, copy, len);
        }
        cursor_message(&cursor_ch, type, copy, len);
        inputs_message(&inputs_ch, type, copy, len);
        free(copy);
    }
    struct clove_frame frame;
    if (clove_session_get_primary(s, &frame) == 0) {
        touch(frame.pixels, (size_t)frame.stride * frame.height);
    }
    if (clove_session_get_surface(s, 1, 0, &frame) == 0) {
        touch(frame.pixels, (size_t)frame.stride * frame.height);
    }
    struct clove_monitor heads[40];
    int nheads = clove_display_monitors(s, heads, 40);
    FUZZ_ASSERT(nheads >= 0 && nheads <= 2 * SERVER_PARSE_MAX_HEADS);
    for (int i = 0; i < nheads; i++) {
        sink += heads[i].width;
    }
    if (verbose) {
        log_warn("end: marks %u, error \"%s\"", s->marks, s->error);
    }
    buf_finish(&ch.tx);
    buf_finish(&ch1.tx);
    buf_finish(&cursor_ch.tx);
    buf_finish(&inputs_ch.tx);
    clove_session_destroy(s);
    return 0;
}
