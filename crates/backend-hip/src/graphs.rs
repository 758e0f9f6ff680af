//! Recorded graphs: a decode step captured once from the stream (CUDA /
//! HIP stream capture) and replayed every token with one launch, which
//! removes the per-kernel launch cost that bounds small models.
//!
//! While recording, only ops may be enqueued: an upload, download, copy or
//! synchronize would break the capture and is refused; a buffer freed while
//! recording is freed when the recording ends (a replay that needs it then
//! fails). A replay checks that every buffer the graph's ops used is still
//! alive (handles are never reused), so a graph never writes freed memory.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use rocmforge_backend_api::{BackendError, BufferHandle, GraphHandle, Op, Result};

use crate::runtime::DeviceGraph;

#[derive(Default)]
pub(crate) struct Graphs {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    recording: Option<Recording>,
    graphs: HashMap<u64, Recorded>,
    next_id: u64,
}

#[derive(Default)]
pub(crate) struct Recording {
    /// Buffers the recorded ops use.
    pub buffers: HashSet<BufferHandle>,
    /// The first op that failed; the recording is dropped at its end.
    pub error: Option<BackendError>,
    /// Buffers freed while recording, freed at its end.
    pub pending_frees: Vec<BufferHandle>,
}

pub(crate) struct Recorded {
    pub graph: DeviceGraph,
    pub buffers: Vec<BufferHandle>,
}

impl Graphs {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_recording(&self) -> bool {
        self.lock().recording.is_some()
    }

    /// Refuse `call` while recording.
    pub fn not_recording(&self, call: &str) -> Result<()> {
        if self.is_recording() {
            return Err(BackendError::InvalidArgument(format!("{call} while recording a graph")));
        }
        Ok(())
    }

    /// Mark the start of a recording (the caller starts the capture).
    pub fn begin(&self) -> Result<()> {
        let mut g = self.lock();
        if g.recording.is_some() {
            return Err(BackendError::InvalidArgument("graph_begin: already recording".into()));
        }
        g.recording = Some(Recording::default());
        Ok(())
    }

    /// Note what a recorded op used and how it went. `false`: not recording.
    pub fn note_op(&self, op: &Op<'_>, result: &Result<()>) -> bool {
        let mut g = self.lock();
        let Some(rec) = g.recording.as_mut() else { return false };
        rec.buffers.extend(op.operands().iter().map(|(_, t)| t.buffer).filter(|b| !b.is_none()));
        if let Err(e) = result {
            rec.error.get_or_insert_with(|| e.clone());
        }
        true
    }

    /// Defer freeing `buffer` to the end of the recording; `false`: not recording.
    pub fn defer_free(&self, buffer: BufferHandle) -> bool {
        match self.lock().recording.as_mut() {
            Some(rec) => {
                rec.pending_frees.push(buffer);
                true
            }
            None => false,
        }
    }

    /// Take the recording that is ending.
    pub fn end(&self) -> Result<Recording> {
        self.lock().recording.take().ok_or_else(|| BackendError::InvalidArgument("graph_end: not recording".into()))
    }

    pub fn insert(&self, r: Recorded) -> GraphHandle {
        let mut g = self.lock();
        g.next_id += 1;
        let id = g.next_id;
        g.graphs.insert(id, r);
        GraphHandle(id)
    }

    /// Run `f` on graph `h` under the lock (launches are serialised anyway).
    pub fn with<T>(&self, h: GraphHandle, f: impl FnOnce(&Recorded) -> Result<T>) -> Result<T> {
        let g = self.lock();
        let r = g
            .graphs
            .get(&h.0)
            .ok_or_else(|| BackendError::InvalidArgument(format!("graph_launch: unknown graph {}", h.0)))?;
        f(r)
    }

    pub fn remove(&self, h: GraphHandle) -> Option<Recorded> {
        self.lock().graphs.remove(&h.0)
    }

    /// Remove every graph (for teardown).
    pub fn drain(&self) -> Vec<Recorded> {
        self.lock().graphs.drain().map(|(_, r)| r).collect()
    }
}
