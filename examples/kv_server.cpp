// kv_server: a Redis-compatible key-value server for strings on ringlet,
// with a shared-nothing keyspace over its shards (every key belongs to one
// shard; see examples/kv/batch.hpp).
//
//   build/examples/kv_server 127.0.0.1:6380 --shards 2      # prints: listening on 127.0.0.1:6380
//   redis-cli -p 6380 set greeting hello                    # OK
//   redis-cli -p 6380 get greeting                          # "hello"
//   redis-benchmark -p 6380 -c 50 -t set,get -P 16 -q
//   build/examples/kv_server 127.0.0.1:0 --maxmemory 100000000   # writes refused over ~100 MB
//
// Commands: PING, ECHO, GET, SET (EX, PX, EXAT, PXAT, NX, XX, GET, KEEPTTL),
// GETDEL, DEL, EXISTS, INCR, INCRBY, DECR, DECRBY, APPEND, STRLEN, MGET, MSET,
// EXPIRE, PEXPIRE (NX, XX, GT, LT), TTL, PTTL, PERSIST, DBSIZE, FLUSHALL,
// SELECT 0, INFO (server, clients, memory, keyspace; `INFO shards`: keys per
// shard), COMMAND (COUNT, INFO,
// DOCS), CLIENT SETNAME / GETNAME / ID, HELLO 2, CONFIG GET, QUIT — with
// Redis 7's replies and error texts. Requests are parsed by ringlet::resp
// with Redis's limits; a protocol error is answered ("-ERR Protocol error:
// ...") and the connection closed. Expiry is lazy on access plus a sweep
// every 100 ms on each shard. Over --maxmemory (bytes of keyspace, all
// shards together) SET, APPEND, INCR..., MSET get "-OOM command not allowed
// when used memory > 'maxmemory'."; reads and deletes still work.
//
// Each connection reads what has arrived, runs every complete command in it
// (on the key's shard when that is another), and sends all the replies in
// one write, in order. Ctrl-C or SIGTERM stops it gracefully (exit 0); exit 2
// is a bad argument, 1 a failure to listen.
#include "example_support.hpp"
#include "kv/batch.hpp"
#include "kv/commands.hpp"

#include <ringlet/resp/reply_writer.hpp>
#include <ringlet/resp/request_parser.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <string>

using namespace example;
using kv::command_id;
using resp::reply_writer;

namespace {

constexpr const char* usage = R"(usage: kv_server ADDRESS [--shards N] [--maxmemory BYTES] [limits]

A Redis-compatible key-value server (strings) until SIGINT or SIGTERM.

  ADDRESS              where to listen: 127.0.0.1:6380, [::1]:6380, localhost:6380 (port 0: any free port)
  --shards N           shards (threads), each owning the keys that hash to it (default: all cores)
  --maxmemory BYTES    refuse writes once the keyspace holds more (default 0: no limit)
  --help               this text

Prints "listening on <address>" once it accepts connections.
)";

std::atomic<std::uint64_t> connected_clients{0};
std::atomic<std::uint64_t> next_client_id{1};
std::size_t max_memory = 0;
std::uint16_t listening_port = 0;
const std::int64_t started_at = kv::now_ms();

// --- connection commands ---------------------------------------------------

struct client_state {
    std::uint64_t id;
    std::string name;
};

std::string human_bytes(std::uint64_t n) {
    char text[32];
    if (n >= (1ULL << 30)) std::snprintf(text, sizeof text, "%.2fG", static_cast<double>(n) / (1ULL << 30));
    else if (n >= (1ULL << 20)) std::snprintf(text, sizeof text, "%.2fM", static_cast<double>(n) / (1ULL << 20));
    else if (n >= 1024) std::snprintf(text, sizeof text, "%.2fK", static_cast<double>(n) / 1024);
    else std::snprintf(text, sizeof text, "%lluB", static_cast<unsigned long long>(n));
    return text;
}

