// End to end: where io_uring is denied, the way services meet it (a
// container runtime's seccomp profile answering EPERM, a sandbox answering
// ENOSYS, kernel.io_uring_disabled), examples/echo_server falls back to
// epoll, says so in exactly one stderr line naming the cause, echoes a
// client's 1 MiB intact and exits 0 on SIGTERM; asked for io_uring there
// (RINGLET_BACKEND=io_uring) it exits non-zero with the cause.
//
// The programs come from the environment meson sets (tests/tools/meson.build):
// RINGLET_DENY_IO_URING (tests/tools/deny_io_uring), RINGLET_EXAMPLES (the
// examples' build dir) and RINGLET_INFO (tools/ringlet_info).
//
// The sysctl tests change kernel.io_uring_disabled, which is machine-wide:
// they run as root only, restore the old value as soon as the server has
// chosen its backend (and on every failure path), and the suite runs alone
// (is_parallel : false) so no other test meets the denial.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

std::string program(const char* variable, const char* name = nullptr) {
    const char* dir = std::getenv(variable);
    if (!dir) return {};
    return name ? std::string(dir) + "/" + name : std::string(dir);
}

std::string deny_tool() { return program("RINGLET_DENY_IO_URING"); }
std::string echo_server() { return program("RINGLET_EXAMPLES", "echo_server"); }

/// A child process with its stdout and stderr on pipes; killed and reaped
/// if the test ends before it did.
class child {
public:
    /// Runs argv[0] with RINGLET_BACKEND set to `backend` (never inherited).
    child(const std::vector<std::string>& argv, const char* backend) {
        int out[2], err[2];
        if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return;
        pid_ = fork();
        if (pid_ == 0) {
            dup2(out[1], 1);
            dup2(err[1], 2);
            setenv("RINGLET_BACKEND", backend, 1);
            std::vector<char*> args;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            execv(args[0], args.data());
            std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
            _exit(127);
        }
        close(out[1]);
        close(err[1]);
        out_ = out[0];
        err_ = err[0];
    }
    ~child() {
        if (pid_ > 0 && !reaped_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (out_ >= 0) close(out_);
        if (err_ >= 0) close(err_);
    }
    child(const child&) = delete;
    child& operator=(const child&) = delete;

    [[nodiscard]] bool started() const noexcept { return pid_ > 0; }
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }

    /// Reads stdout until a line starting with `prefix` (returns the rest of
    /// it), EOF, or `timeout`.
    std::optional<std::string> wait_for_line(const std::string& prefix, std::chrono::milliseconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            for (std::size_t at; (at = out_text_.find('\n')) != std::string::npos;) {
                std::string line = out_text_.substr(0, at);
                out_text_.erase(0, at + 1);
                if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (left <= 0ms) return std::nullopt;
            pollfd p{out_, POLLIN, 0};
            if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
            char buf[4096];
            const ssize_t n = read(out_, buf, sizeof buf);
            if (n <= 0) return std::nullopt;
            out_text_.append(buf, static_cast<std::size_t>(n));
        }
    }

    /// Waits up to `timeout` for the exit; the wait status, or nullopt (then it is killed).
    std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < until) {
            int status = 0;
            const pid_t r = waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                reaped_ = true;
                return status;
            }
            std::this_thread::sleep_for(10ms);
        }
        return std::nullopt;
    }

    /// Everything the child wrote to stderr (call after it exited).
    std::string stderr_text() {
        std::string text;
        char buf[4096];
        for (;;) {
            pollfd p{err_, POLLIN, 0};
            if (poll(&p, 1, 1000) <= 0) break;
            const ssize_t n = read(err_, buf, sizeof buf);
            if (n <= 0) break;
            text.append(buf, static_cast<std::size_t>(n));
        }
        return text;
    }

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
    int out_ = -1;
    int err_ = -1;
    std::string out_text_;
};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t at; (at = text.find('\n', start)) != std::string::npos; start = at + 1) {
        lines.push_back(text.substr(start, at - start));
    }
    if (start < text.size()) lines.push_back(text.substr(start));
    return lines;
}

