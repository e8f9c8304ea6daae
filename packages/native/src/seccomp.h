// The seccomp filter, installed as the last step before execve so that it
// need not allow any of the launcher's own setup calls.

#pragma once

#include "child_error.h"
#include "plan.h"

namespace seccomp {

// Installs the filter. With a listener, sends the notification descriptor
// over syncSocket (SCM_RIGHTS) and closes the child's copy.
bool installFilter(const launch::LaunchPlan& plan, int syncSocket, launch::ChildFailure& failure);

// Receives a descriptor sent by installFilter; returns it close-on-exec,
// -1 when the peer closed without sending, or -2 with errno set.
int receiveListener(int syncSocket);

// Whether the kernel supports user notification (SECCOMP_GET_NOTIF_SIZES).
bool notifySupported();

}  // namespace seccomp
