/*
 * Tests for the pure parts of src/client/inputs.c (scancode encoding, the
 * motion flow-control window) and src/client/cursor.c (shape conversion to
 * ARGB for every SPICE cursor type), plus the input API's state checks.
 */
#include <string.h>

#include <spice/enums.h>

#include "check.h"
#include "client/client_priv.h"

static void test_key_codes(void)
{
    CHECK_EQ(inputs_key_code(0x1e, false), 0x1eu);      /* A */
    CHECK_EQ(inputs_key_code(0x1e, true), 0x9eu);       /* A released */
    CHECK_EQ(inputs_key_code(0x148, false), 0x48e0u);   /* Up: E0 48 */
    CHECK_EQ(inputs_key_code(0x148, true), 0xc8e0u);    /* E0 C8 */
    CHECK_EQ(inputs_key_code(0x11d, true), 0x9de0u);    /* right Ctrl up */
    CHECK_EQ(inputs_key_code(0, false), 0u);            /* no key */
    CHECK_EQ(inputs_key_code(0x80, false), 0u);         /* a break code */
    CHECK_EQ(inputs_key_code(0x200 | 0x1e, false), 0u); /* unknown prefix */
    CHECK_EQ(inputs_key_code(0x100, false), 0u);
}

static void test_flow_motion(void)
{
    struct inputs_flow f = {0};
    for (int i = 0; i < INPUTS_MAX_UNACKED; i++) {
        CHECK(inputs_flow_motion(&f, 1, 2));
    }
    CHECK_EQ(f.unacked, (uint32_t)INPUTS_MAX_UNACKED);
    /* Beyond the window: coalesced. */
    CHECK(!inputs_flow_motion(&f, 3, 4));
    CHECK(!inputs_flow_motion(&f, 5, -10));
    CHECK(f.pending);
    CHECK_EQ(f.dx, 8);
    CHECK_EQ(f.dy, -6);
    /* One ack makes room: the pending message may go. */
    CHECK(inputs_flow_ack(&f));
    CHECK_EQ(f.unacked, (uint32_t)(INPUTS_MAX_UNACKED - SPICE_INPUT_MOTION_ACK_BUNCH));
    inputs_flow_sent(&f);
    CHECK(!f.pending);
    CHECK_EQ(f.dx, 0);
    CHECK_EQ(f.unacked, (uint32_t)(INPUTS_MAX_UNACKED - SPICE_INPUT_MOTION_ACK_BUNCH + 1));
    /* Room again: motions go directly. */
    CHECK(inputs_flow_motion(&f, 1, 1));
    /* Acks with nothing pending send nothing, and never go below zero. */
    for (int i = 0; i < 10; i++) {
        CHECK(!inputs_flow_ack(&f));
    }
    CHECK_EQ(f.unacked, 0u);
    /* Sums saturate instead of wrapping. */
    f = (struct inputs_flow){.unacked = INPUTS_MAX_UNACKED};
    CHECK(!inputs_flow_motion(&f, INT32_MAX, INT32_MIN));
    CHECK(!inputs_flow_motion(&f, 5, -5));
    CHECK_EQ(f.dx, INT32_MAX);
    CHECK_EQ(f.dy, INT32_MIN);
}

static void test_flow_position(void)
{
    struct inputs_flow f = {.unacked = INPUTS_MAX_UNACKED};
    CHECK(!inputs_flow_position(&f, 10, 20, 0));
    CHECK(!inputs_flow_position(&f, 30, 40, 1));
    CHECK(f.pending && f.pending_absolute);
    CHECK_EQ(f.x, 30u);
    CHECK_EQ(f.y, 40u);
    CHECK_EQ(f.display_id, 1);
    /* While one waits, newer ones merge too, even with room (order kept). */
    CHECK(inputs_flow_ack(&f));
    CHECK(!inputs_flow_position(&f, 50, 60, 0));
    CHECK_EQ(f.x, 50u);
    inputs_flow_sent(&f);
    CHECK(inputs_flow_position(&f, 1, 1, 0));
}

static void test_cursor_alpha(void)
{
    uint8_t data[2 * 1 * 4];
    put_u32le(data, 0x80112233);
    put_u32le(data + 4, 0x00000000);
    uint32_t out[2];
    CHECK_EQ(cursor_shape_convert(SPICE_CURSOR_TYPE_ALPHA, 2, 1, data, sizeof(data), out), 0);
    CHECK_EQ(out[0], 0x80112233u);
    CHECK_EQ(out[1], 0u);
    CHECK_EQ(cursor_shape_convert(SPICE_CURSOR_TYPE_ALPHA, 2, 1, data, 7, out), CLOVE_E_INVALID);
}

static void test_cursor_mono(void)
{
    /* 4x1: AND 0b0011...., XOR 0b0101.... -> black, white, transparent, inverted. */
    const uint8_t data[2] = {0x30, 0x50};
    uint32_t out[4];
    CHECK_EQ(cursor_shape_convert(SPICE_CURSOR_TYPE_MONO, 4, 1, data, sizeof(data), out), 0);
    CHECK_EQ(out[0], 0xff000000u);
    CHECK_EQ(out[1], 0xffffffffu);
    CHECK_EQ(out[2], 0u);
    CHECK_EQ(out[3], 0xff000000u);
    /* 9 pixels wide: two mask bytes per row; 2 rows. */
    uint8_t wide[8] = {0x00, 0x00, 0xff, 0x80, 0x80, 0x00, 0x00, 0x00};
    uint32_t out2[18];
    CHECK_EQ(cursor_shape_convert(SPICE_CURSOR_TYPE_MONO, 9, 2, wide, sizeof(wide), out2), 0);
    CHECK_EQ(out2[0], 0xffffffffu); /* row 0: AND 0, XOR 1 */
    CHECK_EQ(out2[1], 0xff000000u);
    CHECK_EQ(out2[9], 0u);  /* row 1, x 0: AND 1, XOR 0 */
    CHECK_EQ(out2[17], 0u); /* row 1, x 8: AND 1 */
    CHECK_EQ(cursor_shape_convert(SPICE_CURSOR_TYPE_MONO, 9, 2, wide, 7, out2), CLOVE_E_INVALID);
}

