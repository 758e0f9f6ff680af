//! The GPU runtime: one interface over HIP's two platforms.
//!
//! [`Runtime`] is a library opened at run time (`cuda.rs`: the CUDA driver API
//! in `libcuda.so.1`; `hip.rs`: the HIP runtime in `libamdhip64.so`) behind
//! the crate-private `Driver` trait, which speaks in raw handles. [`Device`] is
//! the safe(r) layer the backend uses: one device, its context and one
//! in-order stream. Everything it enqueues goes to that stream.
//!
//! Every driver call is checked: a failure becomes a [`BackendError`] that
//! names the function and carries the driver's error name and text. Out of
//! memory becomes [`BackendError::OutOfMemory`] with the bytes asked for and
//! free; errors that leave the context unusable (illegal address, launch
//! failure, ECC) become [`BackendError::DeviceLost`].
//!
//! Per-device facts (warp size, compute units, arch) are always queried from
//! the device, never assumed: AMD's wavefront is 64 wide on CDNA and 32 on
//! RDNA, NVIDIA's warp is 32.

mod cuda;
mod hip;

pub(crate) use hip::{rocm_lib_dir, LIBRARY_NAMES as HIP_LIBRARY_NAMES};

use std::ffi::{c_void, CString};
use std::fmt;
use std::sync::Arc;

use rocmforge_backend_api::{BackendError, Result};

/// Which of HIP's platforms a runtime drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    /// ROCm: `libamdhip64` + hiprtc, code objects for `gfx*` targets.
    Amd,
    /// HIP's NVIDIA platform: the CUDA driver + NVRTC, CUBINs for `sm_*`.
    Nvidia,
}

impl Platform {
    /// The value `ROCMFORGE_HIP_PLATFORM` takes for this platform.
    pub fn env_name(self) -> &'static str {
        match self {
            Platform::Amd => "amd",
            Platform::Nvidia => "nvidia",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Platform::Amd => "AMD",
            Platform::Nvidia => "NVIDIA",
        })
    }
}

/// Which platforms [`Runtime::open`] may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformChoice {
    /// AMD if its runtime loads and sees a device, else NVIDIA.
    Auto,
    /// Only this platform (`ROCMFORGE_HIP_PLATFORM=amd|nvidia`).
    Only(Platform),
}

/// Facts about one device, all queried from the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceFacts {
    /// Device ordinal in the runtime's numbering.
    pub ordinal: usize,
    /// Marketing name ("NVIDIA H200", "AMD Instinct MI300X").
    pub name: String,
    /// Architecture: "sm_90" (from compute capability) or "gfx90a" (the
    /// gcnArchName without its feature suffix).
    pub arch: String,
    /// What the kernel compiler is asked to target: "sm_90", or AMD's full
    /// target id with features ("gfx90a:sramecc+:xnack-") so the code object
    /// matches the device's configuration exactly.
    pub target: String,
    /// Threads per warp (wavefront): 32 or 64.
    pub warp_size: u32,
    /// Streaming multiprocessors (NVIDIA) or compute units (AMD).
    pub multiprocessors: u32,
    pub max_threads_per_block: u32,
    /// Static shared memory (LDS) per block, bytes.
    pub shared_memory_per_block: u32,
    /// Device memory in all, bytes.
    pub total_memory: u64,
}

impl DeviceFacts {
    /// One line: "NVIDIA H200 (sm_90, 132 CUs, warp 32, 140 GiB)".
    pub fn summary(&self) -> String {
        format!(
            "{} ({}, {} CUs, warp {}, {:.0} GiB)",
            self.name,
            self.arch,
            self.multiprocessors,
            self.warp_size,
            self.total_memory as f64 / (1u64 << 30) as f64
        )
    }
}

/// An address in device memory (`CUdeviceptr`, or a `hipDeviceptr_t` as an
/// integer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct DevicePtr(pub u64);

impl DevicePtr {
    /// `self + bytes`.
    pub fn offset(self, bytes: u64) -> DevicePtr {
        DevicePtr(self.0 + bytes)
    }
}

