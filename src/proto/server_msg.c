/*
 * Writers for server -> client message bodies (spice-common spice.proto,
 * "server:" sections), byte for byte what the reference server's generated
 * marshallers produce.
 *
 * DESIGN: each writer appends one body to a byte_buf. The body starts at
 * b->len on entry, which lets the channel layer reserve the data header
 * first. Marshalling rules of the reference, which these writers follow:
 *
 *  - All integers little-endian, no padding.
 *  - A pointer field ("Image *src_bitmap") is a u32 offset, counted from the
 *    start of the body, to data placed after the fixed part of the message;
 *    a NULL pointer is written as 0 (spice_marshaller_get_ptr_submarshaller
 *    reserves a zero word and patches it only if the target is non-empty).
 *  - When a message has several pointers, their targets follow the fixed
 *    part in the order the pointer fields were written (the reference chains
 *    its sub-marshallers in creation order, field by field): e.g. DrawOpaque
 *    is fixed part, src image, brush pattern image, mask image; DrawStroke is
 *    fixed part, Path, style array, pattern. struct targets records them.
 *    This was checked byte for byte against the generated spice-common
 *    marshallers (spice_marshall_Fill & co. as dcc-send.cpp drives them).
 *  - Structs marked @to_ptr in spice.proto (the clip rects) are inline:
 *    SpiceClip is u8 type, then for RECTS u32 num_rects and the rects.
 *  - Arrays marked @end or @as_ptr run to the end of the body.
 *  - Positions in cursor messages are Point16 (i16 x, i16 y), unlike the
 *    Point (i32) of the display channel.
 *
 * If an allocation fails, the byte_buf latches `failed` and the writers
 * skip the offset fix-ups (there is nothing valid to patch).
 */
#include "proto/server_msg.h"

#include <string.h>

#include <spice/enums.h>

/* ---- shared pieces ---- */

static void put_rect(struct byte_buf *b, const struct wire_rect *r)
{
    buf_put_u32(b, (uint32_t)r->top);
    buf_put_u32(b, (uint32_t)r->left);
    buf_put_u32(b, (uint32_t)r->bottom);
    buf_put_u32(b, (uint32_t)r->right);
}

static void put_point16(struct byte_buf *b, struct wire_point p)
{
    /* Clamped rather than truncated, so an off-screen position stays off
     * the same edge. */
    int32_t x = p.x < INT16_MIN ? INT16_MIN : p.x > INT16_MAX ? INT16_MAX : p.x;
    int32_t y = p.y < INT16_MIN ? INT16_MIN : p.y > INT16_MAX ? INT16_MAX : p.y;
    buf_put_u16(b, (uint16_t)(int16_t)x);
    buf_put_u16(b, (uint16_t)(int16_t)y);
}

/* spice.proto Clip: u8 type; RECTS -> ClipRects inline (@to_ptr). */
static void put_clip(struct byte_buf *b, const struct wire_clip *clip)
{
    buf_put_u8(b, clip->type);
    if (clip->type != SPICE_CLIP_TYPE_RECTS) {
        return;
    }
    buf_put_u32(b, clip->num_rects);
    for (uint32_t i = 0; i < clip->num_rects; i++) {
        put_rect(b, &clip->rects[i]);
    }
}

/* spice.proto DisplayBase: u32 surface_id; Rect box; Clip clip. */
static void put_draw_base(struct byte_buf *b, const struct wire_draw_base *base)
{
    buf_put_u32(b, base->surface_id);
    put_rect(b, &base->box);
    put_clip(b, &base->clip);
}

/* spice.proto QMask with no mask: u8 flags, Point pos, Image *bitmap = 0. */
static void put_no_mask(struct byte_buf *b)
{
    buf_put_u8(b, 0);
    buf_put_u32(b, 0);
    buf_put_u32(b, 0);
    buf_put_u32(b, 0);
}

/* Appends n bytes from data, or zeros when data is NULL. */
static void put_bytes_or_zeros(struct byte_buf *b, const uint8_t *data, uint64_t n)
{
    if (n > SIZE_MAX) {
        b->failed = true;
        return;
    }
    if (data) {
        buf_put(b, data, (size_t)n);
    } else {
        buf_put_zeros(b, (size_t)n);
    }
}

