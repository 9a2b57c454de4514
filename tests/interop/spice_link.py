"""A small SPICE link-stage client for tests (stdlib + python3-cryptography).

It speaks exactly the part of the protocol the tests need and lets every
field be overridden so that malformed links can be produced:

  client: SpiceLinkHeader{magic "REDQ", major 2, minor 2, size}
          SpiceLinkMess{connection_id u32, channel_type u8, channel_id u8,
                        num_common_caps u32, num_channel_caps u32,
                        caps_offset u32} + caps words          (little endian)
  server: SpiceLinkHeader + SpiceLinkReply{error u32, pub_key[162] (DER
          SubjectPublicKeyInfo, RSA-1024), num_common_caps, num_channel_caps,
          caps_offset} + caps words
  client: [u32 auth mechanism = 1 when both sides have AUTH_SELECTION]
          128-byte ticket: RSA-OAEP(SHA-1, MGF1-SHA-1) of password + NUL
  server: u32 link result (0 OK, 7 PERMISSION_DENIED, ...)

After a successful link, with the mini header negotiated, messages are
{u16 type, u32 size} + body.
"""

import socket
import struct
import time

MAGIC = b"REDQ"
VERSION_MAJOR = 2
VERSION_MINOR = 2

# SpiceLinkErr
OK, ERROR, INVALID_MAGIC, INVALID_DATA, VERSION_MISMATCH = 0, 1, 2, 3, 4
NEED_SECURED, NEED_UNSECURED, PERMISSION_DENIED = 5, 6, 7
BAD_CONNECTION_ID, CHANNEL_NOT_AVAILABLE = 8, 9
ERR_NAMES = {0: "OK", 1: "ERROR", 2: "INVALID_MAGIC", 3: "INVALID_DATA",
             4: "VERSION_MISMATCH", 5: "NEED_SECURED", 6: "NEED_UNSECURED",
             7: "PERMISSION_DENIED", 8: "BAD_CONNECTION_ID", 9: "CHANNEL_NOT_AVAILABLE"}

# Channel types
MAIN, DISPLAY, INPUTS, CURSOR = 1, 2, 3, 4

# Common caps (bit numbers)
CAP_AUTH_SELECTION, CAP_AUTH_SPICE, CAP_AUTH_SASL, CAP_MINI_HEADER = 0, 1, 2, 3
DEFAULT_COMMON_CAPS = [(1 << CAP_AUTH_SELECTION) | (1 << CAP_AUTH_SPICE) | (1 << CAP_MINI_HEADER)]
# Main channel caps: semi-seamless migrate, name+uuid, agent tokens, seamless.
DEFAULT_MAIN_CAPS = [0xf]

AUTH_MECH_SPICE = 1
PUBKEY_BYTES = 162
LINK_REPLY_SIZE = 4 + PUBKEY_BYTES + 12
TICKET_BYTES = 128

# Main channel message types (server -> client)
MSG_MAIN_INIT = 103


class LinkClosed(Exception):
    """The server closed the connection (or reset it) before we got what we wanted."""


def err_name(code):
    return ERR_NAMES.get(code, str(code))


def link_header(size, magic=MAGIC, major=VERSION_MAJOR, minor=VERSION_MINOR):
    return magic + struct.pack("<III", major, minor, size)


def link_message(channel_type=MAIN, channel_id=0, connection_id=0,
                 common_caps=None, channel_caps=None, num_common=None,
                 num_channel=None, caps_offset=18):
    common = DEFAULT_COMMON_CAPS if common_caps is None else common_caps
    chan = (DEFAULT_MAIN_CAPS if channel_type == MAIN else []) \
        if channel_caps is None else channel_caps
    body = struct.pack("<IBBIII", connection_id, channel_type, channel_id,
                       len(common) if num_common is None else num_common,
                       len(chan) if num_channel is None else num_channel, caps_offset)
    body += b"".join(struct.pack("<I", c) for c in common + chan)
    return body


