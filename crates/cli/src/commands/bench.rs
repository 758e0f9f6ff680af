//! `rocmforge bench`: prompt-processing and token-generation speed, measured
//! the way llama-bench measures it, so the two can be set side by side.
//!
//! - `ppN`: one forward pass over N random token ids (chunked by `-b` inside
//!   the model), logits of the last position only.
//! - `tgN`: N single-token forward passes, each at the next position. The ids
//!   are random and drawn before the clock starts, so no sampling (and no
//!   host work between steps) is timed.
//! - `--depth D`: before every run, one untimed forward pass fills the KV
//!   cache with D random tokens; the test then starts at position D.
//!
//! Every test runs once untimed (warm-up: kernels compile, caches fill), then
//! `-r` timed repetitions. `forward` returns the logits, a blocking download,
//! so each timed call has finished on the device when it returns. Token ids
//! come from a fixed-seed generator: runs are repeatable.
//!
//! Memory is metered by wrapping the backend in a [`MeteredBackend`]: the
//! peak of bytes this process held in backend buffers (weights, KV cache,
//! scratch), whatever the device.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use rocmforge_backend_api::{Backend, MeteredBackend};
use rocmforge_core::gguf::GgufFile;
use rocmforge_core::model::{CausalLm, Logits};
use rocmforge_models::LoadOptions;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A markdown table, like llama-bench's.
    Md,
    /// One JSON object on stdout.
    Json,
}

#[derive(Args)]
pub struct BenchArgs {
    /// GGUF file, or a cached default model's name.
    #[arg(long)]
    model: String,
    /// Prompt tokens of the prompt-processing test `ppN` (0 = skip it).
    #[arg(short = 'p', long = "n-prompt", default_value_t = 512)]
    n_prompt: usize,
    /// Tokens of the token-generation test `tgN` (0 = skip it).
    #[arg(short = 'n', long = "n-gen", default_value_t = 128)]
    n_gen: usize,
    /// Timed repetitions of each test (after one untimed warm-up).
    #[arg(short = 'r', long = "repetitions", default_value_t = 3)]
    repetitions: usize,
    /// Tokens in the KV cache before each test starts.
    #[arg(long, default_value_t = 0)]
    depth: usize,
    /// Most tokens one forward pass handles (longer prompts run in chunks).
    #[arg(short = 'b', long = "batch-size", default_value_t = 512)]
    batch_size: usize,
    #[arg(long, value_enum, default_value_t = Output::Md)]
    output: Output,
}

/// Seed of the random token ids (any fixed value: runs are repeatable).
const SEED: u64 = 0x5eed_b0a7;
/// The KV cache is sized in whole blocks of this many positions (the model's
/// paged-cache block length), so rounding up to it costs no extra memory.
const CTX_ROUND: usize = 16;

/// One test of the run: `ppN` (n_gen = 0) or `tgN` (n_prompt = 0).
struct Test {
    name: String,
    n_prompt: usize,
    n_gen: usize,
    depth: usize,
}

struct TestResult {
    test: Test,
    /// Tokens per second, one per repetition.
    samples: Vec<f64>,
    /// Time to first token in ms, one per repetition (pp tests only).
    ttft_ms: Vec<f64>,
}

/// What the report says about the model file.
struct ModelFacts {
    name: String,
    arch: String,
    file_type: Option<String>,
    size_label: Option<String>,
    bytes: u64,
    n_params: u64,
    weight_bytes_per_token: u64,
}

