//! Hyperparameters of decoder-only transformers, read from GGUF metadata
//! (`{arch}.*` keys), with defaults only where llama.cpp derives them.

use rocmforge_backend_api::op::RopeParams;
use rocmforge_core::gguf::GgufFile;

use crate::{ModelError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct HParams {
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_ff: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    /// Per-head width of queries and keys (`attention.key_length`, default
    /// `n_embd / n_head`).
    pub head_dim: usize,
    pub n_ctx_train: usize,
    pub n_vocab: usize,
    pub rms_eps: f32,
    /// Rope with scaling from `rope.*` keys; `mode` is set by the architecture.
    pub rope: RopeParams,
}

impl HParams {
    /// Read `{arch}.*` keys. `n_vocab` comes from the token table.
    pub fn from_gguf(g: &GgufFile, arch: &str, rope_mode: u32, n_vocab: usize) -> Result<HParams> {
        let k = |s: &str| format!("{arch}.{s}");
        let n_embd = g.get_usize(&k("embedding_length"))?;
        let n_head = g.get_usize(&k("attention.head_count"))?;
        if n_head == 0 || n_embd == 0 {
            return Err(ModelError::HParam(format!("{arch}: embedding_length and head_count must be > 0")));
        }
        let n_head_kv = g.get_usize_opt(&k("attention.head_count_kv"))?.unwrap_or(n_head);
        if n_head_kv == 0 || n_head % n_head_kv != 0 {
            return Err(ModelError::HParam(format!(
                "{arch}: head_count_kv = {n_head_kv} must divide head_count = {n_head}"
            )));
        }
        let head_dim = g.get_usize_opt(&k("attention.key_length"))?.unwrap_or(n_embd / n_head);
        let n_rot = g.get_u32_opt(&k("rope.dimension_count"))?.unwrap_or(head_dim as u32);
        let mut rope = RopeParams::plain(n_rot, rope_mode, g.get_f32_opt(&k("rope.freq_base"))?.unwrap_or(10_000.0));
        let n_ctx_train = g.get_usize(&k("context_length"))?;
        rope.n_ctx_orig = n_ctx_train as u32;
        // Rope scaling, as llama.cpp reads it.
        let scaling = g.get_str_opt(&k("rope.scaling.type"))?.unwrap_or("none");
        let factor = g.get_f32_opt(&k("rope.scaling.factor"))?.unwrap_or(0.0);
        if factor > 0.0 && scaling != "none" {
            rope.freq_scale = 1.0 / factor;
        }
        if let Some(orig) = g.get_u32_opt(&k("rope.scaling.original_context_length"))? {
            rope.n_ctx_orig = orig;
        }
        match scaling {
            "none" | "linear" => {}
            "yarn" => {
                rope.ext_factor = 1.0;
                rope.attn_factor = g.get_f32_opt(&k("rope.scaling.attn_factor"))?.unwrap_or(1.0);
                rope.beta_fast = g.get_f32_opt(&k("rope.scaling.yarn_beta_fast"))?.unwrap_or(32.0);
                rope.beta_slow = g.get_f32_opt(&k("rope.scaling.yarn_beta_slow"))?.unwrap_or(1.0);
            }
            other => return Err(ModelError::HParam(format!("{arch}: unsupported rope scaling `{other}`"))),
        }
        Ok(HParams {
            n_layer: g.get_usize(&k("block_count"))?,
            n_embd,
            n_ff: g.get_usize(&k("feed_forward_length"))?,
            n_head,
            n_head_kv,
            head_dim,
            n_ctx_train,
            n_vocab,
            rms_eps: g.get_f32_opt(&k("attention.layer_norm_rms_epsilon"))?.unwrap_or(1e-5),
            rope,
        })
    }
}
