//! Tokenizer built from GGUF metadata, token for token equal to llama.cpp's.
//!
//! [`Tokenizer::from_vocab`] takes a [`VocabSpec`] (the `tokenizer.*` keys of
//! a GGUF file) and supports the two tokenizers GGUF models use most:
//! - `gpt2`: byte-level BPE with a regex pre-tokenizer chosen by
//!   `tokenizer.ggml.pre` (Llama 3, Qwen2, SmolLM, DeepSeek, StarCoder...),
//!   merged by the `tokenizers` crate's BPE model;
//! - `llama`: SentencePiece-style BPE over scores with byte fallback
//!   (Llama 2, Mistral, Gemma...).
//!
//! Encoding follows llama.cpp's `llama_tokenize(text, add_special,
//! parse_special)`: special tokens written in the text are split out first
//! (user-defined tokens always, control tokens only with `parse_special`),
//! the text between them is tokenized, and BOS/EOS are added when
//! `add_special` is set and the vocabulary asks for them.
//!
//! Not supported (an error, never a silent difference): the other
//! `tokenizer.ggml.model`s (`bert`, `t5`, `rwkv`, `gemma4`, `plamo2`...) and
//! the pre-tokenizers llama.cpp implements with hand-written splitters rather
//! than regexes (`kimi-k2`, `afmoe`, `tiny_aya`, `cohere2moe`, `superbpe`,
//! `gemma4`, `sarvam-moe`, `whitespace`). Where llama.cpp's choice depends on
//! hash-map order (which of several `<|im_end|>`-like texts becomes EOT, or
//! which fill-in-the-middle text is taken), the first in llama.cpp's list of
//! candidates is used.

mod bpe;
mod error;
pub mod pretokenize;
mod spm;
mod stream;
mod vocab;

use std::collections::{BTreeSet, HashMap};

use aho_corasick::AhoCorasick;

pub use bpe::MergeStats;
pub use error::{Result, TokenizerError};
pub use stream::StreamDecoder;
pub use vocab::{token_type, VocabSpec};

use bpe::ByteLevelBpe;
use pretokenize::PreTokenizer;
use spm::Spm;

// Token attributes, as llama.cpp derives them from the token types.
const ATTR_UNKNOWN: u32 = 1 << 0;
const ATTR_UNUSED: u32 = 1 << 1;
const ATTR_NORMAL: u32 = 1 << 2;
const ATTR_CONTROL: u32 = 1 << 3;
const ATTR_USER_DEFINED: u32 = 1 << 4;
const ATTR_BYTE: u32 = 1 << 5;
const ATTR_LSTRIP: u32 = 1 << 7;
const ATTR_RSTRIP: u32 = 1 << 8;

/// C's `isspace` in the "C" locale, which llama.cpp uses for lstrip/rstrip.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

fn attr_of_type(t: i32) -> u32 {
    match t {
        token_type::NORMAL => ATTR_NORMAL,
        token_type::UNKNOWN => ATTR_UNKNOWN,
        token_type::CONTROL => ATTR_CONTROL,
        token_type::USER_DEFINED => ATTR_USER_DEFINED,
        token_type::UNUSED => ATTR_UNUSED,
        token_type::BYTE => ATTR_BYTE,
        _ => 0, // undefined
    }
}

/// Texts of end-of-turn tokens, looked for when `tokenizer.ggml.eot_token_id`
/// is absent (in this order; the first one present wins).
const EOT_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
];

const FIM_PRE_TEXTS: &[&str] = &[
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
];
const FIM_SUF_TEXTS: &[&str] = &[
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
];
const FIM_MID_TEXTS: &[&str] = &[
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
];
const FIM_PAD_TEXTS: &[&str] = &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
const FIM_REP_TEXTS: &[&str] = &["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"];
const FIM_SEP_TEXTS: &[&str] = &["<|file_sep|>"];

/// Texts of tokens that end generation (llama.cpp's list).
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];

