//! Launch wrappers for `attention` (`kernels/attention.hip`): causal,
//! optionally sliding-window and soft-capped attention of a batch of
//! sequences (prefill, decode, or both) against the paged KV cache, with
//! GQA/MQA.
//!
//! Two kernels, each correct for any call, picked by shape (the host never
//! reads `seqs` or `block_table`: that would cost a device round trip):
//! - `attention_<kv>_decode_d<DMAX>_r<RD>`: one block per (query token, kv
//!   head, chunk of RD query heads). It also writes the zero rows of tokens
//!   that belong to no sequence, so it runs on every call.
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
    reserved: i32,
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
        reserved: 0,
    };
    let all_decode = i64::from(n_tokens) <= DECODE_MAX_AVG_QUERIES * i64::from(n_seqs);

    // Decode kernel: every token, RD heads of a group per block.
    let (rd, threads, shared) = decode_shape(b.facts(), dmax, group, n_tokens as u64 * n_kv_head as u64);
    let mut dp = AttnParams {
        chunk_heads: rd,
        head_chunks: (group + rd - 1) / rd,
        nq_max: if all_decode { i32::MAX } else { DECODE_MAX_AVG_QUERIES as i32 },
        ..base
    };
    let grid_y = n_kv_head as u64 * dp.head_chunks as u64;
    // HIP on AMD counts work items of a dimension in 32 bits.
    if grid_y > MAX_GRID_Y || n_tokens as u64 * u64::from(threads) > u64::from(u32::MAX) {
        return Err(unsupported(format!("decode grid {n_tokens} x {grid_y} exceeds the device's limits")));
    }
    let f = b.kernel(&SOURCE, decode_kernel(kv, dmax, rd))?;
    {
        let mut args =
            [arg(&mut pq), arg(&mut pk), arg(&mut pv), arg(&mut pt), arg(&mut ps), arg(&mut po), arg(&mut dp)];
        // SAFETY: the arguments match the kernel's parameter list (6 device
        // pointers, then `rf_attn_params` by value, mirrored by `AttnParams`).
        // q/out hold n_tokens*n_head*head_dim floats, the caches
        // n_blocks*block_len*n_kv_head*head_dim elements, block_table
        // max_blocks*n_seqs and seqs 3*n_seqs ints (validated shapes, ranges
        // checked by tensor_ptr); the kernel reads table/cache entries only
        // at indices it has checked against these sizes.
        unsafe { b.device().launch(&f, [n_tokens as u32, grid_y as u32, 1], [threads, 1, 1], shared, &mut args)? };
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
    let mut args = [arg(&mut pq), arg(&mut pk), arg(&mut pv), arg(&mut pt), arg(&mut ps), arg(&mut po), arg(&mut pp)];
    // SAFETY: as for the decode launch above (same parameter list).
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

/// Heads per block (RD), threads per block and dynamic shared bytes of the
/// decode launch over `slots` = n_tokens * n_kv_head (token, kv head) pairs.
///
/// RD starts at the group size (rounded up to a power of two, at most 8) so
/// a GQA group shares every K/V load. When that leaves fewer than two blocks
/// per SM (a lone long decode), RD halves (the group's heads then re-read
/// K/V, mostly from L2) and blocks grow, so the device's memory system gets
/// enough loads in flight.
fn decode_shape(facts: &DeviceFacts, dmax: i32, group: i32, slots: u64) -> (i32, u32, u32) {
    let sms = u64::from(facts.multiprocessors.max(1));
    let blocks = |rd: i32| slots * ((group + rd - 1) / rd) as u64;
    let mut rd = (group.min(8) as u32).next_power_of_two() as i32;
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

    fn h200() -> DeviceFacts {
        DeviceFacts {
            ordinal: 0,
            name: "NVIDIA H200".into(),
            arch: "sm_90".into(),
            target: "sm_90".into(),
            warp_size: 32,
            multiprocessors: 132,
            max_threads_per_block: 1024,
            shared_memory_per_block: 48 * 1024,
            total_memory: 140 << 30,
        }
    }

    /// Full grids keep whole GQA groups per block and small blocks; a lone
    /// long decode splits groups and grows blocks; shared memory and the
    /// variants' launch bounds are respected.
    #[test]
    fn decode_shapes() {
        let f = h200();
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
            "reserved",
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
