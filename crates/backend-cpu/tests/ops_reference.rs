//! Every op of the CPU backend against straightforward reference math,
//! through the public `Backend` interface (alloc, upload, run, download).
//!
//! References are written here from the op's definition in `op.rs`, mostly
//! in f64; each test states its tolerance and why it is enough. Where the
//! backend's result is exactly determined (table lookups, conversions,
//! single f32 operations) the comparison is bit for bit.

use half::{bf16, f16};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rocmforge_backend_api::op::*;
use rocmforge_backend_api::{Backend, BackendError, BufferHandle, DType, Op, TensorDesc};
use rocmforge_backend_cpu::quant::{dequantize_row, quantize_row};
use rocmforge_backend_cpu::CpuBackend;

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// A backend plus helpers to place tensors in fresh buffers and read them.
struct Ctx {
    be: CpuBackend,
}

impl Ctx {
    fn new() -> Ctx {
        Ctx { be: CpuBackend::new().unwrap() }
    }

    fn buffer(&self, data: &[u8]) -> BufferHandle {
        let h = self.be.buffer_alloc(data.len() as u64).unwrap();
        self.be.buffer_upload(h, 0, data).unwrap();
        h
    }

    /// A contiguous tensor holding `data` (raw bytes of `dtype`).
    fn raw(&self, dtype: DType, shape: &[usize], data: &[u8]) -> TensorDesc {
        let t = TensorDesc::contiguous(self.buffer(data), 0, dtype, shape);
        assert_eq!(t.byte_range().unwrap().1 as usize, data.len(), "test bug: data size vs shape");
        t
    }

    fn f32(&self, shape: &[usize], v: &[f32]) -> TensorDesc {
        self.raw(DType::F32, shape, &f32_bytes(v))
    }

    fn i32(&self, shape: &[usize], v: &[i32]) -> TensorDesc {
        self.raw(DType::I32, shape, &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>())
    }

    /// A zero-filled contiguous tensor.
    fn zeros(&self, dtype: DType, shape: &[usize]) -> TensorDesc {
        let n: usize = shape.iter().product();
        self.raw(dtype, shape, &vec![0u8; dtype.row_bytes(n as u64).unwrap() as usize])
    }

    fn run(&self, op: Op<'_>) -> Result<(), BackendError> {
        self.be.run(&op)
    }

    fn bytes(&self, t: &TensorDesc) -> Vec<u8> {
        let (start, end) = t.byte_range().unwrap();
        let mut out = vec![0u8; (end - start) as usize];
        self.be.buffer_download(t.buffer, start, &mut out).unwrap();
        out
    }

    fn read_f32(&self, t: &TensorDesc) -> Vec<f32> {
        from_f32_bytes(&self.bytes(t))
    }

