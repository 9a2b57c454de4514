#!/usr/bin/python3
"""Hostile and broken clients against ONE clove-demo, which must keep
serving: after every case spicy-screenshot must still capture the exact
frame. Cases: garbage, bad magic, wrong major version, truncated header and
message, oversized link, absurd caps counts, unknown connection id, unknown
channel type, bad messages after a main-channel link, a silent client that
must be dropped after the link deadline, and 50 simultaneous full links.

The link deadline defaults to 10 s (+ margin) and is read from
CLOVE_LINK_TIMEOUT_MS when set (the environment is passed to the demo too).
"""

import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
import spice_link as L  # noqa: E402

LINK_TIMEOUT = int(os.environ.get("CLOVE_LINK_TIMEOUT_MS", "10000")) / 1000.0
SILENT_LIMIT = max(30.0, LINK_TIMEOUT + 20.0)
REPLY_WAIT = 5.0


class Ctx:
    def __init__(self, args, tmpdir, demo):
        self.args, self.tmpdir, self.demo = args, tmpdir, demo
        self.frame = None
        self.n = 0
        self.notes = []

    def still_serving(self, case):
        self.n += 1
        H.check(self.demo.alive(), "clove-demo died after case '%s' (rc=%s; -13 = SIGPIPE)"
                % (case, self.demo.proc.poll()))
        shot = H.capture(self.demo, self.tmpdir, "after-%02d" % self.n)
        H.compare_ppm_bytes(shot, self.frame, "capture after case '%s'" % case)
        H.log("ok   %s" % case)


def expect_error_or_close(c, allowed, case):
    """Read the server's link reply; pass if its error is in `allowed` or if
    the server closes. Fail if it accepts (error OK) or stays silent."""
    try:
        r = c.read_reply()
    except L.LinkClosed as e:
        H.check("timeout" not in str(e), "%s: server neither answered nor closed within "
                "%.0f s" % (case, REPLY_WAIT))
        return "closed"
    H.check(r.error in allowed, "%s: link reply error %s, expected %s or close"
            % (case, L.err_name(r.error), "/".join(L.err_name(a) for a in allowed)))
    return L.err_name(r.error)


def case_garbage(ctx):
    with L.Client(ctx.demo.port, timeout=REPLY_WAIT) as c:
        c.send(bytes((i * 37 + 11) & 0xff for i in range(300)) + b"\0" * 100)
        closed = c.wait_closed(REPLY_WAIT)
        return "server %s" % ("closed" if closed else "kept it open (we closed)")


def case_bad_magic(ctx):
    with L.Client(ctx.demo.port, timeout=REPLY_WAIT) as c:
        c.send_link(magic=b"QDER")
        return expect_error_or_close(c, [L.INVALID_MAGIC], "bad magic")


def case_bad_major(ctx):
    with L.Client(ctx.demo.port, timeout=REPLY_WAIT) as c:
        c.send_link(major=3)
        res = expect_error_or_close(c, [L.VERSION_MISMATCH], "major 3")
        H.check(res == "VERSION_MISMATCH", "major 3: expected a VERSION_MISMATCH reply, got %s"
                % res)
        return res


def case_truncated_header(ctx):
    with L.Client(ctx.demo.port) as c:
        c.send(L.link_header(26)[:9])
    return "sent 9 of 16 bytes, closed"


def case_truncated_message(ctx):
    with L.Client(ctx.demo.port) as c:
        c.send(L.link_header(26) + L.link_message()[:10])
    return "sent 10 of 26 bytes, closed"


def case_huge_link(ctx):
    with L.Client(ctx.demo.port, timeout=REPLY_WAIT) as c:
        c.send(L.link_header(5000) + L.link_message())
        return expect_error_or_close(c, [L.INVALID_DATA, L.ERROR], "link size 5000")


def case_absurd_caps(ctx):
    out = []
    for nc, nch in ((0xffffffff, 1), (1, 0x40000000), (2000, 0)):
        with L.Client(ctx.demo.port, timeout=REPLY_WAIT) as c:
            c.send_link(num_common=nc, num_channel=nch)
            out.append(expect_error_or_close(c, [L.INVALID_DATA, L.ERROR],
                                             "caps %#x/%#x" % (nc, nch)))
    with L.Client(ctx.demo.port, timeout=REPLY_WAIT) as c:
        c.send_link(caps_offset=0xfffffff0)
        out.append(expect_error_or_close(c, [L.INVALID_DATA, L.ERROR], "caps_offset huge"))
    return ", ".join(out)


def case_bad_connection_id(ctx):
    with L.Client(ctx.demo.port, timeout=REPLY_WAIT) as c:
        try:
            res = c.link(channel_type=L.DISPLAY, connection_id=0x5a5a1234)
        except L.LinkClosed as e:
            raise H.TestFailure("display link with unknown connection id: no error code (%s)"
                                % e)
        H.check(res == L.BAD_CONNECTION_ID, "display link with unknown connection id: %s, "
                "expected BAD_CONNECTION_ID" % L.err_name(res))
        return L.err_name(res)


def case_unknown_channel(ctx):
    with L.Client(ctx.demo.port, timeout=REPLY_WAIT) as c:
        try:
            res = c.link(channel_type=77)
        except L.LinkClosed as e:
            raise H.TestFailure("link for channel type 77: no error code (%s)" % e)
        H.check(res == L.CHANNEL_NOT_AVAILABLE, "link for channel type 77: %s, expected "
                "CHANNEL_NOT_AVAILABLE" % L.err_name(res))
        return L.err_name(res)


def linked_main(ctx):
    c = L.Client(ctx.demo.port, timeout=REPLY_WAIT)
    res = c.link()
    H.check(res == L.OK, "main channel link failed: %s" % L.err_name(res))
    L.main_session_id(c)
    return c


