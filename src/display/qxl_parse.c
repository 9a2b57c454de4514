/*
 * Parsing of QXL commands from guest memory into self-contained structs.
 *
 * DESIGN
 * The guest owns the memory a command lives in and may rewrite it while we
 * read (a buggy or hostile driver, or simply another vCPU). So every guest
 * structure is first translated through memslot_translate for its full size
 * and then copied into a local snapshot with memcpy; all checks and all later
 * uses read the snapshot, never the guest copy twice. Variable-length data
 * (pixels, clip rectangles, cursor shapes) is copied into buffers we own, so
 * the caller may release the command to the guest right after parsing.
 *
 * Chunk lists (QXLDataChunk) are walked with hard bounds: at most
 * QXL_MAX_CHUNKS links and QXL_MAX_DATA_SIZE declared bytes, which ends a
 * list that runs on forever. A list that loops back on itself is also caught
 * early by Brent's cycle detection on the chunk addresses, so a few bytes of
 * guest memory cannot make us copy QXL_MAX_DATA_SIZE bytes; the bounds stay
 * as the backstop for loops the addresses do not reveal (two slots mapping
 * the same memory).
 * Every chunk is translated as one range together with its header, so a
 * chunk's data can never cross the end of its memslot. Output buffers grow
 * with the data actually found, so a small guest command that merely claims
 * a large image costs no large allocation.
 *
 * What is parsed: every QXL_DRAW_* type into the matching member of
 * struct qxl_drawable (see qxl_parse.h):
 *  - FILL (brush, rop), OPAQUE, COPY and BLEND (BLEND shares u.copy),
 *    TRANSPARENT, ALPHA_BLEND (native, and QXLCompatAlphaBlend for compat
 *    drawables, which has no alpha_flags), ROP3, COMPOSITE, COPY_BITS,
 *    BLACKNESS / WHITENESS / INVERS, NOP;
 *  - brushes: NONE, SOLID, or PATTERN whose tile is parsed like any source
 *    image; an unknown brush type is an error;
 *  - the QXLQMask of FILL, OPAQUE, COPY, BLEND, ROP3, BLACKNESS, WHITENESS
 *    and INVERS into d->mask: a 1-bit BITMAP (its palette is optional, as
 *    for the reference); a zero bitmap address means no mask;
 *  - STROKE: the QXLPath (data_size bytes gathered from its chunk list, then
 *    cut into QXLPathSeg {flags, count, points}) into qxl_path, and the
 *    QXLLineAttr with its style array when SPICE_LINE_FLAGS_STYLED;
 *  - TEXT: the QXLString (data_size bytes from its chunk list holding exactly
 *    `length` QXLRasterGlyphs, each followed by height rows of
 *    qxl_glyph_stride() bytes for the A1/A4/A8 raster flag) into
 *    qxl_glyph_string, whose glyphs borrow their pixels from the one buffer.
 * Source images are BITMAPs in any SPICE_BITMAP_FMT_* (with palette for the
 * 1/4/8-bit formats) or SURFACE references; a QUIC source is accepted but
 * not copied (src is then NULL). Patterns and masks must be real images.
 * Path data is capped at PATH_MAX_DATA_SIZE, string and image data at
 * QXL_MAX_DATA_SIZE. Not parsed: self_bitmap. QXL_COMMAND_FLAG_COMPAT_16BPP
 * colour conversion is left to the caller, which owns the command flags.
 *
 * INVARIANTS
 * - No guest value can abort or assert; errors return CLOVE_E_* with a static
 *   *err_desc. Nothing here logs.
 * - On failure the output is zeroed and owns nothing.
 */
#include "display/qxl_parse.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/qxl_dev.h>

#include "common/error.h"

_Static_assert(sizeof(struct qxl_rect) == sizeof(QXLRect), "qxl_rect must match QXLRect");

/* Bits per pixel of SPICE_BITMAP_FMT_*, indexed by format; 0 is invalid. */
static const uint8_t bitmap_format_bpp[SPICE_BITMAP_FMT_ENUM_END] = {
        [SPICE_BITMAP_FMT_1BIT_LE] = 1, [SPICE_BITMAP_FMT_1BIT_BE] = 1,
        [SPICE_BITMAP_FMT_4BIT_LE] = 4, [SPICE_BITMAP_FMT_4BIT_BE] = 4,
        [SPICE_BITMAP_FMT_8BIT] = 8,    [SPICE_BITMAP_FMT_16BIT] = 16,
        [SPICE_BITMAP_FMT_24BIT] = 24,  [SPICE_BITMAP_FMT_32BIT] = 32,
        [SPICE_BITMAP_FMT_RGBA] = 32,   [SPICE_BITMAP_FMT_8BIT_A] = 8,
};

static int fail(const char **err_desc, const char *msg)
{
    if (err_desc) {
        *err_desc = msg;
    }
    return CLOVE_E_INVALID;
}

/* Translates [addr, addr + size) and copies it into `dst`. */
static int read_guest(const struct memslot_table *t, uint32_t group, uint64_t addr, void *dst,
                      size_t size, const char **err_desc)
{
    const void *src = memslot_translate(t, group, addr, size, err_desc);
    if (!src) {
        return CLOVE_E_INVALID;
    }
    memcpy(dst, src, size);
    return 0;
}

static void rect_from_qxl(struct qxl_rect *dst, const QXLRect *src)
{
    dst->top = src->top;
    dst->left = src->left;
    dst->bottom = src->bottom;
    dst->right = src->right;
}

/* Grows *buf so that it holds at least `want` bytes, doubling up to `limit`. */
static int buffer_reserve(uint8_t **buf, size_t *cap, size_t want, size_t limit)
{
    if (want <= *cap) {
        return 0;
    }
    size_t new_cap = *cap ? *cap : 4096;
    while (new_cap < want) {
        new_cap *= 2;
    }
    if (new_cap > limit) {
        new_cap = limit;
    }
    uint8_t *grown = realloc(*buf, new_cap);
    if (!grown) {
        return CLOVE_E_NOMEM;
    }
    *buf = grown;
    *cap = new_cap;
    return 0;
}

/*
 * Copies the first `need` bytes carried by a QXLDataChunk list into a new
 * buffer (*out, NULL when need is 0). The first chunk header sits
 * `first_offset` bytes into the guest structure at `addr` (QXLCursor and
 * QXLClipRects embed it; a bare chunk list has offset 0). Fails when the list
 * ends before `need` bytes, has more than QXL_MAX_CHUNKS links, or declares
 * more than QXL_MAX_DATA_SIZE bytes.
 */
