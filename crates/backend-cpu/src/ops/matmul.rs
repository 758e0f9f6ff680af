//! `matmul`: `out[n, m] = Σ_k w[k, n] · x[k, m]`, as `ggml_mul_mat(w, x)`.
//!
//! Weights stay in their GGUF block layout. A task dequantizes a few weight
//! rows into its own f32 scratch (with the bit-exact [`dequantize_row`]) and
//! dots them with every activation column; `x` (F32 or F16) is converted to
//! f32 once. Tasks are parallel over weight rows.
//!
//! **Determinism.** Every output element is one [`dot`]-shaped sum: `LANES`
//! independent f32 partial sums, element `i` going to lane `i % LANES` in
//! ascending order, then a fixed reduction tree. The blocking (how many rows
//! and columns a micro-kernel handles at once), the thread count and the SIMD
//! width change none of these operations (Rust never reassociates or fuses
//! float arithmetic), so results are bit-identical however the work is split
//! and whether or not the AVX2 build of the kernel runs.

use rayon::prelude::*;
use rocmforge_backend_api::op::MatmulArgs;
use rocmforge_backend_api::Result;

use super::{dim, input, output, quant_failure};
use crate::quant::dequantize_row;
use crate::storage::Storage;

/// Independent partial sums per dot product: one AVX2 register's worth.
const LANES: usize = 8;
/// Weight rows one task dequantizes (its scratch: `TASK_ROWS * K` f32).
const TASK_ROWS: usize = 16;
/// Activation columns processed together, so that they stay in cache while
/// all of a task's weight rows pass over them.
const PANEL: usize = 32;

pub(crate) fn matmul(s: &Storage, a: &MatmulArgs) -> Result<()> {
    let w = input(s, &a.w)?;
    let x = input(s, &a.x)?;
    let out = output(s, &a.out)?;
    let (k, n, m) = (dim(a.w.ne[0]), dim(a.w.ne[1]), dim(a.x.ne[1]));
    if n == 0 || m == 0 {
        return Ok(());
    }
    let wtype = w.dtype();
    let xs = x.to_f32(); // column j is xs[j*k .. (j+1)*k]

    // Results transposed, `[m]` per weight row, so each task owns a
    // contiguous piece; written out as `[n]` per column at the end.
    let mut rows_out = vec![0f32; n * m];
    rows_out.par_chunks_mut(TASK_ROWS * m).enumerate().try_for_each_init(
        Vec::new,
        |scratch: &mut Vec<f32>, (t, res)| {
            let first = t * TASK_ROWS;
            let rows = res.len() / m;
            scratch.resize(rows * k, 0.0);
            for r in 0..rows {
                dequantize_row(wtype, w.row_bytes(first + r), &mut scratch[r * k..(r + 1) * k])
                    .map_err(|e| quant_failure("matmul", e))?;
            }
            block_product(&scratch[..rows * k], rows, &xs, k, m, res);
            Ok(())
        },
    )?;

    out.bytes.par_chunks_mut(n * 4).enumerate().for_each(|(j, col)| {
        for (i, c) in col.chunks_exact_mut(4).enumerate() {
            c.copy_from_slice(&rows_out[i * m + j].to_le_bytes());
        }
    });
    Ok(())
}

/// `res[r * m + j] = dot(w row r, x column j)` for `rows` weight rows of
/// length `k` in `w` and `m` columns in `x`. Runs the AVX2 build when the
/// CPU has it (same bits, see [`Lanes`]).
fn block_product(w: &[f32], rows: usize, x: &[f32], k: usize, m: usize, res: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { block_product_avx2(w, rows, x, k, m, res) };
        return;
    }
    block_product_with::<Scalar>(w, rows, x, k, m, res);
}

/// [`block_product_with`] compiled for AVX2, with [`Avx2`] lane sums.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_product_avx2(w: &[f32], rows: usize, x: &[f32], k: usize, m: usize, res: &mut [f32]) {
    block_product_with::<Avx2>(w, rows, x, k, m, res);
}

