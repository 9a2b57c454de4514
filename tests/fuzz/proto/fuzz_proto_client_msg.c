/*
 * libFuzzer target for client message bodies (src/proto/client_msg.c) and
 * the data headers (src/proto/header.c).
 *
 * Input: byte 0 selects the channel type (folded into 1..11), bytes 1-2 the
 * message type (LE), the rest is the body. The body is also parsed as a full
 * and as a mini data header, and the headers written back must match.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>

#include "common/error.h"
#include "proto/client_msg.h"
#include "proto/header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) \
    do {                  \
        if (!(cond)) {    \
            abort();      \
        }                 \
    } while (0)

static volatile uint8_t sink;

/* Reads every byte of a borrowed span so ASan checks its bounds. */
static void touch(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc ^= p[i];
    }
    sink = acc;
}

/* Touches the borrowed spans of the message kinds that have one. */
static void check_spans(uint8_t channel, const struct client_msg *m)
{
    if (m->type <= SPICE_MSG_BASE_LAST) {
        /* Base messages: the union holds a base member, whatever the channel. */
        if (m->type == SPICE_MSGC_MIGRATE_DATA) {
            touch(m->u.migrate_data.data, m->u.migrate_data.size);
        }
        return;
    }
    switch (channel) {
    case SPICE_CHANNEL_MAIN:
        if (m->type == SPICE_MSGC_MAIN_AGENT_DATA) {
            touch(m->u.agent_data.data, m->u.agent_data.size);
        }
        break;
    case SPICE_CHANNEL_DISPLAY:
        if (m->type == SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE) {
            touch(m->u.preferred_video_codecs.codecs, m->u.preferred_video_codecs.num);
        }
        break;
    case SPICE_CHANNEL_INPUTS:
        if (m->type == SPICE_MSGC_INPUTS_KEY_SCANCODE) {
            touch(m->u.key_scancode.codes, m->u.key_scancode.size);
        }
        break;
    case SPICE_CHANNEL_RECORD:
        if (m->type == SPICE_MSGC_RECORD_DATA) {
            touch(m->u.record_data.data, m->u.record_data.size);
        } else if (m->type == SPICE_MSGC_RECORD_MODE) {
            touch(m->u.record_mode.data, m->u.record_mode.size);
        }
        break;
    case SPICE_CHANNEL_SMARTCARD:
        if (m->type == SPICE_MSGC_SMARTCARD_DATA) {
            touch(m->u.smartcard_data.data, m->u.smartcard_data.length);
        }
        break;
    case SPICE_CHANNEL_USBREDIR:
    case SPICE_CHANNEL_PORT:
    case SPICE_CHANNEL_WEBDAV:
        if (m->type == SPICE_MSGC_SPICEVMC_DATA) {
            touch(m->u.vmc_data.data, m->u.vmc_data.size);
        } else if (m->type == SPICE_MSGC_SPICEVMC_COMPRESSED_DATA) {
            touch(m->u.vmc_compressed_data.data, m->u.vmc_compressed_data.size);
        }
        break;
    default:
        break;
    }
}

static void check_header(const uint8_t *data, size_t size, bool mini)
{
    struct msg_header h;
    int rc = msg_header_parse(data, size, mini, &h);
    if (rc < 0) {
        FUZZ_ASSERT(rc == CLOVE_E_INCOMPLETE && size < msg_header_size(mini));
        return;
    }
    FUZZ_ASSERT((size_t)rc == msg_header_size(mini));
    uint8_t out[MSG_HEADER_FULL_SIZE];
    msg_header_write_at(out, mini, h.serial, h.type, h.size);
    if (mini || h.sub_list == 0) {
        FUZZ_ASSERT(memcmp(out, data, (size_t)rc) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) {
        return 0;
    }
    /* 1..11 map to themselves; other values fold into the range. */
    uint8_t channel = (uint8_t)((data[0] + 10) % 11 + 1);
    uint16_t type = (uint16_t)(data[1] | (data[2] << 8));
    const uint8_t *body = data + 3;
    size_t len = size - 3;

    /* A copy of exactly `len` bytes, so ASan catches any read past the end. */
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        return 0;
    }
    memcpy(copy, body, len);

    struct client_msg m;
    const char *err = NULL;
    int rc = client_msg_parse(channel, type, copy, len, &m, &err);
    FUZZ_ASSERT(rc == 0 || rc == CLOVE_E_INVALID || rc == CLOVE_E_UNSUPPORTED);
    if (rc == 0) {
        FUZZ_ASSERT(m.type == type);
        FUZZ_ASSERT(client_msg_name(channel, type) != NULL);
        check_spans(channel, &m);
    } else {
        FUZZ_ASSERT(err != NULL);
    }

    check_header(copy, len, false);
    check_header(copy, len, true);
    free(copy);
    return 0;
}
