#include "fds.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "async_safe.h"
#include "child_sys.h"

namespace fds {

using launch::Step;

namespace {

struct LinuxDirent64 {
  uint64_t inode;
  int64_t offset;
  unsigned short length;
  unsigned char type;
  char name[];
};

int parseFd(const char* name) {
  int value = 0;
  if (name[0] == '\0') return -1;
  for (const char* c = name; *c != '\0'; c++) {
    if (*c < '0' || *c > '9') return -1;
    value = value * 10 + (*c - '0');
  }
  return value;
}

// Fallback for kernels before 5.9: walk /proc/self/fd with getdents64,
// because opendir() allocates. Returns 0 or an errno.
int closeByWalk(int first, int last, int keepA, int keepB) {
  long opened = sys::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (opened < 0) return sys::error(opened);
  int dir = static_cast<int>(opened);
  char buffer[4096];
  for (;;) {
    long count = sys::call(SYS_getdents64, dir, buffer, sizeof(buffer));
    if (count <= 0) break;
    for (long offset = 0; offset < count;) {
      auto* entry = reinterpret_cast<LinuxDirent64*>(buffer + offset);
      int fd = parseFd(entry->name);
      if (fd >= first && fd <= last && fd != dir && fd != keepA && fd != keepB) sys::close(fd);
      offset += entry->length;
    }
  }
  sys::close(dir);
  return 0;
}

// Returns 0 or an errno.
int closeRange(unsigned first, unsigned last, int keepA, int keepB) {
  if (first > last) return 0;
  int err = sys::error(sys::call(SYS_close_range, first, last, 0));
  if (err != ENOSYS) return err;
  return closeByWalk(static_cast<int>(first), static_cast<int>(std::min(last, 0x7fffffffu)), keepA, keepB);
}

// dup3 that returns 0 or an errno. The launcher never duplicates a
// descriptor onto itself, where dup3 fails with EINVAL.
int duplicate(int from, int to, int flags) { return sys::error(sys::call(SYS_dup3, from, to, flags)); }

}  // namespace

int chooseBase(const launch::LaunchPlan& plan, int errorPipe, int syncSocket, int devNull) {
  int highest = std::max({errorPipe, syncSocket, devNull, 2 + static_cast<int>(plan.listenFds.size())});
  for (int fd : plan.stdio) highest = std::max(highest, fd);
  for (int fd : plan.listenFds) highest = std::max(highest, fd);
  return highest + 1;
}

bool arrangeDescriptors(const launch::LaunchPlan& plan, ChildDescriptors& fds,
                        launch::ChildFailure& failure) {
  // First copy every source above `base`, then place the copies: a direct
  // dup2 could overwrite a source that a later target still needs.
  int pipeCopy = fds.base;
  int syncCopy = fds.base + 1;
  int err = duplicate(fds.errorPipe, pipeCopy, O_CLOEXEC);
  if (err != 0) return launch::fail(failure, Step::Stdio, err, "error pipe");
  fds.errorPipe = pipeCopy;
  err = duplicate(fds.syncSocket, syncCopy, O_CLOEXEC);
  if (err != 0) return launch::fail(failure, Step::Stdio, err, "sync socket");
  fds.syncSocket = syncCopy;

  int next = fds.base + 2;
  for (int i = 0; i < 3; i++) {
    int source = plan.stdio[i] < 0 ? fds.devNull : plan.stdio[i];
    err = duplicate(source, next + i, O_CLOEXEC);
    if (err != 0) return launch::fail(failure, Step::Stdio, err, "fd", source);
  }
  int listenFirst = next + 3;
  for (size_t j = 0; j < plan.listenFds.size(); j++) {
    err = duplicate(plan.listenFds[j], listenFirst + static_cast<int>(j), O_CLOEXEC);
    if (err != 0) return launch::fail(failure, Step::ListenFds, err, "fd", plan.listenFds[j]);
  }
  // The copies sit at base + 2 and above, so none of them is its own target.
  for (int i = 0; i < 3; i++) {
    err = duplicate(next + i, i, 0);
    if (err != 0) return launch::fail(failure, Step::Stdio, err, "fd", i);
  }
  for (size_t j = 0; j < plan.listenFds.size(); j++) {
    err = duplicate(listenFirst + static_cast<int>(j), 3 + static_cast<int>(j), 0);
    if (err != 0) return launch::fail(failure, Step::ListenFds, err, "fd", 3 + j);
  }

  // The sync socket stays open (close-on-exec) because the seccomp step
  // still sends the listener descriptor over it.
  unsigned firstFree = 3 + static_cast<unsigned>(plan.listenFds.size());
  err = closeRange(firstFree, static_cast<unsigned>(fds.base) - 1, pipeCopy, syncCopy);
  if (err == 0) err = closeRange(static_cast<unsigned>(fds.base) + 2, ~0u, pipeCopy, syncCopy);
  if (err != 0) return launch::fail(failure, Step::CloseFds, err, "close_range from", firstFree);
  return true;
}

void fillListenPid(launch::LaunchPlan& plan) {
  if (plan.listenFds.empty()) return;
  std::string& entry = plan.listenPidEntry;
  size_t prefix = sizeof("LISTEN_PID=") - 1;
  safe::formatUnsigned(&entry[prefix], entry.size() - prefix, static_cast<unsigned long>(sys::call(SYS_getpid)));
}

}  // namespace fds
