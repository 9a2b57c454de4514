#!/usr/bin/python3
"""clove-shot (our client) against clove-demo --no-animation, on OUR library
and on Debian's reference library, for every lossless compression mode:
clove-shot's PPM must equal spicy-screenshot's PPM and the demo's
--frame-out byte for byte. Then the failure paths: a wrong password exits
non-zero with a PERMISSION_DENIED reason; nothing listening exits non-zero
at once; a server that accepts and says nothing exits non-zero after
--timeout; a bad --uri is a usage error. Sanitizer reports on clove-shot's
stderr fail the test.

Early display link (both libraries): behind a proxy that closes the first
display link, the capture still equals --frame-out and took two display
links (the early one, made at MAIN_INIT, then the one CHANNELS_LIST asks
for); with every display link closed, clove-shot exits 1 fast with one line.

TLS (clove-demo --tls-port with a throwaway CA made by the openssl CLI, on
both libraries): clove-shot -s PORT --ca-file CA equals --frame-out and
spicy-screenshot's TLS capture; SPICE_CA_FILE works in place of --ca-file;
--host-subject with the certificate's subject works; another CA, a
certificate for another host name and a wrong --host-subject each exit 1
fast with one "certificate verify failed: ..." line; a plain link to
--tls-channel main exits 1 with NEED_SECURED, and -s works there.

Connection files (remote-viewer's .vv): a file with the password, one with
tls-port, the CA inline and host-subject equal --frame-out; with
delete-this-file=1 the file is gone afterwards (kept with
VIRT_VIEWER_KEEP_FILE); a syntax error names file and line, type=vnc and a
missing file exit 1.

Xspice (when installed; tests/interop/xspice): a scene of X clients
(xsetroot, xterm, xlogo) on each library; clove-shot's PPM must equal
spicy-screenshot's taken just before and after it, and the scene captured
on our library must equal the one on Debian's."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
import test_tls as T  # noqa: E402

MODES = ["off", "quic", "lz", "glz", "lz4", "auto_glz"]
PASSWORD = "secret"


def add_args(p):
    p.add_argument("--clove-shot", default=None,
                   help="path of the clove-shot executable (default: next to --demo's "
                        "build dir, apps/clove-shot/clove-shot)")


def clove_shot(args, argv, timeout=30, env_extra=None):
    """Run clove-shot; (rc, seconds, stderr)."""
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    env.pop("SPICE_CA_FILE", None)
    env.update(env_extra or {})
    t0 = time.monotonic()
    r = subprocess.run(["timeout", "-k", "2", str(timeout), args.clove_shot] + argv,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env)
    dt = time.monotonic() - t0
    err = r.stderr.decode("utf-8", "replace")
    for m in H.SANITIZER_MARKERS:
        H.check(m not in err, "sanitizer report from clove-shot:\n%s" % err)
    return r.returncode, dt, err


def shoot(args, tmpdir, port, tag, password=None, timeout_s=10):
    out = os.path.join(tmpdir, "clove-shot-%s.ppm" % tag)
    if os.path.exists(out):
        os.unlink(out)
    argv = ["-h", "127.0.0.1", "-p", str(port), "-o", out, "--timeout", str(timeout_s)]
    if password is not None:
        argv += ["-w", password]
    rc, dt, err = clove_shot(args, argv)
    H.check(rc == 0 and os.path.exists(out),
            "clove-shot (%s) failed rc=%d after %.2f s: %s" % (tag, rc, dt, err.strip()))
    return H.read_file(out)


def run_mode(args, tmpdir, procs, lib, mode):
    tag = "%s-%s" % (lib, mode)
    demo = H.Demo(procs, args, tmpdir, lib=lib, name="demo-" + mode,
                  extra=["--no-animation", "--image-compression", mode]).start()
    frame = H.wait_stable_frame(demo.frame, 10)
    H.check(frame is not None, "%s: --frame-out never settled" % tag)
    ours = shoot(args, tmpdir, demo.port, tag)
    ref = H.capture(demo, tmpdir, "spicy-" + tag)
    frame = H.wait_stable_frame(demo.frame, 10)
    H.compare_ppm_bytes(ours, frame, "%s: clove-shot vs --frame-out" % tag)
    H.compare_ppm_bytes(ours, ref, "%s: clove-shot vs spicy-screenshot" % tag)
    # A second capture decodes with a fresh GLZ window on the same server.
    again = shoot(args, tmpdir, demo.port, tag + "-2")
    H.compare_ppm_bytes(again, frame, "%s: second clove-shot vs --frame-out" % tag)
    demo.stop()
    H.log("%s: clove-shot == spicy-screenshot == --frame-out" % tag)


# ---- early display link ---------------------------------------------------------
# The client links display channel 0 as soon as MAIN_INIT arrives, before
# CHANNELS_LIST; until the list names the channel, a failed link is dropped
# quietly and the list decides. A proxy in front of the demo closes display
# links: only the first one -> the capture still succeeds, through a second
# display link (so two were made: without the early link the only one would
# have been refused); every one -> one line naming the display channel, fast.

class LinkProxy:
    """Forwards TCP connections to 127.0.0.1:upstream; the first
    `refuse_display` display-channel links (-1: all) are closed as soon as
    their link message has arrived."""

    def __init__(self, upstream, refuse_display):
        self.upstream = upstream
        self.refuse_left = refuse_display
        self.display_links = 0
        self.lock = threading.Lock()
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.srv.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _recv_exact(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data

    def _serve(self, conn):
        try:
            conn.settimeout(10)
            head = self._recv_exact(conn, 16)
            size = int.from_bytes(head[12:16], "little")
            body = self._recv_exact(conn, min(size, 4096))
            if len(body) >= 5 and body[4] == 2:  # SPICE_CHANNEL_DISPLAY
                with self.lock:
                    self.display_links += 1
                    refuse = self.refuse_left != 0
                    if self.refuse_left > 0:
                        self.refuse_left -= 1
                if refuse:
                    conn.close()
                    return
            up = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
            up.sendall(head + body)
            conn.settimeout(None)
            up.settimeout(None)
            t = threading.Thread(target=self._pump, args=(up, conn), daemon=True)
            t.start()
            self._pump(conn, up)
            t.join(10)
        except OSError:
            conn.close()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def check_early_link(args, tmpdir, procs, lib):
    demo = H.Demo(procs, args, tmpdir, lib=lib, name="demo-early",
                  extra=["--no-animation"]).start()
    frame = H.wait_stable_frame(demo.frame, 10)
    H.check(frame is not None, "early link (%s): --frame-out never settled" % lib)
    proxy = LinkProxy(demo.port, 1)
    try:
        shot = shoot(args, tmpdir, proxy.port, "early-%s" % lib)
        H.compare_ppm_bytes(shot, frame, "early link refused (%s): clove-shot vs --frame-out" % lib)
        H.check(proxy.display_links == 2,
                "early link refused (%s): %d display links, want 2 (the early one, then the "
                "listed one)" % (lib, proxy.display_links))
    finally:
        proxy.close()
    proxy = LinkProxy(demo.port, -1)
    try:
        out = os.path.join(tmpdir, "no-display.ppm")
        rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-p", str(proxy.port), "-o", out,
                                        "--timeout", "10"])
        H.check(rc not in (0, 124) and "display channel" in err,
                "every display link refused (%s): rc=%d err=%r" % (lib, rc, err))
        H.check(len(err.strip().splitlines()) == 1,
                "every display link refused (%s): not one line: %r" % (lib, err))
        H.check(dt < 5.0, "every display link refused (%s): took %.2f s" % (lib, dt))
        H.check(not os.path.exists(out), "every display link refused: a file was written")
        H.log("every display link refused (%s): %r in %.2f s" % (lib, err.strip(), dt))
    finally:
        proxy.close()
    demo.stop()
    H.log("early display link (%s): refused once -> captured through a second link" % lib)


def write_vv(tmpdir, name, keys):
    """A remote-viewer connection file with [virt-viewer] keys (a list of pairs)."""
    path = os.path.join(tmpdir, name)
    with open(path, "w") as f:
        f.write("# written by test_clove_shot.py\n[virt-viewer]\n")
        for k, v in keys:
            f.write("%s=%s\n" % (k, v))
        f.write("\n[ovirt]\nhost=engine.invalid\n")
    return path


def vv_escape(text):
    """GKeyFile string escaping (what virt-viewer's 'ca' key holds)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def shoot_vv(args, tmpdir, path, tag, env_extra=None):
    out = os.path.join(tmpdir, "clove-shot-vv-%s.ppm" % tag)
    rc, dt, err = clove_shot(args, [path, "-o", out, "--timeout", "10"], env_extra=env_extra)
    H.check(rc == 0 and os.path.exists(out),
            "clove-shot %s (%s) failed rc=%d after %.2f s: %s" % (path, tag, rc, dt, err.strip()))
    return H.read_file(out)


def check_vv_failures(args, tmpdir):
    bad = os.path.join(tmpdir, "bad.vv")
    with open(bad, "w") as f:
        f.write("[virt-viewer]\ntype=spice\nhost=127.0.0.1\nthis is not a key\n")
    rc, dt, err = clove_shot(args, [bad])
    H.check(rc == 1 and ("%s:4:" % bad) in err, "bad .vv: rc=%d err=%r" % (rc, err))
    vnc = write_vv(tmpdir, "vnc.vv", [("type", "vnc"), ("host", "127.0.0.1"), ("port", "1"),
                                      ("delete-this-file", "1")])
    rc, dt, err = clove_shot(args, [vnc])
    H.check(rc == 1 and "spice" in err, ".vv type=vnc: rc=%d err=%r" % (rc, err))
    H.check(not os.path.exists(vnc), ".vv type=vnc with delete-this-file=1 was not deleted")
    rc, dt, err = clove_shot(args, [os.path.join(tmpdir, "missing.vv")])
    H.check(rc == 1 and "No such file" in err, "missing .vv: rc=%d err=%r" % (rc, err))
    H.log(".vv failures: syntax error with its line, type=vnc, missing file")


def check_password(args, tmpdir, procs):
    demo = H.Demo(procs, args, tmpdir, name="demo-pw",
                  extra=["--no-animation", "--password", PASSWORD]).start()
    frame = H.wait_stable_frame(demo.frame, 10)
    shot = shoot(args, tmpdir, demo.port, "password", password=PASSWORD)
    H.compare_ppm_bytes(shot, frame, "right password: clove-shot vs --frame-out")
    out = os.path.join(tmpdir, "wrong.ppm")
    rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-p", str(demo.port), "-w", "wrong",
                                    "-o", out])
    H.check(rc not in (0, 124), "wrong password: rc=%d" % rc)
    H.check("PERMISSION_DENIED" in err, "wrong password: no reason on stderr: %r" % err)
    H.check(len(err.strip().splitlines()) == 1, "wrong password: not one line: %r" % err)
    H.check(not os.path.exists(out), "wrong password: an output file was written")
    H.check(dt < 3.0, "wrong password took %.2f s" % dt)
    wrong = (err.strip(), dt)
    uri = "spice://127.0.0.1?port=%d&password=%s" % (demo.port, PASSWORD)
    out = os.path.join(tmpdir, "uri.ppm")
    rc, dt, err = clove_shot(args, ["--uri", uri, "-o", out])
    H.check(rc == 0, "--uri with the password failed rc=%d: %s" % (rc, err.strip()))
    H.compare_ppm_bytes(H.read_file(out), frame, "--uri: clove-shot vs --frame-out")
    # A .png file name gets a PNG with the same pixels (decoded by ImageMagick).
    png = os.path.join(tmpdir, "shot.png")
    rc, dt, err = clove_shot(args, ["--uri", uri, "-o", png])
    H.check(rc == 0, "PNG output failed rc=%d: %s" % (rc, err.strip()))
    with open(png, "rb") as f:
        H.check(f.read(8) == b"\x89PNG\r\n\x1a\n", "-o shot.png did not write a PNG")
    r = subprocess.run(["convert", png, "-depth", "8", "ppm:-"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    H.check(r.returncode == 0, "convert could not read the PNG: %s" % r.stderr.decode())
    pw, ph, pp = H.parse_ppm(r.stdout)
    fw, fh, fp = H.parse_ppm(frame)
    H.check((pw, ph) == (fw, fh) and pp == fp, "PNG pixels differ from --frame-out")
    vv = write_vv(tmpdir, "password.vv", [("type", "spice"), ("host", "127.0.0.1"),
                                          ("port", demo.port), ("password", PASSWORD),
                                          ("fullscreen", "0"), ("delete-this-file", "1")])
    shot = shoot_vv(args, tmpdir, vv, "password", env_extra={"VIRT_VIEWER_KEEP_FILE": "1"})
    H.compare_ppm_bytes(shot, frame, ".vv with password: clove-shot vs --frame-out")
    H.check(os.path.exists(vv), "VIRT_VIEWER_KEEP_FILE set, yet the .vv file was deleted")
    shot = shoot_vv(args, tmpdir, vv, "password-delete")
    H.compare_ppm_bytes(shot, frame, ".vv with password (delete): clove-shot vs --frame-out")
    H.check(not os.path.exists(vv), "delete-this-file=1, yet the .vv file is still there")
    demo.stop()
    H.log("password: right -> frame, wrong -> %r in %.2f s, --uri works" % wrong)


def check_failures(args, tmpdir):
    port = H.free_port()
    out = os.path.join(tmpdir, "none.ppm")
    rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-p", str(port), "-o", out])
    H.check(rc not in (0, 124) and err.strip(), "nothing listening: rc=%d err=%r" % (rc, err))
    H.check(dt < 2.0, "nothing listening took %.2f s" % dt)
    H.log("nothing listening: %r in %.2f s" % (err.strip(), dt))

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        port = srv.getsockname()[1]
        rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-p", str(port), "-o", out,
                                        "--timeout", "1.5"], timeout=10)
        H.check(rc not in (0, 124), "silent server: rc=%d" % rc)
        H.check("timed out" in err, "silent server: no timeout reason: %r" % err)
        H.check(1.4 < dt < 4.0, "silent server: exited after %.2f s (timeout 1.5 s)" % dt)
        H.log("silent server: %r after %.2f s" % (err.strip(), dt))

    # A peer that answers the link with garbage and closes.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        port = srv.getsockname()[1]

        def answer():
            conn, _ = srv.accept()
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + b"x" * 64)
            conn.close()
        t = threading.Thread(target=answer, daemon=True)
        t.start()
        rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-p", str(port), "-o", out], timeout=10)
        t.join(5)
        H.check(rc not in (0, 124) and "magic" in err, "garbage server: rc=%d err=%r" % (rc, err))
        H.check(dt < 2.0, "garbage server: exited after %.2f s" % dt)
        H.log("garbage server: %r in %.2f s" % (err.strip(), dt))

    rc, dt, err = clove_shot(args, ["--uri", "http://nope"])
    H.check(rc == 2 and err.strip(), "bad --uri: rc=%d err=%r" % (rc, err))
    rc, dt, err = clove_shot(args, ["-s", "1", "--host-subject", "CN"])
    H.check(rc == 2 and "host-subject" in err, "bad --host-subject: rc=%d err=%r" % (rc, err))
    rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-s", str(port), "--ca-file",
                                    "/nonexistent/ca.pem", "-o", out])
    H.check(rc == 1 and "CA file" in err, "missing --ca-file: rc=%d err=%r" % (rc, err))


