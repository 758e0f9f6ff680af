//! Incremental decoding: ids in one at a time, whole UTF-8 text out.
//!
//! A token can end in the middle of a character (byte-level BPE splits
//! emoji and CJK characters across tokens; SentencePiece byte fallback emits
//! one byte per token). The decoder keeps the bytes of an unfinished
//! character until the next tokens complete it, so it never returns half a
//! character. Bytes that can never become valid UTF-8 are returned as U+FFFD.

use super::Tokenizer;

/// Decodes a stream of token ids into text. Concatenating everything
/// [`push`](Self::push) and [`finish`](Self::finish) return gives the
/// pieces of all ids joined (special tokens rendered unless
/// [`skip_special`](Self::skip_special) is set).
#[derive(Debug)]
pub struct StreamDecoder<'a> {
    tokenizer: &'a Tokenizer,
    pending: Vec<u8>,
    special: bool,
}

impl<'a> StreamDecoder<'a> {
    /// A decoder that renders special tokens as their text.
    pub fn new(tokenizer: &'a Tokenizer) -> Self {
        Self { tokenizer, pending: Vec::new(), special: true }
    }

    /// Leaves out control and unknown tokens (llama.cpp's
    /// `token_to_piece(..., special = false)`).
    pub fn skip_special(mut self, skip: bool) -> Self {
        self.special = !skip;
        self
    }

    /// Adds one token; returns the text that is now complete (possibly empty).
    pub fn push(&mut self, id: u32) -> String {
        self.pending.extend_from_slice(self.tokenizer.piece(id, self.special));
        self.take_complete()
    }

    /// Adds several tokens; returns the text that is now complete.
    pub fn push_all(&mut self, ids: &[u32]) -> String {
        for &id in ids {
            self.pending.extend_from_slice(self.tokenizer.piece(id, self.special));
        }
        self.take_complete()
    }

    /// Bytes held back, waiting for the rest of a character.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// Ends the stream: returns what is left, an unfinished character as U+FFFD.
    pub fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }

    fn take_complete(&mut self) -> String {
        let mut out = String::new();
        let mut start = 0;
        loop {
            match std::str::from_utf8(&self.pending[start..]) {
                Ok(s) => {
                    out.push_str(s);
                    start = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid = start + e.valid_up_to();
                    // SAFETY-free: the prefix was just checked to be UTF-8.
                    out.push_str(std::str::from_utf8(&self.pending[start..valid]).expect("valid prefix"));
                    match e.error_len() {
                        // Invalid bytes: they will never form a character.
                        Some(len) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            start = valid + len;
                        }
                        // An unfinished character at the end: wait for more.
                        None => {
                            start = valid;
                            break;
                        }
                    }
                }
            }
        }
        self.pending.drain(..start);
        out
    }
}
