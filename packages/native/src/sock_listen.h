// Listening sockets the supervisor binds for socket activation: bound as
// root in the supervisor's network namespace and handed to the service as
// descriptors 3, 4, ... so the service needs no privilege to bind them.

#pragma once

#include <napi.h>

namespace sock {

// listenTcp(host, port, backlog) -> fd: socket, SO_REUSEADDR, bind, listen.
Napi::Value ListenTcp(const Napi::CallbackInfo& info);

// listenUnix(path, backlog) -> fd: a SOCK_STREAM socket bound to path.
Napi::Value ListenUnix(const Napi::CallbackInfo& info);

}  // namespace sock
