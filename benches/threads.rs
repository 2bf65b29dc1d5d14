//! Criterion benchmarks of thread scaling (issue 15): each case at 1 to all available
//! threads, ids `threads/<case>/<threads>`.
//!
//! ```text
//! cargo bench --bench threads
//! cargo bench --bench threads -- 'softmax_1024x4096'
//! ```
//!
//! Cases: softmax of 1024 rows of 4096, cross-entropy with gradient of 64 rows of 32000, one
//! softmax row of 16M and one log-sum-exp row of 16M. Throughput is input bytes. The
//! machine's load matters more than anywhere else here: compare thread counts within one run.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use softmax::{Algorithm, CrossEntropyOptions, Softmax};

// Inputs uniform in [-10, 10) from `StdRng` with a fixed seed (shared with the report).
#[path = "../examples/shared/inputs.rs"]
mod inputs;
use inputs::uniform_inputs;

fn threads(c: &mut Criterion) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let big = 16 << 20;
    let x = uniform_inputs(big, 0x9E37_79B9_7F4A_7C15);
    let mut y = vec![0.0f32; big];
    let targets: Vec<i64> = (0..64).map(|r| (r * 499) % 32_000).collect();
    let mut losses = vec![0.0f32; 64];
    let mut group = c.benchmark_group("threads");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500));
    for t in 1..=cores {
        let sm = Softmax::new().threads(t);
        group.throughput(Throughput::Bytes(4 * 1024 * 4096));
        group.bench_function(BenchmarkId::new("softmax_1024x4096", t), |b| {
            b.iter(|| {
                sm.softmax_rows(
                    black_box(&x),
                    4096,
                    &mut y,
                    4096,
                    1024,
                    4096,
                    Algorithm::Auto,
                )
                .unwrap()
            })
        });
        group.throughput(Throughput::Bytes(4 * 64 * 32_000));
        group.bench_function(BenchmarkId::new("cross_entropy_grad_64x32000", t), |b| {
            b.iter(|| {
                let d = Some((&mut y[..64 * 32_000], 32_000));
                let opts = CrossEntropyOptions::default();
                sm.cross_entropy_rows(
                    black_box(&x),
                    32_000,
                    64,
                    32_000,
                    &targets,
                    opts,
                    &mut losses,
                    d,
                )
                .unwrap()
            })
        });
        group.throughput(Throughput::Bytes(4 * big as u64));
        group.bench_function(BenchmarkId::new("softmax_16M", t), |b| {
            b.iter(|| sm.softmax(black_box(&x), &mut y).unwrap())
        });
        group.bench_function(BenchmarkId::new("logsumexp_16M", t), |b| {
            b.iter(|| black_box(sm.logsumexp(black_box(&x))))
        });
    }
    group.finish();
}

criterion_group!(benches, threads);
criterion_main!(benches);
