// Entry point of the blackhole_native addon. lib/native.ts declares the
// same surface in TypeScript; keep the two in step.

#include <napi.h>

#include "host_facts.h"
#include "monitor_netlink.h"
#include "net.h"
#include "notify.h"
#include "pidfd.h"
#include "sock_listen.h"
#include "sock_peercred.h"
#include "spawn.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("spawnSandbox", Napi::Function::New(env, launch::SpawnSandbox, "spawnSandbox"));
  exports.Set("watchExit", Napi::Function::New(env, pidfd::WatchExit, "watchExit"));
  exports.Set("openPidfd", Napi::Function::New(env, pidfd::OpenPidfd, "openPidfd"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, pidfd::SendSignal, "pidfdSendSignal"));
  exports.Set("closeFd", Napi::Function::New(env, pidfd::CloseFd, "closeFd"));
  exports.Set("setLinkUp", Napi::Function::New(env, net::SetLinkUp, "setLinkUp"));
  exports.Set("hostFacts", Napi::Function::New(env, host::HostFacts, "hostFacts"));
  exports.Set("listenTcp", Napi::Function::New(env, sock::ListenTcp, "listenTcp"));
  exports.Set("listenUnix", Napi::Function::New(env, sock::ListenUnix, "listenUnix"));
  exports.Set("peerCredentials", Napi::Function::New(env, sock::PeerCredentials, "peerCredentials"));
  exports.Set("SeccompNotifier", notify::SeccompNotifier::Define(env));
  monitor::Register(env, exports);
  return exports;
}

NODE_API_MODULE(blackhole_native, Init)
