#!/usr/bin/python3
"""TLS on clove-demo's second port (spice_server_set_tls):
  1. a throwaway CA and a server certificate for 127.0.0.1 are made with the
     openssl CLI (QEMU's x509-dir layout: ca-cert.pem, server-cert.pem,
     server-key.pem);
  2. spicy-screenshot -s TLSPORT, trusting that CA, captures the demo frame
     exactly (spicy-screenshot has no CA option: spice-gtk then falls back
     to OpenSSL's default verify paths, which SSL_CERT_FILE points at);
  3. with another CA in its trust store it fails fast and cleanly;
  4. a Python ssl client links the main channel over TLS >= 1.2 (OK), and a
     client limited to TLS 1.1 fails the handshake;
  5. --tls-channel main: a plain link answers NEED_SECURED, TLS works;
     --plaintext-channel main: a TLS link answers NEED_UNSECURED.

clove-demo options this needs (skipped with 77 when the demo lacks them):
  --tls-port=PORT       spice_server_set_tls(port, DIR/ca-cert.pem,
                        DIR/server-cert.pem, DIR/server-key.pem, NULL, NULL, NULL)
  --x509-dir=DIR        where those three files are
  --tls-channel=NAME    spice_server_set_channel_security(NAME, SSL) (repeatable)
  --plaintext-channel=NAME  ... (NAME, NONE) (repeatable)"""

import os
import socket
import ssl
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
import spice_link as L  # noqa: E402


def openssl(*argv, cwd):
    r = subprocess.run(["openssl"] + list(argv), cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    H.check(r.returncode == 0, "openssl %s failed: %s" % (argv[0], r.stderr.decode()))


def make_ca(d, name):
    os.makedirs(d, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=%s" % name, "-keyout", "ca-key.pem", "-out", "ca-cert.pem", cwd=d)


def make_server_cert(d):
    with open(os.path.join(d, "san.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server-key.pem", "-out", "server.csr", cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server-cert.pem",
            cwd=d)


def tls_screenshot(tls_port, out, ca_file, timeout=20):
    if os.path.exists(out):
        os.unlink(out)
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    env["SSL_CERT_FILE"] = ca_file
    env.pop("SSL_CERT_DIR", None)
    t0 = time.monotonic()
    r = subprocess.run(["timeout", "-k", "2", str(timeout), "spicy-screenshot",
                        "-h", "127.0.0.1", "-s", str(tls_port), "-o", out],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env)
    return r.returncode, time.monotonic() - t0, r.stderr.decode("utf-8", "replace")


def tls_client(port, ca_file, max_version=None):
    c = L.Client(port)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca_file)
    if max_version is not None:
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = max_version
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    c.sock = ctx.wrap_socket(c.sock, server_hostname="127.0.0.1")
    return c


def demo_supports_tls(demo_path):
    r = subprocess.run([demo_path, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return b"--tls-port" in r.stdout


def start_demo(procs, args, tmpdir, x509, name, extra=()):
    tls_port = H.free_port()
    demo = H.Demo(procs, args, tmpdir, name=name,
                  extra=["--no-animation", "--tls-port", str(tls_port),
                         "--x509-dir", x509] + list(extra)).start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", tls_port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return demo, tls_port


def body(args, tmpdir, procs):
    H.need_programs("openssl")
    if not demo_supports_tls(args.demo):
        H.log("SKIP: clove-demo has no --tls-port/--x509-dir options yet")
        sys.exit(H.SKIP)
    x509 = os.path.join(tmpdir, "x509")
    make_ca(x509, "Clove test CA")
    make_server_cert(x509)
    other = os.path.join(tmpdir, "other-ca")
    make_ca(other, "Some other CA")
    ca_file = os.path.join(x509, "ca-cert.pem")

    demo, tls_port = start_demo(procs, args, tmpdir, x509, "tls")
    frame = H.wait_stable_frame(demo.frame, 10)
    H.check(frame is not None, "the demo frame never settled")

    out = os.path.join(tmpdir, "tls.ppm")
    rc, dt, err = tls_screenshot(tls_port, out, ca_file)
    H.check(rc == 0 and os.path.exists(out),
            "spicy-screenshot over TLS failed rc=%d after %.2f s: %s" % (rc, dt, err.strip()))
    H.compare_ppm_bytes(H.read_file(out), frame, "screenshot over TLS")
    H.log("spicy-screenshot over TLS: capture equals --frame-out (%.2f s)" % dt)

    rc, dt, err = tls_screenshot(tls_port, out, os.path.join(other, "ca-cert.pem"), timeout=10)
    H.check(rc != 0 and rc != 124 and not os.path.exists(out),
            "spicy-screenshot trusting another CA: rc=%d" % rc)
    H.check(dt < 3.0, "wrong CA took %.2f s to fail" % dt)
    H.log("wrong CA: spicy-screenshot failed in %.2f s (rc=%d)" % (dt, rc))

    with tls_client(tls_port, ca_file) as c:
        H.check(c.sock.version() in ("TLSv1.2", "TLSv1.3"), "TLS version %s" % c.sock.version())
        res = c.link("")
        H.check(res == L.OK, "link over TLS: %s" % L.err_name(res))
    H.log("python ssl client: main channel linked over %s" % "TLS")
    try:
        with tls_client(tls_port, ca_file, max_version=getattr(ssl.TLSVersion, "TLSv1_1")) as c:
            c.link("")
        raise H.TestFailure("a TLS 1.1 client was accepted")
    except (ssl.SSLError, OSError, L.LinkClosed):
        pass
    H.log("TLS 1.1 client refused")
    H.check(demo.alive(), "clove-demo died")
    demo.stop()

    demo, tls_port = start_demo(procs, args, tmpdir, x509, "tls-only",
                                ["--tls-channel", "main"])
    with L.Client(demo.port) as c:
        res = c.link("")
        H.check(res == L.ERR_NAMES_REV["NEED_SECURED"],
                "plain link to a TLS-only main channel: %s" % L.err_name(res))
    with tls_client(tls_port, ca_file) as c:
        res = c.link("")
        H.check(res == L.OK, "TLS link to a TLS-only main channel: %s" % L.err_name(res))
    H.log("--tls-channel main: plain -> NEED_SECURED, TLS -> OK")
    demo.stop()

    demo, tls_port = start_demo(procs, args, tmpdir, x509, "plain-only",
                                ["--plaintext-channel", "main"])
    with tls_client(tls_port, ca_file) as c:
        res = c.link("")
        H.check(res == L.ERR_NAMES_REV["NEED_UNSECURED"],
                "TLS link to a plain-only main channel: %s" % L.err_name(res))
    H.log("--plaintext-channel main: TLS -> NEED_UNSECURED")
    demo.stop()


if __name__ == "__main__":
    L.ERR_NAMES_REV = {v: k for k, v in L.ERR_NAMES.items()}
    sys.exit(H.run_main(body, __doc__))
