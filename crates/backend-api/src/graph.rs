//! [`Graph`]: a host-side owner of a recorded graph.

use std::sync::Arc;

use crate::{Backend, GraphHandle, Result};

/// A recorded sequence of ops that frees itself (through its backend) when
/// dropped. Like [`crate::DeviceBuffer`] it holds the backend; the buffers
/// the ops use must outlive it (drop graphs before the buffers they use).
pub struct Graph {
    backend: Arc<dyn Backend>,
    handle: GraphHandle,
}

impl Graph {
    /// Record the ops `body` runs on `backend`. `Ok(None)` when the backend
    /// does not record graphs (run the ops directly instead); an error from
    /// `body` or from recording ends the recording and is returned.
    pub fn record<E: From<crate::BackendError>>(
        backend: &Arc<dyn Backend>,
        body: impl FnOnce() -> std::result::Result<(), E>,
    ) -> std::result::Result<Option<Graph>, E> {
        match backend.graph_begin() {
            Ok(()) => {}
            Err(crate::BackendError::Unsupported { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let ran = body();
        // End the recording whatever happened, so the backend leaves recording mode.
        let ended: Result<GraphHandle> = backend.graph_end();
        if let Err(e) = ran {
            if let Ok(h) = ended {
                backend.graph_free(h);
            }
            return Err(e);
        }
        Ok(Some(Graph { backend: backend.clone(), handle: ended? }))
    }

    /// Enqueue the recorded ops again.
    pub fn launch(&self) -> Result<()> {
        self.backend.graph_launch(self.handle)
    }

    pub fn handle(&self) -> GraphHandle {
        self.handle
    }
}

impl Drop for Graph {
    fn drop(&mut self) {
        self.backend.graph_free(self.handle);
    }
}
