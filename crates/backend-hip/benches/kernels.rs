//! Micro-benchmarks of the hot HIP kernels through the public `Backend`
//! trait of an in-process `HipBackend`: decode matvec per weight type
//! (achieved GB/s of weight bytes against the device's measured copy
//! bandwidth), prefill GEMM (TFLOP/s), and paged attention (decode: GB/s of
//! KV bytes; prefill: TFLOP/s). A summary table is printed at the end.
//!
//! ```text
//! cargo bench -p rocmforge-backend-hip --bench kernels [-- FILTER]
//! ```
//! Without a HIP device it prints `skipped: no HIP device (...)` and exits 0.
//!
//! On the GPU machine (no Rust toolchain there): build here, strip, carry.
//! ```text
//! cargo bench -p rocmforge-backend-hip --bench kernels --no-run
//! #   -> Executable benches/kernels.rs (target/release/deps/kernels-<hash>)
//! mkdir -p target/gpu && objcopy --strip-debug target/release/deps/kernels-<hash> target/gpu/kernels
//! # device call: carry ["target/gpu/kernels"], command "target/gpu/kernels --bench"
//! ```
//! (`--bench` is what `cargo bench` passes: without it criterion runs every
//! benchmark once, as a test.) 75 s on an H200, kernel compilation included.
//!
//! Timing: GPU work is asynchronous, so each sample enqueues the op `iters`
//! times back to back and then synchronizes (`iter_custom`): launch overhead
//! is amortized as in a real decode step. Bandwidth-bound cases (matvec,
//! decode attention) cycle through copies of their weights / KV cache that
//! add up to at least 1 GiB, so every launch streams from device memory as
//! a real model's layers do, not from the L2 (50 MB on an H200) or AMD's
//! Infinity Cache (256 MB on an MI300X). The table's µs is the mean over all
//! timed iterations of the case (criterion's own estimate is printed above;
//! its throughput for GEMM and prefill attention reads "Gelem/s": GFLOP/s).

use std::cell::Cell;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use rocmforge_backend_api::op::{AttentionArgs, AttentionParams, MatmulArgs};
use rocmforge_backend_api::{Backend, BufferHandle, DType, Op, TensorDesc};
use rocmforge_backend_hip::{probe, HipBackend};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const GIB: u64 = 1 << 30;
/// Bandwidth-bound cases rotate over copies adding up to at least this.
const ROTATE_BYTES: u64 = GIB;

/// Deterministic xorshift stream of f32 in `[-amp, amp)`.
fn randoms(n: usize, seed: u64, amp: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
        })
        .collect()
}

/// Deterministic xorshift bytes.
fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        out.extend_from_slice(&s.to_le_bytes());
    }
    out.truncate(n);
    out
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect()
}

fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// `[k, n]` weights of type `t` as valid blocks: random quants with small
/// finite f16 scales (layouts as in ggml-common.h), so no NaN or infinity
/// reaches the arithmetic. 256 random rows, repeated to `n` rows. (The CPU
/// oracle's quantizers cannot be linked in here: both crates export the
/// plugin's C ABI symbols.)
fn weights(t: DType, k: usize, n: usize) -> Res<Vec<u8>> {
    let rows = n.min(256);
    let row_bytes = t.row_bytes(k as u64).ok_or("k is not a whole number of blocks")? as usize;
    let mut tile =
        if t == DType::F16 { f16_bytes(&randoms(k * rows, 7, 0.05)) } else { random_bytes(row_bytes * rows, 7) };
    // Byte offsets of the f16 scale fields in a block.
    let scales: &[usize] = match t {
        DType::F16 => &[],
        DType::Q4_0 | DType::Q5_0 | DType::Q8_0 => &[0],
        DType::Q4_1 | DType::Q5_1 | DType::Q4K | DType::Q5K => &[0, 2],
        DType::Q2K => &[80, 82],
        DType::Q3K => &[108],
        DType::Q6K => &[208],
        _ => return Err(format!("no weight generator for {t}").into()),
    };
    let small = half::f16::from_f32(0.001).to_le_bytes();
    for blk in tile.chunks_exact_mut(t.block_bytes()) {
        for &o in scales {
            blk[o..o + 2].copy_from_slice(&small);
        }
    }
    let mut w = Vec::with_capacity(row_bytes * n);
    while w.len() < row_bytes * n {
        let take = (row_bytes * n - w.len()).min(tile.len());
        w.extend_from_slice(&tile[..take]);
    }
    Ok(w)
}

/// Buffers of one case, freed when it ends.
struct Bufs<'a> {
    be: &'a HipBackend,
    list: Vec<BufferHandle>,
}