/* Writes `value` as a u32 at body offset `at` (see the pointer rule above). */
static void patch_u32(struct byte_buf *b, size_t at, uint32_t value)
{
    if (buf_ok(b) && at + 4 <= b->len) {
        put_u32le(b->data + at, value);
    }
}

/* The palette flags a writer puts on the wire: FROM_CACHE always works;
 * CACHE_ME only with a palette to cache. */
static uint8_t palette_wire_flags(const struct wire_palette *p)
{
    if (p->flags & SPICE_BITMAP_FLAGS_PAL_FROM_CACHE) {
        return SPICE_BITMAP_FLAGS_PAL_FROM_CACHE;
    }
    return p->ents ? p->flags & SPICE_BITMAP_FLAGS_PAL_CACHE_ME : 0;
}

/* The palette reference of BitmapData / LZPLTData: a u64 id with
 * PAL_FROM_CACHE, else a u32 offset (patched by put_palette_target).
 * Returns where the offset is, or 0 when there is nothing to patch. */
static size_t put_palette_ref(struct byte_buf *b, const struct wire_palette *p)
{
    if (p->flags & SPICE_BITMAP_FLAGS_PAL_FROM_CACHE) {
        buf_put_u64(b, p->unique);
        return 0;
    }
    size_t at = b->len;
    buf_put_u32(b, 0);
    return p->ents ? at : 0;
}

/* spice.proto Palette {u64 unique; u16 num_ents; u32 ents[]}, appended at
 * the end, its offset from `body` patched in at `at`. */
static void put_palette_target(struct byte_buf *b, size_t body, size_t at,
                               const struct wire_palette *p)
{
    if (at == 0) {
        return;
    }
    size_t offset = b->len - body;
    if (offset > UINT32_MAX) {
        b->failed = true;
        return;
    }
    buf_put_u64(b, p->unique);
    buf_put_u16(b, p->num_ents);
    for (uint16_t i = 0; i < p->num_ents; i++) {
        buf_put_u32(b, p->ents[i]);
    }
    patch_u32(b, at, (uint32_t)offset);
}

/* spice.proto Image: ImageDescriptor then the per-type part; `body` is
 * where the message body started (for the palette's offset). */
static void put_image(struct byte_buf *b, size_t body, const struct wire_image *img)
{
    buf_put_u64(b, img->id);
    buf_put_u8(b, img->type);
    buf_put_u8(b, img->flags);
    buf_put_u32(b, img->width);
    buf_put_u32(b, img->height);
    size_t palette_at;
    switch (img->type) {
    case SPICE_IMAGE_TYPE_BITMAP:
        /* BitmapData: format, flags, x, y, stride, palette reference, then
         * the pixels (@nomarshal: the reference appends them right after
         * the fixed part). The palette flags come from img->palette, never
         * from bitmap.flags, since they change the layout. */
        buf_put_u8(b, img->u.bitmap.format);
        buf_put_u8(b, (img->u.bitmap.flags & SPICE_BITMAP_FLAGS_TOP_DOWN) |
                              palette_wire_flags(&img->palette));
        buf_put_u32(b, img->width);
        buf_put_u32(b, img->height);
        buf_put_u32(b, img->u.bitmap.stride);
        palette_at = put_palette_ref(b, &img->palette);
        put_bytes_or_zeros(b, img->u.bitmap.data, (uint64_t)img->height * img->u.bitmap.stride);
        put_palette_target(b, body, palette_at, &img->palette);
        break;
    case SPICE_IMAGE_TYPE_QUIC:
    case SPICE_IMAGE_TYPE_LZ_RGB:
    case SPICE_IMAGE_TYPE_GLZ_RGB:
    case SPICE_IMAGE_TYPE_JPEG:
    case SPICE_IMAGE_TYPE_LZ4:
        /* BinaryData: u32 data_size; data. */
        buf_put_u32(b, img->u.encoded.size);
        put_bytes_or_zeros(b, img->u.encoded.data, img->u.encoded.size);
        break;
    case SPICE_IMAGE_TYPE_LZ_PLT:
        /* LZPLTData: u8 flags; u32 data_size; palette reference; data. */
        buf_put_u8(b, (img->u.encoded.flags & SPICE_BITMAP_FLAGS_TOP_DOWN) |
                              palette_wire_flags(&img->palette));
        buf_put_u32(b, img->u.encoded.size);
        palette_at = put_palette_ref(b, &img->palette);
        put_bytes_or_zeros(b, img->u.encoded.data, img->u.encoded.size);
        put_palette_target(b, body, palette_at, &img->palette);
        break;
    case SPICE_IMAGE_TYPE_FROM_CACHE:
    case SPICE_IMAGE_TYPE_FROM_CACHE_LOSSLESS:
        break;
    default:
        /* ZLIB_GLZ_RGB, JPEG_ALPHA, SURFACE: the caller has built the whole
         * type-specific part. */
        put_bytes_or_zeros(b, img->u.encoded.data, img->u.encoded.size);
        break;
    }
}

