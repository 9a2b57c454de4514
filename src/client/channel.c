/*
 * One SPICE channel of a client session.
 *
 * DESIGN: a channel is a small state machine driven by one poll watch:
 *   CONNECTING   non-blocking connect(); the link message is queued at once
 *   TLS_HANDSHAKE  (TLS sessions) the client handshake over the socket; the
 *                chain was verified against the CA bundle by OpenSSL, then
 *                the host name (or the host subject) is checked here
 *                (tls_verify.c) before the queued link message goes out
 *   LINK_REPLY   SpiceLinkHeader + SpiceLinkReply; on success the auth
 *                mechanism word (when both sides have AUTH_SELECTION) and
 *                the RSA-OAEP (SHA-1) encrypted password are queued
 *   SASL         (clove_session_set_sasl) the SASL exchange of
 *                sasl_client.c up to its clear link result; then, on plain
 *                TCP, the stream is wrapped in the SASL security layer
 *   AUTH_RESULT  the 4-byte link result (after SASL: the second one, sent
 *                through the layer)
 *   READY        data messages: mini or full headers, base messages
 *                (SET_ACK, PING, NOTIFY, ...) handled here, the rest handed
 *                to the channel's on_message.
 * Received bytes collect in `rx` until a whole unit is there; queued bytes
 * wait in `tx` until the socket takes them. Errors go to session_fail(),
 * which stops the session; channels are closed by the session afterwards,
 * never from inside their own callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <spice/enums.h>
#include <spice/protocol.h>
#include <sys/socket.h>

#include "client/client_priv.h"
#include "client/sasl_client.h"
#include "common/error.h"
#include "common/log.h"
#include "proto/header.h"
#include "proto/link.h"
#include "proto/server_parse.h"
#include "transport/tls.h"

const char *channel_name(uint8_t type)
{
    switch (type) {
    case SPICE_CHANNEL_MAIN:
        return "main";
    case SPICE_CHANNEL_DISPLAY:
        return "display";
    case SPICE_CHANNEL_INPUTS:
        return "inputs";
    case SPICE_CHANNEL_CURSOR:
        return "cursor";
    default:
        return "other";
    }
}

static const char *link_error_text(uint32_t error)
{
    switch (error) {
    case SPICE_LINK_ERR_ERROR:
        return "generic link error (ERROR)";
    case SPICE_LINK_ERR_INVALID_MAGIC:
        return "invalid magic (INVALID_MAGIC)";
    case SPICE_LINK_ERR_INVALID_DATA:
        return "invalid data (INVALID_DATA)";
    case SPICE_LINK_ERR_VERSION_MISMATCH:
        return "protocol version mismatch (VERSION_MISMATCH)";
    case SPICE_LINK_ERR_NEED_SECURED:
        return "the server requires TLS for this channel (NEED_SECURED); connect to its TLS "
               "port";
    case SPICE_LINK_ERR_NEED_UNSECURED:
        return "the server requires an unsecured channel (NEED_UNSECURED)";
    case SPICE_LINK_ERR_PERMISSION_DENIED:
        return "wrong password or ticket expired (PERMISSION_DENIED)";
    case SPICE_LINK_ERR_BAD_CONNECTION_ID:
        return "bad connection id (BAD_CONNECTION_ID)";
    case SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE:
        return "channel not available (CHANNEL_NOT_AVAILABLE)";
    default:
        return "unknown link error";
    }
}

static int channel_fail(struct client_channel *ch, int code, const char *what)
{
    if (ch->tentative) {
        /* Not the session's error yet: whether the channel exists is the
         * channels list's to say (session_relink links it again if so). */
        log_debug("%s channel %u: early link failed (%s)", channel_name(ch->type), ch->id, what);
        ch->state = CHANNEL_CLOSED;
        loop_watch_remove(ch->session->loop, ch->watch);
        ch->watch = NULL;
        ch->session->relink_pending = true;
        return code < 0 ? code : CLOVE_E_INVALID;
    }
    return session_fail(ch->session, code, "%s channel: %s", channel_name(ch->type), what);
}

/* ---- sending ---- */

