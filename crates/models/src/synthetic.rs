//! Random-weight GGUF files for the llama-family architectures at named
//! shapes: for tests (small shapes with real layouts) and benchmarks (real
//! shapes: random weights cost the same to run as real ones).
//!
//! The vocabulary is a minimal SentencePiece one that llama.cpp loads:
//! `<unk>`, `<s>`, `</s>`, the 256 byte tokens `<0x00>`..`<0xFF>`, then
//! filler pieces.
//!
//! Files are written front to back ([`write_gguf_to`]): header and tensor
//! infos first, then each tensor as it is generated, so a 7B model never
//! sits in memory whole. Generation and quantization run in parallel over
//! chunks of rows, each chunk with its own generator keyed by (seed, tensor,
//! chunk), so a seed gives the same bytes on any number of threads.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::{ModelError, Result};
use rand::distributions::{Distribution, Uniform};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rayon::prelude::*;
use rocmforge_backend_api::DType;
use rocmforge_backend_cpu::quant::quantize_row;
use rocmforge_core::gguf::{Array, GgufError, GgufWriter, Value};

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

/// What a tensor holds: uniform random values in `center ± spread`.
#[derive(Clone, Copy)]
struct Fill {
    center: f32,
    spread: f32,
}

/// A tensor's place in the file.
struct TensorSlot {
    name: String,
    dtype: DType,
    /// Innermost first (ggml's `ne`).
    dims: Vec<u64>,
    n_bytes: u64,
}

/// A file before its tensor data exists: metadata, tensor infos and, per
/// tensor, how to fill it.
struct Plan {
    metadata: Vec<(String, Value)>,
    tensors: Vec<TensorSlot>,
    fills: Vec<Fill>,
}

impl Plan {
    fn new(shape: &Shape, wtype: WeightType) -> Result<Plan> {
        let a = shape.arch;
        let hd = shape.n_embd / shape.n_head;
        let mut plan = Plan { metadata: Vec::new(), tensors: Vec::new(), fills: Vec::new() };
        let k = |s: &str| format!("{a}.{s}");
        plan.meta("general.architecture", a)
            .meta("general.name", format!("synthetic {}", shape.name).as_str())
            .meta(k("context_length"), shape.n_ctx as u32)
            .meta(k("embedding_length"), shape.n_embd as u32)
            .meta(k("block_count"), shape.n_layer as u32)
            .meta(k("feed_forward_length"), shape.n_ff as u32)
            .meta(k("attention.head_count"), shape.n_head as u32)
            .meta(k("attention.head_count_kv"), shape.n_head_kv as u32)
            .meta(k("attention.layer_norm_rms_epsilon"), shape.rms_eps)
            .meta(k("rope.freq_base"), shape.rope_base)
            .meta(k("rope.dimension_count"), hd as u32);
        plan.spm_vocab(shape.n_vocab)?;

        let (d, ff, nq, nkv) = (shape.n_embd, shape.n_ff, shape.n_head * hd, shape.n_head_kv * hd);
        let n_layer = shape.n_layer;
        // Values: embeddings O(1) so the residual stream starts at a sane
        // scale; projections ~1/sqrt(fan_in) so activations stay O(1)
        // through layers.
        let proj = |fan_in: usize| 1.0 / (fan_in as f32).sqrt();
        plan.matrix(wtype, n_layer, "token_embd.weight".into(), None, d, shape.n_vocab, 1.0)?;
        if !shape.tied_embeddings {
            plan.matrix(wtype, n_layer, "output.weight".into(), None, d, shape.n_vocab, proj(d))?;
        }
        plan.vector("output_norm.weight".into(), d, 1.0, 0.1);
        for i in 0..n_layer {
            let n = |s: &str| format!("blk.{i}.{s}");
            plan.vector(n("attn_norm.weight"), d, 1.0, 0.1);
            plan.vector(n("ffn_norm.weight"), d, 1.0, 0.1);
            if a == "qwen2" {
                plan.vector(n("attn_q.bias"), nq, 0.0, 0.1);
                plan.vector(n("attn_k.bias"), nkv, 0.0, 0.1);
                plan.vector(n("attn_v.bias"), nkv, 0.0, 0.1);
            }
            plan.matrix(wtype, n_layer, n("attn_q.weight"), Some(i), d, nq, proj(d))?;
            plan.matrix(wtype, n_layer, n("attn_k.weight"), Some(i), d, nkv, proj(d))?;
            plan.matrix(wtype, n_layer, n("attn_v.weight"), Some(i), d, nkv, proj(d))?;
            plan.matrix(wtype, n_layer, n("attn_output.weight"), Some(i), nq, d, proj(nq))?;
            plan.matrix(wtype, n_layer, n("ffn_gate.weight"), Some(i), d, ff, proj(d))?;
            plan.matrix(wtype, n_layer, n("ffn_up.weight"), Some(i), d, ff, proj(d))?;
            plan.matrix(wtype, n_layer, n("ffn_down.weight"), Some(i), ff, d, proj(ff))?;
        }
        Ok(plan)
    }

