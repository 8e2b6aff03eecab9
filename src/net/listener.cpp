// net::listener: multishot accept with a per-listener queue and FIFO waiters.
//
// Design notes
// - The state lives on the heap at a fixed address because the ring keeps a
//   pointer to its accept operation for as long as the multishot is armed,
//   across moves of the listener and even past its destruction (a destroyed
//   listener whose multishot is still armed is "orphaned": its last
//   completion closes any late connection and frees the state).
// - The multishot is registered on the shard's root stop token, so a stopping
//   runtime ends it and the shard can drain its ring.
// - A waiter with a timeout owns a timer op. Whichever comes first —
//   a connection, the timer, a stop — decides the outcome; the waiter resumes
//   only once its timer has delivered its own completion, because the timer
//   lives in the waiter's frame. A connection that arrives after its waiter
//   timed out goes to the queue: nothing is lost.
// - A multishot ended by an error (EMFILE, ...) is not re-armed at once,
//   which would spin; the error goes to the waiters and the next accept()
//   re-arms.
#include "core/ops/ops.hpp"
#include "core/shard.hpp"

#include <ringlet/net/listener.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <deque>
#include <utility>

namespace ringlet::net {
namespace detail {
namespace {

ringlet::detail::backend& home_ring() noexcept { return ringlet::detail::shard::current()->io(); }

void schedule(std::coroutine_handle<> h) noexcept { ringlet::detail::shard::current()->schedule(h); }

}  // namespace

class multishot_accept final : public ringlet::detail::io_op {
public:
    explicit multishot_accept(listener_state& owner) noexcept;
    /// Multishot, or one connection per submission (kernels before 5.19).
    void choose(bool multishot) noexcept;
    static ringlet::detail::ops::fd_args view(io_op& op) noexcept;
    static void completed(io_op& op, int res, std::uint32_t flags, bool more) noexcept;
    listener_state* state;
};

struct listener_state {
    explicit listener_state(net::socket listening) : sock(std::move(listening)), accepter(*this) {}
    ~listener_state() { close_queued(); }

    void push_waiter(accept_wait* w) noexcept {
        w->prev_ = tail;
        w->next_ = nullptr;
        if (tail) tail->next_ = w;
        else head = w;
        tail = w;
        w->linked_ = true;
    }
    void remove_waiter(accept_wait* w) noexcept {
        if (w->prev_) w->prev_->next_ = w->next_;
        else head = w->next_;
        if (w->next_) w->next_->prev_ = w->prev_;
        else tail = w->prev_;
        w->prev_ = w->next_ = nullptr;
        w->linked_ = false;
    }
    void fail_waiters(std::error_code error) noexcept {
        while (accept_wait* w = head) {
            remove_waiter(w);
            w->deliver(unexpected{error});
        }
    }
    void close_queued() noexcept {
        for (int fd : ready) ::close(fd);
        ready.clear();
    }
    void cancel_multishot() noexcept {
        if (!armed || cancel_sent) return;
        cancel_sent = true;
        home_ring().cancel(accepter);
    }
    void unlink_path_if_ours() noexcept {
        struct stat now {};
        if (!unlink_path.empty() && ::lstat(unlink_path.c_str(), &now) == 0 && now.st_dev == path_dev &&
            now.st_ino == path_ino) {
            ::unlink(unlink_path.c_str());
        }
        unlink_path.clear();
    }

    void ensure_armed() noexcept;
    void on_completion(int res, bool more) noexcept;

