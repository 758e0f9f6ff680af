// matmul.hip: out[n, m] = sum_k w[k, n] * x[k, m] (ggml_mul_mat(w, x)).
//
// w is [K, N] in any weight type, kept in its GGUF block layout (a row of K
// elements is row_bytes bytes); x is [K, M] F32 or F16; out is [N, M] F32.
// Everything is accumulated in f32 from f32 activations (F16 x is widened
// exactly), so the only difference from the CPU oracle is summation order.
//
// Three kernels per (weight type, activation type), named
// matmul_<wtype>_<xtype>_<variant>:
//   gemv   M == 1 (decode): matrix-vector, bandwidth-bound. One warp per
//          output row; the lanes spread over the row's runs of 8 elements
//          (quantized) or its elements (float), each decoding its run and
//          dotting it with x, then a warp reduction. Block = RF_GEMV_WARPS
//          warps = as many rows.
//   gemvn  2 <= M <= RF_GEMV_MAX_M: the same, every decoded weight is used
//          for all M columns (M accumulators per lane).
//   tile   larger M (prefill): a 64 x 64 output tile per block of 256
//          threads, K in slabs of 32: the block decodes the 64 x 32 weight
//          slab into shared memory as f32 (one run of 8 per thread), loads
//          the 32 x 64 activation slab, and each thread accumulates a 4 x 4
//          register block.
//
// The host (crates/backend-hip/src/ops/matmul.rs) guarantees: K, N, M and
// K * M, N * M fit in i32; K is a whole number of blocks; the weight rows
// are aligned as the format's loads assume (quant.h ALIGN).
//
// What faster versions would do (correct everywhere first):
// - gemv: wider weight loads (whole 32-element groups per lane with 16-byte
//   loads where the format allows), x staged in shared memory, more warps
//   per row when N is small, and integer dot products on 8-bit-quantized
//   activations (dp4a / sdot4, as ggml's MMVQ) for the quantized formats.
// - tile: tensor cores (mma.sync f16/bf16 on NVIDIA, MFMA/WMMA on AMD) on an
//   f16 copy of the dequantized slab, double-buffered slabs, and 8 x 8
//   register blocks with vectorized shared-memory reads.
#include "common/compat.h"
#include "common/quant.h"

#define RF_GEMV_WARPS 4
#define RF_GEMV_MAX_M 8

#define RF_TILE_N 64
#define RF_TILE_M 64
#define RF_TILE_K 32
#define RF_TILE_THREADS 256

// Activation element i as f32.
RF_DEVICE float rf_x_load(const float* x, int i) {
    return x[i];
}
RF_DEVICE float rf_x_load(const rf_u16* x, int i) {
    return rf_f16_to_f32(x[i]);
}

// 16 bytes, for vector loads without the toolkit's float4/uint4.
struct alignas(16) rf_b128 {
    rf_u32 w[4];
};

// Activations x[0..8] as f32; `vec`: x is 16-byte aligned, so one or two
// 16-byte loads fetch them. The matrix-vector kernels' lanes each read 8
// consecutive activations, so the scalar form costs 8 load instructions
// whose addresses are 32 bytes apart across the warp, the vector form 1-2
// (the difference between an L1-bound and a bandwidth-bound kernel).
RF_DEVICE void rf_x_load8(const float* x, bool vec, float* xv) {
    if (vec) {
        const rf_b128 a = ((const rf_b128*)x)[0], b = ((const rf_b128*)x)[1];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            xv[i] = rf_u32_as_f32(a.w[i]);
            xv[4 + i] = rf_u32_as_f32(b.w[i]);
        }
    } else {
#pragma unroll
        for (int i = 0; i < 8; ++i) xv[i] = x[i];
    }
}
RF_DEVICE void rf_x_load8(const rf_u16* x, bool vec, float* xv) {
    if (vec) {
        const rf_b128 a = *(const rf_b128*)x;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            xv[2 * i] = rf_f16_to_f32((rf_u16)(a.w[i] & 0xffffu));
            xv[2 * i + 1] = rf_f16_to_f32((rf_u16)(a.w[i] >> 16));
        }
    } else {
#pragma unroll
        for (int i = 0; i < 8; ++i) xv[i] = rf_f16_to_f32(x[i]);
    }
}

// ---- matrix-vector: quantized weights ----------------------------------------

