//! The decoder-only transformer shared by the llama family (Llama 2/3,
//! SmolLM, Mistral, Qwen2): pre-norm blocks of GQA attention with rope and a
//! SwiGLU feed-forward. Architectures differ only in [`Arch`].
//!
//! Memory is planned once at load: the weights buffer, a KV cache for the
//! whole context, and one scratch buffer for a batch of `batch_size` tokens
//! reused by every layer and every call. A forward pass only enqueues ops;
//! the one blocking call is the final logits download.
//!
//! A decode step (one token, last logits) has the same ops with the same
//! descriptors at every position: its inputs (token id, position, sequence
//! length) live in the scratch buffer. So it is recorded once as a graph
//! (where the backend records graphs) and replayed for every token, one
//! launch instead of ~15 per layer.

use std::sync::Arc;

use rocmforge_backend_api::op::*;
use rocmforge_backend_api::{Backend, BackendError, DType, DeviceBuffer, Graph, Op, TensorDesc};
use rocmforge_core::gguf::GgufFile;
use rocmforge_core::model::{CausalLm, Logits};

use crate::hparams::HParams;
use crate::weights::Weights;
use crate::{LoadOptions, ModelError, Result};

/// What distinguishes one llama-family architecture from another.
#[derive(Clone, Copy, Debug)]
pub struct Arch {
    pub name: &'static str,
    /// [`ROPE_NORMAL`] (llama: GGUF stores q/k permuted for it) or [`ROPE_NEOX`] (qwen2).
    pub rope_mode: u32,
    /// q, k and v projections have biases (qwen2).
    pub qkv_bias: bool,
}

/// KV cache positions per block of the paged cache.
const KV_BLOCK_LEN: usize = 16;
/// KV cache element type: half the memory of f32 at llama.cpp's default precision.
const KV_DTYPE: DType = DType::F16;

struct Layer {
    attn_norm: TensorDesc,
    wq: TensorDesc,
    wk: TensorDesc,
    wv: TensorDesc,
    bq: TensorDesc,
    bk: TensorDesc,
    bv: TensorDesc,
    wo: TensorDesc,
    ffn_norm: TensorDesc,
    w_gate: TensorDesc,
    w_up: TensorDesc,
    w_down: TensorDesc,
}

/// Activations for up to `batch` tokens, all in one buffer. Each field is the
/// full-batch tensor (tokens outermost); [`cols`] takes the first `n`.
struct Scratch {
    buf: DeviceBuffer,
    ids: TensorDesc,
    pos: TensorDesc,
    seqs: TensorDesc,
    x: TensorDesc,
    x2: TensorDesc,
    xb: TensorDesc,
    q_lin: TensorDesc,
    q: TensorDesc,
    q_rope: TensorDesc,
    k_lin: TensorDesc,
    k: TensorDesc,
    k_rope: TensorDesc,
    v_lin: TensorDesc,
    v: TensorDesc,
    attn: TensorDesc,
    o: TensorDesc,
    gate: TensorDesc,
    up: TensorDesc,
    act: TensorDesc,
    down: TensorDesc,
    logits: TensorDesc,
}

/// Bump allocator for the scratch plan: offsets aligned to 256 bytes.
struct Plan {
    size: u64,
}

impl Plan {
    fn take(&mut self, dtype: DType, shape: &[usize]) -> (u64, DType, Vec<usize>) {
        let off = self.size;
        let bytes = dtype.row_bytes(shape[0] as u64).unwrap_or(0) * shape[1..].iter().product::<usize>() as u64;
        self.size = (off + bytes).div_ceil(256) * 256;
        (off, dtype, shape.to_vec())
    }
}

struct KvCache {
    k: DeviceBuffer,
    v: DeviceBuffer,
    block_table: DeviceBuffer,
    n_blocks: usize,
    layer_bytes: u64,
}

pub struct Transformer {
    backend: Arc<dyn Backend>,
    hp: HParams,
    arch: Arch,
    tok_embd: TensorDesc,
    output_norm: TensorDesc,
    output: TensorDesc,
    rope_freqs: TensorDesc,
    layers: Vec<Layer>,
    /// The recorded decode step; dropped before the buffers it uses.
    decode_graph: Option<Graph>,
    /// Whether to record and replay decode steps (off: the backend cannot,
    /// or [`LoadOptions::graphs`] is false).
    use_graphs: bool,
    kv: KvCache,
    scratch: Scratch,
    n_ctx: usize,
    batch: usize,
    // Declared last: dropped after everything that refers to its buffer.
    _weights: Weights,
}

