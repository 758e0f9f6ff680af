// compat.h: the one place a ROCmForge kernel learns which platform it is
// compiled for. Kernels are HIP-dialect source (__global__, threadIdx,
// __shared__, __syncthreads) compiled at run time by hiprtc (AMD) or NVRTC
// (HIP's NVIDIA platform), with no toolkit headers: everything below uses
// compiler builtins only, so a machine with just the driver and the runtime
// compiler can build every kernel.
//
// The backend defines for every compile:
//   RF_PLATFORM_AMD=1 or RF_PLATFORM_NVIDIA=1
//   RF_WARP_SIZE=<the device's queried warp size> (32, or 64 on CDNA AMD)
//
// Kernel entry points are `extern "C" __global__` so their names are not
// mangled (the backend looks them up by name).
#pragma once

#if defined(RF_PLATFORM_AMD) == defined(RF_PLATFORM_NVIDIA)
#error "compat.h: exactly one of RF_PLATFORM_AMD / RF_PLATFORM_NVIDIA must be defined"
#endif
#ifndef RF_WARP_SIZE
#error "compat.h: RF_WARP_SIZE must be defined (the backend passes the queried warp size)"
#endif

#define RF_DEVICE __device__ __forceinline__

// Fixed-width integers without <stdint.h>. Own names, because hiprtc's
// built-in runtime header may already define the standard ones with other
// underlying types (unsigned long vs unsigned long long).
typedef signed char rf_i8;
typedef unsigned char rf_u8;
typedef short rf_i16;
typedef unsigned short rf_u16;
typedef int rf_i32;
typedef unsigned int rf_u32;
typedef long long rf_i64;
typedef unsigned long long rf_u64;

static_assert(sizeof(rf_u16) == 2 && sizeof(rf_u32) == 4 && sizeof(rf_u64) == 8, "integer sizes");

// ---- warp shuffles -------------------------------------------------------
// Explicit width everywhere: a reduction over RF_WARP_SIZE lanes, or a
// sub-group. On NVIDIA every lane of the warp must take part (full mask).

RF_DEVICE float rf_shfl_xor(float v, int lane_mask, int width = RF_WARP_SIZE) {
#if RF_PLATFORM_NVIDIA
    return __shfl_xor_sync(0xffffffffu, v, lane_mask, width);
#else
    return __shfl_xor(v, lane_mask, width);
#endif
}

RF_DEVICE int rf_shfl_xor(int v, int lane_mask, int width = RF_WARP_SIZE) {
#if RF_PLATFORM_NVIDIA
    return __shfl_xor_sync(0xffffffffu, v, lane_mask, width);
#else
    return __shfl_xor(v, lane_mask, width);
#endif
}

// c + the dot product of the four signed bytes of a and of b (dp4a on
// NVIDIA sm_61+, sdot4 on CDNA; plain arithmetic elsewhere).
RF_DEVICE int rf_dp4a(int a, int b, int c) {
#if RF_PLATFORM_NVIDIA
    int d;
    asm("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
#elif defined(__gfx906__) || defined(__gfx908__) || defined(__gfx90a__) || defined(__gfx940__) || \
    defined(__gfx941__) || defined(__gfx942__)
    return __builtin_amdgcn_sdot4(a, b, c, false);
#else
#pragma unroll
    for (int i = 0; i < 4; ++i) c += (int)(signed char)(a >> (8 * i)) * (int)(signed char)(b >> (8 * i));
    return c;
#endif
}

RF_DEVICE float rf_warp_sum(float v) {
#pragma unroll
    for (int m = RF_WARP_SIZE / 2; m > 0; m >>= 1) v += rf_shfl_xor(v, m);
    return v;
}

RF_DEVICE float rf_warp_max(float v) {
#pragma unroll
    for (int m = RF_WARP_SIZE / 2; m > 0; m >>= 1) v = fmaxf(v, rf_shfl_xor(v, m));
    return v;
}

// ---- bit casts and half/bfloat16 conversions ------------------------------
// f16 and bf16 travel as raw 16-bit patterns (rf_u16); no __half type, so
// no cuda_fp16.h / hip_fp16.h.

RF_DEVICE float rf_u32_as_f32(rf_u32 u) {
#if RF_PLATFORM_NVIDIA
    return __uint_as_float(u);
#else
    return __builtin_bit_cast(float, u);
#endif
}

RF_DEVICE rf_u32 rf_f32_as_u32(float f) {
#if RF_PLATFORM_NVIDIA
    return __float_as_uint(f);
#else
    return __builtin_bit_cast(rf_u32, f);
#endif
}

// IEEE half (bit pattern) to float: exact.
RF_DEVICE float rf_f16_to_f32(rf_u16 h) {
#if RF_PLATFORM_NVIDIA
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
#else
    return (float)__builtin_bit_cast(_Float16, h);
#endif
}

// Float to IEEE half (bit pattern), round to nearest even.
RF_DEVICE rf_u16 rf_f32_to_f16(float f) {
#if RF_PLATFORM_NVIDIA
    rf_u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
#else
    return __builtin_bit_cast(rf_u16, (_Float16)f);
#endif
}

// bfloat16 (bit pattern) to float: exact.
RF_DEVICE float rf_bf16_to_f32(rf_u16 b) {
    return rf_u32_as_f32((rf_u32)b << 16);
}

// Float to bfloat16 (bit pattern), round to nearest even; NaN stays NaN.
RF_DEVICE rf_u16 rf_f32_to_bf16(float f) {
    rf_u32 u = rf_f32_as_u32(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (rf_u16)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (rf_u16)(u >> 16);
}
