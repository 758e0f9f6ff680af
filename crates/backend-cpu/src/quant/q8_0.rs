//! Q8_0: 32 elements in 34 bytes, symmetric 8-bit.
//!
//! ```text
//! offset  size  field
//! 0       2     d: f16 scale
//! 2       32    qs: element j as a signed byte
//! ```
//!
//! An element is `q * d` with `q` the signed byte.
//!
//! The reference quantizer (ggml's `quantize_row_q8_0_ref`) sets
//! `d = amax / 127` for `amax` the largest magnitude, and each element becomes
//! `roundf(x / d)` (computed as `x * (1/d)` in f32), rounding halves away from
//! zero, which keeps it in `-127..=127`.

use super::{read_f16, write_f16};

pub const BLOCK_LEN: usize = 32;
pub const BLOCK_BYTES: usize = 34;

/// Decodes one block (ggml's `dequantize_row_q8_0`).
pub fn dequantize_block(b: &[u8; BLOCK_BYTES], y: &mut [f32; BLOCK_LEN]) {
    let d = read_f16(b, 0);
    for (j, y) in y.iter_mut().enumerate() {
        let q = b[2 + j] as i8;
        *y = f32::from(q) * d;
    }
}

/// Encodes one block (ggml's `quantize_row_q8_0_ref`, byte for byte).
pub fn quantize_block(x: &[f32; BLOCK_LEN], b: &mut [u8; BLOCK_BYTES]) {
    let mut amax = 0.0f32;
    for &v in x {
        // ggml's `amax = MAX(amax, fabsf(v))`, i.e. `amax > |v| ? amax : |v|`.
        amax = if amax > v.abs() { amax } else { v.abs() };
    }
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    write_f16(b, 0, d);
    for (j, &v) in x.iter().enumerate() {
        // `f32::round` rounds halves away from zero, like C's roundf; the
        // conversion saturates (the value is within -127..=127 anyway).
        b[2 + j] = ((v * id).round() as i8) as u8;
    }
}
