//! `matmul` (`out[n, m] = Σ_k w[k, n] · x[k, m]`): planning for every shape,
//! and the prefill kernels of `kernels/matmul.hip`.
//!
//! Every weight type ([`DType::WEIGHTS`]) with F32 or F16 activations, F32
//! out, weights read in their GGUF block layout. The kernel is chosen by the
//! number of activation columns `M`:
//! - `M == 1` (decode): `matmul_<w>_<x>_gemv`, and `2 ≤ M ≤ 8`:
//!   `matmul_<w>_<x>_gemvn`, both in `kernels/matvec.hip` ([`matvec`]);
//! - larger `M` (prefill): `matmul_<w>_<x>_tile`, 64 × 64 output tiles in
//!   f32 (portable), or, for `M ≥ 32` and weights other than F32 on a
//!   device with a matrix unit ([`mma_unit`]), `matmul_<w>_<x>_mma`: f16
//!   operands (rounded to nearest even), f32 accumulation, 128 × 64 output
//!   tiles per block of 256 threads, through NVIDIA's `mma.sync` m16n8k16
//!   (sm_80+), AMD's `v_mfma_f32_32x32x8f16` (CDNA: gfx908, gfx90a,
//!   gfx940–942, gfx950) or `v_wmma_f32_16x16x16_f16` (RDNA3: gfx1100–1103,
//!   gfx1150–1153; RDNA4: gfx1200, gfx1201). One source and one launch
//!   shape for all; the kernel picks the instruction by target. F32
//!   weights keep the f32 kernel (their tolerance is f32's); below 32
//!   columns half of an mma tile would be padding, and the portable kernel
//!   keeps being exercised on every device (conformance covers both).
//!   Other AMD targets (gfx1030 and older RDNA, gfx900/gfx906) have no
//!   matrix unit for f16 and run the portable kernel.
//!   `ROCMFORGE_MATMUL_PORTABLE=1` in the environment (read once) disables
//!   the mma kernel, for timing comparisons and for bisecting numerics.
//!
//! The kernels index within a row or column with 32-bit ints, so `K`, `N`,
//! `M`, `K·M` and `N·M` must fit in `i32` (weight rows are addressed with
//! 64-bit offsets: a table may exceed 4 GiB). Loads assume the alignment
//! each format's blocks have (`ALIGN` in `kernels/common/quant.h`), so the
//! tensors' offsets must have it too; anything else is reported unsupported
//! rather than launched.

use std::ffi::c_void;

use rocmforge_backend_api::op::MatmulArgs;
use rocmforge_backend_api::{BackendError, DType, Op, Result};

use super::matvec;
use crate::compile::KernelSource;
use crate::HipBackend;

static SOURCE: KernelSource<'static> = KernelSource {
    name: "matmul.hip",
    code: include_str!("../../../../kernels/matmul.hip"),
    headers: crate::kernels::HEADERS,
};

/// Output tile of the tiled kernel (`RF_TILE_N`, `RF_TILE_M`) and its threads.
const TILE: i64 = 64;
const TILE_THREADS: u32 = 256;
/// Most blocks in grid dimension y (the tiled kernel's column tiles).
const MAX_GRID_Y: i64 = 65_535;
/// Output tile of the mma kernel: weight rows (`RF_MMA_N`) × columns
/// (`RF_MMA_M`), and its threads: the same for every [`MmaUnit`] (8 warps
/// of 32 or 4 wavefronts of 64; the kernel splits the tile by warp size).
const MMA_N: u32 = 128;
const MMA_M: u32 = 64;
const MMA_THREADS: u32 = 256;
/// Fewest activation columns for which the mma kernel is used.
const MMA_MIN_M: i32 = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Variant {
    /// `matvec.hip`, M = 1.
    Gemv,
    /// `matvec.hip`, 2 ≤ M ≤ [`matvec::MAX_M`].
    Gemvn,
    Tile,
    /// The matrix unit ([`mma_unit`]), chosen by [`run`] over `Tile`.
    Mma,
}

