//! Conformance cases for the attention op family.

use crate::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
