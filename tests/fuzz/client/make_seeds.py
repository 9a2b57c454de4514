#!/usr/bin/python3
"""Writes the seed corpus of fuzz_client_server_msg: sequences of display
messages {u16 type; u32 size; body} built by hand from spice.proto layouts,
with real QUIC / LZ / LZ_PLT / GLZ / ZLIB_GLZ images from tests/data.

With a third argument, also writes single-message seeds {u16 type; body}
of fuzz_client_server_parse into PARSEDIR.

Usage: make_seeds.py SRCDIR OUTDIR [PARSEDIR]"""

import os
import struct
import sys
import zlib

SURFACE_CREATE, MARK, COPY_BITS = 314, 102, 104
FILL, COPY, BLACKNESS, INVERS, COMPOSITE = 302, 304, 306, 308, 318
MONITORS, INVAL_ALL_PIXMAPS = 317, 106
OPAQUE, BLEND, WHITENESS, ROP3, STROKE, TEXT, TRANSPARENT, ALPHA_BLEND = 303, 305, 307, 309, 310, 311, 312, 313
INVAL_LIST, INVAL_PALETTE, INVAL_ALL_PALETTES = 105, 107, 108
STREAM_CREATE, STREAM_DATA, STREAM_CLIP, STREAM_DESTROY, STREAM_DESTROY_ALL = 122, 123, 124, 125, 126
STREAM_DATA_SIZED, STREAM_ACTIVATE_REPORT = 316, 319
CHANNEL1 = 0x8000  # the fuzz target's "to display channel 1" bit
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


class Ptr:
    """A pointer field: a u32 offset to `blob`, laid out after the fixed part."""

    def __init__(self, blob):
        self.blob = blob


def layout(*parts):
    """Concatenates bytes and Ptr parts, appending each Ptr's blob after the
    fixed part and writing its offset."""
    fixed = sum(4 if isinstance(p, Ptr) else len(p) for p in parts)
    head, tail = b"", b""
    for p in parts:
        if isinstance(p, Ptr):
            head += struct.pack("<I", fixed + len(tail))
            tail += p.blob
        else:
            head += p
    return head + tail


def bitmap32(w, h, image_id=1, flags=0):
    return descriptor(BITMAP, w, h, image_id, flags) + struct.pack("<BBIIII", 8, 4, w, h, 4 * w, 0) + \
        bytes((i * 37) & 0xff for i in range(4 * w * h))


def bitmap1(w, h, image_id=2):
    stride = (w + 7) // 8
    return descriptor(BITMAP, w, h, image_id) + struct.pack("<BBIIII", 2, 4, w, h, stride, 0) + \
        bytes((0xaa if i % 2 else 0x55) for i in range(stride * h))


def bitmap8_pal(w, h, image_id, pal_flags, pal_id, pal=None):
    """An 8-bit BITMAP image whose palette is sent (pal) or named (PAL_FROM_CACHE)."""
    hdr = descriptor(BITMAP, w, h, image_id) + struct.pack("<BBIII", 5, 4 | pal_flags, w, h, w)
    px = bytes(i % 4 for i in range(w * h))
    if pal is None:
        return hdr + struct.pack("<Q", pal_id) + px
    return hdr, px, struct.pack("<QH", pal_id, len(pal)) + struct.pack("<%dI" % len(pal), *pal)


def mask(blob=None, flags=0, pos=(0, 0)):
    return [struct.pack("<Bii", flags, *pos), Ptr(blob) if blob else struct.pack("<I", 0)]


def solid(color):
    return struct.pack("<BI", 1, color)


