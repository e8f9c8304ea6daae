// Filesystem view of the sandbox, built in the child's mount namespace.
//
// The staging layout follows the double pivot that bubblewrap uses: a small
// tmpfs becomes the root first, with the host tree under /oldroot and the
// sandbox's root under /newroot. A recursive bind of /oldroot then copies
// the host tree without the staging tmpfs inside it. After the mount steps,
// the child pivots into /newroot and detaches everything else.

#pragma once

#include "child_error.h"
#include "plan.h"

namespace mnt {

bool makePropagationPrivate(launch::ChildFailure& failure);
bool enterStagingRoot(launch::ChildFailure& failure);
bool runMountSteps(const launch::LaunchPlan& plan, launch::ChildFailure& failure);
bool pivotIntoNewRoot(launch::ChildFailure& failure);

}  // namespace mnt
