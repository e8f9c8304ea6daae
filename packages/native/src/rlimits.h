// Resource limits of the service (setrlimit; null in the spec is RLIM_INFINITY).

#pragma once

#include "child_error.h"
#include "plan.h"

namespace rlimits {

bool applyLimits(const launch::LaunchPlan& plan, launch::ChildFailure& failure);

}  // namespace rlimits