def pattern(blob, pos=(0, 0)):
    return [b"\x02", Ptr(blob), struct.pack("<ii", *pos)]


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
    # Every draw op with pattern brushes, masks, a styled path and glyphs.
    box = (0, 0, 16, 16)
    ops = msg(FILL, layout(base(box=box), *pattern(bitmap32(4, 4, 20), (1, 2)),
                           struct.pack("<H", 8), *mask(bitmap1(16, 16), 1, (0, 1))))
    ops += msg(OPAQUE, layout(base(box=box), Ptr(bitmap32(16, 16, 21)), rect(0, 0, 16, 16),
                              *pattern(bitmap32(2, 2, 22)), struct.pack("<HB", 0x10, 1), *mask()))
    ops += msg(BLEND, layout(base(box=box), Ptr(bitmap32(16, 16, 23)), rect(0, 0, 16, 16),
                             struct.pack("<HB", 0x40, 0), *mask(bitmap1(16, 16))))
    ops += msg(WHITENESS, layout(base(box=box), *mask(bitmap1(8, 8), 0, (2, 2))))
    ops += msg(ROP3, layout(base(box=box), Ptr(bitmap32(16, 16, 24)), rect(0, 0, 16, 16),
                            solid(0xff00ff), struct.pack("<BB", 0xca, 1), *mask()))
    path = struct.pack("<I", 2) + struct.pack("<BI", 1, 3) + struct.pack("<6i", 16, 16, 160, 16, 160, 160) + \
        struct.pack("<BI", 2 | 8, 2) + struct.pack("<4i", 32, 200, 240, 240)
    ops += msg(STROKE, layout(base(box=box), Ptr(path), struct.pack("<BB", 8 | 4, 2),
                              Ptr(struct.pack("<2i", 32, 16)), solid(0xffffff), struct.pack("<HH", 8, 8)))
    glyphs = struct.pack("<H", 2) + struct.pack("<B", 4 | 8)
    for g in range(2):
        glyphs += struct.pack("<iiiiHH", 2 + 6 * g, 12, 0, -8, 5, 8) + bytes((i * 29) & 0xff for i in range(40))
    ops += msg(TEXT, layout(base(box=box), Ptr(glyphs), rect(0, 0, 16, 16), solid(0xff000000),
                            solid(0xffffffff), struct.pack("<HH", 8, 8)))
    a1 = struct.pack("<H", 1) + struct.pack("<B", 1) + struct.pack("<iiiiHH", 3, 3, 0, 0, 9, 3) + b"\xff\x80" * 3
    ops += msg(TEXT, layout(base(box=box), Ptr(a1), rect(0, 0, 0, 0), *pattern(bitmap32(2, 2, 25)),
                            b"\x00", struct.pack("<HH", 8, 0)))
    ops += msg(TRANSPARENT, layout(base(box=box), Ptr(bitmap32(16, 16, 26)), rect(0, 0, 16, 16),
                                   struct.pack("<II", 0, 0)))
    ops += msg(ALPHA_BLEND, layout(base(box=box), struct.pack("<BB", 1, 128), Ptr(bitmap32(16, 16, 27)),
                                   rect(0, 0, 16, 16)))
    seeds["ops"] = head + ops + msg(MARK, b"")
    # The palette cache: kept, served, dropped one by one and all at once.
    pb = base(box=(0, 0, 4, 4))

    def pal_copy(img):
        if isinstance(img, tuple):
            hdr, px, pal = img
            # The palette pointer sits in the bitmap header: lay it out by hand.
            fixed = len(pb) + 4 + 16 + 3 + 13
            pal_at = fixed + len(hdr) + 4 + len(px)
            img = hdr + struct.pack("<I", pal_at) + px + pal
        return msg(COPY, layout(pb, Ptr(img), rect(0, 0, 4, 4), struct.pack("<HB", 8, 0), *mask()))
    pals = pal_copy(bitmap8_pal(4, 4, 30, 1, 0x51, [0xff0000, 0xff00, 0xff, 0xffffff]))
    pals += pal_copy(bitmap8_pal(4, 4, 31, 2, 0x51))
    pals += msg(INVAL_PALETTE, struct.pack("<Q", 0x51)) + pal_copy(bitmap8_pal(4, 4, 32, 2, 0x51))
    pals += pal_copy(bitmap8_pal(4, 4, 33, 1, 0x52, [1, 2, 3, 4]))
    pals += msg(INVAL_ALL_PALETTES, b"") + pal_copy(bitmap8_pal(4, 4, 34, 2, 0x52))
    pals += msg(INVAL_LIST, struct.pack("<H", 2) + struct.pack("<BQ", 1, 5) + struct.pack("<BQ", 1, 30))
    seeds["palette_cache"] = head + pals + msg(MARK, b"")
    # LZ_PLT palettes: sent inline and kept (PAL_CACHE_ME), named from the
    # cache (PAL_FROM_CACHE), dropped (INVAL_PALETTE), then named again: that
    # last draw must be skipped with the channel still up.
    lb = base(box=(0, 0, 5, 7))

    def lz_plt_copy(image_id, pal_flags, pal_id, pal=None):
        fixed = len(lb) + 4 + 16 + 3 + 13
        img = descriptor(LZ_PLT, 7, 5, image_id) + struct.pack("<BI", 4 | pal_flags, len(plt))
        if pal is None:
            img += struct.pack("<Q", pal_id) + plt
        else:
            img += struct.pack("<I", fixed + len(img) + 4 + len(plt)) + plt + \
                struct.pack("<QH", pal_id, len(pal)) + struct.pack("<%dI" % len(pal), *pal)
        return msg(COPY, lb + struct.pack("<I", fixed) + rect(0, 0, 5, 7) + struct.pack("<HB", 8, 0) +
                   NO_MASK + img)
    lz_cache_me = lz_plt_copy(40, 1, 0x61, [0x123456, 0xabcdef, 0x00ff00])
    lz_from_cache = lz_plt_copy(41, 2, 0x61)
    inval = msg(INVAL_PALETTE, struct.pack("<Q", 0x61))
    seeds["lz_plt_palette_cache"] = head + lz_cache_me + lz_from_cache + inval + \
        lz_plt_copy(42, 2, 0x61) + msg(MARK, b"")
    parse_seeds = {"lz_plt_pal_cache_me": lz_cache_me, "lz_plt_pal_from_cache": lz_from_cache,
                   "inval_palette": inval}
    # Video streams: created, fed, clipped, destroyed; data for unknown ids.
    st = msg(STREAM_DATA, struct.pack("<III", 9, 0, 3) + b"\xff\xd8\xff")
    st += msg(STREAM_CREATE, struct.pack("<IIBBQIIII", 0, 9, 1, 1, 0, 32, 32, 32, 32) + rect(0, 0, 32, 32) +
              struct.pack("<BI", 1, 1) + rect(0, 0, 16, 16))
    st += msg(STREAM_DATA, struct.pack("<III", 9, 100, 3) + b"\xff\xd8\xff")
    st += msg(STREAM_DATA_SIZED, struct.pack("<IIII", 9, 140, 16, 16) + rect(0, 0, 16, 16) +
              struct.pack("<I", 2) + b"\xff\xd8")
    st += msg(STREAM_CLIP, struct.pack("<IB", 9, 0)) + msg(STREAM_ACTIVATE_REPORT, struct.pack("<IIII", 9, 1, 30, 500))
    st += msg(STREAM_DESTROY, struct.pack("<I", 9)) + msg(STREAM_DATA, struct.pack("<III", 9, 0, 0))
    st += msg(STREAM_DESTROY_ALL, b"")
    seeds["streams"] = head + st + msg(MARK, b"")
    # Two display channels, each with heads.
    heads = struct.pack("<HH", 2, 4) + struct.pack("<7I", 0, 0, 32, 48, 0, 0, 0) + \
        struct.pack("<7I", 1, 0, 32, 48, 32, 0, 0)
    two = head + msg(MONITORS, heads) + struct.pack("<HI", SURFACE_CREATE | CHANNEL1, 20) + \
        struct.pack("<IIIII", 0, 32, 32, 32, 1) + struct.pack("<HI", FILL | CHANNEL1, len(fill) - 6) + fill[6:]
    seeds["two_channels"] = two + msg(MARK, b"")
    for name, blob in seeds.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(blob)
    if len(sys.argv) > 3:
        parse_out = sys.argv[3]
        os.makedirs(parse_out, exist_ok=True)
        for name, m in parse_seeds.items():
            # {u16 type; u32 size; body} -> {u16 type; body}
            with open(os.path.join(parse_out, "seed-" + name), "wb") as f:
                f.write(m[:2] + m[6:])


if __name__ == "__main__":
    main()
