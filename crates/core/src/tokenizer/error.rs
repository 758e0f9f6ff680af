//! Errors of the tokenizer.

/// What can go wrong when building a [`crate::tokenizer::Tokenizer`] or encoding.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// `tokenizer.ggml.model` names a tokenizer this crate does not implement.
    #[error("unknown tokenizer model '{0}' (tokenizer.ggml.model); supported: gpt2, llama")]
    UnknownModel(String),

    /// `tokenizer.ggml.pre` names a pre-tokenizer this crate does not know.
    #[error("unknown pre-tokenizer '{name}' (tokenizer.ggml.pre); known: {known}")]
    UnknownPreTokenizer {
        /// The name found in the vocabulary.
        name: String,
        /// The known names, comma separated.
        known: String,
    },

    /// The vocabulary is inconsistent or incomplete.
    #[error("bad vocabulary: {0}")]
    BadVocab(String),

    /// Encoding needs a special token that the vocabulary does not define
    /// (for example BOS when `add_bos` is set).
    #[error("the vocabulary has no {0} token, but encoding needs one")]
    MissingSpecialToken(&'static str),

    /// SentencePiece byte fallback found no token for a byte.
    #[error("no byte token <0x{0:02X}> in the vocabulary and no unknown token")]
    NoByteToken(u8),

    /// A pre-tokenizer regex failed to compile or to run.
    #[error("pre-tokenizer regex: {0}")]
    Regex(String),

    /// The BPE model (the `tokenizers` crate) reported an error.
    #[error("BPE model: {0}")]
    Bpe(String),
}

/// Result with a [`TokenizerError`].
pub type Result<T, E = TokenizerError> = std::result::Result<T, E>;
