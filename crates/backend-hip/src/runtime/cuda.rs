//! HIP's NVIDIA platform: the CUDA driver API (`libcuda.so.1`), bound at run
//! time. This is what HIP itself maps to on NVIDIA; binding it directly
//! avoids HIP's NVIDIA headers, which do not build against CUDA 13.
//!
//! Symbols are the exported `_v2` names that `cuda.h` maps the plain names
//! to (`cuMemAlloc` is `#define`d to `cuMemAlloc_v2`, and so on); binding a
//! plain name would get the legacy 32-bit-size entry point.

use std::ffi::{c_char, c_int, c_uchar, c_uint, c_void, CString};

use super::{Attempt, DResult, DeviceFacts, DevicePtr, Driver, DriverError, Platform, Raw, RawContext};
use crate::dl::{self, c_api};

type CUresult = c_int;
type CUdevice = c_int;
type CUdeviceptr = u64;

const CUDA_SUCCESS: CUresult = 0;
const CU_STREAM_NON_BLOCKING: c_uint = 0x1;

// CUdevice_attribute values (cuda.h).
const ATTR_MAX_THREADS_PER_BLOCK: c_int = 1;
const ATTR_MAX_SHARED_MEMORY_PER_BLOCK: c_int = 8;
const ATTR_WARP_SIZE: c_int = 10;
const ATTR_MULTIPROCESSOR_COUNT: c_int = 16;
const ATTR_COMPUTE_CAPABILITY_MAJOR: c_int = 75;
const ATTR_COMPUTE_CAPABILITY_MINOR: c_int = 76;

c_api! {
    /// The CUDA driver functions the backend uses.
    pub(crate) struct CudaFns {
        fn cuInit(flags: c_uint) -> CUresult;
        fn cuDriverGetVersion(version: *mut c_int) -> CUresult;
        fn cuDeviceGetCount(count: *mut c_int) -> CUresult;
        fn cuDeviceGet(device: *mut CUdevice, ordinal: c_int) -> CUresult;
        fn cuDeviceGetName(name: *mut c_char, len: c_int, dev: CUdevice) -> CUresult;
        fn cuDeviceGetAttribute(value: *mut c_int, attrib: c_int, dev: CUdevice) -> CUresult;
        fn cuDeviceTotalMem_v2(bytes: *mut usize, dev: CUdevice) -> CUresult;
        fn cuDevicePrimaryCtxRetain(ctx: *mut Raw, dev: CUdevice) -> CUresult;
        fn cuDevicePrimaryCtxRelease_v2(dev: CUdevice) -> CUresult;
        fn cuCtxSetCurrent(ctx: Raw) -> CUresult;
        fn cuStreamCreate(stream: *mut Raw, flags: c_uint) -> CUresult;
        fn cuStreamSynchronize(stream: Raw) -> CUresult;
        fn cuStreamDestroy_v2(stream: Raw) -> CUresult;
        fn cuMemAlloc_v2(dptr: *mut CUdeviceptr, bytes: usize) -> CUresult;
        fn cuMemFree_v2(dptr: CUdeviceptr) -> CUresult;
        fn cuMemGetInfo_v2(free: *mut usize, total: *mut usize) -> CUresult;
        fn cuMemcpyHtoDAsync_v2(dst: CUdeviceptr, src: *const c_void, n: usize, stream: Raw) -> CUresult;
        fn cuMemcpyDtoHAsync_v2(dst: *mut c_void, src: CUdeviceptr, n: usize, stream: Raw) -> CUresult;
        fn cuMemcpyDtoDAsync_v2(dst: CUdeviceptr, src: CUdeviceptr, n: usize, stream: Raw) -> CUresult;
        fn cuMemsetD8Async(dst: CUdeviceptr, value: c_uchar, n: usize, stream: Raw) -> CUresult;
        fn cuModuleLoadData(module: *mut Raw, image: *const c_void) -> CUresult;
        fn cuModuleUnload(module: Raw) -> CUresult;
        fn cuModuleGetFunction(function: *mut Raw, module: Raw, name: *const c_char) -> CUresult;
        fn cuLaunchKernel(
            function: Raw,
            grid_x: c_uint,
            grid_y: c_uint,
            grid_z: c_uint,
            block_x: c_uint,
            block_y: c_uint,
            block_z: c_uint,
            shared_bytes: c_uint,
            stream: Raw,
            params: *mut *mut c_void,
            extra: *mut *mut c_void
        ) -> CUresult;
        fn cuGetErrorName(error: CUresult, name: *mut *const c_char) -> CUresult;
        fn cuGetErrorString(error: CUresult, text: *mut *const c_char) -> CUresult;
    }
}

