//! `rocmforge`: run GGUF language models on a GPU (or the CPU oracle).

mod backend_choice;
mod commands;
mod model_files;
mod session;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "rocmforge", version, about = "Run GGUF language models on AMD (and NVIDIA) GPUs")]
struct Cli {
    /// Backend plugin: a name (`hip`, `cpu`, ...) looked up next to the
    /// executable, in ROCMFORGE_BACKEND_PATH and in rocmforge.toml, or a path
    /// to a plugin library. Default: hip when a HIP device is usable, else cpu.
    #[arg(long, global = true, value_name = "NAME|PATH")]
    backend: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate text from a prompt.
    Generate(commands::generate::GenerateArgs),
    /// Print the token ids of a text as a JSON array.
    Tokenize(commands::tokenize::TokenizeArgs),
    /// One teacher-forced forward pass: top logits per position and perplexity.
    Score(commands::score::ScoreArgs),
    /// Describe a GGUF model file.
    Info(commands::info::InfoArgs),
    /// Op conformance: every parity case on --backend against the CPU oracle.
    Check(commands::check::CheckArgs),
    /// Write a random-weight GGUF model at a named shape.
    Synth(commands::synth::SynthArgs),
    /// Prompt-processing and token-generation speed (like llama-bench),
    /// time to first token and peak memory.
    Bench(commands::bench::BenchArgs),
    /// List the backend plugins found, with their score and device (or why
    /// they cannot run here).
    Backends,
}

fn main() {
    rocmforge_models::link();
    let cli = Cli::parse();
    let backend = cli.backend.as_deref();
    let result = match cli.command {
        Command::Generate(a) => commands::generate::run(a, backend),
        Command::Tokenize(a) => commands::tokenize::run(a),
        Command::Score(a) => commands::score::run(a, backend),
        Command::Info(a) => commands::info::run(a),
        Command::Check(a) => commands::check::run(a, backend),
        Command::Synth(a) => commands::synth::run(a),
        Command::Bench(a) => commands::bench::run(a, backend),
        Command::Backends => commands::backends::run(),
    };
    if let Err(e) = result {
        // One line: the whole cause chain.
        let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
        eprintln!("error: {}", chain.join(": "));
        std::process::exit(1);
    }
}
