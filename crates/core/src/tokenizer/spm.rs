//! SentencePiece-style BPE (`tokenizer.ggml.model = "llama"`).
//!
//! The text (spaces already replaced by U+2581 "▁") starts as one symbol per
//! character. Adjacent symbols whose concatenation is a token are merged,
//! the pair whose token has the highest score first (leftmost on ties),
//! until no pair forms a token. Every final symbol is a token, or is written
//! as byte tokens `<0xNN>` (byte fallback). This is llama.cpp's
//! `llm_tokenizer_spm`.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use super::error::{Result, TokenizerError};

/// The SentencePiece model: the byte-fallback tokens; the vocabulary itself
/// lives in the tokenizer.
#[derive(Debug, Clone)]
pub(crate) struct Spm {
    byte_tokens: Vec<Option<u32>>,
}

struct Symbol {
    start: usize,
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

struct Bigram {
    score: f32,
    left: usize,
    right: usize,
    size: usize,
}

impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Bigram {}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bigram {
    // The greatest bigram is merged first: highest score, then leftmost.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score.partial_cmp(&other.score).unwrap_or(Ordering::Equal).then_with(|| other.left.cmp(&self.left))
    }
}

impl Spm {
    /// Finds the byte tokens: `<0xNN>`, else the one-byte text itself.
    pub(crate) fn new(token_to_id: &HashMap<String, u32>) -> Self {
        let byte_tokens = (0..=255u8)
            .map(|b| {
                token_to_id.get(&format!("<0x{b:02X}>")).copied().or_else(|| {
                    if b.is_ascii() {
                        token_to_id.get(&char::from(b).to_string()).copied()
                    } else {
                        None
                    }
                })
            })
            .collect();
        Self { byte_tokens }
    }

    /// The token of a byte (byte fallback), if the vocabulary has one.
    pub(crate) fn byte_token(&self, b: u8) -> Option<u32> {
        self.byte_tokens[b as usize]
    }

    /// Tokenizes `text` (spaces already escaped) into `out`.
    pub(crate) fn encode(
        &self,
        text: &str,
        token_to_id: &HashMap<String, u32>,
        scores: &[f32],
        unk: Option<u32>,
        out: &mut Vec<u32>,
    ) -> Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let mut symbols: Vec<Symbol> = Vec::with_capacity(text.len());
        for (i, (start, c)) in text.char_indices().enumerate() {
            symbols.push(Symbol { start, len: c.len_utf8(), prev: i.checked_sub(1), next: None });
        }
        let n = symbols.len();
        for (i, sym) in symbols.iter_mut().enumerate() {
            sym.next = (i + 1 < n).then_some(i + 1);
        }

        let mut queue = BinaryHeap::new();
        let try_add =
            |symbols: &[Symbol], queue: &mut BinaryHeap<Bigram>, left: Option<usize>, right: Option<usize>| {
                let (Some(left), Some(right)) = (left, right) else {
                    return;
                };
                let start = symbols[left].start;
                let size = symbols[left].len + symbols[right].len;
                if let Some(&id) = token_to_id.get(&text[start..start + size]) {
                    queue.push(Bigram { score: scores.get(id as usize).copied().unwrap_or(0.0), left, right, size });
                }
            };
        for i in 1..n {
            try_add(&symbols, &mut queue, Some(i - 1), Some(i));
        }

        while let Some(bigram) = queue.pop() {
            let (l, r) = (bigram.left, bigram.right);
            // Skip pairs whose symbols changed since they were queued.
            if symbols[l].len == 0 || symbols[r].len == 0 || symbols[l].len + symbols[r].len != bigram.size {
                continue;
            }
            symbols[l].len += symbols[r].len;
            symbols[r].len = 0;
            symbols[l].next = symbols[r].next;
            if let Some(next) = symbols[r].next {
                symbols[next].prev = Some(l);
            }
            let (prev, next) = (symbols[l].prev, symbols[l].next);
            try_add(&symbols, &mut queue, prev, Some(l));
            try_add(&symbols, &mut queue, Some(l), next);
        }

        let mut i = Some(0);
        while let Some(idx) = i {
            let sym = &symbols[idx];
            let piece = &text[sym.start..sym.start + sym.len];
            match token_to_id.get(piece) {
                Some(&id) => out.push(id),
                None => {
                    for &b in piece.as_bytes() {
                        match self.byte_token(b).or(unk) {
                            Some(id) => out.push(id),
                            None => return Err(TokenizerError::NoByteToken(b)),
                        }
                    }
                }
            }
            i = sym.next;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(tokens: &[(&str, f32)]) -> (HashMap<String, u32>, Vec<f32>) {
        let map = tokens.iter().enumerate().map(|(i, (t, _))| (t.to_string(), i as u32)).collect();
        (map, tokens.iter().map(|(_, s)| *s).collect())
    }

    #[test]
    fn highest_score_merges_first() {
        let (map, scores) = vocab(&[("▁", -1.0), ("a", -1.0), ("b", -1.0), ("▁a", -3.0), ("ab", -2.0), ("▁ab", -4.0)]);
        let spm = Spm::new(&map);
        let mut out = Vec::new();
        spm.encode("▁ab", &map, &scores, None, &mut out).unwrap();
        // "ab" (-2) beats "▁a" (-3); then "▁" + "ab" -> "▁ab".
        assert_eq!(out, [5]);
    }

    #[test]
    fn byte_fallback() {
        let mut tokens: Vec<(String, f32)> = vec![("x".into(), 0.0)];
        for b in 0..=255u8 {
            tokens.push((format!("<0x{b:02X}>"), 0.0));
        }
        let map: HashMap<String, u32> = tokens.iter().enumerate().map(|(i, (t, _))| (t.clone(), i as u32)).collect();
        let scores = vec![0.0; tokens.len()];
        let spm = Spm::new(&map);
        let mut out = Vec::new();
        spm.encode("xé", &map, &scores, None, &mut out).unwrap();
        assert_eq!(out, [0, 1 + 0xC3, 1 + 0xA9]);
    }
}
