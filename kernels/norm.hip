// norm.hip: rms_norm and layer_norm over rows of ne[0] F32 values.
//
// One block per row (grid-stride over rows when there are more rows than
// blocks), blockDim a multiple of RF_WARP_SIZE and at most 1024. Each thread
// strides over the row, then a warp shuffle + shared-memory block reduction
// forms the sum.
//
// Arithmetic follows the CPU oracle (crates/backend-cpu/src/ops/norm.rs,
// ggml's ggml_compute_forward_{rms_,}norm_f32 then llama.cpp's mul/add):
// squares are formed in f32, `mean = sum / n`, `scale = 1 / sqrt(mean + eps)`,
// `y = x * scale`, then `y * weight`, then `+ bias`. The oracle sums in f64;
// here partial sums are f32 over a tree (relative error ~1e-7 on the mean,
// far inside the F32 tolerance).
//
// Faster version: keep the row in registers between the passes (one read of
// x instead of two/three for layer_norm), vectorised float4 loads when ne0 is
// a multiple of 4, and several rows per block for short rows.
#include "common/compat.h"

// The most threads a launch uses; the wrappers clamp to it.
#define RF_NORM_MAX_THREADS 1024

// Sum of `v` over the block; every thread gets the total. `sh` holds one
// float per warp. Begins with a barrier so `sh` may be reused right after a
// previous call.
RF_DEVICE float norm_block_sum(float v, float* sh) {
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

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight (weight optional:
// null means none).
extern "C" __global__ void rms_norm_f32(const float* __restrict__ x, const float* __restrict__ weight,
                                        float* __restrict__ out, rf_i32 ncols, rf_i64 nrows, float eps) {
    __shared__ float sh[RF_NORM_MAX_THREADS / 32];
    for (rf_i64 row = blockIdx.x; row < nrows; row += gridDim.x) {
        const float* xr = x + row * (rf_i64)ncols;
        float* yr = out + row * (rf_i64)ncols;
        float sum = 0.0f;
        for (rf_i32 i = threadIdx.x; i < ncols; i += blockDim.x) {
            const float v = xr[i];
            sum += v * v;
        }
        sum = norm_block_sum(sum, sh);
        const float mean = sum / (float)ncols;
        const float scale = 1.0f / sqrtf(mean + eps);
        for (rf_i32 i = threadIdx.x; i < ncols; i += blockDim.x) {
            float y = xr[i] * scale;
            if (weight) y *= weight[i];
            yr[i] = y;
        }
    }
}

// out[r, :] = (x[r, :] - mean) / sqrt(var + eps) * weight + bias (weight and
// bias optional: null means none). Two passes, as the oracle: the mean,
// then the variance of the centred values.
extern "C" __global__ void layer_norm_f32(const float* __restrict__ x, const float* __restrict__ weight,
                                          const float* __restrict__ bias, float* __restrict__ out, rf_i32 ncols,
                                          rf_i64 nrows, float eps) {
    __shared__ float sh[RF_NORM_MAX_THREADS / 32];
    for (rf_i64 row = blockIdx.x; row < nrows; row += gridDim.x) {
        const float* xr = x + row * (rf_i64)ncols;
        float* yr = out + row * (rf_i64)ncols;
        float sum = 0.0f;
        for (rf_i32 i = threadIdx.x; i < ncols; i += blockDim.x) sum += xr[i];
        sum = norm_block_sum(sum, sh);
        const float mean = sum / (float)ncols;
        float sum2 = 0.0f;
        for (rf_i32 i = threadIdx.x; i < ncols; i += blockDim.x) {
            const float c = xr[i] - mean;
            sum2 += c * c;
        }
        sum2 = norm_block_sum(sum2, sh);
        const float variance = sum2 / (float)ncols;
        const float scale = 1.0f / sqrtf(variance + eps);
        for (rf_i32 i = threadIdx.x; i < ncols; i += blockDim.x) {
            float y = (xr[i] - mean) * scale;
            if (weight) y *= weight[i];
            if (bias) y += bias[i];
            yr[i] = y;
        }
    }
}
