// rope.hip: rotary position embedding with ggml's rope_ext semantics, YaRN
// included, for x/out [head_dim, n_heads, n_tokens] F32 (contiguous).
//
// One block per (head, token) row (grid-stride over rows). A row has
// n_dims / 2 rotation pairs and head_dim - n_dims pass-through dims; the
// block's threads stride over those head_dim - n_dims / 2 work items.
//
// The angles are computed exactly as the CPU oracle
// (crates/backend-cpu/src/ops/rope.rs, ggml's ggml_rope_cache_init) does,
// so results track it to the last bits rather than only to the formula:
// - `theta_scale = freq_base^(-2 / n_dims)` is one f32 powf, computed on the
//   host by the same Rust code as the oracle and passed in;
// - the angle of pair i is accumulated multiplicatively from `theta = pos`
//   (`theta *= theta_scale`, i times): powf(theta_scale, i) * pos would
//   differ by a few ulps, which at positions in the thousands is ~1e-3 rad;
// - the YaRN correction dims and the final mscale (`attn_factor`, times
//   `1 + 0.1 ln(1 / freq_scale)` when ext_factor != 0) also come from the
//   host, computed by the oracle's own arithmetic.
//
// Faster version: compute each token's (cos, sin) table once per block in
// shared memory (one sequential scan, or a per-warp prefix product) and
// reuse it for all heads of the token; several heads per block for decode.
#include "common/compat.h"

// ggml's rope_yarn_ramp for pair i, with Rust's f32 max/clamp semantics
// (max ignores a NaN operand; clamp keeps a NaN), as the oracle.
RF_DEVICE float rope_yarn_ramp(float low, float high, rf_i32 i) {
    float y = ((float)i - low) / fmaxf(high - low, 0.001f);
    if (y < 0.0f) y = 0.0f;
    if (y > 1.0f) y = 1.0f;
    return 1.0f - y;
}

// neox != 0 rotates (x[i], x[i + n_dims/2]), else (x[2i], x[2i+1]).
// freq_factors is null or holds n_dims/2 divisors of the base frequencies.
extern "C" __global__ void rope_f32(const float* __restrict__ x, const rf_i32* __restrict__ positions,
                                    const float* __restrict__ freq_factors, float* __restrict__ out,
                                    rf_i32 head_dim, rf_i32 n_heads, rf_i64 n_rows, rf_i32 n_dims, rf_i32 neox,
                                    float theta_scale, float freq_scale, float ext_factor, float mscale,
                                    float corr_low, float corr_high) {
    const rf_i32 half = n_dims / 2;
    const rf_i32 work = head_dim - half;
    for (rf_i64 row = blockIdx.x; row < n_rows; row += gridDim.x) {
        const rf_i64 token = row / n_heads;
        const float pos = (float)positions[token];
        const float* xr = x + row * (rf_i64)head_dim;
        float* yr = out + row * (rf_i64)head_dim;
        for (rf_i32 j = threadIdx.x; j < work; j += blockDim.x) {
            if (j >= half) {
                const rf_i32 i = n_dims + (j - half);
                yr[i] = xr[i];
                continue;
            }
            float theta = pos;
            for (rf_i32 k = 0; k < j; ++k) theta *= theta_scale;
            const float theta_extrap = freq_factors ? theta / freq_factors[j] : theta;
            const float theta_interp = freq_scale * theta_extrap;
            float th = theta_interp;
            if (ext_factor != 0.0f) {
                const float ramp_mix = rope_yarn_ramp(corr_low, corr_high, j) * ext_factor;
                th = theta_interp * (1.0f - ramp_mix) + theta_extrap * ramp_mix;
            }
            const float c = cosf(th) * mscale;
            const float s = sinf(th) * mscale;
            const rf_i32 i0 = neox ? j : 2 * j;
            const rf_i32 i1 = neox ? j + half : 2 * j + 1;
            const float x0 = xr[i0];
            const float x1 = xr[i1];
            yr[i0] = x0 * c - x1 * s;
            yr[i1] = x0 * s + x1 * c;
        }
    }
}
