"""Shared plumbing for the interop tests: start clove-demo on a chosen
library, run Debian's real SPICE clients against it, compare PPM frames, and
clean up every process by PID.

Library selection: the demo links libspice-server.so.1 by soname with a
RUNPATH to our build dir.  "ours" runs it with no LD_LIBRARY_PATH (so the
RUNPATH wins); "ref" sets LD_LIBRARY_PATH to Debian's library dir, which
takes precedence over RUNPATH.  After start-up the harness reads
/proc/PID/maps to prove which library was really loaded.

Every test script takes the same arguments (see add_common_args) and exits
0 on success, 1 on failure, 77 when a prerequisite is missing (meson: skip).
"""

import argparse
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REF_LIBDIR_DEFAULT = "/usr/lib/x86_64-linux-gnu"
SKIP = 77


class TestFailure(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def add_common_args(p):
    p.add_argument("--demo", required=True, help="path of the clove-demo executable")
    p.add_argument("--our-libdir", default=None,
                   help="dir holding our libspice-server.so.1 (for the /proc/PID/maps check)")
    p.add_argument("--ref-libdir", default=REF_LIBDIR_DEFAULT)
    p.add_argument("--lib", choices=["ours", "ref"], default="ours",
                   help="which libspice-server the demo runs on")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return p


def parse_args(description, extra=None):
    p = argparse.ArgumentParser(description=description)
    add_common_args(p)
    if extra:
        extra(p)
    return p.parse_args()


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_display():
    """An X display number with neither a lock file nor a socket."""
    for n in range(40 + os.getpid() % 50, 400):
        if not os.path.exists("/tmp/.X%d-lock" % n) and \
                not os.path.exists("/tmp/.X11-unix/X%d" % n):
            return n
    raise TestFailure("no free X display number")


def need_programs(*names):
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        log("SKIP: missing programs: " + " ".join(missing) +
            " (run scripts/install-deps.sh)")
        sys.exit(SKIP)


class Procs:
    """Context manager owning every child process a test starts: on exit
    each is sent SIGTERM (then SIGKILL) by PID, in reverse start order."""

    def __init__(self):
        self.procs = []

    def add(self, proc, name):
        self.procs.append((proc, name))
        return proc

    def popen(self, name, argv, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        return self.add(subprocess.Popen(argv, **kw), name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for proc, _name in reversed(self.procs):
            stop_process(proc)
        return False


def stop_process(proc, grace=5.0):
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def demo_env(args, lib):
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    if lib == "ref":
        env["LD_LIBRARY_PATH"] = args.ref_libdir
        # Leaks inside Debian's library are not ours to report.
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    return env


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "AddressSanitizer:DEADLYSIGNAL")


class Demo:
    """One clove-demo process. Its stdout is collected by a thread so that
    tests can wait for particular lines (listening, input events)."""

    def __init__(self, procs, args, tmpdir, lib=None, extra=(), port=None, name="demo"):
        self.args = args
        self.lib = lib or args.lib
        self.port = port or free_port()
        self.frame = os.path.join(tmpdir, "%s-%s-frame.ppm" % (name, self.lib))
        self.stderr_path = os.path.join(tmpdir, "%s-%s.stderr" % (name, self.lib))
        self.argv = [args.demo, "--addr", "127.0.0.1", "--port", str(self.port),
                     "--frame-out", self.frame] + list(extra)
        if self.lib == "ours":
            # Our library must never raise SIGPIPE (the reference relies on the
            # host ignoring it): keep it fatal so any write to a dead peer fails.
            self.argv.append("--keep-sigpipe")
        self.lines = []
        self.cond = threading.Condition()
        self._stderr = open(self.stderr_path, "wb")
        self.proc = procs.popen(name, self.argv, stdout=subprocess.PIPE,
                                stderr=self._stderr, env=demo_env(args, self.lib))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, pattern, timeout, start=0):
        """Index of the first stdout line >= start matching pattern, or None."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.lines)):
                    if rx.search(self.lines[i]):
                        return i
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return None
                self.cond.wait(min(left, 0.2))

    def start(self, timeout=15.0):
        """Wait for the listening line and the first frame; check the library."""
        t0 = time.monotonic()
        i = self.wait_line(r"^clove-demo: listening on ", timeout)
        if i is None:
            raise TestFailure("clove-demo (%s) did not print its listening line within %.0f s; "
                              "rc=%s stderr:\n%s" % (self.lib, timeout, self.proc.poll(),
                                                     self.stderr()))
        check(("127.0.0.1:%d" % self.port) in self.lines[i],
              "unexpected listening line: %r" % self.lines[i])
        self.check_library()
        left = max(1.0, timeout - (time.monotonic() - t0))
        check(wait_for_file(self.frame, left),
              "clove-demo wrote no --frame-out file within %.0f s" % timeout)
        return self

    def check_library(self):
        if os.environ.get("CLOVE_INTEROP_NO_LIBCHECK") == "1":
            return
        path = loaded_library(self.proc.pid, "libspice-server.so")
        check(path is not None, "clove-demo has no libspice-server.so mapped")
        real = os.path.realpath(path)
        if self.lib == "ref":
            want = os.path.realpath(self.args.ref_libdir)
            check(os.path.dirname(real) == want,
                  "expected the reference library from %s, demo loaded %s" % (want, real))
        elif self.args.our_libdir:
            want = os.path.realpath(self.args.our_libdir)
            check(os.path.dirname(real) == want,
                  "expected OUR library from %s, demo loaded %s" % (want, real))

    def alive(self):
        return self.proc.poll() is None

    def stderr(self):
        if not self._stderr.closed:
            self._stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def stop(self):
        """Stop the demo; fail if it had died or a sanitizer complained."""
        died = self.proc.poll()
        stop_process(self.proc)
        self._stderr.close()
        err = self.stderr()
        for m in SANITIZER_MARKERS:
            check(m not in err, "sanitizer report from clove-demo (%s):\n%s" % (self.lib, err))
        check(died is None, "clove-demo (%s) exited early with rc=%s; stderr:\n%s"
              % (self.lib, died, err))


def loaded_library(pid, name):
    try:
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and name in os.path.basename(parts[5]):
                    return parts[5]
    except OSError:
        return None
    return None


def wait_for_file(path, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return os.path.exists(path)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def wait_stable_frame(path, timeout, quiet=0.5, differs_from=None):
    """Contents of path once it has not changed for `quiet` seconds (and,
    if differs_from is given, differs from it). None on timeout."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        try:
            cur = read_file(path)
        except OSError:
            cur = None
        if cur != last:
            last, since = cur, time.monotonic()
        elif cur is not None and time.monotonic() - since >= quiet and \
                (differs_from is None or cur != differs_from):
            return cur
        time.sleep(0.05)
    return None


def parse_ppm(data):
    """(width, height, rgb bytes) of a binary P6 PPM with maxval 255."""
    fields, pos = [], 0
    while len(fields) < 4:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        start = pos
        while pos < len(data) and not data[pos:pos + 1].isspace():
            pos += 1
        fields.append(data[start:pos])
    check(fields[0] == b"P6", "not a P6 PPM (magic %r)" % fields[0])
    w, h, maxval = int(fields[1]), int(fields[2]), int(fields[3])
    check(maxval == 255, "PPM maxval %d != 255" % maxval)
    pix = data[pos + 1:pos + 1 + w * h * 3]
    check(len(pix) == w * h * 3, "truncated PPM: %d of %d pixel bytes" % (len(pix), w * h * 3))
    return w, h, pix


def diff_pixels(a, b):
    """Number of differing pixels between two same-size RGB buffers."""
    n = 0
    step = 3 * 4096
    for off in range(0, len(a), step):
        ca, cb = a[off:off + step], b[off:off + step]
        if ca != cb:
            for i in range(0, len(ca), 3):
                if ca[i:i + 3] != cb[i:i + 3]:
                    n += 1
    return n


def diff_bbox(w, a, b):
    """(x0, y0, x1, y1) inclusive bounding box of differing pixels, or None."""
    box = None
    row = w * 3
    for y in range(len(a) // row):
        ra, rb = a[y * row:(y + 1) * row], b[y * row:(y + 1) * row]
        if ra == rb:
            continue
        xs = [i // 3 for i in range(0, row, 3) if ra[i:i + 3] != rb[i:i + 3]]
        x0, x1 = min(xs), max(xs)
        if box is None:
            box = [x0, y, x1, y]
        else:
            box = [min(box[0], x0), box[1], max(box[2], x1), y]
    return tuple(box) if box else None


def compare_ppm_bytes(got, want, what):
    """Fail with a pixel count unless the two PPM files are byte-identical."""
    if got == want:
        return
    gw, gh, gp = parse_ppm(got)
    ww, wh, wp = parse_ppm(want)
    if (gw, gh) != (ww, wh):
        raise TestFailure("%s: size %dx%d, expected %dx%d" % (what, gw, gh, ww, wh))
    n = diff_pixels(gp, wp)
    box = diff_bbox(gw, gp, wp)
    raise TestFailure("%s: %d of %d pixels differ (bbox %s); headers equal: %s"
                      % (what, n, gw * gh, box, got[:len(got) - len(gp)] ==
                         want[:len(want) - len(wp)]))


def spicy_screenshot(port, out, password=None, timeout=20):
    """Run spicy-screenshot (wrapped in `timeout`); (rc, seconds, stderr)."""
    if os.path.exists(out):
        os.unlink(out)
    argv = ["timeout", "-k", "2", str(timeout), "spicy-screenshot",
            "-h", "127.0.0.1", "-p", str(port), "-o", out]
    if password is not None:
        argv += ["-w", password]
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    t0 = time.monotonic()
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env)
    dt = time.monotonic() - t0
    return r.returncode, dt, r.stderr.decode("utf-8", "replace")


def capture(port, tmpdir, tag, password=None, timeout=20, demo=None):
    """Screenshot bytes; fails the test if spicy-screenshot fails. `port`
    may be a Demo, whose liveness is then reported on failure."""
    if isinstance(port, Demo):
        demo, port = port, port.port
    out = os.path.join(tmpdir, "shot-%s.ppm" % tag)
    rc, dt, err = spicy_screenshot(port, out, password, timeout)
    if not (rc == 0 and os.path.exists(out)):
        state = ""
        if demo is not None:
            drc = demo.proc.poll()
            state = "; clove-demo is %s" % ("alive" if drc is None else
                                            "DEAD (rc=%d%s)" % (drc, " = signal %d" % -drc
                                                                if drc < 0 else ""))
        raise TestFailure("spicy-screenshot (%s) failed rc=%d after %.2f s%s%s: %s"
                          % (tag, rc, dt, " (timeout: hang or no display)" if rc == 124
                             else "", state, err.strip()))
    return read_file(out)


def run_main(body, description, extra=None):
    """Parse arguments, make a temp dir, run body(args, tmpdir, procs)."""
    args = parse_args(description, extra)
    need_programs("spicy-screenshot", "timeout")
    check_exists = os.path.exists(args.demo)
    if not check_exists:
        log("FAIL: clove-demo not found at %s" % args.demo)
        return 1
    tmpdir = tempfile.mkdtemp(prefix="clove-interop-")
    rc = 1
    try:
        with Procs() as procs:
            body(args, tmpdir, procs)
        rc = 0
        log("PASS")
    except TestFailure as e:
        log("FAIL: %s" % e)
    finally:
        if args.keep or rc != 0:
            log("artefacts kept in %s" % tmpdir)
        else:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return rc


def wait_readable(sock, timeout):
    r, _, _ = select.select([sock], [], [], timeout)
    return bool(r)


def sanitizer_host_env(libdir, env):
    """Lets a foreign host (QEMU, Xorg) load our library from a sanitizer
    build: such a library expects the ASan runtime in the process, which
    these hosts do not link, so it is preloaded. Leak detection is off for
    them (their own allocations are not ours to judge); errors in our code
    still abort the host and fail the test. No-op for a normal build."""
    lib = os.path.join(libdir, "libspice-server.so.1")
    try:
        out = subprocess.run(["nm", "-D", "--undefined-only", lib], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return env
    if "__asan_init" not in out:
        return env
    runtime = subprocess.run(["clang", "-print-file-name=libclang_rt.asan-x86_64.so"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
    if not runtime or not os.path.exists(runtime):
        raise TestFailure("sanitizer build: cannot find clang's shared ASan runtime")
    env["LD_PRELOAD"] = runtime
    env["ASAN_OPTIONS"] = "detect_leaks=0:verify_asan_link_order=0"
    return env
