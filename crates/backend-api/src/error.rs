//! Errors: the closed [`Status`] set that crosses the ABI, and the typed
//! [`BackendError`] the host works with.

use std::path::PathBuf;

/// Result of every fallible ABI call. A closed set: the detail travels as the
/// message from `last_error`. Unknown values from a plugin read as `Internal`.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    OutOfMemory = 1,
    Unsupported = 2,
    InvalidArgument = 3,
    DeviceLost = 4,
    CompileFailed = 5,
    Internal = 6,
}

impl Status {
    pub fn from_i32(v: i32) -> Status {
        match v {
            0 => Status::Ok,
            1 => Status::OutOfMemory,
            2 => Status::Unsupported,
            3 => Status::InvalidArgument,
            4 => Status::DeviceLost,
            5 => Status::CompileFailed,
            _ => Status::Internal,
        }
    }
}

pub type Result<T, E = BackendError> = std::result::Result<T, E>;

/// What went wrong in or at the edge of a backend. Variants carry data; the
/// Display text is one line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    /// A shape, dtype or layout at the boundary is not what the op takes.
    #[error("{op}: {operand}: expected {expected}, got {got}")]
    Shape { op: &'static str, operand: &'static str, expected: String, got: String },
    /// The backend cannot run this op with these types/shapes.
    #[error("{op}: not supported by this backend: {reason}")]
    Unsupported { op: String, reason: String },
    #[error("out of device memory: {0}")]
    OutOfMemory(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("device lost: {0}")]
    DeviceLost(String),
    #[error("kernel compilation failed: {0}")]
    CompileFailed(String),
    #[error("internal backend error: {0}")]
    Internal(String),
    /// A plugin library could not be found or loaded; names the file.
    #[error("{}: {reason}", path.display())]
    Load { path: PathBuf, reason: String },
}

impl BackendError {
    /// The status this error crosses the ABI as.
    pub fn status(&self) -> Status {
        match self {
            BackendError::Shape { .. } | BackendError::InvalidArgument(_) => Status::InvalidArgument,
            BackendError::Unsupported { .. } => Status::Unsupported,
            BackendError::OutOfMemory(_) => Status::OutOfMemory,
            BackendError::DeviceLost(_) => Status::DeviceLost,
            BackendError::CompileFailed(_) => Status::CompileFailed,
            BackendError::Internal(_) | BackendError::Load { .. } => Status::Internal,
        }
    }

    /// Rebuild an error from a status and the plugin's message; `call` names
    /// the op or function that failed.
    pub fn from_status(status: Status, call: &str, message: String) -> BackendError {
        match status {
            Status::OutOfMemory => BackendError::OutOfMemory(message),
            Status::Unsupported => BackendError::Unsupported { op: call.to_string(), reason: message },
            Status::InvalidArgument => BackendError::InvalidArgument(message),
            Status::DeviceLost => BackendError::DeviceLost(message),
            Status::CompileFailed => BackendError::CompileFailed(message),
            Status::Ok | Status::Internal => BackendError::Internal(message),
        }
    }

    /// The message without the variant's prefix, for the ABI's `last_error`
    /// (the host re-adds the prefix from the status).
    pub fn message(&self) -> String {
        match self {
            BackendError::OutOfMemory(m)
            | BackendError::InvalidArgument(m)
            | BackendError::DeviceLost(m)
            | BackendError::CompileFailed(m)
            | BackendError::Internal(m) => m.clone(),
            BackendError::Unsupported { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }
}