# ---- TLS ----------------------------------------------------------------------

def make_named_cert(x509, d, cn, san):
    """A server certificate for another name, signed by the CA in x509."""
    os.makedirs(d, exist_ok=True)
    for f in ("ca-cert.pem", "ca-key.pem"):
        with open(os.path.join(x509, f), "rb") as src, open(os.path.join(d, f), "wb") as dst:
            dst.write(src.read())
    with open(os.path.join(d, "san.cnf"), "w") as f:
        f.write("subjectAltName=%s\n" % san)
    T.openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", cn, "-keyout", "server-key.pem",
              "-out", "server.csr", cwd=d)
    T.openssl("x509", "-req", "-in", "server.csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
              "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server-cert.pem",
              cwd=d)


def tls_demo(procs, args, tmpdir, lib, x509, name, extra=()):
    tls_port = H.free_port()
    demo = H.Demo(procs, args, tmpdir, lib=lib, name=name,
                  extra=["--no-animation", "--tls-port", str(tls_port), "--x509-dir", x509]
                  + list(extra)).start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", tls_port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return demo, tls_port


def shoot_tls(args, tmpdir, tls_port, tag, extra=(), env_extra=None):
    out = os.path.join(tmpdir, "clove-shot-tls-%s.ppm" % tag)
    if os.path.exists(out):
        os.unlink(out)
    rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-s", str(tls_port), "-o", out,
                                    "--timeout", "10"] + list(extra), env_extra=env_extra)
    H.check(rc == 0 and os.path.exists(out),
            "clove-shot over TLS (%s) failed rc=%d after %.2f s: %s"
            % (tag, rc, dt, err.strip()))
    return H.read_file(out)