void info(std::span<const std::string_view> args, reply_writer& out) {
    bool all = args.size() == 1;
    const auto wants = [&](std::string_view section) {
        if (all) return true;
        for (std::size_t i = 1; i < args.size(); ++i) {
            if (kv::equals_word(args[i], section) || kv::equals_word(args[i], "all") ||
                kv::equals_word(args[i], "default") || kv::equals_word(args[i], "everything")) {
                return true;
            }
        }
        return false;
    };
    std::string text;
    const auto line = [&](std::string_view key, const std::string& value) {
        text.append(key).append(":").append(value).append("\r\n");
    };
    if (wants("server")) {
        const std::int64_t up = (kv::now_ms() - started_at) / 1000;
        text += "# Server\r\n";
        line("redis_version", "7.0.0");  // the protocol and commands it follows; clients check it
        line("ringlet_kv_server", "0.1.0");
        line("redis_mode", "standalone");
        line("os", "Linux");
        line("arch_bits", "64");
        line("multiplexing_api", "io_uring");
        line("process_id", std::to_string(::getpid()));
        line("tcp_port", std::to_string(listening_port));
        line("uptime_in_seconds", std::to_string(up));
        line("uptime_in_days", std::to_string(up / 86400));
        line("shards", std::to_string(kv::shards().size()));
    }
    if (wants("clients")) {
        if (!text.empty()) text += "\r\n";
        text += "# Clients\r\n";
        line("connected_clients", std::to_string(connected_clients.load(std::memory_order_relaxed)));
    }
    if (wants("memory")) {
        const auto used = kv::used_memory();
        if (!text.empty()) text += "\r\n";
        text += "# Memory\r\n";
        line("used_memory", std::to_string(used));
        line("used_memory_human", human_bytes(used));
        line("maxmemory", std::to_string(max_memory));
        line("maxmemory_human", human_bytes(max_memory));
        line("maxmemory_policy", "noeviction");
    }
    if (wants("keyspace")) {
        std::uint64_t keys = 0, expires = 0;
        for (const auto& s : kv::shards()) {
            keys += s->published.keys.load(std::memory_order_relaxed);
            expires += s->published.expires.load(std::memory_order_relaxed);
        }
        if (!text.empty()) text += "\r\n";
        text += "# Keyspace\r\n";
        if (keys > 0) {
            text += "db0:keys=" + std::to_string(keys) + ",expires=" + std::to_string(expires) + ",avg_ttl=0\r\n";
        }
    }
    // Not in Redis and not in the default output: keys per shard, asked for by name.
    if (!all && wants("shards") && !wants("server")) {
        text += "# Shards\r\n";
        for (std::size_t i = 0; i < kv::shards().size(); ++i) {
            const auto& p = kv::shards()[i]->published;
            text += "shard" + std::to_string(i) + ":keys=" + std::to_string(p.keys.load(std::memory_order_relaxed)) +
                    ",expires=" + std::to_string(p.expires.load(std::memory_order_relaxed)) +
                    ",used_memory=" + std::to_string(p.used_bytes.load(std::memory_order_relaxed)) + "\r\n";
        }
    }
    out.bulk(text);
}

void command_info(const kv::command_spec& c, reply_writer& out) {
    out.array(10);
    out.bulk(c.name);
    out.integer(c.arity);
    if (c.write) {
        out.array(c.deny_oom ? 2 : 1);
        out.simple("write");
        if (c.deny_oom) out.simple("denyoom");
    } else {
        out.array(2);
        out.simple("readonly");
        out.simple("fast");
    }
    out.integer(c.first_key);
    out.integer(c.last_key);
    out.integer(c.step);
    out.array(1);
    out.simple("@" + std::string(c.group));
    out.array(0);  // tips
    out.array(0);  // key specs
    out.array(0);  // subcommands
}

void command_docs(const kv::command_spec& c, reply_writer& out) {
    out.bulk(c.name);
    out.array(6);
    out.bulk("summary");
    out.bulk(c.summary);
    out.bulk("since");
    out.bulk(c.since);
    out.bulk("group");
    out.bulk(c.group);
}

void command(std::span<const std::string_view> args, reply_writer& out) {
    const auto all = kv::all_commands();
    if (args.size() == 1) {
        out.array(all.size());
        for (const auto& c : all) command_info(c, out);
    } else if (kv::equals_word(args[1], "count")) {
        out.integer(static_cast<long long>(all.size()));
    } else if (kv::equals_word(args[1], "info")) {
        if (args.size() == 2) return command({args.data(), 1}, out);
        out.array(args.size() - 2);
        for (std::size_t i = 2; i < args.size(); ++i) {
            if (const auto* c = kv::find_command(args[i])) command_info(*c, out); else out.null();  // as Redis: $-1
        }
    } else if (kv::equals_word(args[1], "docs")) {
        if (args.size() == 2) {
            out.array(all.size() * 2);
            for (const auto& c : all) command_docs(c, out);
            return;
        }
        std::size_t known = 0;
        for (std::size_t i = 2; i < args.size(); ++i) known += kv::find_command(args[i]) ? 1 : 0;
        out.array(known * 2);
        for (std::size_t i = 2; i < args.size(); ++i) {
            if (const auto* c = kv::find_command(args[i])) command_docs(*c, out);
        }
    } else {
        out.error("ERR unknown subcommand '" + std::string(args[1].substr(0, 128)) + "'. Try COMMAND HELP.");
    }
}