impl<'a> Bufs<'a> {
    fn new(be: &'a HipBackend) -> Self {
        Bufs { be, list: Vec::new() }
    }

    fn alloc(&mut self, len: u64) -> Res<BufferHandle> {
        let h = self.be.buffer_alloc(len)?;
        self.list.push(h);
        Ok(h)
    }

    fn upload(&mut self, data: &[u8]) -> Res<BufferHandle> {
        let h = self.alloc(data.len() as u64)?;
        self.be.buffer_upload(h, 0, data)?;
        Ok(h)
    }

    /// `copies` copies of `data` in one buffer, `stride` bytes apart: the
    /// first uploaded, the rest copied on the device.
    fn replicate(&mut self, data: &[u8], copies: u64) -> Res<(BufferHandle, u64)> {
        let len = data.len() as u64;
        let stride = len.next_multiple_of(256);
        let h = self.alloc(stride * copies)?;
        self.be.buffer_upload(h, 0, data)?;
        for i in 1..copies {
            self.be.buffer_copy(h, 0, h, i * stride, len)?;
        }
        Ok((h, stride))
    }
}

impl Drop for Bufs<'_> {
    fn drop(&mut self) {
        for h in self.list.drain(..) {
            self.be.buffer_free(h);
        }
    }
}

/// How many copies of `bytes` make up [`ROTATE_BYTES`].
fn rotation(bytes: u64) -> u64 {
    ROTATE_BYTES.div_ceil(bytes.max(1)).max(1)
}

// A few of them per case; the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum Args {
    Matmul(MatmulArgs),
    Attention(AttentionArgs),
}

impl Args {
    fn op(&self) -> Op<'_> {
        match self {
            Args::Matmul(a) => Op::Matmul(a),
            Args::Attention(a) => Op::Attention(a),
        }
    }
}

/// What a case's rate is counted in, per call of the op.
#[derive(Clone, Copy)]
enum Work {
    /// Bytes read from device memory (GB/s, % of the copy bandwidth).
    Bytes(u64),
    /// Floating-point operations (TFLOP/s).
    Flops(u64),
}

struct Row {
    kernel: String,
    shape: String,
    /// Mean µs per call, or why there is none.
    result: Result<f64, String>,
    work: Work,
}

struct Bench<'a> {
    be: &'a HipBackend,
    /// Device copy bandwidth, GB/s.
    peak_gbs: f64,
    rows: Vec<Row>,
}

