/*
 * The image encoder stage: chooses how each bitmap goes to one client and
 * encodes it (raw, QUIC, LZ, GLZ, zlib-GLZ, LZ4, JPEG) with the codec
 * library.
 *
 * The choice follows the server's image-compression setting (or the
 * client's PREFERRED_COMPRESSION), the client's capabilities (LZ4 only with
 * DISPLAY_CAP_LZ4_COMPRESSION; GLZ only when the client announced a GLZ
 * window in DISPLAY_INIT), and the content: tiny images go raw, photo-like
 * images go to QUIC (or JPEG when the WAN setting says always), synthetic
 * ones to LZ/GLZ. Every failure falls back to a raw bitmap, which always
 * works. Palette images (1/4/8-bit) have their own entry point: LZ_PLT or
 * a raw BITMAP, both carrying the palette (image_encoder_encode_palette).
 *
 * Pure: no I/O, no logging. Thread: the worker's; one client per object.
 */
#ifndef CLOVE_DISPLAY_IMAGE_ENCODER_H
#define CLOVE_DISPLAY_IMAGE_ENCODER_H

#include <stdbool.h>
#include <stdint.h>

#include "codec/codec.h"
#include "common/bytes.h"
#include "proto/server_msg.h"

/* The values of spice_wan_compression_t (<spice-server.h>, which this
 * layer does not include). */
enum image_encoder_wan {
    IMAGE_ENCODER_WAN_AUTO = 1,
    IMAGE_ENCODER_WAN_ALWAYS = 2,
    IMAGE_ENCODER_WAN_NEVER = 3,
};

struct image_encoder_settings {
    int compression; /* SPICE_IMAGE_COMPRESSION_* */
    int jpeg;        /* enum image_encoder_wan: JPEG for photo-like images */
    int zlib_glz;    /* enum image_encoder_wan: deflate over GLZ */
};

struct image_encoder_client {
    bool lz4_cap;
    uint32_t glz_window_pixels;             /* 0: the client has no GLZ window */
    int preferred;                          /* client's PREFERRED_COMPRESSION, 0 if none */
    struct glz_dict *glz;                   /* owns; created on first use */
    uint64_t images, raw_bytes, sent_bytes; /* statistics */
};

void image_encoder_client_init(struct image_encoder_client *c, bool lz4_cap,
                               uint32_t glz_window_pixels);
void image_encoder_client_finish(struct image_encoder_client *c);

/* What a bitmap will be sent as, for the given client and settings. */
int image_encoder_choose(const struct image_encoder_client *c,
                         const struct image_encoder_settings *s, const struct codec_image *img);

/* True when the chosen type's bytes depend on this client's state (GLZ):
 * such a message cannot be shared with other clients. */
bool image_encoder_type_is_per_client(int image_type);

/*
 * Encodes `img` (borrows) for client `c` into `out` (SPICE image type and
 * payload; the payload lives in `scratch`, which the caller keeps until the
 * message is written). On any codec failure fills a raw BITMAP instead.
 * `id` is the SpiceImageDescriptor id. Returns the image type used.
 */
int image_encoder_encode(struct image_encoder_client *c, const struct image_encoder_settings *s,
                         const struct codec_image *img, uint64_t id, struct wire_image *out,
                         struct byte_buf *scratch);

/* The colours of a palette image (the CODEC_FMT_PLT* formats). */
struct image_encoder_palette {
    uint64_t unique;      /* the guest's palette id; 0: not cacheable */
    const uint32_t *ents; /* borrows: 0x00RRGGBB colours */
    uint16_t num_ents;
};

/*
 * True when palette images go to this client in their own format (LZ_PLT,
 * or a BITMAP with its palette): the compression mode (the client's
 * preferred one, else the server's) is OFF, LZ, AUTO_LZ or AUTO_GLZ, as
 * the reference sends palettes. With QUIC, GLZ or LZ4, codecs of RGB
 * pixels only, the caller expands them to 32 bits and uses
 * image_encoder_encode().
 */
bool image_encoder_keeps_palette(const struct image_encoder_client *c,
                                 const struct image_encoder_settings *s);

/*
 * Encodes the palette image `img` (borrows; a CODEC_FMT_PLT* format) with
 * `palette` (borrows; kept referenced by `out`) as LZ_PLT, or as a raw
 * BITMAP when it is tiny, compression is OFF, or LZ fails. out->palette
 * gets the palette with no flags: the caller adds PAL_CACHE_ME or
 * PAL_FROM_CACHE (display/palette_cache.h). Returns the image type used,
 * or CLOVE_E_INVALID if img is not a palette image.
 */
int image_encoder_encode_palette(struct image_encoder_client *c,
                                 const struct image_encoder_settings *s,
                                 const struct codec_image *img,
                                 const struct image_encoder_palette *palette, uint64_t id,
                                 struct wire_image *out, struct byte_buf *scratch);

/* 0..100: how photo-like (smooth gradients, many colours) an image looks. */
unsigned image_encoder_graduality(const struct codec_image *img);

#endif
