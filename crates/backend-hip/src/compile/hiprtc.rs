//! hiprtc, the AMD platform's runtime compiler, bound at run time. Produces
//! a code object (`hiprtcGetCode`) for `--offload-arch=<gcnArchName>` that
//! `hipModuleLoadData` loads.
//!
//! Since ROCm 5.3 hiprtc is its own library (`libhiprtc.so`); before that
//! its functions lived in `libamdhip64.so`, which is tried last.

use std::ffi::{c_char, c_int};

use super::{Rtc, RtcFns};
use crate::dl::{self, c_api};
use crate::runtime::Raw;

type HiprtcResult = c_int;

const LIBRARY_NAMES: [&str; 4] = ["libhiprtc.so", "libhiprtc.so.7", "libhiprtc.so.6", "libhiprtc.so.5"];

c_api! {
    /// The hiprtc functions the backend uses.
    pub(crate) struct HiprtcFns {
        fn hiprtcVersion(major: *mut c_int, minor: *mut c_int) -> HiprtcResult;
        fn hiprtcCreateProgram(
            prog: *mut Raw,
            src: *const c_char,
            name: *const c_char,
            num_headers: c_int,
            headers: *const *const c_char,
            include_names: *const *const c_char
        ) -> HiprtcResult;
        fn hiprtcCompileProgram(prog: Raw, num_options: c_int, options: *const *const c_char) -> HiprtcResult;
        fn hiprtcGetProgramLogSize(prog: Raw, size: *mut usize) -> HiprtcResult;
        fn hiprtcGetProgramLog(prog: Raw, log: *mut c_char) -> HiprtcResult;
        fn hiprtcGetCodeSize(prog: Raw, size: *mut usize) -> HiprtcResult;
        fn hiprtcGetCode(prog: Raw, code: *mut c_char) -> HiprtcResult;
        fn hiprtcDestroyProgram(prog: *mut Raw) -> HiprtcResult;
        fn hiprtcGetErrorString(result: HiprtcResult) -> *const c_char;
    }
}

/// Load hiprtc; the error is one line.
pub(crate) fn open() -> Result<Rtc, String> {
    let dir = [crate::runtime::rocm_lib_dir()];
    let mut names = dl::candidates(&LIBRARY_NAMES, &dir);
    names.extend(dl::candidates(&crate::runtime::HIP_LIBRARY_NAMES, &dir));
    let (lib, name) = dl::open_first(&names).map_err(|_| {
        format!("no kernel compiler: libhiprtc could not be loaded (tried {})", LIBRARY_NAMES.join(", "))
    })?;
    // SAFETY: hiprtc exports these symbols with the signatures of hiprtc.h.
    let f = unsafe { HiprtcFns::load(lib) }.map_err(|missing| format!("no kernel compiler: {name} {missing}"))?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: valid out pointers.
    let rc = unsafe { (f.hiprtcVersion)(&mut major, &mut minor) };
    if rc != 0 {
        return Err(format!("no kernel compiler: hiprtcVersion failed with {rc}"));
    }
    Ok(Rtc {
        label: "hiprtc",
        version: (major, minor),
        fns: RtcFns {
            create: f.hiprtcCreateProgram,
            compile: f.hiprtcCompileProgram,
            log_size: f.hiprtcGetProgramLogSize,
            log: f.hiprtcGetProgramLog,
            code_size: f.hiprtcGetCodeSize,
            code: f.hiprtcGetCode,
            destroy: f.hiprtcDestroyProgram,
            error_string: f.hiprtcGetErrorString,
            names: [
                "hiprtcCreateProgram",
                "hiprtcCompileProgram",
                "hiprtcGetProgramLogSize",
                "hiprtcGetProgramLog",
                "hiprtcGetCodeSize",
                "hiprtcGetCode",
                "hiprtcDestroyProgram",
            ],
        },
    })
}
