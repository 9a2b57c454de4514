#!/usr/bin/python3
"""Trace benchmark of the display pipeline: QXL traces recorded from real X
workloads (tests/bench/traces/, recorded with Xspice on Debian's library by
record_traces.py) replayed by clove-replay on OUR libspice-server and on
Debian's, each to a real SpiceClientGLib client connected through a counting
proxy.

DESIGN
Per trace, library and repetition:
  1. clove-replay --image-compression auto_glz (QEMU's default) starts on a
     free port with LD_LIBRARY_PATH selecting the library (checked in
     /proc/PID/maps) and LD_PRELOAD=replay_gate.so, which holds the replay
     back (while serving the main loop) until a gate file exists;
  2. the gi client connects through the proxy (bench_wire.CountingProxy,
     which names each connection's channel from its link message) and waits
     until its display and cursor channels are open; then the gate opens;
  3. when clove-replay reports the trace done and the client's surface has
     had no update for --quiet seconds, the client's surface is kept, the
     client disconnects, and the proxy's counters are taken;
  4. spicy-screenshot captures the screen directly (not counted).
Measured: server->client bytes per channel; SPICE messages server->client
(the proxy parses each s2c stream: link reply, 4-byte link result, then
6-byte mini headers type:u16 size:u32 and bodies; the parse must end on a
message boundary); server CPU seconds (sum of /proc/PID/task/*/schedstat over
clove-replay's threads, from before the client connects until it has
disconnected; replay reading and command feeding are the same host code on
both sides); time from the gate opening to the last display update of the
client (its screen is final then). Pixel checks: the client's final surface
equals the spicy-screenshot capture and the trace's recorded final screen
(<trace>.final.ppm.xz, captured from Xspice while recording); both
libraries must agree. Traces and libraries interleave; medians are reported
with ratios ours/reference; --write-doc updates the bench_traces block of
docs/benchmarks.md. Exit: 0, 1 on failure or a final screen that differs,
77 when a prerequisite is missing.
"""
import argparse
import collections
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TRACES = os.path.join(HERE, 'traces')
sys.path.insert(0, os.path.join(HERE, '..', 'interop'))
sys.path.insert(0, HERE)
import harness as H  # noqa: E402
import bench_wire as W  # noqa: E402

TRACE_NAMES = ['typing', 'scrolling', 'dragging', 'mixed']
LIBS = ('ours', 'ref')
CHANNELS = ['main', 'display', 'cursor', 'inputs']


class S2CParser:
    """Counts the SPICE messages of one server->client stream (after the
    link reply and the link result), by type; `ok` stays True while the
    stream parses (magic right, ends on a message boundary)."""

    def __init__(self):
        self.stage = 0  # 0 link header, 1 link result, 2 messages, 3 gave up
        self.buf = b''
        self.skip = 0
        self.count = 0
        self.types = collections.Counter()
        self.sizes = []  # (type, size) of the first messages, for diffs
        self.ok = True

    def feed(self, data):
        i, n = 0, len(data)
        while i < n and self.stage != 3:
            if self.skip:
                k = min(self.skip, n - i)
                self.skip -= k
                i += k
                continue
            need = (16, 4, 6)[self.stage]
            k = min(need - len(self.buf), n - i)
            self.buf += data[i:i + k]
            i += k
            if len(self.buf) < need:
                break
            hdr, self.buf = self.buf, b''
            if self.stage == 0:
                if hdr[:4] != W.SPICE_MAGIC:
                    self.stage, self.ok = 3, False
                    break
                self.skip = struct.unpack_from('<I', hdr, 12)[0]
                self.stage = 1
            elif self.stage == 1:
                self.stage = 2
            else:
                mtype, size = struct.unpack('<HI', hdr)
                self.count += 1
                self.types[mtype] += 1
                if len(self.sizes) < 20000:
                    self.sizes.append((mtype, size))
                self.skip = size

    def finished(self):
        return self.ok and self.stage == 2 and not self.buf and not self.skip


class MessageProxy(W.CountingProxy):
    """bench_wire's counting proxy; the server->client relay also feeds an
    S2CParser per connection (through a socket wrapper, so the relay loop
    itself is bench_wire's)."""

    def _relay(self, conn, from_client):
        if from_client:
            return W.CountingProxy._relay(self, conn, True)
        conn.parser = S2CParser()
        return W.CountingProxy._relay(self, ProxyConnView(conn, TapSocket(conn.upstream,
                                                                          conn.parser)), False)

    def take_messages(self, timeout=5.0):
        with self.cond:
            conns = list(self.conns)
        wire = self.take(timeout)
        msgs, types, sizes, parsed = {}, {}, {}, True
        for c in conns:
            p = getattr(c, 'parser', None)
            name = c.channel or '?'
            if p is None:
                continue
            msgs[name] = msgs.get(name, 0) + p.count
            t = types.setdefault(name, collections.Counter())
            t.update(p.types)
            sizes.setdefault(name, []).extend(p.sizes)
            parsed = parsed and p.finished()
        wire['msgs'] = msgs
        wire['types'] = {k: dict(v) for k, v in types.items()}
        wire['sizes'] = sizes
        wire['parsed'] = parsed
        return wire


