//! Conformance cases for `matmul`: every weight type with F32 and F16
//! activations, over the three regimes a backend may split on (one column:
//! decode; a few columns; many columns: prefill), with odd row counts `N`
//! (not a multiple of any row or tile blocking), `K` of 1 to 3 blocks (odd
//! `K` for the float types, which have no blocks), and larger shapes that
//! cross several output tiles and K slabs.

use rocmforge_backend_api::op::MatmulArgs;
use rocmforge_backend_api::{DType, Op, OpKind};

use super::random;
use crate::{tolerance, Case, HostTensor};

/// Activation columns: decode, a small batch, a prefill chunk.
const COLUMNS: [usize; 3] = [1, 5, 37];
/// Weight rows: odd, below and above a warp / a 32-row tile.
const ROWS: [usize; 2] = [7, 33];

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut seed = 1000;
    for w in DType::WEIGHTS {
        // K: 1..3 blocks, or odd lengths for float weights.
        let ks: [usize; 3] = if w.block_len() == 1 { [65, 17, 130] } else { [1, 2, 3].map(|b| b * w.block_len()) };
        for (ci, &m) in COLUMNS.iter().enumerate() {
            for (xi, x) in [DType::F32, DType::F16].into_iter().enumerate() {
                let n = ROWS[(ci + xi) % 2];
                let k = ks[(2 * ci + xi) % 3];
                seed += 2;
                v.push(case(w, x, k, n, m, seed));
            }
        }
    }
    // Shapes at the edges of the kernels' blockings: M = 8 (most columns a
    // matrix-vector kernel may take), 9 (just past it), 65 (a second column
    // tile), N = 1 and 65 (a second row tile), K spanning several slabs.
    for (w, x, k, n, m) in [
        (DType::Q4_0, DType::F32, 96, 65, 8),
        (DType::Q4K, DType::F16, 512, 65, 9),
        (DType::Q6K, DType::F32, 256, 1, 65),
        (DType::Q8_0, DType::F16, 160, 70, 65),
        (DType::F16, DType::F32, 67, 65, 66),
        (DType::BF16, DType::F16, 33, 1, 2),
        (DType::F32, DType::F32, 1, 3, 70),
    ] {
        seed += 2;
        v.push(case(w, x, k, n, m, seed));
    }
    // Long rows at decode (many iterations per lane), and the tiled path
    // over a real-sized slab: w[2048, 256] x[2048, 64].
    for (w, x, k, n, m) in [
        (DType::Q4K, DType::F32, 4096, 33, 1),
        (DType::Q5_0, DType::F32, 2048, 17, 3),
        (DType::Q4K, DType::F32, 2048, 256, 64),
        (DType::Q8_0, DType::F16, 2048, 256, 64),
        (DType::F16, DType::F32, 2048, 256, 64),
    ] {
        seed += 2;
        v.push(case(w, x, k, n, m, seed));
    }
    // The matrix-unit prefill path (HIP's mma kernels: NVIDIA mma.sync on
    // sm_80+, AMD MFMA on CDNA and WMMA on RDNA3/4; M >= 32, weights other
    // than F32; 128-row x 64-column tiles, K slabs of 64, f16 operands): N not a multiple of 64 or 128, M not a multiple of 64, K
    // up to 2048 and not a multiple of the 64-element slab (33 Q8_0 blocks,
    // odd F16/BF16 lengths), M at the threshold and just below it (31: the
    // portable f32 tile kernel).
    for (w, x, k, n, m) in [
        (DType::Q4K, DType::F32, 2048, 150, 72),
        (DType::Q4K, DType::F16, 1024, 129, 33),
        (DType::Q6K, DType::F16, 1024, 131, 40),
        (DType::Q6K, DType::F32, 2048, 70, 96),
        (DType::Q8_0, DType::F32, 1056, 131, 70),
        (DType::Q8_0, DType::F16, 2048, 200, 32),
        (DType::F16, DType::F16, 2047, 130, 40),
        (DType::F16, DType::F32, 1001, 257, 65),
        (DType::BF16, DType::F32, 999, 70, 64),
        (DType::Q4_0, DType::F16, 96, 257, 128),
        (DType::Q5K, DType::F32, 512, 100, 32),
        (DType::Q3K, DType::F32, 768, 45, 50),
        (DType::Q4K, DType::F32, 256, 65, 31),
    ] {
        seed += 2;
        v.push(case(w, x, k, n, m, seed));
    }
    v
}

fn case(w: DType, x: DType, k: usize, n: usize, m: usize, seed: u64) -> Case {
    let wv = random(k * n, seed, 1.0);
    let xv = random(k * m, seed + 1, 1.0);
    Case {
        op: OpKind::Matmul,
        label: format!("{w} w[{k},{n}] {x} x[{k},{m}]"),
        inputs: vec![HostTensor::quantized(w, &[k, n], &wv), HostTensor::quantized(x, &[k, m], &xv)],
        out_dtype: DType::F32,
        out_shape: vec![n, m],
        tolerance: tolerance::matmul(w, m),
        call: Box::new(|d, out, run| run(&Op::Matmul(&MatmulArgs { w: d[0], x: d[1], out }))),
    }
}
