#include "caps.h"

#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "child_sys.h"

namespace caps {

using launch::Step;

namespace {

struct CapabilitySets {
  __user_cap_header_struct header;
  __user_cap_data_struct data[2];
};

// Both return 0 or an errno.
int readSets(CapabilitySets& sets) {
  sets = {};
  sets.header.version = _LINUX_CAPABILITY_VERSION_3;
  return sys::error(sys::call(SYS_capget, &sets.header, sets.data));
}

int writeSets(CapabilitySets& sets) {
  sets.header.version = _LINUX_CAPABILITY_VERSION_3;
  sets.header.pid = 0;
  return sys::error(sys::call(SYS_capset, &sets.header, sets.data));
}

// Returns prctl's result, or -errno.
long callPrctl(int option, unsigned long arg) { return sys::call(SYS_prctl, option, arg, 0, 0, 0); }

}  // namespace

bool keepAcrossUidChange(launch::ChildFailure& failure) {
  int err = sys::error(callPrctl(PR_SET_KEEPCAPS, 1));
  if (err != 0) return launch::fail(failure, Step::Capabilities, err, "PR_SET_KEEPCAPS");
  return true;
}

// A capability missing from the supervisor's own bounding or permitted set
// can never be raised, so name it before anything is dropped.
bool checkAvailable(const launch::LaunchPlan& plan, launch::ChildFailure& failure) {
  CapabilitySets sets;
  int err = readSets(sets);
  if (err != 0) return launch::fail(failure, Step::Capabilities, err, "capget");
  for (int cap : plan.capabilities) {
    if (cap > plan.capLastCap) {
      return launch::fail(failure, Step::Capabilities, EINVAL, "unknown to this kernel: cap", cap);
    }
    bool permitted = (sets.data[cap / 32].permitted >> (cap % 32)) & 1;
    if (callPrctl(PR_CAPBSET_READ, cap) != 1 || !permitted) {
      return launch::fail(failure, Step::Capabilities, EPERM,
                          "not in the supervisor's bounding set: cap", cap);
    }
  }
  return true;
}

bool restoreEffective(launch::ChildFailure& failure) {
  CapabilitySets sets;
  int err = readSets(sets);
  if (err != 0) return launch::fail(failure, Step::Capabilities, err, "capget");
  for (auto& half : sets.data) half.effective = half.permitted;
  err = writeSets(sets);
  if (err != 0) return launch::fail(failure, Step::Capabilities, err, "capset effective");
  return true;
}

bool dropBoundingSet(const launch::LaunchPlan& plan, launch::ChildFailure& failure) {
  for (int cap = 0; cap <= plan.capLastCap; cap++) {
    if ((plan.capabilityMask >> cap) & 1) continue;
    int err = sys::error(callPrctl(PR_CAPBSET_DROP, cap));
    if (err != 0) return launch::fail(failure, Step::Capabilities, err, "PR_CAPBSET_DROP cap", cap);
  }
  return true;
}

bool lockSecurebits(launch::ChildFailure& failure) {
  // NO_CAP_AMBIENT_RAISE stays off: step 6 still has to raise ambient caps.
  unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                       SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED;
  int err = sys::error(callPrctl(PR_SET_SECUREBITS, bits));
  if (err != 0) return launch::fail(failure, Step::Securebits, err, "bits", bits);
  return true;
}

bool setCapabilitySets(const launch::LaunchPlan& plan, launch::ChildFailure& failure) {
  CapabilitySets sets = {};
  for (int half = 0; half < 2; half++) {
    uint32_t bits = static_cast<uint32_t>(plan.capabilityMask >> (32 * half));
    sets.data[half].effective = bits;
    sets.data[half].permitted = bits;
    sets.data[half].inheritable = bits;
  }
  int err = writeSets(sets);
  if (err != 0) return launch::fail(failure, Step::Capabilities, err, "capset");
  return true;
}

bool raiseAmbient(const launch::LaunchPlan& plan, launch::ChildFailure& failure) {
  int err = sys::error(sys::call(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
  if (err != 0) return launch::fail(failure, Step::Capabilities, err, "PR_CAP_AMBIENT_CLEAR_ALL");
  for (int cap : plan.capabilities) {
    err = sys::error(sys::call(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0));
    if (err != 0) return launch::fail(failure, Step::Capabilities, err, "PR_CAP_AMBIENT_RAISE cap", cap);
  }
  return true;
}

}  // namespace caps
