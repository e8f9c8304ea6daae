// Netlink readers for the monitors: kernel audit records (multicast group
// AUDIT_NLGRP_READLOG, so no audit daemon role is taken) and proc connector
// events (fork, exec, exit). A native thread reads the socket and hands
// each received buffer's messages to JavaScript as one batch through a
// ThreadSafeFunction. When maxQueue batches are waiting, further ones are
// dropped and counted, so the reader never blocks.

#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace monitor {

enum class Source { Audit, Proc };

struct Item {
  double time = 0;
  // Audit: the netlink message type (1423 for AUDIT_LANDLOCK_ACCESS) and its
  // text. Proc exec: the command line read from /proc when the event arrived.
  uint16_t type = 0;
  std::string text;
  // Proc connector: 'fork', 'exec' or 'exit' and the ids the kernel reports.
  const char* what = nullptr;
  int pid = 0;
  int tgid = 0;
  int parentPid = 0;
  int parentTgid = 0;
  int exitCode = 0;
  int exitSignal = 0;
  // Exec only: true when /proc/PID/cmdline or stat was read; the command line is in text.
  bool hasProcess = false;
};

class NetlinkReader : public Napi::ObjectWrap<NetlinkReader> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NetlinkReader(const Napi::CallbackInfo& info);
  ~NetlinkReader() override;

 private:
  using Batch = std::vector<Item>;

  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);

  void run();
  void readAudit(const char* buffer, size_t length, Batch& batch);
  void readProc(const char* buffer, size_t length, Batch& batch);
  void send(Batch* batch);
  void deliver(Napi::Env env, Napi::Function onBatch, Batch* items);
  void stopThread();

  Source source_ = Source::Audit;
  int fd_ = -1;
  int stopFd_ = -1;
  // Batches (one per received buffer) waiting for the JavaScript thread.
  size_t maxQueue_ = 1024;

  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> dropped_{0};
  // Times the socket buffer overflowed (ENOBUFS): the kernel lost messages
  // that were never read, so their number is unknown.
  std::atomic<uint64_t> overruns_{0};
  // Counts not yet handed to JavaScript with a batch.
  std::atomic<uint64_t> pendingDropped_{0};
  std::atomic<uint64_t> pendingOverruns_{0};

  std::thread thread_;
  Napi::ThreadSafeFunction deliverer_;
  bool closed_ = false;
};

// auditStatus(): { enabled, pid, lost, backlog, failure } from AUDIT_GET.
Napi::Value AuditStatus(const Napi::CallbackInfo& info);
// auditSetEnabled(0 | 1): sends AUDIT_SET and returns the previous value.
Napi::Value AuditSetEnabled(const Napi::CallbackInfo& info);

// Adds NetlinkReader, auditStatus and auditSetEnabled to the addon's exports.
void Register(Napi::Env env, Napi::Object exports);

}  // namespace monitor
