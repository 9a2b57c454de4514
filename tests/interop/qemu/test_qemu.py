#!/usr/bin/python3
"""Real QEMU on our libspice-server.so.1: boot a tiny Linux guest and check
what a real SPICE client sees against QEMU's own idea of the screen.

For each display variant the test
  1. builds the busybox initramfs (mk_initramfs.sh, into a temp dir),
  2. boots /boot/vmlinuz-* under qemu-system-x86_64 -accel tcg with
     -spice on a free loopback port, a QMP unix socket and -serial file,
     with LD_LIBRARY_PATH pointing at the chosen library, and proves from
     /proc/<qemu pid>/maps which libspice-server.so.1 QEMU really mapped,
  3. waits for the guest's CLOVE-GUEST-READY and first CLOVE-PROMPT on the
     serial port, then compares spicy-screenshot against QMP screendump
     pixel for pixel (only a cursor-cell sized block may differ),
  4. types `echo CLOVE-$((6*7)) | tee /dev/ttyS0` + Enter through a real
     client (gi_client.py, SpiceClientGLib), checks CLOVE-42 arrives on the
     serial port, that the screen changed below the old prompt, and that
     the next capture again equals the next screendump.

Timings (boot to banner, capture time, QEMU CPU seconds) are printed as a
table; with --bench every variant also runs on the reference library.
Variants: qxl, std, virtio, qxl-vesa (vga=0x318 1024x768 vesafb), and
qxl-drm (the guest loads its qxl DRM driver, so fbcon draws with real QXL
commands; known to exercise server features we may lack).

Exit: 0 pass, 1 fail, 77 skip (missing qemu/kernel/busybox/clients).
"""
import argparse
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import harness  # noqa: E402
from harness import TestFailure, check, log  # noqa: E402

GI_CLIENT = os.path.join(HERE, 'gi_client.py')
MK_INITRAMFS = os.path.join(HERE, 'mk_initramfs.sh')
SYS_PYTHON = '/usr/bin/python3'

VARIANTS = {
    # name: (qemu display args, extra kernel args, drm initramfs)
    'qxl': (['-vga', 'qxl'], '', False),
    'std': (['-vga', 'std'], '', False),
    'virtio': (['-vga', 'none', '-device', 'virtio-vga'], '', False),
    'qxl-vesa': (['-vga', 'qxl'], 'vga=0x318', False),
    'qxl-drm': (['-vga', 'qxl'], '', True),
}
DEFAULT_VARIANTS = 'qxl,std,virtio,qxl-vesa'
TYPED = 'echo CLOVE-$((6*7)) | tee /dev/ttyS0\n'
TYPED_OUTPUT = 'CLOVE-42'
# A differing block no larger than this may be the text cursor cell.
CURSOR_MAX_W, CURSOR_MAX_H = 16, 32


class Qmp:
    """Minimal synchronous QMP client over a unix socket."""

    def __init__(self, path, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise TestFailure('QMP socket %s did not come up' % path)
                time.sleep(0.05)
        self.sock.settimeout(30)
        self.buf = b''
        self._read()  # greeting
        self.cmd('qmp_capabilities')

    def _read(self):
        while b'\n' not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise TestFailure('QMP connection closed')
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line)

    def cmd(self, name, **arguments):
        msg = {'execute': name}
        if arguments:
            msg['arguments'] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b'\n')
        while True:
            r = self._read()
            if 'return' in r:
                return r['return']
            if 'error' in r:
                raise TestFailure('QMP %s failed: %s' % (name, r['error']))
            # else: an asynchronous event; skip it

    def close(self):
        self.sock.close()