static int chunks_read(const struct memslot_table *t, uint32_t group, uint64_t addr,
                       size_t first_offset, size_t need, uint8_t **out, const char **err_desc)
{
    uint8_t *buf = NULL;
    size_t cap = 0, got = 0;
    uint64_t declared = 0;
    size_t offset = first_offset;
    /* Brent's cycle detection over the next_chunk addresses: `saved` is
     * refreshed at every power of two, so any loop is seen within about
     * twice its length plus its lead-in. */
    uint64_t saved = addr;
    uint32_t power = 1, steps = 0;
    int ret;

    *out = NULL;
    if (need > QXL_MAX_DATA_SIZE) {
        return fail(err_desc, "chunked data larger than the limit");
    }
    for (uint32_t links = 0; got < need; links++) {
        if (links >= QXL_MAX_CHUNKS) {
            ret = fail(err_desc, "too many data chunks (endless or looping list)");
            goto error;
        }
        QXLDataChunk chunk;
        const uint8_t *base = memslot_translate(t, group, addr, offset + sizeof(chunk), err_desc);
        if (!base) {
            ret = CLOVE_E_INVALID;
            goto error;
        }
        memcpy(&chunk, base + offset, sizeof(chunk));
        declared += chunk.data_size;
        if (declared > QXL_MAX_DATA_SIZE) {
            ret = fail(err_desc, "data chunks declare more bytes than the limit");
            goto error;
        }
        if (chunk.data_size > 0) {
            /* The whole chunk, header and data, must lie inside one memslot. */
            base = memslot_translate(t, group, addr, offset + sizeof(chunk) + chunk.data_size,
                                     err_desc);
            if (!base) {
                ret = CLOVE_E_INVALID;
                goto error;
            }
            size_t take = need - got < chunk.data_size ? need - got : chunk.data_size;
            ret = buffer_reserve(&buf, &cap, got + take, need);
            if (ret < 0) {
                fail(err_desc, "out of memory copying chunked data");
                goto error;
            }
            memcpy(buf + got, base + offset + sizeof(chunk), take);
            got += take;
        }
        if (got < need) {
            if (chunk.next_chunk == 0) {
                ret = fail(err_desc, "data chunks hold fewer bytes than needed");
                goto error;
            }
            addr = chunk.next_chunk;
            offset = 0;
            if (addr == saved) {
                ret = fail(err_desc, "data chunk list loops");
                goto error;
            }
            if (++steps == power) {
                saved = addr;
                power *= 2;
                steps = 0;
            }
        }
    }
    *out = buf;
    return 0;

error:
    free(buf);
    return ret;
}

void qxl_image_free(struct qxl_image *img)
{
    if (!img) {
        return;
    }
    if (!img->data_borrowed) {
        free(img->data);
    }
    free(img->palette);
    free(img);
}

/*
 * Copies the palette of a 1/4/8-bit bitmap. The copy always has 1 << bpp
 * entries so that any pixel value indexes it safely; entries the guest did
 * not provide are zero (black).
 */
static int palette_read(const struct memslot_table *t, uint32_t group, uint64_t addr, unsigned bpp,
                        struct qxl_image *img, const char **err_desc)
{
    QXLPalette head;
    if (read_guest(t, group, addr, &head, sizeof(head), err_desc) < 0) {
        return CLOVE_E_INVALID;
    }
    size_t entries = (size_t)1 << bpp;
    size_t guest_entries = head.num_ents;
    const uint8_t *src = memslot_translate(
            t, group, addr, sizeof(head) + guest_entries * sizeof(uint32_t), err_desc);
    if (!src) {
        return CLOVE_E_INVALID;
    }
    img->palette = calloc(entries, sizeof(uint32_t));
    if (!img->palette) {
        fail(err_desc, "out of memory copying a palette");
        return CLOVE_E_NOMEM;
    }
    size_t copy = guest_entries < entries ? guest_entries : entries;
    memcpy(img->palette, src + sizeof(head), copy * sizeof(uint32_t));
    img->num_palette = (uint32_t)entries;
    img->palette_unique = head.unique;
    return 0;
}

/*
 * Reads the QXLImage at `addr`. A BITMAP or SURFACE becomes a new qxl_image
 * in *out; a QUIC image is valid but not copied (*out stays NULL); any other
 * type is an error. A mask (is_mask) may leave out the palette of its 1-bit
 * format, as the reference allows; it then has num_palette 0.
 */
static int image_parse(const struct memslot_table *t, uint32_t group, uint64_t addr, bool is_mask,
                       struct qxl_image **out, const char **err_desc)
{
    QXLImage qxl;
    int ret;

    *out = NULL;
    if (addr == 0) {
        return fail(err_desc, "missing image");
    }
    if (read_guest(t, group, addr, &qxl, sizeof(qxl), err_desc) < 0) {
        return CLOVE_E_INVALID;
    }
    switch (qxl.descriptor.type) {
    case SPICE_IMAGE_TYPE_BITMAP:
        break;
    case SPICE_IMAGE_TYPE_SURFACE: {
        struct qxl_image *img = calloc(1, sizeof(*img));
        if (!img) {
            fail(err_desc, "out of memory");
            return CLOVE_E_NOMEM;
        }
        img->id = qxl.descriptor.id;
        img->type = SPICE_IMAGE_TYPE_SURFACE;
        img->desc_flags = qxl.descriptor.flags;
        img->width = qxl.descriptor.width;
        img->height = qxl.descriptor.height;
        img->surface_id = qxl.surface_image.surface_id;
        *out = img;
        return 0;
    }
    case SPICE_IMAGE_TYPE_QUIC:
        return 0;
    default:
        return fail(err_desc, "unknown image type");
    }

    const QXLBitmap *bitmap = &qxl.bitmap;
    if (bitmap->format >= SPICE_BITMAP_FMT_ENUM_END || bitmap_format_bpp[bitmap->format] == 0) {
        return fail(err_desc, "unknown bitmap format");
    }
    unsigned bpp = bitmap_format_bpp[bitmap->format];
    if (bitmap->x == 0 || bitmap->y == 0) {
        return fail(err_desc, "bitmap with zero width or height");
    }
    if (bitmap->x > QXL_MAX_IMAGE_DIM || bitmap->y > QXL_MAX_IMAGE_DIM) {
        return fail(err_desc, "bitmap width or height beyond the limit");
    }
    uint64_t min_stride = ((uint64_t)bitmap->x * bpp + 7) / 8;
    if (bitmap->stride < min_stride) {
        return fail(err_desc, "bitmap stride smaller than a row");
    }
    uint64_t size = (uint64_t)bitmap->stride * bitmap->y;
    if (size > QXL_MAX_DATA_SIZE) {
        return fail(err_desc, "bitmap data larger than the limit");
    }
    bool indexed = bpp <= 8 && bitmap->format != SPICE_BITMAP_FMT_8BIT_A;
    if (indexed && bitmap->palette == 0 && !is_mask) {
        return fail(err_desc, "indexed bitmap without a palette");
    }

