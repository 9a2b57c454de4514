/*
 * Tests for src/proto/client_msg.c: a hand-built body for every client
 * message (layouts from spice.proto), every truncation of the fixed-size
 * ones, counts that overrun the body, unknown types and names.
 */
#include <spice/enums.h>
#include <spice/protocol.h>

#include "check.h"
#include "common/bytes.h"
#include "common/error.h"
#include "proto/client_msg.h"

static int parse(uint8_t channel, uint16_t type, const uint8_t *d, size_t n, struct client_msg *m)
{
    const char *err = NULL;
    memset(m, 0xa5, sizeof(*m));
    int rc = client_msg_parse(channel, type, d, n, m, &err);
    if (rc != 0 && !err) {
        return 12345; /* an error without a description fails the CHECK_EQ */
    }
    return rc;
}

/* Every strict prefix of a fixed-size body is refused as INVALID. */
static int all_prefixes_invalid(uint8_t channel, uint16_t type, const uint8_t *d, size_t n)
{
    struct client_msg m;
    for (size_t i = 0; i < n; i++) {
        if (parse(channel, type, d, i, &m) != CLOVE_E_INVALID) {
            printf("# prefix %zu of %u:%u accepted\n", i, channel, type);
            return 0;
        }
    }
    return 1;
}

static void test_base(void)
{
    struct client_msg m;
    const uint8_t ack_sync[] = {0x78, 0x56, 0x34, 0x12};
    for (uint8_t ch = 1; ch <= 11; ch++) {
        CHECK_EQ(parse(ch, SPICE_MSGC_ACK_SYNC, ack_sync, 4, &m), 0);
        CHECK_EQ(m.type, SPICE_MSGC_ACK_SYNC);
        CHECK_EQ(m.u.ack_sync.generation, 0x12345678);
        CHECK_EQ(parse(ch, SPICE_MSGC_ACK, NULL, 0, &m), 0);
    }
    CHECK(all_prefixes_invalid(SPICE_CHANNEL_DISPLAY, SPICE_MSGC_ACK_SYNC, ack_sync, 4));

    const uint8_t pong[] = {1, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1};
    CHECK_EQ(parse(SPICE_CHANNEL_MAIN, SPICE_MSGC_PONG, pong, sizeof(pong), &m), 0);
    CHECK_EQ(m.u.pong.id, 1);
    CHECK_EQ(m.u.pong.timestamp, 0x0102030405060708ull);
    CHECK(all_prefixes_invalid(SPICE_CHANNEL_MAIN, SPICE_MSGC_PONG, pong, sizeof(pong)));

    const uint8_t disc[] = {1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0};
    CHECK_EQ(parse(SPICE_CHANNEL_CURSOR, SPICE_MSGC_DISCONNECTING, disc, 12, &m), 0);
    CHECK_EQ(m.u.disconnecting.time_stamp, 1);
    CHECK_EQ(m.u.disconnecting.reason, SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE);
    CHECK(all_prefixes_invalid(SPICE_CHANNEL_CURSOR, SPICE_MSGC_DISCONNECTING, disc, 12));

    const uint8_t mig[] = {1, 2, 3};
    CHECK_EQ(parse(SPICE_CHANNEL_DISPLAY, SPICE_MSGC_MIGRATE_DATA, mig, 3, &m), 0);
    CHECK(m.u.migrate_data.data == mig);
    CHECK_EQ(m.u.migrate_data.size, 3);
    CHECK_EQ(parse(SPICE_CHANNEL_DISPLAY, SPICE_MSGC_MIGRATE_FLUSH_MARK, NULL, 0, &m), 0);
    CHECK_EQ(parse(SPICE_CHANNEL_DISPLAY, 7, NULL, 0, &m), CLOVE_E_UNSUPPORTED);
    CHECK_EQ(parse(SPICE_CHANNEL_DISPLAY, 0, NULL, 0, &m), CLOVE_E_UNSUPPORTED);
}

