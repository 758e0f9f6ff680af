//! Model architectures, each in one file and registered with `inventory`
//! under its GGUF `general.architecture` name. Adding an architecture means
//! one new file (plus its tests).

mod error;
pub mod hparams;
pub mod llama;
pub mod qwen2;
mod registry;
pub mod synthetic;
pub mod transformer;
mod weights;

pub use error::{ModelError, Result};
pub use registry::{load, lookup, names, ArchEntry, LoadOptions};
pub use weights::Weights;

/// Reference this from a binary so the linker keeps this crate and with it
/// the architecture registrations (`inventory` runs them only if linked).
pub fn link() {}
