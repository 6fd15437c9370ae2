// The tiled product shared by llama-reward's weight kernels for CPUs without
// AMX: avx512_bf16_matmul.cpp (BF16 weights on vdpbf16ps),
// avx512_f32_matmul.cpp (F32, F16 and BF16 weights on AVX-512 FMA),
// avx2_matmul.cpp (the same three on AVX2 FMA) and neon_matmul.cpp (the same
// three on Arm NEON). Included only by those files, inside their
// GEMM_TARGET-guarded sections.
//
// The product w x cur (w: N rows of K weights, cur: M rows of K F32
// activations, result: M rows of N F32 values) is two ggml custom ops:
//   1. pack: cur's rows written densely in the element type the tile reads
//      (BF16: rounded to nearest even, as ggml's own conversion; F32:
//      copied), so that rows are contiguous whatever view cur is;
//   2. gemm: each thread takes a share of the weight's 8-row blocks; a tile
//      of 3 activation rows x Ops::kTileRows weight rows (8 with 512-bit
//      vectors and with NEON's 32 registers, 4 with AVX2's 16; read where
//      they lie, no repacked copy of the model; F16 and BF16 weights widened
//      to F32, weights whose rows are not on cache lines, and, in passes of
//      at least 12 tiles, weights whose rows collide in L1's sets (a
//      multiple of an L1 way apart: multiply()) are staged one L1-sized
//      chunk of the block's 8 rows at a time into a per-thread buffer that
//      every tile of the pass then reads)
//      keeps its accumulators (24 or 12 vectors of F32 partial sums) in
//      registers while K is walked in order, one vector of weights a step,
//      then folds each row's vectors into sums with one fixed sequence of
//      shuffles and adds. Activation rows are taken in passes that stay in L2
//      (or L3, for long rows) while the weight rows stream past them, and K
//      in chunks whose weights stay in L1, the next chunk's weights fetched
//      ahead while the current one is multiplied (multiply() below).
// A result's arithmetic depends only on its activation row and weight row,
// not on the tile, pass or thread it fell in, so a row's result does not
// depend on the other rows of the batch or on the thread count. The graph
// dependency between the two ops is the barrier between packing and
// multiplying.
#pragma once

#include "cpu_caches.h"
#include "ggml.h"
#include "hook_tensors.h"
#include "weight_product_hook.h"

#if defined(__x86_64__)
#    include <immintrin.h>
// the register class of a SIMD operand in inline assembly
#    define TILED_GEMM_VECTOR_REG "+v"
#elif defined(__aarch64__)
#    include <arm_neon.h>
#    define TILED_GEMM_VECTOR_REG "+w"
#else
#    error "tiled_gemm.h is for x86-64 and AArch64"
#endif

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

// The including file defines GEMM_TARGET, the target attribute of its kernel functions (the instruction set
// extensions they need; empty on AArch64, where NEON is part of the baseline). Only the functions marked so use
// them: the rest of the file stays at the build's baseline ISA and runs on any CPU of its architecture. Everything here has
// internal linkage, so that each including file gets its own copies, compiled for its own target.
#ifndef GEMM_TARGET
#    error "define GEMM_TARGET before including tiled_gemm.h"
#endif

