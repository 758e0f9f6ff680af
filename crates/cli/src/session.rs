//! Opening a model for a command: the file, its tokenizer, a backend, and
//! the model on it.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use rocmforge_backend_api::Backend;
use rocmforge_core::gguf::GgufFile;
use rocmforge_core::model::CausalLm;
use rocmforge_core::tokenizer::Tokenizer;
use rocmforge_core::tokenizer_gguf::vocab_from_gguf;
use rocmforge_models::LoadOptions;

use crate::{backend_choice, model_files};

pub struct Session {
    pub gguf: Arc<GgufFile>,
    pub tokenizer: Tokenizer,
    pub model: Box<dyn CausalLm>,
    pub load_secs: f64,
}

/// Open the file and tokenizer only (no backend): for `tokenize` and `info`.
pub fn open_file(model: &str) -> anyhow::Result<(Arc<GgufFile>, Tokenizer)> {
    let path = model_files::resolve(model)?;
    let gguf = Arc::new(GgufFile::open(&path).with_context(|| path.display().to_string())?);
    let tokenizer = Tokenizer::from_vocab(vocab_from_gguf(&gguf).context("tokenizer metadata")?)
        .with_context(|| format!("{}: tokenizer", path.display()))?;
    Ok((gguf, tokenizer))
}

/// Open everything a forward pass needs.
pub fn open(model: &str, backend: Option<&str>, context_length: Option<usize>) -> anyhow::Result<Session> {
    let t0 = Instant::now();
    let (gguf, tokenizer) = open_file(model)?;
    let backend = backend_choice::load(backend)?;
    let opts = LoadOptions { context_length, ..Default::default() };
    load_model(gguf, tokenizer, backend, opts, t0)
}

/// Like [`open`], on a backend the caller already has (`bench` wraps it to
/// meter memory) and with all load options (`progress` is set here).
pub fn open_with_backend(model: &str, backend: Arc<dyn Backend>, opts: LoadOptions) -> anyhow::Result<Session> {
    let t0 = Instant::now();
    let (gguf, tokenizer) = open_file(model)?;
    load_model(gguf, tokenizer, backend, opts, t0)
}

fn load_model(
    gguf: Arc<GgufFile>,
    tokenizer: Tokenizer,
    backend: Arc<dyn Backend>,
    opts: LoadOptions,
    t0: Instant,
) -> anyhow::Result<Session> {
    let tty = std::io::stderr().is_terminal();
    let progress: Option<fn(u64, u64)> = if tty { Some(draw_progress) } else { None };
    // ROCMFORGE_GRAPHS=0 runs decode steps op by op (for timing comparisons
    // and for bisecting a suspected graph problem).
    let graphs = opts.graphs && std::env::var("ROCMFORGE_GRAPHS").map_or(true, |v| v != "0");
    let opts = LoadOptions { progress, graphs, ..opts };
    let model = rocmforge_models::load(gguf.clone(), backend, &opts).context("loading model")?;
    let load_secs = t0.elapsed().as_secs_f64();
    if tty {
        eprintln!(" {load_secs:.2} s");
    }
    Ok(Session { gguf, tokenizer, model, load_secs })
}

/// A one-line progress bar on stderr (terminals only).
fn draw_progress(done: u64, total: u64) {
    const WIDTH: u64 = 30;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH).min(WIDTH);
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    eprint!(
        "\rloading weights [{}{}] {:.0}/{:.0} MiB",
        "#".repeat(filled as usize),
        " ".repeat((WIDTH - filled) as usize),
        mib(done),
        mib(total)
    );
}
