//! The provider side of the C ABI: turns a Rust [`Backend`] into the exported
//! functions and vtable of a plugin. Backend authors use the
//! [`export_backend!`](crate::export_backend) macro and never see this code.
//!
//! Every exported function body runs inside `catch_unwind`: a panic becomes
//! `Status::Internal` with the panic message, because unwinding across
//! `extern "C"` is undefined behaviour. (Build plugins with `panic = "unwind"`,
//! the default.)

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use crate::abi::{write_str, BackendVtable, DeviceInfoRaw, ABI_VERSION, DEVICE_NAME_LEN};
use crate::{validate, Backend, BackendError, BufferHandle, GraphHandle, Op, OpKind, Probe, Result, Status};

/// Export `rocmforge_backend_abi_version`, `rocmforge_backend_score` and
/// `rocmforge_backend_init` from a plugin crate (`crate-type = ["cdylib"]`).
///
/// `probe` is a `fn() -> Probe`; `init` is a `fn() -> Result<B, BackendError>`
/// for a type `B: Backend + 'static`.
///
/// ```ignore
/// rocmforge_backend_api::export_backend!(probe = my_probe, init = MyBackend::new);
/// ```
///
/// Link at most one crate that uses this macro into any one binary: the
/// exported names would collide.
#[macro_export]
macro_rules! export_backend {
    (probe = $probe:path, init = $init:path $(,)?) => {
        #[no_mangle]
        pub extern "C" fn rocmforge_backend_abi_version() -> u32 {
            $crate::abi::ABI_VERSION
        }

        /// # Safety
        /// `reason` must be null or valid for `reason_len` bytes of writes;
        /// `reason_full_len` null or valid for one write.
        #[no_mangle]
        pub unsafe extern "C" fn rocmforge_backend_score(
            reason: *mut u8,
            reason_len: usize,
            reason_full_len: *mut usize,
        ) -> i32 {
            // SAFETY: forwarded caller contract.
            unsafe { $crate::export::score($probe, reason, reason_len, reason_full_len) }
        }

        /// # Safety
        /// `out` must be valid for `out_size` bytes of writes; `err` null or
        /// valid for `err_len` bytes.
        #[no_mangle]
        pub unsafe extern "C" fn rocmforge_backend_init(
            out: *mut $crate::abi::BackendVtable,
            out_size: u32,
            err: *mut u8,
            err_len: usize,
        ) -> i32 {
            // SAFETY: forwarded caller contract.
            unsafe { $crate::export::init($init, out, out_size, err, err_len) }
        }
    };
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    let what = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown payload".into());
    format!("panic in backend: {what}")
}

/// Body of `rocmforge_backend_score`.
///
/// # Safety
/// `reason` must be null or valid for `reason_len` bytes of writes;
/// `reason_full_len` null or valid for one write.
pub unsafe fn score(probe: fn() -> Probe, reason: *mut u8, reason_len: usize, reason_full_len: *mut usize) -> i32 {
    let p = catch_unwind(probe).unwrap_or_else(|e| Probe { score: 0, description: panic_message(e) });
    // SAFETY: caller contract.
    let full = unsafe { write_str(&p.description, reason, reason_len) };
    if !reason_full_len.is_null() {
        // SAFETY: caller contract.
        unsafe { reason_full_len.write(full) };
    }
    p.score
}

/// Body of `rocmforge_backend_init`.
///
/// # Safety
/// `out` must be valid for `out_size` bytes of writes; `err` null or valid for
/// `err_len` bytes of writes.
pub unsafe fn init<B: Backend + 'static>(
    make: fn() -> Result<B>,
    out: *mut BackendVtable,
    out_size: u32,
    err: *mut u8,
    err_len: usize,
) -> i32 {
    let made = catch_unwind(make).unwrap_or_else(|e| Err(BackendError::Internal(panic_message(e))));
    let backend = match made {
        Ok(b) => b,
        Err(e) => {
            // SAFETY: caller contract.
            unsafe { write_str(&e.to_string(), err, err_len) };
            return e.status() as i32;
        }
    };
    if out.is_null() {
        return Status::InvalidArgument as i32;
    }
    let provider = Box::new(Provider { backend, last_error: Mutex::new(String::new()) });
    let table = vtable::<B>(Box::into_raw(provider) as *mut c_void);
    // Write only the prefix the host knows about.
    let n = (out_size as usize).min(std::mem::size_of::<BackendVtable>());
    // SAFETY: `out` is valid for `out_size >= n` bytes; the source is a live
    // local of at least `n` bytes.
    unsafe { std::ptr::copy_nonoverlapping(&table as *const BackendVtable as *const u8, out as *mut u8, n) };
    Status::Ok as i32
}

/// A backend instance plus the message of its last failed call.
struct Provider<B> {
    backend: B,
    last_error: Mutex<String>,
}

