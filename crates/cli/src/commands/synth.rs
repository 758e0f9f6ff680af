//! `rocmforge synth`: write a random-weight GGUF at a named shape.

use std::time::Instant;

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
    /// The same seed gives the same file, on any number of threads.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output file (written as `<out>.partial`, renamed when complete).
    #[arg(long)]
    out: std::path::PathBuf,
}

pub fn run(a: SynthArgs) -> anyhow::Result<()> {
    let shape = synthetic::shape(&a.shape)?;
    let wtype = WeightType::parse(&a.wtype)?;
    let start = Instant::now();
    let n = synthetic::write_gguf_file(&a.out, &shape, wtype, a.seed)?;
    eprintln!(
        "wrote {} ({:.1} MiB, {} {}, {:.1} s)",
        a.out.display(),
        n as f64 / (1u64 << 20) as f64,
        shape.name,
        a.wtype,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
