//! A tensor's entry in the GGUF header: name, shape, element type and where
//! its bytes lie.

use rocmforge_backend_api::DType;

use super::error::{GgufError, Result};

/// ggml's `GGML_MAX_DIMS`: GGUF tensors have at most 4 dimensions.
pub const MAX_DIMS: u32 = 4;

/// One tensor of a GGUF file, as validated by the reader: its bytes lie
/// inside the file's data section, at an aligned offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub(crate) name: String,
    pub(crate) dims: Vec<u64>,
    pub(crate) dtype: DType,
    pub(crate) offset: u64,
    pub(crate) n_bytes: u64,
    pub(crate) file_offset: u64,
}

impl TensorInfo {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The dimensions (ggml's `ne`), innermost first as GGUF stores them:
    /// `dims()[0]` is the row length. Empty for a scalar.
    pub fn dims(&self) -> &[u64] {
        &self.dims
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Offset of the tensor's bytes from the start of the data section, as
    /// stored in the file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Offset of the tensor's bytes from the start of the file
    /// (`data_offset + offset`).
    pub fn file_offset(&self) -> u64 {
        self.file_offset
    }

    /// Size of the tensor's data in bytes.
    pub fn n_bytes(&self) -> u64 {
        self.n_bytes
    }

    /// Number of elements (1 for a scalar).
    pub fn n_elements(&self) -> u64 {
        // The product of the non-zero dims was checked to fit i64.
        self.dims.iter().product()
    }

    /// Elements per row: `dims()[0]`, or 1 for a scalar.
    pub fn row_len(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }

    /// Number of rows: the product of every dimension but the first.
    pub fn n_rows(&self) -> u64 {
        self.dims.iter().skip(1).product()
    }
}

/// The byte size of a `dtype` tensor with dimensions `dims` (innermost first),
/// checking everything the reader checks: at most [`MAX_DIMS`] dimensions,
/// the product of the non-zero dims at most `i64::MAX` (so no product of
/// dims overflows), no overflow of the byte size, and a row length that is
/// a whole number of blocks.
pub(crate) fn tensor_n_bytes(name: &str, dims: &[u64], dtype: DType) -> Result<u64> {
    if dims.len() > MAX_DIMS as usize {
        return Err(GgufError::TooManyDims {
            name: name.to_owned(),
            n_dims: u32::try_from(dims.len()).unwrap_or(u32::MAX),
            max: MAX_DIMS,
        });
    }
    let overflow = || GgufError::DimsOverflow { name: name.to_owned(), dims: dims.to_vec() };
    // ggml keeps dims and element counts in int64_t. The product of the
    // non-zero dims must fit it, so that the product of any subset of the
    // dims, in any order, fits too (`[2^40, 2^40, 0]` has 0 elements, but
    // multiplying its first two dims overflows).
    let mut nonzero_product: u64 = 1;
    for &d in dims.iter().filter(|&&d| d != 0) {
        nonzero_product = nonzero_product.checked_mul(d).filter(|&p| p <= i64::MAX as u64).ok_or_else(overflow)?;
    }
    let ne0 = dims.first().copied().unwrap_or(1);
    let n_rows: u64 = dims.iter().skip(1).product();
    let block_len = dtype.block_len() as u64;
    if ne0 % block_len != 0 {
        return Err(GgufError::RowNotBlockAligned { name: name.to_owned(), ne0, dtype, block_len });
    }
    let row_bytes = dtype.row_bytes(ne0).ok_or_else(overflow)?;
    row_bytes.checked_mul(n_rows).ok_or_else(overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(tensor_n_bytes("t", &[4, 3], DType::F32).unwrap(), 48);
        assert_eq!(tensor_n_bytes("t", &[256, 2], DType::Q4K).unwrap(), 288);
        assert_eq!(tensor_n_bytes("t", &[], DType::F16).unwrap(), 2);
        assert_eq!(tensor_n_bytes("t", &[0, 5], DType::F16).unwrap(), 0);
    }

    #[test]
    fn rejects() {
        assert!(matches!(
            tensor_n_bytes("t", &[1, 1, 1, 1, 1], DType::F32),
            Err(GgufError::TooManyDims { n_dims: 5, .. })
        ));
        assert!(matches!(tensor_n_bytes("t", &[1 << 32, 1 << 32], DType::F32), Err(GgufError::DimsOverflow { .. })));
        assert!(matches!(tensor_n_bytes("t", &[1 << 62], DType::F32), Err(GgufError::DimsOverflow { .. })));
        assert!(matches!(tensor_n_bytes("t", &[u64::MAX], DType::F32), Err(GgufError::DimsOverflow { .. })));
        // No elements, but the first two dims multiply past i64.
        assert!(matches!(tensor_n_bytes("t", &[1 << 40, 1 << 40, 0], DType::F32), Err(GgufError::DimsOverflow { .. })));
        assert!(matches!(
            tensor_n_bytes("t", &[33], DType::Q8_0),
            Err(GgufError::RowNotBlockAligned { ne0: 33, block_len: 32, .. })
        ));
    }
}
