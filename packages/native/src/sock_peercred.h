// Credentials of the process on the other end of a unix socket.

#pragma once

#include <napi.h>

namespace sock {

// peerCredentials(fd) -> { pid, uid, gid }: SO_PEERCRED as of connect(),
// with the pid in the caller's PID namespace.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info);

}  // namespace sock
