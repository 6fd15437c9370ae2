// F32, F16 and BF16 weight x F32 activation products on Arm NEON (AArch64:
// Graviton, Ampere, Apple silicon under Linux, Raspberry Pi 5): the tiled
// product of tiled_gemm.h on 128-bit vectors, with tiles of 3 activation rows
// x 8 weight rows. ggml's own products on these CPUs accumulate F16 weights
// in half precision (its F16 multiply-add kernels on cores with FP16 vector
// arithmetic) and multiply BF16 weights one value at a time (it has no NEON
// path for them); this kernel keeps the activations in F32, widens the weights
// to F32 exactly and sums in F32 in a fixed order.
// Compiled into AArch64 Linux and Windows (non-MSVC) builds; NEON is part of
// the AArch64 baseline, so it runs on every CPU such a build runs on.
#pragma once

#include <cstdint>

struct ggml_context;
struct ggml_tensor;

// True when this build has the kernel and LLAMA_REWARD_NEON is not "0". Cached after the first call.
bool neon_kernel_available();

// Whether the kernel is available and multiplies the weight w, wherever it lies: a 2-D F32, F16 or BF16 weight
// whose row length is a multiple of 4 and row count a multiple of 8.
bool neon_takes_weight(const ggml_tensor * w);

// The graph node for w x cur, or nullptr to let llama.cpp build its ggml_mul_mat: taken for such a weight in a
// CPU buffer, times an F32 activation.
ggml_tensor * neon_mul_mat(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur);

// Weight products this process has computed with the kernel, all weight types together (graph nodes run,
// not built): how tests tell that it ran.
uint64_t neon_products_run();
