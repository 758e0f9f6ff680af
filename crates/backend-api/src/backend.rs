//! The Backend trait: what every backend implements, in process or behind
//! the C ABI.

use crate::{BackendError, BufferHandle, GraphHandle, Op, Result};

/// What kind of device a backend drives.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    Cpu = 0,
    Gpu = 1,
}

/// Facts about the device behind a backend instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Human-readable device name ("NVIDIA H200", "AMD Instinct MI300X", "cpu (16 threads)").
    pub name: String,
    pub kind: DeviceKind,
    /// Bytes of device memory in all and free now (for the CPU: system RAM).
    pub total_memory: u64,
    pub free_memory: u64,
}

/// A plugin's answer to "can you run here?", given before it is initialised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// 0: cannot run on this machine; otherwise higher is preferred.
    pub score: i32,
    /// One line: the device it would use, or why it cannot run.
    pub description: String,
}

/// A compute backend: one device and one in-order stream.
///
/// **Stream order.** Ops and buffer uploads/copies only enqueue work and may
/// return before it is done; work runs in call order. Only
/// [`Backend::buffer_download`] and [`Backend::synchronize`] block until the
/// work before them has finished, and an error from enqueued work may first
/// surface there.
///
/// **Threads.** Implementations are `Send + Sync`, but calls into one
/// instance are serialised by the caller's design (the engine drives a
/// backend from one thread; the plugin host holds a lock per instance).
///
/// **Memory.** Buffers are allocated and freed by the backend; the host only
/// holds handles ([`crate::DeviceBuffer`] frees on drop).
pub trait Backend: Send + Sync {
    /// Short name, e.g. "cpu" or "hip".
    fn name(&self) -> String;

    fn device_info(&self) -> Result<DeviceInfo>;

    /// Whether [`Backend::run`] can execute `op` with these dtypes, shapes and
    /// parameters. The single capability query: the host asks this instead of
    /// finding out by calling. Only called with ops that pass
    /// [`crate::validate::validate_op`].
    fn supports_op(&self, op: &Op<'_>) -> bool;

    /// Allocate `size` bytes of device memory (contents undefined).
    /// Fails with `OutOfMemory` naming the bytes asked for and free.
    fn buffer_alloc(&self, size: u64) -> Result<BufferHandle>;

    /// Make host memory usable as a read-only buffer, without a copy where the
    /// device can read host memory (the CPU backend runs on mmapped weights
    /// this way); other backends may copy. Writing to such a buffer is an error.
    ///
    /// # Safety
    /// `ptr..ptr+len` must be readable and unchanged until the buffer is freed.
    unsafe fn buffer_from_host(&self, ptr: *const u8, len: u64) -> Result<BufferHandle>;

    /// Free a buffer (after the work already enqueued on it). Unknown handles
    /// are ignored.
    fn buffer_free(&self, buffer: BufferHandle);

    /// Copy `data` into `buffer` at `offset`. Stream-ordered; `data` may be
    /// reused as soon as this returns.
    fn buffer_upload(&self, buffer: BufferHandle, offset: u64, data: &[u8]) -> Result<()>;

    /// Copy `out.len()` bytes from `buffer` at `offset` into `out`. Blocks
    /// until all enqueued work is done.
    fn buffer_download(&self, buffer: BufferHandle, offset: u64, out: &mut [u8]) -> Result<()>;

    /// Device-to-device copy of `len` bytes. Stream-ordered.
    fn buffer_copy(
        &self,
        src: BufferHandle,
        src_offset: u64,
        dst: BufferHandle,
        dst_offset: u64,
        len: u64,
    ) -> Result<()>;

    /// Enqueue one op. Stream-ordered.
    fn run(&self, op: &Op<'_>) -> Result<()>;

    /// Block until all enqueued work has finished; reports its errors.
    fn synchronize(&self) -> Result<()>;

    /// Start recording a graph: until [`Backend::graph_end`], [`Backend::run`]
    /// records each op (after the usual checks) instead of enqueueing it.
    /// While recording, only `run` and `graph_end` may be called. A graph
    /// captures descriptors, not data: replays read whatever the buffers
    /// hold then, so a decode step whose inputs (token ids, positions,
    /// sequence lengths) live in device buffers records once and replays
    /// every token without per-op host work (CUDA/HIP graphs on GPUs).
    ///
    /// Optional: the default answers `Unsupported` and callers run ops one
    /// by one instead.
    fn graph_begin(&self) -> Result<()> {
        Err(graphs_unsupported(self))
    }

    /// Stop recording and return the graph. If an op failed while recording,
    /// the recording is dropped and this returns that op's error.
    fn graph_end(&self) -> Result<GraphHandle> {
        Err(graphs_unsupported(self))
    }

    /// Enqueue every op of `graph` in recorded order. Stream-ordered. Every
    /// buffer the graph uses must still be alive.
    fn graph_launch(&self, graph: GraphHandle) -> Result<()> {
        let _ = graph;
        Err(graphs_unsupported(self))
    }

    /// Release a graph (unknown handles are ignored).
    fn graph_free(&self, graph: GraphHandle) {
        let _ = graph;
    }
}

fn graphs_unsupported<B: Backend + ?Sized>(b: &B) -> BackendError {
    BackendError::Unsupported { op: "graph".into(), reason: format!("the {} backend does not record graphs", b.name()) }
}