/// A raw driver handle (context, stream, module or function).
pub(crate) type Raw = *mut c_void;

/// A device's context: the CUDA primary context of `device`, or on HIP just
/// the ordinal to make current.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawContext {
    /// `CUdevice` (CUDA) or the ordinal (HIP).
    pub device: i32,
    /// `CUcontext` (CUDA) or null (HIP).
    pub handle: Raw,
}

/// A failed driver call: the function, its status code and the driver's
/// name and description of that code.
#[derive(Clone, Debug)]
pub(crate) struct DriverError {
    pub call: &'static str,
    pub code: i32,
    pub text: String,
}

/// `CUDA_ERROR_OUT_OF_MEMORY` and `hipErrorOutOfMemory`.
const CODE_OUT_OF_MEMORY: i32 = 2;

impl DriverError {
    pub fn is_out_of_memory(&self) -> bool {
        self.code == CODE_OUT_OF_MEMORY
    }

    /// Sticky errors: the context is unusable after them, in both CUDA and
    /// HIP numbering (which agree on these codes): ECC uncorrectable (214),
    /// illegal address (700), launch timeout (702), hardware stack error,
    /// illegal instruction, misaligned or invalid address, invalid PC
    /// (714..718, CUDA only), launch failure (719).
    fn is_sticky(&self) -> bool {
        matches!(self.code, 214 | 700 | 702 | 714..=719)
    }
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {} (code {})", self.call, self.text, self.code)
    }
}

impl From<DriverError> for BackendError {
    fn from(e: DriverError) -> BackendError {
        if e.is_out_of_memory() {
            BackendError::OutOfMemory(e.to_string())
        } else if e.is_sticky() {
            BackendError::DeviceLost(e.to_string())
        } else {
            BackendError::Internal(e.to_string())
        }
    }
}

pub(crate) type DResult<T> = std::result::Result<T, DriverError>;

/// What a platform binding provides, in raw handles. Implemented by
/// [`cuda::Cuda`] and [`hip::Hip`]; used only through [`Device`].
///
/// Calls that act on "the current context" need [`Driver::context_bind`]
/// first on the calling thread (CUDA contexts and HIP's current device are
/// per thread).
pub(crate) trait Driver: Send + Sync {
    fn platform(&self) -> Platform;
    /// "CUDA driver 13.0" / "HIP runtime 6.2".
    fn version(&self) -> String;
    /// The library, for messages: "libcuda" / "libamdhip64".
    fn library(&self) -> &'static str;
    /// The function that counts devices, for messages.
    fn count_call(&self) -> &'static str;
    fn device_count(&self) -> DResult<usize>;
    fn device_facts(&self, ordinal: usize) -> DResult<DeviceFacts>;

    fn context_open(&self, ordinal: usize) -> DResult<RawContext>;
    fn context_bind(&self, ctx: &RawContext) -> DResult<()>;
    fn context_close(&self, ctx: &RawContext) -> DResult<()>;

    fn stream_create(&self) -> DResult<Raw>;
    fn stream_synchronize(&self, stream: Raw) -> DResult<()>;
    fn stream_destroy(&self, stream: Raw) -> DResult<()>;

    /// (free, total) bytes of the current device.
    fn mem_info(&self) -> DResult<(u64, u64)>;
    fn malloc(&self, bytes: usize) -> DResult<DevicePtr>;
    /// # Safety
    /// `ptr` must come from `malloc` and not be used after.
    unsafe fn free(&self, ptr: DevicePtr) -> DResult<()>;
    /// # Safety
    /// `src` valid for `n` bytes until the call returns; `dst` a device
    /// allocation with room for `n` bytes.
    unsafe fn memcpy_htod(&self, dst: DevicePtr, src: *const u8, n: usize, stream: Raw) -> DResult<()>;
    /// # Safety
    /// `dst` valid for `n` bytes of writes until the stream has finished the copy.
    unsafe fn memcpy_dtoh(&self, dst: *mut u8, src: DevicePtr, n: usize, stream: Raw) -> DResult<()>;
    /// # Safety
    /// Both ranges inside live device allocations.
    unsafe fn memcpy_dtod(&self, dst: DevicePtr, src: DevicePtr, n: usize, stream: Raw) -> DResult<()>;
    /// # Safety
    /// `dst..dst+n` inside a live device allocation.
    unsafe fn memset_d8(&self, dst: DevicePtr, value: u8, n: usize, stream: Raw) -> DResult<()>;