impl Transformer {
    pub fn load(gguf: Arc<GgufFile>, backend: Arc<dyn Backend>, opts: &LoadOptions, arch: Arch) -> Result<Self> {
        let tok =
            gguf.tensor("token_embd.weight").ok_or(ModelError::MissingTensor { name: "token_embd.weight".into() })?;
        let n_vocab = tok.dims().get(1).copied().unwrap_or(0) as usize;
        let hp = HParams::from_gguf(&gguf, arch.name, arch.rope_mode, n_vocab)?;
        if let Some(vl) = gguf.get_usize_opt(&format!("{}.attention.value_length", arch.name))? {
            if vl != hp.head_dim {
                return Err(ModelError::HParam(format!(
                    "{}: value_length {vl} != key_length {} is not supported",
                    arch.name, hp.head_dim
                )));
            }
        }
        let weights = Weights::load(gguf, &backend, opts.progress)?;
        let (d, hd, ff) = (hp.n_embd as u64, hp.head_dim as u64, hp.n_ff as u64);
        let (nq, nkv) = (hp.n_head as u64 * hd, hp.n_head_kv as u64 * hd);
        let tok_embd = weights.get("token_embd.weight", &[d, n_vocab as u64])?;
        let output = weights.get_opt("output.weight", &[d, n_vocab as u64])?.unwrap_or(tok_embd);
        let output_norm = weights.get_f32("output_norm.weight", &[d])?;
        let rope_freqs =
            weights.get_f32_opt("rope_freqs.weight", &[u64::from(hp.rope.n_dims / 2)])?.unwrap_or(TensorDesc::NONE);
        let mut layers = Vec::with_capacity(hp.n_layer);
        for i in 0..hp.n_layer {
            let n = |s: &str| format!("blk.{i}.{s}");
            let bias = |s: &str, len: u64| -> Result<TensorDesc> {
                if arch.qkv_bias {
                    weights.get_f32(&n(s), &[len])
                } else {
                    Ok(TensorDesc::NONE)
                }
            };
            layers.push(Layer {
                attn_norm: weights.get_f32(&n("attn_norm.weight"), &[d])?,
                wq: weights.get(&n("attn_q.weight"), &[d, nq])?,
                wk: weights.get(&n("attn_k.weight"), &[d, nkv])?,
                wv: weights.get(&n("attn_v.weight"), &[d, nkv])?,
                bq: bias("attn_q.bias", nq)?,
                bk: bias("attn_k.bias", nkv)?,
                bv: bias("attn_v.bias", nkv)?,
                wo: weights.get(&n("attn_output.weight"), &[nq, d])?,
                ffn_norm: weights.get_f32(&n("ffn_norm.weight"), &[d])?,
                w_gate: weights.get(&n("ffn_gate.weight"), &[d, ff])?,
                w_up: weights.get(&n("ffn_up.weight"), &[d, ff])?,
                w_down: weights.get(&n("ffn_down.weight"), &[ff, d])?,
            });
        }
        let n_ctx = opts.context_length.unwrap_or(hp.n_ctx_train).max(1);
        let batch = opts.batch_size.clamp(1, n_ctx);
        let kv = KvCache::new(&backend, &hp, n_ctx)?;
        let scratch = Scratch::new(&backend, &hp, batch)?;
        Ok(Transformer {
            backend,
            hp,
            arch,
            tok_embd,
            output_norm,
            output,
            rope_freqs,
            layers,
            decode_graph: None,
            use_graphs: opts.graphs,
            kv,
            scratch,
            n_ctx,
            batch,
            _weights: weights,
        })
    }

    pub fn hparams(&self) -> &HParams {
        &self.hp
    }

    fn run(&self, op: Op<'_>) -> Result<(), BackendError> {
        self.backend.run(&op)
    }

    /// `out = w·x (+ b)`; `tmp` holds the product when there is a bias.
    fn linear(
        &self,
        w: &TensorDesc,
        b: &TensorDesc,
        x: TensorDesc,
        tmp: TensorDesc,
        out: TensorDesc,
    ) -> Result<(), BackendError> {
        if b.is_none() {
            return self.run(Op::Matmul(&MatmulArgs { w: *w, x, out }));
        }
        self.run(Op::Matmul(&MatmulArgs { w: *w, x, out: tmp }))?;
        self.run(Op::Add(&BinaryArgs { a: tmp, b: *b, out }))
    }

