#!/usr/bin/python3
"""Ticket (password) authentication against clove-demo --password:
  1. spicy-screenshot -w <right password> captures the frame;
  2. spicy-screenshot with a wrong password fails in < 2 s;
  3. our own link client sees the 4-byte link result PERMISSION_DENIED (7)
     for a wrong password, and OK (0) for the right one (OAEP-SHA1 ticket);
  4. with --ticket-expiry 1, after 2 s the right password is refused (7)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
import spice_link as L  # noqa: E402

PASSWORD = "secret"


def link_result(port, password):
    with L.Client(port) as c:
        return c.link(password=password)


def body(args, tmpdir, procs):
    demo = H.Demo(procs, args, tmpdir, extra=["--no-animation", "--password", PASSWORD]).start()

    shot = H.capture(demo, tmpdir, "right", password=PASSWORD)
    frame = H.wait_stable_frame(demo.frame, 10)
    H.compare_ppm_bytes(shot, frame, "screenshot with the right password")
    H.log("right password: capture equals --frame-out")

    out = os.path.join(tmpdir, "wrong.ppm")
    rc, dt, err = H.spicy_screenshot(demo.port, out, password="wrong", timeout=10)
    H.check(rc != 0 and not os.path.exists(out),
            "spicy-screenshot with a wrong password succeeded (rc=%d)" % rc)
    H.check(rc != 124, "spicy-screenshot with a wrong password hung (timeout)")
    H.check(dt < 2.0, "wrong password took %.2f s to fail (limit 2 s)" % dt)
    H.log("wrong password: spicy-screenshot failed in %.3f s (rc=%d)" % (dt, rc))

    t0 = time.monotonic()
    res = link_result(demo.port, "wrong")
    dt = time.monotonic() - t0
    H.check(res == L.PERMISSION_DENIED, "wrong password: link result %s, expected "
            "PERMISSION_DENIED" % L.err_name(res))
    H.check(dt < 2.0, "wrong password: link result after %.2f s" % dt)
    res = link_result(demo.port, "")
    H.check(res == L.PERMISSION_DENIED, "empty password: link result %s" % L.err_name(res))
    res = link_result(demo.port, PASSWORD + "x")
    H.check(res == L.PERMISSION_DENIED, "password+suffix: link result %s" % L.err_name(res))
    res = link_result(demo.port, PASSWORD)
    H.check(res == L.OK, "right password via link client: result %s" % L.err_name(res))
    H.log("link client: wrong/empty/longer -> PERMISSION_DENIED, right -> OK")

    # The server keeps serving after the refusals.
    shot = H.capture(demo, tmpdir, "right-again", password=PASSWORD)
    H.compare_ppm_bytes(shot, frame, "screenshot after refusals")
    demo.stop()

    # Popen happens before set_ticket, so time since then bounds the ticket's age.
    started = time.monotonic()
    exp = H.Demo(procs, args, tmpdir, name="expiry",
                 extra=["--no-animation", "--password", PASSWORD, "--ticket-expiry", "1"]).start()
    if time.monotonic() - started < 0.6:
        res = link_result(exp.port, PASSWORD)
        age = time.monotonic() - started
        if age < 0.9:
            H.check(res == L.OK, "fresh ticket (age < %.2f s, expiry 1 s): link result %s"
                    % (age, L.err_name(res)))
            H.log("fresh ticket accepted (age < %.2f s)" % age)
    else:
        H.log("note: demo start took > 0.6 s; fresh-ticket check skipped")
    time.sleep(max(0.0, 2.0 - (time.monotonic() - started)))
    res = link_result(exp.port, PASSWORD)
    H.check(res == L.PERMISSION_DENIED, "expired ticket: link result %s, expected "
            "PERMISSION_DENIED" % L.err_name(res))
    out = os.path.join(tmpdir, "expired.ppm")
    rc, dt, err = H.spicy_screenshot(exp.port, out, password=PASSWORD, timeout=10)
    H.check(rc != 0 and rc != 124 and not os.path.exists(out),
            "spicy-screenshot with an expired ticket: rc=%d" % rc)
    H.log("ticket expiry 1 s: right password refused after 2 s")
    exp.stop()


if __name__ == "__main__":
    sys.exit(H.run_main(body, __doc__))
