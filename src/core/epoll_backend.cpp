// Design notes
// - Registration: one edge-triggered registration per descriptor for
//   EPOLLIN|EPOLLOUT|EPOLLRDHUP, with two FIFO waiter lists (in, out); an op
//   waiting for both directions sits on both. A descriptor is added when an
//   op starts waiting on it while nothing else does, and stays added: the
//   kernel drops it by itself when the file is closed. Because sockets are
//   closed outside the backend (a socket's destructor), the backend cannot
//   know that a number was reused by a new file, so that add is attempted at
//   every such start and EEXIST is the common answer; a real add (a new
//   file behind the number) forgets the old file's readiness.
// - Perform steps must not block. Most use a per-call flag (MSG_DONTWAIT,
//   RWF_NOWAIT); accept4 and connect have none, so their steps say
//   needs_nonblocking and the descriptor is made O_NONBLOCK at each such
//   submission (a listener or a connecting socket is opened blocking).
//   Checked every time, not remembered per number: a socket closed outside
//   the backend (a socket's destructor) may leave its number to a new
//   blocking file, and one blocking accept4 would stall the shard. One
//   fcntl per accept arming or connect, never on the recv/send path.
// - Readiness is remembered per direction: a perform that says -EAGAIN marks
//   the direction not ready until the next edge, so an op submitted in the
//   meantime goes straight to waiting instead of trying a syscall that
//   cannot succeed (what keeps a request/response loop at one recv and one
//   send per request, as a hand-written epoll server has).
// - Completions are queued and dispatched by poll(), so a waiter never
//   resumes inside its own submit and cancel never completes synchronously.
//   An op whose final completion is queued is no longer the backend's: a
//   cancel then changes nothing and it delivers its real result.
// - Deadlines (an op's time limit, a pure timer op) are entries of the
//   shard's timer_queue; an op whose limit passes leaves its lists and
//   completes with -ECANCELED, as a linked timeout makes io_uring's, so
//   io_op::outcome maps it to timed_out. epoll_pwait2 sleeps until the
//   earliest deadline with nanosecond precision (epoll_wait's milliseconds,
//   rounded up, on kernels before 5.11).
// - Multishot ops are emulated: a multishot op stays on its lists after a
//   completion (flagged more). An accept-like one is tried again until it
//   says -EAGAIN (one completion per connection: an edge may stand for
//   several); a poll gets one completion per edge that names its events,
//   answered from the edge's own bits (op_steps::yields_revents) rather than
//   a poll(2) per edge — the readiness receive path then costs what a
//   hand-written epoll loop does: epoll_wait, recv, send.
// - Cancel by descriptor (fd_effect::cancel_all) ends every op waiting on
//   the descriptor with -ECANCELED, delivered from the next poll() like any
//   completion; an op whose completion is already queued keeps its result
//   and is not counted, as with io_uring. A close op (fd_effect::close)
//   first deregisters the descriptor and forgets what was known about it,
//   so the next file behind that number starts clean (a number closed
//   elsewhere is noticed at its next real add, see Registration).
// - Nothing is dropped: the completion queue grows, and epoll_wait returns
//   the edges that did not fit into one call's array in the next call.
#include "core/epoll_backend.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <sstream>
#include <system_error>

namespace ringlet::detail {
namespace {

static_assert(EPOLLIN == POLLIN && EPOLLPRI == POLLPRI && EPOLLOUT == POLLOUT && EPOLLERR == POLLERR &&
                  EPOLLHUP == POLLHUP && EPOLLRDHUP == POLLRDHUP,
              "an edge's epoll bits answer a poll as they are");

constexpr std::uint32_t in_events = POLLIN | POLLPRI | POLLRDHUP;
constexpr std::uint32_t out_events = POLLOUT;
/// Most completions one multishot op produces per edge before others get a turn.
constexpr int drain_limit = 64;

}  // namespace

epoll_backend::epoll_backend(timer_queue& timers) : timers_(timers) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "ringlet: epoll_create1");
}

