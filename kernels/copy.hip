// copy.hip: element-wise copy between two 4-D strided layouts of the same
// shape, converting among F32, F16 and BF16 (or I32 to I32).
//
// Kernels are named copy_<src>_<dst>. Both sides are walked by their own
// byte strides, so either may be a view (transpose, slice, gaps). Narrowing
// rounds to nearest even, as the oracle's `half` crate (compat.h's
// rf_f32_to_bf16; copy_f32_to_f16_bits below, in integer arithmetic, for
// the reason given there); widening is exact; equal types move the bits
// unchanged (NaN payloads included).
//
// A flat grid-stride loop over 64-bit element indices in ggml order
// (i0 fastest). Strides need not be multiples of the element size: with
// `aligned == 0` elements are assembled byte by byte. A destination view
// that hits the same bytes twice (zero or overlapping strides) is launched
// by the wrapper as a single thread, so that, as on the oracle, the last
// element in ggml order wins.
//
// Faster version: a contiguous-to-contiguous path with vector loads, a
// tiled transpose through shared memory when the innermost strides differ,
// and 32-bit index math when sizes allow.
#include "common/compat.h"

#define RF_T_F32 0
#define RF_T_F16 1
#define RF_T_BF16 2
#define RF_T_I32 3

template <int T>
struct copy_type;
template <>
struct copy_type<RF_T_F32> {
    typedef rf_u32 bits;
};
template <>
struct copy_type<RF_T_F16> {
    typedef rf_u16 bits;
};
template <>
struct copy_type<RF_T_BF16> {
    typedef rf_u16 bits;
};
template <>
struct copy_type<RF_T_I32> {
    typedef rf_u32 bits;
};

// Little-endian load/store of a value's bits at any byte address.
template <typename B>
RF_DEVICE B copy_load(const rf_u8* p, bool aligned) {
    if (aligned) return *(const B*)p;
    B v = 0;
#pragma unroll
    for (int k = 0; k < (int)sizeof(B); ++k) v |= (B)((B)p[k] << (8 * k));
    return v;
}

template <typename B>
RF_DEVICE void copy_store(rf_u8* p, B v, bool aligned) {
    if (aligned) {
        *(B*)p = v;
        return;
    }
#pragma unroll
    for (int k = 0; k < (int)sizeof(B); ++k) p[k] = (rf_u8)(v >> (8 * k));
}

template <int T>
RF_DEVICE float copy_to_f32(typename copy_type<T>::bits b) {
    if (T == RF_T_F16) return rf_f16_to_f32((rf_u16)b);
    if (T == RF_T_BF16) return rf_bf16_to_f32((rf_u16)b);
    return rf_u32_as_f32((rf_u32)b);
}

// Float to IEEE half bits, round to nearest even, in integer arithmetic
// (the `half` crate's software conversion, which the oracle uses: overflow
// to inf, subnormals rounded, NaN kept quiet with its top payload bits).
//
// Why not compat.h's rf_f32_to_f16: on NVIDIA, ptxas (NVRTC 12.9 and 13.0,
// sm_80 and sm_90) miscompiles storing the low byte of a `cvt.rn.f16.f32`
// result with `st.u8` (what the unaligned path does): it emits
// `F2I.U8.F16`, converting the half *value* to an integer instead of
// truncating its bits. Integer-only arithmetic gives ptxas nothing to
// misread, and the same bits on every platform.
RF_DEVICE rf_u16 copy_f32_to_f16_bits(float f) {
    const rf_u32 x = rf_f32_as_u32(f);
    const rf_u32 sign = (x >> 16) & 0x8000u;
    const rf_u32 exp = x & 0x7f800000u;
    const rf_u32 man = x & 0x007fffffu;
    if (exp == 0x7f800000u) {
        // Inf, or NaN: quiet, with the payload's top bits.
        return (rf_u16)(sign | 0x7c00u | (man != 0 ? 0x0200u : 0u) | (man >> 13));
    }
    const int half_exp = (int)(exp >> 23) - 127 + 15;
    if (half_exp >= 0x1f) return (rf_u16)(sign | 0x7c00u);
    if (half_exp <= 0) {
        // Subnormal half (or zero): shift the full mantissa into place.
        if (14 - half_exp > 24) return (rf_u16)sign;
        const rf_u32 m = man | 0x00800000u;
        rf_u32 half_man = m >> (14 - half_exp);
        const rf_u32 round_bit = 1u << (13 - half_exp);
        if ((m & round_bit) != 0 && (m & (3u * round_bit - 1u)) != 0) half_man += 1;
        return (rf_u16)(sign | half_man);
    }
    const rf_u32 h = sign | ((rf_u32)half_exp << 10) | (man >> 13);
    // Round to nearest even; a carry out of the mantissa steps the exponent
    // (up to inf), which is the correct rounding.
    const rf_u32 round_bit = 0x1000u;
    return (rf_u16)(((man & round_bit) != 0 && (man & (3u * round_bit - 1u)) != 0) ? h + 1 : h);
}