    /// # Safety
    /// `image` must point to a complete code object / CUBIN.
    unsafe fn module_load(&self, image: *const c_void) -> DResult<Raw>;
    /// # Safety
    /// `module` from `module_load`, no function of it used after.
    unsafe fn module_unload(&self, module: Raw) -> DResult<()>;
    fn module_function(&self, module: Raw, name: &CString) -> DResult<Raw>;
    /// # Safety
    /// `args` must point to one pointer per kernel parameter, each pointing
    /// to a value of that parameter's type; the memory the kernel touches
    /// must stay valid until the stream has run it.
    #[allow(clippy::too_many_arguments)]
    unsafe fn launch(
        &self,
        function: Raw,
        grid: [u32; 3],
        block: [u32; 3],
        shared_bytes: u32,
        stream: Raw,
        args: *mut *mut c_void,
    ) -> DResult<()>;

    /// Start capturing `stream` into a graph (relaxed mode: other threads'
    /// driver calls are not affected).
    fn capture_begin(&self, stream: Raw) -> DResult<()>;
    /// End the capture; returns the graph.
    fn capture_end(&self, stream: Raw) -> DResult<Raw>;
    /// An executable graph from a captured one.
    fn graph_instantiate(&self, graph: Raw) -> DResult<Raw>;
    /// # Safety
    /// `exec` from `graph_instantiate`, not destroyed; everything its
    /// kernels touch stays allocated until the stream has run it.
    unsafe fn graph_launch(&self, exec: Raw, stream: Raw) -> DResult<()>;
    /// # Safety
    /// Handles from `capture_end` / `graph_instantiate`, not used after;
    /// no launch of `exec` pending.
    unsafe fn graph_destroy(&self, graph: Raw, exec: Raw) -> DResult<()>;
}

/// `CU_STREAM_CAPTURE_MODE_RELAXED` and `hipStreamCaptureModeRelaxed`.
pub(crate) const CAPTURE_MODE_RELAXED: std::ffi::c_int = 2;

/// The error for a graph entry point the loaded driver does not export.
pub(crate) fn graphs_missing(call: &'static str) -> DriverError {
    DriverError { call, code: -1, text: "not exported by this driver (too old for graphs)".into() }
}

/// An opened GPU runtime library whose init succeeded and which sees at
/// least one device.
pub struct Runtime {
    driver: Box<dyn Driver>,
}

/// What came of trying one platform.
pub(crate) enum Attempt {
    /// The library is not installed (or not loadable).
    NotLoaded,
    /// It loaded but cannot be used: one line saying why.
    Unusable(String),
}

impl Runtime {
    /// Open a runtime as `choice` says. The error is one line starting with
    /// "no HIP device: ", saying what was found on each platform tried.
    pub fn open(choice: PlatformChoice) -> std::result::Result<Runtime, String> {
        match choice {
            PlatformChoice::Only(p) => Runtime::try_platform(p).map_err(|a| {
                let why = match a {
                    Attempt::NotLoaded => not_loaded(p),
                    Attempt::Unusable(why) => why,
                };
                format!("no HIP device: {why} (ROCMFORGE_HIP_PLATFORM={})", p.env_name())
            }),
            PlatformChoice::Auto => {
                let amd = match Runtime::try_platform(Platform::Amd) {
                    Ok(rt) => return Ok(rt),
                    Err(a) => a,
                };
                let nvidia = match Runtime::try_platform(Platform::Nvidia) {
                    Ok(rt) => return Ok(rt),
                    Err(a) => a,
                };
                Err(match (amd, nvidia) {
                    (Attempt::NotLoaded, Attempt::NotLoaded) => {
                        "no HIP device: neither libamdhip64 (AMD) nor libcuda (NVIDIA) could be loaded".to_string()
                    }
                    (Attempt::NotLoaded, Attempt::Unusable(why)) => {
                        format!("no HIP device: {why} ({} not loadable)", not_loaded_short(Platform::Amd))
                    }
                    (Attempt::Unusable(why), Attempt::NotLoaded) => {
                        format!("no HIP device: {why} ({} not loadable)", not_loaded_short(Platform::Nvidia))
                    }
                    (Attempt::Unusable(a), Attempt::Unusable(n)) => format!("no HIP device: {a}; {n}"),
                })
            }
        }
    }