    struct qxl_image *img = calloc(1, sizeof(*img));
    if (!img) {
        fail(err_desc, "out of memory");
        return CLOVE_E_NOMEM;
    }
    img->id = qxl.descriptor.id;
    img->type = qxl.descriptor.type;
    img->desc_flags = qxl.descriptor.flags;
    img->format = bitmap->format;
    img->bitmap_flags = bitmap->flags;
    img->width = bitmap->x;
    img->height = bitmap->y;
    img->stride = bitmap->stride;

    if (indexed && bitmap->palette != 0) {
        ret = palette_read(t, group, bitmap->palette, bpp, img, err_desc);
        if (ret < 0) {
            goto error;
        }
    }
    if (bitmap->flags & QXL_BITMAP_DIRECT) {
        const void *pixels = memslot_translate(t, group, bitmap->data, (size_t)size, err_desc);
        if (!pixels) {
            ret = CLOVE_E_INVALID;
            goto error;
        }
        img->data = malloc((size_t)size);
        if (!img->data) {
            ret = CLOVE_E_NOMEM;
            fail(err_desc, "out of memory copying bitmap data");
            goto error;
        }
        memcpy(img->data, pixels, (size_t)size);
    } else {
        ret = chunks_read(t, group, bitmap->data, 0, (size_t)size, &img->data, err_desc);
        if (ret < 0) {
            goto error;
        }
    }
    *out = img;
    return 0;

error:
    qxl_image_free(img);
    return ret;
}

static int clip_parse(const struct memslot_table *t, uint32_t group, const QXLClip *clip,
                      struct qxl_drawable *d, const char **err_desc)
{
    d->clip_type = clip->type;
    switch (clip->type) {
    case SPICE_CLIP_TYPE_NONE:
        return 0;
    case SPICE_CLIP_TYPE_RECTS:
        break;
    default:
        return fail(err_desc, "unknown clip type");
    }
    QXLClipRects head;
    if (read_guest(t, group, clip->data, &head, sizeof(head), err_desc) < 0) {
        return CLOVE_E_INVALID;
    }
    if (head.num_rects > QXL_MAX_CLIP_RECTS) {
        return fail(err_desc, "too many clip rectangles");
    }
    uint8_t *rects = NULL;
    int ret = chunks_read(t, group, clip->data, offsetof(QXLClipRects, chunk),
                          (size_t)head.num_rects * sizeof(QXLRect), &rects, err_desc);
    if (ret < 0) {
        return ret;
    }
    /* The buffer is malloc'd, hence aligned for any type, and QXLRect has
     * exactly the layout of struct qxl_rect (checked above). */
    d->clip_rects = (struct qxl_rect *)(void *)rects;
    d->num_clip_rects = head.num_rects;
    return 0;
}

/*
 * Path data beyond this many bytes (about two million points) is refused: no
 * real driver sends such a STROKE, and the path is copied twice (gathered,
 * then split into segments).
 */
#define PATH_MAX_DATA_SIZE (16u * 1024 * 1024)

/* A QXLBrush into *out; a PATTERN tile is parsed like a source image. */
static int brush_parse(const struct memslot_table *t, uint32_t group, const QXLBrush *brush,
                       struct qxl_brush *out, const char **err_desc)
{
    out->type = brush->type;
    switch (brush->type) {
    case SPICE_BRUSH_TYPE_NONE:
        return 0;
    case SPICE_BRUSH_TYPE_SOLID:
        out->color = brush->u.color;
        return 0;
    case SPICE_BRUSH_TYPE_PATTERN: {
        int ret = image_parse(t, group, brush->u.pattern.pat, false, &out->pattern, err_desc);
        if (ret < 0) {
            return ret;
        }
        if (!out->pattern) {
            return fail(err_desc, "pattern brush image is not a bitmap or a surface");
        }
        out->pattern_pos.x = brush->u.pattern.pos.x;
        out->pattern_pos.y = brush->u.pattern.pos.y;
        return 0;
    }
    default:
        return fail(err_desc, "unknown brush type");
    }
}

/*
 * A QXLQMask into d->mask. A zero bitmap address means no mask (flags and
 * pos are then dropped, as the reference does); otherwise the bitmap must be
 * a 1-bit BITMAP, the only mask the canvas (ours or the reference client's)
 * can apply.
 */
static int qmask_parse(const struct memslot_table *t, uint32_t group, const QXLQMask *mask,
                       struct qxl_drawable *d, const char **err_desc)
{
    if (mask->bitmap == 0) {
        return 0;
    }
    int ret = image_parse(t, group, mask->bitmap, true, &d->mask.bitmap, err_desc);
    if (ret < 0) {
        return ret;
    }
    const struct qxl_image *img = d->mask.bitmap;
    if (!img || img->type != SPICE_IMAGE_TYPE_BITMAP ||
        (img->format != SPICE_BITMAP_FMT_1BIT_LE && img->format != SPICE_BITMAP_FMT_1BIT_BE)) {
        return fail(err_desc, "mask is not a 1-bit bitmap");
    }
    d->mask.flags = mask->flags;
    d->mask.pos.x = mask->pos.x;
    d->mask.pos.y = mask->pos.y;
    return 0;
}

/*
 * The source image and area shared by COPY, BLEND, OPAQUE, TRANSPARENT,
 * ALPHA_BLEND and ROP3. The area must be non-negative, not inverted and,
 * for a bitmap, inside it (the reference checks this for COPY; every op here
 * reads its source the same way). *src is NULL for a QUIC source.
 */
static int source_parse(const struct memslot_table *t, uint32_t group, uint64_t addr,
                        const QXLRect *qxl_area, struct qxl_image **src, struct qxl_rect *area,
                        const char **err_desc)
{
    rect_from_qxl(area, qxl_area);
    if (area->left < 0 || area->left > area->right || area->top < 0 || area->top > area->bottom) {
        return fail(err_desc, "source area is negative or inverted");
    }
    int ret = image_parse(t, group, addr, false, src, err_desc);
    if (ret < 0) {
        return ret;
    }
    const struct qxl_image *img = *src;
    if (img && img->type == SPICE_IMAGE_TYPE_BITMAP &&
        ((uint32_t)area->right > img->width || (uint32_t)area->bottom > img->height)) {
        return fail(err_desc, "source area extends outside the source bitmap");
    }
    return 0;
}

