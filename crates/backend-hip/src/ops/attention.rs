//! Launch wrappers for `attention` (`kernels/attention.hip`): causal,
//! optionally sliding-window and soft-capped attention of a batch of
//! sequences (prefill, decode, or both) against the paged KV cache, with
//! GQA/MQA.
//!
//! Two kernels, each correct for any call, picked by shape (the host never
//! reads `seqs` or `block_table`: that would cost a device round trip):
//! - `attention_<kv>_decode_d<DMAX>_r<RD>`: one block per (query token, kv
//!   head, chunk of RD query heads[, split of the kv range]). It also writes
//!   the zero rows of tokens that belong to no sequence, so it runs on every
//!   call. Split S > 1 ways (flash-decoding, see [`decode_splits`]) it writes
//!   partial softmax states to the backend's scratch buffer
//!   ([`HipBackend::scratch`]) and `attention_decode_merge` writes the rows.
//! - `attention_<kv>_prefill_d<DMAX>`: one block per (tile of query tokens of
//!   one sequence, kv head, head chunk), K/V tiles in shared memory.
//!
//! When the batch averages at most [`DECODE_MAX_AVG_QUERIES`] queries per
//! sequence (decode, speculative decode) the decode kernel computes every
//! sequence; otherwise it computes sequences of at most that many queries
//! and the prefill kernel the longer ones (chunked prefill mixed with decode
//! is two launches).
//!
//! Data-dependent problems (ranges in `seqs`, block ids) cannot be reported
//! without reading device memory; the kernels skip what is invalid and never
//! read outside the tensors (see the top of the kernel source). Every size
//! the kernels index with 32 bits is checked here, and every launch
//! dimension against the device's limits.

use std::ffi::c_void;

use rocmforge_backend_api::op::AttentionArgs;
use rocmforge_backend_api::{BackendError, DType, Op, Result, TensorDesc};

use crate::compile::KernelSource;
use crate::runtime::DeviceFacts;
use crate::HipBackend;

const SOURCE: KernelSource<'static> = KernelSource {
    name: "attention.hip",
    code: include_str!("../../../../kernels/attention.hip"),
    headers: crate::kernels::HEADERS,
};

/// Largest head_dim with a kernel.
const MAX_HEAD_DIM: i64 = 256;
/// Smallest decode block; blocks grow (powers of two) up to
/// [`decode_max_threads`] when the grid alone would leave SMs idle.
const DECODE_MIN_THREADS: u32 = 128;
/// Dynamic shared memory a decode block may take (the limit that needs no
/// opt-in on any device).
const DECODE_MAX_SHARED: u64 = 48 * 1024;
/// Decode grids aim at this many resident threads per SM (CU).
const DECODE_THREADS_PER_SM: u64 = 1024;
/// Threads per prefill block (`RF_ATTN_PREFILL_THREADS`).
const PREFILL_THREADS: u32 = 128;
/// Largest static shared memory of any attention kernel (prefill d128:
/// 39304 bytes), for the capability check.
const MAX_SHARED_BYTES: u32 = 40 * 1024;
/// Sequences with at most this many queries go to the decode kernel when
/// there are longer ones too; a batch averaging at most this many queries
/// per sequence goes to the decode kernel entirely.
const DECODE_MAX_AVG_QUERIES: i64 = 2;
/// Largest grid y/z dimension on both platforms.
const MAX_GRID_Y: u64 = 65535;
/// Split-K decode: each split gets at least this many positions of the
/// block table's capacity. A split of 128 f16 positions of head_dim 128
/// reads 64 KiB of K and V per kv head and writes 520 bytes of partial
/// state per query row (under 4% more traffic for a group of 4, read once
/// more by the merge); fewer positions would leave a block a step or two
/// of work next to its fixed costs (the sequence lookup, q, the final
/// shared-memory merge).
const SPLIT_MIN_POSITIONS: u64 = 128;
/// Split-K decode aims at this many blocks per SM (CU) before RD shrinks.
const SPLIT_BLOCKS_PER_SM: u64 = 2;
/// Most splits per work item (`RF_ATTN_MAX_SPLITS`: the merge kernel's
/// weights in shared memory).
const MAX_SPLITS: u64 = 256;
/// Threads per merge block (`RF_ATTN_MERGE_THREADS`).
const MERGE_THREADS: u32 = 128;

