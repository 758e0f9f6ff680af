//! Conformance cases for the rope op family.

use crate::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