static int fill_parse(const struct memslot_table *t, uint32_t group, const QXLFill *fill,
                      struct qxl_drawable *d, const char **err_desc)
{
    d->u.fill.rop_descriptor = fill->rop_descriptor;
    int ret = brush_parse(t, group, &fill->brush, &d->u.fill.brush, err_desc);
    if (ret < 0) {
        return ret;
    }
    return qmask_parse(t, group, &fill->mask, d, err_desc);
}

/* COPY and BLEND (QXLBlend is QXLCopy); both go into d->u.copy. */
static int copy_parse(const struct memslot_table *t, uint32_t group, const QXLCopy *copy,
                      struct qxl_drawable *d, const char **err_desc)
{
    d->u.copy.rop_descriptor = copy->rop_descriptor;
    d->u.copy.scale_mode = copy->scale_mode;
    int ret = source_parse(t, group, copy->src_bitmap, &copy->src_area, &d->u.copy.src,
                           &d->u.copy.src_area, err_desc);
    if (ret < 0) {
        return ret;
    }
    return qmask_parse(t, group, &copy->mask, d, err_desc);
}

static int opaque_parse(const struct memslot_table *t, uint32_t group, const QXLOpaque *opaque,
                        struct qxl_drawable *d, const char **err_desc)
{
    d->u.opaque.rop_descriptor = opaque->rop_descriptor;
    d->u.opaque.scale_mode = opaque->scale_mode;
    int ret = source_parse(t, group, opaque->src_bitmap, &opaque->src_area, &d->u.opaque.src,
                           &d->u.opaque.src_area, err_desc);
    if (ret < 0) {
        return ret;
    }
    ret = brush_parse(t, group, &opaque->brush, &d->u.opaque.brush, err_desc);
    if (ret < 0) {
        return ret;
    }
    return qmask_parse(t, group, &opaque->mask, d, err_desc);
}

static int transparent_parse(const struct memslot_table *t, uint32_t group,
                             const QXLTransparent *tr, struct qxl_drawable *d,
                             const char **err_desc)
{
    d->u.transparent.src_color = tr->src_color;
    d->u.transparent.true_color = tr->true_color;
    return source_parse(t, group, tr->src_bitmap, &tr->src_area, &d->u.transparent.src,
                        &d->u.transparent.src_area, err_desc);
}

/* ALPHA_BLEND; compat drawables carry no alpha_flags (the caller passes 0). */
static int alpha_blend_parse(const struct memslot_table *t, uint32_t group, uint16_t alpha_flags,
                             uint8_t alpha, uint64_t src, const QXLRect *src_area,
                             struct qxl_drawable *d, const char **err_desc)
{
    d->u.alpha_blend.alpha_flags = alpha_flags;
    d->u.alpha_blend.alpha = alpha;
    return source_parse(t, group, src, src_area, &d->u.alpha_blend.src, &d->u.alpha_blend.src_area,
                        err_desc);
}

static int rop3_parse(const struct memslot_table *t, uint32_t group, const QXLRop3 *rop3,
                      struct qxl_drawable *d, const char **err_desc)
{
    d->u.rop3.rop3 = rop3->rop3;
    d->u.rop3.scale_mode = rop3->scale_mode;
    int ret = source_parse(t, group, rop3->src_bitmap, &rop3->src_area, &d->u.rop3.src,
                           &d->u.rop3.src_area, err_desc);
    if (ret < 0) {
        return ret;
    }
    ret = brush_parse(t, group, &rop3->brush, &d->u.rop3.brush, err_desc);
    if (ret < 0) {
        return ret;
    }
    return qmask_parse(t, group, &rop3->mask, d, err_desc);
}

/*
 * The QXLPath at `addr`: data_size bytes from its chunk list hold segments
 * QXLPathSeg {u32 flags; u32 count; QXLPointFix points[count]} back to back.
 * Bytes after the last whole segment header are ignored (fewer than a
 * header's 8), as in the reference; a segment whose points run past
 * data_size is an error. Walks our own copy twice: once to count, once to
 * fill, so the guest cannot change the counts in between.
 */
static int path_parse(const struct memslot_table *t, uint32_t group, uint64_t addr,
                      struct qxl_path *path, const char **err_desc)
{
    QXLPath head;
    QXLPathSeg seg;
    uint8_t *data = NULL;
    int ret;

    if (addr == 0) {
        return fail(err_desc, "stroke without a path");
    }
    if (read_guest(t, group, addr, &head, sizeof(head), err_desc) < 0) {
        return CLOVE_E_INVALID;
    }
    if (head.data_size > PATH_MAX_DATA_SIZE) {
        return fail(err_desc, "path data larger than the limit");
    }
    size_t size = head.data_size;
    ret = chunks_read(t, group, addr, offsetof(QXLPath, chunk), size, &data, err_desc);
    if (ret < 0) {
        return ret;
    }
    /* The points fit in data, so their count and the segment count are
     * below size / 8 and nothing below overflows. */
    uint32_t num_segments = 0, num_points = 0;
    for (size_t pos = 0; size - pos >= sizeof(seg);) {
        memcpy(&seg, data + pos, sizeof(seg));
        pos += sizeof(seg);
        if (seg.count > (size - pos) / sizeof(QXLPointFix)) {
            ret = fail(err_desc, "path segment points run past the path's data_size");
            goto out;
        }
        pos += (size_t)seg.count * sizeof(QXLPointFix);
        num_segments++;
        num_points += seg.count;
    }
    if (num_segments > 0) {
        path->segments = calloc(num_segments, sizeof(*path->segments));
        if (!path->segments) {
            fail(err_desc, "out of memory copying a path");
            ret = CLOVE_E_NOMEM;
            goto out;
        }
    }
    if (num_points > 0) {
        path->points = malloc((size_t)num_points * sizeof(*path->points));
        if (!path->points) {
            fail(err_desc, "out of memory copying a path");
            ret = CLOVE_E_NOMEM;
            goto out;
        }
    }
    path->num_segments = num_segments;
    path->num_points = num_points;
    size_t pos = 0;
    uint32_t point = 0;
    for (uint32_t i = 0; i < num_segments; i++) {
        memcpy(&seg, data + pos, sizeof(seg));
        pos += sizeof(seg);
        path->segments[i].flags = seg.flags;
        path->segments[i].count = seg.count;
        path->segments[i].points = path->points + point;
        for (uint32_t j = 0; j < seg.count; j++) {
            QXLPointFix p;
            memcpy(&p, data + pos, sizeof(p));
            pos += sizeof(p);
            path->points[point].x = p.x;
            path->points[point].y = p.y;
            point++;
        }
    }
    ret = 0;
out:
    free(data);
    return ret;
}

