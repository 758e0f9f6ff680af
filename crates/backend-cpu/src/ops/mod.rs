//! The CPU implementations of every op, one file per op family.
//!
//! Every op reads its inputs as f32 (converting or dequantizing as it goes),
//! accumulates in f32 and writes its output. [`dispatch`] is only reached
//! after `validate_op` passed, so shapes, dtypes, contiguity and the
//! no-aliasing rule hold; what depends on data (ids) is checked here.

use rocmforge_backend_api::{BackendError, DType, Op, Result, TensorDesc};

use crate::storage::Storage;

pub(crate) mod attention;
pub(crate) mod copy;
pub(crate) mod elementwise;
pub(crate) mod get_rows;
pub(crate) mod matmul;
pub(crate) mod norm;
pub(crate) mod reduce;
pub(crate) mod rope;

/// Run a validated op.
pub(crate) fn dispatch(s: &Storage, op: &Op<'_>) -> Result<()> {
    match *op {
        Op::Matmul(a) => matmul::matmul(s, a),
        Op::GetRows(a) => get_rows::get_rows(s, a),
        Op::SetRows(a) => get_rows::set_rows(s, a),
        Op::RmsNorm(a) => norm::rms_norm(s, a),
        Op::LayerNorm(a) => norm::layer_norm(s, a),
        Op::Rope(a) => rope::rope(s, a),
        Op::Attention(a) => attention::attention(s, a),
        Op::Add(a) => elementwise::add(s, a),
        Op::Mul(a) => elementwise::mul(s, a),
        Op::Scale(a) => elementwise::scale(s, a),
        Op::SiluMul(a) => elementwise::silu_mul(s, a),
        Op::GeluMul(a) => elementwise::gelu_mul(s, a),
        Op::Softmax(a) => reduce::softmax(s, a),
        Op::Argmax(a) => reduce::argmax(s, a),
        Op::Copy(a) => copy::copy(s, a),
    }
}

/// An input tensor: its descriptor and the bytes from its offset to its end.
pub(crate) struct Src<'a> {
    pub desc: &'a TensorDesc,
    pub bytes: &'a [u8],
}

/// The output tensor, writable.
pub(crate) struct Dst<'a> {
    pub desc: &'a TensorDesc,
    pub bytes: &'a mut [u8],
}

/// Borrow an input. Absent optional operands give `None`.
pub(crate) fn src<'a>(s: &'a Storage, t: &'a TensorDesc) -> Result<Option<Src<'a>>> {
    if t.is_none() {
        return Ok(None);
    }
    // SAFETY: `validate_op` guarantees the output does not overlap any input,
    // and inputs are only read, so no `&mut` aliases these bytes.
    let bytes = unsafe { s.tensor(t) }?;
    Ok(Some(Src { desc: t, bytes }))
}

/// Borrow a required input.
pub(crate) fn input<'a>(s: &'a Storage, t: &'a TensorDesc) -> Result<Src<'a>> {
    src(s, t)?.ok_or_else(|| BackendError::InvalidArgument("missing input".into()))
}

/// Borrow the output.
pub(crate) fn output<'a>(s: &'a Storage, t: &'a TensorDesc) -> Result<Dst<'a>> {
    // SAFETY: the output overlaps no input (`validate_op`), and only one
    // output is borrowed per op.
    let bytes = unsafe { s.tensor_mut(t) }?;
    Ok(Dst { desc: t, bytes })
}

impl Src<'_> {
    pub fn dtype(&self) -> DType {
        self.desc.dtype().expect("validated dtype")
    }

    /// All elements of a contiguous F32/F16/BF16 tensor as f32.
    pub fn to_f32(&self) -> Vec<f32> {
        let n = self.desc.elements().unwrap_or(0) as usize;
        let mut out = vec![0f32; n];
        // Contiguous plain types: one "row" of n elements.
        crate::quant::dequantize_row(
            self.dtype(),
            &self.bytes[..self.dtype().row_bytes(n as u64).unwrap_or(0) as usize],
            &mut out,
        )
        .expect("validated contiguous float tensor");
        out
    }

    /// All elements of a contiguous I32 tensor.
    pub fn to_i32(&self) -> Vec<i32> {
        let n = self.desc.elements().unwrap_or(0) as usize;
        self.bytes[..n * 4].chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    }

    /// The bytes of row `r` (all dims but the first flattened) of a
    /// contiguous tensor.
    pub fn row_bytes(&self, r: usize) -> &[u8] {
        let rb = self.desc.nb[1] as usize;
        &self.bytes[r * rb..r * rb + self.dtype().row_bytes(self.desc.ne[0] as u64).unwrap_or(0) as usize]
    }
}

impl Dst<'_> {
    /// Write all elements of a contiguous F32 output.
    pub fn write_f32(&mut self, vals: &[f32]) {
        put_f32(self.bytes, vals);
    }

    /// Write all elements of a contiguous I32 output.
    pub fn write_i32(&mut self, vals: &[i32]) {
        for (c, v) in self.bytes.chunks_exact_mut(4).zip(vals) {
            c.copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// Store `vals` little-endian at the start of `bytes` (as many as fit).
pub(crate) fn put_f32(bytes: &mut [u8], vals: &[f32]) {
    for (c, v) in bytes.chunks_exact_mut(4).zip(vals) {
        c.copy_from_slice(&v.to_le_bytes());
    }
}

/// An `InvalidArgument` error naming the op.
pub(crate) fn invalid(op: &str, msg: impl std::fmt::Display) -> BackendError {
    BackendError::InvalidArgument(format!("{op}: {msg}"))
}

/// A (de)quantization failure: validation rules these out, so reaching one is
/// a bug in this crate, reported rather than panicking.
pub(crate) fn quant_failure(op: &str, e: crate::quant::QuantError) -> BackendError {
    BackendError::Internal(format!("{op}: {e}"))
}

/// `n` as usize for a dimension that validation has proven non-negative.
pub(crate) fn dim(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}
