#!/usr/bin/python3
"""Every QXL draw operation, drawn by our library and by Debian's, compared
pixel for pixel with what Debian's spice-gtk draws.

gen_ops_trace (tests/interop/ops/) writes a QXL trace that uses every draw
operation: fills with solid and pattern brushes and 1-bit masks (plain and
inverted), XOR fills, blackness / whiteness / invers with clip rects,
copies with ROP descriptors, masks and scaling, blend, opaque, transparent,
alpha blend (global and per-pixel alpha), ROP3 with pattern and solid
brushes, strokes (a polyline, a closed path, steep and shallow lines, XOR,
a dashed line), A1 text with and without a back area, copy bits, and
copies of 1/4/8-bit palette bitmaps (LZ_PLT or BITMAP with a palette, the
second of two sharing a palette id taking it from the client's cache; 150
tiles with 135 palette ids, more than the client's palette cache holds).
clove-replay serves it on each library and image-compression mode:

  * late: replayed with no client, then spicy-screenshot connects; it gets
    the server's rendered surface as one image, so this compares the
    server canvases (ours against the reference's spice-common canvas);
  * live: a SpiceClientGLib client is connected before the first command
    (replay_gate.so holds the replay back until it is), so it receives
    every operation as a draw message and renders it with spice-gtk's
    canvas: this checks our wire writers against a real client.

  * live, our client: clove-shot --settle connected the same way, drawing
    every operation with libclove-client's canvas.

All the captures must be identical. On a difference the test names the
operations whose cells differ (the scene's layout is listed below).
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "bench"))
import harness as H  # noqa: E402

# (name, left, top, right, bottom) of each operation's cell in the scene
CELLS = [
    ("fill pattern", 10, 10, 60, 60), ("fill mask", 70, 10, 120, 60),
    ("fill mask invers", 130, 10, 180, 60), ("fill xor", 190, 10, 240, 60),
    ("fill pattern invers-brush", 250, 10, 300, 60), ("blackness clip", 310, 10, 360, 60),
    ("whiteness", 365, 10, 395, 30), ("invers", 365, 35, 395, 60),
    ("copy", 10, 70, 60, 120), ("copy invers-src", 70, 70, 120, 120),
    ("copy or", 130, 70, 180, 120), ("copy mask", 190, 70, 240, 120),
    ("copy scaled", 250, 70, 300, 120), ("blend and", 310, 70, 360, 120),
    ("opaque", 10, 130, 60, 180), ("transparent", 70, 130, 120, 180),
    ("alpha blend 128", 130, 130, 180, 180), ("alpha blend src alpha", 190, 130, 240, 180),
    ("rop3 b8", 250, 130, 295, 180), ("rop3 1e", 300, 130, 345, 180),
    ("rop3 69 solid", 350, 130, 395, 180),
    ("stroke polyline", 10, 190, 60, 240), ("stroke closed", 70, 190, 120, 240),
    ("stroke lines put/xor", 130, 190, 180, 240), ("stroke dashed", 190, 190, 240, 240),
    ("palette 8-bit", 250, 190, 295, 214), ("palette 8-bit cached", 250, 216, 295, 240),
    ("palette 1-bit", 300, 190, 345, 214), ("palette 1-bit uncached", 300, 216, 345, 240),
    ("palette 4-bit", 350, 190, 395, 214), ("palette 4-bit cached", 350, 216, 395, 240),
    ("palette evictions", 190, 250, 240, 262),
    ("text back area", 10, 250, 90, 290), ("text pattern", 100, 250, 180, 290),
    ("copy bits", 250, 245, 350, 295),
]
# off: palettes in BITMAPs; auto_glz: LZ_PLT; quic: palette images expanded to 32 bits
MODES = ["off", "auto_glz", "quic"]


def build_root(args):
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(args.demo))))


def cells_differing(w, a, b):
    """Names of the scene cells where two RGB buffers differ, and the count
    of differing pixels outside every cell."""
    names, outside = [], 0
    inside = bytearray(w * (len(a) // (3 * w)))
    for name, x0, y0, x1, y1 in CELLS:
        bad = False
        for y in range(y0, y1):
            for x in range(x0, x1):
                inside[y * w + x] = 1
                i = 3 * (y * w + x)
                if a[i:i + 3] != b[i:i + 3]:
                    bad = True
        if bad:
            names.append(name)
    for i in range(len(inside)):
        if not inside[i] and a[3 * i:3 * i + 3] != b[3 * i:3 * i + 3]:
            outside += 1
    return names, outside


def compare(got, want, what, tmpdir, tag):
    if got == want:
        H.log("%s: identical" % what)
        return None
    gw, gh, gp = H.parse_ppm(got)
    ww, wh, wp = H.parse_ppm(want)
    if (gw, gh) != (ww, wh):
        return "%s: size %dx%d, expected %dx%d" % (what, gw, gh, ww, wh)
    names, outside = cells_differing(gw, gp, wp)
    with open(os.path.join(tmpdir, tag + ".got.ppm"), "wb") as f:
        f.write(got)
    with open(os.path.join(tmpdir, tag + ".want.ppm"), "wb") as f:
        f.write(want)
    return "%s: %d pixels differ; operations: %s; outside cells: %d" % (
        what, H.diff_pixels(gp, wp), ", ".join(names) or "-", outside)


def replay_env(args, lib, gate=None):
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = args.our_libdir if lib == "ours" else args.ref_libdir
    env.pop("SPICE_WORKER_RECORD_FILENAME", None)
    env.pop("LD_PRELOAD", None)
    if gate:
        env["LD_PRELOAD"] = os.path.join(build_root(args), "tests", "bench", "replay_gate.so")
        env["CLOVE_REPLAY_GATE"] = gate
    return env


def wait_out(path, text, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in H.read_file(path).decode(errors="replace"):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def check_library(proc, args, lib, tag):
    path = H.loaded_library(proc.pid, "libspice-server.so")
    want = os.path.realpath(args.our_libdir if lib == "ours" else args.ref_libdir)
    H.check(path is not None and os.path.dirname(os.path.realpath(path)) == want,
            "%s: clove-replay mapped %s, expected a library in %s" % (tag, path, want))


def start_replay(args, tmpdir, trace, lib, mode, tag, gate=None):
    port = H.free_port()
    out_path = os.path.join(tmpdir, tag + ".out")
    replay = os.path.join(build_root(args), "apps", "clove-replay", "clove-replay")
    argv = [replay, "--port", str(port), "--image-compression", mode, "--seconds", "60", trace]
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                env=replay_env(args, lib, gate))
    return proc, port, out_path


def late_capture(args, tmpdir, trace, lib, mode):
    tag = "late-%s-%s" % (lib, mode)
    proc, port, out_path = start_replay(args, tmpdir, trace, lib, mode, tag)
    try:
        H.check(wait_out(out_path, "trace done", proc, 30),
                "%s: the trace did not finish: %s" % (tag, H.read_file(out_path)[-2000:]))
        check_library(proc, args, lib, tag)
        return H.capture(port, tmpdir, tag)
    finally:
        H.stop_process(proc, grace=5)
        text = H.read_file(out_path).decode(errors="replace")
        for m in H.SANITIZER_MARKERS:
            H.check(m not in text, "%s: sanitizer report:\n%s" % (tag, text[-3000:]))


def live_capture(args, tmpdir, trace, lib, mode):
    import bench_traces as BT
    tag = "live-%s-%s" % (lib, mode)
    gate = os.path.join(tmpdir, "gate-" + tag)
    proc, port, out_path = start_replay(args, tmpdir, trace, lib, mode, tag, gate)
    cl = None
    try:
        H.check(wait_out(out_path, "listening on", proc, 15),
                "%s: clove-replay did not start: %s" % (tag, H.read_file(out_path)[-2000:]))
        check_library(proc, args, lib, tag)
        cl = BT.TraceClient(port)
        H.check(cl.pump(cl.linked, 20), "%s: client channels not open (%s; errors %s)"
                % (tag, sorted(cl.opened), cl.errors))
        open(gate, "w").close()
        deadline = time.monotonic() + 30
        done = False
        while time.monotonic() < deadline:
            cl.pump(timeout=0.05)
            if not done and "trace done" in H.read_file(out_path).decode(errors="replace"):
                done = True
            if done and cl.last_update is not None and time.monotonic() - cl.last_update > 1.0:
                break
        H.check(done, "%s: the trace did not finish" % tag)
        planes = cl.planes()
        H.check(planes is not None, "%s: the client never got a surface" % tag)
        return BT.planes_ppm(planes)
    finally:
        if cl is not None:
            cl.close()
        H.stop_process(proc, grace=5)
        text = H.read_file(out_path).decode(errors="replace")
        for m in H.SANITIZER_MARKERS:
            H.check(m not in text, "%s: sanitizer report:\n%s" % (tag, text[-3000:]))


def clove_shot_live(args, tmpdir, trace, lib, mode):
    """clove-shot connected before the first command; its capture once the
    display has been quiet for a second."""
    tag = "shot-live-%s-%s" % (lib, mode)
    gate = os.path.join(tmpdir, "gate-" + tag)
    proc, port, out_path = start_replay(args, tmpdir, trace, lib, mode, tag, gate)
    shot = None
    try:
        H.check(wait_out(out_path, "listening on", proc, 15),
                "%s: clove-replay did not start: %s" % (tag, H.read_file(out_path)[-2000:]))
        check_library(proc, args, lib, tag)
        out = os.path.join(tmpdir, tag + ".ppm")
        clove_shot = os.path.join(build_root(args), "apps", "clove-shot", "clove-shot")
        shot = subprocess.Popen([clove_shot, "-h", "127.0.0.1", "-p", str(port), "-o", out,
                                 "--settle", "1", "--timeout", "40"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        H.check(wait_out(out_path, "display client connected", proc, 15),
                "%s: clove-shot's display channel never linked" % tag)
        open(gate, "w").close()
        text = shot.communicate(timeout=60)[0].decode(errors="replace")
        for m in H.SANITIZER_MARKERS:
            H.check(m not in text, "%s: sanitizer report from clove-shot:\n%s" % (tag, text))
        H.check(shot.returncode == 0, "%s: clove-shot failed (%s): %s"
                % (tag, shot.returncode, text.strip()))
        H.check("trace done" in H.read_file(out_path).decode(errors="replace"),
                "%s: clove-shot finished before the trace" % tag)
        return H.read_file(out)
    finally:
        if shot is not None and shot.poll() is None:
            shot.kill()
        H.stop_process(proc, grace=5)


def body(args, tmpdir, procs):
    gen = os.path.join(build_root(args), "tests", "interop", "ops", "gen_ops_trace")
    H.check(os.path.exists(gen), "gen_ops_trace not built at %s" % gen)
    trace = os.path.join(tmpdir, "ops.trace")
    subprocess.run([gen, trace], check=True)
    failures = []
    for mode in MODES:
        want = late_capture(args, tmpdir, trace, "ref", mode)
        got = {
            "reference, live spice-gtk": live_capture(args, tmpdir, trace, "ref", mode),
            "ours, late (our server canvas)": late_capture(args, tmpdir, trace, "ours", mode),
            "ours, live spice-gtk (our draw messages)":
                live_capture(args, tmpdir, trace, "ours", mode),
            "reference, live clove-shot (our client)":
                clove_shot_live(args, tmpdir, trace, "ref", mode),
            "ours, live clove-shot (our client, our draw messages)":
                clove_shot_live(args, tmpdir, trace, "ours", mode),
        }
        for what, ppm in got.items():
            err = compare(ppm, want, "%s [%s] vs the reference's canvas" % (what, mode), tmpdir,
                          "%s-%s" % ("".join(c if c.isalnum() else "-" for c in what)[:40],
                                     mode))
            if err:
                H.log("FAIL " + err)
                failures.append(err)
    H.check(not failures, "%d comparisons differ:\n  %s" % (len(failures),
                                                            "\n  ".join(failures)))


if __name__ == "__main__":
    sys.exit(H.run_main(body, __doc__))
