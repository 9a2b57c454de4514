#!/usr/bin/python3
"""spice-html5 in headless Chromium, connected DIRECTLY to clove-demo's SPICE
port (websocket detected from the first bytes, no websockify):
  1. a malformed upgrade request gets "400 Bad Request" and a close;
  2. a well-formed upgrade gets "101" with the accept key of RFC 6455 and
     "Sec-WebSocket-Protocol: binary", and a SPICE link inside masked
     binary frames gets a SpiceLinkReply inside an unmasked binary frame;
  3. spice-html5 (served over http from /usr/share/spice-html5) draws the
     demo desktop: the canvas pixels equal the demo's --frame-out exactly,
     once per --image-compression mode (auto_glz, off, quic, lz, and glz /
     lz4 forced). spice-html5 announces a GLZ window of 0 in DISPLAY_INIT
     and no LZ4 capability, and decodes only BITMAP, QUIC, LZ_RGB (32-bit),
     JPEG(_ALPHA), FROM_CACHE(_LOSSLESS) and SURFACE images: the test reads
     the server's frames from Chromium's Network domain, parses the display
     channel's DRAW_COPY images and checks that no other image type was sent
     and that quic/lz modes really sent QUIC/LZ_RGB.

Chromium is driven over the DevTools protocol with the small websocket
client below (stdlib only); the canvas comes back as a PNG data URL that
png_decode() unpacks with zlib."""

import base64
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

HTML5_DIR = "/usr/share/spice-html5"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ---- a minimal websocket client (RFC 6455), used for CDP and the raw checks --

class WsClient:
    def __init__(self, host, port, path="/", protocol=None, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n" % (path, host, port, self.key))
        if protocol:
            req += "Sec-WebSocket-Protocol: %s\r\n" % protocol
        self.sock.sendall((req + "\r\n").encode())
        self.buf = b""
        head = self._read_until(b"\r\n\r\n")
        self.response = head.decode("latin-1")
        H.check(self.response.startswith("HTTP/1.1 101"),
                "websocket upgrade refused: %r" % self.response[:200])
        want = base64.b64encode(hashlib.sha1((self.key + WS_GUID).encode()).digest()).decode()
        H.check(("Sec-WebSocket-Accept: %s\r\n" % want) in self.response,
                "wrong Sec-WebSocket-Accept in %r" % self.response)

    def _read_until(self, marker):
        while marker not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise H.TestFailure("connection closed during the websocket handshake")
            self.buf += chunk
        i = self.buf.index(marker) + len(marker)
        head, self.buf = self.buf[:i], self.buf[i:]
        return head

    def _read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise H.TestFailure("websocket closed by the peer")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, payload, opcode=0x2):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def recv_frame(self):
        """(fin, opcode, payload) of one frame; server frames are unmasked."""
        b0, b1 = self._read_exact(2)
        H.check(not (b1 & 0x80), "server frame is masked")
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8))[0]
        return bool(b0 & 0x80), b0 & 0x0f, self._read_exact(n)

    def recv_message(self):
        """(opcode, payload) of a whole message; answers pings."""
        data, op = b"", None
        while True:
            fin, opcode, payload = self.recv_frame()
            if opcode == 0x9:
                self.send(payload, 0xA)
                continue
            if opcode in (0x8, 0xA):
                if opcode == 0x8:
                    return opcode, payload
                continue
            if op is None:
                op = opcode
            data += payload
            if fin:
                return op, data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---- PNG decoding (8-bit RGB/RGBA, non-interlaced) ---------------------------

