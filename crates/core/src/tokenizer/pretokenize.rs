//! Pre-tokenizers: split text into words before byte-level BPE.
//!
//! `tokenizer.ggml.pre` names a pre-tokenizer. Each name maps to a list of
//! regexes (the ones llama.cpp's `llama-vocab.cpp` uses for that name) and a
//! few flags. The regexes are applied one after the other: each one splits
//! every piece left by the previous one into its matches *and* the text
//! between matches (nothing is dropped), which is how llama.cpp's
//! `unicode_regex_split` works.
//!
//! llama.cpp runs these regexes either through hand-written matchers or
//! through `std::regex` on a text where every non-ASCII code point is
//! replaced by one byte standing for its Unicode category. Both behave like
//! the regex read with full Unicode semantics, with two differences that are
//! reproduced here by rewriting the pattern:
//! - every letter subcategory (`\p{Lu}`, `\p{Ll}`, `\p{Lt}`, `\p{Lm}`,
//!   `\p{Lo}`) means "any letter" (`\p{L}`);
//! - `\d` means `[0-9]` (ECMAScript), not any Unicode digit.

use fancy_regex::Regex;

use super::error::{Result, TokenizerError};

// Regex lists, named after llama.cpp's `LLAMA_VOCAB_PRE_TYPE_*`.

const GPT2: &[&str] = &[r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"];

const DEFAULT: &[&str] = &[
    r"[\p{P}\$\+<=>\^~\|]+",
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)",
    r"\p{N}+",
    r"[0-9][0-9][0-9]",
];

const LLAMA3: &[&str] = &[
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
];

const JAIS2: &[&str] = &[
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}",
];

const DEEPSEEK_LLM: &[&str] = &[
    r"[\r\n]",
    r"\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+",
    r"\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+",
    r"\s+$",
    r"[\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+",
    r"\p{N}+",
];

const DEEPSEEK3_LLM: &[&str] = &[
    r"\p{N}{1,3}",
    r"[\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+",
    r##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"##,
];

const SPARK2_5: &[&str] = &[
    r"\p{N}{1,3}",
    r"[\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+",
    r##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+"##,
    r"\p{N}",
];

const YOUTU: &[&str] = &[
    r"[\x{AC00}-\x{D7A3}\x{3131}-\x{318E}]+|[\x{FF01}\x{2026}\x{201C}\x{201D}\x{2018}\x{2019}\x{2014}\x{FF1A}\x{FF1B}\x{FF0C}\x{3001}-\x{303F}\x{FE30}-\x{FE4F}]+|[\x{3105}-\x{312F}]+|[\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
];

const DEEPSEEK_CODER: &[&str] =
    &[r"[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", r"[\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+", r"\p{N}"];

const FALCON: &[&str] = &[
    r"[\p{P}\$\+<=>\^~\|`]+",
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)",
    r"[0-9][0-9][0-9]",
];

const STARCODER: &[&str] = &[r"\p{N}", r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"];

const QWEN2: &[&str] = &[
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
];

const QWEN35: &[&str] = &[
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
];

const PORO: &[&str] = &[r" ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+"];

const VIKING: &[&str] = &[r" ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+", r"\p{N}"];

const TEKKEN: &[&str] = &[
    r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
];

const CHAMELEON: &[&str] = &[
    r"<sentinel:[0-9]+>",
    r"(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
    r"([\t\n]|    |  )",
    r"\p{N}",
    r"[\p{P}!-/:-@\[-`{-~]",
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)",
];

const GPT4O: &[&str] = &[
    r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
];

const GRANITE_EMB_MULTI: &[&str] = &[
    r"[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))*((?=[\p{L}\p{M}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))+((?=[\p{L}\p{M}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
];

const BAILINGMOE: &[&str] = &[
    r"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+",
];

const SEED_CODER: &[&str] = &[
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+",
];

const UFAKZEKA: &[&str] = &[r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"];

const LAGUNA: &[&str] = &[
    r"[^\n]+|[\n]+",
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
];

const EXAONE_MOE: &[&str] = &[
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+",
];

const MINICPM5: &[&str] = &[
    r"\p{N}{1,3}",
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
];

/// What a `tokenizer.ggml.pre` name selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreSpec {
    /// The regexes, applied in order.
    pub regexes: &'static [&'static str],
    /// A word that is itself a token is emitted whole, without merges
    /// (llama.cpp's `ignore_merges`).
    pub ignore_merges: bool,
    /// Decoding removes spaces before punctuation
    /// (`clean_up_tokenization_spaces`).
    pub clean_spaces: bool,
    /// Default of `add_bos` before `tokenizer.ggml.add_bos_token` overrides it.
    pub add_bos: bool,
    /// The pre-tokenizer clears the default BOS id (ChatGLM).
    pub no_default_bos: bool,
}

