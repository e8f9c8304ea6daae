// hostFacts(): what this kernel offers the launcher.

#pragma once

#include <napi.h>

namespace host {

Napi::Value HostFacts(const Napi::CallbackInfo& info);

}  // namespace host
