//! The host side of the C ABI: [`ForeignBackend`] implements [`Backend`] over
//! a plugin's vtable, so the engine cannot tell a plugin from an in-process
//! backend. Shapes are validated here, before anything crosses.

use std::ffi::c_void;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::abi::{read_str, BackendVtable, DeviceInfoRaw, VTABLE_REQUIRED_SIZE};
use crate::{validate, Backend, BackendError, BufferHandle, DeviceInfo, DeviceKind, GraphHandle, Op, Result, Status};

/// A backend instance living in a plugin library.
pub struct ForeignBackend {
    vt: Vtable,
    /// Serialises calls: the ABI promises plugins one thread at a time.
    lock: Mutex<()>,
    path: PathBuf,
}

/// The plugin's table with every entry checked to be present.
struct Vtable {
    ctx: *mut c_void,
    destroy: unsafe extern "C" fn(*mut c_void),
    last_error: unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> usize,
    name: unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> usize,
    device_info: unsafe extern "C" fn(*mut c_void, *mut DeviceInfoRaw) -> i32,
    supports_op: unsafe extern "C" fn(*mut c_void, u32, *const c_void) -> i32,
    buffer_alloc: unsafe extern "C" fn(*mut c_void, u64, *mut u64) -> i32,
    buffer_from_host: unsafe extern "C" fn(*mut c_void, *const u8, u64, *mut u64) -> i32,
    buffer_free: unsafe extern "C" fn(*mut c_void, u64),
    buffer_upload: unsafe extern "C" fn(*mut c_void, u64, u64, *const u8, u64) -> i32,
    buffer_download: unsafe extern "C" fn(*mut c_void, u64, u64, *mut u8, u64) -> i32,
    buffer_copy: unsafe extern "C" fn(*mut c_void, u64, u64, u64, u64, u64) -> i32,
    run: unsafe extern "C" fn(*mut c_void, u32, *const c_void) -> i32,
    synchronize: unsafe extern "C" fn(*mut c_void) -> i32,
    /// Present only when the plugin has all four graph entries.
    graphs: Option<GraphFns>,
}

#[derive(Clone, Copy)]
struct GraphFns {
    begin: unsafe extern "C" fn(*mut c_void) -> i32,
    end: unsafe extern "C" fn(*mut c_void, *mut u64) -> i32,
    launch: unsafe extern "C" fn(*mut c_void, u64) -> i32,
    free: unsafe extern "C" fn(*mut c_void, u64),
}

// SAFETY: the plugin's `ctx` is only used under `lock`, one thread at a time,
// which is what the ABI asks of the host.
unsafe impl Send for ForeignBackend {}
// SAFETY: as above: every use of `ctx` holds `lock`.
unsafe impl Sync for ForeignBackend {}

impl ForeignBackend {
    /// Take ownership of a table filled by a plugin's `init`.
    ///
    /// # Safety
    /// `raw` must come from a successful `rocmforge_backend_init` of the
    /// library at `path`, which must stay loaded for the backend's lifetime.
    pub unsafe fn from_vtable(raw: BackendVtable, path: PathBuf) -> Result<ForeignBackend> {
        let fail = |reason: String| BackendError::Load { path: path.clone(), reason };
        let size = raw.struct_size as usize;
        if size < VTABLE_REQUIRED_SIZE {
            // An ABI-1 table always has the required fields; a smaller one
            // is a broken or foreign plugin.
            return Err(fail(format!(
                "vtable of {size} bytes is smaller than ABI version {} needs ({VTABLE_REQUIRED_SIZE})",
                crate::abi::ABI_VERSION,
            )));
        }
        if raw.abi_version != crate::abi::ABI_VERSION {
            return Err(fail(format!(
                "incompatible ABI version in vtable (plugin: {}, host: {})",
                raw.abi_version,
                crate::abi::ABI_VERSION
            )));
        }
        macro_rules! need {
            ($f:ident) => {
                raw.$f.ok_or_else(|| fail(format!("vtable entry `{}` is null", stringify!($f))))?
            };
        }
        let vt = Vtable {
            ctx: raw.ctx,
            destroy: need!(destroy),
            last_error: need!(last_error),
            name: need!(name),
            device_info: need!(device_info),
            supports_op: need!(supports_op),
            buffer_alloc: need!(buffer_alloc),
            buffer_from_host: need!(buffer_from_host),
            buffer_free: need!(buffer_free),
            buffer_upload: need!(buffer_upload),
            buffer_download: need!(buffer_download),
            buffer_copy: need!(buffer_copy),
            run: need!(run),
            synchronize: need!(synchronize),
            graphs: graph_fns(&raw, size),
        };
        Ok(ForeignBackend { vt, lock: Mutex::new(()), path })
    }

