//! HIP's AMD platform: the ROCm HIP runtime (`libamdhip64.so`), bound at run
//! time.
//!
//! **Device facts without `hipDeviceProp_t`'s layout.** The struct changed
//! layout in ROCm 6 (`hipDeviceProp_tR0600`: new fields before most of the
//! old ones, the old layout kept as `R0000`), so reading fields at fixed
//! offsets would break on one side of that line. Numeric facts come from
//! `hipDeviceGetAttribute`, whose enum values are ABI (checked identical in
//! ROCm 5.5 and 7.x headers: warp size 87, multiprocessor count 63, ...),
//! and the name from `hipDeviceGetName`. The one fact with no attribute is
//! `gcnArchName` ("gfx90a:sramecc+:xnack-"): we let
//! `hipGetDeviceProperties*` fill a 64 KiB zeroed buffer (far larger than
//! any version of the struct, ~1.5 KiB) and find the NUL-terminated string
//! of the form `gfx<id>[:<feature>±...]` in it, whatever its offset.
//! Plausibility checks (warp size 32 or 64) catch a wrong attribute value.

use std::ffi::{c_char, c_int, c_uchar, c_uint, c_void, CString};

use super::{Attempt, DResult, DeviceFacts, DevicePtr, Driver, DriverError, Platform, Raw, RawContext};
use crate::dl::{self, c_api};

type HipError = c_int;

const HIP_SUCCESS: HipError = 0;
const HIP_ERROR_NO_DEVICE: HipError = 100;
const HIP_STREAM_NON_BLOCKING: c_uint = 0x1;

// hipDeviceAttribute_t values (hip_runtime_api.h, same in ROCm 5.5 .. 7.x).
const ATTR_MAX_THREADS_PER_BLOCK: c_int = 56;
const ATTR_MULTIPROCESSOR_COUNT: c_int = 63;
const ATTR_MAX_SHARED_MEMORY_PER_BLOCK: c_int = 74;
const ATTR_WARP_SIZE: c_int = 87;

/// Bytes handed to `hipGetDeviceProperties*`: many times any known
/// `hipDeviceProp_t` (R0000 ~ 800 bytes, R0600 ~ 1.5 KiB).
const PROPS_BUFFER_BYTES: usize = 64 << 10;

type GetDevicePropertiesFn = unsafe extern "C" fn(props: *mut c_void, device: c_int) -> HipError;

c_api! {
    /// The HIP runtime functions the backend uses.
    pub(crate) struct HipFns {
        fn hipInit(flags: c_uint) -> HipError;
        fn hipRuntimeGetVersion(version: *mut c_int) -> HipError;
        fn hipGetDeviceCount(count: *mut c_int) -> HipError;
        fn hipSetDevice(device: c_int) -> HipError;
        fn hipDeviceGetName(name: *mut c_char, len: c_int, device: c_int) -> HipError;
        fn hipDeviceGetAttribute(value: *mut c_int, attrib: c_int, device: c_int) -> HipError;
        fn hipDeviceTotalMem(bytes: *mut usize, device: c_int) -> HipError;
        fn hipMemGetInfo(free: *mut usize, total: *mut usize) -> HipError;
        fn hipMalloc(ptr: *mut *mut c_void, bytes: usize) -> HipError;
        fn hipFree(ptr: *mut c_void) -> HipError;
        fn hipMemcpyHtoDAsync(dst: *mut c_void, src: *const c_void, n: usize, stream: Raw) -> HipError;
        fn hipMemcpyDtoHAsync(dst: *mut c_void, src: *mut c_void, n: usize, stream: Raw) -> HipError;
        fn hipMemcpyDtoDAsync(dst: *mut c_void, src: *mut c_void, n: usize, stream: Raw) -> HipError;
        fn hipMemsetD8Async(dst: *mut c_void, value: c_uchar, n: usize, stream: Raw) -> HipError;
        fn hipStreamCreateWithFlags(stream: *mut Raw, flags: c_uint) -> HipError;
        fn hipStreamSynchronize(stream: Raw) -> HipError;
        fn hipStreamDestroy(stream: Raw) -> HipError;
        fn hipModuleLoadData(module: *mut Raw, image: *const c_void) -> HipError;
        fn hipModuleUnload(module: Raw) -> HipError;
        fn hipModuleGetFunction(function: *mut Raw, module: Raw, name: *const c_char) -> HipError;
        fn hipModuleLaunchKernel(
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
        ) -> HipError;
        fn hipGetErrorName(error: HipError) -> *const c_char;
        fn hipGetErrorString(error: HipError) -> *const c_char;
    }
}

