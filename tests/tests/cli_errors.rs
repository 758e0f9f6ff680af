//! Bad input gives one clear line on stderr and a non-zero exit, never a
//! panic: malformed files, unknown architectures and tokenizers, missing or
//! misshapen tensors, context overflow, missing plugins, bad arguments.

use std::path::{Path, PathBuf};

use rocmforge_backend_api::DType;
use rocmforge_core::gguf::{GgufFile, GgufWriter, Value};
use rocmforge_models::synthetic::{self, WeightType};
use rocmforge_tests::*;

fn tiny_model(dir: &Path) -> PathBuf {
    let p = dir.join("qwen2-tiny.gguf");
    if !p.exists() {
        let bytes = synthetic::write_gguf(&synthetic::shape("qwen2-tiny").unwrap(), WeightType::Uniform(DType::F32), 1)
            .unwrap();
        std::fs::write(&p, bytes).unwrap();
    }
    p
}

/// Copy `src` to `dst`, editing metadata and tensors on the way.
fn rewrite(
    src: &Path,
    dst: &Path,
    edit_meta: impl Fn(&str, &Value) -> Option<Value>,
    edit_tensor: impl Fn(&str, &[u64]) -> Option<Vec<u64>>,
) -> PathBuf {
    let f = GgufFile::open(src).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in f.metadata() {
        if let Some(v) = edit_meta(k, v) {
            w.add_metadata(k, v).unwrap();
        }
    }
    for t in f.tensors() {
        if let Some(dims) = edit_tensor(t.name(), t.dims()) {
            w.add_tensor(t.name(), t.dtype(), &dims, f.tensor_data(t)).unwrap();
        }
    }
    w.write_to_path(dst).unwrap();
    dst.to_path_buf()
}

fn generate(model: &Path, extra: &[&str]) -> CliRun {
    let mut args = vec!["--backend", "cpu", "generate", "--model", model.to_str().unwrap(), "--prompt", "hi"];
    args.extend_from_slice(extra);
    run_cli(&args)
}

#[test]
fn truncated_file() {
    let dir = temp_dir("cli-truncated");
    let bytes = std::fs::read(tiny_model(&dir)).unwrap();
    let p = dir.join("truncated.gguf");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    assert_cli_fails(&generate(&p, &[]), "truncated.gguf");
    std::fs::write(&p, &bytes[..100]).unwrap();
    assert_cli_fails(&generate(&p, &[]), "truncated.gguf");
}

#[test]
fn wrong_magic() {
    let dir = temp_dir("cli-magic");
    let mut bytes = std::fs::read(tiny_model(&dir)).unwrap();
    bytes[..4].copy_from_slice(b"GGML");
    let p = dir.join("magic.gguf");
    std::fs::write(&p, bytes).unwrap();
    assert_cli_fails(&generate(&p, &[]), "magic");
}

#[test]
fn unknown_architecture_lists_known_ones() {
    let dir = temp_dir("cli-arch");
    let p = rewrite(
        &tiny_model(&dir),
        &dir.join("arch.gguf"),
        |k, v| Some(if k == "general.architecture" { Value::from("mamba9") } else { v.clone() }),
        |_, d| Some(d.to_vec()),
    );
    assert_cli_fails(&generate(&p, &[]), "unknown architecture `mamba9` (known: llama, qwen2)");
}

#[test]
fn missing_tensor_is_named() {
    let dir = temp_dir("cli-missing");
    let p = rewrite(
        &tiny_model(&dir),
        &dir.join("missing.gguf"),
        |_, v| Some(v.clone()),
        |n, d| (n != "blk.1.ffn_up.weight").then(|| d.to_vec()),
    );
    assert_cli_fails(&generate(&p, &[]), "missing tensor `blk.1.ffn_up.weight`");
}

