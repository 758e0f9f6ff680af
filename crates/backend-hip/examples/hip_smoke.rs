//! GPU smoke test of the HIP backend's runtime layer, for a machine with a
//! GPU (AMD with ROCm, or NVIDIA with the CUDA driver + NVRTC).
//!
//! It opens the backend, compiles a HIP-dialect source (through the disk
//! cache, twice: the second must be a hit when a cache directory exists),
//! launches kernels and checks every result exactly against the host:
//! vector add, a warp reduction over the queried warp size, and the f16 /
//! bf16 conversions of `kernels/common/compat.h` (all 65536 f16 patterns).
//! It also checks buffer copies, read-only host buffers, out-of-memory and
//! bad-launch errors, a compile error carrying the log, and measures the
//! enqueue cost of a small launch.
//!
//! ```sh
//! cargo run --release -p rocmforge-backend-hip --example hip_smoke
//! ```
//! Exit status: 0 all checks passed, 1 a check failed, 77 no HIP device (skip).

use std::error::Error;
use std::ffi::c_void;
use std::process::ExitCode;
use std::time::Instant;

use rocmforge_backend_api::{Backend, BackendError, BufferHandle};
use rocmforge_backend_hip::compile::KernelSource;
use rocmforge_backend_hip::{kernels, probe, HipBackend};

/// The kernels: HIP dialect, no toolkit header, only the embedded prelude.
const SOURCE: &str = r#"
#include "common/compat.h"

extern "C" __global__ void vector_add_f32(const float* a, const float* b, float* c, rf_u32 n) {
    rf_u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) c[i] = a[i] + b[i];
}

// One warp per block; each block sums its RF_WARP_SIZE inputs.
extern "C" __global__ void warp_sum_f32(const float* x, float* out) {
    float v = x[blockIdx.x * RF_WARP_SIZE + threadIdx.x];
    v = rf_warp_sum(v);
    if (threadIdx.x == 0) out[blockIdx.x] = v;
}

extern "C" __global__ void f16_to_f32(const rf_u16* h, float* out, rf_u32 n) {
    rf_u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = rf_f16_to_f32(h[i]);
}

extern "C" __global__ void f32_to_f16_bf16(const float* f, rf_u16* h, rf_u16* b, rf_u32 n) {
    rf_u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        h[i] = rf_f32_to_f16(f[i]);
        b[i] = rf_f32_to_bf16(f[i]);
    }
}
"#;

static SMOKE: KernelSource<'static> = KernelSource { name: "hip_smoke.hip", code: SOURCE, headers: kernels::HEADERS };

static BROKEN: KernelSource<'static> = KernelSource {
    name: "broken.hip",
    code: "#include \"common/compat.h\"\nextern \"C\" __global__ void k(float* x) { x[0] = undeclared_name; }\n",
    headers: kernels::HEADERS,
};

type Res<T> = Result<T, Box<dyn Error>>;

