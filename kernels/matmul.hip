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
// shared-memory reads.
//
// A second kernel, on targets with a matrix unit (the host picks it there
// for M >= 32, see ops/matmul.rs; the list is at "matrix units" below):
//   mma    a 128 x 64 output tile per block of 256 threads, K in slabs of
//          64: the block decodes the weight slab to f16 and converts the
//          activation slab to f16 in shared memory, and each warp runs the
//          matrix instruction on its part (f16 inputs, f32 accumulation):
//          NVIDIA sm_80+ mma.sync m16n8k16, AMD CDNA v_mfma_f32_32x32x8f16,
//          RDNA3 / RDNA4 v_wmma_f32_16x16x16_f16. Both operands are rounded
//          to f16 (to nearest even on every platform; relative error
//          <= 2^-11 each: NMSE about 1.6e-7 against the f32 oracle; see
//          tolerance.rs), and values beyond f16's range (65504) would
//          overflow, as in every f16 tensor-core GEMM (llama.cpp's cuBLAS
//          path included); F32 weights stay on the f32 tile kernel.
//          Faster: double-buffered slabs (cp.async for F16 weights on
//          NVIDIA), ldmatrix, bigger warp tiles, a split-K for few output
//          tiles, and on AMD a slab layout without LDS bank conflicts for
//          the MFMA fragment reads (rows r and r + 8 share banks at the
//          144-byte stride).
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

// ---- matrix units: NVIDIA tensor cores, AMD MFMA / WMMA ------------------------
// One kernel body (matmul_mma) for every matrix unit. Common to all: the
// block's slab loads (weights decoded to f16, activations converted to f16,
// both rounded to nearest even, into shared memory as [row][k]), the K loop
// and the bounds-checked store. Per unit, picked by the compiler's target
// macros, only the warp's part:
//   RF_MMA_IN x RF_MMA_IM  one instruction's output tile (weight rows x
//                          activation columns), RF_MMA_IK its K;
//   RF_MMA_WN x RF_MMA_WM  a warp's output tile, RF_MMA_TI x RF_MMA_TJ
//                          instruction tiles;
//   rf_mma_w, rf_mma_x     a lane's weight / activation fragment, read from
//                          the slab by rf_mma_load_w / rf_mma_load_x;
//   rf_mma_c               its RF_MMA_R accumulators; rf_mma(c, w, x) adds
//                          the tile product; accumulator r lies at row
//                          rf_mma_n(lane, r), column rf_mma_m(lane, r) of
//                          the instruction tile.
// The units (every one: a 128 x 64 output tile per block of 256 threads,
// K in slabs of 64, so one launch shape):
//   NVIDIA sm_80+          mma.sync m16n8k16: 8 warps of 32 x 32
//   AMD gfx908, gfx90a, gfx940-942, gfx950 (CDNA 1-3, wave64)
//                          v_mfma_f32_32x32x8f16: 4 waves of 64 x 32
//   AMD gfx1100-1103, gfx1150-1153 (RDNA3, wave32)
//                          v_wmma_f32_16x16x16_f16: 8 waves of 32 x 32
//   AMD gfx1200, gfx1201 (RDNA4, wave32)
//                          v_wmma_f32_16x16x16_f16, gfx12 operand layout:
//                          8 waves of 32 x 32
// The host (ops/matmul.rs, mma_unit) keeps the same list; a target outside
// it has no mma entry points and runs the portable tile kernel.

#if defined(RF_PLATFORM_NVIDIA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define RF_MMA_NV 1
#elif defined(RF_PLATFORM_AMD) && RF_WARP_SIZE == 64 &&                                                 \
    (defined(__gfx908__) || defined(__gfx90a__) || defined(__gfx940__) || defined(__gfx941__) ||         \
     defined(__gfx942__) || defined(__gfx950__))
#define RF_MMA_MFMA 1
#elif defined(RF_PLATFORM_AMD) && RF_WARP_SIZE == 32 &&                                                 \
    (defined(__gfx1100__) || defined(__gfx1101__) || defined(__gfx1102__) || defined(__gfx1103__) ||     \
     defined(__gfx1150__) || defined(__gfx1151__) || defined(__gfx1152__) || defined(__gfx1153__))
#define RF_MMA_WMMA 1
#elif defined(RF_PLATFORM_AMD) && RF_WARP_SIZE == 32 && (defined(__gfx1200__) || defined(__gfx1201__))
#define RF_MMA_WMMA_GFX12 1
#endif

