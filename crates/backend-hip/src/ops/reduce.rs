//! Launch wrappers for the row reductions `softmax` and `argmax`
//! (`kernels/reduce.hip`): one block per row of `ne[0]` F32 values.

use rocmforge_backend_api::op::{ArgmaxArgs, SoftmaxArgs};
use rocmforge_backend_api::{BackendError, Op, Result};

use super::elementwise::{arg, fit_i32, launch, row_launch};
use crate::compile::KernelSource;
use crate::HipBackend;

const SOURCE: KernelSource<'static> = KernelSource {
    name: "reduce.hip",
    code: include_str!("../../../../kernels/reduce.hip"),
    headers: crate::kernels::HEADERS,
};

pub(crate) fn supports(_b: &HipBackend, op: &Op<'_>) -> bool {
    // Validation guarantees types, contiguity and shapes; rows are indexed
    // with 32-bit column counts (argmax's indices are I32 anyway).
    match op {
        Op::Softmax(a) => i32::try_from(a.x.ne[0]).is_ok(),
        Op::Argmax(a) => i32::try_from(a.x.ne[0]).is_ok(),
        _ => false,
    }
}

pub(crate) fn run(b: &HipBackend, op: &Op<'_>) -> Result<()> {
    match op {
        Op::Softmax(a) => softmax(b, a),
        Op::Argmax(a) => argmax(b, a),
        _ => Err(BackendError::Unsupported { op: op.name().to_string(), reason: "not a reduction".into() }),
    }
}

fn softmax(b: &HipBackend, a: &SoftmaxArgs) -> Result<()> {
    let mut ncols = fit_i32("softmax", "row length", a.x.ne[0])?;
    let rows = a.x.rows();
    if ncols == 0 || rows == 0 {
        return Ok(());
    }
    let (grid, block) = row_launch(b, "softmax", rows, ncols as u64)?;
    let f = b.kernel(&SOURCE, "softmax_f32")?;
    let mut px = b.tensor_ptr(&a.x, false)?.0;
    let mut po = b.tensor_ptr(&a.out, true)?.0;
    let mut nrows = rows as i64;
    let mut scale = a.scale;
    let mut args = [arg(&mut px), arg(&mut po), arg(&mut ncols), arg(&mut nrows), arg(&mut scale)];
    // SAFETY: arguments match `softmax_f32`; x and out hold rows * ncols
    // floats (same shape, validated; ranges checked by tensor_ptr).
    unsafe { launch(b, &f, grid, block, &mut args) }
}

fn argmax(b: &HipBackend, a: &ArgmaxArgs) -> Result<()> {
    let mut ncols = fit_i32("argmax", "row length", a.x.ne[0])?;
    let rows = a.x.rows();
    if rows == 0 {
        return Ok(());
    }
    if ncols == 0 {
        // As the oracle: an empty row has no maximum.
        return Err(BackendError::InvalidArgument("argmax: rows of length 0 have no maximum".into()));
    }
    let (grid, block) = row_launch(b, "argmax", rows, ncols as u64)?;
    let f = b.kernel(&SOURCE, "argmax_f32")?;
    let mut px = b.tensor_ptr(&a.x, false)?.0;
    let mut po = b.tensor_ptr(&a.out, true)?.0;
    let mut nrows = rows as i64;
    let mut args = [arg(&mut px), arg(&mut po), arg(&mut ncols), arg(&mut nrows)];
    // SAFETY: arguments match `argmax_f32`; x holds rows * ncols floats, out
    // rows ints (validated shapes; ranges checked by tensor_ptr).
    unsafe { launch(b, &f, grid, block, &mut args) }
}