/* spice.proto Cursor: u16 flags; unless NONE a CursorHeader; data to the end. */
static void put_cursor(struct byte_buf *b, const struct wire_cursor *cursor)
{
    if (!cursor || (cursor->flags & SPICE_CURSOR_FLAGS_NONE)) {
        buf_put_u16(b, cursor ? cursor->flags : SPICE_CURSOR_FLAGS_NONE);
        return;
    }
    buf_put_u16(b, cursor->flags);
    buf_put_u64(b, cursor->unique);
    buf_put_u8(b, cursor->type);
    buf_put_u16(b, cursor->width);
    buf_put_u16(b, cursor->height);
    buf_put_u16(b, cursor->hot_spot_x);
    buf_put_u16(b, cursor->hot_spot_y);
    put_bytes_or_zeros(b, cursor->data, cursor->data_size);
}

/* ---- base messages ---- */

void server_msg_set_ack(struct byte_buf *b, uint32_t generation, uint32_t window)
{
    buf_put_u32(b, generation);
    buf_put_u32(b, window);
}

void server_msg_ping(struct byte_buf *b, uint32_t id, uint64_t timestamp, uint32_t extra_bytes)
{
    buf_put_u32(b, id);
    buf_put_u64(b, timestamp);
    buf_put_zeros(b, extra_bytes);
}

void server_msg_notify(struct byte_buf *b, uint64_t time_stamp, uint32_t severity,
                       uint32_t visibility, uint32_t what, const char *message)
{
    const char *text = message ? message : "";
    size_t len = strlen(text);
    if (len > UINT32_MAX - 1) {
        b->failed = true;
        return;
    }
    buf_put_u64(b, time_stamp);
    buf_put_u32(b, severity);
    buf_put_u32(b, visibility);
    buf_put_u32(b, what);
    /* message_len excludes the NUL, which the reference sends anyway. */
    buf_put_u32(b, (uint32_t)len);
    buf_put(b, text, len + 1);
}

void server_msg_disconnecting(struct byte_buf *b, uint64_t time_stamp, uint32_t reason)
{
    buf_put_u64(b, time_stamp);
    buf_put_u32(b, reason);
}

/* ---- main channel ---- */

void server_msg_main_init(struct byte_buf *b, const struct wire_main_init *init)
{
    buf_put_u32(b, init->session_id);
    buf_put_u32(b, init->display_channels_hint);
    buf_put_u32(b, init->supported_mouse_modes);
    buf_put_u32(b, init->current_mouse_mode);
    buf_put_u32(b, init->agent_connected);
    buf_put_u32(b, init->agent_tokens);
    buf_put_u32(b, init->multi_media_time);
    buf_put_u32(b, init->ram_hint);
}

void server_msg_main_channels_list(struct byte_buf *b, const struct wire_channel_id *channels,
                                   uint32_t num_channels)
{
    buf_put_u32(b, num_channels);
    for (uint32_t i = 0; i < num_channels; i++) {
        buf_put_u8(b, channels[i].type);
        buf_put_u8(b, channels[i].id);
    }
}

void server_msg_main_mouse_mode(struct byte_buf *b, uint16_t supported_modes, uint16_t current_mode)
{
    buf_put_u16(b, supported_modes);
    buf_put_u16(b, current_mode);
}

void server_msg_main_multi_media_time(struct byte_buf *b, uint32_t time)
{
    buf_put_u32(b, time);
}

