//! Launch wrappers for the element-wise ops (`kernels/elementwise.hip`):
//! `add`, `mul` (b broadcast over a), `scale`, `silu_mul`, `gelu_mul`, all
//! F32 and contiguous (as validation guarantees).
//!
//! Also the launch helpers the other op files of this family set share:
//! grid-stride flat launches and one-block-per-row launches.

use std::ffi::c_void;

use rocmforge_backend_api::op::{BinaryArgs, GluArgs, ScaleArgs};
use rocmforge_backend_api::{BackendError, Op, Result, TensorDesc};

use crate::compile::KernelSource;
use crate::runtime::Function;
use crate::HipBackend;

const SOURCE: KernelSource<'static> = KernelSource {
    name: "elementwise.hip",
    code: include_str!("../../../../kernels/elementwise.hip"),
    headers: crate::kernels::HEADERS,
};

/// Threads per block of the flat grid-stride kernels: a multiple of both
/// warp sizes (32, 64).
pub(super) const FLAT_BLOCK: u32 = 256;

/// Most blocks of a grid-stride launch. Kernels loop over the rest, so any
/// size works; the cap keeps `grid * block` well under 2^32 (AMD's limit on
/// the total work-items) and grid.x under NVIDIA's 2^31 - 1.
pub(super) const MAX_BLOCKS: u64 = 1 << 20;

/// Most threads of a one-block-per-row launch (the kernels' shared arrays
/// hold one slot per warp of at most this many threads).
const MAX_ROW_THREADS: u32 = 1024;

/// A kernel argument, as the launch API takes it.
pub(super) fn arg<T>(v: &mut T) -> *mut c_void {
    v as *mut T as *mut c_void
}

/// Grid of a flat grid-stride launch over `n > 0` items.
pub(super) fn flat_grid(n: u64) -> u32 {
    n.div_ceil(u64::from(FLAT_BLOCK)).clamp(1, MAX_BLOCKS) as u32
}

/// Grid and block of a one-block-per-row launch over `rows > 0` rows of
/// `ncols` items: threads cover the row, rounded up to the warp size, at
/// most 1024 (and the device's limit, rounded down to whole warps).
pub(super) fn row_launch(b: &HipBackend, op: &str, rows: u64, ncols: u64) -> Result<([u32; 3], [u32; 3])> {
    let warp = b.facts().warp_size;
    let max = MAX_ROW_THREADS.min(b.facts().max_threads_per_block) / warp.max(1) * warp;
    if warp == 0 || max == 0 {
        return Err(BackendError::Internal(format!("{op}: unusable warp size {warp}")));
    }
    let threads =
        ncols.div_ceil(u64::from(warp)).saturating_mul(u64::from(warp)).clamp(u64::from(warp), u64::from(max));
    Ok(([rows.clamp(1, MAX_BLOCKS) as u32, 1, 1], [threads as u32, 1, 1]))
}

/// The device address of an optional operand, 0 (null) when absent.
pub(super) fn optional_ptr(b: &HipBackend, t: &TensorDesc) -> Result<u64> {
    if t.is_none() {
        Ok(0)
    } else {
        Ok(b.tensor_ptr(t, false)?.0)
    }
}

/// `n` as the kernels' 32-bit signed size, or an error naming what is too big.
pub(super) fn fit_i32(op: &str, what: &str, n: i64) -> Result<i32> {
    i32::try_from(n).map_err(|_| BackendError::InvalidArgument(format!("{op}: {what} {n} exceeds the i32 range")))
}

/// Launch `f` over a grid and block.
///
/// # Safety
/// `args` must match the kernel's parameters in number, order and type, and
/// every pointer among them must cover what the kernel touches for them.
pub(super) unsafe fn launch(
    b: &HipBackend,
    f: &Function,
    grid: [u32; 3],
    block: [u32; 3],
    args: &mut [*mut c_void],
) -> Result<()> {
    // SAFETY: forwarded caller contract.
    unsafe { b.device().launch(f, grid, block, 0, args) }
}

pub(crate) fn supports(_b: &HipBackend, op: &Op<'_>) -> bool {
    // Validation guarantees F32, contiguity and shapes; every size works
    // (64-bit flat indices, grid-stride loops).
    matches!(op, Op::Add(_) | Op::Mul(_) | Op::Scale(_) | Op::SiluMul(_) | Op::GeluMul(_))
}

