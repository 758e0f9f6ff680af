//! [`DeviceBuffer`]: a host-side owner of a backend buffer.

use std::sync::Arc;

use crate::{Backend, BufferHandle, DType, Result, TensorDesc};

/// A buffer that frees itself (through its backend) when dropped. It holds
/// the backend, so the backend outlives every buffer it handed out.
pub struct DeviceBuffer {
    backend: Arc<dyn Backend>,
    handle: BufferHandle,
    size: u64,
}

impl DeviceBuffer {
    /// Allocate `size` bytes on `backend`.
    pub fn alloc(backend: &Arc<dyn Backend>, size: u64) -> Result<DeviceBuffer> {
        let handle = backend.buffer_alloc(size)?;
        Ok(DeviceBuffer { backend: backend.clone(), handle, size })
    }

    /// Wrap read-only host memory (zero copy where the backend can).
    ///
    /// # Safety
    /// `data` must stay valid and unchanged until the buffer is dropped.
    pub unsafe fn from_host(backend: &Arc<dyn Backend>, data: &[u8]) -> Result<DeviceBuffer> {
        // SAFETY: caller contract.
        let handle = unsafe { backend.buffer_from_host(data.as_ptr(), data.len() as u64) }?;
        Ok(DeviceBuffer { backend: backend.clone(), handle, size: data.len() as u64 })
    }

    pub fn handle(&self) -> BufferHandle {
        self.handle
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// A contiguous tensor view at `offset`.
    pub fn tensor(&self, offset: u64, dtype: DType, shape: &[usize]) -> TensorDesc {
        TensorDesc::contiguous(self.handle, offset, dtype, shape)
    }

    pub fn upload(&self, offset: u64, data: &[u8]) -> Result<()> {
        self.backend.buffer_upload(self.handle, offset, data)
    }

    /// Blocking read of `out.len()` bytes at `offset`.
    pub fn download(&self, offset: u64, out: &mut [u8]) -> Result<()> {
        self.backend.buffer_download(self.handle, offset, out)
    }

    /// Blocking read of `n` f32 values at `offset`.
    pub fn download_f32(&self, offset: u64, n: usize) -> Result<Vec<f32>> {
        let mut bytes = vec![0u8; n * 4];
        self.download(offset, &mut bytes)?;
        Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        self.backend.buffer_free(self.handle);
    }
}
