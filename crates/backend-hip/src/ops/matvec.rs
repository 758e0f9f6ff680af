//! The decode half of `matmul` (M ≤ [`MAX_M`] activation columns) on
//! `kernels/matvec.hip`: matrix-vector kernels that read the weights'
//! GGUF blocks once and are bound by memory bandwidth. [`super::matmul`]
//! plans every matmul and hands these shapes over.
//!
//! For M = 1 with F32 activations and weights in Q4_0, Q5_0, Q8_0, Q4_K or
//! Q6_K, the activations are first quantized to 8 bits into the backend's
//! scratch buffer and the weights dotted with them in integers (ggml's
//! MMVQ scheme; see the kernel file). `ROCMFORGE_MATVEC_F32=1` in the
//! environment (read once) keeps f32 activations everywhere, for timing
//! comparisons and for bisecting numerics.

use std::ffi::c_void;

use rocmforge_backend_api::op::MatmulArgs;
use rocmforge_backend_api::{DType, Result};

use super::matmul::{launch, Plan};
use crate::compile::KernelSource;
use crate::HipBackend;

pub(super) static SOURCE: KernelSource<'static> = KernelSource {
    name: "matvec.hip",
    code: include_str!("../../../../kernels/matvec.hip"),
    headers: crate::kernels::HEADERS,
};

/// Warps per block (`RF_GEMV_WARPS`).
const WARPS: u32 = 4;
/// Weight rows per block (`RF_GEMV_ROWS`, = `RF_GEMV_WARPS`).
const ROWS: u32 = 4;
/// Most activation columns the gemvn kernel takes (`RF_GEMV_MAX_M`).
pub(super) const MAX_M: i64 = 8;

/// Activation elements per 8-bit block (and threads quantizing one block).
const Q8_BLOCK: u64 = 32;
/// Threads per block of the quantize kernel.
const QUANTIZE_THREADS: u32 = 256;

/// Launch the gemv (M = 1) or gemvn kernel `plan` chose.
pub(super) fn run(b: &HipBackend, a: &MatmulArgs, p: &Plan) -> Result<()> {
    let grid = [(p.n as u32).div_ceil(ROWS), 1, 1];
    let block = [WARPS * b.facts().warp_size, 1, 1];
    if p.m == 1 && p.xtype == DType::F32 && !f32_forced() {
        if let Some(name) = q8_kernel(p.wtype) {
            if run_q8(b, a, p, name, grid, block)? {
                return Ok(());
            }
        }
    }
    launch(b, &SOURCE, a, p, grid, block)
}

/// The 8-bit-activation kernel for weights of type `w`, if there is one.
fn q8_kernel(w: DType) -> Option<&'static str> {
    match w {
        DType::Q4_0 => Some("matmul_q4_0_q8_gemv"),
        DType::Q5_0 => Some("matmul_q5_0_q8_gemv"),
        DType::Q8_0 => Some("matmul_q8_0_q8_gemv"),
        DType::Q4K => Some("matmul_q4_K_q8_gemv"),
        DType::Q6K => Some("matmul_q6_K_q8_gemv"),
        _ => None,
    }
}

fn f32_forced() -> bool {
    static FORCED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FORCED.get_or_init(|| std::env::var("ROCMFORGE_MATVEC_F32").is_ok_and(|v| !v.is_empty() && v != "0"))
}

/// Quantize x into scratch and launch the integer kernel; `false` (nothing
/// launched) when the scratch buffer is too small for x.
fn run_q8(
    b: &HipBackend,
    a: &MatmulArgs,
    p: &Plan,
    name: &'static str,
    grid: [u32; 3],
    block: [u32; 3],
) -> Result<bool> {
    let k = p.k as u64; // a whole number of weight blocks, so of 32
    let (scratch, cap) = b.scratch();
    let ds_offset = k.div_ceil(256) * 256;
    if ds_offset + k / Q8_BLOCK * 8 > cap {
        return Ok(false);
    }
    let mut x = b.tensor_ptr(&a.x, false)?.0;
    let mut xq = scratch.0;
    let mut ds = scratch.offset(ds_offset).0;
    let mut kk = p.k;
    let quantize = b.kernel(&SOURCE, "matvec_quantize_x")?;
    let mut args: [*mut c_void; 4] = [
        &mut x as *mut u64 as *mut c_void,
        &mut xq as *mut u64 as *mut c_void,
        &mut ds as *mut u64 as *mut c_void,
        &mut kk as *mut i32 as *mut c_void,
    ];
    let qgrid = [(k as u32).div_ceil(QUANTIZE_THREADS), 1, 1];
    // SAFETY: (x, xq, ds, K): x holds K floats (validated [K, 1] F32, range
    // checked by tensor_ptr), xq and ds lie in the scratch buffer (K bytes,
    // then K / 32 pairs of floats at a 256-aligned offset, checked above);
    // the kernel touches nothing past K.
    unsafe { b.device().launch(&quantize, qgrid, [QUANTIZE_THREADS, 1, 1], 0, &mut args)? };
    let f = b.kernel(&SOURCE, name)?;
    let mut w = b.tensor_ptr(&a.w, false)?.0;
    let mut out = b.tensor_ptr(&a.out, true)?.0;
    let (mut n, mut row_bytes) = (p.n, p.row_bytes);
    let mut args: [*mut c_void; 7] = [
        &mut w as *mut u64 as *mut c_void,
        &mut xq as *mut u64 as *mut c_void,
        &mut ds as *mut u64 as *mut c_void,
        &mut out as *mut u64 as *mut c_void,
        &mut kk as *mut i32 as *mut c_void,
        &mut n as *mut i32 as *mut c_void,
        &mut row_bytes as *mut u64 as *mut c_void,
    ];
    // SAFETY: (w, xq, ds, out, K, N, row_bytes) as the kernel declares;
    // w and out checked by tensor_ptr against [K, N] and [N, 1], xq/ds
    // written by the launch before (stream order); plan checked alignment.
    unsafe { b.device().launch(&f, grid, block, 0, &mut args)? };
    Ok(true)
}

#[cfg(test)]
mod tests {
    use rocmforge_backend_api::DType;

    use super::*;

    #[test]
    fn every_q8_kernel_is_defined_in_the_source() {
        for w in DType::WEIGHTS {
            if let Some(name) = q8_kernel(w) {
                let line = format!(
                    "RF_MATVEC_Q8({}, rf_{w})",
                    name.trim_start_matches("matmul_").trim_end_matches("_q8_gemv")
                );
                assert!(SOURCE.code.contains(&line), "no {line}");
            }
        }
        assert!(SOURCE.code.contains("void matvec_quantize_x("));
    }

    #[test]
    fn every_kernel_name_is_defined_in_the_source() {
        // The entry points are made by RF_MATVEC lines, one per (weight, activation) pair.
        for w in DType::WEIGHTS {
            for x in [DType::F32, DType::F16] {
                let (kind, wt) = if w.block_len() == 1 { ("f", format!("rf_w_{w}")) } else { ("q", format!("rf_{w}")) };
                let line = format!("RF_MATVEC({kind}, {w}, {wt}, {x}, ");
                assert!(SOURCE.code.contains(&line), "no matvec instance for {w} x {x}");
            }
        }
    }
}