template <class Q, class XT, int NC>
RF_DEVICE void matmul_gemv_q(const rf_u8* w, const XT* x, float* out, int K, int N, int M, rf_u64 row_bytes) {
    const int lane = threadIdx.x % RF_WARP_SIZE;
    const int n = blockIdx.x * RF_GEMV_WARPS + threadIdx.x / RF_WARP_SIZE;
    if (n >= N) return;  // the whole warp leaves together: shuffles below stay full-warp
    const rf_u8* row = w + (rf_u64)n * row_bytes;
    const int runs = K / 8;
    const int cols = NC == 1 ? 1 : M;
    // K is a multiple of 32 here, so when x starts 16-byte aligned every
    // run's 8 activations of every column are too (uniform over the grid).
    const bool xvec = (rf_u64)x % 16 == 0;
    float acc[NC];
#pragma unroll
    for (int j = 0; j < NC; ++j) acc[j] = 0.0f;

#pragma unroll 2
    for (int r = lane; r < runs; r += RF_WARP_SIZE) {
        float v[8];
        Q::run(row + (rf_u64)(r / (Q::QK / 8)) * Q::BYTES, r % (Q::QK / 8), v);
        const int k0 = 8 * r;
#pragma unroll
        for (int j = 0; j < NC; ++j) {
            if (j < cols) {
                float xv[8];
                rf_x_load8(x + (rf_u64)j * K + k0, xvec, xv);
                float s = acc[j];
#pragma unroll
                for (int i = 0; i < 8; ++i) s += v[i] * xv[i];
                acc[j] = s;
            }
        }
    }
#pragma unroll
    for (int j = 0; j < NC; ++j) {
        if (j < cols) {
            const float s = rf_warp_sum(acc[j]);
            if (lane == 0) out[(rf_u64)j * N + n] = s;
        }
    }
}

// ---- matrix-vector: float weights (any K) ------------------------------------

template <class F, class XT, int NC>
RF_DEVICE void matmul_gemv_f(const rf_u8* w, const XT* x, float* out, int K, int N, int M, rf_u64 row_bytes) {
    const int lane = threadIdx.x % RF_WARP_SIZE;
    const int n = blockIdx.x * RF_GEMV_WARPS + threadIdx.x / RF_WARP_SIZE;
    if (n >= N) return;
    const rf_u8* row = w + (rf_u64)n * row_bytes;
    const int cols = NC == 1 ? 1 : M;
    float acc[NC];
#pragma unroll
    for (int j = 0; j < NC; ++j) acc[j] = 0.0f;

#pragma unroll 4
    for (int k = lane; k < K; k += RF_WARP_SIZE) {
        const float wv = F::load(row, k);
#pragma unroll
        for (int j = 0; j < NC; ++j) {
            if (j < cols) acc[j] += wv * rf_x_load(x + (rf_u64)j * K, k);
        }
    }
#pragma unroll
    for (int j = 0; j < NC; ++j) {
        if (j < cols) {
            const float s = rf_warp_sum(acc[j]);
            if (lane == 0) out[(rf_u64)j * N + n] = s;
        }
    }
}

// ---- tiled: shared parts -----------------------------------------------------

// The x slab: xs[kk][mm] = x[m0 + mm, k0 + kk] (0 outside the matrix).
template <class XT>
RF_DEVICE void matmul_tile_load_x(float (*xs)[RF_TILE_M + 1], const XT* x, int K, int M, int k0, int m0) {
    const int t = threadIdx.x;
    const int kk = t % RF_TILE_K;
    const int k = k0 + kk;
#pragma unroll
    for (int i = 0; i < RF_TILE_M * RF_TILE_K / RF_TILE_THREADS; ++i) {
        const int mm = t / RF_TILE_K + i * (RF_TILE_THREADS / RF_TILE_K);
        const int m = m0 + mm;
        xs[kk][mm] = (m < M && k < K) ? rf_x_load(x + (rf_u64)m * K, k) : 0.0f;
    }
}