void server_msg_main_name(struct byte_buf *b, const char *name)
{
    const char *text = name ? name : "";
    size_t len = strlen(text) + 1;
    if (len > UINT32_MAX) {
        b->failed = true;
        return;
    }
    buf_put_u32(b, (uint32_t)len);
    buf_put(b, text, len);
}

void server_msg_main_uuid(struct byte_buf *b, const uint8_t uuid[16])
{
    buf_put(b, uuid, 16);
}

void server_msg_main_agent_connected_tokens(struct byte_buf *b, uint32_t num_tokens)
{
    buf_put_u32(b, num_tokens);
}

void server_msg_main_agent_disconnected(struct byte_buf *b, uint32_t error_code)
{
    buf_put_u32(b, error_code);
}

void server_msg_main_agent_token(struct byte_buf *b, uint32_t num_tokens)
{
    buf_put_u32(b, num_tokens);
}

/* ---- display channel ---- */

void server_msg_display_mark(struct byte_buf *b)
{
    (void)b;
}

void server_msg_display_reset(struct byte_buf *b)
{
    (void)b;
}

void server_msg_display_inval_all_palettes(struct byte_buf *b)
{
    (void)b;
}

void server_msg_display_inval_palette(struct byte_buf *b, uint64_t id)
{
    buf_put_u64(b, id);
}

void server_msg_display_inval_list(struct byte_buf *b, const uint64_t *ids, uint16_t count)
{
    buf_put_u16(b, count);
    for (uint16_t i = 0; i < count; i++) {
        buf_put_u8(b, SPICE_RES_TYPE_PIXMAP);
        buf_put_u64(b, ids[i]);
    }
}

void server_msg_display_inval_all_pixmaps(struct byte_buf *b, const uint64_t *wait_serials,
                                          const uint8_t *wait_channel_types,
                                          const uint8_t *wait_channel_ids, uint8_t count)
{
    buf_put_u8(b, count);
    for (uint8_t i = 0; i < count; i++) {
        buf_put_u8(b, wait_channel_types[i]);
        buf_put_u8(b, wait_channel_ids[i]);
        buf_put_u64(b, wait_serials[i]);
    }
}

void server_msg_display_surface_create(struct byte_buf *b, uint32_t surface_id, uint32_t width,
                                       uint32_t height, uint32_t format, uint32_t flags)
{
    buf_put_u32(b, surface_id);
    buf_put_u32(b, width);
    buf_put_u32(b, height);
    buf_put_u32(b, format);
    buf_put_u32(b, flags);
}

void server_msg_display_surface_destroy(struct byte_buf *b, uint32_t surface_id)
{
    buf_put_u32(b, surface_id);
}

void server_msg_display_monitors_config(struct byte_buf *b, const struct wire_head *heads,
                                        uint16_t count, uint16_t max_allowed)
{
    buf_put_u16(b, count);
    buf_put_u16(b, max_allowed);
    for (uint16_t i = 0; i < count; i++) {
        buf_put_u32(b, heads[i].id);
        buf_put_u32(b, heads[i].surface_id);
        buf_put_u32(b, heads[i].width);
        buf_put_u32(b, heads[i].height);
        buf_put_u32(b, heads[i].x);
        buf_put_u32(b, heads[i].y);
        buf_put_u32(b, heads[i].flags);
    }
}

/* ---- draw operations: brushes, masks, paths, glyph strings ---- */

/*
 * The pointer fields of one message body, in the order they were written:
 * where each u32 offset sits and what it points at. After the fixed part,
 * targets_write() appends the targets in this order and patches the
 * offsets, which is where the reference's sub-marshallers end up (they are
 * chained in creation order, and the generated code creates them field by
 * field). A pointer with nothing to write stays 0 and is not recorded.
 */
enum target_kind {
    TARGET_IMAGE,
    TARGET_PATH,
    TARGET_STYLE,
    TARGET_STRING,
};

#define MAX_TARGETS 4

struct targets {
    size_t body; /* b->len when the body started */
    unsigned count;
    struct {
        size_t at;
        enum target_kind kind;
        const void *what;
        uint32_t n; /* TARGET_STYLE: number of values */
    } item[MAX_TARGETS];
};

