#!/usr/bin/python3
"""Drive clove-demo's input through a real SPICE client (spice-gtk via GObject
introspection): connect, type keys, click, then disconnect.

usage: gi_input.py HOST PORT KEYS CLICKS
  KEYS    comma list of set-1 scancodes in hex as spice-gtk takes them
          (extended keys are 0x1xx): "+2a" press, "-2a" release, "23" both
  CLICKS  comma list "x:y:b" (absolute, client mouse mode) or "mdx:dy:b"
          (relative, server mouse mode); b is 1 left, 2 middle, 3 right,
          4 wheel up, 5 wheel down
Exit status: 0 done, 2 timeout, 3 connection error.
Needs /usr/bin/python3 with gir1.2-spiceclientglib-2.0 (pyenv's python has no gi).
"""
import sys

import gi

gi.require_version('SpiceClientGLib', '2.0')
from gi.repository import GLib, GObject  # noqa: E402
from gi.repository import SpiceClientGLib as Spice  # noqa: E402

BUTTON_MASKS = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}


def main():
    host, port = sys.argv[1], sys.argv[2]
    keys = [k for k in (sys.argv[3] if len(sys.argv) > 3 else '').split(',') if k]
    clicks = [c for c in (sys.argv[4] if len(sys.argv) > 4 else '').split(',') if c]
    loop = GLib.MainLoop()
    session = Spice.Session()
    session.set_property('uri', 'spice://%s:%s' % (host, port))
    state = {'inputs': None, 'status': 2}

    def finish(status):
        state['status'] = status
        loop.quit()
        return False

    def act():
        channel = state['inputs']
        for k in keys:
            if k[0] == '+':
                channel.key_press(int(k[1:], 16))
            elif k[0] == '-':
                channel.key_release(int(k[1:], 16))
            else:
                channel.key_press(int(k, 16))
                channel.key_release(int(k, 16))
        for c in clicks:
            relative = c.startswith('m')
            x, y, b = (int(v) for v in c.lstrip('m').split(':'))
            if relative:
                channel.motion(x, y, 0)
            else:
                channel.position(x, y, 0, 0)
            channel.button_press(b, BUTTON_MASKS[b])
            channel.button_release(b, 0)
        # Give the messages time to leave before disconnecting.
        GLib.timeout_add(500, finish, 0)
        return False

    def on_event(channel, event):
        if event == Spice.ChannelEvent.OPENED and state['inputs'] is channel:
            # Wait for the mouse mode to settle (client mode is negotiated first).
            GLib.timeout_add(300, act)
        elif event in (Spice.ChannelEvent.ERROR_CONNECT, Spice.ChannelEvent.ERROR_LINK,
                       Spice.ChannelEvent.ERROR_AUTH, Spice.ChannelEvent.ERROR_IO):
            finish(3)

    def on_new(_session, channel):
        if isinstance(channel, Spice.InputsChannel):
            state['inputs'] = channel
            GObject.Object.connect(channel, 'channel-event', on_event)
            channel.connect()
        elif isinstance(channel, Spice.MainChannel):
            GObject.Object.connect(channel, 'channel-event', on_event)

    GObject.Object.connect(session, 'channel-new', on_new)
    session.connect()
    GLib.timeout_add(10000, finish, 2)
    loop.run()
    session.disconnect()
    return state['status']


if __name__ == '__main__':
    sys.exit(main())
