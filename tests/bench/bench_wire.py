#!/usr/bin/python3
"""End-to-end wire benchmark: clove-demo on OUR libspice-server against the
same binary on Debian's reference library (LD_LIBRARY_PATH selects it), for
every --image-compression mode, in one run.

DESIGN
Every repetition starts a fresh demo (--no-animation, so the screen only
changes on input and every run sends the same pixels), puts a counting TCP
proxy of our own in front of it, and measures two phases through the proxy:

  first frame  spicy-screenshot connects and writes its PPM;
  session      a SpiceClientGLib (gi) client connects, waits for the first
               frame, types KEY_COUNT keys at a steady pace (one small update
               per press and per release), then waits until its decoded
               surface equals the demo's settled --frame-out.

The proxy accepts each client connection, opens a new upstream connection to
the demo for it, and relays both directions on two threads, counting bytes.
The channel is read from the client's SpiceLinkMess (the channel_type byte
at offset 16 + 4 of its first bytes), so bytes are reported per channel.

Per phase: server->client bytes per channel, connections, server CPU seconds
(sum of /proc/PID/task/*/schedstat over the demo's threads, before/after),
time (first frame: spicy-screenshot wall time; session: client connect until
the last display update that produced the final screen), and pixel-exactness
(the capture, or the client's surface, equals --frame-out; every mode the
demo offers is lossless because it disables JPEG and zlib-GLZ).

Repetitions interleave modes and libraries so that load drift hits both
sides alike. Medians are printed as markdown tables with the ratio
ours/reference; --write-doc replaces the bench_wire block of
docs/benchmarks.md. Exit status: 0, 1 on a failure (including a lossless
capture that is not pixel-exact), 77 when a prerequisite is missing."""

import argparse
import ctypes
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import harness as H  # noqa: E402
from bench_first_frame import cpu_seconds as process_cpu_seconds  # noqa: E402

MODES = ["off", "auto_glz", "auto_lz", "quic", "glz", "lz", "lz4"]
LIBS = ("ours", "ref")

# SPICE_CHANNEL_* (spice/enums.h)
CHANNEL_NAMES = {1: "main", 2: "display", 3: "inputs", 4: "cursor", 5: "playback",
                 6: "record", 7: "tunnel", 8: "smartcard", 9: "usbredir", 10: "port",
                 11: "webdav"}
CHANNEL_ORDER = ["main", "display", "cursor", "inputs"]
LINK_TYPE_OFFSET = 20  # SpiceLinkHeader (16 bytes) + connection_id (4 bytes)
SPICE_MAGIC = b"REDQ"

# Set-1 make codes: "the quick brown fox jumps over the lazy dog" minus a few.
KEYS = [0x14, 0x23, 0x12, 0x39, 0x10, 0x16, 0x17, 0x2e, 0x25, 0x39, 0x30, 0x13, 0x18, 0x11,
        0x31, 0x39, 0x21, 0x18, 0x2d, 0x39, 0x24, 0x16, 0x32, 0x19, 0x1f, 0x39, 0x18, 0x2f,
        0x12, 0x13, 0x39, 0x14, 0x23, 0x12, 0x39, 0x26, 0x1e, 0x2c, 0x15, 0x39]
KEY_RELEASED = 0x80


# ---------------------------------------------------------------------------
# Counting proxy
# ---------------------------------------------------------------------------

class ProxiedConn:
    """One client connection and its upstream twin, with byte counters."""

    def __init__(self, client, upstream):
        self.client = client
        self.upstream = upstream
        self.head = b""        # the client's first bytes, until the channel type is known
        self.channel = None    # channel name, or "?" if the link message was not SPICE
        self.s2c = 0           # bytes the server sent (read from upstream)
        self.c2s = 0           # bytes the client sent
        self.open_dirs = 2
        self.lock = threading.Lock()

    def note_client_bytes(self, data):
        if self.channel is not None:
            return
        self.head += data
        if len(self.head) > LINK_TYPE_OFFSET:
            if self.head[:4] == SPICE_MAGIC:
                t = self.head[LINK_TYPE_OFFSET]
                self.channel = CHANNEL_NAMES.get(t, "type%d" % t)
            else:
                self.channel = "?"
            self.head = b""

    def direction_done(self):
        with self.lock:
            self.open_dirs -= 1
            last = self.open_dirs == 0
        if last:
            for s in (self.client, self.upstream):
                try:
                    s.close()
                except OSError:
                    pass
        return last


