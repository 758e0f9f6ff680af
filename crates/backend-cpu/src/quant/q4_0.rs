//! Q4_0: 32 elements in 18 bytes, symmetric 4-bit.
//!
//! ```text
//! offset  size  field
//! 0       2     d: f16 scale
//! 2       16    qs: byte j holds element j in its low nibble and
//!               element j + 16 in its high nibble
//! ```
//!
//! An element is `(q - 8) * d` with `q` the unsigned nibble (0..=15), so the
//! representable values are `-8d ..= 7d`.
//!
//! The reference quantizer (ggml's `quantize_row_q4_0_ref`) takes `max`, the
//! first element of largest magnitude with its sign, and sets `d = max / -8`,
//! so that element lands exactly on `q = 0` (value `-8d = max`); the other
//! side of zero reaches only `7d`. Each element becomes
//! `min(15, trunc(x / d + 8.5))`, computed with the f32 `d` (not the f16
//! stored one) and its f32 reciprocal.

use super::{read_f16, signed_absmax, write_f16};

pub const BLOCK_LEN: usize = 32;
pub const BLOCK_BYTES: usize = 18;

/// Decodes one block (ggml's `dequantize_row_q4_0`).
pub fn dequantize_block(b: &[u8; BLOCK_BYTES], y: &mut [f32; BLOCK_LEN]) {
    let d = read_f16(b, 0);
    for j in 0..BLOCK_LEN / 2 {
        let q = b[2 + j];
        let x0 = i32::from(q & 0x0F) - 8;
        let x1 = i32::from(q >> 4) - 8;
        y[j] = x0 as f32 * d;
        y[j + BLOCK_LEN / 2] = x1 as f32 * d;
    }
}

/// Encodes one block (ggml's `quantize_row_q4_0_ref`, byte for byte).
pub fn quantize_block(x: &[f32; BLOCK_LEN], b: &mut [u8; BLOCK_BYTES]) {
    let max = signed_absmax(x);
    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    write_f16(b, 0, d);
    for j in 0..BLOCK_LEN / 2 {
        let q0 = nibble(x[j] * id + 8.5);
        let q1 = nibble(x[j + BLOCK_LEN / 2] * id + 8.5);
        b[2 + j] = q0 | (q1 << 4);
    }
}

/// ggml's `MIN(15, (int8_t)v)`: truncation toward zero, capped at 15. (`v` is
/// never below 0 for finite input; the lower clamp only tames NaN/inf.)
fn nibble(v: f32) -> u8 {
    (v as i32).clamp(0, 15) as u8
}