class TapSocket:
    """A socket whose received bytes also go to parser.feed."""

    def __init__(self, sock, parser):
        self.sock = sock
        self.parser = parser

    def recv(self, n):
        data = self.sock.recv(n)
        self.parser.feed(data)
        return data

    def __getattr__(self, name):
        return getattr(self.sock, name)


class ProxyConnView:
    """A ProxiedConn whose upstream socket is wrapped (for the s2c relay
    thread only); everything else is the shared connection object."""

    def __init__(self, conn, upstream):
        object.__setattr__(self, '_conn', conn)
        object.__setattr__(self, 'upstream', upstream)

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def __setattr__(self, name, value):
        setattr(self._conn, name, value)


class TraceClient(W.WireClient):
    """WireClient that also notes when its display and cursor channels are
    open (there is no primary surface before the replay starts)."""

    def __init__(self, port):
        self.opened = set()
        super().__init__(port)

    def _event(self, ch, event):
        if event == self.S.ChannelEvent.OPENED:
            self.opened.add(type(ch).__name__)
        super()._event(ch, event)

    def linked(self):
        return {'DisplayChannel', 'CursorChannel', 'InputsChannel'} <= self.opened

    def planes(self):
        """(w, h, B, G, R) of the surface, or None."""
        if self.surface is None:
            return None
        width, height, stride, imgdata = self.surface
        import ctypes
        raw = ctypes.string_at(imgdata, stride * height)
        if stride != width * 4:
            raw = b''.join(raw[y * stride:y * stride + width * 4] for y in range(height))
        return width, height, raw[0::4], raw[1::4], raw[2::4]


def first_diff(w, a, b):
    """(count, bbox [x0, y0, x1, y1], first (x, y)) of the pixels that
    differ between two (B, G, R) plane tuples of width w."""
    n, box, first = 0, None, None
    for i in range(len(a[0])):
        if a[0][i] != b[0][i] or a[1][i] != b[1][i] or a[2][i] != b[2][i]:
            x, y = i % w, i // w
            n += 1
            if first is None:
                first = (x, y)
                box = [x, y, x, y]
            else:
                box = [min(box[0], x), min(box[1], y), max(box[2], x), max(box[3], y)]
    return n, box, first


def planes_ppm(planes):
    """A binary PPM of (w, h, B, G, R) planes."""
    w, h, b, g, r = planes
    rgb = bytearray(w * h * 3)
    rgb[0::3], rgb[1::3], rgb[2::3] = r, g, b
    return b'P6\n%d %d\n255\n' % (w, h) + bytes(rgb)


