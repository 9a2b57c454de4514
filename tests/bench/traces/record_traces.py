#!/usr/bin/python3
"""Records the QXL traces of the display-pipeline benchmark (bench_traces.py)
from real X workloads, on Debian's reference libspice-server, so the traces
do not depend on our implementation.

DESIGN
One Xspice (Xorg + spiceqxl_drv.so, tests/interop/xspice/xspice.conf) per
workload, started with LD_LIBRARY_PATH=<reference libdir> and
SPICE_WORKER_RECORD_FILENAME=<tmp>/<name>.rec: the library writes every QXL
command the driver hands it, from the primary surface creation on. A
SpiceClientGLib client stays connected for the whole recording (a display
client is what a real session has; the recording itself does not need
one). The workload is driven with xdotool (XTEST) and ordinary X clients,
with no window manager: keys go to the window under the pointer
(PointerRoot focus) and `xdotool windowmove` moves a top-level window with
XMoveWindow directly.

  typing     190 characters typed into `xterm -e cat` (40 ms per key)
  scrolling  `seq 1 2000 | less` in a 80x40 xterm, then 30 pages down
  dragging   an xterm (over an xlogo and a second xterm) moved in 40 steps
  mixed      a page of text (xterm), xlogo and two images (display(1) of a
             generated fractal and of a gradient)

When the screen is settled (two spicy-screenshot captures 0.4 s apart are
equal) the capture is kept as <name>.final.ppm, Xorg gets SIGTERM (never the
Xspice wrapper, whose cleanup SIGKILLs Xorg and leaves a stale lock), and the
recording and the capture are compressed with xz into --out-dir.

Run by hand when the workloads change; the results are committed:
  /usr/bin/python3 tests/bench/traces/record_traces.py [--only typing,mixed]
Needs: xserver-xspice, xterm, xdotool, x11-apps (xlogo), imagemagick
(convert, display), x11-xserver-utils (xsetroot), spice-client-gtk
(spicy-screenshot), python3-gi + gir1.2-spiceclientglib-2.0, xz-utils.
"""
import argparse
import lzma
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
INTEROP = os.path.join(HERE, '..', '..', 'interop')
sys.path.insert(0, INTEROP)
sys.path.insert(0, os.path.join(INTEROP, 'xspice'))
import harness  # noqa: E402
from test_xspice import CONF, children, pid_alive, remove_stale_lock  # noqa: E402

REF_LIBDIR = '/usr/lib/x86_64-linux-gnu'
WORKLOADS = ['typing', 'scrolling', 'dragging', 'mixed']

# 190 characters of ordinary text, with shifted characters and spaces.
TYPED = ('The quick brown fox jumps over the lazy dog; PACK MY BOX WITH FIVE DOZEN '
         'LIQUOR JUGS! 0123456789 (a+b)*c = d/e - f. Sphinx of black quartz, judge '
         'my vow: how vexingly quick daft zebras jump?')[:200]

# Stays connected (and reads) while the workload runs; exits on SIGTERM.
WATCHER = r'''
import signal, sys, gi
gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject, SpiceClientGLib as S
loop = GLib.MainLoop()
s = S.Session()
s.set_property("uri", "spice://127.0.0.1:%s" % sys.argv[1])
def chan(_s, ch):
    if not isinstance(ch, S.MainChannel):
        S.Channel.connect(ch)
GObject.Object.connect(s, "channel-new", chan)
S.Session.connect(s)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
loop.run()
s.disconnect()
'''