static void targets_init(struct targets *t, const struct byte_buf *b)
{
    t->body = b->len;
    t->count = 0;
}

/* Writes a pointer field (0 for now) and remembers its target, if any. */
static void put_pointer(struct byte_buf *b, struct targets *t, enum target_kind kind,
                        const void *what, uint32_t n)
{
    if (what && t->count < MAX_TARGETS) {
        t->item[t->count].at = b->len;
        t->item[t->count].kind = kind;
        t->item[t->count].what = what;
        t->item[t->count].n = n;
        t->count++;
    }
    buf_put_u32(b, 0);
}

/* spice.proto Path: u32 num_segments; per segment u8 flags, u32 count, points. */
static void put_path(struct byte_buf *b, const struct wire_path *path)
{
    buf_put_u32(b, path->num_segments);
    for (uint32_t i = 0; i < path->num_segments; i++) {
        const struct wire_path_seg *seg = &path->segments[i];
        buf_put_u8(b, (uint8_t)seg->flags);
        buf_put_u32(b, seg->count);
        for (uint32_t j = 0; j < seg->count; j++) {
            buf_put_u32(b, (uint32_t)seg->points[j].x);
            buf_put_u32(b, (uint32_t)seg->points[j].y);
        }
    }
}

/* Bits per glyph pixel for a string's flags, as the marshaller's switch
 * picks them: the first of A1, A4, A8; 0 with none. */
static unsigned string_bpp(uint8_t flags)
{
    if (flags & SPICE_STRING_FLAGS_RASTER_A1) {
        return 1;
    }
    if (flags & SPICE_STRING_FLAGS_RASTER_A4) {
        return 4;
    }
    if (flags & SPICE_STRING_FLAGS_RASTER_A8) {
        return 8;
    }
    return 0;
}

/* spice.proto String: u16 length; u8 flags; RasterGlyphs of the raster kind. */
static void put_string(struct byte_buf *b, const struct wire_glyph_string *str)
{
    buf_put_u16(b, str->length);
    buf_put_u8(b, str->flags);
    unsigned bpp = string_bpp(str->flags);
    if (bpp == 0) {
        return;
    }
    for (uint16_t i = 0; i < str->length; i++) {
        const struct wire_glyph *g = &str->glyphs[i];
        buf_put_u32(b, (uint32_t)g->render_pos.x);
        buf_put_u32(b, (uint32_t)g->render_pos.y);
        buf_put_u32(b, (uint32_t)g->glyph_origin.x);
        buf_put_u32(b, (uint32_t)g->glyph_origin.y);
        buf_put_u16(b, g->width);
        buf_put_u16(b, g->height);
        uint64_t row = ((uint64_t)g->width * bpp + 7) / 8;
        put_bytes_or_zeros(b, g->data, row * g->height);
    }
}

/* Appends every recorded target and patches its offset. */
static void targets_write(struct byte_buf *b, const struct targets *t)
{
    for (unsigned i = 0; i < t->count; i++) {
        size_t offset = b->len - t->body;
        switch (t->item[i].kind) {
        case TARGET_IMAGE:
            put_image(b, t->body, t->item[i].what);
            break;
        case TARGET_PATH:
            put_path(b, t->item[i].what);
            break;
        case TARGET_STYLE: {
            const uint32_t *style = t->item[i].what;
            for (uint32_t j = 0; j < t->item[i].n; j++) {
                buf_put_u32(b, style[j]);
            }
            break;
        }
        case TARGET_STRING:
            put_string(b, t->item[i].what);
            break;
        }
        if (offset > UINT32_MAX) {
            b->failed = true;
            return;
        }
        patch_u32(b, t->item[i].at, (uint32_t)offset);
    }
}

/* spice.proto Brush: u8 type; SOLID u32 color; PATTERN Image *pat, Point pos. */
static void put_brush(struct byte_buf *b, struct targets *t, const struct wire_brush *brush)
{
    buf_put_u8(b, brush->type);
    switch (brush->type) {
    case SPICE_BRUSH_TYPE_SOLID:
        buf_put_u32(b, brush->color);
        break;
    case SPICE_BRUSH_TYPE_PATTERN:
        put_pointer(b, t, TARGET_IMAGE, brush->pattern, 0);
        buf_put_u32(b, (uint32_t)brush->pattern_pos.x);
        buf_put_u32(b, (uint32_t)brush->pattern_pos.y);
        break;
    default:
        break;
    }
}

