#include "monitor_netlink.h"

#include <linux/audit.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "errors.h"

namespace monitor {

namespace {

// Larger than any single audit record (8970 bytes at most) and roomy
// enough to read many proc connector messages per recv.
constexpr size_t kReceiveBuffer = 65536;
// The kernel socket buffer; bursts of forks overflow the default quickly.
constexpr int kSocketBuffer = 4 * 1024 * 1024;
constexpr unsigned kAuditReadLogGroup = 1;  // AUDIT_NLGRP_READLOG
constexpr size_t kMaxCommandLine = 4096;

double nowMs() {
  using namespace std::chrono;
  return static_cast<double>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

int openAuditSocket(bool multicast) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
  if (fd < 0) return -1;
  sockaddr_nl address = {};
  address.nl_family = AF_NETLINK;
  address.nl_groups = multicast ? (1u << (kAuditReadLogGroup - 1)) : 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// Sends the proc connector's listen or ignore operation.
bool sendProcOperation(int fd, proc_cn_mcast_op operation) {
  // nlmsghdr, then cn_msg whose flexible data member contains the operation.
  alignas(nlmsghdr) char request[NLMSG_LENGTH(sizeof(cn_msg) + sizeof(proc_cn_mcast_op))] = {};
  auto* header = reinterpret_cast<nlmsghdr*>(request);
  header->nlmsg_len = sizeof(request);
  header->nlmsg_type = NLMSG_DONE;
  auto* message = static_cast<cn_msg*>(NLMSG_DATA(header));
  message->id.idx = CN_IDX_PROC;
  message->id.val = CN_VAL_PROC;
  message->len = sizeof(proc_cn_mcast_op);
  memcpy(message->data, &operation, sizeof(operation));
  return send(fd, request, sizeof(request), 0) == static_cast<ssize_t>(sizeof(request));
}

int openProcSocket() {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
  if (fd < 0) return -1;
  sockaddr_nl address = {};
  address.nl_family = AF_NETLINK;
  address.nl_groups = CN_IDX_PROC;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      !sendProcOperation(fd, PROC_CN_MCAST_LISTEN)) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// Sends one audit control request and waits for its reply. The kernel
// replies to AUDIT_GET with an audit_status message and an ack, to AUDIT_SET with an ack.
bool auditRequest(Napi::Env env, uint16_t type, const audit_status* body, audit_status* reply) {
  int fd = openAuditSocket(false);
  if (fd < 0) throw errors::systemError(env, "socket", "NETLINK_AUDIT", errno);
  struct {
    nlmsghdr header;
    audit_status status;
  } request = {};
  request.header.nlmsg_len = NLMSG_LENGTH(body != nullptr ? sizeof(audit_status) : 0);
  request.header.nlmsg_type = type;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  request.header.nlmsg_seq = 1;
  if (body != nullptr) request.status = *body;
  if (send(fd, &request, request.header.nlmsg_len, 0) < 0) {
    int err = errno;
    close(fd);
    throw errors::systemError(env, "send", type == AUDIT_GET ? "AUDIT_GET" : "AUDIT_SET", err);
  }
  std::vector<char> buffer(kReceiveBuffer);
  bool gotStatus = false;
  bool acked = false;
  // AUDIT_GET sends the status and then the ack; AUDIT_SET only the ack.
  while (!acked || (reply != nullptr && !gotStatus)) {
    pollfd entry = {fd, POLLIN, 0};
    if (poll(&entry, 1, 2000) <= 0) {
      close(fd);
      throw errors::systemError(env, "recv", "audit reply timed out", ETIMEDOUT);
    }
    ssize_t got = recv(fd, buffer.data(), buffer.size(), 0);
    if (got < 0) {
      int err = errno;
      close(fd);
      throw errors::systemError(env, "recv", "audit reply", err);
    }
    int remaining = static_cast<int>(got);
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(header, remaining);
         header = NLMSG_NEXT(header, remaining)) {
      if (header->nlmsg_type == NLMSG_ERROR) {
        auto* error = static_cast<nlmsgerr*>(NLMSG_DATA(header));
        if (error->error != 0) {
          close(fd);
          throw errors::systemError(env, type == AUDIT_GET ? "AUDIT_GET" : "AUDIT_SET", "NETLINK_AUDIT", -error->error);
        }
        acked = true;
      } else if (header->nlmsg_type == AUDIT_GET && reply != nullptr) {
        size_t length = std::min<size_t>(header->nlmsg_len - NLMSG_HDRLEN, sizeof(audit_status));
        memcpy(reply, NLMSG_DATA(header), length);
        gotStatus = true;
      }
    }
  }
  close(fd);
  return true;
}

// Reads the command line (NUL-separated, cut at kMaxCommandLine bytes) and
// the parent pid of a process; leaves them empty when it is already gone.
void readProcess(int pid, Item& item) {
  std::string base = "/proc/" + std::to_string(pid);
  int fd = open((base + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buffer[kMaxCommandLine];
    ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got > 0) {
      item.text.assign(buffer, static_cast<size_t>(got));
      item.hasProcess = true;
    }
    close(fd);
  }
  fd = open((base + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buffer[1024];
    ssize_t got = read(fd, buffer, sizeof(buffer) - 1);
    close(fd);
    if (got > 0) {
      buffer[got] = '\0';
      // comm may contain ')' itself, so the fields start after the last one: ") S PPID".
      const char* close = strrchr(buffer, ')');
      int parent = 0;
      char state = 0;
      if (close != nullptr && sscanf(close + 1, " %c %d", &state, &parent) == 2) {
        item.parentTgid = parent;
        item.hasProcess = true;
      }
    }
  }
}

}  // namespace

Napi::Function NetlinkReader::Define(Napi::Env env) {
  return DefineClass(env, "NetlinkReader",
                     {InstanceMethod<&NetlinkReader::Close>("close"),
                      InstanceMethod<&NetlinkReader::Stats>("stats")});
}

NetlinkReader::NetlinkReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetlinkReader>(info) {
  Napi::Env env = info.Env();
  const char* usage = "new NetlinkReader('audit' | 'proc', { maxQueue, onBatch })";
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) throw Napi::TypeError::New(env, usage);
  std::string source = info[0].As<Napi::String>().Utf8Value();
  if (source == "audit") {
    source_ = Source::Audit;
  } else if (source == "proc") {
    source_ = Source::Proc;
  } else {
    throw Napi::TypeError::New(env, "NetlinkReader source must be 'audit' or 'proc', got '" + source + "'");
  }
  Napi::Object options = info[1].As<Napi::Object>();
  if (!options.Get("maxQueue").IsNumber() || !options.Get("onBatch").IsFunction()) {
    throw Napi::TypeError::New(env, usage);
  }
  maxQueue_ = static_cast<size_t>(std::max(1.0, options.Get("maxQueue").As<Napi::Number>().DoubleValue()));

