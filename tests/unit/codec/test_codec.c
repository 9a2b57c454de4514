/*
 * Tests of the helpers shared by the codecs (src/codec/codec.c).
 */
#include "check.h"
#include "codec/codec.h"

static void test_row_bytes_whole_bytes(void)
{
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_RGB32, 1920), 7680);
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_RGBA, 3), 12);
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_XXXA, 5), 20);
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_RGB24, 5), 15);
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_RGB16, 7), 14);
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_A8, 9), 9);
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_PLT8, 9), 9);
}

static void test_row_bytes_sub_byte_round_up(void)
{
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_PLT4_LE, 1), 1);
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_PLT4_BE, 2), 1);
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_PLT4_LE, 3), 2);
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_PLT1_LE, 1), 1);
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_PLT1_BE, 8), 1);
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_PLT1_BE, 9), 2);
}

static void test_row_bytes_edges(void)
{
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_RGB32, 0), 0);
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_INVALID, 100), 0);
    CHECK_EQ(codec_format_row_bytes((enum codec_format)999, 100), 0);
    /* No 32-bit overflow for the widest rows a uint32_t width can ask for. */
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_RGB32, UINT32_MAX), (size_t)UINT32_MAX * 4);
    CHECK_EQ(codec_format_row_bytes(CODEC_FMT_PLT1_LE, UINT32_MAX), ((size_t)UINT32_MAX + 7) / 8);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_row_bytes_whole_bytes),
            CHECK_CASE(test_row_bytes_sub_byte_round_up),
            CHECK_CASE(test_row_bytes_edges),
            {0},
    });
}
