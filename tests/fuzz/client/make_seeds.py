#!/usr/bin/python3
"""Writes the seed corpus of fuzz_client_server_msg: sequences of display
messages {u16 type; u32 size; body} built by hand from spice.proto layouts,
with real QUIC / LZ / LZ_PLT / GLZ / ZLIB_GLZ images from tests/data.

Usage: make_seeds.py SRCDIR OUTDIR"""

import os
import struct
import sys
import zlib

SURFACE_CREATE, MARK, COPY_BITS = 314, 102, 104
FILL, COPY, BLACKNESS, INVERS, COMPOSITE = 302, 304, 306, 308, 318
MONITORS, INVAL_ALL_PIXMAPS = 317, 106
BITMAP, QUIC, LZ_PLT, LZ_RGB, GLZ_RGB, FROM_CACHE, SURFACE, ZLIB_GLZ = 0, 1, 100, 101, 102, 103, 104, 107


def msg(t, body):
    return struct.pack("<HI", t, len(body)) + body


def rect(t, l, b, r):
    return struct.pack("<iiii", t, l, b, r)


def base(surface=0, box=(0, 0, 48, 64), clips=None):
    out = struct.pack("<I", surface) + rect(*box)
    if clips is None:
        return out + b"\x00"
    return out + struct.pack("<BI", 1, len(clips)) + b"".join(rect(*c) for c in clips)


NO_MASK = struct.pack("<BiiI", 0, 0, 0, 0)


def descriptor(t, w, h, image_id=1, flags=0):
    return struct.pack("<QBBII", image_id, t, flags, w, h)


def copy(image, w, h, clips=None, box=None):
    b = base(box=box or (0, 0, h, w), clips=clips)
    fixed = len(b) + 4 + 16 + 2 + 1 + len(NO_MASK)
    return msg(COPY, b + struct.pack("<I", fixed) + rect(0, 0, h, w) +
               struct.pack("<HB", 8, 0) + NO_MASK + image)


def surface(w=64, h=48, sid=0):
    return msg(SURFACE_CREATE, struct.pack("<IIIII", sid, w, h, 32, 1))


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    data = os.path.join(src, "tests", "data")

    def read(*p):
        with open(os.path.join(data, *p), "rb") as f:
            return f.read()

    seeds = {}
    head = surface() + msg(MONITORS, struct.pack("<HH", 1, 1) + struct.pack("<7I", 0, 0, 64, 48, 0, 0, 0))
    fill = msg(FILL, base(clips=[(0, 0, 10, 10), (5, 5, 20, 30)]) +
               struct.pack("<BIH", 1, 0xff336699, 8) + NO_MASK)
    seeds["fill"] = head + fill + msg(BLACKNESS, base(box=(1, 1, 5, 5)) + NO_MASK) + \
        msg(INVERS, base(box=(2, 2, 9, 9)) + NO_MASK) + msg(MARK, b"")
    px = bytes(range(256)) * 3
    bmp = descriptor(BITMAP, 8, 6, 5, flags=1) + struct.pack("<BBIIII", 8, 4, 8, 6, 32, 0) + px[:6 * 32]
    seeds["bitmap_cache"] = head + copy(bmp, 8, 6) + copy(descriptor(FROM_CACHE, 8, 6, 5), 8, 6) + \
        msg(COPY_BITS, base(box=(10, 10, 20, 20)) + struct.pack("<ii", 0, 0)) + msg(MARK, b"")
    # 8-bit bitmap with a palette placed after the pixels.
    b = base(box=(0, 0, 4, 4))
    fixed = len(b) + 4 + 16 + 2 + 1 + len(NO_MASK)
    img = descriptor(BITMAP, 4, 4, 6) + struct.pack("<BBIIII", 5, 0, 4, 4, 4, 0)
    pal_at = fixed + len(img) + 16
    img = img[:-4] + struct.pack("<I", pal_at) + bytes([0, 1, 2, 3] * 4)
    pal = struct.pack("<QH", 77, 4) + struct.pack("<4I", 0xff0000, 0xff00, 0xff, 0xffffff)
    seeds["palette"] = head + msg(COPY, b + struct.pack("<I", fixed) + rect(0, 0, 4, 4) +
                                  struct.pack("<HB", 8, 0) + NO_MASK + img + pal)
    q = read("quic", "rgb32_7x5.quic")
    seeds["quic"] = head + copy(descriptor(QUIC, 7, 5) + struct.pack("<I", len(q)) + q, 7, 5)
    lz = read("lz", "rgb32_7x5.lz")
    seeds["lz"] = head + copy(descriptor(LZ_RGB, 7, 5) + struct.pack("<I", len(lz)) + lz, 7, 5)
    plt = read("lz", "plt8_7x5.lz")
    b = base(box=(0, 0, 5, 7))
    fixed = len(b) + 4 + 16 + 2 + 1 + len(NO_MASK)
    img = descriptor(LZ_PLT, 7, 5) + struct.pack("<BI", 4, len(plt))
    pal_at = fixed + len(img) + 4 + len(plt)
    img += struct.pack("<I", pal_at) + plt
    pal = struct.pack("<QH", 9, 3) + struct.pack("<3I", 0x123456, 0xabcdef, 0x00ff00)
    seeds["lz_plt"] = head + msg(COPY, b + struct.pack("<I", fixed) + rect(0, 0, 5, 7) +
                                 struct.pack("<HB", 8, 0) + NO_MASK + img + pal)
    glz = b""
    for i in range(4):
        g = read("glz", "seq_%d.glz" % i)
        glz += copy(descriptor(GLZ_RGB, 64, 48, 10 + i) + struct.pack("<I", len(g)) + g, 64, 48)
    seeds["glz"] = head + glz + msg(INVAL_ALL_PIXMAPS, b"\x00") + msg(MARK, b"")
    g = read("glz", "seq_0.glz")
    z = zlib.compress(g, 3)
    seeds["zlib_glz"] = head + copy(descriptor(ZLIB_GLZ, 64, 48) +
                                    struct.pack("<II", len(g), len(z)) + z, 64, 48)
    # Surface 1 composited (OVER) onto the primary, and copied as a SURFACE image.
    s1 = surface(16, 16, 1) + msg(FILL, base(1, (0, 0, 16, 16)) + struct.pack("<BIH", 1, 0x80ff0000, 8) + NO_MASK)
    b = base(box=(0, 0, 16, 16))
    fixed = len(b) + 4 + 4 + 4 + 4
    comp = msg(COMPOSITE, b + struct.pack("<II", 3, fixed) + struct.pack("<hhhh", 0, 0, 0, 0) +
               descriptor(SURFACE, 16, 16, 3) + struct.pack("<I", 1))
    seeds["surfaces"] = head + s1 + comp + copy(descriptor(SURFACE, 16, 16, 4) + struct.pack("<I", 1), 16, 16)
    for name, blob in seeds.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(blob)


if __name__ == "__main__":
    main()
