#!/usr/bin/env bash
# The backend seam (DESIGN.md): net/, tls/, http/ and resp/ name no io_uring
# type, flag, opcode or user_data, so a second backend can carry every
# operation. Everything that touches the kernel's submission interface is an
# operation family in src/core/ops/ behind core/backend.hpp.
set -euo pipefail
root=${1:?usage: seam_names.sh <source root>}
cd "$root"
if hits=$(grep -rnE 'io_uring|IORING|IOSQE|sqe|user_data|liburing' src/net src/tls src/http src/resp); then
  echo "seam_names: io_uring names outside src/core:" >&2
  echo "$hits" >&2
  exit 1
fi
echo "seam_names: src/net, src/tls, src/http, src/resp name no io_uring type, flag or user_data"
