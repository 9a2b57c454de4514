#!/usr/bin/python3
"""A scripted real client (SpiceClientGLib via PyGObject) types "hello",
moves the mouse and clicks; clove-demo --verbose must report the events on
stdout, its --frame-out must change (text after the keys, a mark around the
click point), and a fresh spicy-screenshot must equal the new frame.

Pitfall: Session.connect()/Channel.connect() shadow GObject's signal
connect(), so signals are connected with GObject.Object.connect()."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

# PC XT set-1 make codes for h e l l o
HELLO = [0x23, 0x12, 0x26, 0x26, 0x18]
BUTTON_LEFT = 1          # SPICE_MOUSE_BUTTON_LEFT
BUTTON_MASK_LEFT = 1     # SPICE_MOUSE_BUTTON_MASK_LEFT
MOUSE_MODE_CLIENT = 2


def load_gi():
    try:
        import gi
        gi.require_version("SpiceClientGLib", "2.0")
        from gi.repository import GLib, GObject, SpiceClientGLib
    except (ImportError, ValueError) as e:
        H.log("SKIP: SpiceClientGLib via gi unavailable (%s); install python3-gi and "
              "gir1.2-spiceclientglib-2.0" % e)
        sys.exit(H.SKIP)
    return GLib, GObject, SpiceClientGLib


class GiClient:
    def __init__(self, port):
        self.GLib, self.GObject, self.S = load_gi()
        S = self.S
        self.ctx = self.GLib.MainContext.default()
        self.main = self.inputs = None
        self.inputs_open = False
        self.marked = False
        self.primary = None
        self.errors = []
        self.session = S.Session()
        self.session.set_property("uri", "spice://127.0.0.1:%d" % port)
        self.GObject.Object.connect(self.session, "channel-new", self._channel_new)
        H.check(S.Session.connect(self.session), "spice_session_connect failed")

    def _channel_new(self, _session, ch):
        S, G = self.S, self.GObject
        G.Object.connect(ch, "channel-event", self._event)
        if isinstance(ch, S.MainChannel):
            self.main = ch
        elif isinstance(ch, S.InputsChannel):
            self.inputs = ch
        elif isinstance(ch, S.DisplayChannel):
            G.Object.connect(ch, "display-primary-create", self._primary)
            G.Object.connect(ch, "display-mark", self._mark)
        if not isinstance(ch, S.MainChannel):
            S.Channel.connect(ch)

    def _event(self, ch, event):
        S = self.S
        if event == S.ChannelEvent.OPENED and isinstance(ch, S.InputsChannel):
            self.inputs_open = True
        elif event not in (S.ChannelEvent.OPENED, S.ChannelEvent.CLOSED):
            self.errors.append("%s: event %s" % (type(ch).__name__, event))

    def _primary(self, _ch, fmt, width, height, stride, shmid, imgdata):
        self.primary = (width, height)

    def _mark(self, _ch, mark):
        if mark:
            self.marked = True

    def pump(self, until=None, timeout=0.0):
        deadline = time.monotonic() + timeout
        while True:
            while self.ctx.pending():
                self.ctx.iteration(False)
            if until is not None and until():
                return True
            if time.monotonic() >= deadline:
                return until() if until is not None else True
            time.sleep(0.01)

    def mouse_mode(self):
        return self.main.get_property("mouse-mode") if self.main else 0

    def close(self):
        try:
            self.session.disconnect()
            self.pump(timeout=0.2)
        except Exception:  # noqa: BLE001 - best-effort teardown
            pass


def body(args, tmpdir, procs):
    demo = H.Demo(procs, args, tmpdir, extra=["--no-animation", "--verbose"]).start()
    f0 = H.wait_stable_frame(demo.frame, 10)
    H.check(f0 is not None, "initial frame never settled")
    w, h, p0 = H.parse_ppm(f0)

    cl = GiClient(demo.port)
    try:
        H.check(cl.pump(lambda: cl.primary and cl.marked and cl.inputs_open, 20),
                "GI client: display/inputs not ready within 20 s (primary=%s mark=%s "
                "inputs=%s errors=%s)" % (cl.primary, cl.marked, cl.inputs_open, cl.errors))
        H.check(cl.primary == (w, h), "client primary %s != frame %dx%d" % (cl.primary, w, h))
        cl.pump(timeout=0.5)  # let the mouse-mode negotiation settle
        mode = cl.mouse_mode()
        H.log("client ready: primary %dx%d, mouse mode %s" % (w, h, mode))

        # --- keys ---
        start = len(demo.lines)
        for sc in HELLO:
            cl.inputs.key_press(sc)
            cl.pump(timeout=0.03)
            cl.inputs.key_release(sc)
            cl.pump(timeout=0.03)
        deadline = time.monotonic() + 10
        codes = []
        while time.monotonic() < deadline:
            cl.pump(timeout=0.05)
            codes = [int(m.group(1), 0) for m in
                     (re.search(r"clove-demo: input key=(0x[0-9a-fA-F]+|\d+)", ln)
                      for ln in demo.lines[start:]) if m]
            if is_subsequence(HELLO, codes) and len(codes) >= len(HELLO):
                break
        H.check(is_subsequence(HELLO, codes),
                "demo reported keys %s, expected %s in order" % (codes, HELLO))
        H.check(len(codes) in (len(HELLO), 2 * len(HELLO)),
                "demo reported %d key events for %d presses: %s" % (len(codes), len(HELLO),
                                                                    codes))
        f1 = wait_frame(cl, demo.frame, f0)
        H.check(f1 is not None, "frame did not change after typing")
        _, _, p1 = H.parse_ppm(f1)
        box1 = H.diff_bbox(w, p0, p1)
        H.log("keys %s reported; typing changed %d pixels in %s"
              % (codes, H.diff_pixels(p0, p1), box1))

        # --- mouse: move, then click away from the text ---
        tx, ty = w * 3 // 4, h * 3 // 4
        if box1 and box1[0] - 20 <= tx <= box1[2] + 20 and box1[1] - 20 <= ty <= box1[3] + 20:
            tx, ty = w * 7 // 8, h * 7 // 8
        start = len(demo.lines)
        if mode == MOUSE_MODE_CLIENT:
            for i in range(5, 0, -1):
                cl.inputs.position(tx - 10 * i, ty - 5 * i, 0, 0)
                cl.pump(timeout=0.02)
            cl.inputs.position(tx, ty, 0, 0)
        else:
            for _ in range(8):
                cl.inputs.motion(7, 5, 0)
                cl.pump(timeout=0.02)
        cl.pump(timeout=0.1)
        # button_state is sent as given: pass the state after each event.
        cl.inputs.button_press(BUTTON_LEFT, BUTTON_MASK_LEFT)
        cl.pump(timeout=0.05)
        cl.inputs.button_release(BUTTON_LEFT, 0)
        i = None
        deadline = time.monotonic() + 10
        while i is None and time.monotonic() < deadline:
            cl.pump(timeout=0.05)
            i = demo.wait_line(r"clove-demo: input click x=-?\d+ y=-?\d+", 0.01, start)
        H.check(i is not None, "demo printed no click line; stdout tail: %s"
                % demo.lines[-5:])
        m = re.search(r"x=(-?\d+) y=(-?\d+)", demo.lines[i])
        cx, cy = int(m.group(1)), int(m.group(2))
        if mode == MOUSE_MODE_CLIENT:
            H.check(abs(cx - tx) <= 1 and abs(cy - ty) <= 1,
                    "click reported at %d,%d, sent at %d,%d" % (cx, cy, tx, ty))
        f2 = wait_frame(cl, demo.frame, f1)
        H.check(f2 is not None, "frame did not change after the click")
        _, _, p2 = H.parse_ppm(f2)
        near = count_diff_in(w, p1, p2, cx - 16, cy - 16, cx + 16, cy + 16)
        H.check(near > 0, "click at %d,%d: no pixel changed within 16 px (diff bbox %s)"
                % (cx, cy, H.diff_bbox(w, p1, p2)))
        H.log("click reported at %d,%d (mode %s); %d pixels changed around it"
              % (cx, cy, mode, near))
    finally:
        cl.close()

    # A new client sees exactly the new frame.
    f2 = H.wait_stable_frame(demo.frame, 10)
    shot = H.capture(demo, tmpdir, "after-input")
    H.compare_ppm_bytes(shot, f2, "screenshot after input vs --frame-out")
    H.log("spicy-screenshot equals the frame after input")
    demo.stop()


def wait_frame(cl, path, old, timeout=10):
    """Pump the client while waiting for a settled frame different from old."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cl.pump(timeout=0.1)
        f = H.wait_stable_frame(path, 0.6, quiet=0.3, differs_from=old)
        if f is not None:
            return f
    return None


def is_subsequence(needle, hay):
    it = iter(hay)
    return all(any(x == y for y in it) for x in needle)


def count_diff_in(w, a, b, x0, y0, x1, y1):
    h = len(a) // (w * 3)
    n = 0
    for y in range(max(0, y0), min(h, y1 + 1)):
        for x in range(max(0, x0), min(w, x1 + 1)):
            o = (y * w + x) * 3
            if a[o:o + 3] != b[o:o + 3]:
                n += 1
    return n


if __name__ == "__main__":
    sys.exit(H.run_main(body, __doc__))