c_api! {
    /// Stream capture and graphs (CUDA 11.4+), bound separately so an older
    /// driver still runs everything else.
    pub(crate) struct CudaGraphFns {
        fn cuStreamBeginCapture_v2(stream: Raw, mode: c_int) -> CUresult;
        fn cuStreamEndCapture(stream: Raw, graph: *mut Raw) -> CUresult;
        fn cuGraphInstantiateWithFlags(exec: *mut Raw, graph: Raw, flags: u64) -> CUresult;
        fn cuGraphLaunch(exec: Raw, stream: Raw) -> CUresult;
        fn cuGraphExecDestroy(exec: Raw) -> CUresult;
        fn cuGraphDestroy(graph: Raw) -> CUresult;
    }
}

/// The CUDA driver, initialised.
pub(crate) struct Cuda {
    f: CudaFns,
    graphs: Option<CudaGraphFns>,
    version: c_int,
}

impl Cuda {
    /// Load `libcuda.so.1`, bind the functions and call `cuInit`.
    pub(crate) fn open() -> Result<Cuda, Attempt> {
        let dirs = [std::path::PathBuf::from("/usr/local/nvidia/lib64"), std::path::PathBuf::from("/usr/lib/wsl/lib")];
        let names = dl::candidates(&["libcuda.so.1", "libcuda.so"], &dirs);
        let (lib, _name) = dl::open_first(&names).map_err(|_| Attempt::NotLoaded)?;
        // SAFETY: libcuda exports these symbols with the signatures of cuda.h.
        let f = unsafe { CudaFns::load(lib) }
            .map_err(|missing| Attempt::Unusable(format!("libcuda loaded but {missing} (driver too old?)")))?;
        // SAFETY: as above, with the signatures of cuda.h.
        let graphs = unsafe { CudaGraphFns::load(lib) }.ok();
        let cuda = Cuda { f, graphs, version: 0 };
        // SAFETY: plain FFI call.
        cuda.check("cuInit", unsafe { (cuda.f.cuInit)(0) })
            .map_err(|e| Attempt::Unusable(format!("libcuda loaded but {e}")))?;
        let mut version = 0;
        // SAFETY: valid out pointer.
        cuda.check("cuDriverGetVersion", unsafe { (cuda.f.cuDriverGetVersion)(&mut version) })
            .map_err(|e| Attempt::Unusable(format!("libcuda loaded but {e}")))?;
        Ok(Cuda { version, ..cuda })
    }

    fn error_text(&self, code: CUresult) -> String {
        let mut name: *const c_char = std::ptr::null();
        let mut text: *const c_char = std::ptr::null();
        // SAFETY: out pointers are valid; the driver returns static strings
        // (or leaves them null / fails for an unknown code).
        let (name, text) = unsafe {
            let name = if (self.f.cuGetErrorName)(code, &mut name) == CUDA_SUCCESS { dl::c_str(name) } else { None };
            let text = if (self.f.cuGetErrorString)(code, &mut text) == CUDA_SUCCESS { dl::c_str(text) } else { None };
            (name, text)
        };
        match (name, text) {
            (Some(n), Some(t)) => format!("{n}: {t}"),
            (Some(s), None) | (None, Some(s)) => s,
            (None, None) => "unknown CUDA error".into(),
        }
    }