/* spice.proto QMask: u8 flags; Point pos; Image *bitmap. All zero without a
 * bitmap, whatever flags and pos say. */
static void put_qmask(struct byte_buf *b, struct targets *t, const struct wire_qmask *mask)
{
    if (!mask || !mask->bitmap) {
        put_no_mask(b);
        return;
    }
    buf_put_u8(b, mask->flags);
    buf_put_u32(b, (uint32_t)mask->pos.x);
    buf_put_u32(b, (uint32_t)mask->pos.y);
    put_pointer(b, t, TARGET_IMAGE, mask->bitmap, 0);
}

void server_msg_display_draw_fill_masked(struct byte_buf *b, const struct wire_draw_base *base,
                                         const struct wire_fill *fill)
{
    struct targets t;
    targets_init(&t, b);
    put_draw_base(b, base);
    put_brush(b, &t, &fill->brush);
    buf_put_u16(b, fill->rop_descriptor);
    put_qmask(b, &t, &fill->mask);
    targets_write(b, &t);
}

/* DrawCopy and DrawBlend share this body. */
static void put_copy_body(struct byte_buf *b, const struct wire_draw_base *base,
                          const struct wire_copy *copy)
{
    struct targets t;
    targets_init(&t, b);
    put_draw_base(b, base);
    put_pointer(b, &t, TARGET_IMAGE, copy->src, 0);
    put_rect(b, &copy->src_area);
    buf_put_u16(b, copy->rop_descriptor);
    buf_put_u8(b, copy->scale_mode);
    put_qmask(b, &t, &copy->mask);
    targets_write(b, &t);
}

void server_msg_display_draw_copy_masked(struct byte_buf *b, const struct wire_draw_base *base,
                                         const struct wire_copy *copy)
{
    put_copy_body(b, base, copy);
}

void server_msg_display_draw_blend(struct byte_buf *b, const struct wire_draw_base *base,
                                   const struct wire_copy *blend)
{
    put_copy_body(b, base, blend);
}

void server_msg_display_draw_opaque(struct byte_buf *b, const struct wire_draw_base *base,
                                    const struct wire_opaque *opaque)
{
    struct targets t;
    targets_init(&t, b);
    put_draw_base(b, base);
    put_pointer(b, &t, TARGET_IMAGE, opaque->src, 0);
    put_rect(b, &opaque->src_area);
    put_brush(b, &t, &opaque->brush);
    buf_put_u16(b, opaque->rop_descriptor);
    buf_put_u8(b, opaque->scale_mode);
    put_qmask(b, &t, &opaque->mask);
    targets_write(b, &t);
}

/* DrawBlackness, DrawWhiteness, DrawInvers: DisplayBase and a QMask. */
static void put_mask_only_body(struct byte_buf *b, const struct wire_draw_base *base,
                               const struct wire_qmask *mask)
{
    struct targets t;
    targets_init(&t, b);
    put_draw_base(b, base);
    put_qmask(b, &t, mask);
    targets_write(b, &t);
}

void server_msg_display_draw_blackness(struct byte_buf *b, const struct wire_draw_base *base,
                                       const struct wire_qmask *mask)
{
    put_mask_only_body(b, base, mask);
}

void server_msg_display_draw_whiteness(struct byte_buf *b, const struct wire_draw_base *base,
                                       const struct wire_qmask *mask)
{
    put_mask_only_body(b, base, mask);
}

void server_msg_display_draw_invers(struct byte_buf *b, const struct wire_draw_base *base,
                                    const struct wire_qmask *mask)
{
    put_mask_only_body(b, base, mask);
}

void server_msg_display_draw_rop3(struct byte_buf *b, const struct wire_draw_base *base,
                                  const struct wire_rop3 *rop3)
{
    struct targets t;
    targets_init(&t, b);
    put_draw_base(b, base);
    put_pointer(b, &t, TARGET_IMAGE, rop3->src, 0);
    put_rect(b, &rop3->src_area);
    put_brush(b, &t, &rop3->brush);
    buf_put_u8(b, rop3->rop3);
    buf_put_u8(b, rop3->scale_mode);
    put_qmask(b, &t, &rop3->mask);
    targets_write(b, &t);
}

