//! Plain floating-point element types: F32, F16 (IEEE binary16) and BF16
//! (bfloat16, the top half of an f32), each element stored little-endian.
//!
//! Widening to f32 is exact for both 16-bit types. Narrowing rounds to the
//! nearest representable value, ties to even, as ggml's `GGML_FP32_TO_FP16`
//! and `ggml_compute_fp32_to_bf16` do; values beyond the f16 range become
//! ±infinity. NaN stays NaN (quieted); its payload bits may differ from
//! ggml's, which returns a canonical NaN for f16.
//!
//! The callers in [`super`] have checked that the slices hold the same number
//! of elements.

use half::{bf16, f16};

/// Little-endian f32 bytes to f32 (a copy; any bit pattern, NaN included,
/// passes through unchanged).
pub fn f32_from_bytes(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(4).zip(dst.iter_mut()) {
        *y = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

/// f32 to little-endian f32 bytes.
pub fn f32_to_bytes(src: &[f32], dst: &mut [u8]) {
    for (x, b) in src.iter().zip(dst.chunks_exact_mut(4)) {
        b.copy_from_slice(&x.to_le_bytes());
    }
}

/// Little-endian f16 to f32 (exact).
pub fn f16_to_f32(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(2).zip(dst.iter_mut()) {
        *y = f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32();
    }
}

/// f32 to little-endian f16, rounding to nearest even.
pub fn f32_to_f16(src: &[f32], dst: &mut [u8]) {
    for (x, b) in src.iter().zip(dst.chunks_exact_mut(2)) {
        b.copy_from_slice(&f16::from_f32(*x).to_bits().to_le_bytes());
    }
}

/// Little-endian bf16 to f32 (exact: the bf16 bits become the top half).
pub fn bf16_to_f32(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(2).zip(dst.iter_mut()) {
        *y = bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32();
    }
}

/// f32 to little-endian bf16, rounding to nearest even; a NaN keeps its top
/// bits and gets the quiet bit set, as in ggml.
pub fn f32_to_bf16(src: &[f32], dst: &mut [u8]) {
    for (x, b) in src.iter().zip(dst.chunks_exact_mut(2)) {
        b.copy_from_slice(&bf16::from_f32(*x).to_bits().to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_even() {
        // 1.0 + 2^-8 is halfway between two bf16 values: ties to even (1.0).
        let mut out = [0u8; 6];
        let x = [1.0 + 2f32.powi(-8), 1.0 + 3.0 * 2f32.powi(-8), f32::NAN];
        f32_to_bf16(&x, &mut out);
        assert_eq!(u16::from_le_bytes([out[0], out[1]]), 0x3F80);
        assert_eq!(u16::from_le_bytes([out[2], out[3]]), 0x3F82);
        let nan = u16::from_le_bytes([out[4], out[5]]);
        assert!(nan & 0x7F80 == 0x7F80 && nan & 0x0040 != 0);
    }

    #[test]
    fn f16_round_trip_is_exact_for_f16_values() {
        // Zeros, the largest finite value, the smallest subnormal (2^-24),
        // and the f16 nearest to 1/3.
        let x = [0.0f32, -0.0, 1.0, -65504.0, 2f32.powi(-24), 0.333_251_95];
        let mut b = [0u8; 12];
        let mut y = [0.0f32; 6];
        f32_to_f16(&x, &mut b);
        f16_to_f32(&b, &mut y);
        for (a, c) in x.iter().zip(&y) {
            assert_eq!(a.to_bits(), c.to_bits());
        }
    }
}