class RecordingXspice:
    """Xspice on the reference library, recording to `rec`."""

    def __init__(self, procs, libdir, workdir, rec):
        self.procs = procs
        self.display = harness.free_display()
        self.port = harness.free_port()
        self.workdir = workdir
        self.out = open(os.path.join(workdir, 'xspice.out'), 'wb')
        env = dict(os.environ)
        env['LD_LIBRARY_PATH'] = libdir
        env['SPICE_WORKER_RECORD_FILENAME'] = rec
        env.pop('DISPLAY', None)
        argv = ['Xspice', '--config', CONF, '--port', str(self.port), '--disable-ticketing',
                ':%d' % self.display, '-logfile', os.path.join(workdir, 'Xorg.log'),
                '-nolisten', 'tcp', '-noreset']
        self.wrapper = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out,
                                        stderr=self.out, env=env)
        self.xorg = None
        self.clients = []

    def xenv(self):
        env = dict(os.environ)
        env['DISPLAY'] = ':%d' % self.display
        env.pop('LD_LIBRARY_PATH', None)
        env.pop('SPICE_WORKER_RECORD_FILENAME', None)
        return env

    def run(self, *argv, timeout=20):
        r = subprocess.run(['timeout', str(timeout)] + list(argv), env=self.xenv(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        harness.check(r.returncode == 0, '%s failed rc=%d: %s'
                      % (' '.join(argv), r.returncode, r.stderr.decode(errors='replace')))
        return r.stdout.decode(errors='replace')

    def start(self, timeout=30):
        deadline = time.monotonic() + timeout
        sock = '/tmp/.X11-unix/X%d' % self.display
        while time.monotonic() < deadline:
            if self.xorg is None:
                kids = children(self.wrapper.pid)
                self.xorg = kids[0] if kids else None
            harness.check(self.wrapper.poll() is None, 'Xspice exited rc=%s'
                          % self.wrapper.returncode)
            if self.xorg and os.path.exists(sock):
                r = subprocess.run(['timeout', '5', 'xsetroot', '-solid', '#3060c0'],
                                   env=self.xenv(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                if r.returncode == 0:
                    break
            time.sleep(0.1)
        else:
            raise harness.TestFailure('Xspice did not come up on :%d' % self.display)
        path = harness.loaded_library(self.xorg, 'libspice-server.so')
        harness.check(path is not None and os.path.dirname(os.path.realpath(path)) ==
                      os.path.realpath(REF_LIBDIR), 'Xorg mapped %s, not the reference' % path)
        self.run('xsetroot', '-cursor_name', 'left_ptr')
        watcher = self.procs.popen('watcher', ['/usr/bin/python3', '-c', WATCHER,
                                               str(self.port)], stdout=self.out,
                                   stderr=self.out, env=self.xenv())
        self.clients.append(watcher)
        time.sleep(1.0)  # the watcher links and gets its first frame
        return self

    def client(self, argv):
        p = self.procs.popen(argv[0], argv, env=self.xenv(), stdout=self.out, stderr=self.out)
        self.clients.append(p)
        return p

    def window(self, title, timeout=15):
        """The id of the (mapped) window named title."""
        out = self.run('xdotool', 'search', '--sync', '--onlyvisible', '--name',
                       '^%s$' % title, timeout=timeout)
        return out.split()[0]

    def settled_capture(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc, _dt, err = harness.spicy_screenshot(self.port, path, timeout=20)
            harness.check(rc == 0, 'spicy-screenshot failed: %s' % err)
            cur = harness.read_file(path)
            if cur == last:
                return cur
            last = cur
            time.sleep(0.4)
        raise harness.TestFailure('the screen did not settle')

    def stop(self):
        for p in reversed(self.clients):
            harness.stop_process(p, grace=3)
        if self.xorg and pid_alive(self.xorg):
            os.kill(self.xorg, signal.SIGTERM)
        try:
            self.wrapper.wait(15)
        except subprocess.TimeoutExpired:
            if self.xorg and pid_alive(self.xorg):
                os.kill(self.xorg, signal.SIGKILL)
            harness.stop_process(self.wrapper, grace=5)
        remove_stale_lock(self.display)
        self.out.close()


XTERM = ['xterm', '+bc', '-fn', 'fixed', '-fg', 'black', '-bg', 'white']


def wl_typing(x, tmp):
    x.client(XTERM + ['-geometry', '80x24+150+150', '-title', 'typing', '-e', 'cat'])
    x.window('typing')
    x.run('xdotool', 'mousemove', '400', '300')
    time.sleep(0.5)
    x.run('xdotool', 'type', '--delay', '40', TYPED, timeout=60)


def wl_scrolling(x, tmp):
    path = os.path.join(tmp, 'lines.txt')
    with open(path, 'w') as f:
        f.write(''.join('%d\n' % i for i in range(1, 2001)))
    x.client(XTERM + ['-geometry', '80x40+100+60', '-title', 'scrolling',
                      '-e', 'less', path])
    x.window('scrolling')
    x.run('xdotool', 'mousemove', '400', '300')
    time.sleep(0.8)
    x.run('xdotool', 'key', '--delay', '150', *(['Next'] * 30), timeout=60)


def wl_dragging(x, tmp):
    x.client(['xlogo', '-geometry', '200x200+700+450'])
    x.client(XTERM + ['-geometry', '60x20+600+40', '-title', 'behind', '-e', 'sh', '-c',
                      'seq 100 120; exec cat'])
    x.client(XTERM + ['-geometry', '50x12+40+40', '-title', 'dragging', '-e', 'sh', '-c',
                      'ls -l /usr/bin | head -11; exec cat'])
    wid = x.window('dragging')
    x.window('behind')
    time.sleep(0.8)
    for i in range(1, 41):
        x.run('xdotool', 'windowmove', wid, str(40 + 15 * i), str(40 + 11 * i))
        time.sleep(0.03)


def wl_mixed(x, tmp):
    fractal = os.path.join(tmp, 'fractal.png')
    gradient = os.path.join(tmp, 'gradient.png')
    subprocess.run(['convert', '-seed', '7', '-size', '420x300', 'plasma:fractal', fractal],
                   check=True)
    subprocess.run(['convert', '-size', '300x200', 'gradient:#ffe020-#2040a0', gradient],
                   check=True)
    text = '/usr/share/common-licenses/GPL-3'
    x.client(XTERM + ['-geometry', '80x45+10+10', '-title', 'page', '-e', 'sh', '-c',
                      'head -44 %s; exec cat' % text])
    x.window('page')
    x.client(['xlogo', '-geometry', '160x160+560+20'])
    x.client(['display', '-geometry', '+560+230', '-title', 'fractal', fractal])
    x.window('fractal')
    x.client(['display', '-geometry', '+700+540', '-title', 'gradient', gradient])
    x.window('gradient')
    time.sleep(1.0)


def cut_trace(data, t_cut):
    """The recording up to its last event stamped at or before t_cut
    (CLOCK_MONOTONIC ns, the clock of the events' 4th field), and the event
    counts (kept, total). What follows the settled final capture is the
    teardown (clients killed, windows destroyed, the primary surface
    dropped) and must not be replayed. Events are found as lines
    "event <n> <what> <type> <ns>" with n counting up from 0; binary blocks
    are length-prefixed, so a false match would also need the right n."""
    starts = []
    pos = data.index(b'event 0 ')
    while pos >= 0:
        starts.append(pos)
        pos = data.find(b'\nevent %d ' % len(starts), pos)
        if pos >= 0:
            pos += 1
    cut = len(data)
    for i, start in enumerate(starts):
        line = data[start:data.index(b'\n', start)].split()
        if int(line[4]) > t_cut:
            cut = start
            return data[:cut], i, len(starts)
    return data, len(starts), len(starts)


def record(name, args, procs, tmp):
    work = os.path.join(tmp, name)
    os.makedirs(work)
    rec = os.path.join(work, name + '.rec')
    x = RecordingXspice(procs, args.ref_libdir, work, rec)
    try:
        x.start()
        globals()['wl_' + name](x, work)
        ppm = x.settled_capture(os.path.join(work, 'final.ppm'))
        t_cut = time.monotonic_ns()
    finally:
        x.stop()
    with open(rec, 'rb') as f:
        data = f.read()
    harness.check(data.startswith(b'SPICE_REPLAY 1\n'), '%s: recording lacks its header' % name)
    data, kept, total = cut_trace(data, t_cut)
    harness.log('%s: %d of %d events kept (the rest is the teardown)' % (name, kept, total))
    for suffix, blob in (('.trace.xz', data), ('.final.ppm.xz', ppm)):
        with lzma.open(os.path.join(args.out_dir, name + suffix), 'wb', preset=9) as f:
            f.write(blob)
    harness.log('%s: %d bytes recorded (%d compressed), final screen kept'
                % (name, len(data), os.path.getsize(os.path.join(args.out_dir,
                                                                 name + '.trace.xz'))))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out-dir', default=HERE)
    p.add_argument('--ref-libdir', default=REF_LIBDIR)
    p.add_argument('--only', default=','.join(WORKLOADS))
    p.add_argument('--keep', action='store_true')
    args = p.parse_args()
    harness.need_programs('Xspice', 'Xorg', 'xterm', 'xdotool', 'xlogo', 'convert', 'display',
                          'xsetroot', 'spicy-screenshot', 'timeout')
    tmp = tempfile.mkdtemp(prefix='clove-rec-')
    rc = 1
    try:
        with harness.Procs() as procs:
            for name in args.only.split(','):
                record(name, args, procs, tmp)
        rc = 0
    except harness.TestFailure as e:
        harness.log('FAIL: %s' % e)
    finally:
        if args.keep or rc:
            harness.log('work files kept in %s' % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == '__main__':
    sys.exit(main())
