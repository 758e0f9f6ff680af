// attention.hip: causal (optionally sliding-window, soft-capped) attention of
// a batch of sequences against the paged KV cache (see `AttentionArgs` in
// crates/backend-api/src/op.rs; the CPU oracle is
// crates/backend-cpu/src/ops/attention.rs).
//
// Flash-attention style: an online softmax (running max `m` and sum `l` per
// query row, the accumulator rescaled by exp(m_old - m_new) when the max
// grows), never a score matrix in memory. Everything is accumulated in f32;
// f16/bf16 caches are converted on load.
//
// Two kernels, both correct for every call; the host picks by shape:
// - `attention_<kv>_decode_d<DMAX>_r<RD>`: one block per (query token, kv
//   head, chunk of RD query heads of that kv head's group, split). Groups of
//   DMAX/8 lanes each score one kv position (a 16-byte load of an f16 row
//   per lane, a reduction over the group), the RD heads of a GQA group share
//   every K/V load, and the groups' partial (m, l, acc) are merged through
//   shared memory at the end. Split-K (flash-decoding) spreads a lone long
//   decode over the device: with P.splits = S > 1 each token's visible kv
//   range is divided evenly over S blocks (blockIdx.z), each writing its
//   rows' partial (m, l, acc) to a scratch buffer, and
//   `attention_decode_merge` (one block per query row) rescales the S
//   partials by exp(m_s - max m) and writes the output. The host picks S
//   from the block table's capacity (never the actual lengths, which it
//   cannot see: the same launch serves every position of a recorded decode
//   step), the work items and the SM count; S = 1 is the single pass. It
//   also sizes blocks (128..1024 threads) and RD. This kernel is
//   token-indexed, so it also writes the zero rows of tokens that belong to
//   no sequence; sequences with more than `nq_max` queries are left to:
// - `attention_<kv>_prefill_d<DMAX>`: one block per (tile of TQ query tokens
//   of one sequence, kv head, chunk of HB heads), TQ*HB <= R rows. Q rows
//   live in shared memory, K then V tiles of BK positions are gathered from
//   the paged cache into shared memory (converted to f32), S = Q K^T goes
//   through shared memory for the per-row online softmax, O = P V stays in
//   registers. Work items (sequence, tile) are numbered by a block-wide
//   prefix sum over the sequences, so the host needs no look at `seqs`.
//
// Data-dependent safety (the host cannot read `seqs`/`block_table` without a
// device round trip): a sequence is used only if q_start >= 0, n_q >= 1,
// kv_len >= n_q, q_start + n_q <= n_tokens and its kv_len needs at most
// max_blocks blocks; otherwise it is ignored (its tokens' rows become zero
// unless another sequence covers them). A block id outside [0, n_blocks)
// masks the positions it would hold. Nothing is read outside the tensors.
// (The CPU oracle reports such calls as InvalidArgument.)
//
// Measured on an H200 (2026-11-30, f16 cache, head_dim 128, before split-K):
// decode of one token at context 8192 with 32/8 heads 130 us (258 GB/s; the
// single pass had at most 32 blocks for 132 SMs), 32 sequences at 2048 with
// 32/32 heads 373 us (2.9 TB/s), prefill 512 at 4096 19.5 TFLOP/s. Faster
// versions would: reduce the RD scores of a GQA group with a transposing
// butterfly (fewer shuffles per position); fuse the split-K merge into the
// last block of each work item (a counter instead of a second launch); and
// use matrix cores (MFMA / WMMA / mma.sync) for Q K^T and P V in the prefill
// kernel, which now runs on scalar FMAs from shared memory.

#include "common/compat.h"

#define RF_ATTN_I32_MAX 0x7fffffff

// The launch parameters, one struct by value (mirrors `AttnParams` in
// crates/backend-hip/src/ops/attention.rs; 4-byte fields only).
struct rf_attn_params {
    rf_i32 head_dim;
    rf_i32 n_head;
    rf_i32 n_kv_head;
    rf_i32 n_tokens;
    rf_i32 block_len;
    rf_i32 n_blocks;
    rf_i32 max_blocks;
    rf_i32 n_seqs;
    rf_i32 group;        // n_head / n_kv_head
    rf_i32 chunk_heads;  // query heads per block (decode: RD, prefill: HB)
    rf_i32 head_chunks;  // ceil(group / chunk_heads)
    rf_i32 tile_tokens;  // prefill: query tokens per block (TQ)
    rf_i32 nq_min;       // this launch computes sequences with nq_min <= n_q <= nq_max
    rf_i32 nq_max;
    rf_u32 window;       // sliding window (0: none)
    float scale;
    float softcap;       // 0: none
    rf_i32 splits;       // decode: kv splits per work item (S, blockIdx.z); 1: single pass
};

// ---- cache element types ---------------------------------------------------
// `load` reads one element; `load8` eight consecutive ones with 16-byte
// loads (the address must be aligned to 8 elements: see rf_attn_vec_ok).

// 16-byte-aligned groups in memory.
struct alignas(16) rf_attn_f4 {
    float x, y, z, w;
};
struct alignas(16) rf_attn_h8 {
    rf_u16 v[8];
};

