/*
 * Writes the seed corpora of fuzz_server_link and fuzz_server_channel:
 *
 *   ninja gen-server-corpus && ./gen-server-corpus tests/fuzz/corpus
 *
 * Link seeds are whole client link exchanges (valid ones carry a ticket
 * encrypted under the targets' fixed key, so they reach the password check
 * and the main channel); channel seeds are a selector byte, a flags byte and
 * a burst of framed client messages for that channel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <spice/protocol.h>

#include "common/bytes.h"
#include "proto/header.h"
#include "proto/link.h"

extern const char fuzz_ticket_key_pem[];

static EVP_PKEY *key;
static const char *out_dir;

static void save(const char *target, const char *name, const struct byte_buf *b)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->data, 1, b->len, f) != b->len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

static void ticket(struct byte_buf *b, const char *password)
{
    uint8_t out[LINK_TICKET_SIZE] = {0};
    size_t out_len = sizeof(out);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    if (!ctx || EVP_PKEY_encrypt_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_encrypt(ctx, out, &out_len, (const uint8_t *)password, strlen(password) + 1) <=
                0) {
        fprintf(stderr, "encryption failed\n");
        exit(1);
    }
    EVP_PKEY_CTX_free(ctx);
    buf_put(b, out, sizeof(out));
}

enum { MINI = 1, AUTH_SEL = 2 };

static void link_mess(struct byte_buf *b, uint32_t id, uint8_t type, int flags)
{
    uint32_t common = 1u << SPICE_COMMON_CAP_AUTH_SPICE;
    if (flags & AUTH_SEL) {
        common |= 1u << SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION;
    }
    if (flags & MINI) {
        common |= 1u << SPICE_COMMON_CAP_MINI_HEADER;
    }
    uint32_t channel = type == SPICE_CHANNEL_MAIN ? 1u << SPICE_MAIN_CAP_NAME_AND_UUID : 0;
    link_mess_write(b, id, type, 0, &common, 1, &channel, 1);
}

static uint64_t serial;

static void msg(struct byte_buf *b, bool mini, uint16_t type, const void *body, uint32_t size)
{
    msg_header_write(b, mini, ++serial, type, size);
    if (size) {
        buf_put(b, body, size);
    }
}

static void main_msgs(struct byte_buf *b, bool mini)
{
    uint8_t body[32] = {0};
    msg(b, mini, SPICE_MSGC_MAIN_ATTACH_CHANNELS, NULL, 0);
    put_u32le(body, 1234);
    msg(b, mini, SPICE_MSGC_MAIN_CLIENT_INFO, body, 8);
    put_u16le(body, SPICE_MOUSE_MODE_CLIENT);
    msg(b, mini, SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST, body, 2);
    put_u16le(body, SPICE_MOUSE_MODE_SERVER);
    msg(b, mini, SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST, body, 2);
    put_u32le(body, 10);
    msg(b, mini, SPICE_MSGC_MAIN_AGENT_START, body, 4);
    msg(b, mini, SPICE_MSGC_MAIN_AGENT_DATA, "hello agent", 11);
    msg(b, mini, SPICE_MSGC_MAIN_AGENT_TOKEN, body, 4);
    memset(body, 0, sizeof(body));
    put_u32le(body, 1);
    put_u32le(body + 4, 1000);
    msg(b, mini, SPICE_MSGC_PONG, body, 12);
    msg(b, mini, SPICE_MSGC_ACK_SYNC, body, 4);
    msg(b, mini, SPICE_MSGC_ACK, NULL, 0);
    msg(b, mini, SPICE_MSGC_MAIN_MIGRATE_END, NULL, 0);
    msg(b, mini, SPICE_MSGC_DISCONNECTING, body, 12);
    msg(b, mini, 321, body, 5);
}

static void inputs_msgs(struct byte_buf *b, bool mini)
{
    uint8_t body[16] = {0};
    put_u32le(body, 0x1de0);
    msg(b, mini, SPICE_MSGC_INPUTS_KEY_DOWN, body, 4);
    put_u32le(body, 0x9de0);
    msg(b, mini, SPICE_MSGC_INPUTS_KEY_UP, body, 4);
    msg(b, mini, SPICE_MSGC_INPUTS_KEY_SCANCODE, "\x2a\xaa\x1c\x9c", 4);
    put_u16le(body, SPICE_KEYBOARD_MODIFIER_FLAGS_CAPS_LOCK);
    msg(b, mini, SPICE_MSGC_INPUTS_KEY_MODIFIERS, body, 2);
    for (int i = 0; i < 4; i++) {
        put_u32le(body, (uint32_t)(i - 2));
        put_u32le(body + 4, 3);
        put_u16le(body + 8, SPICE_MOUSE_BUTTON_MASK_LEFT);
        msg(b, mini, SPICE_MSGC_INPUTS_MOUSE_MOTION, body, 10);
    }
    put_u32le(body, 30);
    put_u32le(body + 4, 40);
    msg(b, mini, SPICE_MSGC_INPUTS_MOUSE_POSITION, body, 11);
    body[0] = SPICE_MOUSE_BUTTON_UP;
    put_u16le(body + 1, 0);
    msg(b, mini, SPICE_MSGC_INPUTS_MOUSE_PRESS, body, 3);
    body[0] = SPICE_MOUSE_BUTTON_LEFT;
    put_u16le(body + 1, SPICE_MOUSE_BUTTON_MASK_LEFT);
    msg(b, mini, SPICE_MSGC_INPUTS_MOUSE_PRESS, body, 3);
    msg(b, mini, SPICE_MSGC_INPUTS_MOUSE_RELEASE, body, 3);
}

static void display_msgs(struct byte_buf *b, bool mini)
{
    uint8_t body[40] = {0};
    body[0] = 1;
    put_u32le(body + 1, 1 << 20);
    body[9] = 1;
    put_u32le(body + 10, 1 << 16);
    msg(b, mini, SPICE_MSGC_DISPLAY_INIT, body, 14);
    memset(body, 0, sizeof(body));
    body[0] = SPICE_IMAGE_COMPRESSION_LZ;
    msg(b, mini, SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION, body, 1);
    msg(b, mini, SPICE_MSGC_DISPLAY_STREAM_REPORT, body, 32);
    body[0] = 2;
    body[1] = 1;
    body[2] = 2;
    msg(b, mini, SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE, body, 3);
    put_u32le(body, 1);
    msg(b, mini, SPICE_MSGC_ACK_SYNC, body, 4);
    msg(b, mini, SPICE_MSGC_ACK, NULL, 0);
    msg(b, mini, SPICE_MSGC_DISPLAY_GL_DRAW_DONE, NULL, 0);
}

static void cursor_msgs(struct byte_buf *b, bool mini)
{
    uint8_t body[12] = {0};
    put_u32le(body, 1);
    msg(b, mini, SPICE_MSGC_ACK_SYNC, body, 4);
    msg(b, mini, SPICE_MSGC_ACK, NULL, 0);
    msg(b, mini, 101, body, 4);
    msg(b, mini, SPICE_MSGC_PONG, body, 12);
}

static void link_seeds(void)
{
    struct byte_buf b;
    buf_init(&b);
    static const char *t = "fuzz_server_link";

    link_mess(&b, 0, SPICE_CHANNEL_MAIN, MINI | AUTH_SEL);
    link_u32_write(&b, SPICE_COMMON_CAP_AUTH_SPICE);
    ticket(&b, "fuzz");
    serial = 0;
    main_msgs(&b, true);
    save(t, "main-ok-mini", &b);
    buf_reset(&b);

    link_mess(&b, 0, SPICE_CHANNEL_MAIN, 0);
    ticket(&b, "fuzz");
    serial = 0;
    main_msgs(&b, false);
    save(t, "main-ok-full-noauthsel", &b);
    buf_reset(&b);

    link_mess(&b, 0, SPICE_CHANNEL_MAIN, MINI | AUTH_SEL);
    link_u32_write(&b, SPICE_COMMON_CAP_AUTH_SPICE);
    ticket(&b, "wrong");
    save(t, "main-wrong-password", &b);
    buf_reset(&b);

    link_mess(&b, 0, SPICE_CHANNEL_MAIN, MINI | AUTH_SEL);
    link_u32_write(&b, SPICE_COMMON_CAP_AUTH_SASL);
    save(t, "main-sasl", &b);
    buf_reset(&b);

    link_mess(&b, 0, SPICE_CHANNEL_MAIN, MINI | AUTH_SEL);
    link_u32_write(&b, SPICE_COMMON_CAP_AUTH_SPICE);
    buf_put_zeros(&b, LINK_TICKET_SIZE);
    save(t, "main-zero-ticket", &b);
    buf_reset(&b);

    link_mess(&b, 0x12345678, SPICE_CHANNEL_INPUTS, MINI | AUTH_SEL);
    save(t, "inputs-bad-connection", &b);
    buf_reset(&b);

    link_mess(&b, 0, 77, MINI | AUTH_SEL);
    save(t, "unknown-channel", &b);
    buf_reset(&b);

    link_header_write(&b, 18);
    put_u32le(b.data, 0x58585858);
    save(t, "bad-magic", &b);
    buf_reset(&b);

    link_header_write(&b, 18);
    put_u32le(b.data + 4, 1);
    save(t, "version-1", &b);
    buf_reset(&b);

    link_header_write(&b, 17);
    save(t, "size-17", &b);
    buf_reset(&b);

    link_header_write(&b, 22);
    buf_put_u32(&b, 0);
    buf_put_u8(&b, SPICE_CHANNEL_MAIN);
    buf_put_u8(&b, 0);
    buf_put_u32(&b, 1);
    buf_put_u32(&b, 0);
    buf_put_u32(&b, 4000);
    buf_put_u32(&b, 0xffffffff);
    save(t, "caps-offset-out", &b);
    buf_reset(&b);

    buf_put(&b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    save(t, "http-get", &b);
    buf_finish(&b);
}

static void channel_seeds(void)
{
    static const char *t = "fuzz_server_channel";
    static const char *names[4] = {"main", "inputs", "display", "cursor"};
    void (*gens[4])(struct byte_buf *, bool) = {main_msgs, inputs_msgs, display_msgs, cursor_msgs};
    struct byte_buf b;
    buf_init(&b);
    for (int ch = 0; ch < 4; ch++) {
        for (int flags = 0; flags < 4; flags++) {
            buf_put_u8(&b, (uint8_t)ch);
            buf_put_u8(&b, (uint8_t)flags);
            serial = 0;
            gens[ch](&b, flags & 1);
            char name[64];
            snprintf(name, sizeof(name), "%s-%s%s", names[ch], flags & 1 ? "mini" : "full",
                     flags & 2 ? "-draws" : "");
            save(t, name, &b);
            buf_reset(&b);
        }
        /* A header announcing 4 GiB. */
        buf_put_u8(&b, (uint8_t)ch);
        buf_put_u8(&b, 1);
        msg_header_write(&b, true, 0, SPICE_MSGC_ACK, 0xffffffffu);
        char name[64];
        snprintf(name, sizeof(name), "%s-oversized", names[ch]);
        save(t, name, &b);
        buf_reset(&b);
    }
    buf_finish(&b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus root>\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    BIO *bio = BIO_new_mem_buf(fuzz_ticket_key_pem, -1);
    key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!key) {
        fprintf(stderr, "cannot load the key\n");
        return 1;
    }
    link_seeds();
    channel_seeds();
    EVP_PKEY_free(key);
    return 0;
}