namespace tiled_gemm {
namespace {

constexpr int64_t kWeightRows     = 8;  // weight rows per block: the unit of staging and of a thread's share
constexpr int64_t kActivationRows = 3;  // activation rows per tile

// One tile, over the values [k0, k1) of each row: rows activation[0..R) (row stride ld) x weight rows
// w[0..T) (T = Ops::kTileRows; w points at value k0 of row 0, row stride w_stride bytes). The tile's R x T
// accumulators start at zero (k0 == 0) or from `partial`, and end folded into out (out[i] is row i's T results,
// row stride out_stride) when k1 == k, or saved to `partial` otherwise. Ops (avx2_matmul.cpp,
// avx512_bf16_matmul.cpp, avx512_f32_matmul.cpp, neon_matmul.cpp) names the element type the tile reads (packed activations, and
// weights as the tile sees them), the values one operand vector holds (kStep), how a vector is loaded, the
// multiply-add of one step, and its accumulators (avx512_accumulators.h, or avx2_matmul.cpp's and
// neon_matmul.cpp's).
template <class Ops, int R>
GEMM_TARGET inline void tile(const typename Ops::Element * activation,
                             int64_t                       ld,
                             int64_t                       k,
                             int64_t                       k0,
                             int64_t                       k1,
                             const char *                  w,
                             size_t                        w_stride,
                             float *                       partial,
                             float *                       out,
                             size_t                        out_stride) {
    constexpr int     T = static_cast<int>(Ops::kTileRows);
    constexpr int     L = Ops::kLanes;
    typename Ops::Acc acc[R][T];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
#pragma GCC unroll 8
        for (int j = 0; j < T; j++) {
            acc[i][j] = k0 == 0 ? Ops::zero() : Ops::load_acc(partial + (i * T + j) * L);
        }
    }
    for (int64_t kk = k0; kk < k1; kk += Ops::kStep) {
        typename Ops::Vector a[R];
#pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
            a[i] = Ops::load(activation + i * ld + kk);
        }
#pragma GCC unroll 8
        for (int j = 0; j < T; j++) {
            typename Ops::Vector b =
                Ops::load(reinterpret_cast<const typename Ops::Element *>(w + j * w_stride) + (kk - k0));
            // one load per weight vector: left alone, the compiler folds it into each of the R multiply-adds
            // as a memory operand, R loads where one does
            __asm__("" : TILED_GEMM_VECTOR_REG(b));
#pragma GCC unroll 8
            for (int i = 0; i < R; i++) {
                acc[i][j] = Ops::madd(acc[i][j], a[i], b);
            }
        }
    }
    if (k1 < k) {
#pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
#pragma GCC unroll 8
            for (int j = 0; j < T; j++) {
                Ops::store_acc(partial + (i * T + j) * L, acc[i][j]);
            }
        }
        return;
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
        Ops::fold(acc[i], out + i * out_stride);
    }
}

// The tiles of R activation rows across one 8-row weight block: one tile of 8 weight rows, or two of 4. The
// accumulators of the second start kActivationRows x 4 vectors into `partial`.
template <class Ops, int R>
GEMM_TARGET inline void block_tiles(const typename Ops::Element * activation,
                                    int64_t                       ld,
                                    int64_t                       k,
                                    int64_t                       k0,
                                    int64_t                       k1,
                                    const char *                  w,
                                    size_t                        w_stride,
                                    float *                       partial,
                                    float *                       out,
                                    size_t                        out_stride) {
    static_assert(kWeightRows % Ops::kTileRows == 0, "a weight block is a whole number of tiles");
#pragma GCC unroll 2
    for (int64_t h = 0; h < kWeightRows; h += Ops::kTileRows) {
        tile<Ops, R>(activation, ld, k, k0, k1, w + h * w_stride, w_stride, partial + h * kActivationRows * Ops::kLanes,
                     out + h, out_stride);
    }
}

// The row stride of packed activations: one vector more than K, so that rows whose length is a multiple of
// 4 KiB do not all fall into the same L1 cache sets.
template <class Ops> constexpr int64_t packed_stride(int64_t k) {
    return k + Ops::kStep;
}

// dst: packed activations (M rows of K elements, row stride packed_stride(K)); src[0]: cur.
template <class Ops> GEMM_TARGET void pack(ggml_tensor * dst, int ith, int nth, void *) {
    const ggml_tensor * cur   = dst->src[0];
    const int64_t       k     = cur->ne[0];
    const int64_t       ld    = packed_stride<Ops>(k);
    const int64_t       m     = ggml_nrows(cur);
    const int64_t       first = m * ith / nth;
    const int64_t       last  = m * (ith + 1) / nth;
    auto *              out   = static_cast<typename Ops::Element *>(dst->data);
    for (int64_t row = first; row < last; row++) {
        Ops::pack_row(reinterpret_cast<const float *>(row_of(cur, row)), out + row * ld, k);
    }
}

// The data cache sizes the blocking is made for: this CPU's L1 data cache and L2 (per core) as the operating
// system reports them (cpu_caches.h), or 32 KiB and 1 MiB where it does not; and L3 (l3_bytes() below).
inline int64_t l1_data_bytes() {
    static const int64_t bytes = [] {
        const int64_t b = cpu_data_cache_bytes(1);
        return b >= 16 * 1024 ? b : int64_t{ 32 * 1024 };
    }();
    return bytes;
}

