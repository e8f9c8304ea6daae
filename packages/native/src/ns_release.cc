#include "ns_release.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

namespace nsrelease {

namespace {

std::once_flag startOnce;
std::mutex mutex;
int epollFd = -1;
// Maps each watched pidfd to the namespace descriptor it keeps open.
// Guarded by mutex.
std::unordered_map<int, int> held;

void closeExited(int pidfd) {
  int nsFd = -1;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto entry = held.find(pidfd);
    if (entry == held.end()) return;
    nsFd = entry->second;
    held.erase(entry);
    epoll_ctl(epollFd, EPOLL_CTL_DEL, pidfd, nullptr);
  }
  // The last reference: the kernel tears the namespace down in this call.
  close(nsFd);
  close(pidfd);
}

void run() {
  epoll_event events[16];
  for (;;) {
    int count = epoll_wait(epollFd, events, 16, -1);
    if (count < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < count; i++) closeExited(events[i].data.fd);
  }
}

void start() {
  epollFd = epoll_create1(EPOLL_CLOEXEC);
  if (epollFd < 0) return;
  // Detached: it blocks only in epoll_wait and close, and dies with the process.
  try {
    std::thread(run).detach();
  } catch (const std::system_error&) {
    close(epollFd);
    epollFd = -1;
  }
}

}  // namespace

void closeAfterExit(int pidfd, int nsFd) {
  std::call_once(startOnce, start);
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (epollFd >= 0) {
      held[pidfd] = nsFd;
      epoll_event event = {};
      event.events = EPOLLIN;
      event.data.fd = pidfd;
      if (epoll_ctl(epollFd, EPOLL_CTL_ADD, pidfd, &event) == 0) return;
      held.erase(pidfd);
    }
  }
  close(nsFd);
  close(pidfd);
}

}  // namespace nsrelease
