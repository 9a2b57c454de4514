#!/usr/bin/python3
"""Several monitors and the vdagent, with a real spice-gtk client.

clove-demo --heads 2 --agent (two QXL devices, a built-in vdagent) runs on
our library and then on Debian's reference library. A SpiceClientGLib client
(this script again, in --gi-client mode, under /usr/bin/python3) must see:
  - two display channels, each with its 1024x768 primary surface, and the
    agent connected;
  - after it sends a monitors config (update_display_enabled + update_display
    + send_monitor_config: head 0 800x600, head 1 640x480), both displays
    recreated at the new sizes, because the demo's agent got the config and
    resized its heads.
The demo's log must show the agent's side (connected, monitors config,
resizes, client disconnected). Head 0 captured by spicy-screenshot and by
the GI client equals the demo's --frame-out; head 1 shows its own
background colour.

Then again with --qxl-monitors-config: the QXL devices accept clients'
monitors configs (QXLInterface.client_monitors_config), so the library must
hand the config to them and NOT to the agent, with the same end result.
Both libraries must give the same results in both modes.
"""

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

REQUEST = {0: (800, 600, 0, 0), 1: (640, 480, 800, 0)}
# Background colours of the demo's heads (apps/clove-demo/main.c), and a
# pixel that shows the background (left margin, below the task bar).
BACKGROUND = {0: (0x29, 0x5A, 0x8C), 1: (0x8C, 0x3A, 0x29)}
BACKGROUND_PIXEL = (4, 40)


# ---- the GI client (runs in its own /usr/bin/python3 process) ----

def gi_client(port, outdir, timeout):
    import gi
    gi.require_version('SpiceClientGLib', '2.0')
    from gi.repository import GLib, GObject
    from gi.repository import SpiceClientGLib as Spice

    loop = GLib.MainLoop()
    session = Spice.Session()
    session.set_property('uri', 'spice://127.0.0.1:%d' % port)
    st = {'main': None, 'displays': {}, 'phase': 'wait-ready', 'status': 2,
          'last_draw': time.monotonic()}
    errors = (Spice.ChannelEvent.ERROR_CONNECT, Spice.ChannelEvent.ERROR_LINK,
              Spice.ChannelEvent.ERROR_AUTH, Spice.ChannelEvent.ERROR_IO)

    def emit(obj):
        print(json.dumps(obj), flush=True)

    def finish(status):
        st['status'] = status
        loop.quit()
        return False

    def sizes():
        return {str(i): [d['w'], d['h']] for i, d in sorted(st['displays'].items())
                if d.get('w')}

    def save(i):
        d = st['displays'][i]
        w, h, stride = d['w'], d['h'], d['stride']
        raw = ctypes.string_at(d['ptr'], stride * h)
        rgb = bytearray(w * h * 3)
        for y in range(h):
            row = raw[y * stride:y * stride + w * 4]
            out = rgb[y * w * 3:(y + 1) * w * 3]
            out[0::3] = row[2::4]
            out[1::3] = row[1::4]
            out[2::3] = row[0::4]
            rgb[y * w * 3:(y + 1) * w * 3] = out
        path = os.path.join(outdir, 'head%d.ppm' % i)
        with open(path, 'wb') as f:
            f.write(b'P6\n%d %d\n255\n' % (w, h) + bytes(rgb))
        return path

    def tick():
        main = st['main']
        agent = bool(main and main.get_property('agent-connected'))
        ready = len(st['displays']) == 2 and all(d.get('w') for d in st['displays'].values())
        if st['phase'] == 'wait-ready' and ready and agent:
            emit({'phase': 'ready', 'sizes': sizes(), 'agent': agent})
            for i, (w, h, x, y) in REQUEST.items():
                main.update_display_enabled(i, True, False)
                main.update_display(i, x, y, w, h, False)
            emit({'phase': 'sent', 'ok': bool(main.send_monitor_config())})
            st['phase'] = 'wait-resize'
        elif st['phase'] == 'wait-resize':
            done = all((st['displays'][i].get('w'), st['displays'][i].get('h')) == r[:2]
                       for i, r in REQUEST.items())
            if done and time.monotonic() - st['last_draw'] > 1.0:
                paths = {str(i): save(i) for i in REQUEST}
                emit({'phase': 'resized', 'sizes': sizes(), 'agent': agent,
                      'creates': {str(i): d['creates'] for i, d in st['displays'].items()},
                      'ppm': paths})
                return finish(0)
        return True

    def on_primary(channel, fmt, width, height, stride, shmid, imgdata):
        i = channel.get_property('channel-id')
        d = st['displays'].setdefault(i, {'creates': 0})
        d.update(w=width, h=height, stride=stride, ptr=imgdata)
        d['creates'] += 1
        st['last_draw'] = time.monotonic()

    def on_invalidate(channel, x, y, w, h):
        st['last_draw'] = time.monotonic()

    def on_event(channel, event):
        if event in errors:
            sys.stderr.write('gi-client: channel event %s on %s\n'
                             % (event, type(channel).__name__))
            finish(3)

    def on_new(_session, channel):
        GObject.Object.connect(channel, 'channel-event', on_event)
        if isinstance(channel, Spice.MainChannel):
            st['main'] = channel
        elif isinstance(channel, Spice.DisplayChannel):
            st['displays'].setdefault(channel.get_property('channel-id'), {'creates': 0})
            GObject.Object.connect(channel, 'display-primary-create', on_primary)
            GObject.Object.connect(channel, 'display-invalidate', on_invalidate)
            channel.connect()

    GObject.Object.connect(session, 'channel-new', on_new)
    session.connect()
    GLib.timeout_add(100, tick)
    GLib.timeout_add(int(timeout * 1000), finish, 2)
    loop.run()
    if st['status'] == 2:
        emit({'phase': 'timeout', 'at': st['phase'], 'sizes': sizes()})
    session.disconnect()
    return st['status']


