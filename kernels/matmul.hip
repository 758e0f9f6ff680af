// matmul.hip: out[n, m] = sum_k w[k, n] * x[k, m] (ggml_mul_mat(w, x)) for
// many columns M (prefill): the compute-bound half of the matmul op
// (ops/matmul.rs; the decode half, M <= 8, is matvec.hip).
//
// w is [K, N] in any weight type, kept in its GGUF block layout (a row of K
// elements is row_bytes bytes); x is [K, M] F32 or F16; out is [N, M] F32.
// The portable kernel accumulates in f32 from f32 activations (F16 x is
// widened exactly), so its only difference from the CPU oracle is
// summation order. Kernels are named matmul_<wtype>_<xtype>_<variant>:
//   tile   a 64 x 64 output tile per block of 256 threads, K in slabs of
//          32: the block decodes the 64 x 32 weight slab into shared memory
//          as f32 (one run of 8 per thread), loads the 32 x 64 activation
//          slab, and each thread accumulates a 4 x 4 register block.
//
// The host (crates/backend-hip/src/ops/matmul.rs) guarantees: K, N, M and
// K * M, N * M fit in i32; K is a whole number of blocks; the weight rows
// are aligned as the format's loads assume (quant.h ALIGN).
//
// Faster: double-buffered slabs and 8 x 8 register blocks with vectorized
// shared-memory reads; on AMD, MFMA (CDNA) / WMMA (RDNA3) as the mma kernel
// below does with NVIDIA's tensor cores.
//
// A second kernel, on NVIDIA sm_80 and newer only (the host picks it there
// for M >= 32, see ops/matmul.rs):
//   mma    tensor cores: a 128 x 64 output tile per block of 256 threads
//          (8 warps, 32 x 32 each), K in slabs of 64: the block decodes the
//          weight slab to f16 and converts the activation slab to f16 in
//          shared memory, and each warp runs mma.sync m16n8k16 (f16 inputs,
//          f32 accumulation). Both operands are rounded to f16 (relative
//          error <= 2^-11 each: NMSE about 1.6e-7 against the f32 oracle;
//          see tolerance.rs), and values beyond f16's range (65504) would
//          overflow, as in every f16 tensor-core GEMM (llama.cpp's cuBLAS
//          path included); F32 weights stay on the f32 tile kernel.
//          Faster: double-buffered slabs (cp.async for F16 weights),
//          ldmatrix, bigger warp tiles, and a split-K for few output tiles.
#include "common/compat.h"
#include "common/quant.h"
#include "common/activations.h"

#define RF_TILE_N 64
#define RF_TILE_M 64
#define RF_TILE_K 32
#define RF_TILE_THREADS 256

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

// ---- tensor cores (NVIDIA sm_80+) ----------------------------------------------

#if defined(RF_PLATFORM_NVIDIA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define RF_HAVE_MMA 1

#define RF_MMA_N 128     // weight rows per block
#define RF_MMA_M 64      // activation columns per block
#define RF_MMA_K 64      // K slab
#define RF_MMA_LD 72     // shared row stride in halves: 144 bytes (16-byte
                         // aligned rows; the fragment loads' 8 rows x 4
                         // words then fall in 32 distinct banks)
#define RF_MMA_THREADS 256