  fd_ = source_ == Source::Audit ? openAuditSocket(true) : openProcSocket();
  if (fd_ < 0) {
    throw errors::systemError(env, source_ == Source::Audit ? "bind" : "listen",
                              source_ == Source::Audit ? "NETLINK_AUDIT group AUDIT_NLGRP_READLOG"
                                                       : "NETLINK_CONNECTOR group CN_IDX_PROC",
                              errno);
  }
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN; SO_RCVBUF is capped by rmem_max.
  if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &kSocketBuffer, sizeof(kSocketBuffer)) != 0) {
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof(kSocketBuffer));
  }
  stopFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stopFd_ < 0) {
    int err = errno;
    close(fd_);
    fd_ = -1;
    throw errors::systemError(env, "eventfd", "NetlinkReader", err);
  }
  // Kept alive until the thread ended and every queued delivery ran.
  Ref();
  deliverer_ = Napi::ThreadSafeFunction::New(env, options.Get("onBatch").As<Napi::Function>(), "NetlinkReader",
                                             maxQueue_, 1, [this](Napi::Env) { Unref(); });
  thread_ = std::thread([this] { run(); });
}

NetlinkReader::~NetlinkReader() {
  stopThread();
  if (fd_ >= 0) close(fd_);
  if (stopFd_ >= 0) close(stopFd_);
}

void NetlinkReader::stopThread() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  ssize_t ignored = write(stopFd_, &one, sizeof(one));
  (void)ignored;
  thread_.join();
}