    fn rms_norm(&self, x: TensorDesc, weight: &TensorDesc, out: TensorDesc) -> Result<(), BackendError> {
        self.run(Op::RmsNorm(&NormArgs {
            x,
            weight: *weight,
            bias: TensorDesc::NONE,
            out,
            eps: self.hp.rms_eps,
            _reserved: 0,
        }))
    }

    /// One chunk of at most `batch` tokens at `start`; returns logits of the
    /// last token or of all of them, or nothing (`None`: the chunk only fills
    /// the KV cache, with no output layer and no blocking download).
    fn forward_chunk(
        &mut self,
        tokens: &[u32],
        start: usize,
        logits: Option<Logits>,
    ) -> Result<Vec<f32>, BackendError> {
        let n = tokens.len();
        self.upload_inputs(tokens, start)?;
        let rows = match logits {
            None => None,
            Some(Logits::Last) => Some((n - 1, 1)),
            Some(Logits::All) => Some((0, n)),
        };
        if n == 1 && rows.is_some() && self.use_graphs {
            if self.decode_graph.is_none() {
                match Graph::record(&self.backend, || self.enqueue(1, rows))? {
                    Some(g) => self.decode_graph = Some(g),
                    None => self.use_graphs = false, // the backend does not record graphs
                }
            }
            if let Some(g) = &self.decode_graph {
                g.launch()?;
                return self.download_logits(rows);
            }
        }
        self.enqueue(n, rows)?;
        self.download_logits(rows)
    }

    /// Token ids, positions and the sequence table of a chunk, into scratch.
    fn upload_inputs(&self, tokens: &[u32], start: usize) -> Result<(), BackendError> {
        let s = &self.scratch;
        let n = tokens.len();
        let ids: Vec<i32> = tokens.iter().map(|&t| t as i32).collect();
        let pos: Vec<i32> = (start..start + n).map(|p| p as i32).collect();
        let seqs = [0i32, n as i32, (start + n) as i32];
        upload_i32(&s.buf, &s.ids, &ids)?;
        upload_i32(&s.buf, &s.pos, &pos)?;
        upload_i32(&s.buf, &s.seqs, &seqs)
    }

