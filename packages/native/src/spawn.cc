#include "spawn.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>

#include "caps.h"
#include "child_error.h"
#include "child_sys.h"
#include "errors.h"
#include "fds.h"
#include "identity.h"
#include "landlock.h"
#include "mounts.h"
#include "net.h"
#include "notify.h"
#include "ns_release.h"
#include "pidfd.h"
#include "plan.h"
#include "rlimits.h"
#include "seccomp.h"

namespace launch {

namespace {

// ---- child: between clone and execve, raw system calls only ----

// The kernel's struct sigaction for rt_sigaction, which differs from glibc's.
struct KernelSigaction {
  uintptr_t handler;
  unsigned long flags;
  uintptr_t restorer;
  uint64_t mask;
};

bool resetSignals(ChildFailure& failure) {
  // Node ignores SIGPIPE and installs handlers. Ignored dispositions would
  // survive execve, and a handler must never run in the child: it would run
  // Node's code on Node's memory, which the child shares.
  KernelSigaction action = {};
  action.handler = reinterpret_cast<uintptr_t>(SIG_DFL);
  for (int signal = 1; signal <= 64; signal++) {
    if (signal == SIGKILL || signal == SIGSTOP) continue;
    int err = sys::error(sys::call(SYS_rt_sigaction, signal, &action, nullptr, sizeof(action.mask)));
    if (err != 0) return fail(failure, Step::Signals, err, "rt_sigaction", signal);
  }
  uint64_t empty = 0;
  int err = sys::error(sys::call(SYS_rt_sigprocmask, SIG_SETMASK, &empty, nullptr, sizeof(empty)));
  if (err != 0) return fail(failure, Step::Signals, err, "rt_sigprocmask");
  return true;
}

bool waitForRelease(int syncSocket, ChildFailure& failure) {
  char byte = 0;
  long got;
  do {
    got = sys::call(SYS_read, syncSocket, &byte, 1);
  } while (got == -EINTR);
  if (got != 1) return fail(failure, Step::Sync, got == 0 ? EPIPE : sys::error(got), "release");
  return true;
}

// Moves the child into its v1 cgroups (splitCgroupFiles explains why the
// child moves itself). With a beforeRelease hook it then sends the parent
// one byte, and the parent waits for that byte before the hook, so the hook
// sees the child in all its cgroups. Without a hook the parent releases the
// child at once: joining comes before waitForRelease either way.
bool joinCgroups(const LaunchPlan& plan, int syncSocket, ChildFailure& failure) {
  if (plan.cgroupSelfTasks.empty()) return true;
  for (const std::string& path : plan.cgroupSelfTasks) {
    long fd = sys::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return fail(failure, Step::Cgroup, sys::error(fd), path.c_str());
    int err = sys::writeAll(static_cast<int>(fd), "0", 1);
    sys::close(static_cast<int>(fd));
    if (err != 0) return fail(failure, Step::Cgroup, err, path.c_str());
  }
  if (!plan.reportJoined) return true;
  char joined = 'j';
  int err = sys::writeAll(syncSocket, &joined, 1);
  if (err != 0) return fail(failure, Step::Sync, err, "joined");
  return true;
}

// A cgroup namespace takes the caller's current cgroups as its root. At
// clone time those are the supervisor's, so the child unshares only after
// the parent placed it in the service's cgroups. The service's own cgroup
// then appears as "/".
bool enterCgroupNamespace(const LaunchPlan& plan, ChildFailure& failure) {
  if (!plan.nsCgroup) return true;
  int err = sys::error(sys::call(SYS_unshare, CLONE_NEWCGROUP));
  if (err != 0) return fail(failure, Step::CgroupNamespace, err, "unshare CLONE_NEWCGROUP");
  return true;
}

bool newSession(ChildFailure& failure) {
  int err = sys::error(sys::call(SYS_setsid));
  if (err != 0) return fail(failure, Step::Setsid, err, "setsid");
  return true;
}

bool buildFilesystem(const LaunchPlan& plan, ChildFailure& failure) {
  return mnt::makePropagationPrivate(failure) && mnt::enterStagingRoot(failure) &&
         mnt::runMountSteps(plan, failure) && mnt::pivotIntoNewRoot(failure);
}

bool setHostname(const LaunchPlan& plan, ChildFailure& failure) {
  int err = sys::error(sys::call(SYS_sethostname, plan.hostname.c_str(), plan.hostname.size()));
  if (err != 0) return fail(failure, Step::Hostname, err, plan.hostname.c_str());
  return true;
}

bool changeDirectory(const LaunchPlan& plan, ChildFailure& failure) {
  int err = sys::chdir(plan.cwd.c_str());
  if (err != 0) return fail(failure, Step::Chdir, err, plan.cwd.c_str());
  return true;
}

bool setNoNewPrivs(const LaunchPlan& plan, ChildFailure& failure) {
  if (!plan.noNewPrivs) return true;
  int err = sys::error(sys::call(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  if (err != 0) return fail(failure, Step::NoNewPrivs, err, "PR_SET_NO_NEW_PRIVS");
  return true;
}

// NOTE: when the seccomp filter denies write, the record is lost. The parent
// then reads end-of-file as a successful execve, and the service seems to
// exit at once with status 127. Filters must allow write and exit_group.
[[noreturn]] void reportFailure(int errorPipe, const ChildFailure& failure) {
  sys::writeAll(errorPipe, &failure, sizeof(failure));
  sys::exitGroup(127);
}

// The launch order. Each step needs privileges that a later one gives up.
// Mounts and the hostname need CAP_SYS_ADMIN. Descriptors and limits are
// arranged while still root. The identity changes before the capability
// sets shrink. The seccomp filter comes last, so it need not allow any of
// these calls.
[[noreturn]] void runChild(LaunchPlan& plan, fds::ChildDescriptors descriptors) {
  ChildFailure failure = {};
  bool ready =
      resetSignals(failure) &&
      joinCgroups(plan, descriptors.syncSocket, failure) &&
      waitForRelease(descriptors.syncSocket, failure) &&
      enterCgroupNamespace(plan, failure) &&
      newSession(failure) &&
      (!plan.nsMount || buildFilesystem(plan, failure)) &&
      (!plan.nsUts || setHostname(plan, failure)) &&
      (!plan.nsNet || !plan.loopbackUp || net::bringLoopbackUp(failure)) &&
      // Descriptors before rlimits: the copies above `base` could exceed a
      // low RLIMIT_NOFILE.
      fds::arrangeDescriptors(plan, descriptors, failure) &&
      rlimits::applyLimits(plan, failure) &&
      changeDirectory(plan, failure) &&
      identity::setGroups(plan, failure) &&
      identity::setGid(plan, failure) &&
      caps::checkAvailable(plan, failure) &&
      caps::keepAcrossUidChange(failure) &&
      identity::setUid(plan, failure) &&
      caps::restoreEffective(failure) &&
      caps::dropBoundingSet(plan, failure) &&
      caps::lockSecurebits(failure) &&
      caps::setCapabilitySets(plan, failure) &&
      caps::raiseAmbient(plan, failure) &&
      setNoNewPrivs(plan, failure) &&
      landlock::applyRuleset(plan, failure) &&
      seccomp::installFilter(plan, descriptors.syncSocket, failure);
  if (ready) {
    fds::fillListenPid(plan);
    long err = sys::call(SYS_execve, plan.file.c_str(), plan.argvPointers.data(), plan.envpPointers.data());
    fail(failure, Step::Execve, sys::error(err), plan.file.c_str());
  }
  reportFailure(descriptors.errorPipe, failure);
}

// ---- parent ----

// Why the child shares the parent's memory, and what that forbids.
//
// A fork-style clone copies the page tables of the whole Node process, and
// every page either process writes afterwards takes a copy-on-write fault.
// With the benchmark's Node process (about 100 MB RSS) that cost about
// 1 ms per launch (bench/README.md, Launch). Like glibc's posix_spawn, the launcher clones with CLONE_VM, so the
// child runs in the parent's address space on a stack of its own until
// execve gives it a fresh one. Unlike posix_spawn it does not add
// CLONE_VFORK: the parent has to keep running, to write cgroup files and
// call the beforeRelease hook while the child waits on the sync socket.
// The kernel accepts CLONE_VM with the namespace flags used here. It
// rejects CLONE_NEWNS with CLONE_FS and CLONE_NEWPID with CLONE_THREAD, and
// the launcher sets neither CLONE_FS nor CLONE_THREAD.
//
// The two run at the same time in one address space, so:
// - The child touches only its own stack and memory that the parent
//   prepared before the clone: the LaunchPlan and the ChildStart record.
//   It writes to none of it, except the LISTEN_PID entry of the
//   environment, which the parent never reads.
// - The child makes raw system calls (child_sys.h) and no glibc calls that
//   keep state. Without CLONE_SETTLS it runs on the parent thread's TLS, so
//   glibc's errno there is the parent's errno. glibc's locks, malloc and
//   setxid broadcast would act on the parent's threads. It never allocates
//   or throws.
// - The parent keeps the plan, the ChildStart record and the stack alive
//   and unchanged until the error pipe reports execve or the child was
//   killed and reaped. End-of-file on the pipe comes only after the child
//   switched to its new address space (execve closes close-on-exec
//   descriptors after that) or died.
// - Without CLONE_SIGHAND the child gets a copy of the signal dispositions,
//   but Node's handlers would run on Node's memory. The parent blocks every
//   signal around the clone, and the child resets all dispositions to the
//   default before it unblocks them.
// - Credentials are per process, but the dumpable flag belongs to the
//   address space: the child's setresuid clears it for the supervisor as
//   well, and DumpableGuard restores it after the launch.

// The child's entry arguments, in the parent's frame, which outlives the
// child's use of it.
struct ChildStart {
  LaunchPlan* plan;
  fds::ChildDescriptors descriptors;
};

int childEntry(void* argument) {
  auto* start = static_cast<ChildStart*>(argument);
  runChild(*start->plan, start->descriptors);
}

// The child's stack: mapped before the clone, with a guard page below it,
// and unmapped once the child has exec'd or was reaped.
class ChildStack {
 public:
  // The deepest step (a bind mount) uses about 12 KiB of path buffers.
  static constexpr size_t kSize = 256 * 1024;

  ChildStack() {
    guard_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* mapped = mmap(nullptr, guard_ + kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mapped == MAP_FAILED) return;
    base_ = static_cast<char*>(mapped);
    if (mprotect(base_, guard_, PROT_NONE) != 0) {
      munmap(base_, guard_ + kSize);
      base_ = nullptr;
    }
  }
  ~ChildStack() {
    if (base_ != nullptr) munmap(base_, guard_ + kSize);
  }
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;

  bool ok() const { return base_ != nullptr; }
  // Stacks grow down on x86_64 and aarch64; the end of a mapping is
  // page-aligned, which satisfies their 16-byte ABI alignment.
  void* top() const { return base_ + guard_ + kSize; }

 private:
  char* base_ = nullptr;
  size_t guard_ = 0;
};

// Restores the supervisor's dumpable flag when the launch ends. The flag
// belongs to the address space, so the child's setresuid to a non-root uid
// clears it for the supervisor too (the kernel sets it to
// fs.suid_dumpable, 0 by default). Declared before the child stack, so the
// restore runs after the child has exec'd or was reaped.
class DumpableGuard {
 public:
  DumpableGuard() : saved_(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)) {}
  ~DumpableGuard() {
    // prctl can set only 0 or 1; a saved 2 (SUID_DUMP_ROOT) stays as the kernel left it.
    if (saved_ == 0 || saved_ == 1) {
      if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != saved_) prctl(PR_SET_DUMPABLE, saved_, 0, 0, 0);
    }
  }
  DumpableGuard(const DumpableGuard&) = delete;
  DumpableGuard& operator=(const DumpableGuard&) = delete;

 private:
  int saved_;
};

// glibc's clone() switches the child to `stack` and calls childEntry there.
// With CLONE_PIDFD the kernel stores the pidfd at the parent_tid argument.
long cloneChild(uint64_t namespaces, const ChildStack& stack, ChildStart* start, int* pidfd) {
  int flags = static_cast<int>(namespaces | CLONE_VM | CLONE_PIDFD | SIGCHLD);
  return clone(childEntry, stack.top(), flags, start, pidfd);
}

uint64_t namespaceFlags(const LaunchPlan& plan) {
  uint64_t flags = 0;
  if (plan.nsPid) flags |= CLONE_NEWPID;
  if (plan.nsMount) flags |= CLONE_NEWNS;
  if (plan.nsNet) flags |= CLONE_NEWNET;
  if (plan.nsIpc) flags |= CLONE_NEWIPC;
  if (plan.nsUts) flags |= CLONE_NEWUTS;
  return flags;
}

struct Descriptors {
  int errorRead = -1;
  int errorWrite = -1;
  int syncParent = -1;
  int syncChild = -1;
  int devNull = -1;
  int pidfd = -1;
  int notifyFd = -1;
  int mountNamespace = -1;

