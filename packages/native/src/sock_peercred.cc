#include "sock_peercred.h"

#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "errors.h"

namespace sock {

Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 0) {
    throw Napi::TypeError::New(env, "peerCredentials(fd: number)");
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  ucred credentials = {};
  socklen_t length = sizeof(credentials);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    throw errors::systemError(env, "getsockopt SO_PEERCRED", "fd " + std::to_string(fd), errno);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, credentials.pid));
  result.Set("uid", Napi::Number::New(env, credentials.uid));
  result.Set("gid", Napi::Number::New(env, credentials.gid));
  return result;
}

}  // namespace sock
