//! The operations a backend runs, at the granularity of inference (a fused
//! norm, a whole attention), not of tensor algebra.
//!
//! Each op has a `#[repr(C)]` argument struct of tensor descriptors and sized
//! scalars. The same struct is what a Rust backend receives in process and
//! what crosses the C ABI, so there is one definition of every op's contract.
//!
//! Conventions for every op (checked by [`crate::validate`] on the host):
//! - shapes are ggml's (`ne[0]` innermost); unless an op says otherwise every
//!   tensor is contiguous;
//! - the output never overlaps an input (in-place updates ping-pong between
//!   buffers instead), so a backend may read inputs while writing outputs;
//! - activations are F32 unless an op lists other types.

use crate::TensorDesc;

/// Names of the ops, as numbers that cross the ABI. New ops are appended; a
/// plugin answers `Unsupported` for a kind it does not know.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    Matmul = 1,
    GetRows = 2,
    SetRows = 3,
    RmsNorm = 4,
    LayerNorm = 5,
    Rope = 6,
    Attention = 7,
    Add = 8,
    Mul = 9,
    Scale = 10,
    SiluMul = 11,
    GeluMul = 12,
    Softmax = 13,
    Argmax = 14,
    Copy = 15,
}

impl OpKind {
    pub const ALL: [OpKind; 15] = [
        OpKind::Matmul,
        OpKind::GetRows,
        OpKind::SetRows,
        OpKind::RmsNorm,
        OpKind::LayerNorm,
        OpKind::Rope,
        OpKind::Attention,
        OpKind::Add,
        OpKind::Mul,
        OpKind::Scale,
        OpKind::SiluMul,
        OpKind::GeluMul,
        OpKind::Softmax,
        OpKind::Argmax,
        OpKind::Copy,
    ];

    pub fn from_u32(v: u32) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|k| *k as u32 == v)
    }

    /// The op's name everywhere: vtable docs, kernels, tests, `rocmforge check`.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Matmul => "matmul",
            OpKind::GetRows => "get_rows",
            OpKind::SetRows => "set_rows",
            OpKind::RmsNorm => "rms_norm",
            OpKind::LayerNorm => "layer_norm",
            OpKind::Rope => "rope",
            OpKind::Attention => "attention",
            OpKind::Add => "add",
            OpKind::Mul => "mul",
            OpKind::Scale => "scale",
            OpKind::SiluMul => "silu_mul",
            OpKind::GeluMul => "gelu_mul",
            OpKind::Softmax => "softmax",
            OpKind::Argmax => "argmax",
            OpKind::Copy => "copy",
        }
    }
}

/// `out = x · wᵀ` like `ggml_mul_mat(w, x)`: `w` is `[K, N]` weights in any
/// [`crate::DType::WEIGHTS`] type, kept in their GGUF block layout; `x` is
/// `[K, M]` F32 or F16 activations; `out` is `[N, M]` F32.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MatmulArgs {
    pub w: TensorDesc,
    pub x: TensorDesc,
    pub out: TensorDesc,
}

/// Embedding lookup: `out[:, i] = table[:, ids[i]]`. `table` is `[K, V]` in
/// any weight type, `ids` is `[M]` I32, `out` is `[K, M]` F32. An id outside
/// `0..V` is an error on backends that can report it synchronously (CPU) and
/// yields a zero row elsewhere; it never reads out of bounds.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GetRowsArgs {
    pub table: TensorDesc,
    pub ids: TensorDesc,
    pub out: TensorDesc,
}

/// Scatter rows: `dst[:, ids[i]] = src[:, i]`, converting F32 to `dst`'s type
/// (F32, F16 or BF16). This is how new keys and values enter the KV cache
/// (viewed as rows of `head_dim * n_kv_head`, one per slot). `src` is `[K, M]`
/// F32, `ids` `[M]` I32, `dst` `[K, R]`; out-of-range ids are skipped (and
/// reported where the backend can).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SetRowsArgs {
    pub src: TensorDesc,
    pub ids: TensorDesc,
    pub dst: TensorDesc,
}