struct rf_kv_f32 {
    typedef float T;
    static RF_DEVICE float load(const T* p, rf_i64 i) { return p[i]; }
    static RF_DEVICE void load8(const T* p, float (&out)[8]) {
        const rf_attn_f4 a = ((const rf_attn_f4*)p)[0];
        const rf_attn_f4 b = ((const rf_attn_f4*)p)[1];
        out[0] = a.x, out[1] = a.y, out[2] = a.z, out[3] = a.w;
        out[4] = b.x, out[5] = b.y, out[6] = b.z, out[7] = b.w;
    }
};
struct rf_kv_f16 {
    typedef rf_u16 T;
    static RF_DEVICE float load(const T* p, rf_i64 i) { return rf_f16_to_f32(p[i]); }
    static RF_DEVICE void load8(const T* p, float (&out)[8]) {
        const rf_attn_h8 h = *(const rf_attn_h8*)p;
#pragma unroll
        for (int e = 0; e < 8; ++e) out[e] = rf_f16_to_f32(h.v[e]);
    }
};
struct rf_kv_bf16 {
    typedef rf_u16 T;
    static RF_DEVICE float load(const T* p, rf_i64 i) { return rf_bf16_to_f32(p[i]); }
    static RF_DEVICE void load8(const T* p, float (&out)[8]) {
        const rf_attn_h8 h = *(const rf_attn_h8*)p;
#pragma unroll
        for (int e = 0; e < 8; ++e) out[e] = rf_bf16_to_f32(h.v[e]);
    }
};

// Whether rows of head_dim `D` elements can be read 8 at a time: every row
// then starts at a multiple of 8 elements of a cache aligned to 8 elements.
template <class KV>
RF_DEVICE bool rf_attn_vec_ok(const typename KV::T* kc, const typename KV::T* vc, rf_i32 D) {
    const rf_u64 align = 8 * sizeof(typename KV::T);
    return D % 8 == 0 && (rf_u64)kc % align == 0 && (rf_u64)vc % align == 0;
}

// Elements d0 .. d0+7 of the row at element offset `off` (0 past head_dim).
template <class KV>
RF_DEVICE void rf_attn_load8(const typename KV::T* p, rf_i64 off, rf_i32 d0, rf_i32 D, bool vec_ok, float (&out)[8]) {
    if (vec_ok && d0 < D) {
        KV::load8(p + off + d0, out);
    } else {
#pragma unroll
        for (int e = 0; e < 8; ++e) out[e] = d0 + e < D ? KV::load(p, off + d0 + e) : 0.0f;
    }
}

RF_DEVICE float rf_attn_neg_inf() {
    return rf_u32_as_f32(0xff800000u);
}

// ---- sequences and positions -----------------------------------------------

struct rf_attn_seq {
    rf_i32 q_start;
    rf_i32 n_q;
    rf_i32 kv_len;
};

// Reads sequence `s` and says whether it is usable (see the top comment).
RF_DEVICE bool rf_attn_seq_load(const rf_i32* seqs, rf_i32 s, const rf_attn_params& P, rf_attn_seq& out) {
    const rf_i64 at = (rf_i64)s * 3;
    out.q_start = seqs[at];
    out.n_q = seqs[at + 1];
    out.kv_len = seqs[at + 2];
    if (out.q_start < 0 || out.n_q < 1 || out.kv_len < out.n_q) return false;
    if ((rf_i64)out.q_start + out.n_q > (rf_i64)P.n_tokens) return false;
    if (P.block_len <= 0) return false;
    const rf_i64 needed = ((rf_i64)out.kv_len + P.block_len - 1) / P.block_len;
    return needed <= (rf_i64)P.max_blocks;
}

// Element offset of kv head `g`'s row at position `p` of a sequence whose
// block-table column starts at `tab`, or -1 when its block id is invalid.
// `p / block_len` < max_blocks holds for p < kv_len of a usable sequence.
RF_DEVICE rf_i64 rf_attn_row_offset(const rf_i32* tab, rf_i32 p, rf_i32 g, const rf_attn_params& P) {
    const rf_i32 id = tab[p / P.block_len];
    if (id < 0 || id >= P.n_blocks) return -1;
    const rf_i64 slot = (rf_i64)id * P.block_len + p % P.block_len;
    return (slot * P.n_kv_head + g) * P.head_dim;
}

// First position visible from position `pos`.
RF_DEVICE rf_i32 rf_attn_first_visible(rf_i32 pos, const rf_attn_params& P) {
    if (P.window == 0) return 0;
    const rf_i64 lo = (rf_i64)pos - (rf_i64)P.window + 1;
    return lo > 0 ? (rf_i32)lo : 0;
}

RF_DEVICE float rf_attn_score(float dot, const rf_attn_params& P) {
    float s = dot * P.scale;
    if (P.softcap > 0.0f) s = P.softcap * tanhf(s / P.softcap);
    return s;
}

