// What the mul_mat hook's kernels (amx_bf16_matmul.cpp, avx512_bf16_matmul.cpp,
// avx512_f32_matmul.cpp, avx2_matmul.cpp, neon_matmul.cpp) ask of ggml tensors: whether a weight lives in CPU
// memory in ggml's plain row layout, and where a row of an activation tensor
// starts.
#pragma once

#include "ggml-backend.h"
#include "ggml.h"

#include <cstdint>

// True for a weight in a host buffer of a CPU device (or of none: a model mapped from its file); false for
// GPU backends' host-visible buffers, which name their device.
inline bool weight_in_cpu_memory(const ggml_tensor * w) {
    if (w->buffer == nullptr || !ggml_backend_buffer_is_host(w->buffer)) {
        return false;
    }
    ggml_backend_dev_t dev = ggml_backend_buft_get_device(ggml_backend_buffer_get_type(w->buffer));
    return dev == nullptr || ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_CPU;
}

// The first byte of row `row` of t, counting rows over dimensions 1-3 (t may be a non-contiguous view).
inline const char * row_of(const ggml_tensor * t, int64_t row) {
    const int64_t i1 = row % t->ne[1];
    const int64_t i2 = (row / t->ne[1]) % t->ne[2];
    const int64_t i3 = row / (t->ne[1] * t->ne[2]);
    return static_cast<const char *>(t->data) + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3];
}
