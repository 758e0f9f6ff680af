//! Q4_K: a super-block of 256 elements in 144 bytes: 8 sub-blocks of 32,
//! 4-bit quants with a 6-bit scale and a 6-bit minimum per sub-block.
//!
//! ```text
//! offset  size  field
//! 0       2     d: f16 super-block scale of the scales
//! 2       2     dmin: f16 super-block scale of the minimums
//! 4       12    scales: eight 6-bit scales and eight 6-bit minimums, packed
//!               (see below)
//! 16      128   qs: 4-bit quants (see below)
//! ```
//!
//! Element `e` (0..256) of sub-block `k = e / 32` is `d1 * q - m1` with
//! `d1 = d * sc[k]` and `m1 = dmin * m[k]`, each an f32 product computed once
//! per sub-block (ggml's operation order). Its quant `q` (0..=15) is a nibble
//! of byte `qs[32 * (e / 64) + e % 32]`: the low nibble for even `k`, the
//! high nibble for odd `k` (each 32-byte group holds two sub-blocks).
//!
//! The 12 scale bytes (ggml's `get_scale_min_k4`), for `k < 4`:
//! `sc[k] = s[k] & 63`, `m[k] = s[k + 4] & 63`; for `k >= 4` the low four
//! bits are the nibbles of `s[k + 4]` (scale low, minimum high) and the top
//! two bits are the spare top bits of `s[k - 4]` (scale) and `s[k]`
//! (minimum).
//!
//! Quantizer (in `quant/mod.rs`): see `min_scales` (6-bit scales and minimums) and
//! `nearest_affine_quant`.

use super::{min_scales, nearest_affine_quant, read_f16, write_f16, QK_K};

pub const BLOCK_LEN: usize = QK_K;
pub const BLOCK_BYTES: usize = 144;

const SUB: usize = 32;
const OFF_SCALES: usize = 4;
const OFF_QS: usize = 16;

/// Sub-block `k`'s 6-bit scale and minimum from the 12 packed bytes `s`
/// (ggml's `get_scale_min_k4`). Shared with Q5_K.
pub(crate) fn scale_min_k4(s: &[u8], k: usize) -> (u8, u8) {
    if k < 4 {
        (s[k] & 63, s[k + 4] & 63)
    } else {
        ((s[k + 4] & 0x0F) | ((s[k - 4] >> 6) << 4), (s[k + 4] >> 4) | ((s[k] >> 6) << 4))
    }
}

/// Packs eight 6-bit scales and minimums into 12 bytes, the inverse of
/// [`scale_min_k4`]. Shared with Q5_K.
pub(crate) fn pack_scale_min_k4(sc: &[u8; 8], m: &[u8; 8]) -> [u8; 12] {
    let mut s = [0u8; 12];
    for k in 0..8 {
        let (sc, m) = (sc[k] & 63, m[k] & 63);
        if k < 4 {
            s[k] |= sc;
            s[k + 4] |= m;
        } else {
            s[k + 4] = (sc & 0x0F) | ((m & 0x0F) << 4);
            s[k - 4] |= (sc >> 4) << 6;
            s[k] |= (m >> 4) << 6;
        }
    }
    s
}

/// Decodes one block (ggml's `dequantize_row_q4_K`).
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
            let q = (b[OFF_QS + 32 * (e / 64) + e % 32] >> shift) & 0x0F;
            y[e] = d1 * f32::from(q) - m1;
        }
    }
}

/// Encodes one block with the simple min/max quantizer (not ggml's).
pub fn quantize_block(x: &[f32; BLOCK_LEN], b: &mut [u8; BLOCK_BYTES]) {
    let s = min_scales::<{ QK_K / SUB }>(x, 15, 63);
    b.fill(0);
    write_f16(b, 0, s.d);
    write_f16(b, 2, s.dmin);
    b[OFF_SCALES..OFF_SCALES + 12].copy_from_slice(&pack_scale_min_k4(&s.sc, &s.m));
    for k in 0..QK_K / SUB {
        let d1 = s.d * f32::from(s.sc[k]);
        let m1 = s.dmin * f32::from(s.m[k]);
        let shift = 4 * (k % 2);
        for e in k * SUB..(k + 1) * SUB {
            let q = nearest_affine_quant(x[e], d1, m1, 15);
            b[OFF_QS + 32 * (e / 64) + e % 32] |= q << shift;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_packing_round_trips() {
        let sc = [0, 1, 62, 63, 17, 32, 48, 5];
        let m = [63, 0, 1, 40, 63, 9, 31, 33];
        let s = pack_scale_min_k4(&sc, &m);
        for k in 0..8 {
            assert_eq!(scale_min_k4(&s, k), (sc[k], m[k]), "sub-block {k}");
        }
    }
}
