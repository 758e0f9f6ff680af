//! `rocmforge generate`: text from a prompt.

use std::io::Write;

use anyhow::Context;
use clap::{Args, ValueEnum};
use rocmforge_core::chat_template::{ChatMessage, ChatTemplate};
use rocmforge_core::generate::{generate, GenerateParams};
use rocmforge_core::sampling::SamplingParams;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Args)]
pub struct GenerateArgs {
    /// GGUF file, or a cached default model's name.
    #[arg(long)]
    model: String,
    #[arg(long)]
    prompt: String,
    #[arg(long, default_value_t = 128)]
    max_tokens: usize,
    /// 0 = greedy.
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// 0 = off.
    #[arg(long, default_value_t = 40)]
    top_k: usize,
    /// 1 = off.
    #[arg(long, default_value_t = 0.95)]
    top_p: f32,
    /// 0 = off.
    #[arg(long, default_value_t = 0.05)]
    min_p: f32,
    /// 1 = off.
    #[arg(long, default_value_t = 1.0)]
    repeat_penalty: f32,
    /// 0 = off.
    #[arg(long, default_value_t = 0.0)]
    presence_penalty: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Render the model's chat template around the prompt (one user message).
    #[arg(long)]
    chat: bool,
    /// System message for --chat.
    #[arg(long, requires = "chat")]
    system: Option<String>,
    /// Stop when the text contains this (repeatable).
    #[arg(long)]
    stop: Vec<String>,
    #[arg(long)]
    ignore_eos: bool,
    /// KV cache length (default: the model's context length).
    #[arg(long)]
    ctx_size: Option<usize>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

fn check(name: &str, ok: bool, want: &str) -> anyhow::Result<()> {
    anyhow::ensure!(ok, "--{name} must be {want}");
    Ok(())
}

pub fn run(a: GenerateArgs, backend: Option<&str>) -> anyhow::Result<()> {
    check("temperature", a.temperature.is_finite() && a.temperature >= 0.0, "a finite number >= 0")?;
    check("top-p", (0.0..=1.0).contains(&a.top_p), "in [0, 1]")?;
    check("min-p", (0.0..=1.0).contains(&a.min_p), "in [0, 1]")?;
    check("repeat-penalty", a.repeat_penalty.is_finite() && a.repeat_penalty > 0.0, "> 0")?;
    check("presence-penalty", a.presence_penalty.is_finite(), "finite")?;
    check("max-tokens", a.max_tokens > 0, "> 0")?;

    let mut s = crate::session::open(&a.model, backend, a.ctx_size)?;
    let text = if a.chat { render_chat(&s, &a)? } else { a.prompt.clone() };
    let prompt = s.tokenizer.encode(&text, true, true)?;
    let params = GenerateParams {
        max_tokens: a.max_tokens,
        sampling: SamplingParams {
            temperature: a.temperature,
            top_k: a.top_k,
            top_p: a.top_p,
            min_p: a.min_p,
            repeat_penalty: a.repeat_penalty,
            presence_penalty: a.presence_penalty,
            seed: a.seed,
            ..SamplingParams::default()
        },
        stop: a.stop.clone(),
        ignore_eos: a.ignore_eos,
    };
    let stream = a.output == Output::Text;
    let mut stdout = std::io::stdout();
    let mut on_text = |t: &str| {
        if stream {
            let _ = stdout.write_all(t.as_bytes());
            let _ = stdout.flush();
        }
    };
    let g = generate(s.model.as_mut(), &s.tokenizer, &prompt, &params, &mut on_text)?;
    let prefill_tok_s = prompt.len() as f64 / g.prefill_secs.max(1e-9);
    let decode_tok_s = if g.decode_steps > 0 { g.decode_steps as f64 / g.decode_secs.max(1e-9) } else { 0.0 };
    match a.output {
        Output::Text => {
            println!();
            eprintln!(
                "load {:.2} s | prefill {} tokens, {:.1} tok/s | decode {} tokens, {:.1} tok/s | stop: {}",
                s.load_secs,
                prompt.len(),
                prefill_tok_s,
                g.tokens.len(),
                decode_tok_s,
                g.stop_reason.as_str()
            );
        }
        Output::Json => {
            let v = serde_json::json!({
                "prompt_tokens": prompt,
                "tokens": g.tokens,
                "text": g.text,
                "stop_reason": g.stop_reason.as_str(),
                "timings": {
                    "load_s": s.load_secs,
                    "prefill_tok_s": prefill_tok_s,
                    "decode_tok_s": decode_tok_s,
                },
            });
            println!("{v}");
        }
    }
    Ok(())
}

fn render_chat(s: &crate::session::Session, a: &GenerateArgs) -> anyhow::Result<String> {
    let template =
        s.gguf.get_str_opt("tokenizer.chat_template")?.context("--chat: the model has no tokenizer.chat_template")?;
    let text = |id: Option<u32>| id.map(|i| String::from_utf8_lossy(&s.tokenizer.token_to_piece(i)).into_owned());
    let bos = text(s.tokenizer.bos()).unwrap_or_default();
    let eos = text(s.tokenizer.eos()).unwrap_or_default();
    let t = ChatTemplate::new(template, &bos, &eos)?;
    let mut messages = Vec::new();
    if let Some(sys) = &a.system {
        messages.push(ChatMessage { role: "system".into(), content: sys.clone() });
    }
    messages.push(ChatMessage { role: "user".into(), content: a.prompt.clone() });
    Ok(t.render(&messages, true)?)
}
