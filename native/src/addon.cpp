// Module entry: initialises the llama.cpp backend once per process, sets up
// per-environment state, registers the exports listed below, and frees every
// native handle when the environment (main thread or worker) shuts down.
#include "addon_context.h"
#include "addon_model.h"
#include "addon_state.h"
#include "amx_bf16_matmul.h"
#include "avx2_matmul.h"
#include "avx512_bf16_matmul.h"
#include "avx512_f32_matmul.h"
#include "backend_registry.h"
#include "cpu_compute_buffer.h"
#include "ggml-backend.h"
#include "llama.h"
#include "log_capture.h"
#include "model_load_worker.h"
#include "neon_matmul.h"
#include "quantize_worker.h"
#include "rpc_backend.h"
#include "rpc_server_process.h"
#include "throw_check_worker.h"
#include "weight_product_hook.h"

#include <napi.h>

#include <mutex>
#include <string>
#include <type_traits>

AddonState & addon_state(Napi::Env env) {
    return *env.GetInstanceData<AddonState>();
}

Napi::Error addon_error(Napi::Env env, const char * code, const std::string & message) {
    Napi::Error error = Napi::Error::New(env, message);
    error.Set("code", Napi::String::New(env, code));
    return error;
}

namespace {
// A JS function of no arguments that returns what `read()` returns: a string, a boolean or a number. For the
// process-wide facts and diagnostic counters below.
template <auto read> Napi::Value getter(const Napi::CallbackInfo & info) {
    const auto value = read();
    using Value      = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<Value, const char *>) {
        return Napi::String::New(info.Env(), value);
    } else if constexpr (std::is_same_v<Value, bool>) {
        return Napi::Boolean::New(info.Env(), value);
    } else {
        return Napi::Number::New(info.Env(), static_cast<double>(value));
    }
}

Napi::Value backend_devices(const Napi::CallbackInfo & info) {
    Napi::Env    env = info.Env();
    const size_t n   = ggml_backend_dev_count();
    Napi::Array  out = Napi::Array::New(env, n);
    for (size_t i = 0; i < n; i++) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        Napi::Object       d   = Napi::Object::New(env);
        d.Set("name", ggml_backend_dev_name(dev));
        d.Set("description", ggml_backend_dev_description(dev));
        const char * type = "cpu";
        switch (ggml_backend_dev_type(dev)) {
            case GGML_BACKEND_DEVICE_TYPE_GPU:
                type = "gpu";
                break;
            case GGML_BACKEND_DEVICE_TYPE_IGPU:
                type = "igpu";
                break;
            case GGML_BACKEND_DEVICE_TYPE_ACCEL:
                type = "accel";
                break;
            default:
                break;
        }
        d.Set("type", type);
        d.Set("backend", ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev)));
        size_t free_mem = 0, total_mem = 0;
        ggml_backend_dev_memory(dev, &free_mem, &total_mem);
        d.Set("memoryTotal", Napi::Number::New(env, (double) total_mem));
        d.Set("memoryFree", Napi::Number::New(env, (double) free_mem));
        out.Set(i, d);
    }
    return out;
}

void teardown(AddonState * state) {
    state->tearing_down = true;
    for (AddonContext * ctx : std::set<AddonContext *>(state->contexts)) {
        ctx->free_native();
    }
    for (AddonModel * model : std::set<AddonModel *>(state->models)) {
        model->free_native();
    }
}
}  // namespace