static void test_main(void)
{
    struct client_msg m;
    const uint8_t info[] = {0, 0, 0x40, 0, 0, 0, 0, 0};
    CHECK_EQ(parse(1, SPICE_MSGC_MAIN_CLIENT_INFO, info, 8, &m), 0);
    CHECK_EQ(m.u.client_info.cache_size, 0x400000);
    CHECK(all_prefixes_invalid(1, SPICE_MSGC_MAIN_CLIENT_INFO, info, 8));

    const uint8_t mode[] = {2, 0};
    CHECK_EQ(parse(1, SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST, mode, 2, &m), 0);
    CHECK_EQ(m.u.mouse_mode_request.mode, SPICE_MOUSE_MODE_CLIENT);
    CHECK(all_prefixes_invalid(1, SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST, mode, 2));

    const uint8_t tokens[] = {10, 0, 0, 0};
    CHECK_EQ(parse(1, SPICE_MSGC_MAIN_AGENT_START, tokens, 4, &m), 0);
    CHECK_EQ(m.u.agent_start.num_tokens, 10);
    CHECK(all_prefixes_invalid(1, SPICE_MSGC_MAIN_AGENT_START, tokens, 4));
    CHECK_EQ(parse(1, SPICE_MSGC_MAIN_AGENT_TOKEN, tokens, 4, &m), 0);
    CHECK_EQ(m.u.agent_token.num_tokens, 10);
    CHECK(all_prefixes_invalid(1, SPICE_MSGC_MAIN_AGENT_TOKEN, tokens, 4));
    CHECK_EQ(parse(1, SPICE_MSGC_MAIN_MIGRATE_DST_DO_SEAMLESS, tokens, 4, &m), 0);
    CHECK_EQ(m.u.migrate_dst_do_seamless.src_version, 10);

    const uint8_t agent[] = {1, 0, 0, 0, 5, 0, 0, 0};
    CHECK_EQ(parse(1, SPICE_MSGC_MAIN_AGENT_DATA, agent, 8, &m), 0);
    CHECK(m.u.agent_data.data == agent);
    CHECK_EQ(m.u.agent_data.size, 8);
    CHECK_EQ(parse(1, SPICE_MSGC_MAIN_AGENT_DATA, agent, 0, &m), 0);
    CHECK_EQ(m.u.agent_data.size, 0);
    CHECK(m.u.agent_data.data != NULL);

    CHECK_EQ(parse(1, SPICE_MSGC_MAIN_ATTACH_CHANNELS, NULL, 0, &m), 0);
    CHECK_EQ(m.type, SPICE_MSGC_MAIN_ATTACH_CHANNELS);
    CHECK_EQ(parse(1, SPICE_MSGC_MAIN_MIGRATE_CONNECTED, NULL, 0, &m), 0);
    CHECK_EQ(parse(1, SPICE_MSGC_MAIN_MIGRATE_END, NULL, 0, &m), 0);
    CHECK_EQ(parse(1, SPICE_MSGC_MAIN_QUALITY_INDICATOR, agent, 3, &m), 0);
    CHECK_EQ(m.u.quality_indicator.size, 3);
    CHECK_EQ(parse(1, SPICE_MSGC_END_MAIN, NULL, 0, &m), CLOVE_E_UNSUPPORTED);
    /* A main message id means nothing on the inputs channel (101 = KEY_DOWN
     * there, so use one that inputs lacks). */
    CHECK_EQ(parse(SPICE_CHANNEL_INPUTS, SPICE_MSGC_MAIN_AGENT_START, tokens, 4, &m),
             CLOVE_E_UNSUPPORTED);
}

