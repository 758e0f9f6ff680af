//! Random-weight GGUF files for the llama-family architectures at named
//! shapes: for tests (small shapes with real layouts) and benchmarks (real
//! shapes: random weights cost the same to run as real ones).
//!
//! The vocabulary is a minimal SentencePiece one that llama.cpp loads:
//! `<unk>`, `<s>`, `</s>`, the 256 byte tokens `<0x00>`..`<0xFF>`, then
//! filler pieces.

use rand::{Rng, SeedableRng};
use rocmforge_backend_api::DType;
use rocmforge_backend_cpu::quant::quantize_row;
use rocmforge_core::gguf::GgufWriter;

use crate::{ModelError, Result};

/// A named model shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    pub name: &'static str,
    pub arch: &'static str,
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_ff: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub n_vocab: usize,
    pub n_ctx: usize,
    pub rope_base: f32,
    pub rms_eps: f32,
    /// No `output.weight`: the token embedding doubles as the output layer.
    pub tied_embeddings: bool,
}

/// The shapes `rocmforge synth` knows.
pub const SHAPES: &[Shape] = &[
    // Qwen2.5-0.5B's layer layout (biases, GQA 7:1, tied embeddings) at toy widths, for tests.
    Shape {
        name: "qwen2-tiny",
        arch: "qwen2",
        n_layer: 2,
        n_embd: 112,
        n_ff: 256,
        n_head: 7,
        n_head_kv: 1,
        n_vocab: 384,
        n_ctx: 512,
        rope_base: 1_000_000.0,
        rms_eps: 1e-6,
        tied_embeddings: true,
    },
    Shape {
        name: "llama-tiny",
        arch: "llama",
        n_layer: 2,
        n_embd: 128,
        n_ff: 320,
        n_head: 8,
        n_head_kv: 2,
        n_vocab: 384,
        n_ctx: 512,
        rope_base: 10_000.0,
        rms_eps: 1e-5,
        tied_embeddings: false,
    },
    Shape {
        name: "qwen2.5-0.5b",
        arch: "qwen2",
        n_layer: 24,
        n_embd: 896,
        n_ff: 4864,
        n_head: 14,
        n_head_kv: 2,
        n_vocab: 151_936,
        n_ctx: 32_768,
        rope_base: 1_000_000.0,
        rms_eps: 1e-6,
        tied_embeddings: true,
    },
    Shape {
        name: "llama2-7b",
        arch: "llama",
        n_layer: 32,
        n_embd: 4096,
        n_ff: 11_008,
        n_head: 32,
        n_head_kv: 32,
        n_vocab: 32_000,
        n_ctx: 4096,
        rope_base: 10_000.0,
        rms_eps: 1e-5,
        tied_embeddings: false,
    },
    Shape {
        name: "llama3-8b",
        arch: "llama",
        n_layer: 32,
        n_embd: 4096,
        n_ff: 14_336,
        n_head: 32,
        n_head_kv: 8,
        n_vocab: 128_256,
        n_ctx: 8192,
        rope_base: 500_000.0,
        rms_eps: 1e-5,
        tied_embeddings: false,
    },
];

pub fn shape(name: &str) -> Result<Shape> {
    SHAPES.iter().find(|s| s.name == name).copied().ok_or_else(|| {
        let known: Vec<_> = SHAPES.iter().map(|s| s.name).collect();
        ModelError::HParam(format!("unknown synthetic shape `{name}` (known: {})", known.join(", ")))
    })
}

/// How matrices are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightType {
    /// Every matrix in one type.
    Uniform(DType),
    /// llama.cpp's Q4_K_M mix: Q4_K, with Q6_K for the output/embedding and
    /// for the attn_v/ffn_down of some layers (llama.cpp's `use_more_bits`).
    Q4KM,
}

