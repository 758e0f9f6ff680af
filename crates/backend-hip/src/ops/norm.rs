//! Launch wrappers for the norm op family (kernels/norm.hip). Not written yet.

use rocmforge_backend_api::{BackendError, Op, Result};

use crate::HipBackend;

pub(crate) fn supports(_b: &HipBackend, _op: &Op<'_>) -> bool {
    false
}

pub(crate) fn run(_b: &HipBackend, op: &Op<'_>) -> Result<()> {
    Err(BackendError::Unsupported { op: op.name().to_string(), reason: "no kernel yet".into() })
}
