//! The GGUF parser and [`GgufFile`], a parsed file over its memory map.
//!
//! The parser treats the file as hostile: every count, length and offset is
//! checked against the bytes that remain before anything is allocated for it,
//! all arithmetic on positions is checked, and array nesting is capped, so a
//! broken or malicious header yields a [`GgufError`], never a panic, an
//! out-of-bounds read or an allocation larger than a small multiple of the
//! file's size.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::path::Path;

use memmap2::Mmap;
use rocmforge_backend_api::DType;

use super::error::{GgufError, Result};
use super::tensor_info::{tensor_n_bytes, TensorInfo, MAX_DIMS};
use super::value::{conv, Array, Value, ValueType, MAX_ARRAY_DEPTH};

/// The first four bytes of every GGUF file.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";

/// The metadata key that sets the data section's alignment.
pub const ALIGNMENT_KEY: &str = "general.alignment";

/// Alignment of the data section when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// Fewest bytes a metadata entry takes: key length, empty key, value type,
/// a one-byte value.
const MIN_KV_BYTES: u64 = 8 + 4 + 1;

/// Fewest bytes a tensor info takes: name length, empty name, `n_dims`
/// (0 dims), type, offset.
const MIN_TENSOR_INFO_BYTES: u64 = 8 + 4 + 4 + 8;

enum Storage {
    Mmap(Mmap),
    Owned(Vec<u8>),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Mmap(m) => m,
            Storage::Owned(v) => v,
        }
    }
}

/// A parsed GGUF file (version 2 or 3, little-endian): its metadata, its
/// tensor infos and the bytes they point into.
///
/// The bytes are a read-only memory map ([`GgufFile::open`]) or a buffer in
/// memory ([`GgufFile::from_bytes`]). Tensor data is never copied:
/// [`GgufFile::tensor_data`] returns slices of the bytes, and a backend may
/// wrap the whole of [`GgufFile::as_bytes`] once and address tensors by
/// [`TensorInfo::file_offset`].
pub struct GgufFile {
    storage: Storage,
    header: Header,
}

/// What the parser reads from the bytes.
struct Header {
    version: u32,
    metadata: Vec<(String, Value)>,
    key_index: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
    alignment: u64,
    data_offset: u64,
}

/// Defines `get_X` (error when absent) and `get_X_opt` (`Ok(None)` when
/// absent) over a conversion from `value::conv`.
macro_rules! accessors {
    ($($(#[$doc:meta])* $name:ident, $opt:ident -> $t:ty = $conv:path;)*) => {$(
        $(#[$doc])*
        ///
        /// Errors: [`GgufError::KeyNotFound`] when absent,
        /// [`GgufError::KeyType`] (or [`GgufError::IntOutOfRange`]) when the
        /// value does not convert.
        pub fn $name(&self, key: &str) -> Result<$t> {
            self.$opt(key)?.ok_or_else(|| GgufError::KeyNotFound { key: key.to_owned() })
        }

        #[doc = concat!(
            "Like [`GgufFile::", stringify!($name), "`], but `Ok(None)` when the key is absent."
        )]
        pub fn $opt(&self, key: &str) -> Result<Option<$t>> {
            self.get(key).map(|v| $conv(key, v)).transpose()
        }
    )*};
}

