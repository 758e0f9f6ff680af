//! The third-party plugin template builds on its own (against backend-api
//! only), loads into the host, answers `supports_op` truthfully and computes
//! what the CPU oracle computes.

use std::process::Command;
use std::sync::Arc;

use rocmforge_backend_api::loader::BackendLib;
use rocmforge_backend_api::op::*;
use rocmforge_backend_api::{Backend, DType, DeviceBuffer, Op, OpKind, TensorDesc};
use rocmforge_backend_cpu::CpuBackend;
use rocmforge_conformance::Outcome;
use rocmforge_tests::*;

fn build_template() -> std::path::PathBuf {
    let root = workspace_root();
    let manifest = root.join("examples/backend-template/Cargo.toml");
    let target = root.join("target/backend-template");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .output()
        .expect("run cargo");
    assert!(out.status.success(), "building the template failed:\n{}", String::from_utf8_lossy(&out.stderr));
    target.join("debug").join(rocmforge_backend_api::loader::library_file_name("template"))
}

fn add_broadcast(b: &Arc<dyn Backend>) -> Vec<f32> {
    let a = random_f32(6 * 4, 7);
    let bias = random_f32(6, 8);
    let buf = DeviceBuffer::alloc(b, 4 * (24 + 6 + 24)).unwrap();
    buf.upload(0, &f32_bytes(&a)).unwrap();
    buf.upload(96, &f32_bytes(&bias)).unwrap();
    let args = BinaryArgs {
        a: buf.tensor(0, DType::F32, &[6, 4]),
        b: buf.tensor(96, DType::F32, &[6]),
        out: buf.tensor(120, DType::F32, &[6, 4]),
    };
    b.run(&Op::Add(&args)).unwrap();
    buf.download_f32(120, 24).unwrap()
}

#[test]
fn template_plugin_builds_loads_and_matches_the_cpu_oracle() {
    let path = build_template();
    let lib = BackendLib::open(&path).unwrap();
    assert_eq!(lib.probe().score, 1);
    let b = lib.init().unwrap();
    assert_eq!(b.name(), "template");

    // It claims add on f32 and nothing it cannot do.
    let t = |shape: &[usize], off: u64| {
        TensorDesc::contiguous(rocmforge_backend_api::BufferHandle(1), off, DType::F32, shape)
    };
    assert!(b.supports_op(&Op::Add(&BinaryArgs { a: t(&[6, 4], 0), b: t(&[6], 96), out: t(&[6, 4], 120) })));
    let mm = MatmulArgs { w: t(&[6, 4], 0), x: t(&[6, 1], 96), out: t(&[4, 1], 120) };
    assert!(!b.supports_op(&Op::Matmul(&mm)));
    let e = b.run(&Op::Matmul(&mm)).unwrap_err();
    assert!(e.to_string().starts_with("matmul: not supported by this backend"), "{e}");

    let cpu: Arc<dyn Backend> = Arc::new(CpuBackend::new().unwrap());
    assert_eq!(add_broadcast(&b), add_broadcast(&cpu));

    // The conformance suite (`rocmforge check`): every case of the ops it
    // claims passes, everything else is reported unsupported, nothing fails.
    let claimed = [OpKind::Add, OpKind::Mul, OpKind::Scale, OpKind::SiluMul];
    let (mut passed, mut unsupported) = (0, 0);
    for case in rocmforge_conformance::cases::all() {
        match rocmforge_conformance::check(&b, &cpu, &case) {
            Outcome::Pass { .. } => {
                assert!(claimed.contains(&case.op), "{} passed but is not claimed", case.op.name());
                passed += 1;
            }
            Outcome::Unsupported => {
                assert!(!claimed.contains(&case.op), "{} {}: claimed op unsupported", case.op.name(), case.label);
                unsupported += 1;
            }
            Outcome::Fail { nmse, reason } => panic!("{} {}: nmse {nmse}: {reason}", case.op.name(), case.label),
        }
    }
    assert!(passed >= 20 && unsupported > 0, "{passed} passed, {unsupported} unsupported");
}