/// `rf_attn_params` in the kernel source: field for field, 4 bytes each.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct AttnParams {
    head_dim: i32,
    n_head: i32,
    n_kv_head: i32,
    n_tokens: i32,
    block_len: i32,
    n_blocks: i32,
    max_blocks: i32,
    n_seqs: i32,
    group: i32,
    chunk_heads: i32,
    head_chunks: i32,
    tile_tokens: i32,
    nq_min: i32,
    nq_max: i32,
    window: u32,
    scale: f32,
    softcap: f32,
    splits: i32,
}

const _: () = assert!(std::mem::size_of::<AttnParams>() == 72);

pub(crate) fn supports(b: &HipBackend, op: &Op<'_>) -> bool {
    // Validation guarantees dtypes, contiguity, shapes and GQA divisibility.
    let Op::Attention(a) = op else { return false };
    let facts = b.facts();
    cache_type(&a.k_cache).is_some()
        && a.k_cache.dtype == a.v_cache.dtype
        && a.q.ne[0] <= MAX_HEAD_DIM
        && (facts.warp_size == 32 || facts.warp_size == 64)
        && DECODE_MIN_THREADS <= facts.max_threads_per_block
        && PREFILL_THREADS <= facts.max_threads_per_block
        && facts.shared_memory_per_block >= MAX_SHARED_BYTES
}

pub(crate) fn run(b: &HipBackend, op: &Op<'_>) -> Result<()> {
    match op {
        Op::Attention(a) => attention(b, a),
        _ => Err(BackendError::Unsupported { op: op.name().to_string(), reason: "not an attention op".into() }),
    }
}

fn cache_type(t: &TensorDesc) -> Option<DType> {
    t.dtype().filter(|d| matches!(d, DType::F32 | DType::F16 | DType::BF16))
}

fn unsupported(reason: String) -> BackendError {
    BackendError::Unsupported { op: "attention".into(), reason }
}

fn fit_i32(what: &str, n: i64) -> Result<i32> {
    i32::try_from(n).map_err(|_| BackendError::InvalidArgument(format!("attention: {what} {n} exceeds the i32 range")))
}

fn arg<T>(v: &mut T) -> *mut c_void {
    v as *mut T as *mut c_void
}