def png_decode(data):
    """(width, height, rgb bytes) of a PNG as Chromium's toDataURL writes it."""
    H.check(data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack("!I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _comp, _filt, interlace = struct.unpack("!IIBBBBB", body)
            H.check(depth == 8 and ctype in (2, 6) and interlace == 0,
                    "unsupported PNG: depth %d type %d interlace %d" % (depth, ctype, interlace))
            bpp = 4 if ctype == 6 else 3
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    H.check(w is not None, "PNG without IHDR")
    raw = zlib.decompress(idat)
    stride = w * bpp
    out = bytearray(h * stride)
    prev = bytearray(stride)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xff
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xff
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xff
        out[y * stride:(y + 1) * stride] = line
        prev = line
    if bpp == 3:
        return w, h, bytes(out)
    rgb = bytearray(w * h * 3)
    rgb[0::3] = out[0::4]
    rgb[1::3] = out[1::4]
    rgb[2::3] = out[2::4]
    return w, h, bytes(rgb)


# ---- the raw protocol checks ----------------------------------------------------

def check_bad_upgrade(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    H.check(data.startswith(b"HTTP/1.1 400"), "malformed upgrade answered %r" % data[:100])
    H.log("malformed upgrade (no key): 400 and close")


def check_link_over_websocket(port):
    ws = WsClient("127.0.0.1", port, "/websockify", protocol="binary")
    try:
        H.check("Sec-WebSocket-Protocol: binary\r\n" in ws.response,
                "no 'Sec-WebSocket-Protocol: binary' in %r" % ws.response)
        # SpiceLinkMess for the main channel with the AUTH_SELECTION,
        # AUTH_SPICE and MINI_HEADER common caps, sent in two frames.
        body = struct.pack("<IBBIII", 0, 1, 0, 1, 0, 18) + struct.pack("<I", 0b1011)
        head = struct.pack("<IIII", 0x51444552, 2, 2, len(body))
        ws.send(head[:10])
        ws.send(head[10:] + body)
        got = b""
        while len(got) < 16:
            op, payload = ws.recv_message()
            H.check(op == 0x2, "expected a binary frame, got opcode %d" % op)
            got += payload
        magic, major, _minor, size = struct.unpack("<IIII", got[:16])
        H.check(magic == 0x51444552 and major == 2, "bad link reply header %r" % got[:16])
        while len(got) < 16 + size:
            got += ws.recv_message()[1]
        err = struct.unpack("<I", got[16:20])[0]
        H.check(err == 0, "link over websocket: error %d" % err)
        # A ping between messages is answered with the same payload.
        ws.send(b"clove", 0x9)
        fin, op, payload = ws.recv_frame()
        H.check(op == 0xA and payload == b"clove", "ping answered with op %d %r" % (op, payload))
        # A close is echoed.
        ws.send(struct.pack("!H", 1000), 0x8)
        fin, op, payload = ws.recv_frame()
        H.check(op == 0x8, "close answered with op %d" % op)
    finally:
        ws.close()
    H.log("link over websocket: 101 + binary protocol, link reply OK, ping/pong, close echo")


# ---- Chromium over CDP -----------------------------------------------------------

class Cdp:
    def __init__(self, port):
        targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port,
                                                   timeout=5))
        pages = [t for t in targets if t.get("type") == "page"]
        H.check(pages, "chromium has no page target: %r" % targets)
        url = pages[0]["webSocketDebuggerUrl"]
        hostport, path = url[len("ws://"):].split("/", 1)
        host, p = hostport.rsplit(":", 1)
        self.ws = WsClient(host, int(p), "/" + path, timeout=30)
        self.next_id = 0
        self.console = []
        self.ws_rx = {}  # websocket requestId -> bytearray of binary payloads received

    def _event(self, msg):
        method = msg.get("method")
        if method == "Runtime.consoleAPICalled":
            args = msg["params"].get("args", [])
            self.console.append(" ".join(str(a.get("value", a.get("description", "")))
                                         for a in args))
        elif method == "Network.webSocketFrameReceived":
            resp = msg["params"]["response"]
            if resp.get("opcode") == 2:
                rx = self.ws_rx.setdefault(msg["params"]["requestId"], bytearray())
                rx += base64.b64decode(resp.get("payloadData", ""))

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}).encode(), 0x1)
        while True:
            op, payload = self.ws.recv_message()
            H.check(op == 0x1, "CDP: unexpected opcode %d" % op)
            msg = json.loads(payload)
            self._event(msg)
            if msg.get("id") == my_id:
                H.check("error" not in msg, "CDP %s failed: %r" % (method, msg.get("error")))
                return msg.get("result", {})

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        if "exceptionDetails" in r:
            raise H.TestFailure("JS exception: %r" % r["exceptionDetails"])
        return r["result"].get("value")

    def close(self):
        self.ws.close()


