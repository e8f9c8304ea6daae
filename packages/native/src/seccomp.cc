#include "seccomp.h"

#include <linux/seccomp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "child_sys.h"

namespace seccomp {

using launch::Step;

namespace {

// Returns 0 or an errno.
int sendDescriptor(int socket, int fd) {
  char byte = 'n';
  struct iovec iov = {&byte, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr message = {};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  struct cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(header), &fd, sizeof(int));
  long sent;
  do {
    sent = sys::call(SYS_sendmsg, socket, &message, MSG_NOSIGNAL);
  } while (sent == -EINTR);
  if (sent < 0) return sys::error(sent);
  return sent == 1 ? 0 : EIO;
}

}  // namespace

bool installFilter(const launch::LaunchPlan& plan, int syncSocket, launch::ChildFailure& failure) {
  if (!plan.seccompEnabled) return true;
  struct sock_fprog program = {};
  program.len = static_cast<unsigned short>(plan.seccompFilter.size());
  program.filter = const_cast<sock_filter*>(plan.seccompFilter.data());
  unsigned long flags = plan.seccompFlags | (plan.seccompListener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
  long result = sys::call(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &program);
  if (result < 0) return launch::fail(failure, Step::Seccomp, sys::error(result), "flags", flags);
  if (!plan.seccompListener) return true;
  int listener = static_cast<int>(result);
  int err = sendDescriptor(syncSocket, listener);
  if (err != 0) return launch::fail(failure, Step::SeccompListener, err, "sendmsg");
  sys::close(listener);
  return true;
}

int receiveListener(int syncSocket) {
  char byte = 0;
  struct iovec iov = {&byte, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr message = {};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t received;
  do {
    received = recvmsg(syncSocket, &message, MSG_CMSG_CLOEXEC);
  } while (received < 0 && errno == EINTR);
  if (received < 0) return -2;
  if (received == 0) return -1;
  struct cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (header == nullptr || header->cmsg_type != SCM_RIGHTS) {
    errno = EPROTO;
    return -2;
  }
  int fd;
  memcpy(&fd, CMSG_DATA(header), sizeof(int));
  return fd;
}

bool notifySupported() {
  struct seccomp_notif_sizes sizes = {};
  return syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0;
}

}  // namespace seccomp
