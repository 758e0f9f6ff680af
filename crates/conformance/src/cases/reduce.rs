//! Conformance cases for the reduce op family.

use crate::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
