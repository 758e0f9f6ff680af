// quant.h: device-side decoding of ggml's block formats, bit-exact with the
// CPU oracle (crates/backend-cpu/src/quant/*.rs, which documents each layout
// and is itself bit-exact with ggml's dequantize_row_*).
//
// One struct per format, named after the ggml type (rf_q4_K for "q4_K"):
//   QK     elements per block (32 legacy, 256 K-quants)
//   BYTES  bytes per block
//   ALIGN  the alignment (bytes) its loads assume of every block: 2 for the
//          formats whose block size is only even (loads are built from
//          16-bit halves), 4 for those whose block size is a multiple of 4.
//          The host only launches on a table whose base offset has it.
//   run(blk, r, v)
//          decodes the r-th run of 8 consecutive elements of the block at
//          `blk` (elements 8r .. 8r+7, r in 0 .. QK/8) into v[0..8].
//
// A run never straddles a 32-element group, so a kernel can decode a block
// piecewise: one run per thread (get_rows, matmul's tile loader) or a
// warp's lanes spread over a row's runs (matmul's matrix-vector kernel).
//
// Exactness: every product below is exact in f32 (an f16 scale has 11
// significant bits, the integer it multiplies at most 12 more), so the only
// rounding is the final subtraction/addition of the minimum (Q4_1, Q5_1,
// Q2_K, Q4_K, Q5_K), and a fused multiply-add computes that same rounded
// value. Hence contraction (NVRTC's default --fmad=true, clang's
// -ffp-contract=fast-honor-pragmas) cannot change a decoded value.
//
// Faster versions would decode whole 32-element groups per lane with 16-byte
// loads where the block layout allows it (Q4_K/Q5_K blocks are multiples of
// 16 bytes), or skip dequantization altogether and work on integers
// (quantize activations to 8 bits and use dp4a / packed dot instructions, as
// ggml's MMVQ/MMQ do) at the price of activation rounding.
#pragma once

#include "common/compat.h"

// ---- loads ------------------------------------------------------------------

// Little-endian f16 at p (2-byte aligned), widened exactly.
RF_DEVICE float rf_ld_f16(const rf_u8* p) {
    return rf_f16_to_f32(*(const rf_u16*)p);
}

// 32 bits at a 2-byte aligned p, from two 16-bit loads.
RF_DEVICE rf_u32 rf_ld_u32_a2(const rf_u8* p) {
    const rf_u16* h = (const rf_u16*)p;
    return (rf_u32)h[0] | ((rf_u32)h[1] << 16);
}

// 32 bits at a 4-byte aligned p.
RF_DEVICE rf_u32 rf_ld_u32_a4(const rf_u8* p) {
    return *(const rf_u32*)p;
}

// Byte i (0..8) of the 8 bytes held as two little-endian words.
RF_DEVICE rf_u32 rf_byte8(rf_u32 lo, rf_u32 hi, int i) {
    return ((i < 4 ? lo : hi) >> (8 * (i & 3))) & 0xffu;
}

// ---- legacy formats: 32 elements per block ---------------------------------
// In Q4_0/Q4_1/Q5_0/Q5_1, byte j of qs holds element j in its low nibble and
// element j + 16 in its high nibble: run r reads bytes 8 * (r & 1) .. + 8,
// nibble r >> 1.

// Q4_0: d f16 @0, qs[16] @2. Element = (q - 8) * d.
struct rf_q4_0 {
    static constexpr int QK = 32;
    static constexpr int BYTES = 18;
    static constexpr int ALIGN = 2;
    static RF_DEVICE void run(const rf_u8* b, int r, float* v) {
        const float d = rf_ld_f16(b);
        const rf_u8* q = b + 2 + 8 * (r & 1);
        const int shift = 4 * (r >> 1);
        const rf_u32 lo = rf_ld_u32_a2(q), hi = rf_ld_u32_a2(q + 4);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const int x = (int)((rf_byte8(lo, hi, i) >> shift) & 0xfu) - 8;
            v[i] = (float)x * d;
        }
    }
};

