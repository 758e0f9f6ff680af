//! The plugin ABI end to end: loading real and broken plugins, and the same
//! ops giving identical bits in process and through dlopen.

use std::sync::Arc;

use rocmforge_backend_api::loader::{self, BackendLib};
use rocmforge_backend_api::op::*;
use rocmforge_backend_api::{Backend, BackendError, BufferHandle, DType, DeviceBuffer, Op, TensorDesc};
use rocmforge_backend_cpu::{quant, CpuBackend};
use rocmforge_tests::*;

fn load_error(path: &std::path::Path) -> String {
    match BackendLib::open(path).and_then(|lib| lib.init()) {
        Ok(_) => panic!("{} loaded, expected an error", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn wrong_abi_version_is_refused_with_both_versions() {
    let p = build_c_plugin("wrong_version");
    assert_eq!(load_error(&p), format!("{}: incompatible ABI version (plugin: 999, host: 1)", p.display()));
}

#[test]
fn missing_symbol_is_named() {
    let p = build_c_plugin("missing_init");
    assert_eq!(
        load_error(&p),
        format!("{}: not a ROCmForge backend plugin (missing symbol `rocmforge_backend_init`)", p.display())
    );
}

#[test]
fn library_that_is_not_a_plugin_is_refused() {
    let p = build_c_plugin("not_a_plugin");
    assert_eq!(
        load_error(&p),
        format!("{}: not a ROCmForge backend plugin (missing symbol `rocmforge_backend_abi_version`)", p.display())
    );
}

#[test]
fn score_zero_says_why_and_is_not_initialised() {
    let p = build_c_plugin("score_zero");
    let lib = BackendLib::open(&p).expect("a score-0 plugin still opens, so it can be listed");
    assert_eq!(lib.probe().score, 0);
    assert_eq!(lib.probe().description, "no widget attached");
    assert_eq!(load_error(&p), format!("{}: cannot run on this machine: no widget attached", p.display()));
}

#[test]
fn failing_init_reports_status_and_message() {
    let p = build_c_plugin("init_fails");
    assert_eq!(
        load_error(&p),
        format!("{}: init failed (OutOfMemory): asked for 1024 bytes of scratch, 0 free", p.display())
    );
}

#[test]
fn null_vtable_entry_is_refused() {
    let p = build_c_plugin("null_entry");
    assert_eq!(load_error(&p), format!("{}: vtable entry `destroy` is null", p.display()));
}

#[test]
fn file_that_is_not_a_library_is_refused() {
    let p = std::env::temp_dir().join(format!("rocmforge-not-a-lib-{}.so", std::process::id()));
    std::fs::write(&p, b"this is not an ELF file").unwrap();
    let e = load_error(&p);
    assert!(e.starts_with(&format!("{}: cannot load library: ", p.display())), "{e}");
    assert!(!e.contains('\n'), "one line: {e}");
}

#[test]
fn unknown_backend_name_lists_searched_directories() {
    let e = loader::load("doesnotexist").err().expect("no such backend");
    let msg = e.to_string();
    assert!(
        msg.starts_with("librocmforge_backend_doesnotexist.so: backend `doesnotexist` not found (searched: "),
        "{msg}"
    );
    assert!(matches!(e, BackendError::Load { .. }));
}

#[test]
fn cpu_plugin_loads_and_describes_itself() {
    let lib = BackendLib::open(&workspace_plugin("cpu")).unwrap();
    assert!(lib.probe().score > 0);
    assert!(lib.probe().description.starts_with("cpu ("), "{}", lib.probe().description);
    let b = lib.init().unwrap();
    assert_eq!(b.name(), "cpu");
    let info = b.device_info().unwrap();
    assert_eq!(info.kind, rocmforge_backend_api::DeviceKind::Cpu);
}

#[test]
fn errors_cross_the_abi_with_status_and_message() {
    let b = BackendLib::open(&workspace_plugin("cpu")).unwrap().init().unwrap();
    // Host-side validation: never reaches the plugin.
    let args = MatmulArgs {
        w: TensorDesc::contiguous(BufferHandle(1), 0, DType::F32, &[8, 4]),
        x: TensorDesc::contiguous(BufferHandle(2), 0, DType::F32, &[6, 1]),
        out: TensorDesc::contiguous(BufferHandle(3), 0, DType::F32, &[4, 1]),
    };
    let e = b.run(&Op::Matmul(&args)).unwrap_err();
    assert_eq!(e.to_string(), "matmul: x: expected shape [8, 1], got [6, 1]");
    // Plugin-side failure: a buffer handle the plugin never handed out.
    let ok = MatmulArgs {
        w: TensorDesc::contiguous(BufferHandle(1001), 0, DType::F32, &[8, 4]),
        x: TensorDesc::contiguous(BufferHandle(1002), 0, DType::F32, &[8, 1]),
        out: TensorDesc::contiguous(BufferHandle(1003), 0, DType::F32, &[4, 1]),
    };
    let e = b.run(&Op::Matmul(&ok)).unwrap_err();
    assert!(matches!(e, BackendError::InvalidArgument(_)), "{e:?}");
    assert!(e.to_string().contains("unknown buffer"), "{e}");
    // Reading past the end of a buffer.
    let buf = DeviceBuffer::alloc(&b, 16).unwrap();
    let mut out = [0u8; 32];
    let e = buf.download(0, &mut out).unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
}

/// A small forward-pass-like sequence of ops, run on `b`; returns the bytes
/// of every output.
fn run_sequence(b: &Arc<dyn Backend>) -> Vec<Vec<u8>> {
    let (k, n, m) = (512usize, 24usize, 5usize);
    let wq = {
        let w = random_f32(k * n, 1);
        let mut bytes = vec![0u8; DType::Q4K.row_bytes((k * n) as u64).unwrap() as usize];
        quant::quantize_row(DType::Q4K, &w, &mut bytes).unwrap();
        bytes
    };
    let x = random_f32(k * m, 2);
    let norm_w = random_f32(k, 3);
    let w_buf = DeviceBuffer::alloc(b, wq.len() as u64).unwrap();
    w_buf.upload(0, &wq).unwrap();
    let act = DeviceBuffer::alloc(b, (4 * k * m) as u64 * 4).unwrap();
    act.upload(0, &f32_bytes(&x)).unwrap();
    act.upload((4 * k * m) as u64, &f32_bytes(&norm_w)).unwrap();
    let x_t = act.tensor(0, DType::F32, &[k, m]);
    let w_norm = act.tensor((4 * k * m) as u64, DType::F32, &[k]);
    let normed = act.tensor((8 * k * m) as u64, DType::F32, &[k, m]);
    let out = act.tensor((12 * k * m) as u64, DType::F32, &[n, m]);
    b.run(&Op::RmsNorm(&NormArgs {
        x: x_t,
        weight: w_norm,
        bias: TensorDesc::NONE,
        out: normed,
        eps: 1e-5,
        _reserved: 0,
    }))
    .unwrap();
    b.run(&Op::Matmul(&MatmulArgs { w: w_buf.tensor(0, DType::Q4K, &[k, n]), x: normed, out })).unwrap();
    let mut outs = Vec::new();
    for t in [normed, out] {
        let (s, e) = t.byte_range().unwrap();
        let mut bytes = vec![0u8; (e - s) as usize];
        b.buffer_download(t.buffer, s, &mut bytes).unwrap();
        outs.push(bytes);
    }
    outs
}

#[test]
fn same_ops_give_identical_bits_in_process_and_through_dlopen() {
    let in_process: Arc<dyn Backend> = Arc::new(CpuBackend::new().unwrap());
    let plugin = BackendLib::open(&workspace_plugin("cpu")).unwrap().init().unwrap();
    let a = run_sequence(&in_process);
    let b = run_sequence(&plugin);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(x == y, "outputs differ between in-process and plugin");
    }
    // And they are not trivially zero.
    assert!(a[1].iter().any(|&v| v != 0));
}

/// Recorded graphs cross the ABI: begin/end/launch/free through the
/// plugin's optional vtable entries, with errors from the plugin side.
#[test]
fn graphs_cross_the_abi() {
    use rocmforge_backend_api::op::ScaleArgs;
    use rocmforge_backend_api::{Graph, GraphHandle};
    let b = BackendLib::open(&workspace_plugin("cpu")).unwrap().init().unwrap();
    let buf = DeviceBuffer::alloc(&b, 32).unwrap();
    let (x, out) = (buf.tensor(0, DType::F32, &[4]), buf.tensor(16, DType::F32, &[4]));
    let bytes = |v: [f32; 4]| v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>();
    buf.upload(0, &bytes([1.0, 2.0, 3.0, 4.0])).unwrap();
    let g = Graph::record(&b, || b.run(&Op::Scale(&ScaleArgs { x, out, scale: 3.0, _reserved: 0 })))
        .unwrap()
        .expect("the cpu plugin records graphs");
    buf.upload(0, &bytes([1.0, -1.0, 0.5, 2.0])).unwrap();
    g.launch().unwrap();
    assert_eq!(buf.download_f32(16, 4).unwrap(), vec![3.0, -3.0, 1.5, 6.0]);
    let e = b.graph_launch(GraphHandle(999)).unwrap_err();
    assert!(e.to_string().contains("unknown graph"), "{e}");
}
