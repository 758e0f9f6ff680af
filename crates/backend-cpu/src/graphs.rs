//! Recorded graphs on the CPU: the ops themselves, replayed in order. There
//! is no launch overhead to save here; recording exists so the engine's
//! record-once, replay-every-token path runs (and is tested) on the oracle
//! exactly as on a GPU.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rocmforge_backend_api::op::OwnedOp;
use rocmforge_backend_api::{BackendError, GraphHandle, Result};

#[derive(Default)]
pub(crate) struct Graphs {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The ops of the graph being recorded, if any.
    recording: Option<Vec<OwnedOp>>,
    graphs: HashMap<u64, Arc<[OwnedOp]>>,
    next_id: u64,
}

impl Graphs {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn begin(&self) -> Result<()> {
        let mut g = self.lock();
        if g.recording.is_some() {
            return Err(BackendError::InvalidArgument("graph_begin: already recording".into()));
        }
        g.recording = Some(Vec::new());
        Ok(())
    }

    /// Keep `op` if recording; `false` when it should run now.
    pub fn record(&self, op: OwnedOp) -> bool {
        match self.lock().recording.as_mut() {
            Some(ops) => {
                ops.push(op);
                true
            }
            None => false,
        }
    }

    pub fn is_recording(&self) -> bool {
        self.lock().recording.is_some()
    }

    pub fn end(&self) -> Result<GraphHandle> {
        let mut g = self.lock();
        let ops = g.recording.take().ok_or_else(|| BackendError::InvalidArgument("graph_end: not recording".into()))?;
        g.next_id += 1;
        let id = g.next_id;
        g.graphs.insert(id, ops.into());
        Ok(GraphHandle(id))
    }

    /// The ops of `graph` (shared, so they run without the lock held).
    pub fn ops(&self, graph: GraphHandle) -> Result<Arc<[OwnedOp]>> {
        self.lock()
            .graphs
            .get(&graph.0)
            .cloned()
            .ok_or_else(|| BackendError::InvalidArgument(format!("graph_launch: unknown graph {}", graph.0)))
    }

    pub fn free(&self, graph: GraphHandle) {
        self.lock().graphs.remove(&graph.0);
    }
}
