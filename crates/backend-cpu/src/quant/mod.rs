//! ggml's block-quantization formats: the reference (de)quantizers every other
//! backend is checked against.
//!
//! A quantized row is a sequence of fixed-size blocks; each block holds
//! `dtype.block_len()` elements in `dtype.block_bytes()` bytes, laid out byte
//! for byte as ggml lays them out (`ggml-common.h`), so GGUF tensor data is
//! read in place. Every multi-byte field is little-endian. One module per
//! format family documents its block layout:
//!
//! | module    | types                 | elements / bytes per block |
//! |-----------|-----------------------|----------------------------|
//! | [`float`] | F32, F16, BF16        | 1 / 4, 2, 2                |
//! | [`q4_0`]  | Q4_0                  | 32 / 18                    |
//! | [`q4_1`]  | Q4_1                  | 32 / 20                    |
//! | [`q5_0`]  | Q5_0                  | 32 / 22                    |
//! | [`q5_1`]  | Q5_1                  | 32 / 24                    |
//! | [`q8_0`]  | Q8_0                  | 32 / 34                    |
//! | [`q2_k`]  | Q2_K                  | 256 / 84                   |
//! | [`q3_k`]  | Q3_K                  | 256 / 110                  |
//! | [`q4_k`]  | Q4_K                  | 256 / 144                  |
//! | [`q5_k`]  | Q5_K                  | 256 / 176                  |
//! | [`q6_k`]  | Q6_K                  | 256 / 210                  |
//!
//! **Dequantization** is bit-exact with ggml's `dequantize_row_*`: the same
//! f32 operations in the same order, without fused multiply-adds (Rust never
//! contracts `a * b + c`). The integration test `tests/quant_formats.rs`
//! checks this against gguf-py, which implements the same arithmetic.
//! In fact every product in these formats is exact in f32: an f16 scale has
//! an 11-bit significand, and the integers it is multiplied by (sub-block
//! scale times quant) need at most 12 more bits (Q6_K: 7 + 5), which fits in
//! f32's 24 and never leaves the normal range. The only rounding is the final
//! subtraction (or addition) of the minimum in Q4_1, Q5_1, Q2_K, Q4_K and
//! Q5_K, so neither the grouping of the products nor a fused multiply-add in
//! a kernel can change a dequantized value.
//!
//! **Quantization**: for F16/BF16 and the legacy types (Q4_0 … Q8_0) the
//! output is byte-identical to ggml's reference quantizers
//! (`quantize_row_*_ref`). For the K-quants it is a simple min/max quantizer
//! of our own (described above `min_scales` below), good enough for synthetic models
//! and tests but not the search-based one llama-quantize uses.
//!
//! All scales are stored as f16, as in ggml: a block whose scale exceeds
//! 65504 (for Q4_0, magnitudes beyond about 5e5) quantizes to inf/NaN, and
//! one below about 3e-8 (half the smallest f16) to zero. Neither function
//! panics on any input: NaN, infinities and arbitrary bytes only give
//! meaningless values.

// The format code indexes elements by their position `e` in the block,
// because the layouts are stated as formulas of `e`; iterator chains would
// hide them.
#![allow(clippy::needless_range_loop)]

pub mod float;
pub mod q2_k;
pub mod q3_k;
pub mod q4_0;
pub mod q4_1;
pub mod q4_k;
pub mod q5_0;
pub mod q5_1;
pub mod q5_k;
pub mod q6_k;
pub mod q8_0;

use std::fmt;

use rocmforge_backend_api::DType;

/// Elements in a K-quant super-block (ggml's `QK_K`).
pub const QK_K: usize = 256;

/// Why a row could not be (de)quantized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantError {
    /// The type does not hold real numbers (I32).
    Unsupported(DType),
    /// `n` elements are not a whole number of the type's blocks.
    PartialBlock { dtype: DType, n: usize },
    /// The byte buffer does not hold exactly `n` elements of the type.
    ByteLength { dtype: DType, n: usize, expected: usize, actual: usize },
}

impl fmt::Display for QuantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            QuantError::Unsupported(dtype) => {
                write!(f, "{dtype} is not a floating-point or quantized type")
            }
            QuantError::PartialBlock { dtype, n } => {
                write!(f, "{n} elements are not a whole number of {dtype} blocks of {}", dtype.block_len())
            }
            QuantError::ByteLength { dtype, n, expected, actual } => {
                write!(f, "{n} elements of {dtype} take {expected} bytes, the buffer has {actual}")
            }
        }
    }
}

impl std::error::Error for QuantError {}