/// Which tokenizer algorithm a vocabulary uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenizerKind {
    /// `gpt2`: byte-level BPE.
    Bpe,
    /// `llama`: SentencePiece-style BPE.
    Spm,
}

enum Model {
    Bpe(Box<ByteLevelBpe>),
    Spm(Spm),
}

/// Special token ids found by text when the metadata does not name them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FimTokens {
    /// Fill-in-the-middle prefix (`<|fim_prefix|>`, `<PRE>`...).
    pub prefix: Option<u32>,
    /// Fill-in-the-middle suffix.
    pub suffix: Option<u32>,
    /// Fill-in-the-middle middle.
    pub middle: Option<u32>,
    /// Fill-in-the-middle padding (ends generation).
    pub pad: Option<u32>,
    /// Repository name (ends generation).
    pub repo: Option<u32>,
    /// File separator (ends generation).
    pub sep: Option<u32>,
}

/// A tokenizer for one vocabulary. Cheap to share: it is `Send + Sync`.
pub struct Tokenizer {
    kind: TokenizerKind,
    model: Model,
    model_name: String,
    pre_name: Option<String>,
    tokens: Vec<String>,
    attrs: Vec<u32>,
    scores: Vec<f32>,
    token_to_id: HashMap<String, u32>,
    /// Control, user-defined and unknown tokens, longest text first.
    special_tokens: Vec<u32>,
    /// Finds which of `special_tokens` occur in a text (pattern i is
    /// `special_tokens[i]`).
    special_finder: AhoCorasick,
    /// `token_to_piece` with special tokens rendered.
    pieces: Vec<Vec<u8>>,
    bos: Option<u32>,
    eos: Option<u32>,
    eot: Option<u32>,
    eom: Option<u32>,
    pad: Option<u32>,
    unk: Option<u32>,
    fim: FimTokens,
    eog: BTreeSet<u32>,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    clean_spaces: bool,
    merge_stats: Option<MergeStats>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("model", &self.model_name)
            .field("pre", &self.pre_name)
            .field("vocab_size", &self.tokens.len())
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("eot", &self.eot)
            .field("add_bos", &self.add_bos)
            .field("add_eos", &self.add_eos)
            .finish_non_exhaustive()
    }
}

enum Fragment {
    Text(usize, usize),
    Token(u32),
}

