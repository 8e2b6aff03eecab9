// starttls_server: a tiny SMTP-style server that upgrades to TLS on STARTTLS
// (RFC 3207) and then answers every command with "250 <command>".
//
//   build/examples/starttls_server 127.0.0.1:0 --cert server.pem --key server.key
//       # prints: listening on 127.0.0.1:40125
//   openssl s_client -starttls smtp -connect 127.0.0.1:40125 -CAfile ca.pem -quiet
//   build/examples/starttls_client 127.0.0.1:40125 --ca ca.pem --name localhost
//
// The plaintext phase: "220" greeting, EHLO answered with a 250 list that
// offers STARTTLS, STARTTLS answered "220 ready" and the TLS handshake on the
// same connection (bytes the client pipelined behind STARTTLS are handed to
// TLS, never lost). Other commands before STARTTLS get "530 must issue
// STARTTLS first"; QUIT ends either phase with "221". SIGTERM stops it
// gracefully (exit 0); 2 means a bad argument, 1 a setup failure.
// Every connection gets server_limits (--help): idle, per-command (read)
// and write timeouts, the handshake timeout, and --max-connections.
// While --max-handshakes handshakes run, STARTTLS is answered with RFC
// 3207's "454 TLS not available due to temporary reason".
#include "tls_example_support.hpp"

using namespace example;

namespace {

constexpr const char* usage = R"(usage: starttls_server ADDRESS --cert FILE --key FILE [limits]

Speaks just enough SMTP for STARTTLS, then answers each command over TLS.

  ADDRESS      where to listen: 127.0.0.1:2525 (port 0: any free port)
  --cert FILE  the certificate chain (PEM)
  --key FILE   its private key (PEM)
  --help       this text
)";

bool starts_with_word(std::string_view line, std::string_view word) {
    if (line.size() < word.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i) {
        if (std::toupper(static_cast<unsigned char>(line[i])) != word[i]) return false;
    }
    return line.size() == word.size() || line[word.size()] == ' ';
}

/// The TLS phase: every command answered until QUIT or the end.
task<void> secure_phase(tls::stream conn, const server_limits& limits) {
    net::buffered_reader<tls::stream> in{conn};
    for (int commands = 0; commands < 10000; ++commands) {
        auto line = co_await in.read_line(1000, limits.line_timeout());
        if (!line) break;
        if (starts_with_word(*line, "QUIT")) {
            (void)co_await conn.write_all("221 bye\r\n");
            break;
        }
        auto sent = co_await conn.write_all("250 " + *line + "\r\n");
        if (!sent) break;
    }
    (void)co_await conn.close(1s);
}

// The connection arrives with the idle and write timeouts set (accept_each's
// gate); they stay with the transport into the TLS phase.
struct server_state {
    tls::context ctx;
    const server_limits& limits;
    std::size_t handshaking = 0;  // handshakes running now, against limits.max_handshakes
};

task<void> session(tcp::stream conn, server_state& server) {
    const server_limits& limits = server.limits;
    net::buffered_reader<tcp::stream> in{conn};
    auto hello = co_await conn.write_all("220 ringlet ESMTP starttls example\r\n");
    if (!hello) co_return;
    for (int commands = 0; commands < 100; ++commands) {
        auto line = co_await in.read_line(1000, limits.line_timeout());
        if (!line) break;
        std::string reply;
        if (starts_with_word(*line, "EHLO")) {
            reply = "250-ringlet\r\n250 STARTTLS\r\n";
        } else if (starts_with_word(*line, "HELO")) {
            reply = "250 ringlet\r\n";
        } else if (starts_with_word(*line, "QUIT")) {
            (void)co_await conn.write_all("221 bye\r\n");
            break;
        } else if (starts_with_word(*line, "STARTTLS") && limits.max_handshakes != 0 &&
                   server.handshaking >= limits.max_handshakes) {
            reply = "454 TLS not available due to temporary reason\r\n";  // RFC 3207
        } else if (starts_with_word(*line, "STARTTLS")) {
            auto ready = co_await conn.write_all("220 ready to start TLS\r\n");
            if (!ready) break;
            const std::vector<std::byte> early(in.buffered().begin(), in.buffered().end());
            tls::server_handshake_options o;
            o.already_read = early;
            o.handshake_timeout = limits.handshake();
            ++server.handshaking;
            auto secure = co_await tls::server_handshake(std::move(conn), server.ctx, o);
            --server.handshaking;
            if (!secure) {
                std::fprintf(stderr, "starttls_server: %s\n", tls::describe_error("handshake", secure.error()).c_str());
                co_return;
            }
            co_await secure_phase(std::move(*secure), limits);
            co_return;
        } else {
            reply = "530 must issue STARTTLS first\r\n";
        }
        auto sent = co_await conn.write_all(reply);
        if (!sent) break;
    }
    (void)co_await conn.close();
}

task<int> serve(std::string address, tls::context ctx, const server_limits& limits) {
    std::string error;
    auto candidates = co_await addresses_of(address, error);
    if (candidates.empty()) {
        std::fprintf(stderr, "starttls_server: %s\n", error.c_str());
        co_return 1;
    }
    auto lst = tcp::listen(candidates.front());
    if (!lst) {
        std::fprintf(stderr, "starttls_server: %s\n", net::describe_error("listen", candidates.front(), lst.error()).c_str());
        co_return 1;
    }
    std::printf("listening on %s\n", lst->local_address()->to_string().c_str());
    std::fflush(stdout);
    net::connection_gate gate{limits.connection()};
    server_state state{.ctx = std::move(ctx), .limits = limits};
    task_group sessions;
    // Until SIGINT/SIGTERM begins the drain: then new clients are refused and
    // the sessions under way get the runtime's drain timeout to finish.
    co_await accept_each(*lst, sessions, gate, [&state](tcp::stream conn) { return session(std::move(conn), state); });
    (void)co_await lst->close();
    co_await sessions.wait();
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const char* me = "starttls_server";
    std::string address, cert, key;
    server_limits limits;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            print_usage(usage, line_limit_options | tls_limit_options);
        } else if (take_limit_option(me, argc, argv, i, limits, line_limit_options | tls_limit_options)) {
            continue;
        } else if (arg == "--cert") {
            cert = option_value(me, argc, argv, i);
        } else if (arg == "--key") {
            key = option_value(me, argc, argv, i);
        } else if (arg.size() > 1 && arg[0] == '-') {
            usage_error(me, "unknown option \"" + std::string(arg) + "\"");
        } else if (address.empty()) {
            address = arg;
        } else {
            usage_error(me, "unexpected argument \"" + std::string(arg) + "\"");
        }
    }
    if (address.empty()) usage_error(me, "missing the address to listen on");
    if (cert.empty() || key.empty()) usage_error(me, "--cert and --key are required");
    if (auto why = check_address_syntax(address); !why.empty()) usage_error(me, why);
    const tls::context ctx = load_context(me, [&] {
        tls::server_options o;
        o.certificate_chain_file = cert;
        o.private_key_file = key;
        return tls::context::server(o);
    });
    return run_on_one_shard(me, [&]() { return serve(address, ctx, limits); });
}