class LinkReply:
    def __init__(self, header, payload):
        self.magic = header[:4]
        self.major, self.minor, self.size = struct.unpack("<III", header[4:])
        self.error = struct.unpack("<I", payload[:4])[0] if len(payload) >= 4 else None
        self.pubkey = payload[4:4 + PUBKEY_BYTES]
        self.common_caps, self.channel_caps = [], []
        if len(payload) >= LINK_REPLY_SIZE:
            nc, nch, off = struct.unpack("<III", payload[4 + PUBKEY_BYTES:LINK_REPLY_SIZE])
            words = payload[off:]
            if off <= len(payload) and len(words) >= 4 * (nc + nch):
                vals = struct.unpack("<%dI" % (nc + nch), words[:4 * (nc + nch)])
                self.common_caps, self.channel_caps = list(vals[:nc]), list(vals[nc:])

    def has_common_cap(self, bit):
        w = bit // 32
        return w < len(self.common_caps) and bool(self.common_caps[w] >> (bit % 32) & 1)


def encrypt_ticket(pubkey_der, password):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    key = serialization.load_der_public_key(bytes(pubkey_der))
    return key.encrypt(password.encode() + b"\0",
                       padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()),
                                    algorithm=hashes.SHA1(), label=None))


class Client:
    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.reply = None
        self.mini_header = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except ConnectionResetError:
                chunk = b""
            except socket.timeout:
                raise LinkClosed("timeout after %d of %d bytes" % (len(buf), n))
            if not chunk:
                raise LinkClosed("closed after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return buf

    def send_link(self, **kw):
        """Send header + SpiceLinkMess. Keywords: magic, major, minor, size
        (header fields) and the link_message() keywords."""
        hdr_kw = {k: kw.pop(k) for k in ("magic", "major", "minor") if k in kw}
        size = kw.pop("size", None)
        body = link_message(**kw)
        self.send(link_header(len(body) if size is None else size, **hdr_kw) + body)

    def read_reply(self):
        header = self.recv_exact(16)
        magic, size = header[:4], struct.unpack("<I", header[12:16])[0]
        if magic != MAGIC:
            raise LinkClosed("bad magic in server link header: %r" % magic)
        if size > 65536:
            raise LinkClosed("absurd server link size %d" % size)
        self.reply = LinkReply(header, self.recv_exact(size))
        return self.reply

    def send_ticket(self, password=""):
        """Auth mechanism (if negotiated) + encrypted ticket."""
        r = self.reply
        if r.has_common_cap(CAP_AUTH_SELECTION):
            self.send(struct.pack("<I", AUTH_MECH_SPICE))
        self.mini_header = r.has_common_cap(CAP_MINI_HEADER)
        self.send(encrypt_ticket(r.pubkey, password))

    def read_result(self):
        return struct.unpack("<I", self.recv_exact(4))[0]

    def link(self, password="", **kw):
        """Full link. Returns the error code: the reply's error if non-zero,
        else the 4-byte link result."""
        self.send_link(**kw)
        r = self.read_reply()
        if r.error != OK:
            return r.error
        self.send_ticket(password)
        return self.read_result()

    def read_msg(self):
        """(type, body) of one mini-header message."""
        if not self.mini_header:
            hdr = self.recv_exact(18)
            _serial, mtype, size, _sub = struct.unpack("<QHII", hdr)
        else:
            mtype, size = struct.unpack("<HI", self.recv_exact(6))
        if size > 64 << 20:
            raise LinkClosed("absurd message size %d" % size)
        return mtype, self.recv_exact(size)

    def send_msg(self, mtype, body=b"", size=None):
        n = len(body) if size is None else size
        if self.mini_header:
            self.send(struct.pack("<HI", mtype, n) + body)
        else:
            self.send(struct.pack("<QHII", 1, mtype, n, 0) + body)

    def wait_closed(self, timeout):
        """True if the server closes (EOF/reset) within timeout seconds;
        data received meanwhile is discarded."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True


def main_session_id(client, timeout=5.0):
    """Read main-channel messages until MAIN_INIT; return its session id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mtype, body = client.read_msg()
        if mtype == MSG_MAIN_INIT:
            return struct.unpack("<I", body[:4])[0]
    raise LinkClosed("no MAIN_INIT within %.1f s" % timeout)
