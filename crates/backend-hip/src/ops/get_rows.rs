//! `get_rows` (embedding lookup) and `set_rows` (scatter into a table, e.g.
//! the KV cache) on `kernels/get_rows.hip`.
//!
//! - `get_rows_<ttype>` for every weight type: rows decoded to F32 bit for
//!   bit as the CPU oracle does. An id outside the table gives a zero row
//!   (this backend cannot report it synchronously; see the op's contract).
//! - `set_rows_<dtype>` for F32, F16 and BF16 destinations. Out-of-range ids
//!   are skipped; with a repeated id the last occurrence wins, as on the CPU.
//!
//! Sizes are checked to fit the kernels' 32-bit indices (row length,
//! number of rows and ids); row addresses are 64-bit.

use std::ffi::c_void;

use rocmforge_backend_api::op::{GetRowsArgs, SetRowsArgs};
use rocmforge_backend_api::{BackendError, DType, Op, Result};

use crate::compile::KernelSource;
use crate::HipBackend;

static SOURCE: KernelSource<'static> = KernelSource {
    name: "get_rows.hip",
    code: include_str!("../../../../kernels/get_rows.hip"),
    headers: crate::kernels::HEADERS,
};

/// Threads per block (`RF_ROWS_THREADS`).
const THREADS: u32 = 256;
/// Most blocks in grid dimension x.
const MAX_GRID_X: u64 = i32::MAX as u64;

fn unsupported(op: &str, reason: String) -> BackendError {
    BackendError::Unsupported { op: op.into(), reason }
}

fn fits_i32(v: i64) -> bool {
    (0..=i64::from(i32::MAX)).contains(&v)
}

/// Alignment (bytes) the kernels' loads assume of a table of type `t`
/// (quant.h's `ALIGN`).
fn table_align(t: DType) -> u64 {
    match t {
        DType::F32 | DType::Q4_1 | DType::Q5_1 | DType::Q2K | DType::Q4K | DType::Q5K => 4,
        _ => 2,
    }
}

struct GetPlan {
    name: &'static str,
    k: i32,
    v: i32,
    m: i32,
    row_bytes: u64,
    grid: u32,
}

fn get_plan(a: &GetRowsArgs) -> Result<GetPlan> {
    let t = a.table.dtype().ok_or_else(|| BackendError::InvalidArgument("get_rows: unknown table type".into()))?;
    let name = get_rows_name(t).ok_or_else(|| unsupported("get_rows", format!("table type {t}")))?;
    let (k, v, m) = (a.table.ne[0], a.table.ne[1], a.ids.ne[0]);
    if !(fits_i32(k) && fits_i32(v) && fits_i32(m)) {
        return Err(unsupported("get_rows", format!("table [{k}, {v}], {m} ids: sizes must fit in i32")));
    }
    if !a.table.offset.is_multiple_of(table_align(t))
        || !a.ids.offset.is_multiple_of(4)
        || !a.out.offset.is_multiple_of(4)
    {
        return Err(unsupported("get_rows", "misaligned table, ids or out".into()));
    }
    let row_bytes = t
        .row_bytes(k as u64)
        .ok_or_else(|| BackendError::InvalidArgument(format!("get_rows: K {k} is not whole {t} blocks")))?;
    // One thread per run of 8 (quantized) or per element (float).
    let per_row = if t.block_len() > 1 { k as u64 / 8 } else { k as u64 };
    let grid = (per_row * m as u64).div_ceil(u64::from(THREADS));
    if grid > MAX_GRID_X {
        return Err(unsupported("get_rows", format!("{m} rows of {k}: too many blocks")));
    }
    Ok(GetPlan { name, k: k as i32, v: v as i32, m: m as i32, row_bytes, grid: grid as u32 })
}

struct SetPlan {
    name: &'static str,
    k: i32,
    r: i32,
    m: i32,
    row_bytes: u64,
}

fn set_plan(a: &SetRowsArgs) -> Result<SetPlan> {
    let t = a.dst.dtype().ok_or_else(|| BackendError::InvalidArgument("set_rows: unknown dst type".into()))?;
    let name = match t {
        DType::F32 => "set_rows_f32",
        DType::F16 => "set_rows_f16",
        DType::BF16 => "set_rows_bf16",
        other => return Err(unsupported("set_rows", format!("dst type {other}"))),
    };
    let (k, r, m) = (a.src.ne[0], a.dst.ne[1], a.src.ne[1]);
    if !(fits_i32(k) && fits_i32(r) && fits_i32(m) && fits_i32(k.saturating_mul(m))) {
        return Err(unsupported("set_rows", format!("src [{k}, {m}], dst rows {r}: sizes must fit in i32")));
    }
    let esize = t.block_bytes() as u64;
    if !a.src.offset.is_multiple_of(4) || !a.ids.offset.is_multiple_of(4) || !a.dst.offset.is_multiple_of(esize) {
        return Err(unsupported("set_rows", "misaligned src, ids or dst".into()));
    }
    Ok(SetPlan { name, k: k as i32, r: r as i32, m: m as i32, row_bytes: k as u64 * esize })
}

