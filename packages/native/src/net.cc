#include "net.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "child_sys.h"
#include "errors.h"

namespace net {

namespace {

// Returns 0 or an errno. It makes raw system calls only, so the launcher's
// child can use it too.
int setInterfaceUp(const char* name, bool up) {
  long sock = sys::call(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return sys::error(sock);
  struct ifreq request = {};
  size_t length = strnlen(name, IFNAMSIZ - 1);
  memcpy(request.ifr_name, name, length);
  int err = sys::error(sys::call(SYS_ioctl, sock, SIOCGIFFLAGS, &request));
  if (err == 0) {
    if (up) {
      request.ifr_flags |= IFF_UP;
    } else {
      request.ifr_flags &= ~IFF_UP;
    }
    err = sys::error(sys::call(SYS_ioctl, sock, SIOCSIFFLAGS, &request));
  }
  sys::close(static_cast<int>(sock));
  return err;
}

}  // namespace

bool bringLoopbackUp(launch::ChildFailure& failure) {
  int err = setInterfaceUp("lo", true);
  if (err != 0) return launch::fail(failure, launch::Step::Loopback, err, "lo");
  return true;
}

Napi::Value SetLinkUp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsBoolean()) {
    throw Napi::TypeError::New(env, "setLinkUp(pid: number, ifname: string, up: boolean)");
  }
  int pid = info[0].As<Napi::Number>().Int32Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  bool up = info[2].As<Napi::Boolean>().Value();
  if (name.empty() || name.size() >= IFNAMSIZ) {
    throw Napi::TypeError::New(env, "setLinkUp: ifname '" + name + "' must be 1 to 15 bytes");
  }

  // setns changes only the calling thread, so a short-lived thread enters
  // the namespace and the JavaScript thread stays where it is.
  std::string nsPath = "/proc/" + std::to_string(pid) + "/ns/net";
  int err = 0;
  std::string failedCall;
  std::thread worker([&] {
    int fd = open(nsPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      err = errno;
      failedCall = "open " + nsPath;
      return;
    }
    if (setns(fd, CLONE_NEWNET) != 0) {
      err = errno;
      failedCall = "setns " + nsPath;
      close(fd);
      return;
    }
    close(fd);
    err = setInterfaceUp(name.c_str(), up);
    if (err != 0) failedCall = "SIOCSIFFLAGS " + name;
  });
  worker.join();
  if (err != 0) throw errors::systemError(env, "setLinkUp", failedCall, err);
  return env.Undefined();
}

}  // namespace net