static void test_display(void)
{
    struct client_msg m;
    /* u8 1, i64 20971520 (80 MiB / 4), u8 0, i32 4194304 */
    const uint8_t init[] = {1, 0, 0, 0x40, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x40, 0};
    CHECK_EQ(parse(2, SPICE_MSGC_DISPLAY_INIT, init, sizeof(init), &m), 0);
    CHECK_EQ(m.u.display_init.pixmap_cache_id, 1);
    CHECK_EQ(m.u.display_init.pixmap_cache_size, 20971520);
    CHECK_EQ(m.u.display_init.glz_dictionary_id, 0);
    CHECK_EQ(m.u.display_init.glz_dictionary_window_size, 4194304);
    CHECK(all_prefixes_invalid(2, SPICE_MSGC_DISPLAY_INIT, init, sizeof(init)));
    /* Negative sizes come through as signed. */
    const uint8_t neg[] = {1,    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                           0xff, 0xff, 2,    0xfe, 0xff, 0xff, 0xff};
    CHECK_EQ(parse(2, SPICE_MSGC_DISPLAY_INIT, neg, sizeof(neg), &m), 0);
    CHECK_EQ(m.u.display_init.pixmap_cache_size, -1);
    CHECK_EQ(m.u.display_init.glz_dictionary_window_size, -2);

    uint8_t report[32];
    for (int i = 0; i < 8; i++) {
        put_u32le(report + 4 * i, (uint32_t)(i + 1));
    }
    put_u32le(report + 24, (uint32_t)-5);
    CHECK_EQ(parse(2, SPICE_MSGC_DISPLAY_STREAM_REPORT, report, 32, &m), 0);
    CHECK_EQ(m.u.stream_report.stream_id, 1);
    CHECK_EQ(m.u.stream_report.unique_id, 2);
    CHECK_EQ(m.u.stream_report.start_frame_mm_time, 3);
    CHECK_EQ(m.u.stream_report.end_frame_mm_time, 4);
    CHECK_EQ(m.u.stream_report.num_frames, 5);
    CHECK_EQ(m.u.stream_report.num_drops, 6);
    CHECK_EQ(m.u.stream_report.last_frame_delay, -5);
    CHECK_EQ(m.u.stream_report.audio_delay, 8);
    CHECK(all_prefixes_invalid(2, SPICE_MSGC_DISPLAY_STREAM_REPORT, report, 32));

    const uint8_t comp[] = {SPICE_IMAGE_COMPRESSION_LZ4};
    CHECK_EQ(parse(2, SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION, comp, 1, &m), 0);
    CHECK_EQ(m.u.preferred_compression.image_compression, SPICE_IMAGE_COMPRESSION_LZ4);
    CHECK(all_prefixes_invalid(2, SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION, comp, 1));

    const uint8_t codecs[] = {3, SPICE_VIDEO_CODEC_TYPE_VP8, SPICE_VIDEO_CODEC_TYPE_MJPEG,
                              SPICE_VIDEO_CODEC_TYPE_H264};
    CHECK_EQ(parse(2, SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE, codecs, 4, &m), 0);
    CHECK_EQ(m.u.preferred_video_codecs.num, 3);
    CHECK(m.u.preferred_video_codecs.codecs == codecs + 1);
    CHECK(all_prefixes_invalid(2, SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE, codecs, 4));
    const uint8_t no_codecs[] = {0};
    CHECK_EQ(parse(2, SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE, no_codecs, 1, &m), 0);
    CHECK_EQ(m.u.preferred_video_codecs.num, 0);
    const uint8_t overrun[] = {255, 1, 2};
    CHECK_EQ(parse(2, SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE, overrun, 3, &m),
             CLOVE_E_INVALID);

    CHECK_EQ(parse(2, SPICE_MSGC_DISPLAY_GL_DRAW_DONE, NULL, 0, &m), 0);
    CHECK_EQ(parse(2, SPICE_MSGC_END_DISPLAY, NULL, 0, &m), CLOVE_E_UNSUPPORTED);
}

