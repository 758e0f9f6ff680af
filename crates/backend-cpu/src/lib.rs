//! ROCmForge's CPU backend: the correctness oracle.
//!
//! Every other backend is tested against this one, so it is written to be
//! clearly right first: each op reads its inputs as f32 (dequantizing ggml
//! blocks bit-exactly as ggml does), accumulates in f32, and is parallel over
//! independent rows with rayon. It runs directly on host memory, including
//! mmapped GGUF weights wrapped with `buffer_from_host` (no copy).
//!
//! Built as an rlib (tests call it in process) and as a cdylib plugin
//! (`librocmforge_backend_cpu.so`, what `rocmforge --backend cpu` loads).

pub mod quant;

mod graphs;
mod ops;
mod storage;

use rocmforge_backend_api::{
    validate::validate_op, Backend, BackendError, BufferHandle, DeviceInfo, DeviceKind, GraphHandle, Op, Probe, Result,
};

use graphs::Graphs;

use storage::Storage;

/// The CPU backend. Ops run synchronously on the calling thread (and the
/// rayon pool), so the stream is trivially in order.
#[derive(Default)]
pub struct CpuBackend {
    storage: Storage,
    graphs: Graphs,
}

impl CpuBackend {
    pub fn new() -> Result<CpuBackend> {
        Ok(CpuBackend::default())
    }

    /// While a graph is recorded only ops may be called (as on a GPU, where
    /// anything else would break the capture).
    fn not_recording(&self, call: &str) -> Result<()> {
        if self.graphs.is_recording() {
            return Err(BackendError::InvalidArgument(format!("{call} while recording a graph")));
        }
        Ok(())
    }
}

/// The CPU can always run; a low score so a usable GPU wins.
pub fn probe() -> Probe {
    Probe { score: 1, description: cpu_name() }
}

fn cpu_name() -> String {
    format!("cpu ({} threads)", rayon::current_num_threads())
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        "cpu".into()
    }

    fn device_info(&self) -> Result<DeviceInfo> {
        Ok(DeviceInfo {
            name: cpu_name(),
            kind: DeviceKind::Cpu,
            total_memory: storage::total_memory(),
            free_memory: storage::available_memory(),
        })
    }

    fn supports_op(&self, op: &Op<'_>) -> bool {
        // Every op and dtype of the interface is implemented here.
        validate_op(op).is_ok()
    }

    fn buffer_alloc(&self, size: u64) -> Result<BufferHandle> {
        self.storage.alloc(size)
    }

    unsafe fn buffer_from_host(&self, ptr: *const u8, len: u64) -> Result<BufferHandle> {
        // SAFETY: forwarded caller contract.
        unsafe { self.storage.wrap_host(ptr, len) }
    }

    fn buffer_free(&self, buffer: BufferHandle) {
        self.storage.free(buffer)
    }

    fn buffer_upload(&self, buffer: BufferHandle, offset: u64, data: &[u8]) -> Result<()> {
        self.not_recording("buffer_upload")?;
        // SAFETY: `data` is host memory of the caller, not one of our buffers
        // being written elsewhere; one call at a time.
        let dst = unsafe { self.storage.bytes_mut(buffer, offset, data.len() as u64) }?;
        dst.copy_from_slice(data);
        Ok(())
    }

    fn buffer_download(&self, buffer: BufferHandle, offset: u64, out: &mut [u8]) -> Result<()> {
        self.not_recording("buffer_download")?;
        // SAFETY: read-only borrow; `out` is the caller's memory.
        let src = unsafe { self.storage.bytes(buffer, offset, out.len() as u64) }?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn buffer_copy(
        &self,
        src: BufferHandle,
        src_offset: u64,
        dst: BufferHandle,
        dst_offset: u64,
        len: u64,
    ) -> Result<()> {
        self.not_recording("buffer_copy")?;
        if src == dst && src_offset < dst_offset.saturating_add(len) && dst_offset < src_offset.saturating_add(len) {
            return Err(BackendError::InvalidArgument("buffer_copy: source and destination ranges overlap".into()));
        }
        // SAFETY: the ranges do not overlap (checked above).
        let (s, d) =
            unsafe { (self.storage.bytes(src, src_offset, len)?, self.storage.bytes_mut(dst, dst_offset, len)?) };
        d.copy_from_slice(s);
        Ok(())
    }

    fn run(&self, op: &Op<'_>) -> Result<()> {
        // Validation is what makes the borrows in `ops` sound: keep it first.
        validate_op(op)?;
        if self.graphs.record(op.to_owned_op()) {
            return Ok(());
        }
        ops::dispatch(&self.storage, op)
    }

    fn synchronize(&self) -> Result<()> {
        self.not_recording("synchronize")
    }

    fn graph_begin(&self) -> Result<()> {
        self.graphs.begin()
    }

    fn graph_end(&self) -> Result<GraphHandle> {
        self.graphs.end()
    }

    fn graph_launch(&self, graph: GraphHandle) -> Result<()> {
        self.not_recording("graph_launch")?;
        for op in self.graphs.ops(graph)?.iter() {
            ops::dispatch(&self.storage, &op.as_op())?;
        }
        Ok(())
    }

    fn graph_free(&self, graph: GraphHandle) {
        self.graphs.free(graph)
    }
}

rocmforge_backend_api::export_backend!(probe = probe, init = CpuBackend::new);
