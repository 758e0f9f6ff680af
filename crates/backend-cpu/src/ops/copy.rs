//! `copy`: element-wise copy between any two layouts of the same shape, with
//! conversion among F32, F16 and BF16 (or I32 to I32).
//!
//! Both sides are walked by their own `ne`/`nb`, so either may be a strided
//! view (a transpose, a slice). Narrowing rounds to nearest even (`half`, as
//! ggml's `GGML_FP32_TO_FP16` and `ggml_compute_fp32_to_bf16`); copies
//! between equal types move the bytes unchanged. The copy is sequential: a
//! destination view may legally hit the same bytes twice (a zero stride), and
//! then the last element in ggml order wins.

use half::{bf16, f16};
use rocmforge_backend_api::op::CopyArgs;
use rocmforge_backend_api::{DType, Result};

use super::{dim, input, invalid, output};
use crate::storage::Storage;

pub(crate) fn copy(s: &Storage, a: &CopyArgs) -> Result<()> {
    let src = input(s, &a.src)?;
    let dst = output(s, &a.dst)?;
    let (st, dt) = (src.dtype(), dst.desc.dtype().ok_or_else(|| invalid("copy", "dst has an unknown type"))?);
    if a.src.elements().unwrap_or(0) == 0 {
        return Ok(());
    }
    let (ssize, dsize) = (st.block_bytes(), dt.block_bytes());
    let read: fn(&[u8]) -> f32 = match st {
        DType::F32 => |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        DType::F16 => |b| f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32(),
        DType::BF16 => |b| bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32(),
        _ => |_| f32::NAN, // only reached for equal types, copied raw below
    };
    let write: fn(f32, &mut [u8]) = match dt {
        DType::F32 => |v, b| b.copy_from_slice(&v.to_le_bytes()),
        DType::F16 => |v, b| b.copy_from_slice(&f16::from_f32(v).to_bits().to_le_bytes()),
        DType::BF16 => |v, b| b.copy_from_slice(&bf16::from_f32(v).to_bits().to_le_bytes()),
        _ => |_, _| {},
    };
    let float = |t: DType| matches!(t, DType::F32 | DType::F16 | DType::BF16);
    let raw = st == dt;
    let convertible = raw || (float(st) && float(dt));
    if !convertible {
        return Err(invalid("copy", format!("cannot convert {st} to {dt}")));
    }
    let ne = a.src.ne.map(dim);
    let (snb, dnb) = (a.src.nb.map(dim), dst.desc.nb.map(dim));
    for i3 in 0..ne[3] {
        for i2 in 0..ne[2] {
            for i1 in 0..ne[1] {
                let srow = i1 * snb[1] + i2 * snb[2] + i3 * snb[3];
                let drow = i1 * dnb[1] + i2 * dnb[2] + i3 * dnb[3];
                for i0 in 0..ne[0] {
                    let (so, dof) = (srow + i0 * snb[0], drow + i0 * dnb[0]);
                    // In range by construction (the tensors' byte ranges are
                    // their furthest elements), checked anyway.
                    let (Some(sb), Some(db)) = (src.bytes.get(so..so + ssize), dst.bytes.get_mut(dof..dof + dsize))
                    else {
                        return Err(invalid("copy", format!("element ({i0}, {i1}, {i2}, {i3}) lies outside a tensor")));
                    };
                    if raw {
                        db.copy_from_slice(sb);
                    } else {
                        write(read(sb), db);
                    }
                }
            }
        }
    }
    Ok(())
}
