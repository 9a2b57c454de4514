/*
 * Parsers for client -> server message bodies (spice-common spice.proto,
 * "client:" sections).
 *
 * DESIGN: one switch per channel kind. Base messages (ids 1..6) are handled
 * the same on every channel; channel messages start at 101 (201 for the port
 * event). Every read goes through a latching byte_reader, so a body that is
 * too short is detected once at the end of each case. Fixed-size bodies may
 * carry trailing bytes (newer peers append fields); variable parts ("data[]
 * @end") take the rest of the body and borrow the input.
 *
 * Wire widths that differ from the obvious (spice.proto types):
 *   mouse_mode, keyboard_modifier_flags, mouse_button_mask: 16 bit
 *   mouse_button, image_compression, video_codec_type: 8 bit
 *   link_err (DISCONNECTING reason), vsc_message_type: 32 bit
 *   audio_data_mode (RECORD_MODE): 16 bit
 *
 * INVARIANT: never reads outside [data, data + len); never writes anywhere
 * but *out and *err_desc.
 */
#include "proto/client_msg.h"

#include <spice/enums.h>

#include "common/bytes.h"
#include "common/error.h"

/* Returns the rest of the body as a borrowed span; never NULL. */
static const uint8_t *read_rest(struct byte_reader *r, uint32_t *size)
{
    size_t n = reader_remaining(r);
    *size = (uint32_t)n;
    return read_bytes(r, n);
}

static int parse_base(uint16_t type, struct byte_reader *r, struct client_msg *out)
{
    switch (type) {
    case SPICE_MSGC_ACK_SYNC:
        out->u.ack_sync.generation = read_u32(r);
        return 0;
    case SPICE_MSGC_ACK:
    case SPICE_MSGC_MIGRATE_FLUSH_MARK:
        return 0;
    case SPICE_MSGC_PONG:
        out->u.pong.id = read_u32(r);
        out->u.pong.timestamp = read_u64(r);
        return 0;
    case SPICE_MSGC_MIGRATE_DATA:
        out->u.migrate_data.data = read_rest(r, &out->u.migrate_data.size);
        return 0;
    case SPICE_MSGC_DISCONNECTING:
        out->u.disconnecting.time_stamp = read_u64(r);
        out->u.disconnecting.reason = read_u32(r);
        return 0;
    default:
        return CLOVE_E_UNSUPPORTED;
    }
}

static int parse_main(uint16_t type, struct byte_reader *r, struct client_msg *out)
{
    switch (type) {
    case SPICE_MSGC_MAIN_CLIENT_INFO:
        out->u.client_info.cache_size = read_u64(r);
        return 0;
    case SPICE_MSGC_MAIN_MIGRATE_CONNECTED:
    case SPICE_MSGC_MAIN_MIGRATE_CONNECT_ERROR:
    case SPICE_MSGC_MAIN_ATTACH_CHANNELS:
    case SPICE_MSGC_MAIN_MIGRATE_END:
    case SPICE_MSGC_MAIN_MIGRATE_CONNECTED_SEAMLESS:
        return 0;
    case SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST:
        out->u.mouse_mode_request.mode = read_u16(r);
        return 0;
    case SPICE_MSGC_MAIN_AGENT_START:
        out->u.agent_start.num_tokens = read_u32(r);
        return 0;
    case SPICE_MSGC_MAIN_AGENT_DATA:
        out->u.agent_data.data = read_rest(r, &out->u.agent_data.size);
        return 0;
    case SPICE_MSGC_MAIN_AGENT_TOKEN:
        out->u.agent_token.num_tokens = read_u32(r);
        return 0;
    case SPICE_MSGC_MAIN_MIGRATE_DST_DO_SEAMLESS:
        out->u.migrate_dst_do_seamless.src_version = read_u32(r);
        return 0;
    case SPICE_MSGC_MAIN_QUALITY_INDICATOR:
        out->u.quality_indicator.data = read_rest(r, &out->u.quality_indicator.size);
        return 0;
    default:
        return CLOVE_E_UNSUPPORTED;
    }
}