// acc[i][j] += sum_kk ws[kk][tx + 16 i] * xs[kk][ty + 16 j]: within a warp
// tx runs over 16 consecutive rows (no bank conflicts) and ty over at most
// a few columns (broadcasts).
RF_DEVICE void matmul_tile_fma(const float (*ws)[RF_TILE_N + 1], const float (*xs)[RF_TILE_M + 1], float (*acc)[4],
                               int tx, int ty) {
#pragma unroll 8
    for (int kk = 0; kk < RF_TILE_K; ++kk) {
        float a[4], b[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) a[i] = ws[kk][tx + 16 * i];
#pragma unroll
        for (int j = 0; j < 4; ++j) b[j] = xs[kk][ty + 16 * j];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
    }
}

RF_DEVICE void matmul_tile_store(float* out, const float (*acc)[4], int N, int M, int n0, int m0, int tx, int ty) {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const int m = m0 + ty + 16 * j;
        if (m >= M) continue;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int n = n0 + tx + 16 * i;
            if (n < N) out[(rf_u64)m * N + n] = acc[i][j];
        }
    }
}

// ---- tiled: quantized weights ------------------------------------------------
// K is a multiple of 32, and a slab of 32 lies inside one block: each of the
// 256 threads decodes one run (row t / 4, run t % 4 of the slab).

template <class Q, class XT>
RF_DEVICE void matmul_tile_q(const rf_u8* w, const XT* x, float* out, int K, int N, int M, rf_u64 row_bytes) {
    __shared__ float ws[RF_TILE_K][RF_TILE_N + 1];
    __shared__ float xs[RF_TILE_K][RF_TILE_M + 1];
    const int t = threadIdx.x;
    const int tx = t % 16, ty = t / 16;
    const int n0 = blockIdx.x * RF_TILE_N, m0 = blockIdx.y * RF_TILE_M;
    const int wrow = t / 4, wrun = t % 4;
    const bool row_ok = n0 + wrow < N;
    const rf_u8* row = w + (rf_u64)(row_ok ? n0 + wrow : 0) * row_bytes;
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < K; k0 += RF_TILE_K) {
        float v[8];
        if (row_ok) {
            Q::run(row + (rf_u64)(k0 / Q::QK) * Q::BYTES, (k0 % Q::QK) / 8 + wrun, v);
        } else {
#pragma unroll
            for (int i = 0; i < 8; ++i) v[i] = 0.0f;
        }
#pragma unroll
        for (int i = 0; i < 8; ++i) ws[8 * wrun + i][wrow] = v[i];
        matmul_tile_load_x<XT>(xs, x, K, M, k0, m0);
        __syncthreads();
        matmul_tile_fma(ws, xs, acc, tx, ty);
        __syncthreads();
    }
    matmul_tile_store(out, acc, N, M, n0, m0, tx, ty);
}

// ---- tiled: float weights (any K) --------------------------------------------

template <class F, class XT>
RF_DEVICE void matmul_tile_f(const rf_u8* w, const XT* x, float* out, int K, int N, int M, rf_u64 row_bytes) {
    __shared__ float ws[RF_TILE_K][RF_TILE_N + 1];
    __shared__ float xs[RF_TILE_K][RF_TILE_M + 1];
    const int t = threadIdx.x;
    const int tx = t % 16, ty = t / 16;
    const int n0 = blockIdx.x * RF_TILE_N, m0 = blockIdx.y * RF_TILE_M;
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

    const int kk = t % RF_TILE_K;
    for (int k0 = 0; k0 < K; k0 += RF_TILE_K) {
        const int k = k0 + kk;
#pragma unroll
        for (int i = 0; i < RF_TILE_N * RF_TILE_K / RF_TILE_THREADS; ++i) {
            const int nn = t / RF_TILE_K + i * (RF_TILE_THREADS / RF_TILE_K);
            const int n = n0 + nn;
            ws[kk][nn] = (n < N && k < K) ? F::load(w + (rf_u64)n * row_bytes, k) : 0.0f;
        }
        matmul_tile_load_x<XT>(xs, x, K, M, k0, m0);
        __syncthreads();
        matmul_tile_fma(ws, xs, acc, tx, ty);
        __syncthreads();
    }
    matmul_tile_store(out, acc, N, M, n0, m0, tx, ty);
}

// ---- entry points --------------------------------------------------------------
// Every kernel takes (w, x, out, K, N, M, row_bytes). Launch shapes:
//   gemv, gemvn: grid (ceil(N / RF_GEMV_WARPS)), block RF_GEMV_WARPS * RF_WARP_SIZE
//   tile:        grid (ceil(N / 64), ceil(M / 64)), block 256
// The instances are listed one per line: weight type, activation type.