bool valid_client_name(std::string_view name) {
    for (char c : name) {
        if (c < '!' || c > '~') return false;
    }
    return true;
}

void client(std::span<const std::string_view> args, client_state& me, reply_writer& out) {
    if (kv::equals_word(args[1], "setname")) {
        if (args.size() != 3) return out.error(kv::wrong_arity("client|setname"));
        if (!valid_client_name(args[2])) {
            return out.error("ERR Client names cannot contain spaces, newlines or special characters.");
        }
        me.name = args[2];
        return out.simple("OK");
    }
    if (kv::equals_word(args[1], "getname")) {
        if (args.size() != 2) return out.error(kv::wrong_arity("client|getname"));
        if (me.name.empty()) return out.null();
        return out.bulk(me.name);
    }
    if (kv::equals_word(args[1], "id")) {
        if (args.size() != 2) return out.error(kv::wrong_arity("client|id"));
        return out.integer(static_cast<long long>(me.id));
    }
    out.error("ERR unknown subcommand '" + std::string(args[1].substr(0, 128)) + "'. Try CLIENT HELP.");
}

void hello(std::span<const std::string_view> args, client_state& me, reply_writer& out) {
    if (args.size() >= 2) {
        const auto version = resp::parse_integer(args[1]);
        if (!version) return out.error("ERR Protocol version is not an integer or out of range");
        if (*version != 2) return out.error("NOPROTO unsupported protocol version");
        for (std::size_t j = 2; j < args.size(); ++j) {
            if (kv::equals_word(args[j], "setname") && j + 1 < args.size()) {
                if (!valid_client_name(args[j + 1])) {
                    return out.error("ERR Client names cannot contain spaces, newlines or special characters.");
                }
                me.name = args[++j];
            } else {
                return out.error("ERR Syntax error in HELLO option '" + std::string(args[j].substr(0, 128)) + "'");
            }
        }
    }
    out.array(14);
    out.bulk("server");
    out.bulk("redis");
    out.bulk("version");
    out.bulk("7.0.0");
    out.bulk("proto");
    out.integer(2);
    out.bulk("id");
    out.integer(static_cast<long long>(me.id));
    out.bulk("mode");
    out.bulk("standalone");
    out.bulk("role");
    out.bulk("master");
    out.bulk("modules");
    out.array(0);
}

void config(std::span<const std::string_view> args, reply_writer& out) {
    if (!kv::equals_word(args[1], "get")) {
        return out.error("ERR unknown subcommand '" + std::string(args[1].substr(0, 128)) + "'. Try CONFIG HELP.");
    }
    if (args.size() < 3) return out.error(kv::wrong_arity("config|get"));
    // The parameters clients ask about (redis-benchmark reads save and appendonly).
    const std::pair<std::string_view, std::string> known[] = {
        {"maxmemory", std::to_string(max_memory)}, {"maxmemory-policy", "noeviction"},
        {"save", ""}, {"appendonly", "no"}, {"databases", "1"},
    };
    std::vector<const std::pair<std::string_view, std::string>*> found;
    for (std::size_t i = 2; i < args.size(); ++i) {
        for (const auto& k : known) {
            if (args[i] == "*" || kv::equals_word(args[i], k.first)) found.push_back(&k);
        }
    }
    out.array(found.size() * 2);
    for (const auto* k : found) {
        out.bulk(k->first);
        out.bulk(k->second);
    }
}

enum class after { next, quit };

