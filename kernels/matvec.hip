// matvec.hip: out[n, m] = sum_k w[k, n] * x[k, m] for few columns M (decode).
//
// The bandwidth-bound half of the matmul op (ops/matvec.rs; the GEMM half
// for prefill is matmul.hip). w is [K, N] in any weight type, kept in its
// GGUF block layout (a row of K elements is row_bytes bytes); x is [K, M]
// F32 or F16; out is [N, M] F32, accumulated in f32 from f32 activations.
//
// Two kernels per (weight type, activation type), named
// matmul_<wtype>_<xtype>_<variant>:
//   gemv   M == 1: one warp per output row; the lanes spread over the row's
//          runs of 8 elements (quantized) or its elements (float), each
//          decoding its run and dotting it with x, then a warp reduction.
//          Block = RF_GEMV_WARPS warps = as many rows.
//   gemvn  2 <= M <= RF_GEMV_MAX_M: the same, every decoded weight is used
//          for all M columns (M accumulators per lane).
//
// The host guarantees: K, N, M and K * M, N * M fit in i32; K is a whole
// number of blocks; the weight rows are aligned as the format's loads
// assume (quant.h ALIGN).
#include "common/compat.h"
#include "common/quant.h"
#include "common/activations.h"

#define RF_GEMV_WARPS 4
#define RF_GEMV_MAX_M 8

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

// ---- entry points --------------------------------------------------------------
// Every kernel takes (w, x, out, K, N, M, row_bytes); launch shape: grid
// (ceil(N / RF_GEMV_WARPS)), block RF_GEMV_WARPS * RF_WARP_SIZE. One line
// per (weight type, activation type).

#define RF_MATVEC_PARAMS \
    const rf_u8 *__restrict__ w, const void *__restrict__ x, float *__restrict__ out, int K, int N, int M, rf_u64 row_bytes

#define RF_MATVEC(KIND, WNAME, WT, XNAME, XT)                                                       \
    extern "C" __global__ void matmul_##WNAME##_##XNAME##_gemv(RF_MATVEC_PARAMS) {                 \
        matmul_gemv_##KIND<WT, XT, 1>(w, (const XT*)x, out, K, N, M, row_bytes);                  \
    }                                                                                               \
    extern "C" __global__ void matmul_##WNAME##_##XNAME##_gemvn(RF_MATVEC_PARAMS) {                \
        matmul_gemv_##KIND<WT, XT, RF_GEMV_MAX_M>(w, (const XT*)x, out, K, N, M, row_bytes);      \
    }

RF_MATVEC(f, f32, rf_w_f32, f32, float)
RF_MATVEC(f, f32, rf_w_f32, f16, rf_u16)
RF_MATVEC(f, f16, rf_w_f16, f32, float)
RF_MATVEC(f, f16, rf_w_f16, f16, rf_u16)
RF_MATVEC(f, bf16, rf_w_bf16, f32, float)
RF_MATVEC(f, bf16, rf_w_bf16, f16, rf_u16)
RF_MATVEC(q, q4_0, rf_q4_0, f32, float)
RF_MATVEC(q, q4_0, rf_q4_0, f16, rf_u16)
RF_MATVEC(q, q4_1, rf_q4_1, f32, float)
RF_MATVEC(q, q4_1, rf_q4_1, f16, rf_u16)
RF_MATVEC(q, q5_0, rf_q5_0, f32, float)
RF_MATVEC(q, q5_0, rf_q5_0, f16, rf_u16)
RF_MATVEC(q, q5_1, rf_q5_1, f32, float)
RF_MATVEC(q, q5_1, rf_q5_1, f16, rf_u16)
RF_MATVEC(q, q8_0, rf_q8_0, f32, float)
RF_MATVEC(q, q8_0, rf_q8_0, f16, rf_u16)
RF_MATVEC(q, q2_K, rf_q2_K, f32, float)
RF_MATVEC(q, q2_K, rf_q2_K, f16, rf_u16)
RF_MATVEC(q, q3_K, rf_q3_K, f32, float)
RF_MATVEC(q, q3_K, rf_q3_K, f16, rf_u16)
RF_MATVEC(q, q4_K, rf_q4_K, f32, float)
RF_MATVEC(q, q4_K, rf_q4_K, f16, rf_u16)
RF_MATVEC(q, q5_K, rf_q5_K, f32, float)
RF_MATVEC(q, q5_K, rf_q5_K, f16, rf_u16)
RF_MATVEC(q, q6_K, rf_q6_K, f32, float)
RF_MATVEC(q, q6_K, rf_q6_K, f16, rf_u16)
