//! Element-wise ops, all F32: `add` and `mul` with broadcasting, `scale`, and
//! the gated units `silu_mul` and `gelu_mul`.

use rayon::prelude::*;
use rocmforge_backend_api::op::{BinaryArgs, GluArgs, ScaleArgs};
use rocmforge_backend_api::Result;

use super::{dim, input, output, put_f32};
use crate::storage::Storage;

/// Elements per parallel task of the flat ops.
const CHUNK: usize = 1 << 14;

pub(crate) fn add(s: &Storage, a: &BinaryArgs) -> Result<()> {
    binary(s, a, |x, y| x + y)
}

pub(crate) fn mul(s: &Storage, a: &BinaryArgs) -> Result<()> {
    binary(s, a, |x, y| x * y)
}

/// `out = a ∘ b` with `b` repeated over `a` as ggml's `can_repeat`: element
/// `(i0, i1, i2, i3)` of `a` pairs with `b[i0 % b.ne0, i1 % b.ne1, ...]`.
fn binary(s: &Storage, a: &BinaryArgs, f: impl Fn(f32, f32) -> f32 + Sync) -> Result<()> {
    let x = input(s, &a.a)?.to_f32();
    let y = input(s, &a.b)?.to_f32();
    let out = output(s, &a.out)?;
    let [n0, n1, n2, _] = a.a.ne.map(dim);
    let [b0, b1, b2, b3] = a.b.ne.map(dim);
    if n0 == 0 || b0 == 0 || b1 == 0 || b2 == 0 || b3 == 0 {
        return Ok(());
    }
    out.bytes.par_chunks_mut(n0 * 4).zip(x.par_chunks(n0)).enumerate().for_each_init(
        || vec![0f32; n0],
        |row, (r, (dst, xr))| {
            let (i1, i2, i3) = (r % n1, (r / n1) % n2, r / (n1 * n2));
            let br = (i1 % b1) + (i2 % b2) * b1 + (i3 % b3) * b1 * b2;
            let yr = &y[br * b0..(br + 1) * b0];
            for (i, (o, &v)) in row.iter_mut().zip(xr).enumerate() {
                *o = f(v, yr[i % b0]);
            }
            put_f32(dst, row);
        },
    );
    Ok(())
}

pub(crate) fn scale(s: &Storage, a: &ScaleArgs) -> Result<()> {
    let x = input(s, &a.x)?.to_f32();
    let mut out = output(s, &a.out)?;
    let vals: Vec<f32> = x.iter().map(|&v| v * a.scale).collect();
    out.write_f32(&vals);
    Ok(())
}

/// `silu(g) · u` with ggml's `silu(g) = g / (1 + exp(-g))`.
pub(crate) fn silu_mul(s: &Storage, a: &GluArgs) -> Result<()> {
    glu(s, a, |g| g / (1.0 + (-g).exp()))
}

/// `gelu(g) · u` with the tanh approximation in f32, as ggml's
/// `ggml_gelu_f32` writes it: `0.5·g·(1 + tanh(√(2/π)·g·(1 + 0.044715·g²)))`
/// (= the `g + 0.044715·g³` form). ggml's CPU build by default looks this
/// up in an f16-indexed table instead; the oracle computes it exactly.
pub(crate) fn gelu_mul(s: &Storage, a: &GluArgs) -> Result<()> {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    const GELU_COEF_A: f32 = 0.044_715;
    glu(s, a, |g| 0.5 * g * (1.0 + (SQRT_2_OVER_PI * g * (1.0 + GELU_COEF_A * g * g)).tanh()))
}

fn glu(s: &Storage, a: &GluArgs, act: impl Fn(f32) -> f32 + Sync) -> Result<()> {
    let g = input(s, &a.gate)?.to_f32();
    let u = input(s, &a.up)?.to_f32();
    let out = output(s, &a.out)?;
    map_chunks(out.bytes, &g, &u, |g, u| act(g) * u);
    Ok(())
}

/// `out[i] = f(x[i], y[i])` in parallel chunks; `out` holds `x.len()` f32s.
fn map_chunks(out: &mut [u8], x: &[f32], y: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) {
    out.par_chunks_mut(CHUNK * 4).zip(x.par_chunks(CHUNK).zip(y.par_chunks(CHUNK))).for_each(|(dst, (xc, yc))| {
        let vals: Vec<f32> = xc.iter().zip(yc).map(|(&a, &b)| f(a, b)).collect();
        put_f32(dst, &vals);
    });
}