inline int64_t l2_bytes() {
    static const int64_t bytes = [] {
        const int64_t b = cpu_data_cache_bytes(2);
        return b >= 256 * 1024 ? b : int64_t{ 1024 * 1024 };
    }();
    return bytes;
}

// The shared last-level cache (L3), whole, as the operating system reports it, or 0 where it does not (then no pass
// is sized for it).
inline int64_t l3_bytes() {
    static const int64_t bytes = [] {
        const int64_t b = cpu_data_cache_bytes(3);
        return b >= 1024 * 1024 ? b : int64_t{ 0 };
    }();
    return bytes;
}

// The fewest activation rows a pass is worth: each weight streamed from memory once a pass is used by every row of
// it, and below this many rows the weights arrive more slowly than the tiles use them.
constexpr int64_t kMinPassRows    = 96;
// The rows of a pass read from L3, where half of L2 holds fewer than kMinPassRows.
constexpr int64_t kL3PassRows     = 255;
// The fewest tiles of a pass for which weights that the tile could read in place are copied because their rows
// collide in L1's sets (multiply()).
constexpr int64_t kMinCopiedTiles = 12;
// The bytes of one L1 way, the distance at which addresses fall into the same L1 set: 32 KiB 8-way and 48 KiB 12-way
// L1s (x86-64) have 4 KiB ways; 64 KiB 4-way (Neoverse, Cortex-A76 and later) and 128 KiB 8-way (Apple) have 16 KiB.
#if defined(__x86_64__)
constexpr size_t kL1WayBytes = 4096;
#else
constexpr size_t kL1WayBytes = 16384;
#endif

// The activation rows of one pass (a multiple of kActivationRows) for packed rows of row_bytes: as many as fill half of
// L2, so that the pass is read from L2 by every weight block. Where that is fewer than kMinPassRows (rows of more than
// about 5.4 KB with a 1 MiB L2: BF16-packed K above about 2700, such as the FFN's down projection, K = 8192, which gets
// 30 rows; F32-packed K above about 1350, so every product of a 2048-wide model on the FMA kernels) and the operating
// system reports an L3 that holds at least kMinPassRows of them in a quarter, the pass is kL3PassRows rows (or what
// that quarter holds), read from L3 instead. Measured on an AMD EPYC (Zen 4), with the weights still read in place
// (before chunks of rows colliding in L1's sets were copied): K = 8192 x N = 2048 x 510 rows on one core, 72-76% of
// vdpbf16ps's peak with 30-row passes, 80-81% with 255; in the scoring run the down projection took 10% fewer
// cycles (docs/performance.md, "BF16 on AVX-512 BF16 dot products").
inline int64_t pass_rows(int64_t row_bytes) {
    const auto rows_in = [&](int64_t bytes) {
        return bytes / row_bytes / kActivationRows * kActivationRows;
    };
    const int64_t l2_rows = std::max(kActivationRows, rows_in(l2_bytes() / 2));
    const int64_t l3_rows = std::min(kL3PassRows, rows_in(l3_bytes() / 4));
    return l2_rows >= kMinPassRows || l3_rows < kMinPassRows ? l2_rows : l3_rows;
}

// Values [k0, k1) of one weight row stored as the tile reads them, copied to dst (on a cache line).
template <class Element> inline void copy_chunk(const char * row, int64_t k0, int64_t k1, Element * dst) {
    std::memcpy(dst, reinterpret_cast<const Element *>(row) + k0, static_cast<size_t>(k1 - k0) * sizeof(Element));
}

// The first 64-byte boundary in v's storage (v holds at least 64 bytes more than is used).
template <class T> T * aligned64(std::vector<T> & v) {
    return reinterpret_cast<T *>((reinterpret_cast<uintptr_t>(v.data()) + 63) & ~uintptr_t{ 63 });
}

// Asks for one weight chunk (kWeightRows rows of row_bytes each, stride bytes apart) to be brought into L2, a share
// at a time: share() before each tile of the round that comes before the chunk's own, so that the first tile of
// that round finds its weights in cache. Without it that tile waits on memory, whose bandwidth is a fraction of
// what 8 weight rows read at once in lockstep ask for, while the round's other tiles read the chunk from L1.
class ChunkPrefetch {
  public:
    ChunkPrefetch() = default;

