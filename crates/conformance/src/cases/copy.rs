//! Conformance cases for `copy`: every F32/F16/BF16 pair and I32, between
//! strided layouts, compared exactly (conversions are single
//! round-to-nearest-even steps, equal types move bits).
//!
//! Layouts: contiguous; a transposed source view; a destination that is a
//! permutation of its memory (dims reversed); gaps on both sides (every
//! other element); strides and offsets that are not multiples of the
//! element size; and a destination with a zero stride, where elements land
//! on the same bytes and the last one in ggml order wins.
//!
//! Values include round-to-nearest-even ties for f16 and bf16, f16 and f32
//! subnormals, signed zeros and values near f16's largest finite one, and a
//! sweep of values on, between and halfway between neighbouring f16 / bf16
//! values over their whole finite range. Where
//! a misaligned view reads bytes across element boundaries, the data is
//! made of "safe" bytes (`b & 0x7c != 0x7c`), so that every window of them
//! is a finite f16, bf16 or f32 and the NMSE stays defined.

use rocmforge_backend_api::op::CopyArgs;
use rocmforge_backend_api::{DType, Op, OpKind, TensorDesc};

use super::random;
use crate::{tolerance, Case, HostTensor};

const FLOATS: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (i, st) in FLOATS.into_iter().enumerate() {
        for (j, dt) in FLOATS.into_iter().enumerate() {
            let seed = 1100 + 10 * i as u64 + j as u64;
            v.push(contiguous(st, dt, &[37, 5], seed));
            v.push(transposed_src(st, dt, seed));
            v.push(permuted_dst(st, dt, seed));
            v.push(gaps(st, dt, seed));
        }
    }
    v.push(contiguous(DType::I32, DType::I32, &[37, 5], 1200));
    v.push(contiguous(DType::F32, DType::F16, &[100_003], 1201));
    v.push(transposed_src(DType::I32, DType::I32, 1202));
    v.push(permuted_dst(DType::I32, DType::I32, 1203));
    v.push(gaps(DType::I32, DType::I32, 1204));
    v.push(rounding_sweep(DType::F16));
    v.push(rounding_sweep(DType::BF16));
    v.push(zero_stride_dst(DType::F32, DType::F16, 1205));
    v.push(zero_stride_dst(DType::I32, DType::I32, 1206));
    v.extend(misaligned());
    v
}

fn size(t: DType) -> i64 {
    t.block_bytes() as i64
}

/// Values for a source of type `st`: random in ±60000 (below f16's 65504
/// even after rounding to bf16) with special values up front.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut v = random(n, seed, 60000.0);
    let specials = [
        0.0f32,
        -0.0,
        1.0 + 1.0 / 2048.0,   // f16 tie: rounds to even (1.0)
        1.0 + 3.0 / 2048.0,   // f16 tie: rounds up to even
        1.0 + 1.0 / 256.0,    // bf16 tie: rounds to even (1.0)
        -(1.0 + 3.0 / 256.0), // bf16 tie: rounds up to even
        3.0e-8,               // below half the smallest f16 subnormal
        1.0e-5,               // f16 subnormal
        -6.1e-5,              // near f16's smallest normal
        1.0e-40,              // f32 subnormal
        65504.0,              // f16's largest finite
        -65500.0,             // rounds to f16's largest finite
        0.1,
        -1.0 / 3.0,
        1.0e30, // f32 and bf16 only: see `source`
    ];
    for (x, &s) in v.iter_mut().zip(specials.iter()) {
        *x = s;
    }
    v
}

/// `vals` as a host tensor of type `t` (I32: the values truncated).
fn host(t: DType, shape: &[usize], vals: &[f32]) -> HostTensor {
    match t {
        DType::I32 => HostTensor::i32(shape, &vals.iter().map(|&x| x as i32).collect::<Vec<_>>()),
        _ => HostTensor::quantized(t, shape, vals),
    }
}

/// Source values that stay finite through `st` and `dt`: 1e30 fits only
/// f32 and bf16, and bf16 rounds f16's largest values up past 65504.
fn source(st: DType, dt: DType, shape: &[usize], seed: u64) -> HostTensor {
    let n: usize = shape.iter().product();
    let mut v = values(n, seed);
    let limit = match (st, dt) {
        (DType::BF16, DType::F16) => 65000.0,
        (DType::F16, _) | (_, DType::F16) => 65504.0,
        _ => f32::INFINITY,
    };
    v.iter_mut().filter(|x| x.abs() > limit).for_each(|x| *x = 1.5);
    host(st, shape, &v)
}