/// What a launch needs, worked out (and checked) from the descriptors.
pub(super) struct Plan {
    pub wtype: DType,
    pub xtype: DType,
    pub k: i32,
    pub n: i32,
    pub m: i32,
    pub row_bytes: u64,
    pub variant: Variant,
}

/// Alignment (bytes) the kernels' loads assume of a weight table of type `t`
/// (quant.h's `ALIGN`): whole 32-bit words for formats whose block is a
/// multiple of 4 bytes, 16-bit halves for the others.
fn weight_align(t: DType) -> u64 {
    match t {
        DType::F32 | DType::Q4_1 | DType::Q5_1 | DType::Q2K | DType::Q4K | DType::Q5K => 4,
        _ => 2,
    }
}

fn unsupported(reason: String) -> BackendError {
    BackendError::Unsupported { op: "matmul".into(), reason }
}

fn plan(a: &MatmulArgs) -> Result<Plan> {
    let (Some(wtype), Some(xtype)) = (a.w.dtype(), a.x.dtype()) else {
        return Err(BackendError::InvalidArgument("matmul: unknown dtype".into()));
    };
    if !DType::WEIGHTS.contains(&wtype) || !matches!(xtype, DType::F32 | DType::F16) {
        return Err(unsupported(format!("w {wtype}, x {xtype}")));
    }
    let (k, n, m) = (a.w.ne[0], a.w.ne[1], a.x.ne[1]);
    let fits = |v: i64| (0..=i64::from(i32::MAX)).contains(&v);
    if !(fits(k) && fits(n) && fits(m) && fits(k.saturating_mul(m)) && fits(n.saturating_mul(m))) {
        return Err(unsupported(format!("K {k}, N {n}, M {m}: K·M and N·M must fit in i32")));
    }
    let xsize = if xtype == DType::F16 { 2 } else { 4 };
    let walign = weight_align(wtype);
    if !a.w.offset.is_multiple_of(walign) || !a.x.offset.is_multiple_of(xsize) || !a.out.offset.is_multiple_of(4) {
        return Err(unsupported(format!(
            "offsets w {} x {} out {} not aligned to {walign}, {xsize}, 4 bytes",
            a.w.offset, a.x.offset, a.out.offset
        )));
    }
    let row_bytes = wtype
        .row_bytes(k as u64)
        .ok_or_else(|| BackendError::InvalidArgument(format!("matmul: K {k} is not whole {wtype} blocks")))?;
    let variant = match m {
        1 => Variant::Gemv,
        _ if m <= matvec::MAX_M => Variant::Gemvn,
        _ => Variant::Tile,
    };
    if variant == Variant::Tile && (m + TILE - 1) / TILE > MAX_GRID_Y {
        return Err(unsupported(format!("M {m}: more than {MAX_GRID_Y} column tiles")));
    }
    Ok(Plan { wtype, xtype, k: k as i32, n: n as i32, m: m as i32, row_bytes, variant })
}

/// The matrix instruction behind a device's `matmul_<w>_<x>_mma` kernels
/// (`kernels/matmul.hip`, "matrix units", picks the same by target macro).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MmaUnit {
    /// NVIDIA `mma.sync` m16n8k16 (sm_80+).
    NvidiaMmaSync,
    /// AMD CDNA `v_mfma_f32_32x32x8f16` (wavefront 64).
    AmdMfma,
    /// AMD RDNA3 `v_wmma_f32_16x16x16_f16` (wave32).
    AmdWmma,
    /// AMD RDNA4 `v_wmma_f32_16x16x16_f16`, gfx12 operand layout (wave32).
    AmdWmmaGfx12,
}

/// AMD targets with an mma kernel, by unit: exactly the `__gfxNNNN__`
/// macros of the kernel's `#if`s (a test checks both lists agree).
const AMD_MFMA: [&str; 6] = ["gfx908", "gfx90a", "gfx940", "gfx941", "gfx942", "gfx950"];
const AMD_WMMA: [&str; 8] = ["gfx1100", "gfx1101", "gfx1102", "gfx1103", "gfx1150", "gfx1151", "gfx1152", "gfx1153"];
const AMD_WMMA_GFX12: [&str; 2] = ["gfx1200", "gfx1201"];