const fn spec(regexes: &'static [&'static str]) -> PreSpec {
    PreSpec { regexes, ignore_merges: false, clean_spaces: true, add_bos: false, no_default_bos: false }
}

const fn keep_spaces(mut s: PreSpec) -> PreSpec {
    s.clean_spaces = false;
    s
}

const fn no_merges(mut s: PreSpec) -> PreSpec {
    s.ignore_merges = true;
    s
}

const fn with_bos(mut s: PreSpec) -> PreSpec {
    s.add_bos = true;
    s
}

const fn no_bos(mut s: PreSpec) -> PreSpec {
    s.no_default_bos = true;
    s
}

/// The table: pre-tokenizer names (as llama.cpp spells them) and what they select.
const TABLE: &[(&[&str], PreSpec)] = &[
    (&["default"], spec(DEFAULT)),
    (&["minicpm5"], no_merges(spec(MINICPM5))),
    (
        &["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"],
        with_bos(no_merges(spec(LLAMA3))),
    ),
    (&["deepseek-llm"], keep_spaces(spec(DEEPSEEK_LLM))),
    (&["deepseek-coder"], keep_spaces(spec(DEEPSEEK_CODER))),
    (&["deepseek-v3"], keep_spaces(spec(DEEPSEEK3_LLM))),
    (&["spark2_5"], keep_spaces(spec(SPARK2_5))),
    (&["youtu"], no_merges(keep_spaces(spec(YOUTU)))),
    (&["falcon"], spec(FALCON)),
    (&["mpt"], spec(GPT2)),
    (&["starcoder"], spec(STARCODER)),
    (
        &[
            "gpt-2",
            "phi-2",
            "jina-es",
            "jina-de",
            "gigachat",
            "jina-v2-es",
            "jina-v2-de",
            "a.x-4.0",
            "mellum",
            "modern-bert",
            "exaone4",
            "jina-v1-en",
            "jina-v2-code",
            "roberta-bpe",
            "olmo",
            "jais",
        ],
        spec(GPT2),
    ),
    (&["jais-2"], spec(JAIS2)),
    (&["refact", "codeshell", "exaone", "minerva-7b", "mellum2"], spec(STARCODER)),
    (&["command-r", "smollm"], keep_spaces(spec(STARCODER))),
    (&["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2"], keep_spaces(spec(QWEN2))),
    (&["stablelm2", "megrez"], spec(QWEN2)),
    (&["qwen35"], keep_spaces(spec(QWEN35))),
    (&["dbrx", "smaug-bpe"], spec(LLAMA3)),
    (&["poro-chat"], keep_spaces(spec(PORO))),
    (&["bloom", "gpt3-finnish"], spec(PORO)),
    (&["chatglm-bpe"], no_bos(spec(LLAMA3))),
    (&["glm4", "glm5"], no_bos(no_merges(spec(LLAMA3)))),
    (&["viking"], keep_spaces(spec(VIKING))),
    (&["tekken"], with_bos(no_merges(keep_spaces(spec(TEKKEN))))),
    (&["exaone-moe"], spec(EXAONE_MOE)),
    (&["chameleon"], with_bos(keep_spaces(spec(CHAMELEON)))),
    (&["gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"], keep_spaces(spec(GPT4O))),
    (&["granite-embed-multi-97m"], no_merges(keep_spaces(spec(GRANITE_EMB_MULTI)))),
    (&["trillion", "granite-docling"], keep_spaces(spec(GPT2))),
    (&["bailingmoe", "bailingmoe2", "llada-moe"], keep_spaces(spec(BAILINGMOE))),
    (&["seed-coder"], keep_spaces(spec(SEED_CODER))),
    (&["hunyuan-dense", "hy_v4", "joyai-llm"], keep_spaces(spec(DEEPSEEK3_LLM))),
    (&["ufakzeka"], keep_spaces(spec(UFAKZEKA))),
    (&["laguna"], keep_spaces(spec(LAGUNA))),
];

/// The pre-tokenizer selected by a `tokenizer.ggml.pre` name, if known.
pub fn lookup(name: &str) -> Option<PreSpec> {
    TABLE.iter().find(|(names, _)| names.contains(&name)).map(|(_, spec)| *spec)
}

