//! The sampler chain (`rocmforge_core::sampling`): each stage on hand-made distributions, and the whole chain's
//! determinism and statistics.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rocmforge_core::sampling::stages::{self, Candidate};
use rocmforge_core::sampling::{Sampler, SamplingParams};

/// Off: every filter and penalty disabled, temperature 1 (plain softmax sampling).
fn plain(temperature: f32, seed: u64) -> SamplingParams {
    SamplingParams {
        temperature,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        repeat_penalty: 1.0,
        repeat_last_n: 64,
        presence_penalty: 0.0,
        frequency_penalty: 0.0,
        seed,
    }
}

fn random_logits(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-10.0f32..10.0)).collect()
}

fn first_argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// Candidates with logits ln(p) for a hand-made distribution (their softmax is `probs`).
fn from_probs(probs: &[f32]) -> Vec<Candidate> {
    probs.iter().enumerate().map(|(i, p)| Candidate { id: i as u32, logit: p.ln() }).collect()
}

fn ids(cands: &[Candidate]) -> Vec<u32> {
    cands.iter().map(|c| c.id).collect()
}

#[test]
fn defaults_are_llama_cpp_defaults() {
    let p = SamplingParams::default();
    assert_eq!(
        (p.temperature, p.top_k, p.top_p, p.min_p, p.repeat_penalty, p.repeat_last_n),
        (0.8, 40, 0.95, 0.05, 1.0, 64)
    );
    assert_eq!((p.presence_penalty, p.frequency_penalty, p.seed), (0.0, 0.0, SamplingParams::DEFAULT_SEED));
    assert_eq!(SamplingParams::greedy().temperature, 0.0);
}

#[test]
fn greedy_is_argmax() {
    let mut rng = StdRng::seed_from_u64(1);
    for temperature in [0.0, -1.0] {
        let mut s = Sampler::new(SamplingParams { temperature, ..SamplingParams::default() });
        for _ in 0..50 {
            let logits = random_logits(&mut rng, 1000);
            assert_eq!(s.sample(&logits, &[]), first_argmax(&logits));
        }
    }
    // Ties: the first maximum.
    let mut s = Sampler::new(SamplingParams::greedy());
    assert_eq!(s.sample(&[1.0, 3.0, 2.0, 3.0], &[]), 1);
}

#[test]
fn top_k_one_is_greedy_at_any_temperature() {
    let mut rng = StdRng::seed_from_u64(2);
    for (i, temperature) in [0.1f32, 0.8, 1.0, 2.0, 100.0].into_iter().enumerate() {
        let mut s = Sampler::new(SamplingParams { temperature, top_k: 1, seed: i as u64, ..SamplingParams::default() });
        for _ in 0..50 {
            let mut logits = random_logits(&mut rng, 500);
            logits[7] = logits[first_argmax(&logits) as usize]; // a tie: the lower id wins, as in greedy
            assert_eq!(s.sample(&logits, &[]), first_argmax(&logits), "temperature {temperature}");
        }
    }
}

