//! The quantization formats of the CPU oracle against an independent
//! implementation (gguf-py's numpy code, run once by
//! `scripts/make_quant_fixtures.py`; see `tests/fixtures/quant/README.md`),
//! plus quantize/dequantize round trips with error bounds.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rocmforge_backend_api::DType;
use rocmforge_backend_cpu::quant::{dequantize_row, quantize_row, QuantError};

/// One fixture file, as `make_quant_fixtures.py` documents it.
struct Fixture {
    name: &'static str,
    dtype: DType,
    /// Random blocks (f16 scale fields made finite) ...
    blocks: Vec<u8>,
    /// ... and gguf-py's dequantization of them.
    values: Vec<f32>,
    /// An f32 row (empty where gguf-py has no reference quantizer) ...
    input: Vec<f32>,
    /// ... and gguf-py's quantization of it.
    quantized: Vec<u8>,
}

macro_rules! fixture {
    ($name:literal) => {
        ($name, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/quant/", $name, ".bin")) as &[u8])
    };
}

const FIXTURES: [(&str, &[u8]); 12] = [
    fixture!("q4_0"),
    fixture!("q4_1"),
    fixture!("q5_0"),
    fixture!("q5_1"),
    fixture!("q8_0"),
    fixture!("q2_K"),
    fixture!("q3_K"),
    fixture!("q4_K"),
    fixture!("q5_K"),
    fixture!("q6_K"),
    fixture!("f16"),
    fixture!("bf16"),
];

fn parse(name: &'static str, bytes: &[u8]) -> Fixture {
    let mut at = 0usize;
    let mut take = |n: usize| {
        let s = bytes.get(at..at + n).unwrap_or_else(|| panic!("{name}: fixture truncated at {at}"));
        at += n;
        s
    };
    let u32_at = |s: &[u8]| u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    assert_eq!(take(4), b"RFQF", "{name}: bad magic");
    assert_eq!(u32_at(take(4)), 1, "{name}: fixture format version");
    let dtype = DType::from_ggml(u32_at(take(4))).expect("known ggml type");
    assert_eq!(dtype.name(), name, "fixture file name vs type");
    let n_deq = u32_at(take(4)) as u64;
    let n_quant = u32_at(take(4)) as u64;
    let bytes_of = |n: u64| dtype.row_bytes(n).expect("whole blocks") as usize;
    let f32s =
        |s: &[u8]| -> Vec<f32> { s.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect() };
    let blocks = take(bytes_of(n_deq)).to_vec();
    let values = f32s(take(4 * n_deq as usize));
    let input = f32s(take(4 * n_quant as usize));
    let quantized = take(bytes_of(n_quant)).to_vec();
    assert_eq!(at, bytes.len(), "{name}: trailing bytes");
    Fixture { name, dtype, blocks, values, input, quantized }
}

fn fixtures() -> Vec<Fixture> {
    FIXTURES.iter().map(|&(name, bytes)| parse(name, bytes)).collect()
}

/// Every type the oracle supports has a fixture.
#[test]
fn every_type_has_a_fixture() {
    let have: Vec<DType> = fixtures().iter().map(|f| f.dtype).collect();
    for t in DType::WEIGHTS {
        assert!(t == DType::F32 || have.contains(&t), "{t} has no fixture");
    }
}

/// Dequantization equals gguf-py's, bit for bit. The only values compared by
/// class rather than by bits are NaNs, which only the F16/BF16 fixtures hold
/// (random 16-bit patterns): widening keeps them NaN, and numpy and `half`
/// agree on payload and quiet bit, but that is not a property of the formats.
/// There are no -0.0/+0.0 exceptions: both implementations perform the same
/// f32 operations, so zeros carry the same sign.
#[test]
fn dequantize_matches_gguf_py_bit_for_bit() {
    for f in fixtures() {
        let mut out = vec![0.0f32; f.values.len()];
        dequantize_row(f.dtype, &f.blocks, &mut out).unwrap();
        let mut mismatches = Vec::new();
        for (i, (&ours, &theirs)) in out.iter().zip(&f.values).enumerate() {
            let same = ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan());
            if !same {
                mismatches.push(format!(
                    "  [{i}] (block {}) ours {ours:e} ({:#010x}), gguf-py {theirs:e} ({:#010x})",
                    i / f.dtype.block_len(),
                    ours.to_bits(),
                    theirs.to_bits()
                ));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{}: {} of {} values differ:\n{}",
            f.name,
            mismatches.len(),
            out.len(),
            mismatches[..mismatches.len().min(8)].join("\n")
        );
    }
}

/// For the legacy types, F16 and BF16, our quantizer writes gguf-py's bytes.
/// gguf-py's legacy quantizers are ggml's reference algorithms
/// (`quantize_row_*_ref`): the same scale choice, the same f32 reciprocal, the
/// same truncation of `v + 0.5` (Q4/Q5) and round-half-away (Q8_0). The
/// inputs include zero, constant, tiny (f16-subnormal scale) and large
/// blocks, equal-magnitude extremes, and exact rounding ties.
#[test]
fn quantize_matches_gguf_py_bytes() {
    let mut checked = Vec::new();
    for f in fixtures() {
        if f.input.is_empty() {
            continue;
        }
        let mut out = vec![0u8; f.quantized.len()];
        quantize_row(f.dtype, &f.input, &mut out).unwrap();
        let bb = f.dtype.block_bytes();
        for (b, (ours, theirs)) in out.chunks(bb).zip(f.quantized.chunks(bb)).enumerate() {
            assert_eq!(ours, theirs, "{}: block {b} differs", f.name);
        }
        checked.push(f.dtype);
    }
    for t in [DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::F16, DType::BF16] {
        assert!(checked.contains(&t), "{t}: no quantization fixture");
    }
}

/// Normalised error of a round trip: sum (x - y)^2 / sum x^2.
fn nmse(x: &[f32], y: &[f32]) -> f64 {
    let err: f64 = x.iter().zip(y).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum();
    let pow: f64 = x.iter().map(|&a| f64::from(a).powi(2)).sum();
    err / pow
}

/// The bound on the round-trip NMSE of a uniform random row.
///
/// A quantizer with `L` evenly spaced levels spanning a range `R` has step
/// `R / (L - 1)`; uniform data rounds with error uniform in half a step either
/// way, mean square `step^2 / 12`. Data uniform over that range (zero mean)
/// has power `R^2 / 12`, so NMSE = `1 / (L - 1)^2`. Each block's range is its
/// own extremes, so this is about right for every type: the min/max types
/// (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K) use `L = 2^bits` levels across the block; the
/// symmetric ones (Q4_0, Q5_0, Q8_0, Q3_K, Q6_K) have `2^bits` levels of
/// step `amax / 2^(bits-1)`, NMSE `4^-bits`, smaller still, but clip one
/// side at `(2^(bits-1) - 1)` steps. The K-quants also round their
/// sub-block scales (to 4, 6 or 8 bits) and the super-block scale to f16, and
/// Q3_K's sub-blocks whose extreme has the other sign than the super-block's
/// clip their extreme by a step. A factor of 2 over `1 / (L - 1)^2` covers
/// all of that with margin; the measured values sit at 0.65-1.0x the ideal
/// (run with `--nocapture` to see them).
fn nmse_bound(t: DType) -> f64 {
    let bits = match t {
        DType::Q2K => 2,
        DType::Q3K => 3,
        DType::Q4_0 | DType::Q4_1 | DType::Q4K => 4,
        DType::Q5_0 | DType::Q5_1 | DType::Q5K => 5,
        DType::Q6K => 6,
        DType::Q8_0 => 8,
        // Relative rounding error at most 2^-11 (f16, 11-bit significand) or
        // 2^-8 (bf16, 8 bits) per element, so NMSE at most its square.
        // (Our rows stay in f16's normal range, where this holds.)
        DType::F16 => return 2f64.powi(-22),
        DType::BF16 => return 2f64.powi(-16),
        DType::F32 => return 0.0,
        DType::I32 => unreachable!(),
    };
    let levels = f64::from(1u32 << bits);
    2.0 / (levels - 1.0).powi(2)
}

#[test]
fn round_trip_error_is_within_bit_width_bounds() {
    let mut rng = StdRng::seed_from_u64(0x5EED_0001);
    let n = 256 * 3;
    let mut report = Vec::new();
    for t in DType::WEIGHTS {
        // Uniform rows at three magnitudes: the scales must not underflow or
        // lose precision for small weights, nor overflow f16 for large ones.
        for scale in [1.0f32, 1e-2, 1e2] {
            let x: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0f32..1.0) * scale).collect();
            let mut q = vec![0u8; t.row_bytes(n as u64).unwrap() as usize];
            quantize_row(t, &x, &mut q).unwrap();
            let mut y = vec![0.0f32; n];
            dequantize_row(t, &q, &mut y).unwrap();
            let e = nmse(&x, &y);
            let bound = nmse_bound(t);
            report.push(format!("{t} x{scale}: nmse {e:.3e} (bound {bound:.3e})"));
            assert!(e <= bound, "{t} (scale {scale}): round-trip NMSE {e:e} exceeds {bound:e}");
        }
    }
    println!("{}", report.join("\n"));
}

