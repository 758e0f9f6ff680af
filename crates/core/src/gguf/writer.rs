//! A GGUF v3 writer: metadata of any type (nested arrays included) and
//! tensors given as (name, type, dims, bytes), laid out as llama.cpp lays
//! them out: header, metadata, tensor infos, padding to the alignment, then
//! each tensor's bytes padded to the alignment.
//!
//! Files too big to hold in memory are streamed: declare tensors with
//! [`GgufWriter::add_tensor_info`], write [`GgufWriter::write_header`], then
//! each tensor's bytes in order with [`GgufWriter::write_tensor_data`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rocmforge_backend_api::DType;

use super::error::{GgufError, Result};
use super::reader::{align_up, alignment_from, GgufFile, ALIGNMENT_KEY, GGUF_MAGIC};
use super::tensor_info::tensor_n_bytes;
use super::value::{Array, Value, MAX_ARRAY_DEPTH};

/// The version this writer writes.
pub const GGUF_WRITE_VERSION: u32 = 3;

struct PendingTensor<'a> {
    name: String,
    dtype: DType,
    dims: Vec<u64>,
    n_bytes: u64,
    /// None: declared only, its bytes streamed by the caller.
    data: Option<Cow<'a, [u8]>>,
}

/// Builds a GGUF v3 file. Tensor bytes are borrowed (`&'a [u8]`) or owned
/// (`Vec<u8>`); nothing is written until [`GgufWriter::write_to`].
///
/// The data section is aligned to `general.alignment` when that key is set
/// (any integer type; it must be a non-zero power of two fitting u32),
/// otherwise to 32 bytes.
#[derive(Default)]
pub struct GgufWriter<'a> {
    metadata: Vec<(String, Value)>,
    key_index: HashMap<String, usize>,
    tensors: Vec<PendingTensor<'a>>,
    tensor_names: HashSet<String>,
}

