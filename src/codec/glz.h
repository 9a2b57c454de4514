/*
 * SPICE GLZ image codec (SPICE_IMAGE_TYPE_GLZ_RGB): LZ with a dictionary
 * shared across the images sent to one client.
 *
 * Wire format (spice server glz-encoder.c, spice-gtk decode-glz.c): big
 * endian {u32 magic 0x20205a4c, u32 version 0x00010001, u8 type | top_down
 * << 4, u32 width, u32 height, u32 stride, u64 image id, u32
 * win_head_image_dist}, then the pixel stream, whose matches may point into
 * earlier images: image id - image_dist, pixel offset inside it.
 *
 * The server side owns one struct glz_dict per client (window size in
 * pixels from the client's DISPLAY_INIT); the client side owns one struct
 * glz_window. Both keep only images the other side keeps: after decoding
 * image N the client drops every image older than N - win_head_image_dist,
 * and the encoder never refers to those.
 *
 * Thread: any; an object is used by one thread at a time.
 */
#ifndef CLOVE_CODEC_GLZ_H
#define CLOVE_CODEC_GLZ_H

#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

#define GLZ_HEADER_SIZE       33
#define GLZ_MAX_WINDOW_PIXELS (1u << 25) /* lz_common.h LZ_MAX_WINDOW_SIZE */

/* ---- encoder ---- */

struct glz_dict;

/* Result of one glz_encode(). Images with ids in [first_evicted,
 * first_evicted + evicted) left the window before this image was added. */
struct glz_encode_result {
    uint64_t image_id;      /* id written into the stream */
    uint64_t oldest_id;     /* oldest image still in the window (may be image_id) */
    uint64_t first_evicted; /* valid when evicted > 0 */
    uint32_t evicted;
};

/* Returns new: an empty dictionary holding up to window_pixels pixels
 * (1..GLZ_MAX_WINDOW_PIXELS), or NULL (bad size or no memory). Image ids
 * start at 0. Keeps a copy of the pixels of the images in the window
 * (4 bytes per pixel, up to 1.5x the window). */
struct glz_dict *glz_dict_create(uint32_t window_pixels);

/* Takes: frees the dictionary. Accepts NULL. */
void glz_dict_destroy(struct glz_dict *dict);

/* Forgets every image (use when the client resets its window); ids continue. */
void glz_dict_reset(struct glz_dict *dict);

/* Upper bound of glz_encode()'s output for img, or 0 if it is not encodable. */
size_t glz_encode_bound(const struct codec_image *img);

/*
 * Encodes img (borrows; RGB32, RGBA, RGB24 or RGB16; width x height pixels
 * at most the window size) as the next image of dict, evicting the oldest
 * images as needed. Returns the bytes written or CLOVE_E_INVALID,
 * CLOVE_E_UNSUPPORTED (format), CLOVE_E_RANGE (image larger than the window,
 * or out_cap too small: then the image is not added), CLOVE_E_NOMEM.
 */
int glz_encode(struct glz_dict *dict, const struct codec_image *img, uint8_t *out, size_t out_cap,
               struct glz_encode_result *result, const char **err_desc);

/* ---- decoder ---- */

struct glz_window;

/* Returns new: an empty decoder window. max_pixels (>= 1) is the window the
 * client announced; the window never holds more than twice that, dropping
 * its oldest images first (references to them then fail cleanly). */
struct glz_window *glz_window_create(uint32_t max_pixels);

/* Takes: frees the window and its images. Accepts NULL. */
void glz_window_destroy(struct glz_window *window);

/* Drops every image (SPICE_MSG_DISPLAY_INVAL_ALL_PIXMAPS / reset). */
void glz_window_clear(struct glz_window *window);

/*
 * Parses a GLZ header. info->format is the layout glz_decode() writes:
 * CODEC_FMT_RGBA for RGBA images, CODEC_FMT_RGB32 for the others. image_id
 * may be NULL. Returns 0, CLOVE_E_INCOMPLETE, CLOVE_E_INVALID,
 * CLOVE_E_UNSUPPORTED (palette types) or CLOVE_E_RANGE.
 */
int glz_decode_header(const uint8_t *in, size_t in_len, struct codec_info *info, uint64_t *image_id,
                      const char **err_desc);

/*
 * Decodes one GLZ image, adds it to the window and drops the images it says
 * are gone. pixels (borrows) receives width x height 4-byte pixels, row 0 on
 * top, rows stride bytes apart. Safe on any input; on error the window is
 * left unchanged.
 */
int glz_decode(struct glz_window *window, const uint8_t *in, size_t in_len, uint8_t *pixels,
               int32_t stride, const char **err_desc);

/* Number of images the window holds (for tests and statistics). */
size_t glz_window_image_count(const struct glz_window *window);

#endif
