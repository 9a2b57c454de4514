#!/usr/bin/python3
"""Record and replay (SPICE_WORKER_RECORD_FILENAME, spice_replay_*).

1. clove-demo runs on OUR library and on Debian's with
   SPICE_WORKER_RECORD_FILENAME set; a SpiceClientGLib client types "hello",
   and the demo's final --frame-out is kept.
2. Each recording is replayed by clove-replay on OUR library and on
   Debian's; spicy-screenshot's capture after the trace must equal that
   session's final frame, pixel for pixel, and clove-replay must exit by
   itself once the client was served.
3. The traces in tests/data/replay (one recorded on each library) replay on
   both libraries to their stored frame.
"""

import gzip
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
import test_input as TI  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "replay")


def replay_binary(args):
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(args.demo))),
                        "clove-replay", "clove-replay")
    H.check(os.path.exists(path), "clove-replay not built at %s" % path)
    return path


def record_session(args, tmpdir, procs, lib):
    """Runs a demo on `lib` while recording; returns (recording, final frame)."""
    rec = os.path.join(tmpdir, "session-%s.rec" % lib)
    os.environ["SPICE_WORKER_RECORD_FILENAME"] = rec
    try:
        demo = H.Demo(procs, args, tmpdir, lib=lib, extra=["--no-animation", "--verbose"],
                      name="rec").start()
    finally:
        del os.environ["SPICE_WORKER_RECORD_FILENAME"]
    f0 = H.wait_stable_frame(demo.frame, 10)
    H.check(f0 is not None, "%s: initial frame never settled" % lib)
    cl = TI.GiClient(demo.port)
    try:
        H.check(cl.pump(lambda: cl.primary and cl.marked and cl.inputs_open, 20),
                "%s: GI client not ready (errors %s)" % (lib, cl.errors))
        for sc in TI.HELLO:
            cl.inputs.key_press(sc)
            cl.pump(timeout=0.03)
            cl.inputs.key_release(sc)
            cl.pump(timeout=0.03)
        f1 = TI.wait_frame(cl, demo.frame, f0)
        H.check(f1 is not None, "%s: frame did not change after typing" % lib)
    finally:
        cl.close()
    final = H.wait_stable_frame(demo.frame, 10, quiet=1.0)
    H.check(final is not None, "%s: final frame never settled" % lib)
    time.sleep(0.5)  # the worker records what it fetched; let it finish
    demo.stop()
    H.check(os.path.getsize(rec) > 0, "%s: empty recording" % lib)
    with open(rec, "rb") as f:
        H.check(f.readline() == b"SPICE_REPLAY 1\n", "%s: recording lacks its header" % lib)
    H.log("recorded %s session: %d bytes" % (lib, os.path.getsize(rec)))
    return rec, final


def replay_env(args, lib):
    env = H.demo_env(args, lib)
    env.pop("SPICE_WORKER_RECORD_FILENAME", None)
    return env


def replay_and_check(args, tmpdir, procs, rec, want, lib, tag):
    port = H.free_port()
    out_path = os.path.join(tmpdir, "replay-%s-%s.out" % (tag, lib))
    err_path = os.path.join(tmpdir, "replay-%s-%s.err" % (tag, lib))
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = procs.popen("clove-replay", [replay_binary(args), "--port", str(port),
                                            "--seconds", "60", rec],
                           stdout=out, stderr=err, env=replay_env(args, lib))
    deadline = time.monotonic() + 30
    done = False
    while time.monotonic() < deadline and proc.poll() is None:
        with open(out_path, "rb") as f:
            if b"trace done" in f.read():
                done = True
                break
        time.sleep(0.05)
    with open(err_path, "rb") as f:
        err_text = f.read().decode("utf-8", "replace")[-2000:]
    H.check(done, "clove-replay (%s, %s) did not finish the trace; rc=%s stderr:\n%s"
            % (lib, tag, proc.poll(), err_text))
    path = H.loaded_library(proc.pid, "libspice-server.so")
    H.check(path is not None, "clove-replay has no libspice-server mapped")
    if lib == "ref":
        H.check(os.path.dirname(os.path.realpath(path)) == os.path.realpath(args.ref_libdir),
                "expected the reference library, clove-replay loaded %s" % path)
    elif args.our_libdir:
        H.check(os.path.dirname(os.path.realpath(path)) == os.path.realpath(args.our_libdir),
                "expected OUR library, clove-replay loaded %s" % path)
    shot = H.capture(port, tmpdir, "replay-%s-%s" % (tag, lib))
    H.compare_ppm_bytes(shot, want, "replay of %s on %s vs the recorded final frame"
                        % (tag, lib))
    try:
        rc = proc.wait(15)
    except Exception:  # noqa: BLE001 - reported below
        rc = None
    with open(err_path, "rb") as f:
        err_text = f.read().decode("utf-8", "replace")
    for m in H.SANITIZER_MARKERS:
        H.check(m not in err_text, "sanitizer report from clove-replay:\n%s" % err_text[-3000:])
    H.check(rc == 0, "clove-replay (%s, %s) did not exit cleanly after the client: rc=%s\n%s"
            % (lib, tag, rc, err_text[-2000:]))
    H.log("replay of %s on %s equals its final frame" % (tag, lib))


def body(args, tmpdir, procs):
    TI.load_gi()
    sessions = {}
    for lib in ("ours", "ref"):
        sessions[lib] = record_session(args, tmpdir, procs, lib)
    for rec_lib, (rec, frame) in sessions.items():
        for lib in ("ours", "ref"):
            replay_and_check(args, tmpdir, procs, rec, frame, lib, "recorded-on-" + rec_lib)
    with gzip.open(os.path.join(DATA, "demo-320x240-frame.ppm.gz")) as f:
        stored_frame = f.read()
    stored = [os.path.join(DATA, "demo-320x240-ours.rec")]
    ref_copy = os.path.join(tmpdir, "demo-320x240-ref.rec")
    with gzip.open(os.path.join(DATA, "demo-320x240-ref.rec.gz")) as f, \
            open(ref_copy, "wb") as out:
        out.write(f.read())
    stored.append(ref_copy)
    for rec in stored:
        for lib in ("ours", "ref"):
            replay_and_check(args, tmpdir, procs, rec, stored_frame, lib,
                             os.path.basename(rec))


if __name__ == "__main__":
    sys.exit(H.run_main(body, __doc__))
