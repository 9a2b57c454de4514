/*
 * ZLIB_GLZ_RGB wrapper (see zlib_glz.h).
 *
 * DESIGN. One-shot deflate/inflate over caller buffers through zlib's
 * streaming API, so sizes above 4 GiB never reach zlib's 32-bit counters
 * (inputs are bounded by protocol limits first). The decoder never trusts
 * glz_data_size: it bounds it, checks it against the caller's buffer, and
 * requires inflate to stop exactly there at the end of the deflate stream.
 */
#include "codec/zlib_glz.h"

#include <zlib.h>

static int zlib_glz_fail(const char **err_desc, const char *msg, int code)
{
    if (err_desc) {
        *err_desc = msg;
    }
    return code;
}

static void zlib_glz_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t zlib_glz_get_le32(const uint8_t *p)
{
    return p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

size_t zlib_glz_encode_bound(size_t glz_len)
{
    if (glz_len > ZLIB_GLZ_MAX_GLZ_SIZE) {
        return 0;
    }
    return ZLIB_GLZ_HEADER_SIZE + compressBound((uLong)glz_len);
}

int zlib_glz_encode(const uint8_t *glz, size_t glz_len, int level, uint8_t *out, size_t out_cap,
                    const char **err_desc)
{
    if (!glz || !out || glz_len == 0 || glz_len > ZLIB_GLZ_MAX_GLZ_SIZE || level < 0 || level > 9) {
        return zlib_glz_fail(err_desc, "zlib-glz: invalid arguments", CLOVE_E_INVALID);
    }
    if (out_cap <= ZLIB_GLZ_HEADER_SIZE) {
        return zlib_glz_fail(err_desc, "zlib-glz: output buffer too small", CLOVE_E_RANGE);
    }
    size_t room = out_cap - ZLIB_GLZ_HEADER_SIZE;
    if (room > glz_len) {
        room = glz_len; /* larger output is useless: plain GLZ is smaller */
    }
    z_stream zs = {0};
    if (deflateInit(&zs, level) != Z_OK) {
        return zlib_glz_fail(err_desc, "zlib-glz: deflateInit failed", CLOVE_E_NOMEM);
    }
    zs.next_in = (Bytef *)(uintptr_t)glz;
    zs.avail_in = (uInt)glz_len;
    zs.next_out = out + ZLIB_GLZ_HEADER_SIZE;
    zs.avail_out = (uInt)room;
    int zr = deflate(&zs, Z_FINISH);
    size_t produced = zs.total_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END || produced >= glz_len) {
        return zlib_glz_fail(err_desc, "zlib-glz: no gain over plain GLZ", CLOVE_E_RANGE);
    }
    zlib_glz_put_le32(out, (uint32_t)glz_len);
    zlib_glz_put_le32(out + 4, (uint32_t)produced);
    return (int)(ZLIB_GLZ_HEADER_SIZE + produced);
}

int zlib_glz_decode_header(const uint8_t *in, size_t in_len, uint32_t *glz_size,
                           const char **err_desc)
{
    if (!in || in_len < ZLIB_GLZ_HEADER_SIZE) {
        return zlib_glz_fail(err_desc, "zlib-glz: truncated header", CLOVE_E_INCOMPLETE);
    }
    uint32_t glz_data_size = zlib_glz_get_le32(in);
    uint32_t data_size = zlib_glz_get_le32(in + 4);
    if ((uint64_t)data_size > (uint64_t)(in_len - ZLIB_GLZ_HEADER_SIZE)) {
        return zlib_glz_fail(err_desc, "zlib-glz: data_size beyond the input", CLOVE_E_INVALID);
    }
    if (glz_data_size == 0 || glz_data_size > ZLIB_GLZ_MAX_GLZ_SIZE) {
        return zlib_glz_fail(err_desc, "zlib-glz: bad glz_data_size", CLOVE_E_RANGE);
    }
    if (glz_size) {
        *glz_size = glz_data_size;
    }
    return 0;
}

int zlib_glz_decode(const uint8_t *in, size_t in_len, uint8_t *glz_out, size_t glz_cap,
                    const char **err_desc)
{
    uint32_t glz_size;
    int rc = zlib_glz_decode_header(in, in_len, &glz_size, err_desc);
    if (rc < 0) {
        return rc == CLOVE_E_INCOMPLETE
                       ? zlib_glz_fail(err_desc, "zlib-glz: truncated", CLOVE_E_INVALID)
                       : rc;
    }
    if (!glz_out || glz_cap < glz_size) {
        return zlib_glz_fail(err_desc, "zlib-glz: output buffer too small", CLOVE_E_RANGE);
    }
    z_stream zs = {0};
    if (inflateInit(&zs) != Z_OK) {
        return zlib_glz_fail(err_desc, "zlib-glz: inflateInit failed", CLOVE_E_NOMEM);
    }
    zs.next_in = (Bytef *)(uintptr_t)(in + ZLIB_GLZ_HEADER_SIZE);
    zs.avail_in = zlib_glz_get_le32(in + 4);
    zs.next_out = glz_out;
    zs.avail_out = glz_size;
    int zr = inflate(&zs, Z_FINISH);
    size_t produced = zs.total_out;
    inflateEnd(&zs);
    if (zr != Z_STREAM_END || produced != glz_size) {
        return zlib_glz_fail(err_desc, "zlib-glz: corrupt deflate data", CLOVE_E_INVALID);
    }
    return (int)produced;
}
