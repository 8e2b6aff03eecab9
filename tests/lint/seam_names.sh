#!/usr/bin/env bash
# The backend seam (DESIGN.md): net/, tls/, http/ and resp/ name no io_uring
# type, flag, opcode or user_data, so a second backend can carry every
# operation. Everything that touches the kernel's submission interface is an
# operation family in src/core/ops/ behind core/backend.hpp.
#
# The public headers (include/ringlet) name no liburing type, flag, opcode or
# function either — not even in their documentation, which says what an
# operation does on every backend. They may name io_uring itself: it is a
# backend the user chooses (backend_choice::io_uring), and runtime.hpp names
# what denies it (io_uring_setup(2), kernel.io_uring_disabled).
set -euo pipefail
root=${1:?usage: seam_names.sh <source root>}
cd "$root"
status=0
if hits=$(grep -rnE 'io_uring|IORING|IOSQE|sqe|user_data|liburing' src/net src/tls src/http src/resp); then
  echo "seam_names: io_uring names outside src/core:" >&2
  echo "$hits" >&2
  status=1
fi
if hits=$(grep -rnE 'IORING|IOSQE|\bsqe|user_data|liburing|io_uring_(prep|sqe|cqe|register|enter|submit|get|peek|wait|queue|cq|sq)' include/ringlet); then
  echo "seam_names: liburing names in the public headers:" >&2
  echo "$hits" >&2
  status=1
fi
((status == 0)) && echo "seam_names: src/net, src/tls, src/http and src/resp name no io_uring type, flag or user_data; include/ringlet no liburing name"
exit $status
