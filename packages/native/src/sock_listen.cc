#include "sock_listen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"

namespace sock {

namespace {

// Closes fd, keeps errno and throws "<call> <address>: <reason> (<CODE>)".
[[noreturn]] void failAndClose(Napi::Env env, int fd, const char* call, const std::string& address) {
  int err = errno;
  if (fd >= 0) close(fd);
  Napi::Error error = errors::systemError(env, call, address, err);
  error.Set("address", address);
  throw error;
}

int backlogArgument(const Napi::CallbackInfo& info, size_t index) {
  int backlog = info[index].As<Napi::Number>().Int32Value();
  return backlog > 0 ? backlog : SOMAXCONN;
}

}  // namespace

Napi::Value ListenTcp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber()) {
    throw Napi::TypeError::New(env, "listenTcp(host: string, port: number, backlog: number)");
  }
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  if (port < 1 || port > 65535) throw Napi::RangeError::New(env, "listenTcp: port must be 1 to 65535, got " + std::to_string(port));
  int backlog = backlogArgument(info, 2);

  sockaddr_storage address = {};
  socklen_t length = 0;
  int family = AF_INET;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  std::string label = host + ":" + std::to_string(port);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in6);
    label = "[" + host + "]:" + std::to_string(port);
  } else {
    throw Napi::TypeError::New(env, "listenTcp: host '" + host + "' is not an IPv4 or IPv6 address");
  }

  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) failAndClose(env, -1, "socket", label);
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) failAndClose(env, fd, "setsockopt SO_REUSEADDR", label);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) failAndClose(env, fd, "bind", label);
  if (listen(fd, backlog) != 0) failAndClose(env, fd, "listen", label);
  return Napi::Number::New(env, fd);
}

Napi::Value ListenUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "listenUnix(path: string, backlog: number)");
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int backlog = backlogArgument(info, 1);
  sockaddr_un address = {};
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    throw Napi::RangeError::New(env, "listenUnix: path '" + path + "' must be 1 to 107 bytes");
  }
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, path.data(), path.size());

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) failAndClose(env, -1, "socket", path);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) failAndClose(env, fd, "bind", path);
  if (listen(fd, backlog) != 0) failAndClose(env, fd, "listen", path);
  return Napi::Number::New(env, fd);
}

}  // namespace sock
