// BF16 weight x F32 activation products on AVX-512 BF16 dot products
// (vdpbf16ps, 32 BF16 values a step). See avx512_bf16_matmul.h for when it
// applies and tiled_gemm.h for how the product is tiled; the activations
// are rounded to BF16 (round to nearest even, vcvtne2ps2bf16, as ggml's own
// conversion on these CPUs) when they are packed.
#include "avx512_bf16_matmul.h"

#include <atomic>

namespace {
std::atomic<uint64_t> g_products_run{ 0 };
}  // namespace

uint64_t avx512_bf16_products_run() {
    return g_products_run.load(std::memory_order_relaxed);
}

#if defined(LLAMA_REWARD_AVX512_BF16) && defined(__x86_64__)
#    define GEMM_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#    include "avx512_accumulators.h"
#    include "kernel_switch.h"
#    include "tiled_gemm.h"
#    include "x86_cpu_features.h"

namespace {

struct Bf16Ops : tiled_gemm::Avx512Accumulators {
    using Element                                       = uint16_t;
    using Vector                                        = __m512bh;
    static constexpr ggml_type            kWeightType   = GGML_TYPE_BF16;
    static constexpr ggml_type            kPackedType   = GGML_TYPE_BF16;
    static constexpr bool                 kAlwaysStaged = false;  // copied when off cache lines or colliding in L1
    static constexpr int64_t              kStep         = 32;     // BF16 values in one 512-bit vector
    static inline std::atomic<uint64_t> & runs          = g_products_run;

    GEMM_TARGET static Vector load(const Element * p) {
        const __m512i v = _mm512_loadu_si512(p);
        return reinterpret_cast<const __m512bh &>(v);
    }

    GEMM_TARGET static __m512 madd(__m512 acc, Vector a, Vector b) { return _mm512_dpbf16_ps(acc, a, b); }

    static void stage(const char * row, int64_t k0, int64_t k1, Element * dst) {
        tiled_gemm::copy_chunk(row, k0, k1, dst);
    }

    GEMM_TARGET static void pack_row(const float * x, Element * y, int64_t k) {
        for (int64_t p = 0; p < k; p += kStep) {
            const __m512   lo = _mm512_loadu_ps(x + p);
            const __m512   hi = _mm512_loadu_ps(x + p + 16);
            const __m512bh v  = _mm512_cvtne2ps_pbh(hi, lo);  // values 0-15 from lo, 16-31 from hi
            _mm512_storeu_si512(y + p, reinterpret_cast<const __m512i &>(v));
        }
    }
};

}  // namespace

bool avx512_bf16_available() {
    static const bool available = !kernel_switched_off("LLAMA_REWARD_AVX512_BF16") && x86_has_avx512(/* bf16 */ true);
    return available;
}

bool avx512_bf16_takes_weight(const ggml_tensor * w) {
    return avx512_bf16_available() && tiled_gemm::takes_weight<Bf16Ops>(w);
}

ggml_tensor * avx512_bf16_mul_mat(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur) {
    return avx512_bf16_takes_weight(w) ? tiled_gemm::build<Bf16Ops>(ctx, w, cur) : nullptr;
}

#else

bool avx512_bf16_available() {
    return false;
}

bool avx512_bf16_takes_weight(const ggml_tensor *) {
    return false;
}

ggml_tensor * avx512_bf16_mul_mat(ggml_context *, ggml_tensor *, ggml_tensor *) {
    return nullptr;
}

#endif
