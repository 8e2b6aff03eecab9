// Design notes
// - The probe is a raw io_uring_setup of a two-entry ring without flags, then
//   close: the smallest thing that tells whether this process may use
//   io_uring at all. Flags a kernel does not take (EINVAL) are the ring's
//   business (core/ring.cpp tries fewer), not a reason to leave io_uring.
// - The cause is told apart from what the process can see, in this order:
//   kernel.io_uring_disabled (2 denies everyone; 1 everyone without
//   CAP_SYS_ADMIN or the io_uring_group), then the kernel version (< 5.1
//   has no io_uring: ENOSYS is the kernel's), then a seccomp filter on this
//   thread (a filter's EPERM or ENOSYS: container runtimes answer EPERM,
//   some sandboxes ENOSYS), then ENOSYS without a filter (CONFIG_IO_URING
//   off) and ENOMEM (RLIMIT_MEMLOCK, charged for rings before 5.12).
// - The probe and the fallback line are once per process, keyed by the pid:
//   a child forked after its parent probed (one that installs a filter, say)
//   probes, and says so, again.
#include "core/backend_choice.hpp"

#include <linux/io_uring.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace ringlet::detail {
namespace {

constexpr const char* seccomp_remedy =
    "run it with a seccomp profile that allows io_uring_setup, io_uring_enter and io_uring_register "
    "(Docker: --security-opt seccomp=<profile.json>; Kubernetes: securityContext.seccompProfile of type "
    "Localhost)";

std::string errno_name(int err) {
    const char* name = strerrorname_np(err);
    return name ? name : "errno " + std::to_string(err);
}

std::string kernel_text(const io_uring_snapshot& s) {
    if (s.kernel_major == 0) return "this kernel";
    return "kernel " + std::to_string(s.kernel_major) + "." + std::to_string(s.kernel_minor);
}

bool kernel_before(const io_uring_snapshot& s, int major, int minor) {
    return s.kernel_major != 0 && (s.kernel_major < major || (s.kernel_major == major && s.kernel_minor < minor));
}

std::string memlock_text(std::uint64_t limit) {
    if (limit == UINT64_MAX) return "unlimited";
    if (limit % 1024 == 0) return std::to_string(limit / 1024) + " KiB";
    return std::to_string(limit) + " bytes";
}

/// The sysctl denies this process (and so is the cause whatever else is there).
bool sysctl_denies(const io_uring_snapshot& s) {
    if (s.disabled_sysctl == 2) return true;
    return s.disabled_sysctl == 1 && !s.cap_sys_admin && !s.in_io_uring_group;
}

io_uring_diagnosis sysctl_diagnosis(const io_uring_snapshot& s) {
    io_uring_diagnosis d{.cause = io_uring_cause::sysctl, .falls_back = true};
    if (s.disabled_sysctl == 2) {
        d.cause_text = "the sysctl kernel.io_uring_disabled is 2 (io_uring is off for every process)";
        d.remedy = "`sysctl -w kernel.io_uring_disabled=0` on the host (the sysctl is not per container)";
    } else {
        const std::string group = s.io_uring_group < 0 ? "unset" : std::to_string(s.io_uring_group);
        d.cause_text = "the sysctl kernel.io_uring_disabled is 1 and this process has neither CAP_SYS_ADMIN nor "
                       "the group kernel.io_uring_group (" + group + ")";
        d.remedy = "run it in the group kernel.io_uring_group (`sysctl -w kernel.io_uring_group=<gid>`), or "
                   "`sysctl -w kernel.io_uring_disabled=0` on the host";
    }
    if (s.seccomp_mode == 2) d.cause_text += " (a seccomp filter is present too and may deny it as well)";
    return d;
}

io_uring_diagnosis seccomp_diagnosis() {
    return {.cause = io_uring_cause::seccomp,
            .cause_text = "a seccomp filter denies it (the container runtime's default profile?)",
            .remedy = seccomp_remedy,
            .falls_back = true};
}

/// Reads "Name:\tvalue" lines of a /proc status file.
struct status_fields {
    int seccomp = -1;
    int seccomp_filters = -1;
    std::uint64_t cap_eff = 0;
};

status_fields read_status() {
    std::ifstream in("/proc/thread-self/status");
    if (!in) in.open("/proc/self/status");
    status_fields f;
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("Seccomp:", 0) == 0) f.seccomp = std::atoi(line.c_str() + 8);
        else if (line.rfind("Seccomp_filters:", 0) == 0) f.seccomp_filters = std::atoi(line.c_str() + 16);
        else if (line.rfind("CapEff:", 0) == 0) f.cap_eff = std::strtoull(line.c_str() + 7, nullptr, 16);
    }
    return f;
}