    ChunkPrefetch(const char * rows, size_t stride, int64_t row_bytes, int64_t shares) :
        rows_(rows),
        stride_(stride),
        row_lines_(row_bytes / kLine + 2),  // + a line for a start off a line boundary, one for a partial last line
        per_share_((kWeightRows * row_lines_ + shares - 1) / shares),
        row_(0) {}

    // The next share of lines, row by row (no division: this runs before every tile).
    void share() {
        for (int64_t n = 0; n < per_share_ && row_ < kWeightRows; n++) {
            __builtin_prefetch(rows_ + row_ * static_cast<int64_t>(stride_) + line_ * kLine, 0, 2);
            if (++line_ == row_lines_) {
                line_ = 0;
                row_++;
            }
        }
    }

  private:
    static constexpr int64_t kLine      = 64;
    const char *             rows_      = nullptr;
    size_t                   stride_    = 0;
    int64_t                  row_lines_ = 0;
    int64_t                  per_share_ = 0;
    int64_t                  row_       = kWeightRows;  // kWeightRows: nothing (left) to prefetch
    int64_t                  line_      = 0;
};

// dst: M rows of N floats (contiguous); src[0]: packed activations; src[1]: w. Counts its runs in Ops::runs.
//
// Blocking: the activation rows are taken in passes that fill half of L2 (or, for long rows, read from L3:
// pass_rows()), so that each pass is read from memory once and the weights once per pass; while one chunk's tiles
// run, the next chunk's weights are prefetched (ChunkPrefetch). Within a pass, each 8-row weight block is walked in chunks of
// K that fill half of L1 (8 rows x chunk), each chunk multiplied against every tile of the pass before
// the next, so the weights are read from L1 (where the 8 rows collide in L1's sets, only once the chunk is copied: see
// the staging below); the tiles' accumulators wait in a per-thread buffer between
// chunks. Every accumulator lane still sums its products in the order of K, so the chunking changes no bit
// of the result.
template <class Ops> GEMM_TARGET void multiply(ggml_tensor * dst, int ith, int nth, void *) {
    using Element                  = typename Ops::Element;
    const ggml_tensor * w          = dst->src[1];
    const ggml_tensor * packed     = dst->src[0];
    const int64_t       k          = w->ne[0];
    const int64_t       n_blocks   = w->ne[1] / kWeightRows;
    const int64_t       m          = ggml_nrows(dst);
    const int64_t       first      = n_blocks * ith / nth;
    const int64_t       last       = n_blocks * (ith + 1) / nth;
    const size_t        w_stride   = w->nb[1];
    const int64_t       w_elem     = static_cast<int64_t>(ggml_type_size(w->type));  // bytes of a stored weight
    const size_t        out_stride = dst->nb[1] / sizeof(float);
    const int64_t       ld         = packed_stride<Ops>(k);
    const int64_t       row_bytes  = ld * static_cast<int64_t>(sizeof(Element));
    const int64_t       pass_tiles = pass_rows(row_bytes) / kActivationRows;
    const int64_t       per_pass   = pass_tiles * kActivationRows;
    const int64_t       chunk_steps =
        std::max<int64_t>(1, l1_data_bytes() / 2 / kWeightRows / (Ops::kStep * sizeof(Element)));
    const int64_t    chunk        = std::min(k, chunk_steps * Ops::kStep);
    const auto *     activation   = static_cast<const Element *>(packed->data);
    const auto *     weights      = static_cast<const char *>(w->data);
    auto *           out          = static_cast<float *>(dst->data);
    // a vector load that does not start on a multiple of its own width splits across two cache lines
    constexpr size_t kVectorBytes = Ops::kLanes * sizeof(float);
    const bool misaligned = reinterpret_cast<uintptr_t>(weights) % kVectorBytes != 0 || w_stride % kVectorBytes != 0;
    if (ith == 0) {
        Ops::runs.fetch_add(1, std::memory_order_relaxed);
        if (misaligned && !Ops::kAlwaysStaged) {
            count_misaligned_weight_product();
        }
    }
    // the accumulators of one block's tiles (3 x 8 rows of vectors) per 3 activation rows of a pass, 64-byte
    // aligned; only needed when K takes more than one chunk
    constexpr int64_t               tile_floats = kActivationRows * kWeightRows * Ops::kLanes;
    thread_local std::vector<float> partials;
    if (chunk < k && partials.size() < static_cast<size_t>(pass_tiles * tile_floats + 16)) {
        partials.resize(pass_tiles * tile_floats + 16);
    }
    float * const partials_start = aligned64(partials);
    // Weights the tile does not read in place are staged, one chunk of the block's 8 rows at a time, into a
    // per-thread buffer on cache lines (row stride: the chunk) that every tile of the pass then reads: F16 and BF16
    // weights widened to F32 always; the others copied
    //   - when their rows do not start on multiples of the vector width (64 bytes on AVX-512: a file written with
    //     GGUF's default 32-byte alignment), where each vector load would otherwise touch two cache lines;
    //   - and when the row stride is a multiple of an L1 way (kL1WayBytes; on x86-64 4 KiB: a 2048-wide BF16 or
    //     1024-wide F32 row, and the FFN's 8192-wide rows): then value i of all 8 rows maps to the same L1 set,
    //     the chunk's 8 rows fill the ways of the sets it uses, and each activation line the tiles read evicts a
    //     weight line, so that the weights come from L2. Copied, the chunk is contiguous and takes half the ways of
    //     every set. Only in passes of at least kMinCopiedTiles tiles: a copy costs about what a tile does, and a
    //     pass of a few rows (the last layer's, a small decode step) reads the chunk too few times to repay it.
    //     Measured on an AMD EPYC (Zen 4), BF16 weights on 2 cores, K = 2048 x N = 8192: 2% faster copied with
    //     510 rows, 4.5% with 48, 3.5% slower with 24 and 5% with 6; K = 8192 x N = 2048 x 510 rows: 8% faster
    //     (docs/performance.md, "BF16 on AVX-512 BF16 dot products"). The AVX2 kernel's 3 x 4 tiles and the Arm
    //     kernel take the same rule unmeasured.
    // Staging moves no bit of the result.
    const bool    sets_collide   = w_stride % kL1WayBytes == 0 && !misaligned && !Ops::kAlwaysStaged;
    // whether the first pass, the largest, copies for that reason
    const bool    copies_for_sets =
        sets_collide && (std::min(m, per_pass) + kActivationRows - 1) / kActivationRows >= kMinCopiedTiles;
    const bool                        may_stage = Ops::kAlwaysStaged || misaligned || copies_for_sets;
    thread_local std::vector<Element> staging;
    if (may_stage && staging.size() < static_cast<size_t>(kWeightRows * chunk + 64)) {
        staging.resize(kWeightRows * chunk + 64);
    }
    Element * const staging_start = may_stage ? aligned64(staging) : nullptr;
    if (ith == 0 && copies_for_sets) {
        count_copied_weight_product();
    }
    for (int64_t pass = 0; pass < m; pass += per_pass) {
        const int64_t pass_end        = std::min(m, pass + per_pass);
        // the tiles of this pass: each K chunk is multiplied against all of them
        const int64_t pass_tiles_here = (pass_end - pass + kActivationRows - 1) / kActivationRows;
        const bool    staged = Ops::kAlwaysStaged || misaligned || (sets_collide && pass_tiles_here >= kMinCopiedTiles);
        for (int64_t nb = first; nb < last; nb++) {
            const char * wb = weights + nb * kWeightRows * w_stride;
            for (int64_t k0 = 0; k0 < k; k0 += chunk) {
                const int64_t k1        = std::min(k, k0 + chunk);
                const char *  wt        = wb + k0 * static_cast<int64_t>(sizeof(Element));
                size_t        wt_stride = w_stride;
                if (staged) {
                    for (int64_t j = 0; j < kWeightRows; j++) {
                        Ops::stage(wb + j * w_stride, k0, k1, staging_start + j * chunk);
                    }
                    wt        = reinterpret_cast<const char *>(staging_start);
                    wt_stride = chunk * sizeof(Element);
                }
                // the chunk after this one: the block's next, the next block's first, or the next pass's first
                int64_t next_nb = nb, next_k0 = k0 + chunk;
                if (next_k0 >= k) {
                    next_k0 = 0;
                    next_nb = nb + 1 < last ? nb + 1 : (pass_end < m ? first : last);
                }
                ChunkPrefetch prefetch;
                if (next_nb < last) {
                    prefetch = ChunkPrefetch(weights + next_nb * kWeightRows * w_stride + next_k0 * w_elem, w_stride,
                                             (std::min(k, next_k0 + chunk) - next_k0) * w_elem, pass_tiles_here);
                }
                float * partial = partials_start;
                int64_t row     = pass;
                for (; row + kActivationRows <= pass_end; row += kActivationRows) {
                    prefetch.share();
                    block_tiles<Ops, kActivationRows>(activation + row * ld, ld, k, k0, k1, wt, wt_stride, partial,
                                                      out + row * out_stride + nb * kWeightRows, out_stride);
                    partial += tile_floats;
                }
                prefetch.share();
                if (pass_end - row == 2) {
                    block_tiles<Ops, 2>(activation + row * ld, ld, k, k0, k1, wt, wt_stride, partial,
                                        out + row * out_stride + nb * kWeightRows, out_stride);
                } else if (pass_end - row == 1) {
                    block_tiles<Ops, 1>(activation + row * ld, ld, k, k0, k1, wt, wt_stride, partial,
                                        out + row * out_stride + nb * kWeightRows, out_stride);
                }
            }
        }
    }
}

