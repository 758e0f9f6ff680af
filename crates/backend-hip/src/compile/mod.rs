//! Run-time compilation of HIP-dialect kernel sources, with a disk cache.
//!
//! Kernels are written once, in HIP's dialect (`__global__`, `threadIdx`,
//! `__shared__`, ...), with what differs between platforms confined to the
//! embedded header `kernels/common/compat.h`. They are compiled on first use
//! for the exact device: by hiprtc on AMD (a code object for
//! `--offload-arch=<gcnArchName>`), by NVRTC on NVIDIA (a CUBIN for
//! `--gpu-architecture=sm_XY`). Neither needs toolkit headers: sources and
//! headers are handed to the compiler as strings, and `#include "x.h"`
//! resolves against the embedded headers.
//!
//! Every compile defines `RF_WARP_SIZE` (the queried warp size) and
//! `RF_PLATFORM_AMD` or `RF_PLATFORM_NVIDIA`, so kernels specialise at
//! compile time without assuming a warp width.
//!
//! Results are cached on disk ([`cache`]), keyed by a hash of the source
//! and headers, target, compiler version and options. A compile error is
//! [`BackendError::CompileFailed`] carrying the compiler's log.

pub mod cache;
mod hiprtc;
mod nvrtc;
pub mod sha256;

use std::ffi::{c_char, c_int, CString};
use std::path::PathBuf;

use rocmforge_backend_api::{BackendError, Result};

use crate::runtime::{DeviceFacts, Platform, Raw};
pub use cache::{CacheKey, DiskCache, KeyInputs};

/// A header a kernel source may `#include "name"`.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    /// The include name ("common/compat.h").
    pub name: &'a str,
    pub code: &'a str,
}

/// A kernel translation unit: its file name (for messages and `#line`),
/// its text and the headers it may include.
#[derive(Clone, Copy, Debug)]
pub struct KernelSource<'a> {
    pub name: &'a str,
    pub code: &'a str,
    pub headers: &'a [Header<'a>],
}

/// What code is compiled for: the platform, the compiler target and the
/// device's warp size (a compile-time constant in kernels).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub platform: Platform,
    /// "sm_90" or "gfx90a:sramecc+:xnack-".
    pub arch: String,
    pub warp_size: u32,
}

impl Target {
    pub fn for_device(platform: Platform, facts: &DeviceFacts) -> Target {
        Target { platform, arch: facts.target.clone(), warp_size: facts.warp_size }
    }
}

/// A compiled code object and whether it came from the disk cache.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub code: Vec<u8>,
    pub cached: bool,
}

type CreateFn = unsafe extern "C" fn(
    prog: *mut Raw,
    src: *const c_char,
    name: *const c_char,
    num_headers: c_int,
    headers: *const *const c_char,
    include_names: *const *const c_char,
) -> c_int;
type CompileFn = unsafe extern "C" fn(prog: Raw, num_options: c_int, options: *const *const c_char) -> c_int;
type SizeFn = unsafe extern "C" fn(prog: Raw, size: *mut usize) -> c_int;
type ReadFn = unsafe extern "C" fn(prog: Raw, out: *mut c_char) -> c_int;
type DestroyFn = unsafe extern "C" fn(prog: *mut Raw) -> c_int;
type ErrorStringFn = unsafe extern "C" fn(code: c_int) -> *const c_char;

/// NVRTC and hiprtc have the same C shape (hiprtc copied NVRTC's API): the
/// bindings fill this table and the names used in messages.
pub(crate) struct RtcFns {
    pub create: CreateFn,
    pub compile: CompileFn,
    pub log_size: SizeFn,
    pub log: ReadFn,
    pub code_size: SizeFn,
    pub code: ReadFn,
    pub destroy: DestroyFn,
    pub error_string: ErrorStringFn,
    /// Exported names of the fields above, in order, for messages.
    pub names: [&'static str; 7],
}

/// An opened runtime compiler.
pub(crate) struct Rtc {
    /// "NVRTC" / "hiprtc".
    pub label: &'static str,
    pub version: (i32, i32),
    pub fns: RtcFns,
}

/// The platform's runtime compiler plus the disk cache.
pub struct Compiler {
    platform: Platform,
    rtc: Rtc,
    cache: Option<DiskCache>,
}

impl Compiler {
    /// Load the compiler library for `platform` (NVRTC or hiprtc). The error
    /// is one line saying which library was missing.
    pub fn open(platform: Platform, cache_dir: Option<PathBuf>) -> std::result::Result<Compiler, String> {
        let rtc = match platform {
            Platform::Nvidia => nvrtc::open()?,
            Platform::Amd => hiprtc::open()?,
        };
        Ok(Compiler { platform, rtc, cache: cache_dir.map(DiskCache::new) })
    }

