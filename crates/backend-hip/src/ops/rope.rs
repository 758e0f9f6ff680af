//! Launch wrapper for `rope` (`kernels/rope.hip`): ggml's `rope_ext` with
//! YaRN, modes normal and neox, optional freq_factors.
//!
//! The scalars every angle depends on (`theta_scale`, YaRN's correction
//! dims, the final mscale) are computed here with the CPU oracle's own f32
//! arithmetic (`crates/backend-cpu/src/ops/rope.rs`, from ggml's
//! `ggml_rope_cache_init` / `ggml_rope_yarn_corr_dims`), so the kernel starts
//! from the same bits.

use rocmforge_backend_api::op::{RopeArgs, ROPE_NEOX, ROPE_NORMAL};
use rocmforge_backend_api::{BackendError, Op, Result};

use super::elementwise::{arg, fit_i32, launch, optional_ptr, row_launch};
use crate::compile::KernelSource;
use crate::HipBackend;

const SOURCE: KernelSource<'static> = KernelSource {
    name: "rope.hip",
    code: include_str!("../../../../kernels/rope.hip"),
    headers: crate::kernels::HEADERS,
};

pub(crate) fn supports(_b: &HipBackend, op: &Op<'_>) -> bool {
    // Validation guarantees F32/I32 types, contiguity, shapes and parameters;
    // the kernel indexes within a row with 32-bit ints.
    match op {
        Op::Rope(a) => {
            i32::try_from(a.x.ne[0]).is_ok()
                && i32::try_from(a.x.ne[1]).is_ok()
                && matches!(a.params.mode, ROPE_NORMAL | ROPE_NEOX)
        }
        _ => false,
    }
}

pub(crate) fn run(b: &HipBackend, op: &Op<'_>) -> Result<()> {
    let Op::Rope(a) = op else {
        return Err(BackendError::Unsupported { op: op.name().to_string(), reason: "not rope".into() });
    };
    rope(b, a)
}

fn rope(b: &HipBackend, a: &RopeArgs) -> Result<()> {
    let p = a.params;
    let mut head_dim = fit_i32("rope", "head_dim", a.x.ne[0])?;
    let mut n_heads = fit_i32("rope", "n_heads", a.x.ne[1])?;
    let mut n_dims = fit_i32("rope", "n_dims", i64::from(p.n_dims))?;
    let rows = a.x.rows();
    if head_dim == 0 || rows == 0 {
        return Ok(());
    }
    // Validation guarantees these; a kernel would read out of its row otherwise.
    if n_dims <= 0 || n_dims % 2 != 0 || n_dims > head_dim {
        return Err(BackendError::InvalidArgument(format!("rope: n_dims {n_dims} for head_dim {head_dim}")));
    }
    let mut neox = match p.mode {
        ROPE_NORMAL => 0i32,
        ROPE_NEOX => 1i32,
        m => return Err(BackendError::InvalidArgument(format!("rope: unknown mode {m}"))),
    };
    let mut theta_scale = p.theta_scale();
    let [mut corr_low, mut corr_high] = p.yarn_corr_dims();
    let mut mscale = p.mscale();
    let (mut freq_scale, mut ext_factor) = (p.freq_scale, p.ext_factor);

    // Work items per row: the n_dims/2 pairs and the head_dim - n_dims copied dims.
    let (grid, block) = row_launch(b, "rope", rows, (head_dim - n_dims / 2) as u64)?;
    let f = b.kernel(&SOURCE, "rope_f32")?;
    let mut px = b.tensor_ptr(&a.x, false)?.0;
    let mut ppos = b.tensor_ptr(&a.positions, false)?.0;
    let mut pff = optional_ptr(b, &a.freq_factors)?;
    let mut po = b.tensor_ptr(&a.out, true)?.0;
    let mut n_rows = rows as i64;
    let mut args = [
        arg(&mut px),
        arg(&mut ppos),
        arg(&mut pff),
        arg(&mut po),
        arg(&mut head_dim),
        arg(&mut n_heads),
        arg(&mut n_rows),
        arg(&mut n_dims),
        arg(&mut neox),
        arg(&mut theta_scale),
        arg(&mut freq_scale),
        arg(&mut ext_factor),
        arg(&mut mscale),
        arg(&mut corr_low),
        arg(&mut corr_high),
    ];
    // SAFETY: arguments match `rope_f32`; x/out hold rows * head_dim floats
    // (rows = n_heads * n_tokens), positions n_tokens ints, freq_factors
    // n_dims/2 floats or null (validated shapes, ranges checked by tensor_ptr).
    unsafe { launch(b, &f, grid, block, &mut args) }
}