def expect_verify_failure(args, tmpdir, tls_port, tag, extra, want, env_extra=None):
    out = os.path.join(tmpdir, "tls-fail-%s.ppm" % tag.replace(" ", "-"))
    rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-s", str(tls_port), "-o", out]
                             + list(extra), timeout=15, env_extra=env_extra)
    line = err.strip()
    H.check(rc == 1, "%s: rc=%d (want 1): %r" % (tag, rc, line))
    H.check("certificate verify failed: " in line and want in line,
            "%s: no 'certificate verify failed: ...%s' on stderr: %r" % (tag, want, line))
    H.check(len(line.splitlines()) == 1, "%s: not one line: %r" % (tag, line))
    H.check(not os.path.exists(out), "%s: an output file was written" % tag)
    H.check(dt < 3.0, "%s took %.2f s" % (tag, dt))
    H.log("%s: %r in %.2f s" % (tag, line, dt))


def check_tls(args, tmpdir, procs, lib):
    x509 = os.path.join(tmpdir, "x509")
    if not os.path.exists(os.path.join(x509, "server-cert.pem")):
        T.make_ca(x509, "Clove test CA")
        T.make_server_cert(x509)
        T.make_ca(os.path.join(tmpdir, "other-ca"), "Some other CA")
        make_named_cert(x509, os.path.join(tmpdir, "x509-elsewhere"),
                        "/C=XX/O=Clove Test/CN=elsewhere.example", "DNS:elsewhere.example")
    ca_file = os.path.join(x509, "ca-cert.pem")
    other_ca = os.path.join(tmpdir, "other-ca", "ca-cert.pem")

    demo, tls_port = tls_demo(procs, args, tmpdir, lib, x509, "tls")
    frame = H.wait_stable_frame(demo.frame, 10)
    H.check(frame is not None, "%s tls: --frame-out never settled" % lib)
    ours = shoot_tls(args, tmpdir, tls_port, lib, ["--ca-file", ca_file])
    out = os.path.join(tmpdir, "spicy-tls-%s.ppm" % lib)
    rc, dt, err = T.tls_screenshot(tls_port, out, ca_file)
    H.check(rc == 0 and os.path.exists(out),
            "spicy-screenshot over TLS failed rc=%d: %s" % (rc, err.strip()))
    frame = H.wait_stable_frame(demo.frame, 10)
    H.compare_ppm_bytes(ours, frame, "%s tls: clove-shot vs --frame-out" % lib)
    H.compare_ppm_bytes(ours, H.read_file(out), "%s tls: clove-shot vs spicy-screenshot" % lib)
    env = shoot_tls(args, tmpdir, tls_port, lib + "-env", env_extra={"SPICE_CA_FILE": ca_file})
    H.compare_ppm_bytes(env, frame, "%s tls: SPICE_CA_FILE" % lib)
    subj = shoot_tls(args, tmpdir, tls_port, lib + "-subject",
                     ["--ca-file", ca_file, "--host-subject", "CN=127.0.0.1"])
    H.compare_ppm_bytes(subj, frame, "%s tls: --host-subject" % lib)
    uri = shoot_tls(args, tmpdir, tls_port, lib + "-uri",
                    ["--uri", "spice://127.0.0.1?tls-port=%d" % tls_port, "--ca-file", ca_file])
    H.compare_ppm_bytes(uri, frame, "%s tls: --uri tls-port" % lib)
    with open(ca_file) as f:
        ca_pem = f.read()
    vv = write_vv(tmpdir, "tls-%s.vv" % lib,
                  [("type", "spice"), ("host", "127.0.0.1"), ("port", "-1"),
                   ("tls-port", tls_port), ("ca", vv_escape(ca_pem)),
                   ("host-subject", "CN=127.0.0.1"), ("tls-ciphers", "DEFAULT"),
                   ("secure-channels", "main;display;inputs;cursor;playback;record;"),
                   ("delete-this-file", "1"), ("toggle-fullscreen", "shift+f11")])
    shot = shoot_vv(args, tmpdir, vv, "tls-" + lib)
    H.compare_ppm_bytes(shot, frame, "%s tls: .vv with ca and host-subject" % lib)
    H.check(not os.path.exists(vv), "%s tls: the .vv file was not deleted" % lib)
    H.log("%s tls: clove-shot -s == spicy-screenshot -s == --frame-out (--ca-file, "
          "SPICE_CA_FILE, --host-subject, --uri, .vv)" % lib)

    expect_verify_failure(args, tmpdir, tls_port, lib + " wrong CA", ["--ca-file", other_ca],
                          "certificate")
    expect_verify_failure(args, tmpdir, tls_port, lib + " wrong CA via SPICE_CA_FILE", [],
                          "certificate", env_extra={"SPICE_CA_FILE": other_ca})
    expect_verify_failure(args, tmpdir, tls_port, lib + " system CAs only", [], "certificate")
    expect_verify_failure(args, tmpdir, tls_port, lib + " wrong host subject",
                          ["--ca-file", ca_file, "--host-subject", "C=XX,O=Other,CN=127.0.0.1"],
                          "subject 'CN=127.0.0.1'")
    H.check(demo.alive(), "%s tls: clove-demo died" % lib)
    demo.stop()

    demo, tls_port = tls_demo(procs, args, tmpdir, lib, os.path.join(tmpdir, "x509-elsewhere"),
                              "tls-elsewhere")
    expect_verify_failure(args, tmpdir, tls_port, lib + " other host name",
                          ["--ca-file", ca_file], "host name '127.0.0.1'")
    subj = shoot_tls(args, tmpdir, tls_port, lib + "-elsewhere-subject",
                     ["--ca-file", ca_file, "--host-subject",
                      "C=XX, O=Clove Test, CN=elsewhere.example"])
    H.compare_ppm_bytes(subj, H.wait_stable_frame(demo.frame, 10),
                        "%s tls: --host-subject instead of the host name" % lib)
    demo.stop()

    demo, tls_port = tls_demo(procs, args, tmpdir, lib, x509, "tls-only",
                              ["--tls-channel", "main"])
    out = os.path.join(tmpdir, "need-secured.ppm")
    rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-p", str(demo.port), "-o", out])
    H.check(rc == 1 and "NEED_SECURED" in err and len(err.strip().splitlines()) == 1,
            "%s: plain link to a TLS-only main channel: rc=%d err=%r" % (lib, rc, err))
    H.check(dt < 3.0, "%s: NEED_SECURED took %.2f s" % (lib, dt))
    H.log("%s tls-only main: plain -> %r" % (lib, err.strip()))
    shot = shoot_tls(args, tmpdir, tls_port, lib + "-tls-only", ["--ca-file", ca_file])
    H.compare_ppm_bytes(shot, H.wait_stable_frame(demo.frame, 10),
                        "%s tls-only main: clove-shot -s" % lib)
    demo.stop()


