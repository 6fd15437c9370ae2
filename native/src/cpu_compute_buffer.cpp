#include "cpu_compute_buffer.h"

#include "ggml-backend-impl.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace {

constexpr size_t kAlignment = 64;  // a cache line; ggml_aligned_malloc's buffers start on one

std::atomic<uint64_t> g_buffers{ 0 };

ggml_backend_buffer_type_t ggml_cpu() {
    return ggml_backend_cpu_buffer_type();
}

const char * get_name(ggml_backend_buffer_type_t) {
    // ggml's own name: llama.cpp's logs and memory breakdowns keep calling the buffer "CPU"
    return ggml_cpu()->iface.get_name(ggml_cpu());
}

ggml_backend_buffer_t alloc_buffer(ggml_backend_buffer_type_t buft, size_t size) {
    // ggml's CPU allocation (ggml_aligned_malloc: 64-byte aligned, or page aligned) with this buffer
    // type recorded in the buffer, so the tensors ggml-alloc places in it follow get_alignment below
    ggml_backend_buffer_t buffer = ggml_cpu()->iface.alloc_buffer(buft, size);
    if (buffer != nullptr) {
        g_buffers.fetch_add(1, std::memory_order_relaxed);
    }
    return buffer;
}

size_t get_alignment(ggml_backend_buffer_type_t) {
    return kAlignment;
}

bool enabled() {
    static const bool on = [] {
        const char * off = std::getenv("LLAMA_REWARD_ALIGNED_COMPUTE");
        return off == nullptr || std::strcmp(off, "0") != 0;
    }();
    return on;
}

}  // namespace

ggml_backend_buffer_type_t cpu_compute_buffer_type() {
    if (!enabled()) {
        return nullptr;
    }
    static ggml_backend_buffer_type buft = [] {
        ggml_backend_buffer_type b{};
        b.iface.get_name       = get_name;
        b.iface.alloc_buffer   = alloc_buffer;
        b.iface.get_alignment  = get_alignment;
        b.iface.get_max_size   = ggml_cpu()->iface.get_max_size;
        b.iface.get_alloc_size = ggml_cpu()->iface.get_alloc_size;
        b.iface.is_host        = ggml_cpu()->iface.is_host;
        b.device               = ggml_cpu()->device;
        b.context              = nullptr;
        return b;
    }();
    return &buft;
}

size_t cpu_compute_alignment() {
    ggml_backend_buffer_type_t buft = cpu_compute_buffer_type();
    return ggml_backend_buft_get_alignment(buft != nullptr ? buft : ggml_cpu());
}

uint64_t cpu_compute_buffers_allocated() {
    return g_buffers.load(std::memory_order_relaxed);
}