fn attention(b: &HipBackend, a: &AttentionArgs) -> Result<()> {
    let kv = cache_type(&a.k_cache).ok_or_else(|| unsupported("cache type".into()))?;
    if a.v_cache.dtype != a.k_cache.dtype {
        return Err(unsupported("k_cache and v_cache of different types".into()));
    }
    let head_dim = fit_i32("head_dim", a.q.ne[0])?;
    if i64::from(head_dim) > MAX_HEAD_DIM {
        return Err(unsupported(format!("head_dim {head_dim} > {MAX_HEAD_DIM}")));
    }
    let n_head = fit_i32("n_head", a.q.ne[1])?;
    let n_tokens = fit_i32("n_tokens", a.q.ne[2])?;
    let n_kv_head = fit_i32("n_kv_head", a.k_cache.ne[1])?;
    let block_len = fit_i32("block_len", a.k_cache.ne[2])?;
    let n_blocks = fit_i32("n_blocks", a.k_cache.ne[3])?;
    let max_blocks = fit_i32("max_blocks", a.block_table.ne[0])?;
    let n_seqs = fit_i32("n_seqs", a.seqs.ne[1])?;
    if head_dim == 0 || n_head == 0 || n_tokens == 0 {
        return Ok(()); // the output is empty
    }
    if n_kv_head <= 0 || n_head % n_kv_head != 0 {
        return Err(BackendError::InvalidArgument(format!(
            "attention: n_kv_head {n_kv_head} does not divide n_head {n_head}"
        )));
    }
    let group = n_head / n_kv_head;

    // Operands, each checked to lie in its buffer and to be element-aligned.
    let elem = kv.block_bytes() as u64;
    let ptr = |t: &TensorDesc, write: bool, align: u64, name: &str| -> Result<u64> {
        let p = b.tensor_ptr(t, write)?.0;
        if p % align != 0 {
            return Err(BackendError::InvalidArgument(format!(
                "attention: {name} at device address {p:#x} is not {align}-byte aligned"
            )));
        }
        Ok(p)
    };
    let mut pq = ptr(&a.q, false, 4, "q")?;
    let mut pk = ptr(&a.k_cache, false, elem, "k_cache")?;
    let mut pv = ptr(&a.v_cache, false, elem, "v_cache")?;
    let mut pt = ptr(&a.block_table, false, 4, "block_table")?;
    let mut ps = ptr(&a.seqs, false, 4, "seqs")?;
    let mut po = ptr(&a.out, true, 4, "out")?;

    let dmax = match head_dim {
        0..=64 => 64,
        65..=128 => 128,
        _ => 256,
    };
    let p = &a.params;
    let base = AttnParams {
        head_dim,
        n_head,
        n_kv_head,
        n_tokens,
        block_len,
        n_blocks,
        max_blocks,
        n_seqs,
        group,
        chunk_heads: 0,
        head_chunks: 0,
        tile_tokens: 1,
        nq_min: 1,
        nq_max: i32::MAX,
        window: p.sliding_window,
        scale: p.scale,
        softcap: p.softcap,
        splits: 1,
    };
    let all_decode = i64::from(n_tokens) <= DECODE_MAX_AVG_QUERIES * i64::from(n_seqs);
    let (scratch, scratch_bytes) = b.scratch();
    let mut ppart = scratch.0;

    // Decode kernel: every token, RD heads of a group per block, the kv
    // range split S ways when that is what fills the device. Only calls the
    // decode kernel computes entirely are split: otherwise the time goes to
    // the prefill kernel (and the decode launch mostly finds nothing to do).
    let slots = n_tokens as u64 * n_kv_head as u64;
    let splits = if all_decode {
        let capacity = max_blocks as u64 * block_len as u64;
        let part_bytes = n_tokens as u64 * n_head as u64 * (head_dim as u64 + 2) * 4;
        decode_splits(b.facts(), group, slots, capacity, part_bytes, scratch_bytes)
    } else {
        1
    };
    let (rd, threads, shared) = decode_shape(b.facts(), dmax, group, slots * splits);
    let mut dp = AttnParams {
        chunk_heads: rd,
        head_chunks: (group + rd - 1) / rd,
        nq_max: if all_decode { i32::MAX } else { DECODE_MAX_AVG_QUERIES as i32 },
        splits: splits as i32,
        ..base
    };
    let grid_y = n_kv_head as u64 * dp.head_chunks as u64;
    // HIP on AMD counts work items of a dimension in 32 bits.
    if grid_y > MAX_GRID_Y || n_tokens as u64 * u64::from(threads) > u64::from(u32::MAX) {
        return Err(unsupported(format!("decode grid {n_tokens} x {grid_y} exceeds the device's limits")));
    }
    let rows = n_tokens as u64 * n_head as u64; // merge blocks
    if splits > 1 && rows * u64::from(MERGE_THREADS) > u64::from(u32::MAX) {
        return Err(unsupported(format!("decode merge grid {rows} exceeds the device's limits")));
    }
    let f = b.kernel(&SOURCE, decode_kernel(kv, dmax, rd))?;
    {
        let mut args = [
            arg(&mut pq),
            arg(&mut pk),
            arg(&mut pv),
            arg(&mut pt),
            arg(&mut ps),
            arg(&mut po),
            arg(&mut ppart),
            arg(&mut dp),
        ];
        let grid = [n_tokens as u32, grid_y as u32, splits as u32];
        // SAFETY: the arguments match the kernel's parameter list (7 device
        // pointers, then `rf_attn_params` by value, mirrored by `AttnParams`).
        // q/out hold n_tokens*n_head*head_dim floats, the caches
        // n_blocks*block_len*n_kv_head*head_dim elements, block_table
        // max_blocks*n_seqs and seqs 3*n_seqs ints (validated shapes, ranges
        // checked by tensor_ptr); the kernel reads table/cache entries only
        // at indices it has checked against these sizes. With splits > 1 it
        // writes n_tokens*n_head*splits*(head_dim+2) floats of `part`, which
        // `decode_splits` kept within the scratch buffer; with splits = 1 it
        // does not touch `part`.
        unsafe { b.device().launch(&f, grid, [threads, 1, 1], shared, &mut args)? };
    }
    if splits > 1 {
        let f = b.kernel(&SOURCE, "attention_decode_merge")?;
        let mut args = [arg(&mut ppart), arg(&mut po), arg(&mut dp)];
        // SAFETY: the kernel takes (part, out, rf_attn_params); it reads the
        // partials the decode launch above wrote (same params, same scratch,
        // stream order) and writes rows*head_dim floats of out.
        unsafe { b.device().launch(&f, [rows as u32, 1, 1], [MERGE_THREADS, 1, 1], 0, &mut args)? };
    }
    if all_decode {
        return Ok(());
    }

    // Prefill kernel: sequences with more queries, TQ tokens x HB heads per
    // block.
    let rows = if dmax > 128 { 16 } else { 32 };
    let hb = group.min(rows);
    let tq = rows / hb;
    let mut pp = AttnParams {
        chunk_heads: hb,
        head_chunks: (group + hb - 1) / hb,
        tile_tokens: tq,
        nq_min: DECODE_MAX_AVG_QUERIES as i32 + 1,
        nq_max: i32::MAX,
        ..base
    };
    let grid_y = n_kv_head as u64 * pp.head_chunks as u64;
    // Work items (sequence, tile) number at most ceil(n_tokens / TQ) +
    // n_seqs when the sequences' queries do not overlap.
    let items = (n_tokens as u64).div_ceil(tq as u64) + n_seqs as u64;
    if grid_y > MAX_GRID_Y || items * u64::from(PREFILL_THREADS) > u64::from(u32::MAX) {
        return Err(unsupported(format!("prefill grid {items} x {grid_y} exceeds the device's limits")));
    }
    let f = b.kernel(&SOURCE, prefill_kernel(kv, dmax))?;
    let mut args = [
        arg(&mut pq),
        arg(&mut pk),
        arg(&mut pv),
        arg(&mut pt),
        arg(&mut ps),
        arg(&mut po),
        arg(&mut ppart),
        arg(&mut pp),
    ];
    // SAFETY: as for the decode launch above (same parameter list; the
    // prefill kernel does not touch `part`).
    unsafe { b.device().launch(&f, [items as u32, grid_y as u32, 1], [PREFILL_THREADS, 1, 1], 0, &mut args) }
}

