//! Criterion benchmarks of every kernel on every ISA this CPU runs.
//!
//! Groups (one per operation and algorithm), each with ids `<isa>/<len>`:
//! - `softmax/<algorithm>` for every [`Algorithm`] (`softmax/auto`, `softmax/two-pass`, ...),
//! - `log_softmax`, `logsumexp`,
//! - `softmax_rows` (ids `<isa>/<rows>x<cols>`, [`Algorithm::Auto`]).
//!
//! Row lengths run from 256 to 16M floats; throughput is reported as input bytes (`4 * len`).
//! Inputs are uniform in [-10, 10) from a fixed-seed xorshift generator, identical for every
//! benchmark. ISAs the CPU (or this build) lacks are reported once and skipped.
//!
//! ```text
//! cargo bench                                        # everything (~15 min on 2 cores, 3 ISAs)
//! cargo bench -- '^softmax/two-pass/avx2'            # a regex over `<group>/<isa>/<len>`
//! SOFTMAX_BENCH_MAX_LEN=64K cargo bench -- --quick   # sizes up to 65536 floats only
//! ```
//!
//! Defaults: 1 s warm-up and 2 s measurement (both overridable with `--warm-up-time` and
//! `--measurement-time`). Sizes of 1M floats and more use 10 flat samples instead of 100 so
//! that a sample of a 16M-float row does not take seconds.
//!
//! `SOFTMAX_BENCH_MAX_LEN` caps the number of floats per measured call (row length, or
//! `rows * cols` for `softmax_rows`); it takes a plain number or one with a binary `K`/`M`/`G`
//! suffix (`4096`, `64K`, `1M`).

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};
use softmax::{Algorithm, Isa, Softmax};

/// Row lengths in floats: 256 to 16M, by factors of four.
const LENS: [usize; 9] = [
    256,
    1 << 10,
    1 << 12,
    1 << 14,
    1 << 16,
    1 << 18,
    1 << 20,
    1 << 22,
    1 << 24,
];

/// `(rows, cols)` shapes for `softmax_rows`.
const ROW_SHAPES: [(usize, usize); 2] = [(1024, 64), (256, 1000)];

/// From this many floats per call on, benchmarks take 10 flat samples.
const LARGE_LEN: usize = 1 << 20;

/// Environment variable capping the floats per measured call.
const MAX_LEN_ENV: &str = "SOFTMAX_BENCH_MAX_LEN";

/// Fixed seed of the input generator.
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// `n` floats uniform in [-10, 10) from xorshift64* (the top 24 bits give exact `f32`s).
fn uniform_inputs(n: usize) -> Vec<f32> {
    let mut state = SEED;
    (0..n)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let bits = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
            bits as f32 * (20.0 / (1u32 << 24) as f32) - 10.0
        })
        .collect()
}

/// Parses `4096`, `64K`, `1M`, `1G` (binary suffixes, case-insensitive).
fn parse_len(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mult) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1 << 20),
        b'G' | b'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim().parse::<usize>().ok()?.checked_mul(mult)
}

/// The cap from `SOFTMAX_BENCH_MAX_LEN`, or no cap.
fn max_len() -> usize {
    match std::env::var(MAX_LEN_ENV) {
        Ok(v) => parse_len(&v).unwrap_or_else(|| {
            panic!("{MAX_LEN_ENV}={v:?}: expected a number of floats such as 4096, 64K or 1M")
        }),
        Err(std::env::VarError::NotPresent) => usize::MAX,
        Err(e) => panic!("{MAX_LEN_ENV}: {e}"),
    }
}

/// What every benchmark shares: the kernels of each supported ISA and the buffers.
struct Setup {
    kernels: Vec<Softmax>,
    lens: Vec<usize>,
    shapes: Vec<(usize, usize)>,
    x: Vec<f32>,
    y: Vec<f32>,
}

impl Setup {
    fn new() -> Setup {
        let kernels = Isa::ALL
            .into_iter()
            .filter_map(|isa| match Softmax::with_isa(isa) {
                Ok(sm) => Some(sm),
                Err(_) => {
                    eprintln!("skipping {}: not supported on this CPU", isa.name());
                    None
                }
            })
            .collect();
        let cap = max_len();
        let lens: Vec<usize> = LENS.into_iter().filter(|&n| n <= cap).collect();
        let shapes: Vec<(usize, usize)> = ROW_SHAPES
            .into_iter()
            .filter(|&(rows, cols)| rows * cols <= cap)
            .collect();
        if cap != usize::MAX {
            eprintln!("{MAX_LEN_ENV}: benchmarking at most {cap} floats per call");
        }
        let len = lens
            .iter()
            .copied()
            .chain(shapes.iter().map(|&(rows, cols)| rows * cols))
            .max()
            .unwrap_or(0);
        let x = uniform_inputs(len);
        // A copy (not a zeroed allocation) so that every output page is mapped up front.
        let y = x.clone();
        Setup {
            kernels,
            lens,
            shapes,
            x,
            y,
        }
    }
}

/// Reports input bytes, and for large calls takes 10 flat samples (one 16M-float softmax takes
/// tens of milliseconds, so the default 100 linearly growing samples would take minutes).
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, elems: usize) {
    group.throughput(Throughput::Bytes(
        (elems * std::mem::size_of::<f32>()) as u64,
    ));
    if elems >= LARGE_LEN {
        group.sample_size(10).sampling_mode(SamplingMode::Flat);
    }
}

/// Runs `op(kernels, x, y)` as group `name`, ids `<isa>/<len>`, for every ISA and length.
///
/// Each ISA gets a fresh group object (same name), so the large-size settings of one ISA do
/// not leak into the small sizes of the next.
fn bench_rows_of_len(
    c: &mut Criterion,
    setup: &mut Setup,
    name: &str,
    mut op: impl FnMut(&Softmax, &[f32], &mut [f32]),
) {
    for sm in &setup.kernels {
        let mut group = c.benchmark_group(name);
        for &n in &setup.lens {
            configure(&mut group, n);
            let (x, y) = (&setup.x[..n], &mut setup.y[..n]);
            group.bench_function(BenchmarkId::new(sm.isa().name(), n), |b| {
                b.iter(|| op(sm, black_box(x), black_box(&mut *y)))
            });
        }
        group.finish();
    }
}

fn benches(c: &mut Criterion) {
    let mut setup = Setup::new();

    for alg in Algorithm::ALL {
        let name = format!("softmax/{}", alg.name());
        bench_rows_of_len(c, &mut setup, &name, |sm, x, y| {
            sm.softmax_with(x, y, alg).unwrap()
        });
    }

    bench_rows_of_len(c, &mut setup, "log_softmax", |sm, x, y| {
        sm.log_softmax(x, y).unwrap()
    });

    bench_rows_of_len(c, &mut setup, "logsumexp", |sm, x, _| {
        black_box(sm.logsumexp(x));
    });

    for sm in &setup.kernels {
        let mut group = c.benchmark_group("softmax_rows");
        for &(rows, cols) in &setup.shapes {
            let n = rows * cols;
            configure(&mut group, n);
            let (x, y) = (&setup.x[..n], &mut setup.y[..n]);
            let id = BenchmarkId::new(sm.isa().name(), format!("{rows}x{cols}"));
            group.bench_function(id, |b| {
                b.iter(|| {
                    sm.softmax_rows(
                        black_box(x),
                        cols,
                        black_box(&mut *y),
                        cols,
                        rows,
                        cols,
                        Algorithm::Auto,
                    )
                    .unwrap()
                })
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = softmax_benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(softmax_benches);