def xspice_capture(args, x, tag):
    """clove-shot and spicy-screenshot on a settled Xspice scene: spicy,
    clove, spicy; the two spicy captures must agree (else the scene moved:
    try again) and clove-shot's must equal them. Returns the capture."""
    for attempt in range(3):
        before, _ = x.capture("%s-spicy-before-%d" % (tag, attempt))
        out = os.path.join(x.dir, "%s-clove-%d.ppm" % (tag, attempt))
        rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-p", str(x.port), "-o", out,
                                        "--timeout", "15"])
        H.check(rc == 0 and os.path.exists(out), "%s: clove-shot on Xspice failed rc=%d: %s"
                % (tag, rc, err.strip()))
        after, _ = x.capture("%s-spicy-after-%d" % (tag, attempt))
        if before == after:
            H.compare_ppm_bytes(H.read_file(out), before,
                                "%s: clove-shot vs spicy-screenshot on Xspice" % tag)
            return before
        time.sleep(0.5)
    raise H.TestFailure("%s: the Xspice scene kept changing between captures" % tag)


def check_xspice(args, tmpdir, procs, libs):
    if not args.our_libdir or not all(shutil.which(p) for p in
                                      ("Xspice", "Xorg", "xsetroot", "xterm", "xlogo")):
        H.log("Xspice cases skipped: no Xspice/Xorg/xterm/xlogo or no --our-libdir")
        return
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "xspice"))
    import test_xspice as X  # noqa: E402
    args.debug = None
    scenes = {}
    for lib in libs:
        x = X.Xspice(procs, args, os.path.join(tmpdir, "xspice"), lib)
        try:
            x.start()
            x.draw_scene()
            time.sleep(1.0)
            x.stable_capture("settle")
            scenes[lib] = xspice_capture(args, x, "xspice-" + lib)
            w, h, _ = H.parse_ppm(scenes[lib])
            H.log("%s: Xspice scene %dx%d: clove-shot == spicy-screenshot" % (lib, w, h))
        finally:
            x.stop()
    if "ours" in scenes and "ref" in scenes:
        H.compare_ppm_bytes(scenes["ours"], scenes["ref"], "Xspice scene: ours vs ref library")
        H.log("Xspice scene: our library's capture == Debian's")