Napi::Value NetlinkReader::Close(const Napi::CallbackInfo& info) {
  if (!closed_) {
    closed_ = true;
    stopThread();
    if (source_ == Source::Proc) sendProcOperation(fd_, PROC_CN_MCAST_IGNORE);
    close(fd_);
    fd_ = -1;
  }
  return info.Env().Undefined();
}

Napi::Value NetlinkReader::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object stats = Napi::Object::New(env);
  stats.Set("received", Napi::Number::New(env, static_cast<double>(received_.load())));
  stats.Set("delivered", Napi::Number::New(env, static_cast<double>(delivered_.load())));
  stats.Set("dropped", Napi::Number::New(env, static_cast<double>(dropped_.load())));
  stats.Set("overruns", Napi::Number::New(env, static_cast<double>(overruns_.load())));
  return stats;
}

void NetlinkReader::run() {
  std::vector<char> buffer(kReceiveBuffer);
  for (;;) {
    pollfd entries[2] = {{fd_, POLLIN, 0}, {stopFd_, POLLIN, 0}};
    int ready = poll(entries, 2, -1);
    if (ready < 0 && errno != EINTR) break;
    if (entries[1].revents != 0) break;
    if ((entries[0].revents & (POLLIN | POLLERR)) == 0) continue;
    ssize_t got = recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (got < 0 && errno == ENOBUFS) {
      overruns_++;
      pendingOverruns_++;
      // Report the overflow even when no message follows it.
      send(new Batch());
      continue;
    }
    if (got <= 0) continue;
    auto* batch = new Batch();
    if (source_ == Source::Audit) {
      readAudit(buffer.data(), static_cast<size_t>(got), *batch);
    } else {
      readProc(buffer.data(), static_cast<size_t>(got), *batch);
    }
    if (batch->empty()) {
      delete batch;
      continue;
    }
    send(batch);
  }
  deliverer_.Release();
}

void NetlinkReader::send(Batch* batch) {
  // One call per received buffer: the kernel already groups messages that
  // arrive together, and the bounded call queue is what drops under load.
  size_t count = batch->size();
  napi_status status = deliverer_.NonBlockingCall(batch, [this](Napi::Env env, Napi::Function onBatch, Batch* items) {
    deliver(env, onBatch, items);
  });
  if (status != napi_ok) {
    dropped_ += count;
    pendingDropped_ += count;
    delete batch;
  }
}

void NetlinkReader::readAudit(const char* buffer, size_t length, Batch& batch) {
  int remaining = static_cast<int>(length);
  for (auto* header = reinterpret_cast<const nlmsghdr*>(buffer); NLMSG_OK(header, remaining);
       header = NLMSG_NEXT(header, remaining)) {
    received_++;
    Item item;
    item.time = nowMs();
    item.type = header->nlmsg_type;
    const char* text = static_cast<const char*>(NLMSG_DATA(header));
    size_t size = header->nlmsg_len - NLMSG_HDRLEN;
    // Records carry no terminating NUL, but some kernels pad with one.
    item.text.assign(text, strnlen(text, size));
    batch.push_back(std::move(item));
  }
}

void NetlinkReader::readProc(const char* buffer, size_t length, Batch& batch) {
  int remaining = static_cast<int>(length);
  for (auto* header = reinterpret_cast<const nlmsghdr*>(buffer); NLMSG_OK(header, remaining);
       header = NLMSG_NEXT(header, remaining)) {
    if (header->nlmsg_len < NLMSG_LENGTH(sizeof(cn_msg) + sizeof(proc_event))) continue;
    const auto* message = static_cast<const cn_msg*>(NLMSG_DATA(header));
    if (message->id.idx != CN_IDX_PROC || message->id.val != CN_VAL_PROC) continue;
    const auto* event = reinterpret_cast<const proc_event*>(message->data);
    Item item;
    item.time = nowMs();
    switch (event->what) {
      case proc_event::PROC_EVENT_FORK:
        // A new thread is a fork event too; only new processes are kept.
        if (event->event_data.fork.child_pid != event->event_data.fork.child_tgid) continue;
        item.what = "fork";
        item.pid = event->event_data.fork.child_pid;
        item.tgid = event->event_data.fork.child_tgid;
        item.parentPid = event->event_data.fork.parent_pid;
        item.parentTgid = event->event_data.fork.parent_tgid;
        break;
      case proc_event::PROC_EVENT_EXEC:
        item.what = "exec";
        item.pid = event->event_data.exec.process_pid;
        item.tgid = event->event_data.exec.process_tgid;
        // Read now: a short-lived program is often gone by the time the
        // batch reaches JavaScript.
        readProcess(item.tgid, item);
        break;
      case proc_event::PROC_EVENT_EXIT:
        if (event->event_data.exit.process_pid != event->event_data.exit.process_tgid) continue;
        item.what = "exit";
        item.pid = event->event_data.exit.process_pid;
        item.tgid = event->event_data.exit.process_tgid;
        item.parentPid = event->event_data.exit.parent_pid;
        item.parentTgid = event->event_data.exit.parent_tgid;
        item.exitCode = static_cast<int>(event->event_data.exit.exit_code);
        item.exitSignal = static_cast<int>(event->event_data.exit.exit_signal);
        break;
      default:
        continue;
    }
    received_++;
    batch.push_back(std::move(item));
  }
}