/// `rms_norm`: `out = x / sqrt(mean(x²) + eps) * weight`.
/// `layer_norm`: `out = (x - mean) / sqrt(var + eps) * weight + bias`.
/// Rows are `ne[0]` long; `weight` and `bias` are `[ne0]` F32 and optional
/// ([`TensorDesc::NONE`]); `rms_norm` takes no bias.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NormArgs {
    pub x: TensorDesc,
    pub weight: TensorDesc,
    pub bias: TensorDesc,
    pub out: TensorDesc,
    pub eps: f32,
    pub _reserved: u32,
}

/// Rotary position embedding, as ggml's `rope_ext` with YaRN.
/// `x` and `out` are `[head_dim, n_heads, n_tokens]` F32; `positions` is
/// `[n_tokens]` I32; `freq_factors` (optional) is `[n_dims / 2]` F32 and
/// divides each pair's base frequency (Llama 3 scaling ships it as the
/// `rope_freqs` tensor).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RopeArgs {
    pub x: TensorDesc,
    pub positions: TensorDesc,
    pub freq_factors: TensorDesc,
    pub out: TensorDesc,
    pub params: RopeParams,
}

/// Rotation pairs: [`ROPE_NORMAL`] rotates `(x[2i], x[2i+1])`, [`ROPE_NEOX`]
/// rotates `(x[i], x[i + n_dims/2])`; the values are ggml's `mode` numbers.
pub const ROPE_NORMAL: u32 = 0;
pub const ROPE_NEOX: u32 = 2;

/// Rope parameters, named as in ggml's `rope_ext`; `freq_scale = 1 / linear
/// factor`, `ext_factor = 0` disables YaRN.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RopeParams {
    /// Number of leading dims of each head that rotate (≤ head_dim, even).
    pub n_dims: u32,
    /// [`ROPE_NORMAL`] or [`ROPE_NEOX`].
    pub mode: u32,
    /// Training context length YaRN corrects against.
    pub n_ctx_orig: u32,
    pub _reserved: u32,
    pub freq_base: f32,
    pub freq_scale: f32,
    pub ext_factor: f32,
    pub attn_factor: f32,
    pub beta_fast: f32,
    pub beta_slow: f32,
}

impl RopeParams {
    /// Ratio of pair `i+1`'s frequency to pair `i`'s: `freq_base^(-2/n_dims)`
    /// (ggml's `theta_scale`; the angle of pair `i` is `pos * theta_scale^i`,
    /// built by repeated multiplication in ggml's order).
    pub fn theta_scale(&self) -> f32 {
        self.freq_base.powf(-2.0 / self.n_dims as f32)
    }

    /// ggml's `ggml_rope_yarn_corr_dims`: the first and last pair dims YaRN
    /// blends, from the rotations `beta_fast`/`beta_slow` over the training
    /// context, in f32 as ggml computes them (every backend uses this one
    /// definition so they agree bit for bit on it).
    pub fn yarn_corr_dims(&self) -> [f32; 2] {
        use std::f32::consts::PI;
        let n_dims = self.n_dims as f32;
        let corr_dim =
            |n_rot: f32| n_dims * (self.n_ctx_orig as f32 / (n_rot * 2.0 * PI)).ln() / (2.0 * self.freq_base.ln());
        let start = corr_dim(self.beta_fast).floor();
        let end = corr_dim(self.beta_slow).ceil();
        // ggml's MAX/MIN macros: `0 > start ? 0 : start`, `n-1 < end ? n-1 : end`.
        let lo = if 0.0 > start { 0.0 } else { start };
        let last = self.n_dims.saturating_sub(1) as f32;
        let hi = if last < end { last } else { end };
        [lo, hi]
    }

    /// Magnitude multiplier of the rotated pairs: `attn_factor`, times YaRN's
    /// `1 + 0.1 ln(1 / freq_scale)` when YaRN is on (ggml's `rope_yarn`).
    pub fn mscale(&self) -> f32 {
        if self.ext_factor != 0.0 {
            self.attn_factor * (1.0 + 0.1 * (1.0 / self.freq_scale).ln())
        } else {
            self.attn_factor
        }
    }

    /// Plain rope (no scaling) over `n_dims` dims.
    pub fn plain(n_dims: u32, mode: u32, freq_base: f32) -> Self {
        RopeParams {
            n_dims,
            mode,
            n_ctx_orig: 0,
            _reserved: 0,
            freq_base,
            freq_scale: 1.0,
            ext_factor: 0.0,
            attn_factor: 1.0,
            beta_fast: 32.0,
            beta_slow: 1.0,
        }
    }
}