c_api! {
    /// Stream capture and graphs, bound separately so a runtime without
    /// them still runs everything else.
    pub(crate) struct HipGraphFns {
        fn hipStreamBeginCapture(stream: Raw, mode: c_int) -> HipError;
        fn hipStreamEndCapture(stream: Raw, graph: *mut Raw) -> HipError;
        fn hipGraphInstantiate(exec: *mut Raw, graph: Raw, error_node: *mut Raw, log: *mut c_char, log_len: usize)
            -> HipError;
        fn hipGraphLaunch(exec: Raw, stream: Raw) -> HipError;
        fn hipGraphExecDestroy(exec: Raw) -> HipError;
        fn hipGraphDestroy(graph: Raw) -> HipError;
    }
}

/// The HIP runtime, initialised.
pub(crate) struct Hip {
    f: HipFns,
    graphs: Option<HipGraphFns>,
    /// `hipGetDevicePropertiesR0600` (ROCm 6+) or the unversioned / R0000
    /// entry point of older releases.
    get_properties: Option<(&'static str, GetDevicePropertiesFn)>,
    version: c_int,
}

/// Library names tried, newest ABI first after the unversioned link.
pub(crate) const LIBRARY_NAMES: [&str; 4] =
    ["libamdhip64.so", "libamdhip64.so.7", "libamdhip64.so.6", "libamdhip64.so.5"];

/// `$ROCM_PATH/lib` (default `/opt/rocm/lib`), for installs not in ldconfig.
pub(crate) fn rocm_lib_dir() -> std::path::PathBuf {
    dl::env_dir("ROCM_PATH", "/opt/rocm", "lib")
}

impl Hip {
    /// Load `libamdhip64`, bind the functions and call `hipInit`.
    pub(crate) fn open() -> Result<Hip, Attempt> {
        let names = dl::candidates(&LIBRARY_NAMES, &[rocm_lib_dir()]);
        let (lib, _name) = dl::open_first(&names).map_err(|_| Attempt::NotLoaded)?;
        // SAFETY: libamdhip64 exports these symbols with the signatures of
        // hip_runtime_api.h.
        let f = unsafe { HipFns::load(lib) }
            .map_err(|missing| Attempt::Unusable(format!("libamdhip64 loaded but {missing} (ROCm too old?)")))?;
        let mut get_properties = None;
        for name in ["hipGetDevicePropertiesR0600", "hipGetDeviceProperties", "hipGetDevicePropertiesR0000"] {
            // SAFETY: every version of this entry point takes (struct*, int)
            // and returns hipError_t; only the struct's layout differs, and
            // we never read it at fixed offsets.
            if let Some(func) = unsafe { dl::optional::<GetDevicePropertiesFn>(lib, name) } {
                get_properties = Some((name, func));
                break;
            }
        }
        // SAFETY: as above, with the signatures of hip_runtime_api.h.
        let graphs = unsafe { HipGraphFns::load(lib) }.ok();
        let hip = Hip { f, graphs, get_properties, version: 0 };
        // SAFETY: plain FFI call.
        hip.check("hipInit", unsafe { (hip.f.hipInit)(0) })
            .map_err(|e| Attempt::Unusable(format!("libamdhip64 loaded but {e}")))?;
        let mut version = 0;
        // SAFETY: valid out pointer.
        hip.check("hipRuntimeGetVersion", unsafe { (hip.f.hipRuntimeGetVersion)(&mut version) })
            .map_err(|e| Attempt::Unusable(format!("libamdhip64 loaded but {e}")))?;
        Ok(Hip { version, ..hip })
    }

