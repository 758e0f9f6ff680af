//! Op launch wrappers, one file per op family, named as everywhere else
//! (`ops/norm.rs` launches `rms_norm_f32` from `kernels/norm.hip`).
//!
//! An op file holds
//! - its kernel source, embedded: `const SOURCE: KernelSource<'static> =
//!   KernelSource { name: "norm.hip", code: include_str!("../../../../kernels/norm.hip"),
//!   headers: crate::kernels::HEADERS };`
//! - `supports(b, op) -> bool`: the dtypes and layouts it has kernels for,
//!   given `b.facts()`;
//! - `run(b, op) -> Result<()>`: resolve operands with `b.tensor_ptr`, get
//!   the kernel with `b.kernel(&SOURCE, "rms_norm_f32")` (compiled and loaded
//!   once, then a map lookup), pick a grid from the shape and
//!   `b.facts().warp_size`, and launch.

use rocmforge_backend_api::{Op, Result};

use crate::HipBackend;

mod attention;
mod copy;
mod elementwise;
mod get_rows;
mod matmul;
mod matvec;
mod norm;
mod reduce;
mod rope;

/// Whether an op has a kernel here (after host validation passed).
pub(crate) fn supports(b: &HipBackend, op: &Op<'_>) -> bool {
    match op {
        Op::Matmul(_) => matmul::supports(b, op),
        Op::GetRows(_) | Op::SetRows(_) => get_rows::supports(b, op),
        Op::RmsNorm(_) | Op::LayerNorm(_) => norm::supports(b, op),
        Op::Rope(_) => rope::supports(b, op),
        Op::Attention(_) => attention::supports(b, op),
        Op::Add(_) | Op::Mul(_) | Op::Scale(_) | Op::SiluMul(_) | Op::GeluMul(_) => elementwise::supports(b, op),
        Op::Softmax(_) | Op::Argmax(_) => reduce::supports(b, op),
        Op::Copy(_) => copy::supports(b, op),
    }
}

/// Enqueue an op.
pub(crate) fn run(b: &HipBackend, op: &Op<'_>) -> Result<()> {
    match op {
        Op::Matmul(_) => matmul::run(b, op),
        Op::GetRows(_) | Op::SetRows(_) => get_rows::run(b, op),
        Op::RmsNorm(_) | Op::LayerNorm(_) => norm::run(b, op),
        Op::Rope(_) => rope::run(b, op),
        Op::Attention(_) => attention::run(b, op),
        Op::Add(_) | Op::Mul(_) | Op::Scale(_) | Op::SiluMul(_) | Op::GeluMul(_) => elementwise::run(b, op),
        Op::Softmax(_) | Op::Argmax(_) => reduce::run(b, op),
        Op::Copy(_) => copy::run(b, op),
    }
}