impl Bench<'_> {
    /// Runs one case under criterion (benchmark `group/id`) and records its row.
    fn case(&mut self, g: &mut BenchmarkGroup<'_, WallTime>, kernel: &str, shape: &str, args: &[Args], work: Work) {
        // Criterion's id is `group/name/shape`: the kernel without its group word.
        let id = format!("{}/{shape}", kernel.split_once(' ').map_or(kernel, |(_, name)| name));
        let mut row =
            Row { kernel: kernel.into(), shape: shape.into(), result: Err("not run (filtered)".into()), work };
        let be = self.be;
        // Compile the kernels and touch every copy once, outside the timing.
        let trial = || -> Res<()> {
            if !be.supports_op(&args[0].op()) {
                return Err("unsupported by the backend".into());
            }
            for a in args {
                be.run(&a.op())?;
            }
            be.synchronize()?;
            Ok(())
        };
        if let Err(e) = trial() {
            println!("{id}: {e}");
            row.result = Err(e.to_string());
            self.rows.push(row);
            return;
        }
        let iters_done = Cell::new(0u64);
        let time_done = Cell::new(Duration::ZERO);
        let error = Cell::new(None::<String>);
        g.throughput(match work {
            Work::Bytes(b) => Throughput::BytesDecimal(b),
            Work::Flops(f) => Throughput::Elements(f),
        });
        g.bench_function(&id, |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                let mut r = Ok(());
                for i in 0..iters as usize {
                    r = be.run(&args[i % args.len()].op());
                    if r.is_err() {
                        break;
                    }
                }
                let r = r.and_then(|()| be.synchronize());
                let dt = t.elapsed();
                match r {
                    Ok(()) => {
                        iters_done.set(iters_done.get() + iters);
                        time_done.set(time_done.get() + dt);
                    }
                    Err(e) => {
                        let prev = error.take();
                        error.set(prev.or(Some(e.to_string())));
                    }
                }
                dt
            })
        });
        row.result = match (error.take(), iters_done.get()) {
            (Some(e), _) => Err(e),
            (None, 0) => Err("not run (filtered)".into()),
            (None, n) => Ok(time_done.get().as_secs_f64() * 1e6 / n as f64),
        };
        self.rows.push(row);
    }

    fn matvec(&mut self, c: &mut Criterion) -> Res<()> {
        let mut g = c.benchmark_group("matvec");
        let cases = [
            (DType::F16, 4096, 4096),
            (DType::Q8_0, 4096, 4096),
            (DType::Q4_0, 4096, 4096),
            (DType::Q4_1, 4096, 4096),
            (DType::Q4K, 4096, 4096),
            (DType::Q5K, 4096, 4096),
            (DType::Q6K, 4096, 4096),
            (DType::F16, 4096, 14336),
            (DType::Q4K, 4096, 14336),
        ];
        for (t, k, n) in cases {
            let be = self.be;
            let mut bufs = Bufs::new(be);
            let w = weights(t, k, n)?;
            let copies = rotation(w.len() as u64);
            let (wb, stride) = bufs.replicate(&w, copies)?;
            let x = bufs.upload(&f32_bytes(&randoms(k, 11, 1.0)))?;
            let out = bufs.alloc((n * 4) as u64)?;
            let args: Vec<Args> = (0..copies)
                .map(|i| {
                    Args::Matmul(MatmulArgs {
                        w: TensorDesc::contiguous(wb, i * stride, t, &[k, n]),
                        x: TensorDesc::contiguous(x, 0, DType::F32, &[k, 1]),
                        out: TensorDesc::contiguous(out, 0, DType::F32, &[n, 1]),
                    })
                })
                .collect();
            self.case(&mut g, &format!("matvec {t}"), &format!("{k}x{n}"), &args, Work::Bytes(w.len() as u64));
        }
        g.finish();
        Ok(())
    }

    fn gemm(&mut self, c: &mut Criterion) -> Res<()> {
        let mut g = c.benchmark_group("gemm");
        let (k, n, m) = (4096usize, 4096usize, 512usize);
        for t in [DType::Q4K, DType::F16] {
            let be = self.be;
            let mut bufs = Bufs::new(be);
            let w = bufs.upload(&weights(t, k, n)?)?;
            let x = bufs.upload(&f32_bytes(&randoms(k * m, 13, 1.0)))?;
            let out = bufs.alloc((n * m * 4) as u64)?;
            let args = [Args::Matmul(MatmulArgs {
                w: TensorDesc::contiguous(w, 0, t, &[k, n]),
                x: TensorDesc::contiguous(x, 0, DType::F32, &[k, m]),
                out: TensorDesc::contiguous(out, 0, DType::F32, &[n, m]),
            })];
            let flops = 2 * (k * n * m) as u64;
            self.case(&mut g, &format!("gemm {t}"), &format!("{k}x{n} M={m}"), &args, Work::Flops(flops));
        }
        g.finish();
        Ok(())
    }

    fn attention(&mut self, c: &mut Criterion) -> Res<()> {
        // Llama 3 8B: 32 query heads, 8 KV heads, head_dim 128; an f16 paged
        // cache of 16-position blocks laid out as crates/models' transformer
        // does: [head_dim, n_kv_head, 16, n_blocks] per layer, the layers back
        // to back, block table 0..n_blocks.
        let (d, nh, nkv, bl) = (128usize, 32usize, 8usize, 16usize);
        let mut g = c.benchmark_group("attention");
        // (kernel, context, query tokens)
        for (kernel, ctx, nq) in
            [("attention decode", 4096, 1), ("attention decode", 8192, 1), ("attention prefill", 512, 512)]
        {
            let be = self.be;
            let mut bufs = Bufs::new(be);
            let n_blocks = ctx / bl;
            let layer_elems = d * nkv * bl * n_blocks;
            let layer_bytes = 2 * layer_elems as u64;
            let kv_read = 2 * 2 * (d * nkv * ctx) as u64; // K and V, f16
            let decode = nq == 1;
            let layers = if decode { rotation(2 * layer_bytes) } else { 1 };
            let (kc, k_stride) = bufs.replicate(&f16_bytes(&randoms(layer_elems, 17, 1.0)), layers)?;
            let (vc, v_stride) = bufs.replicate(&f16_bytes(&randoms(layer_elems, 19, 1.0)), layers)?;
            let table = bufs.upload(&i32_bytes(&(0..n_blocks as i32).collect::<Vec<_>>()))?;
            let seqs = bufs.upload(&i32_bytes(&[0, nq as i32, ctx as i32]))?;
            let q = bufs.upload(&f32_bytes(&randoms(d * nh * nq, 23, 1.0)))?;
            let out = bufs.alloc((d * nh * nq * 4) as u64)?;
            let cache_shape = [d, nkv, bl, n_blocks];
            let args: Vec<Args> = (0..layers)
                .map(|i| {
                    Args::Attention(AttentionArgs {
                        q: TensorDesc::contiguous(q, 0, DType::F32, &[d, nh, nq]),
                        k_cache: TensorDesc::contiguous(kc, i * k_stride, DType::F16, &cache_shape),
                        v_cache: TensorDesc::contiguous(vc, i * v_stride, DType::F16, &cache_shape),
                        block_table: TensorDesc::contiguous(table, 0, DType::I32, &[n_blocks, 1]),
                        seqs: TensorDesc::contiguous(seqs, 0, DType::I32, &[3, 1]),
                        out: TensorDesc::contiguous(out, 0, DType::F32, &[d, nh, nq]),
                        params: AttentionParams {
                            scale: 1.0 / (d as f32).sqrt(),
                            softcap: 0.0,
                            sliding_window: 0,
                            _reserved: 0,
                        },
                    })
                })
                .collect();
            let (shape, work) = if decode {
                (format!("ctx {ctx}, h{nh}/{nkv} d{d} f16"), Work::Bytes(kv_read))
            } else {
                // Causal: query j sees j + 1 keys; q·k and p·v are 2d flops each.
                let pairs = (nq * (nq + 1) / 2) as u64;
                (format!("{nq} tok @0, h{nh}/{nkv} d{d} f16"), Work::Flops(4 * (d * nh) as u64 * pairs))
            };
            self.case(&mut g, kernel, &shape, &args, work);
        }
        g.finish();
        Ok(())
    }

    fn table(&self) {
        println!();
        println!(
            "summary (µs: mean per call over all timed iterations; peak = device copy bandwidth {:.0} GB/s)",
            self.peak_gbs
        );
        println!("{:<20} {:<26} {:>10} {:>9} {:>9} {:>8}", "kernel", "shape", "µs", "GB/s", "TFLOP/s", "% peak");
        for r in &self.rows {
            match &r.result {
                Ok(us) => {
                    let (gbs, tflops, pct) = match r.work {
                        Work::Bytes(b) => {
                            let gbs = b as f64 / us / 1e3;
                            (format!("{gbs:.0}"), "-".to_string(), format!("{:.1}", 100.0 * gbs / self.peak_gbs))
                        }
                        Work::Flops(f) => ("-".to_string(), format!("{:.2}", f as f64 / us / 1e6), "-".to_string()),
                    };
                    println!("{:<20} {:<26} {:>10.2} {:>9} {:>9} {:>8}", r.kernel, r.shape, us, gbs, tflops, pct);
                }
                Err(e) => println!("{:<20} {:<26} {e}", r.kernel, r.shape),
            }
        }
    }
}

