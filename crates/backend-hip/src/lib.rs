//! ROCmForge's HIP backend: our own kernels, written once in HIP's dialect,
//! on both of HIP's platforms.
//!
//! Design choices:
//! - **Two platforms, one source.** HIP runs on AMD (the ROCm runtime
//!   `libamdhip64.so` + the `hiprtc` compiler) and on NVIDIA (where HIP is a
//!   thin layer over the CUDA driver `libcuda.so.1` + NVRTC). [`runtime`]
//!   binds both behind one [`runtime::Device`]; [`compile`] compiles the same
//!   kernel text with whichever compiler belongs to the device.
//! - **Everything is opened at run time.** No GPU library is linked: the
//!   plugin `dlopen`s the runtime and compiler when it starts, so it builds
//!   and loads on any machine, and [`probe`] answers "no HIP device: ..."
//!   where there is none. We bind the few dozen functions we use ourselves
//!   (through `libloading`), and do **not** use `hip-sys`: its build script
//!   panics without ROCm headers, and it links `libamdhip64` at load time,
//!   which would make the plugin fail to load on every machine without ROCm
//!   (including every NVIDIA machine).
//! - **Platform choice.** By what is present, AMD first, then NVIDIA;
//!   `ROCMFORGE_HIP_PLATFORM=amd|nvidia` forces one (any other value is an
//!   error), `ROCMFORGE_HIP_DEVICE` picks the device (default 0). See
//!   [`config`].
//! - **Facts are queried, never assumed.** Warp size (32 or 64), compute
//!   units, arch ("gfx90a", "sm_90") come from the driver
//!   ([`runtime::DeviceFacts`]) and reach kernels as compile-time defines.
//! - **Kernels compiled on first use, cached on disk.** Sources are embedded
//!   in the plugin ([`kernels`]), compiled for the exact device and cached
//!   under `$ROCMFORGE_CACHE_DIR/kernels` (else `$XDG_CACHE_HOME/rocmforge/kernels`,
//!   else `~/.cache/rocmforge/kernels`) keyed by a hash of source, headers,
//!   target, compiler version and options ([`compile::cache`]).
//! - **One device, one in-order stream.** Uploads, copies and launches only
//!   enqueue; `buffer_download` and `synchronize` block. Buffers are device
//!   memory; `buffer_from_host` copies into device memory (read-only after).
//! - **Errors, not aborts.** Every driver call is checked; a failure becomes
//!   a [`BackendError`] naming the function and the driver's error text.
//!   Out of memory names the bytes asked for and free.
//!
//! Ops: one launcher file per op family in `src/ops/` with its
//! kernels in `kernels/<family>.hip`; every op of the interface is there,
//! checked against the CPU oracle by `rocmforge check` (crates/conformance).

pub mod compile;
pub mod config;
pub(crate) mod dl;
pub mod kernels;
pub mod runtime;

mod buffers;
mod graphs;
mod ops;

use std::sync::{Arc, Mutex};

use rocmforge_backend_api::{
    validate::validate_op, Backend, BackendError, BufferHandle, DeviceInfo, DeviceKind, GraphHandle, Op, Probe, Result,
    TensorDesc,
};

use buffers::{Buffer, BufferTable};
use compile::{Compiler, KernelSource, Target};
pub use config::Config;
use graphs::{Graphs, Recorded};
use kernels::KernelTable;
use runtime::{Device, DeviceFacts, DevicePtr, Function, Runtime};

/// Can this machine run the HIP backend? Score 100 and the device
/// ("NVIDIA H200 (sm_90, 132 CUs, warp 32, 140 GiB) via CUDA driver 13.0 +
/// NVRTC 13.0"), or 0 and one line saying why not. Creates no context.
pub fn probe() -> Probe {
    match Config::from_env() {
        Ok(cfg) => probe_with(&cfg),
        Err(e) => Probe { score: 0, description: e.to_string() },
    }
}