/// `RF_ATTN_DECODE_MAX_THREADS(RD)`: the launch bound each decode variant is
/// compiled for (RD = 8 needs about 210 registers, so at most 256 threads).
fn decode_max_threads(rd: i32) -> u32 {
    match rd {
        1 => 1024,
        2 => 512,
        _ => 256,
    }
}

/// Shared memory of a decode block: the merge buffer of
/// `NV * RD * (DMAX + 2)` floats, NV = threads / (DMAX / 8).
fn decode_shared(dmax: i32, rd: i32, threads: u32) -> u64 {
    let nv = u64::from(threads) / (dmax as u64 / 8);
    nv * rd as u64 * (dmax as u64 + 2) * 4
}

/// The largest RD for a group: its size rounded up to a power of two, at
/// most 8, so a GQA group shares every K/V load.
fn decode_full_rd(group: i32) -> i32 {
    (group.clamp(1, 8) as u32).next_power_of_two() as i32
}

/// S, the number of splits of each decode work item's kv range (1: the
/// single pass), from what the host knows: the work items (the `slots`, or
/// (token, kv head) pairs, times the head chunks of RD = [`decode_full_rd`]),
/// the block table's `capacity` in positions (never the sequences' actual
/// lengths: those are on the device, and a recorded decode step is replayed
/// at every position), the SM count and the scratch buffer (`part_bytes` of
/// partial states per split).
///
/// S grows until the blocks reach [`SPLIT_BLOCKS_PER_SM`] per SM, within
/// [`SPLIT_MIN_POSITIONS`] of capacity per split, [`MAX_SPLITS`] and the
/// scratch. The kernel divides each token's actual visible range evenly
/// over the S splits, so a context far shorter than the capacity still
/// spreads (a split past its end writes an empty partial).
fn decode_splits(
    facts: &DeviceFacts,
    group: i32,
    slots: u64,
    capacity: u64,
    part_bytes: u64,
    scratch_bytes: u64,
) -> u64 {
    let sms = u64::from(facts.multiprocessors.max(1));
    let rd = decode_full_rd(group);
    let blocks = slots * ((group + rd - 1) / rd) as u64;
    if blocks == 0 {
        return 1;
    }
    let want = (SPLIT_BLOCKS_PER_SM * sms).div_ceil(blocks);
    let by_scratch = scratch_bytes.checked_div(part_bytes).unwrap_or(0);
    want.min(capacity / SPLIT_MIN_POSITIONS).min(MAX_SPLITS).min(by_scratch).max(1)
}