pub fn run(a: BenchArgs, backend: Option<&str>) -> anyhow::Result<()> {
    anyhow::ensure!(a.repetitions > 0, "-r/--repetitions must be > 0");
    anyhow::ensure!(a.n_prompt > 0 || a.n_gen > 0, "nothing to run: -p/--n-prompt and -n/--n-gen are both 0");
    anyhow::ensure!(a.batch_size > 0, "-b/--batch-size must be > 0");
    let n_ctx = context_length(a.depth, a.n_prompt, a.n_gen).with_context(|| {
        format!("--depth {} with -p {} / -n {}: context length overflows", a.depth, a.n_prompt, a.n_gen)
    })?;

    let path = crate::model_files::resolve(&a.model)?;
    let metered = Arc::new(MeteredBackend::new(crate::backend_choice::load(backend)?));
    let opts = LoadOptions { context_length: Some(n_ctx), batch_size: a.batch_size, ..Default::default() };
    let mut s = crate::session::open_with_backend(&a.model, metered.clone(), opts)?;
    let facts = model_facts(&s.gguf, &path)?;
    let backend_name = metered.name();
    let device = metered.device_info().context("device info")?.name;

    let mut tests = Vec::new();
    let suffix = if a.depth > 0 { format!("@d{}", a.depth) } else { String::new() };
    if a.n_prompt > 0 {
        tests.push(Test { name: format!("pp{}{suffix}", a.n_prompt), n_prompt: a.n_prompt, n_gen: 0, depth: a.depth });
    }
    if a.n_gen > 0 {
        tests.push(Test { name: format!("tg{}{suffix}", a.n_gen), n_prompt: 0, n_gen: a.n_gen, depth: a.depth });
    }
    let mut rng = SplitMix64(SEED);
    let mut results = Vec::new();
    for test in tests {
        eprintln!("bench: {} (1 warm-up + {} repetitions)", test.name, a.repetitions);
        let mut samples = Vec::new();
        let mut ttft_ms = Vec::new();
        // Repetition 0 is the warm-up.
        for rep in 0..=a.repetitions {
            let run = run_once(s.model.as_mut(), &test, &mut rng).with_context(|| {
                format!("{}: {}", test.name, if rep == 0 { "warm-up".into() } else { format!("repetition {rep}") })
            })?;
            if rep > 0 {
                samples.push(run.tokens as f64 / run.secs.max(1e-12));
                if let Some(t) = run.ttft_secs {
                    ttft_ms.push(t * 1e3);
                }
            }
        }
        results.push(TestResult { test, samples, ttft_ms });
    }
    let peak = metered.peak_bytes();

    match a.output {
        Output::Json => {
            let ttft = results.iter().find(|r| !r.ttft_ms.is_empty()).map(|r| {
                let (mean, sd) = mean_sd(&r.ttft_ms);
                serde_json::json!({ "mean": mean, "sd": sd })
            });
            let res: Vec<_> = results
                .iter()
                .map(|r| {
                    let (mean, sd) = mean_sd(&r.samples);
                    serde_json::json!({
                        "test": r.test.name,
                        "n_prompt": r.test.n_prompt,
                        "n_gen": r.test.n_gen,
                        "depth": r.test.depth,
                        "tokens_per_s": mean,
                        "tokens_per_s_sd": sd,
                        "samples": r.samples,
                    })
                })
                .collect();
            let v = serde_json::json!({
                "model": a.model,
                "model_name": facts.name,
                "arch": facts.arch,
                "file_type": facts.file_type,
                "model_bytes": facts.bytes,
                "n_params": facts.n_params,
                "backend": backend_name,
                "device": device,
                "weight_bytes_per_token": facts.weight_bytes_per_token,
                "peak_memory_bytes": peak,
                "n_batch": a.batch_size,
                "repetitions": a.repetitions,
                "results": res,
                "ttft_ms": ttft,
            });
            println!("{v}");
        }
        Output::Md => {
            let file = path.file_name().map_or_else(|| a.model.clone(), |f| f.to_string_lossy().into_owned());
            let (size, params) = (format_bytes(facts.bytes), format_params(facts.n_params));
            println!("model: {file} | size: {size} | params: {params} | backend: {backend_name} | device: {device}");
            println!();
            println!("| model | size | params | backend | test | t/s |");
            println!("| --- | ---: | ---: | --- | ---: | ---: |");
            let desc = [Some(facts.arch.clone()), facts.size_label.clone(), facts.file_type.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            for r in &results {
                let (mean, sd) = mean_sd(&r.samples);
                println!("| {desc} | {size} | {params} | {backend_name} | {} | {mean:.2} ± {sd:.2} |", r.test.name);
            }
            println!();
            if let Some(r) = results.iter().find(|r| !r.ttft_ms.is_empty()) {
                let (mean, sd) = mean_sd(&r.ttft_ms);
                println!("time to first token ({}): {mean:.2} ± {sd:.2} ms", r.test.name);
            }
            println!(
                "peak memory: {} | weights read per token: {}",
                format_bytes(peak),
                format_bytes(facts.weight_bytes_per_token)
            );
        }
    }
    Ok(())
}

/// Positions the KV cache needs: the depth plus the longer test (each test
/// starts over at position `depth`), rounded up to whole cache blocks.
fn context_length(depth: usize, n_prompt: usize, n_gen: usize) -> Option<usize> {
    let need = depth.checked_add(n_prompt.max(n_gen))?;
    need.checked_next_multiple_of(CTX_ROUND)
}

/// Timings of one run of a test.
struct Run {
    tokens: usize,
    secs: f64,
    ttft_secs: Option<f64>,
}

/// Fill the cache to `depth` (untimed), then time the test once.
fn run_once(model: &mut dyn CausalLm, test: &Test, rng: &mut SplitMix64) -> anyhow::Result<Run> {
    let n_vocab = model.vocab_size();
    if test.depth > 0 {
        let fill = rng.tokens(test.depth, n_vocab);
        model.forward(&fill, 0, Logits::Last).context("filling the KV cache to --depth")?;
    }
    if test.n_prompt > 0 {
        let prompt = rng.tokens(test.n_prompt, n_vocab);
        let t0 = Instant::now();
        let logits = model.forward(&prompt, test.depth, Logits::Last)?;
        let secs = t0.elapsed().as_secs_f64();
        std::hint::black_box(argmax(&logits));
        let ttft_secs = t0.elapsed().as_secs_f64();
        return Ok(Run { tokens: test.n_prompt, secs, ttft_secs: Some(ttft_secs) });
    }
    let ids = rng.tokens(test.n_gen, n_vocab);
    let t0 = Instant::now();
    for (i, &id) in ids.iter().enumerate() {
        model.forward(&[id], test.depth + i, Logits::Last)?;
    }
    Ok(Run { tokens: test.n_gen, secs: t0.elapsed().as_secs_f64(), ttft_secs: None })
}

/// Index of the largest logit (the first one on ties); 0 for none.
fn argmax(logits: &[f32]) -> usize {
    logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0))).map_or(0, |(i, _)| i)
}

