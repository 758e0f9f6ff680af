//! Q3_K: a super-block of 256 elements in 110 bytes: 16 sub-blocks of 16,
//! signed 3-bit quants with a signed 6-bit scale per sub-block.
//!
//! ```text
//! offset  size  field
//! 0       32    hmask: bit 2 of each quant, one bit per element (see below)
//! 32      64    qs: bits 0-1 of each quant, four per byte (as in Q2_K)
//! 96      12    scales: sixteen 6-bit scales, packed (see below)
//! 108     2     d: f16 super-block scale
//! ```
//!
//! Element `e` (0..256) is `dl * q` with `dl = d * (s - 32)` for `s` the
//! 6-bit scale of sub-block `e / 16` (so scales are -32..=31), an f32 product
//! computed once per sub-block. The quant is `q = low - (high ? 0 : 4)`
//! (-4..=3) where `low` is the bit pair of byte `qs[32 * (e / 128) + e % 32]`
//! at bit `2 * ((e % 128) / 32)` and `high` is bit `e / 32` of
//! `hmask[e % 32]`. Note the inverted high bit: a *clear* bit subtracts 4,
//! so a stored 3-bit value `v` (0..=7) means `v - 4`.
//!
//! Scale `k` (0..16) is split into a low nibble and two high bits:
//! the nibble is the low half of `scales[k]` for `k < 8` and the high half of
//! `scales[k - 8]` for `k >= 8`; the high bits are bits `2 * (k / 4)` and
//! `2 * (k / 4) + 1` of `scales[8 + k % 4]`.
//!
//! Quantizer (in `quant/mod.rs`): see `symmetric_scales` (quants -4..=3, scales
//! -32..=31) and `nearest_symmetric_quant`.

use super::{nearest_symmetric_quant, read_f16, symmetric_scales, write_f16, QK_K};

pub const BLOCK_LEN: usize = QK_K;
pub const BLOCK_BYTES: usize = 110;

const SUB: usize = 16;
const OFF_QS: usize = 32;
const OFF_SCALES: usize = 96;
const OFF_D: usize = 108;

/// Sub-block `k`'s 6-bit scale (0..=63, stored offset by 32).
fn scale6(scales: &[u8], k: usize) -> u8 {
    let low = if k < 8 { scales[k] & 0x0F } else { scales[k - 8] >> 4 };
    let high = (scales[8 + k % 4] >> (2 * (k / 4))) & 3;
    low | (high << 4)
}

/// Decodes one block (ggml's `dequantize_row_q3_K`).
pub fn dequantize_block(b: &[u8; BLOCK_BYTES], y: &mut [f32; BLOCK_LEN]) {
    let d = read_f16(b, OFF_D);
    let scales = &b[OFF_SCALES..OFF_SCALES + 12];
    for k in 0..QK_K / SUB {
        let dl = d * (i32::from(scale6(scales, k)) - 32) as f32;
        for e in k * SUB..(k + 1) * SUB {
            let low = (b[OFF_QS + 32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            let high = (b[e % 32] >> (e / 32)) & 1;
            let q = i32::from(low) - if high != 0 { 0 } else { 4 };
            y[e] = dl * q as f32;
        }
    }
}

/// Encodes one block with the simple symmetric quantizer (not ggml's).
pub fn quantize_block(x: &[f32; BLOCK_LEN], b: &mut [u8; BLOCK_BYTES]) {
    let (d, sc) = symmetric_scales::<{ QK_K / SUB }>(x, 4, 32);
    b.fill(0);
    write_f16(b, OFF_D, d);
    for (k, &s) in sc.iter().enumerate() {
        let s6 = (s + 32) as u8; // 0..=63
        if k < 8 {
            b[OFF_SCALES + k] |= s6 & 0x0F;
        } else {
            b[OFF_SCALES + k - 8] |= (s6 & 0x0F) << 4;
        }
        b[OFF_SCALES + 8 + k % 4] |= (s6 >> 4) << (2 * (k / 4));

        let dl = d * s as f32;
        for e in k * SUB..(k + 1) * SUB {
            let v = (nearest_symmetric_quant(x[e], dl, 4) + 4) as u8; // 0..=7
            b[OFF_QS + 32 * (e / 128) + e % 32] |= (v & 3) << (2 * ((e % 128) / 32));
            b[e % 32] |= (v >> 2) << (e / 32);
        }
    }
}