    fn meta(&mut self, key: impl Into<String>, value: impl Into<Value>) -> &mut Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// `n_rows` rows of `row_len` values uniform in `±scale`, stored in the
    /// type `wtype` picks for the matrix.
    #[allow(clippy::too_many_arguments)]
    fn matrix(
        &mut self,
        wtype: WeightType,
        n_layer: usize,
        name: String,
        layer: Option<usize>,
        row_len: usize,
        n_rows: usize,
        scale: f32,
    ) -> Result<()> {
        let dtype = wtype.for_tensor(&name, layer, n_layer, row_len);
        let row_bytes = dtype
            .row_bytes(row_len as u64)
            .ok_or_else(|| ModelError::HParam(format!("{name}: rows of {row_len} are not whole {dtype} blocks")))?;
        let n_bytes = row_bytes * n_rows as u64;
        self.tensors.push(TensorSlot { name, dtype, dims: vec![row_len as u64, n_rows as u64], n_bytes });
        self.fills.push(Fill { center: 0.0, spread: scale });
        Ok(())
    }

    /// An F32 vector uniform in `center ± spread`.
    fn vector(&mut self, name: String, n: usize, center: f32, spread: f32) {
        let n_bytes = 4 * n as u64;
        self.tensors.push(TensorSlot { name, dtype: DType::F32, dims: vec![n as u64], n_bytes });
        self.fills.push(Fill { center, spread });
    }

    /// A minimal SentencePiece vocabulary of `n` tokens (n ≥ 259).
    fn spm_vocab(&mut self, n: usize) -> Result<()> {
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
        self.meta("tokenizer.ggml.model", "llama")
            .meta("tokenizer.ggml.tokens", Value::Array(Array::String(tokens)))
            .meta("tokenizer.ggml.scores", scores)
            .meta("tokenizer.ggml.token_type", types)
            .meta("tokenizer.ggml.unknown_token_id", 0u32)
            .meta("tokenizer.ggml.bos_token_id", 1u32)
            .meta("tokenizer.ggml.eos_token_id", 2u32)
            .meta("tokenizer.ggml.add_bos_token", true);
        Ok(())
    }

    /// The file's writer: metadata and tensor infos, the bytes streamed.
    fn writer(&self) -> Result<GgufWriter<'static>> {
        let mut w = GgufWriter::new();
        for (k, v) in &self.metadata {
            w.add_metadata(k.clone(), v.clone())?;
        }
        for t in &self.tensors {
            w.add_tensor_info(t.name.clone(), t.dtype, &t.dims)?;
        }
        Ok(w)
    }

    /// Tensor `index`'s bytes, generated and quantized in parallel by
    /// chunks of whole rows. Each chunk draws from its own generator, keyed
    /// by (seed, tensor index, chunk index), and chunk boundaries depend only
    /// on the shape: the bytes are the same on any number of threads.
    fn tensor_bytes(&self, index: usize, seed: u64) -> Result<Vec<u8>> {
        let slot = &self.tensors[index];
        let Fill { center, spread } = self.fills[index];
        let row_len = slot.dims[0] as usize;
        let n_rows: usize = slot.dims.iter().skip(1).product::<u64>() as usize;
        let row_bytes = slot.n_bytes as usize / n_rows.max(1);
        let rows_per_chunk = (CHUNK_VALUES / row_len).max(1);
        let values = Uniform::new(-spread, spread);
        let mut out = vec![0u8; slot.n_bytes as usize];
        if out.is_empty() {
            return Ok(out);
        }
        out.par_chunks_mut(row_bytes * rows_per_chunk).enumerate().try_for_each(|(chunk, dst)| {
            let mut rng = chunk_rng(seed, index, chunk);
            let src: Vec<f32> =
                (0..dst.len() / row_bytes * row_len).map(|_| center + values.sample(&mut rng)).collect();
            quantize_row(slot.dtype, &src, dst).map_err(|e| ModelError::HParam(format!("{}: {e}", slot.name)))
        })?;
        Ok(out)
    }
}

/// Values per generation chunk: 256 KiB of f32, small enough to balance the
/// largest tensors over many cores, large enough that scheduling is noise.
const CHUNK_VALUES: usize = 1 << 16;

/// The generator of one chunk: ChaCha keyed by (seed, tensor, chunk).
/// (`StdRng` keeps its algorithm within a `rand` version; a `rand` upgrade
/// may change the files a seed gives.)
fn chunk_rng(seed: u64, tensor: usize, chunk: usize) -> StdRng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(tensor as u64).to_le_bytes());
    key[16..24].copy_from_slice(&(chunk as u64).to_le_bytes());
    StdRng::from_seed(key)
}

