//! Conformance cases for the copy op family.

use crate::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
