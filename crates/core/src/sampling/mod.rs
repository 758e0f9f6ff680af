//! Token sampling: pick the next token from a vector of logits, like llama.cpp's default sampler chain.
//!
//! [`Sampler::sample`] runs, in this order (llama.cpp's `common_sampler` order, less the samplers off by default):
//!
//! 1. penalties over the last `repeat_last_n` tokens of the history: repetition, then frequency and presence
//!    ([`stages::apply_penalties`]);
//! 2. if `temperature <= 0`: greedy — the token with the highest (penalized) logit, the lowest id on ties; stop;
//! 3. top-k ([`stages::top_k`]), top-p ([`stages::top_p`]), min-p ([`stages::min_p`]), each on the softmax of the
//!    untempered logits as in llama.cpp;
//! 4. temperature ([`stages::apply_temperature`]);
//! 5. a draw from the softmax of what is left, with a [`StdRng`] seeded from [`SamplingParams::seed`]: the same
//!    seed, logits and history give the same tokens (for a given `rand` version).
//!
//! Bad logits never panic: a NaN logit counts as `-inf` and is never picked. If no token has a finite or `+inf`
//! logit (all NaN / `-inf`), or `logits` is empty, the result is token `0` (and nothing is drawn from the RNG).

pub mod stages;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use stages::Candidate;

/// How to sample. [`Default`] gives llama.cpp's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// Divides the logits before the final draw; `<= 0` means greedy (argmax). Default 0.8.
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens; 0 = off. Default 40.
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability adds up to `top_p`; 1 = off. Default 0.95.
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one; 0 = off. Default 0.05.
    pub min_p: f32,
    /// Penalty on tokens seen in the last `repeat_last_n` tokens: positive logits divided by it, others multiplied;
    /// 1 = off. Default 1.0 (off, as in llama.cpp).
    pub repeat_penalty: f32,
    /// How many of the last tokens of the history the penalties look at; 0 = off. Default 64.
    pub repeat_last_n: usize,
    /// Subtracted once from the logit of every token seen in the window; 0 = off. Default 0.
    pub presence_penalty: f32,
    /// Subtracted from a seen token's logit once per time it was seen; 0 = off. Default 0.
    pub frequency_penalty: f32,
    /// Seed of the random generator. Default [`SamplingParams::DEFAULT_SEED`] (fixed, so that runs repeat;
    /// llama.cpp instead picks a random seed by default).
    pub seed: u64,
}

impl SamplingParams {
    /// The seed [`Default`] uses.
    pub const DEFAULT_SEED: u64 = 42;

    /// Greedy decoding: always the most likely token (after penalties).
    pub fn greedy() -> Self {
        Self { temperature: 0.0, ..Self::default() }
    }
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            seed: Self::DEFAULT_SEED,
        }
    }
}

/// Picks tokens from logits with [`SamplingParams`]; holds the seeded random generator, so successive calls
/// continue one reproducible random sequence.
#[derive(Debug, Clone)]
pub struct Sampler {
    params: SamplingParams,
    rng: StdRng,
    cands: Vec<Candidate>,
}

impl Sampler {
    /// A sampler whose random generator starts from `params.seed`.
    pub fn new(params: SamplingParams) -> Self {
        let rng = StdRng::seed_from_u64(params.seed);
        Self { params, rng, cands: Vec::new() }
    }

    /// The parameters this sampler uses.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// Restarts the random generator from `seed` (and records it in the parameters).
    pub fn reseed(&mut self, seed: u64) {
        self.params.seed = seed;
        self.rng = StdRng::seed_from_u64(seed);
    }

    /// The next token for `logits` (one per vocabulary entry), given the tokens so far in `history` (prompt and
    /// generated, oldest first; only its last `repeat_last_n` matter, and only when a penalty is on).
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        let p = &self.params;
        let cands = &mut self.cands;
        stages::candidates_from_logits(logits, cands);
        stages::apply_penalties(
            cands,
            history,
            p.repeat_last_n,
            p.repeat_penalty,
            p.frequency_penalty,
            p.presence_penalty,
        );
        if p.temperature.is_nan() || p.temperature <= 0.0 {
            // Candidates are in id order here, so the first maximum is the lowest id.
            return stages::argmax(cands).unwrap_or(0);
        }
        if cands.iter().all(|c| c.logit == f32::NEG_INFINITY) {
            return 0;
        }
        stages::top_k(cands, p.top_k);
        stages::top_p(cands, p.top_p);
        stages::min_p(cands, p.min_p);
        stages::apply_temperature(cands, p.temperature);
        let probs = stages::softmax(cands);
        let total: f64 = probs.iter().sum();
        let r = self.rng.gen::<f64>() * total;
        let mut cumulative = 0.0;
        let mut last_possible = cands[0].id;
        for (c, prob) in cands.iter().zip(&probs) {
            if *prob > 0.0 {
                last_possible = c.id;
                cumulative += prob;
                if r < cumulative {
                    return c.id;
                }
            }
        }
        last_possible // only reached through rounding when r is within an ulp of the total
    }
}
