//! `--model`: a path to a GGUF file, or the name of a default model kept in
//! the cache directory (`scripts/fetch-models.sh` puts it there).

use std::path::PathBuf;

/// Default models by name, with the file name they are cached under.
pub const DEFAULT_MODELS: &[(&str, &str)] = &[("smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf")];

/// `$ROCMFORGE_CACHE_DIR`, else `$XDG_CACHE_HOME/rocmforge`, else `~/.cache/rocmforge`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ROCMFORGE_CACHE_DIR") {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("rocmforge")
}

/// Resolve `--model`: an existing path, or a default model's name.
pub fn resolve(spec: &str) -> anyhow::Result<PathBuf> {
    let p = PathBuf::from(spec);
    if p.exists() {
        return Ok(p);
    }
    if let Some((_, file)) = DEFAULT_MODELS.iter().find(|(name, _)| name.eq_ignore_ascii_case(spec)) {
        let cached = cache_dir().join("models").join(file);
        if cached.is_file() {
            return Ok(cached);
        }
        anyhow::bail!(
            "model `{spec}` is not in the cache ({}); fetch it with scripts/fetch-models.sh",
            cached.display()
        );
    }
    let names: Vec<&str> = DEFAULT_MODELS.iter().map(|(n, _)| *n).collect();
    anyhow::bail!("{spec}: no such file (and not a default model name: {})", names.join(", "))
}
