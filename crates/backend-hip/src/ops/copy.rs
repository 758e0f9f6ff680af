//! Launch wrapper for `copy` (`kernels/copy.hip`): any 4-D strided layout to
//! any other of the same shape, converting among F32, F16 and BF16 (round to
//! nearest even) or I32 to I32.
//!
//! Two layouts need care beyond the flat kernel:
//! - strides or offsets that are not multiples of the element size: the
//!   kernel then moves elements byte by byte (`aligned = 0`);
//! - a destination view that hits the same bytes more than once (a zero or
//!   overlapping stride): a parallel copy would race, so it runs as a single
//!   thread in ggml order, and the last element wins as on the oracle.

use rocmforge_backend_api::op::CopyArgs;
use rocmforge_backend_api::{BackendError, DType, Op, Result, TensorDesc};

use super::elementwise::{arg, flat_grid, launch, FLAT_BLOCK};
use crate::compile::KernelSource;
use crate::HipBackend;

const SOURCE: KernelSource<'static> = KernelSource {
    name: "copy.hip",
    code: include_str!("../../../../kernels/copy.hip"),
    headers: crate::kernels::HEADERS,
};

/// The kernel converting `src` to `dst`, if there is one.
fn kernel_name(src: Option<DType>, dst: Option<DType>) -> Option<&'static str> {
    use DType::{BF16, F16, F32, I32};
    Some(match (src?, dst?) {
        (F32, F32) => "copy_f32_f32",
        (F32, F16) => "copy_f32_f16",
        (F32, BF16) => "copy_f32_bf16",
        (F16, F32) => "copy_f16_f32",
        (F16, F16) => "copy_f16_f16",
        (F16, BF16) => "copy_f16_bf16",
        (BF16, F32) => "copy_bf16_f32",
        (BF16, F16) => "copy_bf16_f16",
        (BF16, BF16) => "copy_bf16_bf16",
        (I32, I32) => "copy_i32_i32",
        _ => return None,
    })
}

pub(crate) fn supports(_b: &HipBackend, op: &Op<'_>) -> bool {
    // Every type pair validation allows, any strides (64-bit indices).
    match op {
        Op::Copy(a) => kernel_name(a.src.dtype(), a.dst.dtype()).is_some(),
        _ => false,
    }
}

pub(crate) fn run(b: &HipBackend, op: &Op<'_>) -> Result<()> {
    let Op::Copy(a) = op else {
        return Err(BackendError::Unsupported { op: op.name().to_string(), reason: "not copy".into() });
    };
    copy(b, a)
}

fn copy(b: &HipBackend, a: &CopyArgs) -> Result<()> {
    let name = kernel_name(a.src.dtype(), a.dst.dtype()).ok_or_else(|| BackendError::Unsupported {
        op: "copy".into(),
        reason: format!("no conversion from type {} to type {}", a.src.dtype, a.dst.dtype),
    })?;
    if a.src.ne != a.dst.ne {
        return Err(BackendError::InvalidArgument(format!(
            "copy: shapes differ: {:?} -> {:?}",
            a.src.shape(),
            a.dst.shape()
        )));
    }
    let n = a.src.elements().ok_or_else(|| BackendError::InvalidArgument(format!("copy: shape {:?}", a.src.ne)))?;
    if n == 0 {
        return Ok(());
    }
    let f = b.kernel(&SOURCE, name)?;
    let mut ps = b.tensor_ptr(&a.src, false)?.0;
    let mut pd = b.tensor_ptr(&a.dst, true)?.0;
    let (ssize, dsize) = (elem_bytes(&a.src)?, elem_bytes(&a.dst)?);
    let mut aligned = i32::from(aligned(ps, &a.src, ssize) && aligned(pd, &a.dst, dsize));
    let mut nn = n as i64;
    let [mut ne0, mut ne1, mut ne2, _] = a.src.ne;
    let [mut s0, mut s1, mut s2, mut s3] = a.src.nb;
    let [mut d0, mut d1, mut d2, mut d3] = a.dst.nb;
    let (grid, block) = if writes_each_byte_once(&a.dst, dsize) {
        (flat_grid(n), FLAT_BLOCK)
    } else {
        // Sequential, so repeated destination bytes end with the last element.
        (1, 1)
    };
    let mut args = [
        arg(&mut ps),
        arg(&mut pd),
        arg(&mut nn),
        arg(&mut ne0),
        arg(&mut ne1),
        arg(&mut ne2),
        arg(&mut s0),
        arg(&mut s1),
        arg(&mut s2),
        arg(&mut s3),
        arg(&mut d0),
        arg(&mut d1),
        arg(&mut d2),
        arg(&mut d3),
        arg(&mut aligned),
    ];
    // SAFETY: arguments match the `copy_<src>_<dst>` kernels; every element
    // address lies in the tensors' byte ranges, which tensor_ptr checked
    // against their buffers.
    unsafe { launch(b, &f, [grid, 1, 1], [block, 1, 1], &mut args) }
}

