//! `rocmforge tokenize`: text to token ids, as a JSON array.

use clap::Args;

#[derive(Args)]
pub struct TokenizeArgs {
    #[arg(long)]
    model: String,
    #[arg(long)]
    text: String,
    /// Treat special-token text (`<|im_start|>`) as plain text.
    #[arg(long)]
    no_parse_special: bool,
}

pub fn run(a: TokenizeArgs) -> anyhow::Result<()> {
    let (_, tokenizer) = crate::session::open_file(&a.model)?;
    let ids = tokenizer.encode(&a.text, true, !a.no_parse_special)?;
    println!("{}", serde_json::to_string(&ids)?);
    Ok(())
}
