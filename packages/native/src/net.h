// Network interface flags: the loopback inside a new network namespace, and
// setLinkUp for the supervisor to cut and restore a sandbox's network.

#pragma once

#include <napi.h>

#include "child_error.h"
#include "plan.h"

namespace net {

// Child step: brings `lo` up in the child's network namespace.
bool bringLoopbackUp(launch::ChildFailure& failure);

// setLinkUp(pid, ifname, up): sets IFF_UP on ifname in the network namespace of pid.
Napi::Value SetLinkUp(const Napi::CallbackInfo& info);

}  // namespace net
