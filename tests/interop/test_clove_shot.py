#!/usr/bin/python3
"""clove-shot (our client) against clove-demo --no-animation, on OUR library
and on Debian's reference library, for every lossless compression mode:
clove-shot's PPM must equal spicy-screenshot's PPM and the demo's
--frame-out byte for byte. Then the failure paths: a wrong password exits
non-zero with a PERMISSION_DENIED reason; nothing listening exits non-zero
at once; a server that accepts and says nothing exits non-zero after
--timeout; a bad --uri is a usage error. Sanitizer reports on clove-shot's
stderr fail the test."""

import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

MODES = ["off", "quic", "lz", "glz", "lz4", "auto_glz"]
PASSWORD = "secret"


def add_args(p):
    p.add_argument("--clove-shot", default=None,
                   help="path of the clove-shot executable (default: next to --demo's "
                        "build dir, apps/clove-shot/clove-shot)")


def clove_shot(args, argv, timeout=30):
    """Run clove-shot; (rc, seconds, stderr)."""
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    t0 = time.monotonic()
    r = subprocess.run(["timeout", "-k", "2", str(timeout), args.clove_shot] + argv,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env)
    dt = time.monotonic() - t0
    err = r.stderr.decode("utf-8", "replace")
    for m in H.SANITIZER_MARKERS:
        H.check(m not in err, "sanitizer report from clove-shot:\n%s" % err)
    return r.returncode, dt, err


def shoot(args, tmpdir, port, tag, password=None, timeout_s=10):
    out = os.path.join(tmpdir, "clove-shot-%s.ppm" % tag)
    if os.path.exists(out):
        os.unlink(out)
    argv = ["-h", "127.0.0.1", "-p", str(port), "-o", out, "--timeout", str(timeout_s)]
    if password is not None:
        argv += ["-w", password]
    rc, dt, err = clove_shot(args, argv)
    H.check(rc == 0 and os.path.exists(out),
            "clove-shot (%s) failed rc=%d after %.2f s: %s" % (tag, rc, dt, err.strip()))
    return H.read_file(out)


def run_mode(args, tmpdir, procs, lib, mode):
    tag = "%s-%s" % (lib, mode)
    demo = H.Demo(procs, args, tmpdir, lib=lib, name="demo-" + mode,
                  extra=["--no-animation", "--image-compression", mode]).start()
    frame = H.wait_stable_frame(demo.frame, 10)
    H.check(frame is not None, "%s: --frame-out never settled" % tag)
    ours = shoot(args, tmpdir, demo.port, tag)
    ref = H.capture(demo, tmpdir, "spicy-" + tag)
    frame = H.wait_stable_frame(demo.frame, 10)
    H.compare_ppm_bytes(ours, frame, "%s: clove-shot vs --frame-out" % tag)
    H.compare_ppm_bytes(ours, ref, "%s: clove-shot vs spicy-screenshot" % tag)
    # A second capture decodes with a fresh GLZ window on the same server.
    again = shoot(args, tmpdir, demo.port, tag + "-2")
    H.compare_ppm_bytes(again, frame, "%s: second clove-shot vs --frame-out" % tag)
    demo.stop()
    H.log("%s: clove-shot == spicy-screenshot == --frame-out" % tag)


def check_password(args, tmpdir, procs):
    demo = H.Demo(procs, args, tmpdir, name="demo-pw",
                  extra=["--no-animation", "--password", PASSWORD]).start()
    frame = H.wait_stable_frame(demo.frame, 10)
    shot = shoot(args, tmpdir, demo.port, "password", password=PASSWORD)
    H.compare_ppm_bytes(shot, frame, "right password: clove-shot vs --frame-out")
    out = os.path.join(tmpdir, "wrong.ppm")
    rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-p", str(demo.port), "-w", "wrong",
                                    "-o", out])
    H.check(rc not in (0, 124), "wrong password: rc=%d" % rc)
    H.check("PERMISSION_DENIED" in err, "wrong password: no reason on stderr: %r" % err)
    H.check(len(err.strip().splitlines()) == 1, "wrong password: not one line: %r" % err)
    H.check(not os.path.exists(out), "wrong password: an output file was written")
    H.check(dt < 3.0, "wrong password took %.2f s" % dt)
    wrong = (err.strip(), dt)
    uri = "spice://127.0.0.1?port=%d&password=%s" % (demo.port, PASSWORD)
    out = os.path.join(tmpdir, "uri.ppm")
    rc, dt, err = clove_shot(args, ["--uri", uri, "-o", out])
    H.check(rc == 0, "--uri with the password failed rc=%d: %s" % (rc, err.strip()))
    H.compare_ppm_bytes(H.read_file(out), frame, "--uri: clove-shot vs --frame-out")
    demo.stop()
    H.log("password: right -> frame, wrong -> %r in %.2f s, --uri works" % wrong)


def check_failures(args, tmpdir):
    port = H.free_port()
    out = os.path.join(tmpdir, "none.ppm")
    rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-p", str(port), "-o", out])
    H.check(rc not in (0, 124) and err.strip(), "nothing listening: rc=%d err=%r" % (rc, err))
    H.check(dt < 2.0, "nothing listening took %.2f s" % dt)
    H.log("nothing listening: %r in %.2f s" % (err.strip(), dt))

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        port = srv.getsockname()[1]
        rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-p", str(port), "-o", out,
                                        "--timeout", "1.5"], timeout=10)
        H.check(rc not in (0, 124), "silent server: rc=%d" % rc)
        H.check("timed out" in err, "silent server: no timeout reason: %r" % err)
        H.check(1.4 < dt < 4.0, "silent server: exited after %.2f s (timeout 1.5 s)" % dt)
        H.log("silent server: %r after %.2f s" % (err.strip(), dt))

    # A peer that answers the link with garbage and closes.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        port = srv.getsockname()[1]

        def answer():
            conn, _ = srv.accept()
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + b"x" * 64)
            conn.close()
        t = threading.Thread(target=answer, daemon=True)
        t.start()
        rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-p", str(port), "-o", out], timeout=10)
        t.join(5)
        H.check(rc not in (0, 124) and "magic" in err, "garbage server: rc=%d err=%r" % (rc, err))
        H.check(dt < 2.0, "garbage server: exited after %.2f s" % dt)
        H.log("garbage server: %r in %.2f s" % (err.strip(), dt))

    rc, dt, err = clove_shot(args, ["--uri", "http://nope"])
    H.check(rc == 2 and err.strip(), "bad --uri: rc=%d err=%r" % (rc, err))
    rc, dt, err = clove_shot(args, ["-s", "5901"])
    H.check(rc != 0 and "TLS not supported" in err, "secure port only: rc=%d err=%r" % (rc, err))


def body(args, tmpdir, procs):
    if args.clove_shot is None:
        apps = os.path.dirname(os.path.dirname(os.path.abspath(args.demo)))
        args.clove_shot = os.path.join(apps, "clove-shot", "clove-shot")
    H.check(os.path.exists(args.clove_shot), "clove-shot not found at %s" % args.clove_shot)
    check_failures(args, tmpdir)
    libs = ["ours", "ref"] if args.lib == "ours" else ["ref"]
    for lib in libs:
        for mode in MODES:
            run_mode(args, tmpdir, procs, lib, mode)
    check_password(args, tmpdir, procs)


if __name__ == "__main__":
    sys.exit(H.run_main(body, __doc__, extra=add_args))
