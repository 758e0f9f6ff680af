// matvec.hip: out[n, m] = sum_k w[k, n] * x[k, m] for few columns M (decode).
//
// The bandwidth-bound half of the matmul op (ops/matvec.rs; the GEMM half
// for prefill is matmul.hip). w is [K, N] in any weight type, kept in its
// GGUF block layout (a row of K elements is row_bytes bytes); x is [K, M]
// F32 or F16; out is [N, M] F32, accumulated in f32 from f32 activations.
//
// Two kernels per (weight type, activation type), named
// matmul_<wtype>_<xtype>_<variant>:
//   gemv   M == 1. A block of RF_GEMV_WARPS warps takes RF_GEMV_ROWS rows;
//          its threads walk the rows' runs of 8 elements together (thread
//          t: runs t, t + threads, ...), each loading its 8 activations
//          once and dotting them with the run decoded from every row, then
//          warp and block reductions. Sharing activations across rows
//          matters: a 4.5-bit format at full bandwidth would otherwise need
//          ~7x its own bytes of f32 activations per clock from L1. Float
//          weights whose rows are whole 16-byte aligned runs of 8 take the
//          same loop with 16-byte loads; others one warp per row, lanes over
//          its elements.
//   gemvn  2 <= M <= RF_GEMV_MAX_M: the same, every decoded weight is used
//          for all M columns (M accumulators per row and thread).
//
// Launch: grid ceil(N / 4), block RF_GEMV_WARPS * RF_WARP_SIZE (4 rows per
// block for both kinds).
//
// Measured on the H200 (2026-11-30, ncu): the quantized kernels reach only
// ~12% of DRAM bandwidth at 7B shapes, stalled on L1TEX scoreboards with
// ~18 instructions per element and row (F16 reaches 88%). Variants tried
// and dropped because they measured no faster end to end: scales factored
// out of the run (d * sum(q x) - m * sum(x)) with integers turned into
// floats through the mantissa of 2^23; a Q4_K loop over 64-element units
// with 16-byte loads; a barrier-free layout with 2 rows per warp. The way
// forward is what ggml's MMVQ does: activations quantized to 8 bits once
// per matmul and integer dot products (dp4a / sdot4) on whole blocks.
//
// The host guarantees: K, N, M and K * M, N * M fit in i32; K is a whole
// number of blocks; the weight rows are aligned as the format's loads
// assume (quant.h ALIGN).
#include "common/compat.h"
#include "common/quant.h"
#include "common/activations.h"

#define RF_GEMV_WARPS 4
#define RF_GEMV_ROWS 4  // weight rows per block
#define RF_GEMV_MAX_M 8
static_assert(RF_GEMV_ROWS == RF_GEMV_WARPS, "the host launches ceil(N / 4) blocks for both kernel kinds");

// ---- matrix-vector: runs of 8 ------------------------------------------------

// Sum each warp's partial dot products, then the warps' sums: thread i * NC
// + j of the block writes row n0 + i, column j.
template <int NC>
RF_DEVICE void matmul_gemv_reduce(float (*partial)[RF_GEMV_ROWS][NC], const float (*acc)[NC], float* out, int N,
                                  int cols, int n0, int lane, int warp) {
#pragma unroll
    for (int i = 0; i < RF_GEMV_ROWS; ++i) {
#pragma unroll
        for (int j = 0; j < NC; ++j) {
            const float s = rf_warp_sum(acc[i][j]);
            if (lane == 0) partial[warp][i][j] = s;
        }
    }
    __syncthreads();
    const int t = threadIdx.x;
    if (t < RF_GEMV_ROWS * NC) {
        const int i = t / NC, j = t % NC;
        if (n0 + i < N && j < cols) {
            float s = 0.0f;
#pragma unroll
            for (int w = 0; w < RF_GEMV_WARPS; ++w) s += partial[w][i][j];
            out[(rf_u64)j * N + n0 + i] = s;
        }
    }
}

// Run r (elements 8r .. 8r + 8) of a row, decoded to f32: `R::run(row, r, v)`.
template <class Q>
struct rf_runs_q {
    static RF_DEVICE void run(const rf_u8* row, int r, float* v) {
        Q::run(row + (rf_u64)(r / (Q::QK / 8)) * Q::BYTES, r % (Q::QK / 8), v);
    }
};

