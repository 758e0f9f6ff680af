//! `rms_norm` and `layer_norm`, row by row over `ne[0]`.
//!
//! The arithmetic mirrors ggml's CPU ops (`ggml_compute_forward_rms_norm_f32`
//! and `ggml_compute_forward_norm_f32`), then llama.cpp's separate `mul` by
//! the weight and `add` of the bias:
//! - each square (or centred square) is formed in f32 and summed in f64
//!   (ggml's `ggml_float` is `double`), the mean is that sum over `n` in f64,
//!   rounded to f32;
//! - `scale = 1 / sqrt(mean + eps)` in f32, then `y = x * scale`, then
//!   `y * weight`, then `+ bias`, each rounded to f32.

use rayon::prelude::*;
use rocmforge_backend_api::op::NormArgs;
use rocmforge_backend_api::Result;

use super::{dim, input, output, put_f32, src, Src};
use crate::storage::Storage;

pub(crate) fn rms_norm(s: &Storage, a: &NormArgs) -> Result<()> {
    run(s, a, |x, y, eps| {
        let sum: f64 = x.iter().map(|&v| f64::from(v * v)).sum();
        let mean = (sum / x.len() as f64) as f32;
        let scale = 1.0 / (mean + eps).sqrt();
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v * scale;
        }
    })
}

pub(crate) fn layer_norm(s: &Storage, a: &NormArgs) -> Result<()> {
    run(s, a, |x, y, eps| {
        let n = x.len() as f64;
        let mean = (x.iter().map(|&v| f64::from(v)).sum::<f64>() / n) as f32;
        let mut sum2 = 0f64;
        for (o, &v) in y.iter_mut().zip(x) {
            let c = v - mean;
            *o = c;
            sum2 += f64::from(c * c);
        }
        let variance = (sum2 / n) as f32;
        let scale = 1.0 / (variance + eps).sqrt();
        for o in y.iter_mut() {
            *o *= scale;
        }
    })
}

/// Applies `normalize(x_row, y_row, eps)` to every row in parallel, then the
/// optional weight and bias.
fn run(s: &Storage, a: &NormArgs, normalize: impl Fn(&[f32], &mut [f32], f32) + Sync) -> Result<()> {
    let x = input(s, &a.x)?.to_f32();
    let weight = src(s, &a.weight)?.as_ref().map(Src::to_f32);
    let bias = src(s, &a.bias)?.as_ref().map(Src::to_f32);
    let out = output(s, &a.out)?;
    let n = dim(a.x.ne[0]);
    if n == 0 {
        return Ok(());
    }
    out.bytes.par_chunks_mut(n * 4).zip(x.par_chunks(n)).for_each_init(
        || vec![0f32; n],
        |y, (dst, xr)| {
            normalize(xr, y, a.eps);
            if let Some(w) = &weight {
                for (o, &g) in y.iter_mut().zip(w) {
                    *o *= g;
                }
            }
            if let Some(b) = &bias {
                for (o, &c) in y.iter_mut().zip(b) {
                    *o += c;
                }
            }
            put_f32(dst, y);
        },
    );
    Ok(())
}
