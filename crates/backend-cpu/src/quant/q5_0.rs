//! Q5_0: 32 elements in 22 bytes, symmetric 5-bit.
//!
//! ```text
//! offset  size  field
//! 0       2     d: f16 scale
//! 2       4     qh: u32 (little-endian); bit j is bit 4 of element j
//! 6       16    qs: byte j holds the low 4 bits of element j in its low
//!               nibble and those of element j + 16 in its high nibble
//! ```
//!
//! An element is `(q - 16) * d` with `q` the unsigned 5-bit value (0..=31).
//!
//! The reference quantizer (ggml's `quantize_row_q5_0_ref`) works like Q4_0's
//! with 16 in place of 8: `d = max / -16` for `max` the first element of
//! largest magnitude, and `q = min(31, trunc(x / d + 16.5))`.

use super::{read_f16, signed_absmax, write_f16};

pub const BLOCK_LEN: usize = 32;
pub const BLOCK_BYTES: usize = 22;

/// Decodes one block (ggml's `dequantize_row_q5_0`).
pub fn dequantize_block(b: &[u8; BLOCK_BYTES], y: &mut [f32; BLOCK_LEN]) {
    let d = read_f16(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    for j in 0..BLOCK_LEN / 2 {
        let q = b[6 + j];
        let h0 = ((qh >> j) & 1) as i32;
        let h1 = ((qh >> (j + 16)) & 1) as i32;
        let x0 = (i32::from(q & 0x0F) | (h0 << 4)) - 16;
        let x1 = (i32::from(q >> 4) | (h1 << 4)) - 16;
        y[j] = x0 as f32 * d;
        y[j + BLOCK_LEN / 2] = x1 as f32 * d;
    }
}

/// Encodes one block (ggml's `quantize_row_q5_0_ref`, byte for byte).
pub fn quantize_block(x: &[f32; BLOCK_LEN], b: &mut [u8; BLOCK_BYTES]) {
    let max = signed_absmax(x);
    let d = max / -16.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    write_f16(b, 0, d);
    let mut qh = 0u32;
    for j in 0..BLOCK_LEN / 2 {
        let q0 = five_bits(x[j] * id + 16.5);
        let q1 = five_bits(x[j + BLOCK_LEN / 2] * id + 16.5);
        b[6 + j] = (q0 & 0x0F) | ((q1 & 0x0F) << 4);
        qh |= u32::from(q0 >> 4) << j;
        qh |= u32::from(q1 >> 4) << (j + 16);
    }
    b[2..6].copy_from_slice(&qh.to_le_bytes());
}

/// ggml's `MIN(31, (int8_t)v)`: truncation toward zero, capped at 31.
pub(crate) fn five_bits(v: f32) -> u8 {
    (v as i32).clamp(0, 31) as u8
}
