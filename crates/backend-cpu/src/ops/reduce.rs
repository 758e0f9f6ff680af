//! Row reductions over `ne[0]`: `softmax` and `argmax`.

use rayon::prelude::*;
use rocmforge_backend_api::op::{ArgmaxArgs, SoftmaxArgs};
use rocmforge_backend_api::Result;

use super::{dim, input, invalid, output, put_f32};
use crate::storage::Storage;

/// `softmax(x · scale)` per row, as ggml's `soft_max` without a mask: scale
/// in f32, subtract the row max, `exp` in f32, sum in f64, then multiply by
/// `1 / sum` rounded to f32. A row whose scaled values are all `-inf` (or
/// hold a NaN) comes out NaN, as in ggml.
pub(crate) fn softmax(s: &Storage, a: &SoftmaxArgs) -> Result<()> {
    let x = input(s, &a.x)?.to_f32();
    let out = output(s, &a.out)?;
    let n = dim(a.x.ne[0]);
    if n == 0 {
        return Ok(());
    }
    let scale = a.scale;
    out.bytes.par_chunks_mut(n * 4).zip(x.par_chunks(n)).for_each_init(
        || vec![0f32; n],
        |y, (dst, xr)| {
            let mut max = f32::NEG_INFINITY;
            for (o, &v) in y.iter_mut().zip(xr) {
                *o = v * scale;
                max = max.max(*o);
            }
            let mut sum = 0f64;
            for o in y.iter_mut() {
                *o = (*o - max).exp();
                sum += f64::from(*o);
            }
            let inv = (1.0 / sum) as f32;
            for o in y.iter_mut() {
                *o *= inv;
            }
            put_f32(dst, y);
        },
    );
    Ok(())
}

/// Index of the first maximum of each row. NaN counts as larger than every
/// number (numpy's and PyTorch's convention), so a row holding a NaN yields
/// the index of its first NaN: a corrupt row shows up instead of being
/// quietly sampled around. An empty row has no maximum and is an error.
pub(crate) fn argmax(s: &Storage, a: &ArgmaxArgs) -> Result<()> {
    let x = input(s, &a.x)?.to_f32();
    let mut out = output(s, &a.out)?;
    let n = dim(a.x.ne[0]);
    let rows = a.x.rows() as usize;
    if rows == 0 {
        return Ok(());
    }
    if n == 0 {
        return Err(invalid("argmax", "rows of length 0 have no maximum"));
    }
    if i32::try_from(n - 1).is_err() {
        return Err(invalid("argmax", format!("rows of {n} elements: an index does not fit in i32")));
    }
    let idx: Vec<i32> = x.par_chunks(n).map(|r| first_max(r) as i32).collect();
    out.write_i32(&idx);
    Ok(())
}

fn first_max(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate().skip(1) {
        let b = row[best];
        if b.is_nan() {
            break;
        }
        if v.is_nan() || v > b {
            best = i;
        }
    }
    best
}
