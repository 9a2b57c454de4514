#!/usr/bin/env python3
"""Writes the seed corpora of the proto fuzz targets.

    tests/fuzz/proto/make_seeds.py [tests/fuzz/corpus]

fuzz_proto_link: SpiceLinkHeader + SpiceLinkMess inputs (valid, truncated,
over the limits, hostile caps_offset) and SpiceLinkReply bodies.
fuzz_proto_client_msg: byte 0 = channel type, bytes 1-2 = message type (LE),
then the body; valid and short bodies for every client message.

Seed files are named seed-<what>; crash-* (past crashes) and fuzz-* (inputs
libFuzzer found that add coverage) are kept by hand.
"""
import os
import struct
import sys

CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', 'corpus')


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)


def link_header(size, magic=b'REDQ', major=2, minor=2):
    return magic + struct.pack('<III', major, minor, size)


def link_mess(conn, ctype, cid, common, channel, offset=18, extra=b''):
    body = struct.pack('<IBBIII', conn, ctype, cid, len(common), len(channel), offset)
    body += b''.join(struct.pack('<I', w) for w in common + channel) + extra
    return body


def link_inputs():
    t = 'fuzz_proto_link'
    m = link_mess(0, 1, 0, [0x0b], [0x0f])
    write(t, 'main', link_header(len(m)) + m)
    m = link_mess(0x1234, 2, 0, [0x0b], [0x7fff])
    write(t, 'display', link_header(len(m)) + m)
    m = link_mess(0x1234, 3, 0, [], [])
    write(t, 'nocaps', link_header(len(m)) + m)
    m = link_mess(0, 4, 0, [], [], offset=0xffffffff)
    write(t, 'nocaps-bad-offset', link_header(len(m)) + m)
    m = link_mess(0, 1, 0, [0x0b], [0x0f])
    write(t, 'truncated', (link_header(len(m)) + m)[:30])
    write(t, 'header-only', link_header(26))
    write(t, 'short-header', link_header(26)[:10])
    write(t, 'bad-magic', link_header(len(m), magic=b'GET ') + m)
    write(t, 'version-1', link_header(len(m), major=1) + m)
    m = link_mess(0, 1, 0, [0x0b], [0x0f], offset=17)
    write(t, 'offset-in-fixed', link_header(len(m)) + m)
    m = link_mess(0, 1, 0, [0x0b], [0x0f], offset=0xfffffffc)
    write(t, 'offset-wrap', link_header(len(m)) + m)
    m = struct.pack('<IBBIII', 0, 1, 0, 0x40000001, 0, 18) + b'\0' * 8
    write(t, 'count-wrap', link_header(len(m)) + m)
    m = struct.pack('<IBBIII', 0, 1, 0, 1025, 0, 18) + b'\0' * 64
    write(t, 'too-many-caps', link_header(len(m)) + m)
    m = link_mess(0, 1, 0, [0xffffffff] * 500, [0x1] * 519)
    write(t, 'max-body', link_header(len(m)) + m)
    m = link_mess(0, 1, 0, [0x0b], [0x0f], extra=b'\xaa' * 8)
    write(t, 'trailing', link_header(len(m)) + m)
    m = link_mess(0, 1, 0, [0x0b], [0x0f], offset=26) + b'\x0b\0\0\0\x0f\0\0\0'
    write(t, 'gap-before-caps', link_header(len(m)) + m)
    # Reply bodies (the whole input is also parsed as a reply).
    pubkey = bytes((i * 7 + 1) & 0xff for i in range(162))
    r = struct.pack('<I', 0) + pubkey + struct.pack('<III', 1, 1, 178) + struct.pack('<II', 0xb, 5)
    write(t, 'reply', r)
    write(t, 'reply-error', struct.pack('<I', 7) + b'\0' * 174)
    write(t, 'reply-short', r[:177])
    r = struct.pack('<I', 0) + pubkey + struct.pack('<III', 2, 0, 178) + struct.pack('<I', 1)
    write(t, 'reply-caps-beyond', r)
    write(t, 'auth-mechanism', struct.pack('<I', 1))


