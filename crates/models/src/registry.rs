//! Architectures register themselves here, keyed by GGUF
//! `general.architecture`, with `inventory::submit!` next to their code.

use std::sync::Arc;

use rocmforge_backend_api::Backend;
use rocmforge_core::gguf::GgufFile;
use rocmforge_core::model::CausalLm;

use crate::{ModelError, Result};

/// Options for loading a model that are not in the file.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// KV cache length; `None` = the model's `context_length`.
    pub context_length: Option<usize>,
    /// Most tokens one forward pass handles; longer prompts run in chunks.
    pub batch_size: usize,
    /// Called with (bytes done, bytes in all) while weights are copied to
    /// the device (for a progress bar).
    pub progress: Option<fn(u64, u64)>,
    /// Record a decode step once as a graph and replay it for every token
    /// (where the backend records graphs; otherwise ops run one by one).
    pub graphs: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { context_length: None, batch_size: 512, progress: None, graphs: true }
    }
}

/// Builds a model from a parsed file on a backend.
pub type LoadFn = fn(Arc<GgufFile>, Arc<dyn Backend>, &LoadOptions) -> Result<Box<dyn CausalLm>>;

/// A registered architecture: plain data, const-constructible, submitted
/// next to the code it registers.
pub struct ArchEntry {
    /// The GGUF `general.architecture` value.
    pub name: &'static str,
    pub load: LoadFn,
}

inventory::collect!(ArchEntry);

/// The registered architecture names, sorted.
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<_> = inventory::iter::<ArchEntry>.into_iter().map(|e| e.name).collect();
    v.sort_unstable();
    v
}

/// The entry for `name`, or an error listing the known ones.
pub fn lookup(name: &str) -> Result<&'static ArchEntry> {
    inventory::iter::<ArchEntry>
        .into_iter()
        .find(|e| e.name == name)
        .ok_or_else(|| ModelError::UnknownArchitecture { name: name.to_string(), known: names() })
}

/// Load the model in `gguf` on `backend`, by its `general.architecture`.
pub fn load(gguf: Arc<GgufFile>, backend: Arc<dyn Backend>, opts: &LoadOptions) -> Result<Box<dyn CausalLm>> {
    let arch = gguf.get_str("general.architecture")?.to_string();
    (lookup(&arch)?.load)(gguf, backend, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_sorted() {
        let n = names();
        let mut d = n.clone();
        d.dedup();
        assert_eq!(n, d, "an architecture is registered twice");
        assert!(n.contains(&"llama") && n.contains(&"qwen2"), "{n:?}");
    }

    #[test]
    fn unknown_architecture_lists_known_ones() {
        let e = lookup("mamba9").err().expect("not registered");
        assert_eq!(e.to_string(), format!("unknown architecture `mamba9` (known: {})", names().join(", ")));
    }
}