fn arg<T>(v: &mut T) -> *mut c_void {
    v as *mut T as *mut c_void
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn bytes_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn bytes_u16(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect()
}

struct Checks {
    failed: usize,
}

impl Checks {
    fn check(&mut self, ok: bool, what: &str) {
        println!("  [{}] {what}", if ok { "ok" } else { "FAIL" });
        if !ok {
            self.failed += 1;
        }
    }
}

/// Upload `data` into a new buffer.
fn upload(be: &HipBackend, data: &[u8]) -> Res<BufferHandle> {
    let h = be.buffer_alloc(data.len() as u64)?;
    be.buffer_upload(h, 0, data)?;
    Ok(h)
}

fn download(be: &HipBackend, h: BufferHandle, len: usize) -> Res<Vec<u8>> {
    let mut out = vec![0u8; len];
    be.buffer_download(h, 0, &mut out)?;
    Ok(out)
}

fn ptr(be: &HipBackend, h: BufferHandle) -> Res<u64> {
    Ok(be.buffer_ptr(h, 0, 0, false)?.0)
}

fn run(c: &mut Checks) -> Res<()> {
    let t = Instant::now();
    let be = HipBackend::new()?;
    println!("backend: {} (opened in {:.0} ms)", be.description(), t.elapsed().as_secs_f64() * 1e3);
    let facts = be.facts().clone();
    println!("facts: {facts:?}");
    println!("target: {:?}; options: {}", be.target(), be.compiler().options(be.target()).join(" "));
    match be.compiler().cache() {
        Some(cache) => println!("kernel cache: {}", cache.dir().display()),
        None => println!("kernel cache: none (no cache directory could be determined)"),
    }
    let info = be.device_info()?;
    println!("device_info: {info:?}");
    c.check(info.total_memory > 0 && info.free_memory <= info.total_memory, "device_info memory");
    c.check(facts.warp_size == 32 || facts.warp_size == 64, "warp size queried as 32 or 64");

    // Compile twice: the second comes from the disk cache when there is one.
    let t = Instant::now();
    let first = be.compiler().compile(&SMOKE, be.target())?;
    let t1 = t.elapsed();
    let t = Instant::now();
    let second = be.compiler().compile(&SMOKE, be.target())?;
    let t2 = t.elapsed();
    println!(
        "compile: {} bytes, {:.1} ms (cached: {}); again {:.1} ms (cached: {})",
        first.code.len(),
        t1.as_secs_f64() * 1e3,
        first.cached,
        t2.as_secs_f64() * 1e3,
        second.cached
    );
    c.check(first.code == second.code, "compiling twice gives the same code object");
    if be.compiler().cache().is_some() {
        c.check(second.cached, "second compile is a cache hit");
    }

    // Vector add over an odd size.
    let n: usize = 1_000_003;
    let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
    let b: Vec<f32> = (0..n).map(|i| 1.0 - (i % 977) as f32 * 0.25).collect();
    let (ha, hb) = (upload(&be, &f32_bytes(&a))?, upload(&be, &f32_bytes(&b))?);
    let hc = be.buffer_alloc((n * 4) as u64)?;
    let f = be.kernel(&SMOKE, "vector_add_f32")?;
    let (mut pa, mut pb, mut pc, mut n32) = (ptr(&be, ha)?, ptr(&be, hb)?, ptr(&be, hc)?, n as u32);
    let mut args = [arg(&mut pa), arg(&mut pb), arg(&mut pc), arg(&mut n32)];
    let block = 256u32;
    let grid = (n as u32).div_ceil(block);
    // SAFETY: the arguments match the kernel's parameters; the buffers hold n floats.
    unsafe { be.device().launch(&f, [grid, 1, 1], [block, 1, 1], 0, &mut args)? };
    let got = bytes_f32(&download(&be, hc, n * 4)?);
    let bad = (0..n).filter(|&i| got[i].to_bits() != (a[i] + b[i]).to_bits()).count();
    c.check(bad == 0, &format!("vector_add_f32 over {n} elements ({bad} wrong)"));

    // Warp reduction over the queried warp size (integers: exact sums).
    let w = facts.warp_size as usize;
    let warps = 1000usize;
    let x: Vec<f32> = (0..warps * w).map(|i| ((i * 37) % 101) as f32 - 50.0).collect();
    let hx = upload(&be, &f32_bytes(&x))?;
    let hs = be.buffer_alloc((warps * 4) as u64)?;
    let f = be.kernel(&SMOKE, "warp_sum_f32")?;
    let (mut px, mut ps) = (ptr(&be, hx)?, ptr(&be, hs)?);
    let mut args = [arg(&mut px), arg(&mut ps)];
    // SAFETY: as above; x holds warps * warp_size floats, s holds warps.
    unsafe { be.device().launch(&f, [warps as u32, 1, 1], [w as u32, 1, 1], 0, &mut args)? };
    let sums = bytes_f32(&download(&be, hs, warps * 4)?);
    let bad = (0..warps).filter(|&k| sums[k] != x[k * w..(k + 1) * w].iter().sum::<f32>()).count();
    c.check(bad == 0, &format!("warp_sum_f32 with warp {w} over {warps} warps ({bad} wrong)"));

    // f16 -> f32 for every bit pattern.
    let all: Vec<u16> = (0..=u16::MAX).collect();
    let hh = upload(&be, &all.iter().flat_map(|h| h.to_le_bytes()).collect::<Vec<u8>>())?;
    let hf = be.buffer_alloc(65536 * 4)?;
    let f = be.kernel(&SMOKE, "f16_to_f32")?;
    let (mut ph, mut pf, mut m) = (ptr(&be, hh)?, ptr(&be, hf)?, 65536u32);
    let mut args = [arg(&mut ph), arg(&mut pf), arg(&mut m)];
    // SAFETY: as above.
    unsafe { be.device().launch(&f, [256, 1, 1], [256, 1, 1], 0, &mut args)? };
    let got = bytes_f32(&download(&be, hf, 65536 * 4)?);
    let bad = all
        .iter()
        .zip(&got)
        .filter(|(&h, &g)| {
            let want = half::f16::from_bits(h).to_f32();
            !(want.to_bits() == g.to_bits() || (want.is_nan() && g.is_nan()))
        })
        .count();
    c.check(bad == 0, &format!("rf_f16_to_f32 on all 65536 patterns ({bad} wrong)"));

    // f32 -> f16 / bf16, round to nearest even, on edge cases and a sweep.
    let mut vals: Vec<f32> = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        65504.0,
        65520.0,
        1e6,
        -1e6,
        6.0e-8,
        2.9e-8,
        1.0e-10,
        0.1,
        1.0 / 3.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MIN_POSITIVE,
        f32::MAX,
        // Ties between neighbouring halves: round to the even one.
        1.0 + 1.0 / 2048.0,
        1.0 + 3.0 / 4096.0,
    ];
    vals.extend((0..200_000u32).map(|i| f32::from_bits(i.wrapping_mul(2_654_435_761))));
    let k = vals.len();
    let hv = upload(&be, &f32_bytes(&vals))?;
    let (h16, hb16) = (be.buffer_alloc((k * 2) as u64)?, be.buffer_alloc((k * 2) as u64)?);
    let f = be.kernel(&SMOKE, "f32_to_f16_bf16")?;
    let (mut pv, mut p16, mut pb16, mut kk) = (ptr(&be, hv)?, ptr(&be, h16)?, ptr(&be, hb16)?, k as u32);
    let mut args = [arg(&mut pv), arg(&mut p16), arg(&mut pb16), arg(&mut kk)];
    // SAFETY: as above.
    unsafe { be.device().launch(&f, [(k as u32).div_ceil(256), 1, 1], [256, 1, 1], 0, &mut args)? };
    let g16 = bytes_u16(&download(&be, h16, k * 2)?);
    let gb16 = bytes_u16(&download(&be, hb16, k * 2)?);
    let bad16 = (0..k)
        .filter(|&i| {
            let want = half::f16::from_f32(vals[i]);
            !(want.to_bits() == g16[i] || (want.is_nan() && half::f16::from_bits(g16[i]).is_nan()))
        })
        .count();
    let badb = (0..k)
        .filter(|&i| {
            let want = half::bf16::from_f32(vals[i]);
            !(want.to_bits() == gb16[i] || (want.is_nan() && half::bf16::from_bits(gb16[i]).is_nan()))
        })
        .count();
    c.check(bad16 == 0, &format!("rf_f32_to_f16 (rn) on {k} values ({bad16} wrong)"));
    c.check(badb == 0, &format!("rf_f32_to_bf16 (rn) on {k} values ({badb} wrong)"));

    // Buffers: device-to-device copy at offsets, memset, read-only host buffers.
    let hcopy = be.buffer_alloc(4096)?;
    be.buffer_copy(ha, 400, hcopy, 96, 4000)?;
    let got = download(&be, hcopy, 4096)?;
    let want = f32_bytes(&a[100..1100]);
    c.check(got[96..4096] == want[..], "buffer_copy at offsets");
    // SAFETY: 96 bytes at the start of a 4096-byte buffer.
    unsafe { be.device().memset(be.buffer_ptr(hcopy, 0, 96, true)?, 0xab, 96)? };
    let got = download(&be, hcopy, 96)?;
    c.check(got.iter().all(|&v| v == 0xab), "memset");
    let host = vec![7u8; 1000];
    // SAFETY: `host` outlives the buffer (freed below).
    let hro = unsafe { be.buffer_from_host(host.as_ptr(), host.len() as u64)? };
    c.check(download(&be, hro, 1000)? == host, "buffer_from_host copies into device memory");
    c.check(
        matches!(be.buffer_upload(hro, 0, &[1]), Err(BackendError::InvalidArgument(_))),
        "buffer_from_host buffers are read-only",
    );
    c.check(
        matches!(be.buffer_download(hro, 990, &mut [0u8; 20]), Err(BackendError::InvalidArgument(_))),
        "out-of-range download is rejected",
    );

    // Errors: out of memory, bad launch, compile error.
    match be.buffer_alloc(info.total_memory.saturating_mul(2)) {
        Err(BackendError::OutOfMemory(m)) => {
            println!("  oom: {m}");
            c.check(m.contains("asked for") && m.contains("free"), "OOM names bytes asked for and free");
        }
        other => c.check(false, &format!("twice the device memory must be OutOfMemory, got {other:?}")),
    }
    let f = be.kernel(&SMOKE, "vector_add_f32")?;
    let mut args = [arg(&mut pa), arg(&mut pb), arg(&mut pc), arg(&mut n32)];
    // SAFETY: rejected before reaching the driver.
    let r = unsafe { be.device().launch(&f, [1, 1, 1], [facts.max_threads_per_block + 1, 1, 1], 0, &mut args) };
    c.check(matches!(r, Err(BackendError::InvalidArgument(_))), "oversized block is rejected before the driver");
    match be.compiler().compile(&BROKEN, be.target()) {
        Err(BackendError::CompileFailed(log)) => {
            println!("  compile error: {}", log.lines().take(3).collect::<Vec<_>>().join(" | "));
            c.check(log.contains("undeclared_name"), "compile error carries the compiler log");
        }
        other => c.check(false, &format!("broken source must be CompileFailed, got {:?}", other.map(|o| o.code.len()))),
    }
    c.check(be.kernel(&SMOKE, "no_such_kernel").is_err(), "unknown kernel name is an error");

    // Cost of a small launch (what bounds decode at small batch): a burst
    // short enough not to fill the launch queue shows the host-side enqueue
    // cost; a long run shows the device-side rate.
    let small = 1024u32;
    let mut ns = small;
    let mut args = [arg(&mut pa), arg(&mut pb), arg(&mut pc), arg(&mut ns)];
    for iters in [200usize, 5000] {
        be.synchronize()?;
        let t = Instant::now();
        for _ in 0..iters {
            // SAFETY: as above, on the first 1024 elements.
            unsafe { be.device().launch(&f, [small / 256, 1, 1], [256, 1, 1], 0, &mut args)? };
        }
        let enqueue = t.elapsed();
        be.synchronize()?;
        let total = t.elapsed();
        println!(
            "launch: {iters} small launches: {:.2} us/launch to enqueue, {:.2} us/launch until done",
            enqueue.as_secs_f64() * 1e6 / iters as f64,
            total.as_secs_f64() * 1e6 / iters as f64
        );
    }

    for h in [ha, hb, hc, hx, hs, hh, hf, hv, h16, hb16, hcopy, hro] {
        be.buffer_free(h);
    }
    be.synchronize()?;
    c.check(be.buffer_download(ha, 0, &mut [0u8; 4]).is_err(), "freed handle is rejected");
    Ok(())
}

