//! The case table, one file per op family. Sizes are chosen to hit edges:
//! odd sizes, sizes that are not multiples of block or tile sizes, batch 1
//! and larger.

use rand::{Rng, SeedableRng};

use crate::Case;

pub mod attention;
pub mod copy;
pub mod elementwise;
pub mod get_rows;
pub mod matmul;
pub mod norm;
pub mod reduce;
pub mod rope;

/// Every case of every op family.
pub fn all() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(matmul::cases());
    v.extend(get_rows::cases());
    v.extend(norm::cases());
    v.extend(rope::cases());
    v.extend(attention::cases());
    v.extend(elementwise::cases());
    v.extend(reduce::cases());
    v.extend(copy::cases());
    v
}

/// Deterministic uniform values in `[-scale, scale)`.
pub fn random(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(-scale..scale)).collect()
}
