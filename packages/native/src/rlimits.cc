#include "rlimits.h"

#include <sys/resource.h>

#include <cerrno>

#include "child_sys.h"

namespace rlimits {

bool applyLimits(const launch::LaunchPlan& plan, launch::ChildFailure& failure) {
  for (const launch::RlimitPlan& limit : plan.rlimits) {
    struct rlimit64 value = {limit.soft, limit.hard};
    int err = sys::error(sys::call(SYS_prlimit64, 0, limit.resource, &value, nullptr));
    if (err != 0) return launch::fail(failure, launch::Step::Rlimits, err, "resource", limit.resource);
  }
  return true;
}

}  // namespace rlimits