class CountingProxy:
    """Listens on 127.0.0.1:<free port>; every accepted connection gets its
    own upstream connection to 127.0.0.1:upstream_port. take() hands back
    the finished connections' counters and forgets them."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.cond = threading.Condition()
        self.done = 0
        self.stopping = False
        self.errors = []
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self.stopping:
            try:
                client, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            client.settimeout(None)
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), 10)
                upstream.settimeout(None)
            except OSError as e:
                self.errors.append("upstream connect: %s" % e)
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = ProxiedConn(client, upstream)
            with self.cond:
                self.conns.append(conn)
            threading.Thread(target=self._relay, args=(conn, True), daemon=True).start()
            threading.Thread(target=self._relay, args=(conn, False), daemon=True).start()

    def _relay(self, conn, from_client):
        src, dst = (conn.client, conn.upstream) if from_client else (conn.upstream, conn.client)
        dst_ok = True
        while True:
            try:
                data = src.recv(262144)
            except OSError:
                data = b""
            if not data:
                break
            if from_client:
                conn.c2s += len(data)
                conn.note_client_bytes(data)
            else:
                conn.s2c += len(data)
            if dst_ok:
                try:
                    dst.sendall(data)
                except OSError:
                    dst_ok = False  # keep draining and counting what the peer sends
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if conn.direction_done():
            with self.cond:
                self.done += 1
                self.cond.notify_all()

    def take(self, timeout=5.0):
        """Wait (up to timeout) until every accepted connection has closed
        in both directions; return their counters and start afresh."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.done < len(self.conns):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            conns, self.conns, self.done = self.conns, [], 0
        unfinished = sum(1 for c in conns if c.open_dirs > 0)
        return {"conns": len(conns), "unfinished": unfinished,
                "s2c": per_channel(conns, "s2c"), "c2s": per_channel(conns, "c2s")}

    def close(self):
        self.stopping = True
        self.thread.join(2)
        self.lsock.close()


def per_channel(conns, attr):
    out = {}
    for c in conns:
        name = c.channel or "?"
        out[name] = out.get(name, 0) + getattr(c, attr)
    return out


# ---------------------------------------------------------------------------
# The gi client
# ---------------------------------------------------------------------------

def load_gi():
    try:
        import gi
        gi.require_version("SpiceClientGLib", "2.0")
        from gi.repository import GLib, GObject, SpiceClientGLib
    except (ImportError, ValueError) as e:
        H.log("SKIP: SpiceClientGLib via gi unavailable (%s); install python3-gi and "
              "gir1.2-spiceclientglib-2.0" % e)
        sys.exit(H.SKIP)
    return GLib, GObject, SpiceClientGLib


class WireClient:
    """A SpiceClientGLib session that keeps the primary surface pointer and
    the time of the latest display update. Signals are connected through
    GObject.Object.connect: Session/Channel.connect() shadow it."""

    def __init__(self, port):
        self.GLib, self.GObject, self.S = load_gi()
        self.ctx = self.GLib.MainContext.default()
        self.inputs = None
        self.inputs_open = False
        self.marked = False
        self.surface = None
        self.last_update = None
        self.errors = []
        self.session = self.S.Session()
        self.session.set_property("uri", "spice://127.0.0.1:%d" % port)
        self.GObject.Object.connect(self.session, "channel-new", self._channel_new)
        H.check(self.S.Session.connect(self.session), "spice_session_connect failed")

    def _channel_new(self, _session, ch):
        S, G = self.S, self.GObject
        G.Object.connect(ch, "channel-event", self._event)
        if isinstance(ch, S.InputsChannel):
            self.inputs = ch
        elif isinstance(ch, S.DisplayChannel):
            G.Object.connect(ch, "display-primary-create", self._primary)
            G.Object.connect(ch, "display-invalidate", self._invalidate)
            G.Object.connect(ch, "display-mark", self._mark)
        if not isinstance(ch, S.MainChannel):
            S.Channel.connect(ch)

    def _event(self, ch, event):
        S = self.S
        if event == S.ChannelEvent.OPENED and isinstance(ch, S.InputsChannel):
            self.inputs_open = True
        elif event not in (S.ChannelEvent.OPENED, S.ChannelEvent.CLOSED):
            self.errors.append("%s: event %s" % (type(ch).__name__, event))

    def _primary(self, _ch, fmt, width, height, stride, shmid, imgdata):
        self.surface = (width, height, stride, imgdata)
        self.last_update = time.monotonic()

    def _invalidate(self, _ch, x, y, w, h):
        self.last_update = time.monotonic()

    def _mark(self, _ch, mark):
        if mark:
            self.marked = True
            self.last_update = time.monotonic()

    def ready(self):
        return self.surface is not None and self.marked and self.inputs_open

    def pump(self, until=None, timeout=0.0):
        deadline = time.monotonic() + timeout
        while True:
            while self.ctx.pending():
                self.ctx.iteration(False)
            if until is not None and until():
                return True
            if time.monotonic() >= deadline:
                return until() if until is not None else True
            time.sleep(0.002)

    def equals(self, planes):
        """True if the surface's B, G, R bytes equal planes (from
        frame_planes) for the same width and height."""
        if self.surface is None:
            return False
        width, height, stride, imgdata = self.surface
        pw, ph, pb, pg, pr = planes
        if (width, height) != (pw, ph):
            return False
        raw = ctypes.string_at(imgdata, stride * height)
        if stride != width * 4:
            raw = b"".join(raw[y * stride:y * stride + width * 4] for y in range(height))
        return raw[0::4] == pb and raw[1::4] == pg and raw[2::4] == pr

    def close(self):
        try:
            self.session.disconnect()
            self.pump(timeout=0.2)
        except Exception:  # noqa: BLE001 - best-effort teardown
            pass


