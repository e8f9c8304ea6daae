#include "errors.h"

#include <cstring>

namespace errors {

std::string errnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "E" + std::to_string(err);
}

Napi::Error systemError(Napi::Env env, const std::string& operation, const std::string& detail, int err) {
  std::string message = operation;
  if (!detail.empty()) message += ": " + detail;
  message += std::string(": ") + strerror(err) + " (" + errnoName(err) + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", errnoName(err));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", operation);
  return error;
}

}  // namespace errors