static void test_inputs(void)
{
    struct client_msg m;
    const uint8_t key[] = {0x1e, 0xe0, 0, 0};
    CHECK_EQ(parse(3, SPICE_MSGC_INPUTS_KEY_DOWN, key, 4, &m), 0);
    CHECK_EQ(m.u.key.code, 0xe01e);
    CHECK(all_prefixes_invalid(3, SPICE_MSGC_INPUTS_KEY_DOWN, key, 4));
    CHECK_EQ(parse(3, SPICE_MSGC_INPUTS_KEY_UP, key, 4, &m), 0);
    CHECK_EQ(m.u.key.code, 0xe01e);
    CHECK(all_prefixes_invalid(3, SPICE_MSGC_INPUTS_KEY_UP, key, 4));

    const uint8_t mods[] = {SPICE_KEYBOARD_MODIFIER_FLAGS_CAPS_LOCK, 0};
    CHECK_EQ(parse(3, SPICE_MSGC_INPUTS_KEY_MODIFIERS, mods, 2, &m), 0);
    CHECK_EQ(m.u.key_modifiers.modifiers, SPICE_KEYBOARD_MODIFIER_FLAGS_CAPS_LOCK);
    CHECK(all_prefixes_invalid(3, SPICE_MSGC_INPUTS_KEY_MODIFIERS, mods, 2));

    const uint8_t scan[] = {0x1e, 0x9e};
    CHECK_EQ(parse(3, SPICE_MSGC_INPUTS_KEY_SCANCODE, scan, 2, &m), 0);
    CHECK(m.u.key_scancode.codes == scan);
    CHECK_EQ(m.u.key_scancode.size, 2);

    /* dx -3, dy 4, buttons LEFT|RIGHT */
    const uint8_t motion[] = {0xfd, 0xff, 0xff, 0xff, 4, 0, 0, 0, 5, 0};
    CHECK_EQ(parse(3, SPICE_MSGC_INPUTS_MOUSE_MOTION, motion, 10, &m), 0);
    CHECK_EQ(m.u.mouse_motion.dx, -3);
    CHECK_EQ(m.u.mouse_motion.dy, 4);
    CHECK_EQ(m.u.mouse_motion.buttons, 5);
    CHECK(all_prefixes_invalid(3, SPICE_MSGC_INPUTS_MOUSE_MOTION, motion, 10));

    const uint8_t pos[] = {0x00, 0x04, 0, 0, 0x00, 0x03, 0, 0, 2, 0, 1};
    CHECK_EQ(parse(3, SPICE_MSGC_INPUTS_MOUSE_POSITION, pos, 11, &m), 0);
    CHECK_EQ(m.u.mouse_position.x, 1024);
    CHECK_EQ(m.u.mouse_position.y, 768);
    CHECK_EQ(m.u.mouse_position.buttons, 2);
    CHECK_EQ(m.u.mouse_position.display_id, 1);
    CHECK(all_prefixes_invalid(3, SPICE_MSGC_INPUTS_MOUSE_POSITION, pos, 11));

    const uint8_t press[] = {SPICE_MOUSE_BUTTON_LEFT, 1, 0};
    CHECK_EQ(parse(3, SPICE_MSGC_INPUTS_MOUSE_PRESS, press, 3, &m), 0);
    CHECK_EQ(m.u.mouse_button.button, SPICE_MOUSE_BUTTON_LEFT);
    CHECK_EQ(m.u.mouse_button.buttons, 1);
    CHECK(all_prefixes_invalid(3, SPICE_MSGC_INPUTS_MOUSE_PRESS, press, 3));
    CHECK_EQ(parse(3, SPICE_MSGC_INPUTS_MOUSE_RELEASE, press, 3, &m), 0);
    CHECK(all_prefixes_invalid(3, SPICE_MSGC_INPUTS_MOUSE_RELEASE, press, 3));

    /* Trailing bytes are allowed. */
    const uint8_t longer[] = {1, 1, 0, 9, 9, 9};
    CHECK_EQ(parse(3, SPICE_MSGC_INPUTS_MOUSE_RELEASE, longer, 6, &m), 0);
    CHECK_EQ(m.u.mouse_button.buttons, 1);

    CHECK_EQ(parse(3, 105, NULL, 0, &m), CLOVE_E_UNSUPPORTED);
    CHECK_EQ(parse(3, 115, NULL, 0, &m), CLOVE_E_UNSUPPORTED);
}

