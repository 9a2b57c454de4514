#!/usr/bin/python3
"""spicy-screenshot against clove-demo --no-animation: the captured PPM must
equal the demo's own --frame-out byte for byte, on our library AND on
Debian's reference library (same demo binary), and the two captures must be
identical to each other."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402


def shoot(args, tmpdir, procs, lib):
    demo = H.Demo(procs, args, tmpdir, lib=lib, extra=["--no-animation"]).start()
    frame = H.wait_stable_frame(demo.frame, 10)
    H.check(frame is not None, "%s: --frame-out never settled" % lib)
    shot = H.capture(demo, tmpdir, lib)
    # The frame file may be rewritten after the client connects: compare to
    # the newest settled frame.
    frame = H.wait_stable_frame(demo.frame, 10)
    H.compare_ppm_bytes(shot, frame, "%s: screenshot vs --frame-out" % lib)
    w, h, _ = H.parse_ppm(shot)
    H.log("%s: capture %dx%d equals --frame-out" % (lib, w, h))
    # A second client sees the same frame (server state survives a client).
    again = H.capture(demo, tmpdir, lib + "-2")
    H.compare_ppm_bytes(again, frame, "%s: second screenshot vs --frame-out" % lib)
    demo.stop()
    return shot


def body(args, tmpdir, procs):
    libs = ["ours", "ref"] if args.lib == "ours" else ["ref"]
    shots = {lib: shoot(args, tmpdir, procs, lib) for lib in libs}
    if len(shots) == 2:
        H.compare_ppm_bytes(shots["ours"], shots["ref"], "ours vs reference capture")
        H.log("ours and reference captures are identical")


if __name__ == "__main__":
    sys.exit(H.run_main(body, __doc__))