    fn try_platform(p: Platform) -> std::result::Result<Runtime, Attempt> {
        let driver: Box<dyn Driver> = match p {
            Platform::Amd => Box::new(hip::Hip::open()?),
            Platform::Nvidia => Box::new(cuda::Cuda::open()?),
        };
        match driver.device_count() {
            Ok(0) => Err(Attempt::Unusable(format!("{} loaded but {} = 0", driver.library(), driver.count_call()))),
            Ok(_) => Ok(Runtime { driver }),
            Err(e) => Err(Attempt::Unusable(format!("{} loaded but {e}", driver.library()))),
        }
    }

    pub fn platform(&self) -> Platform {
        self.driver.platform()
    }

    /// "CUDA driver 13.0" / "HIP runtime 6.2".
    pub fn version(&self) -> String {
        self.driver.version()
    }

    pub fn device_count(&self) -> Result<usize> {
        Ok(self.driver.device_count()?)
    }

    /// Facts about device `ordinal`, without creating a context.
    pub fn device_facts(&self, ordinal: usize) -> Result<DeviceFacts> {
        let count = self.device_count()?;
        if ordinal >= count {
            return Err(BackendError::InvalidArgument(format!("device {ordinal} does not exist ({count} device(s))")));
        }
        Ok(self.driver.device_facts(ordinal)?)
    }
}

fn not_loaded(p: Platform) -> String {
    format!("{} could not be loaded", not_loaded_short(p))
}

fn not_loaded_short(p: Platform) -> &'static str {
    match p {
        Platform::Amd => "libamdhip64 (AMD)",
        Platform::Nvidia => "libcuda (NVIDIA)",
    }
}

/// A compiled module loaded on a [`Device`]. Unloaded by
/// [`Device::unload_module`] (the owner decides when no launch needs it).
#[derive(Debug)]
pub struct Module {
    raw: Raw,
}

/// A kernel entry point of a loaded [`Module`]; valid while the module is.
#[derive(Clone, Copy, Debug)]
pub struct Function {
    raw: Raw,
}

// SAFETY: module and function handles are plain identifiers that the
// drivers accept from any thread once the owning context is current (which
// `Device` ensures on every call).
unsafe impl Send for Module {}
// SAFETY: as above; a `Module` is never mutated through `&`.
unsafe impl Sync for Module {}
// SAFETY: as for `Module`.
unsafe impl Send for Function {}
// SAFETY: as for `Module`.
unsafe impl Sync for Function {}

/// One device, its context and one in-order stream: everything the backend
/// enqueues goes to this stream.
///
/// Every method first makes the context current on the calling thread
/// (`cuCtxSetCurrent` / `hipSetDevice`, a thread-local store in both
/// drivers), because the backend may be called from different threads in
/// turn.
pub struct Device {
    rt: Arc<Runtime>,
    ctx: RawContext,
    stream: Raw,
    facts: DeviceFacts,
}

// SAFETY: the context and stream handles may be used from any thread once
// the context is current there (ensured by `bind` in every method); calls
// into one `Device` are serialised by the backend's contract.
unsafe impl Send for Device {}
// SAFETY: as above.
unsafe impl Sync for Device {}