/// A small integer sysctl under /proc/sys; -1 when it does not exist.
long read_sysctl(const char* path) {
    std::ifstream in(path);
    long value = -1;
    if (!(in >> value)) return -1;
    return value;
}

bool in_group(long gid) {
    if (gid < 0) return false;
    if (static_cast<long>(getegid()) == gid) return true;
    const int count = getgroups(0, nullptr);
    if (count <= 0) return false;
    std::vector<gid_t> groups(static_cast<std::size_t>(count));
    const int got = getgroups(count, groups.data());
    for (int i = 0; i < got; ++i) {
        if (static_cast<long>(groups[static_cast<std::size_t>(i)]) == gid) return true;
    }
    return false;
}

int raw_probe() noexcept {
    io_uring_params params{};
    const long fd = syscall(__NR_io_uring_setup, 2u, &params);
    if (fd < 0) return errno;
    close(static_cast<int>(fd));
    return 0;
}

}  // namespace

io_uring_diagnosis classify_io_uring(const io_uring_snapshot& s) {
    const int err = s.setup_errno;
    if (err == 0) return {.cause = io_uring_cause::available, .cause_text = "io_uring_setup works here"};
    if ((err == EPERM || err == EACCES) && sysctl_denies(s)) return sysctl_diagnosis(s);
    if (err == ENOSYS && kernel_before(s, 5, 1)) {
        return {.cause = io_uring_cause::kernel_too_old,
                .cause_text = kernel_text(s) + " is older than 5.1, the first with io_uring",
                .remedy = "run on Linux 5.19 or newer (6.1 or newer for every feature ringlet uses)",
                .falls_back = true};
    }
    if ((err == EPERM || err == EACCES || err == ENOSYS) && s.seccomp_mode == 2) return seccomp_diagnosis();
    switch (err) {
        case ENOSYS:
            return {.cause = io_uring_cause::kernel_config,
                    .cause_text = kernel_text(s) + " was built without io_uring (CONFIG_IO_URING is off), or a "
                                  "sandbox that emulates the kernel (gVisor?) does not implement it",
                    .remedy = "run on a kernel built with CONFIG_IO_URING=y, outside such a sandbox",
                    .falls_back = true};
        case EPERM:
        case EACCES:
            return {.cause = io_uring_cause::policy,
                    .cause_text = "permission denied, and neither kernel.io_uring_disabled nor a seccomp filter "
                                  "explains it (a security module's policy, e.g. SELinux?)",
                    .remedy = "allow io_uring in the security policy (the audit log names the denial)",
                    .falls_back = true};
        case ENOMEM: {
            const std::string limit = "RLIMIT_MEMLOCK is " + memlock_text(s.memlock_limit);
            io_uring_diagnosis d{.cause = io_uring_cause::memlock, .falls_back = true};
            if (kernel_before(s, 5, 12) || s.kernel_major == 0) {
                d.cause_text = "the ring's memory could not be locked: " + limit +
                               " (kernels before 5.12 charge rings to it)";
            } else {
                d.cause_text = "the kernel could not allocate the ring (out of memory, or a memory cgroup limit; " +
                               limit + ")";
            }
            d.remedy = "raise the locked-memory limit: `ulimit -l unlimited` (systemd: LimitMEMLOCK=infinity; "
                       "Docker: --ulimit memlock=-1), or use smaller rings (runtime_options::sq_entries)";
            return d;
        }
        case EINVAL:
            return {.cause = io_uring_cause::parameters,
                    .cause_text = "the kernel rejected the ring parameters",
                    .remedy = "use a power-of-two sq_entries no larger than 32768"};
        default:
            return {.cause = io_uring_cause::other,
                    .cause_text = "an unexpected error",
                    .remedy = "check the kernel's io_uring support and the process's resource limits"};
    }
}