// Q4_1: d f16 @0, m f16 @2, qs[16] @4. Element = q * d + m.
struct rf_q4_1 {
    static constexpr int QK = 32;
    static constexpr int BYTES = 20;
    static constexpr int ALIGN = 4;
    static RF_DEVICE void run(const rf_u8* b, int r, float* v) {
        const float d = rf_ld_f16(b);
        const float m = rf_ld_f16(b + 2);
        const rf_u8* q = b + 4 + 8 * (r & 1);
        const int shift = 4 * (r >> 1);
        const rf_u32 lo = rf_ld_u32_a4(q), hi = rf_ld_u32_a4(q + 4);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const float x = (float)((rf_byte8(lo, hi, i) >> shift) & 0xfu);
            v[i] = x * d + m;
        }
    }
};

// Q5_0: d f16 @0, qh u32 @2 (bit e = bit 4 of element e), qs[16] @6.
// Element = (q - 16) * d.
struct rf_q5_0 {
    static constexpr int QK = 32;
    static constexpr int BYTES = 22;
    static constexpr int ALIGN = 2;
    static RF_DEVICE void run(const rf_u8* b, int r, float* v) {
        const float d = rf_ld_f16(b);
        const rf_u32 qh = rf_ld_u32_a2(b + 2) >> (8 * r);
        const rf_u8* q = b + 6 + 8 * (r & 1);
        const int shift = 4 * (r >> 1);
        const rf_u32 lo = rf_ld_u32_a2(q), hi = rf_ld_u32_a2(q + 4);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const rf_u32 low = (rf_byte8(lo, hi, i) >> shift) & 0xfu;
            const int x = (int)(low | (((qh >> i) & 1u) << 4)) - 16;
            v[i] = (float)x * d;
        }
    }
};

// Q5_1: d f16 @0, m f16 @2, qh u32 @4, qs[16] @8. Element = q * d + m.
struct rf_q5_1 {
    static constexpr int QK = 32;
    static constexpr int BYTES = 24;
    static constexpr int ALIGN = 4;
    static RF_DEVICE void run(const rf_u8* b, int r, float* v) {
        const float d = rf_ld_f16(b);
        const float m = rf_ld_f16(b + 2);
        const rf_u32 qh = rf_ld_u32_a4(b + 4) >> (8 * r);
        const rf_u8* q = b + 8 + 8 * (r & 1);
        const int shift = 4 * (r >> 1);
        const rf_u32 lo = rf_ld_u32_a4(q), hi = rf_ld_u32_a4(q + 4);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const rf_u32 low = (rf_byte8(lo, hi, i) >> shift) & 0xfu;
            const float x = (float)(low | (((qh >> i) & 1u) << 4));
            v[i] = x * d + m;
        }
    }
};

// Q8_0: d f16 @0, qs[32] i8 @2. Element = q * d.
struct rf_q8_0 {
    static constexpr int QK = 32;
    static constexpr int BYTES = 34;
    static constexpr int ALIGN = 2;
    static RF_DEVICE void run(const rf_u8* b, int r, float* v) {
        const float d = rf_ld_f16(b);
        const rf_u8* q = b + 2 + 8 * r;
        const rf_u32 lo = rf_ld_u32_a2(q), hi = rf_ld_u32_a2(q + 4);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const int x = (int)(rf_i8)rf_byte8(lo, hi, i);
            v[i] = (float)x * d;
        }
    }
};

// ---- K-quants: 256 elements per super-block --------------------------------