/// [`probe`] with explicit settings.
pub fn probe_with(cfg: &Config) -> Probe {
    let no = |description: String| Probe { score: 0, description };
    let rt = match Runtime::open(cfg.platform) {
        Ok(rt) => rt,
        Err(reason) => return no(reason),
    };
    let facts = match rt.device_facts(cfg.device) {
        Ok(f) => f,
        Err(e) => return no(format!("no HIP device: {}", e.message())),
    };
    let compiler = match Compiler::open(rt.platform(), None) {
        Ok(c) => c,
        Err(reason) => return no(format!("{} found, but {reason}", facts.summary())),
    };
    Probe { score: 100, description: describe(&facts, &rt, &compiler) }
}

fn describe(facts: &DeviceFacts, rt: &Runtime, compiler: &Compiler) -> String {
    format!("{} via {} + {}", facts.summary(), rt.version(), compiler.version())
}

/// Bytes of the backend's scratch buffer ([`HipBackend::scratch`]).
pub const SCRATCH_BYTES: u64 = 16 << 20;

/// The HIP backend: one device, one stream, the device's kernel compiler.
pub struct HipBackend {
    device: Device,
    compiler: Compiler,
    target: Target,
    buffers: BufferTable,
    kernels: KernelTable,
    graphs: Graphs,
    /// [`SCRATCH_BYTES`] of device memory for ops' intermediate results.
    scratch: DevicePtr,
    /// An error from a call that cannot return one (`buffer_free`), reported
    /// by the next `synchronize`.
    deferred: Mutex<Option<BackendError>>,
    description: String,
}

impl HipBackend {
    /// Open the runtime chosen by the environment ([`config`]), select the
    /// device and create its stream.
    pub fn new() -> Result<HipBackend> {
        HipBackend::with_config(Config::from_env()?)
    }

    /// [`HipBackend::new`] with explicit settings.
    pub fn with_config(cfg: Config) -> Result<HipBackend> {
        let unusable = |reason: String| BackendError::Unsupported { op: "hip backend init".into(), reason };
        let rt = Arc::new(Runtime::open(cfg.platform).map_err(unusable)?);
        let compiler = Compiler::open(rt.platform(), cfg.cache_dir.clone()).map_err(unusable)?;
        let device = Device::open(rt.clone(), cfg.device)?;
        let target = Target::for_device(rt.platform(), device.facts());
        let description = describe(device.facts(), &rt, &compiler);
        let scratch = device.alloc(SCRATCH_BYTES)?;
        Ok(HipBackend {
            device,
            compiler,
            target,
            buffers: BufferTable::default(),
            kernels: KernelTable::default(),
            graphs: Graphs::default(),
            scratch,
            deferred: Mutex::new(None),
            description,
        })
    }

    /// The device, its context and stream (for launches).
    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn facts(&self) -> &DeviceFacts {
        self.device.facts()
    }

    pub fn compiler(&self) -> &Compiler {
        &self.compiler
    }

    /// What kernels are compiled for.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// One line: device, driver and compiler versions.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Kernel `name` from `src`, compiled (through the disk cache) and loaded
    /// on first use; later calls are a map lookup.
    pub fn kernel(&self, src: &KernelSource<'static>, name: &'static str) -> Result<Function> {
        self.kernels.function(&self.device, &self.compiler, &self.target, src, name)
    }

    /// Device address of bytes `[offset, offset + len)` of a buffer, checked
    /// to lie inside it (and to be writable when `write`).
    pub fn buffer_ptr(&self, buffer: BufferHandle, offset: u64, len: u64, write: bool) -> Result<DevicePtr> {
        self.buffers.range(buffer, offset, len, write)
    }

    /// Device address of a tensor's first byte, with its whole byte range
    /// checked to lie in its buffer (and to be writable when `write`).
    pub fn tensor_ptr(&self, t: &TensorDesc, write: bool) -> Result<DevicePtr> {
        let (start, end) = t
            .byte_range()
            .ok_or_else(|| BackendError::InvalidArgument(format!("malformed tensor descriptor {:?}", t.shape())))?;
        self.buffers.range(t.buffer, start, end - start, write)
    }