// Whether the kernel of Ops can multiply the weight w wherever it lies: a 2-D contiguous weight of Ops's stored type
// whose rows are a multiple of kStep long and whose row count is a multiple of 8 (weight_product_hook.cpp asks this
// of a weight before it is loaded).
template <class Ops> bool takes_weight(const ggml_tensor * w) {
    return w->type == Ops::kWeightType && w->ne[2] == 1 && w->ne[3] == 1 && ggml_is_contiguous(w) &&
           w->ne[0] % Ops::kStep == 0 && w->ne[1] % kWeightRows == 0;
}

// The two graph nodes of w x cur (see the header comment), or nullptr unless the kernel takes w, w lies in CPU
// memory and cur is an F32 activation of w's row length with contiguous rows. The result has cur's shape with N
// values a row; w is a source of the product node, so ggml's scheduler places the node by its weight as it does any
// weight product.
template <class Ops> ggml_tensor * build(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur) {
    if (!takes_weight<Ops>(w) || !weight_in_cpu_memory(w) || cur->type != GGML_TYPE_F32 || cur->ne[0] != w->ne[0] ||
        cur->nb[0] != sizeof(float)) {
        return nullptr;
    }
    ggml_tensor * pack_args[] = { cur };
    ggml_tensor * packed = ggml_custom_4d(ctx, Ops::kPackedType, packed_stride<Ops>(w->ne[0]), ggml_nrows(cur), 1, 1,
                                          pack_args, 1, pack<Ops>, GGML_N_TASKS_MAX, nullptr);
    ggml_tensor * mul_args[] = { packed, w };
    return ggml_custom_4d(ctx, GGML_TYPE_F32, w->ne[1], cur->ne[1], cur->ne[2], cur->ne[3], mul_args, 2, multiply<Ops>,
                          GGML_N_TASKS_MAX, nullptr);
}