impl<'a> GgufWriter<'a> {
    pub fn new() -> GgufWriter<'a> {
        GgufWriter::default()
    }

    /// A writer holding all of `file`'s metadata and tensors (tensor bytes
    /// borrowed), to copy or edit a model.
    pub fn from_gguf(file: &'a GgufFile) -> Result<GgufWriter<'a>> {
        let mut w = GgufWriter::new();
        for (k, v) in file.metadata() {
            w.add_metadata(k, v.clone())?;
        }
        for t in file.tensors() {
            w.add_tensor(t.name(), t.dtype(), t.dims(), file.tensor_data(t))?;
        }
        Ok(w)
    }

    /// Adds a metadata entry. Errors on a key already added
    /// ([`GgufError::DuplicateKey`]) or a value nesting arrays deeper than
    /// the reader accepts ([`GgufError::ValueTooDeep`]).
    pub fn add_metadata(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Result<&mut Self> {
        let key = key.into();
        if self.key_index.contains_key(&key) {
            return Err(GgufError::DuplicateKey { key });
        }
        let value = check_depth(&key, value.into())?;
        self.key_index.insert(key.clone(), self.metadata.len());
        self.metadata.push((key, value));
        Ok(self)
    }

    /// Sets a metadata entry, replacing the value (in place) of a key
    /// already added.
    pub fn set_metadata(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Result<&mut Self> {
        let key = key.into();
        let value = check_depth(&key, value.into())?;
        match self.key_index.get(&key) {
            Some(&i) => self.metadata[i].1 = value,
            None => {
                self.key_index.insert(key.clone(), self.metadata.len());
                self.metadata.push((key, value));
            }
        }
        Ok(self)
    }

    /// Removes a metadata entry, returning its value.
    pub fn remove_metadata(&mut self, key: &str) -> Option<Value> {
        let i = self.key_index.remove(key)?;
        let (_, v) = self.metadata.remove(i);
        for idx in self.key_index.values_mut() {
            if *idx > i {
                *idx -= 1;
            }
        }
        Some(v)
    }

    /// Adds a tensor: `dims` innermost first (ggml's `ne`), `data` exactly
    /// the bytes the dims and type need. Errors on a name already added, a
    /// bad shape (see [`GgufError::TooManyDims`], [`GgufError::DimsOverflow`],
    /// [`GgufError::RowNotBlockAligned`]) or a wrong byte count
    /// ([`GgufError::TensorSizeMismatch`]).
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        dtype: DType,
        dims: &[u64],
        data: impl Into<Cow<'a, [u8]>>,
    ) -> Result<&mut Self> {
        let name = name.into();
        let data = data.into();
        let expected = tensor_n_bytes(&name, dims, dtype)?;
        if data.len() as u64 != expected {
            return Err(GgufError::TensorSizeMismatch { name, expected, found: data.len() as u64 });
        }
        self.push_tensor(name, dtype, dims, Some(data))
    }

    /// Declares a tensor whose bytes the caller streams after
    /// [`GgufWriter::write_header`] (with [`GgufWriter::write_tensor_data`],
    /// in the order tensors were added). Checks as [`GgufWriter::add_tensor`].
    pub fn add_tensor_info(&mut self, name: impl Into<String>, dtype: DType, dims: &[u64]) -> Result<&mut Self> {
        self.push_tensor(name.into(), dtype, dims, None)
    }

    fn push_tensor(
        &mut self,
        name: String,
        dtype: DType,
        dims: &[u64],
        data: Option<Cow<'a, [u8]>>,
    ) -> Result<&mut Self> {
        if self.tensor_names.contains(&name) {
            return Err(GgufError::DuplicateTensor { name });
        }
        let n_bytes = tensor_n_bytes(&name, dims, dtype)?;
        self.tensor_names.insert(name.clone());
        self.tensors.push(PendingTensor { name, dtype, dims: dims.to_vec(), n_bytes, data });
        Ok(self)
    }

    /// The alignment the file will have.
    pub fn alignment(&self) -> Result<u64> {
        let v = self.key_index.get(ALIGNMENT_KEY).map(|&i| &self.metadata[i].1);
        alignment_from(v)
    }

    /// Writes the file to `w`, returning the number of bytes written.
    /// Every tensor must have its bytes ([`GgufWriter::add_tensor`]).
    pub fn write_to<W: Write>(&self, w: W) -> Result<u64> {
        let alignment = self.alignment()?;
        if let Some(t) = self.tensors.iter().find(|t| t.data.is_none()) {
            return Err(GgufError::TensorSizeMismatch { name: t.name.clone(), expected: t.n_bytes, found: 0 });
        }
        let mut w = Counting { inner: w, pos: 0 };
        self.write_all(&mut w, alignment).map_err(GgufError::Write)?;
        w.inner.flush().map_err(GgufError::Write)?;
        Ok(w.pos)
    }

    /// Writes header, metadata and tensor infos, padded to the alignment:
    /// everything before the first tensor's bytes. Returns the bytes written.
    pub fn write_header<W: Write>(&self, w: W) -> Result<u64> {
        let alignment = self.alignment()?;
        let mut w = Counting { inner: w, pos: 0 };
        self.write_head(&mut w, alignment).map_err(GgufError::Write)?;
        Ok(w.pos)
    }

    /// Writes one tensor's bytes and the padding after them, for files
    /// streamed after [`GgufWriter::write_header`]. Returns the bytes written.
    pub fn write_tensor_data<W: Write>(&self, w: W, data: &[u8]) -> Result<u64> {
        let alignment = self.alignment()?;
        // Every tensor starts aligned, so its own length decides the padding.
        let mut w = Counting { inner: w, pos: 0 };
        w.write_all(data).and_then(|()| w.pad(alignment)).map_err(GgufError::Write)?;
        Ok(w.pos)
    }

    /// Writes the file to `path` (created or truncated).
    pub fn write_to_path(&self, path: impl AsRef<Path>) -> Result<u64> {
        let path = path.as_ref();
        // Validate before touching the file system.
        self.alignment()?;
        let file = File::create(path).map_err(|source| GgufError::Io { path: path.to_owned(), source })?;
        self.write_to(BufWriter::new(file))
    }

    /// The file as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        self.write_to(&mut v)?;
        Ok(v)
    }

    fn write_all<W: Write>(&self, w: &mut Counting<W>, alignment: u64) -> io::Result<()> {
        self.write_head(w, alignment)?;
        for t in &self.tensors {
            w.write_all(t.data.as_deref().unwrap_or_default())?;
            w.pad(alignment)?;
        }
        Ok(())
    }

    fn write_head<W: Write>(&self, w: &mut Counting<W>, alignment: u64) -> io::Result<()> {
        w.write_all(&GGUF_MAGIC)?;
        w.write_all(&GGUF_WRITE_VERSION.to_le_bytes())?;
        w.write_all(&(self.tensors.len() as u64).to_le_bytes())?;
        w.write_all(&(self.metadata.len() as u64).to_le_bytes())?;
        for (key, value) in &self.metadata {
            write_str(w, key)?;
            w.write_all(&value.value_type().id().to_le_bytes())?;
            write_value(w, value)?;
        }
        let mut offset: u64 = 0;
        for t in &self.tensors {
            write_str(w, &t.name)?;
            w.write_all(&(t.dims.len() as u32).to_le_bytes())?;
            for d in &t.dims {
                w.write_all(&d.to_le_bytes())?;
            }
            w.write_all(&(t.dtype as u32).to_le_bytes())?;
            w.write_all(&offset.to_le_bytes())?;
            offset = offset.checked_add(t.n_bytes).and_then(|end| align_up(end, alignment)).ok_or_else(too_large)?;
        }
        w.pad(alignment)
    }
}