#if defined(RF_MMA_NV) || defined(RF_MMA_MFMA) || defined(RF_MMA_WMMA) || defined(RF_MMA_WMMA_GFX12)
#define RF_HAVE_MMA 1

#define RF_MMA_N 128     // weight rows per block
#define RF_MMA_M 64      // activation columns per block
#define RF_MMA_K 64      // K slab
#define RF_MMA_LD 72     // shared row stride in halves: 144 bytes (16-byte
                         // aligned rows; NVIDIA's fragment loads' 8 rows x 4
                         // words then fall in 32 distinct banks)
#define RF_MMA_THREADS 256

// Two floats as an f16x2 word (lo in bits 0..15), round to nearest even.
// Whole 32-bit results only on NVIDIA (see copy.hip on ptxas and byte
// stores of cvt.rn.f16.f32 results).
#if defined(RF_MMA_NV)
RF_DEVICE rf_u32 rf_f16x2(float lo, float hi) {
    rf_u32 r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
#else
// compat.h's conversion: clang's float -> _Float16 (v_cvt_f16_f32 under the
// default round-to-nearest-even mode, f16 subnormals kept), the same
// rounding as cvt.rn. Not __builtin_amdgcn_cvt_pkrtz: that rounds toward 0.
RF_DEVICE rf_u32 rf_f16x2(float lo, float hi) {
    return (rf_u32)rf_f32_to_f16(lo) | ((rf_u32)rf_f32_to_f16(hi) << 16);
}
#endif

// Eight decoded weights (f32) as f16 at ws row `nn`, halves kk .. kk + 8 (one 16-byte store).
RF_DEVICE void rf_mma_store8(rf_u16 (*ws)[RF_MMA_LD], int nn, int kk, const float* v) {
    rf_b128 h;
#pragma unroll
    for (int i = 0; i < 4; ++i) h.w[i] = rf_f16x2(v[2 * i], v[2 * i + 1]);
    *(rf_b128*)&ws[nn][kk] = h;
}

// The activation slab as f16: xs[mm][kk] = x[m0 + mm, k0 + kk] (0 outside
// the matrix). Each thread converts pairs of consecutive k: 32 consecutive
// threads read 64 consecutive activations of one column per step.
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

#if defined(RF_MMA_NV)
// mma.sync.m16n8k16 .f32.f16.f16.f32: D (16 x 8) = A (16 x 16) B (16 x 8)
// + C, A = weights (rows n), B = activations (columns m). Fragments from the
// PTX ISA ("Matrix Fragments for mma.m16n8k16 with floating point type"),
// g = lane / 4, q = lane % 4:
//   A: a0 (g, 2q..), a1 (g + 8, 2q..), a2 (g, 2q + 8..), a3 (g + 8, 2q + 8..)
//   B: b0 (k 2q.., column g), b1 (k 2q + 8.., column g)
//   C: c0, c1 (g, 2q and 2q + 1), c2, c3 (g + 8, ...)
#define RF_MMA_IN 16
#define RF_MMA_IM 8
#define RF_MMA_IK 16
#define RF_MMA_WN 32
#define RF_MMA_WM 32
#define RF_MMA_R 4
struct rf_mma_w {
    rf_u32 v[4];
};
struct rf_mma_x {
    rf_u32 v[2];
};
struct rf_mma_c {
    float v[4];
};

RF_DEVICE rf_mma_w rf_mma_load_w(const rf_u16 (*ws)[RF_MMA_LD], int n, int ks, int lane) {
    const int r = n + lane / 4, k = ks + 2 * (lane % 4);
    rf_mma_w a;
    a.v[0] = *(const rf_u32*)&ws[r][k];
    a.v[1] = *(const rf_u32*)&ws[r + 8][k];
    a.v[2] = *(const rf_u32*)&ws[r][k + 8];
    a.v[3] = *(const rf_u32*)&ws[r + 8][k + 8];
    return a;
}

RF_DEVICE rf_mma_x rf_mma_load_x(const rf_u16 (*xs)[RF_MMA_LD], int m, int ks, int lane) {
    const int c = m + lane / 4, k = ks + 2 * (lane % 4);
    rf_mma_x b;
    b.v[0] = *(const rf_u32*)&xs[c][k];
    b.v[1] = *(const rf_u32*)&xs[c][k + 8];
    return b;
}

RF_DEVICE void rf_mma(rf_mma_c& c, const rf_mma_w& a, const rf_mma_x& b) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};"
        : "+f"(c.v[0]), "+f"(c.v[1]), "+f"(c.v[2]), "+f"(c.v[3])
        : "r"(a.v[0]), "r"(a.v[1]), "r"(a.v[2]), "r"(a.v[3]), "r"(b.v[0]), "r"(b.v[1]));
}