    /// "NVRTC 13.0" / "hiprtc 6.2".
    pub fn version(&self) -> String {
        format!("{} {}.{}", self.rtc.label, self.rtc.version.0, self.rtc.version.1)
    }

    pub fn cache(&self) -> Option<&DiskCache> {
        self.cache.as_ref()
    }

    /// The options a compile for `target` uses.
    pub fn options(&self, target: &Target) -> Vec<String> {
        let mut o = match self.platform {
            Platform::Nvidia => vec![
                format!("--gpu-architecture={}", target.arch),
                // Unqualified functions are device functions, as in HIP.
                "-default-device".into(),
                "--std=c++17".into(),
                "-DRF_PLATFORM_NVIDIA=1".into(),
            ],
            Platform::Amd => vec![
                format!("--offload-arch={}", target.arch),
                "-std=c++17".into(),
                "-O3".into(),
                "-DRF_PLATFORM_AMD=1".into(),
            ],
        };
        o.push(format!("-DRF_WARP_SIZE={}", target.warp_size));
        o
    }

    /// Compile `src` for `target`, through the disk cache.
    pub fn compile(&self, src: &KernelSource<'_>, target: &Target) -> Result<Compiled> {
        if target.platform != self.platform {
            return Err(BackendError::InvalidArgument(format!(
                "{} cannot compile for the {} platform",
                self.version(),
                target.platform
            )));
        }
        let options = self.options(target);
        let compile = || self.compile_uncached(src, &target.arch, &options);
        match &self.cache {
            None => compile().map(|code| Compiled { code, cached: false }),
            Some(cache) => {
                let version = self.version();
                let key = CacheKey::new(&KeyInputs {
                    platform: self.platform.env_name(),
                    compiler: &version,
                    target: &target.arch,
                    options: &options,
                    source: src,
                });
                cache.get_or_insert_with(&key, compile).map(|(code, cached)| Compiled { code, cached })
            }
        }
    }

    fn compile_uncached(&self, src: &KernelSource<'_>, arch: &str, options: &[String]) -> Result<Vec<u8>> {
        let f = &self.rtc.fns;
        let cstr = |what: &str, s: &str| {
            CString::new(s)
                .map_err(|_| BackendError::InvalidArgument(format!("{}: {what} contains a NUL byte", src.name)))
        };
        let code = cstr("source", src.code)?;
        let name = cstr("name", src.name)?;
        let header_code = src.headers.iter().map(|h| cstr("header", h.code)).collect::<Result<Vec<_>>>()?;
        let header_names = src.headers.iter().map(|h| cstr("header name", h.name)).collect::<Result<Vec<_>>>()?;
        let header_code_ptrs: Vec<*const c_char> = header_code.iter().map(|c| c.as_ptr()).collect();
        let header_name_ptrs: Vec<*const c_char> = header_names.iter().map(|c| c.as_ptr()).collect();
        let opts = options.iter().map(|o| cstr("option", o)).collect::<Result<Vec<_>>>()?;
        let opt_ptrs: Vec<*const c_char> = opts.iter().map(|c| c.as_ptr()).collect();

        let mut prog: Raw = std::ptr::null_mut();
        // SAFETY: every pointer array has the length passed with it and
        // points to NUL-terminated strings that outlive the call.
        let rc = unsafe {
            (f.create)(
                &mut prog,
                code.as_ptr(),
                name.as_ptr(),
                header_code_ptrs.len() as c_int,
                header_code_ptrs.as_ptr(),
                header_name_ptrs.as_ptr(),
            )
        };
        self.check(0, rc)?;
        let program = Program { rtc: &self.rtc, prog };

        // SAFETY: a live program; options as above.
        let rc = unsafe { (f.compile)(program.prog, opt_ptrs.len() as c_int, opt_ptrs.as_ptr()) };
        if rc != 0 {
            let log = program.log().unwrap_or_else(|e| format!("(no log: {e})"));
            return Err(BackendError::CompileFailed(format!(
                "{} for {arch} with {} ({}; options: {}):\n{}",
                src.name,
                self.version(),
                self.error_text(rc),
                options.join(" "),
                log.trim_end()
            )));
        }
        let mut size = 0usize;
        // SAFETY: a compiled program; valid out pointer.
        self.check(4, unsafe { (f.code_size)(program.prog, &mut size) })?;
        if size == 0 {
            return Err(BackendError::CompileFailed(format!(
                "{} for {arch} with {}: the compiler produced no code",
                src.name,
                self.version()
            )));
        }
        let mut out = vec![0u8; size];
        // SAFETY: `out` holds the `size` bytes the compiler reported.
        self.check(5, unsafe { (f.code)(program.prog, out.as_mut_ptr() as *mut c_char) })?;
        Ok(out)
    }

