//! Conformance cases for the attention op family: paged KV cache with
//! shuffled block tables (unused cache slots hold NaN, so reading one shows
//! as a NaN output), GQA ratios 1/2/7/8 and MQA, head_dim 64/128/256 and
//! odd ones (8, 20, 80, 96), block lengths 16 and 3, F32/F16/BF16 caches,
//! sliding windows and softcap, and batches that mix prefill, chunked
//! prefill, decode and speculative decode, with sequences out of token
//! order, sequences without queries and tokens that belong to no sequence
//! (their output rows must be zero). Long contexts: a decode at 8192 and a
//! 100-token prefill chunk at context 1000. Decodes against block tables
//! much wider than their contexts (a recorded decode step is sized for its
//! capacity, not its position): a backend that splits the kv range by the
//! capacity (HIP's split-K decode) then has splits with nothing visible,
//! with a sliding window, softcap, a token in no sequence and sequences of
//! very different lengths.
//!
//! Queries are scaled so scores spread over a few units: the softmax is
//! peaked enough that a wrongly masked or misplaced position changes the
//! output far beyond the tolerance.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rocmforge_backend_api::op::{AttentionArgs, AttentionParams};
use rocmforge_backend_api::{DType, Op, OpKind};

use super::random;
use crate::{tolerance, Case, HostTensor};

/// `(q_start, n_query, kv_len)` per sequence.
type Seqs = &'static [(usize, usize, usize)];

/// Prefill, decode and chunked prefill mixed in one call, sequences out of
/// token order, a sequence without queries, and tokens 1, 6 and 16 in none.
const MIXED: Seqs = &[
    (7, 9, 9),    // prefill: 9 tokens, kv 9
    (0, 1, 37),   // decode at position 36
    (2, 4, 20),   // chunked prefill: positions 16..20
    (16, 0, 5),   // no queries this step
    (17, 2, 48),  // two-token decode (speculative), 3 full blocks of 16
    (19, 40, 75), // a longer chunk: more than one query tile
];

/// Decode only: one query per sequence, one sequence in speculative decode,
/// different context lengths (the decode kernel takes all of it).
const DECODE: Seqs = &[(0, 1, 300), (1, 1, 1), (2, 1, 57), (3, 2, 130), (5, 1, 16)];

/// A short prefill inside a batch of mostly empty sequences: few enough
/// tokens per sequence that the decode kernel computes the prefill too.
const PREFILL_IN_DECODE: Seqs = &[(0, 7, 7), (7, 0, 3), (7, 0, 0), (7, 1, 20)];

struct Spec {
    head_dim: usize,
    n_head: usize,
    n_kv_head: usize,
    block_len: usize,
    cache: DType,
    softcap: f32,
    window: u32,
    seqs: Seqs,
    what: &'static str,
    /// Block table width at least this many positions (0: just what the
    /// longest sequence needs, plus a block).
    capacity: usize,
}

impl Spec {
    fn new(head_dim: usize, n_head: usize, n_kv_head: usize, block_len: usize, cache: DType) -> Spec {
        Spec {
            head_dim,
            n_head,
            n_kv_head,
            block_len,
            cache,
            softcap: 0.0,
            window: 0,
            seqs: MIXED,
            what: "mixed",
            capacity: 0,
        }
    }

    fn seqs(self, seqs: Seqs, what: &'static str) -> Spec {
        Spec { seqs, what, ..self }
    }

    fn window(self, window: u32) -> Spec {
        Spec { window, ..self }
    }

    fn softcap(self, softcap: f32) -> Spec {
        Spec { softcap, ..self }
    }

    fn capacity(self, capacity: usize) -> Spec {
        Spec { capacity, ..self }
    }
}

