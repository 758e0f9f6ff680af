//! Conformance cases for the get_rows op family.

use crate::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
