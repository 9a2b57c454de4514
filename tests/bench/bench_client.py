#!/usr/bin/python3
"""Client benchmark: clove-shot (libclove-client) against spicy-screenshot
(spice-gtk) on the same servers. Each run starts the client, which connects,
waits for the first complete frame (the first DISPLAY_MARK), writes it as a
PPM and exits; we take the wall time from spawn to exit and the CPU time
(user + system) of the child from os.wait4()'s rusage. The two clients
alternate run by run (warm-up runs first, not counted) so that drift in the
machine's load hits both alike; the last PPMs of the two must be equal.

Servers: clove-demo --no-animation on OUR libspice-server and on Debian's
reference library (harness.Demo), with --xspice an Xspice session
(tests/interop/xspice) with a scene of X clients on each library, and with
--qemu Debian's QEMU booting the interop tests' busybox guest (-vga qxl, a
1024x768 VESA console; tests/interop/qemu) on each library.

With --callgrind each client also runs once under valgrind's callgrind
against each server and the instructions it executed (its whole process:
start-up, link, decoding, the PPM) are reported: unlike times, that count
does not depend on the machine's load.

Prints a markdown table with medians and the ratios clove-shot /
spicy-screenshot; --write-doc replaces the results block of the section
"Client: clove-shot vs spicy-screenshot" in docs/benchmarks.md."""

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
sys.path.insert(0, os.path.join(HERE, "..", "interop", "xspice"))
import harness as H  # noqa: E402

BEGIN = "<!-- bench_client:begin -->"
END = "<!-- bench_client:end -->"


def client_env():
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    env.pop("SPICE_CA_FILE", None)
    return env


def run_client(argv, timeout):
    """Spawn argv; (returncode, wall seconds, child CPU seconds, stderr text).
    The child is killed by PID if it outlives `timeout`."""
    err = tempfile.TemporaryFile()
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=err, env=client_env())
    timer = threading.Timer(timeout, lambda: os.kill(proc.pid, signal.SIGKILL))
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    text = err.read().decode("utf-8", "replace")
    err.close()
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, text


def clove_argv(args, port, out):
    return [args.clove_shot, "-h", "127.0.0.1", "-p", str(port), "-o", out, "--timeout", "20"]


def spicy_argv(args, port, out):
    return ["spicy-screenshot", "-h", "127.0.0.1", "-p", str(port), "-o", out]


def instructions(args, argv):
    """Instructions the client executed (callgrind's "I refs"), or None."""
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + argv,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       env=client_env(), timeout=300)
    m = re.search(r"I\s+refs:\s+([\d,]+)", r.stderr.decode("utf-8", "replace"))
    if r.returncode != 0 or not m:
        return None
    return int(m.group(1).replace(",", ""))


def measure(args, tmpdir, tag, port):
    """Alternating runs of both clients against one server; medians."""
    res = {"clove": ([], []), "spicy": ([], [])}
    outs = {c: os.path.join(tmpdir, "%s-%s.ppm" % (tag, c)) for c in res}
    makers = {"clove": clove_argv, "spicy": spicy_argv}
    for i in range(args.warmup + args.runs):
        order = ("clove", "spicy") if i % 2 == 0 else ("spicy", "clove")
        for client in order:
            if os.path.exists(outs[client]):
                os.unlink(outs[client])
            rc, wall, cpu, err = run_client(makers[client](args, port, outs[client]), 30)
            H.check(rc == 0 and os.path.exists(outs[client]),
                    "%s: %s run %d failed rc=%d: %s" % (tag, client, i, rc, err.strip()))
            if i >= args.warmup:
                res[client][0].append(wall)
                res[client][1].append(cpu)
            time.sleep(0.05)  # let the server tear the client down
    a, b = H.read_file(outs["clove"]), H.read_file(outs["spicy"])
    same = a == b
    if not same:
        H.log("%s: WARNING: the PPMs differ (artefacts in %s)" % (tag, tmpdir))
    w, h, _ = H.parse_ppm(a)
    med = {c: [statistics.median(v[0]), statistics.median(v[1]), None] for c, v in res.items()}
    if args.callgrind:
        for client in med:
            med[client][2] = instructions(args, makers[client](args, port, outs[client]))
    return med, same, (w, h)


def bench_demo(args, tmpdir, lib):
    with H.Procs() as procs:
        demo = H.Demo(procs, args, tmpdir, lib=lib, extra=["--no-animation"]).start()
        H.check(H.wait_stable_frame(demo.frame, 10) is not None, "%s: no first frame" % lib)
        r = measure(args, tmpdir, "demo-" + lib, demo.port)
        demo.stop()
    return r


def bench_xspice(args, tmpdir, lib):
    import test_xspice as X  # noqa: E402 (only with --xspice)
    args.debug = None
    with H.Procs() as procs:
        x = X.Xspice(procs, args, tmpdir, lib)
        try:
            x.start()
            x.draw_scene()
            time.sleep(1.0)
            x.stable_capture("settle")
            r = measure(args, tmpdir, "xspice-" + lib, x.port)
        finally:
            x.stop()
    return r


