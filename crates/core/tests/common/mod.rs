//! Helpers shared by the tokenizer tests.

use std::path::{Path, PathBuf};

use rocmforge_core::gguf::GgufFile;
use rocmforge_core::tokenizer::VocabSpec;
use rocmforge_core::tokenizer_gguf::vocab_from_gguf;

/// The `tokenizer.*` keys of a (vocabulary-only) GGUF file, read with the
/// engine's own reader, as the CLI reads them.
pub fn vocab_spec(path: &Path) -> VocabSpec {
    let g = GgufFile::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    vocab_from_gguf(&g).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `tests/fixtures` at the workspace root.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}