impl WeightType {
    pub fn parse(s: &str) -> Result<WeightType> {
        let t = match s.to_ascii_lowercase().as_str() {
            "f32" => WeightType::Uniform(DType::F32),
            "f16" => WeightType::Uniform(DType::F16),
            "q8_0" => WeightType::Uniform(DType::Q8_0),
            "q4_0" => WeightType::Uniform(DType::Q4_0),
            "q4_1" => WeightType::Uniform(DType::Q4_1),
            "q4_k" => WeightType::Uniform(DType::Q4K),
            "q6_k" => WeightType::Uniform(DType::Q6K),
            "q4_k_m" => WeightType::Q4KM,
            other => {
                return Err(ModelError::HParam(format!(
                    "unknown weight type `{other}` (known: f32, f16, q8_0, q4_0, q4_1, q4_k, q6_k, q4_k_m)"
                )))
            }
        };
        Ok(t)
    }

    /// The type of a matrix `name` of layer `layer` (if any), with llama.cpp's
    /// fallback when a row is not a whole number of blocks.
    fn for_tensor(self, name: &str, layer: Option<usize>, n_layer: usize, row: usize) -> DType {
        let want = match self {
            WeightType::Uniform(t) => t,
            WeightType::Q4KM => {
                let more_bits = |i: usize| i < n_layer / 8 || i >= 7 * n_layer / 8 || (i - n_layer / 8) % 3 == 2;
                let big = name == "output.weight" || name == "token_embd.weight";
                let mixed = (name.ends_with("attn_v.weight") || name.ends_with("ffn_down.weight"))
                    && layer.is_some_and(more_bits);
                if big || mixed {
                    DType::Q6K
                } else {
                    DType::Q4K
                }
            }
        };
        if row.is_multiple_of(want.block_len()) {
            return want;
        }
        // llama.cpp's fallbacks for rows that are not whole super-blocks
        // (Qwen2.5-0.5B's 896), and F16 when even those do not fit.
        let fallback = match want {
            DType::Q4K => DType::Q5_0,
            DType::Q6K => DType::Q8_0,
            _ => DType::F16,
        };
        if row.is_multiple_of(fallback.block_len()) {
            fallback
        } else {
            DType::F16
        }
    }
}

/// Build a random-weight GGUF for `shape` with matrices in `wtype`.
pub fn write_gguf(shape: &Shape, wtype: WeightType, seed: u64) -> Result<Vec<u8>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut w = GgufWriter::new();
    let a = shape.arch;
    let hd = shape.n_embd / shape.n_head;
    let k = |s: &str| format!("{a}.{s}");
    w.add_metadata("general.architecture", a)?
        .add_metadata("general.name", format!("synthetic {}", shape.name).as_str())?
        .add_metadata(k("context_length"), shape.n_ctx as u32)?
        .add_metadata(k("embedding_length"), shape.n_embd as u32)?
        .add_metadata(k("block_count"), shape.n_layer as u32)?
        .add_metadata(k("feed_forward_length"), shape.n_ff as u32)?
        .add_metadata(k("attention.head_count"), shape.n_head as u32)?
        .add_metadata(k("attention.head_count_kv"), shape.n_head_kv as u32)?
        .add_metadata(k("attention.layer_norm_rms_epsilon"), shape.rms_eps)?
        .add_metadata(k("rope.freq_base"), shape.rope_base)?
        .add_metadata(k("rope.dimension_count"), hd as u32)?;
    add_spm_vocab(&mut w, shape.n_vocab)?;

    let (d, ff, nq, nkv) = (shape.n_embd, shape.n_ff, shape.n_head * hd, shape.n_head_kv * hd);
    let mut m = Matrices { wtype, n_layer: shape.n_layer, rng: &mut rng };
    // Values: embeddings O(1) so the residual stream starts at a sane scale;
    // projections ~1/sqrt(fan_in) so activations stay O(1) through layers.
    let proj = |fan_in: usize| 1.0 / (fan_in as f32).sqrt();
    m.matrix(&mut w, "token_embd.weight".into(), None, d, shape.n_vocab, 1.0)?;
    if !shape.tied_embeddings {
        m.matrix(&mut w, "output.weight".into(), None, d, shape.n_vocab, proj(d))?;
    }
    m.vector(&mut w, "output_norm.weight".into(), d, 1.0, 0.1)?;
    for i in 0..shape.n_layer {
        let n = |s: &str| format!("blk.{i}.{s}");
        m.vector(&mut w, n("attn_norm.weight"), d, 1.0, 0.1)?;
        m.vector(&mut w, n("ffn_norm.weight"), d, 1.0, 0.1)?;
        if a == "qwen2" {
            m.vector(&mut w, n("attn_q.bias"), nq, 0.0, 0.1)?;
            m.vector(&mut w, n("attn_k.bias"), nkv, 0.0, 0.1)?;
            m.vector(&mut w, n("attn_v.bias"), nkv, 0.0, 0.1)?;
        }
        m.matrix(&mut w, n("attn_q.weight"), Some(i), d, nq, proj(d))?;
        m.matrix(&mut w, n("attn_k.weight"), Some(i), d, nkv, proj(d))?;
        m.matrix(&mut w, n("attn_v.weight"), Some(i), d, nkv, proj(d))?;
        m.matrix(&mut w, n("attn_output.weight"), Some(i), nq, d, proj(nq))?;
        m.matrix(&mut w, n("ffn_gate.weight"), Some(i), d, ff, proj(d))?;
        m.matrix(&mut w, n("ffn_up.weight"), Some(i), d, ff, proj(d))?;
        m.matrix(&mut w, n("ffn_down.weight"), Some(i), ff, d, proj(ff))?;
    }
    Ok(w.to_bytes()?)
}

