//! Which backend a command runs on: `--backend`, or the best usable plugin.

use std::sync::Arc;

use anyhow::Context;
use rocmforge_backend_api::loader::{self, BackendLib};
use rocmforge_backend_api::Backend;

/// Load the backend named by `--backend`, or by default `hip` when a HIP
/// device is usable and `cpu` otherwise. Says which on stderr.
pub fn load(spec: Option<&str>) -> anyhow::Result<Arc<dyn Backend>> {
    let backend = match spec {
        Some(s) => loader::load(s).with_context(|| format!("--backend {s}"))?,
        None => {
            let hip = loader::resolve("hip").ok().and_then(|p| BackendLib::open(&p).ok());
            match hip {
                Some(lib) if lib.probe().score > 0 => lib.init()?,
                _ => loader::load("cpu").context("default backend cpu")?,
            }
        }
    };
    let info = backend.device_info()?;
    eprintln!("backend: {} ({})", backend.name(), info.name);
    Ok(backend)
}
