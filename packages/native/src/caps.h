// Capabilities of the service.
//
// The rules come from capabilities(7). A non-root process keeps a capability
// across execve only through the ambient set, and a capability can enter the
// ambient set only when it is both permitted and inheritable. The order:
//   1. before setresuid: PR_SET_KEEPCAPS, so the permitted set survives the
//      uid change (the effective set is still cleared);
//   2. after it: effective = permitted again, which CAP_SETPCAP needs;
//   3. drop every other capability from the bounding set;
//   4. lock the securebits while CAP_SETPCAP is still effective;
//   5. permitted = effective = inheritable = the listed capabilities;
//   6. raise each listed capability as ambient.

#pragma once

#include "child_error.h"
#include "plan.h"

namespace caps {

bool keepAcrossUidChange(launch::ChildFailure& failure);
bool checkAvailable(const launch::LaunchPlan& plan, launch::ChildFailure& failure);
bool restoreEffective(launch::ChildFailure& failure);
bool dropBoundingSet(const launch::LaunchPlan& plan, launch::ChildFailure& failure);
bool lockSecurebits(launch::ChildFailure& failure);
bool setCapabilitySets(const launch::LaunchPlan& plan, launch::ChildFailure& failure);
bool raiseAmbient(const launch::LaunchPlan& plan, launch::ChildFailure& failure);

}  // namespace caps
