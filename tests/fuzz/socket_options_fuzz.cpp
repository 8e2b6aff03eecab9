// libFuzzer target: socket options by name and their text forms.
//
// Input: the first byte picks an option name (a table of the seeds'
// spellings, or, past the table, the input up to the first '=' is the name);
// the rest is the value.
//
// Properties:
// - set_option by name either rejects the text with errc::invalid_argument
//   and a description, or gets as far as setsockopt(2). The descriptor number
//   is one no process can have open, so the kernel answers EBADF: every code
//   path up to the system call runs, and no multicast join can leave this host.
// - Typed: parse accepts exactly when describe_parse_error is empty and
//   from_string does not throw; an accepted value passes check(), and its
//   to_string() parses back to a value printing the same text.
#include "fuzz_support.hpp"

#include <ringlet/net/socket_options.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

using namespace ringlet;
namespace opt = ringlet::net::opt;

namespace {

template <class Option>
void check_typed(std::string_view value) {
    auto parsed = Option::parse(value);
    const std::string why = Option::describe_parse_error(value);
    FUZZ_CHECK(parsed.has_value() == why.empty(), std::string(Option::label) + " parse/describe disagree on " + std::string(value));
    bool threw = false;
    try {
        (void)Option::from_string(value);
    } catch (const std::invalid_argument& e) {
        threw = true;
        FUZZ_CHECK(e.what() == why, std::string("from_string's message differs: ") + e.what());
    }
    FUZZ_CHECK(threw != parsed.has_value(), std::string(Option::label) + " from_string disagrees with parse");
    if (!parsed) {
        FUZZ_CHECK(why.rfind(std::string(Option::label) + ": ", 0) == 0, "description does not name the option: " + why);
        return;
    }
    FUZZ_CHECK(parsed->check().empty(), "parsed value fails check(): " + parsed->check());
    const std::string text = parsed->to_string();
    auto again = Option::parse(text);
    FUZZ_CHECK(again.has_value(), std::string(Option::label) + " printed value does not parse: " + text);
    FUZZ_CHECK(again->to_string() == text, std::string(Option::label) + " printing is not stable: " + text);
}

struct entry {
    std::string_view name;
    void (*typed)(std::string_view value);
};

constexpr entry names[] = {
    {"SO_BROADCAST", &check_typed<opt::broadcast>},
    {":so-reuseaddr", &check_typed<opt::reuse_address>},
    {"so_reuseport", &check_typed<opt::reuse_port>},
    {"SO-KEEPALIVE", &check_typed<opt::keep_alive>},
    {"SO_RCVBUF", &check_typed<opt::receive_buffer>},
    {"so-sndbuf", &check_typed<opt::send_buffer>},
    {"TCP_NODELAY", &check_typed<opt::tcp_no_delay>},
    {"IP_MULTICAST_TTL", &check_typed<opt::ip_multicast_ttl>},
    {"ip-multicast-loop", &check_typed<opt::ip_multicast_loop>},
    {"IP_MULTICAST_IF", &check_typed<opt::ip_multicast_if>},
    {":ip-add-membership", &check_typed<opt::ip_add_membership>},
    {"IP_DROP_MEMBERSHIP", &check_typed<opt::ip_drop_membership>},
    {"IP_ADD_SOURCE_MEMBERSHIP", &check_typed<opt::ip_add_source_membership>},
    {"ip_drop_source_membership", &check_typed<opt::ip_drop_source_membership>},
    {"IPV6_MULTICAST_HOPS", &check_typed<opt::ipv6_multicast_hops>},
    {"IPV6_MULTICAST_LOOP", &check_typed<opt::ipv6_multicast_loop>},
    {"ipv6-multicast-if", &check_typed<opt::ipv6_multicast_if>},
    {"IPV6_JOIN_GROUP", &check_typed<opt::ipv6_join_group>},
    {"IPV6_LEAVE_GROUP", &check_typed<opt::ipv6_leave_group>},
    {"ipv6-add-membership", &check_typed<opt::ipv6_join_group>},
    {"IPV6_DROP_MEMBERSHIP", &check_typed<opt::ipv6_leave_group>},
};
constexpr std::size_t name_count = sizeof names / sizeof names[0];

/// A descriptor number no process can have open (far above any RLIMIT_NOFILE),
/// so setsockopt(2) answers EBADF whatever else the process opens meanwhile.
constexpr int never_open_fd = 0x7ffffff0;

void check_by_name(std::string_view name, std::string_view value) {
    const auto s = net::socket_ref::from_fd(never_open_fd);
    auto r = net::set_option(s, name, value);
    FUZZ_CHECK(!r, "set_option on a closed descriptor succeeded: " + std::string(name));
    const std::string why = net::describe_set_option_error(name, value, r.error());
    FUZZ_CHECK(!why.empty(), "empty description for " + std::string(name));
    if (r.error() != errc::invalid_argument) {
        FUZZ_CHECK(r.error() == std::errc::bad_file_descriptor, "expected EBADF, got " + why);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        // The case that once reached memcpy with a null pointer.
        for (const entry& e : names) {
            check_by_name(e.name, std::string_view{});
            e.typed(std::string_view{});
        }
        return 0;
    }
    const std::string_view rest{reinterpret_cast<const char*>(data) + 1, size - 1};
    if (data[0] < name_count) {
        const entry& e = names[data[0]];
        check_by_name(e.name, rest);
        e.typed(rest);
    } else {
        const std::size_t split = rest.find('=');
        const std::string_view name = rest.substr(0, split);
        const std::string_view value = split == std::string_view::npos ? std::string_view{} : rest.substr(split + 1);
        check_by_name(name, value);
    }
    return 0;
}
