// Design notes
// - The child sets itself up between fork and exec with async-signal-safe
//   calls only (setsid, sched_setaffinity, open/write to join the cgroup,
//   sched_setscheduler, setpriority, dup2): the parent prepares every string.
// - Its own session keeps the terminal's SIGINT away from it (the compare
//   loop stops it itself) and gives it an autogroup of its own, whose
//   niceness --nice sets (under autogroup scheduling a plain nice only
//   counts within one session).
// - Readiness is the `listening on` line in the log file (polled every
//   20 ms), as DESIGN.md's convention says every server prints; servers that
//   do not print it take their port from {port} and are polled with connect.
#include "server_process.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace loadgen {
namespace {

using namespace std::chrono_literals;

std::string errno_text(const std::string& what, int error) {
    return what + ": " + std::strerror(error);
}

bool write_file(const std::string& path, const std::string& text, std::string& error) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        error = errno_text("open " + path, errno);
        return false;
    }
    const ssize_t n = ::write(fd, text.data(), text.size());
    const int saved = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(text.size())) {
        error = errno_text("write \"" + text + "\" to " + path, saved);
        return false;
    }
    return true;
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

/// The whole of a (small) file, or empty.
std::string read_text(const std::string& path) {
    std::string out;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
}

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

std::vector<int> parse_cpu_list(const std::string& text) {
    std::vector<int> out;
    const long cpus = ::sysconf(_SC_NPROCESSORS_CONF);
    for (std::size_t from = 0; from <= text.size();) {
        auto comma = text.find(',', from);
        if (comma == std::string::npos) comma = text.size();
        const std::string part = text.substr(from, comma - from);
        from = comma + 1;
        char* end = nullptr;
        const long a = std::strtol(part.c_str(), &end, 10);
        long b = a;
        if (end == part.c_str()) return {};
        if (*end == '-') {
            const char* start = end + 1;
            b = std::strtol(start, &end, 10);
            if (end == start) return {};
        }
        if (*end != '\0' || a < 0 || b < a || b >= cpus) return {};
        for (long c = a; c <= b; ++c) out.push_back(static_cast<int>(c));
    }
    return out;
}

namespace {

/// Inside a cgroup a task's nice value no longer competes with the rest of
/// the machine: on a machine busy with other work (a build) a quota group of
/// default weight got 2 % of a CPU instead of its 50 %. The largest weight
/// lets the server use its whole quota; the quota still caps it. Best effort:
/// a run on a quiet machine measures the same without it.
void give_largest_weight(const std::string& file, const char* weight) {
    std::string ignored;
    (void)write_file(file, weight, ignored);
}

}  // namespace

bool cpu_quota::create(double cpus, std::string& error) {
    const auto period = 100000LL;
    const auto quota = static_cast<long long>(cpus * static_cast<double>(period));
    const std::string name = "ringlet-loadgen-" + std::to_string(::getpid());
    if (exists("/sys/fs/cgroup/cgroup.controllers")) {  // cgroup v2, unified at the root
        dir_ = "/sys/fs/cgroup/" + name;
        if (::mkdir(dir_.c_str(), 0755) != 0) {
            error = errno_text("mkdir " + dir_ + " (the CPU quota needs root and a writable cgroup tree)", errno);
            dir_.clear();
            return false;
        }
        if (!exists(dir_ + "/cpu.max")) {
            std::string ignored;
            (void)write_file("/sys/fs/cgroup/cgroup.subtree_control", "+cpu", ignored);
        }
        if (!write_file(dir_ + "/cpu.max", std::to_string(quota) + " " + std::to_string(period), error)) {
            remove();
            return false;
        }
        give_largest_weight(dir_ + "/cpu.weight", "10000");
    } else if (exists("/sys/fs/cgroup/cpu")) {  // cgroup v1
        dir_ = "/sys/fs/cgroup/cpu/" + name;
        if (::mkdir(dir_.c_str(), 0755) != 0) {
            error = errno_text("mkdir " + dir_ + " (the CPU quota needs root and a writable cgroup tree)", errno);
            dir_.clear();
            return false;
        }
        if (!write_file(dir_ + "/cpu.cfs_period_us", std::to_string(period), error) ||
            !write_file(dir_ + "/cpu.cfs_quota_us", std::to_string(quota), error)) {
            remove();
            return false;
        }
        give_largest_weight(dir_ + "/cpu.shares", "262144");
    } else {
        error = "no cgroup CPU controller at /sys/fs/cgroup (neither v2 cgroup.controllers nor v1 cpu/)";
        return false;
    }
    procs_ = dir_ + "/cgroup.procs";
    return true;
}

long long cpu_quota::throttled() const {
    if (dir_.empty()) return -1;
    const std::string text = read_text(dir_ + "/cpu.stat");
    const auto at = text.find("nr_throttled ");
    return at == std::string::npos ? -1 : std::atoll(text.c_str() + at + 13);
}

void cpu_quota::remove() noexcept {
    if (dir_.empty()) return;
    // The members may take a moment to leave after they were reaped.
    for (int attempt = 0; attempt < 50; ++attempt) {
        if (::rmdir(dir_.c_str()) == 0 || errno == ENOENT) break;
        if (errno != EBUSY) {
            std::fprintf(stderr, "ringlet_loadgen: rmdir %s: %s\n", dir_.c_str(), std::strerror(errno));
            break;
        }
        std::this_thread::sleep_for(20ms);
    }
    dir_.clear();
    procs_.clear();
}

