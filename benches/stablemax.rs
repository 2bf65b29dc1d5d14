//! Criterion benchmarks of the StableMax kernels on every ISA this CPU runs, each next to its
//! softmax counterpart (same group, same inputs).
//!
//! Groups `stablemax`, `log_stablemax`, `stablemax_cross_entropy`,
//! `stablemax_cross_entropy_grad`, `stablemax_backward`, `log_stablemax_backward`, with ids
//! `<op>/<isa>/<len>` where `<op>` is the StableMax operation or the softmax one it replaces.
//! Row lengths 64, 4096, 64K and 16M floats; throughput in input bytes (`4 * len`).
//!
//! ```text
//! cargo bench --bench stablemax
//! cargo bench --bench stablemax -- 'stablemax/avx2'      # a regex over the ids
//! SOFTMAX_BENCH_MAX_LEN=64K cargo bench --bench stablemax -- --quick
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use softmax::{Isa, Softmax};

/// Row lengths in floats.
const LENS: [usize; 4] = [64, 4096, 1 << 16, 1 << 24];

// Inputs uniform in [-10, 10) from `StdRng` with fixed seeds (shared with the report).
#[path = "../examples/shared/inputs.rs"]
mod inputs;
use inputs::uniform_inputs;

// The crate's size parser (`64K`, `1M`), for SOFTMAX_BENCH_MAX_LEN.
#[path = "../src/size.rs"]
mod size;

/// Environment variable capping the floats per measured call.
const MAX_LEN_ENV: &str = "SOFTMAX_BENCH_MAX_LEN";

/// The cap from `SOFTMAX_BENCH_MAX_LEN` (a number of floats, optionally with a binary
/// `K`/`M`/`G` suffix, as for `benches/softmax.rs`), or no cap.
fn max_len() -> usize {
    match std::env::var(MAX_LEN_ENV) {
        Ok(v) => size::parse_size(&v).unwrap_or_else(|| {
            panic!("{MAX_LEN_ENV}={v:?}: expected a number of floats such as 4096, 64K or 1M")
        }),
        Err(std::env::VarError::NotPresent) => usize::MAX,
        Err(e) => panic!("{MAX_LEN_ENV}: {e}"),
    }
}

type Op = fn(&Softmax, &[f32], &[f32], &mut [f32]);

/// `(group, [(op name, op); 2])`: the StableMax operation and its softmax counterpart.
fn groups() -> Vec<(&'static str, [(&'static str, Op); 2])> {
    vec![
        (
            "stablemax",
            [
                ("stablemax", |s, x, _, y| s.stablemax(x, y).unwrap()),
                ("softmax", |s, x, _, y| s.softmax(x, y).unwrap()),
            ],
        ),
        (
            "log_stablemax",
            [
                ("log_stablemax", |s, x, _, y| s.log_stablemax(x, y).unwrap()),
                ("log_softmax", |s, x, _, y| s.log_softmax(x, y).unwrap()),
            ],
        ),
        (
            "stablemax_cross_entropy",
            [
                ("stablemax_cross_entropy", |s, x, _, _| {
                    black_box(s.stablemax_cross_entropy(x, x.len() / 2).unwrap());
                }),
                ("cross_entropy", |s, x, _, _| {
                    black_box(s.cross_entropy(x, x.len() / 2).unwrap());
                }),
            ],
        ),
        (
            "stablemax_cross_entropy_grad",
            [
                ("stablemax_cross_entropy_grad", |s, x, _, y| {
                    black_box(
                        s.stablemax_cross_entropy_with_grad(x, x.len() / 2, y)
                            .unwrap(),
                    );
                }),
                ("cross_entropy_grad", |s, x, _, y| {
                    black_box(s.cross_entropy_with_grad(x, x.len() / 2, y).unwrap());
                }),
            ],
        ),
        (
            "stablemax_backward",
            [
                ("stablemax_backward", |s, x, d, y| {
                    s.stablemax_backward(x, d, y).unwrap()
                }),
                ("softmax_backward", |s, x, d, y| {
                    s.softmax_backward(x, d, y).unwrap()
                }),
            ],
        ),
        (
            "log_stablemax_backward",
            [
                ("log_stablemax_backward", |s, x, d, y| {
                    s.log_stablemax_backward(x, d, y).unwrap()
                }),
                ("log_softmax_backward", |s, x, d, y| {
                    s.log_softmax_backward(x, d, y).unwrap()
                }),
            ],
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let cap = max_len();
    let isas: Vec<(Isa, Softmax)> = Isa::ALL
        .into_iter()
        .filter_map(|isa| match Softmax::with_isa(isa) {
            Ok(sm) => Some((isa, sm)),
            Err(_) => {
                eprintln!("{}: not available on this CPU (skipped)", isa.name());
                None
            }
        })
        .collect();
    for (group, ops) in groups() {
        let mut g = c.benchmark_group(group);
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(2));
        for &n in LENS.iter().filter(|&&n| n <= cap) {
            if n >= 1 << 20 {
                g.sampling_mode(SamplingMode::Flat).sample_size(10);
            } else {
                g.sampling_mode(SamplingMode::Auto).sample_size(100);
            }
            g.throughput(Throughput::Bytes(4 * n as u64));
            let x = uniform_inputs(n, 0x9E37_79B9);
            let d = uniform_inputs(n, 0x7F4A_7C15);
            let mut y = vec![0.0f32; n];
            for (isa, sm) in &isas {
                for (name, op) in ops {
                    let id = BenchmarkId::new(format!("{name}/{}", isa.name()), n);
                    g.bench_function(id, |b| {
                        b.iter(|| op(sm, black_box(&x), black_box(&d), black_box(&mut y)))
                    });
                }
            }
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