impl GgufFile {
    /// Memory-maps and parses the GGUF file at `path`.
    ///
    /// The file is mapped read-only and must not be truncated or modified
    /// while the returned `GgufFile` (or any slice borrowed from it) is alive:
    /// a truncated mapping faults (SIGBUS) on access, and a modified one
    /// changes bytes the parser has already validated. Model files are
    /// written once and then only read, which is what this relies on.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile> {
        let path = path.as_ref();
        let io = |source| GgufError::Io { path: path.to_owned(), source };
        let file = File::open(path).map_err(io)?;
        // SAFETY: the map is read-only (PROT_READ; this process never
        // writes through it), so our own accesses cannot alias a mutation.
        // The remaining hazard, another process truncating or rewriting the
        // file while it is mapped (a shared mapping sees such changes, and
        // reading a truncated page raises SIGBUS), cannot be excluded by any
        // API; the documented contract of `open` is that the file is not
        // modified while the `GgufFile` lives.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        let header = parse(&map)?;
        Ok(GgufFile { storage: Storage::Mmap(map), header })
    }

    /// Parses a GGUF file held in memory.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<GgufFile> {
        let bytes = bytes.into();
        let header = parse(&bytes)?;
        Ok(GgufFile { storage: Storage::Owned(bytes), header })
    }

    /// The GGUF version: 2 or 3.
    pub fn version(&self) -> u32 {
        self.header.version
    }

    /// The data section's alignment: `general.alignment`, or 32.
    pub fn alignment(&self) -> u64 {
        self.header.alignment
    }

    /// The offset of the data section from the start of the file. Tensor
    /// offsets are relative to it. For a file without tensors it may equal
    /// or (when the file omits the final padding) exceed the file's length.
    pub fn data_offset(&self) -> u64 {
        self.header.data_offset
    }

    /// The whole file, as mapped or given.
    pub fn as_bytes(&self) -> &[u8] {
        self.storage.bytes()
    }

    /// The data section: the bytes from [`GgufFile::data_offset`] to the end.
    pub fn data_section(&self) -> &[u8] {
        let bytes = self.as_bytes();
        usize::try_from(self.header.data_offset).ok().and_then(|o| bytes.get(o..)).unwrap_or(&[])
    }

    /// Whether the bytes are a memory map of a file.
    pub fn is_mapped(&self) -> bool {
        matches!(self.storage, Storage::Mmap(_))
    }

    // ---- metadata ----

    /// The metadata entries, in file order.
    pub fn metadata(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> + '_ {
        self.header.metadata.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of metadata entries.
    pub fn metadata_len(&self) -> usize {
        self.header.metadata.len()
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let i = *self.header.key_index.get(key)?;
        self.header.metadata.get(i).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.header.key_index.contains_key(key)
    }

    /// The value of `key` converted to the integer type `T`; any integer
    /// type in the file is accepted when the value fits `T` (llama.cpp's
    /// writers vary between u32, i32 and u64 for counts).
    pub fn get_int<T: TryFrom<i128>>(&self, key: &str) -> Result<T> {
        self.get_int_opt(key)?.ok_or_else(|| GgufError::KeyNotFound { key: key.to_owned() })
    }

    /// Like [`GgufFile::get_int`], but `Ok(None)` when the key is absent.
    pub fn get_int_opt<T: TryFrom<i128>>(&self, key: &str) -> Result<Option<T>> {
        self.get(key).map(|v| conv::int(key, v)).transpose()
    }

    /// An array of any integer type, each element converted to `T`.
    pub fn get_int_array<T: TryFrom<i128>>(&self, key: &str) -> Result<Vec<T>> {
        self.get_int_array_opt(key)?.ok_or_else(|| GgufError::KeyNotFound { key: key.to_owned() })
    }

    /// Like [`GgufFile::get_int_array`], but `Ok(None)` when the key is absent.
    pub fn get_int_array_opt<T: TryFrom<i128>>(&self, key: &str) -> Result<Option<Vec<T>>> {
        self.get(key).map(|v| conv::int_array(key, v)).transpose()
    }

    accessors! {
        /// An integer value that fits `u32`, of any integer type.
        get_u32, get_u32_opt -> u32 = conv::int::<u32>;
        /// An integer value that fits `i32`, of any integer type.
        get_i32, get_i32_opt -> i32 = conv::int::<i32>;
        /// An integer value that fits `u64`, of any integer type.
        get_u64, get_u64_opt -> u64 = conv::int::<u64>;
        /// An integer value that fits `i64`, of any integer type.
        get_i64, get_i64_opt -> i64 = conv::int::<i64>;
        /// An integer value that fits `usize`, of any integer type.
        get_usize, get_usize_opt -> usize = conv::int::<usize>;
        /// An `f32` value (an `f64` is rounded to `f32`).
        get_f32, get_f32_opt -> f32 = conv::f32;
        /// An `f64` or `f32` value.
        get_f64, get_f64_opt -> f64 = conv::f64;
        /// A bool value.
        get_bool, get_bool_opt -> bool = conv::bool;
        /// A string value.
        get_str, get_str_opt -> &str = conv::str;
        /// An array value of any element type.
        get_array, get_array_opt -> &Array = conv::array;
        /// An array of strings (a tokenizer's vocabulary, merges).
        get_str_array, get_str_array_opt -> &[String] = conv::str_array;
        /// An array of integers of any type, all fitting `i32` (token types).
        get_i32_array, get_i32_array_opt -> Vec<i32> = conv::int_array::<i32>;
        /// An array of integers of any type, all fitting `u32`.
        get_u32_array, get_u32_array_opt -> Vec<u32> = conv::int_array::<u32>;
        /// An array of `f32` (an array of `f64` is rounded) (token scores).
        get_f32_array, get_f32_array_opt -> Vec<f32> = conv::f32_array;
    }

    // ---- tensors ----

    /// The tensor infos, in file order.
    pub fn tensors(&self) -> std::slice::Iter<'_, TensorInfo> {
        self.header.tensors.iter()
    }

    /// Number of tensors.
    pub fn tensor_count(&self) -> usize {
        self.header.tensors.len()
    }

    /// The tensor named `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        let i = *self.header.tensor_index.get(name)?;
        self.header.tensors.get(i)
    }

    /// The bytes of a tensor of this file, without copying.
    ///
    /// # Panics
    /// If `info` does not come from this file and its range lies outside it.
    pub fn tensor_data(&self, info: &TensorInfo) -> &[u8] {
        self.tensor_range(info)
            .and_then(|r| self.as_bytes().get(r))
            .expect("TensorInfo from another GGUF file: data range outside this file")
    }

    /// The bytes of the tensor named `name`, without copying.
    pub fn tensor_bytes(&self, name: &str) -> Result<&[u8]> {
        let info = self.tensor(name).ok_or_else(|| GgufError::TensorNotFound { name: name.to_owned() })?;
        Ok(self.tensor_data(info))
    }

    fn tensor_range(&self, info: &TensorInfo) -> Option<std::ops::Range<usize>> {
        let start = usize::try_from(info.file_offset).ok()?;
        let len = usize::try_from(info.n_bytes).ok()?;
        Some(start..start.checked_add(len)?)
    }
}

