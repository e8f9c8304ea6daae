#include "pidfd.h"

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <csignal>
#include <memory>

#include "errors.h"
#include "notify.h"

namespace pidfd {

namespace {

// From linux/wait.h, which clashes with glibc's <sys/wait.h>.
constexpr int kPidfdIdType = 3;  // P_PIDFD

int statusFromInfo(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return (info.si_status & 0xff) << 8;
  if (info.si_code == CLD_DUMPED) return info.si_status | 0x80;
  return info.si_status;
}

int fdArgument(const Napi::CallbackInfo& info, size_t index, const char* usage) {
  if (info.Length() <= index || !info[index].IsNumber() || info[index].As<Napi::Number>().Int32Value() < 0) {
    throw Napi::TypeError::New(info.Env(), usage);
  }
  return info[index].As<Napi::Number>().Int32Value();
}

// One watched pidfd. The uv handle keeps a shared_ptr to it until uv_close
// finishes, and the stop function keeps another, so neither outlives it.
struct ExitWatch {
  uv_poll_t poll;
  napi_env env;
  Napi::FunctionReference callback;
  int fd;
  bool active = false;

  void stop() {
    if (!active) return;
    active = false;
    uv_poll_stop(&poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&poll), [](uv_handle_t* handle) {
      auto* holder = static_cast<std::shared_ptr<ExitWatch>*>(handle->data);
      delete holder;
    });
  }
};

void onReadable(uv_poll_t* handle, int status, int) {
  auto holder = *static_cast<std::shared_ptr<ExitWatch>*>(handle->data);
  ExitWatch& watch = *holder;
  if (!watch.active) return;
  siginfo_t info = {};
  int result = waitid(static_cast<idtype_t>(kPidfdIdType), static_cast<id_t>(watch.fd), &info, WEXITED | WNOHANG);
  if (status == 0 && result == 0 && info.si_pid == 0) return;  // not exited yet

  Napi::Env env(watch.env);
  Napi::HandleScope scope(env);
  Napi::Object exit = Napi::Object::New(env);
  if (result != 0) {
    // Someone else reaped the child; the status is lost.
    exit.Set("code", env.Null());
    exit.Set("signal", env.Null());
    exit.Set("status", Napi::Number::New(env, -1));
  } else if (info.si_code == CLD_EXITED) {
    exit.Set("code", Napi::Number::New(env, info.si_status));
    exit.Set("signal", env.Null());
    exit.Set("status", Napi::Number::New(env, statusFromInfo(info)));
  } else {
    exit.Set("code", env.Null());
    exit.Set("signal", Napi::Number::New(env, info.si_status));
    exit.Set("status", Napi::Number::New(env, statusFromInfo(info)));
  }
  Napi::FunctionReference callback = std::move(watch.callback);
  watch.stop();
  try {
    callback.MakeCallback(env.Global(), {exit});
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env, error.Value());
  }
}

}  // namespace

int reap(int fd, bool block) {
  siginfo_t info = {};
  int flags = WEXITED | (block ? 0 : WNOHANG);
  int result;
  do {
    result = waitid(static_cast<idtype_t>(kPidfdIdType), static_cast<id_t>(fd), &info, flags);
  } while (result != 0 && errno == EINTR);
  if (result != 0) return -1;
  return statusFromInfo(info);
}

Napi::Value OpenPidfd(const Napi::CallbackInfo& info) {
  int pid = fdArgument(info, 0, "openPidfd(pid: number)");
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) throw errors::systemError(info.Env(), "pidfd_open", "pid " + std::to_string(pid), errno);
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

Napi::Value SendSignal(const Napi::CallbackInfo& info) {
  const char* usage = "pidfdSendSignal(pidfd: number, signal: number)";
  int fd = fdArgument(info, 0, usage);
  int signal = fdArgument(info, 1, usage);
  if (syscall(SYS_pidfd_send_signal, fd, signal, nullptr, 0) != 0) {
    throw errors::systemError(info.Env(), "pidfd_send_signal", "signal " + std::to_string(signal), errno);
  }
  return info.Env().Undefined();
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = fdArgument(info, 0, "closeFd(fd: number)");
  // A notification kept for a notifier that was never created must not
  // reach a later notifier that gets the same descriptor number.
  seccomp_notif unused;
  notify::takePending(fd, unused);
  if (close(fd) != 0 && errno != EINTR) {
    throw errors::systemError(info.Env(), "close", "fd " + std::to_string(fd), errno);
  }
  return info.Env().Undefined();
}

Napi::Value WatchExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = fdArgument(info, 0, "watchExit(pidfd: number, callback: (exit) => void)");
  if (info.Length() < 2 || !info[1].IsFunction()) {
    throw Napi::TypeError::New(env, "watchExit(pidfd: number, callback: (exit) => void)");
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    throw Napi::Error::New(env, "watchExit: the event loop is not available");
  }
  auto watch = std::make_shared<ExitWatch>();
  watch->env = env;
  watch->fd = fd;
  watch->callback = Napi::Persistent(info[1].As<Napi::Function>());
  int err = uv_poll_init(loop, &watch->poll, fd);
  if (err != 0) {
    throw errors::systemError(env, "uv_poll_init", "pidfd " + std::to_string(fd), -err);
  }
  watch->poll.data = new std::shared_ptr<ExitWatch>(watch);
  err = uv_poll_start(&watch->poll, UV_READABLE, onReadable);
  watch->active = true;
  if (err != 0) {
    watch->stop();
    throw errors::systemError(env, "uv_poll_start", "pidfd " + std::to_string(fd), -err);
  }
  return Napi::Function::New(env, [watch](const Napi::CallbackInfo& stopInfo) {
    watch->callback.Reset();
    watch->stop();
    return stopInfo.Env().Undefined();
  }, "stopWatchingExit");
}

}  // namespace pidfd
