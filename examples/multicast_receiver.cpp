// multicast_receiver: joins a multicast group and prints every datagram sent to it.
//
// Multicast reaches every member on the network it is sent on. Run this on
// a network you control — your own LAN, a lab, or a throwaway network
// namespace like the one below — never to probe someone else's.
//
//   build/examples/multicast_receiver 239.1.2.3:5000                    # the kernel picks the interface
//   build/examples/multicast_receiver 239.1.2.3:5000 --interface eth0   # or an index, or its IPv4 address
//   build/examples/multicast_receiver 232.1.2.3:5000 --interface 10.0.0.5 --source 10.0.0.1   # SSM
//   build/examples/multicast_receiver '[ff12::1%eth0]:5000'              # IPv6: the scope names the interface
//
// A private namespace to try it in (as root; the veth pair never leaves it):
//   unshare -n sh -c 'ip link set lo up; ip link add v0 type veth peer name v1; ip addr add 10.9.0.1/24 dev v0
//     ip link set v0 up; ip link set v1 up; sleep 1
//     build/examples/multicast_receiver 239.1.2.3:5000 --interface v0 --count 1 &
//     sleep 0.3; build/examples/multicast_sender 239.1.2.3:5000 --interface v0 hello; wait'
//
// It prints `listening on <group:port>` once it has joined, then one line
// per datagram ("10.0.0.1:41234: hello"). Ctrl-C or SIGTERM (or --count N
// datagrams) makes it leave the group and exit 0. Exit 2: a bad argument
// (the message names the option and value); 1: the join or bind failed.
#include "multicast_support.hpp"

#include <netinet/in.h>

#include <cstring>
#include <optional>
#include <utility>
#include <vector>

using namespace example;

namespace {

constexpr const char* usage = R"(usage: multicast_receiver GROUP:PORT [--interface IF] [--source ADDRESS] [--count N]

Joins the multicast group and prints each datagram sent to it, until
SIGINT or SIGTERM (or N datagrams).

  GROUP:PORT        239.1.2.3:5000, or [ff12::1%eth0]:5000 for IPv6
  --interface IF    join on this interface: a name, an index, or (IPv4) its address
  --source ADDRESS  IPv4 source-specific membership: only datagrams from ADDRESS
                    (with --interface as an IPv4 address, or none)
  --count N         exit 0 after N datagrams
  --help            this text

Run it only on a network you control.
)";

struct options {
    net::address group;
    std::string interface;
    std::string source;
    long count = 0;
};

void check_membership(const options& o);

