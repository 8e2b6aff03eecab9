// Uses ringlet through its public headers and library only, as a consumer would:
// runs a two-shard runtime, sleeps, makes a cross-shard call and reports a
// ringlet error, then runs the README's first example (readme.cpp).
// ../run.sh and ../install_check.sh check the lines it prints; the exit
// status says whether the values were the expected ones.
#include <ringlet/ringlet.hpp>

#include <cstdio>
#include <string>

using namespace std::chrono_literals;

int readme_main();  // readme.cpp

int main() {
    ringlet::runtime rt{{.shards = 2, .handle_signals = false}};
    const int value = rt.run([]() -> ringlet::task<int> {
        auto slept = co_await ringlet::sleep_for(1ms);
        if (!slept) co_return -1;
        co_return co_await ringlet::submit_to(1, [] { return 40 + static_cast<int>(ringlet::this_shard::id()) + 1; });
    });
    const std::string timed_out = ringlet::make_error_code(ringlet::errc::timed_out).message();
    std::printf("result: %d\n", value);
    std::printf("timed_out: %s\n", timed_out.c_str());
    const int readme = readme_main();
    std::printf("readme: %d\n", readme);
    return value == 42 && readme == 0 ? 0 : 1;
}