// Q2_K: scales[16] @0 (low nibble scale, high nibble minimum of sub-block k
// of 16), qs[64] @16, d f16 @80, dmin f16 @82. Element e is dl * q - ml with
// dl = d * (sc & 15), ml = dmin * (sc >> 4); q is the bit pair of byte
// qs[32 * (e / 128) + e % 32] at bit 2 * ((e % 128) / 32).
struct rf_q2_K {
    static constexpr int QK = 256;
    static constexpr int BYTES = 84;
    static constexpr int ALIGN = 4;
    static RF_DEVICE void run(const rf_u8* b, int r, float* v) {
        const int e0 = 8 * r;
        const rf_u32 sc = b[e0 / 16];
        const float dl = rf_ld_f16(b + 80) * (float)(sc & 0xfu);
        const float ml = rf_ld_f16(b + 82) * (float)(sc >> 4);
        const rf_u8* q = b + 16 + 32 * (e0 / 128) + e0 % 32;
        const int shift = 2 * ((e0 % 128) / 32);
        const rf_u32 lo = rf_ld_u32_a4(q), hi = rf_ld_u32_a4(q + 4);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const float x = (float)((rf_byte8(lo, hi, i) >> shift) & 3u);
            v[i] = dl * x - ml;
        }
    }
};

// Q3_K: hmask[32] @0, qs[64] @32, scales[12] @96 (sixteen packed 6-bit
// scales, stored + 32), d f16 @108. Element e is d * (s - 32) * q with
// q = low - (high ? 0 : 4); low as in Q2_K, high = bit e / 32 of
// hmask[e % 32].
struct rf_q3_K {
    static constexpr int QK = 256;
    static constexpr int BYTES = 110;
    static constexpr int ALIGN = 2;
    static RF_DEVICE void run(const rf_u8* b, int r, float* v) {
        const int e0 = 8 * r;
        const int k = e0 / 16;
        const rf_u8* s = b + 96;
        const rf_u32 low4 = k < 8 ? (s[k] & 0xfu) : (s[k - 8] >> 4);
        const rf_u32 high2 = (s[8 + k % 4] >> (2 * (k / 4))) & 3u;
        const float dl = rf_ld_f16(b + 108) * (float)((int)(low4 | (high2 << 4)) - 32);
        const rf_u8* q = b + 32 + 32 * (e0 / 128) + e0 % 32;
        const int shift = 2 * ((e0 % 128) / 32);
        const rf_u32 lo = rf_ld_u32_a2(q), hi = rf_ld_u32_a2(q + 4);
        const rf_u8* hm = b + e0 % 32;
        const rf_u32 hlo = rf_ld_u32_a2(hm), hhi = rf_ld_u32_a2(hm + 4);
        const int hbit = e0 / 32;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const int lowq = (int)((rf_byte8(lo, hi, i) >> shift) & 3u);
            const int high = (int)((rf_byte8(hlo, hhi, i) >> hbit) & 1u);
            v[i] = dl * (float)(lowq - (high ? 0 : 4));
        }
    }
};

// Sub-block k's 6-bit scale and minimum from Q4_K/Q5_K's 12 packed bytes
// (ggml's get_scale_min_k4).
RF_DEVICE void rf_scale_min_k4(const rf_u8* s, int k, rf_u32* sc, rf_u32* m) {
    if (k < 4) {
        *sc = s[k] & 63u;
        *m = s[k + 4] & 63u;
    } else {
        *sc = (s[k + 4] & 0xfu) | ((rf_u32)(s[k - 4] >> 6) << 4);
        *m = (s[k + 4] >> 4) | ((rf_u32)(s[k] >> 6) << 4);
    }
}

// Q4_K: d f16 @0, dmin f16 @2, scales[12] @4, qs[128] @16. Element e of
// sub-block k = e / 32 is d * sc[k] * q - dmin * m[k], q the nibble
// (low for even k, high for odd) of qs[32 * (e / 64) + e % 32].
struct rf_q4_K {
    static constexpr int QK = 256;
    static constexpr int BYTES = 144;
    static constexpr int ALIGN = 4;
    static RF_DEVICE void run(const rf_u8* b, int r, float* v) {
        const int e0 = 8 * r;
        const int k = e0 / 32;
        rf_u32 sc, m;
        rf_scale_min_k4(b + 4, k, &sc, &m);
        const float d1 = rf_ld_f16(b) * (float)sc;
        const float m1 = rf_ld_f16(b + 2) * (float)m;
        const rf_u8* q = b + 16 + 32 * (e0 / 64) + e0 % 32;
        const int shift = 4 * (k & 1);
        const rf_u32 lo = rf_ld_u32_a4(q), hi = rf_ld_u32_a4(q + 4);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const float x = (float)((rf_byte8(lo, hi, i) >> shift) & 0xfu);
            v[i] = d1 * x - m1;
        }
    }
};

