// What the TLS examples share: option parsing helpers and context loading
// that turns setup errors into one line and exit code 1.
#pragma once

#include "example_support.hpp"

#include <ringlet/tls/context.hpp>
#include <ringlet/tls/listener.hpp>
#include <ringlet/tls/stream.hpp>

#include <csignal>
#include <stdexcept>

namespace example {

/// The value after option argv[i] (advancing i), or a usage error.
/// Builds a context with `make`, printing "<program>: <reason>" and exiting 1 on failure.
template <class F>
tls::context load_context(const char* program, F make) {
    try {
        return make();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", program, e.what());
        std::exit(1);
    }
}

}  // namespace example