RF_DEVICE int rf_mma_n(int lane, int r) {
    return lane / 4 + 8 * (r / 2);
}
RF_DEVICE int rf_mma_m(int lane, int r) {
    return 2 * (lane % 4) + r % 2;
}

#elif defined(RF_MMA_MFMA)
// v_mfma_f32_32x32x8f16 (wave64): D (32 x 32) = A (32 x 8) B (8 x 32) + C.
// Layout from AMD's Matrix Instruction Calculator (ROCm/amd_matrix_
// instruction_calculator, `--architecture cdna2 --instruction
// v_mfma_f32_32x32x8f16 --detail-instruction`; the CDNA2/CDNA3 ISA guides'
// matrix chapter), as IREE also encodes it (IREEGPUAttrs.cpp,
// MFMA_F32_32x32x8_F16: A thread tile 32 x 2, element 1 x 4): lane l holds
//   A: 4 halves, A[i = l % 32][k = 4 (l / 32) + e], e = 0..3
//   B: 4 halves, B[k = 4 (l / 32) + e][j = l % 32]
//   D: 16 floats, D[i = 8 (r / 4) + 4 (l / 32) + r % 4][j = l % 32]
// A and B are laid out alike, so one fragment load serves both (and only
// the K order they share matters: any permutation of k applied to both
// gives the same product). The
// activations go in as A (i = column m) and the weights as B (j = row n):
// a lane's results then lie in one output row, and 32 lanes store 32
// consecutive floats (out is [N, M] with n fastest).
#define RF_MMA_IN 32
#define RF_MMA_IM 32
#define RF_MMA_IK 8
#define RF_MMA_WN 64
#define RF_MMA_WM 32
#define RF_MMA_R 16
typedef _Float16 rf_f16x4 __attribute__((ext_vector_type(4)));
typedef float rf_f32x16 __attribute__((ext_vector_type(16)));
struct rf_mma_w {
    rf_f16x4 v;
};
typedef rf_mma_w rf_mma_x;
struct rf_mma_c {
    rf_f32x16 v;
};

// Slab row row0 + l % 32, halves ks + 4 (l / 32) .. + 4 (one 8-byte read).
RF_DEVICE rf_mma_w rf_mma_frag(const rf_u16 (*s)[RF_MMA_LD], int row0, int ks, int lane) {
    return {*(const rf_f16x4*)&s[row0 + lane % 32][ks + 4 * (lane / 32)]};
}

RF_DEVICE void rf_mma(rf_mma_c& c, const rf_mma_w& w, const rf_mma_x& x) {
    c.v = __builtin_amdgcn_mfma_f32_32x32x8f16(x.v, w.v, c.v, 0, 0, 0);
}

RF_DEVICE int rf_mma_n(int lane, int) {
    return lane % 32;
}
RF_DEVICE int rf_mma_m(int lane, int r) {
    return 8 * (r / 4) + 4 * (lane / 32) + r % 4;
}

#elif defined(RF_MMA_WMMA)
// v_wmma_f32_16x16x16_f16 on gfx11 (wave32): D (16 x 16) = A (16 x 16)
// B (16 x 16) + C. Layout from the RDNA3 ISA guide (7.9, "Wave Matrix
// Multiply Accumulate") and GPUOpen's "How to accelerate AI applications on
// RDNA 3 using WMMA" (IREE: WMMAR3_F32_16x16x16_F16): lane l holds
//   A: 16 halves, A[i = l % 16][k = e], e = 0..15
//   B: 16 halves, B[k = e][j = l % 16]
//   D: 8 floats, D[i = 2 r + l / 16][j = l % 16], r = 0..7
// and lanes 16..31 must hold the same A and B as lanes 0..15 (here: the
// same rows read twice). Activations as A, weights as B, as for MFMA.
#define RF_MMA_IN 16
#define RF_MMA_IM 16
#define RF_MMA_IK 16
#define RF_MMA_WN 32
#define RF_MMA_WM 32
#define RF_MMA_R 8
typedef _Float16 rf_f16x8 __attribute__((ext_vector_type(8)));
typedef _Float16 rf_f16x16 __attribute__((ext_vector_type(16)));
typedef float rf_f32x8 __attribute__((ext_vector_type(8)));
struct rf_mma_w {
    rf_f16x16 v;
};
typedef rf_mma_w rf_mma_x;
struct rf_mma_c {
    rf_f32x8 v;
};