static int parse_display(uint16_t type, struct byte_reader *r, struct client_msg *out,
                         const char **err_desc)
{
    switch (type) {
    case SPICE_MSGC_DISPLAY_INIT:
        out->u.display_init.pixmap_cache_id = read_u8(r);
        out->u.display_init.pixmap_cache_size = (int64_t)read_u64(r);
        out->u.display_init.glz_dictionary_id = read_u8(r);
        out->u.display_init.glz_dictionary_window_size = read_i32(r);
        return 0;
    case SPICE_MSGC_DISPLAY_STREAM_REPORT:
        out->u.stream_report.stream_id = read_u32(r);
        out->u.stream_report.unique_id = read_u32(r);
        out->u.stream_report.start_frame_mm_time = read_u32(r);
        out->u.stream_report.end_frame_mm_time = read_u32(r);
        out->u.stream_report.num_frames = read_u32(r);
        out->u.stream_report.num_drops = read_u32(r);
        out->u.stream_report.last_frame_delay = read_i32(r);
        out->u.stream_report.audio_delay = read_u32(r);
        return 0;
    case SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION:
        out->u.preferred_compression.image_compression = read_u8(r);
        return 0;
    case SPICE_MSGC_DISPLAY_GL_DRAW_DONE:
        return 0;
    case SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE: {
        uint8_t num = read_u8(r);
        out->u.preferred_video_codecs.num = num;
        out->u.preferred_video_codecs.codecs = read_bytes(r, num);
        if (!reader_ok(r)) {
            *err_desc = "video codec list shorter than its count";
            return CLOVE_E_INVALID;
        }
        return 0;
    }
    default:
        return CLOVE_E_UNSUPPORTED;
    }
}

static int parse_inputs(uint16_t type, struct byte_reader *r, struct client_msg *out)
{
    switch (type) {
    case SPICE_MSGC_INPUTS_KEY_DOWN:
    case SPICE_MSGC_INPUTS_KEY_UP:
        out->u.key.code = read_u32(r);
        return 0;
    case SPICE_MSGC_INPUTS_KEY_MODIFIERS:
        out->u.key_modifiers.modifiers = read_u16(r);
        return 0;
    case SPICE_MSGC_INPUTS_KEY_SCANCODE:
        out->u.key_scancode.codes = read_rest(r, &out->u.key_scancode.size);
        return 0;
    case SPICE_MSGC_INPUTS_MOUSE_MOTION:
        out->u.mouse_motion.dx = read_i32(r);
        out->u.mouse_motion.dy = read_i32(r);
        out->u.mouse_motion.buttons = read_u16(r);
        return 0;
    case SPICE_MSGC_INPUTS_MOUSE_POSITION:
        out->u.mouse_position.x = read_u32(r);
        out->u.mouse_position.y = read_u32(r);
        out->u.mouse_position.buttons = read_u16(r);
        out->u.mouse_position.display_id = read_u8(r);
        return 0;
    case SPICE_MSGC_INPUTS_MOUSE_PRESS:
    case SPICE_MSGC_INPUTS_MOUSE_RELEASE:
        out->u.mouse_button.button = read_u8(r);
        out->u.mouse_button.buttons = read_u16(r);
        return 0;
    default:
        return CLOVE_E_UNSUPPORTED;
    }
}

static int parse_record(uint16_t type, struct byte_reader *r, struct client_msg *out)
{
    switch (type) {
    case SPICE_MSGC_RECORD_DATA:
        out->u.record_data.time = read_u32(r);
        out->u.record_data.data = read_rest(r, &out->u.record_data.size);
        return 0;
    case SPICE_MSGC_RECORD_MODE:
        out->u.record_mode.time = read_u32(r);
        out->u.record_mode.mode = read_u16(r);
        out->u.record_mode.data = read_rest(r, &out->u.record_mode.size);
        return 0;
    case SPICE_MSGC_RECORD_START_MARK:
        out->u.record_start_mark.time = read_u32(r);
        return 0;
    default:
        return CLOVE_E_UNSUPPORTED;
    }
}