// ---- decode: one block per (token, kv head, chunk of RD heads[, split]) ------
// The block's threads form "virtual warps" of VW = DMAX/8 lanes, each lane
// holding 8 consecutive elements of head_dim (one 16-byte load of an f16
// row). A virtual warp scores one position per step with a VW-lane
// reduction, so a hardware warp covers WS/VW positions at once, and every
// step handles U positions per virtual warp to keep more loads in flight and
// rescale the accumulators once per U positions. Step counts are uniform
// across the block, so every lane takes part in every shuffle.
//
// The block size is the host's choice (a power of two >= 128, at most
// RF_ATTN_DECODE_MAX_THREADS(RD), which keeps RD = 8 at 255 registers):
// 128 threads when the grid fills the device, more when it does not (a
// single long decode has only n_kv_head * group / RD blocks). The virtual
// warps' states are merged through dynamic shared memory of
// NV * RD * (DMAX + 2) floats, NV = threads / (DMAX / 8).
//
// Split-K (P.splits = S > 1, blockIdx.z = split z): the token's visible
// range [lo, pos] is cut into S pieces of `per` positions (ceil(len / S)
// rounded up to whole steps of NV * U), piece z going to split z; pieces
// past pos are empty. Instead of the output row, each block writes its
// rows' unnormalized partial state to `part` (see rf_attn_part_ml_at):
// the max m, the sum l and acc[D] = sum of exp(s - m) * v (all zero with
// m = -inf for an empty piece), and attention_decode_merge combines the S
// partials of each row. Every (row, split) entry a merge reads is written
// first: (m, l) always, acc whenever m > -inf. Rows of tokens in no
// sequence get (m, l) = (-inf, 0) (merged to zeros); rows of a sequence
// this launch leaves to the prefill kernel get l = -1 (not written by the
// merge).

#define RF_ATTN_DECODE_MAX_THREADS(RD) ((RD) <= 1 ? 1024 : (RD) == 2 ? 512 : 256)

extern __shared__ float rf_attn_dyn_smem[];

// Offsets in `part` (floats) of query row `row` (= token * n_head + head),
// split `z`: its (m, l) pair, then its acc[head_dim]. All rows' pairs come
// first: n_tokens * n_head * S * (head_dim + 2) floats in all.
RF_DEVICE rf_i64 rf_attn_part_ml_at(rf_i64 row, rf_i32 z, const rf_attn_params& P) {
    return (row * P.splits + z) * 2;
}
RF_DEVICE rf_i64 rf_attn_part_acc_at(rf_i64 row, rf_i32 z, const rf_attn_params& P) {
    const rf_i64 rows = (rf_i64)P.n_tokens * P.n_head;
    return rows * P.splits * 2 + (row * P.splits + z) * P.head_dim;
}

