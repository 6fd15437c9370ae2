// ggml backends chosen at run time. An addon built against prebuilt ggml
// (LLAMA_REWARD_PREBUILT_GGML: node-llama-cpp's libggml-base.so and
// libggml.so, same llama.cpp release) has no backend compiled in; the JS
// loader hands it the folder of GGML_BACKEND_DL libraries next to the addon
// (ggml picks the best libggml-cpu-<variant>.so for this CPU, loads Vulkan
// when libvulkan.so.1 is present) and any CUDA library it found. Backends
// register once per process, whatever the number of worker threads. Which
// CPU variant ggml chose is read back from the library holding its registry
// (dladdr on Linux and macOS, GetModuleHandleExW on Windows).
#include "backend_registry.h"

#include "ggml-backend.h"
#include "log_capture.h"

#if defined(LLAMA_REWARD_PREBUILT_GGML) && defined(_WIN32)
#    ifndef WIN32_LEAN_AND_MEAN
#        define WIN32_LEAN_AND_MEAN
#    endif
#    ifndef NOMINMAX
#        define NOMINMAX
#    endif
#    include <windows.h>
#elif defined(LLAMA_REWARD_PREBUILT_GGML)
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

#if defined(LLAMA_REWARD_PREBUILT_GGML)
namespace {
// The file of the shared library holding `address` (UTF-8), or "" when no loaded library holds it.
std::string library_holding(const void * address) {
#    ifdef _WIN32
    HMODULE module = nullptr;
    // UNCHANGED_REFCOUNT: a lookup only; ggml keeps the library loaded for the life of the process
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            static_cast<LPCWSTR>(address), &module)) {
        return "";
    }
    // GetModuleFileNameW truncates silently to the buffer; grow it up to the longest path Windows allows
    std::wstring wide(MAX_PATH, L'\0');
    for (;;) {
        const DWORD n = GetModuleFileNameW(module, wide.data(), static_cast<DWORD>(wide.size()));
        if (n == 0) {
            return "";
        }
        if (n < wide.size()) {
            wide.resize(n);
            break;
        }
        if (wide.size() >= 32768) {
            return "";
        }
        wide.resize(wide.size() * 2);
    }
    const int bytes =
        WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), nullptr, 0, nullptr, nullptr);
    if (bytes <= 0) {
        return "";
    }
    std::string utf8(static_cast<size_t>(bytes), '\0');
    WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), utf8.data(), bytes, nullptr, nullptr);
    return utf8;
#    else
    Dl_info where{};
    if (dladdr(address, &where) == 0 || where.dli_fname == nullptr) {
        return "";
    }
    return where.dli_fname;
#    endif
}
}  // namespace
#endif

Napi::Value cpu_backend_library(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
#if defined(LLAMA_REWARD_PREBUILT_GGML)
    // the CPU registry is a static object inside the libggml-cpu-<variant>.so / ggml-cpu-<variant>.dll ggml chose
    ggml_backend_reg_t reg = ggml_backend_reg_by_name("CPU");
    if (reg != nullptr) {
        const std::string file = library_holding(static_cast<const void *>(reg));
        if (!file.empty()) {
            return Napi::String::New(env, file);
        }
    }
#endif
    return env.Null();
}