def bench_qemu(args, tmpdir, lib):
    """QEMU (TCG) booting the interop tests' busybox guest with -vga qxl and
    a 1024x768 VESA framebuffer console (test_qemu's qxl-vesa variant), once
    its prompt is up and the screen has settled."""
    sys.path.insert(0, os.path.join(HERE, "..", "interop", "qemu"))
    import test_qemu as Q  # noqa: E402 (only with --qemu)
    args.kernel = Q.find_kernel(None)
    args.cmdlog = False
    args.debug = None
    initrd = os.path.join(tmpdir, "initramfs.cpio.gz")
    if not os.path.exists(initrd):
        r = subprocess.run(["sh", Q.MK_INITRAMFS, initrd], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        H.check(r.returncode == 0, "mk_initramfs failed: %s" % r.stdout.decode())
    with H.Procs() as procs:
        g = Q.Guest(procs, args, tmpdir, "qxl-vesa", lib, initrd).start()
        try:
            g.wait_serial("CLOVE-PROMPT", 1, 120)
            g.stable_screendump("settle")
            r = measure(args, tmpdir, "qemu-" + lib, g.port)
        finally:
            g.stop()
    return r


def fmt_row(name, r, same, size):
    (cw, cc, ci), (sw, sc, si) = r["clove"], r["spicy"]
    row = "| %s (%dx%d) | %.1f ms | %.1f ms | **%.2f** | %.1f ms | %.1f ms | **%.2f** |" % (
        name, size[0], size[1], cw * 1e3, sw * 1e3, cw / sw, cc * 1e3, sc * 1e3,
        cc / sc if sc else float("nan"))
    if ci and si:
        row += " %.1fM | %.1fM | **%.2f** |" % (ci / 1e6, si / 1e6, ci / si)
    elif ci is not None or si is not None:
        row += " - | - | - |"
    return row + " %s |" % ("yes" if same else "NO")


def table(rows, runs, callgrind):
    cg_head = " clove-shot instructions | spicy-screenshot instructions | ratio |" \
        if callgrind else ""
    lines = [
        "| server (median of %d runs each) | clove-shot time | spicy-screenshot time | ratio "
        "| clove-shot CPU | spicy-screenshot CPU | ratio |%s same PPM |" % (runs, cg_head),
        "|---|---:|---:|---:|---:|---:|---:|%s:---:|" % ("---:|---:|---:|" if callgrind else ""),
    ]
    lines += [fmt_row(*row) for row in rows]
    return "\n".join(lines)


def write_doc(path, text, cmd):
    with open(path) as f:
        doc = f.read()
    stamp = time.strftime("%Y-%m-%d %H:%M")
    block = "%s\nMeasured %s on %s (%d CPUs, shared with other builds) with `%s`:\n\n%s\n%s" % (
        BEGIN, stamp, os.uname().nodename, os.cpu_count(), cmd, text, END)
    if BEGIN in doc and END in doc:
        doc = doc[:doc.index(BEGIN)] + block + doc[doc.index(END) + len(END):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(doc)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--demo", required=True, help="clove-demo executable")
    p.add_argument("--clove-shot", required=True, help="clove-shot executable")
    p.add_argument("--server-libdir", dest="our_libdir", default=None,
                   help="dir of our libspice-server.so.1")
    p.add_argument("--ref-libdir", default=H.REF_LIBDIR_DEFAULT)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--xspice", action="store_true", help="also Xspice on both libraries")
    p.add_argument("--qemu", action="store_true",
                   help="also QEMU booting a tiny guest (1024x768 VESA console) on both "
                        "libraries")
    p.add_argument("--callgrind", action="store_true",
                   help="also count each client's instructions once (valgrind)")
    p.add_argument("--libs", default="ours,ref")
    p.add_argument("--write-doc", action="store_true")
    p.add_argument("--doc", default=os.path.join(HERE, "..", "..", "docs", "benchmarks.md"))
    args = p.parse_args()
    args.lib = "ours"
    H.need_programs("spicy-screenshot")
    if args.callgrind:
        H.need_programs("valgrind")
    if args.xspice:
        H.need_programs("Xspice", "Xorg", "xsetroot", "xterm", "xlogo")
    if args.qemu:
        H.need_programs("qemu-system-x86_64", "busybox", "cpio")
    if (args.xspice or args.qemu) and not args.our_libdir:
        print("--xspice and --qemu need --server-libdir", file=sys.stderr)
        return 2
    tmpdir = tempfile.mkdtemp(prefix="clove-bench-client-")
    servers = [(bench_demo, "clove-demo"), (bench_xspice, "Xspice + X clients"),
               (bench_qemu, "QEMU guest, qxl + VESA console,")]
    wanted = [True, args.xspice, args.qemu]
    rows = []
    try:
        for (bench, what), want in zip(servers, wanted):
            for lib in args.libs.split(",") if want else []:
                r, same, size = bench(args, tmpdir, lib)
                rows.append(("%s on %s library" % (what, "our" if lib == "ours" else "Debian's"),
                             r, same, size))
                print(fmt_row(*rows[-1]), flush=True)
    except H.TestFailure as e:
        print("bench failed: %s" % e, file=sys.stderr)
        return 1
    text = table(rows, args.runs, args.callgrind)
    print(text)
    if args.write_doc:
        cmd = "python3 tests/bench/bench_client.py --demo BUILD/apps/clove-demo/clove-demo " \
              "--clove-shot BUILD/apps/clove-shot/clove-shot --server-libdir BUILD/src/server" \
              "%s%s%s --runs %d --write-doc" % (" --xspice" if args.xspice else "",
                                                 " --qemu" if args.qemu else "",
                                                 " --callgrind" if args.callgrind else "",
                                                 args.runs)
        write_doc(args.doc, text, cmd)
        print("updated %s" % os.path.normpath(args.doc))
    return 0 if all(row[2] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
