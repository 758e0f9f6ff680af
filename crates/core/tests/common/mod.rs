//! Test helper: a tiny GGUF metadata reader that fills a `VocabSpec`.
//!
//! It exists only because the crate's GGUF reader is not ready yet; swap it
//! for `rocmforge_core::gguf` once that can read metadata.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rocmforge_core::tokenizer::VocabSpec;

/// A metadata value (only what tokenizer keys need).
#[derive(Debug, Clone)]
pub enum Value {
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
    Str(String),
    Array(Vec<Value>),
}

impl Value {
    fn as_u32(&self) -> Option<u32> {
        match *self {
            Value::Uint(v) => u32::try_from(v).ok(),
            Value::Int(v) => u32::try_from(v).ok(),
            _ => None,
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        s
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().unwrap())
    }
    fn string(&mut self) -> String {
        let n = self.u64() as usize;
        String::from_utf8_lossy(self.take(n)).into_owned()
    }
    fn value(&mut self, ty: u32) -> Value {
        match ty {
            0 => Value::Uint(self.take(1)[0] as u64),
            1 => Value::Int(self.take(1)[0] as i8 as i64),
            2 => Value::Uint(u16::from_le_bytes(self.take(2).try_into().unwrap()) as u64),
            3 => Value::Int(i16::from_le_bytes(self.take(2).try_into().unwrap()) as i64),
            4 => Value::Uint(self.u32() as u64),
            5 => Value::Int(self.u32() as i32 as i64),
            6 => Value::Float(f32::from_le_bytes(self.take(4).try_into().unwrap()) as f64),
            7 => Value::Bool(self.take(1)[0] != 0),
            8 => Value::Str(self.string()),
            9 => {
                let sub = self.u32();
                let n = self.u64() as usize;
                Value::Array((0..n).map(|_| self.value(sub)).collect())
            }
            10 => Value::Uint(self.u64()),
            11 => Value::Int(self.u64() as i64),
            12 => Value::Float(f64::from_le_bytes(self.take(8).try_into().unwrap())),
            t => panic!("unknown GGUF value type {t}"),
        }
    }
}

/// Reads the metadata key/values of a GGUF file.
pub fn read_metadata(path: &Path) -> HashMap<String, Value> {
    let buf = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = Reader { buf: &buf, pos: 0 };
    assert_eq!(r.take(4), b"GGUF", "{}: not GGUF", path.display());
    let version = r.u32();
    assert!(version >= 2, "GGUF v{version} not supported");
    let _n_tensors = r.u64();
    let n_kv = r.u64();
    (0..n_kv)
        .map(|_| {
            let key = r.string();
            let ty = r.u32();
            (key, r.value(ty))
        })
        .collect()
}

/// Builds a `VocabSpec` from the `tokenizer.*` keys of a GGUF file.
pub fn vocab_spec(path: &Path) -> VocabSpec {
    let kv = read_metadata(path);
    let get = |k: &str| kv.get(&format!("tokenizer.ggml.{k}"));
    let array = |k: &str| match get(k) {
        Some(Value::Array(a)) => Some(a.clone()),
        Some(v) => panic!("{k}: not an array: {v:?}"),
        None => None,
    };
    let string = |v: &Value| match v {
        Value::Str(s) => s.clone(),
        v => panic!("not a string: {v:?}"),
    };
    let id = |k: &str| get(k).and_then(Value::as_u32);
    let flag = |k: &str| match get(k) {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    };
    VocabSpec {
        model: get("model").map(string).expect("tokenizer.ggml.model"),
        pre: get("pre").map(string),
        tokens: array("tokens").expect("tokenizer.ggml.tokens").iter().map(string).collect(),
        scores: array("scores").map(|a| {
            a.iter()
                .map(|v| match *v {
                    Value::Float(f) => f as f32,
                    Value::Int(i) => i as f32,
                    Value::Uint(u) => u as f32,
                    ref v => panic!("score {v:?}"),
                })
                .collect()
        }),
        token_types: array("token_type").map(|a| {
            a.iter()
                .map(|v| match *v {
                    Value::Int(i) => i as i32,
                    Value::Uint(u) => u as i32,
                    ref v => panic!("token type {v:?}"),
                })
                .collect()
        }),
        merges: array("merges").map(|a| a.iter().map(string).collect()),
        bos: id("bos_token_id"),
        eos: id("eos_token_id"),
        eot: id("eot_token_id"),
        eom: id("eom_token_id"),
        pad: id("padding_token_id"),
        unk: id("unknown_token_id"),
        add_bos: flag("add_bos_token"),
        add_eos: flag("add_eos_token"),
        add_space_prefix: flag("add_space_prefix"),
        general_name: match kv.get("general.name") {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        },
    }
}

/// `tests/fixtures` at the workspace root.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}
