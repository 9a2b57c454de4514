#!/usr/bin/python3
"""SASL authentication with a real spice-gtk client (SpiceClientGLib via
PyGObject) against clove-demo --sasl --sasl-appname APP on plain TCP.

A sasldb made with saslpasswd2 and APP.conf ("mech_list: digest-md5
scram-sha-1") sit in a temporary SASL_CONF_PATH. On plain TCP the server
must offer DIGEST-MD5 only (it has a security layer), so everything after
the link goes through sasl_encode/sasl_decode:
  - the right user and password: the display channel comes up (primary
    surface of the frame's size, MARK), inputs open, no channel error;
  - a wrong password: the client reports an authentication error, the demo
    logs one refusal line that does not contain the password, and keeps
    serving: a second good client still gets its display.
Skips (77) when clove-demo lacks --sasl, or saslpasswd2 / gi are missing."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

APPNAME = "clove-interop-sasl"
USER = "alice"
PASSWORD = "Interop-Pa55"
WRONG = "definitely-Wrong-77"
SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "..", "unit", "transport", "lsan-sasl.supp")


def load_gi():
    try:
        import gi
        gi.require_version("SpiceClientGLib", "2.0")
        from gi.repository import GLib, GObject, SpiceClientGLib
    except (ImportError, ValueError) as e:
        H.log("SKIP: SpiceClientGLib via gi unavailable (%s)" % e)
        sys.exit(H.SKIP)
    return GLib, GObject, SpiceClientGLib


def demo_supports_sasl(demo):
    try:
        out = subprocess.run([demo, "--help"], capture_output=True, text=True,
                             timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "--sasl" in out and "--sasl-appname" in out


def find_saslpasswd2():
    for d in ("/usr/sbin", "/sbin", "/usr/bin"):
        p = os.path.join(d, "saslpasswd2")
        if os.access(p, os.X_OK):
            return p
    return None


def make_sasldb(tmpdir):
    tool = find_saslpasswd2()
    if tool is None:
        H.log("SKIP: saslpasswd2 missing (apt-get install sasl2-bin)")
        sys.exit(H.SKIP)
    confdir = os.path.join(tmpdir, "sasl")
    os.makedirs(confdir)
    db = os.path.join(confdir, "sasldb")
    with open(os.path.join(confdir, APPNAME + ".conf"), "w") as f:
        f.write("mech_list: digest-md5 scram-sha-1\nsasldb_path: %s\n" % db)
    r = subprocess.run([tool, "-f", db, "-a", APPNAME, "-p", "-c", USER],
                       input=PASSWORD.encode(), capture_output=True, timeout=30)
    H.check(r.returncode == 0 and os.path.exists(db),
            "saslpasswd2 failed: %s" % r.stderr.decode("utf-8", "replace"))
    return confdir


class SaslClient:
    def __init__(self, port, user, password):
        self.GLib, self.GObject, self.S = load_gi()
        S, G = self.S, self.GObject
        self.ctx = self.GLib.MainContext.default()
        self.primary = None
        self.marked = False
        self.inputs_open = False
        self.auth_error = False
        self.errors = []
        self.session = S.Session()
        self.session.set_property("uri", "spice://127.0.0.1:%d" % port)
        self.session.set_property("username", user)
        self.session.set_property("password", password)
        G.Object.connect(self.session, "channel-new", self._channel_new)
        H.check(S.Session.connect(self.session), "spice_session_connect failed")

    def _channel_new(self, _session, ch):
        S, G = self.S, self.GObject
        G.Object.connect(ch, "channel-event", self._event)
        if isinstance(ch, S.DisplayChannel):
            G.Object.connect(ch, "display-primary-create", self._primary)
            G.Object.connect(ch, "display-mark", self._mark)
        if not isinstance(ch, S.MainChannel):
            S.Channel.connect(ch)

    def _event(self, ch, event):
        S = self.S
        if event == S.ChannelEvent.OPENED and isinstance(ch, S.InputsChannel):
            self.inputs_open = True
        elif event == S.ChannelEvent.ERROR_AUTH:
            self.auth_error = True
        elif event not in (S.ChannelEvent.OPENED, S.ChannelEvent.CLOSED):
            self.errors.append("%s: event %s" % (type(ch).__name__, event))

    def _primary(self, _ch, fmt, width, height, stride, shmid, imgdata):
        self.primary = (width, height)

    def _mark(self, _ch, mark):
        if mark:
            self.marked = True

    def pump(self, until, timeout):
        deadline = time.monotonic() + timeout
        while True:
            while self.ctx.pending():
                self.ctx.iteration(False)
            if until():
                return True
            if time.monotonic() >= deadline:
                return until()
            time.sleep(0.01)

    def close(self):
        try:
            self.session.disconnect()
            self.pump(lambda: False, 0.3)
        except Exception:  # noqa: BLE001 - best-effort teardown
            pass


def good_client(demo, w, h, what):
    cl = SaslClient(demo.port, USER, PASSWORD)
    try:
        ok = cl.pump(lambda: cl.primary and cl.marked and cl.inputs_open, 20)
        H.check(ok, "%s: display/inputs not ready within 20 s (primary=%s mark=%s inputs=%s "
                "auth_error=%s errors=%s); demo stderr:\n%s"
                % (what, cl.primary, cl.marked, cl.inputs_open, cl.auth_error, cl.errors,
                   demo.stderr()))
        H.check(cl.primary == (w, h), "%s: primary %s != frame %dx%d" % (what, cl.primary, w, h))
        H.check(not cl.errors and not cl.auth_error, "%s: channel errors %s" % (what, cl.errors))
        # Keep the session a moment: frames keep flowing through the layer.
        cl.pump(lambda: False, 1.0)
        H.check(not cl.errors, "%s: channel errors after a second: %s" % (what, cl.errors))
    finally:
        cl.close()
    H.log("%s: SASL login as %s, display %dx%d, inputs open" % (what, USER, w, h))


def body(args, tmpdir, procs):
    if not demo_supports_sasl(args.demo):
        H.log("SKIP: clove-demo --help lists no --sasl / --sasl-appname options")
        sys.exit(H.SKIP)
    load_gi()
    confdir = make_sasldb(tmpdir)
    os.environ["SASL_CONF_PATH"] = confdir
    # Under LeakSanitizer: cyrus-sasl's DIGEST-MD5 plugin leaks the ciphers
    # of its security layer (see the suppression file); full unwinding lets
    # the suppression see the plugin's frame.
    os.environ["LSAN_OPTIONS"] = (os.environ.get("LSAN_OPTIONS", "") +
                                  ":suppressions=" + os.path.realpath(SUPP)).lstrip(":")
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                  ":fast_unwind_on_malloc=0").lstrip(":")

    demo = H.Demo(procs, args, tmpdir,
                  extra=["--no-animation", "--sasl", "--sasl-appname", APPNAME]).start()
    f0 = H.wait_stable_frame(demo.frame, 10)
    H.check(f0 is not None, "initial frame never settled")
    w, h, _ = H.parse_ppm(f0)

    good_client(demo, w, h, "first client")

    bad = SaslClient(demo.port, USER, WRONG)
    try:
        H.check(bad.pump(lambda: bad.auth_error, 20),
                "wrong password: no authentication error within 20 s (primary=%s errors=%s)"
                % (bad.primary, bad.errors))
        H.check(bad.primary is None, "wrong password: the display came up anyway")
    finally:
        bad.close()
    time.sleep(0.5)
    err = demo.stderr()
    H.check("SASL authentication failed" in err,
            "the demo logged no SASL refusal line; stderr:\n%s" % err)
    H.check(WRONG not in err and PASSWORD not in err, "a password appears in the demo's log")
    H.log("wrong password refused; the refusal is logged without the password")

    good_client(demo, w, h, "client after the refusal")
    H.check(demo.alive(), "clove-demo died")
    demo.stop()


if __name__ == "__main__":
    sys.exit(H.run_main(body, __doc__))
