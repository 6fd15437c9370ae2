// Dispatch of dense weight products by weight type. See weight_product_hook.h.
#include "weight_product_hook.h"

#include "amx_bf16_matmul.h"
#include "avx512_bf16_matmul.h"
#include "avx512_f32_matmul.h"
#include "ggml-backend.h"
#include "ggml.h"

#if defined(__x86_64__)
#    include "x86_cpu_features.h"
#endif

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace {

std::atomic<bool>     g_offload_device_added{ false };
std::atomic<uint64_t> g_misaligned_products{ 0 };

// Whether BF16 weights go to the AVX-512 FMA kernel (widened to F32) rather than the AVX-512 BF16 one
// (vdpbf16ps), where AMX does not take them. Without AVX-512 BF16 only the FMA kernel can. With it, on an
// Intel core the FMA kernel scored 1.23-1.31x the BF16 one, while on an AMD EPYC (Zen 4) ggml's vdpbf16ps
// kernel scored 1.8x its F16 multiply-add kernel, so AMD CPUs keep the BF16 kernel (docs/performance.md,
// "BF16 on AVX-512 FMA").
// LLAMA_REWARD_BF16_FMA=1 prefers the FMA kernel on any CPU; =0 switches it off (avx512_bf16_fma_available).
bool bf16_on_fma() {
    static const bool on_fma = [] {
        if (!avx512_bf16_fma_available()) {
            return false;
        }
        if (!avx512_bf16_available()) {
            return true;
        }
        const char * prefer = std::getenv("LLAMA_REWARD_BF16_FMA");
        if (prefer != nullptr && std::strcmp(prefer, "1") == 0) {
            return true;
        }
#if defined(__x86_64__)
        return x86_is_intel();
#else
        return false;
#endif
    }();
    return on_fma;
}

}  // namespace

void note_offload_device_added() {
    g_offload_device_added.store(true, std::memory_order_release);
}

bool cpu_only_process() {
    if (g_offload_device_added.load(std::memory_order_acquire)) {
        return false;
    }
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        const enum ggml_backend_dev_type type = ggml_backend_dev_type(ggml_backend_dev_get(i));
        if (type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU) {
            return false;
        }
    }
    return true;
}

void count_misaligned_weight_product() {
    g_misaligned_products.fetch_add(1, std::memory_order_relaxed);
}

uint64_t misaligned_weight_products() {
    return g_misaligned_products.load(std::memory_order_relaxed);
}

bool weight_product_hook_useful() {
    return amx_bf16_available() || avx512_bf16_available() || avx512_f32_available() || avx512_f16_available() ||
           avx512_bf16_fma_available();
}

ggml_tensor * weight_product_hook(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur) {
    switch (w->type) {
        case GGML_TYPE_BF16:
            if (amx_bf16_available()) {
                return amx_bf16_mul_mat(ctx, w, cur);
            }
            return bf16_on_fma() ? avx512_f32_mul_mat(ctx, w, cur) : avx512_bf16_mul_mat(ctx, w, cur);
        case GGML_TYPE_F32:
        case GGML_TYPE_F16:
            return avx512_f32_mul_mat(ctx, w, cur);
        default:
            return nullptr;
    }
}

const char * bf16_kernel_name() {
    if (amx_bf16_available()) {
        return "amx";
    }
    if (bf16_on_fma()) {
        return "avx512-fma";
    }
    return avx512_bf16_available() ? "avx512-bf16" : "ggml";
}

const char * f32_kernel_name() {
    return avx512_f32_available() ? "avx512-f32" : "ggml";
}

const char * f16_kernel_name() {
    return avx512_f16_available() ? "avx512-f16" : "ggml";
}
