// Helpers shared by the core tests.
#pragma once

#include <ringlet/ringlet.hpp>

#include <dirent.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <exception>

namespace ringlet::test {

/// A runtime with `shards` shards that leaves signals alone (gtest owns them).
inline runtime_options quiet_runtime(unsigned shards = 1) {
    return {.shards = shards, .handle_signals = false};
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
