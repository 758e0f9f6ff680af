//! Conformance cases for `rope` (ggml's `rope_ext` with YaRN).
//!
//! Both modes; head dims 2 to 128 with n_dims equal to or below head_dim
//! (the rest copied); 1 to 33 tokens at positions up to 8191 (8k contexts,
//! where angle errors show most); 1 to 7 heads (odd counts); plain rope,
//! linear scaling, Llama 3 freq_factors, and YaRN (Qwen2-style full ramp,
//! a partial ext_factor with attn_factor != 1, and n_ctx_orig = 0, whose
//! correction dims degenerate).

use rocmforge_backend_api::op::{RopeArgs, RopeParams, ROPE_NEOX, ROPE_NORMAL};
use rocmforge_backend_api::{DType, Op, OpKind, TensorDesc};

use super::random;
use crate::{tolerance, Case, HostTensor};

/// The scaling variants.
#[derive(Clone, Copy)]
enum Scaling {
    Plain,
    Linear,
    FreqFactors,
    Yarn,
    YarnPartial,
    YarnNoCtx,
}

impl Scaling {
    fn name(self) -> &'static str {
        match self {
            Scaling::Plain => "plain",
            Scaling::Linear => "linear/4",
            Scaling::FreqFactors => "freq_factors",
            Scaling::Yarn => "yarn/4",
            Scaling::YarnPartial => "yarn ext=0.5 attn=0.9",
            Scaling::YarnNoCtx => "yarn n_ctx_orig=0",
        }
    }

    fn params(self, n_dims: u32, mode: u32) -> RopeParams {
        let mut p = RopeParams::plain(n_dims, mode, 10000.0);
        match self {
            Scaling::Plain | Scaling::FreqFactors => {}
            Scaling::Linear => p.freq_scale = 0.25,
            Scaling::Yarn => {
                p.freq_base = 1_000_000.0;
                p.freq_scale = 0.25;
                p.ext_factor = 1.0;
                p.n_ctx_orig = 32768;
            }
            Scaling::YarnPartial => {
                p.freq_scale = 0.5;
                p.ext_factor = 0.5;
                p.attn_factor = 0.9;
                p.n_ctx_orig = 4096;
                p.beta_fast = 16.0;
                p.beta_slow = 2.0;
            }
            Scaling::YarnNoCtx => {
                p.freq_scale = 0.5;
                p.ext_factor = 1.0;
                p.n_ctx_orig = 0;
            }
        }
        p
    }
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    // (head_dim, n_dims, n_heads, n_tokens, scaling)
    let table: &[(usize, u32, usize, usize, Scaling)] = &[
        (64, 64, 4, 1, Scaling::Plain),
        (64, 64, 3, 33, Scaling::Plain),
        (128, 128, 2, 5, Scaling::Plain),
        (80, 32, 3, 7, Scaling::Plain),
        (2, 2, 1, 3, Scaling::Plain),
        (6, 4, 5, 2, Scaling::Plain),
        (96, 64, 7, 9, Scaling::Linear),
        (128, 128, 2, 17, Scaling::FreqFactors),
        (64, 48, 3, 4, Scaling::FreqFactors),
        (128, 128, 2, 17, Scaling::Yarn),
        (64, 64, 3, 11, Scaling::YarnPartial),
        (64, 32, 2, 5, Scaling::YarnNoCtx),
    ];
    for (i, &(head_dim, n_dims, n_heads, n_tokens, scaling)) in table.iter().enumerate() {
        for mode in [ROPE_NORMAL, ROPE_NEOX] {
            v.push(case(head_dim, n_dims, n_heads, n_tokens, scaling, mode, 300 + i as u64));
        }
    }
    v
}

fn case(head_dim: usize, n_dims: u32, n_heads: usize, n_tokens: usize, scaling: Scaling, mode: u32, seed: u64) -> Case {
    let shape = [head_dim, n_heads, n_tokens];
    let x = random(head_dim * n_heads * n_tokens, seed, 1.0);
    // Positions: the last token at 8191 (a single decode token too), the
    // first at 0, the rest spread over an 8k context.
    let positions: Vec<i32> = (0..n_tokens)
        .map(|t| match t {
            _ if t + 1 == n_tokens => 8191,
            0 => 0,
            _ => ((random(1, seed * 31 + t as u64, 1.0)[0] + 1.0) * 4095.0) as i32,
        })
        .collect();
    let mut inputs = vec![HostTensor::f32(&shape, &x), HostTensor::i32(&[n_tokens], &positions)];
    let with_ff = matches!(scaling, Scaling::FreqFactors);
    if with_ff {
        // Llama 3's shape: 1 for high frequencies, up to 8 for low ones.
        let half = n_dims as usize / 2;
        let ff: Vec<f32> = (0..half).map(|i| 1.0 + 7.0 * (i as f32 / half.max(2) as f32).powi(2)).collect();
        inputs.push(HostTensor::f32(&[half], &ff));
    }
    let params = scaling.params(n_dims, mode);
    let mode_name = if mode == ROPE_NEOX { "neox" } else { "normal" };
    Case {
        op: OpKind::Rope,
        label: format!("x{shape:?} n_dims={n_dims} {mode_name} {}", scaling.name()),
        inputs,
        out_dtype: DType::F32,
        out_shape: shape.to_vec(),
        tolerance: tolerance::F32,
        call: Box::new(move |t, out, run| {
            let freq_factors = if with_ff { t[2] } else { TensorDesc::NONE };
            run(&Op::Rope(&RopeArgs { x: t[0], positions: t[1], freq_factors, out, params }))
        }),
    }
}
