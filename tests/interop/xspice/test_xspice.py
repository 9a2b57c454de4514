#!/usr/bin/python3
"""Real Xspice (Xorg + spiceqxl_drv.so) on our libspice-server.so.1, compared
pixel for pixel with the same X session on Debian's library.

For each library (ours, then the reference) the test
  1. starts `Xspice --config xspice.conf` on a free display and port with
     LD_LIBRARY_PATH set, finds the Xorg child (the wrapper only spawns it)
     and proves from /proc/<Xorg pid>/maps which libspice-server it mapped,
  2. draws a fixed scene: xsetroot -solid, an xterm with fixed text and a
     steady cursor (+bc) under the pointer, and xlogo,
  3. captures it with spicy-screenshot once the picture is stable,
  4. types a line into the xterm through a real client (gi_client.py,
     SpiceClientGLib inputs channel) and captures again,
  5. asks a real client for the cursor shape ('cursor-set' on the cursor
     channel).
Then our captures must equal the reference's, the typed capture must differ
from the first one inside the xterm, and both cursor shapes must be equal.

Stopping: SIGTERM goes to Xorg (the wrapper's child), never to the wrapper,
whose own cleanup SIGKILLs Xorg and leaves a stale /tmp/.X<N>-lock.
Exit: 0 pass, 1 fail, 77 skip.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import harness  # noqa: E402
from harness import TestFailure, check, log  # noqa: E402

GI_CLIENT = os.path.join(os.path.dirname(HERE), 'qemu', 'gi_client.py')
CONF = os.path.join(HERE, 'xspice.conf')
SYS_PYTHON = '/usr/bin/python3'
XTERM_TEXT = 'CLOVE XSPICE INTEROP'
TYPED = 'clove typed 42\n'
# The xterm covers the screen centre, where Xorg puts the pointer, so typed
# keys reach it with the default PointerRoot focus and no window manager.
XTERM_GEOMETRY = '50x10+300+300'


def children(pid):
    """PIDs whose parent is pid."""
    out = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            out.append(int(d))
    return out


def pid_alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def remove_stale_lock(display):
    lock = '/tmp/.X%d-lock' % display
    try:
        with open(lock) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return
    if not pid_alive(pid):
        for path in (lock, '/tmp/.X11-unix/X%d' % display):
            try:
                os.unlink(path)
            except OSError:
                pass


class Xspice:
    def __init__(self, procs, args, tmpdir, lib):
        self.args, self.lib, self.procs = args, lib, procs
        self.dir = os.path.join(tmpdir, lib)
        os.makedirs(self.dir)
        self.display = harness.free_display()
        self.port = harness.free_port()
        self.logfile = os.path.join(self.dir, 'Xorg.log')
        self.out_path = os.path.join(self.dir, 'xspice.out')
        self._out = open(self.out_path, 'wb')
        env = dict(os.environ)
        env['LD_LIBRARY_PATH'] = args.our_libdir if lib == 'ours' else args.ref_libdir
        if lib == 'ours':
            harness.sanitizer_host_env(args.our_libdir, env)
        if args.debug is not None:
            env['CLOVE_DEBUG'] = str(args.debug)
        env.pop('DISPLAY', None)
        argv = ['Xspice', '--config', CONF, '--port', str(self.port), '--disable-ticketing',
                ':%d' % self.display, '-logfile', self.logfile, '-nolisten', 'tcp',
                '-noreset']
        self.t0 = time.monotonic()
        # The wrapper is NOT added to procs: it must not get SIGTERM first.
        self.wrapper = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                        stderr=self._out, env=env)
        self.xorg = None
        self.clients = []

    def output(self, tail=4000):
        if not self._out.closed:
            self._out.flush()
        with open(self.out_path, 'rb') as f:
            text = f.read().decode('utf-8', 'replace')
        return text[-tail:]

    def start(self, timeout=30):
        deadline = time.monotonic() + timeout
        sock = '/tmp/.X11-unix/X%d' % self.display
        while time.monotonic() < deadline:
            if self.xorg is None:
                kids = children(self.wrapper.pid)
                if kids:
                    self.xorg = kids[0]
            if self.wrapper.poll() is not None:
                raise TestFailure('Xspice (%s) exited rc=%s:\n%s'
                                  % (self.lib, self.wrapper.returncode, self.output()))
            if self.xorg and os.path.exists(sock) and self.x_ready():
                break
            time.sleep(0.1)
        else:
            raise TestFailure('Xspice (%s) did not come up on :%d within %.0f s:\n%s'
                              % (self.lib, self.display, timeout, self.output()))
        self.t_ready = time.monotonic() - self.t0
        path = harness.loaded_library(self.xorg, 'libspice-server.so')
        check(path is not None, 'Xorg (%s) has no libspice-server.so mapped' % self.lib)
        real = os.path.dirname(os.path.realpath(path))
        want = os.path.realpath(self.args.our_libdir if self.lib == 'ours'
                                else self.args.ref_libdir)
        check(real == want, 'expected libspice-server from %s, Xorg mapped %s' % (want, path))
        log('%s: Xorg pid %d (wrapper %d) on :%d port %d mapped %s; ready after %.2f s'
            % (self.lib, self.xorg, self.wrapper.pid, self.display, self.port, path,
               self.t_ready))
        return self

    def xenv(self):
        env = dict(os.environ)
        env['DISPLAY'] = ':%d' % self.display
        env.pop('LD_LIBRARY_PATH', None)
        return env

    def x_ready(self):
        r = subprocess.run(['timeout', '5', 'xsetroot', '-solid', '#3060c0'],
                           env=self.xenv(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        return r.returncode == 0

    def client(self, name, argv):
        p = self.procs.popen(name, argv, env=self.xenv(), stdout=self._out, stderr=self._out)
        self.clients.append(p)
        return p

    def draw_scene(self):
        # Xorg shows no cursor until a client defines one: give the root a
        # shape (the pointer then sits in the xterm, whose I-beam it shows).
        r = subprocess.run(['timeout', '5', 'xsetroot', '-cursor_name', 'left_ptr'],
                           env=self.xenv(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        check(r.returncode == 0, 'xsetroot -cursor_name failed: %s' % r.stderr.decode())
        self.client('xterm', ['xterm', '+bc', '-geometry', XTERM_GEOMETRY, '-fg', 'black',
                              '-bg', 'white', '-fn', 'fixed', '-title', 'clove',
                              '-e', 'sh', '-c', 'printf "%s\\n"; exec cat' % XTERM_TEXT])
        self.client('xlogo', ['xlogo', '-geometry', '120x120+40+40'])

    def capture(self, tag):
        out = os.path.join(self.dir, '%s.ppm' % tag)
        rc, dt, err = harness.spicy_screenshot(self.port, out, timeout=20)
        if rc != 0 or not os.path.exists(out):
            raise TestFailure('%s: spicy-screenshot (%s) failed rc=%d after %.2f s%s: %s\n'
                              'Xspice output:\n%s' % (self.lib, tag, rc, dt,
                                                      ' (timeout)' if rc == 124 else '',
                                                      err.strip(), self.output()))
        return harness.read_file(out), dt

    def stable_capture(self, tag, timeout=30, differs_from=None):
        """A capture equal to the one taken just before it (after drawing
        has settled), optionally different from `differs_from`."""
        deadline = time.monotonic() + timeout
        last, dt = self.capture(tag)
        while time.monotonic() < deadline:
            time.sleep(0.4)
            cur, dt = self.capture(tag)
            if cur == last and (differs_from is None or cur != differs_from):
                return cur, dt
            last = cur
        raise TestFailure('%s: screen did not settle (%s) within %.0f s' % (self.lib, tag,
                                                                         timeout))

    def gi(self, *extra):
        argv = ['timeout', '-k', '2', '30', SYS_PYTHON, GI_CLIENT, '127.0.0.1',
                str(self.port)] + list(extra)
        env = dict(os.environ)
        env.pop('LD_LIBRARY_PATH', None)
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env)
        return r.returncode, r.stdout.decode('utf-8', 'replace'), \
            r.stderr.decode('utf-8', 'replace')

    def stop(self):
        """Stop Xorg first (it removes its lock and the wrapper exits)."""
        for p in self.clients:
            harness.stop_process(p, grace=2)
        cpu = None
        if self.xorg and pid_alive(self.xorg):
            try:
                with open('/proc/%d/stat' % self.xorg) as f:
                    fields = f.read().rsplit(')', 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
            except OSError:
                pass
            try:
                os.kill(self.xorg, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.wrapper.wait(10)
        except subprocess.TimeoutExpired:
            if self.xorg and pid_alive(self.xorg):
                try:
                    os.kill(self.xorg, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            harness.stop_process(self.wrapper, grace=5)
        remove_stale_lock(self.display)
        self._out.close()
        return cpu


def our_log_notes(text):
    return sorted(set(line.strip() for line in text.splitlines() if line.startswith('clove ')
                      and ('warning' in line or 'error' in line or 'not supported' in line)))


def run_session(procs, args, tmpdir, lib, result):
    x = Xspice(procs, args, tmpdir, lib)
    try:
        x.start()
        result['ready'] = x.t_ready
        x.draw_scene()
        time.sleep(1.0)
        scene, dt = x.stable_capture('scene')
        result['capture'] = dt
        w, h, _ = harness.parse_ppm(scene)
        check((w, h) == (1024, 768), '%s: capture is %dx%d, expected 1024x768' % (lib, w, h))
        result['scene'] = scene
        log('%s: scene captured (%dx%d) in %.3f s' % (lib, w, h, dt))

        rc, out, err = x.gi('type', TYPED)
        check(rc == 0, '%s: gi_client type failed rc=%d: %s' % (lib, rc, err.strip()))
        typed, _ = x.stable_capture('typed', differs_from=scene)
        result['typed'] = typed
        _, _, p1 = harness.parse_ppm(scene)
        _, _, p2 = harness.parse_ppm(typed)
        box = harness.diff_bbox(w, p1, p2)
        # The typed line (and cat's echo of it) lands inside the xterm.
        check(box is not None and box[0] >= 300 and box[1] >= 300 and box[2] < 300 + 6 * 50 + 20
              and box[3] < 300 + 13 * 10 + 20,
              '%s: typed change outside the xterm: bbox %s' % (lib, box))
        log('%s: typed text appeared in the xterm, change bbox %s' % (lib, box))

        rc, out, err = x.gi('cursor')
        check(rc == 0 and out.strip(), '%s: no cursor-set from the cursor channel rc=%d: %s'
              % (lib, rc, err.strip()))
        cursor = json.loads(out.strip().splitlines()[-1])
        check(cursor['width'] > 0 and cursor['height'] > 0 and cursor['opaque'] > 0,
              '%s: empty cursor shape %s' % (lib, cursor))
        result['cursor'] = cursor
        log('%s: cursor-set %dx%d hot (%d,%d), %d opaque pixels'
            % (lib, cursor['width'], cursor['height'], cursor['hot_x'], cursor['hot_y'],
               cursor['opaque']))
    except TestFailure as e:
        result['failure'] = str(e)
        log('FAIL (%s library): %s' % (lib, e))
    finally:
        result['cpu'] = x.stop()
        notes = our_log_notes(x.output(10 ** 9))
        if notes:
            log('%s: library log notes (%d distinct):\n  %s'
                % (lib, len(notes), '\n  '.join(notes[:40])))
    return result


def compare_sessions(ours, ref, tmpdir):
    for tag in ('scene', 'typed'):
        if ours[tag] != ref[tag]:
            gw, gh, gp = harness.parse_ppm(ours[tag])
            _, _, rp = harness.parse_ppm(ref[tag])
            raise TestFailure('%s: our capture differs from the reference: %d of %d '
                              'pixels, bbox %s (artefacts in %s)'
                              % (tag, harness.diff_pixels(gp, rp), gw * gh,
                                 harness.diff_bbox(gw, gp, rp), tmpdir))
        log('%s: our capture == reference capture' % tag)
    check(ours['cursor'] == ref['cursor'], 'cursor shapes differ: ours %s, reference %s'
          % (ours['cursor'], ref['cursor']))
    log('cursor shape equal on both libraries')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--our-libdir', required=True)
    p.add_argument('--ref-libdir', default=harness.REF_LIBDIR_DEFAULT)
    p.add_argument('--debug', type=int, default=None, help='CLOVE_DEBUG level for Xorg')
    p.add_argument('--libs', default='ours,ref',
                   help='libraries to run, in order; captures are compared when both ran')
    p.add_argument('--keep', action='store_true')
    args = p.parse_args()

    harness.need_programs('Xspice', 'Xorg', 'xsetroot', 'xterm', 'xlogo', 'spicy-screenshot',
                          'timeout')
    if not os.path.exists(SYS_PYTHON):
        log('SKIP: %s missing' % SYS_PYTHON)
        return harness.SKIP
    if not os.path.exists(os.path.join(args.our_libdir, 'libspice-server.so.1')):
        log('FAIL: no libspice-server.so.1 in %s' % args.our_libdir)
        return 1

    tmpdir = tempfile.mkdtemp(prefix='clove-xspice-')
    rc = 1
    results = []
    try:
        with harness.Procs() as procs:
            for lib in args.libs.split(','):
                log('---- Xspice on %s library ----' % lib)
                results.append({'lib': lib})
                run_session(procs, args, tmpdir, lib, results[-1])
        failed = [r for r in results if 'failure' in r]
        check(not failed, '; '.join('%s: %s' % (r['lib'], r['failure']) for r in failed))
        if len(results) == 2:
            compare_sessions(results[0], results[1], tmpdir)
        rc = 0
    except TestFailure as e:
        log('FAIL: %s' % e)
    finally:
        if results:
            log('\n%-5s %9s %10s %8s' % ('lib', 'ready s', 'capture s', 'cpu s'))
            for r in results:
                log('%-5s %9.2f %10.3f %8.2f' % (r['lib'], r.get('ready', 0),
                                                 r.get('capture', 0), r.get('cpu') or 0))
        if args.keep or rc != 0:
            log('artefacts kept in %s' % tmpdir)
        else:
            shutil.rmtree(tmpdir, ignore_errors=True)
    if rc == 0:
        log('PASS')
    return rc


if __name__ == '__main__':
    sys.exit(main())