    fn read_i32(&self, t: &TensorDesc) -> Vec<i32> {
        self.bytes(t).chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_f32_bytes(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn uniform(r: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| r.gen_range(lo..hi)).collect()
}

/// Quantize `rows` rows of `k` values to `dtype`, row by row.
fn quantize(dtype: DType, vals: &[f32], k: usize) -> Vec<u8> {
    let rb = dtype.row_bytes(k as u64).unwrap() as usize;
    let mut out = vec![0u8; vals.len() / k.max(1) * rb];
    for (x, o) in vals.chunks(k).zip(out.chunks_mut(rb)) {
        quantize_row(dtype, x, o).unwrap();
    }
    out
}

fn dequantize(dtype: DType, bytes: &[u8], k: usize) -> Vec<f32> {
    let rb = dtype.row_bytes(k as u64).unwrap() as usize;
    let mut out = vec![0f32; bytes.len() / rb * k];
    for (b, o) in bytes.chunks(rb).zip(out.chunks_mut(k)) {
        dequantize_row(dtype, b, o).unwrap();
    }
    out
}

/// A 16-bit float type's value nearest to `v`, back as f32.
fn round_to(dtype: DType, v: f32) -> f32 {
    match dtype {
        DType::F32 => v,
        DType::F16 => f16::from_f32(v).to_f32(),
        DType::BF16 => f32::from_bits(u32::from(bf16_bits(v)) << 16),
        _ => unreachable!(),
    }
}

/// ggml's `ggml_compute_fp32_to_bf16`, written out: round to nearest even,
/// NaN quieted. An independent reference for the backend's `half` use.
fn bf16_bits(v: f32) -> u16 {
    let u = v.to_bits();
    if (u & 0x7fff_ffff) > 0x7f80_0000 {
        return ((u >> 16) | 64) as u16;
    }
    ((u + (0x7fff + ((u >> 16) & 1))) >> 16) as u16
}

fn is_invalid_argument(r: Result<(), BackendError>) -> String {
    match r {
        Err(BackendError::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// matmul
// ---------------------------------------------------------------------------

/// `out[n, m] = Σ_k w[k, n] x[k, m]` for every weight type, odd shapes,
/// F32 and F16 activations.
///
/// Reference: the weights as `dequantize_row` decodes them (the matmul's
/// contract is to use exactly those values) and the activations as stored
/// (f16-rounded for F16), multiplied in f64. Tolerance: an f32 sum of `L`
/// products, each rounded, is within `(L + 1)·u·Σ|w·x|` of exact (`u` =
/// 2^-24). The backend sums 8 lanes of `K/8` terms and reduces them in 3
/// levels, so `L = K/8 + 4`; we allow `(K/8 + 4)·ε·Σ|w·x|` (`ε` = 2u).
#[test]
fn matmul_every_weight_type_matches_f64_reference() {
    let be = Ctx::new();
    let mut r = rng(1);
    for wtype in DType::WEIGHTS {
        let ks: Vec<usize> = if wtype.is_quantized() {
            (1..=3).map(|b| b * wtype.block_len()).collect()
        } else {
            vec![1, 7, 67] // plain types: exercise the lane tails too
        };
        for k in ks {
            for m in [1usize, 5] {
                for xtype in [DType::F32, DType::F16] {
                    let n = 7;
                    let wf = uniform(&mut r, k * n, -1.0, 1.0);
                    let wq = quantize(wtype, &wf, k);
                    let wd = dequantize(wtype, &wq, k);
                    let xf = uniform(&mut r, k * m, -2.0, 2.0);
                    let xbytes = match xtype {
                        DType::F32 => f32_bytes(&xf),
                        _ => xf.iter().flat_map(|&v| f16::from_f32(v).to_bits().to_le_bytes()).collect(),
                    };
                    let xs: Vec<f32> = xf.iter().map(|&v| round_to(xtype, v)).collect();

                    let args = MatmulArgs {
                        w: be.raw(wtype, &[k, n], &wq),
                        x: be.raw(xtype, &[k, m], &xbytes),
                        out: be.zeros(DType::F32, &[n, m]),
                    };
                    be.run(Op::Matmul(&args)).unwrap();
                    let got = be.read_f32(&args.out);

                    for j in 0..m {
                        for i in 0..n {
                            let (mut exact, mut mag) = (0f64, 0f64);
                            for t in 0..k {
                                let p = f64::from(wd[i * k + t]) * f64::from(xs[j * k + t]);
                                exact += p;
                                mag += p.abs();
                            }
                            let tol = (k as f64 / 8.0 + 4.0) * f64::from(f32::EPSILON) * mag;
                            let g = f64::from(got[j * n + i]);
                            assert!(
                                (g - exact).abs() <= tol,
                                "{wtype} x {xtype}, K={k} M={m}: out[{i}, {j}] = {g}, reference {exact} (tol {tol:e})"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Bits do not depend on the number of threads (fixed summation order).
#[test]
fn matmul_is_deterministic_across_thread_counts() {
    let be = Ctx::new();
    let mut r = rng(2);
    let (k, n, m) = (512, 45, 9);
    let wq = quantize(DType::Q4K, &uniform(&mut r, k * n, -1.0, 1.0), k);
    let args = MatmulArgs {
        w: be.raw(DType::Q4K, &[k, n], &wq),
        x: be.f32(&[k, m], &uniform(&mut r, k * m, -1.0, 1.0)),
        out: be.zeros(DType::F32, &[n, m]),
    };
    be.run(Op::Matmul(&args)).unwrap();
    let many = be.read_f32(&args.out);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| be.run(Op::Matmul(&args))).unwrap();
    let one = be.read_f32(&args.out);
    assert!(many.iter().zip(&one).all(|(a, b)| a.to_bits() == b.to_bits()));
}

// ---------------------------------------------------------------------------
// get_rows / set_rows
// ---------------------------------------------------------------------------

/// Rows come out exactly as `dequantize_row` decodes them, for every type.
#[test]
fn get_rows_equals_dequantize_row_bit_for_bit() {
    let be = Ctx::new();
    let mut r = rng(4);
    for dtype in DType::WEIGHTS {
        let k = 2 * dtype.block_len().max(16);
        let v = 5;
        let tq = quantize(dtype, &uniform(&mut r, k * v, -3.0, 3.0), k);
        let td = dequantize(dtype, &tq, k);
        let ids = [3, 0, 3, 4, 1];
        let args = GetRowsArgs {
            table: be.raw(dtype, &[k, v], &tq),
            ids: be.i32(&[ids.len()], &ids),
            out: be.zeros(DType::F32, &[k, ids.len()]),
        };
        be.run(Op::GetRows(&args)).unwrap();
        let got = be.read_f32(&args.out);
        for (i, &id) in ids.iter().enumerate() {
            for c in 0..k {
                let (g, e) = (got[i * k + c], td[id as usize * k + c]);
                assert_eq!(g.to_bits(), e.to_bits(), "{dtype}: out[{c}, {i}] (table row {id})");
            }
        }
    }
}

#[test]
fn get_rows_rejects_out_of_range_ids() {
    let be = Ctx::new();
    let table = be.f32(&[4, 3], &[1.0; 12]);
    for bad in [3, -1, i32::MAX] {
        let args = GetRowsArgs { table, ids: be.i32(&[2], &[0, bad]), out: be.zeros(DType::F32, &[4, 2]) };
        let msg = is_invalid_argument(be.run(Op::GetRows(&args)));
        assert!(msg.contains(&bad.to_string()) && msg.contains("3 rows"), "{msg}");
        assert!(be.read_f32(&args.out).iter().all(|&v| v == 0.0), "nothing written");
    }
}

/// Scattered rows hold the source converted as ggml converts it (f16 by
/// `half`'s round-to-nearest-even, bf16 by ggml's bit formula); every other
/// row is untouched.
#[test]
fn set_rows_converts_and_scatters() {
    let be = Ctx::new();
    let mut r = rng(5);
    let (k, rows) = (10, 8);
    let ids = [4, 1, 6];
    for dtype in [DType::F32, DType::F16, DType::BF16] {
        let before = quantize(dtype, &uniform(&mut r, k * rows, -9.0, 9.0), k);
        let src = uniform(&mut r, k * ids.len(), -70000.0, 70000.0); // beyond f16's range too
        let args = SetRowsArgs {
            src: be.f32(&[k, ids.len()], &src),
            ids: be.i32(&[ids.len()], &ids),
            dst: be.raw(dtype, &[k, rows], &before),
        };
        be.run(Op::SetRows(&args)).unwrap();
        let after = be.bytes(&args.dst);
        let es = dtype.block_bytes();
        for row in 0..rows {
            let got = &after[row * k * es..(row + 1) * k * es];
            match ids.iter().position(|&i| i as usize == row) {
                None => assert_eq!(got, &before[row * k * es..(row + 1) * k * es], "{dtype}: row {row} changed"),
                Some(i) => {
                    let want: Vec<u8> = src[i * k..(i + 1) * k]
                        .iter()
                        .flat_map(|&v| match dtype {
                            DType::F32 => v.to_le_bytes().to_vec(),
                            DType::F16 => f16::from_f32(v).to_bits().to_le_bytes().to_vec(),
                            _ => bf16_bits(v).to_le_bytes().to_vec(),
                        })
                        .collect();
                    assert_eq!(got, &want[..], "{dtype}: row {row}");
                }
            }
        }
    }
}

#[test]
fn set_rows_rejects_out_of_range_ids_and_writes_nothing() {
    let be = Ctx::new();
    for bad in [8, -2] {
        let before = f32_bytes(&(0..32).map(|v| v as f32).collect::<Vec<_>>());
        let args = SetRowsArgs {
            src: be.f32(&[4, 2], &[7.0; 8]),
            ids: be.i32(&[2], &[1, bad]),
            dst: be.raw(DType::F32, &[4, 8], &before),
        };
        let msg = is_invalid_argument(be.run(Op::SetRows(&args)));
        assert!(msg.contains(&bad.to_string()), "{msg}");
        assert_eq!(be.bytes(&args.dst), before);
    }
}

// ---------------------------------------------------------------------------
// rms_norm / layer_norm
// ---------------------------------------------------------------------------

/// Reference in f64. The backend rounds each square, the mean, the scale
/// and each product to f32 (a handful of roundings per element, relative
/// error ~5e-7), and, as ggml, rounds layer_norm's mean to f32 first, which
/// shifts a whole row far from zero mean by up to `ulp(mean)/2/σ` (2e-6
/// for the row near 100 here). Outputs are O(1), so `|got - ref| <=
/// 1e-5·(1 + |ref|)` has margin while still catching a wrong mean, eps
/// placement or weight/bias handling (all errors of 1e-3 or more here).
#[test]
fn norms_match_f64_reference() {
    let be = Ctx::new();
    let mut r = rng(6);
    let (n, rows) = (67, 5);
    let eps = 1e-5f32;
    let mut x = uniform(&mut r, n * rows, -3.0, 3.0);
    // One row far from zero mean, one tiny (eps matters there).
    for v in &mut x[n..2 * n] {
        *v += 100.0;
    }
    for v in &mut x[2 * n..3 * n] {
        *v *= 1e-3;
    }
    let w = uniform(&mut r, n, 0.5, 1.5);
    let b = uniform(&mut r, n, -1.0, 1.0);
    for layer in [false, true] {
        for (use_w, use_b) in [(false, false), (true, false), (false, true), (true, true)] {
            if !layer && use_b {
                continue; // rms_norm takes no bias
            }
            let args = NormArgs {
                x: be.f32(&[n, rows], &x),
                weight: if use_w { be.f32(&[n], &w) } else { TensorDesc::NONE },
                bias: if use_b { be.f32(&[n], &b) } else { TensorDesc::NONE },
                out: be.zeros(DType::F32, &[n, rows]),
                eps,
                _reserved: 0,
            };
            be.run(if layer { Op::LayerNorm(&args) } else { Op::RmsNorm(&args) }).unwrap();
            let got = be.read_f32(&args.out);
            for row in 0..rows {
                let xr: Vec<f64> = x[row * n..(row + 1) * n].iter().map(|&v| f64::from(v)).collect();
                let mean = if layer { xr.iter().sum::<f64>() / n as f64 } else { 0.0 };
                let var = xr.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
                let inv = 1.0 / (var + f64::from(eps)).sqrt();
                for c in 0..n {
                    let mut e = (xr[c] - mean) * inv;
                    if use_w {
                        e *= f64::from(w[c]);
                    }
                    if use_b {
                        e += f64::from(b[c]);
                    }
                    let g = f64::from(got[row * n + c]);
                    assert!(
                        (g - e).abs() <= 1e-5 * (1.0 + e.abs()),
                        "layer={layer} w={use_w} b={use_b}: [{c}, {row}] = {g}, reference {e}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// rope
// ---------------------------------------------------------------------------

/// The rope formula of ggml's `rope_ext` (`ggml_rope_cache_init`,
/// `rope_yarn`, `ggml_rope_yarn_corr_dims`) evaluated in f64, with the angle
/// computed directly as `p · base^(-2i/n_dims)` instead of ggml's running
/// product. Returns the rotated `[head_dim]` vector and, per pair, the
/// larger of the extrapolated and interpolated angles' magnitudes.
fn rope_ref(x: &[f32], pos: i32, p: &RopeParams, ff: Option<&[f32]>) -> (Vec<f64>, Vec<f64>) {
    let n_dims = p.n_dims as usize;
    let base = f64::from(p.freq_base);
    let corr_dim = |n_rot: f64| {
        n_dims as f64 * (f64::from(p.n_ctx_orig) / (n_rot * 2.0 * std::f64::consts::PI)).ln() / (2.0 * base.ln())
    };
    let low = corr_dim(f64::from(p.beta_fast)).floor().max(0.0);
    let high = corr_dim(f64::from(p.beta_slow)).ceil().min((n_dims - 1) as f64);
    let mut y: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let mut angles = vec![0f64; n_dims / 2];
    for i in 0..n_dims / 2 {
        let theta_extrap =
            f64::from(pos) * base.powf(-2.0 * i as f64 / n_dims as f64) / ff.map_or(1.0, |f| f64::from(f[i]));
        let theta_interp = f64::from(p.freq_scale) * theta_extrap;
        angles[i] = theta_extrap.abs().max(theta_interp.abs());
        let mut theta = theta_interp;
        let mut mscale = f64::from(p.attn_factor);
        if p.ext_factor != 0.0 {
            let ramp = 1.0 - ((i as f64 - low) / (high - low).max(0.001)).clamp(0.0, 1.0);
            let mix = ramp * f64::from(p.ext_factor);
            theta = theta_interp * (1.0 - mix) + theta_extrap * mix;
            mscale *= 1.0 + 0.1 * (1.0 / f64::from(p.freq_scale)).ln();
        }
        let (i0, i1) = if p.mode == ROPE_NEOX { (i, i + n_dims / 2) } else { (2 * i, 2 * i + 1) };
        let (x0, x1) = (f64::from(x[i0]), f64::from(x[i1]));
        y[i0] = (x0 * theta.cos() - x1 * theta.sin()) * mscale;
        y[i1] = (x0 * theta.sin() + x1 * theta.cos()) * mscale;
    }
    (y, angles)
}

/// Normal and NeoX pairs, with freq_factors, with n_dims < head_dim, and
/// with YaRN, against [`rope_ref`].
///
/// Tolerance: ggml's (and our) angle `θ_i` for pair `i` is `p` times `i`
/// f32 roundings of `theta_scale` plus the rounding of `powf` (and of the
/// freq-factor division and YaRN mix), so its relative error is at most
/// about `(i + 3)·ε`; f32 `cos`/`sin` add about `ε`. For a pair of
/// magnitude `|x0| + |x1|` the rotated values are then off by at most
/// `(|θ_i|(i + 3)ε + 4ε)(|x0| + |x1|)·mscale`; we allow twice that. (An
/// angle off by 1e-4 relative at one pair fails this.) Dims past `n_dims`
/// must be copied exactly.
#[test]
fn rope_matches_f64_reference() {
    let be = Ctx::new();
    let mut r = rng(7);
    let (head_dim, n_heads) = (64, 3);
    let positions = [0, 1, 5, 17, 100, 511, 3];
    let n_tok = positions.len();
    let x = uniform(&mut r, head_dim * n_heads * n_tok, -2.0, 2.0);
    let yarn = RopeParams {
        n_dims: 64,
        mode: ROPE_NORMAL,
        n_ctx_orig: 256,
        _reserved: 0,
        freq_base: 10000.0,
        freq_scale: 0.25,
        ext_factor: 1.0,
        attn_factor: 1.0,
        beta_fast: 32.0,
        beta_slow: 1.0,
    };
    let cases: Vec<(&str, RopeParams, bool)> = vec![
        ("normal", RopeParams::plain(64, ROPE_NORMAL, 10000.0), false),
        ("neox", RopeParams::plain(64, ROPE_NEOX, 10000.0), false),
        ("normal ff", RopeParams::plain(64, ROPE_NORMAL, 500000.0), true),
        ("neox ff", RopeParams::plain(64, ROPE_NEOX, 500000.0), true),
        ("normal partial", RopeParams::plain(24, ROPE_NORMAL, 10000.0), false),
        ("neox partial", RopeParams::plain(32, ROPE_NEOX, 10000.0), true),
        ("linear scale", RopeParams { freq_scale: 0.5, ..RopeParams::plain(64, ROPE_NEOX, 10000.0) }, false),
        ("yarn normal", yarn, false),
        ("yarn neox ff", RopeParams { mode: ROPE_NEOX, attn_factor: 0.9, ..yarn }, true),
        ("yarn partial ext 0.5", RopeParams { n_dims: 48, ext_factor: 0.5, ..yarn }, false),
    ];
    for (name, p, with_ff) in cases {
        let n_dims = p.n_dims as usize;
        let ff: Vec<f32> = (0..n_dims / 2).map(|i| 1.0 + (i % 5) as f32 * 0.75).collect();
        let args = RopeArgs {
            x: be.f32(&[head_dim, n_heads, n_tok], &x),
            positions: be.i32(&[n_tok], &positions),
            freq_factors: if with_ff { be.f32(&[n_dims / 2], &ff) } else { TensorDesc::NONE },
            out: be.zeros(DType::F32, &[head_dim, n_heads, n_tok]),
            params: p,
        };
        be.run(Op::Rope(&args)).unwrap();
        let got = be.read_f32(&args.out);
        let eps = f64::from(f32::EPSILON);
        for (t, &pos) in positions.iter().enumerate() {
            for h in 0..n_heads {
                let at = (t * n_heads + h) * head_dim;
                let xh = &x[at..at + head_dim];
                let gh = &got[at..at + head_dim];
                let (e, angles) = rope_ref(xh, pos, &p, with_ff.then_some(&ff[..]));
                let mscale = 1.2; // bounds YaRN's 1 + 0.1 ln 4 = 1.14
                for (i, &theta) in angles.iter().enumerate() {
                    let (i0, i1) = if p.mode == ROPE_NEOX { (i, i + n_dims / 2) } else { (2 * i, 2 * i + 1) };
                    let mag = f64::from(xh[i0].abs() + xh[i1].abs());
                    let tol = 2.0 * (theta * (i as f64 + 3.0) * eps + 4.0 * eps) * mag * mscale;
                    for d in [i0, i1] {
                        assert!(
                            (f64::from(gh[d]) - e[d]).abs() <= tol,
                            "{name}: pos {pos} head {h} dim {d}: {} vs reference {} (tol {tol:e})",
                            gh[d],
                            e[d]
                        );
                    }
                }
                for d in n_dims..head_dim {
                    assert_eq!(gh[d].to_bits(), xh[d].to_bits(), "{name}: dim {d} past n_dims must be copied");
                }
            }
        }
    }
}

/// Without YaRN's magnitude scaling each rotated pair keeps its length, and
/// position 0 is the identity.
#[test]
fn rope_preserves_pair_norms_and_position_zero_is_identity() {
    let be = Ctx::new();
    let mut r = rng(8);
    let (head_dim, n_heads) = (32, 2);
    let positions = [0, 9, 1000, 0];
    let x = uniform(&mut r, head_dim * n_heads * positions.len(), -5.0, 5.0);
    for mode in [ROPE_NORMAL, ROPE_NEOX] {
        let p = RopeParams { freq_scale: 0.5, ..RopeParams::plain(head_dim as u32, mode, 10000.0) };
        let args = RopeArgs {
            x: be.f32(&[head_dim, n_heads, positions.len()], &x),
            positions: be.i32(&[positions.len()], &positions),
            freq_factors: be.f32(&[head_dim / 2], &vec![2.0; head_dim / 2]),
            out: be.zeros(DType::F32, &[head_dim, n_heads, positions.len()]),
            params: p,
        };
        be.run(Op::Rope(&args)).unwrap();
        let got = be.read_f32(&args.out);
        for (t, &pos) in positions.iter().enumerate() {
            for h in 0..n_heads {
                let at = (t * n_heads + h) * head_dim;
                if pos == 0 {
                    assert_eq!(&got[at..at + head_dim], &x[at..at + head_dim], "mode {mode}: position 0");
                }
                for i in 0..head_dim / 2 {
                    let (i0, i1) = if mode == ROPE_NEOX { (i, i + head_dim / 2) } else { (2 * i, 2 * i + 1) };
                    let before = f64::from(x[at + i0]).hypot(f64::from(x[at + i1]));
                    let after = f64::from(got[at + i0]).hypot(f64::from(got[at + i1]));
                    assert!(
                        (before - after).abs() <= 4e-7 * before,
                        "mode {mode} pos {pos} pair {i}: {before} -> {after}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// attention
// ---------------------------------------------------------------------------

/// One sequence of an attention test: its queries and its dense keys and
/// values (`[kv_len][n_kv_head][head_dim]`, already rounded to the cache
/// type).
struct TestSeq {
    q_start: usize,
    n_q: usize,
    kv_len: usize,
    k: Vec<f32>,
    v: Vec<f32>,
}

struct AttnCase {
    head_dim: usize,
    n_head: usize,
    n_kv_head: usize,
    block_len: usize,
    cache_type: DType,
    params: AttentionParams,
}

/// Dense attention in f64 for query token `j` of `s`, head `h`, with the mask
/// written out: position `p` is visible iff `p <= pos` and, with a window
/// `w > 0`, `pos - p < w`. Also returns the error bound of an f32
/// implementation (see [`check_attention`]).
fn attention_ref(c: &AttnCase, s: &TestSeq, q: &[f32], j: usize, h: usize) -> (Vec<f64>, f64) {
    let d = c.head_dim;
    let kvh = h / (c.n_head / c.n_kv_head);
    let pos = s.kv_len - s.n_q + j;
    let w = c.params.sliding_window as usize;
    let visible = |p: usize| p <= pos && (w == 0 || pos - p < w);
    let mut scores = vec![f64::NEG_INFINITY; s.kv_len];
    let mut max_mag = 0f64;
    for (p, sc) in scores.iter_mut().enumerate().filter(|(p, _)| visible(*p)) {
        let k = &s.k[(p * c.n_kv_head + kvh) * d..][..d];
        max_mag = max_mag.max(q.iter().zip(k).map(|(&a, &b)| f64::from(a * b).abs()).sum());
        let mut dotp: f64 = q.iter().zip(k).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
        dotp *= f64::from(c.params.scale);
        if c.params.softcap > 0.0 {
            let cap = f64::from(c.params.softcap);
            dotp = cap * (dotp / cap).tanh();
        }
        *sc = dotp;
    }
    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = scores.iter().map(|&s| if s == f64::NEG_INFINITY { 0.0 } else { (s - max).exp() }).collect();
    let sum: f64 = e.iter().sum();
    let mut out = vec![0f64; d];
    for (p, &ep) in e.iter().enumerate() {
        let v = &s.v[(p * c.n_kv_head + kvh) * d..][..d];
        for (o, &vv) in out.iter_mut().zip(v) {
            *o += ep / sum * f64::from(vv);
        }
    }
    let eps = f64::from(f32::EPSILON);
    let score_err = (d as f64 / 8.0 + 5.0) * eps * f64::from(c.params.scale) * max_mag;
    let max_v = s.v.iter().fold(0f64, |m, &v| m.max(f64::from(v).abs()));
    let tol = (2.0 * score_err + (s.kv_len as f64 + 8.0) * eps) * max_v * 1.5;
    (out, tol)
}

/// Builds the paged cache for `seqs` (blocks handed out from a shuffled
/// pool, unused slots filled with NaN so reading one shows), runs the op,
/// and compares every output row with [`attention_ref`].
///
/// Tolerance: each score is an f32 dot of `head_dim` terms, off by at most
/// `δ = (head_dim/8 + 5)·ε·scale·Σ|q·k|` (as in matmul, one more rounding
/// for the scale; tanh only shrinks errors). Score errors of `δ` move each
/// softmax weight by a relative `2δ` at most, so the output by `2δ·max|v|`;
/// the exps, the normalisation and the f32 sum over `kv_len` positions add
/// `(kv_len + 8)·ε·max|v|`. We allow 1.5 times the sum of both. Any masking
/// or indexing error changes outputs by 1e-2 or more with these sizes.
fn check_attention(c: &AttnCase, seqs_spec: &[(usize, usize, usize)], seed: u64) {
    let be = Ctx::new();
    let mut r = rng(seed);
    let (d, bl) = (c.head_dim, c.block_len);
    let n_tokens = seqs_spec.iter().map(|s| s.0 + s.1).max().unwrap_or(0).max(1);
    let seqs: Vec<TestSeq> = seqs_spec
        .iter()
        .map(|&(q_start, n_q, kv_len)| {
            let n = kv_len * c.n_kv_head * d;
            let round = |v: Vec<f32>| v.into_iter().map(|x| round_to(c.cache_type, x)).collect();
            TestSeq {
                q_start,
                n_q,
                kv_len,
                k: round(uniform(&mut r, n, -1.0, 1.0)),
                v: round(uniform(&mut r, n, -1.0, 1.0)),
            }
        })
        .collect();
    let needed: Vec<usize> = seqs.iter().map(|s| s.kv_len.div_ceil(bl)).collect();
    let max_blocks = needed.iter().copied().max().unwrap_or(0).max(1) + 1;
    let n_blocks = needed.iter().sum::<usize>() + 3; // a few never used
    let mut pool: Vec<usize> = (0..n_blocks).collect();
    pool.shuffle(&mut r);
    let mut table = vec![-1i32; max_blocks * seqs.len()];
    let es = c.cache_type.block_bytes();
    let pos_len = c.n_kv_head * d;
    let mut kc = vec![f32::NAN; n_blocks * bl * pos_len];
    let mut vc = kc.clone();
    for (s, sq) in seqs.iter().enumerate() {
        for b in 0..needed[s] {
            let blk = pool.pop().unwrap();
            table[s * max_blocks + b] = blk as i32;
            for slot in 0..bl {
                let p = b * bl + slot;
                if p < sq.kv_len {
                    let at = (blk * bl + slot) * pos_len;
                    kc[at..at + pos_len].copy_from_slice(&sq.k[p * pos_len..(p + 1) * pos_len]);
                    vc[at..at + pos_len].copy_from_slice(&sq.v[p * pos_len..(p + 1) * pos_len]);
                }
            }
        }
    }
    let encode = |v: &[f32]| -> Vec<u8> {
        v.iter()
            .flat_map(|&x| match c.cache_type {
                DType::F32 => x.to_le_bytes().to_vec(),
                DType::F16 => f16::from_f32(x).to_bits().to_le_bytes().to_vec(),
                _ => bf16::from_f32(x).to_bits().to_le_bytes().to_vec(),
            })
            .collect()
    };
    assert_eq!(encode(&kc).len(), kc.len() * es);
    let q = uniform(&mut r, d * c.n_head * n_tokens, -1.0, 1.0);
    let info: Vec<i32> = seqs.iter().flat_map(|s| [s.q_start as i32, s.n_q as i32, s.kv_len as i32]).collect();
    let cache_shape = [d, c.n_kv_head, bl, n_blocks];
    let args = AttentionArgs {
        q: be.f32(&[d, c.n_head, n_tokens], &q),
        k_cache: be.raw(c.cache_type, &cache_shape, &encode(&kc)),
        v_cache: be.raw(c.cache_type, &cache_shape, &encode(&vc)),
        block_table: be.i32(&[max_blocks, seqs.len()], &table),
        seqs: be.i32(&[3, seqs.len()], &info),
        out: be.f32(&[d, c.n_head, n_tokens], &vec![f32::NAN; d * c.n_head * n_tokens]),
        params: c.params,
    };
    be.run(Op::Attention(&args)).unwrap();
    let got = be.read_f32(&args.out);
    let mut covered = vec![false; n_tokens];
    for sq in &seqs {
        for j in 0..sq.n_q {
            let t = sq.q_start + j;
            covered[t] = true;
            for h in 0..c.n_head {
                let row = (t * c.n_head + h) * d;
                let (e, tol) = attention_ref(c, sq, &q[row..row + d], j, h);
                for i in 0..d {
                    let g = f64::from(got[row + i]);
                    assert!(
                        (g - e[i]).abs() <= tol,
                        "{:?} heads {}/{} bl {bl}: token {t} head {h} [{i}] = {g}, reference {}",
                        c.cache_type,
                        c.n_head,
                        c.n_kv_head,
                        e[i]
                    );
                }
            }
        }
    }
    for (t, cov) in covered.iter().enumerate() {
        if !cov {
            let row = &got[t * c.n_head * d..(t + 1) * c.n_head * d];
            assert!(row.iter().all(|&v| v == 0.0), "token {t} belongs to no sequence: zero output");
        }
    }
}

fn params(scale: f32, softcap: f32, window: u32) -> AttentionParams {
    AttentionParams { scale, softcap, sliding_window: window, _reserved: 0 }
}

/// Prefill, decode and chunked prefill mixed in one call, sequences out of
/// token order, a sequence without queries, and a token in none.
const MIXED: [(usize, usize, usize); 5] = [
    (7, 9, 9),   // prefill: 9 tokens, kv 9
    (0, 1, 37),  // decode at position 36
    (2, 4, 20),  // chunked prefill: positions 16..20
    (16, 0, 5),  // no queries this step
    (17, 2, 48), // two-token decode (speculative), 3 full blocks of 16
];
// Token 1, 6 and 16 belong to no sequence.

#[test]
fn attention_matches_dense_reference_gqa_and_block_lens() {
    let scale = 1.0 / 8f32.sqrt();
    for (n_head, n_kv_head) in [(4, 4), (4, 2), (7, 1), (8, 1), (14, 2)] {
        for block_len in [16, 3] {
            let c = AttnCase {
                head_dim: 8,
                n_head,
                n_kv_head,
                block_len,
                cache_type: DType::F32,
                params: params(scale, 0.0, 0),
            };
            check_attention(&c, &MIXED, 10 + n_head as u64 * 3 + block_len as u64);
        }
    }
}

#[test]
fn attention_sliding_window_softcap_and_half_caches() {
    let cases = [
        (DType::F32, params(0.35, 0.0, 5)),
        (DType::F32, params(0.35, 0.0, 1)),
        (DType::F32, params(2.0, 3.0, 0)), // large scale so the cap bites
        (DType::F16, params(0.35, 0.0, 0)),
        (DType::F16, params(1.5, 2.5, 7)),
        (DType::BF16, params(0.35, 0.0, 4)),
    ];
    for (i, (cache_type, p)) in cases.into_iter().enumerate() {
        for block_len in [16, 3] {
            let c = AttnCase { head_dim: 64, n_head: 4, n_kv_head: 2, block_len, cache_type, params: p };
            check_attention(&c, &MIXED, 100 + i as u64);
        }
    }
}

/// Data-dependent errors are reported, never a panic or an out-of-bounds
/// read.
#[test]
fn attention_rejects_bad_sequences_and_block_tables() {
    let be = Ctx::new();
    let (d, h, bl, n_blocks, max_blocks, n_tokens) = (4, 2, 4, 3, 2, 4);
    let cache = be.f32(&[d, h, bl, n_blocks], &vec![0.5; d * h * bl * n_blocks]);
    let run = |seqs: &[i32], table: &[i32]| {
        let n_seqs = seqs.len() / 3;
        let args = AttentionArgs {
            q: be.f32(&[d, h, n_tokens], &vec![1.0; d * h * n_tokens]),
            k_cache: cache,
            v_cache: cache,
            block_table: be.i32(&[max_blocks, n_seqs], table),
            seqs: be.i32(&[3, n_seqs], seqs),
            out: be.zeros(DType::F32, &[d, h, n_tokens]),
            params: params(0.5, 0.0, 0),
        };
        be.run(Op::Attention(&args))
    };
    // A good call first, so the failures below are the data's fault.
    run(&[0, 2, 6, 2, 2, 3], &[2, 0, 1, -7]).unwrap();
    let bad: [(&str, Vec<i32>, Vec<i32>); 9] = [
        ("block id past the cache", vec![0, 2, 6], vec![2, 3]),
        ("negative block id", vec![0, 2, 6], vec![-1, 0]),
        ("more blocks than the table holds", vec![0, 2, 9], vec![0, 1]),
        ("queries past the batch", vec![3, 2, 6], vec![0, 1]),
        ("more queries than kv", vec![0, 3, 2], vec![0, 1]),
        ("negative q_start", vec![-1, 1, 2], vec![0, 1]),
        ("negative kv_len", vec![0, 0, -4], vec![0, 1]),
        ("overlapping queries", vec![0, 2, 6, 1, 2, 3], vec![0, 1, 2, 2]),
        ("huge kv_len", vec![0, 1, i32::MAX], vec![0, 1]),
    ];
    for (what, seqs, table) in bad {
        let msg = is_invalid_argument(run(&seqs, &table));
        assert!(msg.starts_with("attention: "), "{what}: {msg}");
    }
}

// ---------------------------------------------------------------------------
// element-wise
// ---------------------------------------------------------------------------

/// `add`/`mul` against the index formula of ggml's repeat. Each output is one
/// f32 operation, which the f64 result rounded to f32 reproduces exactly.
#[test]
fn add_and_mul_broadcast_exactly() {
    let be = Ctx::new();
    let mut r = rng(20);
    let a_shape = [6usize, 4, 3, 2];
    let na: usize = a_shape.iter().product();
    let a = uniform(&mut r, na, -4.0, 4.0);
    for b_shape in [[6, 4, 3, 2], [6, 1, 1, 1], [1, 4, 1, 1], [3, 2, 3, 1], [1, 1, 1, 1], [2, 2, 1, 2], [6, 1, 3, 1]] {
        let nb: usize = b_shape.iter().product();
        let b = uniform(&mut r, nb, -4.0, 4.0);
        for is_mul in [false, true] {
            let args =
                BinaryArgs { a: be.f32(&a_shape, &a), b: be.f32(&b_shape, &b), out: be.zeros(DType::F32, &a_shape) };
            be.run(if is_mul { Op::Mul(&args) } else { Op::Add(&args) }).unwrap();
            let got = be.read_f32(&args.out);
            let mut idx = 0;
            for i3 in 0..a_shape[3] {
                for i2 in 0..a_shape[2] {
                    for i1 in 0..a_shape[1] {
                        for i0 in 0..a_shape[0] {
                            let bi = i0 % b_shape[0]
                                + b_shape[0]
                                    * (i1 % b_shape[1]
                                        + b_shape[1] * (i2 % b_shape[2] + b_shape[2] * (i3 % b_shape[3])));
                            let (x, y) = (f64::from(a[idx]), f64::from(b[bi]));
                            let e = if is_mul { x * y } else { x + y } as f32;
                            assert_eq!(got[idx], e, "b {b_shape:?} mul={is_mul} at {idx}");
                            idx += 1;
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn scale_is_exact() {
    let be = Ctx::new();
    let x = uniform(&mut rng(21), 1000, -10.0, 10.0);
    let args =
        ScaleArgs { x: be.f32(&[10, 100], &x), out: be.zeros(DType::F32, &[10, 100]), scale: -0.37, _reserved: 0 };
    be.run(Op::Scale(&args)).unwrap();
    for (g, &v) in be.read_f32(&args.out).iter().zip(&x) {
        assert_eq!(*g, (f64::from(v) * f64::from(-0.37f32)) as f32);
    }
}

/// Gated units in f64. silu: a few f32 roundings, so relative `2e-6` (plus
/// `1e-30` for results that underflow). gelu: `1 + tanh(..)` cancels for
/// negative gates, so its error is absolute, about `ε·|g|·|u|`; we allow
/// `4e-7·|g|·|u| + 2e-6·|ref|`.
#[test]
fn silu_mul_and_gelu_mul_match_f64() {
    let be = Ctx::new();
    let mut r = rng(22);
    let n = 4096;
    let mut g = uniform(&mut r, n, -8.0, 8.0);
    g[..8].copy_from_slice(&[0.0, -0.0, 100.0, -100.0, 30.0, -30.0, 1e-30, -1e-30]);
    let u = uniform(&mut r, n, -3.0, 3.0);
    for gelu in [false, true] {
        let args =
            GluArgs { gate: be.f32(&[64, 64], &g), up: be.f32(&[64, 64], &u), out: be.zeros(DType::F32, &[64, 64]) };
        be.run(if gelu { Op::GeluMul(&args) } else { Op::SiluMul(&args) }).unwrap();
        for (i, &got) in be.read_f32(&args.out).iter().enumerate() {
            let (x, y) = (f64::from(g[i]), f64::from(u[i]));
            let (e, tol) = if gelu {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                let e = 0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh()) * y;
                (e, 4e-7 * x.abs() * y.abs() + 2e-6 * e.abs())
            } else {
                let e = x / (1.0 + (-x).exp()) * y;
                (e, 2e-6 * e.abs() + 1e-30)
            };
            assert!((f64::from(got) - e).abs() <= tol, "gelu={gelu} g={x} u={y}: {got} vs {e}");
        }
    }
}

// ---------------------------------------------------------------------------
// softmax / argmax
// ---------------------------------------------------------------------------

/// Row softmax in f64. Each output takes a few f32 roundings (scale, the
/// subtraction, exp, the normalisation), so `2e-6·ref + 1e-7`.
#[test]
fn softmax_matches_f64_and_subtracts_the_max() {
    let be = Ctx::new();
    let n = 33;
    let mut x = uniform(&mut rng(23), n * 4, -5.0, 5.0);
    for (i, v) in x[n..2 * n].iter_mut().enumerate() {
        *v = 1000.0 - i as f32; // exp would overflow without the max
    }
    for v in x[2 * n..3 * n].iter_mut().step_by(3) {
        *v = f32::NEG_INFINITY; // masked entries
    }
    for scale in [1.0f32, 0.5] {
        let args = SoftmaxArgs { x: be.f32(&[n, 4], &x), out: be.zeros(DType::F32, &[n, 4]), scale, _reserved: 0 };
        be.run(Op::Softmax(&args)).unwrap();
        let got = be.read_f32(&args.out);
        for row in 0..4 {
            let xs: Vec<f64> = x[row * n..(row + 1) * n].iter().map(|&v| f64::from(v) * f64::from(scale)).collect();
            let max = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = xs.iter().map(|v| (v - max).exp()).sum();
            for c in 0..n {
                let e = (xs[c] - max).exp() / sum;
                let g = f64::from(got[row * n + c]);
                assert!((g - e).abs() <= 2e-6 * e + 1e-7, "scale {scale} row {row} [{c}]: {g} vs {e}");
            }
        }
    }
}

#[test]
fn argmax_first_of_ties_and_nan_convention() {
    let be = Ctx::new();
    let nan = f32::NAN;
    let rows: [[f32; 6]; 7] = [
        [1.0, 3.0, 2.0, 3.0, -1.0, 0.0],
        [5.0, 5.0, 5.0, 5.0, 5.0, 5.0],
        [-9.0, -8.0, -7.0, -7.0, -10.0, -7.5],
        [f32::NEG_INFINITY; 6],
        [1.0, nan, 7.0, nan, 2.0, 0.0],
        [nan, 1.0, 2.0, 3.0, 4.0, 5.0],
        [0.0, 0.0, 0.0, f32::INFINITY, 1.0, f32::INFINITY],
    ];
    let want = [1, 0, 2, 0, 1, 0, 3];
    let x: Vec<f32> = rows.iter().flatten().copied().collect();
    let args = ArgmaxArgs { x: be.f32(&[6, rows.len()], &x), out: be.zeros(DType::I32, &[rows.len()]) };
    be.run(Op::Argmax(&args)).unwrap();
    assert_eq!(be.read_i32(&args.out), want);

    // Random rows against the obvious scan.
    let n = 1000;
    let x = uniform(&mut rng(24), n * 9, -1.0, 1.0);
    let args = ArgmaxArgs { x: be.f32(&[n, 9], &x), out: be.zeros(DType::I32, &[9]) };
    be.run(Op::Argmax(&args)).unwrap();
    for (row, &got) in be.read_i32(&args.out).iter().enumerate() {
        let r = &x[row * n..(row + 1) * n];
        let best = (0..n).fold(0, |b, i| if r[i] > r[b] { i } else { b });
        assert_eq!(got as usize, best, "row {row}");
    }
}

// ---------------------------------------------------------------------------
// copy
// ---------------------------------------------------------------------------

/// A value of `dtype` from its bytes, as f32.
fn decode(dtype: DType, b: &[u8]) -> f32 {
    match dtype {
        DType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        DType::F16 => f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32(),
        DType::BF16 => f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16),
        _ => unreachable!(),
    }
}

fn encode(dtype: DType, v: f32) -> Vec<u8> {
    match dtype {
        DType::F32 => v.to_le_bytes().to_vec(),
        DType::F16 => f16::from_f32(v).to_bits().to_le_bytes().to_vec(),
        DType::BF16 => bf16_bits(v).to_le_bytes().to_vec(),
        _ => unreachable!(),
    }
}

/// Copy a transposed view of a `[5, 3, 2]` tensor into a contiguous
/// `[3, 5, 2]` one (and back into a strided destination), for every pair of
/// float types: element `(i0, i1, i2)` of the result is source element
/// `(i1, i0, i2)` converted by round-to-nearest-even.
#[test]
fn copy_strided_views_with_conversions() {
    let be = Ctx::new();
    let mut r = rng(25);
    let (a, b, c) = (5usize, 3usize, 2usize);
    let vals = uniform(&mut r, a * b * c, -70000.0, 70000.0);
    let floats = [DType::F32, DType::F16, DType::BF16];
    for st in floats {
        let src_bytes: Vec<u8> = vals.iter().flat_map(|&v| encode(st, v)).collect();
        let es = st.block_bytes() as i64;
        let buf = be.buffer(&src_bytes);
        // Transposed view: ne [3, 5, 2], strides swap dims 0 and 1.
        let view = TensorDesc {
            ne: [b as i64, a as i64, c as i64, 1],
            nb: [es * a as i64, es, es * (a * b) as i64, es * (a * b * c) as i64],
            ..TensorDesc::contiguous(buf, 0, st, &[a, b, c])
        };
        for dt in floats {
            let args = CopyArgs { src: view, dst: be.zeros(dt, &[b, a, c]) };
            be.run(Op::Copy(&args)).unwrap();
            let got = be.bytes(&args.dst);
            let ds = dt.block_bytes();
            for i2 in 0..c {
                for i1 in 0..a {
                    for i0 in 0..b {
                        let s = (i0 * a + i1 + i2 * a * b) * es as usize;
                        let sv = decode(st, &src_bytes[s..]);
                        let d = (i0 + i1 * b + i2 * a * b) * ds;
                        assert_eq!(&got[d..d + ds], &encode(dt, sv)[..], "{st} -> {dt} at ({i0}, {i1}, {i2})");
                    }
                }
            }

            // Contiguous source into a strided destination with gaps: every
            // other element of a buffer twice as big; the gaps stay intact.
            let cont = be.raw(st, &[a * b * c], &src_bytes);
            let n = a * b * c;
            let sentinel: Vec<u8> = (0..2 * n * ds).map(|i| i as u8 | 1).collect();
            let dbuf = be.buffer(&sentinel);
            let dst = TensorDesc {
                nb: [2 * ds as i64, 2 * (n * ds) as i64, 2 * (n * ds) as i64, 2 * (n * ds) as i64],
                ..TensorDesc::contiguous(dbuf, 0, dt, &[n])
            };
            be.run(Op::Copy(&CopyArgs { src: cont, dst })).unwrap();
            let mut out = vec![0u8; 2 * n * ds];
            be.be.buffer_download(dbuf, 0, &mut out).unwrap();
            for i in 0..n {
                let sv = decode(st, &src_bytes[i * es as usize..]);
                assert_eq!(&out[2 * i * ds..(2 * i + 1) * ds], &encode(dt, sv)[..], "{st} -> strided {dt} at {i}");
                let gap = (2 * i + 1) * ds..(2 * i + 2) * ds;
                assert_eq!(&out[gap.clone()], &sentinel[gap], "{st} -> strided {dt}: gap after {i} overwritten");
            }
        }
    }
}

#[test]
fn copy_i32_strided_and_rejects_mixed_kinds() {
    let be = Ctx::new();
    let v: Vec<i32> = (0..12).map(|i| i * 1000 - 5000).collect();
    let src = be.i32(&[4, 3], &v);
    let view = TensorDesc { ne: [3, 4, 1, 1], nb: [16, 4, 48, 48], ..src };
    let args = CopyArgs { src: view, dst: be.zeros(DType::I32, &[3, 4]) };
    be.run(Op::Copy(&args)).unwrap();
    let got = be.read_i32(&args.dst);
    for i1 in 0..4 {
        for i0 in 0..3 {
            assert_eq!(got[i0 + 3 * i1], v[i1 + 4 * i0]);
        }
    }
    let bad = CopyArgs { src, dst: be.zeros(DType::F32, &[4, 3]) };
    assert!(be.run(Op::Copy(&bad)).is_err());
}

// ---------------------------------------------------------------------------
// buffers
// ---------------------------------------------------------------------------

/// A tensor reaching past its buffer (output or input) is an error, not a
/// panic or a stray write; so is an output in read-only host memory.
#[test]
fn ranges_outside_buffers_are_errors() {
    let be = Ctx::new();
    let small = be.buffer(&[0u8; 16]);
    let x = be.f32(&[8], &[1.0; 8]);
    let out_too_big = TensorDesc::contiguous(small, 0, DType::F32, &[8]);
    let args = ScaleArgs { x, out: out_too_big, scale: 2.0, _reserved: 0 };
    is_invalid_argument(be.run(Op::Scale(&args)));
    let mut left = [0u8; 16];
    be.be.buffer_download(small, 0, &mut left).unwrap();
    assert_eq!(left, [0u8; 16]);

    let offset_past = TensorDesc::contiguous(small, 12, DType::F32, &[2]);
    let args = ScaleArgs { x: be.f32(&[2], &[1.0, 2.0]), out: offset_past, scale: 2.0, _reserved: 0 };
    is_invalid_argument(be.run(Op::Scale(&args)));

    let in_too_big = TensorDesc::contiguous(small, 0, DType::F32, &[8]);
    let args = MatmulArgs {
        w: TensorDesc::contiguous(small, 0, DType::F32, &[8, 1]),
        x: in_too_big,
        out: be.zeros(DType::F32, &[1, 1]),
    };
    is_invalid_argument(be.run(Op::Matmul(&args)));

    let host = [0u8; 64];
    // SAFETY: `host` outlives the buffer (freed below) and is not changed.
    let ro = unsafe { be.be.buffer_from_host(host.as_ptr(), host.len() as u64) }.unwrap();
    let args = ScaleArgs {
        x: be.f32(&[4], &[1.0; 4]),
        out: TensorDesc::contiguous(ro, 0, DType::F32, &[4]),
        scale: 2.0,
        _reserved: 0,
    };
    is_invalid_argument(be.run(Op::Scale(&args)));
    be.be.buffer_free(ro);
}
