//! GGUF: the model file format of llama.cpp/ggml, read and written.
//!
//! A GGUF file is a little-endian header — magic `GGUF`, version, tensor
//! count, metadata count — then the metadata (typed key/value pairs; arrays
//! may nest), then one info per tensor (name, dims innermost first, ggml type
//! id, offset), then, aligned to `general.alignment` (default 32), the data
//! section holding each tensor's bytes at its (aligned) offset.
//!
//! - [`GgufFile`] parses versions 2 and 3 from a read-only memory map
//!   ([`GgufFile::open`]) or from memory ([`GgufFile::from_bytes`]). Every
//!   count, length and offset is checked against the file before anything
//!   is allocated, so a hostile file gives a [`GgufError`], never a panic or
//!   a huge allocation. Tensor data is handed out without copying.
//! - [`GgufWriter`] writes version 3 files with any metadata and tensors.
//!
//! ```
//! use rocmforge_backend_api::DType;
//! use rocmforge_core::gguf::{GgufFile, GgufWriter};
//!
//! let mut w = GgufWriter::new();
//! w.add_metadata("general.architecture", "llama")?
//!     .add_metadata("llama.block_count", 2u32)?
//!     .add_tensor("output_norm.weight", DType::F32, &[4], vec![0u8; 16])?;
//! let file = GgufFile::from_bytes(w.to_bytes()?)?;
//! assert_eq!(file.get_str("general.architecture")?, "llama");
//! assert_eq!(file.get_u64("llama.block_count")?, 2);
//! let t = file.tensor("output_norm.weight").unwrap();
//! assert_eq!(file.tensor_data(t).len(), 16);
//! # Ok::<(), rocmforge_core::gguf::GgufError>(())
//! ```

mod error;
mod reader;
mod tensor_info;
mod value;
mod writer;

pub use error::{GgufError, Result};
pub use reader::{GgufFile, ALIGNMENT_KEY, DEFAULT_ALIGNMENT, GGUF_MAGIC};
pub use tensor_info::{TensorInfo, MAX_DIMS};
pub use value::{Array, Value, ValueType, MAX_ARRAY_DEPTH};
pub use writer::{GgufWriter, GGUF_WRITE_VERSION};