/// Writes a random-weight GGUF for `shape` with matrices in `wtype` to `w`,
/// front to back: header and tensor infos, then each tensor as it is made.
/// Tensors are generated on rayon's pool, one at a time (each split over
/// the pool), while a second thread writes the previous one, so at most two
/// tensors are in memory. The bytes depend only on the arguments, not on
/// the number of threads. Returns the bytes written.
pub fn write_gguf_to<W: Write + Send>(w: &mut W, shape: &Shape, wtype: WeightType, seed: u64) -> Result<u64> {
    let plan = Plan::new(shape, wtype)?;
    let gguf = plan.writer()?;
    let mut written = gguf.write_header(&mut *w)?;
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(0);
    std::thread::scope(|s| {
        let gguf = &gguf;
        let writer = s.spawn(move || -> Result<u64> {
            let mut n = 0;
            for data in rx {
                n += gguf.write_tensor_data(&mut *w, &data)?;
            }
            w.flush().map_err(GgufError::Write)?;
            Ok(n)
        });
        let mut made = Ok(());
        for i in 0..plan.tensors.len() {
            match plan.tensor_bytes(i, seed) {
                Ok(data) => {
                    // A send fails only when the writer stopped on an
                    // error, which its join below reports.
                    if tx.send(data).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    made = Err(e);
                    break;
                }
            }
        }
        drop(tx);
        let wrote = writer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        made?;
        written += wrote?;
        Ok(written)
    })
}

/// [`write_gguf_to`] into memory.
pub fn write_gguf(shape: &Shape, wtype: WeightType, seed: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    write_gguf_to(&mut bytes, shape, wtype, seed)?;
    Ok(bytes)
}

/// [`write_gguf_to`] into the file at `path`. The file appears only when
/// complete: it is written as `<path>.partial` and renamed, so an
/// interrupted run never leaves a truncated model under the final name.
pub fn write_gguf_file(path: &Path, shape: &Shape, wtype: WeightType, seed: u64) -> Result<u64> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let io_err = |p: &Path| {
        let path = p.to_owned();
        move |source| GgufError::Io { path, source }
    };
    let file = File::create(&partial).map_err(io_err(&partial))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let n = write_gguf_to(&mut out, shape, wtype, seed).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    drop(out);
    std::fs::rename(&partial, path).map_err(io_err(path))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rocmforge_core::gguf::{GgufFile, GgufWriter};

    use super::*;

    fn on_threads(n: usize, f: impl FnOnce() -> Vec<u8> + Send) -> Vec<u8> {
        rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap().install(f)
    }

    /// Same bytes on 1 and 3 threads, and different bytes for another seed.
    #[test]
    fn deterministic_for_a_seed_on_any_thread_count() {
        let s = shape("llama-tiny").unwrap();
        let one = on_threads(1, || write_gguf(&s, WeightType::Q4KM, 5).unwrap());
        let three = on_threads(3, || write_gguf(&s, WeightType::Q4KM, 5).unwrap());
        assert!(one == three, "thread count changed the bytes");
        assert!(one != write_gguf(&s, WeightType::Q4KM, 6).unwrap(), "seed does not change the bytes");
    }

    /// Every shape's layout, streamed, is the one the core writer gives for
    /// the same tensors (byte for byte), and the small ones load.
    #[test]
    fn files_read_back_and_load() {
        for name in ["qwen2-tiny", "llama-tiny"] {
            let s = shape(name).unwrap();
            for wtype in [WeightType::Uniform(DType::F32), WeightType::Uniform(DType::Q8_0), WeightType::Q4KM] {
                let bytes = write_gguf(&s, wtype, 1).unwrap();
                let file = GgufFile::from_bytes(bytes.clone()).unwrap();
                let plan = Plan::new(&s, wtype).unwrap();
                assert_eq!(file.tensor_count(), plan.tensors.len());
                let data_len: u64 = plan.tensors.iter().map(|t| t.n_bytes.div_ceil(32) * 32).sum();
                assert_eq!(bytes.len() as u64, file.data_offset() + data_len);
                assert_eq!(GgufWriter::from_gguf(&file).unwrap().to_bytes().unwrap(), bytes, "{name} {wtype:?}");
                let backend: Arc<dyn rocmforge_backend_api::Backend> =
                    Arc::new(rocmforge_backend_cpu::CpuBackend::new().unwrap());
                let mut model = crate::load(Arc::new(file), backend, &Default::default()).unwrap();
                let logits = model.forward(&[1, 300, 5], 0, rocmforge_core::model::Logits::Last).unwrap();
                assert!(logits.iter().all(|x| x.is_finite()), "{name} {wtype:?}: non-finite logits");
            }
        }
    }

    #[test]
    fn writes_a_file_atomically() {
        let dir = std::env::temp_dir().join(format!("rocmforge-synth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.gguf");
        let s = shape("qwen2-tiny").unwrap();
        let n = write_gguf_file(&path, &s, WeightType::Uniform(DType::F16), 3).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, n);
        assert_eq!(bytes, write_gguf(&s, WeightType::Uniform(DType::F16), 3).unwrap());
        assert!(!dir.join("m.gguf.partial").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
