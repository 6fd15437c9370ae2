// The accumulators of the AVX-512 kernels' tiles (tiled_gemm.h): 16 F32 lanes
// a vector, 3 x 8 of them in a tile, with the 3 activation vectors and one
// weight vector in the 32 registers. Included by avx512_bf16_matmul.cpp and
// avx512_f32_matmul.cpp inside their GEMM_TARGET-guarded sections, with
// tiled_gemm.h.
#pragma once

#ifndef GEMM_TARGET
#    error "define GEMM_TARGET before including avx512_accumulators.h"
#endif

#include <immintrin.h>

#include <cstdint>

namespace tiled_gemm {
namespace {

struct Avx512Accumulators {
    using Acc                          = __m512;
    static constexpr int     kLanes    = 16;
    static constexpr int64_t kTileRows = 8;

    GEMM_TARGET static Acc zero() { return _mm512_setzero_ps(); }

    GEMM_TARGET static Acc load_acc(const float * p) { return _mm512_load_ps(p); }

    GEMM_TARGET static void store_acc(float * p, Acc v) { _mm512_store_ps(p, v); }

    // The 16 lanes of each of x[0..7] summed into out[0..7], in one fixed order.
    GEMM_TARGET static void fold(const Acc * x, float * out) {
        // within each 128-bit lane: [x0, x1, x2, x3] partial sums
        const __m512 s01   = _mm512_add_ps(_mm512_unpacklo_ps(x[0], x[1]), _mm512_unpackhi_ps(x[0], x[1]));
        const __m512 s23   = _mm512_add_ps(_mm512_unpacklo_ps(x[2], x[3]), _mm512_unpackhi_ps(x[2], x[3]));
        const __m512 s0123 = _mm512_add_ps(_mm512_shuffle_ps(s01, s23, 0x44), _mm512_shuffle_ps(s01, s23, 0xEE));
        const __m512 s45   = _mm512_add_ps(_mm512_unpacklo_ps(x[4], x[5]), _mm512_unpackhi_ps(x[4], x[5]));
        const __m512 s67   = _mm512_add_ps(_mm512_unpacklo_ps(x[6], x[7]), _mm512_unpackhi_ps(x[6], x[7]));
        const __m512 s4567 = _mm512_add_ps(_mm512_shuffle_ps(s45, s67, 0x44), _mm512_shuffle_ps(s45, s67, 0xEE));
        // 128-bit lanes [a0+a1, a2+a3, b0+b1, b2+b3] (a: s0123, b: s4567), then [a0+a1, b0+b1, a2+a3, b2+b3]
        const __m512 t =
            _mm512_add_ps(_mm512_shuffle_f32x4(s0123, s4567, 0x88), _mm512_shuffle_f32x4(s0123, s4567, 0xDD));
        const __m512 u = _mm512_shuffle_f32x4(t, t, 0xD8);
        _mm256_storeu_ps(out, _mm256_add_ps(_mm512_castps512_ps256(u), _mm512_extractf32x8_ps(u, 1)));
    }
};

}  // namespace
}  // namespace tiled_gemm
