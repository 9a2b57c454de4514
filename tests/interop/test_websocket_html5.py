#!/usr/bin/python3
"""spice-html5 in headless Chromium, connected DIRECTLY to clove-demo's SPICE
port (websocket detected from the first bytes, no websockify):
  1. a malformed upgrade request gets "400 Bad Request" and a close;
  2. a well-formed upgrade gets "101" with the accept key of RFC 6455 and
     "Sec-WebSocket-Protocol: binary", and a SPICE link inside masked
     binary frames gets a SpiceLinkReply inside an unmasked binary frame;
  3. spice-html5 (served over http from /usr/share/spice-html5) draws the
     demo desktop: the canvas pixels equal the demo's --frame-out exactly.

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

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}).encode(), 0x1)
        while True:
            op, payload = self.ws.recv_message()
            H.check(op == 0x1, "CDP: unexpected opcode %d" % op)
            msg = json.loads(payload)
            if msg.get("method") == "Runtime.consoleAPICalled":
                args = msg["params"].get("args", [])
                self.console.append(" ".join(str(a.get("value", a.get("description", "")))
                                             for a in args))
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


def body(args, tmpdir, procs):
    H.need_programs("chromium")
    if not os.path.exists(os.path.join(HTML5_DIR, "spice_auto.html")):
        H.log("SKIP: spice-html5 is not installed (%s)" % HTML5_DIR)
        sys.exit(H.SKIP)

    demo = H.Demo(procs, args, tmpdir, extra=["--no-animation"]).start()
    frame = H.wait_stable_frame(demo.frame, 10)
    H.check(frame is not None, "the demo frame never settled")
    fw, fh, fpix = H.parse_ppm(frame)

    check_bad_upgrade(demo.port)
    check_link_over_websocket(demo.port)

    http_port = H.free_port()
    procs.popen("http.server", ["/usr/bin/python3", "-m", "http.server", str(http_port),
                                "--bind", "127.0.0.1", "--directory", HTML5_DIR],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    H.check(wait_http(http_port, "/spice_auto.html", 10), "http.server did not come up")

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
    H.check(wait_http(cdp_port, "/json/version", 20), "chromium DevTools did not come up")

    cdp = Cdp(cdp_port)
    try:
        cdp.call("Runtime.enable")
        cdp.call("Page.enable")
        url = ("http://127.0.0.1:%d/spice_auto.html?host=127.0.0.1&port=%d"
               % (http_port, demo.port))
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
        H.check(last is not None, "no %dx%d canvas appeared within 20 s; console: %r"
                % (fw, fh, cdp.console[-10:]))
        c, pix = last
        if pix != fpix:
            n = H.diff_pixels(pix, fpix)
            raise H.TestFailure("canvas %s differs from --frame-out in %d of %d pixels "
                                "(bbox %s); console: %r"
                                % (c["id"], n, fw * fh, H.diff_bbox(fw, pix, fpix),
                                   cdp.console[-10:]))
        H.log("spice-html5 canvas %s %dx%d equals --frame-out after %.2f s"
              % (c["id"], fw, fh, time.monotonic() - t0))
    finally:
        cdp.close()
    H.stop_process(chromium)
    H.check(demo.alive(), "clove-demo died")
    demo.stop()


if __name__ == "__main__":
    sys.exit(H.run_main(body, __doc__))
