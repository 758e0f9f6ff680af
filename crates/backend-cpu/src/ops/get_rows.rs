//! `get_rows` (embedding lookup) and `set_rows` (scatter into a table, e.g.
//! the KV cache). Both check every id before touching the output, so a bad id
//! is an error and nothing is written.

use rayon::prelude::*;
use rocmforge_backend_api::op::{GetRowsArgs, SetRowsArgs};
use rocmforge_backend_api::Result;

use super::{dim, input, invalid, output, put_f32, quant_failure};
use crate::quant::{dequantize_row, quantize_row};
use crate::storage::Storage;

/// `out[:, i] = table[:, ids[i]]`, dequantized to f32 exactly as
/// [`dequantize_row`] does (so bit for bit what any other reader of the
/// table sees).
pub(crate) fn get_rows(s: &Storage, a: &GetRowsArgs) -> Result<()> {
    let table = input(s, &a.table)?;
    let ids = input(s, &a.ids)?.to_i32();
    let out = output(s, &a.out)?;
    let (k, v) = (dim(a.table.ne[0]), dim(a.table.ne[1]));
    let rows = checked_rows("get_rows", &ids, v)?;
    if k == 0 {
        return Ok(());
    }
    let ttype = table.dtype();
    out.bytes.par_chunks_mut(k * 4).zip(rows.par_iter()).try_for_each_init(
        || vec![0f32; k],
        |row, (dst, &id)| {
            dequantize_row(ttype, table.row_bytes(id), row).map_err(|e| quant_failure("get_rows", e))?;
            put_f32(dst, row);
            Ok(())
        },
    )
}

/// `dst[:, ids[i]] = src[:, i]`, converted to `dst`'s type (F32, F16 or BF16)
/// by [`quantize_row`]: f16 and bf16 round to nearest even, as ggml's
/// `set_rows`. Rows not named keep their contents. With a repeated id the
/// last occurrence wins (rows are written in order).
pub(crate) fn set_rows(s: &Storage, a: &SetRowsArgs) -> Result<()> {
    let src = input(s, &a.src)?;
    let ids = input(s, &a.ids)?.to_i32();
    let dst = output(s, &a.dst)?;
    let (k, r) = (dim(a.dst.ne[0]), dim(a.dst.ne[1]));
    let rows = checked_rows("set_rows", &ids, r)?;
    if k == 0 {
        return Ok(());
    }
    let vals = src.to_f32();
    let dtype = dst.desc.dtype().ok_or_else(|| invalid("set_rows", "dst has an unknown type"))?;
    let row_bytes = dtype.block_bytes() * k;
    let stride = dim(dst.desc.nb[1]);
    for (i, &id) in rows.iter().enumerate() {
        let at = id * stride;
        let out = dst
            .bytes
            .get_mut(at..at + row_bytes)
            .ok_or_else(|| invalid("set_rows", format!("row {id} lies outside dst")))?;
        quantize_row(dtype, &vals[i * k..(i + 1) * k], out).map_err(|e| quant_failure("set_rows", e))?;
    }
    Ok(())
}

/// The ids as row indices, or an error naming the first id outside `0..n`.
fn checked_rows(op: &str, ids: &[i32], n: usize) -> Result<Vec<usize>> {
    ids.iter()
        .enumerate()
        .map(|(i, &id)| {
            usize::try_from(id)
                .ok()
                .filter(|&r| r < n)
                .ok_or_else(|| invalid(op, format!("ids[{i}] = {id} is out of range for a table of {n} rows")))
        })
        .collect()
}
