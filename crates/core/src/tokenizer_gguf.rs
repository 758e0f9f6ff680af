//! Building the tokenizer from a GGUF file's `tokenizer.ggml.*` metadata.

use crate::gguf::{GgufFile, Result};
use crate::tokenizer::VocabSpec;

/// The vocabulary description stored in `g`.
pub fn vocab_from_gguf(g: &GgufFile) -> Result<VocabSpec> {
    let id = |k: &str| g.get_u32_opt(&format!("tokenizer.ggml.{k}"));
    Ok(VocabSpec {
        model: g.get_str("tokenizer.ggml.model")?.to_string(),
        pre: g.get_str_opt("tokenizer.ggml.pre")?.map(str::to_string),
        tokens: g.get_str_array("tokenizer.ggml.tokens")?.to_vec(),
        scores: g.get_f32_array_opt("tokenizer.ggml.scores")?,
        token_types: g.get_i32_array_opt("tokenizer.ggml.token_type")?,
        merges: g.get_str_array_opt("tokenizer.ggml.merges")?.map(<[String]>::to_vec),
        bos: id("bos_token_id")?,
        eos: id("eos_token_id")?,
        eot: id("eot_token_id")?,
        eom: id("eom_token_id")?,
        pad: id("padding_token_id")?,
        unk: id("unknown_token_id")?,
        add_bos: g.get_bool_opt("tokenizer.ggml.add_bos_token")?,
        add_eos: g.get_bool_opt("tokenizer.ggml.add_eos_token")?,
        add_space_prefix: g.get_bool_opt("tokenizer.ggml.add_space_prefix")?,
        general_name: g.get_str_opt("general.name")?.map(str::to_string),
    })
}
