// kv_server's commands: the table (name, arity, how a command is routed
// over the shards, flags, the text COMMAND and COMMAND DOCS report) and the
// execution of what runs on a key's own shard.
//
// Routing (Dragonfly's shared-nothing keyspace): a key belongs to the shard
// hash_key(key) % shards picks.
//   keyed       the whole command runs on the shard of args[1]
//   each_key    DEL, EXISTS, MGET: one part per key, on its shard; gathered
//   each_pair   MSET: one part per key/value pair
//   all_shards  DBSIZE, FLUSHALL: one part per shard; gathered
//   connection  PING, ECHO, INFO, CLIENT, ...: answered where the connection is
#pragma once

#include "store.hpp"

#include <ringlet/resp/reply_writer.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace kv {

enum class route : std::uint8_t { keyed, each_key, each_pair, all_shards, connection };

enum class command_id : std::uint8_t {
    ping, echo, get, set, getdel, del, exists, incr, incrby, decr, decrby, append, strlen, mget, mset,
    expire, pexpire, ttl, pttl, persist, dbsize, flushall, select, info, command, client, hello, quit, config,
};

struct command_spec {
    std::string_view name;  ///< lower case, as Redis names commands in errors
    command_id id;
    int arity;              ///< Redis's: n exactly, -n at least n (the name counts)
    route how;
    bool write;
    bool deny_oom;          ///< refused when over --maxmemory
    int first_key, last_key, step;
    std::string_view group;
    std::string_view since;
    std::string_view summary;
};

/// Every command kv_server knows, in COMMAND's order.
[[nodiscard]] std::span<const command_spec> all_commands() noexcept;
/// The command named `name` (any case), or null.
[[nodiscard]] const command_spec* find_command(std::string_view name) noexcept;

/// Largest string value, as Redis's proto-max-bulk-len (APPEND checks it).
inline constexpr std::size_t max_value_length = std::size_t{512} * 1024 * 1024;

/// Runs a `route::keyed` command on the store of args[1]'s shard and writes its reply.
void execute_keyed(store& s, std::span<const std::string_view> args, const command_spec& spec,
                   ringlet::resp::reply_writer& out, std::int64_t now);

/// Redis's error texts.
std::string wrong_arity(std::string_view command);  ///< "ERR wrong number of arguments for 'get' command"
std::string unknown_command(std::span<const std::string_view> args);
inline constexpr std::string_view not_an_integer = "ERR value is not an integer or out of range";
inline constexpr std::string_view syntax_error = "ERR syntax error";
inline constexpr std::string_view oom_error = "OOM command not allowed when used memory > 'maxmemory'.";

/// ASCII case-insensitive equality of `text` and a lower-case `word`.
[[nodiscard]] bool equals_word(std::string_view text, std::string_view word) noexcept;

}  // namespace kv
