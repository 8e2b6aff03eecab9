// Prints which backend ringlet chooses on this machine and why, and how it
// sets it up: for io_uring the setup flags the kernel accepted, its features
// and which opcodes it supports; for epoll how it waits and what it emulates.
//
//   build/tools/ringlet_info
//   RINGLET_BACKEND=io_uring build/tools/ringlet_info
//
// First line `backend: io_uring` or `backend: epoll`, then `why: ...` (for a
// fallback: the cause and how to get io_uring back). Exits 1 with the cause
// and the remedy when io_uring is asked for (RINGLET_BACKEND=io_uring) and
// unavailable, 2 for a bad RINGLET_BACKEND.
#include <ringlet/core/runtime.hpp>

#include <cstdio>
#include <exception>
#include <stdexcept>

int main() {
    try {
        const auto report = ringlet::runtime::choose_backend();
        const bool uring = report.backend == ringlet::backend_choice::io_uring;
        std::printf("backend: %s\nwhy: %s\n", uring ? "io_uring" : "epoll", report.reason.c_str());
        std::fputs(ringlet::runtime::describe_backend(report.backend).c_str(), stdout);
        return 0;
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