impl Device {
    /// Open device `ordinal`: query its facts, make its context (the CUDA
    /// primary context) and create the stream.
    pub fn open(rt: Arc<Runtime>, ordinal: usize) -> Result<Device> {
        let facts = rt.device_facts(ordinal)?;
        let d = &rt.driver;
        let ctx = d.context_open(ordinal)?;
        let stream = d.context_bind(&ctx).and_then(|()| d.stream_create());
        match stream {
            Ok(stream) => Ok(Device { rt, ctx, stream, facts }),
            Err(e) => {
                let _ = d.context_close(&ctx);
                Err(e.into())
            }
        }
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.rt
    }

    pub fn facts(&self) -> &DeviceFacts {
        &self.facts
    }

    fn driver(&self) -> &dyn Driver {
        self.rt.driver.as_ref()
    }

    fn bind(&self) -> Result<()> {
        Ok(self.driver().context_bind(&self.ctx)?)
    }

    /// (free, total) device memory in bytes, now.
    pub fn mem_info(&self) -> Result<(u64, u64)> {
        self.bind()?;
        Ok(self.driver().mem_info()?)
    }

    /// Allocate `bytes` of device memory (at least 1 byte is allocated, so
    /// every buffer has a distinct address). Out of memory is
    /// [`BackendError::OutOfMemory`] naming the bytes asked for and free.
    pub fn alloc(&self, bytes: u64) -> Result<DevicePtr> {
        self.bind()?;
        let n = usize::try_from(bytes.max(1))
            .map_err(|_| BackendError::OutOfMemory(format!("{bytes} bytes do not fit the host's address size")))?;
        match self.driver().malloc(n) {
            Ok(p) => Ok(p),
            Err(e) if e.is_out_of_memory() => {
                let free = match self.driver().mem_info() {
                    Ok((free, total)) => format!("{} free of {}", bytes_text(free), bytes_text(total)),
                    Err(_) => "free memory unknown".into(),
                };
                Err(BackendError::OutOfMemory(format!("{}: asked for {}, {free}", e.call, bytes_text(bytes))))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Free device memory. Does not wait for the stream: callers that may
    /// still have work in flight on `ptr` synchronize first.
    ///
    /// # Safety
    /// `ptr` must come from [`Device::alloc`] on this device and not be used
    /// afterwards.
    pub unsafe fn free(&self, ptr: DevicePtr) -> Result<()> {
        self.bind()?;
        // SAFETY: caller contract.
        Ok(unsafe { self.driver().free(ptr) }?)
    }

    /// Enqueue a host-to-device copy. `src` may be reused when this returns:
    /// from pageable memory the CUDA driver stages the data before returning
    /// and HIP copies synchronously (both documented behaviours).
    ///
    /// # Safety
    /// `dst..dst+src.len()` must lie in a live allocation of this device.
    pub unsafe fn upload(&self, dst: DevicePtr, src: &[u8]) -> Result<()> {
        if src.is_empty() {
            return Ok(());
        }
        self.bind()?;
        // SAFETY: caller contract on `dst`; `src` is a live slice.
        Ok(unsafe { self.driver().memcpy_htod(dst, src.as_ptr(), src.len(), self.stream) }?)
    }

    /// Copy device memory to the host after all work enqueued before it;
    /// blocks until the data is in `dst`.
    ///
    /// # Safety
    /// `src..src+dst.len()` must lie in a live allocation of this device.
    pub unsafe fn download(&self, dst: &mut [u8], src: DevicePtr) -> Result<()> {
        self.bind()?;
        if !dst.is_empty() {
            // SAFETY: caller contract on `src`; `dst` stays borrowed until
            // the stream synchronize below has returned.
            unsafe { self.driver().memcpy_dtoh(dst.as_mut_ptr(), src, dst.len(), self.stream) }?;
        }
        Ok(self.driver().stream_synchronize(self.stream)?)
    }

    /// Enqueue a device-to-device copy of `bytes`.
    ///
    /// # Safety
    /// Both ranges must lie in live allocations of this device.
    pub unsafe fn copy(&self, dst: DevicePtr, src: DevicePtr, bytes: u64) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        self.bind()?;
        let n = host_len(bytes)?;
        // SAFETY: caller contract.
        Ok(unsafe { self.driver().memcpy_dtod(dst, src, n, self.stream) }?)
    }

    /// Enqueue setting `bytes` bytes at `dst` to `value`.
    ///
    /// # Safety
    /// `dst..dst+bytes` must lie in a live allocation of this device.
    pub unsafe fn memset(&self, dst: DevicePtr, value: u8, bytes: u64) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        self.bind()?;
        let n = host_len(bytes)?;
        // SAFETY: caller contract.
        Ok(unsafe { self.driver().memset_d8(dst, value, n, self.stream) }?)
    }

    /// Block until all work enqueued on the stream has finished; reports
    /// errors of that work.
    pub fn synchronize(&self) -> Result<()> {
        self.bind()?;
        Ok(self.driver().stream_synchronize(self.stream)?)
    }

    /// Load a code object (AMD) or CUBIN (NVIDIA).
    pub fn load_module(&self, image: &[u8]) -> Result<Module> {
        if image.is_empty() {
            return Err(BackendError::InvalidArgument("load_module: empty code object".into()));
        }
        self.bind()?;
        // The loaders parse the image as ELF in place: give them an 8-byte
        // aligned copy rather than rely on the allocator's alignment.
        let mut aligned = vec![0u64; image.len().div_ceil(8)];
        // SAFETY: `aligned` has at least `image.len()` bytes; no overlap.
        unsafe { std::ptr::copy_nonoverlapping(image.as_ptr(), aligned.as_mut_ptr() as *mut u8, image.len()) };
        // SAFETY: a complete image produced by the platform's compiler (or
        // a cache entry whose checksum matched).
        let raw = unsafe { self.driver().module_load(aligned.as_ptr() as *const c_void) }?;
        Ok(Module { raw })
    }

    /// Unload a module.
    ///
    /// # Safety
    /// No enqueued launch of its functions may still be pending (synchronize
    /// first) and none of its [`Function`]s may be used afterwards.
    pub unsafe fn unload_module(&self, module: Module) -> Result<()> {
        self.bind()?;
        // SAFETY: caller contract.
        Ok(unsafe { self.driver().module_unload(module.raw) }?)
    }

    /// Look up a kernel by its (unmangled, `extern "C"`) name.
    pub fn function(&self, module: &Module, name: &str) -> Result<Function> {
        let cname = CString::new(name)
            .map_err(|_| BackendError::InvalidArgument(format!("kernel name {name:?} contains NUL")))?;
        self.bind()?;
        let raw = self
            .driver()
            .module_function(module.raw, &cname)
            .map_err(|e| BackendError::Internal(format!("kernel `{name}`: {e}")))?;
        Ok(Function { raw })
    }

    /// Enqueue a kernel launch. `args` holds one pointer per kernel
    /// parameter, each pointing to that parameter's value (a `DevicePtr`'s
    /// `u64` for a pointer parameter); they are read before this returns.
    ///
    /// Rejects a launch the device cannot run (empty grid or block, more
    /// threads per block than it allows) with `InvalidArgument` instead of
    /// passing it to the driver.
    ///
    /// # Safety
    /// `args` must match the kernel's parameter list in number and types, and
    /// every device range the kernel touches must stay allocated until the
    /// stream has run it.
    pub unsafe fn launch(
        &self,
        function: &Function,
        grid: [u32; 3],
        block: [u32; 3],
        shared_bytes: u32,
        args: &mut [*mut c_void],
    ) -> Result<()> {
        let threads = block.iter().map(|&b| b as u64).product::<u64>();
        if grid.contains(&0) || threads == 0 || threads > self.facts.max_threads_per_block as u64 {
            return Err(BackendError::InvalidArgument(format!(
                "launch: grid {grid:?} block {block:?}: empty, or more than {} threads per block",
                self.facts.max_threads_per_block
            )));
        }
        self.bind()?;
        let argp = if args.is_empty() { std::ptr::null_mut() } else { args.as_mut_ptr() };
        // SAFETY: caller contract.
        Ok(unsafe { self.driver().launch(function.raw, grid, block, shared_bytes, self.stream, argp) }?)
    }
}

/// A captured and instantiated graph of one [`Device`]'s stream.
pub struct DeviceGraph {
    graph: Raw,
    exec: Raw,
}

// SAFETY: plain driver handles, usable from any thread with the context
// current (as for `Device`).
unsafe impl Send for DeviceGraph {}
// SAFETY: as above.
unsafe impl Sync for DeviceGraph {}

impl Device {
    /// Start capturing the stream: launches until [`Device::end_capture`]
    /// are recorded into a graph instead of run.
    pub fn begin_capture(&self) -> Result<()> {
        self.bind()?;
        Ok(self.driver().capture_begin(self.stream)?)
    }

