//! [`MeteredBackend`]: a [`Backend`] that forwards every call to another and
//! counts the bytes of the buffers it holds, for peak-memory reports that
//! work on any device.
//!
//! What counts is what this process asked the backend for: every
//! `buffer_alloc` and every `buffer_from_host` (a CPU backend wraps mmapped
//! weights without a copy, but they are still memory the model holds), less
//! every `buffer_free`. Memory a backend keeps for itself (kernel modules,
//! pools, driver state) is not seen, so the peak is a lower bound on what
//! the device had in use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{Backend, BufferHandle, DeviceInfo, GraphHandle, Op, Result};

/// Byte counts, kept together under one lock so `current` and `peak` always
/// agree with the handle map.
#[derive(Default)]
struct Meter {
    sizes: HashMap<BufferHandle, u64>,
    current: u64,
    peak: u64,
}

impl Meter {
    fn add(&mut self, handle: BufferHandle, size: u64) {
        // A backend never hands out a live handle twice; if one did, the old
        // size is replaced rather than counted twice.
        if let Some(old) = self.sizes.insert(handle, size) {
            self.current = self.current.saturating_sub(old);
        }
        self.current = self.current.saturating_add(size);
        self.peak = self.peak.max(self.current);
    }

    fn remove(&mut self, handle: BufferHandle) {
        if let Some(size) = self.sizes.remove(&handle) {
            self.current = self.current.saturating_sub(size);
        }
    }
}

/// Wraps a backend and counts the bytes of its live buffers (current and
/// peak). Name, device and results are the inner backend's.
pub struct MeteredBackend {
    inner: Arc<dyn Backend>,
    meter: Mutex<Meter>,
}

impl MeteredBackend {
    pub fn new(inner: Arc<dyn Backend>) -> MeteredBackend {
        MeteredBackend { inner, meter: Mutex::new(Meter::default()) }
    }

    /// The backend every call goes to.
    pub fn inner(&self) -> &Arc<dyn Backend> {
        &self.inner
    }

    /// Bytes of buffers allocated (or wrapped) through this backend and not
    /// yet freed.
    pub fn current_bytes(&self) -> u64 {
        self.meter().current
    }

    /// The most bytes live at once since this wrapper was made.
    pub fn peak_bytes(&self) -> u64 {
        self.meter().peak
    }