def frame_planes(ppm):
    w, h, rgb = H.parse_ppm(ppm)
    return w, h, rgb[2::3], rgb[1::3], rgb[0::3]


# ---------------------------------------------------------------------------
# One repetition
# ---------------------------------------------------------------------------

def cpu_seconds(pid):
    """(all threads, all but the main thread) CPU seconds of process pid:
    /proc/PID/task/*/schedstat summed (ns on CPU). The main thread runs the
    demo's rendering and --frame-out writes besides library code; the other
    threads are the library's workers (plus GLib's idle gmain thread), whose
    set stays the same during a run for both libraries."""
    total = workers = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                ns = int(f.read().split()[0])
            total += ns
            if int(tid) != pid:
                workers += ns
    except (OSError, ValueError, IndexError):
        return process_cpu_seconds(pid), float("nan")
    return total / 1e9, workers / 1e9


def cpu_delta(c0, c1):
    return c1[0] - c0[0], c1[1] - c0[1]


def first_frame(demo, proxy, tmpdir, tag):
    f0 = H.wait_stable_frame(demo.frame, 10, quiet=0.25)
    H.check(f0 is not None, "%s: the demo's first frame never settled" % tag)
    out = os.path.join(tmpdir, "wire-%s.ppm" % tag)
    c0 = cpu_seconds(demo.proc.pid)
    rc, wall, err = H.spicy_screenshot(proxy.port, out, timeout=30)
    wire = proxy.take()
    c1 = cpu_seconds(demo.proc.pid)
    H.check(rc == 0 and os.path.exists(out),
            "%s: spicy-screenshot rc=%d: %s" % (tag, rc, err.strip()))
    shot = H.read_file(out)
    cpu, workers = cpu_delta(c0, c1)
    return {"wire": wire, "cpu": cpu, "cpu_workers": workers, "time": wall,
            "exact": shot == f0}, f0


