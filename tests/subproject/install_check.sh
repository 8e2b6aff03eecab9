#!/usr/bin/env bash
# Installs ringlet into a temporary DESTDIR and checks what a user gets: the
# public headers (free of liburing/wolfSSL includes), the library, ringlet.pc,
# and a program built from nothing but `pkg-config --cflags --libs ringlet`.
#
#   tests/subproject/install_check.sh /path/to/ringlet   # also `meson test install`
set -euo pipefail
ringlet=$(realpath "${1:?usage: install_check.sh <ringlet source tree>}")
here=$(dirname "$(realpath "$0")")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Not /usr: pkg-config hides -I/usr/include, and the check wants to see the path.
prefix=/opt/ringlet
meson setup "$tmp/build" "$ringlet" --prefix="$prefix" \
  -Dtests=false -Dbenchmarks=false -Dexamples=false \
  -Dwolfssl=system   # the tuned wolfSSL build is not what this checks
meson compile -C "$tmp/build"
meson install -C "$tmp/build" --destdir "$tmp/dest" --no-rebuild --quiet
root=$tmp/dest$prefix

[[ -f $root/include/ringlet/core/result.hpp ]] || fail "headers not installed under $prefix/include/ringlet"
if grep -rlE '^\s*#\s*include\s*[<"](liburing|wolfssl)' "$root/include"; then
  fail "public headers above include liburing or wolfSSL"
fi
lib=$(find "$root" -name 'libringlet.so' -o -name 'libringlet.a' | head -n1)
[[ -n $lib ]] || fail "libringlet not installed"
pc=$(find "$root" -name ringlet.pc | head -n1)
[[ -n $pc ]] || fail "ringlet.pc not installed"

export PKG_CONFIG_PATH=${pc%/*} PKG_CONFIG_SYSROOT_DIR=$tmp/dest
cflags=$(pkg-config --cflags ringlet) || fail "pkg-config --cflags ringlet"
libs=$(pkg-config --libs ringlet) || fail "pkg-config --libs ringlet"
[[ $cflags == *"-I$root/include"* ]] || fail "cflags '$cflags' lack -I$root/include"
[[ $libs == *"-L${lib%/*}"* && $libs == *-lringlet* ]] || fail "libs '$libs' lack -L${lib%/*} -lringlet"
echo "installed: ${lib#"$tmp/dest"}, ${pc#"$tmp/dest"}; cflags: $cflags; libs: $libs"

# shellcheck disable=SC2086  # pkg-config output is a list of words
${CXX:-c++} -std=c++20 -Wall -Wextra -Werror "$here/consumer/main.cpp" "$here/consumer/readme.cpp" $cflags $libs -o "$tmp/consumer"
out=$(LD_LIBRARY_PATH=${lib%/*} "$tmp/consumer") || fail "consumer built from pkg-config flags failed: $out"
[[ $out == $'result: 42\ntimed_out: timed out\nreadme: 0' ]] || fail "consumer printed: $out"
echo "PASS: install has headers, library and ringlet.pc; a program builds from pkg-config and runs"