#[test]
fn same_seed_same_tokens_other_seed_other_tokens() {
    let logits: Vec<f32> = (0..50).map(|i| ((i * 7919) % 13) as f32 * 0.1).collect(); // fairly flat
    let run = |seed: u64| {
        let mut s = Sampler::new(plain(1.0, seed));
        (0..200).map(|_| s.sample(&logits, &[])).collect::<Vec<u32>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
    // The default chain too.
    let run_default = |seed: u64| {
        let mut s = Sampler::new(SamplingParams { seed, ..SamplingParams::default() });
        (0..200).map(|_| s.sample(&logits, &[])).collect::<Vec<u32>>()
    };
    assert_eq!(run_default(3), run_default(3));
    assert_ne!(run_default(3), run_default(4));
    // Reseeding restarts the sequence.
    let mut s = Sampler::new(plain(1.0, 7));
    let first: Vec<u32> = (0..200).map(|_| s.sample(&logits, &[])).collect();
    s.reseed(7);
    let again: Vec<u32> = (0..200).map(|_| s.sample(&logits, &[])).collect();
    assert_eq!(first, again);
}

#[test]
fn top_p_keeps_the_smallest_set_reaching_p() {
    // Probabilities 0.4, 0.3, 0.2, 0.1, given out of order.
    let probs = [0.2, 0.4, 0.1, 0.3];
    let cases: [(f32, &[u32]); 6] = [
        (0.3, &[1]),           // 0.4 >= 0.3
        (0.45, &[1, 3]),       // 0.4 < 0.45 <= 0.7
        (0.69, &[1, 3]),       //
        (0.71, &[1, 3, 0]),    // 0.7 < 0.71 <= 0.9
        (0.95, &[1, 3, 0, 2]), // needs all
        (1.0, &[0, 1, 2, 3]),  // off: untouched
    ];
    for (p, want) in cases {
        let mut cands = from_probs(&probs);
        stages::top_p(&mut cands, p);
        assert_eq!(ids(&cands), want, "top_p {p}");
    }
    // Never empty.
    let mut cands = from_probs(&probs);
    stages::top_p(&mut cands, 0.0);
    assert_eq!(ids(&cands), [1]);
}

#[test]
fn min_p_drops_tokens_below_min_p_times_the_best() {
    let probs = [0.12, 0.5, 0.3, 0.08];
    let cases: [(f32, &[u32]); 5] = [
        (0.0, &[0, 1, 2, 3]), // off
        (0.1, &[0, 1, 2, 3]), // threshold 0.05
        (0.2, &[0, 1, 2]),    // threshold 0.1: drops 0.08
        (0.5, &[1, 2]),       // threshold 0.25
        (0.9, &[1]),          // threshold 0.45
    ];
    for (p, want) in cases {
        let mut cands = from_probs(&probs);
        stages::min_p(&mut cands, p);
        assert_eq!(ids(&cands), want, "min_p {p}");
    }
}

#[test]
fn top_k_keeps_the_k_best_sorted() {
    let mut cands = from_probs(&[0.1, 0.3, 0.05, 0.3, 0.25]);
    stages::top_k(&mut cands, 3);
    assert_eq!(ids(&cands), [1, 3, 4]); // equal logits: lower id first
    let mut cands = from_probs(&[0.1, 0.3, 0.05]);
    stages::top_k(&mut cands, 0);
    assert_eq!(ids(&cands), [1, 0, 2]); // off: all kept, sorted
}

#[test]
fn penalties_follow_llama_cpp() {
    let mut cands: Vec<Candidate> = Vec::new();
    stages::candidates_from_logits(&[2.0, -1.0, 0.5, 3.0], &mut cands);
    // Window of the last 3: [1, 2, 2] (token 0 is older and not penalized).
    stages::apply_penalties(&mut cands, &[0, 1, 2, 2], 3, 2.0, 0.25, 0.5);
    let logits: Vec<f32> = cands.iter().map(|c| c.logit).collect();
    assert_eq!(logits, [2.0, -2.0 - 0.25 - 0.5, 0.5 / 2.0 - 2.0 * 0.25 - 0.5, 3.0]);
    // repeat_last_n == 0: off.
    stages::candidates_from_logits(&[2.0, -1.0], &mut cands);
    stages::apply_penalties(&mut cands, &[0, 1], 0, 2.0, 1.0, 1.0);
    assert_eq!(cands.iter().map(|c| c.logit).collect::<Vec<_>>(), [2.0, -1.0]);
    // Out-of-vocabulary history tokens are ignored.
    stages::apply_penalties(&mut cands, &[99, u32::MAX], 64, 2.0, 1.0, 1.0);
    assert_eq!(cands.iter().map(|c| c.logit).collect::<Vec<_>>(), [2.0, -1.0]);
}

#[test]
fn repeat_penalty_changes_the_argmax() {
    let logits = [2.0, 1.9, -1.0];
    let mut s = Sampler::new(SamplingParams::greedy());
    assert_eq!(s.sample(&logits, &[0]), 0);
    let mut s = Sampler::new(SamplingParams { repeat_penalty: 1.2, ..SamplingParams::greedy() });
    assert_eq!(s.sample(&logits, &[0]), 1); // 2.0 / 1.2 = 1.67 < 1.9
    assert_eq!(s.sample(&logits, &[2]), 0); // the penalized token was not the best
                                            // Only the last repeat_last_n tokens count.
    let mut s = Sampler::new(SamplingParams { repeat_penalty: 1.2, repeat_last_n: 2, ..SamplingParams::greedy() });
    assert_eq!(s.sample(&logits, &[0, 2, 2]), 0);
    assert_eq!(s.sample(&logits, &[2, 2, 0]), 1);
    // Presence / frequency penalties.
    let mut s = Sampler::new(SamplingParams { presence_penalty: 0.2, ..SamplingParams::greedy() });
    assert_eq!(s.sample(&logits, &[0]), 1);
    let mut s = Sampler::new(SamplingParams { frequency_penalty: 0.05, ..SamplingParams::greedy() });
    assert_eq!(s.sample(&logits, &[0]), 0); // 2.0 - 0.05 > 1.9
    assert_eq!(s.sample(&logits, &[0, 0, 0]), 1); // 2.0 - 0.15 < 1.9
}

/// Over 20,000 draws with filters off, each token's frequency is within 0.01 of softmax(logits / T). (The largest
/// standard deviation of a frequency here is sqrt(0.25 / 20000) = 0.0035, so 0.01 is about 3 sigma; the seed is
/// fixed, so the test is deterministic.)
#[test]
fn frequencies_match_softmax_over_temperature() {
    let logits = [1.0f32, 2.0, 0.5, -1.0, 3.0, f32::NAN, f32::NEG_INFINITY];
    for temperature in [0.7f32, 1.0, 1.5] {
        let z: Vec<f64> = logits
            .iter()
            .map(|&l| if l.is_nan() { 0.0 } else { (f64::from(l) / f64::from(temperature)).exp() })
            .collect();
        let sum: f64 = z.iter().sum();
        let expected: Vec<f64> = z.iter().map(|v| v / sum).collect();

        let n = 20_000;
        let mut counts = [0usize; 7];
        let mut s = Sampler::new(plain(temperature, 12345));
        for _ in 0..n {
            counts[s.sample(&logits, &[]) as usize] += 1;
        }
        assert_eq!(counts[5], 0, "a NaN logit was sampled");
        assert_eq!(counts[6], 0, "a -inf logit was sampled");
        for (i, (&c, &e)) in counts.iter().zip(&expected).enumerate() {
            let f = c as f64 / n as f64;
            assert!((f - e).abs() < 0.01, "T={temperature} token {i}: frequency {f:.4}, softmax {e:.4}");
        }
    }
}

#[test]
fn default_chain_stays_within_its_filters() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut s = Sampler::new(SamplingParams::default());
    for _ in 0..200 {
        let logits = random_logits(&mut rng, 2000);
        let token = s.sample(&logits, &[]);
        // In the top 40 and with probability >= 0.05 * the best (min_p on untempered logits).
        let mut sorted = logits.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        assert!(logits[token as usize] >= sorted[39]);
        assert!(f64::from(logits[token as usize] - sorted[0]).exp() >= 0.05);
    }
}

