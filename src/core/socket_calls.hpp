// The socket calls of ringlet's hot paths (a receive's read, a write tried at
// once, the readiness backend's attempts), made with syscall(2) rather than
// glibc's recv/send wrappers. Private to src/.
//
// Why: glibc's recv, send, recvmsg and sendmsg are pthread cancellation
// points. In a process with more than one thread (every ringlet runtime has
// its shard threads) each call switches asynchronous cancellation on before
// the syscall and off after it — two atomic read-modify-writes on the
// thread's cancellation word around every read and every write. ringlet
// never cancels a thread, so that work buys nothing: perf put the two
// switches at ~2 % of an echo server's CPU at 64 B × 16 (server on one CPU,
// 2026-12-06), where a single-threaded epoll server pays none. syscall(2)
// is not a cancellation point; it returns -1 with errno set, as the wrappers
// do. Calls off the hot paths keep the wrappers.
#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

namespace ringlet::detail::sys {

inline ssize_t recv(int fd, void* data, std::size_t size, int flags) noexcept {
    return ::syscall(SYS_recvfrom, fd, data, size, flags, nullptr, nullptr);
}

inline ssize_t send(int fd, const void* data, std::size_t size, int flags) noexcept {
    return ::syscall(SYS_sendto, fd, data, size, flags, nullptr, 0);
}

inline ssize_t recvmsg(int fd, msghdr* message, int flags) noexcept {
    return ::syscall(SYS_recvmsg, fd, message, flags);
}

inline ssize_t sendmsg(int fd, const msghdr* message, int flags) noexcept {
    return ::syscall(SYS_sendmsg, fd, message, flags);
}

}  // namespace ringlet::detail::sys