/// Heads per block (RD), threads per block and dynamic shared bytes of the
/// decode launch over `slots` (token, kv head, split) triples.
///
/// RD starts at [`decode_full_rd`]. When that leaves fewer than two blocks
/// per SM (a lone long decode whose capacity allows too few splits), RD
/// halves (the group's heads then re-read K/V, mostly from L2) and blocks
/// grow, so the device's memory system gets enough loads in flight.
fn decode_shape(facts: &DeviceFacts, dmax: i32, group: i32, slots: u64) -> (i32, u32, u32) {
    let sms = u64::from(facts.multiprocessors.max(1));
    let blocks = |rd: i32| slots * ((group + rd - 1) / rd) as u64;
    let mut rd = decode_full_rd(group);
    while rd > 1 && blocks(rd) < 2 * sms {
        rd /= 2;
    }
    let limit = decode_max_threads(rd).min(facts.max_threads_per_block);
    let shared_limit = DECODE_MAX_SHARED.min(u64::from(facts.shared_memory_per_block).saturating_sub(64));
    let mut threads = DECODE_MIN_THREADS;
    while threads * 2 <= limit
        && decode_shared(dmax, rd, threads * 2) <= shared_limit
        && blocks(rd) * u64::from(threads * 2) <= sms * DECODE_THREADS_PER_SM
    {
        threads *= 2;
    }
    (rd, threads, decode_shared(dmax, rd, threads) as u32)
}

/// `attention_<kv>_decode_d<dmax>_r<rd>`.
fn decode_kernel(kv: DType, dmax: i32, rd: i32) -> &'static str {
    const NAMES: [[[&str; 4]; 3]; 3] = [
        [
            [
                "attention_f32_decode_d64_r1",
                "attention_f32_decode_d64_r2",
                "attention_f32_decode_d64_r4",
                "attention_f32_decode_d64_r8",
            ],
            [
                "attention_f32_decode_d128_r1",
                "attention_f32_decode_d128_r2",
                "attention_f32_decode_d128_r4",
                "attention_f32_decode_d128_r8",
            ],
            [
                "attention_f32_decode_d256_r1",
                "attention_f32_decode_d256_r2",
                "attention_f32_decode_d256_r4",
                "attention_f32_decode_d256_r8",
            ],
        ],
        [
            [
                "attention_f16_decode_d64_r1",
                "attention_f16_decode_d64_r2",
                "attention_f16_decode_d64_r4",
                "attention_f16_decode_d64_r8",
            ],
            [
                "attention_f16_decode_d128_r1",
                "attention_f16_decode_d128_r2",
                "attention_f16_decode_d128_r4",
                "attention_f16_decode_d128_r8",
            ],
            [
                "attention_f16_decode_d256_r1",
                "attention_f16_decode_d256_r2",
                "attention_f16_decode_d256_r4",
                "attention_f16_decode_d256_r8",
            ],
        ],
        [
            [
                "attention_bf16_decode_d64_r1",
                "attention_bf16_decode_d64_r2",
                "attention_bf16_decode_d64_r4",
                "attention_bf16_decode_d64_r8",
            ],
            [
                "attention_bf16_decode_d128_r1",
                "attention_bf16_decode_d128_r2",
                "attention_bf16_decode_d128_r4",
                "attention_bf16_decode_d128_r8",
            ],
            [
                "attention_bf16_decode_d256_r1",
                "attention_bf16_decode_d256_r2",
                "attention_bf16_decode_d256_r4",
                "attention_bf16_decode_d256_r8",
            ],
        ],
    ];
    let r = match rd {
        1 => 0,
        2 => 1,
        4 => 2,
        _ => 3,
    };
    NAMES[kv_index(kv)][dmax_index(dmax)][r]
}