def cpu_seconds(pid):
    """utime+stime of pid in seconds (None once it has gone)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def find_kernel(explicit):
    if explicit:
        return explicit
    kernels = sorted(glob.glob('/boot/vmlinuz-*'))
    return kernels[-1] if kernels else None


class Guest:
    """One QEMU process on one library; everything it needs lives in tmpdir."""

    def __init__(self, procs, args, tmpdir, variant, lib, initrd):
        self.args, self.variant, self.lib = args, variant, lib
        vga, append_extra, _drm = VARIANTS[variant]
        tag = '%s-%s' % (variant, lib)
        self.tag = tag
        self.dir = os.path.join(tmpdir, tag)
        os.makedirs(self.dir)
        self.port = harness.free_port()
        self.serial = os.path.join(self.dir, 'serial.txt')
        self.qmp_path = os.path.join(self.dir, 'qmp.sock')
        self.stderr_path = os.path.join(self.dir, 'qemu.stderr')
        append = 'console=ttyS0 console=tty0 quiet loglevel=3 panic=-1 consoleblank=0'
        if append_extra:
            append += ' ' + append_extra
        argv = ['qemu-system-x86_64', '-accel', 'tcg', '-m', '256', '-smp', '1',
                '-display', 'none'] + vga + [
                '-spice', 'port=%d,addr=127.0.0.1,disable-ticketing=on' % self.port,
                '-kernel', args.kernel, '-initrd', initrd, '-append', append,
                '-serial', 'file:' + self.serial, '-monitor', 'none',
                '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path,
                '-no-reboot']
        if args.cmdlog and vga[-1] == 'qxl':
            # QEMU's qxl command logger: one stderr line per guest command.
            argv += ['-global', 'qxl-vga.cmdlog=1']
        env = dict(os.environ)
        env['LD_LIBRARY_PATH'] = args.our_libdir if lib == 'ours' else args.ref_libdir
        if lib == 'ours':
            harness.sanitizer_host_env(args.our_libdir, env)
        if args.debug is not None:
            env['CLOVE_DEBUG'] = str(args.debug)
        self._err = open(self.stderr_path, 'wb')
        self.t0 = time.monotonic()
        self.proc = procs.popen('qemu-' + tag, argv, stdout=self._err, stderr=self._err,
                                env=env)
        self.qmp = None
        self.timings = {}

    # -- process state ------------------------------------------------------

    def stderr(self, tail=6000):
        if not self._err.closed:
            self._err.flush()
        with open(self.stderr_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')[-tail:]

    def serial_text(self):
        try:
            with open(self.serial, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def check_alive(self, what):
        rc = self.proc.poll()
        if rc is not None:
            raise TestFailure('%s: QEMU (%s) exited rc=%s while %s; stderr:\n%s'
                              % (self.tag, self.lib, rc, what, self.stderr()))

    def wait_serial(self, pattern, count, timeout):
        """Wait until pattern occurs `count` times on the serial port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.serial_text().count(pattern) >= count:
                return time.monotonic() - self.t0
            self.check_alive('waiting for %s on ttyS0' % pattern)
            time.sleep(0.05)
        raise TestFailure('%s: no %dx %r on the serial port within %.0f s; serial:\n%s\n'
                          'stderr:\n%s' % (self.tag, count, pattern, timeout,
                                           self.serial_text()[-2000:], self.stderr()))

    def start(self):
        self.qmp = Qmp(self.qmp_path, 30)
        self.check_alive('starting')
        self.check_library()
        return self

    def check_library(self):
        path = harness.loaded_library(self.proc.pid, 'libspice-server.so')
        check(path is not None, '%s: QEMU has no libspice-server.so mapped (spice module not '
              'loaded?); stderr:\n%s' % (self.tag, self.stderr()))
        real = os.path.dirname(os.path.realpath(path))
        want = os.path.realpath(self.args.our_libdir if self.lib == 'ours'
                                else self.args.ref_libdir)
        check(real == want, '%s: expected libspice-server from %s, QEMU mapped %s'
              % (self.tag, want, path))
        log('%s: QEMU pid %d mapped %s' % (self.tag, self.proc.pid, path))

    # -- screen -------------------------------------------------------------

    def screendump(self, name):
        out = os.path.join(self.dir, name)
        if os.path.exists(out):
            os.unlink(out)
        self.qmp.cmd('screendump', filename=out)
        check(harness.wait_for_file(out, 10), 'screendump wrote nothing')
        return harness.read_file(out)

    def capture(self, name):
        out = os.path.join(self.dir, name)
        rc, dt, err = harness.spicy_screenshot(self.port, out, timeout=20)
        if rc != 0 or not os.path.exists(out):
            self.check_alive('capturing')
            raise TestFailure('%s: spicy-screenshot failed rc=%d after %.2f s%s: %s\n'
                              'QEMU stderr:\n%s' % (self.tag, rc, dt,
                                                    ' (timeout)' if rc == 124 else '',
                                                    err.strip(), self.stderr()))
        return harness.read_file(out), dt

    def stable_screendump(self, tag, timeout=20, quiet=0.6):
        """A screendump that did not change for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        last = self.screendump('%s-dump.ppm' % tag)
        since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.15)
            cur = self.screendump('%s-dump.ppm' % tag)
            if cur != last:
                last, since = cur, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return cur
        raise TestFailure('%s: the guest screen did not settle within %.0f s'
                          % (self.tag, timeout))

    def capture_clove_shot(self, name):
        """Our client's capture (clove-shot), or None without --clove-shot."""
        if not self.args.clove_shot:
            return None
        out = os.path.join(self.dir, name)
        r = subprocess.run(['timeout', '-k', '2', '30', self.args.clove_shot, '-h', '127.0.0.1',
                            '-p', str(self.port), '-o', out, '--timeout', '20'],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        text = r.stdout.decode('utf-8', 'replace')
        for m in harness.SANITIZER_MARKERS:
            check(m not in text, '%s: sanitizer report from clove-shot:\n%s' % (self.tag, text))
        check(r.returncode == 0 and os.path.exists(out),
              '%s: clove-shot failed rc=%d: %s' % (self.tag, r.returncode, text.strip()))
        return harness.read_file(out)

    def compare_with_dump(self, tag, attempts=4):
        """Capture through SPICE (spicy-screenshot, and clove-shot when
        given) and compare with QMP screendumps taken before and after.
        Returns (spicy-screenshot's capture bytes, capture seconds)."""
        detail = ''
        for attempt in range(attempts):
            before = self.stable_screendump(tag)
            shot, dt = self.capture('%s-spice.ppm' % tag)
            ours = self.capture_clove_shot('%s-clove-shot.ppm' % tag)
            after = self.screendump('%s-dump-after.ppm' % tag)
            if before != after:
                detail = 'screen changed during the capture'
                continue
            ok, detail = cursor_only_diff(shot, before)
            if ok and ours is not None:
                ok, d2 = cursor_only_diff(ours, before)
                detail += '; clove-shot: %s' % d2
                if ok and ours != shot:
                    # both may differ from the dump only in the blinking cursor;
                    # then they must differ from each other only there too
                    ok, d3 = cursor_only_diff(ours, shot)
                    detail += ' (vs spicy-screenshot: %s)' % d3
            if ok:
                log('%s: %s: SPICE capture == QMP screendump (%s), capture %.3f s'
                    % (self.tag, tag, detail, dt))
                return shot, dt
            if attempt + 1 < attempts:
                log('%s: %s: attempt %d: %s; retrying' % (self.tag, tag, attempt + 1, detail))
                time.sleep(0.5)
        raise TestFailure('%s: %s: SPICE capture differs from QMP screendump: %s\n'
                          'artefacts in %s; QEMU stderr:\n%s'
                          % (self.tag, tag, detail, self.dir, self.stderr()))

    def type_text(self, text):
        argv = ['timeout', '-k', '2', '30', SYS_PYTHON, GI_CLIENT, '127.0.0.1',
                str(self.port), 'type', text]
        env = dict(os.environ)
        env.pop('LD_LIBRARY_PATH', None)
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env)
        check(r.returncode == 0, '%s: gi_client type failed rc=%d: %s'
              % (self.tag, r.returncode, r.stdout.decode('utf-8', 'replace')))

    def stop(self):
        cpu = cpu_seconds(self.proc.pid)
        if self.qmp:
            try:
                self.qmp.cmd('quit')
            except (TestFailure, OSError):
                pass
            self.qmp.close()
            self.qmp = None
        harness.stop_process(self.proc)
        self._err.close()
        return cpu