template <class KV, int DMAX, int RD>
RF_DEVICE void rf_attn_decode(const float* __restrict__ q, const typename KV::T* __restrict__ kc,
                              const typename KV::T* __restrict__ vc, const rf_i32* __restrict__ table,
                              const rf_i32* __restrict__ seqs, float* __restrict__ out, float* __restrict__ part,
                              const rf_attn_params& P) {
    constexpr int WS = RF_WARP_SIZE;
    constexpr int EPL = 8;          // head_dim elements per lane
    constexpr int VW = DMAX / EPL;  // lanes per position (8, 16, 32)
    constexpr int U = 2;            // positions per virtual warp and step
    static_assert(VW <= WS && WS % VW == 0, "virtual warps tile hardware warps");
    const int NT = blockDim.x;  // a multiple of the warp size
    const int NV = NT / VW;     // virtual warps per block

    __shared__ rf_i32 owner;
    float* m_s = rf_attn_dyn_smem;  // [NV][RD]
    float* l_s = m_s + NV * RD;     // [NV][RD]
    float* acc_s = l_s + NV * RD;   // [NV][RD][DMAX]

    const int tid = threadIdx.x;
    const int vw = tid / VW;          // virtual warp
    const int d0 = (tid % VW) * EPL;  // this lane's first element of head_dim
    const rf_i32 t = blockIdx.x;
    const rf_i32 g = blockIdx.y / P.head_chunks;
    const rf_i32 chunk = blockIdx.y % P.head_chunks;
    const rf_i32 h0 = g * P.group + chunk * RD;
    const rf_i32 nrows = min(RD, P.group - chunk * RD);
    const rf_i32 D = P.head_dim;
    const bool split = P.splits > 1;
    const rf_i32 z = blockIdx.z;                    // this block's split (0 without)
    const rf_i64 row0 = (rf_i64)t * P.n_head + h0;  // first query row: token t, head h0

    // The token's sequence: the lowest-numbered usable one covering it.
    if (tid == 0) owner = RF_ATTN_I32_MAX;
    __syncthreads();
    for (rf_i32 s = tid; s < P.n_seqs; s += NT) {
        rf_attn_seq sq;
        if (rf_attn_seq_load(seqs, s, P, sq) && t >= sq.q_start && t - sq.q_start < sq.n_q) atomicMin(&owner, s);
    }
    __syncthreads();
    const rf_i32 s = owner;
    if (s == RF_ATTN_I32_MAX) {  // in no sequence: zero rows
        if (split) {
            for (rf_i32 r = tid; r < nrows; r += NT) {
                const rf_i64 at = rf_attn_part_ml_at(row0 + r, z, P);
                part[at] = rf_attn_neg_inf();
                part[at + 1] = 0.0f;
            }
        } else {
            for (rf_i32 e = tid; e < nrows * D; e += NT) out[row0 * D + e] = 0.0f;
        }
        return;
    }
    rf_attn_seq sq;
    rf_attn_seq_load(seqs, s, P, sq);
    if (sq.n_q < P.nq_min || sq.n_q > P.nq_max) {  // the prefill kernel's
        if (split) {
            for (rf_i32 r = tid; r < nrows; r += NT) {
                const rf_i64 at = rf_attn_part_ml_at(row0 + r, z, P);
                part[at] = rf_attn_neg_inf();
                part[at + 1] = -1.0f;
            }
        }
        return;
    }
    const rf_i32 pos = sq.kv_len - sq.n_q + (t - sq.q_start);
    const rf_i32 lo = rf_attn_first_visible(pos, P);
    const rf_i32* tab = table + (rf_i64)s * P.max_blocks;
    const bool vec_ok = rf_attn_vec_ok<KV>(kc, vc, D);

    // Positions first..last (inclusive) are this block's: all of lo..pos, or
    // split z's piece of them (empty, first > last, past the end).
    rf_i32 first = lo;
    rf_i32 last = pos;
    if (split) {
        const rf_i64 len = (rf_i64)pos - lo + 1;  // >= 1
        const rf_i64 step = (rf_i64)NV * U;
        const rf_i64 per = ((len + P.splits - 1) / P.splits + step - 1) / step * step;
        const rf_i64 b = (rf_i64)lo + (rf_i64)z * per;
        if (b > pos) {
            first = pos + 1;  // pos < kv_len <= RF_ATTN_I32_MAX
        } else {
            first = (rf_i32)b;
            last = b + per - 1 < (rf_i64)pos ? (rf_i32)(b + per - 1) : pos;
        }
    }

    float qr[RD][EPL];
    float acc[RD][EPL];
    float m[RD];
    float l[RD];
#pragma unroll
    for (int r = 0; r < RD; ++r) {
        const float* qrow = q + (row0 + r) * D;
#pragma unroll
        for (int e = 0; e < EPL; ++e) {
            qr[r][e] = (r < nrows && d0 + e < D) ? qrow[d0 + e] : 0.0f;
            acc[r][e] = 0.0f;
        }
        m[r] = rf_attn_neg_inf();
        l[r] = 0.0f;
    }

    for (rf_i32 base = first; base <= last; base += NV * U) {
        float kk[U][EPL];
        float vv[U][EPL];
        bool ok[U];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const rf_i32 p = base + u * NV + vw;
            const rf_i64 off = p <= last ? rf_attn_row_offset(tab, p, g, P) : -1;
            ok[u] = off >= 0;
            if (ok[u]) {
                rf_attn_load8<KV>(kc, off, d0, D, vec_ok, kk[u]);
                rf_attn_load8<KV>(vc, off, d0, D, vec_ok, vv[u]);
            } else {
#pragma unroll
                for (int e = 0; e < EPL; ++e) kk[u][e] = vv[u][e] = 0.0f;
            }
        }
#pragma unroll
        for (int r = 0; r < RD; ++r) {
            float sc[U];
            float mn = m[r];
#pragma unroll
            for (int u = 0; u < U; ++u) {
                float dot = 0.0f;
#pragma unroll
                for (int e = 0; e < EPL; ++e) dot += qr[r][e] * kk[u][e];
                // Sum over the VW lanes of the virtual warp; the xor
                // butterfly leaves the same sum in each of them.
#pragma unroll
                for (int w = VW / 2; w > 0; w >>= 1) dot += rf_shfl_xor(dot, w);
                sc[u] = ok[u] ? rf_attn_score(dot, P) : rf_attn_neg_inf();
                mn = fmaxf(mn, sc[u]);
            }
            if (mn == rf_attn_neg_inf()) continue;  // nothing visible yet
            const float corr = expf(m[r] - mn);     // 0 while m is -inf
            l[r] *= corr;
#pragma unroll
            for (int e = 0; e < EPL; ++e) acc[r][e] *= corr;
#pragma unroll
            for (int u = 0; u < U; ++u) {
                const float pe = expf(sc[u] - mn);  // 0 for masked positions
                l[r] += pe;
#pragma unroll
                for (int e = 0; e < EPL; ++e) acc[r][e] += pe * vv[u][e];
            }
            m[r] = mn;
        }
    }

    // Merge the virtual warps' partial softmax states.
#pragma unroll
    for (int r = 0; r < RD; ++r) {
        if (d0 == 0) {
            m_s[vw * RD + r] = m[r];
            l_s[vw * RD + r] = l[r];
        }
#pragma unroll
        for (int e = 0; e < EPL; ++e) acc_s[(vw * RD + r) * DMAX + d0 + e] = acc[r][e];
    }
    __syncthreads();
    for (rf_i32 e = tid; e < nrows * D; e += NT) {
        const int r = e / D;
        const int d = e % D;
        float mx = rf_attn_neg_inf();
        for (int w = 0; w < NV; ++w) mx = fmaxf(mx, m_s[w * RD + r]);
        float sum = 0.0f;
        float o = 0.0f;
        if (mx != rf_attn_neg_inf()) {
            for (int w = 0; w < NV; ++w) {
                const float f = expf(m_s[w * RD + r] - mx);
                sum += l_s[w * RD + r] * f;
                o += acc_s[(w * RD + r) * DMAX + d] * f;
            }
        }
        if (split) {
            part[rf_attn_part_acc_at(row0 + r, z, P) + d] = o;
            if (d == 0) {
                const rf_i64 at = rf_attn_part_ml_at(row0 + r, z, P);
                part[at] = mx;
                part[at + 1] = sum;
            }
        } else {
            out[row0 * D + e] = sum > 0.0f ? o / sum : 0.0f;
        }
    }
}

