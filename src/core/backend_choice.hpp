// Which backend the shards run on, and why: runtime_options::backend,
// RINGLET_BACKEND, and the diagnosis of an io_uring that the process may not
// use. Private.
//
// The one place that explains why io_uring_setup failed: the fallback line
// of `auto`, the exception of an explicit `io_uring` (and of a ring that
// cannot be set up, core/ring.cpp) and ringlet_info all use
// explain_io_uring_failure().
//
// Thread safety: every function may be called from any thread; the probe and
// the fallback line happen once per process (a forked child probes afresh).
#pragma once

#include "core/backend.hpp"  // backend_kind: the backend a shard constructs

#include <ringlet/core/runtime.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringlet::detail {


/// What the classifier knows about the process and the kernel when
/// io_uring_setup failed: a snapshot, so the classifier is a pure function.
struct io_uring_snapshot {
    int setup_errno = 0;  ///< what io_uring_setup failed with; 0 when it worked
    /// kernel.io_uring_disabled (0, 1, 2); -1 when the sysctl does not exist.
    int disabled_sysctl = -1;
    /// kernel.io_uring_group; -1 when unset or absent.
    long io_uring_group = -1;
    bool in_io_uring_group = false;  ///< the process's gid or a supplementary group is io_uring_group
    bool cap_sys_admin = false;      ///< CAP_SYS_ADMIN in the effective set (passes io_uring_disabled=1)
    int seccomp_mode = -1;           ///< `Seccomp:` of /proc/thread-self/status (0, 1 strict, 2 filter); -1 unknown
    int seccomp_filters = -1;        ///< `Seccomp_filters:`; -1 unknown (kernels before 5.9)
    int kernel_major = 0;            ///< from uname; 0 when unknown
    int kernel_minor = 0;
    /// RLIMIT_MEMLOCK's soft limit in bytes; UINT64_MAX for unlimited.
    std::uint64_t memlock_limit = UINT64_MAX;
};

enum class io_uring_cause {
    available,       ///< io_uring_setup worked
    sysctl,          ///< kernel.io_uring_disabled denies this process
    seccomp,         ///< a seccomp filter answered EPERM/EACCES/ENOSYS
    kernel_too_old,  ///< the kernel predates io_uring (< 5.1)
    kernel_config,   ///< ENOSYS on a kernel new enough, with no filter: CONFIG_IO_URING off
    memlock,         ///< ENOMEM: the ring's memory (RLIMIT_MEMLOCK before 5.12)
    policy,          ///< EPERM that neither the sysctl nor a filter explains (an LSM?)
    parameters,      ///< EINVAL: the ring's sizes or flags
    other,
};

struct io_uring_diagnosis {
    io_uring_cause cause = io_uring_cause::available;
    std::string cause_text;  ///< why, one clause: "a seccomp filter denies it (...)"
    std::string remedy;      ///< how to get io_uring back
    /// `auto` falls back to epoll (EPERM, EACCES, ENOSYS, ENOMEM); other
    /// failures are errors whichever backend is asked for.
    bool falls_back = false;
};

/// The cause of `snapshot.setup_errno` and its remedy. Pure.
[[nodiscard]] io_uring_diagnosis classify_io_uring(const io_uring_snapshot& snapshot);

/// Reads the snapshot of this process and kernel (/proc/sys/kernel,
/// /proc/thread-self/status, uname, getrlimit) for `setup_errno`.
[[nodiscard]] io_uring_snapshot observe_io_uring(int setup_errno);

/// "io_uring_setup failed with Operation not permitted (EPERM, errno 1): <cause>";
/// what both the exception and the fallback line say first.
[[nodiscard]] std::string describe_setup_failure(int setup_errno, const io_uring_diagnosis& diagnosis);

/// The exception text when io_uring was asked for but cannot be had:
/// "ringlet: io_uring is unavailable: ...: <cause>. Remedy: <remedy>."
[[nodiscard]] std::string io_uring_unavailable_message(int setup_errno);

/// "auto" | "io_uring" | "epoll" → the choice; anything else → nullopt.
[[nodiscard]] std::optional<backend_choice> parse_backend_name(std::string_view name) noexcept;
[[nodiscard]] const char* backend_name(backend_choice choice) noexcept;

/// `option`, or RINGLET_BACKEND when that is set (and not empty). Throws
/// std::invalid_argument naming the variable and the allowed values for
/// anything else.
[[nodiscard]] backend_choice requested_backend(backend_choice option);

/// 0 when io_uring_setup of a two-entry ring works in this process, else its
/// errno. Probed once per process (again after a fork).
[[nodiscard]] int probe_io_uring() noexcept;

struct backend_decision {
    backend_kind kind = backend_kind::io_uring;
    /// One line: why this backend; for a fallback, the cause and how to get io_uring back.
    std::string reason;
    /// `auto` fell back to epoll (what the stderr line announces).
    bool fell_back = false;
};

/// The backend for a runtime asked for `option` (RINGLET_BACKEND applied).
/// Throws std::invalid_argument for a bad RINGLET_BACKEND and
/// std::runtime_error (io_uring_unavailable_message) when io_uring is asked
/// for, or `auto` meets a failure that epoll would not cure.
[[nodiscard]] backend_decision chosen_backend(backend_choice option);

/// chosen_backend(), and when `auto` fell back, the reason on stderr as one
/// line, the first time in this process. What runtime's constructor calls.
[[nodiscard]] backend_decision choose_and_announce_backend(backend_choice option);

}  // namespace ringlet::detail
