#include "notify.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>

#include "errors.h"

namespace notify {

namespace {

std::mutex pendingMutex;
std::map<int, seccomp_notif> pendingRequests;

// Delivery starts at this many queued events even before batchMs passed.
constexpr size_t kBatchSize = 256;
constexpr size_t kMaxString = 4096;
constexpr size_t kMaxArgv = 64;

enum class Decoder { None, Execve, Execveat, Sockaddr, Open, Openat, Ptrace, Mount };

// Syscall numbers whose arguments are decoded, per audit architecture.
Decoder decoderFor(uint32_t arch, int nr) {
  if (arch == AUDIT_ARCH_X86_64) {
    switch (nr) {
      case 59: return Decoder::Execve;
      case 322: return Decoder::Execveat;
      case 42: case 49: return Decoder::Sockaddr;  // connect, bind
      case 2: return Decoder::Open;
      case 257: return Decoder::Openat;
      case 101: return Decoder::Ptrace;
      case 165: return Decoder::Mount;
    }
  } else if (arch == AUDIT_ARCH_AARCH64) {
    switch (nr) {
      case 221: return Decoder::Execve;
      case 281: return Decoder::Execveat;
      case 203: case 200: return Decoder::Sockaddr;  // connect, bind
      case 56: return Decoder::Openat;
      case 117: return Decoder::Ptrace;
      case 40: return Decoder::Mount;
    }
  }
  return Decoder::None;
}

double nowMs() {
  using namespace std::chrono;
  return static_cast<double>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

// Reads a NUL-terminated string from the target's memory, without crossing
// into an unmapped page more than necessary.
bool readString(int mem, uint64_t address, std::string& out) {
  out.clear();
  char chunk[256];
  while (out.size() < kMaxString) {
    size_t toPageEnd = 4096 - (address % 4096);
    size_t want = std::min(sizeof(chunk), toPageEnd);
    ssize_t got = pread(mem, chunk, want, static_cast<off_t>(address));
    if (got <= 0) return false;
    const char* end = static_cast<const char*>(memchr(chunk, '\0', static_cast<size_t>(got)));
    if (end != nullptr) {
      out.append(chunk, static_cast<size_t>(end - chunk));
      return true;
    }
    out.append(chunk, static_cast<size_t>(got));
    address += static_cast<uint64_t>(got);
  }
  return true;
}

bool readArgv(int mem, uint64_t address, std::vector<std::string>& out) {
  out.clear();
  for (size_t i = 0; i < kMaxArgv; i++) {
    uint64_t pointer = 0;
    if (pread(mem, &pointer, sizeof(pointer), static_cast<off_t>(address + i * 8)) != sizeof(pointer)) {
      return false;
    }
    if (pointer == 0) return true;
    std::string arg;
    if (!readString(mem, pointer, arg)) return false;
    out.push_back(std::move(arg));
  }
  return true;
}

bool readSockaddr(int mem, uint64_t address, uint64_t length, Event& event) {
  sockaddr_storage storage = {};
  size_t size = static_cast<size_t>(std::min<uint64_t>(length, sizeof(storage)));
  if (size < sizeof(sa_family_t)) return false;
  if (pread(mem, &storage, size, static_cast<off_t>(address)) != static_cast<ssize_t>(size)) return false;
  char text[INET6_ADDRSTRLEN] = {};
  switch (storage.ss_family) {
    case AF_INET: {
      auto* in = reinterpret_cast<sockaddr_in*>(&storage);
      event.family = "AF_INET";
      event.address = inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)) ? text : "";
      event.port = ntohs(in->sin_port);
      return true;
    }
    case AF_INET6: {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
      event.family = "AF_INET6";
      event.address = inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text)) ? text : "";
      event.port = ntohs(in6->sin6_port);
      return true;
    }
    case AF_UNIX: {
      auto* un = reinterpret_cast<sockaddr_un*>(&storage);
      event.family = "AF_UNIX";
      size_t pathLength = size - offsetof(sockaddr_un, sun_path);
      if (pathLength > 0 && un->sun_path[0] == '\0') {
        event.address = "@" + std::string(un->sun_path + 1, pathLength - 1);  // abstract
      } else {
        event.address = std::string(un->sun_path, strnlen(un->sun_path, pathLength));
      }
      return true;
    }
    default:
      event.family = std::to_string(storage.ss_family);
      return true;
  }
}

