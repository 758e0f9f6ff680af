//! `attention`: causal (optionally sliding-window, soft-capped) attention of
//! a batch of sequences against the paged KV cache.
//!
//! Per sequence `s` with `(q_start, n_q, kv_len)`, query token `j` sits at
//! position `pos = kv_len - n_q + j` and head `h` reads kv head
//! `h / (n_head / n_kv_head)`. Over the visible positions `p` (`p <= pos`,
//! and `p > pos - window` when `window > 0`):
//! - `score_p = scale · (q · k_p)` (the dot in f32, in matmul's fixed order),
//!   then `softcap · tanh(score_p / softcap)` when `softcap > 0` (scale
//!   first, as Gemma 2's reference does);
//! - `w_p = exp(score_p - max) / Σ exp(...)`: exps in f32, their sum in f64,
//!   `w_p = e_p · (1 / sum)` in f32, as ggml's `soft_max`;
//! - `out = Σ_p w_p · v_p`, accumulated in f32 in ascending `p`.
//!
//! Everything that depends on the data (the ranges in `seqs`, the block
//! ids) is checked before anything is read from the cache: a bad call is an
//! `InvalidArgument`, never a panic or an out-of-bounds read. Output rows of
//! tokens that belong to no sequence are zero.
//!
//! Each sequence's keys and values are first converted to f32 once
//! (`[kv_len][n_kv_head][head_dim]`); the scores then run in parallel over
//! `(token, head)`.

use rayon::prelude::*;
use rocmforge_backend_api::op::AttentionArgs;
use rocmforge_backend_api::Result;

use super::matmul::dot;
use super::{dim, input, invalid, output, put_f32, quant_failure, Src};
use crate::quant::dequantize_row;
use crate::storage::Storage;

/// One sequence of the batch, checked.
struct Seq {
    q_start: usize,
    n_q: usize,
    kv_len: usize,
    /// The cache block of each `block_len` positions, in order.
    blocks: Vec<usize>,
}

/// The cache geometry, from `k_cache`'s descriptor.
struct Cache {
    head_dim: usize,
    n_kv_head: usize,
    block_len: usize,
    n_blocks: usize,
}

pub(crate) fn attention(s: &Storage, a: &AttentionArgs) -> Result<()> {
    let q = input(s, &a.q)?.to_f32();
    let kc = input(s, &a.k_cache)?;
    let vc = input(s, &a.v_cache)?;
    let table = input(s, &a.block_table)?.to_i32();
    let seq_info = input(s, &a.seqs)?.to_i32();
    let out = output(s, &a.out)?;
    let (head_dim, n_head, n_tokens) = (dim(a.q.ne[0]), dim(a.q.ne[1]), dim(a.q.ne[2]));
    let cache = Cache {
        head_dim,
        n_kv_head: dim(a.k_cache.ne[1]),
        block_len: dim(a.k_cache.ne[2]),
        n_blocks: dim(a.k_cache.ne[3]),
    };
    let max_blocks = dim(a.block_table.ne[0]);
    let seqs = check_seqs(&seq_info, &table, max_blocks, &cache, n_tokens)?;
    if head_dim == 0 || n_head == 0 || n_tokens == 0 {
        return Ok(());
    }
    // Validation guarantees n_kv_head > 0 and divides n_head.
    let group = (n_head / cache.n_kv_head.max(1)).max(1);

    // Which sequence each token belongs to (no overlaps: checked).
    let mut token_seq = vec![None; n_tokens];
    for (i, sq) in seqs.iter().enumerate() {
        for t in &mut token_seq[sq.q_start..sq.q_start + sq.n_q] {
            *t = Some(i);
        }
    }
    // Keys and values of every sequence with queries, as f32.
    let kv: Vec<(Vec<f32>, Vec<f32>)> = seqs
        .iter()
        .map(|sq| {
            if sq.n_q == 0 {
                return Ok((Vec::new(), Vec::new()));
            }
            Ok((gather(&kc, &cache, sq)?, gather(&vc, &cache, sq)?))
        })
        .collect::<Result<_>>()?;

    let scale = a.params.scale;
    let softcap = a.params.softcap;
    let window = a.params.sliding_window as usize;
    let pos_len = cache.n_kv_head * head_dim; // f32s per position in `kv`
    out.bytes.par_chunks_mut(head_dim * 4).enumerate().for_each_init(
        || (Vec::new(), vec![0f32; head_dim]),
        |(scores, acc): &mut (Vec<f32>, Vec<f32>), (row, dst)| {
            let (t, h) = (row / n_head, row % n_head);
            acc.fill(0.0);
            if let Some(si) = token_seq[t] {
                let sq = &seqs[si];
                let (keys, values) = &kv[si];
                let pos = sq.kv_len - sq.n_q + (t - sq.q_start);
                let first = if window > 0 { (pos + 1).saturating_sub(window) } else { 0 };
                let at = |p: usize| (p * pos_len + (h / group) * head_dim)..(p * pos_len + (h / group + 1) * head_dim);
                let qv = &q[row * head_dim..(row + 1) * head_dim];

                scores.clear();
                let mut max = f32::NEG_INFINITY;
                for p in first..=pos {
                    let mut sc = dot(qv, &keys[at(p)]) * scale;
                    if softcap > 0.0 {
                        sc = softcap * (sc / softcap).tanh();
                    }
                    max = max.max(sc);
                    scores.push(sc);
                }
                let mut sum = 0f64;
                for sc in scores.iter_mut() {
                    *sc = (*sc - max).exp();
                    sum += f64::from(*sc);
                }
                let inv = (1.0 / sum) as f32;
                for (p, &e) in (first..=pos).zip(scores.iter()) {
                    let wgt = e * inv;
                    for (o, &v) in acc.iter_mut().zip(&values[at(p)]) {
                        *o += wgt * v;
                    }
                }
            }
            put_f32(dst, acc);
        },
    );
    Ok(())
}