#[test]
fn wrong_shape_names_tensor_expected_and_found() {
    let dir = temp_dir("cli-shape");
    let p = rewrite(
        &tiny_model(&dir),
        &dir.join("shape.gguf"),
        |_, v| Some(v.clone()),
        |n, d| Some(if n == "blk.0.attn_q.weight" { vec![56, 224] } else { d.to_vec() }),
    );
    assert_cli_fails(&generate(&p, &[]), "tensor `blk.0.attn_q.weight`: expected shape [112, 112], found [56, 224]");
}

#[test]
fn unknown_pre_tokenizer() {
    let dir = temp_dir("cli-pre");
    // A byte-level BPE vocabulary whose pre-tokenizer nobody knows.
    let p = rewrite(
        &tiny_model(&dir),
        &dir.join("pre.gguf"),
        |k, v| match k {
            "tokenizer.ggml.model" => Some(Value::from("gpt2")),
            "tokenizer.ggml.scores" => None,
            _ => Some(v.clone()),
        },
        |_, d| Some(d.to_vec()),
    );
    let f = GgufFile::open(&p).unwrap();
    let mut w = GgufWriter::from_gguf(&f).unwrap();
    w.add_metadata("tokenizer.ggml.pre", "bogus-pre").unwrap();
    w.add_metadata("tokenizer.ggml.merges", Value::from(vec!["a b"])).unwrap();
    let p2 = dir.join("pre2.gguf");
    w.write_to_path(&p2).unwrap();
    assert_cli_fails(&generate(&p2, &[]), "bogus-pre");
}

#[test]
fn context_overflow_names_the_numbers() {
    let dir = temp_dir("cli-ctx");
    let r = generate(&tiny_model(&dir), &["--max-tokens", "600"]);
    assert_cli_fails(&r, "exceeds the context length (512)");
}

#[test]
fn missing_plugin() {
    let dir = temp_dir("cli-plugin");
    let m = tiny_model(&dir);
    let r = run_cli(&["--backend", "nosuchbackend", "generate", "--model", m.to_str().unwrap(), "--prompt", "x"]);
    assert_cli_fails(&r, "backend `nosuchbackend` not found");
    let r = run_cli(&["--backend", "./nope/lib.so", "generate", "--model", m.to_str().unwrap(), "--prompt", "x"]);
    assert_cli_fails(&r, "no such plugin file");
}

#[test]
fn missing_model_file() {
    let r = run_cli(&["--backend", "cpu", "generate", "--model", "/nonexistent/m.gguf", "--prompt", "x"]);
    assert_cli_fails(&r, "/nonexistent/m.gguf: no such file");
}

#[test]
fn bad_arguments() {
    let dir = temp_dir("cli-args");
    let m = tiny_model(&dir);
    assert_cli_fails(&generate(&m, &["--temperature=-1"]), "--temperature must be");
    assert_cli_fails(&generate(&m, &["--top-p", "1.5"]), "--top-p must be in [0, 1]");
    // clap's own errors: usage on stderr, exit code 2.
    let r = run_cli(&["generate", "--model", m.to_str().unwrap()]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("--prompt"), "{}", r.stderr);
    let r = run_cli(&["generate", "--model", m.to_str().unwrap(), "--prompt", "x", "--max-tokens", "many"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
}

#[test]
fn tokenize_and_generate_work_on_a_synthetic_model() {
    let dir = temp_dir("cli-ok");
    let m = tiny_model(&dir);
    let r = run_cli(&["tokenize", "--model", m.to_str().unwrap(), "--text", "ab"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let ids: Vec<u32> = serde_json::from_str(r.stdout.trim()).unwrap();
    // BOS, then SentencePiece byte fallback: "▁" (3 bytes), "a", "b".
    assert_eq!(ids, vec![1, 3 + 0xE2, 3 + 0x96, 3 + 0x81, 3 + b'a' as u32, 3 + b'b' as u32]);
    let r = generate(&m, &["--max-tokens", "5", "--temperature", "0", "--output", "json"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["tokens"].as_array().unwrap().len(), 5);
    assert_eq!(v["stop_reason"], "max_tokens");
    assert!(v["prompt_tokens"].as_array().unwrap().len() > 1);
    assert!(v["timings"]["decode_tok_s"].as_f64().unwrap() > 0.0);
}
