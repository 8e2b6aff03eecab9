// unix_echo: an echo server and its client in one program, over a unix
// socket with an abstract name (nothing appears in the file system).
//
//   build/examples/unix_echo                    # on @ringlet-unix-echo-<pid>
//   build/examples/unix_echo @my-echo           # a name of your choice
//   build/examples/unix_echo unix:/tmp/e.sock   # a path works too (removed on exit)
//
// Prints `listening on @…`, then one line per message the client sends
// (lines of text and a 256 KiB block) and gets back intact, and the peer's
// credentials as the server saw them; exits 0. Exit 1 names what failed; 2
// means a bad argument.
#include "example_support.hpp"

#include <ringlet/net/buffered_reader.hpp>

#include <unistd.h>

using namespace example;

namespace {

constexpr const char* usage = R"(usage: unix_echo [ADDRESS]

Runs an echo server on a unix socket and a client that talks to it.

  ADDRESS   @abstract-name (default: @ringlet-unix-echo-<pid>) or unix:/path
  --help    this text
)";

net::address parse_args(int argc, char** argv) {
    std::string text = "@ringlet-unix-echo-" + std::to_string(::getpid());
    bool given = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        }
        if (arg.size() > 1 && arg[0] == '-') usage_error("unix_echo", "unknown option \"" + std::string(arg) + "\"");
        if (given) usage_error("unix_echo", "unexpected argument \"" + std::string(arg) + "\"");
        text = arg;
        given = true;
    }
    auto where = net::address::parse(text);
    if (!where) usage_error("unix_echo", net::address::describe_parse_error(text));
    if (!is_unix(*where)) usage_error("unix_echo", "address \"" + text + "\" is not a unix path or abstract name");
    return *where;
}

/// Line-oriented client: each line must come back as sent, then a binary block.
task<int> client(const net::address& where) {
    auto conn = co_await local::connect(where, {.timeout = 5s});
    if (!conn) {
        std::fprintf(stderr, "unix_echo: %s\n", net::describe_error("connect", where, conn.error()).c_str());
        co_return 1;
    }
    net::buffered_reader in{*conn};
    static constexpr std::string_view lines[] = {"hello over a unix socket", "abstract names need no file", "bye"};
    for (std::string_view line : lines) {
        const std::string sent = std::string(line) + "\n";
        auto w = co_await conn->write_all(sent, 5s);
        if (!w) {
            std::fprintf(stderr, "unix_echo: write: %s\n", w.error().message().c_str());
            co_return 1;
        }
        auto back = co_await in.read_line(1024, 5s);
        if (!back || *back != line) {
            std::fprintf(stderr, "unix_echo: line \"%s\" came back as %s\n", std::string(line).c_str(),
                         back ? ("\"" + *back + "\"").c_str() : back.error().message().c_str());
            co_return 1;
        }
        std::printf("echoed line: %s\n", back->c_str());
    }
    std::string block(256 * 1024, '\0');
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(i * 131 + i / 7);
    std::string echo(block.size(), '\0');
    auto [sent, received] = co_await when_all(conn->write_all(block, 5s),
                                              in.read_exact(std::as_writable_bytes(std::span{echo}), 5s));
    if (!sent || !received || echo != block) {
        std::fprintf(stderr, "unix_echo: the 256 KiB block did not come back intact\n");
        co_return 1;
    }
    std::printf("echoed block: %zu bytes intact\n", block.size());
    (void)co_await conn->close();
    co_return 0;
}

task<int> run(const net::address& where) {
    auto lst = local::listen(where);
    if (!lst) {
        std::fprintf(stderr, "unix_echo: %s\n", net::describe_error("listen", where, lst.error()).c_str());
        co_return 1;
    }
    std::printf("listening on %s\n", where.to_string().c_str());
    std::fflush(stdout);

    // The server: the first connection is inspected, then echoed.
    task_group server;
    server.spawn([](local::listener& l) -> task<void> {
        auto conn = co_await l.accept(5s);
        if (!conn) co_return;
        if (auto who = conn->peer_credentials()) {
            std::printf("server: client is pid %d, uid %d\n", static_cast<int>(who->pid), static_cast<int>(who->uid));
        }
        co_await echo_connection(std::move(*conn));
    }(*lst));
    const int code = co_await client(where);
    server.request_stop();
    co_await server.wait();
    (void)co_await lst->close();
    co_return code;
}

}  // namespace

int main(int argc, char** argv) {
    const net::address where = parse_args(argc, argv);
    return run_on_one_shard("unix_echo", [&]() { return run(where); });
}
