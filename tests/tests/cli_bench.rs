//! `rocmforge bench` on the CPU oracle with the tiny synthetic qwen2: the
//! JSON report's shape and the values that must hold whatever the machine
//! (names, counts, byte sums from the file), the markdown table, and bad
//! arguments. No timing is asserted beyond "positive".

use std::path::PathBuf;

use rocmforge_core::gguf::GgufFile;
use rocmforge_tests::*;
use serde_json::Value;

fn fixture() -> PathBuf {
    fixtures_dir().join("synthetic").join("qwen2-tiny-f32.gguf")
}

fn bench(extra: &[&str]) -> CliRun {
    let model = fixture();
    let mut args = vec!["--backend", "cpu", "bench", "--model", model.to_str().unwrap()];
    args.extend_from_slice(extra);
    run_cli(&args)
}

/// Run with `--output json` and parse stdout, which must be exactly one object.
fn bench_json(extra: &[&str]) -> Value {
    let mut args = extra.to_vec();
    args.extend_from_slice(&["--output", "json"]);
    let r = bench(&args);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: stdout {:?}", r.stdout));
    assert!(v.is_object(), "{v}");
    v
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} is not a u64: {v}"))
}

fn f64_of(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} is not a number: {v}"))
}

/// One result entry: its counts, positive speeds, one sample per repetition.
fn check_result(r: &Value, test: &str, n_prompt: u64, n_gen: u64, depth: u64, reps: usize) {
    assert_eq!(r["test"], test, "{r}");
    assert_eq!((u64_of(r, "n_prompt"), u64_of(r, "n_gen"), u64_of(r, "depth")), (n_prompt, n_gen, depth), "{r}");
    assert!(f64_of(r, "tokens_per_s") > 0.0, "{r}");
    assert!(f64_of(r, "tokens_per_s_sd") >= 0.0, "{r}");
    let samples = r["samples"].as_array().unwrap_or_else(|| panic!("samples: {r}"));
    assert_eq!(samples.len(), reps, "{r}");
    assert!(samples.iter().all(|s| s.as_f64().is_some_and(|x| x > 0.0)), "{r}");
}

#[test]
fn json_report() {
    let v = bench_json(&["-p", "8", "-n", "4", "-r", "2"]);
    let g = GgufFile::open(fixture()).unwrap();
    let model_bytes: u64 = g.tensors().map(|t| t.n_bytes()).sum();
    let n_params: u64 = g.tensors().map(|t| t.n_elements()).sum();

    assert_eq!(v["model"], fixture().to_str().unwrap());
    assert_eq!(v["model_name"], g.get_str("general.name").unwrap());
    assert_eq!(v["arch"], "qwen2");
    // The synthetic writer sets no general.file_type.
    assert!(v["file_type"].is_null(), "{v}");
    assert_eq!(u64_of(&v, "model_bytes"), model_bytes);
    assert_eq!(u64_of(&v, "n_params"), n_params);
    assert_eq!(v["backend"], "cpu");
    assert!(v["device"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
    // Tied embeddings (no output.weight): the whole table is read as the
    // output matrix, so every tensor byte is read per token.
    assert!(g.tensor("output.weight").is_none());
    assert_eq!(u64_of(&v, "weight_bytes_per_token"), model_bytes);
    // The CPU backend wraps the mmapped data section (every tensor and its
    // padding), which counts; the KV cache and scratch come on top.
    assert!(u64_of(&v, "peak_memory_bytes") > model_bytes, "{v}");
    assert_eq!(u64_of(&v, "n_batch"), 512);
    assert_eq!(u64_of(&v, "repetitions"), 2);

    let results = v["results"].as_array().unwrap_or_else(|| panic!("results: {v}"));
    assert_eq!(results.len(), 2, "{v}");
    check_result(&results[0], "pp8", 8, 0, 0, 2);
    check_result(&results[1], "tg4", 0, 4, 0, 2);
    let ttft = &v["ttft_ms"];
    assert!(f64_of(ttft, "mean") > 0.0 && f64_of(ttft, "sd") >= 0.0, "{v}");
}

#[test]
fn depth_names_the_tests() {
    let v = bench_json(&["-p", "8", "-n", "4", "-r", "1", "--depth", "4"]);
    let results = v["results"].as_array().unwrap_or_else(|| panic!("results: {v}"));
    assert_eq!(results.len(), 2, "{v}");
    check_result(&results[0], "pp8@d4", 8, 0, 4, 1);
    check_result(&results[1], "tg4@d4", 0, 4, 4, 1);
    // One repetition: no spread.
    assert_eq!(f64_of(&results[0], "tokens_per_s_sd"), 0.0);
}

#[test]
fn generation_only_has_no_ttft() {
    let v = bench_json(&["-p", "0", "-n", "3", "-r", "1", "-b", "2"]);
    let results = v["results"].as_array().unwrap_or_else(|| panic!("results: {v}"));
    assert_eq!(results.len(), 1, "{v}");
    check_result(&results[0], "tg3", 0, 3, 0, 1);
    assert!(v["ttft_ms"].is_null(), "{v}");
    assert_eq!(u64_of(&v, "n_batch"), 2);
}

#[test]
fn prompt_longer_than_the_batch_runs_in_chunks() {
    let v = bench_json(&["-p", "20", "-n", "0", "-r", "1", "-b", "8"]);
    let results = v["results"].as_array().unwrap_or_else(|| panic!("results: {v}"));
    assert_eq!(results.len(), 1, "{v}");
    check_result(&results[0], "pp20", 20, 0, 0, 1);
}

#[test]
fn markdown_table() {
    let r = bench(&["-p", "8", "-n", "4", "-r", "2"]);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    let out = &r.stdout;
    assert!(out.lines().next().is_some_and(|l| l.contains("qwen2-tiny-f32.gguf") && l.contains("cpu")), "{out}");
    assert!(out.contains("| model | size | params | backend | test | t/s |"), "{out}");
    for test in ["pp8", "tg4"] {
        let row = out.lines().find(|l| l.contains(&format!("| {test} |"))).unwrap_or_else(|| panic!("{test}: {out}"));
        assert!(row.starts_with("| qwen2") && row.contains(" ± "), "{row}");
    }
    assert!(out.contains("time to first token (pp8):"), "{out}");
    assert!(out.contains("peak memory:"), "{out}");
}

#[test]
fn bad_arguments() {
    assert_cli_fails(&bench(&["-r", "0"]), "--repetitions");
    assert_cli_fails(&bench(&["-p", "0", "-n", "0"]), "nothing to run");
    assert_cli_fails(&bench(&["-b", "0"]), "--batch-size");
    let r = run_cli(&["--backend", "cpu", "bench", "--model", "/nonexistent/model.gguf", "-p", "8"]);
    assert_cli_fails(&r, "model.gguf");
}