/// Runs or queues one command; writes connection commands' replies at once.
after dispatch(std::span<const std::string_view> args, std::string_view read_buffer, client_state& me,
               kv::batch& work) {
    const kv::command_spec* spec = kv::find_command(args[0]);
    if (!spec) {
        work.immediate().error(kv::unknown_command(args));
        work.end_immediate();
        return after::next;
    }
    const auto argc = static_cast<int>(args.size());
    if ((spec->arity > 0 && argc != spec->arity) || (spec->arity < 0 && argc < -spec->arity) ||
        (spec->id == command_id::mset && argc % 2 == 0) || (spec->id == command_id::ping && argc > 2)) {
        work.immediate().error(kv::wrong_arity(spec->name));
        work.end_immediate();
        return after::next;
    }
    if (spec->deny_oom && max_memory != 0 && kv::used_memory() > max_memory) {
        work.immediate().error(kv::oom_error);
        work.end_immediate();
        return after::next;
    }
    if (spec->id == command_id::flushall && argc == 2 && !kv::equals_word(args[1], "sync") &&
        !kv::equals_word(args[1], "async")) {
        work.immediate().error(kv::syntax_error);
        work.end_immediate();
        return after::next;
    }
    if (spec->how != kv::route::connection) {
        work.add(args, *spec, read_buffer);
        return after::next;
    }
    reply_writer& out = work.immediate();
    after next = after::next;
    switch (spec->id) {
    case command_id::ping:
        if (argc == 1) out.simple("PONG"); else out.bulk(args[1]);
        break;
    case command_id::echo: out.bulk(args[1]); break;
    case command_id::select: {
        const auto db = resp::parse_integer(args[1]);
        if (!db) out.error(kv::not_an_integer);
        else if (*db != 0) out.error("ERR DB index is out of range");
        else out.simple("OK");
        break;
    }
    case command_id::info: info(args, out); break;
    case command_id::command: command(args, out); break;
    case command_id::client: client(args, me, out); break;
    case command_id::hello: hello(args, me, out); break;
    case command_id::config: config(args, out); break;
    case command_id::quit:
        out.simple("OK");
        next = after::quit;
        break;
    default: out.error("ERR internal: no handler"); break;
    }
    work.end_immediate();
    return next;
}

// --- connections -----------------------------------------------------------

/// The connections of one shard with the time each last received bytes,
/// for the idle reaper. A timeout on every receive would arm and cancel a
/// kernel timer per request (a few % of the server's CPU at -P 16, measured
/// with perf); one scan a second costs nothing per request.
struct idle_entry {
    int fd;
    std::int64_t last_active;
    std::size_t index;  // in the shard's list
    bool reaped = false;
};

std::vector<idle_entry*>& idle_list() {
    thread_local std::vector<idle_entry*> list;  // the shard's own
    return list;
}

struct idle_registration {
    idle_entry entry;
    explicit idle_registration(int fd) : entry{fd, kv::now_ms(), idle_list().size()} {
        idle_list().push_back(&entry);
    }
    ~idle_registration() {
        auto& list = idle_list();
        list[entry.index] = list.back();
        list[entry.index]->index = entry.index;
        list.pop_back();
    }
    idle_registration(const idle_registration&) = delete;
    idle_registration& operator=(const idle_registration&) = delete;
};

/// Each shard's idle reaper: once a second (or a tenth of the timeout),
/// shuts down the connections idle longer than --idle-timeout (0: none). The
/// connection's pending receive then sees the end of stream and closes it.
/// (A direct shutdown(2), which never blocks, rather than an operation on
/// the connection's stream: the reaper must not hold the stream across a
/// suspension, during which the connection may end.)
/// At a graceful stop it stops reading from every client instead: each
/// connection answers the commands it has read, sees the end of stream and
/// closes, so the drain ends once the replies are out rather than at the
/// drain timeout (Redis's SHUTDOWN closes its clients too).
task<result<void>> nap(std::chrono::milliseconds period) { co_return co_await sleep_for(period); }

task<void> reap_idle(std::chrono::milliseconds limit) {
    const bool timed = limit.count() > 0;
    const std::chrono::milliseconds period = timed ? std::min<std::chrono::milliseconds>(1s, limit / 10) : 24h;
    for (;;) {
        auto slept = co_await until_drain(nap(period));
        if (!slept) break;  // draining or stopping
        if (!timed) continue;
        const auto now = kv::now_ms();
        for (idle_entry* e : idle_list()) {
            if (!e->reaped && now - e->last_active > limit.count()) {
                e->reaped = true;
                ::shutdown(e->fd, SHUT_RDWR);
            }
        }
    }
    for (idle_entry* e : idle_list()) ::shutdown(e->fd, SHUT_RD);
}

// The idle timeout is enforced by reap_idle (one sweep a second instead of a
// kernel timer armed and cancelled around every read); the write timeout and
// the connection cap by tcp::server's connection gate. Redis closes idle
// clients never by default (`timeout 0`); 300 s bounds a slowloris flood.
server_limits limits{.idle_timeout = std::chrono::minutes{5}};
constexpr std::size_t max_batch_bytes = 1024 * 1024;
constexpr std::size_t max_batch_commands = 1024;