fn vtable<B: Backend + 'static>(ctx: *mut c_void) -> BackendVtable {
    BackendVtable {
        struct_size: std::mem::size_of::<BackendVtable>() as u32,
        abi_version: ABI_VERSION,
        ctx,
        destroy: Some(destroy::<B>),
        last_error: Some(last_error::<B>),
        name: Some(name::<B>),
        device_info: Some(device_info::<B>),
        supports_op: Some(supports_op::<B>),
        buffer_alloc: Some(buffer_alloc::<B>),
        buffer_from_host: Some(buffer_from_host::<B>),
        buffer_free: Some(buffer_free::<B>),
        buffer_upload: Some(buffer_upload::<B>),
        buffer_download: Some(buffer_download::<B>),
        buffer_copy: Some(buffer_copy::<B>),
        run: Some(run::<B>),
        synchronize: Some(synchronize::<B>),
        graph_begin: Some(graph_begin::<B>),
        graph_end: Some(graph_end::<B>),
        graph_launch: Some(graph_launch::<B>),
        graph_free: Some(graph_free::<B>),
    }
}

/// Run `f` on the provider behind `ctx`, turning errors and panics into a
/// status and remembering the message.
///
/// # Safety
/// `ctx` must be a pointer made by [`init`] for this `B` and not destroyed.
unsafe fn call<B: Backend>(ctx: *mut c_void, f: impl FnOnce(&B) -> Result<()>) -> i32 {
    // SAFETY: caller contract.
    let p = unsafe { &*(ctx as *const Provider<B>) };
    let r = catch_unwind(AssertUnwindSafe(|| f(&p.backend)))
        .unwrap_or_else(|e| Err(BackendError::Internal(panic_message(e))));
    match r {
        Ok(()) => Status::Ok as i32,
        Err(e) => {
            if let Ok(mut m) = p.last_error.lock() {
                *m = e.message();
            }
            e.status() as i32
        }
    }
}

unsafe extern "C" fn destroy<B: Backend>(ctx: *mut c_void) {
    if ctx.is_null() {
        return;
    }
    // SAFETY: `ctx` came from `Box::into_raw` in `init` and is destroyed once.
    let p = unsafe { Box::from_raw(ctx as *mut Provider<B>) };
    // A panicking Drop must not unwind into the host.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(p)));
}

unsafe extern "C" fn last_error<B: Backend>(ctx: *mut c_void, buf: *mut u8, len: usize) -> usize {
    // SAFETY: vtable contract.
    let p = unsafe { &*(ctx as *const Provider<B>) };
    let msg = p.last_error.lock().map(|m| m.clone()).unwrap_or_default();
    // SAFETY: vtable contract on `buf`.
    unsafe { write_str(&msg, buf, len) }
}

unsafe extern "C" fn name<B: Backend>(ctx: *mut c_void, buf: *mut u8, len: usize) -> usize {
    // SAFETY: vtable contract.
    let p = unsafe { &*(ctx as *const Provider<B>) };
    let n = catch_unwind(AssertUnwindSafe(|| p.backend.name())).unwrap_or_default();
    // SAFETY: vtable contract on `buf`.
    unsafe { write_str(&n, buf, len) }
}

unsafe extern "C" fn device_info<B: Backend>(ctx: *mut c_void, out: *mut DeviceInfoRaw) -> i32 {
    // SAFETY: vtable contract.
    unsafe {
        call::<B>(ctx, |b| {
            let info = b.device_info()?;
            let mut raw = DeviceInfoRaw {
                name: [0; DEVICE_NAME_LEN],
                kind: info.kind as u32,
                _reserved: 0,
                total_memory: info.total_memory,
                free_memory: info.free_memory,
            };
            write_str(&info.name, raw.name.as_mut_ptr(), DEVICE_NAME_LEN - 1);
            out.write(raw);
            Ok(())
        })
    }
}

unsafe extern "C" fn supports_op<B: Backend>(ctx: *mut c_void, kind: u32, args: *const c_void) -> i32 {
    // SAFETY: vtable contract.
    let p = unsafe { &*(ctx as *const Provider<B>) };
    let Some(kind) = OpKind::from_u32(kind) else { return 0 };
    if args.is_null() {
        return 0;
    }
    // SAFETY: the host passes the argument struct `kind` names.
    let op = unsafe { Op::from_raw(kind, args) };
    let yes = catch_unwind(AssertUnwindSafe(|| validate::validate_op(&op).is_ok() && p.backend.supports_op(&op)));
    i32::from(yes.unwrap_or(false))
}

unsafe extern "C" fn buffer_alloc<B: Backend>(ctx: *mut c_void, size: u64, out: *mut u64) -> i32 {
    // SAFETY: vtable contract.
    unsafe {
        call::<B>(ctx, |b| {
            let h = b.buffer_alloc(size)?;
            out.write(h.0);
            Ok(())
        })
    }
}

