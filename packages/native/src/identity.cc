#include "identity.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace identity {

using launch::Step;

bool setGroups(const launch::LaunchPlan& plan, launch::ChildFailure& failure) {
  const gid_t* list = plan.groups.empty() ? nullptr : plan.groups.data();
  if (syscall(SYS_setgroups, plan.groups.size(), list) != 0) {
    return launch::fail(failure, Step::Setgroups, errno, "groups", plan.groups.size());
  }
  return true;
}

bool setGid(const launch::LaunchPlan& plan, launch::ChildFailure& failure) {
  if (syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) {
    return launch::fail(failure, Step::Setresgid, errno, "gid", plan.gid);
  }
  return true;
}

bool setUid(const launch::LaunchPlan& plan, launch::ChildFailure& failure) {
  if (syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) {
    return launch::fail(failure, Step::Setresuid, errno, "uid", plan.uid);
  }
  return true;
}

}  // namespace identity