pub(crate) fn run(b: &HipBackend, op: &Op<'_>) -> Result<()> {
    match op {
        Op::Add(a) => binary(b, a, "add", "add_f32"),
        Op::Mul(a) => binary(b, a, "mul", "mul_f32"),
        Op::Scale(a) => scale(b, a),
        Op::SiluMul(a) => glu(b, a, "silu_mul_f32"),
        Op::GeluMul(a) => glu(b, a, "gelu_mul_f32"),
        _ => Err(BackendError::Unsupported { op: op.name().to_string(), reason: "not an element-wise op".into() }),
    }
}

fn elements(t: &TensorDesc) -> Result<u64> {
    t.elements().ok_or_else(|| BackendError::InvalidArgument(format!("malformed shape {:?}", t.ne)))
}

fn binary(b: &HipBackend, a: &BinaryArgs, op: &str, name: &'static str) -> Result<()> {
    let n = elements(&a.a)?;
    if n == 0 {
        return Ok(());
    }
    // Validation: every b.ne[d] >= 1 divides a.ne[d]; re-checked here because
    // a zero would be a division by zero in the kernel.
    if (0..4).any(|d| a.b.ne[d] <= 0 || a.a.ne[d] % a.b.ne[d] != 0) {
        return Err(BackendError::InvalidArgument(format!(
            "{op}: b {:?} does not broadcast over a {:?}",
            a.b.shape(),
            a.a.shape()
        )));
    }
    let f = b.kernel(&SOURCE, name)?;
    let mut pa = b.tensor_ptr(&a.a, false)?.0;
    let mut pb = b.tensor_ptr(&a.b, false)?.0;
    let mut po = b.tensor_ptr(&a.out, true)?.0;
    let mut nn = n as i64;
    let [mut n0, mut n1, mut n2, _] = a.a.ne;
    let [mut b0, mut b1, mut b2, mut b3] = a.b.ne;
    let mut same = i32::from(a.a.ne == a.b.ne);
    let mut args = [
        arg(&mut pa),
        arg(&mut pb),
        arg(&mut po),
        arg(&mut nn),
        arg(&mut n0),
        arg(&mut n1),
        arg(&mut n2),
        arg(&mut b0),
        arg(&mut b1),
        arg(&mut b2),
        arg(&mut b3),
        arg(&mut same),
    ];
    // SAFETY: arguments match `add_f32`/`mul_f32`; a/out hold n floats and b
    // holds b0*b1*b2*b3 (all ranges checked by tensor_ptr).
    unsafe { launch(b, &f, [flat_grid(n), 1, 1], [FLAT_BLOCK, 1, 1], &mut args) }
}

fn scale(b: &HipBackend, a: &ScaleArgs) -> Result<()> {
    let n = elements(&a.x)?;
    if n == 0 {
        return Ok(());
    }
    let f = b.kernel(&SOURCE, "scale_f32")?;
    let mut px = b.tensor_ptr(&a.x, false)?.0;
    let mut po = b.tensor_ptr(&a.out, true)?.0;
    let mut nn = n as i64;
    let mut s = a.scale;
    let mut args = [arg(&mut px), arg(&mut po), arg(&mut nn), arg(&mut s)];
    // SAFETY: arguments match `scale_f32`; x and out hold n floats.
    unsafe { launch(b, &f, [flat_grid(n), 1, 1], [FLAT_BLOCK, 1, 1], &mut args) }
}

fn glu(b: &HipBackend, a: &GluArgs, name: &'static str) -> Result<()> {
    let n = elements(&a.gate)?;
    if n == 0 {
        return Ok(());
    }
    let f = b.kernel(&SOURCE, name)?;
    let mut pg = b.tensor_ptr(&a.gate, false)?.0;
    let mut pu = b.tensor_ptr(&a.up, false)?.0;
    let mut po = b.tensor_ptr(&a.out, true)?.0;
    let mut nn = n as i64;
    let mut args = [arg(&mut pg), arg(&mut pu), arg(&mut po), arg(&mut nn)];
    // SAFETY: arguments match `silu_mul_f32`/`gelu_mul_f32`; gate, up and out
    // hold n floats (same shapes, validated).
    unsafe { launch(b, &f, [flat_grid(n), 1, 1], [FLAT_BLOCK, 1, 1], &mut args) }
}