    fn meter(&self) -> MutexGuard<'_, Meter> {
        // The counts stay consistent even if a holder panicked: every update
        // is complete before the guard is dropped.
        self.meter.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Backend for MeteredBackend {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn device_info(&self) -> Result<DeviceInfo> {
        self.inner.device_info()
    }

    fn supports_op(&self, op: &Op<'_>) -> bool {
        self.inner.supports_op(op)
    }

    fn buffer_alloc(&self, size: u64) -> Result<BufferHandle> {
        let handle = self.inner.buffer_alloc(size)?;
        self.meter().add(handle, size);
        Ok(handle)
    }

    unsafe fn buffer_from_host(&self, ptr: *const u8, len: u64) -> Result<BufferHandle> {
        // SAFETY: forwarded caller contract.
        let handle = unsafe { self.inner.buffer_from_host(ptr, len) }?;
        self.meter().add(handle, len);
        Ok(handle)
    }

    fn buffer_free(&self, buffer: BufferHandle) {
        self.inner.buffer_free(buffer);
        self.meter().remove(buffer);
    }

    fn buffer_upload(&self, buffer: BufferHandle, offset: u64, data: &[u8]) -> Result<()> {
        self.inner.buffer_upload(buffer, offset, data)
    }

    fn buffer_download(&self, buffer: BufferHandle, offset: u64, out: &mut [u8]) -> Result<()> {
        self.inner.buffer_download(buffer, offset, out)
    }

    fn buffer_copy(
        &self,
        src: BufferHandle,
        src_offset: u64,
        dst: BufferHandle,
        dst_offset: u64,
        len: u64,
    ) -> Result<()> {
        self.inner.buffer_copy(src, src_offset, dst, dst_offset, len)
    }

    fn run(&self, op: &Op<'_>) -> Result<()> {
        self.inner.run(op)
    }

    fn synchronize(&self) -> Result<()> {
        self.inner.synchronize()
    }

    fn graph_begin(&self) -> Result<()> {
        self.inner.graph_begin()
    }

    fn graph_end(&self) -> Result<GraphHandle> {
        self.inner.graph_end()
    }

    fn graph_launch(&self, graph: GraphHandle) -> Result<()> {
        self.inner.graph_launch(graph)
    }

    fn graph_free(&self, graph: GraphHandle) {
        self.inner.graph_free(graph)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BackendError, DeviceBuffer, DeviceKind};

    /// A backend that only hands out handles and remembers which are live.
    #[derive(Default)]
    struct FakeBackend {
        live: Mutex<Vec<BufferHandle>>,
        next: Mutex<u64>,
    }

    impl FakeBackend {
        fn handle(&self) -> BufferHandle {
            let mut n = self.next.lock().unwrap();
            *n += 1;
            let h = BufferHandle(*n);
            self.live.lock().unwrap().push(h);
            h
        }
    }

    impl Backend for FakeBackend {
        fn name(&self) -> String {
            "fake".into()
        }
        fn device_info(&self) -> Result<DeviceInfo> {
            Ok(DeviceInfo { name: "fake device".into(), kind: DeviceKind::Cpu, total_memory: 0, free_memory: 0 })
        }
        fn supports_op(&self, _: &Op<'_>) -> bool {
            false
        }
        fn buffer_alloc(&self, size: u64) -> Result<BufferHandle> {
            if size > 1 << 30 {
                return Err(BackendError::OutOfMemory(format!("{size} bytes")));
            }
            Ok(self.handle())
        }
        unsafe fn buffer_from_host(&self, _: *const u8, _: u64) -> Result<BufferHandle> {
            Ok(self.handle())
        }
        fn buffer_free(&self, buffer: BufferHandle) {
            self.live.lock().unwrap().retain(|&h| h != buffer);
        }
        fn buffer_upload(&self, _: BufferHandle, _: u64, _: &[u8]) -> Result<()> {
            Ok(())
        }
        fn buffer_download(&self, _: BufferHandle, _: u64, _: &mut [u8]) -> Result<()> {
            Ok(())
        }
        fn buffer_copy(&self, _: BufferHandle, _: u64, _: BufferHandle, _: u64, _: u64) -> Result<()> {
            Ok(())
        }
        fn run(&self, _: &Op<'_>) -> Result<()> {
            Ok(())
        }
        fn synchronize(&self) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn counts_alloc_host_and_free() {
        let fake = Arc::new(FakeBackend::default());
        let metered = Arc::new(MeteredBackend::new(fake.clone()));
        let backend: Arc<dyn Backend> = metered.clone();
        assert_eq!((metered.current_bytes(), metered.peak_bytes()), (0, 0));

        let a = DeviceBuffer::alloc(&backend, 1000).unwrap();
        let host = vec![0u8; 300];
        // SAFETY: `host` outlives `b` (dropped below, before `host`).
        let b = unsafe { DeviceBuffer::from_host(&backend, &host) }.unwrap();
        assert_eq!((metered.current_bytes(), metered.peak_bytes()), (1300, 1300));

        drop(a);
        assert_eq!((metered.current_bytes(), metered.peak_bytes()), (300, 1300));
        let c = DeviceBuffer::alloc(&backend, 500).unwrap();
        assert_eq!((metered.current_bytes(), metered.peak_bytes()), (800, 1300));
        let d = DeviceBuffer::alloc(&backend, 700).unwrap();
        assert_eq!((metered.current_bytes(), metered.peak_bytes()), (1500, 1500));
        drop((b, c, d));
        assert_eq!((metered.current_bytes(), metered.peak_bytes()), (0, 1500));
        // Every free reached the inner backend.
        assert!(fake.live.lock().unwrap().is_empty());
    }

    #[test]
    fn failed_alloc_and_unknown_free_change_nothing() {
        let metered = MeteredBackend::new(Arc::new(FakeBackend::default()));
        let h = metered.buffer_alloc(64).unwrap();
        assert!(matches!(metered.buffer_alloc(2 << 30), Err(BackendError::OutOfMemory(_))));
        assert_eq!((metered.current_bytes(), metered.peak_bytes()), (64, 64));
        metered.buffer_free(BufferHandle(12345));
        assert_eq!(metered.current_bytes(), 64);
        metered.buffer_free(h);
        // A second free of the same handle is an unknown handle now.
        metered.buffer_free(h);
        assert_eq!((metered.current_bytes(), metered.peak_bytes()), (0, 64));
    }

    #[test]
    fn forwards_name_and_device() {
        let metered = MeteredBackend::new(Arc::new(FakeBackend::default()));
        assert_eq!(metered.name(), "fake");
        assert_eq!(metered.device_info().unwrap().name, "fake device");
        assert_eq!(metered.inner().name(), "fake");
    }
}