impl Tokenizer {
    /// Builds the tokenizer of a vocabulary.
    pub fn from_vocab(spec: VocabSpec) -> Result<Self> {
        let VocabSpec {
            model: model_name,
            pre,
            tokens,
            scores,
            token_types,
            merges,
            bos: spec_bos,
            eos: spec_eos,
            eot: spec_eot,
            eom: spec_eom,
            pad: spec_pad,
            unk: spec_unk,
            add_bos: spec_add_bos,
            add_eos: spec_add_eos,
            add_space_prefix: spec_add_space_prefix,
            general_name,
        } = spec;

        let n = tokens.len();
        if n == 0 {
            return Err(TokenizerError::BadVocab("no tokens".into()));
        }
        if n > u32::MAX as usize {
            return Err(TokenizerError::BadVocab("too many tokens".into()));
        }
        let scores = match scores {
            Some(s) if s.len() < n => {
                return Err(TokenizerError::BadVocab(format!("{} scores for {n} tokens", s.len())))
            }
            Some(mut s) => {
                s.truncate(n);
                s
            }
            None => vec![0.0; n],
        };
        let mut attrs = match &token_types {
            Some(t) if t.len() < n => {
                return Err(TokenizerError::BadVocab(format!("{} token types for {n} tokens", t.len())))
            }
            Some(t) => t[..n].iter().map(|&t| attr_of_type(t)).collect(),
            None => vec![ATTR_NORMAL; n],
        };
        let tokens: Vec<String> = tokens
            .into_iter()
            .enumerate()
            .map(|(i, t)| if t.is_empty() { format!("[EMPTY_{i}]") } else { t })
            .collect();
        let mut token_to_id = HashMap::with_capacity(n);
        for (i, t) in tokens.iter().enumerate() {
            // A repeated text maps to its last id, as in llama.cpp.
            token_to_id.insert(t.clone(), i as u32);
        }

        // Defaults of the model and pre-tokenizer; the metadata overrides them.
        let (kind, pre_spec) = match model_name.as_str() {
            "llama" => (TokenizerKind::Spm, None),
            "gpt2" => {
                let name = pre.as_deref().unwrap_or("default");
                let spec = pretokenize::lookup(name).ok_or_else(|| pretokenize::unknown(name))?;
                (TokenizerKind::Bpe, Some(spec))
            }
            other => return Err(TokenizerError::UnknownModel(other.to_string())),
        };
        let (mut bos, mut eos, mut unk, mut add_bos, add_space_prefix_default, clean_spaces) = match (kind, &pre_spec) {
            (TokenizerKind::Spm, _) => (Some(1), Some(2), Some(0), true, true, false),
            (TokenizerKind::Bpe, Some(p)) => {
                (if p.no_default_bos { None } else { Some(11) }, Some(11), None, p.add_bos, false, p.clean_spaces)
            }
            (TokenizerKind::Bpe, None) => unreachable!("gpt2 always has a pre-tokenizer"),
        };
        let (mut eot, mut eom, mut pad) = (None, None, None);
        let in_range = |id: Option<u32>| id.filter(|&i| (i as usize) < n);
        for (slot, given) in [
            (&mut bos, spec_bos),
            (&mut eos, spec_eos),
            (&mut eot, spec_eot),
            (&mut eom, spec_eom),
            (&mut unk, spec_unk),
            (&mut pad, spec_pad),
        ] {
            *slot = in_range(*slot);
            if let Some(id) = in_range(given) {
                *slot = Some(id);
            }
        }
        if let Some(b) = spec_add_bos {
            add_bos = b;
        }
        let add_eos = spec_add_eos.unwrap_or(false);
        let add_space_prefix = spec_add_space_prefix.unwrap_or(add_space_prefix_default);

        // Find special tokens by text; a token found this way becomes a
        // control token.
        let find = |texts: &[&str], attrs: &mut Vec<u32>| -> Option<u32> {
            let id = texts.iter().find_map(|t| token_to_id.get(*t).copied())?;
            attrs[id as usize] |= ATTR_CONTROL;
            Some(id)
        };
        if eot.is_none() {
            eot = find(EOT_TEXTS, &mut attrs);
        }
        if eom.is_none() {
            eom = find(&["<|eom_id|>"], &mut attrs);
        }
        let fim = FimTokens {
            prefix: find(FIM_PRE_TEXTS, &mut attrs),
            suffix: find(FIM_SUF_TEXTS, &mut attrs),
            middle: find(FIM_MID_TEXTS, &mut attrs),
            pad: find(FIM_PAD_TEXTS, &mut attrs),
            repo: find(FIM_REP_TEXTS, &mut attrs),
            sep: find(FIM_SEP_TEXTS, &mut attrs),
        };

        // Control tokens named "unused" are unused.
        for (t, a) in tokens.iter().zip(attrs.iter_mut()) {
            if *a & ATTR_CONTROL != 0 && t.contains("unused") {
                *a |= ATTR_UNUSED;
            }
        }

        // End-of-generation tokens.
        let mut eog = BTreeSet::new();
        eog.extend([fim.pad, fim.repo, fim.sep].into_iter().flatten());
        for text in EOG_TEXTS {
            if let Some(&id) = token_to_id.get(*text) {
                eog.insert(id);
                attrs[id as usize] |= ATTR_CONTROL;
            }
        }
        // gpt-oss: these are always rendered.
        for text in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let Some(&id) = token_to_id.get(text) {
                attrs[id as usize] = ATTR_USER_DEFINED;
            }
        }
        eog.extend([eos, eot, eom].into_iter().flatten());
        let has_eog = |eog: &BTreeSet<u32>, text: &str| token_to_id.get(text).is_some_and(|id| eog.contains(id));
        // o200k_harmony and solar-open: "<|end|>" ends a message, not generation.
        if let Some(&end) = token_to_id.get("<|end|>").filter(|id| eog.contains(id)) {
            let ret = has_eog(&eog, "<|return|>");
            let call = has_eog(&eog, "<|call|>") || has_eog(&eog, "<|calls|>");
            let flush = has_eog(&eog, "<|flush|>");
            if call && (ret || flush) {
                eog.remove(&end);
                attrs[end as usize] = ATTR_USER_DEFINED;
            }
        }
        // Gemma 4 and PLaMo have an ordinary "</s>".
        if let Some(&s) = token_to_id.get("</s>").filter(|id| eog.contains(id)) {
            if has_eog(&eog, "<|tool_response>") || has_eog(&eog, "<|plamo:eos|>") {
                eog.remove(&s);
                attrs[s as usize] = ATTR_NORMAL;
            }
        }