/// Decodes the `dst.len()` elements of type `dtype` stored in `src` to f32.
///
/// `src.len()` must be `dtype.row_bytes(dst.len())`, and `dst.len()` a whole
/// number of blocks; otherwise nothing is written and an error is returned.
pub fn dequantize_row(dtype: DType, src: &[u8], dst: &mut [f32]) -> Result<(), QuantError> {
    check_lengths(dtype, dst.len(), src.len())?;
    match dtype {
        DType::F32 => float::f32_from_bytes(src, dst),
        DType::F16 => float::f16_to_f32(src, dst),
        DType::BF16 => float::bf16_to_f32(src, dst),
        DType::Q4_0 => for_each_block(src, dst, q4_0::dequantize_block),
        DType::Q4_1 => for_each_block(src, dst, q4_1::dequantize_block),
        DType::Q5_0 => for_each_block(src, dst, q5_0::dequantize_block),
        DType::Q5_1 => for_each_block(src, dst, q5_1::dequantize_block),
        DType::Q8_0 => for_each_block(src, dst, q8_0::dequantize_block),
        DType::Q2K => for_each_block(src, dst, q2_k::dequantize_block),
        DType::Q3K => for_each_block(src, dst, q3_k::dequantize_block),
        DType::Q4K => for_each_block(src, dst, q4_k::dequantize_block),
        DType::Q5K => for_each_block(src, dst, q5_k::dequantize_block),
        DType::Q6K => for_each_block(src, dst, q6_k::dequantize_block),
        // Rejected by `check_lengths`.
        DType::I32 => return Err(QuantError::Unsupported(dtype)),
    }
    Ok(())
}

/// Encodes the f32 row `src` as type `dtype` into `dst`.
///
/// `dst.len()` must be `dtype.row_bytes(src.len())`, and `src.len()` a whole
/// number of blocks; otherwise nothing is written and an error is returned.
/// See the module documentation (and each format's) for the algorithm.
pub fn quantize_row(dtype: DType, src: &[f32], dst: &mut [u8]) -> Result<(), QuantError> {
    check_lengths(dtype, src.len(), dst.len())?;
    match dtype {
        DType::F32 => float::f32_to_bytes(src, dst),
        DType::F16 => float::f32_to_f16(src, dst),
        DType::BF16 => float::f32_to_bf16(src, dst),
        DType::Q4_0 => for_each_block(src, dst, q4_0::quantize_block),
        DType::Q4_1 => for_each_block(src, dst, q4_1::quantize_block),
        DType::Q5_0 => for_each_block(src, dst, q5_0::quantize_block),
        DType::Q5_1 => for_each_block(src, dst, q5_1::quantize_block),
        DType::Q8_0 => for_each_block(src, dst, q8_0::quantize_block),
        DType::Q2K => for_each_block(src, dst, q2_k::quantize_block),
        DType::Q3K => for_each_block(src, dst, q3_k::quantize_block),
        DType::Q4K => for_each_block(src, dst, q4_k::quantize_block),
        DType::Q5K => for_each_block(src, dst, q5_k::quantize_block),
        DType::Q6K => for_each_block(src, dst, q6_k::quantize_block),
        DType::I32 => return Err(QuantError::Unsupported(dtype)),
    }
    Ok(())
}

/// Checks that `n` elements of `dtype` are whole blocks taking `bytes` bytes.
fn check_lengths(dtype: DType, n: usize, bytes: usize) -> Result<(), QuantError> {
    if dtype == DType::I32 {
        return Err(QuantError::Unsupported(dtype));
    }
    let blocks = n / dtype.block_len();
    if blocks * dtype.block_len() != n {
        return Err(QuantError::PartialBlock { dtype, n });
    }
    // blocks * block_bytes cannot overflow for an n that fits in memory as
    // f32s (block_bytes < 4 * block_len for every type), but stay honest.
    let expected = blocks.checked_mul(dtype.block_bytes()).ok_or(QuantError::PartialBlock { dtype, n })?;
    if bytes != expected {
        return Err(QuantError::ByteLength { dtype, n, expected, actual: bytes });
    }
    Ok(())
}

/// Applies a per-block function to matching blocks of `src` and `dst`; the
/// block sizes come from the function's array types. The callers have checked
/// that both slices hold the same whole number of blocks.
fn for_each_block<S, D, const SN: usize, const DN: usize>(src: &[S], dst: &mut [D], f: fn(&[S; SN], &mut [D; DN])) {
    debug_assert_eq!(src.len() / SN, dst.len() / DN);
    for (s, d) in src.chunks_exact(SN).zip(dst.chunks_exact_mut(DN)) {
        // `chunks_exact` yields exactly SN (DN) items, so both conversions
        // succeed.
        let (Ok(s), Ok(d)) = (<&[S; SN]>::try_from(s), <&mut [D; DN]>::try_from(d)) else {
            unreachable!("chunks_exact yields whole chunks");
        };
        f(s, d);
    }
}

