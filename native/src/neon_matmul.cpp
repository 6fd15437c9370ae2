// F32, F16 and BF16 weight x F32 activation products on Arm NEON (fmla on
// 128-bit vectors, 4 F32 values a step). See neon_matmul.h for when they
// apply and tiled_gemm.h for how the product is tiled: the tiling of the
// x86 FMA kernels (avx512_f32_matmul.cpp, avx2_matmul.cpp), with tiles of 3
// activation rows x 8 weight rows, whose 24 accumulators, 3 activation
// vectors and one weight vector take 28 of the 32 vector registers. F16 and
// BF16 weights are widened to F32 exactly (fcvtl, or a 16-bit shift) one
// L1-sized chunk at a time; the activations are copied, not rounded.
#include "neon_matmul.h"

#include <atomic>

namespace {
std::atomic<uint64_t> g_products_run{ 0 };
}  // namespace

uint64_t neon_products_run() {
    return g_products_run.load(std::memory_order_relaxed);
}

#if defined(LLAMA_REWARD_NEON) && defined(__aarch64__)
// NEON is in the AArch64 baseline: the kernel functions need no target attribute
#    define GEMM_TARGET
#    include "kernel_switch.h"
#    include "tiled_gemm.h"

namespace {

// The accumulators of the tiles: 4 F32 lanes a vector, 3 x 8 of them in a tile.
struct NeonAccumulators {
    using Acc                          = float32x4_t;
    static constexpr int     kLanes    = 4;
    static constexpr int64_t kTileRows = 8;

    static Acc zero() { return vdupq_n_f32(0.0f); }

    static Acc load_acc(const float * p) { return vld1q_f32(p); }

    static void store_acc(float * p, Acc v) { vst1q_f32(p, v); }

    // The 4 lanes of each of x[0..7] summed into out[0..7], in one fixed order: ((l0 + l1) + (l2 + l3)).
    static void fold(const Acc * x, float * out) {
        for (int h = 0; h < 8; h += 4) {
            const float32x4_t p01 = vpaddq_f32(x[h], x[h + 1]);      // [x0 01, x0 23, x1 01, x1 23]
            const float32x4_t p23 = vpaddq_f32(x[h + 2], x[h + 3]);  // the same for x2 and x3
            vst1q_f32(out + h, vpaddq_f32(p01, p23));                // [x0, x1, x2, x3]
        }
    }
};

// What the tile reads for every weight type: F32 vectors, multiplied and added in F32.
struct F32TileOps : NeonAccumulators {
    using Element                                     = float;
    using Vector                                      = float32x4_t;
    static constexpr ggml_type            kPackedType = GGML_TYPE_F32;
    static constexpr int64_t              kStep       = 4;  // F32 values in one 128-bit vector
    static inline std::atomic<uint64_t> & runs        = g_products_run;

    static Vector load(const Element * p) { return vld1q_f32(p); }

    static float32x4_t madd(float32x4_t acc, Vector a, Vector b) { return vfmaq_f32(acc, a, b); }

    static void pack_row(const float * x, Element * y, int64_t k) {
        for (int64_t p = 0; p < k; p += kStep) {
            vst1q_f32(y + p, vld1q_f32(x + p));
        }
    }
};

struct F32Ops : F32TileOps {
    static constexpr ggml_type kWeightType   = GGML_TYPE_F32;
    static constexpr bool      kAlwaysStaged = false;  // copied when off 16-byte boundaries or colliding in L1

    static void stage(const char * row, int64_t k0, int64_t k1, float * dst) {
        tiled_gemm::copy_chunk(row, k0, k1, dst);
    }
};

// Values [k0, k1) of one 16-bit weight row (k1 - k0 a multiple of 4) into dst as F32, 4 at a time by Ops::widen.
template <class Ops> void widen_chunk(const char * row, int64_t k0, int64_t k1, float * dst) {
    const auto * src = reinterpret_cast<const uint16_t *>(row);
    for (int64_t p = k0; p < k1; p += 4) {
        vst1q_f32(dst + (p - k0), Ops::widen(vld1_u16(src + p)));
    }
}

struct F16Ops : F32TileOps {
    static constexpr ggml_type kWeightType   = GGML_TYPE_F16;
    static constexpr bool      kAlwaysStaged = true;  // widened to F32

    // fcvtl: every F16 value, subnormals included, is an F32 value
    static float32x4_t widen(uint16x4_t h) { return vcvt_f32_f16(vreinterpret_f16_u16(h)); }

    static void stage(const char * row, int64_t k0, int64_t k1, float * dst) { widen_chunk<F16Ops>(row, k0, k1, dst); }
};

struct Bf16Ops : F32TileOps {
    static constexpr ggml_type kWeightType   = GGML_TYPE_BF16;
    static constexpr bool      kAlwaysStaged = true;  // widened to F32

    // a BF16 value is the upper half of the F32 with the same bits (shll: shift left long by 16)
    static float32x4_t widen(uint16x4_t h) { return vreinterpretq_f32_u32(vshll_n_u16(h, 16)); }

    static void stage(const char * row, int64_t k0, int64_t k1, float * dst) { widen_chunk<Bf16Ops>(row, k0, k1, dst); }
};

}  // namespace

bool neon_kernel_available() {
    static const bool available = !kernel_switched_off("LLAMA_REWARD_NEON");
    return available;
}

bool neon_takes_weight(const ggml_tensor * w) {
    return neon_kernel_available() && tiled_gemm::takes_weight_for_type<F32Ops, F16Ops, Bf16Ops>(w);
}

ggml_tensor * neon_mul_mat(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur) {
    return neon_takes_weight(w) ? tiled_gemm::build_for_type<F32Ops, F16Ops, Bf16Ops>(ctx, w, cur) : nullptr;
}

#else

bool neon_kernel_available() {
    return false;
}

bool neon_takes_weight(const ggml_tensor *) {
    return false;
}

ggml_tensor * neon_mul_mat(ggml_context *, ggml_tensor *, ggml_tensor *) {
    return nullptr;
}

#endif
