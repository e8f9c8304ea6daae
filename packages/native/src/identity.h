// Groups, gid and uid of the service.
//
// Groups go first, then the gid, then the uid: once the uid is no longer 0
// the process lacks CAP_SETGID's effect on the others. Raw syscalls are used
// on purpose: glibc's wrappers broadcast the change to every thread in its
// list, and after a raw clone that list still names the parent's
// threads, which could deadlock the child.

#pragma once

#include "child_error.h"
#include "plan.h"

namespace identity {

bool setGroups(const launch::LaunchPlan& plan, launch::ChildFailure& failure);
bool setGid(const launch::LaunchPlan& plan, launch::ChildFailure& failure);
bool setUid(const launch::LaunchPlan& plan, launch::ChildFailure& failure);

}  // namespace identity
