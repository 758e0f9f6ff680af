//! Tensor descriptors: where a tensor lives and how it is laid out.
//!
//! Layout follows ggml: `ne[0]` is the innermost (fastest-varying) dimension,
//! `nb[i]` is the stride of dimension `i` in bytes. For block-quantized types
//! `nb[0]` is the block size in bytes and a row (`ne[0]` elements) is a whole
//! number of blocks, so only `nb[1..]` may be chosen freely.

use crate::DType;

/// An opaque buffer id handed out by a backend. `0` is never a valid buffer;
/// a [`TensorDesc`] with buffer `0` means "no tensor" for optional operands.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct BufferHandle(pub u64);

impl BufferHandle {
    pub const NONE: BufferHandle = BufferHandle(0);

    pub fn is_none(self) -> bool {
        self.0 == 0
    }
}

/// Opaque id of a recorded graph ([`crate::Backend::graph_end`]); never 0.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GraphHandle(pub u64);

/// A view of a tensor inside a backend buffer. `#[repr(C)]` and made of sized
/// integers only, so it crosses the plugin ABI as is.
///
/// `dtype` is stored as the raw ggml id rather than [`DType`]: a value coming
/// from another library must be checked before it becomes a Rust enum.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorDesc {
    pub buffer: BufferHandle,
    /// Byte offset of element (0, 0, 0, 0) in the buffer.
    pub offset: u64,
    /// ggml type id, see [`DType`].
    pub dtype: u32,
    pub _reserved: u32,
    /// Number of elements per dimension, innermost first; unused dims are 1.
    pub ne: [i64; 4],
    /// Byte stride per dimension.
    pub nb: [i64; 4],
}

impl TensorDesc {
    /// The absent operand (for optional inputs such as a norm's bias).
    pub const NONE: TensorDesc =
        TensorDesc { buffer: BufferHandle::NONE, offset: 0, dtype: 0, _reserved: 0, ne: [0; 4], nb: [0; 4] };

    /// A densely packed tensor of shape `shape` (innermost first, at most 4
    /// dims) at `offset` in `buffer`.
    ///
    /// # Panics
    /// If `shape` has more than 4 dims or a quantized row is not a whole
    /// number of blocks: both are programming errors of the caller.
    pub fn contiguous(buffer: BufferHandle, offset: u64, dtype: DType, shape: &[usize]) -> Self {
        assert!(shape.len() <= 4, "tensors have at most 4 dims, got {shape:?}");
        let mut ne = [1i64; 4];
        for (d, &n) in shape.iter().enumerate() {
            ne[d] = n as i64;
        }
        assert!(
            (ne[0] as usize).is_multiple_of(dtype.block_len()),
            "{dtype} rows must be whole blocks of {}, got ne0 = {}",
            dtype.block_len(),
            ne[0]
        );
        let mut nb = [0i64; 4];
        nb[0] = dtype.block_bytes() as i64;
        nb[1] = ne[0] / dtype.block_len() as i64 * nb[0];
        nb[2] = nb[1] * ne[1];
        nb[3] = nb[2] * ne[2];
        TensorDesc { buffer, offset, dtype: dtype as u32, _reserved: 0, ne, nb }
    }

    pub fn is_none(&self) -> bool {
        self.buffer.is_none()
    }

    /// The element type, or `None` for an id this build does not know.
    pub fn dtype(&self) -> Option<DType> {
        DType::from_ggml(self.dtype)
    }

    /// Number of elements, or `None` if a dim is negative or the product overflows.
    pub fn elements(&self) -> Option<u64> {
        self.ne.iter().try_fold(1u64, |acc, &n| acc.checked_mul(u64::try_from(n).ok()?))
    }

    /// Number of rows (all dims but the innermost).
    pub fn rows(&self) -> u64 {
        (self.ne[1] * self.ne[2] * self.ne[3]).max(0) as u64
    }

