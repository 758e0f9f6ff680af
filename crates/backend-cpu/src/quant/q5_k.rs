//! Q5_K: a super-block of 256 elements in 176 bytes: 8 sub-blocks of 32,
//! 5-bit quants with a 6-bit scale and a 6-bit minimum per sub-block.
//!
//! ```text
//! offset  size  field
//! 0       2     d: f16 super-block scale of the scales
//! 2       2     dmin: f16 super-block scale of the minimums
//! 4       12    scales: packed exactly as in Q4_K
//! 16      32    qh: bit 4 of each quant, one bit per element (see below)
//! 48      128   qs: bits 0-3 of each quant, laid out exactly as Q4_K's qs
//! ```
//!
//! Element `e` (0..256) of sub-block `k = e / 32` is `d1 * q - m1` with
//! `d1 = d * sc[k]` and `m1 = dmin * m[k]` (f32 products, once per
//! sub-block). `q = low + 16 * high` (0..=31): `low` is the nibble of
//! `qs[32 * (e / 64) + e % 32]` (low nibble for even `k`, high for odd) and
//! `high` is bit `k` of `qh[e % 32]`.
//!
//! Quantizer (in `quant/mod.rs`): see `min_scales` (6-bit scales and minimums) and
//! `nearest_affine_quant`.

use super::q4_k::{pack_scale_min_k4, scale_min_k4};
use super::{min_scales, nearest_affine_quant, read_f16, write_f16, QK_K};

pub const BLOCK_LEN: usize = QK_K;
pub const BLOCK_BYTES: usize = 176;

const SUB: usize = 32;
const OFF_SCALES: usize = 4;
const OFF_QH: usize = 16;
const OFF_QS: usize = 48;

/// Decodes one block (ggml's `dequantize_row_q5_K`).
pub fn dequantize_block(b: &[u8; BLOCK_BYTES], y: &mut [f32; BLOCK_LEN]) {
    let d = read_f16(b, 0);
    let dmin = read_f16(b, 2);
    let scales = &b[OFF_SCALES..OFF_SCALES + 12];
    for k in 0..QK_K / SUB {
        let (sc, m) = scale_min_k4(scales, k);
        let d1 = d * f32::from(sc);
        let m1 = dmin * f32::from(m);
        let shift = 4 * (k % 2);
        for e in k * SUB..(k + 1) * SUB {
            let low = (b[OFF_QS + 32 * (e / 64) + e % 32] >> shift) & 0x0F;
            let high = (b[OFF_QH + e % 32] >> k) & 1;
            let q = low + 16 * high;
            y[e] = d1 * f32::from(q) - m1;
        }
    }
}

/// Encodes one block with the simple min/max quantizer (not ggml's).
pub fn quantize_block(x: &[f32; BLOCK_LEN], b: &mut [u8; BLOCK_BYTES]) {
    let s = min_scales::<{ QK_K / SUB }>(x, 31, 63);
    b.fill(0);
    write_f16(b, 0, s.d);
    write_f16(b, 2, s.dmin);
    b[OFF_SCALES..OFF_SCALES + 12].copy_from_slice(&pack_scale_min_k4(&s.sc, &s.m));
    for k in 0..QK_K / SUB {
        let d1 = s.d * f32::from(s.sc[k]);
        let m1 = s.dmin * f32::from(s.m[k]);
        let shift = 4 * (k % 2);
        for e in k * SUB..(k + 1) * SUB {
            let q = nearest_affine_quant(x[e], d1, m1, 31);
            b[OFF_QS + 32 * (e / 64) + e % 32] |= (q & 0x0F) << shift;
            b[OFF_QH + e % 32] |= (q >> 4) << k;
        }
    }
}
