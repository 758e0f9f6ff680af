//! Binding C functions of a library opened at run time.
//!
//! The GPU runtimes and compilers are not linked: each is `dlopen`ed by
//! name when the backend starts, so the plugin loads (and `probe` answers
//! "no device") on machines without them. Opened libraries are leaked on
//! purpose: driver libraries keep threads and callbacks alive that must not
//! outlive their code, and ROCmForge never unloads a library (see
//! `rocmforge_backend_api::loader`). That also makes every bound function
//! pointer valid for the life of the process.

use libloading::Library;

/// A library that stays loaded until the process exits.
pub(crate) type StaticLib = &'static Library;

/// Open the first of `names` that loads (a bare name goes through the
/// dynamic loader's search path, a path is opened as is). Returns the
/// library and the name that worked, or, when none loads, the last loader
/// message.
pub(crate) fn open_first(names: &[String]) -> Result<(StaticLib, String), String> {
    let mut last = String::from("no candidate names");
    for name in names {
        // SAFETY: opening a GPU runtime library runs its initialisers, which
        // is the documented way to use these libraries.
        match unsafe { Library::new(name) } {
            Ok(lib) => return Ok((Box::leak(Box::new(lib)), name.clone())),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// Candidate names: `bare` names first (the loader's search path, which
/// honours `LD_LIBRARY_PATH` and ldconfig), then the same file names in
/// `dirs`, for installs that are not registered with ldconfig.
pub(crate) fn candidates(bare: &[&str], dirs: &[std::path::PathBuf]) -> Vec<String> {
    let mut out: Vec<String> = bare.iter().map(|s| s.to_string()).collect();
    for dir in dirs {
        for name in bare {
            let p = dir.join(name);
            if p.exists() {
                out.push(p.to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// Directory named by environment variable `var`, joined with `sub`, or
/// `fallback` when it is unset.
pub(crate) fn env_dir(var: &str, fallback: &str, sub: &str) -> std::path::PathBuf {
    let base = std::env::var_os(var).map(std::path::PathBuf::from).unwrap_or_else(|| fallback.into());
    base.join(sub)
}

/// Declare a table of C functions bound from a [`StaticLib`] by their
/// exported names. The field name is the exported symbol, spelled exactly
/// (`cuMemAlloc_v2`, not the header's macro name `cuMemAlloc`).
///
/// ```ignore
/// c_api! {
///     /// CUDA driver functions.
///     pub(crate) struct CudaFns {
///         fn cuInit(flags: c_uint) -> CUresult;
///     }
/// }
/// // SAFETY: the library exports these names with these signatures.
/// let fns = unsafe { CudaFns::load(lib) }?;
/// ```
macro_rules! c_api {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( fn $sym:ident ( $( $arg:ident : $ty:ty ),* $(,)? ) -> $ret:ty ; )*
        }
    ) => {
        $(#[$meta])*
        #[allow(non_snake_case)]
        $vis struct $name {
            $( pub $sym: unsafe extern "C" fn( $( $ty ),* ) -> $ret, )*
        }

        impl $name {
            /// Bind every function, or name the first missing symbol.
            ///
            /// # Safety
            /// `lib` must export each symbol with the declared C signature.
            pub unsafe fn load(lib: $crate::dl::StaticLib) -> Result<Self, String> {
                Ok($name {
                    $( $sym: {
                        // SAFETY: caller contract: the symbol has this type.
                        let s: libloading::Symbol<unsafe extern "C" fn( $( $ty ),* ) -> $ret> =
                            unsafe { lib.get(concat!(stringify!($sym), "\0").as_bytes()) }
                                .map_err(|_| format!("lacks `{}`", stringify!($sym)))?;
                        *s
                    }, )*
                })
            }
        }
    };
}

pub(crate) use c_api;

/// Bind one optional function (present only in some versions).
///
/// # Safety
/// If `lib` exports `name`, it must have type `T` (a C function pointer).
pub(crate) unsafe fn optional<T: Copy>(lib: StaticLib, name: &str) -> Option<T> {
    let mut z = name.as_bytes().to_vec();
    z.push(0);
    // SAFETY: caller contract.
    unsafe { lib.get::<T>(&z) }.ok().map(|s| *s)
}

/// A NUL-terminated C string owned by the callee, as UTF-8 (lossy), or
/// `None` for a null pointer.
///
/// # Safety
/// `p` must be null or point to a NUL-terminated string that stays valid
/// during the call.
pub(crate) unsafe fn c_str(p: *const std::ffi::c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: caller contract.
    Some(unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// A string from a fixed buffer filled by C (up to the first NUL).
pub(crate) fn buf_str(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).trim().to_string()
}
