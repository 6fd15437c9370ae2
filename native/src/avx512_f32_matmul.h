// F32, F16 and BF16 weight x F32 activation products on AVX-512 FMA (x86-64 CPUs
// with AVX-512 F/BW/VL/DQ: Intel Skylake-SP and later, AMD Zen 4 and later):
// a graph-building hook for llama.cpp's dense weight products. ggml's own F32
// and F16 products walk the whole activation matrix once per few weight rows,
// from L3 or memory once a step's activations outgrow L2, and its F16 product
// rounds the activations to F16 and converts both operands at every
// multiply-add; this one takes the activations in passes sized for L2 (or
// L3, for long rows: tiled_gemm.h), keeps them in F32, and widens F16 and BF16 weights once
// per pass. For BF16 weights it is one of two AVX-512 kernels: which one runs
// is weight_product_hook.cpp's choice.
// Compiled into x86-64 Linux and Windows (MinGW) builds; its instructions sit in functions
// of their own and run only where CPUID reports AVX-512.
#pragma once

#include <cstdint>

struct ggml_context;
struct ggml_tensor;

// True when this build has the kernel, the CPU and the operating system
// support AVX-512 F/BW/VL/DQ, and LLAMA_REWARD_AVX512_F32 (for F32 weights)
// or LLAMA_REWARD_AVX512_F16 (for F16 weights) is not "0". Cached after the
// first call.
bool avx512_f32_available();
bool avx512_f16_available();
// The same for BF16 weights, switched off by LLAMA_REWARD_BF16_FMA=0.
bool avx512_bf16_fma_available();

// True when this build has the kernel (its compiler could target AVX-512), whatever the CPU.
bool avx512_fma_kernel_built();

// Whether the kernel multiplies the weight w, wherever it lies: a 2-D F32, F16
// or BF16 weight whose row length is a multiple of 16 and row count a
// multiple of 8, of a type whose kernel is available.
bool avx512_f32_takes_weight(const ggml_tensor * w);

// The graph node for w x cur, or nullptr to let llama.cpp build its
// ggml_mul_mat: taken for such a weight in a CPU buffer, times an F32
// activation.
ggml_tensor * avx512_f32_mul_mat(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur);

// Weight products this process has computed with the kernel, for F32, F16
// and BF16 weights (graph nodes run, not built): how tests tell that it ran.
uint64_t avx512_f32_products_run();
uint64_t avx512_f16_products_run();
uint64_t avx512_bf16_fma_products_run();
