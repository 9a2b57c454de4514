#!/usr/bin/python3
"""The pixmap cache against real peers: Xspice's driver (xf86-video-qxl)
marks the pixmaps it uploads QXL_IMAGE_CACHE, so redrawing the same X
content sends the same images again.

Xspice runs on OUR library with CLOVE_DEBUG=1. A SpiceClientGLib client
(announcing spice-gtk's pixmap cache in DISPLAY_INIT) stays connected
while X redraws a tiled root window and an xterm many times. Then:
  * the client's own decoded primary surface must equal a fresh
    spicy-screenshot capture, pixel for pixel (a FROM_CACHE the client did
    not hold would hang or garble it; an eviction both sides did not agree
    on would too),
  * the server's statistics line for the GI client's display channel must
    show pixmap cache hits, and the bytes they saved are reported.
Exit: 0 pass, 1 fail, 77 skip.
"""

import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "xspice"))
import harness as H  # noqa: E402

BITMAPS = "/usr/include/X11/bitmaps"


def body(args, tmpdir, procs):
    H.need_programs("Xspice", "Xorg", "xsetroot", "xterm", "spicy-screenshot", "timeout")
    if not args.our_libdir:
        raise H.TestFailure("--our-libdir is required")
    tiles = [os.path.join(BITMAPS, n) for n in ("xlogo16", "woman", "star", "xlogo32")]
    tiles = [t for t in tiles if os.path.exists(t)]
    H.check(len(tiles) >= 2, "X bitmaps missing in %s" % BITMAPS)
    import test_xspice as XS  # noqa: E402 - needs the path set above
    from test_compression import SurfaceClient  # noqa: E402
    args.debug = 1
    xs = XS.Xspice(procs, args, tmpdir, "ours").start()
    stats_text = ""
    try:
        cl = SurfaceClient(xs.port)
        try:
            H.check(cl.pump(lambda: cl.primary and cl.marked, 20),
                    "GI client not ready within 20 s (errors %s)" % cl.errors)
            xs.client("xterm", ["xterm", "+bc", "-geometry", "60x12+200+150", "-fg", "black",
                                "-bg", "white", "-fn", "fixed", "-e", "sh", "-c",
                                "for i in $(seq 1 40); do echo clove cache line $i; "
                                "sleep 0.02; done; exec cat"])
            # Each pass re-tiles the whole root with one of a few bitmaps:
            # the same tile images come back again and again.
            for rnd in range(12):
                tile = tiles[rnd % len(tiles)]
                subprocess.run(["timeout", "5", "xsetroot", "-bitmap", tile,
                                "-fg", "#204080", "-bg", "#e0c060"], env=xs.xenv(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                cl.pump(timeout=0.15)
            # Let the screen settle, then compare the client with a capture.
            want = None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                cl.pump(timeout=0.5)
                shot, _ = xs.capture("settled")
                if shot == want:
                    break
                want = shot
            H.check(want is not None, "no capture")
            _, _, want_rgb = H.parse_ppm(want)
            matched = cl.pump(lambda: cl.rgb()[2] == want_rgb, 10)
            if not matched:
                w, h, got = cl.rgb()
                raise H.TestFailure("the GI client's surface differs from spicy-screenshot in "
                                    "%d pixels" % H.diff_pixels(got, want_rgb))
            H.log("GI client surface equals spicy-screenshot's capture")
        finally:
            cl.close()
            time.sleep(0.5)
    finally:
        xs.stop()
        with open(xs.out_path, "rb") as f:
            stats_text = f.read().decode("utf-8", "replace")
    for m in H.SANITIZER_MARKERS:
        H.check(m not in stats_text, "sanitizer report from Xorg:\n%s" % stats_text[-3000:])
    stats = [tuple(map(int, m)) for m in re.findall(
        r"(\d+) raw bytes sent as (\d+); (\d+) bytes in \d+ messages on the wire;.*?"
        r"pixmap cache: (\d+) hits saving (\d+) bytes, (\d+) added, (\d+) evicted", stats_text)]
    H.check(stats, "no display statistics with cache figures in the server log:\n%s"
            % stats_text[-2000:])
    raw, sent, wire, hits, saved, added, evicted = max(stats, key=lambda s: s[3])
    H.log("GI client: %d bytes on the wire; images %d raw bytes sent as %d; pixmap cache %d "
          "hits saved %d bytes (%.1f%% of what would have been sent), %d added, %d evicted"
          % (wire, raw, sent, hits, saved, 100.0 * saved / max(saved + sent, 1), added,
             evicted))
    H.check(hits > 0, "no pixmap cache hits")
    H.check(saved > 0, "cache hits saved nothing")


if __name__ == "__main__":
    sys.exit(H.run_main(body, __doc__))