static void test_other_channels(void)
{
    struct client_msg m;
    const uint8_t rec[] = {1, 0, 0, 0, 0xaa, 0xbb};
    CHECK_EQ(parse(SPICE_CHANNEL_RECORD, SPICE_MSGC_RECORD_DATA, rec, 6, &m), 0);
    CHECK_EQ(m.u.record_data.time, 1);
    CHECK_EQ(m.u.record_data.size, 2);
    CHECK(m.u.record_data.data == rec + 4);
    CHECK(all_prefixes_invalid(SPICE_CHANNEL_RECORD, SPICE_MSGC_RECORD_DATA, rec, 4));
    const uint8_t recmode[] = {2, 0, 0, 0, SPICE_AUDIO_DATA_MODE_OPUS, 0};
    CHECK_EQ(parse(SPICE_CHANNEL_RECORD, SPICE_MSGC_RECORD_MODE, recmode, 6, &m), 0);
    CHECK_EQ(m.u.record_mode.time, 2);
    CHECK_EQ(m.u.record_mode.mode, SPICE_AUDIO_DATA_MODE_OPUS);
    CHECK_EQ(m.u.record_mode.size, 0);
    CHECK(all_prefixes_invalid(SPICE_CHANNEL_RECORD, SPICE_MSGC_RECORD_MODE, recmode, 6));
    CHECK_EQ(parse(SPICE_CHANNEL_RECORD, SPICE_MSGC_RECORD_START_MARK, rec, 4, &m), 0);
    CHECK_EQ(m.u.record_start_mark.time, 1);

    const uint8_t sc[] = {7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0x11, 0x22};
    CHECK_EQ(parse(SPICE_CHANNEL_SMARTCARD, SPICE_MSGC_SMARTCARD_DATA, sc, 14, &m), 0);
    CHECK_EQ(m.u.smartcard_data.type, 7);
    CHECK_EQ(m.u.smartcard_data.reader_id, 1);
    CHECK_EQ(m.u.smartcard_data.length, 2);
    CHECK(m.u.smartcard_data.data == sc + 12);
    CHECK(all_prefixes_invalid(SPICE_CHANNEL_SMARTCARD, SPICE_MSGC_SMARTCARD_DATA, sc, 14));

    const uint8_t vmc[] = {SPICE_DATA_COMPRESSION_TYPE_LZ4, 0, 1, 0, 0, 0x55};
    for (uint8_t ch = SPICE_CHANNEL_USBREDIR; ch <= SPICE_CHANNEL_WEBDAV; ch++) {
        CHECK_EQ(parse(ch, SPICE_MSGC_SPICEVMC_DATA, vmc, 6, &m), 0);
        CHECK_EQ(m.u.vmc_data.size, 6);
        CHECK_EQ(parse(ch, SPICE_MSGC_SPICEVMC_COMPRESSED_DATA, vmc, 6, &m), 0);
        CHECK_EQ(m.u.vmc_compressed_data.type, SPICE_DATA_COMPRESSION_TYPE_LZ4);
        CHECK_EQ(m.u.vmc_compressed_data.uncompressed_size, 256);
        CHECK_EQ(m.u.vmc_compressed_data.size, 1);
        CHECK(m.u.vmc_compressed_data.data == vmc + 5);
        CHECK(all_prefixes_invalid(ch, SPICE_MSGC_SPICEVMC_COMPRESSED_DATA, vmc, 5));
    }
    const uint8_t vmc_none[] = {SPICE_DATA_COMPRESSION_TYPE_NONE, 0x55};
    CHECK_EQ(parse(SPICE_CHANNEL_USBREDIR, SPICE_MSGC_SPICEVMC_COMPRESSED_DATA, vmc_none, 2, &m),
             0);
    CHECK_EQ(m.u.vmc_compressed_data.uncompressed_size, 0);
    CHECK_EQ(m.u.vmc_compressed_data.size, 1);

    const uint8_t ev[] = {SPICE_PORT_EVENT_CLOSED};
    CHECK_EQ(parse(SPICE_CHANNEL_PORT, SPICE_MSGC_PORT_EVENT, ev, 1, &m), 0);
    CHECK_EQ(m.u.port_event.event, SPICE_PORT_EVENT_CLOSED);
    CHECK(all_prefixes_invalid(SPICE_CHANNEL_PORT, SPICE_MSGC_PORT_EVENT, ev, 1));
    CHECK_EQ(parse(SPICE_CHANNEL_WEBDAV, SPICE_MSGC_PORT_EVENT, ev, 1, &m), 0);
    CHECK_EQ(parse(SPICE_CHANNEL_USBREDIR, SPICE_MSGC_PORT_EVENT, ev, 1, &m), CLOVE_E_UNSUPPORTED);

    for (uint8_t ch = 0; ch < 20; ch++) {
        if (ch == SPICE_CHANNEL_CURSOR || ch == SPICE_CHANNEL_PLAYBACK ||
            ch == SPICE_CHANNEL_TUNNEL || ch == 0 || ch > SPICE_CHANNEL_WEBDAV) {
            CHECK_EQ(parse(ch, 101, ev, 1, &m), CLOVE_E_UNSUPPORTED);
        }
    }
}

