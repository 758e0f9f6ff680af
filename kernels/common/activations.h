// activations.h: loading F32 / F16 activations as f32 (matvec.hip, matmul.hip).
#pragma once
#include "common/compat.h"

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
