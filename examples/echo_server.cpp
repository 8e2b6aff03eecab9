// echo_server: sends every byte it receives back to its sender.
//
//   build/examples/echo_server 127.0.0.1:0             # prints: listening on 127.0.0.1:41377
//   build/examples/echo_server [::1]:8000 --shards 2   # one SO_REUSEPORT listener per shard
//   build/examples/echo_server unix:/tmp/echo.sock     # or @echo for an abstract name
//   build/examples/echo_server localhost:8000          # host names are resolved first
//
// Then, from another terminal: build/examples/echo_client <the printed address>
// (or `socat - TCP:127.0.0.1:41377`). The one line on stdout is
// `listening on <address>` with the real port, printed (and flushed) once
// connections are accepted. Ctrl-C, SIGTERM or SIGHUP stops it gracefully:
// it stops accepting at once (closing the listener; a unix socket file is
// removed), lets the connections finish for up to --drain-timeout seconds,
// then cancels the rest, ending each connection with a FIN, and exits 0; a
// second signal cancels at once. Exit 2 means a bad argument, 1 that it
// could not listen (the message names the address).
//
//   build/examples/echo_server 127.0.0.1:0 --drain-timeout 30 --sighup ignore
//
// Every connection gets the limits of example_support.hpp's server_limits
// (--idle-timeout, --write-timeout, --max-connections; see --help): a
// client that sends nothing for the idle timeout, or stops reading its
// echo for the write timeout, is closed.
//
// TCP is served on every shard (`--shards N`, default: one per core), each
// with its own listener on the same port (SO_REUSEPORT, so the kernel spreads
// connections over them) and one task per connection. A unix socket is served
// by one shard.
#include "example_support.hpp"

#include <cstring>
#include <memory>

using namespace example;

namespace {

constexpr const char* usage = R"(usage: echo_server ADDRESS [--shards N] [--drain-timeout S] [--sighup stop|ignore] [limits]

Echoes every byte each client sends back to it, until SIGINT, SIGTERM or SIGHUP.

  ADDRESS       where to listen: 127.0.0.1:8000, [::1]:8000, localhost:8000,
                unix:/path/to.sock or @abstract-name (port 0: any free port)
  --shards N    serve TCP on N shards, one listener each (default: all cores)
  --drain-timeout S
                at a stop, let connections finish for up to S seconds, then
                cancel them (default 10; 0: at once)
  --sighup stop|ignore
                what SIGHUP does (default: stop, like SIGTERM)
  --help        this text

Prints "listening on <address>" once it accepts connections.
)";

struct options {
    std::string address;
    unsigned shards = 0;
    std::chrono::seconds drain_timeout{10};
    sighup_action sighup = sighup_action::stop;
    server_limits limits;  // an echo has no requests: the idle timeout bounds each read
};

options parse_args(int argc, char** argv) {
    options out;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            print_usage(usage, connection_limit_options);
        } else if (take_limit_option("echo_server", argc, argv, i, out.limits)) {
            continue;
        } else if (arg == "--shards") {
            out.shards = static_cast<unsigned>(number_value("echo_server", argc, argv, i, 1, 1024));
        } else if (arg == "--drain-timeout") {
            out.drain_timeout = std::chrono::seconds(number_value("echo_server", argc, argv, i, 0, 86400));
        } else if (arg == "--sighup") {
            const std::string what = option_value("echo_server", argc, argv, i);
            if (what == "stop") out.sighup = sighup_action::stop;
            else if (what == "ignore") out.sighup = sighup_action::ignore;
            else usage_error("echo_server", "--sighup \"" + what + "\" is neither stop nor ignore");
        } else if (arg.size() > 1 && arg[0] == '-') {
            usage_error("echo_server", "unknown option \"" + std::string(arg) + "\"");
        } else if (out.address.empty()) {
            out.address = arg;
        } else {
            usage_error("echo_server", "unexpected argument \"" + std::string(arg) + "\"");
        }
    }
    if (out.address.empty()) usage_error("echo_server", "missing the address to listen on");
    if (auto why = check_address_syntax(out.address); !why.empty()) usage_error("echo_server", why);
    return out;
}

void announce(const net::address& where) {
    std::printf("listening on %s\n", where.to_string().c_str());
    std::fflush(stdout);
}

task<int> serve_unix(const net::address& where, net::connection_limits limits) {
    auto lst = local::listen(where);
    if (!lst) {
        std::fprintf(stderr, "echo_server: %s\n", net::describe_error("listen", where, lst.error()).c_str());
        co_return 1;
    }
    announce(where);
    co_await serve_echo(*lst, limits);
    co_return 0;
}

/// tcp::serve's shape, split in two so that the line goes out once every
/// shard's listener is bound: one SO_REUSEPORT listener per shard, one task
/// per connection, accept backing off (and saying so) when out of descriptors.
task<int> serve_tcp(const net::address& wanted, net::connection_limits limits) {
    auto server = tcp::server::bind(wanted, {.limits = limits});
    if (!server) {
        std::fprintf(stderr, "echo_server: %s\n", net::describe_error("listen", wanted, server.error()).c_str());
        co_return 1;
    }
    announce(server->local_address());
    co_await server->serve([](tcp::stream conn) {
        // As every request/response server should: each echo leaves at once
        // instead of waiting (Nagle) for the peer's ACK of the previous one.
        (void)conn.set_nodelay(true);
        return echo_connection(std::move(conn));
    });
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const options opts = parse_args(argc, argv);
    try {
        runtime rt{{.shards = opts.shards, .drain_timeout = opts.drain_timeout, .sighup = opts.sighup}};
        return rt.run([&]() -> task<int> {
            std::string error;
            auto candidates = co_await addresses_of(opts.address, error);
            if (candidates.empty()) {
                std::fprintf(stderr, "echo_server: %s\n", error.c_str());
                co_return 1;
            }
            const net::address& where = candidates.front();
            // (An if, not ?: — GCC 12 evaluates a co_await in both arms of a conditional.)
            if (is_unix(where)) co_return co_await serve_unix(where, opts.limits.connection());
            co_return co_await serve_tcp(where, opts.limits.connection());
        });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        return 1;
    }
}