task<void> serve_connection(tcp::stream conn) {
    (void)conn.set_nodelay(true);
    connected_clients.fetch_add(1, std::memory_order_relaxed);
    client_state me{next_client_id.fetch_add(1, std::memory_order_relaxed), {}};
    resp::request_parser parser;
    reply_writer out;
    kv::batch work{out};
    std::string pending;  // the start of a command that has not fully arrived
    bool closing = false, protocol_error = false, quit = false;
    idle_registration idle{conn.socket().fd()};
    while (!closing) {
        auto got = co_await conn.receive();
        if (!got || got->empty()) break;  // end of stream (or shut down as idle), reset, or stopping
        idle.entry.last_active = work.now();
        // Parse straight from the shard's buffer unless a command is partly in `pending`.
        const bool from_pending = !pending.empty();
        if (from_pending) {
            pending.append(got->text());
            got->release();
        }
        const std::string_view data = from_pending ? std::string_view{pending} : got->text();
        std::size_t used = 0;
        // One batch per read, unless its replies grow past 1 MiB or it
        // reaches 1,024 commands: then those replies go out before the rest
        // of the read is parsed, so a client that pipelines many large GETs
        // cannot make the server buffer without bound.
        for (bool more = true; more && !closing;) {
            more = false;
            std::size_t commands = 0;
            while (!closing) {
                if (out.size() >= max_batch_bytes || commands == max_batch_commands) {
                    more = true;
                    break;
                }
                const auto status = parser.parse(data.substr(used));
                if (status == resp::parse_status::incomplete) break;
                if (status == resp::parse_status::error) {
                    work.immediate().error("ERR " + std::string(parser.error()));
                    work.end_immediate();
                    closing = protocol_error = true;
                    break;
                }
                used += parser.consumed();
                const auto args = parser.arguments();
                if (args.empty()) continue;  // `*0`, an empty line
                ++commands;
                if (dispatch(args, data, me, work) == after::quit) closing = quit = true;
            }
            co_await work.finish();
            if (!out.empty()) {
                auto written = co_await conn.write_all(out.view());
                out.clear();
                if (!written) closing = true;
            }
        }
        if (closing) break;
        if (from_pending) {
            pending.erase(0, used);
        } else {
            pending.assign(data.substr(used));
        }
        if (pending.empty() && pending.capacity() > 1024 * 1024) std::string{}.swap(pending);
    }
    if (protocol_error || quit) co_await linger_before_close(conn);
    (void)co_await conn.close();
    connected_clients.fetch_sub(1, std::memory_order_relaxed);
}

/// Each shard's expiry sweep: every 100 ms, 1,024 slots, more while a
/// quarter of what it looks at has expired (at most 2 ms of work a tick).
task<void> sweep_expired(kv::store& keys) {
    for (;;) {
        auto slept = co_await sleep_for(100ms);
        if (!slept) co_return;  // stopping
        const auto start = kv::now_ms();
        for (;;) {
            const auto now = kv::now_ms();
            if (keys.sweep(1024, now) < 256 || now - start >= 2) break;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t shards = 0, maxmemory = 0;
    const std::string address =
        tcp_server_arguments("kv_server", usage, "kv_server", argc, argv,
                             {{"--shards", shards, 1, 1024}, {"--maxmemory", maxmemory, 0, ULONG_MAX}}, limits,
                             connection_limit_options);
    max_memory = maxmemory;
    try {
        runtime rt{{.shards = static_cast<unsigned>(shards)}};
        return rt.run([&]() -> task<int> {
            const unsigned count = this_shard::count();
            auto& all = kv::shards();
            for (unsigned s = 0; s < count; ++s) all.push_back(std::make_unique<kv::shard_state>());
            for (unsigned s = 0; s < count; ++s) {
                co_await submit_to(s, [s] {
                    auto& state = *kv::shards()[s];
                    state.keys = std::make_unique<kv::store>(&state.published);
                    spawn(sweep_expired(*state.keys));
                    spawn(reap_idle(limits.idle_timeout));
                });
            }
            std::string error;
            auto where = co_await tcp_address_of(address, error);
            if (!where) {
                std::fprintf(stderr, "kv_server: %s\n", error.c_str());
                co_return 1;
            }
            auto server = tcp::server::bind(
                *where, {.limits = {.idle_timeout = {}, .write_timeout = limits.write_timeout,
                                    .max_connections = limits.max_connections}});
            if (!server) {
                std::fprintf(stderr, "kv_server: %s\n", net::describe_error("listen", *where, server.error()).c_str());
                co_return 1;
            }
            listening_port = server->local_address().port();
            print_listening(server->local_address());
            co_await server->serve([](tcp::stream conn) { return serve_connection(std::move(conn)); });
            co_return 0;
        });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kv_server: %s\n", e.what());
        return 1;
    }
}
