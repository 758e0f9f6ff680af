//! Launch wrappers for `rms_norm` and `layer_norm` (`kernels/norm.hip`):
//! one block per row of `ne[0]` F32 values, weight and bias optional.

use rocmforge_backend_api::op::NormArgs;
use rocmforge_backend_api::{BackendError, Op, Result};

use super::elementwise::{arg, fit_i32, launch, optional_ptr, row_launch};
use crate::compile::KernelSource;
use crate::HipBackend;

const SOURCE: KernelSource<'static> = KernelSource {
    name: "norm.hip",
    code: include_str!("../../../../kernels/norm.hip"),
    headers: crate::kernels::HEADERS,
};

pub(crate) fn supports(_b: &HipBackend, op: &Op<'_>) -> bool {
    // Validation guarantees F32, contiguity, weight/bias shapes; rows are
    // indexed with 32-bit column counts.
    match op {
        Op::RmsNorm(a) | Op::LayerNorm(a) => i32::try_from(a.x.ne[0]).is_ok(),
        _ => false,
    }
}

pub(crate) fn run(b: &HipBackend, op: &Op<'_>) -> Result<()> {
    match op {
        Op::RmsNorm(a) => norm(b, a, "rms_norm", false),
        Op::LayerNorm(a) => norm(b, a, "layer_norm", true),
        _ => Err(BackendError::Unsupported { op: op.name().to_string(), reason: "not a norm op".into() }),
    }
}

fn norm(b: &HipBackend, a: &NormArgs, op: &str, layer: bool) -> Result<()> {
    let mut ncols = fit_i32(op, "row length", a.x.ne[0])?;
    let rows = a.x.rows();
    if ncols == 0 || rows == 0 {
        return Ok(());
    }
    let (grid, block) = row_launch(b, op, rows, ncols as u64)?;
    let mut px = b.tensor_ptr(&a.x, false)?.0;
    let mut pw = optional_ptr(b, &a.weight)?;
    let mut pb = optional_ptr(b, &a.bias)?;
    let mut po = b.tensor_ptr(&a.out, true)?.0;
    let mut nrows = rows as i64;
    let mut eps = a.eps;
    if layer {
        let f = b.kernel(&SOURCE, "layer_norm_f32")?;
        let mut args =
            [arg(&mut px), arg(&mut pw), arg(&mut pb), arg(&mut po), arg(&mut ncols), arg(&mut nrows), arg(&mut eps)];
        // SAFETY: arguments match `layer_norm_f32`; x and out hold
        // rows * ncols floats, weight/bias ncols or are null (validated shapes,
        // ranges checked by tensor_ptr).
        unsafe { launch(b, &f, grid, block, &mut args) }
    } else {
        if !a.bias.is_none() {
            return Err(BackendError::InvalidArgument(format!("{op}: takes no bias")));
        }
        let f = b.kernel(&SOURCE, "rms_norm_f32")?;
        let mut args = [arg(&mut px), arg(&mut pw), arg(&mut po), arg(&mut ncols), arg(&mut nrows), arg(&mut eps)];
        // SAFETY: arguments match `rms_norm_f32`; as above.
        unsafe { launch(b, &f, grid, block, &mut args) }
    }
}
