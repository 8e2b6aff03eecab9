// kv_server's command table and the commands that run on a key's shard,
// with Redis 7's replies and error texts (t_string.c, expire.c).
#include "commands.hpp"

#include <ringlet/resp/request_parser.hpp>

#include <array>
#include <charconv>
#include <limits>
#include <optional>

namespace kv {

using ringlet::resp::parse_integer;
using ringlet::resp::reply_writer;

namespace {

constexpr command_spec table[] = {
    {"append", command_id::append, 3, route::keyed, true, true, 1, 1, 1, "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist."},
    {"client", command_id::client, -2, route::connection, false, false, 0, 0, 0, "connection", "2.4.0", "A container for client connection commands (SETNAME, GETNAME, ID)."},
    {"command", command_id::command, -1, route::connection, false, false, 0, 0, 0, "server", "2.8.13", "Returns detailed information about all commands."},
    {"config", command_id::config, -2, route::connection, false, false, 0, 0, 0, "server", "2.0.0", "Returns the effective values of configuration parameters (GET only)."},
    {"dbsize", command_id::dbsize, 1, route::all_shards, false, false, 0, 0, 0, "server", "1.0.0", "Returns the number of keys in the database."},
    {"decr", command_id::decr, 2, route::keyed, true, true, 1, 1, 1, "string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."},
    {"decrby", command_id::decrby, 3, route::keyed, true, true, 1, 1, 1, "string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."},
    {"del", command_id::del, -2, route::each_key, true, false, 1, -1, 1, "generic", "1.0.0", "Deletes one or more keys."},
    {"echo", command_id::echo, 2, route::connection, false, false, 0, 0, 0, "connection", "1.0.0", "Returns the given string."},
    {"exists", command_id::exists, -2, route::each_key, false, false, 1, -1, 1, "generic", "1.0.0", "Determines whether one or more keys exist."},
    {"expire", command_id::expire, -3, route::keyed, true, false, 1, 1, 1, "generic", "1.0.0", "Sets the expiration time of a key in seconds."},
    {"flushall", command_id::flushall, -1, route::all_shards, true, false, 0, 0, 0, "server", "1.0.0", "Removes all keys from all databases."},
    {"get", command_id::get, 2, route::keyed, false, false, 1, 1, 1, "string", "1.0.0", "Returns the string value of a key."},
    {"getdel", command_id::getdel, 2, route::keyed, true, false, 1, 1, 1, "string", "6.2.0", "Returns the string value of a key after deleting the key."},
    {"hello", command_id::hello, -1, route::connection, false, false, 0, 0, 0, "connection", "6.0.0", "Handshakes with the server (protocol 2 only)."},
    {"incr", command_id::incr, 2, route::keyed, true, true, 1, 1, 1, "string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."},
    {"incrby", command_id::incrby, 3, route::keyed, true, true, 1, 1, 1, "string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."},
    {"info", command_id::info, -1, route::connection, false, false, 0, 0, 0, "server", "1.0.0", "Returns information and statistics about the server."},
    {"mget", command_id::mget, -2, route::each_key, false, false, 1, -1, 1, "string", "1.0.0", "Atomically returns the string values of one or more keys."},
    {"mset", command_id::mset, -3, route::each_pair, true, true, 1, -1, 2, "string", "1.0.1", "Creates or modifies the string values of one or more keys."},
    {"persist", command_id::persist, 2, route::keyed, true, false, 1, 1, 1, "generic", "2.2.0", "Removes the expiration time of a key."},
    {"pexpire", command_id::pexpire, -3, route::keyed, true, false, 1, 1, 1, "generic", "2.6.0", "Sets the expiration time of a key in milliseconds."},
    {"ping", command_id::ping, -1, route::connection, false, false, 0, 0, 0, "connection", "1.0.0", "Returns the server's liveliness response."},
    {"pttl", command_id::pttl, 2, route::keyed, false, false, 1, 1, 1, "generic", "2.6.0", "Returns the expiration time in milliseconds of a key."},
    {"quit", command_id::quit, -1, route::connection, false, false, 0, 0, 0, "connection", "1.0.0", "Closes the connection."},
    {"select", command_id::select, 2, route::connection, false, false, 0, 0, 0, "connection", "1.0.0", "Changes the selected database (only 0 exists)."},
    {"set", command_id::set, -3, route::keyed, true, true, 1, 1, 1, "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."},
    {"strlen", command_id::strlen, 2, route::keyed, false, false, 1, 1, 1, "string", "2.2.0", "Returns the length of a string value."},
    {"ttl", command_id::ttl, 2, route::keyed, false, false, 1, 1, 1, "generic", "1.0.0", "Returns the expiration time in seconds of a key."},
};

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string format_integer(long long n) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    (void)ec;
    return {digits, end};
}

/// Unix-time milliseconds, for EXAT/PXAT (expiry itself runs on now_ms()).
std::int64_t unix_ms() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

constexpr auto llmax = std::numeric_limits<long long>::max();
constexpr auto llmin = std::numeric_limits<long long>::min();

/// SET's options (Redis's parseExtendedStringArgumentsOrReply).
void set_command(store& s, std::span<const std::string_view> args, reply_writer& out, std::int64_t now) {
    bool nx = false, xx = false, get = false, keepttl = false;
    enum { none, ex, px, exat, pxat } unit = none;
    std::string_view amount;
    for (std::size_t j = 3; j < args.size(); ++j) {
        const auto opt = args[j];
        const bool has_next = j + 1 < args.size();
        if (equals_word(opt, "nx") && !xx) nx = true;
        else if (equals_word(opt, "xx") && !nx) xx = true;
        else if (equals_word(opt, "get")) get = true;
        else if (equals_word(opt, "keepttl") && unit == none) keepttl = true;
        else if (has_next && unit == none && !keepttl && equals_word(opt, "ex")) unit = ex, amount = args[++j];
        else if (has_next && unit == none && !keepttl && equals_word(opt, "px")) unit = px, amount = args[++j];
        else if (has_next && unit == none && !keepttl && equals_word(opt, "exat")) unit = exat, amount = args[++j];
        else if (has_next && unit == none && !keepttl && equals_word(opt, "pxat")) unit = pxat, amount = args[++j];
        else return out.error(syntax_error);
    }
    std::int64_t expire_at = 0;
    if (unit != none) {
        const auto n = parse_integer(amount);
        if (!n) return out.error(not_an_integer);
        long long ms = *n;
        if (ms <= 0 || ((unit == ex || unit == exat) && ms > llmax / 1000)) {
            return out.error("ERR invalid expire time in 'set' command");
        }
        if (unit == ex || unit == exat) ms *= 1000;
        if (unit == ex || unit == px) {
            if (ms > llmax - now) return out.error("ERR invalid expire time in 'set' command");
            expire_at = now + ms;
        } else {
            expire_at = now + (ms - unix_ms());  // may be in the past: the key is set already expired
            if (expire_at <= 0) expire_at = 1;
        }
    }
    const auto old = s.get(args[1], now);
    if (get) {
        if (old) out.bulk(old->value); else out.null();
    }
    if ((nx && old) || (xx && !old)) {
        if (!get) out.null();
        return;
    }
    if (keepttl && old) expire_at = old->expire_at;
    s.set(args[1], args[2], expire_at);
    if (!get) out.simple("OK");
}

void increment(store& s, std::string_view key, std::string_view by_text, bool negate, reply_writer& out,
               std::int64_t now) {
    long long by = 1;
    if (!by_text.empty()) {
        const auto n = parse_integer(by_text);
        if (!n) return out.error(not_an_integer);
        by = *n;
    }
    if (negate) {
        if (by == llmin) return out.error("ERR decrement would overflow");
        by = -by;
    }
    const auto old = s.get(key, now);
    long long value = 0;
    std::int64_t expire_at = 0;
    if (old) {
        const auto n = parse_integer(old->value);
        if (!n) return out.error(not_an_integer);
        value = *n;
        expire_at = old->expire_at;
    }
    if ((by < 0 && value < 0 && by < llmin - value) || (by > 0 && value > 0 && by > llmax - value)) {
        return out.error("ERR increment or decrement would overflow");
    }
    value += by;
    s.set(key, format_integer(value), expire_at);
    out.integer(value);
}

/// EXPIRE / PEXPIRE key time [NX|XX|GT|LT] (Redis 7's expireGenericCommand).
void expire_command(store& s, std::span<const std::string_view> args, bool seconds, reply_writer& out,
                    std::int64_t now) {
    bool nx = false, xx = false, gt = false, lt = false;
    for (std::size_t j = 3; j < args.size(); ++j) {
        if (equals_word(args[j], "nx")) nx = true;
        else if (equals_word(args[j], "xx")) xx = true;
        else if (equals_word(args[j], "gt")) gt = true;
        else if (equals_word(args[j], "lt")) lt = true;
        else return out.error("ERR Unsupported option " + std::string(args[j]));
    }
    if (nx && (xx || gt || lt)) return out.error("ERR NX and XX, GT or LT options at the same time are not compatible");
    if (gt && lt) return out.error("ERR GT and LT options at the same time are not compatible");
    const auto n = parse_integer(args[2]);
    if (!n) return out.error(not_an_integer);
    long long ms = *n;
    const std::string what = seconds ? "expire" : "pexpire";
    if (seconds && (ms > llmax / 1000 || ms < llmin / 1000)) {
        return out.error("ERR invalid expire time in '" + what + "' command");
    }
    if (seconds) ms *= 1000;
    if (ms > llmax - now) return out.error("ERR invalid expire time in '" + what + "' command");
    const std::int64_t when = now + ms;  // ms < 0 cannot underflow: now is small and positive
    const auto old = s.get(args[1], now);
    if (!old) return out.integer(0);
    const std::int64_t current = old->expire_at;  // 0: none, which counts as infinite
    if ((nx && current != 0) || (xx && current == 0) || (gt && (current == 0 || when <= current)) ||
        (lt && current != 0 && when >= current)) {
        return out.integer(0);
    }
    if (when <= now) {
        s.erase(args[1], now);
    } else {
        s.set_expiry(args[1], when, now);
    }
    out.integer(1);
}

}  // namespace