/// Reads the little-endian f16 at `b[off..off + 2]` as f32 (exact).
#[inline]
pub(crate) fn read_f16(b: &[u8], off: usize) -> f32 {
    half::f16::from_bits(u16::from_le_bytes([b[off], b[off + 1]])).to_f32()
}

/// Rounds `v` to f16 (round to nearest even, as ggml's `GGML_FP32_TO_FP16`)
/// and stores it little-endian at `b[off..off + 2]`.
#[inline]
pub(crate) fn write_f16(b: &mut [u8], off: usize, v: f32) {
    b[off..off + 2].copy_from_slice(&half::f16::from_f32(v).to_bits().to_le_bytes());
}

/// `v` rounded to f16 and back: the value a stored f16 field will decode to.
#[inline]
pub(crate) fn f16_round(v: f32) -> f32 {
    half::f16::from_f32(v).to_f32()
}

/// Nearest integer, ties to even: the rounding of ggml's `nearest_int`
/// (which adds 1.5 * 2^23). Saturates out of range and maps NaN to 0.
#[inline]
pub(crate) fn nearest_int(v: f32) -> i32 {
    v.round_ties_even() as i32
}

/// The first element with the largest magnitude, sign kept (0.0 for an
/// all-zero slice): ggml's `amax`/`max` scan, which keeps the first of equal
/// magnitudes because it compares with a strict `<`.
pub(crate) fn signed_absmax(x: &[f32]) -> f32 {
    let mut amax = 0.0f32;
    let mut max = 0.0f32;
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    max
}

// ---------------------------------------------------------------------------
// The K-quant quantizers.
//
// ggml's K-quant reference quantizers search for the scales that minimise a
// weighted error. Ours are plain and deterministic instead, in two steps:
//
// 1. every sub-block gets an f32 scale (and, for Q2_K/Q4_K/Q5_K, a minimum)
//    from its own range, as the legacy types do for a block;
// 2. those sub-block scales are themselves quantized: the super-block scale
//    `d` (stored as f16) is the largest sub-block scale over the largest
//    integer the scale field holds, and each sub-block stores
//    `nearest(scale / d)`, computed with the f16-rounded `d` that decoding
//    will see.
//
// The quants are then chosen against the *decoded* sub-block scale and
// minimum, `nearest(x / dl)` or `nearest((x + ml) / dl)` clamped to the quant
// range, so scale-rounding error moves the grid but never biases the choice.
// ---------------------------------------------------------------------------

/// Quantized scales and minimums of a super-block with `S` sub-blocks, for
/// the types that decode `d * sc * q - dmin * m` (Q2_K, Q4_K, Q5_K).
pub(crate) struct MinScales<const S: usize> {
    /// Super-block scale of the scales, as its stored f16 decodes.
    pub d: f32,
    /// Super-block scale of the minimums, as its stored f16 decodes.
    pub dmin: f32,
    /// Per-sub-block scale, `0..=scale_max`.
    pub sc: [u8; S],
    /// Per-sub-block minimum (subtracted), `0..=scale_max`.
    pub m: [u8; S],
}

/// Step 1 and 2 above for the types with minimums: sub-block `k` covers
/// `[lo, hi]` with `lo = min(min(x), 0)` (the format subtracts a non-negative
/// `dmin * m`, so the grid always reaches down to at least 0) and
/// `hi = max(x)`; its scale is `(hi - lo) / qmax`, its minimum `-lo`.
pub(crate) fn min_scales<const S: usize>(x: &[f32; QK_K], qmax: u8, scale_max: u8) -> MinScales<S> {
    let sub_len = QK_K / S;
    let mut scales = [0.0f32; S];
    let mut mins = [0.0f32; S];
    for (k, xs) in x.chunks_exact(sub_len).enumerate() {
        let lo = xs.iter().fold(0.0f32, |a, &v| a.min(v));
        let hi = xs.iter().fold(lo, |a, &v| a.max(v));
        scales[k] = (hi - lo) / f32::from(qmax);
        mins[k] = -lo;
    }
    let max_scale = scales.iter().fold(0.0f32, |a, &v| a.max(v));
    let max_min = mins.iter().fold(0.0f32, |a, &v| a.max(v));
    let d = f16_round(max_scale / f32::from(scale_max));
    let dmin = f16_round(max_min / f32::from(scale_max));
    let mut sc = [0u8; S];
    let mut m = [0u8; S];
    for k in 0..S {
        if d > 0.0 {
            sc[k] = nearest_int(scales[k] / d).clamp(0, i32::from(scale_max)) as u8;
        }
        if dmin > 0.0 {
            m[k] = nearest_int(mins[k] / dmin).clamp(0, i32::from(scale_max)) as u8;
        }
    }
    MinScales { d, dmin, sc, m }
}

