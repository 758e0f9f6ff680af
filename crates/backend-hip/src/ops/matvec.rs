//! The decode half of `matmul` (M ≤ [`MAX_M`] activation columns) on
//! `kernels/matvec.hip`: matrix-vector kernels that read the weights'
//! GGUF blocks once and are bound by memory bandwidth. [`super::matmul`]
//! plans every matmul and hands these shapes over.

use std::ffi::c_void;

use rocmforge_backend_api::op::MatmulArgs;
use rocmforge_backend_api::Result;

use super::matmul::{kernel_name, Plan};
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

/// Launch the gemv (M = 1) or gemvn kernel `plan` chose.
pub(super) fn run(b: &HipBackend, a: &MatmulArgs, p: &Plan) -> Result<()> {
    let f = b.kernel(&SOURCE, kernel_name(p.wtype, p.xtype, p.variant))?;
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
    let grid = [(p.n as u32).div_ceil(ROWS), 1, 1];
    let block = [WARPS * b.facts().warp_size, 1, 1];
    // SAFETY: as in `matmul::run`: the arguments match the kernel's
    // parameters, the pointers' byte ranges were checked by `tensor_ptr`,
    // and `plan` checked index ranges and alignment.
    unsafe { b.device().launch(&f, grid, block, 0, &mut args) }
}

#[cfg(test)]
mod tests {
    use rocmforge_backend_api::DType;

    use super::*;

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
