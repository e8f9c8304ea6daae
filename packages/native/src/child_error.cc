#include "child_error.h"

#include "async_safe.h"

namespace launch {

const char* stepName(int32_t step) {
  switch (static_cast<Step>(step)) {
    case Step::Signals: return "signals";
    case Step::Sync: return "sync";
    case Step::CgroupNamespace: return "cgroup namespace";
    case Step::Setsid: return "setsid";
    case Step::MountPrivate: return "mount private";
    case Step::MountStaging: return "mount staging";
    case Step::MountBind: return "mount bind";
    case Step::MountProc: return "mount proc";
    case Step::MountDev: return "mount dev";
    case Step::MountTmpfs: return "mount tmpfs";
    case Step::MountMask: return "mount mask";
    case Step::MountReadonly: return "mount readonly";
    case Step::PivotRoot: return "pivot_root";
    case Step::Hostname: return "sethostname";
    case Step::Loopback: return "loopback";
    case Step::Stdio: return "stdio";
    case Step::ListenFds: return "listen fds";
    case Step::CloseFds: return "close fds";
    case Step::Rlimits: return "rlimits";
    case Step::Environment: return "environment";
    case Step::Chdir: return "chdir";
    case Step::Setgroups: return "setgroups";
    case Step::Setresgid: return "setresgid";
    case Step::Setresuid: return "setresuid";
    case Step::Capabilities: return "capabilities";
    case Step::Securebits: return "securebits";
    case Step::NoNewPrivs: return "no_new_privs";
    case Step::Landlock: return "landlock";
    case Step::Seccomp: return "seccomp";
    case Step::SeccompListener: return "seccomp listener";
    case Step::Execve: return "execve";
    case Step::Cgroup: return "cgroup";
  }
  return "unknown";
}

bool fail(ChildFailure& failure, Step step, int err, const char* detail) {
  failure.step = static_cast<int32_t>(step);
  failure.err = err;
  safe::copy(failure.detail, sizeof(failure.detail), detail);
  return false;
}

bool fail(ChildFailure& failure, Step step, int err, const char* detail, unsigned long number) {
  fail(failure, step, err, detail);
  size_t used = safe::length(failure.detail);
  if (used + 2 < sizeof(failure.detail)) {
    failure.detail[used++] = ' ';
    safe::formatUnsigned(failure.detail + used, sizeof(failure.detail) - used, number);
  }
  return false;
}

}  // namespace launch
