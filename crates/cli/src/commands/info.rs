//! `rocmforge info`: what is in a GGUF file.

use std::collections::BTreeMap;

use clap::Args;
use rocmforge_core::tokenizer::Tokenizer;

#[derive(Args)]
pub struct InfoArgs {
    /// GGUF file, or a cached default model's name.
    model: String,
}

pub fn run(a: InfoArgs) -> anyhow::Result<()> {
    let (g, tok) = crate::session::open_file(&a.model)?;
    let arch = g.get_str("general.architecture")?;
    println!("file: GGUF v{}, {} tensors, {} metadata keys", g.version(), g.tensor_count(), g.metadata_len());
    if let Some(name) = g.get_str_opt("general.name")? {
        println!("name: {name}");
    }
    let registered = rocmforge_models::names();
    let known = if registered.contains(&arch) { "supported" } else { "not supported by this build" };
    println!("architecture: {arch} ({known})");
    for (key, label) in [
        ("block_count", "layers"),
        ("embedding_length", "embedding"),
        ("feed_forward_length", "feed-forward"),
        ("attention.head_count", "heads"),
        ("attention.head_count_kv", "kv heads"),
        ("attention.key_length", "head dim"),
        ("context_length", "context"),
        ("rope.freq_base", "rope base"),
        ("rope.dimension_count", "rope dims"),
        ("attention.layer_norm_rms_epsilon", "rms eps"),
    ] {
        if let Some(v) = g.get(&format!("{arch}.{key}")) {
            println!("  {label:<13} {}", show(v));
        }
    }
    let mut per_type: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for t in g.tensors() {
        let e = per_type.entry(t.dtype().name().to_string()).or_default();
        e.0 += 1;
        e.1 += t.n_bytes();
    }
    println!("tensors by type:");
    for (ty, (n, bytes)) in per_type {
        println!("  {ty:<6} {n:>5} tensors  {:>10.2} MiB", bytes as f64 / (1u64 << 20) as f64);
    }
    print_tokenizer(&tok);
    match g.get_str_opt("tokenizer.chat_template")? {
        Some(t) => println!("chat template:\n{t}"),
        None => println!("chat template: none"),
    }
    Ok(())
}

fn print_tokenizer(t: &Tokenizer) {
    let piece = |id: Option<u32>| {
        id.map_or("-".to_string(), |i| format!("{i} {:?}", String::from_utf8_lossy(&t.token_to_piece(i))))
    };
    println!(
        "tokenizer: {} (pre: {}), {} tokens, add_bos {}",
        t.model_name(),
        t.pre_name().unwrap_or("default"),
        t.vocab_size(),
        t.add_bos()
    );
    println!("  bos {}  eos {}  eot {}", piece(t.bos()), piece(t.eos()), piece(t.eot()));
}

fn show(v: &rocmforge_core::gguf::Value) -> String {
    // f32 values print as f32 (1e-6, not 0.0000009999999974752427).
    if let rocmforge_core::gguf::Value::F32(f) = v {
        return f.to_string();
    }
    if let Some(i) = v.as_integer() {
        i.to_string()
    } else if let Some(f) = v.as_float() {
        f.to_string()
    } else if let Some(s) = v.as_str() {
        s.to_string()
    } else {
        v.type_description()
    }
}
