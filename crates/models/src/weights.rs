//! Model weights on a backend: the GGUF data section as one buffer, and
//! shape-checked tensor views into it.

use std::sync::Arc;

use rocmforge_backend_api::{Backend, DType, DeviceBuffer, DeviceKind, TensorDesc};
use rocmforge_core::gguf::GgufFile;

use crate::{ModelError, Result};

/// The file's tensor data on a backend. A CPU backend wraps the memory map
/// (no copy); a GPU gets it uploaded once, in chunks so a progress bar can
/// follow. Weights keep their GGUF types.
pub struct Weights {
    // Field order matters: the buffer (which may point into the map) is
    // dropped before the file.
    buffer: DeviceBuffer,
    gguf: Arc<GgufFile>,
}

impl Weights {
    pub fn load(gguf: Arc<GgufFile>, backend: &Arc<dyn Backend>, progress: Option<fn(u64, u64)>) -> Result<Weights> {
        let data = gguf.data_section();
        let total = data.len() as u64;
        let buffer = if backend.device_info()?.kind == DeviceKind::Cpu {
            // SAFETY: the data section lives in `gguf`, which this struct
            // keeps alive (and unmodified: a read-only map or owned bytes)
            // for at least as long as `buffer`.
            unsafe { DeviceBuffer::from_host(backend, data) }?
        } else {
            const CHUNK: usize = 64 << 20;
            let buffer = DeviceBuffer::alloc(backend, total)?;
            for (i, chunk) in data.chunks(CHUNK).enumerate() {
                buffer.upload((i * CHUNK) as u64, chunk)?;
                if let Some(p) = progress {
                    p((i * CHUNK + chunk.len()) as u64, total);
                }
            }
            buffer
        };
        if let Some(p) = progress {
            p(total, total);
        }
        Ok(Weights { buffer, gguf })
    }

    pub fn gguf(&self) -> &GgufFile {
        &self.gguf
    }

    /// The tensor `name`, which must have exactly `shape` (GGUF dims,
    /// innermost first).
    pub fn get(&self, name: &str, shape: &[u64]) -> Result<TensorDesc> {
        self.get_opt(name, shape)?.ok_or_else(|| ModelError::MissingTensor { name: name.to_string() })
    }

    /// Like [`Weights::get`], `None` when the file has no such tensor.
    pub fn get_opt(&self, name: &str, shape: &[u64]) -> Result<Option<TensorDesc>> {
        let Some(info) = self.gguf.tensor(name) else { return Ok(None) };
        if info.dims() != shape {
            return Err(ModelError::TensorShape {
                name: name.to_string(),
                expected: shape.to_vec(),
                found: info.dims().to_vec(),
            });
        }
        let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        Ok(Some(TensorDesc::contiguous(self.buffer.handle(), info.offset(), info.dtype(), &dims)))
    }

    /// Like [`Weights::get`], for tensors an op needs in F32 (norms, biases).
    pub fn get_f32(&self, name: &str, shape: &[u64]) -> Result<TensorDesc> {
        let t = self.get(name, shape)?;
        require_f32(name, t)
    }

    pub fn get_f32_opt(&self, name: &str, shape: &[u64]) -> Result<Option<TensorDesc>> {
        self.get_opt(name, shape)?.map(|t| require_f32(name, t)).transpose()
    }
}

fn require_f32(name: &str, t: TensorDesc) -> Result<TensorDesc> {
    match t.dtype() {
        Some(DType::F32) => Ok(t),
        other => Err(ModelError::TensorType {
            name: name.to_string(),
            dtype: other.map_or_else(|| t.dtype.to_string(), |d| d.to_string()),
            reason: "norm weights and biases must be f32".into(),
        }),
    }
}
