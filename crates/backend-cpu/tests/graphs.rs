//! Recorded graphs on the CPU backend: replays read the buffers' current
//! contents, and only ops may be called while recording.

use std::sync::Arc;

use rocmforge_backend_api::op::{BinaryArgs, ScaleArgs};
use rocmforge_backend_api::{Backend, BackendError, DType, DeviceBuffer, Graph, GraphHandle, Op};
use rocmforge_backend_cpu::CpuBackend;

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn backend() -> Arc<dyn Backend> {
    Arc::new(CpuBackend::new().unwrap())
}

#[test]
fn a_replay_reads_the_inputs_of_its_launch() {
    let be = backend();
    let buf = DeviceBuffer::alloc(&be, 64).unwrap();
    let t = |i: u64| buf.tensor(16 * i, DType::F32, &[4]);
    let (a, b, sum, out) = (t(0), t(1), t(2), t(3));
    buf.upload(0, &f32_bytes(&[1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]))
        .unwrap();
    let graph = Graph::record(&be, || -> Result<(), BackendError> {
        be.run(&Op::Add(&BinaryArgs { a, b, out: sum }))?;
        be.run(&Op::Scale(&ScaleArgs { x: sum, out, scale: 2.0, _reserved: 0 }))
    })
    .unwrap()
    .expect("the CPU backend records graphs");
    assert_eq!(buf.download_f32(48, 4).unwrap(), vec![0.0; 4], "recording runs nothing");
    graph.launch().unwrap();
    assert_eq!(buf.download_f32(48, 4).unwrap(), vec![22.0, 44.0, 66.0, 88.0]);
    buf.upload(0, &f32_bytes(&[0.5, 0.0, -1.0, 100.0])).unwrap();
    graph.launch().unwrap();
    assert_eq!(buf.download_f32(48, 4).unwrap(), vec![21.0, 40.0, 58.0, 280.0]);
}

#[test]
fn only_ops_may_be_called_while_recording() {
    let be = backend();
    let buf = DeviceBuffer::alloc(&be, 16).unwrap();
    be.graph_begin().unwrap();
    assert!(be.graph_begin().is_err(), "nested recording");
    let err = buf.upload(0, &[0; 16]).unwrap_err().to_string();
    assert!(err.contains("while recording"), "{err}");
    assert!(buf.download_f32(0, 4).is_err());
    assert!(be.synchronize().is_err());
    let g = be.graph_end().unwrap();
    assert!(be.graph_end().is_err(), "not recording any more");
    buf.upload(0, &[0; 16]).unwrap();
    be.graph_launch(g).unwrap(); // empty graph
    be.graph_free(g);
}

#[test]
fn a_failed_recording_ends_and_reports_the_error() {
    let be = backend();
    let r = Graph::record(&be, || -> Result<(), BackendError> { Err(BackendError::Internal("body failed".into())) });
    assert!(matches!(r, Err(BackendError::Internal(m)) if m == "body failed"));
    // Not left recording: a new recording starts.
    assert!(Graph::record(&be, || -> Result<(), BackendError> { Ok(()) }).unwrap().is_some());
}

#[test]
fn unknown_and_freed_graphs_are_errors() {
    let be = backend();
    assert!(be.graph_launch(GraphHandle(12345)).is_err());
    be.graph_begin().unwrap();
    let g = be.graph_end().unwrap();
    be.graph_free(g);
    assert!(be.graph_launch(g).is_err());
}
