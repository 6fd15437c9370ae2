// F32, F16 and BF16 weight x F32 activation products on AVX2 FMA (x86-64 CPUs
// with AVX2, FMA and F16C but no AVX-512: most Intel laptop and desktop CPUs,
// AMD Zen 1-3): the tiled product of avx512_f32_matmul.h with 256-bit vectors
// (tiled_gemm.h: tiles of 3 activation rows x 4 weight rows). ggml's own F16
// and BF16 products on these CPUs convert both operands at every
// multiply-add and round the activations to the weights' type; this one
// keeps the activations in F32 and widens the weights once per pass.
// Compiled into x86-64 Linux and Windows (MinGW) builds; its instructions sit in functions
// of their own and run only where CPUID reports AVX2, FMA and F16C.
#pragma once

#include <cstdint>

struct ggml_context;
struct ggml_tensor;

// True when this build has the kernel, the CPU and the operating system support AVX2, FMA and F16C, and
// LLAMA_REWARD_AVX2 is not "0". Cached after the first call. weight_product_hook.cpp sends weights to it on
// CPUs without AVX-512 (or, with LLAMA_REWARD_AVX2=1, on any: how it is tested on AVX-512 CPUs).
bool avx2_kernel_available();

// True when LLAMA_REWARD_AVX2 is "1": the kernel takes F32, F16 and BF16 weights even where an AVX-512 kernel
// could.
bool avx2_kernel_preferred();

// Whether the kernel is available and multiplies the weight w, wherever it lies: a 2-D F32, F16 or BF16 weight
// whose row length is a multiple of 8 and row count a multiple of 8.
bool avx2_takes_weight(const ggml_tensor * w);

// The graph node for w x cur, or nullptr to let llama.cpp build its ggml_mul_mat: taken for such a weight in a
// CPU buffer, times an F32 activation.
ggml_tensor * avx2_mul_mat(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur);

// Weight products this process has computed with the kernel, all weight types together (graph nodes run,
// not built): how tests tell that it ran.
uint64_t avx2_products_run();
