// BF16 weight x F32 activation products on Intel AMX tiles. See
// amx_bf16_matmul.h for when it applies.
//
// The product w x cur (w: N rows of K BF16 values, cur: M rows of K F32
// values, result: M rows of N F32 values) becomes two ggml custom ops:
//   1. pack: cur rounded to BF16 (round to nearest even, as ggml does) in
//      the tiles' pair layout: blocks of 16 rows, each block K/2 lines of
//      16 rows x 2 consecutive values (64 bytes a line), zero rows padding M
//      to a multiple of 32;
//   2. gemm: each thread takes a share of the weight's 32-row blocks; a tile
//      of 16 weight rows x 32 values (read in place, no repacked copy) times
//      a tile of 16 packed lines gives 16 x 16 F32 sums. Four accumulators
//      cover 32 weight rows x 32 activation rows; K is walked in order, so a
//      row's result does not depend on the other rows of the batch.
// The graph dependency between the two ops is the barrier between packing
// and multiplying.
#include "amx_bf16_matmul.h"

#include "ggml.h"

#if defined(LLAMA_REWARD_AMX_BF16) && defined(__x86_64__) && defined(__linux__)
#    include "hook_tensors.h"
#    include "kernel_switch.h"

#    include <cpuid.h>
#    include <immintrin.h>
#    include <sys/syscall.h>
#    include <unistd.h>

#    include <algorithm>
#    include <cstdint>
#    include <cstdlib>
#    include <cstring>

namespace {

constexpr int64_t kTileRows           = 16;
constexpr int64_t kTileK              = 32;             // BF16 values in a 64-byte tile line
constexpr int64_t kBlockRows          = 2 * kTileRows;  // weight rows and activation rows per step
// Activation blocks multiplied against one weight block before moving on:
// the packed activations they span stay in L2 while weight rows stream.
constexpr int64_t kPackedBytesPerPass = 768 * 1024;

struct TileConfig {
    uint8_t  palette_id;
    uint8_t  start_row;
    uint8_t  reserved[14];
    uint16_t colsb[16];
    uint8_t  rows[16];
};

uint16_t to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffff) > 0x7f800000) {
        return static_cast<uint16_t>((u >> 16) | 64);  // quiet NaN
    }
    u += 0x7fff + ((u >> 16) & 1);
    return static_cast<uint16_t>(u >> 16);
}

int64_t padded_rows(int64_t m) {
    return (m + kBlockRows - 1) / kBlockRows * kBlockRows;
}

// dst: packed activations; src[0]: cur.
void pack_activations(ggml_tensor * dst, int ith, int nth, void *) {
    const ggml_tensor * cur    = dst->src[0];
    const int64_t       k      = cur->ne[0];
    const int64_t       m      = ggml_nrows(cur);
    const int64_t       blocks = padded_rows(m) / kTileRows;
    auto *              out    = static_cast<uint16_t *>(dst->data);
    for (int64_t b = ith; b < blocks; b += nth) {
        uint16_t * block = out + b * k * kTileRows;
        for (int64_t r = 0; r < kTileRows; r++) {
            const int64_t row = b * kTileRows + r;
            if (row >= m) {
                for (int64_t p = 0; p < k / 2; p++) {
                    block[p * 2 * kTileRows + 2 * r]     = 0;
                    block[p * 2 * kTileRows + 2 * r + 1] = 0;
                }
                continue;
            }
            const auto * x = reinterpret_cast<const float *>(row_of(cur, row));
            for (int64_t p = 0; p < k / 2; p++) {
                block[p * 2 * kTileRows + 2 * r]     = to_bf16(x[2 * p]);
                block[p * 2 * kTileRows + 2 * r + 1] = to_bf16(x[2 * p + 1]);
            }
        }
    }
}

// Loads this kernel's tile configuration for the scope and puts back the thread's previous one after:
// ggml's own AMX kernels (quantized weights) load theirs once per thread and keep relying on it.
class TileScope {
  public:
    TileScope() {
        _tile_storeconfig(&saved_);
        alignas(64) TileConfig cfg{};
        cfg.palette_id = 1;
        for (int t = 0; t < 8; t++) {
            cfg.rows[t]  = kTileRows;
            cfg.colsb[t] = 64;
        }
        // GCC 12's _tile_loadconfig tells the optimizer it reads only the first 8 bytes, so it may drop the
        // stores of the row counts and widths (ggml's AMX int8 kernel crashed so; docs/installing.md).
        // The barrier makes every byte of the configuration reach memory first.
        asm volatile("" : : "r"(&cfg) : "memory");
        _tile_loadconfig(&cfg);
    }

    ~TileScope() {
        if (saved_.palette_id != 0) {
            _tile_loadconfig(&saved_);
        } else {
            _tile_release();
        }
    }

    TileScope(const TileScope &)             = delete;
    TileScope & operator=(const TileScope &) = delete;

  private:
    alignas(64) TileConfig saved_{};
};