    /// End the capture and instantiate the graph.
    pub fn end_capture(&self) -> Result<DeviceGraph> {
        self.bind()?;
        let d = self.driver();
        let graph = d.capture_end(self.stream)?;
        match d.graph_instantiate(graph) {
            Ok(exec) => Ok(DeviceGraph { graph, exec }),
            Err(e) => {
                // SAFETY: `graph` was just captured; no exec exists.
                let _ = unsafe { d.graph_destroy(graph, std::ptr::null_mut()) };
                Err(e.into())
            }
        }
    }

    /// Enqueue a graph on the stream.
    ///
    /// # Safety
    /// Every device range the graph's kernels touch must still be allocated
    /// and stay so until the stream has run it.
    pub unsafe fn launch_graph(&self, g: &DeviceGraph) -> Result<()> {
        self.bind()?;
        // SAFETY: caller contract; `g` is alive.
        Ok(unsafe { self.driver().graph_launch(g.exec, self.stream) }?)
    }

    /// Destroy a graph after the work already enqueued has finished.
    pub fn destroy_graph(&self, g: DeviceGraph) -> Result<()> {
        self.synchronize()?;
        // SAFETY: nothing of `g` is pending (synchronized) and `g` is consumed.
        Ok(unsafe { self.driver().graph_destroy(g.graph, g.exec) }?)
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // Errors cannot be reported from here; each step is still attempted.
        let d = self.rt.driver.as_ref();
        if d.context_bind(&self.ctx).is_ok() {
            let _ = d.stream_synchronize(self.stream);
            let _ = d.stream_destroy(self.stream);
        }
        let _ = d.context_close(&self.ctx);
    }
}

fn host_len(bytes: u64) -> Result<usize> {
    usize::try_from(bytes).map_err(|_| BackendError::InvalidArgument(format!("{bytes} bytes exceed the address size")))
}

/// "1073741824 bytes (1.00 GiB)".
pub(crate) fn bytes_text(n: u64) -> String {
    format!("{n} bytes ({:.2} GiB)", n as f64 / (1u64 << 30) as f64)
}

/// The H200's facts as the driver reports them, for unit tests of launch
/// shapes and descriptions.
#[cfg(test)]
pub(crate) fn h200_facts() -> DeviceFacts {
    DeviceFacts {
        ordinal: 0,
        name: "NVIDIA H200".into(),
        arch: "sm_90".into(),
        target: "sm_90".into(),
        warp_size: 32,
        multiprocessors: 132,
        max_threads_per_block: 1024,
        shared_memory_per_block: 48 * 1024,
        total_memory: 143771 << 20,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_errors_map_to_backend_errors() {
        let e = |code| DriverError { call: "cuMemAlloc_v2", code, text: "X: y".into() };
        assert!(matches!(BackendError::from(e(2)), BackendError::OutOfMemory(_)));
        assert!(matches!(BackendError::from(e(700)), BackendError::DeviceLost(_)));
        assert!(matches!(BackendError::from(e(719)), BackendError::DeviceLost(_)));
        let other = BackendError::from(e(1));
        assert!(matches!(other, BackendError::Internal(_)));
        assert!(other.to_string().contains("cuMemAlloc_v2 failed: X: y (code 1)"), "{other}");
    }

    #[test]
    fn summary_is_one_line() {
        assert_eq!(h200_facts().summary(), "NVIDIA H200 (sm_90, 132 CUs, warp 32, 140 GiB)");
    }
}