def session(demo, proxy, f0, tag, pace):
    c0 = cpu_seconds(demo.proc.pid)
    t0 = time.monotonic()
    cl = WireClient(proxy.port)
    try:
        H.check(cl.pump(cl.ready, 20),
                "%s: gi client not ready within 20 s (errors %s)" % (tag, cl.errors))
        t_first = cl.last_update - t0
        start = len(demo.lines)
        for i, code in enumerate(KEYS):
            cl.inputs.key_press(code)
            cl.pump(timeout=pace / 2)
            cl.inputs.key_release(code)
            if i == len(KEYS) - 1:
                t_keys = time.monotonic() - t0  # the last event is queued now
            cl.pump(timeout=pace / 2)
        # The demo prints every scancode it gets (--verbose), then redraws and
        # writes --frame-out: wait for all of them, then for a quiet frame.
        want = 2 * len(KEYS)

        def keys_seen():
            return sum(1 for ln in demo.lines[start:] if "clove-demo: input key=" in ln)

        H.check(cl.pump(lambda: keys_seen() >= want, 15),
                "%s: the demo saw %d of %d key events" % (tag, keys_seen(), want))
        final, since, last = None, time.monotonic(), None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            cl.pump(timeout=0.02)
            cur = H.read_file(demo.frame)
            if cur != last:
                last, since = cur, time.monotonic()
            elif time.monotonic() - since >= 0.25:
                final = cur
                break
        H.check(final is not None, "%s: the frame never settled after typing" % tag)
        H.check(final != f0, "%s: typing did not change the frame" % tag)
        planes = frame_planes(final)
        exact = cl.pump(lambda: cl.equals(planes), 10)
        t_final = cl.last_update - t0
    finally:
        cl.close()
    wire = proxy.take()
    c1 = cpu_seconds(demo.proc.pid)
    cpu, workers = cpu_delta(c0, c1)
    return {"wire": wire, "cpu": cpu, "cpu_workers": workers, "time": t_final, "first": t_first,
            "tail": t_final - t_keys, "exact": exact}


def one_run(args, tmpdir, mode, lib, rep):
    tag = "%s-%s-%d" % (mode, lib, rep)
    with H.Procs() as procs:
        demo = H.Demo(procs, args, tmpdir, lib=lib, name="wire-%s-%d" % (mode, rep),
                      extra=["--no-animation", "--verbose", "--image-compression", mode])
        demo.start()
        proxy = CountingProxy(demo.port)
        try:
            ff, f0 = first_frame(demo, proxy, tmpdir, tag)
            ss = session(demo, proxy, f0, tag, args.pace)
        finally:
            proxy.close()
        H.check(not proxy.errors, "%s: proxy: %s" % (tag, proxy.errors))
        demo.stop()
    return {"first_frame": ff, "session": ss}


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------

def med(values):
    return statistics.median(values) if values else float("nan")


def summarize(runs):
    """Medians (and whether byte counts varied) over a list of phase results."""
    chans = set()
    for r in runs:
        chans.update(r["wire"]["s2c"])
    s = {"n": len(runs), "bytes": {}, "varied": set()}
    for ch in chans | {"total"}:
        if ch == "total":
            vals = [sum(r["wire"]["s2c"].values()) for r in runs]
        else:
            vals = [r["wire"]["s2c"].get(ch, 0) for r in runs]
        s["bytes"][ch] = med(vals)
        if min(vals) != max(vals):
            s["varied"].add(ch)
    s["c2s"] = med([sum(r["wire"]["c2s"].values()) for r in runs])
    s["conns"] = med([r["wire"]["conns"] for r in runs])
    s["cpu"] = med([r["cpu"] for r in runs])
    s["cpu_workers"] = med([r["cpu_workers"] for r in runs])
    s["time"] = med([r["time"] for r in runs])
    s["exact"] = sum(1 for r in runs if r["exact"])
    for key in ("first", "tail"):
        if all(key in r for r in runs):
            s[key] = med([r[key] for r in runs])
    return s


def ratio(a, b):
    if b == 0 or b != b or a != a:
        return "n/a"
    return "%.2f" % (a / b)


def fmt_bytes(v, varied):
    return "{:,}".format(int(round(v))) + ("*" if varied else "")


