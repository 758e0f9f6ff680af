//! `qwen2`: Qwen2/Qwen2.5. Separate q/k/v projections with biases, GQA
//! (e.g. 14:2 in 0.5B), rope in NeoX (half-split) order, tied embeddings
//! when the file has no `output.weight`.

use std::sync::Arc;

use rocmforge_backend_api::op::ROPE_NEOX;
use rocmforge_backend_api::Backend;
use rocmforge_core::gguf::GgufFile;
use rocmforge_core::model::CausalLm;

use crate::transformer::{Arch, Transformer};
use crate::{ArchEntry, LoadOptions, Result};

pub const ARCH: Arch = Arch { name: "qwen2", rope_mode: ROPE_NEOX, qkv_bias: true };

fn load(gguf: Arc<GgufFile>, backend: Arc<dyn Backend>, opts: &LoadOptions) -> Result<Box<dyn CausalLm>> {
    Ok(Box::new(Transformer::load(gguf, backend, opts, ARCH)?))
}

inventory::submit! { ArchEntry { name: "qwen2", load } }