// The external memory V8 counts for this isolate (napi_adjust_external_memory with a change of 0).
Napi::Value external_memory(const Napi::CallbackInfo & info) {
    int64_t total = 0;
    napi_adjust_external_memory(info.Env(), 0, &total);
    return Napi::Number::New(info.Env(), (double) total);
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
    static std::once_flag backend_once;
    std::call_once(backend_once, [] {
        log_capture_install();
        llama_backend_init();
        llama_set_cpu_compute_buffer_type(cpu_compute_buffer_type());
        if (weight_product_hook_useful()) {
            llama_set_mul_mat_hook(weight_product_hook);
            llama_set_weight_buft_filter(weight_buft_filter);
        }
    });

    auto * state = new AddonState();
    env.SetInstanceData<AddonState>(state);
    state->model_constructor   = Napi::Persistent(AddonModel::define_class(env));
    state->context_constructor = Napi::Persistent(AddonContext::define_class(env));
    env.AddCleanupHook([state] { teardown(state); });

    // loadModel(path, options, abortFlag, onProgress?): Promise<AddonModel>
    exports.Set("loadModel", Napi::Function::New(env, load_model, "loadModel"));
    // quantize(input, output, options, onProgress?): Promise<void>
    exports.Set("quantize", Napi::Function::New(env, quantize_model, "quantize"));
    // systemInfo(): string
    exports.Set("systemInfo", Napi::Function::New(env, getter<llama_print_system_info>, "systemInfo"));
    // amxBf16(): boolean, BF16 weight products run on AMX tiles
    exports.Set("amxBf16", Napi::Function::New(env, getter<amx_bf16_available>, "amxBf16"));
    // bf16Kernel(): "amx" | "avx512-bf16" | "avx512-fma" | "avx2-fma" | "neon-fma" | "ggml", the kernel BF16 weight products on the CPU run on
    exports.Set("bf16Kernel", Napi::Function::New(env, getter<bf16_kernel_name>, "bf16Kernel"));
    // avx512Bf16Products(): number (diagnostics: weight products the AVX-512 BF16 kernel has run)
    exports.Set("avx512Bf16Products", Napi::Function::New(env, getter<avx512_bf16_products_run>, "avx512Bf16Products"));
    // f32Kernel(): "avx512-f32" | "avx2-f32" | "neon-f32" | "ggml", the kernel F32 weight products on the CPU run on
    exports.Set("f32Kernel", Napi::Function::New(env, getter<f32_kernel_name>, "f32Kernel"));
    // avx512F32Products(): number (diagnostics: weight products the AVX-512 F32 kernel has run)
    exports.Set("avx512F32Products", Napi::Function::New(env, getter<avx512_f32_products_run>, "avx512F32Products"));
    // f16Kernel(): "avx512-f16" | "avx2-f16" | "neon-f16" | "ggml", the kernel F16 weight products on the CPU run on
    exports.Set("f16Kernel", Napi::Function::New(env, getter<f16_kernel_name>, "f16Kernel"));
    // avx512F16Products(): number (diagnostics: weight products the AVX-512 kernel has run on F16 weights)
    exports.Set("avx512F16Products", Napi::Function::New(env, getter<avx512_f16_products_run>, "avx512F16Products"));
    // avx2Products(): number (diagnostics: weight products the AVX2 kernel has run, all weight types)
    exports.Set("avx2Products", Napi::Function::New(env, getter<avx2_products_run>, "avx2Products"));
    // neonProducts(): number (diagnostics: weight products the NEON kernel has run, all weight types)
    exports.Set("neonProducts", Napi::Function::New(env, getter<neon_products_run>, "neonProducts"));
    // misalignedWeightProducts(): number (diagnostics: weight products whose rows were off cache lines, staged)
    exports.Set("misalignedWeightProducts",
                Napi::Function::New(env, getter<misaligned_weight_products>, "misalignedWeightProducts"));
    // copiedWeightProducts(): number (diagnostics: weight products whose rows collide in L1's sets, copied)
    exports.Set("copiedWeightProducts",
                Napi::Function::New(env, getter<copied_weight_products>, "copiedWeightProducts"));
    // avx512Bf16FmaProducts(): number (diagnostics: BF16 weight products the AVX-512 FMA kernel has run)
    exports.Set("avx512Bf16FmaProducts",
                Napi::Function::New(env, getter<avx512_bf16_fma_products_run>, "avx512Bf16FmaProducts"));
    // computeAlignment(): number, the byte alignment of the CPU backend's intermediate tensors (64, or ggml's 32)
    exports.Set("computeAlignment", Napi::Function::New(env, getter<cpu_compute_alignment>, "computeAlignment"));
    // alignedComputeBuffers(): number (diagnostics: CPU compute buffers allocated with that alignment)
    exports.Set("alignedComputeBuffers",
                Napi::Function::New(env, getter<cpu_compute_buffers_allocated>, "alignedComputeBuffers"));
    // backendDevices(): NativeDevice[]
    exports.Set("backendDevices", Napi::Function::New(env, backend_devices, "backendDevices"));
    // dynamicBackends(): boolean
    exports.Set("dynamicBackends", Napi::Function::New(env, dynamic_backends, "dynamicBackends"));
    // loadBackends(dir: string): void
    exports.Set("loadBackends", Napi::Function::New(env, load_backends, "loadBackends"));
    // loadBackendLibrary(path: string): { name?: string, error?: string }
    exports.Set("loadBackendLibrary", Napi::Function::New(env, load_backend_library, "loadBackendLibrary"));
    // backendRegistries(): string[]
    exports.Set("backendRegistries", Napi::Function::New(env, backend_registries, "backendRegistries"));
    // rpcAddServer(endpoint: string): string[]
    exports.Set("rpcAddServer", Napi::Function::New(env, rpc_add_server, "rpcAddServer"));
    // rpcStartServer(endpoint: string, threads: number): Promise<void>
    exports.Set("rpcStartServer", Napi::Function::New(env, rpc_start_server, "rpcStartServer"));
    // rpcDetachStdout(): number
    exports.Set("rpcDetachStdout", Napi::Function::New(env, rpc_detach_stdout, "rpcDetachStdout"));
    // rpcListeningPort(host: string): number
    exports.Set("rpcListeningPort", Napi::Function::New(env, rpc_listening_port, "rpcListeningPort"));
    // cpuBackendLibrary(): string | null, the CPU backend variant ggml loaded
    exports.Set("cpuBackendLibrary", Napi::Function::New(env, cpu_backend_library, "cpuBackendLibrary"));
    // externalMemory(): number (diagnostics: the bytes V8 counts as external, KV caches included)
    exports.Set("externalMemory", Napi::Function::New(env, external_memory, "externalMemory"));
    // checkWorkerThrow(kind: "std" | "other"): Promise<never> (tests only: an exception on the pool thread)
    exports.Set("checkWorkerThrow", Napi::Function::New(env, check_worker_throw, "checkWorkerThrow"));
    exports.Set("AddonModel", state->model_constructor.Value());
    exports.Set("AddonContext", state->context_constructor.Value());
    return exports;
}

NODE_API_MODULE(llama_reward, init)