def phase_table(results, phase, title, time_label, runs):
    lines = ["**%s** (median of %d runs)" % (title, runs), "",
             "| mode | metric | ours | reference | ours/ref |", "|---|---|---:|---:|---:|"]
    for mode in results:
        o = summarize(results[mode]["ours"][phase])
        r = summarize(results[mode]["ref"][phase])
        chans = [c for c in CHANNEL_ORDER if c in o["bytes"] or c in r["bytes"]]
        chans += sorted((set(o["bytes"]) | set(r["bytes"])) - set(chans) - {"total"})
        rows = []
        for ch in chans + ["total"]:
            ov, rv = o["bytes"].get(ch, 0), r["bytes"].get(ch, 0)
            rows.append(("bytes s->c %s" % ch if ch != "total" else "**bytes s->c total**",
                         fmt_bytes(ov, ch in o["varied"]), fmt_bytes(rv, ch in r["varied"]),
                         ratio(ov, rv)))
        rows.append(("bytes c->s total", fmt_bytes(o["c2s"], False), fmt_bytes(r["c2s"], False),
                     ratio(o["c2s"], r["c2s"])))
        rows.append(("connections", "%g" % o["conns"], "%g" % r["conns"],
                     ratio(o["conns"], r["conns"])))
        rows.append(("server CPU", "%.1f ms" % (o["cpu"] * 1e3), "%.1f ms" % (r["cpu"] * 1e3),
                     ratio(o["cpu"], r["cpu"])))
        rows.append(("server CPU, library worker threads", "%.1f ms" % (o["cpu_workers"] * 1e3),
                     "%.1f ms" % (r["cpu_workers"] * 1e3),
                     ratio(o["cpu_workers"], r["cpu_workers"])))
        rows.append((time_label, "%.0f ms" % (o["time"] * 1e3), "%.0f ms" % (r["time"] * 1e3),
                     ratio(o["time"], r["time"])))
        for key, label in (("first", "connect to first frame"),
                           ("tail", "last key sent to final screen")):
            if key in o and key in r:
                rows.append((label, "%.0f ms" % (o[key] * 1e3), "%.0f ms" % (r[key] * 1e3),
                             ratio(o[key], r[key])))
        rows.append(("pixel-exact runs", "%d/%d" % (o["exact"], o["n"]),
                     "%d/%d" % (r["exact"], r["n"]), ""))
        for i, (metric, a, b, q) in enumerate(rows):
            lines.append("| %s | %s | %s | %s | %s |" % (mode if i == 0 else "", metric, a, b, q))
    return "\n".join(lines)


