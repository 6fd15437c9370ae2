// BF16 weight x F32 activation products on AVX-512 BF16 dot products. See
// avx512_bf16_matmul.h for when it applies.
//
// The product w x cur (w: N rows of K BF16 values, cur: M rows of K F32
// values, result: M rows of N F32 values) becomes two ggml custom ops:
//   1. pack: cur rounded to BF16 (round to nearest even, vcvtne2ps2bf16, as
//      ggml's own conversion on these CPUs), M contiguous rows of K values;
//   2. gemm: each thread takes a share of the weight's 8-row blocks; a tile
//      of 3 activation rows x 8 weight rows (read in place, no repacked
//      copy) keeps 24 vectors of 16 F32 partial sums in registers while K is
//      walked in order, 32 values a step (vdpbf16ps), then folds each row's
//      8 vectors into 8 sums with one fixed sequence of shuffles and adds.
//      A result's arithmetic depends only on its activation row and weight
//      row, not on the tile or thread it fell in, so a row's result does not
//      depend on the other rows of the batch.
// The graph dependency between the two ops is the barrier between packing
// and multiplying.
#include "avx512_bf16_matmul.h"

#include "ggml.h"

#include <atomic>

namespace {
std::atomic<uint64_t> g_products_run{ 0 };
}  // namespace

uint64_t avx512_bf16_products_run() {
    return g_products_run.load(std::memory_order_relaxed);
}

#if defined(LLAMA_REWARD_AVX512_BF16) && defined(__x86_64__)
#    include "hook_tensors.h"

#    include <cpuid.h>
#    include <immintrin.h>

#    include <algorithm>
#    include <cstdlib>
#    include <cstring>

// Only the functions marked so use AVX-512: the rest of this file, and every inline function it
// instantiates, stays at the build's baseline ISA and runs on any x86-64 CPU.
#    define AVX512_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

namespace {

constexpr int64_t kStepK              = 32;  // BF16 values in one 512-bit vector
constexpr int64_t kWeightRows         = 8;   // weight rows per tile and per thread share unit
constexpr int64_t kActivationRows     = 3;   // activation rows per tile: 24 accumulators + 3 operands + 1
// Activation rows multiplied against one weight block before moving on: the packed rows they span stay
// in L2 while weight rows stream.
constexpr int64_t kPackedBytesPerPass = 512 * 1024;

// dst: packed activations (BF16, M rows of K); src[0]: cur.
AVX512_BF16_TARGET void pack_activations(ggml_tensor * dst, int ith, int nth, void *) {
    const ggml_tensor * cur   = dst->src[0];
    const int64_t       k     = cur->ne[0];
    const int64_t       m     = ggml_nrows(cur);
    const int64_t       first = m * ith / nth;
    const int64_t       last  = m * (ith + 1) / nth;
    auto *              out   = static_cast<uint16_t *>(dst->data);
    for (int64_t row = first; row < last; row++) {
        const auto * x = reinterpret_cast<const float *>(row_of(cur, row));
        uint16_t *   y = out + row * k;
        for (int64_t p = 0; p < k; p += kStepK) {
            const __m512   lo = _mm512_loadu_ps(x + p);
            const __m512   hi = _mm512_loadu_ps(x + p + 16);
            const __m512bh v  = _mm512_cvtne2ps_pbh(hi, lo);  // values 0-15 from lo, 16-31 from hi
            _mm512_storeu_si512(y + p, reinterpret_cast<const __m512i &>(v));
        }
    }
}

// The 16 lanes of each of x[0..7] summed: result lane j = sum of x[j]'s lanes, in one fixed order.
AVX512_BF16_TARGET inline __m256 fold8(const __m512 * x) {
    // within each 128-bit lane: [x0, x1, x2, x3] partial sums
    const __m512 s01   = _mm512_add_ps(_mm512_unpacklo_ps(x[0], x[1]), _mm512_unpackhi_ps(x[0], x[1]));
    const __m512 s23   = _mm512_add_ps(_mm512_unpacklo_ps(x[2], x[3]), _mm512_unpackhi_ps(x[2], x[3]));
    const __m512 s0123 = _mm512_add_ps(_mm512_shuffle_ps(s01, s23, 0x44), _mm512_shuffle_ps(s01, s23, 0xEE));
    const __m512 s45   = _mm512_add_ps(_mm512_unpacklo_ps(x[4], x[5]), _mm512_unpackhi_ps(x[4], x[5]));
    const __m512 s67   = _mm512_add_ps(_mm512_unpacklo_ps(x[6], x[7]), _mm512_unpackhi_ps(x[6], x[7]));
    const __m512 s4567 = _mm512_add_ps(_mm512_shuffle_ps(s45, s67, 0x44), _mm512_shuffle_ps(s45, s67, 0xEE));
    // 128-bit lanes [a0+a1, a2+a3, b0+b1, b2+b3] (a: s0123, b: s4567), then [a0+a1, b0+b1, a2+a3, b2+b3]
    const __m512 t = _mm512_add_ps(_mm512_shuffle_f32x4(s0123, s4567, 0x88), _mm512_shuffle_f32x4(s0123, s4567, 0xDD));
    const __m512 u = _mm512_shuffle_f32x4(t, t, 0xD8);
    return _mm256_add_ps(_mm512_castps512_ps256(u), _mm512_extractf32x8_ps(u, 1));
}

// Rows activation[0..R) x weight rows w[0..8) over k values; out[i] is row i's 8 results (row stride in floats).
template <int R>
AVX512_BF16_TARGET inline void tile(const uint16_t * activation,
                                    int64_t          k,
                                    const char *     w,
                                    size_t           w_stride,
                                    float *          out,
                                    size_t           out_stride) {
    __m512      acc[R][kWeightRows];
#    pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
#    pragma GCC unroll 8
        for (int j = 0; j < kWeightRows; j++) {
            acc[i][j] = _mm512_setzero_ps();
        }
    }
    for (int64_t kk = 0; kk < k; kk += kStepK) {
        __m512bh a[R];
#    pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
            const __m512i v = _mm512_loadu_si512(activation + i * k + kk);
            a[i]            = reinterpret_cast<const __m512bh &>(v);
        }
#    pragma GCC unroll 8
        for (int j = 0; j < kWeightRows; j++) {
            const __m512i  v = _mm512_loadu_si512(w + j * w_stride + kk * 2);
            const __m512bh b = reinterpret_cast<const __m512bh &>(v);
#    pragma GCC unroll 8
            for (int i = 0; i < R; i++) {
                acc[i][j] = _mm512_dpbf16_ps(acc[i][j], a[i], b);
            }
        }
    }
