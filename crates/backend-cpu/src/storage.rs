//! Buffers of the CPU backend: owned heap memory or wrapped host memory
//! (mmapped weights), looked up by handle.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::collections::HashMap;
use std::sync::Mutex;

use rocmforge_backend_api::{BackendError, BufferHandle, Result, TensorDesc};

/// Alignment of owned buffers: a cache line, enough for any SIMD load.
const ALIGN: usize = 64;

enum Memory {
    Owned {
        ptr: *mut u8,
        layout: Layout,
    },
    /// Read-only memory owned by the host.
    Host {
        ptr: *const u8,
    },
}

struct Buffer {
    mem: Memory,
    len: usize,
}

impl Buffer {
    fn base(&self) -> *const u8 {
        match self.mem {
            Memory::Owned { ptr, .. } => ptr,
            Memory::Host { ptr } => ptr,
        }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Memory::Owned { ptr, layout } = self.mem {
            // SAFETY: allocated in `Storage::alloc` with this layout.
            unsafe { dealloc(ptr, layout) };
        }
    }
}

/// The buffer table. Handles count up from 1 and are never reused, so a
/// stale handle is an error rather than someone else's memory.
#[derive(Default)]
pub(crate) struct Storage {
    buffers: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next: u64,
    map: HashMap<u64, Buffer>,
}

// SAFETY: the raw pointers are owned allocations or host memory the host
// promised to keep alive; access is serialised by the backend's contract.
unsafe impl Send for Storage {}
// SAFETY: as above.
unsafe impl Sync for Storage {}

impl Storage {
    pub fn alloc(&self, size: u64) -> Result<BufferHandle> {
        let len = usize::try_from(size).map_err(|_| oom(size))?;
        let layout = Layout::from_size_align(len.max(1), ALIGN).map_err(|_| oom(size))?;
        // SAFETY: the layout has non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        if ptr.is_null() {
            return Err(oom(size));
        }
        Ok(self.insert(Buffer { mem: Memory::Owned { ptr, layout }, len }))
    }

    /// # Safety
    /// `ptr..ptr+len` must stay readable and unchanged until freed.
    pub unsafe fn wrap_host(&self, ptr: *const u8, len: u64) -> Result<BufferHandle> {
        let len = usize::try_from(len).map_err(|_| BackendError::InvalidArgument(format!("host length {len}")))?;
        if ptr.is_null() && len > 0 {
            return Err(BackendError::InvalidArgument("null host pointer".into()));
        }
        Ok(self.insert(Buffer { mem: Memory::Host { ptr }, len }))
    }

    fn insert(&self, b: Buffer) -> BufferHandle {
        let mut t = self.buffers.lock().unwrap_or_else(|p| p.into_inner());
        t.next += 1;
        let h = t.next;
        t.map.insert(h, b);
        BufferHandle(h)
    }

    pub fn free(&self, h: BufferHandle) {
        let mut t = self.buffers.lock().unwrap_or_else(|p| p.into_inner());
        t.map.remove(&h.0);
    }

    /// Base pointer and length of `h`'s bytes `[offset, offset+len)`, checked.
    fn range(&self, h: BufferHandle, offset: u64, len: u64, write: bool) -> Result<*mut u8> {
        let t = self.buffers.lock().unwrap_or_else(|p| p.into_inner());
        let b = t.map.get(&h.0).ok_or_else(|| BackendError::InvalidArgument(format!("unknown buffer {}", h.0)))?;
        offset.checked_add(len).filter(|&e| e <= b.len as u64).ok_or_else(|| {
            BackendError::InvalidArgument(format!(
                "bytes {offset}..{} out of range of buffer {} ({} bytes)",
                offset.saturating_add(len),
                h.0,
                b.len
            ))
        })?;
        if write && matches!(b.mem, Memory::Host { .. }) {
            return Err(BackendError::InvalidArgument(format!("buffer {} wraps read-only host memory", h.0)));
        }
        // SAFETY: offset + len <= b.len, checked above.
        Ok(unsafe { b.base().add(offset as usize) as *mut u8 })
    }

    /// Bytes `[offset, offset+len)` of a buffer.
    ///
    /// # Safety
    /// No `&mut` to an overlapping range may be live while the slice is.
    pub unsafe fn bytes(&self, h: BufferHandle, offset: u64, len: u64) -> Result<&[u8]> {
        let p = self.range(h, offset, len, false)?;
        // SAFETY: in range (checked); aliasing per the caller's contract.
        Ok(unsafe { std::slice::from_raw_parts(p, len as usize) })
    }

    /// Writable bytes `[offset, offset+len)` of an owned buffer.
    ///
    /// # Safety
    /// No other reference to an overlapping range may be live while the slice is.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn bytes_mut(&self, h: BufferHandle, offset: u64, len: u64) -> Result<&mut [u8]> {
        let p = self.range(h, offset, len, true)?;
        // SAFETY: in range (checked), owned memory; aliasing per the caller's contract.
        Ok(unsafe { std::slice::from_raw_parts_mut(p, len as usize) })
    }

    /// The bytes a tensor spans (from its offset to the end of its last element).
    ///
    /// # Safety
    /// As [`Storage::bytes`].
    pub unsafe fn tensor(&self, t: &TensorDesc) -> Result<&[u8]> {
        let (start, end) = span(t)?;
        // SAFETY: forwarded.
        unsafe { self.bytes(t.buffer, start, end - start) }
    }

    /// # Safety
    /// As [`Storage::bytes_mut`].
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn tensor_mut(&self, t: &TensorDesc) -> Result<&mut [u8]> {
        let (start, end) = span(t)?;
        // SAFETY: forwarded.
        unsafe { self.bytes_mut(t.buffer, start, end - start) }
    }
}

fn span(t: &TensorDesc) -> Result<(u64, u64)> {
    t.byte_range().ok_or_else(|| BackendError::InvalidArgument(format!("malformed tensor {t:?}")))
}

fn oom(size: u64) -> BackendError {
    BackendError::OutOfMemory(format!("asked for {size} bytes, {} bytes available", available_memory()))
}

/// `MemAvailable` from /proc/meminfo (0 if unknown).
pub(crate) fn available_memory() -> u64 {
    meminfo("MemAvailable:")
}

pub(crate) fn total_memory() -> u64 {
    meminfo("MemTotal:")
}

fn meminfo(key: &str) -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        })
        .map_or(0, |kb| kb * 1024)
}
