// Landlock: file access and TCP port rules, applied after no_new_privs.

#pragma once

#include "child_error.h"
#include "plan.h"

namespace landlock {

// The kernel's Landlock ABI version, or 0 when Landlock is unavailable.
int abiVersion();

bool applyRuleset(const launch::LaunchPlan& plan, launch::ChildFailure& failure);

}  // namespace landlock