// ---- decode merge: one block per query row ----------------------------------
// Combines the S partials (m_z, l_z, acc_z) of a split decode: with
// M = max m_z and w_z = exp(m_z - M), out = sum w_z acc_z / sum w_z l_z.
// A split with m_z = -inf (nothing visible in its piece) has w_z = 0 and its
// acc is not read (it may be unwritten; 0 * inf would be NaN), a row with
// M = -inf is zero (as in the single pass), a row marked l = -1 is not
// written. S <= RF_ATTN_MAX_SPLITS (host-checked).

#define RF_ATTN_MERGE_THREADS 128
#define RF_ATTN_MAX_SPLITS 256

RF_DEVICE void rf_attn_merge(const float* __restrict__ part, float* __restrict__ out, const rf_attn_params& P) {
    constexpr int NT = RF_ATTN_MERGE_THREADS;
    __shared__ float red_s[NT];
    __shared__ float w_s[RF_ATTN_MAX_SPLITS];
    const int tid = threadIdx.x;
    const rf_i64 row = blockIdx.x;  // token * n_head + head
    const rf_i32 S = P.splits;
    const rf_i32 D = P.head_dim;
    const float* ml = part + rf_attn_part_ml_at(row, 0, P);  // [S][2]
    if (ml[1] < 0.0f) return;  // the prefill kernel's row (every split says so)

    float mx = rf_attn_neg_inf();
    for (rf_i32 zz = tid; zz < S; zz += NT) mx = fmaxf(mx, ml[2 * zz]);
    red_s[tid] = mx;
    __syncthreads();
    for (int w = NT / 2; w > 0; w >>= 1) {
        if (tid < w) red_s[tid] = fmaxf(red_s[tid], red_s[tid + w]);
        __syncthreads();
    }
    const float M = red_s[0];
    __syncthreads();  // everyone has M before red_s is reused
    float* o = out + row * D;
    if (M == rf_attn_neg_inf()) {  // nothing visible (or in no sequence)
        for (rf_i32 d = tid; d < D; d += NT) o[d] = 0.0f;
        return;
    }

    float lsum = 0.0f;
    for (rf_i32 zz = tid; zz < S; zz += NT) {
        const float mz = ml[2 * zz];
        const float w = mz == rf_attn_neg_inf() ? 0.0f : expf(mz - M);
        w_s[zz] = w;
        lsum += ml[2 * zz + 1] * w;
    }
    red_s[tid] = lsum;
    __syncthreads();
    for (int w = NT / 2; w > 0; w >>= 1) {
        if (tid < w) red_s[tid] += red_s[tid + w];
        __syncthreads();
    }
    const float L = red_s[0];
    const float* acc = part + rf_attn_part_acc_at(row, 0, P);  // [S][D]
    for (rf_i32 d = tid; d < D; d += NT) {
        float a = 0.0f;
        for (rf_i32 zz = 0; zz < S; ++zz) {
            const float w = w_s[zz];
            if (w > 0.0f) a += acc[(rf_i64)zz * D + d] * w;
        }
        o[d] = L > 0.0f ? a / L : 0.0f;
    }
}

// ---- prefill: one block per (tile of query tokens, kv head, head chunk) ------

#define RF_ATTN_PREFILL_THREADS 128

// Rows of BK positions (element offsets in `off_s`, -1: masked) into shared
// memory as f32, KSTR floats apart, 8 elements per thread and step; zeros
// past head_dim (up to the next multiple of 8) and for masked positions.
template <class KV, int BK, int KSTR, int NT>
RF_DEVICE void rf_attn_tile_load(const typename KV::T* __restrict__ src, const rf_i64* off_s, rf_attn_f4* kv_s4,
                                 rf_i32 D, bool vec_ok) {
    const int chunks = (D + 7) / 8;
    for (int e = threadIdx.x; e < BK * chunks; e += NT) {
        const int k = e / chunks;
        const int d0 = (e % chunks) * 8;
        const rf_i64 off = off_s[k];
        float x[8];
        if (off >= 0) {
            rf_attn_load8<KV>(src, off, d0, D, vec_ok, x);
        } else {
#pragma unroll
            for (int i = 0; i < 8; ++i) x[i] = 0.0f;
        }
        rf_attn_f4* dst = &kv_s4[(k * KSTR + d0) / 4];
        dst[0] = rf_attn_f4{x[0], x[1], x[2], x[3]};
        dst[1] = rf_attn_f4{x[4], x[5], x[6], x[7]};
    }
}

