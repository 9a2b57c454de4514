#!/usr/bin/env python3
"""The client programs built with the lazy OpenSSL stubs (src/lazyload) must
not need libssl or libcrypto at start-up: a NEEDED entry for either means a
program calls an OpenSSL function missing from src/lazyload/openssl.syms
(then `nm -D --undefined-only PROGRAM` shows which). TAP output.

usage: check_needed.py PROGRAM..."""

import subprocess
import sys


def main():
    progs = sys.argv[1:]
    print("1..%d" % len(progs))
    failed = 0
    for i, prog in enumerate(progs, 1):
        out = subprocess.run(["readelf", "-d", prog], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT).stdout.decode("utf-8", "replace")
        needed = [line.split("[")[-1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]
        bad = [n for n in needed if n.startswith("libssl.") or n.startswith("libcrypto.")]
        if bad or not needed:
            failed += 1
            print("not ok %d - %s needs %s (add its OpenSSL calls to src/lazyload/openssl.syms)"
                  % (i, prog, ", ".join(bad) or "nothing readelf could read"))
        else:
            print("ok %d - %s: NEEDED %s" % (i, prog, " ".join(needed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
