//! Q4_1: 32 elements in 20 bytes, 4-bit with scale and offset.
//!
//! ```text
//! offset  size  field
//! 0       2     d: f16 scale
//! 2       2     m: f16 offset (the block minimum)
//! 4       16    qs: byte j holds element j in its low nibble and
//!               element j + 16 in its high nibble
//! ```
//!
//! An element is `q * d + m` with `q` the unsigned nibble (0..=15): the block
//! spans `m ..= m + 15d`.
//!
//! The reference quantizer (ggml's `quantize_row_q4_1_ref`) sets `m` to the
//! block minimum and `d = (max - min) / 15`; each element becomes
//! `min(15, trunc((x - min) / d + 0.5))`, computed with the f32 `min`, `d` and
//! the f32 reciprocal of `d`.

use super::{read_f16, write_f16};

pub const BLOCK_LEN: usize = 32;
pub const BLOCK_BYTES: usize = 20;

/// Decodes one block (ggml's `dequantize_row_q4_1`).
pub fn dequantize_block(b: &[u8; BLOCK_BYTES], y: &mut [f32; BLOCK_LEN]) {
    let d = read_f16(b, 0);
    let m = read_f16(b, 2);
    for j in 0..BLOCK_LEN / 2 {
        let q = b[4 + j];
        let x0 = f32::from(q & 0x0F);
        let x1 = f32::from(q >> 4);
        y[j] = x0 * d + m;
        y[j + BLOCK_LEN / 2] = x1 * d + m;
    }
}

/// Encodes one block (ggml's `quantize_row_q4_1_ref`, byte for byte).
pub fn quantize_block(x: &[f32; BLOCK_LEN], b: &mut [u8; BLOCK_BYTES]) {
    let (min, max) = min_max(x);
    let d = (max - min) / 15.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    write_f16(b, 0, d);
    write_f16(b, 2, min);
    for j in 0..BLOCK_LEN / 2 {
        let q0 = nibble((x[j] - min) * id + 0.5);
        let q1 = nibble((x[j + BLOCK_LEN / 2] - min) * id + 0.5);
        b[4 + j] = q0 | (q1 << 4);
    }
}

/// ggml's min/max scan for the offset types, starting from ±`f32::MAX`.
pub(crate) fn min_max(x: &[f32]) -> (f32, f32) {
    let mut min = f32::MAX;
    let mut max = -f32::MAX;
    for &v in x {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    (min, max)
}

/// ggml's `MIN(15, (int8_t)v)`: truncation toward zero, capped at 15.
fn nibble(v: f32) -> u8 {
    (v as i32).clamp(0, 15) as u8
}