        let mut special_tokens: Vec<u32> = (0..n as u32)
            .filter(|&id| attrs[id as usize] & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN) != 0)
            .collect();
        special_tokens.sort_by(|&a, &b| tokens[b as usize].len().cmp(&tokens[a as usize].len()));
        // Per-model attributes (llama.cpp sets them by model name, after the
        // special-token list is made).
        let name = general_name.unwrap_or_default().to_ascii_lowercase();
        if name.contains("phi-3") || name.contains("phi3") {
            for &id in &special_tokens {
                attrs[id as usize] |= ATTR_RSTRIP;
            }
            for (text, on) in [("</s>", true), ("<unk>", false), ("<s>", false), ("<|endoftext|>", false)] {
                if let Some(&id) = token_to_id.get(text) {
                    if on {
                        attrs[id as usize] |= ATTR_RSTRIP;
                    } else {
                        attrs[id as usize] &= !ATTR_RSTRIP;
                    }
                }
            }
        }
        let special_finder = AhoCorasick::new(special_tokens.iter().map(|&id| &tokens[id as usize]))
            .map_err(|e| TokenizerError::BadVocab(format!("special tokens: {e}")))?;

        let byte_map = bpe::char_to_byte_map();
        let pieces = (0..n)
            .map(|i| {
                let (text, attr) = (&tokens[i], attrs[i]);
                if attr & (ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER_DEFINED) != 0 {
                    text.as_bytes().to_vec()
                } else if attr & ATTR_NORMAL != 0 {
                    match kind {
                        TokenizerKind::Spm => text.replace('\u{2581}', " ").into_bytes(),
                        TokenizerKind::Bpe => bpe::decode_byte_level(text, &byte_map),
                    }
                } else if attr & ATTR_BYTE != 0 {
                    text.get(3..5).and_then(|h| u8::from_str_radix(h, 16).ok()).map(|b| vec![b]).unwrap_or_default()
                } else {
                    Vec::new()
                }
            })
            .collect();

        let (model, merge_stats) = match kind {
            TokenizerKind::Spm => (Model::Spm(Spm::new(&token_to_id)), None),
            TokenizerKind::Bpe => {
                let pre_spec = pre_spec.expect("gpt2 has a pre-tokenizer");
                let merges = merges
                    .ok_or_else(|| TokenizerError::BadVocab("gpt2 vocabulary without tokenizer.ggml.merges".into()))?;
                let pre = PreTokenizer::new(pre_spec.regexes)?;
                let (bpe, stats) = ByteLevelBpe::new(pre, &token_to_id, &merges, pre_spec.ignore_merges)?;
                (Model::Bpe(Box::new(bpe)), Some(stats))
            }
        };

        Ok(Self {
            kind,
            model,
            model_name,
            pre_name: pre,
            tokens,
            attrs,
            scores,
            token_to_id,
            special_tokens,
            special_finder,
            pieces,
            bos,
            eos,
            eot,
            eom,
            pad,
            unk,
            fim,
            eog,
            add_bos,
            add_eos,
            add_space_prefix,
            clean_spaces,
            merge_stats,
        })
    }

    /// Splits special tokens out of the text (llama.cpp's
    /// `tokenizer_st_partition`): longest special token first, every
    /// occurrence in every remaining text fragment.
    fn partition(&self, text: &str, parse_special: bool) -> Vec<Fragment> {
        let mut frags = Vec::new();
        if text.is_empty() {
            return frags;
        }
        frags.push(Fragment::Text(0, text.len()));
        // Only special tokens present in the whole text can be split out of
        // its fragments: find them all in one pass.
        let mut present = vec![false; self.special_tokens.len()];
        for m in self.special_finder.find_overlapping_iter(text) {
            present[m.pattern().as_usize()] = true;
        }
        for (k, &id) in self.special_tokens.iter().enumerate() {
            if !present[k] {
                continue;
            }
            if !parse_special && self.attrs[id as usize] & (ATTR_CONTROL | ATTR_UNKNOWN) != 0 {
                // Without parse_special only user-defined tokens are split out.
                continue;
            }
            let pat = self.tokens[id as usize].as_str();
            let mut next = Vec::with_capacity(frags.len() + 2);
            for frag in frags {
                let Fragment::Text(start, end) = frag else {
                    next.push(frag);
                    continue;
                };
                let attr = self.attrs[id as usize];
                let bytes = text.as_bytes();
                let mut pos = start;
                while let Some(found) = text[pos..end].find(pat) {
                    let at = pos + found;
                    let mut left_end = at;
                    if attr & ATTR_LSTRIP != 0 {
                        while left_end > pos && is_c_space(bytes[left_end - 1]) {
                            left_end -= 1;
                        }
                    }
                    if left_end > pos {
                        next.push(Fragment::Text(pos, left_end));
                    }
                    next.push(Fragment::Token(id));
                    pos = at + pat.len();
                    if attr & ATTR_RSTRIP != 0 {
                        while pos < end && is_c_space(bytes[pos]) {
                            pos += 1;
                        }
                    }
                }
                if pos < end {
                    next.push(Fragment::Text(pos, end));
                }
            }
            frags = next;
        }
        frags
    }

    /// Encodes text to token ids, like llama.cpp's `llama_tokenize`.
    ///
    /// `add_special` adds BOS / EOS when the vocabulary asks for them
    /// (`add_bos` / `add_eos`). `parse_special` turns control tokens written
    /// in the text (`<|im_start|>`) into their ids; user-defined tokens are
    /// always recognised.
    pub fn encode(&self, text: &str, add_special: bool, parse_special: bool) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_special && self.add_bos {
            out.push(self.bos.ok_or(TokenizerError::MissingSpecialToken("BOS"))?);
        }
        let frags = self.partition(text, parse_special);
        match &self.model {
            Model::Spm(spm) => {
                // A space goes in front of the text at the start and after
                // every special token.
                let mut prev_special = true;
                let mut buf = String::new();
                for frag in frags {
                    match frag {
                        Fragment::Text(s, e) => {
                            buf.clear();
                            if self.add_space_prefix && prev_special {
                                buf.push(' ');
                            }
                            buf.push_str(&text[s..e]);
                            let escaped = buf.replace(' ', "\u{2581}");
                            spm.encode(&escaped, &self.token_to_id, &self.scores, self.unk, &mut out)?;
                            prev_special = false;
                        }
                        Fragment::Token(id) => {
                            out.push(id);
                            prev_special = true;
                        }
                    }
                }
            }
            Model::Bpe(bpe) => {
                for frag in frags {
                    match frag {
                        Fragment::Text(s, e) => bpe.encode(&text[s..e], &mut out)?,
                        Fragment::Token(id) => out.push(id),
                    }
                }
            }
        }
        if add_special && self.add_eos {
            out.push(self.eos.ok_or(TokenizerError::MissingSpecialToken("EOS"))?);
        }
        Ok(out)
    }

    /// The bytes of a token; control and unknown tokens render as their
    /// text only when `special` is set. Unknown ids give nothing.
    pub(crate) fn piece(&self, id: u32, special: bool) -> &[u8] {
        let i = id as usize;
        if i >= self.pieces.len() || (!special && self.attrs[i] & (ATTR_CONTROL | ATTR_UNKNOWN) != 0) {
            return &[];
        }
        &self.pieces[i]
    }

    /// The raw bytes a token stands for (special tokens as their text), as
    /// llama.cpp's `llama_token_to_piece(..., special = true)`. A piece can
    /// be part of a UTF-8 character. Unknown ids give nothing.
    pub fn token_to_piece(&self, id: u32) -> Vec<u8> {
        self.piece(id, true).to_vec()
    }

    /// Decodes ids to bytes, as llama.cpp's `llama_detokenize`:
    /// `remove_special` drops a leading BOS and a trailing EOS when the
    /// vocabulary adds them; `unparse_special` renders control tokens as
    /// their text. SentencePiece vocabularies with a space prefix lose the
    /// first token's leading space; some BPE vocabularies remove spaces
    /// before punctuation (`clean_up_tokenization_spaces`).
    pub fn detokenize(&self, ids: &[u32], remove_special: bool, unparse_special: bool) -> Vec<u8> {
        let mut ids = ids;
        let mut remove_space = self.add_space_prefix;
        if remove_special && self.add_bos && ids.first().is_some_and(|&id| Some(id) == self.bos) {
            remove_space = false;
            ids = &ids[1..];
        }
        if remove_special && self.add_eos && ids.last().is_some_and(|&id| Some(id) == self.eos) {
            ids = &ids[..ids.len() - 1];
        }
        let mut out = Vec::new();
        for &id in ids {
            let mut piece = self.piece(id, unparse_special);
            if remove_space && piece.first() == Some(&b' ') {
                piece = &piece[1..];
            }
            remove_space = false;
            out.extend_from_slice(piece);
        }
        if self.clean_spaces {
            out = clean_up_spaces(out);
        }
        out
    }

    /// Decodes ids to text, special tokens rendered as their text (llama.cpp's
    /// `common_detokenize(..., special = true)`). Invalid UTF-8 becomes U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        String::from_utf8_lossy(&self.detokenize(ids, false, true)).into_owned()
    }

    /// A decoder for ids arriving one at a time; see [`StreamDecoder`].
    pub fn stream_decoder(&self) -> StreamDecoder<'_> {
        StreamDecoder::new(self)
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The algorithm of the vocabulary.
    pub fn kind(&self) -> TokenizerKind {
        self.kind
    }

    /// `tokenizer.ggml.model`.
    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    /// `tokenizer.ggml.pre`, if set.
    pub fn pre_name(&self) -> Option<&str> {
        self.pre_name.as_deref()
    }

    /// Beginning-of-sequence token.
    pub fn bos(&self) -> Option<u32> {
        self.bos
    }

    /// End-of-sequence token.
    pub fn eos(&self) -> Option<u32> {
        self.eos
    }

    /// End-of-turn token (from metadata, else found by text).
    pub fn eot(&self) -> Option<u32> {
        self.eot
    }

    /// End-of-message token (from metadata, else `<|eom_id|>`).
    pub fn eom(&self) -> Option<u32> {
        self.eom
    }

    /// Padding token.
    pub fn pad(&self) -> Option<u32> {
        self.pad
    }

    /// Unknown token.
    pub fn unk(&self) -> Option<u32> {
        self.unk
    }

    /// Fill-in-the-middle tokens, found by text.
    pub fn fim(&self) -> FimTokens {
        self.fim
    }

    /// Whether `encode(.., add_special = true, ..)` adds BOS.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// Whether `encode(.., add_special = true, ..)` adds EOS.
    pub fn add_eos(&self) -> bool {
        self.add_eos
    }

    /// Whether SentencePiece text gets a leading space.
    pub fn add_space_prefix(&self) -> bool {
        self.add_space_prefix
    }

    /// Whether `id` ends generation: EOS, EOT, EOM and the tokens llama.cpp
    /// treats as such (`<|im_end|>`, `<end_of_turn>`, `<|endoftext|>`,
    /// fill-in-the-middle pad / repo / file separators...).
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.contains(&id)
    }

    /// All end-of-generation tokens, sorted.
    pub fn eog_ids(&self) -> Vec<u32> {
        self.eog.iter().copied().collect()
    }

    /// Whether `id` is a control token (including ones promoted by text).
    pub fn is_control(&self, id: u32) -> bool {
        self.attr(id) & ATTR_CONTROL != 0
    }

    /// Whether `id` is a user-defined token.
    pub fn is_user_defined(&self, id: u32) -> bool {
        self.attr(id) & ATTR_USER_DEFINED != 0
    }

    /// Whether `id` is a byte token (`<0xNN>`).
    pub fn is_byte(&self, id: u32) -> bool {
        self.attr(id) & ATTR_BYTE != 0
    }

    /// Whether `id` is unused (type unused, or a control token named "unused").
    pub fn is_unused(&self, id: u32) -> bool {
        self.attr(id) & ATTR_UNUSED != 0
    }

    fn attr(&self, id: u32) -> u32 {
        self.attrs.get(id as usize).copied().unwrap_or(0)
    }

    /// The text of a token as stored in the vocabulary.
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The id of a token text.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.token_to_id.get(text).copied()
    }

    /// The score of a token (0 when the vocabulary has none).
    pub fn score(&self, id: u32) -> Option<f32> {
        self.scores.get(id as usize).copied()
    }

    /// For BPE vocabularies: how many merges were used and skipped.
    pub fn merge_stats(&self) -> Option<MergeStats> {
        self.merge_stats
    }
}