void NetlinkReader::deliver(Napi::Env env, Napi::Function onBatch, Batch* items) {
  std::unique_ptr<Batch> owned(items);
  // env is null when the function is being torn down with calls still queued.
  if (env == nullptr || onBatch.IsEmpty()) return;
  uint64_t dropped = pendingDropped_.exchange(0);
  uint64_t overruns = pendingOverruns_.exchange(0);
  Napi::Array list = Napi::Array::New(env, owned->size());
  uint32_t index = 0;
  for (const Item& item : *owned) {
    Napi::Object object = Napi::Object::New(env);
    object.Set("time", item.time);
    if (source_ == Source::Audit) {
      object.Set("type", item.type);
      object.Set("text", item.text);
    } else {
      object.Set("what", item.what);
      object.Set("pid", item.pid);
      object.Set("tgid", item.tgid);
      if (std::strcmp(item.what, "exec") != 0) {
        object.Set("parentPid", item.parentPid);
        object.Set("parentTgid", item.parentTgid);
      } else if (item.hasProcess) {
        object.Set("cmdline", Napi::Buffer<char>::Copy(env, item.text.data(), item.text.size()));
        if (item.parentTgid != 0) object.Set("parentTgid", item.parentTgid);
      }
      if (std::strcmp(item.what, "exit") == 0) {
        object.Set("exitCode", item.exitCode);
        object.Set("exitSignal", item.exitSignal);
      }
    }
    list.Set(index++, object);
  }
  delivered_ += owned->size();
  onBatch.Call({list, Napi::Number::New(env, static_cast<double>(dropped)),
                Napi::Number::New(env, static_cast<double>(overruns))});
}

Napi::Value AuditStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  audit_status status = {};
  auditRequest(env, AUDIT_GET, nullptr, &status);
  Napi::Object result = Napi::Object::New(env);
  result.Set("enabled", Napi::Number::New(env, status.enabled));
  result.Set("pid", Napi::Number::New(env, status.pid));
  result.Set("failure", Napi::Number::New(env, status.failure));
  result.Set("lost", Napi::Number::New(env, status.lost));
  result.Set("backlog", Napi::Number::New(env, status.backlog));
  return result;
}

Napi::Value AuditSetEnabled(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "auditSetEnabled(0 | 1)");
  uint32_t enabled = info[0].As<Napi::Number>().Uint32Value();
  if (enabled > 1) throw Napi::TypeError::New(env, "auditSetEnabled takes 0 or 1, got " + std::to_string(enabled));
  audit_status previous = {};
  auditRequest(env, AUDIT_GET, nullptr, &previous);
  audit_status change = {};
  change.mask = AUDIT_STATUS_ENABLED;
  change.enabled = enabled;
  auditRequest(env, AUDIT_SET, &change, nullptr);
  return Napi::Number::New(env, previous.enabled);
}

void Register(Napi::Env env, Napi::Object exports) {
  exports.Set("NetlinkReader", NetlinkReader::Define(env));
  exports.Set("auditStatus", Napi::Function::New(env, AuditStatus, "auditStatus"));
  exports.Set("auditSetEnabled", Napi::Function::New(env, AuditSetEnabled, "auditSetEnabled"));
}

}  // namespace monitor
