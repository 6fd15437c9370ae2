// BF16 weight x F32 activation products on Intel AMX tiles (x86-64 Linux):
// a graph-building hook for llama.cpp's dense weight products, used where
// the weight lives in CPU memory. llama.cpp's own CPU backend has AMX
// kernels for quantized weights only; BF16 weights otherwise run on AVX-512
// BF16 dot products at a fraction of the tiles' throughput.
#pragma once

struct ggml_context;
struct ggml_tensor;

// True when this build has the kernel, the CPU has AMX-TILE and AMX-BF16,
// and the kernel granted this process the tile state. Cached after the
// first call.
bool amx_bf16_available();

// Whether the kernel is available and multiplies the weight w, wherever it
// lies: a 2-D BF16 weight whose row length and row count are multiples of 32.
bool amx_bf16_takes_weight(const ggml_tensor * w);

// The graph node for w x cur, or nullptr to let llama.cpp build its
// ggml_mul_mat: taken for such a weight in a CPU buffer, times an F32
// activation.
ggml_tensor * amx_bf16_mul_mat(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur);
