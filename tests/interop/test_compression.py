#!/usr/bin/python3
"""Every image-compression mode, decoded by a real spice-gtk client.

For each mode clove-demo serves the deterministic desktop; a SpiceClientGLib
client connects (announcing its GLZ window and LZ4 capability), then types
keys, so that updates are encoded after DISPLAY_INIT (GLZ with the client's
dictionary, LZ4 with its cap). The client's own decoded primary surface
must then equal the demo's --frame-out pixel for pixel, and a fresh
spicy-screenshot (whose first image is encoded before its DISPLAY_INIT
arrives) must too. The server's statistics line shows the codec really
shrank the data (raw bytes vs bytes sent).

Lossless modes only; JPEG is lossy and is checked by PSNR elsewhere."""

import ctypes
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
from test_input import GiClient, wait_frame  # noqa: E402

MODES = ["off", "quic", "lz", "glz", "lz4", "auto_glz", "auto_lz"]
KEYS = [0x23, 0x12, 0x26, 0x26, 0x18, 0x39, 0x11, 0x18, 0x13, 0x26, 0x20]  # "hello world"


class SurfaceClient(GiClient):
    """A GI client that keeps the primary surface's pixel pointer."""

    def _primary(self, _ch, fmt, width, height, stride, shmid, imgdata):
        super()._primary(_ch, fmt, width, height, stride, shmid, imgdata)
        self.surface = (fmt, width, height, stride, imgdata)

    def rgb(self):
        fmt, width, height, stride, imgdata = self.surface
        raw = ctypes.string_at(imgdata, stride * height)
        out = bytearray(width * height * 3)
        for y in range(height):
            row = raw[y * stride:y * stride + width * 4]
            o = out[y * width * 3:(y + 1) * width * 3]
            o[0::3] = row[2::4]
            o[1::3] = row[1::4]
            o[2::3] = row[0::4]
            out[y * width * 3:(y + 1) * width * 3] = o
        return width, height, bytes(out)


def run_mode(args, tmpdir, procs, mode):
    env_extra = {"CLOVE_DEBUG": "1"}
    os.environ.update(env_extra)
    demo = H.Demo(procs, args, tmpdir, extra=["--no-animation", "--image-compression", mode],
                  name="demo-" + mode).start()
    f0 = H.wait_stable_frame(demo.frame, 10)
    H.check(f0 is not None, "%s: initial frame never settled" % mode)
    cl = SurfaceClient(demo.port)
    try:
        H.check(cl.pump(lambda: cl.primary and cl.marked and cl.inputs_open, 20),
                "%s: GI client not ready within 20 s (errors %s)" % (mode, cl.errors))
        for code in KEYS:
            cl.inputs.key_press(code)
            cl.inputs.key_release(code)
            cl.pump(timeout=0.02)
        f1 = wait_frame(cl, demo.frame, f0, timeout=15)
        H.check(f1 is not None, "%s: the frame never changed after typing" % mode)
        want_w, want_h, want = H.parse_ppm(f1)
        # Give the client time to decode everything that was sent.
        matched = cl.pump(lambda: cl.rgb()[2] == want, 10)
        if not matched:
            w, h, got = cl.rgb()
            n = H.diff_pixels(got, want)
            raise H.TestFailure("%s: the client's surface differs from the frame in %d pixels"
                                % (mode, n))
        shot = H.capture(demo.port, tmpdir, "shot-" + mode, demo=demo)
        H.compare_ppm_bytes(shot, f1, "%s: spicy-screenshot vs --frame-out" % mode)
    finally:
        cl.close()
    demo.stop()
    # One statistics line per display client; the GI client saw the most images.
    stats = [tuple(map(int, m)) for m in
             re.findall(r"(\d+) images, (\d+) raw bytes sent as (\d+)", demo.stderr())]
    H.check(stats, "%s: no display statistics in the server log" % mode)
    images, raw, sent = max(stats)
    H.log("%-8s client surface and screenshot equal the frame; GI client: %d images, %d raw "
          "bytes sent as %d (%.1f%%)" % (mode, images, raw, sent, 100.0 * sent / max(raw, 1)))
    if mode != "off":
        H.check(sent < raw, "%s: images were not compressed (%d >= %d)" % (mode, sent, raw))
    return raw, sent


def body(args, tmpdir, procs):
    for mode in MODES:
        run_mode(args, tmpdir, procs, mode)


if __name__ == "__main__":
    H.run_main(body, __doc__)