/* A QXLLineAttr; the style array is read only for SPICE_LINE_FLAGS_STYLED. */
static int line_attr_parse(const struct memslot_table *t, uint32_t group, const QXLLineAttr *qxl,
                           struct qxl_line_attr *attr, const char **err_desc)
{
    attr->flags = qxl->flags;
    attr->join_style = qxl->join_style;
    attr->end_style = qxl->end_style;
    attr->width = qxl->width;
    attr->miter_limit = qxl->miter_limit;
    if (!(qxl->flags & SPICE_LINE_FLAGS_STYLED) || qxl->style_nseg == 0) {
        /* Unstyled lines carry no style, whatever style_nseg says. */
        return 0;
    }
    if (qxl->style == 0) {
        return fail(err_desc, "styled line without a style array");
    }
    size_t bytes = (size_t)qxl->style_nseg * sizeof(QXLFIXED);
    attr->style = malloc(bytes);
    if (!attr->style) {
        fail(err_desc, "out of memory copying a line style");
        return CLOVE_E_NOMEM;
    }
    if (read_guest(t, group, qxl->style, attr->style, bytes, err_desc) < 0) {
        free(attr->style);
        attr->style = NULL;
        return CLOVE_E_INVALID;
    }
    attr->style_nseg = qxl->style_nseg;
    return 0;
}

static int stroke_parse(const struct memslot_table *t, uint32_t group, const QXLStroke *stroke,
                        struct qxl_drawable *d, const char **err_desc)
{
    d->u.stroke.fore_mode = stroke->fore_mode;
    d->u.stroke.back_mode = stroke->back_mode;
    int ret = path_parse(t, group, stroke->path, &d->u.stroke.path, err_desc);
    if (ret < 0) {
        return ret;
    }
    ret = line_attr_parse(t, group, &stroke->attr, &d->u.stroke.attr, err_desc);
    if (ret < 0) {
        return ret;
    }
    return brush_parse(t, group, &stroke->brush, &d->u.stroke.brush, err_desc);
}

/*
 * The QXLString at `addr`: data_size bytes from its chunk list hold exactly
 * `length` glyphs, each a QXLRasterGlyph header followed by height rows of
 * qxl_glyph_stride(flags, width) bytes. Like the reference, a string must
 * name a raster format, and its glyphs must fill data_size exactly. The
 * gathered bytes become str->data and each glyph's pixels point into them.
 */
static int string_parse(const struct memslot_table *t, uint32_t group, uint64_t addr,
                        struct qxl_glyph_string *str, const char **err_desc)
{
    QXLString head;
    QXLRasterGlyph glyph;
    uint8_t *data = NULL;
    int ret;

    if (addr == 0) {
        return fail(err_desc, "text without a string");
    }
    if (read_guest(t, group, addr, &head, sizeof(head), err_desc) < 0) {
        return CLOVE_E_INVALID;
    }
    if (!(head.flags & (SPICE_STRING_FLAGS_RASTER_A1 | SPICE_STRING_FLAGS_RASTER_A4 |
                        SPICE_STRING_FLAGS_RASTER_A8))) {
        return fail(err_desc, "string without a raster format");
    }
    if (head.data_size > QXL_MAX_DATA_SIZE) {
        return fail(err_desc, "string data larger than the limit");
    }
    /* Every glyph takes at least its header, which bounds length early. */
    if ((uint64_t)head.length * sizeof(QXLRasterGlyph) > head.data_size) {
        return fail(err_desc, "string glyphs run past the string's data_size");
    }
    size_t size = head.data_size;
    ret = chunks_read(t, group, addr, offsetof(QXLString, chunk), size, &data, err_desc);
    if (ret < 0) {
        return ret;
    }
    if (head.length > 0) {
        str->glyphs = calloc(head.length, sizeof(*str->glyphs));
        if (!str->glyphs) {
            fail(err_desc, "out of memory copying a string");
            free(data);
            return CLOVE_E_NOMEM;
        }
    }
    str->data = data;
    str->length = head.length;
    str->flags = head.flags;
    size_t pos = 0;
    for (uint32_t i = 0; i < head.length; i++) {
        if (size - pos < sizeof(glyph)) {
            return fail(err_desc, "glyph header runs past the string's data_size");
        }
        memcpy(&glyph, data + pos, sizeof(glyph));
        pos += sizeof(glyph);
        uint64_t bytes = (uint64_t)qxl_glyph_stride(head.flags, glyph.width) * glyph.height;
        if (bytes > size - pos) {
            return fail(err_desc, "glyph data runs past the string's data_size");
        }
        struct qxl_glyph *g = &str->glyphs[i];
        g->render_pos.x = glyph.render_pos.x;
        g->render_pos.y = glyph.render_pos.y;
        g->glyph_origin.x = glyph.glyph_origin.x;
        g->glyph_origin.y = glyph.glyph_origin.y;
        g->width = glyph.width;
        g->height = glyph.height;
        g->data = data + pos;
        pos += (size_t)bytes;
    }
    if (pos != size) {
        return fail(err_desc, "string data_size holds more than its glyphs");
    }
    return 0;
}

static int text_parse(const struct memslot_table *t, uint32_t group, const QXLText *text,
                      struct qxl_drawable *d, const char **err_desc)
{
    rect_from_qxl(&d->u.text.back_area, &text->back_area);
    d->u.text.fore_mode = text->fore_mode;
    d->u.text.back_mode = text->back_mode;
    int ret = string_parse(t, group, text->str, &d->u.text.str, err_desc);
    if (ret < 0) {
        return ret;
    }
    ret = brush_parse(t, group, &text->fore_brush, &d->u.text.fore_brush, err_desc);
    if (ret < 0) {
        return ret;
    }
    return brush_parse(t, group, &text->back_brush, &d->u.text.back_brush, err_desc);
}

/* A QXLTransform: six fixed 16.16 values. */
static int transform_read(const struct memslot_table *t, uint32_t group, uint64_t addr,
                          uint32_t out[6], const char **err_desc)
{
    QXLTransform tr;
    if (read_guest(t, group, addr, &tr, sizeof(tr), err_desc) < 0) {
        return CLOVE_E_INVALID;
    }
    out[0] = tr.t00;
    out[1] = tr.t01;
    out[2] = tr.t02;
    out[3] = tr.t10;
    out[4] = tr.t11;
    out[5] = tr.t12;
    return 0;
}