    /// Enqueue the forward pass of the `n` tokens uploaded, and the output
    /// layer for `rows` = (first, count) of them if wanted. Reads its inputs
    /// from scratch only, so a recording replays for any position.
    fn enqueue(&self, n: usize, rows: Option<(usize, usize)>) -> Result<(), BackendError> {
        let s = &self.scratch;
        let hp = &self.hp;
        let (hd, nh, nkv) = (hp.head_dim, hp.n_head, hp.n_head_kv);
        let ids_t = cols(&s.ids, n);
        let pos_t = cols(&s.pos, n);
        // Positions double as cache slots: the sequence owns blocks 0.. in order.
        let slots_t = pos_t;

        self.run(Op::GetRows(&GetRowsArgs { table: self.tok_embd, ids: ids_t, out: cols(&s.x, n) }))?;
        let rope = |x: TensorDesc, heads: usize, out: TensorDesc| {
            self.run(Op::Rope(&RopeArgs {
                x: reshape(&x, &[hd, heads, n]),
                positions: pos_t,
                freq_factors: self.rope_freqs,
                out: reshape(&out, &[hd, heads, n]),
                params: hp.rope,
            }))
        };
        for (li, l) in self.layers.iter().enumerate() {
            let x = cols(&s.x, n);
            let xb = cols(&s.xb, n);
            self.rms_norm(x, &l.attn_norm, xb)?;
            self.linear(&l.wq, &l.bq, xb, cols(&s.q_lin, n), cols(&s.q, n))?;
            self.linear(&l.wk, &l.bk, xb, cols(&s.k_lin, n), cols(&s.k, n))?;
            self.linear(&l.wv, &l.bv, xb, cols(&s.v_lin, n), cols(&s.v, n))?;
            rope(cols(&s.q, n), nh, cols(&s.q_rope, n))?;
            rope(cols(&s.k, n), nkv, cols(&s.k_rope, n))?;
            let (k_cache, v_cache) = self.kv.layer(li, hp);
            let k_rows = reshape(&k_cache, &[hd * nkv, KV_BLOCK_LEN * self.kv.n_blocks]);
            let v_rows = reshape(&v_cache, &[hd * nkv, KV_BLOCK_LEN * self.kv.n_blocks]);
            self.run(Op::SetRows(&SetRowsArgs { src: cols(&s.k_rope, n), ids: slots_t, dst: k_rows }))?;
            self.run(Op::SetRows(&SetRowsArgs { src: cols(&s.v, n), ids: slots_t, dst: v_rows }))?;
            self.run(Op::Attention(&AttentionArgs {
                q: reshape(&cols(&s.q_rope, n), &[hd, nh, n]),
                k_cache,
                v_cache,
                block_table: self.kv.block_table.tensor(0, DType::I32, &[self.kv.n_blocks, 1]),
                seqs: reshape(&s.seqs, &[3, 1]),
                out: reshape(&cols(&s.attn, n), &[hd, nh, n]),
                params: AttentionParams {
                    scale: 1.0 / (hd as f32).sqrt(),
                    softcap: 0.0,
                    sliding_window: 0,
                    _reserved: 0,
                },
            }))?;
            self.run(Op::Matmul(&MatmulArgs { w: l.wo, x: cols(&s.attn, n), out: cols(&s.o, n) }))?;
            let x2 = cols(&s.x2, n);
            self.run(Op::Add(&BinaryArgs { a: x, b: cols(&s.o, n), out: x2 }))?;
            self.rms_norm(x2, &l.ffn_norm, xb)?;
            self.run(Op::Matmul(&MatmulArgs { w: l.w_gate, x: xb, out: cols(&s.gate, n) }))?;
            self.run(Op::Matmul(&MatmulArgs { w: l.w_up, x: xb, out: cols(&s.up, n) }))?;
            self.run(Op::SiluMul(&GluArgs { gate: cols(&s.gate, n), up: cols(&s.up, n), out: cols(&s.act, n) }))?;
            self.run(Op::Matmul(&MatmulArgs { w: l.w_down, x: cols(&s.act, n), out: cols(&s.down, n) }))?;
            self.run(Op::Add(&BinaryArgs { a: x2, b: cols(&s.down, n), out: x }))?;
        }
        let Some((first, m)) = rows else { return Ok(()) };
        let xb = cols(&s.xb, n);
        self.rms_norm(cols(&s.x, n), &self.output_norm, xb)?;
        let d = hp.n_embd;
        let x_last = TensorDesc::contiguous(xb.buffer, xb.offset + (first * d * 4) as u64, DType::F32, &[d, m]);
        self.run(Op::Matmul(&MatmulArgs { w: self.output, x: x_last, out: cols(&s.logits, m) }))
    }

    /// Download the logits the output layer wrote (blocks until done).
    fn download_logits(&self, rows: Option<(usize, usize)>) -> Result<Vec<f32>, BackendError> {
        let Some((_, m)) = rows else { return Ok(Vec::new()) };
        let out = cols(&self.scratch.logits, m);
        self.scratch.buf.download_f32(out.offset, self.hp.n_vocab * m)
    }
}

impl CausalLm for Transformer {
    fn vocab_size(&self) -> usize {
        self.hp.n_vocab
    }

    fn context_length(&self) -> usize {
        self.n_ctx
    }

    fn forward(&mut self, tokens: &[u32], start_pos: usize, logits: Logits) -> Result<Vec<f32>, BackendError> {
        if tokens.is_empty() {
            return Err(BackendError::InvalidArgument(format!("{}: forward of no tokens", self.arch.name)));
        }
        start_pos.checked_add(tokens.len()).filter(|&e| e <= self.n_ctx).ok_or_else(|| {
            BackendError::InvalidArgument(format!(
                "positions {start_pos}..{} exceed the context length {}",
                start_pos.saturating_add(tokens.len()),
                self.n_ctx
            ))
        })?;
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= self.hp.n_vocab) {
            return Err(BackendError::InvalidArgument(format!(
                "token id {bad} is outside the vocabulary ({})",
                self.hp.n_vocab
            )));
        }
        let mut out = Vec::new();
        let chunks: Vec<&[u32]> = tokens.chunks(self.batch).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let pos = start_pos + i * self.batch;
            let last = i + 1 == chunks.len();
            // For the last token's logits, earlier chunks only fill the KV cache.
            let want = match logits {
                Logits::Last if !last => None,
                l => Some(l),
            };
            out.extend(self.forward_chunk(chunk, pos, want)?);
        }
        Ok(out)
    }
}