def wait_http(port, path, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=2).read()
            return True
        except OSError:
            time.sleep(0.1)
    return False


CANVAS_JS = """(function() {
  var best = null;
  document.querySelectorAll('canvas').forEach(function(c) {
    if (!best || c.width * c.height > best.width * best.height) best = c;
  });
  if (!best) return null;
  return {id: best.id, w: best.width, h: best.height, png: best.toDataURL('image/png')};
})()"""


# spice-html5 decodes these image types (display.js, DRAW_COPY); LZ_RGB only
# for the RGB32/RGBA/XXXA LZ types (lz.js).
HTML5_IMAGE_TYPES = {0: "BITMAP", 1: "QUIC", 101: "LZ_RGB", 103: "FROM_CACHE", 104: "SURFACE",
                     105: "JPEG", 106: "FROM_CACHE_LOSSLESS", 108: "JPEG_ALPHA"}
IMAGE_TYPE_NAMES = dict(HTML5_IMAGE_TYPES)
IMAGE_TYPE_NAMES.update({100: "LZ_PLT", 102: "GLZ_RGB", 107: "ZLIB_GLZ_RGB", 109: "LZ4"})
MSG_DISPLAY_DRAW_COPY = 304
CLIP_TYPE_RECTS = 1
# What each mode must have sent at least once (the demo desktop is large
# enough for QUIC and LZ; auto_glz picks QUIC or LZ_RGB per image).
MODE_EXPECTS = {"off": {0}, "quic": {1}, "lz": {101}, "glz": {101}, "lz4": {101},
                "auto_glz": {1, 101}}
MODES = ["auto_glz", "off", "quic", "lz", "glz", "lz4"]


def spice_draw_copy_images(stream):
    """Image types of the DRAW_COPY messages in one channel's server->client
    byte stream (link reply, 4-byte link result, then mini-header messages);
    an incomplete tail is ignored."""
    types = []
    if len(stream) < 16:
        return types
    magic, _major, _minor, size = struct.unpack_from("<IIII", stream, 0)
    if magic != 0x51444552:
        return types
    pos = 16 + size + 4
    while pos + 6 <= len(stream):
        mtype, msize = struct.unpack_from("<HI", stream, pos)
        body = bytes(stream[pos + 6:pos + 6 + msize])
        pos += 6 + msize
        if len(body) < msize:
            break
        if mtype != MSG_DISPLAY_DRAW_COPY or len(body) < 21:
            continue
        at = 4 + 16  # surface_id, box
        clip = body[at]
        at += 1
        if clip == CLIP_TYPE_RECTS:
            n = struct.unpack_from("<I", body, at)[0]
            at += 4 + 16 * n
        if at + 4 > len(body):
            continue
        offset = struct.unpack_from("<I", body, at)[0]
        if offset and offset + 9 <= len(body):
            types.append(body[offset + 8])
    return types


