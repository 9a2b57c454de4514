/*
 * Helpers shared by the codecs.
 */
#include "codec/codec.h"

size_t codec_format_row_bytes(enum codec_format format, uint32_t width)
{
    switch (format) {
    case CODEC_FMT_RGB32:
    case CODEC_FMT_RGBA:
    case CODEC_FMT_XXXA:
        return (size_t)width * 4;
    case CODEC_FMT_RGB24:
        return (size_t)width * 3;
    case CODEC_FMT_RGB16:
        return (size_t)width * 2;
    case CODEC_FMT_A8:
    case CODEC_FMT_PLT8:
        return width;
    case CODEC_FMT_PLT4_LE:
    case CODEC_FMT_PLT4_BE:
        return ((size_t)width + 1) / 2;
    case CODEC_FMT_PLT1_LE:
    case CODEC_FMT_PLT1_BE:
        return ((size_t)width + 7) / 8;
    default:
        return 0;
    }
}