  static void closeOne(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  void closeChildEnds() {
    closeOne(errorWrite);
    closeOne(syncChild);
    closeOne(devNull);
  }
  ~Descriptors() {
    closeOne(errorRead);
    closeOne(errorWrite);
    closeOne(syncParent);
    closeOne(syncChild);
    closeOne(devNull);
    releaseMountNamespace();
    closeOne(pidfd);
    closeOne(notifyFd);
  }
  // Hands the mount namespace reference to the background closer, with a
  // copy of the pidfd that tells it when the child has exited.
  void releaseMountNamespace() {
    if (mountNamespace < 0) return;
    int watch = pidfd >= 0 ? fcntl(pidfd, F_DUPFD_CLOEXEC, 0) : -1;
    if (watch >= 0) {
      nsrelease::closeAfterExit(watch, mountNamespace);
    } else {
      close(mountNamespace);
    }
    mountNamespace = -1;
  }
};

Napi::Object failureResult(Napi::Env env, const std::string& step, int err, const std::string& detail,
                           const std::string& hint = "") {
  Napi::Object error = Napi::Object::New(env);
  error.Set("step", step);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", errors::errnoName(err));
  error.Set("message", strerror(err));
  error.Set("detail", detail);
  error.Set("hint", hint);
  Napi::Object result = Napi::Object::New(env);
  result.Set("error", error);
  return result;
}

std::string cloneHint(int err) {
  if (err == EPERM) {
    return "creating namespaces needs CAP_SYS_ADMIN in the initial user namespace; run the "
           "supervisor as root and check that no seccomp or LSM policy blocks clone3";
  }
  if (err == ENOSPC) {
    return "a namespace limit is reached; check /proc/sys/user/max_pid_namespaces, "
           "max_mnt_namespaces, max_net_namespaces, max_ipc_namespaces and max_uts_namespaces";
  }
  if (err == EAGAIN) return "too many processes; check RLIMIT_NPROC and pids.max of the supervisor";
  return "";
}

void killAndReap(Descriptors& fds) {
  syscall(SYS_pidfd_send_signal, fds.pidfd, SIGKILL, nullptr, 0);
  pidfd::reap(fds.pidfd, true);
}

// Returns 0, or the errno of the failing write.
int writeCgroupProcs(const std::string& path, long pid) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  std::string text = std::to_string(pid) + "\n";
  int err = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) ? 0 : errno;
  close(fd);
  return err;
}

bool isReadable(int fd) {
  struct pollfd entry = {fd, POLLIN, 0};
  return poll(&entry, 1, 0) == 1;
}

// Responds to a notification raised while the launch is still in progress. Until
// execve closes the error pipe, only the launcher's own calls (sendmsg,
// close, execve) can raise one, and they run on CONTINUE. If the pipe is
// already closed, execve succeeded first and the notification belongs to the
// service: it is handed to the SeccompNotifier unanswered.
void respondToLaunchNotification(int notifyFd, int errorRead) {
  struct seccomp_notif request;
  memset(&request, 0, sizeof(request));
  if (ioctl(notifyFd, SECCOMP_IOCTL_NOTIF_RECV, &request) != 0) return;
  if (isReadable(errorRead)) {
    notify::stashPending(notifyFd, request);
    return;
  }
  struct seccomp_notif_resp response;
  memset(&response, 0, sizeof(response));
  response.id = request.id;
  response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  ioctl(notifyFd, SECCOMP_IOCTL_NOTIF_SEND, &response);
}

// Waits for the byte joinCgroups sends; false when the child exited first.
bool awaitJoined(Descriptors& fds) {
  char byte = 0;
  ssize_t got;
  do {
    got = read(fds.syncParent, &byte, 1);
  } while (got < 0 && errno == EINTR);
  return got == 1 && byte == 'j';
}

// Reads a whole failure record; false at end-of-file before a full record.
bool readFailureRecord(int errorRead, ChildFailure& record) {
  size_t have = 0;
  while (have < sizeof(record)) {
    ssize_t got = read(errorRead, reinterpret_cast<char*>(&record) + have, sizeof(record) - have);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    have += static_cast<size_t>(got);
  }
  return true;
}

enum class ExecOutcome { Succeeded, ChildFailed, ParentFailed, TimedOut };

// Default maximum time between release and execve. The steps normally take
// a few milliseconds. A child stuck longer (a hung mount, or a filter that
// notifies the sendmsg carrying the listener) is killed rather than
// blocking the supervisor forever.
constexpr int kDefaultLaunchTimeoutMs = 30'000;

int64_t monotonicMs() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
}

