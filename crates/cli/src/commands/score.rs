//! `rocmforge score`: one teacher-forced forward pass; the top logits after
//! every token and the perplexity of the sequence (how logits are compared
//! between backends and with llama.cpp).

use anyhow::Context;
use clap::Args;
use rocmforge_core::model::Logits;

use super::generate::Output;

#[derive(Args)]
pub struct ScoreArgs {
    #[arg(long)]
    model: String,
    /// Comma-separated token ids.
    #[arg(long, conflicts_with = "text", required_unless_present = "text", value_delimiter = ',')]
    tokens: Vec<u32>,
    /// Text, tokenized like `generate` does.
    #[arg(long)]
    text: Option<String>,
    /// Logits listed per position.
    #[arg(long, default_value_t = 5)]
    top_k: usize,
    #[arg(long)]
    ctx_size: Option<usize>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

pub fn run(a: ScoreArgs, backend: Option<&str>) -> anyhow::Result<()> {
    let mut s = crate::session::open(&a.model, backend, a.ctx_size)?;
    let tokens = match &a.text {
        Some(t) => s.tokenizer.encode(t, true, true)?,
        None => a.tokens.clone(),
    };
    anyhow::ensure!(!tokens.is_empty(), "nothing to score: no tokens");
    let n_ctx = s.model.context_length();
    anyhow::ensure!(tokens.len() <= n_ctx, "{} tokens exceed the context length ({n_ctx})", tokens.len());
    let n_vocab = s.model.vocab_size();
    let logits = s.model.forward(&tokens, 0, Logits::All).context("forward pass")?;
    let mut positions = Vec::with_capacity(tokens.len());
    let mut nll = 0.0f64;
    for (i, row) in logits.chunks_exact(n_vocab).enumerate() {
        let mut idx: Vec<usize> = (0..n_vocab).collect();
        let k = a.top_k.min(n_vocab);
        idx.select_nth_unstable_by(k.saturating_sub(1), |&x, &y| row[y].total_cmp(&row[x]));
        let mut top: Vec<usize> = idx[..k].to_vec();
        top.sort_by(|&x, &y| row[y].total_cmp(&row[x]).then(x.cmp(&y)));
        positions.push(top.iter().map(|&t| (t as u32, row[t])).collect::<Vec<_>>());
        if let Some(&next) = tokens.get(i + 1) {
            nll -= log_softmax_at(row, next as usize);
        }
    }
    let predicted = tokens.len() - 1;
    let ppl = if predicted > 0 { (nll / predicted as f64).exp() } else { f64::NAN };
    match a.output {
        Output::Json => {
            let pos: Vec<_> = positions.iter().map(|top| serde_json::json!({ "top": top })).collect();
            println!("{}", serde_json::json!({ "positions": pos, "perplexity": ppl }));
        }
        Output::Text => {
            println!("perplexity: {ppl:.4} over {predicted} predicted tokens ({} tokens)", tokens.len());
        }
    }
    Ok(())
}

/// `log softmax(row)[i]`, in f64.
fn log_softmax_at(row: &[f32], i: usize) -> f64 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
    row[i] as f64 - max - sum.ln()
}
