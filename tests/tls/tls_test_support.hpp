// Helpers shared by the TLS tests: certificates generated at run time with
// the openssl CLI (never committed), contexts made from them, and child
// processes (openssl s_client / s_server, examples) stopped by PID.
#pragma once

#include "../net/stream_test_support.hpp"

#include <ringlet/core/when.hpp>
#include <ringlet/tls/context.hpp>
#include <ringlet/tls/listener.hpp>
#include <ringlet/tls/stream.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace ringlet::test {

/// The directory with the generated certificates (made once per process):
/// ca, server (localhost), expired, self, untrusted (other CA), client, sni (sni.test).
inline const std::string& cert_dir() {
    static const std::string dir = [] {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/ringlet-tls-XXXXXX";
        if (!mkdtemp(pattern.data())) return std::string{};
        const std::string script = R"(set -e
cd ")" + pattern + R"("
cat > ca.cnf <<'X'
[ca]
default_ca = d
[d]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = p
copy_extensions = copy
unique_subject = no
[p]
commonName = supplied
X
touch index.txt; echo 01 > serial
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
root() { key $1.key; openssl req -x509 -new -key $1.key -subj "/CN=$2" -days 3 -out $1.pem; }
leaf() { n=$1; cn=$2; san=$3; issuer=$4; shift 4
  key $n.key; openssl req -new -key $n.key -subj "/CN=$cn" -addext "subjectAltName=$san" -out $n.csr
  openssl ca -batch -config ca.cnf -cert $issuer.pem -keyfile $issuer.key -in $n.csr -out $n.pem -notext "$@"; }
root ca ringlet-test-ca
root other ringlet-other-ca
leaf server localhost DNS:localhost,IP:127.0.0.1 ca -days 2
leaf expired localhost DNS:localhost ca -startdate 20200101000000Z -enddate 20200201000000Z
leaf client ringlet-client DNS:client ca -days 2
leaf sni sni.test DNS:sni.test ca -days 2
leaf untrusted localhost DNS:localhost other -days 2
key self.key; openssl req -x509 -new -key self.key -subj /CN=localhost -addext subjectAltName=DNS:localhost -days 2 -out self.pem
)";
        const std::string path = pattern + "/gen.sh";
        std::ofstream(path) << script;
        const std::string cmd = "sh " + path + " >" + pattern + "/gen.log 2>&1";
        if (std::system(cmd.c_str()) != 0) return std::string{};
        return pattern;
    }();
    // The private keys live only as long as the test process.
    static const struct remover {
        ~remover() {
            std::error_code ignored;
            if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
        }
    } remove_at_exit;
    return dir;
}

inline std::string cert(const std::string& name) { return cert_dir() + "/" + name; }

/// Skips the test when certificates could not be generated (no openssl CLI).
#define REQUIRE_CERTS()                                                                 \
    do {                                                                                \
        if (::ringlet::test::cert_dir().empty()) GTEST_SKIP() << "openssl CLI failed"; \
    } while (0)

inline tls::context server_context(const std::string& name = "server", std::vector<std::string> alpn = {}) {
    tls::server_options o;
    o.certificate_chain_file = cert(name + ".pem");
    o.private_key_file = cert(name + ".key");
    o.alpn = std::move(alpn);
    return tls::context::server(o);
}

inline tls::context client_context(std::vector<std::string> alpn = {}) {
    tls::client_options o;
    o.ca_file = cert("ca.pem");
    o.alpn = std::move(alpn);
    return tls::context::client(o);
}

struct tls_ends {
    result<tls::stream> client = unexpected{ringlet::errc::invalid_argument};
    result<tls::stream> server = unexpected{ringlet::errc::invalid_argument};
};

/// Handshakes both ends of a fresh loopback TCP pair concurrently (5 s each).
inline task<tls_ends> tls_pair(tls::context server_ctx, tls::context client_ctx, std::string name,
                               const tls::session* resume = nullptr) {
    auto [c, s] = co_await tcp_pair();
    tls::client_handshake_options copts;
    copts.server_name = name;
    copts.handshake_timeout = std::chrono::seconds{5};
    copts.resume = resume;
    tls::server_handshake_options sopts;
    sopts.handshake_timeout = std::chrono::seconds{5};
    auto both = co_await when_all(tls::client_handshake(std::move(c), client_ctx, copts),
                                  tls::server_handshake(std::move(s), server_ctx, sopts));
    tls_ends out;
    out.client = std::move(std::get<0>(both));
    out.server = std::move(std::get<1>(both));
    co_return out;
}

/// A child process with stdin from a pipe and stdout+stderr to a file;
/// killed (SIGKILL, by its PID) and reaped on destruction.
class child {
public:
    explicit child(const std::vector<std::string>& argv, const std::string& cwd = {}) {
        out_path_ = cert_dir() + "/child-" + std::to_string(counter()++) + ".out";
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) return;
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
        posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        if (posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
        posix_spawn_file_actions_destroy(&actions);
        ::close(fds[0]);
        stdin_ = fds[1];
    }
    child(const child&) = delete;
    child& operator=(const child&) = delete;
    ~child() {
        close_stdin();
        if (pid_ > 0 && !exited_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    [[nodiscard]] bool started() const noexcept { return pid_ > 0; }
    void write_stdin(std::string_view text) const {
        if (stdin_ >= 0) (void)!::write(stdin_, text.data(), text.size());
    }
    void close_stdin() {
        if (stdin_ >= 0) ::close(stdin_);
        stdin_ = -1;
    }
    [[nodiscard]] std::string output() const {
        std::ifstream in(out_path_);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }
    /// Polls (with ring sleeps, at most `limit`) until `needle` appears in the output.
    task<bool> wait_for_output(std::string needle, std::chrono::milliseconds limit) {
        const auto until = clock::now() + limit;
        while (clock::now() < until) {
            if (output().find(needle) != std::string::npos) co_return true;
            (void)co_await sleep_for(std::chrono::milliseconds{20});
        }
        co_return false;
    }
    /// Waits (bounded) for the exit; yields the exit status, -1 if it did not exit.
    task<int> wait_exit(std::chrono::milliseconds limit) {
        const auto until = clock::now() + limit;
        while (clock::now() < until) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                exited_ = true;
                co_return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            (void)co_await sleep_for(std::chrono::milliseconds{20});
        }
        co_return -1;
    }
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    /// Sends `sig` to the child (by its PID).
    void signal(int sig) const {
        if (pid_ > 0 && !exited_) ::kill(pid_, sig);
    }

private:
    static int& counter() {
        static int n = 0;
        return n;
    }
    pid_t pid_ = -1;
    int stdin_ = -1;
    bool exited_ = false;
    std::string out_path_;
};

/// Path of an example program, or "" when examples were not built.
inline std::string example_program(const std::string& name) {
    const char* dir = std::getenv("RINGLET_EXAMPLES_DIR");
    if (!dir) return {};
    std::string path = std::string(dir) + "/" + name;
    return ::access(path.c_str(), X_OK) == 0 ? path : std::string{};
}

/// A TCP port that was free a moment ago (for programs that cannot bind port 0 and report it).
inline std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

/// Runs `body` (a task<void>) on a one-shard runtime.
template <class F>
void run_test(F body, unsigned shards = 1) {
    runtime rt{quiet_runtime(shards)};
    rt.run([&]() -> task<void> {
        try {
            co_await body();
        } catch (const assertion_failed&) {
        }
    });
}

}  // namespace ringlet::test