pub fn cases() -> Vec<Case> {
    use DType::{BF16, F16, F32};
    let mut specs = Vec::new();
    // GQA ratios 1, 2, 7, 8 (and MQA with a group larger than one block's
    // rows), head_dim 64/128 and odd ones, block lengths 16 and 3.
    for (n_head, n_kv_head) in [(4, 4), (4, 2), (7, 1), (16, 2)] {
        for block_len in [16, 3] {
            specs.push(Spec::new(64, n_head, n_kv_head, block_len, F16));
        }
    }
    specs.push(Spec::new(128, 8, 8, 16, F16));
    specs.push(Spec::new(128, 14, 2, 3, F16));
    specs.push(Spec::new(128, 32, 4, 16, BF16));
    specs.push(Spec::new(80, 6, 3, 16, F16));
    specs.push(Spec::new(96, 12, 4, 5, F32));
    specs.push(Spec::new(8, 3, 1, 3, F32));
    specs.push(Spec::new(20, 5, 5, 3, F16)); // not a multiple of 8: scalar loads
    specs.push(Spec::new(256, 8, 4, 16, BF16));
    specs.push(Spec::new(64, 40, 1, 16, F16));
    // Cache types.
    specs.push(Spec::new(64, 8, 4, 16, F32));
    specs.push(Spec::new(64, 8, 4, 3, BF16));
    specs.push(Spec::new(128, 8, 1, 16, F32));
    // Sliding window (narrower than, equal to and wider than contexts) and
    // softcap (Gemma 2: head_dim 256, window 4096 scaled down).
    specs.push(Spec::new(64, 4, 2, 16, F16).window(5));
    specs.push(Spec::new(64, 4, 2, 3, F32).window(1));
    specs.push(Spec::new(128, 8, 2, 16, BF16).window(16));
    specs.push(Spec::new(64, 4, 4, 16, F16).window(1000));
    specs.push(Spec::new(64, 4, 2, 16, F32).softcap(3.0));
    specs.push(Spec::new(256, 8, 4, 16, F16).softcap(2.5).window(7));
    // Decode-only batches, and a prefill small enough for the decode kernel.
    for (cache, n_head, n_kv_head, head_dim) in [(F16, 8, 8, 64), (BF16, 16, 2, 128), (F32, 7, 1, 80), (F16, 6, 2, 20)]
    {
        specs.push(Spec::new(head_dim, n_head, n_kv_head, 16, cache).seqs(DECODE, "decode"));
    }
    specs.push(Spec::new(128, 32, 4, 3, F16).seqs(DECODE, "decode").window(20));
    specs.push(Spec::new(64, 8, 2, 16, F16).seqs(PREFILL_IN_DECODE, "short prefill"));
    specs.push(Spec::new(64, 8, 2, 3, BF16).seqs(PREFILL_IN_DECODE, "short prefill").softcap(4.0));
    // Long contexts: decode at 8192 (alone and in a batch, with a window)
    // and a 100-token prefill chunk at context 1000.
    specs.push(Spec::new(128, 8, 1, 16, F16).seqs(&[(0, 1, 8192)], "decode@8192"));
    specs.push(Spec::new(64, 16, 2, 16, BF16).seqs(&[(1, 1, 8192), (0, 1, 500)], "decode@8192+500").window(4096));
    specs.push(Spec::new(128, 8, 2, 16, F16).seqs(&[(0, 100, 1000)], "prefill 100@1000"));
    specs.push(Spec::new(64, 7, 1, 16, F32).seqs(&[(3, 100, 1000), (0, 1, 200), (1, 2, 9)], "prefill 100@1000+decode"));
    // Decodes in tables far wider than their contexts (on an H200 the HIP
    // backend splits these 32, 33, 32, 16 and 8 ways; most splits of the
    // first see nothing), with a window, softcap (Gemma 2's head_dim), a
    // batch of lengths 1..300 with a two-token decode, and MQA with token
    // 1 in no sequence.
    specs.push(Spec::new(128, 32, 8, 16, F16).seqs(&[(0, 1, 100)], "decode@100").capacity(4096));
    specs.push(Spec::new(128, 32, 8, 16, F16).seqs(&[(0, 1, 3000)], "decode@3000").capacity(4224).window(700));
    specs.push(Spec::new(256, 8, 4, 16, BF16).seqs(&[(0, 1, 2000)], "decode@2000").capacity(4096).softcap(2.5));
    specs.push(Spec::new(128, 16, 2, 16, BF16).seqs(DECODE, "decode").capacity(2048));
    specs.push(Spec::new(64, 8, 1, 16, F32).seqs(&[(0, 1, 900), (2, 1, 40)], "decode@900+40").capacity(1024));

    specs.into_iter().enumerate().map(|(i, s)| case(&s, 7000 + i as u64)).collect()
}