    fn error_text(&self, rc: c_int) -> String {
        // SAFETY: returns a static string (or null).
        unsafe { crate::dl::c_str((self.rtc.fns.error_string)(rc)) }.unwrap_or_else(|| format!("error {rc}"))
    }

    /// `rc` of the call `names[which]`, as an error naming it.
    fn check(&self, which: usize, rc: c_int) -> Result<()> {
        if rc == 0 {
            Ok(())
        } else {
            Err(BackendError::Internal(format!(
                "{} failed: {} (code {rc})",
                self.rtc.fns.names[which],
                self.error_text(rc)
            )))
        }
    }
}

/// A compiler program, destroyed on drop.
struct Program<'a> {
    rtc: &'a Rtc,
    prog: Raw,
}

impl Program<'_> {
    fn log(&self) -> std::result::Result<String, String> {
        let f = &self.rtc.fns;
        let mut size = 0usize;
        // SAFETY: a live program; valid out pointer.
        let rc = unsafe { (f.log_size)(self.prog, &mut size) };
        if rc != 0 {
            return Err(format!("{} returned {rc}", f.names[2]));
        }
        let mut buf = vec![0u8; size.max(1)];
        // SAFETY: `buf` holds the reported size (the log includes its NUL).
        let rc = unsafe { (f.log)(self.prog, buf.as_mut_ptr() as *mut c_char) };
        if rc != 0 {
            return Err(format!("{} returned {rc}", f.names[3]));
        }
        Ok(crate::dl::buf_str(&buf))
    }
}

impl Drop for Program<'_> {
    fn drop(&mut self) {
        // SAFETY: created by `create`, destroyed once.
        unsafe { (self.rtc.fns.destroy)(&mut self.prog) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_carry_target_and_warp_size() {
        // Build a Compiler around a table that is never called.
        unsafe extern "C" fn never(_: c_int) -> *const c_char {
            std::ptr::null()
        }
        unsafe extern "C" fn never_create(
            _: *mut Raw,
            _: *const c_char,
            _: *const c_char,
            _: c_int,
            _: *const *const c_char,
            _: *const *const c_char,
        ) -> c_int {
            1
        }
        unsafe extern "C" fn never_compile(_: Raw, _: c_int, _: *const *const c_char) -> c_int {
            1
        }
        unsafe extern "C" fn never_size(_: Raw, _: *mut usize) -> c_int {
            1
        }
        unsafe extern "C" fn never_read(_: Raw, _: *mut c_char) -> c_int {
            1
        }
        unsafe extern "C" fn never_destroy(_: *mut Raw) -> c_int {
            0
        }
        let fns = || RtcFns {
            create: never_create,
            compile: never_compile,
            log_size: never_size,
            log: never_read,
            code_size: never_size,
            code: never_read,
            destroy: never_destroy,
            error_string: never,
            names: ["create", "compile", "log_size", "log", "code_size", "code", "destroy"],
        };
        let nv = Compiler {
            platform: Platform::Nvidia,
            rtc: Rtc { label: "NVRTC", version: (13, 0), fns: fns() },
            cache: None,
        };
        let t = Target { platform: Platform::Nvidia, arch: "sm_90".into(), warp_size: 32 };
        let o = nv.options(&t);
        assert!(o.contains(&"--gpu-architecture=sm_90".to_string()));
        assert!(o.contains(&"-default-device".to_string()));
        assert!(o.contains(&"--std=c++17".to_string()));
        assert!(o.contains(&"-DRF_WARP_SIZE=32".to_string()));
        assert_eq!(nv.version(), "NVRTC 13.0");

        let amd = Compiler {
            platform: Platform::Amd,
            rtc: Rtc { label: "hiprtc", version: (6, 2), fns: fns() },
            cache: None,
        };
        let t = Target { platform: Platform::Amd, arch: "gfx90a:sramecc+:xnack-".into(), warp_size: 64 };
        let o = amd.options(&t);
        assert!(o.contains(&"--offload-arch=gfx90a:sramecc+:xnack-".to_string()));
        assert!(o.contains(&"-DRF_WARP_SIZE=64".to_string()));

        // A failing create is an error naming the call, not a panic.
        let src = KernelSource { name: "k.hip", code: "", headers: &[] };
        let e = amd.compile(&src, &t).expect_err("the fake compiler fails");
        assert!(e.to_string().contains("create failed"), "{e}");
        // Wrong platform is refused before any call.
        let e = nv.compile(&src, &t).expect_err("platform mismatch");
        assert!(matches!(e, BackendError::InvalidArgument(_)), "{e}");
    }
}