fn elem_bytes(t: &TensorDesc) -> Result<i64> {
    t.dtype()
        .map(|d| d.block_bytes() as i64)
        .ok_or_else(|| BackendError::InvalidArgument(format!("copy: unknown type id {}", t.dtype)))
}

/// Whether every element of `t` at device address `ptr` is aligned to its
/// size (only strides of dims longer than 1 matter).
fn aligned(ptr: u64, t: &TensorDesc, size: i64) -> bool {
    ptr.is_multiple_of(size as u64) && (0..4).all(|d| t.ne[d] <= 1 || t.nb[d] % size == 0)
}

/// Whether the elements of `t` occupy pairwise disjoint bytes: sorted by
/// stride, each dim must step past everything the smaller dims span.
fn writes_each_byte_once(t: &TensorDesc, size: i64) -> bool {
    let mut dims: Vec<(i64, i64)> = (0..4).filter(|&d| t.ne[d] > 1).map(|d| (t.nb[d], t.ne[d])).collect();
    dims.sort_unstable();
    let mut extent = size;
    for (nb, ne) in dims {
        if nb < extent {
            return false;
        }
        extent = match nb.checked_mul(ne - 1).and_then(|s| s.checked_add(extent)) {
            Some(e) => e,
            None => return false,
        };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocmforge_backend_api::BufferHandle;

    fn t(ne: [i64; 4], nb: [i64; 4]) -> TensorDesc {
        TensorDesc { ne, nb, ..TensorDesc::contiguous(BufferHandle(1), 0, DType::F32, &[1]) }
    }

    #[test]
    fn injectivity_of_destination_views() {
        assert!(writes_each_byte_once(&t([5, 3, 2, 1], [4, 20, 60, 120]), 4));
        // Transposed and gapped views are fine.
        assert!(writes_each_byte_once(&t([3, 5, 2, 1], [20, 4, 60, 120]), 4));
        assert!(writes_each_byte_once(&t([7, 1, 1, 1], [8, 0, 0, 0]), 4));
        // Zero stride, overlapping rows, partly overlapping elements.
        assert!(!writes_each_byte_once(&t([4, 3, 1, 1], [4, 0, 0, 0]), 4));
        assert!(!writes_each_byte_once(&t([4, 3, 1, 1], [4, 8, 32, 32]), 4));
        assert!(!writes_each_byte_once(&t([4, 1, 1, 1], [2, 8, 8, 8]), 4));
    }

    #[test]
    fn alignment_ignores_unit_dims() {
        assert!(aligned(256, &t([4, 1, 1, 1], [4, 3, 3, 3]), 4));
        assert!(!aligned(256, &t([4, 2, 1, 1], [4, 18, 36, 36]), 4));
        assert!(!aligned(258, &t([4, 1, 1, 1], [4, 16, 16, 16]), 4));
    }
}