#[inline(always)]
fn block_product_with<L: Lanes>(w: &[f32], rows: usize, x: &[f32], k: usize, m: usize, res: &mut [f32]) {
    let wrow = |r: usize| &w[r * k..(r + 1) * k];
    let xcol = |j: usize| &x[j * k..(j + 1) * k];
    for p0 in (0..m).step_by(PANEL) {
        let p1 = (p0 + PANEL).min(m);
        let mut r = 0;
        // 4 weight rows x 2 columns: 8 accumulators of LANES, 6 loads per step.
        while r + 4 <= rows {
            let ws = [wrow(r), wrow(r + 1), wrow(r + 2), wrow(r + 3)];
            let mut j = p0;
            while j + 2 <= p1 {
                let d = kernel::<L, 4, 2>(&ws, &[xcol(j), xcol(j + 1)], k);
                for (i, row) in d.iter().enumerate() {
                    res[(r + i) * m + j] = row[0];
                    res[(r + i) * m + j + 1] = row[1];
                }
                j += 2;
            }
            if j < p1 {
                let d = kernel::<L, 4, 1>(&ws, &[xcol(j)], k);
                for (i, row) in d.iter().enumerate() {
                    res[(r + i) * m + j] = row[0];
                }
            }
            r += 4;
        }
        while r < rows {
            let ws = [wrow(r)];
            for j in p0..p1 {
                res[r * m + j] = kernel::<L, 1, 1>(&ws, &[xcol(j)], k)[0][0];
            }
            r += 1;
        }
    }
}

/// Dot products of `R` weight rows with `C` activation columns, all of
/// length `k`: element `i` goes to lane `i % LANES`, lanes are summed by
/// [`reduce`]. The per-pair arithmetic is the same for every `R` and `C`.
#[inline(always)]
fn kernel<L: Lanes, const R: usize, const C: usize>(w: &[&[f32]; R], x: &[&[f32]; C], k: usize) -> [[f32; C]; R] {
    let w: [&[f32]; R] = std::array::from_fn(|r| &w[r][..k]);
    let x: [&[f32]; C] = std::array::from_fn(|c| &x[c][..k]);
    let full = k - k % LANES;
    // SAFETY: every slice holds k >= full elements (sliced just above); the
    // caller picked `L` for this CPU.
    let mut acc = unsafe { L::lanes(&w, &x, full) };
    for i in full..k {
        for r in 0..R {
            for c in 0..C {
                acc[r][c][i - full] += w[r][i] * x[c][i];
            }
        }
    }
    let mut out = [[0f32; C]; R];
    for r in 0..R {
        for c in 0..C {
            out[r][c] = reduce(&acc[r][c]);
        }
    }
    out
}

/// The lane sums over the first `full` elements (a multiple of `LANES`):
/// `acc[r][c][l] = Σ_i w[r][i·LANES + l] · x[c][i·LANES + l]`, each step a
/// rounded product then a rounded sum, in ascending `i`. Implemented in
/// plain Rust ([`Scalar`]) and with AVX2 intrinsics ([`Avx2`]); both perform
/// exactly these operations, so they give the same bits.
trait Lanes {
    /// # Safety
    /// Every slice holds at least `full` elements, and the CPU supports what
    /// the implementation uses.
    unsafe fn lanes<const R: usize, const C: usize>(
        w: &[&[f32]; R],
        x: &[&[f32]; C],
        full: usize,
    ) -> [[[f32; LANES]; C]; R];
}

struct Scalar;

impl Lanes for Scalar {
    #[inline(always)]
    unsafe fn lanes<const R: usize, const C: usize>(
        w: &[&[f32]; R],
        x: &[&[f32]; C],
        full: usize,
    ) -> [[[f32; LANES]; C]; R] {
        let mut acc = [[[0f32; LANES]; C]; R];
        let mut i = 0;
        while i < full {
            for r in 0..R {
                for c in 0..C {
                    for l in 0..LANES {
                        acc[r][c][l] += w[r][i + l] * x[c][i + l];
                    }
                }
            }
            i += LANES;
        }
        acc
    }
}

/// One AVX2 register per lane set: `_mm256_add_ps(acc, _mm256_mul_ps(w, x))`
/// is exactly the scalar `acc + w * x` per lane (no fused multiply-add).
/// Only instantiated inside `#[target_feature(enable = "avx2")]` functions,
/// where it inlines to straight AVX code.
#[cfg(target_arch = "x86_64")]
struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx2 {
    #[inline(always)]
    unsafe fn lanes<const R: usize, const C: usize>(
        w: &[&[f32]; R],
        x: &[&[f32]; C],
        full: usize,
    ) -> [[[f32; LANES]; C]; R] {
        // SAFETY: forwarded.
        unsafe { lanes_avx2(w, x, full) }
    }
}

