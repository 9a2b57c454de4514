#!/bin/sh
# clove-demo self-test with Debian's SPICE clients (TAP output).
#
# usage: selftest.sh DEMO_BINARY [ours|system]
#   ours    run on whatever libspice-server.so.1 the binary finds (its RUNPATH:
#           the build tree's library)
#   system  force Debian's reference library with LD_LIBRARY_PATH
#
# Checks: --frame-out is deterministic with --no-animation; spicy-screenshot's
# capture equals --frame-out byte for byte under every image compression;
# keys typed and clicks made through a spice-gtk client (gi_input.py) reach
# the desktop and the next capture equals the next frame; server mouse mode
# (--no-tablet) works; --seconds and SIGTERM exit cleanly.
# Needs: spice-client-gtk (spicy-screenshot), gir1.2-spiceclientglib-2.0, python3-gi.
set -u

DEMO=$1
LIB=${2:-ours}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

if ! command -v spicy-screenshot >/dev/null 2>&1 || [ ! -x "$PY" ]; then
    echo "1..0 # SKIP spicy-screenshot or /usr/bin/python3 missing"
    exit 0
fi
if [ "$LIB" = system ]; then
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu
    export LD_LIBRARY_PATH
    # Debian's library keeps the keyboard and mouse state blocks until exit.
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
    export ASAN_OPTIONS
fi

TMP=$(mktemp -d /tmp/clove-demo-selftest.XXXXXX)
PID=
N=0
FAILED=0

cleanup() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() {
    N=$((N + 1))
    echo "ok $N - $1"
}

not_ok() {
    N=$((N + 1))
    FAILED=$((FAILED + 1))
    echo "not ok $N - $1"
    for f in "$TMP/out" "$TMP/err"; do
        [ -f "$f" ] && sed 's/^/# /' "$f" | tail -20
    done
}

check() {
    desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_demo FRAME_PATH [options...]: starts the demo and waits for its listening line.
start_demo() {
    frame=$1
    shift
    PORT=$(free_port)
    rm -f "$frame"
    "$DEMO" --port "$PORT" --frame-out "$frame" "$@" >"$TMP/out" 2>"$TMP/err" &
    PID=$!
    i=0
    while [ $i -lt 100 ]; do
        grep -q "^clove-demo: listening on 127.0.0.1:$PORT\$" "$TMP/out" 2>/dev/null && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# stop_demo: SIGTERM, returns the demo's exit status.
stop_demo() {
    kill -TERM "$PID" 2>/dev/null
    wait "$PID"
    rc=$?
    PID=
    return $rc
}

capture() {
    timeout 20 spicy-screenshot -h 127.0.0.1 -p "$PORT" -o "$1" >/dev/null 2>&1
}

# 1. Deterministic frames.
start_demo "$TMP/a.ppm" --no-animation && stop_demo
start_demo "$TMP/b.ppm" --no-animation && stop_demo
check "two --no-animation runs give identical frames" cmp -s "$TMP/a.ppm" "$TMP/b.ppm"
check "frame is a 1024x768 P6 PPM" sh -c "head -c 15 '$TMP/a.ppm' | grep -q '1024 768'"

# 2. Capture equals --frame-out under every image compression.
for mode in off auto_glz auto_lz quic glz lz lz4; do
    if start_demo "$TMP/f.ppm" --no-animation --image-compression "$mode" &&
        capture "$TMP/s.ppm"; then
        check "capture equals frame, compression $mode" cmp -s "$TMP/s.ppm" "$TMP/f.ppm"
    else
        not_ok "capture with compression $mode"
    fi
    stop_demo
done

# Every bitmap layout on its own (the server must render each exactly).
for layout in 32td 32bu 32pad 24td 24bu 16 pal8 pal1be; do
    if start_demo "$TMP/f.ppm" --no-animation --bitmap-layout "$layout" &&
        capture "$TMP/s.ppm"; then
        check "capture equals frame, bitmap layout $layout" cmp -s "$TMP/s.ppm" "$TMP/f.ppm"
    else
        not_ok "capture with bitmap layout $layout"
    fi
    stop_demo || not_ok "exit status with bitmap layout $layout"
done

# Sizes that are not multiples of the renderer's 64x16 tiles.
for size in "801 599" "333 257"; do
    set -- $size
    if start_demo "$TMP/f.ppm" --no-animation --width "$1" --height "$2" &&
        capture "$TMP/s.ppm"; then
        check "capture equals frame at $1x$2" cmp -s "$TMP/s.ppm" "$TMP/f.ppm"
    else
        not_ok "capture at $1x$2"
    fi
    stop_demo
done

# 3. Keys and clicks through a real client, client mouse mode (tablet).
if start_demo "$TMP/f.ppm" --no-animation --verbose; then
    cp "$TMP/f.ppm" "$TMP/before.ppm"
    "$PY" "$HERE/gi_input.py" 127.0.0.1 "$PORT" "+2a,23,-2a,17,1c,11c" "100:300:1,700:600:3" \
        >/dev/null 2>&1
    check "gi client sent the input" test $? -eq 0
    sleep 0.3
    check "key press logged" grep -q '^clove-demo: input key=0x23$' "$TMP/out"
    check "key release logged" grep -q '^clove-demo: input key=0xa3$' "$TMP/out"
    check "extended key logged" grep -q '^clove-demo: input key=0xe01c$' "$TMP/out"
    check "left click logged" grep -q '^clove-demo: input click x=100 y=300 button=left$' "$TMP/out"
    check "right click logged" grep -q '^clove-demo: input click x=700 y=600 button=right$' "$TMP/out"
    check "frame changed after input" sh -c "! cmp -s '$TMP/before.ppm' '$TMP/f.ppm'"
    capture "$TMP/s.ppm"
    check "capture after input equals frame" cmp -s "$TMP/s.ppm" "$TMP/f.ppm"
    stop_demo
    check "SIGTERM exits with status 0" test $? -eq 0
else
    not_ok "start demo for input test"
fi

# 4. Server mouse mode: relative motion from the centre.
if start_demo "$TMP/f.ppm" --no-animation --verbose --no-tablet; then
    "$PY" "$HERE/gi_input.py" 127.0.0.1 "$PORT" "" "m-100:-50:1" >/dev/null 2>&1
    sleep 0.3
    check "server-mode click logged" grep -q '^clove-demo: input click x=412 y=334 button=left$' "$TMP/out"
    capture "$TMP/s.ppm"
    check "server-mode capture equals frame" cmp -s "$TMP/s.ppm" "$TMP/f.ppm"
    stop_demo
else
    not_ok "start demo for server mouse test"
fi

# 5. --seconds exits by itself, cleanly, with animation on.
if start_demo "$TMP/f.ppm" --seconds 1; then
    wait "$PID"
    check "--seconds exits with status 0" test $? -eq 0
    PID=
else
    not_ok "start demo for --seconds test"
fi

echo "1..$N"
[ $FAILED -eq 0 ]