/// Checks every sequence against the batch and the cache, and resolves its
/// blocks. Reads `table` only at indices proven in range.
fn check_seqs(info: &[i32], table: &[i32], max_blocks: usize, c: &Cache, n_tokens: usize) -> Result<Vec<Seq>> {
    let err = |s: usize, msg: String| invalid("attention", format!("sequence {s}: {msg}"));
    let mut seqs = Vec::with_capacity(info.len() / 3);
    for (s, v) in info.chunks_exact(3).enumerate() {
        let field =
            |i: usize, name: &str| usize::try_from(v[i]).map_err(|_| err(s, format!("{name} = {} is negative", v[i])));
        let (q_start, n_q, kv_len) = (field(0, "q_start")?, field(1, "n_query")?, field(2, "kv_len")?);
        if q_start + n_q > n_tokens {
            return Err(err(s, format!("query tokens {q_start}..{} exceed the batch of {n_tokens}", q_start + n_q)));
        }
        if n_q > kv_len {
            return Err(err(s, format!("{n_q} queries but only {kv_len} kv positions")));
        }
        if kv_len > 0 && c.block_len == 0 {
            return Err(err(s, "kv positions in a cache of 0-position blocks".into()));
        }
        let needed = if kv_len == 0 { 0 } else { kv_len.div_ceil(c.block_len) };
        if needed > max_blocks {
            return Err(err(s, format!("kv_len {kv_len} needs {needed} blocks, the block table has {max_blocks}")));
        }
        let blocks = (0..needed)
            .map(|b| {
                let id = table.get(s * max_blocks + b).copied().unwrap_or(-1);
                usize::try_from(id)
                    .ok()
                    .filter(|&i| i < c.n_blocks)
                    .ok_or_else(|| err(s, format!("block {b} is cache block {id}, the cache has {}", c.n_blocks)))
            })
            .collect::<Result<Vec<_>>>()?;
        seqs.push(Seq { q_start, n_q, kv_len, blocks });
    }
    let mut ranges: Vec<(usize, usize, usize)> =
        seqs.iter().enumerate().filter(|(_, q)| q.n_q > 0).map(|(s, q)| (q.q_start, q.q_start + q.n_q, s)).collect();
    ranges.sort_unstable();
    for w in ranges.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(invalid(
                "attention",
                format!(
                    "sequences {} and {} share query tokens ({}..{} and {}..{})",
                    w[0].2, w[1].2, w[0].0, w[0].1, w[1].0, w[1].1
                ),
            ));
        }
    }
    Ok(seqs)
}

/// A sequence's cache rows `0..kv_len` as f32, `[kv_len][n_kv_head][head_dim]`.
/// The cache is contiguous (validated), so a position's heads are one run.
fn gather(cache: &Src<'_>, c: &Cache, sq: &Seq) -> Result<Vec<f32>> {
    let dtype = cache.dtype();
    let pos_len = c.n_kv_head * c.head_dim;
    let pos_bytes = dtype.block_bytes() * pos_len;
    let (nb2, nb3) = (dim(cache.desc.nb[2]), dim(cache.desc.nb[3]));
    let mut out = vec![0f32; sq.kv_len * pos_len];
    if pos_len == 0 {
        return Ok(out);
    }
    out.par_chunks_mut(pos_len).enumerate().try_for_each(|(p, dst)| {
        let at = sq.blocks[p / c.block_len] * nb3 + (p % c.block_len) * nb2;
        let bytes = cache
            .bytes
            .get(at..at + pos_bytes)
            .ok_or_else(|| invalid("attention", format!("cache position {p} lies outside the cache")))?;
        dequantize_row(dtype, bytes, dst).map_err(|e| quant_failure("attention", e))
    })?;
    Ok(out)
}
