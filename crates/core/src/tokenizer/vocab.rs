//! The tokenizer's input: the vocabulary as GGUF metadata describes it.
//!
//! [`VocabSpec`] is a plain struct so that the tokenizer does not depend on any
//! particular GGUF reader: whoever reads the file fills it in from the
//! `tokenizer.*` keys named on each field.

/// Token type as stored in `tokenizer.ggml.token_type` (llama.cpp's
/// `llama_token_type`).
pub mod token_type {
    /// Type 0: undefined.
    pub const UNDEFINED: i32 = 0;
    /// Type 1: an ordinary token.
    pub const NORMAL: i32 = 1;
    /// Type 2: the unknown token.
    pub const UNKNOWN: i32 = 2;
    /// Type 3: a control token (`<|im_start|>`, `<bos>`...).
    pub const CONTROL: i32 = 3;
    /// Type 4: a user-defined token (always split out of text as a whole).
    pub const USER_DEFINED: i32 = 4;
    /// Type 5: an unused slot.
    pub const UNUSED: i32 = 5;
    /// Type 6: a byte token (`<0x0A>`).
    pub const BYTE: i32 = 6;
}

/// A tokenizer vocabulary as described by GGUF metadata.
///
/// Every field names the GGUF key it comes from. Optional fields left `None`
/// take llama.cpp's defaults for the model / pre-tokenizer (for example the
/// SentencePiece model adds BOS and a space prefix unless told otherwise).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VocabSpec {
    /// `tokenizer.ggml.model`: `"gpt2"` (byte-level BPE) or `"llama"`
    /// (SentencePiece-style BPE driven by scores).
    pub model: String,
    /// `tokenizer.ggml.pre`: names the pre-tokenizer (the regexes that split
    /// text into words before BPE), e.g. `"llama-bpe"`, `"qwen2"`, `"smollm"`.
    /// Only used by `gpt2` models; `None` means `"default"`.
    pub pre: Option<String>,
    /// `tokenizer.ggml.tokens`: the token texts; the index is the token id.
    pub tokens: Vec<String>,
    /// `tokenizer.ggml.scores`: one score per token (SentencePiece merge
    /// priority). Files that store the scores as `i32` should be converted
    /// with `as f32`, as llama.cpp does. `None` means all zero.
    pub scores: Option<Vec<f32>>,
    /// `tokenizer.ggml.token_type`: one type per token, see [`token_type`].
    /// `None` means every token is normal.
    pub token_types: Option<Vec<i32>>,
    /// `tokenizer.ggml.merges`: BPE merges, `"left right"`, best first.
    /// Required for `gpt2` models.
    pub merges: Option<Vec<String>>,
    /// `tokenizer.ggml.bos_token_id`.
    pub bos: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos: Option<u32>,
    /// `tokenizer.ggml.eot_token_id` (end of turn). When absent it is found
    /// by text (`<|eot_id|>`, `<|im_end|>`, `<end_of_turn>`...), as llama.cpp does.
    pub eot: Option<u32>,
    /// `tokenizer.ggml.eom_token_id` (end of message). When absent,
    /// `<|eom_id|>` is used if the vocabulary has it.
    pub eom: Option<u32>,
    /// `tokenizer.ggml.padding_token_id`.
    pub pad: Option<u32>,
    /// `tokenizer.ggml.unknown_token_id`.
    pub unk: Option<u32>,
    /// `tokenizer.ggml.add_bos_token`: add BOS when encoding with `add_special`.
    pub add_bos: Option<bool>,
    /// `tokenizer.ggml.add_eos_token`: add EOS when encoding with `add_special`.
    pub add_eos: Option<bool>,
    /// `tokenizer.ggml.add_space_prefix`: SentencePiece adds a space in front
    /// of the text (default `true` for `llama`, `false` for `gpt2`).
    pub add_space_prefix: Option<bool>,
    /// `general.name`: llama.cpp gives Phi-3 models (name containing
    /// "phi-3" or "phi3", any case) special tokens that swallow the
    /// whitespace after them; no other model name changes anything.
    pub general_name: Option<String>,
}
