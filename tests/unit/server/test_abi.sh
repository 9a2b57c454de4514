#!/bin/bash
# ABI check of our libspice-server.so.1 against the system library (TAP).
#
# Usage: test_abi.sh OUR_LIB
#
# OUR_LIB is the built library (libspice-server.so.1 or the versioned file it
# links to). The script builds nothing; it compares ELF metadata read with
# objdump and readelf:
#
#   1. the reference files exist (the system library, QEMU's SPICE modules and
#      Xspice's driver: packages libspice-server1, qemu-system-x86 and
#      xserver-xspice; a missing one is a failure, not a skip, because
#      scripts install them);
#   2. the same SONAME;
#   3. the same version definitions with the same parent chain;
#   4. the same set of exported (version, symbol) pairs: nothing missing,
#      nothing extra (everything else must be local);
#   5. our library does not depend on any libspice-server (we must never pull
#      in the system one);
#   6. every SPICE_SERVER_* symbol imported by each QEMU module and by Xspice
#      resolves in ours with the same version.
#
# Environment overrides (for other distributions or architectures):
#   CLOVE_ABI_REF_LIB   system library (default: multiarch libdir)
#   CLOVE_ABI_QEMU_DIR  QEMU module directory
#   CLOVE_ABI_XSPICE    Xspice driver
set -u
export LC_ALL=C

if [ $# -ne 1 ]; then
    echo "usage: $0 PATH/TO/libspice-server.so.1" >&2
    exit 2
fi
ours=$1

multiarch=$(cc -print-multiarch 2>/dev/null || true)
[ -n "$multiarch" ] || multiarch=x86_64-linux-gnu
ref_lib=${CLOVE_ABI_REF_LIB:-/usr/lib/$multiarch/libspice-server.so.1}
qemu_dir=${CLOVE_ABI_QEMU_DIR:-/usr/lib/$multiarch/qemu}
xspice=${CLOVE_ABI_XSPICE:-/usr/lib/xorg/modules/drivers/spiceqxl_drv.so}
qemu_required="ui-spice-core.so hw-display-qxl.so audio-spice.so chardev-spice.so"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clove-abi.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0

ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}

not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
}

# Prints a file indented as TAP diagnostics.
diag_file() {
    sed 's/^/#   /' "$1"
}

# Defined dynamic symbols as "VERSION NAME" lines, sorted. VERSION is as
# objdump prints it: "SPICE_SERVER_0.6.0" for a default version,
# "(SPICE_SERVER_0.6.0)" for a hidden one, "(none)" when unversioned. Version
# definition symbols (SPICE_SERVER_x SPICE_SERVER_x, *ABS*) are included.
defined_symbols() {
    objdump -T "$1" | awk -F'\t' '
        /^[0-9a-f]+ / {
            n = split($1, head, " ")
            if (head[n] == "*UND*") next
            m = split($2, tail, " ")
            version = (m >= 3) ? tail[2] : "(none)"
            print version, tail[m]
        }' | sort -u
}

# Imported SPICE_SERVER_* symbols as "VERSION NAME" lines (version without
# the parentheses objdump puts around needed versions), sorted.
spice_imports() {
    objdump -T "$1" | awk -F'\t' '
        /^[0-9a-f]+ / {
            n = split($1, head, " ")
            if (head[n] != "*UND*") next
            m = split($2, tail, " ")
            if (m < 3) next
            version = tail[2]
            gsub(/[()]/, "", version)
            if (version ~ /^SPICE_SERVER_/) print version, tail[m]
        }' | sort -u
}

# Version definitions as "NAME <- PARENT" lines (or "NAME" for a root), in
# file order. The BASE entry (named after the SONAME) is left out: the SONAME
# has its own check.
version_chain() {
    readelf -V "$1" | awk '
        /^Version definition section/ { in_def = 1; next }
        /^Version (needs|symbols) section/ { in_def = 0 }
        !in_def { next }
        /Name:/ {
            if (cur != "") print cur
            cur = $NF
            base = ($0 ~ /Flags: BASE/)
            if (base) cur = ""
            next
        }
        /Parent 1:/ { if (cur != "") { print cur " <- " $NF; cur = "" } }
        END { if (cur != "") print cur }'
}

soname() {
    readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'
}

# ---- 1. the files exist ----------------------------------------------------

consumers=()
missing=()
[ -r "$ours" ] || missing+=("$ours (our library: build it first)")
[ -r "$ref_lib" ] || missing+=("$ref_lib (package libspice-server1)")
for m in $qemu_required; do
    if [ -r "$qemu_dir/$m" ]; then
        consumers+=("$qemu_dir/$m")
    else
        missing+=("$qemu_dir/$m (package qemu-system-x86)")
    fi