unsafe extern "C" fn buffer_from_host<B: Backend>(ctx: *mut c_void, ptr: *const u8, len: u64, out: *mut u64) -> i32 {
    // SAFETY: vtable contract; the host guarantees the memory outlives the buffer.
    unsafe {
        call::<B>(ctx, |b| {
            let h = b.buffer_from_host(ptr, len)?;
            out.write(h.0);
            Ok(())
        })
    }
}

unsafe extern "C" fn buffer_free<B: Backend>(ctx: *mut c_void, buffer: u64) {
    // SAFETY: vtable contract.
    unsafe {
        call::<B>(ctx, |b| {
            b.buffer_free(BufferHandle(buffer));
            Ok(())
        })
    };
}

/// A byte slice from an ABI pointer, rejecting null and sizes past `usize`.
///
/// # Safety
/// `ptr` must be valid for `len` bytes for `'a`.
unsafe fn host_slice<'a>(ptr: *const u8, len: u64) -> Result<&'a [u8]> {
    let len = usize::try_from(len).map_err(|_| BackendError::InvalidArgument(format!("length {len} too large")))?;
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(BackendError::InvalidArgument("null host pointer".into()));
    }
    // SAFETY: caller contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

unsafe extern "C" fn buffer_upload<B: Backend>(
    ctx: *mut c_void,
    buffer: u64,
    offset: u64,
    data: *const u8,
    len: u64,
) -> i32 {
    // SAFETY: vtable contract on `ctx` and `data`.
    unsafe { call::<B>(ctx, |b| b.buffer_upload(BufferHandle(buffer), offset, host_slice(data, len)?)) }
}

unsafe extern "C" fn buffer_download<B: Backend>(
    ctx: *mut c_void,
    buffer: u64,
    offset: u64,
    out: *mut u8,
    len: u64,
) -> i32 {
    // SAFETY: vtable contract on `ctx` and `out` (valid for `len` bytes of writes).
    unsafe {
        call::<B>(ctx, |b| {
            let dst = host_slice(out, len)?;
            let dst = std::slice::from_raw_parts_mut(dst.as_ptr() as *mut u8, dst.len());
            b.buffer_download(BufferHandle(buffer), offset, dst)
        })
    }
}

unsafe extern "C" fn buffer_copy<B: Backend>(
    ctx: *mut c_void,
    src: u64,
    src_offset: u64,
    dst: u64,
    dst_offset: u64,
    len: u64,
) -> i32 {
    // SAFETY: vtable contract.
    unsafe { call::<B>(ctx, |b| b.buffer_copy(BufferHandle(src), src_offset, BufferHandle(dst), dst_offset, len)) }
}

unsafe extern "C" fn run<B: Backend>(ctx: *mut c_void, kind: u32, args: *const c_void) -> i32 {
    // SAFETY: vtable contract.
    unsafe {
        call::<B>(ctx, |b| {
            let Some(k) = OpKind::from_u32(kind) else {
                return Err(BackendError::Unsupported {
                    op: format!("op #{kind}"),
                    reason: "unknown op kind (newer host?)".into(),
                });
            };
            if args.is_null() {
                return Err(BackendError::InvalidArgument(format!("{}: null arguments", k.name())));
            }
            // SAFETY: the host passes the argument struct `kind` names.
            let op = Op::from_raw(k, args);
            validate::validate_op(&op)?;
            b.run(&op)
        })
    }
}

unsafe extern "C" fn synchronize<B: Backend>(ctx: *mut c_void) -> i32 {
    // SAFETY: vtable contract.
    unsafe { call::<B>(ctx, |b| b.synchronize()) }
}

unsafe extern "C" fn graph_begin<B: Backend>(ctx: *mut c_void) -> i32 {
    // SAFETY: vtable contract.
    unsafe { call::<B>(ctx, |b| b.graph_begin()) }
}

unsafe extern "C" fn graph_end<B: Backend>(ctx: *mut c_void, out: *mut u64) -> i32 {
    // SAFETY: vtable contract.
    unsafe {
        call::<B>(ctx, |b| {
            if out.is_null() {
                return Err(BackendError::InvalidArgument("graph_end: null out pointer".into()));
            }
            let g = b.graph_end()?;
            out.write(g.0);
            Ok(())
        })
    }
}

unsafe extern "C" fn graph_launch<B: Backend>(ctx: *mut c_void, graph: u64) -> i32 {
    // SAFETY: vtable contract.
    unsafe { call::<B>(ctx, |b| b.graph_launch(GraphHandle(graph))) }
}

unsafe extern "C" fn graph_free<B: Backend>(ctx: *mut c_void, graph: u64) {
    // SAFETY: vtable contract.
    unsafe {
        call::<B>(ctx, |b| {
            b.graph_free(GraphHandle(graph));
            Ok(())
        })
    };
}
