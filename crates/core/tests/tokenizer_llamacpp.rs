//! The tokenizer against llama.cpp: for every vocabulary in
//! `tests/fixtures/vocab/` and every string of
//! `tests/fixtures/tokenizer/corpus.json`, our ids must equal the ids
//! llama.cpp's `llama-tokenize` produced (`tests/fixtures/tokenizer/*.ids.json`,
//! made by `scripts/make_tokenizer_refs.py`).

mod common;

use std::sync::OnceLock;

use rocmforge_core::tokenizer::{Tokenizer, TokenizerError, TokenizerKind, VocabSpec};
use serde_json::Value;

const VOCABS: [&str; 3] = ["smollm2", "qwen2", "gemma3"];

fn spec(name: &str) -> VocabSpec {
    common::vocab_spec(&common::fixtures().join(format!("vocab/{name}.gguf")))
}

fn tokenizer(name: &str) -> &'static Tokenizer {
    static CELLS: [OnceLock<Tokenizer>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let i = VOCABS.iter().position(|v| *v == name).expect("known vocab");
    CELLS[i].get_or_init(|| {
        let t0 = std::time::Instant::now();
        let tok = Tokenizer::from_vocab(spec(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!("{name}: built in {:?}: {tok:?}", t0.elapsed());
        tok
    })
}

fn corpus() -> Vec<String> {
    let path = common::fixtures().join("tokenizer/corpus.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array().expect("id array").iter().map(|x| x.as_u64().expect("id") as u32).collect()
}

struct Reference {
    add_special: bool,
    /// (parse_special ids, no_parse_special ids if llama.cpp was run so).
    cases: Vec<(Vec<u32>, Option<Vec<u32>>)>,
}

fn reference(name: &str) -> Reference {
    let path = common::fixtures().join(format!("tokenizer/{name}.ids.json"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    Reference {
        add_special: doc["add_special"].as_bool().unwrap(),
        cases: doc["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let plain = &c["no_parse_special"];
                (ids(&c["parse_special"]), (!plain.is_null()).then(|| ids(plain)))
            })
            .collect(),
    }
}

fn show(tok: &Tokenizer, ids: &[u32]) -> String {
    ids.iter()
        .map(|&id| format!("{id}:{:?}", String::from_utf8_lossy(&tok.token_to_piece(id))))
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_vocab(name: &str) {
    let tok = tokenizer(name);
    let corpus = corpus();
    let refs = reference(name);
    assert_eq!(refs.cases.len(), corpus.len(), "{name}: reference ids out of date with corpus.json");
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for (i, (text, (theirs, theirs_plain))) in corpus.iter().zip(&refs.cases).enumerate() {
        for parse_special in [true, false] {
            let expected = if parse_special {
                theirs
            } else {
                // Without a run of llama.cpp, the text holds no control
                // token, so parse_special changes nothing.
                theirs_plain.as_ref().unwrap_or(theirs)
            };
            let ours = tok.encode(text, refs.add_special, parse_special).unwrap();
            compared += 1;
            if &ours != expected {
                mismatches.push((i, parse_special, ours, expected.clone()));
            }
        }
    }
    let strings_ok = (0..corpus.len()).filter(|i| !mismatches.iter().any(|m| m.0 == *i)).count();
    eprintln!(
        "{name}: {strings_ok}/{} strings equal to llama.cpp ({} of {compared} encodings differ)",
        corpus.len(),
        mismatches.len()
    );
    if let Some((i, parse_special, ours, theirs)) = mismatches.first() {
        panic!(
            "{name}: {} mismatches; first: corpus[{i}] = {:?} (add_special={}, parse_special={parse_special})\n ours:   {ours:?}\n        {}\n theirs: {theirs:?}\n        {}",
            mismatches.len(),
            corpus[*i],
            refs.add_special,
            show(tok, ours),
            show(tok, theirs),
        );
    }
}

#[test]
fn smollm2_matches_llamacpp() {
    check_vocab("smollm2");
}

#[test]
fn qwen2_matches_llamacpp() {
    check_vocab("qwen2");
}

#[test]
fn gemma3_spm_matches_llamacpp() {
    check_vocab("gemma3");
}

/// Whether decoding gives the text back: SentencePiece reads a literal
/// U+2581 "▁" in the text as a space (llama.cpp does the same).
fn lossless(tok: &Tokenizer, text: &str) -> bool {
    tok.kind() != TokenizerKind::Spm || !text.contains('\u{2581}')
}

#[test]
fn decode_round_trips() {
    let corpus = corpus();
    for name in VOCABS {
        let tok = tokenizer(name);
        for text in corpus.iter().filter(|t| lossless(tok, t)) {
            for parse_special in [true, false] {
                let ids = tok.encode(text, false, parse_special).unwrap();
                assert_eq!(&tok.decode(&ids), text, "{name}: parse_special={parse_special}");
            }
        }
    }
}

#[test]
fn add_special_adds_bos_as_the_vocab_says() {
    let qwen = tokenizer("qwen2");
    assert!(qwen.add_bos());
    let ids = qwen.encode("hi", true, true).unwrap();
    assert_eq!(ids[0], qwen.bos().unwrap());
    assert_eq!(&ids[1..], qwen.encode("hi", false, true).unwrap());
    // With remove_special, detokenize drops the BOS it added.
    assert_eq!(qwen.detokenize(&ids, true, false), b"hi");

    let smol = tokenizer("smollm2");
    assert!(!smol.add_bos());
    assert_eq!(smol.encode("hi", true, true).unwrap(), smol.encode("hi", false, true).unwrap());
    assert_eq!(smol.encode("", true, true).unwrap(), Vec::<u32>::new());

    let gemma = tokenizer("gemma3");
    assert_eq!(gemma.kind(), TokenizerKind::Spm);
    assert_eq!(gemma.encode("", true, true).unwrap(), [gemma.bos().unwrap()]);
}

#[test]
fn special_tokens_and_eog() {
    let smol = tokenizer("smollm2");
    let im_end = smol.token_id("<|im_end|>").unwrap();
    assert_eq!(smol.bos(), Some(1));
    assert_eq!(smol.eos(), Some(2));
    assert!(smol.is_eog(im_end) && smol.is_eog(2));
    assert!(smol.is_eog(smol.token_id("<|endoftext|>").unwrap()));
    assert!(!smol.is_eog(smol.token_id("<|im_start|>").unwrap()));
    assert!(!smol.is_eog(smol.token_id("hello").unwrap()));

    let qwen = tokenizer("qwen2");
    let end = qwen.token_id("<｜end▁of▁sentence｜>").unwrap();
    assert_eq!(qwen.eos(), Some(end));
    assert!(qwen.is_eog(end));
    for text in ["<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"] {
        let id = qwen.token_id(text).unwrap_or_else(|| panic!("{text}"));
        assert!(qwen.is_eog(id), "{text}");
    }
    // Not in llama.cpp's end-of-generation list.
    assert!(!qwen.is_eog(qwen.token_id("<|EOT|>").unwrap()));
    assert!(!qwen.is_eog(qwen.token_id("<｜User｜>").unwrap()));
    assert_eq!(qwen.eot(), Some(end));
    assert_eq!(qwen.fim().prefix, qwen.token_id("<|fim_prefix|>"));
    assert_eq!(qwen.vocab_size(), 152064);

    let gemma = tokenizer("gemma3");
    let eot = gemma.token_id("<end_of_turn>").unwrap();
    assert_eq!(gemma.eot(), Some(eot));
    assert!(gemma.is_eog(eot) && gemma.is_eog(gemma.eos().unwrap()));
    assert!(!gemma.add_space_prefix());
    assert!(gemma.is_byte(gemma.token_id("<0x0A>").unwrap()));
    assert_eq!(gemma.token_to_piece(gemma.token_id("<0x0A>").unwrap()), b"\n");
}

#[test]
fn stream_decoder_emits_whole_characters() {
    // Byte-level BPE splits emoji across tokens; SentencePiece falls back
    // to byte tokens for rare characters (CJK extension B, private use).
    let texts = ["👨‍👩‍👧‍👦 family", "a🎉b🎉c", "🇺🇸🇯🇵", "你好，世界！", "ภาษาไทย 🙂🙂", "𠜎𠜱 rare \u{F0000}"];
    for name in VOCABS {
        let tok = tokenizer(name);
        let mut held_back = 0;
        for text in texts {
            let ids = tok.encode(text, false, false).unwrap();
            let mut dec = tok.stream_decoder();
            let mut out = String::new();
            for &id in &ids {
                let piece = dec.push(id);
                assert!(!piece.contains('\u{FFFD}'), "{name}: half a character in {piece:?}");
                if !dec.pending().is_empty() {
                    held_back += 1;
                }
                out.push_str(&piece);
            }
            out.push_str(&dec.finish());
            assert_eq!(out, text, "{name}");
        }
        assert!(held_back > 0, "{name}: no token split a character; the test proves nothing");
    }

    // An unfinished character is flushed at the end as U+FFFD.
    let tok = tokenizer("gemma3");
    let mut dec = tok.stream_decoder();
    let lead = tok.token_id("<0xF0>").unwrap();
    assert_eq!(dec.push(lead), "");
    assert_eq!(dec.pending(), [0xF0]);
    assert_eq!(dec.finish(), "\u{FFFD}");
    // Skipping special tokens.
    let mut dec = tok.stream_decoder().skip_special(true);
    assert_eq!(dec.push(tok.eos().unwrap()), "");
}

#[test]
fn unknown_pre_tokenizer_is_a_clear_error() {
    let mut spec = spec("smollm2");
    spec.pre = Some("no-such-pre".into());
    let err = Tokenizer::from_vocab(spec).unwrap_err();
    assert!(matches!(err, TokenizerError::UnknownPreTokenizer { .. }), "{err:?}");
    let msg = err.to_string();
    for known in ["'no-such-pre'", "smollm", "qwen2", "deepseek-r1-qwen", "llama-bpe", "default"] {
        assert!(msg.contains(known), "{known} missing from: {msg}");
    }

    let mut spec = spec_small();
    spec.model = "bert".into();
    assert!(matches!(Tokenizer::from_vocab(spec), Err(TokenizerError::UnknownModel(m)) if m == "bert"));
}

fn spec_small() -> VocabSpec {
    VocabSpec { model: "llama".into(), tokens: vec!["<unk>".into(), "<s>".into(), "</s>".into()], ..Default::default() }
}

#[test]
fn merges_all_used() {
    for name in ["smollm2", "qwen2"] {
        let stats = tokenizer(name).merge_stats().unwrap();
        eprintln!("{name}: {stats:?}");
        assert_eq!(stats.out_of_vocab + stats.malformed + stats.duplicate, 0, "{name}: {stats:?}");
    }
}

#[test]
fn long_text_speed() {
    for name in VOCABS {
        let tok = tokenizer(name);
        let corpus: Vec<String> = corpus().into_iter().filter(|t| lossless(tok, t)).collect();
        let text = corpus.join("\n").repeat(20);
        let t0 = std::time::Instant::now();
        let ids = tok.encode(&text, false, true).unwrap();
        eprintln!("{name}: {} bytes -> {} tokens in {:?}", text.len(), ids.len(), t0.elapsed());
        assert_eq!(tok.decode(&ids), text);
    }
}
