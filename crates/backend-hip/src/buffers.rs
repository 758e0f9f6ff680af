//! The backend's buffer table: handles to device allocations, with their
//! sizes and whether they are read-only (made by `buffer_from_host`).

use std::collections::HashMap;
use std::sync::Mutex;

use rocmforge_backend_api::{BackendError, BufferHandle, Result};

use crate::runtime::DevicePtr;

/// One device allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Buffer {
    pub ptr: DevicePtr,
    pub len: u64,
    /// Made from host memory: the API forbids writing to it.
    pub read_only: bool,
}

/// Handles count up from 1 and are never reused, so a stale handle is an
/// error rather than someone else's memory.
#[derive(Default)]
pub(crate) struct BufferTable {
    inner: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next: u64,
    map: HashMap<u64, Buffer>,
}

impl BufferTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock leaves the map consistent (every
        // operation is a single insert/remove/get).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, b: Buffer) -> BufferHandle {
        let mut t = self.lock();
        t.next += 1;
        let h = t.next;
        t.map.insert(h, b);
        BufferHandle(h)
    }

    pub fn remove(&self, h: BufferHandle) -> Option<Buffer> {
        self.lock().map.remove(&h.0)
    }

    /// Remove and return every buffer (for teardown).
    pub fn drain(&self) -> Vec<Buffer> {
        self.lock().map.drain().map(|(_, b)| b).collect()
    }

    /// Device address of bytes `[offset, offset + len)` of `h`, checked to
    /// lie inside it; `write` also checks that it is writable.
    pub fn range(&self, h: BufferHandle, offset: u64, len: u64, write: bool) -> Result<DevicePtr> {
        let t = self.lock();
        let b = t.map.get(&h.0).ok_or_else(|| BackendError::InvalidArgument(format!("unknown buffer {}", h.0)))?;
        match offset.checked_add(len) {
            Some(end) if end <= b.len => {}
            _ => {
                return Err(BackendError::InvalidArgument(format!(
                    "bytes {offset}..{} out of range of buffer {} ({} bytes)",
                    offset.saturating_add(len),
                    h.0,
                    b.len
                )))
            }
        }
        if write && b.read_only {
            return Err(BackendError::InvalidArgument(format!("buffer {} wraps read-only host memory", h.0)));
        }
        Ok(b.ptr.offset(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked() {
        let t = BufferTable::default();
        let a = t.insert(Buffer { ptr: DevicePtr(0x1000), len: 100, read_only: false });
        let r = t.insert(Buffer { ptr: DevicePtr(0x2000), len: 10, read_only: true });
        assert_ne!(a, r);
        assert_eq!(t.range(a, 10, 90, true).ok(), Some(DevicePtr(0x100a)));
        assert_eq!(t.range(a, 100, 0, false).ok(), Some(DevicePtr(0x1064)));
        assert!(t.range(a, 10, 91, false).is_err());
        assert!(t.range(a, u64::MAX, 2, false).is_err());
        assert_eq!(t.range(r, 0, 10, false).ok(), Some(DevicePtr(0x2000)));
        let e = t.range(r, 0, 1, true).expect_err("read-only");
        assert!(e.to_string().contains("read-only"), "{e}");
        assert!(t.range(BufferHandle(99), 0, 0, false).is_err());
        assert!(t.remove(a).is_some());
        assert!(t.range(a, 0, 1, false).is_err(), "freed handles stay invalid");
        let b = t.insert(Buffer { ptr: DevicePtr(0x3000), len: 1, read_only: false });
        assert!(b.0 > r.0, "handles are never reused");
        assert_eq!(t.drain().len(), 2);
    }
}
