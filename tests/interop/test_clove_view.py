#!/usr/bin/python3
"""clove-view (our SDL2 viewer) under Xvfb against clove-demo --no-animation,
on OUR library and on Debian's reference library:

 1. the window (found by its title: --title "... head %d" names it "...
    head 1 - clove-view"; placed where xwininfo says) shows the demo's
    --frame-out pixel-exact (xwd of the root window, cropped at the
    window's offset), and the viewer got client mouse mode and the demo's
    cursor shape; it is the only window (one head);
 2. keys typed with xdotool (XTEST) reach the demo as the right PC/AT set-1
    codes: letters, an 0xE0 key (Up), Ctrl+Alt+End arriving as
    Ctrl+Alt+Del; F12 toggles the viewer's overlay and is not sent; the
    next --frame-out differs and the window shows it exactly;
 3. a click at a window position is reported by the demo at that guest
    position, the frame changes around it and the window shows it exactly;
 4. SIGTERM closes the viewer with status 0 and no sanitizer report;
 5. server mouse mode (clove-demo --no-tablet): a click captures the mouse
    (the title says so) without reaching the guest, relative motion moves
    the guest's pointer by as much, a click lands there, Ctrl+Alt releases;
 6. a remote-viewer .vv file (host, port, delete-this-file=1, no title) as
    the argument: the window is titled with the VM name the demo sends and
    the head number, "NAME (1) - clove-view", shows the frame pixel-exact,
    and the file is gone; a second file with fullscreen=1 and
    title=T-%d opens "T-1 - clove-view" as a fullscreen window (per the
    viewer's log: Xvfb has no window manager to show it), and F11 leaves
    fullscreen with the window at the display's size, pixel-exact; a .vv
    with tls-port, the CA inline (ca=...\n...) and host-subject shows the
    frame of a TLS-only demo pixel-exact;
 7. several heads (clove-demo --heads 2: two QXL devices, two display
    channels): one window per head, "... head 1" and "... head 2", each
    the size of its display; head 1 shows --frame-out pixel-exact and head
    2 shows its own desktop (another background colour), not head 1's;
 8. the guest agent (clove-demo --agent): the viewer reports it connected
    (the main channel's agent state, from MAIN_INIT or AGENT_CONNECTED);
 9. SASL (clove-demo --sasl, a sasldb user): --sasl --username -w shows the
    frame pixel-exact;
10. a .vv file's disable-channels=inputs;cursor leaves those channels out
    (the viewer only watches) and still shows the frame pixel-exact;
    disable-channels=display is refused with one line."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
import test_remote_viewer as RV  # noqa: E402
import test_tls as TLS  # noqa: E402

GW, GH = 640, 480
HELLO = [0x23, 0x12, 0x26, 0x26, 0x18]  # h e l l o


def add_args(p):
    p.add_argument("--clove-view", default=None,
                   help="path of the clove-view executable (default: next to --demo's "
                        "build dir, apps/clove-view/clove-view)")


def xenv(display):
    env = dict(os.environ, DISPLAY=":%d" % display)
    env.pop("LD_LIBRARY_PATH", None)
    # SDL's software renderer: the same pixels everywhere, and no GL driver
    # loaded (and unloaded) inside a sanitizer build.
    env.setdefault("SDL_RENDER_DRIVER", "software")
    # In a sanitizer build, leaks are judged by our_leaks() instead of the
    # exit status: SDL's dlopen()ed X11 and D-Bus libraries leak at exit.
    env["LSAN_OPTIONS"] = (env.get("LSAN_OPTIONS", "") + ":exitcode=0").lstrip(":")
    return env


def our_leaks(log):
    """The LeakSanitizer reports whose stacks (past the allocator) pass
    through our code; SDL's libraries, unloaded at exit, show as unknown."""
    ours = []
    for block in re.split(r"\n(?=(?:Direct|Indirect) leak of )", log):
        if not re.match(r"(Direct|Indirect) leak of ", block):
            continue
        frames = re.findall(r"^\s+#(\d+) .*$", block, re.M)
        lines = [ln for ln in block.splitlines() if re.match(r"\s+#\d+ ", ln)]
        if any(("clove" in ln or "/work/" in ln) for ln in lines[1:]) and frames:
            ours.append(block.strip())
    return ours