#    pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
        _mm256_storeu_ps(out + i * out_stride, fold8(acc[i]));
    }
}

// dst: M rows of N floats; src[0]: w; src[1]: packed activations.
AVX512_BF16_TARGET void multiply(ggml_tensor * dst, int ith, int nth, void *) {
    const ggml_tensor * w          = dst->src[0];
    const ggml_tensor * packed     = dst->src[1];
    const int64_t       k          = w->ne[0];
    const int64_t       n_blocks   = w->ne[1] / kWeightRows;
    const int64_t       m          = ggml_nrows(dst);
    const int64_t       first      = n_blocks * ith / nth;
    const int64_t       last       = n_blocks * (ith + 1) / nth;
    const size_t        w_stride   = w->nb[1];
    const size_t        out_stride = dst->nb[1] / sizeof(float);
    const int64_t per_pass   = std::max<int64_t>(1, kPackedBytesPerPass / (k * 2 * kActivationRows)) * kActivationRows;
    const auto *  activation = static_cast<const uint16_t *>(packed->data);
    const auto *  weights    = static_cast<const char *>(w->data);
    auto *        out        = static_cast<float *>(dst->data);
    if (ith == 0) {
        g_products_run.fetch_add(1, std::memory_order_relaxed);
    }
    for (int64_t pass = 0; pass < m; pass += per_pass) {
        const int64_t pass_end = std::min(m, pass + per_pass);
        for (int64_t nb = first; nb < last; nb++) {
            const char * wb  = weights + nb * kWeightRows * w_stride;
            int64_t      row = pass;
            for (; row + kActivationRows <= pass_end; row += kActivationRows) {
                tile<kActivationRows>(activation + row * k, k, wb, w_stride, out + row * out_stride + nb * kWeightRows,
                                      out_stride);
            }
            if (pass_end - row == 2) {
                tile<2>(activation + row * k, k, wb, w_stride, out + row * out_stride + nb * kWeightRows, out_stride);
            } else if (pass_end - row == 1) {
                tile<1>(activation + row * k, k, wb, w_stride, out + row * out_stride + nb * kWeightRows, out_stride);
            }
        }
    }
}

bool cpu_has_avx512_bf16() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !((ecx >> 27) & 1)) {  // OSXSAVE
        return false;
    }
    unsigned xcr0_lo = 0, xcr0_hi = 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0xE6) != 0xE6) {  // the OS saves SSE, AVX and the AVX-512 state (opmask, ZMM)
        return false;
    }
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
        return false;
    }
    const bool f  = (ebx >> 16) & 1;
    const bool dq = (ebx >> 17) & 1;
    const bool bw = (ebx >> 30) & 1;
    const bool vl = (ebx >> 31) & 1;
    if (!(f && dq && bw && vl) || !__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) {
        return false;
    }
    return (eax >> 5) & 1;  // AVX512_BF16
}

}  // namespace

bool avx512_bf16_available() {
    static const bool available = [] {
        const char * off = std::getenv("LLAMA_REWARD_AVX512_BF16");
        if (off != nullptr && std::strcmp(off, "0") == 0) {
            return false;
        }
        return cpu_has_avx512_bf16();
    }();
    return available;
}

ggml_tensor * avx512_bf16_mul_mat(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur) {
    if (w->type != GGML_TYPE_BF16 || cur->type != GGML_TYPE_F32 || w->ne[2] != 1 || w->ne[3] != 1 ||
        !ggml_is_contiguous(w) || cur->ne[0] != w->ne[0] || cur->nb[0] != sizeof(float) || w->ne[0] % kStepK != 0 ||
        w->ne[1] % kWeightRows != 0 || !weight_in_cpu_memory(w) || !avx512_bf16_available()) {
        return nullptr;
    }
    ggml_tensor * pack_args[] = { cur };
    ggml_tensor * packed      = ggml_custom_4d(ctx, GGML_TYPE_BF16, w->ne[0], ggml_nrows(cur), 1, 1, pack_args, 1,
                                               pack_activations, GGML_N_TASKS_MAX, nullptr);
    ggml_tensor * mul_args[]  = { w, packed };
    return ggml_custom_4d(ctx, GGML_TYPE_F32, w->ne[1], cur->ne[1], cur->ne[2], cur->ne[3], mul_args, 2, multiply,
                          GGML_N_TASKS_MAX, nullptr);
}

#else

bool avx512_bf16_available() {
    return false;
}

ggml_tensor * avx512_bf16_mul_mat(ggml_context *, ggml_tensor *, ggml_tensor *) {
    return nullptr;
}

#endif