def cursor_only_diff(got, want):
    """(ok, description): ok when the images are equal or differ only in a
    block no larger than a text cursor cell."""
    gw, gh, gp = harness.parse_ppm(got)
    ww, wh, wp = harness.parse_ppm(want)
    if (gw, gh) != (ww, wh):
        return False, 'size %dx%d vs screendump %dx%d' % (gw, gh, ww, wh)
    if gp == wp:
        return True, 'identical %dx%d' % (gw, gh)
    n = harness.diff_pixels(gp, wp)
    box = harness.diff_bbox(gw, gp, wp)
    bw, bh = box[2] - box[0] + 1, box[3] - box[1] + 1
    desc = '%d of %d pixels differ, bbox %s (%dx%d)' % (n, gw * gh, box, bw, bh)
    return (bw <= CURSOR_MAX_W and bh <= CURSOR_MAX_H), desc


CMDLOG_RX = re.compile(r'qxl-\d+/(\w+): cmd @ \S+ (\w+)(?::(?: surface_id (\d+))?'
                       r'(?: type (\w+))?)?')


def summarise_cmdlog(text):
    """Count QEMU qxl cmdlog lines by (ring, command, surface, draw type)."""
    counts = {}
    for m in CMDLOG_RX.finditer(text):
        ring, cmd, surface, draw = m.groups()
        key = '%s %s%s%s' % (ring, cmd, ' surface %s' % surface if surface else '',
                             ' type %s' % draw if draw else '')
        counts[key] = counts.get(key, 0) + 1
    return ['%5d  %s' % (n, k) for k, n in sorted(counts.items())]


