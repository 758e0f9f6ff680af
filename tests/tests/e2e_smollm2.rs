//! End to end on a real model: SmolLM2-135M-Instruct Q4_1 on the CPU
//! oracle against llama.cpp (fixture made by scripts/make_llamacpp_refs.py,
//! see tests/fixtures/llamacpp/README.md).
//!
//! llama.cpp quantizes activations to 8 bits inside its quantized matmuls,
//! so its logits are only accurate to about 0.5 and greedy paths may
//! legitimately flip where its top-2 margin is small. Hence the rules:
//! - greedy tokens equal llama.cpp's up to the first step whose margin is
//!   below [`NEAR_TIE`];
//! - teacher-forced over llama.cpp's prompt + generated tokens: wherever its
//!   margin is at least [`NEAR_TIE`] our argmax is its token, and our logits
//!   for its top-5 tokens differ from its logits by at most [`MEDIAN_TOL`] in
//!   the median and [`P99_TOL`] at the 99th percentile.

use std::sync::Arc;

use rocmforge_backend_api::Backend;
use rocmforge_backend_cpu::CpuBackend;
use rocmforge_core::generate::{generate, GenerateParams};
use rocmforge_core::gguf::GgufFile;
use rocmforge_core::model::{CausalLm, Logits};
use rocmforge_core::sampling::SamplingParams;
use rocmforge_core::tokenizer::Tokenizer;
use rocmforge_core::tokenizer_gguf::vocab_from_gguf;
use rocmforge_tests::*;
use serde_json::Value;

const NEAR_TIE: f64 = 0.5;

/// Positions where llama.cpp's argmax is its own 8-bit-activation error:
/// an exact f32 forward pass (scripts/f32_reference_smollm2.py: numpy over
/// weights dequantized by gguf-py, independent of this project) gives the
/// logits below, and there we must match the f32 reference instead.
/// (case, position, [(token, f32 reference logit)]).
type F32Reference = (&'static str, usize, &'static [(u32, f64)]);
const LLAMACPP_ERRORS: &[F32Reference] = &[
    // llama.cpp: 257 -> 10.32, 659 -> 9.26 (margin 1.05); f32: 659 wins by 0.016.
    ("german", 20, &[(257, 8.6933), (659, 8.7092)]),
];
/// How close we must be to the f32 reference there (both are f32 math over
/// the same dequantized weights; only summation order differs).
const F32_REF_TOL: f64 = 0.05;
const MEDIAN_TOL: f64 = 0.5;
const P99_TOL: f64 = 1.5;

struct Setup {
    model: Box<dyn CausalLm>,
    tokenizer: Tokenizer,
    cases: Vec<Value>,
}

fn setup() -> Setup {
    let gguf = Arc::new(GgufFile::open(smollm2_path()).unwrap());
    let tokenizer = Tokenizer::from_vocab(vocab_from_gguf(&gguf).unwrap()).unwrap();
    let backend: Arc<dyn Backend> = Arc::new(CpuBackend::new().unwrap());
    let opts = rocmforge_models::LoadOptions { context_length: Some(1024), ..Default::default() };
    let model = rocmforge_models::load(gguf, backend, &opts).unwrap();
    let fixture = fixtures_dir().join("llamacpp/smollm2-135m-instruct-q4_1.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let cases = v["cases"].as_array().unwrap().clone();
    assert!(cases.len() >= 10, "at least 10 prompts");
    Setup { model, tokenizer, cases }
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

/// `[[id, logit], ...]` per position.
fn tops(v: &Value) -> Vec<Vec<(u32, f64)>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array().unwrap().iter().map(|p| (p[0].as_u64().unwrap() as u32, p[1].as_f64().unwrap())).collect()
        })
        .collect()
}

#[test]
fn prompts_tokenize_as_llama_cpp() {
    let s = setup();
    for c in &s.cases {
        let ours = s.tokenizer.encode(c["prompt"].as_str().unwrap(), true, true).unwrap();
        assert_eq!(ours, ids(&c["prompt_tokens"]), "case {}", c["name"]);
    }
}

