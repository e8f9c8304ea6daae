// Descriptors of the service: stdio, passed listeners, and nothing else.

#pragma once

#include "child_error.h"
#include "plan.h"

namespace fds {

// Descriptors the parent opened for the child. `base` is above every
// descriptor involved, so copies placed from there on collide with nothing.
struct ChildDescriptors {
  int errorPipe;
  int syncSocket;
  int devNull;
  int base;
};

// Computes `base` from the plan and the parent's descriptors.
int chooseBase(const launch::LaunchPlan& plan, int errorPipe, int syncSocket, int devNull);

// Places spec.stdio at 0..2 and spec.listenFds at 3..; moves the error pipe
// and sync socket to base and base+1 (close-on-exec), then closes the rest.
bool arrangeDescriptors(const launch::LaunchPlan& plan, ChildDescriptors& fds,
                        launch::ChildFailure& failure);

// Writes the child's pid, as getpid() returns it, into the LISTEN_PID entry.
void fillListenPid(launch::LaunchPlan& plan);

}  // namespace fds