static int composite_parse(const struct memslot_table *t, uint32_t group, const QXLComposite *c,
                           struct qxl_drawable *d, const char **err_desc)
{
    d->u.composite.flags = c->flags;
    int ret = image_parse(t, group, c->src, false, &d->u.composite.src, err_desc);
    if (ret < 0) {
        return ret;
    }
    if (!d->u.composite.src) {
        return fail(err_desc, "composite source is not a bitmap or a surface");
    }
    if (c->mask) {
        ret = image_parse(t, group, c->mask, false, &d->u.composite.mask, err_desc);
        if (ret < 0) {
            return ret;
        }
        if (!d->u.composite.mask) {
            return fail(err_desc, "composite mask is not a bitmap or a surface");
        }
    }
    if (c->src_transform) {
        ret = transform_read(t, group, c->src_transform, d->u.composite.src_transform, err_desc);
        if (ret < 0) {
            return ret;
        }
        d->u.composite.has_src_transform = true;
    }
    if (c->mask_transform) {
        ret = transform_read(t, group, c->mask_transform, d->u.composite.mask_transform, err_desc);
        if (ret < 0) {
            return ret;
        }
        d->u.composite.has_mask_transform = true;
    }
    d->u.composite.src_origin_x = c->src_origin.x;
    d->u.composite.src_origin_y = c->src_origin.y;
    d->u.composite.mask_origin_x = c->mask_origin.x;
    d->u.composite.mask_origin_y = c->mask_origin.y;
    return 0;
}

/*
 * The type-specific part, shared by native and compat drawables: every
 * union member has the same layout in both except ALPHA_BLEND (compat has
 * no alpha_flags) and COMPOSITE (native only). `u` points at our snapshot of
 * the union; each member is copied out of it because the guest struct is
 * packed. What a failing parser leaves behind is freed by the caller's
 * qxl_drawable_finish (d->type is already set).
 */
static int drawable_body_parse(const struct memslot_table *t, uint32_t group, uint8_t type,
                               const void *u, bool compat, struct qxl_drawable *d,
                               const char **err_desc)
{
    switch (type) {
    case QXL_DRAW_FILL: {
        QXLFill fill;
        memcpy(&fill, u, sizeof(fill));
        return fill_parse(t, group, &fill, d, err_desc);
    }
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND: {
        QXLCopy copy;
        memcpy(&copy, u, sizeof(copy));
        return copy_parse(t, group, &copy, d, err_desc);
    }
    case QXL_DRAW_OPAQUE: {
        QXLOpaque opaque;
        memcpy(&opaque, u, sizeof(opaque));
        return opaque_parse(t, group, &opaque, d, err_desc);
    }
    case QXL_DRAW_TRANSPARENT: {
        QXLTransparent tr;
        memcpy(&tr, u, sizeof(tr));
        return transparent_parse(t, group, &tr, d, err_desc);
    }
    case QXL_DRAW_ALPHA_BLEND: {
        if (compat) {
            QXLCompatAlphaBlend ab;
            memcpy(&ab, u, sizeof(ab));
            return alpha_blend_parse(t, group, 0, ab.alpha, ab.src_bitmap, &ab.src_area, d,
                                     err_desc);
        }
        QXLAlphaBlend ab;
        memcpy(&ab, u, sizeof(ab));
        return alpha_blend_parse(t, group, ab.alpha_flags, ab.alpha, ab.src_bitmap, &ab.src_area, d,
                                 err_desc);
    }
    case QXL_DRAW_ROP3: {
        QXLRop3 rop3;
        memcpy(&rop3, u, sizeof(rop3));
        return rop3_parse(t, group, &rop3, d, err_desc);
    }
    case QXL_DRAW_STROKE: {
        QXLStroke stroke;
        memcpy(&stroke, u, sizeof(stroke));
        return stroke_parse(t, group, &stroke, d, err_desc);
    }
    case QXL_DRAW_TEXT: {
        QXLText text;
        memcpy(&text, u, sizeof(text));
        return text_parse(t, group, &text, d, err_desc);
    }
    case QXL_COPY_BITS: {
        QXLCopyBits bits;
        memcpy(&bits, u, sizeof(bits));
        d->u.copy_bits.src_pos.x = bits.src_pos.x;
        d->u.copy_bits.src_pos.y = bits.src_pos.y;
        return 0;
    }
    case QXL_DRAW_BLACKNESS:
    case QXL_DRAW_WHITENESS:
    case QXL_DRAW_INVERS: {
        QXLBlackness b;
        memcpy(&b, u, sizeof(b));
        return qmask_parse(t, group, &b.mask, d, err_desc);
    }
    case QXL_DRAW_NOP:
        return 0;
    case QXL_DRAW_COMPOSITE: {
        /* Composite was added after the compat layout was frozen. */
        if (compat) {
            return fail(err_desc, "unknown draw type");
        }
        QXLComposite composite;
        memcpy(&composite, u, sizeof(composite));
        return composite_parse(t, group, &composite, d, err_desc);
    }
    default:
        return fail(err_desc, "unknown draw type");
    }
}

int qxl_parse_drawable(const struct memslot_table *t, uint32_t group, uint64_t addr,
                       struct qxl_drawable *out, const char **err_desc)
{
    QXLDrawable qxl;
    int ret;

    memset(out, 0, sizeof(*out));
    if (read_guest(t, group, addr, &qxl, sizeof(qxl), err_desc) < 0) {
        return CLOVE_E_INVALID;
    }
    out->release_id = qxl.release_info.id;
    out->surface_id = qxl.surface_id;
    out->effect = qxl.effect;
    out->type = qxl.type;
    out->mm_time = qxl.mm_time;
    rect_from_qxl(&out->bbox, &qxl.bbox);
    for (int i = 0; i < 3; i++) {
        out->surfaces_dest[i] = qxl.surfaces_dest[i];
        rect_from_qxl(&out->surfaces_rects[i], &qxl.surfaces_rects[i]);
    }
    ret = drawable_body_parse(t, group, qxl.type, &qxl.u, false, out, err_desc);
    if (ret == 0) {
        ret = clip_parse(t, group, &qxl.clip, out, err_desc);
    }
    if (ret < 0) {
        qxl_drawable_finish(out);
    }
    return ret;
}