fn view(t: &TensorDesc, extra_offset: u64, ne: [i64; 4], nb: [i64; 4]) -> TensorDesc {
    TensorDesc { offset: t.offset + extra_offset, ne, nb, ..*t }
}

fn case(label: String, inputs: Vec<HostTensor>, dt: DType, out_shape: Vec<usize>, call: CallFn) -> Case {
    Case { op: OpKind::Copy, label, inputs, out_dtype: dt, out_shape, tolerance: tolerance::EXACT, call }
}

type CallFn =
    Box<dyn Fn(&[TensorDesc], TensorDesc, crate::Runner<'_>) -> rocmforge_backend_api::Result<()> + Send + Sync>;

fn contiguous(st: DType, dt: DType, shape: &[usize], seed: u64) -> Case {
    case(
        format!("{st}->{dt} {shape:?} contiguous"),
        vec![source(st, dt, shape, seed)],
        dt,
        shape.to_vec(),
        Box::new(move |t, out, run| run(&Op::Copy(&CopyArgs { src: t[0], dst: out }))),
    )
}

/// Source `[5, 37, 3]` read as its transpose `[37, 5, 3]`.
fn transposed_src(st: DType, dt: DType, seed: u64) -> Case {
    let (a, b, c) = (5i64, 37i64, 3i64);
    let es = size(st);
    case(
        format!("{st}->{dt} [37, 5, 3] transposed src"),
        vec![source(st, dt, &[a as usize, b as usize, c as usize], seed)],
        dt,
        vec![b as usize, a as usize, c as usize],
        Box::new(move |t, out, run| {
            let src = view(&t[0], 0, [b, a, c, 1], [es * a, es, es * a * b, es * a * b * c]);
            run(&Op::Copy(&CopyArgs { src, dst: out }))
        }),
    )
}

/// Contiguous `[6, 4, 3, 2]` into a destination laid out as `[2, 3, 4, 6]`
/// (dims reversed in memory).
fn permuted_dst(st: DType, dt: DType, seed: u64) -> Case {
    let ne = [6i64, 4, 3, 2];
    let ds = size(dt);
    case(
        format!("{st}->{dt} [6, 4, 3, 2] permuted dst"),
        vec![source(st, dt, &[6, 4, 3, 2], seed)],
        dt,
        vec![6, 4, 3, 2],
        Box::new(move |t, out, run| {
            let nb = [ds * ne[3] * ne[2] * ne[1], ds * ne[3] * ne[2], ds * ne[3], ds];
            let dst = view(&out, 0, ne, nb);
            run(&Op::Copy(&CopyArgs { src: t[0], dst }))
        }),
    )
}

/// Every other element of `[18, 7]` on both sides, as `[9, 7]` views; the
/// destination's gaps keep the harness's sentinel bytes on both backends.
fn gaps(st: DType, dt: DType, seed: u64) -> Case {
    let (es, ds) = (size(st), size(dt));
    case(
        format!("{st}->{dt} [9, 7] every other element"),
        vec![source(st, dt, &[18, 7], seed)],
        dt,
        vec![18, 7],
        Box::new(move |t, out, run| {
            let src = view(&t[0], 0, [9, 7, 1, 1], [2 * es, 18 * es, 126 * es, 126 * es]);
            let dst = view(&out, 0, [9, 7, 1, 1], [2 * ds, 18 * ds, 126 * ds, 126 * ds]);
            run(&Op::Copy(&CopyArgs { src, dst }))
        }),
    )
}

/// F32 values on and between neighbouring values of `dt` (f16 or bf16):
/// `h + k/4 · (next - h)` for k = 0..3, both signs, over a stride of `dt`'s
/// finite bit patterns from zero and subnormals to the largest: exact
/// values, below, on (ties to even) and above the halfway point.
fn rounding_sweep(dt: DType) -> Case {
    let (last, step) = if dt == DType::F16 { (0x7bffu16, 3) } else { (0x7f7fu16, 37) };
    let value = |b: u16| match dt {
        DType::F16 => half::f16::from_bits(b).to_f64(),
        _ => half::bf16::from_bits(b).to_f64(),
    };
    let mut vals = Vec::new();
    for b in (0..last).step_by(step) {
        let (h, next) = (value(b), value(b + 1));
        for k in 0..4 {
            let x = (h + (next - h) * k as f64 / 4.0) as f32;
            vals.extend([x, -x]);
        }
    }
    let n = vals.len();
    case(
        format!("f32->{dt} [{n}] rounding sweep"),
        vec![HostTensor::f32(&[n], &vals)],
        dt,
        vec![n],
        Box::new(move |t, out, run| run(&Op::Copy(&CopyArgs { src: t[0], dst: out }))),
    )
}

/// `[11, 4]` into a destination whose dim 1 has stride 0: all four rows land
/// on the same 11 elements and the last row wins (ggml order).
fn zero_stride_dst(st: DType, dt: DType, seed: u64) -> Case {
    let ds = size(dt);
    case(
        format!("{st}->{dt} [11, 4] dst stride 0 (last wins)"),
        vec![source(st, dt, &[11, 4], seed)],
        dt,
        vec![11],
        Box::new(move |t, out, run| {
            let dst = view(&out, 0, [11, 4, 1, 1], [ds, 0, 0, 0]);
            run(&Op::Copy(&CopyArgs { src: t[0], dst }))
        }),
    )
}

/// Random 16-bit patterns made of safe bytes: every 2- or 4-byte window of
/// them is a finite f16, bf16 and f32.
fn safe_bits(n: usize, seed: u64) -> Vec<u16> {
    let safe = |x: f32| {
        let b = ((x + 1.0) * 127.99) as u8;
        if b & 0x7c == 0x7c {
            b & !0x40
        } else {
            b
        }
    };
    let r = random(2 * n, seed, 1.0);
    r.chunks_exact(2).map(|p| u16::from_le_bytes([safe(p[0]), safe(p[1])])).collect()
}

fn raw(dtype: DType, shape: &[usize], bytes: Vec<u8>) -> HostTensor {
    HostTensor { dtype, shape: shape.to_vec(), bytes }
}

fn misaligned() -> Vec<Case> {
    let n = 37usize;
    let ni = n as i64;
    let mut v = Vec::new();

    // f16 read at odd addresses, into contiguous f32.
    let bits = safe_bits(n + 1, 1300);
    v.push(case(
        format!("f16->f32 [{n}] src at byte offset 1"),
        vec![raw(DType::F16, &[n + 1], bits.iter().flat_map(|b| b.to_le_bytes()).collect())],
        DType::F32,
        vec![n],
        Box::new(move |t, out, run| {
            let src = view(&t[0], 1, [ni, 1, 1, 1], [2, 2 * ni, 2 * ni, 2 * ni]);
            run(&Op::Copy(&CopyArgs { src, dst: out }))
        }),
    ));

    // f32 values exactly representable with safe bytes in the destination
    // type, written at odd addresses (the read-back windows stay finite).
    for (dt, seed) in [(DType::F16, 1301u64), (DType::BF16, 1302)] {
        let bits = safe_bits(n, seed);
        let vals: Vec<f32> = bits
            .iter()
            .map(|&b| match dt {
                DType::F16 => half::f16::from_bits(b).to_f32(),
                _ => half::bf16::from_bits(b).to_f32(),
            })
            .collect();
        v.push(case(
            format!("f32->{dt} [{n}] dst at byte offset 1"),
            vec![HostTensor::f32(&[n], &vals)],
            dt,
            vec![n + 1],
            Box::new(move |t, out, run| {
                let dst = view(&out, 1, [ni, 1, 1, 1], [2, 2 * ni, 2 * ni, 2 * ni]);
                run(&Op::Copy(&CopyArgs { src: t[0], dst }))
            }),
        ));
    }

    // f32 with a 6-byte stride (each element straddles two), raw copy.
    let bits = safe_bits(2 * (6 * n / 4 + 2), 1303);
    let bytes: Vec<u8> = bits.iter().flat_map(|b| b.to_le_bytes()).collect();
    let len = bytes.len() / 4;
    v.push(case(
        format!("f32->f32 [{n}] src stride 6 bytes"),
        vec![raw(DType::F32, &[len], bytes)],
        DType::F32,
        vec![n],
        Box::new(move |t, out, run| {
            let src = view(&t[0], 0, [ni, 1, 1, 1], [6, 6 * ni, 6 * ni, 6 * ni]);
            run(&Op::Copy(&CopyArgs { src, dst: out }))
        }),
    ));

    // i32 misaligned on both sides, transposed source.
    let ints: Vec<i32> = random(n * 3 + 1, 1304, 1.0e6).into_iter().map(|x| x as i32).collect();
    v.push(case(
        format!("i32->i32 [{n}, 3] src offset 2 transposed, dst offset 1"),
        vec![HostTensor::i32(&[n * 3 + 1], &ints)],
        DType::I32,
        vec![n * 3 + 1],
        Box::new(move |t, out, run| {
            let src = view(&t[0], 2, [ni, 3, 1, 1], [12, 4, 12 * ni, 12 * ni]);
            let dst = view(&out, 1, [ni, 3, 1, 1], [4, 4 * ni, 12 * ni, 12 * ni]);
            run(&Op::Copy(&CopyArgs { src, dst }))
        }),
    ));
    v
}