// Slab row row0 + l % 16, halves ks .. ks + 16 (two 16-byte reads: rows are
// 16-byte aligned, not 32).
RF_DEVICE rf_mma_w rf_mma_frag(const rf_u16 (*s)[RF_MMA_LD], int row0, int ks, int lane) {
    const rf_u16* p = &s[row0 + lane % 16][ks];
    const rf_f16x8 lo = *(const rf_f16x8*)p, hi = *(const rf_f16x8*)(p + 8);
    return {__builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)};
}

RF_DEVICE void rf_mma(rf_mma_c& c, const rf_mma_w& w, const rf_mma_x& x) {
    c.v = __builtin_amdgcn_wmma_f32_16x16x16_f16_w32(x.v, w.v, c.v);
}

RF_DEVICE int rf_mma_n(int lane, int) {
    return lane % 16;
}
RF_DEVICE int rf_mma_m(int lane, int r) {
    return 2 * r + lane / 16;
}

#elif defined(RF_MMA_WMMA_GFX12)
// v_wmma_f32_16x16x16_f16 on gfx12 (wave32), operands no longer replicated.
// Layout from the RDNA4 ISA guide (7.9, "Wave Matrix Multiply Accumulate"),
// as IREE (IREEGPUAttrs.cpp, WMMAR4_F32_16x16x16_F16) and llama.cpp
// (ggml-cuda/mma.cuh, RDNA4 tiles) use it: lane l holds
//   A: 8 halves, A[i = l % 16][k = 8 (l / 16) + e], e = 0..7
//   B: 8 halves, B[k = 8 (l / 16) + e][j = l % 16]
//   D: 8 floats, D[i = 8 (l / 16) + r][j = l % 16], r = 0..7
// (The hardware's own K order interleaves the lane halves differently, as
// IREE notes, but identically for A and B, so the product is the same.)
// Activations as A, weights as B, as for MFMA.
#define RF_MMA_IN 16
#define RF_MMA_IM 16
#define RF_MMA_IK 16
#define RF_MMA_WN 32
#define RF_MMA_WM 32
#define RF_MMA_R 8
typedef _Float16 rf_f16x8 __attribute__((ext_vector_type(8)));
typedef float rf_f32x8 __attribute__((ext_vector_type(8)));
struct rf_mma_w {
    rf_f16x8 v;
};
typedef rf_mma_w rf_mma_x;
struct rf_mma_c {
    rf_f32x8 v;
};

// Slab row row0 + l % 16, halves ks + 8 (l / 16) .. + 8 (one 16-byte read).
RF_DEVICE rf_mma_w rf_mma_frag(const rf_u16 (*s)[RF_MMA_LD], int row0, int ks, int lane) {
    return {*(const rf_f16x8*)&s[row0 + lane % 16][ks + 8 * (lane / 16)]};
}

RF_DEVICE void rf_mma(rf_mma_c& c, const rf_mma_w& w, const rf_mma_x& x) {
    c.v = __builtin_amdgcn_wmma_f32_16x16x16_f16_w32_gfx12(x.v, w.v, c.v);
}

RF_DEVICE int rf_mma_n(int lane, int) {
    return lane % 16;
}
RF_DEVICE int rf_mma_m(int lane, int r) {
    return 8 * (lane / 16) + r;
}
#endif

#if !defined(RF_MMA_NV)
// AMD: weight and activation fragments share a layout.
RF_DEVICE rf_mma_w rf_mma_load_w(const rf_u16 (*ws)[RF_MMA_LD], int n, int ks, int lane) {
    return rf_mma_frag(ws, n, ks, lane);
}
RF_DEVICE rf_mma_x rf_mma_load_x(const rf_u16 (*xs)[RF_MMA_LD], int m, int ks, int lane) {
    return rf_mma_frag(xs, m, ks, lane);
}
#endif