static void test_cursor_colors(void)
{
    uint32_t out[2];
    /* COLOR32 2x1 + mask 0x40: pixel 0 opaque, pixel 1 transparent. */
    uint8_t c32[9];
    put_u32le(c32, 0x00123456);
    put_u32le(c32 + 4, 0x00abcdef);
    c32[8] = 0x40;
    CHECK_EQ(cursor_shape_convert(SPICE_CURSOR_TYPE_COLOR32, 2, 1, c32, sizeof(c32), out), 0);
    CHECK_EQ(out[0], 0xff123456u);
    CHECK_EQ(out[1], 0u);
    /* Masked white means "invert": shown black. */
    put_u32le(c32 + 4, 0x00ffffff);
    CHECK_EQ(cursor_shape_convert(SPICE_CURSOR_TYPE_COLOR32, 2, 1, c32, sizeof(c32), out), 0);
    CHECK_EQ(out[1], 0xff000000u);
    CHECK_EQ(cursor_shape_convert(SPICE_CURSOR_TYPE_COLOR32, 2, 1, c32, 8, out), CLOVE_E_INVALID);

    /* COLOR24 2x1: B, G, R bytes. */
    const uint8_t c24[7] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x00};
    CHECK_EQ(cursor_shape_convert(SPICE_CURSOR_TYPE_COLOR24, 2, 1, c24, sizeof(c24), out), 0);
    CHECK_EQ(out[0], 0xff030201u);
    CHECK_EQ(out[1], 0xff060504u);

    /* COLOR16 2x1: pure red and pure blue in x1r5g5b5. */
    uint8_t c16[5];
    put_u16le(c16, 0x7c00);
    put_u16le(c16 + 2, 0x001f);
    c16[4] = 0;
    CHECK_EQ(cursor_shape_convert(SPICE_CURSOR_TYPE_COLOR16, 2, 1, c16, sizeof(c16), out), 0);
    CHECK_EQ(out[0], 0xffff0000u);
    CHECK_EQ(out[1], 0xff0000ffu);

    /* COLOR4 2x1: indices 1 and 2 in one byte, a 16-entry palette, the mask. */
    uint8_t c4[1 + 64 + 1] = {0x12};
    put_u32le(c4 + 1 + 4, 0x00102030);
    put_u32le(c4 + 1 + 8, 0x00405060);
    CHECK_EQ(cursor_shape_convert(SPICE_CURSOR_TYPE_COLOR4, 2, 1, c4, sizeof(c4), out), 0);
    CHECK_EQ(out[0], 0xff102030u);
    CHECK_EQ(out[1], 0xff405060u);
    CHECK_EQ(cursor_shape_convert(SPICE_CURSOR_TYPE_COLOR4, 2, 1, c4, sizeof(c4) - 1, out),
             CLOVE_E_INVALID);

    /* COLOR8 2x1 */
    uint8_t c8[2 + 1024 + 1] = {3, 0};
    put_u32le(c8 + 2 + 12, 0x00aabbcc);
    put_u32le(c8 + 2, 0x00010203);
    CHECK_EQ(cursor_shape_convert(SPICE_CURSOR_TYPE_COLOR8, 2, 1, c8, sizeof(c8), out), 0);
    CHECK_EQ(out[0], 0xffaabbccu);
    CHECK_EQ(out[1], 0xff010203u);

    CHECK_EQ(cursor_shape_convert(42, 2, 1, c8, sizeof(c8), out), CLOVE_E_UNSUPPORTED);
}

static void test_api_states(void)
{
    struct clove_session *s = clove_session_create();
    CHECK_EQ(clove_session_key_down(s, 0x1e), CLOVE_E_STATE);
    CHECK_EQ(clove_session_key_down(s, 0x80), CLOVE_E_INVALID);
    CHECK_EQ(clove_session_mouse_motion(s, 1, 1), CLOVE_E_STATE);
    CHECK_EQ(clove_session_mouse_position(s, 1, 1, 0), CLOVE_E_STATE);
    CHECK_EQ(clove_session_mouse_button(s, CLOVE_BUTTON_LEFT, true), CLOVE_E_STATE);
    CHECK_EQ(clove_session_mouse_button(s, 0, true), CLOVE_E_INVALID);
    CHECK_EQ(clove_session_set_locks(s, 8), CLOVE_E_INVALID);
    CHECK_EQ(clove_session_set_locks(s, CLOVE_LOCK_CAPS), CLOVE_E_STATE);
    CHECK_EQ(clove_session_get_mouse_mode(s), 0);
    CHECK_STR_EQ(clove_session_get_name(s), "");
    struct clove_cursor c;
    CHECK_EQ(clove_session_get_cursor(s, &c), CLOVE_E_STATE);
    struct clove_stats st;
    clove_session_get_stats(s, &st);
    CHECK_EQ(st.rx_bytes, 0u);
    CHECK_EQ(st.rtt_us, -1);
    clove_session_destroy(s);
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_key_codes),
            CHECK_CASE(test_flow_motion),
            CHECK_CASE(test_flow_position),
            CHECK_CASE(test_cursor_alpha),
            CHECK_CASE(test_cursor_mono),
            CHECK_CASE(test_cursor_colors),
            CHECK_CASE(test_api_states),
            {0},
    });
}
