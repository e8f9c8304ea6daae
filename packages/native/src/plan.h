// The launch plan: a LaunchSpec converted into C++ values before clone.
//
// The child reads this structure between clone and execve, where it may not
// allocate. Every string, array and the decoded seccomp filter therefore
// exist here already; the child only reads them (and fills the preallocated
// LISTEN_PID entry).

#pragma once

#include <linux/filter.h>
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace launch {

enum class MountKind { Bind, Proc, Dev, Tmpfs, Mask, Readonly };

struct MountPlan {
  MountKind kind;
  std::string source;  // bind only: a host path
  std::string target;  // absolute path inside the sandbox
  bool readOnly = false;
  bool recursive = false;
  std::string tmpfsOptions;  // tmpfs only: "mode=...,uid=...,gid=...[,size=...]"
};

struct RlimitPlan {
  int resource;
  uint64_t soft;
  uint64_t hard;
};

struct PathRulePlan {
  std::string path;
  uint64_t access;
};

struct PortRulePlan {
  uint64_t port;
  uint64_t access;
};

struct LandlockPlan {
  bool enabled = false;
  int minAbi = 0;
  uint64_t handledAccessFs = 0;
  uint64_t handledAccessNet = 0;
  uint64_t scoped = 0;
  uint32_t restrictFlags = 0;
  std::vector<PathRulePlan> pathRules;
  std::vector<PortRulePlan> portRules;
};

struct LaunchPlan {
  std::string name;
  std::string file;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;
  bool nsPid = false, nsMount = false, nsNet = false, nsIpc = false, nsUts = false, nsCgroup = false;
  std::string hostname;
  std::vector<int> capabilities;
  uint64_t capabilityMask = 0;
  int capLastCap = 0;
  bool noNewPrivs = false;
  std::vector<MountPlan> mounts;
  std::vector<RlimitPlan> rlimits;
  std::vector<std::string> cgroupProcs;
  // Filled by prepareExec: the v1 `tasks` files the child writes "0" into
  // itself, and the remaining cgroup.procs files the parent writes.
  std::vector<std::string> cgroupSelfTasks;
  std::vector<std::string> cgroupParentProcs;
  // Set by spawnSandbox when a beforeRelease hook needs the child in its
  // cgroups first. The child then reports joining with one byte.
  bool reportJoined = false;
  bool loopbackUp = false;
  bool seccompEnabled = false;
  std::vector<sock_filter> seccompFilter;
  bool seccompListener = false;
  uint32_t seccompFlags = 0;
  LandlockPlan landlock;
  std::vector<int> listenFds;
  std::vector<std::string> listenNames;
  int stdio[3] = {-1, -1, -1};

  // Prepared for execve. envp points into env plus the LISTEN_* entries;
  // listenPidEntry has room for the pid, which only the child can read.
  std::vector<char*> argvPointers;
  std::vector<char*> envpPointers;
  std::string listenFdsEntry;
  std::string listenPidEntry;
  std::string listenNamesEntry;
};

// Converts a LaunchSpec object. Throws a JS TypeError naming the field when a
// value has the wrong type; the TypeScript wrapper validates ranges first.
LaunchPlan buildPlan(const Napi::Object& spec);

// Fills argvPointers and envpPointers and splits cgroupProcs. Call it once the plan sits where the
// child will read it: the pointers refer to the plan's own strings, and
// moving a short std::string moves its characters.
void prepareExec(LaunchPlan& plan);

// Reads /proc/sys/kernel/cap_last_cap; falls back to CAP_LAST_CAP from the headers.
int readCapLastCap();

}  // namespace launch