template <int T>
RF_DEVICE typename copy_type<T>::bits copy_from_f32(float v) {
    if (T == RF_T_F16) return (typename copy_type<T>::bits)copy_f32_to_f16_bits(v);
    if (T == RF_T_BF16) return (typename copy_type<T>::bits)rf_f32_to_bf16(v);
    return (typename copy_type<T>::bits)rf_f32_as_u32(v);
}

template <int S, int D>
RF_DEVICE void copy_strided(const rf_u8* __restrict__ src, rf_u8* __restrict__ dst, rf_i64 n, rf_i64 ne0, rf_i64 ne1,
                            rf_i64 ne2, rf_i64 s0, rf_i64 s1, rf_i64 s2, rf_i64 s3, rf_i64 d0, rf_i64 d1, rf_i64 d2,
                            rf_i64 d3, rf_i32 aligned) {
    typedef typename copy_type<S>::bits SB;
    typedef typename copy_type<D>::bits DB;
    const rf_i64 stride = (rf_i64)gridDim.x * blockDim.x;
    for (rf_i64 i = (rf_i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const rf_i64 i0 = i % ne0;
        const rf_i64 r = i / ne0;
        const rf_i64 i1 = r % ne1;
        const rf_i64 r2 = r / ne1;
        const rf_i64 i2 = r2 % ne2;
        const rf_i64 i3 = r2 / ne2;
        const SB v = copy_load<SB>(src + i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3, aligned != 0);
        DB w;
        if (S == D) {
            w = (DB)v;
        } else {
            w = copy_from_f32<D>(copy_to_f32<S>(v));
        }
        copy_store<DB>(dst + i0 * d0 + i1 * d1 + i2 * d2 + i3 * d3, w, aligned != 0);
    }
}

#define RF_COPY_KERNEL(name, S, D)                                                                                  \
    extern "C" __global__ void name(const rf_u8* __restrict__ src, rf_u8* __restrict__ dst, rf_i64 n, rf_i64 ne0, \
                                    rf_i64 ne1, rf_i64 ne2, rf_i64 s0, rf_i64 s1, rf_i64 s2, rf_i64 s3, rf_i64 d0,  \
                                    rf_i64 d1, rf_i64 d2, rf_i64 d3, rf_i32 aligned) {                            \
        copy_strided<S, D>(src, dst, n, ne0, ne1, ne2, s0, s1, s2, s3, d0, d1, d2, d3, aligned);                   \
    }

// The instances, listed explicitly (src type, dst type).
RF_COPY_KERNEL(copy_f32_f32, RF_T_F32, RF_T_F32)
RF_COPY_KERNEL(copy_f32_f16, RF_T_F32, RF_T_F16)
RF_COPY_KERNEL(copy_f32_bf16, RF_T_F32, RF_T_BF16)
RF_COPY_KERNEL(copy_f16_f32, RF_T_F16, RF_T_F32)
RF_COPY_KERNEL(copy_f16_f16, RF_T_F16, RF_T_F16)
RF_COPY_KERNEL(copy_f16_bf16, RF_T_F16, RF_T_BF16)
RF_COPY_KERNEL(copy_bf16_f32, RF_T_BF16, RF_T_F32)
RF_COPY_KERNEL(copy_bf16_f16, RF_T_BF16, RF_T_F16)
RF_COPY_KERNEL(copy_bf16_bf16, RF_T_BF16, RF_T_BF16)
RF_COPY_KERNEL(copy_i32_i32, RF_T_I32, RF_T_I32)
