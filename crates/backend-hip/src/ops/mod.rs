//! Op launch wrappers, one file per op family, named as everywhere else
//! (`ops/norm.rs::rms_norm` launches `rms_norm_f32` from `kernels/norm.hip`).
//!
//! None exist yet: every op is unsupported. An op file will hold
//! - its kernel source, embedded: `const SOURCE: KernelSource<'static> =
//!   KernelSource { name: "norm.hip", code: include_str!("../../../../kernels/norm.hip"),
//!   headers: crate::kernels::HEADERS };`
//! - `fn supports(b: &HipBackend, args: &NormArgs) -> bool` (dtypes and
//!   layouts it has kernels for, given `b.facts()`),
//! - `fn rms_norm(b: &HipBackend, args: &NormArgs) -> Result<()>`: resolve
//!   operands with `b.tensor_ptr`, get the kernel with `b.kernel(&SOURCE,
//!   "rms_norm_f32")` (compiled and loaded once, then a map lookup), pick a
//!   grid from the shape and `b.facts().warp_size`, and `launch`.
//!
//! and gets one arm in [`supports`] and [`run`].

use rocmforge_backend_api::{BackendError, Op, Result};

use crate::HipBackend;

/// Whether an op has a kernel here (after host validation passed).
pub(crate) fn supports(_backend: &HipBackend, _op: &Op<'_>) -> bool {
    false
}

/// Enqueue an op.
pub(crate) fn run(_backend: &HipBackend, op: &Op<'_>) -> Result<()> {
    Err(BackendError::Unsupported { op: op.name().to_string(), reason: "kernels not implemented yet".into() })
}
