//! The one error type of the GGUF reader and writer.
//!
//! Every variant says where (byte offset, metadata key or tensor name) and
//! what was expected, so a message about a broken model file can be acted on
//! without a hex dump.

use std::io;
use std::path::PathBuf;

use rocmforge_backend_api::DType;

/// An error reading, querying or writing a GGUF file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    /// Opening, mapping or creating the file at `path` failed.
    #[error("GGUF file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// Writing a GGUF stream failed.
    #[error("writing GGUF: {0}")]
    Write(#[source] io::Error),

    /// A fixed-size field at `offset` needs `needed` bytes, but the file is
    /// only `file_len` bytes long.
    #[error("GGUF truncated: {needed} bytes needed at offset {offset}, file is {file_len} bytes")]
    Truncated { offset: u64, needed: u64, file_len: u64 },

    /// The file does not start with the bytes `GGUF`.
    #[error("not a GGUF file: magic is \"{}\", expected \"GGUF\"", found.escape_ascii())]
    BadMagic { found: [u8; 4] },

    /// A GGUF version this reader does not read (it reads 2 and 3).
    #[error("unsupported GGUF version {0} (supported: 2 and 3)")]
    UnsupportedVersion(u32),

    /// The version field reads as a supported version only byte-swapped: a
    /// big-endian GGUF file, which this little-endian reader does not read.
    #[error("big-endian GGUF file (version {version}); only little-endian GGUF is supported")]
    BigEndian { version: u32 },

    /// A count (`what`: "tensors", "metadata entries", "array elements") read
    /// at `offset` cannot fit: even at `min_bytes_each` bytes per item it needs
    /// more than the `remaining` bytes of the file.
    #[error(
        "GGUF {what} count {count} at offset {offset} cannot fit: \
         {min_bytes_each} bytes each, {remaining} bytes remain"
    )]
    CountTooLarge { what: &'static str, offset: u64, count: u64, min_bytes_each: u64, remaining: u64 },

    /// A string length read at `offset` exceeds the `remaining` bytes.
    #[error("GGUF string at offset {offset} claims {len} bytes, {remaining} bytes remain")]
    StringTooLong { offset: u64, len: u64, remaining: u64 },

    /// The string whose bytes start at `offset` is not UTF-8.
    #[error("GGUF string at offset {offset} is not valid UTF-8")]
    InvalidUtf8 { offset: u64 },

    /// A bool at `offset` is neither 0 nor 1.
    #[error("GGUF bool at offset {offset} has value {value} (expected 0 or 1)")]
    InvalidBool { offset: u64, value: u8 },

    /// A metadata value type id at `offset` is not one of GGUF's 13 types.
    #[error("unknown GGUF value type {type_id} at offset {offset}")]
    UnknownValueType { offset: u64, type_id: u32 },

    /// The value of `key` nests arrays deeper than `max_depth` (at `offset`).
    #[error("metadata `{key}`: arrays nested deeper than {max_depth} (at offset {offset})")]
    NestingTooDeep { key: String, offset: u64, max_depth: usize },

    /// The same metadata key appears twice.
    #[error("duplicate GGUF metadata key `{key}`")]
    DuplicateKey { key: String },

    /// The same tensor name appears twice.
    #[error("duplicate GGUF tensor `{name}`")]
    DuplicateTensor { name: String },

    /// `general.alignment` is zero or not a power of two.
    #[error("general.alignment is {alignment}; it must be a non-zero power of two")]
    BadAlignment { alignment: u64 },

    /// Arithmetic on file positions (`what`) overflowed at `offset`.
    #[error("GGUF offset arithmetic overflowed: {what} at offset {offset}")]
    Overflow { what: &'static str, offset: u64 },

    /// A tensor has more dimensions than ggml's 4.
    #[error("tensor `{name}` has {n_dims} dimensions (at most {max})")]
    TooManyDims { name: String, n_dims: u32, max: u32 },

    /// A tensor's dims overflow: the product of its non-zero dims exceeds
    /// `i64::MAX` (ggml's limit), or its byte size overflows u64.
    #[error("tensor `{name}` dims {dims:?} overflow its element count or byte size")]
    DimsOverflow { name: String, dims: Vec<u64> },

    /// A tensor's type id is not one this engine knows (`DType::from_ggml`).
    #[error("tensor `{name}` has unknown ggml type id {type_id}")]
    UnknownTensorType { name: String, type_id: u32 },

    /// A tensor's row length (`ne0`) is not a whole number of `dtype` blocks.
    #[error("tensor `{name}`: row length {ne0} is not a multiple of {dtype}'s block length {block_len}")]
    RowNotBlockAligned { name: String, ne0: u64, dtype: DType, block_len: u64 },

    /// A tensor's data offset (relative to the data section) is not a
    /// multiple of the file's alignment.
    #[error("tensor `{name}`: data offset {offset} is not a multiple of the alignment {alignment}")]
    MisalignedTensor { name: String, offset: u64, alignment: u64 },

    /// A tensor's bytes `[offset, offset + size)` (relative to the data
    /// section) do not lie inside the `data_len` bytes of the data section.
    #[error(
        "tensor `{name}`: data [{offset}, {offset} + {size}) lies outside the \
         {data_len}-byte data section"
    )]
    TensorOutOfBounds { name: String, offset: u64, size: u64, data_len: u64 },

    /// No tensor of that name.
    #[error("no GGUF tensor `{name}`")]
    TensorNotFound { name: String },

    /// No metadata entry with that key.
    #[error("GGUF metadata key `{key}` not found")]
    KeyNotFound { key: String },

    /// The value of `key` has the wrong type.
    #[error("GGUF metadata `{key}`: expected {expected}, found {found}")]
    KeyType { key: String, expected: &'static str, found: String },

    /// The integer value of `key` (or an element of it) does not fit the
    /// requested type.
    #[error("GGUF metadata `{key}`: value {value} does not fit in {target}")]
    IntOutOfRange { key: String, value: i128, target: &'static str },

    /// Writer: the bytes given for a tensor do not match its dims and type.
    #[error("tensor `{name}`: {found} bytes given, dims and type need {expected}")]
    TensorSizeMismatch { name: String, expected: u64, found: u64 },

    /// Writer: a value nests arrays deeper than the reader accepts.
    #[error("metadata `{key}`: arrays nested deeper than {max_depth}")]
    ValueTooDeep { key: String, max_depth: usize },
}

/// `Result` with [`GgufError`].
pub type Result<T, E = GgufError> = std::result::Result<T, E>;
