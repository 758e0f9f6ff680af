//! A GGUF v3 file written front to back without holding the tensor data:
//! the header, metadata and tensor infos go out first (every tensor's size
//! is known from its dims and type, so its offset is too), then the caller
//! streams each tensor's bytes in order with [`GgufLayout::write_tensor`].
//!
//! The bytes are exactly those `rocmforge_core::gguf::GgufWriter` writes for
//! the same metadata and tensors (a test below checks it); that writer needs
//! every tensor's bytes in memory at once, which a 7B model makes 4-15 GB.
//! Its encoders are private to the core crate, so the encoding is repeated
//! here; a streaming entry point in the core writer would replace this file.

use std::io::{self, Write};

use rocmforge_backend_api::DType;
use rocmforge_core::gguf::{Array, Value, DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_WRITE_VERSION};

/// A tensor's place in the file.
pub(super) struct TensorSlot {
    pub name: String,
    pub dtype: DType,
    /// Innermost first (ggml's `ne`).
    pub dims: Vec<u64>,
    /// Exactly the bytes `dims` and `dtype` need.
    pub n_bytes: u64,
}

/// Metadata and tensor slots of a file, laid out with the default alignment
/// (the synthetic files set no `general.alignment`).
pub(super) struct GgufLayout {
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<TensorSlot>,
}

const ALIGNMENT: u64 = DEFAULT_ALIGNMENT;

fn align_up(x: u64) -> u64 {
    x.div_ceil(ALIGNMENT) * ALIGNMENT
}

impl GgufLayout {
    /// Header, metadata, tensor infos and the padding up to the data
    /// section. Returns the bytes written.
    pub fn write_header<W: Write>(&self, w: &mut W) -> io::Result<u64> {
        let mut w = Counting { inner: w, pos: 0 };
        w.put(&GGUF_MAGIC)?;
        w.put(&GGUF_WRITE_VERSION.to_le_bytes())?;
        w.put(&(self.tensors.len() as u64).to_le_bytes())?;
        w.put(&(self.metadata.len() as u64).to_le_bytes())?;
        for (key, value) in &self.metadata {
            put_str(&mut w, key)?;
            w.put(&value.value_type().id().to_le_bytes())?;
            put_value(&mut w, value)?;
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            put_str(&mut w, &t.name)?;
            w.put(&(t.dims.len() as u32).to_le_bytes())?;
            for d in &t.dims {
                w.put(&d.to_le_bytes())?;
            }
            w.put(&(t.dtype as u32).to_le_bytes())?;
            w.put(&offset.to_le_bytes())?;
            offset = align_up(offset + t.n_bytes);
        }
        w.pad()?;
        Ok(w.pos)
    }

    /// One tensor's bytes and the padding after them; tensors must come in
    /// the order of [`GgufLayout::tensors`].
    pub fn write_tensor<W: Write>(&self, w: &mut W, data: &[u8]) -> io::Result<u64> {
        let mut w = Counting { inner: w, pos: 0 };
        w.put(data)?;
        w.pad()?;
        Ok(w.pos)
    }

    /// The size of the data section (every tensor, each padded).
    #[cfg(test)]
    pub fn data_len(&self) -> u64 {
        self.tensors.iter().map(|t| align_up(t.n_bytes)).sum()
    }
}

/// A writer that knows how much it wrote, to pad to the alignment. Every
/// padded part starts at a multiple of the alignment, so its own count is
/// enough.
struct Counting<'w, W> {
    inner: &'w mut W,
    pos: u64,
}

impl<W: Write> Counting<'_, W> {
    fn put(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        const ZEROS: [u8; ALIGNMENT as usize] = [0; ALIGNMENT as usize];
        let n = (align_up(self.pos) - self.pos) as usize;
        self.put(&ZEROS[..n])
    }
}

fn put_str<W: Write>(w: &mut Counting<'_, W>, s: &str) -> io::Result<()> {
    w.put(&(s.len() as u64).to_le_bytes())?;
    w.put(s.as_bytes())
}

