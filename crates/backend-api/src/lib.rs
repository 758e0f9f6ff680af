//! The ROCmForge Backend interface and its stable C ABI.
//!
//! The engine drives devices only through [`Backend`]; a backend is either a
//! Rust value in process or a shared library loaded at run time
//! ([`loader`]), and the engine cannot tell the two apart.
//!
//! Design choices:
//! - **Inference-sized ops.** A backend runs fused inference ops (matmul over
//!   quantized weights, rms_norm, rope, paged attention, ...), not tensor
//!   algebra ([`op`]). Each op has one `#[repr(C)]` argument struct that is
//!   both the Rust signature and the ABI payload.
//! - **One entry point for all ops.** [`Backend::run`] takes an [`Op`] (kind +
//!   arguments) and [`Backend::supports_op`] takes the same value. Compared
//!   with one vtable field per op (ggml's style guide for us suggested that),
//!   adding an op never changes the vtable layout, an old plugin answers
//!   `Unsupported` for a kind it does not know, and the capability query
//!   cannot drift from the call.
//! - **Memory: the plugin allocates, the plugin frees.** The host holds
//!   opaque [`BufferHandle`]s ([`DeviceBuffer`] frees on drop). Host memory
//!   can be wrapped read-only ([`Backend::buffer_from_host`]) so the CPU
//!   backend runs on mmapped GGUF weights without a copy. Weights stay in
//!   their GGUF block layout: nothing dequantizes a whole model.
//! - **Stream-ordered.** Every op, upload and copy only enqueues; only
//!   `buffer_download` and `synchronize` block (and report deferred errors).
//! - **Validated at the boundary.** The host checks shapes, dtypes, layouts
//!   and aliasing ([`validate`]) before a call crosses, and returns a typed
//!   [`BackendError::Shape`] naming the op, operand, expected and got. The
//!   export layer checks again on the plugin side. What needs the data (ids
//!   in range) or buffer sizes is checked by the backend.
//! - **A C ABI, not Rust trait objects.** Rust has no stable ABI; a plugin
//!   built by another rustc must load. [`abi`] is the contract; the unsafe
//!   code lives once, in [`export`] (provider side, via [`export_backend!`])
//!   and [`host`] (foreign side). Errors cross as a closed [`Status`] plus a
//!   message; panics never cross. Libraries are never unloaded.
//! - **One thread per instance.** Calls into one instance are serialised.

pub mod abi;
mod backend;
mod buffer;
pub mod dtype;
mod error;
pub mod export;
mod graph;
pub mod host;
pub mod loader;
mod metered;
pub mod op;
mod tensor;
pub mod validate;

pub use backend::{Backend, DeviceInfo, DeviceKind, Probe};
pub use buffer::DeviceBuffer;
pub use dtype::DType;
pub use error::{BackendError, Result, Status};
pub use graph::Graph;
pub use host::ForeignBackend;
pub use metered::MeteredBackend;
pub use op::{Op, OpKind};
pub use tensor::{BufferHandle, GraphHandle, TensorDesc};