static int channel_flush(struct client_channel *ch)
{
    while (ch->stream && ch->tx_start < ch->tx.len) {
        ssize_t n = stream_write(ch->stream, ch->tx.data + ch->tx_start, ch->tx.len - ch->tx_start);
        if (n == CLOVE_E_AGAIN) {
            break;
        }
        if (n < 0) {
            return channel_fail(ch, (int)n,
                                n == CLOVE_E_CLOSED ? "connection closed by the server"
                                                    : "write failed");
        }
        ch->tx_start += (size_t)n;
        ch->session->tx_bytes += (uint64_t)n;
    }
    if (ch->tx_start == ch->tx.len) {
        buf_reset(&ch->tx);
        ch->tx_start = 0;
    }
    if (ch->watch) {
        int events = LOOP_READ | (ch->tx_start < ch->tx.len ? LOOP_WRITE : 0);
        loop_watch_update(ch->session->loop, ch->watch, events);
    }
    return 0;
}

void channel_send(struct client_channel *ch, uint16_t type, const void *body, size_t len)
{
    msg_header_write(&ch->tx, ch->mini_header, ++ch->tx_serial, type, (uint32_t)len);
    if (len > 0) {
        buf_put(&ch->tx, body, len);
    }
    if (!buf_ok(&ch->tx)) {
        channel_fail(ch, CLOVE_E_NOMEM, "out of memory queueing a message");
        return;
    }
    if (ch->state == CHANNEL_READY) {
        channel_flush(ch);
    }
}

/* ---- link ---- */

static void queue_link_message(struct client_channel *ch)
{
    uint32_t common = 0;
    caps_set(&common, SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION);
    caps_set(&common, SPICE_COMMON_CAP_AUTH_SPICE);
    if (ch->session->sasl) {
        caps_set(&common, SPICE_COMMON_CAP_AUTH_SASL);
    }
    caps_set(&common, SPICE_COMMON_CAP_MINI_HEADER);
    uint32_t connection_id = ch->type == SPICE_CHANNEL_MAIN ? 0 : ch->session->session_id;
    link_mess_write(&ch->tx, connection_id, ch->type, ch->id, &common, 1, ch->channel_caps,
                    ch->num_channel_caps);
}

/*
 * The SubjectPublicKeyInfo header every SPICE server puts before its
 * RSA-1024 key (SEQUENCE, AlgorithmIdentifier rsaEncryption with NULL
 * parameters, BIT STRING with no unused bits), 22 bytes; the RSAPublicKey
 * follows. Decoding that inner key directly skips OpenSSL 3's generic
 * decoder search, a fifth of a short session's instructions.
 */
static const uint8_t spki_rsa1024_prefix[22] = {
        0x30, 0x81, 0x9f, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
        0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00, 0x03, 0x81, 0x8d, 0x00,
};

/* The reply's public key: the fast path for the usual layout, else any SPKI. */
static EVP_PKEY *decode_link_pubkey(const uint8_t *pubkey)
{
    const unsigned char *p = pubkey;
    if (memcmp(pubkey, spki_rsa1024_prefix, sizeof(spki_rsa1024_prefix)) == 0) {
        p = pubkey + sizeof(spki_rsa1024_prefix);
        EVP_PKEY *key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p,
                                      LINK_PUBKEY_SIZE - (long)sizeof(spki_rsa1024_prefix));
        if (key) {
            return key;
        }
        p = pubkey;
    }
    return d2i_PUBKEY(NULL, &p, LINK_PUBKEY_SIZE);
}

static pthread_once_t crypto_warm_once = PTHREAD_ONCE_INIT;

static void crypto_warm_up_once(void)
{
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
    EVP_KEYMGMT_free(EVP_KEYMGMT_fetch(NULL, "RSA", NULL));
    EVP_ASYM_CIPHER_free(EVP_ASYM_CIPHER_fetch(NULL, "RSA", NULL));
    EVP_MD_free(EVP_MD_fetch(NULL, "SHA1", NULL));
    unsigned char seed_probe;
    (void)RAND_bytes(&seed_probe, 1); /* instantiates the DRBG that OAEP padding draws from */
}