// Two floats as an f16x2 word (lo in bits 0..15), round to nearest even.
// Whole 32-bit results only (compat.h's warning about byte stores of f16).
RF_DEVICE rf_u32 rf_f16x2(float lo, float hi) {
    rf_u32 r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

// c[0..4] += A (16 x 16, row major) * B (16 x 8, column major), f16 in, f32 accumulate.
RF_DEVICE void rf_mma_16816(float* c, const rf_u32* a, const rf_u32* b) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Eight decoded weights (f32) as f16 at ws row `nn`, halves kk .. kk + 8 (one 16-byte store).
RF_DEVICE void rf_mma_store8(rf_u16 (*ws)[RF_MMA_LD], int nn, int kk, const float* v) {
    rf_b128 h;
#pragma unroll
    for (int i = 0; i < 4; ++i) h.w[i] = rf_f16x2(v[2 * i], v[2 * i + 1]);
    *(rf_b128*)&ws[nn][kk] = h;
}

// The activation slab as f16: xs[mm][kk] = x[m0 + mm, k0 + kk] (0 outside
// the matrix). Each thread converts pairs of consecutive k: a warp reads 64
// consecutive activations of one column per step.
template <class XT>
RF_DEVICE void matmul_mma_load_x(rf_u16 (*xs)[RF_MMA_LD], const XT* x, int K, int M, int k0, int m0) {
    const int t = threadIdx.x;
    const int kk = 2 * (t % 32);
    const int k = k0 + kk;
#pragma unroll
    for (int i = 0; i < RF_MMA_M * RF_MMA_K / (2 * RF_MMA_THREADS); ++i) {
        const int mm = t / 32 + i * (RF_MMA_THREADS / 32);
        const int m = m0 + mm;
        float a = 0.0f, b = 0.0f;
        if (m < M) {
            const XT* col = x + (rf_u64)m * K;
            if (k < K) a = rf_x_load(col, k);
            if (k + 1 < K) b = rf_x_load(col, k + 1);
        }
        *(rf_u32*)&xs[mm][kk] = rf_f16x2(a, b);
    }
}

// The weight slab, quantized: ws[nn][kk] = w[k0 + kk, n0 + nn] as f16. K is
// a whole number of blocks (so of runs of 8); each thread decodes 4 runs
// (run t % 8 of rows t / 8 + 32 i), zeros past K or N.
template <class Q>
RF_DEVICE void matmul_mma_load_wq(rf_u16 (*ws)[RF_MMA_LD], const rf_u8* w, int K, int N, rf_u64 row_bytes, int k0,
                                  int n0) {
    const int t = threadIdx.x;
    const int kk = 8 * (t % 8);
    const int k = k0 + kk;
#pragma unroll
    for (int i = 0; i < RF_MMA_N * RF_MMA_K / (8 * RF_MMA_THREADS); ++i) {
        const int nn = t / 8 + i * (RF_MMA_THREADS / 8);
        const int n = n0 + nn;
        float v[8];
        if (n < N && k < K) {
            Q::run(w + (rf_u64)n * row_bytes + (rf_u64)(k / Q::QK) * Q::BYTES, (k % Q::QK) / 8, v);
        } else {
#pragma unroll
            for (int j = 0; j < 8; ++j) v[j] = 0.0f;
        }
        rf_mma_store8(ws, nn, kk, v);
    }
}

// The weight slab, float types (any K): element by element.
template <class F>
RF_DEVICE void matmul_mma_load_wf(rf_u16 (*ws)[RF_MMA_LD], const rf_u8* w, int K, int N, rf_u64 row_bytes, int k0,
                                  int n0) {
    const int t = threadIdx.x;
    const int kk = 8 * (t % 8);
#pragma unroll
    for (int i = 0; i < RF_MMA_N * RF_MMA_K / (8 * RF_MMA_THREADS); ++i) {
        const int nn = t / 8 + i * (RF_MMA_THREADS / 8);
        const int n = n0 + nn;
        const rf_u8* row = w + (rf_u64)(n < N ? n : 0) * row_bytes;
        float v[8];
#pragma unroll
        for (int j = 0; j < 8; ++j) v[j] = (n < N && k0 + kk + j < K) ? F::load(row, k0 + kk + j) : 0.0f;
        rf_mma_store8(ws, nn, kk, v);
    }
}

// Fragments (PTX ISA, mma.m16n8k16 f16): g = lane / 4, q = lane % 4.
//   A (weights, 16 rows x 16 k): a0 (g, 2q..), a1 (g + 8, 2q..),
//     a2 (g, 2q + 8..), a3 (g + 8, 2q + 8..)
//   B (activations, 16 k x 8 columns): b0 (2q.., column g), b1 (2q + 8.., g)
//   C (16 rows x 8 columns, f32): c0, c1 (g, 2q and 2q + 1), c2, c3 (g + 8, ...)
template <class XT, class LoadW>
RF_DEVICE void matmul_mma(const XT* x, float* out, int K, int N, int M, LoadW load_w) {
    // Declared as 16-byte units so the 16-byte stores of rf_mma_store8 are aligned.
    __shared__ rf_b128 ws_raw[RF_MMA_N * RF_MMA_LD / 8];
    __shared__ rf_b128 xs_raw[RF_MMA_M * RF_MMA_LD / 8];
    rf_u16 (*ws)[RF_MMA_LD] = (rf_u16 (*)[RF_MMA_LD])ws_raw;
    rf_u16 (*xs)[RF_MMA_LD] = (rf_u16 (*)[RF_MMA_LD])xs_raw;
    const int t = threadIdx.x;
    const int lane = t % 32, warp = t / 32;
    const int g = lane / 4, q = lane % 4;
    const int wn = 32 * (warp % 4), wm = 32 * (warp / 4);  // the warp's 32 x 32 sub-tile
    const int n0 = blockIdx.x * RF_MMA_N, m0 = blockIdx.y * RF_MMA_M;
    float acc[2][4][4];
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.0f;

    for (int k0 = 0; k0 < K; k0 += RF_MMA_K) {
        load_w(ws, k0, n0);
        matmul_mma_load_x<XT>(xs, x, K, M, k0, m0);
        __syncthreads();
#pragma unroll
        for (int ks = 0; ks < RF_MMA_K; ks += 16) {
            rf_u32 a[2][4], b[4][2];
#pragma unroll
            for (int i = 0; i < 2; ++i) {
                const int r = wn + 16 * i + g;
                a[i][0] = *(const rf_u32*)&ws[r][ks + 2 * q];
                a[i][1] = *(const rf_u32*)&ws[r + 8][ks + 2 * q];
                a[i][2] = *(const rf_u32*)&ws[r][ks + 2 * q + 8];
                a[i][3] = *(const rf_u32*)&ws[r + 8][ks + 2 * q + 8];
            }
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int c = wm + 8 * j + g;
                b[j][0] = *(const rf_u32*)&xs[c][ks + 2 * q];
                b[j][1] = *(const rf_u32*)&xs[c][ks + 2 * q + 8];
            }
#pragma unroll
            for (int i = 0; i < 2; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) rf_mma_16816(acc[i][j], a[i], b[j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 2; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
#pragma unroll
            for (int r = 0; r < 4; ++r) {
                const int n = n0 + wn + 16 * i + g + 8 * (r / 2);
                const int m = m0 + wm + 8 * j + 2 * q + (r % 2);
                if (n < N && m < M) out[(rf_u64)m * N + n] = acc[i][j][r];
            }
        }
    }
}

template <class Q, class XT>
RF_DEVICE void matmul_mma_q(const rf_u8* w, const XT* x, float* out, int K, int N, int M, rf_u64 row_bytes) {
    matmul_mma<XT>(x, out, K, N, M, [=](rf_u16 (*ws)[RF_MMA_LD], int k0, int n0) {
        matmul_mma_load_wq<Q>(ws, w, K, N, row_bytes, k0, n0);
    });
}

template <class F, class XT>
RF_DEVICE void matmul_mma_f(const rf_u8* w, const XT* x, float* out, int K, int N, int M, rf_u64 row_bytes) {
    matmul_mma<XT>(x, out, K, N, M, [=](rf_u16 (*ws)[RF_MMA_LD], int k0, int n0) {
        matmul_mma_load_wf<F>(ws, w, K, N, row_bytes, k0, n0);
    });
}
#endif  // NVIDIA sm_80+

// ---- entry points --------------------------------------------------------------
// Every kernel takes (w, x, out, K, N, M, row_bytes). Launch shapes:
//   tile:        grid (ceil(N / 64), ceil(M / 64)), block 256
//   mma:         grid (ceil(N / 128), ceil(M / 64)), block 256 (NVIDIA sm_80+ only)
// The instances are listed one per line: weight type, activation type; the
// mma instances (all weight types but F32) after them.

#define RF_MATMUL_PARAMS \
    const rf_u8 *__restrict__ w, const void *__restrict__ x, float *__restrict__ out, int K, int N, int M, rf_u64 row_bytes

#define RF_MATMUL_Q(WNAME, WQ, XNAME, XT)                                                           \
    extern "C" __global__ void matmul_##WNAME##_##XNAME##_tile(RF_MATMUL_PARAMS) {                 \
        matmul_tile_q<WQ, XT>(w, (const XT*)x, out, K, N, M, row_bytes);                           \
    }

#define RF_MATMUL_F(WNAME, WF, XNAME, XT)                                                           \
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

#if RF_HAVE_MMA
#define RF_MATMUL_MMA(KIND, WNAME, WT, XNAME, XT)                                                  \
    extern "C" __global__ void __launch_bounds__(RF_MMA_THREADS)                                    \
        matmul_##WNAME##_##XNAME##_mma(RF_MATMUL_PARAMS) {                                          \
        matmul_mma_##KIND<WT, XT>(w, (const XT*)x, out, K, N, M, row_bytes);                       \
    }