impl fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GgufFile")
            .field("version", &self.header.version)
            .field("len", &self.as_bytes().len())
            .field("mapped", &self.is_mapped())
            .field("metadata", &self.header.metadata.len())
            .field("tensors", &self.header.tensors.len())
            .field("alignment", &self.header.alignment)
            .field("data_offset", &self.header.data_offset)
            .finish()
    }
}

// ---- the parser ----

/// A read position over the file's bytes; every read is bounds-checked.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn offset(&self) -> u64 {
        self.pos as u64
    }

    fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(GgufError::Truncated { offset: self.offset(), needed: n, file_len: self.bytes.len() as u64 });
        }
        // `n <= remaining`, so it fits usize and the range is in bounds.
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.bytes[start..self.pos])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// A count of items of at least `min_bytes_each` bytes, which must all
    /// fit in the remaining bytes.
    fn count(&mut self, what: &'static str, min_bytes_each: u64) -> Result<usize> {
        let offset = self.offset();
        let count = self.u64()?;
        check_count(what, offset, count, min_bytes_each, self.remaining())
    }

    /// A string: u64 length, then UTF-8 bytes.
    fn str(&mut self) -> Result<&'a str> {
        let offset = self.offset();
        let len = self.u64()?;
        if len > self.remaining() {
            return Err(GgufError::StringTooLong { offset, len, remaining: self.remaining() });
        }
        let start = self.offset();
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| GgufError::InvalidUtf8 { offset: start })
    }

    fn value_type(&mut self) -> Result<ValueType> {
        let offset = self.offset();
        let type_id = self.u32()?;
        ValueType::from_id(type_id).ok_or(GgufError::UnknownValueType { offset, type_id })
    }

    fn bool(&mut self) -> Result<bool> {
        let offset = self.offset();
        let [b] = self.array()?;
        to_bool(offset, b)
    }

    /// A value of type `ty` of metadata entry `key`.
    fn value(&mut self, ty: ValueType, key: &str) -> Result<Value> {
        Ok(match ty {
            ValueType::U8 => Value::U8(u8::from_le_bytes(self.array()?)),
            ValueType::I8 => Value::I8(i8::from_le_bytes(self.array()?)),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array()?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array()?)),
            ValueType::U32 => Value::U32(u32::from_le_bytes(self.array()?)),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array()?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array()?)),
            ValueType::Bool => Value::Bool(self.bool()?),
            ValueType::String => Value::String(self.str()?.to_owned()),
            ValueType::Array => Value::Array(self.array_value(key, 1)?),
            ValueType::U64 => Value::U64(u64::from_le_bytes(self.array()?)),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array()?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array()?)),
        })
    }

    /// An array (element type, length, elements) at nesting depth `depth`
    /// (1 for an array that is a metadata value).
    fn array_value(&mut self, key: &str, depth: usize) -> Result<Array> {
        if depth > MAX_ARRAY_DEPTH {
            return Err(GgufError::NestingTooDeep {
                key: key.to_owned(),
                offset: self.offset(),
                max_depth: MAX_ARRAY_DEPTH,
            });
        }
        let ty = self.value_type()?;
        let n = self.count("array element", ty.min_encoded_len())?;
        // `check_count` made `n * min_encoded_len <= remaining`: the byte
        // counts below cannot overflow and the allocations are bounded by the
        // file's size.
        let size = ty.min_encoded_len() * n as u64;
        Ok(match ty {
            ValueType::U8 => Array::U8(self.take(size)?.to_vec()),
            ValueType::I8 => Array::I8(self.take(size)?.iter().map(|&b| b as i8).collect()),
            ValueType::U16 => Array::U16(le_elems(self.take(size)?, u16::from_le_bytes)),
            ValueType::I16 => Array::I16(le_elems(self.take(size)?, i16::from_le_bytes)),
            ValueType::U32 => Array::U32(le_elems(self.take(size)?, u32::from_le_bytes)),
            ValueType::I32 => Array::I32(le_elems(self.take(size)?, i32::from_le_bytes)),
            ValueType::F32 => Array::F32(le_elems(self.take(size)?, f32::from_le_bytes)),
            ValueType::U64 => Array::U64(le_elems(self.take(size)?, u64::from_le_bytes)),
            ValueType::I64 => Array::I64(le_elems(self.take(size)?, i64::from_le_bytes)),
            ValueType::F64 => Array::F64(le_elems(self.take(size)?, f64::from_le_bytes)),
            ValueType::Bool => {
                let start = self.offset();
                let bytes = self.take(size)?;
                let bools = bytes
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| to_bool(start + i as u64, b))
                    .collect::<Result<Vec<bool>>>()?;
                Array::Bool(bools)
            }
            ValueType::String => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.str()?.to_owned());
                }
                Array::String(v)
            }
            ValueType::Array => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.array_value(key, depth + 1)?);
                }
                Array::Array(v)
            }
        })
    }

    /// One tensor info: name, n_dims, dims, type, offset. Checks the shape
    /// and type; the data range is checked once the data section is known.
    fn tensor_info(&mut self) -> Result<TensorInfo> {
        let name = self.str()?.to_owned();
        let n_dims = self.u32()?;
        if n_dims > MAX_DIMS {
            return Err(GgufError::TooManyDims { name, n_dims, max: MAX_DIMS });
        }
        let dims: Vec<u64> = le_elems(self.take(8 * u64::from(n_dims))?, u64::from_le_bytes);
        let type_id = self.u32()?;
        let offset = self.u64()?;
        let dtype = DType::from_ggml(type_id).ok_or(GgufError::UnknownTensorType { name: name.clone(), type_id })?;
        let n_bytes = tensor_n_bytes(&name, &dims, dtype)?;
        Ok(TensorInfo { name, dims, dtype, offset, n_bytes, file_offset: 0 })
    }
}