int qxl_parse_compat_drawable(const struct memslot_table *t, uint32_t group, uint64_t addr,
                              struct qxl_drawable *out, const char **err_desc)
{
    QXLCompatDrawable qxl;
    int ret;

    memset(out, 0, sizeof(*out));
    if (read_guest(t, group, addr, &qxl, sizeof(qxl), err_desc) < 0) {
        return CLOVE_E_INVALID;
    }
    out->release_id = qxl.release_info.id;
    out->surface_id = 0; /* compat guests know only the primary surface */
    out->effect = qxl.effect;
    out->type = qxl.type;
    out->mm_time = qxl.mm_time;
    rect_from_qxl(&out->bbox, &qxl.bbox);
    for (int i = 0; i < 3; i++) {
        out->surfaces_dest[i] = -1;
    }
    ret = drawable_body_parse(t, group, qxl.type, &qxl.u, true, out, err_desc);
    if (ret == 0) {
        ret = clip_parse(t, group, &qxl.clip, out, err_desc);
    }
    if (ret < 0) {
        qxl_drawable_finish(out);
    }
    return ret;
}

static void brush_finish(struct qxl_brush *b)
{
    qxl_image_free(b->pattern);
}

void qxl_drawable_finish(struct qxl_drawable *d)
{
    if (!d) {
        return;
    }
    free(d->clip_rects);
    qxl_image_free(d->mask.bitmap);
    switch (d->type) {
    case QXL_DRAW_FILL:
        brush_finish(&d->u.fill.brush);
        break;
    case QXL_DRAW_COPY:
    case QXL_DRAW_BLEND:
        qxl_image_free(d->u.copy.src);
        break;
    case QXL_DRAW_OPAQUE:
        qxl_image_free(d->u.opaque.src);
        brush_finish(&d->u.opaque.brush);
        break;
    case QXL_DRAW_TRANSPARENT:
        qxl_image_free(d->u.transparent.src);
        break;
    case QXL_DRAW_ALPHA_BLEND:
        qxl_image_free(d->u.alpha_blend.src);
        break;
    case QXL_DRAW_ROP3:
        qxl_image_free(d->u.rop3.src);
        brush_finish(&d->u.rop3.brush);
        break;
    case QXL_DRAW_STROKE:
        free(d->u.stroke.path.segments);
        free(d->u.stroke.path.points);
        free(d->u.stroke.attr.style);
        brush_finish(&d->u.stroke.brush);
        break;
    case QXL_DRAW_TEXT:
        free(d->u.text.str.glyphs);
        free(d->u.text.str.data);
        brush_finish(&d->u.text.fore_brush);
        brush_finish(&d->u.text.back_brush);
        break;
    case QXL_DRAW_COMPOSITE:
        qxl_image_free(d->u.composite.src);
        qxl_image_free(d->u.composite.mask);
        break;
    default:
        break;
    }
    memset(d, 0, sizeof(*d));
}

int qxl_parse_update(const struct memslot_table *t, uint32_t group, uint64_t addr,
                     struct qxl_update_cmd *out, const char **err_desc)
{
    QXLUpdateCmd qxl;

    memset(out, 0, sizeof(*out));
    if (read_guest(t, group, addr, &qxl, sizeof(qxl), err_desc) < 0) {
        return CLOVE_E_INVALID;
    }
    rect_from_qxl(&out->area, &qxl.area);
    out->update_id = qxl.update_id;
    out->surface_id = qxl.surface_id;
    out->release_id = qxl.release_info.id;
    return 0;
}

/* Bits per pixel of a SPICE_SURFACE_FMT_*, 0 for an unknown format. */
static unsigned surface_format_bpp(uint32_t format)
{
    switch (format) {
    case SPICE_SURFACE_FMT_1_A:
        return 1;
    case SPICE_SURFACE_FMT_8_A:
        return 8;
    case SPICE_SURFACE_FMT_16_555:
    case SPICE_SURFACE_FMT_16_565:
        return 16;
    case SPICE_SURFACE_FMT_32_xRGB:
    case SPICE_SURFACE_FMT_32_ARGB:
        return 32;
    default:
        return 0;
    }
}

int qxl_parse_surface(const struct memslot_table *t, uint32_t group, uint64_t addr,
                      struct qxl_surface_cmd *out, const char **err_desc)
{
    QXLSurfaceCmd qxl;

    memset(out, 0, sizeof(*out));
    if (read_guest(t, group, addr, &qxl, sizeof(qxl), err_desc) < 0) {
        return CLOVE_E_INVALID;
    }
    switch (qxl.type) {
    case QXL_SURFACE_CMD_CREATE:
        break;
    case QXL_SURFACE_CMD_DESTROY:
        out->surface_id = qxl.surface_id;
        out->type = qxl.type;
        out->flags = qxl.flags;
        out->release_id = qxl.release_info.id;
        return 0;
    default:
        return fail(err_desc, "unknown surface command type");
    }

    const QXLSurface *s = &qxl.u.surface_create;
    unsigned bpp = surface_format_bpp(s->format);
    if (bpp == 0) {
        return fail(err_desc, "unknown surface format");
    }
    if (s->width == 0 || s->height == 0 || s->width > QXL_MAX_IMAGE_DIM ||
        s->height > QXL_MAX_IMAGE_DIM) {
        return fail(err_desc, "surface width or height zero or beyond the limit");
    }
    /* 64-bit arithmetic: -INT32_MIN does not fit in 32 bits. */
    uint64_t abs_stride = s->stride < 0 ? (uint64_t)(-(int64_t)s->stride) : (uint64_t)s->stride;
    if (abs_stride < ((uint64_t)s->width * bpp + 7) / 8) {
        return fail(err_desc, "surface stride smaller than a row");
    }
    uint64_t size = abs_stride * s->height;
    /* The pixels are not copied, only checked, so the bound is the
     * reference's 31-bit one rather than QXL_MAX_DATA_SIZE. */
    if (size > INT32_MAX) {
        return fail(err_desc, "surface larger than the limit");
    }
    if (!memslot_translate(t, group, s->data, (size_t)size, err_desc)) {
        return CLOVE_E_INVALID;
    }
    out->surface_id = qxl.surface_id;
    out->type = qxl.type;
    out->flags = qxl.flags;
    out->format = s->format;
    out->width = s->width;
    out->height = s->height;
    out->stride = s->stride;
    out->data_addr = s->data;
    out->release_id = qxl.release_info.id;
    return 0;
}