def body(args, tmpdir, procs):
    if args.clove_shot is None:
        apps = os.path.dirname(os.path.dirname(os.path.abspath(args.demo)))
        args.clove_shot = os.path.join(apps, "clove-shot", "clove-shot")
    H.check(os.path.exists(args.clove_shot), "clove-shot not found at %s" % args.clove_shot)
    check_failures(args, tmpdir)
    check_vv_failures(args, tmpdir)
    libs = ["ours", "ref"] if args.lib == "ours" else ["ref"]
    if T.demo_supports_tls(args.demo) and shutil.which("openssl"):
        for lib in libs:
            check_tls(args, tmpdir, procs, lib)
    else:
        H.log("TLS cases skipped: clove-demo has no --tls-port or no openssl CLI")
    for lib in libs:
        check_early_link(args, tmpdir, procs, lib)
        for mode in MODES:
            run_mode(args, tmpdir, procs, lib, mode)
    check_password(args, tmpdir, procs)
    check_sasl(args, tmpdir, procs, libs)
    check_xspice(args, tmpdir, procs, libs)


# ---- SASL: clove-shot --sasl --username USER -w PASS against clove-demo --sasl ----
# A sasldb made by test_sasl.make_sasldb (user test_sasl.USER); on plain TCP
# the servers offer DIGEST-MD5 only, so the capture travels through the SASL
# security layer. On both libraries: the right password -> the capture
# equals --frame-out; a wrong password or an unknown user -> exit 1 fast with
# one line saying so (never the password), no file; no --sasl on a SASL
# server -> exit 1 "requires SASL". Then --sasl against a ticket-only demo
# -> exit 1 "does not offer it".

