//! Conformance cases for the row reductions `softmax` and `argmax`.
//!
//! Row lengths 1, odd, around warp and block sizes (32, 64, 1024) and a
//! vocabulary (32000, 151936); batch 1 and many rows. Softmax: several
//! scales, masked (-inf) entries and large logits (the max subtraction).
//! Argmax: ties (the first wins), the maximum at the first or last index,
//! -inf rows, and NaN (larger than every number: its first index wins),
//! compared exactly.

use rocmforge_backend_api::op::{ArgmaxArgs, SoftmaxArgs};
use rocmforge_backend_api::{DType, Op, OpKind};

use super::random;
use crate::{tolerance, Case, HostTensor};

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    // (shape, scale, value range)
    let softmax: &[(&[usize], f32, f32)] = &[
        (&[1, 1], 1.0, 1.0),
        (&[7, 3], 1.0, 4.0),
        (&[32, 2], 0.125, 8.0),
        (&[65, 5], 1.0, 2.0),
        (&[1000, 3, 2], 0.5, 10.0),
        (&[1025, 4], 1.0, 30.0),
        (&[32000, 2], 1.0, 20.0),
        (&[33, 2, 2, 3], 2.0, 1.0),
    ];
    for (i, &(shape, s, range)) in softmax.iter().enumerate() {
        v.push(softmax_case(shape, s, range, false, 800 + i as u64));
    }
    // Attention-like masking: some -inf entries (never a whole row).
    v.push(softmax_case(&[77, 6], 0.125, 8.0, true, 850));
    v.push(softmax_case(&[1500, 2], 1.0, 8.0, true, 851));

    for (i, shape) in [&[1usize, 1][..], &[7, 5], &[64, 3], &[1025, 4], &[32000, 2], &[151_936, 1], &[33, 2, 3]]
        .into_iter()
        .enumerate()
    {
        v.push(argmax_case(shape, Special::None, 900 + i as u64));
    }
    for (i, special) in [Special::Ties, Special::Ends, Special::NegInf, Special::Nan].into_iter().enumerate() {
        v.push(argmax_case(&[300, 6], special, 950 + i as u64));
        v.push(argmax_case(&[5000, 3], special, 960 + i as u64));
    }
    v
}

fn softmax_case(shape: &[usize], scale: f32, range: f32, masked: bool, seed: u64) -> Case {
    let n: usize = shape.iter().product();
    let mut x = random(n, seed, range);
    if masked {
        // Mask every third element of each row from the second on (causal-like),
        // so every row keeps its first element.
        let ne0 = shape[0];
        for (i, v) in x.iter_mut().enumerate() {
            if i % ne0 > 0 && i % 3 == 0 {
                *v = f32::NEG_INFINITY;
            }
        }
    }
    Case {
        op: OpKind::Softmax,
        label: format!("x{shape:?} scale={scale}{}", if masked { " masked" } else { "" }),
        inputs: vec![HostTensor::f32(shape, &x)],
        out_dtype: DType::F32,
        out_shape: shape.to_vec(),
        tolerance: tolerance::F32,
        call: Box::new(move |t, out, run| run(&Op::Softmax(&SoftmaxArgs { x: t[0], out, scale, _reserved: 0 }))),
    }
}

#[derive(Clone, Copy, Debug)]
enum Special {
    None,
    /// Few distinct values: many ties for the maximum.
    Ties,
    /// The maximum at index 0 in some rows, at the last index in others.
    Ends,
    /// Rows of all -inf, and -inf mixed with numbers.
    NegInf,
    /// NaN in some rows (after or before the maximum), a row of all NaN.
    Nan,
}

fn argmax_case(shape: &[usize], special: Special, seed: u64) -> Case {
    let n: usize = shape.iter().product();
    let ne0 = shape[0];
    let rows = n / ne0;
    let mut x = random(n, seed, 100.0);
    for (r, row) in x.chunks_mut(ne0).enumerate() {
        let last = ne0 - 1;
        match special {
            Special::None => {}
            Special::Ties => row.iter_mut().for_each(|v| *v = (*v / 40.0).round()),
            Special::Ends => row[if r % 2 == 0 { 0 } else { last }] = 1000.0,
            Special::NegInf => match r % 3 {
                0 => row.iter_mut().for_each(|v| *v = f32::NEG_INFINITY),
                1 => row.iter_mut().step_by(2).for_each(|v| *v = f32::NEG_INFINITY),
                _ => {}
            },
            Special::Nan => match r % 3 {
                0 => row.iter_mut().for_each(|v| *v = f32::NAN),
                1 => {
                    row[last / 2] = 1000.0;
                    row[last] = f32::NAN;
                    row[(last * 3) / 4] = f32::NAN;
                }
                _ => row[last / 3] = -f32::NAN,
            },
        }
    }
    Case {
        op: OpKind::Argmax,
        label: format!("x{shape:?} {special:?}").replace(" None", ""),
        inputs: vec![HostTensor::f32(shape, &x)],
        out_dtype: DType::I32,
        out_shape: vec![rows],
        tolerance: tolerance::EXACT,
        call: Box::new(move |t, out, run| run(&Op::Argmax(&ArgmaxArgs { x: t[0], out }))),
    }
}