RF_MATMUL_MMA(f, f16, rf_w_f16, f32, float)
RF_MATMUL_MMA(f, f16, rf_w_f16, f16, rf_u16)
RF_MATMUL_MMA(f, bf16, rf_w_bf16, f32, float)
RF_MATMUL_MMA(f, bf16, rf_w_bf16, f16, rf_u16)
RF_MATMUL_MMA(q, q4_0, rf_q4_0, f32, float)
RF_MATMUL_MMA(q, q4_0, rf_q4_0, f16, rf_u16)
RF_MATMUL_MMA(q, q4_1, rf_q4_1, f32, float)
RF_MATMUL_MMA(q, q4_1, rf_q4_1, f16, rf_u16)
RF_MATMUL_MMA(q, q5_0, rf_q5_0, f32, float)
RF_MATMUL_MMA(q, q5_0, rf_q5_0, f16, rf_u16)
RF_MATMUL_MMA(q, q5_1, rf_q5_1, f32, float)
RF_MATMUL_MMA(q, q5_1, rf_q5_1, f16, rf_u16)
RF_MATMUL_MMA(q, q8_0, rf_q8_0, f32, float)
RF_MATMUL_MMA(q, q8_0, rf_q8_0, f16, rf_u16)
RF_MATMUL_MMA(q, q2_K, rf_q2_K, f32, float)
RF_MATMUL_MMA(q, q2_K, rf_q2_K, f16, rf_u16)
RF_MATMUL_MMA(q, q3_K, rf_q3_K, f32, float)
RF_MATMUL_MMA(q, q3_K, rf_q3_K, f16, rf_u16)
RF_MATMUL_MMA(q, q4_K, rf_q4_K, f32, float)
RF_MATMUL_MMA(q, q4_K, rf_q4_K, f16, rf_u16)
RF_MATMUL_MMA(q, q5_K, rf_q5_K, f32, float)
RF_MATMUL_MMA(q, q5_K, rf_q5_K, f16, rf_u16)
RF_MATMUL_MMA(q, q6_K, rf_q6_K, f32, float)
RF_MATMUL_MMA(q, q6_K, rf_q6_K, f16, rf_u16)
#endif
