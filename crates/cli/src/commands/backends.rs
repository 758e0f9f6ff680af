//! `rocmforge backends`: what plugins are there and can they run here.

use rocmforge_backend_api::loader::{self, BackendLib};

pub fn run() -> anyhow::Result<()> {
    let found = loader::discover()?;
    if found.is_empty() {
        let dirs: Vec<String> = loader::search_dirs()?.iter().map(|d| d.display().to_string()).collect();
        anyhow::bail!("no backend plugins found (searched: {})", dirs.join(", "));
    }
    for (name, path) in found {
        match BackendLib::open(&path) {
            Ok(lib) => {
                let p = lib.probe();
                let state = if p.score > 0 { format!("score {:>3}", p.score) } else { "unusable ".into() };
                println!("{name:<10} {state}  {}  ({})", p.description, path.display());
            }
            Err(e) => println!("{name:<10} error      {e}"),
        }
    }
    Ok(())
}