static int parse_smartcard(uint16_t type, struct byte_reader *r, struct client_msg *out,
                           const char **err_desc)
{
    if (type != SPICE_MSGC_SMARTCARD_DATA) {
        return CLOVE_E_UNSUPPORTED;
    }
    out->u.smartcard_data.type = read_u32(r);
    out->u.smartcard_data.reader_id = read_u32(r);
    out->u.smartcard_data.length = read_u32(r);
    if (!reader_ok(r)) {
        return 0; /* reported as truncated by the caller */
    }
    out->u.smartcard_data.data = read_bytes(r, out->u.smartcard_data.length);
    if (!reader_ok(r)) {
        *err_desc = "smartcard data shorter than its length";
        return CLOVE_E_INVALID;
    }
    return 0;
}

/* spice.proto SpicevmcChannel, inherited by usbredir, port and webdav. */
static int parse_spicevmc(uint8_t channel_type, uint16_t type, struct byte_reader *r,
                          struct client_msg *out)
{
    switch (type) {
    case SPICE_MSGC_SPICEVMC_DATA:
        out->u.vmc_data.data = read_rest(r, &out->u.vmc_data.size);
        return 0;
    case SPICE_MSGC_SPICEVMC_COMPRESSED_DATA:
        out->u.vmc_compressed_data.type = read_u8(r);
        out->u.vmc_compressed_data.uncompressed_size = 0;
        /* CompressedData: the size is present for every type but NONE. */
        if (out->u.vmc_compressed_data.type != SPICE_DATA_COMPRESSION_TYPE_NONE) {
            out->u.vmc_compressed_data.uncompressed_size = read_u32(r);
        }
        out->u.vmc_compressed_data.data = read_rest(r, &out->u.vmc_compressed_data.size);
        return 0;
    case SPICE_MSGC_PORT_EVENT:
        if (channel_type == SPICE_CHANNEL_USBREDIR) {
            return CLOVE_E_UNSUPPORTED;
        }
        out->u.port_event.event = read_u8(r);
        return 0;
    default:
        return CLOVE_E_UNSUPPORTED;
    }
}

int client_msg_parse(uint8_t channel_type, uint16_t type, const uint8_t *data, size_t len,
                     struct client_msg *out, const char **err_desc)
{
    static const uint8_t empty[1];
    const char *unused_desc;
    if (!err_desc) {
        err_desc = &unused_desc;
    }
    if (!data) {
        /* Keeps the borrowed pointers in *out non-NULL for empty bodies. */
        data = empty;
        len = 0;
    }
    if (len > UINT32_MAX) {
        *err_desc = "message body too big";
        return CLOVE_E_INVALID;
    }
    out->type = type;

    struct byte_reader r;
    reader_init(&r, data, len);
    int rc;
    if (type <= SPICE_MSG_BASE_LAST) {
        rc = parse_base(type, &r, out);
    } else {
        switch (channel_type) {
        case SPICE_CHANNEL_MAIN:
            rc = parse_main(type, &r, out);
            break;
        case SPICE_CHANNEL_DISPLAY:
            rc = parse_display(type, &r, out, err_desc);
            break;
        case SPICE_CHANNEL_INPUTS:
            rc = parse_inputs(type, &r, out);
            break;
        case SPICE_CHANNEL_RECORD:
            rc = parse_record(type, &r, out);
            break;
        case SPICE_CHANNEL_SMARTCARD:
            rc = parse_smartcard(type, &r, out, err_desc);
            break;
        case SPICE_CHANNEL_USBREDIR:
        case SPICE_CHANNEL_PORT:
        case SPICE_CHANNEL_WEBDAV:
            rc = parse_spicevmc(channel_type, type, &r, out);
            break;
        default:
            /* cursor, playback and tunnel have no client messages of their own */
            rc = CLOVE_E_UNSUPPORTED;
            break;
        }
    }
    if (rc == CLOVE_E_UNSUPPORTED) {
        *err_desc = "message type not known on this channel";
        return rc;
    }
    if (rc < 0) {
        return rc;
    }
    if (!reader_ok(&r)) {
        *err_desc = "message body too short";
        return CLOVE_E_INVALID;
    }
    return 0;
}