fn case(s: &Spec, seed: u64) -> Case {
    let (d, bl) = (s.head_dim, s.block_len);
    let n_tokens = s.seqs.iter().map(|q| q.0 + q.1).max().unwrap_or(0).max(1);
    let needed: Vec<usize> = s.seqs.iter().map(|q| q.2.div_ceil(bl)).collect();
    let max_blocks = (needed.iter().copied().max().unwrap_or(0) + 1).max(s.capacity.div_ceil(bl));
    let n_blocks = needed.iter().sum::<usize>() + 3; // a few never used
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut pool: Vec<usize> = (0..n_blocks).collect();
    pool.shuffle(&mut rng);

    // Cache slots that hold a sequence's position get random values; every
    // other slot is NaN.
    let pos_len = s.n_kv_head * d;
    let slots = n_blocks * bl;
    let mut k = random(slots * pos_len, seed + 1, 1.0);
    let mut v = random(slots * pos_len, seed + 2, 1.0);
    let mut used = vec![false; slots];
    let mut table = vec![-1i32; max_blocks * s.seqs.len()];
    for (i, q) in s.seqs.iter().enumerate() {
        for b in 0..needed[i] {
            let blk = pool.pop().expect("pool holds every needed block");
            table[i * max_blocks + b] = blk as i32;
            for slot in 0..bl.min(q.2 - b * bl) {
                used[blk * bl + slot] = true;
            }
        }
    }
    for (slot, _) in used.iter().enumerate().filter(|(_, u)| !**u) {
        k[slot * pos_len..(slot + 1) * pos_len].fill(f32::NAN);
        v[slot * pos_len..(slot + 1) * pos_len].fill(f32::NAN);
    }
    let info: Vec<i32> = s.seqs.iter().flat_map(|q| [q.0 as i32, q.1 as i32, q.2 as i32]).collect();
    let q = random(d * s.n_head * n_tokens, seed + 3, 3.0);

    let cache_shape = [d, s.n_kv_head, bl, n_blocks];
    let params =
        AttentionParams { scale: 1.0 / (d as f32).sqrt(), softcap: s.softcap, sliding_window: s.window, _reserved: 0 };
    let mut label = format!("{} d{d} h{}/{} bl{bl} {} ({n_tokens} tok)", s.cache.name(), s.n_head, s.n_kv_head, s.what);
    if s.window > 0 {
        label += &format!(" w{}", s.window);
    }
    if s.softcap > 0.0 {
        label += &format!(" cap{}", s.softcap);
    }
    if s.capacity > 0 {
        label += &format!(" table{}", max_blocks * bl);
    }
    Case {
        op: OpKind::Attention,
        label,
        inputs: vec![
            HostTensor::f32(&[d, s.n_head, n_tokens], &q),
            HostTensor::quantized(s.cache, &cache_shape, &k),
            HostTensor::quantized(s.cache, &cache_shape, &v),
            HostTensor::i32(&[max_blocks, s.seqs.len()], &table),
            HostTensor::i32(&[3, s.seqs.len()], &info),
        ],
        out_dtype: DType::F32,
        out_shape: vec![d, s.n_head, n_tokens],
        tolerance: match s.cache {
            DType::F32 => tolerance::F32,
            _ => tolerance::ATTENTION,
        },
        call: Box::new(move |t, out, run| {
            run(&Op::Attention(&AttentionArgs {
                q: t[0],
                k_cache: t[1],
                v_cache: t[2],
                block_table: t[3],
                seqs: t[4],
                out,
                params,
            }))
        }),
    }
}