def xdo(display, *argv, timeout=20):
    r = subprocess.run(["xdotool"] + list(argv), env=xenv(display), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    H.check(r.returncode == 0, "xdotool %s failed: %s" % (" ".join(argv),
                                                          r.stderr.decode(errors="replace")))
    return r.stdout.decode().strip()


def find_window(display, title, timeout=20):
    """(window id, absolute x, absolute y, width, height) of the window titled `title`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = subprocess.run(["xdotool", "search", "--name", "^%s$" % re.escape(title)],
                           env=xenv(display), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        ids = r.stdout.decode().split()
        if ids:
            info = subprocess.run(["xwininfo", "-id", ids[0]], env=xenv(display),
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            text = info.stdout.decode()
            vals = {}
            for key in ("Absolute upper-left X", "Absolute upper-left Y", "Width", "Height"):
                m = re.search(r"%s:\s+(-?\d+)" % key, text)
                if m:
                    vals[key] = int(m.group(1))
            if len(vals) == 4 and "IsViewable" in text:
                return (int(ids[0]), vals["Absolute upper-left X"],
                        vals["Absolute upper-left Y"], vals["Width"], vals["Height"])
        time.sleep(0.2)
    raise H.TestFailure("no viewable window titled %r within %d s" % (title, timeout))


def crop(screen, ox, oy, w, h):
    sw, sh, sp = H.parse_ppm(screen)
    H.check(ox >= 0 and oy >= 0 and ox + w <= sw and oy + h <= sh,
            "window %dx%d+%d+%d is not inside the %dx%d screen" % (w, h, ox, oy, sw, sh))
    return b"".join(sp[((oy + y) * sw + ox) * 3:((oy + y) * sw + ox + w) * 3] for y in range(h))


def wait_window_shows(display, win, demo, tmpdir, tag, timeout=15):
    """Wait until the window region equals the demo's newest frame; returns that frame."""
    _, ox, oy, ww, wh = win
    deadline = time.monotonic() + timeout
    ndiff, frame, region = None, None, None
    while time.monotonic() < deadline:
        screen = RV.grab(display, None)
        if screen is not None:
            frame = H.read_file(demo.frame)
            fw, fh, fp = H.parse_ppm(frame)
            H.check((fw, fh) == (ww, wh), "window is %dx%d, frame %dx%d" % (ww, wh, fw, fh))
            region = crop(screen, ox, oy, ww, wh)
            ndiff = H.diff_pixels(region, fp)
            if ndiff == 0:
                return frame
        time.sleep(0.3)
    if region is not None:
        path = os.path.join(tmpdir, "window-%s.ppm" % tag)
        with open(path, "wb") as f:
            f.write(b"P6\n%d %d\n255\n" % (ww, wh) + region)
        with open(os.path.join(tmpdir, "frame-%s.ppm" % tag), "wb") as f:
            f.write(frame)
        H.check(False, "%s: the window differs from --frame-out in %s pixels (saved %s)"
                % (tag, ndiff, path))
    H.check(False, "%s: no screenshot of the window could be taken" % tag)


def key_codes(demo, start):
    return [int(m.group(1), 0) for m in
            (re.search(r"clove-demo: input key=(0x[0-9a-fA-F]+)", ln)
             for ln in demo.lines[start:]) if m]


def wait_codes(demo, start, want, timeout=10):
    deadline = time.monotonic() + timeout
    codes = []
    while time.monotonic() < deadline:
        codes = key_codes(demo, start)
        if codes[:len(want)] == want:
            return codes
        time.sleep(0.1)
    H.check(False, "demo reported keys %s, expected %s" % ([hex(c) for c in codes],
                                                           [hex(c) for c in want]))


def run_one(args, tmpdir, procs, lib):
    demo = H.Demo(procs, args, tmpdir, lib=lib, extra=["--no-animation", "--verbose", "--width",
                                                       str(GW), "--height", str(GH)]).start()
    f0 = H.wait_stable_frame(demo.frame, 10)
    H.check(f0 is not None, "%s: the demo's first frame never settled" % lib)
    display = RV.start_xvfb(procs, tmpdir)
    title = "clove-view-test-%s-%d" % (lib, os.getpid())
    view, view_err, view_err_path = start_view(args, procs, tmpdir, display, demo, title, lib)

    def view_log():
        if not view_err.closed:
            view_err.flush()
        return H.read_file(view_err_path).decode("utf-8", "replace")

    win = find_window(display, head_title(title))
    H.log("%s: window 0x%x at +%d+%d, %dx%d" % (lib, win[0], win[1], win[2], win[3], win[4]))
    r = subprocess.run(["xdotool", "search", "--name", " - clove-view$"], env=xenv(display),
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    H.check(len(r.stdout.split()) == 1, "%s: one head, yet windows %s" % (lib, r.stdout.split()))
    H.check((win[3], win[4]) == (GW, GH), "window is %dx%d, not %dx%d" % (win[3], win[4], GW, GH))
    f0 = wait_window_shows(display, win, demo, tmpdir, lib + "-initial")
    H.log("%s: the window shows the demo's frame pixel-exact" % lib)
    deadline = time.monotonic() + 10
    while "mouse mode client" not in view_log() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = view_log()
    H.check("mouse mode client" in log, "%s: viewer never got client mouse mode:\n%s"
            % (lib, log))
    m = re.search(r"clove-view: cursor (\d+)x(\d+) hot (\d+),(\d+)", log)
    H.check(m is not None, "%s: the viewer got no cursor shape:\n%s" % (lib, log))
    H.log("%s: client mouse mode; cursor %sx%s hot %s,%s" % ((lib,) + m.groups()))

    # --- keys ---
    xdo(display, "windowfocus", "--sync", str(win[0]))
    time.sleep(0.3)
    start = len(demo.lines)
    xdo(display, "key", "--delay", "40", "h", "e", "l", "l", "o")
    want = []
    for c in HELLO:
        want += [c, c | 0x80]
    wait_codes(demo, start, want)
    start = len(demo.lines)
    xdo(display, "key", "--delay", "40", "Up", "ctrl+alt+End")
    codes = wait_codes(demo, start, [0xe048, 0xe0c8, 0x1d, 0x38, 0xe053])
    time.sleep(0.5)
    codes = key_codes(demo, start)
    H.check(set(codes[5:]) == {0x9d, 0xb8, 0xe0d3} and len(codes) == 8,
            "%s: Ctrl+Alt+End releases: %s" % (lib, [hex(c) for c in codes]))
    H.log("%s: keys reported as %s" % (lib, " ".join("%x" % c for c in want + codes)))
    f1 = H.wait_stable_frame(demo.frame, 10, differs_from=f0)
    H.check(f1 is not None, "%s: the frame did not change after typing" % lib)
    f1 = wait_window_shows(display, win, demo, tmpdir, lib + "-after-keys")
    H.log("%s: the window shows the frame after typing pixel-exact" % lib)

    # --- the overlay: F12 on, the window differs at its top-left; F12 off ---
    start = len(demo.lines)
    xdo(display, "key", "F12")
    time.sleep(1.5)
    screen = RV.grab(display, None)
    _, _, p1 = H.parse_ppm(f1)
    region = crop(screen, win[1], win[2], GW, GH)
    H.check(H.diff_pixels(region, p1) > 0, "%s: F12 drew no overlay" % lib)
    box = H.diff_bbox(GW, p1, region)
    xdo(display, "key", "F12")
    wait_window_shows(display, win, demo, tmpdir, lib + "-overlay-off")
    H.check(key_codes(demo, start) == [], "%s: F12 reached the guest" % lib)
    H.log("%s: F12 toggles the overlay (%s) and is not sent" % (lib, box))

    # --- mouse: click in the lower right, away from the text ---
    tx, ty = GW * 13 // 16, GH * 13 // 16
    start = len(demo.lines)
    xdo(display, "mousemove", "--window", str(win[0]), str(tx), str(ty))
    time.sleep(0.3)
    xdo(display, "click", "1")
    i = demo.wait_line(r"clove-demo: input click x=-?\d+ y=-?\d+", 10, start)
    H.check(i is not None, "%s: the demo reported no click; stdout tail %s"
            % (lib, demo.lines[-5:]))
    m = re.search(r"x=(-?\d+) y=(-?\d+) button=(\w+)", demo.lines[i])
    cx, cy = int(m.group(1)), int(m.group(2))
    H.check(abs(cx - tx) <= 1 and abs(cy - ty) <= 1 and m.group(3) == "left",
            "%s: click reported at %d,%d (%s), made at %d,%d" % (lib, cx, cy, m.group(3), tx, ty))
    f2 = H.wait_stable_frame(demo.frame, 10, differs_from=f1)
    H.check(f2 is not None, "%s: the frame did not change after the click" % lib)
    _, _, p2 = H.parse_ppm(f2)
    box = H.diff_bbox(GW, p1, p2)
    H.check(box is not None and box[0] - 16 <= cx <= box[2] + 16 and
            box[1] - 16 <= cy <= box[3] + 16,
            "%s: the click at %d,%d changed %s" % (lib, cx, cy, box))
    wait_window_shows(display, win, demo, tmpdir, lib + "-after-click")
    H.log("%s: click reported at %d,%d; the window shows the new frame pixel-exact"
          % (lib, cx, cy))

    stop_view(view, view_err, view_err_path, lib)
    demo.stop()


def start_view(args, procs, tmpdir, display, demo, title, lib, target=None, extra=()):
    """clove-view with --title "TITLE head %d" (None: no --title) and `extra`
    options, on `target` (default: a spice:// URI of the demo). Its head 1
    window is titled "TITLE head 1 - clove-view"."""
    tag = (title or "vv")[-6:]
    err_path = os.path.join(tmpdir, "clove-view-%s-%s.stderr" % (lib, tag))
    err = open(err_path, "wb")
    argv = [args.clove_view, "-v"] + list(extra)
    if title is not None:
        argv += ["--title", title + " head %d"]
    argv.append(target or "spice://127.0.0.1:%d" % demo.port)
    view = procs.popen("clove-view", argv, env=xenv(display), stdout=subprocess.DEVNULL,
                       stderr=err)
    return view, err, err_path


def head_title(title, n=1):
    return "%s head %d - clove-view" % (title, n)


def stop_view(view, err, err_path, lib):
    H.check(view.poll() is None, "%s: clove-view exited early (rc=%s)" % (lib, view.poll()))
    view.send_signal(signal.SIGTERM)
    try:
        rc = view.wait(10)
    except subprocess.TimeoutExpired:
        H.stop_process(view)
        rc = None
    err.close()
    log = H.read_file(err_path).decode("utf-8", "replace")
    for marker in H.SANITIZER_MARKERS:
        if marker != "ERROR: LeakSanitizer":
            H.check(marker not in log, "sanitizer report from clove-view:\n%s" % log)
    leaks = our_leaks(log)
    H.check(not leaks, "%s: clove-view leaks:\n%s" % (lib, "\n\n".join(leaks)))
    H.check(rc == 0, "%s: clove-view exited with %s on SIGTERM:\n%s" % (lib, rc, log))
    return log


def run_server_mode(args, tmpdir, procs, lib):
    demo = H.Demo(procs, args, tmpdir, lib=lib, name="demo-no-tablet",
                  extra=["--no-animation", "--verbose", "--no-tablet", "--width", str(GW),
                         "--height", str(GH)]).start()
    H.check(H.wait_stable_frame(demo.frame, 10) is not None, "%s: no first frame" % lib)
    display = RV.start_xvfb(procs, tmpdir)
    title = "clove-view-server-%s-%d" % (lib, os.getpid())
    view, err, err_path = start_view(args, procs, tmpdir, display, demo, title, lib)
    win = find_window(display, head_title(title))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and \
            "inputs ready" not in H.read_file(err_path).decode("utf-8", "replace"):
        time.sleep(0.1)
    log = H.read_file(err_path).decode("utf-8", "replace")
    H.check("mouse mode server" in log and "mouse mode client" not in log,
            "%s: expected server mouse mode only:\n%s" % (lib, log))
    start = len(demo.lines)
    xdo(display, "mousemove", "--window", str(win[0]), "100", "100")
    xdo(display, "click", "1")
    time.sleep(0.5)
    H.check("releases the mouse" in xdo(display, "getwindowname", str(win[0])),
            "%s: a click did not capture the mouse" % lib)
    H.check(demo.wait_line(r"input click", 0.5, start) is None,
            "%s: the capturing click reached the guest" % lib)
    xdo(display, "mousemove_relative", "--", "30", "20")
    time.sleep(0.3)
    xdo(display, "click", "1")
    i = demo.wait_line(r"clove-demo: input click x=-?\d+ y=-?\d+", 10, start)
    H.check(i is not None, "%s: no click reported in server mode" % lib)
    m = re.search(r"x=(-?\d+) y=(-?\d+)", demo.lines[i])
    cx, cy = int(m.group(1)), int(m.group(2))
    # The guest pointer starts at the centre; relative motion moved it by (30, 20).
    H.check(abs(cx - (GW // 2 + 30)) <= 2 and abs(cy - (GH // 2 + 20)) <= 2,
            "%s: server-mode click at %d,%d, expected near %d,%d"
            % (lib, cx, cy, GW // 2 + 30, GH // 2 + 20))
    xdo(display, "key", "ctrl+alt")
    # The title changes when the viewer has handled the keys: poll, don't guess.
    released = False
    deadline = time.monotonic() + 5
    while not released and time.monotonic() < deadline:
        time.sleep(0.1)
        released = "releases the mouse" not in xdo(display, "getwindowname", str(win[0]))
    H.check(released, "%s: Ctrl+Alt did not release the mouse" % lib)
    stop_view(view, err, err_path, lib)
    H.log("%s: server mode: click captures, relative motion, click at %d,%d, Ctrl+Alt releases"
          % (lib, cx, cy))
    demo.stop()


def run_vv(args, tmpdir, procs, lib):
    name = "clove vm %s %d" % (lib, os.getpid())
    demo = H.Demo(procs, args, tmpdir, lib=lib, name="demo-vv",
                  extra=["--no-animation", "--name", name, "--width", str(GW),
                         "--height", str(GH)]).start()
    H.check(H.wait_stable_frame(demo.frame, 10) is not None, "%s: no first frame" % lib)
    display = RV.start_xvfb(procs, tmpdir)
    vv = os.path.join(tmpdir, "view-%s.vv" % lib)
    with open(vv, "w") as f:
        f.write("[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport=%d\ndelete-this-file=1\n"
                "fullscreen=0\nrelease-cursor=ctrl+alt\n" % demo.port)
    view, err, err_path = start_view(args, procs, tmpdir, display, demo, None, lib, target=vv)
    win = find_window(display, "%s (1) - clove-view" % name)
    wait_window_shows(display, win, demo, tmpdir, lib + "-vv")
    H.check(not os.path.exists(vv), "%s: delete-this-file=1, yet the .vv file remains" % lib)
    stop_view(view, err, err_path, lib)
    H.log("%s: .vv file: window %r shows the frame pixel-exact; the file was deleted"
          % (lib, "%s (1) - clove-view" % name))

    vv = os.path.join(tmpdir, "view-full-%s.vv" % lib)
    with open(vv, "w") as f:
        f.write("[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport=%d\nfullscreen=1\n"
                "title=T-%%d\n" % demo.port)
    view, err, err_path = start_view(args, procs, tmpdir, display, demo, None, lib, target=vv)
    # Xvfb has no window manager to honour _NET_WM_STATE_FULLSCREEN: the
    # viewer's log says what it asked SDL for; the size is checked after F11.
    win = find_window(display, "T-1 - clove-view")
    deadline = time.monotonic() + 10
    while "head 1 window fullscreen" not in H.read_file(err_path).decode() and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    log = H.read_file(err_path).decode("utf-8", "replace")
    H.check("head 1 window fullscreen" in log, "%s: fullscreen=1 did not make a fullscreen "
            "window:\n%s" % (lib, log))
    H.check(os.path.exists(vv), "%s: the .vv file without delete-this-file was deleted" % lib)
    xdo(display, "windowfocus", "--sync", str(win[0]))
    xdo(display, "key", "F11")
    deadline = time.monotonic() + 10
    while "fullscreen off" not in H.read_file(err_path).decode() and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    H.check("fullscreen off" in H.read_file(err_path).decode(), "%s: F11 did not leave "
            "fullscreen" % lib)
    win = find_window(display, "T-1 - clove-view")
    H.check((win[3], win[4]) == (GW, GH), "%s: after F11 the window is %dx%d, not %dx%d"
            % (lib, win[3], win[4], GW, GH))
    wait_window_shows(display, win, demo, tmpdir, lib + "-after-f11")
    stop_view(view, err, err_path, lib)
    H.log("%s: .vv fullscreen=1 title=T-%%d: 'T-1 - clove-view' asked fullscreen; F11 leaves "
          "it at %dx%d, pixel-exact" % (lib, GW, GH))

    # disable-channels: the inputs and cursor channels are left out (the
    # viewer only watches), the window still shows the frame exactly; a file
    # that disables the display channel is refused with one line.
    vv = os.path.join(tmpdir, "view-nochan-%s.vv" % lib)
    with open(vv, "w") as f:
        f.write("[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport=%d\ntitle=N-%%d\n"
                "disable-channels=inputs;cursor;usbredir;\n" % demo.port)
    view, err, err_path = start_view(args, procs, tmpdir, display, demo, None, lib, target=vv)
    win = find_window(display, "N-1 - clove-view")
    wait_window_shows(display, win, demo, tmpdir, lib + "-nochan")
    log = stop_view(view, err, err_path, lib)
    H.check("inputs ready" not in log and "clove-view: cursor" not in log,
            "%s: disable-channels=inputs;cursor, yet the viewer linked them:\n%s" % (lib, log))
    vv = os.path.join(tmpdir, "view-nodisplay-%s.vv" % lib)
    with open(vv, "w") as f:
        f.write("[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport=%d\n"
                "disable-channels=display\n" % demo.port)
    r = subprocess.run([args.clove_view, vv], env=xenv(display), stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=20)
    text = r.stderr.decode("utf-8", "replace")
    H.check(r.returncode == 1 and "cannot be left out" in text,
            "%s: disable-channels=display: rc=%d %r" % (lib, r.returncode, text))
    H.log("%s: .vv disable-channels=inputs;cursor: no inputs or cursor channel, frame "
          "pixel-exact; =display refused" % lib)
    demo.stop()


def run_vv_tls(args, tmpdir, procs, lib):
    x509 = os.path.join(tmpdir, "x509-view")
    if not os.path.exists(os.path.join(x509, "server-cert.pem")):
        TLS.make_ca(x509, "Clove view test CA")
        TLS.make_server_cert(x509)
    tls_port = H.free_port()
    demo = H.Demo(procs, args, tmpdir, lib=lib, name="demo-vv-tls",
                  extra=["--no-animation", "--tls-port", str(tls_port), "--x509-dir", x509,
                         "--tls-channel", "main", "--width", str(GW), "--height",
                         str(GH)]).start()
    H.check(H.wait_stable_frame(demo.frame, 10) is not None, "%s: no first frame" % lib)
    display = RV.start_xvfb(procs, tmpdir)
    with open(os.path.join(x509, "ca-cert.pem")) as f:
        ca = f.read().replace("\\", "\\\\").replace("\n", "\\n")
    vv = os.path.join(tmpdir, "view-tls-%s.vv" % lib)
    with open(vv, "w") as f:
        f.write("[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport=-1\ntls-port=%d\n"
                "ca=%s\nhost-subject=CN=127.0.0.1\ntitle=tls %s %%d\n"
                "secure-channels=main;display;inputs;cursor\n" % (tls_port, ca, lib))
    view, err, err_path = start_view(args, procs, tmpdir, display, demo, None, lib, target=vv)
    win = find_window(display, "tls %s 1 - clove-view" % lib)
    wait_window_shows(display, win, demo, tmpdir, lib + "-vv-tls")
    stop_view(view, err, err_path, lib)
    H.log("%s: .vv with tls-port, inline ca and host-subject: the TLS-only demo's frame "
          "pixel-exact" % lib)
    demo.stop()


def demo_has_heads(demo_path):
    r = subprocess.run([demo_path, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return b"--heads" in r.stdout


def wait_head1(display, win, demo, err_path, lib, timeout=15):
    """Head 1 shows --frame-out. With two display channels and no agent
    Debian's library keeps the server mouse mode, where the viewer draws
    the guest's cursor over the picture: differences inside one cursor-sized
    box are then allowed. Returns head 1's frame pixels."""
    _, ox, oy, ww, wh = win
    deadline = time.monotonic() + timeout
    box = None
    while time.monotonic() < deadline:
        time.sleep(0.3)
        screen = RV.grab(display, None)
        if screen is None:
            continue
        _, _, fp = H.parse_ppm(H.read_file(demo.frame))
        region = crop(screen, ox, oy, ww, wh)
        box = H.diff_bbox(ww, region, fp)
        if box is None:
            return fp
        log = H.read_file(err_path).decode("utf-8", "replace")
        m = re.search(r"clove-view: cursor (\d+)x(\d+) hot", log)
        if "mouse mode server" in log and "mouse mode client" not in log and m and \
                box[2] - box[0] < int(m.group(1)) and box[3] - box[1] < int(m.group(2)):
            H.log("%s: head 1 equals --frame-out but for the guest's cursor at %s "
                  "(server mouse mode)" % (lib, box))
            return fp
    raise H.TestFailure("%s: head 1 differs from --frame-out in %s" % (lib, box))


def run_heads(args, tmpdir, procs, lib):
    demo = H.Demo(procs, args, tmpdir, lib=lib, name="demo-heads",
                  extra=["--no-animation", "--heads", "2", "--width", str(GW), "--height",
                         str(GH)]).start()
    H.check(H.wait_stable_frame(demo.frame, 10) is not None, "%s: no first frame" % lib)
    display = RV.start_xvfb(procs, tmpdir)
    title = "clove-view-heads-%s-%d" % (lib, os.getpid())
    view, err, err_path = start_view(args, procs, tmpdir, display, demo, title, lib)
    win1 = find_window(display, head_title(title, 1))
    win2 = find_window(display, head_title(title, 2))
    for n, w in ((1, win1), (2, win2)):
        H.check((w[3], w[4]) == (GW, GH), "%s: head %d window is %dx%d, not %dx%d"
                % (lib, n, w[3], w[4], GW, GH))
    r = subprocess.run(["xdotool", "search", "--name", " - clove-view$"], env=xenv(display),
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    H.check(len(r.stdout.split()) == 2, "%s: two heads, windows %s" % (lib, r.stdout.split()))
    # The two windows may overlap on the Xvfb screen: raise each before grabbing it.
    xdo(display, "windowraise", str(win1[0]))
    p1 = wait_head1(display, win1, demo, err_path, lib)
    xdo(display, "windowraise", str(win2[0]))
    deadline = time.monotonic() + 10
    region = None
    while time.monotonic() < deadline:
        time.sleep(0.3)
        screen = RV.grab(display, None)
        if screen is None:
            continue
        region = crop(screen, win2[1], win2[2], GW, GH)
        # Head 2's desktop: its own background colour at the far corner.
        if region != p1 and region[-3:] != p1[-3:] and len(set(region[-3 * GW:])) > 1:
            break
    H.check(region is not None and region != p1 and region[-3:] != p1[-3:],
            "%s: head 2's window does not show its own display (corner %r vs head 1 %r)"
            % (lib, region[-3:] if region else None, p1[-3:]))
    log = H.read_file(err_path).decode("utf-8", "replace")
    H.check("head 2 %dx%d+0+0 display 1" % (GW, GH) in log,
            "%s: the viewer did not report head 2 on display channel 1:\n%s" % (lib, log))
    stop_view(view, err, err_path, lib)
    H.log("%s: --heads 2: two windows; head 1 pixel-exact, head 2 its own display "
          "(corner pixel %s vs %s)" % (lib, region[-3:].hex(), p1[-3:].hex()))
    demo.stop()


def run_agent(args, tmpdir, procs, lib):
    demo = H.Demo(procs, args, tmpdir, lib=lib, name="demo-agent",
                  extra=["--no-animation", "--agent", "--width", str(GW), "--height",
                         str(GH)]).start()
    H.check(H.wait_stable_frame(demo.frame, 10) is not None, "%s: no first frame" % lib)
    display = RV.start_xvfb(procs, tmpdir)
    title = "clove-view-agent-%s-%d" % (lib, os.getpid())
    view, err, err_path = start_view(args, procs, tmpdir, display, demo, title, lib)
    find_window(display, head_title(title, 1))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if b"guest agent connected" in H.read_file(err_path):
            break
        time.sleep(0.1)
    log = stop_view(view, err, err_path, lib)
    H.check("guest agent connected" in log,
            "%s: the viewer never reported the guest agent connected:\n%s" % (lib, log))
    H.log("%s: --agent: the viewer reports the guest agent connected" % lib)
    demo.stop()


def run_sasl(args, tmpdir, procs, lib):
    """A SASL-only demo (DIGEST-MD5 from a sasldb, as test_clove_shot): --sasl
    with the user name and password shows the frame pixel-exact."""
    import test_clove_shot as CS
    import test_sasl as S
    if not S.demo_supports_sasl(args.demo) or S.find_saslpasswd2() is None:
        H.log("%s: SASL skipped: clove-demo has no --sasl or saslpasswd2 is missing" % lib)
        return
    sasl_dir = os.path.join(tmpdir, "sasl-view-" + lib)
    os.makedirs(sasl_dir)
    saved = CS.sasl_env_setup(sasl_dir)
    try:
        demo = H.Demo(procs, args, tmpdir, lib=lib, name="demo-sasl-view",
                      extra=["--no-animation", "--sasl", "--sasl-appname", S.APPNAME,
                             "--width", str(GW), "--height", str(GH)]).start()
        H.check(H.wait_stable_frame(demo.frame, 10) is not None, "%s: no first frame" % lib)
        # Not for the viewer: ASan's slow unwinder on every malloc deadlocks
        # in libgcc's unwinder when llvmpipe's JIT (SDL_RenderPresent)
        # registers its frames (the unwinder's lock is taken again by the
        # malloc inside it). Only the demo's SASL plugin leak needs it.
        os.environ["ASAN_OPTIONS"] = ":".join(
            o for o in os.environ.get("ASAN_OPTIONS", "").split(":")
            if o and o != "fast_unwind_on_malloc=0")
        display = RV.start_xvfb(procs, tmpdir)
        title = "clove-view-sasl-%s-%d" % (lib, os.getpid())
        view, err, err_path = start_view(args, procs, tmpdir, display, demo, title, lib,
                                         extra=["--sasl", "--username", S.USER,
                                                "-w", S.PASSWORD])
        win = find_window(display, head_title(title, 1))
        wait_window_shows(display, win, demo, tmpdir, "%s-sasl" % lib)
        stop_view(view, err, err_path, lib)
        demo.stop()
    finally:
        CS.sasl_env_restore(saved)
    H.log("%s: --sasl --username: the window shows the SASL demo's frame pixel-exact" % lib)


def body(args, tmpdir, procs):
    H.need_programs("Xvfb", "xdpyinfo", "xwd", "xwininfo", "convert", "xdotool")
    if args.clove_view is None:
        apps = os.path.dirname(os.path.dirname(os.path.abspath(args.demo)))
        args.clove_view = os.path.join(apps, "clove-view", "clove-view")
    H.check(os.path.exists(args.clove_view), "clove-view not found at %s" % args.clove_view)
    libs = ["ours", "ref"] if args.lib == "ours" else ["ref"]
    for lib in libs:
        run_one(args, tmpdir, procs, lib)
        run_server_mode(args, tmpdir, procs, lib)
        run_vv(args, tmpdir, procs, lib)
        if TLS.demo_supports_tls(args.demo) and shutil.which("openssl"):
            run_vv_tls(args, tmpdir, procs, lib)
        if demo_has_heads(args.demo):
            run_heads(args, tmpdir, procs, lib)
        else:
            H.log("%s: several heads skipped: clove-demo has no --heads" % lib)
        run_agent(args, tmpdir, procs, lib)
        run_sasl(args, tmpdir, procs, lib)


if __name__ == "__main__":
    sys.exit(H.run_main(body, __doc__, add_args))