// Float rows with 16-byte loads (the row must be 16-byte aligned).
template <class F>
struct rf_runs_f;
template <>
struct rf_runs_f<rf_w_f32> {
    static RF_DEVICE void run(const rf_u8* row, int r, float* v) {
        rf_x_load8((const float*)row + 8 * r, true, v);
    }
};
template <>
struct rf_runs_f<rf_w_f16> {
    static RF_DEVICE void run(const rf_u8* row, int r, float* v) {
        rf_x_load8((const rf_u16*)row + 8 * r, true, v);
    }
};
template <>
struct rf_runs_f<rf_w_bf16> {
    static RF_DEVICE void run(const rf_u8* row, int r, float* v) {
        const rf_b128 a = ((const rf_b128*)row)[r];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            v[2 * i] = rf_bf16_to_f32((rf_u16)(a.w[i] & 0xffffu));
            v[2 * i + 1] = rf_bf16_to_f32((rf_u16)(a.w[i] >> 16));
        }
    }
};

// Rows of runs of 8 (K a multiple of 8), RF_GEMV_ROWS rows per block.
template <class R, class XT, int NC>
RF_DEVICE void matmul_gemv_runs(const rf_u8* w, const XT* x, float* out, int K, int N, int M, rf_u64 row_bytes) {
    __shared__ float partial[RF_GEMV_WARPS][RF_GEMV_ROWS][NC];
    const int t = threadIdx.x;
    const int lane = t % RF_WARP_SIZE, warp = t / RF_WARP_SIZE;
    const int n0 = blockIdx.x * RF_GEMV_ROWS;
    const int runs = K / 8;
    const int cols = NC == 1 ? 1 : M;
    // K is a multiple of 8 here, so when x starts 16-byte aligned every
    // run's 8 activations of every column are too (uniform over the grid).
    const bool xvec = (rf_u64)x % 16 == 0;
    // Rows past N read row N - 1 again (in bounds); their sums are not stored.
    const rf_u8* rows[RF_GEMV_ROWS];
#pragma unroll
    for (int i = 0; i < RF_GEMV_ROWS; ++i) rows[i] = w + (rf_u64)(n0 + i < N ? n0 + i : N - 1) * row_bytes;
    float acc[RF_GEMV_ROWS][NC];
#pragma unroll
    for (int i = 0; i < RF_GEMV_ROWS; ++i)
#pragma unroll
        for (int j = 0; j < NC; ++j) acc[i][j] = 0.0f;

    // Consecutive threads take consecutive runs: the block reads each row's
    // bytes front to back, and every activation run loaded serves all rows.
#pragma unroll 2
    for (int r = t; r < runs; r += RF_GEMV_WARPS * RF_WARP_SIZE) {
        float xv[NC][8];
#pragma unroll
        for (int j = 0; j < NC; ++j) {
            if (j < cols) rf_x_load8(x + (rf_u64)j * K + 8 * r, xvec, xv[j]);
        }
#pragma unroll
        for (int i = 0; i < RF_GEMV_ROWS; ++i) {
            float v[8];
            R::run(rows[i], r, v);
#pragma unroll
            for (int j = 0; j < NC; ++j) {
                if (j < cols) {
                    float s = acc[i][j];
#pragma unroll
                    for (int e = 0; e < 8; ++e) s += v[e] * xv[j][e];
                    acc[i][j] = s;
                }
            }
        }
    }
    matmul_gemv_reduce<NC>(partial, acc, out, N, cols, n0, lane, warp);
}

template <class Q, class XT, int NC>
RF_DEVICE void matmul_gemv_q(const rf_u8* w, const XT* x, float* out, int K, int N, int M, rf_u64 row_bytes) {
    matmul_gemv_runs<rf_runs_q<Q>, XT, NC>(w, x, out, K, N, M, row_bytes);
}

// ---- matrix-vector: float weights ----------------------------------------------
// Rows of whole 16-byte runs take the run loop above; any other K or
// alignment one warp per row, lanes over its elements (a uniform branch).

template <class F, class XT, int NC>
RF_DEVICE void matmul_gemv_f(const rf_u8* w, const XT* x, float* out, int K, int N, int M, rf_u64 row_bytes) {
    if (K % 8 == 0 && row_bytes % 16 == 0 && (rf_u64)w % 16 == 0) {
        matmul_gemv_runs<rf_runs_f<F>, XT, NC>(w, x, out, K, N, M, row_bytes);
        return;
    }
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
// Every kernel takes (w, x, out, K, N, M, row_bytes); one line per (weight
// type, activation type).

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
