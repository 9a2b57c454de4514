/*
 * libFuzzer target for src/display/qxl_parse.c and memslot.c.
 *
 * Input layout (see gen_qxl_corpus.c, which writes the seed corpus):
 *   byte 0      command kind (modulo 7, see the switch below)
 *   byte 1      generation bits of the command address
 *   byte 2      slot id bits of the command address
 *   byte 3      unused
 *   bytes 4..7  offset of the command in guest RAM, little-endian
 *   bytes 8..   guest RAM: one memslot (id 0, generation 0) whose guest
 *               addresses are plain offsets, so pointers inside the RAM are
 *               offsets too
 * Every parser must either fail cleanly or return output whose buffers are
 * as large as it claims; the target reads all of them so that ASan sees any
 * lie, then calls the matching finish().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <spice/qxl_dev.h>

#include "display/memslot.h"
#include "display/qxl_parse.h"

enum {
    FUZZ_KIND_DRAWABLE,
    FUZZ_KIND_COMPAT_DRAWABLE,
    FUZZ_KIND_UPDATE,
    FUZZ_KIND_SURFACE,
    FUZZ_KIND_CURSOR,
    FUZZ_KIND_MESSAGE,
    FUZZ_KIND_RELEASE_INFO,
    FUZZ_KIND_COUNT,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint32_t sink;

static void touch(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint32_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += b[i];
    }
    sink += sum;
}

static void touch_image(const struct qxl_image *img)
{
    if (img) {
        touch(img->data, (size_t)img->stride * img->height);
        touch(img->palette, (size_t)img->num_palette * sizeof(uint32_t));
    }
}

static void touch_brush(const struct qxl_brush *b)
{
    touch_image(b->pattern);
}

static void check_drawable(const struct qxl_drawable *d)
{
    touch(d->clip_rects, (size_t)d->num_clip_rects * sizeof(struct qxl_rect));
    touch_image(d->mask.bitmap);
    switch (d->type) {
    case QXL_DRAW_FILL:
        touch_brush(&d->u.fill.brush);
        break;
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND:
        touch_image(d->u.copy.src);
        break;
    case QXL_DRAW_OPAQUE:
        touch_image(d->u.opaque.src);
        touch_brush(&d->u.opaque.brush);
        break;
    case QXL_DRAW_TRANSPARENT:
        touch_image(d->u.transparent.src);
        break;
    case QXL_DRAW_ALPHA_BLEND:
        touch_image(d->u.alpha_blend.src);
        break;
    case QXL_DRAW_ROP3:
        touch_image(d->u.rop3.src);
        touch_brush(&d->u.rop3.brush);
        break;
    case QXL_DRAW_STROKE: {
        const struct qxl_path *p = &d->u.stroke.path;
        uint64_t points = 0;
        for (uint32_t i = 0; i < p->num_segments; i++) {
            touch(p->segments[i].points, (size_t)p->segments[i].count * sizeof(struct qxl_point));
            points += p->segments[i].count;
        }
        if (points != p->num_points) {
            abort(); /* the segments must cover the points exactly */
        }
        touch(d->u.stroke.attr.style, (size_t)d->u.stroke.attr.style_nseg * sizeof(uint32_t));
        touch_brush(&d->u.stroke.brush);
        break;
    }
    case QXL_DRAW_TEXT: {
        const struct qxl_glyph_string *str = &d->u.text.str;
        for (uint16_t i = 0; i < str->length; i++) {
            const struct qxl_glyph *g = &str->glyphs[i];
            touch(g->data, (size_t)qxl_glyph_stride(str->flags, g->width) * g->height);
        }
        touch_brush(&d->u.text.fore_brush);
        touch_brush(&d->u.text.back_brush);
        break;
    }
    case QXL_DRAW_COMPOSITE:
        touch_image(d->u.composite.src);
        touch_image(d->u.composite.mask);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8) {
        return 0;
    }
    unsigned kind = data[0] % FUZZ_KIND_COUNT;
    uint64_t addr = (uint64_t)data[4] | (uint64_t)data[5] << 8 | (uint64_t)data[6] << 16 |
                    (uint64_t)data[7] << 24;
    addr |= (uint64_t)data[1] << 48 | (uint64_t)data[2] << 56;
    uintptr_t ram = (uintptr_t)(data + 8);
    size_t ram_size = size - 8;

    struct memslot_table t;
    if (memslot_table_init(&t, 1, 1, 8, 8) < 0) {
        return 0;
    }
    if (memslot_add(&t, 0, 0, 0, ram, ram + ram_size, (uint64_t)ram) < 0) {
        memslot_table_finish(&t);
        return 0;
    }

    const char *err = NULL;
    switch (kind) {
    case FUZZ_KIND_DRAWABLE:
    case FUZZ_KIND_COMPAT_DRAWABLE: {
        struct qxl_drawable d;
        int ret = kind == FUZZ_KIND_DRAWABLE ? qxl_parse_drawable(&t, 0, addr, &d, &err)
                                             : qxl_parse_compat_drawable(&t, 0, addr, &d, &err);
        if (ret == 0) {
            check_drawable(&d);
            qxl_drawable_finish(&d);
        }
        break;
    }
    case FUZZ_KIND_UPDATE: {
        struct qxl_update_cmd u;
        qxl_parse_update(&t, 0, addr, &u, &err);
        break;
    }
    case FUZZ_KIND_SURFACE: {
        struct qxl_surface_cmd s;
        qxl_parse_surface(&t, 0, addr, &s, &err);
        break;
    }
    case FUZZ_KIND_CURSOR: {
        struct qxl_cursor_cmd c;
        if (qxl_parse_cursor(&t, 0, addr, &c, &err) == 0) {
            if (c.shape) {
                touch(c.shape->data, c.shape->data_size);
            }
            qxl_cursor_cmd_finish(&c);
        }
        break;
    }
    case FUZZ_KIND_MESSAGE: {
        struct qxl_message_cmd m;
        if (qxl_parse_message(&t, 0, addr, &m, &err) == 0) {
            for (size_t i = 0; m.text[i]; i++) {
                if (m.text[i] < 0x20 || m.text[i] > 0x7e) {
                    abort(); /* the sanitising promise is broken */
                }
            }
        }
        break;
    }
    default: {
        uint64_t *info = qxl_release_info(&t, 0, addr);
        if (info) {
            touch(info, sizeof(*info));
        }
        break;
    }
    }
    memslot_table_finish(&t);
    return 0;
}
