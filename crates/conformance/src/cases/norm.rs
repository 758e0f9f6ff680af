//! Conformance cases for the norm op family.

use crate::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