/*
 * OpenSSL's first use in a process reads its configuration, fills its
 * algorithm store and seeds its random generator: 7 million instructions,
 * 2-3 ms, a third of a whole clove-shot capture. Done here, right after the main channel's link
 * message went out, it overlaps the server's work for the reply (the
 * reference generates an RSA key per link) instead of delaying the ticket.
 */
static void crypto_warm_up(void)
{
    pthread_once(&crypto_warm_once, crypto_warm_up_once);
}

/* Encrypts the password (with its NUL) with the DER public key of the reply. */
static int queue_ticket(struct client_channel *ch, const uint8_t *pubkey)
{
    EVP_PKEY *key = decode_link_pubkey(pubkey);
    if (!key) {
        return channel_fail(ch, CLOVE_E_INVALID, "the link reply holds no valid RSA public key");
    }
    int rc = CLOVE_E_INVALID;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    uint8_t out[512];
    size_t out_len = sizeof(out);
    const char *pw = ch->session->password;
    if (ctx && EVP_PKEY_encrypt_init(ctx) > 0 &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
        EVP_PKEY_encrypt(ctx, out, &out_len, (const unsigned char *)pw, strlen(pw) + 1) > 0) {
        buf_put(&ch->tx, out, out_len);
        rc = 0;
    } else {
        channel_fail(ch, CLOVE_E_INVALID, "could not encrypt the password with the server's key");
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(key);
    return rc;
}

/* Queues the SASL mechanism word and starts the exchange (CHANNEL_SASL). */
static int start_sasl(struct client_channel *ch)
{
    struct clove_session *s = ch->session;
    bool tls = ch->stream->flags & STREAM_FLAG_TLS;
    struct sasl_client_config cfg = {
            .server_host = s->host,
            .socket_fd = ch->socket_fd,
            .external_ssf = tls ? tls_stream_cipher_bits(ch->stream) : 0,
            .username = s->sasl_username,
            .password = s->sasl_password,
    };
    char why[200];
    ch->sasl = sasl_client_create(&cfg, why, sizeof(why));
    if (!ch->sasl) {
        return channel_fail(ch, CLOVE_E_IO, why);
    }
    link_u32_write(&ch->tx, SPICE_COMMON_CAP_AUTH_SASL);
    ch->state = CHANNEL_SASL;
    return 0;
}

/* One unit of the SASL exchange; after the clear OK result, the layer
 * stream takes whatever raw bytes followed it. Returns bytes used, 0 or < 0. */
static int handle_sasl(struct client_channel *ch, const uint8_t *data, size_t len)
{
    bool done = false;
    char why[200];
    int used = sasl_client_input(ch->sasl, data, len, &ch->tx, &done, why, sizeof(why));
    if (used < 0) {
        return channel_fail(ch, used, why);
    }
    if (!done) {
        int rc = channel_flush(ch);
        return rc < 0 ? rc : used;
    }
    const char *mech = sasl_client_mechanism(ch->sasl);
    bool layer = sasl_client_has_layer(ch->sasl);
    log_debug("%s channel %u: SASL (%s) authenticated%s", channel_name(ch->type), ch->id, mech,
              layer ? ", security layer on" : "");
    const uint8_t *early = data + used;
    size_t early_len = layer ? len - (size_t)used : 0;
    ch->stream = sasl_client_stream_create(ch->sasl, ch->stream, early, early_len);
    ch->sasl = NULL;
    if (!ch->stream) {
        return channel_fail(ch, CLOVE_E_NOMEM, "out of memory starting the SASL layer");
    }
    if (early_len > 0) {
        /* The layer owns those bytes now: drop them from rx. */
        ch->rx.len -= early_len;
    }
    ch->state = CHANNEL_AUTH_RESULT;
    return used;
}

/* Handles the link header + reply once they are all in rx; returns bytes used or 0. */
static int handle_link_reply(struct client_channel *ch, const uint8_t *data, size_t len)
{
    struct link_header header;
    if (link_header_parse(data, len, &header) < 0) {
        return 0;
    }
    if (header.magic != LINK_MAGIC) {
        return channel_fail(ch, CLOVE_E_INVALID, "not a SPICE server (bad link magic)");
    }
    if (header.major_version != SPICE_VERSION_MAJOR) {
        return channel_fail(ch, CLOVE_E_UNSUPPORTED, "server speaks another protocol version");
    }
    if (header.size < 4 || header.size > LINK_MAX_BODY_SIZE) {
        return channel_fail(ch, CLOVE_E_INVALID, "bad link reply size");
    }
    if (len - LINK_HEADER_SIZE < header.size) {
        return 0;
    }
    const uint8_t *body = data + LINK_HEADER_SIZE;
    uint32_t error = get_u32le(body);
    if (error != SPICE_LINK_ERR_OK) {
        char what[160];
        snprintf(what, sizeof(what), "link refused: %s", link_error_text(error));
        return channel_fail(
                ch, error == SPICE_LINK_ERR_PERMISSION_DENIED ? CLOVE_E_DENIED : CLOVE_E_INVALID,
                what);
    }
    struct link_reply reply;
    const char *err = NULL;
    if (link_reply_parse(body, header.size, &reply, &err) < 0) {
        char what[160];
        snprintf(what, sizeof(what), "bad link reply: %s", err);
        return channel_fail(ch, CLOVE_E_INVALID, what);
    }
    bool mini = caps_test(reply.common_caps, reply.num_common_caps, SPICE_COMMON_CAP_MINI_HEADER);
    bool selection = caps_test(reply.common_caps, reply.num_common_caps,
                               SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION);
    bool server_sasl =
            caps_test(reply.common_caps, reply.num_common_caps, SPICE_COMMON_CAP_AUTH_SASL);
    ch->mini_header = mini;
    if (ch->session->sasl) {
        if (!selection || !server_sasl) {
            return channel_fail(ch, CLOVE_E_UNSUPPORTED,
                                "SASL was asked for but the server does not offer it");
        }
        if (start_sasl(ch) < 0) {
            return -1;
        }
        int rc = channel_flush(ch);
        return rc < 0 ? rc : (int)(LINK_HEADER_SIZE + header.size);
    }
    if (selection) {
        if (!caps_test(reply.common_caps, reply.num_common_caps, SPICE_COMMON_CAP_AUTH_SPICE)) {
            return channel_fail(ch, CLOVE_E_UNSUPPORTED,
                                server_sasl ? "the server requires SASL authentication, which "
                                              "this session does not use"
                                            : "the server offers no password authentication");
        }
        link_u32_write(&ch->tx, SPICE_COMMON_CAP_AUTH_SPICE);
    }
    if (queue_ticket(ch, reply.pubkey) < 0) {
        return -1;
    }
    ch->state = CHANNEL_AUTH_RESULT;
    int rc = channel_flush(ch);
    return rc < 0 ? rc : (int)(LINK_HEADER_SIZE + header.size);
}

static int handle_auth_result(struct client_channel *ch, const uint8_t *data, size_t len)
{
    uint32_t result;
    if (link_u32_parse(data, len, &result) < 0) {
        return 0;
    }
    if (result != SPICE_LINK_ERR_OK) {
        char what[160];
        snprintf(what, sizeof(what), "authentication failed: %s", link_error_text(result));
        return channel_fail(
                ch, result == SPICE_LINK_ERR_PERMISSION_DENIED ? CLOVE_E_DENIED : CLOVE_E_INVALID,
                what);
    }
    log_debug("%s channel %u linked (%s header)", channel_name(ch->type), ch->id,
              ch->mini_header ? "mini" : "full");
    ch->state = CHANNEL_READY;
    ch->tentative = false; /* the server has it: from here its errors are the session's */
    int rc = ch->on_ready ? ch->on_ready(ch) : 0;
    if (rc == 0) {
        rc = channel_flush(ch);
    }
    return rc < 0 ? rc : 4;
}

/* ---- data messages ---- */

static int handle_base(struct client_channel *ch, uint16_t type, const uint8_t *body, size_t len)
{
    const char *err = NULL;
    int rc = 0;
    switch (type) {
    case SPICE_MSG_SET_ACK: {
        uint32_t generation, window;
        rc = server_parse_set_ack(body, len, &generation, &window, &err);
        if (rc >= 0) {
            uint8_t reply[4];
            put_u32le(reply, generation);
            channel_send(ch, SPICE_MSGC_ACK_SYNC, reply, sizeof(reply));
            ch->ack_window = window;
            ch->ack_pending = 0;
        }
        break;
    }
    case SPICE_MSG_PING: {
        uint32_t id;
        uint64_t timestamp;
        rc = server_parse_ping(body, len, &id, &timestamp, &err);
        if (rc >= 0) {
            uint8_t reply[12];
            put_u32le(reply, id);
            put_u32le(reply + 4, (uint32_t)timestamp);
            put_u32le(reply + 8, (uint32_t)(timestamp >> 32));
            channel_send(ch, SPICE_MSGC_PONG, reply, sizeof(reply));
        }
        break;
    }
    case SPICE_MSG_NOTIFY: {
        struct server_notify n;
        rc = server_parse_notify(body, len, &n, &err);
        if (rc >= 0) {
            log_debug("%s channel: server notice: %.*s", channel_name(ch->type), (int)n.message_len,
                      (const char *)n.message);
        }
        break;
    }
    case SPICE_MSG_DISCONNECTING: {
        uint64_t ts;
        uint32_t reason;
        rc = server_parse_disconnecting(body, len, &ts, &reason, &err);
        if (rc >= 0) {
            log_debug("%s channel: server disconnecting (reason %u)", channel_name(ch->type),
                      reason);
        }
        break;
    }
    default:
        log_debug("%s channel: base message %u ignored", channel_name(ch->type), type);
        break;
    }
    if (rc < 0) {
        char what[160];
        snprintf(what, sizeof(what), "bad message %u: %s", type, err ? err : "?");
        return channel_fail(ch, rc, what);
    }
    return 0;
}

/* Handles one whole data message if it is there; returns bytes used, 0 or < 0. */
static int handle_data(struct client_channel *ch, const uint8_t *data, size_t len)
{
    struct msg_header h;
    int hs = msg_header_parse(data, len, ch->mini_header, &h);
    if (hs < 0) {
        return 0;
    }
    if (h.size > CLIENT_MAX_MESSAGE_SIZE) {
        return channel_fail(ch, CLOVE_E_RANGE, "message larger than the client accepts");
    }
    if (len - (size_t)hs < h.size) {
        return 0;
    }
    const uint8_t *body = data + hs;
    int rc;
    if (h.type < SPICE_MSG_BASE_LAST) {
        rc = handle_base(ch, h.type, body, h.size);
    } else {
        rc = ch->on_message(ch, h.type, body, h.size);
    }
    if (rc < 0) {
        return rc;
    }
    if (ch->ack_window > 0 && ++ch->ack_pending >= ch->ack_window) {
        ch->ack_pending = 0;
        channel_send(ch, SPICE_MSGC_ACK, NULL, 0);
    }
    return hs + (int)h.size;
}

/* Messages from this size up are placed by channel_place_message(). */
#define LARGE_MESSAGE_BYTES (256u * 1024u)

/* The whole size (header and body) of the message at rx_start once its
 * header is in, else 0; *h and *hs get its header and header size. */
static size_t pending_message(const struct client_channel *ch, struct msg_header *h, int *hs)
{
    *hs = msg_header_parse(ch->rx.data + ch->rx_start, ch->rx.len - ch->rx_start, ch->mini_header,
                           h);
    return *hs < 0 ? 0 : (size_t)*hs + h->size;
}

/*
 * Prepares the room for a large message whose start has arrived: the
 * receive buffer grows once to hold all of it (no reallocation and copy
 * of megabytes half way). When it is a draw whose source is a raw bitmap:
 * - if the draw only puts the bitmap over a whole surface
 *   (display_raw_target), its pixels are received straight into the
 *   surface: no page of the buffer is touched for them and nothing is
 *   drawn afterwards (a full-screen update of 3 MiB was 768 page faults,
 *   about 2.5 ms, plus a 3 MiB copy);
 * - else the bytes so far move by up to 15 bytes so that the bitmap's
 *   pixels will lie 16-byte aligned, and the canvas draws them in place
 *   (pixman needs aligned rows) instead of converting them into fresh
 *   memory.
 * Returns 0, or < 0 after channel_fail().
 */
static int channel_place_message(struct client_channel *ch, const struct msg_header *h, int hs,
                                 size_t total)
{
    size_t have = ch->rx.len - ch->rx_start;
    struct server_draw_raw raw;
    int rc = CLOVE_E_UNSUPPORTED;
    if (ch->type == SPICE_CHANNEL_DISPLAY) {
        const uint8_t *body = ch->rx.data + ch->rx_start + hs;
        rc = server_parse_draw_raw(h->type, body, have - (size_t)hs, &raw);
        if (rc == CLOVE_E_AGAIN) {
            return 0;
        }
    }
    ch->rx_placed = true;
    if (!buf_reserve(&ch->rx, total - have + 16)) {
        return channel_fail(ch, CLOVE_E_NOMEM, "out of memory receiving a large message");
    }
    if (rc != 0) {
        return 0;
    }
    size_t from = (size_t)hs + raw.pixels_offset, len = 0;
    uint8_t *target = display_raw_target(ch, &raw, &len);
    if (target && from <= total && len <= total - from) {
        ch->sink = target;
        ch->sink_from = from;
        ch->sink_to = from + len;
        log_debug("display channel %u: %zu bytes of raw pixels go straight to their surface",
                  ch->id, len);
        if (have > from) {
            size_t early = (have < ch->sink_to ? have : ch->sink_to) - from;
            memcpy(target, ch->rx.data + ch->rx_start + from, early);
        }
        return 0;
    }
    uintptr_t pixels = (uintptr_t)(ch->rx.data + ch->rx_start + from);
    size_t shift = (16 - pixels % 16) % 16;
    if (shift > 0) {
        memmove(ch->rx.data + ch->rx_start + shift, ch->rx.data + ch->rx_start, have);
        ch->rx_start += shift;
        ch->rx.len += shift;
    }
    return 0;
}

static int channel_read(struct client_channel *ch)
{
    for (;;) {
        /* Within a placed message, read up to its end (its room is there),
         * and its sunk pixels into the surface. */
        size_t want = 65536;
        struct msg_header h;
        int hs;
        uint8_t *into = NULL;
        if (ch->rx_placed) {
            size_t got = ch->rx.len - ch->rx_start;
            size_t rest = pending_message(ch, &h, &hs) - got;
            want = rest > 0 ? rest : want;
            if (ch->sink && got < ch->sink_from && want > ch->sink_from - got) {
                want = ch->sink_from - got;
            } else if (ch->sink && got >= ch->sink_from && got < ch->sink_to) {
                into = ch->sink + (got - ch->sink_from);
                want = want < ch->sink_to - got ? want : ch->sink_to - got;
            }
        }
        uint8_t *room = buf_reserve(&ch->rx, want);
        if (!room) {
            return channel_fail(ch, CLOVE_E_NOMEM, "out of memory receiving");
        }
        ssize_t n = stream_read(ch->stream, into ? into : room, want);
        if (n == CLOVE_E_AGAIN) {
            return 0;
        }
        if (n == CLOVE_E_CLOSED && ch->state == CHANNEL_SASL) {
            /* The server closes without a word when a step fails. */
            return channel_fail(ch, CLOVE_E_DENIED,
                                "SASL authentication failed: the server closed the connection "
                                "(wrong user name or password?)");
        }
        if (n < 0) {
            return channel_fail(ch, (int)n,
                                n == CLOVE_E_CLOSED ? "connection closed by the server"
                                                    : "read failed");
        }
        ch->rx.len += (size_t)n;
        ch->session->rx_bytes += (uint64_t)n;
        for (;;) {
            const uint8_t *p = ch->rx.data + ch->rx_start;
            size_t avail = ch->rx.len - ch->rx_start;
            int used;
            if (ch->state == CHANNEL_LINK_REPLY) {
                used = handle_link_reply(ch, p, avail);
            } else if (ch->state == CHANNEL_SASL) {
                used = handle_sasl(ch, p, avail);
            } else if (ch->state == CHANNEL_AUTH_RESULT) {
                used = handle_auth_result(ch, p, avail);
            } else if (ch->state == CHANNEL_READY) {
                used = handle_data(ch, p, avail);
            } else {
                used = 0;
            }
            if (used < 0 || ch->session->stop || ch->session->error_code) {
                return used < 0 ? used : 0;
            }
            if (used == 0) {
                break;
            }
            ch->rx_start += (size_t)used;
            ch->rx_placed = false;
            ch->sink = NULL;
        }
        if (ch->rx_start == ch->rx.len) {
            buf_reset(&ch->rx);
            ch->rx_start = 0;
        } else if (ch->rx_start > 1024 * 1024) {
            /* Keeps the alignment a placed message got (mod 16). */
            size_t drop = ch->rx_start & ~(size_t)15;
            memmove(ch->rx.data, ch->rx.data + drop, ch->rx.len - drop);
            ch->rx.len -= drop;
            ch->rx_start -= drop;
        }
        if (ch->state == CHANNEL_READY && !ch->rx_placed) {
            size_t total = pending_message(ch, &h, &hs);
            /* handle_data() refused the message if it is over the limit. */
            if (total >= LARGE_MESSAGE_BYTES && channel_place_message(ch, &h, hs, total) < 0) {
                return -1;
            }
        }
    }
}

/* Advances the TLS handshake; once done, checks the certificate's name and
 * sends the link message. Returns 0 (done or waiting) or < 0. */
static int channel_tls_step(struct client_channel *ch)
{
    struct clove_session *s = ch->session;
    const char *err = NULL;
    int rc = tls_stream_handshake(ch->stream, &err);
    if (rc == CLOVE_E_AGAIN) {
        loop_watch_update(s->loop, ch->watch,
                          tls_stream_wants_write(ch->stream) ? LOOP_WRITE : LOOP_READ);
        return 0;
    }
    char what[256];
    if (rc < 0) {
        long v = tls_stream_verify_result(ch->stream);
        if (v != X509_V_OK) {
            snprintf(what, sizeof(what), "certificate verify failed: %s",
                     X509_verify_cert_error_string(v));
            return channel_fail(ch, CLOVE_E_DENIED, what);
        }
        snprintf(what, sizeof(what), "TLS handshake with %s port %u failed: %s", s->host,
                 s->tls_port, err ? err : "?");
        return channel_fail(ch, rc, what);
    }
    const X509 *cert = tls_stream_peer_certificate(ch->stream);
    char why[200] = "";
    if (!cert) {
        rc = CLOVE_E_DENIED;
        snprintf(why, sizeof(why), "the server sent no certificate");
    } else if (s->host_subject) {
        rc = tls_verify_subject(cert, s->host_subject, why, sizeof(why));
    } else {
        rc = tls_verify_host(cert, s->host, why, sizeof(why));
    }
    if (rc < 0) {
        snprintf(what, sizeof(what), "certificate verify failed: %s", why);
        return channel_fail(ch, rc, what);
    }
    log_debug("%s channel %u: TLS handshake done", channel_name(ch->type), ch->id);
    ch->state = CHANNEL_LINK_REPLY;
    return channel_flush(ch);
}

static void channel_event(int fd, int events, void *opaque)
{
    struct client_channel *ch = opaque;
    (void)fd;
    if (ch->session->error_code || ch->state == CHANNEL_CLOSED) {
        return;
    }
    if (ch->state == CHANNEL_CONNECTING) {
        int err = 0;
        socklen_t err_len = sizeof(err);
        if (getsockopt(ch->fd, SOL_SOCKET, SO_ERROR, &err, &err_len) < 0) {
            err = errno;
        }
        if (err != 0) {
            char what[160];
            snprintf(what, sizeof(what), "cannot connect to %s port %u: %s", ch->session->host,
                     session_port(ch->session), strerror(err));
            channel_fail(ch, CLOVE_E_IO, what);
            return;
        }
        ch->stream = tcp_stream_create(ch->fd);
        ch->fd = -1;
        if (ch->stream && ch->session->tls) {
            ch->stream = tls_client_stream_create(ch->session->tls, ch->stream, ch->session->host);
        }
        if (!ch->stream) {
            channel_fail(ch, CLOVE_E_IO, "cannot set up the socket");
            return;
        }
        if (ch->session->tls) {
            ch->state = CHANNEL_TLS_HANDSHAKE;
        } else {
            ch->state = CHANNEL_LINK_REPLY;
            if (channel_flush(ch) < 0) {
                return;
            }
            if (!ch->session->sasl) {
                crypto_warm_up();
            }
            events &= ~LOOP_WRITE;
        }
    }
    if (ch->state == CHANNEL_TLS_HANDSHAKE) {
        if (channel_tls_step(ch) < 0 || ch->state == CHANNEL_TLS_HANDSHAKE) {
            return;
        }
        events &= ~LOOP_WRITE;
        if (stream_pending(ch->stream) > 0) {
            events |= LOOP_READ;
        }
    }
    if ((events & LOOP_WRITE) && channel_flush(ch) < 0) {
        return;
    }
    if (events & LOOP_READ) {
        channel_read(ch);
    }
}

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
static bool is_loopback(const struct sockaddr_storage *addr)
{
    if (addr->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)addr;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (addr->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)addr;
        const uint8_t *a = in6->sin6_addr.s6_addr;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && a[12] == 127);
    }
    return false;
}