    fn no_graphs(&self) -> BackendError {
        BackendError::Unsupported {
            op: "graph".into(),
            reason: format!("{} has no graph entries", self.path.display()),
        }
    }

    /// The library this backend came from.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Call into the plugin under the lock and turn a failing status into an
    /// error carrying the plugin's message.
    fn call(&self, what: &str, f: impl FnOnce(*mut c_void) -> i32) -> Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let status = Status::from_i32(f(self.vt.ctx));
        if status == Status::Ok {
            return Ok(());
        }
        // SAFETY: `ctx` is live; `read_str` passes a buffer of the given length.
        let msg = read_str(|buf, len| unsafe { (self.vt.last_error)(self.vt.ctx, buf, len) });
        Err(BackendError::from_status(status, what, msg))
    }
}

/// The graph entries, if the plugin's table reaches them and fills all four.
fn graph_fns(raw: &BackendVtable, size: usize) -> Option<GraphFns> {
    if size < std::mem::offset_of!(BackendVtable, graph_free) + std::mem::size_of::<usize>() {
        return None;
    }
    Some(GraphFns { begin: raw.graph_begin?, end: raw.graph_end?, launch: raw.graph_launch?, free: raw.graph_free? })
}

impl Drop for ForeignBackend {
    fn drop(&mut self) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: `ctx` is live and destroyed exactly once, here.
        unsafe { (self.vt.destroy)(self.vt.ctx) };
    }
}

impl Backend for ForeignBackend {
    fn name(&self) -> String {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: `ctx` is live; `read_str` passes a buffer of the given length.
        read_str(|buf, len| unsafe { (self.vt.name)(self.vt.ctx, buf, len) })
    }

    fn device_info(&self) -> Result<DeviceInfo> {
        let mut raw = DeviceInfoRaw {
            name: [0; crate::abi::DEVICE_NAME_LEN],
            kind: 0,
            _reserved: 0,
            total_memory: 0,
            free_memory: 0,
        };
        // SAFETY: `raw` is a valid out-pointer for the call.
        self.call("device_info", |ctx| unsafe { (self.vt.device_info)(ctx, &mut raw) })?;
        let end = raw.name.iter().position(|&b| b == 0).unwrap_or(raw.name.len());
        Ok(DeviceInfo {
            name: String::from_utf8_lossy(&raw.name[..end]).into_owned(),
            kind: if raw.kind == DeviceKind::Gpu as u32 { DeviceKind::Gpu } else { DeviceKind::Cpu },
            total_memory: raw.total_memory,
            free_memory: raw.free_memory,
        })
    }

    fn supports_op(&self, op: &Op<'_>) -> bool {
        if validate::validate_op(op).is_err() {
            return false;
        }
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: `args_ptr` points to the struct `kind` names, live for the call.
        unsafe { (self.vt.supports_op)(self.vt.ctx, op.kind() as u32, op.args_ptr()) == 1 }
    }

