//! Q6_K: a super-block of 256 elements in 210 bytes: 16 sub-blocks of 16,
//! signed 6-bit quants with a signed 8-bit scale per sub-block.
//!
//! ```text
//! offset  size  field
//! 0       128   ql: bits 0-3 of each quant, two per byte (see below)
//! 128     64    qh: bits 4-5 of each quant, four per byte (see below)
//! 192     16    scales: sub-block k's scale as a signed byte
//! 208     2     d: f16 super-block scale
//! ```
//!
//! Element `e` (0..256) is `(d * scales[e / 16]) * (q - 32)`, both products
//! in f32 in that order, with `q` the unsigned 6-bit value (0..=63). Write
//! `e = 128 h + 32 t + l` (`h` the half, `t` the quarter 0..4 within it, `l`
//! 0..32): the low four bits are the low nibble (`t < 2`) or high nibble
//! (`t >= 2`) of `ql[64 h + 32 (t % 2) + l]`, and the top two bits are bits
//! `2t, 2t + 1` of `qh[32 h + l]`.
//!
//! Quantizer (in `quant/mod.rs`): see `symmetric_scales` (quants -32..=31, scales
//! -128..=127) and `nearest_symmetric_quant`.

use super::{nearest_symmetric_quant, read_f16, symmetric_scales, write_f16, QK_K};

pub const BLOCK_LEN: usize = QK_K;
pub const BLOCK_BYTES: usize = 210;

const SUB: usize = 16;
const OFF_QH: usize = 128;
const OFF_SCALES: usize = 192;
const OFF_D: usize = 208;

/// Positions of element `e`'s bits: (ql byte, ql shift, qh byte, qh shift),
/// bytes relative to their arrays.
fn quant_pos(e: usize) -> (usize, u32, usize, u32) {
    let (h, t, l) = (e / 128, (e % 128) / 32, e % 32);
    (64 * h + 32 * (t % 2) + l, 4 * (t / 2) as u32, 32 * h + l, 2 * t as u32)
}

/// Decodes one block (ggml's `dequantize_row_q6_K`).
pub fn dequantize_block(b: &[u8; BLOCK_BYTES], y: &mut [f32; BLOCK_LEN]) {
    let d = read_f16(b, OFF_D);
    for k in 0..QK_K / SUB {
        let sc = f32::from(b[OFF_SCALES + k] as i8);
        for e in k * SUB..(k + 1) * SUB {
            let (lb, ls, hb, hs) = quant_pos(e);
            let low = (b[lb] >> ls) & 0x0F;
            let high = (b[OFF_QH + hb] >> hs) & 3;
            let q = i32::from(low | (high << 4)) - 32;
            y[e] = d * sc * q as f32;
        }
    }
}

/// Encodes one block with the simple symmetric quantizer (not ggml's).
pub fn quantize_block(x: &[f32; BLOCK_LEN], b: &mut [u8; BLOCK_BYTES]) {
    let (d, sc) = symmetric_scales::<{ QK_K / SUB }>(x, 32, 128);
    b.fill(0);
    write_f16(b, OFF_D, d);
    for (k, &s) in sc.iter().enumerate() {
        b[OFF_SCALES + k] = (s as i8) as u8;
        let dl = d * s as f32;
        for e in k * SUB..(k + 1) * SUB {
            let v = (nearest_symmetric_quant(x[e], dl, 32) + 32) as u8; // 0..=63
            let (lb, ls, hb, hs) = quant_pos(e);
            b[lb] |= (v & 0x0F) << ls;
            b[OFF_QH + hb] |= (v >> 4) << hs;
        }
    }
}