/// Device-to-device copy bandwidth in GB/s: a 1 GiB `buffer_copy` counted as
/// 2 GiB moved (read + write), median of 5 timings of 4 copies.
fn copy_bandwidth(be: &HipBackend) -> Res<f64> {
    let mut bufs = Bufs::new(be);
    let src = bufs.alloc(GIB)?;
    let dst = bufs.alloc(GIB)?;
    be.buffer_copy(src, 0, dst, 0, GIB)?;
    be.synchronize()?;
    let mut per = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..4 {
            be.buffer_copy(src, 0, dst, 0, GIB)?;
        }
        be.synchronize()?;
        per.push(t.elapsed().as_secs_f64() / 4.0);
    }
    per.sort_by(f64::total_cmp);
    Ok(2.0 * GIB as f64 / per[per.len() / 2] / 1e9)
}

fn run() -> Res<()> {
    let be = HipBackend::new()?;
    println!("backend: {}", be.description());
    let peak_gbs = copy_bandwidth(&be)?;
    println!("device copy bandwidth: {peak_gbs:.0} GB/s (1 GiB device-to-device buffer_copy, counted as 2 GiB moved)");
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .configure_from_args();
    let mut b = Bench { be: &be, peak_gbs, rows: Vec::new() };
    let r = b.matvec(&mut c).and_then(|()| b.gemm(&mut c)).and_then(|()| b.attention(&mut c));
    c.final_summary();
    b.table();
    r
}

fn main() -> ExitCode {
    let p = probe();
    if p.score == 0 {
        let reason = p.description.strip_prefix("no HIP device: ").unwrap_or(&p.description);
        println!("skipped: no HIP device ({reason})");
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("kernels bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}
