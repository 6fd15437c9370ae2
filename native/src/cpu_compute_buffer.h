// The CPU backend's compute buffer type that llama-reward installs in llama.cpp
// (llama_set_cpu_compute_buffer_type): ggml's CPU buffer type with tensors
// placed at 64-byte boundaries instead of 32, so no intermediate tensor starts
// in the middle of a cache line. ggml's AMX int8 kernel adds partial sums into
// its output rows once per block of K, and a row 32 bytes off a line boundary
// split every one of those loads and stores in two (docs/performance.md).
#pragma once

#include "ggml-backend.h"

#include <cstddef>
#include <cstdint>

// The buffer type, or nullptr when LLAMA_REWARD_ALIGNED_COMPUTE=0 keeps ggml's own.
ggml_backend_buffer_type_t cpu_compute_buffer_type();

// The alignment of the CPU backend's intermediate tensors: 64, or ggml's 32 when turned off.
size_t cpu_compute_alignment();

// Diagnostics: the buffers allocated through the buffer type so far.
uint64_t cpu_compute_buffers_allocated();
