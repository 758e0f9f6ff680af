//! Element types of tensors, numbered as GGUF/ggml number them.
//!
//! Quantized types keep ggml's block layout byte for byte, so GGUF weights are
//! handed to a backend as they lie in the file.

use std::fmt;

/// A tensor element type. The discriminants are ggml's `ggml_type` values, so
/// a GGUF tensor-info type id converts with [`DType::from_ggml`] and the
/// number crosses the C ABI unchanged.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q2K = 10,
    Q3K = 11,
    Q4K = 12,
    Q5K = 13,
    Q6K = 14,
    I32 = 26,
    BF16 = 30,
}

impl DType {
    /// Every type, in discriminant order.
    pub const ALL: [DType; 14] = [
        DType::F32,
        DType::F16,
        DType::Q4_0,
        DType::Q4_1,
        DType::Q5_0,
        DType::Q5_1,
        DType::Q8_0,
        DType::Q2K,
        DType::Q3K,
        DType::Q4K,
        DType::Q5K,
        DType::Q6K,
        DType::I32,
        DType::BF16,
    ];

    /// The weight types `matmul` and `get_rows` accept.
    pub const WEIGHTS: [DType; 13] = [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::Q4_0,
        DType::Q4_1,
        DType::Q5_0,
        DType::Q5_1,
        DType::Q8_0,
        DType::Q2K,
        DType::Q3K,
        DType::Q4K,
        DType::Q5K,
        DType::Q6K,
    ];

    /// The type with ggml id `id`, or `None` for ids this engine does not know.
    pub fn from_ggml(id: u32) -> Option<DType> {
        DType::ALL.into_iter().find(|t| *t as u32 == id)
    }

    /// ggml's name for the type (`"q4_K"`, `"f16"`), as llama.cpp prints it.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::Q4_0 => "q4_0",
            DType::Q4_1 => "q4_1",
            DType::Q5_0 => "q5_0",
            DType::Q5_1 => "q5_1",
            DType::Q8_0 => "q8_0",
            DType::Q2K => "q2_K",
            DType::Q3K => "q3_K",
            DType::Q4K => "q4_K",
            DType::Q5K => "q5_K",
            DType::Q6K => "q6_K",
            DType::I32 => "i32",
        }
    }

    /// Elements per block: 1 for plain types, 32 for the legacy quants, 256
    /// for the K-quants (ggml's `QK_K`).
    pub fn block_len(self) -> usize {
        match self {
            DType::F32 | DType::F16 | DType::BF16 | DType::I32 => 1,
            DType::Q4_0 | DType::Q4_1 | DType::Q5_0 | DType::Q5_1 | DType::Q8_0 => 32,
            DType::Q2K | DType::Q3K | DType::Q4K | DType::Q5K | DType::Q6K => 256,
        }
    }

    /// Bytes per block (ggml's `type_size`); for plain types, bytes per element.
    pub fn block_bytes(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::Q4_0 => 18, // f16 d + 16 bytes of nibbles
            DType::Q4_1 => 20, // f16 d, f16 m + 16
            DType::Q5_0 => 22, // f16 d + u32 high bits + 16
            DType::Q5_1 => 24, // f16 d, f16 m + u32 + 16
            DType::Q8_0 => 34, // f16 d + 32 i8
            DType::Q2K => 84,  // 16 scales + 64 quants + f16 d, dmin
            DType::Q3K => 110, // 32 hmask + 64 quants + 12 scales + f16 d
            DType::Q4K => 144, // f16 d, dmin + 12 scales + 128 quants
            DType::Q5K => 176, // f16 d, dmin + 12 scales + 32 qh + 128 quants
            DType::Q6K => 210, // 128 ql + 64 qh + 16 scales + f16 d
        }
    }

    pub fn is_quantized(self) -> bool {
        self.block_len() > 1
    }

    /// Bytes taken by a row of `n` elements, or `None` when `n` is not a whole
    /// number of blocks (or overflows).
    pub fn row_bytes(self, n: u64) -> Option<u64> {
        let bl = self.block_len() as u64;
        if !n.is_multiple_of(bl) {
            return None;
        }
        (n / bl).checked_mul(self.block_bytes() as u64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ggml_ids_round_trip_and_unknown_ids_are_rejected() {
        for t in DType::ALL {
            assert_eq!(DType::from_ggml(t as u32), Some(t));
        }
        // Q8_1 (9) and Q8_K (15) are ggml-internal activation types.
        assert_eq!(DType::from_ggml(9), None);
        assert_eq!(DType::from_ggml(15), None);
    }

    #[test]
    fn row_bytes_requires_whole_blocks() {
        assert_eq!(DType::Q4_0.row_bytes(64), Some(36));
        assert_eq!(DType::Q4K.row_bytes(512), Some(288));
        assert_eq!(DType::Q4K.row_bytes(300), None);
        assert_eq!(DType::F16.row_bytes(7), Some(14));
    }
}
