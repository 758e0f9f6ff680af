//! Quick timing of the matmul kernels on a HIP device: the decode
//! matrix-vector product (`x` one column) reported as achieved bandwidth
//! against the device's copy roofline, and the tiled prefill kernel as
//! GFLOP/s. The numbers are for spotting regressions and headroom, not a
//! benchmark suite (no statistics beyond a median of repeats).
//!
//! ```text
//! cargo run --release -p rocmforge-backend-hip --example matmul_bench [-- [ROOFLINE_GBS] [prefill]]
//! ```
//! `ROOFLINE_GBS` defaults to 4200 (the H200's measured copy bandwidth, see
//! `shared/GPU-MACHINE.md`); `prefill` skips the matrix-vector section. The
//! prefill kernel is the tensor-core one where the device has it; run with
//! `ROCMFORGE_MATMUL_PORTABLE=1` for the portable f32 tile kernel (old vs
//! new). Exit status: 0 done, 1 error, 77 no HIP device.

use std::error::Error;
use std::process::ExitCode;
use std::time::Instant;

use rocmforge_backend_api::op::MatmulArgs;
use rocmforge_backend_api::{Backend, BufferHandle, DType, Op, TensorDesc};
use rocmforge_backend_hip::{probe, HipBackend};

type Res<T> = Result<T, Box<dyn Error>>;

/// Deterministic pseudo-random bytes (xorshift), so runs are comparable.
fn bytes(n: usize, mut s: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        out.extend_from_slice(&s.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// A `[k, n]` weight table of type `t` with random quants and small finite
/// f16 scales (so no NaN or infinity reaches the arithmetic).
fn weights(t: DType, k: usize, n: usize) -> Vec<u8> {
    let bb = t.block_bytes();
    let mut w = bytes(t.row_bytes(k as u64).expect("whole blocks") as usize * n, 7);
    let small = half::f16::from_f32(0.001).to_bits().to_le_bytes();
    let scale_fields: &[usize] = match t {
        DType::Q4_0 | DType::Q5_0 | DType::Q8_0 => &[0],
        DType::Q4_1 | DType::Q5_1 | DType::Q4K | DType::Q5K => &[0, 2],
        DType::Q2K => &[80, 82],
        DType::Q3K => &[108],
        DType::Q6K => &[208],
        DType::F16 => {
            // Every element is an f16: make them all small.
            for c in w.chunks_exact_mut(2) {
                c.copy_from_slice(&small);
            }
            &[]
        }
        _ => &[],
    };
    for blk in w.chunks_exact_mut(bb) {
        for &o in scale_fields {
            blk[o..o + 2].copy_from_slice(&small);
        }
    }
    w
}

struct Timing {
    median_us: f64,
}

/// Median over `reps` batches of `iters` back-to-back launches.
fn time(be: &HipBackend, op: &Op<'_>, iters: usize, reps: usize) -> Res<Timing> {
    for _ in 0..3 {
        be.run(op)?;
    }
    be.synchronize()?;
    let mut per = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        for _ in 0..iters {
            be.run(op)?;
        }
        be.synchronize()?;
        per.push(t.elapsed().as_secs_f64() * 1e6 / iters as f64);
    }
    per.sort_by(f64::total_cmp);
    Ok(Timing { median_us: per[per.len() / 2] })
}

fn upload(be: &HipBackend, data: &[u8]) -> Res<BufferHandle> {
    let h = be.buffer_alloc(data.len() as u64)?;
    be.buffer_upload(h, 0, data)?;
    Ok(h)
}

fn matmul(be: &HipBackend, wt: DType, xt: DType, k: usize, n: usize, m: usize) -> Res<(f64, u64)> {
    let w = upload(be, &weights(wt, k, n))?;
    let xsize = if xt == DType::F16 { 2 } else { 4 };
    let x = upload(be, &vec![0u8; k * m * xsize])?;
    let out = be.buffer_alloc((n * m * 4) as u64)?;
    let args = MatmulArgs {
        w: TensorDesc::contiguous(w, 0, wt, &[k, n]),
        x: TensorDesc::contiguous(x, 0, xt, &[k, m]),
        out: TensorDesc::contiguous(out, 0, DType::F32, &[n, m]),
    };
    let op = Op::Matmul(&args);
    if !be.supports_op(&op) {
        return Err(format!("matmul {wt} [{k}, {n}] x [{k}, {m}] unsupported").into());
    }
    let iters = if m == 1 { 200 } else { 10 };
    let t = time(be, &op, iters, 5)?;
    let moved = wt.row_bytes(k as u64).unwrap_or(0) * n as u64 + (k * m * xsize + n * m * 4) as u64;
    for h in [w, x, out] {
        be.buffer_free(h);
    }
    Ok((t.median_us, moved))
}

fn run(roofline_gbs: f64, prefill_only: bool) -> Res<()> {
    let be = HipBackend::new()?;
    println!("backend: {}", be.description());
    if !prefill_only {
        decode(&be, roofline_gbs)?;
    }
    let portable = std::env::var("ROCMFORGE_MATMUL_PORTABLE").is_ok_and(|v| !v.is_empty() && v != "0");
    println!(
        "tiled (prefill){}",
        if portable { ", ROCMFORGE_MATMUL_PORTABLE set: portable f32 tile kernel" } else { "" }
    );
    for (wt, xt, k, n, m) in [
        (DType::Q4K, DType::F32, 4096, 4096, 512),
        (DType::Q4K, DType::F16, 4096, 4096, 512),
        (DType::Q6K, DType::F32, 4096, 4096, 512),
        (DType::Q8_0, DType::F32, 4096, 4096, 512),
        (DType::F16, DType::F32, 4096, 4096, 512),
        (DType::Q4K, DType::F32, 4096, 14336, 512),
        (DType::Q8_0, DType::F32, 4096, 4096, 64),
    ] {
        let (us, _) = matmul(&be, wt, xt, k, n, m)?;
        let tflops = 2.0 * (k * n * m) as f64 / us / 1e6;
        println!("  {wt:>5} w[{k}, {n}] x {xt} M={m}: {us:9.1} us  {tflops:7.2} TFLOP/s");
    }
    Ok(())
}

fn decode(be: &HipBackend, roofline_gbs: f64) -> Res<()> {
    println!("matrix-vector (decode), x [K, 1] f32; bandwidth = weight + x + out bytes / time, roofline {roofline_gbs:.0} GB/s");
    for (wt, k, n) in [
        (DType::Q4K, 4096, 4096),
        (DType::Q4_0, 4096, 4096),
        (DType::Q8_0, 4096, 4096),
        (DType::Q6K, 4096, 4096),
        (DType::F16, 4096, 4096),
        (DType::Q4K, 4096, 14336),
        (DType::Q4K, 14336, 4096),
    ] {
        let (us, moved) = matmul(be, wt, DType::F32, k, n, 1)?;
        let gbs = moved as f64 / us / 1e3;
        println!("  {wt:>5} w[{k}, {n}]: {us:8.2} us  {gbs:7.0} GB/s  {:5.1}% of roofline", 100.0 * gbs / roofline_gbs);
    }
    Ok(())
}

fn main() -> ExitCode {
    let p = probe();
    if p.score == 0 {
        println!("SKIP: no HIP device: {}", p.description);
        return ExitCode::from(77);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let roofline = args.iter().find_map(|a| a.parse().ok()).unwrap_or(4200.0);
    let prefill_only = args.iter().any(|a| a == "prefill");
    match run(roofline, prefill_only) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("matmul_bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}
