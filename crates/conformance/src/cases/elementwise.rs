//! Conformance cases for the element-wise ops: `add` and `mul` with every
//! broadcast pattern ggml's `can_repeat` allows (same shape, a row, a column,
//! a scalar, repeats in dims 2 and 3), `scale`, `silu_mul` and `gelu_mul`
//! (with extreme gates: exp overflow, tanh saturation, tiny values).
//! Sizes: 1, odd, not multiples of 256 (a flat kernel's block), up to a few
//! hundred thousand elements.

use rocmforge_backend_api::op::{BinaryArgs, GluArgs, ScaleArgs};
use rocmforge_backend_api::{DType, Op, OpKind};

use super::random;
use crate::{tolerance, Case, HostTensor};

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    // (a's shape, b's shape)
    let broadcasts: &[(&[usize], &[usize])] = &[
        (&[1], &[1]),
        (&[37, 5], &[37, 5]),
        (&[37, 5], &[37]),
        (&[37, 5], &[1, 5]),
        (&[37, 5], &[1]),
        (&[896, 7], &[896]),
        (&[16, 4, 3], &[16, 4, 1]),
        (&[16, 4, 6], &[16, 1, 3]),
        (&[6, 4, 3, 2], &[3, 2, 1, 2]),
        (&[5, 3, 2, 4], &[1, 3, 1, 4]),
        (&[4097, 65], &[4097, 65]),
    ];
    for (i, &(a, b)) in broadcasts.iter().enumerate() {
        for op in [OpKind::Add, OpKind::Mul] {
            v.push(binary(op, a, b, 500 + i as u64));
        }
    }
    for (i, shape) in [&[1usize][..], &[257, 33], &[5, 3, 7, 2], &[100_003]].into_iter().enumerate() {
        for s in [0.125f32, -3.5] {
            v.push(scale(shape, s, 600 + i as u64));
        }
    }
    for (i, shape) in [&[1usize][..], &[11, 3], &[2816, 5], &[64, 3, 2, 2]].into_iter().enumerate() {
        for op in [OpKind::SiluMul, OpKind::GeluMul] {
            v.push(glu(op, shape, 700 + i as u64));
        }
    }
    v
}

fn binary(op: OpKind, a: &[usize], b: &[usize], seed: u64) -> Case {
    let na: usize = a.iter().product();
    let nb: usize = b.iter().product();
    Case {
        op,
        label: format!("a{a:?} b{b:?}"),
        inputs: vec![HostTensor::f32(a, &random(na, seed, 2.0)), HostTensor::f32(b, &random(nb, seed + 1, 2.0))],
        out_dtype: DType::F32,
        out_shape: a.to_vec(),
        tolerance: tolerance::F32,
        call: Box::new(move |t, out, run| {
            let args = BinaryArgs { a: t[0], b: t[1], out };
            run(&if op == OpKind::Add { Op::Add(&args) } else { Op::Mul(&args) })
        }),
    }
}

fn scale(shape: &[usize], s: f32, seed: u64) -> Case {
    let n: usize = shape.iter().product();
    Case {
        op: OpKind::Scale,
        label: format!("x{shape:?} scale={s}"),
        inputs: vec![HostTensor::f32(shape, &random(n, seed, 3.0))],
        out_dtype: DType::F32,
        out_shape: shape.to_vec(),
        tolerance: tolerance::F32,
        call: Box::new(move |t, out, run| run(&Op::Scale(&ScaleArgs { x: t[0], out, scale: s, _reserved: 0 }))),
    }
}

fn glu(op: OpKind, shape: &[usize], seed: u64) -> Case {
    let n: usize = shape.iter().product();
    let mut gate = random(n, seed, 6.0);
    // Extremes where exp overflows, tanh saturates or values underflow.
    let extremes = [0.0f32, -0.0, 100.0, -100.0, 30.0, -30.0, 1e-30, -1e-30, 88.0, -88.0];
    for (g, &e) in gate.iter_mut().zip(extremes.iter()) {
        *g = e;
    }
    Case {
        op,
        label: format!("gate{shape:?} up{shape:?}"),
        inputs: vec![HostTensor::f32(shape, &gate), HostTensor::f32(shape, &random(n, seed + 1, 2.0))],
        out_dtype: DType::F32,
        out_shape: shape.to_vec(),
        tolerance: tolerance::F32,
        call: Box::new(move |t, out, run| {
            let args = GluArgs { gate: t[0], up: t[1], out };
            run(&if op == OpKind::SiluMul { Op::SiluMul(&args) } else { Op::GeluMul(&args) })
        }),
    }
}