/// Writes random tensors.
struct Matrices<'r> {
    wtype: WeightType,
    n_layer: usize,
    rng: &'r mut rand::rngs::StdRng,
}

impl Matrices<'_> {
    /// A `[rows, cols]` matrix (rows innermost) uniform in `±scale`, stored
    /// in the type `wtype` picks for it.
    #[allow(clippy::too_many_arguments)]
    fn matrix(
        &mut self,
        w: &mut GgufWriter,
        name: String,
        layer: Option<usize>,
        rows: usize,
        cols: usize,
        scale: f32,
    ) -> Result<()> {
        let dt = self.wtype.for_tensor(&name, layer, self.n_layer, rows);
        let data: Vec<f32> = (0..rows * cols).map(|_| self.rng.gen_range(-scale..scale)).collect();
        let mut bytes = vec![0u8; dt.row_bytes(rows as u64).unwrap_or(0) as usize * cols];
        quantize_row(dt, &data, &mut bytes).map_err(|e| ModelError::HParam(format!("{name}: {e}")))?;
        w.add_tensor(name, dt, &[rows as u64, cols as u64], bytes)?;
        Ok(())
    }

    /// An F32 vector uniform in `center ± spread`.
    fn vector(&mut self, w: &mut GgufWriter, name: String, n: usize, center: f32, spread: f32) -> Result<()> {
        let data: Vec<f32> = (0..n).map(|_| center + self.rng.gen_range(-spread..spread)).collect();
        let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        w.add_tensor(name, DType::F32, &[n as u64], bytes)?;
        Ok(())
    }
}

/// A minimal SentencePiece vocabulary of `n` tokens (n ≥ 259).
fn add_spm_vocab(w: &mut GgufWriter, n: usize) -> Result<()> {
    if n < 259 {
        return Err(ModelError::HParam(format!("vocabulary of {n} tokens is below the 259 an SPM vocab needs")));
    }
    let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    // Token types, as llama.cpp numbers them: 1 normal, 2 unknown, 3 control, 6 byte.
    let mut types: Vec<i32> = vec![2, 3, 3];
    tokens.extend((0..=255u8).map(|b| format!("<0x{b:02X}>")));
    types.extend(std::iter::repeat_n(6, 256));
    for i in tokens.len()..n {
        tokens.push(format!("\u{2581}t{i}"));
        types.push(1);
    }
    let scores: Vec<f32> = (0..n).map(|i| -(i as f32)).collect();
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    w.add_metadata("tokenizer.ggml.model", "llama")?
        .add_metadata("tokenizer.ggml.tokens", tokens)?
        .add_metadata("tokenizer.ggml.scores", scores)?
        .add_metadata("tokenizer.ggml.token_type", types)?
        .add_metadata("tokenizer.ggml.unknown_token_id", 0u32)?
        .add_metadata("tokenizer.ggml.bos_token_id", 1u32)?
        .add_metadata("tokenizer.ggml.eos_token_id", 2u32)?
        .add_metadata("tokenizer.ggml.add_bos_token", true)?;
    Ok(())
}
