// The backend choice: RINGLET_BACKEND, and the classifier that tells apart
// why io_uring_setup failed (a pure function over a snapshot, so every cause
// is tested here whatever this machine allows), with the remedy for each.
#include "core/backend_choice.hpp"
#include "core/shard.hpp"

#include <gtest/gtest.h>

#include <seccomp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>

using namespace ringlet;
using detail::io_uring_cause;
using detail::io_uring_snapshot;

namespace {

/// A modern kernel with io_uring allowed, no filter, a generous memlock limit.
io_uring_snapshot healthy(int setup_errno) {
    return {.setup_errno = setup_errno,
            .disabled_sysctl = 0,
            .io_uring_group = -1,
            .in_io_uring_group = false,
            .cap_sys_admin = false,
            .seccomp_mode = 0,
            .seccomp_filters = 0,
            .kernel_major = 6,
            .kernel_minor = 8,
            .memlock_limit = 8u << 20};
}

io_uring_snapshot with_filter(int setup_errno) {
    auto s = healthy(setup_errno);
    s.seccomp_mode = 2;
    s.seccomp_filters = 1;
    return s;
}

bool has(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

/// Sets RINGLET_BACKEND for one scope, restoring what was there.
class scoped_backend_env {
public:
    explicit scoped_backend_env(const char* value) {
        if (const char* old = std::getenv("RINGLET_BACKEND")) old_ = old, had_ = true;
        if (value) setenv("RINGLET_BACKEND", value, 1);
        else unsetenv("RINGLET_BACKEND");
    }
    ~scoped_backend_env() {
        if (had_) setenv("RINGLET_BACKEND", old_.c_str(), 1);
        else unsetenv("RINGLET_BACKEND");
    }
    scoped_backend_env(const scoped_backend_env&) = delete;
    scoped_backend_env& operator=(const scoped_backend_env&) = delete;

private:
    std::string old_;
    bool had_ = false;
};

}  // namespace

TEST(BackendChoice, WorkingSetupIsAvailable) {
    const auto d = detail::classify_io_uring(healthy(0));
    EXPECT_EQ(d.cause, io_uring_cause::available);
    EXPECT_FALSE(d.falls_back);
}

TEST(BackendChoice, SeccompEpermNamesTheFilterAndTheProfile) {
    for (int err : {EPERM, EACCES}) {
        const auto d = detail::classify_io_uring(with_filter(err));
        EXPECT_EQ(d.cause, io_uring_cause::seccomp) << err;
        EXPECT_TRUE(d.falls_back);
        EXPECT_TRUE(has(d.cause_text, "seccomp filter")) << d.cause_text;
        EXPECT_TRUE(has(d.cause_text, "container runtime")) << d.cause_text;
        EXPECT_TRUE(has(d.remedy, "io_uring_setup, io_uring_enter and io_uring_register")) << d.remedy;
        EXPECT_TRUE(has(d.remedy, "--security-opt seccomp=")) << d.remedy;
        EXPECT_TRUE(has(d.remedy, "seccompProfile")) << d.remedy;
    }
}

TEST(BackendChoice, SeccompEnosysBlamesTheFilterNotTheKernel) {
    const auto d = detail::classify_io_uring(with_filter(ENOSYS));
    EXPECT_EQ(d.cause, io_uring_cause::seccomp);
    EXPECT_TRUE(d.falls_back);
    EXPECT_TRUE(has(d.cause_text, "seccomp filter")) << d.cause_text;
    EXPECT_FALSE(has(d.cause_text, "CONFIG_IO_URING")) << d.cause_text;
    EXPECT_FALSE(has(d.cause_text, "older")) << d.cause_text;
}

TEST(BackendChoice, EnosysWithoutFilterOnANewKernelIsTheKernelConfig) {
    const auto d = detail::classify_io_uring(healthy(ENOSYS));
    EXPECT_EQ(d.cause, io_uring_cause::kernel_config);
    EXPECT_TRUE(d.falls_back);
    EXPECT_TRUE(has(d.cause_text, "kernel 6.8")) << d.cause_text;
    EXPECT_TRUE(has(d.cause_text, "CONFIG_IO_URING is off")) << d.cause_text;
    EXPECT_TRUE(has(d.remedy, "CONFIG_IO_URING=y")) << d.remedy;
}

TEST(BackendChoice, EnosysOnAKernelBefore51IsTheKernelEvenUnderAFilter) {
    auto s = with_filter(ENOSYS);
    s.kernel_major = 4;
    s.kernel_minor = 19;
    const auto d = detail::classify_io_uring(s);
    EXPECT_EQ(d.cause, io_uring_cause::kernel_too_old);
    EXPECT_TRUE(d.falls_back);
    EXPECT_TRUE(has(d.cause_text, "kernel 4.19 is older than 5.1")) << d.cause_text;
    EXPECT_TRUE(has(d.remedy, "Linux 5.19 or newer")) << d.remedy;

    s.kernel_major = 5;
    s.kernel_minor = 0;
    EXPECT_EQ(detail::classify_io_uring(s).cause, io_uring_cause::kernel_too_old);
    s.kernel_minor = 1;  // 5.1 has io_uring: the filter it is
    EXPECT_EQ(detail::classify_io_uring(s).cause, io_uring_cause::seccomp);
}

TEST(BackendChoice, SysctlTwoDeniesEveryoneAndWinsOverAFilter) {
    auto s = with_filter(EPERM);
    s.disabled_sysctl = 2;
    s.cap_sys_admin = true;  // 2 denies even root
    const auto d = detail::classify_io_uring(s);
    EXPECT_EQ(d.cause, io_uring_cause::sysctl);
    EXPECT_TRUE(d.falls_back);
    EXPECT_TRUE(has(d.cause_text, "kernel.io_uring_disabled is 2")) << d.cause_text;
    EXPECT_TRUE(has(d.cause_text, "seccomp filter is present too")) << d.cause_text;
    EXPECT_TRUE(has(d.remedy, "sysctl -w kernel.io_uring_disabled=0")) << d.remedy;
}

TEST(BackendChoice, SysctlOneDeniesOnlyWithoutCapabilityOrGroup) {
    auto s = healthy(EPERM);
    s.disabled_sysctl = 1;
    s.io_uring_group = 1234;
    auto d = detail::classify_io_uring(s);
    EXPECT_EQ(d.cause, io_uring_cause::sysctl);
    EXPECT_TRUE(has(d.cause_text, "kernel.io_uring_disabled is 1")) << d.cause_text;
    EXPECT_TRUE(has(d.cause_text, "CAP_SYS_ADMIN")) << d.cause_text;
    EXPECT_TRUE(has(d.cause_text, "(1234)")) << d.cause_text;
    EXPECT_FALSE(has(d.cause_text, "seccomp")) << d.cause_text;
    EXPECT_TRUE(has(d.remedy, "kernel.io_uring_group")) << d.remedy;
    EXPECT_TRUE(has(d.remedy, "kernel.io_uring_disabled=0")) << d.remedy;

    s.io_uring_group = -1;
    EXPECT_TRUE(has(detail::classify_io_uring(s).cause_text, "(unset)"));

    // The sysctl lets this process through: the EPERM came from elsewhere.
    s.in_io_uring_group = true;
    EXPECT_EQ(detail::classify_io_uring(s).cause, io_uring_cause::policy);
    s.in_io_uring_group = false;
    s.cap_sys_admin = true;
    s.seccomp_mode = 2;
    EXPECT_EQ(detail::classify_io_uring(s).cause, io_uring_cause::seccomp);
}

TEST(BackendChoice, EpermThatNothingExplainsPointsAtASecurityModule) {
    const auto d = detail::classify_io_uring(healthy(EPERM));
    EXPECT_EQ(d.cause, io_uring_cause::policy);
    EXPECT_TRUE(d.falls_back);
    EXPECT_TRUE(has(d.cause_text, "neither kernel.io_uring_disabled nor a seccomp filter")) << d.cause_text;
    EXPECT_TRUE(has(d.remedy, "security policy")) << d.remedy;
}

TEST(BackendChoice, EnomemOnAnOldKernelIsMemlockWithItsLimit) {
    auto s = healthy(ENOMEM);
    s.kernel_major = 5;
    s.kernel_minor = 10;
    s.memlock_limit = 64 * 1024;
    const auto d = detail::classify_io_uring(s);
    EXPECT_EQ(d.cause, io_uring_cause::memlock);
    EXPECT_TRUE(d.falls_back);
    EXPECT_TRUE(has(d.cause_text, "RLIMIT_MEMLOCK is 64 KiB")) << d.cause_text;
    EXPECT_TRUE(has(d.cause_text, "before 5.12")) << d.cause_text;
    EXPECT_TRUE(has(d.remedy, "ulimit -l unlimited")) << d.remedy;
    EXPECT_TRUE(has(d.remedy, "LimitMEMLOCK")) << d.remedy;
}

TEST(BackendChoice, EnomemOnANewKernelIsNotBlamedOnMemlockAlone) {
    auto s = healthy(ENOMEM);
    s.memlock_limit = UINT64_MAX;
    const auto d = detail::classify_io_uring(s);
    EXPECT_EQ(d.cause, io_uring_cause::memlock);
    EXPECT_TRUE(has(d.cause_text, "could not allocate the ring")) << d.cause_text;
    EXPECT_TRUE(has(d.cause_text, "RLIMIT_MEMLOCK is unlimited")) << d.cause_text;
    EXPECT_TRUE(has(d.remedy, "ulimit -l")) << d.remedy;
}

TEST(BackendChoice, OtherFailuresDoNotFallBack) {
    const auto inval = detail::classify_io_uring(healthy(EINVAL));
    EXPECT_EQ(inval.cause, io_uring_cause::parameters);
    EXPECT_FALSE(inval.falls_back);
    EXPECT_TRUE(has(inval.remedy, "power-of-two sq_entries")) << inval.remedy;
    const auto mfile = detail::classify_io_uring(healthy(EMFILE));
    EXPECT_EQ(mfile.cause, io_uring_cause::other);
    EXPECT_FALSE(mfile.falls_back);
}

TEST(BackendChoice, FailureTextNamesTheErrno) {
    const auto d = detail::classify_io_uring(with_filter(ENOSYS));
    const std::string text = detail::describe_setup_failure(ENOSYS, d);
    EXPECT_TRUE(has(text, "io_uring_setup failed with Function not implemented (ENOSYS, errno 38): a seccomp filter"))
        << text;
}

TEST(BackendChoice, ObservedSnapshotMatchesThisProcess) {
    const auto s = detail::observe_io_uring(0);
    EXPECT_GT(s.kernel_major, 0);
    EXPECT_GE(s.seccomp_mode, 0);  // every kernel ringlet runs on has the Seccomp: line
    EXPECT_EQ(detail::classify_io_uring(s).cause, io_uring_cause::available);
}

TEST(BackendChoice, BackendNamesParseAndPrint) {
    EXPECT_EQ(detail::parse_backend_name("auto"), backend_choice::auto_select);
    EXPECT_EQ(detail::parse_backend_name("io_uring"), backend_choice::io_uring);
    EXPECT_EQ(detail::parse_backend_name("epoll"), backend_choice::epoll);
    EXPECT_EQ(detail::parse_backend_name("EPOLL"), std::nullopt);
    EXPECT_EQ(detail::parse_backend_name("uring"), std::nullopt);
    EXPECT_EQ(detail::parse_backend_name(""), std::nullopt);
    for (auto c : {backend_choice::auto_select, backend_choice::io_uring, backend_choice::epoll}) {
        EXPECT_EQ(detail::parse_backend_name(detail::backend_name(c)), c);
    }
}

TEST(BackendChoice, EnvironmentOverridesTheOption) {
    {
        scoped_backend_env env{nullptr};
        EXPECT_EQ(detail::requested_backend(backend_choice::io_uring), backend_choice::io_uring);
    }
    {
        scoped_backend_env env{""};  // set but empty: as if unset
        EXPECT_EQ(detail::requested_backend(backend_choice::epoll), backend_choice::epoll);
    }
    {
        scoped_backend_env env{"epoll"};
        EXPECT_EQ(detail::requested_backend(backend_choice::io_uring), backend_choice::epoll);
        const auto decision = detail::chosen_backend(backend_choice::auto_select);
        EXPECT_EQ(decision.kind, detail::backend_kind::epoll);
        EXPECT_FALSE(decision.fell_back);
        EXPECT_TRUE(has(decision.reason, "RINGLET_BACKEND=epoll")) << decision.reason;
    }
}

TEST(BackendChoice, BadEnvironmentValueNamesTheVariableAndTheChoices) {
    scoped_backend_env env{"uring"};
    try {
        (void)detail::requested_backend(backend_choice::auto_select);
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "ringlet: RINGLET_BACKEND=uring is not a backend: use auto, io_uring or epoll");
    }
    EXPECT_THROW((runtime{{.shards = 1, .handle_signals = false}}), std::invalid_argument);
    EXPECT_THROW((void)runtime::choose_backend(), std::invalid_argument);
}