fn too_large() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "GGUF data section overflows u64")
}

fn check_depth(key: &str, value: Value) -> Result<Value> {
    if value.depth() > MAX_ARRAY_DEPTH {
        return Err(GgufError::ValueTooDeep { key: key.to_owned(), max_depth: MAX_ARRAY_DEPTH });
    }
    Ok(value)
}

/// A writer that knows its position, to pad to the alignment.
struct Counting<W> {
    inner: W,
    pos: u64,
}

impl<W: Write> Counting<W> {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn pad(&mut self, alignment: u64) -> io::Result<()> {
        const ZEROS: [u8; 64] = [0; 64];
        let target = align_up(self.pos, alignment).ok_or_else(too_large)?;
        while self.pos < target {
            let n = (target - self.pos).min(ZEROS.len() as u64) as usize;
            self.write_all(&ZEROS[..n])?;
        }
        Ok(())
    }
}

fn write_str<W: Write>(w: &mut Counting<W>, s: &str) -> io::Result<()> {
    w.write_all(&(s.len() as u64).to_le_bytes())?;
    w.write_all(s.as_bytes())
}

fn write_value<W: Write>(w: &mut Counting<W>, value: &Value) -> io::Result<()> {
    match value {
        Value::U8(v) => w.write_all(&v.to_le_bytes()),
        Value::I8(v) => w.write_all(&v.to_le_bytes()),
        Value::U16(v) => w.write_all(&v.to_le_bytes()),
        Value::I16(v) => w.write_all(&v.to_le_bytes()),
        Value::U32(v) => w.write_all(&v.to_le_bytes()),
        Value::I32(v) => w.write_all(&v.to_le_bytes()),
        Value::F32(v) => w.write_all(&v.to_le_bytes()),
        Value::Bool(v) => w.write_all(&[u8::from(*v)]),
        Value::String(s) => write_str(w, s),
        Value::Array(a) => write_array(w, a),
        Value::U64(v) => w.write_all(&v.to_le_bytes()),
        Value::I64(v) => w.write_all(&v.to_le_bytes()),
        Value::F64(v) => w.write_all(&v.to_le_bytes()),
    }
}

