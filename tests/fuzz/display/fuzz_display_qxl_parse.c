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

static void check_drawable(const struct qxl_drawable *d)
{
    touch(d->clip_rects, (size_t)d->num_clip_rects * sizeof(struct qxl_rect));
    if (d->type == QXL_DRAW_COPY && d->u.copy.src) {
        const struct qxl_image *img = d->u.copy.src;
        touch(img->data, (size_t)img->stride * img->height);
        touch(img->palette, (size_t)img->num_palette * sizeof(uint32_t));
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
