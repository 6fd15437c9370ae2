// F32, F16 and BF16 weight x F32 activation products on AVX2 FMA
// (vfmadd231ps on 256-bit vectors, 8 F32 values a step). See avx2_matmul.h
// for when they apply and tiled_gemm.h for how the product is tiled: the
// same tiling as the AVX-512 FMA kernel (avx512_f32_matmul.cpp), with tiles
// of 3 activation rows x 4 weight rows, whose 12 accumulators, 3 activation
// vectors and one weight vector fill the 16 registers. F16 and BF16 weights
// are widened to F32 exactly (vcvtph2ps, or a 16-bit shift) one L1-sized
// chunk at a time; the activations are copied, not rounded.
#include "avx2_matmul.h"

#include <atomic>

namespace {
std::atomic<uint64_t> g_products_run{ 0 };
}  // namespace

uint64_t avx2_products_run() {
    return g_products_run.load(std::memory_order_relaxed);
}

#if defined(LLAMA_REWARD_AVX2) && defined(__x86_64__)
#    define GEMM_TARGET __attribute__((target("avx2,fma,f16c")))
#    include "kernel_switch.h"
#    include "tiled_gemm.h"
#    include "x86_cpu_features.h"

namespace {

// The accumulators of the tiles: 8 F32 lanes a vector, 3 x 4 of them in a tile.
struct Avx2Accumulators {
    using Acc                          = __m256;
    static constexpr int     kLanes    = 8;
    static constexpr int64_t kTileRows = 4;

    GEMM_TARGET static Acc zero() { return _mm256_setzero_ps(); }

    GEMM_TARGET static Acc load_acc(const float * p) { return _mm256_load_ps(p); }

    GEMM_TARGET static void store_acc(float * p, Acc v) { _mm256_store_ps(p, v); }

    // The 8 lanes of each of x[0..3] summed into out[0..3], in one fixed order.
    GEMM_TARGET static void fold(const Acc * x, float * out) {
        // [x0 01, x0 23, x1 01, x1 23 | x0 45, x0 67, x1 45, x1 67], the same for x2 and x3
        const __m256 h01 = _mm256_hadd_ps(x[0], x[1]);
        const __m256 h23 = _mm256_hadd_ps(x[2], x[3]);
        // [x0 0-3, x1 0-3, x2 0-3, x3 0-3 | x0 4-7, x1 4-7, x2 4-7, x3 4-7]
        const __m256 h   = _mm256_hadd_ps(h01, h23);
        _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
    }
};

// What the tile reads for every weight type: F32 vectors, multiplied and added in F32.
struct F32TileOps : Avx2Accumulators {
    using Element                                     = float;
    using Vector                                      = __m256;
    static constexpr ggml_type            kPackedType = GGML_TYPE_F32;
    static constexpr int64_t              kStep       = 8;  // F32 values in one 256-bit vector
    static inline std::atomic<uint64_t> & runs        = g_products_run;

    GEMM_TARGET static Vector load(const Element * p) { return _mm256_loadu_ps(p); }

    GEMM_TARGET static __m256 madd(__m256 acc, Vector a, Vector b) { return _mm256_fmadd_ps(a, b, acc); }

    GEMM_TARGET static void pack_row(const float * x, Element * y, int64_t k) {
        for (int64_t p = 0; p < k; p += kStep) {
            _mm256_storeu_ps(y + p, _mm256_loadu_ps(x + p));
        }
    }
};

struct F32Ops : F32TileOps {
    static constexpr ggml_type kWeightType   = GGML_TYPE_F32;
    static constexpr bool      kAlwaysStaged = false;  // copied when off cache lines or colliding in L1

    static void stage(const char * row, int64_t k0, int64_t k1, float * dst) {
        tiled_gemm::copy_chunk(row, k0, k1, dst);
    }
};

// Values [k0, k1) of one 16-bit weight row (k1 - k0 a multiple of 8) into dst (on a cache line) as F32, 8 at a
// time by Ops::widen.
template <class Ops> GEMM_TARGET void widen_chunk(const char * row, int64_t k0, int64_t k1, float * dst) {
    const auto * src = reinterpret_cast<const uint16_t *>(row);
    for (int64_t p = k0; p < k1; p += 8) {
        _mm256_store_ps(dst + (p - k0), Ops::widen(_mm_loadu_si128(reinterpret_cast<const __m128i *>(src + p))));
    }
}

struct F16Ops : F32TileOps {
    static constexpr ggml_type kWeightType   = GGML_TYPE_F16;
    static constexpr bool      kAlwaysStaged = true;  // widened to F32

    GEMM_TARGET static __m256 widen(__m128i h) { return _mm256_cvtph_ps(h); }

    GEMM_TARGET static void stage(const char * row, int64_t k0, int64_t k1, float * dst) {
        widen_chunk<F16Ops>(row, k0, k1, dst);
    }
};

struct Bf16Ops : F32TileOps {
    static constexpr ggml_type kWeightType   = GGML_TYPE_BF16;
    static constexpr bool      kAlwaysStaged = true;  // widened to F32

    // a BF16 value is the upper half of the F32 with the same bits
    GEMM_TARGET static __m256 widen(__m128i h) {
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }

    GEMM_TARGET static void stage(const char * row, int64_t k0, int64_t k1, float * dst) {
        widen_chunk<Bf16Ops>(row, k0, k1, dst);
    }
};

}  // namespace

bool avx2_kernel_available() {
    static const bool available = !kernel_switched_off("LLAMA_REWARD_AVX2") && x86_has_avx2_fma();
    return available;
}

bool avx2_kernel_preferred() {
    static const bool preferred = kernel_preferred("LLAMA_REWARD_AVX2");
    return preferred;
}

bool avx2_takes_weight(const ggml_tensor * w) {
    return avx2_kernel_available() && tiled_gemm::takes_weight_for_type<F32Ops, F16Ops, Bf16Ops>(w);
}

ggml_tensor * avx2_mul_mat(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur) {
    return avx2_takes_weight(w) ? tiled_gemm::build_for_type<F32Ops, F16Ops, Bf16Ops>(ctx, w, cur) : nullptr;
}

#else

bool avx2_kernel_available() {
    return false;
}

bool avx2_kernel_preferred() {
    return false;
}

bool avx2_takes_weight(const ggml_tensor *) {
    return false;
}

ggml_tensor * avx2_mul_mat(ggml_context *, ggml_tensor *, ggml_tensor *) {
    return nullptr;
}

#endif