/// llama.cpp's `clean_spaces` passes: no space before `?!.,`, none around
/// a lone apostrophe, none before `'s 'm 're 've`.
fn clean_up_spaces(mut t: Vec<u8>) -> Vec<u8> {
    if t.is_empty() {
        return t;
    }
    let mut out = vec![t[0]];
    for i in 1..t.len() {
        if t[i - 1] == b' ' && matches!(t[i], b'?' | b'!' | b'.' | b',') {
            out.pop();
        }
        out.push(t[i]);
    }

    t = out;
    let mut out = vec![t[0]];
    let mut i = 1;
    while i < t.len() {
        let x = t[i];
        if x == b'\'' && i + 1 < t.len() && t[i - 1] == b' ' && t[i + 1] == b' ' {
            out.pop();
            i += 1;
            t[i] = 0;
        }
        out.push(x);
        i += 1;
    }
    // The NUL marks a removed space; it is never written out.

    t = out;
    let mut out = vec![t[0]];
    for i in 1..t.len() {
        let x = t[i];
        if t[i - 1] == b' ' && x == b'\'' && i + 1 < t.len() {
            let x1 = t[i + 1];
            if x1 == b's' || x1 == b'm' {
                out.pop();
            } else if i + 2 < t.len() {
                let x2 = t[i + 2];
                if (x1 == b'r' || x1 == b'v') && x2 == b'e' {
                    out.pop();
                }
            }
        }
        out.push(x);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_bpe(pre: &str) -> VocabSpec {
        let mut tokens: Vec<String> = bpe::byte_to_char_table().iter().map(|c| c.to_string()).collect();
        tokens.extend(["he", "ll", "hell", "hello", "<|im_start|>", "<|im_end|>", "<tool>"].map(String::from));
        let mut types = vec![token_type::NORMAL; tokens.len()];
        let n = types.len();
        types[n - 3] = token_type::CONTROL;
        types[n - 2] = token_type::CONTROL;
        types[n - 1] = token_type::USER_DEFINED;
        VocabSpec {
            model: "gpt2".into(),
            pre: Some(pre.into()),
            tokens,
            token_types: Some(types),
            merges: Some(["h e", "l l", "he ll", "hell o"].map(String::from).to_vec()),
            eos: Some(n as u32 - 2),
            ..Default::default()
        }
    }

    #[test]
    fn tokenizer_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<Tokenizer>();
    }

    #[test]
    fn bpe_specials_and_eog() {
        let tok = Tokenizer::from_vocab(tiny_bpe("qwen2")).unwrap();
        let hello = tok.token_id("hello").unwrap();
        let start = tok.token_id("<|im_start|>").unwrap();
        let end = tok.token_id("<|im_end|>").unwrap();
        let tool = tok.token_id("<tool>").unwrap();
        assert_eq!(tok.encode("<|im_start|>hello<tool>", false, true).unwrap(), [start, hello, tool]);
        // Without parse_special, control tokens are text; user-defined ones are not.
        let ids = tok.encode("<|im_start|>hello<tool>", false, false).unwrap();
        assert_ne!(ids[0], start);
        assert_eq!(*ids.last().unwrap(), tool);
        assert_eq!(tok.decode(&ids), "<|im_start|>hello<tool>");
        assert!(tok.is_eog(end) && tok.eot() == Some(end));
        assert!(!tok.is_eog(start));
    }

    #[test]
    fn unknown_pre_and_model() {
        let err = Tokenizer::from_vocab(tiny_bpe("no-such-pre")).unwrap_err();
        assert!(matches!(err, TokenizerError::UnknownPreTokenizer { .. }));
        let mut spec = tiny_bpe("qwen2");
        spec.model = "t5".into();
        assert!(matches!(Tokenizer::from_vocab(spec).unwrap_err(), TokenizerError::UnknownModel(_)));
    }

    fn tiny_spm(name: Option<&str>) -> Tokenizer {
        let tokens = ["<unk>", "<s>", "</s>", "<|end|>", "▁", "h", "i", "▁h", "hi", "▁hi"];
        let mut types = vec![token_type::NORMAL; tokens.len()];
        types[0] = token_type::UNKNOWN;
        types[1] = token_type::CONTROL;
        types[2] = token_type::CONTROL;
        types[3] = token_type::CONTROL;
        Tokenizer::from_vocab(VocabSpec {
            model: "llama".into(),
            tokens: tokens.map(String::from).to_vec(),
            scores: Some(vec![0.0, 0.0, 0.0, 0.0, -1.0, -1.0, -1.0, -2.0, -3.0, -4.0]),
            token_types: Some(types),
            general_name: name.map(String::from),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn spm_space_prefix_after_special_tokens() {
        let tok = tiny_spm(None);
        assert!(tok.add_bos() && tok.add_space_prefix());
        // BOS, then "▁hi"; after the special token the text gets a space again.
        assert_eq!(tok.encode("hi</s>hi", true, true).unwrap(), [1, 9, 2, 9]);
        // The leading space goes away on decoding, the one after </s> stays.
        assert_eq!(tok.decode(&[9, 2, 9]), "hi</s> hi");
        assert_eq!(tok.detokenize(&[1, 9], true, false), b" hi");
    }

    #[test]
    fn phi3_special_tokens_swallow_following_whitespace() {
        let ids = tiny_spm(Some("Phi3 Mini")).encode("<|end|>  \n hi", false, true).unwrap();
        assert_eq!(ids, [3, 9]);
        let ids = tiny_spm(None).encode("<|end|> hi", false, true).unwrap();
        assert_eq!(ids, [3, 4, 9]);
    }

    #[test]
    fn clean_spaces_passes() {
        assert_eq!(clean_up_spaces(b"a , b ' c it 's we 're".to_vec()), b"a, b'c it's we're");
        assert_eq!(clean_up_spaces(Vec::new()), b"");
    }
}