fn put_value<W: Write>(w: &mut Counting<'_, W>, value: &Value) -> io::Result<()> {
    match value {
        Value::U8(v) => w.put(&v.to_le_bytes()),
        Value::I8(v) => w.put(&v.to_le_bytes()),
        Value::U16(v) => w.put(&v.to_le_bytes()),
        Value::I16(v) => w.put(&v.to_le_bytes()),
        Value::U32(v) => w.put(&v.to_le_bytes()),
        Value::I32(v) => w.put(&v.to_le_bytes()),
        Value::F32(v) => w.put(&v.to_le_bytes()),
        Value::Bool(v) => w.put(&[u8::from(*v)]),
        Value::String(s) => put_str(w, s),
        Value::Array(a) => put_array(w, a),
        Value::U64(v) => w.put(&v.to_le_bytes()),
        Value::I64(v) => w.put(&v.to_le_bytes()),
        Value::F64(v) => w.put(&v.to_le_bytes()),
    }
}

/// Element type, length, elements; a nested array's elements each carry
/// their own element type and length.
fn put_array<W: Write>(w: &mut Counting<'_, W>, a: &Array) -> io::Result<()> {
    w.put(&a.elem_type().id().to_le_bytes())?;
    w.put(&(a.len() as u64).to_le_bytes())?;
    macro_rules! each {
        ($v:expr) => {{
            for x in $v {
                w.put(&x.to_le_bytes())?;
            }
            Ok(())
        }};
    }
    match a {
        Array::U8(v) => w.put(v),
        Array::I8(v) => each!(v),
        Array::U16(v) => each!(v),
        Array::I16(v) => each!(v),
        Array::U32(v) => each!(v),
        Array::I32(v) => each!(v),
        Array::F32(v) => each!(v),
        Array::Bool(v) => {
            for &b in v {
                w.put(&[u8::from(b)])?;
            }
            Ok(())
        }
        Array::String(v) => {
            for s in v {
                put_str(w, s)?;
            }
            Ok(())
        }
        Array::Array(v) => {
            for inner in v {
                put_array(w, inner)?;
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
    use rocmforge_core::gguf::GgufWriter;

    use super::*;

    /// Every value type, nested arrays, and tensors whose sizes are not
    /// multiples of the alignment: the same bytes as the core writer.
    #[test]
    fn matches_the_core_writer() {
        let metadata: Vec<(String, Value)> = vec![
            ("u8".into(), Value::U8(7)),
            ("i8".into(), Value::I8(-7)),
            ("u16".into(), Value::U16(700)),
            ("i16".into(), Value::I16(-700)),
            ("u32".into(), Value::U32(70_000)),
            ("i32".into(), Value::I32(-70_000)),
            ("f32".into(), Value::F32(1.5)),
            ("bool".into(), Value::Bool(true)),
            ("str".into(), Value::String("héllo".into())),
            ("u64".into(), Value::U64(1 << 40)),
            ("i64".into(), Value::I64(-(1 << 40))),
            ("f64".into(), Value::F64(-2.25)),
            ("strs".into(), Value::from(vec!["a", "", "ccc"])),
            ("bools".into(), Value::Array(Array::Bool(vec![true, false]))),
            ("bytes".into(), Value::Array(Array::U8(vec![1, 2, 3]))),
            ("nested".into(), Value::Array(Array::Array(vec![Array::I32(vec![1, -2]), Array::F64(vec![0.5])]))),
        ];
        let tensors = [("a", DType::F32, vec![3u64]), ("b", DType::F16, vec![5, 3]), ("c", DType::Q4_0, vec![64, 2])];
        let mut core = GgufWriter::new();
        for (k, v) in &metadata {
            core.add_metadata(k.as_str(), v.clone()).unwrap();
        }
        let mut layout = GgufLayout { metadata, tensors: Vec::new() };
        let mut data = Vec::new();
        for (i, (name, dtype, dims)) in tensors.iter().enumerate() {
            let n = dtype.row_bytes(dims[0]).unwrap() * dims.iter().skip(1).product::<u64>();
            let bytes: Vec<u8> = (0..n).map(|j| (j as u8).wrapping_mul(31).wrapping_add(i as u8)).collect();
            core.add_tensor(*name, *dtype, dims, bytes.clone()).unwrap();
            layout.tensors.push(TensorSlot { name: (*name).into(), dtype: *dtype, dims: dims.clone(), n_bytes: n });
            data.push(bytes);
        }
        let mut ours = Vec::new();
        let header = layout.write_header(&mut ours).unwrap();
        let mut body = 0;
        for d in &data {
            body += layout.write_tensor(&mut ours, d).unwrap();
        }
        assert_eq!(header % ALIGNMENT, 0);
        assert_eq!(body, layout.data_len());
        assert_eq!(ours, core.to_bytes().unwrap());
    }
}
