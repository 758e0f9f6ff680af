//! Conformance cases for the norm op family: `rms_norm` and `layer_norm`.
//!
//! Row lengths around the block sizes a GPU picks (one warp of 32 or 64,
//! blocks up to 1024 threads): 1, odd lengths, exact multiples, just past a
//! multiple, longer than one block; batch 1 and many rows (3-D and 4-D);
//! with and without weight (and bias); two eps values; rows with a large
//! mean (layer_norm's centring) and tiny values (where eps matters).

use rocmforge_backend_api::op::NormArgs;
use rocmforge_backend_api::{DType, Op, OpKind, TensorDesc};

use super::random;
use crate::{tolerance, Case, HostTensor};

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    // (shape, value scale, value offset)
    let shapes: &[(&[usize], f32, f32)] = &[
        (&[1, 1], 1.0, 0.0),
        (&[7, 3], 1.0, 0.0),
        (&[64, 1], 2.0, 0.0),
        (&[65, 5], 1.0, 0.5),
        (&[576, 7], 1.0, 0.0),
        (&[896, 2, 3], 3.0, -1.0),
        (&[1000, 4], 1.0, 0.0),
        (&[1025, 3], 1.0, 0.0),
        (&[4096, 2], 1.0, 0.0),
        (&[4099, 1], 1.0, 2.0),
        (&[33, 3, 2, 2], 1.0, 0.0),
        // Values far below sqrt(eps): eps dominates the scale.
        (&[128, 3], 1e-4, 0.0),
    ];
    for (i, &(shape, scale, offset)) in shapes.iter().enumerate() {
        let seed = 100 + i as u64;
        for (with_weight, eps) in [(true, 1e-5f32), (false, 1e-6f32)] {
            v.push(rms_norm(shape, seed, scale, with_weight, eps));
        }
        for (with_weight, with_bias) in [(true, true), (true, false), (false, false)] {
            // layer_norm gets rows with a mean far from 0 too.
            v.push(layer_norm(shape, seed, scale, offset + 5.0 * scale, with_weight, with_bias, 1e-5));
        }
    }
    v
}

fn values(shape: &[usize], seed: u64, scale: f32, offset: f32) -> Vec<f32> {
    let n: usize = shape.iter().product();
    random(n, seed, scale).into_iter().map(|x| x + offset).collect()
}

fn label(shape: &[usize], weight: bool, bias: bool, eps: f32) -> String {
    let mut s = format!("x{shape:?}");
    if weight {
        s += " w";
    }
    if bias {
        s += " b";
    }
    s + &format!(" eps={eps:e}")
}

fn rms_norm(shape: &[usize], seed: u64, scale: f32, with_weight: bool, eps: f32) -> Case {
    let n = shape[0];
    let mut inputs = vec![HostTensor::f32(shape, &values(shape, seed, scale, 0.0))];
    if with_weight {
        inputs.push(HostTensor::f32(&[n], &random(n, seed + 1000, 1.5)));
    }
    Case {
        op: OpKind::RmsNorm,
        label: label(shape, with_weight, false, eps),
        inputs,
        out_dtype: DType::F32,
        out_shape: shape.to_vec(),
        tolerance: tolerance::F32,
        call: Box::new(move |t, out, run| {
            let weight = if with_weight { t[1] } else { TensorDesc::NONE };
            run(&Op::RmsNorm(&NormArgs { x: t[0], weight, bias: TensorDesc::NONE, out, eps, _reserved: 0 }))
        }),
    }
}

fn layer_norm(
    shape: &[usize],
    seed: u64,
    scale: f32,
    offset: f32,
    with_weight: bool,
    with_bias: bool,
    eps: f32,
) -> Case {
    let n = shape[0];
    let mut inputs = vec![HostTensor::f32(shape, &values(shape, seed, scale, offset))];
    if with_weight {
        inputs.push(HostTensor::f32(&[n], &random(n, seed + 1000, 1.5)));
    }
    if with_bias {
        inputs.push(HostTensor::f32(&[n], &random(n, seed + 2000, 0.5)));
    }
    Case {
        op: OpKind::LayerNorm,
        label: label(shape, with_weight, with_bias, eps),
        inputs,
        out_dtype: DType::F32,
        out_shape: shape.to_vec(),
        tolerance: tolerance::F32,
        call: Box::new(move |t, out, run| {
            let weight = if with_weight { t[1] } else { TensorDesc::NONE };
            let bias = if with_bias { t[2] } else { TensorDesc::NONE };
            run(&Op::LayerNorm(&NormArgs { x: t[0], weight, bias, out, eps, _reserved: 0 }))
        }),
    }
}
