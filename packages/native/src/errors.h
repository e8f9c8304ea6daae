// JavaScript errors built from errno values.

#pragma once

#include <napi.h>

#include <string>

namespace errors {

// "EPERM" for EPERM, or "E<number>" when glibc has no name for it.
std::string errnoName(int err);

// An Error with message "<operation>: <detail>: <strerror> (<CODE>)" and the
// properties code, errno and syscall, as Node's own system errors carry.
Napi::Error systemError(Napi::Env env, const std::string& operation, const std::string& detail, int err);

}  // namespace errors