/*
 * Bytes a cursor shape of this type and size needs (spice.proto cursor
 * layouts): ALPHA is 32-bit ARGB; MONO is an AND mask then an XOR mask, 1 bit
 * per pixel with rows padded to bytes; the COLOR types are the pixels, then
 * a palette for COLOR4 (16 entries) and COLOR8 (256), then a 1-bit AND mask.
 * Returns false for an unknown type. The dimensions are at most 16 bits, so
 * nothing here overflows 64 bits.
 */
static bool cursor_data_size(uint16_t type, uint64_t width, uint64_t height, uint64_t *size)
{
    uint64_t mask = (width + 7) / 8 * height;
    switch (type) {
    case SPICE_CURSOR_TYPE_ALPHA:
        *size = width * height * 4;
        return true;
    case SPICE_CURSOR_TYPE_MONO:
        *size = 2 * mask;
        return true;
    case SPICE_CURSOR_TYPE_COLOR4:
        *size = (width + 1) / 2 * height + 16 * sizeof(uint32_t) + mask;
        return true;
    case SPICE_CURSOR_TYPE_COLOR8:
        *size = width * height + 256 * sizeof(uint32_t) + mask;
        return true;
    case SPICE_CURSOR_TYPE_COLOR16:
        *size = width * height * 2 + mask;
        return true;
    case SPICE_CURSOR_TYPE_COLOR24:
        *size = width * height * 3 + mask;
        return true;
    case SPICE_CURSOR_TYPE_COLOR32:
        *size = width * height * 4 + mask;
        return true;
    default:
        return false;
    }
}

static int cursor_shape_parse(const struct memslot_table *t, uint32_t group, uint64_t addr,
                              struct qxl_cursor_shape **out, const char **err_desc)
{
    QXLCursor qxl;
    uint64_t need;

    *out = NULL;
    if (addr == 0) {
        return fail(err_desc, "cursor set without a shape");
    }
    if (read_guest(t, group, addr, &qxl, sizeof(qxl), err_desc) < 0) {
        return CLOVE_E_INVALID;
    }
    const QXLCursorHeader *h = &qxl.header;
    if (h->width > QXL_MAX_CURSOR_DIM || h->height > QXL_MAX_CURSOR_DIM) {
        return fail(err_desc, "cursor width or height beyond the limit");
    }
    if (!cursor_data_size(h->type, h->width, h->height, &need)) {
        return fail(err_desc, "unknown cursor type");
    }
    if (qxl.data_size < need) {
        return fail(err_desc, "cursor data_size too small for its type and size");
    }
    struct qxl_cursor_shape *shape = calloc(1, sizeof(*shape));
    if (!shape) {
        fail(err_desc, "out of memory");
        return CLOVE_E_NOMEM;
    }
    int ret = chunks_read(t, group, addr, offsetof(QXLCursor, chunk), (size_t)need, &shape->data,
                          err_desc);
    if (ret < 0) {
        free(shape);
        return ret;
    }
    shape->unique = h->unique;
    shape->type = h->type;
    shape->width = h->width;
    shape->height = h->height;
    shape->hot_spot_x = h->hot_spot_x;
    shape->hot_spot_y = h->hot_spot_y;
    /* Exactly the bytes the type needs; a guest's extra padding is dropped. */
    shape->data_size = (uint32_t)need;
    *out = shape;
    return 0;
}

int qxl_parse_cursor(const struct memslot_table *t, uint32_t group, uint64_t addr,
                     struct qxl_cursor_cmd *out, const char **err_desc)
{
    QXLCursorCmd qxl;

    memset(out, 0, sizeof(*out));
    if (read_guest(t, group, addr, &qxl, sizeof(qxl), err_desc) < 0) {
        return CLOVE_E_INVALID;
    }
    switch (qxl.type) {
    case QXL_CURSOR_SET: {
        int ret = cursor_shape_parse(t, group, qxl.u.set.shape, &out->shape, err_desc);
        if (ret < 0) {
            return ret;
        }
        out->position.x = qxl.u.set.position.x;
        out->position.y = qxl.u.set.position.y;
        out->visible = qxl.u.set.visible;
        break;
    }
    case QXL_CURSOR_MOVE:
        out->position.x = qxl.u.position.x;
        out->position.y = qxl.u.position.y;
        break;
    case QXL_CURSOR_HIDE:
        break;
    case QXL_CURSOR_TRAIL:
        out->trail_length = qxl.u.trail.length;
        out->trail_frequency = qxl.u.trail.frequency;
        break;
    default:
        return fail(err_desc, "unknown cursor command type");
    }
    out->type = qxl.type;
    out->release_id = qxl.release_info.id;
    return 0;
}

void qxl_cursor_cmd_finish(struct qxl_cursor_cmd *c)
{
    if (!c) {
        return;
    }
    if (c->shape) {
        free(c->shape->data);
        free(c->shape);
    }
    memset(c, 0, sizeof(*c));
}

int qxl_parse_message(const struct memslot_table *t, uint32_t group, uint64_t addr,
                      struct qxl_message_cmd *out, const char **err_desc)
{
    size_t avail;

    memset(out, 0, sizeof(*out));
    const uint8_t *msg =
            memslot_translate_avail(t, group, addr, sizeof(QXLMessage), &avail, err_desc);
    if (!msg) {
        return CLOVE_E_INVALID;
    }
    QXLReleaseInfo info;
    memcpy(&info, msg, sizeof(info));

    /* Copy first, then look at the copy only. */
    const size_t max_len = sizeof(out->text) - 1;
    size_t in_slot = avail - sizeof(QXLMessage);
    size_t scan = in_slot < max_len ? in_slot : max_len;
    memcpy(out->text, msg + sizeof(QXLMessage), scan);
    size_t len = strnlen(out->text, scan);
    if (len == scan && in_slot <= max_len) {
        /* The slot ends before any terminator: the guest wrote garbage. */
        memset(out, 0, sizeof(*out));
        return fail(err_desc, "message text not NUL-terminated inside its memslot");
    }
    /* Longer texts are truncated at max_len. Trailing line ends are noise
     * in a log line; everything else non-printable becomes '?'. */
    while (len > 0 && (out->text[len - 1] == '\n' || out->text[len - 1] == '\r')) {
        len--;
    }
    memset(out->text + len, 0, sizeof(out->text) - len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out->text[i];
        if (c < 0x20 || c > 0x7e) {
            out->text[i] = '?';
        }
    }
    out->release_id = info.id;
    return 0;
}

void *qxl_release_info(const struct memslot_table *t, uint32_t group, uint64_t addr)
{
    return memslot_translate(t, group, addr, sizeof(QXLReleaseInfo), NULL);
}
