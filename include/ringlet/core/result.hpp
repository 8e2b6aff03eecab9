// ringlet::result<T> and ringlet::errc: how every I/O operation reports its outcome.
//
// I/O paths never throw. An awaited operation yields result<T>: either a value
// or a std::error_code. Kernel errors arrive as std::generic_category() errno
// values (so `r.error() == std::errc::connection_reset` works); outcomes that
// are ringlet's own — timeout, cancellation, premature end of stream — use
// ringlet::errc so they are never confused with an I/O error.
//
// result<T> is shaped like C++23 std::expected (has_value, value, error,
// operator*, operator->, value_or) so it can become an alias later.
#pragma once

#include <cerrno>
#include <new>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace ringlet {

/// ringlet's own outcomes. Zero is never used.
enum class errc : int {
    timed_out = 1,          ///< a per-call timeout or a deadline expired; the operation was cancelled
    operation_canceled,     ///< a stop was requested (task cancelled, runtime stopping, socket closing)
    end_of_stream,          ///< the peer closed before an exact-size read could be satisfied
    message_too_long,       ///< a line or message exceeded the caller's limit; nothing was consumed
    truncated,              ///< a stream ended without its protocol's proper close (e.g. TLS close_notify)
    not_on_shard,           ///< the call needs a ringlet shard thread and was made from another thread
    invalid_argument,       ///< an argument was rejected before anything was submitted
    resolve_not_found,      ///< DNS: the name does not exist (NXDOMAIN / no address)
    resolve_server_failure, ///< DNS: the server failed or refused to answer
};

/// The std::error_category for ringlet::errc ("ringlet").
const std::error_category& ringlet_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), ringlet_category()};
}

/// An errno value as a std::error_code (generic category, so it compares equal to std::errc).
inline std::error_code errno_code(int err) noexcept {
    return {err, std::generic_category()};
}

/// Wraps an error for constructing a failed result: `return unexpected{errc::timed_out};`
class unexpected {
public:
    explicit unexpected(std::error_code ec) noexcept : ec_(ec) {}
    explicit unexpected(errc e) noexcept : ec_(make_error_code(e)) {}
    explicit unexpected(std::errc e) noexcept : ec_(std::make_error_code(e)) {}
    [[nodiscard]] std::error_code error() const noexcept { return ec_; }

private:
    std::error_code ec_;
};

/// Thrown by result<T>::value() when it holds an error (like std::bad_expected_access).
class bad_result_access : public std::system_error {
public:
    explicit bad_result_access(std::error_code ec) : std::system_error(ec) {}
};

/// A value of type T or a std::error_code. Never empty.
template <class T>
class [[nodiscard]] result {
public:
    using value_type = T;

    template <class U = T>
        requires std::is_constructible_v<T, U&&>
    result(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>)  // NOLINT: implicit like expected
        : ok_(true) {
        ::new (&value_) T(std::forward<U>(value));
    }
    result(unexpected u) noexcept : ok_(false) { ::new (&error_) std::error_code(u.error()); }  // NOLINT

    result(const result& other) : ok_(other.ok_) {
        if (ok_) ::new (&value_) T(other.value_);
        else ::new (&error_) std::error_code(other.error_);
    }
    result(result&& other) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(other.ok_) {
        if (ok_) ::new (&value_) T(std::move(other.value_));
        else ::new (&error_) std::error_code(other.error_);
    }
    result& operator=(const result& other) {
        if (this != &other) {
            this->~result();
            ::new (this) result(other);
        }
        return *this;
    }
    result& operator=(result&& other) noexcept(std::is_nothrow_move_constructible_v<T>) {
        if (this != &other) {
            this->~result();
            ::new (this) result(std::move(other));
        }
        return *this;
    }
    ~result() {
        if (ok_) value_.~T();
    }

    [[nodiscard]] bool has_value() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }

    [[nodiscard]] T& value() & { check(); return value_; }
    [[nodiscard]] const T& value() const& { check(); return value_; }
    [[nodiscard]] T&& value() && { check(); return std::move(value_); }
    [[nodiscard]] T& operator*() & noexcept { return value_; }
    [[nodiscard]] const T& operator*() const& noexcept { return value_; }
    [[nodiscard]] T&& operator*() && noexcept { return std::move(value_); }
    T* operator->() noexcept { return &value_; }
    const T* operator->() const noexcept { return &value_; }

    /// The error; std::error_code{} (success) when a value is held.
    [[nodiscard]] std::error_code error() const noexcept { return ok_ ? std::error_code{} : error_; }

    template <class U>
    [[nodiscard]] T value_or(U&& fallback) const& {
        return ok_ ? value_ : static_cast<T>(std::forward<U>(fallback));
    }

private:
    void check() const {
        if (!ok_) throw bad_result_access(error_);
    }

    bool ok_;
    union {
        T value_;
        std::error_code error_;
    };
};

/// Success or a std::error_code.
template <>
class [[nodiscard]] result<void> {
public:
    using value_type = void;

    result() noexcept = default;
    result(unexpected u) noexcept : error_(u.error()) {}  // NOLINT: implicit like expected

    [[nodiscard]] bool has_value() const noexcept { return !error_; }
    explicit operator bool() const noexcept { return !error_; }
    void value() const {
        if (error_) throw bad_result_access(error_);
    }
    void operator*() const noexcept {}
    [[nodiscard]] std::error_code error() const noexcept { return error_; }

private:
    std::error_code error_;
};

/// Maps a negative kernel return (-errno) to a failed result, a non-negative one to its value.
template <class T = int>
[[nodiscard]] inline result<T> from_kernel(int res) noexcept {
    if (res < 0) return unexpected{errno_code(-res)};
    return static_cast<T>(res);
}

}  // namespace ringlet

template <>
struct std::is_error_code_enum<ringlet::errc> : std::true_type {};