// Waits until execve closes the error pipe (success) or a failure record
// arrives. Receives the seccomp listener on the way when there is one.
ExecOutcome awaitExec(Descriptors& fds, bool listener, int timeoutMs, ChildFailure& record, int& parentErr) {
  size_t have = 0;
  bool syncOpen = listener;
  int64_t deadline = monotonicMs() + timeoutMs;
  for (;;) {
    struct pollfd entries[2];
    nfds_t count = 0;
    entries[count++] = {fds.errorRead, POLLIN, 0};
    if (syncOpen) {
      entries[count++] = {fds.syncParent, POLLIN, 0};
    } else if (fds.notifyFd >= 0) {
      entries[count++] = {fds.notifyFd, POLLIN, 0};
    }
    int64_t left = deadline - monotonicMs();
    int ready = left > 0 ? poll(entries, count, static_cast<int>(left)) : 0;
    if (ready == 0) return ExecOutcome::TimedOut;
    if (ready < 0) {
      if (errno == EINTR) continue;
      parentErr = errno;
      return ExecOutcome::ParentFailed;
    }
    if (entries[0].revents != 0) {
      ssize_t got = read(fds.errorRead, reinterpret_cast<char*>(&record) + have, sizeof(record) - have);
      if (got < 0) {
        if (errno == EINTR) continue;
        parentErr = errno;
        return ExecOutcome::ParentFailed;
      }
      if (got == 0) {
        if (have == 0) return ExecOutcome::Succeeded;
        parentErr = EPROTO;
        return ExecOutcome::ParentFailed;
      }
      have += static_cast<size_t>(got);
      if (have == sizeof(record)) return ExecOutcome::ChildFailed;
      continue;
    }
    if (count < 2 || entries[1].revents == 0) continue;
    if (syncOpen) {
      int received = seccomp::receiveListener(fds.syncParent);
      if (received >= 0) fds.notifyFd = received;
      syncOpen = false;
    } else {
      respondToLaunchNotification(fds.notifyFd, fds.errorRead);
    }
  }
}

}  // namespace

