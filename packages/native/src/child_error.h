// Failure reporting between the launcher's child and its parent.
//
// Every step of the launch sequence that can fail has a number here. The
// child writes one fixed-size ChildFailure record to the error pipe and
// exits; the parent turns it into a LaunchError naming the step.

#pragma once

#include <cstddef>
#include <cstdint>

namespace launch {

enum class Step : int32_t {
  Signals = 1,
  Sync,
  CgroupNamespace,
  Setsid,
  MountPrivate,
  MountStaging,
  MountBind,
  MountProc,
  MountDev,
  MountTmpfs,
  MountMask,
  MountReadonly,
  PivotRoot,
  Hostname,
  Loopback,
  Stdio,
  ListenFds,
  CloseFds,
  Rlimits,
  Environment,
  Chdir,
  Setgroups,
  Setresgid,
  Setresuid,
  Capabilities,
  Securebits,
  NoNewPrivs,
  Landlock,
  Seccomp,
  SeccompListener,
  Execve,
  Cgroup,
};

// Name of a step as it appears in LaunchError.step, or "unknown".
const char* stepName(int32_t step);

// The record is well below PIPE_BUF, so one write() of it is atomic.
struct ChildFailure {
  int32_t step;
  int32_t err;
  char detail[248];
};
static_assert(sizeof(ChildFailure) == 256, "ChildFailure must stay 256 bytes");

// Fills a failure record. Async-signal-safe: it only copies bytes.
bool fail(ChildFailure& failure, Step step, int err, const char* detail);
bool fail(ChildFailure& failure, Step step, int err, const char* detail, unsigned long number);

}  // namespace launch
