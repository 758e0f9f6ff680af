//! Running one case on one backend, and comparing two backends.

use std::sync::Arc;

use rocmforge_backend_api::{Backend, BackendError, DType, DeviceBuffer, Op, OpKind, Result, TensorDesc};

use crate::nmse;

/// An input tensor in host memory (contiguous, ggml layout).
#[derive(Clone, Debug)]
pub struct HostTensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

impl HostTensor {
    pub fn f32(shape: &[usize], v: &[f32]) -> HostTensor {
        HostTensor { dtype: DType::F32, shape: shape.to_vec(), bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect() }
    }

    pub fn i32(shape: &[usize], v: &[i32]) -> HostTensor {
        HostTensor { dtype: DType::I32, shape: shape.to_vec(), bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect() }
    }

    /// `v` stored as `dtype` (quantized with the oracle's reference quantizer).
    pub fn quantized(dtype: DType, shape: &[usize], v: &[f32]) -> HostTensor {
        let rows: usize = shape[1..].iter().product();
        let row_bytes = dtype.row_bytes(shape[0] as u64).expect("whole blocks") as usize;
        let mut bytes = vec![0u8; row_bytes * rows];
        rocmforge_backend_cpu::quant::quantize_row(dtype, v, &mut bytes).expect("quantizable");
        HostTensor { dtype, shape: shape.to_vec(), bytes }
    }
}

/// How a case calls its op: given the input descriptors and the output
/// descriptor on some backend, build the argument struct and hand the op to
/// the runner.
pub type Runner<'a> = &'a dyn Fn(&Op<'_>) -> Result<()>;

/// One op with concrete inputs.
pub struct Case {
    pub op: OpKind,
    /// Types and shapes, for the report (`q4_K w[512,7] x[512,5]`).
    pub label: String,
    pub inputs: Vec<HostTensor>,
    pub out_dtype: DType,
    pub out_shape: Vec<usize>,
    /// Largest NMSE that passes (see [`crate::tolerance`]).
    pub tolerance: f64,
    #[allow(clippy::type_complexity)]
    pub call: Box<dyn Fn(&[TensorDesc], TensorDesc, Runner<'_>) -> Result<()> + Send + Sync>,
}

/// Bytes of sentinel before and after the output.
const GUARD: usize = 256;
const SENTINEL: u8 = 0xA5;

/// The result of one case on a backend.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Pass {
        nmse: f64,
    },
    Fail {
        nmse: f64,
        reason: String,
    },
    /// `supports_op` said no.
    Unsupported,
}

fn align(n: usize) -> usize {
    n.div_ceil(256) * 256
}

/// Run `case` on `b`; returns the output as f32, or `Ok(None)` when the
/// backend does not support the op. Fails if a sentinel byte changed.
pub fn run_case(b: &Arc<dyn Backend>, case: &Case) -> Result<Option<Vec<f32>>> {
    // Layout: [guard][inputs...][guard][out][guard], each part 256-aligned.
    let mut off = GUARD;
    let mut offsets = Vec::new();
    for t in &case.inputs {
        offsets.push(off);
        off = align(off + t.bytes.len());
    }
    off += GUARD;
    let out_off = off;
    let out_rows: usize = case.out_shape[1..].iter().product();
    let out_bytes = case.out_dtype.row_bytes(case.out_shape[0] as u64).unwrap_or(0) as usize * out_rows;
    let total = align(out_off + out_bytes) + GUARD;
    let buf = DeviceBuffer::alloc(b, total as u64)?;
    buf.upload(0, &vec![SENTINEL; total])?;
    let descs: Vec<TensorDesc> = case
        .inputs
        .iter()
        .zip(&offsets)
        .map(|(t, &o)| {
            buf.upload(o as u64, &t.bytes)?;
            Ok(buf.tensor(o as u64, t.dtype, &t.shape))
        })
        .collect::<Result<_>>()?;
    let out = buf.tensor(out_off as u64, case.out_dtype, &case.out_shape);
    let supported = std::cell::Cell::new(true);
    (case.call)(&descs, out, &|op| {
        if !b.supports_op(op) {
            supported.set(false);
            return Ok(());
        }
        b.run(op)
    })?;
    if !supported.get() {
        return Ok(None);
    }
    let mut all = vec![0u8; total];
    buf.download(0, &mut all)?;
    // Everything but the inputs and the output must still be sentinel.
    let mut owned = vec![false; total];
    for (t, &o) in case.inputs.iter().zip(&offsets) {
        owned[o..o + t.bytes.len()].iter_mut().for_each(|x| *x = true);
    }
    owned[out_off..out_off + out_bytes].iter_mut().for_each(|x| *x = true);
    if let Some(i) = (0..total).find(|&i| !owned[i] && all[i] != SENTINEL) {
        let rel = i as i64 - out_off as i64;
        return Err(BackendError::Internal(format!(
            "{}: byte {rel} relative to the output (size {out_bytes}) was overwritten",
            case.op.name()
        )));
    }
    let out_bytes = &all[out_off..out_off + out_bytes];
    let mut v = vec![0f32; case.out_shape.iter().product()];
    match case.out_dtype {
        DType::I32 => {
            for (x, c) in v.iter_mut().zip(out_bytes.chunks_exact(4)) {
                *x = i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32;
            }
        }
        dt => rocmforge_backend_cpu::quant::dequantize_row(dt, out_bytes, &mut v)
            .map_err(|e| BackendError::Internal(e.to_string()))?,
    }
    Ok(Some(v))
}

/// Run `case` on `dev` and on the `oracle` and compare.
pub fn check(dev: &Arc<dyn Backend>, oracle: &Arc<dyn Backend>, case: &Case) -> Outcome {
    let want = match run_case(oracle, case) {
        Ok(Some(v)) => v,
        Ok(None) => return Outcome::Fail { nmse: f64::NAN, reason: "the oracle does not support this case".into() },
        Err(e) => return Outcome::Fail { nmse: f64::NAN, reason: format!("oracle: {e}") },
    };
    let got = match run_case(dev, case) {
        Ok(Some(v)) => v,
        Ok(None) => return Outcome::Unsupported,
        Err(e) => return Outcome::Fail { nmse: f64::NAN, reason: e.to_string() },
    };
    let e = nmse(&got, &want);
    if e <= case.tolerance {
        return Outcome::Pass { nmse: e };
    }
    // Name the worst element to make a failure actionable.
    let (i, d) = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).enumerate().fold((0, 0.0f32), |(bi, bd), (i, d)| {
        if d > bd || d.is_nan() {
            (i, d)
        } else {
            (bi, bd)
        }
    });
    Outcome::Fail { nmse: e, reason: format!("worst element {i}: got {} want {} (|diff| {d})", got[i], want[i]) }
}
