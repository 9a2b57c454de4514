#!/usr/bin/python3
"""Captures the QUIC test vectors in this directory from Debian's libspice-server.

Not run by the test suite: it regenerates the stored files. It starts
clove-demo (deterministic scene, --image-compression quic, --plain-bitmaps)
against the SYSTEM libspice-server.so.1 (LD_LIBRARY_PATH points at Debian's
library dir, which beats the demo's RUNPATH; /proc/PID/maps is checked),
links a main and a display channel with a minimal client
(tests/interop/spice_link.py), and keeps the QUIC payload of every
DRAW_COPY the display channel sends before it has been quiet for a second.

Outputs, per QUIC image k (in arrival order):
  ref_quic_<k>.quic.xz   the reference library's QUIC bytes (xz)
and once:
  ref_frame.ppm.xz       the demo's --frame-out frame (P6, xz)
  ref_quic.txt           one line per image: k, type, width, height, the
                         DRAW_COPY destination box (left top right bottom)
                         and the QUIC byte count

Usage: capture_quic.py --demo BUILD/apps/clove-demo/clove-demo [--out DIR]
"""

import argparse
import lzma
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "interop"))
import spice_link as L  # noqa: E402

REF_LIBDIR = "/usr/lib/x86_64-linux-gnu"
MSG_DISPLAY_DRAW_COPY = 304
MSGC_DISPLAY_INIT = 101
MSGC_ACK_SYNC = 1
MSGC_ACK = 2
MSG_SET_ACK = 3
IMAGE_TYPE_QUIC = 1
CLIP_TYPE_RECTS = 1


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def mapped_spice_lib(pid):
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            if "libspice-server.so" in line:
                return os.path.realpath(line.split()[-1])
    return None


def parse_draw_copy(body):
    """(box, image bytes from the descriptor on) of a DRAW_COPY body."""
    box = struct.unpack_from("<iiii", body, 4)
    at = 20
    clip = body[at]
    at += 1
    if clip == CLIP_TYPE_RECTS:
        n = struct.unpack_from("<I", body, at)[0]
        at += 4 + 16 * n
    offset = struct.unpack_from("<I", body, at)[0]
    return box, body[offset:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo", required=True)
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=768)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="capture-quic-")
    frame = os.path.join(tmp, "frame.ppm")
    port = free_port()
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = REF_LIBDIR
    demo = subprocess.Popen([args.demo, "--addr", "127.0.0.1", "--port", str(port),
                             "--no-animation", "--image-compression", "quic",
                             "--plain-bitmaps", "--width", str(args.width),
                             "--height", str(args.height), "--frame-out", frame],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 15
        lib = None
        while time.monotonic() < deadline:
            lib = mapped_spice_lib(demo.pid)
            if lib and os.path.exists(frame):
                break
            time.sleep(0.1)
        if lib is None or os.path.dirname(lib) != REF_LIBDIR:
            sys.exit("demo did not load the reference library (mapped: %r)" % lib)
        print("demo pid %d uses %s" % (demo.pid, lib))
        time.sleep(1.0)  # let the frame settle before linking

        main_ch = L.Client(port, timeout=10)
        if main_ch.link() != L.OK:
            sys.exit("main link failed")
        sid = L.main_session_id(main_ch)
        disp = L.Client(port, timeout=10)
        if disp.link(channel_type=L.DISPLAY, connection_id=sid, channel_caps=[]) != L.OK:
            sys.exit("display link failed")
        # No pixmap cache, no GLZ window: every image is sent in full.
        disp.send_msg(MSGC_DISPLAY_INIT, struct.pack("<BqBi", 0, 0, 0, 0))

        images = []
        disp.sock.settimeout(3.0)
        while True:
            try:
                mtype, body = disp.read_msg()
            except L.LinkClosed:
                break
            if mtype == MSG_SET_ACK:
                generation = struct.unpack_from("<I", body, 0)[0]
                disp.send_msg(MSGC_ACK_SYNC, struct.pack("<I", generation))
                continue
            disp.send_msg(MSGC_ACK)
            if mtype != MSG_DISPLAY_DRAW_COPY:
                continue
            box, img = parse_draw_copy(body)
            if img[8] != IMAGE_TYPE_QUIC:
                print("skipping DRAW_COPY with image type %d" % img[8])
                continue
            size = struct.unpack_from("<I", img, 18)[0]
            data = img[22:22 + size]
            qtype, qw, qh = struct.unpack_from("<III", data, 8)
            images.append((box, qtype, qw, qh, data))
            print("QUIC image %d: type %d %dx%d box %s, %d bytes"
                  % (len(images) - 1, qtype, qw, qh, box, len(data)))
        disp.close()
        main_ch.close()
    finally:
        demo.terminate()
        demo.wait()

    if not images:
        sys.exit("no QUIC DRAW_COPY captured")
    with open(frame, "rb") as f:
        ppm = f.read()
    with open(os.path.join(args.out, "ref_frame.ppm.xz"), "wb") as f:
        f.write(lzma.compress(ppm, preset=9 | lzma.PRESET_EXTREME))
    lines = ["# k type width height box_top box_left box_bottom box_right quic_bytes"]
    for k, (box, qtype, qw, qh, data) in enumerate(images):
        with open(os.path.join(args.out, "ref_quic_%d.quic.xz" % k), "wb") as f:
            f.write(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
        lines.append("%d %d %d %d %d %d %d %d %d" % ((k, qtype, qw, qh) + tuple(box)
                                                    + (len(data),)))
    with open(os.path.join(args.out, "ref_quic.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d images to %s" % (len(images), args.out))


if __name__ == "__main__":
    main()