epoll_backend::~epoll_backend() {
    for (waiter& w : pool_) {
        if (w.armed()) timers_.remove(w);
    }
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool epoll_backend::supports(capability c) const noexcept {
    // Multishot accept is emulated cheaply (accept4 until EAGAIN per edge).
    // A multishot poll is emulated too, but not offered: a plain recv tried
    // at once is one syscall where poll + recv are two. Cancel by descriptor
    // is native: the backend owns each descriptor's waiters. Buffer rings,
    // multishot recv, recv bundles, MSG_RING and SEND_ZC are io_uring's;
    // their users fall back (plain recvs into their own buffer, eventfd
    // wakes, plain sends).
    return c == capability::multishot_accept || c == capability::cancel_fd;
}

std::string epoll_backend::describe() const {
    std::ostringstream text;
    text << "backend: epoll (edge-triggered, one registration per descriptor)\n";
    text << "timers: user-space queue, epoll_wait timeout = earliest deadline ("
        << (has_pwait2_ ? "epoll_pwait2, ns" : "epoll_wait, ms") << ")\n";
    text << "emulated: multishot accept, multishot poll; native: cancel by descriptor\n";
    text << "unsupported: buffer rings, multishot recv, recv bundles, MSG_RING (eventfd wakes), SEND_ZC\n";
    return text.str();
}

// --- records ---------------------------------------------------------------

epoll_backend::waiter* epoll_backend::acquire(io_op& op) {
    waiter* w = free_;
    if (w) free_ = w->next_free;
    else w = &pool_.emplace_back(this);
    w->op = &op;
    w->fd = -1;
    w->events = 0;
    w->multishot = false;
    w->pure_timer = false;
    words_of(op)[0] = reinterpret_cast<std::uintptr_t>(w);
    return w;
}

void epoll_backend::release(waiter* w) noexcept {
    assert(!w->linked[in] && !w->linked[out] && !w->armed());
    words_of(*w->op)[0] = 0;
    w->op = nullptr;
    w->next_free = free_;
    free_ = w;
}

epoll_backend::waiter* epoll_backend::waiter_of(const io_op& op) noexcept {
    return reinterpret_cast<waiter*>(static_cast<std::uintptr_t>(words_of(op)[0]));
}

epoll_backend::fd_entry& epoll_backend::entry(int fd) {
    const auto index = static_cast<std::size_t>(fd);
    if (index >= fds_.size()) fds_.resize(std::max(index + 1, fds_.size() * 2));
    return fds_[index];
}

// --- submit / cancel --------------------------------------------------------

void epoll_backend::submit(io_op& op) {
    waiter& w = *acquire(op);
    ++in_flight_;
    const op_steps& steps = steps_of(op);
    if (!steps.perform || !steps.wait_for) return finish(w, -EOPNOTSUPP);  // an io_uring-only operation
    const readiness wanted = steps.wait_for(op);
    w.multishot = is_multishot(op);
    if (wanted.fd < 0) {
        // No descriptor: done at once (a nop), or a timer op, which its deadline completes.
        const int res = steps.perform(op);
        if (res != -EAGAIN) return finish(w, res);
        w.pure_timer = true;
        timers_.insert(static_cast<const timer_op&>(op).deadline(), w);
        return;
    }
    if (steps.effect == fd_effect::cancel_all) return finish(w, cancel_all(wanted.fd));
    if (steps.effect == fd_effect::close) forget(wanted.fd);
    w.fd = wanted.fd;
    w.events = wanted.events;
    fd_entry& e = entry(w.fd);
    if (steps.needs_nonblocking) make_nonblocking(w.fd);
    if (retry_now(w, e)) return;  // finished (or a multishot op keeps going below)
    if (const int rc = start_waiting(w, e); rc < 0) return finish(w, rc);
    if (op.time_limit().is_set()) timers_.insert(op.time_limit(), w);
}

void epoll_backend::cancel(io_op& op) {
    waiter* w = waiter_of(op);
    if (!w) return;  // its final completion is already queued: it keeps its result
    finish(*w, -ECANCELED);
}

int epoll_backend::cancel_all(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return -ENOENT;
    fd_entry& e = fds_[static_cast<std::size_t>(fd)];
    int cancelled = 0;
    // finish() unlinks the waiter from both lists (one waiting for both
    // directions is counted once); its completion is queued, not delivered.
    for (unsigned d : {in, out}) {
        while (waiter* w = e.lists[d].head) {
            finish(*w, -ECANCELED);
            ++cancelled;
        }
    }
    return cancelled > 0 ? cancelled : -ENOENT;
}

void epoll_backend::forget(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    (void)cancel_all(fd);  // nothing can wake them once the file is gone
    // Deregistered before the close: a duplicate of the descriptor (fork,
    // dup) would otherwise keep the registration, and its edges, alive.
    (void)epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    fds_[static_cast<std::size_t>(fd)] = fd_entry{};
}

// --- trying and waiting -----------------------------------------------------

bool epoll_backend::maybe_ready(const waiter& w, const fd_entry& e) noexcept {
    return ((w.events & in_events) && e.ready[in]) || ((w.events & out_events) && e.ready[out]) ||
           !(w.events & (in_events | out_events));
}

void epoll_backend::make_nonblocking(int fd) noexcept {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) return;  // EBADF: the perform step reports it
    if (!(flags & O_NONBLOCK)) (void)::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int epoll_backend::try_perform(waiter& w, fd_entry& e) {
    ++stats_.performs;
    const int res = steps_of(*w.op).perform(*w.op);
    if (res == -EAGAIN) {
        ++stats_.would_block;
        if (w.events & in_events) e.ready[in] = false;
        if (w.events & out_events) e.ready[out] = false;
    }
    return res;
}

bool epoll_backend::retry_now(waiter& w, fd_entry& e, std::uint32_t edge) {
    if (!maybe_ready(w, e)) return false;
    if (edge && steps_of(*w.op).yields_revents) {
        // A poll answered by the edge itself (epoll's bits are poll's): one
        // completion per edge that names what it waits for, no poll(2).
        const std::uint32_t revents = edge & (w.events | POLLERR | POLLHUP);
        if (!revents) return false;
        if (!w.multishot) {
            finish(w, static_cast<int>(revents));
            return true;
        }
        push(*w.op, static_cast<int>(revents), true);
        return false;
    }
    if (!w.multishot) {
        const int res = try_perform(w, e);
        if (res == -EAGAIN) return false;
        finish(w, res);
        return true;
    }
    // Multishot: one completion per success, tried again at once until it
    // would block — an accept takes every connection behind this edge (an
    // edge may stand for several). A success that repeats the previous one
    // exactly is a level, not a new item (a poll's revents): it is not
    // delivered, and the op waits for the next edge. A failure ends the op,
    // as it ends an io_uring multishot.
    int previous = -1;
    for (int round = 0; round < drain_limit; ++round) {
        const int res = try_perform(w, e);
        if (res == -EAGAIN) return false;
        if (res < 0) {
            finish(w, res);
            return true;
        }
        if (res == previous) return false;
        push(*w.op, res, true);
        previous = res;
    }
    return false;
}

int epoll_backend::start_waiting(waiter& w, fd_entry& e) {
    if (!e.lists[in].head && !e.lists[out].head) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
        ev.data.fd = w.fd;
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, w.fd, &ev) == 0) {
            // A new file behind this number: what was known about the old one is void.
            ++stats_.registrations;
            e.ready[in] = e.ready[out] = false;  // the add reports the current state as an edge
        } else if (errno != EEXIST) {
            return -errno;  // EBADF, or EPERM for a descriptor epoll cannot watch
        }
    }
    // An op that names neither direction (a poll for errors only) waits on the in list.
    const bool wants_out = w.events & out_events;
    const bool wants_in = (w.events & in_events) || !wants_out;
    for (unsigned d : {in, out}) {
        if (!(d == in ? wants_in : wants_out)) continue;
        waiter_list& list = e.lists[d];
        w.prev[d] = list.tail;
        w.next[d] = nullptr;
        if (list.tail) list.tail->next[d] = &w;
        else list.head = &w;
        list.tail = &w;
        w.linked[d] = true;
    }
    return 0;
}

