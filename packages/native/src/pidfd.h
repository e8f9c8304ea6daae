// pidfd helpers: open, signal, close, and watch for exit on the event loop.

#pragma once

#include <napi.h>

namespace pidfd {

// Reaps the process behind a pidfd with waitid(P_PIDFD). Returns the wait
// status in the format of waitpid(2), or -1 with errno set.
int reap(int fd, bool block);

Napi::Value OpenPidfd(const Napi::CallbackInfo& info);
Napi::Value SendSignal(const Napi::CallbackInfo& info);
Napi::Value CloseFd(const Napi::CallbackInfo& info);
Napi::Value WatchExit(const Napi::CallbackInfo& info);

}  // namespace pidfd
