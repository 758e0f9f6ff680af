//! A minimal ROCmForge backend plugin: the starting point for a new backend.
//!
//! It keeps buffers in host memory and implements a few element-wise ops
//! (`add`, `mul`, `scale`, `silu_mul`) on F32 tensors; `supports_op` says so,
//! and the host never sends it anything else. To grow it into a real
//! backend, replace [`Buffers`] with device memory and add ops one at a time,
//! checking each against the CPU oracle with `rocmforge check --backend
//! path/to/this.so` (see docs/PLUGINS.md).

use std::collections::HashMap;
use std::sync::Mutex;

use rocmforge_backend_api::op::{BinaryArgs, GluArgs, ScaleArgs};
use rocmforge_backend_api::{
    Backend, BackendError, BufferHandle, DType, DeviceInfo, DeviceKind, Op, Probe, Result, TensorDesc,
};

/// Buffers in host memory, by handle.
#[derive(Default)]
struct Buffers {
    next: u64,
    map: HashMap<u64, Vec<u8>>,
}

#[derive(Default)]
pub struct TemplateBackend {
    buffers: Mutex<Buffers>,
}

fn probe() -> Probe {
    Probe { score: 1, description: "template backend (host memory, element-wise f32 ops)".into() }
}

fn init() -> Result<TemplateBackend> {
    Ok(TemplateBackend::default())
}

rocmforge_backend_api::export_backend!(probe = probe, init = init);

fn invalid(msg: String) -> BackendError {
    BackendError::InvalidArgument(msg)
}

impl TemplateBackend {
    fn with_buffers<T>(&self, f: impl FnOnce(&mut Buffers) -> Result<T>) -> Result<T> {
        let mut b = self.buffers.lock().map_err(|_| BackendError::Internal("poisoned lock".into()))?;
        f(&mut b)
    }

    /// Read a contiguous F32 tensor.
    fn read_f32(b: &Buffers, t: &TensorDesc) -> Result<Vec<f32>> {
        let n = t.elements().ok_or_else(|| invalid("bad shape".into()))? as usize;
        let buf = b.map.get(&t.buffer.0).ok_or_else(|| invalid(format!("unknown buffer {}", t.buffer.0)))?;
        let start = t.offset as usize;
        let bytes = buf.get(start..start + 4 * n).ok_or_else(|| invalid("tensor out of buffer".into()))?;
        Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    fn write_f32(b: &mut Buffers, t: &TensorDesc, vals: &[f32]) -> Result<()> {
        let buf = b.map.get_mut(&t.buffer.0).ok_or_else(|| invalid(format!("unknown buffer {}", t.buffer.0)))?;
        let start = t.offset as usize;
        let bytes = buf.get_mut(start..start + 4 * vals.len()).ok_or_else(|| invalid("tensor out of buffer".into()))?;
        for (c, v) in bytes.chunks_exact_mut(4).zip(vals) {
            c.copy_from_slice(&v.to_le_bytes());
        }
        Ok(())
    }

    fn binary(&self, a: &BinaryArgs, f: fn(f32, f32) -> f32) -> Result<()> {
        self.with_buffers(|b| {
            let x = Self::read_f32(b, &a.a)?;
            let y = Self::read_f32(b, &a.b)?;
            // Broadcast: `b` repeats along every dim of `a` (validated by the host).
            let (an, bn) = (a.a.ne, a.b.ne);
            let mut out = Vec::with_capacity(x.len());
            for i3 in 0..an[3] {
                for i2 in 0..an[2] {
                    for i1 in 0..an[1] {
                        for i0 in 0..an[0] {
                            let ai = ((i3 * an[2] + i2) * an[1] + i1) * an[0] + i0;
                            let bi = (((i3 % bn[3]) * bn[2] + i2 % bn[2]) * bn[1] + i1 % bn[1]) * bn[0] + i0 % bn[0];
                            out.push(f(x[ai as usize], y[bi as usize]));
                        }
                    }
                }
            }
            Self::write_f32(b, &a.out, &out)
        })
    }

    fn scale(&self, a: &ScaleArgs) -> Result<()> {
        self.with_buffers(|b| {
            let x = Self::read_f32(b, &a.x)?;
            let out: Vec<f32> = x.iter().map(|v| v * a.scale).collect();
            Self::write_f32(b, &a.out, &out)
        })
    }

    fn silu_mul(&self, a: &GluArgs) -> Result<()> {
        self.with_buffers(|b| {
            let g = Self::read_f32(b, &a.gate)?;
            let u = Self::read_f32(b, &a.up)?;
            let out: Vec<f32> = g.iter().zip(&u).map(|(g, u)| g / (1.0 + (-g).exp()) * u).collect();
            Self::write_f32(b, &a.out, &out)
        })
    }
}

impl Backend for TemplateBackend {
    fn name(&self) -> String {
        "template".into()
    }