def sasl_env_setup(tmpdir):
    """Makes the sasldb and points SASL_CONF_PATH (and the LSan suppression
    of the DIGEST-MD5 plugin's leak, whose statistics would be a second
    stderr line) at it; returns the old environment."""
    import test_sasl as S
    saved = {k: os.environ.get(k) for k in ("SASL_CONF_PATH", "LSAN_OPTIONS", "ASAN_OPTIONS")}
    os.environ["SASL_CONF_PATH"] = S.make_sasldb(tmpdir)
    os.environ["LSAN_OPTIONS"] = (os.environ.get("LSAN_OPTIONS", "") +
                                  ":print_suppressions=0:suppressions=" +
                                  os.path.realpath(S.SUPP)).lstrip(":")
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                  ":fast_unwind_on_malloc=0").lstrip(":")
    return saved


def sasl_env_restore(saved):
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def sasl_shot_argv(port, out, user, password):
    return ["-h", "127.0.0.1", "-p", str(port), "-o", out, "--timeout", "10",
            "--sasl", "--username", user, "-w", password]


def sasl_expect_failure(args, tmpdir, argv_tail, port, tag, want, secrets=()):
    out = os.path.join(tmpdir, "sasl-%s.ppm" % tag)
    rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-p", str(port), "-o", out] + argv_tail)
    H.check(rc not in (0, 124), "%s: rc=%d" % (tag, rc))
    H.check(want in err, "%s: no %r on stderr: %r" % (tag, want, err))
    H.check(len(err.strip().splitlines()) == 1, "%s: not one line: %r" % (tag, err))
    H.check(not os.path.exists(out), "%s: an output file was written" % tag)
    H.check(dt < 5.0, "%s took %.2f s" % (tag, dt))
    for sec in secrets:
        H.check(sec not in err, "%s: a password appears on stderr" % tag)
    H.log("%s -> %r in %.2f s" % (tag, err.strip(), dt))