/* Receive buffer asked for a display channel to a local server. */
#define LOCAL_DISPLAY_RCVBUF (4 * 1024 * 1024)

/*
 * A display channel to a server on this machine gets a large fixed receive
 * buffer. Over loopback the path holds nothing in flight, so TCP's receive
 * autotuning, which sizes the window for long paths, gains nothing there,
 * and its slow start from 128 KiB made a full-screen raw update (3 MiB)
 * arrive in many small bursts: 8 ms against 5 ms with the buffer already
 * large (measured with Debian's libspice-server, 1024x768). The kernel caps
 * the request at net.core.rmem_max (208 KiB on a stock system, where it was
 * no slower than autotuning). Remote servers keep autotuning.
 */
static void tune_local_display_socket(int fd, uint8_t type, const struct sockaddr_storage *addr)
{
    if (type != SPICE_CHANNEL_DISPLAY || !is_loopback(addr)) {
        return;
    }
    int size = LOCAL_DISPLAY_RCVBUF;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

struct client_channel *channel_open(struct clove_session *s, uint8_t type, uint8_t id,
                                    const uint32_t *channel_caps, uint32_t num_channel_caps,
                                    channel_ready_fn on_ready, channel_message_fn on_message)
{
    struct client_channel *ch = calloc(1, sizeof(*ch));
    if (!ch) {
        session_fail(s, CLOVE_E_NOMEM, "out of memory");
        return NULL;
    }
    ch->session = s;
    ch->type = type;
    ch->id = id;
    ch->channel_caps = channel_caps;
    ch->num_channel_caps = num_channel_caps;
    ch->on_ready = on_ready;
    ch->on_message = on_message;
    ch->state = CHANNEL_CONNECTING;
    ch->fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ch->socket_fd = ch->fd;
    if (ch->fd < 0) {
        session_fail(s, CLOVE_E_IO, "cannot create a socket: %s", strerror(errno));
        goto error_socket;
    }
    tune_local_display_socket(ch->fd, type, &s->addr);
    if (connect(ch->fd, (const struct sockaddr *)&s->addr, s->addr_len) < 0 &&
        errno != EINPROGRESS) {
        session_fail(s, CLOVE_E_IO, "cannot connect to %s port %u: %s", s->host, session_port(s),
                     strerror(errno));
        goto error_connect;
    }
    queue_link_message(ch);
    ch->watch = loop_watch_add(s->loop, ch->fd, LOOP_READ | LOOP_WRITE, channel_event, ch);
    if (!ch->watch) {
        session_fail(s, CLOVE_E_NOMEM, "cannot watch the socket");
        goto error_connect;
    }
    log_debug("%s channel %u: connecting", channel_name(type), id);
    return ch;

error_connect:
    close(ch->fd);
error_socket:
    buf_finish(&ch->tx);
    free(ch);
    return NULL;
}

void channel_close(struct client_channel *ch)
{
    if (!ch) {
        return;
    }
    loop_watch_remove(ch->session->loop, ch->watch);
    sasl_client_destroy(ch->sasl);
    stream_destroy(ch->stream);
    if (ch->fd >= 0) {
        close(ch->fd);
    }
    buf_finish(&ch->rx);
    buf_finish(&ch->tx);
    free(ch);
}
