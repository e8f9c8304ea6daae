// SeccompNotifier: responds to seccomp user notifications on a native
// thread and reports them to JavaScript in batches.
//
// The response comes from a table fixed at construction, so a slow JavaScript
// consumer never keeps the sandboxed process waiting: the thread replies at
// once, decodes what it can, and queues an event. When the bounded queue is
// full the event is counted as dropped, never waited for.

#pragma once

#include <linux/seccomp.h>
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace notify {

// Keeps a notification that spawnSandbox received after the service had
// already started, for the notifier on that descriptor to respond to first.
void stashPending(int fd, const seccomp_notif& request);
bool takePending(int fd, seccomp_notif& request);

struct Action {
  bool continueCall = false;
  int err = 0;
};

struct Event {
  int pid = 0;
  int syscall = 0;
  uint32_t arch = 0;
  uint64_t args[6] = {};
  Action action;
  double time = 0;
  bool decoded = false;
  bool hasPath = false;
  std::string path;
  bool hasArgv = false;
  std::vector<std::string> argv;
  std::string family;
  std::string address;
  int port = -1;
  int64_t request = -1;
};

class SeccompNotifier : public Napi::ObjectWrap<SeccompNotifier> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit SeccompNotifier(const Napi::CallbackInfo& info);
  ~SeccompNotifier() override;

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);

  void run();
  void handle(seccomp_notif& request);
  void decode(const seccomp_notif& request, Event& event);
  void enqueue(Event&& event);
  void requestDelivery();
  void deliver(Napi::Env env, Napi::Function onBatch);
  void stopThread();

  int fd_ = -1;
  int stopFd_ = -1;
  std::unordered_map<int, Action> actions_;
  Action defaultAction_;
  size_t maxQueue_ = 1024;
  int batchMs_ = 100;

  std::mutex mutex_;
  std::deque<Event> queue_;
  uint64_t droppedSinceDelivery_ = 0;
  std::atomic<bool> deliveryPending_{false};
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> dropped_{0};

  std::thread thread_;
  Napi::ThreadSafeFunction deliverer_;
  bool closed_ = false;
};

}  // namespace notify
