//! Errors from loading a model.

use rocmforge_backend_api::BackendError;
use rocmforge_core::gguf::GgufError;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("unknown architecture `{name}` (known: {})", known.join(", "))]
    UnknownArchitecture { name: String, known: Vec<&'static str> },
    #[error("missing tensor `{name}`")]
    MissingTensor { name: String },
    #[error("tensor `{name}`: expected shape {expected:?}, found {found:?}")]
    TensorShape { name: String, expected: Vec<u64>, found: Vec<u64> },
    #[error("tensor `{name}`: type {dtype} is not supported here ({reason})")]
    TensorType { name: String, dtype: String, reason: String },
    #[error("bad hyperparameter: {0}")]
    HParam(String),
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
