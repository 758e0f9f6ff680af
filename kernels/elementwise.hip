// elementwise.hip: F32 element-wise ops over contiguous tensors: add and mul
// with b broadcast over a (ggml's can_repeat), scale, and the gated units
// silu_mul and gelu_mul.
//
// Every kernel is a flat grid-stride loop over 64-bit element indices, so
// any element count works with a grid the wrapper caps. Arithmetic is the
// CPU oracle's (crates/backend-cpu/src/ops/elementwise.rs): silu(g) =
// g / (1 + exp(-g)), gelu with ggml's tanh approximation in f32.
//
// Faster version: float4 loads/stores when counts and offsets allow, a
// row-wise broadcast kernel (blockIdx.y = row, no 64-bit divisions per
// element), and fusing these into neighbouring ops (norm * weight + add).
#include "common/compat.h"

#define RF_OP_ADD 0
#define RF_OP_MUL 1

// out = a op b[broadcast]. a/out have dims n0, n1, n2 (and n / (n0 n1 n2)
// in dim 3); b has dims b0..b3, each dividing a's. same_shape != 0 skips
// the index arithmetic when b has a's shape.
template <int OP>
RF_DEVICE void binary_f32(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ out,
                          rf_i64 n, rf_i64 n0, rf_i64 n1, rf_i64 n2, rf_i64 b0, rf_i64 b1, rf_i64 b2, rf_i64 b3,
                          rf_i32 same_shape) {
    const rf_i64 stride = (rf_i64)gridDim.x * blockDim.x;
    for (rf_i64 i = (rf_i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        rf_i64 bi = i;
        if (!same_shape) {
            const rf_i64 i0 = i % n0;
            const rf_i64 r = i / n0;
            const rf_i64 i1 = r % n1;
            const rf_i64 r2 = r / n1;
            const rf_i64 i2 = r2 % n2;
            const rf_i64 i3 = r2 / n2;
            bi = (i0 % b0) + b0 * ((i1 % b1) + b1 * ((i2 % b2) + b2 * (i3 % b3)));
        }
        const float x = a[i];
        const float y = b[bi];
        out[i] = OP == RF_OP_ADD ? x + y : x * y;
    }
}

extern "C" __global__ void add_f32(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ out,
                                   rf_i64 n, rf_i64 n0, rf_i64 n1, rf_i64 n2, rf_i64 b0, rf_i64 b1, rf_i64 b2,
                                   rf_i64 b3, rf_i32 same_shape) {
    binary_f32<RF_OP_ADD>(a, b, out, n, n0, n1, n2, b0, b1, b2, b3, same_shape);
}

extern "C" __global__ void mul_f32(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ out,
                                   rf_i64 n, rf_i64 n0, rf_i64 n1, rf_i64 n2, rf_i64 b0, rf_i64 b1, rf_i64 b2,
                                   rf_i64 b3, rf_i32 same_shape) {
    binary_f32<RF_OP_MUL>(a, b, out, n, n0, n1, n2, b0, b1, b2, b3, same_shape);
}

extern "C" __global__ void scale_f32(const float* __restrict__ x, float* __restrict__ out, rf_i64 n, float scale) {
    const rf_i64 stride = (rf_i64)gridDim.x * blockDim.x;
    for (rf_i64 i = (rf_i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) out[i] = x[i] * scale;
}

// silu(g) * u, with ggml's silu(g) = g / (1 + exp(-g)).
extern "C" __global__ void silu_mul_f32(const float* __restrict__ gate, const float* __restrict__ up,
                                        float* __restrict__ out, rf_i64 n) {
    const rf_i64 stride = (rf_i64)gridDim.x * blockDim.x;
    for (rf_i64 i = (rf_i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

// gelu(g) * u, tanh approximation as ggml_gelu_f32:
// 0.5 g (1 + tanh(sqrt(2/pi) g (1 + 0.044715 g^2))).
extern "C" __global__ void gelu_mul_f32(const float* __restrict__ gate, const float* __restrict__ up,
                                        float* __restrict__ out, rf_i64 n) {
    const float sqrt_2_over_pi = 0.7978846f;
    const float gelu_coef_a = 0.044715f;
    const rf_i64 stride = (rf_i64)gridDim.x * blockDim.x;
    for (rf_i64 i = (rf_i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float g = gate[i];
        const float act = 0.5f * g * (1.0f + tanhf(sqrt_2_over_pi * g * (1.0f + gelu_coef_a * g * g)));
        out[i] = act * up[i];
    }
}