#define RF_MMA_TI (RF_MMA_WN / RF_MMA_IN)
#define RF_MMA_TJ (RF_MMA_WM / RF_MMA_IM)
static_assert((RF_MMA_N / RF_MMA_WN) * (RF_MMA_M / RF_MMA_WM) * RF_WARP_SIZE == RF_MMA_THREADS,
              "one warp tile per warp");
static_assert(RF_MMA_K % RF_MMA_IK == 0 && RF_MMA_WN % RF_MMA_IN == 0 && RF_MMA_WM % RF_MMA_IM == 0,
              "whole instruction tiles");

// The block's RF_MMA_N x RF_MMA_M output tile; warp w computes the
// RF_MMA_WN x RF_MMA_WM sub-tile (wn, wm), RF_MMA_IK of K per instruction.
template <class XT, class LoadW>
RF_DEVICE void matmul_mma(const XT* x, float* out, int K, int N, int M, LoadW load_w) {
    // Declared as 16-byte units so the 16-byte stores of rf_mma_store8 are aligned.
    __shared__ rf_b128 ws_raw[RF_MMA_N * RF_MMA_LD / 8];
    __shared__ rf_b128 xs_raw[RF_MMA_M * RF_MMA_LD / 8];
    rf_u16 (*ws)[RF_MMA_LD] = (rf_u16 (*)[RF_MMA_LD])ws_raw;
    rf_u16 (*xs)[RF_MMA_LD] = (rf_u16 (*)[RF_MMA_LD])xs_raw;
    const int t = threadIdx.x;
    const int lane = t % RF_WARP_SIZE, warp = t / RF_WARP_SIZE;
    const int wn = RF_MMA_WN * (warp % (RF_MMA_N / RF_MMA_WN)), wm = RF_MMA_WM * (warp / (RF_MMA_N / RF_MMA_WN));
    const int n0 = blockIdx.x * RF_MMA_N, m0 = blockIdx.y * RF_MMA_M;
    rf_mma_c acc[RF_MMA_TI][RF_MMA_TJ];
#pragma unroll
    for (int i = 0; i < RF_MMA_TI; ++i)
#pragma unroll
        for (int j = 0; j < RF_MMA_TJ; ++j)
#pragma unroll
            for (int r = 0; r < RF_MMA_R; ++r) acc[i][j].v[r] = 0.0f;

    for (int k0 = 0; k0 < K; k0 += RF_MMA_K) {
        load_w(ws, k0, n0);
        matmul_mma_load_x<XT>(xs, x, K, M, k0, m0);
        __syncthreads();
#pragma unroll
        for (int ks = 0; ks < RF_MMA_K; ks += RF_MMA_IK) {
            rf_mma_w a[RF_MMA_TI];
            rf_mma_x b[RF_MMA_TJ];
#pragma unroll
            for (int i = 0; i < RF_MMA_TI; ++i) a[i] = rf_mma_load_w(ws, wn + RF_MMA_IN * i, ks, lane);
#pragma unroll
            for (int j = 0; j < RF_MMA_TJ; ++j) b[j] = rf_mma_load_x(xs, wm + RF_MMA_IM * j, ks, lane);
#pragma unroll
            for (int i = 0; i < RF_MMA_TI; ++i)
#pragma unroll
                for (int j = 0; j < RF_MMA_TJ; ++j) rf_mma(acc[i][j], a[i], b[j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < RF_MMA_TI; ++i) {
#pragma unroll
        for (int j = 0; j < RF_MMA_TJ; ++j) {
#pragma unroll
            for (int r = 0; r < RF_MMA_R; ++r) {
                const int n = n0 + wn + RF_MMA_IN * i + rf_mma_n(lane, r);
                const int m = m0 + wm + RF_MMA_IM * j + rf_mma_m(lane, r);
                if (n < N && m < M) out[(rf_u64)m * N + n] = acc[i][j].v[r];
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
#endif  // RF_HAVE_MMA

// ---- entry points --------------------------------------------------------------
// Every kernel takes (w, x, out, K, N, M, row_bytes). Launch shapes:
//   tile:        grid (ceil(N / 64), ceil(M / 64)), block 256
//   mma:         grid (ceil(N / 128), ceil(M / 64)), block 256 (targets with
//                a matrix unit only: NVIDIA sm_80+, AMD CDNA / RDNA3 / RDNA4)
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