template <class KV, int DMAX>
RF_DEVICE void rf_attn_prefill(const float* __restrict__ q, const typename KV::T* __restrict__ kc,
                               const typename KV::T* __restrict__ vc, const rf_i32* __restrict__ table,
                               const rf_i32* __restrict__ seqs, float* __restrict__ out, const rf_attn_params& P) {
    constexpr int NT = RF_ATTN_PREFILL_THREADS;
    constexpr int R = DMAX > 128 ? 16 : 32;   // query rows per block
    constexpr int BK = DMAX > 128 ? 16 : 32;  // kv positions per tile
    constexpr int KSTR = DMAX + 4;            // kv_s row stride (conflict-free float4 reads)
    constexpr int RS = NT / BK;               // scores: row groups
    constexpr int SR = R / RS;                // scores: rows per thread
    constexpr int TPR = NT / R;               // softmax: threads per row
    constexpr int EPT = BK / TPR;             // softmax: entries per thread
    constexpr int DG = DMAX / 4;              // P V: threads along head_dim (float4 each)
    constexpr int RG = NT / DG;               // P V: row groups
    constexpr int PR = R / RG;                // P V: rows per thread
    static_assert(NT % BK == 0 && R % RS == 0 && NT % R == 0 && BK % TPR == 0, "tile shape");
    static_assert(NT % DG == 0 && R % RG == 0 && TPR <= RF_WARP_SIZE, "tile shape");

    __shared__ rf_attn_f4 q_s4[R * DMAX / 4];
    __shared__ rf_attn_f4 kv_s4[BK * KSTR / 4];
    __shared__ float p_s[R][BK + 1];
    __shared__ float m_s[R];
    __shared__ float l_s[R];
    __shared__ float c_s[R];
    __shared__ rf_i32 pos_s[R];  // each row's position, -1 for an unused row
    __shared__ rf_i64 off_s[BK];
    __shared__ rf_i64 scan_s[NT];
    __shared__ rf_i32 item_s[2];
    float* q_s = &q_s4[0].x;

    const int tid = threadIdx.x;
    const rf_i32 TQ = P.tile_tokens;
    const rf_i32 HB = P.chunk_heads;
    const rf_i32 D = P.head_dim;
    const rf_i32 D4 = (D + 3) & ~3;
    const bool vec_ok = rf_attn_vec_ok<KV>(kc, vc, D);

    // Work item blockIdx.x: the (sequence, tile) it names, counting
    // ceil(n_q / TQ) tiles for every usable sequence this launch computes.
    const rf_i32 per = (P.n_seqs + NT - 1) / NT;
    const rf_i32 s_begin = min(P.n_seqs, tid * per);
    const rf_i32 s_end = min(P.n_seqs, s_begin + per);
    rf_i64 mine = 0;
    for (rf_i32 s = s_begin; s < s_end; ++s) {
        rf_attn_seq sq;
        if (rf_attn_seq_load(seqs, s, P, sq) && sq.n_q >= P.nq_min && sq.n_q <= P.nq_max)
            mine += (sq.n_q + TQ - 1) / TQ;
    }
    scan_s[tid] = mine;
    if (tid == 0) item_s[0] = -1;
    __syncthreads();
    for (int step = 1; step < NT; step <<= 1) {  // inclusive prefix sum
        const rf_i64 add = tid >= step ? scan_s[tid - step] : 0;
        __syncthreads();
        scan_s[tid] += add;
        __syncthreads();
    }
    const rf_i64 item = blockIdx.x;
    rf_i64 first = scan_s[tid] - mine;
    if (item >= first && item < scan_s[tid]) {
        for (rf_i32 s = s_begin; s < s_end; ++s) {
            rf_attn_seq sq;
            if (!(rf_attn_seq_load(seqs, s, P, sq) && sq.n_q >= P.nq_min && sq.n_q <= P.nq_max)) continue;
            const rf_i64 n = (sq.n_q + TQ - 1) / TQ;
            if (item < first + n) {
                item_s[0] = s;
                item_s[1] = (rf_i32)(item - first);
                break;
            }
            first += n;
        }
    }
    __syncthreads();
    if (item_s[0] < 0) return;  // more blocks than items
    const rf_i32 s = item_s[0];
    rf_attn_seq sq;
    rf_attn_seq_load(seqs, s, P, sq);
    const rf_i32 j0 = item_s[1] * TQ;  // first query (within the sequence) of the tile
    const rf_i32 nq_tile = min(TQ, sq.n_q - j0);
    const rf_i32 g = blockIdx.y / P.head_chunks;
    const rf_i32 chunk = blockIdx.y % P.head_chunks;
    const rf_i32 hc0 = chunk * HB;  // first head of the chunk, within the group
    const rf_i32 nheads = min(HB, P.group - hc0);
    const rf_i32* tab = table + (rf_i64)s * P.max_blocks;
    const rf_i32 pos0 = sq.kv_len - sq.n_q + j0;  // position of the tile's first query

    // Rows: r = ti * HB + hh for tile token ti and chunk head hh.
    for (int r = tid; r < R; r += NT) {
        const rf_i32 ti = r / HB;
        const rf_i32 hh = r % HB;
        pos_s[r] = (ti < nq_tile && hh < nheads) ? pos0 + ti : -1;
        m_s[r] = rf_attn_neg_inf();
        l_s[r] = 0.0f;
    }
    for (int e = tid; e < R * DMAX; e += NT) {
        const int r = e / DMAX;
        const int d = e % DMAX;
        const rf_i32 ti = r / HB;
        const rf_i32 hh = r % HB;
        float v = 0.0f;
        if (ti < nq_tile && hh < nheads && d < D) {
            const rf_i64 tok = (rf_i64)sq.q_start + j0 + ti;
            v = q[(tok * P.n_head + (rf_i64)g * P.group + hc0 + hh) * D + d];
        }
        q_s[e] = v;
    }

    const rf_i32 hi = pos0 + nq_tile - 1;
    const rf_i32 lo = rf_attn_first_visible(pos0, P);

    // Thread roles.
    const int sk = tid % BK;  // scores: kv column
    const int sr0 = tid / BK; // scores: first row (rows sr0 + i * RS)
    const int xr = tid / TPR; // softmax: row
    const int xs = tid % TPR; // softmax: part of the row
    const int vd = tid % DG;  // P V: float4 column
    const int vr0 = tid / DG; // P V: first row (rows vr0 + i * RG)
    float acc[PR][4];
#pragma unroll
    for (int i = 0; i < PR; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.0f;

    for (rf_i32 kt = lo; kt <= hi; kt += BK) {
        for (int k = tid; k < BK; k += NT) {
            const rf_i32 p = kt + k;
            off_s[k] = p <= hi ? rf_attn_row_offset(tab, p, g, P) : -1;
        }
        __syncthreads();  // off_s ready; previous tile's P V done with kv_s, p_s
        rf_attn_tile_load<KV, BK, KSTR, NT>(kc, off_s, kv_s4, D, vec_ok);
        __syncthreads();

        // S = Q K^T for this thread's column and rows, masked.
        {
            float dot[SR];
#pragma unroll
            for (int i = 0; i < SR; ++i) dot[i] = 0.0f;
            const rf_attn_f4* krow = &kv_s4[sk * KSTR / 4];
            for (int d4 = 0; d4 < D4 / 4; ++d4) {
                const rf_attn_f4 kv4 = krow[d4];
#pragma unroll
                for (int i = 0; i < SR; ++i) {
                    const rf_attn_f4 q4 = q_s4[(sr0 + i * RS) * (DMAX / 4) + d4];
                    dot[i] += q4.x * kv4.x + q4.y * kv4.y + q4.z * kv4.z + q4.w * kv4.w;
                }
            }
            const rf_i32 p = kt + sk;
            const bool have = off_s[sk] >= 0;
#pragma unroll
            for (int i = 0; i < SR; ++i) {
                const int r = sr0 + i * RS;
                const rf_i32 pr = pos_s[r];
                const bool vis = have && pr >= 0 && p <= pr && (P.window == 0 || (rf_i64)pr - p < (rf_i64)P.window);
                p_s[r][sk] = vis ? rf_attn_score(dot[i], P) : rf_attn_neg_inf();
            }
        }
        __syncthreads();  // scores ready; everyone is done reading K

        // Online softmax per row (TPR neighbouring lanes per row) ...
        {
            const float m_old = m_s[xr];
            const float l_old = l_s[xr];
            float mx = rf_attn_neg_inf();
#pragma unroll
            for (int e = 0; e < EPT; ++e) mx = fmaxf(mx, p_s[xr][xs * EPT + e]);
#pragma unroll
            for (int w = TPR / 2; w > 0; w >>= 1) mx = fmaxf(mx, rf_shfl_xor(mx, w, TPR));
            const float mn = fmaxf(m_old, mx);
            const bool none = mn == rf_attn_neg_inf();
            float sum = 0.0f;
#pragma unroll
            for (int e = 0; e < EPT; ++e) {
                const float pe = none ? 0.0f : expf(p_s[xr][xs * EPT + e] - mn);
                p_s[xr][xs * EPT + e] = pe;
                sum += pe;
            }
#pragma unroll
            for (int w = TPR / 2; w > 0; w >>= 1) sum += rf_shfl_xor(sum, w, TPR);
            const float corr = none ? 1.0f : expf(m_old - mn);
            if (xs == 0) {
                m_s[xr] = mn;
                l_s[xr] = l_old * corr + sum;
                c_s[xr] = corr;
            }
        }
        // ... while the V tile replaces the K tile.
        rf_attn_tile_load<KV, BK, KSTR, NT>(vc, off_s, kv_s4, D, vec_ok);
        __syncthreads();

        // O = O * corr + P V.
        if (vd * 4 < D4) {
#pragma unroll
            for (int i = 0; i < PR; ++i) {
                const int r = vr0 + i * RG;
                const float c = c_s[r];
                acc[i][0] *= c;
                acc[i][1] *= c;
                acc[i][2] *= c;
                acc[i][3] *= c;
            }
            for (int k = 0; k < BK; ++k) {
                const rf_attn_f4 v4 = kv_s4[k * (KSTR / 4) + vd];
#pragma unroll
                for (int i = 0; i < PR; ++i) {
                    const float pk = p_s[vr0 + i * RG][k];
                    acc[i][0] += pk * v4.x;
                    acc[i][1] += pk * v4.y;
                    acc[i][2] += pk * v4.z;
                    acc[i][3] += pk * v4.w;
                }
            }
        }
    }
    __syncthreads();  // final l_s (the loop may also run zero times)

#pragma unroll
    for (int i = 0; i < PR; ++i) {
        const int r = vr0 + i * RG;
        if (pos_s[r] < 0) continue;
        const rf_i32 ti = r / HB;
        const rf_i32 hh = r % HB;
        const float lsum = l_s[r];
        const float inv = lsum > 0.0f ? 1.0f / lsum : 0.0f;
        const rf_i64 tok = (rf_i64)sq.q_start + j0 + ti;
        float* o = out + (tok * P.n_head + (rf_i64)g * P.group + hc0 + hh) * D;
#pragma unroll
        for (int x = 0; x < 4; ++x) {
            const int d = vd * 4 + x;
            if (d < D) o[d] = acc[i][x] * inv;
        }
    }
}

// ---- entry points: attention_<cache type>_<variant> ------------------------
// Listed explicitly (one line each), as the host names them.

// `part`: the split-K partials (decode with P.splits > 1; unused otherwise).
#define RF_ATTN_ARGS                                                                                           \
    const float *__restrict__ q, const void *__restrict__ kc, const void *__restrict__ vc,                     \
        const rf_i32 *__restrict__ table, const rf_i32 *__restrict__ seqs, float *__restrict__ out,            \
        float *__restrict__ part, rf_attn_params P

#define RF_ATTN_DECODE(KVNAME, KV, DMAX, RD)                                                                   \
    extern "C" __global__ void __launch_bounds__(RF_ATTN_DECODE_MAX_THREADS(RD))                          \
        attention_##KVNAME##_decode_d##DMAX##_r##RD(RF_ATTN_ARGS) {                                            \
        rf_attn_decode<KV, DMAX, RD>(q, (const KV::T*)kc, (const KV::T*)vc, table, seqs, out, part, P);        \
    }

