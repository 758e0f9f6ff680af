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
// Measured on the H200 (2026-11-30, ncu, llama2-7b Q4_K shapes): the f32
// runs on quantized weights reach only ~12% of DRAM bandwidth, stalled on
// L1TEX scoreboards at ~18 instructions per element and row (F16 weights
// reach 88%). Variants tried and dropped because they were no faster:
// scales factored out of the run with integers made floats through the
// mantissa of 2^23; a Q4_K loop over 64-element units with 16-byte loads; a
// barrier-free layout with 2 rows per warp. What works is the 8-bit
// activation path below (ggml's MMVQ scheme): llama2-7b Q4_K_M decode 155
// -> 291 tokens/s. On small matrices (qwen2.5-0.5b, K = 896) its extra
// quantize launch costs more than it saves (575 -> 497 tokens/s).
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

// ---- matrix-vector on 8-bit activations (M == 1, F32 x) ---------------------
// ggml's MMVQ scheme: the activations are quantized once per matmul to 8
// bits in blocks of 32 (matvec_quantize_x: xq = round(x / d), d = max|x| /
// 127, plus s = d * sum(xq) for the formats' offsets), then every weight
// sub-block of 32 is dotted with its activation block in integers, four
// products per instruction (rf_dp4a), and scaled once. Compared with the
// f32 runs above this reads a quarter of the activation bytes and spends
// about a quarter of the instructions per element; the price is the
// activations' rounding (relative error up to 1/254 of the block's
// maximum; tolerance.rs INT8_ACTIVATIONS). Formats with a dot here:
// Q4_0, Q5_0, Q8_0, Q4_K, Q6_K (the benchmark models' types); the others
// keep the f32 runs.

// One 32-lane group per block of 32 activations. K is a multiple of 32.
extern "C" __global__ void matvec_quantize_x(const float* __restrict__ x, rf_i8* __restrict__ xq,
                                             float* __restrict__ ds, int K) {
    const int lane = threadIdx.x % 32;
    const int b = (int)((blockIdx.x * blockDim.x + threadIdx.x) / 32);
    if (b * 32 >= K) return;  // whole 32-lane groups leave together
    const float v = x[b * 32 + lane];
    float amax = fabsf(v);
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) amax = fmaxf(amax, rf_shfl_xor(amax, m, 32));
    const float d = amax / 127.0f;
    const int q = amax == 0.0f ? 0 : (int)rintf(v / d);
    int sum = q;
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) sum += rf_shfl_xor(sum, m, 32);
    xq[b * 32 + lane] = (rf_i8)q;
    if (lane == 0) {
        ds[2 * b] = d;
        ds[2 * b + 1] = d * (float)sum;
    }
}

// Sub-block `sub` (elements 32 sub .. + 32) of block b dotted with the
// activation block (xw: its 32 int8 as 8 words; dx its scale; sx = dx *
// sum of its int8): `rf_dot_q8<Q>::dot(b, sub, xw, dx, sx)`.
template <class Q>
struct rf_dot_q8;

// Four bits (bits 0..3 of v) spread to bit 0 of each byte.
RF_DEVICE rf_u32 rf_spread4(rf_u32 v) {
    return ((v & 0xfu) * 0x00204081u) & 0x01010101u;
}

template <>
struct rf_dot_q8<rf_q4_0> {  // (q - 8) * d, nibbles: low = elements 0..16, high = 16..32
    static RF_DEVICE float dot(const rf_u8* b, int, const int* xw, float dx, float sx) {
        int sumi = 0;
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const rf_u32 q = rf_ld_u32_a2(b + 2 + 4 * k);
            sumi = rf_dp4a((int)(q & 0x0f0f0f0fu), xw[k], sumi);
            sumi = rf_dp4a((int)((q >> 4) & 0x0f0f0f0fu), xw[4 + k], sumi);
        }
        return rf_ld_f16(b) * (dx * (float)sumi - 8.0f * sx);
    }
};

template <>
struct rf_dot_q8<rf_q5_0> {  // (q - 16) * d, bit 4 of element e = bit e of qh
    static RF_DEVICE float dot(const rf_u8* b, int, const int* xw, float dx, float sx) {
        const rf_u32 qh = rf_ld_u32_a2(b + 2);
        int sumi = 0;
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const rf_u32 q = rf_ld_u32_a2(b + 6 + 4 * k);
            const rf_u32 lo = (q & 0x0f0f0f0fu) | (rf_spread4(qh >> (4 * k)) << 4);
            const rf_u32 hi = ((q >> 4) & 0x0f0f0f0fu) | (rf_spread4(qh >> (16 + 4 * k)) << 4);
            sumi = rf_dp4a((int)lo, xw[k], sumi);
            sumi = rf_dp4a((int)hi, xw[4 + k], sumi);
        }
        return rf_ld_f16(b) * (dx * (float)sumi - 16.0f * sx);
    }
};

template <>
struct rf_dot_q8<rf_q8_0> {  // q * d
    static RF_DEVICE float dot(const rf_u8* b, int, const int* xw, float dx, float) {
        int sumi = 0;
#pragma unroll
        for (int k = 0; k < 8; ++k) sumi = rf_dp4a((int)rf_ld_u32_a2(b + 2 + 4 * k), xw[k], sumi);
        return rf_ld_f16(b) * dx * (float)sumi;
    }
};