    fn graph_fns(&self, call: &'static str) -> DResult<&HipGraphFns> {
        self.graphs.as_ref().ok_or_else(|| super::graphs_missing(call))
    }

    fn error_text(&self, code: HipError) -> String {
        // SAFETY: both return static strings (or null).
        let (name, text) =
            unsafe { (dl::c_str((self.f.hipGetErrorName)(code)), dl::c_str((self.f.hipGetErrorString)(code))) };
        match (name, text) {
            (Some(n), Some(t)) if n != t => format!("{n}: {t}"),
            (Some(s), _) | (None, Some(s)) => s,
            (None, None) => "unknown HIP error".into(),
        }
    }

    fn check(&self, call: &'static str, code: HipError) -> DResult<()> {
        if code == HIP_SUCCESS {
            Ok(())
        } else {
            Err(DriverError { call, code, text: self.error_text(code) })
        }
    }

    fn attribute(&self, device: c_int, attrib: c_int) -> DResult<i32> {
        let mut v = 0;
        // SAFETY: valid out pointer.
        self.check("hipDeviceGetAttribute", unsafe { (self.f.hipDeviceGetAttribute)(&mut v, attrib, device) })?;
        Ok(v)
    }

    /// The device's gcnArchName ("gfx90a:sramecc+:xnack-"), read from the
    /// properties struct without relying on its layout (see the module docs).
    fn gcn_arch_name(&self, device: c_int) -> DResult<String> {
        let Some((call, get)) = self.get_properties else {
            return Err(DriverError {
                call: "hipGetDeviceProperties",
                code: -1,
                text: "not exported by this libamdhip64".into(),
            });
        };
        // u64 elements: the struct's alignment is at most 8.
        let mut buf = vec![0u64; PROPS_BUFFER_BYTES / 8];
        // SAFETY: the buffer is larger than any hipDeviceProp_t version and
        // suitably aligned.
        self.check(call, unsafe { get(buf.as_mut_ptr() as *mut c_void, device) })?;
        // SAFETY: reinterpreting initialised u64s as bytes.
        let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr() as *const u8, PROPS_BUFFER_BYTES) };
        find_gcn_arch_name(bytes).ok_or(DriverError {
            call,
            code: -1,
            text: "no gcnArchName (gfx...) found in the device properties".into(),
        })
    }
}

/// Find a gcnArchName in a filled `hipDeviceProp_t` of unknown layout: the
/// longest NUL-terminated string `gfx<alnum>+(:<feature>[+-])*` that starts
/// after a NUL or non-alphanumeric byte. (The device name field may also
/// start with "gfx" on some systems; it then carries no feature suffix, so
/// the longest match is the arch name, or both agree.)
pub(crate) fn find_gcn_arch_name(bytes: &[u8]) -> Option<String> {
    let mut best: Option<&[u8]> = None;
    let mut i = 0;
    while i + 3 < bytes.len() {
        if &bytes[i..i + 3] == b"gfx" && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            let rest = &bytes[i..];
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let s = &rest[..end];
            let longer = match best {
                Some(b) => s.len() > b.len(),
                None => true,
            };
            if end < rest.len() && end < 256 && longer && is_target_id(s) {
                best = Some(s);
            }
            i += end.max(1);
        } else {
            i += 1;
        }
    }
    best.map(|s| String::from_utf8_lossy(s).into_owned())
}