done
# Any other QEMU module that links against libspice-server is checked too.
if [ -d "$qemu_dir" ]; then
    for f in "$qemu_dir"/*.so; do
        [ -r "$f" ] || continue
        case " $qemu_required " in *" ${f##*/} "*) continue ;; esac
        if [ -n "$(spice_imports "$f")" ]; then
            consumers+=("$f")
        fi
    done
fi
if [ -r "$xspice" ]; then
    consumers+=("$xspice")
else
    missing+=("$xspice (package xserver-xspice)")
fi
for tool in objdump readelf; do
    command -v "$tool" >/dev/null || missing+=("$tool (package binutils)")
done

if [ ${#missing[@]} -eq 0 ]; then
    ok "reference files present"
else
    not_ok "reference files present"
    for f in "${missing[@]}"; do
        echo "#   missing: $f"
    done
    echo "1..$n"
    exit 1
fi

# ---- 2. SONAME ---------------------------------------------------------------

ours_soname=$(soname "$ours")
ref_soname=$(soname "$ref_lib")
if [ -n "$ours_soname" ] && [ "$ours_soname" = "$ref_soname" ]; then
    ok "SONAME is $ref_soname"
else
    not_ok "SONAME: ours '${ours_soname}', system '${ref_soname}'"
fi

# ---- 3. version nodes and their parents --------------------------------------

version_chain "$ref_lib" >"$tmp/ref.chain"
version_chain "$ours" >"$tmp/ours.chain"
if [ ! -s "$tmp/ref.chain" ]; then
    not_ok "version definitions: none found in $ref_lib"
elif diff -u "$tmp/ref.chain" "$tmp/ours.chain" >"$tmp/chain.diff"; then
    ok "same $(wc -l <"$tmp/ref.chain") version nodes and inheritance chain"
else
    not_ok "version nodes or inheritance chain differ (- system, + ours)"
    diag_file "$tmp/chain.diff"
fi

# ---- 4. exported symbols ---------------------------------------------------------

defined_symbols "$ref_lib" >"$tmp/ref.syms"
defined_symbols "$ours" >"$tmp/ours.syms"
comm -23 "$tmp/ref.syms" "$tmp/ours.syms" >"$tmp/missing.syms"
comm -13 "$tmp/ref.syms" "$tmp/ours.syms" >"$tmp/extra.syms"

# Version definitions show up as absolute symbols named after their node.
ref_funcs=$(awk '$1 != $2' "$tmp/ref.syms" | wc -l)
ref_nodes=$(awk '$1 == $2' "$tmp/ref.syms" | wc -l)
what="$ref_funcs system exports and $ref_nodes version symbols"
if [ -s "$tmp/missing.syms" ]; then
    not_ok "all $what present ($(wc -l <"$tmp/missing.syms") missing or in another node)"
    diag_file "$tmp/missing.syms"
else
    ok "all $what present with the same version"
fi

if [ -s "$tmp/extra.syms" ]; then
    not_ok "no extra exports ($(wc -l <"$tmp/extra.syms") found; they must be local)"
    diag_file "$tmp/extra.syms"
else
    ok "no extra exports"
fi

# ---- 5. NEEDED -----------------------------------------------------------------

readelf -d "$ours" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$tmp/needed"
if grep -q 'libspice-server' "$tmp/needed"; then
    not_ok "our library does not depend on libspice-server"
    diag_file "$tmp/needed"
else
    ok "our library does not depend on libspice-server"
fi

# ---- 6. imports of QEMU and Xspice resolve -------------------------------------

for c in "${consumers[@]}"; do
    spice_imports "$c" >"$tmp/imports"
    count=$(wc -l <"$tmp/imports")
    if [ "$count" -eq 0 ]; then
        not_ok "${c##*/}: imports no SPICE_SERVER_* symbol (unexpected binary?)"
        continue
    fi
    comm -23 "$tmp/imports" "$tmp/ours.syms" >"$tmp/unresolved"
    if [ -s "$tmp/unresolved" ]; then
        not_ok "${c##*/}: $(wc -l <"$tmp/unresolved") of $count imports unresolved"
        diag_file "$tmp/unresolved"
    else
        ok "${c##*/}: all $count imports resolve"
    fi
done

echo "1..$n"
if [ "$failed" -ne 0 ]; then
    echo "# $failed of $n checks failed"
    exit 1
fi
exit 0