def show_canvas(cdp, demo, fw, fh, fpix, mode):
    cdp.ws_rx.clear()
    cdp.console.clear()
    url = ("http://127.0.0.1:%d/spice_auto.html?host=127.0.0.1&port=%d"
           % (cdp.http_port, demo.port))
    cdp.call("Page.navigate", url=url)
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < 20:
        c = cdp.evaluate(CANVAS_JS)
        if c and c["w"] == fw and c["h"] == fh:
            w, h, pix = png_decode(base64.b64decode(c["png"].split(",", 1)[1]))
            last = (c, pix)
            if pix == fpix:
                break
        time.sleep(0.25)
    H.check(last is not None, "%s: no %dx%d canvas appeared within 20 s; console: %r"
            % (mode, fw, fh, cdp.console[-10:]))
    c, pix = last
    seen = {}
    for stream in cdp.ws_rx.values():
        for t in spice_draw_copy_images(stream):
            seen[t] = seen.get(t, 0) + 1
    names = ", ".join("%s x%d" % (IMAGE_TYPE_NAMES.get(t, "type %d" % t), n)
                      for t, n in sorted(seen.items()))
    bad = [t for t in seen if t not in HTML5_IMAGE_TYPES]
    H.check(not bad, "%s: the server sent spice-html5 image types it cannot decode: %s"
            % (mode, names))
    if pix != fpix:
        n = H.diff_pixels(pix, fpix)
        raise H.TestFailure("%s: canvas %s differs from --frame-out in %d of %d pixels "
                            "(bbox %s); images: %s; console: %r"
                            % (mode, c["id"], n, fw * fh, H.diff_bbox(fw, pix, fpix), names,
                               cdp.console[-10:]))
    H.check(seen.keys() & MODE_EXPECTS[mode],
            "%s: expected one of %s among the DRAW_COPY images, got: %s"
            % (mode, sorted(IMAGE_TYPE_NAMES[t] for t in MODE_EXPECTS[mode]), names or "none"))
    fixme = [m for m in cdp.console if "FIXME" in m or "unhandled" in m.lower()]
    H.check(not fixme, "%s: spice-html5 complained: %r" % (mode, fixme[:5]))
    H.log("%s: spice-html5 canvas %s %dx%d equals --frame-out after %.2f s (images: %s)"
          % (mode, c["id"], fw, fh, time.monotonic() - t0, names))
    cdp.call("Page.navigate", url="about:blank")


def body(args, tmpdir, procs):
    H.need_programs("chromium")
    if not os.path.exists(os.path.join(HTML5_DIR, "spice_auto.html")):
        H.log("SKIP: spice-html5 is not installed (%s)" % HTML5_DIR)
        sys.exit(H.SKIP)

    http_port = H.free_port()
    procs.popen("http.server", ["/usr/bin/python3", "-m", "http.server", str(http_port),
                                "--bind", "127.0.0.1", "--directory", HTML5_DIR],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    cdp_port = H.free_port()
    profile = os.path.join(tmpdir, "chromium-profile")
    chromium = procs.popen("chromium", [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-breakpad", "--disable-crash-reporter",
        "--user-data-dir=" + profile, "--window-size=1100,900",
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=%d" % cdp_port,
        "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)

    first = True
    cdp = None
    try:
        for mode in MODES:
            demo = H.Demo(procs, args, tmpdir, name="demo-" + mode,
                          extra=["--no-animation", "--image-compression", mode]).start()
            frame = H.wait_stable_frame(demo.frame, 10)
            H.check(frame is not None, "%s: the demo frame never settled" % mode)
            fw, fh, fpix = H.parse_ppm(frame)
            if first:
                first = False
                check_bad_upgrade(demo.port)
                check_link_over_websocket(demo.port)
                H.check(wait_http(http_port, "/spice_auto.html", 10),
                        "http.server did not come up")
                H.check(wait_http(cdp_port, "/json/version", 20),
                        "chromium DevTools did not come up")
                cdp = Cdp(cdp_port)
                cdp.http_port = http_port
                cdp.call("Runtime.enable")
                cdp.call("Page.enable")
                cdp.call("Network.enable", maxTotalBufferSize=256 * 1024 * 1024)
            show_canvas(cdp, demo, fw, fh, fpix, mode)
            H.check(demo.alive(), "%s: clove-demo died" % mode)
            demo.stop()
    finally:
        if cdp is not None:
            cdp.close()
    H.stop_process(chromium)


if __name__ == "__main__":
    sys.exit(H.run_main(body, __doc__))
