//! The generation loop: prefill the whole prompt in one pass, then decode
//! token by token, sampling each from the last logits, until an
//! end-of-generation token, a stop string or the token budget.

use std::time::Instant;

use rocmforge_backend_api::BackendError;

use crate::model::{CausalLm, Logits};
use crate::sampling::{Sampler, SamplingParams};
use crate::tokenizer::Tokenizer;

#[derive(Clone, Debug)]
pub struct GenerateParams {
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    /// Stop (and cut the text) where the generated text contains one of these.
    pub stop: Vec<String>,
    /// Keep going past end-of-generation tokens.
    pub ignore_eos: bool,
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// An end-of-generation token (EOS, EOT, ...) was sampled.
    Eos,
    /// A user stop string appeared in the text.
    StopString,
    /// `max_tokens` were generated.
    MaxTokens,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Eos => "eos",
            StopReason::StopString => "stop_string",
            StopReason::MaxTokens => "max_tokens",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Generation {
    /// Generated ids, including the end-of-generation token it stopped on.
    pub tokens: Vec<u32>,
    /// The generated text (cut before a stop string; special tokens left out).
    pub text: String,
    pub stop_reason: StopReason,
    pub prefill_secs: f64,
    /// Time of the decode steps (every forward pass after the prefill).
    pub decode_secs: f64,
    /// Tokens produced by those decode steps (the first token comes from the prefill).
    pub decode_steps: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("the prompt is empty (no tokens)")]
    EmptyPrompt,
    #[error(
        "prompt ({prompt} tokens) + max tokens ({max_tokens}) exceeds the context length ({context}); \
         shorten the prompt or lower --max-tokens"
    )]
    ContextOverflow { prompt: usize, max_tokens: usize, context: usize },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Generate from `prompt` (token ids), calling `on_text` with each piece of
/// text as soon as it is final (whole characters, never part of a stop
/// string). The model's KV cache is reused from position 0.
pub fn generate(
    model: &mut dyn CausalLm,
    tokenizer: &Tokenizer,
    prompt: &[u32],
    params: &GenerateParams,
    on_text: &mut dyn FnMut(&str),
) -> Result<Generation, GenerateError> {
    if prompt.is_empty() {
        return Err(GenerateError::EmptyPrompt);
    }
    let context = model.context_length();
    if prompt.len() + params.max_tokens > context {
        return Err(GenerateError::ContextOverflow { prompt: prompt.len(), max_tokens: params.max_tokens, context });
    }
    let mut sampler = Sampler::new(params.sampling.clone());
    let mut history = prompt.to_vec();
    let mut out = TextOut::new(tokenizer, &params.stop);
    let mut tokens = Vec::new();

    let t0 = Instant::now();
    let mut logits = model.forward(prompt, 0, Logits::Last)?;
    let prefill_secs = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    let mut decode_steps = 0;
    let mut stop_reason = StopReason::MaxTokens;
    while tokens.len() < params.max_tokens {
        let tok = sampler.sample(&logits, &history);
        tokens.push(tok);
        history.push(tok);
        if tokenizer.is_eog(tok) && !params.ignore_eos {
            stop_reason = StopReason::Eos;
            break;
        }
        if out.push(tok, on_text) {
            stop_reason = StopReason::StopString;
            break;
        }
        if tokens.len() == params.max_tokens {
            break;
        }
        logits = model.forward(&[tok], history.len() - 1, Logits::Last)?;
        decode_steps += 1;
    }
    let decode_secs = t1.elapsed().as_secs_f64();
    let text = out.finish(on_text);
    Ok(Generation { tokens, text, stop_reason, prefill_secs, decode_secs, decode_steps })
}

/// Turns tokens into text for the caller: whole characters only, and text
/// that could still become a stop string is held back until it cannot.
struct TextOut<'a> {
    decoder: crate::tokenizer::StreamDecoder<'a>,
    stop: &'a [String],
    text: String,
    emitted: usize,
}

impl<'a> TextOut<'a> {
    fn new(tokenizer: &'a Tokenizer, stop: &'a [String]) -> Self {
        TextOut { decoder: tokenizer.stream_decoder().skip_special(true), stop, text: String::new(), emitted: 0 }
    }

    /// Add a token; returns true when a stop string was found (the text is
    /// then cut before it and everything before it emitted).
    fn push(&mut self, tok: u32, on_text: &mut dyn FnMut(&str)) -> bool {
        self.text.push_str(&self.decoder.push(tok));
        // A stop string can only start in the text not yet emitted, or
        // straddle its boundary.
        let longest = self.stop.iter().map(String::len).max().unwrap_or(0);
        let search_from = floor_char(&self.text, self.emitted.saturating_sub(longest));
        let hit = self
            .stop
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| self.text[search_from..].find(s.as_str()).map(|i| search_from + i))
            .min();
        if let Some(at) = hit {
            self.text.truncate(at);
            self.emit_to(self.text.len(), on_text);
            return true;
        }
        // Hold back the tail that could be the start of a stop string.
        let safe = floor_char(&self.text, self.text.len().saturating_sub(longest.saturating_sub(1)));
        self.emit_to(safe.max(self.emitted), on_text);
        false
    }

    fn emit_to(&mut self, end: usize, on_text: &mut dyn FnMut(&str)) {
        if end > self.emitted {
            on_text(&self.text[self.emitted..end]);
            self.emitted = end;
        }
    }

    fn finish(mut self, on_text: &mut dyn FnMut(&str)) -> String {
        let rest = self.decoder.finish();
        self.text.push_str(&rest);
        self.emit_to(self.text.len(), on_text);
        self.text
    }
}

/// The largest char boundary of `s` at or below `i`.
fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
