// The one mul_mat hook llama-reward installs in llama.cpp: it sends each
// dense weight product to the kernel of its weight type that this CPU can
// run (amx_bf16_matmul.h, avx512_bf16_matmul.h, avx512_f32_matmul.h), and
// every other product back to llama.cpp's ggml_mul_mat.
#pragma once

struct ggml_context;
struct ggml_tensor;

// True when at least one of the kernels can run here, i.e. the hook is worth installing.
bool weight_product_hook_useful();

// The hook (llama_mul_mat_hook): the kernel's graph node for w x cur, or nullptr.
ggml_tensor * weight_product_hook(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur);

// The kernel that multiplies BF16 weights on the CPU: "amx", "avx512-bf16", "avx512-fma" or "ggml".
const char * bf16_kernel_name();

// The kernel that multiplies F32 weights on the CPU: "avx512-f32" or "ggml".
const char * f32_kernel_name();

// The kernel that multiplies F16 weights on the CPU: "avx512-f16" or "ggml".
const char * f16_kernel_name();