    /// The shape with trailing 1s dropped, for messages.
    pub fn shape(&self) -> Vec<i64> {
        let last = self.ne.iter().rposition(|&n| n != 1).unwrap_or(0);
        self.ne[..=last].to_vec()
    }

    /// True when the elements are densely packed in ggml order.
    pub fn is_contiguous(&self) -> bool {
        let Some(dt) = self.dtype() else { return false };
        if self.nb[0] != dt.block_bytes() as i64 {
            return false;
        }
        let mut expect = self.ne[0] / dt.block_len() as i64 * self.nb[0];
        for d in 1..4 {
            if self.ne[d] > 1 && self.nb[d] != expect {
                return false;
            }
            expect *= self.ne[d];
        }
        true
    }

    /// Byte range `[start, end)` this tensor touches within its buffer, or
    /// `None` for a malformed descriptor (unknown type, negative dims or
    /// strides, partial blocks, overflow). An empty tensor touches nothing.
    pub fn byte_range(&self) -> Option<(u64, u64)> {
        let dt = self.dtype()?;
        if self.ne.iter().any(|&n| n < 0) || self.nb.iter().any(|&s| s < 0) {
            return None;
        }
        if self.elements()? == 0 {
            return Some((self.offset, self.offset));
        }
        let bl = dt.block_len() as i64;
        if self.ne[0] % bl != 0 {
            return None;
        }
        // Last block of dim 0 plus the furthest row.
        let mut last: u64 = ((self.ne[0] / bl - 1) as u64).checked_mul(self.nb[0] as u64)?;
        for d in 1..4 {
            last = last.checked_add(((self.ne[d] - 1) as u64).checked_mul(self.nb[d] as u64)?)?;
        }
        let end = self.offset.checked_add(last)?.checked_add(dt.block_bytes() as u64)?;
        Some((self.offset, end))
    }

    /// Same buffer and overlapping byte ranges.
    pub fn overlaps(&self, other: &TensorDesc) -> bool {
        if self.is_none() || other.is_none() || self.buffer != other.buffer {
            return false;
        }
        match (self.byte_range(), other.byte_range()) {
            (Some((a0, a1)), Some((b0, b1))) => a0 < b1 && b0 < a1 && a0 < a1 && b0 < b1,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_layout_matches_ggml() {
        let t = TensorDesc::contiguous(BufferHandle(1), 64, DType::Q4_0, &[64, 3]);
        assert_eq!(t.nb, [18, 36, 108, 108]);
        assert!(t.is_contiguous());
        assert_eq!(t.byte_range(), Some((64, 64 + 108)));
        let f = TensorDesc::contiguous(BufferHandle(1), 0, DType::F32, &[5, 2, 3]);
        assert_eq!(f.nb, [4, 20, 40, 120]);
        assert_eq!(f.byte_range(), Some((0, 120)));
        assert_eq!(f.shape(), vec![5, 2, 3]);
    }

    #[test]
    fn malformed_descriptors_have_no_range() {
        let mut t = TensorDesc::contiguous(BufferHandle(1), 0, DType::F32, &[4, 4]);
        t.ne[1] = -1;
        assert_eq!(t.byte_range(), None);
        let mut t = TensorDesc::contiguous(BufferHandle(1), 0, DType::F32, &[4, 4]);
        t.dtype = 9999;
        assert_eq!(t.byte_range(), None);
        let mut t = TensorDesc::contiguous(BufferHandle(1), 0, DType::F32, &[4, 4]);
        t.nb[1] = i64::MAX;
        assert_eq!(t.byte_range(), None);
    }

    #[test]
    fn overlap_is_per_buffer_and_half_open() {
        let a = TensorDesc::contiguous(BufferHandle(1), 0, DType::F32, &[4]);
        let b = TensorDesc::contiguous(BufferHandle(1), 16, DType::F32, &[4]);
        let c = TensorDesc::contiguous(BufferHandle(2), 0, DType::F32, &[4]);
        assert!(!a.overlaps(&b));
        assert!(!a.overlaps(&c));
        assert!(a.overlaps(&a));
    }
}