#[test]
fn greedy_matches_llama_cpp_up_to_first_near_tie() {
    let mut s = setup();
    let mut compared = 0;
    for c in &s.cases {
        let name = c["name"].as_str().unwrap();
        let want = ids(&c["greedy"]["tokens"]);
        let margins: Vec<f64> = c["greedy"]["margin"].as_array().unwrap().iter().map(|m| m.as_f64().unwrap()).collect();
        let until = margins.iter().position(|&m| m < NEAR_TIE).unwrap_or(want.len());
        let params = GenerateParams {
            max_tokens: want.len(),
            sampling: SamplingParams::greedy(),
            stop: vec![],
            ignore_eos: false,
        };
        let g = generate(s.model.as_mut(), &s.tokenizer, &ids(&c["prompt_tokens"]), &params, &mut |_| {}).unwrap();
        for j in 0..until {
            assert_eq!(
                g.tokens.get(j),
                Some(&want[j]),
                "{name}: step {j} (llama.cpp margin {:.3}); ours {:?}, llama.cpp {:?}",
                margins[j],
                &g.tokens[..g.tokens.len().min(j + 1)],
                &want[..=j]
            );
        }
        compared += until;
        println!("{name}: {until} of {} greedy tokens compared (first near-tie at {until})", want.len());
    }
    // SmolLM2-135M's distributions are flat: llama.cpp's margins drop below
    // 0.5 within a few tokens on most prompts. Make sure the test still
    // compares a meaningful number of tokens.
    assert!(compared >= 20, "too few tokens compared before near-ties: {compared}");
}

#[test]
fn teacher_forced_logits_match_llama_cpp() {
    let mut s = setup();
    let mut diffs = Vec::new();
    let mut checked_argmax = 0;
    for c in &s.cases {
        let name = c["name"].as_str().unwrap();
        let tokens = ids(&c["teacher_forced"]["tokens"]);
        let top = tops(&c["teacher_forced"]["top"]);
        let n_vocab = s.model.vocab_size();
        let logits = s.model.forward(&tokens, 0, Logits::All).unwrap();
        assert_eq!(logits.len(), tokens.len() * n_vocab);
        for (p, (row, want)) in logits.chunks_exact(n_vocab).zip(&top).enumerate() {
            let margin = want[0].1 - want[1].1;
            if let Some((_, _, f32_ref)) = LLAMACPP_ERRORS.iter().find(|(n, q, _)| *n == name && *q == p) {
                for &(id, logit) in *f32_ref {
                    let d = (row[id as usize] as f64 - logit).abs();
                    assert!(
                        d <= F32_REF_TOL,
                        "{name}: position {p}: token {id}: {} vs f32 reference {logit}",
                        row[id as usize]
                    );
                }
            } else if margin >= NEAR_TIE {
                let ours = row.iter().enumerate().fold(0, |b, (i, &v)| if v > row[b] { i } else { b });
                assert_eq!(ours as u32, want[0].0, "{name}: position {p}: argmax (llama.cpp margin {margin:.3})");
                checked_argmax += 1;
            }
            for &(id, logit) in want {
                diffs.push((row[id as usize] as f64 - logit).abs());
            }
        }
    }
    diffs.sort_by(f64::total_cmp);
    let median = diffs[diffs.len() / 2];
    let p99 = diffs[(diffs.len() * 99) / 100];
    println!(
        "{} logits: median |diff| {median:.3}, p99 {p99:.3}, max {:.3}; {checked_argmax} argmaxes",
        diffs.len(),
        diffs[diffs.len() - 1]
    );
    assert!(median <= MEDIAN_TOL, "median |logit diff| {median} > {MEDIAN_TOL}");
    assert!(p99 <= P99_TOL, "p99 |logit diff| {p99} > {P99_TOL}");
    assert!(checked_argmax > 500, "{checked_argmax} positions checked");
}
