#!/usr/bin/python3
"""A scripted real SPICE client (spice-gtk's SpiceClientGLib through GObject
introspection) for the QEMU and Xspice interop tests.

usage:
  gi_client.py HOST PORT type TEXT [--delay-ms N]
      Connect, open the inputs channel and type TEXT as US-layout PC/AT
      set-1 scancodes ("\\n" is Enter), one key event every N ms (the guest's
      PS/2 queue is small), then disconnect.
  gi_client.py HOST PORT cursor [--move X,Y]
      Connect (inputs too, so the server can move the pointer), optionally
      send one absolute/relative motion, and wait for the cursor channel's
      'cursor-set' signal. Prints one JSON line describing the shape:
      {"width", "height", "hot_x", "hot_y", "opaque", "sha1"} where opaque
      counts pixels with alpha != 0 and sha1 hashes the RGBA bytes.

Exit status: 0 done, 2 timeout (--timeout, default 15 s), 3 connection error.
Needs /usr/bin/python3 with gir1.2-spiceclientglib-2.0 (pyenv's python has no
gi). Signals are connected with GObject.Object.connect because the
Session/Channel connect() methods shadow it.
"""
import argparse
import ctypes
import hashlib
import json
import sys

import gi

gi.require_version('SpiceClientGLib', '2.0')
from gi.repository import GLib, GObject  # noqa: E402
from gi.repository import SpiceClientGLib as Spice  # noqa: E402

# US layout: character -> (set-1 scancode, needs shift).
_ROWS = [
    (0x02, '1234567890-=', '!@#$%^&*()_+'),
    (0x10, 'qwertyuiop[]', 'QWERTYUIOP{}'),
    (0x1e, "asdfghjkl;'`", 'ASDFGHJKL:"~'),
    (0x2b, '\\zxcvbnm,./', '|ZXCVBNM<>?'),
]
KEYMAP = {' ': (0x39, False), '\n': (0x1c, False), '\t': (0x0f, False)}
for base, plain, shifted in _ROWS:
    for i, (p, s) in enumerate(zip(plain, shifted)):
        KEYMAP[p] = (base + i, False)
        KEYMAP[s] = (base + i, True)
LSHIFT = 0x2a

ERROR_EVENTS = (Spice.ChannelEvent.ERROR_CONNECT, Spice.ChannelEvent.ERROR_LINK,
                Spice.ChannelEvent.ERROR_AUTH, Spice.ChannelEvent.ERROR_IO,
                Spice.ChannelEvent.ERROR_TLS)


def key_events(text):
    """[(press?, scancode)] for text; fails on characters with no key."""
    events = []
    for ch in text:
        if ch not in KEYMAP:
            raise SystemExit('gi_client: no key for %r' % ch)
        code, shift = KEYMAP[ch]
        if shift:
            events.append((True, LSHIFT))
        events += [(True, code), (False, code)]
        if shift:
            events.append((False, LSHIFT))
    return events


def main():
    p = argparse.ArgumentParser()
    p.add_argument('host')
    p.add_argument('port')
    p.add_argument('action', choices=['type', 'cursor'])
    p.add_argument('text', nargs='?', default='')
    p.add_argument('--delay-ms', type=int, default=25)
    p.add_argument('--move', default=None, help='X,Y absolute or mDX,DY relative motion')
    p.add_argument('--timeout', type=float, default=15.0)
    a = p.parse_args()

    loop = GLib.MainLoop()
    session = Spice.Session()
    session.set_property('uri', 'spice://%s:%s' % (a.host, a.port))
    state = {'inputs': None, 'status': 2, 'events': None, 'acted': False}

    def finish(status):
        state['status'] = status
        loop.quit()
        return False

    def send_next():
        ev = state['events']
        if not ev:
            # Let the last messages leave before disconnecting.
            GLib.timeout_add(400, finish, 0)
            return False
        press, code = ev.pop(0)
        if press:
            state['inputs'].key_press(code)
        else:
            state['inputs'].key_release(code)
        return True

    def act():
        if a.action == 'type':
            state['events'] = key_events(a.text.replace('\\n', '\n'))
            GLib.timeout_add(a.delay_ms, send_next)
        elif a.move:
            if a.move.startswith('m'):
                dx, dy = (int(v) for v in a.move[1:].split(','))
                state['inputs'].motion(dx, dy, 0)
            else:
                x, y = (int(v) for v in a.move.split(','))
                state['inputs'].position(x, y, 0, 0)
        return False

    def on_event(channel, event):
        if event == Spice.ChannelEvent.OPENED and channel is state['inputs'] \
                and not state['acted']:
            state['acted'] = True
            # Let the mouse mode settle before sending input.
            GLib.timeout_add(300, act)
        elif event in ERROR_EVENTS:
            sys.stderr.write('gi_client: channel event %s on %s\n'
                             % (event, type(channel).__name__))
            finish(3)

    def on_cursor_set(_channel, width, height, hot_x, hot_y, rgba):
        data = b''
        if rgba and width > 0 and height > 0:
            data = ctypes.string_at(rgba, width * height * 4)
        opaque = sum(1 for i in range(3, len(data), 4) if data[i] != 0)
        print(json.dumps({'width': width, 'height': height, 'hot_x': hot_x, 'hot_y': hot_y,
                          'opaque': opaque, 'sha1': hashlib.sha1(data).hexdigest()}),
              flush=True)
        GLib.timeout_add(200, finish, 0)

    def on_new(_session, channel):
        if isinstance(channel, Spice.InputsChannel):
            state['inputs'] = channel
            GObject.Object.connect(channel, 'channel-event', on_event)
            channel.connect()
        elif isinstance(channel, Spice.CursorChannel) and a.action == 'cursor':
            GObject.Object.connect(channel, 'cursor-set', on_cursor_set)
            GObject.Object.connect(channel, 'channel-event', on_event)
            channel.connect()
        elif isinstance(channel, Spice.MainChannel):
            GObject.Object.connect(channel, 'channel-event', on_event)

    GObject.Object.connect(session, 'channel-new', on_new)
    session.connect()
    GLib.timeout_add(int(a.timeout * 1000), finish, 2)
    loop.run()
    session.disconnect()
    return state['status']


if __name__ == '__main__':
    sys.exit(main())