Napi::Value SpawnSandbox(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw Napi::TypeError::New(env, "spawnSandbox(spec: LaunchSpec, beforeRelease?: (pid) => void, timeoutMs?: number)");
  }
  bool hasHook = info.Length() > 1 && info[1].IsFunction();
  int timeoutMs = kDefaultLaunchTimeoutMs;
  if (info.Length() > 2 && info[2].IsNumber()) timeoutMs = std::max(1, info[2].As<Napi::Number>().Int32Value());
  auto plan = std::make_unique<LaunchPlan>(buildPlan(info[0].As<Napi::Object>()));
  prepareExec(*plan);

  // Declared before fds, so it is unmapped after them.
  plan->reportJoined = hasHook && !plan->cgroupSelfTasks.empty();
  DumpableGuard dumpable;
  ChildStack stack;
  if (!stack.ok()) return failureResult(env, "child stack", errno, "mmap");
  Descriptors fds;
  int pipeEnds[2];
  if (pipe2(pipeEnds, O_CLOEXEC) != 0) return failureResult(env, "pipe", errno, "");
  fds.errorRead = pipeEnds[0];
  fds.errorWrite = pipeEnds[1];
  int syncEnds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, syncEnds) != 0) {
    return failureResult(env, "socketpair", errno, "");
  }
  fds.syncParent = syncEnds[0];
  fds.syncChild = syncEnds[1];
  fds.devNull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (fds.devNull < 0) return failureResult(env, "stdio", errno, "/dev/null");
  int base = fds::chooseBase(*plan, fds.errorWrite, fds.syncChild, fds.devNull);
  ChildStart start = {plan.get(), {fds.errorWrite, fds.syncChild, fds.devNull, base}};

  // With every signal blocked, no Node handler can run in the child before
  // it resets the dispositions.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  long pid = cloneChild(namespaceFlags(*plan), stack, &start, &fds.pidfd);
  int cloneErr = errno;
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  fds.closeChildEnds();
  if (pid < 0) return failureResult(env, "clone", cloneErr, "", cloneHint(cloneErr));
  if (plan->nsMount) {
    // Failure is harmless: the child's exit then tears the namespace down.
    std::string path = "/proc/" + std::to_string(pid) + "/ns/mnt";
    fds.mountNamespace = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }

  for (const std::string& path : plan->cgroupParentProcs) {
    int err = writeCgroupProcs(path, pid);
    if (err != 0) {
      killAndReap(fds);
      return failureResult(env, "cgroup", err, path);
    }
  }
  if (plan->reportJoined && !awaitJoined(fds)) {
    ChildFailure record = {};
    bool complete = readFailureRecord(fds.errorRead, record);
    killAndReap(fds);
    if (!complete) return failureResult(env, "cgroup", EPROTO, "the child exited before joining its cgroups");
    record.detail[sizeof(record.detail) - 1] = '\0';
    return failureResult(env, stepName(record.step), record.err, record.detail);
  }
  if (hasHook) {
    try {
      info[1].As<Napi::Function>().Call({Napi::Number::New(env, static_cast<double>(pid))});
    } catch (...) {
      killAndReap(fds);
      throw;
    }
  }
  char release = 'r';
  if (send(fds.syncParent, &release, 1, MSG_NOSIGNAL) != 1) {
    // Without a hook, a child that failed to join its cgroups may have
    // exited already; its record names the step.
    int err = errno;
    ChildFailure record = {};
    bool complete = readFailureRecord(fds.errorRead, record);
    killAndReap(fds);
    if (!complete) return failureResult(env, "release", err, "sync socket");
    record.detail[sizeof(record.detail) - 1] = '\0';
    return failureResult(env, stepName(record.step), record.err, record.detail);
  }

  ChildFailure record = {};
  int parentErr = 0;
  ExecOutcome outcome = awaitExec(fds, plan->seccompListener, timeoutMs, record, parentErr);
  if (outcome != ExecOutcome::Succeeded) {
    killAndReap(fds);
    if (outcome == ExecOutcome::ParentFailed) return failureResult(env, "read error pipe", parentErr, "");
    if (outcome == ExecOutcome::TimedOut) {
      return failureResult(env, "wait for execve", ETIMEDOUT, "after " + std::to_string(timeoutMs) + " ms",
                           "the child was killed; check for a hung mount source, or a seccomp filter that "
                           "notifies write, sendmsg or close, which the launcher calls after installing it");
    }
    record.detail[sizeof(record.detail) - 1] = '\0';
    return failureResult(env, stepName(record.step), record.err, record.detail);
  }
  if (plan->seccompListener && fds.notifyFd < 0) {
    killAndReap(fds);
    return failureResult(env, "seccomp listener", EPROTO, "no descriptor received");
  }

  Napi::Object child = Napi::Object::New(env);
  child.Set("pid", Napi::Number::New(env, static_cast<double>(pid)));
  child.Set("pidfd", Napi::Number::New(env, fds.pidfd));
  child.Set("notifyFd", fds.notifyFd >= 0 ? Napi::Number::New(env, fds.notifyFd) : env.Null());
  fds.releaseMountNamespace();
  fds.pidfd = -1;
  fds.notifyFd = -1;
  return child;
}

}  // namespace launch
