//! qwen2 (Qwen2.5-0.5B's layer layout at toy widths: q/k/v biases, GQA 7:1,
//! NeoX rope, tied embeddings) on the CPU oracle against llama.cpp on the
//! same file (tests/fixtures/synthetic/, made by
//! scripts/make_synthetic_refs.py).
//!
//! The weights are F32, so llama.cpp's matmuls are plain f32 as ours are;
//! both keep the KV cache in f16. What remains is f16 rounding of k and v
//! (relative 2^-11) and summation order: logits of magnitude ~1 agree to a
//! few 1e-3. Tolerance: max |diff| ≤ 1e-2 over every logit.

use std::sync::Arc;

use rocmforge_backend_api::Backend;
use rocmforge_backend_cpu::CpuBackend;
use rocmforge_core::gguf::GgufFile;
use rocmforge_core::model::Logits;
use rocmforge_tests::fixtures_dir;
use serde_json::Value;

const TOL: f64 = 1e-2;

#[test]
fn qwen2_logits_match_llama_cpp_on_the_same_file() {
    let dir = fixtures_dir().join("synthetic");
    let refs: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("qwen2-tiny-f32.llamacpp.json")).unwrap()).unwrap();
    let tokens: Vec<u32> = refs["tokens"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap() as u32).collect();
    let gguf = Arc::new(GgufFile::open(dir.join("qwen2-tiny-f32.gguf")).unwrap());
    assert_eq!(gguf.get_str("general.architecture").unwrap(), "qwen2");
    let backend: Arc<dyn Backend> = Arc::new(CpuBackend::new().unwrap());
    let mut model = rocmforge_models::load(gguf, backend, &Default::default()).unwrap();
    let n_vocab = model.vocab_size();
    let ours = model.forward(&tokens, 0, Logits::All).unwrap();
    let mut worst = (0.0f64, 0, 0);
    let mut spread = 0.0f64;
    for (p, want) in refs["logits"].as_array().unwrap().iter().enumerate() {
        for (i, w) in want.as_array().unwrap().iter().enumerate() {
            let w = w.as_f64().unwrap();
            let d = (ours[p * n_vocab + i] as f64 - w).abs();
            spread = spread.max(w.abs());
            if d > worst.0 {
                worst = (d, p, i);
            }
        }
    }
    println!("max |diff| {:.2e} at position {} token {} (logits up to {spread:.2})", worst.0, worst.1, worst.2);
    // The comparison means something only if the logits are not all tiny.
    assert!(spread > 0.5, "degenerate logits: max |logit| {spread}");
    assert!(worst.0 <= TOL, "max |diff| {} at position {} token {}", worst.0, worst.1, worst.2);
    // Incremental decode through the KV cache gives the same last logits
    // as the batched pass (prefill all but the last token, then one step).
    let last = tokens.len() - 1;
    model.forward(&tokens[..last], 0, Logits::Last).unwrap();
    let step = model.forward(&tokens[last..], last, Logits::Last).unwrap();
    let batched = &ours[last * n_vocab..];
    let d = step.iter().zip(batched).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(d <= 1e-4, "decode vs batched last-position logits differ by {d}");

    // A prompt longer than the batch runs in chunks (5 + 5 + 2 tokens here):
    // the same logits, for all positions and for the last one.
    let gguf = Arc::new(GgufFile::open(dir.join("qwen2-tiny-f32.gguf")).unwrap());
    let backend: Arc<dyn Backend> = Arc::new(CpuBackend::new().unwrap());
    let opts = rocmforge_models::LoadOptions { batch_size: 5, ..Default::default() };
    let mut chunked = rocmforge_models::load(gguf, backend, &opts).unwrap();
    let all = chunked.forward(&tokens, 0, Logits::All).unwrap();
    let d = all.iter().zip(&ours).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert_eq!(all.len(), ours.len());
    assert!(d <= 1e-4, "chunked vs one-pass logits differ by {d}");
    let last_only = chunked.forward(&tokens, 0, Logits::Last).unwrap();
    assert_eq!(last_only.len(), n_vocab);
    let d = last_only.iter().zip(batched).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(d <= 1e-4, "chunked last-position logits differ by {d}");
}

/// Decode steps replayed from a recorded graph (the default where the
/// backend records graphs, as the CPU oracle does) give bit-identical logits
/// to the same steps run op by op, at every position.
#[test]
fn recorded_decode_steps_match_op_by_op_decode() {
    let dir = fixtures_dir().join("synthetic");
    let decode = |graphs: bool| {
        let gguf = Arc::new(GgufFile::open(dir.join("qwen2-tiny-f32.gguf")).unwrap());
        let backend: Arc<dyn Backend> = Arc::new(CpuBackend::new().unwrap());
        let opts = rocmforge_models::LoadOptions { graphs, ..Default::default() };
        let mut model = rocmforge_models::load(gguf, backend, &opts).unwrap();
        let mut out = model.forward(&[1, 2, 3], 0, Logits::Last).unwrap();
        for (i, t) in [7u32, 11, 13, 17, 19].into_iter().enumerate() {
            out.extend(model.forward(&[t], 3 + i, Logits::Last).unwrap());
        }
        out
    };
    let eager = decode(false);
    let replayed = decode(true);
    assert_eq!(eager.len(), replayed.len());
    let differing = eager.iter().zip(&replayed).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
    assert_eq!(differing, 0, "{differing} logits differ between replayed and op-by-op decode");
    // The steps see their own positions: consecutive steps' logits differ.
    let n = eager.len() / 6;
    assert_ne!(eager[4 * n..5 * n], eager[5 * n..6 * n]);
}
