// kv::batch: the commands of one pipelined read of one connection, routed
// over the shards, and their replies put back in order.
//
// A connection reads what has arrived, parses every complete command and
// hands each to the batch. While every command so far ran on the
// connection's own shard, replies go straight into the connection's reply
// writer (the common case; nothing is queued or copied). From the first
// command that needs another shard on, every command becomes parts, each
// queued on the shard that owns its key (a multi-key command: one part per
// key; DBSIZE, FLUSHALL: one per shard); finish() runs the local parts, sends
// each other shard its parts as one message (ringlet's submit_to), waits for
// all, and assembles the replies in command order. Each shard runs its parts
// in order, so a connection's commands on one key take effect in the order
// sent; commands on keys of different shards are independent, so running
// the shards' lists at the same time gives what running the commands one by
// one would. (Unlike Redis, MSET and DEL over keys of several shards are not
// atomic towards other connections.)
//
// Thread safety: a batch belongs to its connection's shard; while finish()
// waits, other shards read its arguments and parts and write their own
// output buffer, each only its own.
#pragma once

#include "commands.hpp"
#include "store.hpp"

#include <ringlet/core/task.hpp>
#include <ringlet/resp/reply_writer.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kv {

/// One shard's keyspace and the figures it publishes.
struct shard_state {
    stats published;
    std::unique_ptr<store> keys;  // created and used on the shard itself
};

/// The shards' keyspaces, indexed by shard id; filled before serving starts.
std::vector<std::unique_ptr<shard_state>>& shards();
/// The shard that owns `key`.
[[nodiscard]] unsigned shard_of(std::string_view key) noexcept;
/// Sum of the shards' used bytes (what --maxmemory is compared with).
[[nodiscard]] std::uint64_t used_memory() noexcept;

class batch {
public:
    explicit batch(ringlet::resp::reply_writer& out);

    /// True while replies go straight to the writer (nothing queued).
    [[nodiscard]] bool direct() const noexcept { return direct_; }
    /// Where a reply computed now (a connection command, an error) goes: the
    /// writer when direct(), else a slot in command order.
    ringlet::resp::reply_writer& immediate();
    /// Ends the reply immediate() began.
    void end_immediate();

    /// Runs or queues a command of route keyed / each_key / each_pair /
    /// all_shards. Arguments inside `read_buffer` must stay valid until
    /// finish(); others (an inline command's, in the parser) are copied.
    void add(std::span<const std::string_view> args, const command_spec& spec, std::string_view read_buffer);

    /// Runs what is queued and writes every reply, in order, to the writer.
    [[nodiscard]] ringlet::task<void> finish();

private:
    enum class op : std::uint8_t { keyed, get_one, del_one, exists_one, set_one, dbsize, flushall };
    enum class combine : std::uint8_t { bytes, array, sum, ok };
    struct part {
        op kind;
        unsigned shard;
        const command_spec* spec;
        std::uint32_t arg_begin, arg_count;  // into args_
        long long number = 0;                // results
        std::size_t begin = 0, end = 0;      // into outs_[shard]
    };
    struct slot {
        combine how;
        std::size_t buffer;  // for bytes: outs_ index
        std::size_t begin, end;
        std::uint32_t first_part, part_count;
    };

    void queue(op kind, unsigned shard, const command_spec* spec, std::span<const std::string_view> args,
               std::string_view read_buffer);
    void run_parts(unsigned shard);
    void leave_direct();

    ringlet::resp::reply_writer& out_;
    bool direct_ = true;
    unsigned home_;
    std::vector<std::string_view> args_;
    std::deque<std::string> copies_;  // arguments not in the read buffer (inline commands)
    std::vector<part> parts_;
    std::vector<slot> slots_;
    std::vector<std::vector<std::uint32_t>> lists_;       // per shard: part indices, in order
    std::vector<ringlet::resp::reply_writer> outs_;       // per shard, then one for immediate replies
    std::size_t immediate_begin_ = 0;
};

}  // namespace kv
