//! Settings from the environment.
//!
//! - `ROCMFORGE_HIP_PLATFORM`: `amd` or `nvidia` forces a platform; unset
//!   (or empty) picks by what is installed, AMD first. Anything else is an
//!   error, not a silent fallback.
//! - `ROCMFORGE_HIP_DEVICE`: the device ordinal (default 0).
//! - `ROCMFORGE_CACHE_DIR`: the cache root; kernels go to its `kernels/` (see
//!   [`crate::compile::cache::cache_dir_from`]).
//!
//! Parsing takes the values as parameters, so tests never have to set
//! variables in a multi-threaded test process.

use std::path::PathBuf;

use rocmforge_backend_api::{BackendError, Result};

use crate::compile::cache::cache_dir_from_env;
use crate::runtime::{Platform, PlatformChoice};

pub const ENV_PLATFORM: &str = "ROCMFORGE_HIP_PLATFORM";
pub const ENV_DEVICE: &str = "ROCMFORGE_HIP_DEVICE";

/// How the backend picks its platform, device and cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub platform: PlatformChoice,
    pub device: usize,
    /// `None`: compile without a disk cache.
    pub cache_dir: Option<PathBuf>,
}

impl Config {
    /// Read the `ROCMFORGE_*` variables of the process.
    pub fn from_env() -> Result<Config> {
        let get = |name: &str| match std::env::var(name) {
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(BackendError::InvalidArgument(format!("{name} is not valid UTF-8")))
            }
        };
        Ok(Config {
            platform: parse_platform(get(ENV_PLATFORM)?.as_deref())?,
            device: parse_device(get(ENV_DEVICE)?.as_deref())?,
            cache_dir: cache_dir_from_env(),
        })
    }
}

/// The value of `ROCMFORGE_HIP_PLATFORM`.
pub fn parse_platform(value: Option<&str>) -> Result<PlatformChoice> {
    match value.map(str::trim) {
        None | Some("") => Ok(PlatformChoice::Auto),
        Some(v) if v.eq_ignore_ascii_case("amd") => Ok(PlatformChoice::Only(Platform::Amd)),
        Some(v) if v.eq_ignore_ascii_case("nvidia") => Ok(PlatformChoice::Only(Platform::Nvidia)),
        Some(v) => Err(BackendError::InvalidArgument(format!(
            "{ENV_PLATFORM}={v:?} is not a HIP platform: use `amd` or `nvidia`, or leave it unset to pick by what is installed"
        ))),
    }
}

/// The value of `ROCMFORGE_HIP_DEVICE`.
pub fn parse_device(value: Option<&str>) -> Result<usize> {
    match value.map(str::trim) {
        None | Some("") => Ok(0),
        Some(v) => v.parse::<usize>().map_err(|_| {
            BackendError::InvalidArgument(format!("{ENV_DEVICE}={v:?} is not a device ordinal (0, 1, ...)"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_values() {
        assert_eq!(parse_platform(None).ok(), Some(PlatformChoice::Auto));
        assert_eq!(parse_platform(Some("")).ok(), Some(PlatformChoice::Auto));
        assert_eq!(parse_platform(Some("amd")).ok(), Some(PlatformChoice::Only(Platform::Amd)));
        assert_eq!(parse_platform(Some("NVIDIA")).ok(), Some(PlatformChoice::Only(Platform::Nvidia)));
        let e = parse_platform(Some("bogus")).expect_err("bogus is not a platform");
        assert!(matches!(e, BackendError::InvalidArgument(_)));
        let m = e.to_string();
        assert!(m.contains("ROCMFORGE_HIP_PLATFORM=\"bogus\"") && m.contains("amd") && m.contains("nvidia"), "{m}");
        assert!(!m.contains('\n'));
    }

    #[test]
    fn device_values() {
        assert_eq!(parse_device(None).ok(), Some(0));
        assert_eq!(parse_device(Some("3")).ok(), Some(3));
        let e = parse_device(Some("-1")).expect_err("negative");
        assert!(e.to_string().contains("ROCMFORGE_HIP_DEVICE=\"-1\""), "{e}");
    }
}
