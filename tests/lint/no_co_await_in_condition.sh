#!/usr/bin/env bash
# GCC 12.2 (Debian 12's compiler) miscompiles a co_await inside an if/while
# condition when the coroutine declares no local before it: the body is
# skipped and the coroutine never completes, so its awaiter hangs. Clang is
# fine. Until GCC 12.3+ is the floor, bind the result first:
#     auto r = co_await op;  if (!r) ...
# This check keeps the pattern out of the tree (comments excepted).
set -euo pipefail
root=${1:?usage: $0 SOURCE_ROOT}
cd "$root"
hits=$(grep -rnE '^[^/]*\b(if|while) *\(!? *\(?co_await\b' \
  --include='*.cpp' --include='*.hpp' src include tests examples tools bench || true)
if [[ -n $hits ]]; then
  echo "co_await inside an if/while condition (GCC 12.2 miscompiles it; bind the result first):"
  echo "$hits"
  exit 1
fi
echo "no co_await in if/while conditions"