impl KvCache {
    fn new(backend: &Arc<dyn Backend>, hp: &HParams, n_ctx: usize) -> Result<KvCache> {
        let n_blocks = n_ctx.div_ceil(KV_BLOCK_LEN);
        let layer_bytes =
            KV_DTYPE.row_bytes((hp.head_dim * hp.n_head_kv * KV_BLOCK_LEN * n_blocks) as u64).unwrap_or(0);
        let total = layer_bytes * hp.n_layer as u64;
        let k = DeviceBuffer::alloc(backend, total)?;
        let v = DeviceBuffer::alloc(backend, total)?;
        let table: Vec<i32> = (0..n_blocks as i32).collect();
        let block_table = DeviceBuffer::alloc(backend, 4 * n_blocks as u64)?;
        block_table.upload(0, &i32_bytes(&table))?;
        Ok(KvCache { k, v, block_table, n_blocks, layer_bytes })
    }

    fn layer(&self, i: usize, hp: &HParams) -> (TensorDesc, TensorDesc) {
        let shape = [hp.head_dim, hp.n_head_kv, KV_BLOCK_LEN, self.n_blocks];
        let off = self.layer_bytes * i as u64;
        (self.k.tensor(off, KV_DTYPE, &shape), self.v.tensor(off, KV_DTYPE, &shape))
    }
}

impl Scratch {
    fn new(backend: &Arc<dyn Backend>, hp: &HParams, n: usize) -> Result<Scratch> {
        let mut p = Plan { size: 0 };
        let (d, hd, ff) = (hp.n_embd, hp.head_dim, hp.n_ff);
        let (nq, nkv) = (hp.n_head * hd, hp.n_head_kv * hd);
        let f = DType::F32;
        let plan = [
            p.take(DType::I32, &[n]),
            p.take(DType::I32, &[n]),
            p.take(DType::I32, &[3]),
            p.take(f, &[d, n]),
            p.take(f, &[d, n]),
            p.take(f, &[d, n]),
            p.take(f, &[nq, n]),
            p.take(f, &[nq, n]),
            p.take(f, &[nq, n]),
            p.take(f, &[nkv, n]),
            p.take(f, &[nkv, n]),
            p.take(f, &[nkv, n]),
            p.take(f, &[nkv, n]),
            p.take(f, &[nkv, n]),
            p.take(f, &[nq, n]),
            p.take(f, &[d, n]),
            p.take(f, &[ff, n]),
            p.take(f, &[ff, n]),
            p.take(f, &[ff, n]),
            p.take(f, &[d, n]),
            p.take(f, &[hp.n_vocab, n]),
        ];
        let buf = DeviceBuffer::alloc(backend, p.size)?;
        let t = |i: usize| {
            let (off, dt, ref shape) = plan[i];
            buf.tensor(off, dt, shape)
        };
        Ok(Scratch {
            ids: t(0),
            pos: t(1),
            seqs: t(2),
            x: t(3),
            x2: t(4),
            xb: t(5),
            q_lin: t(6),
            q: t(7),
            q_rope: t(8),
            k_lin: t(9),
            k: t(10),
            k_rope: t(11),
            v_lin: t(12),
            v: t(13),
            attn: t(14),
            o: t(15),
            gate: t(16),
            up: t(17),
            act: t(18),
            down: t(19),
            logits: t(20),
            buf,
        })
    }
}

/// The first `n` columns (outermost index) of a contiguous 1-D or 2-D tensor.
fn cols(t: &TensorDesc, n: usize) -> TensorDesc {
    let dims = if t.ne[1] == 1 && t.ne[2] == 1 { vec![n] } else { vec![t.ne[0] as usize, n] };
    let dt = t.dtype().expect("scratch tensors have known types");
    TensorDesc::contiguous(t.buffer, t.offset, dt, &dims)
}

/// The same contiguous bytes seen with another shape.
fn reshape(t: &TensorDesc, shape: &[usize]) -> TensorDesc {
    let dt = t.dtype().expect("scratch tensors have known types");
    debug_assert_eq!(t.elements(), Some(shape.iter().product::<usize>() as u64), "reshape keeps the element count");
    TensorDesc::contiguous(t.buffer, t.offset, dt, shape)
}

fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn upload_i32(buf: &DeviceBuffer, t: &TensorDesc, v: &[i32]) -> Result<(), BackendError> {
    buf.upload(t.offset, &i32_bytes(v))
}
