// Exports that load and list ggml backends at run time (see backend_registry.cpp).
#pragma once

#include <napi.h>

// dynamicBackends(): boolean
Napi::Value dynamic_backends(const Napi::CallbackInfo & info);
// loadBackends(dir: string): void
Napi::Value load_backends(const Napi::CallbackInfo & info);
// loadBackendLibrary(path: string): { name?: string, error?: string }
Napi::Value load_backend_library(const Napi::CallbackInfo & info);
// backendRegistries(): string[]
Napi::Value backend_registries(const Napi::CallbackInfo & info);
// cpuBackendLibrary(): string | null, the file (UTF-8 path) of the CPU backend variant ggml loaded (null when compiled in or unknown)
Napi::Value cpu_backend_library(const Napi::CallbackInfo & info);