fn check_count(what: &'static str, offset: u64, count: u64, min_bytes_each: u64, remaining: u64) -> Result<usize> {
    let fits = count.checked_mul(min_bytes_each).is_some_and(|b| b <= remaining);
    // `count <= remaining <= usize::MAX` once it fits (min_bytes_each >= 1).
    match usize::try_from(count) {
        Ok(n) if fits => Ok(n),
        _ => Err(GgufError::CountTooLarge { what, offset, count, min_bytes_each, remaining }),
    }
}

fn to_bool(offset: u64, value: u8) -> Result<bool> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        value => Err(GgufError::InvalidBool { offset, value }),
    }
}

/// Little-endian elements of `N` bytes; `bytes.len()` is a multiple of `N`.
fn le_elems<T, const N: usize>(bytes: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            f(a)
        })
        .collect()
}

/// `x` rounded up to a multiple of `align` (a power of two), or `None` on
/// overflow.
pub(crate) fn align_up(x: u64, align: u64) -> Option<u64> {
    debug_assert!(align.is_power_of_two());
    Some(x.checked_add(align - 1)? & !(align - 1))
}

/// Reads `general.alignment` from a value, checking it is a non-zero power of
/// two that fits u32.
pub(crate) fn alignment_from(value: Option<&Value>) -> Result<u64> {
    let Some(v) = value else {
        return Ok(DEFAULT_ALIGNMENT);
    };
    let alignment: u32 = conv::int(ALIGNMENT_KEY, v)?;
    if !alignment.is_power_of_two() {
        return Err(GgufError::BadAlignment { alignment: alignment.into() });
    }
    Ok(alignment.into())
}

