// Dispatch of dense weight products by weight type. See weight_product_hook.h.
#include "weight_product_hook.h"

#include "amx_bf16_matmul.h"
#include "avx512_bf16_matmul.h"
#include "avx512_f32_matmul.h"
#include "ggml.h"

bool weight_product_hook_useful() {
    return amx_bf16_available() || avx512_bf16_available() || avx512_f32_available() || avx512_f16_available();
}

ggml_tensor * weight_product_hook(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur) {
    switch (w->type) {
        case GGML_TYPE_BF16:
            return amx_bf16_available() ? amx_bf16_mul_mat(ctx, w, cur) : avx512_bf16_mul_mat(ctx, w, cur);
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
    return avx512_bf16_available() ? "avx512-bf16" : "ggml";
}

const char * f32_kernel_name() {
    return avx512_f32_available() ? "avx512-f32" : "ggml";
}

const char * f16_kernel_name() {
    return avx512_f16_available() ? "avx512-f16" : "ggml";
}
