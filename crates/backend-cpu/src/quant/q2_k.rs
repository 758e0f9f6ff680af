//! Q2_K: a super-block of 256 elements in 84 bytes: 16 sub-blocks of 16,
//! 2-bit quants with a 4-bit scale and a 4-bit minimum per sub-block.
//!
//! ```text
//! offset  size  field
//! 0       16    scales: byte k = sub-block k's scale (low nibble) and
//!               minimum (high nibble)
//! 16      64    qs: 2-bit quants, four per byte (see below)
//! 80      2     d: f16 super-block scale of the scales
//! 82      2     dmin: f16 super-block scale of the minimums
//! ```
//!
//! Element `e` (0..256) is `dl * q - ml` with `dl = d * (scales[e/16] & 15)`
//! and `ml = dmin * (scales[e/16] >> 4)`, each an f32 product computed once
//! per sub-block. Its quant `q` (0..=3) sits in byte
//! `qs[32 * (e / 128) + e % 32]` at bit `2 * ((e % 128) / 32)`: the row is
//! two halves of 128, and within a half byte `l` holds elements
//! `l, l + 32, l + 64, l + 96` in its bit pairs from low to high.
//!
//! Quantizer (in `quant/mod.rs`): see `min_scales` (4-bit scales and minimums) and
//! `nearest_affine_quant`.

use super::{min_scales, nearest_affine_quant, read_f16, write_f16, QK_K};

pub const BLOCK_LEN: usize = QK_K;
pub const BLOCK_BYTES: usize = 84;

const SUB: usize = 16;
const OFF_QS: usize = 16;
const OFF_D: usize = 80;
const OFF_DMIN: usize = 82;

/// Byte of `qs` (relative) and bit shift of element `e`'s quant.
fn quant_pos(e: usize) -> (usize, u32) {
    (32 * (e / 128) + e % 32, 2 * ((e % 128) / 32) as u32)
}

/// Decodes one block (ggml's `dequantize_row_q2_K`).
pub fn dequantize_block(b: &[u8; BLOCK_BYTES], y: &mut [f32; BLOCK_LEN]) {
    let d = read_f16(b, OFF_D);
    let dmin = read_f16(b, OFF_DMIN);
    for k in 0..QK_K / SUB {
        let sc = b[k];
        let dl = d * f32::from(sc & 0x0F);
        let ml = dmin * f32::from(sc >> 4);
        for e in k * SUB..(k + 1) * SUB {
            let (byte, shift) = quant_pos(e);
            let q = (b[OFF_QS + byte] >> shift) & 3;
            y[e] = dl * f32::from(q) - ml;
        }
    }
}

/// Encodes one block with the simple min/max quantizer (not ggml's).
pub fn quantize_block(x: &[f32; BLOCK_LEN], b: &mut [u8; BLOCK_BYTES]) {
    let s = min_scales::<{ QK_K / SUB }>(x, 3, 15);
    b.fill(0);
    write_f16(b, OFF_D, s.d);
    write_f16(b, OFF_DMIN, s.dmin);
    for k in 0..QK_K / SUB {
        b[k] = s.sc[k] | (s.m[k] << 4);
        let dl = s.d * f32::from(s.sc[k]);
        let ml = s.dmin * f32::from(s.m[k]);
        for e in k * SUB..(k + 1) * SUB {
            let q = nearest_affine_quant(x[e], dl, ml, 3);
            let (byte, shift) = quant_pos(e);
            b[OFF_QS + byte] |= q << shift;
        }
    }
}
