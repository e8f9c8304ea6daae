#include "plan.h"

#include <linux/capability.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace launch {

namespace {

Napi::Value field(const Napi::Object& object, const char* key, const std::string& path) {
  if (!object.Has(key)) {
    throw Napi::TypeError::New(object.Env(), "LaunchSpec." + path + " is missing");
  }
  return object.Get(key);
}

std::string getString(const Napi::Object& object, const char* key, const std::string& path) {
  Napi::Value value = field(object, key, path);
  if (!value.IsString()) {
    throw Napi::TypeError::New(object.Env(), "LaunchSpec." + path + " must be a string");
  }
  std::string text = value.As<Napi::String>().Utf8Value();
  if (text.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(object.Env(), "LaunchSpec." + path + " must not contain a NUL byte");
  }
  return text;
}

bool getBool(const Napi::Object& object, const char* key, const std::string& path) {
  Napi::Value value = field(object, key, path);
  if (!value.IsBoolean()) {
    throw Napi::TypeError::New(object.Env(), "LaunchSpec." + path + " must be a boolean");
  }
  return value.As<Napi::Boolean>().Value();
}

double getNumber(const Napi::Object& object, const char* key, const std::string& path) {
  Napi::Value value = field(object, key, path);
  if (!value.IsNumber()) {
    throw Napi::TypeError::New(object.Env(), "LaunchSpec." + path + " must be a number");
  }
  double number = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(number) || number < 0 || std::floor(number) != number) {
    throw Napi::TypeError::New(object.Env(),
                               "LaunchSpec." + path + " must be a non-negative integer");
  }
  return number;
}

int32_t getInt(const Napi::Object& object, const char* key, const std::string& path) {
  Napi::Value value = field(object, key, path);
  if (!value.IsNumber()) {
    throw Napi::TypeError::New(object.Env(), "LaunchSpec." + path + " must be a number");
  }
  return value.As<Napi::Number>().Int32Value();
}

Napi::Object getObject(const Napi::Object& object, const char* key, const std::string& path) {
  Napi::Value value = field(object, key, path);
  if (!value.IsObject() || value.IsArray()) {
    throw Napi::TypeError::New(object.Env(), "LaunchSpec." + path + " must be an object");
  }
  return value.As<Napi::Object>();
}

Napi::Array getArray(const Napi::Object& object, const char* key, const std::string& path) {
  Napi::Value value = field(object, key, path);
  if (!value.IsArray()) {
    throw Napi::TypeError::New(object.Env(), "LaunchSpec." + path + " must be an array");
  }
  return value.As<Napi::Array>();
}

std::vector<std::string> getStrings(const Napi::Object& object, const char* key,
                                    const std::string& path) {
  Napi::Array array = getArray(object, key, path);
  std::vector<std::string> out;
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Object holder = Napi::Object::New(object.Env());
    holder.Set("v", array.Get(i));
    out.push_back(getString(holder, "v", path + "[" + std::to_string(i) + "]"));
  }
  return out;
}

Napi::Object elementObject(const Napi::Array& array, uint32_t i, const std::string& path) {
  Napi::Value value = array.Get(i);
  if (!value.IsObject()) {
    throw Napi::TypeError::New(array.Env(), "LaunchSpec." + path + " must be an object");
  }
  return value.As<Napi::Object>();
}

