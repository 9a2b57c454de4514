#!/bin/sh
# install-deps.sh: install every Debian 12 package Clove needs to build and
# test. Idempotent: when everything is present it only runs dpkg-query and
# exits quietly; otherwise it runs apt-get update + install once.
#
# The list below is the single source of truth for the project's packages
# (README cites it). Format: "package  reason"; lines starting with '?' are
# optional (installed if available, never fatal).
set -eu

PACKAGES='
build-essential             gcc, make, libc headers: the default compiler
meson                       build system
ninja-build                 build backend used by meson
pkg-config                  locates spice-server, spice-protocol, openssl, glib
clang                       ASan+UBSan build and libFuzzer targets (make check, make fuzz)
libclang-rt-14-dev          clang sanitizer and libFuzzer runtimes
libspice-server-dev         <spice.h> ABI headers we implement; reference library for interop
libspice-protocol-dev       <spice/*.h> wire constants and layouts
libglib2.0-dev              glib headers pulled by spice-server.pc (not a dependency of -dev)
libssl-dev                  libcrypto: RSA ticket keys, OAEP
libpixman-1-dev             pixman headers referenced by spice-server.pc
zlib1g-dev                  zlib: ZLIB_GLZ image compression (deflate over GLZ)
liblz4-dev                  liblz4: LZ4 image compression
libturbojpeg0-dev           libjpeg-turbo (TurboJPEG API, errors without longjmp): JPEG and JPEG_ALPHA
libzstd-dev                 zstd: a yardstick in the codec benchmark only
libpng-dev                  libpng: clove-shot writes PNG; the codec benchmark reads the reference PNG images
liblzma-dev                 xz: the stored QUIC test vector is xz-compressed
spice-client-gtk            spicy and spicy-screenshot: the real client for interop tests
virt-viewer                 remote-viewer: GUI client test under Xvfb
gir1.2-spiceclientglib-2.0  SpiceClientGLib typelib for the scripted input client
python3-gi                  PyGObject for the scripted client (/usr/bin/python3)
python3-cryptography        RSA-OAEP ticket encryption in tests/interop/spice_link.py
xvfb                        headless X server for remote-viewer
x11-apps                    xwd: root-window screenshots
x11-utils                   xdpyinfo/xwininfo: wait for Xvfb, inspect windows
imagemagick                 convert: xwd -> PPM
qemu-system-x86             ABI check: real QEMU loads our libspice-server.so.1
xserver-xspice              ABI check: Xspice loads our libspice-server.so.1
busybox-static              QEMU interop: the one binary in the guest initramfs
linux-image-amd64           QEMU interop: guest kernel (/boot/vmlinuz-*) and qxl DRM modules
cpio                        QEMU interop: packs the guest initramfs
xterm                       Xspice interop: the terminal typed into
x11-xserver-utils           Xspice interop: xsetroot paints the root window
?tshark                     optional protocol oracle for debugging
openssl                     TLS interop: the openssl CLI makes a throwaway CA and server certificate
spice-html5                 websocket interop: the browser client, served from /usr/share/spice-html5
chromium                    websocket interop: headless browser running spice-html5 (driven over CDP)
libsasl2-dev                SASL authentication (cyrus-sasl) in the link stage
sasl2-bin                   SASL tests: saslpasswd2 creates a sasldb user
libsasl2-modules            SASL tests: the PLAIN / DIGEST-MD5 / SCRAM mechanisms
libsdl2-dev                 clove-view: the viewer window, renderer, keyboard and mouse (SDL2)
xdotool                     clove-view interop test: types keys and clicks into the viewer under Xvfb
'

required=$(printf '%s\n' "$PACKAGES" | awk 'NF && $1 !~ /^\?/ {print $1}')
optional=$(printf '%s\n' "$PACKAGES" | awk 'NF && $1 ~ /^\?/ {print substr($1, 2)}')

if [ "${1:-}" = "--list" ]; then
    printf '%s\n' "$PACKAGES" | awk 'NF'
    exit 0
fi

# Prints the packages of "$@" that are not fully installed.
missing_of() {
    for p in "$@"; do
        s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
        [ "$s" = installed ] || printf '%s\n' "$p"
    done
}

# shellcheck disable=SC2086
need=$(missing_of $required)
# shellcheck disable=SC2086
want=$(missing_of $optional)
[ -z "$need" ] && [ -z "$want" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=
else
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing:" $need $want >&2
$SUDO apt-get update -qq
if [ -n "$need" ]; then
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
for p in $want; do
    # Optional: a failure here (e.g. tshark's debconf question) is not fatal.
    $SUDO apt-get install -y -qq --no-install-recommends "$p" >/dev/null ||
        echo "install-deps: optional package $p not installed" >&2
done
# shellcheck disable=SC2086
still=$(missing_of $required)
if [ -n "$still" ]; then
    echo "install-deps: failed to install:" $still >&2
    exit 1
fi
