//! Op conformance: a table of op cases, each run on a backend under test and
//! on the CPU oracle, compared by normalised mean squared error (ggml's
//! `test-backend-ops`: `Σ(a-b)² / Σb²`). Outputs are surrounded by sentinel
//! bytes to catch out-of-bounds writes. An op the backend does not support
//! is reported as such, never as a pass.
//!
//! Used by `rocmforge check` (any plugin) and by the GPU parity tests.

pub mod cases;
mod harness;
pub mod tolerance;

pub use harness::{check, run_case, Case, HostTensor, Outcome, Runner};

/// `Σ(a-b)² / Σb²` over two equally long vectors, in f64. A NaN anywhere
/// gives NaN (which fails every tolerance).
pub fn nmse(got: &[f32], want: &[f32]) -> f64 {
    let (mut err, mut norm) = (0.0f64, 0.0f64);
    for (&g, &w) in got.iter().zip(want) {
        let d = g as f64 - w as f64;
        err += d * d;
        norm += (w as f64) * (w as f64);
    }
    if got.len() != want.len() {
        return f64::NAN;
    }
    if norm == 0.0 {
        return if err == 0.0 { 0.0 } else { f64::INFINITY };
    }
    err / norm
}
