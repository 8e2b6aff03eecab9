// datagram_socket::send_batch(): several IORING_OP_SENDMSG in one io_uring_enter.
//
// Design notes
// - Each datagram is its own socket_op ("slot"), so it counts itself in the
//   socket (close() cancels and waits for it), follows the task's stop token
//   and gets its own linked timeout. The slots of a chunk are all submitted
//   before the task suspends, so the shard's next loop turn hands them to the
//   kernel in one enter; UDP sends complete inline, so their completions
//   arrive together too.
// - A slot completes through a completion hook that counts the chunk down;
//   only the last one resumes the task. The hook bypasses io_op's own
//   result, so each slot keeps its kernel result, and ECANCELED is told
//   apart here: a stop of the task, the deadline, or else close().
// - Slots are built in storage the socket keeps from its first send_batch()
//   on (a coroutine frame that big would miss the shard's frame pool), so a
//   steady stream of batches allocates nothing. A second send_batch() running
//   at the same time on the same socket gets temporary storage.
#include "core/ring.hpp"
#include "core/shard.hpp"

#include <ringlet/net/datagram.hpp>

#include <array>
#include <memory>
#include <new>
#include <cerrno>
#include <utility>

namespace ringlet::net {
namespace {

constexpr std::size_t chunk = 64;

struct slot_batch;

class send_slot final : public detail::socket_op {
public:
    send_slot(socket& owner, timeout limit) noexcept : socket_op(&prepare, owner, limit) { set_completion(&completed); }

    void load(const outgoing_datagram& d, slot_batch* owner_batch) noexcept {
        data = d.data;
        to = d.to;
        batch = owner_batch;
    }
    /// The outcome of this datagram; call once, after the chunk has resumed.
    result<void> outcome_of(bool started, const stop_token& token) noexcept;

    std::span<const std::byte> data;
    const address* to = nullptr;
    slot_batch* batch = nullptr;
    msghdr message{};
    iovec part{};
    int res = 0;

private:
    static void prepare(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept;
    static void completed(ringlet::detail::io_op& op, int res, std::uint32_t flags, bool more) noexcept;
};

struct slot_batch {
    std::size_t pending = 0;
    std::coroutine_handle<> waiter;
};

void send_slot::prepare(ringlet::detail::io_op& op, io_uring_sqe* sqe) noexcept {
    auto& self = static_cast<send_slot&>(op);
    self.part = {const_cast<std::byte*>(self.data.data()), self.data.size()};
    self.message = {};
    if (self.to) {
        self.message.msg_name = const_cast<sockaddr*>(self.to->data());
        self.message.msg_namelen = self.to->size();
    }
    self.message.msg_iov = &self.part;
    self.message.msg_iovlen = 1;
    io_uring_prep_sendmsg(sqe, self.fd(), &self.message, MSG_NOSIGNAL);
}

void send_slot::completed(ringlet::detail::io_op& op, int res, std::uint32_t, bool more) noexcept {
    if (more) return;
    auto& self = static_cast<send_slot&>(op);
    self.res = res;
    self.deregister();
    if (--self.batch->pending == 0) ringlet::detail::shard::current()->schedule(self.batch->waiter);
}

result<void> send_slot::outcome_of(bool started, const stop_token& token) noexcept {
    auto accounted = finish();  // ends the in-flight count; carries the refusal of an unstarted slot
    if (!started) {
        if (!accounted) return unexpected{accounted.error()};
        return {};
    }
    if (res >= 0) return {};
    if (res == -ECANCELED) {
        if (token.stop_requested()) return unexpected{errc::operation_canceled};
        const timeout& limit = time_limit();
        if (limit.is_set() && clock::now() >= limit.deadline()) return unexpected{errc::timed_out};
        return unexpected{errc::operation_canceled};  // close()
    }
    return unexpected{errno_code(-res)};
}

/// Starts every slot of a chunk and resumes the task when all have completed.
struct chunk_awaiter {
    std::span<send_slot> slots;
    std::array<bool, chunk>& started;
    slot_batch batch;
    stop_token token;

    bool await_ready() const noexcept { return slots.empty(); }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> waiter) noexcept {
        token = ringlet::detail::token_of(waiter);
        batch.waiter = waiter;
        for (std::size_t i = 0; i < slots.size(); ++i) {
            slots[i].batch = &batch;
            started[i] = slots[i].begin(waiter, token);
            if (started[i]) ++batch.pending;
        }
        return batch.pending > 0;
    }
    void await_resume() const noexcept {}
};

}  // namespace

namespace detail {

struct send_slots {
    alignas(send_slot) std::byte storage[chunk][sizeof(send_slot)];
    bool busy = false;

    send_slot* at(std::size_t i) noexcept { return std::launder(reinterpret_cast<send_slot*>(storage[i])); }
};

void free_send_slots(send_slots* slots) noexcept { delete slots; }

}  // namespace detail

namespace {

/// `n` slots constructed in `where` for one chunk; destroyed with it.
class chunk_slots {
public:
    chunk_slots(detail::send_slots& where, std::size_t n, socket& owner, timeout limit) noexcept : where_(where), n_(n) {
        for (std::size_t i = 0; i < n; ++i) ::new (where.storage[i]) send_slot(owner, limit);
    }
    chunk_slots(const chunk_slots&) = delete;
    chunk_slots& operator=(const chunk_slots&) = delete;
    ~chunk_slots() {
        for (std::size_t i = 0; i < n_; ++i) where_.at(i)->~send_slot();
    }
    send_slot& operator[](std::size_t i) noexcept { return *where_.at(i); }
    [[nodiscard]] std::span<send_slot> all() noexcept { return {where_.at(0), n_}; }

private:
    detail::send_slots& where_;
    std::size_t n_;
};

}  // namespace

task<result<std::size_t>> datagram_socket::send_batch(std::span<const outgoing_datagram> datagrams, timeout limit) {
    if (datagrams.empty()) co_return std::size_t{0};
    std::unique_ptr<detail::send_slots> temporary;
    detail::send_slots* storage = send_slots_;
    if (!storage) storage = send_slots_ = new detail::send_slots;
    if (storage->busy) {
        temporary = std::make_unique<detail::send_slots>();
        storage = temporary.get();
    }
    storage->busy = true;
    const timeout until = limit.is_set() ? timeout{limit.deadline()} : limit;
    std::size_t sent = 0;
    std::error_code first_error;
    for (std::size_t at = 0; at < datagrams.size(); at += chunk) {
        const std::size_t n = std::min(chunk, datagrams.size() - at);
        chunk_slots slots{*storage, n, socket_, until};
        std::array<bool, chunk> started{};
        for (std::size_t i = 0; i < n; ++i) slots[i].load(datagrams[at + i], nullptr);
        chunk_awaiter awaiter{slots.all(), started, {}, {}};
        co_await awaiter;
        bool stopped = false;
        for (std::size_t i = 0; i < n; ++i) {
            auto r = slots[i].outcome_of(started[i], awaiter.token);
            if (r) {
                ++sent;
                continue;
            }
            if (!first_error) first_error = r.error();
            stopped = stopped || r.error() == errc::operation_canceled || r.error() == errc::timed_out ||
                      r.error() == std::errc::bad_file_descriptor || r.error() == errc::not_on_shard;
        }
        if (stopped) break;
    }
    storage->busy = false;
    if (sent == 0 && first_error) co_return unexpected{first_error};
    co_return sent;
}

}  // namespace ringlet::net
