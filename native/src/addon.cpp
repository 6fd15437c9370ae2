// Module entry: initialises the llama.cpp backend once per process, sets up
// per-environment state, registers the exports listed below, and frees every
// native handle when the environment (main thread or worker) shuts down.
#include "addon_context.h"
#include "addon_model.h"
#include "addon_state.h"
#include "amx_bf16_matmul.h"
#include "avx512_bf16_matmul.h"
#include "avx512_f32_matmul.h"
#include "backend_registry.h"
#include "cpu_compute_buffer.h"
#include "ggml-backend.h"
#include "llama.h"
#include "log_capture.h"
#include "model_load_worker.h"
#include "quantize_worker.h"
#include "rpc_backend.h"
#include "rpc_server_process.h"
#include "throw_check_worker.h"
#include "weight_product_hook.h"

#include <napi.h>

#include <mutex>
#include <string>

AddonState & addon_state(Napi::Env env) {
    return *env.GetInstanceData<AddonState>();
}

Napi::Error addon_error(Napi::Env env, const char * code, const std::string & message) {
    Napi::Error error = Napi::Error::New(env, message);
    error.Set("code", Napi::String::New(env, code));
    return error;
}

namespace {
Napi::Value system_info(const Napi::CallbackInfo & info) {
    return Napi::String::New(info.Env(), llama_print_system_info());
}

Napi::Value amx_bf16(const Napi::CallbackInfo & info) {
    return Napi::Boolean::New(info.Env(), amx_bf16_available());
}

Napi::Value bf16_kernel(const Napi::CallbackInfo & info) {
    return Napi::String::New(info.Env(), bf16_kernel_name());
}

Napi::Value bf16_kernel_products(const Napi::CallbackInfo & info) {
    return Napi::Number::New(info.Env(), (double) avx512_bf16_products_run());
}

Napi::Value f32_kernel(const Napi::CallbackInfo & info) {
    return Napi::String::New(info.Env(), f32_kernel_name());
}

Napi::Value f16_kernel(const Napi::CallbackInfo & info) {
    return Napi::String::New(info.Env(), f16_kernel_name());
}

Napi::Value f16_kernel_products(const Napi::CallbackInfo & info) {
    return Napi::Number::New(info.Env(), (double) avx512_f16_products_run());
}

Napi::Value bf16_fma_products(const Napi::CallbackInfo & info) {
    return Napi::Number::New(info.Env(), (double) avx512_bf16_fma_products_run());
}

Napi::Value misaligned_products(const Napi::CallbackInfo & info) {
    return Napi::Number::New(info.Env(), (double) misaligned_weight_products());
}

Napi::Value compute_alignment(const Napi::CallbackInfo & info) {
    return Napi::Number::New(info.Env(), (double) cpu_compute_alignment());
}

Napi::Value compute_buffers(const Napi::CallbackInfo & info) {
    return Napi::Number::New(info.Env(), (double) cpu_compute_buffers_allocated());
}

Napi::Value f32_kernel_products(const Napi::CallbackInfo & info) {
    return Napi::Number::New(info.Env(), (double) avx512_f32_products_run());
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
    exports.Set("systemInfo", Napi::Function::New(env, system_info, "systemInfo"));
    // amxBf16(): boolean, BF16 weight products run on AMX tiles
    exports.Set("amxBf16", Napi::Function::New(env, amx_bf16, "amxBf16"));
    // bf16Kernel(): "amx" | "avx512-bf16" | "avx512-fma" | "ggml", the kernel BF16 weight products on the CPU run on
    exports.Set("bf16Kernel", Napi::Function::New(env, bf16_kernel, "bf16Kernel"));
    // avx512Bf16Products(): number (diagnostics: weight products the AVX-512 BF16 kernel has run)
    exports.Set("avx512Bf16Products", Napi::Function::New(env, bf16_kernel_products, "avx512Bf16Products"));
    // f32Kernel(): "avx512-f32" | "ggml", the kernel F32 weight products on the CPU run on
    exports.Set("f32Kernel", Napi::Function::New(env, f32_kernel, "f32Kernel"));
    // avx512F32Products(): number (diagnostics: weight products the AVX-512 F32 kernel has run)
    exports.Set("avx512F32Products", Napi::Function::New(env, f32_kernel_products, "avx512F32Products"));
    // f16Kernel(): "avx512-f16" | "ggml", the kernel F16 weight products on the CPU run on
    exports.Set("f16Kernel", Napi::Function::New(env, f16_kernel, "f16Kernel"));
    // avx512F16Products(): number (diagnostics: weight products the AVX-512 kernel has run on F16 weights)
    exports.Set("avx512F16Products", Napi::Function::New(env, f16_kernel_products, "avx512F16Products"));
    // misalignedWeightProducts(): number (diagnostics: weight products whose rows were off cache lines, staged)
    exports.Set("misalignedWeightProducts", Napi::Function::New(env, misaligned_products, "misalignedWeightProducts"));
    // avx512Bf16FmaProducts(): number (diagnostics: BF16 weight products the AVX-512 FMA kernel has run)
    exports.Set("avx512Bf16FmaProducts", Napi::Function::New(env, bf16_fma_products, "avx512Bf16FmaProducts"));
    // computeAlignment(): number, the byte alignment of the CPU backend's intermediate tensors (64, or ggml's 32)
    exports.Set("computeAlignment", Napi::Function::New(env, compute_alignment, "computeAlignment"));
    // alignedComputeBuffers(): number (diagnostics: CPU compute buffers allocated with that alignment)
    exports.Set("alignedComputeBuffers", Napi::Function::New(env, compute_buffers, "alignedComputeBuffers"));
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