    /// Device memory an op may use for intermediate results between its own
    /// launches (split-K attention's partial states): address and length
    /// ([`SCRATCH_BYTES`]). Allocated once with the backend, so no op
    /// allocates mid-forward (which would sync the stream or break a graph
    /// capture). Ops are enqueued one at a time on the one stream, so each
    /// may use all of it: the next op's kernels run after this one's.
    pub fn scratch(&self) -> (DevicePtr, u64) {
        (self.scratch, SCRATCH_BYTES)
    }

    fn defer(&self, e: BackendError) {
        let mut d = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        d.get_or_insert(e);
    }
}

impl Drop for HipBackend {
    fn drop(&mut self) {
        // Nothing may still run on memory or code we release.
        if self.graphs.end().is_ok() {
            // Dropped while recording: leave capture mode first.
            let _ = self.device.end_capture().map(|g| self.device.destroy_graph(g));
        }
        let _ = self.device.synchronize();
        for r in self.graphs.drain() {
            let _ = self.device.destroy_graph(r.graph);
        }
        for b in self.buffers.drain() {
            // SAFETY: allocated by this device; the table no longer hands it out.
            let _ = unsafe { self.device.free(b.ptr) };
        }
        // SAFETY: allocated by this device; the stream is idle.
        let _ = unsafe { self.device.free(self.scratch) };
        for m in self.kernels.drain() {
            // SAFETY: the stream is idle and the function table was cleared.
            let _ = unsafe { self.device.unload_module(m) };
        }
        // `device` then destroys the stream and releases the context.
    }
}

impl Backend for HipBackend {
    fn name(&self) -> String {
        "hip".into()
    }

    fn device_info(&self) -> Result<DeviceInfo> {
        let (free, total) = self.device.mem_info()?;
        Ok(DeviceInfo {
            name: self.facts().name.clone(),
            kind: DeviceKind::Gpu,
            total_memory: total,
            free_memory: free,
        })
    }

    fn supports_op(&self, op: &Op<'_>) -> bool {
        validate_op(op).is_ok() && ops::supports(self, op)
    }

    fn buffer_alloc(&self, size: u64) -> Result<BufferHandle> {
        let ptr = self.device.alloc(size)?;
        Ok(self.buffers.insert(Buffer { ptr, len: size, read_only: false }))
    }

    unsafe fn buffer_from_host(&self, ptr: *const u8, len: u64) -> Result<BufferHandle> {
        let n = usize::try_from(len).map_err(|_| BackendError::InvalidArgument(format!("host length {len}")))?;
        if ptr.is_null() && n > 0 {
            return Err(BackendError::InvalidArgument("null host pointer".into()));
        }
        let data = if n == 0 {
            &[][..]
        } else {
            // SAFETY: caller contract: readable for `len` bytes while the
            // buffer lives, which covers the (possibly deferred) copy.
            unsafe { std::slice::from_raw_parts(ptr, n) }
        };
        let dptr = self.device.alloc(len)?;
        // SAFETY: `dptr` was just allocated with `len` bytes.
        if let Err(e) = unsafe { self.device.upload(dptr, data) } {
            // SAFETY: nothing else knows `dptr`.
            let _ = unsafe { self.device.free(dptr) };
            return Err(e);
        }
        Ok(self.buffers.insert(Buffer { ptr: dptr, len, read_only: true }))
    }

    fn buffer_free(&self, buffer: BufferHandle) {
        if self.graphs.defer_free(buffer) {
            return; // freed when the recording ends: a synchronize would break the capture
        }
        let Some(b) = self.buffers.remove(buffer) else { return };
        // "After the work already enqueued on it": wait for the stream, since
        // freeing does not order itself after our non-blocking stream.
        let r = self.device.synchronize().and_then(|()| {
            // SAFETY: removed from the table; the stream is idle.
            unsafe { self.device.free(b.ptr) }
        });
        if let Err(e) = r {
            self.defer(e);
        }
    }