/// Element type, length, elements; a nested array's elements each carry
/// their own element type and length.
fn write_array<W: Write>(w: &mut Counting<W>, a: &Array) -> io::Result<()> {
    w.write_all(&a.elem_type().id().to_le_bytes())?;
    w.write_all(&(a.len() as u64).to_le_bytes())?;
    macro_rules! each {
        ($v:expr) => {{
            for x in $v {
                w.write_all(&x.to_le_bytes())?;
            }
            Ok(())
        }};
    }
    match a {
        Array::U8(v) => w.write_all(v),
        Array::I8(v) => each!(v),
        Array::U16(v) => each!(v),
        Array::I16(v) => each!(v),
        Array::U32(v) => each!(v),
        Array::I32(v) => each!(v),
        Array::F32(v) => each!(v),
        Array::Bool(v) => {
            for &b in v {
                w.write_all(&[u8::from(b)])?;
            }
            Ok(())
        }
        Array::String(v) => {
            for s in v {
                write_str(w, s)?;
            }
            Ok(())
        }
        Array::Array(v) => {
            for inner in v {
                write_array(w, inner)?;
            }
            Ok(())
        }
        Array::U64(v) => each!(v),
        Array::I64(v) => each!(v),
        Array::F64(v) => each!(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_file_has_the_same_bytes() {
        let a: Vec<u8> = (0..40).collect(); // 10 f32, not a multiple of the alignment
        let b: Vec<u8> = (0..34).collect(); // one Q8_0 block
        let mut whole = GgufWriter::new();
        whole.add_metadata("general.alignment", 64u32).unwrap().add_metadata("k", "v").unwrap();
        whole.add_tensor("a", DType::F32, &[10], a.as_slice()).unwrap();
        whole.add_tensor("b", DType::Q8_0, &[32], b.as_slice()).unwrap();
        let mut streamed = GgufWriter::new();
        streamed.add_metadata("general.alignment", 64u32).unwrap().add_metadata("k", "v").unwrap();
        streamed.add_tensor_info("a", DType::F32, &[10]).unwrap();
        streamed.add_tensor_info("b", DType::Q8_0, &[32]).unwrap();
        let mut out = Vec::new();
        let n = streamed.write_header(&mut out).unwrap()
            + streamed.write_tensor_data(&mut out, &a).unwrap()
            + streamed.write_tensor_data(&mut out, &b).unwrap();
        assert_eq!(out, whole.to_bytes().unwrap());
        assert_eq!(n, out.len() as u64);
        // A declared-only tensor cannot be written whole.
        assert!(matches!(streamed.to_bytes(), Err(GgufError::TensorSizeMismatch { .. })));
    }

    #[test]
    fn empty_file_layout() {
        let bytes = GgufWriter::new().to_bytes().unwrap();
        // magic, version, 0 tensors, 0 kvs = 24 bytes, padded to 32.
        assert_eq!(bytes.len(), 32);
        assert_eq!(&bytes[..4], b"GGUF");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 3);
        let f = GgufFile::from_bytes(bytes).unwrap();
        assert_eq!(f.data_offset(), 32);
        assert_eq!(f.tensor_count(), 0);
    }

    #[test]
    fn rejects_bad_tensors_and_keys() {
        let mut w = GgufWriter::new();
        w.add_metadata("a", 1u32).unwrap();
        assert!(matches!(w.add_metadata("a", 2u32), Err(GgufError::DuplicateKey { .. })));
        w.add_tensor("t", DType::F32, &[2], vec![0u8; 8]).unwrap();
        assert!(matches!(w.add_tensor("t", DType::F32, &[2], vec![0u8; 8]), Err(GgufError::DuplicateTensor { .. })));
        assert!(matches!(
            w.add_tensor("u", DType::F32, &[2], vec![0u8; 7]),
            Err(GgufError::TensorSizeMismatch { expected: 8, found: 7, .. })
        ));
        let mut deep = Array::from(vec![1u8]);
        for _ in 0..MAX_ARRAY_DEPTH {
            deep = Array::Array(vec![deep]);
        }
        assert!(matches!(w.add_metadata("deep", deep), Err(GgufError::ValueTooDeep { .. })));
        w.set_metadata(ALIGNMENT_KEY, 3u32).unwrap();
        assert!(matches!(w.to_bytes(), Err(GgufError::BadAlignment { alignment: 3 })));
        w.set_metadata(ALIGNMENT_KEY, 64u64).unwrap();
        assert_eq!(w.alignment().unwrap(), 64);
        assert_eq!(w.remove_metadata("a"), Some(Value::U32(1)));
        assert_eq!(w.alignment().unwrap(), 64);
    }
}