bool has(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

/// Sends `size` bytes of a pattern to 127.0.0.1:`port` while reading the echo;
/// returns an empty string when every byte came back in order, else what went wrong.
std::string echo_round_trip(std::uint16_t port, std::size_t size) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::string("socket: ") + std::strerror(errno);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        const std::string e = std::string("connect 127.0.0.1:") + std::to_string(port) + ": " + std::strerror(errno);
        close(fd);
        return e;
    }
    std::vector<unsigned char> sent(size);
    std::uint32_t x = 2463534242u;  // xorshift: no period the echo could hide a reordering in
    for (auto& b : sent) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        b = static_cast<unsigned char>(x);
    }
    std::string write_error;
    std::thread writer([&] {
        for (std::size_t off = 0; off < size;) {
            const ssize_t n = send(fd, sent.data() + off, std::min<std::size_t>(size - off, 64 * 1024), MSG_NOSIGNAL);
            if (n <= 0) {
                write_error = std::string("send: ") + std::strerror(errno);
                return;
            }
            off += static_cast<std::size_t>(n);
        }
        shutdown(fd, SHUT_WR);
    });
    std::vector<unsigned char> got;
    got.reserve(size);
    std::string read_error;
    unsigned char buf[65536];
    while (got.size() < size) {
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            read_error = n == 0 ? "EOF after " + std::to_string(got.size()) + " bytes"
                                : std::string("recv: ") + std::strerror(errno) + " after " +
                                      std::to_string(got.size()) + " bytes";
            break;
        }
        got.insert(got.end(), buf, buf + n);
    }
    writer.join();
    close(fd);
    if (!write_error.empty()) return write_error;
    if (!read_error.empty()) return read_error;
    if (got != sent) return "the echo differs from what was sent";
    return {};
}

/// Port of "127.0.0.1:PORT".
std::uint16_t port_of(const std::string& address) {
    const auto colon = address.rfind(':');
    return static_cast<std::uint16_t>(std::stoul(address.substr(colon + 1)));
}

/// echo_server under `launcher` args (may be empty): it must fall back to
/// epoll with exactly one stderr line containing every one of `cause_words`,
/// echo 1 MiB intact and exit 0 on SIGTERM. `chosen` runs once the server
/// has chosen (e.g. to restore a sysctl).
void expect_fallback_and_echo(const std::vector<std::string>& launcher, const std::vector<const char*>& cause_words,
                              const std::function<void()>& chosen = {}) {
    std::vector<std::string> argv = launcher;
    argv.insert(argv.end(), {echo_server(), "127.0.0.1:0", "--shards", "2"});
    child server(argv, "auto");
    ASSERT_TRUE(server.started());
    const auto address = server.wait_for_line("listening on ", 10s);
    if (chosen) chosen();
    ASSERT_TRUE(address) << "no `listening on` line within 10 s; stderr: " << server.stderr_text();
    EXPECT_EQ(echo_round_trip(port_of(*address), 1 << 20), "");
    ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
    const auto status = server.wait_exit(15s);
    ASSERT_TRUE(status) << "echo_server still running 15 s after SIGTERM";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
    const auto lines = lines_of(server.stderr_text());
    ASSERT_EQ(lines.size(), 1u) << "stderr should be the one fallback line, was:\n" << ::testing::PrintToString(lines);
    EXPECT_TRUE(has(lines[0], "epoll")) << lines[0];
    for (const char* word : cause_words) EXPECT_TRUE(has(lines[0], word)) << word << " missing: " << lines[0];
}

/// Exits non-zero within 10 s with stderr naming each of `words`.
void expect_refusal(const std::vector<std::string>& argv, const char* backend, const std::vector<const char*>& words) {
    child proc(argv, backend);
    ASSERT_TRUE(proc.started());
    const auto status = proc.wait_exit(10s);
    ASSERT_TRUE(status) << argv.back() << " still running after 10 s";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0) << "wait status " << *status;
    const std::string err = proc.stderr_text();
    for (const char* word : words) EXPECT_TRUE(has(err, word)) << word << " missing: " << err;
    for (const auto& line : lines_of(err)) EXPECT_FALSE(has(line, "using epoll")) << "asked for io_uring: " << line;
}

/// kernel.io_uring_disabled and kernel.io_uring_group, written for a test and
/// restored when it ends (or earlier, by restore()) whatever happens.
class sysctl_guard {
public:
    static constexpr const char* disabled_path = "/proc/sys/kernel/io_uring_disabled";

    sysctl_guard() { old_ = read(); }
    ~sysctl_guard() { restore(); }
    sysctl_guard(const sysctl_guard&) = delete;
    sysctl_guard& operator=(const sysctl_guard&) = delete;

    /// The value before the test, or nullopt when the sysctl does not exist.
    [[nodiscard]] const std::optional<std::string>& old_value() const noexcept { return old_; }

    bool set(const char* value) {
        changed_ = true;
        std::ofstream out(disabled_path);
        out << value << '\n';
        out.flush();
        return static_cast<bool>(out) && read() == value;
    }
    void restore() {
        if (!changed_ || !old_) return;
        std::ofstream out(disabled_path);
        out << *old_ << '\n';
        out.flush();
        changed_ = !(out && read() == *old_);
        if (changed_) ADD_FAILURE() << "could not restore " << disabled_path << " to " << *old_;
    }

private:
    static std::optional<std::string> read() {
        std::ifstream in(disabled_path);
        std::string value;
        if (!(in >> value)) return std::nullopt;
        return value;
    }
    std::optional<std::string> old_;
    bool changed_ = false;
};

