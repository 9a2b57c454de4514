#!/usr/bin/python3
"""remote-viewer (virt-viewer) under Xvfb renders clove-demo's frame 1:1:
we grab the X root window with xwd, convert it to PPM, locate the demo's
frame inside the screenshot by matching a distinctive row, then compare the
whole frame region pixel-exact. The guest is 640x480 on a 1280x1024 screen,
so remote-viewer never needs to scale it."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

GW, GH = 640, 480
SCREEN = "1280x1024x24"


def start_xvfb(procs, tmpdir):
    for _attempt in range(5):
        n = H.free_display()
        log = open(os.path.join(tmpdir, "xvfb-%d.log" % n), "wb")
        p = procs.popen("Xvfb", ["Xvfb", ":%d" % n, "-screen", "0", SCREEN,
                                 "-nolisten", "tcp", "-noreset"],
                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and p.poll() is None:
            r = subprocess.run(["xdpyinfo", "-display", ":%d" % n], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return n
            time.sleep(0.1)
        H.stop_process(p)
    raise H.TestFailure("Xvfb did not start")


def grab(display, tmpdir):
    env = dict(os.environ, DISPLAY=":%d" % display)
    xwd = subprocess.run(["xwd", "-root", "-silent"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=20)
    if xwd.returncode != 0:
        # Transient BadMatch while windows are being mapped: caller retries.
        H.log("xwd failed (will retry): %s" % xwd.stderr.decode(errors="replace").strip()[:200])
        return None
    conv = subprocess.run(["convert", "xwd:-", "ppm:-"], input=xwd.stdout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    H.check(conv.returncode == 0, "convert failed: %s" % conv.stderr.decode(errors="replace"))
    return conv.stdout


def distinctive_row(w, h, pix):
    """Index of the frame row with the most distinct pixel values."""
    best, best_n = 0, -1
    for y in range(0, h, max(1, h // 64)):
        row = pix[y * w * 3:(y + 1) * w * 3]
        n = len({row[i:i + 3] for i in range(0, len(row), 3)})
        if n > best_n:
            best, best_n = y, n
    return best


def locate(frame, screen):
    """(ox, oy, differing pixels) of the best placement of frame in screen,
    or None if the distinctive row occurs nowhere."""
    fw, fh, fp = H.parse_ppm(frame)
    sw, sh, sp = H.parse_ppm(screen)
    ry = distinctive_row(fw, fh, fp)
    needle = fp[ry * fw * 3:(ry + 1) * fw * 3]
    for sy in range(ry, sh - (fh - ry) + 1):
        srow = sp[sy * sw * 3:(sy + 1) * sw * 3]
        pos = srow.find(needle)
        while pos >= 0:
            if pos % 3 == 0:
                ox, oy = pos // 3, sy - ry
                if ox + fw <= sw:
                    region = b"".join(sp[((oy + y) * sw + ox) * 3:((oy + y) * sw + ox + fw) * 3]
                                      for y in range(fh))
                    return ox, oy, H.diff_pixels(region, fp)
            pos = srow.find(needle, pos + 1)
    return None


def body(args, tmpdir, procs):
    H.need_programs("Xvfb", "xdpyinfo", "xwd", "convert", "remote-viewer")
    demo = H.Demo(procs, args, tmpdir, extra=["--no-animation", "--width", str(GW),
                                              "--height", str(GH)]).start()
    frame = H.wait_stable_frame(demo.frame, 10)
    fw, fh, _ = H.parse_ppm(frame)
    H.check((fw, fh) == (GW, GH), "demo frame is %dx%d, asked for %dx%d" % (fw, fh, GW, GH))

    display = start_xvfb(procs, tmpdir)
    runtime = os.path.join(tmpdir, "xdg-runtime")
    os.mkdir(runtime, 0o700)
    env = dict(os.environ, DISPLAY=":%d" % display, GDK_BACKEND="x11", XDG_RUNTIME_DIR=runtime,
               NO_AT_BRIDGE="1", HOME=tmpdir)
    env.pop("LD_LIBRARY_PATH", None)
    rv_log = open(os.path.join(tmpdir, "remote-viewer.log"), "wb")
    rv = procs.popen("remote-viewer", ["remote-viewer", "--zoom=100",
                                       "spice://127.0.0.1:%d" % demo.port],
                     env=env, stdout=rv_log, stderr=subprocess.STDOUT)

    deadline = time.monotonic() + 40
    found, screen = None, None
    while time.monotonic() < deadline:
        time.sleep(0.5)
        H.check(rv.poll() is None, "remote-viewer exited with rc=%s" % rv.poll())
        H.check(demo.alive(), "clove-demo died while remote-viewer was connected")
        screen = grab(display, tmpdir)
        if screen is None:
            continue
        # The demo may redraw when a client connects (e.g. mouse mode shown
        # on screen): always compare with its newest frame.
        frame = H.read_file(demo.frame)
        found = locate(frame, screen)
        if found and found[2] == 0:
            break
    shot = os.path.join(tmpdir, "screen.ppm")
    with open(shot, "wb") as f:
        f.write(screen or b"")
    with open(os.path.join(tmpdir, "expected.ppm"), "wb") as f:
        f.write(frame)
    H.check(found is not None, "the demo's frame does not appear in the X screenshot "
            "(saved as %s)" % shot)
    ox, oy, ndiff = found
    H.check(ndiff == 0, "frame found at +%d+%d but %d of %d pixels differ (screenshot %s)"
            % (ox, oy, ndiff, fw * fh, shot))
    H.log("remote-viewer shows the %dx%d frame pixel-exact at +%d+%d" % (fw, fh, ox, oy))
    H.stop_process(rv)
    demo.stop()


if __name__ == "__main__":
    sys.exit(H.run_main(body, __doc__))