    fn check(&self, call: &'static str, code: CUresult) -> DResult<()> {
        if code == CUDA_SUCCESS {
            Ok(())
        } else {
            Err(DriverError { call, code, text: self.error_text(code) })
        }
    }

    fn graph_fns(&self, call: &'static str) -> DResult<&CudaGraphFns> {
        self.graphs.as_ref().ok_or_else(|| super::graphs_missing(call))
    }

    fn attribute(&self, dev: CUdevice, attrib: c_int) -> DResult<i32> {
        let mut v = 0;
        // SAFETY: valid out pointer.
        self.check("cuDeviceGetAttribute", unsafe { (self.f.cuDeviceGetAttribute)(&mut v, attrib, dev) })?;
        Ok(v)
    }

    fn device(&self, ordinal: usize) -> DResult<CUdevice> {
        let mut dev = 0;
        // SAFETY: valid out pointer.
        self.check("cuDeviceGet", unsafe { (self.f.cuDeviceGet)(&mut dev, ordinal as c_int) })?;
        Ok(dev)
    }
}

/// A value the driver returned that cannot be right.
fn implausible(call: &'static str, what: String) -> DriverError {
    DriverError { call, code: -1, text: what }
}

impl Driver for Cuda {
    fn platform(&self) -> Platform {
        Platform::Nvidia
    }

    fn version(&self) -> String {
        format!("CUDA driver {}.{}", self.version / 1000, (self.version % 1000) / 10)
    }

