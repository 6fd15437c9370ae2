// F32 weight x F32 activation products on AVX-512 FMA (vfmadd231ps, 16 F32
// values a step). See avx512_f32_matmul.h for when it applies and
// avx512_gemm.h for how the product is tiled; the activations are copied
// into dense rows when they are packed, not rounded.
#include "avx512_f32_matmul.h"

#include <atomic>

namespace {
std::atomic<uint64_t> g_products_run{ 0 };
}  // namespace

uint64_t avx512_f32_products_run() {
    return g_products_run.load(std::memory_order_relaxed);
}

#if defined(LLAMA_REWARD_AVX512_F32) && defined(__x86_64__)
#    define AVX512_GEMM_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#    include "avx512_gemm.h"
#    include "x86_cpu_features.h"

#    include <cstdlib>
#    include <cstring>

namespace {

struct F32Ops {
    using Element                                     = float;
    using Vector                                      = __m512;
    static constexpr ggml_type            kWeightType = GGML_TYPE_F32;
    static constexpr int64_t              kStep       = 16;  // F32 values in one 512-bit vector
    static inline std::atomic<uint64_t> & runs        = g_products_run;

    AVX512_GEMM_TARGET static Vector load(const Element * p) { return _mm512_loadu_ps(p); }

    AVX512_GEMM_TARGET static __m512 madd(__m512 acc, Vector a, Vector b) { return _mm512_fmadd_ps(a, b, acc); }

    AVX512_GEMM_TARGET static void pack_row(const float * x, Element * y, int64_t k) {
        for (int64_t p = 0; p < k; p += kStep) {
            _mm512_storeu_ps(y + p, _mm512_loadu_ps(x + p));
        }
    }
};

}  // namespace

bool avx512_f32_available() {
    static const bool available = [] {
        const char * off = std::getenv("LLAMA_REWARD_AVX512_F32");
        if (off != nullptr && std::strcmp(off, "0") == 0) {
            return false;
        }
        return x86_has_avx512(/* bf16 */ false);
    }();
    return available;
}

ggml_tensor * avx512_f32_mul_mat(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur) {
    if (!avx512_gemm::accepts<F32Ops>(w, cur) || !avx512_f32_available()) {
        return nullptr;
    }
    return avx512_gemm::build<F32Ops>(ctx, w, cur);
}

#else

bool avx512_f32_available() {
    return false;
}

ggml_tensor * avx512_f32_mul_mat(ggml_context *, ggml_tensor *, ggml_tensor *) {
    return nullptr;
}

#endif
