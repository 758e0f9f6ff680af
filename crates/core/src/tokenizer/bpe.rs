//! Byte-level BPE (`tokenizer.ggml.model = "gpt2"`).
//!
//! Text is split into words by the pre-tokenizer, every byte of a word is
//! mapped to a printable character (GPT-2's `bytes_to_unicode`), and the
//! word is merged by the `tokenizers` crate's BPE model using the GGUF merges
//! (lowest rank first, leftmost first on ties, like llama.cpp).

use std::collections::{HashMap, HashSet};

use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::Model;

use super::error::{Result, TokenizerError};
use super::pretokenize::PreTokenizer;

/// GPT-2's byte to character table: printable Latin-1 bytes map to
/// themselves, the others to U+0100 and up, in byte order.
pub(crate) fn byte_to_char_table() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        table[b as usize] = if printable {
            char::from(b)
        } else {
            let c = char::from_u32(256 + n).expect("valid code point");
            n += 1;
            c
        };
    }
    table
}

/// The inverse of [`byte_to_char_table`].
pub(crate) fn char_to_byte_map() -> HashMap<char, u8> {
    byte_to_char_table().iter().enumerate().map(|(b, &c)| (c, b as u8)).collect()
}

/// Decodes a byte-level token text to its bytes. A character outside the
/// byte table is written as llama.cpp does (`[UNK_BYTE_0x..]`).
pub(crate) fn decode_byte_level(text: &str, map: &HashMap<char, u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match map.get(&c) {
            Some(&b) => out.push(b),
            None => {
                out.extend_from_slice(b"[UNK_BYTE_0x");
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.extend_from_slice(format!("{b:02x}").as_bytes());
                }
                out.extend_from_slice(text.as_bytes());
                out.push(b']');
            }
        }
    }
    out
}

/// Byte-level BPE: pre-tokenizer plus the merge model.
pub(crate) struct ByteLevelBpe {
    pre: PreTokenizer,
    model: BPE,
    byte_chars: [char; 256],
}

impl std::fmt::Debug for ByteLevelBpe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteLevelBpe").finish_non_exhaustive()
    }
}

/// Merges that the BPE model cannot take: llama.cpp keeps them, but a merge
/// whose parts or result are not tokens can never produce a token.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MergeStats {
    /// Merges kept.
    pub used: usize,
    /// Repeated merges (the first rank wins, as in llama.cpp).
    pub duplicate: usize,
    /// Merges whose left, right or merged text is not a token.
    pub out_of_vocab: usize,
    /// Merges without a space separating the two parts.
    pub malformed: usize,
}

impl ByteLevelBpe {
    /// Builds the model. `token_to_id` maps token text to id (the last id
    /// wins for a repeated text, as in llama.cpp).
    pub(crate) fn new(
        pre: PreTokenizer,
        token_to_id: &HashMap<String, u32>,
        merges: &[String],
        ignore_merges: bool,
    ) -> Result<(Self, MergeStats)> {
        let mut stats = MergeStats::default();
        let mut seen: HashSet<(&str, &str)> = HashSet::with_capacity(merges.len());
        let mut pairs = Vec::with_capacity(merges.len());
        for merge in merges {
            // llama.cpp splits at the first space after the first byte.
            let bytes = merge.as_bytes();
            let space = bytes.iter().skip(1).position(|&b| b == b' ');
            let Some(pos) = space.map(|p| p + 1) else {
                stats.malformed += 1;
                continue;
            };
            let (left, right) = (&merge[..pos], &merge[pos + 1..]);
            if !seen.insert((left, right)) {
                stats.duplicate += 1;
                continue;
            }
            let merged = format!("{left}{right}");
            if !token_to_id.contains_key(left) || !token_to_id.contains_key(right) || !token_to_id.contains_key(&merged)
            {
                stats.out_of_vocab += 1;
                continue;
            }
            pairs.push((left.to_string(), right.to_string()));
        }
        stats.used = pairs.len();
        let vocab: Vocab = token_to_id.iter().map(|(t, &id)| (t.clone(), id)).collect();
        let model = BPE::builder()
            .vocab_and_merges(vocab, pairs)
            .ignore_merges(ignore_merges)
            .build()
            .map_err(|e| TokenizerError::Bpe(e.to_string()))?;
        Ok((Self { pre, model, byte_chars: byte_to_char_table() }, stats))
    }

    /// Tokenizes one fragment of plain text (no special tokens in it).
    pub(crate) fn encode(&self, text: &str, out: &mut Vec<u32>) -> Result<()> {
        let mut word = String::new();
        for piece in self.pre.split(text)? {
            word.clear();
            for &b in piece.as_bytes() {
                word.push(self.byte_chars[b as usize]);
            }
            let tokens = self.model.tokenize(&word).map_err(|e| TokenizerError::Bpe(e.to_string()))?;
            out.extend(tokens.iter().map(|t| t.id));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_matches_gpt2() {
        let t = byte_to_char_table();
        assert_eq!(t[b' ' as usize], 'Ġ');
        assert_eq!(t[b'\n' as usize], 'Ċ');
        assert_eq!(t[b'a' as usize], 'a');
        assert_eq!(t[0xAD], 'Ń'); // U+0143: the 68th byte outside the printable ranges
        let map = char_to_byte_map();
        assert_eq!(map.len(), 256);
        assert_eq!(decode_byte_level("ĠhiĊ", &map), b" hi\n");
    }

    #[test]
    fn merges_lowest_rank_first() {
        let tokens = ["a", "b", "c", "ab", "bc", "abc"];
        let map: HashMap<String, u32> = tokens.iter().enumerate().map(|(i, t)| (t.to_string(), i as u32)).collect();
        let pre = PreTokenizer::new(&[r"\S+"]).unwrap();
        let merges: Vec<String> = ["b c", "a b", "a bc", "x"].iter().map(|s| s.to_string()).collect();
        let (bpe, stats) = ByteLevelBpe::new(pre, &map, &merges, false).unwrap();
        assert_eq!(stats.malformed, 1);
        let mut out = Vec::new();
        bpe.encode("abc", &mut out).unwrap();
        assert_eq!(out, [5]);
        out.clear();
        bpe.encode("ab", &mut out).unwrap();
        assert_eq!(out, [3]);
    }
}
