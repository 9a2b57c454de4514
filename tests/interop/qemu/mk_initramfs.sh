#!/bin/sh
# mk_initramfs.sh: build the tiny guest used by the QEMU interop tests.
#
# usage: mk_initramfs.sh OUT.cpio.gz [--drm] [--kver VERSION]
#
# The result is a gzip'ed newc cpio holding Debian's busybox-static and an
# /init that
#   1. mounts proc, sysfs and devtmpfs,
#   2. (--drm only) insmods the qxl DRM driver and its dependencies, taken
#      from /lib/modules/VERSION by walking modules.dep, so the guest's own
#      qxl driver drives the device and fbcon draws through QXL commands,
#   3. hides the console cursor, clears tty1 and prints a fixed banner,
#   4. writes CLOVE-GUEST-READY to ttyS0 (the test waits for this line),
#   5. runs an interactive busybox sh on tty1 with a fixed prompt, so keys
#      typed through a SPICE client reach it; every prompt also writes
#      CLOVE-PROMPT to ttyS0.
# Everything on screen is deterministic (no clock, no kernel messages: the
# console log level is dropped to 1 before the banner).
#
# The image is built at test time into a temporary directory; nothing of it
# is committed. Needs: busybox-static, cpio, gzip (and kmod's modules.dep
# for --drm, which linux-image-amd64 provides).
set -eu

usage() {
    echo "usage: $0 OUT.cpio.gz [--drm] [--kver VERSION]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
out=$1
shift
drm=0
kver=
while [ $# -gt 0 ]; do
    case $1 in
    --drm) drm=1 ;;
    --kver)
        [ $# -ge 2 ] || usage
        kver=$2
        shift
        ;;
    *) usage ;;
    esac
    shift
done

busybox=/bin/busybox
if ! "$busybox" --list >/dev/null 2>&1; then
    echo "mk_initramfs: $busybox missing (install busybox-static)" >&2
    exit 77
fi
command -v cpio >/dev/null || {
    echo "mk_initramfs: cpio missing" >&2
    exit 77
}

stage=$(mktemp -d "${TMPDIR:-/tmp}/clove-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM
mkdir -p "$stage/bin" "$stage/sbin" "$stage/proc" "$stage/sys" "$stage/dev" \
    "$stage/tmp" "$stage/root" "$stage/lib/modules"
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
done

# --drm: the qxl module and everything it needs, in load order (a module
# is listed after all of its dependencies).
modlist=
if [ "$drm" = 1 ]; then
    [ -n "$kver" ] || kver=$(ls /lib/modules | sort -V | tail -n 1)
    moddir=/lib/modules/$kver
    dep=$moddir/modules.dep
    [ -r "$dep" ] || {
        echo "mk_initramfs: $dep not found (install linux-image-amd64)" >&2
        exit 77
    }
    qxl=$(awk -F: '$1 ~ /\/qxl\.ko(\.[a-z]+)?$/ {print $1; exit}' "$dep")
    [ -n "$qxl" ] || {
        echo "mk_initramfs: no qxl module in $dep" >&2
        exit 77
    }
    # Depth-first post-order walk over modules.dep.
    visit() {
        case " $modlist " in *" $1 "*) return 0 ;; esac
        for d in $(awk -F: -v m="$1" '$1 == m {print $2; exit}' "$dep"); do
            visit "$d"
        done
        case " $modlist " in *" $1 "*) ;; *) modlist="$modlist $1" ;; esac
    }
    visit "$qxl"
    for m in $modlist; do
        name=$(basename "$m")
        case $name in
        *.ko) cp "$moddir/$m" "$stage/lib/modules/$name" ;;
        *.ko.xz) xz -dc "$moddir/$m" >"$stage/lib/modules/${name%.xz}" ;;
        *.ko.zst) zstd -dc "$moddir/$m" >"$stage/lib/modules/${name%.zst}" ;;
        *.ko.gz) gzip -dc "$moddir/$m" >"$stage/lib/modules/${name%.gz}" ;;
        *)
            echo "mk_initramfs: unknown module format $name" >&2
            exit 1
            ;;
        esac
    done
fi
loads=
for m in $modlist; do
    name=$(basename "$m")
    loads="$loads ${name%.ko*}.ko"
done

# The interactive shell's rc file: each prompt also writes CLOVE-PROMPT to
# ttyS0, so the test knows when a typed command has finished.
mkdir -p "$stage/etc"
cat >"$stage/etc/shrc" <<'EOF'
PS1='$(echo CLOVE-PROMPT >/dev/ttyS0)clove# '
EOF

cat >"$stage/init" <<EOF
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Nothing but our own text on the console from here on.
dmesg -n 1
for m in$loads; do
    insmod /lib/modules/\$m || echo "CLOVE-GUEST-INSMOD-FAILED \$m" >/dev/ttyS0
done
[ -e /sys/class/graphics/fbcon/cursor_blink ] &&
    echo 0 >/sys/class/graphics/fbcon/cursor_blink
# Let a DRM driver take over the console before we draw on it.
[ -n "$loads" ] && sleep 1
# Hide the cursor, home, clear; then the banner.
printf '\033[?25l\033[H\033[2J' >/dev/tty1
i=1
while [ \$i -le 3 ]; do
    echo "==== CLOVE INTEROP GUEST (\$i) ====" >/dev/tty1
    i=\$((i + 1))
done
echo "fb: \$(cat /proc/fb 2>/dev/null | tr '\n' ' ')" >/dev/tty1
echo "CLOVE-GUEST-FB \$(cat /proc/fb 2>/dev/null | tr '\n' ' ')" >/dev/ttyS0
echo "CLOVE-GUEST-READY" >/dev/ttyS0
# An interactive shell on tty1 with tty1 as its controlling terminal.
export ENV=/etc/shrc HOME=/root TERM=linux
cd /root
while true; do
    setsid sh -c 'exec sh -i </dev/tty1 >/dev/tty1 2>&1'
done
EOF
chmod 755 "$stage/init"

(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -9 >"$out.tmp"
mv "$out.tmp" "$out"
echo "mk_initramfs: wrote $out ($(wc -c <"$out") bytes${modlist:+, modules:$loads})"