TEST(BackendChoice, AutoChoosesIoUringWhereItWorks) {
    scoped_backend_env env{nullptr};
    if (detail::probe_io_uring() != 0) GTEST_SKIP() << "io_uring is unavailable here";
    const auto report = runtime::choose_backend();
    EXPECT_EQ(report.backend, backend_choice::io_uring);
    EXPECT_EQ(report.reason, "auto: io_uring_setup works here");
    runtime rt{{.shards = 1, .handle_signals = false}};
    EXPECT_EQ(rt.backend(), backend_choice::io_uring);
}

namespace {

/// The kind of backend the calling shard runs on.
task<detail::backend_kind> shard_backend_kind() {
    co_return detail::shard::current()->io().kind();
}

/// Runs `body` in a forked child whose seccomp filter answers io_uring_setup
/// with EPERM and whose stderr goes to a pipe; returns {what body returned,
/// the child's stderr}.
template <class Body>
std::pair<std::string, std::string> run_under_filter(Body body) {
    int result_pipe[2], err_pipe[2];
    EXPECT_EQ(pipe(result_pipe), 0);
    EXPECT_EQ(pipe(err_pipe), 0);
    const pid_t pid = fork();
    if (pid == 0) {
        close(result_pipe[0]);
        close(err_pipe[0]);
        dup2(err_pipe[1], 2);
        unsetenv("RINGLET_BACKEND");
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(io_uring_setup), 0) != 0 ||
            seccomp_load(ctx) != 0) {
            _exit(3);
        }
        std::string text;
        try {
            text = body();
        } catch (const std::exception& e) {
            text = std::string("exception: ") + e.what();
        }
        [[maybe_unused]] auto n = write(result_pipe[1], text.data(), text.size());
        _exit(0);
    }
    close(result_pipe[1]);
    close(err_pipe[1]);
    auto drain = [](int fd) {
        std::string text;
        char buf[1024];
        for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
        close(fd);
        return text;
    };
    std::string result = drain(result_pipe[0]);
    std::string err = drain(err_pipe[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    return {result, err};
}

const char* kind_name(detail::backend_kind kind) { return kind == detail::backend_kind::epoll ? "epoll" : "io_uring"; }

}  // namespace