/// Every known `tokenizer.ggml.pre` name, sorted.
pub fn known_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = TABLE.iter().flat_map(|(n, _)| n.iter().copied()).collect();
    names.sort_unstable();
    names
}

/// The error for a name that is not in the table.
pub(crate) fn unknown(name: &str) -> TokenizerError {
    TokenizerError::UnknownPreTokenizer { name: name.to_string(), known: known_names().join(", ") }
}

/// Rewrites a pattern so that it means, under Unicode semantics, what
/// llama.cpp's category-collapsed `std::regex` makes of it (see module docs).
fn adapt(pattern: &str) -> String {
    let mut out = pattern.to_string();
    for sub in [r"\p{Lu}", r"\p{Ll}", r"\p{Lt}", r"\p{Lm}", r"\p{Lo}"] {
        out = out.replace(sub, r"\p{L}");
    }
    // `\d` only when the backslash is not itself escaped.
    let mut res = String::with_capacity(out.len());
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('d') => res.push_str("[0-9]"),
                Some(n) => {
                    res.push('\\');
                    res.push(n);
                }
                None => res.push('\\'),
            }
        } else {
            res.push(c);
        }
    }
    res
}

/// Splits text into words with a list of regexes.
#[derive(Debug)]
pub struct PreTokenizer {
    regexes: Vec<Regex>,
}

impl PreTokenizer {
    /// Compiles the regexes of a pre-tokenizer.
    pub fn new(patterns: &[&str]) -> Result<Self> {
        let regexes = patterns
            .iter()
            .map(|p| {
                fancy_regex::RegexBuilder::new(&adapt(p))
                    .backtrack_limit(100_000_000)
                    .build()
                    .map_err(|e| TokenizerError::Regex(format!("{p}: {e:?}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { regexes })
    }

    /// Splits `text` into words: each regex in turn splits every piece into
    /// its matches and the gaps between them. The words, concatenated, are
    /// `text` again.
    pub fn split<'t>(&self, text: &'t str) -> Result<Vec<&'t str>> {
        let mut pieces: Vec<(usize, usize)> = vec![(0, text.len())];
        for re in &self.regexes {
            let mut next = Vec::with_capacity(pieces.len() * 2);
            for &(start, end) in &pieces {
                let piece = &text[start..end];
                let mut last = 0;
                for m in re.find_iter(piece) {
                    let m = m.map_err(|e| TokenizerError::Regex(e.to_string()))?;
                    if m.start() == m.end() {
                        continue;
                    }
                    if m.start() > last {
                        next.push((start + last, start + m.start()));
                    }
                    next.push((start + m.start(), start + m.end()));
                    last = m.end();
                }
                if last < piece.len() {
                    next.push((start + last, end));
                }
            }
            pieces = next;
        }
        Ok(pieces.into_iter().map(|(s, e)| &text[s..e]).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_regex_compiles() {
        for (names, spec) in TABLE {
            PreTokenizer::new(spec.regexes).unwrap_or_else(|e| panic!("pre-tokenizer {names:?}: {e}"));
        }
    }

    #[test]
    fn names_are_unique() {
        let names = known_names();
        let mut dedup = names.clone();
        dedup.dedup();
        assert_eq!(names, dedup);
    }

    #[test]
    fn adapt_rewrites_categories_and_digits() {
        assert_eq!(adapt(r"[\p{Lu}\p{M}]\d\\d"), r"[\p{L}\p{M}][0-9]\\d");
    }

    #[test]
    fn llama3_splits() {
        let pre = PreTokenizer::new(lookup("llama-bpe").unwrap().regexes).unwrap();
        let words = pre.split("Hello world's 12345  \n\n  x").unwrap();
        assert_eq!(words, ["Hello", " world", "'s", " ", "123", "45", "  \n\n", " ", " x"]);
    }

    #[test]
    fn gaps_are_kept() {
        // The gpt2 regex has no plain `\s+`: a lone newline before a word is
        // not matched, but stays as its own piece.
        let pre = PreTokenizer::new(GPT2).unwrap();
        assert_eq!(pre.split("a\nb").unwrap(), ["a", "\n", "b"]);
    }

    #[test]
    fn unknown_lists_known() {
        let msg = unknown("nope").to_string();
        assert!(msg.contains("'nope'") && msg.contains("qwen2") && msg.contains("llama-bpe"));
    }
}