#[test]
fn nan_and_infinite_logits_never_panic() {
    for params in [SamplingParams::default(), SamplingParams::greedy(), plain(1.0, 1)] {
        let mut s = Sampler::new(params);
        // All NaN / -inf: token 0, documented.
        assert_eq!(s.sample(&[f32::NAN, f32::NAN, f32::NAN], &[1]), 0);
        assert_eq!(s.sample(&[f32::NEG_INFINITY; 4], &[]), 0);
        assert_eq!(s.sample(&[f32::NAN, f32::NEG_INFINITY], &[0, 1]), 0);
        assert_eq!(s.sample(&[], &[]), 0);
        // NaN is never picked, even as the only non-(-inf) competitor.
        for _ in 0..100 {
            assert_eq!(s.sample(&[f32::NAN, f32::NEG_INFINITY, -50.0, f32::NAN], &[]), 2);
        }
        // +inf wins (the first one, on ties, when greedy).
        for _ in 0..100 {
            let t = s.sample(&[0.0, f32::INFINITY, 5.0, f32::INFINITY], &[]);
            assert!(t == 1 || t == 3);
        }
    }
    // A zero repeat penalty on a -inf logit (-inf * 0 = NaN) stays impossible.
    let mut s = Sampler::new(SamplingParams { repeat_penalty: 0.0, ..plain(1.0, 1) });
    for _ in 0..100 {
        assert_ne!(s.sample(&[f32::NEG_INFINITY, -3.0], &[0]), 0);
    }
}

#[test]
fn softmax_and_argmax_stages() {
    let cands = from_probs(&[0.25, 0.5, 0.25]);
    let p = stages::softmax(&cands);
    assert!((p[0] - 0.25).abs() < 1e-6 && (p[1] - 0.5).abs() < 1e-6);
    assert_eq!(stages::argmax(&cands), Some(1));
    assert_eq!(stages::argmax(&[]), None);
    assert_eq!(stages::softmax(&from_probs(&[0.0, 0.0])), [0.5, 0.5]); // all -inf: uniform
                                                                       // Hand-made candidates with NaN: NaN counts as -inf in every stage.
    let nan = [Candidate { id: 0, logit: f32::NAN }, Candidate { id: 1, logit: -3.0 }, Candidate { id: 2, logit: 1.0 }];
    assert_eq!(stages::argmax(&nan), Some(2));
    assert_eq!(stages::softmax(&nan)[0], 0.0);
    let mut sorted = nan.to_vec();
    stages::top_k(&mut sorted, 0);
    assert_eq!(ids(&sorted), [2, 1, 0]);
}