Action parseAction(const Napi::Value& value, const std::string& where) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) throw Napi::TypeError::New(env, where + " must be { action: 'errno', errno } or { action: 'continue' }");
  Napi::Object object = value.As<Napi::Object>();
  std::string kind = object.Get("action").IsString() ? object.Get("action").As<Napi::String>().Utf8Value() : "";
  Action action;
  if (kind == "continue") {
    action.continueCall = true;
  } else if (kind == "errno" && object.Get("errno").IsNumber()) {
    action.err = object.Get("errno").As<Napi::Number>().Int32Value();
  } else {
    throw Napi::TypeError::New(env, where + " must be { action: 'errno', errno } or { action: 'continue' }");
  }
  return action;
}

}  // namespace

void stashPending(int fd, const seccomp_notif& request) {
  std::lock_guard<std::mutex> lock(pendingMutex);
  pendingRequests[fd] = request;
}

bool takePending(int fd, seccomp_notif& request) {
  std::lock_guard<std::mutex> lock(pendingMutex);
  auto found = pendingRequests.find(fd);
  if (found == pendingRequests.end()) return false;
  request = found->second;
  pendingRequests.erase(found);
  return true;
}

Napi::Function SeccompNotifier::Define(Napi::Env env) {
  return DefineClass(env, "SeccompNotifier",
                     {InstanceMethod<&SeccompNotifier::Close>("close"),
                      InstanceMethod<&SeccompNotifier::Stats>("stats")});
}

SeccompNotifier::SeccompNotifier(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SeccompNotifier>(info) {
  Napi::Env env = info.Env();
  const char* usage =
      "new SeccompNotifier(notifyFd: number, { actions, defaultAction, maxQueue, batchMs, onBatch })";
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsObject()) throw Napi::TypeError::New(env, usage);
  Napi::Object options = info[1].As<Napi::Object>();
  if (!options.Get("actions").IsObject() || !options.Get("maxQueue").IsNumber() ||
      !options.Get("batchMs").IsNumber() || !options.Get("onBatch").IsFunction()) {
    throw Napi::TypeError::New(env, usage);
  }
  Napi::Object actions = options.Get("actions").As<Napi::Object>();
  Napi::Array keys = actions.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    std::string key = keys.Get(i).ToString().Utf8Value();
    char* end = nullptr;
    long number = strtol(key.c_str(), &end, 10);
    if (key.empty() || *end != '\0' || number < 0 || number > 0xffff) {
      throw Napi::TypeError::New(env, "actions key '" + key + "' must be a syscall number");
    }
    actions_[static_cast<int>(number)] = parseAction(actions.Get(key), "actions[" + key + "]");
  }
  defaultAction_ = parseAction(options.Get("defaultAction"), "defaultAction");
  maxQueue_ = static_cast<size_t>(std::max(1.0, options.Get("maxQueue").As<Napi::Number>().DoubleValue()));
  batchMs_ = std::max(0, options.Get("batchMs").As<Napi::Number>().Int32Value());
  fd_ = info[0].As<Napi::Number>().Int32Value();

  stopFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stopFd_ < 0) throw errors::systemError(env, "eventfd", "SeccompNotifier", errno);

  // Kept alive until the thread ended and every queued delivery ran: the
  // finalizer below drops the reference.
  Ref();
  deliverer_ = Napi::ThreadSafeFunction::New(
      env, options.Get("onBatch").As<Napi::Function>(), "SeccompNotifier", 0, 1,
      [this](Napi::Env) { Unref(); });
  thread_ = std::thread([this] { run(); });
}

