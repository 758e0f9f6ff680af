//! The decode half of `matmul` (M ≤ [`MAX_M`] activation columns) on
//! `kernels/matvec.hip`: matrix-vector kernels that read the weights'
//! GGUF blocks once and are bound by memory bandwidth. [`super::matmul`]
//! plans every matmul and hands these shapes over.

use rocmforge_backend_api::op::MatmulArgs;
use rocmforge_backend_api::Result;

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

/// Launch the gemv (M = 1) or gemvn kernel `plan` chose.
pub(super) fn run(b: &HipBackend, a: &MatmulArgs, p: &Plan) -> Result<()> {
    let grid = [(p.n as u32).div_ceil(ROWS), 1, 1];
    let block = [WARPS * b.facts().warp_size, 1, 1];
    launch(b, &SOURCE, a, p, grid, block)
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
