//! Q5_1: 32 elements in 24 bytes, 5-bit with scale and offset.
//!
//! ```text
//! offset  size  field
//! 0       2     d: f16 scale
//! 2       2     m: f16 offset (the block minimum)
//! 4       4     qh: u32 (little-endian); bit j is bit 4 of element j
//! 8       16    qs: byte j holds the low 4 bits of element j in its low
//!               nibble and those of element j + 16 in its high nibble
//! ```
//!
//! An element is `q * d + m` with `q` the unsigned 5-bit value (0..=31).
//!
//! The reference quantizer (ggml's `quantize_row_q5_1_ref`) works like Q4_1's
//! with 31 levels: `d = (max - min) / 31`, `q = trunc((x - min) / d + 0.5)`.
//! (ggml does not cap `q` here; it cannot exceed 31 for finite input, and the
//! cap below only tames NaN/inf.)

use super::q4_1::min_max;
use super::q5_0::five_bits;
use super::{read_f16, write_f16};

pub const BLOCK_LEN: usize = 32;
pub const BLOCK_BYTES: usize = 24;

/// Decodes one block (ggml's `dequantize_row_q5_1`).
pub fn dequantize_block(b: &[u8; BLOCK_BYTES], y: &mut [f32; BLOCK_LEN]) {
    let d = read_f16(b, 0);
    let m = read_f16(b, 2);
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    for j in 0..BLOCK_LEN / 2 {
        let q = b[8 + j];
        let h0 = ((qh >> j) & 1) as u8;
        let h1 = ((qh >> (j + 16)) & 1) as u8;
        let x0 = f32::from((q & 0x0F) | (h0 << 4));
        let x1 = f32::from((q >> 4) | (h1 << 4));
        y[j] = x0 * d + m;
        y[j + BLOCK_LEN / 2] = x1 * d + m;
    }
}

/// Encodes one block (ggml's `quantize_row_q5_1_ref`, byte for byte).
pub fn quantize_block(x: &[f32; BLOCK_LEN], b: &mut [u8; BLOCK_BYTES]) {
    let (min, max) = min_max(x);
    let d = (max - min) / 31.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    write_f16(b, 0, d);
    write_f16(b, 2, min);
    let mut qh = 0u32;
    for j in 0..BLOCK_LEN / 2 {
        let q0 = five_bits((x[j] - min) * id + 0.5);
        let q1 = five_bits((x[j + BLOCK_LEN / 2] - min) * id + 0.5);
        b[8 + j] = (q0 & 0x0F) | ((q1 & 0x0F) << 4);
        qh |= u32::from(q0 >> 4) << j;
        qh |= u32::from(q1 >> 4) << (j + 16);
    }
    b[4..8].copy_from_slice(&qh.to_le_bytes());
}