/// Attention of queries against a paged KV cache, for a batch of sequences of
/// different lengths (prefill, decode, or both mixed).
///
/// - `q`, `out`: `[head_dim, n_head, n_tokens]` F32, the tokens of all
///   sequences back to back.
/// - `k_cache`, `v_cache`: `[head_dim, n_kv_head, block_len, n_blocks]` in
///   F32, F16 or BF16: the cache is a pool of blocks of `block_len` positions.
/// - `block_table`: `[max_blocks, n_seqs]` I32: sequence `s`'s position `p`
///   lives in block `block_table[p / block_len, s]` at slot `p % block_len`.
/// - `seqs`: `[3, n_seqs]` I32: per sequence `(first token in q, number of
///   query tokens, kv length)`. Its queries are the last positions of its kv:
///   query `j` sits at position `kv_len - n_query + j` and sees positions
///   `≤` its own (causal), and with a sliding window `w > 0` only those
///   within `w` of it.
///
/// `n_head` must be a multiple of `n_kv_head` (GQA/MQA): query head `h` reads
/// kv head `h / (n_head / n_kv_head)`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct AttentionArgs {
    pub q: TensorDesc,
    pub k_cache: TensorDesc,
    pub v_cache: TensorDesc,
    pub block_table: TensorDesc,
    pub seqs: TensorDesc,
    pub out: TensorDesc,
    pub params: AttentionParams,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionParams {
    /// Multiplies `q·k` (usually `1/sqrt(head_dim)`).
    pub scale: f32,
    /// `> 0`: scores become `softcap * tanh(score / softcap)` (Gemma 2).
    pub softcap: f32,
    /// `> 0`: keys further back than this many positions are masked.
    pub sliding_window: u32,
    pub _reserved: u32,
}

/// `add`, `mul`: `out = a ∘ b` with `b` broadcast over `a` (each `b.ne[i]`
/// divides `a.ne[i]`, as ggml's `can_repeat`). All F32.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BinaryArgs {
    pub a: TensorDesc,
    pub b: TensorDesc,
    pub out: TensorDesc,
}

/// `out = x * scale` (F32).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ScaleArgs {
    pub x: TensorDesc,
    pub out: TensorDesc,
    pub scale: f32,
    pub _reserved: u32,
}

/// Gated linear units: `silu_mul`: `out = silu(gate) * up` (SwiGLU);
/// `gelu_mul`: `out = gelu(gate) * up` (GeGLU, tanh approximation as ggml and
/// `gelu_pytorch_tanh`). All F32, same shapes.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GluArgs {
    pub gate: TensorDesc,
    pub up: TensorDesc,
    pub out: TensorDesc,
}

/// Row-wise `out = softmax(x * scale)` over `ne[0]` (F32).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SoftmaxArgs {
    pub x: TensorDesc,
    pub out: TensorDesc,
    pub scale: f32,
    pub _reserved: u32,
}

/// Row-wise index of the maximum (first one on ties): `x` `[N, rows]` F32,
/// `out` `[rows]` I32.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ArgmaxArgs {
    pub x: TensorDesc,
    pub out: TensorDesc,
}

/// Element-wise copy with type conversion between F32, F16 and BF16 (or I32
/// to I32). Same element count and shape; either side may be strided, so this
/// is also how views are made contiguous.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CopyArgs {
    pub src: TensorDesc,
    pub dst: TensorDesc,
}