bool equals_word(std::string_view text, std::string_view word) noexcept {
    if (text.size() != word.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (lower(text[i]) != word[i]) return false;
    }
    return true;
}

std::span<const command_spec> all_commands() noexcept { return table; }

const command_spec* find_command(std::string_view name) noexcept {
    if (name.empty() || name.size() > 8) return nullptr;
    char folded[8];
    for (std::size_t i = 0; i < name.size(); ++i) folded[i] = lower(name[i]);
    const std::string_view key{folded, name.size()};
    // 29 names: a search by first letter is as fast as a hash here.
    for (const auto& c : table) {
        if (c.name[0] == key[0] && c.name == key) return &c;
    }
    return nullptr;
}

std::string wrong_arity(std::string_view command) {
    return "ERR wrong number of arguments for '" + std::string(command) + "' command";
}

std::string unknown_command(std::span<const std::string_view> args) {
    // Redis 7.0: at most ~128 characters of arguments, each quoted, each followed by a space.
    std::string text = "ERR unknown command '" + std::string(args[0].substr(0, 128)) + "', with args beginning with: ";
    std::string listed;
    for (std::size_t i = 1; i < args.size() && listed.size() < 128; ++i) {
        listed += "'" + std::string(args[i].substr(0, 128 - listed.size())) + "' ";
    }
    return text + listed;
}

