// F32, F16 and BF16 weight x F32 activation products on AVX-512 FMA
// (vfmadd231ps, 16 F32 values a step). See avx512_f32_matmul.h for when they
// apply and tiled_gemm.h for how the product is tiled. The activations are
// copied into dense rows when they are packed, not rounded; F16 and BF16
// weights are widened to F32 (exactly: vcvtph2ps, or a 16-bit shift) one
// L1-sized chunk at a time, so their product is the F32 kernel's product on
// the same values.
#include "avx512_f32_matmul.h"

#include <atomic>

namespace {
std::atomic<uint64_t> g_f32_products_run{ 0 };
std::atomic<uint64_t> g_f16_products_run{ 0 };
std::atomic<uint64_t> g_bf16_products_run{ 0 };
}  // namespace

uint64_t avx512_f32_products_run() {
    return g_f32_products_run.load(std::memory_order_relaxed);
}

uint64_t avx512_f16_products_run() {
    return g_f16_products_run.load(std::memory_order_relaxed);
}

uint64_t avx512_bf16_fma_products_run() {
    return g_bf16_products_run.load(std::memory_order_relaxed);
}

#if defined(LLAMA_REWARD_AVX512_F32) && defined(__x86_64__)
#    define GEMM_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#    include "avx512_accumulators.h"
#    include "kernel_switch.h"
#    include "tiled_gemm.h"
#    include "x86_cpu_features.h"

namespace {

// What the tile reads for both weight types: F32 vectors, multiplied and added in F32.
struct F32TileOps : tiled_gemm::Avx512Accumulators {
    using Element                          = float;
    using Vector                           = __m512;
    static constexpr ggml_type kPackedType = GGML_TYPE_F32;
    static constexpr int64_t   kStep       = 16;  // F32 values in one 512-bit vector

    GEMM_TARGET static Vector load(const Element * p) { return _mm512_loadu_ps(p); }

    GEMM_TARGET static __m512 madd(__m512 acc, Vector a, Vector b) { return _mm512_fmadd_ps(a, b, acc); }

    GEMM_TARGET static void pack_row(const float * x, Element * y, int64_t k) {
        for (int64_t p = 0; p < k; p += kStep) {
            _mm512_storeu_ps(y + p, _mm512_loadu_ps(x + p));
        }
    }
};

struct F32Ops : F32TileOps {
    static constexpr ggml_type            kWeightType   = GGML_TYPE_F32;
    static constexpr bool                 kAlwaysStaged = false;  // copied when off cache lines or colliding in L1
    static inline std::atomic<uint64_t> & runs          = g_f32_products_run;

    static void stage(const char * row, int64_t k0, int64_t k1, float * dst) {
        tiled_gemm::copy_chunk(row, k0, k1, dst);
    }
};

// Values [k0, k1) of one 16-bit weight row (k1 - k0 a multiple of 16) into dst (on a cache line) as F32, 16 at a
// time by Ops::widen.
template <class Ops> GEMM_TARGET void widen_chunk(const char * row, int64_t k0, int64_t k1, float * dst) {
    const auto * src = reinterpret_cast<const uint16_t *>(row);
    for (int64_t p = k0; p < k1; p += 16) {
        _mm512_store_ps(dst + (p - k0), Ops::widen(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(src + p))));
    }
}

struct F16Ops : F32TileOps {
    static constexpr ggml_type            kWeightType   = GGML_TYPE_F16;
    static constexpr bool                 kAlwaysStaged = true;  // widened to F32
    static inline std::atomic<uint64_t> & runs          = g_f16_products_run;

    GEMM_TARGET static __m512 widen(__m256i h) { return _mm512_cvtph_ps(h); }

    GEMM_TARGET static void stage(const char * row, int64_t k0, int64_t k1, float * dst) {
        widen_chunk<F16Ops>(row, k0, k1, dst);
    }
};

struct Bf16Ops : F32TileOps {
    static constexpr ggml_type            kWeightType   = GGML_TYPE_BF16;
    static constexpr bool                 kAlwaysStaged = true;  // widened to F32
    static inline std::atomic<uint64_t> & runs          = g_bf16_products_run;

    // a BF16 value is the upper half of the F32 with the same bits
    GEMM_TARGET static __m512 widen(__m256i h) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }

    GEMM_TARGET static void stage(const char * row, int64_t k0, int64_t k1, float * dst) {
        widen_chunk<Bf16Ops>(row, k0, k1, dst);
    }
};

}  // namespace

bool avx512_f32_available() {
    static const bool available = !kernel_switched_off("LLAMA_REWARD_AVX512_F32") && x86_has_avx512(/* bf16 */ false);
    return available;
}

bool avx512_f16_available() {
    static const bool available = !kernel_switched_off("LLAMA_REWARD_AVX512_F16") && x86_has_avx512(/* bf16 */ false);
    return available;
}

bool avx512_bf16_fma_available() {
    static const bool available = !kernel_switched_off("LLAMA_REWARD_BF16_FMA") && x86_has_avx512(/* bf16 */ false);
    return available;
}

bool avx512_fma_kernel_built() {
    return true;
}

bool avx512_f32_takes_weight(const ggml_tensor * w) {
    // each weight type has its own switch
    const bool available = w->type == GGML_TYPE_BF16 ? avx512_bf16_fma_available() :
                           w->type == GGML_TYPE_F16  ? avx512_f16_available() :
                                                       avx512_f32_available();
    return available && tiled_gemm::takes_weight_for_type<F32Ops, F16Ops, Bf16Ops>(w);
}

ggml_tensor * avx512_f32_mul_mat(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur) {
    return avx512_f32_takes_weight(w) ? tiled_gemm::build_for_type<F32Ops, F16Ops, Bf16Ops>(ctx, w, cur) : nullptr;
}

#else

bool avx512_f32_available() {
    return false;
}

bool avx512_f16_available() {
    return false;
}

bool avx512_bf16_fma_available() {
    return false;
}

bool avx512_fma_kernel_built() {
    return false;
}

bool avx512_f32_takes_weight(const ggml_tensor *) {
    return false;
}

ggml_tensor * avx512_f32_mul_mat(ggml_context *, ggml_tensor *, ggml_tensor *) {
    return nullptr;
}

#endif
