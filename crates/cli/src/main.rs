//! `rocmforge`: run GGUF language models on a GPU (or the CPU oracle).

mod backend_choice;
mod commands;

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
    /// List the backend plugins found, with their score and device (or why
    /// they cannot run here).
    Backends,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Backends => commands::backends::run(),
    };
    if let Err(e) = result {
        // One line: the whole cause chain.
        let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
        eprintln!("error: {}", chain.join(": "));
        std::process::exit(1);
    }
}