void execute_keyed(store& s, std::span<const std::string_view> args, const command_spec& spec, reply_writer& out,
                   std::int64_t now) {
    const std::string_view key = args[1];
    switch (spec.id) {
    case command_id::get:
        if (auto v = s.get(key, now)) out.bulk(v->value); else out.null();
        return;
    case command_id::set: return set_command(s, args, out, now);
    case command_id::getdel:
        if (auto v = s.get(key, now)) {
            out.bulk(v->value);
            s.erase(key, now);
        } else {
            out.null();
        }
        return;
    case command_id::incr: return increment(s, key, {}, false, out, now);
    case command_id::decr: return increment(s, key, {}, true, out, now);
    case command_id::incrby: return increment(s, key, args[2], false, out, now);
    case command_id::decrby: return increment(s, key, args[2], true, out, now);
    case command_id::append: {
        const auto old = s.get(key, now);
        if (!old) {
            s.set(key, args[2], 0);
            return out.integer(static_cast<long long>(args[2].size()));
        }
        if (old->value.size() + args[2].size() > max_value_length) {
            return out.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        }
        std::string joined;
        joined.reserve(old->value.size() + args[2].size());
        joined.append(old->value).append(args[2]);
        const auto expire_at = old->expire_at;
        s.set(key, joined, expire_at);
        return out.integer(static_cast<long long>(joined.size()));
    }
    case command_id::strlen: {
        const auto v = s.get(key, now);
        return out.integer(v ? static_cast<long long>(v->value.size()) : 0);
    }
    case command_id::expire: return expire_command(s, args, true, out, now);
    case command_id::pexpire: return expire_command(s, args, false, out, now);
    case command_id::ttl:
    case command_id::pttl: {
        const auto v = s.get(key, now);
        if (!v) return out.integer(-2);
        if (v->expire_at == 0) return out.integer(-1);
        const long long left = v->expire_at - now;
        return out.integer(spec.id == command_id::pttl ? left : (left + 500) / 1000);
    }
    case command_id::persist: {
        const auto v = s.get(key, now);
        if (!v || v->expire_at == 0) return out.integer(0);
        s.set_expiry(key, 0, now);
        return out.integer(1);
    }
    default: out.error("ERR internal: '" + std::string(spec.name) + "' is not a keyed command");
    }
}

}  // namespace kv
