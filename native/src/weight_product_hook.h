// The one mul_mat hook llama-reward installs in llama.cpp: it sends each
// dense weight product to the kernel of its weight type that this CPU can
// run (amx_bf16_matmul.h, avx512_bf16_matmul.h, avx512_f32_matmul.h,
// avx2_matmul.h, neon_matmul.h), and
// every other product back to llama.cpp's ggml_mul_mat; and the filter that
// keeps the weights those kernels multiply in plain CPU memory when a model
// is loaded.
#pragma once

#include "ggml-backend.h"
#include "ggml.h"

#include <cstdint>

// Counts a weight product whose rows were off cache lines and were staged (tiled_gemm.h).
void count_misaligned_weight_product();

// Weight products this process has staged because their rows were off cache lines: how tests tell that
// the staging ran.
uint64_t misaligned_weight_products();

// Counts a weight product whose rows collide in L1's sets and were copied in at least one pass (tiled_gemm.h); not
// one whose rows were off cache lines (count_misaligned_weight_product) or widened.
void count_copied_weight_product();

// Weight products this process has copied because their rows collide in L1's sets: how tests tell that the copy
// ran.
uint64_t copied_weight_products();

// True when at least one of the kernels can run here, i.e. the hook is worth installing.
bool weight_product_hook_useful();

// The hook (llama_mul_mat_hook): the kernel's graph node for w x cur, or nullptr.
ggml_tensor * weight_product_hook(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur);

// The filter of where llama.cpp's model loader puts a weight (llama_weight_buft_filter): false for a CPU buffer type
// that is not host memory (ggml's AMX buffer, which on CPUs with AMX int8 would copy F16 weights for a kernel of
// ggml's) when a kernel of the hook multiplies the weight with `op`, so that weight stays in plain CPU memory
// (mapped from the file, with mmap) where the kernel's graph node can name it as a source.
bool weight_buft_filter(const ggml_tensor * w, ggml_op op, ggml_backend_buffer_type_t buft);

// The kernel that multiplies BF16 weights on the CPU: "amx", "avx512-bf16", "avx512-fma", "avx2-fma",
// "neon-fma" or "ggml".
const char * bf16_kernel_name();

// The kernel that multiplies F32 weights on the CPU: "avx512-f32", "avx2-f32", "neon-f32" or "ggml".
const char * f32_kernel_name();

// The kernel that multiplies F16 weights on the CPU: "avx512-f16", "avx2-f16", "neon-f16" or "ggml".
const char * f16_kernel_name();