TEST(BackendChoice, ShardsConstructTheChosenBackend) {
    scoped_backend_env env{nullptr};
    runtime rt{{.shards = 2, .backend = backend_choice::epoll, .handle_signals = false}};
    EXPECT_EQ(rt.backend(), backend_choice::epoll);
    std::atomic<int> epoll_shards{0};
    rt.run_on_all([&](unsigned) -> task<void> {
        const detail::backend_kind kind = co_await shard_backend_kind();
        if (kind == detail::backend_kind::epoll) ++epoll_shards;
    });
    EXPECT_EQ(epoll_shards, 2);
    if (detail::probe_io_uring() != 0) return;
    runtime uring{{.shards = 1, .backend = backend_choice::io_uring, .handle_signals = false}};
    EXPECT_EQ(uring.run([]() -> task<detail::backend_kind> { co_return co_await shard_backend_kind(); }),
              detail::backend_kind::io_uring);
}

TEST(BackendChoice, AutoUnderASeccompFilterRunsOnEpollAndSaysSoOncePerProcess) {
    const auto [result, err] = run_under_filter([] {
        std::string kinds;
        for (int i = 0; i < 2; ++i) {  // two runtimes, one line
            runtime rt{{.shards = 1, .handle_signals = false}};
            kinds += kind_name(rt.run([]() -> task<detail::backend_kind> { co_return co_await shard_backend_kind(); }));
            kinds += ' ';
        }
        return kinds;
    });
    EXPECT_EQ(result, "epoll epoll ");
    ASSERT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_EQ(err.rfind("ringlet: using epoll, not io_uring: io_uring_setup failed with Operation not permitted (EPERM", 0),
              0u) << err;
    EXPECT_TRUE(has(err, "a seccomp filter denies it")) << err;
}

TEST(BackendChoice, ExplicitEpollUnderAFilterSaysNothing) {
    const auto [result, err] = run_under_filter([] {
        runtime rt{{.shards = 1, .backend = backend_choice::epoll, .handle_signals = false}};
        return std::string(kind_name(rt.run([]() -> task<detail::backend_kind> { co_return co_await shard_backend_kind(); })));
    });
    EXPECT_EQ(result, "epoll");
    EXPECT_EQ(err, "");
}