/* Names, indexed by type - first id of the range. */
static const char *const base_names[] = {
        "ACK_SYNC", "ACK", "PONG", "MIGRATE_FLUSH_MARK", "MIGRATE_DATA", "DISCONNECTING",
};
static const char *const main_names[] = {
        "main.CLIENT_INFO",
        "main.MIGRATE_CONNECTED",
        "main.MIGRATE_CONNECT_ERROR",
        "main.ATTACH_CHANNELS",
        "main.MOUSE_MODE_REQUEST",
        "main.AGENT_START",
        "main.AGENT_DATA",
        "main.AGENT_TOKEN",
        "main.MIGRATE_END",
        "main.MIGRATE_DST_DO_SEAMLESS",
        "main.MIGRATE_CONNECTED_SEAMLESS",
        "main.QUALITY_INDICATOR",
};
static const char *const display_names[] = {
        "display.INIT",
        "display.STREAM_REPORT",
        "display.PREFERRED_COMPRESSION",
        "display.GL_DRAW_DONE",
        "display.PREFERRED_VIDEO_CODEC_TYPE",
};
static const char *const inputs_key_names[] = {
        "inputs.KEY_DOWN",
        "inputs.KEY_UP",
        "inputs.KEY_MODIFIERS",
        "inputs.KEY_SCANCODE",
};
static const char *const inputs_mouse_names[] = {
        "inputs.MOUSE_MOTION",
        "inputs.MOUSE_POSITION",
        "inputs.MOUSE_PRESS",
        "inputs.MOUSE_RELEASE",
};
static const char *const record_names[] = {
        "record.DATA",
        "record.MODE",
        "record.START_MARK",
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *lookup(const char *const *names, size_t count, unsigned first, uint16_t type)
{
    if (type < first || type - first >= count) {
        return NULL;
    }
    return names[type - first];
}

static const char *vmc_name(uint8_t channel_type, uint16_t type)
{
    static const char *const data[] = {"usbredir.DATA", "port.DATA", "webdav.DATA"};
    static const char *const compressed[] = {"usbredir.COMPRESSED_DATA", "port.COMPRESSED_DATA",
                                             "webdav.COMPRESSED_DATA"};
    static const char *const event[] = {NULL, "port.EVENT", "webdav.EVENT"};
    unsigned i = (unsigned)(channel_type - SPICE_CHANNEL_USBREDIR);
    switch (type) {
    case SPICE_MSGC_SPICEVMC_DATA:
        return data[i];
    case SPICE_MSGC_SPICEVMC_COMPRESSED_DATA:
        return compressed[i];
    case SPICE_MSGC_PORT_EVENT:
        return event[i];
    default:
        return NULL;
    }
}

const char *client_msg_name(uint8_t channel_type, uint16_t type)
{
    if (type <= SPICE_MSG_BASE_LAST) {
        return lookup(base_names, ARRAY_LEN(base_names), SPICE_MSGC_ACK_SYNC, type);
    }
    switch (channel_type) {
    case SPICE_CHANNEL_MAIN:
        return lookup(main_names, ARRAY_LEN(main_names), SPICE_MSGC_MAIN_CLIENT_INFO, type);
    case SPICE_CHANNEL_DISPLAY:
        return lookup(display_names, ARRAY_LEN(display_names), SPICE_MSGC_DISPLAY_INIT, type);
    case SPICE_CHANNEL_INPUTS:
        if (type >= SPICE_MSGC_INPUTS_MOUSE_MOTION) {
            return lookup(inputs_mouse_names, ARRAY_LEN(inputs_mouse_names),
                          SPICE_MSGC_INPUTS_MOUSE_MOTION, type);
        }
        return lookup(inputs_key_names, ARRAY_LEN(inputs_key_names), SPICE_MSGC_INPUTS_KEY_DOWN,
                      type);
    case SPICE_CHANNEL_RECORD:
        return lookup(record_names, ARRAY_LEN(record_names), SPICE_MSGC_RECORD_DATA, type);
    case SPICE_CHANNEL_SMARTCARD:
        return type == SPICE_MSGC_SMARTCARD_DATA ? "smartcard.DATA" : NULL;
    case SPICE_CHANNEL_USBREDIR:
    case SPICE_CHANNEL_PORT:
    case SPICE_CHANNEL_WEBDAV:
        return vmc_name(channel_type, type);
    default:
        return NULL;
    }
}
