// Time: the monotonic clock ringlet uses and the `timeout` every wait accepts.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace ringlet {

/// CLOCK_MONOTONIC, the clock every ringlet deadline uses.
using clock = std::chrono::steady_clock;

/// How long an operation may wait: nothing (wait forever), a relative duration
/// (`5s`), or an absolute deadline (`clock::now() + 5s`). Every awaitable
/// operation that can block takes one; when it expires the operation is
/// cancelled in the kernel and yields errc::timed_out.
class timeout {
public:
    constexpr timeout() noexcept = default;
    template <class Rep, class Period>
    constexpr timeout(std::chrono::duration<Rep, Period> d) noexcept  // NOLINT: implicit by design
        : ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()), kind_(kind::relative) {
        if (ns_ < 0) ns_ = 0;
    }
    constexpr timeout(clock::time_point deadline) noexcept  // NOLINT: implicit by design
        : ns_(deadline.time_since_epoch().count()), kind_(kind::absolute) {}

    [[nodiscard]] static constexpr timeout none() noexcept { return {}; }

    [[nodiscard]] constexpr bool is_set() const noexcept { return kind_ != kind::none; }
    [[nodiscard]] constexpr bool is_absolute() const noexcept { return kind_ == kind::absolute; }
    /// Relative: the duration; absolute: nanoseconds since the clock's epoch.
    [[nodiscard]] constexpr std::int64_t nanoseconds() const noexcept { return ns_; }

    /// The absolute deadline this timeout stands for, taken now.
    [[nodiscard]] clock::time_point deadline() const noexcept {
        if (kind_ == kind::absolute) return clock::time_point{clock::duration{ns_}};
        if (kind_ == kind::relative) return clock::now() + std::chrono::nanoseconds{ns_};
        return clock::time_point::max();
    }

    /// The earlier of two timeouts (an unset one never wins).
    [[nodiscard]] static timeout earliest(const timeout& a, const timeout& b) noexcept {
        if (!a.is_set()) return b;
        if (!b.is_set()) return a;
        if (!a.is_absolute() && !b.is_absolute()) return a.ns_ <= b.ns_ ? a : b;
        return timeout{std::min(a.deadline(), b.deadline())};
    }

private:
    enum class kind : std::uint8_t { none, relative, absolute };
    std::int64_t ns_ = 0;
    kind kind_ = kind::none;
};

}  // namespace ringlet
