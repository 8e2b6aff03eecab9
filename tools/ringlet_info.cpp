// Prints how ringlet sets up io_uring on this machine: the setup flags the
// kernel accepted, its features and which opcodes it supports.
//
//   build/tools/ringlet_info
//
// Exits 1 with the cause and the remedy when io_uring is unavailable.
#include <ringlet/core/runtime.hpp>

#include <cstdio>
#include <exception>

int main() {
    try {
        std::fputs(ringlet::runtime::describe_io_uring().c_str(), stdout);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