def case_unknown_msg_type(ctx):
    with linked_main(ctx) as c:
        c.send_msg(9999, b"\x01\x02\x03\x04")
        c.send_msg(0, b"")
        closed = c.wait_closed(1.0)
        return "server %s" % ("closed" if closed else "ignored it")


def case_absurd_size(ctx):
    with linked_main(ctx) as c:
        c.send_msg(107, b"\0" * 64, size=0xffffffff)  # AGENT_DATA claiming 4 GiB
        closed = c.wait_closed(REPLY_WAIT)
        H.check(closed, "message with size 0xffffffff: connection not closed within %.0f s"
                % REPLY_WAIT)
        return "closed"


def case_truncated_msg(ctx):
    with linked_main(ctx) as c:
        c.send(struct.pack("<HI", 104, 100) + b"\0" * 10)  # ATTACH_CHANNELS, 10 of 100
    return "sent 16 of 106 bytes, closed"


def case_many_clients(ctx, n=50):
    results = [None] * n
    socks = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def one(i):
        try:
            c = L.Client(ctx.demo.port, timeout=20)
            with lock:
                socks.append(c)
            barrier.wait(20)
            results[i] = c.link()
        except Exception as e:  # noqa: BLE001 - recorded and reported below
            results[i] = "%s: %s" % (type(e).__name__, e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    dt = time.monotonic() - t0
    for c in socks:
        c.close()
    time.sleep(1.0)  # let the server finish tearing 50 sessions down
    bad = [(i, r) for i, r in enumerate(results) if r != L.OK]
    H.check(not bad, "%d of %d simultaneous links failed: %s" % (len(bad), n, bad[:5]))
    return "%d links OK in %.2f s" % (n, dt)


# Where Debian's libspice-server 0.15.1 behaves differently the test targets
# OUR library only; with --lib ref these cases are logged, not failed:
REF_DIFFERENCES = {
    # reds_send_link_ack: "channel_type != SPICE_CHANNEL_MAIN" -> it just closes,
    # for every channel type it has no channel for, without a link reply.
    "unknown channel type": "reference closes without CHANNEL_NOT_AVAILABLE",
    # The reference waits for the 4 GiB body (no per-message size limit on
    # the main channel read path before the data arrives).
    "main: size 0xffffffff": "reference keeps the connection open",
    # The reference has no link-stage deadline.
    "silent client": "reference never drops a silent client",
}

CASES = [
    ("garbage bytes", case_garbage),
    ("bad magic", case_bad_magic),
    ("wrong major version", case_bad_major),
    ("truncated link header", case_truncated_header),
    ("truncated link message", case_truncated_message),
    ("link size > 4096", case_huge_link),
    ("absurd caps counts", case_absurd_caps),
    ("unknown connection id on display", case_bad_connection_id),
    ("unknown channel type", case_unknown_channel),
    ("main: unknown message type", case_unknown_msg_type),
    ("main: size 0xffffffff", case_absurd_size),
    ("main: truncated message", case_truncated_msg),
    ("50 simultaneous links", case_many_clients),
]


def body(args, tmpdir, procs):
    demo = H.Demo(procs, args, tmpdir, extra=["--no-animation"]).start()
    ctx = Ctx(args, tmpdir, demo)
    ctx.frame = H.wait_stable_frame(demo.frame, 10)
    ctx.frame = H.capture(demo, tmpdir, "baseline")
    H.compare_ppm_bytes(ctx.frame, H.read_file(demo.frame), "baseline capture")

    only = os.environ.get("CLOVE_BAD_INPUT_CASES")
    # A client that connects and says nothing: opened first, checked last, so
    # that every other case runs while it holds a connection.
    silent = socket.create_connection(("127.0.0.1", demo.port))
    silent_t0 = time.monotonic()

    failures = []
    for name, fn in CASES:
        if only and name not in only.split(","):
            continue
        try:
            H.log("case %s: %s" % (name, fn(ctx)))
            ctx.still_serving(name)
        except (H.TestFailure, OSError, L.LinkClosed) as e:
            if args.lib == "ref" and name in REF_DIFFERENCES and demo.alive():
                H.log("known reference difference in %s (%s): %s"
                      % (name, REF_DIFFERENCES[name], e))
                ctx.still_serving(name)
                continue
            H.log("FAIL %s: %s" % (name, e))
            failures.append(name)
            if not demo.alive():
                break

    if args.lib == "ref":
        H.log("silent client: skipped on the reference (%s)" % REF_DIFFERENCES["silent client"])
    elif not only or "silent client" in only.split(","):
        left = SILENT_LIMIT - (time.monotonic() - silent_t0)
        silent.settimeout(max(0.1, left))
        try:
            data = silent.recv(4096)
            closed_after = time.monotonic() - silent_t0
            if data:
                H.log("FAIL silent client: server sent %d bytes instead of closing" % len(data))
                failures.append("silent client")
            else:
                H.log("case silent client: closed by the server after %.1f s (limit %.0f s)"
                      % (closed_after, SILENT_LIMIT))
                ctx.still_serving("silent client")
        except socket.timeout:
            H.log("FAIL silent client: still open after %.0f s" % SILENT_LIMIT)
            failures.append("silent client")
        except ConnectionResetError:
            H.log("case silent client: reset by the server after %.1f s"
                  % (time.monotonic() - silent_t0))
    silent.close()

    H.check(not failures, "%d case(s) failed: %s" % (len(failures), ", ".join(failures)))
    demo.stop()


if __name__ == "__main__":
    sys.exit(H.run_main(body, __doc__))
