// reduce.hip: row reductions over ne[0] of F32 rows: softmax and argmax.
//
// One block per row (grid-stride over rows), blockDim a multiple of
// RF_WARP_SIZE and at most 1024; warp shuffles then one shared slot per warp.
//
// Semantics are the CPU oracle's (crates/backend-cpu/src/ops/reduce.rs):
// - softmax(x * scale): scale in f32, subtract the row max (fmaxf ignores
//   NaN as Rust's f32::max does), exp in f32, sum (f32 tree here, f64 on the
//   oracle), multiply by 1 / sum. A row of all -inf or holding a NaN comes
//   out NaN, as in ggml.
// - argmax: index of the first maximum; NaN counts as larger than every
//   number, so a row with a NaN yields its first NaN's index.
//
// Faster version: keep a short row in registers/shared memory instead of
// re-reading it (softmax reads x twice and out once), an online max+sum in
// one pass, and several rows per block (one warp per row) for short rows.
#include "common/compat.h"

#define RF_REDUCE_MAX_THREADS 1024

RF_DEVICE float reduce_neg_inf() {
    return rf_u32_as_f32(0xff800000u);
}

// Sum / max of `v` over the block; every thread gets the result. Begins with
// a barrier so `sh` may be reused right after a previous call.
RF_DEVICE float reduce_block_sum(float v, float* sh) {
    v = rf_warp_sum(v);
    const int lane = threadIdx.x % RF_WARP_SIZE;
    const int warp = threadIdx.x / RF_WARP_SIZE;
    const int n_warps = blockDim.x / RF_WARP_SIZE;
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    // n_warps <= 1024 / 32 = 32 <= RF_WARP_SIZE: one warp covers every slot.
    v = lane < n_warps ? sh[lane] : 0.0f;
    return rf_warp_sum(v);
}

RF_DEVICE float reduce_block_max(float v, float* sh) {
    v = rf_warp_max(v);
    const int lane = threadIdx.x % RF_WARP_SIZE;
    const int warp = threadIdx.x / RF_WARP_SIZE;
    const int n_warps = blockDim.x / RF_WARP_SIZE;
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    v = lane < n_warps ? sh[lane] : reduce_neg_inf();
    return rf_warp_max(v);
}

extern "C" __global__ void softmax_f32(const float* __restrict__ x, float* __restrict__ out, rf_i32 ncols,
                                       rf_i64 nrows, float scale) {
    __shared__ float sh[RF_REDUCE_MAX_THREADS / 32];
    for (rf_i64 row = blockIdx.x; row < nrows; row += gridDim.x) {
        const float* xr = x + row * (rf_i64)ncols;
        float* yr = out + row * (rf_i64)ncols;
        float max = reduce_neg_inf();
        for (rf_i32 i = threadIdx.x; i < ncols; i += blockDim.x) max = fmaxf(max, xr[i] * scale);
        max = reduce_block_max(max, sh);
        float sum = 0.0f;
        // Each thread writes and later rescales only its own elements: no
        // barrier needed between the two loops beyond the sum's.
        for (rf_i32 i = threadIdx.x; i < ncols; i += blockDim.x) {
            const float e = expf(xr[i] * scale - max);
            yr[i] = e;
            sum += e;
        }
        sum = reduce_block_sum(sum, sh);
        const float inv = 1.0f / sum;
        for (rf_i32 i = threadIdx.x; i < ncols; i += blockDim.x) yr[i] *= inv;
    }
}

// Whether candidate (v, i) beats the current best (bv, bi) in the oracle's
// order: NaN above every number, larger value, then the smaller index.
RF_DEVICE bool argmax_better(float v, rf_i32 i, float bv, rf_i32 bi) {
    const bool vn = v != v;
    const bool bn = bv != bv;
    if (vn != bn) return vn;
    if (!vn && v != bv) return v > bv;
    return i < bi;
}

// out[r] = index of the first maximum of row r. ncols >= 1 (the wrapper
// refuses empty rows, as the oracle does).
extern "C" __global__ void argmax_f32(const float* __restrict__ x, rf_i32* __restrict__ out, rf_i32 ncols,
                                      rf_i64 nrows) {
    __shared__ float sh_v[RF_REDUCE_MAX_THREADS / 32];
    __shared__ rf_i32 sh_i[RF_REDUCE_MAX_THREADS / 32];
    const int lane = threadIdx.x % RF_WARP_SIZE;
    const int warp = threadIdx.x / RF_WARP_SIZE;
    const int n_warps = blockDim.x / RF_WARP_SIZE;
    for (rf_i64 row = blockIdx.x; row < nrows; row += gridDim.x) {
        const float* xr = x + row * (rf_i64)ncols;
        // A thread without elements starts at an index no real one beats
        // on ties and a value every number beats.
        float bv = reduce_neg_inf();
        rf_i32 bi = 0x7fffffff;
        for (rf_i32 i = threadIdx.x; i < ncols; i += blockDim.x) {
            const float v = xr[i];
            if (argmax_better(v, i, bv, bi)) {
                bv = v;
                bi = i;
            }
        }
#pragma unroll
        for (int m = RF_WARP_SIZE / 2; m > 0; m >>= 1) {
            const float ov = rf_shfl_xor(bv, m);
            const rf_i32 oi = rf_shfl_xor(bi, m);
            if (argmax_better(ov, oi, bv, bi)) {
                bv = ov;
                bi = oi;
            }
        }
        __syncthreads();
        if (lane == 0) {
            sh_v[warp] = bv;
            sh_i[warp] = bi;
        }
        __syncthreads();
        if (warp == 0) {
            bv = lane < n_warps ? sh_v[lane] : reduce_neg_inf();
            bi = lane < n_warps ? sh_i[lane] : 0x7fffffff;
#pragma unroll
            for (int m = RF_WARP_SIZE / 2; m > 0; m >>= 1) {
                const float ov = rf_shfl_xor(bv, m);
                const rf_i32 oi = rf_shfl_xor(bi, m);
                if (argmax_better(ov, oi, bv, bi)) {
                    bv = ov;
                    bi = oi;
                }
            }
            if (lane == 0) out[row] = bi;
        }
    }
}