/// The matrix unit of a device with architecture `arch` ("sm_90", "gfx90a",
/// or a target id with features, "gfx90a:sramecc+:xnack-") and warp size
/// `warp_size`, if the mma kernel has a version for it. The warp size must
/// be the one the kernel is written for (the compile's `RF_WARP_SIZE`):
/// 64 for MFMA, 32 for WMMA and NVIDIA.
fn mma_unit(arch: &str, warp_size: u32) -> Option<MmaUnit> {
    let processor = arch.split(':').next().unwrap_or(arch);
    let (unit, warp) = if sm_version(processor).is_some_and(|v| v >= 80) {
        (MmaUnit::NvidiaMmaSync, 32)
    } else if AMD_MFMA.contains(&processor) {
        (MmaUnit::AmdMfma, 64)
    } else if AMD_WMMA.contains(&processor) {
        (MmaUnit::AmdWmma, 32)
    } else if AMD_WMMA_GFX12.contains(&processor) {
        (MmaUnit::AmdWmmaGfx12, 32)
    } else {
        return None;
    };
    (warp_size == warp).then_some(unit)
}

/// Whether the device runs the mma kernels: it has a [`mma_unit`], and
/// `ROCMFORGE_MATMUL_PORTABLE` is unset, empty or "0".
fn has_mma(b: &HipBackend) -> bool {
    static DISABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let disabled =
        *DISABLED.get_or_init(|| std::env::var("ROCMFORGE_MATMUL_PORTABLE").is_ok_and(|v| !v.is_empty() && v != "0"));
    let facts = b.facts();
    !disabled && mma_unit(&facts.arch, facts.warp_size).is_some()
}

