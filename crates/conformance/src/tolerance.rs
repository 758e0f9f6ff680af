//! NMSE tolerances, in one place, each with its reason.
//!
//! NMSE is `Σ(a-b)² / Σb²`: a relative error squared, averaged.

use rocmforge_backend_api::DType;

/// Ops computed in f32 on both sides, differing only in summation order and
/// fast-math functions (exp, tanh, rsqrt): about 1e-6 relative error per
/// element at most, so NMSE ≤ 1e-10 typically; 1e-7 (ggml's default) leaves
/// room for long reductions.
pub const F32: f64 = 1e-7;

/// Where a backend may round intermediate activations to f16 (10-bit
/// mantissa, relative error 2^-11 ≈ 4.9e-4 per value → NMSE ≈ 2.4e-7 per
/// rounding); a few roundings in a chain stay under 5e-6.
pub const F16_ACTIVATIONS: f64 = 5e-6;

/// matmul over weights of type `w`. The weights are the same bits on both
/// sides (dequantization is exact in f32), so what differs is the
/// activations' precision: F32 when the backend keeps f32 activations;
/// [`F16_ACTIVATIONS`] for a matrix-unit path that rounds both the
/// activations and the dequantized weights to f16 (HIP's mma kernels:
/// NVIDIA tensor cores, AMD MFMA on CDNA and WMMA on RDNA3/4, all rounding
/// to nearest even and accumulating in f32): each product w·x gets a relative error δw + δx, |δ| ≤ 2^-11, about
/// uniform (variance 2^-22/3 each), independent across the K terms, so
/// Σ_k w·x·(δw + δx) has variance ≈ (2·2^-22/3)·Σ_k (w·x)², and for
/// zero-mean data (E[(Σ w·x)²] = Σ (w·x)²) NMSE ≈ 2·2^-22/3 ≈ 1.6e-7 for any
/// K (2048 in the cases; the f32 accumulation adds ~K·2^-48, negligible):
/// 30x under 5e-6. MI200's MFMA also flushes f16 subnormal inputs
/// (|v| < 2^-14) to zero (AMD's MIOpen docs, "MI200 MFMA behavior
/// specifics"): an absolute error ≤ 2^-14·|other operand| on a fraction of
/// about 1e-4 of the terms at the cases' O(1) scale, orders of magnitude
/// below the rounding above. F32 weights stay on an f32 path (tolerance F32).
///
/// With one activation column (`m == 1`, decode) and block-quantized
/// weights a backend may quantize the activations to 8 bits per block of
/// 32, as llama.cpp's MMVQ and HIP's matvec do: [`INT8_ACTIVATIONS`].
pub fn matmul(w: DType, m: usize) -> f64 {
    match w {
        DType::F32 => F32,
        _ if m == 1 && w.block_len() > 1 => INT8_ACTIVATIONS,
        // f16/bf16 weights multiply f32 activations on the oracle; a GPU
        // may feed tensor cores with f16 activations.
        _ => F16_ACTIVATIONS,
    }
}

/// Matmul with activations quantized to 8 bits per block of 32: each value
/// rounded to a step of max|x| / 127, an error uniform in ±half a step
/// (RMS 0.29 steps); for Gaussian data max|x| ≈ 2.5 σ over 32 values, so
/// the relative RMS error is ≈ 0.29 · 2.5 / 127 ≈ 5.7e-3 per value and
/// NMSE ≈ 3.3e-5 per dot product (independent errors average to the same
/// relative size); 5e-4 (llama.cpp's test-backend-ops bound for mul_mat)
/// leaves 15x room.
pub const INT8_ACTIVATIONS: f64 = 5e-4;

/// Attention with an f16 KV cache: keys and values are f16 on both sides; a
/// backend may compute q·k or p·v with f16 inputs (p rounded to f16).
pub const ATTENTION: f64 = 5e-6;

/// Results that are exact functions of their inputs with no arithmetic to
/// reorder: argmax indices (first maximum, NaN first), copies between equal
/// types (bit moves) and conversions among F32/F16/BF16 (each a single
/// round-to-nearest-even of an exactly known value). Any difference is a bug.
pub const EXACT: f64 = 0.0;

/// `get_rows` from any weight type: decoding a block format is exact in f32
/// (every product of a scale and a quant is exact, then one rounding of the
/// minimum's subtraction; see `backend-cpu/src/quant/mod.rs`), so a fused
/// multiply-add or another grouping gives the same bits. Any difference is a
/// bug in the decoder.
pub const DEQUANTIZE: f64 = 0.0;