static void test_null_err_desc(void)
{
    struct client_msg m;
    CHECK_EQ(client_msg_parse(3, SPICE_MSGC_INPUTS_KEY_DOWN, NULL, 0, &m, NULL), CLOVE_E_INVALID);
    CHECK_EQ(client_msg_parse(3, 999, NULL, 0, &m, NULL), CLOVE_E_UNSUPPORTED);
}

static void test_names(void)
{
    CHECK_STR_EQ(client_msg_name(SPICE_CHANNEL_INPUTS, SPICE_MSGC_INPUTS_KEY_DOWN),
                 "inputs.KEY_DOWN");
    CHECK_STR_EQ(client_msg_name(SPICE_CHANNEL_INPUTS, SPICE_MSGC_INPUTS_MOUSE_RELEASE),
                 "inputs.MOUSE_RELEASE");
    CHECK_STR_EQ(client_msg_name(SPICE_CHANNEL_MAIN, SPICE_MSGC_MAIN_ATTACH_CHANNELS),
                 "main.ATTACH_CHANNELS");
    CHECK_STR_EQ(
            client_msg_name(SPICE_CHANNEL_DISPLAY, SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE),
            "display.PREFERRED_VIDEO_CODEC_TYPE");
    CHECK_STR_EQ(client_msg_name(SPICE_CHANNEL_CURSOR, SPICE_MSGC_ACK), "ACK");
    CHECK_STR_EQ(client_msg_name(SPICE_CHANNEL_WEBDAV, SPICE_MSGC_PORT_EVENT), "webdav.EVENT");
    CHECK(client_msg_name(SPICE_CHANNEL_USBREDIR, SPICE_MSGC_PORT_EVENT) == NULL);
    CHECK(client_msg_name(SPICE_CHANNEL_INPUTS, 105) == NULL);
    CHECK(client_msg_name(SPICE_CHANNEL_INPUTS, 100) == NULL);
    CHECK(client_msg_name(SPICE_CHANNEL_CURSOR, 101) == NULL);
    CHECK(client_msg_name(SPICE_CHANNEL_MAIN, 0) == NULL);
    CHECK(client_msg_name(200, 101) == NULL);
    /* Every parsable id has a name. */
    for (uint8_t ch = 1; ch <= 11; ch++) {
        for (unsigned t = 0; t < 400; t++) {
            struct client_msg m;
            uint8_t body[64] = {0};
            int rc = client_msg_parse(ch, (uint16_t)t, body, sizeof(body), &m, NULL);
            if (rc != CLOVE_E_UNSUPPORTED && !client_msg_name(ch, (uint16_t)t)) {
                CHECK_FAIL_("no name for %u:%u", ch, t);
                return;
            }
        }
    }
}

int main(void)
{
    return check_run((struct check_case[]){
            CHECK_CASE(test_base),
            CHECK_CASE(test_main),
            CHECK_CASE(test_display),
            CHECK_CASE(test_inputs),
            CHECK_CASE(test_other_channels),
            CHECK_CASE(test_null_err_desc),
            CHECK_CASE(test_names),
            {0},
    });
}
