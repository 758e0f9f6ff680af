//! Quantized matvec/matmul on the CPU oracle, per weight type: bytes of
//! weights streamed per second (criterion's throughput), the number that
//! bounds decode speed.
//!
//! `cargo bench -p rocmforge-backend-cpu --bench matmul`

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rocmforge_backend_api::op::MatmulArgs;
use rocmforge_backend_api::{Backend, DType, DeviceBuffer, Op};
use rocmforge_backend_cpu::{quant, CpuBackend};

fn bench(c: &mut Criterion) {
    let b: Arc<dyn Backend> = Arc::new(CpuBackend::new().expect("cpu backend"));
    // SmolLM2's FFN shape: [576 -> 1536].
    let (k, n) = (1536usize, 576usize);
    let w: Vec<f32> = (0..k * n).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
    let mut group = c.benchmark_group("cpu_matmul");
    for dtype in [DType::F16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q4K, DType::Q6K] {
        let mut bytes = vec![0u8; dtype.row_bytes((k * n) as u64).expect("whole blocks") as usize];
        quant::quantize_row(dtype, &w, &mut bytes).expect("quantize");
        for m in [1usize, 16] {
            let wb = DeviceBuffer::alloc(&b, bytes.len() as u64).expect("alloc");
            wb.upload(0, &bytes).expect("upload");
            let act = DeviceBuffer::alloc(&b, (4 * (k * m + n * m)) as u64).expect("alloc");
            let args = MatmulArgs {
                w: wb.tensor(0, dtype, &[k, n]),
                x: act.tensor(0, DType::F32, &[k, m]),
                out: act.tensor((4 * k * m) as u64, DType::F32, &[n, m]),
            };
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            group.bench_with_input(BenchmarkId::new(dtype.name(), format!("m{m}")), &args, |bench, args| {
                bench.iter(|| b.run(&Op::Matmul(args)).expect("matmul"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