/// One op call: the kind and its arguments. Backends implement
/// [`crate::Backend::run`] as one `match` over this.
#[derive(Clone, Copy, Debug)]
pub enum Op<'a> {
    Matmul(&'a MatmulArgs),
    GetRows(&'a GetRowsArgs),
    SetRows(&'a SetRowsArgs),
    RmsNorm(&'a NormArgs),
    LayerNorm(&'a NormArgs),
    Rope(&'a RopeArgs),
    Attention(&'a AttentionArgs),
    Add(&'a BinaryArgs),
    Mul(&'a BinaryArgs),
    Scale(&'a ScaleArgs),
    SiluMul(&'a GluArgs),
    GeluMul(&'a GluArgs),
    Softmax(&'a SoftmaxArgs),
    Argmax(&'a ArgmaxArgs),
    Copy(&'a CopyArgs),
}

/// An [`Op`] holding its arguments by value, for backends that keep ops
/// (a recorded graph on a backend without device graphs).
#[derive(Clone, Copy, Debug)]
pub enum OwnedOp {
    Matmul(MatmulArgs),
    GetRows(GetRowsArgs),
    SetRows(SetRowsArgs),
    RmsNorm(NormArgs),
    LayerNorm(NormArgs),
    Rope(RopeArgs),
    Attention(AttentionArgs),
    Add(BinaryArgs),
    Mul(BinaryArgs),
    Scale(ScaleArgs),
    SiluMul(GluArgs),
    GeluMul(GluArgs),
    Softmax(SoftmaxArgs),
    Argmax(ArgmaxArgs),
    Copy(CopyArgs),
}

impl OwnedOp {
    pub fn as_op(&self) -> Op<'_> {
        match self {
            OwnedOp::Matmul(a) => Op::Matmul(a),
            OwnedOp::GetRows(a) => Op::GetRows(a),
            OwnedOp::SetRows(a) => Op::SetRows(a),
            OwnedOp::RmsNorm(a) => Op::RmsNorm(a),
            OwnedOp::LayerNorm(a) => Op::LayerNorm(a),
            OwnedOp::Rope(a) => Op::Rope(a),
            OwnedOp::Attention(a) => Op::Attention(a),
            OwnedOp::Add(a) => Op::Add(a),
            OwnedOp::Mul(a) => Op::Mul(a),
            OwnedOp::Scale(a) => Op::Scale(a),
            OwnedOp::SiluMul(a) => Op::SiluMul(a),
            OwnedOp::GeluMul(a) => Op::GeluMul(a),
            OwnedOp::Softmax(a) => Op::Softmax(a),
            OwnedOp::Argmax(a) => Op::Argmax(a),
            OwnedOp::Copy(a) => Op::Copy(a),
        }
    }
}

impl Op<'_> {
    /// The same op with its arguments copied.
    pub fn to_owned_op(&self) -> OwnedOp {
        match *self {
            Op::Matmul(a) => OwnedOp::Matmul(*a),
            Op::GetRows(a) => OwnedOp::GetRows(*a),
            Op::SetRows(a) => OwnedOp::SetRows(*a),
            Op::RmsNorm(a) => OwnedOp::RmsNorm(*a),
            Op::LayerNorm(a) => OwnedOp::LayerNorm(*a),
            Op::Rope(a) => OwnedOp::Rope(*a),
            Op::Attention(a) => OwnedOp::Attention(*a),
            Op::Add(a) => OwnedOp::Add(*a),
            Op::Mul(a) => OwnedOp::Mul(*a),
            Op::Scale(a) => OwnedOp::Scale(*a),
            Op::SiluMul(a) => OwnedOp::SiluMul(*a),
            Op::GeluMul(a) => OwnedOp::GeluMul(*a),
            Op::Softmax(a) => OwnedOp::Softmax(*a),
            Op::Argmax(a) => OwnedOp::Argmax(*a),
            Op::Copy(a) => OwnedOp::Copy(*a),
        }
    }

    pub fn kind(&self) -> OpKind {
        match self {
            Op::Matmul(_) => OpKind::Matmul,
            Op::GetRows(_) => OpKind::GetRows,
            Op::SetRows(_) => OpKind::SetRows,
            Op::RmsNorm(_) => OpKind::RmsNorm,
            Op::LayerNorm(_) => OpKind::LayerNorm,
            Op::Rope(_) => OpKind::Rope,
            Op::Attention(_) => OpKind::Attention,
            Op::Add(_) => OpKind::Add,
            Op::Mul(_) => OpKind::Mul,
            Op::Scale(_) => OpKind::Scale,
            Op::SiluMul(_) => OpKind::SiluMul,
            Op::GeluMul(_) => OpKind::GeluMul,
            Op::Softmax(_) => OpKind::Softmax,
            Op::Argmax(_) => OpKind::Argmax,
            Op::Copy(_) => OpKind::Copy,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Pointer to the argument struct, for the C ABI.
    pub fn args_ptr(&self) -> *const std::ffi::c_void {
        fn p<T>(r: &T) -> *const std::ffi::c_void {
            r as *const T as *const std::ffi::c_void
        }
        match *self {
            Op::Matmul(a) => p(a),
            Op::GetRows(a) => p(a),
            Op::SetRows(a) => p(a),
            Op::RmsNorm(a) | Op::LayerNorm(a) => p(a),
            Op::Rope(a) => p(a),
            Op::Attention(a) => p(a),
            Op::Add(a) | Op::Mul(a) => p(a),
            Op::Scale(a) => p(a),
            Op::SiluMul(a) | Op::GeluMul(a) => p(a),
            Op::Softmax(a) => p(a),
            Op::Argmax(a) => p(a),
            Op::Copy(a) => p(a),
        }
    }

    /// Rebuild an op from its C ABI form.
    ///
    /// # Safety
    /// `args` must point to a live, properly aligned value of the argument
    /// struct that `kind` names, valid for the returned lifetime.
    pub unsafe fn from_raw<'a>(kind: OpKind, args: *const std::ffi::c_void) -> Op<'a> {
        // SAFETY: the caller guarantees `args` has the type `kind` names.
        unsafe {
            match kind {
                OpKind::Matmul => Op::Matmul(&*(args as *const MatmulArgs)),
                OpKind::GetRows => Op::GetRows(&*(args as *const GetRowsArgs)),
                OpKind::SetRows => Op::SetRows(&*(args as *const SetRowsArgs)),
                OpKind::RmsNorm => Op::RmsNorm(&*(args as *const NormArgs)),
                OpKind::LayerNorm => Op::LayerNorm(&*(args as *const NormArgs)),
                OpKind::Rope => Op::Rope(&*(args as *const RopeArgs)),
                OpKind::Attention => Op::Attention(&*(args as *const AttentionArgs)),
                OpKind::Add => Op::Add(&*(args as *const BinaryArgs)),
                OpKind::Mul => Op::Mul(&*(args as *const BinaryArgs)),
                OpKind::Scale => Op::Scale(&*(args as *const ScaleArgs)),
                OpKind::SiluMul => Op::SiluMul(&*(args as *const GluArgs)),
                OpKind::GeluMul => Op::GeluMul(&*(args as *const GluArgs)),
                OpKind::Softmax => Op::Softmax(&*(args as *const SoftmaxArgs)),
                OpKind::Argmax => Op::Argmax(&*(args as *const ArgmaxArgs)),
                OpKind::Copy => Op::Copy(&*(args as *const CopyArgs)),
            }
        }
    }

    /// Every tensor operand with its role name. Every op has exactly one
    /// output and it is listed last. Absent optional operands are included
    /// (as [`TensorDesc::NONE`]).
    pub fn operands(&self) -> Vec<(&'static str, &TensorDesc)> {
        match *self {
            Op::Matmul(a) => vec![("w", &a.w), ("x", &a.x), ("out", &a.out)],
            Op::GetRows(a) => vec![("table", &a.table), ("ids", &a.ids), ("out", &a.out)],
            Op::SetRows(a) => vec![("src", &a.src), ("ids", &a.ids), ("dst", &a.dst)],
            Op::RmsNorm(a) | Op::LayerNorm(a) => {
                vec![("x", &a.x), ("weight", &a.weight), ("bias", &a.bias), ("out", &a.out)]
            }
            Op::Rope(a) => {
                vec![("x", &a.x), ("positions", &a.positions), ("freq_factors", &a.freq_factors), ("out", &a.out)]
            }
            Op::Attention(a) => vec![
                ("q", &a.q),
                ("k_cache", &a.k_cache),
                ("v_cache", &a.v_cache),
                ("block_table", &a.block_table),
                ("seqs", &a.seqs),
                ("out", &a.out),
            ],
            Op::Add(a) | Op::Mul(a) => vec![("a", &a.a), ("b", &a.b), ("out", &a.out)],
            Op::Scale(a) => vec![("x", &a.x), ("out", &a.out)],
            Op::SiluMul(a) | Op::GeluMul(a) => vec![("gate", &a.gate), ("up", &a.up), ("out", &a.out)],
            Op::Softmax(a) => vec![("x", &a.x), ("out", &a.out)],
            Op::Argmax(a) => vec![("x", &a.x), ("out", &a.out)],
            Op::Copy(a) => vec![("src", &a.src), ("dst", &a.dst)],
        }
    }
}