SeccompNotifier::~SeccompNotifier() {
  stopThread();
  if (fd_ >= 0) close(fd_);
  if (stopFd_ >= 0) close(stopFd_);
}

void SeccompNotifier::stopThread() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  ssize_t ignored = write(stopFd_, &one, sizeof(one));
  (void)ignored;
  thread_.join();
}

Napi::Value SeccompNotifier::Close(const Napi::CallbackInfo& info) {
  if (!closed_) {
    closed_ = true;
    stopThread();
    // Closing the listener makes the kernel fail any further notified
    // syscall with ENOSYS instead of blocking it forever.
    close(fd_);
    fd_ = -1;
  }
  return info.Env().Undefined();
}

Napi::Value SeccompNotifier::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object stats = Napi::Object::New(env);
  stats.Set("received", Napi::Number::New(env, static_cast<double>(received_.load())));
  stats.Set("delivered", Napi::Number::New(env, static_cast<double>(delivered_.load())));
  stats.Set("dropped", Napi::Number::New(env, static_cast<double>(dropped_.load())));
  return stats;
}

void SeccompNotifier::run() {
  seccomp_notif request;
  if (takePending(fd_, request)) handle(request);
  double firstQueuedAt = 0;
  for (;;) {
    int timeout = -1;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!queue_.empty() && !deliveryPending_) {
        if (firstQueuedAt == 0) firstQueuedAt = nowMs();
        timeout = std::max(0, batchMs_ - static_cast<int>(nowMs() - firstQueuedAt));
      }
    }
    struct pollfd entries[2] = {{fd_, POLLIN, 0}, {stopFd_, POLLIN, 0}};
    int ready = poll(entries, 2, timeout);
    if (ready < 0 && errno != EINTR) break;
    if (entries[1].revents != 0) break;
    if (entries[0].revents & POLLIN) {
      memset(&request, 0, sizeof(request));
      if (ioctl(fd_, SECCOMP_IOCTL_NOTIF_RECV, &request) == 0) handle(request);
    } else if (entries[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
      break;  // every process using the filter has exited
    }
    size_t queued;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queued = queue_.size();
    }
    if (queued == 0) {
      firstQueuedAt = 0;
    } else if (queued >= kBatchSize || (firstQueuedAt != 0 && nowMs() - firstQueuedAt >= batchMs_)) {
      requestDelivery();
      firstQueuedAt = 0;
    }
  }
  requestDelivery();
  deliverer_.Release();
}

void SeccompNotifier::handle(seccomp_notif& request) {
  received_++;
  Event event;
  event.pid = static_cast<int>(request.pid);
  event.syscall = request.data.nr;
  event.arch = request.data.arch;
  for (int i = 0; i < 6; i++) event.args[i] = request.data.args[i];
  auto found = actions_.find(request.data.nr);
  event.action = found != actions_.end() ? found->second : defaultAction_;
  event.time = nowMs();

  // Decode while the call is still blocked, so the memory cannot change
  // under the reader. The response follows right after.
  decode(request, event);

  struct seccomp_notif_resp response;
  memset(&response, 0, sizeof(response));
  response.id = request.id;
  if (event.action.continueCall) {
    response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  } else {
    response.error = -event.action.err;
  }
  ioctl(fd_, SECCOMP_IOCTL_NOTIF_SEND, &response);  // ENOENT: the caller was killed meanwhile
  enqueue(std::move(event));
}