/// 90 from "sm_90" (or "sm_90a"); None for anything else (AMD's "gfx…").
fn sm_version(arch: &str) -> Option<u32> {
    let digits: String = arch.strip_prefix("sm_")?.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

pub(crate) fn supports(_b: &HipBackend, op: &Op<'_>) -> bool {
    match op {
        Op::Matmul(a) => plan(a).is_ok(),
        _ => false,
    }
}

pub(crate) fn run(b: &HipBackend, op: &Op<'_>) -> Result<()> {
    let Op::Matmul(a) = op else {
        return Err(BackendError::InvalidArgument(format!("matmul::run called for {}", op.name())));
    };
    let mut p = plan(a)?;
    if p.n == 0 || p.m == 0 {
        return Ok(()); // nothing to write
    }
    if matches!(p.variant, Variant::Gemv | Variant::Gemvn) {
        return matvec::run(b, a, &p);
    }
    if p.variant == Variant::Tile && p.m >= MMA_MIN_M && p.wtype != DType::F32 && has_mma(b) {
        // The mma grid has fewer column tiles (64 per block, as Tile), so
        // plan's grid-size check holds for it too.
        p.variant = Variant::Mma;
    }
    let (grid, block) = match p.variant {
        Variant::Gemv | Variant::Gemvn => unreachable!("matvec::run launched it"),
        Variant::Tile => {
            ([(p.n as u32).div_ceil(TILE as u32), (p.m as u32).div_ceil(TILE as u32), 1], [TILE_THREADS, 1, 1])
        }
        Variant::Mma => ([(p.n as u32).div_ceil(MMA_N), (p.m as u32).div_ceil(MMA_M), 1], [MMA_THREADS, 1, 1]),
    };
    launch(b, &SOURCE, a, &p, grid, block)
}

/// Launch `p`'s kernel from `src` (matmul.hip or matvec.hip): every matmul
/// kernel takes (w, x, out, K, N, M, row_bytes).
pub(super) fn launch(
    b: &HipBackend,
    src: &'static KernelSource<'static>,
    a: &MatmulArgs,
    p: &Plan,
    grid: [u32; 3],
    block: [u32; 3],
) -> Result<()> {
    let f = b.kernel(src, kernel_name(p.wtype, p.xtype, p.variant))?;
    let mut w = b.tensor_ptr(&a.w, false)?.0;
    let mut x = b.tensor_ptr(&a.x, false)?.0;
    let mut out = b.tensor_ptr(&a.out, true)?.0;
    let (mut k, mut n, mut m, mut row_bytes) = (p.k, p.n, p.m, p.row_bytes);
    let mut args: [*mut c_void; 7] = [
        &mut w as *mut u64 as *mut c_void,
        &mut x as *mut u64 as *mut c_void,
        &mut out as *mut u64 as *mut c_void,
        &mut k as *mut i32 as *mut c_void,
        &mut n as *mut i32 as *mut c_void,
        &mut m as *mut i32 as *mut c_void,
        &mut row_bytes as *mut u64 as *mut c_void,
    ];
    // SAFETY: the arguments match the kernel's parameters (three device
    // pointers, K, N, M as i32, row_bytes as u64); the pointers come from
    // `tensor_ptr`, which checked each tensor's whole byte range against its
    // live buffer; validation fixed the shapes the kernel relies on (w
    // [K, N], x [K, M], out [N, M], contiguous) and `plan` the index ranges
    // and alignment.
    unsafe { b.device().launch(&f, grid, block, 0, &mut args) }
}

/// `matmul_<wtype>_<xtype>_<variant>`, as `&'static str` for the kernel table.
pub(super) fn kernel_name(w: DType, x: DType, v: Variant) -> &'static str {
    macro_rules! names {
        ($w:literal) => {
            [
                [
                    concat!("matmul_", $w, "_f32_gemv"),
                    concat!("matmul_", $w, "_f32_gemvn"),
                    concat!("matmul_", $w, "_f32_tile"),
                    concat!("matmul_", $w, "_f32_mma"),
                ],
                [
                    concat!("matmul_", $w, "_f16_gemv"),
                    concat!("matmul_", $w, "_f16_gemvn"),
                    concat!("matmul_", $w, "_f16_tile"),
                    concat!("matmul_", $w, "_f16_mma"),
                ],
            ]
        };
    }
    // `run` never picks Mma for F32 weights: "matmul_f32_*_mma" is not defined.
    let table: [[&'static str; 4]; 2] = match w {
        DType::F32 => names!("f32"),
        DType::F16 => names!("f16"),
        DType::BF16 => names!("bf16"),
        DType::Q4_0 => names!("q4_0"),
        DType::Q4_1 => names!("q4_1"),
        DType::Q5_0 => names!("q5_0"),
        DType::Q5_1 => names!("q5_1"),
        DType::Q8_0 => names!("q8_0"),
        DType::Q2K => names!("q2_K"),
        DType::Q3K => names!("q3_K"),
        DType::Q4K => names!("q4_K"),
        DType::Q5K => names!("q5_K"),
        DType::Q6K => names!("q6_K"),
        // `plan` admits only weight types.
        DType::I32 => unreachable!("i32 is not a weight type"),
    };
    let xi = usize::from(x == DType::F16);
    let vi = match v {
        Variant::Gemv => 0,
        Variant::Gemvn => 1,
        Variant::Tile => 2,
        Variant::Mma => 3,
    };
    table[xi][vi]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_names_follow_the_dtype_names() {
        for w in DType::WEIGHTS {
            for x in [DType::F32, DType::F16] {
                for (v, s) in
                    [(Variant::Gemv, "gemv"), (Variant::Gemvn, "gemvn"), (Variant::Tile, "tile"), (Variant::Mma, "mma")]
                {
                    assert_eq!(kernel_name(w, x, v), format!("matmul_{w}_{x}_{s}"));
                }
            }
        }
    }

    #[test]
    fn every_kernel_name_is_defined_in_the_source() {
        // The entry points are made by RF_MATMUL_Q/RF_MATMUL_F lines, one
        // per (weight, activation) pair (the gemv ones: see matvec.rs).
        for w in DType::WEIGHTS {
            for x in [DType::F32, DType::F16] {
                let q = format!("RF_MATMUL_Q({w}, rf_{w}, {x}, ");
                let f = format!("RF_MATMUL_F({w}, rf_w_{w}, {x}, ");
                assert!(SOURCE.code.contains(&q) || SOURCE.code.contains(&f), "no instance for {w} x {x}");
                if w != DType::F32 {
                    let kind = if w.block_len() == 1 { "f" } else { "q" };
                    let wt = if kind == "f" { format!("rf_w_{w}") } else { format!("rf_{w}") };
                    let mma = format!("RF_MATMUL_MMA({kind}, {w}, {wt}, {x}, ");
                    assert!(SOURCE.code.contains(&mma), "no mma instance for {w} x {x}");
                }
            }
        }
    }

    #[test]
    fn sm_versions() {
        assert_eq!(sm_version("sm_90"), Some(90));
        assert_eq!(sm_version("sm_90a"), Some(90));
        assert_eq!(sm_version("sm_120"), Some(120));
        assert_eq!(sm_version("sm_75"), Some(75));
        assert_eq!(sm_version("gfx90a"), None);
        assert_eq!(sm_version("sm_"), None);
    }

    #[test]
    fn matrix_units_by_arch() {
        use MmaUnit::*;
        for (arch, warp, unit) in [
            ("sm_80", 32, Some(NvidiaMmaSync)),
            ("sm_90a", 32, Some(NvidiaMmaSync)),
            ("sm_120", 32, Some(NvidiaMmaSync)),
            ("sm_75", 32, None),
            ("gfx908", 64, Some(AmdMfma)),
            ("gfx90a", 64, Some(AmdMfma)),
            ("gfx90a:sramecc+:xnack-", 64, Some(AmdMfma)),
            ("gfx942", 64, Some(AmdMfma)),
            ("gfx942:sramecc+:xnack+", 64, Some(AmdMfma)),
            ("gfx950", 64, Some(AmdMfma)),
            ("gfx1100", 32, Some(AmdWmma)),
            ("gfx1151", 32, Some(AmdWmma)),
            ("gfx1201", 32, Some(AmdWmmaGfx12)),
            ("gfx1200:xnack-", 32, Some(AmdWmmaGfx12)),
            // No f16 matrix unit, or no kernel for it.
            ("gfx906", 64, None),
            ("gfx900:xnack-", 64, None),
            ("gfx1030", 32, None),
            ("gfx1010", 32, None),
            ("gfx1250", 32, None),
            ("gfx90", 64, None),
            ("gfx9420", 64, None),
            ("", 32, None),
            // The kernel's warp tiling assumes the unit's wave size.
            ("gfx90a", 32, None),
            ("gfx1100", 64, None),
            ("gfx1201", 64, None),
            ("sm_90", 64, None),
        ] {
            assert_eq!(mma_unit(arch, warp), unit, "{arch} warp {warp}");
        }
    }

    #[test]
    fn every_amd_mma_target_is_in_the_kernel() {
        // Each target the host picks an mma kernel for is one the kernel's
        // #if defines the entry points for, under the same unit.
        let section = |unit: &str| {
            let start = SOURCE.code.find(&format!("#define {unit} 1")).expect("unit define");
            let cond = &SOURCE.code[..start];
            &cond[cond.rfind("#elif").max(cond.rfind("#if")).expect("its #if / #elif")..]
        };
        for (unit, archs) in
            [("RF_MMA_MFMA", &AMD_MFMA[..]), ("RF_MMA_WMMA", &AMD_WMMA[..]), ("RF_MMA_WMMA_GFX12", &AMD_WMMA_GFX12[..])]
        {
            let cond = section(unit);
            for arch in archs {
                assert!(cond.contains(&format!("defined(__{arch}__)")), "{arch} not in the kernel's {unit} condition");
            }
            assert_eq!(cond.matches("defined(__gfx").count(), archs.len(), "{unit}: the kernel lists other targets");
        }
    }
}