fn parse(bytes: &[u8]) -> Result<Header> {
    let mut c = Cursor { bytes, pos: 0 };

    let magic: [u8; 4] = c.array()?;
    if magic != GGUF_MAGIC {
        return Err(GgufError::BadMagic { found: magic });
    }
    let version = c.u32()?;
    match version {
        2 | 3 => {}
        v if (1..=3).contains(&v.swap_bytes()) => return Err(GgufError::BigEndian { version: v.swap_bytes() }),
        v => return Err(GgufError::UnsupportedVersion(v)),
    }
    let tensor_count_offset = c.offset();
    let tensor_count = c.u64()?;
    let kv_count = c.count("metadata entry", MIN_KV_BYTES)?;
    // Both sections follow: reject an impossible tensor count before reading
    // the metadata (it is checked again, exactly, where the infos start).
    check_count("tensor", tensor_count_offset, tensor_count, MIN_TENSOR_INFO_BYTES, c.remaining())?;

    let mut metadata = Vec::with_capacity(kv_count);
    let mut key_index = HashMap::with_capacity(kv_count);
    for i in 0..kv_count {
        let key = c.str()?;
        if key_index.contains_key(key) {
            return Err(GgufError::DuplicateKey { key: key.to_owned() });
        }
        let ty = c.value_type()?;
        let value = c.value(ty, key)?;
        key_index.insert(key.to_owned(), i);
        metadata.push((key.to_owned(), value));
    }
    let alignment = alignment_from(key_index.get(ALIGNMENT_KEY).map(|&i| &metadata[i].1))?;

    let n_tensors = check_count("tensor", tensor_count_offset, tensor_count, MIN_TENSOR_INFO_BYTES, c.remaining())?;
    let mut tensors = Vec::with_capacity(n_tensors);
    let mut tensor_index = HashMap::with_capacity(n_tensors);
    for i in 0..n_tensors {
        let info = c.tensor_info()?;
        if tensor_index.contains_key(&info.name) {
            return Err(GgufError::DuplicateTensor { name: info.name });
        }
        tensor_index.insert(info.name.clone(), i);
        tensors.push(info);
    }

    let header_end = c.offset();
    let data_offset = align_up(header_end, alignment)
        .ok_or(GgufError::Overflow { what: "data section start", offset: header_end })?;
    let file_len = bytes.len() as u64;
    let data_len = file_len.saturating_sub(data_offset);
    for t in &mut tensors {
        if t.offset % alignment != 0 {
            return Err(GgufError::MisalignedTensor { name: t.name.clone(), offset: t.offset, alignment });
        }
        let start = data_offset.checked_add(t.offset);
        let end = start.and_then(|s| s.checked_add(t.n_bytes));
        match (start, end) {
            (Some(start), Some(end)) if end <= file_len => t.file_offset = start,
            _ => {
                return Err(GgufError::TensorOutOfBounds {
                    name: t.name.clone(),
                    offset: t.offset,
                    size: t.n_bytes,
                    data_len,
                })
            }
        }
    }

    Ok(Header { version, metadata, key_index, tensors, tensor_index, alignment, data_offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_up_rounds_and_overflows() {
        assert_eq!(align_up(0, 32), Some(0));
        assert_eq!(align_up(1, 32), Some(32));
        assert_eq!(align_up(64, 32), Some(64));
        assert_eq!(align_up(u64::MAX - 3, 32), None);
    }

    #[test]
    fn check_count_rejects_overflowing_products() {
        assert!(check_count("x", 0, u64::MAX, 2, u64::MAX).is_err());
        assert!(check_count("x", 0, 1 << 60, 1, 100).is_err());
        assert_eq!(check_count("x", 0, 10, 10, 100).unwrap(), 10);
    }

    #[test]
    fn empty_and_short_inputs_are_truncated() {
        for len in 0..4 {
            assert!(matches!(parse(&b"GGUF"[..len]), Err(GgufError::Truncated { offset: 0, needed: 4, .. })));
        }
    }
}