#define REQUIRE_PROGRAMS()                                                                             \
    do {                                                                                               \
        ASSERT_FALSE(deny_tool().empty()) << "RINGLET_DENY_IO_URING is not set (run through meson test)"; \
        ASSERT_FALSE(echo_server().empty()) << "RINGLET_EXAMPLES is not set (run through meson test)";   \
    } while (0)

}  // namespace

class SeccompFallback : public ::testing::TestWithParam<const char*> {};

TEST_P(SeccompFallback, EchoServerFallsBackToEpollNamesTheFilterAndEchoes1MiB) {
    REQUIRE_PROGRAMS();
    expect_fallback_and_echo({deny_tool(), "--errno", GetParam(), "--"}, {"seccomp", GetParam()});
}

TEST_P(SeccompFallback, AskedForIoUringEchoServerExitsWithTheFiltersCause) {
    REQUIRE_PROGRAMS();
    expect_refusal({deny_tool(), "--errno", GetParam(), "--", echo_server(), "127.0.0.1:0"}, "io_uring",
                   {"io_uring is unavailable", GetParam(), "a seccomp filter denies it", "Remedy:"});
}

TEST_P(SeccompFallback, RingletInfoPrintsEpollAndWhy) {
    REQUIRE_PROGRAMS();
    const std::string info = program("RINGLET_INFO");
    ASSERT_FALSE(info.empty()) << "RINGLET_INFO is not set (run through meson test)";
    child proc({deny_tool(), "--errno", GetParam(), "--", info}, "auto");
    ASSERT_TRUE(proc.started());
    const auto backend = proc.wait_for_line("backend: ", 10s);
    ASSERT_TRUE(backend);
    EXPECT_EQ(*backend, "epoll");
    const auto why = proc.wait_for_line("why: ", 10s);
    ASSERT_TRUE(why);
    EXPECT_TRUE(has(*why, "a seccomp filter denies it")) << *why;
    EXPECT_TRUE(has(*why, "To use io_uring:")) << *why;
    const auto status = proc.wait_exit(10s);
    ASSERT_TRUE(status);
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
}

INSTANTIATE_TEST_SUITE_P(Errno, SeccompFallback, ::testing::Values("EPERM", "ENOSYS"),
                         [](const auto& param_info) { return std::string(param_info.param); });

TEST(SysctlFallback, DisabledTwoEchoServerFallsBackAndEchoes1MiB) {
    REQUIRE_PROGRAMS();
    if (geteuid() != 0) GTEST_SKIP() << "changing kernel.io_uring_disabled needs root";
    sysctl_guard sysctl;
    if (!sysctl.old_value()) GTEST_SKIP() << "this kernel has no kernel.io_uring_disabled (before 6.6)";
    ASSERT_TRUE(sysctl.set("2"));
    // Restored as soon as the server has chosen: the denial is machine-wide.
    expect_fallback_and_echo({}, {"kernel.io_uring_disabled is 2"}, [&] { sysctl.restore(); });
}

TEST(SysctlFallback, DisabledTwoAskedForIoUringExitsWithTheSysctl) {
    REQUIRE_PROGRAMS();
    if (geteuid() != 0) GTEST_SKIP() << "changing kernel.io_uring_disabled needs root";
    sysctl_guard sysctl;
    if (!sysctl.old_value()) GTEST_SKIP() << "this kernel has no kernel.io_uring_disabled (before 6.6)";
    ASSERT_TRUE(sysctl.set("2"));
    expect_refusal({echo_server(), "127.0.0.1:0"}, "io_uring",
                   {"io_uring is unavailable", "kernel.io_uring_disabled is 2", "sysctl -w kernel.io_uring_disabled=0"});
}

// 1 denies only processes without CAP_SYS_ADMIN or the io_uring_group: the
// server runs without the capability; everything else on the machine (root)
// keeps io_uring.
TEST(SysctlFallback, DisabledOneWithoutCapSysAdminFallsBackAndEchoes1MiB) {
    REQUIRE_PROGRAMS();
    if (geteuid() != 0) GTEST_SKIP() << "changing kernel.io_uring_disabled needs root";
    sysctl_guard sysctl;
    if (!sysctl.old_value()) GTEST_SKIP() << "this kernel has no kernel.io_uring_disabled (before 6.6)";
    std::ifstream group_file("/proc/sys/kernel/io_uring_group");
    long group = -1;
    group_file >> group;
    if (group == static_cast<long>(getegid())) GTEST_SKIP() << "kernel.io_uring_group is this process's group";
    ASSERT_TRUE(sysctl.set("1"));
    expect_fallback_and_echo({deny_tool(), "--drop-sys-admin", "--"}, {"kernel.io_uring_disabled is 1", "CAP_SYS_ADMIN"},
                             [&] { sysctl.restore(); });
}