def wait_out(path, text, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in H.read_file(path).decode(errors='replace'):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def one_run(args, tmpdir, trace, lib, rep):
    tag = '%s-%s-%d' % (trace, lib, rep)
    port = H.free_port()
    gate = os.path.join(tmpdir, 'gate-' + tag)
    out_path = os.path.join(tmpdir, tag + '.out')
    env = dict(os.environ)
    env['LD_LIBRARY_PATH'] = args.our_libdir if lib == 'ours' else args.ref_libdir
    env['LD_PRELOAD'] = args.gate
    env['CLOVE_REPLAY_GATE'] = gate
    env.pop('SPICE_WORKER_RECORD_FILENAME', None)
    argv = [args.replay, '--port', str(port), '--image-compression', args.compression,
            '--seconds', str(args.timeout + 30), args.trace_files[trace]]
    res = {'trace': trace, 'lib': lib, 'rep': rep}
    with open(out_path, 'wb') as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                env=env)
    proxy = cl = None
    try:
        H.check(wait_out(out_path, 'listening on', proc, 15),
                '%s: clove-replay did not start: %s' % (tag, H.read_file(out_path)[-2000:]))
        path = H.loaded_library(proc.pid, 'libspice-server.so')
        want = os.path.realpath(args.our_libdir if lib == 'ours' else args.ref_libdir)
        H.check(path is not None and os.path.dirname(os.path.realpath(path)) == want,
                '%s: clove-replay mapped %s, expected a library in %s' % (tag, path, want))
        proxy = MessageProxy(port)
        c0 = W.cpu_seconds(proc.pid)
        t_connect = time.monotonic()
        cl = TraceClient(proxy.port)
        H.check(cl.pump(cl.linked, 20), '%s: client channels not open (%s; errors %s)'
                % (tag, sorted(cl.opened), cl.errors))
        t_gate = time.monotonic()
        open(gate, 'w').close()
        deadline = t_gate + args.timeout
        done = False
        while time.monotonic() < deadline:
            cl.pump(timeout=0.05)
            if not done and 'trace done' in H.read_file(out_path).decode(errors='replace'):
                done = True
            if done and cl.last_update is not None and \
                    time.monotonic() - max(cl.last_update, t_gate) >= args.quiet:
                break
        H.check(done, '%s: the trace did not finish within %d s' % (tag, args.timeout))
        H.check(cl.surface is not None, '%s: the client never got a primary surface' % tag)
        res['time'] = cl.last_update - t_gate
        res['connect_to_final'] = cl.last_update - t_connect
        res['link_time'] = t_gate - t_connect
        surf = cl.planes()
        cl.close()
        cl = None
        res['wire'] = proxy.take_messages(10)
        c1 = W.cpu_seconds(proc.pid)
        res['cpu'], res['cpu_workers'] = W.cpu_delta(c0, c1)
        res['surface'] = surf
        if surf is not None:
            with open(os.path.join(tmpdir, tag + '.client.ppm'), 'wb') as f:
                f.write(planes_ppm(surf))
        res['errors'] = list(proxy.errors)
    finally:
        if cl is not None:
            cl.close()
        if proxy is not None:
            proxy.close()
        H.stop_process(proc, grace=5)
    return res


def capture_after_trace(args, tmpdir, trace, lib):
    """A spicy-screenshot capture of the screen after the whole trace was
    replayed with no client (clove-replay exits once a display client has
    left after the trace, and Debian's library refuses a second client, so
    the timed runs cannot be captured this way)."""
    tag = 'shot-%s-%s' % (trace, lib)
    port = H.free_port()
    out_path = os.path.join(tmpdir, tag + '.out')
    env = dict(os.environ)
    env['LD_LIBRARY_PATH'] = args.our_libdir if lib == 'ours' else args.ref_libdir
    env.pop('SPICE_WORKER_RECORD_FILENAME', None)
    env.pop('LD_PRELOAD', None)
    argv = [args.replay, '--port', str(port), '--image-compression', args.compression,
            '--seconds', str(args.timeout + 30), args.trace_files[trace]]
    with open(out_path, 'wb') as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                env=env)
    try:
        H.check(wait_out(out_path, 'trace done', proc, args.timeout),
                '%s: the trace did not finish: %s' % (tag, H.read_file(out_path)[-2000:]))
        return W.frame_planes(H.capture(port, tmpdir, tag))
    finally:
        H.stop_process(proc, grace=5)


