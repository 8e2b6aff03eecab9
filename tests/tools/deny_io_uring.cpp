// deny_io_uring: runs a program where io_uring is denied, the way a container
// runtime or a locked-down host denies it. Test-only (tests/tools/fallback_test).
//
//   deny_io_uring --errno EPERM -- build/examples/echo_server 127.0.0.1:0
//   deny_io_uring --errno ENOSYS -- build/tools/ringlet_info
//   deny_io_uring --drop-sys-admin -- build/tools/ringlet_info
//
// --errno E installs a seccomp filter (libseccomp; it checks the architecture
// and kills a foreign one) answering io_uring_setup, io_uring_enter and
// io_uring_register with E (EPERM like Docker's and containerd's default
// profiles, ENOSYS like some sandboxes), everything else allowed.
// --drop-sys-admin removes CAP_SYS_ADMIN from the bounding, inheritable,
// permitted and effective sets, so that kernel.io_uring_disabled=1 applies
// to the program even when it runs as root. Then it execs the program.
// Exits 2 on a bad argument, 1 when the set-up or the exec fails.
#include <linux/capability.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace {

int fail(const char* what, int err) {
    std::fprintf(stderr, "deny_io_uring: %s: %s\n", what, std::strerror(err));
    return 1;
}

/// 0 or the errno of the failed step.
int drop_sys_admin() {
    if (prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) != 0) return errno;
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    if (syscall(SYS_capget, &header, data) != 0) return errno;
    const unsigned bit = 1u << CAP_SYS_ADMIN;  // CAP_SYS_ADMIN (21) is in the first word
    data[0].effective &= ~bit;
    data[0].permitted &= ~bit;
    data[0].inheritable &= ~bit;
    if (syscall(SYS_capset, &header, data) != 0) return errno;
    return 0;
}

/// 0 or the (positive) errno of the failed step.
int deny_with(int err) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) return ENOMEM;
    int rc = 0;
    for (int sys : {SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register)}) {
        if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(static_cast<unsigned>(err)), sys, 0)) != 0) break;
    }
    if (rc == 0) rc = seccomp_load(ctx);  // sets no_new_privs first
    seccomp_release(ctx);
    return -rc;
}

}  // namespace

int main(int argc, char** argv) {
    int deny_errno = 0;
    bool drop = false;
    int i = 1;
    for (; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") {
            ++i;
            break;
        }
        if (arg == "--drop-sys-admin") {
            drop = true;
        } else if (arg == "--errno" && i + 1 < argc) {
            const std::string_view name = argv[++i];
            deny_errno = name == "EPERM" ? EPERM : name == "ENOSYS" ? ENOSYS : name == "EACCES" ? EACCES : 0;
            if (!deny_errno) {
                std::fprintf(stderr, "deny_io_uring: --errno takes EPERM, ENOSYS or EACCES, not %s\n", argv[i]);
                return 2;
            }
        } else {
            std::fprintf(stderr, "deny_io_uring: unknown argument %s\n"
                                 "usage: deny_io_uring [--errno EPERM|ENOSYS|EACCES] [--drop-sys-admin] -- PROGRAM [ARGS]\n",
                         argv[i]);
            return 2;
        }
    }
    if (i >= argc || (!deny_errno && !drop)) {
        std::fprintf(stderr, "usage: deny_io_uring [--errno EPERM|ENOSYS|EACCES] [--drop-sys-admin] -- PROGRAM [ARGS]\n");
        return 2;
    }
    if (drop) {
        if (int err = drop_sys_admin()) return fail("dropping CAP_SYS_ADMIN", err);
    }
    if (deny_errno) {
        if (int err = deny_with(deny_errno)) return fail("loading the seccomp filter", err);
    }
    execvp(argv[i], argv + i);
    return fail(argv[i], errno);
}