    fn device_info(&self) -> Result<DeviceInfo> {
        Ok(DeviceInfo { name: "template (host memory)".into(), kind: DeviceKind::Cpu, total_memory: 0, free_memory: 0 })
    }

    fn supports_op(&self, op: &Op<'_>) -> bool {
        let all_f32 = op.operands().iter().all(|(_, t)| t.is_none() || t.dtype() == Some(DType::F32));
        all_f32 && matches!(op, Op::Add(_) | Op::Mul(_) | Op::Scale(_) | Op::SiluMul(_))
    }

    fn buffer_alloc(&self, size: u64) -> Result<BufferHandle> {
        let len = usize::try_from(size).map_err(|_| BackendError::OutOfMemory(format!("asked for {size} bytes")))?;
        self.with_buffers(|b| {
            b.next += 1;
            let h = b.next;
            b.map.insert(h, vec![0; len]);
            Ok(BufferHandle(h))
        })
    }

    unsafe fn buffer_from_host(&self, ptr: *const u8, len: u64) -> Result<BufferHandle> {
        // This backend copies; a device backend uploads here.
        let h = self.buffer_alloc(len)?;
        if len > 0 {
            // SAFETY: the caller guarantees `ptr..ptr+len` is readable.
            let data = unsafe { std::slice::from_raw_parts(ptr, len as usize) };
            self.buffer_upload(h, 0, data)?;
        }
        Ok(h)
    }

    fn buffer_free(&self, buffer: BufferHandle) {
        let _ = self.with_buffers(|b| {
            b.map.remove(&buffer.0);
            Ok(())
        });
    }

    fn buffer_upload(&self, buffer: BufferHandle, offset: u64, data: &[u8]) -> Result<()> {
        self.with_buffers(|b| {
            let buf = b.map.get_mut(&buffer.0).ok_or_else(|| invalid(format!("unknown buffer {}", buffer.0)))?;
            let start = offset as usize;
            buf.get_mut(start..start + data.len())
                .ok_or_else(|| invalid("upload out of range".into()))?
                .copy_from_slice(data);
            Ok(())
        })
    }

    fn buffer_download(&self, buffer: BufferHandle, offset: u64, out: &mut [u8]) -> Result<()> {
        self.with_buffers(|b| {
            let buf = b.map.get(&buffer.0).ok_or_else(|| invalid(format!("unknown buffer {}", buffer.0)))?;
            let start = offset as usize;
            out.copy_from_slice(
                buf.get(start..start + out.len()).ok_or_else(|| invalid("download out of range".into()))?,
            );
            Ok(())
        })
    }

    fn buffer_copy(
        &self,
        src: BufferHandle,
        src_offset: u64,
        dst: BufferHandle,
        dst_offset: u64,
        len: u64,
    ) -> Result<()> {
        let mut tmp = vec![0u8; len as usize];
        self.buffer_download(src, src_offset, &mut tmp)?;
        self.buffer_upload(dst, dst_offset, &tmp)
    }

    fn run(&self, op: &Op<'_>) -> Result<()> {
        match *op {
            Op::Add(a) if self.supports_op(op) => self.binary(a, |x, y| x + y),
            Op::Mul(a) if self.supports_op(op) => self.binary(a, |x, y| x * y),
            Op::Scale(a) if self.supports_op(op) => self.scale(a),
            Op::SiluMul(a) if self.supports_op(op) => self.silu_mul(a),
            _ => Err(BackendError::Unsupported {
                op: op.name().into(),
                reason: "the template implements add, mul, scale and silu_mul on f32".into(),
            }),
        }
    }

    fn synchronize(&self) -> Result<()> {
        Ok(())
    }
}