void epoll_backend::stop_waiting(waiter& w) noexcept {
    if (w.fd < 0) return;
    fd_entry& e = fds_[static_cast<std::size_t>(w.fd)];
    for (unsigned d : {in, out}) {
        if (!w.linked[d]) continue;
        waiter_list& list = e.lists[d];
        if (w.prev[d]) w.prev[d]->next[d] = w.next[d];
        else list.head = w.next[d];
        if (w.next[d]) w.next[d]->prev[d] = w.prev[d];
        else list.tail = w.prev[d];
        w.prev[d] = w.next[d] = nullptr;
        w.linked[d] = false;
    }
}

void epoll_backend::on_ready(int fd, std::uint32_t revents) {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    fd_entry& e = fds_[static_cast<std::size_t>(fd)];
    const bool failed = revents & (EPOLLERR | EPOLLHUP);
    if (failed || (revents & (EPOLLIN | EPOLLPRI | EPOLLRDHUP))) e.ready[in] = true;
    if (failed || (revents & EPOLLOUT)) e.ready[out] = true;
    for (unsigned d : {in, out}) {
        if (!e.ready[d]) continue;
        // Handlers run only from dispatch(), so the list changes only by the
        // waiters this walk finishes.
        waiter* w = e.lists[d].head;
        waiter* const last = e.lists[d].tail;
        while (w && e.ready[d]) {
            waiter* next = w->next[d];
            const bool was_last = w == last;
            (void)retry_now(*w, e, revents);  // a finished op has left the lists; `next` has not
            if (was_last) break;
            w = next;
        }
    }
}