/// The same backend through the plugin ABI: dlopen the built
/// `librocmforge_backend_hip.so` (next to this executable or one directory
/// up, as cargo lays out `target/<profile>/examples/`) and round-trip a
/// buffer through the C vtable.
fn plugin_round_trip(c: &mut Checks) -> Res<()> {
    let name = rocmforge_backend_api::loader::library_file_name("hip");
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or("executable has no directory")?;
    let Some(path) = [dir.join(&name), dir.join("..").join(&name)].into_iter().find(|p| p.exists()) else {
        println!("plugin: skipped ({name} not found next to the example)");
        return Ok(());
    };
    let lib = rocmforge_backend_api::loader::BackendLib::open(&path)?;
    println!("plugin: {} scores {}: {}", path.display(), lib.probe().score, lib.probe().description);
    let be = lib.init()?;
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let buf = rocmforge_backend_api::DeviceBuffer::alloc(&be, data.len() as u64)?;
    buf.upload(0, &data)?;
    let mut back = vec![0u8; data.len()];
    buf.download(0, &mut back)?;
    c.check(back == data, "plugin: upload/download through the C ABI");
    c.check(be.device_info()?.kind == rocmforge_backend_api::DeviceKind::Gpu, "plugin: device_info says GPU");
    Ok(())
}

fn main() -> ExitCode {
    let p = probe();
    println!("probe: score {}: {}", p.score, p.description);
    if p.score == 0 {
        println!("SKIP: no HIP device");
        return ExitCode::from(77);
    }
    let mut c = Checks { failed: 0 };
    match run(&mut c).and_then(|()| plugin_round_trip(&mut c)) {
        Ok(()) if c.failed == 0 => {
            println!("hip_smoke: OK");
            ExitCode::SUCCESS
        }
        Ok(()) => {
            println!("hip_smoke: {} check(s) FAILED", c.failed);
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("hip_smoke: error: {e}");
            ExitCode::FAILURE
        }
    }
}