/// `attention_<kv>_prefill_d<dmax>`.
fn prefill_kernel(kv: DType, dmax: i32) -> &'static str {
    const NAMES: [[&str; 3]; 3] = [
        ["attention_f32_prefill_d64", "attention_f32_prefill_d128", "attention_f32_prefill_d256"],
        ["attention_f16_prefill_d64", "attention_f16_prefill_d128", "attention_f16_prefill_d256"],
        ["attention_bf16_prefill_d64", "attention_bf16_prefill_d128", "attention_bf16_prefill_d256"],
    ];
    NAMES[kv_index(kv)][dmax_index(dmax)]
}

fn kv_index(kv: DType) -> usize {
    match kv {
        DType::F32 => 0,
        DType::F16 => 1,
        _ => 2,
    }
}

fn dmax_index(dmax: i32) -> usize {
    match dmax {
        64 => 0,
        128 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name the host can ask for is an entry point of the source.
    #[test]
    fn kernel_names_exist_in_the_source() {
        for kv in [DType::F32, DType::F16, DType::BF16] {
            for dmax in [64, 128, 256] {
                for rd in [1, 2, 4, 8] {
                    let name = decode_kernel(kv, dmax, rd);
                    assert!(name.contains(&format!("_d{dmax}_r{rd}")), "{name}");
                    let kvname = name.split('_').nth(1).expect("attention_<kv>_...");
                    let line = format!("RF_ATTN_DECODE({kvname}, rf_kv_{kvname}, {dmax}, {rd})");
                    assert!(SOURCE.code.contains(&line), "{line} missing from attention.hip");
                }
                let name = prefill_kernel(kv, dmax);
                let kvname = name.split('_').nth(1).expect("attention_<kv>_...");
                let line = format!("RF_ATTN_PREFILL({kvname}, rf_kv_{kvname}, {dmax})");
                assert!(SOURCE.code.contains(&line), "{line} missing from attention.hip");
            }
        }
    }

    /// Full grids keep whole GQA groups per block and small blocks; a lone
    /// long decode splits groups and grows blocks; shared memory and the
    /// variants' launch bounds are respected.
    #[test]
    fn decode_shapes() {
        let f = crate::runtime::h200_facts();
        // 40 sequences x 8 kv heads, group 4: 320 blocks of RD 4 (2.4 per SM).
        assert_eq!(decode_shape(&f, 128, 4, 40 * 8).0, 4);
        // One token, 8 kv heads, group 8: split to RD 1 (64 blocks), 1024 threads.
        assert_eq!(decode_shape(&f, 128, 8, 8), (1, 1024, 64 * 130 * 4));
        // Many tokens: RD 8 at 128 threads.
        assert_eq!(decode_shape(&f, 128, 8, 512 * 8), (8, 128, 8 * 8 * 130 * 4));
        for dmax in [64, 128, 256] {
            for group in 1..=16 {
                for slots in [1, 2, 8, 64, 1000] {
                    let (rd, threads, shared) = decode_shape(&f, dmax, group, slots);
                    assert!([1, 2, 4, 8].contains(&rd) && rd as u32 <= (group as u32).next_power_of_two());
                    assert!(threads.is_power_of_two() && (128..=decode_max_threads(rd)).contains(&threads));
                    assert!(u64::from(shared) <= DECODE_MAX_SHARED, "{dmax} {group} {slots}: {shared}");
                    assert!(shared > 0);
                }
            }
        }
    }

    /// Split-K decode: a lone long decode splits until the device is full
    /// (within the capacity, MAX_SPLITS and the scratch); full grids, short
    /// capacities and too little scratch keep the single pass.
    #[test]
    fn decode_splits_fill_the_device() {
        let f = crate::runtime::h200_facts();
        let scratch = crate::SCRATCH_BYTES;
        let part = |n_tokens: u64, n_head: u64, d: u64| n_tokens * n_head * (d + 2) * 4;
        // 1 token, 32 query / 8 kv heads, head_dim 128, capacity 4224 (264
        // blocks of 16): 8 blocks of RD 4, 33 splits of 128 positions = 264
        // blocks (2 per SM) of 256 threads, RD kept at 4; 549 KB of partials.
        let s = decode_splits(&f, 4, 8, 4224, part(1, 32, 128), scratch);
        assert_eq!(s, 33);
        assert_eq!(decode_shape(&f, 128, 4, 8 * s), (4, 256, 16 * 4 * 130 * 4));
        // At 8192 the same 33 (the device is full); a 256-position capacity
        // allows 2; below that, one pass.
        assert_eq!(decode_splits(&f, 4, 8, 8192, part(1, 32, 128), scratch), 33);
        assert_eq!(decode_splits(&f, 4, 8, 256, part(1, 32, 128), scratch), 2);
        assert_eq!(decode_splits(&f, 4, 8, 255, part(1, 32, 128), scratch), 1);
        // MQA at 8192 (the conformance case): 64 splits, then RD shrinks.
        let s = decode_splits(&f, 8, 1, 8208, part(1, 8, 128), scratch);
        assert_eq!(s, 64);
        assert_eq!(decode_shape(&f, 128, 8, s).0, 1);
        // A full grid (33 tokens x 8 kv heads at RD 4) stays single-pass.
        assert_eq!(decode_splits(&f, 4, 33 * 8, 1 << 20, part(33, 32, 128), scratch), 1);
        // MAX_SPLITS bounds a very long lone decode on a large device.
        let big = DeviceFacts { multiprocessors: 304, ..crate::runtime::h200_facts() };
        assert_eq!(decode_splits(&big, 8, 1, 1 << 20, part(1, 8, 128), scratch), MAX_SPLITS);
        // Scratch: 100 tokens x 128 heads x 258 floats = 13.2 MB per split: 1.
        assert_eq!(decode_splits(&f, 128, 100, 1 << 20, part(100, 128, 256), scratch), 1);
        assert_eq!(decode_splits(&f, 4, 8, 4224, part(1, 32, 128), 3 * part(1, 32, 128)), 3);
        // Always within the limits the kernels and the scratch assume.
        for group in [1, 2, 4, 7, 8, 16] {
            for n_kv_head in [1, 2, 8, 32] {
                for n_tokens in [1, 2, 5, 40, 300] {
                    for capacity in [0, 16, 300, 4224, 1 << 17] {
                        let pb = part(n_tokens, (group * n_kv_head) as u64, 256);
                        let s = decode_splits(&f, group, n_tokens * n_kv_head as u64, capacity, pb, scratch);
                        assert!((1..=MAX_SPLITS).contains(&s));
                        assert!(s == 1 || (s * pb <= scratch && s * SPLIT_MIN_POSITIONS <= capacity));
                    }
                }
            }
        }
    }

    /// The merge kernel and its limits are in the source.
    #[test]
    fn merge_kernel_matches_the_source() {
        assert!(SOURCE.code.contains("attention_decode_merge("));
        assert!(SOURCE.code.contains(&format!("#define RF_ATTN_MAX_SPLITS {MAX_SPLITS}")));
        assert!(SOURCE.code.contains(&format!("#define RF_ATTN_MERGE_THREADS {MERGE_THREADS}")));
    }

    /// The params struct has the kernel's field order.
    #[test]
    fn params_mirror_the_kernel_struct() {
        let fields = [
            "head_dim",
            "n_head",
            "n_kv_head",
            "n_tokens",
            "block_len",
            "n_blocks",
            "max_blocks",
            "n_seqs",
            "group",
            "chunk_heads",
            "head_chunks",
            "tile_tokens",
            "nq_min",
            "nq_max",
            "window",
            "scale",
            "softcap",
            "splits",
        ];
        let body = SOURCE.code.split("struct rf_attn_params {").nth(1).expect("struct in source");
        let body = body.split("};").next().expect("struct end");
        let found: Vec<&str> = body
            .lines()
            .filter_map(|l| l.split("//").next())
            .filter_map(|l| l.trim().strip_suffix(';'))
            .filter_map(|l| l.split_whitespace().last())
            .collect();
        assert_eq!(found, fields);
    }
}
