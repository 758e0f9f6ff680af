//! What the generation loop needs from a model, and nothing about devices.

use rocmforge_backend_api::BackendError;

/// Which positions of a forward pass need logits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logits {
    /// Only the last token's (generation).
    Last,
    /// Every token's (teacher-forced scoring).
    All,
}

/// A causal language model with its KV cache: one sequence whose cache holds
/// positions `0..start_pos` when [`CausalLm::forward`] is called.
pub trait CausalLm {
    /// Logits per position.
    fn vocab_size(&self) -> usize;

    /// Positions the KV cache holds.
    fn context_length(&self) -> usize;

    /// Run `tokens` at positions `start_pos..start_pos + tokens.len()`,
    /// appending them to the KV cache (positions from `start_pos` on are
    /// overwritten, so restarting at 0 starts a new sequence). Returns the
    /// logits, `vocab_size()` per requested position, position-major.
    fn forward(&mut self, tokens: &[u32], start_pos: usize, logits: Logits) -> Result<Vec<f32>, BackendError>;
}
