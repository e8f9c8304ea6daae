#include "landlock.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "async_safe.h"
#include "child_sys.h"

namespace landlock {

using launch::Step;

namespace {

// Debian 12's kernel headers stop at ABI 2, so the newer fields (net ports
// since ABI 4, scopes since ABI 6) are declared here as the kernel defines
// them in include/uapi/linux/landlock.h.
struct RulesetAttr {
  uint64_t handledAccessFs;
  uint64_t handledAccessNet;
  uint64_t scoped;
};

struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowedAccess;
  int32_t parentFd;
};

struct PortAttr {
  uint64_t allowedAccess;
  uint64_t port;
};

constexpr unsigned kCreateRulesetVersion = 1u << 0;
constexpr int kRulePathBeneath = 1;
constexpr int kRuleNetPort = 2;

}  // namespace

int abiVersion() {
  long version = sys::call(SYS_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
  return version < 0 ? 0 : static_cast<int>(version);
}

bool applyRuleset(const launch::LaunchPlan& plan, launch::ChildFailure& failure) {
  const launch::LandlockPlan& rules = plan.landlock;
  if (!rules.enabled) return true;
  int available = abiVersion();
  if (available < rules.minAbi) {
    char detail[96];
    size_t used = safe::copy(detail, sizeof(detail), "needs ABI ");
    used += safe::formatUnsigned(detail + used, sizeof(detail) - used, rules.minAbi);
    used += safe::copy(detail + used, sizeof(detail) - used, ", kernel has ");
    safe::formatUnsigned(detail + used, sizeof(detail) - used, available);
    return launch::fail(failure, Step::Landlock, EOPNOTSUPP, detail);
  }

  RulesetAttr attr = {rules.handledAccessFs, rules.handledAccessNet, rules.scoped};
  // The size defines which fields the kernel reads. Passing only the
  // fields in use keeps the struct within what the minimum ABI defines.
  size_t size = sizeof(uint64_t);
  if (rules.handledAccessNet != 0) size = 2 * sizeof(uint64_t);
  if (rules.scoped != 0) size = sizeof(RulesetAttr);
  long ruleset = sys::call(SYS_landlock_create_ruleset, &attr, size, 0);
  if (ruleset < 0) return launch::fail(failure, Step::Landlock, sys::error(ruleset), "landlock_create_ruleset");
  int rulesetFd = static_cast<int>(ruleset);

  for (const launch::PathRulePlan& rule : rules.pathRules) {
    long fd = sys::open(rule.path.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) return launch::fail(failure, Step::Landlock, sys::error(fd), rule.path.c_str());
    PathBeneathAttr beneath = {rule.access, static_cast<int32_t>(fd)};
    int err = sys::error(sys::call(SYS_landlock_add_rule, rulesetFd, kRulePathBeneath, &beneath, 0));
    sys::close(static_cast<int>(fd));
    if (err != 0) return launch::fail(failure, Step::Landlock, err, rule.path.c_str());
  }
  for (const launch::PortRulePlan& rule : rules.portRules) {
    PortAttr port = {rule.access, rule.port};
    int err = sys::error(sys::call(SYS_landlock_add_rule, rulesetFd, kRuleNetPort, &port, 0));
    if (err != 0) return launch::fail(failure, Step::Landlock, err, "port", rule.port);
  }
  int err = sys::error(sys::call(SYS_landlock_restrict_self, rulesetFd, rules.restrictFlags));
  if (err != 0) {
    return launch::fail(failure, Step::Landlock, err, "landlock_restrict_self flags", rules.restrictFlags);
  }
  sys::close(rulesetFd);
  return true;
}

}  // namespace landlock
