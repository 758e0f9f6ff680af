//! NVRTC (`libnvrtc.so.*`), the NVIDIA platform's runtime compiler, bound at
//! run time. Produces CUBINs (`nvrtcGetCUBIN`) for a real `sm_XY`, which the
//! driver loads without a PTX JIT step.

use std::ffi::{c_char, c_int};

use super::{Rtc, RtcFns};
use crate::dl::{self, c_api};
use crate::runtime::Raw;

type NvrtcResult = c_int;

/// Library names, newest first (CUDA 13, 12, 11.2+), then the unversioned
/// development link.
const LIBRARY_NAMES: [&str; 4] = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"];

c_api! {
    /// The NVRTC functions the backend uses.
    pub(crate) struct NvrtcFns {
        fn nvrtcVersion(major: *mut c_int, minor: *mut c_int) -> NvrtcResult;
        fn nvrtcCreateProgram(
            prog: *mut Raw,
            src: *const c_char,
            name: *const c_char,
            num_headers: c_int,
            headers: *const *const c_char,
            include_names: *const *const c_char
        ) -> NvrtcResult;
        fn nvrtcCompileProgram(prog: Raw, num_options: c_int, options: *const *const c_char) -> NvrtcResult;
        fn nvrtcGetProgramLogSize(prog: Raw, size: *mut usize) -> NvrtcResult;
        fn nvrtcGetProgramLog(prog: Raw, log: *mut c_char) -> NvrtcResult;
        fn nvrtcGetCUBINSize(prog: Raw, size: *mut usize) -> NvrtcResult;
        fn nvrtcGetCUBIN(prog: Raw, cubin: *mut c_char) -> NvrtcResult;
        fn nvrtcDestroyProgram(prog: *mut Raw) -> NvrtcResult;
        fn nvrtcGetErrorString(result: NvrtcResult) -> *const c_char;
    }
}

/// Load NVRTC; the error is one line.
pub(crate) fn open() -> Result<Rtc, String> {
    let dirs = [
        dl::env_dir("CUDA_PATH", "/usr/local/cuda", "lib64"),
        dl::env_dir("CUDA_HOME", "/usr/local/cuda", "targets/x86_64-linux/lib"),
    ];
    let names = dl::candidates(&LIBRARY_NAMES, &dirs);
    let (lib, name) = dl::open_first(&names).map_err(|_| {
        format!("no kernel compiler: libnvrtc could not be loaded (tried {})", LIBRARY_NAMES.join(", "))
    })?;
    // SAFETY: libnvrtc exports these symbols with the signatures of nvrtc.h.
    let f = unsafe { NvrtcFns::load(lib) }.map_err(|missing| format!("no kernel compiler: {name} {missing}"))?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: valid out pointers.
    let rc = unsafe { (f.nvrtcVersion)(&mut major, &mut minor) };
    if rc != 0 {
        return Err(format!("no kernel compiler: nvrtcVersion failed with {rc}"));
    }
    Ok(Rtc {
        label: "NVRTC",
        version: (major, minor),
        fns: RtcFns {
            create: f.nvrtcCreateProgram,
            compile: f.nvrtcCompileProgram,
            log_size: f.nvrtcGetProgramLogSize,
            log: f.nvrtcGetProgramLog,
            code_size: f.nvrtcGetCUBINSize,
            code: f.nvrtcGetCUBIN,
            destroy: f.nvrtcDestroyProgram,
            error_string: f.nvrtcGetErrorString,
            names: [
                "nvrtcCreateProgram",
                "nvrtcCompileProgram",
                "nvrtcGetProgramLogSize",
                "nvrtcGetProgramLog",
                "nvrtcGetCUBINSize",
                "nvrtcGetCUBIN",
                "nvrtcDestroyProgram",
            ],
        },
    })
}
