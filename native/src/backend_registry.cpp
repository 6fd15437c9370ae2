// ggml backends chosen at run time. An addon built against prebuilt ggml
// (LLAMA_REWARD_PREBUILT_GGML: node-llama-cpp's libggml-base.so and
// libggml.so, same llama.cpp release) has no backend compiled in; the JS
// loader hands it the folder of GGML_BACKEND_DL libraries next to the addon
// (ggml picks the best libggml-cpu-<variant>.so for this CPU, loads Vulkan
// when libvulkan.so.1 is present) and any CUDA library it found. Backends
// register once per process, whatever the number of worker threads. Which
// CPU variant ggml chose is read back from the library holding its registry.
#include "backend_registry.h"

#include "ggml-backend.h"
#include "log_capture.h"

#if defined(LLAMA_REWARD_PREBUILT_GGML) && !defined(_WIN32)
#    include <dlfcn.h>
#endif

#include <map>
#include <mutex>
#include <set>
#include <string>

namespace {
std::mutex                         g_mutex;
std::set<std::string>              g_loaded_dirs;
std::map<std::string, std::string> g_loaded_files;  // path -> registry name

std::string string_arg(const Napi::CallbackInfo & info, const char * signature) {
    if (info.Length() < 1 || !info[0].IsString()) {
        throw Napi::TypeError::New(info.Env(), signature);
    }
    return info[0].As<Napi::String>().Utf8Value();
}
}  // namespace

Napi::Value dynamic_backends(const Napi::CallbackInfo & info) {
#ifdef LLAMA_REWARD_PREBUILT_GGML
    return Napi::Boolean::New(info.Env(), true);
#else
    return Napi::Boolean::New(info.Env(), false);
#endif
}

Napi::Value load_backends(const Napi::CallbackInfo & info) {
    const std::string dir = string_arg(info, "loadBackends(dir: string)");
#ifdef LLAMA_REWARD_PREBUILT_GGML
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_loaded_dirs.insert(dir).second) {
        ggml_backend_load_all_from_path(dir.c_str());
    }
#endif
    return info.Env().Undefined();
}

Napi::Value load_backend_library(const Napi::CallbackInfo & info) {
    Napi::Env         env  = info.Env();
    const std::string path = string_arg(info, "loadBackendLibrary(path: string)");
    Napi::Object      out  = Napi::Object::New(env);
#ifdef LLAMA_REWARD_PREBUILT_GGML
    std::lock_guard<std::mutex> lock(g_mutex);
    auto                        it = g_loaded_files.find(path);
    if (it != g_loaded_files.end()) {
        out.Set("name", it->second);
        return out;
    }
    log_capture_clear();
    ggml_backend_reg_t reg = ggml_backend_load(path.c_str());
    if (reg != nullptr) {
        g_loaded_files[path] = ggml_backend_reg_name(reg);
        out.Set("name", ggml_backend_reg_name(reg));
    } else {
        std::string why = log_capture_take();
        out.Set("error", why.empty() ? std::string("ggml_backend_load failed") : why);
    }
#else
    out.Set("error", "this addon has its backends compiled in and cannot load backend libraries");
#endif
    return out;
}

Napi::Value backend_registries(const Napi::CallbackInfo & info) {
    Napi::Env    env = info.Env();
    const size_t n   = ggml_backend_reg_count();
    Napi::Array  out = Napi::Array::New(env, n);
    for (size_t i = 0; i < n; i++) {
        out.Set(i, ggml_backend_reg_name(ggml_backend_reg_get(i)));
    }
    return out;
}

Napi::Value cpu_backend_library(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
#if defined(LLAMA_REWARD_PREBUILT_GGML) && !defined(_WIN32)
    // the CPU registry is a static object inside the libggml-cpu-<variant>.so that ggml chose
    ggml_backend_reg_t reg = ggml_backend_reg_by_name("CPU");
    Dl_info            where{};
    if (reg != nullptr && dladdr(static_cast<const void *>(reg), &where) != 0 && where.dli_fname != nullptr) {
        return Napi::String::New(env, where.dli_fname);
    }
#endif
    return env.Null();
}