/// The quant, `0..=qmax`, nearest to `x` on the grid `dl * q - ml` (0 when
/// the grid has collapsed, `dl == 0`).
pub(crate) fn nearest_affine_quant(x: f32, dl: f32, ml: f32, qmax: u8) -> u8 {
    if dl == 0.0 {
        return 0;
    }
    nearest_int((x + ml) / dl).clamp(0, i32::from(qmax)) as u8
}

/// Step 1 and 2 above for the symmetric types (Q3_K, Q6_K), whose quants are
/// `-qneg ..= qneg - 1`: like Q4_0, sub-block `k`'s scale is
/// `max / -qneg` with `max` its first element of largest magnitude, so that
/// element is exact. The signed sub-block scales are stored as
/// `-scale_neg ..= scale_neg - 1` times `d`, with `d` chosen so the largest
/// magnitude maps to `-scale_neg`. Returns the decoded `d` and the signed
/// integer scales.
pub(crate) fn symmetric_scales<const S: usize>(x: &[f32; QK_K], qneg: i32, scale_neg: i32) -> (f32, [i32; S]) {
    let sub_len = QK_K / S;
    let mut scales = [0.0f32; S];
    for (k, xs) in x.chunks_exact(sub_len).enumerate() {
        scales[k] = signed_absmax(xs) / -(qneg as f32);
    }
    let d = f16_round(signed_absmax(&scales) / -(scale_neg as f32));
    let mut sc = [0i32; S];
    if d != 0.0 {
        for k in 0..S {
            sc[k] = nearest_int(scales[k] / d).clamp(-scale_neg, scale_neg - 1);
        }
    }
    (d, sc)
}

/// The quant, `-qneg ..= qneg - 1`, nearest to `x` on the grid `dl * q` (0
/// when `dl == 0`).
pub(crate) fn nearest_symmetric_quant(x: f32, dl: f32, qneg: i32) -> i32 {
    if dl == 0.0 {
        return 0;
    }
    nearest_int(x / dl).clamp(-qneg, qneg - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_constants_match_dtype() {
        let table: [(DType, usize, usize); 10] = [
            (DType::Q4_0, q4_0::BLOCK_LEN, q4_0::BLOCK_BYTES),
            (DType::Q4_1, q4_1::BLOCK_LEN, q4_1::BLOCK_BYTES),
            (DType::Q5_0, q5_0::BLOCK_LEN, q5_0::BLOCK_BYTES),
            (DType::Q5_1, q5_1::BLOCK_LEN, q5_1::BLOCK_BYTES),
            (DType::Q8_0, q8_0::BLOCK_LEN, q8_0::BLOCK_BYTES),
            (DType::Q2K, q2_k::BLOCK_LEN, q2_k::BLOCK_BYTES),
            (DType::Q3K, q3_k::BLOCK_LEN, q3_k::BLOCK_BYTES),
            (DType::Q4K, q4_k::BLOCK_LEN, q4_k::BLOCK_BYTES),
            (DType::Q5K, q5_k::BLOCK_LEN, q5_k::BLOCK_BYTES),
            (DType::Q6K, q6_k::BLOCK_LEN, q6_k::BLOCK_BYTES),
        ];
        for (dtype, len, bytes) in table {
            assert_eq!(dtype.block_len(), len, "{dtype}");
            assert_eq!(dtype.block_bytes(), bytes, "{dtype}");
        }
    }

    #[test]
    fn lengths_are_checked() {
        let mut out = [0.0f32; 64];
        assert_eq!(
            dequantize_row(DType::Q4_0, &[0u8; 35], &mut out),
            Err(QuantError::ByteLength { dtype: DType::Q4_0, n: 64, expected: 36, actual: 35 })
        );
        assert_eq!(
            dequantize_row(DType::Q4K, &[0u8; 144], &mut out),
            Err(QuantError::PartialBlock { dtype: DType::Q4K, n: 64 })
        );
        assert_eq!(quantize_row(DType::I32, &[0.0; 4], &mut [0u8; 16]), Err(QuantError::Unsupported(DType::I32)));
        assert!(dequantize_row(DType::Q4_0, &[0u8; 36], &mut out).is_ok());
    }

    #[test]
    fn nearest_int_ties_to_even() {
        assert_eq!(nearest_int(0.5), 0);
        assert_eq!(nearest_int(1.5), 2);
        assert_eq!(nearest_int(-2.5), -2);
        assert_eq!(nearest_int(-2.6), -3);
        assert_eq!(nearest_int(f32::NAN), 0);
    }

    #[test]
    fn signed_absmax_keeps_first_of_equal_magnitudes() {
        assert_eq!(signed_absmax(&[0.5, -2.0, 2.0, 1.0]), -2.0);
        assert_eq!(signed_absmax(&[0.5, 2.0, -2.0]), 2.0);
        assert_eq!(signed_absmax(&[0.0, -0.0]), 0.0);
    }
}