def med(values):
    values = [v for v in values if v is not None]
    return sorted(values)[len(values) // 2] if values else None


def ratio(a, b):
    return '%.2f' % (a / b) if a is not None and b else 'n/a'


def fmt(v, varied=False):
    return ('{:,}'.format(int(v)) if v is not None else 'n/a') + ('*' if varied else '')


def stat(runs, f):
    vals = [f(r) for r in runs]
    return med(vals), len(set(vals)) > 1


def report(results, finals, args, elapsed, load0, load1):
    lines = []
    lines.append('Image compression %s; %d run(s) per trace and library, interleaved; run took '
                 '%.0f s. Load average (1/5/15 min) %s at the start, %s at the end, on %d '
                 'CPUs.' % (args.compression, args.runs, elapsed, load0, load1,
                            os.cpu_count() or 0))
    lines.append('')
    lines.append('Bytes and messages are server->client over all connections; `*` marks a '
                 'median whose runs differed. Final = the client\'s last surface equals the '
                 'recorded final screen, the spicy-screenshot capture, and the other '
                 'library\'s.')
    lines.append('')
    lines.append('| trace | bytes ours | ref | ours/ref | display bytes ours/ref | messages ours '
                 '| ref | ours/ref | CPU ours | ref | ours/ref | time to final ours | ref | '
                 'ours/ref | final |')
    lines.append('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|')
    for trace in results:
        row = {}
        for lib in LIBS:
            runs = results[trace][lib]
            row[lib] = {
                'bytes': stat(runs, lambda r: sum(r['wire']['s2c'].values())),
                'display': stat(runs, lambda r: r['wire']['s2c'].get('display', 0)),
                'msgs': stat(runs, lambda r: sum(r['wire']['msgs'].values())),
                'cpu': med([r['cpu'] for r in runs]),
                'time': med([r['time'] for r in runs]),
            }
        o, f = row['ours'], row['ref']
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s | %.0f ms | %.0f ms | %s | '
                     '%.0f ms | %.0f ms | %s | %s |' % (
                         trace, fmt(*o['bytes']), fmt(*f['bytes']),
                         ratio(o['bytes'][0], f['bytes'][0]),
                         ratio(o['display'][0], f['display'][0]),
                         fmt(*o['msgs']), fmt(*f['msgs']), ratio(o['msgs'][0], f['msgs'][0]),
                         o['cpu'] * 1e3, f['cpu'] * 1e3, ratio(o['cpu'], f['cpu']),
                         o['time'] * 1e3, f['time'] * 1e3, ratio(o['time'], f['time']),
                         finals[trace]))
    lines.append('')
    lines.append('Per channel (median bytes server->client / messages):')
    lines.append('')
    lines.append('| trace | channel | bytes ours | ref | ours/ref | messages ours | ref | '
                 'ours/ref |')
    lines.append('|---|---|---:|---:|---:|---:|---:|---:|')
    for trace in results:
        for ch in CHANNELS:
            ob = stat(results[trace]['ours'], lambda r: r['wire']['s2c'].get(ch, 0))
            fb = stat(results[trace]['ref'], lambda r: r['wire']['s2c'].get(ch, 0))
            om = stat(results[trace]['ours'], lambda r: r['wire']['msgs'].get(ch, 0))
            fm = stat(results[trace]['ref'], lambda r: r['wire']['msgs'].get(ch, 0))
            lines.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
                trace, ch, fmt(*ob), fmt(*fb), ratio(ob[0], fb[0]), fmt(*om), fmt(*fm),
                ratio(om[0], fm[0])))
    lines.append('')
    lines.append('Display messages by type (SPICE_MSG_DISPLAY_* number: count, median run):')
    lines.append('')
    lines.append('| trace | ours | reference |')
    lines.append('|---|---|---|')
    for trace in results:
        cells = []
        for lib in LIBS:
            runs = results[trace][lib]
            r = runs[len(runs) // 2]
            types = r['wire']['types'].get('display', {})
            cells.append(', '.join('%s: %d' % (t, types[t]) for t in sorted(types, key=int)))
        lines.append('| %s | %s | %s |' % (trace, cells[0], cells[1]))
    return '\n'.join(lines)


def check_finals(results, expected, shots):
    """Per trace: 'yes', or a description of what differs."""
    finals, problems = {}, []
    for trace in results:
        notes = []
        want = W.frame_planes(expected[trace])
        surfaces = {}
        for lib in LIBS:
            if shots[trace][lib] != want:
                notes.append('%s: spicy-screenshot after the trace differs from the recorded '
                             'final screen' % lib)
            for r in results[trace][lib]:
                s = r['surface']
                if r['surface'] != shots[trace][lib]:
                    notes.append('%s run %d: client surface != spicy-screenshot after the '
                                 'trace' % (lib, r['rep'] + 1))
                if s != want:
                    if s is None or s[:2] != want[:2]:
                        notes.append('%s run %d: surface size %s, recorded %s'
                                     % (lib, r['rep'] + 1, s and s[:2], want[:2]))
                    else:
                        n, box, first = first_diff(want[0], s[2:], want[2:])
                        notes.append('%s run %d: %d pixels differ from the recorded final '
                                     'screen, bbox %s, first at %s' % (lib, r['rep'] + 1, n,
                                                                       box, first))
                surfaces.setdefault(lib, s)
        if surfaces.get('ours') != surfaces.get('ref') and surfaces.get('ours') and \
                surfaces.get('ref') and surfaces['ours'][:2] == surfaces['ref'][:2]:
            n, box, first = first_diff(surfaces['ours'][0], surfaces['ours'][2:],
                                       surfaces['ref'][2:])
            notes.append('ours vs ref: %d pixels differ, bbox %s, first at %s' % (n, box, first))
        finals[trace] = 'yes' if not notes else 'NO'
        problems += ['%s: %s' % (trace, n) for n in notes]
    return finals, problems


def first_message_diff(results):
    """Where the display message streams (type, size) of the two libraries
    first part ways, per trace (a pointer for final-screen differences)."""
    out = {}
    for trace in results:
        a = results[trace]['ours'][0]['wire']['sizes'].get('display', [])
        b = results[trace]['ref'][0]['wire']['sizes'].get('display', [])
        for i, (x, y) in enumerate(zip(a, b)):
            if x[0] != y[0]:
                out[trace] = 'message %d: ours type %d (%d B), ref type %d (%d B)' % (
                    i, x[0], x[1], y[0], y[1])
                break
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--replay', required=True, help='clove-replay executable')
    p.add_argument('--gate', required=True, help='replay_gate.so (LD_PRELOAD shim)')
    p.add_argument('--server-libdir', '--our-libdir', dest='our_libdir', required=True)
    p.add_argument('--ref-libdir', default=H.REF_LIBDIR_DEFAULT)
    p.add_argument('--traces', default=','.join(TRACE_NAMES))
    p.add_argument('--trace-dir', default=TRACES)
    p.add_argument('--runs', type=int, default=3)
    p.add_argument('--compression', default='auto_glz')
    p.add_argument('--quiet', type=float, default=1.0,
                   help='seconds without a display update after the trace is done')
    p.add_argument('--timeout', type=int, default=120)
    p.add_argument('--json', help='write raw per-run numbers here')
    p.add_argument('--write-doc', action='store_true',
                   help='update the --marker block of --doc (docs/benchmarks.md)')
    p.add_argument('--marker', default='bench_traces',
                   help='doc block to update (default bench_traces)')
    p.add_argument('--doc', default=os.path.join(HERE, '..', '..', 'docs', 'benchmarks.md'))
    p.add_argument('--keep', action='store_true')
    args = p.parse_args()
    H.need_programs('spicy-screenshot', 'timeout')
    W.load_gi()
    for path in (args.replay, args.gate, os.path.join(args.our_libdir,
                                                      'libspice-server.so.1')):
        if not os.path.exists(path):
            print('bench failed: %s not found' % path, file=sys.stderr)
            return 1
    tmpdir = tempfile.mkdtemp(prefix='clove-traces-')
    traces = [t for t in args.traces.split(',') if t]
    args.trace_files, expected = {}, {}
    for t in traces:
        with lzma.open(os.path.join(args.trace_dir, t + '.trace.xz')) as f, \
                open(os.path.join(tmpdir, t + '.trace'), 'wb') as o:
            shutil.copyfileobj(f, o)
        args.trace_files[t] = os.path.join(tmpdir, t + '.trace')
        with lzma.open(os.path.join(args.trace_dir, t + '.final.ppm.xz')) as f:
            expected[t] = f.read()
    results = {t: {lib: [] for lib in LIBS} for t in traces}
    load0, t0 = W.load_avg(), time.monotonic()
    try:
        for rep in range(args.runs):
            for t in traces:
                for lib in (LIBS if rep % 2 == 0 else LIBS[::-1]):
                    r = one_run(args, tmpdir, t, lib, rep)
                    results[t][lib].append(r)
                    print('run %d %-9s %-4s %9d B %6d msgs cpu %6.0f ms final after %6.0f ms%s'
                          % (rep + 1, t, lib, sum(r['wire']['s2c'].values()),
                             sum(r['wire']['msgs'].values()), r['cpu'] * 1e3, r['time'] * 1e3,
                             '' if r['wire']['parsed'] else '  (stream did not parse)'),
                          file=sys.stderr, flush=True)
        shots = {t: {lib: capture_after_trace(args, tmpdir, t, lib) for lib in LIBS}
                 for t in traces}
    except H.TestFailure as e:
        print('bench failed: %s (artefacts in %s)' % (e, tmpdir), file=sys.stderr)
        return 1
    elapsed, load1 = time.monotonic() - t0, W.load_avg()
    finals, problems = check_finals(results, expected, shots)
    text = report(results, finals, args, elapsed, load0, load1)
    diverge = first_message_diff(results)
    if problems:
        text += '\n\nFinal-screen differences:\n\n' + '\n'.join('* ' + x for x in problems)
        for t, d in sorted(diverge.items()):
            text += '\n* %s: display message streams first differ at %s' % (t, d)
    print(text)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({t: {lib: [{k: v for k, v in r.items() if k != 'surface'}
                                 for r in results[t][lib]] for lib in LIBS} for t in results},
                      f, indent=1)
    if args.write_doc:
        stamp = time.strftime('%Y-%m-%d %H:%M')
        W.splice_doc(args.doc, args.marker, 'Measured %s on %s with `%s`.\n\n%s' % (
            stamp, os.uname().nodename, ' '.join(['bench_traces.py'] + sys.argv[1:]), text))
        print('updated %s' % os.path.normpath(args.doc))
    if not args.keep and not problems:
        shutil.rmtree(tmpdir, ignore_errors=True)
    else:
        print('artefacts in %s' % tmpdir, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