#define RF_MATMUL_PARAMS \
    const rf_u8 *__restrict__ w, const void *__restrict__ x, float *__restrict__ out, int K, int N, int M, rf_u64 row_bytes

#define RF_MATMUL_Q(WNAME, WQ, XNAME, XT)                                                           \
    extern "C" __global__ void matmul_##WNAME##_##XNAME##_gemv(RF_MATMUL_PARAMS) {                 \
        matmul_gemv_q<WQ, XT, 1>(w, (const XT*)x, out, K, N, M, row_bytes);                       \
    }                                                                                               \
    extern "C" __global__ void matmul_##WNAME##_##XNAME##_gemvn(RF_MATMUL_PARAMS) {                \
        matmul_gemv_q<WQ, XT, RF_GEMV_MAX_M>(w, (const XT*)x, out, K, N, M, row_bytes);           \
    }                                                                                               \
    extern "C" __global__ void matmul_##WNAME##_##XNAME##_tile(RF_MATMUL_PARAMS) {                 \
        matmul_tile_q<WQ, XT>(w, (const XT*)x, out, K, N, M, row_bytes);                           \
    }

#define RF_MATMUL_F(WNAME, WF, XNAME, XT)                                                           \
    extern "C" __global__ void matmul_##WNAME##_##XNAME##_gemv(RF_MATMUL_PARAMS) {                 \
        matmul_gemv_f<WF, XT, 1>(w, (const XT*)x, out, K, N, M, row_bytes);                       \
    }                                                                                               \
    extern "C" __global__ void matmul_##WNAME##_##XNAME##_gemvn(RF_MATMUL_PARAMS) {                \
        matmul_gemv_f<WF, XT, RF_GEMV_MAX_M>(w, (const XT*)x, out, K, N, M, row_bytes);           \
    }                                                                                               \
    extern "C" __global__ void matmul_##WNAME##_##XNAME##_tile(RF_MATMUL_PARAMS) {                 \
        matmul_tile_f<WF, XT>(w, (const XT*)x, out, K, N, M, row_bytes);                           \
    }

RF_MATMUL_F(f32, rf_w_f32, f32, float)
RF_MATMUL_F(f32, rf_w_f32, f16, rf_u16)
RF_MATMUL_F(f16, rf_w_f16, f32, float)
RF_MATMUL_F(f16, rf_w_f16, f16, rf_u16)
RF_MATMUL_F(bf16, rf_w_bf16, f32, float)
RF_MATMUL_F(bf16, rf_w_bf16, f16, rf_u16)
RF_MATMUL_Q(q4_0, rf_q4_0, f32, float)
RF_MATMUL_Q(q4_0, rf_q4_0, f16, rf_u16)
RF_MATMUL_Q(q4_1, rf_q4_1, f32, float)
RF_MATMUL_Q(q4_1, rf_q4_1, f16, rf_u16)
RF_MATMUL_Q(q5_0, rf_q5_0, f32, float)
RF_MATMUL_Q(q5_0, rf_q5_0, f16, rf_u16)
RF_MATMUL_Q(q5_1, rf_q5_1, f32, float)
RF_MATMUL_Q(q5_1, rf_q5_1, f16, rf_u16)
RF_MATMUL_Q(q8_0, rf_q8_0, f32, float)
RF_MATMUL_Q(q8_0, rf_q8_0, f16, rf_u16)
RF_MATMUL_Q(q2_K, rf_q2_K, f32, float)
RF_MATMUL_Q(q2_K, rf_q2_K, f16, rf_u16)
RF_MATMUL_Q(q3_K, rf_q3_K, f32, float)
RF_MATMUL_Q(q3_K, rf_q3_K, f16, rf_u16)
RF_MATMUL_Q(q4_K, rf_q4_K, f32, float)
RF_MATMUL_Q(q4_K, rf_q4_K, f16, rf_u16)
RF_MATMUL_Q(q5_K, rf_q5_K, f32, float)
RF_MATMUL_Q(q5_K, rf_q5_K, f16, rf_u16)
RF_MATMUL_Q(q6_K, rf_q6_K, f32, float)
RF_MATMUL_Q(q6_K, rf_q6_K, f16, rf_u16)
