#include "cpu_threadpool.h"

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml.h"

namespace {

// The CPU backend may be a library loaded at run time (GGML_BACKEND_DL), so its pool functions are looked up
// through its registry, as llama-bench does.
template <typename Fn> Fn * cpu_backend_function(const char * name) {
    ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    if (cpu == nullptr) {
        return nullptr;
    }
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(cpu);
    return reg == nullptr ? nullptr : reinterpret_cast<Fn *>(ggml_backend_reg_get_proc_address(reg, name));
}

}  // namespace

ggml_threadpool * cpu_threadpool_new(int n_threads) {
    if (n_threads < 2) {
        return nullptr;
    }
    auto * pool_new = cpu_backend_function<decltype(ggml_threadpool_new)>("ggml_threadpool_new");
    if (pool_new == nullptr) {
        return nullptr;
    }
    ggml_threadpool_params params = ggml_threadpool_params_default(n_threads);
    params.poll                   = 0;
    return pool_new(&params);
}

void cpu_threadpool_free(ggml_threadpool * pool) {
    if (pool == nullptr) {
        return;
    }
    auto * pool_free = cpu_backend_function<decltype(ggml_threadpool_free)>("ggml_threadpool_free");
    if (pool_free != nullptr) {
        pool_free(pool);
    }
}