    net::socket sock;
    multishot_accept accepter;
    std::deque<int> ready;        // accepted, not yet handed out
    std::error_code pending_error;  // for the next accept() when nobody waited
    accept_wait* head = nullptr;  // FIFO of waiting accept() calls
    accept_wait* tail = nullptr;
    stop_token root;
    ringlet::detail::shard* home = nullptr;
    std::coroutine_handle<> close_waiter;
    std::string unlink_path;
    dev_t path_dev = 0;
    ino_t path_ino = 0;
    bool armed = false;
    bool cancel_sent = false;
    bool multishot = true;
    bool saw_connection = false;
    bool closing = false;
    bool closed = false;
    bool orphaned = false;
};

multishot_accept::multishot_accept(listener_state& owner) noexcept
    : io_op(ringlet::detail::ops::accept_multishot_steps<&multishot_accept::view>), state(&owner) {
    set_completion(&completed);
}

void multishot_accept::choose(bool multishot) noexcept {
    namespace ops = ringlet::detail::ops;
    set_steps(multishot ? ops::accept_multishot_steps<&multishot_accept::view> : ops::accept_steps<&multishot_accept::view>);
}

ringlet::detail::ops::fd_args multishot_accept::view(io_op& op) noexcept {
    return {static_cast<multishot_accept&>(op).state->sock.fd(), 0};
}

void multishot_accept::completed(io_op& op, int res, std::uint32_t, bool more) noexcept {
    static_cast<multishot_accept&>(op).state->on_completion(res, more);
}

void listener_state::ensure_armed() noexcept {
    if (armed || closing || closed) return;
    ringlet::detail::shard* here = ringlet::detail::shard::current();
    if (!here) return fail_waiters(make_error_code(errc::not_on_shard));
    assert((!home || home == here) && "net::listener used from two shards");
    home = here;
    if (!root.stop_possible()) root = here->root_token();
    cancel_sent = false;
    if (multishot && !here->io().supports(ringlet::detail::capability::multishot_accept)) multishot = false;
    accepter.choose(multishot);
    if (!accepter.start(std::noop_coroutine(), root)) return fail_waiters(accepter.outcome().error());
    armed = true;
}

void listener_state::on_completion(int res, bool more) noexcept {
    if (!more) {
        armed = false;
        accepter.deregister();
    }
    if (res >= 0) {
        saw_connection = true;
        if (closing || closed || orphaned) {
            ::close(res);
        } else if (accept_wait* w = head) {
            remove_waiter(w);
            w->deliver(res);
        } else {
            ready.push_back(res);
            if (ready.size() >= listener::queue_limit) cancel_multishot();  // let the backlog hold the rest
        }
    }
    if (more) return;
    if (orphaned) {
        delete this;
        return;
    }
    if (close_waiter) return schedule(std::exchange(close_waiter, {}));
    if (closing || closed) return;
    if (res == -EINVAL && multishot && !saw_connection) {
        multishot = false;  // a kernel before 5.19: one accept per submission from now on
        if (head) ensure_armed();
        return;
    }
    if (res < 0 && res != -ECANCELED) {
        if (head) fail_waiters(errno_code(-res));
        else pending_error = errno_code(-res);
        return;
    }
    if (res == -ECANCELED && root.stop_requested()) return fail_waiters(make_error_code(errc::operation_canceled));
    if (head) ensure_armed();  // ended after a single-shot or our queue-limit cancel: tasks still wait
}

// --- accept_wait ------------------------------------------------------------------

namespace {

void timer_done(ringlet::detail::io_op& op, int, std::uint32_t, bool more) noexcept {
    if (!more) static_cast<accept_timer&>(op).owner->on_timer();
}

}  // namespace

accept_timer::accept_timer(accept_wait& waiter) noexcept : owner(&waiter) {
    set_completion(&timer_done);
}

accept_wait::accept_wait(listener_state* state, timeout limit) noexcept
    : stop_callback_base(&on_stop), state_(state), limit_(limit), timer_(*this) {}

accept_wait::~accept_wait() { assert(!linked_ && !timer_armed_ && "accept() abandoned while in flight"); }

bool accept_wait::await_ready() noexcept {
    if (!state_ || state_->closed) {
        outcome_ = unexpected{std::errc::bad_file_descriptor};
        return true;
    }
    if (state_->closing) return true;  // outcome_ is operation_canceled
    if (!state_->ready.empty()) {
        outcome_ = state_->ready.front();
        state_->ready.pop_front();
        return true;
    }
    if (state_->pending_error) {
        outcome_ = unexpected{std::exchange(state_->pending_error, {})};
        return true;
    }
    return false;
}

bool accept_wait::suspend(std::coroutine_handle<> waiter, const stop_token& token) noexcept {
    if (!ringlet::detail::shard::current()) {
        outcome_ = unexpected{errc::not_on_shard};
        return false;
    }
    if (token.stop_requested()) return false;  // outcome_ is operation_canceled
    waiter_ = waiter;
    state_->push_waiter(this);
    register_with(token);
    if (limit_.is_set()) {
        timer_.set_deadline(limit_.deadline());
        timer_armed_ = timer_.start(std::noop_coroutine(), {});
    }
    state_->ensure_armed();
    return true;
}

void accept_wait::deliver(result<int> outcome) noexcept {
    outcome_ = outcome;
    deregister();
    if (timer_armed_ && !timer_cancelled_) {
        timer_cancelled_ = true;
        home_ring().cancel(timer_);
    }
    resume_if_done();
}

void accept_wait::on_timer() noexcept {
    timer_armed_ = false;
    if (linked_) {
        state_->remove_waiter(this);
        outcome_ = unexpected{errc::timed_out};
        deregister();
    }
    resume_if_done();
}

void accept_wait::on_stop(stop_callback_base* self) noexcept {
    auto* w = static_cast<accept_wait*>(self);
    if (w->linked_) {
        w->state_->remove_waiter(w);
        w->outcome_ = unexpected{errc::operation_canceled};
    }
    if (w->timer_armed_ && !w->timer_cancelled_) {
        w->timer_cancelled_ = true;
        home_ring().cancel(w->timer_);
    }
    w->resume_if_done();
}

void accept_wait::resume_if_done() noexcept {
    if (linked_ || timer_armed_ || resumed_) return;
    resumed_ = true;
    schedule(waiter_);
}

}  // namespace detail

// --- listener ---------------------------------------------------------------------

namespace {

/// Frees the state now, or — while its multishot is still armed — cancels that
/// and lets the last completion free it.
void abandon(detail::listener_state* s) noexcept {
    assert(!s->head && "net::listener destroyed while tasks wait in accept()");
    s->close_queued();
    s->unlink_path_if_ours();
    if (!s->armed) {
        delete s;
        return;
    }
    s->orphaned = true;
    if (ringlet::detail::shard::current() == s->home) s->cancel_multishot();
    // Elsewhere the ring cannot be touched; the runtime's stop ends the multishot.
    ::close(s->sock.release());
}

struct unarmed_waiter {
    detail::listener_state* s;
    bool await_ready() const noexcept { return !s->armed; }
    void await_suspend(std::coroutine_handle<> h) const noexcept { s->close_waiter = h; }
    void await_resume() const noexcept {}
};

}  // namespace

listener::listener(net::socket listening) : state_(new detail::listener_state(std::move(listening))) {}

listener::listener(listener&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}

listener& listener::operator=(listener&& other) noexcept {
    if (this != &other) {
        if (state_) abandon(state_);
        state_ = std::exchange(other.state_, nullptr);
    }
    return *this;
}

listener::~listener() {
    if (state_) abandon(state_);
}

task<result<void>> listener::close() {
    detail::listener_state* s = state_;
    if (!s || s->closed) co_return result<void>{};
    if (s->closing) co_return unexpected{std::errc::connection_already_in_progress};
    s->closing = true;
    s->fail_waiters(make_error_code(errc::operation_canceled));
    if (s->armed) {
        s->cancel_multishot();
        co_await unarmed_waiter{s};
    }
    s->close_queued();
    // The shard's root token is shard-local (non-atomic reference count):
    // drop it here, on its shard, so a listener closed by one shard and
    // destroyed by another (tcp::server's listeners) shares nothing.
    s->root = stop_token{};
    auto closed = co_await s->sock.close();
    s->unlink_path_if_ours();
    s->closing = false;
    s->closed = true;
    co_return closed;
}

result<address> listener::local_address() const noexcept {
    if (!state_) return unexpected{std::errc::bad_file_descriptor};
    return state_->sock.local_address();
}

bool listener::is_open() const noexcept { return state_ && !state_->closed && state_->sock.is_open(); }

int listener::fd() const noexcept { return state_ ? state_->sock.fd() : -1; }

std::size_t listener::queued() const noexcept { return state_ ? state_->ready.size() : 0; }

bool listener::multishot() const noexcept { return state_ && state_->multishot; }

result<void> listener::unlink_on_close(std::string path) {
    if (!state_) return unexpected{std::errc::bad_file_descriptor};
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return unexpected{errno_code(errno)};
    state_->path_dev = st.st_dev;
    state_->path_ino = st.st_ino;
    state_->unlink_path = std::move(path);
    return {};
}

}  // namespace ringlet::net