def check_sasl_lib(args, tmpdir, procs, lib):
    import test_sasl as S
    demo = H.Demo(procs, args, tmpdir, lib=lib, name="demo-sasl-" + lib,
                  extra=["--no-animation", "--sasl", "--sasl-appname", S.APPNAME]).start()
    frame = H.wait_stable_frame(demo.frame, 10)
    H.check(frame is not None, "%s sasl: --frame-out never settled" % lib)
    out = os.path.join(tmpdir, "sasl-%s.ppm" % lib)
    rc, dt, err = clove_shot(args, sasl_shot_argv(demo.port, out, S.USER, S.PASSWORD))
    H.check(rc == 0 and os.path.exists(out),
            "%s sasl: right password failed rc=%d after %.2f s: %s; demo stderr:\n%s"
            % (lib, rc, dt, err.strip(), demo.stderr()))
    H.compare_ppm_bytes(H.read_file(out), H.wait_stable_frame(demo.frame, 10),
                        "%s sasl: clove-shot vs --frame-out" % lib)
    H.log("%s sasl: right password -> capture == --frame-out (%.2f s)" % (lib, dt))
    # The user name and password from a .vv file (username=, password=).
    vv = write_vv(tmpdir, "sasl-%s.vv" % lib,
                  [("type", "spice"), ("host", "127.0.0.1"), ("port", demo.port),
                   ("username", S.USER), ("password", S.PASSWORD)])
    out_vv = os.path.join(tmpdir, "sasl-vv-%s.ppm" % lib)
    rc, dt, err = clove_shot(args, ["--sasl", "-o", out_vv, "--timeout", "10", vv])
    H.check(rc == 0 and os.path.exists(out_vv),
            "%s sasl: .vv username/password failed rc=%d: %s" % (lib, rc, err.strip()))
    H.compare_ppm_bytes(H.read_file(out_vv), H.wait_stable_frame(demo.frame, 10),
                        "%s sasl .vv: clove-shot vs --frame-out" % lib)
    H.log("%s sasl: username and password from a .vv file -> capture == --frame-out" % lib)
    sasl_expect_failure(args, tmpdir, ["--sasl", "--username", S.USER, "-w", S.WRONG],
                        demo.port, lib + "-sasl-wrong", "wrong user name or password",
                        secrets=(S.WRONG, S.PASSWORD))
    sasl_expect_failure(args, tmpdir, ["--sasl", "--username", "nobody", "-w", S.PASSWORD],
                        demo.port, lib + "-sasl-unknown-user", "wrong user name or password",
                        secrets=(S.PASSWORD,))
    sasl_expect_failure(args, tmpdir, ["-w", S.PASSWORD], demo.port, lib + "-sasl-not-asked",
                        "requires SASL", secrets=(S.PASSWORD,))
    # The server keeps serving after the refusals.
    rc, dt, err = clove_shot(args, sasl_shot_argv(demo.port, out + "2", S.USER, S.PASSWORD))
    H.check(rc == 0, "%s sasl: capture after the refusals failed: %s" % (lib, err.strip()))
    H.check(demo.alive(), "%s sasl: clove-demo died" % lib)
    demo.stop()
    check_sasl_tls(args, tmpdir, procs, lib)