def compare_libraries(results):
    """Captures of the same variant on our and the reference library must be
    identical (the guest is deterministic)."""
    by = {}
    for v, lib, t in results:
        by[(v, lib)] = t.get('shots', {})
    for (v, lib), shots in sorted(by.items()):
        if lib != 'ours' or (v, 'ref') not in by:
            continue
        for tag, ours in sorted(shots.items()):
            ref = by[(v, 'ref')].get(tag)
            if ref is None:
                continue
            ok, desc = cursor_only_diff(ours, ref)
            check(ok, '%s/%s: our capture differs from the reference library\'s: %s'
                  % (v, tag, desc))
            log('%s/%s: our capture == reference capture (%s)' % (v, tag, desc))


def run_variant(procs, args, tmpdir, variant, lib, initrd, interact=True):
    g = Guest(procs, args, tmpdir, variant, lib, initrd).start()
    try:
        t_banner = g.wait_serial('CLOVE-GUEST-READY', 1, args.boot_timeout)
        g.wait_serial('CLOVE-PROMPT', 1, 30)
        fb = re.search(r'CLOVE-GUEST-FB ([^\r\n]*)', g.serial_text())
        log('%s: banner after %.2f s; guest fb: %s' % (g.tag, t_banner,
                                                        fb.group(1).strip() if fb else '?'))
        fails = re.findall(r'CLOVE-GUEST-INSMOD-FAILED \S+', g.serial_text())
        check(not fails, '%s: guest module load failed: %s' % (g.tag, fails))
        shot1, dt1 = g.compare_with_dump('boot')
        w, h, _ = harness.parse_ppm(shot1)
        if variant == 'qxl-vesa' or variant == 'qxl-drm':
            check((w, h) == (1024, 768) or variant == 'qxl-drm',
                  '%s: expected a 1024x768 framebuffer, got %dx%d' % (g.tag, w, h))
        g.timings = {'banner': t_banner, 'capture': dt1, 'size': '%dx%d' % (w, h),
                     'shots': {'boot': shot1}}
        if interact:
            g.type_text(TYPED)
            g.wait_serial(TYPED_OUTPUT, 1, 30)
            g.wait_serial('CLOVE-PROMPT', 2, 30)
            shot2, _ = g.compare_with_dump('typed')
            g.timings['shots']['typed'] = shot2
            _, _, p1 = harness.parse_ppm(shot1)
            w2, _, p2 = harness.parse_ppm(shot2)
            box = harness.diff_bbox(w2, p1, p2)
            check(box is not None, '%s: the screen did not change after typing' % g.tag)
            # The command line, its output and the next prompt: >= 2 text rows.
            check(box[3] - box[1] + 1 >= 24, '%s: typed change too small: bbox %s'
                  % (g.tag, box))
            log('%s: typed command echoed (%s on ttyS0), screen change bbox %s'
                % (g.tag, TYPED_OUTPUT, box))
    finally:
        cpu = g.stop()
        g.timings['cpu'] = cpu
        notes = sorted(set(line for line in g.stderr(10 ** 9).splitlines()
                           if 'qxl-0/' not in line and
                           ('not supported' in line or 'unsupported' in line
                            or 'warning' in line.lower() or 'error' in line.lower())))
        if args.cmdlog:
            log('%s: guest QXL commands (qxl cmdlog):\n  %s'
                % (g.tag, '\n  '.join(summarise_cmdlog(g.stderr(10 ** 9))) or 'none'))
        if notes:
            log('%s: QEMU stderr notes (%d distinct):\n  %s'
                % (g.tag, len(notes), '\n  '.join(notes[:40])))
    return g.timings


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--our-libdir', required=True)
    p.add_argument('--ref-libdir', default=harness.REF_LIBDIR_DEFAULT)
    p.add_argument('--variants', default=DEFAULT_VARIANTS,
                   help='comma list of: ' + ','.join(VARIANTS))
    p.add_argument('--lib', choices=['ours', 'ref'], default='ours')
    p.add_argument('--ref-timing', default='qxl',
                   help='variants also booted once on the reference library for timings '
                        '(comma list, "" for none)')
    p.add_argument('--bench', action='store_true',
                   help='run every variant on both libraries and print the timings')
    p.add_argument('--kernel', default=None, help='guest kernel (default /boot/vmlinuz-*)')
    p.add_argument('--boot-timeout', type=float, default=120)
    p.add_argument('--debug', type=int, default=None, help='CLOVE_DEBUG level for QEMU')
    p.add_argument('--cmdlog', action='store_true',
                   help="log and summarise the guest's QXL commands (qxl-vga.cmdlog=1)")
    p.add_argument('--clove-shot', default=None,
                   help='also capture with this clove-shot; it must equal spicy-screenshot')
    p.add_argument('--keep', action='store_true')
    args = p.parse_args()

    harness.need_programs('qemu-system-x86_64', 'spicy-screenshot', 'timeout', 'cpio')
    args.kernel = find_kernel(args.kernel)
    if not args.kernel or not os.path.exists('/bin/busybox') or not os.path.exists(SYS_PYTHON):
        log('SKIP: need a guest kernel (linux-image-amd64), busybox-static and %s'
            % SYS_PYTHON)
        return harness.SKIP
    if not os.path.exists(os.path.join(args.our_libdir, 'libspice-server.so.1')):
        log('FAIL: no libspice-server.so.1 in %s' % args.our_libdir)
        return 1
    variants = [v for v in args.variants.split(',') if v]
    for v in variants:
        if v not in VARIANTS:
            log('FAIL: unknown variant %s' % v)
            return 1
    kver = os.path.basename(args.kernel)[len('vmlinuz-'):]

    tmpdir = tempfile.mkdtemp(prefix='clove-qemu-')
    rc = 1
    results = []
    try:
        initrds = {}
        for drm in sorted(set(VARIANTS[v][2] for v in variants)):
            out = os.path.join(tmpdir, 'initramfs%s.cpio.gz' % ('-drm' if drm else ''))
            cmd = ['sh', MK_INITRAMFS, out] + (['--drm', '--kver', kver] if drm else [])
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode == 77:
                log('SKIP: ' + r.stdout.decode().strip())
                return harness.SKIP
            check(r.returncode == 0, 'mk_initramfs failed: %s' % r.stdout.decode())
            log(r.stdout.decode().strip())
            initrds[drm] = out
        ref_for = set(variants) if args.bench else \
            set(v for v in args.ref_timing.split(',') if v in variants)
        with harness.Procs() as procs:
            for v in variants:
                runs = [args.lib]
                if v in ref_for and args.lib == 'ours':
                    runs.append('ref')
                for lib in runs:
                    log('---- %s on %s library ----' % (v, lib))
                    t = run_variant(procs, args, tmpdir, v, lib, initrds[VARIANTS[v][2]],
                                    interact=True)
                    results.append((v, lib, t))
        compare_libraries(results)
        rc = 0
    except TestFailure as e:
        log('FAIL: %s' % e)
    finally:
        if results:
            log('\n%-10s %-5s %-9s %10s %10s %9s' % ('variant', 'lib', 'size', 'banner s',
                                                    'capture s', 'cpu s'))
            for v, lib, t in results:
                log('%-10s %-5s %-9s %10.2f %10.3f %9.2f' % (
                    v, lib, t.get('size', '?'), t.get('banner', 0), t.get('capture', 0),
                    t.get('cpu') or 0))
        if args.keep or rc != 0:
            log('artefacts kept in %s' % tmpdir)
        else:
            shutil.rmtree(tmpdir, ignore_errors=True)
    if rc == 0:
        log('PASS')
    return rc


if __name__ == '__main__':
    sys.exit(main())