def msg(channel, mtype, body=b''):
    return struct.pack('<BH', channel, mtype) + body


def client_inputs():
    t = 'fuzz_proto_client_msg'
    seeds = {
        'ack-sync': msg(4, 1, struct.pack('<I', 1)),
        'ack': msg(2, 2),
        'pong': msg(1, 3, struct.pack('<IQ', 1, 123456789)),
        'pong-short': msg(1, 3, struct.pack('<I', 1)),
        'migrate-data': msg(2, 5, b'\x01\x02\x03'),
        'disconnecting': msg(3, 6, struct.pack('<QI', 1, 0)),
        'main-client-info': msg(1, 101, struct.pack('<Q', 0x400000)),
        'main-attach-channels': msg(1, 104),
        'main-mouse-mode-request': msg(1, 105, struct.pack('<H', 2)),
        'main-agent-start': msg(1, 106, struct.pack('<I', 10)),
        'main-agent-data': msg(1, 107, struct.pack('<IIQI', 1, 1, 0, 0)),
        'main-agent-token': msg(1, 108, struct.pack('<I', 5)),
        'main-quality-indicator': msg(1, 112, b'q'),
        'display-init': msg(2, 101, struct.pack('<BqBi', 1, 20971520, 0, 4194304)),
        'display-init-short': msg(2, 101, struct.pack('<Bq', 1, 20971520)),
        'display-stream-report': msg(2, 102, struct.pack('<IIIIIIiI', 0, 1, 2, 3, 4, 0, -5, 0xffffffff)),
        'display-preferred-compression': msg(2, 103, b'\x07'),
        'display-gl-draw-done': msg(2, 104),
        'display-video-codecs': msg(2, 105, b'\x03\x02\x01\x03'),
        'display-video-codecs-overrun': msg(2, 105, b'\xff\x01'),
        'inputs-key-down': msg(3, 101, struct.pack('<I', 0x1e)),
        'inputs-key-up': msg(3, 102, struct.pack('<I', 0x9e)),
        'inputs-key-modifiers': msg(3, 103, struct.pack('<H', 4)),
        'inputs-key-scancode': msg(3, 104, b'\x1e\x9e'),
        'inputs-mouse-motion': msg(3, 111, struct.pack('<iiH', -3, 4, 1)),
        'inputs-mouse-position': msg(3, 112, struct.pack('<IIHB', 1024, 768, 0, 0)),
        'inputs-mouse-press': msg(3, 113, struct.pack('<BH', 1, 1)),
        'inputs-mouse-release': msg(3, 114, struct.pack('<BH', 1, 0)),
        'inputs-unknown': msg(3, 105, b'\0\0\0\0'),
        'record-data': msg(6, 101, struct.pack('<I', 1) + b'\0' * 16),
        'record-mode': msg(6, 102, struct.pack('<IH', 1, 3)),
        'record-start-mark': msg(6, 103, struct.pack('<I', 1)),
        'smartcard-data': msg(8, 101, struct.pack('<III', 7, 0, 2) + b'\x11\x22'),
        'smartcard-overrun': msg(8, 101, struct.pack('<III', 7, 0, 0xffffffff)),
        'usbredir-data': msg(9, 101, b'usb'),
        'usbredir-compressed': msg(9, 102, struct.pack('<BI', 1, 256) + b'\x55'),
        'port-compressed-none': msg(10, 102, b'\x00\x55'),
        'port-event': msg(10, 201, b'\x00'),
        'webdav-event': msg(11, 201, b'\x01'),
        'cursor-ack': msg(4, 2),
        'playback-unknown': msg(5, 101),
        # Bodies that are also data headers for the header checks.
        'full-header': msg(2, 2, struct.pack('<QHII', 5, 103, 32, 0)),
        'mini-header': msg(2, 2, struct.pack('<HI', 103, 32)),
        'full-header-sublist': msg(2, 2, struct.pack('<QHII', 5, 103, 32, 16)),
    }
    for name, data in seeds.items():
        write(t, name, data)


link_inputs()
client_inputs()
