//! Conformance cases for the matmul op family.

use crate::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
