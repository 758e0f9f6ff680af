//! Conformance cases for the elementwise op family.

use crate::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
