// The one mul_mat hook llama-reward installs in llama.cpp: it sends each
// dense weight product to the kernel of its weight type that this CPU can
// run (amx_bf16_matmul.h, avx512_bf16_matmul.h, avx512_f32_matmul.h), and
// every other product back to llama.cpp's ggml_mul_mat.
#pragma once

#include <cstdint>

struct ggml_context;
struct ggml_tensor;

// Called when a device outside ggml's device list can take part in a model's graphs (an RPC server added).
void note_offload_device_added();

// True while this process has no device that could take a graph node off the CPU: no GPU in ggml's device
// list, no RPC server added. Only then may a kernel's graph node leave its weight out of the node's sources
// (avx512_gemm.h: F16 weights in ggml's AMX buffer), since ggml's scheduler places a node without a weight
// source by its neighbours, and an RPC backend accepts any node, llama-reward's own included.
bool cpu_only_process();

// Counts a weight product whose rows were off cache lines and were staged (avx512_gemm.h).
void count_misaligned_weight_product();

// Weight products this process has staged because their rows were off cache lines: how tests tell that
// the staging ran.
uint64_t misaligned_weight_products();

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
