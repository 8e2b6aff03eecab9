// Fault-injection helpers shared by the core and net fault tests: a scope
// that switches injection on for the runtimes created in it, and the current
// shard's injector.
#pragma once

#include "core/fault_backend.hpp"
#include "core/shard.hpp"

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

namespace ringlet::test {

/// Sets RINGLET_FAULT_SEED / RINGLET_FAULT_PROFILE for its scope (restoring
/// what was there): the shards of a runtime created meanwhile inject faults.
class fault_env {
public:
    explicit fault_env(std::uint64_t seed, const char* profile = "integrity") {
        for (int i = 0; i < 2; ++i) {
            if (const char* v = std::getenv(names[i])) saved_[i] = v;
        }
        setenv(names[0], std::to_string(seed).c_str(), 1);
        setenv(names[1], profile, 1);
    }
    ~fault_env() {
        for (int i = 0; i < 2; ++i) {
            if (saved_[i]) setenv(names[i], saved_[i]->c_str(), 1);
            else unsetenv(names[i]);
        }
    }
    fault_env(const fault_env&) = delete;
    fault_env& operator=(const fault_env&) = delete;

private:
    static constexpr const char* names[2] = {"RINGLET_FAULT_SEED", "RINGLET_FAULT_PROFILE"};
    std::optional<std::string> saved_[2];
};

/// The calling shard's injector; throws when its backend injects nothing.
inline detail::fault_backend& this_faults() {
    detail::fault_backend* f = detail::fault_backend::of(detail::shard::current()->io());
    if (!f) throw std::logic_error("the shard's backend does not inject faults");
    return *f;
}

}  // namespace ringlet::test
