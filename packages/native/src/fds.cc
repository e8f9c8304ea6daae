#include "fds.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "async_safe.h"

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
// because opendir() allocates.
bool closeByWalk(int first, int last, int keepA, int keepB) {
  int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return false;
  char buffer[4096];
  for (;;) {
    long count = syscall(SYS_getdents64, dir, buffer, sizeof(buffer));
    if (count <= 0) break;
    for (long offset = 0; offset < count;) {
      auto* entry = reinterpret_cast<LinuxDirent64*>(buffer + offset);
      int fd = parseFd(entry->name);
      if (fd >= first && fd <= last && fd != dir && fd != keepA && fd != keepB) close(fd);
      offset += entry->length;
    }
  }
  close(dir);
  return true;
}

bool closeRange(unsigned first, unsigned last, int keepA, int keepB) {
  if (first > last) return true;
  if (syscall(SYS_close_range, first, last, 0) == 0) return true;
  if (errno != ENOSYS) return false;
  return closeByWalk(static_cast<int>(first), static_cast<int>(std::min(last, 0x7fffffffu)), keepA, keepB);
}

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
  if (dup3(fds.errorPipe, pipeCopy, O_CLOEXEC) < 0) return launch::fail(failure, Step::Stdio, errno, "error pipe");
  fds.errorPipe = pipeCopy;
  if (dup3(fds.syncSocket, syncCopy, O_CLOEXEC) < 0) return launch::fail(failure, Step::Stdio, errno, "sync socket");
  fds.syncSocket = syncCopy;

  int next = fds.base + 2;
  for (int i = 0; i < 3; i++) {
    int source = plan.stdio[i] < 0 ? fds.devNull : plan.stdio[i];
    if (dup3(source, next + i, O_CLOEXEC) < 0) return launch::fail(failure, Step::Stdio, errno, "fd", source);
  }
  int listenFirst = next + 3;
  for (size_t j = 0; j < plan.listenFds.size(); j++) {
    if (dup3(plan.listenFds[j], listenFirst + static_cast<int>(j), O_CLOEXEC) < 0) {
      return launch::fail(failure, Step::ListenFds, errno, "fd", plan.listenFds[j]);
    }
  }
  for (int i = 0; i < 3; i++) {
    if (dup2(next + i, i) < 0) return launch::fail(failure, Step::Stdio, errno, "fd", i);
  }
  for (size_t j = 0; j < plan.listenFds.size(); j++) {
    if (dup2(listenFirst + static_cast<int>(j), 3 + static_cast<int>(j)) < 0) {
      return launch::fail(failure, Step::ListenFds, errno, "fd", 3 + j);
    }
  }

  // The sync socket stays open (close-on-exec) because the seccomp step
  // still sends the listener descriptor over it.
  unsigned firstFree = 3 + static_cast<unsigned>(plan.listenFds.size());
  if (!closeRange(firstFree, static_cast<unsigned>(fds.base) - 1, pipeCopy, syncCopy) ||
      !closeRange(static_cast<unsigned>(fds.base) + 2, ~0u, pipeCopy, syncCopy)) {
    return launch::fail(failure, Step::CloseFds, errno, "close_range from", firstFree);
  }
  return true;
}

void fillListenPid(launch::LaunchPlan& plan) {
  if (plan.listenFds.empty()) return;
  std::string& entry = plan.listenPidEntry;
  size_t prefix = sizeof("LISTEN_PID=") - 1;
  safe::formatUnsigned(&entry[prefix], entry.size() - prefix, static_cast<unsigned long>(getpid()));
}

}  // namespace fds