def summary_table(results, runs):
    lines = ["| mode | first frame total ours | ref | ours/ref | display only ours/ref "
             "| session total ours | ref | ours/ref | display only ours/ref "
             "| session CPU ours/ref | workers only | exact (ours, ref) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for mode in results:
        cells = [mode]
        exact = []
        for phase in ("first_frame", "session"):
            o = summarize(results[mode]["ours"][phase])
            r = summarize(results[mode]["ref"][phase])
            cells += [fmt_bytes(o["bytes"]["total"], "total" in o["varied"]),
                      fmt_bytes(r["bytes"]["total"], "total" in r["varied"]),
                      ratio(o["bytes"]["total"], r["bytes"]["total"]),
                      ratio(o["bytes"].get("display", 0), r["bytes"].get("display", 0))]
            exact.append((o["exact"], r["exact"]))
        cells.append(ratio(o["cpu"], r["cpu"]))
        cells.append(ratio(o["cpu_workers"], r["cpu_workers"]))
        cells.append("%d/%d, %d/%d" % (exact[0][0] + exact[1][0], 2 * runs,
                                       exact[0][1] + exact[1][1], 2 * runs))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(results, args, elapsed, load0, load1, size):
    w, h = size
    parts = [
        "Screen %dx%d, %d keys at %.0f ms per key (press + release), %d runs per mode and "
        "library, interleaved; run took %.0f s. Load average (1/5/15 min) %s at the start, "
        "%s at the end, on %d CPUs." % (w, h, len(KEYS), args.pace * 1e3, args.runs, elapsed,
                                        load0, load1, os.cpu_count()),
        "",
        "Bytes are server->client over all connections unless noted; `*` marks a median "
        "whose runs differed. Exact = runs whose capture (or the gi client's surface) equals "
        "the demo's --frame-out, over both phases.",
        "",
        summary_table(results, args.runs),
        "",
        phase_table(results, "first_frame", "First frame: spicy-screenshot", "wall time",
                    args.runs),
        "",
        phase_table(results, "session", "Scripted session: gi client, %d keys" % len(KEYS),
                    "connect to final screen", args.runs),
    ]
    return "\n".join(parts)


def load_avg():
    try:
        with open("/proc/loadavg") as f:
            return " / ".join(f.read().split()[:3])
    except OSError:
        return "?"


def splice_doc(path, marker, body):
    """Replace the text between <!-- marker:begin --> and <!-- marker:end -->
    in path with body (appending the block if the markers are missing)."""
    begin, end = "<!-- %s:begin -->" % marker, "<!-- %s:end -->" % marker
    with open(path) as f:
        doc = f.read()
    block = "%s\n%s\n%s" % (begin, body.strip("\n"), end)
    if begin in doc and end in doc:
        doc = doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(doc)


def write_doc(path, text, cmd):
    stamp = time.strftime("%Y-%m-%d %H:%M")
    splice_doc(path, "bench_wire", "Measured %s on %s with `%s`.\n\n%s" % (
        stamp, os.uname().nodename, cmd, text))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--demo", help="path of the clove-demo executable (required)")
    p.add_argument("--server-libdir", "--our-libdir", dest="our_libdir", default=None,
                   help="dir holding our libspice-server.so.1 (checked via /proc/PID/maps)")
    p.add_argument("--ref-libdir", default=H.REF_LIBDIR_DEFAULT)
    p.add_argument("--runs", type=int, default=5, help="repetitions per mode and library")
    p.add_argument("--modes", default=",".join(MODES),
                   help="comma-separated --image-compression modes (default: all)")
    p.add_argument("--pace", type=float, default=0.025,
                   help="seconds per key (press + release) in the session (default 0.025)")
    p.add_argument("--json", help="also write every run's raw numbers to this file")
    p.add_argument("--write-doc", action="store_true",
                   help="update the bench_wire block in docs/benchmarks.md")
    p.add_argument("--doc", default=os.path.join(HERE, "..", "..", "docs", "benchmarks.md"))
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--splice-doc", nargs=2, metavar=("MARKER", "FILE"),
                   help="only replace the MARKER block of --doc with FILE's text and exit "
                        "(make bench uses it for the bench_codecs table)")
    args = p.parse_args()
    if args.splice_doc:
        splice_doc(args.doc, args.splice_doc[0], H.read_file(args.splice_doc[1]).decode())
        print("updated the %s block of %s" % (args.splice_doc[0], os.path.normpath(args.doc)))
        return 0
    if not args.demo:
        p.error("--demo is required")
    args.lib = "ours"
    modes = [m for m in args.modes.split(",") if m]
    bad = [m for m in modes if m not in MODES]
    if bad or args.runs < 1:
        p.error("unknown modes %s (known: %s) or --runs < 1" % (bad, ",".join(MODES)))
    H.need_programs("spicy-screenshot", "timeout")
    load_gi()
    if not os.path.exists(args.demo):
        print("bench failed: clove-demo not found at %s" % args.demo, file=sys.stderr)
        return 1

    tmpdir = tempfile.mkdtemp(prefix="clove-wire-")
    results = {m: {lib: {"first_frame": [], "session": []} for lib in LIBS} for m in modes}
    load0, t0 = load_avg(), time.monotonic()
    try:
        for rep in range(args.runs):
            for mode in modes:
                # Alternate which library goes first, so neither always runs warm.
                for lib in (LIBS if rep % 2 == 0 else LIBS[::-1]):
                    r = one_run(args, tmpdir, mode, lib, rep)
                    for phase in r:
                        results[mode][lib][phase].append(r[phase])
                    print("run %d %-8s %-4s first frame %7d B %5.0f ms | session %7d B "
                          "%5.0f ms cpu %5.0f ms%s" % (
                              rep + 1, mode, lib,
                              sum(r["first_frame"]["wire"]["s2c"].values()),
                              r["first_frame"]["time"] * 1e3,
                              sum(r["session"]["wire"]["s2c"].values()),
                              r["session"]["time"] * 1e3, r["session"]["cpu"] * 1e3,
                              "" if r["first_frame"]["exact"] and r["session"]["exact"]
                              else "  NOT EXACT"), file=sys.stderr, flush=True)
    except H.TestFailure as e:
        print("bench failed: %s (artefacts in %s)" % (e, tmpdir), file=sys.stderr)
        return 1
    elapsed, load1 = time.monotonic() - t0, load_avg()
    size = (0, 0)
    for name in sorted(os.listdir(tmpdir)):
        if name.endswith("-frame.ppm"):
            size = H.parse_ppm(H.read_file(os.path.join(tmpdir, name)))[:2]
            break
    text = report(results, args, elapsed, load0, load1, size)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "load": [load0, load1], "results": results}, f,
                      indent=1, default=sorted)
    if args.write_doc:
        write_doc(args.doc, text, "make bench BENCH_ARGS=--write-doc")
        print("updated %s" % os.path.normpath(args.doc))
    if not args.keep:
        import shutil
        shutil.rmtree(tmpdir, ignore_errors=True)
    inexact = [m for m in modes for lib in LIBS for ph in ("first_frame", "session")
               if not all(x["exact"] for x in results[m][lib][ph])]
    if inexact:
        print("bench: captures were not pixel-exact in modes %s" % sorted(set(inexact)),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