// --- completions ------------------------------------------------------------

void epoll_backend::finish(waiter& w, int res) noexcept {
    stop_waiting(w);
    if (w.armed()) timers_.remove(w);
    io_op& op = *w.op;
    release(&w);
    push(op, res, false);
}

void epoll_backend::push(io_op& op, int res, bool more) {
    ready_.push_back({&op, res, 0, more});
}

void epoll_backend::on_deadline(timer_entry& entry) noexcept {
    auto& w = static_cast<waiter&>(entry);
    epoll_backend& self = *w.backend;
    ++self.stats_.timer_expiries;
    // A pure timer fires (-ETIME, as IORING_OP_TIMEOUT); an op's limit cancels it.
    self.finish(w, w.pure_timer ? -ETIME : -ECANCELED);
}

unsigned epoll_backend::dispatch() {
    // Handlers may submit (and so queue) more: those wait for the next turn.
    dispatching_.swap(ready_);
    const auto count = static_cast<unsigned>(dispatching_.size());
    for (const completion& c : dispatching_) {
        if (!c.more) --in_flight_;
        complete(*c.op, c.res, c.flags, c.more);
    }
    dispatching_.clear();
    return count;
}

bool epoll_backend::completions_pending() const noexcept {
    return !ready_.empty() || timers_.next_deadline() <= clock::now();
}

unsigned epoll_backend::poll(bool block) {
    constexpr int batch = 256;
    epoll_event events[batch];
    const bool may_sleep = block && ready_.empty();
    timespec limit{0, 0};
    const timespec* wait = &limit;
    if (may_sleep) {
        const clock::time_point next = timers_.next_deadline();
        if (next == clock::time_point::max()) {
            wait = nullptr;  // nothing timed: sleep until an edge
        } else {
            const auto ns = std::max<std::int64_t>(0, (next - clock::now()).count());
            limit.tv_sec = ns / 1'000'000'000;
            limit.tv_nsec = ns % 1'000'000'000;
        }
    }
    ++stats_.waits;
    int n = -1;
    if (has_pwait2_) {
        n = epoll_pwait2(epoll_fd_, events, batch, wait, nullptr);
        if (n < 0 && errno == ENOSYS) has_pwait2_ = false;
    }
    if (!has_pwait2_) {
        int ms = -1;
        if (wait) ms = static_cast<int>((limit.tv_sec * 1'000'000'000 + limit.tv_nsec + 999'999) / 1'000'000);
        n = epoll_wait(epoll_fd_, events, batch, ms);
    }
    if (n < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "ringlet: epoll_wait");
    for (int i = 0; i < n; ++i) on_ready(events[i].data.fd, events[i].events);
    timers_.expire(clock::now());
    return dispatch();
}

bool epoll_backend::is_multishot(const io_op& op) noexcept { return steps_of(op).multishot; }

}  // namespace ringlet::detail
