//! The stages of the sampler chain, each a function over a list of candidates (token id + logit).
//!
//! [`Sampler`](super::Sampler) runs them in llama.cpp's order; they are public so that other chains can reuse them
//! and tests can check each one on its own. Conventions:
//!
//! - a NaN logit counts as `-inf` (the token can never be picked);
//! - "sorted" means by logit, highest first, ties broken by the lower token id (so "the first of the best" is the
//!   lowest id, as in a plain argmax);
//! - a filter never drops the last candidate (llama.cpp's `min_keep` of 1).

use std::collections::HashMap;

/// One token that can still be sampled: its id and its (possibly adjusted) logit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Token id (the index of its logit).
    pub id: u32,
    /// Logit: never NaN once made by [`candidates_from_logits`].
    pub logit: f32,
}

/// Fills `out` with one candidate per logit, in id order; NaN becomes `-inf`.
pub fn candidates_from_logits(logits: &[f32], out: &mut Vec<Candidate>) {
    out.clear();
    out.extend(logits.iter().enumerate().map(|(i, &l)| Candidate { id: i as u32, logit: sanitize(l) }));
}

fn sanitize(logit: f32) -> f32 {
    if logit.is_nan() {
        f32::NEG_INFINITY
    } else {
        logit
    }
}

/// The sort order: higher logit first; on equal logits, lower id first.
fn by_logit_desc(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    sanitize(b.logit).total_cmp(&sanitize(a.logit)).then(a.id.cmp(&b.id))
}

/// Whether `cands` is already sorted (see the module's conventions).
pub fn is_sorted(cands: &[Candidate]) -> bool {
    cands.windows(2).all(|w| by_logit_desc(&w[0], &w[1]) != std::cmp::Ordering::Greater)
}

/// Sorts by logit, highest first, ties by lower id.
pub fn sort_descending(cands: &mut [Candidate]) {
    if !is_sorted(cands) {
        cands.sort_unstable_by(by_logit_desc);
    }
}

/// Repetition, frequency and presence penalties over the last `last_n` tokens of `history` (llama.cpp's
/// `penalties` sampler). For each distinct token seen there `count` times:
///
/// - repetition: a positive logit is divided by `repeat_penalty`, any other multiplied by it (1 = off);
/// - then `logit -= count * frequency_penalty + presence_penalty` (0 = off for each).
///
/// `last_n == 0` turns all three off. History tokens with no candidate are ignored.
pub fn apply_penalties(
    cands: &mut [Candidate],
    history: &[u32],
    last_n: usize,
    repeat_penalty: f32,
    frequency_penalty: f32,
    presence_penalty: f32,
) {
    if last_n == 0 || (repeat_penalty == 1.0 && frequency_penalty == 0.0 && presence_penalty == 0.0) {
        return;
    }
    let window = &history[history.len().saturating_sub(last_n)..];
    let mut counts: HashMap<u32, u32> = HashMap::new();
    for &token in window {
        *counts.entry(token).or_insert(0) += 1;
    }
    for (&token, &count) in &counts {
        // Candidates straight from the logits sit at their id; otherwise look the token up.
        let slot = match cands.get(token as usize) {
            Some(c) if c.id == token => Some(token as usize),
            _ => cands.iter().position(|c| c.id == token),
        };
        let Some(slot) = slot else { continue };
        let c = &mut cands[slot];
        if c.logit <= 0.0 {
            c.logit *= repeat_penalty;
        } else {
            c.logit /= repeat_penalty;
        }
        c.logit -= count as f32 * frequency_penalty + presence_penalty;
        c.logit = sanitize(c.logit); // e.g. -inf * 0 with a zero penalty
    }
}

/// Keeps the `k` best candidates, sorted (`k == 0`: off, but the candidates are still sorted).
pub fn top_k(cands: &mut Vec<Candidate>, k: usize) {
    if k > 0 && k < cands.len() {
        cands.select_nth_unstable_by(k - 1, by_logit_desc);
        cands.truncate(k);
    }
    sort_descending(cands);
}

/// Nucleus filter: sorts, then keeps the smallest prefix whose probabilities (softmax of the logits) add up to at
/// least `p`. `p >= 1` (or NaN): off.
pub fn top_p(cands: &mut Vec<Candidate>, p: f32) {
    if p.is_nan() || p >= 1.0 || cands.is_empty() {
        return;
    }
    sort_descending(cands);
    let probs = softmax(cands);
    let mut cumulative = 0.0f64;
    let mut keep = cands.len();
    for (i, prob) in probs.iter().enumerate() {
        cumulative += prob;
        if cumulative >= f64::from(p) {
            keep = i + 1;
            break;
        }
    }
    cands.truncate(keep.max(1));
}

/// Drops every candidate whose probability is below `p` times the highest probability (llama.cpp's `min_p`).
/// `p <= 0` (or NaN): off. Keeps the candidates' order.
pub fn min_p(cands: &mut Vec<Candidate>, p: f32) {
    if p.is_nan() || p <= 0.0 || cands.is_empty() {
        return;
    }
    let max = cands.iter().map(|c| c.logit).fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return; // nothing to compare against: all equally impossible
    }
    if max == f32::INFINITY {
        cands.retain(|c| c.logit == f32::INFINITY);
        return;
    }
    // prob_i / prob_max = exp(logit_i - max)
    let threshold = f64::from(p);
    let best = cands.iter().position(|c| c.logit == max);
    let mut i = 0;
    cands.retain(|c| {
        let keep = Some(i) == best || (f64::from(c.logit) - f64::from(max)).exp() >= threshold;
        i += 1;
        keep
    });
}

/// Divides every logit by `temperature` (which must be > 0; the sampler handles `<= 0` as greedy).
pub fn apply_temperature(cands: &mut [Candidate], temperature: f32) {
    if temperature > 0.0 && temperature != 1.0 {
        for c in cands {
            c.logit /= temperature;
        }
    }
}

/// The probabilities of the candidates (softmax of their logits, in f64), in their order. All `-inf`: uniform;
/// any `+inf`: shared evenly by the `+inf` ones.
pub fn softmax(cands: &[Candidate]) -> Vec<f64> {
    let max = cands.iter().map(|c| c.logit).fold(f32::NEG_INFINITY, f32::max);
    if cands.is_empty() {
        return Vec::new();
    }
    if max == f32::NEG_INFINITY {
        return vec![1.0 / cands.len() as f64; cands.len()];
    }
    let weights: Vec<f64> = if max == f32::INFINITY {
        cands.iter().map(|c| if c.logit == f32::INFINITY { 1.0 } else { 0.0 }).collect()
    } else {
        cands.iter().map(|c| if c.logit.is_nan() { 0.0 } else { (f64::from(c.logit) - f64::from(max)).exp() }).collect()
    };
    let sum: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / sum).collect()
}

/// The id of the first candidate with the highest logit (in the candidates' order; NaN counts as `-inf`), or
/// `None` when empty.
pub fn argmax(cands: &[Candidate]) -> Option<u32> {
    let mut best: Option<(u32, f32)> = None;
    for c in cands {
        let logit = sanitize(c.logit);
        match best {
            Some((_, b)) if logit <= b => {}
            _ => best = Some((c.id, logit)),
        }
    }
    best.map(|(id, _)| id)
}
