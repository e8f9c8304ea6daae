#include "rlimits.h"

#include <sys/resource.h>

#include <cerrno>

namespace rlimits {

bool applyLimits(const launch::LaunchPlan& plan, launch::ChildFailure& failure) {
  for (const launch::RlimitPlan& limit : plan.rlimits) {
    struct rlimit value = {limit.soft, limit.hard};
    if (setrlimit(static_cast<__rlimit_resource>(limit.resource), &value) != 0) {
      return launch::fail(failure, launch::Step::Rlimits, errno, "resource", limit.resource);
    }
  }
  return true;
}

}  // namespace rlimits
