//! `rocmforge synth`: write a random-weight GGUF at a named shape.

use anyhow::Context;
use clap::Args;
use rocmforge_models::synthetic::{self, WeightType};

#[derive(Args)]
pub struct SynthArgs {
    /// Named shape: qwen2-tiny, llama-tiny, qwen2.5-0.5b, llama2-7b, llama3-8b.
    #[arg(long)]
    shape: String,
    /// Weight type: f32, f16, q8_0, q4_0, q4_1, q4_k, q6_k, q4_k_m.
    #[arg(long = "type", default_value = "f16")]
    wtype: String,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output file.
    #[arg(long)]
    out: std::path::PathBuf,
}

pub fn run(a: SynthArgs) -> anyhow::Result<()> {
    let shape = synthetic::shape(&a.shape)?;
    let wtype = WeightType::parse(&a.wtype)?;
    let bytes = synthetic::write_gguf(&shape, wtype, a.seed)?;
    std::fs::write(&a.out, &bytes).with_context(|| a.out.display().to_string())?;
    eprintln!(
        "wrote {} ({:.1} MiB, {} {})",
        a.out.display(),
        bytes.len() as f64 / (1u64 << 20) as f64,
        shape.name,
        a.wtype
    );
    Ok(())
}