bool server_process::start(const std::string& command, const launch_options& how, std::string& error) {
    log_ = how.log;
    const int out = ::open(how.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        error = errno_text("open " + how.log, errno);
        return false;
    }
    const std::string shell_command = "exec " + command;
    const std::string procs = how.quota ? how.quota->procs_file() : std::string{};
    cpu_set_t set;
    CPU_ZERO(&set);
    for (const int c : how.cpus) CPU_SET(c, &set);
    const std::string nice_text = std::to_string(how.nice);
    sigset_t none;
    sigemptyset(&none);

    const pid_t pid = ::fork();
    if (pid < 0) {
        error = errno_text("fork", errno);
        ::close(out);
        return false;
    }
    if (pid == 0) {
        ::setsid();
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (!how.cpus.empty()) ::sched_setaffinity(0, sizeof set, &set);
        if (!procs.empty()) {
            // A SCHED_FIFO process (inherited from a compare --realtime) cannot
            // join a cgroup-v1 CPU group that has no RT budget (EINVAL): the
            // server in a quota runs SCHED_OTHER, the quota is its limit.
            sched_param normal{};
            ::sched_setscheduler(0, SCHED_OTHER, &normal);
            const int fd = ::open(procs.c_str(), O_WRONLY);
            if (fd < 0 || ::write(fd, "0", 1) != 1) {
                const int err = errno;
                static const char msg[] = "ringlet_loadgen: could not join the CPU quota's cgroup: ";
                (void)!::write(out, msg, sizeof msg - 1);
                const char* why = ::strerrordesc_np(err);  // no locale lock: safe after fork
                (void)!::write(out, why, ::strlen(why));
                (void)!::write(out, "\n", 1);
                ::_exit(126);
            }
            ::close(fd);
        }
        if (how.nice != 0) {
            ::setpriority(PRIO_PROCESS, 0, how.nice);
            const int fd = ::open("/proc/self/autogroup", O_WRONLY);
            if (fd >= 0) {
                (void)!::write(fd, nice_text.data(), nice_text.size());
                ::close(fd);
            }
        }
        if (how.realtime && procs.empty()) {
            sched_param prio{};
            prio.sched_priority = 10;
            ::sched_setscheduler(0, SCHED_FIFO, &prio);
        }
        ::dup2(out, STDOUT_FILENO);
        ::dup2(out, STDERR_FILENO);
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
        ::execl("/bin/sh", "sh", "-c", shell_command.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(out);
    pid_ = pid;
    return true;
}

std::string server_process::wait_ready(const std::string& connect_to, double timeout_s, const volatile bool& interrupted,
                                       std::string& error) {
    const double deadline = now_s() + timeout_s;
    while (now_s() < deadline) {
        if (interrupted) {
            error = "interrupted";
            return {};
        }
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            error = "it exited (" +
                    (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                       : "signal " + std::to_string(WTERMSIG(status))) +
                    ") before it was ready; its output is in " + log_;
            return {};
        }
        if (connect_to.empty()) {
            // (Appended rather than "\n" + read_text(): GCC 12's -Wrestrict
            // misfires on operator+(const char*, string&&) in release builds.)
            std::string text = "\n";
            text += read_text(log_);
            const auto at = text.find("\nlistening on ");
            const auto end = at == std::string::npos ? at : text.find('\n', at + 1);
            if (end != std::string::npos) return text.substr(at + 14, end - at - 14);
        } else {
            const auto colon = connect_to.rfind(':');
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(static_cast<std::uint16_t>(std::atoi(connect_to.c_str() + colon + 1)));
            ::inet_pton(AF_INET, connect_to.substr(0, colon).c_str(), &a.sin_addr);
            const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            const bool up = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
            if (fd >= 0) ::close(fd);
            if (up) return connect_to;
        }
        std::this_thread::sleep_for(20ms);
    }
    error = "it was not ready within " + std::to_string(static_cast<int>(timeout_s)) + " s (" +
            (connect_to.empty() ? "no `listening on` line" : "no connection on " + connect_to) + "); its output is in " +
            log_;
    return {};
}

namespace {

double ticks_cpu(pid_t pid) {
    const std::string text = read_text("/proc/" + std::to_string(pid) + "/stat");
    const auto close = text.rfind(')');
    if (close == std::string::npos) return 0;
    unsigned long long utime = 0, stime = 0;
    // After the command: field 3 (state) … field 14 utime, 15 stime.
    if (std::sscanf(text.c_str() + close + 2, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &utime, &stime) != 2) {
        return 0;
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double schedstat_cpu(pid_t pid) {
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    DIR* dir = ::opendir(tasks.c_str());
    if (!dir) return 0;
    unsigned long long ns = 0;
    while (const dirent* e = ::readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        ns += std::strtoull(read_text(tasks + "/" + e->d_name + "/schedstat").c_str(), nullptr, 10);
    }
    ::closedir(dir);
    return static_cast<double>(ns) / 1e9;
}

}  // namespace

double process_cpu_seconds(pid_t pid) {
    // schedstat is exact but loses a thread that exited; the ticks keep it.
    const double exact = schedstat_cpu(pid), ticks = ticks_cpu(pid);
    return ticks > exact * 1.05 + 0.02 ? ticks : exact;
}

int server_process::stop(double grace_s) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    const double deadline = now_s() + grace_s;
    int status = 0;
    for (;;) {
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_ || (r < 0 && errno == ECHILD)) break;
        if (now_s() >= deadline) {
            std::fprintf(stderr, "ringlet_loadgen: server %d still running %.1f s after SIGTERM; SIGKILL\n", pid_, grace_s);
            ::kill(-pid_, SIGKILL);  // its session's process group: it and what it started
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
            break;
        }
        std::this_thread::sleep_for(10ms);
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
        port = ntohs(a.sin_port);
    }
    ::close(fd);
    return port;
}

}  // namespace loadgen
