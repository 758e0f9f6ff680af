//! The stable C ABI between the host and a backend plugin.
//!
//! A plugin is a shared library exporting three functions:
//!
//! ```c
//! uint32_t rocmforge_backend_abi_version(void);               // checked first
//! int32_t  rocmforge_backend_score(uint8_t *reason, size_t len,   // 0 = cannot run here;
//!                                  size_t *reason_full_len);     // reason: device or why not
//! int32_t  rocmforge_backend_init(BackendVtable *out, uint32_t out_size,
//!                                 uint8_t *err, size_t err_len);  // a Status
//! ```
//!
//! `init` fills a [`BackendVtable`]: plain function pointers plus an opaque
//! `ctx`. Its first two fields are its own size and the ABI version, so the
//! table can grow at the end (abi_stable's prefix types, by hand): the host
//! passes the size it knows, the plugin writes at most that many bytes and
//! reports its own size, and the host never touches a field past either size.
//!
//! Everything that crosses is `#[repr(C)]` of sized integers, floats and raw
//! pointers: no Rust types, so a plugin may be built by another rustc (or in
//! another language). Strings cross as bytes copied into a caller's buffer.
//!
//! Versioning: [`ABI_VERSION`] changes when an existing item changes meaning
//! or layout. Appending a vtable field or an [`crate::OpKind`] does not
//! change it: an old plugin answers `Unsupported` for an op it does not know.

use std::ffi::c_void;

/// The ABI version this build of the host and of the export macro speak.
pub const ABI_VERSION: u32 = 1;

pub const SYMBOL_ABI_VERSION: &str = "rocmforge_backend_abi_version";
pub const SYMBOL_SCORE: &str = "rocmforge_backend_score";
pub const SYMBOL_INIT: &str = "rocmforge_backend_init";

pub type AbiVersionFn = unsafe extern "C" fn() -> u32;
pub type ScoreFn = unsafe extern "C" fn(reason: *mut u8, reason_len: usize, reason_full_len: *mut usize) -> i32;
pub type InitFn = unsafe extern "C" fn(out: *mut BackendVtable, out_size: u32, err: *mut u8, err_len: usize) -> i32;

/// Room for a device name in [`DeviceInfoRaw`].
pub const DEVICE_NAME_LEN: usize = 256;

/// [`crate::DeviceInfo`] as it crosses the ABI: the name is NUL-padded UTF-8.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DeviceInfoRaw {
    pub name: [u8; DEVICE_NAME_LEN],
    pub kind: u32,
    pub _reserved: u32,
    pub total_memory: u64,
    pub free_memory: u64,
}