// Whether the kernel of w's type takes w (takes_weight), for a kernel file with Ops for F32, F16 and BF16 weights
// (avx512_f32_matmul.cpp, avx2_matmul.cpp, neon_matmul.cpp); false for other types.
template <class F32Ops, class F16Ops, class Bf16Ops> bool takes_weight_for_type(const ggml_tensor * w) {
    switch (w->type) {
        case GGML_TYPE_BF16:
            return takes_weight<Bf16Ops>(w);
        case GGML_TYPE_F16:
            return takes_weight<F16Ops>(w);
        case GGML_TYPE_F32:
            return takes_weight<F32Ops>(w);
        default:
            return false;
    }
}

// The two graph nodes of w x cur on the kernel of w's type, for a kernel file with Ops for F32, F16 and BF16 weights
// (avx512_f32_matmul.cpp, avx2_matmul.cpp, neon_matmul.cpp), or nullptr as build() gives it.
template <class F32Ops, class F16Ops, class Bf16Ops>
ggml_tensor * build_for_type(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur) {
    switch (w->type) {
        case GGML_TYPE_BF16:
            return build<Bf16Ops>(ctx, w, cur);
        case GGML_TYPE_F16:
            return build<F16Ops>(ctx, w, cur);
        case GGML_TYPE_F32:
            return build<F32Ops>(ctx, w, cur);
        default:
            return nullptr;
    }
}

}  // namespace
}  // namespace tiled_gemm
