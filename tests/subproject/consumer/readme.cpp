// The README's snippets, as a user copies them, compiled with -Wextra -Werror
// (see meson.build): designated-initializer options must not warn
// (-Wmissing-field-initializers) under GCC 12 or Clang 14. readme_main() is
// the README's first example and runs; readme_snippets() only compiles.
#include <ringlet/ringlet.hpp>

using namespace ringlet;
using namespace std::chrono_literals;

// README: the first example, verbatim but for its name.
int readme_main() {
    runtime rt{{.shards = 2}};                 // 0 (default) = one shard per CPU
    return rt.run([]() -> task<int> {          // entry task on shard 0
        auto where = co_await submit_to(1, [] { return this_shard::id(); });
        auto slept = co_await sleep_for(10ms);  // result<void>; cancelled on SIGINT/SIGTERM
        co_return slept && where == 1 ? 0 : 1;
    });
}

task<int> after(std::chrono::milliseconds wait, int value) {
    (void)co_await sleep_for(wait);
    co_return value;
}

// README: "The seeds' operations in ringlet", one line each.
task<void> readme_snippets(net::address address, std::string host, std::uint16_t port) {
    const std::size_t max_length = 8192;
    const auto timeout = 30s;
    auto any = co_await net::connect(address, {.timeout = 5s});
    auto listening = net::listen(address, {.backlog = 128});
    auto c = co_await tcp::connect(host, port, {.bind = net::address::ipv4_any(0), .timeout = 5s});
    auto d = co_await tcp::connect(address, {.timeout = 5s});
    auto l = tcp::listen(address, {.backlog = 128, .reuse_address = true, .reuse_port = false});
    auto u = co_await udp::connect(address);
    auto b = udp::bind(address);
    auto r = co_await net::resolve(host, port, {.family = net::ip_family::any, .timeout = 5s});
    auto lu = local::listen(address, {.backlog = 16});
    auto lc = co_await local::connect(address, {.timeout = 1s});
    if (!c || !d || !l || !u || !b || !r || !lu || !lc || !any || !listening) co_return;
    tcp::stream& s = *c;
    net::buffered_reader in{s};
    auto line = co_await in.read_line(max_length, timeout);
    (void)line;
    s.set_deadline(5s);
    (void)net::set_option(s, net::opt::broadcast{true});
    (void)net::set_option(*b, "ip-add-membership", "239.1.2.3");
    (void)co_await s.shutdown(net::shutdown_how::write);
    auto ctx = tls::context::client();
    auto t = co_await tls::connect(host, port, ctx);
    tls::client_options options{.verify_peer = false};
    auto insecure = tls::context::client(options);
    (void)t;
    (void)insecure;
    auto first = co_await when_any(after(1ms, 1), after(2ms, 2));  // losers cancelled
    (void)first;
    (void)co_await s.close();
}