    fn buffer_upload(&self, buffer: BufferHandle, offset: u64, data: &[u8]) -> Result<()> {
        self.graphs.not_recording("buffer_upload")?;
        let dst = self.buffers.range(buffer, offset, data.len() as u64, true)?;
        // SAFETY: range checked against the live allocation.
        unsafe { self.device.upload(dst, data) }
    }

    fn buffer_download(&self, buffer: BufferHandle, offset: u64, out: &mut [u8]) -> Result<()> {
        self.graphs.not_recording("buffer_download")?;
        let src = self.buffers.range(buffer, offset, out.len() as u64, false)?;
        // SAFETY: range checked against the live allocation.
        unsafe { self.device.download(out, src) }
    }

    fn buffer_copy(
        &self,
        src: BufferHandle,
        src_offset: u64,
        dst: BufferHandle,
        dst_offset: u64,
        len: u64,
    ) -> Result<()> {
        self.graphs.not_recording("buffer_copy")?;
        if src == dst && src_offset < dst_offset.saturating_add(len) && dst_offset < src_offset.saturating_add(len) {
            return Err(BackendError::InvalidArgument("buffer_copy: source and destination ranges overlap".into()));
        }
        let s = self.buffers.range(src, src_offset, len, false)?;
        let d = self.buffers.range(dst, dst_offset, len, true)?;
        // SAFETY: both ranges checked against live allocations, disjoint.
        unsafe { self.device.copy(d, s, len) }
    }

    fn run(&self, op: &Op<'_>) -> Result<()> {
        // Validation is what keeps a bad shape from reaching a launch.
        let r = validate_op(op).and_then(|()| ops::run(self, op));
        self.graphs.note_op(op, &r);
        r
    }

    fn synchronize(&self) -> Result<()> {
        self.graphs.not_recording("synchronize")?;
        let r = self.device.synchronize();
        let deferred = self.deferred.lock().unwrap_or_else(|p| p.into_inner()).take();
        match deferred {
            Some(e) => Err(e),
            None => r,
        }
    }

    fn graph_begin(&self) -> Result<()> {
        self.graphs.begin()?;
        if let Err(e) = self.device.begin_capture() {
            let _ = self.graphs.end();
            return Err(e);
        }
        Ok(())
    }

    fn graph_end(&self) -> Result<GraphHandle> {
        let rec = self.graphs.end()?;
        // Always leave capture mode, even when an op failed.
        let captured = self.device.end_capture();
        for b in rec.pending_frees {
            self.buffer_free(b);
        }
        let graph = captured?;
        if let Some(e) = rec.error {
            let _ = self.device.destroy_graph(graph);
            return Err(e);
        }
        Ok(self.graphs.insert(Recorded { graph, buffers: rec.buffers.into_iter().collect() }))
    }

    fn graph_launch(&self, h: GraphHandle) -> Result<()> {
        self.graphs.not_recording("graph_launch")?;
        self.graphs.with(h, |r| {
            for &b in &r.buffers {
                self.buffers.range(b, 0, 0, false).map_err(|_| {
                    BackendError::InvalidArgument(format!("graph_launch: graph {} uses freed buffer {}", h.0, b.0))
                })?;
            }
            // SAFETY: every buffer the graph's kernels touch is alive (checked
            // above, handles are never reused) and the ranges were checked
            // when the ops were recorded.
            unsafe { self.device.launch_graph(&r.graph) }
        })
    }

    fn graph_free(&self, graph: GraphHandle) {
        if let Some(r) = self.graphs.remove(graph) {
            if let Err(e) = self.device.destroy_graph(r.graph) {
                self.defer(e);
            }
        }
    }
}

rocmforge_backend_api::export_backend!(probe = probe, init = HipBackend::new);
