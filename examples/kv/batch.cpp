// kv::batch — see batch.hpp for the design.
#include "batch.hpp"

#include <ringlet/core/shard.hpp>
#include <ringlet/core/task_group.hpp>

namespace kv {

using ringlet::resp::reply_writer;

std::vector<std::unique_ptr<shard_state>>& shards() {
    static std::vector<std::unique_ptr<shard_state>> all;
    return all;
}

unsigned shard_of(std::string_view key) noexcept {
    const auto n = shards().size();
    return n == 1 ? 0 : static_cast<unsigned>(hash_key(key) % n);
}

std::uint64_t used_memory() noexcept {
    std::uint64_t sum = 0;
    for (const auto& s : shards()) sum += s->published.used_bytes.load(std::memory_order_relaxed);
    return sum;
}

batch::batch(reply_writer& out)
    : out_(out), home_(ringlet::this_shard::id()), lists_(shards().size()), outs_(shards().size() + 1) {}

reply_writer& batch::immediate() {
    if (direct_) return out_;
    immediate_begin_ = outs_.back().size();
    return outs_.back();
}

void batch::end_immediate() {
    if (direct_) return;
    slots_.push_back({combine::bytes, outs_.size() - 1, immediate_begin_, outs_.back().size(), 0, 0});
}

void batch::leave_direct() { direct_ = false; }

void batch::queue(op kind, unsigned shard, const command_spec* spec, std::span<const std::string_view> args,
                  std::string_view read_buffer) {
    const auto begin = static_cast<std::uint32_t>(args_.size());
    for (auto a : args) {
        const bool inside = a.data() >= read_buffer.data() && a.data() + a.size() <= read_buffer.data() + read_buffer.size();
        if (inside || a.empty()) {
            args_.push_back(a);
        } else {
            args_.push_back(copies_.emplace_back(a));
        }
    }
    lists_[shard].push_back(static_cast<std::uint32_t>(parts_.size()));
    parts_.push_back({kind, shard, spec, begin, static_cast<std::uint32_t>(args.size())});
}

void batch::add(std::span<const std::string_view> args, const command_spec& spec, std::string_view read_buffer) {
    if (spec.how == route::keyed) {
        const unsigned shard = shard_of(args[1]);
        if (direct_ && shard == home_) {
            execute_keyed(*shards()[home_]->keys, args, spec, out_, now_ms());
            return;
        }
        leave_direct();
        slots_.push_back({combine::bytes, shard, 0, 0, static_cast<std::uint32_t>(parts_.size()), 1});
        queue(op::keyed, shard, &spec, args, read_buffer);
        return;
    }
    leave_direct();
    slot s{combine::sum, 0, 0, 0, static_cast<std::uint32_t>(parts_.size()), 0};
    switch (spec.id) {
    case command_id::mget:
    case command_id::del:
    case command_id::exists: {
        const op kind = spec.id == command_id::mget ? op::get_one : spec.id == command_id::del ? op::del_one : op::exists_one;
        s.how = spec.id == command_id::mget ? combine::array : combine::sum;
        for (std::size_t i = 1; i < args.size(); ++i) queue(kind, shard_of(args[i]), &spec, args.subspan(i, 1), read_buffer);
        s.part_count = static_cast<std::uint32_t>(args.size() - 1);
        break;
    }
    case command_id::mset:
        s.how = combine::ok;
        for (std::size_t i = 1; i + 1 < args.size(); i += 2) {
            queue(op::set_one, shard_of(args[i]), &spec, args.subspan(i, 2), read_buffer);
        }
        s.part_count = static_cast<std::uint32_t>(args.size() / 2);
        break;
    case command_id::dbsize:
    case command_id::flushall:
        s.how = spec.id == command_id::dbsize ? combine::sum : combine::ok;
        for (unsigned shard = 0; shard < shards().size(); ++shard) {
            queue(spec.id == command_id::dbsize ? op::dbsize : op::flushall, shard, &spec, {}, read_buffer);
        }
        s.part_count = static_cast<std::uint32_t>(shards().size());
        break;
    default:
        break;
    }
    slots_.push_back(s);
}

void batch::run_parts(unsigned shard) {
    store& keys = *shards()[shard]->keys;
    reply_writer& out = outs_[shard];
    const std::int64_t now = now_ms();
    for (const std::uint32_t index : lists_[shard]) {
        part& p = parts_[index];
        const std::span<const std::string_view> args{args_.data() + p.arg_begin, p.arg_count};
        p.begin = out.size();
        switch (p.kind) {
        case op::keyed: execute_keyed(keys, args, *p.spec, out, now); break;
        case op::get_one:
            if (auto v = keys.get(args[0], now)) out.bulk(v->value); else out.null();
            break;
        case op::del_one: p.number = keys.erase(args[0], now) ? 1 : 0; break;
        case op::exists_one: p.number = keys.get(args[0], now) ? 1 : 0; break;
        case op::set_one: keys.set(args[0], args[1], 0); break;
        case op::dbsize: p.number = static_cast<long long>(keys.size()); break;
        case op::flushall: keys.clear(); break;
        }
        p.end = out.size();
    }
}

ringlet::task<void> batch::finish() {
    if (direct_) co_return;
    // The local list first (no waiting), then every other shard's at once.
    if (!lists_[home_].empty()) run_parts(home_);
    unsigned remote = 0, last = 0;
    for (unsigned s = 0; s < lists_.size(); ++s) {
        if (s != home_ && !lists_[s].empty()) ++remote, last = s;
    }
    if (remote == 1) {
        co_await ringlet::submit_to(last, [this, last] { run_parts(last); });
    } else if (remote > 1) {
        ringlet::task_group group;
        for (unsigned s = 0; s < lists_.size(); ++s) {
            if (s == home_ || lists_[s].empty()) continue;
            group.spawn([](batch* self, unsigned shard) -> ringlet::task<void> {
                co_await ringlet::submit_to(shard, [self, shard] { self->run_parts(shard); });
            }(this, s));
        }
        co_await group.wait();
    }
    // Assemble in command order.
    for (const slot& s : slots_) {
        switch (s.how) {
        case combine::bytes:
            if (s.part_count == 1) {
                const part& p = parts_[s.first_part];
                out_.raw(outs_[p.shard].view().substr(p.begin, p.end - p.begin));
            } else {
                out_.raw(outs_[s.buffer].view().substr(s.begin, s.end - s.begin));
            }
            break;
        case combine::array:
            out_.array(s.part_count);
            for (std::uint32_t i = 0; i < s.part_count; ++i) {
                const part& p = parts_[s.first_part + i];
                out_.raw(outs_[p.shard].view().substr(p.begin, p.end - p.begin));
            }
            break;
        case combine::sum: {
            long long sum = 0;
            for (std::uint32_t i = 0; i < s.part_count; ++i) sum += parts_[s.first_part + i].number;
            out_.integer(sum);
            break;
        }
        case combine::ok: out_.simple("OK"); break;
        }
    }
    args_.clear();
    copies_.clear();
    parts_.clear();
    slots_.clear();
    for (auto& l : lists_) l.clear();
    for (auto& o : outs_) o.clear(64 * 1024);
    direct_ = true;
}

}  // namespace kv