/// Zero rows quantize to blocks that decode to exact zeros.
#[test]
fn zero_rows_round_trip_exactly() {
    let n = 256;
    for t in DType::WEIGHTS {
        let x = vec![0.0f32; n];
        let mut q = vec![0xAAu8; t.row_bytes(n as u64).unwrap() as usize];
        quantize_row(t, &x, &mut q).unwrap();
        let mut y = vec![1.0f32; n];
        dequantize_row(t, &q, &mut y).unwrap();
        assert!(y.iter().all(|&v| v == 0.0), "{t}: {y:?}");
    }
}

#[test]
fn wrong_lengths_are_errors_and_write_nothing() {
    for t in DType::WEIGHTS {
        let bl = t.block_len();
        let bb = t.block_bytes();

        // A byte buffer one byte short, and one byte long.
        for bytes in [2 * bb - 1, 2 * bb + 1] {
            let mut y = vec![7.0f32; 2 * bl];
            let err = dequantize_row(t, &vec![0u8; bytes], &mut y).unwrap_err();
            assert_eq!(err, QuantError::ByteLength { dtype: t, n: 2 * bl, expected: 2 * bb, actual: bytes });
            assert!(y.iter().all(|&v| v == 7.0), "{t}: dst written on error");
            let shown: &dyn std::error::Error = &err;
            assert!(shown.to_string().contains(t.name()), "{shown}");

            let mut q = vec![0x55u8; bytes];
            let err = quantize_row(t, &vec![1.0f32; 2 * bl], &mut q).unwrap_err();
            assert!(matches!(err, QuantError::ByteLength { .. }), "{t}: {err}");
            assert!(q.iter().all(|&b| b == 0x55), "{t}: dst written on error");
        }

        // An element count that is not whole blocks.
        if bl > 1 {
            let mut y = vec![0.0f32; bl + 1];
            let err = dequantize_row(t, &vec![0u8; 2 * bb], &mut y).unwrap_err();
            assert_eq!(err, QuantError::PartialBlock { dtype: t, n: bl + 1 });
            let err = quantize_row(t, &vec![0.0f32; bl - 1], &mut vec![0u8; bb]).unwrap_err();
            assert_eq!(err, QuantError::PartialBlock { dtype: t, n: bl - 1 });
        }
    }

    // I32 holds no real numbers.
    let err = dequantize_row(DType::I32, &[0u8; 4], &mut [0.0f32; 1]).unwrap_err();
    assert_eq!(err, QuantError::Unsupported(DType::I32));
    let err = quantize_row(DType::I32, &[0.0f32; 1], &mut [0u8; 4]).unwrap_err();
    assert_eq!(err, QuantError::Unsupported(DType::I32));

    // Empty rows are fine.
    for t in DType::WEIGHTS {
        dequantize_row(t, &[], &mut []).unwrap();
        quantize_row(t, &[], &mut []).unwrap();
    }
}

/// Arbitrary bytes (NaN/inf scales included) and non-finite or huge inputs
/// give meaningless values but never panic.
#[test]
fn hostile_inputs_do_not_panic() {
    let mut rng = StdRng::seed_from_u64(0x5EED_0002);
    let n = 256 * 2;
    let specials = [f32::NAN, f32::INFINITY, -f32::INFINITY, f32::MAX, -f32::MAX, 1e-45, 0.0];
    for t in DType::WEIGHTS {
        let bytes = t.row_bytes(n as u64).unwrap() as usize;
        for _ in 0..16 {
            let src: Vec<u8> = (0..bytes).map(|_| rng.gen()).collect();
            let mut y = vec![0.0f32; n];
            dequantize_row(t, &src, &mut y).unwrap();

            let x: Vec<f32> = (0..n)
                .map(|_| {
                    if rng.gen_bool(0.1) {
                        specials[rng.gen_range(0..specials.len())]
                    } else {
                        f32::from_bits(rng.gen())
                    }
                })
                .collect();
            let mut q = vec![0u8; bytes];
            quantize_row(t, &x, &mut q).unwrap();
        }
    }
}