void server_msg_display_draw_stroke(struct byte_buf *b, const struct wire_draw_base *base,
                                    const struct wire_stroke *stroke)
{
    struct targets t;
    targets_init(&t, b);
    put_draw_base(b, base);
    /* Path *path @marshall @nonnull: always written, even when empty. */
    put_pointer(b, &t, TARGET_PATH, &stroke->path, 0);
    /* LineAttr: u8 flags; STYLED: u8 style_nseg; fixed28_4 *style[style_nseg]. */
    buf_put_u8(b, stroke->attr.flags);
    if (stroke->attr.flags & SPICE_LINE_FLAGS_STYLED) {
        buf_put_u8(b, stroke->attr.style_nseg);
        /* The reference leaves the offset 0 for an empty style array. */
        bool has_style = stroke->attr.style_nseg > 0 && stroke->attr.style;
        put_pointer(b, &t, TARGET_STYLE, has_style ? stroke->attr.style : NULL,
                    stroke->attr.style_nseg);
    }
    put_brush(b, &t, &stroke->brush);
    buf_put_u16(b, stroke->fore_mode);
    buf_put_u16(b, stroke->back_mode);
    targets_write(b, &t);
}

void server_msg_display_draw_text(struct byte_buf *b, const struct wire_draw_base *base,
                                  const struct wire_text *text)
{
    struct targets t;
    targets_init(&t, b);
    put_draw_base(b, base);
    /* String *str @marshall @nonnull: always written. */
    put_pointer(b, &t, TARGET_STRING, &text->str, 0);
    put_rect(b, &text->back_area);
    put_brush(b, &t, &text->fore_brush);
    put_brush(b, &t, &text->back_brush);
    buf_put_u16(b, text->fore_mode);
    buf_put_u16(b, text->back_mode);
    targets_write(b, &t);
}

void server_msg_display_draw_transparent(struct byte_buf *b, const struct wire_draw_base *base,
                                         const struct wire_transparent *transparent)
{
    struct targets t;
    targets_init(&t, b);
    put_draw_base(b, base);
    put_pointer(b, &t, TARGET_IMAGE, transparent->src, 0);
    put_rect(b, &transparent->src_area);
    buf_put_u32(b, transparent->src_color);
    buf_put_u32(b, transparent->true_color);
    targets_write(b, &t);
}

void server_msg_display_draw_alpha_blend(struct byte_buf *b, const struct wire_draw_base *base,
                                         const struct wire_alpha_blend *alpha_blend)
{
    struct targets t;
    targets_init(&t, b);
    put_draw_base(b, base);
    buf_put_u8(b, alpha_blend->alpha_flags);
    buf_put_u8(b, alpha_blend->alpha);
    put_pointer(b, &t, TARGET_IMAGE, alpha_blend->src, 0);
    put_rect(b, &alpha_blend->src_area);
    targets_write(b, &t);
}

void server_msg_display_draw_fill(struct byte_buf *b, const struct wire_draw_base *base,
                                  uint32_t color, uint16_t rop_descriptor)
{
    struct wire_fill fill = {
            .brush = {.type = SPICE_BRUSH_TYPE_SOLID, .color = color},
            .rop_descriptor = rop_descriptor,
    };
    server_msg_display_draw_fill_masked(b, base, &fill);
}

void server_msg_display_draw_copy(struct byte_buf *b, const struct wire_draw_base *base,
                                  const struct wire_image *src, const struct wire_rect *src_area,
                                  uint16_t rop_descriptor, uint8_t scale_mode)
{
    struct wire_copy copy = {
            .src = src,
            .src_area = *src_area,
            .rop_descriptor = rop_descriptor,
            .scale_mode = scale_mode,
    };
    server_msg_display_draw_copy_masked(b, base, &copy);
}

/* ---- inputs channel ---- */

void server_msg_inputs_init(struct byte_buf *b, uint16_t keyboard_modifiers)
{
    buf_put_u16(b, keyboard_modifiers);
}