/// Mean and sample standard deviation (0 for fewer than two values).
fn mean_sd(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, 0.0);
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

fn model_facts(g: &GgufFile, path: &Path) -> anyhow::Result<ModelFacts> {
    let arch = g.get_str("general.architecture")?.to_string();
    let stem = || path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let name = g.get_str_opt("general.name")?.map_or_else(stem, str::to_string);
    let file_type = g.get_int_opt::<u32>("general.file_type")?.map(file_type_name);
    let size_label = g.get_str_opt("general.size_label")?.map(str::to_string);
    Ok(ModelFacts {
        name,
        arch,
        file_type,
        size_label,
        bytes: g.tensors().map(|t| t.n_bytes()).sum(),
        n_params: g.tensors().map(|t| t.n_elements()).sum(),
        weight_bytes_per_token: weight_bytes_per_token(g),
    })
}

/// Bytes of weights one decoded token reads (for rooflines): every tensor,
/// except that the embedding table is read one row per token (counted as
/// nothing here), unless the output layer is tied to it (no
/// `output.weight`): then the whole table is read as the output matrix.
fn weight_bytes_per_token(g: &GgufFile) -> u64 {
    let all: u64 = g.tensors().map(|t| t.n_bytes()).sum();
    let embd = g.tensor("token_embd.weight").map_or(0, |t| t.n_bytes());
    let tied = g.tensor("output.weight").is_none();
    if tied {
        all
    } else {
        all - embd
    }
}

/// llama.cpp's name for a `general.file_type` (`llama_ftype`) value.
fn file_type_name(id: u32) -> String {
    let name = match id {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        4 => "Q4_1_SOME_F16",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => return format!("file type {id}"),
    };
    name.to_string()
}

/// `86.00 MiB` / `4.36 GiB`, as llama-bench prints sizes.
fn format_bytes(b: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    let b = b as f64;
    if b >= GIB {
        format!("{:.2} GiB", b / GIB)
    } else {
        format!("{:.2} MiB", b / MIB)
    }
}

/// `134.52 M` / `7.62 B`, as llama-bench prints parameter counts.
fn format_params(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} B", n / 1e9)
    } else {
        format!("{:.2} M", n / 1e6)
    }
}

/// SplitMix64: a tiny seeded generator, plenty for picking token ids.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `n` ids in `0..n_vocab` (the modulo bias is irrelevant here).
    fn tokens(&mut self, n: usize, n_vocab: usize) -> Vec<u32> {
        let n_vocab = n_vocab.max(1) as u64;
        (0..n).map(|_| (self.next_u64() % n_vocab) as u32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats() {
        assert_eq!(mean_sd(&[]), (0.0, 0.0));
        assert_eq!(mean_sd(&[5.0]), (5.0, 0.0));
        let (m, sd) = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m, 5.0);
        // Sample (n - 1) deviation: sqrt(32 / 7).
        assert!((sd - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn context_is_depth_plus_longer_test_in_whole_blocks() {
        assert_eq!(context_length(0, 512, 128), Some(512));
        assert_eq!(context_length(4, 8, 4), Some(16));
        assert_eq!(context_length(100, 0, 1), Some(112));
        assert_eq!(context_length(usize::MAX, 1, 0), None);
    }

    #[test]
    fn argmax_first_of_ties() {
        assert_eq!(argmax(&[0.0, 3.0, 1.0, 3.0]), 1);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn weight_bytes_tied_and_untied() {
        use rocmforge_backend_api::DType;
        use rocmforge_core::gguf::GgufWriter;
        let file = |output: bool| {
            let mut w = GgufWriter::new();
            w.add_metadata("general.architecture", "llama").unwrap();
            w.add_tensor("token_embd.weight", DType::F32, &[4, 10], vec![0u8; 160]).unwrap();
            w.add_tensor("blk.0.ffn_up.weight", DType::F32, &[4, 8], vec![0u8; 128]).unwrap();
            if output {
                w.add_tensor("output.weight", DType::F32, &[4, 12], vec![0u8; 192]).unwrap();
            }
            GgufFile::from_bytes(w.to_bytes().unwrap()).unwrap()
        };
        assert_eq!(weight_bytes_per_token(&file(false)), 160 + 128);
        assert_eq!(weight_bytes_per_token(&file(true)), 128 + 192);
    }

    #[test]
    fn file_type_names() {
        assert_eq!(file_type_name(15), "Q4_K_M");
        assert_eq!(file_type_name(3), "Q4_1");
        assert_eq!(file_type_name(999), "file type 999");
    }
}