template <>
struct rf_dot_q8<rf_q4_K> {  // d * sc * q - dmin * m per sub-block (quant.h)
    static RF_DEVICE float dot(const rf_u8* b, int sub, const int* xw, float dx, float sx) {
        rf_u32 sc, m;
        rf_scale_min_k4(b + 4, sub, &sc, &m);
        const rf_u8* q = b + 16 + 32 * (sub / 2);
        const int shift = 4 * (sub & 1);
        int sumi = 0;
#pragma unroll
        for (int k = 0; k < 8; ++k) sumi = rf_dp4a((int)((rf_ld_u32_a4(q + 4 * k) >> shift) & 0x0f0f0f0fu), xw[k], sumi);
        return rf_ld_f16(b) * (float)sc * dx * (float)sumi - rf_ld_f16(b + 2) * (float)m * sx;
    }
};

template <>
struct rf_dot_q8<rf_q6_K> {  // d * scale[e / 16] * (q - 32), q six bits (quant.h)
    static RF_DEVICE float dot(const rf_u8* b, int sub, const int* xw, float dx, float) {
        const int h = sub / 4, t = sub % 4;
        const rf_u8* ql = b + 64 * h + 32 * (t % 2);
        const rf_u8* qh = b + 128 + 32 * h;
        const int lshift = 4 * (t / 2), hshift = 2 * t;
        int s[2] = {0, 0}, xs[2] = {0, 0};
#pragma unroll
        for (int k = 0; k < 8; ++k) {
            const rf_u32 q = ((rf_ld_u32_a2(ql + 4 * k) >> lshift) & 0x0f0f0f0fu) |
                             (((rf_ld_u32_a2(qh + 4 * k) >> hshift) & 0x03030303u) << 4);
            s[k / 4] = rf_dp4a((int)q, xw[k], s[k / 4]);
            xs[k / 4] = rf_dp4a(0x01010101, xw[k], xs[k / 4]);
        }
        const float sa = (float)(int)(rf_i8)b[192 + 2 * sub], sb = (float)(int)(rf_i8)b[192 + 2 * sub + 1];
        return rf_ld_f16(b + 208) * dx * (sa * (float)(s[0] - 32 * xs[0]) + sb * (float)(s[1] - 32 * xs[1]));
    }
};

// RF_GEMV_ROWS rows per block; thread t takes activation blocks t, t +
// threads, ... and dots each with the matching sub-block of every row.
template <class Q>
RF_DEVICE void matvec_q8(const rf_u8* w, const rf_i8* xq, const float* ds, float* out, int K, int N,
                         rf_u64 row_bytes) {
    __shared__ float partial[RF_GEMV_WARPS][RF_GEMV_ROWS][1];
    const int t = threadIdx.x;
    const int lane = t % RF_WARP_SIZE, warp = t / RF_WARP_SIZE;
    const int n0 = blockIdx.x * RF_GEMV_ROWS;
    const rf_u8* rows[RF_GEMV_ROWS];
#pragma unroll
    for (int i = 0; i < RF_GEMV_ROWS; ++i) rows[i] = w + (rf_u64)(n0 + i < N ? n0 + i : N - 1) * row_bytes;
    float acc[RF_GEMV_ROWS][1];
#pragma unroll
    for (int i = 0; i < RF_GEMV_ROWS; ++i) acc[i][0] = 0.0f;
    constexpr int SUBS = Q::QK / 32;
#pragma unroll 2
    for (int sb = t; sb < K / 32; sb += RF_GEMV_WARPS * RF_WARP_SIZE) {
        const rf_b128 xa = ((const rf_b128*)(xq + 32 * (rf_u64)sb))[0];
        const rf_b128 xb = ((const rf_b128*)(xq + 32 * (rf_u64)sb))[1];
        const int xw[8] = {(int)xa.w[0], (int)xa.w[1], (int)xa.w[2], (int)xa.w[3],
                           (int)xb.w[0], (int)xb.w[1], (int)xb.w[2], (int)xb.w[3]};
        const float dx = ds[2 * sb], sx = ds[2 * sb + 1];
#pragma unroll
        for (int i = 0; i < RF_GEMV_ROWS; ++i) {
            acc[i][0] += rf_dot_q8<Q>::dot(rows[i] + (rf_u64)(sb / SUBS) * Q::BYTES, sb % SUBS, xw, dx, sx);
        }
    }
    matmul_gemv_reduce<1>(partial, acc, out, N, 1, n0, lane, warp);
}

#define RF_MATVEC_Q8(WNAME, WT)                                                                      \
    extern "C" __global__ void matmul_##WNAME##_q8_gemv(const rf_u8* __restrict__ w,                \
                                                        const rf_i8* __restrict__ xq,               \
                                                        const float* __restrict__ ds, float* __restrict__ out, \
                                                        int K, int N, rf_u64 row_bytes) {           \
        matvec_q8<WT>(w, xq, ds, out, K, N, row_bytes);                                              \
    }

RF_MATVEC_Q8(q4_0, rf_q4_0)
RF_MATVEC_Q8(q5_0, rf_q5_0)
RF_MATVEC_Q8(q8_0, rf_q8_0)
RF_MATVEC_Q8(q4_K, rf_q4_K)
RF_MATVEC_Q8(q6_K, rf_q6_K)

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
