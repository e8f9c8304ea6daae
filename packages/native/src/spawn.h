// spawnSandbox: the launch sequence.
//
// The parent half prepares everything, clones into new namespaces, places
// the child in its cgroups, runs the beforeRelease hook and releases it. The
// child half (runChild in spawn.cc) reads as the launch order.

#pragma once

#include <napi.h>

namespace launch {

// spawnSandbox(spec, beforeRelease?, timeoutMs?) -> { pid, pidfd, notifyFd } or
// { error: { step, errno, code, message, detail } } for the wrapper to turn
// into a LaunchError. Throws TypeError for a malformed spec, and rethrows
// whatever the hook throws after killing the child.
Napi::Value SpawnSandbox(const Napi::CallbackInfo& info);

}  // namespace launch
