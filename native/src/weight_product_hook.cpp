// Dispatch of dense weight products by weight type. See weight_product_hook.h.
#include "weight_product_hook.h"

#include "amx_bf16_matmul.h"
#include "avx2_matmul.h"
#include "avx512_bf16_matmul.h"
#include "avx512_f32_matmul.h"
#include "ggml-backend.h"
#include "ggml.h"
#include "kernel_switch.h"
#include "neon_matmul.h"

#if defined(__x86_64__)
#    include "x86_cpu_features.h"
#endif

#include <atomic>
#include <cstring>

namespace {

std::atomic<uint64_t> g_misaligned_products{ 0 };
// weight products copied because their rows collide in L1's sets
std::atomic<uint64_t> g_copied_products{ 0 };

// Whether BF16 weights go to the AVX-512 FMA kernel (widened to F32) rather than the AVX-512 BF16 one
// (vdpbf16ps), where AMX does not take them. Without AVX-512 BF16 only the FMA kernel can. With it, on an
// Intel core the FMA kernel scored 1.23-1.31x the BF16 one, while on an AMD EPYC (Zen 4) ggml's vdpbf16ps
// kernel scored 1.8x its F16 multiply-add kernel, so AMD CPUs keep the BF16 kernel (docs/performance.md,
// "BF16 on AVX-512 FMA").
// LLAMA_REWARD_BF16_FMA=1 prefers the FMA kernel on any CPU; =0 switches it off (avx512_bf16_fma_available).
[[maybe_unused]] bool bf16_on_fma() {  // x86-64 only
    static const bool on_fma = [] {
        if (!avx512_bf16_fma_available()) {
            return false;
        }
        if (!avx512_bf16_available()) {
            return true;
        }
        if (kernel_preferred("LLAMA_REWARD_BF16_FMA")) {
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

// Whether F32, F16 and BF16 weights go to the AVX2 kernel: on CPUs without AVX-512 (or in a build without the
// AVX-512 kernels), or when LLAMA_REWARD_AVX2=1 asks for it (for tests and A/B comparisons on AVX-512 CPUs). The
// AVX-512 kernels' switches (LLAMA_REWARD_AVX512_F32=0, ...) give their weights back to ggml, not to this kernel.
bool on_avx2() {
#if defined(__x86_64__)
    static const bool avx2 = avx2_kernel_available() && (avx2_kernel_preferred() || !x86_has_avx512(/* bf16 */ false) ||
                                                         !avx512_fma_kernel_built());
    return avx2;
#else
    return false;
#endif
}

// The kernel that multiplies weights of `type` on this CPU.
enum class Kernel { kNone, kAmxBf16, kAvx512Bf16, kAvx512Fma, kAvx2, kNeon };

Kernel kernel_for(ggml_type type) {
#if defined(__aarch64__)
    switch (type) {
        case GGML_TYPE_BF16:
        case GGML_TYPE_F32:
        case GGML_TYPE_F16:
            return neon_kernel_available() ? Kernel::kNeon : Kernel::kNone;
        default:
            return Kernel::kNone;
    }
#else
    switch (type) {
        case GGML_TYPE_BF16:
            if (amx_bf16_available()) {
                return Kernel::kAmxBf16;
            }
            if (on_avx2()) {
                return Kernel::kAvx2;
            }
            return bf16_on_fma() ? Kernel::kAvx512Fma : Kernel::kAvx512Bf16;
        case GGML_TYPE_F32:
        case GGML_TYPE_F16:
            return on_avx2() ? Kernel::kAvx2 : Kernel::kAvx512Fma;
        default:
            return Kernel::kNone;
    }
#endif
}

// Whether the kernel for w's type multiplies w (its type, shape and layout; not yet where it lies).
bool kernel_takes_weight(const ggml_tensor * w) {
    switch (kernel_for(w->type)) {
        case Kernel::kAmxBf16:
            return amx_bf16_takes_weight(w);
        case Kernel::kAvx512Bf16:
            return avx512_bf16_takes_weight(w);
        case Kernel::kAvx512Fma:
            return avx512_f32_takes_weight(w);
        case Kernel::kAvx2:
            return avx2_takes_weight(w);
        case Kernel::kNeon:
            return neon_takes_weight(w);
        default:
            return false;
    }
}

}  // namespace

void count_misaligned_weight_product() {
    g_misaligned_products.fetch_add(1, std::memory_order_relaxed);
}

uint64_t misaligned_weight_products() {
    return g_misaligned_products.load(std::memory_order_relaxed);
}

void count_copied_weight_product() {
    g_copied_products.fetch_add(1, std::memory_order_relaxed);
}

uint64_t copied_weight_products() {
    return g_copied_products.load(std::memory_order_relaxed);
}

bool weight_product_hook_useful() {
    return amx_bf16_available() || avx512_bf16_available() || avx512_f32_available() || avx512_f16_available() ||
           avx512_bf16_fma_available() || avx2_kernel_available() || neon_kernel_available();
}

ggml_tensor * weight_product_hook(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur) {
    switch (kernel_for(w->type)) {
        case Kernel::kAmxBf16:
            return amx_bf16_mul_mat(ctx, w, cur);
        case Kernel::kAvx512Bf16:
            return avx512_bf16_mul_mat(ctx, w, cur);
        case Kernel::kAvx512Fma:
            return avx512_f32_mul_mat(ctx, w, cur);
        case Kernel::kAvx2:
            return avx2_mul_mat(ctx, w, cur);
        case Kernel::kNeon:
            return neon_mul_mat(ctx, w, cur);
        default:
            return nullptr;
    }
}

bool weight_buft_filter(const ggml_tensor * w, ggml_op op, ggml_backend_buffer_type_t buft) {
    // the classifier head (cls.*) is multiplied by ggml_mul_mat in llama.cpp's pooling, never through the hook
    if (op != GGML_OP_MUL_MAT || ggml_backend_buft_is_host(buft) || std::strncmp(ggml_get_name(w), "cls", 3) == 0) {
        return true;
    }
    ggml_backend_dev_t dev = ggml_backend_buft_get_device(buft);
    if (dev == nullptr || ggml_backend_dev_type(dev) != GGML_BACKEND_DEVICE_TYPE_CPU) {
        return true;
    }
    return !kernel_takes_weight(w);
}

const char * bf16_kernel_name() {
    switch (kernel_for(GGML_TYPE_BF16)) {
        case Kernel::kAmxBf16:
            return "amx";
        case Kernel::kAvx2:
            return "avx2-fma";
        case Kernel::kAvx512Fma:
            return "avx512-fma";
        case Kernel::kNeon:
            return "neon-fma";
        default:
            return avx512_bf16_available() ? "avx512-bf16" : "ggml";
    }
}

// The name of the kernel that multiplies F32 or F16 weights (kernel_for falls back to the AVX-512 FMA kernel, which
// runs only where that type's switch and the CPU allow: avx512_on).
static const char * widening_kernel_name(ggml_type    type,
                                         const char * neon,
                                         const char * avx2,
                                         const char * avx512,
                                         bool         avx512_on) {
    switch (kernel_for(type)) {
        case Kernel::kNeon:
            return neon;
        case Kernel::kAvx2:
            return avx2;
        case Kernel::kAvx512Fma:
            return avx512_on ? avx512 : "ggml";
        default:
            return "ggml";
    }
}

const char * f32_kernel_name() {
    return widening_kernel_name(GGML_TYPE_F32, "neon-f32", "avx2-f32", "avx512-f32", avx512_f32_available());
}

const char * f16_kernel_name() {
    return widening_kernel_name(GGML_TYPE_F16, "neon-f16", "avx2-f16", "avx512-f16", avx512_f16_available());
}
