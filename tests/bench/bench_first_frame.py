#!/usr/bin/python3
"""First-frame benchmark: clove-demo --no-animation on OUR libspice-server
and on Debian's reference library (the same demo binary; LD_LIBRARY_PATH
selects the library). For each run we time spicy-screenshot from process
start (TCP connect starts at once) to its exit with the PPM written, and the
CPU time (utime+stime from /proc/PID/stat) the demo process used meanwhile.
Reports medians and the ratio ours/reference as a markdown table; with
--write-doc it also replaces the results block in docs/benchmarks.md."""

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import harness as H  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
BEGIN = "<!-- bench_first_frame:begin -->"
END = "<!-- bench_first_frame:end -->"


def cpu_seconds(pid):
    """CPU time of the whole process in seconds, with nanosecond resolution:
    the sum of /proc/PID/task/*/schedstat (time on CPU) over live threads,
    falling back to utime+stime ticks if schedstat is unavailable."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass
        if total:
            return total / 1e9
    except OSError:
        pass
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (stat field 3); utime/stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def measure(args, lib, tmpdir, runs):
    walls, cpus = [], []
    with H.Procs() as procs:
        demo = H.Demo(procs, args, tmpdir, lib=lib, extra=["--no-animation"]).start()
        H.wait_stable_frame(demo.frame, 10)
        out = os.path.join(tmpdir, "bench-%s.ppm" % lib)
        for i in range(runs + 1):
            c0 = cpu_seconds(demo.proc.pid)
            rc, wall, err = H.spicy_screenshot(demo.port, out, timeout=30)
            time.sleep(0.05)  # let the server finish tearing the client down
            c1 = cpu_seconds(demo.proc.pid)
            H.check(rc == 0, "%s run %d: spicy-screenshot rc=%d: %s" % (lib, i, rc, err.strip()))
            if i == 0:
                continue  # warm-up (page cache, first RSA key)
            walls.append(wall)
            cpus.append(c1 - c0)
        demo.stop()
    return statistics.median(walls), statistics.median(cpus), walls


def table(res, runs, w, h):
    o, r = res["ours"], res["ref"]
    lines = [
        "| metric (median of %d runs, %dx%d) | ours | reference | ours/reference |"
        % (runs, w, h),
        "|---|---:|---:|---:|",
        "| spicy-screenshot wall time (connect to PPM written) | %.1f ms | %.1f ms | %.2f |"
        % (o[0] * 1e3, r[0] * 1e3, o[0] / r[0] if r[0] else float("nan")),
        "| server CPU time during the capture | %.1f ms | %.1f ms | %s |"
        % (o[1] * 1e3, r[1] * 1e3, "%.2f" % (o[1] / r[1]) if r[1] else "n/a"),
    ]
    return "\n".join(lines)


def write_doc(path, text, cmd):
    with open(path) as f:
        doc = f.read()
    stamp = time.strftime("%Y-%m-%d %H:%M")
    block = "%s\nMeasured %s on %s (%d CPUs) with `%s`:\n\n%s\n%s" % (
        BEGIN, stamp, os.uname().nodename, os.cpu_count(), cmd, text, END)
    if BEGIN in doc and END in doc:
        doc = doc[:doc.index(BEGIN)] + block + doc[doc.index(END) + len(END):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(doc)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--demo", required=True)
    p.add_argument("--server-libdir", dest="our_libdir", default=None)
    p.add_argument("--ref-libdir", default=H.REF_LIBDIR_DEFAULT)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--write-doc", action="store_true",
                   help="update the results block in docs/benchmarks.md")
    p.add_argument("--doc", default=os.path.join(HERE, "..", "..", "docs", "benchmarks.md"))
    args = p.parse_args()
    args.lib = "ours"
    H.need_programs("spicy-screenshot", "timeout")
    tmpdir = tempfile.mkdtemp(prefix="clove-bench-")
    try:
        res = {lib: measure(args, lib, tmpdir, args.runs) for lib in ("ours", "ref")}
    except H.TestFailure as e:
        print("bench failed: %s" % e, file=sys.stderr)
        return 1
    w, h = 1024, 768
    try:
        w, h, _ = H.parse_ppm(H.read_file(os.path.join(tmpdir, "bench-ours.ppm")))
    except (OSError, H.TestFailure):
        pass
    text = table(res, args.runs, w, h)
    print(text)
    if args.write_doc:
        write_doc(args.doc, text, "make bench BENCH_ARGS=--write-doc")
        print("updated %s" % os.path.normpath(args.doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