/// The body of [`Avx2::lanes`]. Its own function with the target feature
/// (rather than inlined by force) so that even unoptimised builds keep the
/// accumulators in registers; optimised builds inline it anyway.
///
/// # Safety
/// As [`Lanes::lanes`], with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn lanes_avx2<const R: usize, const C: usize>(
    w: &[&[f32]; R],
    x: &[&[f32]; C],
    full: usize,
) -> [[[f32; LANES]; C]; R] {
    use std::arch::x86_64::*;
    debug_assert!(w.iter().all(|s| s.len() >= full) && x.iter().all(|s| s.len() >= full));
    let mut acc = [[_mm256_setzero_ps(); C]; R];
    let mut i = 0;
    while i < full {
        let mut xv = [_mm256_setzero_ps(); C];
        for c in 0..C {
            // SAFETY: i + LANES <= full <= x[c].len().
            xv[c] = unsafe { _mm256_loadu_ps(x[c].as_ptr().add(i)) };
        }
        for r in 0..R {
            // SAFETY: i + LANES <= full <= w[r].len().
            let wv = unsafe { _mm256_loadu_ps(w[r].as_ptr().add(i)) };
            for c in 0..C {
                acc[r][c] = _mm256_add_ps(acc[r][c], _mm256_mul_ps(wv, xv[c]));
            }
        }
        i += LANES;
    }
    let mut out = [[[0f32; LANES]; C]; R];
    for r in 0..R {
        for c in 0..C {
            // SAFETY: `out[r][c]` holds LANES = 8 f32s.
            unsafe { _mm256_storeu_ps(out[r][c].as_mut_ptr(), acc[r][c]) };
        }
    }
    out
}

const _: () = assert!(LANES == 8, "reduce() is written for 8 lanes");

/// The fixed reduction of the partial sums: a balanced tree.
#[inline(always)]
fn reduce(a: &[f32; LANES]) -> f32 {
    ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
}

/// `Σ a[i]·b[i]` over the shorter length, in the same fixed order as every
/// matmul element (so attention scores are reproducible too).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let k = a.len().min(b.len());
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { dot_avx2(a, b, k) };
    }
    kernel::<Scalar, 1, 1>(&[a], &[b], k)[0][0]
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_avx2(a: &[f32], b: &[f32], k: usize) -> f32 {
    kernel::<Avx2, 1, 1>(&[a], &[b], k)[0][0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 7919 + seed * 104_729) % 113) as f32 / 17.0 - 3.0).collect()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn lanes_avx2_for_test(w: &[&[f32]; 4], x: &[&[f32]; 2], full: usize) -> [[[f32; LANES]; 2]; 4] {
        // SAFETY: forwarded.
        unsafe { Avx2::lanes(w, x, full) }
    }

    /// The SIMD build of the lane sums gives the scalar build's bits.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_lanes_equal_scalar_lanes() {
        let k = 8 * 37;
        let (w, x) = (data(4 * k, 1), data(2 * k, 2));
        let ws = [&w[..k], &w[k..2 * k], &w[2 * k..3 * k], &w[3 * k..]];
        let xs = [&x[..k], &x[k..]];
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        // SAFETY: AVX2 is available; every slice holds k elements.
        let (a, b) = unsafe { (lanes_avx2_for_test(&ws, &xs, k), Scalar::lanes(&ws, &xs, k)) };
        for (ra, rb) in a.iter().zip(&b) {
            for (ca, cb) in ra.iter().zip(rb) {
                assert_eq!(ca.map(f32::to_bits), cb.map(f32::to_bits));
            }
        }
    }

    /// The blocked kernel, either build, gives each element exactly the
    /// bits `dot` gives.
    #[test]
    fn blocking_does_not_change_bits() {
        let (k, rows, m) = (37, 7, 5);
        let (w, x) = (data(rows * k, 3), data(m * k, 4));
        let mut res = vec![0f32; rows * m];
        block_product(&w, rows, &x, k, m, &mut res);
        let mut scalar = vec![0f32; rows * m];
        block_product_with::<Scalar>(&w, rows, &x, k, m, &mut scalar);
        for r in 0..rows {
            for j in 0..m {
                let d = dot(&w[r * k..(r + 1) * k], &x[j * k..(j + 1) * k]);
                assert_eq!(res[r * m + j].to_bits(), d.to_bits());
                assert_eq!(scalar[r * m + j].to_bits(), d.to_bits());
            }
        }
    }
}
