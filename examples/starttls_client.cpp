// starttls_client: connects to an SMTP-style server in plaintext, upgrades
// with STARTTLS (RFC 3207), verifies the certificate, and sends one command
// over TLS — the seeds' upgradeToTLS.
//
//   build/examples/starttls_client 127.0.0.1:40125 --ca ca.pem --name localhost
//       # prints the TLS version and cipher, then the server's reply to NOOP
//   build/examples/starttls_client 127.0.0.1:40125 --insecure   # no verification
//
// Pairs with starttls_server. Exit 0 when the reply arrived over TLS, 1 when
// the server or the handshake failed (the message names why), 2 for a bad
// argument.
#include "tls_example_support.hpp"

using namespace example;

namespace {

constexpr const char* usage = R"(usage: starttls_client ADDRESS [--ca FILE] [--name HOST] [--insecure]

Upgrades a plaintext SMTP-style connection with STARTTLS and sends NOOP over TLS.

  ADDRESS      the server: 127.0.0.1:2525, localhost:2525
  --ca FILE    trust these CAs (default: the system's)
  --name HOST  the host name to verify (default: the host in ADDRESS)
  --insecure   do not verify the certificate
  --help       this text
)";

/// Reads one SMTP reply (all its lines); yields its last line.
task<result<std::string>> read_reply(net::buffered_reader<tcp::stream>& in) {
    for (int lines = 0; lines < 100; ++lines) {
        auto line = co_await in.read_line(1000, 10s);
        if (!line) co_return line;
        if (line->size() < 4 || (*line)[3] != '-') co_return line;
    }
    co_return unexpected{errc::message_too_long};
}

task<int> run(std::string address, std::string name, tls::context ctx) {
    std::string error;
    auto candidates = co_await addresses_of(address, error);
    if (candidates.empty()) {
        std::fprintf(stderr, "starttls_client: %s\n", error.c_str());
        co_return 1;
    }
    auto conn = co_await tcp::connect(candidates.front(), {.timeout = 10s});
    if (!conn) {
        std::fprintf(stderr, "starttls_client: %s\n", net::describe_error("connect", candidates.front(), conn.error()).c_str());
        co_return 1;
    }
    net::buffered_reader<tcp::stream> in{*conn};
    auto greeting = co_await read_reply(in);
    if (!greeting || greeting->rfind("220", 0) != 0) {
        std::fprintf(stderr, "starttls_client: no 220 greeting\n");
        co_return 1;
    }
    (void)co_await conn->write_all("EHLO ringlet.example\r\n");
    auto ehlo = co_await read_reply(in);
    if (!ehlo) co_return 1;
    (void)co_await conn->write_all("STARTTLS\r\n");
    auto ready = co_await read_reply(in);
    if (!ready || ready->rfind("220", 0) != 0) {
        std::fprintf(stderr, "starttls_client: the server refused STARTTLS\n");
        co_return 1;
    }
    tls::client_handshake_options o;
    o.server_name = name;
    o.already_read = in.buffered();
    auto secure = co_await tls::client_handshake(std::move(*conn), ctx, o);
    if (!secure) {
        std::fprintf(stderr, "starttls_client: %s\n",
                     tls::describe_error("TLS handshake with " + name, secure.error()).c_str());
        co_return 1;
    }
    std::printf("upgraded: %s %s\n", secure->version().c_str(), secure->cipher().c_str());
    (void)co_await secure->write_all("NOOP\r\n");
    net::buffered_reader<tls::stream> tin{*secure};
    auto reply = co_await tin.read_line(1000, 10s);
    if (!reply) {
        std::fprintf(stderr, "starttls_client: %s\n", tls::describe_error("reading the reply", reply.error()).c_str());
        co_return 1;
    }
    std::printf("%s\n", reply->c_str());
    (void)co_await secure->write_all("QUIT\r\n");
    (void)co_await tin.read_line(1000, 5s);
    (void)co_await secure->close(1s);
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const char* me = "starttls_client";
    std::string address, ca, name;
    bool insecure = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            return 0;
        } else if (arg == "--ca") {
            ca = option_value(me, argc, argv, i);
        } else if (arg == "--name") {
            name = option_value(me, argc, argv, i);
        } else if (arg == "--insecure") {
            insecure = true;
        } else if (arg.size() > 1 && arg[0] == '-') {
            usage_error(me, "unknown option \"" + std::string(arg) + "\"");
        } else if (address.empty()) {
            address = arg;
        } else {
            usage_error(me, "unexpected argument \"" + std::string(arg) + "\"");
        }
    }
    if (address.empty()) usage_error(me, "missing the server address");
    if (auto why = check_address_syntax(address); !why.empty()) usage_error(me, why);
    if (name.empty()) {
        if (auto hp = net::parse_host_port(address)) name = hp->host;
    }
    const tls::context ctx = load_context(me, [&] {
        tls::client_options o;
        o.ca_file = ca;
        o.verify_peer = !insecure;
        return tls::context::client(o);
    });
    return run_on_one_shard(me, [&]() { return run(address, name, ctx); });
}
