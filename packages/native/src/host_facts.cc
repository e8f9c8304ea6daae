#include "host_facts.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>

#include "landlock.h"
#include "plan.h"
#include "seccomp.h"

namespace host {

namespace {

bool pidfdWorks() {
  long fd = syscall(SYS_pidfd_open, getpid(), 0);
  if (fd < 0) return false;
  close(static_cast<int>(fd));
  return true;
}

// clone3 with a NULL argument fails with EINVAL where it exists and ENOSYS
// where it does not; nothing is cloned either way.
bool clone3Exists() {
  return syscall(SYS_clone3, nullptr, 0) < 0 && errno != ENOSYS;
}

}  // namespace

Napi::Value HostFacts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int capLastCap = launch::readCapLastCap();
  uint64_t bounding = 0;
  for (int cap = 0; cap <= capLastCap && cap < 64; cap++) {
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) bounding |= uint64_t{1} << cap;
  }
  char hex[17];
  snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(bounding));

  Napi::Object facts = Napi::Object::New(env);
  facts.Set("landlockAbi", landlock::abiVersion());
  facts.Set("seccompNotify", seccomp::notifySupported());
  facts.Set("capLastCap", capLastCap);
  facts.Set("boundingSet", hex);
  facts.Set("pidfd", pidfdWorks());
  facts.Set("clone3", clone3Exists());
  return facts;
}

}  // namespace host