void server_msg_inputs_key_modifiers(struct byte_buf *b, uint16_t keyboard_modifiers)
{
    buf_put_u16(b, keyboard_modifiers);
}

void server_msg_inputs_mouse_motion_ack(struct byte_buf *b)
{
    (void)b;
}

/* ---- cursor channel ---- */

void server_msg_cursor_init(struct byte_buf *b, struct wire_point position, uint16_t trail_length,
                            uint16_t trail_frequency, uint8_t visible,
                            const struct wire_cursor *cursor)
{
    put_point16(b, position);
    buf_put_u16(b, trail_length);
    buf_put_u16(b, trail_frequency);
    buf_put_u8(b, visible);
    put_cursor(b, cursor);
}

void server_msg_cursor_reset(struct byte_buf *b)
{
    (void)b;
}

void server_msg_cursor_set(struct byte_buf *b, struct wire_point position, uint8_t visible,
                           const struct wire_cursor *cursor)
{
    put_point16(b, position);
    buf_put_u8(b, visible);
    put_cursor(b, cursor);
}

void server_msg_cursor_move(struct byte_buf *b, struct wire_point position)
{
    put_point16(b, position);
}

void server_msg_cursor_hide(struct byte_buf *b)
{
    (void)b;
}

void server_msg_cursor_trail(struct byte_buf *b, uint16_t length, uint16_t frequency)
{
    buf_put_u16(b, length);
    buf_put_u16(b, frequency);
}

void server_msg_cursor_inval_all(struct byte_buf *b)
{
    (void)b;
}

void server_msg_cursor_inval_one(struct byte_buf *b, uint64_t id)
{
    buf_put_u64(b, id);
}

void server_msg_display_copy_bits(struct byte_buf *b, const struct wire_draw_base *base,
                                  struct wire_point src_pos)
{
    put_draw_base(b, base);
    buf_put_u32(b, (uint32_t)src_pos.x);
    buf_put_u32(b, (uint32_t)src_pos.y);
}

/* DrawBlackness, DrawWhiteness, DrawInvers: the base and an empty QMask. */
void server_msg_display_draw_mask_only(struct byte_buf *b, const struct wire_draw_base *base)
{
    put_mask_only_body(b, base, NULL);
}

static void put_transform(struct byte_buf *b, const uint32_t t[6])
{
    for (int i = 0; i < 6; i++) {
        buf_put_u32(b, t[i]);
    }
}

void server_msg_display_draw_composite(struct byte_buf *b, const struct wire_draw_base *base,
                                       const struct wire_composite *c)
{
    size_t body = b->len;
    put_draw_base(b, base);
    uint32_t flags =
            c->flags & ~(uint32_t)(SPICE_COMPOSITE_HAS_MASK | SPICE_COMPOSITE_HAS_SRC_TRANSFORM |
                                   SPICE_COMPOSITE_HAS_MASK_TRANSFORM);
    if (c->mask) {
        flags |= SPICE_COMPOSITE_HAS_MASK;
    }
    if (c->src_transform) {
        flags |= SPICE_COMPOSITE_HAS_SRC_TRANSFORM;
    }
    if (c->mask_transform) {
        flags |= SPICE_COMPOSITE_HAS_MASK_TRANSFORM;
    }
    buf_put_u32(b, flags);
    size_t src_at = b->len;
    buf_put_u32(b, 0); /* Image *src_bitmap, patched below */
    size_t mask_at = b->len;
    if (c->mask) {
        buf_put_u32(b, 0); /* Image *mask_bitmap, patched below */
    }
    if (c->src_transform) {
        put_transform(b, c->src_transform);
    }
    if (c->mask_transform) {
        put_transform(b, c->mask_transform);
    }
    put_point16(b, c->src_origin);
    put_point16(b, c->mask_origin);
    size_t offset = b->len - body;
    put_image(b, body, c->src);
    if (offset > UINT32_MAX) {
        b->failed = true;
        return;
    }
    patch_u32(b, src_at, (uint32_t)offset);
    if (c->mask) {
        offset = b->len - body;
        put_image(b, body, c->mask);
        if (offset > UINT32_MAX) {
            b->failed = true;
            return;
        }
        patch_u32(b, mask_at, (uint32_t)offset);
    }
}