options parse_args(int argc, char** argv) {
    options out;
    std::optional<net::address> group;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const auto value = [&](const char* what) -> std::string {
            if (i + 1 == argc) usage_error("multicast_receiver", std::string(arg) + " needs " + what);
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else if (arg == "--interface") {
            out.interface = value("an interface");
        } else if (arg == "--source") {
            out.source = value("an address");
        } else if (arg == "--count") {
            out.count = static_cast<long>(number_value("multicast_receiver", argc, argv, i, 1, 1'000'000'000));
        } else if (arg.size() > 1 && arg[0] == '-') {
            usage_error("multicast_receiver", "unknown option \"" + std::string(arg) + "\"");
        } else if (!group) {
            group = group_argument("multicast_receiver", arg);
        } else {
            usage_error("multicast_receiver", "unexpected argument \"" + std::string(arg) + "\"");
        }
    }
    if (!group) usage_error("multicast_receiver", "missing the group to join (GROUP:PORT)");
    out.group = *group;
    check_membership(out);
    return out;
}

enum class kind { ipv4, ipv4_source, ipv6 };

/// The membership option's text form ("239.1.2.3%eth0", "232.1.2.3@10.0.0.5 from 10.0.0.1", "ff12::1%eth0").
std::pair<kind, std::string> membership_text(const options& o) {
    const std::string group = group_host(o.group);
    if (o.group.family() == net::address_family::ipv6) {
        if (!o.source.empty()) usage_error("multicast_receiver", "--source is for IPv4 groups");
        return {kind::ipv6, o.interface.empty() ? o.group.host() : group + "%" + o.interface};
    }
    std::string where;
    if (!o.interface.empty()) where = (is_ipv4_literal(o.interface) ? "@" : "%") + o.interface;
    if (o.source.empty()) return {kind::ipv4, group + where};
    if (!where.empty() && where[0] == '%') usage_error("multicast_receiver", "--source needs --interface as an IPv4 address");
    return {kind::ipv4_source, group + where + " from " + o.source};
}

/// Sets the membership option `Option` from `text`: "" or why the kernel refused.
template <class Option>
std::string apply(udp::socket& s, const std::string& text) {
    const auto option = Option::from_string(text);  // checked in parse_args
    auto r = net::set_option(s, option);
    return r ? std::string{} : net::describe_option_error(option, r.error());
}

/// Joins (or leaves) the group as the options say; "" or why it failed.
std::string membership(udp::socket& s, const options& o, bool join) {
    const auto [how, text] = membership_text(o);
    switch (how) {
        case kind::ipv6:
            return join ? apply<net::opt::ipv6_join_group>(s, text) : apply<net::opt::ipv6_leave_group>(s, text);
        case kind::ipv4_source:
            return join ? apply<net::opt::ip_add_source_membership>(s, text)
                        : apply<net::opt::ip_drop_source_membership>(s, text);
        case kind::ipv4:
            break;
    }
    return join ? apply<net::opt::ip_add_membership>(s, text) : apply<net::opt::ip_drop_membership>(s, text);
}

/// Exits 2 when the membership the options describe does not parse (a bad
/// interface or source), naming the option and the value.
void check_membership(const options& o) {
    const auto [how, text] = membership_text(o);
    const std::string why = how == kind::ipv6          ? net::opt::ipv6_join_group::describe_parse_error(text)
                            : how == kind::ipv4_source ? net::opt::ip_add_source_membership::describe_parse_error(text)
                                                       : net::opt::ip_add_membership::describe_parse_error(text);
    if (!why.empty()) usage_error("multicast_receiver", why);
}

task<int> receive(const options& o) {
    const bool v6 = o.group.family() == net::address_family::ipv6;
    const net::address any = v6 ? net::address::ipv6_any(o.group.port()) : net::address::ipv4_any(o.group.port());
    // SO_REUSEADDR: other receivers on this host may share the port.
    auto s = udp::bind(any, {.reuse_address = true});
    if (!s) {
        std::fprintf(stderr, "multicast_receiver: %s\n", net::describe_error("bind", any, s.error()).c_str());
        co_return 1;
    }
    // Hear only the groups this socket joined, not every group any socket on the host joined.
    (void)(v6 ? net::set_option(*s, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0) : net::set_option(*s, IPPROTO_IP, IP_MULTICAST_ALL, 0));
    if (std::string why = membership(*s, o, true); !why.empty()) {
        std::fprintf(stderr, "multicast_receiver: %s\n", why.c_str());
        co_return 1;
    }
    std::printf("listening on %s\n", o.group.to_string().c_str());
    std::fflush(stdout);
    std::vector<std::byte> buf(65536);
    for (long seen = 0; o.count == 0 || seen < o.count; ++seen) {
        auto got = co_await s->recv_from(buf);
        if (!got) {
            if (got.error() != errc::operation_canceled) std::fprintf(stderr, "multicast_receiver: %s\n", got.error().message().c_str());
            break;
        }
        std::printf("%s: %.*s%s\n", got->from.to_string().c_str(), static_cast<int>(got->size),
                    reinterpret_cast<const char*>(buf.data()), got->truncated ? " (truncated)" : "");
        std::fflush(stdout);
    }
    (void)membership(*s, o, false);
    (void)co_await s->close();
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const options opts = parse_args(argc, argv);
    return run_on_one_shard("multicast_receiver", [&]() { return receive(opts); });
}