pub(crate) fn supports(_b: &HipBackend, op: &Op<'_>) -> bool {
    match op {
        Op::GetRows(a) => get_plan(a).is_ok(),
        Op::SetRows(a) => set_plan(a).is_ok(),
        _ => false,
    }
}

pub(crate) fn run(b: &HipBackend, op: &Op<'_>) -> Result<()> {
    match op {
        Op::GetRows(a) => get_rows(b, a),
        Op::SetRows(a) => set_rows(b, a),
        _ => Err(BackendError::InvalidArgument(format!("get_rows::run called for {}", op.name()))),
    }
}

fn get_rows(b: &HipBackend, a: &GetRowsArgs) -> Result<()> {
    let p = get_plan(a)?;
    if p.grid == 0 {
        return Ok(()); // no ids or empty rows: nothing to write
    }
    let f = b.kernel(&SOURCE, p.name)?;
    let mut table = b.tensor_ptr(&a.table, false)?.0;
    let mut ids = b.tensor_ptr(&a.ids, false)?.0;
    let mut out = b.tensor_ptr(&a.out, true)?.0;
    let (mut k, mut v, mut m, mut row_bytes) = (p.k, p.v, p.m, p.row_bytes);
    let mut args: [*mut c_void; 7] = [
        &mut table as *mut u64 as *mut c_void,
        &mut ids as *mut u64 as *mut c_void,
        &mut out as *mut u64 as *mut c_void,
        &mut k as *mut i32 as *mut c_void,
        &mut v as *mut i32 as *mut c_void,
        &mut m as *mut i32 as *mut c_void,
        &mut row_bytes as *mut u64 as *mut c_void,
    ];
    // SAFETY: arguments match `get_rows_<t>(table, ids, out, K, V, M,
    // row_bytes)`; each pointer's whole tensor range was checked by
    // `tensor_ptr`; validation fixed table [K, V], ids [M], out [K, M]
    // (contiguous), and the kernel bounds-checks every id against V.
    unsafe { b.device().launch(&f, [p.grid, 1, 1], [THREADS, 1, 1], 0, &mut args) }
}

fn set_rows(b: &HipBackend, a: &SetRowsArgs) -> Result<()> {
    let p = set_plan(a)?;
    if p.m == 0 || p.k == 0 {
        return Ok(());
    }
    let f = b.kernel(&SOURCE, p.name)?;
    let mut src = b.tensor_ptr(&a.src, false)?.0;
    let mut ids = b.tensor_ptr(&a.ids, false)?.0;
    let mut dst = b.tensor_ptr(&a.dst, true)?.0;
    let (mut k, mut r, mut m, mut row_bytes) = (p.k, p.r, p.m, p.row_bytes);
    let mut args: [*mut c_void; 7] = [
        &mut src as *mut u64 as *mut c_void,
        &mut ids as *mut u64 as *mut c_void,
        &mut dst as *mut u64 as *mut c_void,
        &mut k as *mut i32 as *mut c_void,
        &mut r as *mut i32 as *mut c_void,
        &mut m as *mut i32 as *mut c_void,
        &mut row_bytes as *mut u64 as *mut c_void,
    ];
    // SAFETY: arguments match `set_rows_<t>(src, ids, dst, K, R, M,
    // row_bytes)`; the ranges were checked by `tensor_ptr`; validation fixed
    // src [K, M], ids [M], dst [K, R] (contiguous), and the kernel skips ids
    // outside 0..R.
    unsafe { b.device().launch(&f, [p.m as u32, 1, 1], [THREADS, 1, 1], 0, &mut args) }
}

/// `get_rows_<ttype>` for a weight type, `None` for I32.
fn get_rows_name(t: DType) -> Option<&'static str> {
    Some(match t {
        DType::F32 => "get_rows_f32",
        DType::F16 => "get_rows_f16",
        DType::BF16 => "get_rows_bf16",
        DType::Q4_0 => "get_rows_q4_0",
        DType::Q4_1 => "get_rows_q4_1",
        DType::Q5_0 => "get_rows_q5_0",
        DType::Q5_1 => "get_rows_q5_1",
        DType::Q8_0 => "get_rows_q8_0",
        DType::Q2K => "get_rows_q2_K",
        DType::Q3K => "get_rows_q3_K",
        DType::Q4K => "get_rows_q4_K",
        DType::Q5K => "get_rows_q5_K",
        DType::Q6K => "get_rows_q6_K",
        DType::I32 => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_name_is_defined_in_the_source() {
        for t in DType::WEIGHTS {
            let name = get_rows_name(t).expect("weight types have a kernel");
            assert_eq!(name, format!("get_rows_{t}"));
            let q = format!("RF_GET_ROWS_Q({t}, rf_{t})");
            let f = format!("RF_GET_ROWS_F({t}, rf_w_{t})");
            assert!(SOURCE.code.contains(&q) || SOURCE.code.contains(&f), "no get_rows instance for {t}");
        }
        for t in ["f32", "f16", "bf16"] {
            assert!(SOURCE.code.contains(&format!("void set_rows_{t}(")), "no set_rows_{t}");
        }
    }
}
