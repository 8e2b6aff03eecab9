// multicast_sender: sends datagrams to a multicast group.
//
// Multicast reaches every member on the network it is sent on. Run this on
// a network you control — your own LAN, a lab, or a throwaway network
// namespace (see multicast_receiver.cpp for one) — never to probe someone
// else's. The default TTL of 1 keeps datagrams on the local link.
//
//   build/examples/multicast_sender 239.1.2.3:5000 hello                   # one datagram
//   build/examples/multicast_sender 239.1.2.3:5000 --interface eth0 --count 5 --interval 200
//   build/examples/multicast_sender 239.1.2.3:5000 --ttl 4 --no-loop tick  # cross 3 routers; not to this host
//   build/examples/multicast_sender '[ff12::1%eth0]:5000' hello            # IPv6: the scope names the interface
//
// Prints one line per datagram ("sent 5 bytes to 239.1.2.3:5000") and exits
// 0; 1 when a send fails (the message names the group and the errno); 2 for
// a bad argument, naming the option and the value
// ("--ttl: IP_MULTICAST_TTL: \"300\" is out of range 0..255").
#include "multicast_support.hpp"

#include <cstring>
#include <optional>
#include <vector>

using namespace example;

namespace {

constexpr const char* usage = R"(usage: multicast_sender GROUP:PORT [MESSAGE...] [options]

Sends each MESSAGE (default: "hello from multicast_sender") as one datagram
to the multicast group.

  GROUP:PORT        239.1.2.3:5000, or [ff12::1%eth0]:5000 for IPv6
  --interface IF    leave by this interface: a name, an index, or (IPv4) its address
  --ttl N           routers the datagrams may cross, 0..255 (default 1: this link)
  --no-loop         do not deliver to members on this host
  --count N         send the messages N times (default 1)
  --interval MS     pause between rounds (default 1000)
  --help            this text

Run it only on a network you control.
)";

struct options {
    net::address group;
    std::vector<std::string> messages;
    std::string interface;
    std::optional<int> ttl;
    bool loop = true;
    long count = 1;
    long interval_ms = 1000;
};

options parse_args(int argc, char** argv) {
    options out;
    std::optional<net::address> group;
    std::string ttl_text;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const auto value = [&](const char* what) -> std::string {
            if (i + 1 == argc) usage_error("multicast_sender", std::string(arg) + " needs " + what);
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else if (arg == "--interface") {
            out.interface = value("an interface");
        } else if (arg == "--ttl") {
            ttl_text = value("a number");
        } else if (arg == "--no-loop") {
            out.loop = false;
        } else if (arg == "--count") {
            out.count = static_cast<long>(number_value("multicast_sender", argc, argv, i, 1, 1'000'000));
        } else if (arg == "--interval") {
            out.interval_ms = static_cast<long>(number_value("multicast_sender", argc, argv, i, 0, 3'600'000));
        } else if (arg.size() > 1 && arg[0] == '-') {
            usage_error("multicast_sender", "unknown option \"" + std::string(arg) + "\"");
        } else if (!group) {
            group = group_argument("multicast_sender", arg);
        } else {
            out.messages.emplace_back(arg);
        }
    }
    if (!group) usage_error("multicast_sender", "missing the group to send to (GROUP:PORT)");
    out.group = *group;
    const bool v6 = out.group.family() == net::address_family::ipv6;
    // The option types judge the values, so the messages name the socket option too.
    if (!ttl_text.empty()) {
        const std::string why = v6 ? net::opt::ipv6_multicast_hops::describe_parse_error(ttl_text)
                                   : net::opt::ip_multicast_ttl::describe_parse_error(ttl_text);
        if (!why.empty()) usage_error("multicast_sender", "--ttl: " + why);
        out.ttl = std::atoi(ttl_text.c_str());
    }
    if (!out.interface.empty()) {
        const std::string why = v6 ? net::opt::ipv6_multicast_if::describe_parse_error(out.interface)
                                   : net::opt::ip_multicast_if::describe_parse_error(out.interface);
        if (!why.empty()) usage_error("multicast_sender", "--interface: " + why);
    }
    if (out.messages.empty()) out.messages.emplace_back("hello from multicast_sender");
    return out;
}

/// Sets `option` or says why not; true when set.
template <class Option>
bool apply(udp::socket& s, const Option& option) {
    auto r = net::set_option(s, option);
    if (!r) std::fprintf(stderr, "multicast_sender: %s\n", net::describe_option_error(option, r.error()).c_str());
    return static_cast<bool>(r);
}

task<int> send(const options& o) {
    const bool v6 = o.group.family() == net::address_family::ipv6;
    auto s = udp::open(o.group.family());
    if (!s) {
        std::fprintf(stderr, "multicast_sender: socket: %s\n", s.error().message().c_str());
        co_return 1;
    }
    bool ok = true;
    if (v6) {
        if (!o.interface.empty()) ok = ok && apply(*s, net::opt::ipv6_multicast_if::from_string(o.interface));
        if (o.ttl) ok = ok && apply(*s, net::opt::ipv6_multicast_hops{*o.ttl});
        ok = ok && apply(*s, net::opt::ipv6_multicast_loop{o.loop});
    } else {
        if (!o.interface.empty()) ok = ok && apply(*s, net::opt::ip_multicast_if::from_string(o.interface));
        if (o.ttl) ok = ok && apply(*s, net::opt::ip_multicast_ttl{*o.ttl});
        ok = ok && apply(*s, net::opt::ip_multicast_loop{o.loop});
    }
    if (!ok) co_return 1;
    for (long round = 0; round < o.count; ++round) {
        if (round > 0) {
            auto slept = co_await sleep_for(std::chrono::milliseconds(o.interval_ms));
            if (!slept) break;  // stopped
        }
        for (const std::string& m : o.messages) {
            auto sent = co_await s->send_to(o.group, m, 5s);
            if (!sent) {
                std::fprintf(stderr, "multicast_sender: %s\n", net::describe_error("send to", o.group, sent.error()).c_str());
                co_return 1;
            }
            std::printf("sent %zu bytes to %s\n", *sent, o.group.to_string().c_str());
            std::fflush(stdout);
        }
    }
    (void)co_await s->close();
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const options opts = parse_args(argc, argv);
    return run_on_one_shard("multicast_sender", [&]() { return send(opts); });
}