/// The function table of one backend instance. Every `i32` result is a
/// [`crate::Status`]; on a non-`Ok` status `last_error` gives the message.
/// The fields up to `synchronize` are required in ABI version 1 (a null one
/// is a load error); the ones after are optional.
/// Functions are called with the `ctx` from the same table, from one thread
/// at a time.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BackendVtable {
    /// `size_of::<BackendVtable>()` in the plugin's build.
    pub struct_size: u32,
    /// [`ABI_VERSION`] of the plugin's build.
    pub abi_version: u32,
    /// The plugin's instance; opaque to the host.
    pub ctx: *mut c_void,
    /// Release the instance and everything it owns; the table is dead after.
    pub destroy: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
    /// Copy the last error message (UTF-8, no NUL) into `buf`, truncated to
    /// `len`; returns the full length.
    pub last_error: Option<unsafe extern "C" fn(ctx: *mut c_void, buf: *mut u8, len: usize) -> usize>,
    /// Copy the backend's short name into `buf` like `last_error`.
    pub name: Option<unsafe extern "C" fn(ctx: *mut c_void, buf: *mut u8, len: usize) -> usize>,
    pub device_info: Option<unsafe extern "C" fn(ctx: *mut c_void, out: *mut DeviceInfoRaw) -> i32>,
    /// `kind` is an [`crate::OpKind`], `args` points to its argument struct.
    /// Returns 1 when supported, 0 otherwise (also for unknown kinds).
    pub supports_op: Option<unsafe extern "C" fn(ctx: *mut c_void, kind: u32, args: *const c_void) -> i32>,
    pub buffer_alloc: Option<unsafe extern "C" fn(ctx: *mut c_void, size: u64, out: *mut u64) -> i32>,
    /// Wrap (or copy) read-only host memory that outlives the buffer.
    pub buffer_from_host:
        Option<unsafe extern "C" fn(ctx: *mut c_void, ptr: *const u8, len: u64, out: *mut u64) -> i32>,
    pub buffer_free: Option<unsafe extern "C" fn(ctx: *mut c_void, buffer: u64)>,
    /// Stream-ordered; `data` may be reused when the call returns.
    pub buffer_upload:
        Option<unsafe extern "C" fn(ctx: *mut c_void, buffer: u64, offset: u64, data: *const u8, len: u64) -> i32>,
    /// Blocks until enqueued work is done, then copies out.
    pub buffer_download:
        Option<unsafe extern "C" fn(ctx: *mut c_void, buffer: u64, offset: u64, out: *mut u8, len: u64) -> i32>,
    pub buffer_copy: Option<
        unsafe extern "C" fn(ctx: *mut c_void, src: u64, src_offset: u64, dst: u64, dst_offset: u64, len: u64) -> i32,
    >,
    /// Enqueue op `kind` with `args` (its argument struct).
    pub run: Option<unsafe extern "C" fn(ctx: *mut c_void, kind: u32, args: *const c_void) -> i32>,
    /// Block until enqueued work is done.
    pub synchronize: Option<unsafe extern "C" fn(ctx: *mut c_void) -> i32>,
    // ---- optional: appended after version 1 shipped; null (or past the
    // plugin's `struct_size`) means "not supported". ----
    /// [`crate::Backend::graph_begin`].
    pub graph_begin: Option<unsafe extern "C" fn(ctx: *mut c_void) -> i32>,
    /// [`crate::Backend::graph_end`]: writes the new graph's id (never 0).
    pub graph_end: Option<unsafe extern "C" fn(ctx: *mut c_void, out: *mut u64) -> i32>,
    /// [`crate::Backend::graph_launch`].
    pub graph_launch: Option<unsafe extern "C" fn(ctx: *mut c_void, graph: u64) -> i32>,
    /// [`crate::Backend::graph_free`].
    pub graph_free: Option<unsafe extern "C" fn(ctx: *mut c_void, graph: u64)>,
}

/// Bytes of the fields every version-1 plugin fills (all required); the
/// optional ones after them may be absent from an older plugin's table.
pub const VTABLE_REQUIRED_SIZE: usize = std::mem::offset_of!(BackendVtable, graph_begin);

impl BackendVtable {
    /// An all-null table of this build's size, for the host to pass to `init`.
    pub fn empty() -> Self {
        BackendVtable {
            struct_size: std::mem::size_of::<BackendVtable>() as u32,
            abi_version: 0,
            ctx: std::ptr::null_mut(),
            destroy: None,
            last_error: None,
            name: None,
            device_info: None,
            supports_op: None,
            buffer_alloc: None,
            buffer_from_host: None,
            buffer_free: None,
            buffer_upload: None,
            buffer_download: None,
            buffer_copy: None,
            run: None,
            synchronize: None,
            graph_begin: None,
            graph_end: None,
            graph_launch: None,
            graph_free: None,
        }
    }
}

/// Copy `s` into a caller's `(buf, len)` (truncating on a char boundary) and
/// return the full length in bytes.
///
/// # Safety
/// `buf` must be null or valid for `len` bytes of writes.
pub unsafe fn write_str(s: &str, buf: *mut u8, len: usize) -> usize {
    if !buf.is_null() && len > 0 {
        let mut n = s.len().min(len);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        // SAFETY: the caller guarantees `buf` has room for `len >= n` bytes.
        unsafe { std::ptr::copy_nonoverlapping(s.as_ptr(), buf, n) };
    }
    s.len()
}

/// Read a string written by [`write_str`]-style functions: call `f` with a
/// buffer, growing it once if the first was too small.
pub fn read_str(mut f: impl FnMut(*mut u8, usize) -> usize) -> String {
    let mut buf = vec![0u8; 1024];
    let n = f(buf.as_mut_ptr(), buf.len());
    if n > buf.len() {
        buf.resize(n, 0);
        let m = f(buf.as_mut_ptr(), buf.len());
        buf.truncate(m.min(n));
    } else {
        buf.truncate(n);
    }
    String::from_utf8_lossy(&buf).into_owned()
}