io_uring_snapshot observe_io_uring(int setup_errno) {
    io_uring_snapshot s;
    s.setup_errno = setup_errno;
    s.disabled_sysctl = static_cast<int>(read_sysctl("/proc/sys/kernel/io_uring_disabled"));
    s.io_uring_group = read_sysctl("/proc/sys/kernel/io_uring_group");
    s.in_io_uring_group = in_group(s.io_uring_group);
    const status_fields status = read_status();
    s.seccomp_mode = status.seccomp;
    s.seccomp_filters = status.seccomp_filters;
    constexpr unsigned cap_sys_admin = 21;
    s.cap_sys_admin = (status.cap_eff >> cap_sys_admin) & 1u;
    utsname name{};
    if (uname(&name) == 0 && std::sscanf(name.release, "%d.%d", &s.kernel_major, &s.kernel_minor) != 2) {
        s.kernel_major = s.kernel_minor = 0;
    }
    rlimit limit{};
    if (getrlimit(RLIMIT_MEMLOCK, &limit) == 0) {
        s.memlock_limit = limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<std::uint64_t>(limit.rlim_cur);
    }
    return s;
}

std::string describe_setup_failure(int setup_errno, const io_uring_diagnosis& diagnosis) {
    return "io_uring_setup failed with " + std::make_error_code(static_cast<std::errc>(setup_errno)).message() +
           " (" + errno_name(setup_errno) + ", errno " + std::to_string(setup_errno) + "): " + diagnosis.cause_text;
}

std::string io_uring_unavailable_message(int setup_errno) {
    const io_uring_diagnosis d = classify_io_uring(observe_io_uring(setup_errno));
    return "ringlet: io_uring is unavailable: " + describe_setup_failure(setup_errno, d) + ". Remedy: " + d.remedy +
           ".";
}

std::optional<backend_choice> parse_backend_name(std::string_view name) noexcept {
    if (name == "auto") return backend_choice::auto_select;
    if (name == "io_uring") return backend_choice::io_uring;
    if (name == "epoll") return backend_choice::epoll;
    return std::nullopt;
}

const char* backend_name(backend_choice choice) noexcept {
    switch (choice) {
        case backend_choice::auto_select: return "auto";
        case backend_choice::io_uring: return "io_uring";
        case backend_choice::epoll: return "epoll";
    }
    return "unknown";
}

backend_choice requested_backend(backend_choice option) {
    const char* env = std::getenv("RINGLET_BACKEND");
    if (!env || !*env) return option;
    if (auto choice = parse_backend_name(env)) return *choice;
    throw std::invalid_argument(std::string("ringlet: RINGLET_BACKEND=") + env +
                                " is not a backend: use auto, io_uring or epoll");
}

int probe_io_uring() noexcept {
    static std::mutex mutex;
    static pid_t probed_in = 0;
    static int result = 0;
    std::lock_guard lock(mutex);
    const pid_t self = getpid();
    if (probed_in != self) {
        result = raw_probe();
        probed_in = self;
    }
    return result;
}

backend_decision chosen_backend(backend_choice option) {
    const backend_choice requested = requested_backend(option);
    const std::string asked = std::string(requested != option ? "RINGLET_BACKEND=" : "runtime_options::backend = ") +
                              backend_name(requested);
    if (requested == backend_choice::epoll) return {backend_kind::epoll, "asked for (" + asked + ")", false};
    const int err = probe_io_uring();
    if (err == 0) {
        return {backend_kind::io_uring,
                requested == backend_choice::io_uring ? "asked for (" + asked + ")" : "auto: io_uring_setup works here",
                false};
    }
    const io_uring_diagnosis d = classify_io_uring(observe_io_uring(err));
    if (requested == backend_choice::io_uring || !d.falls_back) {
        std::string message = io_uring_unavailable_message(err);
        if (d.falls_back) message += " Or choose the backend auto (the default) to run on epoll here.";
        throw std::runtime_error(message);
    }
    return {backend_kind::epoll,
            describe_setup_failure(err, d) + ". To use io_uring: " + d.remedy +
                "; RINGLET_BACKEND=epoll chooses epoll without this line",
            true};
}

backend_decision choose_and_announce_backend(backend_choice option) {
    backend_decision decision = chosen_backend(option);
    if (decision.fell_back) {
        static std::atomic<pid_t> announced_in{0};
        const pid_t self = getpid();
        if (announced_in.exchange(self) != self) {
            std::fprintf(stderr, "ringlet: using epoll, not io_uring: %s\n", decision.reason.c_str());
        }
    }
    return decision;
}

}  // namespace ringlet::detail
