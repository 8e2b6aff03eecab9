// Helpers shared by the core tests.
#pragma once

#include <ringlet/ringlet.hpp>

#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <exception>

namespace ringlet::test {

/// A runtime with `shards` shards that leaves signals alone (gtest owns them).
inline runtime_options quiet_runtime(unsigned shards = 1) {
    return {.shards = shards, .handle_signals = false};
}

/// True when this process's runtimes run on the epoll backend
/// (RINGLET_BACKEND=epoll, as CI runs the whole suite a second time, or a
/// machine that denies io_uring).
/// A connected AF_UNIX stream socketpair, closed at scope exit.
struct socket_pair {
    int fds[2] = {-1, -1};
    socket_pair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0); }
    ~socket_pair() {
        close(fds[0]);
        close(fds[1]);
    }
    void send_byte(char c) const { ASSERT_EQ(::write(fds[1], &c, 1), 1); }
};

inline bool on_epoll_backend() {
    static const bool epoll = runtime::choose_backend().backend == backend_choice::epoll;
    return epoll;
}

/// Number of open file descriptors of this process.
inline std::size_t open_fd_count() {
    std::size_t count = 0;
    if (DIR* dir = opendir("/proc/self/fd")) {
        while (readdir(dir)) ++count;
        closedir(dir);
    }
    return count;
}

/// Thrown by the CO_ASSERT macros to end a coroutine test body at a failed
/// assertion (gtest's ASSERT_* use `return`, which coroutines cannot).
struct assertion_failed : std::exception {
    const char* what() const noexcept override { return "fatal assertion failed inside a coroutine (see above)"; }
};

}  // namespace ringlet::test

/// Skips a test that checks io_uring itself (its ring, opcodes, buffer rings)
/// when the suite runs on the epoll backend, saying why.
#define SKIP_ON_EPOLL(why)                                                          \
    do {                                                                            \
        if (::ringlet::test::on_epoll_backend()) GTEST_SKIP() << "io_uring only: " << why; \
    } while (0)

#define CO_ASSERT_TRUE(cond)                                            \
    do {                                                                \
        const bool co_assert_ok_ = static_cast<bool>(cond);             \
        EXPECT_TRUE(co_assert_ok_) << #cond;                            \
        if (!co_assert_ok_) throw ::ringlet::test::assertion_failed{}; \
    } while (0)
#define CO_ASSERT_FALSE(cond) CO_ASSERT_TRUE(!(cond))
#define CO_ASSERT_EQ(a, b)                                                    \
    do {                                                                      \
        EXPECT_EQ(a, b);                                                      \
        if (!((a) == (b))) throw ::ringlet::test::assertion_failed{};         \
    } while (0)