# ---- the test ----

def run_gi(port, outdir, lib):
    os.makedirs(outdir, exist_ok=True)
    argv = ['/usr/bin/python3', os.path.abspath(__file__), '--gi-client', str(port), outdir]
    try:
        p = subprocess.run(argv, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise H.TestFailure('%s: GI client hung' % lib)
    events = {}
    for line in p.stdout.decode('utf-8', 'replace').splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        events[ev['phase']] = ev
    H.check(p.returncode == 0, '%s: GI client rc=%d events=%s stderr:\n%s'
            % (lib, p.returncode, events, p.stderr.decode('utf-8', 'replace')[-3000:]))
    return events


def wait_stderr(demo, text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in demo.stderr():
            return True
        time.sleep(0.1)
    return False


def pixel(ppm, x, y):
    w, _h, data = H.parse_ppm(ppm)
    o = (y * w + x) * 3
    return tuple(data[o:o + 3])


def run_lib(args, tmpdir, procs, lib, mode):
    extra = ['--no-animation', '--heads', '2', '--agent']
    if mode == 'qxl':
        extra.append('--qxl-monitors-config')
    tag = '%s-%s' % (lib, mode)
    demo = H.Demo(procs, args, tmpdir, lib=lib, name='agent-' + mode, extra=extra).start()
    H.check(wait_stderr(demo, 'clove-demo: agent: connected'),
            '%s: the library never opened the agent (state(1)); stderr:\n%s'
            % (lib, demo.stderr()))
    events = run_gi(demo.port, os.path.join(tmpdir, 'gi-' + tag), tag)
    ready, resized = events['ready'], events['resized']
    H.check(ready['sizes'] == {'0': [1024, 768], '1': [1024, 768]} and ready['agent'],
            '%s: before the config: %s' % (lib, ready))
    H.check(events['sent']['ok'], '%s: send_monitor_config refused' % lib)
    H.check(resized['sizes'] == {'0': [800, 600], '1': [640, 480]},
            '%s: after the config: %s' % (lib, resized))
    H.log('%s: two displays 1024x768, agent connected; after the monitors config %s'
          % (tag, resized['sizes']))
    err = demo.stderr()
    want = ['clove-demo: head 0 resized to 800x600', 'clove-demo: head 1 resized to 640x480',
            'clove-demo: agent: client capabilities']
    agent_line = 'clove-demo: agent: monitors config 2: 0=800x600+0+0 1=640x480+800+0'
    if mode == 'agent':
        want.append(agent_line)
    else:
        want += ['clove-demo: qxl 0: client monitors config 800x600',
                 'clove-demo: qxl 1: client monitors config 640x480']
        H.check('agent: monitors config' not in err,
                '%s: the config reached the agent although the QXL devices took it' % tag)
    for text in want:
        H.check(text in err, '%s: demo did not log %r; stderr:\n%s' % (tag, text, err))
    H.check(wait_stderr(demo, 'clove-demo: agent: client disconnected'),
            '%s: the agent was not told that the client left' % lib)

    head0 = H.read_file(resized['ppm']['0'])
    head1 = H.read_file(resized['ppm']['1'])
    H.check(pixel(head0, *BACKGROUND_PIXEL) == BACKGROUND[0],
            '%s: head 0 background %s' % (lib, pixel(head0, *BACKGROUND_PIXEL)))
    H.check(pixel(head1, *BACKGROUND_PIXEL) == BACKGROUND[1],
            '%s: head 1 background %s' % (lib, pixel(head1, *BACKGROUND_PIXEL)))
    frame = H.wait_stable_frame(demo.frame, 10)
    H.check(frame is not None, '%s: --frame-out never settled' % lib)
    H.compare_ppm_bytes(head0, frame, '%s: GI head 0 vs --frame-out' % lib)
    shot = H.capture(demo, tmpdir, 'agent-' + tag)
    H.compare_ppm_bytes(shot, frame, '%s: spicy-screenshot vs --frame-out' % lib)
    H.log('%s: head 0 (GI and spicy-screenshot) equals --frame-out at 800x600; head 1 has '
          'its own background' % tag)
    demo.stop()
    return {'ready': ready['sizes'], 'resized': resized['sizes'], 'head0': head0}


def body(args, tmpdir, procs):
    H.need_programs('/usr/bin/python3')
    libs = ['ours', 'ref'] if args.lib == 'ours' else ['ref']
    for mode in ('agent', 'qxl'):
        results = {lib: run_lib(args, tmpdir, procs, lib, mode) for lib in libs}
        if len(results) == 2:
            ours, ref = results['ours'], results['ref']
            H.check(ours['ready'] == ref['ready'] and ours['resized'] == ref['resized'],
                    '%s: ours %s vs reference %s' % (mode, ours, ref))
            H.compare_ppm_bytes(ours['head0'], ref['head0'], '%s: ours vs reference head 0' % mode)
            H.log('%s: ours and reference behave identically' % mode)


if __name__ == '__main__':
    if len(sys.argv) >= 2 and sys.argv[1] == '--gi-client':
        gp = argparse.ArgumentParser(prog='test_agent_monitors.py --gi-client')
        gp.add_argument('port', type=int)
        gp.add_argument('outdir')
        gp.add_argument('--timeout', type=float, default=30.0)
        ga = gp.parse_args(sys.argv[2:])
        sys.exit(gi_client(ga.port, ga.outdir, ga.timeout))
    sys.exit(H.run_main(body, __doc__))
