// BF16 weight x F32 activation products on AVX-512 BF16 dot products
// (vdpbf16ps; AMD Zen 4 and later, Intel Cooper Lake, Sapphire Rapids with
// the AMX kernel off): a graph-building hook for llama.cpp's dense weight
// products, the counterpart of amx_bf16_matmul.h for CPUs without AMX.
// Compiled into x86-64 Linux and Windows (MinGW) builds; its instructions sit in functions
// of their own and run only where CPUID reports AVX-512 BF16.
#pragma once

#include <cstdint>

struct ggml_context;
struct ggml_tensor;

// True when this build has the kernel, the CPU and the operating system
// support AVX-512 F/BW/VL/DQ and AVX512_BF16, and LLAMA_REWARD_AVX512_BF16
// is not "0". Cached after the first call.
bool avx512_bf16_available();

// Whether the kernel is available and multiplies the weight w, wherever it
// lies: a 2-D BF16 weight whose row length is a multiple of 32 and row count
// a multiple of 8.
bool avx512_bf16_takes_weight(const ggml_tensor * w);

// The graph node for w x cur, or nullptr to let llama.cpp build its
// ggml_mul_mat: taken for such a weight in a CPU buffer, times an F32
// activation.
ggml_tensor * avx512_bf16_mul_mat(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur);

// Weight products this process has computed with the kernel (graph nodes
// run, not built): how tests tell that it ran.
uint64_t avx512_bf16_products_run();