// dst: M rows of N floats; src[0]: w; src[1]: packed activations.
void multiply(ggml_tensor * dst, int ith, int nth, void *) {
    const ggml_tensor * w          = dst->src[0];
    const ggml_tensor * packed     = dst->src[1];
    const int64_t       k          = w->ne[0];
    const int64_t       n_blocks   = w->ne[1] / kBlockRows;
    const int64_t       m          = ggml_nrows(dst);
    const int64_t       m_blocks   = padded_rows(m) / kBlockRows;
    const int64_t       first      = n_blocks * ith / nth;
    const int64_t       last       = n_blocks * (ith + 1) / nth;
    const size_t        w_stride   = w->nb[1];
    const int64_t       per_pass   = std::max<int64_t>(1, kPackedBytesPerPass / (k * 2 * kBlockRows));
    const auto *        activation = static_cast<const uint16_t *>(packed->data);
    const auto *        weights    = static_cast<const char *>(w->data);
    if (first >= last) {
        return;
    }

    const TileScope   tiles;
    alignas(64) float sums[4][kTileRows][kTileRows];
    for (int64_t pass = 0; pass < m_blocks; pass += per_pass) {
        const int64_t pass_end = std::min(m_blocks, pass + per_pass);
        for (int64_t nb = first; nb < last; nb++) {
            const char * w0 = weights + nb * kBlockRows * w_stride;
            const char * w1 = w0 + kTileRows * w_stride;
            for (int64_t mb = pass; mb < pass_end; mb++) {
                const uint16_t * a0 = activation + (2 * mb) * k * kTileRows;
                const uint16_t * a1 = a0 + k * kTileRows;
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
                for (int64_t kk = 0; kk < k; kk += kTileK) {
                    _tile_loadd(4, w0 + kk * 2, w_stride);
                    _tile_loadd(5, w1 + kk * 2, w_stride);
                    _tile_loadd(6, a0 + kk * kTileRows, 64);
                    _tile_loadd(7, a1 + kk * kTileRows, 64);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
                _tile_stored(0, sums[0], 64);
                _tile_stored(1, sums[1], 64);
                _tile_stored(2, sums[2], 64);
                _tile_stored(3, sums[3], 64);
                // sums[2 * wi + ai][i][j]: weight row nb*32 + wi*16 + i, activation row mb*32 + ai*16 + j
                for (int ai = 0; ai < 2; ai++) {
                    for (int64_t j = 0; j < kTileRows; j++) {
                        const int64_t row = mb * kBlockRows + ai * kTileRows + j;
                        if (row >= m) {
                            break;
                        }
                        auto * out = reinterpret_cast<float *>(static_cast<char *>(dst->data) + row * dst->nb[1]) +
                                     nb * kBlockRows;
                        for (int wi = 0; wi < 2; wi++) {
                            for (int64_t i = 0; i < kTileRows; i++) {
                                out[wi * kTileRows + i] = sums[2 * wi + ai][i][j];
                            }
                        }
                    }
                }
            }
        }
    }
}

bool cpu_has_amx_bf16() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
        return false;
    }
    const bool amx_bf16 = (edx >> 22) & 1;
    const bool amx_tile = (edx >> 24) & 1;
    return amx_bf16 && amx_tile;
}

bool tile_state_granted() {
    constexpr long arch_req_xcomp_perm = 0x1023;
    constexpr long xfeature_xtiledata  = 18;
    return syscall(SYS_arch_prctl, arch_req_xcomp_perm, xfeature_xtiledata) == 0;
}

}  // namespace

bool amx_bf16_available() {
    static const bool available =
        !kernel_switched_off("LLAMA_REWARD_AMX_BF16") && cpu_has_amx_bf16() && tile_state_granted();
    return available;
}

bool amx_bf16_takes_weight(const ggml_tensor * w) {
    return w->type == GGML_TYPE_BF16 && w->ne[2] == 1 && w->ne[3] == 1 && ggml_is_contiguous(w) &&
           w->ne[0] % kTileK == 0 && w->ne[1] % kBlockRows == 0 && amx_bf16_available();
}

ggml_tensor * amx_bf16_mul_mat(ggml_context * ctx, ggml_tensor * w, ggml_tensor * cur) {
    if (!amx_bf16_takes_weight(w) || !weight_in_cpu_memory(w) || cur->type != GGML_TYPE_F32 || cur->ne[0] != w->ne[0] ||
        cur->nb[0] != sizeof(float)) {
        return nullptr;
    }
    const int64_t m           = ggml_nrows(cur);
    ggml_tensor * pack_args[] = { cur };
    ggml_tensor * packed      = ggml_custom_4d(ctx, GGML_TYPE_BF16, w->ne[0], padded_rows(m), 1, 1, pack_args, 1,
                                               pack_activations, GGML_N_TASKS_MAX, nullptr);
    ggml_tensor * mul_args[]  = { w, packed };
    return ggml_custom_4d(ctx, GGML_TYPE_F32, w->ne[1], cur->ne[1], cur->ne[2], cur->ne[3], mul_args, 2, multiply,
                          GGML_N_TASKS_MAX, nullptr);
}

#else

bool amx_bf16_available() {
    return false;
}

bool amx_bf16_takes_weight(const ggml_tensor *) {
    return false;
}

ggml_tensor * amx_bf16_mul_mat(ggml_context *, ggml_tensor *, ggml_tensor *) {
    return nullptr;
}

#endif