// Q5_K: d f16 @0, dmin f16 @2, scales[12] @4 (as Q4_K), qh[32] @16 (bit k
// of qh[e % 32] is bit 4 of element e), qs[128] @48 (as Q4_K's qs).
struct rf_q5_K {
    static constexpr int QK = 256;
    static constexpr int BYTES = 176;
    static constexpr int ALIGN = 4;
    static RF_DEVICE void run(const rf_u8* b, int r, float* v) {
        const int e0 = 8 * r;
        const int k = e0 / 32;
        rf_u32 sc, m;
        rf_scale_min_k4(b + 4, k, &sc, &m);
        const float d1 = rf_ld_f16(b) * (float)sc;
        const float m1 = rf_ld_f16(b + 2) * (float)m;
        const rf_u8* q = b + 48 + 32 * (e0 / 64) + e0 % 32;
        const int shift = 4 * (k & 1);
        const rf_u32 lo = rf_ld_u32_a4(q), hi = rf_ld_u32_a4(q + 4);
        const rf_u8* qh = b + 16 + e0 % 32;
        const rf_u32 hlo = rf_ld_u32_a4(qh), hhi = rf_ld_u32_a4(qh + 4);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const rf_u32 low = (rf_byte8(lo, hi, i) >> shift) & 0xfu;
            const rf_u32 high = (rf_byte8(hlo, hhi, i) >> k) & 1u;
            v[i] = d1 * (float)(low + 16u * high) - m1;
        }
    }
};

// Q6_K: ql[128] @0, qh[64] @128, scales[16] i8 @192, d f16 @208. With
// e = 128 h + 32 t + l: low nibble (t < 2) or high nibble (t >= 2) of
// ql[64 h + 32 (t % 2) + l], top bits 2t, 2t+1 of qh[32 h + l]; element =
// d * scales[e / 16] * (q - 32).
struct rf_q6_K {
    static constexpr int QK = 256;
    static constexpr int BYTES = 210;
    static constexpr int ALIGN = 2;
    static RF_DEVICE void run(const rf_u8* b, int r, float* v) {
        const int e0 = 8 * r;
        const int h = e0 / 128, t = (e0 % 128) / 32, l = e0 % 32;
        const float dl = rf_ld_f16(b + 208) * (float)(int)(rf_i8)b[192 + e0 / 16];
        const rf_u8* ql = b + 64 * h + 32 * (t % 2) + l;
        const rf_u8* qh = b + 128 + 32 * h + l;
        const int lshift = 4 * (t / 2), hshift = 2 * t;
        const rf_u32 lo = rf_ld_u32_a2(ql), hi = rf_ld_u32_a2(ql + 4);
        const rf_u32 hlo = rf_ld_u32_a2(qh), hhi = rf_ld_u32_a2(qh + 4);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const rf_u32 low = (rf_byte8(lo, hi, i) >> lshift) & 0xfu;
            const rf_u32 high = (rf_byte8(hlo, hhi, i) >> hshift) & 3u;
            v[i] = dl * (float)((int)(low | (high << 4)) - 32);
        }
    }
};

// ---- plain floating-point weights -------------------------------------------
// Element-wise loads of a row of F32 / F16 / BF16 (any length, no blocks).

struct rf_w_f32 {
    static constexpr int ALIGN = 4;
    static RF_DEVICE float load(const rf_u8* row, int k) { return ((const float*)row)[k]; }
};

struct rf_w_f16 {
    static constexpr int ALIGN = 2;
    static RF_DEVICE float load(const rf_u8* row, int k) { return rf_f16_to_f32(((const rf_u16*)row)[k]); }
};

struct rf_w_bf16 {
    static constexpr int ALIGN = 2;
    static RF_DEVICE float load(const rf_u8* row, int k) { return rf_bf16_to_f32(((const rf_u16*)row)[k]); }
};