// Standard base64 as produced by Buffer.toString('base64').
std::vector<uint8_t> decodeBase64(const std::string& text, bool& ok) {
  auto decodeChar = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<uint8_t> out;
  uint32_t buffer = 0;
  int bits = 0;
  ok = true;
  for (char c : text) {
    if (c == '=') break;
    int value = decodeChar(c);
    if (value < 0) {
      ok = false;
      return out;
    }
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

int rlimitResource(const std::string& name) {
  if (name == "AS") return RLIMIT_AS;
  if (name == "DATA") return RLIMIT_DATA;
  if (name == "STACK") return RLIMIT_STACK;
  if (name == "CORE") return RLIMIT_CORE;
  if (name == "NOFILE") return RLIMIT_NOFILE;
  if (name == "NPROC") return RLIMIT_NPROC;
  if (name == "MEMLOCK") return RLIMIT_MEMLOCK;
  if (name == "FSIZE") return RLIMIT_FSIZE;
  return -1;
}

uint64_t rlimitValue(const Napi::Object& object, const char* key, const std::string& path) {
  Napi::Value value = field(object, key, path);
  if (value.IsNull()) return RLIM_INFINITY;
  return static_cast<uint64_t>(getNumber(object, key, path));
}

MountPlan buildMount(const Napi::Object& step, const std::string& path) {
  Napi::Env env = step.Env();
  std::string type = getString(step, "type", path + ".type");
  MountPlan mount;
  mount.target = getString(step, "target", path + ".target");
  if (mount.target.empty() || mount.target[0] != '/') {
    throw Napi::TypeError::New(env, "LaunchSpec." + path + ".target must be an absolute path");
  }
  if (type == "bind") {
    mount.kind = MountKind::Bind;
    mount.source = getString(step, "source", path + ".source");
    mount.readOnly = getBool(step, "readOnly", path + ".readOnly");
    mount.recursive = getBool(step, "recursive", path + ".recursive");
  } else if (type == "proc") {
    mount.kind = MountKind::Proc;
  } else if (type == "dev") {
    mount.kind = MountKind::Dev;
  } else if (type == "tmpfs") {
    mount.kind = MountKind::Tmpfs;
    mount.readOnly = getBool(step, "readOnly", path + ".readOnly");
    char options[160];
    snprintf(options, sizeof(options), "mode=0%o,uid=%u,gid=%u",
             static_cast<unsigned>(getNumber(step, "mode", path + ".mode")),
             static_cast<unsigned>(getNumber(step, "uid", path + ".uid")),
             static_cast<unsigned>(getNumber(step, "gid", path + ".gid")));
    mount.tmpfsOptions = options;
    if (!step.Get("sizeBytes").IsNull()) {
      double size = getNumber(step, "sizeBytes", path + ".sizeBytes");
      mount.tmpfsOptions += ",size=" + std::to_string(static_cast<uint64_t>(size));
    }
  } else if (type == "mask") {
    mount.kind = MountKind::Mask;
  } else if (type == "readonly") {
    mount.kind = MountKind::Readonly;
  } else {
    throw Napi::TypeError::New(env, "LaunchSpec." + path + ".type '" + type +
                                        "' is not one of bind, proc, dev, tmpfs, mask, readonly");
  }
  return mount;
}

void buildLandlock(LaunchPlan& plan, const Napi::Object& spec) {
  Napi::Value value = field(spec, "landlock", "landlock");
  if (value.IsNull()) return;
  if (!value.IsObject()) {
    throw Napi::TypeError::New(spec.Env(), "LaunchSpec.landlock must be an object or null");
  }
  Napi::Object landlock = value.As<Napi::Object>();
  LandlockPlan& out = plan.landlock;
  out.enabled = true;
  out.minAbi = static_cast<int>(getNumber(landlock, "minAbi", "landlock.minAbi"));
  out.handledAccessFs = static_cast<uint64_t>(getNumber(landlock, "handledAccessFs", "landlock.handledAccessFs"));
  out.handledAccessNet = static_cast<uint64_t>(getNumber(landlock, "handledAccessNet", "landlock.handledAccessNet"));
  out.scoped = static_cast<uint64_t>(getNumber(landlock, "scoped", "landlock.scoped"));
  out.restrictFlags = static_cast<uint32_t>(getNumber(landlock, "restrictFlags", "landlock.restrictFlags"));
  Napi::Array paths = getArray(landlock, "pathRules", "landlock.pathRules");
  for (uint32_t i = 0; i < paths.Length(); i++) {
    std::string at = "landlock.pathRules[" + std::to_string(i) + "]";
    Napi::Object rule = elementObject(paths, i, at);
    out.pathRules.push_back({getString(rule, "path", at + ".path"),
                             static_cast<uint64_t>(getNumber(rule, "access", at + ".access"))});
  }
  Napi::Array ports = getArray(landlock, "netRules", "landlock.netRules");
  for (uint32_t i = 0; i < ports.Length(); i++) {
    std::string at = "landlock.netRules[" + std::to_string(i) + "]";
    Napi::Object rule = elementObject(ports, i, at);
    out.portRules.push_back({static_cast<uint64_t>(getNumber(rule, "port", at + ".port")),
                             static_cast<uint64_t>(getNumber(rule, "access", at + ".access"))});
  }
}

void buildSeccomp(LaunchPlan& plan, const Napi::Object& spec) {
  Napi::Object seccomp = getObject(spec, "seccomp", "seccomp");
  Napi::Value filter = field(seccomp, "filter", "seccomp.filter");
  plan.seccompListener = getBool(seccomp, "listener", "seccomp.listener");
  plan.seccompFlags = static_cast<uint32_t>(getNumber(seccomp, "flags", "seccomp.flags"));
  if (filter.IsNull()) return;
  std::string encoded = getString(seccomp, "filter", "seccomp.filter");
  bool ok = false;
  std::vector<uint8_t> bytes = decodeBase64(encoded, ok);
  if (!ok || bytes.empty() || bytes.size() % sizeof(sock_filter) != 0 ||
      bytes.size() / sizeof(sock_filter) > BPF_MAXINSNS) {
    throw Napi::TypeError::New(spec.Env(),
                               "LaunchSpec.seccomp.filter must be base64 of 1 to 4096 "
                               "struct sock_filter entries (8 bytes each)");
  }
  plan.seccompEnabled = true;
  plan.seccompFilter.resize(bytes.size() / sizeof(sock_filter));
  memcpy(plan.seccompFilter.data(), bytes.data(), bytes.size());
}

}  // namespace

// A v1 hierarchy has a `tasks` file beside cgroup.procs. A thread that
// writes "0" to it moves only itself, so the kernel skips the global
// threadgroup lock, whose write side waits for an RCU grace period. Five
// hierarchies took about 0.3 ms this way, against 2.5 to 8 ms when the
// parent wrote the pid (Linux 6.18, 2 shared vCPUs). The child is
// single-threaded at that point, so moving its thread moves the process.
// cgroup v2 has no such file for domain cgroups; the parent writes those.
static void splitCgroupFiles(LaunchPlan& plan) {
  const std::string suffix = "/cgroup.procs";
  for (const std::string& path : plan.cgroupProcs) {
    bool endsInProcs = path.size() > suffix.size() &&
                       path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
    std::string tasks = endsInProcs ? path.substr(0, path.size() - suffix.size()) + "/tasks" : "";
    if (endsInProcs && access(tasks.c_str(), W_OK) == 0) {
      plan.cgroupSelfTasks.push_back(tasks);
    } else {
      plan.cgroupParentProcs.push_back(path);
    }
  }
}

void prepareExec(LaunchPlan& plan) {
  splitCgroupFiles(plan);
  for (std::string& arg : plan.argv) plan.argvPointers.push_back(arg.data());
  plan.argvPointers.push_back(nullptr);
  for (std::string& entry : plan.env) plan.envpPointers.push_back(entry.data());
  if (!plan.listenFds.empty()) {
    plan.listenFdsEntry = "LISTEN_FDS=" + std::to_string(plan.listenFds.size());
    // Room for any pid; the child writes its own pid after the '='.
    plan.listenPidEntry = "LISTEN_PID=";
    plan.listenPidEntry.resize(plan.listenPidEntry.size() + 24, '\0');
    plan.listenNamesEntry = "LISTEN_FDNAMES=";
    for (size_t i = 0; i < plan.listenNames.size(); i++) {
      if (i > 0) plan.listenNamesEntry += ':';
      plan.listenNamesEntry += plan.listenNames[i];
    }
    plan.envpPointers.push_back(plan.listenFdsEntry.data());
    plan.envpPointers.push_back(plan.listenPidEntry.data());
    plan.envpPointers.push_back(plan.listenNamesEntry.data());
  }
  plan.envpPointers.push_back(nullptr);
}

int readCapLastCap() {
  FILE* file = fopen("/proc/sys/kernel/cap_last_cap", "re");
  int last = CAP_LAST_CAP;
  if (file != nullptr) {
    if (fscanf(file, "%d", &last) != 1) last = CAP_LAST_CAP;
    fclose(file);
  }
  return last;
}

LaunchPlan buildPlan(const Napi::Object& spec) {
  Napi::Env env = spec.Env();
  LaunchPlan plan;
  if (getNumber(spec, "specVersion", "specVersion") != 1) {
    throw Napi::TypeError::New(env, "LaunchSpec.specVersion must be 1");
  }
  plan.name = getString(spec, "name", "name");
  plan.file = getString(spec, "file", "file");
  plan.argv = getStrings(spec, "argv", "argv");
  plan.env = getStrings(spec, "env", "env");
  plan.cwd = getString(spec, "cwd", "cwd");
  plan.uid = static_cast<uint32_t>(getNumber(spec, "uid", "uid"));
  plan.gid = static_cast<uint32_t>(getNumber(spec, "gid", "gid"));
  Napi::Array groups = getArray(spec, "groups", "groups");
  for (uint32_t i = 0; i < groups.Length(); i++) {
    Napi::Value group = groups.Get(i);
    if (!group.IsNumber()) {
      throw Napi::TypeError::New(env, "LaunchSpec.groups[" + std::to_string(i) + "] must be a number");
    }
    plan.groups.push_back(group.As<Napi::Number>().Uint32Value());
  }

  Napi::Object ns = getObject(spec, "namespaces", "namespaces");
  plan.nsPid = getBool(ns, "pid", "namespaces.pid");
  plan.nsMount = getBool(ns, "mount", "namespaces.mount");
  plan.nsNet = getBool(ns, "net", "namespaces.net");
  plan.nsIpc = getBool(ns, "ipc", "namespaces.ipc");
  plan.nsUts = getBool(ns, "uts", "namespaces.uts");
  plan.nsCgroup = getBool(ns, "cgroup", "namespaces.cgroup");
  plan.hostname = getString(spec, "hostname", "hostname");

  plan.capLastCap = readCapLastCap();
  Napi::Array caps = getArray(spec, "capabilities", "capabilities");
  for (uint32_t i = 0; i < caps.Length(); i++) {
    Napi::Value cap = caps.Get(i);
    if (!cap.IsNumber() || cap.As<Napi::Number>().Int32Value() < 0 ||
        cap.As<Napi::Number>().Int32Value() > 63) {
      throw Napi::TypeError::New(env, "LaunchSpec.capabilities[" + std::to_string(i) +
                                          "] must be a capability number from 0 to 63");
    }
    int number = cap.As<Napi::Number>().Int32Value();
    plan.capabilities.push_back(number);
    plan.capabilityMask |= uint64_t{1} << number;
  }
  plan.noNewPrivs = getBool(spec, "noNewPrivs", "noNewPrivs");

  Napi::Array mounts = getArray(spec, "mounts", "mounts");
  for (uint32_t i = 0; i < mounts.Length(); i++) {
    std::string at = "mounts[" + std::to_string(i) + "]";
    plan.mounts.push_back(buildMount(elementObject(mounts, i, at), at));
  }

  Napi::Array rlimits = getArray(spec, "rlimits", "rlimits");
  for (uint32_t i = 0; i < rlimits.Length(); i++) {
    std::string at = "rlimits[" + std::to_string(i) + "]";
    Napi::Object limit = elementObject(rlimits, i, at);
    std::string name = getString(limit, "resource", at + ".resource");
    int resource = rlimitResource(name);
    if (resource < 0) {
      throw Napi::TypeError::New(env, "LaunchSpec." + at + ".resource '" + name +
                                          "' is not one of AS, DATA, STACK, CORE, NOFILE, "
                                          "NPROC, MEMLOCK, FSIZE");
    }
    plan.rlimits.push_back({resource, rlimitValue(limit, "soft", at + ".soft"),
                            rlimitValue(limit, "hard", at + ".hard")});
  }

  plan.cgroupProcs = getStrings(spec, "cgroupProcs", "cgroupProcs");
  Napi::Object network = getObject(spec, "network", "network");
  plan.loopbackUp = getBool(network, "loopbackUp", "network.loopbackUp");
  buildSeccomp(plan, spec);
  buildLandlock(plan, spec);

  Napi::Array listen = getArray(spec, "listenFds", "listenFds");
  for (uint32_t i = 0; i < listen.Length(); i++) {
    std::string at = "listenFds[" + std::to_string(i) + "]";
    Napi::Object entry = elementObject(listen, i, at);
    plan.listenFds.push_back(static_cast<int>(getNumber(entry, "fd", at + ".fd")));
    plan.listenNames.push_back(getString(entry, "name", at + ".name"));
  }
  Napi::Array stdio = getArray(spec, "stdio", "stdio");
  if (stdio.Length() != 3) {
    throw Napi::TypeError::New(env, "LaunchSpec.stdio must have exactly 3 entries");
  }
  for (uint32_t i = 0; i < 3; i++) {
    Napi::Object holder = Napi::Object::New(env);
    holder.Set("v", stdio.Get(i));
    plan.stdio[i] = getInt(holder, "v", "stdio[" + std::to_string(i) + "]");
  }
  return plan;
}

}  // namespace launch
