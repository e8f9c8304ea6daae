#include "identity.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "child_sys.h"

namespace identity {

using launch::Step;

bool setGroups(const launch::LaunchPlan& plan, launch::ChildFailure& failure) {
  const gid_t* list = plan.groups.empty() ? nullptr : plan.groups.data();
  int err = sys::error(sys::call(SYS_setgroups, plan.groups.size(), list));
  if (err != 0) return launch::fail(failure, Step::Setgroups, err, "groups", plan.groups.size());
  return true;
}

bool setGid(const launch::LaunchPlan& plan, launch::ChildFailure& failure) {
  int err = sys::error(sys::call(SYS_setresgid, plan.gid, plan.gid, plan.gid));
  if (err != 0) return launch::fail(failure, Step::Setresgid, err, "gid", plan.gid);
  return true;
}

bool setUid(const launch::LaunchPlan& plan, launch::ChildFailure& failure) {
  int err = sys::error(sys::call(SYS_setresuid, plan.uid, plan.uid, plan.uid));
  if (err != 0) return launch::fail(failure, Step::Setresuid, err, "uid", plan.uid);
  return true;
}

}  // namespace identity