def check_sasl_tls(args, tmpdir, procs, lib):
    """SASL over TLS (no security layer; any mechanism), when check_tls made
    its certificates."""
    import test_sasl as S
    x509 = os.path.join(tmpdir, "x509")
    if not os.path.exists(os.path.join(x509, "server-cert.pem")):
        H.log("%s sasl over TLS skipped: no certificates" % lib)
        return
    ca_file = os.path.join(x509, "ca-cert.pem")
    # Over TLS SCRAM-SHA-1 wins: its PBKDF2 allocates on every round, which
    # full malloc unwinding under ASan makes take seconds per channel. The
    # DIGEST-MD5 layer (whose leak needs that unwinding) does not run here.
    asan = os.environ.get("ASAN_OPTIONS")
    if asan is not None:
        os.environ["ASAN_OPTIONS"] = asan.replace("fast_unwind_on_malloc=0", "")
    try:
        sasl_tls_cases(args, tmpdir, procs, lib, x509, ca_file)
    finally:
        if asan is not None:
            os.environ["ASAN_OPTIONS"] = asan


def sasl_tls_cases(args, tmpdir, procs, lib, x509, ca_file):
    import test_sasl as S
    demo, tls_port = tls_demo(procs, args, tmpdir, lib, x509, "tls-sasl-" + lib,
                              extra=["--sasl", "--sasl-appname", S.APPNAME])
    frame = H.wait_stable_frame(demo.frame, 10)
    H.check(frame is not None, "%s sasl tls: --frame-out never settled" % lib)
    shot = shoot_tls(args, tmpdir, tls_port, lib + "-sasl",
                     ["--ca-file", ca_file, "--sasl", "--username", S.USER, "-w", S.PASSWORD,
                      "--timeout", "30"])
    H.compare_ppm_bytes(shot, H.wait_stable_frame(demo.frame, 10),
                        "%s sasl over TLS: clove-shot vs --frame-out" % lib)
    out = os.path.join(tmpdir, "sasl-tls-wrong-%s.ppm" % lib)
    rc, dt, err = clove_shot(args, ["-h", "127.0.0.1", "-s", str(tls_port), "-o", out,
                                    "--ca-file", ca_file, "--sasl", "--username", S.USER,
                                    "-w", S.WRONG])
    H.check(rc not in (0, 124) and "wrong user name or password" in err,
            "%s sasl over TLS, wrong password: rc=%d err=%r" % (lib, rc, err))
    demo.stop()
    H.log("%s sasl over TLS: right password -> capture == --frame-out, wrong -> refused" % lib)


def check_sasl(args, tmpdir, procs, libs):
    import test_sasl as S
    if not S.demo_supports_sasl(args.demo) or S.find_saslpasswd2() is None:
        H.log("SASL cases skipped: clove-demo has no --sasl or saslpasswd2 is missing")
        return
    saved = sasl_env_setup(tmpdir)
    try:
        for lib in libs:
            check_sasl_lib(args, tmpdir, procs, lib)
        demo = H.Demo(procs, args, tmpdir, name="demo-no-sasl",
                      extra=["--no-animation", "--password", PASSWORD]).start()
        sasl_expect_failure(args, tmpdir, ["--sasl", "--username", S.USER, "-w", PASSWORD],
                            demo.port, "sasl-on-ticket-server", "does not offer it")
        demo.stop()
    finally:
        sasl_env_restore(saved)


if __name__ == "__main__":
    sys.exit(H.run_main(body, __doc__, extra=add_args))