void SeccompNotifier::decode(const seccomp_notif& request, Event& event) {
  Decoder decoder = decoderFor(request.data.arch, request.data.nr);
  if (decoder == Decoder::None) return;
  const auto* args = request.data.args;
  if (decoder == Decoder::Ptrace) {
    event.decoded = true;
    event.request = static_cast<int64_t>(args[0]);
    return;
  }
  std::string memPath = "/proc/" + std::to_string(request.pid) + "/mem";
  int mem = open(memPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0) return;
  bool ok = false;
  switch (decoder) {
    case Decoder::Execve:
      ok = readString(mem, args[0], event.path) && readArgv(mem, args[1], event.argv);
      event.hasPath = event.hasArgv = ok;
      break;
    case Decoder::Execveat:
      ok = readString(mem, args[1], event.path) && readArgv(mem, args[2], event.argv);
      event.hasPath = event.hasArgv = ok;
      break;
    case Decoder::Sockaddr:
      ok = readSockaddr(mem, args[1], args[2], event);
      break;
    case Decoder::Open:
      ok = event.hasPath = readString(mem, args[0], event.path);
      break;
    case Decoder::Openat:
    case Decoder::Mount:
      ok = event.hasPath = readString(mem, args[1], event.path);
      break;
    default:
      break;
  }
  close(mem);
  // The pid could have exited and been reused between RECV and the read;
  // only a still-valid notification id proves the memory was the caller's.
  uint64_t id = request.id;
  if (!ok || ioctl(fd_, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0) {
    event.hasPath = event.hasArgv = false;
    event.family.clear();
    event.address.clear();
    event.port = -1;
    return;
  }
  event.decoded = true;
}

void SeccompNotifier::enqueue(Event&& event) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (queue_.size() >= maxQueue_) {
    dropped_++;
    droppedSinceDelivery_++;
    return;
  }
  queue_.push_back(std::move(event));
}

void SeccompNotifier::requestDelivery() {
  if (deliveryPending_.exchange(true)) return;
  napi_status status = deliverer_.NonBlockingCall([this](Napi::Env env, Napi::Function onBatch) {
    deliver(env, onBatch);
  });
  if (status != napi_ok) deliveryPending_ = false;
}

void SeccompNotifier::deliver(Napi::Env env, Napi::Function onBatch) {
  deliveryPending_ = false;
  std::deque<Event> events;
  uint64_t dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events.swap(queue_);
    dropped = droppedSinceDelivery_;
    droppedSinceDelivery_ = 0;
  }
  if (events.empty() && dropped == 0) return;
  Napi::Array list = Napi::Array::New(env, events.size());
  uint32_t index = 0;
  for (const Event& event : events) {
    Napi::Object item = Napi::Object::New(env);
    item.Set("pid", event.pid);
    item.Set("syscall", event.syscall);
    item.Set("arch", Napi::Number::New(env, event.arch));
    Napi::Array args = Napi::Array::New(env, 6);
    for (uint32_t i = 0; i < 6; i++) args.Set(i, std::to_string(event.args[i]));
    item.Set("args", args);
    item.Set("action", event.action.continueCall ? "continue" : "errno");
    item.Set("errno", event.action.err);
    item.Set("time", event.time);
    if (event.decoded) {
      Napi::Object decoded = Napi::Object::New(env);
      if (event.hasPath) decoded.Set("path", event.path);
      if (event.hasArgv) {
        Napi::Array argv = Napi::Array::New(env, event.argv.size());
        for (uint32_t i = 0; i < event.argv.size(); i++) argv.Set(i, event.argv[i]);
        decoded.Set("argv", argv);
      }
      if (!event.family.empty()) decoded.Set("family", event.family);
      if (!event.address.empty()) decoded.Set("address", event.address);
      if (event.port >= 0) decoded.Set("port", event.port);
      if (event.request >= 0) decoded.Set("request", Napi::Number::New(env, static_cast<double>(event.request)));
      item.Set("decoded", decoded);
    }
    list.Set(index++, item);
  }
  delivered_ += events.size();
  try {
    onBatch.Call({list, Napi::Number::New(env, static_cast<double>(dropped))});
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env, error.Value());
  }
}

}  // namespace notify
