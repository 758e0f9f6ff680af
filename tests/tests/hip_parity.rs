//! HIP against the CPU oracle, op by op, over the conformance case table
//! (`crates/conformance/src/cases/`).
//!
//! These need a HIP device, so they are `#[ignore]`d: on a machine without
//! one they show as ignored, never as passed. On the GPU machine run them
//! with `cargo nextest run --run-ignored only -E 'binary(hip_parity)'`.

use std::sync::Arc;

use rocmforge_backend_api::loader::BackendLib;
use rocmforge_backend_api::{Backend, OpKind};
use rocmforge_conformance::{cases, check, Outcome};
use rocmforge_tests::workspace_plugin;

fn hip() -> Arc<dyn Backend> {
    let lib = BackendLib::open(&workspace_plugin("hip")).expect("hip plugin loads");
    assert!(lib.probe().score > 0, "skipped: no HIP device ({})", lib.probe().description);
    lib.init().expect("hip backend initialises")
}

/// Every case of `ops` passes on HIP; unsupported counts as a failure (the
/// HIP backend implements the whole interface).
fn parity(ops: &[OpKind]) {
    let dev = hip();
    let oracle: Arc<dyn Backend> = Arc::new(rocmforge_backend_cpu::CpuBackend::new().unwrap());
    let mut failures = Vec::new();
    let mut n = 0;
    for case in cases::all().into_iter().filter(|c| ops.contains(&c.op)) {
        n += 1;
        let outcome = check(&dev, &oracle, &case);
        println!("{:<11} {:<52} {outcome:?}", case.op.name(), case.label);
        if !matches!(outcome, Outcome::Pass { .. }) {
            failures.push(format!("{} {}: {outcome:?}", case.op.name(), case.label));
        }
    }
    assert!(n > 0, "no cases for {ops:?}");
    assert!(failures.is_empty(), "{} of {n} cases failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
#[ignore = "needs a HIP device"]
fn matmul() {
    parity(&[OpKind::Matmul]);
}

#[test]
#[ignore = "needs a HIP device"]
fn get_rows_set_rows() {
    parity(&[OpKind::GetRows, OpKind::SetRows]);
}

#[test]
#[ignore = "needs a HIP device"]
fn norms() {
    parity(&[OpKind::RmsNorm, OpKind::LayerNorm]);
}

#[test]
#[ignore = "needs a HIP device"]
fn rope() {
    parity(&[OpKind::Rope]);
}

#[test]
#[ignore = "needs a HIP device"]
fn attention() {
    parity(&[OpKind::Attention]);
}

#[test]
#[ignore = "needs a HIP device"]
fn elementwise() {
    parity(&[OpKind::Add, OpKind::Mul, OpKind::Scale, OpKind::SiluMul, OpKind::GeluMul]);
}

#[test]
#[ignore = "needs a HIP device"]
fn reductions() {
    parity(&[OpKind::Softmax, OpKind::Argmax]);
}

#[test]
#[ignore = "needs a HIP device"]
fn copy() {
    parity(&[OpKind::Copy]);
}
