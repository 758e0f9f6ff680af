//! `rope`: rotary position embedding with ggml's `rope_ext` semantics,
//! YaRN included.
//!
//! For pair `i` (of `n_dims / 2`) of a token at position `p`, the angle is
//! `θ_i = p · base^(-2i/n_dims) / freq_factor_i`. Like ggml's
//! `ggml_rope_cache_init`, `base^(-2/n_dims)` is one f32 `powf` and the angle
//! is accumulated multiplicatively (`θ *= theta_scale` per pair, starting
//! from `θ = p`), so results track llama.cpp's to the last bits rather than
//! only to the formula. YaRN (`rope_yarn`) then mixes the interpolated angle
//! `freq_scale · θ` with the extrapolated one by a ramp over the pair index
//! between the correction dims, and scales cos/sin by
//! `attn_factor · (1 + 0.1 ln(1 / freq_scale))` when `ext_factor != 0`.
//! [`ROPE_NORMAL`] rotates `(x[2i], x[2i+1])`, [`ROPE_NEOX`]
//! `(x[i], x[i + n_dims/2])`; dims from `n_dims` on are copied.

use rayon::prelude::*;
use rocmforge_backend_api::op::{RopeArgs, RopeParams, ROPE_NEOX, ROPE_NORMAL};
use rocmforge_backend_api::Result;

use super::{dim, input, invalid, output, put_f32, src, Src};
use crate::storage::Storage;

pub(crate) fn rope(s: &Storage, a: &RopeArgs) -> Result<()> {
    let x = input(s, &a.x)?.to_f32();
    let positions = input(s, &a.positions)?.to_i32();
    let freq_factors = src(s, &a.freq_factors)?.as_ref().map(Src::to_f32);
    let out = output(s, &a.out)?;
    let p = a.params;
    let (head_dim, n_heads) = (dim(a.x.ne[0]), dim(a.x.ne[1]));
    let n_dims = p.n_dims as usize;
    let neox = match p.mode {
        ROPE_NORMAL => false,
        ROPE_NEOX => true,
        m => return Err(invalid("rope", format!("unknown mode {m}"))),
    };
    let token_len = head_dim * n_heads;
    if token_len == 0 {
        return Ok(());
    }
    let theta_scale = p.theta_scale();
    let corr_dims = p.yarn_corr_dims();

    out.bytes.par_chunks_mut(token_len * 4).zip(x.par_chunks(token_len)).zip(positions.par_iter()).for_each_init(
        || (vec![0f32; n_dims], vec![0f32; head_dim]),
        |(cache, y), ((dst, xt), &pos)| {
            // (cos, sin) of pair i at cache[2i], cache[2i + 1].
            let mut theta = pos as f32;
            for i in 0..n_dims / 2 {
                let ff = freq_factors.as_ref().map_or(1.0, |f| f[i]);
                let (c, s) = rope_yarn(theta / ff, &p, corr_dims, i);
                cache[2 * i] = c;
                cache[2 * i + 1] = s;
                theta *= theta_scale;
            }
            for (dh, xh) in dst.chunks_exact_mut(head_dim * 4).zip(xt.chunks_exact(head_dim)) {
                y.copy_from_slice(xh);
                for i in 0..n_dims / 2 {
                    let (i0, i1) = if neox { (i, i + n_dims / 2) } else { (2 * i, 2 * i + 1) };
                    let (c, s) = (cache[2 * i], cache[2 * i + 1]);
                    let (x0, x1) = (xh[i0], xh[i1]);
                    y[i0] = x0 * c - x1 * s;
                    y[i1] = x0 * s + x1 * c;
                }
                put_f32(dh, y);
            }
        },
    );
    Ok(())
}

/// ggml's `rope_yarn`: `(cos, sin)` of pair `i`'s angle, scaled by mscale.
fn rope_yarn(theta_extrap: f32, p: &RopeParams, corr_dims: [f32; 2], i: usize) -> (f32, f32) {
    let theta_interp = p.freq_scale * theta_extrap;
    let mut theta = theta_interp;
    if p.ext_factor != 0.0 {
        let ramp_mix = yarn_ramp(corr_dims[0], corr_dims[1], i) * p.ext_factor;
        theta = theta_interp * (1.0 - ramp_mix) + theta_extrap * ramp_mix;
    }
    let mscale = p.mscale();
    (theta.cos() * mscale, theta.sin() * mscale)
}

/// ggml's `rope_yarn_ramp` for pair `i` (ggml passes the dim `i0 = 2i` and
/// divides by 2 in integers).
fn yarn_ramp(low: f32, high: f32, i: usize) -> f32 {
    let y = (i as f32 - low) / (high - low).max(0.001);
    1.0 - y.clamp(0.0, 1.0)
}