    fn library(&self) -> &'static str {
        "libcuda"
    }

    fn count_call(&self) -> &'static str {
        "cuDeviceGetCount"
    }

    fn device_count(&self) -> DResult<usize> {
        let mut n = 0;
        // SAFETY: valid out pointer.
        self.check("cuDeviceGetCount", unsafe { (self.f.cuDeviceGetCount)(&mut n) })?;
        Ok(n.max(0) as usize)
    }

    fn device_facts(&self, ordinal: usize) -> DResult<DeviceFacts> {
        let dev = self.device(ordinal)?;
        let mut name = [0u8; 256];
        // SAFETY: the buffer holds `len` bytes.
        self.check("cuDeviceGetName", unsafe {
            (self.f.cuDeviceGetName)(name.as_mut_ptr() as *mut c_char, name.len() as c_int, dev)
        })?;
        let mut total = 0usize;
        // SAFETY: valid out pointer.
        self.check("cuDeviceTotalMem_v2", unsafe { (self.f.cuDeviceTotalMem_v2)(&mut total, dev) })?;
        let major = self.attribute(dev, ATTR_COMPUTE_CAPABILITY_MAJOR)?;
        let minor = self.attribute(dev, ATTR_COMPUTE_CAPABILITY_MINOR)?;
        let warp = self.attribute(dev, ATTR_WARP_SIZE)?;
        if warp != 32 && warp != 64 {
            return Err(implausible("cuDeviceGetAttribute", format!("warp size {warp} (expected 32 or 64)")));
        }
        let sms = self.attribute(dev, ATTR_MULTIPROCESSOR_COUNT)?;
        let max_threads = self.attribute(dev, ATTR_MAX_THREADS_PER_BLOCK)?;
        let shared = self.attribute(dev, ATTR_MAX_SHARED_MEMORY_PER_BLOCK)?;
        let arch = format!("sm_{major}{minor}");
        Ok(DeviceFacts {
            ordinal,
            name: dl::buf_str(&name),
            target: arch.clone(),
            arch,
            warp_size: warp as u32,
            multiprocessors: sms.max(0) as u32,
            max_threads_per_block: max_threads.max(0) as u32,
            shared_memory_per_block: shared.max(0) as u32,
            total_memory: total as u64,
        })
    }

    fn context_open(&self, ordinal: usize) -> DResult<RawContext> {
        let dev = self.device(ordinal)?;
        let mut ctx: Raw = std::ptr::null_mut();
        // SAFETY: valid out pointer.
        self.check("cuDevicePrimaryCtxRetain", unsafe { (self.f.cuDevicePrimaryCtxRetain)(&mut ctx, dev) })?;
        Ok(RawContext { device: dev, handle: ctx })
    }

    fn context_bind(&self, ctx: &RawContext) -> DResult<()> {
        // SAFETY: a retained primary context.
        self.check("cuCtxSetCurrent", unsafe { (self.f.cuCtxSetCurrent)(ctx.handle) })
    }

    fn context_close(&self, ctx: &RawContext) -> DResult<()> {
        // SAFETY: releases the retain made in `context_open`.
        self.check("cuDevicePrimaryCtxRelease_v2", unsafe { (self.f.cuDevicePrimaryCtxRelease_v2)(ctx.device) })
    }

    fn stream_create(&self) -> DResult<Raw> {
        let mut s: Raw = std::ptr::null_mut();
        // Non-blocking: no implicit synchronisation with the legacy NULL
        // stream that other libraries in the process may use.
        // SAFETY: valid out pointer.
        self.check("cuStreamCreate", unsafe { (self.f.cuStreamCreate)(&mut s, CU_STREAM_NON_BLOCKING) })?;
        Ok(s)
    }

    fn stream_synchronize(&self, stream: Raw) -> DResult<()> {
        // SAFETY: a live stream.
        self.check("cuStreamSynchronize", unsafe { (self.f.cuStreamSynchronize)(stream) })
    }

    fn stream_destroy(&self, stream: Raw) -> DResult<()> {
        // SAFETY: a live stream, not used after.
        self.check("cuStreamDestroy_v2", unsafe { (self.f.cuStreamDestroy_v2)(stream) })
    }

    fn mem_info(&self) -> DResult<(u64, u64)> {
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: valid out pointers.
        self.check("cuMemGetInfo_v2", unsafe { (self.f.cuMemGetInfo_v2)(&mut free, &mut total) })?;
        Ok((free as u64, total as u64))
    }

    fn malloc(&self, bytes: usize) -> DResult<DevicePtr> {
        let mut p: CUdeviceptr = 0;
        // SAFETY: valid out pointer.
        self.check("cuMemAlloc_v2", unsafe { (self.f.cuMemAlloc_v2)(&mut p, bytes) })?;
        Ok(DevicePtr(p))
    }

    unsafe fn free(&self, ptr: DevicePtr) -> DResult<()> {
        // SAFETY: caller contract.
        self.check("cuMemFree_v2", unsafe { (self.f.cuMemFree_v2)(ptr.0) })
    }

    unsafe fn memcpy_htod(&self, dst: DevicePtr, src: *const u8, n: usize, stream: Raw) -> DResult<()> {
        // SAFETY: caller contract.
        self.check("cuMemcpyHtoDAsync_v2", unsafe {
            (self.f.cuMemcpyHtoDAsync_v2)(dst.0, src as *const c_void, n, stream)
        })
    }

    unsafe fn memcpy_dtoh(&self, dst: *mut u8, src: DevicePtr, n: usize, stream: Raw) -> DResult<()> {
        // SAFETY: caller contract.
        self.check("cuMemcpyDtoHAsync_v2", unsafe {
            (self.f.cuMemcpyDtoHAsync_v2)(dst as *mut c_void, src.0, n, stream)
        })
    }

    unsafe fn memcpy_dtod(&self, dst: DevicePtr, src: DevicePtr, n: usize, stream: Raw) -> DResult<()> {
        // SAFETY: caller contract.
        self.check("cuMemcpyDtoDAsync_v2", unsafe { (self.f.cuMemcpyDtoDAsync_v2)(dst.0, src.0, n, stream) })
    }

    unsafe fn memset_d8(&self, dst: DevicePtr, value: u8, n: usize, stream: Raw) -> DResult<()> {
        // SAFETY: caller contract.
        self.check("cuMemsetD8Async", unsafe { (self.f.cuMemsetD8Async)(dst.0, value, n, stream) })
    }

    unsafe fn module_load(&self, image: *const c_void) -> DResult<Raw> {
        let mut m: Raw = std::ptr::null_mut();
        // SAFETY: caller contract on `image`; valid out pointer.
        self.check("cuModuleLoadData", unsafe { (self.f.cuModuleLoadData)(&mut m, image) })?;
        Ok(m)
    }

    unsafe fn module_unload(&self, module: Raw) -> DResult<()> {
        // SAFETY: caller contract.
        self.check("cuModuleUnload", unsafe { (self.f.cuModuleUnload)(module) })
    }

    fn module_function(&self, module: Raw, name: &CString) -> DResult<Raw> {
        let mut f: Raw = std::ptr::null_mut();
        // SAFETY: a loaded module and a NUL-terminated name; valid out pointer.
        self.check("cuModuleGetFunction", unsafe { (self.f.cuModuleGetFunction)(&mut f, module, name.as_ptr()) })?;
        Ok(f)
    }

    unsafe fn launch(
        &self,
        function: Raw,
        grid: [u32; 3],
        block: [u32; 3],
        shared_bytes: u32,
        stream: Raw,
        args: *mut *mut c_void,
    ) -> DResult<()> {
        // SAFETY: caller contract.
        self.check("cuLaunchKernel", unsafe {
            (self.f.cuLaunchKernel)(
                function,
                grid[0],
                grid[1],
                grid[2],
                block[0],
                block[1],
                block[2],
                shared_bytes,
                stream,
                args,
                std::ptr::null_mut(),
            )
        })
    }

    fn capture_begin(&self, stream: Raw) -> DResult<()> {
        let g = self.graph_fns("cuStreamBeginCapture_v2")?;
        // SAFETY: a live stream of the current context.
        self.check("cuStreamBeginCapture_v2", unsafe {
            (g.cuStreamBeginCapture_v2)(stream, super::CAPTURE_MODE_RELAXED)
        })
    }

    fn capture_end(&self, stream: Raw) -> DResult<Raw> {
        let g = self.graph_fns("cuStreamEndCapture")?;
        let mut graph: Raw = std::ptr::null_mut();
        // SAFETY: a capturing stream; valid out pointer.
        self.check("cuStreamEndCapture", unsafe { (g.cuStreamEndCapture)(stream, &mut graph) })?;
        Ok(graph)
    }

    fn graph_instantiate(&self, graph: Raw) -> DResult<Raw> {
        let g = self.graph_fns("cuGraphInstantiateWithFlags")?;
        let mut exec: Raw = std::ptr::null_mut();
        // SAFETY: a captured graph; valid out pointer.
        self.check("cuGraphInstantiateWithFlags", unsafe { (g.cuGraphInstantiateWithFlags)(&mut exec, graph, 0) })?;
        Ok(exec)
    }

    unsafe fn graph_launch(&self, exec: Raw, stream: Raw) -> DResult<()> {
        let g = self.graph_fns("cuGraphLaunch")?;
        // SAFETY: caller contract.
        self.check("cuGraphLaunch", unsafe { (g.cuGraphLaunch)(exec, stream) })
    }

    unsafe fn graph_destroy(&self, graph: Raw, exec: Raw) -> DResult<()> {
        let g = self.graph_fns("cuGraphDestroy")?;
        if !exec.is_null() {
            // SAFETY: caller contract.
            self.check("cuGraphExecDestroy", unsafe { (g.cuGraphExecDestroy)(exec) })?;
        }
        // SAFETY: caller contract.
        self.check("cuGraphDestroy", unsafe { (g.cuGraphDestroy)(graph) })
    }
}
