//! `llama`: Llama 2/3, SmolLM, Mistral-style GQA. Rope in normal (pairwise)
//! order: GGUF converters permute q/k weights for it.

use std::sync::Arc;

use rocmforge_backend_api::op::ROPE_NORMAL;
use rocmforge_backend_api::Backend;
use rocmforge_core::gguf::GgufFile;
use rocmforge_core::model::CausalLm;

use crate::transformer::{Arch, Transformer};
use crate::{ArchEntry, LoadOptions, Result};

pub const ARCH: Arch = Arch { name: "llama", rope_mode: ROPE_NORMAL, qkv_bias: false };

fn load(gguf: Arc<GgufFile>, backend: Arc<dyn Backend>, opts: &LoadOptions) -> Result<Box<dyn CausalLm>> {
    Ok(Box::new(Transformer::load(gguf, backend, opts, ARCH)?))
}

inventory::submit! { ArchEntry { name: "llama", load } }