    fn buffer_alloc(&self, size: u64) -> Result<BufferHandle> {
        let mut h = 0u64;
        // SAFETY: `h` is a valid out-pointer.
        self.call("buffer_alloc", |ctx| unsafe { (self.vt.buffer_alloc)(ctx, size, &mut h) })?;
        Ok(BufferHandle(h))
    }

    unsafe fn buffer_from_host(&self, ptr: *const u8, len: u64) -> Result<BufferHandle> {
        let mut h = 0u64;
        // SAFETY: the caller guarantees the memory; `h` is a valid out-pointer.
        self.call("buffer_from_host", |ctx| unsafe { (self.vt.buffer_from_host)(ctx, ptr, len, &mut h) })?;
        Ok(BufferHandle(h))
    }

    fn buffer_free(&self, buffer: BufferHandle) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: `ctx` is live.
        unsafe { (self.vt.buffer_free)(self.vt.ctx, buffer.0) }
    }

    fn buffer_upload(&self, buffer: BufferHandle, offset: u64, data: &[u8]) -> Result<()> {
        // SAFETY: `data` is valid for its length during the call.
        self.call("buffer_upload", |ctx| unsafe {
            (self.vt.buffer_upload)(ctx, buffer.0, offset, data.as_ptr(), data.len() as u64)
        })
    }

    fn buffer_download(&self, buffer: BufferHandle, offset: u64, out: &mut [u8]) -> Result<()> {
        // SAFETY: `out` is valid for writes of its length during the call.
        self.call("buffer_download", |ctx| unsafe {
            (self.vt.buffer_download)(ctx, buffer.0, offset, out.as_mut_ptr(), out.len() as u64)
        })
    }

    fn buffer_copy(
        &self,
        src: BufferHandle,
        src_offset: u64,
        dst: BufferHandle,
        dst_offset: u64,
        len: u64,
    ) -> Result<()> {
        // SAFETY: plain values only.
        self.call("buffer_copy", |ctx| unsafe { (self.vt.buffer_copy)(ctx, src.0, src_offset, dst.0, dst_offset, len) })
    }

    fn run(&self, op: &Op<'_>) -> Result<()> {
        validate::validate_op(op)?;
        // SAFETY: `args_ptr` points to the struct `kind` names, live for the call.
        self.call(op.name(), |ctx| unsafe { (self.vt.run)(ctx, op.kind() as u32, op.args_ptr()) })
    }

    fn synchronize(&self) -> Result<()> {
        // SAFETY: `ctx` is live.
        self.call("synchronize", |ctx| unsafe { (self.vt.synchronize)(ctx) })
    }

    fn graph_begin(&self) -> Result<()> {
        let Some(g) = self.vt.graphs else { return Err(self.no_graphs()) };
        // SAFETY: `ctx` is live.
        self.call("graph_begin", |ctx| unsafe { (g.begin)(ctx) })
    }

    fn graph_end(&self) -> Result<GraphHandle> {
        let Some(g) = self.vt.graphs else { return Err(self.no_graphs()) };
        let mut id = 0u64;
        // SAFETY: `ctx` is live; `id` is a valid out pointer.
        self.call("graph_end", |ctx| unsafe { (g.end)(ctx, &mut id) })?;
        if id == 0 {
            return Err(BackendError::Internal("graph_end: the plugin returned graph id 0".into()));
        }
        Ok(GraphHandle(id))
    }

    fn graph_launch(&self, graph: GraphHandle) -> Result<()> {
        let Some(g) = self.vt.graphs else { return Err(self.no_graphs()) };
        // SAFETY: `ctx` is live.
        self.call("graph_launch", |ctx| unsafe { (g.launch)(ctx, graph.0) })
    }

    fn graph_free(&self, graph: GraphHandle) {
        if let Some(g) = self.vt.graphs {
            let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            // SAFETY: `ctx` is live.
            unsafe { (g.free)(self.vt.ctx, graph.0) }
        }
    }
}
