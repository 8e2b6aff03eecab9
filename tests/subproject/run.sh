#!/usr/bin/env bash
# Builds and runs consumer/ -- a project that pulls ringlet in as a Meson
# subproject -- in a temporary directory, with subprojects/ringlet a symlink to
# the ringlet tree:
#
#   tests/subproject/run.sh /path/to/ringlet     # also `meson test subproject-consumer`
#
# The consumer disables ringlet's tests, so this never runs itself recursively.
# Its own sources, README snippets included, build with -Wextra -Werror with
# the compiler $CXX names (tools/test: GCC 12; SANITIZE=1 CXX=clang++: Clang 14).
set -euo pipefail
ringlet=$(realpath "${1:?usage: run.sh <ringlet source tree>}")
here=$(dirname "$(realpath "$0")")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$here/consumer" "$tmp/consumer"
mkdir "$tmp/consumer/subprojects"
ln -s "$ringlet" "$tmp/consumer/subprojects/ringlet"
cd "$tmp/consumer"

# --force-fallback-for: an installed ringlet.pc must not stand in for the subproject.
meson setup build --force-fallback-for=ringlet \
  -Dringlet:tests=false -Dringlet:benchmarks=false -Dringlet:examples=false \
  -Dringlet:wolfssl=system   # the tuned wolfSSL build is not what this checks
meson compile -C build
status=0
out=$(build/consumer) || status=$?
echo "$out"
expected=$'result: 42\ntimed_out: timed out\nreadme: 0'
if ((status != 0)) || [[ $out != "$expected" ]]; then
  printf 'FAIL: consumer exited %d; expected output:\n%s\n' "$status" "$expected" >&2
  exit 1
fi
echo "PASS: dependency('ringlet') from subprojects/ringlet builds, links and runs"