#define RF_ATTN_PREFILL(KVNAME, KV, DMAX)                                                                      \
    extern "C" __global__ void __launch_bounds__(RF_ATTN_PREFILL_THREADS)                                      \
        attention_##KVNAME##_prefill_d##DMAX(RF_ATTN_ARGS) {                                                   \
        rf_attn_prefill<KV, DMAX>(q, (const KV::T*)kc, (const KV::T*)vc, table, seqs, out, P);                 \
    }

// The split-K decode's second pass (any cache type, any head_dim).
extern "C" __global__ void __launch_bounds__(RF_ATTN_MERGE_THREADS)
    attention_decode_merge(const float* __restrict__ part, float* __restrict__ out, rf_attn_params P) {
    rf_attn_merge(part, out, P);
}

RF_ATTN_DECODE(f32, rf_kv_f32, 64, 1)
RF_ATTN_DECODE(f32, rf_kv_f32, 64, 2)
RF_ATTN_DECODE(f32, rf_kv_f32, 64, 4)
RF_ATTN_DECODE(f32, rf_kv_f32, 64, 8)
RF_ATTN_DECODE(f32, rf_kv_f32, 128, 1)
RF_ATTN_DECODE(f32, rf_kv_f32, 128, 2)
RF_ATTN_DECODE(f32, rf_kv_f32, 128, 4)
RF_ATTN_DECODE(f32, rf_kv_f32, 128, 8)
RF_ATTN_DECODE(f32, rf_kv_f32, 256, 1)
RF_ATTN_DECODE(f32, rf_kv_f32, 256, 2)
RF_ATTN_DECODE(f32, rf_kv_f32, 256, 4)
RF_ATTN_DECODE(f32, rf_kv_f32, 256, 8)
RF_ATTN_PREFILL(f32, rf_kv_f32, 64)
RF_ATTN_PREFILL(f32, rf_kv_f32, 128)
RF_ATTN_PREFILL(f32, rf_kv_f32, 256)
RF_ATTN_DECODE(f16, rf_kv_f16, 64, 1)
RF_ATTN_DECODE(f16, rf_kv_f16, 64, 2)
RF_ATTN_DECODE(f16, rf_kv_f16, 64, 4)
RF_ATTN_DECODE(f16, rf_kv_f16, 64, 8)
RF_ATTN_DECODE(f16, rf_kv_f16, 128, 1)
RF_ATTN_DECODE(f16, rf_kv_f16, 128, 2)
RF_ATTN_DECODE(f16, rf_kv_f16, 128, 4)
RF_ATTN_DECODE(f16, rf_kv_f16, 128, 8)
RF_ATTN_DECODE(f16, rf_kv_f16, 256, 1)
RF_ATTN_DECODE(f16, rf_kv_f16, 256, 2)
RF_ATTN_DECODE(f16, rf_kv_f16, 256, 4)
RF_ATTN_DECODE(f16, rf_kv_f16, 256, 8)
RF_ATTN_PREFILL(f16, rf_kv_f16, 64)
RF_ATTN_PREFILL(f16, rf_kv_f16, 128)
RF_ATTN_PREFILL(f16, rf_kv_f16, 256)
RF_ATTN_DECODE(bf16, rf_kv_bf16, 64, 1)
RF_ATTN_DECODE(bf16, rf_kv_bf16, 64, 2)
RF_ATTN_DECODE(bf16, rf_kv_bf16, 64, 4)
RF_ATTN_DECODE(bf16, rf_kv_bf16, 64, 8)
RF_ATTN_DECODE(bf16, rf_kv_bf16, 128, 1)
RF_ATTN_DECODE(bf16, rf_kv_bf16, 128, 2)
RF_ATTN_DECODE(bf16, rf_kv_bf16, 128, 4)
RF_ATTN_DECODE(bf16, rf_kv_bf16, 128, 8)
RF_ATTN_DECODE(bf16, rf_kv_bf16, 256, 1)
RF_ATTN_DECODE(bf16, rf_kv_bf16, 256, 2)
RF_ATTN_DECODE(bf16, rf_kv_bf16, 256, 4)
RF_ATTN_DECODE(bf16, rf_kv_bf16, 256, 8)
RF_ATTN_PREFILL(bf16, rf_kv_bf16, 64)
RF_ATTN_PREFILL(bf16, rf_kv_bf16, 128)
RF_ATTN_PREFILL(bf16, rf_kv_bf16, 256)