/// `gfx<alnum>+` then any number of `:<alnum/_>+[+-]` features.
fn is_target_id(s: &[u8]) -> bool {
    let text = match std::str::from_utf8(s) {
        Ok(t) => t,
        Err(_) => return false,
    };
    let mut parts = text.split(':');
    let base = parts.next().unwrap_or("");
    let id = &base[3.min(base.len())..];
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()) {
        return false;
    }
    parts.all(|f| {
        let (name, sign) = f.split_at(f.len().saturating_sub(1));
        (sign == "+" || sign == "-") && !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

impl Driver for Hip {
    fn platform(&self) -> Platform {
        Platform::Amd
    }

    fn version(&self) -> String {
        // HIP_VERSION = major * 10^7 + minor * 10^5 + patch.
        format!("HIP runtime {}.{}", self.version / 10_000_000, (self.version / 100_000) % 100)
    }

    fn library(&self) -> &'static str {
        "libamdhip64"
    }

    fn count_call(&self) -> &'static str {
        "hipGetDeviceCount"
    }

    fn device_count(&self) -> DResult<usize> {
        let mut n = 0;
        // SAFETY: valid out pointer.
        let code = unsafe { (self.f.hipGetDeviceCount)(&mut n) };
        if code == HIP_ERROR_NO_DEVICE {
            return Ok(0);
        }
        self.check("hipGetDeviceCount", code)?;
        Ok(n.max(0) as usize)
    }

    fn device_facts(&self, ordinal: usize) -> DResult<DeviceFacts> {
        let dev = ordinal as c_int;
        let mut name = [0u8; 256];
        // SAFETY: the buffer holds `len` bytes.
        self.check("hipDeviceGetName", unsafe {
            (self.f.hipDeviceGetName)(name.as_mut_ptr() as *mut c_char, name.len() as c_int, dev)
        })?;
        let mut total = 0usize;
        // SAFETY: valid out pointer.
        self.check("hipDeviceTotalMem", unsafe { (self.f.hipDeviceTotalMem)(&mut total, dev) })?;
        let warp = self.attribute(dev, ATTR_WARP_SIZE)?;
        if warp != 32 && warp != 64 {
            return Err(DriverError {
                call: "hipDeviceGetAttribute",
                code: -1,
                text: format!("warp size {warp} (expected 32 or 64): attribute numbering differs from ROCm 5.5-7.x?"),
            });
        }
        let cus = self.attribute(dev, ATTR_MULTIPROCESSOR_COUNT)?;
        let max_threads = self.attribute(dev, ATTR_MAX_THREADS_PER_BLOCK)?;
        let shared = self.attribute(dev, ATTR_MAX_SHARED_MEMORY_PER_BLOCK)?;
        let target = self.gcn_arch_name(dev)?;
        let arch = target.split(':').next().unwrap_or(&target).to_string();
        Ok(DeviceFacts {
            ordinal,
            name: dl::buf_str(&name),
            arch,
            target,
            warp_size: warp as u32,
            multiprocessors: cus.max(0) as u32,
            max_threads_per_block: max_threads.max(0) as u32,
            shared_memory_per_block: shared.max(0) as u32,
            total_memory: total as u64,
        })
    }

    fn context_open(&self, ordinal: usize) -> DResult<RawContext> {
        let ctx = RawContext { device: ordinal as i32, handle: std::ptr::null_mut() };
        self.context_bind(&ctx)?;
        Ok(ctx)
    }

    fn context_bind(&self, ctx: &RawContext) -> DResult<()> {
        // SAFETY: plain FFI call.
        self.check("hipSetDevice", unsafe { (self.f.hipSetDevice)(ctx.device) })
    }

    fn context_close(&self, _ctx: &RawContext) -> DResult<()> {
        // HIP's per-device primary context lives as long as the process.
        Ok(())
    }

    fn stream_create(&self) -> DResult<Raw> {
        let mut s: Raw = std::ptr::null_mut();
        // Non-blocking: no implicit synchronisation with the NULL stream.
        // SAFETY: valid out pointer.
        self.check("hipStreamCreateWithFlags", unsafe {
            (self.f.hipStreamCreateWithFlags)(&mut s, HIP_STREAM_NON_BLOCKING)
        })?;
        Ok(s)
    }

    fn stream_synchronize(&self, stream: Raw) -> DResult<()> {
        // SAFETY: a live stream.
        self.check("hipStreamSynchronize", unsafe { (self.f.hipStreamSynchronize)(stream) })
    }

    fn stream_destroy(&self, stream: Raw) -> DResult<()> {
        // SAFETY: a live stream, not used after.
        self.check("hipStreamDestroy", unsafe { (self.f.hipStreamDestroy)(stream) })
    }

    fn mem_info(&self) -> DResult<(u64, u64)> {
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: valid out pointers.
        self.check("hipMemGetInfo", unsafe { (self.f.hipMemGetInfo)(&mut free, &mut total) })?;
        Ok((free as u64, total as u64))
    }

    fn malloc(&self, bytes: usize) -> DResult<DevicePtr> {
        let mut p: *mut c_void = std::ptr::null_mut();
        // SAFETY: valid out pointer.
        self.check("hipMalloc", unsafe { (self.f.hipMalloc)(&mut p, bytes) })?;
        Ok(DevicePtr(p as u64))
    }

    unsafe fn free(&self, ptr: DevicePtr) -> DResult<()> {
        // SAFETY: caller contract.
        self.check("hipFree", unsafe { (self.f.hipFree)(ptr.0 as *mut c_void) })
    }

    unsafe fn memcpy_htod(&self, dst: DevicePtr, src: *const u8, n: usize, stream: Raw) -> DResult<()> {
        // SAFETY: caller contract.
        self.check("hipMemcpyHtoDAsync", unsafe {
            (self.f.hipMemcpyHtoDAsync)(dst.0 as *mut c_void, src as *const c_void, n, stream)
        })
    }

    unsafe fn memcpy_dtoh(&self, dst: *mut u8, src: DevicePtr, n: usize, stream: Raw) -> DResult<()> {
        // SAFETY: caller contract.
        self.check("hipMemcpyDtoHAsync", unsafe {
            (self.f.hipMemcpyDtoHAsync)(dst as *mut c_void, src.0 as *mut c_void, n, stream)
        })
    }

    unsafe fn memcpy_dtod(&self, dst: DevicePtr, src: DevicePtr, n: usize, stream: Raw) -> DResult<()> {
        // SAFETY: caller contract.
        self.check("hipMemcpyDtoDAsync", unsafe {
            (self.f.hipMemcpyDtoDAsync)(dst.0 as *mut c_void, src.0 as *mut c_void, n, stream)
        })
    }

    unsafe fn memset_d8(&self, dst: DevicePtr, value: u8, n: usize, stream: Raw) -> DResult<()> {
        // SAFETY: caller contract.
        self.check("hipMemsetD8Async", unsafe { (self.f.hipMemsetD8Async)(dst.0 as *mut c_void, value, n, stream) })
    }

    unsafe fn module_load(&self, image: *const c_void) -> DResult<Raw> {
        let mut m: Raw = std::ptr::null_mut();
        // SAFETY: caller contract on `image`; valid out pointer.
        self.check("hipModuleLoadData", unsafe { (self.f.hipModuleLoadData)(&mut m, image) })?;
        Ok(m)
    }

    unsafe fn module_unload(&self, module: Raw) -> DResult<()> {
        // SAFETY: caller contract.
        self.check("hipModuleUnload", unsafe { (self.f.hipModuleUnload)(module) })
    }

    fn module_function(&self, module: Raw, name: &CString) -> DResult<Raw> {
        let mut f: Raw = std::ptr::null_mut();
        // SAFETY: a loaded module and a NUL-terminated name; valid out pointer.
        self.check("hipModuleGetFunction", unsafe { (self.f.hipModuleGetFunction)(&mut f, module, name.as_ptr()) })?;
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
        self.check("hipModuleLaunchKernel", unsafe {
            (self.f.hipModuleLaunchKernel)(
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
        let g = self.graph_fns("hipStreamBeginCapture")?;
        // SAFETY: a live stream of the current device.
        self.check("hipStreamBeginCapture", unsafe { (g.hipStreamBeginCapture)(stream, super::CAPTURE_MODE_RELAXED) })
    }

    fn capture_end(&self, stream: Raw) -> DResult<Raw> {
        let g = self.graph_fns("hipStreamEndCapture")?;
        let mut graph: Raw = std::ptr::null_mut();
        // SAFETY: a capturing stream; valid out pointer.
        self.check("hipStreamEndCapture", unsafe { (g.hipStreamEndCapture)(stream, &mut graph) })?;
        Ok(graph)
    }

    fn graph_instantiate(&self, graph: Raw) -> DResult<Raw> {
        let g = self.graph_fns("hipGraphInstantiate")?;
        let mut exec: Raw = std::ptr::null_mut();
        // SAFETY: a captured graph; valid out pointer; no error node or log wanted.
        self.check("hipGraphInstantiate", unsafe {
            (g.hipGraphInstantiate)(&mut exec, graph, std::ptr::null_mut(), std::ptr::null_mut(), 0)
        })?;
        Ok(exec)
    }

    unsafe fn graph_launch(&self, exec: Raw, stream: Raw) -> DResult<()> {
        let g = self.graph_fns("hipGraphLaunch")?;
        // SAFETY: caller contract.
        self.check("hipGraphLaunch", unsafe { (g.hipGraphLaunch)(exec, stream) })
    }

    unsafe fn graph_destroy(&self, graph: Raw, exec: Raw) -> DResult<()> {
        let g = self.graph_fns("hipGraphDestroy")?;
        if !exec.is_null() {
            // SAFETY: caller contract.
            self.check("hipGraphExecDestroy", unsafe { (g.hipGraphExecDestroy)(exec) })?;
        }
        // SAFETY: caller contract.
        self.check("hipGraphDestroy", unsafe { (g.hipGraphDestroy)(graph) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake properties block: the name, some integers, then the arch name
    /// at an arbitrary offset.
    fn props(name: &str, arch: &str, at: usize) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[..name.len()].copy_from_slice(name.as_bytes());
        b[300..304].copy_from_slice(&906i32.to_le_bytes());
        b[at..at + arch.len()].copy_from_slice(arch.as_bytes());
        b
    }

    #[test]
    fn finds_gcn_arch_name_at_any_offset() {
        for at in [396, 1024, 1500] {
            let b = props("AMD Instinct MI210", "gfx90a:sramecc+:xnack-", at);
            assert_eq!(find_gcn_arch_name(&b).as_deref(), Some("gfx90a:sramecc+:xnack-"));
        }
        let b = props("AMD Radeon RX 7900 XTX", "gfx1100", 700);
        assert_eq!(find_gcn_arch_name(&b).as_deref(), Some("gfx1100"));
    }

    #[test]
    fn prefers_the_arch_name_over_a_gfx_device_name() {
        let b = props("gfx942", "gfx942:sramecc+:xnack-", 1200);
        assert_eq!(find_gcn_arch_name(&b).as_deref(), Some("gfx942:sramecc+:xnack-"));
    }

    #[test]
    fn rejects_things_that_are_not_target_ids() {
        assert_eq!(find_gcn_arch_name(&props("AMD", "gfx", 900)), None);
        assert_eq!(find_gcn_arch_name(&props("AMD", "gfx90a:sramecc", 900)), None);
        assert_eq!(find_gcn_arch_name(&props("AMD", "xgfx90a", 900)), None);
        assert_eq!(find_gcn_arch_name(&props("AMD", "gfx9 0a", 900)), None);
        // Unterminated at the end of the buffer.
        let mut b = vec![0u8; 16];
        b[10..16].copy_from_slice(b"gfx90a");
        assert_eq!(find_gcn_arch_name(&b), None);
    }
}
